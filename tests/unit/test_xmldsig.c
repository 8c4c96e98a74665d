/* backup/xmldsig.c on small documents: sign/verify, key policy, and the
 * other direction of interop (a signature made by xmlsec1 verifies here). */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/format/xml.h"

#include <fcntl.h>
#include <libxml/parser.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char DOC[] = "<?xml version=\"1.0\"?>\n<doc xmlns=\"urn:t\" xmlns:u=\"urn:unused\">"
                          "<v a=\"1\">one &amp; two</v></doc>\n";

static xmlDocPtr parse(const char *xml)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_OK(hb_xml_parse((const uint8_t *)xml, strlen(xml), 1 << 20, 0, NULL, "test",
                                  &doc, &err), &err);
    return doc;
}

static char *dump(xmlDocPtr doc)
{
    xmlChar *buf = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
    char *s = strdup((char *)buf);
    xmlFree(buf);
    return s;
}

static char *signed_doc(const sigtest_key *k)
{
    hb_err err = {0};
    xmlDocPtr doc = parse(DOC);
    HBTEST_ASSERT_OK(hb_xmldsig_sign(doc, k->cert, sigtest_sign, k->key, &err), &err);
    char *s = dump(doc);
    xmlFreeDoc(doc);
    return s;
}

static hb_status verify_text(const char *xml, X509 **who, hb_err *err)
{
    xmlDocPtr doc = parse(xml);
    hb_status st = hb_xmldsig_verify(doc, "test document", who, err);
    xmlFreeDoc(doc);
    return st;
}

static void sign_verify(const char *kind)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make(kind, "Signer");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k.cert);
    char *xml = signed_doc(&k);
    X509 *who = NULL;
    HBTEST_ASSERT_OK(verify_text(xml, &who, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(who, k.cert), 0);
    X509_free(who);
    char *t = sigtest_replace(xml, "one &amp; two", "one &amp; three");
    HBTEST_ASSERT_FAIL(verify_text(t, NULL, &err), HB_E_VERIFY, &err,
                       "test document signature does not verify: digest mismatch (the test "
                       "document was changed after it was signed)");
    free(t);
    /* Attribute order and quoting are canonicalized away (exc-c14n §3);
     * an unused namespace declaration is not rendered (exc-c14n §3.1). */
    t = sigtest_replace(xml, "<v a=\"1\">", "<v a='1'  >");
    HBTEST_ASSERT_OK(verify_text(t, NULL, &err), &err);
    free(t);
    t = sigtest_replace(xml, " xmlns:u=\"urn:unused\"", "");
    HBTEST_ASSERT_OK(verify_text(t, NULL, &err), &err);
    free(t);
    free(xml);
    sigtest_free(&k);
}

static void test_sign_verify_rsa(void)
{
    sign_verify("rsa2048");
}

static void test_sign_verify_p256(void)
{
    sign_verify("p256");
}

static void test_sign_verify_p384(void)
{
    sign_verify("p384");
}

static void test_key_policy(void)
{
    hb_err err = {0};
    bool ec = false;
    size_t field = 0;
    EVP_PKEY *k = sigtest_keygen("rsa1024");
    HBTEST_ASSERT_FAIL(hb_xmldsig_check_key(k, &ec, &field, "m", &err), HB_E_VERIFY, &err,
                       "m signer key is RSA-1024");
    EVP_PKEY_free(k);
    k = sigtest_keygen("p521");
    HBTEST_ASSERT_FAIL(hb_xmldsig_check_key(k, &ec, &field, "m", &err), HB_E_VERIFY, &err,
                       "curve secp521r1; only P-256 and P-384");
    EVP_PKEY_free(k);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    HBTEST_ASSERT_FAIL(hb_xmldsig_check_key(k, &ec, &field, "m", &err), HB_E_VERIFY, &err,
                       "only RSA and EC keys");
    EVP_PKEY_free(k);
    k = sigtest_keygen("p384");
    HBTEST_ASSERT_OK(hb_xmldsig_check_key(k, &ec, &field, "m", &err), &err);
    CU_ASSERT(ec);
    CU_ASSERT_EQUAL(field, 48);
    EVP_PKEY_free(k);
}

static hb_status failing_signer(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *siglen, hb_err *err)
{
    (void)ctx;
    (void)data;
    (void)len;
    *sig = NULL;
    *siglen = 0;
    return hb_fail(err, HB_E_TOKEN, "token said no");
}

static void test_signer_failure_propagates(void)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make("p256", "Signer");
    xmlDocPtr doc = parse(DOC);
    HBTEST_ASSERT_FAIL(hb_xmldsig_sign(doc, k.cert, failing_signer, NULL, &err), HB_E_TOKEN, &err,
                       "token said no");
    xmlFreeDoc(doc);
    sigtest_free(&k);
}

static void test_parameters_refused(void)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make("p256", "Signer");
    char *xml = signed_doc(&k);
    /* Each: the signed document with `from` replaced by `to`, and why it fails. */
    static const struct {
        const char *from, *to, *fragment;
    } cases[] = {
        {"xml-exc-c14n#\"/>\n        </Transforms>",
         "xml-exc-c14n#\"><InclusiveNamespaces xmlns=\"http://www.w3.org/2001/10/xml-exc-c14n#\" "
         "PrefixList=\"u\"/></Transform>\n        </Transforms>",
         "<Transform> (line 10) has parameters; none are accepted"},
        {"<SignedInfo>", "<SignedInfo xmlns:x=\"urn:x\">",
         "<SignedInfo> (line 4) declares an unexpected namespace"},
        {"<DigestValue>", "<DigestValue>AAAA", "DigestValue is 35 bytes, SHA-256 gives 32"},
        {"<X509Certificate>", "<X509Certificate>AAAA", "X509Certificate is not a DER certificate"},
        {"<SignatureValue>", "<SignatureValue>*", "<SignatureValue> (line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = sigtest_replace(xml, cases[i].from, cases[i].to);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        HBTEST_ASSERT_FAIL(verify_text(t, NULL, &err), HB_E_VERIFY, &err, cases[i].fragment);
        free(t);
    }
    free(xml);
    sigtest_free(&k);
}

/* xmlsec1 signs a template with a software key; our verifier accepts it. */
static int run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void xmlsec1_signed(const char *kind, const char *alg)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make(kind, "xmlsec1 signer");
    char *dir = hbtest_tempdir("xmldsig");
    char keyp[4096], certp[4096], keys[8200], tmpl[4096], out[4096];
    snprintf(keyp, sizeof keyp, "%s/key.pem", dir);
    snprintf(certp, sizeof certp, "%s/cert.pem", dir);
    snprintf(keys, sizeof keys, "%s,%s", keyp, certp);
    snprintf(tmpl, sizeof tmpl, "%s/tmpl.xml", dir);
    snprintf(out, sizeof out, "%s/signed.xml", dir);
    FILE *f = fopen(keyp, "w");
    PEM_write_PrivateKey(f, k.key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(sigtest_write_pem(certp, k.cert), 0);
    f = fopen(tmpl, "w");
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc xmlns=\"urn:t\"><v>1</v>"
            "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>"
            "<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
            "<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#%s\"/>"
            "<Reference URI=\"\"><Transforms>"
            "<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
            "<Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></Transforms>"
            "<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
            "<DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data>"
            "<X509Certificate/></X509Data></KeyInfo></Signature></doc>\n", alg);
    fclose(f);
    char *argv[] = {"xmlsec1", "--sign", "--privkey-pem", keys, "--output", out, tmpl, NULL};
    CU_ASSERT_EQUAL_FATAL(run(argv), 0);
    uint8_t *data = NULL;
    size_t len = 0;
    f = fopen(out, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    data = malloc(1 << 16);
    len = fread(data, 1, (1 << 16) - 1, f);
    fclose(f);
    data[len] = '\0';
    X509 *who = NULL;
    HBTEST_ASSERT_OK(verify_text((char *)data, &who, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(who, k.cert), 0);
    X509_free(who);
    free(data);
    hbtest_rmtree(dir);
    free(dir);
    sigtest_free(&k);
}

static void test_xmlsec1_signed_rsa_verifies(void)
{
    xmlsec1_signed("rsa2048", "rsa-sha256");
}

static void test_xmlsec1_signed_ecdsa_verifies(void)
{
    xmlsec1_signed("p256", "ecdsa-sha256");
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"sign and verify, RSA-2048", test_sign_verify_rsa},
        {"sign and verify, ECDSA P-256", test_sign_verify_p256},
        {"sign and verify, ECDSA P-384", test_sign_verify_p384},
        {"signer key policy", test_key_policy},
        {"signer failure propagates", test_signer_failure_propagates},
        {"algorithm parameters, namespaces, bad values refused", test_parameters_refused},
        {"xmlsec1-signed RSA verifies here", test_xmlsec1_signed_rsa_verifies},
        {"xmlsec1-signed ECDSA verifies here", test_xmlsec1_signed_ecdsa_verifies},
        {NULL, NULL},
    };
    return hbtest_main("xmldsig", cases);
}
