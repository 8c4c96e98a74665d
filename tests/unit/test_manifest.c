/* backup/manifest*.c: build, sign, read back; every rejection on read. */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/ids.h"
#include "backup/format/manifest.h"

#include <fcntl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keys made once per run (RSA key generation is the slow part). */
static sigtest_key rsa_signer, ec_signer, p384_signer, other_signer, recip1, recip2;

static const char ID[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char SUM1[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char SUM2[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void setup_keys(void)
{
    if (rsa_signer.key != NULL)
        return;
    rsa_signer = sigtest_make("rsa2048", "Backup Signer RSA");
    ec_signer = sigtest_make("p256", "Backup Signer EC");
    p384_signer = sigtest_make("p384", "Backup Signer P-384");
    other_signer = sigtest_make("p256", "Someone Else");
    recip1 = sigtest_make("rsa2048", "My Backup Cert");
    recip2 = sigtest_make("rsa2048", "Backup, Second \xc3\xa9quipe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(rsa_signer.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ec_signer.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p384_signer.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other_signer.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(recip1.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(recip2.cert);
}

/* A manifest with every optional field, two recipients, two files. */
static hb_manifest *sample(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    const char *r1 = NULL, *r2 = NULL;
    const uint8_t wk1[256] = {1, 2, 3}, wk2[256] = {4, 5, 6}, wk3[200] = {7}, wk4[300] = {8};
    setup_keys();
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, ID, "2026-11-29T19:00:00Z", "hsmbak 0.1.0", &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", "20261129-1900",
                                            "5900-AY8", "SN <123> & \"x\"", &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, recip1.cert, "rsa-oaep-sha256", &r1, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, recip2.cert, "rsa-oaep-sha1", &r2, &err),
                     &err);
    CU_ASSERT_STRING_EQUAL(r1, "r1");
    CU_ASSERT_STRING_EQUAL(r2, "r2");
    HBTEST_ASSERT_OK(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 4152, SUM1, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_file(m, "password-map", "password-map.tgz", "gzip", 304,
                                          SUM2, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", "r1", wk1, sizeof wk1, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", "r2", wk2, sizeof wk2, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "password-map", "r1", wk3, sizeof wk3, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "password-map", "r2", wk4, sizeof wk4, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_excluded(m, "ipmi", "IPMI passwords are held by the BMC; "
                                              "set them again after restore", &err), &err);
    return m;
}

static char *write_signed(const hb_manifest *m, const sigtest_key *signer)
{
    hb_err err = {0};
    uint8_t *xml = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, signer->cert, sigtest_sign, signer->key, &xml,
                                              &len, &err), &err);
    CU_ASSERT_EQUAL(strlen((char *)xml), len);
    return (char *)xml;
}

static char *sample_xml(const sigtest_key *signer)
{
    hb_manifest *m = sample();
    char *xml = write_signed(m, signer);
    hb_manifest_free(m);
    return xml;
}

static hb_status read_str(const char *xml, hb_manifest **out, X509 **signer, hb_err *err)
{
    return hb_manifest_read((const uint8_t *)xml, strlen(xml), NULL, out, signer, err);
}

/* Expect a rejection with status and message fragment. */
static void expect_reject(const char *xml, hb_status want, const char *fragment)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    X509 *signer = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
    HBTEST_ASSERT_FAIL(read_str(xml, &m, &signer, &err), want, &err, fragment);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NULL(signer);
    CU_ASSERT_EQUAL(err.status, want);
}

/* xml with the first `from` replaced by `to` does not read: HB_E_VERIFY, saying
 * fragment. */
static void expect_edit_rejected(const char *xml, const char *from, const char *to,
                                 const char *fragment)
{
    char *t = sigtest_replace(xml, from, to);
    expect_reject(t, HB_E_VERIFY, fragment);
    free(t);
}

/* The signed text without its Signature: cut "\n  <Signature" .. "</Signature>\n". */
static char *strip_signature(const char *xml)
{
    const char *a = strstr(xml, "\n  <Signature");
    const char *b = strstr(xml, "</Signature>\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    b += strlen("</Signature>\n");
    size_t head = (size_t)(a - xml), tail = strlen(b);
    char *out = malloc(head + tail + 1);
    memcpy(out, xml, head);
    memcpy(out + head, b, tail + 1);
    return out;
}

/* The Signature block of a signed manifest, "<Signature" .. "</Signature>". */
static char *signature_block(const char *xml)
{
    const char *a = strstr(xml, "<Signature");
    const char *b = strstr(xml, "</Signature>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    size_t n = (size_t)(b - a) + strlen("</Signature>");
    char *out = malloc(n + 1);
    memcpy(out, a, n);
    out[n] = '\0';
    return out;
}

/* Sign arbitrary (unsigned) manifest text, as a signer that signs whatever
 * it is given would: used to reach the checks behind the signature. */
static char *sign_text(const char *unsigned_xml, const sigtest_key *signer)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_OK(hb_xml_parse((const uint8_t *)unsigned_xml, strlen(unsigned_xml), 1 << 20,
                                  0, NULL, "test", &doc, &err), &err);
    HBTEST_ASSERT_OK(hb_xmldsig_sign(doc, signer->cert, sigtest_sign, signer->key, &err), &err);
    xmlChar *buf = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
    xmlFreeDoc(doc);
    char *out = strdup((char *)buf);
    xmlFree(buf);
    return out;
}

/* Change unsigned text with a replacement, then sign it. */
static char *resigned_with(const char *from, const char *to)
{
    char *xml = sample_xml(&rsa_signer);
    char *bare = strip_signature(xml);
    char *changed = sigtest_replace(bare, from, to);
    CU_ASSERT_PTR_NOT_NULL_FATAL(changed);
    char *out = sign_text(changed, &rsa_signer);
    free(xml);
    free(bare);
    free(changed);
    return out;
}

/* The sample re-signed after the edit (resigned_with) does not read:
 * HB_E_VERIFY, saying fragment. */
static void expect_resigned_rejected(const char *from, const char *to, const char *fragment)
{
    char *t = resigned_with(from, to);
    expect_reject(t, HB_E_VERIFY, fragment);
    free(t);
}

/* Both NULL or both equal strings. */
static int same_opt(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void assert_same(const hb_manifest *a, const hb_manifest *b)
{
    CU_ASSERT_STRING_EQUAL(a->id, b->id);
    CU_ASSERT_STRING_EQUAL(a->created, b->created);
    CU_ASSERT_STRING_EQUAL(a->tool, b->tool);
    CU_ASSERT_EQUAL(a->sequence, b->sequence);
    CU_ASSERT_EQUAL(a->transcript_seq, b->transcript_seq);
    CU_ASSERT_STRING_EQUAL(a->transcript_head, b->transcript_head);
    CU_ASSERT_STRING_EQUAL(a->version, b->version);
    CU_ASSERT_STRING_EQUAL(a->profile, b->profile);
    CU_ASSERT(same_opt(a->build, b->build));
    CU_ASSERT(same_opt(a->machine_type, b->machine_type));
    CU_ASSERT(same_opt(a->serial, b->serial));
    CU_ASSERT_EQUAL_FATAL(a->n_recipients, b->n_recipients);
    for (size_t i = 0; i < a->n_recipients; i++) {
        const hb_manifest_recipient *x = &a->recipients[i], *y = &b->recipients[i];
        CU_ASSERT_STRING_EQUAL(x->id, y->id);
        CU_ASSERT_STRING_EQUAL(x->subject, y->subject);
        CU_ASSERT_STRING_EQUAL(x->fingerprint, y->fingerprint);
        CU_ASSERT_STRING_EQUAL(x->key_wrap, y->key_wrap);
        CU_ASSERT_EQUAL_FATAL(x->cert_der_len, y->cert_der_len);
        CU_ASSERT_EQUAL(memcmp(x->cert_der, y->cert_der, x->cert_der_len), 0);
    }
    CU_ASSERT_EQUAL_FATAL(a->n_files, b->n_files);
    for (size_t i = 0; i < a->n_files; i++) {
        const hb_manifest_file *x = &a->files[i], *y = &b->files[i];
        CU_ASSERT_STRING_EQUAL(x->name, y->name);
        CU_ASSERT_STRING_EQUAL(x->filename, y->filename);
        CU_ASSERT_STRING_EQUAL(x->compression, y->compression);
        CU_ASSERT_EQUAL(x->size, y->size);
        CU_ASSERT_STRING_EQUAL(x->sha256, y->sha256);
        CU_ASSERT_EQUAL_FATAL(x->n_keys, y->n_keys);
        for (size_t k = 0; k < x->n_keys; k++) {
            CU_ASSERT_STRING_EQUAL(x->keys[k].recipient, y->keys[k].recipient);
            CU_ASSERT_EQUAL_FATAL(x->keys[k].len, y->keys[k].len);
            CU_ASSERT_EQUAL(memcmp(x->keys[k].data, y->keys[k].data, x->keys[k].len), 0);
        }
    }
    CU_ASSERT_EQUAL_FATAL(a->n_excluded, b->n_excluded);
    for (size_t i = 0; i < a->n_excluded; i++) {
        CU_ASSERT_STRING_EQUAL(a->excluded[i].name, b->excluded[i].name);
        CU_ASSERT_STRING_EQUAL(a->excluded[i].reason, b->excluded[i].reason);
    }
}

static void round_trip(const sigtest_key *signer)
{
    hb_err err = {0};
    hb_manifest *m = sample();
    char *xml = write_signed(m, signer);
    hb_manifest *back = NULL;
    X509 *who = NULL;
    HBTEST_ASSERT_OK(read_str(xml, &back, &who, &err), &err);
    assert_same(m, back);
    CU_ASSERT_PTR_NOT_NULL_FATAL(who);
    CU_ASSERT_EQUAL(X509_cmp(who, signer->cert), 0);
    /* The subject is RFC 2253 text; UTF-8 stays UTF-8, the comma is escaped. */
    CU_ASSERT_STRING_EQUAL(back->recipients[0].subject, "CN=My Backup Cert");
    CU_ASSERT_STRING_EQUAL(back->recipients[1].subject, "CN=Backup\\, Second \xc3\xa9quipe");
    CU_ASSERT_PTR_NOT_NULL(hb_manifest_find_wrapped_key(hb_manifest_find_file(back, "config"),
                                                        "r2"));
    CU_ASSERT_PTR_EQUAL(hb_manifest_find_recipient_cert(back, recip2.cert), &back->recipients[1]);
    /* The layout DESIGN §4.3 shows: declaration, root with namespace, the
     * signature last. */
    CU_ASSERT_EQUAL(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<backupmanifest "
                            "xmlns=\"urn:hsmbak:manifest:1\" format=\"1\">", 93), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "  <Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "</Signature>\n</backupmanifest>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<serial>SN &lt;123&gt; &amp; \"x\"</serial>"));
    hb_manifest_free(back);
    X509_free(who);
    free(xml);
    hb_manifest_free(m);
}

static void test_round_trip_rsa(void)
{
    setup_keys();
    round_trip(&rsa_signer);
}

static void test_round_trip_ecdsa(void)
{
    setup_keys();
    round_trip(&ec_signer);
    round_trip(&p384_signer);
}

static void test_minimal_round_trip(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL, *back = NULL;
    setup_keys();
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, NULL, NULL, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "1.0.0.0", "host", NULL, NULL, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, recip1.cert, "rsa-oaep-sha256", NULL, &err),
                     &err);
    char *xml = write_signed(m, &ec_signer);
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    assert_same(m, back);
    CU_ASSERT_PTR_NULL(back->build);
    CU_ASSERT_EQUAL(back->n_files, 0);
    CU_ASSERT_EQUAL(back->n_excluded, 0);
    CU_ASSERT_EQUAL(strlen(back->id), 36);
    CU_ASSERT_EQUAL(back->id[14], '4');
    CU_ASSERT_EQUAL(strlen(back->created), 20);
    hb_manifest_free(back);
    hb_manifest_free(m);
    free(xml);
}

static void test_uuid_and_time(void)
{
    hb_err err = {0};
    char a[37], b[37], t[21];
    HBTEST_ASSERT_OK(hb_uuid_v4(a, &err), &err);
    HBTEST_ASSERT_OK(hb_uuid_v4(b, &err), &err);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef-"), 36);
    CU_ASSERT(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CU_ASSERT_EQUAL(a[14], '4');
    CU_ASSERT_PTR_NOT_NULL(strchr("89ab", a[19]));
    HBTEST_ASSERT_OK(hb_rfc3339_now(t, &err), &err);
    CU_ASSERT_EQUAL(strlen(t), 20);
    CU_ASSERT_EQUAL(t[10], 'T');
    CU_ASSERT_EQUAL(t[19], 'Z');
}

static void xmlsec1_case(const sigtest_key *signer)
{
    char *dir = hbtest_tempdir("manifest-xmlsec");
    char pem[4096], good[4096], bad_path[4096];
    snprintf(pem, sizeof pem, "%s/signer.pem", dir);
    snprintf(good, sizeof good, "%s/backupmanifest.xml", dir);
    snprintf(bad_path, sizeof bad_path, "%s/tampered.xml", dir);
    CU_ASSERT_EQUAL_FATAL(sigtest_write_pem(pem, signer->cert), 0);
    char *xml = sample_xml(signer);
    char *tampered = sigtest_replace(xml, "<size>4152</size>", "<size>4153</size>");
    FILE *f = fopen(good, "w");
    fputs(xml, f);
    fclose(f);
    f = fopen(bad_path, "w");
    fputs(tampered, f);
    fclose(f);
    CU_ASSERT_EQUAL(hbtest_xmlsec1_verify(pem, good), 0);
    /* And xmlsec1 is a real check: it refuses the tampered copy. */
    CU_ASSERT_NOT_EQUAL(hbtest_xmlsec1_verify(pem, bad_path), 0);
    free(xml);
    free(tampered);
    hbtest_rmtree(dir);
    free(dir);
}

static void test_xmlsec1_verifies_rsa(void)
{
    setup_keys();
    xmlsec1_case(&rsa_signer);
}

static void test_xmlsec1_verifies_ecdsa(void)
{
    setup_keys();
    xmlsec1_case(&ec_signer);
    xmlsec1_case(&p384_signer);
}

static void test_changed_field_digest_mismatch(void)
{
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    expect_edit_rejected(xml, "<size>4152</size>", "<size>4153</size>",
                         "manifest signature does not verify: digest mismatch (the "
                         "manifest was changed after it was signed)");
    expect_edit_rejected(xml, "<version>9.3.5.0</version>", "<version>9.3.5.1</version>",
                         "digest mismatch");
    /* Whitespace is signed too. */
    expect_edit_rejected(xml, "<files>", "<files> ", "digest mismatch");
    free(xml);
}

static void test_changed_signed_info_fails(void)
{
    setup_keys();
    char *xml = sample_xml(&ec_signer);
    /* SignedInfo is what is signed: whitespace inside it breaks the value. */
    expect_edit_rejected(xml, "<SignedInfo>", "<SignedInfo> ",
                         "the SignatureValue does not match SignedInfo");
    free(xml);
}

static void test_other_signer_returned(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    X509 *who = NULL;
    setup_keys();
    /* Someone re-signed it with their own key: the signature is valid, so
     * the read succeeds, and the caller sees whose it is. */
    char *mine = sample_xml(&rsa_signer);
    char *bare = strip_signature(mine);
    char *theirs = sign_text(bare, &other_signer);
    HBTEST_ASSERT_OK(read_str(theirs, &m, &who, &err), &err);
    CU_ASSERT_EQUAL(X509_cmp(who, other_signer.cert), 0);
    CU_ASSERT_NOT_EQUAL(X509_cmp(who, rsa_signer.cert), 0);
    hb_manifest_free(m);
    X509_free(who);
    /* Swapping only the KeyInfo certificate cannot pass for the other key. */
    char *b64_mine = NULL, *b64_other = NULL;
    unsigned char *der = NULL;
    int n = i2d_X509(rsa_signer.cert, &der);
    HBTEST_ASSERT_OK(hb_base64_encode(der, (size_t)n, &b64_mine, &err), &err);
    OPENSSL_free(der);
    der = NULL;
    n = i2d_X509(p384_signer.cert, &der);
    HBTEST_ASSERT_OK(hb_base64_encode(der, (size_t)n, &b64_other, &err), &err);
    OPENSSL_free(der);
    char *swapped = sigtest_replace(mine, b64_mine, b64_other);
    expect_reject(swapped, HB_E_VERIFY, "does not fit the signer's EC key");
    free(swapped);
    free(b64_mine);
    free(b64_other);
    free(mine);
    free(bare);
    free(theirs);
}

static void test_signature_placement(void)
{
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    char *bare = strip_signature(xml);
    char *sig = signature_block(xml);
    char buf[16384];

    /* Not the last child: moved before <excluded>. */
    snprintf(buf, sizeof buf, "%s\n  <excluded>", sig);
    char *t = sigtest_replace(bare, "<excluded>", buf);
    expect_reject(t, HB_E_VERIFY, "manifest signature is not the last child of the root "
                  "element");
    free(t);

    /* Moved inside a child (wrapping attempt). */
    snprintf(buf, sizeof buf, "<files>%s", sig);
    t = sigtest_replace(bare, "<files>", buf);
    expect_reject(t, HB_E_VERIFY, "manifest signature is not the last child of the root");
    free(t);

    /* A second Signature: the genuine one last, a copy inside <system>. */
    snprintf(buf, sizeof buf, "<system>%s", sig);
    expect_edit_rejected(xml, "<system>", buf,
                         "manifest has 2 <Signature> elements; exactly one is allowed");

    /* Two at the end. */
    snprintf(buf, sizeof buf, "%s%s</backupmanifest>", sig, sig);
    t = sigtest_replace(bare, "</backupmanifest>", buf);
    expect_reject(t, HB_E_VERIFY, "has 2 <Signature> elements");
    free(t);

    /* None. */
    expect_reject(bare, HB_E_VERIFY, "manifest is not signed: it has no XML-DSig <Signature>");
    free(bare);
    free(sig);
    free(xml);
}

static void test_signature_form(void)
{
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"URI=\"\"", "URI=\"#x\"", "manifest signature must cover the whole document: "
         "Reference URI is '#x'"},
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
         "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "manifest signature uses an unsupported "
         "algorithm: SignatureMethod 'http://www.w3.org/2000/09/xmldsig#rsa-sha1'"},
        {"xmlenc#sha256", "xmldsig#sha1", "unsupported algorithm: DigestMethod"},
        {"<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
         "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"",
         "unsupported algorithm: CanonicalizationMethod"},
        {"<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>", "",
         "<Transforms> (line"},
        {"#enveloped-signature\"/>", "#enveloped-signature\"/><Transform Algorithm=\"http://"
         "www.w3.org/TR/1999/REC-xpath-19991116\"/>", "unexpected <Transform> in <Transforms>"},
        {"<KeyInfo>", "<KeyInfo><KeyName>k</KeyName>", "unexpected <KeyName> in <KeyInfo>"},
        {"</X509Data>", "</X509Data><X509Data/>", "unexpected <X509Data> in <KeyInfo>"},
        {"</X509Certificate>", "</X509Certificate><X509SubjectName>CN=x</X509SubjectName>",
         "unexpected <X509SubjectName> in <X509Data>"},
        {"<Signature ", "<Signature Id=\"s\" ", "<Signature> (line"},
        {"<Reference URI=\"\">", "<Reference URI=\"\" Id=\"x\">", "unexpected attribute 'Id'"},
        {"</SignedInfo>", "</SignedInfo><Object/>", "unexpected <Object> in <Signature>"},
        {"</SignatureValue>", "</SignatureValue>", NULL},
    };
    for (size_t i = 0; cases[i].msg != NULL; i++) {
        char *t = sigtest_replace(xml, cases[i].from, cases[i].to);
        if (t == NULL)
            fprintf(stderr, "  case %zu: '%s' not in the manifest\n", i, cases[i].from);
        expect_reject(t, HB_E_VERIFY, cases[i].msg);
        free(t);
    }
    free(xml);
}

static void test_dtd_rejected(void)
{
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    const char *decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    const char *dtds[] = {
        "<!DOCTYPE backupmanifest [<!ENTITY x \"y\">]>\n",
        "<!DOCTYPE backupmanifest SYSTEM \"file:///etc/passwd\">\n",
        "<!DOCTYPE backupmanifest PUBLIC \"-//x//y\" \"http://127.0.0.1:1/x.dtd\">\n",
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;"
        "&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"
        "&lol2;&lol2;&lol2;\"><!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"
        "&lol3;&lol3;\">]>\n",
        NULL,
    };
    for (size_t i = 0; dtds[i] != NULL; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s%s", decl, dtds[i]);
        expect_edit_rejected(xml, decl, buf, "manifest contains a DTD; refusing to parse it");
    }
    /* An entity used without a DTD is not well-formed. */
    expect_edit_rejected(xml, "<tool>hsmbak 0.1.0</tool>", "<tool>&lol4;</tool>",
                         "manifest is not well-formed XML: line 6: Entity 'lol4' not defined");
    free(xml);
}

static void test_oversize_refused(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    hb_manifest_read_opts opts = {.max_size = 1000};
    HBTEST_ASSERT_FAIL(hb_manifest_read((const uint8_t *)xml, strlen(xml), &opts, &m, NULL, &err),
                       HB_E_REFUSED, &err, "manifest is ");
    HBTEST_ASSERT_MSG(&err, "more than the limit of 1000 bytes");
    /* The default cap: 16 MiB + 1 is refused before parsing. */
    size_t big = HB_MANIFEST_DEFAULT_CAP + 1;
    uint8_t *junk = calloc(1, big);
    HBTEST_ASSERT_FAIL(hb_manifest_read(junk, big, NULL, &m, NULL, &err), HB_E_REFUSED, &err,
                       "more than the limit of 16777216 bytes");
    free(junk);
    free(xml);
}

static void test_schema_failures(void)
{
    setup_keys();
    expect_resigned_rejected("<tool>", "<extra>1</extra><tool>",
                             "manifest does not match the schema: line 6: Element "
                             "'{urn:hsmbak:manifest:1}extra': This element is not expected");
    expect_resigned_rejected("<tool>hsmbak 0.1.0</tool>", "",
                             "manifest does not match the schema: line 3: Element "
                             "'{urn:hsmbak:manifest:1}backup': Missing child element(s)");
    expect_resigned_rejected(ID, "0F8FAD5B-D9CB-469F-A165-70867728950E",
                             "manifest does not match the schema: line 4: Element "
                             "'{urn:hsmbak:manifest:1}id': [facet 'pattern']");
    /* A version 1 UUID, not 4. */
    expect_resigned_rejected(ID, "0f8fad5b-d9cb-169f-a165-70867728950e",
                             "does not match the schema");
    expect_resigned_rejected("format=\"1\"", "format=\"2\"", "does not match the schema: line 2");
    expect_resigned_rejected("<compression>zstd</compression>", "<compression>xz</compression>",
                             "does not match the schema");
    expect_resigned_rejected("<size>4152</size>", "<size>-1</size>", "does not match the schema");
}

static void test_semantic_failures(void)
{
    setup_keys();
    /* Valid to the schema, signed, but inconsistent. */
    expect_resigned_rejected("<filename>config.tzst</filename>", "<filename>config.tgz</filename>",
                             "file 'config' has a file name that does not fit its compression");
    expect_resigned_rejected("<wrapped-key recipient=\"r2\"", "<wrapped-key recipient=\"r9\"",
                             "wrapped key for unknown recipient 'r9'");
    expect_resigned_rejected("<fingerprint algorithm=\"sha256\">",
                             "<fingerprint algorithm=\"sha256\">0", "does not match the schema");
    char *xml = sample_xml(&rsa_signer);
    const char *fp = strstr(xml, "<fingerprint algorithm=\"sha256\">");
    char orig[65];
    memcpy(orig, fp + strlen("<fingerprint algorithm=\"sha256\">"), 64);
    orig[64] = '\0';
    char *bad_fp = strdup(orig);
    bad_fp[0] = bad_fp[0] == '0' ? '1' : '0';
    expect_resigned_rejected(orig, bad_fp,
                             "recipient 'r1' fingerprint does not match its certificate");
    free(bad_fp);
    free(xml);
    expect_resigned_rejected("<recipient id=\"r2\">", "<recipient id=\"r1\">",
                             "recipient id 'r1' is used twice");
}

static void test_garbage_rejected(void)
{
    setup_keys();
    char *xml = sample_xml(&rsa_signer);
    xml[strlen(xml) / 2] = '\0';
    expect_reject(xml, HB_E_VERIFY, "manifest is not well-formed XML: line ");
    free(xml);
    expect_reject("\x89PNG\r\n\x1a\n garbage", HB_E_VERIFY, "manifest is not well-formed XML");
    expect_reject("", HB_E_VERIFY, "manifest is empty");
    expect_reject("<a xmlns=\"urn:x\"/>", HB_E_VERIFY, "manifest has root element <a>, "
                  "expected <backupmanifest xmlns=\"urn:hsmbak:manifest:1\">; it is not a "
                  "backup hsmbak made");
    xml = sample_xml(&rsa_signer);
    expect_edit_rejected(xml, "<files>", "<files><!-- hi -->",
                         "manifest contains a comment (line 29)");
    expect_edit_rejected(xml, "<files>", "<files><?evil x?>",
                         "manifest contains a processing instruction");
    free(xml);
}

static void test_builder_rejects(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    uint8_t *xml = NULL;
    size_t len = 0;
    const uint8_t wk[8] = {1};
    setup_keys();
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_backup(m, "not-a-uuid", NULL, NULL, &err), HB_E_USAGE,
                         &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_backup(m, NULL, "2026-11-29 19:00", NULL, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_manifest_set_system(m, "9.3.5", "appliance", NULL, NULL, NULL, &err),
                       HB_E_USAGE, &err, "is not V.R.M.F");
    HBTEST_ASSERT_STATUS(hb_manifest_set_system(m, "9.3.5.0", "Appliance", NULL, NULL, NULL,
                                                &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_system(m, "9.3.5.0", "a", "bad\nbuild", NULL, NULL,
                                                &err), HB_E_USAGE, &err);
    /* Incomplete manifests are not written. */
    HBTEST_ASSERT_STATUS(hb_manifest_write_signed(m, rsa_signer.cert, sigtest_sign,
                                                  rsa_signer.key, &xml, &len, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, NULL, NULL, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", NULL, NULL, NULL, &err),
                     &err);
    HBTEST_ASSERT_FAIL(hb_manifest_write_signed(m, rsa_signer.cert, sigtest_sign, rsa_signer.key,
                                                &xml, &len, &err), HB_E_USAGE, &err,
                       "no recipients");
    HBTEST_ASSERT_STATUS(hb_manifest_add_recipient(m, recip1.cert, "rsa-pkcs1", NULL, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, recip1.cert, "rsa-oaep-sha256", NULL, &err),
                     &err);
    HBTEST_ASSERT_FAIL(hb_manifest_add_recipient(m, recip1.cert, "rsa-oaep-sha256", NULL, &err),
                       HB_E_USAGE, &err, "listed twice");
    HBTEST_ASSERT_STATUS(hb_manifest_add_file(m, "config", "config.tgz", "zstd", 1, SUM1, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_file(m, "../x", "../x.tzst", "zstd", 1, SUM1, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 1, "abc", &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 1, SUM1, &err),
                     &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 1, SUM1, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_wrapped_key(m, "config", "r7", wk, sizeof wk, &err),
                         HB_E_USAGE, &err);
    /* A file without a key for every recipient could not be restored. */
    HBTEST_ASSERT_FAIL(hb_manifest_write_signed(m, rsa_signer.cert, sigtest_sign, rsa_signer.key,
                                                &xml, &len, &err), HB_E_USAGE, &err,
                       "file 'config' has no wrapped key for recipient 'r1'");
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", "r1", wk, sizeof wk, &err), &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_wrapped_key(m, "config", "r1", wk, sizeof wk, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_excluded(m, "ipmi", "", &err), HB_E_USAGE, &err);
    /* Weak signer keys are refused at write time too. */
    sigtest_key weak = sigtest_make("rsa1024", "Weak");
    HBTEST_ASSERT_FAIL(hb_manifest_write_signed(m, weak.cert, sigtest_sign, weak.key, &xml, &len,
                                                &err), HB_E_VERIFY, &err,
                       "RSA-1024; only RSA of 2048");
    sigtest_free(&weak);
    weak = sigtest_make("p521", "P-521");
    HBTEST_ASSERT_FAIL(hb_manifest_write_signed(m, weak.cert, sigtest_sign, weak.key, &xml, &len,
                                                &err), HB_E_VERIFY, &err, "only P-256 and P-384");
    sigtest_free(&weak);
    CU_ASSERT_PTR_NULL(xml);
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, rsa_signer.cert, sigtest_sign, rsa_signer.key,
                                              &xml, &len, &err), &err);
    free(xml);
    hb_manifest_free(m);
    hb_manifest_free(NULL);
}

static void test_ecdsa_length_checked(void)
{
    setup_keys();
    char *xml = sample_xml(&ec_signer);
    /* 64 bytes of r||s for P-256 -> base64 of 88 chars; cut one group. */
    const char *sv = strstr(xml, "<SignatureValue>") + strlen("<SignatureValue>");
    char val[100];
    memcpy(val, sv, 88);
    val[88] = '\0';
    char shorter[100];
    memcpy(shorter, val, 84);
    shorter[84] = '\0';
    expect_edit_rejected(xml, val, shorter,
                         "an ECDSA SignatureValue on this curve is 64 bytes, not 63");
    free(xml);
}

/* <sequence> (DESIGN §4.3): written when set, read back, absent reads as 0
 * (manifests made before it), anything but 1..2^63-1 refused by the schema
 * and the builder; an edit after signing breaks the signature. */
static void test_sequence(void)
{
    hb_err err = {0};
    hb_manifest *back = NULL;
    setup_keys();
    hb_manifest *m = sample();
    CU_ASSERT_EQUAL(hb_manifest_sequence(m), 0);
    HBTEST_ASSERT_OK(hb_manifest_set_sequence(m, 42, &err), &err);
    char *xml = write_signed(m, &rsa_signer);
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<created>2026-11-29T19:00:00Z</created>\n    "
                                       "<sequence>42</sequence>\n    <tool>"));
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    CU_ASSERT_EQUAL(hb_manifest_sequence(back), 42);
    assert_same(m, back);
    hb_manifest_free(back);
    back = NULL;
    expect_edit_rejected(xml, "<sequence>42<", "<sequence>43<", "digest mismatch");
    free(xml);

    /* The largest one, then none. */
    HBTEST_ASSERT_OK(hb_manifest_set_sequence(m, UINT64_C(9223372036854775807), &err), &err);
    xml = write_signed(m, &rsa_signer);
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    CU_ASSERT_EQUAL(hb_manifest_sequence(back), UINT64_C(9223372036854775807));
    hb_manifest_free(back);
    back = NULL;
    free(xml);
    xml = sample_xml(&rsa_signer);
    CU_ASSERT_PTR_NULL(strstr(xml, "<sequence>"));
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    CU_ASSERT_EQUAL(hb_manifest_sequence(back), 0);
    hb_manifest_free(back);
    free(xml);

    HBTEST_ASSERT_STATUS(hb_manifest_set_sequence(m, 0, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_sequence(m, UINT64_C(9223372036854775808), &err),
                         HB_E_USAGE, &err);
    hb_manifest_free(m);

    /* Signed, but not a sequence the schema allows. */
    static const char *const bad[] = {"0", "007", "-1", "+5", "1.5", "",
                                      "9223372036854775808", "99999999999999999999", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char to[64];
        snprintf(to, sizeof to, "</created><sequence>%s</sequence>", bad[i]);
        expect_resigned_rejected("</created>", to, "does not match the schema");
    }
    /* The schema collapses whitespace around an integer; the reader does not. */
    expect_resigned_rejected("</created>", "</created><sequence> 5</sequence>",
                             "manifest is invalid: line 3: backup sequence ' 5' is not a number "
                             "1..2^63-1");
    /* In the wrong place, or twice. */
    expect_resigned_rejected("</id>", "</id><sequence>5</sequence>", "does not match the schema");
    expect_resigned_rejected("</created>", "</created><sequence>5</sequence><sequence>6"
                             "</sequence>", "does not match the schema");
}

/* <transcript> (docs/FORMAT.md §10): written when set, between <sequence>
 * and <tool>, read back, signed; absent reads as no pin; anything but an
 * entry count 1..2^63-1 and 64 lowercase hex digits refused. */
static void test_transcript_pin(void)
{
    static const char head[] = "3f1c0000000000000000000000000000000000000000000000000000000000ab";
    hb_err err = {0};
    hb_manifest *back = NULL;
    setup_keys();
    hb_manifest *m = sample();
    CU_ASSERT_EQUAL(hb_manifest_transcript_seq(m), 0);
    CU_ASSERT_PTR_NULL(hb_manifest_transcript_head(m));
    HBTEST_ASSERT_OK(hb_manifest_set_sequence(m, 42, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_transcript(m, 7, head, &err), &err);
    char *xml = write_signed(m, &rsa_signer);
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<sequence>42</sequence>\n    <transcript>\n      "
                                       "<seq>7</seq>\n      <head>3f1c"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "ab</head>\n    </transcript>\n    <tool>"));
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    CU_ASSERT_EQUAL(hb_manifest_transcript_seq(back), 7);
    CU_ASSERT_STRING_EQUAL(hb_manifest_transcript_head(back), head);
    assert_same(m, back);
    hb_manifest_free(back);
    back = NULL;
    expect_edit_rejected(xml, "<seq>7<", "<seq>6<", "digest mismatch");
    expect_edit_rejected(xml, "<head>3f1c", "<head>3f1d", "digest mismatch");
    free(xml);
    /* None: not written, read as no pin. */
    xml = sample_xml(&rsa_signer);
    CU_ASSERT_PTR_NULL(strstr(xml, "<transcript>"));
    HBTEST_ASSERT_OK(read_str(xml, &back, NULL, &err), &err);
    CU_ASSERT_EQUAL(hb_manifest_transcript_seq(back), 0);
    CU_ASSERT_PTR_NULL(hb_manifest_transcript_head(back));
    hb_manifest_free(back);
    free(xml);

    HBTEST_ASSERT_STATUS(hb_manifest_set_transcript(m, 0, head, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_transcript(m, 1, "3F1C", &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_set_transcript(m, 1, NULL, &err), HB_E_USAGE, &err);
    hb_manifest_free(m);

    /* Signed, but not a pin the schema allows. */
    char to[256];
    static const char *const bad_seq[] = {"0", "007", "-1", "", "9223372036854775808", "x"};
    for (size_t i = 0; i < sizeof bad_seq / sizeof bad_seq[0]; i++) {
        snprintf(to, sizeof to, "</created><transcript><seq>%s</seq><head>%s</head></transcript>",
                 bad_seq[i], head);
        expect_resigned_rejected("</created>", to, "does not match the schema");
    }
    snprintf(to, sizeof to, "</created><transcript><seq>1</seq><head>%.63s</head></transcript>",
             head);
    expect_resigned_rejected("</created>", to, "does not match the schema");
    snprintf(to, sizeof to, "</created><transcript><seq>1</seq><head>3F1C%s</head></transcript>",
             head + 4);
    expect_resigned_rejected("</created>", to, "does not match the schema");
    expect_resigned_rejected("</created>", "</created><transcript><seq>1</seq></transcript>",
                             "does not match the schema");
    /* The schema collapses whitespace around an integer; the reader does not. */
    snprintf(to, sizeof to, "</created><transcript><seq> 5</seq><head>%s</head></transcript>",
             head);
    expect_resigned_rejected("</created>", to, "manifest is invalid: line 5: transcript pin ' 5' '3f1c");
    /* In the wrong place. */
    snprintf(to, sizeof to, "</tool><transcript><seq>5</seq><head>%s</head></transcript>", head);
    expect_resigned_rejected("</tool>", to, "does not match the schema");
}

static void teardown_keys(void)
{
    sigtest_free(&rsa_signer);
    sigtest_free(&ec_signer);
    sigtest_free(&p384_signer);
    sigtest_free(&other_signer);
    sigtest_free(&recip1);
    sigtest_free(&recip2);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"uuid v4 and RFC 3339 time", test_uuid_and_time},
        {"round trip, RSA signer", test_round_trip_rsa},
        {"round trip, ECDSA P-256 and P-384 signers", test_round_trip_ecdsa},
        {"round trip, minimal manifest", test_minimal_round_trip},
        {"xmlsec1 --verify accepts RSA, refuses tampered", test_xmlsec1_verifies_rsa},
        {"xmlsec1 --verify accepts ECDSA, refuses tampered", test_xmlsec1_verifies_ecdsa},
        {"changed field: digest mismatch", test_changed_field_digest_mismatch},
        {"changed SignedInfo: value mismatch", test_changed_signed_info_fails},
        {"re-signed by another key: read, other signer returned", test_other_signer_returned},
        {"signature placement and wrapping", test_signature_placement},
        {"signature form and algorithms", test_signature_form},
        {"DTD, external subset, billion laughs", test_dtd_rejected},
        {"oversize refused", test_oversize_refused},
        {"schema failures", test_schema_failures},
        {"signed but inconsistent", test_semantic_failures},
        {"truncated, garbage, comments, PIs", test_garbage_rejected},
        {"builder rejections", test_builder_rejects},
        {"ECDSA signature length", test_ecdsa_length_checked},
        {"sequence: written, read, absent, refused", test_sequence},
        {"transcript pin: written, read, signed, absent, refused", test_transcript_pin},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"manifest", cases, .teardown = teardown_keys});
}
