/* Replacing a system root atomically (backup/system/swap.h). */
#include "backup/system/swap.h"

#include "backup/system/pathname.h"
#include "backup/system/swap_inplace.h"
#include "backup/system/tree.h"
#include "common/fault.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

hb_status hb_staging_create(const char *root, const char *tag, char *out, size_t cap,
                            hb_err *err)
{
    bool mounted = false;
    hb_status st = hb_root_is_mount_point(root, &mounted, err);
    if (st != HB_OK || mounted) /* staged inside the root (swap_inplace.h) */
        return st != HB_OK ? st : hb_inplace_staging_create(root, tag, out, cap, err);
    int n = snprintf(out, cap, "%s%s%s", root, HB_STAGING_INFIX, tag);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "root path too long: '%s'", root);
    st = hb_tree_remove(out, err); /* an earlier attempt of the same tag */
    if (st != HB_OK)
        return st;
    if (mkdir(out, 0700) != 0)
        return hb_fail(err, HB_E_IO, "cannot create staging directory '%s': %s", out,
                       strerror(errno));
    return HB_OK;
}

static bool is_provided(const char *rel, const char *const *provided)
{
    for (const char *const *p = provided; *p; p++)
        if (strcmp(rel, *p) == 0)
            return true;
    return false;
}

static bool is_ancestor(const char *rel, const char *const *provided)
{
    size_t n = strlen(rel);
    for (const char *const *p = provided; *p; p++)
        if (strncmp(*p, rel, n) == 0 && (*p)[n] == '/')
            return true;
    return false;
}

/* Carry one entry (file, link or directory tree) from root/rel to staging/rel. */
static hb_status carry_entry(const char *root, const char *staging, const char *rel,
                             hb_err *err)
{
    char src[PATH_MAX], dst[PATH_MAX];
    hb_status st = hb_path_join(src, sizeof src, root, rel, err);
    if (st == HB_OK)
        st = hb_path_join(dst, sizeof dst, staging, rel, err);
    if (st != HB_OK)
        return st;
    struct stat sb;
    if (lstat(src, &sb) != 0)
        return errno == ENOENT ? HB_OK
                               : hb_fail(err, HB_E_IO, "cannot stat '%s': %s", src,
                                         strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        st = hb_tree_copy(src, dst, true, err);
        if (st == HB_OK)
            chmod(dst, sb.st_mode & 07777);
        return st;
    }
    if (S_ISLNK(sb.st_mode)) {
        char target[PATH_MAX];
        ssize_t len = readlink(src, target, sizeof target - 1);
        if (len < 0)
            return hb_fail(err, HB_E_IO, "cannot read link '%s'", src);
        target[len] = '\0';
        if (symlink(target, dst) != 0)
            return hb_fail(err, HB_E_IO, "cannot create '%s': %s", dst, strerror(errno));
        return HB_OK;
    }
    if (link(src, dst) != 0)
        return hb_fail(err, HB_E_IO, "cannot carry '%s' over: %s", rel, strerror(errno));
    return HB_OK;
}

static hb_status carry_dir(const char *root, const char *staging, const char *rel,
                           const char *const *provided, hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX];
    DIR *d = NULL;
    HB_TRY(hb_path_join(dir, sizeof dir, root, rel[0] ? rel : ".", err));
    d = opendir(dir);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if ((st = hb_path_child(child, sizeof child, rel, de->d_name, err)) != HB_OK)
            break;
        if (is_provided(child, provided))
            continue;
        if (is_ancestor(child, provided)) {
            char src[PATH_MAX], dst[PATH_MAX];
            struct stat sb;
            if ((st = hb_path_join(src, sizeof src, root, child, err)) != HB_OK ||
                (st = hb_path_join(dst, sizeof dst, staging, child, err)) != HB_OK)
                break;
            if (lstat(src, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            if (mkdir(dst, sb.st_mode & 07777) != 0 && errno != EEXIST) {
                st = hb_fail(err, HB_E_IO, "cannot create '%s': %s", dst, strerror(errno));
                break;
            }
            if ((st = carry_dir(root, staging, child, provided, err)) != HB_OK)
                break;
            /* An ancestor of a resource is the same directory as before:
             * same mode and times (set last, after its entries). */
            struct timespec times[2] = {sb.st_atim, sb.st_mtim};
            if (chmod(dst, sb.st_mode & 07777) != 0 || utimensat(AT_FDCWD, dst, times, 0) != 0) {
                st = hb_fail(err, HB_E_IO, "cannot set the attributes of '%s': %s", dst,
                             strerror(errno));
                break;
            }
            continue;
        }
        if ((st = carry_entry(root, staging, child, err)) != HB_OK)
            break;
    }
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}

hb_status hb_staging_carry_over(const char *root, const char *staging,
                                const char *const *provided, hb_err *err)
{
    return carry_dir(root, staging, "", provided, err);
}

hb_status hb_staging_carry_paths(const char *root, const char *staging,
                                 const char *const *paths, hb_err *err)
{
    for (const char *const *p = paths; *p; p++) {
        hb_status st = carry_entry(root, staging, *p, err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* The one-exchange commit (swap.h). */
static hb_status commit_exchange(const char *root, const char *staging, hb_err *err)
{
    hb_status st = HB_OK;
    char parent[PATH_MAX];
    int fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open '%s': %s", staging, strerror(errno));
    /* syncfs: every file of the new tree is on disk before it becomes the root. */
    HB_ENSURE(syncfs(fd) == 0, HB_E_IO, "cannot sync '%s': %s", staging, strerror(errno));
    /* The new root keeps the old root's permissions. */
    struct stat sb;
    if (stat(root, &sb) == 0)
        fchmod(fd, sb.st_mode & 07777);
    close(fd);
    fd = -1;
    HB_ENSURE(renameat2(AT_FDCWD, staging, AT_FDCWD, root, RENAME_EXCHANGE) == 0, HB_E_IO,
              "cannot swap the restored tree into '%s': %s (the root must be a directory on "
              "the same filesystem as its parent, not a mount point); the system is "
              "unchanged", root, strerror(errno));
    hb_err sync_err;
    if (hb_path_parent(root, parent, sizeof parent, NULL, &sync_err) != HB_OK ||
        hb_fsync_dir(parent, &sync_err) != HB_OK) {
        /* The swap happened; only its durability across a power cut is in
         * doubt, which the next sync settles. Not worth failing the restore. */
    }
    hb_fault_point("after-swap");
    /* The old tree is now at the staging path; losing it later is harmless. */
    st = hb_tree_remove(staging, err);
    if (st != HB_OK)
        hb_err_prefix(err, "the new tree is in place, but the old one could not be removed");
cleanup:
    if (fd >= 0)
        close(fd);
    return st;
}

hb_status hb_staging_commit(const char *root, const char *staging, hb_err *err)
{
    if (hb_inplace_staging_is(root, staging))
        return hb_inplace_commit(root, staging, err);
    return commit_exchange(root, staging, err);
}

void hb_staging_discard(const char *root, const char *staging)
{
    bool in_place = hb_inplace_staging_is(root, staging);
    char journal[PATH_MAX];
    /* A half-done swap's journal needs its staging tree to be finished. */
    if (in_place && snprintf(journal, sizeof journal, "%s/.hsmbak/" HB_INPLACE_JOURNAL, root) <
                        (int)sizeof journal &&
        faccessat(AT_FDCWD, journal, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return;
    hb_tree_remove_quietly(staging);
}
