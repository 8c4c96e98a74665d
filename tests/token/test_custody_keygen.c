/* backup/custody/keygen.c (crypto keygen) through the library API on
 * SoftHSM: the key on the token, the self-signed certificate and CSR signed
 * there, the files and crypto objects, and every refusal made before the
 * token is touched, each with its audit line. */
#include "token_helpers.h"

#include "hbfixture.h"

#include "common/fileio.h"
#include "common/x509.h"
#include "hsmbak/keygen.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <limits.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static hbfix_appliance app;

static hb_keygen_request request(const char *cn, const char *file_name)
{
    hb_keygen_request r = {.root = app.root, .token_uri = th_token_uri(0), .dn = {.cn = cn},
                           .key_type = HB_KEY_RSA2048, .usage = HB_USAGE_RECIPIENT,
                           .gen_sscert = true, .file_name = file_name, .gen_object = true};
    return r;
}

static bool file_mode(const char *rel, mode_t *mode)
{
    char p[2 * PATH_MAX];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", app.root, rel);
    if (stat(p, &sb) != 0)
        return false;
    *mode = sb.st_mode & 0777;
    return true;
}

static bool on_token(const char *label)
{
    hb_err err = {0};
    hb_token_info *t = NULL;
    size_t n = 0;
    bool found = false;
    HBTEST_ASSERT_OK(hb_token_list(app.prov, th_token_uri(0), true, &t, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < t[i].n_objects; k++)
            found = found || strcmp(t[i].objects[k].label, label) == 0;
    hb_token_list_free(t, n);
    return found;
}

static bool last_audit_has(const char *fragment)
{
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_read_file(app.audit, 1 << 20, &data, &len, &err), &err);
    char *log = (char *)data;
    while (len > 0 && log[len - 1] == '\n')
        log[--len] = '\0';
    char *last = strrchr(log, '\n');
    bool ok = strstr(last != NULL ? last + 1 : log, fragment) != NULL;
    if (!ok)
        fprintf(stderr, "  last audit line lacks '%s': %s\n", fragment, last ? last + 1 : log);
    free(data);
    return ok;
}

static void test_refusals(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    hb_keygen_request r = request("Refused", "refused");
    r.export_key = true;
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "--export-key is refused");
    CU_ASSERT_TRUE(last_audit_has("op=keygen outcome=refused"));
    CU_ASSERT_TRUE(last_audit_has("request=export-key"));
    r = request(NULL, "refused");
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err, "keygen needs --cn");
    CU_ASSERT_TRUE(last_audit_has("op=keygen outcome=failed"));
    r = request("Refused", "refused");
    r.token_uri = "hsmbak-test";
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "keygen needs --token pkcs11:token=LABEL");
    r = request("Refused", "refused");
    r.key_type = HB_KEY_EC_P384;
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "backup recipient keys must be RSA");
    r = request("Refused", "refused");
    r.days = 36501;
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "more than 100 years");
    /* A --file-name is taken as typed or refused: never cut. */
    r = request("Refused", "a-file-name-of-more-than-sixty-four-characters-is-refused-not-cut");
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "--file-name is too long");
    r = request("Refused", "../escape");
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "may only use letters, digits");
    r = request("Refused", "refused");
    r.object_name = "an-object-name-of-more-than-sixty-four-characters-is-refused-too-x";
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "--object-name is too long");
    CU_ASSERT_FALSE(on_token("refused"));
}

/* A file or object that is taken refuses keygen before any key is made. */
static void test_taken_outputs(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/cert/taken-sscert.pem", app.root);
    HBTEST_ASSERT_OK(hb_write_file_atomic(p, "x", 1, 0600, &err), &err);
    hb_keygen_request r = request("Taken", "taken");
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "'cert:///taken-sscert.pem' already exists");
    CU_ASSERT_FALSE(on_token("taken"));

    hbfix_define_key(app.root, "dup", "pkcs11:token=hsmbak-test;object=dup;type=private");
    r = request("Dup", "dup");
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "a crypto object named 'dup' already exists");
    CU_ASSERT_FALSE(on_token("dup"));
}

static void test_recipient_with_certificate(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    hb_keygen_request r = request("Recipient One", NULL); /* file name from the CN */
    r.export_sscert = true;
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    CU_ASSERT_EQUAL(res.bits, 2048);
    CU_ASSERT_EQUAL(strlen(res.fingerprint), 64);
    CU_ASSERT_EQUAL(res.key_wrap, HB_OAEP_SHA1); /* SoftHSM 2.6.1: probed */
    CU_ASSERT_PTR_NOT_NULL(strstr(res.key_uri, ";type=private"));
    CU_ASSERT_PTR_NOT_NULL(strstr(res.sscert_url, "-sscert.pem"));
    CU_ASSERT_PTR_NOT_NULL(strstr(res.sscert_export_url, "temporary:///"));
    CU_ASSERT_STRING_EQUAL(res.csr_url, "");
    CU_ASSERT_TRUE(last_audit_has("op=keygen outcome=ok"));
    CU_ASSERT_TRUE(last_audit_has(res.fingerprint));
    /* Sealed: it signed its certificate and may sign nothing more. */
    hb_key_attrs a;
    HBTEST_ASSERT_OK(hb_token_key_attrs(app.prov, res.key_uri, &a, &err), &err);
    CU_ASSERT_FALSE(a.sign);
    CU_ASSERT_FALSE(a.extractable);
    CU_ASSERT_TRUE(a.decrypt);
    /* The certificate on the token, in cert: (0600) and as a crypto object. */
    hb_object_store *s = hbfix_objects(app.root);
    const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_CERTIFICATE, res.object_name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(o->file_name, res.sscert_url);
    CU_ASSERT_EQUAL(o->key_wrap, HB_OAEP_SHA1);
    CU_ASSERT_PTR_NOT_NULL(hb_objects_find(s, HB_OBJECT_KEY, res.object_name));
    hb_objects_free(s);
    mode_t mode = 0;
    char rel[sizeof res.sscert_url];
    CU_ASSERT_FATAL(strncmp(res.sscert_url, "cert:///", 8) == 0);
    memcpy(rel, "cert/", 5);
    memcpy(rel + 5, res.sscert_url + 8, strlen(res.sscert_url + 8) + 1);
    CU_ASSERT_TRUE(file_mode(rel, &mode));
    CU_ASSERT_EQUAL(mode, 0600);
    X509 *cert = NULL;
    char *cert_uri = NULL;
    HBTEST_ASSERT_OK(hb_pkcs11_uri_with_type(res.key_uri, "cert", &cert_uri, &err), &err);
    HBTEST_ASSERT_OK(hb_provider_load_certificate(app.prov, cert_uri, &cert, &err), &err);
    char fp[65];
    HBTEST_ASSERT_OK(hb_x509_fingerprint(cert, fp, &err), &err);
    CU_ASSERT_STRING_EQUAL(fp, res.fingerprint);
    X509_free(cert);
    free(cert_uri);
    /* The same file name again: refused before the token. */
    HBTEST_ASSERT_FAIL(hb_keygen(app.prov, &r, &res, &err), HB_E_REFUSED, &err, "already exists");
}

static void test_csr_and_signer(void)
{
    hb_err err = {0};
    hb_keygen_result res;
    hb_keygen_request r = request("CA Signed", "ca-signed");
    r.gen_sscert = false;
    r.gen_object = false;
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    CU_ASSERT_STRING_EQUAL(res.csr_url, "temporary:///ca-signed.csr");
    CU_ASSERT_STRING_EQUAL(res.sscert_url, "");
    CU_ASSERT_STRING_EQUAL(res.fingerprint, "");
    CU_ASSERT_STRING_EQUAL(res.object_name, "");
    CU_ASSERT_EQUAL(res.key_wrap, HB_OAEP_UNPROBED); /* no certificate to probe with */
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/temporary/ca-signed.csr", app.root);
    FILE *f = fopen(p, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    X509_REQ *req = PEM_read_X509_REQ(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_EQUAL(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    X509_REQ_free(req);
    hb_key_attrs a;
    HBTEST_ASSERT_OK(hb_token_key_attrs(app.prov, res.key_uri, &a, &err), &err);
    CU_ASSERT_FALSE(a.sign);

    /* A signer keeps its signing right, and certifies it in key usage. */
    r = request("Signer P384", "signer-p384");
    r.key_type = HB_KEY_EC_P384;
    r.usage = HB_USAGE_SIGNER;
    r.csr = true;
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &r, &res, &err), &err);
    CU_ASSERT_EQUAL(res.bits, 384);
    CU_ASSERT_EQUAL(res.key_wrap, HB_OAEP_UNPROBED);
    CU_ASSERT_STRING_EQUAL(res.csr_url, "temporary:///signer-p384.csr");
    HBTEST_ASSERT_OK(hb_token_key_attrs(app.prov, res.key_uri, &a, &err), &err);
    CU_ASSERT_TRUE(a.sign);
    CU_ASSERT_FALSE(a.decrypt);
    CU_ASSERT_TRUE(last_audit_has("usage=signer"));
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"refusals before the token, each audited", test_refusals},
        {"a taken file or object: no key is made", test_taken_outputs},
        {"recipient: sealed key, probed wrap, certificate on token, file, objects",
         test_recipient_with_certificate},
        {"CSR only; an EC signer with a CSR", test_csr_and_signer},
        {NULL, NULL},
    };
    return hbfix_appliance_main("custody-keygen", cases, &app);
}
