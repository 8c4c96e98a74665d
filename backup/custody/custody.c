/* The custody store: ROOT/config/custody.xml (schema/custody.xsd).
 *
 *   <custody xmlns="urn:hsmbak:custody:1" format="1">
 *     <enrollment name="alice" state="active|pending|retired">
 *       <subject/> <fingerprint/>? <token label="" serial=""/> <key-uri/>
 *       <key-wrap/> <custodian/>+ <enrolled/> <not-after/>? <retired/>?
 *       <public-key>B64 SPKI</public-key> <certificate>B64 DER</certificate>?
 *     </enrollment>
 *     <quorum name="vault" threshold="2" state="active|retired">
 *       <created/> <member fingerprint=""/>+
 *     </quorum>
 *   </custody>
 *
 * Part of the `config` resource, so backups carry it. Ceremonies (ceremony.c)
 * change it; backup (recipients.c) reads it. */
#include "hsmbak/custody.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/store_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/buf.h"
#include "common/fail.h"
#include "provider/token.h"

#include <errno.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUSTODY_NS "urn:hsmbak:custody:1"
#define CUSTODY_CAP ((size_t)8 << 20)

static const char *const state_names[] = {"pending", "active", "retired"};

const char *hb_enrollment_state_name(hb_enrollment_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "unknown";
}

void hb_enrollment_clear(hb_enrollment *e)
{
    free(e->subject);
    free(e->key_uri);
    for (size_t i = 0; i < e->n_custodians; i++)
        free(e->custodians[i]);
    free(e->custodians);
    free(e->cert_der);
    free(e->spki_der);
    memset(e, 0, sizeof *e);
}

void hb_custody_free(hb_custody *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        hb_enrollment_clear(&c->enrollments[i]);
    free(c->enrollments);
    for (size_t i = 0; i < c->n_groups; i++)
        free(c->groups[i].members);
    free(c->groups);
    free(c);
}

size_t hb_custody_n_enrollments(const hb_custody *c) { return c->n; }
const hb_enrollment *hb_custody_enrollment_at(const hb_custody *c, size_t i)
{
    return i < c->n ? &c->enrollments[i] : NULL;
}
size_t hb_custody_n_groups(const hb_custody *c) { return c->n_groups; }
const hb_quorum_group *hb_custody_group_at(const hb_custody *c, size_t i)
{
    return i < c->n_groups ? &c->groups[i] : NULL;
}

static bool is_hex(const char *s)
{
    for (; *s; s++)
        if (strchr("0123456789abcdefABCDEF", *s) == NULL)
            return false;
    return true;
}

const hb_enrollment *hb_custody_find(const hb_custody *c, const char *key)
{
    const hb_enrollment *found = NULL;
    if (c == NULL || key == NULL || *key == '\0')
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->enrollments[i].name, key) == 0)
            return &c->enrollments[i];
    size_t n = strlen(key);
    if (n < 8 || n > 64 || !is_hex(key))
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const char *fp = c->enrollments[i].fingerprint;
        if (fp[0] != '\0' && strncasecmp(fp, key, n) == 0) {
            if (found != NULL)
                return NULL; /* ambiguous prefix */
            found = &c->enrollments[i];
        }
    }
    return found;
}

const hb_quorum_group *hb_custody_find_group(const hb_custody *c, const char *name)
{
    for (size_t i = 0; c != NULL && name != NULL && i < c->n_groups; i++)
        if (strcmp(c->groups[i].name, name) == 0)
            return &c->groups[i];
    return NULL;
}

hb_status hb_enrollment_cert(const hb_enrollment *e, X509 **out, hb_err *err)
{
    const unsigned char *p = e->cert_der;
    X509 *cert = e->cert_der ? d2i_X509(NULL, &p, (long)e->cert_der_len) : NULL;
    if (cert == NULL)
        return hb_fail_ossl(err, HB_E_VERIFY, "enrollment '%s' has no readable certificate",
                            e->name);
    *out = cert;
    return HB_OK;
}

hb_status hb_enrollment_expiry_warning(const hb_enrollment *e, time_t now, hb_strlist *out,
                                       hb_err *err)
{
    X509 *cert = NULL;
    hb_err ignored;
    hb_status st = HB_OK;
    if (e->state != HB_ENROLL_ACTIVE || hb_enrollment_cert(e, &cert, &ignored) != HB_OK)
        return HB_OK;
    time_t limit = now + (time_t)HB_CUSTODY_WARN_DAYS * 86400;
    if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
        st = hb_strlist_addf(out, err, "warning: the certificate of enrolled recipient '%s' "
                             "(SHA-256 %.16s...) expired on %s; enroll a new recipient and "
                             "retire this one", e->name, e->fingerprint, e->not_after);
    else if (X509_cmp_time(X509_get0_notAfter(cert), &limit) <= 0)
        st = hb_strlist_addf(out, err, "warning: the certificate of enrolled recipient '%s' "
                             "(SHA-256 %.16s...) expires on %s, within %d days; enroll its "
                             "successor soon", e->name, e->fingerprint, e->not_after,
                             HB_CUSTODY_WARN_DAYS);
    X509_free(cert);
    return st;
}

hb_status hb_custody_expiry_warnings(const hb_custody *c, time_t now, hb_strlist *out,
                                     hb_err *err)
{
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        hb_status st = hb_enrollment_expiry_warning(&c->enrollments[i], now, out, err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}

/* ---- reading ---- */

static hb_status bad(const hb_custody *c, const char *what, const char *name, hb_err *err)
{
    return hb_fail(err, HB_E_VERIFY, "%s: %s '%s' is malformed; restore the file from a backup "
                   "or fix it by hand", c->path, what, name != NULL ? name : "");
}

static hb_status copy_text(const char *s, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", s != NULL ? s : "");
    return n < 0 || (size_t)n >= cap ? HB_E_VERIFY : HB_OK;
}

static hb_status read_enrollment(hb_custody *c, xmlNodePtr node, hb_err *err)
{
    hb_status st = HB_OK;
    hb_enrollment e = {0};
    xmlChar *name = xmlGetNoNsProp(node, BAD_CAST "name");
    xmlChar *state = xmlGetNoNsProp(node, BAD_CAST "state");
    char *fp = NULL, *wrap = NULL, *t = NULL, *b64 = NULL;

    if (name == NULL || copy_text((const char *)name, e.name, sizeof e.name) != HB_OK ||
        state == NULL) {
        st = bad(c, "an enrollment", (const char *)name, err);
        goto cleanup;
    }
    for (unsigned i = 0; i < 3; i++)
        if (strcmp((const char *)state, state_names[i]) == 0)
            e.state = (hb_enrollment_state)i;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "subject", true, c->path, &e.subject, err));
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "fingerprint", false, c->path, &fp, err));
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "key-uri", true, c->path, &e.key_uri, err));
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "key-wrap", true, c->path, &wrap, err));
    HB_TRY(hb_oaep_hash_from_name(wrap, &e.key_wrap, err));
    xmlNodePtr tok = hb_xml_child(node, CUSTODY_NS, "token");
    xmlChar *label = tok ? xmlGetNoNsProp(tok, BAD_CAST "label") : NULL;
    xmlChar *serial = tok ? xmlGetNoNsProp(tok, BAD_CAST "serial") : NULL;
    bool tok_ok = copy_text((const char *)label, e.token_label, sizeof e.token_label) == HB_OK &&
                  copy_text((const char *)serial, e.token_serial, sizeof e.token_serial) == HB_OK;
    xmlFree(label);
    xmlFree(serial);
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "enrolled", true, c->path, &t, err));
    bool times_ok = tok_ok && copy_text(t, e.enrolled, sizeof e.enrolled) == HB_OK;
    free(t);
    t = NULL;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "not-after", false, c->path, &t, err));
    times_ok = times_ok && copy_text(t, e.not_after, sizeof e.not_after) == HB_OK;
    free(t);
    t = NULL;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "retired", false, c->path, &t, err));
    times_ok = times_ok && copy_text(t, e.retired, sizeof e.retired) == HB_OK;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "public-key", true, c->path, &b64, err));
    if (!times_ok || hb_base64_decode(b64, &e.spki_der, &e.spki_der_len, err) != HB_OK) {
        st = bad(c, "enrollment", e.name, err);
        goto cleanup;
    }
    free(b64);
    b64 = NULL;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "certificate", false, c->path, &b64, err));
    if (b64 != NULL) {
        if (hb_base64_decode(b64, &e.cert_der, &e.cert_der_len, err) != HB_OK ||
            hb_sha256_hex(e.cert_der, e.cert_der_len, e.fingerprint, err) != HB_OK ||
            fp == NULL || strcmp(fp, e.fingerprint) != 0) {
            st = bad(c, "enrollment (certificate and fingerprint disagree)", e.name, err);
            goto cleanup;
        }
    } else if (e.state != HB_ENROLL_PENDING) {
        st = bad(c, "enrollment (no certificate)", e.name, err);
        goto cleanup;
    }
    for (xmlNodePtr k = hb_xml_first_elem(node); k != NULL; k = hb_xml_next_elem(k)) {
        if (!hb_xml_is(k, CUSTODY_NS, "custodian"))
            continue;
        char **custodian;
        HB_PUSH(custodian, e.custodians, e.n_custodians, HB_CUSTODY_MAX_CUSTODIANS);
        *custodian = hb_xml_text(k);
        HB_ALLOC(*custodian);
    }
    if (hb_custody_find(c, e.name) != NULL) {
        st = bad(c, "enrollment (defined twice)", e.name, err);
        goto cleanup;
    }
    HB_TRY(hb_custody_add_enrollment(c, &e, err));
cleanup:
    hb_enrollment_clear(&e);
    xmlFree(name);
    xmlFree(state);
    free(fp);
    free(wrap);
    free(t);
    free(b64);
    return st;
}

static hb_status read_group(hb_custody *c, xmlNodePtr node, hb_err *err)
{
    hb_status st = HB_OK;
    hb_quorum_group g = {0};
    xmlChar *name = xmlGetNoNsProp(node, BAD_CAST "name");
    xmlChar *thr = xmlGetNoNsProp(node, BAD_CAST "threshold");
    xmlChar *state = xmlGetNoNsProp(node, BAD_CAST "state");
    char *created = NULL;
    char *end = NULL;
    unsigned long k = thr ? strtoul((const char *)thr, &end, 10) : 0;
    if (name == NULL || copy_text((const char *)name, g.name, sizeof g.name) != HB_OK ||
        thr == NULL || *end != '\0' || k < 2 || k > 255 || state == NULL ||
        hb_custody_find_group(c, g.name) != NULL) {
        st = bad(c, "quorum group", (const char *)name, err);
        goto cleanup;
    }
    g.threshold = (unsigned)k;
    g.retired = strcmp((const char *)state, "retired") == 0;
    HB_TRY(hb_xml_child_text(node, CUSTODY_NS, "created", true, c->path, &created, err));
    if (copy_text(created, g.created, sizeof g.created) != HB_OK) {
        st = bad(c, "quorum group", g.name, err);
        goto cleanup;
    }
    for (xmlNodePtr m = hb_xml_first_elem(node); m != NULL; m = hb_xml_next_elem(m)) {
        if (!hb_xml_is(m, CUSTODY_NS, "member"))
            continue;
        xmlChar *fp = xmlGetNoNsProp(m, BAD_CAST "fingerprint");
        bool ok = fp != NULL && strlen((const char *)fp) == 64;
        if (ok)
            st = hb_quorum_group_add_member(&g, (const char *)fp, err);
        xmlFree(fp);
        if (!ok) {
            st = bad(c, "quorum group", g.name, err);
            goto cleanup;
        }
        if (st != HB_OK)
            goto cleanup;
    }
    if (g.n_members < g.threshold) {
        st = bad(c, "quorum group (fewer members than its threshold)", g.name, err);
        goto cleanup;
    }
    HB_TRY(hb_custody_add_group(c, &g, err));
cleanup:
    free(g.members);
    free(created);
    xmlFree(name);
    xmlFree(thr);
    xmlFree(state);
    return st;
}

hb_status hb_custody_load(const char *root, hb_custody **out, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL; /* stays NULL for a store not written yet: an empty one */
    hb_custody *c = calloc(1, sizeof *c);
    HB_ALLOC(c);
    HB_TRY(hb_store_load(root, "config/custody.xml", CUSTODY_CAP, "schema/custody.xsd", c->path,
                         &doc, err));
    for (xmlNodePtr n = hb_xml_first_elem(xmlDocGetRootElement(doc)); n != NULL;
         n = hb_xml_next_elem(n)) {
        if (hb_xml_is(n, CUSTODY_NS, "enrollment"))
            HB_TRY(read_enrollment(c, n, err));
        else if (hb_xml_is(n, CUSTODY_NS, "quorum"))
            HB_TRY(read_group(c, n, err));
    }
    *out = c;
    c = NULL;
cleanup:
    xmlFreeDoc(doc);
    hb_custody_free(c);
    return st;
}

/* ---- writing ---- */

static bool add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name, const uint8_t *data,
                    size_t len)
{
    char *b64 = NULL;
    hb_err ignored;
    if (hb_base64_encode(data, len, &b64, &ignored) != HB_OK)
        return false;
    bool ok = hb_xml_add(parent, ns, name, b64, 2) != NULL;
    free(b64);
    return ok;
}

static bool write_enrollment(xmlNodePtr root, xmlNsPtr ns, const hb_enrollment *e)
{
    xmlNodePtr n = hb_xml_add(root, ns, "enrollment", NULL, 1), tok = NULL;
    bool ok = n != NULL && xmlNewProp(n, BAD_CAST "name", BAD_CAST e->name) != NULL &&
              xmlNewProp(n, BAD_CAST "state", BAD_CAST hb_enrollment_state_name(e->state)) &&
              hb_xml_add(n, ns, "subject", e->subject, 2) != NULL &&
              (e->fingerprint[0] == '\0' ||
               hb_xml_add(n, ns, "fingerprint", e->fingerprint, 2) != NULL) &&
              (tok = hb_xml_add(n, ns, "token", NULL, 2)) != NULL &&
              xmlNewProp(tok, BAD_CAST "label", BAD_CAST e->token_label) != NULL &&
              xmlNewProp(tok, BAD_CAST "serial", BAD_CAST e->token_serial) != NULL &&
              hb_xml_add(n, ns, "key-uri", e->key_uri, 2) != NULL &&
              hb_xml_add(n, ns, "key-wrap", hb_oaep_hash_name(e->key_wrap), 2) != NULL;
    for (size_t i = 0; ok && i < e->n_custodians; i++)
        ok = hb_xml_add(n, ns, "custodian", e->custodians[i], 2) != NULL;
    ok = ok && hb_xml_add(n, ns, "enrolled", e->enrolled, 2) != NULL &&
         (e->not_after[0] == '\0' || hb_xml_add(n, ns, "not-after", e->not_after, 2) != NULL) &&
         (e->retired[0] == '\0' || hb_xml_add(n, ns, "retired", e->retired, 2) != NULL) &&
         add_b64(n, ns, "public-key", e->spki_der, e->spki_der_len) &&
         (e->cert_der == NULL || add_b64(n, ns, "certificate", e->cert_der, e->cert_der_len)) &&
         hb_xml_indent(n, 1);
    return ok;
}

static bool write_group(xmlNodePtr root, xmlNsPtr ns, const hb_quorum_group *g)
{
    char k[16];
    xmlNodePtr n = hb_xml_add(root, ns, "quorum", NULL, 1);
    bool ok = n != NULL &&
              hb_format(k, sizeof k, "a threshold", NULL, "%u", g->threshold) == HB_OK &&
              xmlNewProp(n, BAD_CAST "name", BAD_CAST g->name) != NULL &&
              xmlNewProp(n, BAD_CAST "threshold", BAD_CAST k) != NULL &&
              xmlNewProp(n, BAD_CAST "state", BAD_CAST(g->retired ? "retired" : "active")) &&
              hb_xml_add(n, ns, "created", g->created, 2) != NULL;
    for (size_t i = 0; ok && i < g->n_members; i++) {
        xmlNodePtr m = hb_xml_add(n, ns, "member", NULL, 2);
        ok = m != NULL && xmlNewProp(m, BAD_CAST "fingerprint", BAD_CAST g->members[i]) != NULL;
    }
    return ok && hb_xml_indent(n, 1);
}

hb_status hb_custody_save(const hb_custody *c, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr root = NULL;
    xmlNsPtr ns = NULL;
    HB_TRY(hb_xml_new_doc("custody", CUSTODY_NS, &doc, &root, &ns, err));
    bool ok = xmlNewProp(root, BAD_CAST "format", BAD_CAST "1") != NULL;
    for (size_t i = 0; ok && i < c->n; i++)
        ok = write_enrollment(root, ns, &c->enrollments[i]);
    for (size_t i = 0; ok && i < c->n_groups; i++)
        ok = write_group(root, ns, &c->groups[i]);
    HB_ENSURE(ok && hb_xml_indent(root, 0), HB_E_INTERNAL,
              "out of memory writing the custody store");
    HB_TRY(hb_custody_write_doc(doc, "custody store", c->path, err));
cleanup:
    xmlFreeDoc(doc);
    return st;
}

hb_status hb_custody_write_doc(xmlDocPtr doc, const char *what, const char *path, hb_err *err)
{
    uint8_t *out = NULL;
    size_t len = 0;
    /* Indented by hand (hb_xml_add), so serialised as it is. */
    hb_status st = hb_xml_serialize(doc, false, what, &out, &len, err);
    if (st == HB_OK)
        st = hb_write_file_atomic(path, out, len, 0600, err);
    free(out);
    return st;
}

/* Move *item (elem bytes) to the end of the array *arr of *n, zeroing it. */
static hb_status push_take(void *arr, size_t *n, size_t elem, void *item, hb_err *err)
{
    void *slot = hb_array_push(arr, n, elem, HB_CUSTODY_MAX_RECORDS, err);
    if (slot == NULL)
        return err != NULL ? err->status : HB_E_INTERNAL;
    memcpy(slot, item, elem);
    memset(item, 0, elem);
    return HB_OK;
}

hb_status hb_custody_add_enrollment(hb_custody *c, hb_enrollment *e, hb_err *err)
{
    return push_take(&c->enrollments, &c->n, sizeof *e, e, err);
}

hb_status hb_custody_add_group(hb_custody *c, hb_quorum_group *g, hb_err *err)
{
    return push_take(&c->groups, &c->n_groups, sizeof *g, g, err);
}

hb_status hb_quorum_group_add_member(hb_quorum_group *g, const char *fingerprint, hb_err *err)
{
    hb_status st = HB_OK;
    char(*slot)[65];
    HB_ENSURE(strlen(fingerprint) == 64, HB_E_VERIFY, "'%s' is not a SHA-256 fingerprint",
              fingerprint);
    HB_PUSH(slot, g->members, g->n_members, HB_QUORUM_MAX_MEMBERS);
    memcpy(*slot, fingerprint, 65);
cleanup:
    return st;
}
