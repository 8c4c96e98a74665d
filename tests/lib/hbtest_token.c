/* The test token (hbtest_token.h). */
#include "hbtest_token.h"

#include "hbtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hb_provider *th_open(const char *module)
{
    static char source[4200];
    int n = snprintf(source, sizeof source, "file:%s", hbtest_env("HSMBAK_TEST_PIN_FILE"));
    if (n < 0 || (size_t)n >= sizeof source) {
        fprintf(stderr, "th_open: HSMBAK_TEST_PIN_FILE is too long\n");
        exit(2);
    }
    hb_provider_config cfg = {module, source};
    hb_provider *p = NULL;
    hb_err err = {0};
    if (hb_provider_open(&cfg, &p, &err) != HB_OK) {
        /* Usable outside a CUnit test too (suite set-up in main). */
        fprintf(stderr, "hb_provider_open: %s\n", err.msg);
        exit(1);
    }
    return p;
}

const char *th_token_uri(int n)
{
    static char uri[3][128];
    CU_ASSERT_FATAL(n >= 0 && n < 3);
    const char *tok = hbtest_env("HSMBAK_TEST_TOKENS");
    for (int i = 0; i < n && tok != NULL; i++) {
        tok = strchr(tok, ' ');
        if (tok != NULL)
            tok++;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    const char *end = strchr(tok, ' ');
    int len = end != NULL ? (int)(end - tok) : (int)strlen(tok);
    int w = snprintf(uri[n], sizeof uri[n], "pkcs11:token=%.*s", len, tok);
    CU_ASSERT_FATAL(w > 0 && (size_t)w < sizeof uri[n]);
    return uri[n];
}

const char *th_token_uri_with_pin(int n)
{
    static char uri[3][4400];
    const char *token = th_token_uri(n); /* asserts 0 <= n < 3 */
    int w = snprintf(uri[n], sizeof uri[n], "%s?pin-source=file:%s", token,
                     hbtest_env("HSMBAK_TEST_PIN_FILE"));
    if (w < 0 || (size_t)w >= sizeof uri[n]) {
        fprintf(stderr, "th_token_uri_with_pin: HSMBAK_TEST_PIN_FILE is too long\n");
        exit(2);
    }
    return uri[n];
}

void th_keygen(hb_provider *p, int n, const char *label, hb_key_type type, hb_key_usage usage,
               char **priv, char **pub)
{
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_token_keygen(p, th_token_uri(n), label, type, usage, priv, pub, &err),
                     &err);
}
