/* hsmbak system init, hsmbak factory-reset */
#include "cli.h"
#include "output.h"

#include "hsmbak/system.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

hb_status cmd_system(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"profile", required_argument, NULL, 'p'},
        {"version", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] = "usage: hsmbak system init --root DIR "
                                "--profile appliance|host|FILE [--version V.R.M.F]";
    const char *profile = "appliance", *version = NULL, *root;
    if (argc < 2 || strcmp(argv[1], "init") != 0)
        return CLI_USAGE_ERROR(ctx, "%s", usage);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if (c == 'p') profile = optarg;
        else if (c == 'v') version = optarg;
        else return CLI_USAGE_ERROR(ctx, "%s", usage);
    }
    if (optind != argc - 1)
        return CLI_USAGE_ERROR(ctx, "%s", usage);
    hb_status st = cli_root(ctx, &root);
    if (st == HB_OK)
        st = hb_system_init(root, profile, version, &ctx->err);
    if (st == HB_OK) {
        cli_say(ctx, "System initialised at '%s' (profile %s, version %s)", root, profile,
                version ? version : "9.3.5.0");
        json_t *r = out_result(ctx);
        out_str(r, "root", root);
        out_str(r, "profile", profile);
        out_str(r, "version", version ? version : "9.3.5.0");
    }
    return st;
}

hb_status cmd_factory_reset(cli_ctx *ctx, int argc, char **argv)
{
    bool yes = argc == 2 && strcmp(argv[1], "--yes") == 0;
    if (argc > 2 || (argc == 2 && !yes))
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak factory-reset [--yes]");
    const char *root;
    hb_status st = cli_root(ctx, &root);
    if (st != HB_OK)
        return st;
    if (!yes) {
        if (!isatty(STDIN_FILENO))
            return hb_fail(&ctx->err, HB_E_USAGE, "factory-reset erases every setting and "
                           "secret under '%s'; confirm with --yes", root);
        fprintf(stderr, "Erase every setting and secret under '%s'? Type 'yes': ", root);
        char answer[16] = "";
        if (fgets(answer, sizeof answer, stdin) == NULL || strcmp(answer, "yes\n") != 0)
            return hb_fail(&ctx->err, HB_E_REFUSED, "factory reset cancelled");
    }
    hb_system *sys = NULL;
    st = hb_system_open(root, 0, &sys, &ctx->err);
    if (st == HB_OK)
        st = hb_system_factory_reset(sys, &ctx->err);
    hb_system_close(sys);
    if (st == HB_OK) {
        cli_say(ctx, "Factory reset of '%s' is complete. Define the restore credentials and "
                "trusted signer before a secure-restore.", root);
        out_str(out_result(ctx), "root", root);
    }
    return st;
}
