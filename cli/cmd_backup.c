/* hsmbak secure-backup [CERT[,CERT...]] DEST [--compression C] [--jobs N] [--keep N] */
#include "args.h"
#include "output.h"
#include "progress.h"
#include "aws_options.h"
#include "summary.h"

#include "hsmbak/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library's progress events. The "scheduled" line is said once the
 * work begins ("total": recipients, signer and destination are settled);
 * "destination" only tells where ({date} expanded). */
typedef struct backup_watch {
    cli_ctx *ctx;
    cli_progress *progress;
    char dest[4096];
} backup_watch;

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    backup_watch *w = ctx;
    if (strcmp(event, "destination") == 0) {
        if (snprintf(w->dest, sizeof w->dest, "%s", name) >= (int)sizeof w->dest)
            w->dest[0] = '\0';
        return;
    }
    if (strcmp(event, "total") == 0)
        cli_say(w->ctx, "Secure backup to '%s' scheduled (may take a few minutes to complete).",
                w->dest);
    progress_event(w->progress, event, name, bytes);
}

/* The result: what the manifest says, where it went, sizes, rotation. */
static void describe_backup(json_t *r, const hb_backup_request *req,
                            const hb_backup_result *res)
{
    out_manifest(r, res->manifest);
    out_str(r, "dest", res->dest);
    out_u64(r, "expanded_bytes", res->expanded_bytes);
    if (req->keep == 0)
        return;
    const hb_rotate_result *rr = &res->rotation;
    json_t *j = out_object(r, "rotation");
    out_u64(j, "keep", req->keep);
    out_u64(j, "kept", rr->kept);
    json_t *removed = out_array(j, "removed"), *invalid = out_array(j, "invalid");
    for (size_t i = 0; i < rr->removed.n; i++)
        out_push_str(removed, rr->removed.items[i]);
    for (size_t i = 0; i < rr->invalid.n; i++)
        out_push_str(invalid, rr->invalid.items[i]);
}

/* What the backup's rotation did (--keep). */
static void say_rotation(cli_ctx *ctx, unsigned keep, const hb_rotate_result *rr)
{
    for (size_t i = 0; i < rr->removed.n; i++)
        cli_say(ctx, "Removed old backup '%s' (keeping the %u newest)", rr->removed.items[i],
                keep);
    for (size_t i = 0; i < rr->invalid.n; i++)
        out_warning(ctx, "'%s' is not a valid backup of this system (incomplete, damaged or "
                    "signed by another key); rotation left it alone", rr->invalid.items[i]);
}

/* "a,b,c" -> array of pointers into a copy of the string. */
static hb_status split_names(cli_ctx *ctx, const char *list, char **copy, const char ***names,
                             size_t *n)
{
    *copy = strdup(list);
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    *names = calloc(cap, sizeof **names);
    if (*copy == NULL || *names == NULL)
        return hb_fail(&ctx->err, HB_E_INTERNAL, "out of memory");
    *n = 0;
    for (char *tok = *copy, *next; tok != NULL; tok = next) {
        next = strchr(tok, ',');
        if (next != NULL)
            *next++ = '\0';
        if (*tok == '\0')
            return cli_usage(ctx, &cli_spec_secure_backup, "empty certificate name in '%s'",
                             list);
        (*names)[(*n)++] = tok;
    }
    return HB_OK;
}

enum { O_COMPRESSION = 1, O_JOBS, O_KEEP, O_LOCK, O_RETAIN };

/* For an sftp:// DEST (docs/remote.md). */
enum { O_SSH_IDENTITY = 100, O_SSH_KNOWN_HOSTS };

static const cli_option options[] = {
    {O_COMPRESSION, "compression", "zstd|gzip|none", "compression inside each archive", "zstd",
     0},
    {O_JOBS, "jobs", "N", "archive workers", "the number of online CPUs", 0},
    {O_KEEP, "keep", "N",
     "then keep the N newest valid backups whose names match the dated DEST and remove "
     "the older ones", "$HSMBAK_KEEP when DEST is dated, else keep every backup", 0},
    {O_SSH_IDENTITY, "ssh-identity", "PATH", "private key to log in with, for an sftp:// "
     "DEST (readable by its owner only)", "~/.ssh/id_ed25519, then ~/.ssh/id_rsa", 0},
    {O_SSH_KNOWN_HOSTS, "ssh-known-hosts", "PATH", "the known hosts file the server's key "
     "must be in, for an sftp:// DEST", "~/.ssh/known_hosts", 0},
    CLI_S3_OPTIONS("DEST"),
    {O_LOCK, "lock", "compliance|governance", "S3 Object Lock on every object of the backup "
     "(the bucket must have Object Lock enabled); needs --retain", "no lock", 0},
    {O_RETAIN, "retain", "DAYS", "with --lock: the objects cannot be deleted or replaced for "
     "DAYS days", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand operands[] = {
    {"[CERT[,CERT...]]", "certificate objects, enrolled recipients or quorum groups to "
                         "encrypt to (default: every active enrollment and quorum group)"},
    {"DEST", "a new or empty directory: temporary:///NAME, a path or "
             "sftp://[USER@]HOST[:PORT]/PATH or s3://BUCKET/PREFIX; {date} in its last component becomes the "
             "backup's UTC time"},
    {NULL, NULL},
};

static hb_status run_backup(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_secure_backup = {
    .cmd = "secure-backup",
    .purpose = "Back up the system: encrypted archives, signed",
    .operands = operands,
    .options = options,
    .min_operands = 1,
    .max_operands = 2,
    .run = run_backup,
    .details = "Valid, for --keep: the manifest verifies, it is signed with the same "
               "certificate as the new backup and every file it lists is there. Anything "
               "else is never removed, only reported; the new backup is never removed.",
};

/* --keep N, or $HSMBAK_KEEP for a dated destination (the scheduled unit's
 * setting, so that leaving it out of the configuration keeps everything). */
static hb_status parse_keep(cli_ctx *ctx, const cli_args *a, const char *dest, unsigned *keep)
{
    const char *v = cli_get(a, O_KEEP), *what = "--keep";
    const char *env = getenv("HSMBAK_KEEP");
    if (v == NULL && env != NULL && *env != '\0' && strstr(dest, HB_DATE_PLACEHOLDER) != NULL) {
        v = env;
        what = "HSMBAK_KEEP";
    }
    if (v == NULL)
        return HB_OK;
    return cli_parse_number(ctx, what, v, 100000, keep);
}

/* Options and operands into req; the recipient list in *copy / *names. */
static hb_status parse_args(cli_ctx *ctx, const cli_args *a, hb_backup_request *req,
                            char **copy, const char ***names)
{
    hb_status st = HB_OK;
    const char *v;
    if ((v = cli_get(a, O_COMPRESSION)) != NULL)
        st = hb_compression_from_name(v, &req->compression, &ctx->err);
    if (st == HB_OK && (v = cli_get(a, O_JOBS)) != NULL)
        st = cli_parse_number(ctx, "--jobs", v, 256, &req->jobs);
    if (st != HB_OK)
        return st;
    req->dest = a->operands[a->n_operands - 1];
    req->ssh_identity = cli_get(a, O_SSH_IDENTITY);
    req->ssh_known_hosts = cli_get(a, O_SSH_KNOWN_HOSTS);
    cli_s3_options(a, &req->s3);
    req->s3.lock_mode = cli_get(a, O_LOCK);
    if (st == HB_OK && (v = cli_get(a, O_RETAIN)) != NULL)
        st = cli_parse_number(ctx, "--retain", v, 36500, &req->s3.retain_days);
    if (st != HB_OK)
        return st;
    st = parse_keep(ctx, a, req->dest, &req->keep);
    if (st == HB_OK && a->n_operands == 2) {
        st = split_names(ctx, a->operands[0], copy, names, &req->n_recipients);
        req->recipients = *names;
    }
    return st;
}

static hb_status run_backup(cli_ctx *ctx, const cli_args *a)
{
    hb_backup_request req = {.compression = HB_COMPRESSION_ZSTD};
    hb_backup_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    char *copy = NULL;
    const char **names = NULL;
    backup_watch watch = {.ctx = ctx};
    const char *root;
    hb_status st = HB_OK;
    HB_TRY(parse_args(ctx, a, &req, &copy, &names));
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    watch.progress = progress_new(ctx, "secure-backup");
    req.progress = on_progress;
    req.progress_ctx = &watch;
    st = hb_secure_backup(sys, p, &req, &res, &ctx->err);
    progress_free(watch.progress);
    watch.progress = NULL;
    if (res.manifest == NULL)
        goto cleanup; /* the backup is not there: only the error to say */
    if (res.stale_partials_removed)
        out_warning(ctx, "secure-backup: removed %u partial backup(s) left by an interrupted run",
                    res.stale_partials_removed);
    for (size_t i = 0; i < res.warnings.n; i++)
        out_warning(ctx, "%s", res.warnings.items[i]);
    out_int(out_record(ctx), "self_checked", res.self_checked);
    if (res.self_checked)
        cli_say(ctx, "Self-check: %u recipient key(s) on this system's tokens opened the backup.",
                res.self_checked);
    cli_say(ctx, "Secure backup is complete.");
    describe_backup(out_record(ctx), &req, &res);
    if (out_text(ctx))
        print_summary(out_record(ctx), SUMMARY_FILES | SUMMARY_EXCLUDED | SUMMARY_TOTAL);
    say_rotation(ctx, req.keep, &res.rotation);
cleanup:
    progress_free(watch.progress);
    hb_backup_result_free(&res);
    hb_system_close(sys);
    free(copy);
    free(names);
    return st;
}
