/* Which visible token holds the private key of a certificate (provider/token.h).
 * Searched without login, through the key's public half: an RSA public key
 * object whose modulus and exponent are the certificate's. The private key
 * is then named by the public key's label on that token. */
#include "provider/provider_internal.h"

#include "common/fail.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODULUS 1024 /* 8192 bits */

/* The certificate's RSA modulus, big-endian without leading zeros. */
static bool cert_modulus(X509 *cert, unsigned char *out, size_t *len)
{
    BIGNUM *n = NULL;
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    bool ok = pub != NULL && EVP_PKEY_is_a(pub, "RSA") &&
              EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
              (size_t)BN_num_bytes(n) <= MAX_MODULUS;
    if (ok)
        *len = (size_t)BN_bn2bin(n, out);
    BN_free(n);
    return ok;
}

/* The label of a public key on session s with this modulus, or "". */
static void find_label(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, unsigned char *mod,
                       size_t len, char *label, size_t cap)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                           {CKA_TOKEN, &on_token, sizeof on_token},
                           {CKA_MODULUS, mod, (CK_ULONG)len}};
    CK_OBJECT_HANDLE o;
    CK_ULONG got = 0;
    unsigned char raw[129];
    label[0] = '\0';
    if (f->C_FindObjectsInit(s, tmpl, 3) != CKR_OK)
        return;
    if (f->C_FindObjects(s, &o, 1, &got) == CKR_OK && got == 1) {
        CK_ATTRIBUTE l = {CKA_LABEL, raw, sizeof raw - 1};
        if (f->C_GetAttributeValue(s, o, &l, 1) == CKR_OK && l.ulValueLen < sizeof raw)
            hb_p11_string(raw, l.ulValueLen, label, cap);
    }
    (void)f->C_FindObjectsFinal(s);
}

hb_status hb_token_find_key_of(hb_provider *p, X509 *cert, char **private_uri, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    unsigned char mod[MAX_MODULUS];
    size_t len = 0;
    char label[129] = "", tlabel[33] = "";
    HB_ENSURE(p != NULL && cert != NULL && private_uri != NULL, HB_E_USAGE,
              "finding a certificate's key: missing argument");
    *private_uri = NULL;
    HB_ENSURE(cert_modulus(cert, mod, &len), HB_E_NOT_FOUND,
              "the certificate has no RSA key: no token holds a recipient key for it");
    HB_TRY(hb_module_get(p, &f, err));
    HB_TRY(hb_slot_list(f, "the PKCS#11 slots", &slots, &n, err));
    for (CK_ULONG i = 0; i < n && label[0] == '\0'; i++) {
        CK_TOKEN_INFO ti;
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        hb_err ignored = {0};
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        hb_p11_string(ti.label, sizeof ti.label, tlabel, sizeof tlabel);
        if (hb_session_open(p, f, slots[i], "a token", NULL, false, false, &s, &ignored) != HB_OK)
            continue;
        find_label(f, s, mod, len, label, sizeof label);
        (void)f->C_CloseSession(s);
    }
    HB_ENSURE(label[0] != '\0', HB_E_NOT_FOUND,
              "no token this system sees holds the private key of the certificate");
    HB_TRY(hb_uri_for_object(tlabel, label, "private", private_uri, err));
cleanup:
    free(slots);
    return st;
}
