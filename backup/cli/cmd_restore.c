/* hsmbak secure-restore IDCRED SOURCE [--validate] [--signer CERT] [--max-size SIZE] */
#include "cli.h"

#include "hsmbak/backup.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IDCREDS 255

/* Several tokens may share one reader slot: ask for the next one on a
 * terminal; without one, the caller reports the missing token. */
static bool insert_token(void *ctx, const char *idcred, const char *message)
{
    static unsigned asked;
    (void)ctx;
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) || ++asked > 10)
        return false;
    fprintf(stderr, "secure-restore: %s\nInsert the token of idcred '%s' and press Enter "
            "(Ctrl-D gives up): ", message, idcred);
    char line[16];
    return fgets(line, sizeof line, stdin) != NULL;
}

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    cli_ctx *c = ctx;
    if (c->verbose)
        fprintf(stderr, "secure-restore: %s %s (%llu bytes)\n", event, name,
                (unsigned long long)bytes);
}

/* "10G", "512M", "4096" -> bytes (binary units). */
static hb_status parse_size(cli_ctx *ctx, const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end != NULL && *end != '\0' && end[1] == '\0') {
        switch (toupper((unsigned char)*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: shift = 99;
        }
        end++;
    }
    if (*s == '\0' || !isdigit((unsigned char)*s) || *end != '\0' || shift == 99 || v == 0 ||
        (shift && v > (~0ULL >> shift)))
        return CLI_USAGE_ERROR(ctx, "--max-size '%s' must be a size such as 512M or 10G", s);
    *out = (uint64_t)v << shift;
    return HB_OK;
}

hb_status cmd_secure_restore(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"validate", no_argument, NULL, 'v'},
        {"signer", required_argument, NULL, 's'},
        {"max-size", required_argument, NULL, 'm'},
        {"idcred", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    const char *idcreds[MAX_IDCREDS];
    size_t n_idcreds = 0;
    static const char usage[] = "usage: hsmbak secure-restore IDCRED SOURCE [--validate] "
                                "[--signer CERT] [--max-size SIZE]\n"
                                "       hsmbak secure-restore --idcred A [--idcred B ...] "
                                "SOURCE [--validate] ...";
    hb_restore_request req = {0};
    hb_restore_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    hb_status st = HB_OK;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'v') req.validate_only = true;
        else if (c == 's') req.signer = optarg;
        else if (c == 'm') HB_TRY(parse_size(ctx, optarg, &req.max_size));
        else if (c == 'i' && n_idcreds < MAX_IDCREDS) idcreds[n_idcreds++] = optarg;
        else return CLI_USAGE_ERROR(ctx, "%s", usage);
    }
    /* The appliance's form: a trailing "on" means validate. */
    int want = n_idcreds ? 1 : 2;
    if (argc - optind == want + 1 && strcmp(argv[optind + want], "on") == 0) {
        req.validate_only = true;
        argc--;
    }
    if (argc - optind != want)
        return CLI_USAGE_ERROR(ctx, "%s", usage);
    req.idcred = n_idcreds ? idcreds[0] : argv[optind];
    req.source = argv[optind + want - 1];
    req.idcreds = idcreds;
    req.n_idcreds = n_idcreds;
    req.insert_token = insert_token;
    req.progress = on_progress;
    req.progress_ctx = ctx;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    cli_say(ctx, "Secure restore from '%s' scheduled (may take a few minutes to complete).",
            req.source);
    HB_TRY(hb_secure_restore(sys, p, &req, &res, &ctx->err));
    if (res.leftovers_cleaned)
        fprintf(stderr, "secure-restore: removed %u staging tree(s) left by an interrupted "
                "run\n", res.leftovers_cleaned);
    if (ctx->verbose)
        fprintf(stderr, "secure-restore: signed by %s (SHA-256 %s); %llu entries, %llu bytes\n",
                res.signer_subject, res.signer_fingerprint, (unsigned long long)res.entries,
                (unsigned long long)res.expanded_bytes);
    if (req.validate_only) {
        cli_say(ctx, "The secure-restore validation is complete");
        goto cleanup;
    }
    cli_say(ctx, "Secure restore is complete. The system will be restarted.");
    if (res.post_restore_status > 0)
        fprintf(stderr, "secure-restore: warning: the post-restore command exited with "
                "status %d\n", res.post_restore_status);
    if (!ctx->quiet) {
        const hb_profile *prof = sys->profile;
        printf("\nWhat to do next:\n");
        for (size_t i = 0; i < prof->n_reset; i++)
            printf("  - %s\n", prof->reset[i].message);
        for (size_t i = 0; i < res.manifest->n_excluded; i++)
            printf("  - not restored: %s: %s\n", res.manifest->excluded[i].name,
                   res.manifest->excluded[i].reason);
        for (size_t i = 0; i < prof->n_next_steps; i++)
            printf("  - %s\n", prof->next_steps[i]);
    }
cleanup:
    hb_restore_result_free(&res);
    hb_system_close(sys);
    return st;
}
