/* `hsmbak dir URL` (include/hsmbak/dirlist.h). */
#include "hsmbak/dirlist.h"

#include "common/buf.h"
#include "common/fail.h"
#include "hsmbak/manifest.h"
#include "hsmbak/url.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* A listing stops with an error past this many entries. */
#define HB_DIR_MAX_ENTRIES ((size_t)1 << 20)

/* The manifest leads, as in the seed's listing; the rest by name. */
static int by_name(const void *a, const void *b)
{
    const hb_dir_entry *x = a, *y = b;
    bool mx = strcmp(x->name, HB_MANIFEST_FILENAME) == 0;
    bool my = strcmp(y->name, HB_MANIFEST_FILENAME) == 0;
    if (mx != my)
        return mx ? -1 : 1;
    return strcmp(x->name, y->name);
}

hb_status hb_dir_list(const char *root, const char *url, hb_dir_listing *out, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    DIR *d = NULL;
    hb_dir_listing l = {0};
    HB_TRY(hb_url_resolve(root, url, path, sizeof path, err));
    d = opendir(path);
    if (d == NULL) {
        st = hb_fail(err, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO, "cannot list '%s': %s",
                     url, strerror(errno));
        goto cleanup;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* vanished while listing */
        hb_dir_entry *e = HB_ARRAY_PUSH(l.entries, l.n, HB_DIR_MAX_ENTRIES, err);
        if (e == NULL) {
            st = err->status;
            goto cleanup;
        }
        /* d_name is at most NAME_MAX (255) bytes: it fits name[256]. */
        HB_TRY(hb_format(e->name, sizeof e->name, "file name", err, "%s", de->d_name));
        e->is_dir = S_ISDIR(sb.st_mode);
        e->modified = sb.st_mtime;
        e->size = (uint64_t)sb.st_size;
    }
    if (l.n > 1)
        qsort(l.entries, l.n, sizeof *l.entries, by_name);
    struct statvfs vfs;
    if (statvfs(path, &vfs) == 0)
        l.available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    *out = l;
    l.entries = NULL;
cleanup:
    if (d != NULL)
        closedir(d);
    free(l.entries);
    return st;
}

void hb_dir_listing_free(hb_dir_listing *l)
{
    if (l != NULL) {
        free(l->entries);
        l->entries = NULL;
        l->n = 0;
    }
}

hb_status hb_dir_backups(const char *root, const char *url, hb_strlist *names, hb_err *err)
{
    hb_dir_listing l = {0};
    hb_status st = hb_dir_list(root, url, &l, err);
    if (st == HB_E_NOT_FOUND) {
        memset(err, 0, sizeof *err);
        return HB_OK;
    }
    char path[PATH_MAX];
    for (size_t i = 0; st == HB_OK && i < l.n; i++) {
        if (!l.entries[i].is_dir)
            continue;
        struct stat sb;
        st = hb_url_resolve(root, url, path, sizeof path, err);
        if (st == HB_OK && hb_format(path + strlen(path), sizeof path - strlen(path),
                                     "manifest path", err, "/%s/%s", l.entries[i].name,
                                     HB_MANIFEST_FILENAME) == HB_OK &&
            lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            st = hb_strlist_add(names, l.entries[i].name, err);
    }
    hb_dir_listing_free(&l);
    return st;
}
