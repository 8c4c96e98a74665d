/* backup/ops/trust.c: a signer is trusted only through a certificate object
 * that is enabled and currently valid (or says ignore-expiration), by the
 * same rule whether it is on the trusted-signer list or named with --signer
 * (issue 11 class 3). No token: certificates are files under the root. */
#include "hbtest.h"
#include "hbtest_x509.h"

#include "backup/custody/objects.h"
#include "backup/ops/trust.h"
#include "hsmbak/objects.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *root;
static EVP_PKEY *key;

/* cert/NAME.pem holding x, defined as certificate object NAME (flags as
 * given). */
static void define_as(const char *name, X509 *x, bool ignore_exp, bool disabled, bool trusted)
{
    char p[PATH_MAX], url[PATH_MAX];
    hb_err err = {0};
    hb_object_store *s = NULL;
    bool created;
    snprintf(p, sizeof p, "%s/cert/%s.pem", root, name);
    CU_ASSERT_EQUAL_FATAL(sigtest_write_pem(p, x), 0);
    snprintf(url, sizeof url, "cert:///%s.pem", name);
    HBTEST_ASSERT_OK(hb_objects_load(root, &s, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_set_certificate(s, name, url, ignore_exp, disabled, HB_OAEP_SHA1,
                                                &created, &err), &err);
    if (trusted)
        HBTEST_ASSERT_OK(hb_objects_set_trusted_signer(s, name, true, &err), &err);
    HBTEST_ASSERT_OK(hb_objects_save(s, &err), &err);
    hb_objects_free(s);
}

/* The same with a new certificate for the suite's key, valid from..to days
 * from now. */
static X509 *define(const char *name, long from, long to, bool ignore_exp, bool disabled,
                    bool trusted)
{
    X509 *x = th_make_cert(NULL, key, key, name, from, to);
    define_as(name, x, ignore_exp, disabled, trusted);
    return x;
}

static void setup(void)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/config", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/cert", root);
    mkdir(p, 0700);
    if (key == NULL)
        key = th_soft_key(NULL, 2048, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
}

static hb_status trust(const char *named, X509 *cert, hb_err *err)
{
    hb_object_store *s = NULL;
    hb_status st = hb_objects_load(root, &s, err);
    if (st == HB_OK)
        st = hb_trust_signer(s, NULL, named, cert, err);
    hb_objects_free(s);
    return st;
}

static void test_list(void)
{
    hb_err err = {0};
    setup();
    X509 *ok = define("ok", -1, 30, false, false, true);
    X509 *old = define("old", -30, -1, false, false, true);
    X509 *soon = define("soon", 1, 30, false, false, true);
    X509 *off = define("off", -1, 30, false, true, true);
    X509 *untrusted = define("plain", -2, 30, false, false, false);

    HBTEST_ASSERT_OK(trust(NULL, ok, &err), &err); /* the control */
    HBTEST_ASSERT_FAIL(trust(NULL, old, &err), HB_E_REFUSED, &err,
                       "does not trust now: its certificate expired on ");
    HBTEST_ASSERT_MSG(&err, "(certificate object 'old'); renew it, or define the object with "
                      "--ignore-expiration");
    HBTEST_ASSERT_FAIL(trust(NULL, soon, &err), HB_E_REFUSED, &err,
                       "its certificate is not valid until ");
    HBTEST_ASSERT_FAIL(trust(NULL, off, &err), HB_E_REFUSED, &err,
                       "its certificate object 'off' is disabled");
    HBTEST_ASSERT_FAIL(trust(NULL, untrusted, &err), HB_E_REFUSED, &err,
                       "which this system does not trust: define its certificate");

    /* ignore-expiration makes the expired and the early one trusted. */
    define_as("old", old, true, false, true);
    HBTEST_ASSERT_OK(trust(NULL, old, &err), &err);
    define_as("soon", soon, true, false, true);
    HBTEST_ASSERT_OK(trust(NULL, soon, &err), &err);
    /* ...but never a disabled one. */
    define_as("off", off, true, true, true);
    HBTEST_ASSERT_FAIL(trust(NULL, off, &err), HB_E_REFUSED, &err, "is disabled");
    X509_free(ok);
    X509_free(old);
    X509_free(soon);
    X509_free(off);
    X509_free(untrusted);
}

/* --signer: the same rule; a disabled or expired object vouches for nobody. */
static void test_named(void)
{
    hb_err err = {0};
    setup();
    X509 *ok = define("n-ok", -1, 30, false, false, false);
    X509 *old = define("n-old", -30, -1, false, false, false);
    X509 *off = define("n-off", -1, 30, false, true, false);
    HBTEST_ASSERT_OK(trust("n-ok", ok, &err), &err);
    HBTEST_ASSERT_FAIL(trust("n-old", old, &err), HB_E_REFUSED, &err,
                       "its certificate expired on ");
    HBTEST_ASSERT_FAIL(trust("n-off", off, &err), HB_E_REFUSED, &err,
                       "its certificate object 'n-off' is disabled");
    /* Naming another certificate falls back to the list, which has none. */
    HBTEST_ASSERT_FAIL(trust("n-ok", old, &err), HB_E_REFUSED, &err,
                       "which this system does not trust: define");
    HBTEST_ASSERT_FAIL(trust("nosuch", ok, &err), HB_E_NOT_FOUND, &err,
                       "--signer: no certificate named 'nosuch'");
    /* The standing an operator is warned about is the same rule. */
    HBTEST_ASSERT_OK(hb_crypto_signer_standing(root, NULL, "n-ok", &err), &err);
    HBTEST_ASSERT_FAIL(hb_crypto_signer_standing(root, NULL, "n-old", &err), HB_E_REFUSED,
                       &err, "its certificate expired on ");
    HBTEST_ASSERT_FAIL(hb_crypto_signer_standing(root, NULL, "n-off", &err), HB_E_REFUSED,
                       &err, "is disabled");
    X509_free(ok);
    X509_free(old);
    X509_free(off);
    EVP_PKEY_free(key);
    key = NULL;
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"the trusted-signer list trusts only enabled, currently valid objects", test_list},
        {"--signer follows the same rule", test_named},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"trust", cases, .scratch = &root});
}
