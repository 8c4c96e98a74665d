/* Read a signed manifest (DESIGN §4.3). Order matters:
 *   1. size cap, hardened parse (no DTD/entities/PIs/comments, no network);
 *   2. the signature: its place (last child of the root, the only one), its
 *      exact shape and algorithms, the digest, the signature value;
 *   3. the schema;
 *   4. only then the fields, from the same root element that was signed.
 * Trust in the signer is not decided here: the certificate is returned. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/ids.h"
#include "common/fail.h"
#include "common/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WHAT "manifest"

static hb_status bad(hb_err *err, const xmlNode *n, const char *fmt, const char *a,
                     const char *b)
{
    return hb_fail(err, HB_E_VERIFY, "manifest is invalid: line %d: %s%s%s",
                   n != NULL ? (int)xmlGetLineNo(n) : 0, fmt, a != NULL ? a : "",
                   b != NULL ? b : "");
}

static hb_status text_of(const xmlNode *parent, const char *name, bool required, char **out,
                         hb_err *err)
{
    return hb_xml_child_text(parent, HB_MANIFEST_NS, name, required, WHAT, out, err);
}

static hb_status read_recipient(const xmlNode *rn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_recipient r = {0};
    char *fp = NULL, *cert_b64 = NULL;
    X509 *cert = NULL;
    xmlChar *id = xmlGetNoNsProp(rn, BAD_CAST "id");

    if (id == NULL || !hb_manifest_rid_ok((const char *)id)) {
        st = bad(err, rn, "recipient id '", id != NULL ? (const char *)id : "", "' is invalid");
        goto cleanup;
    }
    if (hb_manifest_find_recipient(m, (const char *)id) != NULL ||
        hb_manifest_find_quorum(m, (const char *)id) != NULL) {
        st = bad(err, rn, "recipient id '", (const char *)id, "' is used twice");
        goto cleanup;
    }
    r.id = strdup((const char *)id);
    HB_TRY(text_of(rn, "subject", true, &r.subject, err));
    HB_TRY(text_of(rn, "fingerprint", true, &fp, err));
    HB_TRY(text_of(rn, "key-wrap", true, &r.key_wrap, err));
    HB_TRY(text_of(rn, "certificate", true, &cert_b64, err));
    if (r.id == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (!hb_hex_lower_ok(fp, 64) || !hb_manifest_key_wrap_ok(r.key_wrap)) {
        st = bad(err, rn, "recipient '", r.id, "' has a bad fingerprint or key-wrap");
        goto cleanup;
    }
    if (hb_base64_decode(cert_b64, &r.cert_der, &r.cert_der_len, err) != HB_OK) {
        st = bad(err, rn, "recipient '", r.id, "' certificate is not base64");
        goto cleanup;
    }
    const unsigned char *p = r.cert_der;
    cert = d2i_X509(NULL, &p, (long)r.cert_der_len);
    if (cert == NULL || p != r.cert_der + r.cert_der_len) {
        st = hb_fail_ossl(err, HB_E_VERIFY, "manifest is invalid: line %d: recipient '%s' "
                          "certificate is not a DER certificate", (int)xmlGetLineNo(rn), r.id);
        goto cleanup;
    }
    HB_TRY(hb_sha256_hex(r.cert_der, r.cert_der_len, r.fingerprint, err));
    if (strcmp(r.fingerprint, fp) != 0) {
        st = bad(err, rn, "recipient '", r.id, "' fingerprint does not match its certificate");
        goto cleanup;
    }
    hb_manifest_recipient *arr = realloc(m->recipients, (m->n_recipients + 1) * sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    m->recipients = arr;
    arr[m->n_recipients++] = r;
    memset(&r, 0, sizeof r);
cleanup:
    hb_manifest_recipient_clear(&r);
    X509_free(cert);
    free(fp);
    free(cert_b64);
    xmlFree(id);
    return st;
}

static hb_status read_file(const xmlNode *fn, hb_manifest *m, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_file f = {0};
    char *size = NULL, *sum = NULL, *b64 = NULL;
    xmlChar *rid = NULL;

    HB_TRY(text_of(fn, "name", true, &f.name, err));
    HB_TRY(text_of(fn, "filename", true, &f.filename, err));
    HB_TRY(text_of(fn, "compression", true, &f.compression, err));
    HB_TRY(text_of(fn, "size", true, &size, err));
    HB_TRY(text_of(fn, "checksum", true, &sum, err));
    if (!hb_name_ok(f.name)) {
        st = bad(err, fn, "file name '", f.name, "' is invalid");
        goto cleanup;
    }
    if (hb_manifest_find_file(m, f.name) != NULL) {
        st = bad(err, fn, "file '", f.name, "' is listed twice");
        goto cleanup;
    }
    if (!hb_manifest_filename_ok(f.name, f.filename, f.compression)) {
        st = bad(err, fn, "file '", f.name, "' has a file name that does not fit its "
                 "compression");
        goto cleanup;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(size, &end, 10);
    if (size[0] < '0' || size[0] > '9' || *end != '\0' || errno != 0) {
        st = bad(err, fn, "file '", f.name, "' has a bad size");
        goto cleanup;
    }
    f.size = (uint64_t)v;
    if (!hb_hex_lower_ok(sum, 64)) {
        st = bad(err, fn, "file '", f.name, "' has a bad checksum");
        goto cleanup;
    }
    memcpy(f.sha256, sum, 65);
    for (xmlNodePtr k = hb_xml_first_elem(fn); k != NULL; k = hb_xml_next_elem(k)) {
        if (!hb_xml_is(k, HB_MANIFEST_NS, "wrapped-key"))
            continue;
        xmlFree(rid);
        rid = xmlGetNoNsProp(k, BAD_CAST "recipient");
        if (rid == NULL || (hb_manifest_find_recipient(m, (const char *)rid) == NULL &&
                            hb_manifest_find_quorum(m, (const char *)rid) == NULL)) {
            st = bad(err, k, "wrapped key for unknown recipient '",
                     rid != NULL ? (const char *)rid : "", "'");
            goto cleanup;
        }
        if (hb_manifest_find_wrapped_key(&f, (const char *)rid) != NULL) {
            st = bad(err, k, "two wrapped keys for recipient '", (const char *)rid, "'");
            goto cleanup;
        }
        hb_manifest_wrapped_key *arr = realloc(f.keys, (f.n_keys + 1) * sizeof *arr);
        if (arr == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        f.keys = arr;
        hb_manifest_wrapped_key *wk = &arr[f.n_keys];
        memset(wk, 0, sizeof *wk);
        free(b64);
        b64 = hb_xml_text(k);
        wk->recipient = strdup((const char *)rid);
        f.n_keys++;
        if (b64 == NULL || wk->recipient == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        if (hb_base64_decode(b64, &wk->data, &wk->len, err) != HB_OK || wk->len == 0) {
            st = bad(err, k, "wrapped key of file '", f.name, "' is not base64");
            goto cleanup;
        }
        if (hb_manifest_find_quorum(m, wk->recipient) != NULL && wk->len != 40) {
            st = bad(err, k, "quorum key of file '", f.name, "' is not 40 bytes (RFC 5649)");
            goto cleanup;
        }
    }
    hb_manifest_file *arr = realloc(m->files, (m->n_files + 1) * sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    m->files = arr;
    arr[m->n_files++] = f;
    memset(&f, 0, sizeof f);
cleanup:
    hb_manifest_file_clear(&f);
    free(size);
    free(sum);
    free(b64);
    xmlFree(rid);
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
    if (backup == NULL || sys == NULL || recips == NULL || files == NULL) {
        st = bad(err, root, "a required section is missing", NULL, NULL);
        goto cleanup;
    }
    HB_TRY(text_of(backup, "id", true, &m->id, err));
    HB_TRY(text_of(backup, "created", true, &m->created, err));
    HB_TRY(text_of(backup, "tool", true, &m->tool, err));
    HB_TRY(text_of(sys, "version", true, &m->version, err));
    HB_TRY(text_of(sys, "profile", true, &m->profile, err));
    HB_TRY(text_of(sys, "build", false, &m->build, err));
    HB_TRY(text_of(sys, "machine-type", false, &m->machine_type, err));
    HB_TRY(text_of(sys, "serial", false, &m->serial, err));
    /* The schema states these rules too; checked again so the struct's
     * promises do not depend on a data file. */
    if (!hb_uuid_ok(m->id)) {
        st = bad(err, backup, "backup id '", m->id, "' is not a lowercase UUIDv4");
        goto cleanup;
    }
    if (!hb_rfc3339_ok(m->created)) {
        st = bad(err, backup, "backup time '", m->created, "' is not RFC 3339 UTC");
        goto cleanup;
    }
    if (!hb_manifest_version_ok(m->version) || !hb_name_ok(m->profile)) {
        st = bad(err, sys, "system version '", m->version, "' or profile is invalid");
        goto cleanup;
    }
    for (xmlNodePtr r = hb_xml_first_elem(recips); r != NULL; r = hb_xml_next_elem(r)) {
        if (hb_xml_is(r, HB_MANIFEST_NS, "quorum"))
            HB_TRY(hb_manifest_read_quorum(r, m, err));
        else
            HB_TRY(read_recipient(r, m, err));
    }
    if (m->n_recipients == 0 && m->n_quorums == 0) {
        st = bad(err, recips, "no recipients", NULL, NULL);
        goto cleanup;
    }
    for (xmlNodePtr f = hb_xml_first_elem(files); f != NULL; f = hb_xml_next_elem(f))
        HB_TRY(read_file(f, m, err));
    for (xmlNodePtr it = hb_xml_first_elem(excl); it != NULL; it = hb_xml_next_elem(it)) {
        xmlChar *name = xmlGetNoNsProp(it, BAD_CAST "name");
        char *reason = hb_xml_text(it);
        st = hb_manifest_add_excluded(m, (const char *)name, reason, err);
        xmlFree(name);
        free(reason);
        if (st != HB_OK) {
            hb_err_prefix(err, "manifest is invalid: line %d", (int)xmlGetLineNo(it));
            st = HB_E_VERIFY;
            if (err != NULL)
                err->status = st;
            goto cleanup;
        }
    }
cleanup:
    return st;
}

hb_status hb_manifest_read(const uint8_t *xml, size_t len, const hb_manifest_read_opts *opts,
                           hb_manifest **out, X509 **signer_cert, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    X509 *signer = NULL;
    hb_manifest *m = NULL;
    size_t cap = (opts != NULL && opts->max_size != 0) ? opts->max_size
                                                       : HB_MANIFEST_DEFAULT_CAP;
    *out = NULL;
    if (signer_cert != NULL)
        *signer_cert = NULL;

    /* Comments are refused: exc-C14N drops them, so they would be unsigned. */
    HB_TRY(hb_xml_parse(xml, len, cap, HB_XML_NO_COMMENTS, NULL, WHAT, &doc, err));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!hb_xml_is(root, HB_MANIFEST_NS, "backupmanifest")) {
        st = hb_fail(err, HB_E_VERIFY, "this is not a backup manifest: the root element is "
                     "<%s>, expected <backupmanifest xmlns=\"%s\">", (const char *)root->name,
                     HB_MANIFEST_NS);
        goto cleanup;
    }
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
