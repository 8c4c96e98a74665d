/* provider/session.c: the token-session preamble of every admin operation
 * (strip the PIN attributes, find the one token, open, log in) on SoftHSM,
 * and hb_object_exists (module.c). A fresh process: the third token is not
 * logged in to until the last case (login state is per token and process,
 * PKCS#11 v2.40 §5.6). */
#include "token_helpers.h"

#include "provider/provider_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_provider *open_with(const char *pin_source)
{
    hb_provider_config cfg = {NULL, pin_source};
    hb_provider *p = NULL;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_provider_open(&cfg, &p, &err), &err);
    return p;
}

/* A session on the third token, which its URI's own pin-source logs in to. */
static hb_token_session open_third(hb_provider *p, bool rw, bool login)
{
    hb_err err = {0};
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    HBTEST_ASSERT_OK(hb_token_session_open(p, th_token_uri_with_pin(2), rw, login, &ts, &err),
                     &err);
    return ts;
}

static CK_STATE state_of(const hb_token_session *ts)
{
    CK_SESSION_INFO si;
    CU_ASSERT_EQUAL_FATAL(ts->f->C_GetSessionInfo(ts->s, &si), CKR_OK);
    return si.state;
}

static void test_refusals(void)
{
    hb_err err = {0};
    hb_provider *p = open_with(NULL);
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    HBTEST_ASSERT_FAIL(hb_token_session_open(p, "pkcs11:token=no-such-token", false, false, &ts,
                                             &err), HB_E_NOT_FOUND, &err,
                       "no token matches 'pkcs11:token=no-such-token'");
    HBTEST_ASSERT_FAIL(hb_token_session_open(p, "pkcs11:slot-id=1", false, false, &ts, &err),
                       HB_E_USAGE, &err, "slot numbers change");
    HBTEST_ASSERT_FAIL(hb_token_session_open(p, "token=hsmbak-test", false, false, &ts, &err),
                       HB_E_USAGE, &err, "is not a PKCS#11 URI");
    HBTEST_ASSERT_STATUS(hb_token_session_open(p, "pkcs11:token=hsmbak-test?pin-value=1234",
                                               false, false, &ts, &err),
                         HB_E_USAGE, &err);
    CU_ASSERT_PTR_NULL(strstr(err.msg, "1234"));
    HBTEST_ASSERT_STATUS(hb_token_session_open(p, NULL, false, false, &ts, &err), HB_E_USAGE,
                         &err);
    CU_ASSERT_EQUAL(ts.s, CK_INVALID_HANDLE);
    CU_ASSERT_PTR_NULL(ts.uri);
    /* Logging in needs a PIN, and there is none (no source, no terminal). */
    HBTEST_ASSERT_FAIL(hb_token_session_open(p, th_token_uri(2), false, true, &ts, &err), HB_E_AUTH,
                       &err, "token 'hsmbak-test3' needs a PIN");
    hb_provider_free(p);

    setenv("HB_TEST_WRONG_PIN", "wrong-pin", 1);
    p = open_with("env:HB_TEST_WRONG_PIN");
    HBTEST_ASSERT_FAIL(hb_token_session_open(p, th_token_uri(2), true, true, &ts, &err), HB_E_AUTH,
                       &err, "wrong PIN for token 'hsmbak-test3' (CKR_PIN_INCORRECT)");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "wrong-pin"));
    hb_provider_free(p);
}

static void test_open_without_login(void)
{
    hb_provider *p = open_with(NULL);
    hb_token_session ts = open_third(p, false, false);
    CU_ASSERT_STRING_EQUAL(ts.label, "hsmbak-test3");
    CU_ASSERT_STRING_EQUAL(ts.what, "token 'hsmbak-test3'");
    CU_ASSERT_STRING_EQUAL(ts.uri, "pkcs11:token=hsmbak-test3"); /* no PIN attributes */
    CU_ASSERT_EQUAL(state_of(&ts), CKS_RO_PUBLIC_SESSION);
    hb_token_session_close(&ts);
    CU_ASSERT_EQUAL(ts.s, CK_INVALID_HANDLE);
    CU_ASSERT_PTR_NULL(ts.uri);
    hb_token_session_close(&ts); /* closing twice is harmless */
    hb_token_session_close(NULL);
    hb_provider_free(p);
}

/* The URI's pin-source logs in; a read-write session can make objects, and
 * hb_object_exists finds them by label. */
static void test_login_and_exists(void)
{
    hb_err err = {0};
    hb_provider *p = open_with(NULL);
    hb_token_session ts = open_third(p, true, true);
    CU_ASSERT_EQUAL(state_of(&ts), CKS_RW_USER_FUNCTIONS);

    static const char label[] = "session-test-data";
    CK_ATTRIBUTE by_label[] = {{CKA_LABEL, (void *)label, sizeof label - 1}};
    bool found = true;
    HBTEST_ASSERT_OK(hb_object_exists(ts.f, ts.s, by_label, 1, ts.what, &found, &err), &err);
    CU_ASSERT_FALSE(found);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL no = CK_FALSE;
    CK_BYTE value[] = {1, 2, 3};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_TOKEN, &no, sizeof no}, /* a session object: gone with the session */
        {CKA_LABEL, (void *)label, sizeof label - 1},
        {CKA_VALUE, value, sizeof value},
    };
    CK_OBJECT_HANDLE h;
    CU_ASSERT_EQUAL_FATAL(ts.f->C_CreateObject(ts.s, tmpl, 4, &h), CKR_OK);
    HBTEST_ASSERT_OK(hb_object_exists(ts.f, ts.s, by_label, 1, ts.what, &found, &err), &err);
    CU_ASSERT_TRUE(found);

    /* Logged in while a session is open (per token and process): no PIN is
     * needed for a second one. */
    hb_token_session second = {.s = CK_INVALID_HANDLE};
    HBTEST_ASSERT_OK(hb_token_session_open(p, th_token_uri(2), false, true, &second, &err),
                     &err);
    CU_ASSERT_EQUAL(state_of(&second), CKS_RO_USER_FUNCTIONS);
    /* A search on a closed session is a token error naming the token. */
    CK_SESSION_HANDLE s = second.s;
    hb_token_session_close(&second);
    HBTEST_ASSERT_FAIL(hb_object_exists(ts.f, s, by_label, 1, ts.what, &found, &err), HB_E_TOKEN,
                       &err, "cannot search token 'hsmbak-test3'");
    hb_token_session_close(&ts);
    hb_provider_free(p);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"refusals: no token, slot-id, not a URI, pin-value, no PIN, wrong PIN", test_refusals},
        {"open without login: label, what, URI without PIN attributes", test_open_without_login},
        {"login by the URI's pin-source, read-write, hb_object_exists", test_login_and_exists},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"session", cases, .no_terminal = true});
}
