/* backup/custody.c and backup/recipients.c without a token: the custody
 * store's reader and writer, lookups by name and fingerprint prefix, expiry
 * warnings, and recipient-set resolution from enrollments and groups. */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/recipients.h"
#include "common/encode.h"
#include "common/fileio.h"

#include <sys/stat.h>
#include <unistd.h>

static char *root;
static char path[4096];

typedef struct enrolled {
    sigtest_key k;
    char fp[65];
    char *cert_b64, *spki_b64;
} enrolled;

static enrolled make(const char *cn, long days)
{
    enrolled e = {0};
    hb_err err;
    e.k.key = sigtest_keygen("rsa2048");
    e.k.cert = sigtest_cert(e.k.key, cn);
    X509_gmtime_adj(X509_getm_notAfter(e.k.cert), days * 86400L);
    X509_sign(e.k.cert, e.k.key, EVP_sha256());
    unsigned char *der = NULL, *spki = NULL;
    int n = i2d_X509(e.k.cert, &der), m = i2d_PUBKEY(e.k.key, &spki);
    CU_ASSERT_FATAL(n > 0 && m > 0);
    CU_ASSERT_FATAL(hb_sha256_hex(der, (size_t)n, e.fp, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_base64_encode(der, (size_t)n, &e.cert_b64, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_base64_encode(spki, (size_t)m, &e.spki_b64, &err) == HB_OK);
    OPENSSL_free(der);
    OPENSSL_free(spki);
    return e;
}

static void drop(enrolled *e)
{
    sigtest_free(&e->k);
    free(e->cert_b64);
    free(e->spki_b64);
}

static void add_enrollment(char *buf, size_t cap, const char *name, const char *state,
                           const enrolled *e)
{
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used,
             "<enrollment name=\"%s\" state=\"%s\"><subject>CN=%s</subject>"
             "<fingerprint>%s</fingerprint><token label=\"t\" serial=\"0123456789abcdef\"/>"
             "<key-uri>pkcs11:token=t;object=%s;type=private</key-uri>"
             "<key-wrap>rsa-oaep-sha1</key-wrap><custodian>%s</custodian>"
             "<enrolled>2026-11-29T20:00:00Z</enrolled><not-after>2030-01-01T00:00:00Z</not-after>"
             "%s<public-key>%s</public-key><certificate>%s</certificate></enrollment>",
             name, state, name, e->fp, name, name,
             strcmp(state, "retired") == 0 ? "<retired>2026-11-29T21:00:00Z</retired>" : "",
             e->spki_b64, e->cert_b64);
}

static void write_store(const char *body)
{
    hb_err err;
    char text[65536];
    snprintf(text, sizeof text, "<?xml version=\"1.0\"?>\n<custody xmlns=\"urn:hsmbak:custody:1\" "
             "format=\"1\">%s</custody>\n", body);
    CU_ASSERT_EQUAL_FATAL(hb_write_file_atomic(path, text, strlen(text), 0600, &err), HB_OK);
}

static void setup(void)
{
    if (path[0] != '\0')
        return;
    hb_err err;
    char config[2048];
    snprintf(config, sizeof config, "%s/config", root);
    CU_ASSERT_EQUAL_FATAL(hb_mkdirs(config, 0700, &err), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb_path_join(path, sizeof path, config, "custody.xml", &err), HB_OK);
}

static void test_store_round_trip(void)
{
    hb_err err = {0};
    hb_custody *c = NULL, *c2 = NULL;
    setup();
    unlink(path);
    HBTEST_ASSERT_OK(hb_custody_load(root, &c, &err), &err); /* absent: empty */
    CU_ASSERT_EQUAL(hb_custody_n_enrollments(c), 0);
    hb_custody_free(c);
    c = NULL;

    enrolled a = make("A", 365), b = make("B", 10), r = make("R", 365);
    char body[60000] = "";
    add_enrollment(body, sizeof body, "alice", "active", &a);
    add_enrollment(body, sizeof body, "bob", "active", &b);
    add_enrollment(body, sizeof body, "old", "retired", &r);
    size_t used = strlen(body);
    snprintf(body + used, sizeof body - used,
             "<quorum name=\"vault\" threshold=\"2\" state=\"active\">"
             "<created>2026-11-29T20:00:00Z</created><member fingerprint=\"%s\"/>"
             "<member fingerprint=\"%s\"/></quorum>", a.fp, b.fp);
    write_store(body);
    HBTEST_ASSERT_OK(hb_custody_load(root, &c, &err), &err);
    CU_ASSERT_EQUAL_FATAL(hb_custody_n_enrollments(c), 3);
    CU_ASSERT_EQUAL_FATAL(hb_custody_n_groups(c), 1);
    const hb_enrollment *e = hb_custody_find(c, "bob");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->key_wrap, HB_OAEP_SHA1);
    CU_ASSERT_STRING_EQUAL(e->token_serial, "0123456789abcdef");
    char prefix[13];
    memcpy(prefix, a.fp, 12);
    prefix[12] = '\0';
    CU_ASSERT_PTR_EQUAL(hb_custody_find(c, prefix), hb_custody_find(c, "alice"));
    CU_ASSERT_PTR_EQUAL(hb_custody_find(c, a.fp), hb_custody_find(c, "alice"));
    CU_ASSERT_PTR_NULL(hb_custody_find(c, "abc"));       /* too short a prefix */
    CU_ASSERT_PTR_NULL(hb_custody_find(c, "nobody"));
    CU_ASSERT_EQUAL(hb_custody_find(c, "old")->state, HB_ENROLL_RETIRED);

    /* Expiry: bob within 30 days, alice not, the retired one never. */
    hb_strlist wl = {0};
    HBTEST_ASSERT_OK(hb_custody_expiry_warnings(c, time(NULL), &wl, &err), &err);
    char w[2048] = "";
    for (size_t i = 0; i < wl.n; i++)
        snprintf(w + strlen(w), sizeof w - strlen(w), "%s\n", wl.items[i]);
    hb_strlist_free(&wl);
    CU_ASSERT_PTR_NOT_NULL(strstr(w, "'bob'"));
    CU_ASSERT_PTR_NULL(strstr(w, "'alice'"));
    CU_ASSERT_PTR_NULL(strstr(w, "'old'"));

    /* Save and load again: the same records. */
    HBTEST_ASSERT_OK(hb_custody_save(c, &err), &err);
    HBTEST_ASSERT_OK(hb_custody_load(root, &c2, &err), &err);
    CU_ASSERT_EQUAL(hb_custody_n_enrollments(c2), 3);
    CU_ASSERT_STRING_EQUAL(hb_custody_find(c2, "old")->retired, "2026-11-29T21:00:00Z");
    CU_ASSERT_EQUAL(hb_custody_find_group(c2, "vault")->threshold, 2);
    CU_ASSERT_STRING_EQUAL(hb_custody_find_group(c2, "vault")->members[1], b.fp);
    hb_custody_free(c2);
    hb_custody_free(c);

    /* Recipient sets from the store need the signed transcript to vouch for
     * it (issue 15): a store written by hand, with no backup signer and no
     * transcript, gives no recipient, by default or by name. The set logic
     * itself is tested on real ceremonies (token/test_ceremony,
     * e2e/custody). */
    hb_recipient_set rs = {0};
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(root, NULL, NULL, 0, &rs, &err), HB_E_REFUSED,
                       &err, "no backup signer is set, so the ceremony transcript that vouches "
                       "for them cannot be checked");
    const char *names[] = {"alice", prefix};
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(root, NULL, names, 2, &rs, &err), HB_E_REFUSED,
                       &err, "holds 3 enrollment(s) and 1 quorum group(s)");
    /* A name that is not in the store is a certificate object: no check. */
    const char *unknown[] = {"nothing-here"};
    HBTEST_ASSERT_FAIL(hb_recipient_set_resolve(root, NULL, unknown, 1, &rs, &err), HB_E_NOT_FOUND,
                       &err, "no certificate object, enrolled recipient or quorum group");
    drop(&a);
    drop(&b);
    drop(&r);
}

static void test_store_rejects(void)
{
    hb_err err = {0};
    hb_custody *c = NULL;
    setup();
    enrolled a = make("A", 365), b = make("B", 365);
    char body[60000] = "";
    /* Certificate and fingerprint disagree. */
    add_enrollment(body, sizeof body, "alice", "active", &a);
    char *swapped = sigtest_replace(body, a.fp, b.fp);
    write_store(swapped);
    HBTEST_ASSERT_FAIL(hb_custody_load(root, &c, &err), HB_E_VERIFY, &err,
                       "certificate and fingerprint disagree");
    free(swapped);
    /* Defined twice. */
    add_enrollment(body, sizeof body, "alice", "active", &a);
    write_store(body);
    HBTEST_ASSERT_STATUS(hb_custody_load(root, &c, &err), HB_E_VERIFY, &err);
    /* Schema: a quorum with one member, a bad state. */
    write_store("<quorum name=\"q\" threshold=\"2\" state=\"active\"><created>2026-11-29T20:00:00Z"
                "</created><member fingerprint=\"0000000000000000000000000000000000000000000000"
                "000000000000000000\"/></quorum>");
    HBTEST_ASSERT_STATUS(hb_custody_load(root, &c, &err), HB_E_VERIFY, &err);
    body[0] = '\0';
    add_enrollment(body, sizeof body, "alice", "lost", &a);
    write_store(body);
    HBTEST_ASSERT_STATUS(hb_custody_load(root, &c, &err), HB_E_VERIFY, &err);
    /* No config folder: not a system root. */
    HBTEST_ASSERT_STATUS(hb_custody_load("/nonexistent-root", &c, &err), HB_E_NOT_FOUND, &err);
    CU_ASSERT_PTR_NULL(c);
    drop(&a);
    drop(&b);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"store round trip, lookups, expiry warnings, recipient sets", test_store_round_trip},
        {"store rejections", test_store_rejects},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"custody", cases, .scratch = &root});
}
