/* Hardened file helpers shared by every layer (STYLE.md "hardened file I/O"):
 * size caps on reads, O_EXCL + 0600 for anything written, fsync before a
 * rename makes a file visible, and "no space" said plainly. */
#ifndef HSMBAK_COMMON_FILEIO_H
#define HSMBAK_COMMON_FILEIO_H

#include "hsmbak/status.h"

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Open an input file for reading, the one way hsmbak does: refuse (HB_E_IO,
 * "cannot read 'NAME': it is a FIFO, not a regular file; ...") anything but
 * a regular file — symbolic link (never followed), FIFO, socket, device,
 * directory — looked at before it is opened (lstat) and again after
 * (O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC|O_NOCTTY, fstat, the same inode), so a
 * FIFO never hangs and a device is never opened. *fd is blocking again;
 * *sb (may be NULL) is its fstat. name is relative to dirfd (AT_FDCWD). */
hb_status hb_open_input_at(int dirfd, const char *name, int *fd, struct stat *sb,
                           hb_err *err) HB_MUST_CHECK;
hb_status hb_open_input(const char *path, int *fd, struct stat *sb, hb_err *err) HB_MUST_CHECK;

/* Read a whole regular file of at most cap bytes, opened by hb_open_input (a
 * symbolic link is refused, not followed: resolve a link meant to be read,
 * such as /etc/os-release, first). *data is NUL-terminated (not counted in
 * *len) and owned by the caller (free with free()). */
hb_status hb_read_file(const char *path, size_t cap, unsigned char **data, size_t *len,
                       hb_err *err) HB_MUST_CHECK;

/* One read(2) of at most cap bytes, retried when a signal interrupts it;
 * *got = 0 only at end of file. what names the file in messages. */
hb_status hb_read_some(int fd, void *buf, size_t cap, size_t *got, const char *what,
                       hb_err *err) HB_MUST_CHECK;

/* Write all of buf to fd; what names the file in messages. ENOSPC and EDQUOT
 * become "no space left" with HB_E_IO. */
hb_status hb_write_all(int fd, const void *buf, size_t len, const char *what,
                       hb_err *err) HB_MUST_CHECK;

/* Replace path atomically: write a temporary file beside it (O_EXCL, mode),
 * fsync it, rename it over path, fsync the directory. */
hb_status hb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                               hb_err *err) HB_MUST_CHECK;

/* fsync the directory that holds path (or path itself when it is a dir). */
hb_status hb_fsync_dir(const char *dir, hb_err *err) HB_MUST_CHECK;

/* mkdir -p with mode for every directory created. */
hb_status hb_mkdirs(const char *path, mode_t mode, hb_err *err) HB_MUST_CHECK;

/* SHA-256 of the regular file name (relative to dirfd, or AT_FDCWD), read
 * without following a final symlink, as 64 lowercase hex digits. */
hb_status hb_sha256_fileat(int dirfd, const char *name, char out[65], hb_err *err) HB_MUST_CHECK;

/* snprintf that fails (HB_E_USAGE, "path too long") instead of truncating. */
hb_status hb_path_join(char *out, size_t cap, const char *a, const char *b,
                       hb_err *err) HB_MUST_CHECK;

#endif
