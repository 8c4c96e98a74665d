/* backup/quorum.c and the manifest's <quorum> (docs/FORMAT.md §8): Shamir
 * split/combine with libgfshare, checked against an independent GF(2^8)
 * interpolation; RFC 5649 checked against an independent RFC 3394 unwrap
 * with the RFC 5649 AIV; no single share yields the key; manifest round trip
 * with xmlsec1; a whole quorum backup opened in software. */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/custody/quorum.h"
#include "common/encode.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

/* ---- independent GF(2^8) arithmetic, polynomial x^8+x^4+x^3+x^2+1 (0x11d) ---- */

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1)
            r ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
        b >>= 1;
    }
    return r;
}

static uint8_t gf_inv(uint8_t a)
{
    for (unsigned x = 1; x < 256; x++)
        if (gf_mul(a, (uint8_t)x) == 1)
            return (uint8_t)x;
    return 0;
}

/* Lagrange interpolation at 0: secret = sum y_i * prod_{j!=i} x_j / (x_j ^ x_i). */
static void gf_interpolate(const uint8_t (*s)[HB_QUORUM_SHARE_LEN], size_t n, uint8_t *out)
{
    for (size_t b = 0; b < HB_QUORUM_KEY_LEN; b++) {
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t li = 1;
            for (size_t j = 0; j < n; j++)
                if (j != i)
                    li = gf_mul(li, gf_mul(s[j][0], gf_inv((uint8_t)(s[j][0] ^ s[i][0]))));
            acc ^= gf_mul(s[i][1 + b], li);
        }
        out[b] = acc;
    }
}

static void test_split_combine(void)
{
    hb_err err = {0};
    uint8_t g[32], back[32], shares[3][HB_QUORUM_SHARE_LEN];
    HBTEST_ASSERT_OK(hb_quorum_new_key(g, &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_split(g, 2, 3, shares, &err), &err);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(shares[i][0], i + 1); /* x = 1, 2, 3 */
    static const int pairs[3][2] = {{0, 1}, {1, 2}, {2, 0}};
    for (int p = 0; p < 3; p++) {
        uint8_t two[2][HB_QUORUM_SHARE_LEN];
        memcpy(two[0], shares[pairs[p][0]], HB_QUORUM_SHARE_LEN);
        memcpy(two[1], shares[pairs[p][1]], HB_QUORUM_SHARE_LEN);
        HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])two, 2, back,
                                           &err), &err);
        CU_ASSERT_EQUAL(memcmp(back, g, 32), 0);
        /* The format's promise: an independent reader with 0x11d agrees. */
        gf_interpolate((const uint8_t(*)[HB_QUORUM_SHARE_LEN])two, 2, back);
        CU_ASSERT_EQUAL(memcmp(back, g, 32), 0);
    }
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])shares, 3, back,
                                       &err), &err);
    CU_ASSERT_EQUAL(memcmp(back, g, 32), 0);
    /* One share is not the key. */
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])shares, 1, back,
                                       &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(back, g, 32), 0);
    /* 3 of 5: two shares are not enough, three are. */
    uint8_t five[5][HB_QUORUM_SHARE_LEN];
    HBTEST_ASSERT_OK(hb_quorum_split(g, 3, 5, five, &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])five + 2, 2, back,
                                       &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(back, g, 32), 0);
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])five + 2, 3, back,
                                       &err), &err);
    CU_ASSERT_EQUAL(memcmp(back, g, 32), 0);
    /* Two splits of the same key use fresh coefficients. */
    uint8_t again[3][HB_QUORUM_SHARE_LEN];
    HBTEST_ASSERT_OK(hb_quorum_split(g, 2, 3, again, &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(again[0], shares[0], HB_QUORUM_SHARE_LEN), 0);
}

static void test_split_rejects(void)
{
    hb_err err = {0};
    uint8_t g[32] = {1}, shares[3][HB_QUORUM_SHARE_LEN], back[32];
    HBTEST_ASSERT_STATUS(hb_quorum_split(g, 1, 3, shares, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_quorum_split(g, 4, 3, shares, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_quorum_split(g, 2, 256, shares, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_quorum_split(g, 2, 3, shares, &err), &err);
    shares[1][0] = shares[0][0];
    HBTEST_ASSERT_STATUS(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])shares, 2,
                                           back, &err), HB_E_VERIFY, &err);
    shares[1][0] = 0;
    HBTEST_ASSERT_STATUS(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])shares, 2,
                                           back, &err), HB_E_VERIFY, &err);
}

/* ---- RFC 5649 against an independent RFC 3394 unwrap ---- */

static int aes_ecb_decrypt(const uint8_t k[32], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_ecb(), NULL, k, NULL) == 1 &&
                    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
                    EVP_DecryptUpdate(c, out, &n, in, 16) == 1 && n == 16;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* RFC 3394 §2.2.2 unwrap of n = 4 semiblocks; returns A. */
static int rfc3394_unwrap4(const uint8_t k[32], const uint8_t in[40], uint8_t a[8],
                           uint8_t r[32])
{
    memcpy(a, in, 8);
    memcpy(r, in + 8, 32);
    for (int j = 5; j >= 0; j--)
        for (int i = 4; i >= 1; i--) {
            uint8_t b[16];
            uint64_t t = (uint64_t)(4 * j + i);
            memcpy(b, a, 8);
            for (int q = 0; q < 8; q++)
                b[7 - q] ^= (uint8_t)(t >> (8 * q));
            memcpy(b + 8, r + 8 * (i - 1), 8);
            if (!aes_ecb_decrypt(k, b, b))
                return 0;
            memcpy(a, b, 8);
            memcpy(r + 8 * (i - 1), b + 8, 8);
        }
    return 1;
}

static void test_rfc5649(void)
{
    hb_err err = {0};
    uint8_t g[32], dek[32], wrapped[HB_QUORUM_WRAPPED_LEN], back[32], a[8], r[32];
    CU_ASSERT_FATAL(RAND_bytes(g, 32) == 1 && RAND_bytes(dek, 32) == 1);
    HBTEST_ASSERT_OK(hb_quorum_wrap_dek(g, dek, wrapped, &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_unwrap_dek(g, wrapped, sizeof wrapped, back, &err), &err);
    CU_ASSERT_EQUAL(memcmp(back, dek, 32), 0);
    /* RFC 5649 §3: AIV = A65959A6 || MLI (32, big-endian); no padding here. */
    CU_ASSERT_FATAL(rfc3394_unwrap4(g, wrapped, a, r));
    static const uint8_t aiv[8] = {0xa6, 0x59, 0x59, 0xa6, 0, 0, 0, 32};
    CU_ASSERT_EQUAL(memcmp(a, aiv, 8), 0);
    CU_ASSERT_EQUAL(memcmp(r, dek, 32), 0);
    /* Wrong key, altered bytes, wrong length. */
    uint8_t g2[32];
    memcpy(g2, g, 32);
    g2[5] ^= 1;
    HBTEST_ASSERT_FAIL(hb_quorum_unwrap_dek(g2, wrapped, sizeof wrapped, back, &err), HB_E_VERIFY,
                       &err, "integrity check failed");
    wrapped[17] ^= 0x40;
    HBTEST_ASSERT_STATUS(hb_quorum_unwrap_dek(g, wrapped, sizeof wrapped, back, &err),
                         HB_E_VERIFY, &err);
    HBTEST_ASSERT_STATUS(hb_quorum_unwrap_dek(g, wrapped, 32, back, &err), HB_E_VERIFY, &err);
}

/* One share and everything public gives nothing: with the single share of
 * member 1 and a guessed share at every other x coordinate, no combination
 * unwraps the DEK. */
static void test_one_share_is_not_enough(void)
{
    hb_err err = {0};
    uint8_t g[32], dek[32], wrapped[HB_QUORUM_WRAPPED_LEN], back[32], shares[3][33];
    CU_ASSERT_FATAL(RAND_bytes(dek, 32) == 1);
    HBTEST_ASSERT_OK(hb_quorum_new_key(g, &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_split(g, 2, 3, shares, &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_wrap_dek(g, dek, wrapped, &err), &err);
    unsigned opened = 0;
    /* The share alone, as if the threshold were 1. */
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[33])shares, 1, back, &err), &err);
    opened += hb_quorum_unwrap_dek(back, wrapped, sizeof wrapped, dek, &err) == HB_OK;
    for (unsigned x = 2; x < 256; x++) {
        uint8_t two[2][33];
        memcpy(two[0], shares[0], 33);
        two[1][0] = (uint8_t)x;
        CU_ASSERT_FATAL(RAND_bytes(two[1] + 1, 32) == 1);
        HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[33])two, 2, back, &err), &err);
        uint8_t out[32];
        opened += hb_quorum_unwrap_dek(back, wrapped, sizeof wrapped, out, &err) == HB_OK;
    }
    CU_ASSERT_EQUAL(opened, 0);
}

/* ---- share commitments (docs/FORMAT.md §8.2) ---------------------------- */

static void test_share_commitment(void)
{
    hb_err err = {0};
    static const char id[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
    uint8_t share[33], c[32], other[32];
    share[0] = 2;
    for (int i = 0; i < 32; i++)
        share[1 + i] = (uint8_t)i;
    /* Python: hashlib.sha256(b'hsmbak-share-v1\0' + id + b'\0vault\0' +
     * bytes([2]) + bytes(range(32))) */
    static const uint8_t want[32] = {
        0x06, 0x49, 0x60, 0x57, 0x32, 0xdf, 0x77, 0x9a, 0xf0, 0x4a, 0x8f, 0x25, 0x8a, 0x91, 0x36,
        0xb9, 0x60, 0xf3, 0xc0, 0xd3, 0xf9, 0xdc, 0x6a, 0x46, 0x27, 0x8a, 0x81, 0xa8, 0xa6, 0xd7,
        0x8b, 0xb0};
    HBTEST_ASSERT_OK(hb_quorum_share_commitment(id, "vault", share, c, &err), &err);
    CU_ASSERT_EQUAL(memcmp(c, want, 32), 0);
    /* Bound to the backup, the group, x and every byte of y. */
    HBTEST_ASSERT_OK(hb_quorum_share_commitment("0f8fad5b-d9cb-469f-a165-70867728950f", "vault",
                                                share, other, &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(c, other, 32), 0);
    HBTEST_ASSERT_OK(hb_quorum_share_commitment(id, "vaulT", share, other, &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(c, other, 32), 0);
    for (int i = 0; i < 33; i++) {
        share[i] ^= 1;
        HBTEST_ASSERT_OK(hb_quorum_share_commitment(id, "vault", share, other, &err), &err);
        CU_ASSERT_NOT_EQUAL(memcmp(c, other, 32), 0);
        share[i] ^= 1;
    }
    HBTEST_ASSERT_STATUS(hb_quorum_share_commitment(NULL, "vault", share, other, &err),
                         HB_E_USAGE, &err);
}

/* ---- manifest with a quorum: round trip, xmlsec1, open in software ---- */

static sigtest_key signer, m1, m2, m3, solo;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Software RSA-OAEP decryption of a member's share, as the token would. */
static int open_share(EVP_PKEY *key, const char *wrap, const uint8_t *in, size_t len,
                      uint8_t out[33])
{
    const char *md = strcmp(wrap, "rsa-oaep-sha1") == 0 ? "SHA1" : "SHA256";
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
    uint8_t buf[512];
    size_t n = sizeof buf;
    int ok = c != NULL && EVP_PKEY_decrypt_init(c) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md_name(c, md, NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, md, NULL) == 1 &&
             EVP_PKEY_decrypt(c, buf, &n, in, len) == 1 && n == 33;
    if (ok)
        memcpy(out, buf, 33);
    EVP_PKEY_CTX_free(c);
    return ok;
}

static void test_manifest_quorum(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL, *back = NULL;
    X509 *got_signer = NULL;
    uint8_t *xml = NULL, g[32], dek[32], wrapped[HB_QUORUM_WRAPPED_LEN];
    size_t len = 0;
    const char *qid = NULL, *rid = NULL;
    signer = sigtest_make("p256", "Signer");
    m1 = sigtest_make("rsa2048", "Member One");
    m2 = sigtest_make("rsa2048", "Member Two");
    m3 = sigtest_make("rsa2048", "Member Three");
    solo = sigtest_make("rsa2048", "Solo");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m3.cert);
    CU_ASSERT_PTR_NOT_NULL_FATAL(solo.cert);

    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, NULL, NULL, NULL, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", NULL, NULL, NULL, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, solo.cert, "rsa-oaep-sha256", &rid, &err),
                     &err);
    X509 *certs[3] = {m1.cert, m2.cert, m3.cert};
    hb_oaep_hash hashes[3] = {HB_OAEP_SHA1, HB_OAEP_SHA256, HB_OAEP_SHA1};
    HBTEST_ASSERT_OK(hb_quorum_add_to_manifest(m, NULL, "vault", 2, certs, hashes, NULL, 3, g, &qid,
                                               &err), &err);
    CU_ASSERT_STRING_EQUAL(qid, "q1");
    CU_ASSERT_FATAL(RAND_bytes(dek, 32) == 1);
    HBTEST_ASSERT_OK(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 10,
                                          "00112233445566778899aabbccddeeff00112233445566778899"
                                          "aabbccddeeff", &err), &err);
    HBTEST_ASSERT_OK(hb_quorum_wrap_dek(g, dek, wrapped, &err), &err);
    /* Without the quorum's key the manifest is incomplete. */
    uint8_t dummy[256] = {1};
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", rid, dummy, sizeof dummy, &err),
                     &err);
    HBTEST_ASSERT_FAIL(hb_manifest_write_signed(m, signer.cert, sigtest_sign, signer.key, &xml,
                                                &len, &err), HB_E_USAGE, &err, "quorum 'vault'");
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", qid, wrapped, sizeof wrapped,
                                                 &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, signer.cert, sigtest_sign, signer.key, &xml,
                                              &len, &err), &err);
    OPENSSL_cleanse(g, sizeof g);

    HBTEST_ASSERT_OK(hb_manifest_read(xml, len, NULL, &back, &got_signer, &err), &err);
    CU_ASSERT_EQUAL_FATAL(back->n_quorums, 1);
    const hb_manifest_quorum *q = &back->quorums[0];
    CU_ASSERT_STRING_EQUAL(q->id, "q1");
    CU_ASSERT_STRING_EQUAL(q->name, "vault");
    CU_ASSERT_EQUAL(q->threshold, 2);
    CU_ASSERT_EQUAL_FATAL(q->n_members, 3);
    CU_ASSERT_STRING_EQUAL(q->members[1].key_wrap, "rsa-oaep-sha256");
    CU_ASSERT_EQUAL(q->members[2].x, 3);
    CU_ASSERT_EQUAL(back->n_recipients, 1);

    /* Open it as an independent reader would: two members' shares (OAEP
     * with their private keys), interpolation at 0, RFC 5649 unwrap. */
    EVP_PKEY *keys[3] = {m1.key, m2.key, m3.key};
    uint8_t shares[2][33], g2[32], out[32];
    for (int i = 0; i < 2; i++) {
        const hb_manifest_quorum_member *mem = &q->members[i + 1];
        CU_ASSERT_FATAL(open_share(keys[i + 1], mem->key_wrap, mem->wrapped_share,
                                   mem->wrapped_share_len, shares[i]));
        CU_ASSERT_EQUAL(shares[i][0], mem->x);
        /* Its signed commitment is the one of the share it holds. */
        uint8_t c[32];
        CU_ASSERT_FATAL(mem->has_commitment);
        HBTEST_ASSERT_OK(hb_quorum_share_commitment(back->id, "vault", shares[i], c, &err),
                         &err);
        CU_ASSERT_EQUAL(memcmp(c, mem->commitment, 32), 0);
    }
    CU_ASSERT(q->members[0].has_commitment);
    CU_ASSERT_PTR_NOT_NULL(strstr((const char *)xml, "<share-commitment algorithm=\"sha256\">"));
    gf_interpolate((const uint8_t(*)[33])shares, 2, g2);
    const hb_manifest_wrapped_key *wk = hb_manifest_find_wrapped_key(&back->files[0], "q1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(wk);
    HBTEST_ASSERT_OK(hb_quorum_unwrap_dek(g2, wk->data, wk->len, out, &err), &err);
    CU_ASSERT_EQUAL(memcmp(out, dek, 32), 0);
    /* One member's share with its x, and the manifest: the unwrap fails. */
    HBTEST_ASSERT_OK(hb_quorum_combine((const uint8_t(*)[33])shares, 1, g2, &err), &err);
    HBTEST_ASSERT_STATUS(hb_quorum_unwrap_dek(g2, wk->data, wk->len, out, &err), HB_E_VERIFY,
                         &err);

    /* The signature covers the quorum part: xmlsec1 agrees, and refuses a
     * changed threshold. */
    char *dir = hbtest_tempdir("quorum-xmlsec");
    char pem[4096], good[4096], bad[4096];
    snprintf(pem, sizeof pem, "%s/signer.pem", dir);
    snprintf(good, sizeof good, "%s/good.xml", dir);
    snprintf(bad, sizeof bad, "%s/bad.xml", dir);
    CU_ASSERT_EQUAL(sigtest_write_pem(pem, signer.cert), 0);
    char *tampered = sigtest_replace((const char *)xml, "threshold=\"2\"", "threshold=\"3\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tampered);
    CU_ASSERT_EQUAL(write_file(good, (const char *)xml), 0);
    CU_ASSERT_EQUAL(write_file(bad, tampered), 0);
    CU_ASSERT_EQUAL(hbtest_xmlsec1_verify(pem, good), 0);
    CU_ASSERT_NOT_EQUAL(hbtest_xmlsec1_verify(pem, bad), 0);
    hb_manifest *none = NULL;
    HBTEST_ASSERT_STATUS(hb_manifest_read((const uint8_t *)tampered, strlen(tampered), NULL,
                                          &none, NULL, &err), HB_E_VERIFY, &err);
    free(tampered);
    /* A commitment is signed like the rest. */
    char *cm = strstr((char *)xml, "<share-commitment algorithm=\"sha256\">");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cm);
    char *flipped = strdup((const char *)xml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(flipped);
    char *digit = flipped + (cm - (char *)xml) + strlen("<share-commitment algorithm=\"sha256\">");
    *digit = *digit == '0' ? '1' : '0';
    HBTEST_ASSERT_STATUS(hb_manifest_read((const uint8_t *)flipped, strlen(flipped), NULL,
                                          &none, NULL, &err), HB_E_VERIFY, &err);
    free(flipped);
    hbtest_rmtree(dir);
    free(dir);

    X509_free(got_signer);
    hb_manifest_free(back);
    hb_manifest_free(m);
    free(xml);
    sigtest_free(&signer);
    sigtest_free(&m1);
    sigtest_free(&m2);
    sigtest_free(&m3);
    sigtest_free(&solo);
}

static void test_builder_rejects(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    const char *qid = NULL;
    sigtest_key k = sigtest_make("rsa2048", "K");
    uint8_t share[300] = {0};
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_quorum(m, "Bad Name", 2, &qid, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_quorum(m, "ok", 1, &qid, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_manifest_add_quorum(m, "ok", 2, &qid, &err), &err);
    HBTEST_ASSERT_STATUS(hb_manifest_add_quorum_member(m, qid, k.cert, "rsa-oaep-sha1", 0, share,
                                                       256, NULL, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_OK(hb_manifest_add_quorum_member(m, qid, k.cert, "rsa-oaep-sha1", 1, share,
                                                   256, NULL, &err), &err);
    HBTEST_ASSERT_FAIL(hb_manifest_add_quorum_member(m, qid, k.cert, "rsa-oaep-sha1", 2, share, 256,
                                                     NULL, &err), HB_E_USAGE, &err, "listed twice");
    HBTEST_ASSERT_STATUS(hb_manifest_add_quorum_member(m, "q9", k.cert, "rsa-oaep-sha1", 2,
                                                       share, 256, NULL, &err), HB_E_USAGE, &err);
    /* All members have a commitment or none does. */
    sigtest_key k2 = sigtest_make("rsa2048", "K2");
    uint8_t commitment[32] = {7};
    HBTEST_ASSERT_FAIL(hb_manifest_add_quorum_member(m, qid, k2.cert, "rsa-oaep-sha1", 2, share,
                                                     256, commitment, &err), HB_E_USAGE, &err,
                       "some members have a share commitment and some do not");
    sigtest_free(&k2);
    hb_manifest_free(m);
    sigtest_free(&k);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"Shamir split/combine, any 2 of 3, independent GF(2^8) check", test_split_combine},
        {"split and combine refuse bad parameters", test_split_rejects},
        {"RFC 5649 wrap: round trip, AIV per RFC 3394 unwrap, wrong key", test_rfc5649},
        {"one share plus a guess at every x never unwraps", test_one_share_is_not_enough},
        {"share commitment: vector, bound to backup, group, x and y", test_share_commitment},
        {"manifest quorum: round trip, open in software, xmlsec1", test_manifest_quorum},
        {"manifest quorum builder rejections", test_builder_rejects},
        {NULL, NULL},
    };
    return hbtest_main("quorum", cases);
}
