/* secure-backup: every non-empty resource of the profile becomes one
 * encrypted archive with its own DEK, wrapped to each recipient; the signed
 * manifest is written last, and the directory appears under its final name
 * only when everything in it is complete and synced (DESIGN §4, §7). */
#include "hsmbak/backup.h"

#include "backup/custody/recipients.h"
#include "backup/custody/signer.h"
#include "backup/custody/quorum.h"
#include "backup/system/tree.h"
#include "common/fault.h"
#include "common/fileio.h"
#include "backup/format/archive.h"
#include "backup/system/system.h"
#include "backup/ops/audit.h"
#include "backup/custody/objects.h"
#include "hsmbak/url.h"
#include "backup/custody/wrap.h"
#include "common/buf.h"
#include "common/fail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <signal.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct recipient {
    X509 *cert;              /* borrowed from the recipient set */
    hb_oaep_hash hash;
    const char *id;          /* in the manifest */
} recipient;

/* A quorum group of this backup: its group key G and manifest id. */
typedef struct group_key {
    uint8_t g[HB_QUORUM_KEY_LEN];
    const char *id;
} group_key;

/* Every recipient of the set into the manifest: single certificates, and
 * quorum groups with a fresh group key each (docs/custody.md). */
static hb_status add_recipients(hb_provider *p, const hb_recipient_set *rs, hb_manifest *m,
                                recipient *out, group_key *gk, hb_err *err)
{
    time_t now = time(NULL);
    hb_status st = HB_OK;
    for (size_t i = 0; i < rs->n_singles; i++) {
        const hb_rset_single *r = &rs->singles[i];
        out[i].cert = r->cert;
        out[i].hash = r->hash;
        st = hb_recipient_check(r->cert, r->ignore_expiration, now, err);
        if (st == HB_OK)
            st = hb_manifest_add_recipient(m, r->cert, hb_oaep_hash_name(r->hash), &out[i].id,
                                           err);
        if (st != HB_OK) {
            hb_err_prefix(err, "%s", r->label);
            return st;
        }
    }
    for (size_t i = 0; i < rs->n_groups; i++) {
        const hb_rset_group *g = &rs->groups[i];
        for (size_t k = 0; k < g->n && st == HB_OK; k++)
            st = hb_recipient_check(g->certs[k], false, now, err);
        if (st == HB_OK)
            st = hb_quorum_add_to_manifest(m, hb_provider_libctx(p), g->name, g->threshold,
                                           g->certs, g->hashes, g->n, gk[i].g, &gk[i].id, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "quorum group '%s'", g->name);
            return st;
        }
    }
    return HB_OK;
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

/* hb_bytes_fn for the pool's workers: forwards to the request's progress
 * callback, which must be thread-safe (include/hsmbak/backup.h). */
static void forward_bytes(void *ctx, const char *name, uint64_t n)
{
    const hb_backup_request *req = ctx;
    req->progress(req->progress_ctx, n == 0 ? "archived" : "bytes", name, n);
}

/* Optional identity lines kept beside the profile reference. */
static char *read_identity(const char *root, const char *name)
{
    char path[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err ignored;
    if (snprintf(path, sizeof path, "%s/.hsmbak/%s", root, name) >= (int)sizeof path ||
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
            int n = snprintf(out, cap, "%s%s%s", at_top ? "" : real, *rest || at_top ? "/" : "",
                             rest);
            if (n < 0 || (size_t)n >= cap)
                return hb_fail(err, HB_E_USAGE, "path too long: '%s'", path);
            return HB_OK;
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

/* A killed backup leaves .BASE.hsmbak-partial-PID beside its destination;
 * remove those whose process is gone (a live one is another backup). */
static unsigned remove_stale_partials(const char *parent, const char *base)
{
    char prefix[NAME_MAX + 32];
    unsigned removed = 0;
    int n = snprintf(prefix, sizeof prefix, ".%s.hsmbak-partial-", base);
    DIR *d = n > 0 && (size_t)n < sizeof prefix ? opendir(parent) : NULL;
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, (size_t)n) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        long pid = strtol(de->d_name + n, &end, 10);
        if (errno != 0 || end == de->d_name + n || *end != '\0' || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        hb_err ignored;
        if (hb_path_join(path, sizeof path, parent, de->d_name, &ignored) == HB_OK &&
            hb_tree_remove(path, &ignored) == HB_OK)
            removed++;
    }
    closedir(d);
    return removed;
}

/* dest must not exist or be an empty directory; its parent is created. */
static hb_status prepare_destination(const char *dest, char *partial, size_t cap,
                                     unsigned *stale, hb_err *err)
{
    struct stat sb;
    if (lstat(dest, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return hb_fail(err, HB_E_REFUSED, "destination '%s' exists and is not a directory",
                           dest);
        if (!hb_dir_is_empty(dest))
            return hb_fail(err, HB_E_REFUSED, "destination '%s' is not empty; a backup never "
                           "overwrites files: choose a new directory", dest);
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dest);
    char *slash = strrchr(parent, '/');
    const char *base = dest;
    if (slash != NULL) {
        base = dest + (slash - parent) + 1;
        if (slash == parent)
            parent[1] = '\0';
        else
            *slash = '\0';
        hb_status st = hb_mkdirs(parent, 0700, err);
        if (st != HB_OK)
            return st;
    } else {
        snprintf(parent, sizeof parent, ".");
    }
    if (*base == '\0')
        return hb_fail(err, HB_E_USAGE, "destination '%s' has no directory name", dest);
    *stale = remove_stale_partials(parent, base);
    /* Hidden and marked partial: nothing looks like a backup until renamed. */
    int n = snprintf(partial, cap, "%s/.%s.hsmbak-partial-%ld", parent, base, (long)getpid());
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "destination path too long: '%s'", dest);
    hb_tree_remove_quietly(partial);
    if (mkdir(partial, 0700) != 0)
        return hb_fail(err, HB_E_IO, "cannot create '%s': %s", partial, strerror(errno));
    return HB_OK;
}

static hb_status write_manifest(const char *dir, const uint8_t *xml, size_t len, hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_path_join(path, sizeof path, dir, HB_MANIFEST_FILENAME, err);
    if (st != HB_OK)
        return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return hb_fail(err, HB_E_IO, "cannot create '%s': %s", path, strerror(errno));
    st = hb_write_all(fd, xml, len, HB_MANIFEST_FILENAME, err);
    if (st == HB_OK && fsync(fd) != 0)
        st = hb_fail(err, HB_E_IO, "cannot sync '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && st == HB_OK)
        st = hb_fail(err, HB_E_IO, "cannot write '%s': %s", path, strerror(errno));
    return st;
}

hb_status hb_secure_backup(hb_system *sys, hb_provider *p, const hb_backup_request *req,
                           hb_backup_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    hb_manifest *m = NULL;
    hb_signer *signer = NULL;
    recipient *rcpt = NULL;
    hb_recipient_set rs = {0};
    group_key *gk = NULL;
    hb_archive_job *jobs = NULL;
    size_t n_jobs = 0;
    char **out_paths = NULL;
    uint8_t *xml = NULL;
    size_t xml_len = 0;
    char dest[PATH_MAX], partial[PATH_MAX] = "";
    char *build = NULL, *machine = NULL, *serial = NULL;
    const hb_profile *prof = sys->profile;
    uint64_t total_bytes = 0;

    memset(res, 0, sizeof *res);
    HB_TRY(hb_objects_load(sys->root, &store, err));
    HB_TRY(hb_recipient_set_resolve(sys->root, p, req->recipients, req->n_recipients, &rs,
                                    err));
    HB_TRY(hb_strlist_extend(&res->warnings, &rs.warnings, err));
    HB_TRY(hb_signer_open(p, store, "every backup manifest must be signed", "backup signer",
                          &signer, err));

    HB_TRY(hb_manifest_new(&m, err));
    HB_TRY(hb_manifest_set_backup(m, NULL, NULL, NULL, err));
    build = read_identity(sys->root, "build");
    machine = read_identity(sys->root, "machine-type");
    serial = read_identity(sys->root, "serial");
    HB_TRY(hb_manifest_set_system(m, sys->version, prof->name, build, machine, serial, err));
    rcpt = calloc(rs.n_singles ? rs.n_singles : 1, sizeof *rcpt);
    gk = OPENSSL_secure_zalloc((rs.n_groups ? rs.n_groups : 1) * sizeof *gk);
    jobs = calloc(prof->n_resources ? prof->n_resources : 1, sizeof *jobs);
    out_paths = calloc(prof->n_resources ? prof->n_resources : 1, sizeof *out_paths);
    if (rcpt == NULL || gk == NULL || jobs == NULL || out_paths == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(add_recipients(p, &rs, m, rcpt, gk, err));

    HB_TRY(hb_url_resolve(sys->root, req->dest, dest, sizeof dest, err));
    HB_TRY(check_not_inside_resources(sys, dest, err));
    HB_TRY(prepare_destination(dest, partial, sizeof partial, &res->stale_partials_removed,
                               err));

    for (size_t i = 0; i < prof->n_resources; i++) {
        const hb_profile_resource *r = &prof->resources[i];
        char src[PATH_MAX], out[PATH_MAX];
        HB_TRY(hb_path_join(src, sizeof src, sys->root, r->path, err));
        if (!resource_has_content(prof, r, src))
            continue; /* only non-empty resources become archives (seed) */
        char file[128];
        snprintf(file, sizeof file, "%s%s", r->name, hb_compression_extension(req->compression));
        HB_TRY(hb_path_join(out, sizeof out, partial, file, err));
        out_paths[n_jobs] = strdup(out);
        if (out_paths[n_jobs] == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        hb_archive_job *j = &jobs[n_jobs++];
        j->src_dir = strdup(src);
        j->out_path = out_paths[n_jobs - 1];
        j->spec.backup_id = m->id;
        j->spec.name = r->name;
        j->spec.compression = req->compression;
        j->spec.seg_log2 = req->seg_log2;
        if (req->progress) {
            j->spec.on_bytes = forward_bytes;
            j->spec.on_bytes_ctx = (void *)req;
            total_bytes += tree_bytes(src);
        }
        if (j->src_dir == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        if (RAND_priv_bytes(j->dek, sizeof j->dek) != 1) {
            st = hb_fail_ossl(err, HB_E_INTERNAL, "no randomness for an archive key");
            goto cleanup;
        }
        if (req->progress)
            req->progress(req->progress_ctx, "scheduled", r->name, 0);
    }
    if (req->progress)
        req->progress(req->progress_ctx, "total", NULL, total_bytes);
    HB_TRY(hb_archive_create_all(jobs, n_jobs, req->jobs, err));

    for (size_t i = 0; i < n_jobs; i++) {
        hb_archive_job *j = &jobs[i];
        const char *filename = strrchr(j->out_path, '/') + 1;
        HB_TRY(hb_manifest_add_file(m, j->spec.name, filename,
                                    hb_compression_name(j->spec.compression), j->info.file_size,
                                    j->info.sha256_hex, err));
        for (size_t k = 0; k < rs.n_groups; k++) {
            uint8_t wrapped[HB_QUORUM_WRAPPED_LEN];
            HB_TRY(hb_quorum_wrap_dek(gk[k].g, j->dek, wrapped, err));
            HB_TRY(hb_manifest_add_wrapped_key(m, j->spec.name, gk[k].id, wrapped,
                                               sizeof wrapped, err));
        }
        for (size_t k = 0; k < rs.n_singles; k++) {
            uint8_t *wrapped = NULL;
            size_t wrapped_len = 0;
            HB_TRY(hb_wrap_dek(hb_provider_libctx(p), rcpt[k].cert, rcpt[k].hash, j->dek,
                               &wrapped, &wrapped_len, err));
            st = hb_manifest_add_wrapped_key(m, j->spec.name, rcpt[k].id, wrapped, wrapped_len,
                                             err);
            free(wrapped);
            if (st != HB_OK)
                goto cleanup;
        }
        /* Wrapped for everyone: the plain key is not needed any more. */
        OPENSSL_cleanse(j->dek, sizeof j->dek);
        res->expanded_bytes += j->info.expanded_bytes;
        if (req->progress)
            req->progress(req->progress_ctx, "complete", j->spec.name, j->info.file_size);
    }
    for (size_t i = 0; i < prof->n_excluded; i++)
        HB_TRY(hb_manifest_add_excluded(m, prof->excluded[i].name, prof->excluded[i].reason,
                                        err));

    HB_TRY(hb_manifest_write_signed(m, hb_signer_cert(signer), hb_signer_sign, signer, &xml,
                                    &xml_len, err));
    HB_TRY(write_manifest(partial, xml, xml_len, err));
    HB_TRY(hb_fsync_dir(partial, err));
    hb_fault_point("backup-before-rename");
    /* rename(2) also replaces an empty directory; a directory that gained
     * entries meanwhile makes it fail, and nothing is overwritten. */
    if (rename(partial, dest) != 0) {
        st = hb_fail(err, errno == ENOTEMPTY || errno == EEXIST ? HB_E_REFUSED : HB_E_IO,
                     "cannot move the finished backup to '%s': %s", dest, strerror(errno));
        goto cleanup;
    }
    partial[0] = '\0';
    {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dest);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent)
            *slash = '\0';
        HB_TRY(hb_fsync_dir(parent, err));
    }
    snprintf(res->dest, sizeof res->dest, "%s", dest);
    res->manifest = m;
    m = NULL;
cleanup:
    hb_audit_backup_op("secure-backup", st, err, req->dest, m != NULL ? m : res->manifest,
                       signer != NULL ? hb_signer_cert(signer) : NULL, NULL);
    if (partial[0] != '\0')
        hb_tree_remove_quietly(partial);
    for (size_t i = 0; i < n_jobs; i++) {
        OPENSSL_cleanse(jobs[i].dek, sizeof jobs[i].dek);
        free((char *)jobs[i].src_dir);
        free(out_paths[i]);
    }
    free(jobs);
    free(out_paths);
    free(rcpt);
    /* Group keys are secrets like the DEKs: wiped here, on every path. */
    OPENSSL_secure_clear_free(gk, (rs.n_groups ? rs.n_groups : 1) * sizeof *gk);
    hb_recipient_set_free(&rs);
    free(xml);
    free(build);
    free(machine);
    free(serial);
    hb_signer_free(signer);
    hb_manifest_free(m);
    hb_objects_free(store);
    return st;
}

void hb_backup_result_free(hb_backup_result *res)
{
    if (res != NULL) {
        hb_manifest_free(res->manifest);
        res->manifest = NULL;
        hb_strlist_free(&res->warnings);
    }
}
