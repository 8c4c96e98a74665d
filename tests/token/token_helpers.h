/* Helpers shared by the token suites (header-only: each suite is its own
 * executable). Every suite runs inside hsm-config/with-token. */
#ifndef HSMBAK_TOKEN_HELPERS_H
#define HSMBAK_TOKEN_HELPERS_H

#include "hbtest.h"

#include "provider/token.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TH_SOFTHSM_MODULE "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"

/* A provider on `module` (NULL: the default, the p11-kit proxy) with the
 * test PIN file as PIN source. */
static inline hb_provider *th_open(const char *module)
{
    static char source[4200];
    snprintf(source, sizeof source, "file:%s", hbtest_env("HSMBAK_TEST_PIN_FILE"));
    hb_provider_config cfg = {module, source};
    hb_provider *p = NULL;
    hb_err err = {0};
    hb_status st = hb_provider_open(&cfg, &p, &err);
    if (st != HB_OK) {
        /* Usable outside a CUnit test too (suite set-up in main). */
        fprintf(stderr, "hb_provider_open: %s\n", err.msg);
        exit(1);
    }
    return p;
}

/* "pkcs11:token=LABEL" of the n-th test token (0-based). */
static inline const char *th_token_uri(int n)
{
    static char uri[3][128];
    const char *tok = hbtest_env("HSMBAK_TEST_TOKENS");
    for (int i = 0; i < n && tok != NULL; i++) {
        tok = strchr(tok, ' ');
        if (tok != NULL)
            tok++;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    const char *end = strchr(tok, ' ');
    int len = end != NULL ? (int)(end - tok) : (int)strlen(tok);
    snprintf(uri[n], sizeof uri[n], "pkcs11:token=%.*s", len, tok);
    return uri[n];
}

/* A certificate for `pub`, issued by `signer_key` (a token or software key)
 * in libctx, valid from now+from_days to now+to_days. */
static inline X509 *th_make_cert(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, EVP_PKEY *signer_key,
                                 const char *cn, long from_days, long to_days)
{
    X509 *x = X509_new_ex(libctx, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_FATAL(X509_set_version(x, 2) == 1);
    CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), 4711) == 1);
    X509_NAME *name = X509_get_subject_name(x);
    CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                               (const unsigned char *)cn, -1, -1, 0) == 1);
    CU_ASSERT_FATAL(X509_set_issuer_name(x, name) == 1);
    CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L) != NULL);
    CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L) != NULL);
    if (X509_set_pubkey(x, pub) != 1) {
        ERR_print_errors_fp(stderr);
        CU_FAIL_FATAL("X509_set_pubkey");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CU_ASSERT_FATAL(EVP_DigestSignInit_ex(md, NULL, "SHA256", libctx, NULL, signer_key,
                                          NULL) == 1);
    if (X509_sign_ctx(x, md) <= 0) {
        ERR_print_errors_fp(stderr);
        CU_FAIL_FATAL("X509_sign_ctx");
    }
    EVP_MD_CTX_free(md);
    return x;
}

/* A software key in libctx's default provider. */
static inline EVP_PKEY *th_soft_key(OSSL_LIB_CTX *libctx, size_t rsa_bits, const char *curve)
{
    EVP_PKEY *k = NULL;
    if (curve == NULL)
        k = EVP_PKEY_Q_keygen(libctx, "provider=default", "RSA", rsa_bits);
    else
        k = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", curve);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return k;
}

/* Generate a pair on token n and return its URIs (caller frees). */
static inline void th_keygen(hb_provider *p, int n, const char *label, hb_key_type type,
                             hb_key_usage usage, char **priv, char **pub)
{
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_token_keygen(p, th_token_uri(n), label, type, usage, priv, pub, &err),
                     &err);
}

#endif
