/* Dated destinations and --keep N rotation (see include/hsmbak/rotate.h). */
#include "hsmbak/rotate.h"

#include "backup/format/manifest.h"
#include "backup/ops/backup_dir.h"
#include "backup/system/pathname.h"
#include "backup/system/tree.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STAMP_LEN 16 /* YYYYMMDDTHHMMSSZ */
/* More dated entries than one directory of backups holds. */
#define HB_ROTATE_MAX_ENTRIES ((size_t)1 << 20)

hb_status hb_dest_expand(const char *pattern, time_t when, char *out, size_t cap, hb_err *err)
{
    const char *at = strstr(pattern, HB_DATE_PLACEHOLDER);
    if (at == NULL) {
        int n = snprintf(out, cap, "%s", pattern);
        if (n < 0 || (size_t)n >= cap)
            return hb_fail(err, HB_E_USAGE, "destination too long: '%s'", pattern);
        return HB_OK;
    }
    const char *after = at + strlen(HB_DATE_PLACEHOLDER);
    if (strstr(after, HB_DATE_PLACEHOLDER) != NULL || strchr(after, '/') != NULL)
        return hb_fail(err, HB_E_USAGE, "destination '%s': %s may appear once, in the last "
                       "path component", pattern, HB_DATE_PLACEHOLDER);
    char stamp[STAMP_LEN + 1];
    struct tm tm;
    if (gmtime_r(&when, &tm) == NULL ||
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) != STAMP_LEN)
        return hb_fail(err, HB_E_INTERNAL, "cannot format the time");
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - pattern), pattern, stamp, after);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "destination too long: '%s'", pattern);
    return HB_OK;
}

static bool is_stamp(const char *s)
{
    for (int i = 0; i < STAMP_LEN; i++) {
        char c = s[i];
        bool ok = i == 8 ? c == 'T' : i == 15 ? c == 'Z' : isdigit((unsigned char)c) != 0;
        if (!ok)
            return false;
    }
    return true;
}

/* The manifest at dir verifies, is signed by ref (when given), and every
 * file it lists is there with its size. *signer (may be NULL) gets the
 * signer certificate. */
static bool backup_valid(const char *dir, X509 *ref, X509 **signer)
{
    hb_manifest *m = NULL;
    X509 *cert = NULL;
    hb_err ignored;
    bool ok = hb_backup_dir_manifest(dir, dir, &m, &cert, &ignored) == HB_OK &&
              (ref == NULL || X509_cmp(ref, cert) == 0);
    for (size_t i = 0; ok && i < m->n_files; i++)
        ok = hb_backup_dir_file_present(dir, &m->files[i], &ignored) == HB_OK;
    if (ok && signer != NULL) {
        *signer = cert;
        cert = NULL;
    }
    X509_free(cert);
    hb_manifest_free(m);
    return ok;
}

static int newest_first(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Where the dated backups are, and what their names look like around the
 * stamp: parent/prefix{date}suffix. */
typedef struct dated_names {
    char parent[PATH_MAX], prefix[NAME_MAX + 1], suffix[NAME_MAX + 1];
} dated_names;

static hb_status parse_pattern(const char *pattern_path, dated_names *d, hb_err *err)
{
    const char *at = strstr(pattern_path, HB_DATE_PLACEHOLDER);
    const char *slash = strrchr(pattern_path, '/');
    if (at == NULL || (slash != NULL && slash > at))
        return hb_fail(err, HB_E_USAGE, "--keep needs a destination whose last component "
                       "holds %s (e.g. /var/backups/hsmbak/NAME/backup-%s), so that backups "
                       "have dated names to rotate", HB_DATE_PLACEHOLDER, HB_DATE_PLACEHOLDER);
    const char *base = NULL;
    hb_status st = hb_path_parent(pattern_path, d->parent, sizeof d->parent, &base, err);
    if (st == HB_OK)
        st = hb_format(d->prefix, sizeof d->prefix, "destination", err, "%.*s",
                       (int)(at - base), base);
    if (st == HB_OK)
        st = hb_format(d->suffix, sizeof d->suffix, "destination", err, "%s",
                       at + strlen(HB_DATE_PLACEHOLDER));
    return st;
}

/* Entries of d->parent named prefix STAMP suffix, newest first. */
static hb_status list_dated(const dated_names *d, char ***names, size_t *n, hb_err *err)
{
    hb_status st = HB_OK;
    size_t lp = strlen(d->prefix), ls = strlen(d->suffix);
    DIR *dir = opendir(d->parent);
    HB_ENSURE(dir != NULL, HB_E_IO, "cannot list '%s': %s", d->parent, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.' || strlen(name) != lp + STAMP_LEN + ls ||
            strncmp(name, d->prefix, lp) != 0 || strcmp(name + lp + STAMP_LEN, d->suffix) != 0 ||
            !is_stamp(name + lp))
            continue;
        char **slot = HB_ARRAY_PUSH(*names, *n, HB_ROTATE_MAX_ENTRIES, err);
        if (slot == NULL) {
            st = err->status;
            goto cleanup;
        }
        *slot = strdup(name);
        HB_ALLOC(*slot);
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, newest_first);
cleanup:
    if (dir != NULL)
        closedir(dir);
    return st;
}

hb_status hb_rotate(const char *pattern_path, const char *newest, unsigned keep,
                    hb_rotate_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    dated_names d;
    char **names = NULL;
    size_t n_names = 0;
    X509 *ref = NULL;
    struct stat newest_sb;
    memset(res, 0, sizeof *res);
    HB_ENSURE(keep > 0, HB_E_USAGE, "--keep must be 1 or more");
    HB_TRY(parse_pattern(pattern_path, &d, err));
    /* The reference signer: the backup just made must itself be valid. */
    HB_ENSURE(stat(newest, &newest_sb) == 0 && backup_valid(newest, NULL, &ref), HB_E_VERIFY,
              "the new backup '%s' does not verify; nothing was rotated", newest);
    HB_TRY(list_dated(&d, &names, &n_names, err));
    for (size_t i = 0; i < n_names; i++) {
        char path[PATH_MAX];
        struct stat sb;
        HB_TRY(hb_path_join(path, sizeof path, d.parent, names[i], err));
        if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || !backup_valid(path, ref, NULL)) {
            HB_TRY(hb_strlist_add(&res->invalid, path, err));
            continue;
        }
        /* The backup just made stays whatever the clock did to names. */
        if (res->kept < keep ||
            (sb.st_dev == newest_sb.st_dev && sb.st_ino == newest_sb.st_ino)) {
            res->kept++;
            continue;
        }
        HB_TRY(hb_tree_remove(path, err));
        HB_TRY(hb_strlist_add(&res->removed, path, err));
    }
cleanup:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    X509_free(ref);
    return st;
}

void hb_rotate_result_free(hb_rotate_result *res)
{
    if (res == NULL)
        return;
    hb_strlist_free(&res->removed);
    hb_strlist_free(&res->invalid);
    memset(res, 0, sizeof *res);
}
