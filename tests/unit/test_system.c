/* backup/system.c: init, open and lock, factory state, factory reset. */
#include "hbtest.h"

#include "backup/system/system.h"

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
    base = hbtest_tempdir("system");
    snprintf(root, sizeof root, "%s/root", base);
    HBTEST_ASSERT_STATUS(hb_system_init(root, "appliance", "9.3", &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_MSG(&err, "V.R.M.F");
    HBTEST_ASSERT_STATUS(hb_system_init(root, "nosuchprofile", NULL, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_OK(hb_system_init(root, "appliance", "9.3.5.0", &err), &err);
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/root/users/admin", root);
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    HBTEST_ASSERT_STATUS(hb_system_init(root, "appliance", NULL, &err), HB_E_REFUSED, &err);
    HBTEST_ASSERT_MSG(&err, "is not empty");
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
    HBTEST_ASSERT_STATUS(hb_system_open(root, 0, &b, &err), HB_E_REFUSED, &err);
    HBTEST_ASSERT_MSG(&err, "another hsmbak operation is working on");
    hb_system_close(a);
    HBTEST_ASSERT_OK(hb_system_open(root, 0, &b, &err), &err);
    hb_system_close(b);
    HBTEST_ASSERT_STATUS(hb_system_open(base, 0, &b, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_MSG(&err, "not a system root made by hsmbak");
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
    HBTEST_ASSERT_STATUS(hb_system_check_factory_state(sys, &err), HB_E_REFUSED, &err);
    HBTEST_ASSERT_MSG(&err, "'config/mqa.cfg' was changed");
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
    hbtest_rmtree(base);
    free(base);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"init lays the factory image down and refuses a used root", test_init},
        {"open takes the lock; a second open is refused", test_open_and_lock},
        {"factory state allows only the restore procedure's changes; reset", test_factory_state_and_reset},
        {"staging trees of killed runs are removed", test_leftovers_are_cleaned},
        {NULL, NULL},
    };
    return hbtest_main("system", cases);
}
