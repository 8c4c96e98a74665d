/* Serialize and sign a manifest (DESIGN §4.3). The document is built with
 * libxml2's tree API (text nodes, so every value is escaped), indented with
 * explicit whitespace nodes (which the signature covers), signed by
 * xmldsig.c, then serialized once; nothing reformats it after signing. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fail.h"

#include <inttypes.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM(what) hb_fail(err, HB_E_INTERNAL, "out of memory writing the manifest (%s)", what)

static hb_status check_complete(const hb_manifest *m, hb_err *err)
{
    if (m->id == NULL || m->created == NULL || m->tool == NULL)
        return hb_fail(err, HB_E_USAGE, "manifest has no backup id/time (call "
                       "hb_manifest_set_backup)");
    if (m->version == NULL || m->profile == NULL)
        return hb_fail(err, HB_E_USAGE, "manifest has no system version/profile (call "
                       "hb_manifest_set_system)");
    if (m->n_recipients == 0 && m->n_quorums == 0)
        return hb_fail(err, HB_E_USAGE, "manifest has no recipients; nobody could restore it");
    for (size_t i = 0; i < m->n_files; i++)
        for (size_t r = 0; r < m->n_recipients; r++)
            if (hb_manifest_find_wrapped_key(&m->files[i], m->recipients[r].id) == NULL)
                return hb_fail(err, HB_E_USAGE, "file '%s' has no wrapped key for recipient "
                               "'%s' (%s)", m->files[i].name, m->recipients[r].id,
                               m->recipients[r].subject);
    return hb_manifest_check_quorums(m, err);
}

static hb_status add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name, const uint8_t *data,
                         size_t len, int depth, xmlNodePtr *out, hb_err *err)
{
    char *b64 = NULL;
    hb_status st = hb_base64_encode(data, len, &b64, err);
    if (st != HB_OK)
        return st;
    xmlNodePtr n = hb_xml_add(parent, ns, name, b64, depth);
    free(b64);
    if (n == NULL)
        return OOM(name);
    if (out != NULL)
        *out = n;
    return HB_OK;
}

static hb_status build(const hb_manifest *m, xmlDocPtr doc, hb_err *err)
{
    hb_status st = HB_OK;
    xmlNodePtr root = xmlNewDocNode(doc, NULL, BAD_CAST "backupmanifest", NULL);
    if (root == NULL)
        return OOM("root");
    xmlDocSetRootElement(doc, root);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST HB_MANIFEST_NS, NULL);
    if (ns == NULL)
        return OOM("namespace");
    xmlSetNs(root, ns);
    if (xmlNewProp(root, BAD_CAST "format", BAD_CAST "1") == NULL)
        return OOM("format");

    xmlNodePtr backup = hb_xml_add(root, ns, "backup", NULL, 1);
    if (backup == NULL || hb_xml_add(backup, ns, "id", m->id, 2) == NULL ||
        hb_xml_add(backup, ns, "created", m->created, 2) == NULL ||
        hb_xml_add(backup, ns, "tool", m->tool, 2) == NULL || !hb_xml_indent(backup, 1))
        return OOM("backup");

    xmlNodePtr sys = hb_xml_add(root, ns, "system", NULL, 1);
    if (sys == NULL || hb_xml_add(sys, ns, "version", m->version, 2) == NULL ||
        hb_xml_add(sys, ns, "profile", m->profile, 2) == NULL ||
        (m->build != NULL && hb_xml_add(sys, ns, "build", m->build, 2) == NULL) ||
        (m->machine_type != NULL &&
         hb_xml_add(sys, ns, "machine-type", m->machine_type, 2) == NULL) ||
        (m->serial != NULL && hb_xml_add(sys, ns, "serial", m->serial, 2) == NULL) ||
        !hb_xml_indent(sys, 1))
        return OOM("system");

    xmlNodePtr recips = hb_xml_add(root, ns, "recipients", NULL, 1);
    if (recips == NULL)
        return OOM("recipients");
    for (size_t i = 0; i < m->n_recipients; i++) {
        const hb_manifest_recipient *r = &m->recipients[i];
        xmlNodePtr rn = hb_xml_add(recips, ns, "recipient", NULL, 2);
        xmlNodePtr fp = NULL;
        if (rn == NULL || xmlNewProp(rn, BAD_CAST "id", BAD_CAST r->id) == NULL ||
            hb_xml_add(rn, ns, "subject", r->subject, 3) == NULL ||
            (fp = hb_xml_add(rn, ns, "fingerprint", r->fingerprint, 3)) == NULL ||
            xmlNewProp(fp, BAD_CAST "algorithm", BAD_CAST "sha256") == NULL ||
            hb_xml_add(rn, ns, "key-wrap", r->key_wrap, 3) == NULL)
            return OOM("recipient");
        HB_TRY(add_b64(rn, ns, "certificate", r->cert_der, r->cert_der_len, 3, NULL, err));
        if (!hb_xml_indent(rn, 2))
            return OOM("recipient");
    }
    HB_TRY(hb_manifest_write_quorums(recips, ns, m, err));
    if (!hb_xml_indent(recips, 1))
        return OOM("recipients");

    xmlNodePtr files = hb_xml_add(root, ns, "files", NULL, 1);
    if (files == NULL)
        return OOM("files");
    for (size_t i = 0; i < m->n_files; i++) {
        const hb_manifest_file *f = &m->files[i];
        char size[32];
        snprintf(size, sizeof size, "%" PRIu64, f->size); /* <= 20 digits: fits */
        xmlNodePtr fn = hb_xml_add(files, ns, "file", NULL, 2);
        xmlNodePtr ck = NULL;
        if (fn == NULL || hb_xml_add(fn, ns, "name", f->name, 3) == NULL ||
            hb_xml_add(fn, ns, "filename", f->filename, 3) == NULL ||
            hb_xml_add(fn, ns, "compression", f->compression, 3) == NULL ||
            hb_xml_add(fn, ns, "size", size, 3) == NULL ||
            (ck = hb_xml_add(fn, ns, "checksum", f->sha256, 3)) == NULL ||
            xmlNewProp(ck, BAD_CAST "algorithm", BAD_CAST "sha256") == NULL)
            return OOM("file");
        for (size_t k = 0; k < f->n_keys; k++) {
            xmlNodePtr wk = NULL;
            HB_TRY(add_b64(fn, ns, "wrapped-key", f->keys[k].data, f->keys[k].len, 3, &wk,
                           err));
            if (xmlNewProp(wk, BAD_CAST "recipient", BAD_CAST f->keys[k].recipient) == NULL)
                return OOM("wrapped-key");
        }
        if (!hb_xml_indent(fn, 2))
            return OOM("file");
    }
    if (m->n_files > 0 && !hb_xml_indent(files, 1))
        return OOM("files");

    xmlNodePtr excl = hb_xml_add(root, ns, "excluded", NULL, 1);
    if (excl == NULL)
        return OOM("excluded");
    for (size_t i = 0; i < m->n_excluded; i++) {
        xmlNodePtr it = hb_xml_add(excl, ns, "item", m->excluded[i].reason, 2);
        if (it == NULL || xmlNewProp(it, BAD_CAST "name", BAD_CAST m->excluded[i].name) == NULL)
            return OOM("item");
    }
    if (m->n_excluded > 0 && !hb_xml_indent(excl, 1))
        return OOM("excluded");
cleanup:
    return st;
}

hb_status hb_manifest_write_signed(const hb_manifest *m, X509 *signer_cert, hb_sign_fn sign,
                                   void *sign_ctx, uint8_t **xml, size_t *xml_len,
                                   hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    xmlChar *buf = NULL;
    int n = 0;

    *xml = NULL;
    *xml_len = 0;
    if (m == NULL || signer_cert == NULL || sign == NULL) {
        st = hb_fail(err, HB_E_USAGE, "writing a manifest needs a manifest, a signer "
                     "certificate and a signer");
        goto cleanup;
    }
    HB_TRY(check_complete(m, err));
    doc = xmlNewDoc(BAD_CAST "1.0");
    if (doc == NULL) {
        st = OOM("document");
        goto cleanup;
    }
    HB_TRY(build(m, doc, err));
    HB_TRY(hb_xmldsig_sign(doc, signer_cert, sign, sign_ctx, err));
    xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
    if (buf == NULL || n <= 0) {
        st = OOM("serializing");
        goto cleanup;
    }
    uint8_t *out = malloc((size_t)n + 1);
    if (out == NULL) {
        st = OOM("output");
        goto cleanup;
    }
    memcpy(out, buf, (size_t)n);
    out[n] = '\0';
    *xml = out;
    *xml_len = (size_t)n;
cleanup:
    xmlFree(buf);
    xmlFreeDoc(doc);
    return st;
}
