/* backup/ops/checks.c: the check report a validate or restore returns. */
#include "hbtest.h"

#include "backup/ops/checks.h"

#include <string.h>

static void test_plan_insert_pass_fail(void)
{
    hb_check_report r = {0};
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_checks_add(&r, "signature", NULL, HB_CHECK_NOT_RUN, &err), &err);
    HBTEST_ASSERT_OK(hb_checks_add(&r, "files", NULL, HB_CHECK_NOT_RUN, &err), &err);
    HBTEST_ASSERT_OK(hb_checks_add(&r, "swap", NULL, HB_CHECK_SKIPPED, &err), &err);
    /* Archives go in before swap, in the order they are added. */
    HBTEST_ASSERT_OK(hb_checks_insert(&r, "swap", "archive", "root", &err), &err);
    HBTEST_ASSERT_OK(hb_checks_insert(&r, "swap", "archive", "config", &err), &err);
    CU_ASSERT_EQUAL_FATAL(r.n, 5);
    static const char *const names[] = {"signature", "files", "archive", "archive", "swap"};
    for (size_t i = 0; i < r.n; i++)
        CU_ASSERT_STRING_EQUAL(r.checks[i].name, names[i]);
    CU_ASSERT_STRING_EQUAL(r.checks[2].archive, "root");
    CU_ASSERT_STRING_EQUAL(r.checks[3].archive, "config");
    CU_ASSERT_PTR_NULL(r.checks[0].archive);
    /* Passing marks the named one; an archive by its name. */
    hb_checks_pass(&r, "signature", NULL);
    hb_checks_pass(&r, "files", NULL);
    hb_checks_pass(&r, "archive", "root");
    CU_ASSERT_EQUAL(r.checks[2].status, HB_CHECK_OK);
    CU_ASSERT_EQUAL(r.checks[3].status, HB_CHECK_NOT_RUN);
    /* A skipped check is never passed or failed. */
    hb_checks_pass(&r, "swap", NULL);
    CU_ASSERT_EQUAL(r.checks[4].status, HB_CHECK_SKIPPED);
    /* The failure lands on the first pending check, with the message. */
    hb_fail(&err, HB_E_VERIFY, "archive 'config': bad tag");
    hb_checks_fail_pending(&r, &err);
    CU_ASSERT_EQUAL(r.checks[3].status, HB_CHECK_FAILED);
    CU_ASSERT_STRING_EQUAL(r.checks[3].message, "archive 'config': bad tag");
    CU_ASSERT_EQUAL(r.checks[4].status, HB_CHECK_SKIPPED);
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_PTR_NULL(r.checks[i].message);
    hb_check_report_free(&r);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_PTR_NULL(r.checks);
    hb_check_report_free(&r);
    hb_check_report_free(NULL);
}

static void test_fail_without_pending_and_unknown_names(void)
{
    hb_check_report r = {0};
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_checks_add(&r, "swap", NULL, HB_CHECK_NOT_RUN, &err), &err);
    /* Insert before a check that is not there: at the end. */
    HBTEST_ASSERT_OK(hb_checks_insert(&r, "nosuch", "archive", "x", &err), &err);
    CU_ASSERT_STRING_EQUAL(r.checks[1].name, "archive");
    hb_checks_pass(&r, "nosuch", NULL); /* nothing to mark */
    hb_checks_pass(&r, "archive", "y");
    CU_ASSERT_EQUAL(r.checks[1].status, HB_CHECK_NOT_RUN);
    hb_checks_pass(&r, "swap", NULL);
    hb_checks_pass(&r, "archive", "x");
    /* Everything passed: a later failure (after the last check) marks nothing. */
    hb_fail(&err, HB_E_IO, "post-restore");
    hb_checks_fail_pending(&r, &err);
    for (size_t i = 0; i < r.n; i++)
        CU_ASSERT_EQUAL(r.checks[i].status, HB_CHECK_OK);
    hb_check_report_free(&r);
}

static void test_status_names(void)
{
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_OK), "ok");
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_FAILED), "failed");
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_SKIPPED), "skipped");
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_NOT_RUN), "not-run");
    CU_ASSERT_STRING_EQUAL(hb_check_status_name((hb_check_status)42), "not-run");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"plan, insert archives before swap, pass, fail the first pending",
         test_plan_insert_pass_fail},
        {"unknown names, and a failure after every check passed",
         test_fail_without_pending_and_unknown_names},
        {"status names are the ones docs/json.md lists", test_status_names},
        {NULL, NULL},
    };
    return hbtest_main("checks", cases);
}
