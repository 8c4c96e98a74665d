/* hsmbak dir URL: the seed's listing. */
#include "cli.h"
#include "output.h"

#include "hsmbak/dirlist.h"

#include <stdio.h>
#include <time.h>

hb_status cmd_dir(cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak dir URL");
    hb_dir_listing l = {0};
    hb_status st = hb_dir_list(ctx->root, argv[1], &l, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_result(ctx);
    if (r != NULL) {
        out_str(r, "url", argv[1]);
        json_t *list = out_array(r, "entries");
        for (size_t i = 0; i < l.n; i++) {
            json_t *e = out_push_object(list);
            out_str(e, "name", l.entries[i].name);
            out_str(e, "type", l.entries[i].is_dir ? "directory" : "file");
            out_time(e, "modified", l.entries[i].modified);
            if (!l.entries[i].is_dir)
                out_u64(e, "size", l.entries[i].size);
        }
        out_u64(r, "available", l.available);
        hb_dir_listing_free(&l);
        return HB_OK;
    }
    printf("\n   %-28s %-32s %s\n", "File Name", "Last Modified", "Size");
    printf("   %-28s %-32s %s\n", "---------", "-------------", "----");
    for (size_t i = 0; i < l.n; i++) {
        char when[64];
        struct tm tm;
        localtime_r(&l.entries[i].modified, &tm);
        strftime(when, sizeof when, "%b %e, %Y %l:%M:%S %p", &tm);
        if (l.entries[i].is_dir)
            printf("   %-28s %-32s %s\n", l.entries[i].name, when, "(directory)");
        else
            printf("   %-28s %-32s %llu\n", l.entries[i].name, when,
                   (unsigned long long)l.entries[i].size);
    }
    printf("\n   %.1f MB available to %s\n\n", (double)l.available / 1e6, argv[1]);
    hb_dir_listing_free(&l);
    return HB_OK;
}
