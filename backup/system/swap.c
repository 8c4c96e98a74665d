/* Replacing a system root atomically (backup/system/swap.h). */
#include "backup/system/swap.h"

#include "backup/system/pathname.h"
#include "backup/system/swap_inplace.h"
#include "backup/system/tree.h"
#include "common/beneath.h"
#include "common/buf.h"
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

/* Carry the entry name of sdir (root/rel) into ddir (staging/rel's
 * directory): a directory tree is recreated (files hard-linked), a link
 * recreated as the same link, a file hard-linked. Everything from directory
 * fds; nothing is followed on either side (common/beneath.h). */
static hb_status carry_one(int sdir, int ddir, const char *root, const char *staging,
                           const char *name, const char *rel, hb_err *err)
{
    hb_status st = HB_OK;
    char where[PATH_MAX];
    int s2 = -1, d2 = -1;
    struct stat sb;
    if (fstatat(sdir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        HB_ENSURE(errno == ENOENT, HB_E_IO, "cannot stat '%s/%s': %s", root, name,
                  strerror(errno));
        goto cleanup; /* nothing to carry */
    }
    if (S_ISDIR(sb.st_mode)) {
        HB_TRY(hb_beneath_open(sdir, root, name, O_RDONLY | O_DIRECTORY, 0, &s2, err));
        HB_ENSURE(mkdirat(ddir, name, 0700) == 0 || errno == EEXIST, HB_E_IO,
                  "cannot create '%s/%s': %s", staging, name, strerror(errno));
        st = hb_beneath_open(ddir, staging, name, O_RDONLY | O_DIRECTORY, 0, &d2, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "cannot carry '%s' over", rel);
            goto cleanup;
        }
        HB_TRY(hb_format(where, sizeof where, "path", err, "%s/%s", root, name));
        HB_TRY(hb_tree_copy_at(s2, d2, where, true, err));
        HB_ENSURE(fchmod(d2, sb.st_mode & 07777) == 0, HB_E_IO, "cannot set the mode of "
                  "'%s/%s': %s", staging, name, strerror(errno));
    } else if (S_ISLNK(sb.st_mode)) {
        /* The link itself comes over, as it is: never what it points at. */
        char target[PATH_MAX];
        ssize_t len = readlinkat(sdir, name, target, sizeof target - 1);
        HB_ENSURE(len >= 0, HB_E_IO, "cannot read link '%s/%s': %s", root, name,
                  strerror(errno));
        target[len] = '\0';
        HB_ENSURE(symlinkat(target, ddir, name) == 0, HB_E_IO, "cannot create '%s/%s': %s",
                  staging, name, strerror(errno));
    } else {
        HB_ENSURE(linkat(sdir, name, ddir, name, 0) == 0, HB_E_IO, "cannot carry '%s' over: %s",
                  rel, strerror(errno));
    }
cleanup:
    if (s2 >= 0)
        close(s2);
    if (d2 >= 0)
        close(d2);
    return st;
}

/* Carry over everything of root/rel (open as sdir; staging/rel is ddir)
 * that the new tree does not provide. */
static hb_status carry_dir(int sdir, int ddir, const char *root, const char *staging,
                           const char *rel, const char *const *provided, hb_err *err)
{
    hb_status st = HB_OK;
    DIR *d = NULL;
    char sshown[PATH_MAX], dshown[PATH_MAX];
    int lfd = dup(sdir);
    HB_TRY(hb_format(sshown, sizeof sshown, "path", err, "%s%s%s", root, rel[0] ? "/" : "", rel));
    HB_TRY(hb_format(dshown, sizeof dshown, "path", err, "%s%s%s", staging, rel[0] ? "/" : "",
                     rel));
    HB_ENSURE(lfd >= 0 && (d = fdopendir(lfd)) != NULL, HB_E_IO, "cannot list '%s': %s",
              sshown, strerror(errno));
    lfd = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        HB_TRY(hb_path_child(child, sizeof child, rel, de->d_name, err));
        if (is_provided(child, provided))
            continue;
        if (!is_ancestor(child, provided)) {
            HB_TRY(carry_one(sdir, ddir, sshown, dshown, de->d_name, child, err));
            continue;
        }
        /* An ancestor of a resource is the same directory as before: same
         * mode and times (set last, after its entries). A link in its
         * place in the current root is not an ancestor and not followed. */
        struct stat sb;
        if (fstatat(sdir, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        int s2 = -1, d2 = -1;
        HB_TRY(hb_beneath_open(sdir, sshown, de->d_name, O_RDONLY | O_DIRECTORY, 0, &s2, err));
        st = hb_beneath_mkdirs(ddir, dshown, de->d_name, sb.st_mode & 07777, &d2, err);
        if (st == HB_OK)
            st = carry_dir(s2, d2, root, staging, child, provided, err);
        struct timespec times[2] = {sb.st_atim, sb.st_mtim};
        if (st == HB_OK && (fchmod(d2, sb.st_mode & 07777) != 0 || futimens(d2, times) != 0))
            st = hb_fail(err, HB_E_IO, "cannot set the attributes of '%s/%s': %s", staging,
                         child, strerror(errno));
        close(s2);
        if (d2 >= 0)
            close(d2);
        if (st != HB_OK)
            goto cleanup;
    }
cleanup:
    if (lfd >= 0)
        close(lfd);
    if (d != NULL)
        closedir(d);
    return st;
}

/* Both trees' top directories, opened (never through a final link). */
static hb_status open_tops(const char *root, const char *staging, int *sfd, int *dfd,
                           hb_err *err)
{
    hb_status st = hb_beneath_open_top(root, sfd, err);
    if (st == HB_OK && (st = hb_beneath_open_top(staging, dfd, err)) != HB_OK) {
        close(*sfd);
        *sfd = -1;
    }
    return st;
}

hb_status hb_staging_carry_over(const char *root, const char *staging,
                                const char *const *provided, hb_err *err)
{
    hb_status st = HB_OK;
    int sfd = -1, dfd = -1;
    HB_TRY(open_tops(root, staging, &sfd, &dfd, err));
    HB_TRY(carry_dir(sfd, dfd, root, staging, "", provided, err));
cleanup:
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return st;
}

hb_status hb_staging_carry_paths(const char *root, const char *staging,
                                 const char *const *paths, hb_err *err)
{
    hb_status st = HB_OK;
    int sfd = -1, dfd = -1, sp = -1, dp = -1;
    HB_TRY(open_tops(root, staging, &sfd, &dfd, err));
    for (const char *const *p = paths; *p; p++) {
        char dir[PATH_MAX];
        const char *name = NULL;
        HB_TRY(hb_path_parent(*p, dir, sizeof dir, &name, err));
        st = hb_beneath_open(sfd, root, dir, O_RDONLY | O_DIRECTORY, 0, &sp, err);
        if (st == HB_E_NOT_FOUND) {
            st = HB_OK; /* nothing to carry */
            continue;
        }
        HB_TRY(st);
        HB_TRY(hb_beneath_open(dfd, staging, dir, O_RDONLY | O_DIRECTORY, 0, &dp, err));
        char sshown[PATH_MAX], dshown[PATH_MAX];
        HB_TRY(hb_format(sshown, sizeof sshown, "path", err, "%s/%s", root, dir));
        HB_TRY(hb_format(dshown, sizeof dshown, "path", err, "%s/%s", staging, dir));
        HB_TRY(carry_one(sp, dp, strcmp(dir, ".") ? sshown : root,
                         strcmp(dir, ".") ? dshown : staging, name, *p, err));
        close(sp);
        close(dp);
        sp = dp = -1;
    }
cleanup:
    if (sp >= 0)
        close(sp);
    if (dp >= 0)
        close(dp);
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return st;
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
