/* hsmbak — command line entry point: global options, dispatch, and the one
 * place that turns a failure into a message and an exit status. */
#include "cli.h"

#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    cli_command_fn fn;
} commands[] = {
    {"token", cmd_token},
    {"crypto", cmd_crypto},
    {"secure-backup", cmd_secure_backup},
    {"secure-restore", cmd_secure_restore},
    {"dir", cmd_dir},
    {"factory-reset", cmd_factory_reset},
    {"system", cmd_system},
    {"ceremony", cmd_ceremony},
};

hb_status cli_provider(cli_ctx *ctx, hb_provider **out)
{
    if (ctx->provider == NULL) {
        hb_status st = hb_provider_open(&ctx->provider_cfg, &ctx->provider, &ctx->err);
        if (st != HB_OK)
            return st;
    }
    *out = ctx->provider;
    return HB_OK;
}

hb_status cli_root(cli_ctx *ctx, const char **out)
{
    if (ctx->root == NULL || *ctx->root == '\0')
        return hb_fail(&ctx->err, HB_E_USAGE,
                       "no system root: give --root DIR or set HSMBAK_ROOT");
    *out = ctx->root;
    return HB_OK;
}

hb_status cli_parse_number(cli_ctx *ctx, const char *opt, const char *s, unsigned long max,
                           unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v == 0 || v > max)
        return CLI_USAGE_ERROR(ctx, "%s '%s' must be a number from 1 to %lu", opt, s, max);
    *out = (unsigned)v;
    return HB_OK;
}

void cli_say(const cli_ctx *ctx, const char *fmt, ...)
{
    if (!out_text(ctx))
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Global options may stand anywhere before "--" (so that the issue's
 * `hsmbak system init --root DIR` works); they are taken out of argv here
 * and the rest is left for the command. Returns the new argc. */
static int take_global_options(cli_ctx *ctx, int argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        static const char *const valued[] = {"--root", "--module", "--pin-source"};
        const char **slot[] = {&ctx->root, &ctx->provider_cfg.module,
                               &ctx->provider_cfg.pin_source};
        bool taken = false;
        for (int k = 0; k < 3 && !taken; k++) {
            size_t n = strlen(valued[k]);
            if (strncmp(a, valued[k], n) != 0)
                continue;
            if (a[n] == '=') {
                *slot[k] = a + n + 1;
                taken = true;
            } else if (a[n] == '\0') {
                if (i + 1 >= argc) {
                    hb_fail(&ctx->err, HB_E_USAGE, "%s needs a value", valued[k]);
                    return -1;
                }
                *slot[k] = argv[++i];
                taken = true;
            }
        }
        if (!taken && strcmp(a, "--json") == 0)
            taken = ctx->json = true;
        else if (!taken && (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0))
            taken = ctx->quiet = true;
        else if (!taken && (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0))
            taken = ctx->verbose = true;
        else if (!taken && (strncmp(a, "--pin", 5) == 0 && strncmp(a, "--pin-source", 12) != 0)) {
            /* Say so loudly rather than treat it as an unknown option: a PIN
             * on the command line is visible to every user through ps. */
            hb_fail(&ctx->err, HB_E_USAGE,
                    "PINs are never taken on the command line (anyone can read it with ps); "
                    "use --pin-source file:PATH or env:VAR, or answer the prompt");
            return -1;
        }
        if (!taken)
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

/* "crypto show", "token list", "secure-backup": the name in --json output. */
static const char *command_name(int argc, char **argv, char *buf, size_t cap)
{
    static const char *const two_words[] = {"token", "crypto", "system", "ceremony"};
    if (argc < 2)
        return "";
    if (strcmp(argv[1], "--version") == 0)
        return "version";
    for (size_t i = 0; i < sizeof two_words / sizeof two_words[0]; i++)
        if (strcmp(argv[1], two_words[i]) == 0 && argc > 2 && argv[2][0] != '-') {
            int n = snprintf(buf, cap, "%s %s", argv[1], argv[2]);
            return n >= 0 && (size_t)n < cap ? buf : argv[1];
        }
    return argv[1];
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {.json_fd = -1};
    hb_status st = HB_OK;
    char name[128];
    ctx.root = getenv("HSMBAK_ROOT");

    argc = take_global_options(&ctx, argc, argv);
    if (argc < 0) {
        out_begin(&ctx, "");
        st = ctx.err.status;
        goto done;
    }
    if (argc < 2 && ctx.json) {
        out_begin(&ctx, "");
        st = hb_fail(&ctx.err, HB_E_USAGE, "no command given; see 'hsmbak --help'");
        goto done;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? HB_E_USAGE : 0;
    }
    if (wants_help(argc, argv) && print_help(stdout, argv[1], argc > 2 ? argv[2] : NULL))
        return 0;
    out_begin(&ctx, command_name(argc, argv, name, sizeof name));
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        if (ctx.json)
            out_str(out_result(&ctx), "version", HSMBAK_VERSION);
        else
            printf("hsmbak %s\n", HSMBAK_VERSION);
        goto done;
    }
    if (ctx.quiet && ctx.verbose) {
        st = hb_fail(&ctx.err, HB_E_USAGE, "--quiet and --verbose exclude each other");
        goto done;
    }
    cli_command_fn fn = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            fn = commands[i].fn;
    if (fn == NULL) {
        st = hb_fail(&ctx.err, HB_E_USAGE, "unknown command '%s'; see 'hsmbak --help'",
                     argv[1]);
        goto done;
    }
    st = fn(&ctx, argc - 1, argv + 1);
done:
    out_finish(&ctx, st);
    hb_provider_free(ctx.provider);
    return (int)st;
}
