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

static bool is_rsa(hb_key_type t)
{
    return t == HB_KEY_RSA2048 || t == HB_KEY_RSA3072 || t == HB_KEY_RSA4096;
}

/* Everything about a key generation that can be refused without a token. */
static hb_status check_request(const char *token_uri, const char *label, hb_key_type type,
                               hb_key_usage usage, char **private_uri, char **public_uri,
                               hb_err *err)
{
    if (token_uri == NULL || label == NULL || *label == '\0' || private_uri == NULL ||
        public_uri == NULL)
        return hb_fail(err, HB_E_USAGE, "key generation: missing token, label or output");
    if (strlen(label) > 100)
        return hb_fail(err, HB_E_USAGE, "key label '%s' is longer than 100 bytes", label);
    if (!is_rsa(type) && type != HB_KEY_EC_P256 && type != HB_KEY_EC_P384)
        return hb_fail(err, HB_E_USAGE, "unknown key type %d", (int)type);
    if (usage != HB_USAGE_RECIPIENT && usage != HB_USAGE_SIGNER &&
        usage != HB_USAGE_RECIPIENT_UNSEALED)
        return hb_fail(err, HB_E_USAGE, "unknown key usage %d", (int)usage);
    if (usage != HB_USAGE_SIGNER && !is_rsa(type))
        return hb_fail(err, HB_E_USAGE,
                       "backup recipient keys must be RSA (rsa:2048 or larger): backups are "
                       "opened with RSA-OAEP; EC keys are for signers");
    return HB_OK;
}

/* What the token says it can make (C_GetMechanismInfo): a key type or size
 * it cannot is refused here with its limit, not by an opaque C_GenerateKeyPair
 * error (tpm2-pkcs11 1.9: RSA 1024..3072 only; openCryptoki 3.8: no EC). */
static hb_status check_mechanism(const hb_token_session *ts, hb_key_type type, hb_err *err)
{
    bool rsa = is_rsa(type);
    CK_MECHANISM_INFO mi = {0};
    CK_RV rv = ts->f->C_GetMechanismInfo(ts->slot,
                                         rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
                                         &mi);
    if (rv == CKR_MECHANISM_INVALID)
        return hb_fail(err, HB_E_REFUSED,
                       "%s cannot make %s keys (it has no %s); choose %s", ts->what,
                       rsa ? "RSA" : "EC", rsa ? "CKM_RSA_PKCS_KEY_PAIR_GEN" : "CKM_EC_KEY_PAIR_GEN",
                       rsa ? "another token" : "--key-type rsa:2048 or rsa:3072");
    if (rv != CKR_OK || !rsa || mi.ulMaxKeySize == 0)
        return HB_OK; /* no answer: let C_GenerateKeyPair tell */
    CK_ULONG bits = type == HB_KEY_RSA2048 ? 2048 : type == HB_KEY_RSA3072 ? 3072 : 4096;
    if (bits > mi.ulMaxKeySize || bits < mi.ulMinKeySize)
        return hb_fail(err, HB_E_REFUSED,
                       "%s makes RSA keys of %lu to %lu bits only, not %s; choose a key type "
                       "within that limit (rsa:2048%s)", ts->what,
                       (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize,
                       key_types[type].name, mi.ulMaxKeySize >= 3072 ? " or rsa:3072" : "");
    return HB_OK;
}

/* Whether the module is tpm2-pkcs11 (its CK_INFO manufacturer), which
 * derives a key's public usage attributes from the TPM object. */
static bool derives_public_usages(CK_FUNCTION_LIST *f)
{
    static const char tpm2[] = "tpm2-software";
    CK_INFO info;
    return f->C_GetInfo(&info) == CKR_OK &&
           memcmp(info.manufacturerID, tpm2, sizeof tpm2 - 1) == 0;
}

/* C_GenerateKeyPair with the templates of hb_token_keygen (token.h): the
 * private half sensitive and never extractable, the usage split of `usage`
 * and its CKA_ALLOWED_MECHANISMS (allowed.c), left out where the token has
 * no such attribute (CKR_ATTRIBUTE_TYPE_INVALID: openCryptoki 3.8).
 * tpm2-pkcs11 1.9 derives the public usage attributes from the TPM object
 * and answers CKR_GENERAL_ERROR ("attr mismatch") to an explicit FALSE, so
 * on that answer the pair is asked for again with the public template's
 * FALSE usages left out; hb_token_keygen reads the result back either way. */
static hb_status generate_pair(hb_provider *p, const hb_token_session *ts, const char *label,
                               hb_key_type type, hb_key_usage usage, hb_err *err)
{
    CK_BYTE id[HB_KEY_ID_LEN];
    if (RAND_bytes_ex(p->libctx, id, sizeof id, 0) != 1)
        return hb_fail_ossl(err, HB_E_INTERNAL, "no random bytes for the key id");
    bool rsa = is_rsa(type), unsealed = usage == HB_USAGE_RECIPIENT_UNSEALED;
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
    CK_MECHANISM_TYPE allowed[HB_ALLOWED_MAX];

    CK_ATTRIBUTE pub_tmpl[10];
    CK_ULONG npub = 0;
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof no};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, lablen};
    pub_tmpl[npub++] = (CK_ATTRIBUTE){CKA_ID, id, sizeof id};
    CK_ULONG nfixed = npub;
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
        {CKA_ALLOWED_MECHANISMS, allowed, 0}, /* last: left out where unknown */
    };
    CK_ULONG nallowed = hb_allowed_for(ts, rsa, usage, allowed);
    priv_tmpl[sizeof priv_tmpl / sizeof priv_tmpl[0] - 1].ulValueLen =
        nallowed * sizeof allowed[0];
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_ULONG npriv = sizeof priv_tmpl / sizeof priv_tmpl[0] - (nallowed == 0 ? 1 : 0);
    /* Retry 1 leaves out the FALSE public usages, retry 2 every public usage.
     * tpm2-pkcs11 is asked retry 1's template at once: it refuses the first
     * one every time, and prints an "ERROR:" line on stderr when it does. */
    int first = derives_public_usages(ts->f) ? 1 : 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    for (int retry = 0; retry <= 2 && (retry <= first || rv == CKR_GENERAL_ERROR); retry++) {
        CK_ULONG n = nfixed;
        for (CK_ULONG i = nfixed; retry > 0 && i < npub; i++) {
            bool usage_attr = pub_tmpl[i].type == CKA_ENCRYPT || pub_tmpl[i].type == CKA_WRAP ||
                              pub_tmpl[i].type == CKA_VERIFY;
            if (!usage_attr || (retry == 1 && *(CK_BBOOL *)pub_tmpl[i].pValue == CK_TRUE))
                pub_tmpl[n++] = pub_tmpl[i];
        }
        if (retry > 0)
            npub = n;
        if (retry < first)
            continue;
        rv = ts->f->C_GenerateKeyPair(ts->s, &mech, pub_tmpl, npub, priv_tmpl, npriv, &hpub,
                                      &hpriv);
        /* openCryptoki 3.8 has no CKA_ALLOWED_MECHANISMS: asked again
         * without it; hb_token_key_mechanisms reports such a key. */
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID && npriv == sizeof priv_tmpl / sizeof *priv_tmpl) {
            npriv--;
            retry--;
            rv = CKR_GENERAL_ERROR;
        }
    }
    if (rv != CKR_OK)
        return hb_fail(err, HB_E_TOKEN, "%s refused to generate the %s key pair '%s': %s (0x%lx)",
                       ts->what, key_types[type].name, label, hb_ckr_name(rv),
                       (unsigned long)rv);
    return HB_OK;
}

hb_status hb_token_keygen(hb_provider *p, const char *token_uri, const char *label,
                          hb_key_type type, hb_key_usage usage, char **private_uri,
                          char **public_uri, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    char *priv = NULL, *pub = NULL;
    HB_ENSURE(p != NULL, HB_E_USAGE, "key generation: no provider");
    HB_TRY(check_request(token_uri, label, type, usage, private_uri, public_uri, err));
    HB_TRY(hb_token_session_open(p, token_uri, true, true, &ts, err));
    /* A label names one key pair (and its certificate): refuse a taken one. */
    CK_ATTRIBUTE by_label[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    bool taken = false;
    HB_TRY(hb_object_exists(ts.f, ts.s, by_label, 1, ts.what, &taken, err));
    HB_ENSURE(!taken, HB_E_REFUSED,
              "%s already holds an object labelled '%s'; choose another label or delete the "
              "old key first", ts.what, label);
    HB_TRY(check_mechanism(&ts, type, err));
    HB_TRY(generate_pair(p, &ts, label, type, usage, err));
    HB_TRY(hb_uri_for_object(ts.label, label, "private", &priv, err));
    HB_TRY(hb_uri_for_object(ts.label, label, "public", &pub, err));
    *private_uri = priv;
    *public_uri = pub;
    priv = pub = NULL;
cleanup:
    hb_token_session_close(&ts);
    free(priv);
    free(pub);
    return st;
}

/* A logged-in session (read-write when rw) on the token of private_uri, and
 * exactly that private key object in it. */
static hb_status open_key_object(hb_provider *p, const char *private_uri, bool rw,
                                 hb_token_session *ts_out, CK_OBJECT_HANDLE *oout, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    P11KitUri *u = NULL;
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    HB_ENSURE(p != NULL && private_uri != NULL, HB_E_USAGE, "key object: missing argument");
    HB_TRY(hb_token_session_open(p, private_uri, rw, true, &ts, err));
    HB_TRY(hb_uri_parse(ts.uri, &u, err));
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
    HB_TRY(hb_object_find_one(ts.f, ts.s, tmpl, n, ts.uri, oout, err));
    *ts_out = ts;
    ts.s = CK_INVALID_HANDLE;
    ts.uri = NULL;
cleanup:
    hb_token_session_close(&ts);
    if (u != NULL)
        p11_kit_uri_free(u);
    return st;
}

hb_status hb_token_key_attrs(hb_provider *p, const char *private_uri, hb_key_attrs *out,
                             hb_err *err)
{
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE o;
    hb_key_attrs attrs;
    if (out == NULL)
        return hb_fail(err, HB_E_USAGE, "key attributes: missing argument");
    hb_status st = open_key_object(p, private_uri, false, &ts, &o, err);
    if (st == HB_OK)
        st = hb_object_read_attrs(ts.f, ts.s, o, &attrs, err);
    if (st == HB_OK)
        *out = attrs;
    hb_token_session_close(&ts);
    return st;
}

hb_status hb_token_key_seal(hb_provider *p, const char *private_uri, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE o;
    hb_key_attrs attrs;
    HB_TRY(open_key_object(p, private_uri, true, &ts, &o, err));
    /* CKA_SIGN is modifiable (PKCS#11 v2.40 §4.9, table 33 footnote 8). */
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE clear[] = {{CKA_SIGN, &no, sizeof no}};
    CK_RV rv = ts.f->C_SetAttributeValue(ts.s, o, clear, 1);
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "the token would not drop the signing right of '%s' "
              "(%s); delete that key, it must not be used as a backup recipient",
              private_uri, hb_ckr_name(rv));
    HB_TRY(hb_object_read_attrs(ts.f, ts.s, o, &attrs, err));
    HB_ENSURE(!attrs.sign, HB_E_TOKEN, "the token still lets '%s' sign after CKA_SIGN was "
              "cleared; delete that key", private_uri);
    hb_allowed_narrow(&ts, o);
cleanup:
    hb_token_session_close(&ts);
    return st;
}

hb_status hb_token_key_mechanisms(hb_provider *p, const char *private_uri,
                                  hb_key_mechanisms *out, hb_err *err)
{
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE o;
    if (out == NULL)
        return hb_fail(err, HB_E_USAGE, "key mechanisms: missing argument");
    hb_status st = open_key_object(p, private_uri, false, &ts, &o, err);
    if (st == HB_OK)
        st = hb_allowed_read(&ts, o, out, err);
    hb_token_session_close(&ts);
    return st;
}
