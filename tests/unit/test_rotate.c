/* backup/rotate.c: dated destinations and the rotation's refusals (the
 * rotation itself, with signed backups, is tests/e2e/scheduled.sh). */
#include "hbtest.h"

#include "hsmbak/rotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_expands_date(void)
{
    char out[128];
    hb_err err = {0};
    time_t t = 1795978800; /* 2026-11-29T19:00:00Z */
    HBTEST_ASSERT_OK(hb_dest_expand("/b/web1/backup-{date}", t, out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/b/web1/backup-20261129T190000Z");
    HBTEST_ASSERT_OK(hb_dest_expand("temporary:///{date}.bak", t, out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "temporary:///20261129T190000Z.bak");
    HBTEST_ASSERT_OK(hb_dest_expand("/b/plain", t, out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/b/plain");
}

static void test_refuses_bad_patterns(void)
{
    char out[128], tiny[20];
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(hb_dest_expand("/b/{date}/x", 0, out, sizeof out, &err), HB_E_USAGE, &err,
                       "last path component");
    HBTEST_ASSERT_STATUS(hb_dest_expand("/b/{date}-{date}", 0, out, sizeof out, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_dest_expand("/b/backup-{date}", 0, tiny, sizeof tiny, &err), HB_E_USAGE,
                       &err, "too long");
}

static void test_rotate_refusals(void)
{
    hb_rotate_result r;
    hb_err err = {0};
    char *dir = hbtest_tempdir("rotate");
    char pattern[512], newest[512];
    snprintf(pattern, sizeof pattern, "%s/backup-{date}", dir);
    snprintf(newest, sizeof newest, "%s/backup-20261129T190000Z", dir);
    HBTEST_ASSERT_FAIL(hb_rotate(pattern, newest, 0, &r, &err), HB_E_USAGE, &err,
                       "--keep must be 1 or more");
    HBTEST_ASSERT_FAIL(hb_rotate(newest, newest, 3, &r, &err), HB_E_USAGE, &err, "{date}");
    /* The backup just made must itself verify, or nothing is touched. */
    CU_ASSERT_EQUAL(mkdir(newest, 0700), 0);
    HBTEST_ASSERT_FAIL(hb_rotate(pattern, newest, 3, &r, &err), HB_E_VERIFY, &err,
                       "nothing was rotated");
    struct stat sb;
    CU_ASSERT_EQUAL(stat(newest, &sb), 0);
    hb_rotate_result_free(&r);
    hb_rotate_result_free(NULL);
    hbtest_rmtree(dir);
    free(dir);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"{date} becomes the UTC time in the last component", test_expands_date},
        {"misplaced or repeated {date} and overflow are refused", test_refuses_bad_patterns},
        {"keep 0, an undated pattern and an unverifiable new backup are refused",
         test_rotate_refusals},
        {NULL, NULL},
    };
    return hbtest_main("rotate", cases);
}
