/* secure-backup: every non-empty resource of the profile becomes one
 * encrypted archive with its own DEK, wrapped to each recipient; the signed
 * manifest is written last, and the directory appears under its final name
 * only when everything in it is complete and synced (DESIGN §4, §7). */
#include "hsmbak/backup.h"

#include "backup/tree.h"
#include "common/fileio.h"
#include "hsmbak/objects.h"
#include "hsmbak/url.h"
#include "hsmbak/wrap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct recipient {
    X509 *cert;
    hb_oaep_hash hash;
    const char *id;          /* in the manifest */
} recipient;

typedef struct token_signer {
    hb_provider *p;
    EVP_PKEY *key;
} token_signer;

/* hb_sign_fn over the backup-signer key: the signature is made on the token. */
static hb_status sign_on_token(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                               size_t *siglen, hb_err *err)
{
    token_signer *s = ctx;
    return hb_provider_sign_sha256(s->p, s->key, data, len, sig, siglen, err);
}

static hb_status load_recipients(hb_provider *p, const hb_object_store *store,
                                 const hb_backup_request *req, hb_manifest *m,
                                 recipient *out, hb_err *err)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < req->n_recipients; i++) {
        const char *name = req->recipients[i];
        const hb_crypto_object *o = hb_objects_find(store, HB_OBJECT_CERTIFICATE, name);
        if (o == NULL)
            return hb_fail(err, HB_E_NOT_FOUND, "no certificate object named '%s'; define it "
                           "with 'hsmbak crypto certificate %s cert:///FILE'", name, name);
        if (!o->enabled)
            return hb_fail(err, HB_E_REFUSED, "certificate '%s' is disabled", name);
        hb_status st = hb_objects_load_certificate(store, p, name, &out[i].cert, err);
        if (st == HB_OK)
            st = hb_recipient_check(out[i].cert, o->ignore_expiration, now, err);
        if (st == HB_OK)
            st = hb_manifest_add_recipient(m, out[i].cert, hb_oaep_hash_name(o->key_wrap),
                                           &out[i].id, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "recipient certificate '%s'", name);
            return st;
        }
        out[i].hash = o->key_wrap;
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

/* A backup killed before its rename leaves ".BASE.hsmbak-partial-PID" beside
 * its destination. Hidden and marked partial, it never looks like a backup;
 * the next backup to the same destination removes those whose process is
 * gone (a live PID may be another backup at work: left alone). */
static void remove_stale_partials(const char *parent, const char *base)
{
    char prefix[NAME_MAX + 32];
    int n = snprintf(prefix, sizeof prefix, ".%s.hsmbak-partial-", base);
    DIR *d = opendir(parent);
    if (n < 0 || (size_t)n >= sizeof prefix || d == NULL) {
        if (d != NULL)
            closedir(d);
        return;
    }
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
        if (hb_path_join(path, sizeof path, parent, de->d_name, &ignored) == HB_OK)
            hb_tree_remove_quietly(path);
    }
    closedir(d);
}

/* dest must not exist or be an empty directory; its parent is created. */
static hb_status prepare_destination(const char *dest, char *partial, size_t cap,
                                     hb_err *err)
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
    remove_stale_partials(parent, base);
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
    X509 *signer_cert = NULL;
    EVP_PKEY *signer_key = NULL;
    recipient *rcpt = NULL;
    hb_archive_job *jobs = NULL;
    size_t n_jobs = 0;
    char **out_paths = NULL;
    uint8_t *xml = NULL;
    size_t xml_len = 0;
    char dest[PATH_MAX], partial[PATH_MAX] = "";
    char *build = NULL, *machine = NULL, *serial = NULL;
    const hb_profile *prof = sys->profile;

    memset(res, 0, sizeof *res);
    HB_TRY(hb_objects_load(sys->root, &store, err));
    const char *signer = hb_objects_backup_signer(store);
    if (signer == NULL) {
        st = hb_fail(err, HB_E_REFUSED,
                     "no backup signer is set, and every backup manifest must be signed: make "
                     "a signing key with 'hsmbak crypto keygen --usage signer --gen-sscert "
                     "--gen-object ...', define an idcred for it ('hsmbak crypto idcred NAME "
                     "KEY CERT') and mark it with 'hsmbak crypto backup-signer NAME'");
        goto cleanup;
    }
    if (req->n_recipients == 0) {
        st = hb_fail(err, HB_E_USAGE, "name at least one recipient certificate object: "
                     "'hsmbak secure-backup CERT[,CERT...] DEST'");
        goto cleanup;
    }
    st = hb_objects_load_idcred(store, p, signer, &signer_cert, &signer_key, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "backup signer");
        goto cleanup;
    }

    HB_TRY(hb_manifest_new(&m, err));
    HB_TRY(hb_manifest_set_backup(m, NULL, NULL, NULL, err));
    build = read_identity(sys->root, "build");
    machine = read_identity(sys->root, "machine-type");
    serial = read_identity(sys->root, "serial");
    HB_TRY(hb_manifest_set_system(m, sys->version, prof->name, build, machine, serial, err));
    rcpt = calloc(req->n_recipients, sizeof *rcpt);
    jobs = calloc(prof->n_resources ? prof->n_resources : 1, sizeof *jobs);
    out_paths = calloc(prof->n_resources ? prof->n_resources : 1, sizeof *out_paths);
    if (rcpt == NULL || jobs == NULL || out_paths == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(load_recipients(p, store, req, m, rcpt, err));

    HB_TRY(hb_url_resolve(sys->root, req->dest, dest, sizeof dest, err));
    HB_TRY(prepare_destination(dest, partial, sizeof partial, err));

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
    HB_TRY(hb_archive_create_all(jobs, n_jobs, req->jobs, err));

    for (size_t i = 0; i < n_jobs; i++) {
        hb_archive_job *j = &jobs[i];
        const char *filename = strrchr(j->out_path, '/') + 1;
        HB_TRY(hb_manifest_add_file(m, j->spec.name, filename,
                                    hb_compression_name(j->spec.compression), j->info.file_size,
                                    j->info.sha256_hex, err));
        for (size_t k = 0; k < req->n_recipients; k++) {
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

    token_signer ts = {p, signer_key};
    HB_TRY(hb_manifest_write_signed(m, signer_cert, sign_on_token, &ts, &xml, &xml_len, err));
    HB_TRY(write_manifest(partial, xml, xml_len, err));
    HB_TRY(hb_fsync_dir(partial, err));
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
    if (partial[0] != '\0')
        hb_tree_remove_quietly(partial);
    for (size_t i = 0; i < n_jobs; i++) {
        OPENSSL_cleanse(jobs[i].dek, sizeof jobs[i].dek);
        free((char *)jobs[i].src_dir);
        free(out_paths[i]);
    }
    free(jobs);
    free(out_paths);
    if (rcpt != NULL)
        for (size_t i = 0; i < req->n_recipients; i++)
            X509_free(rcpt[i].cert);
    free(rcpt);
    free(xml);
    free(build);
    free(machine);
    free(serial);
    X509_free(signer_cert);
    EVP_PKEY_free(signer_key);
    hb_manifest_free(m);
    hb_objects_free(store);
    return st;
}

void hb_backup_result_free(hb_backup_result *res)
{
    if (res != NULL) {
        hb_manifest_free(res->manifest);
        res->manifest = NULL;
    }
}
