/* provider/uri.c without a token: what a URI says (hb_pkcs11_uri_inspect),
 * the same URI for another object type (hb_pkcs11_uri_with_type), object
 * URIs, PIN attributes stripped, and PKCS#11 padded strings. */
#include "hbtest.h"

#include "provider/provider_internal.h"

#include <stdlib.h>
#include <string.h>

static void test_inspect(void)
{
    hb_err err = {0};
    hb_pkcs11_uri_info info;
    HBTEST_ASSERT_OK(hb_pkcs11_uri_inspect("pkcs11:token=t;object=k;type=private", &info, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(info.object_type, "private");
    CU_ASSERT_FALSE(info.has_pin_value);
    CU_ASSERT_FALSE(info.has_pin_source);
    HBTEST_ASSERT_OK(hb_pkcs11_uri_inspect("pkcs11:token=t;type=cert?pin-source=file:/p",
                                           &info, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(info.object_type, "cert");
    CU_ASSERT_TRUE(info.has_pin_source);
    /* pin-value, its value in any percent-encoding, is seen (and is the
     * caller's to refuse). */
    HBTEST_ASSERT_OK(hb_pkcs11_uri_inspect("pkcs11:token=t?pin-value=%31%32", &info, &err),
                     &err);
    CU_ASSERT_TRUE(info.has_pin_value);
    CU_ASSERT_STRING_EQUAL(info.object_type, "");
    HBTEST_ASSERT_FAIL(hb_pkcs11_uri_inspect("file:///k.pem", &info, &err), HB_E_USAGE, &err,
                       "is not a PKCS#11 URI");
    HBTEST_ASSERT_FAIL(hb_pkcs11_uri_inspect("pkcs11:token=%zz", &info, &err), HB_E_USAGE, &err,
                       "malformed PKCS#11 URI");
    HBTEST_ASSERT_STATUS(hb_pkcs11_uri_inspect(NULL, &info, &err), HB_E_USAGE, &err);
}

static void expect_with_type(const char *uri, const char *type, const char *want)
{
    hb_err err = {0};
    char *out = NULL;
    HBTEST_ASSERT_OK(hb_pkcs11_uri_with_type(uri, type, &out, &err), &err);
    if (strcmp(out, want) != 0)
        fprintf(stderr, "  %s -> %s (want %s)\n", uri, out, want);
    CU_ASSERT_STRING_EQUAL(out, want);
    free(out);
}

static void test_with_type(void)
{
    /* The public half of a private key URI (ceremony.c, objects.c). */
    expect_with_type("pkcs11:token=t;object=k;type=private", "public",
                     "pkcs11:token=t;object=k;type=public");
    /* type= anywhere; every other attribute verbatim, percent-encoding kept. */
    expect_with_type("pkcs11:type=private;token=a%20b;object=k%3B1", "public",
                     "pkcs11:token=a%20b;object=k%3B1;type=public");
    /* No type yet: added; the query stays last. */
    expect_with_type("pkcs11:token=t;object=k?pin-source=file:/p", "cert",
                     "pkcs11:token=t;object=k;type=cert?pin-source=file:/p");
    expect_with_type("pkcs11:", "public", "pkcs11:type=public");
    /* An object called "type=private" is not a type attribute. */
    expect_with_type("pkcs11:token=t;object=type%3Dprivate;type=private", "public",
                     "pkcs11:token=t;object=type%3Dprivate;type=public");
    hb_err err = {0};
    char *out = NULL;
    HBTEST_ASSERT_STATUS(hb_pkcs11_uri_with_type("/etc/key.pem", "public", &out, &err),
                         HB_E_USAGE, &err);
    CU_ASSERT_PTR_NULL(out);
}

static void test_object_uri_and_strings(void)
{
    hb_err err = {0};
    char *s = NULL;
    char label[200];
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    HBTEST_ASSERT_OK(hb_uri_for_object("t", label, "private", &s, &err), &err);
    CU_ASSERT_EQUAL(strlen(s), strlen("pkcs11:token=t;object=;type=private") + 199);
    free(s);
    /* 400 characters that each need %XX do not fit: refused, not cut. */
    char wide[401];
    memset(wide, ' ', 400);
    wide[400] = '\0';
    s = NULL;
    HBTEST_ASSERT_FAIL(hb_uri_for_object("t", wide, "private", &s, &err), HB_E_USAGE, &err,
                       "too long for a PKCS#11 URI");
    CU_ASSERT_PTR_NULL(s);

    char *stripped = NULL, *ps = NULL;
    HBTEST_ASSERT_OK(hb_uri_strip_pin("pkcs11:token=a?module-name=m&pin-source=file:/p&x=1",
                                      &stripped, &ps, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(stripped, "pkcs11:token=a?module-name=m&x=1");
    CU_ASSERT_STRING_EQUAL(ps, "file:/p");
    free(stripped);
    free(ps);

    char out[8];
    const unsigned char field[16] = "label   ";
    hb_p11_string(field, 8, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "label");
    const unsigned char longer[16] = "0123456789abcdef";
    hb_p11_string(longer, 16, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "0123456");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"inspect: object type, pin attributes, refusals", test_inspect},
        {"with_type: type replaced, the rest verbatim", test_with_type},
        {"object URIs refused when too long, PIN attributes stripped, padded strings",
         test_object_uri_and_strings},
        {NULL, NULL},
    };
    return hbtest_main("pkcs11-uri", cases);
}
