/* The segmented AEAD stream of an archive file (DESIGN §4.1, docs/FORMAT.md).
 *
 * Writer: holds one plaintext segment and one sealed segment. A full segment
 * is sealed only once more plaintext arrives, because until then it may be
 * the final one (nonce last byte 0x01) — this keeps the final segment
 * non-empty unless the whole plaintext is empty.
 *
 * Reader: a segment is final exactly when fewer than S+16 bytes remain, so it
 * reads S+16 bytes and, if it got them all, peeks one more byte to learn
 * whether more follows. Nothing is returned before its tag verified. */
#include "backup/format/stream.h"
#include "common/random.h"

#include "backup/format/archive_internal.h"
#include "common/fail.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MAGIC[8] = {0x89, 0x48, 0x42, 0x4B, 0x0D, 0x0A, 0x1A, 0x0A};
#define FORMAT_VERSION 1
#define SUITE_AES256GCM_HKDF_SHA256 1
#define NONCE_LEN 12
#define MAX_SEGMENTS ((uint64_t)UINT32_MAX + 1) /* uint32 counter in the nonce */

/* Header field offsets (DESIGN §4.1). */
enum { OFF_VERSION = 8, OFF_SUITE = 9, OFF_SEGLOG = 10, OFF_RESERVED1 = 11,
       OFF_SALT = 16, OFF_PREFIX = 48, OFF_RESERVED2 = 55, OFF_COMMIT = 56 };

struct hb_stream_writer {
    EVP_CIPHER_CTX *cctx;
    uint8_t header[HB_STREAM_HEADER_LEN];
    uint8_t prefix[HB_STREAM_PREFIX_LEN];
    char *name;
    size_t seg_size;
    uint8_t *pt;        /* plaintext of the pending segment */
    size_t pt_len;
    uint8_t *ct;        /* sealed segment + tag */
    uint64_t index;     /* of the pending segment */
    hb_sink_fn sink;
    void *sink_ctx;
    bool finished;
    bool failed;
};

struct hb_stream_reader {
    EVP_CIPHER_CTX *cctx;
    uint8_t header[HB_STREAM_HEADER_LEN];
    uint8_t prefix[HB_STREAM_PREFIX_LEN];
    char *name;
    size_t seg_size;
    uint8_t *ct;        /* S+16 bytes of ciphertext plus one peeked byte */
    bool have_peek;
    uint8_t *pt;        /* verified plaintext of the current segment */
    size_t pt_len, pt_off;
    uint64_t index;     /* of the next segment to open */
    hb_source_fn source;
    void *source_ctx;
    bool done;          /* the final segment verified */
    bool failed;
};

hb_status hb_stream_derive(const uint8_t dek[HB_DEK_LEN], const uint8_t salt[HB_STREAM_SALT_LEN],
                           const char *label, const char *backup_id, const char *name,
                           uint8_t out[32], hb_err *err)
{
    hb_status st = HB_OK;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    size_t ll = strlen(label), il = strlen(backup_id), nl = strlen(name);
    size_t info_len = ll + 1 + il + 1 + nl;
    uint8_t *info = malloc(info_len);
    HB_ALLOC(info);
    /* info = label || 0x00 || backup-id || 0x00 || name (DESIGN §4.1) */
    memcpy(info, label, ll);
    info[ll] = 0;
    memcpy(info + ll + 1, backup_id, il);
    info[ll + 1 + il] = 0;
    memcpy(info + ll + 2 + il, name, nl);

    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx == NULL)
        HB_FAIL_OSSL(HB_E_INTERNAL, "HKDF is not available");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)dek, HB_DEK_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, HB_STREAM_SALT_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(kctx, out, 32, params) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "HKDF-SHA256 failed");
cleanup:
    free(info);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return st;
}

/* K into a fresh GCM context; the commitment into commit. */
static hb_status derive_keys(const uint8_t dek[HB_DEK_LEN], const uint8_t *salt,
                             const char *backup_id, const char *name, bool encrypt,
                             EVP_CIPHER_CTX **cctx_out, uint8_t commit[HB_STREAM_COMMIT_LEN],
                             hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t k[32];
    EVP_CIPHER_CTX *cctx = NULL;
    HB_TRY(hb_stream_derive(dek, salt, "hsmbak v1 commit", backup_id, name, commit, err));
    HB_TRY(hb_stream_derive(dek, salt, "hsmbak v1 key", backup_id, name, k, err));
    cctx = EVP_CIPHER_CTX_new();
    if (cctx == NULL ||
        EVP_CipherInit_ex(cctx, EVP_aes_256_gcm(), NULL, k, NULL, encrypt ? 1 : 0) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot set up AES-256-GCM");
    *cctx_out = cctx;
    cctx = NULL;
cleanup:
    OPENSSL_cleanse(k, sizeof k);
    EVP_CIPHER_CTX_free(cctx);
    return st;
}

/* nonce = prefix(7) || uint32_be(i) || last (DESIGN §4.1) */
static void make_nonce(const uint8_t prefix[HB_STREAM_PREFIX_LEN], uint64_t i, bool last,
                       uint8_t nonce[NONCE_LEN])
{
    memcpy(nonce, prefix, HB_STREAM_PREFIX_LEN);
    nonce[7] = (uint8_t)(i >> 24);
    nonce[8] = (uint8_t)(i >> 16);
    nonce[9] = (uint8_t)(i >> 8);
    nonce[10] = (uint8_t)i;
    nonce[11] = last ? 0x01 : 0x00;
}

static hb_status check_args(const uint8_t *dek, const char *backup_id, const char *name,
                            hb_err *err)
{
    if (dek == NULL || backup_id == NULL || name == NULL || name[0] == '\0')
        return hb_fail(err, HB_E_USAGE, "archive stream needs a DEK, a backup id and a name");
    return HB_OK;
}

/* ---- writer ---- */

hb_status hb_stream_writer_new_fixed(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                                     const char *name, unsigned seg_log2,
                                     const uint8_t salt[HB_STREAM_SALT_LEN],
                                     const uint8_t prefix[HB_STREAM_PREFIX_LEN],
                                     hb_sink_fn sink, void *sink_ctx,
                                     hb_stream_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_stream_writer *w = NULL;
    HB_TRY(check_args(dek, backup_id, name, err));
    if (seg_log2 == 0)
        seg_log2 = HB_SEG_LOG2_DEFAULT;
    HB_ENSURE(seg_log2 >= HB_SEG_LOG2_MIN && seg_log2 <= HB_SEG_LOG2_MAX && sink != NULL,
              HB_E_USAGE, "archive '%s': segment size 2^%u is outside 2^%d..2^%d", name,
              seg_log2, HB_SEG_LOG2_MIN, HB_SEG_LOG2_MAX);
    w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    w->seg_size = (size_t)1 << seg_log2;
    HB_ALLOC(w->name = strdup(name));
    HB_ALLOC(w->pt = malloc(w->seg_size));
    HB_ALLOC(w->ct = malloc(w->seg_size + HB_STREAM_TAG_LEN));
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    memcpy(w->header, MAGIC, sizeof MAGIC);
    w->header[OFF_VERSION] = FORMAT_VERSION;
    w->header[OFF_SUITE] = SUITE_AES256GCM_HKDF_SHA256;
    w->header[OFF_SEGLOG] = (uint8_t)seg_log2;
    memcpy(w->header + OFF_SALT, salt, HB_STREAM_SALT_LEN);
    memcpy(w->header + OFF_PREFIX, prefix, HB_STREAM_PREFIX_LEN);
    memcpy(w->prefix, prefix, HB_STREAM_PREFIX_LEN);
    HB_TRY(derive_keys(dek, salt, backup_id, name, true, &w->cctx, w->header + OFF_COMMIT, err));
    HB_TRY(w->sink(w->sink_ctx, w->header, sizeof w->header, err));
    *out = w;
    w = NULL;
cleanup:
    hb_stream_writer_free(w);
    return st;
}

hb_status hb_stream_writer_new(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                               const char *name, unsigned seg_log2, hb_sink_fn sink,
                               void *sink_ctx, hb_stream_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t salt[HB_STREAM_SALT_LEN], prefix[HB_STREAM_PREFIX_LEN];
    HB_TRY(hb_random_public(salt, sizeof salt, "the archive header's salt", err));
    HB_TRY(hb_random_public(prefix, sizeof prefix, "the archive header's nonce prefix", err));
    HB_TRY(hb_stream_writer_new_fixed(dek, backup_id, name, seg_log2, salt, prefix, sink,
                                      sink_ctx, out, err));
cleanup:
    return st;
}

/* Seal the pending segment and hand it to the sink. */
static hb_status seal(hb_stream_writer *w, bool last, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t nonce[NONCE_LEN];
    int n = 0, fin = 0;
    HB_ENSURE(w->index < MAX_SEGMENTS, HB_E_USAGE, "archive '%s': too large for %zu-byte "
              "segments", w->name, w->seg_size);
    make_nonce(w->prefix, w->index, last, nonce);
    if (EVP_EncryptInit_ex(w->cctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(w->cctx, NULL, &n, w->header, HB_STREAM_HEADER_LEN) != 1 ||
        EVP_EncryptUpdate(w->cctx, w->ct, &n, w->pt, (int)w->pt_len) != 1 ||
        EVP_EncryptFinal_ex(w->cctx, w->ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(w->cctx, EVP_CTRL_GCM_GET_TAG, HB_STREAM_TAG_LEN,
                            w->ct + w->pt_len) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "archive '%s': AES-256-GCM failed on segment %llu",
                     w->name, (unsigned long long)w->index);
    HB_TRY(w->sink(w->sink_ctx, w->ct, w->pt_len + HB_STREAM_TAG_LEN, err));
    OPENSSL_cleanse(w->pt, w->pt_len);
    w->pt_len = 0;
    w->index++;
cleanup:
    return st;
}

hb_status hb_stream_write(hb_stream_writer *w, const void *buf, size_t len, hb_err *err)
{
    hb_status st = HB_OK;
    const uint8_t *p = buf;
    HB_ENSURE(w != NULL && !w->finished && !w->failed, HB_E_USAGE,
              "archive stream: write after finish or failure");
    while (len > 0) {
        if (w->pt_len == w->seg_size) /* more follows: the full one is not final */
            HB_TRY(seal(w, false, err));
        size_t n = w->seg_size - w->pt_len;
        if (n > len)
            n = len;
        memcpy(w->pt + w->pt_len, p, n);
        w->pt_len += n;
        p += n;
        len -= n;
    }
cleanup:
    if (st != HB_OK && w != NULL)
        w->failed = true;
    return st;
}

hb_status hb_stream_writer_finish(hb_stream_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    HB_ENSURE(w != NULL && !w->finished && !w->failed, HB_E_USAGE,
              "archive stream: finish after finish or failure");
    HB_TRY(seal(w, true, err));
    w->finished = true;
cleanup:
    if (st != HB_OK && w != NULL)
        w->failed = true;
    return st;
}

void hb_stream_writer_free(hb_stream_writer *w)
{
    if (w == NULL)
        return;
    EVP_CIPHER_CTX_free(w->cctx); /* cleanses the key schedule */
    if (w->pt != NULL)
        OPENSSL_clear_free(w->pt, w->seg_size);
    free(w->ct);
    free(w->name);
    free(w);
}

/* ---- reader ---- */

/* Fill buf with up to want bytes; fewer only at end of file. */
static hb_status read_full(hb_stream_reader *r, uint8_t *buf, size_t want, size_t *got,
                           hb_err *err)
{
    hb_status st = HB_OK;
    size_t have = 0;
    while (have < want) {
        size_t n = 0;
        HB_TRY(r->source(r->source_ctx, buf + have, want - have, &n, err));
        if (n == 0)
            break;
        have += n;
    }
cleanup:
    *got = have;
    return st;
}

hb_status hb_stream_reader_new(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                               const char *name, hb_source_fn source, void *source_ctx,
                               hb_stream_reader **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_stream_reader *r = NULL;
    uint8_t commit[HB_STREAM_COMMIT_LEN];
    size_t got = 0;
    HB_TRY(check_args(dek, backup_id, name, err));
    r = calloc(1, sizeof *r);
    HB_ALLOC(r);
    HB_ALLOC(r->name = strdup(name));
    r->source = source;
    r->source_ctx = source_ctx;
    HB_TRY(read_full(r, r->header, HB_STREAM_HEADER_LEN, &got, err));
    const uint8_t *h = r->header;
    HB_ENSURE(got < sizeof MAGIC || memcmp(h, MAGIC, sizeof MAGIC) == 0, HB_E_VERIFY,
              "archive '%s': bad magic: not an hsmbak encrypted archive", name);
    HB_ENSURE(got == HB_STREAM_HEADER_LEN, HB_E_VERIFY, "archive '%s': truncated: the file "
              "ends inside the %d-byte header (%zu bytes)", name, HB_STREAM_HEADER_LEN, got);
    HB_ENSURE(h[OFF_VERSION] == FORMAT_VERSION, HB_E_REFUSED, "archive '%s': unknown format "
              "version %u (this hsmbak reads version %d); use a newer hsmbak", name,
              h[OFF_VERSION], FORMAT_VERSION);
    HB_ENSURE(h[OFF_SUITE] == SUITE_AES256GCM_HKDF_SHA256, HB_E_REFUSED, "archive '%s': "
              "unknown cipher suite %u (this hsmbak knows suite 1, AES-256-GCM with "
              "HKDF-SHA256)", name, h[OFF_SUITE]);
    unsigned seg_log2 = h[OFF_SEGLOG];
    HB_ENSURE(seg_log2 >= HB_SEG_LOG2_MIN && seg_log2 <= HB_SEG_LOG2_MAX, HB_E_VERIFY,
              "archive '%s': segment size 2^%u is out of range (2^%d..2^%d)", name, seg_log2,
              HB_SEG_LOG2_MIN, HB_SEG_LOG2_MAX);
    bool reserved_zero = h[OFF_RESERVED2] == 0;
    for (size_t i = OFF_RESERVED1; i < OFF_SALT; i++)
        reserved_zero = reserved_zero && h[i] == 0;
    HB_ENSURE(reserved_zero, HB_E_VERIFY, "archive '%s': reserved header bytes are not zero",
              name);
    r->seg_size = (size_t)1 << seg_log2;
    memcpy(r->prefix, h + OFF_PREFIX, HB_STREAM_PREFIX_LEN);
    HB_TRY(derive_keys(dek, h + OFF_SALT, backup_id, name, false, &r->cctx, commit, err));
    /* Key commitment (DESIGN §4.1): compared in constant time before any
     * decryption, so a wrong DEK or an archive of another backup or name is
     * told apart from tampering. */
    HB_ENSURE(CRYPTO_memcmp(commit, h + OFF_COMMIT, sizeof commit) == 0, HB_E_VERIFY,
              "archive '%s': key commitment mismatch: wrong key, or the file belongs to "
              "another backup or another archive name", name);
    HB_ALLOC(r->ct = malloc(r->seg_size + HB_STREAM_TAG_LEN + 1));
    HB_ALLOC(r->pt = malloc(r->seg_size));
    *out = r;
    r = NULL;
cleanup:
    OPENSSL_cleanse(commit, sizeof commit);
    hb_stream_reader_free(r);
    return st;
}

/* Try to open ct[0..len) as segment index with the given last flag. */
static bool open_segment(hb_stream_reader *r, const uint8_t *ct, size_t len, uint64_t index,
                         bool last)
{
    uint8_t nonce[NONCE_LEN];
    int n = 0, fin = 0;
    size_t body = len - HB_STREAM_TAG_LEN;
    make_nonce(r->prefix, index, last, nonce);
    bool ok = EVP_DecryptInit_ex(r->cctx, NULL, NULL, NULL, nonce) == 1 &&
              EVP_DecryptUpdate(r->cctx, NULL, &n, r->header, HB_STREAM_HEADER_LEN) == 1 &&
              EVP_DecryptUpdate(r->cctx, r->pt, &n, ct, (int)body) == 1 &&
              EVP_CIPHER_CTX_ctrl(r->cctx, EVP_CTRL_GCM_SET_TAG, HB_STREAM_TAG_LEN,
                                  (void *)(ct + body)) == 1 &&
              EVP_DecryptFinal_ex(r->cctx, r->pt + n, &fin) == 1;
    if (!ok) {
        OPENSSL_cleanse(r->pt, body);
        ERR_clear_error(); /* a failed tag is our message, not OpenSSL's */
    }
    return ok;
}

/* Diagnostics only, after a segment failed: would it open as a final
 * segment once a few trailing bytes are dropped? Then the file has bytes
 * after its final segment. Bounded so a forged file cannot make us work
 * hard; the file is rejected either way. */
#define APPENDED_PROBE_MAX 64
static bool looks_appended(hb_stream_reader *r, size_t len)
{
    for (size_t k = 1; k <= APPENDED_PROBE_MAX && len >= HB_STREAM_TAG_LEN + k; k++)
        if (open_segment(r, r->ct, len - k, r->index, true))
            return true;
    return false;
}

static hb_status next_segment(hb_stream_reader *r, hb_err *err)
{
    hb_status st = HB_OK;
    size_t want = r->seg_size + HB_STREAM_TAG_LEN, got = 0, extra = 0;
    size_t start = r->have_peek ? 1 : 0;
    HB_TRY(read_full(r, r->ct + start, want - start, &got, err));
    got += start;
    r->have_peek = false;
    bool last = got < want;
    if (!last) { /* exactly S+16: final only if nothing follows */
        HB_TRY(read_full(r, r->ct + want, 1, &extra, err));
        last = extra == 0;
    }
    HB_ENSURE(got >= HB_STREAM_TAG_LEN, HB_E_VERIFY, "archive '%s': truncated: the file ends "
              "%s segment %llu, before the final segment", r->name,
              got == 0 ? "before" : "inside", (unsigned long long)r->index);
    if (!open_segment(r, r->ct, got, r->index, last)) {
        if (!last && open_segment(r, r->ct, got, r->index, true))
            st = hb_fail(err, HB_E_VERIFY, "archive '%s': bytes after the final segment "
                         "(segment %llu)", r->name, (unsigned long long)r->index);
        else if (last && looks_appended(r, got))
            st = hb_fail(err, HB_E_VERIFY, "archive '%s': bytes after the final segment "
                         "(segment %llu)", r->name, (unsigned long long)r->index);
        else if (last && open_segment(r, r->ct, got, r->index, false))
            st = hb_fail(err, HB_E_VERIFY, "archive '%s': truncated: the file ends after "
                         "segment %llu, which is not the final segment", r->name,
                         (unsigned long long)r->index);
        else
            st = hb_fail(err, HB_E_VERIFY, "archive '%s': segment %llu fails authentication "
                         "(bad tag: the file was altered, truncated, reordered or corrupted)",
                         r->name, (unsigned long long)r->index);
        goto cleanup;
    }
    HB_ENSURE(!(last && got == HB_STREAM_TAG_LEN && r->index > 0), HB_E_VERIFY,
              "archive '%s': empty final segment %llu after non-empty ones (only an empty "
              "archive may end that way)", r->name, (unsigned long long)r->index);
    r->pt_len = got - HB_STREAM_TAG_LEN;
    r->pt_off = 0;
    r->index++;
    if (last)
        r->done = true;
    else {
        r->ct[0] = r->ct[want];
        r->have_peek = true;
        HB_ENSURE(r->index < MAX_SEGMENTS, HB_E_VERIFY, "archive '%s': more segments than the "
                  "format allows", r->name);
    }
cleanup:
    return st;
}

hb_status hb_stream_read(hb_stream_reader *r, void *buf, size_t cap, size_t *got, hb_err *err)
{
    hb_status st = HB_OK;
    size_t have = 0;
    HB_ENSURE(r != NULL && !r->failed, HB_E_USAGE, "archive stream: read after a failure");
    while (have < cap) {
        if (r->pt_off == r->pt_len) {
            if (r->done)
                break;
            OPENSSL_cleanse(r->pt, r->pt_len);
            r->pt_len = r->pt_off = 0;
            HB_TRY(next_segment(r, err));
            continue;
        }
        size_t n = r->pt_len - r->pt_off;
        if (n > cap - have)
            n = cap - have;
        memcpy((uint8_t *)buf + have, r->pt + r->pt_off, n);
        r->pt_off += n;
        have += n;
        if (have > 0 && r->pt_off == r->pt_len)
            break; /* hand back what we have rather than block on the next segment */
    }
cleanup:
    if (st != HB_OK && r != NULL)
        r->failed = true;
    *got = st == HB_OK ? have : 0;
    return st;
}

void hb_stream_reader_free(hb_stream_reader *r)
{
    if (r == NULL)
        return;
    EVP_CIPHER_CTX_free(r->cctx);
    if (r->pt != NULL)
        OPENSSL_clear_free(r->pt, r->seg_size);
    free(r->ct);
    free(r->name);
    free(r);
}
