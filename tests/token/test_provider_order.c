/* provider/module.c and context.c: pkcs11-provider first, token
 * administration second, in one process (test_keygen.c covers the other
 * order). The first thing this process does with the module is a login
 * through pkcs11-provider; then p11-kit loads the same module for keygen
 * (CKR_CRYPTOKI_ALREADY_INITIALIZED underneath), then the new key signs a
 * certificate through the provider, and the process exits without a crash
 * in C_Finalize/C_CloseSession. */
#include "token_helpers.h"

#include <stdlib.h>
#include <string.h>

static void provider_then_admin(const char *module, int token, const char *label)
{
    hb_err err = {0};
    hb_provider *p = th_open(module);
    /* 1. The provider initialises the module and logs in. */
    char uri[200];
    snprintf(uri, sizeof uri, "%s;object=%s;type=private", th_token_uri(token), label);
    EVP_PKEY *k = NULL;
    HBTEST_ASSERT_STATUS(hb_provider_load_private_key(p, uri, &k, &err), HB_E_NOT_FOUND, &err);
    /* 2. Administration through p11-kit on the same module. */
    char *priv = NULL, *pub = NULL;
    th_keygen(p, token, label, HB_KEY_RSA2048, HB_USAGE_SIGNER, &priv, &pub);
    CU_ASSERT_STRING_EQUAL(priv, uri);
    /* 3. Back to the provider: the new key signs its own certificate. */
    EVP_PKEY *pk = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(p, priv, &k, &err), &err);
    HBTEST_ASSERT_OK(hb_provider_load_public_key(p, pub, &pk, &err), &err);
    X509 *cert = th_make_cert(hb_provider_libctx(p), pk, k, label, 0, 30);
    CU_ASSERT_EQUAL(X509_verify(cert, X509_get0_pubkey(cert)), 1);
    HBTEST_ASSERT_OK(hb_token_import_certificate(p, th_token_uri(token), label, cert, &err),
                     &err);
    /* 4. A second provider in the same process sees it all. */
    hb_provider *q = th_open(module);
    X509 *back = NULL;
    snprintf(uri, sizeof uri, "%s;object=%s;type=cert", th_token_uri(token), label);
    HBTEST_ASSERT_OK(hb_provider_load_certificate(q, uri, &back, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(cert, back), 0);
    X509_free(back);
    hb_provider_free(q);
    X509_free(cert);
    EVP_PKEY_free(k);
    EVP_PKEY_free(pk);
    free(priv);
    free(pub);
    hb_provider_free(p);
}

static void test_direct_module_first(void)
{
    provider_then_admin(TH_SOFTHSM_MODULE, 1, "order-direct");
}

static void test_proxy_after(void)
{
    provider_then_admin(NULL, 2, "order-proxy");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"SoftHSM module: provider first, then keygen, then sign via provider",
         test_direct_module_first},
        {"p11-kit proxy: the same, after the direct module", test_proxy_after},
        {NULL, NULL},
    };
    return hbtest_main("provider order", cases);
}
