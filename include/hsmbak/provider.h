/* hsmbak token layer (provider/): the only code that knows about tokens.
 *
 * Crypto runs through OpenSSL EVP in a private OSSL_LIB_CTX holding the
 * `default` provider and pkcs11-provider; keys are named by PKCS#11 URI
 * (RFC 7512) and loaded with OSSL_STORE, so callers see EVP_PKEY and X509,
 * never PKCS#11 handles. Token administration (listing, key generation,
 * certificate import) goes through PKCS#11 directly, with the module loaded
 * by p11-kit. */
#ifndef HSMBAK_PROVIDER_H
#define HSMBAK_PROVIDER_H

#include "hsmbak/status.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_DEFAULT_PKCS11_MODULE "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

typedef struct hb_provider hb_provider;

typedef struct hb_provider_config {
    const char *module;     /* PKCS#11 module path; NULL: $HSMBAK_PKCS11_MODULE,
                               then HB_DEFAULT_PKCS11_MODULE */
    const char *pin_source; /* "file:PATH" or "env:VAR"; NULL: the URI's
                               pin-source, else a no-echo prompt on a terminal */
} hb_provider_config;

/* Make the library context. Cheap: no token is touched until a key is used. */
hb_status hb_provider_open(const hb_provider_config *cfg, hb_provider **out,
                           hb_err *err) HB_MUST_CHECK;
void hb_provider_free(hb_provider *p);

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

/* ---- operations that run inside the token -------------------------------- */

typedef enum hb_oaep_hash {
    HB_OAEP_SHA1 = 1,
    HB_OAEP_SHA256 = 2,
} hb_oaep_hash;

/* "rsa-oaep-sha1" / "rsa-oaep-sha256" and back (HB_E_VERIFY when unknown). */
const char *hb_oaep_hash_name(hb_oaep_hash h);
hb_status hb_oaep_hash_from_name(const char *name, hb_oaep_hash *out,
                                 hb_err *err) HB_MUST_CHECK;

/* RSA-OAEP decrypt with the token key: OAEP hash = MGF1 hash = h, empty
 * label. A refused mechanism is HB_E_TOKEN with a message, never a crash.
 * out must hold EVP_PKEY_get_size(key) bytes; the caller wipes it. */
hb_status hb_provider_decrypt_oaep(hb_provider *p, EVP_PKEY *key, hb_oaep_hash h,
                                   const uint8_t *in, size_t inlen, uint8_t *out,
                                   size_t *outlen, hb_err *err) HB_MUST_CHECK;

/* SHA-256 signature made on the token: RSA PKCS#1 v1.5 or ECDSA (DER
 * encoded, as OpenSSL returns it). *sig is OPENSSL_malloc'ed. */
hb_status hb_provider_sign_sha256(hb_provider *p, EVP_PKEY *key, const uint8_t *data,
                                  size_t len, uint8_t **sig, size_t *siglen,
                                  hb_err *err) HB_MUST_CHECK;

/* ---- token administration (PKCS#11 through p11-kit) ---------------------- */

typedef enum hb_key_type {
    HB_KEY_RSA2048, HB_KEY_RSA3072, HB_KEY_RSA4096, HB_KEY_EC_P256, HB_KEY_EC_P384,
} hb_key_type;

typedef enum hb_key_usage {
    HB_USAGE_RECIPIENT, /* decrypt + unwrap only: opens backups */
    HB_USAGE_SIGNER,    /* sign only: signs manifests, certificates */
    HB_USAGE_RECIPIENT_UNSEALED, /* a recipient that may still sign (its own
                                    certificate and CSR) until hb_token_key_seal */
} hb_key_usage;

/* "rsa:2048" ... "ec:p384"; "recipient"/"signer". */
hb_status hb_key_type_from_name(const char *name, hb_key_type *out, hb_err *err) HB_MUST_CHECK;
hb_status hb_key_usage_from_name(const char *name, hb_key_usage *out,
                                 hb_err *err) HB_MUST_CHECK;

/* Generate a key pair on the token that token_uri selects (by token label or
 * serial), labelled `label`, with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE and the usage split above. Refuses a label that is
 * already taken. *private_uri / *public_uri (malloc'ed) name the new objects,
 * e.g. "pkcs11:token=backup;object=label;type=private". Recipient keys must be
 * RSA (EC is for signers). */
hb_status hb_token_keygen(hb_provider *p, const char *token_uri, const char *label,
                          hb_key_type type, hb_key_usage usage, char **private_uri,
                          char **public_uri, hb_err *err) HB_MUST_CHECK;

/* Clear CKA_SIGN on the private key at private_uri (made with
 * HB_USAGE_RECIPIENT_UNSEALED) and check that the token kept it cleared. */
hb_status hb_token_key_seal(hb_provider *p, const char *private_uri, hb_err *err) HB_MUST_CHECK;

/* Store a certificate object (CKO_CERTIFICATE, X.509) on the token with the
 * label and CKA_ID of the key it belongs to. */
hb_status hb_token_import_certificate(hb_provider *p, const char *token_uri,
                                      const char *label, X509 *cert,
                                      hb_err *err) HB_MUST_CHECK;

/* Which OAEP hashes the key at private_uri really takes: for each hash, wrap
 * 32 random bytes in software with cert's public key and unwrap on the token.
 * *accepted gets a bit (1u << hb_oaep_hash) per hash that round-trips. */
hb_status hb_token_probe_oaep(hb_provider *p, const char *private_uri, X509 *cert,
                              unsigned *accepted, hb_err *err) HB_MUST_CHECK;

/* Attributes of a private key object as the token reports them. */
typedef struct hb_key_attrs {
    bool sensitive, always_sensitive, extractable, never_extractable;
    bool is_private, token, decrypt, unwrap, sign;
} hb_key_attrs;
hb_status hb_token_key_attrs(hb_provider *p, const char *private_uri, hb_key_attrs *out,
                             hb_err *err) HB_MUST_CHECK;

/* Listing for `hsmbak token list`: a printable report, one token after
 * another (label, serial, manufacturer, model, flags, mechanisms of interest,
 * objects with class, label, key type and attributes). token_uri may be NULL
 * for every token. The report is data, not prose: the CLI prints it and the
 * --json mode (later) serialises the same structure. */
typedef struct hb_object_info {
    char class_name[16];   /* "private-key", "public-key", "certificate", ... */
    char label[128];
    char id_hex[129];
    char key_type[16];     /* "rsa", "ec", "" */
    unsigned bits;         /* modulus or curve size, 0 if unknown */
    hb_key_attrs attrs;
    char uri[512];
} hb_object_info;

typedef struct hb_token_info {
    char label[33], serial[17], manufacturer[33], model[17];
    bool initialized, login_required, user_pin_locked, user_pin_final_try;
    char mechanisms[256]; /* of interest to hsmbak, comma separated */
    size_t n_objects;
    hb_object_info *objects; /* only when logged in (PIN available), else public ones */
} hb_token_info;

hb_status hb_token_list(hb_provider *p, const char *token_uri, bool login,
                        hb_token_info **tokens, size_t *n_tokens, hb_err *err) HB_MUST_CHECK;
void hb_token_list_free(hb_token_info *tokens, size_t n_tokens);

#ifdef __cplusplus
}
#endif
#endif
