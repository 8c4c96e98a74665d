/* hsmbak secure-backup [CERT[,CERT...]] DEST [--compression C] [--jobs N] [--keep N] */
#include "cli.h"
#include "output.h"
#include "progress.h"

#include "hsmbak/backup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: hsmbak secure-backup [CERT[,CERT...]] DEST "
                            "[--compression zstd|gzip|none] [--jobs N] [--keep N]";

/* The library's progress events, with the one line said when the backup's
 * destination is known. */
typedef struct backup_watch {
    cli_ctx *ctx;
    cli_progress *progress;
} backup_watch;

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    backup_watch *w = ctx;
    if (strcmp(event, "destination") == 0)
        cli_say(w->ctx, "Secure backup to '%s' scheduled (may take a few minutes to complete).",
                name);
    else
        progress_event(w->progress, event, name, bytes);
}

/* The result as --json: id, files, sizes, checksums, recipients, rotation. */
static void json_backup(cli_ctx *ctx, const hb_backup_request *req, const hb_backup_result *res)
{
    json_t *r = out_result(ctx);
    const hb_manifest *m = res->manifest;
    uint64_t total = 0;
    if (r == NULL)
        return;
    out_str(r, "backup_id", hb_manifest_id(m));
    out_str(r, "created", hb_manifest_created(m));
    out_str(r, "tool", hb_manifest_tool(m));
    out_str(r, "dest", res->dest);
    out_manifest(r, m);
    for (size_t i = 0; i < hb_manifest_n_files(m); i++)
        total += hb_manifest_file_at(m, i)->size;
    json_t *ex = out_array(r, "excluded");
    for (size_t i = 0; i < hb_manifest_n_excluded(m); i++) {
        json_t *o = out_push_object(ex);
        out_str(o, "name", hb_manifest_excluded_at(m, i)->name);
        out_str(o, "reason", hb_manifest_excluded_at(m, i)->reason);
    }
    out_u64(r, "archive_bytes", total);
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

/* What the backup is, for the operator. */
static void print_backup(const hb_backup_result *res)
{
    const hb_manifest *m = res->manifest;
    uint64_t total = 0;
    printf("\n backup id   %s\n created     %s\n version     %s (%s profile)\n",
           hb_manifest_id(m), hb_manifest_created(m), hb_manifest_version(m),
           hb_manifest_profile(m));
    for (size_t i = 0; i < hb_manifest_n_recipients(m); i++) {
        const hb_manifest_recipient *r = hb_manifest_recipient_at(m, i);
        printf(" recipient   %s (%s, SHA-256 %s)\n", r->subject, r->key_wrap, r->fingerprint);
    }
    for (size_t i = 0; i < hb_manifest_n_quorums(m); i++) {
        const hb_manifest_quorum *q = hb_manifest_quorum_at(m, i);
        printf(" quorum      %s: any %u of %zu members together\n", q->name, q->threshold,
               q->n_members);
    }
    for (size_t i = 0; i < hb_manifest_n_files(m); i++) {
        const hb_manifest_file *f = hb_manifest_file_at(m, i);
        printf(" file        %-22s %10llu bytes\n", f->filename, (unsigned long long)f->size);
        total += f->size;
    }
    for (size_t i = 0; i < hb_manifest_n_excluded(m); i++)
        printf(" excluded    %s: %s\n", hb_manifest_excluded_at(m, i)->name,
               hb_manifest_excluded_at(m, i)->reason);
    printf(" total       %zu files, %llu bytes (%llu bytes before compression)\n\n",
           hb_manifest_n_files(m) + 1, (unsigned long long)total,
           (unsigned long long)res->expanded_bytes);
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

static hb_status parse_number(cli_ctx *ctx, const char *s, unsigned long max, const char *what,
                              unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > max)
        return CLI_USAGE_ERROR(ctx, "%s must be a number from 1 to %lu", what, max);
    *out = (unsigned)v;
    return HB_OK;
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
            return CLI_USAGE_ERROR(ctx, "empty certificate name in '%s'", list);
        (*names)[(*n)++] = tok;
    }
    return HB_OK;
}

/* Options and operands into req; the recipient list in *copy / *names. */
static hb_status parse_args(cli_ctx *ctx, int argc, char **argv, hb_backup_request *req,
                            char **copy, const char ***names)
{
    static const struct option opts[] = {
        {"compression", required_argument, NULL, 'c'},
        {"jobs", required_argument, NULL, 'j'},
        {"keep", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    hb_status st = HB_OK;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1 && st == HB_OK) {
        if (c == 'c')
            st = hb_compression_from_name(optarg, &req->compression, &ctx->err);
        else if (c == 'j')
            st = parse_number(ctx, optarg, 256, "--jobs", &req->jobs);
        else if (c == 'k')
            st = parse_number(ctx, optarg, 100000, "--keep", &req->keep);
        else
            st = CLI_USAGE_ERROR(ctx, "%s", usage);
    }
    if (st != HB_OK)
        return st;
    if (argc - optind == 2) {
        req->dest = argv[optind + 1];
        st = split_names(ctx, argv[optind], copy, names, &req->n_recipients);
        req->recipients = *names;
        return st;
    }
    if (argc - optind != 1)
        return CLI_USAGE_ERROR(ctx, "%s", usage);
    req->dest = argv[optind];
    return HB_OK;
}

hb_status cmd_secure_backup(cli_ctx *ctx, int argc, char **argv)
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
    HB_TRY(parse_args(ctx, argc, argv, &req, &copy, &names));
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
    cli_say(ctx, "Secure backup is complete.");
    json_backup(ctx, &req, &res);
    if (out_text(ctx))
        print_backup(&res);
    say_rotation(ctx, req.keep, &res.rotation);
cleanup:
    progress_free(watch.progress);
    hb_backup_result_free(&res);
    hb_system_close(sys);
    free(copy);
    free(names);
    return st;
}
