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

#endif
