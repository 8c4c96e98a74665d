/* The CLI's shared context: global options and the lazily opened token layer.
 * The CLI parses arguments and prints; every operation is a library call. */
#ifndef HSMBAK_CLI_H
#define HSMBAK_CLI_H

#include "hsmbak/provider.h"
#include "hsmbak/status.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_ctx {
    const char *root;          /* --root or $HSMBAK_ROOT; may be NULL */
    hb_provider_config provider_cfg;
    hb_provider *provider;     /* opened on first use by cli_provider() */
    bool json, quiet, verbose;
    hb_err err;                /* the failure to print, if any */
    /* output.c: the --json document being built, and the real stdout */
    const char *command;       /* "crypto show", for the document */
    struct json_t *json_result, *json_warnings;
    int json_fd;
} cli_ctx;

/* The token layer, opened once per run. */
hb_status cli_provider(cli_ctx *ctx, hb_provider **out);

/* The root, or a usage error saying how to give one. */
hb_status cli_root(cli_ctx *ctx, const char **out);

/* An option's value that must be a whole number from 1 to max (decimal
 * digits only); a usage error naming opt otherwise. */
hb_status cli_parse_number(cli_ctx *ctx, const char *opt, const char *s, unsigned long max,
                           unsigned *out);

/* Print a line on stdout unless --quiet or --json. */
void cli_say(const cli_ctx *ctx, const char *fmt, ...) HB_PRINTF(2, 3);

/* The commands (args.h), one table each, in the files that run them. */
struct cli_spec;
extern const struct cli_spec cli_spec_token_list, cli_spec_crypto_keygen,
    cli_spec_crypto_certificate, cli_spec_crypto_key, cli_spec_crypto_idcred,
    cli_spec_crypto_backup_signer, cli_spec_crypto_trusted_signer, cli_spec_crypto_show,
    cli_spec_crypto_delete, cli_spec_secure_backup, cli_spec_secure_restore, cli_spec_inspect,
    cli_spec_dir, cli_spec_factory_reset, cli_spec_system_init, cli_spec_ceremony_enroll,
    cli_spec_ceremony_import_cert, cli_spec_ceremony_retire, cli_spec_ceremony_quorum,
    cli_spec_ceremony_attest,
    cli_spec_ceremony_verify_transcript, cli_spec_ceremony_list;

/* A usage error (exit 2) with its message, for `return CLI_USAGE_ERROR(...)`. */
#define CLI_USAGE_ERROR(ctx, ...) hb_fail(&(ctx)->err, HB_E_USAGE, __VA_ARGS__)

#endif
