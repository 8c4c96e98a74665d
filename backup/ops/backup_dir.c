/* Reading a backup directory: its manifest and its files (backup_dir.h). */
#include "backup/ops/backup_dir.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

hb_status hb_backup_dir_manifest(const char *dir, const char *shown, hb_manifest **m,
                                 X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    unsigned char *xml = NULL;
    size_t len = 0;
    HB_TRY(hb_path_join(path, sizeof path, dir, HB_MANIFEST_FILENAME, err));
    st = hb_read_file(path, HB_MANIFEST_DEFAULT_CAP, &xml, &len, err);
    if (st == HB_E_NOT_FOUND)
        HB_FAIL(HB_E_NOT_FOUND, "'%s' holds no %s: it is not a secure backup, or an incomplete "
                "one", shown, HB_MANIFEST_FILENAME);
    if (st != HB_OK)
        goto cleanup;
    hb_manifest_read_opts opts = {.path = path};
    HB_TRY(hb_manifest_read(xml, len, &opts, m, signer, err));
cleanup:
    free(xml);
    return st;
}

hb_status hb_backup_dir_file_present(const char *dir, const hb_manifest_file *f, hb_err *err)
{
    char path[PATH_MAX];
    struct stat sb;
    hb_status st = hb_path_join(path, sizeof path, dir, f->filename, err);
    if (st != HB_OK)
        return st;
    if (lstat(path, &sb) != 0)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is missing from '%s'", f->filename,
                       dir);
    if (!S_ISREG(sb.st_mode))
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is not a regular file", f->filename);
    if ((uint64_t)sb.st_size != f->size)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is %lld bytes but the manifest says "
                       "%llu (truncated or appended to)", f->filename, (long long)sb.st_size,
                       (unsigned long long)f->size);
    return HB_OK;
}

/* One file: a resource of prof, named as its compression says. */
static hb_status check_name(const hb_manifest_file *f, const hb_profile *prof, hb_err *err)
{
    char expect[256];
    if (hb_profile_find_resource(prof, f->name) == NULL)
        return hb_fail(err, HB_E_VERIFY, "the backup holds '%s', which is not a resource of "
                       "profile '%s'", f->name, prof->name);
    const char *ext = hb_manifest_extension(f->compression);
    hb_status st = hb_format(expect, sizeof expect, "archive file name", err, "%s%s", f->name,
                             ext != NULL ? ext : "");
    if (st != HB_OK)
        return st;
    if (ext == NULL || strcmp(expect, f->filename) != 0)
        return hb_fail(err, HB_E_VERIFY, "manifest entry '%s' has file name '%s'; expected "
                       "'%s'", f->name, f->filename, expect);
    return HB_OK;
}

static hb_status sum_mismatch(const hb_manifest_file *f, hb_err *err)
{
    return hb_fail(err, HB_E_VERIFY, "backup file '%s' does not match its SHA-256 checksum "
                   "in the manifest (it was changed or replaced)", f->filename);
}

/* One file: a resource, the right name, present, its size and checksum. */
static hb_status check_file(const char *dir, const hb_manifest_file *f, const hb_profile *prof,
                            hb_err *err)
{
    char path[PATH_MAX], sum[65];
    hb_status st = check_name(f, prof, err);
    if (st != HB_OK)
        return st;
    if ((st = hb_backup_dir_file_present(dir, f, err)) != HB_OK ||
        (st = hb_path_join(path, sizeof path, dir, f->filename, err)) != HB_OK ||
        (st = hb_sha256_fileat(AT_FDCWD, path, sum, err)) != HB_OK)
        return st;
    if (strcmp(sum, f->sha256) != 0)
        return sum_mismatch(f, err);
    return HB_OK;
}

static bool listed(const hb_manifest *m, const char *filename)
{
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i].filename, filename) == 0)
            return true;
    return false;
}

/* Nothing but the manifest and its files: an added file is tampering too. */
static hb_status check_nothing_else(const char *dir, const hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    DIR *d = opendir(dir);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, HB_MANIFEST_FILENAME) == 0)
            continue;
        HB_ENSURE(listed(m, n), HB_E_VERIFY, "'%s' in the backup directory is not listed in "
                  "the manifest (a file was added, renamed or copied in)", n);
    }
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

hb_status hb_backup_dir_check_files(const char *dir, const hb_manifest *m,
                                    const hb_profile *prof, hb_err *err)
{
    for (size_t i = 0; i < m->n_files; i++) {
        hb_status st = check_file(dir, &m->files[i], prof, err);
        if (st != HB_OK)
            return st;
    }
    return check_nothing_else(dir, m, err);
}

/* ---- the same through a store ------------------------------------------- */

hb_status hb_backup_store_manifest(hb_store *s, const char *shown, hb_manifest **m,
                                   X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *xml = NULL;
    size_t len = 0;
    st = hb_store_read_file(s, HB_MANIFEST_FILENAME, HB_MANIFEST_DEFAULT_CAP, &xml, &len, err);
    if (st == HB_E_NOT_FOUND)
        HB_FAIL(HB_E_NOT_FOUND, "'%s' holds no %s: it is not a secure backup, or an incomplete "
                "one", shown, HB_MANIFEST_FILENAME);
    if (st != HB_OK)
        goto cleanup;
    HB_TRY(hb_manifest_read(xml, len, NULL, m, signer, err));
cleanup:
    free(xml);
    return st;
}

hb_status hb_backup_store_file_present(hb_store *s, const hb_manifest_file *f, hb_err *err)
{
    uint64_t size = 0;
    bool regular = false;
    hb_status st = hb_store_stat(s, f->filename, &size, &regular, err);
    if (st == HB_E_NOT_FOUND)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is missing from '%s'", f->filename,
                       hb_store_location(s));
    if (st != HB_OK)
        return st;
    if (!regular)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is not a regular file", f->filename);
    if (size != f->size)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' is %llu bytes but the manifest says "
                       "%llu (truncated or appended to)", f->filename, (unsigned long long)size,
                       (unsigned long long)f->size);
    return HB_OK;
}

/* f in the store: a regular file of its listed size, then its SHA-256. */
static hb_status check_stored_file(hb_store *s, const hb_manifest_file *f,
                                   const hb_profile *prof, hb_err *err)
{
    hb_status st = HB_OK;
    uint64_t total = 0;
    hb_store_reader *r = NULL;
    uint8_t *buf = NULL;
    size_t got = 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char sum[65];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    HB_ALLOC(ctx);
    HB_TRY(check_name(f, prof, err));
    HB_TRY(hb_backup_store_file_present(s, f, err));
    buf = malloc(128 * 1024);
    HB_ALLOC(buf);
    HB_ENSURE(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1, HB_E_INTERNAL, "SHA-256 failed");
    HB_TRY(hb_store_get(s, f->filename, &r, err));
    do {
        HB_TRY(hb_store_read(r, buf, 128 * 1024, &got, err));
        HB_ENSURE(EVP_DigestUpdate(ctx, buf, got) == 1, HB_E_INTERNAL, "SHA-256 failed");
        total += got;
    } while (got > 0);
    HB_ENSURE(EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32, HB_E_INTERNAL,
              "SHA-256 failed");
    hb_hex_encode(md, mdlen, sum);
    if (total != f->size || strcmp(sum, f->sha256) != 0)
        HB_TRY(sum_mismatch(f, err));
cleanup:
    hb_store_reader_free(r);
    free(buf);
    EVP_MD_CTX_free(ctx);
    return st;
}

static hb_status listed_or_manifest(void *ctx, const char *name, hb_err *err)
{
    const hb_manifest *m = ctx;
    if (strcmp(name, HB_MANIFEST_FILENAME) == 0 || listed(m, name))
        return HB_OK;
    return hb_fail(err, HB_E_VERIFY, "'%s' in the backup directory is not listed in the "
                   "manifest (a file was added, renamed or copied in)", name);
}

hb_status hb_backup_store_check_files(hb_store *s, const hb_manifest *m,
                                      const hb_profile *prof, hb_err *err)
{
    for (size_t i = 0; i < m->n_files; i++) {
        hb_status st = check_stored_file(s, &m->files[i], prof, err);
        if (st != HB_OK)
            return st;
    }
    return hb_store_list(s, listed_or_manifest, (void *)m, err);
}
