/* Paths beneath a root directory, never through a link (beneath.h). */
#include "common/beneath.h"

#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool force_fallback;

void hb_beneath_force_fallback(bool on)
{
    force_fallback = on;
}

#define LINK_MSG "is a symbolic link; hsmbak never writes, removes or follows anything " \
                 "through a link beneath a root"

/* "SHOWN/REL", or REL alone when shown is empty, into out (cut with "..."
 * when it does not fit: it is only ever said). */
static const char *said(char *out, size_t cap, const char *shown, const char *rel, size_t n)
{
    int len = shown[0] != '\0' ? snprintf(out, cap, "%s/%.*s", shown, (int)n, rel)
                               : snprintf(out, cap, "%.*s", (int)n, rel);
    if (len < 0 || (size_t)len >= cap)
        memcpy(out + cap - 4, "...", 4);
    return out;
}

/* A relative path of plain components: no leading '/', no "..". */
static hb_status check_rel(const char *shown, const char *rel, hb_err *err)
{
    char where[PATH_MAX];
    if (rel == NULL)
        return hb_fail(err, HB_E_INTERNAL, "no path beneath '%s'", shown);
    if (rel[0] == '/')
        return hb_fail(err, HB_E_REFUSED, "'%s' is an absolute path; only paths beneath "
                       "'%s' are allowed here", rel, shown);
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return hb_fail(err, HB_E_REFUSED, "'%s' has a '..' component; only paths "
                           "beneath the root are allowed",
                           said(where, sizeof where, shown, rel, strlen(rel)));
        p += n;
        while (*p == '/')
            p++;
    }
    return HB_OK;
}

/* Length of the first prefix of rel that is a symbolic link beneath
 * dirfd, or 0 when none is (any more: a race may have removed it). */
static size_t first_link(int dirfd, const char *rel)
{
    int cur = dirfd;
    size_t found = 0;
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        char name[NAME_MAX + 1];
        struct stat sb;
        if (n == 0 || n > NAME_MAX)
            break;
        memcpy(name, p, n);
        name[n] = '\0';
        if (strcmp(name, ".") != 0) {
            if (fstatat(cur, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
                break;
            if (S_ISLNK(sb.st_mode)) {
                found = (size_t)(p + n - rel);
                break;
            }
            if (!S_ISDIR(sb.st_mode))
                break;
            int next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cur != dirfd)
                close(cur);
            cur = next;
            if (cur < 0)
                break;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    if (cur >= 0 && cur != dirfd)
        close(cur);
    return found;
}

/* The message for an open of rel beneath dirfd that failed with e. */
static hb_status open_fail(int dirfd, const char *shown, const char *rel, int flags, int e,
                           hb_err *err)
{
    const char *verb = (flags & O_CREAT) ? "create" : "open";
    char where[PATH_MAX];
    if (e == ELOOP || e == EXDEV || e == ENOTDIR || e == EEXIST) {
        size_t n = first_link(dirfd, rel);
        if (n > 0)
            return hb_fail(err, HB_E_REFUSED, "'%s' " LINK_MSG,
                           said(where, sizeof where, shown, rel, n));
        if (e == ELOOP || e == EXDEV)
            return hb_fail(err, HB_E_REFUSED, "'%s' leads through a link or outside '%s'; "
                           "hsmbak never follows a link beneath a root",
                           said(where, sizeof where, shown, rel, strlen(rel)), shown);
    }
    said(where, sizeof where, shown, rel, strlen(rel));
    if (e == ENOENT)
        return hb_fail(err, HB_E_NOT_FOUND, "cannot %s '%s': no such file or directory", verb,
                       where);
    if (e == EEXIST)
        return hb_fail(err, HB_E_IO, "cannot create '%s': it exists already", where);
    if (e == ENOSPC || e == EDQUOT)
        return hb_fail(err, HB_E_IO, "no space left to create '%s'; free some space on that "
                       "filesystem and run the command again", where);
    return hb_fail(err, HB_E_IO, "cannot %s '%s': %s", verb, where, strerror(e));
}

/* openat2 beneath dirfd with no links: the fd, or -1 with errno. */
static int open_resolved(int dirfd, const char *rel, int flags, mode_t mode)
{
    if (!force_fallback) {
        struct open_how how = {
            .flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC),
            .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd;
        int tries = 0;
        do /* EAGAIN: a concurrent rename; RESOLVE_BENEATH asks to try again */
            fd = syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how, sizeof how);
        while (fd < 0 && errno == EAGAIN && ++tries < 100);
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
    }
    /* Linux < 5.6: one component at a time, each from the directory before
     * it, none followed (a magic link is a link to lstat as well). */
    int cur = dirfd;
    const char *p = rel;
    for (;;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        const char *rest = p + n;
        while (*rest == '/')
            rest++;
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) {
            errno = ENAMETOOLONG;
            break;
        }
        memcpy(name, n ? p : ".", n ? n : 1);
        name[n ? n : 1] = '\0';
        if (*rest == '\0') {
            int fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
            int saved = errno;
            if (cur != dirfd)
                close(cur);
            errno = saved;
            return fd;
        }
        int next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next >= 0) {
            struct stat sb; /* O_PATH|O_NOFOLLOW may open a link itself */
            if (fstat(next, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                close(next);
                next = -1;
                errno = ELOOP;
            }
        }
        int saved = errno;
        if (cur != dirfd)
            close(cur);
        errno = saved;
        if (next < 0)
            return -1;
        cur = next;
        p = rest;
    }
    int saved = errno;
    if (cur != dirfd)
        close(cur);
    errno = saved;
    return -1;
}

hb_status hb_beneath_open_top(const char *path, int *out, hb_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(path, &sb) == 0 &&
        S_ISLNK(sb.st_mode))
        return hb_fail(err, HB_E_REFUSED, "'%s' " LINK_MSG, path);
    if (fd < 0 && errno == ENOTDIR)
        return hb_fail(err, HB_E_IO, "'%s' is not a directory", path);
    if (fd < 0 && errno == ENOENT)
        return hb_fail(err, HB_E_NOT_FOUND, "cannot open '%s': no such file or directory",
                       path);
    if (fd < 0)
        return hb_fail(err, HB_E_IO, "cannot open directory '%s': %s", path, strerror(errno));
    *out = fd;
    return HB_OK;
}

hb_status hb_beneath_open(int dirfd, const char *shown, const char *rel, int flags,
                          mode_t mode, int *out, hb_err *err)
{
    hb_status st = check_rel(shown, rel, err);
    if (st != HB_OK)
        return st;
    int fd = open_resolved(dirfd, rel, flags, mode);
    struct stat sb;
    if (fd >= 0 && (flags & O_PATH) && !(flags & O_DIRECTORY) &&
        (fstat(fd, &sb) != 0 || S_ISLNK(sb.st_mode))) {
        /* O_PATH|O_NOFOLLOW opens a final link itself (openat2 too, under
         * RESOLVE_NO_SYMLINKS): refused like any other. */
        close(fd);
        fd = -1;
        errno = ELOOP;
    }
    if (fd < 0)
        return open_fail(dirfd, shown, rel, flags, errno, err);
    *out = fd;
    return HB_OK;
}

/* Split rel into its directory (into dir, "" for none) and last name. */
static hb_status split(const char *shown, const char *rel, char *dir, size_t cap,
                       char *name, hb_err *err)
{
    size_t n = strlen(rel);
    while (n > 0 && rel[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && rel[b - 1] != '/')
        b--;
    size_t d = b;
    while (d > 0 && rel[d - 1] == '/')
        d--;
    if (n == b || n - b > NAME_MAX || d >= cap ||
        (n - b == 1 && rel[b] == '.'))
        return hb_fail(err, HB_E_USAGE, "'%s' beneath '%s' does not name an entry", rel,
                       shown);
    memcpy(dir, rel, d);
    dir[d] = '\0';
    memcpy(name, rel + b, n - b);
    name[n - b] = '\0';
    return HB_OK;
}

hb_status hb_beneath_lstat(int dirfd, const char *shown, const char *rel, bool *exists,
                           struct stat *sb, hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX], name[NAME_MAX + 1], where[PATH_MAX];
    struct stat tmp;
    int pfd = -1;
    *exists = false;
    HB_TRY(check_rel(shown, rel, err));
    if (sb == NULL)
        sb = &tmp;
    if (rel[strspn(rel, "./")] == '\0') {
        HB_ENSURE(fstat(dirfd, sb) == 0, HB_E_IO, "cannot stat '%s': %s", shown,
                  strerror(errno));
        *exists = true;
        goto cleanup;
    }
    HB_TRY(split(shown, rel, dir, sizeof dir, name, err));
    st = hb_beneath_open(dirfd, shown, dir, O_PATH | O_DIRECTORY, 0, &pfd, err);
    if (st == HB_E_NOT_FOUND) {
        st = HB_OK;
        goto cleanup;
    }
    HB_TRY(st);
    if (fstatat(pfd, name, sb, AT_SYMLINK_NOFOLLOW) == 0)
        *exists = true;
    else
        HB_ENSURE(errno == ENOENT, HB_E_IO, "cannot stat '%s': %s",
                  said(where, sizeof where, shown, rel, strlen(rel)), strerror(errno));
cleanup:
    if (pfd >= 0)
        close(pfd);
    return st;
}

hb_status hb_beneath_mkdirs(int dirfd, const char *shown, const char *rel, mode_t mode,
                            int *out, hb_err *err)
{
    hb_status st = HB_OK;
    char where[PATH_MAX];
    int cur = -1;
    HB_TRY(check_rel(shown, rel, err));
    cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HB_ENSURE(cur >= 0, HB_E_IO, "cannot open '%s': %s", shown, strerror(errno));
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        char name[NAME_MAX + 1];
        HB_ENSURE(n <= NAME_MAX, HB_E_USAGE, "a name in '%s' is too long",
                  said(where, sizeof where, shown, rel, strlen(rel)));
        memcpy(name, p, n);
        name[n] = '\0';
        size_t upto = (size_t)(p + n - rel);
        p += n;
        while (*p == '/')
            p++;
        if (n == 0 || strcmp(name, ".") == 0)
            continue;
        /* mkdirat never follows: an existing link is EEXIST, and the open
         * below refuses it. */
        if (mkdirat(cur, name, mode) != 0 && errno != EEXIST) {
            st = hb_fail(err, HB_E_IO, "cannot create directory '%s': %s",
                         said(where, sizeof where, shown, rel, upto), strerror(errno));
            goto cleanup;
        }
        int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            struct stat sb;
            bool link = fstatat(cur, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);
            said(where, sizeof where, shown, rel, upto);
            if (link)
                st = hb_fail(err, HB_E_REFUSED, "'%s' " LINK_MSG, where);
            else if (errno == ENOTDIR)
                st = hb_fail(err, HB_E_IO, "'%s' exists and is not a directory", where);
            else
                st = hb_fail(err, HB_E_IO, "cannot open '%s': %s", where, strerror(errno));
            goto cleanup;
        }
        close(cur);
        cur = next;
    }
    if (out != NULL) {
        *out = cur;
        cur = -1;
    }
cleanup:
    if (cur >= 0)
        close(cur);
    return st;
}

hb_status hb_beneath_write_file(int dirfd, const char *shown, const char *rel,
                                const void *data, size_t len, mode_t mode, hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX], name[NAME_MAX + 1], tmp[NAME_MAX + 1], where[PATH_MAX];
    int pfd = -1, fd = -1;
    bool made = false;
    struct stat sb;
    HB_TRY(check_rel(shown, rel, err));
    HB_TRY(split(shown, rel, dir, sizeof dir, name, err));
    said(where, sizeof where, shown, rel, strlen(rel));
    HB_TRY(hb_beneath_open(dirfd, shown, dir, O_RDONLY | O_DIRECTORY, 0, &pfd, err));
    if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        HB_ENSURE(!S_ISLNK(sb.st_mode), HB_E_REFUSED, "'%s' " LINK_MSG, where);
        HB_ENSURE(S_ISREG(sb.st_mode), HB_E_REFUSED, "'%s' exists and is not a regular file",
                  where);
    }
    HB_TRY(hb_format(tmp, sizeof tmp, "file name", err, ".%.200s.tmp-%ld", name,
                     (long)getpid()));
    (void)unlinkat(pfd, tmp, 0); /* a leftover of this pid from an earlier crash */
    fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot create a file beside '%s': %s", where,
              strerror(errno));
    made = true;
    HB_TRY(hb_write_all(fd, data, len, where, err));
    HB_ENSURE(fsync(fd) == 0, HB_E_IO, "cannot sync '%s': %s", where, strerror(errno));
    int rc = close(fd);
    fd = -1;
    HB_ENSURE(rc == 0, HB_E_IO, "cannot write '%s': %s", where, strerror(errno));
    /* renameat replaces whatever name is now (a link swapped in meanwhile
     * included) and never writes through it. */
    HB_ENSURE(renameat(pfd, tmp, pfd, name) == 0, HB_E_IO, "cannot replace '%s': %s", where,
              strerror(errno));
    made = false;
    HB_ENSURE(fsync(pfd) == 0 || errno == EINVAL, HB_E_IO, "cannot sync the directory of "
              "'%s': %s", where, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        (void)unlinkat(pfd, tmp, 0);
    if (pfd >= 0)
        close(pfd);
    return st;
}

/* ---- removal ------------------------------------------------------------------ */

typedef struct remover {
    char path[PATH_MAX]; /* what is being removed, for messages (cut when long) */
    size_t len;
    hb_err *err;
} remover;

static size_t push(remover *r, const char *name)
{
    size_t was = r->len;
    int n = snprintf(r->path + r->len, sizeof r->path - r->len, "%s%s", r->len ? "/" : "",
                     name);
    if (n < 0 || (size_t)n >= sizeof r->path - r->len)
        r->len = sizeof r->path - 1; /* cut: only ever said */
    else
        r->len += (size_t)n;
    return was;
}

/* Open directory name in pfd for removal: made writable through its own
 * fd (a directory left 0500 by an archive); one this user cannot read at
 * all is opened by O_PATH and its mode set through /proc's link to exactly
 * that inode. -1 with errno when it is not a directory (any more). */
static int open_for_removal(int pfd, const char *name)
{
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        int pathfd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (pathfd >= 0 && fstat(pathfd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            char proc[64];
            if (snprintf(proc, sizeof proc, "/proc/self/fd/%d", pathfd) < (int)sizeof proc &&
                chmod(proc, 0700) == 0)
                fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        int saved = errno;
        if (pathfd >= 0)
            close(pathfd);
        errno = saved;
    }
    return fd;
}

static hb_status remove_entry(remover *r, int pfd, const char *name, unsigned depth,
                              unsigned flags);

/* Remove everything in the directory fd (owned by this call). */
static hb_status remove_contents(remover *r, int fd, unsigned depth)
{
    hb_status st = HB_OK;
    hb_err *err = r->err;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", r->path, strerror(errno));
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        HB_TRY(remove_entry(r, dirfd(d), de->d_name, depth + 1, 0));
        errno = 0;
    }
    HB_ENSURE(errno == 0, HB_E_IO, "cannot list '%s': %s", r->path, strerror(errno));
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

static hb_status remove_entry(remover *r, int pfd, const char *name, unsigned depth,
                              unsigned flags)
{
    hb_status st = HB_OK;
    hb_err *err = r->err;
    size_t was = push(r, name);
    struct stat sb;
    int fd = -1;
    if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        HB_ENSURE(errno == ENOENT, HB_E_IO, "cannot remove '%s': %s", r->path, strerror(errno));
        goto cleanup;
    }
    if (flags & HB_BENEATH_OWN_DIR) {
        HB_ENSURE(!S_ISLNK(sb.st_mode), HB_E_REFUSED, "'%s' " LINK_MSG "; left alone", r->path);
        HB_ENSURE(S_ISDIR(sb.st_mode), HB_E_REFUSED, "'%s' is not a directory; left alone",
                  r->path);
        HB_ENSURE(sb.st_uid == geteuid(), HB_E_REFUSED, "'%s' belongs to uid %u, not to this "
                  "user (uid %u); hsmbak removes only directories of its own: left alone, "
                  "its owner may remove it", r->path, (unsigned)sb.st_uid,
                  (unsigned)geteuid());
    }
    for (int tries = 0; tries < 8; tries++) {
        if (!S_ISDIR(sb.st_mode)) {
            if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
                goto cleanup;
            HB_ENSURE(errno == EISDIR || errno == EPERM, HB_E_IO, "cannot remove '%s': %s",
                      r->path, strerror(errno));
            /* It became a directory meanwhile: remove it as one. */
        }
        HB_ENSURE(depth < HB_BENEATH_MAX_DEPTH, HB_E_REFUSED, "'%s' is nested more than %d "
                  "directories deep; not removed", r->path, HB_BENEATH_MAX_DEPTH);
        fd = open_for_removal(pfd, name);
        if (fd < 0) {
            HB_ENSURE(errno == ELOOP || errno == ENOTDIR || errno == ENOENT, HB_E_IO,
                      "cannot open '%s': %s", r->path, strerror(errno));
            if (errno == ENOENT)
                goto cleanup;
            /* A link or a file put in its place: that is removed itself. */
            HB_ENSURE(!(flags & HB_BENEATH_OWN_DIR), HB_E_REFUSED, "'%s' was replaced by a "
                      "link or a file while it was being removed; left alone", r->path);
            sb.st_mode = S_IFREG;
            continue;
        }
        struct stat now;
        HB_ENSURE(fstat(fd, &now) == 0, HB_E_IO, "cannot stat '%s': %s", r->path,
                  strerror(errno));
        HB_ENSURE(!(flags & HB_BENEATH_OWN_DIR) || now.st_uid == geteuid(), HB_E_REFUSED,
                  "'%s' belongs to uid %u, not to this user; left alone", r->path,
                  (unsigned)now.st_uid);
        if ((now.st_mode & 0700) != 0700)
            (void)fchmod(fd, (now.st_mode & 07777) | 0700);
        int dfd = fd;
        fd = -1;
        HB_TRY(remove_contents(r, dfd, depth));
        /* Only an empty directory goes: one swapped in meanwhile that holds
         * entries makes this fail and is left as it is. */
        if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            goto cleanup;
        HB_ENSURE(errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR, HB_E_IO,
                  "cannot remove '%s': %s", r->path, strerror(errno));
        HB_ENSURE(!(flags & HB_BENEATH_OWN_DIR) || errno != ENOTDIR, HB_E_REFUSED, "'%s' was "
                  "replaced by a link or a file while it was being removed; left alone",
                  r->path);
        if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            goto cleanup;
    }
    st = hb_fail(err, HB_E_IO, "cannot remove '%s': it keeps changing while it is removed",
                 r->path);
cleanup:
    if (fd >= 0)
        close(fd);
    r->len = was;
    r->path[was] = '\0';
    return st;
}

hb_status hb_beneath_remove(int dirfd, const char *shown, const char *rel, unsigned flags,
                            hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX], name[NAME_MAX + 1];
    int pfd = -1;
    remover r = {.err = err};
    HB_TRY(check_rel(shown, rel, err));
    HB_TRY(split(shown, rel, dir, sizeof dir, name, err));
    st = hb_beneath_open(dirfd, shown, dir, O_RDONLY | O_DIRECTORY, 0, &pfd, err);
    if (st == HB_E_NOT_FOUND) {
        st = HB_OK;
        goto cleanup;
    }
    HB_TRY(st);
    said(r.path, sizeof r.path, shown, dir, strlen(dir));
    r.len = strlen(r.path);
    if (r.len > 0 && r.path[r.len - 1] == '/')
        r.path[--r.len] = '\0';
    st = remove_entry(&r, pfd, name, 0, flags);
cleanup:
    if (pfd >= 0)
        close(pfd);
    return st;
}
