/* Whole-tree helpers for system roots (backup/system/tree.h). */
#include "backup/system/tree.h"

#include "backup/system/pathname.h"
#include "common/beneath.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* More entries than any system root has: a bound, not a budget. */
#define HB_TREE_MAX_ENTRIES ((size_t)1 << 24)

typedef struct list_state {
    hb_tree tree;
    const char *const *skip;
    hb_err *err;
} list_state;

static bool skipped(const list_state *s, const char *rel)
{
    for (const char *const *k = s->skip; k && *k; k++) {
        size_t n = strlen(*k);
        while (n > 0 && (*k)[n - 1] == '/')
            n--;
        if (strncmp(rel, *k, n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
            return true;
    }
    return false;
}

static hb_status add_entry(list_state *s, const char *rel, char type, unsigned mode,
                           const char *digest)
{
    size_t dlen = strlen(digest);
    if (dlen >= sizeof s->tree.entries->digest)
        return hb_fail(s->err, HB_E_INTERNAL, "digest of '%s' is not SHA-256 hex", rel);
    char *path = strdup(rel);
    if (path == NULL)
        return hb_fail_oom(s->err);
    hb_tree_entry *e = HB_ARRAY_PUSH(s->tree.entries, s->tree.n, HB_TREE_MAX_ENTRIES, s->err);
    if (e == NULL) {
        free(path);
        return s->err->status;
    }
    e->path = path;
    e->type = type;
    e->mode = mode;
    memcpy(e->digest, digest, dlen + 1);
    return HB_OK;
}

/* A directory stream over a duplicate of dirfd (the caller keeps dirfd). */
static DIR *dir_stream(int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return d;
}

static hb_status list_dir(list_state *s, int dirfd, const char *prefix)
{
    hb_status st = HB_OK;
    hb_err *err = s->err;
    DIR *d = dir_stream(dirfd);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", prefix, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char rel[PATH_MAX];
        HB_TRY(hb_path_child(rel, sizeof rel, prefix, de->d_name, err));
        if (skipped(s, rel))
            continue;
        struct stat sb;
        if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            st = hb_fail(s->err, HB_E_IO, "cannot stat '%s': %s", rel, strerror(errno));
            goto cleanup;
        }
        char digest[65] = "";
        unsigned mode = sb.st_mode & 07777;
        if (S_ISREG(sb.st_mode)) {
            HB_TRY(hb_sha256_fileat(dirfd, de->d_name, digest, s->err));
            HB_TRY(add_entry(s, rel, 'f', mode, digest));
        } else if (S_ISLNK(sb.st_mode)) {
            char target[PATH_MAX];
            ssize_t len = readlinkat(dirfd, de->d_name, target, sizeof target - 1);
            if (len < 0) {
                st = hb_fail(s->err, HB_E_IO, "cannot read link '%s'", rel);
                goto cleanup;
            }
            HB_TRY(hb_sha256_hex(target, (size_t)len, digest, s->err));
            HB_TRY(add_entry(s, rel, 'l', 0, digest));
        } else if (S_ISDIR(sb.st_mode)) {
            HB_TRY(add_entry(s, rel, 'd', mode, ""));
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                st = hb_fail(s->err, HB_E_IO, "cannot open '%s': %s", rel, strerror(errno));
                goto cleanup;
            }
            st = list_dir(s, sub, rel);
            close(sub);
            if (st != HB_OK)
                goto cleanup;
        } else {
            HB_TRY(add_entry(s, rel, 'o', mode, ""));
        }
    }
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const hb_tree_entry *)a)->path, ((const hb_tree_entry *)b)->path);
}

hb_status hb_tree_list(const char *dir, const char *const *skip, hb_tree *out, hb_err *err)
{
    hb_status st = HB_OK;
    list_state s = {.skip = skip, .err = err};
    memset(out, 0, sizeof *out);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        goto cleanup; /* a missing directory is an empty tree */
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open '%s': %s", dir, strerror(errno));
    HB_TRY(list_dir(&s, fd, ""));
    if (s.tree.n > 1)
        qsort(s.tree.entries, s.tree.n, sizeof *s.tree.entries, by_path);
    *out = s.tree;
    s.tree = (hb_tree){0};
cleanup:
    if (fd >= 0)
        close(fd);
    hb_tree_free(&s.tree);
    return st;
}

void hb_tree_free(hb_tree *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->entries[i].path);
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}

bool hb_tree_diff(const hb_tree *a, const hb_tree *b, hb_tree_change *out)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->entries[i].path, b->entries[j].path);
        const hb_tree_entry *x = c <= 0 ? &a->entries[i] : NULL;
        const hb_tree_entry *y = c >= 0 ? &b->entries[j] : NULL;
        if (x == NULL || y == NULL || x->type != y->type || x->mode != y->mode ||
            strcmp(x->digest, y->digest) != 0) {
            out->path = x != NULL ? x->path : y->path;
            out->how = y == NULL ? "removed" : x == NULL ? "added" : "changed";
            return true;
        }
        i++;
        j++;
    }
    return false;
}

/* ---- copy ------------------------------------------------------------------ */

static hb_status copy_file(int sfd, int dfd, const char *name, const struct stat *sb,
                           const char *rel, hb_err *err)
{
    hb_status st = HB_OK;
    int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = -1;
    HB_ENSURE(in >= 0, HB_E_IO, "cannot read '%s': %s", rel, strerror(errno));
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 sb->st_mode & 07777);
    if (out < 0) {
        st = hb_fail(err, HB_E_IO, "cannot create '%s': %s", rel, strerror(errno));
        goto cleanup;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = hb_fail(err, HB_E_IO, "cannot read '%s': %s", rel, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        HB_TRY(hb_write_all(out, buf, (size_t)n, rel, err));
    }
    fchmod(out, sb->st_mode & 07777);
    struct timespec times[2] = {sb->st_atim, sb->st_mtim};
    futimens(out, times);
cleanup:
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    return st;
}

static hb_status copy_dir(int sfd, int dfd, const char *rel, bool link_files, hb_err *err)
{
    hb_status st = HB_OK;
    DIR *d = dir_stream(sfd);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", rel, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char sub_rel[PATH_MAX];
        HB_TRY(hb_path_child(sub_rel, sizeof sub_rel, rel, name, err));
        struct stat sb;
        if (fstatat(sfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            st = hb_fail(err, HB_E_IO, "cannot stat '%s': %s", sub_rel, strerror(errno));
            goto cleanup;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (mkdirat(dfd, name, 0700) != 0 && errno != EEXIST) {
                st = hb_fail(err, HB_E_IO, "cannot create '%s': %s", sub_rel, strerror(errno));
                goto cleanup;
            }
            int s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0) {
                if (s2 >= 0) close(s2);
                if (d2 >= 0) close(d2);
                st = hb_fail(err, HB_E_IO, "cannot open '%s': %s", sub_rel, strerror(errno));
                goto cleanup;
            }
            st = copy_dir(s2, d2, sub_rel, link_files, err);
            fchmod(d2, sb.st_mode & 07777);
            struct timespec times[2] = {sb.st_atim, sb.st_mtim};
            futimens(d2, times);
            close(s2);
            close(d2);
            if (st != HB_OK)
                goto cleanup;
        } else if (S_ISLNK(sb.st_mode)) {
            char target[PATH_MAX];
            ssize_t len = readlinkat(sfd, name, target, sizeof target - 1);
            if (len < 0 || (target[len] = '\0', symlinkat(target, dfd, name) != 0)) {
                st = hb_fail(err, HB_E_IO, "cannot copy link '%s': %s", sub_rel, strerror(errno));
                goto cleanup;
            }
        } else if (S_ISREG(sb.st_mode)) {
            if (link_files && linkat(sfd, name, dfd, name, 0) == 0)
                continue;
            HB_TRY(copy_file(sfd, dfd, name, &sb, sub_rel, err));
        }
        /* Sockets, FIFOs and devices are not part of a system root's state. */
    }
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

hb_status hb_tree_copy(const char *src, const char *dst, bool link_files, hb_err *err)
{
    hb_status st = HB_OK;
    int sfd = -1, dfd = -1;
    struct stat sb;
    HB_ENSURE(lstat(src, &sb) == 0 && S_ISDIR(sb.st_mode), HB_E_NOT_FOUND,
              "'%s' is not a directory", src);
    HB_TRY(hb_mkdirs(dst, 0700, err));
    /* src was checked to be a directory, not a link: open it so (no race);
     * dst is the caller's path as given. Below both, nothing is followed. */
    sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0 || dfd < 0) {
        st = hb_fail(err, HB_E_IO, "cannot open '%s' or '%s': %s", src, dst, strerror(errno));
        goto cleanup;
    }
    st = copy_dir(sfd, dfd, src, link_files, err);
    fchmod(dfd, sb.st_mode & 07777);
cleanup:
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return st;
}

hb_status hb_tree_copy_at(int sfd, int dfd, const char *shown, bool link_files, hb_err *err)
{
    return copy_dir(sfd, dfd, shown, link_files, err);
}

/* ---- removal ----------------------------------------------------------------- */

hb_status hb_tree_remove(const char *path, hb_err *err)
{
    hb_status st = HB_OK;
    char trimmed[PATH_MAX], parent[PATH_MAX];
    const char *base = NULL;
    int pfd = -1;
    HB_TRY(hb_format(trimmed, sizeof trimmed, "path", err, "%s", path));
    for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--)
        trimmed[n - 1] = '\0';
    HB_TRY(hb_path_parent(trimmed, parent, sizeof parent, &base, err));
    HB_ENSURE(*base != '\0' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0, HB_E_USAGE,
              "'%s' does not name an entry that can be removed", path);
    /* The parent is the one path taken as given; below it everything goes
     * from directory fds, never through a link (common/beneath.h). */
    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0 && errno == ENOENT)
        goto cleanup; /* a missing path is fine */
    HB_ENSURE(pfd >= 0, HB_E_IO, "cannot remove '%s': %s", path, strerror(errno));
    HB_TRY(hb_beneath_remove(pfd, parent, base, 0, err));
cleanup:
    if (pfd >= 0)
        close(pfd);
    return st;
}

void hb_tree_remove_quietly(const char *path)
{
    hb_err ignored;
    if (hb_tree_remove(path, &ignored) != HB_OK) {
        /* Nothing more to do: the caller is already failing. */
    }
}

bool hb_dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return true;
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}
