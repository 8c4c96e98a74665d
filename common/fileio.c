/* Hardened file helpers (common/fileio.h). */
#include "common/fileio.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static hb_status io_fail(hb_err *err, int e, const char *verb, const char *what)
{
    if (e == ENOSPC || e == EDQUOT)
        return hb_fail(err, HB_E_IO,
                       "no space left to %s '%s'; free some space on that filesystem and "
                       "run the command again", verb, what);
    if (e == ENOENT)
        return hb_fail(err, HB_E_NOT_FOUND, "cannot %s '%s': no such file or directory",
                       verb, what);
    if (e == EACCES || e == EPERM)
        return hb_fail(err, HB_E_IO, "cannot %s '%s': permission denied", verb, what);
    return hb_fail(err, HB_E_IO, "cannot %s '%s': %s", verb, what, strerror(e));
}

static const char *kind_of(mode_t mode)
{
    return S_ISLNK(mode)    ? "a symbolic link"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISDIR(mode)  ? "a directory"
                            : "of an unknown type";
}

static hb_status not_regular(hb_err *err, const char *name, mode_t mode)
{
    /* A link is never followed (issue 11): say how to name what it points to. */
    if (S_ISLNK(mode))
        return hb_fail(err, HB_E_IO, "cannot read '%s': it is a symbolic link, and hsmbak "
                       "never reads input through one; give the file it points to "
                       "(readlink -f '%s')", name, name);
    return hb_fail(err, HB_E_IO, "cannot read '%s': it is %s, not a regular file; hsmbak "
                   "reads its input from regular files only", name, kind_of(mode));
}

hb_status hb_open_input_at(int dirfd, const char *name, int *fd_out, struct stat *sb_out,
                           hb_err *err)
{
    struct stat before, sb;
    *fd_out = -1;
    /* Look before opening, so a device or FIFO is never opened at all
     * (opening one can block, or act: a FIFO waits for a writer, a tape
     * rewinds); then open without following a link and without blocking,
     * and check that what was opened is what was looked at. */
    if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) != 0)
        return io_fail(err, errno, "read", name);
    if (!S_ISREG(before.st_mode))
        return not_regular(err, name, before.st_mode);
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ELOOP ? not_regular(err, name, S_IFLNK)
                              : io_fail(err, errno, "read", name);
    if (fstat(fd, &sb) != 0) {
        hb_status st = io_fail(err, errno, "read", name);
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_dev != before.st_dev || sb.st_ino != before.st_ino) {
        close(fd);
        if (!S_ISREG(sb.st_mode))
            return not_regular(err, name, sb.st_mode);
        return hb_fail(err, HB_E_IO, "cannot read '%s': it was replaced while it was being "
                       "opened; run the command again", name);
    }
    /* Reads of a regular file then block as usual (O_NONBLOCK is only for
     * the open). */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        hb_status st = io_fail(err, errno, "read", name);
        close(fd);
        return st;
    }
    *fd_out = fd;
    if (sb_out != NULL)
        *sb_out = sb;
    return HB_OK;
}

hb_status hb_open_input(const char *path, int *fd, struct stat *sb, hb_err *err)
{
    return hb_open_input_at(AT_FDCWD, path, fd, sb, err);
}

hb_status hb_read_file(const char *path, size_t cap, unsigned char **data, size_t *len,
                       hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *buf = NULL;
    size_t alloc = 0;
    struct stat sb;
    int fd = -1;
    HB_TRY(hb_open_input(path, &fd, &sb, err));
    HB_ENSURE((unsigned long long)sb.st_size <= cap, HB_E_REFUSED,
              "'%s' is %lld bytes, more than the %zu-byte limit", path,
              (long long)sb.st_size, cap);
    /* Read up to cap+1 bytes so a file that grows while we read is caught. */
    size_t want = (size_t)sb.st_size, got = 0, size = want + 1;
    alloc = size + 1;
    buf = malloc(alloc);
    HB_ENSURE(buf != NULL, HB_E_INTERNAL, "out of memory reading '%s'", path);
    for (;;) {
        size_t n = 0;
        HB_TRY(hb_read_some(fd, buf + got, size - got, &n, path, err));
        if (n == 0)
            break;
        got += n;
        HB_ENSURE(got < size, HB_E_IO, "'%s' changed while it was being read", path);
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
cleanup:
    /* A file may hold a PIN: what was read is wiped before it is dropped. */
    if (buf != NULL)
        OPENSSL_cleanse(buf, alloc);
    free(buf);
    if (fd >= 0)
        close(fd);
    return st;
}

hb_status hb_read_some(int fd, void *buf, size_t cap, size_t *got, const char *what,
                       hb_err *err)
{
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return HB_OK;
        }
        if (errno != EINTR)
            return io_fail(err, errno, "read", what);
    }
}

hb_status hb_write_all(int fd, const void *buf, size_t len, const char *what, hb_err *err)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return io_fail(err, errno, "write", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return HB_OK;
}

hb_status hb_path_join(char *out, size_t cap, const char *a, const char *b, hb_err *err)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "path too long: '%s/%s'", a, b);
    return HB_OK;
}

hb_status hb_fsync_dir(const char *dir, hb_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, errno, "open directory", dir);
    hb_status st = HB_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        st = io_fail(err, errno, "sync directory", dir);
    close(fd);
    return st;
}

/* The directory that holds path: "." for a bare name, "/" for "/x". */
static hb_status parent_of(const char *path, char *out, size_t cap, hb_err *err)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return hb_format(out, cap, "path", err, ".");
    if (slash == path)
        return hb_format(out, cap, "path", err, "/");
    return hb_format(out, cap, "path", err, "%.*s", (int)(slash - path), path);
}

hb_status hb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                               hb_err *err)
{
    hb_status st = HB_OK;
    char tmp[PATH_MAX], dir[PATH_MAX];
    int fd = -1;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        tmp[0] = '\0'; /* nothing of ours to remove */
        HB_FAIL(HB_E_USAGE, "path too long: '%s'", path);
    }
    HB_TRY(parent_of(path, dir, sizeof dir, err));

    (void)unlink(tmp); /* a leftover of this pid from an earlier crash */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        st = io_fail(err, errno, "create", tmp);
        goto cleanup;
    }
    HB_TRY(hb_write_all(fd, data, len, path, err));
    if (fsync(fd) != 0) {
        st = io_fail(err, errno, "sync", path);
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = io_fail(err, errno, "write", path);
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = io_fail(err, errno, "replace", path);
        goto cleanup;
    }
    st = hb_fsync_dir(dir, err);
cleanup:
    if (fd >= 0)
        close(fd);
    if (st != HB_OK && tmp[0] != '\0')
        (void)unlink(tmp);
    return st;
}

hb_status hb_mkdirs(const char *path, mode_t mode, hb_err *err)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return hb_fail(err, HB_E_USAGE, "path too long: '%s'", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST)
                return io_fail(err, errno, "create directory", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hb_fail(err, HB_E_IO, "'%s' exists and is not a directory", path);
    return HB_OK;
}

hb_status hb_sha256_fileat(int dirfd, const char *name, char out[65], hb_err *err)
{
    hb_status st = HB_OK;
    EVP_MD_CTX *md = NULL;
    unsigned char buf[1 << 16], digest[32];
    int fd = -1;
    HB_TRY(hb_open_input_at(dirfd, name, &fd, NULL, err));
    md = EVP_MD_CTX_new();
    HB_ENSURE(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL), HB_E_INTERNAL,
              "SHA-256 unavailable");
    for (;;) {
        size_t n = 0;
        HB_TRY(hb_read_some(fd, buf, sizeof buf, &n, name, err));
        if (n == 0)
            break;
        HB_ENSURE(EVP_DigestUpdate(md, buf, n), HB_E_INTERNAL, "SHA-256 failed");
    }
    HB_ENSURE(EVP_DigestFinal_ex(md, digest, NULL), HB_E_INTERNAL, "SHA-256 failed");
    hb_hex_encode(digest, sizeof digest, out);
cleanup:
    EVP_MD_CTX_free(md);
    if (fd >= 0)
        close(fd);
    return st;
}
