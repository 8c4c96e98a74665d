/* backup/system/tree.c and swap.c: listings, copies, carry-over, the swap. */
#include "hbtest.h"

#include "backup/system/swap.h"
#include "backup/system/tree.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir/rel in a static buffer (tests build short paths only). */
static const char *at(const char *dir, const char *rel)
{
    static char buf[2][PATH_MAX];
    static int which;
    char *b = buf[which ^= 1];
    if (snprintf(b, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        abort();
    return b;
}

static void put(const char *dir, const char *rel, const char *text, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static void mk(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
}

static char *make_tree(void)
{
    char *d = hbtest_tempdir("tree");
    mk(d, "a");
    mk(d, "a/b");
    put(d, "a/b/f", "hello", 0640);
    put(d, "top", "x", 0600);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", at(d, "a/link"));
    CU_ASSERT_EQUAL(symlink("b/f", p), 0);
    return d;
}

static void test_list_and_diff(void)
{
    hb_err err = {0};
    char *d = make_tree();
    hb_tree t1 = {0}, t2 = {0};
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &t1, &err), &err);
    CU_ASSERT_EQUAL(t1.n, 5);
    CU_ASSERT_STRING_EQUAL(t1.entries[0].path, "a");
    hb_tree_change what;
    CU_ASSERT_FALSE(hb_tree_diff(&t1, &t1, &what));
    put(d, "a/b/f", "changed", 0640);
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &t2, &err), &err);
    CU_ASSERT_TRUE(hb_tree_diff(&t1, &t2, &what));
    CU_ASSERT_STRING_EQUAL(what.path, "a/b/f");
    CU_ASSERT_STRING_EQUAL(what.how, "changed");
    hb_tree_free(&t2);
    /* A mode change is a change; a skipped subtree is not seen at all. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", at(d, "top"));
    chmod(p, 0644);
    const char *skip[] = {"a", NULL};
    HBTEST_ASSERT_OK(hb_tree_list(d, skip, &t2, &err), &err);
    CU_ASSERT_EQUAL(t2.n, 1);
    CU_ASSERT_STRING_EQUAL(t2.entries[0].path, "top");
    hb_tree_free(&t2);
    put(d, "new", "n", 0600);
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &t2, &err), &err);
    CU_ASSERT_TRUE(hb_tree_diff(&t1, &t2, &what));
    CU_ASSERT_STRING_EQUAL(what.path, "a/b/f");
    CU_ASSERT_STRING_EQUAL(what.how, "changed");
    hb_tree_free(&t1);
    hb_tree_free(&t2);
    /* A missing directory lists as empty. */
    HBTEST_ASSERT_OK(hb_tree_list("/nonexistent/x", NULL, &t1, &err), &err);
    CU_ASSERT_EQUAL(t1.n, 0);
    hbtest_rmtree(d);
    free(d);
}

/* Each kind of change, named by the entry it concerns. */
static void test_diff_added_removed(void)
{
    hb_err err = {0};
    char *d = make_tree();
    hb_tree before = {0}, after = {0};
    hb_tree_change what;
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &before, &err), &err);
    put(d, "zz-new", "n", 0600);
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &after, &err), &err);
    CU_ASSERT_TRUE(hb_tree_diff(&before, &after, &what));
    CU_ASSERT_STRING_EQUAL(what.path, "zz-new");
    CU_ASSERT_STRING_EQUAL(what.how, "added");
    CU_ASSERT_TRUE(hb_tree_diff(&after, &before, &what));
    CU_ASSERT_STRING_EQUAL(what.path, "zz-new");
    CU_ASSERT_STRING_EQUAL(what.how, "removed");
    hb_tree_free(&after);
    /* A file that became a directory of the same name is a change. */
    CU_ASSERT_EQUAL(unlink(at(d, "top")), 0);
    mk(d, "top");
    chmod(at(d, "top"), 0600);
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &after, &err), &err);
    CU_ASSERT_TRUE(hb_tree_diff(&before, &after, &what));
    CU_ASSERT_STRING_EQUAL(what.path, "top");
    CU_ASSERT_STRING_EQUAL(what.how, "changed");
    hb_tree_free(&before);
    hb_tree_free(&after);
    hbtest_rmtree(d);
    free(d);
}

static void test_copy_keeps_modes_links_and_hardlinks(void)
{
    hb_err err = {0};
    char *d = make_tree();
    char *dst = hbtest_tempdir("copy");
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s", at(dst, "c"));
    HBTEST_ASSERT_OK(hb_tree_copy(d, out, true, &err), &err);
    hb_tree a = {0}, b = {0};
    HBTEST_ASSERT_OK(hb_tree_list(d, NULL, &a, &err), &err);
    HBTEST_ASSERT_OK(hb_tree_list(out, NULL, &b, &err), &err);
    hb_tree_change what;
    CU_ASSERT_FALSE(hb_tree_diff(&a, &b, &what));
    struct stat s1, s2;
    char p1[PATH_MAX], p2[PATH_MAX];
    snprintf(p1, sizeof p1, "%s", at(d, "a/b/f"));
    snprintf(p2, sizeof p2, "%s", at(out, "a/b/f"));
    CU_ASSERT_EQUAL(stat(p1, &s1), 0);
    CU_ASSERT_EQUAL(stat(p2, &s2), 0);
    CU_ASSERT_EQUAL(s1.st_ino, s2.st_ino); /* linked, not copied */
    hb_tree_free(&a);
    hb_tree_free(&b);
    HBTEST_ASSERT_OK(hb_tree_remove(out, &err), &err);
    CU_ASSERT_TRUE(hb_dir_is_empty(dst));
    HBTEST_ASSERT_OK(hb_tree_remove(out, &err), &err); /* missing is fine */
    hbtest_rmtree(d);
    hbtest_rmtree(dst);
    free(d);
    free(dst);
}

static void test_carry_over_and_commit(void)
{
    hb_err err = {0};
    char *base = hbtest_tempdir("swap");
    char root[PATH_MAX], staging[PATH_MAX], p[PATH_MAX];
    snprintf(root, sizeof root, "%s", at(base, "root"));
    CU_ASSERT_EQUAL_FATAL(mkdir(root, 0751), 0);
    mk(root, "res");
    put(root, "res/old", "old", 0600);
    mk(root, "deep");
    mk(root, "deep/res2");
    put(root, "deep/keep", "kept", 0600);
    mk(root, "tmp");
    put(root, "tmp/upload", "u", 0600);
    HBTEST_ASSERT_OK(hb_staging_create(root, "t1", staging, sizeof staging, &err), &err);
    /* The new tree provides res and deep/res2. */
    snprintf(p, sizeof p, "%s", at(staging, "res"));
    mkdir(p, 0755);
    put(staging, "res/new", "new", 0600);
    snprintf(p, sizeof p, "%s", at(staging, "deep"));
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s", at(staging, "deep/res2"));
    mkdir(p, 0755);
    const char *provided[] = {"res", "deep/res2", NULL};
    HBTEST_ASSERT_OK(hb_staging_carry_over(root, staging, provided, &err), &err);
    HBTEST_ASSERT_OK(hb_staging_commit(root, staging, &err), &err);
    snprintf(p, sizeof p, "%s", at(root, "res/new"));
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s", at(root, "res/old"));
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0); /* provided trees replace, not merge */
    snprintf(p, sizeof p, "%s", at(root, "deep/keep"));
    CU_ASSERT_EQUAL(access(p, F_OK), 0);   /* siblings of provided paths carried */
    snprintf(p, sizeof p, "%s", at(root, "tmp/upload"));
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    CU_ASSERT_NOT_EQUAL(access(staging, F_OK), 0); /* old tree removed */
    struct stat sb;
    CU_ASSERT_EQUAL(stat(root, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 07777, 0751); /* the root keeps its mode */
    hbtest_rmtree(base);
    free(base);
}

static void test_commit_refuses_a_missing_root(void)
{
    hb_err err = {0};
    char *base = hbtest_tempdir("swap2");
    char root[PATH_MAX], staging[PATH_MAX];
    snprintf(root, sizeof root, "%s", at(base, "gone"));
    snprintf(staging, sizeof staging, "%s", at(base, "st"));
    mkdir(staging, 0700);
    HBTEST_ASSERT_FAIL(hb_staging_commit(root, staging, &err), HB_E_IO, &err,
                       "the system is unchanged");
    CU_ASSERT_EQUAL(access(staging, F_OK), 0);
    hbtest_rmtree(base);
    free(base);
}

/* Issue 11 class 1: carry-over and removal never go through a link. The
 * current root's links come over as links; a link on the way to a carried
 * path is refused, naming it; removing a tree holding links (and the path
 * when it is a link itself) removes the links, never the decoy they point
 * at; a read-only directory inside is made writable through its fd. */
static void test_links_never_followed(void)
{
    hb_err err = {0};
    char *base = hbtest_tempdir("links");
    char root[PATH_MAX], staging[PATH_MAX], decoy[PATH_MAX], want[PATH_MAX + 32];
    snprintf(root, sizeof root, "%s", at(base, "root"));
    snprintf(staging, sizeof staging, "%s", at(base, "staging"));
    snprintf(decoy, sizeof decoy, "%s", at(base, "decoy"));
    CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(staging, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(decoy, 0755), 0);
    put(decoy, "x", "decoy", 0644);
    mk(decoy, "sub");
    put(decoy, "sub/y", "decoy", 0644);
    hb_tree before = {0}, after = {0};
    hb_tree_change change;
    HBTEST_ASSERT_OK(hb_tree_list(decoy, NULL, &before, &err), &err);
    mk(root, "res");
    CU_ASSERT_EQUAL(symlink(decoy, at(root, "tmp")), 0);
    CU_ASSERT_EQUAL(symlink("../decoy", at(root, "via")), 0);
    mk(root, "keep");
    CU_ASSERT_EQUAL(symlink(decoy, at(root, "keep/out")), 0);

    const char *through[] = {"via/x", NULL};
    snprintf(want, sizeof want, "'%s/via' is a symbolic link", root);
    HBTEST_ASSERT_FAIL(hb_staging_carry_paths(root, staging, through, &err), HB_E_REFUSED, &err,
                       want);
    const char *provided[] = {"res", NULL};
    HBTEST_ASSERT_OK(hb_staging_carry_over(root, staging, provided, &err), &err);
    char target[PATH_MAX];
    ssize_t n = readlink(at(staging, "tmp"), target, sizeof target - 1);
    CU_ASSERT_FATAL(n > 0);
    target[n] = '\0';
    CU_ASSERT_STRING_EQUAL(target, decoy); /* the link itself came over */
    n = readlink(at(staging, "keep/out"), target, sizeof target - 1);
    CU_ASSERT(n > 0);

    /* A read-only directory with entries, then remove the staging tree. */
    mk(staging, "ro");
    put(staging, "ro/f", "f", 0600);
    CU_ASSERT_EQUAL(chmod(at(staging, "ro"), 0500), 0);
    HBTEST_ASSERT_OK(hb_tree_remove(staging, &err), &err);
    CU_ASSERT_NOT_EQUAL(access(staging, F_OK), 0);
    /* The path itself a link: the link goes, not the directory. */
    HBTEST_ASSERT_OK(hb_tree_remove(at(root, "tmp"), &err), &err);
    struct stat sb;
    CU_ASSERT_NOT_EQUAL(lstat(at(root, "tmp"), &sb), 0);
    HBTEST_ASSERT_OK(hb_tree_remove(root, &err), &err);
    CU_ASSERT_NOT_EQUAL(access(root, F_OK), 0);

    HBTEST_ASSERT_OK(hb_tree_list(decoy, NULL, &after, &err), &err);
    CU_ASSERT_FALSE(hb_tree_diff(&before, &after, &change));
    hb_tree_free(&before);
    hb_tree_free(&after);
    hbtest_rmtree(base);
    free(base);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"tree listing and first difference", test_list_and_diff},
        {"added, removed and changed entries", test_diff_added_removed},
        {"copy keeps modes and links, hard-links files", test_copy_keeps_modes_links_and_hardlinks},
        {"carry-over and exchange replace only provided paths", test_carry_over_and_commit},
        {"a failed exchange leaves everything as it was", test_commit_refuses_a_missing_root},
        {"carry-over and removal never go through a link", test_links_never_followed},
        {NULL, NULL},
    };
    return hbtest_main("tree", cases);
}
