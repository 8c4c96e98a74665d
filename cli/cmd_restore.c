/* hsmbak secure-restore IDCRED SOURCE [--validate] [--signer CERT] [--max-size SIZE]
 *                       [--allow-rollback] */
#include "args.h"
#include "output.h"
#include "progress.h"
#include "aws_options.h"
#include "summary.h"

#include "hsmbak/backup.h"

#include <ctype.h>
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
 * back whole in the result's report, printed by print_checks. The
 * "scheduled" line is said when the long work begins ("total": every check
 * before the archives passed). */
typedef struct restore_watch {
    cli_ctx *ctx;
    cli_progress *progress;
    const char *source;
} restore_watch;

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    restore_watch *w = ctx;
    if (strcmp(event, "check") == 0)
        return;
    if (strcmp(event, "total") == 0)
        cli_say(w->ctx, "Secure restore from '%s' scheduled (may take a few minutes to "
                "complete).", w->source);
    progress_event(w->progress, event, name, bytes);
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

/* What this system knew before the run (docs/json.md "history"), once the
 * rollback check was made: also when it refused the backup. */
static void describe_history(json_t *r, const hb_restore_request *req,
                             const hb_restore_result *res)
{
    const hb_restore_history *h = &res->history;
    if (res->manifest == NULL && !h->rollback)
        return;
    json_t *hist = out_object(r, "history");
    if (h->newest > 0) {
        out_u64(hist, "newest_sequence", h->newest);
        out_str(hist, "newest_backup_id", h->newest_id);
        out_str(hist, "newest_created", h->newest_created);
        out_str(hist, "newest_how", h->newest_how);
    } else {
        json_object_set_new(hist, "newest_sequence", json_null());
    }
    out_bool(hist, "rollback", h->rollback);
    if (!req->validate_only)
        out_bool(hist, "rollback_allowed", h->rollback && req->allow_rollback &&
                                               res->manifest != NULL);
}

/* What was restored or validated, as far as the run got. */
static void describe_restore(json_t *r, const hb_restore_request *req,
                             const hb_restore_result *res)
{
    const hb_manifest *m = res->manifest;
    json_t *sg = out_object(r, "signer");
    out_str(sg, "subject", res->signer_subject != NULL ? res->signer_subject : "");
    out_str(sg, "fingerprint_sha256", res->signer_fingerprint);
    describe_history(r, req, res);
    if (m == NULL)
        return;
    out_manifest(r, m);
    out_u64(r, "entries", res->entries);
    out_u64(r, "expanded_bytes", res->expanded_bytes);
    out_u64(r, "leftovers_cleaned", res->leftovers_cleaned);
    if (req->validate_only)
        return;
    out_int(r, "post_restore_status", res->post_restore_status);
    out_bool(r, "restarts", res->restarts);
    json_t *next = out_array(r, "next_steps");
    for (size_t i = 0; i < res->next_steps.n; i++)
        out_push_str(next, res->next_steps.items[i]);
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

enum { O_VALIDATE = 1, O_SIGNER, O_MAX_SIZE, O_IDCRED, O_ALLOW_ROLLBACK };

/* For an sftp:// SOURCE (docs/remote.md). */
enum { O_SSH_IDENTITY = 100, O_SSH_KNOWN_HOSTS };

static const cli_option options[] = {
    {O_VALIDATE, "validate", NULL,
     "check everything (signature, trust, every file, every archive) and change nothing", NULL,
     0},
    {O_SIGNER, "signer", "CERT", "trust this certificate object as the signer, for this run",
     "only trusted-signer certificates", 0},
    {O_MAX_SIZE, "max-size", "SIZE", "cap on each archive's expanded size (512M, 10G)",
     "no cap but the target's free space", 0},
    {O_SSH_IDENTITY, "ssh-identity", "PATH", "private key to log in with, for an sftp:// "
     "SOURCE (readable by its owner only)", "~/.ssh/id_ed25519, then ~/.ssh/id_rsa", 0},
    {O_SSH_KNOWN_HOSTS, "ssh-known-hosts", "PATH", "the known hosts file the server's key "
     "must be in, for an sftp:// SOURCE", "~/.ssh/known_hosts", 0},
    {O_IDCRED, "idcred", "IDCRED",
     "an idcred that may open the backup, instead of the IDCRED argument; repeat it for "
     "the members of a quorum", NULL, CLI_REPEAT},
    {O_ALLOW_ROLLBACK, "allow-rollback", NULL,
     "restore a backup older than the newest this system made or restored",
     "such a restore is refused, naming the newer backup", 0},
    CLI_S3_OPTIONS("SOURCE"),
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand operands[] = {
    {"IDCRED", "the idcred whose certificate is a recipient of the backup (leave it out "
               "with --idcred)"},
    {"SOURCE", "the backup directory: temporary:///NAME, a path or "
               "sftp://[USER@]HOST[:PORT]/PATH or s3://BUCKET/PREFIX"},
    {NULL, NULL},
};

static hb_status run_restore(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_secure_restore = {
    .cmd = "secure-restore",
    .purpose = "Validate a backup, or restore it onto this system",
    .operands = operands,
    .options = options,
    .min_operands = 1,
    .max_operands = 3,
    .run = run_restore,
    .details = "A restore checks everything --validate checks, then needs a system in "
               "factory state, extracts into a staging directory beside the root, swaps it "
               "in atomically and runs the profile's resets and post-restore command. A "
               "backup whose sequence is older than the newest this system made or restored "
               "is a rollback: --validate warns, a restore refuses it unless "
               "--allow-rollback is given.",
};

/* Options and operands into req (idcreds holds MAX_IDCREDS). */
static hb_status parse_args(cli_ctx *ctx, const cli_args *a, hb_restore_request *req,
                            const char **idcreds)
{
    size_t n_idcreds = 0, n = a->n_operands;
    hb_status st = HB_OK;
    const char *v;
    req->validate_only = cli_has(a, O_VALIDATE);
    req->allow_rollback = cli_has(a, O_ALLOW_ROLLBACK);
    req->signer = cli_get(a, O_SIGNER);
    if ((v = cli_get(a, O_MAX_SIZE)) != NULL)
        st = parse_size(ctx, v, &req->max_size);
    if (st != HB_OK)
        return st;
    for (size_t i = 0; i < a->n_given; i++)
        if (a->given[i].opt->id == O_IDCRED) {
            if (n_idcreds == MAX_IDCREDS)
                return cli_usage(ctx, a->spec, "at most %d --idcred", MAX_IDCREDS);
            idcreds[n_idcreds++] = a->given[i].value;
        }
    /* The appliance's form: a trailing "on" means validate. */
    size_t want = n_idcreds ? 1 : 2;
    if (n == want + 1 && strcmp(a->operands[n - 1], "on") == 0) {
        req->validate_only = true;
        n--;
    }
    if (n < want)
        return cli_usage(ctx, a->spec, "missing %s", n_idcreds || n == 1 ? "SOURCE"
                                                                          : "IDCRED SOURCE");
    if (n > want)
        return cli_usage(ctx, a->spec, "unexpected argument '%s'%s", a->operands[want],
                         n_idcreds ? " (the idcreds are given with --idcred)" : "");
    req->idcred = n_idcreds ? idcreds[0] : a->operands[0];
    req->source = a->operands[want - 1];
    req->idcreds = idcreds;
    req->n_idcreds = n_idcreds;
    req->insert_token = insert_token;
    req->ssh_identity = cli_get(a, O_SSH_IDENTITY);
    cli_s3_options(a, &req->s3);
    req->ssh_known_hosts = cli_get(a, O_SSH_KNOWN_HOSTS);
    return HB_OK;
}

/* A restore or validate that went through: what it says to the operator.
 * Both name the backup (summary.h); a restore says what to do next. */
static void say_done(cli_ctx *ctx, const hb_restore_request *req, const hb_restore_result *res)
{
    json_t *r = out_record(ctx);
    /* Quorum shares present but left out (the idcred check's finding). */
    for (size_t i = 0; i < res->checks.n; i++)
        if (res->checks.checks[i].status == HB_CHECK_WARNING &&
            strcmp(res->checks.checks[i].name, "idcred") == 0)
            out_warning(ctx, "%s: %s", req->validate_only ? "validate" : "secure-restore",
                        res->checks.checks[i].message);
    if (res->history.rollback && res->history.message != NULL)
        out_warning(ctx, "%s: %s", req->validate_only ? "validate" : "secure-restore",
                    res->history.message);
    if (res->leftovers_cleaned)
        out_warning(ctx, "secure-restore: removed %u staging tree(s) left by an interrupted "
                    "run", res->leftovers_cleaned);
    if (ctx->verbose && !ctx->json)
        fprintf(stderr, "secure-restore: %llu entries, %llu bytes\n",
                (unsigned long long)res->entries, (unsigned long long)res->expanded_bytes);
    if (req->validate_only)
        cli_say(ctx, "The secure-restore validation is complete");
    else
        cli_say(ctx, "Secure restore is complete.%s",
                out_get_bool(r, "restarts") ? " The system will be restarted." : "");
    if (out_text(ctx))
        print_summary(r, SUMMARY_SIGNER | SUMMARY_TOTAL);
    if (!req->validate_only && res->post_restore_status > 0)
        out_warning(ctx, "secure-restore: the post-restore command exited with status %d",
                    res->post_restore_status);
    const json_t *next = json_object_get(r, "next_steps");
    if (out_text(ctx) && json_array_size(next) > 0) {
        size_t i;
        json_t *v;
        printf("What to do next:\n");
        json_array_foreach(next, i, v)
            printf("  - %s\n", json_string_value(v));
    }
}

static hb_status run_restore(cli_ctx *ctx, const cli_args *a)
{
    const char *idcreds[MAX_IDCREDS];
    hb_restore_request req = {0};
    hb_restore_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    restore_watch watch = {.ctx = ctx};
    const char *root;
    hb_status st = HB_OK;
    HB_TRY(parse_args(ctx, a, &req, idcreds));
    const char *label = req.validate_only ? "validate" : "secure-restore";
    watch.source = req.source;
    out_str(out_result(ctx), "mode", req.validate_only ? "validate" : "restore");
    out_str(out_result(ctx), "source", req.source);
    out_str(out_result(ctx), "idcred", req.idcred);
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    out_swap_mode(ctx, label, sys, !req.validate_only);
    HB_TRY(cli_provider(ctx, &p));
    watch.progress = progress_new(ctx, label);
    req.progress = on_progress;
    req.progress_ctx = &watch;
    st = hb_secure_restore(sys, p, &req, &res, &ctx->err);
    progress_free(watch.progress);
    watch.progress = NULL;
    print_checks(ctx, label, &res.checks);
    describe_restore(out_record(ctx), &req, &res);
    if (st == HB_OK)
        say_done(ctx, &req, &res);
cleanup:
    progress_free(watch.progress);
    hb_restore_result_free(&res);
    hb_system_close(sys);
    return st;
}
