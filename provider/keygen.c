/* Key pairs generated on the token (PKCS#11 v2.40 §5.14 C_GenerateKeyPair),
 * and reading their attributes back. */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define HB_KEY_ID_LEN 16

static const struct {
    const char *name;
    hb_key_type type;
} key_types[] = {
    {"rsa:2048", HB_KEY_RSA2048}, {"rsa:3072", HB_KEY_RSA3072}, {"rsa:4096", HB_KEY_RSA4096},
    {"ec:p256", HB_KEY_EC_P256},  {"ec:p384", HB_KEY_EC_P384},
};

hb_status hb_key_type_from_name(const char *name, hb_key_type *out, hb_err *err)
{
    for (size_t i = 0; name != NULL && i < sizeof key_types / sizeof key_types[0]; i++)
        if (strcmp(name, key_types[i].name) == 0) {
            *out = key_types[i].type;
            return HB_OK;
        }
    return hb_fail(err, HB_E_USAGE,
                   "unknown key type '%s' (rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384)",
                   name != NULL ? name : "(none)");
}

hb_status hb_key_usage_from_name(const char *name, hb_key_usage *out, hb_err *err)
{
    if (name != NULL && strcmp(name, "recipient") == 0) {
        *out = HB_USAGE_RECIPIENT;
        return HB_OK;
    }
    if (name != NULL && strcmp(name, "signer") == 0) {
        *out = HB_USAGE_SIGNER;
        return HB_OK;
    }
    return hb_fail(err, HB_E_USAGE, "unknown key usage '%s' (recipient or signer)",
                   name != NULL ? name : "(none)");
}

/* DER OIDs for CKA_EC_PARAMS (RFC 5480 §2.1.1.1). */
static const CK_BYTE oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

hb_status hb_token_keygen(hb_provider *p, const char *token_uri, const char *label,
                          hb_key_type type, hb_key_usage usage, char **private_uri,
                          char **public_uri, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;
    char *stripped = NULL, *pin_source = NULL, *priv = NULL, *pub = NULL;
    char tlabel[33], what[128];

    if (p == NULL || token_uri == NULL || label == NULL || *label == '\0' ||
        private_uri == NULL || public_uri == NULL)
        return hb_fail(err, HB_E_USAGE, "key generation: missing token, label or output");
    if (strlen(label) > 100)
        return hb_fail(err, HB_E_USAGE, "key label '%s' is longer than 100 bytes", label);
    bool rsa = type == HB_KEY_RSA2048 || type == HB_KEY_RSA3072 || type == HB_KEY_RSA4096;
    bool ec = type == HB_KEY_EC_P256 || type == HB_KEY_EC_P384;
    if (!rsa && !ec)
        return hb_fail(err, HB_E_USAGE, "unknown key type %d", (int)type);
    if (usage != HB_USAGE_RECIPIENT && usage != HB_USAGE_SIGNER &&
        usage != HB_USAGE_RECIPIENT_UNSEALED)
        return hb_fail(err, HB_E_USAGE, "unknown key usage %d", (int)usage);
    bool unsealed = usage == HB_USAGE_RECIPIENT_UNSEALED;
    if ((usage == HB_USAGE_RECIPIENT || unsealed) && !rsa)
        return hb_fail(err, HB_E_USAGE,
                       "backup recipient keys must be RSA (rsa:2048 or larger): backups are "
                       "opened with RSA-OAEP; EC keys are for signers");

    HB_TRY(hb_uri_strip_pin(token_uri, &stripped, &pin_source, err));
    HB_TRY(hb_module_get(p, &f, err));
    HB_TRY(hb_token_find(f, stripped, &slot, &ti, err));
    hb_p11_string(ti.label, sizeof ti.label, tlabel, sizeof tlabel);
    snprintf(what, sizeof what, "token '%s'", tlabel);
    HB_TRY(hb_session_open(p, f, slot, what, pin_source, true, true, &s, err));

    /* A label names one key pair (and its certificate): refuse a taken one. */
    CK_OBJECT_HANDLE existing;
    CK_ATTRIBUTE by_label[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG count = 0;
    CK_RV rv = f->C_FindObjectsInit(s, by_label, 1);
    if (rv == CKR_OK) {
        rv = f->C_FindObjects(s, &existing, 1, &count);
        (void)f->C_FindObjectsFinal(s);
    }
    if (rv != CKR_OK) {
        st = hb_fail(err, HB_E_TOKEN, "cannot search %s: %s", what, hb_ckr_name(rv));
        goto cleanup;
    }
    if (count > 0) {
        st = hb_fail(err, HB_E_REFUSED,
                     "%s already holds an object labelled '%s'; choose another label or "
                     "delete the old key first", what, label);
        goto cleanup;
    }

    CK_BYTE id[HB_KEY_ID_LEN];
    if (RAND_bytes_ex(p->libctx, id, sizeof id, 0) != 1) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "no random bytes for the key id");
        goto cleanup;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL recip = usage == HB_USAGE_RECIPIENT || unsealed ? CK_TRUE : CK_FALSE;
    CK_BBOOL signer = usage == HB_USAGE_SIGNER ? CK_TRUE : CK_FALSE;
    /* An unsealed recipient may sign its own certificate and CSR until
     * hb_token_key_seal clears CKA_SIGN; its public half never verifies. */
    CK_BBOOL may_sign = signer || unsealed ? CK_TRUE : CK_FALSE;
    CK_ULONG bits = type == HB_KEY_RSA2048 ? 2048 : type == HB_KEY_RSA3072 ? 3072 : 4096;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG lablen = strlen(label);

    CK_ATTRIBUTE pub_tmpl[10];
    CK_ULONG npub = 0;
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof no};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, lablen};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_ID, id, sizeof id};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &recip, sizeof recip};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_WRAP, &recip, sizeof recip};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_VERIFY, &signer, sizeof signer};
    if (rsa) {
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof bits};
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof exponent};
    } else if (type == HB_KEY_EC_P256) {
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p256, sizeof oid_p256};
    } else {
        pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p384, sizeof oid_p384};
    }

    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_LABEL, (void *)label, lablen},
        {CKA_ID, id, sizeof id},
        {CKA_DECRYPT, &recip, sizeof recip},
        {CKA_UNWRAP, &recip, sizeof recip},
        {CKA_SIGN, &may_sign, sizeof may_sign},
        {CKA_SIGN_RECOVER, &no, sizeof no},
        {CKA_DERIVE, &no, sizeof no},
    };
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    rv = f->C_GenerateKeyPair(s, &mech, pub_tmpl, npub, priv_tmpl,
                              sizeof priv_tmpl / sizeof priv_tmpl[0], &hpub, &hpriv);
    if (rv != CKR_OK) {
        st = hb_fail(err, HB_E_TOKEN, "%s refused to generate the %s key pair '%s': %s (0x%lx)",
                     what, key_types[type].name, label, hb_ckr_name(rv), (unsigned long)rv);
        goto cleanup;
    }
    HB_TRY(hb_uri_for_object(tlabel, label, "private", &priv, err));
    HB_TRY(hb_uri_for_object(tlabel, label, "public", &pub, err));
    *private_uri = priv;
    *public_uri = pub;
    priv = pub = NULL;
cleanup:
    if (s != CK_INVALID_HANDLE)
        (void)f->C_CloseSession(s);
    free(stripped);
    free(pin_source);
    free(priv);
    free(pub);
    return st;
}

/* Open a session on the token of private_uri (logged in; read-write when
 * rw) and find exactly that private key object. */
static hb_status open_key_object(hb_provider *p, const char *private_uri, bool rw,
                                 CK_FUNCTION_LIST **fout, CK_SESSION_HANDLE *sout,
                                 CK_OBJECT_HANDLE *oout, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;
    P11KitUri *u = NULL;
    char *stripped = NULL, *pin_source = NULL;
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    if (p == NULL || private_uri == NULL)
        return hb_fail(err, HB_E_USAGE, "key object: missing argument");
    HB_TRY(hb_uri_strip_pin(private_uri, &stripped, &pin_source, err));
    HB_TRY(hb_uri_parse(stripped, &u, err));
    HB_TRY(hb_module_get(p, &f, err));
    HB_TRY(hb_token_find(f, stripped, &slot, &ti, err));
    HB_TRY(hb_session_open(p, f, slot, stripped, pin_source, rw, true, &s, err));
    CK_ULONG nattr = 0;
    CK_ATTRIBUTE *a = p11_kit_uri_get_attributes(u, &nattr);
    bool has_class = false;
    for (CK_ULONG i = 0; i < nattr && n < 6; i++) {
        tmpl[n++] = a[i];
        if (a[i].type == CKA_CLASS)
            has_class = true;
    }
    if (!has_class)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    /* Token objects only: pkcs11-provider may add session objects. */
    CK_BBOOL on_token = CK_TRUE;
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &on_token, sizeof on_token};
    HB_TRY(hb_object_find_one(f, s, tmpl, n, stripped, oout, err));
    *fout = f;
    *sout = s;
    s = CK_INVALID_HANDLE;
cleanup:
    if (s != CK_INVALID_HANDLE)
        (void)f->C_CloseSession(s);
    if (u != NULL)
        p11_kit_uri_free(u);
    free(stripped);
    free(pin_source);
    return st;
}

hb_status hb_token_key_attrs(hb_provider *p, const char *private_uri, hb_key_attrs *out,
                             hb_err *err)
{
    CK_FUNCTION_LIST *f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE o;
    hb_key_attrs attrs;
    if (out == NULL)
        return hb_fail(err, HB_E_USAGE, "key attributes: missing argument");
    hb_status st = open_key_object(p, private_uri, false, &f, &s, &o, err);
    if (st != HB_OK)
        return st;
    st = hb_object_read_attrs(f, s, o, &attrs, err);
    if (st == HB_OK)
        *out = attrs;
    (void)f->C_CloseSession(s);
    return st;
}

hb_status hb_token_key_seal(hb_provider *p, const char *private_uri, hb_err *err)
{
    CK_FUNCTION_LIST *f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE o;
    hb_key_attrs attrs;
    hb_status st = open_key_object(p, private_uri, true, &f, &s, &o, err);
    if (st != HB_OK)
        return st;
    /* CKA_SIGN is modifiable (PKCS#11 v2.40 §4.9, table 33 footnote 8). */
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE clear[] = {{CKA_SIGN, &no, sizeof no}};
    CK_RV rv = f->C_SetAttributeValue(s, o, clear, 1);
    if (rv != CKR_OK)
        st = hb_fail(err, HB_E_TOKEN, "the token would not drop the signing right of '%s' "
                     "(%s); delete that key, it must not be used as a backup recipient",
                     private_uri, hb_ckr_name(rv));
    else if ((st = hb_object_read_attrs(f, s, o, &attrs, err)) == HB_OK && attrs.sign)
        st = hb_fail(err, HB_E_TOKEN, "the token still lets '%s' sign after CKA_SIGN was "
                     "cleared; delete that key", private_uri);
    (void)f->C_CloseSession(s);
    return st;
}
