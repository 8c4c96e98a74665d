/* The crypto object store: ROOT/config/crypto.xml.
 *
 *   <crypto xmlns="urn:hsmbak:crypto:1">
 *     <certificate name="c" admin-state="enabled" ignore-expiration="off"
 *                  trusted-signer="off"><file-name>cert:///c.pem</file-name></certificate>
 *     <key name="k" admin-state="enabled"><uri>pkcs11:...;type=private</uri></key>
 *     <idcred name="i" admin-state="enabled"><key>k</key><certificate>c</certificate></idcred>
 *     <backup-signer idcred="i"/>
 *   </crypto>
 *
 * The file is part of the `config` resource, so every backup carries the
 * object definitions (never a key: keys stay on their token). Changes made
 * for a user go through objects_edit.c, under the system's lock. */
#include "backup/custody/objects.h"

#include "backup/custody/store_internal.h"

#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"
#include "common/x509.h"
#include "hsmbak/url.h"
#include "provider/token.h"

#include <ctype.h>
#include <limits.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#define CRYPTO_NS "urn:hsmbak:crypto:1"
#define STORE_CAP (4u << 20)
#define OBJECTS_MAX 10000u

struct hb_object_store {
    char root[PATH_MAX];
    char path[PATH_MAX];
    hb_crypto_object *objects; /* built by HB_ARRAY_PUSH alone */
    size_t n;
    char backup_signer[HB_OBJECT_NAME_MAX + 1];
};

static const char *const type_names[] = {"certificate", "key", "idcred"};

const char *hb_object_type_name(hb_object_type t)
{
    return (unsigned)t < 3 ? type_names[t] : "object";
}

hb_status hb_object_type_from_name(const char *name, hb_object_type *out, hb_err *err)
{
    for (unsigned i = 0; i < 3; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (hb_object_type)i;
            return HB_OK;
        }
    return hb_fail(err, HB_E_USAGE, "unknown object type '%s' (certificate, key or idcred)",
                   name);
}

static void object_clear(hb_crypto_object *o)
{
    free(o->file_name);
    free(o->uri);
    memset(o, 0, sizeof *o);
}

void hb_objects_free(hb_object_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        object_clear(&s->objects[i]);
    free(s->objects);
    free(s);
}

size_t hb_objects_count(const hb_object_store *s) { return s->n; }

const hb_crypto_object *hb_objects_at(const hb_object_store *s, size_t i)
{
    return i < s->n ? &s->objects[i] : NULL;
}

const hb_crypto_object *hb_objects_find(const hb_object_store *s, hb_object_type t,
                                        const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->objects[i].type == t && strcmp(s->objects[i].name, name) == 0)
            return &s->objects[i];
    return NULL;
}

static hb_crypto_object *find_mutable(hb_object_store *s, hb_object_type t, const char *name)
{
    return (hb_crypto_object *)hb_objects_find(s, t, name);
}

const char *hb_objects_backup_signer(const hb_object_store *s)
{
    return s->backup_signer[0] ? s->backup_signer : NULL;
}

static hb_status check_name(const char *what, const char *name, hb_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > HB_OBJECT_NAME_MAX)
        return hb_fail(err, HB_E_USAGE, "%s name must be 1 to %d characters", what,
                       HB_OBJECT_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return hb_fail(err, HB_E_USAGE,
                           "%s name '%s' may only use letters, digits, '-', '_' and '.'",
                           what, name);
    }
    return HB_OK;
}

/* name fits a name field (checked with check_name, or a name the store holds). */
static void set_name(char dst[HB_OBJECT_NAME_MAX + 1], const char *name)
{
    size_t n = strlen(name);
    memcpy(dst, name, n <= HB_OBJECT_NAME_MAX ? n + 1 : 0);
    dst[HB_OBJECT_NAME_MAX] = '\0';
}

/* A new zeroed object at the end of the store. */
static hb_status push_object(hb_object_store *s, hb_crypto_object **out, hb_err *err)
{
    *out = HB_ARRAY_PUSH(s->objects, s->n, OBJECTS_MAX, err);
    return *out != NULL ? HB_OK : err != NULL ? err->status : HB_E_INTERNAL;
}

/* The object called name of type t, or a new one appended (zeroed but for
 * type, name and admin-state enabled); *created tells which. */
static hb_status find_or_add(hb_object_store *s, hb_object_type t, const char *name,
                             hb_crypto_object **out, bool *created, hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, t, name);
    *created = o == NULL;
    if (o == NULL) {
        hb_status st = push_object(s, &o, err);
        if (st != HB_OK)
            return st;
        o->type = t;
        o->enabled = true;
        set_name(o->name, name);
    }
    *out = o;
    return HB_OK;
}

static bool is_pkcs11_uri(const char *s) { return strncmp(s, "pkcs11:", 7) == 0; }

/* ---- reading ------------------------------------------------------------- */

static bool on_off(const char *v) { return v != NULL && strcmp(v, "on") == 0; }

/* An attribute's value, malloc'ed; NULL when absent (the schema says which
 * ones must be there). */
static char *prop(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetProp(node, BAD_CAST name);
    char *copy = v != NULL ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return copy;
}

/* A name held in a child element (an idcred's key and certificate). */
static hb_status read_name_field(const hb_object_store *s, xmlNodePtr node, const char *field,
                                 const hb_crypto_object *o, char out[HB_OBJECT_NAME_MAX + 1],
                                 hb_err *err)
{
    char *text = NULL;
    hb_status st = hb_xml_child_text(node, CRYPTO_NS, field, true, s->path, &text, err);
    if (st == HB_OK && strlen(text) > HB_OBJECT_NAME_MAX)
        st = hb_fail(err, HB_E_VERIFY, "%s: unexpected <%s> in %s '%s'", s->path, field,
                     hb_object_type_name(o->type), o->name);
    if (st == HB_OK)
        set_name(out, text);
    free(text);
    return st;
}

/* Hash names in a probe attribute ("rsa-oaep-sha1 rsa-oaep-sha256",
 * "none", ...) as bits, each 1u << hash shifted by shift. */
static unsigned probe_bits(const char *probed, unsigned shift)
{
    unsigned bits = 0;
    static const hb_oaep_hash all[] = {HB_OAEP_SHA1, HB_OAEP_SHA256};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strstr(probed, hb_oaep_hash_name(all[i])) != NULL)
            bits |= 1u << (all[i] + shift);
    return bits;
}

/* key-wraps-probed="rsa-oaep-sha1 rsa-oaep-sha256" | "none", the hashes of
 * those that took a label too (oaep-labels-probed, absent in stores made
 * before labels: none) and the fingerprint of the certificate probed (the
 * schema has checked them). */
static hb_status read_probe(const hb_object_store *s, hb_crypto_object *o, const char *probed,
                            const char *labels, const char *fp, hb_err *err)
{
    unsigned bits = probe_bits(probed, 0);
    unsigned lbits = labels != NULL ? probe_bits(labels, 4) : 0;
    if (strlen(fp) != 64 || (bits == 0 && strcmp(probed, "none") != 0) ||
        (lbits >> 4 & ~bits) != 0)
        return hb_fail(err, HB_E_VERIFY, "%s: certificate '%s' has an unreadable key-wrap "
                       "probe ('%s', labels '%s')", s->path, o->name, probed,
                       labels != NULL ? labels : "");
    memcpy(o->probed_fingerprint, fp, 65);
    o->key_wraps_accepted = bits | lbits;
    return HB_OK;
}

/* The fields of one object below its element (the schema has checked the
 * shape: which children, in which order). */
static hb_status read_fields(const hb_object_store *s, xmlNodePtr node, hb_crypto_object *o,
                             hb_err *err)
{
    hb_status st = HB_OK;
    char *wrap = NULL, *ign = NULL, *trusted = NULL, *probed = NULL, *probed_fp = NULL;
    char *labels = NULL;
    switch (o->type) {
    case HB_OBJECT_CERTIFICATE:
        HB_TRY(hb_xml_child_text(node, CRYPTO_NS, "file-name", true, s->path, &o->file_name,
                                 err));
        ign = prop(node, "ignore-expiration");
        trusted = prop(node, "trusted-signer");
        wrap = prop(node, "key-wrap");
        o->ignore_expiration = on_off(ign);
        o->trusted_signer = on_off(trusted);
        o->key_wrap = HB_OAEP_SHA256;
        if (wrap != NULL)
            HB_TRY(hb_oaep_hash_from_name(wrap, &o->key_wrap, err));
        probed = prop(node, "key-wraps-probed");
        probed_fp = prop(node, "probed-fingerprint");
        labels = prop(node, "oaep-labels-probed");
        if (probed != NULL && probed_fp != NULL)
            HB_TRY(read_probe(s, o, probed, labels, probed_fp, err));
        break;
    case HB_OBJECT_KEY:
        HB_TRY(hb_xml_child_text(node, CRYPTO_NS, "uri", true, s->path, &o->uri, err));
        /* The schema bounds both below their fields. */
        probed = prop(node, "mechanisms");
        probed_fp = prop(node, "allowed-mechanisms");
        if (probed != NULL && strlen(probed) < sizeof o->mechanisms)
            memcpy(o->mechanisms, probed, strlen(probed) + 1);
        if (probed_fp != NULL && strlen(probed_fp) < sizeof o->allowed_mechanisms)
            memcpy(o->allowed_mechanisms, probed_fp, strlen(probed_fp) + 1);
        break;
    case HB_OBJECT_IDCRED:
        HB_TRY(read_name_field(s, node, "key", o, o->key, err));
        HB_TRY(read_name_field(s, node, "certificate", o, o->certificate, err));
        break;
    }
cleanup:
    free(wrap);
    free(ign);
    free(trusted);
    free(probed);
    free(probed_fp);
    free(labels);
    return st;
}

static hb_status read_object(hb_object_store *s, xmlNodePtr node, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_type type = HB_OBJECT_CERTIFICATE;
    char *name = NULL, *state = NULL;
    hb_crypto_object o = {0};

    HB_TRY(hb_object_type_from_name((const char *)node->name, &type, err));
    name = prop(node, "name");
    state = prop(node, "admin-state");
    HB_ENSURE(name != NULL && check_name("object", name, err) == HB_OK, HB_E_VERIFY,
              "%s: a %s has a missing or bad name", s->path, hb_object_type_name(type));
    HB_ENSURE(hb_objects_find(s, type, name) == NULL, HB_E_VERIFY,
              "%s: %s '%s' is defined twice", s->path, hb_object_type_name(type), name);
    o.type = type;
    set_name(o.name, name);
    o.enabled = state == NULL || strcmp(state, "disabled") != 0;
    HB_TRY(read_fields(s, node, &o, err));
    hb_crypto_object *slot = NULL;
    HB_TRY(push_object(s, &slot, err));
    *slot = o;
    memset(&o, 0, sizeof o);
cleanup:
    object_clear(&o);
    free(name);
    free(state);
    return st;
}

/* The store's objects and backup signer (none when doc is NULL). */
static hb_status read_store(hb_object_store *s, xmlDocPtr doc, hb_err *err)
{
    hb_status st = HB_OK;
    char *signer = NULL;
    for (xmlNodePtr c = hb_xml_first_elem(xmlDocGetRootElement(doc)); c != NULL;
         c = hb_xml_next_elem(c)) {
        if (strcmp((const char *)c->name, "backup-signer") != 0) {
            HB_TRY(read_object(s, c, err));
            continue;
        }
        free(signer);
        signer = prop(c, "idcred");
        if (signer != NULL && signer[0] != '\0' && strlen(signer) <= HB_OBJECT_NAME_MAX)
            set_name(s->backup_signer, signer);
    }
cleanup:
    free(signer);
    return st;
}

hb_status hb_objects_load(const char *root, hb_object_store **out, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    hb_object_store *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    HB_TRY(hb_store_load(root, "config/crypto.xml", STORE_CAP, "schema/crypto.xsd", s->path,
                         &doc, err));
    HB_TRY(hb_format(s->root, sizeof s->root, "the system root path", err, "%s", root));
    HB_TRY(read_store(s, doc, err));
    *out = s;
    s = NULL;
cleanup:
    xmlFreeDoc(doc);
    hb_objects_free(s);
    return st;
}

/* ---- writing ------------------------------------------------------------- */

static hb_status set_prop(xmlNodePtr node, const char *name, const char *value, hb_err *err)
{
    return xmlNewProp(node, BAD_CAST name, BAD_CAST value) != NULL ? HB_OK : hb_fail_oom(err);
}

static hb_status add_text_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
                                const char *text, hb_err *err)
{
    /* xmlNewTextChild escapes the text; xmlNewChild would not. */
    if (xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST text) == NULL)
        return hb_fail_oom(err);
    return HB_OK;
}

/* The hashes whose bit (1u << (hash + shift)) is set, as probe_bits reads
 * them; "none" for none. */
static hb_status probe_names(unsigned accepted, unsigned shift, char out[40], hb_err *err)
{
    bool sha1 = accepted & (1u << (HB_OAEP_SHA1 + shift));
    bool sha256 = accepted & (1u << (HB_OAEP_SHA256 + shift));
    return hb_format(out, 40, "key-wraps", err, "%s%s%s", sha1 ? "rsa-oaep-sha1" : "",
                     sha1 && sha256 ? " " : "",
                     sha256 ? "rsa-oaep-sha256" : !sha1 ? "none" : "");
}

static hb_status write_object(xmlNodePtr root, xmlNsPtr ns, const hb_crypto_object *o,
                              hb_err *err)
{
    hb_status st = HB_OK;
    xmlNodePtr node = xmlNewChild(root, ns, BAD_CAST hb_object_type_name(o->type), NULL);
    HB_ALLOC(node);
    HB_TRY(set_prop(node, "name", o->name, err));
    HB_TRY(set_prop(node, "admin-state", o->enabled ? "enabled" : "disabled", err));
    switch (o->type) {
    case HB_OBJECT_CERTIFICATE:
        HB_TRY(set_prop(node, "ignore-expiration", o->ignore_expiration ? "on" : "off", err));
        HB_TRY(set_prop(node, "trusted-signer", o->trusted_signer ? "on" : "off", err));
        HB_TRY(set_prop(node, "key-wrap", hb_oaep_hash_name(o->key_wrap), err));
        if (o->probed_fingerprint[0] != '\0') {
            char probed[40], labels[40];
            HB_TRY(probe_names(o->key_wraps_accepted, 0, probed, err));
            HB_TRY(probe_names(o->key_wraps_accepted, 4, labels, err));
            HB_TRY(set_prop(node, "key-wraps-probed", probed, err));
            HB_TRY(set_prop(node, "oaep-labels-probed", labels, err));
            HB_TRY(set_prop(node, "probed-fingerprint", o->probed_fingerprint, err));
        }
        HB_TRY(add_text_child(node, ns, "file-name", o->file_name, err));
        break;
    case HB_OBJECT_KEY:
        if (o->mechanisms[0] != '\0')
            HB_TRY(set_prop(node, "mechanisms", o->mechanisms, err));
        if (o->allowed_mechanisms[0] != '\0')
            HB_TRY(set_prop(node, "allowed-mechanisms", o->allowed_mechanisms, err));
        HB_TRY(add_text_child(node, ns, "uri", o->uri, err));
        break;
    case HB_OBJECT_IDCRED:
        HB_TRY(add_text_child(node, ns, "key", o->key, err));
        HB_TRY(add_text_child(node, ns, "certificate", o->certificate, err));
        break;
    }
cleanup:
    return st;
}

hb_status hb_objects_save(const hb_object_store *s, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr root = NULL;
    xmlNsPtr ns = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    HB_TRY(hb_xml_new_doc("crypto", CRYPTO_NS, &doc, &root, &ns, err));
    for (size_t i = 0; i < s->n; i++)
        HB_TRY(write_object(root, ns, &s->objects[i], err));
    if (s->backup_signer[0]) {
        xmlNodePtr bs = xmlNewChild(root, ns, BAD_CAST "backup-signer", NULL);
        HB_ALLOC(bs);
        HB_TRY(set_prop(bs, "idcred", s->backup_signer, err));
    }
    /* Indented by libxml2: people read and diff this file. */
    HB_TRY(hb_xml_serialize(doc, true, "crypto object store", &text, &len, err));
    HB_TRY(hb_write_file_atomic(s->path, text, len, 0600, err));
cleanup:
    free(text);
    xmlFreeDoc(doc);
    return st;
}

/* ---- defining objects ------------------------------------------------------ */

hb_status hb_objects_read_certificate_url(const char *root, const char *url, X509 **out,
                                          hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX], what[PATH_MAX + 2];
    unsigned char *data = NULL;
    size_t len = 0;
    st = hb_url_resolve(root, url, path, sizeof path, err);
    if (st == HB_OK)
        st = hb_read_file(path, HB_CERT_FILE_MAX, &data, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "certificate file '%s'", url);
        goto cleanup;
    }
    HB_TRY(hb_format(what, sizeof what, "the certificate URL", err, "'%s'", url));
    HB_TRY(hb_x509_from_bytes(NULL, data, len, what, out, err));
cleanup:
    free(data);
    return st;
}

/* Load a certificate from a URL/path (PEM or DER) or a pkcs11: URI. */
static hb_status load_certificate_at(const char *root, hb_provider *p, const char *where,
                                     X509 **out, hb_err *err)
{
    if (is_pkcs11_uri(where)) {
        if (p == NULL)
            return hb_fail(err, HB_E_USAGE, "'%s' is a token object; a token is needed", where);
        return hb_provider_load_certificate(p, where, out, err);
    }
    return hb_objects_read_certificate_url(root, where, out, err);
}

/* Where a certificate object's file is: a file that parses now, or a token
 * object (checked when it is used: that needs the token) whose URI holds no
 * PIN. */
static hb_status check_certificate_url(const char *root, const char *url, hb_err *err)
{
    if (is_pkcs11_uri(url)) {
        hb_pkcs11_uri_info info;
        hb_status st = hb_pkcs11_uri_inspect(url, &info, err);
        if (st == HB_OK && info.has_pin_value)
            st = hb_fail(err, HB_E_USAGE, "a PIN may not be stored in a URI; use pin-source");
        return st;
    }
    X509 *cert = NULL;
    hb_status st = load_certificate_at(root, NULL, url, &cert, err);
    X509_free(cert);
    return st;
}

/* The object type/name, made if new (*created), with its text (a
 * certificate's file name, a key's URI) replaced by a copy of text. */
static hb_status define_text(hb_object_store *s, hb_object_type type, const char *name,
                             const char *text, bool *created, hb_crypto_object **out,
                             hb_err *err)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return hb_fail_oom(err);
    hb_crypto_object *o = NULL;
    hb_status st = find_or_add(s, type, name, &o, created, err);
    if (st != HB_OK) {
        free(copy);
        return st;
    }
    char **field = type == HB_OBJECT_CERTIFICATE ? &o->file_name : &o->uri;
    free(*field);
    *field = copy;
    *out = o;
    return HB_OK;
}

hb_status hb_objects_set_certificate(hb_object_store *s, const char *name, const char *url,
                                     bool ignore_expiration, bool disabled,
                                     hb_oaep_hash key_wrap, bool *created, hb_err *err)
{
    hb_crypto_object *o = NULL;
    hb_status st = check_name("certificate", name, err);
    if (st == HB_OK)
        st = check_certificate_url(s->root, url, err);
    if (st == HB_OK)
        st = define_text(s, HB_OBJECT_CERTIFICATE, name, url, created, &o, err);
    if (st != HB_OK)
        return st;
    o->ignore_expiration = ignore_expiration;
    o->enabled = !disabled;
    /* None given: an object redefined keeps its key-wrap (it may be the
     * token's answer to a probe), a new one starts with the default. */
    if (key_wrap != HB_OAEP_UNPROBED)
        o->key_wrap = key_wrap;
    else if (o->key_wrap == HB_OAEP_UNPROBED)
        o->key_wrap = HB_OAEP_SHA256;
    return HB_OK;
}

hb_status hb_objects_set_key_wrap_probe(hb_object_store *s, const char *name,
                                        const char *fingerprint, unsigned accepted,
                                        hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_CERTIFICATE, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate named '%s'", name);
    if (fingerprint == NULL || strlen(fingerprint) != 64)
        return hb_fail(err, HB_E_USAGE, "a key-wrap probe needs the certificate's fingerprint");
    memcpy(o->probed_fingerprint, fingerprint, 65);
    unsigned hashes = accepted & ((1u << HB_OAEP_SHA1) | (1u << HB_OAEP_SHA256));
    o->key_wraps_accepted = hashes | (accepted & hashes << 4); /* labels only where it unwraps */
    return HB_OK;
}

hb_key_wrap_state hb_objects_key_wrap(const hb_object_store *s, hb_provider *p,
                                      const hb_crypto_object *o)
{
    X509 *cert = NULL;
    char fp[65];
    hb_err ignored = {0};
    hb_key_wrap_state ks = HB_KEY_WRAP_NONE;
    if (o != NULL && o->type == HB_OBJECT_CERTIFICATE &&
        load_certificate_at(s->root, p, o->file_name, &cert, &ignored) == HB_OK &&
        EVP_PKEY_is_a(X509_get0_pubkey(cert), "RSA") &&
        hb_x509_fingerprint(cert, fp, &ignored) == HB_OK)
        ks = hb_objects_key_wrap_state(o, fp);
    X509_free(cert);
    return ks;
}

hb_key_wrap_state hb_objects_key_wrap_state(const hb_crypto_object *o, const char *fingerprint)
{
    if (o == NULL || fingerprint == NULL || o->probed_fingerprint[0] == '\0' ||
        strcmp(o->probed_fingerprint, fingerprint) != 0)
        return HB_KEY_WRAP_UNPROBED;
    return o->key_wraps_accepted & (1u << o->key_wrap) ? HB_KEY_WRAP_PROBED
                                                       : HB_KEY_WRAP_REFUSED;
}

bool hb_objects_oaep_labels(const hb_crypto_object *o)
{
    return o != NULL && o->type == HB_OBJECT_CERTIFICATE && o->probed_fingerprint[0] != '\0' &&
           o->key_wrap != HB_OAEP_UNPROBED &&
           (o->key_wraps_accepted & HB_OAEP_LABELS_BIT(o->key_wrap));
}

bool hb_objects_takes_labels(const hb_object_store *s, const char *fingerprint,
                             hb_oaep_hash h)
{
    if (s == NULL || fingerprint == NULL || h == HB_OAEP_UNPROBED)
        return false;
    for (size_t i = 0; i < hb_objects_count(s); i++) {
        const hb_crypto_object *o = hb_objects_at(s, i);
        if (o->type == HB_OBJECT_CERTIFICATE && strcmp(o->probed_fingerprint, fingerprint) == 0 &&
            (o->key_wraps_accepted & HB_OAEP_LABELS_BIT(h)))
            return true;
    }
    return false;
}

/* A key is a private key on a token, named without a PIN (the store is
 * backed up). The URI is parsed by p11-kit (provider/uri.c). */
static hb_status check_key_uri(const char *uri, hb_err *err)
{
    if (!is_pkcs11_uri(uri))
        return hb_fail(err, HB_E_USAGE,
                       "key '%s' is not a PKCS#11 URI: keys live on a token "
                       "(e.g. pkcs11:token=backup;object=mykey;type=private)", uri);
    hb_pkcs11_uri_info info;
    hb_status st = hb_pkcs11_uri_inspect(uri, &info, err);
    if (st != HB_OK)
        return st;
    if (info.has_pin_value)
        return hb_fail(err, HB_E_USAGE,
                       "a PIN may not be stored in a key URI (it would be backed up); "
                       "use pin-source=file:PATH or --pin-source");
    if (info.object_type[0] != '\0' && strcmp(info.object_type, "private") != 0)
        return hb_fail(err, HB_E_USAGE, "key URI '%s' must name a private key (type=private)",
                       uri);
    return HB_OK;
}

hb_status hb_objects_set_key(hb_object_store *s, const char *name, const char *uri,
                             bool *created, hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_KEY, name);
    /* What a token said of one key is not said of another. */
    bool same_key = o != NULL && uri != NULL && strcmp(o->uri, uri) == 0;
    hb_status st = check_name("key", name, err);
    if (st == HB_OK)
        st = check_key_uri(uri, err);
    if (st == HB_OK)
        st = define_text(s, HB_OBJECT_KEY, name, uri, created, &o, err);
    if (st == HB_OK && !same_key) {
        o->mechanisms[0] = '\0';
        o->allowed_mechanisms[0] = '\0';
    }
    return st;
}

hb_status hb_objects_set_key_mechanisms(hb_object_store *s, const char *name,
                                        const char *limit, const char *allowed, hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_KEY, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no key named '%s'", name);
    hb_status st = hb_format(o->mechanisms, sizeof o->mechanisms, "the key's mechanisms", err,
                             "%s", limit != NULL ? limit : "");
    if (st == HB_OK)
        st = hb_format(o->allowed_mechanisms, sizeof o->allowed_mechanisms,
                       "the key's allowed mechanisms", err, "%s", allowed != NULL ? allowed : "");
    return st;
}

hb_status hb_objects_set_idcred(hb_object_store *s, const char *name, const char *key,
                                const char *certificate, bool *created, hb_err *err)
{
    hb_status st = check_name("idcred", name, err);
    if (st != HB_OK)
        return st;
    if (hb_objects_find(s, HB_OBJECT_KEY, key) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no key named '%s'; define it with 'hsmbak crypto "
                       "key %s PKCS11-URI'", key, key);
    if (hb_objects_find(s, HB_OBJECT_CERTIFICATE, certificate) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate named '%s'; define it with "
                       "'hsmbak crypto certificate %s URL'", certificate, certificate);
    hb_crypto_object *o = NULL;
    st = find_or_add(s, HB_OBJECT_IDCRED, name, &o, created, err);
    if (st != HB_OK)
        return st;
    /* Both are names of objects in the store, so they fit. */
    set_name(o->key, key);
    set_name(o->certificate, certificate);
    return HB_OK;
}

hb_status hb_objects_delete(hb_object_store *s, hb_object_type t, const char *name,
                            hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, t, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no %s named '%s'", hb_object_type_name(t), name);
    for (size_t i = 0; i < s->n; i++) {
        const hb_crypto_object *u = &s->objects[i];
        if (u->type != HB_OBJECT_IDCRED)
            continue;
        if ((t == HB_OBJECT_KEY && strcmp(u->key, name) == 0) ||
            (t == HB_OBJECT_CERTIFICATE && strcmp(u->certificate, name) == 0))
            return hb_fail(err, HB_E_REFUSED, "%s '%s' is used by idcred '%s'; delete that "
                           "idcred first", hb_object_type_name(t), name, u->name);
    }
    if (t == HB_OBJECT_IDCRED && strcmp(s->backup_signer, name) == 0)
        s->backup_signer[0] = '\0';
    object_clear(o);
    size_t idx = (size_t)(o - s->objects);
    /* Shrinking n keeps HB_ARRAY_PUSH's implied capacity within the allocation. */
    memmove(o, o + 1, (s->n - idx - 1) * sizeof *o);
    s->n--;
    return HB_OK;
}

hb_status hb_objects_set_backup_signer(hb_object_store *s, const char *idcred, hb_err *err)
{
    if (hb_objects_find(s, HB_OBJECT_IDCRED, idcred) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no idcred named '%s'; define it with "
                       "'hsmbak crypto idcred %s KEY CERT'", idcred, idcred);
    set_name(s->backup_signer, idcred);
    return HB_OK;
}

hb_status hb_objects_set_trusted_signer(hb_object_store *s, const char *certificate,
                                        bool trusted, hb_err *err)
{
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_CERTIFICATE, certificate);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate named '%s'", certificate);
    o->trusted_signer = trusted;
    return HB_OK;
}

/* ---- live status ------------------------------------------------------------ */

hb_status hb_objects_load_certificate(const hb_object_store *s, hb_provider *p,
                                      const char *name, X509 **out, hb_err *err)
{
    const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_CERTIFICATE, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate named '%s'", name);
    return load_certificate_at(s->root, p, o->file_name, out, err);
}

static void set_down(hb_object_status *out, const char *fmt, ...) HB_PRINTF(2, 3);

/* A reason too long for the field ends in "..." rather than being cut silently. */
static void set_down(hb_object_status *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    out->up = false;
    if (n < 0)
        out->reason[0] = '\0';
    else if ((size_t)n >= sizeof out->reason)
        memcpy(out->reason + sizeof out->reason - 4, "...", 4);
}

static void certificate_status(const hb_object_store *s, hb_provider *p,
                               const hb_crypto_object *o, hb_object_status *out, X509 **keep)
{
    X509 *cert = NULL;
    hb_err err = {0};
    out->up = true;
    out->reason[0] = '\0';
    if (load_certificate_at(s->root, p, o->file_name, &cert, &err) != HB_OK) {
        set_down(out, "%s", err.msg);
        return;
    }
    if (!o->ignore_expiration && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        set_down(out, "certificate expired (set ignore-expiration to use it anyway)");
    else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
        set_down(out, "certificate is not valid yet");
    if (keep != NULL)
        *keep = cert;
    else
        X509_free(cert);
}

/* A key is up when its public half is on the token: that needs no login. */
static void key_status(hb_provider *p, const hb_crypto_object *o, hb_object_status *out,
                       EVP_PKEY **keep)
{
    char *pub = NULL;
    hb_err err = {0};
    EVP_PKEY *key = NULL;
    out->up = true;
    out->reason[0] = '\0';
    if (p == NULL) {
        set_down(out, "not checked (no token access)");
        return;
    }
    if (hb_pkcs11_uri_with_type(o->uri, "public", &pub, &err) != HB_OK ||
        hb_provider_load_public_key(p, pub, &key, &err) != HB_OK)
        set_down(out, "key not on token: %s", err.msg);
    else if (keep != NULL)
        *keep = key;
    else
        EVP_PKEY_free(key);
    free(pub);
}

static void idcred_status(const hb_object_store *s, hb_provider *p, const hb_crypto_object *o,
                          hb_object_status *out)
{
    const hb_crypto_object *k = hb_objects_find(s, HB_OBJECT_KEY, o->key);
    const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, o->certificate);
    if (k == NULL || c == NULL) {
        set_down(out, "refers to a missing %s", k == NULL ? "key" : "certificate");
        return;
    }
    hb_object_status part;
    X509 *cert = NULL;
    EVP_PKEY *pub = NULL;
    certificate_status(s, p, c, &part, &cert);
    if (!part.up) {
        set_down(out, "certificate down: %s", part.reason);
    } else {
        key_status(p, k, &part, &pub);
        if (!part.up)
            set_down(out, "key down: %s", part.reason);
        else if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1)
            set_down(out, "key and certificate do not match");
    }
    X509_free(cert);
    EVP_PKEY_free(pub);
    ERR_clear_error();
}

void hb_objects_status(const hb_object_store *s, hb_provider *p, const hb_crypto_object *o,
                       hb_object_status *out)
{
    out->up = true;
    out->reason[0] = '\0';
    if (!o->enabled) {
        set_down(out, "admin-state disabled");
        return;
    }
    switch (o->type) {
    case HB_OBJECT_CERTIFICATE:
        certificate_status(s, p, o, out, NULL);
        return;
    case HB_OBJECT_KEY:
        key_status(p, o, out, NULL);
        return;
    case HB_OBJECT_IDCRED:
        idcred_status(s, p, o, out);
        return;
    }
}

/* The key and certificate objects of an idcred that is usable as defined
 * (enabled, complete); HB_E_NOT_FOUND / HB_E_REFUSED otherwise. */
static hb_status idcred_parts(const hb_object_store *s, const char *name,
                              const hb_crypto_object **key, const hb_crypto_object **cert,
                              hb_err *err)
{
    const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_IDCRED, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no idcred named '%s'; define it with "
                       "'hsmbak crypto idcred %s KEY CERT'", name, name);
    const hb_crypto_object *k = hb_objects_find(s, HB_OBJECT_KEY, o->key);
    const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, o->certificate);
    if (!o->enabled || k == NULL || c == NULL || !k->enabled || !c->enabled)
        return hb_fail(err, HB_E_REFUSED, "idcred '%s' is down (disabled or incomplete); "
                       "see 'hsmbak crypto show idcred %s'", name, name);
    *key = k;
    *cert = c;
    return HB_OK;
}

hb_status hb_objects_load_idcred(const hb_object_store *s, hb_provider *p, const char *name,
                                 X509 **cert_out, EVP_PKEY **key_out, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    const hb_crypto_object *k = NULL, *c = NULL;
    HB_TRY(idcred_parts(s, name, &k, &c, err));
    HB_TRY(load_certificate_at(s->root, p, c->file_name, &cert, err));
    HB_ENSURE(c->ignore_expiration || X509_cmp_current_time(X509_get0_notAfter(cert)) >= 0,
              HB_E_REFUSED, "certificate '%s' of idcred '%s' has expired", c->name, name);
    st = hb_provider_load_private_key(p, k->uri, &key, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "key '%s' of idcred '%s'", k->name, name);
        goto cleanup;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
        ERR_clear_error();
        HB_FAIL(HB_E_REFUSED, "idcred '%s': key '%s' and certificate '%s' do not match", name,
                k->name, c->name);
    }
    *cert_out = cert;
    *key_out = key;
    cert = NULL;
    key = NULL;
cleanup:
    X509_free(cert);
    EVP_PKEY_free(key);
    return st;
}
