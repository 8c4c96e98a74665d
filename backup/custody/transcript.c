/* The ceremony transcript (docs/custody.md): an append-only, hash-chained
 * log, every entry signed by the backup-signer key on the token.
 *
 *   <transcript xmlns="urn:hsmbak:transcript:1" format="1">
 *     <anchor fingerprint="HEX"><certificate>B64 DER</certificate></anchor>
 *     <entry seq="1"><time/><who/><what/><detail/><fingerprint/>*
 *            <previous/><hash/><signature/></entry> ...
 *   </transcript>
 *
 * An entry's signed bytes (its "canonical form") are a length-prefixed
 * encoding, not XML, so that no XML canonicalisation is involved:
 *   "hsmbak-transcript-v1" 0x00 || u64be(seq) || str(time) || str(who) ||
 *   str(what) || str(detail) || u32be(count) || str(fingerprint)... ||
 *   str(previous)                     with str(s) = u32be(len(s)) || s
 * hash = SHA-256(canonical form); previous = the hash of the entry before,
 * or for entry 1 the anchor: SHA-256 of the signer certificate (DER). */
#include "hsmbak/custody.h"
#include "backup/custody/transcript.h"

#include "common/ids.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/fail.h"
#include "provider/token.h"
#include "common/x509.h"

#include <errno.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSCRIPT_NS "urn:hsmbak:transcript:1"
#define TRANSCRIPT_CAP ((size_t)16 << 20)
#define TEXT_MAX 1024
#define WHAT "transcript"

void hb_transcript_free(hb_transcript *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].who);
        free(t->entries[i].what);
        free(t->entries[i].detail);
        free(t->entries[i].fingerprints);
        free(t->entries[i].sig);
    }
    free(t->entries);
    free(t->signer_subject);
    free(t->signer_der);
    free(t);
}

hb_status hb_transcript_path(const char *root, char *out, size_t cap, hb_err *err)
{
    return hb_path_join(out, cap, root, "config/custody-transcript.xml", err);
}

/* ---- canonical form ---- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len > b->cap) {
        size_t cap = (b->len + len) * 2 + 64;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static void put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static hb_status canonical(const hb_transcript_entry *e, buf *out, hb_err *err)
{
    static const char magic[] = "hsmbak-transcript-v1"; /* and its NUL */
    uint64_t seq = e->seq;
    uint8_t s8[8];
    for (int i = 0; i < 8; i++)
        s8[i] = (uint8_t)(seq >> (56 - 8 * i));
    put(out, magic, sizeof magic);
    put(out, s8, 8);
    put_str(out, e->time);
    put_str(out, e->who);
    put_str(out, e->what);
    put_str(out, e->detail);
    put_u32(out, (uint32_t)e->n_fingerprints);
    for (size_t i = 0; i < e->n_fingerprints; i++)
        put_str(out, e->fingerprints[i]);
    put_str(out, e->prev);
    if (out->oom)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    return HB_OK;
}

static hb_status verify_sig(X509 *signer, const buf *data, const uint8_t *sig, size_t siglen,
                            bool *ok, hb_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *pub = X509_get0_pubkey(signer);
    if (md == NULL || pub == NULL ||
        EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, "provider=default", pub, NULL) != 1) {
        EVP_MD_CTX_free(md);
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot set up signature verification");
    }
    *ok = EVP_DigestVerify(md, sig, siglen, data->p, data->len) == 1;
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    return HB_OK;
}

/* ---- reading ---- */

static hb_status read_entry(const xmlNode *en, hb_transcript_entry *e, size_t pos, hb_err *err)
{
    hb_status st = HB_OK;
    char *prev = NULL, *hash = NULL, *sig = NULL, *fp = NULL;
    xmlChar *seq = xmlGetNoNsProp(en, BAD_CAST "seq");
    char *end = NULL;
    errno = 0;
    unsigned long v = seq != NULL ? strtoul((const char *)seq, &end, 10) : 0;
    if (seq == NULL || seq[0] < '0' || seq[0] > '9' || *end != '\0' || errno != 0) {
        st = hb_fail(err, HB_E_VERIFY, "transcript entry %zu (in file order) has no valid "
                     "sequence number", pos);
        goto cleanup;
    }
    e->seq = v;
    char *t = NULL;
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "time", true, WHAT, &t, err));
    snprintf(e->time, sizeof e->time, "%s", t);
    bool time_ok = strlen(t) == 20 && hb_rfc3339_ok(t);
    free(t);
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "who", true, WHAT, &e->who, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "what", true, WHAT, &e->what, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "detail", true, WHAT, &e->detail, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "previous", true, WHAT, &prev, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "hash", true, WHAT, &hash, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "signature", true, WHAT, &sig, err));
    if (!time_ok || !hb_hex_lower_ok(prev, 64) || !hb_hex_lower_ok(hash, 64)) {
        st = hb_fail(err, HB_E_VERIFY, "transcript entry %lu has a malformed time or hash",
                     e->seq);
        goto cleanup;
    }
    memcpy(e->prev, prev, 65);
    memcpy(e->hash, hash, 65);
    if (hb_base64_decode(sig, &e->sig, &e->sig_len, err) != HB_OK || e->sig_len == 0) {
        st = hb_fail(err, HB_E_VERIFY, "transcript entry %lu: the signature is not base64",
                     e->seq);
        goto cleanup;
    }
    for (xmlNodePtr c = hb_xml_first_elem(en); c != NULL; c = hb_xml_next_elem(c)) {
        if (!hb_xml_is(c, TRANSCRIPT_NS, "fingerprint"))
            continue;
        free(fp);
        fp = hb_xml_text(c);
        if (fp == NULL || !hb_hex_lower_ok(fp, 64)) {
            st = hb_fail(err, HB_E_VERIFY, "transcript entry %lu has a malformed fingerprint",
                         e->seq);
            goto cleanup;
        }
        char(*arr)[65] = realloc(e->fingerprints, (e->n_fingerprints + 1) * sizeof *arr);
        if (arr == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        e->fingerprints = arr;
        memcpy(arr[e->n_fingerprints++], fp, 65);
    }
cleanup:
    xmlFree(seq);
    free(prev);
    free(hash);
    free(sig);
    free(fp);
    return st;
}

static hb_status load(const char *path, hb_transcript **out, X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    char *b64 = NULL;
    xmlChar *afp = NULL;
    X509 *cert = NULL;
    hb_transcript *t = calloc(1, sizeof *t);
    if (t == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    HB_TRY(hb_read_file(path, TRANSCRIPT_CAP, &data, &len, err));
    HB_TRY(hb_xml_parse(data, len, TRANSCRIPT_CAP, 0, "schema/transcript.xsd", "transcript",
                        &doc, err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr anchor = hb_xml_child(root, TRANSCRIPT_NS, "anchor");
    if (anchor == NULL) {
        st = hb_fail(err, HB_E_VERIFY, "the transcript has no anchor");
        goto cleanup;
    }
    HB_TRY(hb_xml_child_text(anchor, TRANSCRIPT_NS, "certificate", true, WHAT, &b64, err));
    if (hb_base64_decode(b64, &t->signer_der, &t->signer_der_len, err) != HB_OK) {
        st = hb_fail(err, HB_E_VERIFY, "the transcript's anchor certificate is not base64");
        goto cleanup;
    }
    const unsigned char *q = t->signer_der;
    cert = d2i_X509(NULL, &q, (long)t->signer_der_len);
    if (cert == NULL || q != t->signer_der + t->signer_der_len) {
        st = hb_fail_ossl(err, HB_E_VERIFY, "the transcript's anchor is not a DER certificate");
        goto cleanup;
    }
    HB_TRY(hb_sha256_hex(t->signer_der, t->signer_der_len, t->anchor, err));
    afp = xmlGetNoNsProp(anchor, BAD_CAST "fingerprint");
    if (afp == NULL || strcmp((const char *)afp, t->anchor) != 0) {
        st = hb_fail(err, HB_E_VERIFY, "the transcript's anchor fingerprint does not match its "
                     "certificate");
        goto cleanup;
    }
    HB_TRY(hb_x509_subject_rfc2253(cert, &t->signer_subject, err));
    for (xmlNodePtr en = hb_xml_first_elem(root); en != NULL; en = hb_xml_next_elem(en)) {
        if (!hb_xml_is(en, TRANSCRIPT_NS, "entry"))
            continue;
        hb_transcript_entry *arr = realloc(t->entries, (t->n + 1) * sizeof *arr);
        if (arr == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        t->entries = arr;
        memset(&arr[t->n], 0, sizeof arr[t->n]);
        t->n++;
        HB_TRY(read_entry(en, &arr[t->n - 1], t->n, err));
    }
    *out = t;
    t = NULL;
    *signer = cert;
    cert = NULL;
cleanup:
    hb_transcript_free(t);
    X509_free(cert);
    xmlFree(afp);
    free(b64);
    xmlFreeDoc(doc);
    free(data);
    return st;
}

static hb_status check(const hb_transcript *t, X509 *signer, hb_err *err)
{
    hb_status st = HB_OK;
    buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const hb_transcript_entry *e = &t->entries[i];
        char calc[65];
        bool ok = false;
        b.len = 0;
        HB_TRY(canonical(e, &b, err));
        HB_TRY(hb_sha256_hex(b.p, b.len, calc, err));
        if (strcmp(calc, e->hash) != 0) {
            st = hb_fail(err, HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s) was "
                         "altered: its content does not match its recorded hash",
                         i + 1, e->seq, e->what, e->time);
            goto cleanup;
        }
        HB_TRY(verify_sig(signer, &b, e->sig, e->sig_len, &ok, err));
        if (!ok) {
            st = hb_fail(err, HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s): the "
                         "signature does not verify with the anchored signer key (the entry "
                         "was altered or forged)", i + 1, e->seq, e->what, e->time);
            goto cleanup;
        }
        if (e->seq != i + 1) {
            st = hb_fail(err, HB_E_VERIFY, "transcript entry %zu in file order has sequence "
                         "number %lu: entries were deleted, inserted or reordered%s",
                         i + 1, e->seq, i == 0 ? " (the start of the log is missing)" : "");
            goto cleanup;
        }
        const char *want = i == 0 ? t->anchor : t->entries[i - 1].hash;
        if (strcmp(e->prev, want) != 0) {
            st = hb_fail(err, HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s) does "
                         "not chain to %s: an entry before it was removed, replaced or "
                         "reordered", i + 1, e->seq, e->what, e->time,
                         i == 0 ? "the anchor (the signer certificate)" : "the entry before it");
            goto cleanup;
        }
    }
cleanup:
    free(b.p);
    return st;
}

static hb_status same_signer(const hb_transcript *t, X509 *expected, hb_err *err)
{
    if (expected == NULL)
        return HB_OK;
    char fp[65];
    unsigned char *der = NULL;
    int n = i2d_X509(expected, &der);
    if (n <= 0)
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode the signer certificate");
    hb_status st = hb_sha256_hex(der, (size_t)n, fp, err);
    OPENSSL_free(der);
    if (st == HB_OK && strcmp(fp, t->anchor) != 0)
        st = hb_fail(err, HB_E_VERIFY, "the transcript is anchored to signer '%s' (SHA-256 "
                     "%s), not to this system's backup signer (SHA-256 %s): it was replaced, "
                     "or the backup signer changed (see docs/custody.md)",
                     t->signer_subject, t->anchor, fp);
    return st;
}

hb_status hb_transcript_verify(const char *path, X509 *expected_signer, hb_transcript **out,
                               hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    X509 *signer = NULL;
    if (out != NULL)
        *out = NULL;
    st = load(path, &t, &signer, err);
    if (st == HB_E_NOT_FOUND) {
        st = hb_fail(err, HB_E_NOT_FOUND, "there is no ceremony transcript at '%s' (no "
                     "ceremony has been held on this system)", path);
        goto cleanup;
    }
    if (st != HB_OK)
        goto cleanup;
    HB_TRY(same_signer(t, expected_signer, err));
    HB_TRY(check(t, signer, err));
    if (out != NULL) {
        *out = t;
        t = NULL;
    }
cleanup:
    hb_transcript_free(t);
    X509_free(signer);
    return st;
}

/* ---- writing ---- */

static hb_status save(const char *path, const hb_transcript *t, hb_err *err)
{
    hb_status st = HB_OK;
    xmlChar *out = NULL;
    int outlen = 0;
    char *b64 = NULL;
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "transcript", NULL) : NULL;
    if (root == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    xmlDocSetRootElement(doc, root);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST TRANSCRIPT_NS, NULL);
    xmlSetNs(root, ns);
    xmlNewProp(root, BAD_CAST "format", BAD_CAST "1");
    HB_TRY(hb_base64_encode(t->signer_der, t->signer_der_len, &b64, err));
    xmlNodePtr anchor = hb_xml_add(root, ns, "anchor", NULL, 1);
    if (anchor == NULL || xmlNewProp(anchor, BAD_CAST "fingerprint", BAD_CAST t->anchor) == NULL ||
        hb_xml_add(anchor, ns, "certificate", b64, 2) == NULL || !hb_xml_indent(anchor, 1)) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < t->n; i++) {
        const hb_transcript_entry *e = &t->entries[i];
        char seq[24];
        snprintf(seq, sizeof seq, "%lu", e->seq); /* <= 20 digits: fits */
        free(b64);
        b64 = NULL;
        HB_TRY(hb_base64_encode(e->sig, e->sig_len, &b64, err));
        xmlNodePtr en = hb_xml_add(root, ns, "entry", NULL, 1);
        bool ok = en != NULL && xmlNewProp(en, BAD_CAST "seq", BAD_CAST seq) != NULL &&
                  hb_xml_add(en, ns, "time", e->time, 2) != NULL &&
                  hb_xml_add(en, ns, "who", e->who, 2) != NULL &&
                  hb_xml_add(en, ns, "what", e->what, 2) != NULL &&
                  hb_xml_add(en, ns, "detail", e->detail, 2) != NULL;
        for (size_t k = 0; ok && k < e->n_fingerprints; k++)
            ok = hb_xml_add(en, ns, "fingerprint", e->fingerprints[k], 2) != NULL;
        ok = ok && hb_xml_add(en, ns, "previous", e->prev, 2) != NULL &&
             hb_xml_add(en, ns, "hash", e->hash, 2) != NULL &&
             hb_xml_add(en, ns, "signature", b64, 2) != NULL && hb_xml_indent(en, 1);
        if (!ok) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    if (!hb_xml_indent(root, 0)) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    xmlDocDumpMemoryEnc(doc, &out, &outlen, "UTF-8");
    if (out == NULL || outlen <= 0) {
        st = hb_fail(err, HB_E_INTERNAL, "cannot serialise the transcript");
        goto cleanup;
    }
    HB_TRY(hb_write_file_atomic(path, out, (size_t)outlen, 0600, err));
cleanup:
    free(b64);
    xmlFree(out);
    xmlFreeDoc(doc);
    return st;
}

static bool text_ok(const char *s) { return s != NULL && strlen(s) <= TEXT_MAX && hb_xml_text_ok(s); }

hb_status hb_transcript_append(const char *path, X509 *signer_cert, hb_sign_fn sign,
                               void *sign_ctx, const char *who, const char *what,
                               const char *detail, const char *const *fingerprints,
                               size_t n_fingerprints, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    buf b = {0};
    uint8_t *sig = NULL;
    size_t siglen = 0;
    if (signer_cert == NULL || sign == NULL || !text_ok(who) || !text_ok(what) ||
        !text_ok(detail) || who[0] == '\0' || what[0] == '\0' || detail[0] == '\0')
        return hb_fail(err, HB_E_USAGE, "a transcript entry needs a signer, and who, what and "
                       "detail as 1..%d characters of printable UTF-8", TEXT_MAX);
    for (size_t i = 0; i < n_fingerprints; i++)
        if (!hb_hex_lower_ok(fingerprints[i], 64))
            return hb_fail(err, HB_E_USAGE, "transcript fingerprint '%s' is not 64 lowercase "
                           "hex digits", fingerprints[i]);
    st = hb_transcript_verify(path, signer_cert, &t, err);
    if (st == HB_E_NOT_FOUND) {
        /* The first ceremony starts the log, anchored to the signer. */
        unsigned char *der = NULL;
        int n = i2d_X509(signer_cert, &der);
        t = calloc(1, sizeof *t);
        if (n <= 0 || t == NULL || (t->signer_der = malloc((size_t)n)) == NULL) {
            OPENSSL_free(der);
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        memcpy(t->signer_der, der, (size_t)n);
        t->signer_der_len = (size_t)n;
        OPENSSL_free(der);
        HB_TRY(hb_sha256_hex(t->signer_der, t->signer_der_len, t->anchor, err));
        st = HB_OK;
    } else if (st != HB_OK) {
        hb_err_prefix(err, "nothing is appended to a transcript that does not verify");
        goto cleanup;
    }
    hb_transcript_entry *arr = realloc(t->entries, (t->n + 1) * sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    t->entries = arr;
    hb_transcript_entry *e = &arr[t->n];
    memset(e, 0, sizeof *e);
    t->n++;
    e->seq = t->n;
    HB_TRY(hb_rfc3339_now(e->time, err));
    e->who = strdup(who);
    e->what = strdup(what);
    e->detail = strdup(detail);
    e->fingerprints = n_fingerprints ? calloc(n_fingerprints, sizeof *e->fingerprints) : NULL;
    if (e->who == NULL || e->what == NULL || e->detail == NULL ||
        (n_fingerprints && e->fingerprints == NULL)) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n_fingerprints; i++)
        memcpy(e->fingerprints[i], fingerprints[i], 65);
    e->n_fingerprints = n_fingerprints;
    memcpy(e->prev, t->n == 1 ? t->anchor : t->entries[t->n - 2].hash, 65);
    HB_TRY(canonical(e, &b, err));
    HB_TRY(hb_sha256_hex(b.p, b.len, e->hash, err));
    st = sign(sign_ctx, b.p, b.len, &sig, &siglen, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "signing the transcript entry with the backup signer");
        goto cleanup;
    }
    e->sig = malloc(siglen);
    if (e->sig == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    memcpy(e->sig, sig, siglen);
    e->sig_len = siglen;
    HB_TRY(save(path, t, err));
cleanup:
    OPENSSL_free(sig);
    free(b.p);
    hb_transcript_free(t);
    return st;
}
