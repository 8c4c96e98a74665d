/* backup/custody/ceremony.c through the library API on SoftHSM tokens:
 * enroll (self-signed and CSR), import-cert, quorum, retire and
 * verify-transcript, each with its refusals, and the audit line every
 * ceremony writes whatever its outcome. The cases run in order on one
 * system root. */
#include "token_helpers.h"

#include "hbfixture.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/recipients.h"
#include "common/fileio.h"
#include "hsmbak/custody.h"
#include "hsmbak/keygen.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"
#include "hsmbak/url.h"

#include <limits.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static hbfix_appliance app;
static EVP_PKEY *ca_key; /* software CA that signs dave's CSR */

static const char *const ALICE[] = {"alice"};
static const char *const BOB[] = {"bob", "Bob Deputy"};
static const char *const CAROL[] = {"carol"};
static const char *const DAVE[] = {"dave"};

static char *slurp(const char *path)
{
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_read_file(path, 1 << 22, &data, &len, &err), &err);
    return (char *)data;
}

static void put(const char *path, const char *text)
{
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_write_file_atomic(path, text, strlen(text), 0600, &err), &err);
}

static bool exists(const char *rel)
{
    char p[2 * PATH_MAX];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", app.root, rel);
    return stat(p, &sb) == 0;
}

/* The last audit line mentions op and fragment. */
static void assert_audited(const char *op, const char *fragment)
{
    char *log = slurp(app.audit);
    size_t n = strlen(log);
    while (n > 0 && log[n - 1] == '\n')
        log[--n] = '\0';
    char *last = strrchr(log, '\n');
    last = last != NULL ? last + 1 : log;
    char want[128];
    snprintf(want, sizeof want, "op=%s ", op);
    if (strstr(last, want) == NULL || strstr(last, fragment) == NULL)
        fprintf(stderr, "  last audit line '%s' lacks '%s' or '%s'\n", last, want, fragment);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(last, fragment));
    free(log);
}

static hb_enroll_request enrollment(int token, const char *name, const char *const *custodians,
                                    size_t n)
{
    hb_enroll_request r = {.root = app.root, .token_uri = th_token_uri(token),
                           .custodians = custodians, .n_custodians = n, .name = name,
                           .key_type = HB_KEY_RSA2048};
    return r;
}

static hb_custody *custody(void)
{
    hb_err err = {0};
    hb_custody *c = NULL;
    HBTEST_ASSERT_OK(hb_custody_load(app.root, &c, &err), &err);
    return c;
}

static void test_refusals_before_a_signer(void)
{
    hb_err err = {0};
    hb_enroll_result res;
    hb_enroll_request r = enrollment(0, "alice", ALICE, 1);
    /* The ceremony cannot be recorded: it does not start. */
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "no backup signer is set");
    HBTEST_ASSERT_MSG(&err, "every ceremony is recorded in a transcript signed by it");
    assert_audited("ceremony-enroll", "outcome=refused");
    CU_ASSERT_FALSE(exists("config/custody.xml"));
    CU_ASSERT_FALSE(exists("config/custody-transcript.xml"));
    hb_enroll_result_free(&res);
    HBTEST_ASSERT_FAIL(hb_ceremony_verify_transcript(app.prov, app.root, NULL, NULL, &err),
                       HB_E_REFUSED, &err, "no backup signer is set");
    assert_audited("ceremony-verify-transcript", "outcome=refused");

    /* Refused before anything is read, and audited all the same. */
    r.n_custodians = 0;
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "--custodian");
    assert_audited("ceremony-enroll", "outcome=failed");
    r = enrollment(0, "alice", ALICE, 1);
    r.key_type = HB_KEY_EC_P256;
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "must be RSA");
    r = enrollment(0, "al/ice", ALICE, 1);
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "may only use letters");
    r = enrollment(0, "a-name-that-is-far-too-long-for-an-enrollment-of-sixty-four-chars-x",
                   ALICE, 1);
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "--name is too long");
    r = enrollment(0, "alice", ALICE, 1);
    r.token_uri = "token=hsmbak-test";
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "pkcs11:token=LABEL");
    static const char *const nobody[] = {""};
    r = enrollment(0, "alice", nobody, 1);
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_USAGE, &err,
                       "custodian name '' must be 1..128 printable characters");
    hb_enroll_result_free(&res);
}

/* The backup signer: an RSA key on token 0 with its self-signed
 * certificate, as 'crypto keygen --usage signer' makes it. */
static void test_backup_signer(void)
{
    hb_err err = {0};
    hb_keygen_result kr;
    hb_keygen_request kq = {.root = app.root, .token_uri = th_token_uri(0),
                            .dn = {.cn = "Ceremony Signer"}, .key_type = HB_KEY_RSA3072,
                            .usage = HB_USAGE_SIGNER, .gen_sscert = true,
                            .file_name = "ceremony-signer", .gen_object = true};
    HBTEST_ASSERT_OK(hb_keygen(app.prov, &kq, &kr, &err), &err);
    hb_object_store *s = hbfix_objects(app.root);
    bool created;
    HBTEST_ASSERT_OK(hb_objects_set_idcred(s, "ceremony-signer", "ceremony-signer",
                                           "ceremony-signer", &created, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_objects_set_backup_signer(s, "ceremony-signer", &err), &err);
    hbfix_objects_save(s);
    /* No ceremony yet: nothing to verify. */
    HBTEST_ASSERT_FAIL(hb_ceremony_verify_transcript(app.prov, app.root, NULL, NULL, &err),
                       HB_E_NOT_FOUND, &err, "no ceremony has been held on this system");
}

static void test_enroll_self_signed(void)
{
    hb_err err = {0};
    hb_enroll_result res;
    hb_enroll_request r = enrollment(0, "alice", ALICE, 1);
    HBTEST_ASSERT_OK(hb_ceremony_enroll(app.prov, &r, &res, &err), &err);
    CU_ASSERT_STRING_EQUAL(res.name, "alice");
    CU_ASSERT_EQUAL(strlen(res.fingerprint), 64);
    CU_ASSERT_STRING_EQUAL(res.token_label, "hsmbak-test");
    CU_ASSERT_EQUAL(strlen(res.token_serial), 16);
    CU_ASSERT_STRING_EQUAL(res.cert_url, "cert:///alice-sscert.pem");
    CU_ASSERT_STRING_EQUAL(res.csr_url, "");
    CU_ASSERT_STRING_EQUAL(res.key_uri, "pkcs11:token=hsmbak-test;object=alice;type=private");
    /* SoftHSM 2.6.1 unwraps RSA-OAEP with SHA-1 only: probed, not assumed. */
    CU_ASSERT_EQUAL(res.key_wrap, HB_OAEP_SHA1);
    CU_ASSERT_EQUAL(res.warnings.n, 0);
    assert_audited("ceremony-enroll", res.fingerprint);
    hb_key_attrs a;
    HBTEST_ASSERT_OK(hb_token_key_attrs(app.prov, res.key_uri, &a, &err), &err);
    CU_ASSERT_FALSE(a.extractable);
    CU_ASSERT_TRUE(a.sensitive);
    CU_ASSERT_FALSE(a.sign);
    CU_ASSERT_TRUE(a.decrypt && a.unwrap);
    hb_enroll_result_free(&res);

    /* Named from the CN when no name is given; two custodians. */
    r = enrollment(1, NULL, BOB, 2);
    r.cn = "bob";
    HBTEST_ASSERT_OK(hb_ceremony_enroll(app.prov, &r, &res, &err), &err);
    CU_ASSERT_STRING_EQUAL(res.name, "bob");
    CU_ASSERT_STRING_EQUAL(res.token_label, "hsmbak-test2");
    hb_enroll_result_free(&res);
    r = enrollment(2, "carol", CAROL, 1);
    r.key_type = HB_KEY_RSA3072;
    HBTEST_ASSERT_OK(hb_ceremony_enroll(app.prov, &r, &res, &err), &err);
    hb_enroll_result_free(&res);

    hb_custody *c = custody();
    CU_ASSERT_EQUAL_FATAL(hb_custody_n_enrollments(c), 3);
    const hb_enrollment *bob = hb_custody_find(c, "bob");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bob);
    CU_ASSERT_EQUAL(bob->state, HB_ENROLL_ACTIVE);
    CU_ASSERT_EQUAL_FATAL(bob->n_custodians, 2);
    CU_ASSERT_STRING_EQUAL(bob->custodians[1], "Bob Deputy");
    CU_ASSERT_STRING_EQUAL(bob->subject, "CN=bob");
    CU_ASSERT_PTR_NOT_NULL(bob->cert_der);
    hb_custody_free(c);
    hb_object_store *s = hbfix_objects(app.root);
    CU_ASSERT_PTR_NOT_NULL(hb_objects_find(s, HB_OBJECT_IDCRED, "carol"));
    hb_objects_free(s);

    /* A name is taken once, whatever holds it. */
    r = enrollment(0, "alice", ALICE, 1);
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "an enrollment or quorum group named 'alice' exists");
    r = enrollment(0, "ceremony-signer", ALICE, 1);
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_REFUSED, &err,
                       "an idcred named 'ceremony-signer' exists");
    /* Several tokens selected: never a guess. */
    r = enrollment(0, "erin", ALICE, 1);
    r.token_uri = "pkcs11:manufacturer=SoftHSM%20project";
    HBTEST_ASSERT_FAIL(hb_ceremony_enroll(app.prov, &r, &res, &err), HB_E_NOT_FOUND, &err,
                       "tokens; name exactly one");
    hb_enroll_result_free(&res);
}

/* dave's CSR, signed by the software CA, written to temporary:///NAME. */
static void ca_sign(const char *csr_rel, EVP_PKEY *other, const char *out_rel)
{
    char p[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", app.root, csr_rel);
    FILE *f = fopen(p, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    X509_REQ *req = PEM_read_X509_REQ(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    X509 *cert = th_make_cert(hb_provider_libctx(app.prov),
                              other != NULL ? other : X509_REQ_get0_pubkey(req), ca_key,
                              "Dave Backup", 0, 365);
    snprintf(p, sizeof p, "%s/%s", app.root, out_rel);
    f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(PEM_write_X509(f, cert) == 1);
    fclose(f);
    X509_free(cert);
    X509_REQ_free(req);
}

static void test_enroll_csr_and_import(void)
{
    hb_err err = {0};
    hb_enroll_result res;
    hb_enroll_request r = enrollment(0, "dave", DAVE, 1);
    r.csr = true;
    r.cn = "Dave Backup";
    HBTEST_ASSERT_OK(hb_ceremony_enroll(app.prov, &r, &res, &err), &err);
    CU_ASSERT_STRING_EQUAL(res.csr_url, "temporary:///dave.csr");
    CU_ASSERT_STRING_EQUAL(res.fingerprint, "");
    CU_ASSERT_STRING_EQUAL(res.cert_url, "");
    CU_ASSERT_EQUAL(res.key_wrap, HB_OAEP_SHA1); /* probed with the public key alone */
    hb_enroll_result_free(&res);
    hb_custody *c = custody();
    CU_ASSERT_EQUAL(hb_custody_find(c, "dave")->state, HB_ENROLL_PENDING);
    CU_ASSERT_STRING_EQUAL(hb_custody_find(c, "dave")->subject, "Dave Backup");
    hb_custody_free(c);
    /* A pending enrollment is no recipient yet. */
    hb_recipient_set rs = {0};
    const char *names[] = {"dave"};
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(app.root, app.prov, names, 1, &rs, &err),
                       HB_E_REFUSED, &err, "still waiting for its CA-signed certificate");

    char fp[65] = "";
    ca_key = th_soft_key(hb_provider_libctx(app.prov), 2048, NULL);
    EVP_PKEY *other = th_soft_key(hb_provider_libctx(app.prov), 2048, NULL);
    ca_sign("temporary/dave.csr", other, "temporary/other.pem");
    EVP_PKEY_free(other);
    HBTEST_ASSERT_FAIL(hb_ceremony_import_cert(app.prov, app.root, "dave", "temporary:///other.pem",
                                               DAVE, 1, fp, 0, &err), HB_E_REFUSED, &err,
                       "not for the key enrolled as 'dave'");
    assert_audited("ceremony-import-cert", "outcome=refused");
    CU_ASSERT_FALSE(exists("cert/dave-cert.pem"));
    HBTEST_ASSERT_FAIL(hb_ceremony_import_cert(app.prov, app.root, "alice",
                                               "temporary:///other.pem", ALICE, 1, fp, 0, &err),
                       HB_E_REFUSED, &err, "is active, not waiting for a certificate");
    HBTEST_ASSERT_FAIL(hb_ceremony_import_cert(app.prov, app.root, "nobody",
                                               "temporary:///other.pem", ALICE, 1, fp, 0, &err),
                       HB_E_NOT_FOUND, &err, "no enrollment named 'nobody'");

    ca_sign("temporary/dave.csr", NULL, "temporary/dave.pem");
    HBTEST_ASSERT_OK(hb_ceremony_import_cert(app.prov, app.root, "dave", "temporary:///dave.pem",
                                             DAVE, 1, fp, 0, &err), &err);
    CU_ASSERT_EQUAL(strlen(fp), 64);
    CU_ASSERT_TRUE(exists("cert/dave-cert.pem"));
    c = custody();
    const hb_enrollment *dave = hb_custody_find(c, "dave");
    CU_ASSERT_EQUAL(dave->state, HB_ENROLL_ACTIVE);
    CU_ASSERT_STRING_EQUAL(dave->fingerprint, fp);
    CU_ASSERT_STRING_EQUAL(dave->subject, "CN=Dave Backup");
    hb_custody_free(c);
    HBTEST_ASSERT_OK(hb_recipient_set_resolve(app.root, app.prov, names, 1, &rs, &err), &err);
    CU_ASSERT_EQUAL(rs.n_singles, 1);
    hb_recipient_set_free(&rs);
}

static void test_quorum(void)
{
    hb_err err = {0};
    const char *three[] = {"alice", "bob", "carol"};
    /* A threshold above the members, or below two: no quorum. */
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "vault", 4, three, 3, ALICE, 1, 0, &err),
                       HB_E_USAGE, &err, "2 <= --threshold (4) <= members (3)");
    assert_audited("ceremony-quorum", "group=vault");
    HBTEST_ASSERT_STATUS(hb_ceremony_quorum(app.prov, app.root, "vault", 1, three, 3, ALICE, 1,
                                            0, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "Vault!", 2, three, 3, ALICE, 1,
                                          0, &err),
                       HB_E_USAGE, &err, "must match [a-z0-9][a-z0-9-]*");
    const char *twice[] = {"alice", "bob", "alice"};
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "vault", 2, twice, 3, ALICE, 1, 0, &err),
                       HB_E_USAGE, &err, "quorum member 'alice' is named twice");
    const char *ghost[] = {"alice", "ghost"};
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "vault", 2, ghost, 2, ALICE, 1, 0, &err),
                       HB_E_NOT_FOUND, &err, "quorum member 'ghost' is not an enrollment");
    HBTEST_ASSERT_STATUS(hb_ceremony_quorum(app.prov, app.root, "alice", 2, three, 3, ALICE, 1,
                                            0, &err), HB_E_REFUSED, &err);

    HBTEST_ASSERT_OK(hb_ceremony_quorum(app.prov, app.root, "vault", 2, three, 3, ALICE, 1, 0, &err),
                     &err);
    hb_custody *c = custody();
    const hb_quorum_group *g = hb_custody_find_group(c, "vault");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->threshold, 2);
    CU_ASSERT_EQUAL_FATAL(g->n_members, 3);
    CU_ASSERT_STRING_EQUAL(g->members[2], hb_custody_find(c, "carol")->fingerprint);
    CU_ASSERT_FALSE(g->retired);
    hb_custody_free(c);
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "vault", 2, three, 3, ALICE, 1, 0, &err),
                       HB_E_REFUSED, &err, "named 'vault' exists");
    /* The default recipients: the group, and dave (in no group). */
    hb_recipient_set rs = {0};
    HBTEST_ASSERT_OK(hb_recipient_set_resolve(app.root, app.prov, NULL, 0, &rs, &err), &err);
    CU_ASSERT_EQUAL(rs.n_groups, 1);
    CU_ASSERT_EQUAL(rs.n_singles, 1);
    CU_ASSERT_STRING_EQUAL(rs.singles[0].label, "enrolled recipient 'dave'");
    hb_recipient_set_free(&rs);
}

static void test_retire(void)
{
    hb_err err = {0};
    char fp[65];
    HBTEST_ASSERT_OK(hb_ceremony_retire(app.prov, app.root, "dave", DAVE, 1, 0, &err), &err);
    assert_audited("ceremony-retire", "outcome=ok");
    HBTEST_ASSERT_FAIL(hb_ceremony_retire(app.prov, app.root, "dave", DAVE, 1, 0, &err), HB_E_REFUSED,
                       &err, "'dave' is already retired");
    assert_audited("ceremony-retire", "outcome=refused");
    HBTEST_ASSERT_STATUS(hb_ceremony_retire(app.prov, app.root, "nobody", DAVE, 1, 0, &err),
                         HB_E_NOT_FOUND, &err);
    /* A retired enrollment: no quorum member, no new certificate, no backups. */
    const char *with_dave[] = {"alice", "dave"};
    HBTEST_ASSERT_FAIL(hb_ceremony_quorum(app.prov, app.root, "pair", 2, with_dave, 2, ALICE, 1,
                                          0, &err), HB_E_REFUSED, &err,
                       "quorum member 'dave' is retired, not active");
    HBTEST_ASSERT_FAIL(hb_ceremony_import_cert(app.prov, app.root, "dave", "temporary:///dave.pem",
                                               DAVE, 1, fp, 0, &err), HB_E_REFUSED, &err,
                       "is retired, not waiting for a certificate");
    hb_recipient_set rs = {0};
    const char *names[] = {"dave"};
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(app.root, app.prov, names, 1, &rs, &err),
                       HB_E_REFUSED, &err, "was retired on");
    /* ... also when named through a certificate object of the same certificate. */
    hb_object_store *s = hbfix_objects(app.root);
    bool created;
    HBTEST_ASSERT_OK(hb_objects_set_certificate(s, "dave-copy", "cert:///dave-cert.pem", false,
                                                false, HB_OAEP_SHA1, &created, &err),
                     &err);
    hbfix_objects_save(s);
    names[0] = "dave-copy";
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(app.root, app.prov, names, 1, &rs, &err),
                       HB_E_REFUSED, &err, "was retired on");
    hb_custody *c = custody();
    CU_ASSERT_EQUAL(hb_custody_find(c, "dave")->state, HB_ENROLL_RETIRED);
    CU_ASSERT_EQUAL(strlen(hb_custody_find(c, "dave")->retired), 20);
    hb_custody_free(c);

    HBTEST_ASSERT_OK(hb_ceremony_retire(app.prov, app.root, "vault", ALICE, 1, 0, &err), &err);
    c = custody();
    CU_ASSERT_TRUE(hb_custody_find_group(c, "vault")->retired);
    hb_custody_free(c);
    HBTEST_ASSERT_STATUS(hb_ceremony_retire(app.prov, app.root, "vault", ALICE, 1, 0, &err),
                         HB_E_REFUSED, &err);
}

static void test_verify_transcript(void)
{
    hb_err err = {0};
    hb_transcript *t = NULL;
    hb_strlist warnings = {0};
    HBTEST_ASSERT_OK(hb_ceremony_verify_transcript(app.prov, app.root, &t, &warnings, &err), &err);
    assert_audited("ceremony-verify-transcript", "outcome=ok");
    /* enroll x4, import-cert, quorum, retire dave, retire vault */
    static const char *const whats[] = {"enroll", "enroll", "enroll", "enroll",
                                        "import-cert", "quorum", "retire", "retire"};
    CU_ASSERT_EQUAL_FATAL(t->n, 8);
    for (size_t i = 0; i < t->n; i++) {
        CU_ASSERT_EQUAL(t->entries[i].seq, i + 1);
        CU_ASSERT_STRING_EQUAL(t->entries[i].what, whats[i]);
        CU_ASSERT_STRING_EQUAL(t->entries[i].prev, i == 0 ? t->anchor : t->entries[i - 1].hash);
    }
    CU_ASSERT_STRING_EQUAL(t->entries[1].who, "bob, Bob Deputy");
    CU_ASSERT_EQUAL(t->entries[5].n_fingerprints, 3);
    CU_ASSERT_EQUAL(t->entries[3].n_fingerprints, 0); /* a CSR has no certificate yet */
    CU_ASSERT_PTR_NOT_NULL(strstr(t->entries[0].detail, "key-wrap rsa-oaep-sha1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t->signer_subject, "Ceremony Signer"));
    hb_transcript_free(t);
    t = NULL;
    hb_strlist_free(&warnings);

    /* An altered entry is found, and nothing is appended after it. */
    char transcript[PATH_MAX + 64];
    snprintf(transcript, sizeof transcript, "%s/config/custody-transcript.xml", app.root);
    char *good = slurp(transcript);
    char *bad = sigtest_replace(good, "<who>bob, Bob Deputy</who>", "<who>mallory</who>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    put(transcript, bad);
    HBTEST_ASSERT_FAIL(hb_ceremony_verify_transcript(app.prov, app.root, &t, &warnings, &err),
                       HB_E_VERIFY, &err, "transcript entry 2 (seq 2, 'enroll'");
    HBTEST_ASSERT_MSG(&err, "was altered");
    CU_ASSERT_PTR_NULL(t);
    assert_audited("ceremony-verify-transcript", "outcome=failed");
    HBTEST_ASSERT_FAIL(hb_ceremony_retire(app.prov, app.root, "alice", ALICE, 1, 0, &err), HB_E_VERIFY,
                       &err, "nothing is appended to a transcript that does not verify");
    hb_custody *c = custody();
    CU_ASSERT_EQUAL(hb_custody_find(c, "alice")->state, HB_ENROLL_ACTIVE);
    hb_custody_free(c);
    put(transcript, good);
    HBTEST_ASSERT_OK(hb_ceremony_verify_transcript(app.prov, app.root, NULL, &warnings, &err),
                     &err);
    free(bad);
    free(good);
    hb_strlist_free(&warnings);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"no backup signer: refused, audited, nothing written", test_refusals_before_a_signer},
        {"the backup signer is set up", test_backup_signer},
        {"enroll self-signed: probed key-wrap, sealed key, names taken once",
         test_enroll_self_signed},
        {"enroll with a CSR, import the CA-signed certificate", test_enroll_csr_and_import},
        {"quorum: threshold too high or low, bad names, duplicates", test_quorum},
        {"retire: an enrollment and a group, then refused everywhere", test_retire},
        {"verify-transcript: every ceremony, chained; an altered entry", test_verify_transcript},
        {NULL, NULL},
    };
    int rc = hbfix_appliance_main("ceremony", cases, &app);
    EVP_PKEY_free(ca_key);
    return rc;
}
