/* RSA-OAEP (RFC 8017 §7.1), the one place its parameters are set: key
 * wrapping in software with a certificate's public key, and decryption
 * inside the token (pkcs11-provider maps it to CKM_RSA_PKCS_OAEP with
 * CK_RSA_PKCS_OAEP_PARAMS from the context's digests). */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

const char *hb_oaep_hash_name(hb_oaep_hash h)
{
    switch (h) {
    case HB_OAEP_SHA1: return "rsa-oaep-sha1";
    case HB_OAEP_SHA256: return "rsa-oaep-sha256";
    case HB_OAEP_UNPROBED: return "unprobed";
    }
    return "unknown";
}

hb_status hb_oaep_hash_from_name(const char *name, hb_oaep_hash *out, hb_err *err)
{
    if (name != NULL && strcmp(name, "rsa-oaep-sha1") == 0) {
        *out = HB_OAEP_SHA1;
        return HB_OK;
    }
    if (name != NULL && strcmp(name, "rsa-oaep-sha256") == 0) {
        *out = HB_OAEP_SHA256;
        return HB_OK;
    }
    return hb_fail(err, HB_E_VERIFY,
                   "unknown key wrapping '%s' (expected rsa-oaep-sha256 or rsa-oaep-sha1)",
                   name != NULL ? name : "(none)");
}

static const char *digest_name(hb_oaep_hash h)
{
    return h == HB_OAEP_SHA1 ? "SHA1" : h == HB_OAEP_SHA256 ? "SHA256" : NULL;
}

/* OAEP digest = MGF1 digest = h and the label (none when label_len is 0),
 * on an initialised encrypt or decrypt context. */
static hb_status oaep_set_params(EVP_PKEY_CTX *ctx, hb_oaep_hash h, const uint8_t *label,
                                 size_t label_len, hb_err *err)
{
    const char *md = digest_name(h);
    if (md == NULL)
        return hb_fail(err, HB_E_USAGE, "unknown OAEP hash %d", (int)h);
    if (label_len > 0 && label == NULL)
        return hb_fail(err, HB_E_USAGE, "RSA-OAEP: a label length without a label");
    /* MGF1 digest set explicitly: pkcs11-provider and tokens do not all
     * default it to the OAEP digest (DESIGN §3). Empty label: no
     * OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL at all, exactly as before labels
     * (pkcs11-provider then sends CKZ_DATA_SPECIFIED with no data). */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                         (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_end(),
        OSSL_PARAM_construct_end(),
    };
    if (label_len > 0) /* OpenSSL and pkcs11-provider copy it */
        params[3] = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                                                      (void *)label, label_len);
    if (EVP_PKEY_CTX_set_params(ctx, params) <= 0)
        return hb_fail_ossl(err, HB_E_TOKEN, "cannot set up RSA-OAEP with %s", md);
    return HB_OK;
}

hb_status hb_oaep_encrypt(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, hb_oaep_hash h,
                          const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen,
                          hb_err *err)
{
    return hb_oaep_encrypt_labelled(libctx, pub, h, NULL, 0, in, inlen, out, outlen, err);
}

hb_status hb_oaep_encrypt_labelled(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, hb_oaep_hash h,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t **out, size_t *outlen, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    HB_ENSURE(pub != NULL && in != NULL && out != NULL && outlen != NULL, HB_E_USAGE,
              "RSA-OAEP encrypt: missing argument");
    HB_ENSURE(EVP_PKEY_is_a(pub, "RSA"), HB_E_REFUSED,
              "RSA-OAEP needs an RSA public key, not %s", EVP_PKEY_get0_type_name(pub));
    /* provider=default: the public key is in hand, the token has no part in
     * wrapping, and pkcs11-provider must not be picked for it. */
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, pub, "provider=default");
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0)
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot set up RSA-OAEP encryption");
    HB_TRY(oaep_set_params(ctx, h, label, label_len, err));
    if (EVP_PKEY_encrypt(ctx, NULL, &len, in, inlen) <= 0)
        HB_FAIL_OSSL(HB_E_INTERNAL, "RSA-OAEP encryption failed");
    buf = malloc(len);
    HB_ALLOC(buf);
    if (EVP_PKEY_encrypt(ctx, buf, &len, in, inlen) <= 0)
        HB_FAIL_OSSL(HB_E_INTERNAL, "RSA-OAEP encryption failed");
    *out = buf;
    *outlen = len;
    buf = NULL;
cleanup:
    free(buf);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

hb_status hb_provider_decrypt_oaep(hb_provider *p, EVP_PKEY *key, hb_oaep_hash h,
                                   const uint8_t *in, size_t inlen, uint8_t *out,
                                   size_t *outlen, hb_err *err)
{
    return hb_provider_decrypt_oaep_labelled(p, key, h, NULL, 0, in, inlen, out, outlen, err);
}

hb_status hb_provider_decrypt_oaep_labelled(hb_provider *p, EVP_PKEY *key, hb_oaep_hash h,
                                            const uint8_t *label, size_t label_len,
                                            const uint8_t *in, size_t inlen, uint8_t *out,
                                            size_t *outlen, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    HB_ENSURE(p != NULL && key != NULL && in != NULL && out != NULL && outlen != NULL,
              HB_E_USAGE, "RSA-OAEP decrypt: missing argument");
    HB_ENSURE(EVP_PKEY_is_a(key, "RSA"), HB_E_USAGE, "RSA-OAEP decrypt needs an RSA key, not %s",
              EVP_PKEY_get0_type_name(key));
    int size = EVP_PKEY_get_size(key);
    if (size <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "cannot get the size of the token key");
        goto cleanup;
    }
    cap = (size_t)size;
    if (inlen != cap) {
        st = hb_fail(err, HB_E_VERIFY,
                     "wrapped key is %zu bytes, the %d-bit key needs exactly %zu", inlen,
                     EVP_PKEY_get_bits(key), cap);
        goto cleanup;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(p->libctx, key, NULL);
    buf = OPENSSL_malloc(cap);
    if (ctx == NULL || buf == NULL) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (EVP_PKEY_decrypt_init(ctx) <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "the token cannot decrypt with this key");
        goto cleanup;
    }
    HB_TRY(oaep_set_params(ctx, h, label, label_len, err));
    len = cap;
    if (EVP_PKEY_decrypt(ctx, buf, &len, in, inlen) <= 0) {
        /* pkcs11-provider 1.0 leaves no CK_RV on the error queue, and a
         * software token's own OpenSSL errors ("padding check failed") land
         * on it instead; neither helps the user, so the queue is dropped. */
        ERR_clear_error();
        if (label_len > 0)
            st = hb_fail(err, HB_E_TOKEN,
                         "the token refused RSA-OAEP decryption with %s and this wrap's "
                         "label: the wrapped key was made for another archive, backup, group "
                         "or key (moved here), or was altered",
                         hb_oaep_hash_name(h));
        else if (h == HB_OAEP_SHA1)
            st = hb_fail(err, HB_E_TOKEN,
                         "the token refused RSA-OAEP decryption with %s: the wrapped key was "
                         "not made for this key, or was altered",
                         hb_oaep_hash_name(h));
        else
            st = hb_fail(err, HB_E_TOKEN,
                         "the token refused RSA-OAEP decryption with %s (MGF1 the same): "
                         "either the token does not take this hash (SoftHSM 2.6.1 takes only "
                         "SHA-1 and answers CKR_ARGUMENTS_BAD; enroll such recipients with "
                         "%s), or the wrapped key was not made for this key",
                         hb_oaep_hash_name(h), hb_oaep_hash_name(HB_OAEP_SHA1));
        goto cleanup;
    }
    memcpy(out, buf, len);
    *outlen = len;
cleanup:
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_clear_free(buf, cap);
    return st;
}
