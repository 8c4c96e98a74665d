/* `hsmbak token list`: tokens, the mechanisms hsmbak cares about, objects. */
#include "provider/provider_internal.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/x509.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    CK_MECHANISM_TYPE mech;
    const char *name;
} interesting[] = {
    {CKM_RSA_PKCS_KEY_PAIR_GEN, "rsa-keygen"}, {CKM_EC_KEY_PAIR_GEN, "ec-keygen"},
    {CKM_RSA_PKCS_OAEP, "rsa-oaep"},           {CKM_RSA_PKCS, "rsa-pkcs"},
    {CKM_SHA256_RSA_PKCS, "sha256-rsa-pkcs"},  {CKM_ECDSA, "ecdsa"},
};

static void append(char *out, size_t cap, const char *s)
{
    size_t used = strlen(out);
    int n = snprintf(out + used, cap - used, "%s%s", used > 0 ? "," : "", s);
    if (n < 0 || (size_t)n >= cap - used)
        out[used] = '\0';
}

static void list_mechanisms(CK_FUNCTION_LIST *f, CK_SLOT_ID slot, hb_token_info *t)
{
    CK_ULONG n = 0;
    CK_MECHANISM_TYPE *m = NULL;
    if (f->C_GetMechanismList(slot, NULL, &n) != CKR_OK || n == 0)
        return;
    m = calloc(n, sizeof *m);
    if (m == NULL || f->C_GetMechanismList(slot, m, &n) != CKR_OK) {
        free(m);
        return;
    }
    for (size_t i = 0; i < sizeof interesting / sizeof interesting[0]; i++)
        for (CK_ULONG j = 0; j < n; j++)
            if (m[j] == interesting[i].mech) {
                append(t->mechanisms, sizeof t->mechanisms, interesting[i].name);
                break;
            }
    free(m);
}

static unsigned ec_bits(const CK_BYTE *params, CK_ULONG len)
{
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const CK_BYTE p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    if (len == sizeof p256 && memcmp(params, p256, len) == 0)
        return 256;
    if (len == sizeof p384 && memcmp(params, p384, len) == 0)
        return 384;
    return 0;
}

static void describe_object(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                            const char *tlabel, hb_object_info *info)
{
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
    CK_BYTE label[128], id[64], ecp[32];
    CK_ULONG mbits = 0;
    memset(info, 0, sizeof *info);
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof cls};
    (void)f->C_GetAttributeValue(s, o, &a, 1);
    const char *type = NULL, *cname = "other";
    switch (cls) {
    case CKO_PRIVATE_KEY: cname = "private-key"; type = "private"; break;
    case CKO_PUBLIC_KEY: cname = "public-key"; type = "public"; break;
    case CKO_CERTIFICATE: cname = "certificate"; type = "cert"; break;
    case CKO_SECRET_KEY: cname = "secret-key"; type = "secret-key"; break;
    case CKO_DATA: cname = "data"; type = "data"; break;
    default: break;
    }
    /* Fixed strings shorter than the fields. */
    memcpy(info->class_name, cname, strlen(cname) + 1);
    CK_ATTRIBUTE l = {CKA_LABEL, label, sizeof label - 1};
    if (f->C_GetAttributeValue(s, o, &l, 1) == CKR_OK && l.ulValueLen < sizeof label)
        hb_p11_string(label, l.ulValueLen, info->label, sizeof info->label);
    CK_ATTRIBUTE i = {CKA_ID, id, sizeof id};
    if (f->C_GetAttributeValue(s, o, &i, 1) == CKR_OK && i.ulValueLen <= sizeof id)
        hb_hex_encode(id, i.ulValueLen, info->id_hex);
    if (cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) {
        CK_ATTRIBUTE k = {CKA_KEY_TYPE, &kt, sizeof kt};
        (void)f->C_GetAttributeValue(s, o, &k, 1);
        if (kt == CKK_RSA) {
            memcpy(info->key_type, "rsa", 4);
            CK_ATTRIBUTE mb = {CKA_MODULUS_BITS, &mbits, sizeof mbits};
            if (f->C_GetAttributeValue(s, o, &mb, 1) == CKR_OK)
                info->bits = (unsigned)mbits;
            else {
                /* Private RSA keys carry no CKA_MODULUS_BITS: size of CKA_MODULUS. */
                CK_ATTRIBUTE mod = {CKA_MODULUS, NULL, 0};
                if (f->C_GetAttributeValue(s, o, &mod, 1) == CKR_OK)
                    info->bits = (unsigned)mod.ulValueLen * 8;
            }
        } else if (kt == CKK_EC) {
            memcpy(info->key_type, "ec", 3);
            CK_ATTRIBUTE e = {CKA_EC_PARAMS, ecp, sizeof ecp};
            if (f->C_GetAttributeValue(s, o, &e, 1) == CKR_OK)
                info->bits = ec_bits(ecp, e.ulValueLen);
        }
        if (hb_object_read_attrs(f, s, o, &info->attrs, NULL) != HB_OK)
            memset(&info->attrs, 0, sizeof info->attrs);
    }
    char *uri = NULL;
    if (type != NULL && info->label[0] != '\0' &&
        hb_uri_for_object(tlabel, info->label, type, &uri, NULL) == HB_OK) {
        /* A truncated URI would name another object: leave it empty. */
        int n = snprintf(info->uri, sizeof info->uri, "%s", uri);
        if (n < 0 || (size_t)n >= sizeof info->uri)
            info->uri[0] = '\0';
        free(uri);
    }
}

static hb_status list_objects(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const char *tlabel,
                              hb_token_info *t, hb_err *err)
{
    hb_status st = HB_OK;
    CK_OBJECT_HANDLE handles[256];
    CK_ULONG n = 0;
    /* Token objects only: session objects belong to whoever made them. */
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE tmpl = {CKA_TOKEN, &on_token, sizeof on_token};
    CK_RV rv = f->C_FindObjectsInit(s, &tmpl, 1);
    if (rv == CKR_OK) {
        /* 256 objects is far more than a backup token holds; the rest are
         * not listed. */
        rv = f->C_FindObjects(s, handles, 256, &n);
        (void)f->C_FindObjectsFinal(s);
    }
    if (rv != CKR_OK) {
        st = hb_fail(err, HB_E_TOKEN, "cannot list the objects of token '%s': %s", tlabel,
                     hb_ckr_name(rv));
        goto cleanup;
    }
    if (n > 0) {
        t->objects = calloc(n, sizeof *t->objects);
        if (t->objects == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    for (CK_ULONG i = 0; i < n; i++)
        describe_object(f, s, handles[i], tlabel, &t->objects[i]);
    t->n_objects = n;
cleanup:
    return st;
}

hb_status hb_token_list(hb_provider *p, const char *token_uri, bool login,
                        hb_token_info **tokens, size_t *n_tokens, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    hb_token_info *list = NULL;
    size_t count = 0;
    P11KitUri *u = NULL;
    char *stripped = NULL, *pin_source = NULL;
    char slots_of[PATH_MAX + 32]; /* "the PKCS#11 slots of 'MODULE'" */
    HB_ENSURE(p != NULL && tokens != NULL && n_tokens != NULL, HB_E_USAGE,
              "token list: missing argument");
    if (token_uri != NULL) {
        HB_TRY(hb_uri_strip_pin(token_uri, &stripped, &pin_source, err));
        HB_TRY(hb_uri_parse(stripped, &u, err));
    }
    HB_TRY(hb_module_get(p, &f, err));
    HB_TRY(hb_format(slots_of, sizeof slots_of, "the module path", err,
                     "the PKCS#11 slots of '%s'", p->module));
    HB_TRY(hb_slot_list(f, slots_of, &slots, &n, err));
    if (n > 0)
        HB_ALLOC(list = calloc(n, sizeof *list));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (u != NULL && !p11_kit_uri_match_token_info(u, &ti))
            continue;
        hb_token_info *t = &list[count++];
        hb_p11_string(ti.label, sizeof ti.label, t->label, sizeof t->label);
        hb_p11_string(ti.serialNumber, sizeof ti.serialNumber, t->serial, sizeof t->serial);
        hb_p11_string(ti.manufacturerID, sizeof ti.manufacturerID, t->manufacturer,
                      sizeof t->manufacturer);
        hb_p11_string(ti.model, sizeof ti.model, t->model, sizeof t->model);
        t->initialized = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
        t->login_required = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
        t->user_pin_locked = (ti.flags & CKF_USER_PIN_LOCKED) != 0;
        t->user_pin_final_try = (ti.flags & CKF_USER_PIN_FINAL_TRY) != 0;
        list_mechanisms(f, slots[i], t);
        if (!t->initialized)
            continue;
        char what[64]; /* a label is at most 32 bytes: fits */
        HB_TRY(hb_format(what, sizeof what, "a token name", err, "token '%s'", t->label));
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        HB_TRY(hb_session_open(p, f, slots[i], what, pin_source, false,
                               login && t->login_required, &s, err));
        st = list_objects(f, s, t->label, t, err);
        (void)f->C_CloseSession(s);
        if (st != HB_OK)
            goto cleanup;
    }
    size_t initialized = 0;
    for (size_t i = 0; i < count; i++)
        initialized += list[i].initialized;
    char why[HB_MSG_MAX / 2];
    HB_ENSURE(initialized > 0 || !hb_token_store_unreadable(p->module, why, sizeof why),
              HB_E_NOT_FOUND, "no tokens found (module %s): %s", p->module, why);
    if (token_uri != NULL && count == 0) {
        char shown[HB_MSG_MAX / 4];
        st = hb_fail(err, HB_E_NOT_FOUND, "no token matches '%s' (module %s)",
                     hb_uri_shown(stripped, shown, sizeof shown), p->module);
        goto cleanup;
    }
    *tokens = list;
    *n_tokens = count;
    list = NULL;
    count = 0;
cleanup:
    hb_token_list_free(list, count);
    free(slots);
    if (u != NULL)
        p11_kit_uri_free(u);
    free(stripped);
    free(pin_source);
    return st;
}

void hb_token_list_free(hb_token_info *tokens, size_t n_tokens)
{
    if (tokens == NULL)
        return;
    for (size_t i = 0; i < n_tokens; i++)
        free(tokens[i].objects);
    free(tokens);
}
