/* Reading a backup directory: its manifest and its files (backup_dir.h). */
#include "backup/ops/backup_dir.h"

#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <dirent.h>
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

/* One file: a resource, the right name, present, its size and checksum. */
static hb_status check_file(const char *dir, const hb_manifest_file *f, const hb_profile *prof,
                            hb_err *err)
{
    char expect[256], path[PATH_MAX], sum[65];
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
    if ((st = hb_backup_dir_file_present(dir, f, err)) != HB_OK ||
        (st = hb_path_join(path, sizeof path, dir, f->filename, err)) != HB_OK ||
        (st = hb_sha256_fileat(AT_FDCWD, path, sum, err)) != HB_OK)
        return st;
    if (strcmp(sum, f->sha256) != 0)
        return hb_fail(err, HB_E_VERIFY, "backup file '%s' does not match its SHA-256 checksum "
                       "in the manifest (it was changed or replaced)", f->filename);
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
