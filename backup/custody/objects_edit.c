/* Changing the crypto object store of an open system (include/hsmbak/objects.h,
 * `hsmbak crypto certificate|key|idcred|delete|backup-signer|trusted-signer`):
 * load, one change, save, under the system's lock, nothing written on failure. */
#include "backup/custody/objects.h"

#include "backup/system/system.h"
#include "common/fail.h"
#include "common/x509.h"

#include <stdlib.h>
#include <string.h>

/* One change, as the public calls describe it. */
typedef enum edit_kind {
    EDIT_CERTIFICATE,
    EDIT_KEY,
    EDIT_IDCRED,
    EDIT_DELETE,
    EDIT_BACKUP_SIGNER,
    EDIT_TRUSTED_SIGNER,
} edit_kind;

typedef struct edit {
    edit_kind kind;
    hb_provider *p;          /* EDIT_KEY, EDIT_IDCRED: to check the object is up */
    hb_object_type type;     /* EDIT_DELETE */
    const char *name;
    const char *target;      /* certificate URL, key URI, idcred's key */
    const char *certificate; /* idcred's certificate */
    bool flag;               /* ignore-expiration; trusted */
    bool disabled;
    hb_oaep_hash key_wrap;
} edit;

/* A definition stands only when its object is up now; the reason it is not
 * becomes the message. */
static hb_status require_up(const hb_object_store *s, hb_provider *p, hb_object_type type,
                            const char *name, hb_status when_down, hb_err *err)
{
    hb_object_status status;
    hb_objects_status(s, p, hb_objects_find(s, type, name), &status);
    if (!status.up)
        return hb_fail(err, when_down, "%s '%s': %s", hb_object_type_name(type), name,
                       status.reason);
    return HB_OK;
}

/* A key URI names one key. An unquoted URI the shell cut at its first ';'
 * ("pkcs11:token=backup") names every key on the token, and the token layer
 * would take whichever comes first: refused, saying so. Counted through the
 * public halves (no PIN); a URI that names none is left to require_up. */
static hb_status require_one_key(hb_provider *p, const char *uri, hb_err *err)
{
    hb_status st = HB_OK;
    char *pub = NULL, labels[256];
    size_t n = 0;
    hb_err ignored;
    HB_TRY(hb_pkcs11_uri_with_type(uri, "public", &pub, err));
    if (hb_token_count_matches(p, pub, &n, labels, sizeof labels, &ignored) != HB_OK || n < 2)
        goto cleanup;
    HB_FAIL(HB_E_USAGE, "key URI '%s' matches %zu keys on its token (%s), not one: name the "
            "key with object=LABEL, and quote the whole URI, since the shell ends a command "
            "at an unquoted ';' (e.g. 'pkcs11:token=...;object=LABEL;type=private')", uri, n,
            labels);
cleanup:
    free(pub);
    return st;
}

/* The best key-wrap a token takes: SHA-256 where it works. */
static hb_oaep_hash best_of(unsigned accepted)
{
    return accepted & (1u << HB_OAEP_SHA256) ? HB_OAEP_SHA256 : HB_OAEP_SHA1;
}

/* The key-wrap of certificate e->name, asked of the token that holds its
 * private key when this system sees one (docs/custody.md "Key wraps"). No
 * such token: unprobed, or an earlier probe of the same certificate kept. */
static hb_status probe_certificate(hb_object_store *s, const edit *e, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *cert = NULL;
    char *priv = NULL, fp[65];
    unsigned accepted = 0;
    hb_err sub = {0};
    hb_crypto_object *o = (hb_crypto_object *)hb_objects_find(s, HB_OBJECT_CERTIFICATE,
                                                              e->name);
    HB_ENSURE(o != NULL, HB_E_INTERNAL, "certificate '%s' vanished", e->name);
    HB_TRY(hb_objects_load_certificate(s, e->p, e->name, &cert, err));
    HB_TRY(hb_x509_fingerprint(cert, fp, err));
    if (e->p == NULL || hb_token_find_key_of(e->p, cert, &priv, &sub) != HB_OK)
        goto cleanup; /* unprobed, or the probe of this very certificate kept */
    if (hb_token_probe_oaep(e->p, priv, cert, &accepted, &sub) != HB_OK) {
        if (sub.status != HB_E_TOKEN) { /* a PIN problem, a token gone: not an answer */
            st = hb_fail(err, sub.status, "certificate '%s': cannot ask the token which "
                         "key-wrap its key takes: %s", e->name, sub.msg);
            goto cleanup;
        }
        accepted = 0; /* the key unwraps with neither hash */
    }
    HB_TRY(hb_objects_set_key_wrap_probe(s, e->name, fp, accepted, err));
    if (accepted == 0)
        goto cleanup; /* a signer's certificate, say; refused only as a recipient */
    if (e->key_wrap == HB_OAEP_UNPROBED)
        o->key_wrap = best_of(accepted);
    else
        HB_ENSURE(accepted & (1u << e->key_wrap), HB_E_REFUSED,
                  "certificate '%s': its token refuses %s (asked just now: it takes %s); "
                  "define it with --key-wrap %s, or leave --key-wrap out",
                  e->name, hb_oaep_hash_name(e->key_wrap),
                  hb_oaep_hash_name(best_of(accepted)), hb_oaep_hash_name(best_of(accepted)));
cleanup:
    X509_free(cert);
    free(priv);
    return st;
}

static hb_status apply(hb_object_store *s, const edit *e, bool *created, hb_err *err)
{
    hb_status st = HB_OK;
    switch (e->kind) {
    case EDIT_CERTIFICATE:
        st = hb_objects_set_certificate(s, e->name, e->target, e->flag, e->disabled,
                                        e->key_wrap, created, err);
        return st != HB_OK ? st : probe_certificate(s, e, err);
    case EDIT_KEY:
        st = hb_objects_set_key(s, e->name, e->target, created, err);
        if (st == HB_OK && e->p != NULL)
            st = require_one_key(e->p, e->target, err);
        /* The key must be on its token now; the check needs no PIN (public half). */
        return st != HB_OK ? st : require_up(s, e->p, HB_OBJECT_KEY, e->name, HB_E_NOT_FOUND, err);
    case EDIT_IDCRED:
        st = hb_objects_set_idcred(s, e->name, e->target, e->certificate, created, err);
        return st != HB_OK ? st
                           : require_up(s, e->p, HB_OBJECT_IDCRED, e->name, HB_E_REFUSED, err);
    case EDIT_DELETE:
        return hb_objects_delete(s, e->type, e->name, err);
    case EDIT_BACKUP_SIGNER:
        return hb_objects_set_backup_signer(s, e->name, err);
    case EDIT_TRUSTED_SIGNER:
        return hb_objects_set_trusted_signer(s, e->name, e->flag, err);
    }
    return hb_fail(err, HB_E_INTERNAL, "unknown crypto object edit");
}

static hb_status edit_store(hb_system *sys, const edit *e, bool *created, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *s = NULL;
    bool made = false;
    /* Held from load to save: no other operation sees a half-made change. */
    HB_ENSURE(sys != NULL && sys->lock_fd >= 0, HB_E_INTERNAL,
              "the crypto object store is changed only under the system's lock");
    HB_TRY(hb_objects_load(sys->root, &s, err));
    HB_TRY(apply(s, e, &made, err));
    HB_TRY(hb_objects_save(s, err));
    if (created != NULL)
        *created = made;
cleanup:
    hb_objects_free(s);
    return st;
}

hb_status hb_crypto_define_certificate(hb_system *sys, hb_provider *p, const char *name,
                                       const char *url, bool ignore_expiration, bool disabled,
                                       hb_oaep_hash key_wrap, bool *created, hb_err *err)
{
    edit e = {.kind = EDIT_CERTIFICATE, .p = p, .name = name, .target = url, .flag = ignore_expiration,
              .disabled = disabled, .key_wrap = key_wrap};
    return edit_store(sys, &e, created, err);
}

hb_status hb_crypto_define_key(hb_system *sys, hb_provider *p, const char *name,
                               const char *uri, bool *created, hb_err *err)
{
    edit e = {.kind = EDIT_KEY, .p = p, .name = name, .target = uri};
    return edit_store(sys, &e, created, err);
}

hb_status hb_crypto_define_idcred(hb_system *sys, hb_provider *p, const char *name,
                                  const char *key, const char *certificate, bool *created,
                                  hb_err *err)
{
    edit e = {.kind = EDIT_IDCRED, .p = p, .name = name, .target = key,
              .certificate = certificate};
    return edit_store(sys, &e, created, err);
}

hb_status hb_crypto_delete(hb_system *sys, hb_object_type t, const char *name, hb_err *err)
{
    edit e = {.kind = EDIT_DELETE, .type = t, .name = name};
    return edit_store(sys, &e, NULL, err);
}

hb_status hb_crypto_set_backup_signer(hb_system *sys, const char *idcred, hb_err *err)
{
    edit e = {.kind = EDIT_BACKUP_SIGNER, .name = idcred};
    return edit_store(sys, &e, NULL, err);
}

hb_status hb_crypto_set_trusted_signer(hb_system *sys, const char *certificate, bool trusted,
                                       hb_err *err)
{
    edit e = {.kind = EDIT_TRUSTED_SIGNER, .name = certificate, .flag = trusted};
    return edit_store(sys, &e, NULL, err);
}
