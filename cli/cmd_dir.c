/* hsmbak dir URL: the seed's listing. */
#include "args.h"
#include "output.h"
#include "units.h"

#include "hsmbak/dirlist.h"

#include <stdio.h>
#include <time.h>

static const cli_operand operands[] = {
    {"URL", "a folder of the system root (temporary:///, cert:///, ...) or a path"},
    {NULL, NULL},
};

static hb_status run_dir(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_dir = {
    .cmd = "dir",
    .purpose = "List a directory with sizes and free space",
    .operands = operands,
    .min_operands = 1,
    .max_operands = 1,
    .run = run_dir,
};

static void json_listing(json_t *r, const char *url, const hb_dir_listing *l)
{
    out_str(r, "url", url);
    json_t *list = out_array(r, "entries");
    for (size_t i = 0; i < l->n; i++) {
        json_t *e = out_push_object(list);
        out_str(e, "name", l->entries[i].name);
        out_str(e, "type", l->entries[i].is_dir ? "directory" : "file");
        out_time(e, "modified", l->entries[i].modified);
        if (!l->entries[i].is_dir)
            out_u64(e, "size", l->entries[i].size);
    }
    out_u64(r, "available", l->available);
}

/* The seed's table; sizes in the one unit style of the text output. */
static void print_listing(const char *url, const hb_dir_listing *l)
{
    char size[32];
    printf("\n   %-28s %-32s %s\n", "File Name", "Last Modified", "Size");
    printf("   %-28s %-32s %s\n", "---------", "-------------", "----");
    for (size_t i = 0; i < l->n; i++) {
        char when[64];
        struct tm tm;
        localtime_r(&l->entries[i].modified, &tm);
        if (strftime(when, sizeof when, "%b %e, %Y %l:%M:%S %p", &tm) == 0)
            when[0] = '\0';
        printf("   %-28s %-32s %s\n", l->entries[i].name, when,
               l->entries[i].is_dir ? "(directory)"
                                    : cli_size(l->entries[i].size, size, sizeof size));
    }
    printf("\n   %s available to %s\n\n", cli_size(l->available, size, sizeof size), url);
}

static hb_status run_dir(cli_ctx *ctx, const cli_args *a)
{
    const char *url = a->operands[0];
    hb_dir_listing l = {0};
    hb_status st = hb_dir_list(ctx->root, url, &l, &ctx->err);
    if (st != HB_OK)
        return st;
    if (ctx->json)
        json_listing(out_result(ctx), url, &l);
    else
        print_listing(url, &l); /* a listing is the data asked for: --quiet keeps it */
    hb_dir_listing_free(&l);
    return HB_OK;
}
