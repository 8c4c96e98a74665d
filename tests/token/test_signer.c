/* backup/custody/signer.c: the backup signer on a SoftHSM token. Refused
 * when none is set or its key cannot be loaded; a manifest signed through
 * hb_signer_sign verifies, and names the signer's certificate. */
#include "token_helpers.h"

#include "hbfixture.h"

#include "backup/custody/signer.h"
#include "backup/format/manifest.h"
#include "hsmbak/keygen.h"
#include "hsmbak/manifest.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hbfix_appliance app;

/* An idcred `name` for a new key pair with a self-signed certificate. */
static void make_idcred(const char *name, hb_key_type type, hb_key_usage usage)
{
    hb_err err = {0};
    hb_keygen_result kr;
    hb_keygen_request kq = {.root = app.root, .token_uri = th_token_uri(0), .dn = {.cn = name},
                            .key_type = type, .usage = usage, .gen_sscert = true,
                            .file_name = name, .gen_object = true};
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &kq, &kr, &err), &err);
    hb_object_store *s = hbfix_objects(app.root);
    bool created;
    HBTEST_ASSERT_OK(hb_objects_set_idcred(s, name, name, name, &created, &err), &err);
    hbfix_objects_save(s);
}

/* Mark idcred `name` as the backup signer and open it. */
static hb_status open_signer(const char *name, hb_signer **out, hb_err *err)
{
    hb_object_store *s = NULL;
    HBTEST_ASSERT_OK(hb_objects_load(app.root, &s, err), err);
    if (name != NULL) {
        HBTEST_ASSERT_OK(hb_objects_set_backup_signer(s, name, err), err);
    }
    hb_status st = hb_signer_open(app.prov, s, "the test needs it", "test signer", out, err);
    hb_objects_free(s);
    return st;
}

static void test_no_signer(void)
{
    hb_err err = {0};
    hb_signer *sg = NULL;
    HBTEST_ASSERT_FAIL(open_signer(NULL, &sg, &err), HB_E_REFUSED, &err,
                       "no backup signer is set, and the test needs it");
    HBTEST_ASSERT_MSG(&err, "hsmbak crypto backup-signer NAME");
    CU_ASSERT_PTR_NULL(sg);
    hb_signer_free(NULL);
}

static void test_signer_key_missing(void)
{
    hb_err err = {0};
    hb_signer *sg = NULL;
    make_idcred("gone", HB_KEY_EC_P256, HB_USAGE_SIGNER);
    /* The idcred now names a key that is not on the token. */
    hbfix_define_key(app.root, "gone", "pkcs11:token=hsmbak-test;object=nothing;type=private");
    hb_status st = open_signer("gone", &sg, &err);
    CU_ASSERT_NOT_EQUAL(st, HB_OK);
    HBTEST_ASSERT_MSG(&err, "test signer");
    CU_ASSERT_PTR_NULL(sg);
}

static hb_manifest *small_manifest(X509 *recipient)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, NULL, NULL, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", NULL, NULL, NULL, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, recipient, "rsa-oaep-sha256", NULL, &err),
                     &err);
    return m;
}

/* Sign with the token signer, read back: the signature verifies and the
 * certificate in KeyInfo is the signer's; one flipped byte does not. */
static void sign_and_verify(const char *name)
{
    hb_err err = {0};
    hb_signer *sg = NULL;
    HBTEST_ASSERT_OK(open_signer(name, &sg, &err), &err);
    OSSL_LIB_CTX *libctx = hb_provider_libctx(app.prov);
    EVP_PKEY *rk = th_soft_key(libctx, 2048, NULL);
    X509 *rcert = th_make_cert(libctx, rk, rk, "recipient", 0, 365);
    hb_manifest *m = small_manifest(rcert), *back = NULL;
    uint8_t *xml = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, hb_signer_cert(sg), hb_signer_sign, sg, &xml,
                                              &len, &err),
                     &err);
    X509 *by = NULL;
    HBTEST_ASSERT_OK(hb_manifest_read(xml, len, NULL, &back, &by, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(by, hb_signer_cert(sg)), 0);
    CU_ASSERT_EQUAL(back->n_recipients, 1);
    hb_manifest_free(back);
    back = NULL;
    X509_free(by);
    by = NULL;
    char *at = strstr((char *)xml, "appliance");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at[0] = 'A';
    HBTEST_ASSERT_STATUS(hb_manifest_read(xml, len, NULL, &back, &by, &err), HB_E_VERIFY,
                         &err);
    CU_ASSERT_PTR_NULL(back);
    free(xml);
    hb_manifest_free(m);
    X509_free(rcert);
    EVP_PKEY_free(rk);
    hb_signer_free(sg);
}

static void test_sign_ec(void)
{
    make_idcred("signer-ec", HB_KEY_EC_P256, HB_USAGE_SIGNER);
    sign_and_verify("signer-ec");
}

static void test_sign_rsa(void)
{
    make_idcred("signer-rsa", HB_KEY_RSA2048, HB_USAGE_SIGNER);
    sign_and_verify("signer-rsa");
}

/* A recipient key cannot sign: the token refuses, and says so. */
static void test_recipient_is_no_signer(void)
{
    hb_err err = {0};
    hb_signer *sg = NULL;
    make_idcred("recipient", HB_KEY_RSA2048, HB_USAGE_RECIPIENT);
    HBTEST_ASSERT_OK(open_signer("recipient", &sg, &err), &err);
    uint8_t *sig = NULL;
    size_t siglen = 0;
    const uint8_t data[] = "transcript entry";
    HBTEST_ASSERT_FAIL(hb_signer_sign(sg, data, sizeof data, &sig, &siglen, &err), HB_E_TOKEN, &err,
                       "refused to sign");
    CU_ASSERT_PTR_NULL(sig);
    hb_signer_free(sg);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"no backup signer: refused, saying how to set one", test_no_signer},
        {"the signer's key is not on the token: refused, with the role", test_signer_key_missing},
        {"a manifest signed by an EC P-256 token signer verifies", test_sign_ec},
        {"a manifest signed by an RSA token signer verifies", test_sign_rsa},
        {"a recipient key is no signer", test_recipient_is_no_signer},
        {NULL, NULL},
    };
    return hbfix_appliance_main("signer", cases, &app);
}
