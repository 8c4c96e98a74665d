/* backup/objects.c without a token: persistence, validation, references. */
#include "hbtest.h"

#include "backup/custody/objects.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *root;

static void write_cert(const char *path)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"unit", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void setup_root(void)
{
    root = hbtest_tempdir("objects");
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/config", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/cert", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/cert/c.pem", root);
    write_cert(p);
}

static void test_round_trip(void)
{
    hb_err err = {0};
    hb_object_store *s = NULL;
    bool created = false;
    setup_root();
    HBTEST_ASSERT_OK(hb_objects_load(root, &s, &err), &err);
    CU_ASSERT_EQUAL(hb_objects_count(s), 0);
    HBTEST_ASSERT_OK(hb_objects_set_certificate(s, "c", "cert:///c.pem", true, false,
                                                HB_OAEP_SHA1, &created, &err), &err);
    CU_ASSERT_TRUE(created);
    HBTEST_ASSERT_OK(hb_objects_set_key(s, "k", "pkcs11:token=t;object=o;type=private",
                                        &created, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_set_idcred(s, "i", "k", "c", &created, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_set_backup_signer(s, "i", &err), &err);
    HBTEST_ASSERT_OK(hb_objects_set_trusted_signer(s, "c", true, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_save(s, &err), &err);
    hb_objects_free(s);

    HBTEST_ASSERT_OK(hb_objects_load(root, &s, &err), &err);
    CU_ASSERT_EQUAL(hb_objects_count(s), 3);
    const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, "c");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->file_name, "cert:///c.pem");
    CU_ASSERT_TRUE(c->ignore_expiration);
    CU_ASSERT_TRUE(c->trusted_signer);
    CU_ASSERT_EQUAL(c->key_wrap, HB_OAEP_SHA1);
    const hb_crypto_object *i = hb_objects_find(s, HB_OBJECT_IDCRED, "i");
    CU_ASSERT_PTR_NOT_NULL_FATAL(i);
    CU_ASSERT_STRING_EQUAL(i->key, "k");
    CU_ASSERT_STRING_EQUAL(hb_objects_backup_signer(s), "i");
    /* Redefining says "modifying". */
    HBTEST_ASSERT_OK(hb_objects_set_certificate(s, "c", "cert:///c.pem", false, true,
                                                HB_OAEP_SHA256, &created, &err), &err);
    CU_ASSERT_FALSE(created);
    CU_ASSERT_FALSE(hb_objects_find(s, HB_OBJECT_CERTIFICATE, "c")->enabled);
    hb_objects_free(s);
}

static void test_refusals(void)
{
    hb_err err = {0};
    hb_object_store *s = NULL;
    bool created;
    HBTEST_ASSERT_OK(hb_objects_load(root, &s, &err), &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_certificate(s, "bad name", "cert:///c.pem", false,
                                                    false, HB_OAEP_SHA256, &created, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_certificate(s, "x", "cert:///nope.pem", false, false,
                                                    HB_OAEP_SHA256, &created, &err),
                         HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_certificate(s, "x", "cert:///../c.pem", false, false,
                                                    HB_OAEP_SHA256, &created, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_key(s, "x", "file:///k.pem", &created, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_key(s, "x", "pkcs11:object=o;type=private;pin-value=1",
                                            &created, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_objects_set_idcred(s, "x", "nokey", "c", &created, &err),
                         HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_STATUS(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), HB_E_REFUSED, &err);
    HBTEST_ASSERT_MSG(&err, "used by idcred 'i'");
    HBTEST_ASSERT_OK(hb_objects_delete(s, HB_OBJECT_IDCRED, "i", &err), &err);
    CU_ASSERT_PTR_NULL(hb_objects_backup_signer(s));
    HBTEST_ASSERT_OK(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), &err);
    HBTEST_ASSERT_STATUS(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), HB_E_NOT_FOUND, &err);
    hb_objects_free(s);
}

static void test_tampered_store_is_refused(void)
{
    hb_err err = {0};
    hb_object_store *s = NULL;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/config/crypto.xml", root);
    FILE *f = fopen(p, "w");
    fputs("<?xml version=\"1.0\"?>\n<!DOCTYPE crypto [<!ENTITY x \"y\">]>\n"
          "<crypto xmlns=\"urn:hsmbak:crypto:1\"/>\n", f);
    fclose(f);
    HBTEST_ASSERT_STATUS(hb_objects_load(root, &s, &err), HB_E_VERIFY, &err);
    HBTEST_ASSERT_MSG(&err, "DTD");
    f = fopen(p, "w");
    fputs("<crypto xmlns=\"urn:hsmbak:crypto:1\"><certificate name=\"c\"/></crypto>\n", f);
    fclose(f);
    HBTEST_ASSERT_STATUS(hb_objects_load(root, &s, &err), HB_E_VERIFY, &err);
    HBTEST_ASSERT_STATUS(hb_objects_load("/nonexistent-root", &s, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_MSG(&err, "system init");
    hbtest_rmtree(root);
    free(root);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"objects persist and read back", test_round_trip},
        {"bad names, files, URIs and references are refused", test_refusals},
        {"a store with a DTD or failing the schema is refused", test_tampered_store_is_refused},
        {NULL, NULL},
    };
    return hbtest_main("objects", cases);
}
