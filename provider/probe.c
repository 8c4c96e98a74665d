/* Which OAEP hashes a recipient key really takes. The mechanism list is not
 * enough: SoftHSM 2.6.1 lists CKM_RSA_PKCS_OAEP but refuses SHA-256 with
 * CKR_ARGUMENTS_BAD. So each hash is tried for real: wrap 32 random bytes in
 * software with the certificate's public key, unwrap on the token, compare. */
#include "provider/provider_internal.h"

#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>

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
