/* Dated destinations and --keep N rotation (see include/hsmbak/rotate.h). */
#include "hsmbak/rotate.h"

#include "backup/system/tree.h"
#include "common/fileio.h"
#include "backup/system/system.h"
#include "backup/format/manifest.h"
#include "common/fail.h"

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
    char path[PATH_MAX];
    unsigned char *xml = NULL;
    size_t len = 0;
    hb_manifest *m = NULL;
    X509 *cert = NULL;
    hb_err ignored;
    bool ok = false;
    if (hb_path_join(path, sizeof path, dir, HB_MANIFEST_FILENAME, &ignored) != HB_OK ||
        hb_read_file(path, HB_MANIFEST_DEFAULT_CAP, &xml, &len, &ignored) != HB_OK ||
        hb_manifest_read(xml, len, NULL, &m, &cert, &ignored) != HB_OK)
        goto cleanup;
    if (ref != NULL && X509_cmp(ref, cert) != 0)
        goto cleanup;
    ok = true;
    for (size_t i = 0; i < m->n_files && ok; i++) {
        struct stat sb;
        ok = hb_path_join(path, sizeof path, dir, m->files[i].filename, &ignored) == HB_OK &&
             lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
             (uint64_t)sb.st_size == m->files[i].size;
    }
    if (ok && signer != NULL) {
        *signer = cert;
        cert = NULL;
    }
cleanup:
    X509_free(cert);
    hb_manifest_free(m);
    free(xml);
    return ok;
}

static int newest_first(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

static hb_status push(char ***list, size_t *n, const char *s, hb_err *err)
{
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    *list = grown;
    if ((grown[*n] = strdup(s)) == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    (*n)++;
    return HB_OK;
}

hb_status hb_rotate(const char *pattern_path, const char *newest, unsigned keep,
                    hb_rotate_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    char parent[PATH_MAX], prefix[NAME_MAX + 1], suffix[NAME_MAX + 1];
    char **names = NULL;
    size_t n_names = 0;
    X509 *ref = NULL;
    DIR *d = NULL;
    memset(res, 0, sizeof *res);
    if (keep == 0)
        return hb_fail(err, HB_E_USAGE, "--keep must be 1 or more");
    const char *at = strstr(pattern_path, HB_DATE_PLACEHOLDER);
    const char *slash = strrchr(pattern_path, '/');
    if (at == NULL || (slash != NULL && slash > at))
        return hb_fail(err, HB_E_USAGE, "--keep needs a destination whose last component "
                       "holds %s (e.g. /var/backups/hsmbak/NAME/backup-%s), so that backups "
                       "have dated names to rotate", HB_DATE_PLACEHOLDER, HB_DATE_PLACEHOLDER);
    const char *base = slash ? slash + 1 : pattern_path;
    int n1 = slash ? snprintf(parent, sizeof parent, "%.*s",
                              slash == pattern_path ? 1 : (int)(slash - pattern_path),
                              pattern_path)
                   : snprintf(parent, sizeof parent, ".");
    int n2 = snprintf(prefix, sizeof prefix, "%.*s", (int)(at - base), base);
    int n3 = snprintf(suffix, sizeof suffix, "%s", at + strlen(HB_DATE_PLACEHOLDER));
    if (n1 < 0 || (size_t)n1 >= sizeof parent || n2 < 0 || (size_t)n2 >= sizeof prefix ||
        n3 < 0 || (size_t)n3 >= sizeof suffix)
        return hb_fail(err, HB_E_USAGE, "destination too long: '%s'", pattern_path);
    /* The reference signer: the backup just made must itself be valid. */
    struct stat newest_sb;
    if (stat(newest, &newest_sb) != 0 || !backup_valid(newest, NULL, &ref))
        return hb_fail(err, HB_E_VERIFY, "the new backup '%s' does not verify; nothing was "
                       "rotated", newest);

    d = opendir(parent);
    if (d == NULL) {
        st = hb_fail(err, HB_E_IO, "cannot list '%s': %s", parent, strerror(errno));
        goto cleanup;
    }
    struct dirent *de;
    size_t lp = strlen(prefix), ls = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (n[0] == '.' || len != lp + STAMP_LEN + ls || strncmp(n, prefix, lp) != 0 ||
            strcmp(n + lp + STAMP_LEN, suffix) != 0 || !is_stamp(n + lp))
            continue;
        HB_TRY(push(&names, &n_names, n, err));
    }
    if (n_names > 0)
        qsort(names, n_names, sizeof *names, newest_first);
    for (size_t i = 0; i < n_names; i++) {
        char path[PATH_MAX];
        struct stat sb;
        HB_TRY(hb_path_join(path, sizeof path, parent, names[i], err));
        if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || !backup_valid(path, ref, NULL)) {
            HB_TRY(push(&res->invalid, &res->n_invalid, path, err));
            continue;
        }
        /* The backup just made stays whatever the clock did to names. */
        if (res->kept < keep ||
            (sb.st_dev == newest_sb.st_dev && sb.st_ino == newest_sb.st_ino)) {
            res->kept++;
            continue;
        }
        HB_TRY(hb_tree_remove(path, err));
        HB_TRY(push(&res->removed, &res->n_removed, path, err));
    }
cleanup:
    if (d != NULL)
        closedir(d);
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
    for (size_t i = 0; i < res->n_removed; i++)
        free(res->removed[i]);
    for (size_t i = 0; i < res->n_invalid; i++)
        free(res->invalid[i]);
    free(res->removed);
    free(res->invalid);
    memset(res, 0, sizeof *res);
}
