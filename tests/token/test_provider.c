/* provider/context.c, pin.c, store.c, sign.c, uri.c: keys by URI through
 * OSSL_STORE on a real SoftHSM token, PINs, errors, token signatures checked
 * with OpenSSL's default provider and the openssl CLI. */
#include "token_helpers.h"

#include <openssl/pem.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static hb_provider *prov;

static hb_provider *open_with_pin(const char *module, const char *pin_source)
{
    hb_provider_config cfg = {module, pin_source};
    hb_provider *p = NULL;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_provider_open(&cfg, &p, &err), &err);
    return p;
}

/* A private-key URI on the third token, which holds no such key. */
static const char *no_such_key_on_third(void)
{
    static char uri[200];
    snprintf(uri, sizeof uri, "%s;object=anything;type=private", th_token_uri(2));
    return uri;
}

/* Runs first: the third token has not been logged in to by this process
 * (login state is per token and process, PKCS#11 v2.40 §5.6). */
static void test_wrong_pin(void)
{
    hb_err err = {0};
    setenv("HB_TEST_BAD_PIN", "not-the-pin", 1);
    hb_provider *p = open_with_pin(NULL, "env:HB_TEST_BAD_PIN");
    EVP_PKEY *k = NULL;
    const char *uri = no_such_key_on_third();
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(p, uri, &k, &err), HB_E_AUTH, &err,
                       "wrong PIN");
    HBTEST_ASSERT_MSG(&err, uri);
    CU_ASSERT_PTR_NULL(strstr(err.msg, "not-the-pin"));
    CU_ASSERT_PTR_NULL(k);
    hb_provider_free(p);
}

static void test_no_pin_source_without_terminal(void)
{
    hb_err err = {0};
    hb_provider *p = open_with_pin(NULL, NULL);
    EVP_PKEY *k = NULL;
    const char *uri = no_such_key_on_third();
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(p, uri, &k, &err), HB_E_AUTH, &err,
                       "--pin-source");
    HBTEST_ASSERT_MSG(&err, uri);
    /* The URI's own pin-source: the login works, the object is missing. */
    char with_pin[4400];
    snprintf(with_pin, sizeof with_pin, "%s?pin-source=file:%s", uri,
             hbtest_env("HSMBAK_TEST_PIN_FILE"));
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(p, with_pin, &k, &err), HB_E_NOT_FOUND, &err,
                       "no private key matches");
    HBTEST_ASSERT_MSG(&err, uri);
    /* A PIN in the URI itself is refused, and not repeated. */
    snprintf(with_pin, sizeof with_pin, "%s?pin-value=1234", uri);
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(p, with_pin, &k, &err), HB_E_USAGE, &err,
                       "pin-value");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "1234"));
    hb_provider_free(p);
}

static void test_open_refusals(void)
{
    hb_err err = {0};
    hb_provider *p = NULL;
    hb_provider_config missing = {"/nonexistent/libnothing.so", NULL};
    HBTEST_ASSERT_FAIL(hb_provider_open(&missing, &p, &err), HB_E_NOT_FOUND, &err,
                       "/nonexistent/libnothing.so");
    hb_provider_config relative = {"libsofthsm2.so", NULL};
    HBTEST_ASSERT_STATUS(hb_provider_open(&relative, &p, &err), HB_E_USAGE, &err);
    hb_provider_config badpin = {NULL, "stdin"};
    HBTEST_ASSERT_FAIL(hb_provider_open(&badpin, &p, &err), HB_E_USAGE, &err,
                       "file:PATH nor env:VAR");
    CU_ASSERT_PTR_NULL(p);
    /* HSMBAK_PKCS11_MODULE is the fallback for cfg.module. */
    setenv("HSMBAK_PKCS11_MODULE", "/nonexistent/fromenv.so", 1);
    hb_provider_config none = {NULL, NULL};
    HBTEST_ASSERT_FAIL(hb_provider_open(&none, &p, &err), HB_E_NOT_FOUND, &err,
                       "/nonexistent/fromenv.so");
    unsetenv("HSMBAK_PKCS11_MODULE");
    hb_provider_free(NULL);
}

static void test_missing_and_malformed(void)
{
    hb_err err = {0};
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(
                           prov, "pkcs11:token=no-such-token;object=k;type=private", &k, &err),
                       HB_E_NOT_FOUND, &err,
                       "no token matches 'pkcs11:token=no-such-token;object=k;type=private'");
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(
                           prov, "pkcs11:token=hsmbak-test;object=no-such-key;type=private",
                           &k, &err),
                       HB_E_NOT_FOUND, &err,
                       "no private key matches "
                       "'pkcs11:token=hsmbak-test;object=no-such-key;type=private'");
    HBTEST_ASSERT_FAIL(hb_provider_load_public_key(
                           prov, "pkcs11:token=hsmbak-test;object=no-such-key;type=public",
                           &k, &err),
                       HB_E_NOT_FOUND, &err, "object=no-such-key");
    HBTEST_ASSERT_FAIL(hb_provider_load_certificate(
                           prov, "pkcs11:token=hsmbak-test;object=no-such-cert;type=cert", &x,
                           &err),
                       HB_E_NOT_FOUND, &err, "no certificate matches");
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(
                           prov, "pkcs11:token=hsmbak-test;object=%zz;type=private", &k, &err),
                       HB_E_USAGE, &err,
                       "malformed PKCS#11 URI 'pkcs11:token=hsmbak-test;object=%zz");
    HBTEST_ASSERT_FAIL(hb_provider_load_private_key(prov, "/etc/ssl/key.pem", &k, &err),
                       HB_E_USAGE, &err, "'/etc/ssl/key.pem' is not a PKCS#11 URI");
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT_PTR_NULL(x);
}

/* cert written to path by write (PEM_write_X509 or i2d_X509_fp). */
static void write_cert(const char *path, X509 *cert, int (*write)(FILE *, const X509 *))
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(write(f, cert) == 1);
    fclose(f);
}

/* The certificate file at path loads as cert. */
static void loads_as(const char *path, X509 *cert)
{
    hb_err err = {0};
    X509 *x = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_certificate(prov, path, &x, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(x, cert), 0);
    X509_free(x);
}

static void test_certificate_files(void)
{
    hb_err err = {0};
    X509 *x = NULL;
    char *dir = hbtest_tempdir("certs");
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.pem", dir);
    CU_ASSERT_NOT_EQUAL(hb_provider_load_certificate(prov, path, &x, &err), HB_OK);
    HBTEST_ASSERT_MSG(&err, path);
    snprintf(path, sizeof path, "%s/garbage.pem", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    HBTEST_ASSERT_FAIL(hb_provider_load_certificate(prov, path, &x, &err), HB_E_VERIFY, &err, path);

    OSSL_LIB_CTX *libctx = hb_provider_libctx(prov);
    EVP_PKEY *key = th_soft_key(libctx, 2048, NULL);
    X509 *cert = th_make_cert(libctx, key, key, "file cert", 0, 10);
    snprintf(path, sizeof path, "%s/good.pem", dir);
    write_cert(path, cert, PEM_write_X509);
    loads_as(path, cert);
    snprintf(path, sizeof path, "%s/good.der", dir);
    write_cert(path, cert, i2d_X509_fp);
    loads_as(path, cert);
    X509_free(cert);
    EVP_PKEY_free(key);
    hbtest_rmtree(dir);
    free(dir);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The signature made on the token verifies with OpenSSL's default provider
 * alone (a fresh library context without pkcs11-provider) and with the
 * openssl command line tool. */
static void verify_elsewhere(EVP_PKEY *token_pub, const uint8_t *data, size_t len,
                             const uint8_t *sig, size_t siglen)
{
    unsigned char *der = NULL;
    int derlen = i2d_PUBKEY(token_pub, &der);
    CU_ASSERT_FATAL(derlen > 0);
    OSSL_LIB_CTX *plain = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *dflt = OSSL_PROVIDER_load(plain, "default");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dflt);
    const unsigned char *q = der;
    EVP_PKEY *pub = d2i_PUBKEY_ex(NULL, &q, derlen, plain, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CU_ASSERT(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", plain, NULL, pub, NULL) == 1);
    CU_ASSERT_EQUAL(EVP_DigestVerify(md, sig, siglen, data, len), 1);
    EVP_MD_CTX_free(md);
    md = EVP_MD_CTX_new();
    CU_ASSERT(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", plain, NULL, pub, NULL) == 1);
    CU_ASSERT_NOT_EQUAL(EVP_DigestVerify(md, sig, siglen, data, len - 1), 1);
    EVP_MD_CTX_free(md);
    ERR_clear_error();

    char *dir = hbtest_tempdir("verify");
    char pem[4200], sigp[4200], datap[4200], cmd[13000];
    snprintf(pem, sizeof pem, "%s/pub.pem", dir);
    snprintf(sigp, sizeof sigp, "%s/sig", dir);
    snprintf(datap, sizeof datap, "%s/data", dir);
    FILE *f = fopen(pem, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(PEM_write_PUBKEY(f, pub) == 1);
    fclose(f);
    write_file(sigp, sig, siglen);
    write_file(datap, data, len);
    snprintf(cmd, sizeof cmd,
             "OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify '%s' -signature '%s' '%s' "
             ">/dev/null",
             pem, sigp, datap);
    int rc = system(cmd);
    CU_ASSERT(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    write_file(datap, data, len - 1);
    rc = system(cmd);
    CU_ASSERT(WIFEXITED(rc) && WEXITSTATUS(rc) != 0);
    hbtest_rmtree(dir);
    free(dir);
    EVP_PKEY_free(pub);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(plain);
    OPENSSL_free(der);
}

static void sign_and_verify(hb_provider *p, int token, const char *label, hb_key_type type)
{
    hb_err err = {0};
    char *priv = NULL, *pub = NULL;
    th_keygen(p, token, label, type, HB_USAGE_SIGNER, &priv, &pub);
    EVP_PKEY *k = NULL, *pk = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(p, priv, &k, &err), &err);
    HBTEST_ASSERT_OK(hb_provider_load_public_key(p, pub, &pk, &err), &err);
    const uint8_t data[] = "<Manifest>signed on the token</Manifest>";
    uint8_t *sig = NULL;
    size_t siglen = 0;
    HBTEST_ASSERT_OK(hb_provider_sign_sha256(p, k, data, sizeof data, &sig, &siglen, &err),
                     &err);
    CU_ASSERT(siglen > 0);
    verify_elsewhere(pk, data, sizeof data, sig, siglen);
    OPENSSL_free(sig);
    EVP_PKEY_free(k);
    EVP_PKEY_free(pk);
    free(priv);
    free(pub);
}

static void test_sign_rsa(void)
{
    sign_and_verify(prov, 0, "sign-rsa", HB_KEY_RSA2048);
}

static void test_sign_ecdsa(void)
{
    sign_and_verify(prov, 0, "sign-p256", HB_KEY_EC_P256);
    sign_and_verify(prov, 0, "sign-p384", HB_KEY_EC_P384);
}

/* The same through SoftHSM's module directly instead of the p11-kit proxy,
 * in the same process as the proxy. */
static void test_direct_module(void)
{
    hb_provider *p = th_open(TH_SOFTHSM_MODULE);
    sign_and_verify(p, 1, "direct-rsa", HB_KEY_RSA2048);
    sign_and_verify(p, 1, "direct-p256", HB_KEY_EC_P256);
    /* Keys made through one module are seen through the other. */
    hb_err err = {0};
    EVP_PKEY *k = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(
                         prov, "pkcs11:token=hsmbak-test2;object=direct-rsa;type=private", &k,
                         &err),
                     &err);
    EVP_PKEY_free(k);
    hb_provider_free(p);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"wrong PIN is HB_E_AUTH naming the URI", test_wrong_pin},
        {"no PIN source and no terminal; URI pin-source; pin-value refused",
         test_no_pin_source_without_terminal},
        {"open refuses missing module, relative path, bad PIN source", test_open_refusals},
        {"missing token, missing object, malformed URI", test_missing_and_malformed},
        {"certificate files: missing, garbage, PEM, DER", test_certificate_files},
        {"RSA signature on the token verifies with default provider and CLI", test_sign_rsa},
        {"ECDSA P-256/P-384 signatures verify with default provider and CLI", test_sign_ecdsa},
        {"SoftHSM module directly, beside the p11-kit proxy", test_direct_module},
        {NULL, NULL},
    };
    /* No terminal: the PIN prompt must not be reachable. */
    return hbtest_run(&(hbtest_suite){"provider", cases, .no_terminal = true, .prov = &prov});
}
