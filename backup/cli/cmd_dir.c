/* hsmbak dir URL: the seed's listing. */
#include "cli.h"

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
