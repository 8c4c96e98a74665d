/* Software keys and certificates for the suites (hbtest_x509.h). */
#include "hbtest_x509.h"

#include "common/fail.h"

#include <CUnit/CUnit.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EVP_PKEY *sigtest_keygen(const char *kind)
{
    if (strcmp(kind, "rsa2048") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (strcmp(kind, "rsa1024") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    if (strcmp(kind, "p256") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (strcmp(kind, "p384") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (strcmp(kind, "p521") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    return NULL;
}

X509 *sigtest_cert(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    if (x == NULL)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff) + 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400L);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

sigtest_key sigtest_make(const char *kind, const char *cn)
{
    sigtest_key k = {0};
    k.key = sigtest_keygen(kind);
    if (k.key != NULL)
        k.cert = sigtest_cert(k.key, cn);
    return k;
}

void sigtest_free(sigtest_key *k)
{
    EVP_PKEY_free(k->key);
    X509_free(k->cert);
    k->key = NULL;
    k->cert = NULL;
}

hb_status sigtest_sign(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                       size_t *siglen, hb_err *err)
{
    EVP_PKEY *key = ctx;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *out = NULL;
    size_t n = 0;
    hb_status st = HB_OK;
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &n, data, len) != 1 || (out = OPENSSL_malloc(n)) == NULL ||
        EVP_DigestSign(md, out, &n, data, len) != 1) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "test signer failed");
        OPENSSL_free(out);
        out = NULL;
    }
    EVP_MD_CTX_free(md);
    *sig = out;
    *siglen = n;
    return st;
}

char *sigtest_replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (at == NULL)
        return NULL;
    size_t a = (size_t)(at - s), fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
    char *out = malloc(a + tl + rest + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, s, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, at + fl, rest + 1);
    return out;
}

int sigtest_write_pem(const char *path, X509 *cert)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = PEM_write_X509(f, cert);
    return (fclose(f) == 0 && ok == 1) ? 0 : -1;
}

X509 *th_make_cert(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, EVP_PKEY *signer_key, const char *cn,
                   long from_days, long to_days)
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

EVP_PKEY *th_soft_key(OSSL_LIB_CTX *libctx, size_t rsa_bits, const char *curve)
{
    EVP_PKEY *k = NULL;
    if (curve == NULL)
        k = EVP_PKEY_Q_keygen(libctx, "provider=default", "RSA", rsa_bits);
    else
        k = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", curve);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return k;
}
