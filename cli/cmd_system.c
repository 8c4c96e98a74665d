/* hsmbak system init, hsmbak factory-reset */
#include "args.h"
#include "output.h"

#include "hsmbak/dirlist.h"
#include "hsmbak/system.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { O_PROFILE = 1, O_VERSION, O_ADOPT, O_YES };

static const cli_option init_options[] = {
    {O_PROFILE, "profile", "appliance|host|FILE",
     "the profile that lays the system out (a built-in one or a profile file)", "appliance",
     0},
    {O_VERSION, "version", "V.R.M.F", "the system's version, which restores must match",
     "a host's from os-release (12 is 12.0.0.0), else 9.3.5.0", 0},
    {O_ADOPT, "adopt", NULL,
     "take an existing directory as it is (profiles without a factory image, e.g. host)",
     NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static hb_status run_init(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_system_init = {
    .cmd = "system",
    .sub = "init",
    .purpose = "Make a system root from a profile, or adopt one",
    .options = init_options,
    .run = run_init,
    .details = "The root is --root DIR or $HSMBAK_ROOT. Without --adopt it must be new or "
               "empty; with --adopt nothing in it changes but .hsmbak/ and, when it has "
               "none, the version file.",
};

/* The version the root now records (the default is the library's choice). */
static void say_initialised(cli_ctx *ctx, const char *root, const char *profile, bool adopt)
{
    hb_system *sys = NULL;
    hb_err ignored;
    const char *version = "?";
    if (hb_system_open(root, 0, &sys, &ignored) == HB_OK)
        version = hb_system_version(sys);
    json_t *r = out_record(ctx);
    out_str(r, "root", root);
    out_str(r, "profile", profile);
    out_str(r, "version", version);
    out_bool(r, "adopted", adopt);
    cli_say(ctx, "System %s at '%s' (profile %s, version %s)", adopt ? "adopted" : "initialised",
            out_get_str(r, "root"), out_get_str(r, "profile"), out_get_str(r, "version"));
    hb_system_close(sys);
}

static hb_status run_init(cli_ctx *ctx, const cli_args *a)
{
    const char *profile = cli_get(a, O_PROFILE), *version = cli_get(a, O_VERSION), *root;
    bool adopt = cli_has(a, O_ADOPT);
    if (profile == NULL)
        profile = "appliance";
    hb_status st = cli_root(ctx, &root);
    if (st == HB_OK)
        st = adopt ? hb_system_adopt(root, profile, version, &ctx->err)
                   : hb_system_init(root, profile, version, &ctx->err);
    if (st == HB_OK)
        say_initialised(ctx, root, profile, adopt);
    return st;
}

static const cli_option reset_options[] = {
    {O_YES, "yes", NULL, "do not ask for confirmation (needed when stdin is not a terminal)",
     NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static hb_status run_factory_reset(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_factory_reset = {
    .cmd = "factory-reset",
    .purpose = "Erase the system back to its factory image",
    .options = reset_options,
    .run = run_factory_reset,
    .details = "VERSION and hsmbak's own .hsmbak/ stay. The old tree is swapped out in one "
               "rename: the system is the old one or the factory image, never a mix. The "
               "backups under temporary: are erased too: each is named before the question "
               "(and listed as erased_backups with --json).",
};

/* Names the backups under temporary: that the reset erases, before asking. */
static hb_status say_erased_backups(cli_ctx *ctx, const char *root, hb_strlist *backups)
{
    hb_status st = hb_dir_backups(root, "temporary:///", backups, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *list = out_array(out_result(ctx), "erased_backups");
    for (size_t i = 0; i < backups->n; i++)
        out_push_str(list, backups->items[i]);
    if (backups->n > 0 && !ctx->json) {
        fprintf(stderr, "These %zu backup(s) under temporary: are erased with it (copy them off "
                "the system first to keep them):\n", backups->n);
        for (size_t i = 0; i < backups->n; i++)
            fprintf(stderr, "  temporary:///%s\n", backups->items[i]);
    }
    return HB_OK;
}

static hb_status run_factory_reset(cli_ctx *ctx, const cli_args *a)
{
    bool yes = cli_has(a, O_YES);
    const char *root;
    hb_system *sys = NULL;
    hb_strlist backups = {0};
    hb_err *err = &ctx->err;
    hb_status st = cli_root(ctx, &root);
    if (st != HB_OK)
        return st;
    /* Opened (and locked) first: what is named is what is erased. */
    HB_TRY(hb_system_open(root, 0, &sys, err));
    HB_ENSURE(yes || isatty(STDIN_FILENO), HB_E_USAGE, "factory-reset erases every setting "
              "and secret under '%s'; confirm with --yes", root);
    HB_TRY(say_erased_backups(ctx, hb_system_root(sys), &backups));
    if (!yes) {
        fprintf(stderr, "Erase every setting and secret under '%s'? Type 'yes': ", root);
        char answer[16] = "";
        HB_ENSURE(fgets(answer, sizeof answer, stdin) != NULL && strcmp(answer, "yes\n") == 0,
                  HB_E_REFUSED, "factory reset cancelled");
    }
    out_swap_mode(ctx, "factory-reset", sys, true);
    HB_TRY(hb_system_factory_reset(sys, err));
    cli_say(ctx, "Factory reset of '%s' is complete. Define the restore credentials and "
            "trusted signer before a secure-restore.", root);
    out_str(out_result(ctx), "root", root);
cleanup:
    hb_strlist_free(&backups);
    hb_system_close(sys);
    return st;
}
