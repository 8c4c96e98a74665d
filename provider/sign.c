/* SHA-256 signatures made inside the token: RSA PKCS#1 v1.5 or ECDSA.
 *
 * Every signature is verified in software with the key's public half before
 * it is handed back: openCryptoki 3.8 through pkcs11-provider 1.0 answers
 * EVP_DigestSign with success and a signature over the bare hash (no
 * DigestInfo), which no verifier accepts. For RSA such a signature is made
 * again by signing the precomputed digest (EVP_PKEY_sign with the signature
 * digest set: CKM_RSA_PKCS over a DigestInfo), and verified again. A
 * signature that still does not verify is an error, never a manifest.
 *
 * Test hook: HSMBAK_FAULT=bad-token-signature flips one bit of every token
 * signature before the check (tests/e2e/token_matrix.sh proves the check
 * catches it before anything is written). */
#include "provider/provider_internal.h"
#include "common/fail.h"
#include "common/fault.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static hb_status digest_sign(hb_provider *p, EVP_PKEY *key, bool rsa, const uint8_t *data,
                             size_t len, uint8_t **sig, size_t *siglen, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *buf = NULL;
    size_t blen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (EVP_DigestSignInit_ex(md, &pctx, "SHA256", p->libctx, NULL, key, NULL) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "the token cannot sign with this %s key",
                          rsa ? "RSA" : "EC");
        goto cleanup;
    }
    if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "cannot select RSA PKCS#1 v1.5 padding");
        goto cleanup;
    }
    if (EVP_DigestSign(md, NULL, &blen, data, len) <= 0 ||
        (buf = OPENSSL_malloc(blen)) == NULL) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "the token refused to sign");
        goto cleanup;
    }
    if (EVP_DigestSign(md, buf, &blen, data, len) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN,
                          "the token refused to sign with SHA-256 (%s); is the key a signer "
                          "key (CKA_SIGN)?",
                          rsa ? "CKM_SHA256_RSA_PKCS" : "CKM_ECDSA");
        goto cleanup;
    }
    *sig = buf;
    *siglen = blen;
    buf = NULL;
cleanup:
    OPENSSL_free(buf);
    EVP_MD_CTX_free(md);
    return st;
}

/* RSA PKCS#1 v1.5 over a precomputed SHA-256 digest (the token adds the
 * DigestInfo: CKM_RSA_PKCS). */
static hb_status rsa_sign_digest(hb_provider *p, EVP_PKEY *key, const uint8_t *data,
                                 size_t len, uint8_t **sig, size_t *siglen, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t dgst[32];
    uint8_t *buf = NULL;
    size_t blen = 0;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_MD *sha256 = EVP_MD_fetch(p->libctx, "SHA256", "provider=default");
    if (sha256 == NULL || EVP_Digest(data, len, dgst, NULL, sha256, NULL) != 1) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "cannot compute SHA-256");
        goto cleanup;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(p->libctx, key, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx, sha256) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "the token cannot sign a SHA-256 digest (CKM_RSA_PKCS)");
        goto cleanup;
    }
    if (EVP_PKEY_sign(ctx, NULL, &blen, dgst, sizeof dgst) <= 0 ||
        (buf = OPENSSL_malloc(blen)) == NULL ||
        EVP_PKEY_sign(ctx, buf, &blen, dgst, sizeof dgst) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN,
                          "the token refused to sign a SHA-256 digest (CKM_RSA_PKCS)");
        goto cleanup;
    }
    *sig = buf;
    *siglen = blen;
    buf = NULL;
cleanup:
    OPENSSL_free(buf);
    EVP_PKEY_CTX_free(ctx);
    EVP_MD_free(sha256);
    return st;
}

/* The key's public half as a software key (provider=default). */
static EVP_PKEY *software_public(hb_provider *p, EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0)
        return NULL;
    const unsigned char *q = der;
    EVP_PKEY *pub = d2i_PUBKEY_ex(NULL, &q, n, p->libctx, "provider=default");
    OPENSSL_free(der);
    return pub;
}

static bool verifies(hb_provider *p, EVP_PKEY *pub, bool rsa, const uint8_t *data, size_t len,
                     const uint8_t *sig, size_t siglen)
{
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL &&
              EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", p->libctx, "provider=default", pub,
                                      NULL) > 0 &&
              (!rsa || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0) &&
              EVP_DigestVerify(md, sig, siglen, data, len) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

static void test_hook(uint8_t *sig, size_t siglen)
{
    if (siglen > 0 && hb_fault_active("bad-token-signature"))
        sig[siglen / 2] ^= 0x01;
}

hb_status hb_provider_sign_sha256(hb_provider *p, EVP_PKEY *key, const uint8_t *data,
                                  size_t len, uint8_t **sig, size_t *siglen, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *buf = NULL;
    size_t blen = 0;
    EVP_PKEY *pub = NULL;
    HB_ENSURE(p != NULL && key != NULL && (data != NULL || len == 0) && sig != NULL &&
              siglen != NULL, HB_E_USAGE, "signing: missing argument");
    bool rsa = EVP_PKEY_is_a(key, "RSA");
    HB_ENSURE(rsa || EVP_PKEY_is_a(key, "EC"), HB_E_USAGE,
              "signing needs an RSA or EC key, not %s", EVP_PKEY_get0_type_name(key));
    pub = software_public(p, key);
    if (pub == NULL) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "cannot read the public half of the signing key");
        goto cleanup;
    }
    HB_TRY(digest_sign(p, key, rsa, data, len, &buf, &blen, err));
    test_hook(buf, blen);
    bool ok = verifies(p, pub, rsa, data, len, buf, blen);
    if (!ok && rsa) { /* openCryptoki: sign the digest instead */
        OPENSSL_free(buf);
        buf = NULL;
        /* A token that cannot sign a digest (tpm2-pkcs11 1.9: CKM_RSA_PKCS
         * sign fails) is reported by the check below, the first fault. */
        hb_err sub = {0};
        if (rsa_sign_digest(p, key, data, len, &buf, &blen, &sub) == HB_OK) {
            test_hook(buf, blen);
            ok = verifies(p, pub, rsa, data, len, buf, blen);
        }
        ERR_clear_error();
    }
    if (!ok) {
        st = hb_fail(err, HB_E_TOKEN,
                     "the token's %s signature does not verify with the key's own public key; "
                     "nothing was signed or written (check the token and its PKCS#11 module)",
                     rsa ? "RSA PKCS#1 v1.5 SHA-256" : "ECDSA SHA-256");
        goto cleanup;
    }
    *sig = buf;
    *siglen = blen;
    buf = NULL;
cleanup:
    OPENSSL_free(buf);
    EVP_PKEY_free(pub);
    return st;
}
