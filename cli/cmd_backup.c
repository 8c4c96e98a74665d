/* hsmbak secure-backup [CERT[,CERT...]] DEST */
#include "cli.h"
#include "output.h"
#include "progress.h"

#include "hsmbak/backup.h"
#include "hsmbak/rotate.h"
#include "hsmbak/url.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The result as --json: id, files, sizes, checksums, recipients. */
static void json_backup(cli_ctx *ctx, const hb_backup_result *res)
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
}

static hb_status parse_keep(cli_ctx *ctx, const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > 100000)
        return CLI_USAGE_ERROR(ctx, "--keep must be a number from 1 to 100000");
    *out = (unsigned)v;
    return HB_OK;
}

/* --keep N: rotate the dated backups beside the new one (include/hsmbak/rotate.h). */
static hb_status rotate(cli_ctx *ctx, const char *root, const char *pattern, unsigned keep,
                        const char *newest)
{
    char resolved[PATH_MAX];
    hb_rotate_result rr;
    hb_status st = hb_url_resolve(root, pattern, resolved, sizeof resolved, &ctx->err);
    if (st != HB_OK)
        return st;
    st = hb_rotate(resolved, newest, keep, &rr, &ctx->err);
    json_t *j = out_object(out_result(ctx), "rotation");
    out_u64(j, "keep", keep);
    out_u64(j, "kept", rr.kept);
    json_t *removed = out_array(j, "removed"), *invalid = out_array(j, "invalid");
    for (size_t i = 0; i < rr.n_removed; i++) {
        out_push_str(removed, rr.removed[i]);
        cli_say(ctx, "Removed old backup '%s' (keeping the %u newest)", rr.removed[i], keep);
    }
    for (size_t i = 0; i < rr.n_invalid; i++) {
        out_push_str(invalid, rr.invalid[i]);
        out_warning(ctx, "'%s' is not a valid backup of this system (incomplete, damaged or "
                    "signed by another key); rotation left it alone", rr.invalid[i]);
    }
    hb_rotate_result_free(&rr);
    return st;
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

hb_status cmd_secure_backup(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"compression", required_argument, NULL, 'c'},
        {"jobs", required_argument, NULL, 'j'},
        {"keep", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    hb_backup_request req = {.compression = HB_COMPRESSION_ZSTD};
    hb_backup_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    char *copy = NULL;
    const char **names = NULL;
    cli_progress *progress = NULL;
    unsigned keep = 0;
    const char *pattern = NULL;
    char dest[PATH_MAX];
    hb_status st = HB_OK;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c') {
            HB_TRY(hb_compression_from_name(optarg, &req.compression, &ctx->err));
        } else if (c == 'j') {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v == 0 || v > 256) {
                st = CLI_USAGE_ERROR(ctx, "--jobs must be a number from 1 to 256");
                goto cleanup;
            }
            req.jobs = (unsigned)v;
        } else if (c == 'k') {
            HB_TRY(parse_keep(ctx, optarg, &keep));
        } else {
            st = CLI_USAGE_ERROR(ctx, "usage: hsmbak secure-backup [CERT[,CERT...]] DEST "
                                      "[--compression zstd|gzip|none] [--jobs N] [--keep N]");
            goto cleanup;
        }
    }
    if (argc - optind == 2) {
        HB_TRY(split_names(ctx, argv[optind], &copy, &names, &req.n_recipients));
        req.recipients = names;
        req.dest = argv[optind + 1];
    } else if (argc - optind == 1) {
        req.dest = argv[optind];
    } else {
        st = CLI_USAGE_ERROR(ctx, "usage: hsmbak secure-backup [CERT[,CERT...]] DEST "
                                  "[--compression zstd|gzip|none] [--jobs N] [--keep N]");
        goto cleanup;
    }
    /* DEST may hold {date} (scheduled backups); --keep rotates those. */
    pattern = req.dest;
    HB_TRY(hb_dest_expand(pattern, time(NULL), dest, sizeof dest, &ctx->err));
    req.dest = dest;
    if (keep > 0 && strstr(pattern, HB_DATE_PLACEHOLDER) == NULL) {
        st = CLI_USAGE_ERROR(ctx, "--keep needs a dated destination such as "
                             "/var/backups/hsmbak/NAME/backup-%s", HB_DATE_PLACEHOLDER);
        goto cleanup;
    }
    progress = progress_new(ctx, "secure-backup");
    req.progress = progress_event;
    req.progress_ctx = progress;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    cli_say(ctx, "Secure backup to '%s' scheduled (may take a few minutes to complete).",
            req.dest);
    st = hb_secure_backup(sys, p, &req, &res, &ctx->err);
    progress_free(progress);
    progress = NULL;
    if (st != HB_OK)
        goto cleanup;
    if (res.stale_partials_removed)
        out_warning(ctx, "secure-backup: removed %u partial backup(s) left by an interrupted run",
                    res.stale_partials_removed);
    for (size_t i = 0; i < res.warnings.n; i++)
        out_warning(ctx, "%s", res.warnings.items[i]);
    cli_say(ctx, "Secure backup is complete.");
    json_backup(ctx, &res);
    if (out_text(ctx)) {
        const hb_manifest *m = res.manifest;
        uint64_t total = 0;
        printf("\n backup id   %s\n created     %s\n version     %s (%s profile)\n", hb_manifest_id(m),
               hb_manifest_created(m), hb_manifest_version(m), hb_manifest_profile(m));
        for (size_t i = 0; i < hb_manifest_n_recipients(m); i++)
            printf(" recipient   %s (%s, SHA-256 %s)\n", hb_manifest_recipient_at(m, i)->subject,
                   hb_manifest_recipient_at(m, i)->key_wrap, hb_manifest_recipient_at(m, i)->fingerprint);
        for (size_t i = 0; i < hb_manifest_n_quorums(m); i++)
            printf(" quorum      %s: any %u of %zu members together\n", hb_manifest_quorum_at(m, i)->name,
                   hb_manifest_quorum_at(m, i)->threshold, hb_manifest_quorum_at(m, i)->n_members);
        for (size_t i = 0; i < hb_manifest_n_files(m); i++) {
            printf(" file        %-22s %10llu bytes\n", hb_manifest_file_at(m, i)->filename,
                   (unsigned long long)hb_manifest_file_at(m, i)->size);
            total += hb_manifest_file_at(m, i)->size;
        }
        for (size_t i = 0; i < hb_manifest_n_excluded(m); i++)
            printf(" excluded    %s: %s\n", hb_manifest_excluded_at(m, i)->name, hb_manifest_excluded_at(m, i)->reason);
        printf(" total       %zu files, %llu bytes (%llu bytes before compression)\n\n",
               hb_manifest_n_files(m) + 1, (unsigned long long)total, (unsigned long long)res.expanded_bytes);
    }
    if (keep > 0)
        HB_TRY(rotate(ctx, root, pattern, keep, res.dest));
cleanup:
    progress_free(progress);
    hb_backup_result_free(&res);
    hb_system_close(sys);
    free(copy);
    free(names);
    return st;
}
