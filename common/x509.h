/* X.509 helpers every layer shares: the one certificate reader (PEM or DER,
 * nothing after the DER), the fingerprint hsmbak records everywhere, and the
 * subject as text. Certificates are public data; nothing here is secret. */
#ifndef HSMBAK_COMMON_X509_H
#define HSMBAK_COMMON_X509_H

#include "hsmbak/status.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Certificate files are small: a PEM or DER file of at most 1 MiB. */
#define HB_CERT_FILE_MAX ((size_t)1024 * 1024)

/* One certificate from len bytes of PEM or DER (DER must end exactly at
 * len). libctx may be NULL. HB_E_VERIFY naming `what` otherwise. */
hb_status hb_x509_from_bytes(OSSL_LIB_CTX *libctx, const uint8_t *data, size_t len,
                             const char *what, X509 **out, hb_err *err) HB_MUST_CHECK;

/* The same from a file (HB_CERT_FILE_MAX, hardened reader). */
hb_status hb_x509_read_file(OSSL_LIB_CTX *libctx, const char *path, X509 **out,
                            hb_err *err) HB_MUST_CHECK;

/* Strict DER: exactly len bytes, one certificate. */
hb_status hb_x509_from_der(const uint8_t *der, size_t len, const char *what, X509 **out,
                           hb_err *err) HB_MUST_CHECK;

/* SHA-256 of the certificate's DER encoding as 64 lowercase hex digits. */
hb_status hb_x509_fingerprint(X509 *cert, char out[65], hb_err *err) HB_MUST_CHECK;

/* The DER encoding, OPENSSL_malloc'ed. */
hb_status hb_x509_der(X509 *cert, uint8_t **der, size_t *len, hb_err *err) HB_MUST_CHECK;

/* Whether cert is valid at `now`: HB_OK, or HB_E_REFUSED "WHAT expired on
 * DATE" / "WHAT is not valid until DATE" (dates in UTC, ISO 8601). */
hb_status hb_x509_check_validity(X509 *cert, time_t now, const char *what,
                                 hb_err *err) HB_MUST_CHECK;

/* Subject as RFC 2253 text, UTF-8 kept as is; malloc'ed. */
hb_status hb_x509_subject_rfc2253(X509 *cert, char **out, hb_err *err) HB_MUST_CHECK;

#endif
