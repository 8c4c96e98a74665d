/* Crypto objects inside the library (include/hsmbak/objects.h for the
 * store): the certificates and keys they name, loaded for use. */
#ifndef HSMBAK_CUSTODY_OBJECTS_H
#define HSMBAK_CUSTODY_OBJECTS_H

#include "hsmbak/objects.h"

#include "provider/token.h"

#include <openssl/x509.h>

/* A PEM or DER certificate (1 MiB cap, nothing after the DER) from an
 * appliance URL or a path under root. */
hb_status hb_objects_read_certificate_url(const char *root, const char *url, X509 **out,
                                          hb_err *err) HB_MUST_CHECK;

/* Load a certificate object's certificate (file or token). */
hb_status hb_objects_load_certificate(const hb_object_store *s, hb_provider *p,
                                      const char *name, X509 **out, hb_err *err) HB_MUST_CHECK;

/* For an idcred: its certificate, and its private key loaded from the token
 * (logs in). Checks that they match. */
hb_status hb_objects_load_idcred(const hb_object_store *s, hb_provider *p, const char *name,
                                 X509 **cert, EVP_PKEY **key, hb_err *err) HB_MUST_CHECK;

/* hb_objects_key_wrap for the certificate with this fingerprint. */
hb_key_wrap_state hb_objects_key_wrap_state(const hb_crypto_object *o, const char *fingerprint);

/* Whether a certificate object probed on the certificate with this SHA-256
 * fingerprint recorded that its token takes OAEP labels with hash h
 * (docs/custody.md "OAEP labels"). Never probed, or not with h: false. */
bool hb_objects_takes_labels(const hb_object_store *s, const char *fingerprint,
                             hb_oaep_hash h);

#endif
