/* hsmbak token layer: the handle every operation takes, and what a caller
 * needs to name tokens, keys and key wraps, and to list tokens.
 *
 * Crypto runs through OpenSSL EVP in a private library context holding the
 * `default` provider and pkcs11-provider; keys are named by PKCS#11 URI
 * (RFC 7512). The handle is opaque; everything a token does for a backup
 * happens inside the library (docs/design.md §3). */
#ifndef HSMBAK_PROVIDER_H
#define HSMBAK_PROVIDER_H

#include "hsmbak/status.h"

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
HB_API hb_status hb_provider_open(const hb_provider_config *cfg, hb_provider **out,
                                  hb_err *err) HB_MUST_CHECK;
HB_API void hb_provider_free(hb_provider *p);

/* How an archive key is wrapped to a recipient (docs/design.md §4.2). */
typedef enum hb_oaep_hash {
    HB_OAEP_UNPROBED = 0, /* not known: the recipient's token was not asked */
    HB_OAEP_SHA1 = 1,
    HB_OAEP_SHA256 = 2,
} hb_oaep_hash;

/* "rsa-oaep-sha1" / "rsa-oaep-sha256" and back (HB_E_VERIFY when unknown). */
HB_API const char *hb_oaep_hash_name(hb_oaep_hash h);
HB_API hb_status hb_oaep_hash_from_name(const char *name, hb_oaep_hash *out,
                                        hb_err *err) HB_MUST_CHECK;

typedef enum hb_key_type {
    HB_KEY_RSA2048, HB_KEY_RSA3072, HB_KEY_RSA4096, HB_KEY_EC_P256, HB_KEY_EC_P384,
} hb_key_type;

typedef enum hb_key_usage {
    HB_USAGE_RECIPIENT, /* decrypt + unwrap only: opens backups */
    HB_USAGE_SIGNER,    /* sign only: signs manifests, certificates */
    HB_USAGE_RECIPIENT_UNSEALED, /* a recipient that may still sign (its own
                                    certificate and CSR) until it is sealed */
} hb_key_usage;

/* "rsa:2048" ... "ec:p384"; "recipient"/"signer". */
HB_API hb_status hb_key_type_from_name(const char *name, hb_key_type *out,
                                       hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_key_usage_from_name(const char *name, hb_key_usage *out,
                                        hb_err *err) HB_MUST_CHECK;

/* ---- `hsmbak token list` ---------------------------------------------------- */

/* Attributes of a private key object as the token reports them. */
typedef struct hb_key_attrs {
    bool sensitive, always_sensitive, extractable, never_extractable;
    bool is_private, token, decrypt, unwrap, sign;
} hb_key_attrs;

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

/* Every token (token_uri NULL) or the ones token_uri selects, with their
 * objects (all of them when login, else the public ones). */
HB_API hb_status hb_token_list(hb_provider *p, const char *token_uri, bool login,
                               hb_token_info **tokens, size_t *n_tokens,
                               hb_err *err) HB_MUST_CHECK;
HB_API void hb_token_list_free(hb_token_info *tokens, size_t n_tokens);

#ifdef __cplusplus
}
#endif
#endif
