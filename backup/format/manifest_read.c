/* Read a signed manifest (DESIGN §4.3; quorum groups docs/FORMAT.md §8).
 * Order matters:
 *   1. size cap, hardened parse (no DTD/entities/PIs/comments, no network),
 *      and the document's shape (namespaces, depth, counts) while parsing;
 *   2. the signature: its place (last child of the root, the only one), its
 *      exact shape and algorithms, the digest, the signature value;
 *   3. the schema;
 *   4. only then the fields, from the same root element that was signed,
 *      each checked again here so the struct's promises do not depend on a
 *      data file, and stored through the builder (manifest.c).
 * Trust in the signer is not decided here: the certificate is returned. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_fuzz_internal.h"
#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/ids.h"
#include "common/names.h"
#include "common/x509.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WHAT "manifest"
/* Every field refused says where: "manifest is invalid: line N: ...". */
#define INVALID "manifest is invalid: line %d: "

static int line_of(const xmlNode *n)
{
    return n != NULL ? (int)xmlGetLineNo(n) : 0;
}

/* A refusal by the builder or a shared helper (in its own words), as the
 * reader's: the manifest is invalid at node n. */
static hb_status invalid_at(hb_status st, const xmlNode *n, hb_err *err)
{
    if (st == HB_OK)
        return HB_OK;
    hb_err_prefix(err, "manifest is invalid: line %d", line_of(n));
    if (err != NULL)
        err->status = HB_E_VERIFY;
    return HB_E_VERIFY;
}

static hb_status text_of(const xmlNode *parent, const char *name, bool required, char **out,
                         hb_err *err)
{
    return hb_xml_child_text(parent, HB_MANIFEST_NS, name, required, WHAT, out, err);
}

/* An attribute as text; *out NULL when absent. */
static hb_status attr_of(const xmlNode *n, const char *name, char **out, hb_err *err)
{
    hb_status st = HB_OK;
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    *out = NULL;
    if (v != NULL)
        HB_ALLOC(*out = strdup((const char *)v));
cleanup:
    xmlFree(v);
    return st;
}

/* A decimal in lo..hi of at most three digits (thresholds, x coordinates). */
static bool small_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
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

/* <sequence>: a decimal 1..2^63-1, digits only, no leading zero (the
 * schema's pattern, checked again here). Absent: 0 (DESIGN §4.3). */
static hb_status read_sequence(const xmlNode *backup, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    char *s = NULL, *end = NULL;
    HB_TRY(text_of(backup, "sequence", false, &s, err));
    if (s == NULL)
        goto cleanup;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    HB_ENSURE(s[0] >= '1' && s[0] <= '9' && strlen(s) <= 19 && *end == '\0' && errno == 0 &&
              v <= HB_MANIFEST_SEQUENCE_MAX, HB_E_VERIFY,
              INVALID "backup sequence '%.32s' is not a number 1..2^63-1", line_of(backup), s);
    HB_TRY(invalid_at(hb_manifest_set_sequence(m, (uint64_t)v, err), backup, err));
cleanup:
    free(s);
    return st;
}

/* <transcript><seq/><head/></transcript> (docs/FORMAT.md §10), checked
 * again here as <sequence> is. Absent: no pin. */
static hb_status read_transcript_pin(const xmlNode *backup, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    char *s = NULL, *head = NULL, *end = NULL;
    xmlNodePtr pin = hb_xml_child(backup, HB_MANIFEST_NS, "transcript");
    if (pin == NULL)
        goto cleanup;
    HB_TRY(text_of(pin, "seq", true, &s, err));
    HB_TRY(text_of(pin, "head", true, &head, err));
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    HB_ENSURE(s[0] >= '1' && s[0] <= '9' && strlen(s) <= 19 && *end == '\0' && errno == 0 &&
              v <= HB_MANIFEST_SEQUENCE_MAX && strlen(head) == 64 &&
              hb_hex_lower_ok(head, 64), HB_E_VERIFY,
              INVALID "transcript pin '%.32s' '%.70s' is not an entry count 1..2^63-1 and a "
              "SHA-256 in hex", line_of(pin), s, head);
    HB_TRY(invalid_at(hb_manifest_set_transcript(m, (uint64_t)v, head, err), pin, err));
cleanup:
    free(s);
    free(head);
    return st;
}

/* The certificate of a recipient or quorum member: base64 of one DER
 * certificate whose SHA-256 is the fingerprint written beside it. */
static hb_status read_cert(const xmlNode *n, const char *who, const char *b64,
                           const char *fingerprint, uint8_t **der, size_t *der_len, X509 **out,
                           hb_err *err)
{
    hb_status st = HB_OK;
    char calc[65], what[160];
    HB_ENSURE(hb_base64_decode(b64, der, der_len, err) == HB_OK, HB_E_VERIFY,
              INVALID "%s certificate is not base64", line_of(n), who);
    HB_TRY(hb_format(what, sizeof what, "a certificate's name", err, "%s certificate", who));
    HB_TRY(invalid_at(hb_x509_from_der(*der, *der_len, what, out, err), n, err));
    HB_TRY(hb_sha256_hex(*der, *der_len, calc, err));
    HB_ENSURE(strcmp(calc, fingerprint) == 0, HB_E_VERIFY,
              INVALID "%s fingerprint does not match its certificate", line_of(n), who);
cleanup:
    return st;
}

static hb_status read_recipient(const xmlNode *rn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_recipient r = {0}, *slot = NULL;
    char *fp = NULL, *cert_b64 = NULL, *label = NULL;
    char who[128]; /* "recipient '<id of at most 64>'" */
    X509 *cert = NULL;

    HB_TRY(attr_of(rn, "id", &r.id, err));
    HB_ENSURE(hb_manifest_rid_ok(r.id), HB_E_VERIFY, INVALID "recipient id '%s' is invalid",
              line_of(rn), r.id != NULL ? r.id : "");
    HB_ENSURE(hb_manifest_find_recipient(m, r.id) == NULL &&
              hb_manifest_find_quorum(m, r.id) == NULL, HB_E_VERIFY,
              INVALID "recipient id '%s' is used twice", line_of(rn), r.id);
    HB_TRY(attr_of(rn, "oaep-label", &label, err)); /* older: none, the empty label */
    HB_ENSURE(label == NULL || strcmp(label, HB_MANIFEST_OAEP_LABEL) == 0, HB_E_VERIFY,
              INVALID "recipient '%s' has an unknown oaep-label", line_of(rn), r.id);
    r.oaep_label = label != NULL;
    HB_TRY(text_of(rn, "subject", true, &r.subject, err));
    HB_TRY(text_of(rn, "fingerprint", true, &fp, err));
    HB_TRY(text_of(rn, "key-wrap", true, &r.key_wrap, err));
    HB_TRY(text_of(rn, "certificate", true, &cert_b64, err));
    HB_ENSURE(hb_hex_lower_ok(fp, 64) && hb_manifest_key_wrap_ok(r.key_wrap), HB_E_VERIFY,
              INVALID "recipient '%s' has a bad fingerprint or key-wrap", line_of(rn), r.id);
    HB_TRY(hb_format(who, sizeof who, "a recipient's name", err, "recipient '%s'", r.id));
    HB_TRY(read_cert(rn, who, cert_b64, fp, &r.cert_der, &r.cert_der_len, &cert, err));
    memcpy(r.fingerprint, fp, 65);
    HB_PUSH_MOVE(slot, m->recipients, m->n_recipients, HB_MANIFEST_MAX_RECIPIENTS, r);
cleanup:
    hb_manifest_recipient_clear(&r);
    X509_free(cert);
    free(label);
    free(fp);
    free(cert_b64);
    return st;
}

static hb_status read_member(const xmlNode *mn, hb_manifest *m, const char *qid, hb_err *err)
{
    hb_status st = HB_OK;
    char *xs = NULL, *fp = NULL, *wrap = NULL, *cert_b64 = NULL, *share_b64 = NULL;
    char *subject = NULL, *commit_hex = NULL, *label = NULL;
    char who[128]; /* "quorum '<id of at most 64>': member <x>'s" */
    uint8_t *der = NULL, *share = NULL, commitment[32];
    size_t der_len = 0, share_len = 0;
    X509 *cert = NULL;
    unsigned x = 0;

    HB_TRY(attr_of(mn, "x", &xs, err));
    HB_ENSURE(small_uint(xs, 1, HB_QUORUM_MAX_MEMBERS, &x), HB_E_VERIFY,
              INVALID "quorum '%s': a member's x coordinate is not 1..255", line_of(mn), qid);
    HB_TRY(attr_of(mn, "oaep-label", &label, err)); /* older: none, the empty label */
    HB_ENSURE(label == NULL || strcmp(label, HB_MANIFEST_OAEP_LABEL) == 0, HB_E_VERIFY,
              INVALID "quorum '%s': member %u has an unknown oaep-label", line_of(mn), qid, x);
    HB_TRY(text_of(mn, "subject", true, &subject, err));
    HB_TRY(text_of(mn, "fingerprint", true, &fp, err));
    HB_TRY(text_of(mn, "key-wrap", true, &wrap, err));
    HB_TRY(text_of(mn, "certificate", true, &cert_b64, err));
    HB_TRY(text_of(mn, "wrapped-share", true, &share_b64, err));
    HB_TRY(text_of(mn, "share-commitment", false, &commit_hex, err)); /* older: none */
    HB_ENSURE(hb_hex_lower_ok(fp, 64) && hb_manifest_key_wrap_ok(wrap), HB_E_VERIFY,
              INVALID "quorum '%s': a member has a bad fingerprint or key-wrap", line_of(mn),
              qid);
    HB_TRY(hb_format(who, sizeof who, "a member's name", err, "quorum '%s': member %u's", qid,
                     x));
    HB_TRY(read_cert(mn, who, cert_b64, fp, &der, &der_len, &cert, err));
    HB_ENSURE(hb_base64_decode(share_b64, &share, &share_len, err) == HB_OK && share_len > 0,
              HB_E_VERIFY, INVALID "%s wrapped share is not base64", line_of(mn), who);
    HB_ENSURE(commit_hex == NULL || (hb_hex_lower_ok(commit_hex, 64) &&
                                     hb_hex_decode(commit_hex, commitment, sizeof commitment,
                                                   err) == HB_OK),
              HB_E_VERIFY, INVALID "%s share commitment is not 64 lowercase hex digits",
              line_of(mn), who);
    HB_TRY(invalid_at(hb_manifest_add_quorum_member(m, qid, cert, wrap, x, share, share_len,
                                                    commit_hex != NULL ? commitment : NULL,
                                                    err), mn, err));
    if (label != NULL)
        HB_TRY(hb_manifest_set_member_label(m, qid, x, err));
cleanup:
    free(label);
    free(commit_hex);
    free(xs);
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

static hb_status read_quorum(const xmlNode *qn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    char *id = NULL, *name = NULL, *thr = NULL, *ss = NULL, *kw = NULL;
    unsigned threshold = 0;

    HB_TRY(attr_of(qn, "id", &id, err));
    HB_TRY(attr_of(qn, "name", &name, err));
    HB_TRY(attr_of(qn, "threshold", &thr, err));
    HB_TRY(attr_of(qn, "secret-sharing", &ss, err));
    HB_TRY(attr_of(qn, "key-wrap", &kw, err));
    HB_ENSURE(hb_manifest_rid_ok(id) && hb_manifest_find_recipient(m, id) == NULL &&
              hb_manifest_find_quorum(m, id) == NULL, HB_E_VERIFY,
              INVALID "quorum '%s': the id is invalid or used twice", line_of(qn),
              id != NULL ? id : "");
    HB_ENSURE(small_uint(thr, 2, HB_QUORUM_MAX_MEMBERS, &threshold) && ss != NULL &&
              kw != NULL && strcmp(ss, "shamir-gf256") == 0 &&
              strcmp(kw, "aes-256-wrap-pad") == 0, HB_E_VERIFY,
              INVALID "quorum '%s': threshold, secret-sharing or key-wrap is not one hsmbak "
              "knows", line_of(qn), id);
    HB_TRY(invalid_at(hb_manifest_add_quorum(m, name, threshold, NULL, err), qn, err));
    /* The id as written, not the one hb_manifest_add_quorum numbered. */
    hb_manifest_quorum *q = &m->quorums[m->n_quorums - 1];
    free(q->id);
    q->id = id;
    id = NULL;
    for (xmlNodePtr mn = hb_xml_first_elem(qn); mn != NULL; mn = hb_xml_next_elem(mn))
        HB_TRY(read_member(mn, m, q->id, err));
    q = &m->quorums[m->n_quorums - 1];
    HB_ENSURE(q->n_members >= q->threshold, HB_E_VERIFY,
              INVALID "quorum '%s': fewer members than its threshold", line_of(qn), q->id);
cleanup:
    free(id);
    free(name);
    free(thr);
    free(ss);
    free(kw);
    return st;
}

/* One <wrapped-key recipient="..."> of file f. */
static hb_status read_wrapped_key(const xmlNode *k, const hb_manifest *m, hb_manifest_file *f,
                                  hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_wrapped_key wk = {0}, *slot = NULL;
    char *b64 = NULL;
    HB_TRY(attr_of(k, "recipient", &wk.recipient, err));
    const char *rid = wk.recipient != NULL ? wk.recipient : "";
    bool quorum = hb_manifest_find_quorum(m, rid) != NULL;
    HB_ENSURE(quorum || hb_manifest_find_recipient(m, rid) != NULL, HB_E_VERIFY,
              INVALID "wrapped key for unknown recipient '%s'", line_of(k), rid);
    HB_ENSURE(hb_manifest_find_wrapped_key(f, rid) == NULL, HB_E_VERIFY,
              INVALID "two wrapped keys for recipient '%s'", line_of(k), rid);
    HB_ALLOC(b64 = hb_xml_text(k));
    HB_ENSURE(hb_base64_decode(b64, &wk.data, &wk.len, err) == HB_OK && wk.len > 0,
              HB_E_VERIFY, INVALID "wrapped key of file '%s' is not base64", line_of(k),
              f->name);
    HB_ENSURE(!quorum || wk.len == HB_QUORUM_WRAPPED_DEK, HB_E_VERIFY,
              INVALID "quorum key of file '%s' is not 40 bytes (RFC 5649)", line_of(k),
              f->name);
    HB_PUSH_MOVE(slot, f->keys, f->n_keys, HB_MANIFEST_MAX_KEYS, wk);
cleanup:
    free(wk.recipient);
    free(wk.data);
    free(b64);
    return st;
}

static hb_status read_file(const xmlNode *fn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_file f = {0}, *slot = NULL;
    char *size = NULL, *sum = NULL;

    HB_TRY(text_of(fn, "name", true, &f.name, err));
    HB_TRY(text_of(fn, "filename", true, &f.filename, err));
    HB_TRY(text_of(fn, "compression", true, &f.compression, err));
    HB_TRY(text_of(fn, "size", true, &size, err));
    HB_TRY(text_of(fn, "checksum", true, &sum, err));
    HB_ENSURE(hb_name_ok(f.name), HB_E_VERIFY, INVALID "file name '%s' is invalid",
              line_of(fn), f.name);
    HB_ENSURE(hb_manifest_find_file(m, f.name) == NULL, HB_E_VERIFY,
              INVALID "file '%s' is listed twice", line_of(fn), f.name);
    HB_ENSURE(hb_manifest_filename_ok(f.name, f.filename, f.compression), HB_E_VERIFY,
              INVALID "file '%s' has a file name that does not fit its compression",
              line_of(fn), f.name);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(size, &end, 10);
    HB_ENSURE(size[0] >= '0' && size[0] <= '9' && *end == '\0' && errno == 0, HB_E_VERIFY,
              INVALID "file '%s' has a bad size", line_of(fn), f.name);
    f.size = (uint64_t)v;
    HB_ENSURE(hb_hex_lower_ok(sum, 64), HB_E_VERIFY, INVALID "file '%s' has a bad checksum",
              line_of(fn), f.name);
    memcpy(f.sha256, sum, 65);
    for (xmlNodePtr k = hb_xml_first_elem(fn); k != NULL; k = hb_xml_next_elem(k))
        if (hb_xml_is(k, HB_MANIFEST_NS, "wrapped-key"))
            HB_TRY(read_wrapped_key(k, m, &f, err));
    HB_PUSH_MOVE(slot, m->files, m->n_files, HB_MANIFEST_MAX_FILES, f);
cleanup:
    hb_manifest_file_clear(&f);
    free(size);
    free(sum);
    return st;
}

static hb_status read_excluded(const xmlNode *it, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    char *name = NULL, *reason = NULL;
    HB_TRY(attr_of(it, "name", &name, err));
    HB_ALLOC(reason = hb_xml_text(it));
    HB_TRY(invalid_at(hb_manifest_add_excluded(m, name, reason, err), it, err));
cleanup:
    free(name);
    free(reason);
    return st;
}

static hb_status read_fields(const xmlNode *root, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    xmlNodePtr backup = hb_xml_child(root, HB_MANIFEST_NS, "backup");
    xmlNodePtr sys = hb_xml_child(root, HB_MANIFEST_NS, "system");
    xmlNodePtr recips = hb_xml_child(root, HB_MANIFEST_NS, "recipients");
    xmlNodePtr files = hb_xml_child(root, HB_MANIFEST_NS, "files");
    xmlNodePtr excl = hb_xml_child(root, HB_MANIFEST_NS, "excluded");
    HB_ENSURE(backup != NULL && sys != NULL && recips != NULL && files != NULL, HB_E_VERIFY,
              INVALID "a required section is missing", line_of(root));
    HB_TRY(text_of(backup, "id", true, &m->id, err));
    HB_TRY(text_of(backup, "created", true, &m->created, err));
    HB_TRY(read_sequence(backup, m, err));
    HB_TRY(read_transcript_pin(backup, m, err));
    HB_TRY(text_of(backup, "tool", true, &m->tool, err));
    HB_TRY(text_of(sys, "version", true, &m->version, err));
    HB_TRY(text_of(sys, "profile", true, &m->profile, err));
    HB_TRY(text_of(sys, "build", false, &m->build, err));
    HB_TRY(text_of(sys, "machine-type", false, &m->machine_type, err));
    HB_TRY(text_of(sys, "serial", false, &m->serial, err));
    HB_ENSURE(hb_uuid_ok(m->id), HB_E_VERIFY, INVALID "backup id '%s' is not a lowercase "
              "UUIDv4", line_of(backup), m->id);
    HB_ENSURE(hb_rfc3339_ok(m->created), HB_E_VERIFY, INVALID "backup time '%s' is not "
              "RFC 3339 UTC", line_of(backup), m->created);
    HB_ENSURE(hb_manifest_version_ok(m->version) && hb_name_ok(m->profile), HB_E_VERIFY,
              INVALID "system version '%s' or profile is invalid", line_of(sys), m->version);
    for (xmlNodePtr r = hb_xml_first_elem(recips); r != NULL; r = hb_xml_next_elem(r)) {
        if (hb_xml_is(r, HB_MANIFEST_NS, "quorum"))
            HB_TRY(read_quorum(r, m, err));
        else
            HB_TRY(read_recipient(r, m, err));
    }
    HB_ENSURE(m->n_recipients > 0 || m->n_quorums > 0, HB_E_VERIFY, INVALID "no recipients",
              line_of(recips));
    for (xmlNodePtr f = hb_xml_first_elem(files); f != NULL; f = hb_xml_next_elem(f))
        HB_TRY(read_file(f, m, err));
    for (xmlNodePtr it = hb_xml_first_elem(excl); it != NULL; it = hb_xml_next_elem(it))
        HB_TRY(read_excluded(it, m, err));
cleanup:
    return st;
}

/* The shape of every manifest hsmbak writes (manifest_write.c, xmldsig.c),
 * checked while it is parsed, before anything is canonicalized or verified
 * (issue 11 class 4: hostile input ends fast and small). The caps come from
 * the biggest manifest a real system needs, with room to spare:
 *
 * Namespaces: the root declares the manifest's, <Signature> XML-DSig's: two
 * declarations (4 allowed); every element is in one of the two, no
 * attribute in any.
 * Depth: backupmanifest > Signature > SignedInfo > Reference > Transforms >
 * Transform is 6 (recipients > quorum > member > certificate or share-commitment
 * is 5; backup > transcript > seq, the transcript pin, is 4): 8.
 * Attributes on one element: <quorum> has 5 (id name threshold
 * secret-sharing key-wrap), every other element 2 at most: 8.
 * Size: one <file> per resource, and a profile has at most 1000 resources
 * and 1000 excluded items (profile.xsd; the shipped ones have 7 and 1).
 * Take F = 1000 files and K = 16 recipients and quorum groups, X = 1000:
 *   elements   F x (6 + K) + 5K + X + 33 (header with the transcript pin, signature)   ~ 23,100
 *   attributes F x (1 + K) + 2K + X + 10                       ~ 18,000
 *   nodes      (elements, text and whitespace nodes, and 2 per attribute,
 *              its value being a text node) per file 20 + 5 per wrapped
 *              key, 19 per recipient, 27 per quorum member, 5 per excluded
 *              item: F x (20 + 5K) + 19K + 5X + 80              ~ 105,400
 * so 40,000 elements, 40,000 attributes and 120,000 nodes (a 255-member
 * quorum is 6,900 nodes). A refused document's tree stays under ~20 MiB
 * (libxml2 spends ~160 bytes a node).
 * Text: the longest is a certificate's base64; a certificate file is at
 * most 1 MiB (HB_CERT_FILE_MAX), 4/3 of that in base64: 2 MiB per node.
 * Whatever passes is still verified, then validated against the schema. */
#define MANIFEST_MAX_DEPTH 8
#define MANIFEST_MAX_ELEMENTS 40000
#define MANIFEST_MAX_ATTRIBUTES 40000
#define MANIFEST_MAX_ELEMENT_ATTRIBUTES 8
#define MANIFEST_MAX_NS_DECLS 4
#define MANIFEST_MAX_NODES 120000
#define MANIFEST_MAX_TEXT ((size_t)2 * 1024 * 1024)

/* Step 1 with the shape check: the parsed document, its root the manifest's;
 * nothing verified yet. */
static hb_status parse_doc(const uint8_t *xml, size_t len, const hb_manifest_read_opts *opts,
                           xmlDocPtr *out, hb_err *err)
{
    static const char *const namespaces[] = {HB_MANIFEST_NS, HB_XMLDSIG_NS, NULL};
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    char shown[600];
    size_t cap = (opts != NULL && opts->max_size != 0) ? opts->max_size
                                                       : HB_MANIFEST_DEFAULT_CAP;
    const char *path = opts != NULL ? opts->path : NULL;
    if (path == NULL || hb_format(shown, sizeof shown, "a manifest's path", NULL,
                                  "manifest '%s'", path) != HB_OK)
        memcpy(shown, WHAT, sizeof WHAT);
    hb_xml_shape shape = {
        .shown = shown,
        .not_ours = "it is not a backup hsmbak made",
        .max_depth = MANIFEST_MAX_DEPTH,
        .max_elements = MANIFEST_MAX_ELEMENTS,
        .max_attributes = MANIFEST_MAX_ATTRIBUTES,
        .max_element_attributes = MANIFEST_MAX_ELEMENT_ATTRIBUTES,
        .max_ns_decls = MANIFEST_MAX_NS_DECLS,
        .max_text = MANIFEST_MAX_TEXT,
        .max_nodes = MANIFEST_MAX_NODES,
        .namespaces = namespaces,
        .root_ns = HB_MANIFEST_NS,
        .root_name = "backupmanifest",
    };
    *out = NULL;
    /* Comments are refused: exc-C14N drops them, so they would be unsigned. */
    HB_TRY(hb_xml_parse_shaped(xml, len, cap, HB_XML_NO_COMMENTS, &shape, NULL, WHAT, &doc,
                               err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    HB_ENSURE(hb_xml_is(root, HB_MANIFEST_NS, "backupmanifest"), HB_E_VERIFY,
              "this is not a backup manifest: the root element is <%s>, expected "
              "<backupmanifest xmlns=\"%s\">", (const char *)root->name, HB_MANIFEST_NS);
    *out = doc;
    doc = NULL;
cleanup:
    xmlFreeDoc(doc);
    return st;
}

/* For the fuzz harness and tests only (manifest_fuzz_internal.h): step 4
 * without steps 2 and 3, so fuzzing reaches the field reader. */
hb_status hb_manifest_read_unverified(const uint8_t *xml, size_t len, hb_manifest **out,
                                      hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    hb_manifest *m = NULL;
    *out = NULL;
    HB_TRY(parse_doc(xml, len, NULL, &doc, err));
    HB_TRY(hb_manifest_new(&m, err));
    HB_TRY(read_fields(xmlDocGetRootElement(doc), m, err));
    *out = m;
    m = NULL;
cleanup:
    hb_manifest_free(m);
    xmlFreeDoc(doc);
    return st;
}

hb_status hb_manifest_read(const uint8_t *xml, size_t len, const hb_manifest_read_opts *opts,
                           hb_manifest **out, X509 **signer_cert, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    X509 *signer = NULL;
    hb_manifest *m = NULL;
    *out = NULL;
    if (signer_cert != NULL)
        *signer_cert = NULL;

    HB_TRY(parse_doc(xml, len, opts, &doc, err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    HB_TRY(hb_xmldsig_verify(doc, WHAT, &signer, err));
    HB_TRY(hb_xml_validate(doc, "schema/manifest.xsd", WHAT, err));
    HB_TRY(hb_manifest_new(&m, err));
    HB_TRY(read_fields(root, m, err));
    *out = m;
    m = NULL;
    if (signer_cert != NULL) {
        *signer_cert = signer;
        signer = NULL;
    }
cleanup:
    hb_manifest_free(m);
    X509_free(signer);
    xmlFreeDoc(doc);
    return st;
}
