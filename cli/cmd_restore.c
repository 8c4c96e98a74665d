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

/* The checks of a validate or restore, in the order the library makes them
 * (backup/restore.c); "archive:NAME" entries go between files and swap. */
static const char *const check_order[] = {
    "signature", "signer-trust", "version", "profile", "factory-state",
    "idcred", "recipient", "files", "archives", "swap",
};
#define N_CHECKS (sizeof check_order / sizeof check_order[0])

typedef struct restore_watch {
    cli_progress *progress;
    bool validate;
    bool passed[N_CHECKS];
    json_t *archives;        /* {"name":..., "status":...} per archive */
    char current[128];       /* the archive being read */
} restore_watch;

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    restore_watch *w = ctx;
    if (strcmp(event, "check") == 0) {
        for (size_t i = 0; i < N_CHECKS; i++)
            if (strcmp(check_order[i], name) == 0)
                w->passed[i] = true;
    } else if (strcmp(event, "validating") == 0 || strcmp(event, "restoring") == 0) {
        snprintf(w->current, sizeof w->current, "%s", name);
    } else if (strcmp(event, "complete") == 0) {
        json_t *o = out_push_object(w->archives);
        out_str(o, "check", "archive");
        out_str(o, "archive", name);
        out_str(o, "status", "ok");
        w->current[0] = '\0';
    }
    progress_event(w->progress, event, name, bytes);
}

/* Every check with its status: ok, failed (with the message), skipped
 * (validate does not touch the system) or not-run (after a failure). */
static void json_checks(cli_ctx *ctx, restore_watch *w, hb_status st)
{
    json_t *checks = out_array(out_result(ctx), "checks");
    bool failed_seen = st == HB_OK;
    for (size_t i = 0; i < N_CHECKS && checks != NULL; i++) {
        const char *c = check_order[i];
        bool restore_only = strcmp(c, "factory-state") == 0 || strcmp(c, "swap") == 0;
        if (strcmp(c, "archives") == 0) {
            json_array_extend(checks, w->archives);
            if (!failed_seen && w->passed[7] && w->current[0] != '\0') {
                json_t *o = out_push_object(checks);
                out_str(o, "check", "archive");
                out_str(o, "archive", w->current);
                out_str(o, "status", "failed");
                out_str(o, "message", ctx->err.msg);
                failed_seen = true;
            }
            continue;
        }
        json_t *o = out_push_object(checks);
        out_str(o, "check", c);
        if (w->validate && restore_only) {
            out_str(o, "status", "skipped");
        } else if (w->passed[i]) {
            out_str(o, "status", "ok");
        } else if (!failed_seen) {
            out_str(o, "status", "failed");
            out_str(o, "message", ctx->err.msg);
            failed_seen = true;
        } else {
            out_str(o, "status", "not-run");
        }
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
    out_str(sg, "subject", res->signer_subject);
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
    restore_watch watch = {0};
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
    watch.validate = req.validate_only;
    watch.archives = json_array();
    watch.progress = progress_new(ctx, req.validate_only ? "validate" : "secure-restore");
    req.progress = on_progress;
    req.progress_ctx = &watch;
    out_str(out_result(ctx), "mode", req.validate_only ? "validate" : "restore");
    out_str(out_result(ctx), "source", req.source);
    out_str(out_result(ctx), "idcred", req.idcred);
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    cli_say(ctx, "Secure restore from '%s' scheduled (may take a few minutes to complete).",
            req.source);
    st = hb_secure_restore(sys, p, &req, &res, &ctx->err);
    progress_free(watch.progress);
    watch.progress = NULL;
    json_checks(ctx, &watch, st);
    json_manifest(ctx, &req, &res);
    if (st != HB_OK)
        goto cleanup;
    if (res.leftovers_cleaned)
        out_warning(ctx, "secure-restore: removed %u staging tree(s) left by an interrupted "
                    "run", res.leftovers_cleaned);
    if (ctx->verbose && !ctx->json)
        fprintf(stderr, "secure-restore: signed by %s (SHA-256 %s); %llu entries, %llu bytes\n",
                res.signer_subject, res.signer_fingerprint, (unsigned long long)res.entries,
                (unsigned long long)res.expanded_bytes);
    if (req.validate_only) {
        cli_say(ctx, "The secure-restore validation is complete");
        goto cleanup;
    }
    cli_say(ctx, "Secure restore is complete. The system will be restarted.");
    if (res.post_restore_status > 0)
        out_warning(ctx, "secure-restore: the post-restore command exited with status %d",
                    res.post_restore_status);
    json_t *next = out_array(out_result(ctx), "next_steps");
    for (size_t i = 0; i < res.next_steps.n; i++)
        out_push_str(next, res.next_steps.items[i]);
    if (out_text(ctx) && res.next_steps.n > 0) {
        printf("\nWhat to do next:\n");
        for (size_t i = 0; i < res.next_steps.n; i++)
            printf("  - %s\n", res.next_steps.items[i]);
    }
cleanup:
    progress_free(watch.progress);
    json_decref(watch.archives);
    hb_restore_result_free(&res);
    hb_system_close(sys);
    return st;
}
