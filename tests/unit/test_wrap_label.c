/* The OAEP label of a wrap (backup/custody/wrap.c, docs/FORMAT.md §2.1):
 * its exact bytes against an independently built vector; a labelled wrap
 * opens in plain OpenSSL (default provider) with that label only, not with
 * the label of another archive, backup, purpose or recipient, nor with the
 * empty label; and the manifest's oaep-label mark survives signing and
 * reading (absent: unlabelled, an unknown value refused). */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/custody/wrap.h"
#include "backup/format/manifest.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

static const char ID[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char FP[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char SUM[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_label_bytes(void)
{
    hb_err err = {0};
    hb_wrap_label l;
    uint8_t want[256];
    size_t n = 0;
    const char *parts[] = {"hsmbak-v1", "dek", ID, "config"};
    for (size_t i = 0; i < 4; i++) {
        memcpy(want + n, parts[i], strlen(parts[i]));
        n += strlen(parts[i]);
        want[n++] = 0x00;
    }
    for (unsigned i = 0; i < 32; i++)
        want[n++] = (uint8_t)i; /* FP as raw bytes */
    HBTEST_ASSERT_OK(hb_wrap_label_make("dek", ID, "config", FP, &l, &err), &err);
    CU_ASSERT_EQUAL(l.len, n);
    CU_ASSERT_EQUAL(l.len, 10 + 4 + 37 + 7 + 32);
    CU_ASSERT(memcmp(l.bytes, want, n) == 0);

    hb_wrap_label s;
    HBTEST_ASSERT_OK(hb_wrap_label_make("share", ID, "vault", FP, &s, &err), &err);
    CU_ASSERT_EQUAL(s.len, 10 + 6 + 37 + 6 + 32);
    CU_ASSERT(memcmp(s.bytes, "hsmbak-v1\0share\0", 16) == 0);
    CU_ASSERT(memcmp(s.bytes + 16 + 37, "vault\0", 6) == 0);

    HBTEST_ASSERT_FAIL(hb_wrap_label_make("kek", ID, "config", FP, &l, &err), HB_E_USAGE, &err,
                       "only dek and share");
    HBTEST_ASSERT_FAIL(hb_wrap_label_make("dek", ID, "config", "abcd", &l, &err), HB_E_USAGE,
                       &err, "64-hex-digit certificate fingerprint");
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    HBTEST_ASSERT_FAIL(hb_wrap_label_make("dek", ID, big, FP, &l, &err), HB_E_USAGE, &err,
                       "longer than 512 bytes");
}

/* RSA-OAEP-SHA256 decryption in plain OpenSSL with label (len 0: none). */
static bool soft_decrypt(EVP_PKEY *key, const hb_wrap_label *label, const uint8_t *in,
                         size_t inlen, uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, "provider=default");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                         (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
        OSSL_PARAM_construct_end(),
    };
    if (label != NULL)
        params[3] = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                                                      (void *)label->bytes, label->len);
    bool ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) > 0 &&
              EVP_PKEY_CTX_set_params(ctx, params) > 0 &&
              EVP_PKEY_decrypt(ctx, out, outlen, in, inlen) > 0;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void test_labelled_wrap_opens_only_with_its_label(void)
{
    hb_err err = {0};
    sigtest_key r = sigtest_make("rsa2048", "Recipient");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.cert);
    uint8_t dek[HB_DEK_LEN], out[512], *wrapped = NULL;
    size_t wlen = 0, outlen = sizeof out;
    CU_ASSERT_EQUAL(RAND_bytes(dek, sizeof dek), 1);
    hb_wrap_label l, other;
    HBTEST_ASSERT_OK(hb_wrap_label_make("dek", ID, "config", FP, &l, &err), &err);
    HBTEST_ASSERT_OK(hb_wrap_dek_labelled(NULL, r.cert, HB_OAEP_SHA256, &l, dek, &wrapped, &wlen,
                                          &err), &err);
    CU_ASSERT_FATAL(soft_decrypt(r.key, &l, wrapped, wlen, out, &outlen));
    CU_ASSERT_EQUAL(outlen, HB_DEK_LEN);
    CU_ASSERT(memcmp(out, dek, HB_DEK_LEN) == 0);
    /* Another archive, backup, purpose, recipient: refused; and the empty label. */
    const char *fields[][4] = {
        {"dek", ID, "cert", FP},
        {"dek", "1f8fad5b-d9cb-469f-a165-70867728950e", "config", FP},
        {"share", ID, "config", FP},
        {"dek", ID, "config",
         "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        HBTEST_ASSERT_OK(hb_wrap_label_make(fields[i][0], fields[i][1], fields[i][2],
                                            fields[i][3], &other, &err), &err);
        outlen = sizeof out;
        CU_ASSERT_FALSE(soft_decrypt(r.key, &other, wrapped, wlen, out, &outlen));
    }
    outlen = sizeof out;
    CU_ASSERT_FALSE(soft_decrypt(r.key, NULL, wrapped, wlen, out, &outlen));
    free(wrapped);
    /* hb_wrap_dek: still the empty label. */
    HBTEST_ASSERT_OK(hb_wrap_dek(NULL, r.cert, HB_OAEP_SHA256, dek, &wrapped, &wlen, &err), &err);
    outlen = sizeof out;
    CU_ASSERT(soft_decrypt(r.key, NULL, wrapped, wlen, out, &outlen));
    outlen = sizeof out;
    CU_ASSERT_FALSE(soft_decrypt(r.key, &l, wrapped, wlen, out, &outlen));
    free(wrapped);
    sigtest_free(&r);
}

static uint8_t *signed_manifest(bool labelled, size_t *len)
{
    hb_err err = {0};
    hb_manifest *m = NULL;
    uint8_t *xml = NULL;
    const char *rid = NULL, *qid = NULL;
    static const uint8_t key[256] = {1}, share[256] = {3}, commitment[32] = {4};
    sigtest_key sg = sigtest_make("p256", "Signer");
    sigtest_key r1 = sigtest_make("rsa2048", "One"), r2 = sigtest_make("rsa2048", "Two");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2.cert);
    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, ID, "2026-12-02T14:00:00Z", "hsmbak 0.1.0", &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", "b", "t", "s", &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, r1.cert, "rsa-oaep-sha256", &rid, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_quorum(m, "vault", 2, &qid, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_quorum_member(m, qid, r1.cert, "rsa-oaep-sha256", 1, share,
                                                   sizeof share, commitment, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_quorum_member(m, qid, r2.cert, "rsa-oaep-sha1", 2, share,
                                                   sizeof share, commitment, &err), &err);
    if (labelled) {
        HBTEST_ASSERT_OK(hb_manifest_set_recipient_label(m, rid, &err), &err);
        HBTEST_ASSERT_OK(hb_manifest_set_member_label(m, qid, 2, &err), &err);
        HBTEST_ASSERT_FAIL(hb_manifest_set_member_label(m, qid, 9, &err), HB_E_USAGE, &err,
                           "no member 9 of quorum 'q1'");
    }
    HBTEST_ASSERT_OK(hb_manifest_add_file(m, "config", "config.tzst", "zstd", 10, SUM, &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", rid, key, sizeof key, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, "config", qid, key, 40, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, sg.cert, sigtest_sign, sg.key, &xml, len, &err),
                     &err);
    hb_manifest_free(m);
    sigtest_free(&sg);
    sigtest_free(&r1);
    sigtest_free(&r2);
    return xml;
}

static void test_manifest_mark(void)
{
    hb_err err = {0};
    size_t len = 0;
    hb_manifest *back = NULL;
    X509 *signer = NULL;
    uint8_t *xml = signed_manifest(true, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)xml, "<recipient id=\"r1\" oaep-label=\"hsmbak-v1\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)xml, "<member x=\"2\" oaep-label=\"hsmbak-v1\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)xml, "<member x=\"1\">"));
    HBTEST_ASSERT_OK(hb_manifest_read(xml, len, NULL, &back, &signer, &err), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_TRUE(hb_manifest_recipient_at(back, 0)->oaep_label);
    const hb_manifest_quorum *q = hb_manifest_quorum_at(back, 0);
    CU_ASSERT_FALSE(q->members[0].oaep_label);
    CU_ASSERT_TRUE(q->members[1].oaep_label);
    hb_manifest_free(back);
    X509_free(signer);
    free(xml);

    /* Unlabelled: no attribute at all, as manifests made before labels. */
    xml = signed_manifest(false, &len);
    CU_ASSERT_PTR_NULL(strstr((char *)xml, "oaep-label"));
    back = NULL;
    signer = NULL;
    HBTEST_ASSERT_OK(hb_manifest_read(xml, len, NULL, &back, &signer, &err), &err);
    CU_ASSERT_FALSE(hb_manifest_recipient_at(back, 0)->oaep_label);
    CU_ASSERT_FALSE(hb_manifest_quorum_at(back, 0)->members[1].oaep_label);
    hb_manifest_free(back);
    X509_free(signer);
    free(xml);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"OAEP label bytes: vector, share form, refusals", test_label_bytes},
        {"a labelled wrap opens with its own label only", test_labelled_wrap_opens_only_with_its_label},
        {"manifest oaep-label: signed, read back, absent = unlabelled", test_manifest_mark},
        {NULL, NULL},
    };
    return hbtest_main("wrap_label", cases);
}
