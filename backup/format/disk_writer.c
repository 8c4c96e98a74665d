/* Checked tar entries onto disk beneath the staging directory, from
 * directory fds (issue 16; archive_internal.h).
 *
 * libarchive's disk writer with ARCHIVE_EXTRACT_SECURE_SYMLINKS re-walks
 * every component of every entry's absolute path (~40 system calls an
 * entry, docs/benchmarks.md). Here the directories of the current entry
 * stay open as a chain of fds, each opened from its parent with
 * O_NOFOLLOW | O_DIRECTORY (the component-wise beneath walk of
 * common/beneath.c, done once per directory instead of once per entry), and
 * each entry is made relative to its directory's fd: a file is openat
 * O_EXCL | O_NOFOLLOW, written, fchown/fchmod/futimens on its fd. A
 * directory's mode, owner and times are set when the chain leaves it (its
 * entries changed its times; a 0500 directory must stay writable until
 * then). An entry with ACLs, or a symlink with xattrs, goes to libarchive's
 * disk writer as before (rare; the same flags).
 *
 * The checker (archive_read.c) has already refused absolute paths, "..",
 * and paths through or over a symlink entry; a symlink found on disk where
 * a directory is expected (a race with someone else writing the staging
 * tree) fails the openat (ELOOP/ENOTDIR) and the restore. */
#include "backup/format/archive_internal.h"

#include "common/beneath.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NAME_CACHE 64

typedef struct level {
    int fd;
    size_t end;              /* length of the chain's path up to this level */
    bool have_meta;          /* set mode (and owner, times) when leaving it */
    mode_t mode;
    bool have_owner;
    uid_t uid;
    gid_t gid;
    bool have_times;
    struct timespec times[2];
} level;

typedef struct name_id {
    char *name;
    unsigned id;
} name_id;

struct hb_disk_writer {
    const char *name;        /* the archive's, for messages */
    char *root;              /* the staging directory, canonical */
    bool owner;              /* root: restore owners */
    char path[PATH_MAX];     /* the chain's directories, "a/b/c" */
    level lv[HB_BENEATH_MAX_DEPTH + 1];
    size_t depth;            /* lv[0] is the root */
    name_id users[NAME_CACHE], groups[NAME_CACHE];
    size_t n_users, n_groups;
    struct archive *fallback; /* libarchive's disk writer, made when needed */
    char *target;             /* root/entry for the fallback, 2 * PATH_MAX */
};

/* ---- owners: names first, as libarchive's standard lookup does ---- */

static bool lookup_cached(name_id *cache, size_t *n, const char *name, bool user, unsigned *id)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(cache[i].name, name) == 0) {
            *id = cache[i].id;
            return true;
        }
    char buf[16384];
    bool found = false;
    if (user) {
        struct passwd pw, *res = NULL;
        found = getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res != NULL;
        if (found)
            *id = (unsigned)pw.pw_uid;
    } else {
        struct group gr, *res = NULL;
        found = getgrnam_r(name, &gr, buf, sizeof buf, &res) == 0 && res != NULL;
        if (found)
            *id = (unsigned)gr.gr_gid;
    }
    if (found && *n < NAME_CACHE && (cache[*n].name = strdup(name)) != NULL)
        cache[(*n)++].id = *id;
    return found;
}

static void entry_owner(hb_disk_writer *w, struct archive_entry *e, uid_t *uid, gid_t *gid)
{
    unsigned id;
    const char *u = archive_entry_uname(e), *g = archive_entry_gname(e);
    *uid = (uid_t)archive_entry_uid(e);
    *gid = (gid_t)archive_entry_gid(e);
    if (u != NULL && u[0] != '\0' && lookup_cached(w->users, &w->n_users, u, true, &id))
        *uid = (uid_t)id;
    if (g != NULL && g[0] != '\0' && lookup_cached(w->groups, &w->n_groups, g, false, &id))
        *gid = (gid_t)id;
}

/* The mode to set: set-id bits only where the owner is the archive's. */
static mode_t entry_mode(const hb_disk_writer *w, mode_t mode, uid_t uid, gid_t gid,
                         bool owned)
{
    mode &= 07777;
    if (!(w->owner && owned)) {
        if (uid != geteuid())
            mode &= (mode_t)~S_ISUID;
        if (gid != getegid())
            mode &= (mode_t)~S_ISGID;
    }
    return mode;
}

static void entry_times(struct archive_entry *e, struct timespec t[2], bool *set)
{
    t[0] = archive_entry_atime_is_set(e)
               ? (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)}
               : (struct timespec){0, UTIME_OMIT};
    t[1] = archive_entry_mtime_is_set(e)
               ? (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)}
               : (struct timespec){0, UTIME_OMIT};
    *set = archive_entry_atime_is_set(e) || archive_entry_mtime_is_set(e);
}

/* ---- the chain of open directories ---- */

/* Leave the deepest directory: its owner, mode and times, then close. */
static hb_status pop(hb_disk_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    level *l = &w->lv[w->depth];
    if (l->have_meta) {
        bool owned = w->owner && l->have_owner && fchown(l->fd, l->uid, l->gid) == 0;
        mode_t mode = entry_mode(w, l->mode, l->uid, l->gid, owned);
        HB_ENSURE(fchmod(l->fd, mode) == 0 &&
                  (!l->have_times || futimens(l->fd, l->times) == 0), HB_E_IO,
                  "archive '%s': cannot finish extraction: cannot set the attributes of "
                  "'%.*s': %s", w->name, (int)l->end, w->path, strerror(errno));
    } else if (l->have_times) {
        HB_ENSURE(futimens(l->fd, l->times) == 0, HB_E_IO, "archive '%s': cannot finish "
                  "extraction: cannot set the times of '%.*s': %s", w->name, (int)l->end,
                  w->path, strerror(errno));
    }
cleanup:
    close(l->fd);
    w->depth--;
    w->path[w->depth > 0 ? w->lv[w->depth].end : 0] = '\0';
    return st;
}

/* Open (making it, mode 0700 until the chain leaves it, when missing) the
 * directory comp beneath the deepest one, never through a link. */
static hb_status push(hb_disk_writer *w, const char *comp, size_t len, hb_err *err)
{
    hb_status st = HB_OK;
    char name[NAME_MAX + 1];
    level *top = &w->lv[w->depth];
    size_t end = top->end + (top->end > 0 ? 1 : 0) + len;
    bool made = false;
    HB_ENSURE(len <= NAME_MAX && end < sizeof w->path && w->depth < HB_BENEATH_MAX_DEPTH,
              HB_E_VERIFY, "archive '%s': entry path '%s/%.*s' is too long or too deep",
              w->name, w->path, (int)len, comp);
    memcpy(name, comp, len);
    name[len] = '\0';
    int fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        made = mkdirat(top->fd, name, 0700) == 0;
        if (made)
            fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    HB_ENSURE(fd >= 0, HB_E_VERIFY, "archive '%s': cannot extract into '%s%s%s': %s", w->name,
              w->path, w->path[0] ? "/" : "", name,
              errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    if (top->end > 0)
        w->path[top->end] = '/';
    memcpy(w->path + end - len, comp, len);
    w->path[end] = '\0';
    w->depth++;
    /* A directory made on the way (no entry of its own yet) ends 0755; one
     * entered again (a hard link into a directory already done) gets back
     * the times it had. */
    level *l = &w->lv[w->depth];
    *l = (level){.fd = fd, .end = end, .have_meta = made, .mode = 0755};
    struct stat sb;
    if (!made && fstat(fd, &sb) == 0) {
        l->times[0] = sb.st_atim;
        l->times[1] = sb.st_mtim;
        l->have_times = true;
    }
cleanup:
    return st;
}

/* Make the chain the directory dir ("" the root): leave what is not on the
 * way, enter what is missing. */
static hb_status enter(hb_disk_writer *w, const char *dir, size_t len, hb_err *err)
{
    hb_status st = HB_OK;
    while (w->depth > 0) {
        size_t e = w->lv[w->depth].end;
        if (e <= len && memcmp(w->path, dir, e) == 0 && (dir[e] == '/' || e == len))
            break;
        HB_TRY(pop(w, err));
    }
    size_t at = w->lv[w->depth].end;
    while (at < len) {
        if (dir[at] == '/')
            at++;
        const char *slash = memchr(dir + at, '/', len - at);
        size_t n = slash != NULL ? (size_t)(slash - (dir + at)) : len - at;
        HB_TRY(push(w, dir + at, n, err));
        at += n;
    }
cleanup:
    return st;
}

/* The chain at canon's directory; *leaf its last component. */
static hb_status enter_parent(hb_disk_writer *w, const char *canon, const char **leaf,
                              hb_err *err)
{
    const char *slash = strrchr(canon, '/');
    *leaf = slash != NULL ? slash + 1 : canon;
    return enter(w, canon, slash != NULL ? (size_t)(slash - canon) : 0, err);
}

/* Something already at leaf (an archive naming a path twice, as tar allows:
 * the later entry wins): removed unless it is a directory. */
static bool replace(int dfd, const char *leaf)
{
    struct stat sb;
    if (fstatat(dfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
        return false;
    return unlinkat(dfd, leaf, 0) == 0;
}

/* ---- the entries ---- */

static hb_status make_dir(hb_disk_writer *w, struct archive_entry *e, const char *canon,
                          hb_err *err)
{
    hb_status st = HB_OK;
    const char *leaf;
    HB_TRY(enter_parent(w, canon, &leaf, err));
    int dfd = w->lv[w->depth].fd;
    if (mkdirat(dfd, leaf, 0700) != 0 && errno == EEXIST && replace(dfd, leaf))
        (void)mkdirat(dfd, leaf, 0700);
    HB_TRY(push(w, leaf, strlen(leaf), err));
    level *l = &w->lv[w->depth];
    l->have_meta = true;
    l->mode = archive_entry_mode(e);
    l->have_owner = w->owner;
    entry_owner(w, e, &l->uid, &l->gid);
    entry_times(e, l->times, &l->have_times);
cleanup:
    return st;
}

static hb_status write_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return HB_E_IO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return HB_OK;
}

static void set_xattrs(int fd, struct archive_entry *e)
{
    const char *xname;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    /* A failure is a warning in libarchive too (a filesystem without user
     * xattrs): the file is restored without it. */
    while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK)
        if (xname != NULL)
            (void)fsetxattr(fd, xname, value, size, 0);
}

static hb_status make_file(hb_disk_writer *w, struct archive *a, const hb_err *cb,
                           struct archive_entry *e, const char *canon, hb_err *err)
{
    hb_status st = HB_OK;
    const char *leaf;
    int fd = -1;
    uid_t uid;
    gid_t gid;
    struct timespec t[2];
    bool have_times;
    HB_TRY(enter_parent(w, canon, &leaf, err));
    int dfd = w->lv[w->depth].fd;
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    fd = openat(dfd, leaf, flags, 0600);
    if (fd < 0 && errno == EEXIST && replace(dfd, leaf))
        fd = openat(dfd, leaf, flags, 0600);
    HB_ENSURE(fd >= 0, errno == ENOSPC ? HB_E_IO : HB_E_VERIFY, "archive '%s': cannot "
              "extract '%s': %s", w->name, canon, strerror(errno));
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    int64_t end = 0;
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        HB_ENSURE(write_all(fd, buf, len, (off_t)off) == HB_OK, HB_E_IO, "archive '%s': "
                  "cannot write '%s': %s", w->name, canon, strerror(errno));
        if (off + (int64_t)len > end)
            end = off + (int64_t)len;
    }
    if (r != ARCHIVE_EOF)
        HB_TRY(hb_archive_fail(err, cb, a, HB_E_VERIFY, "archive '%s': bad tar data",
                               w->name));
    int64_t size = archive_entry_size(e);
    HB_ENSURE(size <= end || ftruncate(fd, (off_t)size) == 0, HB_E_IO, "archive '%s': cannot "
              "write '%s': %s", w->name, canon, strerror(errno));
    entry_owner(w, e, &uid, &gid);
    bool owned = w->owner && fchown(fd, uid, gid) == 0;
    set_xattrs(fd, e);
    entry_times(e, t, &have_times);
    HB_ENSURE(fchmod(fd, entry_mode(w, archive_entry_mode(e), uid, gid, owned)) == 0 &&
              (!have_times || futimens(fd, t) == 0), HB_E_IO, "archive '%s': cannot finish "
              "'%s': %s", w->name, canon, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    return st;
}

static hb_status make_symlink(hb_disk_writer *w, struct archive_entry *e, const char *canon,
                              hb_err *err)
{
    hb_status st = HB_OK;
    const char *leaf;
    const char *to = archive_entry_symlink(e);
    uid_t uid;
    gid_t gid;
    struct timespec t[2];
    bool have_times;
    HB_ENSURE(to != NULL, HB_E_VERIFY, "archive '%s': symbolic link '%s' has no target",
              w->name, canon);
    HB_TRY(enter_parent(w, canon, &leaf, err));
    int dfd = w->lv[w->depth].fd;
    if (symlinkat(to, dfd, leaf) != 0 && !(errno == EEXIST && replace(dfd, leaf) &&
                                           symlinkat(to, dfd, leaf) == 0))
        HB_FAIL(errno == ENOSPC ? HB_E_IO : HB_E_VERIFY, "archive '%s': cannot extract '%s': "
                "%s", w->name, canon, strerror(errno));
    entry_owner(w, e, &uid, &gid);
    /* A failed chown is a warning, as in libarchive (the link's owner
     * grants nothing). */
    if (w->owner && fchownat(dfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        errno = 0;
    entry_times(e, t, &have_times);
    HB_ENSURE(!have_times || utimensat(dfd, leaf, t, AT_SYMLINK_NOFOLLOW) == 0, HB_E_IO,
              "archive '%s': cannot finish '%s': %s", w->name, canon, strerror(errno));
cleanup:
    return st;
}

static hb_status make_hardlink(hb_disk_writer *w, const char *canon, const char *canon_link,
                               hb_err *err)
{
    hb_status st = HB_OK;
    const char *leaf;
    int tfd = -1;
    char dir[PATH_MAX];
    const char *slash = strrchr(canon_link, '/');
    size_t dlen = slash != NULL ? (size_t)(slash - canon_link) : 0;
    const char *tleaf = slash != NULL ? slash + 1 : canon_link;
    memcpy(dir, canon_link, dlen);
    dir[dlen] = '\0';
    HB_TRY(enter_parent(w, canon, &leaf, err));
    HB_TRY(hb_beneath_open(w->lv[0].fd, w->root, dir, O_PATH | O_DIRECTORY, 0, &tfd, err));
    int dfd = w->lv[w->depth].fd;
    if (linkat(tfd, tleaf, dfd, leaf, 0) != 0 &&
        !(errno == EEXIST && replace(dfd, leaf) && linkat(tfd, tleaf, dfd, leaf, 0) == 0))
        HB_FAIL(errno == ENOSPC ? HB_E_IO : HB_E_VERIFY, "archive '%s': cannot extract '%s': "
                "%s", w->name, canon, strerror(errno));
cleanup:
    if (tfd >= 0)
        close(tfd);
    return st;
}

/* libarchive's disk writer for what the fast path leaves to it. */
static hb_status fallback(hb_disk_writer *w, struct archive *a, const hb_err *cb,
                          struct archive_entry *e, const char *canon, const char *canon_link,
                          hb_err *err)
{
    hb_status st = HB_OK;
    if (w->fallback == NULL) {
        int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                    ARCHIVE_EXTRACT_ACL;
        if (w->owner)
            flags |= ARCHIVE_EXTRACT_OWNER;
        w->fallback = archive_write_disk_new();
        HB_ENSURE(w->fallback != NULL &&
                  archive_write_disk_set_options(w->fallback, flags) == ARCHIVE_OK &&
                  archive_write_disk_set_standard_lookup(w->fallback) == ARCHIVE_OK,
                  HB_E_INTERNAL, "libarchive cannot extract");
        HB_ALLOC(w->target = malloc(2 * PATH_MAX));
    }
    HB_TRY(hb_path_join(w->target, 2 * PATH_MAX, w->root, canon, err));
    archive_entry_copy_pathname(e, w->target);
    if (canon_link != NULL) {
        HB_TRY(hb_path_join(w->target, 2 * PATH_MAX, w->root, canon_link, err));
        archive_entry_copy_hardlink(e, w->target);
    }
    HB_ENSURE(archive_write_header(w->fallback, e) >= ARCHIVE_WARN,
              archive_errno(w->fallback) == ENOSPC ? HB_E_IO : HB_E_VERIFY,
              "archive '%s': cannot extract '%s': %s", w->name, canon,
              archive_error_string(w->fallback));
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
        HB_ENSURE(archive_write_data_block(w->fallback, buf, len, off) >= ARCHIVE_WARN, HB_E_IO,
                  "archive '%s': cannot write '%s': %s", w->name, canon,
                  archive_error_string(w->fallback));
    if (r != ARCHIVE_EOF)
        HB_TRY(hb_archive_fail(err, cb, a, HB_E_VERIFY, "archive '%s': bad tar data",
                               w->name));
    HB_ENSURE(archive_write_finish_entry(w->fallback) >= ARCHIVE_WARN, HB_E_IO,
              "archive '%s': cannot finish '%s': %s", w->name, canon,
              archive_error_string(w->fallback));
cleanup:
    return st;
}

/* ---- the interface ---- */

hb_status hb_disk_writer_open(const char *root, const char *name, hb_disk_writer **out,
                              hb_err *err)
{
    hb_status st = HB_OK;
    hb_disk_writer *w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    w->name = name;
    w->lv[0].fd = -1;
    w->owner = geteuid() == 0;
    HB_ALLOC(w->root = strdup(root));
    HB_TRY(hb_beneath_open_top(root, &w->lv[0].fd, err));
    *out = w;
    w = NULL;
cleanup:
    hb_disk_writer_free(w);
    return st;
}

hb_status hb_disk_writer_root(hb_disk_writer *w, struct archive_entry *e, hb_err *err)
{
    (void)err;
    level *l = &w->lv[0];
    l->have_meta = true;
    l->mode = archive_entry_mode(e);
    l->have_owner = w->owner;
    entry_owner(w, e, &l->uid, &l->gid);
    entry_times(e, l->times, &l->have_times);
    return HB_OK;
}

hb_status hb_disk_writer_entry(hb_disk_writer *w, struct archive *a, const hb_err *cb,
                               struct archive_entry *e, const char *canon,
                               const char *canon_link, hb_err *err)
{
    mode_t type = archive_entry_filetype(e);
    bool acls = archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS |
                                               ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) > 0;
    bool link_xattrs = type == AE_IFLNK && archive_entry_xattr_count(e) > 0;
    if (acls || link_xattrs)
        return fallback(w, a, cb, e, canon, canon_link, err);
    if (canon_link != NULL)
        return make_hardlink(w, canon, canon_link, err);
    if (type == AE_IFDIR)
        return make_dir(w, e, canon, err);
    if (type == AE_IFLNK)
        return make_symlink(w, e, canon, err);
    return make_file(w, a, cb, e, canon, err);
}

hb_status hb_disk_writer_close(hb_disk_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    while (w->depth > 0)
        HB_TRY(pop(w, err));
    HB_ENSURE(w->fallback == NULL || archive_write_close(w->fallback) == ARCHIVE_OK, HB_E_IO,
              "archive '%s': cannot finish extraction: %s", w->name,
              archive_error_string(w->fallback));
    /* The root last: everything inside it changed its times. */
    level *l = &w->lv[0];
    if (l->have_meta) {
        bool owned = w->owner && fchown(l->fd, l->uid, l->gid) == 0;
        HB_ENSURE(fchmod(l->fd, entry_mode(w, l->mode, l->uid, l->gid, owned)) == 0,
                  HB_E_IO, "archive '%s': cannot restore the attributes of its root "
                  "directory: %s", w->name, strerror(errno));
        HB_ENSURE(!l->have_times || futimens(l->fd, l->times) == 0, HB_E_IO,
                  "archive '%s': cannot set the times of '%s': %s", w->name, w->root,
                  strerror(errno));
    }
cleanup:
    return st;
}

void hb_disk_writer_free(hb_disk_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = w->depth; i > 0; i--)
        close(w->lv[i].fd);
    if (w->lv[0].fd >= 0)
        close(w->lv[0].fd);
    for (size_t i = 0; i < w->n_users; i++)
        free(w->users[i].name);
    for (size_t i = 0; i < w->n_groups; i++)
        free(w->groups[i].name);
    archive_write_free(w->fallback);
    free(w->target);
    free(w->root);
    free(w);
}
