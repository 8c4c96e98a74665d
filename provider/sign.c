/* SHA-256 signatures made inside the token: RSA PKCS#1 v1.5 or ECDSA. */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

hb_status hb_provider_sign_sha256(hb_provider *p, EVP_PKEY *key, const uint8_t *data,
                                  size_t len, uint8_t **sig, size_t *siglen, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *buf = NULL;
    size_t blen = 0;
    HB_ENSURE(p != NULL && key != NULL && (data != NULL || len == 0) && sig != NULL &&
              siglen != NULL, HB_E_USAGE, "signing: missing argument");
    bool rsa = EVP_PKEY_is_a(key, "RSA");
    HB_ENSURE(rsa || EVP_PKEY_is_a(key, "EC"), HB_E_USAGE,
              "signing needs an RSA or EC key, not %s", EVP_PKEY_get0_type_name(key));
    md = EVP_MD_CTX_new();
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
