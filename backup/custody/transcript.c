/* The ceremony transcript (docs/custody.md): an append-only, hash-chained
 * log, every entry signed by the backup-signer key on the token.
 *
 *   <transcript xmlns="urn:hsmbak:transcript:1" format="1">
 *     <anchor fingerprint="HEX"><certificate>B64 DER</certificate></anchor>
 *     <entry seq="1" version="2"><time/><who/><what/><detail/><fingerprint/>*
 *            <previous/><state/>? <pop/>? <hash/><signature/></entry> ...
 *   </transcript>
 *
 * An entry's signed bytes (its "canonical form") are a length-prefixed
 * encoding, not XML, so that no XML canonicalisation is involved:
 *   "hsmbak-transcript-v1" 0x00 || u64be(seq) || str(time) || str(who) ||
 *   str(what) || str(detail) || u32be(count) || str(fingerprint)... ||
 *   str(previous)                     with str(s) = u32be(len(s)) || s
 * Version 2 (every entry written now) starts "hsmbak-transcript-v2" 0x00,
 * has the same fields, then (its "body" ends here)
 *   snapshot (snapshot.h: the custody store after the entry's change) ||
 *   str(pop-spki)                     the enrolled key's SPKI, or empty
 * and then str(pop-signature): the new key's signature over the body
 * (enroll, import-cert), or empty.
 * hash = SHA-256(canonical form); previous = the hash of the entry before,
 * or for entry 1 the anchor: SHA-256 of the signer certificate (DER). */
#include "backup/custody/transcript.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/snapshot.h"
#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fileio.h"
#include "common/ids.h"
#include "common/x509.h"
#include "provider/token.h"

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
#define TEXT_MAX HB_TRANSCRIPT_TEXT_MAX
#define ENTRIES_MAX 100000 /* far more than TRANSCRIPT_CAP bytes can hold */
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
        hb_custody_snapshot_free(&t->entries[i].snapshot);
        free(t->entries[i].pop_spki);
        free(t->entries[i].pop_sig);
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

#define put_u32 hb_canon_u32
#define put_str hb_canon_str

/* The entry's body (v2: what the proof of possession signs), appended to
 * out (see the top of this file); for v1 the whole signed bytes. */
static hb_status body(const hb_transcript_entry *e, hb_buf *out, hb_err *err)
{
    hb_status st = HB_OK;
    static const char magic1[] = "hsmbak-transcript-v1"; /* and its NUL */
    static const char magic2[] = "hsmbak-transcript-v2";
    uint8_t s8[8];
    for (int i = 0; i < 8; i++)
        s8[i] = (uint8_t)((uint64_t)e->seq >> (56 - 8 * i));
    if (e->version == 2)
        HB_TRY(hb_buf_add(out, magic2, sizeof magic2, err));
    else
        HB_TRY(hb_buf_add(out, magic1, sizeof magic1, err));
    HB_TRY(hb_buf_add(out, s8, sizeof s8, err));
    HB_TRY(put_str(out, e->time, err));
    HB_TRY(put_str(out, e->who, err));
    HB_TRY(put_str(out, e->what, err));
    HB_TRY(put_str(out, e->detail, err));
    HB_TRY(put_u32(out, (uint32_t)e->n_fingerprints, err));
    for (size_t i = 0; i < e->n_fingerprints; i++)
        HB_TRY(put_str(out, e->fingerprints[i], err));
    HB_TRY(put_str(out, e->prev, err));
    if (e->version == 2) {
        HB_TRY(hb_snapshot_encode(&e->snapshot, out, err));
        HB_TRY(hb_canon_bytes(out, e->pop_spki, e->pop_spki_len, err));
    }
cleanup:
    return st;
}

/* The entry's signed bytes: its body, and for v2 the proof of possession. */
static hb_status canonical(const hb_transcript_entry *e, hb_buf *out, hb_err *err)
{
    hb_status st = body(e, out, err);
    if (st == HB_OK && e->version == 2)
        st = hb_canon_bytes(out, e->pop_sig, e->pop_sig_len, err);
    return st;
}

static hb_status verify_with(EVP_PKEY *pub, const hb_buf *data, const uint8_t *sig,
                             size_t siglen, bool *ok, hb_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || pub == NULL ||
        EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, "provider=default", pub, NULL) != 1) {
        EVP_MD_CTX_free(md);
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot set up signature verification");
    }
    *ok = EVP_DigestVerify(md, sig, siglen, (const uint8_t *)data->data, data->len) == 1;
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    return HB_OK;
}

static hb_status verify_sig(X509 *signer, const hb_buf *data, const uint8_t *sig, size_t siglen,
                            bool *ok, hb_err *err)
{
    return verify_with(X509_get0_pubkey(signer), data, sig, siglen, ok, err);
}

/* The proof of possession of a v2 entry: the new key's signature over the
 * entry's body, checked with the SPKI the entry carries. */
static hb_status verify_pop(const hb_transcript_entry *e, size_t pos, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(TRANSCRIPT_CAP);
    const unsigned char *q = e->pop_spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &q, (long)e->pop_spki_len);
    bool ok = false;
    HB_ENSURE(pub != NULL && q == e->pop_spki + e->pop_spki_len && e->pop_sig_len > 0,
              HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s): its proof of "
              "possession is malformed (the key is not a DER SubjectPublicKeyInfo, or there is "
              "no signature)", pos, e->seq, e->what, e->time);
    /* The key that proves possession is one the entry's snapshot enrolls. */
    char h[65];
    HB_TRY(hb_sha256_hex(e->pop_spki, e->pop_spki_len, h, err));
    for (size_t k = 0; k < e->snapshot.n && !ok; k++)
        ok = strcmp(e->snapshot.enrollments[k].spki_sha256, h) == 0;
    HB_ENSURE(ok, HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s): its proof of "
              "possession is by a key (SPKI SHA-256 %s) that its custody state does not "
              "enroll", pos, e->seq, e->what, e->time, h);
    ok = false;
    HB_TRY(body(e, &b, err));
    HB_TRY(verify_with(pub, &b, e->pop_sig, e->pop_sig_len, &ok, err));
    HB_ENSURE(ok, HB_E_VERIFY, "transcript entry %zu (seq %lu, '%s' at %s): its proof of "
              "possession does not verify: the enrolled key did not sign this entry",
              pos, e->seq, e->what, e->time);
cleanup:
    ERR_clear_error();
    EVP_PKEY_free(pub);
    hb_buf_free(&b);
    return st;
}

static hb_status add_fingerprint(hb_transcript_entry *e, const char *fp, hb_err *err)
{
    hb_status st = HB_OK;
    char(*slot)[65];
    HB_PUSH(slot, e->fingerprints, e->n_fingerprints, HB_QUORUM_MAX_MEMBERS);
    memcpy(*slot, fp, 65);
cleanup:
    return st;
}

/* ---- reading ---- */

static hb_status read_seq(const xmlNode *en, size_t pos, unsigned long *out, hb_err *err)
{
    xmlChar *seq = xmlGetNoNsProp(en, BAD_CAST "seq");
    char *end = NULL;
    errno = 0;
    unsigned long v = seq != NULL ? strtoul((const char *)seq, &end, 10) : 0;
    bool ok = seq != NULL && seq[0] >= '0' && seq[0] <= '9' && *end == '\0' && errno == 0;
    xmlFree(seq);
    if (!ok)
        return hb_fail(err, HB_E_VERIFY, "transcript entry %zu (in file order) has no valid "
                       "sequence number", pos);
    *out = v;
    return HB_OK;
}

/* version="2", or none: a legacy v1 entry. */
static hb_status read_version(const xmlNode *en, hb_transcript_entry *e, hb_err *err)
{
    xmlChar *v = xmlGetNoNsProp(en, BAD_CAST "version");
    bool ok = v == NULL || strcmp((const char *)v, "2") == 0;
    e->version = v == NULL ? 1 : 2;
    xmlFree(v);
    return ok ? HB_OK : hb_fail(err, HB_E_VERIFY, "transcript entry %lu has an unknown version",
                                e->seq);
}

/* A v2 entry's custody snapshot (required) and proof of possession. */
static hb_status read_v2(const xmlNode *en, hb_transcript_entry *e, hb_err *err)
{
    hb_status st = HB_OK;
    char *spki = NULL, *sig = NULL;
    xmlNodePtr state = hb_xml_child(en, TRANSCRIPT_NS, "state");
    xmlNodePtr pop = hb_xml_child(en, TRANSCRIPT_NS, "pop");
    HB_ENSURE(state != NULL, HB_E_VERIFY, "transcript entry %lu (version 2) has no custody "
              "state", e->seq);
    HB_TRY(hb_snapshot_read_xml(state, TRANSCRIPT_NS, e->seq, &e->snapshot, err));
    if (pop == NULL)
        goto cleanup;
    HB_TRY(hb_xml_child_text(pop, TRANSCRIPT_NS, "spki", true, WHAT, &spki, err));
    HB_TRY(hb_xml_child_text(pop, TRANSCRIPT_NS, "signature", true, WHAT, &sig, err));
    if (hb_base64_decode(spki, &e->pop_spki, &e->pop_spki_len, err) != HB_OK ||
        hb_base64_decode(sig, &e->pop_sig, &e->pop_sig_len, err) != HB_OK ||
        e->pop_spki_len == 0 || e->pop_sig_len == 0)
        HB_FAIL(HB_E_VERIFY, "transcript entry %lu: its proof of possession is not base64",
                e->seq);
cleanup:
    free(spki);
    free(sig);
    return st;
}

static hb_status read_entry(const xmlNode *en, hb_transcript_entry *e, size_t pos, hb_err *err)
{
    hb_status st = HB_OK;
    char *t = NULL, *prev = NULL, *hash = NULL, *sig = NULL, *fp = NULL;
    HB_TRY(read_seq(en, pos, &e->seq, err));
    HB_TRY(read_version(en, e, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "time", true, WHAT, &t, err));
    bool time_ok = strlen(t) == 20 && hb_rfc3339_ok(t);
    if (time_ok)
        memcpy(e->time, t, 21);
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "who", true, WHAT, &e->who, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "what", true, WHAT, &e->what, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "detail", true, WHAT, &e->detail, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "previous", true, WHAT, &prev, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "hash", true, WHAT, &hash, err));
    HB_TRY(hb_xml_child_text(en, TRANSCRIPT_NS, "signature", true, WHAT, &sig, err));
    HB_ENSURE(time_ok && hb_hex_lower_ok(prev, 64) && hb_hex_lower_ok(hash, 64), HB_E_VERIFY,
              "transcript entry %lu has a malformed time or hash", e->seq);
    memcpy(e->prev, prev, 65);
    memcpy(e->hash, hash, 65);
    if (hb_base64_decode(sig, &e->sig, &e->sig_len, err) != HB_OK || e->sig_len == 0)
        HB_FAIL(HB_E_VERIFY, "transcript entry %lu: the signature is not base64", e->seq);
    for (xmlNodePtr c = hb_xml_first_elem(en); c != NULL; c = hb_xml_next_elem(c)) {
        if (!hb_xml_is(c, TRANSCRIPT_NS, "fingerprint"))
            continue;
        free(fp);
        fp = hb_xml_text(c);
        HB_ENSURE(fp != NULL && hb_hex_lower_ok(fp, 64), HB_E_VERIFY,
                  "transcript entry %lu has a malformed fingerprint", e->seq);
        HB_TRY(add_fingerprint(e, fp, err));
    }
    if (e->version == 2)
        HB_TRY(read_v2(en, e, err));
cleanup:
    free(t);
    free(prev);
    free(hash);
    free(sig);
    free(fp);
    return st;
}

/* The anchor: the signer certificate, which must match its fingerprint. */
static hb_status read_anchor(const xmlNode *root, hb_transcript *t, X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    char *b64 = NULL;
    xmlChar *afp = NULL;
    X509 *cert = NULL;
    xmlNodePtr anchor = hb_xml_child(root, TRANSCRIPT_NS, "anchor");
    HB_ENSURE(anchor != NULL, HB_E_VERIFY, "the transcript has no anchor");
    HB_TRY(hb_xml_child_text(anchor, TRANSCRIPT_NS, "certificate", true, WHAT, &b64, err));
    if (hb_base64_decode(b64, &t->signer_der, &t->signer_der_len, err) != HB_OK)
        HB_FAIL(HB_E_VERIFY, "the transcript's anchor certificate is not base64");
    const unsigned char *q = t->signer_der;
    cert = d2i_X509(NULL, &q, (long)t->signer_der_len);
    if (cert == NULL || q != t->signer_der + t->signer_der_len)
        HB_FAIL_OSSL(HB_E_VERIFY, "the transcript's anchor is not a DER certificate");
    HB_TRY(hb_sha256_hex(t->signer_der, t->signer_der_len, t->anchor, err));
    afp = xmlGetNoNsProp(anchor, BAD_CAST "fingerprint");
    HB_ENSURE(afp != NULL && strcmp((const char *)afp, t->anchor) == 0, HB_E_VERIFY,
              "the transcript's anchor fingerprint does not match its certificate");
    HB_TRY(hb_x509_subject_rfc2253(cert, &t->signer_subject, err));
    *signer = cert;
    cert = NULL;
cleanup:
    X509_free(cert);
    xmlFree(afp);
    free(b64);
    return st;
}

static hb_status load(const char *path, hb_transcript **out, X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    X509 *cert = NULL;
    hb_transcript *t = calloc(1, sizeof *t);
    HB_ALLOC(t);
    HB_TRY(hb_read_file(path, TRANSCRIPT_CAP, &data, &len, err));
    HB_TRY(hb_xml_parse(data, len, TRANSCRIPT_CAP, 0, "schema/transcript.xsd", "transcript",
                        &doc, err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    HB_TRY(read_anchor(root, t, &cert, err));
    for (xmlNodePtr en = hb_xml_first_elem(root); en != NULL; en = hb_xml_next_elem(en)) {
        if (!hb_xml_is(en, TRANSCRIPT_NS, "entry"))
            continue;
        hb_transcript_entry *e;
        HB_PUSH(e, t->entries, t->n, ENTRIES_MAX);
        HB_TRY(read_entry(en, e, t->n, err));
    }
    *out = t;
    t = NULL;
    *signer = cert;
    cert = NULL;
cleanup:
    hb_transcript_free(t);
    X509_free(cert);
    xmlFreeDoc(doc);
    free(data);
    return st;
}

static hb_status check(const hb_transcript *t, X509 *signer, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(TRANSCRIPT_CAP);
    for (size_t i = 0; i < t->n; i++) {
        const hb_transcript_entry *e = &t->entries[i];
        char calc[65];
        bool ok = false;
        hb_buf_reset(&b);
        HB_TRY(canonical(e, &b, err));
        HB_TRY(hb_sha256_hex(b.data, b.len, calc, err));
        HB_ENSURE(strcmp(calc, e->hash) == 0, HB_E_VERIFY,
                  "transcript entry %zu (seq %lu, '%s' at %s) was altered: its content does "
                  "not match its recorded hash", i + 1, e->seq, e->what, e->time);
        HB_TRY(verify_sig(signer, &b, e->sig, e->sig_len, &ok, err));
        HB_ENSURE(ok, HB_E_VERIFY,
                  "transcript entry %zu (seq %lu, '%s' at %s): the signature does not verify "
                  "with the anchored signer key (the entry was altered or forged)",
                  i + 1, e->seq, e->what, e->time);
        /* A v2 enrollment is signed by its own new key, made before the key
         * lost its signing right (docs/custody.md "Transcript"). */
        HB_ENSURE(e->version < 2 || strcmp(e->what, "enroll") != 0 || e->pop_sig_len > 0,
                  HB_E_VERIFY, "transcript entry %zu (seq %lu, 'enroll' at %s) has no proof "
                  "of possession by the enrolled key", i + 1, e->seq, e->time);
        if (e->pop_spki_len > 0 || e->pop_sig_len > 0)
            HB_TRY(verify_pop(e, i + 1, err));
        HB_ENSURE(e->seq == i + 1, HB_E_VERIFY,
                  "transcript entry %zu in file order has sequence number %lu: entries were "
                  "deleted, inserted or reordered%s",
                  i + 1, e->seq, i == 0 ? " (the start of the log is missing)" : "");
        const char *want = i == 0 ? t->anchor : t->entries[i - 1].hash;
        HB_ENSURE(strcmp(e->prev, want) == 0, HB_E_VERIFY,
                  "transcript entry %zu (seq %lu, '%s' at %s) does not chain to %s: an entry "
                  "before it was removed, replaced or reordered", i + 1, e->seq, e->what,
                  e->time, i == 0 ? "the anchor (the signer certificate)" : "the entry before it");
    }
cleanup:
    hb_buf_free(&b);
    return st;
}

static hb_status same_signer(const hb_transcript *t, X509 *expected, hb_err *err)
{
    if (expected == NULL)
        return HB_OK;
    char fp[65];
    hb_status st = hb_x509_fingerprint(expected, fp, err);
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
    HB_ENSURE(st != HB_E_NOT_FOUND, HB_E_NOT_FOUND, "there is no ceremony transcript at '%s' "
              "(no ceremony has been held on this system)", path);
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

static bool write_entry(xmlNodePtr root, xmlNsPtr ns, const hb_transcript_entry *e,
                        const char *sig_b64)
{
    char seq[24];
    xmlNodePtr en = hb_xml_add(root, ns, "entry", NULL, 1);
    bool ok = en != NULL && hb_format(seq, sizeof seq, "a sequence number", NULL, "%lu",
                                      e->seq) == HB_OK &&
              xmlNewProp(en, BAD_CAST "seq", BAD_CAST seq) != NULL &&
              (e->version != 2 || xmlNewProp(en, BAD_CAST "version", BAD_CAST "2") != NULL) &&
              hb_xml_add(en, ns, "time", e->time, 2) != NULL &&
              hb_xml_add(en, ns, "who", e->who, 2) != NULL &&
              hb_xml_add(en, ns, "what", e->what, 2) != NULL &&
              hb_xml_add(en, ns, "detail", e->detail, 2) != NULL;
    for (size_t k = 0; ok && k < e->n_fingerprints; k++)
        ok = hb_xml_add(en, ns, "fingerprint", e->fingerprints[k], 2) != NULL;
    ok = ok && hb_xml_add(en, ns, "previous", e->prev, 2) != NULL;
    if (ok && e->version == 2)
        ok = hb_snapshot_write_xml(en, ns, &e->snapshot, 2);
    if (ok && e->pop_spki_len > 0) {
        xmlNodePtr pop = hb_xml_add(en, ns, "pop", NULL, 2);
        ok = pop != NULL &&
             hb_xml_add_b64(pop, ns, "spki", e->pop_spki, e->pop_spki_len, 3) != NULL &&
             hb_xml_add_b64(pop, ns, "signature", e->pop_sig, e->pop_sig_len, 3) != NULL &&
             hb_xml_indent(pop, 2);
    }
    return ok && hb_xml_add(en, ns, "hash", e->hash, 2) != NULL &&
           hb_xml_add(en, ns, "signature", sig_b64, 2) != NULL && hb_xml_indent(en, 1);
}

static hb_status save(const char *path, const hb_transcript *t, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr root = NULL;
    xmlNsPtr ns = NULL;
    char *b64 = NULL;
    HB_TRY(hb_xml_new_doc("transcript", TRANSCRIPT_NS, &doc, &root, &ns, err));
    HB_TRY(hb_base64_encode(t->signer_der, t->signer_der_len, &b64, err));
    xmlNodePtr anchor = hb_xml_add(root, ns, "anchor", NULL, 1);
    bool ok = xmlNewProp(root, BAD_CAST "format", BAD_CAST "1") != NULL && anchor != NULL &&
              xmlNewProp(anchor, BAD_CAST "fingerprint", BAD_CAST t->anchor) != NULL &&
              hb_xml_add(anchor, ns, "certificate", b64, 2) != NULL && hb_xml_indent(anchor, 1);
    for (size_t i = 0; ok && i < t->n; i++) {
        free(b64);
        b64 = NULL;
        HB_TRY(hb_base64_encode(t->entries[i].sig, t->entries[i].sig_len, &b64, err));
        ok = write_entry(root, ns, &t->entries[i], b64);
    }
    HB_ENSURE(ok && hb_xml_indent(root, 0), HB_E_INTERNAL, "out of memory writing the %s", WHAT);
    HB_TRY(hb_custody_write_doc(doc, WHAT, path, err));
cleanup:
    free(b64);
    xmlFreeDoc(doc);
    return st;
}

static bool text_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= TEXT_MAX && hb_xml_text_ok(s);
}

/* What a new entry may say; nothing is read or written before this holds. */
static hb_status check_entry(X509 *signer_cert, hb_sign_fn sign, const hb_transcript_record *r,
                             hb_err *err)
{
    if (signer_cert == NULL || sign == NULL || !text_ok(r->who) || !text_ok(r->what) ||
        !text_ok(r->detail))
        return hb_fail(err, HB_E_USAGE, "a transcript entry needs a signer, and who, what and "
                       "detail as 1..%d characters of printable UTF-8", TEXT_MAX);
    if (r->n_fingerprints > HB_QUORUM_MAX_MEMBERS)
        return hb_fail(err, HB_E_USAGE, "a transcript entry names at most %d fingerprints",
                       HB_QUORUM_MAX_MEMBERS);
    for (size_t i = 0; i < r->n_fingerprints; i++)
        if (!hb_hex_lower_ok(r->fingerprints[i], 64))
            return hb_fail(err, HB_E_USAGE, "transcript fingerprint '%s' is not 64 lowercase "
                           "hex digits", r->fingerprints[i]);
    if ((r->pop_sign != NULL) != (r->pop_spki_len > 0) ||
        (r->pop_sign != NULL && r->snapshot == NULL) || r->pop_spki_len > TEXT_MAX * 4)
        return hb_fail(err, HB_E_USAGE, "a proof of possession needs a version 2 entry, the "
                       "key's SubjectPublicKeyInfo (at most %d bytes) and its signing function",
                       TEXT_MAX * 4);
    if (r->snapshot != NULL && strcmp(r->what, "enroll") == 0 && r->pop_sign == NULL)
        return hb_fail(err, HB_E_USAGE, "a version 2 enroll entry needs the new key's proof of "
                       "possession");
    return HB_OK;
}

/* An empty transcript anchored to the signer: the first ceremony starts it. */
static hb_status new_transcript(X509 *signer_cert, hb_transcript **out, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *der = NULL;
    size_t len = 0;
    hb_transcript *t = calloc(1, sizeof *t);
    HB_ALLOC(t);
    HB_TRY(hb_x509_der(signer_cert, &der, &len, err));
    t->signer_der = malloc(len);
    HB_ALLOC(t->signer_der);
    memcpy(t->signer_der, der, len);
    t->signer_der_len = len;
    HB_TRY(hb_sha256_hex(t->signer_der, t->signer_der_len, t->anchor, err));
    *out = t;
    t = NULL;
cleanup:
    OPENSSL_free(der);
    hb_transcript_free(t);
    return st;
}

/* A new last entry (seq, time, text, snapshot, chained to the one before),
 * not yet hashed or signed. */
static hb_status add_entry(hb_transcript *t, const hb_transcript_record *r,
                           hb_transcript_entry **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript_entry *e;
    HB_PUSH(e, t->entries, t->n, ENTRIES_MAX);
    e->seq = t->n;
    e->version = r->snapshot != NULL ? 2 : 1;
    memcpy(e->prev, t->n == 1 ? t->anchor : t->entries[t->n - 2].hash, 65);
    HB_TRY(hb_rfc3339_now(e->time, err));
    e->who = strdup(r->who);
    e->what = strdup(r->what);
    e->detail = strdup(r->detail);
    HB_ALLOC(e->who);
    HB_ALLOC(e->what);
    HB_ALLOC(e->detail);
    for (size_t i = 0; i < r->n_fingerprints; i++)
        HB_TRY(add_fingerprint(e, r->fingerprints[i], err));
    if (r->snapshot != NULL)
        HB_TRY(hb_snapshot_copy(r->snapshot, &e->snapshot, err));
    if (r->pop_spki_len > 0) {
        e->pop_spki = hb_memdup(r->pop_spki, r->pop_spki_len);
        HB_ALLOC(e->pop_spki);
        e->pop_spki_len = r->pop_spki_len;
    }
    *out = e;
cleanup:
    return st;
}

/* The new key's signature over the entry's body, checked with the SPKI the
 * entry carries before the backup signer signs anything. */
static hb_status prove_possession(hb_transcript_entry *e, size_t pos,
                                  const hb_transcript_record *r, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(TRANSCRIPT_CAP);
    uint8_t *sig = NULL;
    size_t siglen = 0;
    HB_TRY(body(e, &b, err));
    st = r->pop_sign(r->pop_ctx, (const uint8_t *)b.data, b.len, &sig, &siglen, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "signing the transcript entry with the enrolled key (proof of "
                      "possession)");
        goto cleanup;
    }
    e->pop_sig = hb_memdup(sig, siglen);
    HB_ALLOC(e->pop_sig);
    e->pop_sig_len = siglen;
    HB_TRY(verify_pop(e, pos, err));
cleanup:
    OPENSSL_free(sig);
    hb_buf_free(&b);
    return st;
}

/* Hash the entry's canonical form and sign it with the backup signer. */
static hb_status seal_entry(hb_transcript_entry *e, hb_sign_fn sign, void *sign_ctx,
                            hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(TRANSCRIPT_CAP);
    uint8_t *sig = NULL;
    size_t siglen = 0;
    HB_TRY(canonical(e, &b, err));
    HB_TRY(hb_sha256_hex(b.data, b.len, e->hash, err));
    st = sign(sign_ctx, (const uint8_t *)b.data, b.len, &sig, &siglen, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "signing the transcript entry with the backup signer");
        goto cleanup;
    }
    e->sig = malloc(siglen);
    HB_ALLOC(e->sig);
    memcpy(e->sig, sig, siglen);
    e->sig_len = siglen;
cleanup:
    OPENSSL_free(sig);
    hb_buf_free(&b);
    return st;
}

struct hb_transcript_pending {
    char path[PATH_MAX];
    hb_transcript *t;                    /* the log with the new, unsigned last entry */
};

void hb_transcript_pending_free(hb_transcript_pending *pd)
{
    if (pd == NULL)
        return;
    hb_transcript_free(pd->t);
    free(pd);
}

hb_status hb_transcript_prepare(const char *path, X509 *signer_cert, hb_sign_fn sign,
                                const hb_transcript_record *r, hb_transcript_pending **out,
                                hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript_entry *e = NULL;
    hb_transcript_pending *pd = calloc(1, sizeof *pd);
    *out = NULL;
    HB_ALLOC(pd);
    HB_TRY(check_entry(signer_cert, sign, r, err));
    HB_TRY(hb_format(pd->path, sizeof pd->path, "the transcript's path", err, "%s", path));
    st = hb_transcript_verify(path, signer_cert, &pd->t, err);
    if (st == HB_E_NOT_FOUND) {
        HB_TRY(new_transcript(signer_cert, &pd->t, err));
    } else if (st != HB_OK) {
        hb_err_prefix(err, "nothing is appended to a transcript that does not verify");
        goto cleanup;
    }
    HB_TRY(add_entry(pd->t, r, &e, err));
    if (r->pop_sign != NULL)
        HB_TRY(prove_possession(e, pd->t->n, r, err));
    *out = pd;
    pd = NULL;
cleanup:
    hb_transcript_pending_free(pd);
    return st;
}

hb_status hb_transcript_commit(hb_transcript_pending *pd, hb_sign_fn sign, void *sign_ctx,
                               hb_err *err)
{
    hb_status st = seal_entry(&pd->t->entries[pd->t->n - 1], sign, sign_ctx, err);
    return st == HB_OK ? save(pd->path, pd->t, err) : st;
}

hb_status hb_transcript_append_record(const char *path, X509 *signer_cert, hb_sign_fn sign,
                                      void *sign_ctx, const hb_transcript_record *r,
                                      hb_err *err)
{
    hb_transcript_pending *pd = NULL;
    hb_status st = hb_transcript_prepare(path, signer_cert, sign, r, &pd, err);
    if (st == HB_OK)
        st = hb_transcript_commit(pd, sign, sign_ctx, err);
    hb_transcript_pending_free(pd);
    return st;
}

hb_status hb_transcript_append(const char *path, X509 *signer_cert, hb_sign_fn sign,
                               void *sign_ctx, const char *who, const char *what,
                               const char *detail, const char *const *fingerprints,
                               size_t n_fingerprints, hb_err *err)
{
    hb_transcript_record r = {.who = who, .what = what, .detail = detail,
                              .fingerprints = fingerprints, .n_fingerprints = n_fingerprints};
    return hb_transcript_append_record(path, signer_cert, sign, sign_ctx, &r, err);
}
