/* The private OpenSSL library context: `default` + pkcs11-provider.
 *
 * OpenSSL 3.0 has no API to hand a provider its configuration parameters
 * (OSSL_PROVIDER_add_conf_parameter arrived in 3.2), and pkcs11-provider 1.0
 * reads its settings only from the provider's config section. So the same
 * settings as hsm-config/openssl.cnf are written into a memory BIO, parsed
 * with NCONF in this library context and applied with CONF_modules_load:
 * nothing is written to disk and the process-wide OpenSSL config is not
 * touched. */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HB_HAS_ASAN 1
#endif
#endif
#ifndef HB_HAS_ASAN
#define HB_HAS_ASAN 0
#endif

#define HB_PKCS11_PROVIDER_SO "/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so"

/* The module path goes into OpenSSL config syntax, where '$', '#', '"' and
 * '\\' mean something; accept only characters that need no quoting. */
static bool path_is_plain(const char *s)
{
    if (*s != '/')
        return false;
    for (; *s != '\0'; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == ',' ||
                  c == '@' || c == '=';
        if (!ok)
            return false;
    }
    return true;
}

static hb_status load_providers(OSSL_LIB_CTX *libctx, const char *module, hb_err *err)
{
    hb_status st = HB_OK;
    CONF *conf = NULL;
    BIO *bio = NULL;
    char text[2048];
    /* pkcs11-module-block-operations = digest: SoftHSM 2.6.1's C_Login
     * digests the PIN through OpenSSL, which would re-enter the provider.
     * pkcs11-module-quirks = no-deinit: SoftHSM 2.6.1 crashes in
     * C_CloseSession/C_Finalize when called from OpenSSL's exit handlers.
     * pkcs11-module-load-behavior = late: open stays cheap; the module is
     * loaded when a key is first used.
     * pkcs11-module-cache-keys = false: otherwise every loaded key is copied
     * into a session object, and loading the same URI again finds two
     * private keys (the token object and the copy). */
    int n = snprintf(text, sizeof text,
                     "openssl_conf = hb_init\n"
                     "[hb_init]\n"
                     "providers = hb_providers\n"
                     "[hb_providers]\n"
                     "default = hb_default\n"
                     "pkcs11 = hb_pkcs11\n"
                     "[hb_default]\n"
                     "activate = 1\n"
                     "[hb_pkcs11]\n"
                     "module = %s\n"
                     "pkcs11-module-path = %s\n"
                     "pkcs11-module-block-operations = digest\n"
                     "pkcs11-module-quirks = no-deinit\n"
                     "pkcs11-module-load-behavior = late\n"
                     "pkcs11-module-cache-keys = false\n"
                     "activate = 1\n",
                     HB_PKCS11_PROVIDER_SO, module);
    if (n < 0 || (size_t)n >= sizeof text) {
        st = hb_fail(err, HB_E_USAGE, "PKCS#11 module path '%s' is too long", module);
        goto cleanup;
    }
    conf = NCONF_new_ex(libctx, NULL);
    bio = BIO_new_mem_buf(text, n);
    if (conf == NULL || bio == NULL) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory setting up OpenSSL");
        goto cleanup;
    }
    long eline = 0;
    if (NCONF_load_bio(conf, bio, &eline) <= 0) {
        st = hb_fail_ossl(err, HB_E_INTERNAL,
                          "internal OpenSSL configuration rejected at line %ld", eline);
        goto cleanup;
    }
    if (CONF_modules_load(conf, NULL, 0) <= 0) {
        st = hb_fail_ossl(err, HB_E_INTERNAL,
                          "cannot load the OpenSSL providers (is pkcs11-provider installed "
                          "at %s?)",
                          HB_PKCS11_PROVIDER_SO);
        goto cleanup;
    }
    if (!OSSL_PROVIDER_available(libctx, "default") ||
        !OSSL_PROVIDER_available(libctx, "pkcs11")) {
        st = hb_fail_ossl(err, HB_E_INTERNAL,
                          "pkcs11-provider (%s) did not load; install the pkcs11-provider "
                          "package",
                          HB_PKCS11_PROVIDER_SO);
        goto cleanup;
    }
cleanup:
    BIO_free(bio);
    NCONF_free(conf);
    return st;
}

/* From here on a PIN and archive keys pass through this process's memory:
 * no core file may hold them (RLIMIT_CORE 0), and the process is not
 * dumpable, so other processes of the same user cannot ptrace it or read
 * its memory (proc(5), PR_SET_DUMPABLE). LeakSanitizer stops the world with
 * ptrace, so sanitizer builds keep the process dumpable. */
static void no_core_dumps(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
#if !defined(__SANITIZE_ADDRESS__) && !HB_HAS_ASAN
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

hb_status hb_provider_open(const hb_provider_config *cfg, hb_provider **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_provider *p = NULL;
    HB_ENSURE(out != NULL, HB_E_USAGE, "hb_provider_open: no output");
    no_core_dumps();
    /* Registers the built-in config modules ("providers" among them) once. */
    if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL)) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "cannot initialise OpenSSL");
        goto cleanup;
    }
    const char *module = cfg != NULL ? cfg->module : NULL;
    if (module == NULL || *module == '\0')
        module = getenv("HSMBAK_PKCS11_MODULE");
    if (module == NULL || *module == '\0')
        module = HB_DEFAULT_PKCS11_MODULE;
    if (!path_is_plain(module)) {
        st = hb_fail(err, HB_E_USAGE,
                     "PKCS#11 module path '%s' must be absolute and contain only letters, "
                     "digits and / . _ - + , @ =",
                     module);
        goto cleanup;
    }
    if (access(module, R_OK) != 0) {
        st = hb_fail(err, HB_E_NOT_FOUND,
                     "PKCS#11 module '%s' not found or not readable; give --module PATH "
                     "or set HSMBAK_PKCS11_MODULE",
                     module);
        goto cleanup;
    }
    const char *pin_source = cfg != NULL ? cfg->pin_source : NULL;
    if (pin_source != NULL && strncmp(pin_source, "file:", 5) != 0 &&
        strncmp(pin_source, "env:", 4) != 0) {
        st = hb_fail(err, HB_E_USAGE, "PIN source '%s' is neither file:PATH nor env:VAR",
                     pin_source);
        goto cleanup;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    p->module = strdup(module);
    p->pin_source = pin_source != NULL ? strdup(pin_source) : NULL;
    p->libctx = OSSL_LIB_CTX_new();
    if (p->module == NULL || (pin_source != NULL && p->pin_source == NULL) ||
        p->libctx == NULL) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(load_providers(p->libctx, p->module, err));
    *out = p;
    p = NULL;
cleanup:
    hb_provider_free(p);
    return st;
}

void hb_provider_free(hb_provider *p)
{
    if (p == NULL)
        return;
    /* Unloads pkcs11-provider; with no-deinit it leaves the module
     * initialised, which is what the admin side (module.c) relies on too. */
    ERR_set_mark();
    OSSL_LIB_CTX_free(p->libctx);
    /* ...and, having no module interface left, reports "Can't get module
     * interfaces" from C_CloseSession/C_Finalize: expected, not the
     * caller's problem. */
    ERR_pop_to_mark();
    free(p->module);
    free(p->pin_source);
    free(p);
}

OSSL_LIB_CTX *hb_provider_libctx(hb_provider *p)
{
    return p != NULL ? p->libctx : NULL;
}
