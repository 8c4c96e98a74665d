/* Serialize and sign a manifest (DESIGN §4.3; quorum groups docs/FORMAT.md
 * §8). The document is built with libxml2's tree API (text nodes, so every
 * value is escaped), indented with explicit whitespace nodes (which the
 * signature covers), signed by xmldsig.c, then serialized once; nothing
 * reformats it after signing. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"

#include <inttypes.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* libxml2 returns NULL for one reason only: it ran out of memory. */
#define OUT_OF_MEMORY "out of memory writing the manifest's <%s>"

/* ---- is it complete? ---- */

/* Every quorum has at least `threshold` members, and every file a 40-byte
 * wrapped key for it. */
static hb_status check_quorums(const hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < m->n_quorums; i++) {
        const hb_manifest_quorum *q = &m->quorums[i];
        HB_ENSURE(q->n_members >= q->threshold, HB_E_USAGE, "quorum '%s' has %zu members, "
                  "fewer than its threshold %u", q->name, q->n_members, q->threshold);
        for (size_t f = 0; f < m->n_files; f++) {
            const hb_manifest_wrapped_key *wk =
                hb_manifest_find_wrapped_key(&m->files[f], q->id);
            HB_ENSURE(wk != NULL && wk->len == HB_QUORUM_WRAPPED_DEK, HB_E_USAGE,
                      "file '%s' has no %d-byte wrapped key for quorum '%s'", m->files[f].name,
                      HB_QUORUM_WRAPPED_DEK, q->name);
        }
    }
cleanup:
    return st;
}

static hb_status check_complete(const hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    HB_ENSURE(m->id != NULL && m->created != NULL && m->tool != NULL, HB_E_USAGE,
              "manifest has no backup id/time (call hb_manifest_set_backup)");
    HB_ENSURE(m->version != NULL && m->profile != NULL, HB_E_USAGE,
              "manifest has no system version/profile (call hb_manifest_set_system)");
    HB_ENSURE(m->n_recipients > 0 || m->n_quorums > 0, HB_E_USAGE,
              "manifest has no recipients; nobody could restore it");
    for (size_t i = 0; i < m->n_files; i++)
        for (size_t r = 0; r < m->n_recipients; r++)
            HB_ENSURE(hb_manifest_find_wrapped_key(&m->files[i], m->recipients[r].id) != NULL,
                      HB_E_USAGE, "file '%s' has no wrapped key for recipient '%s' (%s)",
                      m->files[i].name, m->recipients[r].id, m->recipients[r].subject);
    HB_TRY(check_quorums(m, err));
cleanup:
    return st;
}

/* ---- elements ---- */

static bool add_attr(xmlNodePtr n, const char *name, const char *value)
{
    return n != NULL && xmlNewProp(n, BAD_CAST name, BAD_CAST value) != NULL;
}

/* The three elements that name a certificate, then the certificate, as
 * recipients and quorum members both carry them. */
static hb_status add_cert(xmlNodePtr parent, xmlNsPtr ns, const char *subject,
                          const char *fingerprint, const char *key_wrap, const uint8_t *der,
                          size_t der_len, int depth, hb_err *err)
{
    hb_status st = HB_OK;
    bool ok = hb_xml_add(parent, ns, "subject", subject, depth) != NULL &&
              add_attr(hb_xml_add(parent, ns, "fingerprint", fingerprint, depth), "algorithm",
                       "sha256") &&
              hb_xml_add(parent, ns, "key-wrap", key_wrap, depth) != NULL &&
              hb_xml_add_b64(parent, ns, "certificate", der, der_len, depth) != NULL;
    HB_ENSURE(ok, HB_E_INTERNAL, OUT_OF_MEMORY, (const char *)parent->name);
cleanup:
    return st;
}

static hb_status write_recipient(xmlNodePtr recips, xmlNsPtr ns, const hb_manifest_recipient *r,
                                 hb_err *err)
{
    hb_status st = HB_OK;
    xmlNodePtr rn = hb_xml_add(recips, ns, "recipient", NULL, 2);
    HB_ENSURE(add_attr(rn, "id", r->id) &&
              (!r->oaep_label || add_attr(rn, "oaep-label", HB_MANIFEST_OAEP_LABEL)),
              HB_E_INTERNAL, OUT_OF_MEMORY, "recipient");
    HB_TRY(add_cert(rn, ns, r->subject, r->fingerprint, r->key_wrap, r->cert_der,
                    r->cert_der_len, 3, err));
    HB_ENSURE(hb_xml_indent(rn, 2), HB_E_INTERNAL, OUT_OF_MEMORY, "recipient");
cleanup:
    return st;
}

static hb_status write_quorum(xmlNodePtr recips, xmlNsPtr ns, const hb_manifest_quorum *q,
                              hb_err *err)
{
    hb_status st = HB_OK;
    char num[16];
    HB_TRY(hb_format(num, sizeof num, "a threshold", err, "%u", q->threshold));
    xmlNodePtr qn = hb_xml_add(recips, ns, "quorum", NULL, 2);
    HB_ENSURE(add_attr(qn, "id", q->id) && add_attr(qn, "name", q->name) &&
              add_attr(qn, "threshold", num) && add_attr(qn, "secret-sharing", "shamir-gf256") &&
              add_attr(qn, "key-wrap", "aes-256-wrap-pad"), HB_E_INTERNAL, OUT_OF_MEMORY,
              "quorum");
    for (size_t k = 0; k < q->n_members; k++) {
        const hb_manifest_quorum_member *mem = &q->members[k];
        HB_TRY(hb_format(num, sizeof num, "an x coordinate", err, "%u", mem->x));
        xmlNodePtr mn = hb_xml_add(qn, ns, "member", NULL, 3);
        HB_ENSURE(add_attr(mn, "x", num) &&
                  (!mem->oaep_label || add_attr(mn, "oaep-label", HB_MANIFEST_OAEP_LABEL)),
                  HB_E_INTERNAL, OUT_OF_MEMORY, "member");
        HB_TRY(add_cert(mn, ns, mem->subject, mem->fingerprint, mem->key_wrap, mem->cert_der,
                        mem->cert_der_len, 4, err));
        HB_ENSURE(hb_xml_add_b64(mn, ns, "wrapped-share", mem->wrapped_share,
                                 mem->wrapped_share_len, 4) != NULL, HB_E_INTERNAL,
                  OUT_OF_MEMORY, "member");
        if (mem->has_commitment) {
            char hex[65];
            hb_hex_encode(mem->commitment, sizeof mem->commitment, hex);
            HB_ENSURE(add_attr(hb_xml_add(mn, ns, "share-commitment", hex, 4), "algorithm",
                               "sha256"), HB_E_INTERNAL, OUT_OF_MEMORY, "member");
        }
        HB_ENSURE(hb_xml_indent(mn, 3), HB_E_INTERNAL, OUT_OF_MEMORY, "member");
    }
    HB_ENSURE(hb_xml_indent(qn, 2), HB_E_INTERNAL, OUT_OF_MEMORY, "quorum");
cleanup:
    return st;
}

static hb_status write_file(xmlNodePtr files, xmlNsPtr ns, const hb_manifest_file *f,
                            hb_err *err)
{
    hb_status st = HB_OK;
    char size[32];
    HB_TRY(hb_format(size, sizeof size, "a file size", err, "%" PRIu64, f->size));
    xmlNodePtr fn = hb_xml_add(files, ns, "file", NULL, 2);
    bool ok = fn != NULL && hb_xml_add(fn, ns, "name", f->name, 3) != NULL &&
              hb_xml_add(fn, ns, "filename", f->filename, 3) != NULL &&
              hb_xml_add(fn, ns, "compression", f->compression, 3) != NULL &&
              hb_xml_add(fn, ns, "size", size, 3) != NULL &&
              add_attr(hb_xml_add(fn, ns, "checksum", f->sha256, 3), "algorithm", "sha256");
    HB_ENSURE(ok, HB_E_INTERNAL, OUT_OF_MEMORY, "file");
    for (size_t k = 0; k < f->n_keys; k++)
        HB_ENSURE(add_attr(hb_xml_add_b64(fn, ns, "wrapped-key", f->keys[k].data,
                                          f->keys[k].len, 3), "recipient",
                           f->keys[k].recipient), HB_E_INTERNAL, OUT_OF_MEMORY, "wrapped-key");
    HB_ENSURE(hb_xml_indent(fn, 2), HB_E_INTERNAL, OUT_OF_MEMORY, "file");
cleanup:
    return st;
}

/* ---- the document ---- */

/* <backup> and <system>: the manifest's header fields. */
static hb_status write_header(xmlNodePtr root, xmlNsPtr ns, const hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    char seq[32], tseq[32];
    HB_TRY(hb_format(seq, sizeof seq, "a sequence number", err, "%" PRIu64, m->sequence));
    HB_TRY(hb_format(tseq, sizeof tseq, "a sequence number", err, "%" PRIu64,
                     m->transcript_seq));
    xmlNodePtr backup = hb_xml_add(root, ns, "backup", NULL, 1);
    /* <sequence> only when set: 0 is "none", which the schema spells by
     * leaving the element out (manifests made before sequence numbers). */
    bool ok = backup != NULL && hb_xml_add(backup, ns, "id", m->id, 2) != NULL &&
              hb_xml_add(backup, ns, "created", m->created, 2) != NULL &&
              (m->sequence == 0 || hb_xml_add(backup, ns, "sequence", seq, 2) != NULL);
    /* <transcript> likewise only with a pin (docs/FORMAT.md §10). */
    xmlNodePtr pin = ok && m->transcript_seq > 0 ? hb_xml_add(backup, ns, "transcript", NULL, 2)
                                                 : NULL;
    ok = ok && (m->transcript_seq == 0 ||
                (pin != NULL && hb_xml_add(pin, ns, "seq", tseq, 3) != NULL &&
                 hb_xml_add(pin, ns, "head", m->transcript_head, 3) != NULL &&
                 hb_xml_indent(pin, 2))) &&
         hb_xml_add(backup, ns, "tool", m->tool, 2) != NULL && hb_xml_indent(backup, 1);
    HB_ENSURE(ok, HB_E_INTERNAL, OUT_OF_MEMORY, "backup");
    xmlNodePtr sys = hb_xml_add(root, ns, "system", NULL, 1);
    ok = sys != NULL && hb_xml_add(sys, ns, "version", m->version, 2) != NULL &&
         hb_xml_add(sys, ns, "profile", m->profile, 2) != NULL &&
         (m->build == NULL || hb_xml_add(sys, ns, "build", m->build, 2) != NULL) &&
         (m->machine_type == NULL ||
          hb_xml_add(sys, ns, "machine-type", m->machine_type, 2) != NULL) &&
         (m->serial == NULL || hb_xml_add(sys, ns, "serial", m->serial, 2) != NULL) &&
         hb_xml_indent(sys, 1);
    HB_ENSURE(ok, HB_E_INTERNAL, OUT_OF_MEMORY, "system");
cleanup:
    return st;
}

static hb_status write_body(xmlNodePtr root, xmlNsPtr ns, const hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    HB_ENSURE(add_attr(root, "format", "1"), HB_E_INTERNAL, OUT_OF_MEMORY, "backupmanifest");
    HB_TRY(write_header(root, ns, m, err));

    xmlNodePtr recips = hb_xml_add(root, ns, "recipients", NULL, 1);
    HB_ENSURE(recips != NULL, HB_E_INTERNAL, OUT_OF_MEMORY, "recipients");
    for (size_t i = 0; i < m->n_recipients; i++)
        HB_TRY(write_recipient(recips, ns, &m->recipients[i], err));
    for (size_t i = 0; i < m->n_quorums; i++)
        HB_TRY(write_quorum(recips, ns, &m->quorums[i], err));
    HB_ENSURE(hb_xml_indent(recips, 1), HB_E_INTERNAL, OUT_OF_MEMORY, "recipients");

    xmlNodePtr files = hb_xml_add(root, ns, "files", NULL, 1);
    HB_ENSURE(files != NULL, HB_E_INTERNAL, OUT_OF_MEMORY, "files");
    for (size_t i = 0; i < m->n_files; i++)
        HB_TRY(write_file(files, ns, &m->files[i], err));
    HB_ENSURE(m->n_files == 0 || hb_xml_indent(files, 1), HB_E_INTERNAL, OUT_OF_MEMORY,
              "files");

    xmlNodePtr excl = hb_xml_add(root, ns, "excluded", NULL, 1);
    HB_ENSURE(excl != NULL, HB_E_INTERNAL, OUT_OF_MEMORY, "excluded");
    for (size_t i = 0; i < m->n_excluded; i++)
        HB_ENSURE(add_attr(hb_xml_add(excl, ns, "item", m->excluded[i].reason, 2), "name",
                           m->excluded[i].name), HB_E_INTERNAL, OUT_OF_MEMORY, "item");
    HB_ENSURE(m->n_excluded == 0 || hb_xml_indent(excl, 1), HB_E_INTERNAL, OUT_OF_MEMORY,
              "excluded");
cleanup:
    return st;
}

hb_status hb_manifest_write_signed(const hb_manifest *m, X509 *signer_cert, hb_sign_fn sign,
                                   void *sign_ctx, uint8_t **xml, size_t *xml_len,
                                   hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr root = NULL;
    xmlNsPtr ns = NULL;

    *xml = NULL;
    *xml_len = 0;
    HB_ENSURE(m != NULL && signer_cert != NULL && sign != NULL, HB_E_USAGE, "writing a "
              "manifest needs a manifest, a signer certificate and a signer");
    HB_TRY(check_complete(m, err));
    HB_TRY(hb_xml_new_doc("backupmanifest", HB_MANIFEST_NS, &doc, &root, &ns, err));
    HB_TRY(write_body(root, ns, m, err));
    HB_TRY(hb_xmldsig_sign(doc, signer_cert, sign, sign_ctx, err));
    HB_TRY(hb_xml_serialize(doc, false, "manifest", xml, xml_len, err));
cleanup:
    xmlFreeDoc(doc);
    return st;
}
