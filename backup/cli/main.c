/* hsmbak — command line entry point: global options, dispatch, and the one
 * place that turns a failure into a message and an exit status. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: hsmbak [--root DIR] [--module PATH] [--pin-source file:PATH|env:VAR]\n"
    "              [--quiet|--verbose] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  token list [--token URI]\n"
    "  crypto keygen --cn CN [--o O] [--ou OU] [--c C] [--st ST] [--l L] --token URI\n"
    "                [--key-type rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384]\n"
    "                [--usage recipient|signer] [--gen-sscert [--days N]] [--csr]\n"
    "                [--file-name NAME] [--export-sscert] [--gen-object [--object-name NAME]]\n"
    "  crypto certificate NAME URL [--ignore-expiration] [--disable]\n"
    "                [--key-wrap rsa-oaep-sha256|rsa-oaep-sha1]\n"
    "  crypto key NAME PKCS11-URI\n"
    "  crypto idcred NAME KEY CERT\n"
    "  crypto backup-signer IDCRED\n"
    "  crypto trusted-signer CERT [--remove]\n"
    "  crypto show [certificate|key|idcred] [NAME]\n"
    "  crypto delete certificate|key|idcred NAME\n"
    "  secure-backup [CERT[,CERT...]] DEST [--compression zstd|gzip|none] [--jobs N]\n"
    "  secure-restore IDCRED SOURCE [--validate] [--signer CERT] [--max-size SIZE]\n"
    "  secure-restore --idcred A [--idcred B ...] SOURCE [--validate] ...\n"
    "  dir URL\n"
    "  factory-reset [--yes]\n"
    "  system init --profile appliance|host|FILE [--version V.R.M.F]\n"
    "  ceremony enroll --token URI --custodian NAME... [--name N] [--cn CN] [--csr]\n"
    "  ceremony import-cert NAME FILE | retire FINGERPRINT|NAME\n"
    "  ceremony quorum NAME --threshold K MEMBER... | verify-transcript | list\n"
    "\n"
    "The root defaults to $HSMBAK_ROOT, the module to $HSMBAK_PKCS11_MODULE, then the\n"
    "p11-kit proxy. PINs are never taken on the command line.\n";

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

void cli_say(const cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx->quiet)
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

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    hb_status st = HB_OK;
    ctx.root = getenv("HSMBAK_ROOT");

    argc = take_global_options(&ctx, argc, argv);
    if (argc < 0) {
        st = ctx.err.status;
        goto done;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? HB_E_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hsmbak %s\n", HSMBAK_VERSION);
        return 0;
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
    if (st != HB_OK)
        fprintf(stderr, "hsmbak: %s\n", ctx.err.msg[0] ? ctx.err.msg : hb_status_name(st));
    fflush(stdout);
    hb_provider_free(ctx.provider);
    return (int)st;
}
