/* backup/wrap.c and provider/probe.c: a DEK wrapped in software with a
 * recipient certificate is unwrapped on a real SoftHSM token. */
#include "token_helpers.h"

#include "backup/custody/wrap.h"

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static hb_provider *prov;
static EVP_PKEY *ca_key;     /* software issuer of the recipient certificates */
static EVP_PKEY *recipient;  /* token private key */
static X509 *recipient_cert; /* its certificate (public key from the token) */
static char *recipient_uri;

static void setup_recipient(void)
{
    hb_err err = {0};
    char *pub = NULL;
    OSSL_LIB_CTX *libctx = hb_provider_libctx(prov);
    th_keygen(prov, 0, "wrap-recipient", HB_KEY_RSA2048, HB_USAGE_RECIPIENT, &recipient_uri,
              &pub);
    HBTEST_ASSERT_OK(hb_provider_load_private_key(prov, recipient_uri, &recipient, &err), &err);
    EVP_PKEY *pk = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_public_key(prov, pub, &pk, &err), &err);
    ca_key = th_soft_key(libctx, 2048, NULL);
    recipient_cert = th_make_cert(libctx, pk, ca_key, "backup recipient", 0, 365);
    HBTEST_ASSERT_OK(hb_recipient_check(recipient_cert, false, time(NULL), &err), &err);
    EVP_PKEY_free(pk);
    free(pub);
}

static void test_wrap_sha1_unwrap_on_token(void)
{
    hb_err err = {0};
    uint8_t dek[HB_DEK_LEN], back[HB_DEK_LEN];
    CU_ASSERT_FATAL(RAND_bytes(dek, sizeof dek) == 1);
    uint8_t *wrapped = NULL;
    size_t wlen = 0;
    HBTEST_ASSERT_OK(hb_wrap_dek(hb_provider_libctx(prov), recipient_cert, HB_OAEP_SHA1, dek,
                                 &wrapped, &wlen, &err),
                     &err);
    CU_ASSERT_EQUAL(wlen, 256);
    HBTEST_ASSERT_OK(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA1, wrapped, wlen, back, &err),
                     &err);
    CU_ASSERT_EQUAL(memcmp(dek, back, sizeof dek), 0);
    /* Wrapping is randomised (OAEP seed). */
    uint8_t *again = NULL;
    size_t alen = 0;
    HBTEST_ASSERT_OK(hb_wrap_dek(hb_provider_libctx(prov), recipient_cert, HB_OAEP_SHA1, dek,
                                 &again, &alen, &err),
                     &err);
    CU_ASSERT_NOT_EQUAL(memcmp(wrapped, again, wlen), 0);
    /* One flipped bit: the token refuses it. */
    wrapped[100] ^= 0x01;
    HBTEST_ASSERT_STATUS(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA1, wrapped, wlen, back,
                                       &err),
                         HB_E_TOKEN, &err);
    /* Wrong length never reaches the token. */
    HBTEST_ASSERT_STATUS(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA1, again, alen - 1, back,
                                       &err),
                         HB_E_VERIFY, &err);
    /* Wrapped with SHA-1, unwrapped as SHA-256: refused, never a wrong DEK. */
    CU_ASSERT_NOT_EQUAL(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA256, again, alen, back, &err),
                        HB_OK);
    free(wrapped);
    free(again);
}

/* SoftHSM 2.6.1 refuses OAEP with SHA-256 (CKR_ARGUMENTS_BAD). */
static void test_sha256_refused_by_softhsm(void)
{
    hb_err err = {0};
    uint8_t dek[HB_DEK_LEN] = {7}, back[HB_DEK_LEN];
    uint8_t *wrapped = NULL;
    size_t wlen = 0;
    HBTEST_ASSERT_OK(hb_wrap_dek(hb_provider_libctx(prov), recipient_cert, HB_OAEP_SHA256, dek,
                                 &wrapped, &wlen, &err),
                     &err);
    HBTEST_ASSERT_FAIL(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA256, wrapped, wlen, back, &err),
                       HB_E_TOKEN, &err, "refused RSA-OAEP decryption with rsa-oaep-sha256");
    HBTEST_ASSERT_MSG(&err, "rsa-oaep-sha1");
    free(wrapped);
}

static void test_probe_reports_sha1_only(void)
{
    hb_err err = {0};
    unsigned accepted = 0;
    HBTEST_ASSERT_OK(hb_token_probe_oaep(prov, recipient_uri, recipient_cert, &accepted, &err),
                     &err);
    CU_ASSERT_EQUAL(accepted, 1u << HB_OAEP_SHA1);
    /* A certificate of another key: nothing round-trips. */
    EVP_PKEY *other = th_soft_key(hb_provider_libctx(prov), 2048, NULL);
    X509 *wrong = th_make_cert(hb_provider_libctx(prov), other, ca_key, "other", 0, 30);
    accepted = 0;
    HBTEST_ASSERT_STATUS(hb_token_probe_oaep(prov, recipient_uri, wrong, &accepted, &err),
                         HB_E_TOKEN, &err);
    CU_ASSERT_EQUAL(accepted, 0);
    X509_free(wrong);
    EVP_PKEY_free(other);
}

/* A token decrypt that yields something other than 32 bytes is not a DEK. */
static void test_unwrap_wrong_size(void)
{
    hb_err err = {0};
    OSSL_LIB_CTX *libctx = hb_provider_libctx(prov);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(libctx, X509_get0_pubkey(recipient_cert),
                                                   "provider=default");
    CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA1", NULL) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA1", NULL) == 1);
    uint8_t in[31] = {1}, out[256], back[HB_DEK_LEN];
    size_t outlen = sizeof out;
    CU_ASSERT_FATAL(EVP_PKEY_encrypt(ctx, out, &outlen, in, sizeof in) == 1);
    HBTEST_ASSERT_FAIL(hb_unwrap_dek(prov, recipient, HB_OAEP_SHA1, out, outlen, back, &err),
                       HB_E_VERIFY, &err, "31 bytes");
    EVP_PKEY_CTX_free(ctx);
}

static void test_recipient_check_refusals(void)
{
    hb_err err = {0};
    OSSL_LIB_CTX *libctx = hb_provider_libctx(prov);
    time_t now = time(NULL);

    EVP_PKEY *small = th_soft_key(libctx, 1024, NULL);
    X509 *c1024 = th_make_cert(libctx, small, small, "small recipient", 0, 30);
    HBTEST_ASSERT_FAIL(hb_recipient_check(c1024, true, now, &err), HB_E_REFUSED, &err,
                       "1024-bit RSA key");
    HBTEST_ASSERT_MSG(&err, "small recipient");

    EVP_PKEY *ec = th_soft_key(libctx, 0, "P-256");
    X509 *cec = th_make_cert(libctx, ec, ec, "ec recipient", 0, 30);
    HBTEST_ASSERT_FAIL(hb_recipient_check(cec, true, now, &err), HB_E_REFUSED, &err, "EC key");
    uint8_t dek[HB_DEK_LEN] = {0};
    uint8_t *w = NULL;
    size_t wl = 0;
    HBTEST_ASSERT_STATUS(hb_wrap_dek(libctx, cec, HB_OAEP_SHA256, dek, &w, &wl, &err),
                         HB_E_REFUSED, &err);

    X509 *expired = th_make_cert(libctx, X509_get0_pubkey(recipient_cert), ca_key,
                                 "old recipient", -30, -1);
    HBTEST_ASSERT_FAIL(hb_recipient_check(expired, false, now, &err), HB_E_REFUSED, &err,
                       "expired");
    HBTEST_ASSERT_MSG(&err, "old recipient");
    HBTEST_ASSERT_OK(hb_recipient_check(expired, true, now, &err), &err);
    /* The same certificate was fine 10 days ago. */
    HBTEST_ASSERT_OK(hb_recipient_check(expired, false, now - 10 * 86400, &err), &err);

    X509_free(c1024);
    X509_free(cec);
    X509_free(expired);
    EVP_PKEY_free(small);
    EVP_PKEY_free(ec);
}

static void test_hash_names(void)
{
    hb_err err = {0};
    hb_oaep_hash h;
    HBTEST_ASSERT_OK(hb_oaep_hash_from_name("rsa-oaep-sha256", &h, &err), &err);
    CU_ASSERT_EQUAL(h, HB_OAEP_SHA256);
    CU_ASSERT_STRING_EQUAL(hb_oaep_hash_name(HB_OAEP_SHA1), "rsa-oaep-sha1");
    HBTEST_ASSERT_OK(hb_oaep_hash_from_name(hb_oaep_hash_name(HB_OAEP_SHA1), &h, &err), &err);
    CU_ASSERT_EQUAL(h, HB_OAEP_SHA1);
    HBTEST_ASSERT_FAIL(hb_oaep_hash_from_name("rsa-oaep-md5", &h, &err), HB_E_VERIFY, &err,
                       "rsa-oaep-md5");
}

static void free_recipient(void)
{
    EVP_PKEY_free(recipient);
    EVP_PKEY_free(ca_key);
    X509_free(recipient_cert);
    free(recipient_uri);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"recipient key and certificate", setup_recipient},
        {"DEK wrapped in software (SHA-1) unwraps on the token", test_wrap_sha1_unwrap_on_token},
        {"OAEP-SHA256 on SoftHSM 2.6.1 is HB_E_TOKEN with a clear message",
         test_sha256_refused_by_softhsm},
        {"probe reports exactly SHA-1", test_probe_reports_sha1_only},
        {"unwrapped value of the wrong size is HB_E_VERIFY", test_unwrap_wrong_size},
        {"recipient check refuses RSA-1024, EC, expired", test_recipient_check_refusals},
        {"OAEP hash names", test_hash_names},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"wrap", cases, .prov = &prov, .teardown = free_recipient});
}
