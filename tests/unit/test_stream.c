/* backup/stream.c: round trips, known answers, every reader rejection. */
#include "hbtest.h"

#include "backup/format/archive_internal.h"
#include "common/encode.h"
#include "backup/format/stream.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "123e4567-e89b-12d3-a456-426614174000"
#define NAME "config"

/* ---- memory sink and source ---- */

typedef struct membuf {
    uint8_t *data;
    size_t len, cap, pos;
    size_t chunk; /* source: at most this many bytes per call (0: all) */
} membuf;

static hb_status mem_sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    membuf *m = ctx;
    (void)err;
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2;
        m->data = realloc(m->data, cap);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m->data);
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return HB_OK;
}

static hb_status mem_source(void *ctx, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    membuf *m = ctx;
    (void)err;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (m->chunk != 0 && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return HB_OK;
}

static const uint8_t DEK[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void fixed_salt_prefix(uint8_t salt[32], uint8_t prefix[7])
{
    for (int i = 0; i < 32; i++)
        salt[i] = (uint8_t)(0x40 + i);
    for (int i = 0; i < 7; i++)
        prefix[i] = (uint8_t)(0xa0 + i);
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* Encrypt pt into a fresh membuf. */
static membuf seal_buf(const uint8_t *pt, size_t len, unsigned seg_log2, bool fixed)
{
    membuf m = {0};
    hb_err err = {0};
    hb_stream_writer *w = NULL;
    if (fixed) {
        uint8_t salt[32], prefix[7];
        fixed_salt_prefix(salt, prefix);
        HBTEST_ASSERT_OK(hb_stream_writer_new_fixed(DEK, ID, NAME, seg_log2, salt, prefix,
                                                    mem_sink, &m, &w, &err), &err);
    } else {
        HBTEST_ASSERT_OK(hb_stream_writer_new(DEK, ID, NAME, seg_log2, mem_sink, &m, &w, &err),
                         &err);
    }
    /* uneven writes exercise the buffering */
    size_t off = 0, step = 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        HBTEST_ASSERT_OK(hb_stream_write(w, pt + off, n, &err), &err);
        off += n;
        step = step * 3 + 7;
    }
    HBTEST_ASSERT_OK(hb_stream_writer_finish(w, &err), &err);
    CU_ASSERT_EQUAL(hb_stream_write(w, "x", 1, &err), HB_E_USAGE);
    hb_stream_writer_free(w);
    return m;
}

/* Decrypt m fully; returns the status, plaintext in *out. */
static hb_status open_buf(membuf *m, const uint8_t *dek, const char *id, const char *name,
                          uint8_t **out, size_t *out_len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_stream_reader *r = NULL;
    size_t cap = 1024, len = 0;
    uint8_t *buf = malloc(cap);
    m->pos = 0;
    HB_TRY(hb_stream_reader_new(dek, id, name, mem_source, m, &r, err));
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = 0;
        size_t want = cap - len > 777 ? 777 : cap - len; /* odd read sizes */
        HB_TRY(hb_stream_read(r, buf + len, want, &got, err));
        if (got == 0)
            break;
        len += got;
    }
cleanup:
    hb_stream_reader_free(r);
    if (st == HB_OK && out != NULL) {
        *out = buf;
        *out_len = len;
    } else {
        free(buf);
    }
    return st;
}

static void round_trip(size_t len, unsigned seg_log2, size_t chunk)
{
    uint8_t *pt = calloc(1, len + 1);
    pattern(pt, len, (unsigned)len);
    membuf m = seal_buf(pt, len, seg_log2, false);
    size_t s = (size_t)1 << (seg_log2 ? seg_log2 : HB_SEG_LOG2_DEFAULT);
    size_t segs = len == 0 ? 1 : (len + s - 1) / s;
    CU_ASSERT_EQUAL(m.len, HB_STREAM_HEADER_LEN + len + segs * HB_STREAM_TAG_LEN);
    m.chunk = chunk;
    uint8_t *back = NULL;
    size_t back_len = 0;
    hb_err err = {0};
    HBTEST_ASSERT_OK(open_buf(&m, DEK, ID, NAME, &back, &back_len, &err), &err);
    CU_ASSERT_EQUAL(back_len, len);
    CU_ASSERT_EQUAL(memcmp(pt, back, len), 0);
    free(back);
    free(m.data);
    free(pt);
}

static void test_round_trip_sizes(void)
{
    const size_t s = 4096;
    const size_t sizes[] = {0, 1, s - 1, s, s + 1, 2 * s, 3 * s + 7, 10 * s};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        round_trip(sizes[i], 12, 0);
        round_trip(sizes[i], 12, 1000); /* a source that returns short reads */
    }
}

static void test_round_trip_each_segment_size(void)
{
    for (unsigned l = HB_SEG_LOG2_MIN; l <= HB_SEG_LOG2_MAX; l++) {
        size_t s = (size_t)1 << l;
        round_trip(s + 1, l, 0);     /* one full + a 1-byte final */
        if (l <= 16)
            round_trip(s, l, 0);     /* exactly one segment */
    }
    round_trip(100, 0, 0);           /* 0 = default 2^16 */
}

static void test_writer_rejects_bad_segment_size(void)
{
    membuf m = {0};
    hb_err err = {0};
    hb_stream_writer *w = NULL;
    HBTEST_ASSERT_STATUS(hb_stream_writer_new(DEK, ID, NAME, 11, mem_sink, &m, &w, &err),
                         HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_stream_writer_new(DEK, ID, NAME, 25, mem_sink, &m, &w, &err),
                         HB_E_USAGE, &err);
    CU_ASSERT_PTR_NULL(w);
    free(m.data);
}

static hb_status full_sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    size_t *left = ctx;
    (void)buf;
    if (len > *left)
        return hb_fail(err, HB_E_IO, "writing 'x': no space left on device");
    *left -= len;
    return HB_OK;
}

static void test_writer_sink_failure(void)
{
    size_t left = 88 + 4112 + 100; /* the header, one segment and a bit */
    hb_err err = {0};
    hb_stream_writer *w = NULL;
    uint8_t buf[5000] = {0};
    HBTEST_ASSERT_OK(hb_stream_writer_new(DEK, ID, NAME, 12, full_sink, &left, &w, &err), &err);
    HBTEST_ASSERT_OK(hb_stream_write(w, buf, sizeof buf, &err), &err); /* 1 segment pending */
    HBTEST_ASSERT_FAIL(hb_stream_write(w, buf, sizeof buf, &err), HB_E_IO, &err, "no space left");
    /* a failed writer stays failed: no half-sealed stream can be finished */
    HBTEST_ASSERT_STATUS(hb_stream_writer_finish(w, &err), HB_E_USAGE, &err);
    hb_stream_writer_free(w);
    hb_stream_writer_free(NULL);
    hb_stream_reader_free(NULL);
}

/* ---- known answers ---- */

/* From the OpenSSL CLI, independently of this code:
 *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102..1f
 *     -kdfopt hexsalt:404142..5f -kdfopt hexinfo:<label 00 ID 00 "config"> HKDF */
static const char K_HEX[] = "6724589e0c90130024d0cb3c315d1f07b7bfd11cce5804bba06f4e6d85b17f62";
static const char C_HEX[] = "d849d0be1344825c2dd9a59643bd74b14cb8f099c79ae9fda93b3c74b6d24fd8";

static void test_kat_hkdf(void)
{
    uint8_t salt[32], prefix[7], k[32], c[32];
    char hex[65];
    hb_err err = {0};
    fixed_salt_prefix(salt, prefix);
    HBTEST_ASSERT_OK(hb_stream_derive(DEK, salt, "hsmbak v1 key", ID, NAME, k, &err), &err);
    hb_hex_encode(k, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, K_HEX);
    HBTEST_ASSERT_OK(hb_stream_derive(DEK, salt, "hsmbak v1 commit", ID, NAME, c, &err), &err);
    hb_hex_encode(c, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, C_HEX);
}

/* The worked example of docs/FORMAT.md: "hello, hsmbak\n", 2^12 segments. */
/* Cross-checked with Python "cryptography" (HKDF + AESGCM) when written. */
static const char VECTOR_HEX[] =
    "8948424b0d0a1a0a01010c0000000000404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "a0a1a2a3a4a5a600d849d0be1344825c2dd9a59643bd74b14cb8f099c79ae9fda93b3c74b6d24fd8"
    "6704428e0d67f573ac133b4287fbba5adcc4d55c5cf18d3b93413bbd1202";

/* Open one segment with plain EVP, nonce built here by hand. */
static int evp_open(const uint8_t *hdr, const uint8_t *ct, size_t ct_len, uint32_t index,
                    uint8_t last, uint8_t *pt)
{
    uint8_t k[32], nonce[12];
    hb_err err = {0};
    CU_ASSERT_EQUAL_FATAL(hb_hex_decode(K_HEX, k, 32, &err), HB_OK);
    memcpy(nonce, hdr + 48, 7);
    nonce[7] = (uint8_t)(index >> 24);
    nonce[8] = (uint8_t)(index >> 16);
    nonce[9] = (uint8_t)(index >> 8);
    nonce[10] = (uint8_t)index;
    nonce[11] = last;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, nonce) == 1 &&
                    EVP_DecryptUpdate(c, NULL, &n, hdr, 88) == 1 &&
                    EVP_DecryptUpdate(c, pt, &n, ct, (int)ct_len - 16) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16,
                                        (void *)(ct + ct_len - 16)) == 1 &&
                    EVP_DecryptFinal_ex(c, pt + n, &n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

static void test_kat_vector(void)
{
    const char *msg = "hello, hsmbak\n";
    membuf m = seal_buf((const uint8_t *)msg, strlen(msg), 12, true);
    char *hex = malloc(2 * m.len + 1);
    hb_hex_encode(m.data, m.len, hex);
    if (strcmp(hex, VECTOR_HEX) != 0)
        fprintf(stderr, "  vector: %s\n", hex);
    CU_ASSERT_STRING_EQUAL(hex, VECTOR_HEX);
    free(hex);
    /* layout, field by field (DESIGN §4.1) */
    const uint8_t magic[8] = {0x89, 0x48, 0x42, 0x4B, 0x0D, 0x0A, 0x1A, 0x0A};
    CU_ASSERT_EQUAL(memcmp(m.data, magic, 8), 0);
    CU_ASSERT_EQUAL(m.data[8], 1);
    CU_ASSERT_EQUAL(m.data[9], 1);
    CU_ASSERT_EQUAL(m.data[10], 12);
    uint8_t c[32];
    hb_err err = {0};
    CU_ASSERT_EQUAL(hb_hex_decode(C_HEX, c, 32, &err), HB_OK);
    CU_ASSERT_EQUAL(memcmp(m.data + 56, c, 32), 0);
    /* the segment opens with independently built key and nonce, last=1 */
    uint8_t pt[64];
    CU_ASSERT_TRUE(evp_open(m.data, m.data + 88, m.len - 88, 0, 1, pt));
    CU_ASSERT_EQUAL(memcmp(pt, msg, strlen(msg)), 0);
    CU_ASSERT_FALSE(evp_open(m.data, m.data + 88, m.len - 88, 0, 0, pt));
    free(m.data);
}

static void test_kat_two_segments(void)
{
    uint8_t pt[4096 + 5], out[4096];
    pattern(pt, sizeof pt, 7);
    membuf m = seal_buf(pt, sizeof pt, 12, true);
    CU_ASSERT_EQUAL_FATAL(m.len, 88 + 4096 + 16 + 5 + 16);
    CU_ASSERT_TRUE(evp_open(m.data, m.data + 88, 4096 + 16, 0, 0, out));
    CU_ASSERT_EQUAL(memcmp(out, pt, 4096), 0);
    CU_ASSERT_TRUE(evp_open(m.data, m.data + 88 + 4112, 21, 1, 1, out));
    CU_ASSERT_EQUAL(memcmp(out, pt + 4096, 5), 0);
    free(m.data);
}

/* ---- rejections ---- */

#define S 4096
#define SEG (S + 16)

/* 3 full segments + a 100-byte final one. */
static membuf sample(size_t len)
{
    uint8_t *pt = malloc(len);
    pattern(pt, len, 99);
    membuf m = seal_buf(pt, len, 12, false);
    free(pt);
    return m;
}

static void expect_reject(membuf *m, hb_status want, const char *fragment)
{
    hb_err err = {0};
    hb_status st = open_buf(m, DEK, ID, NAME, NULL, NULL, &err);
    if (st != want || strstr(err.msg, fragment) == NULL)
        fprintf(stderr, "  want %d '%s', got %d '%s'\n", (int)want, fragment, (int)st, err.msg);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, fragment));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "archive '" NAME "'"));
}

static membuf copy_of(const membuf *m)
{
    membuf c = {0};
    c.data = malloc(m->len + SEG);
    memcpy(c.data, m->data, m->len);
    c.len = m->len;
    c.cap = m->len + SEG;
    return c;
}

static void test_reject_header_bits(void)
{
    membuf m = sample(3 * S + 100);
    for (size_t bit = 0; bit < 88 * 8; bit++) {
        membuf c = copy_of(&m);
        c.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        hb_err err = {0};
        hb_status st = open_buf(&c, DEK, ID, NAME, NULL, NULL, &err);
        CU_ASSERT_NOT_EQUAL(st, HB_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "archive 'config'"));
        size_t off = bit / 8;
        const char *want = off < 8 ? "bad magic" : off == 8 ? "unknown format version"
                         : off == 9 ? "unknown cipher suite" : off == 10 ? NULL
                         : off < 16 ? "reserved" : off < 48 ? "key commitment mismatch"
                         : off < 55 ? "segment 0 fails authentication"
                         : off == 55 ? "reserved" : "key commitment mismatch";
        if (want != NULL && strstr(err.msg, want) == NULL)
            fprintf(stderr, "  byte %zu: '%s' lacks '%s'\n", off, err.msg, want);
        if (want != NULL)
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
        free(c.data);
    }
    /* specific values of the segment-size byte */
    membuf c = copy_of(&m);
    c.data[10] = 11;
    expect_reject(&c, HB_E_VERIFY, "out of range");
    c.data[10] = 25;
    expect_reject(&c, HB_E_VERIFY, "out of range");
    c.data[8] = 2;
    expect_reject(&c, HB_E_REFUSED, "unknown format version 2");
    free(c.data);
    free(m.data);
}

static void test_reject_body_bits(void)
{
    membuf m = sample(3 * S + 100);
    struct { size_t off; const char *msg; } cases[] = {
        {88 + 0, "segment 0 fails authentication"},
        {88 + SEG + 17, "segment 1 fails authentication"},
        {88 + 2 * SEG - 1, "segment 1 fails authentication"},    /* in the tag */
        {88 + 2 * SEG - 16, "segment 1 fails authentication"},   /* first tag byte */
        {88 + 3 * SEG + 5, "segment 3 fails authentication"},    /* final segment */
        {88 + 3 * SEG + 100 + 15, "segment 3 fails authentication"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        membuf c = copy_of(&m);
        c.data[cases[i].off] ^= 0x01;
        expect_reject(&c, HB_E_VERIFY, cases[i].msg);
        free(c.data);
    }
    free(m.data);
}

static void test_reject_truncation(void)
{
    membuf m = sample(3 * S + 100);
    struct { size_t len; const char *msg; } cases[] = {
        {0, "inside the 88-byte header"},
        {50, "inside the 88-byte header"},
        {87, "inside the 88-byte header"},
        {88, "ends before segment 0"},                           /* after the header */
        {88 + 8, "ends inside segment 0"},
        {88 + SEG, "segment 0, which is not the final segment"}, /* at a boundary */
        {88 + 2 * SEG, "segment 1, which is not the final segment"},
        {88 + 3 * SEG, "segment 2, which is not the final segment"},
        {88 + SEG + 100, "segment 1 fails authentication"},      /* inside a segment */
        {88 + 2 * SEG - 3, "segment 1 fails authentication"},    /* inside a tag */
        {88 + 3 * SEG + 100 + 10, "segment 3 fails authentication"}, /* final's tag */
        {88 + 3 * SEG + 3, "ends inside segment 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        membuf c = copy_of(&m);
        c.len = cases[i].len;
        expect_reject(&c, HB_E_VERIFY, cases[i].msg);
        free(c.data);
    }
    free(m.data);
}

/* Move segment-sized blocks around (all segments but the final are SEG). */
static void test_reject_drop_duplicate_reorder(void)
{
    membuf m = sample(3 * S + 100);
    uint8_t *b = m.data + 88;
    membuf c = copy_of(&m); /* drop segment 1 */
    memmove(c.data + 88 + SEG, b + 2 * SEG, m.len - 88 - 2 * SEG);
    c.len -= SEG;
    expect_reject(&c, HB_E_VERIFY, "segment 1 fails authentication");
    free(c.data);
    c = copy_of(&m); /* duplicate segment 0 */
    memmove(c.data + 88 + SEG, b, m.len - 88);
    c.len += SEG;
    expect_reject(&c, HB_E_VERIFY, "segment 1 fails authentication");
    free(c.data);
    c = copy_of(&m); /* swap segments 0 and 1 */
    memcpy(c.data + 88, b + SEG, SEG);
    memcpy(c.data + 88 + SEG, b, SEG);
    expect_reject(&c, HB_E_VERIFY, "segment 0 fails authentication");
    free(c.data);
    c = copy_of(&m); /* drop the final segment: ends after a non-final one */
    c.len = 88 + 3 * SEG;
    expect_reject(&c, HB_E_VERIFY, "truncated");
    free(c.data);
    free(m.data);
}

static void test_reject_appended(void)
{
    membuf m = sample(3 * S + 100); /* short final segment */
    membuf c = copy_of(&m);
    c.data[c.len++] = 0;
    expect_reject(&c, HB_E_VERIFY, "bytes after the final segment");
    memset(c.data + c.len, 0xAA, 20);
    c.len += 20;
    expect_reject(&c, HB_E_VERIFY, "bytes after the final segment");
    free(c.data);
    free(m.data);
    m = sample(2 * S); /* the final segment is exactly S */
    c = copy_of(&m);
    c.data[c.len++] = 0;
    expect_reject(&c, HB_E_VERIFY, "bytes after the final segment");
    memcpy(c.data + m.len, m.data + 88, SEG); /* a whole segment appended */
    c.len = m.len + SEG;
    expect_reject(&c, HB_E_VERIFY, "bytes after the final segment");
    free(c.data);
    free(m.data);
}

static void test_reject_wrong_key_or_context(void)
{
    membuf m = sample(S + 1);
    uint8_t other[32];
    memcpy(other, DEK, 32);
    other[31] ^= 1;
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(open_buf(&m, other, ID, NAME, NULL, NULL, &err), HB_E_VERIFY, &err,
                       "archive 'config': key commitment mismatch");
    HBTEST_ASSERT_FAIL(open_buf(&m, DEK, "223e4567-e89b-12d3-a456-426614174000", NAME, NULL, NULL,
                                &err), HB_E_VERIFY, &err, "key commitment mismatch");
    /* renamed to another resource: config.tzst copied over cert.tzst */
    HBTEST_ASSERT_FAIL(open_buf(&m, DEK, ID, "cert", NULL, NULL, &err), HB_E_VERIFY, &err,
                       "archive 'cert': key commitment mismatch");
    free(m.data);
}

/* A forged file whose final segment is empty after a non-empty one: sealed
 * here with plain EVP so the writer's refusal to produce it is no help. */
static void test_reject_empty_final_after_data(void)
{
    membuf m = sample(S); /* one full final segment */
    uint8_t *hdr = m.data;
    uint8_t k[32], nonce[12], pt[S], tag[16];
    hb_err err = {0};
    CU_ASSERT_EQUAL_FATAL(hb_hex_decode(K_HEX, k, 32, &err), HB_OK);
    uint8_t salt[32];
    memcpy(salt, hdr + 16, 32);
    HBTEST_ASSERT_OK(hb_stream_derive(DEK, salt, "hsmbak v1 key", ID, NAME, k, &err), &err);
    membuf c = copy_of(&m);
    c.len = 88;
    for (uint32_t i = 0; i < 2; i++) {
        memcpy(nonce, hdr + 48, 7);
        nonce[7] = nonce[8] = nonce[9] = 0;
        nonce[10] = (uint8_t)i;
        nonce[11] = (uint8_t)i; /* segment 1 is the final one */
        size_t len = i == 0 ? S : 0;
        pattern(pt, len, 1);
        EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
        int n = 0;
        CU_ASSERT_EQUAL(EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, k, nonce), 1);
        CU_ASSERT_EQUAL(EVP_EncryptUpdate(x, NULL, &n, hdr, 88), 1);
        if (len > 0)
            CU_ASSERT_EQUAL(EVP_EncryptUpdate(x, c.data + c.len, &n, pt, (int)len), 1);
        CU_ASSERT_EQUAL(EVP_EncryptFinal_ex(x, c.data + c.len + len, &n), 1);
        CU_ASSERT_EQUAL(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
        memcpy(c.data + c.len + len, tag, 16);
        c.len += len + 16;
        EVP_CIPHER_CTX_free(x);
    }
    expect_reject(&c, HB_E_VERIFY, "empty final segment 1");
    free(c.data);
    free(m.data);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"round trip sizes", test_round_trip_sizes},
        {"round trip each segment size 12..24", test_round_trip_each_segment_size},
        {"writer rejects bad segment size", test_writer_rejects_bad_segment_size},
        {"writer: sink failure sticks", test_writer_sink_failure},
        {"KAT: HKDF outputs match the openssl CLI", test_kat_hkdf},
        {"KAT: worked example vector", test_kat_vector},
        {"KAT: two segments open with plain EVP", test_kat_two_segments},
        {"reject: header bit flips", test_reject_header_bits},
        {"reject: segment and tag bit flips", test_reject_body_bits},
        {"reject: truncation at every kind of boundary", test_reject_truncation},
        {"reject: dropped, duplicated, reordered segments", test_reject_drop_duplicate_reorder},
        {"reject: bytes appended", test_reject_appended},
        {"reject: wrong DEK, backup id or name", test_reject_wrong_key_or_context},
        {"reject: empty final segment after data", test_reject_empty_final_after_data},
        {NULL, NULL},
    };
    return hbtest_main("stream", cases);
}
