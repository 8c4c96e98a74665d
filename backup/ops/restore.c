/* secure-restore and its --validate (DESIGN §5, §7), as a sequence of
 * stages, each in the room it belongs to:
 *
 *   open the manifest and verify its signature     backup_dir.c  "signature"
 *   trust its signer                               trust.c       "signer-trust"
 *   preconditions: version, profile, factory state system/       "version" ...
 *   choose the credentials that open it            custody/credentials.c
 *                                                                "idcred", "recipient"
 *   check every file's size and SHA-256            backup_dir.c  "files"
 *   not older than what this system knows          system/sequence.c  "rollback"
 *   unwrap each archive key, decrypt, decompress,
 *   and walk (validate) or extract (restore)       format/archive.c  "archive" each
 *   swap the new root in with one rename           system/restore_staging.c  "swap"
 *   post-restore command and next steps            system/post_restore.c
 *
 * Nothing is trusted before the signature verifies and its signer is
 * trusted; no key is touched before the preconditions hold; a restore builds
 * the new root in a staging directory, so the system is the old tree or the
 * new one, never a mix. Each stage marks its checks in the result's report;
 * the first check still pending when a stage fails is the one that failed. */
#include "hsmbak/backup.h"

#include "backup/custody/credentials.h"
#include "backup/custody/transcript_pin.h"
#include "backup/format/archive.h"
#include "backup/ops/audit.h"
#include "backup/ops/backup_dir.h"
#include "backup/ops/checks.h"
#include "backup/ops/trust.h"
#include "backup/storage/storage.h"
#include "backup/system/post_restore.h"
#include "backup/system/preconditions.h"
#include "backup/system/restore_staging.h"
#include "backup/system/sequence.h"
#include "backup/system/system.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fault.h"
#include "common/fileio.h"
#include "common/x509.h"
#include "hsmbak/url.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The checks of a restore, in the order the stages make them; "archive"
 * checks (one per file) go in before "swap" once the files are known. */
static const char *const restore_checks[] = {
    "signature", "signer-trust", "version", "profile", "factory-state",
    "idcred", "recipient", "files", "rollback", "swap",
};

typedef struct restore_run {
    hb_system *sys;
    hb_provider *p;
    const hb_restore_request *req;
    hb_restore_result *res;
    char src[PATH_MAX];            /* the backup directory (or its sftp:// URL) */
    hb_store *in;                  /* ...which the files are read through */
    hb_manifest *m;
    X509 *signer;
    hb_object_store *store;
    hb_credentials *cred;
    hb_restore_staging *staging;   /* restore only */
    /* Archives are read by a pool of threads (read_archives): `say` guards
     * the progress callback and the result, `token` the provider (one
     * token operation at a time, as the serial path did). */
    pthread_mutex_t say, token;
} restore_run;

/* A check passed: in the report, and as a "check" progress event. */
static void passed(restore_run *r, const char *check)
{
    pthread_mutex_lock(&r->say);
    hb_checks_pass(&r->res->checks, check, NULL);
    if (r->req->progress)
        r->req->progress(r->req->progress_ctx, "check", check, 0);
    pthread_mutex_unlock(&r->say);
}

static void progress(restore_run *r, const char *event, const char *name, uint64_t n)
{
    pthread_mutex_lock(&r->say);
    if (r->req->progress)
        r->req->progress(r->req->progress_ctx, event, name, n);
    pthread_mutex_unlock(&r->say);
}

/* hb_bytes_fn: encrypted bytes read, forwarded to the request's callback. */
static void forward_bytes(void *ctx, const char *name, uint64_t n)
{
    progress(ctx, "bytes", name, n);
}

/* Every check, not run yet; validate leaves the system alone. */
static hb_status plan_checks(hb_check_report *report, bool validate, hb_err *err)
{
    for (size_t i = 0; i < sizeof restore_checks / sizeof restore_checks[0]; i++) {
        const char *c = restore_checks[i];
        bool touches_system = strcmp(c, "factory-state") == 0 || strcmp(c, "swap") == 0;
        hb_status st = hb_checks_add(report, c, NULL,
                                     validate && touches_system ? HB_CHECK_SKIPPED
                                                                : HB_CHECK_NOT_RUN, err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* ---- the stages ------------------------------------------------------------ */

static hb_status open_manifest(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_remote remote = {.ssh_identity = r->req->ssh_identity,
                              .ssh_known_hosts = r->req->ssh_known_hosts,
                              .s3 = r->req->s3};
    HB_TRY(hb_system_clean_leftovers(r->sys->root, &r->res->leftovers_cleaned, err));
    if (hb_store_is_remote(r->req->source))
        HB_TRY(hb_format(r->src, sizeof r->src, "source", err, "%s", r->req->source));
    else
        HB_TRY(hb_url_resolve(r->sys->root, r->req->source, r->src, sizeof r->src, err));
    /* The archives stream from the backup's store (backup/storage/). */
    HB_TRY(hb_store_open(r->src, r->req->source, &remote, &r->in, err));
    if (hb_store_is_remote(r->src))
        HB_TRY(hb_backup_store_manifest(r->in, r->req->source, &r->m, &r->signer, err));
    else
        HB_TRY(hb_backup_dir_manifest(r->src, r->req->source, &r->m, &r->signer, err));
    passed(r, "signature");
cleanup:
    return st;
}

static hb_status trust_signer(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    char fp[65];
    /* Who signed it is reported whether or not it is trusted. */
    HB_TRY(hb_x509_subject_rfc2253(r->signer, &r->res->signer_subject, err));
    HB_TRY(hb_x509_fingerprint(r->signer, fp, err));
    memcpy(r->res->signer_fingerprint, fp, sizeof fp);
    HB_TRY(hb_objects_load(r->sys->root, &r->store, err));
    HB_TRY(hb_trust_signer(r->store, r->p, r->req->signer, r->signer, err));
    passed(r, "signer-trust");
cleanup:
    return st;
}

/* The backup against the newest one this system made or restored
 * (docs/reliability.md "Rollback"): an older one (a manifest without a
 * sequence counts as 0) is refused unless the request allows it; a
 * validate reports it and goes on. Only a signed, trusted sequence is
 * compared; it comes after the backup's integrity (a broken backup is
 * reported as broken, not as an old one to force through) and before any
 * archive is decrypted or anything is written. */
static hb_status check_rollback(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sequence_state s;
    hb_restore_history *h = &r->res->history;
    const hb_manifest *m = r->m;
    char what[1024], seq[64];
    HB_TRY(hb_sequence_load(r->sys, &s, err));
    h->newest = s.newest;
    memcpy(h->newest_id, s.newest_id, sizeof h->newest_id);
    memcpy(h->newest_created, s.newest_created, sizeof h->newest_created);
    memcpy(h->newest_how, s.newest_how, sizeof h->newest_how);
    if (s.newest == 0 || m->sequence >= s.newest) {
        passed(r, "rollback");
        goto cleanup;
    }
    h->rollback = true;
    if (m->sequence > 0)
        HB_TRY(hb_format(seq, sizeof seq, "a message", err, "sequence %llu, ",
                         (unsigned long long)m->sequence));
    else
        seq[0] = '\0';
    HB_TRY(hb_format(what, sizeof what, "a message", err, "backup '%s' (%screated %s) %s "
                     "backup '%s' (sequence %llu, created %s) that this system %s", m->id, seq,
                     m->created, m->sequence > 0 ? "is older than"
                                                 : "has no sequence number (an older hsmbak "
                                                   "made it), so it cannot be shown newer than",
                     s.newest_id, (unsigned long long)s.newest, s.newest_created,
                     s.newest_how));
    if (!r->req->validate_only && !r->req->allow_rollback) {
        HB_ALLOC(h->message = strdup(what));
        HB_FAIL(HB_E_REFUSED, "%s; restore it with --allow-rollback if you mean to roll back",
                what);
    }
    HB_TRY(hb_format(what + strlen(what), sizeof what - strlen(what), "a message", err, "; %s",
                     r->req->validate_only ? "restoring it needs --allow-rollback"
                                           : "restored as --allow-rollback asks"));
    HB_ALLOC(h->message = strdup(what));
    HB_TRY(hb_checks_warn(&r->res->checks, "rollback", what, err));
    if (r->req->progress)
        r->req->progress(r->req->progress_ctx, "check", "rollback", 0);
cleanup:
    return st;
}

/* Before any key is touched: the same version and profile, and for a
 * restore a factory-reset system. */
static hb_status check_preconditions(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(hb_system_check_version(r->sys, r->m, err));
    passed(r, "version");
    HB_TRY(hb_system_check_profile(r->sys, r->m, err));
    passed(r, "profile");
    if (!r->req->validate_only) {
        HB_TRY(hb_system_check_factory_state(r->sys, err));
        passed(r, "factory-state");
    }
cleanup:
    return st;
}

static hb_status choose_credentials(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_restore_request *req = r->req;
    const char *const *names = req->n_idcreds ? req->idcreds : &req->idcred;
    size_t n = req->n_idcreds ? req->n_idcreds : 1;
    HB_TRY(hb_credentials_open(r->store, r->p, r->m, names, n, req->insert_token,
                               req->insert_ctx, &r->cred, err));
    /* A quorum share left out (docs/custody.md "Restore with several
     * idcreds"): the check passed, with the finding. */
    if (hb_credentials_bad_shares(r->cred) != NULL)
        HB_TRY(hb_checks_warn(&r->res->checks, "idcred", hb_credentials_bad_shares(r->cred),
                              err));
    passed(r, "idcred");
    HB_TRY(hb_credentials_check_recipient(r->cred, r->m, err));
    passed(r, "recipient");
cleanup:
    return st;
}

static hb_status check_files(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    uint64_t total = 0;
    if (hb_store_is_remote(r->src))
        HB_TRY(hb_backup_store_check_files(r->in, r->m, r->sys->profile, err));
    else
        HB_TRY(hb_backup_dir_check_files(r->src, r->m, r->sys->profile, err));
    passed(r, "files");
    for (size_t i = 0; i < r->m->n_files; i++) {
        const hb_manifest_file *f = &r->m->files[i];
        HB_TRY(hb_checks_insert(&r->res->checks, "swap", "archive", f->name, err));
        total += f->size;
        progress(r, "scheduled", f->name, 0);
    }
    progress(r, "total", NULL, total);
cleanup:
    return st;
}

static hb_status same_bytes(const hb_manifest_file *f, const char *file,
                           const hb_archive_info *info, hb_err *err)
{
    if (info->file_size != f->size ||
        CRYPTO_memcmp(info->sha256_hex, f->sha256, sizeof f->sha256) != 0)
        return hb_fail(err, HB_E_VERIFY, "archive '%s': the file read from '%s' (%llu bytes, "
                       "SHA-256 %s) is not the one the signed manifest lists (%llu bytes, "
                       "SHA-256 %s): it was replaced while the backup was being read; nothing "
                       "was restored", f->name, file, (unsigned long long)info->file_size,
                       info->sha256_hex, (unsigned long long)f->size, f->sha256);
    return HB_OK;
}

/* One archive: its key unwrapped, then walked or extracted into staging. */
static hb_status read_archive(restore_run *r, const hb_manifest_file *f,
                              const hb_archive_limits *limits, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t dek[HB_DEK_LEN];
    char file[PATH_MAX], dir[PATH_MAX];
    hb_store_reader *in = NULL;
    hb_archive_spec spec = {.backup_id = r->m->id, .name = f->name};
    hb_archive_info info;
    hb_archive_limits lim = *limits;
    hb_strlist resets = {0};
    const char **no_links = NULL; /* resets.items, NULL-terminated */
    const hb_profile_resource *res = hb_profile_find_resource(r->sys->profile, f->name);
    bool validate = r->req->validate_only;
    progress(r, validate ? "validating" : "restoring", f->name, f->size);
    if (r->req->progress) {
        spec.on_bytes = forward_bytes;
        spec.on_bytes_ctx = r;
    }
    HB_TRY(hb_compression_from_name(f->compression, &spec.compression, err));
    HB_TRY(hb_path_join(file, sizeof file, r->src, f->filename, err));
    /* The reset files are written after extraction: validate refuses a
     * link on the way to one just as the restore does (class 1). */
    HB_TRY(hb_profile_resets_in(r->sys->profile, f->name, &resets, err));
    if (resets.n > 0) {
        HB_ALLOC(no_links = calloc(resets.n + 1, sizeof *no_links));
        for (size_t i = 0; i < resets.n; i++)
            no_links[i] = resets.items[i];
        lim.no_links = no_links;
        lim.no_links_shown = res != NULL ? res->path : f->name;
    }
    pthread_mutex_lock(&r->token);
    st = hb_credentials_file_key(r->cred, r->p, f, dek, err);
    pthread_mutex_unlock(&r->token);
    if (st != HB_OK)
        goto cleanup;
    hb_fault_swap("restore-swap-archive", file);
    st = hb_store_get(r->in, f->filename, &in, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "archive '%s'", f->name);
        goto cleanup;
    }
    if (validate) {
        HB_TRY(hb_archive_walk_from(hb_store_read, in, file, &spec, dek, &lim, &info, err));
    } else {
        HB_TRY(hb_restore_staging_dir(r->staging, f->name, dir, sizeof dir, err));
        HB_TRY(hb_archive_extract_from(hb_store_read, in, file, &spec, dek, dir, &lim,
                                       &info, err));
        hb_fault_point("restore-during-extract");
    }
    /* What was decrypted is what the signer signed: the size and SHA-256
     * of the very descriptor read, against the signed manifest, before
     * anything is counted as restored (the staging tree is swapped in only
     * after every archive passed). The check of the files before (by path)
     * does not cover a file swapped in between. */
    HB_TRY(same_bytes(f, file, &info, err));
    pthread_mutex_lock(&r->say);
    r->res->entries += info.entries;
    r->res->expanded_bytes += info.expanded_bytes;
    hb_checks_pass(&r->res->checks, "archive", f->name);
    if (r->req->progress)
        r->req->progress(r->req->progress_ctx, "complete", f->name, f->size);
    pthread_mutex_unlock(&r->say);
cleanup:
    free(no_links);
    hb_strlist_free(&resets);
    hb_store_reader_free(in);
    OPENSSL_cleanse(dek, sizeof dek);
    return st;
}

/* The archives of one backup, read by a pool of threads (issue 16): jobs
 * are taken in manifest order; after a failure no further job starts, the
 * ones running finish, and the failure of the lowest index is the one
 * reported, so the outcome and its message are those of the serial loop
 * (every archive before it passed). Locking: `next`, `failed_at` and
 * `first` are guarded by `lock`. */
typedef struct archive_pool {
    restore_run *r;
    const hb_archive_limits *limits;
    pthread_mutex_t lock;
    size_t next;
    size_t failed_at;  /* n_files while none failed */
    hb_err first;
} archive_pool;

static void *archive_worker(void *arg)
{
    archive_pool *pool = arg;
    size_t n = pool->r->m->n_files;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        size_t i = pool->next;
        bool go = i < n && i < pool->failed_at;
        if (go)
            pool->next++;
        pthread_mutex_unlock(&pool->lock);
        if (!go)
            break;
        hb_err e = {0};
        if (read_archive(pool->r, &pool->r->m->files[i], pool->limits, &e) != HB_OK) {
            pthread_mutex_lock(&pool->lock);
            if (i < pool->failed_at) {
                pool->failed_at = i;
                pool->first = e;
            }
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

/* HSMBAK_READ_WORKERS: how many archives are read at once; unset or 0, one
 * per online CPU. A remote store is one connection: one at a time. */
static unsigned read_workers(const restore_run *r)
{
    const char *env = getenv("HSMBAK_READ_WORKERS");
    char *end = NULL;
    unsigned long n = env != NULL ? strtoul(env, &end, 10) : 0;
    if (env == NULL || end == env || *end != '\0' || n > 64)
        n = 0;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (unsigned long)cpus : 1;
    }
    if (hb_store_is_remote(r->src))
        n = 1;
    if (n > r->m->n_files)
        n = r->m->n_files;
    return (unsigned)n;
}

static hb_status read_archives(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    hb_archive_limits limits;
    archive_pool pool = {.r = r, .limits = &limits, .failed_at = r->m->n_files};
    pthread_t tids[64];
    unsigned started = 0, workers = read_workers(r);
    bool locked = false;
    hb_archive_limits_default(&limits);
    if (r->req->max_size)
        limits.max_expanded_bytes = r->req->max_size;
    if (!r->req->validate_only)
        HB_TRY(hb_restore_staging_open(r->sys, r->m, &r->staging, err));
    if (workers <= 1) {
        for (size_t i = 0; i < r->m->n_files; i++)
            HB_TRY(read_archive(r, &r->m->files[i], &limits, err));
        goto cleanup;
    }
    HB_ENSURE(pthread_mutex_init(&pool.lock, NULL) == 0, HB_E_INTERNAL, "cannot create a mutex");
    locked = true;
    for (; started < workers; started++)
        if (pthread_create(&tids[started], NULL, archive_worker, &pool) != 0)
            break; /* run with the threads we have */
    if (started == 0)
        archive_worker(&pool);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (pool.failed_at < r->m->n_files) {
        if (err != NULL)
            *err = pool.first;
        st = pool.first.status;
    }
cleanup:
    if (locked)
        pthread_mutex_destroy(&pool.lock);
    return st;
}

/* The restored backup becomes the newest this system knows (when it is
 * newer), recorded just before the swap: in .hsmbak/, which the swap carries
 * over, so the new root has it. A crash or a failed swap after this can
 * only make the system stricter (the backup counts as known though it was
 * not swapped in: restoring it again works, one older needs
 * --allow-rollback), never let an older backup through unasked. */
static hb_status swap_in(restore_run *r, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(hb_sequence_record(r->sys, r->m->sequence, r->m->id, r->m->created, "restored",
                              err));
    /* Likewise the transcript's head: the restored config's transcript is
     * the backup's, so its pin becomes the system's (also on a rollback). */
    HB_TRY(hb_transcript_pin_record_backup(r->sys->root, r->m, "restored", err));
    HB_TRY(hb_restore_staging_swap(r->staging, err));
    passed(r, "swap");
cleanup:
    return st;
}

/* ---- the sequence ------------------------------------------------------------ */

hb_status hb_secure_restore(hb_system *sys, hb_provider *p, const hb_restore_request *req,
                            hb_restore_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    restore_run r = {.sys = sys, .p = p, .req = req, .res = res,
                     .say = PTHREAD_MUTEX_INITIALIZER, .token = PTHREAD_MUTEX_INITIALIZER};
    memset(res, 0, sizeof *res);
    res->post_restore_status = -1;
    HB_TRY(plan_checks(&res->checks, req->validate_only, err));
    HB_TRY(open_manifest(&r, err));
    HB_TRY(trust_signer(&r, err));
    HB_TRY(check_preconditions(&r, err));
    HB_TRY(choose_credentials(&r, err));
    HB_TRY(check_files(&r, err));
    HB_TRY(check_rollback(&r, err));
    HB_TRY(read_archives(&r, err));
    if (!req->validate_only) {
        HB_TRY(swap_in(&r, err));
        HB_TRY(hb_system_post_restore(sys, r.m, &res->post_restore_status, &res->next_steps,
                                      err));
        res->restarts = sys->profile->post_restore_restarts && res->post_restore_status == 0;
    }
    res->manifest = r.m;
    r.m = NULL;
cleanup:
    if (st != HB_OK)
        hb_checks_fail_pending(&res->checks, err);
    hb_audit_backup_op(req->validate_only ? "validate" : "secure-restore", st, err,
                       req->source, r.m != NULL ? r.m : res->manifest, r.signer, req->idcred);
    hb_restore_staging_free(r.staging);
    hb_store_free(r.in);
    hb_credentials_free(r.cred);
    X509_free(r.signer);
    hb_manifest_free(r.m);
    hb_objects_free(r.store);
    return st;
}

void hb_restore_result_free(hb_restore_result *res)
{
    if (res == NULL)
        return;
    hb_manifest_free(res->manifest);
    res->manifest = NULL;
    free(res->signer_subject);
    res->signer_subject = NULL;
    hb_strlist_free(&res->next_steps);
    hb_check_report_free(&res->checks);
    free(res->history.message);
    res->history.message = NULL;
}
