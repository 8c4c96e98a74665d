/* hsmbak — command line entry point: global options, dispatch, and the one
 * place that turns a failure into a message and an exit status. */
#include "args.h"
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The global options, for help and suggestions (take_global_options below
 * takes them out of argv). */
const cli_option cli_global_options[] = {
    {1, "root", "DIR", "the system root", "$HSMBAK_ROOT", 0},
    {2, "module", "PATH", "the PKCS#11 module", "$HSMBAK_PKCS11_MODULE, then the p11-kit proxy",
     0},
    {3, "pin-source", "file:PATH|env:VAR", "where the token's user PIN comes from",
     "the key URI's pin-source, else a no-echo prompt on a terminal", 0},
    {4, "json", NULL, "print one JSON document on stdout, failures too (docs/json.md)", NULL, 0},
    {5, "quiet", NULL, "print only errors and the listings asked for (also -q)", NULL, 0},
    {6, "verbose", NULL, "report each archive and check on stderr (also -v)", NULL, 0},
    {7, "version", NULL, "print the version", NULL, 0},
    {8, "help", NULL, "print this help, or a command's (also -h)", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
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
        return CLI_USAGE_ERROR(ctx, "%s must be a number from 1 to %lu, not '%s'", opt, max, s);
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
                    hb_fail(&ctx->err, HB_E_USAGE, "option '%s' needs a value (%s)", valued[k],
                            cli_global_options[k].arg);
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

/* ---- finding the command ------------------------------------------------------ */

static bool is_command(const char *word)
{
    for (size_t i = 0; i < cli_n_specs; i++)
        if (strcmp(cli_specs[i]->cmd, word) == 0)
            return true;
    return false;
}

/* The words candidates are suggested from: the commands (cmd NULL) or the
 * subcommands of cmd. */
static size_t candidates(const char *cmd, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < cli_n_specs && n < cap; i++) {
        const cli_spec *s = cli_specs[i];
        const char *w = cmd == NULL ? s->cmd : strcmp(s->cmd, cmd) == 0 ? s->sub : NULL;
        bool seen = w == NULL;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(out[k], w) == 0;
        if (!seen)
            out[n++] = w;
    }
    return n;
}

/* "unknown command 'secure-bakup'; did you mean 'secure-backup'?" */
static hb_status unknown_command(cli_ctx *ctx, const char *group, const char *word)
{
    const char *names[64];
    size_t n = candidates(group, names, 64);
    const char *guess = cli_suggest(word, names, n);
    char full[64] = "";
    /* A subcommand typed alone: "keygen" is "crypto keygen". */
    for (size_t i = 0; group == NULL && guess == NULL && i < cli_n_specs; i++)
        if (cli_specs[i]->sub != NULL && strcmp(cli_specs[i]->sub, word) == 0 &&
            cli_spec_name(cli_specs[i], full, sizeof full) == full)
            guess = full;
    char see[64];
    int k = snprintf(see, sizeof see, "hsmbak %s%s--help", group ? group : "", group ? " " : "");
    if (k < 0 || (size_t)k >= sizeof see)
        see[0] = '\0';
    if (guess != NULL)
        return hb_fail(&ctx->err, HB_E_USAGE, "%s%sunknown command '%s'; did you mean '%s'? "
                       "See '%s'", group ? group : "", group ? ": " : "", word, guess, see);
    return hb_fail(&ctx->err, HB_E_USAGE, "%s%sunknown command '%s'; see '%s'",
                   group ? group : "", group ? ": " : "", word, see);
}

/* The spec argv names: argv[0] is the command, argv[1] its subcommand when
 * it has some. *words is how many of argv it took. A group asked for help
 * without a subcommand gives *spec NULL and HB_OK. */
static hb_status find_spec(cli_ctx *ctx, int argc, char **argv, bool help,
                           const cli_spec **spec, int *words)
{
    *spec = NULL;
    if (!is_command(argv[0]))
        return unknown_command(ctx, NULL, argv[0]);
    for (size_t i = 0; i < cli_n_specs; i++)
        if (strcmp(cli_specs[i]->cmd, argv[0]) == 0 && cli_specs[i]->sub == NULL) {
            *spec = cli_specs[i];
            *words = 1;
            return HB_OK;
        }
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub == NULL || sub[0] == '-') {
        if (help)
            return HB_OK;
        const char *names[32];
        size_t n = candidates(argv[0], names, 32);
        char list[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < n; k++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", names[k]);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        return hb_fail(&ctx->err, HB_E_USAGE, "%s: which one? %s; see 'hsmbak %s --help'",
                       argv[0], list, argv[0]);
    }
    for (size_t i = 0; i < cli_n_specs; i++)
        if (strcmp(cli_specs[i]->cmd, argv[0]) == 0 && strcmp(cli_specs[i]->sub, sub) == 0) {
            *spec = cli_specs[i];
            *words = 2;
            return HB_OK;
        }
    return unknown_command(ctx, argv[0], sub);
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* hsmbak help [CMD [SUB]] / hsmbak CMD [SUB] --help. */
static hb_status print_help(cli_ctx *ctx, int argc, char **argv)
{
    const cli_spec *spec = NULL;
    int words = 0;
    if (argc == 0) {
        cli_print_overview(stdout);
        return HB_OK;
    }
    hb_status st = find_spec(ctx, argc, argv, true, &spec, &words);
    if (st != HB_OK)
        return st;
    if (spec == NULL)
        cli_print_group_help(stdout, argv[0]);
    else
        cli_print_spec_help(stdout, spec);
    return HB_OK;
}

/* A word before the command that looks like an option but is none of the
 * global ones. */
static hb_status unknown_global(cli_ctx *ctx, const char *arg)
{
    const char *names[16];
    size_t n = 0;
    for (const cli_option *o = cli_global_options; o->name != NULL && n < 16; o++)
        names[n++] = o->name;
    const char *guess = strncmp(arg, "--", 2) == 0 ? cli_suggest(arg + 2, names, n) : NULL;
    if (guess != NULL)
        return hb_fail(&ctx->err, HB_E_USAGE, "unknown option '%s'; did you mean '--%s'? "
                       "See 'hsmbak --help'", arg, guess);
    return hb_fail(&ctx->err, HB_E_USAGE, "unknown option '%s'; see 'hsmbak --help'", arg);
}

static hb_status run(cli_ctx *ctx, int argc, char **argv, char *name, size_t cap)
{
    const cli_spec *spec = NULL;
    cli_args args = {0};
    int words = 0;
    hb_status st = find_spec(ctx, argc, argv, false, &spec, &words);
    out_begin(ctx, spec != NULL ? cli_spec_name(spec, name, cap) : argv[0]);
    if (st != HB_OK)
        return st;
    if (ctx->quiet && ctx->verbose)
        return hb_fail(&ctx->err, HB_E_USAGE, "--quiet and --verbose exclude each other");
    st = cli_parse(ctx, spec, argc - words, argv + words, &args);
    if (st == HB_OK)
        st = spec->run(ctx, &args);
    cli_args_free(&args);
    return st;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {.json_fd = -1};
    hb_status st = HB_OK;
    char name[128];
    ctx.root = getenv("HSMBAK_ROOT");

    argc = take_global_options(&ctx, argc, argv);
    const char *first = argc >= 2 ? argv[1] : "";
    if (argc < 0 || (argc < 2 && ctx.json)) {
        out_begin(&ctx, "");
        st = argc < 0 ? ctx.err.status
                      : hb_fail(&ctx.err, HB_E_USAGE, "no command given; see 'hsmbak --help'");
        goto done;
    }
    if (argc < 2) {
        cli_print_overview(stderr);
        return HB_E_USAGE;
    }
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strcmp(first, "help") == 0 ||
        (first[0] != '-' && wants_help(argc - 1, argv + 1))) {
        bool word = first[0] != '-' && strcmp(first, "help") != 0;
        ctx.json = false; /* help is text, for people */
        out_begin(&ctx, "help");
        st = print_help(&ctx, word ? argc - 1 : argc - 2, word ? argv + 1 : argv + 2);
        goto done;
    }
    if (strcmp(first, "--version") == 0 || strcmp(first, "version") == 0) {
        out_begin(&ctx, "version");
        if (ctx.json)
            out_str(out_result(&ctx), "version", HSMBAK_VERSION);
        else
            printf("hsmbak %s\n", HSMBAK_VERSION);
        goto done;
    }
    if (first[0] == '-') {
        out_begin(&ctx, "");
        st = unknown_global(&ctx, first);
        goto done;
    }
    st = run(&ctx, argc - 1, argv + 1, name, sizeof name);
done:
    out_finish(&ctx, st);
    hb_provider_free(ctx.provider);
    return (int)st;
}
