/* What a key may do beyond its CKA_DECRYPT/CKA_SIGN flags: its
 * CKA_ALLOWED_MECHANISMS (PKCS#11 v2.40 §4.6), chosen at generation,
 * narrowed at seal, read back and tried.
 *
 * Without the attribute a "decrypt-only" RSA key still decrypts with raw
 * RSA (CKM_RSA_X_509: a signature is one such "decryption") and with
 * PKCS#1 v1.5 (a padding oracle). Measured (docs/custody.md "Allowed
 * mechanisms"): SoftHSM 2.6.1 takes and enforces the attribute but makes it
 * read-only after generation; tpm2-pkcs11 1.9 takes, enforces and lets it
 * be changed (narrowed at seal); openCryptoki 3.8 has no such attribute
 * (CKR_ATTRIBUTE_TYPE_INVALID), its keys are reported as unlimited. */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <stdio.h>
#include <string.h>

static bool token_has(const hb_token_session *ts, CK_MECHANISM_TYPE m)
{
    CK_MECHANISM_INFO mi;
    return ts->f->C_GetMechanismInfo(ts->slot, m, &mi) == CKR_OK;
}

CK_ULONG hb_allowed_for(const hb_token_session *ts, bool rsa, hb_key_usage usage,
                        CK_MECHANISM_TYPE out[HB_ALLOWED_MAX])
{
    CK_ULONG n = 0;
    /* pkcs11-provider signs SHA-256 with CKM_SHA256_RSA_PKCS where the
     * token has it, else CKM_RSA_PKCS over a DigestInfo (sign.c). */
    CK_MECHANISM_TYPE rsa_sign =
        token_has(ts, CKM_SHA256_RSA_PKCS) ? CKM_SHA256_RSA_PKCS : CKM_RSA_PKCS;
    if (usage == HB_USAGE_SIGNER && !rsa) {
        out[n++] = CKM_ECDSA;
        if (token_has(ts, CKM_ECDSA_SHA256))
            out[n++] = CKM_ECDSA_SHA256;
        return n;
    }
    if (usage == HB_USAGE_SIGNER) {
        out[n++] = rsa_sign;
        return n;
    }
    out[n++] = CKM_RSA_PKCS_OAEP;
    /* Until seal: the signature over its own certificate/CSR. A sign-only
     * mechanism where the token has one, so that a token which keeps the
     * list as generated (SoftHSM) never allows PKCS#1 v1.5 decryption. */
    if (usage == HB_USAGE_RECIPIENT_UNSEALED)
        out[n++] = rsa_sign;
    return n;
}

void hb_allowed_narrow(const hb_token_session *ts, CK_OBJECT_HANDLE o)
{
    /* Refused as read-only (SoftHSM) or unknown (openCryptoki): the read
     * back of hb_token_key_mechanisms says what the key was left with. */
    CK_MECHANISM_TYPE oaep = CKM_RSA_PKCS_OAEP;
    CK_ATTRIBUTE a = {CKA_ALLOWED_MECHANISMS, &oaep, sizeof oaep};
    (void)ts->f->C_SetAttributeValue(ts->s, o, &a, 1);
}

static const struct {
    CK_MECHANISM_TYPE m;
    const char *name;
} names[] = {
    {CKM_RSA_PKCS_OAEP, "rsa-oaep"},        {CKM_SHA256_RSA_PKCS, "sha256-rsa-pkcs"},
    {CKM_RSA_PKCS, "rsa-pkcs"},             {CKM_RSA_X_509, "rsa-x509"},
    {CKM_ECDSA, "ecdsa"},                   {CKM_ECDSA_SHA256, "ecdsa-sha256"},
    {CKM_RSA_PKCS_PSS, "rsa-pkcs-pss"},     {CKM_SHA256_RSA_PKCS_PSS, "sha256-rsa-pkcs-pss"},
};

static void append_name(char *out, size_t cap, CK_MECHANISM_TYPE m)
{
    char hex[24];
    const char *name = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].m == m)
            name = names[i].name;
    if (name == NULL) {
        int k = snprintf(hex, sizeof hex, "0x%lx", (unsigned long)m);
        name = k > 0 && (size_t)k < sizeof hex ? hex : "?";
    }
    size_t used = strlen(out);
    int k = snprintf(out + used, cap - used, "%s%s", used > 0 ? "," : "", name);
    if (k < 0 || (size_t)k >= cap - used)
        out[used] = '\0'; /* a list cut short shows fewer names, never a cut one */
}

/* Whether the token lets the key do op with mechanism m: in a session of
 * its own, so that an operation a token leaves active after a failure
 * (tpm2-pkcs11) cannot answer for the next probe. in is below any modulus. */
static bool lets(const hb_token_session *ts, CK_OBJECT_HANDLE o, bool decrypt,
                 CK_MECHANISM_TYPE m)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_BYTE in[512], out[512];
    CK_ULONG outlen = sizeof out, modlen = 0;
    CK_MECHANISM mech = {m, NULL, 0};
    CK_ATTRIBUTE mod = {CKA_MODULUS, NULL, 0};
    if (ts->f->C_GetAttributeValue(ts->s, o, &mod, 1) != CKR_OK || mod.ulValueLen == 0 ||
        mod.ulValueLen > sizeof in)
        return true; /* cannot tell: counted as let through */
    modlen = mod.ulValueLen;
    memset(in, 0x01, sizeof in);
    in[0] = 0x00;
    if (ts->f->C_OpenSession(ts->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return true;
    CK_RV rv = decrypt ? ts->f->C_DecryptInit(s, &mech, o) : ts->f->C_SignInit(s, &mech, o);
    /* tpm2-pkcs11 checks a raw signature's mechanism at C_Sign, not at init. */
    if (rv == CKR_OK)
        rv = decrypt ? ts->f->C_Decrypt(s, in, modlen, out, &outlen)
                     : ts->f->C_Sign(s, in, modlen, out, &outlen);
    (void)ts->f->C_CloseSession(s);
    /* A refused mechanism or key function; a v1.5 decryption that got as
     * far as checking the padding was let through (that is the oracle). */
    return !(rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ||
             rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_MECHANISM_PARAM_INVALID);
}

hb_status hb_allowed_read(const hb_token_session *ts, CK_OBJECT_HANDLE o,
                          hb_key_mechanisms *out, hb_err *err)
{
    CK_MECHANISM_TYPE list[32];
    CK_ATTRIBUTE a = {CKA_ALLOWED_MECHANISMS, list, sizeof list};
    CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
    CK_BBOOL decrypt = CK_FALSE;
    CK_ATTRIBUTE k[] = {{CKA_KEY_TYPE, &kt, sizeof kt}};
    CK_ATTRIBUTE d[] = {{CKA_DECRYPT, &decrypt, sizeof decrypt}};
    memset(out, 0, sizeof *out);
    if (ts->f->C_GetAttributeValue(ts->s, o, k, 1) != CKR_OK)
        return hb_fail(err, HB_E_TOKEN, "%s does not say what type the key is", ts->what);
    (void)ts->f->C_GetAttributeValue(ts->s, o, d, 1);
    CK_RV rv = ts->f->C_GetAttributeValue(ts->s, o, &a, 1);
    CK_ULONG n = rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION
                     ? a.ulValueLen / sizeof list[0] : 0;
    if (n == 0) {
        out->limit = HB_MECH_UNLIMITED; /* absent or empty: no limit (§4.6) */
        return HB_OK;
    }
    bool rsa = kt == CKK_RSA, wider = false;
    for (CK_ULONG i = 0; i < n; i++) {
        append_name(out->allowed, sizeof out->allowed, list[i]);
        /* What a sealed recipient or a signer may keep: OAEP and sign-only
         * mechanisms (a sealed key has CKA_SIGN FALSE). */
        wider |= list[i] == CKM_RSA_X_509 || (decrypt && list[i] == CKM_RSA_PKCS) ||
                 (!decrypt && list[i] == CKM_RSA_PKCS_OAEP);
    }
    bool through = rsa && (lets(ts, o, false, CKM_RSA_X_509) ||
                           (decrypt && (lets(ts, o, true, CKM_RSA_X_509) ||
                                        lets(ts, o, true, CKM_RSA_PKCS))));
    out->limit = wider || through ? HB_MECH_NOT_ENFORCED : HB_MECH_LIMITED;
    return HB_OK;
}

const char *hb_mech_limit_name(hb_mech_limit l)
{
    switch (l) {
    case HB_MECH_LIMITED: return "limited";
    case HB_MECH_UNLIMITED: return "unlimited";
    case HB_MECH_NOT_ENFORCED: return "not-enforced";
    }
    return "unknown";
}
