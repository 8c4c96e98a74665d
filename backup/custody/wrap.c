/* Key wrapping (DESIGN §4.2): the DEK is wrapped in software with each
 * recipient certificate's RSA public key (RSA-OAEP, MGF1 hash = OAEP hash,
 * empty label or, for recipients whose token takes one, a label binding the
 * wrap to its purpose; RFC 8017 §7.1) and unwrapped on the token. */
#include "backup/custody/wrap.h"

#include "provider/token.h"
#include "common/fail.h"
#include "common/encode.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB_RECIPIENT_MIN_BITS 2048

hb_status hb_recipient_check(X509 *cert, bool ignore_expiration, time_t now, hb_err *err)
{
    hb_status st = HB_OK;
    char *subject = NULL;
    HB_ENSURE(cert != NULL, HB_E_USAGE, "recipient check: no certificate");
    /* The whole subject for messages, however long (OPENSSL_malloc'ed). */
    subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
    const char *who = subject != NULL ? subject : "(unreadable subject)";
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (pub == NULL)
        HB_FAIL_OSSL(HB_E_REFUSED, "recipient certificate '%s' has an unreadable public key",
                     who);
    HB_ENSURE(EVP_PKEY_is_a(pub, "RSA"), HB_E_REFUSED,
              "recipient certificate '%s' holds a %s key; backup recipients need RSA keys of %d "
              "bits or more", who, EVP_PKEY_get0_type_name(pub), HB_RECIPIENT_MIN_BITS);
    int bits = EVP_PKEY_get_bits(pub);
    HB_ENSURE(bits >= HB_RECIPIENT_MIN_BITS, HB_E_REFUSED,
              "recipient certificate '%s' holds a %d-bit RSA key; at least %d bits are required",
              who, bits, HB_RECIPIENT_MIN_BITS);
    if (!ignore_expiration) {
        HB_ENSURE(X509_cmp_time(X509_get0_notAfter(cert), &now) > 0, HB_E_REFUSED,
                  "recipient certificate '%s' has expired; renew it, or set ignore-expiration "
                  "on its crypto object", who);
        HB_ENSURE(X509_cmp_time(X509_get0_notBefore(cert), &now) <= 0, HB_E_REFUSED,
                  "recipient certificate '%s' is not valid yet (check the clock)", who);
    }
cleanup:
    OPENSSL_free(subject);
    return st;
}

hb_status hb_wrap_label_make(const char *purpose, const char *backup_id, const char *name,
                             const char *fingerprint_hex, hb_wrap_label *out, hb_err *err)
{
    hb_status st = HB_OK;
    const char *fields[] = {HB_WRAP_LABEL_VERSION, purpose, backup_id, name};
    size_t len = 0;
    HB_ENSURE(purpose != NULL && backup_id != NULL && name != NULL && fingerprint_hex != NULL &&
              out != NULL, HB_E_USAGE, "an OAEP label: missing field");
    HB_ENSURE(strcmp(purpose, "dek") == 0 || strcmp(purpose, "share") == 0, HB_E_USAGE,
              "an OAEP label for '%s' (only dek and share)", purpose);
    HB_ENSURE(strlen(fingerprint_hex) == 64, HB_E_USAGE,
              "an OAEP label needs the 64-hex-digit certificate fingerprint");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t n = strlen(fields[i]) + 1; /* with its NUL separator */
        HB_ENSURE(n <= HB_WRAP_LABEL_MAX - 32 - len, HB_E_USAGE,
                  "an OAEP label longer than %d bytes (name '%.64s')", HB_WRAP_LABEL_MAX, name);
        memcpy(out->bytes + len, fields[i], n);
        len += n;
    }
    HB_TRY(hb_hex_decode(fingerprint_hex, out->bytes + len, 32, err));
    out->len = len + 32;
cleanup:
    return st;
}

hb_status hb_wrap_dek(OSSL_LIB_CTX *libctx, X509 *cert, hb_oaep_hash hash,
                      const uint8_t dek[HB_DEK_LEN], uint8_t **wrapped, size_t *wrapped_len,
                      hb_err *err)
{
    return hb_wrap_dek_labelled(libctx, cert, hash, NULL, dek, wrapped, wrapped_len, err);
}

hb_status hb_wrap_dek_labelled(OSSL_LIB_CTX *libctx, X509 *cert, hb_oaep_hash hash,
                               const hb_wrap_label *label, const uint8_t dek[HB_DEK_LEN],
                               uint8_t **wrapped, size_t *wrapped_len, hb_err *err)
{
    if (cert == NULL || dek == NULL || wrapped == NULL || wrapped_len == NULL)
        return hb_fail(err, HB_E_USAGE, "wrapping a key: missing argument");
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (pub == NULL || !EVP_PKEY_is_a(pub, "RSA"))
        return hb_fail_ossl(err, HB_E_REFUSED, "recipient certificate has no RSA public key");
    return hb_oaep_encrypt_labelled(libctx, pub, hash, label != NULL ? label->bytes : NULL,
                                    label != NULL ? label->len : 0, dek, HB_DEK_LEN, wrapped,
                                    wrapped_len, err);
}

hb_status hb_unwrap_dek(hb_provider *p, EVP_PKEY *key, hb_oaep_hash hash,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[HB_DEK_LEN],
                        hb_err *err)
{
    return hb_unwrap_dek_labelled(p, key, hash, NULL, wrapped, wrapped_len, dek, err);
}

hb_status hb_unwrap_dek_labelled(hb_provider *p, EVP_PKEY *key, hb_oaep_hash hash,
                                 const hb_wrap_label *label, const uint8_t *wrapped,
                                 size_t wrapped_len, uint8_t dek[HB_DEK_LEN], hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    HB_ENSURE(p != NULL && key != NULL && wrapped != NULL && dek != NULL, HB_E_USAGE,
              "unwrapping a key: missing argument");
    int size = EVP_PKEY_get_size(key);
    if (size <= 0) {
        st = hb_fail_ossl(err, HB_E_TOKEN, "cannot get the size of the token key");
        goto cleanup;
    }
    cap = (size_t)size;
    buf = OPENSSL_malloc(cap);
    if (buf == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(hb_provider_decrypt_oaep_labelled(p, key, hash, label != NULL ? label->bytes : NULL,
                                             label != NULL ? label->len : 0, wrapped,
                                             wrapped_len, buf, &len, err));
    if (len != HB_DEK_LEN) {
        st = hb_fail(err, HB_E_VERIFY,
                     "the unwrapped key is %zu bytes, not %d: the wrapped key was not made "
                     "by hsmbak or was altered",
                     len, HB_DEK_LEN);
        goto cleanup;
    }
    memcpy(dek, buf, HB_DEK_LEN);
cleanup:
    OPENSSL_clear_free(buf, cap);
    return st;
}
