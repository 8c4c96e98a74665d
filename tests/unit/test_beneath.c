/* common/beneath.c: nothing opened, made, written or removed through a link
 * beneath a root (issue 11 class 1). Every case runs twice: through
 * openat2 and through the component-wise walk (hb_beneath_force_fallback).
 * Each refusal checks the message and that the decoy directory outside the
 * root is as it was. */
#include "hbtest.h"

#include "backup/system/tree.h"
#include "common/beneath.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;       /* per case: base/root (the root) and base/decoy */
static char root[PATH_MAX], decoy[PATH_MAX];
static int rootfd = -1;
static hb_tree decoy_before;

static void path_of(char *out, const char *dir, const char *rel)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        abort();
}

static void mk(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    CU_ASSERT_EQUAL_FATAL(hbtest_write_text(p, text), 0);
}

static void ln(const char *target, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, root, rel);
    CU_ASSERT_EQUAL_FATAL(symlink(target, p), 0);
}

/* root/a/b/c/f, root/top, and a decoy beside the root with the same shape. */
static void setup(void)
{
    hb_err err = {0};
    base = hbtest_tempdir("beneath");
    path_of(root, base, "root");
    path_of(decoy, base, "decoy");
    CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(decoy, 0755), 0);
    mk(root, "a");
    mk(root, "a/b");
    mk(root, "a/b/c");
    put(root, "a/b/c/f", "root file");
    put(root, "top", "top");
    mk(decoy, "b");
    mk(decoy, "b/c");
    mk(decoy, "c");
    put(decoy, "b/c/f", "decoy file");
    put(decoy, "c/f", "decoy file");
    put(decoy, "f", "decoy file");
    HBTEST_ASSERT_OK(hb_tree_list(decoy, NULL, &decoy_before, &err), &err);
    HBTEST_ASSERT_OK(hb_beneath_open_top(root, &rootfd, &err), &err);
}

/* The decoy is byte-identical to what it was. */
static void teardown(void)
{
    hb_err err = {0};
    hb_tree after = {0};
    hb_tree_change change;
    HBTEST_ASSERT_OK(hb_tree_list(decoy, NULL, &after, &err), &err);
    bool changed = hb_tree_diff(&decoy_before, &after, &change);
    if (changed)
        fprintf(stderr, "  the decoy changed: '%s' %s\n", change.path, change.how);
    CU_ASSERT_FALSE(changed);
    hb_tree_free(&after);
    hb_tree_free(&decoy_before);
    close(rootfd);
    rootfd = -1;
    hbtest_rmtree(base);
    free(base);
    base = NULL;
}

/* A link at every component of a/b/c/f: open, write, mkdirs and remove
 * refuse it and name the link, and nothing in the decoy changes. */
static void links_at_every_component(void)
{
    static const struct {
        const char *link;   /* replaced by a link to the decoy */
        const char *target; /* where it points */
        const char *said;   /* the link the message names */
    } cases[] = {
        {"a", "../decoy", "a"},
        {"a/b", "../../decoy/b", "a/b"},
        {"a/b/c", "../../../decoy/c", "a/b/c"},
        {"a/b/c/f", "../../../../decoy/f", "a/b/c/f"},
        {"a", NULL, "a"}, /* absolute: NULL means the decoy's own path */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_err err = {0};
        char p[PATH_MAX], want[PATH_MAX + 64];
        int fd = -1;
        path_of(p, root, cases[i].link);
        hbtest_rmtree(p);
        ln(cases[i].target ? cases[i].target : decoy, cases[i].link);
        snprintf(want, sizeof want, "'%s/%s' is a symbolic link", root, cases[i].said);

        HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "a/b/c/f", O_RDONLY, 0, &fd, &err),
                           HB_E_REFUSED, &err, want);
        HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "a/b/c/f", O_PATH, 0, &fd, &err),
                           HB_E_REFUSED, &err, want);
        HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "a/b/c/new",
                                           O_WRONLY | O_CREAT | O_EXCL, 0600, &fd, &err),
                           strcmp(cases[i].said, "a/b/c/f") == 0 ? HB_OK : HB_E_REFUSED,
                           &err, strcmp(cases[i].said, "a/b/c/f") == 0 ? "" : want);
        if (fd >= 0) {
            close(fd);
            fd = -1;
            path_of(p, root, "a/b/c/new");
            unlink(p);
        }
        HBTEST_ASSERT_FAIL(hb_beneath_write_file(rootfd, root, "a/b/c/f", "pwned", 5, 0600,
                                                 &err),
                           HB_E_REFUSED, &err, want);
        HBTEST_ASSERT_FAIL(hb_beneath_mkdirs(rootfd, root, "a/b/c/f/g", 0700, NULL, &err),
                           strcmp(cases[i].said, "a/b/c/f") == 0 ? HB_E_REFUSED : HB_E_REFUSED,
                           &err, want);
        bool exists = false;
        HBTEST_ASSERT_FAIL(hb_beneath_lstat(rootfd, root, "a/b/c/f/x", &exists, NULL, &err),
                           HB_E_REFUSED, &err, want);
        /* Removing below the link is refused; removing the link removes it. */
        if (strcmp(cases[i].said, "a/b/c/f") != 0)
            HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "a/b/c/f", 0, &err),
                               HB_E_REFUSED, &err, want);
        HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, cases[i].link, 0, &err), &err);
        path_of(p, root, cases[i].link);
        struct stat sb;
        CU_ASSERT_EQUAL(lstat(p, &sb), -1);
        /* Put the tree back for the next case. */
        HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, "a/b/c", 0755, NULL, &err), &err);
        HBTEST_ASSERT_OK(hb_beneath_write_file(rootfd, root, "a/b/c/f", "root file", 9, 0644,
                                               &err), &err);
    }
}

static void dotdot_and_absolute_refused(void)
{
    hb_err err = {0};
    int fd = -1;
    HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "../decoy/f", O_RDONLY, 0, &fd, &err),
                       HB_E_REFUSED, &err, "has a '..' component");
    HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "a/../../decoy/f", O_RDONLY, 0, &fd, &err),
                       HB_E_REFUSED, &err, "has a '..' component");
    HBTEST_ASSERT_FAIL(hb_beneath_write_file(rootfd, root, "a/..", "x", 1, 0600, &err),
                       HB_E_REFUSED, &err, "has a '..' component");
    HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, decoy, O_RDONLY, 0, &fd, &err),
                       HB_E_REFUSED, &err, "is an absolute path");
    HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "..", 0, &err), HB_E_REFUSED, &err,
                       "has a '..' component");
    /* "a/..b" is a name, not "..". */
    HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, "a/..b", 0700, NULL, &err), &err);
}

/* /proc/self/cwd is a magic link: refused like any other link. */
static void magic_link_refused(void)
{
    hb_err err = {0};
    int proc = -1, fd = -1;
    char self[64], want[128];
    snprintf(self, sizeof self, "/proc/%ld", (long)getpid());
    HBTEST_ASSERT_OK(hb_beneath_open_top(self, &proc, &err), &err);
    snprintf(want, sizeof want, "'%s/cwd' is a symbolic link", self);
    HBTEST_ASSERT_FAIL(hb_beneath_open(proc, self, "cwd", O_RDONLY | O_DIRECTORY, 0, &fd, &err),
                       HB_E_REFUSED, &err, want);
    snprintf(want, sizeof want, "'%s/root' is a symbolic link", self);
    HBTEST_ASSERT_FAIL(hb_beneath_open(proc, self, "root/etc", O_RDONLY | O_DIRECTORY, 0, &fd,
                                       &err),
                       HB_E_REFUSED, &err, want);
    /* fd/N of an open directory: a magic link one level down. */
    HBTEST_ASSERT_FAIL(hb_beneath_open(proc, self, "fd/0", O_RDONLY, 0, &fd, &err),
                       HB_E_REFUSED, &err, "is a symbolic link");
    close(proc);
    HBTEST_ASSERT_FAIL(hb_beneath_open_top("/proc/self", &fd, &err), HB_E_REFUSED, &err,
                       "'/proc/self' is a symbolic link");
    /* A root whose own last component is a link is refused too. */
    char p[PATH_MAX];
    path_of(p, base, "rootlink");
    CU_ASSERT_EQUAL(symlink(decoy, p), 0);
    HBTEST_ASSERT_FAIL(hb_beneath_open_top(p, &fd, &err), HB_E_REFUSED, &err,
                       "is a symbolic link");
}

/* The ordinary paths work: open, mkdirs, write (replace), lstat, remove. */
static void plain_paths_work(void)
{
    hb_err err = {0};
    int fd = -1;
    char p[PATH_MAX];
    HBTEST_ASSERT_OK(hb_beneath_open(rootfd, root, "a/b/c/f", O_RDONLY, 0, &fd, &err), &err);
    char buf[16] = {0};
    CU_ASSERT_EQUAL(read(fd, buf, sizeof buf - 1), 9);
    CU_ASSERT_STRING_EQUAL(buf, "root file");
    close(fd);
    HBTEST_ASSERT_OK(hb_beneath_open(rootfd, root, "", O_RDONLY | O_DIRECTORY, 0, &fd, &err),
                     &err);
    close(fd);
    HBTEST_ASSERT_FAIL(hb_beneath_open(rootfd, root, "a/nope", O_RDONLY, 0, &fd, &err),
                       HB_E_NOT_FOUND, &err, "a/nope");
    HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, "x/y/z", 0700, &fd, &err), &err);
    CU_ASSERT(fd >= 0);
    close(fd);
    HBTEST_ASSERT_OK(hb_beneath_write_file(rootfd, root, "x/y/z/w", "one", 3, 0600, &err), &err);
    HBTEST_ASSERT_OK(hb_beneath_write_file(rootfd, root, "x/y/z/w", "two", 3, 0600, &err), &err);
    path_of(p, root, "x/y/z/w");
    unsigned char *data = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_read_file(p, 16, &data, &len, &err), &err);
    CU_ASSERT_EQUAL(len, 3);
    CU_ASSERT_EQUAL(memcmp(data, "two", 3), 0);
    free(data);
    bool exists = false;
    struct stat sb;
    HBTEST_ASSERT_OK(hb_beneath_lstat(rootfd, root, "x/y/z/w", &exists, &sb, &err), &err);
    CU_ASSERT(exists && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600);
    HBTEST_ASSERT_OK(hb_beneath_lstat(rootfd, root, "x/nope/w", &exists, NULL, &err), &err);
    CU_ASSERT_FALSE(exists);
    /* Removal: read-only and unreadable directories, links (not followed). */
    HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, "x/ro/deeper", 0700, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_beneath_write_file(rootfd, root, "x/ro/deeper/f", "f", 1, 0600, &err),
                     &err);
    path_of(p, root, "x/ro/deeper");
    chmod(p, 0000);
    path_of(p, root, "x/ro");
    chmod(p, 0500);
    path_of(p, root, "x/y/out");
    CU_ASSERT_EQUAL(symlink(decoy, p), 0);
    HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, "x", 0, &err), &err);
    path_of(p, root, "x");
    CU_ASSERT_EQUAL(access(p, F_OK), -1);
    HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, "x", 0, &err), &err); /* missing: fine */
    /* A file where a directory is wanted. */
    HBTEST_ASSERT_FAIL(hb_beneath_mkdirs(rootfd, root, "top/sub", 0700, NULL, &err), HB_E_IO,
                       &err, "exists and is not a directory");
    HBTEST_ASSERT_FAIL(hb_beneath_write_file(rootfd, root, "a", "x", 1, 0600, &err),
                       HB_E_REFUSED, &err, "exists and is not a regular file");
}

/* HB_BENEATH_OWN_DIR: only a real directory, of this user. */
static void own_dir_only(void)
{
    hb_err err = {0};
    char p[PATH_MAX];
    ln(decoy, "partial");
    HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "partial", HB_BENEATH_OWN_DIR, &err),
                       HB_E_REFUSED, &err, "is a symbolic link");
    path_of(p, root, "partial");
    struct stat sb;
    CU_ASSERT_EQUAL(lstat(p, &sb), 0); /* left alone */
    HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "top", HB_BENEATH_OWN_DIR, &err),
                       HB_E_REFUSED, &err, "is not a directory; left alone");
    HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, "a", HB_BENEATH_OWN_DIR, &err), &err);
    /* Another user's directory: as root, one made and given away; as
     * anyone else, /proc/1 (root's). */
    if (geteuid() == 0) {
        HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, "theirs/sub", 0700, NULL, &err), &err);
        path_of(p, root, "theirs");
        CU_ASSERT_EQUAL_FATAL(chown(p, 65534, 65534), 0);
        HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "theirs", HB_BENEATH_OWN_DIR, &err),
                           HB_E_REFUSED, &err, "belongs to uid 65534, not to this user (uid 0)");
        path_of(p, root, "theirs/sub");
        CU_ASSERT_EQUAL(access(p, F_OK), 0); /* left alone */
    } else {
        int proc = -1;
        HBTEST_ASSERT_OK(hb_beneath_open_top("/proc", &proc, &err), &err);
        HBTEST_ASSERT_FAIL(hb_beneath_remove(proc, "/proc", "1", HB_BENEATH_OWN_DIR, &err),
                           HB_E_REFUSED, &err, "not to this user");
        close(proc);
    }
}

/* Removal's recursion is bounded: a tree deeper than HB_BENEATH_MAX_DEPTH
 * is refused, saying so, and one at the bound goes. */
static void depth_bounded(void)
{
    hb_err err = {0};
    char rel[4 * (HB_BENEATH_MAX_DEPTH + 8)] = "deep";
    size_t len = strlen(rel);
    for (int i = 0; i < HB_BENEATH_MAX_DEPTH + 4; i++) {
        HBTEST_ASSERT_OK(hb_beneath_mkdirs(rootfd, root, rel, 0700, NULL, &err), &err);
        memcpy(rel + len, "/d", 3);
        len += 2;
    }
    HBTEST_ASSERT_FAIL(hb_beneath_remove(rootfd, root, "deep", 0, &err), HB_E_REFUSED, &err,
                       "directories deep; not removed");
    /* Cut it to the bound from inside, then it goes. */
    rel[4 + 2 * (HB_BENEATH_MAX_DEPTH - 1)] = '\0';
    HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, rel, 0, &err), &err);
    HBTEST_ASSERT_OK(hb_beneath_remove(rootfd, root, "deep", 0, &err), &err);
    bool exists = true;
    HBTEST_ASSERT_OK(hb_beneath_lstat(rootfd, root, "deep", &exists, NULL, &err), &err);
    CU_ASSERT_FALSE(exists);
}

/* Each case through openat2 and through the fallback walk. */
#define BOTH(fn)                               \
    static void fn##_openat2(void)             \
    {                                          \
        hb_beneath_force_fallback(false);      \
        setup();                               \
        fn();                                  \
        teardown();                            \
    }                                          \
    static void fn##_fallback(void)            \
    {                                          \
        hb_beneath_force_fallback(true);       \
        setup();                               \
        fn();                                  \
        teardown();                            \
        hb_beneath_force_fallback(false);      \
    }

BOTH(links_at_every_component)
BOTH(dotdot_and_absolute_refused)
BOTH(magic_link_refused)
BOTH(plain_paths_work)
BOTH(own_dir_only)
BOTH(depth_bounded)

int main(void)
{
    static const hbtest_case cases[] = {
        {"a link at every component is refused and named (openat2)",
         links_at_every_component_openat2},
        {"a link at every component is refused and named (fallback walk)",
         links_at_every_component_fallback},
        {"'..' and absolute paths are refused (openat2)", dotdot_and_absolute_refused_openat2},
        {"'..' and absolute paths are refused (fallback walk)",
         dotdot_and_absolute_refused_fallback},
        {"magic links are refused (openat2)", magic_link_refused_openat2},
        {"magic links are refused (fallback walk)", magic_link_refused_fallback},
        {"open, mkdirs, replace, lstat and remove (openat2)", plain_paths_work_openat2},
        {"open, mkdirs, replace, lstat and remove (fallback walk)", plain_paths_work_fallback},
        {"removal with OWN_DIR takes only this user's directories (openat2)",
         own_dir_only_openat2},
        {"removal with OWN_DIR takes only this user's directories (fallback walk)",
         own_dir_only_fallback},
        {"removal's recursion is bounded (openat2)", depth_bounded_openat2},
        {"removal's recursion is bounded (fallback walk)", depth_bounded_fallback},
        {NULL, NULL},
    };
    return hbtest_main("beneath", cases);
}
