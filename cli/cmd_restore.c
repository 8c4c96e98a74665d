/* hsmbak secure-restore IDCRED SOURCE [--validate] [--signer CERT] [--max-size SIZE] */
#include "cli.h"
#include "output.h"
#include "progress.h"

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

/* The library's progress events go to the progress line; its checks come
 * back whole in the result's report, printed by print_checks. */
static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    if (strcmp(event, "check") != 0)
        progress_event(ctx, event, name, bytes);
}

/* The check report as the library made it: every check in order, ok,
 * failed (with the message), skipped or not-run. --verbose text: one line
 * each on stderr. */
static void print_checks(cli_ctx *ctx, const char *label, const hb_check_report *report)
{
    json_t *checks = out_array(out_result(ctx), "checks");
    for (size_t i = 0; i < report->n; i++) {
        const hb_check *c = &report->checks[i];
        json_t *o = out_push_object(checks);
        out_str(o, "check", c->name);
        if (c->archive != NULL)
            out_str(o, "archive", c->archive);
        out_str(o, "status", hb_check_status_name(c->status));
        if (c->message != NULL)
            out_str(o, "message", c->message);
        if (ctx->verbose && !ctx->json)
            fprintf(stderr, "%s: check %s%s%s: %s\n", label, c->name, c->archive ? " " : "",
                    c->archive ? c->archive : "", hb_check_status_name(c->status));
    }
}

static void json_manifest(cli_ctx *ctx, const hb_restore_request *req,
                          const hb_restore_result *res)
{
    json_t *r = out_result(ctx);
    const hb_manifest *m = res->manifest;
    if (r == NULL)
        return;
    json_t *sg = out_object(r, "signer");
    out_str(sg, "subject", res->signer_subject != NULL ? res->signer_subject : "");
    out_str(sg, "fingerprint_sha256", res->signer_fingerprint);
    if (m == NULL)
        return;
    out_str(r, "backup_id", hb_manifest_id(m));
    out_str(r, "created", hb_manifest_created(m));
    out_manifest(r, m);
    out_u64(r, "entries", res->entries);
    out_u64(r, "expanded_bytes", res->expanded_bytes);
    out_u64(r, "leftovers_cleaned", res->leftovers_cleaned);
    if (!req->validate_only)
        out_int(r, "post_restore_status", res->post_restore_status);
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

/* Options and operands into req (idcreds holds MAX_IDCREDS). */
static hb_status parse_args(cli_ctx *ctx, int argc, char **argv, hb_restore_request *req,
                            const char **idcreds)
{
    static const struct option opts[] = {
        {"validate", no_argument, NULL, 'v'},
        {"signer", required_argument, NULL, 's'},
        {"max-size", required_argument, NULL, 'm'},
        {"idcred", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] = "usage: hsmbak secure-restore IDCRED SOURCE [--validate] "
                                "[--signer CERT] [--max-size SIZE]\n"
                                "       hsmbak secure-restore --idcred A [--idcred B ...] "
                                "SOURCE [--validate] ...";
    size_t n_idcreds = 0;
    hb_status st = HB_OK;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1 && st == HB_OK) {
        if (c == 'v') req->validate_only = true;
        else if (c == 's') req->signer = optarg;
        else if (c == 'm') st = parse_size(ctx, optarg, &req->max_size);
        else if (c == 'i' && n_idcreds < MAX_IDCREDS) idcreds[n_idcreds++] = optarg;
        else st = CLI_USAGE_ERROR(ctx, "%s", usage);
    }
    if (st != HB_OK)
        return st;
    /* The appliance's form: a trailing "on" means validate. */
    int want = n_idcreds ? 1 : 2;
    if (argc - optind == want + 1 && strcmp(argv[optind + want], "on") == 0) {
        req->validate_only = true;
        argc--;
    }
    if (argc - optind != want)
        return CLI_USAGE_ERROR(ctx, "%s", usage);
    req->idcred = n_idcreds ? idcreds[0] : argv[optind];
    req->source = argv[optind + want - 1];
    req->idcreds = idcreds;
    req->n_idcreds = n_idcreds;
    req->insert_token = insert_token;
    return HB_OK;
}

/* A restore or validate that went through: what it says to the operator. */
static void say_done(cli_ctx *ctx, const hb_restore_request *req, const hb_restore_result *res)
{
    if (res->leftovers_cleaned)
        out_warning(ctx, "secure-restore: removed %u staging tree(s) left by an interrupted "
                    "run", res->leftovers_cleaned);
    if (ctx->verbose && !ctx->json)
        fprintf(stderr, "secure-restore: signed by %s (SHA-256 %s); %llu entries, %llu bytes\n",
                res->signer_subject, res->signer_fingerprint, (unsigned long long)res->entries,
                (unsigned long long)res->expanded_bytes);
    if (req->validate_only) {
        cli_say(ctx, "The secure-restore validation is complete");
        return;
    }
    cli_say(ctx, "Secure restore is complete. The system will be restarted.");
    if (res->post_restore_status > 0)
        out_warning(ctx, "secure-restore: the post-restore command exited with status %d",
                    res->post_restore_status);
    json_t *next = out_array(out_result(ctx), "next_steps");
    for (size_t i = 0; i < res->next_steps.n; i++)
        out_push_str(next, res->next_steps.items[i]);
    if (out_text(ctx) && res->next_steps.n > 0) {
        printf("\nWhat to do next:\n");
        for (size_t i = 0; i < res->next_steps.n; i++)
            printf("  - %s\n", res->next_steps.items[i]);
    }
}

hb_status cmd_secure_restore(cli_ctx *ctx, int argc, char **argv)
{
    const char *idcreds[MAX_IDCREDS];
    hb_restore_request req = {0};
    hb_restore_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    cli_progress *progress = NULL;
    const char *root;
    hb_status st = HB_OK;
    HB_TRY(parse_args(ctx, argc, argv, &req, idcreds));
    const char *label = req.validate_only ? "validate" : "secure-restore";
    out_str(out_result(ctx), "mode", req.validate_only ? "validate" : "restore");
    out_str(out_result(ctx), "source", req.source);
    out_str(out_result(ctx), "idcred", req.idcred);
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    cli_say(ctx, "Secure restore from '%s' scheduled (may take a few minutes to complete).",
            req.source);
    progress = progress_new(ctx, label);
    req.progress = on_progress;
    req.progress_ctx = progress;
    st = hb_secure_restore(sys, p, &req, &res, &ctx->err);
    progress_free(progress);
    progress = NULL;
    print_checks(ctx, label, &res.checks);
    json_manifest(ctx, &req, &res);
    if (st == HB_OK)
        say_done(ctx, &req, &res);
cleanup:
    progress_free(progress);
    hb_restore_result_free(&res);
    hb_system_close(sys);
    return st;
}
