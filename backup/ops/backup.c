/* secure-backup (DESIGN §4, §5, §7), as a sequence of stages:
 *
 *   destination name: {date} expanded, --keep checked
 *   recipients: the set resolved (custody/recipients.c)
 *   signer: the backup-signer idcred on its token (custody/signer.c)
 *   manifest: backup and system identity, recipients and quorum groups
 *   destination: resolved, outside the resources, a hidden partial directory
 *   archives: one per non-empty resource, each with a fresh DEK, in the pool
 *   key wraps: every DEK to every recipient, then wiped
 *   signed manifest: with the system's next sequence (system/sequence.c),
 *           written last, synced
 *   commit: the sequence claimed, the partial directory renamed to its
 *           final name, synced, and recorded as the newest backup made here
 *   rotation (keep): the older dated backups beyond keep removed
 *
 * Every non-empty resource of the profile becomes one encrypted archive; the
 * directory appears under its final name only when everything in it is
 * complete and synced, so a half-written backup never looks complete. */
#include "hsmbak/backup.h"
#include "common/random.h"

#include "backup/custody/objects.h"
#include "backup/custody/quorum.h"
#include "backup/custody/recipients.h"
#include "backup/custody/signer.h"
#include "backup/custody/transcript_pin.h"
#include "backup/custody/wrap.h"
#include "backup/format/archive.h"
#include "backup/ops/audit.h"
#include "backup/storage/storage.h"
#include "backup/system/pathname.h"
#include "backup/system/sequence.h"
#include "backup/system/system.h"
#include "backup/system/tree.h"
#include "common/beneath.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fault.h"
#include "common/fileio.h"
#include "common/x509.h"
#include "hsmbak/url.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A quorum group of this backup: its group key G and manifest id. */
typedef struct group_key {
    uint8_t g[HB_QUORUM_KEY_LEN];
    const char *id;
} group_key;

typedef struct backup_run {
    hb_system *sys;
    hb_provider *p;
    const hb_backup_request *req;
    hb_backup_result *res;
    char dated[PATH_MAX];          /* req->dest with {date} expanded */
    char dest[PATH_MAX];           /* ...resolved to a path */
    hb_store *out;                 /* the destination, once prepared */
    hb_store_writer **writers;     /* per job, until committed */
    hb_object_store *store;
    hb_recipient_set rs;
    const char **single_ids;       /* per rs.singles: its id in the manifest */
    bool *single_labelled;         /* per rs.singles: wrapped with an OAEP label */
    group_key *gk;                 /* per rs.groups; secure heap, wiped */
    hb_signer *signer;
    hb_manifest *m;
    uint64_t transcript_seq;       /* the transcript's head (0: none), checked */
    char transcript_head[65];      /* against the pin before recipients are read */
    hb_archive_job *jobs;          /* src_dir and out_path owned */
    size_t n_jobs;
} backup_run;

static void progress(const backup_run *b, const char *event, const char *name, uint64_t n)
{
    if (b->req->progress)
        b->req->progress(b->req->progress_ctx, event, name, n);
}

/* hb_bytes_fn for the pool's workers: forwards to the request's progress
 * callback, which must be thread-safe (include/hsmbak/backup.h). */
static void forward_bytes(void *ctx, const char *name, uint64_t n)
{
    const hb_backup_request *req = ctx;
    req->progress(req->progress_ctx, n == 0 ? "archived" : "bytes", name, n);
}

/* ---- stage helpers ------------------------------------------------------------ */

/* Optional identity lines kept beside the profile reference. */
static char *read_identity(const char *root, const char *name)
{
    char path[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err ignored;
    if (hb_format(path, sizeof path, "path", &ignored, "%s/.hsmbak/%s", root, name) != HB_OK ||
        hb_read_file(path, 256, &data, &len, &ignored) != HB_OK)
        return NULL;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
        data[--len] = '\0';
    if (len == 0) {
        free(data);
        return NULL;
    }
    return (char *)data;
}

/* The absolute form of path, whose tail may not exist yet: the real path of
 * its deepest existing ancestor, then the rest as written. */
static hb_status resolve_future_path(const char *path, char *out, size_t cap, hb_err *err)
{
    char head[PATH_MAX], real[PATH_MAX];
    size_t split = strlen(path);
    if (split >= sizeof head)
        return hb_fail(err, HB_E_USAGE, "path too long: '%s'", path);
    for (;;) {
        const char *candidate = head, *rest = path + split;
        if (split == 0) {
            candidate = path[0] == '/' ? "/" : ".";
            rest = path[0] == '/' ? path + 1 : path;
        } else {
            memcpy(head, path, split);
            head[split] = '\0';
        }
        if (realpath(candidate, real) != NULL) {
            bool at_top = strcmp(real, "/") == 0;
            while (*rest == '/')
                rest++;
            return hb_format(out, cap, "destination path", err, "%s%s%s", at_top ? "" : real,
                             *rest || at_top ? "/" : "", rest);
        }
        if (split == 0)
            return hb_fail(err, HB_E_IO, "cannot resolve '%s': %s", path, strerror(errno));
        /* Step back to the previous component boundary. */
        while (split > 0 && path[split - 1] != '/')
            split--;
        while (split > 0 && path[split - 1] == '/')
            split--;
    }
}

/* A backup written into a resource it is backing up would archive itself. */
static hb_status check_not_inside_resources(const hb_system *sys, const char *dest,
                                            hb_err *err)
{
    char where[PATH_MAX];
    hb_status st = resolve_future_path(dest, where, sizeof where, err);
    if (st != HB_OK)
        return st;
    for (size_t i = 0; i < sys->profile->n_resources; i++) {
        const hb_profile_resource *r = &sys->profile->resources[i];
        char res[PATH_MAX], real[PATH_MAX];
        if (hb_path_join(res, sizeof res, sys->root, r->path, err) != HB_OK)
            return err->status;
        if (realpath(res, real) == NULL)
            continue;
        size_t n = strlen(real);
        if (strncmp(where, real, n) == 0 && where[n] == '/')
            return hb_fail(err, HB_E_USAGE, "the destination is inside resource '%s', which the "
                           "backup itself would contain; write backups to temporary:/// or "
                           "outside the system root", r->name);
    }
    return HB_OK;
}

/* A destination beneath the system root (temporary:///NAME) is written
 * there, never through a link beneath the root (issue 11 class 1): a link
 * on the way to its directory is refused, naming it. */
static hb_status check_no_link_beneath_root(const hb_system *sys, const char *dest,
                                            hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX];
    const char *base = NULL;
    int rootfd = -1, fd = -1;
    size_t n = strlen(sys->root);
    if (strncmp(dest, sys->root, n) != 0 || dest[n] != '/')
        goto cleanup;
    const char *rel = dest + n;
    while (*rel == '/')
        rel++;
    HB_TRY(hb_path_parent(rel, dir, sizeof dir, &base, err));
    rootfd = open(sys->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HB_ENSURE(rootfd >= 0, HB_E_IO, "cannot open the system root '%s': %s", sys->root,
              strerror(errno));
    st = hb_beneath_open(rootfd, sys->root, dir, O_PATH | O_DIRECTORY, 0, &fd, err);
    if (st == HB_E_NOT_FOUND)
        st = HB_OK; /* made on begin, as real directories */
    else if (st != HB_OK)
        hb_err_prefix(err, "destination '%s' is refused", dest);
cleanup:
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

/* Only non-empty resources become archives; a skip-when-empty resource
 * (sharedcert) also needs more than placeholder files. */
static bool resource_has_content(const hb_profile *prof, const hb_profile_resource *r,
                                 const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    bool content = false;
    struct dirent *de;
    while (!content && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        content = !r->skip_when_empty || !hb_profile_is_ignorable(prof, de->d_name);
    }
    closedir(d);
    return content;
}

/* Bytes of regular-file content under dir: the total that byte progress
 * counts towards (an estimate: files may change while being read). */
static uint64_t tree_bytes(const char *dir)
{
    char *paths[] = {(char *)dir, NULL};
    uint64_t total = 0;
    FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (fts == NULL)
        return 0;
    FTSENT *e;
    while ((e = fts_read(fts)) != NULL)
        if (e->fts_info == FTS_F && e->fts_statp != NULL)
            total += (uint64_t)e->fts_statp->st_size;
    fts_close(fts);
    return total;
}

/* Write name into the destination as one stream and publish it. */
static hb_status put_whole(hb_store *out, const char *name, const uint8_t *data, size_t len,
                           hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_writer *w = NULL;
    HB_TRY(hb_store_put(out, name, &w, err));
    HB_TRY(hb_store_write(w, data, len, err));
    st = hb_store_put_commit(w, err);
    w = NULL;
cleanup:
    hb_store_put_abort(w);
    return st;
}

/* ---- the stages ------------------------------------------------------------ */

/* DEST may hold {date} (scheduled backups); keep rotates those. */
static hb_status name_destination(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    const char *dest = b->req->dest != NULL ? b->req->dest : "";
    HB_TRY(hb_dest_expand(dest, time(NULL), b->dated, sizeof b->dated, err));
    HB_ENSURE(b->req->keep == 0 || strstr(dest, HB_DATE_PLACEHOLDER) != NULL, HB_E_USAGE,
              "--keep needs a dated destination such as /var/backups/hsmbak/NAME/backup-%s",
              HB_DATE_PLACEHOLDER);
    HB_ENSURE(b->req->keep == 0 || !hb_store_is_remote(dest), HB_E_USAGE, "--keep is not "
              "supported for an %s destination yet (docs/remote.md): remove old backups "
              "on the server by hand, or leave --keep and HSMBAK_KEEP unset",
              strncmp(dest, "s3://", 5) == 0 ? "s3://" : "sftp://");
    progress(b, "destination", b->dated, 0);
cleanup:
    return st;
}

static hb_status choose_recipients(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_backup_request *req = b->req;
    HB_TRY(hb_objects_load(b->sys->root, &b->store, err));
    /* The transcript against its pinned head first: that refusal names the
     * pinning backup, before the store is compared with the transcript. */
    HB_TRY(hb_transcript_pin_for_backup(b->sys->root, &b->transcript_seq, b->transcript_head,
                                        err));
    HB_TRY(hb_recipient_set_resolve(b->sys->root, b->p, req->recipients, req->n_recipients,
                                    &b->rs, err));
    HB_TRY(hb_strlist_extend(&b->res->warnings, &b->rs.warnings, err));
    b->single_ids = calloc(b->rs.n_singles ? b->rs.n_singles : 1, sizeof *b->single_ids);
    HB_ALLOC(b->single_ids);
    b->single_labelled = calloc(b->rs.n_singles ? b->rs.n_singles : 1,
                                sizeof *b->single_labelled);
    HB_ALLOC(b->single_labelled);
    b->gk = OPENSSL_secure_zalloc((b->rs.n_groups ? b->rs.n_groups : 1) * sizeof *b->gk);
    HB_ALLOC(b->gk);
cleanup:
    return st;
}

static hb_status open_signer(backup_run *b, hb_err *err)
{
    return hb_signer_open(b->p, b->store, "every backup manifest must be signed",
                          "backup signer", &b->signer, err);
}

/* Whether the wraps to cert with hash get the OAEP label of FORMAT.md §2.1:
 * only when its token was probed and took one (docs/custody.md "OAEP
 * labels"), never assumed. */
static hb_status takes_labels(const backup_run *b, X509 *cert, hb_oaep_hash hash, bool *out,
                              hb_err *err)
{
    char fp[65];
    hb_status st = hb_x509_fingerprint(cert, fp, err);
    *out = st == HB_OK && hb_objects_takes_labels(b->store, fp, hash);
    return st;
}

/* Every recipient of the set into the manifest: single certificates, and
 * quorum groups with a fresh group key each (docs/custody.md). */
static hb_status add_recipients(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    bool *labelled = NULL;
    time_t now = time(NULL);
    for (size_t i = 0; i < b->rs.n_singles; i++) {
        const hb_rset_single *r = &b->rs.singles[i];
        st = hb_recipient_check(r->cert, r->ignore_expiration, now, err);
        if (st == HB_OK)
            st = hb_manifest_add_recipient(b->m, r->cert, hb_oaep_hash_name(r->hash),
                                           &b->single_ids[i], err);
        if (st == HB_OK)
            st = takes_labels(b, r->cert, r->hash, &b->single_labelled[i], err);
        if (st == HB_OK && b->single_labelled[i])
            st = hb_manifest_set_recipient_label(b->m, b->single_ids[i], err);
        if (st != HB_OK) {
            hb_err_prefix(err, "%s", r->label);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < b->rs.n_groups; i++) {
        const hb_rset_group *g = &b->rs.groups[i];
        free(labelled);
        labelled = calloc(g->n ? g->n : 1, sizeof *labelled);
        HB_ALLOC(labelled);
        for (size_t k = 0; k < g->n && st == HB_OK; k++) {
            st = hb_recipient_check(g->certs[k], false, now, err);
            if (st == HB_OK)
                st = takes_labels(b, g->certs[k], g->hashes[k], &labelled[k], err);
        }
        if (st == HB_OK)
            st = hb_quorum_add_to_manifest(b->m, hb_provider_libctx(b->p), g->name,
                                           g->threshold, g->certs, g->hashes, labelled, g->n,
                                           b->gk[i].g, &b->gk[i].id, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "quorum group '%s'", g->name);
            goto cleanup;
        }
    }
cleanup:
    free(labelled);
    return st;
}

static hb_status start_manifest(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    const char *root = b->sys->root;
    char *build = read_identity(root, "build"), *machine = read_identity(root, "machine-type");
    char *serial = read_identity(root, "serial");
    HB_TRY(hb_manifest_new(&b->m, err));
    HB_TRY(hb_manifest_set_backup(b->m, NULL, NULL, NULL, err));
    HB_TRY(hb_manifest_set_system(b->m, b->sys->version, b->sys->profile->name, build,
                                  machine, serial, err));
    HB_TRY(add_recipients(b, err));
    /* The transcript's head, checked in choose_recipients, signed into the
     * manifest (docs/FORMAT.md §10). */
    if (b->transcript_seq > 0)
        HB_TRY(hb_manifest_set_transcript(b->m, b->transcript_seq, b->transcript_head, err));
cleanup:
    free(build);
    free(machine);
    free(serial);
    return st;
}

/* dest must not exist or be an empty directory; the store writes the backup
 * beside it, hidden and marked partial: nothing looks like a backup until
 * hb_store_finish (backup/storage/). */
static hb_status prepare_destination(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_remote remote = {.ssh_identity = b->req->ssh_identity,
                              .ssh_known_hosts = b->req->ssh_known_hosts,
                              .s3 = b->req->s3};
    if (hb_store_is_remote(b->dated)) {
        /* Not a path: no appliance folder, not inside a resource. */
        HB_TRY(hb_format(b->dest, sizeof b->dest, "destination", err, "%s", b->dated));
    } else {
        HB_TRY(hb_url_resolve(b->sys->root, b->dated, b->dest, sizeof b->dest, err));
        HB_TRY(check_not_inside_resources(b->sys, b->dest, err));
        HB_TRY(check_no_link_beneath_root(b->sys, b->dest, err));
    }
    HB_TRY(hb_store_open(b->dest, b->dated, &remote, &b->out, err));
    HB_TRY(hb_store_begin(b->out, err));
    b->res->stale_partials_removed = hb_store_stale_removed(b->out);
    HB_TRY(hb_strlist_extend(&b->res->warnings, hb_store_warnings(b->out), err));
cleanup:
    return st;
}

/* One archive job for resource r, with a fresh DEK. */
static hb_status schedule_archive(backup_run *b, const hb_profile_resource *r,
                                  const char *src, uint64_t *total, hb_err *err)
{
    hb_status st = HB_OK;
    char file[PATH_MAX];
    const hb_backup_request *req = b->req;
    HB_TRY(hb_format(file, sizeof file, "archive file name", err, "%s%s", r->name,
                     hb_compression_extension(req->compression)));
    hb_archive_job *j = HB_ARRAY_PUSH(b->jobs, b->n_jobs, b->sys->profile->n_resources, err);
    if (j == NULL) {
        st = err->status;
        goto cleanup;
    }
    j->src_dir = strdup(src);
    j->out_path = strdup(file); /* the file's name in the backup; the bytes go to sink */
    HB_ALLOC(j->src_dir);
    HB_ALLOC(j->out_path);
    HB_TRY(hb_store_put(b->out, file, &b->writers[b->n_jobs - 1], err));
    j->sink = hb_store_write;
    j->sink_ctx = b->writers[b->n_jobs - 1];
    j->spec.backup_id = b->m->id;
    j->spec.name = r->name;
    j->spec.compression = req->compression;
    j->spec.seg_log2 = req->seg_log2;
    if (req->progress) {
        j->spec.on_bytes = forward_bytes;
        j->spec.on_bytes_ctx = (void *)req;
        *total += tree_bytes(src);
    }
    HB_TRY(hb_random_secret(j->dek, sizeof j->dek, "an archive key", err));
    progress(b, "scheduled", r->name, 0);
cleanup:
    return st;
}

/* Every non-empty resource (seed: only those become archives), in the pool. */
static hb_status make_archives(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_profile *prof = b->sys->profile;
    uint64_t total = 0;
    b->writers = calloc(prof->n_resources ? prof->n_resources : 1, sizeof *b->writers);
    HB_ALLOC(b->writers);
    for (size_t i = 0; i < prof->n_resources; i++) {
        char src[PATH_MAX];
        HB_TRY(hb_path_join(src, sizeof src, b->sys->root, prof->resources[i].path, err));
        if (resource_has_content(prof, &prof->resources[i], src))
            HB_TRY(schedule_archive(b, &prof->resources[i], src, &total, err));
    }
    progress(b, "total", NULL, total);
    HB_TRY(hb_archive_create_all(b->jobs, b->n_jobs, b->req->jobs, err));
    for (size_t i = 0; i < b->n_jobs; i++) {
        hb_store_writer *w = b->writers[i];
        b->writers[i] = NULL;
        HB_TRY(hb_store_put_commit(w, err));
    }
cleanup:
    return st;
}

/* The key of single recipient r on this system's tokens, when an idcred
 * here has r's certificate: *key stays NULL when there is none. */
static hb_status held_key(backup_run *b, const hb_rset_single *r, EVP_PKEY **key, hb_err *err)
{
    *key = NULL;
    for (size_t i = 0; i < hb_objects_count(b->store); i++) {
        const hb_crypto_object *o = hb_objects_at(b->store, i);
        const hb_crypto_object *k = hb_objects_find(b->store, HB_OBJECT_KEY, o->key);
        X509 *cert = NULL;
        char fp[65];
        hb_err ignored = {0};
        hb_object_status up;
        if (o->type != HB_OBJECT_IDCRED || !o->enabled || k == NULL)
            continue;
        bool same = hb_objects_load_certificate(b->store, b->p, o->certificate, &cert,
                                                &ignored) == HB_OK &&
                    hb_x509_fingerprint(cert, fp, &ignored) == HB_OK &&
                    strcmp(fp, r->fingerprint) == 0;
        X509_free(cert);
        if (!same)
            continue;
        hb_objects_status(b->store, b->p, k, &up);
        if (!up.up)
            return hb_strlist_addf(&b->res->warnings, err, "warning: self-check skipped for "
                                   "%s: key '%s' is down (%s)", r->label, k->name, up.reason);
        if (hb_provider_load_private_key(b->p, k->uri, key, &ignored) != HB_OK)
            return hb_strlist_addf(&b->res->warnings, err, "warning: self-check skipped for "
                                   "%s: %s", r->label, ignored.msg);
        return HB_OK;
    }
    return HB_OK;
}

/* The final self-check (DESIGN §7: never "complete" when this system knows
 * better): where this system holds a recipient's key, one wrapped key of the
 * backup is opened on its token and compared with the DEK. One unwrap per
 * held recipient per backup (docs/reliability.md has its cost). */
static hb_status self_check(backup_run *b, const hb_archive_job *j, const hb_rset_single *r,
                            const hb_wrap_label *label, const uint8_t *wrapped,
                            size_t wrapped_len, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY *key = NULL;
    uint8_t back[HB_DEK_LEN];
    hb_err sub = {0};
    HB_TRY(held_key(b, r, &key, err));
    if (key == NULL)
        goto cleanup;
    if (hb_unwrap_dek_labelled(b->p, key, r->hash, label, wrapped, wrapped_len, back, &sub) !=
        HB_OK)
        HB_FAIL(HB_E_REFUSED, "self-check failed: %s cannot open this backup on its token "
                "(key-wrap %s: %s); nothing was written: define the certificate again where "
                "its token is attached, or with the --key-wrap it takes", r->label,
                hb_oaep_hash_name(r->hash), sub.msg);
    HB_ENSURE(CRYPTO_memcmp(back, j->dek, HB_DEK_LEN) == 0, HB_E_VERIFY, "self-check failed: "
              "%s unwrapped another key than the one wrapped; nothing was written", r->label);
    b->res->self_checked++;
cleanup:
    OPENSSL_cleanse(back, sizeof back);
    EVP_PKEY_free(key);
    return st;
}

/* Job j's file into the manifest, its DEK wrapped for everyone, then wiped. */
static hb_status wrap_archive_key(backup_run *b, hb_archive_job *j, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    const char *filename = j->out_path;
    HB_TRY(hb_manifest_add_file(b->m, j->spec.name, filename,
                                hb_compression_name(j->spec.compression), j->info.file_size,
                                j->info.sha256_hex, err));
    for (size_t k = 0; k < b->rs.n_groups; k++) {
        uint8_t kw[HB_QUORUM_WRAPPED_LEN];
        HB_TRY(hb_quorum_wrap_dek(b->gk[k].g, j->dek, kw, err));
        HB_TRY(hb_manifest_add_wrapped_key(b->m, j->spec.name, b->gk[k].id, kw, sizeof kw,
                                           err));
    }
    for (size_t k = 0; k < b->rs.n_singles; k++) {
        const hb_rset_single *r = &b->rs.singles[k];
        hb_wrap_label label;
        if (b->single_labelled[k])
            HB_TRY(hb_wrap_label_make("dek", hb_manifest_id(b->m), j->spec.name, r->fingerprint,
                                      &label, err));
        const hb_wrap_label *l = b->single_labelled[k] ? &label : NULL;
        HB_TRY(hb_wrap_dek_labelled(hb_provider_libctx(b->p), r->cert, r->hash, l, j->dek,
                                    &wrapped, &wrapped_len, err));
        HB_TRY(hb_manifest_add_wrapped_key(b->m, j->spec.name, b->single_ids[k], wrapped,
                                           wrapped_len, err));
        if (j == &b->jobs[0])
            HB_TRY(self_check(b, j, r, l, wrapped, wrapped_len, err));
        free(wrapped);
        wrapped = NULL;
    }
    /* Wrapped for everyone: the plain key is not needed any more. */
    OPENSSL_cleanse(j->dek, sizeof j->dek);
    b->res->expanded_bytes += j->info.expanded_bytes;
    progress(b, "complete", j->spec.name, j->info.file_size);
cleanup:
    free(wrapped);
    return st;
}

static hb_status wrap_keys(backup_run *b, hb_err *err)
{
    for (size_t i = 0; i < b->n_jobs; i++) {
        hb_status st = wrap_archive_key(b, &b->jobs[i], err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* The manifest, signed on the token, is the last file written. Its
 * sequence is read now and claimed at the commit (the root's lock is held
 * throughout), so a backup refused before then changes nothing here. */
static hb_status write_manifest(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    const hb_profile *prof = b->sys->profile;
    uint8_t *xml = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    HB_TRY(hb_sequence_next(b->sys, &seq, err));
    HB_TRY(hb_manifest_set_sequence(b->m, seq, err));
    for (size_t i = 0; i < prof->n_excluded; i++)
        HB_TRY(hb_manifest_add_excluded(b->m, prof->excluded[i].name, prof->excluded[i].reason,
                                        err));
    HB_TRY(hb_manifest_write_signed(b->m, hb_signer_cert(b->signer), hb_signer_sign, b->signer,
                                    &xml, &len, err));
    HB_TRY(put_whole(b->out, HB_MANIFEST_FILENAME, xml, len, err));
cleanup:
    free(xml);
    return st;
}

static hb_status commit(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    hb_fault_point("backup-before-rename");
    /* Claimed before the rename: a crash between the two leaves a gap in
     * the sequence, never two backups with one number. */
    HB_TRY(hb_sequence_claim(b->sys, b->m->sequence, err));
    HB_TRY(hb_store_finish(b->out, err));
    memcpy(b->res->dest, b->dest, sizeof b->dest);
    /* Complete: the newest this system made. Recording it can fail only
     * after the backup is there, so that is a warning, not a failure (the
     * counter already moved past its sequence; restores compare against
     * the last backup recorded here). */
    hb_err sub = {0};
    if (hb_sequence_record(b->sys, b->m->sequence, b->m->id, b->m->created, "made", &sub) !=
        HB_OK)
        HB_TRY(hb_strlist_addf(&b->res->warnings, err, "warning: the backup is complete, but "
                               "this system could not record it as its newest: %s", sub.msg));
    /* Its transcript head becomes the one this system pinned; likewise a
     * warning when that cannot be written. */
    hb_err_clear(&sub);
    if (hb_transcript_pin_record_backup(b->sys->root, b->m, "made", &sub) != HB_OK)
        HB_TRY(hb_strlist_addf(&b->res->warnings, err, "warning: the backup is complete, but "
                               "this system could not pin its ceremony transcript's head: %s",
                               sub.msg));
cleanup:
    return st;
}

/* The stages up to a complete backup; audited, whatever the outcome. */
static hb_status make_backup(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(name_destination(b, err));
    HB_TRY(choose_recipients(b, err));
    HB_TRY(open_signer(b, err));
    HB_TRY(start_manifest(b, err));
    HB_TRY(prepare_destination(b, err));
    HB_TRY(make_archives(b, err));
    HB_TRY(wrap_keys(b, err));
    HB_TRY(write_manifest(b, err));
    HB_TRY(commit(b, err));
    b->res->manifest = b->m;
    b->m = NULL;
cleanup:
    hb_audit_backup_op("secure-backup", st, err, b->dated,
                       b->m != NULL ? b->m : b->res->manifest,
                       b->signer != NULL ? hb_signer_cert(b->signer) : NULL, NULL);
    return st;
}

/* keep: the dated backups beside the new one (include/hsmbak/rotate.h). */
static hb_status rotate(backup_run *b, hb_err *err)
{
    hb_status st = HB_OK;
    char pattern[PATH_MAX];
    HB_TRY(hb_url_resolve(b->sys->root, b->req->dest, pattern, sizeof pattern, err));
    HB_TRY(hb_rotate(pattern, b->res->dest, b->req->keep, &b->res->rotation, err));
cleanup:
    return st;
}

static void backup_run_free(backup_run *b)
{
    for (size_t i = 0; b->writers != NULL && i < b->n_jobs; i++)
        hb_store_put_abort(b->writers[i]);
    free(b->writers);
    hb_store_free(b->out); /* removes an unfinished backup */
    for (size_t i = 0; i < b->n_jobs; i++) {
        OPENSSL_cleanse(b->jobs[i].dek, sizeof b->jobs[i].dek);
        free((char *)b->jobs[i].src_dir);
        free((char *)b->jobs[i].out_path);
    }
    free(b->jobs);
    free(b->single_ids);
    free(b->single_labelled);
    /* Group keys are secrets like the DEKs: wiped here, on every path. */
    OPENSSL_secure_clear_free(b->gk, (b->rs.n_groups ? b->rs.n_groups : 1) * sizeof *b->gk);
    hb_recipient_set_free(&b->rs);
    hb_signer_free(b->signer);
    hb_manifest_free(b->m);
    hb_objects_free(b->store);
}

hb_status hb_secure_backup(hb_system *sys, hb_provider *p, const hb_backup_request *req,
                           hb_backup_result *res, hb_err *err)
{
    backup_run b = {.sys = sys, .p = p, .req = req, .res = res};
    memset(res, 0, sizeof *res);
    hb_status st = make_backup(&b, err);
    if (st == HB_OK && req->keep > 0)
        st = rotate(&b, err);
    backup_run_free(&b);
    return st;
}

void hb_backup_result_free(hb_backup_result *res)
{
    if (res == NULL)
        return;
    hb_manifest_free(res->manifest);
    res->manifest = NULL;
    hb_strlist_free(&res->warnings);
    hb_rotate_result_free(&res->rotation);
}
