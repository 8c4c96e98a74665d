/* Replacing a root that is its own filesystem (swap_inplace.h). */
#include "backup/system/swap_inplace.h"

#include "backup/system/profile.h"
#include "backup/system/tree.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fault.h"
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *const hb_inplace_pinned[] = {HB_PROFILE_STATE_DIR, "lost+found", NULL};

/* Every directory is opened from its parent's fd, never through a link
 * (the one place to switch to a beneath-resolver later). */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define JOURNAL_TMP HB_INPLACE_JOURNAL ".tmp"
#define JOURNAL_MAGIC "hsmbak swap-journal 1"
#define MAX_ENTRIES 100000            /* top-level entries of one root */
#define JOURNAL_CAP ((size_t)64 << 20) /* MAX_ENTRIES of the longest names */

typedef struct entry {
    char kind;              /* 'x' exchange, 'i' move in, 'o' move out */
    unsigned long long ino; /* the new entry ('x', 'i') or the old one ('o') */
    char *name;
} entry;

typedef struct plan {
    entry *e;
    size_t n;
    char staging[NAME_MAX + 1]; /* in ROOT/.hsmbak */
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->e[i].name);
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

static int open_dir_at(int dirfd, const char *name) { return openat(dirfd, name, DIR_FLAGS); }

static bool is_pinned(const char *name)
{
    for (const char *const *p = hb_inplace_pinned; *p; p++)
        if (strcmp(name, *p) == 0)
            return true;
    return false;
}

static bool dot_or_dotdot(const char *n)
{
    return strcmp(n, ".") == 0 || strcmp(n, "..") == 0;
}

/* *yes when dirfd/name (name "" for dirfd itself) is the root of a mount:
 * statx says so where the kernel tells (Linux >= 5.8), else its device
 * differs from dev (0: no device to compare with). */
static hb_status mount_root_at(int dirfd, const char *name, dev_t dev, bool *yes,
                               const char *what, hb_err *err)
{
    struct statx sx;
    int flags = AT_SYMLINK_NOFOLLOW | (name[0] == '\0' ? AT_EMPTY_PATH : 0);
    if (statx(dirfd, name, flags, STATX_BASIC_STATS, &sx) != 0)
        return hb_fail(err, HB_E_IO, "cannot stat '%s': %s", what, strerror(errno));
    dev_t here = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    *yes = (dev != 0 && here != dev) ||
           ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
            (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0);
    return HB_OK;
}

hb_status hb_root_is_mount_point(const char *root, bool *yes, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat self, up;
    int fd = open(root, DIR_FLAGS);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open the system root '%s': %s", root, strerror(errno));
    HB_ENSURE(fstat(fd, &self) == 0 && fstatat(fd, "..", &up, 0) == 0, HB_E_IO,
              "cannot stat '%s' and its parent: %s", root, strerror(errno));
    *yes = self.st_dev != up.st_dev || self.st_ino == up.st_ino;
    if (!*yes)
        HB_TRY(mount_root_at(fd, "", 0, yes, root, err));
cleanup:
    if (fd >= 0)
        close(fd);
    return st;
}

/* ROOT/.hsmbak opened, checked to be a directory of the root's own mount. */
static hb_status open_state(int rootfd, const char *root, int *out, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat rs;
    bool own = false;
    int fd = open_dir_at(rootfd, HB_PROFILE_STATE_DIR);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open '%s/" HB_PROFILE_STATE_DIR "': %s (it must be a "
              "directory, not a link)", root, strerror(errno));
    HB_ENSURE(fstat(rootfd, &rs) == 0, HB_E_IO, "cannot stat '%s': %s", root, strerror(errno));
    HB_TRY(mount_root_at(fd, "", rs.st_dev, &own, root, err));
    HB_ENSURE(!own, HB_E_REFUSED, "'%s/" HB_PROFILE_STATE_DIR "' is a mount point of its own: "
              "the restored tree is staged there and renamed into the root, which cannot "
              "cross mounts; make it part of the root's filesystem", root);
    *out = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    return st;
}

/* Directory fd's entries one by one: each(name) until it fails. */
typedef hb_status (*each_fn)(void *ctx, const char *name, hb_err *err);

static hb_status each_name(int dirfd, const char *what, each_fn each, void *ctx, hb_err *err)
{
    hb_status st = HB_OK;
    DIR *d = NULL;
    int fd = open_dir_at(dirfd, ".");
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot list '%s': %s", what, strerror(errno));
    d = fdopendir(fd);
    HB_ENSURE(d != NULL, HB_E_IO, "cannot list '%s': %s", what, strerror(errno));
    fd = -1;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!dot_or_dotdot(de->d_name))
            HB_TRY(each(ctx, de->d_name, err));
        errno = 0;
    }
    HB_ENSURE(errno == 0, HB_E_IO, "cannot list '%s': %s", what, strerror(errno));
cleanup:
    if (d != NULL)
        closedir(d);
    if (fd >= 0)
        close(fd);
    return st;
}

/* ---- the plan: what is swapped ---------------------------------------------- */

typedef struct planner {
    plan *p;
    int rootfd, stagefd;
    dev_t dev;
    const char *root;
    bool from_root; /* listing the root (entries the new tree lacks) */
} planner;

/* A top-level entry of the root must be of the root's own mount: a rename
 * cannot move a mount point. */
static hb_status check_not_mount(int rootfd, const char *name, dev_t dev, const char *root,
                                 hb_err *err)
{
    bool mnt = false;
    char what[PATH_MAX];
    hb_err ignored;
    if (hb_format(what, sizeof what, "a path", &ignored, "%s/%s", root, name) != HB_OK)
        memcpy(what, "an entry of the root", sizeof "an entry of the root");
    hb_status st = mount_root_at(rootfd, name, dev, &mnt, what, err);
    if (st == HB_OK && mnt)
        st = hb_fail(err, HB_E_REFUSED, "'%s' is a mount point of its own: a restore or reset "
                     "replaces the root's top-level entries by rename, which cannot move a "
                     "mount; unmount it and run this again (the system is unchanged)", what);
    return st;
}

static hb_status plan_one(void *ctx, const char *name, hb_err *err)
{
    hb_status st = HB_OK;
    planner *pl = ctx;
    struct stat r, s;
    entry e = {0}, *slot = NULL;
    if (is_pinned(name))
        goto cleanup;
    bool have_r = fstatat(pl->rootfd, name, &r, AT_SYMLINK_NOFOLLOW) == 0;
    HB_ENSURE(have_r || errno == ENOENT, HB_E_IO, "cannot stat '%s/%s': %s", pl->root, name,
              strerror(errno));
    bool have_s = fstatat(pl->stagefd, name, &s, AT_SYMLINK_NOFOLLOW) == 0;
    HB_ENSURE(have_s || errno == ENOENT, HB_E_IO, "cannot stat '%s' in the staging tree: %s",
              name, strerror(errno));
    if (pl->from_root && have_s)
        goto cleanup; /* planned from the staging side */
    if (have_r)
        HB_TRY(check_not_mount(pl->rootfd, name, pl->dev, pl->root, err));
    e.kind = pl->from_root ? 'o' : have_r ? 'x' : 'i';
    e.ino = pl->from_root ? (unsigned long long)r.st_ino : (unsigned long long)s.st_ino;
    e.name = strdup(name);
    HB_ALLOC(e.name);
    HB_PUSH_MOVE(slot, pl->p->e, pl->p->n, MAX_ENTRIES, e);
cleanup:
    free(e.name);
    return st;
}

static hb_status make_plan(plan *p, int rootfd, int stagefd, const char *root,
                           const char *staging, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat rs;
    HB_ENSURE(fstat(rootfd, &rs) == 0, HB_E_IO, "cannot stat '%s': %s", root, strerror(errno));
    planner pl = {.p = p, .rootfd = rootfd, .stagefd = stagefd, .dev = rs.st_dev,
                  .root = root};
    HB_TRY(each_name(stagefd, staging, plan_one, &pl, err));
    pl.from_root = true;
    HB_TRY(each_name(rootfd, root, plan_one, &pl, err));
cleanup:
    return st;
}

/* ---- the journal --------------------------------------------------------------- */

static hb_status journal_text(const plan *p, hb_buf *b, hb_err *err)
{
    hb_status st = HB_OK;
    char hex[2 * NAME_MAX + 1];
    HB_TRY(hb_buf_addf(b, err, JOURNAL_MAGIC "\nstaging %s\n", p->staging));
    for (size_t i = 0; i < p->n; i++) {
        size_t len = strlen(p->e[i].name);
        HB_ENSURE(len <= NAME_MAX, HB_E_INTERNAL, "name too long: '%s'", p->e[i].name);
        hb_hex_encode((const uint8_t *)p->e[i].name, len, hex);
        HB_TRY(hb_buf_addf(b, err, "%c %llu %s\n", p->e[i].kind, p->e[i].ino, hex));
    }
    HB_TRY(hb_buf_adds(b, "end\n", err));
cleanup:
    return st;
}

/* Written beside, synced, renamed into place, the directory synced: the
 * journal is there whole or not at all. */
static hb_status write_journal(int statefd, const hb_buf *b, const char *root, hb_err *err)
{
    hb_status st = HB_OK;
    int fd = -1;
    bool placed = false;
    (void)unlinkat(statefd, JOURNAL_TMP, 0);
    fd = openat(statefd, JOURNAL_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot write the swap journal in '%s/" HB_PROFILE_STATE_DIR
              "': %s", root, strerror(errno));
    HB_TRY(hb_write_all(fd, b->data, b->len, "the swap journal", err));
    HB_ENSURE(fsync(fd) == 0, HB_E_IO, "cannot sync the swap journal: %s", strerror(errno));
    HB_ENSURE(renameat(statefd, JOURNAL_TMP, statefd, HB_INPLACE_JOURNAL) == 0, HB_E_IO,
              "cannot put the swap journal in place: %s", strerror(errno));
    placed = true;
    HB_ENSURE(fsync(statefd) == 0, HB_E_IO, "cannot sync '%s/" HB_PROFILE_STATE_DIR "': %s",
              root, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (st != HB_OK) /* no swap started: the journal must not make the next run start one */
        (void)unlinkat(statefd, placed ? HB_INPLACE_JOURNAL : JOURNAL_TMP, 0);
    return st;
}

static bool staging_name_ok(const char *n, size_t len)
{
    size_t pre = strlen(HB_INPLACE_STAGING_PREFIX);
    return len > pre && len <= NAME_MAX && strncmp(n, HB_INPLACE_STAGING_PREFIX, pre) == 0 &&
           memchr(n, '/', len) == NULL && memchr(n, '\0', len) == NULL;
}

/* One line of the journal at *pos (without its newline), or NULL at the end. */
static const char *next_line(const char *text, size_t len, size_t *pos, size_t *n)
{
    if (*pos >= len)
        return NULL;
    const char *line = text + *pos;
    const char *nl = memchr(line, '\n', len - *pos);
    *n = nl != NULL ? (size_t)(nl - line) : len - *pos;
    *pos += *n + (nl != NULL);
    return line;
}

static hb_status parse_entry(const char *line, size_t n, entry *e, hb_err *err)
{
    hb_status st = HB_OK;
    char num[24];
    const char *sp = n > 2 ? memchr(line + 2, ' ', n - 2) : NULL;
    HB_ENSURE(n > 4 && (line[0] == 'x' || line[0] == 'i' || line[0] == 'o') && line[1] == ' ' &&
              sp != NULL && (size_t)(sp - line - 2) < sizeof num, HB_E_VERIFY, "bad entry");
    size_t digits = (size_t)(sp - line - 2), hexlen = n - (size_t)(sp - line) - 1;
    memcpy(num, line + 2, digits);
    num[digits] = '\0';
    for (size_t i = 0; i < digits; i++)
        HB_ENSURE(num[i] >= '0' && num[i] <= '9', HB_E_VERIFY, "bad inode");
    HB_ENSURE(digits > 0 && hexlen > 0 && hexlen % 2 == 0 && hexlen <= 2 * NAME_MAX,
              HB_E_VERIFY, "bad name");
    e->kind = line[0];
    errno = 0;
    e->ino = strtoull(num, NULL, 10);
    HB_ENSURE(errno == 0, HB_E_VERIFY, "bad inode");
    char hex[2 * NAME_MAX + 1];
    memcpy(hex, sp + 1, hexlen);
    hex[hexlen] = '\0';
    e->name = calloc(1, hexlen / 2 + 1);
    HB_ALLOC(e->name);
    HB_TRY(hb_hex_decode(hex, (uint8_t *)e->name, hexlen / 2, err));
    HB_ENSURE(strlen(e->name) == hexlen / 2 && strchr(e->name, '/') == NULL &&
              !dot_or_dotdot(e->name) && !is_pinned(e->name), HB_E_VERIFY, "bad name");
cleanup:
    return st;
}

static hb_status parse_journal(const char *text, size_t len, plan *p, hb_err *err)
{
    hb_status st = HB_OK;
    size_t pos = 0, n = 0, pre = strlen("staging ");
    bool ended = false;
    entry e = {0}, *slot = NULL;
    const char *line = next_line(text, len, &pos, &n);
    HB_ENSURE(line != NULL && n == strlen(JOURNAL_MAGIC) && memcmp(line, JOURNAL_MAGIC, n) == 0,
              HB_E_VERIFY, "not a swap journal");
    line = next_line(text, len, &pos, &n);
    HB_ENSURE(line != NULL && n > pre && memcmp(line, "staging ", pre) == 0 &&
              staging_name_ok(line + pre, n - pre), HB_E_VERIFY, "bad staging name");
    memcpy(p->staging, line + pre, n - pre);
    p->staging[n - pre] = '\0';
    while ((line = next_line(text, len, &pos, &n)) != NULL) {
        HB_ENSURE(!ended, HB_E_VERIFY, "text after its end");
        if (n == 3 && memcmp(line, "end", 3) == 0) {
            ended = true;
            continue;
        }
        HB_TRY(parse_entry(line, n, &e, err));
        HB_PUSH_MOVE(slot, p->e, p->n, MAX_ENTRIES, e);
    }
    HB_ENSURE(ended, HB_E_VERIFY, "it is cut short");
cleanup:
    free(e.name);
    return st;
}

/* The journal in statefd, if there is one (*have). */
static hb_status read_journal(int statefd, const char *root, plan *p, bool *have, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(JOURNAL_CAP);
    char chunk[8192];
    struct stat sb;
    *have = false;
    int fd = openat(statefd, HB_INPLACE_JOURNAL, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        goto cleanup;
    HB_ENSURE(fd >= 0, HB_E_IO, "cannot open the swap journal '%s/.hsmbak/" HB_INPLACE_JOURNAL
              "': %s", root, strerror(errno));
    HB_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size <= JOURNAL_CAP,
              HB_E_VERIFY, "'%s/.hsmbak/" HB_INPLACE_JOURNAL "' is not a swap journal hsmbak "
              "wrote (not a regular file, or too big)", root);
    for (;;) {
        size_t got = 0;
        HB_TRY(hb_read_some(fd, chunk, sizeof chunk, &got, "the swap journal", err));
        if (got == 0)
            break;
        HB_TRY(hb_buf_add(&b, chunk, got, err));
    }
    st = parse_journal(hb_buf_str(&b), b.len, p, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "the swap journal '%s/.hsmbak/" HB_INPLACE_JOURNAL "' of an "
                      "interrupted restore or reset cannot be read, so it cannot be finished; "
                      "the root may be part old, part new: restore it again from its backup "
                      "after moving the journal away", root);
        goto cleanup;
    }
    *have = true;
cleanup:
    if (fd >= 0)
        close(fd);
    hb_buf_free(&b);
    return st;
}

/* ---- one entry, forward or back --------------------------------------------- */

static hb_status move(int fromfd, int tofd, const char *name, unsigned flags, const char *root,
                      hb_err *err)
{
    if (renameat2(fromfd, name, tofd, name, flags) != 0)
        return hb_fail(err, HB_E_IO, "cannot swap '%s' into '%s': %s", name, root,
                       strerror(errno));
    return HB_OK;
}

/* Bring e to its new state (forward) or back to its old one, whichever it
 * is in now: the new entry's inode at ROOT/NAME tells an entry done. */
static hb_status apply(int rootfd, int stagefd, const entry *e, bool forward, const char *root,
                       hb_err *err)
{
    struct stat r, s;
    bool have_r = fstatat(rootfd, e->name, &r, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have_r && errno != ENOENT)
        return hb_fail(err, HB_E_IO, "cannot stat '%s/%s': %s", root, e->name, strerror(errno));
    bool have_s = stagefd >= 0 && fstatat(stagefd, e->name, &s, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have_s && stagefd >= 0 && errno != ENOENT)
        return hb_fail(err, HB_E_IO, "cannot stat '%s' in the staging tree: %s", e->name,
                       strerror(errno));
    bool root_is = have_r && r.st_ino == e->ino, stage_is = have_s && s.st_ino == e->ino;
    bool done = e->kind == 'o' ? !root_is : root_is;
    if (done == forward)
        return HB_OK;
    switch (e->kind) {
    case 'x':
        if (have_r && have_s && (forward ? stage_is : root_is))
            return move(stagefd, rootfd, e->name, RENAME_EXCHANGE, root, err);
        break;
    case 'i':
        if (forward && stage_is && !have_r)
            return move(stagefd, rootfd, e->name, RENAME_NOREPLACE, root, err);
        if (!forward && root_is && !have_s && stagefd >= 0)
            return move(rootfd, stagefd, e->name, RENAME_NOREPLACE, root, err);
        break;
    case 'o':
        if (forward && root_is && !have_s && stagefd >= 0)
            return move(rootfd, stagefd, e->name, RENAME_NOREPLACE, root, err);
        if (!forward && stage_is && !have_r)
            return move(stagefd, rootfd, e->name, RENAME_NOREPLACE, root, err);
        break;
    }
    return hb_fail(err, HB_E_REFUSED, "cannot finish the swap into '%s': '%s' is neither the "
                   "old nor the new entry the journal '%s/.hsmbak/" HB_INPLACE_JOURNAL "' "
                   "names (changed by hand?); restore the system again from its backup", root,
                   e->name, root);
}

/* ---- create, commit, recover, clean --------------------------------------------- */

static hb_status check_entry(void *ctx, const char *name, hb_err *err)
{
    const planner *pl = ctx;
    return is_pinned(name) ? HB_OK : check_not_mount(pl->rootfd, name, pl->dev, pl->root, err);
}

hb_status hb_inplace_staging_create(const char *root, const char *tag, char *out, size_t cap,
                                    hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1, statefd = -1;
    char name[NAME_MAX + 1];
    struct stat rs;
    planner pl = {.rootfd = -1};
    int n = snprintf(name, sizeof name, HB_INPLACE_STAGING_PREFIX "%s", tag);
    HB_ENSURE(n > 0 && (size_t)n < sizeof name && staging_name_ok(name, (size_t)n),
              HB_E_USAGE, "bad staging tag '%s'", tag);
    n = snprintf(out, cap, "%s/" HB_PROFILE_STATE_DIR "/%s", root, name);
    HB_ENSURE(n > 0 && (size_t)n < cap, HB_E_USAGE, "root path too long: '%s'", root);
    rootfd = open(root, DIR_FLAGS);
    HB_ENSURE(rootfd >= 0, HB_E_IO, "cannot open '%s': %s", root, strerror(errno));
    HB_TRY(open_state(rootfd, root, &statefd, err));
    /* Up front, before anything is written: no top-level mount in the way. */
    HB_ENSURE(fstat(rootfd, &rs) == 0, HB_E_IO, "cannot stat '%s': %s", root, strerror(errno));
    pl = (planner){.rootfd = rootfd, .dev = rs.st_dev, .root = root};
    HB_TRY(each_name(rootfd, root, check_entry, &pl, err));
    HB_TRY(hb_tree_remove(out, err)); /* an earlier attempt of the same tag */
    HB_ENSURE(mkdirat(statefd, name, 0700) == 0, HB_E_IO, "cannot create staging directory "
              "'%s': %s", out, strerror(errno));
cleanup:
    if (statefd >= 0)
        close(statefd);
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

bool hb_inplace_staging_is(const char *root, const char *staging)
{
    size_t rl = strlen(root), sl = strlen(HB_PROFILE_STATE_DIR);
    if (strncmp(staging, root, rl) != 0 || staging[rl] != '/' ||
        strncmp(staging + rl + 1, HB_PROFILE_STATE_DIR, sl) != 0 || staging[rl + 1 + sl] != '/')
        return false;
    const char *base = staging + rl + sl + 2;
    return staging_name_ok(base, strlen(base));
}

/* The entries done so far put back, the journal dropped; false when that
 * fails too (the journal stays for the next run). */
static bool undo(int rootfd, int stagefd, int statefd, const plan *p, size_t done,
                 const char *root)
{
    hb_err ignored;
    for (size_t i = done + 1; i-- > 0;)
        if (i < p->n && apply(rootfd, stagefd, &p->e[i], false, root, &ignored) != HB_OK)
            return false;
    if (fsync(rootfd) != 0 || unlinkat(statefd, HB_INPLACE_JOURNAL, 0) != 0)
        return false;
    (void)fsync(statefd);
    return true;
}

hb_status hb_inplace_commit(const char *root, const char *staging, hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1, statefd = -1, stagefd = -1;
    plan p = {0};
    hb_buf j = HB_BUF_INIT(JOURNAL_CAP);
    bool journaled = false;
    size_t done = 0;
    HB_ENSURE(hb_inplace_staging_is(root, staging), HB_E_INTERNAL, "'%s' is not a staging "
              "tree inside '%s'", staging, root);
    const char *base = strrchr(staging, '/') + 1;
    HB_ENSURE(strlen(base) < sizeof p.staging, HB_E_INTERNAL, "staging name too long");
    memcpy(p.staging, base, strlen(base) + 1);
    rootfd = open(root, DIR_FLAGS);
    HB_ENSURE(rootfd >= 0, HB_E_IO, "cannot open '%s': %s", root, strerror(errno));
    HB_TRY(open_state(rootfd, root, &statefd, err));
    stagefd = open_dir_at(statefd, base);
    HB_ENSURE(stagefd >= 0, HB_E_IO, "cannot open '%s': %s", staging, strerror(errno));
    HB_ENSURE(faccessat(statefd, HB_INPLACE_JOURNAL, F_OK, AT_SYMLINK_NOFOLLOW) != 0,
              HB_E_REFUSED, "'%s/.hsmbak/" HB_INPLACE_JOURNAL "' is there: an interrupted swap "
              "is unfinished; run this again (opening the root finishes it)", root);
    /* syncfs: every file of the new tree is on disk before any of it is swapped in. */
    HB_ENSURE(syncfs(stagefd) == 0, HB_E_IO, "cannot sync '%s': %s", staging, strerror(errno));
    HB_TRY(make_plan(&p, rootfd, stagefd, root, staging, err));
    HB_TRY(journal_text(&p, &j, err));
    HB_TRY(write_journal(statefd, &j, root, err));
    journaled = true;
    hb_fault_point("inplace-journal");
    for (; done < p.n; done++) {
        char point[48];
        HB_TRY(apply(rootfd, stagefd, &p.e[done], true, root, err));
        HB_TRY(hb_format(point, sizeof point, "a fault point", err, "inplace-swap-%zu",
                         done + 1));
        hb_fault_point(point);
    }
    /* The renames on disk before the journal goes; where that cannot be
     * told, the journal stays and the next run applies it again (harmless). */
    if (fsync(rootfd) != 0 || fsync(stagefd) != 0)
        goto cleanup;
    hb_fault_point("after-swap");
    journaled = false;
    if (unlinkat(statefd, HB_INPLACE_JOURNAL, 0) != 0 || fsync(statefd) != 0)
        goto cleanup; /* the next run finds every entry done */
    hb_fault_point("inplace-before-remove");
    /* The old entries are now in the staging tree; losing them later is harmless. */
    st = hb_tree_remove(staging, err);
    if (st != HB_OK)
        hb_err_prefix(err, "the new tree is in place, but the old one could not be removed");
cleanup:
    if (st != HB_OK && journaled) {
        if (undo(rootfd, stagefd, statefd, &p, done, root))
            hb_err_prefix(err, "swapping the new tree into '%s' entry by entry (the entries "
                          "swapped were put back: the system is unchanged)", root);
        else
            hb_err_prefix(err, "swapping the new tree into '%s' stopped half way; the next "
                          "hsmbak run on this root finishes it from '%s/.hsmbak/"
                          HB_INPLACE_JOURNAL "'", root, root);
    }
    if (stagefd >= 0)
        close(stagefd);
    if (statefd >= 0)
        close(statefd);
    if (rootfd >= 0)
        close(rootfd);
    hb_buf_free(&j);
    plan_free(&p);
    return st;
}

hb_status hb_inplace_recover(const char *root, bool *finished, hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1, statefd = -1, stagefd = -1;
    plan p = {0};
    bool have = false;
    char staging[PATH_MAX];
    *finished = false;
    rootfd = open(root, DIR_FLAGS);
    if (rootfd < 0 && errno == ENOENT)
        goto cleanup; /* no root, nothing to finish */
    HB_ENSURE(rootfd >= 0, HB_E_IO, "cannot open '%s': %s", root, strerror(errno));
    statefd = open_dir_at(rootfd, HB_PROFILE_STATE_DIR);
    if (statefd < 0 && errno == ENOENT)
        goto cleanup; /* not a root; whoever opens it says so */
    HB_ENSURE(statefd >= 0, HB_E_IO, "cannot open '%s/" HB_PROFILE_STATE_DIR "': %s", root,
              strerror(errno));
    HB_TRY(read_journal(statefd, root, &p, &have, err));
    if (!have)
        goto cleanup;
    stagefd = open_dir_at(statefd, p.staging);
    HB_ENSURE(stagefd >= 0 || errno == ENOENT, HB_E_IO, "cannot open '%s/.hsmbak/%s': %s",
              root, p.staging, strerror(errno));
    for (size_t i = 0; i < p.n; i++) {
        st = apply(rootfd, stagefd, &p.e[i], true, root, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "finishing the swap of an interrupted restore or reset");
            goto cleanup;
        }
    }
    HB_ENSURE(fsync(rootfd) == 0 && (stagefd < 0 || fsync(stagefd) == 0), HB_E_IO,
              "cannot sync '%s': %s", root, strerror(errno));
    HB_ENSURE(unlinkat(statefd, HB_INPLACE_JOURNAL, 0) == 0 && fsync(statefd) == 0, HB_E_IO,
              "cannot remove the finished swap journal '%s/.hsmbak/" HB_INPLACE_JOURNAL "': %s",
              root, strerror(errno));
    *finished = true;
    if (stagefd >= 0) {
        HB_TRY(hb_format(staging, sizeof staging, "path", err, "%s/" HB_PROFILE_STATE_DIR "/%s",
                         root, p.staging));
        HB_TRY(hb_tree_remove(staging, err)); /* the old entries */
    }
cleanup:
    if (stagefd >= 0)
        close(stagefd);
    if (statefd >= 0)
        close(statefd);
    if (rootfd >= 0)
        close(rootfd);
    plan_free(&p);
    return st;
}

typedef struct cleaner {
    const char *root;
    unsigned *cleaned;
} cleaner;

static hb_status clean_one(void *ctx, const char *name, hb_err *err)
{
    cleaner *c = ctx;
    char path[PATH_MAX];
    if (!staging_name_ok(name, strlen(name)))
        return HB_OK;
    hb_status st = hb_format(path, sizeof path, "path", err, "%s/" HB_PROFILE_STATE_DIR "/%s",
                             c->root, name);
    if (st == HB_OK)
        st = hb_tree_remove(path, err);
    if (st == HB_OK)
        (*c->cleaned)++;
    return st;
}

hb_status hb_inplace_clean(const char *root, unsigned *cleaned, hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1, statefd = -1;
    cleaner c = {.root = root, .cleaned = cleaned};
    rootfd = open(root, DIR_FLAGS);
    if (rootfd < 0)
        goto cleanup; /* nothing inside a root that cannot be opened */
    statefd = open_dir_at(rootfd, HB_PROFILE_STATE_DIR);
    if (statefd < 0)
        goto cleanup;
    HB_ENSURE(faccessat(statefd, HB_INPLACE_JOURNAL, F_OK, AT_SYMLINK_NOFOLLOW) != 0,
              HB_E_INTERNAL, "'%s/.hsmbak/" HB_INPLACE_JOURNAL "' is still there", root);
    (void)unlinkat(statefd, JOURNAL_TMP, 0);
    HB_TRY(each_name(statefd, root, clean_one, &c, err));
cleanup:
    if (statefd >= 0)
        close(statefd);
    if (rootfd >= 0)
        close(rootfd);
    return st;
}
