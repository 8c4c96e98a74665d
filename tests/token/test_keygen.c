/* provider/keygen.c, certimport.c, list.c, module.c: key pairs on a real
 * SoftHSM token, read back through PKCS#11 and used through the provider. */
#include "token_helpers.h"

#include "provider/token.h"

#include <stdlib.h>
#include <string.h>

static hb_provider *prov;

static void assert_never_leaves(const hb_key_attrs *a)
{
    CU_ASSERT_TRUE(a->sensitive);
    CU_ASSERT_TRUE(a->always_sensitive);
    CU_ASSERT_TRUE(a->never_extractable);
    CU_ASSERT_FALSE(a->extractable);
    CU_ASSERT_TRUE(a->is_private);
    CU_ASSERT_TRUE(a->token);
}

static void test_recipient_rsa_attrs(void)
{
    char *priv = NULL, *pub = NULL;
    hb_err err = {0};
    th_keygen(prov, 0, "recipient-2048", HB_KEY_RSA2048, HB_USAGE_RECIPIENT, &priv, &pub);
    CU_ASSERT_STRING_EQUAL(priv, "pkcs11:token=hsmbak-test;object=recipient-2048;type=private");
    CU_ASSERT_STRING_EQUAL(pub, "pkcs11:token=hsmbak-test;object=recipient-2048;type=public");
    hb_key_attrs a;
    HBTEST_ASSERT_OK(hb_token_key_attrs(prov, priv, &a, &err), &err);
    assert_never_leaves(&a);
    CU_ASSERT_TRUE(a.decrypt);
    CU_ASSERT_TRUE(a.unwrap);
    CU_ASSERT_FALSE(a.sign);
    free(priv);
    free(pub);
}

static void test_signer_keys_attrs(void)
{
    static const struct {
        const char *label;
        hb_key_type type;
    } kinds[] = {
        {"signer-rsa3072", HB_KEY_RSA3072},
        {"signer-p256", HB_KEY_EC_P256},
        {"signer-p384", HB_KEY_EC_P384},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char *priv = NULL, *pub = NULL;
        hb_err err = {0};
        th_keygen(prov, 0, kinds[i].label, kinds[i].type, HB_USAGE_SIGNER, &priv, &pub);
        hb_key_attrs a;
        HBTEST_ASSERT_OK(hb_token_key_attrs(prov, priv, &a, &err), &err);
        assert_never_leaves(&a);
        CU_ASSERT_TRUE(a.sign);
        CU_ASSERT_FALSE(a.decrypt);
        CU_ASSERT_FALSE(a.unwrap);
        free(priv);
        free(pub);
    }
}

static void test_rsa4096(void)
{
    char *priv = NULL, *pub = NULL;
    hb_err err = {0};
    th_keygen(prov, 1, "recipient-4096", HB_KEY_RSA4096, HB_USAGE_RECIPIENT, &priv, &pub);
    EVP_PKEY *k = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_public_key(prov, pub, &k, &err), &err);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 4096);
    EVP_PKEY_free(k);
    free(priv);
    free(pub);
}

static void test_refusals(void)
{
    char *priv = NULL, *pub = NULL;
    hb_err err = {0};
    /* EC keys cannot open backups (RSA-OAEP). */
    HBTEST_ASSERT_FAIL(hb_token_keygen(prov, th_token_uri(0), "ec-recipient", HB_KEY_EC_P256,
                                       HB_USAGE_RECIPIENT, &priv, &pub, &err), HB_E_USAGE, &err,
                       "must be RSA");
    /* A taken label. */
    HBTEST_ASSERT_FAIL(hb_token_keygen(prov, th_token_uri(0), "recipient-2048", HB_KEY_RSA2048,
                                       HB_USAGE_RECIPIENT, &priv, &pub, &err), HB_E_REFUSED, &err,
                       "already holds an object labelled 'recipient-2048'");
    /* A token that is not there. */
    HBTEST_ASSERT_FAIL(hb_token_keygen(prov, "pkcs11:token=no-such-token", "x", HB_KEY_RSA2048,
                                       HB_USAGE_SIGNER, &priv, &pub, &err), HB_E_NOT_FOUND, &err,
                       "pkcs11:token=no-such-token");
    /* Several tokens match an empty selection: never a guess. */
    HBTEST_ASSERT_FAIL(hb_token_keygen(prov, "pkcs11:", "x", HB_KEY_RSA2048, HB_USAGE_SIGNER, &priv,
                                       &pub, &err), HB_E_USAGE, &err, "matches 3 tokens");
    /* Never by slot number. */
    HBTEST_ASSERT_FAIL(hb_token_keygen(prov, "pkcs11:slot-id=0", "x", HB_KEY_RSA2048,
                                       HB_USAGE_SIGNER, &priv, &pub, &err), HB_E_USAGE, &err,
                       "use token=LABEL or serial=SERIAL");
    CU_ASSERT_PTR_NULL(priv);
    CU_ASSERT_PTR_NULL(pub);
    hb_key_type t;
    hb_key_usage u;
    HBTEST_ASSERT_OK(hb_key_type_from_name("ec:p384", &t, &err), &err);
    CU_ASSERT_EQUAL(t, HB_KEY_EC_P384);
    HBTEST_ASSERT_STATUS(hb_key_type_from_name("rsa:1024", &t, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_key_usage_from_name("signer", &u, &err), &err);
    CU_ASSERT_EQUAL(u, HB_USAGE_SIGNER);
    HBTEST_ASSERT_STATUS(hb_key_usage_from_name("both", &u, &err), HB_E_USAGE, &err);
}

/* The usage split is enforced by the token, not by hsmbak. */
static void test_usage_enforced_by_token(void)
{
    hb_err err = {0};
    EVP_PKEY *recipient = NULL, *signer = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(
                         prov, "pkcs11:token=hsmbak-test;object=recipient-2048;type=private",
                         &recipient, &err),
                     &err);
    uint8_t *sig = NULL;
    size_t siglen = 0;
    const uint8_t msg[] = "manifest";
    HBTEST_ASSERT_FAIL(hb_provider_sign_sha256(prov, recipient, msg, sizeof msg, &sig, &siglen,
                                               &err), HB_E_TOKEN, &err, "refused to sign");
    CU_ASSERT_PTR_NULL(sig);

    char *priv = NULL, *pub = NULL;
    th_keygen(prov, 0, "signer-rsa2048", HB_KEY_RSA2048, HB_USAGE_SIGNER, &priv, &pub);
    HBTEST_ASSERT_OK(hb_provider_load_private_key(prov, priv, &signer, &err), &err);
    uint8_t in[256] = {1, 2, 3};
    uint8_t out[256];
    size_t outlen = 0;
    HBTEST_ASSERT_FAIL(hb_provider_decrypt_oaep(prov, signer, HB_OAEP_SHA1, in, sizeof in, out,
                                                &outlen, &err), HB_E_TOKEN, &err,
                       "refused RSA-OAEP decryption");
    EVP_PKEY_free(recipient);
    EVP_PKEY_free(signer);
    free(priv);
    free(pub);
}

static const hb_object_info *find_obj(const hb_token_info *t, const char *cls, const char *label)
{
    for (size_t i = 0; i < t->n_objects; i++)
        if (strcmp(t->objects[i].class_name, cls) == 0 &&
            strcmp(t->objects[i].label, label) == 0)
            return &t->objects[i];
    return NULL;
}

/* Keygen through PKCS#11, then a certificate signed by the new key through
 * the provider, stored on the token with the key's label and id, read back
 * through OSSL_STORE. */
static void test_certificate_import_and_list(void)
{
    hb_err err = {0};
    char *priv = NULL, *pub = NULL;
    th_keygen(prov, 0, "signer-cert", HB_KEY_EC_P256, HB_USAGE_SIGNER, &priv, &pub);
    EVP_PKEY *k = NULL, *pk = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(prov, priv, &k, &err), &err);
    HBTEST_ASSERT_OK(hb_provider_load_public_key(prov, pub, &pk, &err), &err);
    X509 *cert = th_make_cert(hb_provider_libctx(prov), pk, k, "hsmbak signer", 0, 365);
    HBTEST_ASSERT_OK(hb_token_import_certificate(prov, th_token_uri(0), "signer-cert", cert,
                                                 &err),
                     &err);
    HBTEST_ASSERT_STATUS(hb_token_import_certificate(prov, th_token_uri(0), "signer-cert",
                                                     cert, &err),
                         HB_E_REFUSED, &err);
    HBTEST_ASSERT_STATUS(hb_token_import_certificate(prov, th_token_uri(0), "no-such-key",
                                                     cert, &err),
                         HB_E_NOT_FOUND, &err);
    X509 *back = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_certificate(
                         prov, "pkcs11:token=hsmbak-test;object=signer-cert;type=cert", &back,
                         &err),
                     &err);
    CU_ASSERT_EQUAL(X509_cmp(cert, back), 0);

    hb_token_info *tokens = NULL;
    size_t n = 0;
    HBTEST_ASSERT_OK(hb_token_list(prov, th_token_uri(0), true, &tokens, &n, &err), &err);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(tokens[0].label, "hsmbak-test");
    CU_ASSERT_PTR_NOT_NULL(strstr(tokens[0].mechanisms, "rsa-oaep"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tokens[0].mechanisms, "ecdsa"));
    const hb_object_info *opriv = find_obj(&tokens[0], "private-key", "signer-cert");
    const hb_object_info *opub = find_obj(&tokens[0], "public-key", "signer-cert");
    const hb_object_info *ocert = find_obj(&tokens[0], "certificate", "signer-cert");
    CU_ASSERT_PTR_NOT_NULL_FATAL(opriv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(opub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ocert);
    if (opriv == NULL || opub == NULL || ocert == NULL)
        return;
    /* Same random 16-byte CKA_ID on all three. */
    CU_ASSERT_EQUAL(strlen(opriv->id_hex), 32);
    CU_ASSERT_STRING_EQUAL(opriv->id_hex, opub->id_hex);
    CU_ASSERT_STRING_EQUAL(opriv->id_hex, ocert->id_hex);
    CU_ASSERT_STRING_EQUAL(opriv->key_type, "ec");
    CU_ASSERT_EQUAL(opriv->bits, 256);
    CU_ASSERT_STRING_EQUAL(opriv->uri, "pkcs11:token=hsmbak-test;object=signer-cert;type=private");
    const hb_object_info *r = find_obj(&tokens[0], "private-key", "recipient-2048");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->bits, 2048);
    CU_ASSERT_TRUE(r->attrs.never_extractable);

    /* By serial, and all tokens. */
    char by_serial[64];
    snprintf(by_serial, sizeof by_serial, "pkcs11:serial=%s", tokens[0].serial);
    hb_token_list_free(tokens, n);
    tokens = NULL;
    HBTEST_ASSERT_OK(hb_token_list(prov, by_serial, false, &tokens, &n, &err), &err);
    CU_ASSERT_EQUAL(n, 1);
    /* Without asking for a login the public objects show (private ones too
     * here: the token is already logged in within this process). */
    CU_ASSERT_PTR_NOT_NULL(find_obj(&tokens[0], "certificate", "signer-cert"));
    hb_token_list_free(tokens, n);
    tokens = NULL;
    HBTEST_ASSERT_OK(hb_token_list(prov, NULL, false, &tokens, &n, &err), &err);
    CU_ASSERT(n >= 3);
    hb_token_list_free(tokens, n);
    HBTEST_ASSERT_STATUS(hb_token_list(prov, "pkcs11:token=nope", false, &tokens, &n, &err),
                         HB_E_NOT_FOUND, &err);
    X509_free(cert);
    X509_free(back);
    EVP_PKEY_free(k);
    EVP_PKEY_free(pk);
    free(priv);
    free(pub);
}

static void test_key_attrs_not_found(void)
{
    hb_err err = {0};
    hb_key_attrs a;
    HBTEST_ASSERT_FAIL(hb_token_key_attrs(prov, "pkcs11:token=hsmbak-test;object=nope;type=private",
                                          &a, &err), HB_E_NOT_FOUND, &err, "object=nope");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"recipient RSA-2048: sensitive, never extractable, decrypt+unwrap only",
         test_recipient_rsa_attrs},
        {"signer RSA-3072 / P-256 / P-384: sign only", test_signer_keys_attrs},
        {"RSA-4096 recipient on the second token", test_rsa4096},
        {"EC recipient, taken label, missing and ambiguous token refused", test_refusals},
        {"recipient cannot sign, signer cannot decrypt", test_usage_enforced_by_token},
        {"certificate import, same CKA_ID, listing", test_certificate_import_and_list},
        {"key attributes of a missing key", test_key_attrs_not_found},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"keygen", cases, .prov = &prov});
}
