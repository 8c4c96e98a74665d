/* Keys and certificates by PKCS#11 URI through OSSL_STORE, in the library
 * context, with the PIN handed to pkcs11-provider through the store's
 * passphrase callback (a UI_METHOD wrapping a PEM-style callback). */
#include "provider/provider_internal.h"

#include "common/fail.h"
#include "common/x509.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the passphrase callback did, so a failed load can say why. */
typedef struct pin_request {
    const hb_provider *p;
    const char *pin_source; /* the URI's, or NULL */
    const char *what;       /* the URI without PIN attributes */
    bool asked;             /* the provider wanted a PIN */
    bool failed;            /* ... and we could not give one */
    bool have_pin;          /* pin holds the PIN, resolved up front */
    bool typed;             /* ... typed just now (remember it once accepted) */
    char token_key[HB_PIN_TOKEN_KEY_MAX]; /* the token's, or "" */
    char pin[HB_PIN_MAX];
    size_t pinlen;
    hb_err err;
} pin_request;

static int pin_callback(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    pin_request *req = u;
    char pin[HB_PIN_MAX];
    size_t len = 0;
    int ret = -1;
    if (req == NULL || buf == NULL || size <= 0)
        goto cleanup;
    req->asked = true;
    if (req->have_pin) {
        memcpy(pin, req->pin, req->pinlen + 1);
        len = req->pinlen;
    } else if (hb_pin_resolve(req->p, req->pin_source, req->token_key, req->what, pin, &len,
                              &req->typed, &req->err) != HB_OK) {
        req->failed = true;
        goto cleanup;
    } else {
        /* Asked again within this load: the same answer, not a second prompt. */
        memcpy(req->pin, pin, len + 1);
        req->pinlen = len;
        req->have_pin = true;
    }
    if (len >= (size_t)size) {
        req->failed = true;
        (void)hb_fail(&req->err, HB_E_AUTH, "the PIN for %s is too long for the provider",
                      req->what);
        goto cleanup;
    }
    memcpy(buf, pin, len);
    ret = (int)len;
cleanup:
    OPENSSL_cleanse(pin, sizeof pin);
    return ret;
}

/* After a failed load for which the provider asked for a PIN: did the login
 * work? pkcs11-provider 1.0 leaves nothing on the error queue when C_Login
 * fails, and trying the PIN again ourselves would spend one of the token's
 * tries. Login state is per token and process (PKCS#11 v2.40 §5.6), and a
 * successful login keeps the provider's session open, so a fresh session
 * tells: logged in means the object is missing; not logged in means the
 * PIN was refused, and the token flags say whether it is now locked. */
typedef enum { LOGIN_UNKNOWN, LOGIN_OK, LOGIN_REFUSED, LOGIN_LOCKED } login_state;

static login_state login_outcome(const hb_provider *p, const char *uri)
{
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    CK_SESSION_INFO si;
    CK_TOKEN_INFO info;
    login_state ls = LOGIN_UNKNOWN;
    if (hb_token_session_open(p, uri, false, false, &ts, NULL) != HB_OK)
        return LOGIN_UNKNOWN;
    if (ts.f->C_GetSessionInfo(ts.s, &si) == CKR_OK) {
        if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
            ls = LOGIN_OK;
        else if (ts.f->C_GetTokenInfo(ts.slot, &info) == CKR_OK &&
                 (info.flags & CKF_USER_PIN_LOCKED) != 0)
            ls = LOGIN_LOCKED;
        else
            ls = LOGIN_REFUSED;
    }
    hb_token_session_close(&ts);
    return ls;
}

/* The token a URI selects, as the PIN cache names it ("" when the URI does
 * not select exactly one token: then the PIN is simply asked for). */
static void store_token_key(const hb_provider *p, const char *uri,
                            char key[HB_PIN_TOKEN_KEY_MAX])
{
    CK_FUNCTION_LIST *f = NULL;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO info;
    key[0] = '\0';
    if (hb_module_get(p, &f, NULL) == HB_OK && hb_token_find(f, uri, &slot, &info, NULL) == HB_OK)
        hb_pin_token_key(&info, key);
}

static const char *type_word(int type)
{
    switch (type) {
    case OSSL_STORE_INFO_PKEY: return "private key";
    case OSSL_STORE_INFO_PUBKEY: return "public key";
    case OSSL_STORE_INFO_CERT: return "certificate";
    default: return "object";
    }
}

/* Why a load found nothing: the token is missing, or only the object. */
static hb_status explain_not_found(const hb_provider *p, const char *uri, int type, hb_err *err)
{
    CK_FUNCTION_LIST *f = NULL;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO info;
    hb_err sub = {0};
    char shown[HB_MSG_MAX / 4];
    hb_uri_shown(uri, shown, sizeof shown);
    if (hb_module_get(p, &f, &sub) == HB_OK &&
        hb_token_find(f, uri, &slot, &info, &sub) != HB_OK && sub.status == HB_E_NOT_FOUND) {
        char why[HB_MSG_MAX / 2];
        if (hb_token_store_unreadable(p->module, why, sizeof why))
            return hb_fail(err, HB_E_NOT_FOUND, "no token matches '%s' (module %s): %s", shown,
                           p->module, why);
        return hb_fail(err, HB_E_NOT_FOUND, "no token matches '%s' (module %s); check the "
                       "token label or serial with 'hsmbak token list'", shown, p->module);
    }
    return hb_fail(err, HB_E_NOT_FOUND, "no %s matches '%s' on the token; check the object "
                   "label and type with 'hsmbak token list'", type_word(type), shown);
}

static hb_status store_load(hb_provider *p, const char *uri, int type, OSSL_STORE_INFO **out,
                            hb_err *err)
{
    hb_status st = HB_OK;
    char *stripped = NULL, *pin_source = NULL;
    UI_METHOD *ui = NULL;
    OSSL_STORE_CTX *store = NULL;
    OSSL_STORE_INFO *found = NULL, *info = NULL;
    pin_request req = {0};

    HB_ENSURE(p != NULL && out != NULL, HB_E_USAGE, "loading a key: no provider or output");
    HB_TRY(hb_uri_strip_pin(uri, &stripped, &pin_source, err));
    char shown[HB_MSG_MAX / 4];
    hb_uri_shown(stripped, shown, sizeof shown);
    req.p = p;
    req.pin_source = pin_source;
    req.what = shown;
    /* A private key always needs a login: get the PIN before the provider
     * asks. If our callback fails, pkcs11-provider 1.0 falls back to its
     * own prompt through OpenSSL's default UI (on /dev/tty or stderr),
     * which must not happen: a missing PIN is one clear error instead. */
    store_token_key(p, stripped, req.token_key);
    if (type == OSSL_STORE_INFO_PKEY) {
        HB_TRY(hb_pin_resolve(p, pin_source, req.token_key, shown, req.pin, &req.pinlen,
                              &req.typed, err));
        req.have_pin = true;
    }
    ui = UI_UTIL_wrap_read_pem_callback(pin_callback, 0);
    if (ui == NULL) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    ERR_clear_error();
    store = OSSL_STORE_open_ex(stripped, p->libctx, NULL, ui, &req, NULL, NULL, NULL);
    if (store == NULL) {
        st = hb_fail_ossl(err, HB_E_NOT_FOUND, "cannot open '%s'", shown);
        goto cleanup;
    }
    if (OSSL_STORE_expect(store, type) != 1) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "cannot search '%s'", shown);
        goto cleanup;
    }
    while (!OSSL_STORE_eof(store)) {
        info = OSSL_STORE_load(store);
        if (info == NULL) {
            if (OSSL_STORE_error(store))
                break;
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) != type) {
            OSSL_STORE_INFO_free(info);
            info = NULL;
            continue;
        }
        if (found != NULL) {
            st = hb_fail(err, HB_E_USAGE,
                         "'%s' matches more than one %s; add object=, id= or type= to the URI",
                         shown, type_word(type));
            goto cleanup;
        }
        found = info;
        info = NULL;
    }
    if (found == NULL) {
        login_state login = LOGIN_UNKNOWN;
        if (req.failed) {
            st = hb_fail(err, req.err.status, "%s", req.err.msg);
        } else if (req.asked && (login = login_outcome(p, stripped)) == LOGIN_LOCKED) {
            st = hb_fail(err, HB_E_AUTH,
                         "the user PIN of the token of '%s' is locked; the security officer "
                         "must unlock it", shown);
        } else if (req.asked && login == LOGIN_REFUSED) {
            hb_pin_cache_forget(req.token_key);
            st = hb_fail(err, HB_E_AUTH,
                         "login to the token of '%s' failed: wrong PIN (check the PIN source)",
                         shown);
        } else {
            ERR_clear_error();
            st = explain_not_found(p, stripped, type, err);
        }
        goto cleanup;
    }
    /* Found after the provider asked: the login took this PIN. */
    if (req.asked && req.typed)
        hb_pin_cache_put(req.token_key, req.pin, req.pinlen);
    *out = found;
    found = NULL;
cleanup:
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_INFO_free(found);
    OSSL_STORE_close(store);
    UI_destroy_method(ui);
    OPENSSL_cleanse(&req, sizeof req);
    free(stripped);
    free(pin_source);
    ERR_clear_error();
    return st;
}

/* The one object of `type` at uri, with a reference of its own: an
 * EVP_PKEY for keys, an X509 for certificates. */
static hb_status store_load_one(hb_provider *p, const char *uri, int type, void **out,
                                hb_err *err)
{
    OSSL_STORE_INFO *info = NULL;
    hb_status st = store_load(p, uri, type, &info, err);
    if (st == HB_OK) {
        void *obj = type == OSSL_STORE_INFO_PKEY     ? (void *)OSSL_STORE_INFO_get1_PKEY(info)
                    : type == OSSL_STORE_INFO_PUBKEY ? (void *)OSSL_STORE_INFO_get1_PUBKEY(info)
                                                     : (void *)OSSL_STORE_INFO_get1_CERT(info);
        if (obj == NULL)
            st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory loading '%s'", uri);
        else
            *out = obj;
    }
    OSSL_STORE_INFO_free(info);
    return st;
}

static hb_status load_key(hb_provider *p, const char *uri, int type, EVP_PKEY **out,
                          hb_err *err)
{
    void *key = NULL;
    hb_status st = store_load_one(p, uri, type, &key, err);
    if (st == HB_OK)
        *out = key;
    return st;
}

hb_status hb_provider_load_private_key(hb_provider *p, const char *uri, EVP_PKEY **out,
                                       hb_err *err)
{
    return load_key(p, uri, OSSL_STORE_INFO_PKEY, out, err);
}

hb_status hb_provider_load_public_key(hb_provider *p, const char *uri, EVP_PKEY **out,
                                      hb_err *err)
{
    return load_key(p, uri, OSSL_STORE_INFO_PUBKEY, out, err);
}

hb_status hb_provider_load_certificate(hb_provider *p, const char *uri_or_path, X509 **out,
                                       hb_err *err)
{
    if (p == NULL || uri_or_path == NULL || out == NULL)
        return hb_fail(err, HB_E_USAGE, "loading a certificate: missing argument");
    if (strncmp(uri_or_path, "pkcs11:", 7) != 0)
        return hb_x509_read_file(p->libctx, uri_or_path, out, err);
    void *cert = NULL;
    hb_status st = store_load_one(p, uri_or_path, OSSL_STORE_INFO_CERT, &cert, err);
    if (st == HB_OK)
        *out = cert;
    return st;
}
