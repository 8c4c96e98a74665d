/* The PKCS#11 module for token administration, loaded by p11-kit.
 *
 * Coexistence with pkcs11-provider in one process: both end up calling the
 * same module (SoftHSM is one shared object with one global state, whether
 * reached directly, through the p11-kit proxy, or through p11-kit's managed
 * wrapper). PKCS#11 v2.40 §5.4 lets only one C_Initialize succeed; every
 * later one returns CKR_CRYPTOKI_ALREADY_INITIALIZED, which both sides treat
 * as success. Neither side ever calls C_Finalize (pkcs11-provider runs with
 * the no-deinit quirk), because a finalise from one side would pull the
 * module from under the other's sessions, and SoftHSM 2.6.1 crashes in
 * C_CloseSession/C_Finalize at exit. So the admin module is loaded and
 * initialised once per process and path, kept in a small table guarded by a
 * mutex, and left for process exit. */
#include "provider/provider_internal.h"

#include <openssl/crypto.h>
#include <p11-kit/p11-kit.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB_MAX_MODULES 8

static struct {
    char *path;
    CK_FUNCTION_LIST *funcs;
} modules[HB_MAX_MODULES];
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

const char *hb_ckr_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
    case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
    case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
    case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
    case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
    case CKR_DOMAIN_PARAMS_INVALID: return "CKR_DOMAIN_PARAMS_INVALID";
    case CKR_CURVE_NOT_SUPPORTED: return "CKR_CURVE_NOT_SUPPORTED";
    default: return "CKR_(other)";
    }
}

/* Is the library behind h libp11-kit itself (the proxy), rather than a
 * module that merely links against it? dlsym searches dependencies too, so
 * both symbols must come from the same object. */
static bool is_p11_kit(void *h)
{
    void *own = dlsym(h, "C_GetFunctionList");
    void *kit = dlsym(h, "p11_kit_modules_load");
    Dl_info a, b;
    if (own == NULL || kit == NULL || dladdr(own, &a) == 0 || dladdr(kit, &b) == 0)
        return false;
    return a.dli_fbase == b.dli_fbase;
}

/* Load and initialise the module at path into table slot `slot` (the
 * caller holds modules_lock). */
static hb_status module_load(const char *path, int slot, CK_FUNCTION_LIST **out, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    /* The p11-kit proxy is libp11-kit itself, and p11-kit refuses to load
     * it as a module ("refusing to load the p11-kit-proxy.so module as a
     * registered module"); its own C_GetFunctionList is the proxy, which
     * loads every registered module through p11-kit. Any other module is
     * loaded by p11-kit, managed. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h != NULL && is_p11_kit(h)) {
        CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
        if (get == NULL || get(&f) != CKR_OK)
            f = NULL;
        /* The handle stays open with the module for the process. */
        h = NULL;
    } else {
        f = p11_kit_module_load(path, 0);
    }
    if (h != NULL)
        dlclose(h);
    if (f == NULL) {
        const char *why = p11_kit_message();
        HB_FAIL(HB_E_TOKEN, "p11-kit cannot load PKCS#11 module '%s': %s", path,
                why != NULL ? why : "unknown error");
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        char why[HB_MSG_MAX / 2];
        if (hb_token_store_unreadable(path, why, sizeof why))
            HB_FAIL(HB_E_TOKEN, "PKCS#11 module '%s' failed to initialise (%s): %s", path,
                    hb_ckr_name(rv), why);
        HB_FAIL(HB_E_TOKEN, "PKCS#11 module '%s' failed to initialise: %s (0x%lx)", path,
                hb_ckr_name(rv), (unsigned long)rv);
    }
    modules[slot].path = strdup(path);
    HB_ALLOC(modules[slot].path);
    modules[slot].funcs = f;
    *out = f;
cleanup:
    return st;
}

/* The module at path from the table, loaded on first use (the caller holds
 * modules_lock). */
static hb_status module_find_or_load(const char *path, CK_FUNCTION_LIST **out, hb_err *err)
{
    int slot = -1;
    for (int i = 0; i < HB_MAX_MODULES; i++) {
        if (modules[i].path != NULL && strcmp(modules[i].path, path) == 0) {
            *out = modules[i].funcs;
            return HB_OK;
        }
        if (modules[i].path == NULL && slot < 0)
            slot = i;
    }
    if (slot < 0)
        return hb_fail(err, HB_E_USAGE, "too many different PKCS#11 modules in one process");
    return module_load(path, slot, out, err);
}

hb_status hb_module_get(const hb_provider *p, CK_FUNCTION_LIST **out, hb_err *err)
{
    if (p == NULL || out == NULL)
        return hb_fail(err, HB_E_USAGE, "token administration: no provider");
    hb_sanitizer_link();
    pthread_mutex_lock(&modules_lock);
    hb_status st = module_find_or_load(p->module, out, err);
    pthread_mutex_unlock(&modules_lock);
    return st;
}

hb_status hb_slot_list(CK_FUNCTION_LIST *f, const char *what, CK_SLOT_ID **slots, CK_ULONG *n,
                       hb_err *err)
{
    hb_status st = HB_OK;
    CK_SLOT_ID *list = NULL;
    CK_ULONG count = 0;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv == CKR_OK && count > 0) {
        HB_ALLOC(list = calloc(count, sizeof *list));
        rv = f->C_GetSlotList(CK_TRUE, list, &count);
    }
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "cannot list %s: %s", what, hb_ckr_name(rv));
    *slots = list;
    *n = count;
    list = NULL;
cleanup:
    free(list);
    return st;
}

hb_status hb_token_find(CK_FUNCTION_LIST *f, const char *token_uri, CK_SLOT_ID *slot,
                        CK_TOKEN_INFO *info, hb_err *err)
{
    hb_status st = HB_OK;
    P11KitUri *u = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_SLOT_ID hit = 0;
    CK_TOKEN_INFO hit_info;
    int hits = 0;
    char shown[HB_MSG_MAX / 4];
    hb_uri_shown(token_uri, shown, sizeof shown);
    HB_TRY(hb_uri_parse(token_uri, &u, err));
    HB_ENSURE(p11_kit_uri_get_slot_id(u) == (CK_SLOT_ID)-1, HB_E_USAGE,
              "'%s' selects a token by slot-id; slot numbers change (SoftHSM's are random): "
              "use token=LABEL or serial=SERIAL", shown);
    HB_TRY(hb_slot_list(f, "the PKCS#11 slots", &slots, &n, err));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        /* SoftHSM always offers one more, uninitialised token: not a choice. */
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
            (ti.flags & CKF_TOKEN_INITIALIZED) == 0)
            continue;
        if (p11_kit_uri_match_token_info(u, &ti)) {
            hits++;
            hit = slots[i];
            hit_info = ti;
        }
    }
    HB_ENSURE(hits > 0, HB_E_NOT_FOUND,
              "no token matches '%s'; check the label or serial with 'hsmbak token list'",
              shown);
    HB_ENSURE(hits == 1, HB_E_USAGE,
              "'%s' matches %d tokens; name one by token= label or serial=", shown, hits);
    *slot = hit;
    if (info != NULL)
        *info = hit_info;
cleanup:
    free(slots);
    if (u != NULL)
        p11_kit_uri_free(u);
    return st;
}

hb_status hb_object_find_one(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, const char *what, CK_OBJECT_HANDLE *out, hb_err *err)
{
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return hb_fail(err, HB_E_TOKEN, "cannot search the token for %s: %s", what,
                       hb_ckr_name(rv));
    rv = f->C_FindObjects(s, found, 2, &count);
    (void)f->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return hb_fail(err, HB_E_TOKEN, "cannot search the token for %s: %s", what,
                       hb_ckr_name(rv));
    if (count == 0)
        return hb_fail(err, HB_E_NOT_FOUND, "no object matches %s on the token", what);
    if (count > 1)
        return hb_fail(err, HB_E_USAGE, "%s matches more than one object; add id= or type=",
                       what);
    *out = found[0];
    return HB_OK;
}

hb_status hb_object_exists(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                           CK_ULONG n, const char *what, bool *exists, hb_err *err)
{
    CK_OBJECT_HANDLE found;
    CK_ULONG count = 0;
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, n);
    if (rv == CKR_OK) {
        rv = f->C_FindObjects(s, &found, 1, &count);
        (void)f->C_FindObjectsFinal(s);
    }
    if (rv != CKR_OK)
        return hb_fail(err, HB_E_TOKEN, "cannot search %s: %s", what, hb_ckr_name(rv));
    *exists = count > 0;
    return HB_OK;
}

hb_status hb_object_read_attrs(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                               hb_key_attrs *attrs, hb_err *err)
{
    (void)err;
    static const CK_ATTRIBUTE_TYPE types[] = {
        CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE,
        CKA_PRIVATE,   CKA_TOKEN,            CKA_DECRYPT,     CKA_UNWRAP,
        CKA_SIGN,
    };
    bool *dst[] = {
        &attrs->sensitive, &attrs->always_sensitive, &attrs->extractable,
        &attrs->never_extractable, &attrs->is_private, &attrs->token,
        &attrs->decrypt, &attrs->unwrap, &attrs->sign,
    };
    memset(attrs, 0, sizeof *attrs);
    /* One attribute at a time: a module answers CKR_ATTRIBUTE_TYPE_INVALID
     * for a whole template when one type does not apply (public objects). */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        CK_BBOOL v = CK_FALSE;
        CK_ATTRIBUTE a = {types[i], &v, sizeof v};
        if (f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK && a.ulValueLen == sizeof v)
            *dst[i] = v == CK_TRUE;
    }
    return HB_OK;
}
