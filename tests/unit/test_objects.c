/* backup/custody/objects.c and objects_edit.c without a token: persistence,
 * validation, references, and edits of an open system that change nothing
 * when refused. */
#include "hbfixture.h"
#include "hbtest.h"
#include "hbtest_x509.h"

#include "backup/custody/objects.h"
#include "hsmbak/system.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *root;

/* A self-signed certificate file, as an appliance's cert: folder holds them. */
static void write_cert(const char *path)
{
    sigtest_key k = sigtest_make("rsa2048", "unit");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k.cert);
    CU_ASSERT_EQUAL_FATAL(sigtest_write_pem(path, k.cert), 0);
    sigtest_free(&k);
}

/* The suite's scratch directory as a system root: config/, and cert/c.pem. */
static void setup_root(void)
{
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
    hb_object_store *s = hbfix_objects(root);
    bool created;
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
    HBTEST_ASSERT_FAIL(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), HB_E_REFUSED, &err,
                       "used by idcred 'i'");
    HBTEST_ASSERT_OK(hb_objects_delete(s, HB_OBJECT_IDCRED, "i", &err), &err);
    CU_ASSERT_PTR_NULL(hb_objects_backup_signer(s));
    HBTEST_ASSERT_OK(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), &err);
    HBTEST_ASSERT_STATUS(hb_objects_delete(s, HB_OBJECT_KEY, "k", &err), HB_E_NOT_FOUND, &err);
    hb_objects_free(s);
}

/* The URI checks go through p11-kit's parser (provider/uri.c). */
static void test_uri_checks(void)
{
    hb_err err = {0};
    hb_object_store *s = hbfix_objects(root);
    bool created;
    HBTEST_ASSERT_FAIL(hb_objects_set_key(s, "x", "pkcs11:token=t;object=o;type=public", &created,
                                          &err), HB_E_USAGE, &err, "must name a private key");
    HBTEST_ASSERT_STATUS(hb_objects_set_key(s, "x", "pkcs11:token=t?pin-value=1234", &created,
                                            &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_objects_set_key(s, "x", "pkcs11:token=%zz;object=o", &created, &err),
                       HB_E_USAGE, &err, "malformed PKCS#11 URI");
    HBTEST_ASSERT_FAIL(hb_objects_set_certificate(s, "x", "pkcs11:token=t;object=c;type=cert;"
                                                  "pin-value=1", false, false, HB_OAEP_SHA256,
                                                  &created, &err), HB_E_USAGE, &err,
                       "PIN may not be stored");
    /* Without a type, or with type=private, a key URI is taken. */
    HBTEST_ASSERT_OK(hb_objects_set_key(s, "x", "pkcs11:token=t;object=o", &created, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_set_certificate(s, "y", "pkcs11:token=t;object=c;type=cert",
                                                false, false, HB_OAEP_SHA256, &created, &err),
                     &err);
    CU_ASSERT_PTR_NOT_NULL(hb_objects_find(s, HB_OBJECT_KEY, "x"));
    CU_ASSERT_PTR_NOT_NULL(hb_objects_find(s, HB_OBJECT_CERTIFICATE, "y"));
    hb_objects_free(s);
}

static char *read_store_text(const char *sys_root)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/config/crypto.xml", sys_root);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* hb_crypto_*: load, change, save on an open system; a refusal writes nothing. */
static void test_system_edits(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    bool created = false;
    char *dir = hbtest_tempdir("objects-sys"), sysroot[PATH_MAX / 2], p[PATH_MAX];
    snprintf(sysroot, sizeof sysroot, "%s/system", dir);
    HBTEST_ASSERT_OK(hb_system_init(sysroot, "appliance", NULL, &err), &err);
    snprintf(p, sizeof p, "%s/cert/c.pem", sysroot);
    write_cert(p);
    HBTEST_ASSERT_OK(hb_system_open(sysroot, 0, &sys, &err), &err);

    HBTEST_ASSERT_OK(hb_crypto_define_certificate(sys, NULL, "c", "cert:///c.pem", false, false,
                                                  HB_OAEP_SHA1, &created, &err), &err);
    CU_ASSERT_TRUE(created);
    HBTEST_ASSERT_OK(hb_crypto_define_certificate(sys, NULL, "c", "cert:///c.pem", true, false,
                                                  HB_OAEP_SHA1, &created, &err), &err);
    CU_ASSERT_FALSE(created);
    HBTEST_ASSERT_OK(hb_crypto_set_trusted_signer(sys, "c", true, &err), &err);
    char *before = read_store_text(sysroot);
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "trusted-signer=\"on\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "ignore-expiration=\"on\""));

    /* Refusals, each leaving the file byte for byte as it was. */
    HBTEST_ASSERT_STATUS(hb_crypto_define_certificate(sys, NULL, "d", "cert:///nope.pem", false,
                                                      false, HB_OAEP_SHA256, &created, &err),
                         HB_E_NOT_FOUND, &err);
    /* No token: a key cannot be shown to be up, so it is not defined. */
    HBTEST_ASSERT_FAIL(hb_crypto_define_key(sys, NULL, "k", "pkcs11:token=t;object=o;"
                                            "type=private", &created, &err),
                       HB_E_NOT_FOUND, &err, "key 'k': not checked");
    HBTEST_ASSERT_FAIL(hb_crypto_define_idcred(sys, NULL, "i", "k", "c", &created, &err),
                       HB_E_NOT_FOUND, &err, "no key named 'k'");
    HBTEST_ASSERT_STATUS(hb_crypto_set_backup_signer(sys, "i", &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_STATUS(hb_crypto_set_trusted_signer(sys, "nosuch", true, &err),
                         HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_STATUS(hb_crypto_delete(sys, HB_OBJECT_KEY, "k", &err), HB_E_NOT_FOUND, &err);
    char *after = read_store_text(sysroot);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(after);

    HBTEST_ASSERT_OK(hb_crypto_delete(sys, HB_OBJECT_CERTIFICATE, "c", &err), &err);
    after = read_store_text(sysroot);
    CU_ASSERT_PTR_NULL(strstr(after, "<certificate"));
    free(after);
    free(before);
    hb_system_close(sys);
    hbtest_rmtree(dir);
    free(dir);
}

static void test_tampered_store_is_refused(void)
{
    hb_err err = {0};
    hb_object_store *s = NULL;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/config/crypto.xml", root);
    CU_ASSERT_EQUAL_FATAL(hbtest_write_text(p, "<?xml version=\"1.0\"?>\n"
                                            "<!DOCTYPE crypto [<!ENTITY x \"y\">]>\n"
                                            "<crypto xmlns=\"urn:hsmbak:crypto:1\"/>\n"), 0);
    HBTEST_ASSERT_FAIL(hb_objects_load(root, &s, &err), HB_E_VERIFY, &err, "DTD");
    CU_ASSERT_EQUAL_FATAL(hbtest_write_text(p, "<crypto xmlns=\"urn:hsmbak:crypto:1\">"
                                            "<certificate name=\"c\"/></crypto>\n"), 0);
    HBTEST_ASSERT_STATUS(hb_objects_load(root, &s, &err), HB_E_VERIFY, &err);
    HBTEST_ASSERT_FAIL(hb_objects_load("/nonexistent-root", &s, &err), HB_E_NOT_FOUND, &err,
                       "system init");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"objects persist and read back", test_round_trip},
        {"bad names, files, URIs and references are refused", test_refusals},
        {"key and certificate URIs are checked by the URI parser", test_uri_checks},
        {"edits of an open system save; refused ones change nothing", test_system_edits},
        {"a store with a DTD or failing the schema is refused", test_tampered_store_is_refused},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"objects", cases, .scratch = &root});
}
