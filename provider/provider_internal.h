/* provider/: shared internals of the token layer (not part of the API).
 *
 * Two roads lead to the same token, and both stay inside this folder:
 *   - OpenSSL: a private OSSL_LIB_CTX with `default` + pkcs11-provider
 *     (context.c), keys and certificates through OSSL_STORE (store.c), crypto
 *     through EVP (oaep.c, sign.c).
 *   - PKCS#11: the same module loaded by p11-kit for administration
 *     (module.c: load, initialise, find a token and objects; session.c: open
 *     a session and log in; keygen.c, certimport.c, list.c, probe.c).
 * Both share one PIN resolver (pin.c). */
#ifndef HSMBAK_PROVIDER_INTERNAL_H
#define HSMBAK_PROVIDER_INTERNAL_H

#include "provider/token.h"

#include "common/fail.h"

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#define HB_PIN_MAX 256

struct hb_provider {
    OSSL_LIB_CTX *libctx;
    char *module;     /* resolved module path, owned */
    char *pin_source; /* config's pin source or NULL, owned */
};

/* ---- PIN (pin.c) ----------------------------------------------------------- */

/* Resolve a PIN: uri_pin_source (a URI's pin-source) first, then the
 * configured source, then the PIN this process already typed for the token
 * `token_key` (hb_pin_token_key; NULL when unknown), then a no-echo prompt
 * when stdin is a terminal. `what` names the token or URI in messages and
 * the prompt. *typed says the PIN was typed just now: the caller hands it to
 * hb_pin_cache_put once a login has accepted it. pin must hold HB_PIN_MAX
 * bytes; it is NUL-terminated; the caller wipes it. Never logs it. */
hb_status hb_pin_resolve(const hb_provider *p, const char *uri_pin_source, const char *token_key,
                         const char *what, char *pin, size_t *pinlen, bool *typed,
                         hb_err *err) HB_MUST_CHECK;

/* ---- PINs typed once per token and process (pin_cache.c) ------------------ */

#define HB_PIN_TOKEN_KEY_MAX 112

/* manufacturer, model, serial and label: what tells one token from another. */
void hb_pin_token_key(const CK_TOKEN_INFO *info, char key[HB_PIN_TOKEN_KEY_MAX]);
/* Copy the remembered PIN of token_key into pin (HB_PIN_MAX bytes). */
bool hb_pin_cache_get(const char *token_key, char *pin, size_t *pinlen);
/* Remember a PIN a login has just accepted (locked, undumpable memory). */
void hb_pin_cache_put(const char *token_key, const char *pin, size_t pinlen);
/* Forget one token's PIN (it was refused after all). */
void hb_pin_cache_forget(const char *token_key);
/* Wipe every remembered PIN (also done at exit). */
void hb_pin_cache_clear(void);

/* ---- URIs (uri.c) ---------------------------------------------------------- */

/* Parse a pkcs11: URI with p11-kit; HB_E_USAGE naming the URI when malformed.
 * *out is freed with p11_kit_uri_free. */
hb_status hb_uri_parse(const char *uri, P11KitUri **out, hb_err *err) HB_MUST_CHECK;

/* Copy of uri without the pin-source / pin-value query attributes (hsmbak
 * reads the PIN itself and hands it over through the passphrase callback).
 * *pin_source gets a malloc'ed copy of the (percent-decoded) pin-source or
 * NULL. Both outputs are malloc'ed. */
hb_status hb_uri_strip_pin(const char *uri, char **stripped, char **pin_source,
                           hb_err *err) HB_MUST_CHECK;

/* "pkcs11:token=T;object=L;type=TYPE" with percent-encoding (RFC 7512 §2.3). */
hb_status hb_uri_for_object(const char *token_label, const char *label, const char *type,
                            char **out, hb_err *err) HB_MUST_CHECK;

/* Space-padded PKCS#11 string field to a C string (trailing blanks dropped). */
/* uri as messages show it: without its query (pin-source, module-name and
 * the like are never echoed, DESIGN's rule for secrets in URIs); "?..."
 * marks that there was one. Returns buf. */
const char *hb_uri_shown(const char *uri, char *buf, size_t cap);

/* Whether the token store of `module` (SoftHSM's files, also behind the
 * p11-kit proxy) is unreadable by this user: the reason, naming the path and
 * what to do, in why. Looks, never changes anything. */
bool hb_token_store_unreadable(const char *module, char *why, size_t cap);

void hb_p11_string(const unsigned char *field, size_t fieldlen, char *out, size_t outcap);

/* ---- the PKCS#11 module for administration (module.c) --------------------- */

/* The module loaded by p11-kit and initialised once per process and path.
 * It is never finalised: pkcs11-provider keeps using the same module in the
 * same process (its no-deinit quirk), and finalising SoftHSM 2.6.1 under it
 * makes it crash. */
hb_status hb_module_get(const hb_provider *p, CK_FUNCTION_LIST **out, hb_err *err) HB_MUST_CHECK;

/* Name of a CK_RV ("CKR_PIN_INCORRECT") for messages. */
const char *hb_ckr_name(CK_RV rv);

/* The slots with a token present (C_GetSlotList for the count, then the
 * list): *slots malloc'ed (NULL when there are none), *n their count.
 * HB_E_TOKEN "cannot list <what>: CKR_..." when the module refuses. */
hb_status hb_slot_list(CK_FUNCTION_LIST *f, const char *what, CK_SLOT_ID **slots, CK_ULONG *n,
                       hb_err *err) HB_MUST_CHECK;

/* The one token the URI selects by label / serial / manufacturer / model
 * (never by slot number). HB_E_NOT_FOUND when none, HB_E_USAGE when the URI
 * matches several. */
hb_status hb_token_find(CK_FUNCTION_LIST *f, const char *token_uri, CK_SLOT_ID *slot,
                        CK_TOKEN_INFO *info, hb_err *err) HB_MUST_CHECK;

/* ---- sessions (session.c) ----------------------------------------------- */

/* A session on the token at `slot`, logged in as user when login is true
 * (PIN from hb_pin_resolve; an already logged-in token is fine). The session
 * is closed with C_CloseSession; never C_Logout, which would log out
 * pkcs11-provider's sessions too (login state is per token and process). */
hb_status hb_session_open(const hb_provider *p, CK_FUNCTION_LIST *f, CK_SLOT_ID slot,
                          const char *what, const char *uri_pin_source, bool rw, bool login,
                          CK_SESSION_HANDLE *out, hb_err *err) HB_MUST_CHECK;

/* A session on the one token a pkcs11: URI selects: the preamble of every
 * admin operation (strip the PIN attributes, load the module, find the
 * token, open a session, log in). */
typedef struct hb_token_session {
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;  /* CK_INVALID_HANDLE once closed */
    char label[33];       /* the token's label */
    char what[48];        /* "token 'LABEL'": messages and the PIN prompt */
    char *uri;            /* the URI without its PIN attributes, owned */
} hb_token_session;

/* Open *out on the token uri selects, read-write when rw, logged in as user
 * when login (the PIN from the URI's pin-source, else the configured source,
 * else a prompt). Errors as hb_token_find and hb_session_open. */
hb_status hb_token_session_open(const hb_provider *p, const char *uri, bool rw, bool login,
                                hb_token_session *out, hb_err *err) HB_MUST_CHECK;
/* Close the session (never logs out) and free the URI; accepts a closed one. */
void hb_token_session_close(hb_token_session *ts);

/* ---- allowed mechanisms (allowed.c) ---------------------------------------- */

#define HB_ALLOWED_MAX 4
/* The CKA_ALLOWED_MECHANISMS a new key of that kind and usage is made
 * with: a recipient RSA-OAEP only, plus until it is sealed the sign-only
 * mechanism its self-signature uses; a signer its signing mechanisms. */
CK_ULONG hb_allowed_for(const hb_token_session *ts, bool rsa, hb_key_usage usage,
                        CK_MECHANISM_TYPE out[HB_ALLOWED_MAX]);
/* Narrow o's list to RSA-OAEP where the token lets it (seal). */
void hb_allowed_narrow(const hb_token_session *ts, CK_OBJECT_HANDLE o);
/* Read o's list back and try what it should refuse (hb_key_mechanisms). */
hb_status hb_allowed_read(const hb_token_session *ts, CK_OBJECT_HANDLE o,
                          hb_key_mechanisms *out, hb_err *err) HB_MUST_CHECK;

/* ---- objects (module.c) -------------------------------------------------- */

/* Find exactly one object matching the attributes; HB_E_NOT_FOUND naming
 * `what` when none, HB_E_USAGE when several. */
hb_status hb_object_find_one(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, const char *what, CK_OBJECT_HANDLE *out,
                             hb_err *err) HB_MUST_CHECK;

/* Does any object match the attributes? HB_E_TOKEN naming `what` (the
 * token) when the search fails. */
hb_status hb_object_exists(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                           CK_ULONG n, const char *what, bool *exists, hb_err *err) HB_MUST_CHECK;

/* Read boolean attributes of a key object into attrs (absent ones: false). */
hb_status hb_object_read_attrs(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                               hb_key_attrs *attrs, hb_err *err) HB_MUST_CHECK;

/* ---- OAEP labels (label_probe.c) ------------------------------------------- */

/* Whether the token of private_uri takes RSA-OAEP labels with hash h (a
 * labelled round trip works and a wrong label is refused), asked in
 * sessions of its own (docs/custody.md "OAEP labels"). A refusal is
 * *takes false; HB_E_* only when the token cannot be asked at all. */
hb_status hb_token_probe_oaep_label(hb_provider *p, const char *private_uri, X509 *cert,
                                    hb_oaep_hash h, bool *takes, hb_err *err) HB_MUST_CHECK;

/* ---- sanitizer builds (sanitizer.c) --------------------------------------- */

/* Does nothing; called once so that sanitizer.c is always linked in. */
void hb_sanitizer_link(void);

#endif
