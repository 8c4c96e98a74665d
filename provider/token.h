/* provider/: what the layers above may ask of a token (docs/design.md §3).
 *
 * Keys and certificates are named by PKCS#11 URI and come back as EVP_PKEY
 * and X509; every mechanism parameter (OAEP hashes, signature padding) is
 * set here and nowhere else. Nothing in this header exposes PKCS#11 types. */
#ifndef HSMBAK_PROVIDER_TOKEN_H
#define HSMBAK_PROVIDER_TOKEN_H

#include "hsmbak/provider.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The library context, for software crypto (HKDF, AES-GCM, OAEP wrapping
 * with a certificate's public key) that must not reach the token. */
OSSL_LIB_CTX *hb_provider_libctx(hb_provider *p);

/* ---- keys and certificates by URI ---------------------------------------- */

/* A token-held private key. Logs in with the PIN from the configured source.
 * Errors name the URI: missing token, missing object, wrong or locked PIN. */
hb_status hb_provider_load_private_key(hb_provider *p, const char *uri, EVP_PKEY **out,
                                       hb_err *err) HB_MUST_CHECK;
hb_status hb_provider_load_public_key(hb_provider *p, const char *uri, EVP_PKEY **out,
                                      hb_err *err) HB_MUST_CHECK;
/* A certificate object on the token (pkcs11: URI) or a PEM/DER file path. */
hb_status hb_provider_load_certificate(hb_provider *p, const char *uri_or_path, X509 **out,
                                       hb_err *err) HB_MUST_CHECK;

/* ---- RSA-OAEP (oaep.c) ------------------------------------------------------ */

/* RSA-OAEP(h, MGF1 = h, empty label) of in with the public key pub, in
 * software in libctx (provider=default: the token has no part in it).
 * *out is malloc'ed. An unknown h is HB_E_USAGE, never a default. */
hb_status hb_oaep_encrypt(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, hb_oaep_hash h,
                          const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen,
                          hb_err *err) HB_MUST_CHECK;
/* The same with an OAEP label (RFC 8017 §7.1.1 L; label_len 0: empty). */
hb_status hb_oaep_encrypt_labelled(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, hb_oaep_hash h,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t **out, size_t *outlen,
                                   hb_err *err) HB_MUST_CHECK;

/* RSA-OAEP decrypt with the token key: OAEP hash = MGF1 hash = h, empty
 * label. A refused mechanism is HB_E_TOKEN with a message, never a crash.
 * out must hold EVP_PKEY_get_size(key) bytes; the caller wipes it. */
hb_status hb_provider_decrypt_oaep(hb_provider *p, EVP_PKEY *key, hb_oaep_hash h,
                                   const uint8_t *in, size_t inlen, uint8_t *out,
                                   size_t *outlen, hb_err *err) HB_MUST_CHECK;
/* The same with an OAEP label (label_len 0: empty). A token that ignores or
 * refuses labels (SoftHSM 2.6.1, tpm2-pkcs11 1.9) fails every labelled
 * decryption; hb_token_probe_oaep finds out which tokens take them. */
hb_status hb_provider_decrypt_oaep_labelled(hb_provider *p, EVP_PKEY *key, hb_oaep_hash h,
                                            const uint8_t *label, size_t label_len,
                                            const uint8_t *in, size_t inlen, uint8_t *out,
                                            size_t *outlen, hb_err *err) HB_MUST_CHECK;

/* ---- signatures (sign.c) ---------------------------------------------------- */

/* SHA-256 signature made on the token: RSA PKCS#1 v1.5 or ECDSA (DER
 * encoded, as OpenSSL returns it). *sig is OPENSSL_malloc'ed. */
hb_status hb_provider_sign_sha256(hb_provider *p, EVP_PKEY *key, const uint8_t *data,
                                  size_t len, uint8_t **sig, size_t *siglen,
                                  hb_err *err) HB_MUST_CHECK;

/* ---- token administration (PKCS#11 through p11-kit) ---------------------- */

/* Generate a key pair on the token that token_uri selects (by token label or
 * serial), labelled `label`, with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE, the usage split of hb_key_usage and the
 * CKA_ALLOWED_MECHANISMS of that usage (allowed.c; left out on a token that
 * has no such attribute). Refuses a label
 * that is already taken. *private_uri / *public_uri (malloc'ed) name the new
 * objects, e.g. "pkcs11:token=backup;object=label;type=private". Recipient
 * keys must be RSA (EC is for signers). */
hb_status hb_token_keygen(hb_provider *p, const char *token_uri, const char *label,
                          hb_key_type type, hb_key_usage usage, char **private_uri,
                          char **public_uri, hb_err *err) HB_MUST_CHECK;

/* Clear CKA_SIGN on the private key at private_uri (made with
 * HB_USAGE_RECIPIENT_UNSEALED) and check that the token kept it cleared;
 * narrow its CKA_ALLOWED_MECHANISMS to RSA-OAEP where the token lets it
 * (hb_token_key_mechanisms tells what it was left with). */
hb_status hb_token_key_seal(hb_provider *p, const char *private_uri, hb_err *err) HB_MUST_CHECK;

/* Store a certificate object (CKO_CERTIFICATE, X.509) on the token with the
 * label and CKA_ID of the key it belongs to. */
hb_status hb_token_import_certificate(hb_provider *p, const char *token_uri,
                                      const char *label, X509 *cert,
                                      hb_err *err) HB_MUST_CHECK;

/* Which OAEP hashes the key at private_uri really takes: for each hash, wrap
 * 32 random bytes in software with cert's public key and unwrap on the token.
 * *accepted gets a bit (1u << hb_oaep_hash) per hash that round-trips, and
 * HB_OAEP_LABELS_BIT(h) per such hash whose labelled round trip works too
 * (and a wrong label is refused): docs/custody.md "OAEP labels". */
#define HB_OAEP_LABELS_BIT(h) (1u << (4 + (unsigned)(h)))
hb_status hb_token_probe_oaep(hb_provider *p, const char *private_uri, X509 *cert,
                              unsigned *accepted, hb_err *err) HB_MUST_CHECK;

/* The private key of cert's RSA key on a token this provider sees, found
 * without login through its public half (same modulus): *private_uri
 * (malloc'ed) "pkcs11:token=T;object=LABEL;type=private". HB_E_NOT_FOUND
 * when no visible token holds it (or the certificate is not RSA). */
hb_status hb_token_find_key_of(hb_provider *p, X509 *cert, char **private_uri,
                               hb_err *err) HB_MUST_CHECK;

hb_status hb_token_key_attrs(hb_provider *p, const char *private_uri, hb_key_attrs *out,
                             hb_err *err) HB_MUST_CHECK;

/* What the token lets the key at private_uri do beyond its usage flags
 * (allowed.c, docs/custody.md "Allowed mechanisms"). */
typedef enum hb_mech_limit {
    HB_MECH_LIMITED,      /* CKA_ALLOWED_MECHANISMS lists only what the key is
                             for, and the token refused raw RSA sign and
                             decrypt and PKCS#1 v1.5 decryption when tried */
    HB_MECH_UNLIMITED,    /* no such attribute on the token, or an empty
                             list: every mechanism the usage flags permit */
    HB_MECH_NOT_ENFORCED, /* a list, but wider than asked, or the token let
                             one of those operations through */
} hb_mech_limit;
typedef struct hb_key_mechanisms {
    hb_mech_limit limit;
    char allowed[96];     /* as the token lists them: "rsa-oaep,sha256-rsa-pkcs";
                             "" for none */
} hb_key_mechanisms;
hb_status hb_token_key_mechanisms(hb_provider *p, const char *private_uri,
                                  hb_key_mechanisms *out, hb_err *err) HB_MUST_CHECK;
/* "limited", "unlimited", "not-enforced". */
const char *hb_mech_limit_name(hb_mech_limit l);

/* How many objects on its token the URI names (match.c): its object, id and
 * type attributes, searched without login (private objects are not seen:
 * count a key through its public half). labels (may be NULL) gets the
 * first few labels, "a, b, ..." within cap. Errors as hb_token_session_open. */
hb_status hb_token_count_matches(hb_provider *p, const char *uri, size_t *count, char *labels,
                                 size_t cap, hb_err *err) HB_MUST_CHECK;

/* ---- PKCS#11 URIs (uri.c), parsed by p11-kit ------------------------------ */

/* What a pkcs11: URI says, for callers that must check one without a token:
 * the query attributes a PIN could hide in are refused at parse time. */
typedef struct hb_pkcs11_uri_info {
    bool has_pin_value;     /* pin-value, in any percent-encoding */
    bool has_pin_source;
    char object_type[16];   /* "private", "public", "cert", ... or "" */
} hb_pkcs11_uri_info;
hb_status hb_pkcs11_uri_inspect(const char *uri, hb_pkcs11_uri_info *out,
                                hb_err *err) HB_MUST_CHECK;

/* The same URI naming an object of another type ("public" for the public
 * half of a key URI): every other attribute is kept as written. *out is
 * malloc'ed. */
hb_status hb_pkcs11_uri_with_type(const char *uri, const char *type, char **out,
                                  hb_err *err) HB_MUST_CHECK;

#endif
