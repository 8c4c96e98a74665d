/* provider/pin.c, uri.c, and the PIN handling of the admin side
 * (session.c hb_session_open). A fresh process: no token is logged in yet. */
#include "token_helpers.h"

#include "provider/provider_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *dir;

static const char *write_pin(const char *name, const char *content)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_pin_sources(void)
{
    hb_err err = {0};
    char pin[HB_PIN_MAX], src[4300];
    size_t len = 99;
    bool typed = true;
    hb_provider_config cfg = {NULL, NULL};
    hb_provider *p = NULL;
    HBTEST_ASSERT_OK(hb_provider_open(&cfg, &p, &err), &err);

    snprintf(src, sizeof src, "file:%s", write_pin("nl", "1234\n"));
    HBTEST_ASSERT_OK(hb_pin_resolve(p, src, NULL, "test", pin, &len, &typed, &err), &err);
    CU_ASSERT_STRING_EQUAL(pin, "1234");
    CU_ASSERT_EQUAL(len, 4);
    CU_ASSERT_FALSE(typed); /* read from a file, not remembered */
    /* A bare absolute path is a file too (RFC 7512 pin-source). */
    HBTEST_ASSERT_OK(hb_pin_resolve(p, src + 5, NULL, "test", pin, &len, &typed, &err), &err);
    CU_ASSERT_STRING_EQUAL(pin, "1234");

    snprintf(src, sizeof src, "file:%s", write_pin("empty", "\n"));
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, src, NULL, "test", pin, &len, &typed, &err), HB_E_AUTH, &err,
                       "is empty");
    snprintf(src, sizeof src, "file:%s", write_pin("two", "1234\n5678\n"));
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, src, NULL, "test", pin, &len, &typed, &err), HB_E_AUTH, &err,
                       "more than one line");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "1234"));
    CU_ASSERT_EQUAL(len, 0);
    snprintf(src, sizeof src, "file:%s/missing", dir);
    CU_ASSERT_NOT_EQUAL(hb_pin_resolve(p, src, NULL, "token 'x'", pin, &len, &typed, &err), HB_OK);
    HBTEST_ASSERT_MSG(&err, "reading the PIN for token 'x'");

    /* Group- or world-accessible PIN files are refused, naming the mode. */
    const char *open_file = write_pin("open", "1234\n");
    snprintf(src, sizeof src, "file:%s", open_file);
    CU_ASSERT_EQUAL_FATAL(chmod(open_file, 0644), 0);
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, src, NULL, "token 'x'", pin, &len, &typed, &err),
                       HB_E_AUTH, &err, "is accessible by group or others (mode 0644); make it "
                       "private with 'chmod 600 ");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "1234"));
    CU_ASSERT_EQUAL_FATAL(chmod(open_file, 0620), 0);
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, src, NULL, "token 'x'", pin, &len, &typed, &err),
                       HB_E_AUTH, &err, "(mode 0620)");
    CU_ASSERT_EQUAL_FATAL(chmod(open_file, 0400), 0);
    HBTEST_ASSERT_OK(hb_pin_resolve(p, src, NULL, "token 'x'", pin, &len, &typed, &err), &err);
    CU_ASSERT_STRING_EQUAL(pin, "1234");
    snprintf(src, sizeof src, "file:%s", dir);
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, src, NULL, "token 'x'", pin, &len, &typed, &err),
                       HB_E_AUTH, &err, "is not a regular file");

    setenv("HB_TEST_PIN", "9876", 1);
    HBTEST_ASSERT_OK(hb_pin_resolve(p, "env:HB_TEST_PIN", NULL, "test", pin, &len, &typed, &err), &err);
    CU_ASSERT_STRING_EQUAL(pin, "9876");
    unsetenv("HB_TEST_PIN_UNSET");
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, "env:HB_TEST_PIN_UNSET", NULL, "test", pin, &len, &typed, &err),
                       HB_E_AUTH, &err, "'HB_TEST_PIN_UNSET' is not set");
    HBTEST_ASSERT_STATUS(hb_pin_resolve(p, "1234", NULL, "test", pin, &len, &typed, &err), HB_E_USAGE, &err);
    /* Nothing configured and stdin is /dev/null: no prompt, a clear error. */
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, NULL, NULL, "token 'y'", pin, &len, &typed, &err), HB_E_AUTH, &err,
                       "token 'y' needs a PIN and stdin is not a terminal: use --pin-source");
    hb_provider_free(p);
}

/* pin_cache.c: a PIN typed for one token is handed out for that token only,
 * an explicit source still wins, a refused PIN is forgotten, and clearing
 * wipes everything. */
static void test_pin_cache(void)
{
    hb_err err = {0};
    char pin[HB_PIN_MAX], src[4300], key_a[HB_PIN_TOKEN_KEY_MAX], key_b[HB_PIN_TOKEN_KEY_MAX];
    size_t len = 0;
    bool typed = true;
    CK_TOKEN_INFO a, b;
    memset(&a, ' ', sizeof a);
    memcpy(a.label, "alpha", 5);
    memcpy(a.serialNumber, "0001", 4);
    b = a;
    memcpy(b.serialNumber, "0002", 4); /* same label, another token */
    hb_pin_token_key(&a, key_a);
    hb_pin_token_key(&b, key_b);
    CU_ASSERT_STRING_NOT_EQUAL(key_a, key_b);

    hb_provider_config cfg = {NULL, NULL};
    hb_provider *p = NULL;
    HBTEST_ASSERT_OK(hb_provider_open(&cfg, &p, &err), &err);
    CU_ASSERT_FALSE(hb_pin_cache_get(key_a, pin, &len));
    hb_pin_cache_put(key_a, "typed-once", 10);
    /* stdin is not a terminal here: only the cache can answer. */
    HBTEST_ASSERT_OK(hb_pin_resolve(p, NULL, key_a, "token 'alpha'", pin, &len, &typed, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(pin, "typed-once");
    CU_ASSERT_EQUAL(len, 10);
    CU_ASSERT_FALSE(typed);
    HBTEST_ASSERT_FAIL(hb_pin_resolve(p, NULL, key_b, "token 'alpha'", pin, &len, &typed, &err),
                       HB_E_AUTH, &err, "needs a PIN and stdin is not a terminal");
    snprintf(src, sizeof src, "file:%s", write_pin("explicit", "from-file\n"));
    HBTEST_ASSERT_OK(hb_pin_resolve(p, src, key_a, "token 'alpha'", pin, &len, &typed, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(pin, "from-file");
    hb_pin_cache_forget(key_a);
    CU_ASSERT_FALSE(hb_pin_cache_get(key_a, pin, &len));
    hb_pin_cache_put(key_a, "again", 5);
    hb_pin_cache_put(key_b, "other", 5);
    hb_pin_cache_clear();
    CU_ASSERT_FALSE(hb_pin_cache_get(key_a, pin, &len));
    CU_ASSERT_FALSE(hb_pin_cache_get(key_b, pin, &len));
    hb_provider_free(p);
}

static void test_uri_helpers(void)
{
    hb_err err = {0};
    char *s = NULL, *ps = NULL;
    HBTEST_ASSERT_OK(hb_uri_strip_pin("pkcs11:token=a;object=b?module-name=x&pin-source=file:%2Ftmp%2Fp"
                                      "&module-path=%2Fy",
                                      &s, &ps, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(s, "pkcs11:token=a;object=b?module-name=x&module-path=%2Fy");
    free(s);
    free(ps);
    HBTEST_ASSERT_STATUS(hb_uri_strip_pin("pkcs11:token=a?pin-value=secret", &s, &ps, &err),
                         HB_E_USAGE, &err);
    CU_ASSERT_PTR_NULL(strstr(err.msg, "secret"));
    /* Any spelling of pin-value is pin-value; pin-source only plainly. */
    static const char *const spelt[] = {"pkcs11:token=a?pin%2Dvalue=secret",
                                        "pkcs11:token=a?pin%2dvalue=secret",
                                        "pkcs11:token=a?PIN-VALUE=secret",
                                        "pkcs11:token=a?module-name=x&%70in-value=secret"};
    for (size_t i = 0; i < sizeof spelt / sizeof spelt[0]; i++) {
        HBTEST_ASSERT_FAIL(hb_uri_strip_pin(spelt[i], &s, &ps, &err), HB_E_USAGE, &err,
                           "carries pin-value (percent-encoded or in capitals)");
        CU_ASSERT_PTR_NULL(strstr(err.msg, "secret"));
    }
    HBTEST_ASSERT_FAIL(hb_uri_strip_pin("pkcs11:token=a?pin%2Dsource=file:%2Ftmp%2Fp", &s, &ps,
                                        &err),
                       HB_E_USAGE, &err, "spells pin-source percent-encoded or in capitals");
    HBTEST_ASSERT_OK(hb_uri_strip_pin("pkcs11:token=a;object=pin-value?module-name=pin-value",
                                      &s, &ps, &err),
                     &err);
    free(s);
    free(ps);
    HBTEST_ASSERT_OK(hb_uri_strip_pin("pkcs11:token=a?pin-source=file:%2Ftmp%2Fp", &s, &ps,
                                      &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(s, "pkcs11:token=a");
    CU_ASSERT_STRING_EQUAL(ps, "file:/tmp/p");
    free(s);
    free(ps);
    HBTEST_ASSERT_OK(hb_uri_for_object("tok en", "a;b/ü", "private", &s, &err), &err);
    CU_ASSERT_STRING_EQUAL(s, "pkcs11:token=tok%20en;object=a%3Bb%2F%C3%BC;type=private");
    free(s);
}

/* The admin side: no PIN source, then a wrong one, then the right one. */
static void test_admin_login(void)
{
    hb_err err = {0};
    char *priv = NULL, *pub = NULL;
    hb_provider_config none = {NULL, NULL};
    hb_provider *p = NULL;
    HBTEST_ASSERT_OK(hb_provider_open(&none, &p, &err), &err);
    HBTEST_ASSERT_FAIL(hb_token_keygen(p, th_token_uri(0), "k", HB_KEY_EC_P256, HB_USAGE_SIGNER,
                                       &priv, &pub, &err), HB_E_AUTH, &err,
                       "token 'hsmbak-test' needs a PIN");
    hb_provider_free(p);

    setenv("HB_TEST_WRONG", "wrong-pin", 1);
    hb_provider_config wrong = {NULL, "env:HB_TEST_WRONG"};
    HBTEST_ASSERT_OK(hb_provider_open(&wrong, &p, &err), &err);
    HBTEST_ASSERT_FAIL(hb_token_keygen(p, th_token_uri(0), "k", HB_KEY_EC_P256, HB_USAGE_SIGNER,
                                       &priv, &pub, &err), HB_E_AUTH, &err,
                       "wrong PIN for token 'hsmbak-test' (CKR_PIN_INCORRECT)");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "wrong-pin"));
    /* The token URI's pin-source wins over the configured source. */
    HBTEST_ASSERT_OK(hb_token_keygen(p, th_token_uri_with_pin(0), "label with space",
                                     HB_KEY_EC_P256, HB_USAGE_SIGNER, &priv, &pub, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(priv, "pkcs11:token=hsmbak-test;object=label%20with%20space;type=private");
    hb_provider_free(p);
    /* The returned URI loads the key. */
    p = th_open(NULL);
    EVP_PKEY *k = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(p, priv, &k, &err), &err);
    CU_ASSERT(EVP_PKEY_is_a(k, "EC"));
    EVP_PKEY_free(k);
    hb_provider_free(p);
    free(priv);
    free(pub);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"PIN from file, bare path, env; empty, two lines, unset, no terminal",
         test_pin_sources},
        {"PIN cache: per token, explicit source wins, forget, clear", test_pin_cache},
        {"URI: pin attributes stripped, pin-value refused, percent-encoding", test_uri_helpers},
        {"admin login: no PIN, wrong PIN, URI pin-source", test_admin_login},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"pin", cases, .no_terminal = true, .scratch = &dir});
}
