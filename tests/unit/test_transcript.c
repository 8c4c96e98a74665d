/* backup/transcript.c: the hash-chained, signed ceremony log. Software keys
 * stand in for the token's backup signer (same hb_sign_fn contract). */
#include "hbtest.h"
#include "sigtest.h"

#include "common/encode.h"
#include "common/fileio.h"
#include "hsmbak/custody.h"
#include "backup/custody/custody_internal.h"
#include "backup/custody/recipients.h"
#include "backup/custody/transcript.h"
#include "backup/custody/snapshot.h"
#include "common/buf.h"

static sigtest_key ec, rsa, other;
static char *dir;
static char path[4096];

static const char *const FP_A = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *const FP_B = "2222222222222222222222222222222222222222222222222222222222222222";

static void setup(void)
{
    if (dir != NULL)
        return;
    ec = sigtest_make("p256", "Backup Signer");
    rsa = sigtest_make("rsa2048", "RSA Signer");
    other = sigtest_make("p256", "Mallory");
    dir = hbtest_tempdir("transcript");
}

static void fresh(const sigtest_key *k, int entries)
{
    hb_err err = {0};
    snprintf(path, sizeof path, "%s/t-%d.xml", dir, rand());
    const char *fps[2] = {FP_A, FP_B};
    static const char *const whats[] = {"enroll", "enroll", "quorum", "retire"};
    for (int i = 0; i < entries; i++) {
        char who[32];
        snprintf(who, sizeof who, "custodian %d", i + 1);
        HBTEST_ASSERT_OK(hb_transcript_append(path, k->cert, sigtest_sign, k->key, who,
                                              whats[i % 4], "detail text", fps,
                                              (size_t)(i % 3), &err), &err);
    }
}

static char *slurp(void)
{
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err err;
    CU_ASSERT_EQUAL_FATAL(hb_read_file(path, 1 << 20, &data, &len, &err), HB_OK);
    return (char *)data;
}

static void put(const char *text)
{
    hb_err err;
    CU_ASSERT_EQUAL_FATAL(hb_write_file_atomic(path, text, strlen(text), 0600, &err), HB_OK);
}

/* Cut the text between the start of `from` and the start of `to`. */
static char *cut(const char *s, const char *from, const char *to)
{
    const char *a = strstr(s, from), *b = a ? strstr(a, to) : NULL;
    if (b == NULL)
        return NULL;
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    memcpy(out, s, (size_t)(a - s));
    memcpy(out + (a - s), b, n - (size_t)(b - s) + 1);
    return out;
}

/* The log text (freed here) does not verify, saying fragment. */
static void expect_bad(char *text, X509 *expected, const char *fragment)
{
    hb_err err = {0};
    hb_transcript *t = NULL;
    put(text);
    free(text);
    HBTEST_ASSERT_FAIL(hb_transcript_verify(path, expected, &t, &err), HB_E_VERIFY, &err, fragment);
    CU_ASSERT_PTR_NULL(t);
}

static void test_append_and_verify(void)
{
    hb_err err = {0};
    hb_transcript *t = NULL;
    setup();
    for (int k = 0; k < 2; k++) {
        const sigtest_key *s = k ? &rsa : &ec;
        fresh(s, 4);
        HBTEST_ASSERT_OK(hb_transcript_verify(path, s->cert, &t, &err), &err);
        CU_ASSERT_EQUAL_FATAL(t->n, 4);
        char fp[65];
        unsigned char *der = NULL;
        int n = i2d_X509(s->cert, &der);
        HBTEST_ASSERT_OK(hb_sha256_hex(der, (size_t)n, fp, &err), &err);
        OPENSSL_free(der);
        CU_ASSERT_STRING_EQUAL(t->anchor, fp);
        CU_ASSERT_STRING_EQUAL(t->entries[0].prev, fp);      /* anchored */
        for (size_t i = 1; i < t->n; i++)
            CU_ASSERT_STRING_EQUAL(t->entries[i].prev, t->entries[i - 1].hash);
        CU_ASSERT_EQUAL(t->entries[2].seq, 3);
        CU_ASSERT_STRING_EQUAL(t->entries[2].what, "quorum");
        CU_ASSERT_STRING_EQUAL(t->entries[1].who, "custodian 2");
        CU_ASSERT_EQUAL(t->entries[2].n_fingerprints, 2);
        CU_ASSERT_STRING_EQUAL(t->entries[2].fingerprints[1], FP_B);
        hb_transcript_free(t);
        t = NULL;
        /* NULL expected signer: the anchor alone. */
        HBTEST_ASSERT_OK(hb_transcript_verify(path, NULL, NULL, &err), &err);
    }
}

static void test_tamper_detected(void)
{
    setup();
    fresh(&ec, 4);
    char *good = slurp();
    char *s;
    /* Altered field. */
    expect_bad(sigtest_replace(good, "<who>custodian 2</who>", "<who>mallory</who>"), ec.cert,
               "transcript entry 2 (seq 2, 'enroll'");
    expect_bad(sigtest_replace(good, "<what>quorum</what>", "<what>retire</what>"), ec.cert,
               "was altered");
    /* Deleted entry in the middle, at the head. */
    expect_bad(cut(good, "<entry seq=\"2\">", "<entry seq=\"3\">"), ec.cert,
               "transcript entry 2 in file order has sequence number 3");
    expect_bad(cut(good, "<entry seq=\"1\">", "<entry seq=\"2\">"), ec.cert,
               "the start of the log is missing");
    /* Reordered: entry 3 before entry 2. */
    {
        const char *e2 = strstr(good, "<entry seq=\"2\">"), *e3 = strstr(good, "<entry seq=\"3\">"),
                   *e4 = strstr(good, "<entry seq=\"4\">");
        size_t n = strlen(good);
        s = malloc(n + 1);
        size_t o = 0;
        memcpy(s, good, (size_t)(e2 - good));
        o = (size_t)(e2 - good);
        memcpy(s + o, e3, (size_t)(e4 - e3));
        o += (size_t)(e4 - e3);
        memcpy(s + o, e2, (size_t)(e3 - e2));
        o += (size_t)(e3 - e2);
        memcpy(s + o, e4, n - (size_t)(e4 - good) + 1);
        expect_bad(s, ec.cert, "transcript entry 2 in file order has sequence number 3");
    }
    /* Expected signer differs from the anchor. */
    put(good);
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(hb_transcript_verify(path, other.cert, NULL, &err), HB_E_VERIFY, &err,
                       "anchored to signer 'CN=Backup Signer'");
    /* Nothing is appended to a broken log, nor by another signer. */
    s = sigtest_replace(good, "<who>custodian 3</who>", "<who>custodian 9</who>");
    put(s);
    HBTEST_ASSERT_FAIL(hb_transcript_append(path, ec.cert, sigtest_sign, ec.key, "x", "enroll", "d",
                                            NULL, 0, &err), HB_E_VERIFY, &err,
                       "nothing is appended");
    free(s);
    put(good);
    HBTEST_ASSERT_STATUS(hb_transcript_append(path, other.cert, sigtest_sign, other.key, "x",
                                              "enroll", "d", NULL, 0, &err), HB_E_VERIFY, &err);
    char *after = slurp();
    CU_ASSERT_STRING_EQUAL(after, good);
    free(after);
    free(good);
}

/* Mallory re-signs a whole new log with her own key: it verifies on its own
 * (it is a valid log), but not against the system's backup signer. */
static void test_replaced_log(void)
{
    hb_err err = {0};
    setup();
    fresh(&other, 2);
    HBTEST_ASSERT_OK(hb_transcript_verify(path, NULL, NULL, &err), &err);
    HBTEST_ASSERT_STATUS(hb_transcript_verify(path, ec.cert, NULL, &err), HB_E_VERIFY, &err);
    /* A signature by another key on an otherwise consistent entry. */
    fresh(&ec, 2);
    char *good = slurp();
    fresh(&other, 2);
    char *mine = slurp();
    /* Take Mallory's signature of entry 2 into the good log: hash still
     * matches its own content only if content is identical, which it is not
     * (prev differs), so use the anchor swap instead. */
    const char *ga = strstr(good, "<anchor"), *ge = strstr(good, "</anchor>");
    const char *ma = strstr(mine, "<anchor"), *me = strstr(mine, "</anchor>");
    size_t n = strlen(mine) + (size_t)(ge - ga) + 1;
    char *s = malloc(n);
    size_t o = (size_t)(ma - mine);
    memcpy(s, mine, o);
    memcpy(s + o, ga, (size_t)(ge - ga));
    o += (size_t)(ge - ga);
    memcpy(s + o, me, strlen(me) + 1);
    expect_bad(s, NULL, "transcript entry 1");
    free(good);
    free(mine);
}

static void test_absent_and_bad_input(void)
{
    hb_err err = {0};
    setup();
    snprintf(path, sizeof path, "%s/absent.xml", dir);
    HBTEST_ASSERT_STATUS(hb_transcript_verify(path, NULL, NULL, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_STATUS(hb_transcript_append(path, ec.cert, sigtest_sign, ec.key, "", "enroll",
                                              "d", NULL, 0, &err), HB_E_USAGE, &err);
    const char *bad_fp[1] = {"XYZ"};
    HBTEST_ASSERT_STATUS(hb_transcript_append(path, ec.cert, sigtest_sign, ec.key, "a", "enroll",
                                              "d", bad_fp, 1, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_transcript_append(path, ec.cert, sigtest_sign, ec.key, "a\x01",
                                              "enroll", "d", NULL, 0, &err), HB_E_USAGE, &err);
    put("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><transcript/>");
    HBTEST_ASSERT_STATUS(hb_transcript_verify(path, NULL, NULL, &err), HB_E_VERIFY, &err);
    put("<transcript xmlns=\"urn:hsmbak:transcript:1\" format=\"1\"/>");
    HBTEST_ASSERT_STATUS(hb_transcript_verify(path, NULL, NULL, &err), HB_E_VERIFY, &err);
}

/* ---- version 2: the custody snapshot and the proof of possession ---- */

static void be32(hb_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    CU_ASSERT_EQUAL_FATAL(hb_buf_add(b, x, 4, NULL), HB_OK);
}

static void lstr(hb_buf *b, const void *s, size_t n)
{
    be32(b, (uint32_t)n);
    if (n > 0)
        CU_ASSERT_EQUAL_FATAL(hb_buf_add(b, s, n, NULL), HB_OK);
}

static void zstr(hb_buf *b, const char *s)
{
    lstr(b, s, strlen(s));
}

static uint8_t *spki_of(EVP_PKEY *k, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    CU_ASSERT_FATAL(n > 0);
    *len = (size_t)n;
    return der;
}

/* alice (the rsa key, active), bob (pending); quorum vault 2 of 2. */
static hb_custody_snapshot example(const uint8_t *spki, size_t spki_len)
{
    static hb_snapshot_enrollment e[2];
    static hb_snapshot_group g[1];
    static char m[2][65];
    hb_err err;
    memset(e, 0, sizeof e);
    snprintf(e[0].name, sizeof e[0].name, "alice");
    memcpy(e[0].fingerprint, FP_A, 65);
    CU_ASSERT_EQUAL_FATAL(hb_sha256_hex(spki, spki_len, e[0].spki_sha256, &err), HB_OK);
    e[0].state = HB_ENROLL_ACTIVE;
    e[0].key_wrap = HB_OAEP_SHA1;
    snprintf(e[1].name, sizeof e[1].name, "bob");
    memset(e[1].spki_sha256, '3', 64);
    e[1].state = HB_ENROLL_PENDING;
    e[1].key_wrap = HB_OAEP_SHA256;
    memcpy(m[0], FP_A, 65);
    memcpy(m[1], FP_B, 65);
    snprintf(g[0].name, sizeof g[0].name, "vault");
    g[0].threshold = 2;
    g[0].members = m;
    g[0].n_members = 2;
    return (hb_custody_snapshot){.enrollments = e, .n = 2, .groups = g, .n_groups = 1};
}

/* The snapshot's bytes, built here from the documented layout. */
static void expected_snapshot(hb_buf *b, const hb_custody_snapshot *s)
{
    be32(b, 2);
    zstr(b, "alice"); zstr(b, FP_A); zstr(b, s->enrollments[0].spki_sha256);
    zstr(b, "active"); zstr(b, "rsa-oaep-sha1");
    zstr(b, "bob"); zstr(b, ""); zstr(b, s->enrollments[1].spki_sha256);
    zstr(b, "pending"); zstr(b, "rsa-oaep-sha256");
    be32(b, 1);
    zstr(b, "vault"); be32(b, 2); zstr(b, "active"); be32(b, 2); zstr(b, FP_A); zstr(b, FP_B);
}

static void test_v2_canonical_and_pop(void)
{
    hb_err err = {0};
    hb_transcript *t = NULL;
    setup();
    size_t spki_len = 0;
    uint8_t *spki = spki_of(rsa.key, &spki_len);
    hb_custody_snapshot snap = example(spki, spki_len);

    /* The snapshot encoding, byte for byte. */
    hb_buf got = HB_BUF_INIT(1 << 20), want = HB_BUF_INIT(1 << 20);
    HBTEST_ASSERT_OK(hb_snapshot_encode(&snap, &got, &err), &err);
    expected_snapshot(&want, &snap);
    CU_ASSERT_EQUAL_FATAL(got.len, want.len);
    CU_ASSERT(memcmp(got.data, want.data, got.len) == 0);

    /* A legacy v1 entry, then a v2 enroll entry whose new key (rsa) signs
     * its body; the backup signer is ec. */
    snprintf(path, sizeof path, "%s/v2-%d.xml", dir, rand());
    HBTEST_ASSERT_OK(hb_transcript_append(path, ec.cert, sigtest_sign, ec.key, "old", "enroll",
                                          "from an older hsmbak", NULL, 0, &err), &err);
    const char *fps[1] = {FP_A};
    hb_transcript_record r = {.who = "alice", .what = "enroll", .detail = "enrolled 'alice'",
                              .fingerprints = fps, .n_fingerprints = 1, .snapshot = &snap,
                              .pop_spki = spki, .pop_spki_len = spki_len,
                              .pop_sign = sigtest_sign, .pop_ctx = rsa.key};
    HBTEST_ASSERT_OK(hb_transcript_append_record(path, ec.cert, sigtest_sign, ec.key, &r, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_transcript_verify(path, ec.cert, &t, &err), &err);
    CU_ASSERT_EQUAL_FATAL(t->n, 2);
    CU_ASSERT_EQUAL(t->entries[0].version, 1);
    const hb_transcript_entry *e = &t->entries[1];
    CU_ASSERT_EQUAL_FATAL(e->version, 2);
    CU_ASSERT_EQUAL_FATAL(e->snapshot.n, 2);
    CU_ASSERT_STRING_EQUAL(e->snapshot.enrollments[1].name, "bob");
    CU_ASSERT_STRING_EQUAL(e->snapshot.enrollments[1].fingerprint, "");
    CU_ASSERT_EQUAL_FATAL(e->snapshot.n_groups, 1);
    CU_ASSERT_EQUAL(e->snapshot.groups[0].threshold, 2);
    CU_ASSERT_STRING_EQUAL(e->snapshot.groups[0].members[1], FP_B);
    CU_ASSERT_EQUAL_FATAL(e->pop_spki_len, spki_len);
    CU_ASSERT(memcmp(e->pop_spki, spki, spki_len) == 0);

    /* The entry's hash over the documented bytes; the PoP verifies over the
     * body with the new key, the signer's signature over body || PoP. */
    hb_buf body = HB_BUF_INIT(1 << 20);
    CU_ASSERT_EQUAL_FATAL(hb_buf_add(&body, "hsmbak-transcript-v2", 21, NULL), HB_OK);
    uint8_t s8[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    CU_ASSERT_EQUAL_FATAL(hb_buf_add(&body, s8, 8, NULL), HB_OK);
    zstr(&body, e->time); zstr(&body, "alice"); zstr(&body, "enroll");
    zstr(&body, "enrolled 'alice'"); be32(&body, 1); zstr(&body, FP_A);
    zstr(&body, t->entries[0].hash);
    expected_snapshot(&body, &snap);
    lstr(&body, spki, spki_len);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CU_ASSERT_FATAL(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, rsa.key) == 1);
    CU_ASSERT(EVP_DigestVerify(md, e->pop_sig, e->pop_sig_len, (const uint8_t *)body.data,
                               body.len) == 1);
    EVP_MD_CTX_free(md);
    lstr(&body, e->pop_sig, e->pop_sig_len);
    char h[65];
    HBTEST_ASSERT_OK(hb_sha256_hex(body.data, body.len, h, &err), &err);
    CU_ASSERT_STRING_EQUAL(h, e->hash);
    md = EVP_MD_CTX_new();
    CU_ASSERT_FATAL(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ec.key) == 1);
    CU_ASSERT(EVP_DigestVerify(md, e->sig, e->sig_len, (const uint8_t *)body.data, body.len) == 1);
    EVP_MD_CTX_free(md);
    hb_transcript_free(t);
    t = NULL;

    /* The signed snapshot cannot be edited in the file. */
    char *good = slurp();
    expect_bad(sigtest_replace(good, "threshold=\"2\"", "threshold=\"1\""), ec.cert,
               "transcript entry 2 (seq 2, 'enroll'");
    put(good);

    /* A PoP by another key than the SPKI's, or by a key the snapshot does
     * not enroll, or none at all: refused, nothing appended. */
    r.pop_ctx = other.key;
    HBTEST_ASSERT_FAIL(hb_transcript_append_record(path, ec.cert, sigtest_sign, ec.key, &r, &err),
                       HB_E_VERIFY, &err, "its proof of possession does not verify");
    size_t other_len = 0;
    uint8_t *other_spki = spki_of(other.key, &other_len);
    r.pop_spki = other_spki;
    r.pop_spki_len = other_len;
    HBTEST_ASSERT_FAIL(hb_transcript_append_record(path, ec.cert, sigtest_sign, ec.key, &r, &err),
                       HB_E_VERIFY, &err, "that its custody state does not enroll");
    r.pop_spki = NULL;
    r.pop_spki_len = 0;
    r.pop_sign = NULL;
    HBTEST_ASSERT_FAIL(hb_transcript_append_record(path, ec.cert, sigtest_sign, ec.key, &r, &err),
                       HB_E_USAGE, &err, "needs the new key's proof of possession");
    char *after = slurp();
    CU_ASSERT_STRING_EQUAL(after, good);
    free(after);
    free(good);
    OPENSSL_free(other_spki);
    OPENSSL_free(spki);
    hb_buf_free(&got);
    hb_buf_free(&want);
    hb_buf_free(&body);
}

static void teardown(void)
{
    sigtest_free(&ec);
    sigtest_free(&rsa);
    sigtest_free(&other);
    if (dir != NULL) {
        hbtest_rmtree(dir);
        free(dir);
    }
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"append, verify, chain anchored to the signer", test_append_and_verify},
        {"altered, deleted, reordered, head cut, other signer", test_tamper_detected},
        {"a whole replaced log fails against the signer", test_replaced_log},
        {"absent file and bad input", test_absent_and_bad_input},
        {"v2: canonical snapshot bytes, proof of possession", test_v2_canonical_and_pop},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"transcript", cases, .teardown = teardown});
}
