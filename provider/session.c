/* Sessions on a token for administration (PKCS#11 v2.40 §5.6): the one
 * preamble every admin operation starts with — strip the PIN attributes from
 * the URI, load the module, find the one token the URI selects, open a
 * session, log in — and the login itself.
 *
 * Login state is per token and process, shared with pkcs11-provider's own
 * sessions: a session is closed with C_CloseSession and never C_Logout,
 * which would log out the provider's sessions too. */
#include "provider/provider_internal.h"

#include "common/buf.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* C_Login's answers in words a custodian can act on. */
static hb_status login_failed(CK_RV rv, const char *what, hb_err *err)
{
    if (rv == CKR_PIN_INCORRECT)
        return hb_fail(err, HB_E_AUTH, "wrong PIN for %s (CKR_PIN_INCORRECT)", what);
    if (rv == CKR_PIN_LOCKED)
        return hb_fail(err, HB_E_AUTH,
                       "the user PIN of %s is locked (CKR_PIN_LOCKED); the security officer "
                       "must unlock it", what);
    return hb_fail(err, HB_E_AUTH, "login to %s failed: %s (0x%lx)", what, hb_ckr_name(rv),
                   (unsigned long)rv);
}

hb_status hb_session_open(const hb_provider *p, CK_FUNCTION_LIST *f, CK_SLOT_ID slot,
                          const char *what, const char *uri_pin_source, bool rw, bool login,
                          CK_SESSION_HANDLE *out, hb_err *err)
{
    hb_status st = HB_OK;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    char pin[HB_PIN_MAX];
    size_t pinlen = 0;
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = f->C_OpenSession(slot, flags, NULL, NULL, &s);
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "cannot open a session on %s: %s", what,
              hb_ckr_name(rv));
    if (login) {
        CK_SESSION_INFO si;
        rv = f->C_GetSessionInfo(s, &si);
        bool logged_in = rv == CKR_OK && (si.state == CKS_RO_USER_FUNCTIONS ||
                                          si.state == CKS_RW_USER_FUNCTIONS);
        if (!logged_in) {
            char token_key[HB_PIN_TOKEN_KEY_MAX] = "";
            CK_TOKEN_INFO info;
            bool typed = false;
            if (f->C_GetTokenInfo(slot, &info) == CKR_OK)
                hb_pin_token_key(&info, token_key);
            HB_TRY(hb_pin_resolve(p, uri_pin_source, token_key, what, pin, &pinlen, &typed,
                                  err));
            rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pinlen);
            if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
                hb_pin_cache_forget(token_key);
                st = login_failed(rv, what, err);
                goto cleanup;
            }
            /* Kept only when this login checked it (not when some other
             * session had already logged the token in). */
            if (typed && rv == CKR_OK)
                hb_pin_cache_put(token_key, pin, pinlen);
        }
    }
    *out = s;
    s = CK_INVALID_HANDLE;
cleanup:
    OPENSSL_cleanse(pin, sizeof pin);
    if (s != CK_INVALID_HANDLE)
        (void)f->C_CloseSession(s);
    return st;
}

hb_status hb_token_session_open(const hb_provider *p, const char *uri, bool rw, bool login,
                                hb_token_session *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    char *pin_source = NULL;
    CK_TOKEN_INFO info;
    HB_ENSURE(p != NULL && uri != NULL && out != NULL, HB_E_USAGE,
              "token session: missing argument");
    HB_TRY(hb_uri_strip_pin(uri, &ts.uri, &pin_source, err));
    HB_TRY(hb_module_get(p, &ts.f, err));
    HB_TRY(hb_token_find(ts.f, ts.uri, &ts.slot, &info, err));
    hb_p11_string(info.label, sizeof info.label, ts.label, sizeof ts.label);
    /* A label is at most 32 bytes: what always fits. */
    HB_TRY(hb_format(ts.what, sizeof ts.what, "a token name", err, "token '%s'", ts.label));
    HB_TRY(hb_session_open(p, ts.f, ts.slot, ts.what, pin_source, rw, login, &ts.s, err));
    *out = ts;
    ts.uri = NULL;
    ts.s = CK_INVALID_HANDLE;
cleanup:
    hb_token_session_close(&ts);
    free(pin_source);
    return st;
}

void hb_token_session_close(hb_token_session *ts)
{
    if (ts == NULL)
        return;
    if (ts->s != CK_INVALID_HANDLE && ts->f != NULL)
        (void)ts->f->C_CloseSession(ts->s);
    ts->s = CK_INVALID_HANDLE;
    free(ts->uri);
    ts->uri = NULL;
}
