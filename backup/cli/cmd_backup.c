/* hsmbak secure-backup [CERT[,CERT...]] DEST */
#include "cli.h"

#include "hsmbak/backup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_progress(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    cli_ctx *c = ctx;
    if (c->verbose)
        fprintf(stderr, "secure-backup: %s %s (%llu bytes)\n", event, name,
                (unsigned long long)bytes);
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
        {NULL, 0, NULL, 0},
    };
    hb_backup_request req = {.compression = HB_COMPRESSION_ZSTD};
    hb_backup_result res = {0};
    hb_system *sys = NULL;
    hb_provider *p = NULL;
    char *copy = NULL;
    const char **names = NULL;
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
        } else {
            st = CLI_USAGE_ERROR(ctx, "usage: hsmbak secure-backup [CERT[,CERT...]] DEST "
                                      "[--compression zstd|gzip|none] [--jobs N]");
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
                                  "[--compression zstd|gzip|none] [--jobs N]");
        goto cleanup;
    }
    req.progress = on_progress;
    req.progress_ctx = ctx;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));
    cli_say(ctx, "Secure backup to '%s' scheduled (may take a few minutes to complete).",
            req.dest);
    HB_TRY(hb_secure_backup(sys, p, &req, &res, &ctx->err));
    if (res.stale_partials_removed)
        fprintf(stderr, "secure-backup: removed %u partial backup(s) left by an interrupted "
                "run\n", res.stale_partials_removed);
    if (res.warnings[0] != '\0')
        fprintf(stderr, "%s\n", res.warnings);
    cli_say(ctx, "Secure backup is complete.");
    if (!ctx->quiet) {
        const hb_manifest *m = res.manifest;
        uint64_t total = 0;
        printf("\n backup id   %s\n created     %s\n version     %s (%s profile)\n", m->id,
               m->created, m->version, m->profile);
        for (size_t i = 0; i < m->n_recipients; i++)
            printf(" recipient   %s (%s, SHA-256 %s)\n", m->recipients[i].subject,
                   m->recipients[i].key_wrap, m->recipients[i].fingerprint);
        for (size_t i = 0; i < m->n_quorums; i++)
            printf(" quorum      %s: any %u of %zu members together\n", m->quorums[i].name,
                   m->quorums[i].threshold, m->quorums[i].n_members);
        for (size_t i = 0; i < m->n_files; i++) {
            printf(" file        %-22s %10llu bytes\n", m->files[i].filename,
                   (unsigned long long)m->files[i].size);
            total += m->files[i].size;
        }
        for (size_t i = 0; i < m->n_excluded; i++)
            printf(" excluded    %s: %s\n", m->excluded[i].name, m->excluded[i].reason);
        printf(" total       %zu files, %llu bytes (%llu bytes before compression)\n\n",
               m->n_files + 1, (unsigned long long)total, (unsigned long long)res.expanded_bytes);
    }
cleanup:
    hb_backup_result_free(&res);
    hb_system_close(sys);
    free(copy);
    free(names);
    return st;
}
