/* Quorum recipients in the manifest (docs/FORMAT.md §8): construction,
 * lookups, the <quorum> element's writer and reader. Kept apart from
 * manifest*.c so manifests without quorum groups read and write exactly as
 * before. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/names.h"
#include "common/x509.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB_QUORUM_WRAPPED_DEK 40 /* RFC 5649 of a 32-byte DEK */
#define HB_QUORUM_MAX_MEMBERS 255

static void member_clear(hb_manifest_quorum_member *q)
{
    free(q->subject);
    free(q->key_wrap);
    free(q->cert_der);
    free(q->wrapped_share);
    memset(q, 0, sizeof *q);
}

static void quorum_clear(hb_manifest_quorum *q)
{
    free(q->id);
    free(q->name);
    for (size_t i = 0; i < q->n_members; i++)
        member_clear(&q->members[i]);
    free(q->members);
    memset(q, 0, sizeof *q);
}

void hb_manifest_quorums_clear(hb_manifest *m)
{
    for (size_t i = 0; i < m->n_quorums; i++)
        quorum_clear(&m->quorums[i]);
    free(m->quorums);
    m->quorums = NULL;
    m->n_quorums = 0;
}

const hb_manifest_quorum *hb_manifest_find_quorum(const hb_manifest *m, const char *id)
{
    for (size_t i = 0; m != NULL && id != NULL && i < m->n_quorums; i++)
        if (strcmp(m->quorums[i].id, id) == 0)
            return &m->quorums[i];
    return NULL;
}

hb_status hb_manifest_add_quorum(hb_manifest *m, const char *name, unsigned threshold,
                                 const char **id_out, hb_err *err)
{
    char idbuf[32];
    if (!hb_name_ok(name))
        return hb_fail(err, HB_E_USAGE, "quorum name '%s' must match [a-z0-9][a-z0-9-]*",
                       name != NULL ? name : "");
    if (threshold < 2 || threshold > HB_QUORUM_MAX_MEMBERS)
        return hb_fail(err, HB_E_USAGE, "quorum '%s': threshold %u is not 2..255", name,
                       threshold);
    snprintf(idbuf, sizeof idbuf, "q%zu", m->n_quorums + 1); /* <= 21 chars: fits */
    hb_manifest_quorum *arr = realloc(m->quorums, (m->n_quorums + 1) * sizeof *arr);
    if (arr == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    m->quorums = arr;
    hb_manifest_quorum *q = &arr[m->n_quorums];
    memset(q, 0, sizeof *q);
    q->id = strdup(idbuf);
    q->name = strdup(name);
    q->threshold = threshold;
    if (q->id == NULL || q->name == NULL) {
        quorum_clear(q);
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    }
    m->n_quorums++;
    if (id_out != NULL)
        *id_out = q->id;
    return HB_OK;
}

hb_status hb_manifest_add_quorum_member(hb_manifest *m, const char *quorum_id, X509 *cert,
                                        const char *key_wrap, unsigned x,
                                        const uint8_t *wrapped_share, size_t wrapped_len,
                                        hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_quorum_member mem = {0};
    unsigned char *der = NULL;
    hb_manifest_quorum *q = (hb_manifest_quorum *)hb_manifest_find_quorum(m, quorum_id);
    if (q == NULL)
        return hb_fail(err, HB_E_USAGE, "no quorum '%s' in the manifest",
                       quorum_id != NULL ? quorum_id : "");
    if (cert == NULL || !hb_manifest_key_wrap_ok(key_wrap) || x < 1 || x > 255 ||
        wrapped_share == NULL || wrapped_len == 0 || wrapped_len > 2048)
        return hb_fail(err, HB_E_USAGE, "quorum '%s': bad member (certificate, key wrap, x "
                       "coordinate 1..255 or wrapped share)", q->name);
    for (size_t i = 0; i < q->n_members; i++)
        if (q->members[i].x == x)
            return hb_fail(err, HB_E_USAGE, "quorum '%s': x coordinate %u is used twice",
                           q->name, x);
    int n = i2d_X509(cert, &der);
    if (n <= 0) {
        st = hb_fail_ossl(err, HB_E_USAGE, "cannot encode a quorum member's certificate");
        goto cleanup;
    }
    HB_TRY(hb_sha256_hex(der, (size_t)n, mem.fingerprint, err));
    for (size_t i = 0; i < q->n_members; i++)
        if (strcmp(q->members[i].fingerprint, mem.fingerprint) == 0) {
            st = hb_fail(err, HB_E_USAGE, "quorum '%s': member %s is listed twice", q->name,
                         mem.fingerprint);
            goto cleanup;
        }
    HB_TRY(hb_x509_subject_rfc2253(cert, &mem.subject, err));
    mem.x = x;
    mem.key_wrap = strdup(key_wrap);
    mem.cert_der = malloc((size_t)n);
    mem.wrapped_share = malloc(wrapped_len);
    if (mem.key_wrap == NULL || mem.cert_der == NULL || mem.wrapped_share == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    memcpy(mem.cert_der, der, (size_t)n);
    mem.cert_der_len = (size_t)n;
    memcpy(mem.wrapped_share, wrapped_share, wrapped_len);
    mem.wrapped_share_len = wrapped_len;
    hb_manifest_quorum_member *arr = realloc(q->members, (q->n_members + 1) * sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    q->members = arr;
    arr[q->n_members++] = mem;
    memset(&mem, 0, sizeof mem);
cleanup:
    OPENSSL_free(der);
    member_clear(&mem);
    return st;
}

hb_status hb_manifest_check_quorums(const hb_manifest *m, hb_err *err)
{
    for (size_t i = 0; i < m->n_quorums; i++) {
        const hb_manifest_quorum *q = &m->quorums[i];
        if (q->n_members < q->threshold)
            return hb_fail(err, HB_E_USAGE, "quorum '%s' has %zu members, fewer than its "
                           "threshold %u", q->name, q->n_members, q->threshold);
        for (size_t f = 0; f < m->n_files; f++) {
            const hb_manifest_wrapped_key *wk =
                hb_manifest_find_wrapped_key(&m->files[f], q->id);
            if (wk == NULL || wk->len != HB_QUORUM_WRAPPED_DEK)
                return hb_fail(err, HB_E_USAGE, "file '%s' has no %d-byte wrapped key for "
                               "quorum '%s'", m->files[f].name, HB_QUORUM_WRAPPED_DEK,
                               q->name);
        }
    }
    return HB_OK;
}

/* ---- writer ---- */

#define OOM(what) hb_fail(err, HB_E_INTERNAL, "out of memory writing the manifest (%s)", what)

static hb_status add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name, const uint8_t *data,
                         size_t len, int depth, hb_err *err)
{
    char *b64 = NULL;
    hb_status st = hb_base64_encode(data, len, &b64, err);
    if (st != HB_OK)
        return st;
    xmlNodePtr n = hb_xml_add(parent, ns, name, b64, depth);
    free(b64);
    return n == NULL ? OOM(name) : HB_OK;
}

hb_status hb_manifest_write_quorums(xmlNodePtr recips, xmlNsPtr ns, const hb_manifest *m,
                                    hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < m->n_quorums; i++) {
        const hb_manifest_quorum *q = &m->quorums[i];
        char num[16];
        snprintf(num, sizeof num, "%u", q->threshold); /* <= 10 digits: fits */
        xmlNodePtr qn = hb_xml_add(recips, ns, "quorum", NULL, 2);
        if (qn == NULL || xmlNewProp(qn, BAD_CAST "id", BAD_CAST q->id) == NULL ||
            xmlNewProp(qn, BAD_CAST "name", BAD_CAST q->name) == NULL ||
            xmlNewProp(qn, BAD_CAST "threshold", BAD_CAST num) == NULL ||
            xmlNewProp(qn, BAD_CAST "secret-sharing", BAD_CAST "shamir-gf256") == NULL ||
            xmlNewProp(qn, BAD_CAST "key-wrap", BAD_CAST "aes-256-wrap-pad") == NULL)
            return OOM("quorum");
        for (size_t k = 0; k < q->n_members; k++) {
            const hb_manifest_quorum_member *mem = &q->members[k];
            xmlNodePtr mn = hb_xml_add(qn, ns, "member", NULL, 3), fp = NULL;
            snprintf(num, sizeof num, "%u", mem->x);
            if (mn == NULL || xmlNewProp(mn, BAD_CAST "x", BAD_CAST num) == NULL ||
                hb_xml_add(mn, ns, "subject", mem->subject, 4) == NULL ||
                (fp = hb_xml_add(mn, ns, "fingerprint", mem->fingerprint, 4)) == NULL ||
                xmlNewProp(fp, BAD_CAST "algorithm", BAD_CAST "sha256") == NULL ||
                hb_xml_add(mn, ns, "key-wrap", mem->key_wrap, 4) == NULL)
                return OOM("quorum member");
            HB_TRY(add_b64(mn, ns, "certificate", mem->cert_der, mem->cert_der_len, 4, err));
            HB_TRY(add_b64(mn, ns, "wrapped-share", mem->wrapped_share, mem->wrapped_share_len,
                           4, err));
            if (!hb_xml_indent(mn, 3))
                return OOM("quorum member");
        }
        if (!hb_xml_indent(qn, 2))
            return OOM("quorum");
    }
cleanup:
    return st;
}

/* ---- reader ---- */

static hb_status bad(hb_err *err, const xmlNode *n, const char *what, const char *id)
{
    return hb_fail(err, HB_E_VERIFY, "manifest is invalid: line %d: quorum '%s': %s",
                   n != NULL ? (int)xmlGetLineNo(n) : 0, id != NULL ? id : "", what);
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 3)
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = (unsigned)v;
    return true;
}

static hb_status read_member(const xmlNode *mn, hb_manifest *m, const char *qid, hb_err *err)
{
    hb_status st = HB_OK;
    char *subject = NULL, *fp = NULL, *wrap = NULL, *cert_b64 = NULL, *share_b64 = NULL;
    uint8_t *der = NULL, *share = NULL;
    size_t der_len = 0, share_len = 0;
    X509 *cert = NULL;
    unsigned x = 0;
    xmlChar *xs = xmlGetNoNsProp(mn, BAD_CAST "x");
    char calc[65];

    if (!parse_uint((const char *)xs, 1, 255, &x)) {
        st = bad(err, mn, "a member's x coordinate is not 1..255", qid);
        goto cleanup;
    }
    HB_TRY(hb_xml_child_text(mn, HB_MANIFEST_NS, "subject", true, "manifest", &subject, err));
    HB_TRY(hb_xml_child_text(mn, HB_MANIFEST_NS, "fingerprint", true, "manifest", &fp, err));
    HB_TRY(hb_xml_child_text(mn, HB_MANIFEST_NS, "key-wrap", true, "manifest", &wrap, err));
    HB_TRY(hb_xml_child_text(mn, HB_MANIFEST_NS, "certificate", true, "manifest", &cert_b64,
                             err));
    HB_TRY(hb_xml_child_text(mn, HB_MANIFEST_NS, "wrapped-share", true, "manifest", &share_b64,
                             err));
    if (!hb_hex_lower_ok(fp, 64) || !hb_manifest_key_wrap_ok(wrap)) {
        st = bad(err, mn, "a member has a bad fingerprint or key-wrap", qid);
        goto cleanup;
    }
    if (hb_base64_decode(cert_b64, &der, &der_len, err) != HB_OK ||
        hb_base64_decode(share_b64, &share, &share_len, err) != HB_OK || share_len == 0) {
        st = bad(err, mn, "a member's certificate or wrapped share is not base64", qid);
        goto cleanup;
    }
    const unsigned char *p = der;
    cert = d2i_X509(NULL, &p, (long)der_len);
    if (cert == NULL || p != der + der_len) {
        st = bad(err, mn, "a member's certificate is not a DER certificate", qid);
        goto cleanup;
    }
    HB_TRY(hb_sha256_hex(der, der_len, calc, err));
    if (strcmp(calc, fp) != 0) {
        st = bad(err, mn, "a member's fingerprint does not match its certificate", qid);
        goto cleanup;
    }
    st = hb_manifest_add_quorum_member(m, qid, cert, wrap, x, share, share_len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "manifest is invalid: line %d", (int)xmlGetLineNo(mn));
        st = HB_E_VERIFY;
        if (err != NULL)
            err->status = st;
    }
cleanup:
    xmlFree(xs);
    free(subject);
    free(fp);
    free(wrap);
    free(cert_b64);
    free(share_b64);
    free(der);
    free(share);
    X509_free(cert);
    return st;
}

hb_status hb_manifest_read_quorum(const xmlNode *qn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    xmlChar *id = xmlGetNoNsProp(qn, BAD_CAST "id");
    xmlChar *name = xmlGetNoNsProp(qn, BAD_CAST "name");
    xmlChar *thr = xmlGetNoNsProp(qn, BAD_CAST "threshold");
    xmlChar *ss = xmlGetNoNsProp(qn, BAD_CAST "secret-sharing");
    xmlChar *kw = xmlGetNoNsProp(qn, BAD_CAST "key-wrap");
    unsigned threshold = 0;
    const char *ids = (const char *)id;

    if (ids == NULL || !hb_manifest_rid_ok(ids) || hb_manifest_find_recipient(m, ids) != NULL ||
        hb_manifest_find_quorum(m, ids) != NULL) {
        st = bad(err, qn, "the id is invalid or used twice", ids);
        goto cleanup;
    }
    if (!parse_uint((const char *)thr, 2, 255, &threshold) || ss == NULL || kw == NULL ||
        strcmp((const char *)ss, "shamir-gf256") != 0 ||
        strcmp((const char *)kw, "aes-256-wrap-pad") != 0) {
        st = bad(err, qn, "threshold, secret-sharing or key-wrap is not one hsmbak knows", ids);
        goto cleanup;
    }
    st = hb_manifest_add_quorum(m, (const char *)name, threshold, NULL, err);
    if (st != HB_OK) {
        st = bad(err, qn, "bad name", ids);
        goto cleanup;
    }
    /* The id as written, not the one hb_manifest_add_quorum numbered. */
    hb_manifest_quorum *q = &m->quorums[m->n_quorums - 1];
    char *copy = strdup(ids);
    if (copy == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    free(q->id);
    q->id = copy;
    for (xmlNodePtr mn = hb_xml_first_elem(qn); mn != NULL; mn = hb_xml_next_elem(mn))
        HB_TRY(read_member(mn, m, ids, err));
    q = &m->quorums[m->n_quorums - 1];
    if (q->n_members < q->threshold) {
        st = bad(err, qn, "fewer members than its threshold", ids);
        goto cleanup;
    }
cleanup:
    xmlFree(id);
    xmlFree(name);
    xmlFree(thr);
    xmlFree(ss);
    xmlFree(kw);
    return st;
}
