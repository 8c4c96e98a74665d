/* backup/url.c */
#include "hbtest.h"

#include "hsmbak/url.h"

#include <string.h>

static void test_resolves_folders(void)
{
    char out[256];
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_url_resolve("/sys", "cert:///a.pem", out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/sys/cert/a.pem");
    HBTEST_ASSERT_OK(hb_url_resolve("/sys", "temporary:///myBackup/", out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/sys/temporary/myBackup");
    HBTEST_ASSERT_OK(hb_url_resolve("/sys", "sharedcert:", out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/sys/sharedcert");
    HBTEST_ASSERT_OK(hb_url_resolve(NULL, "relative/path", out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "relative/path");
    CU_ASSERT_TRUE(hb_url_is_appliance("local:///x"));
    CU_ASSERT_FALSE(hb_url_is_appliance("/local/x"));
}

static void test_refuses_escapes_and_unknown(void)
{
    char out[256];
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(hb_url_resolve("/sys", "cert:///../etc/passwd", out, sizeof out, &err),
                       HB_E_USAGE, &err, "climbs out of its folder");
    HBTEST_ASSERT_STATUS(hb_url_resolve("/sys", "cert:///a/../../b", out, sizeof out, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_url_resolve("/sys", "https://example/x", out, sizeof out, &err),
                       HB_E_USAGE, &err, "unknown URL");
    HBTEST_ASSERT_FAIL(hb_url_resolve(NULL, "cert:///a", out, sizeof out, &err), HB_E_USAGE, &err,
                       "--root");
    char tiny[8];
    HBTEST_ASSERT_STATUS(hb_url_resolve("/sys", "cert:///abcdef", tiny, sizeof tiny, &err),
                         HB_E_USAGE, &err);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"appliance folders resolve under the root", test_resolves_folders},
        {"escapes, unknown schemes and a missing root are refused", test_refuses_escapes_and_unknown},
        {NULL, NULL},
    };
    return hbtest_main("url", cases);
}
