/* Paths beneath a root directory (issue 11 class 1): the one way hsmbak
 * opens, creates, replaces or removes anything inside a system root, a
 * staging tree or a backup's parent directory.
 *
 * Every path is relative and resolved from a directory fd, never following
 * a symbolic link (nor a /proc magic link) at any component and never
 * leaving that directory: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) on Linux >= 5.6, else (ENOSYS) a component-wise
 * walk of openat(O_NOFOLLOW | O_DIRECTORY). A link in the way is refused
 * (HB_E_REFUSED) with "'SHOWN/PATH' is a symbolic link; ...", naming the
 * first link; an absolute path or a ".." component is refused before any
 * system call. Trees are removed from directory fds with unlinkat, so a
 * link swapped in for a directory mid-walk is removed itself, never
 * entered. `shown` names dirfd in messages ("" for none: then the path is
 * said as it is). */
#ifndef HSMBAK_COMMON_BENEATH_H
#define HSMBAK_COMMON_BENEATH_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Deeper than any system root; a bound on the removal's recursion (one
 * directory fd open per level). */
#define HB_BENEATH_MAX_DEPTH 256

/* Open the directory path itself (the one path taken as the caller gives
 * it; its last component must not be a link). */
hb_status hb_beneath_open_top(const char *path, int *out, hb_err *err) HB_MUST_CHECK;

/* Open rel beneath dirfd with openat's flags and mode (O_NOFOLLOW and
 * O_CLOEXEC added); "" or "." is dirfd's directory itself. A missing
 * component is HB_E_NOT_FOUND. */
hb_status hb_beneath_open(int dirfd, const char *shown, const char *rel, int flags,
                          mode_t mode, int *out, hb_err *err) HB_MUST_CHECK;

/* True when rel exists beneath dirfd (without following links); *is_dir
 * (may be NULL) whether it is a directory, *sb (may be NULL) its lstat. A
 * link on the way to rel is refused like hb_beneath_open. */
hb_status hb_beneath_lstat(int dirfd, const char *shown, const char *rel, bool *exists,
                           struct stat *sb, hb_err *err) HB_MUST_CHECK;

/* mkdir -p rel beneath dirfd, mode for every directory made; *out (may be
 * NULL) the last directory, opened. An existing link is refused, never
 * followed. */
hb_status hb_beneath_mkdirs(int dirfd, const char *shown, const char *rel, mode_t mode,
                            int *out, hb_err *err) HB_MUST_CHECK;

/* Replace the regular file rel beneath dirfd atomically (its directory
 * must exist): a temporary file beside it (O_EXCL, mode), fsync, renameat,
 * fsync of the directory. A link at rel or on the way to it is refused. */
hb_status hb_beneath_write_file(int dirfd, const char *shown, const char *rel,
                                const void *data, size_t len, mode_t mode,
                                hb_err *err) HB_MUST_CHECK;

/* What hb_beneath_remove also demands of rel itself. */
#define HB_BENEATH_OWN_DIR 1u /* a directory owned by geteuid(), else refused */

/* rm -rf rel beneath dirfd from directory fds: nothing is ever followed (a
 * link is removed itself), directories left read-only (0500 from an
 * archive) are made writable through their fd first. A missing rel is
 * fine. flags: HB_BENEATH_OWN_DIR or 0. */
hb_status hb_beneath_remove(int dirfd, const char *shown, const char *rel, unsigned flags,
                            hb_err *err) HB_MUST_CHECK;

/* Test-only: act as if openat2 were missing (ENOSYS), to exercise the
 * component-wise walk. */
void hb_beneath_force_fallback(bool on);

#endif
