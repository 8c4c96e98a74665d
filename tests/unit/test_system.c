/* backup/system/: init, open and lock, factory state, factory reset, the
 * restore preconditions, the restore's staging tree and swap, post-restore,
 * and where a path lives. */
#include "hbtest.h"

#include "backup/system/pathname.h"
#include "backup/system/post_restore.h"
#include "backup/system/preconditions.h"
#include "backup/system/restore_staging.h"
#include "backup/system/system.h"
#include "common/fileio.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;
static char root[PATH_MAX];

static void write_text(const char *rel, const char *text)
{
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_init(void)
{
    hb_err err = {0};
    snprintf(root, sizeof root, "%s/root", base);
    HBTEST_ASSERT_FAIL(hb_system_init(root, "appliance", "9.3", &err), HB_E_USAGE, &err, "V.R.M.F");
    HBTEST_ASSERT_STATUS(hb_system_init(root, "nosuchprofile", NULL, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_OK(hb_system_init(root, "appliance", "9.3.5.0", &err), &err);
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/root/users/admin", root);
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    HBTEST_ASSERT_FAIL(hb_system_init(root, "appliance", NULL, &err), HB_E_REFUSED, &err,
                       "is not empty");
}

static void test_open_and_lock(void)
{
    hb_err err = {0};
    hb_system *a = NULL, *b = NULL;
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &a, &err), &err);
    CU_ASSERT_STRING_EQUAL(a->version, "9.3.5.0");
    CU_ASSERT_STRING_EQUAL(a->profile->name, "appliance");
    /* The lock is per open file description: a second open in the same
     * process contends exactly like a second process would. */
    HBTEST_ASSERT_FAIL(hb_system_open(root, 0, &b, &err), HB_E_REFUSED, &err,
                       "another hsmbak operation is working on");
    hb_system_close(a);
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &b, &err), &err);
    hb_system_close(b);
    HBTEST_ASSERT_FAIL(hb_system_open(base, 0, &b, &err), HB_E_NOT_FOUND, &err,
                       "not a system root made by hsmbak");
}

static void test_factory_state_and_reset(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &sys, &err), &err);
    HBTEST_ASSERT_OK(hb_system_check_factory_state(sys, &err), &err);
    /* What the restore procedure needs is allowed... */
    write_text("cert/uploaded.pem", "cert");
    write_text("temporary/backup", "b");
    write_text("config/crypto.xml", "<crypto/>");
    HBTEST_ASSERT_OK(hb_system_check_factory_state(sys, &err), &err);
    /* ...anything else is not. */
    write_text("config/mqa.cfg", "changed");
    HBTEST_ASSERT_FAIL(hb_system_check_factory_state(sys, &err), HB_E_REFUSED, &err,
                       "'config/mqa.cfg' was changed");
    write_text("local/new", "n");
    HBTEST_ASSERT_OK(hb_system_factory_reset(sys, &err), &err);
    HBTEST_ASSERT_OK(hb_system_check_factory_state(sys, &err), &err);
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/local/new", root);
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/cert/uploaded.pem", root);
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0); /* a reset wipes cert: too */
    snprintf(p, sizeof p, "%s/VERSION", root);
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/.hsmbak/profile", root);
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    hb_system_close(sys);
}

/* A manifest body as restore reads it: only what the system layer looks at. */
static hb_manifest_file two_files[] = {{.name = "config"}, {.name = "root"}};
static hb_manifest_excluded one_excluded[] = {{.name = "ipmi", .reason = "set them again"}};
static hb_manifest manifest = {
    .id = "0b9d7a49-0c5e-4d8e-9a52-2f1f6f3c4d21", .version = "9.3.5.0",
    .profile = "appliance", .files = two_files, .n_files = 2, .excluded = one_excluded,
    .n_excluded = 1,
};

static void test_preconditions(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &sys, &err), &err);
    HBTEST_ASSERT_OK(hb_system_check_version(sys, &manifest, &err), &err);
    HBTEST_ASSERT_OK(hb_system_check_profile(sys, &manifest, &err), &err);
    hb_manifest other = manifest;
    other.version = "9.3.6.0";
    HBTEST_ASSERT_FAIL(hb_system_check_version(sys, &other, &err), HB_E_REFUSED, &err,
                       "made on version 9.3.6.0 and this system runs 9.3.5.0");
    other.profile = "host";
    HBTEST_ASSERT_FAIL(hb_system_check_profile(sys, &other, &err), HB_E_REFUSED, &err,
                       "of a 'host' system and this one is 'appliance'");
    hb_system_close(sys);
}

static bool exists(const char *rel)
{
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return access(p, F_OK) == 0;
}

static void test_restore_staging_and_swap(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    hb_restore_staging *s = NULL;
    char dir[PATH_MAX], p[2 * PATH_MAX];
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &sys, &err), &err);
    /* Freed before its swap, a staging tree leaves nothing behind. */
    HBTEST_ASSERT_OK(hb_restore_staging_open(sys, &manifest, &s, &err), &err);
    hb_restore_staging_free(s);
    unsigned cleaned = 1;
    HBTEST_ASSERT_OK(hb_system_clean_leftovers(root, &cleaned, &err), &err);
    CU_ASSERT_EQUAL(cleaned, 0);
    hb_restore_staging_free(NULL);
    /* The current root: an operator's change, a reset file changed, an
     * upload in temporary:. */
    write_text("local/mine", "m");
    write_text("root/users/admin", "admin:changed");
    write_text("temporary/upload", "u");
    HBTEST_ASSERT_OK(hb_restore_staging_open(sys, &manifest, &s, &err), &err);
    HBTEST_ASSERT_OK(hb_restore_staging_dir(s, "config", dir, sizeof dir, &err), &err);
    snprintf(p, sizeof p, "%s/restored.cfg", dir);
    HBTEST_ASSERT_OK(hb_write_file_atomic(p, "r", 1, 0600, &err), &err);
    /* What the root archive would bring: the directory of the reset file. */
    HBTEST_ASSERT_OK(hb_restore_staging_dir(s, "root", dir, sizeof dir, &err), &err);
    snprintf(p, sizeof p, "%s/users", dir);
    HBTEST_ASSERT_OK(hb_mkdirs(p, 0755, &err), &err);
    HBTEST_ASSERT_STATUS(hb_restore_staging_dir(s, "nosuch", dir, sizeof dir, &err),
                         HB_E_VERIFY, &err);
    HBTEST_ASSERT_OK(hb_restore_staging_swap(s, &err), &err);
    hb_restore_staging_free(s);
    /* What the backup provides replaces the root's; sharedcert (skipped when
     * empty, not in the backup) and temporary: come over; the reset file is
     * the factory's. */
    CU_ASSERT_TRUE(exists("config/restored.cfg"));
    CU_ASSERT_FALSE(exists("config/mqa.cfg"));
    CU_ASSERT_FALSE(exists("local/mine"));   /* local is provided (empty) */
    CU_ASSERT_TRUE(exists("local"));
    CU_ASSERT_TRUE(exists("temporary/upload"));
    CU_ASSERT_TRUE(exists("VERSION"));
    CU_ASSERT_TRUE(exists(".hsmbak/profile"));
    unsigned char *admin = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/root/users/admin", root);
    HBTEST_ASSERT_OK(hb_read_file(p, 4096, &admin, &len, &err), &err);
    CU_ASSERT_PTR_NULL(strstr((char *)admin, "changed"));
    free(admin);
    HBTEST_ASSERT_OK(hb_system_clean_leftovers(root, &cleaned, &err), &err);
    CU_ASSERT_EQUAL(cleaned, 0);
    hb_system_close(sys);
}

static void test_post_restore(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    hb_strlist steps = {0};
    int status = 99;
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &sys, &err), &err);
    HBTEST_ASSERT_OK(hb_system_post_restore(sys, &manifest, &status, &steps, &err), &err);
    CU_ASSERT_EQUAL(status, 0); /* the appliance profile's command is `true` */
    /* The resets, what the backup did not hold, then the profile's steps. */
    CU_ASSERT_FATAL(steps.n == 1 + 1 + sys->profile->n_next_steps);
    CU_ASSERT_STRING_EQUAL(steps.items[0], sys->profile->reset[0].message);
    CU_ASSERT_STRING_EQUAL(steps.items[1], "not restored: ipmi: set them again");
    CU_ASSERT_STRING_EQUAL(steps.items[2], sys->profile->next_steps[0]);
    hb_strlist_free(&steps);
    hb_system_close(sys);
}

static void test_path_parent(void)
{
    hb_err err = {0};
    char parent[16];
    const char *last = NULL;
    HBTEST_ASSERT_OK(hb_path_parent("/a/b/c", parent, sizeof parent, &last, &err), &err);
    CU_ASSERT_STRING_EQUAL(parent, "/a/b");
    CU_ASSERT_STRING_EQUAL(last, "c");
    HBTEST_ASSERT_OK(hb_path_parent("/c", parent, sizeof parent, &last, &err), &err);
    CU_ASSERT_STRING_EQUAL(parent, "/");
    CU_ASSERT_STRING_EQUAL(last, "c");
    HBTEST_ASSERT_OK(hb_path_parent("c", parent, sizeof parent, &last, &err), &err);
    CU_ASSERT_STRING_EQUAL(parent, ".");
    CU_ASSERT_STRING_EQUAL(last, "c");
    HBTEST_ASSERT_OK(hb_path_parent("a/", parent, sizeof parent, NULL, &err), &err);
    CU_ASSERT_STRING_EQUAL(parent, "a");
    HBTEST_ASSERT_FAIL(hb_path_parent("/a-very-long-directory-name/x", parent, sizeof parent, &last,
                                      &err), HB_E_USAGE, &err, "too long");
}

static void test_leftovers_are_cleaned(void)
{
    hb_err err = {0};
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s.hsmbak-staging-dead", root);
    CU_ASSERT_EQUAL(mkdir(p, 0700), 0);
    unsigned cleaned = 0;
    HBTEST_ASSERT_OK(hb_system_clean_leftovers(root, &cleaned, &err), &err);
    CU_ASSERT_EQUAL(cleaned, 1);
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
}

/* Issue 13: a host root's version from os-release(5). */
static void expect_version(const char *text, const char *want)
{
    hb_err err = {0};
    char v[64] = "";
    HBTEST_ASSERT_OK(hb_system_version_from_os_release(text, strlen(text), v, sizeof v, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(v, want);
}

static void test_os_release_version(void)
{
    hb_err err = {0};
    char v[64];
    expect_version("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n", "12.0.0.0");
    expect_version("NAME=Ubuntu\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS\"", "22.04.0.0");
    expect_version("VERSION_ID=3.19.1\n", "3.19.1.0");
    expect_version("VERSION_ID='39'\n", "39.0.0.0");
    expect_version("VERSION_ID=1.2.3.4.5\n", "1.2.3.4");
    expect_version("VERSION_ID=\"15-SP5\"\n", "15.0.0.0");
    expect_version("XVERSION_ID=9\nVERSION_ID=7.1\n", "7.1.0.0");
    const char *none = "NAME=Arch\nBUILD_ID=rolling\n", *word = "VERSION_ID=rolling\n";
    HBTEST_ASSERT_FAIL(hb_system_version_from_os_release(none, strlen(none), v, sizeof v, &err),
                       HB_E_NOT_FOUND, &err, "no VERSION_ID");
    HBTEST_ASSERT_FAIL(hb_system_version_from_os_release(word, strlen(word), v, sizeof v, &err),
                       HB_E_REFUSED, &err, "holds no version number");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"init lays the factory image down and refuses a used root", test_init},
        {"open takes the lock; a second open is refused", test_open_and_lock},
        {"factory state allows only the restore procedure's changes; reset", test_factory_state_and_reset},
        {"restore preconditions: the same version and profile", test_preconditions},
        {"a restore's staging tree: provided, carried over, reset, swapped; or removed",
         test_restore_staging_and_swap},
        {"post-restore: the command's status, then the next steps in order",
         test_post_restore},
        {"the directory a path is in", test_path_parent},
        {"staging trees of killed runs are removed", test_leftovers_are_cleaned},
        {"a host's version from os-release: VERSION_ID padded to V.R.M.F",
         test_os_release_version},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"system", cases, .scratch = &base});
}
