/* Key wrapping (DESIGN §4.2): an archive's DEK wrapped with RSA-OAEP to each
 * recipient certificate in software, and unwrapped on the token. */
#ifndef HSMBAK_CUSTODY_WRAP_H
#define HSMBAK_CUSTODY_WRAP_H

#include "provider/token.h"
#include "hsmbak/status.h"
#include "backup/format/stream.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <time.h>


/* RSA >= 2048 bits (EC refused, as on the appliance), and not expired at
 * `now` unless ignore_expiration. Messages name the certificate's subject. */
hb_status hb_recipient_check(X509 *cert, bool ignore_expiration, time_t now,
                             hb_err *err) HB_MUST_CHECK;

/* RSA-OAEP(hash, MGF1 = hash, empty label) of dek with cert's public key, in
 * software in libctx. *wrapped is malloc'ed. */
hb_status hb_wrap_dek(OSSL_LIB_CTX *libctx, X509 *cert, hb_oaep_hash hash,
                      const uint8_t dek[HB_DEK_LEN], uint8_t **wrapped, size_t *wrapped_len,
                      hb_err *err) HB_MUST_CHECK;

/* Unwrap on the token; anything that is not exactly HB_DEK_LEN bytes is
 * HB_E_VERIFY. The caller wipes dek. */
hb_status hb_unwrap_dek(hb_provider *p, EVP_PKEY *key, hb_oaep_hash hash,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[HB_DEK_LEN],
                        hb_err *err) HB_MUST_CHECK;

/* The OAEP label of a wrap to a recipient whose token takes labels
 * (docs/FORMAT.md §2.1): "hsmbak-v1" 0 purpose 0 backup-id 0 name 0 and the
 * recipient certificate's SHA-256 as 32 raw bytes. purpose "dek" with the
 * archive's name, or "share" with the quorum group's name. No field holds a
 * NUL (C strings), so the encoding is unambiguous. */
#define HB_WRAP_LABEL_VERSION "hsmbak-v1"
#define HB_WRAP_LABEL_MAX 512
typedef struct hb_wrap_label {
    uint8_t bytes[HB_WRAP_LABEL_MAX];
    size_t len;
} hb_wrap_label;
hb_status hb_wrap_label_make(const char *purpose, const char *backup_id, const char *name,
                             const char *fingerprint_hex, hb_wrap_label *out,
                             hb_err *err) HB_MUST_CHECK;

/* hb_wrap_dek / hb_unwrap_dek with label (NULL: empty, as those two). */
hb_status hb_wrap_dek_labelled(OSSL_LIB_CTX *libctx, X509 *cert, hb_oaep_hash hash,
                               const hb_wrap_label *label, const uint8_t dek[HB_DEK_LEN],
                               uint8_t **wrapped, size_t *wrapped_len,
                               hb_err *err) HB_MUST_CHECK;
hb_status hb_unwrap_dek_labelled(hb_provider *p, EVP_PKEY *key, hb_oaep_hash hash,
                                 const hb_wrap_label *label, const uint8_t *wrapped,
                                 size_t wrapped_len, uint8_t dek[HB_DEK_LEN],
                                 hb_err *err) HB_MUST_CHECK;

#endif
