/* backup/system/swap_inplace.c: the entry-by-entry swap of a root that is
 * its own filesystem, its journal, and the roll-forward after a crash. The
 * functions work on any directory, so the cases use a plain one (the
 * mounted root itself is tests/e2e/worst_day_mounted_root.sh). */
#include "hbtest.h"

#include "backup/system/swap_inplace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;
static char root[PATH_MAX], staging[PATH_MAX];

static void pathf(char *out, const char *a, const char *b)
{
    CU_ASSERT_FATAL(snprintf(out, PATH_MAX, "%s/%s", a, b) < PATH_MAX);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    pathf(p, dir, rel);
    CU_ASSERT_EQUAL_FATAL(hbtest_write_text(p, text), 0);
}

/* The file's first line, "" when it is missing. */
static const char *get(const char *dir, const char *rel)
{
    static char line[256];
    char p[PATH_MAX];
    pathf(p, dir, rel);
    line[0] = '\0';
    FILE *f = fopen(p, "r");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) == NULL)
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static bool exists(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat sb;
    pathf(p, dir, rel);
    return lstat(p, &sb) == 0;
}

static unsigned long long ino(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat sb;
    pathf(p, dir, rel);
    CU_ASSERT_EQUAL_FATAL(lstat(p, &sb), 0);
    return (unsigned long long)sb.st_ino;
}

/* A root: a (old), b/ (only the old tree), keep (a hard link in both),
 * .hsmbak/marker; and its staging tree: a (new), c (only the new tree), keep. */
static void make_trees(const char *name)
{
    char p[PATH_MAX], q[PATH_MAX];
    hb_err err = {0};
    pathf(root, base, name);
    CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
    pathf(p, root, ".hsmbak");
    CU_ASSERT_EQUAL_FATAL(mkdir(p, 0700), 0);
    put(root, ".hsmbak/marker", "state");
    put(root, "a", "old-a");
    pathf(p, root, "b");
    CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
    put(root, "b/inside", "old-b");
    put(root, "keep", "kept");
    HBTEST_ASSERT_OK(hb_inplace_staging_create(root, "t1", staging, sizeof staging, &err), &err);
    put(staging, "a", "new-a");
    put(staging, "c", "new-c");
    pathf(p, root, "keep");
    pathf(q, staging, "keep");
    CU_ASSERT_EQUAL_FATAL(link(p, q), 0);
}

static void assert_new(void)
{
    CU_ASSERT_STRING_EQUAL(get(root, "a"), "new-a");
    CU_ASSERT_STRING_EQUAL(get(root, "c"), "new-c");
    CU_ASSERT_STRING_EQUAL(get(root, "keep"), "kept");
    CU_ASSERT_FALSE(exists(root, "b"));
    CU_ASSERT_STRING_EQUAL(get(root, ".hsmbak/marker"), "state");
    CU_ASSERT_FALSE(exists(root, ".hsmbak/" HB_INPLACE_JOURNAL));
    CU_ASSERT_FALSE(exists(staging, "."));
}

static void write_journal(const char *text)
{
    put(root, ".hsmbak/" HB_INPLACE_JOURNAL, text);
}

/* "x INO 61\n" &c. for the trees of make_trees, with a's new inode given. */
static void journal_for(char *out, size_t cap, unsigned long long a_new)
{
    int n = snprintf(out, cap,
                     "hsmbak swap-journal 1\nstaging staging-t1\n"
                     "x %llu 61\ni %llu 63\nx %llu 6b656570\no %llu 62\nend\n",
                     a_new, ino(staging, "c"), ino(staging, "keep"), ino(root, "b"));
    CU_ASSERT_FATAL(n > 0 && (size_t)n < cap);
}

static void test_staging_is(void)
{
    CU_ASSERT_TRUE(hb_inplace_staging_is("/srv/r", "/srv/r/.hsmbak/staging-x"));
    CU_ASSERT_FALSE(hb_inplace_staging_is("/srv/r", "/srv/r.hsmbak-staging-x"));
    CU_ASSERT_FALSE(hb_inplace_staging_is("/srv/r", "/srv/r/.hsmbak/staging-x/y"));
    CU_ASSERT_FALSE(hb_inplace_staging_is("/srv/r", "/srv/r/.hsmbak/other"));
    CU_ASSERT_FALSE(hb_inplace_staging_is("/srv/r", "/srv/r/.hsmbak/staging-"));
    CU_ASSERT_FALSE(hb_inplace_staging_is("/srv/r", "/srv/rr/.hsmbak/staging-x"));
}

static void test_mount_point(void)
{
    hb_err err = {0};
    bool yes = true;
    HBTEST_ASSERT_OK(hb_root_is_mount_point(base, &yes, &err), &err);
    CU_ASSERT_FALSE(yes); /* a directory on the scratch filesystem */
    HBTEST_ASSERT_OK(hb_root_is_mount_point("/", &yes, &err), &err);
    CU_ASSERT_TRUE(yes);
}

static void test_commit(void)
{
    hb_err err = {0};
    make_trees("commit");
    HBTEST_ASSERT_OK(hb_inplace_commit(root, staging, &err), &err);
    assert_new();
}

/* A crash after the journal and the first exchange: the next run finishes. */
static void test_recover_rolls_forward(void)
{
    hb_err err = {0};
    char text[1024], p[PATH_MAX], q[PATH_MAX];
    bool finished = false;
    make_trees("recover");
    journal_for(text, sizeof text, ino(staging, "a"));
    write_journal(text);
    pathf(p, staging, "a");
    pathf(q, root, "a");
    CU_ASSERT_EQUAL_FATAL(renameat2(AT_FDCWD, p, AT_FDCWD, q, RENAME_EXCHANGE), 0);
    HBTEST_ASSERT_OK(hb_inplace_recover(root, &finished, &err), &err);
    CU_ASSERT_TRUE(finished);
    assert_new();
    HBTEST_ASSERT_OK(hb_inplace_recover(root, &finished, &err), &err);
    CU_ASSERT_FALSE(finished); /* nothing left to finish */
}

/* Journals that cannot be trusted are refused, and nothing moves. */
static void test_recover_refuses(void)
{
    hb_err err = {0};
    char text[1024], p[PATH_MAX];
    bool finished = true;
    make_trees("refuse");
    journal_for(text, sizeof text, ino(staging, "a") + 1000000);
    write_journal(text);
    HBTEST_ASSERT_FAIL(hb_inplace_recover(root, &finished, &err), HB_E_REFUSED, &err,
                       "'a' is neither the old nor the new entry");
    CU_ASSERT_STRING_EQUAL(get(root, "a"), "old-a");
    static const char *const bad[] = {
        "hsmbak swap-journal 2\nstaging staging-t1\nend\n",
        "hsmbak swap-journal 1\nstaging ../../etc\nend\n",
        "hsmbak swap-journal 1\nstaging staging-t1\nx 1 2f657463\nend\n",  /* "/etc" */
        "hsmbak swap-journal 1\nstaging staging-t1\nx 1 2e2e\nend\n",      /* ".." */
        "hsmbak swap-journal 1\nstaging staging-t1\nx 1 2e6873 6d62616b\nend\n",
        "hsmbak swap-journal 1\nstaging staging-t1\nx 1 2e68736d62616b\nend\n", /* .hsmbak */
        "hsmbak swap-journal 1\nstaging staging-t1\nx 12 61\n",            /* cut short */
        "hsmbak swap-journal 1\nstaging staging-t1\nend\nx 12 61\n",
        "hsmbak swap-journal 1\nstaging staging-t1\nq 12 61\nend\n",
        "hsmbak swap-journal 1\nstaging staging-t1\nx -1 61\nend\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_journal(bad[i]);
        HBTEST_ASSERT_FAIL(hb_inplace_recover(root, &finished, &err), HB_E_VERIFY, &err,
                           "cannot be read, so it cannot be finished");
        CU_ASSERT_STRING_EQUAL(get(root, "a"), "old-a");
        CU_ASSERT_TRUE(exists(root, "b/inside"));
    }
    /* A journal that is a symlink is not followed. */
    pathf(p, root, ".hsmbak/" HB_INPLACE_JOURNAL);
    CU_ASSERT_EQUAL_FATAL(unlink(p), 0);
    CU_ASSERT_EQUAL_FATAL(symlink("/etc/passwd", p), 0);
    HBTEST_ASSERT_FAIL(hb_inplace_recover(root, &finished, &err), HB_E_IO, &err,
                       "cannot open the swap journal");
    CU_ASSERT_EQUAL(unlink(p), 0);
    /* Without a journal the commit still goes through. */
    HBTEST_ASSERT_OK(hb_inplace_commit(root, staging, &err), &err);
    assert_new();
}

/* A staging tree left without a journal (killed before it) is removed. */
static void test_clean(void)
{
    hb_err err = {0};
    unsigned cleaned = 0;
    make_trees("clean");
    put(root, ".hsmbak/" HB_INPLACE_JOURNAL ".tmp", "half");
    HBTEST_ASSERT_OK(hb_inplace_clean(root, &cleaned, &err), &err);
    CU_ASSERT_EQUAL(cleaned, 1);
    CU_ASSERT_FALSE(exists(staging, "."));
    CU_ASSERT_FALSE(exists(root, ".hsmbak/" HB_INPLACE_JOURNAL ".tmp"));
    CU_ASSERT_STRING_EQUAL(get(root, ".hsmbak/marker"), "state");
    CU_ASSERT_STRING_EQUAL(get(root, "a"), "old-a");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"which paths are in-place staging trees", test_staging_is},
        {"a directory is not a mount point; / is", test_mount_point},
        {"commit: exchanged, moved in, moved out, .hsmbak untouched", test_commit},
        {"recover: a half-done swap is rolled forward, once", test_recover_rolls_forward},
        {"recover: a journal that does not fit the tree or is malformed is refused",
         test_recover_refuses},
        {"clean: a staging tree without a journal is removed", test_clean},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"swap_inplace", cases, .scratch = &base});
}
