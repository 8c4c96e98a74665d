/* Crypto objects (DESIGN §5): named certificate, key and idcred definitions,
 * as on the appliance, persisted in the system root's config
 * (ROOT/config/crypto.xml, written atomically) so that a backup carries them.
 *
 * A certificate names a file (cert:///x.pem, a path, or a pkcs11: URI of a
 * certificate object); a key names a token-held private key by PKCS#11 URI;
 * an idcred pairs a key with its certificate. The store also records which
 * idcred signs backups and which certificates are trusted to sign them. */
#ifndef HSMBAK_OBJECTS_H
#define HSMBAK_OBJECTS_H

#include "hsmbak/provider.h"
#include "hsmbak/status.h"
#include "hsmbak/system.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_object_type {
    HB_OBJECT_CERTIFICATE,
    HB_OBJECT_KEY,
    HB_OBJECT_IDCRED,
} hb_object_type;

#define HB_OBJECT_NAME_MAX 64

typedef struct hb_crypto_object {
    hb_object_type type;
    char name[HB_OBJECT_NAME_MAX + 1];
    bool enabled;              /* admin-state */
    /* certificate */
    char *file_name;           /* URL, path or pkcs11: URI */
    bool ignore_expiration;
    bool trusted_signer;       /* may sign backups this system restores */
    hb_oaep_hash key_wrap;     /* how backups wrap keys to this certificate
                                  (DESIGN §4.2): the recipient token's choice */
    /* What the token that holds this certificate's private key said when it
     * was asked (docs/custody.md "Key wraps"): probed_fingerprint is the
     * SHA-256 of the certificate then probed ("" = never probed; a probe of
     * another certificate does not count), key_wraps_accepted one bit
     * (1u << hb_oaep_hash) per hash that round-tripped on the token (0: it
     * refused both). Kept when the object is redefined. */
    char probed_fingerprint[65];
    unsigned key_wraps_accepted;
    /* key */
    char *uri;                 /* pkcs11: URI of the private key */
    /* What the token let that key do when crypto keygen made it
     * (docs/custody.md "Allowed mechanisms"): "limited", "unlimited",
     * "not-enforced", "" = not known (a key defined by hand); and its
     * CKA_ALLOWED_MECHANISMS as read back. Dropped when the URI changes. */
    char mechanisms[16];
    char allowed_mechanisms[96];
    /* idcred */
    char key[HB_OBJECT_NAME_MAX + 1];
    char certificate[HB_OBJECT_NAME_MAX + 1];
} hb_crypto_object;

typedef struct hb_object_store hb_object_store;

/* "certificate", "key", "idcred" and back. */
HB_API const char *hb_object_type_name(hb_object_type t);
HB_API hb_status hb_object_type_from_name(const char *name, hb_object_type *out,
                                          hb_err *err) HB_MUST_CHECK;

/* Load ROOT/config/crypto.xml (an absent file is an empty store). */
HB_API hb_status hb_objects_load(const char *root, hb_object_store **out,
                                 hb_err *err) HB_MUST_CHECK;
/* Write the store back atomically (0600). */
HB_API hb_status hb_objects_save(const hb_object_store *s, hb_err *err) HB_MUST_CHECK;
HB_API void hb_objects_free(hb_object_store *s);

HB_API size_t hb_objects_count(const hb_object_store *s);
HB_API const hb_crypto_object *hb_objects_at(const hb_object_store *s, size_t i);
HB_API const hb_crypto_object *hb_objects_find(const hb_object_store *s, hb_object_type t,
                                               const char *name);
/* The idcred marked as backup signer, or NULL. */
HB_API const char *hb_objects_backup_signer(const hb_object_store *s);
/* Whether backups wrap to certificate o with an OAEP label: its probe
 * (kept with o) says its token takes labels with o's key-wrap
 * (docs/custody.md "OAEP labels"). */
HB_API bool hb_objects_oaep_labels(const hb_crypto_object *o);

/* ---- changing the store of a system ---------------------------------------
 *
 * What `hsmbak crypto certificate|key|idcred|delete|backup-signer|
 * trusted-signer` do. sys is open, so its lock is held: a backup or restore
 * at work never sees the store change. Each call loads ROOT/config/crypto.xml,
 * makes its one change with the hb_objects_set_* below and saves the store
 * atomically; when any step fails nothing is written, so a refused definition
 * leaves the store as it was. *created tells "Creating" from "Modifying". */
/* A certificate: with p, when a token p sees holds the private key of an RSA
 * certificate, that key is asked which key-wraps it takes (one unwrap per
 * hash, logs in) and the answer recorded; key_wrap HB_OAEP_UNPROBED (none
 * given) then takes the token's choice, and a key_wrap the token refuses is
 * HB_E_REFUSED. With no such key (or p NULL) the key-wrap stays unprobed,
 * but a probe of the same certificate made before is kept. */
HB_API hb_status hb_crypto_define_certificate(hb_system *sys, hb_provider *p, const char *name,
                                              const char *url, bool ignore_expiration,
                                              bool disabled, hb_oaep_hash key_wrap,
                                              bool *created, hb_err *err) HB_MUST_CHECK;
/* A key stands only when it is on its token now (checked through its public
 * object: no PIN needed); HB_E_NOT_FOUND otherwise. */
HB_API hb_status hb_crypto_define_key(hb_system *sys, hb_provider *p, const char *name,
                                      const char *uri, bool *created, hb_err *err) HB_MUST_CHECK;
/* An idcred stands only when it is up now (hb_objects_status: its key on the
 * token, key and certificate matching); HB_E_REFUSED otherwise. */
HB_API hb_status hb_crypto_define_idcred(hb_system *sys, hb_provider *p, const char *name,
                                         const char *key, const char *certificate,
                                         bool *created, hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_crypto_delete(hb_system *sys, hb_object_type t, const char *name,
                                  hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_crypto_set_backup_signer(hb_system *sys, const char *idcred,
                                             hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_crypto_set_trusted_signer(hb_system *sys, const char *certificate,
                                              bool trusted, hb_err *err) HB_MUST_CHECK;
/* Whether certificate object `certificate` would vouch for a backup's signer
 * now (the rule restore applies, backup/ops/trust.c): HB_OK, or HB_E_REFUSED
 * saying why (disabled, expired, not yet valid) and what to do. p may be NULL
 * (a certificate on a token is then unreadable: its error). */
HB_API hb_status hb_crypto_signer_standing(const char *root, hb_provider *p,
                                           const char *certificate, hb_err *err) HB_MUST_CHECK;

/* ---- editing a loaded store -------------------------------------------------
 *
 * Define or redefine objects in memory (hb_objects_save writes them; the
 * hb_crypto_* calls above do both). Each checks what it can without the token
 * (name syntax, URL resolves, file parses as a certificate, URI syntax, no PIN
 * in the URI, referenced objects exist) and changes nothing on failure.
 * *created tells "Creating" from "Modifying". */
HB_API hb_status hb_objects_set_certificate(hb_object_store *s, const char *name, const char *url,
                                            bool ignore_expiration, bool disabled,
                                            hb_oaep_hash key_wrap, bool *created,
                                            hb_err *err) HB_MUST_CHECK;
/* Record what keygen read back of key `name` (hb_crypto_object.mechanisms). */
HB_API hb_status hb_objects_set_key_mechanisms(hb_object_store *s, const char *name,
                                               const char *limit, const char *allowed,
                                               hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_objects_set_key(hb_object_store *s, const char *name, const char *uri,
                                    bool *created, hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_objects_set_idcred(hb_object_store *s, const char *name, const char *key,
                                       const char *certificate, bool *created,
                                       hb_err *err) HB_MUST_CHECK;
/* hb_objects_set_certificate: key_wrap HB_OAEP_UNPROBED keeps the key-wrap
 * of an object redefined (rsa-oaep-sha256 for a new one); a recorded probe
 * is kept either way. */
/* Refuses to delete an object another one refers to. */
HB_API hb_status hb_objects_delete(hb_object_store *s, hb_object_type t, const char *name,
                                   hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_objects_set_backup_signer(hb_object_store *s, const char *idcred,
                                              hb_err *err) HB_MUST_CHECK;
HB_API hb_status hb_objects_set_trusted_signer(hb_object_store *s, const char *certificate,
                                               bool trusted, hb_err *err) HB_MUST_CHECK;

/* Record a probe of certificate object name (fingerprint: of the
 * certificate probed; accepted: as hb_token_probe_oaep). */
HB_API hb_status hb_objects_set_key_wrap_probe(hb_object_store *s, const char *name,
                                               const char *fingerprint, unsigned accepted,
                                               hb_err *err) HB_MUST_CHECK;

typedef enum hb_key_wrap_state {
    HB_KEY_WRAP_UNPROBED,    /* no token was asked about this certificate */
    HB_KEY_WRAP_PROBED,      /* its token takes the recorded key-wrap */
    HB_KEY_WRAP_REFUSED,     /* its token was asked and refuses the recorded key-wrap */
    HB_KEY_WRAP_NONE,        /* not an RSA certificate (or unreadable): no key-wrap */
} hb_key_wrap_state;

/* What is known of certificate object o's key-wrap for the certificate it
 * names now (a probe of another certificate counts as none). */
HB_API hb_key_wrap_state hb_objects_key_wrap(const hb_object_store *s, hb_provider *p,
                                             const hb_crypto_object *o);

/* ---- live status ---------------------------------------------------------- */

typedef struct hb_object_status {
    bool up;
    char reason[256];          /* why it is down; empty when up */
} hb_object_status;

/* Up when enabled, its file or token object is there and usable, the
 * certificate is not expired (unless ignore-expiration), and an idcred's key
 * and certificate match. Never logs in: a key is checked through its public
 * object. p may be NULL, then keys are reported as "not checked". */
HB_API void hb_objects_status(const hb_object_store *s, hb_provider *p, const hb_crypto_object *o,
                              hb_object_status *out);

#ifdef __cplusplus
}
#endif
#endif
