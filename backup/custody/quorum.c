/* k-of-n quorum recipients (docs/FORMAT.md §8): group key, Shamir split with
 * libgfshare, RFC 5649 key wrap with OpenSSL, and the restore side that
 * gathers shares from several idcreds. */
#include "backup/custody/quorum.h"
#include "common/random.h"

#include "common/encode.h"
#include "backup/custody/wrap.h"
#include "common/fail.h"
#include "common/x509.h"

#include <libgfshare.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Shamir over GF(2^8) (libgfshare) ------------------------------------- */

/* libgfshare draws polynomial coefficients through this global hook; it is
 * NULL by default and its fallback uses random(), so hsmbak always points it
 * at OpenSSL's private DRBG in hsmbak's own context (common/random.h). The hook cannot report failure, so a failure is
 * recorded here and the split is refused afterwards. */
static _Thread_local bool rand_failed;

static void fill_rand(unsigned char *buf, unsigned int len)
{
    hb_err ignored;
    if (hb_random_secret(buf, len, "a share polynomial", &ignored) != HB_OK) {
        rand_failed = true;
        memset(buf, 0, len);
    }
}

hb_status hb_quorum_new_key(uint8_t g[HB_QUORUM_KEY_LEN], hb_err *err)
{
    return hb_random_secret(g, HB_QUORUM_KEY_LEN, "a quorum group key", err);
}

hb_status hb_quorum_split(const uint8_t g[HB_QUORUM_KEY_LEN], unsigned k, size_t n,
                          uint8_t (*shares)[HB_QUORUM_SHARE_LEN], hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char xs[255], secret[HB_QUORUM_KEY_LEN];
    gfshare_ctx *ctx = NULL;
    HB_ENSURE(k >= 2 && n >= k && n <= 255, HB_E_USAGE,
              "a quorum needs 2 <= threshold (%u) <= members (%zu) <= 255", k, n);
    for (size_t i = 0; i < n; i++)
        xs[i] = (unsigned char)(i + 1);
    gfshare_fill_rand = fill_rand;
    rand_failed = false;
    ctx = gfshare_ctx_init_enc(xs, (unsigned)n, (unsigned char)k, HB_QUORUM_KEY_LEN);
    HB_ENSURE(ctx != NULL, HB_E_INTERNAL, "libgfshare refused to split a key %u of %zu", k, n);
    memcpy(secret, g, sizeof secret);
    gfshare_ctx_enc_setsecret(ctx, secret); /* draws the coefficients */
    for (size_t i = 0; i < n; i++) {
        shares[i][0] = xs[i];
        gfshare_ctx_enc_getshare(ctx, (unsigned char)i, shares[i] + 1);
    }
    if (rand_failed) {
        OPENSSL_cleanse(shares, n * HB_QUORUM_SHARE_LEN);
        st = hb_fail_ossl(err, HB_E_INTERNAL, "no randomness for the quorum key split");
    }
cleanup:
    OPENSSL_cleanse(secret, sizeof secret);
    if (ctx != NULL)
        gfshare_ctx_free(ctx); /* scrubs its buffers with gfshare_fill_rand, then frees */
    return st;
}

hb_status hb_quorum_combine(const uint8_t (*shares)[HB_QUORUM_SHARE_LEN], size_t n,
                            uint8_t g[HB_QUORUM_KEY_LEN], hb_err *err)
{
    unsigned char xs[255], y[HB_QUORUM_KEY_LEN];
    if (n == 0 || n > 255)
        return hb_fail(err, HB_E_USAGE, "combining %zu quorum shares", n);
    for (size_t i = 0; i < n; i++) {
        xs[i] = shares[i][0];
        if (xs[i] == 0)
            return hb_fail(err, HB_E_VERIFY, "a quorum share has x coordinate 0");
        for (size_t j = 0; j < i; j++)
            if (xs[j] == xs[i])
                return hb_fail(err, HB_E_VERIFY, "two quorum shares have x coordinate %u",
                               xs[i]);
    }
    gfshare_fill_rand = fill_rand; /* gfshare_ctx_free scrubs with it */
    gfshare_ctx *ctx = gfshare_ctx_init_dec(xs, (unsigned)n, HB_QUORUM_KEY_LEN);
    if (ctx == NULL)
        return hb_fail(err, HB_E_INTERNAL, "libgfshare refused to combine %zu shares", n);
    for (size_t i = 0; i < n; i++) {
        memcpy(y, shares[i] + 1, sizeof y);
        gfshare_ctx_dec_giveshare(ctx, (unsigned char)i, y);
    }
    gfshare_ctx_dec_extract(ctx, g);
    OPENSSL_cleanse(y, sizeof y);
    gfshare_ctx_free(ctx);
    return HB_OK;
}

/* ---- RFC 5649 ----------------------------------------------------------------- */

static hb_status kw(bool enc, const uint8_t g[HB_QUORUM_KEY_LEN], const uint8_t *in,
                    size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len, hb_err *err)
{
    hb_status st = HB_OK;
    int n1 = 0, n2 = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    HB_ALLOC(ctx);
    /* Key wrap modes must be allowed explicitly on a cipher context. */
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, g, NULL, enc ? 1 : 0) != 1) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "AES-256 key wrap with padding is unavailable");
        goto cleanup;
    }
    if (in_len + 16 > out_cap || EVP_CipherUpdate(ctx, out, &n1, in, (int)in_len) != 1 ||
        n1 < 0 || EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1) {
        OPENSSL_cleanse(out, out_cap);
        st = enc ? hb_fail_ossl(err, HB_E_INTERNAL, "RFC 5649 key wrap failed")
                 : hb_fail_ossl(err, HB_E_VERIFY, "the quorum key does not unwrap this "
                                "archive key (RFC 5649 integrity check failed): wrong shares, "
                                "or the wrapped key was altered");
        goto cleanup;
    }
    *out_len = (size_t)n1 + (size_t)n2;
cleanup:
    EVP_CIPHER_CTX_free(ctx);
    return st;
}

hb_status hb_quorum_wrap_dek(const uint8_t g[HB_QUORUM_KEY_LEN], const uint8_t dek[HB_DEK_LEN],
                             uint8_t out[HB_QUORUM_WRAPPED_LEN], hb_err *err)
{
    uint8_t buf[HB_QUORUM_WRAPPED_LEN + 16];
    size_t len = 0;
    hb_status st = kw(true, g, dek, HB_DEK_LEN, buf, sizeof buf, &len, err);
    if (st == HB_OK && len != HB_QUORUM_WRAPPED_LEN)
        st = hb_fail(err, HB_E_INTERNAL, "RFC 5649 wrap gave %zu bytes, not %d", len,
                     HB_QUORUM_WRAPPED_LEN);
    if (st == HB_OK)
        memcpy(out, buf, HB_QUORUM_WRAPPED_LEN);
    return st;
}

hb_status hb_quorum_unwrap_dek(const uint8_t g[HB_QUORUM_KEY_LEN], const uint8_t *in,
                               size_t in_len, uint8_t dek[HB_DEK_LEN], hb_err *err)
{
    uint8_t buf[HB_QUORUM_WRAPPED_LEN + 16];
    size_t len = 0;
    if (in == NULL || in_len != HB_QUORUM_WRAPPED_LEN)
        return hb_fail(err, HB_E_VERIFY, "a quorum-wrapped archive key is %zu bytes, not %d",
                       in_len, HB_QUORUM_WRAPPED_LEN);
    hb_status st = kw(false, g, in, in_len, buf, sizeof buf, &len, err);
    if (st == HB_OK && len != HB_DEK_LEN)
        st = hb_fail(err, HB_E_VERIFY, "the quorum-wrapped archive key holds %zu bytes, not "
                     "%d", len, HB_DEK_LEN);
    if (st == HB_OK)
        memcpy(dek, buf, HB_DEK_LEN);
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

/* ---- share commitments ------------------------------------------------------ */

/* A hash of a share whose y is 32 uniformly random bytes (given fewer than k
 * other shares) gives a holder of k-1 shares only what every wrapped DEK
 * already gives: a way to test a guess of G, over 2^256 guesses (the hash
 * covers all 32 bytes at once, not byte by byte). The backup id and group
 * name make it useless in any other backup. The separators are unambiguous:
 * neither the id (a UUID) nor the name ([a-z0-9-]) holds a 0x00. */
hb_status hb_quorum_share_commitment(const char *backup_id, const char *group_name,
                                     const uint8_t share[HB_QUORUM_SHARE_LEN],
                                     uint8_t out[HB_QUORUM_COMMITMENT_LEN], hb_err *err)
{
    static const char label[] = "hsmbak-share-v1";
    static const uint8_t zero = 0;
    hb_status st = HB_OK;
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    HB_ENSURE(backup_id != NULL && group_name != NULL && share != NULL, HB_E_USAGE,
              "a share commitment needs the backup id, the group name and the share");
    HB_ALLOC(md);
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, label, sizeof label - 1) != 1 ||
        EVP_DigestUpdate(md, &zero, 1) != 1 ||
        EVP_DigestUpdate(md, backup_id, strlen(backup_id)) != 1 ||
        EVP_DigestUpdate(md, &zero, 1) != 1 ||
        EVP_DigestUpdate(md, group_name, strlen(group_name)) != 1 ||
        EVP_DigestUpdate(md, &zero, 1) != 1 ||
        EVP_DigestUpdate(md, share, HB_QUORUM_SHARE_LEN) != 1 ||
        EVP_DigestFinal_ex(md, out, &len) != 1 || len != HB_QUORUM_COMMITMENT_LEN)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 of a quorum share failed");
cleanup:
    EVP_MD_CTX_free(md);
    return st;
}

/* ---- backup side -------------------------------------------------------------- */

/* RSA-OAEP of a 33-byte share (hb_wrap_dek takes exactly a DEK); label
 * NULL: empty. */
static hb_status wrap_share(OSSL_LIB_CTX *libctx, X509 *cert, hb_oaep_hash hash,
                            const hb_wrap_label *label,
                            const uint8_t share[HB_QUORUM_SHARE_LEN], uint8_t **out,
                            size_t *out_len, hb_err *err)
{
    hb_status st = hb_oaep_encrypt_labelled(libctx, X509_get0_pubkey(cert), hash,
                                            label != NULL ? label->bytes : NULL,
                                            label != NULL ? label->len : 0, share,
                                            HB_QUORUM_SHARE_LEN, out, out_len, err);
    if (st != HB_OK)
        hb_err_prefix(err, "wrapping a quorum share");
    return st;
}

hb_status hb_quorum_add_to_manifest(hb_manifest *m, OSSL_LIB_CTX *libctx, const char *name,
                                    unsigned threshold, X509 *const *certs,
                                    const hb_oaep_hash *hashes, const bool *labelled,
                                    size_t n, uint8_t g[HB_QUORUM_KEY_LEN], const char **qid,
                                    hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t (*shares)[HB_QUORUM_SHARE_LEN] = NULL;
    uint8_t *wrapped = NULL, commitment[HB_QUORUM_COMMITMENT_LEN];
    size_t wrapped_len = 0;
    HB_ENSURE(n >= 2 && n <= 255, HB_E_USAGE, "quorum '%s' has %zu members (2..255)", name, n);
    HB_ENSURE(m->id != NULL, HB_E_USAGE, "quorum '%s': the backup id is set first (the share "
              "commitments bind it)", name);
    shares = OPENSSL_secure_zalloc(n * sizeof *shares);
    HB_ALLOC(shares);
    HB_TRY(hb_quorum_new_key(g, err));
    HB_TRY(hb_quorum_split(g, threshold, n, shares, err));
    HB_TRY(hb_manifest_add_quorum(m, name, threshold, qid, err));
    for (size_t i = 0; i < n; i++) {
        hb_wrap_label label;
        bool lab = labelled != NULL && labelled[i];
        if (lab) {
            char fp[65];
            HB_TRY(hb_x509_fingerprint(certs[i], fp, err));
            HB_TRY(hb_wrap_label_make("share", m->id, name, fp, &label, err));
        }
        HB_TRY(wrap_share(libctx, certs[i], hashes[i], lab ? &label : NULL, shares[i], &wrapped,
                          &wrapped_len, err));
        HB_TRY(hb_quorum_share_commitment(m->id, name, shares[i], commitment, err));
        HB_TRY(hb_manifest_add_quorum_member(m, *qid, certs[i], hb_oaep_hash_name(hashes[i]),
                                             shares[i][0], wrapped, wrapped_len, commitment,
                                             err));
        if (lab)
            HB_TRY(hb_manifest_set_member_label(m, *qid, shares[i][0], err));
        free(wrapped);
        wrapped = NULL;
    }
cleanup:
    free(wrapped);
    if (st != HB_OK)
        OPENSSL_cleanse(g, HB_QUORUM_KEY_LEN);
    if (shares != NULL)
        OPENSSL_secure_clear_free(shares, n * sizeof *shares);
    return st;
}
