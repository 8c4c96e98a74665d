/* The local-directory backend of storage.h: a backup is a directory, built
 * under a hidden partial name beside it and renamed into place when every
 * file and the directory are synced (DESIGN §4); files 0600, directory 0700. */
#include "backup/storage/backend.h"

#include "common/beneath.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hb_local {
    char dest[PATH_MAX];
    char shown[PATH_MAX];
    char partial[PATH_MAX];  /* "" until made, and once renamed */
    unsigned stale_removed;
    hb_strlist warnings;     /* stale partials left alone, and why */
};

struct hb_local_writer {
    int fd;
    char path[PATH_MAX];
};

struct hb_local_reader {
    int fd;
    char path[PATH_MAX];
};

hb_status hb_local_open(const char *path, const char *shown, hb_local **out,
                              hb_err *err)
{
    hb_status st = HB_OK;
    hb_local *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    HB_TRY(hb_format(s->dest, sizeof s->dest, "path", err, "%s", path));
    HB_TRY(hb_format(s->shown, sizeof s->shown, "path", err, "%s", shown ? shown : path));
    *out = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* True when dir is a directory with no entries. */
static bool dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    bool empty = true;
    struct dirent *de;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* Split dest into its parent (out) and base name. */
static hb_status parent_of(const char *dest, char *out, size_t cap, const char **base,
                           hb_err *err)
{
    const char *slash = strrchr(dest, '/');
    if (slash == NULL) {
        *base = dest;
        return hb_format(out, cap, "path", err, ".");
    }
    *base = slash + 1;
    if (slash == dest)
        return hb_format(out, cap, "path", err, "/");
    return hb_format(out, cap, "path", err, "%.*s", (int)(slash - dest), dest);
}

/* Remove the partial directory name of the directory pfd (shown as
 * parent): from pfd, never through a link, and only when it is a directory
 * of this user (a shared parent may hold another user's, or a link put
 * there to make us delete something else). */
static hb_status remove_partial(int pfd, const char *parent, const char *name, hb_err *err)
{
    return hb_beneath_remove(pfd, parent, name, HB_BENEATH_OWN_DIR, err);
}

/* A killed backup leaves .BASE.hsmbak-partial-PID beside its destination;
 * remove those whose process is gone (a live one is another backup). What
 * is refused (not this user's, or not a directory) is left alone and said
 * in s->warnings. */
static void remove_stale_partials(hb_local *s, int pfd, const char *parent, const char *base)
{
    char prefix[NAME_MAX + 32];
    hb_err ignored;
    if (hb_format(prefix, sizeof prefix, "name", &ignored, ".%s.hsmbak-partial-", base) !=
        HB_OK)
        return;
    size_t n = strlen(prefix);
    int lfd = dup(pfd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (d == NULL) {
        if (lfd >= 0)
            close(lfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, n) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        long pid = strtol(de->d_name + n, &end, 10);
        if (errno != 0 || end == de->d_name + n || *end != '\0' || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        hb_err why;
        if (remove_partial(pfd, parent, de->d_name, &why) == HB_OK) {
            s->stale_removed++;
            continue;
        }
        if (hb_strlist_addf(&s->warnings, &ignored, "secure-backup: a stale partial backup "
                            "was not removed: %s", why.msg) != HB_OK) {
            /* Out of memory for a warning: the partial stays, said or not. */
        }
    }
    closedir(d);
}

hb_status hb_local_begin(hb_local *s, hb_err *err)
{
    hb_status st = HB_OK;
    char parent[PATH_MAX], partial[PATH_MAX], name[NAME_MAX + 1];
    const char *base = NULL;
    struct stat sb;
    int pfd = -1;
    if (lstat(s->dest, &sb) == 0) {
        HB_ENSURE(S_ISDIR(sb.st_mode), HB_E_REFUSED, "destination '%s' exists and is not a "
                  "directory", s->dest);
        HB_ENSURE(dir_is_empty(s->dest), HB_E_REFUSED, "destination '%s' is not empty; a "
                  "backup never overwrites files: choose a new directory", s->dest);
    }
    HB_TRY(parent_of(s->dest, parent, sizeof parent, &base, err));
    HB_ENSURE(*base != '\0', HB_E_USAGE, "destination '%s' has no directory name", s->dest);
    if (strchr(s->dest, '/') != NULL)
        HB_TRY(hb_mkdirs(parent, 0700, err));
    pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HB_ENSURE(pfd >= 0, HB_E_IO, "cannot open '%s': %s", parent, strerror(errno));
    remove_stale_partials(s, pfd, parent, base);
    HB_TRY(hb_format(name, sizeof name, "destination name", err, ".%s.hsmbak-partial-%ld",
                     base, (long)getpid()));
    HB_TRY(hb_path_join(partial, sizeof partial, parent, name, err));
    HB_TRY(remove_partial(pfd, parent, name, err)); /* this pid's, from an earlier run */
    HB_ENSURE(mkdirat(pfd, name, 0700) == 0, HB_E_IO, "cannot create '%s': %s", partial,
              strerror(errno));
    memcpy(s->partial, partial, sizeof partial);
cleanup:
    if (pfd >= 0)
        close(pfd);
    return st;
}

hb_status hb_local_put(hb_local *s, const char *name, hb_local_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_local_writer *w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    w->fd = -1;
    HB_ENSURE(s->partial[0] != '\0', HB_E_USAGE, "hb_store_put: hb_store_begin not called");
    HB_ENSURE(strchr(name, '/') == NULL && name[0] != '.', HB_E_USAGE,
              "'%s' is not a file name of a backup", name);
    HB_TRY(hb_path_join(w->path, sizeof w->path, s->partial, name, err));
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    HB_ENSURE(w->fd >= 0, errno == EEXIST ? HB_E_REFUSED : HB_E_IO, "cannot create '%s': %s",
              w->path, strerror(errno));
    *out = w;
    w = NULL;
cleanup:
    free(w);
    return st;
}

hb_status hb_local_write(void *writer, const uint8_t *buf, size_t len, hb_err *err)
{
    hb_local_writer *w = writer;
    return hb_write_all(w->fd, buf, len, w->path, err);
}

hb_status hb_local_put_commit(hb_local_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    HB_ENSURE(fsync(w->fd) == 0, HB_E_IO, "cannot sync '%s': %s", w->path, strerror(errno));
    int rc = close(w->fd);
    w->fd = -1;
    HB_ENSURE(rc == 0, HB_E_IO, "cannot write '%s': %s", w->path, strerror(errno));
cleanup:
    if (st != HB_OK)
        hb_local_put_abort(w);
    else
        free(w);
    return st;
}

void hb_local_put_abort(hb_local_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    (void)unlink(w->path);
    free(w);
}

hb_status hb_local_finish(hb_local *s, hb_err *err)
{
    hb_status st = HB_OK;
    char parent[PATH_MAX];
    const char *base = NULL;
    HB_TRY(hb_fsync_dir(s->partial, err));
    /* rename(2) also replaces an empty directory; a directory that gained
     * entries meanwhile makes it fail, and nothing is overwritten. */
    if (rename(s->partial, s->dest) != 0)
        HB_FAIL(errno == ENOTEMPTY || errno == EEXIST ? HB_E_REFUSED : HB_E_IO,
                "cannot move the finished backup to '%s': %s", s->dest, strerror(errno));
    s->partial[0] = '\0';
    HB_TRY(parent_of(s->dest, parent, sizeof parent, &base, err));
    HB_TRY(hb_fsync_dir(parent, err));
cleanup:
    return st;
}

const char *hb_local_location(const hb_local *s)
{
    return s->dest;
}

unsigned hb_local_stale_removed(const hb_local *s)
{
    return s->stale_removed;
}

const hb_strlist *hb_local_warnings(const hb_local *s)
{
    return &s->warnings;
}

hb_status hb_local_get(hb_local *s, const char *name, hb_local_reader **out, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat sb;
    hb_local_reader *r = calloc(1, sizeof *r);
    HB_ALLOC(r);
    r->fd = -1;
    HB_TRY(hb_path_join(r->path, sizeof r->path, s->dest, name, err));
    HB_TRY(hb_open_input(r->path, &r->fd, &sb, err));
    *out = r;
    r = NULL;
cleanup:
    hb_local_reader_free(r);
    return st;
}

hb_status hb_local_read(void *reader, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    hb_local_reader *r = reader;
    return hb_read_some(r->fd, buf, cap, got, r->path, err);
}

void hb_local_reader_free(hb_local_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

void hb_local_free(hb_local *s)
{
    if (s == NULL)
        return;
    if (s->partial[0] != '\0') {
        char parent[PATH_MAX];
        const char *base = NULL;
        hb_err ignored;
        int pfd = -1;
        if (parent_of(s->partial, parent, sizeof parent, &base, &ignored) == HB_OK &&
            (pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
            remove_partial(pfd, parent, base, &ignored) != HB_OK) {
            /* Left for the next backup's stale-partial cleanup. */
        }
        if (pfd >= 0)
            close(pfd);
    }
    hb_strlist_free(&s->warnings);
    free(s);
}

hb_status hb_local_stat(hb_local *s, const char *name, uint64_t *size, bool *regular,
                        hb_err *err)
{
    char path[PATH_MAX];
    struct stat sb;
    hb_status st = hb_path_join(path, sizeof path, s->dest, name, err);
    if (st != HB_OK)
        return st;
    if (lstat(path, &sb) != 0)
        return hb_fail(err, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO, "cannot read '%s': %s",
                       path, strerror(errno));
    *size = (uint64_t)sb.st_size;
    *regular = S_ISREG(sb.st_mode);
    return HB_OK;
}

hb_status hb_local_list(hb_local *s, hb_store_name_fn fn, void *ctx, hb_err *err)
{
    hb_status st = HB_OK;
    DIR *d = opendir(s->dest);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", s->dest, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            HB_TRY(fn(ctx, de->d_name, err));
cleanup:
    if (d != NULL)
        closedir(d);
    return st;
}
