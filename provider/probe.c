/* Which OAEP hashes a recipient key really takes. The mechanism list is not
 * enough: SoftHSM 2.6.1 lists CKM_RSA_PKCS_OAEP but refuses SHA-256 with
 * CKR_ARGUMENTS_BAD. So each hash is tried for real: wrap 32 random bytes in
 * software with the certificate's public key, unwrap on the token, compare.
 * Then, per hash that works, whether the token takes an OAEP label: a
 * labelled round trip, and the same wrap under another label refused
 * (docs/custody.md "OAEP labels"), in sessions of its own (label_probe.c). */
#include "provider/provider_internal.h"

#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>

/* One unlabelled round trip with hash h, which worked before: a failure now
 * is the token's state, an error. */
static hb_status still_unwraps(hb_provider *p, EVP_PKEY *key, X509 *cert, hb_oaep_hash h,
                               hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0, got = 0;
    uint8_t dek[32], back[1024];
    hb_err sub = {0};
    if (RAND_bytes_ex(p->libctx, dek, sizeof dek, 0) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "no random bytes for the OAEP probe");
    HB_TRY(hb_oaep_encrypt(p->libctx, X509_get0_pubkey(cert), h, dek, sizeof dek, &wrapped,
                           &wrapped_len, err));
    if (hb_provider_decrypt_oaep(p, key, h, wrapped, wrapped_len, back, &got, &sub) != HB_OK ||
        got != sizeof dek || CRYPTO_memcmp(dek, back, sizeof dek) != 0)
        HB_FAIL(HB_E_TOKEN, "after refusing an RSA-OAEP label, the token no longer unwraps "
                "%s with this key (%s): its session was left unusable", hb_oaep_hash_name(h),
                sub.msg);
cleanup:
    OPENSSL_cleanse(dek, sizeof dek);
    OPENSSL_cleanse(back, sizeof back);
    free(wrapped);
    return st;
}

/* Whether the token takes labels with hash h (label_probe.c); sets
 * HB_OAEP_LABELS_BIT(h) in *bits when it does. After a refusal the key must
 * still unwrap without a label through pkcs11-provider, as every backup and
 * restore will. */
static hb_status probe_label(hb_provider *p, const char *private_uri, EVP_PKEY *key, X509 *cert,
                             hb_oaep_hash h, unsigned *bits, hb_err *err)
{
    bool takes = false;
    hb_status st = hb_token_probe_oaep_label(p, private_uri, cert, h, &takes, err);
    if (st == HB_OK && takes)
        *bits |= HB_OAEP_LABELS_BIT(h);
    else if (st == HB_OK)
        st = still_unwraps(p, key, cert, h, err);
    return st;
}

hb_status hb_token_probe_oaep(hb_provider *p, const char *private_uri, X509 *cert,
                              unsigned *accepted, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY *key = NULL;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    uint8_t dek[32], back[1024]; /* back holds a whole RSA block (8192 bits) */
    unsigned bits = 0;
    static const hb_oaep_hash hashes[] = {HB_OAEP_SHA1, HB_OAEP_SHA256};
    HB_ENSURE(p != NULL && private_uri != NULL && cert != NULL && accepted != NULL,
              HB_E_USAGE, "OAEP probe: missing argument");
    HB_TRY(hb_provider_load_private_key(p, private_uri, &key, err));
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        hb_err sub = {0};
        if (RAND_bytes_ex(p->libctx, dek, sizeof dek, 0) != 1) {
            st = hb_fail_ossl(err, HB_E_INTERNAL, "no random bytes for the OAEP probe");
            goto cleanup;
        }
        /* A failing wrap is our fault (bad certificate): report it. */
        HB_TRY(hb_oaep_encrypt(p->libctx, X509_get0_pubkey(cert), hashes[i], dek, sizeof dek,
                               &wrapped, &wrapped_len, err));
        /* A failing unwrap is the answer for this hash, not an error. */
        size_t got = 0;
        if (hb_provider_decrypt_oaep(p, key, hashes[i], wrapped, wrapped_len, back, &got,
                                     &sub) == HB_OK &&
            got == sizeof dek && CRYPTO_memcmp(dek, back, sizeof dek) == 0)
            bits |= 1u << hashes[i];
        OPENSSL_cleanse(back, sizeof back);
        free(wrapped);
        wrapped = NULL;
    }
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        if (!(bits & (1u << hashes[i])))
            continue;
        HB_TRY(probe_label(p, private_uri, key, cert, hashes[i], &bits, err));
    }
    if (bits == 0) {
        st = hb_fail(err, HB_E_TOKEN,
                     "the key '%s' unwraps neither RSA-OAEP SHA-1 nor SHA-256 with this "
                     "certificate; is it the certificate of this key, and a recipient key?",
                     private_uri);
        goto cleanup;
    }
    *accepted = bits;
cleanup:
    OPENSSL_cleanse(dek, sizeof dek);
    OPENSSL_cleanse(back, sizeof back);
    free(wrapped);
    EVP_PKEY_free(key);
    return st;
}
