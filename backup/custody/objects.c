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
 * object definitions (never a key: keys stay on their token). */
#include "backup/custody/objects.h"

#include "backup/format/xml.h"
#include "common/fileio.h"
#include "hsmbak/url.h"
#include "common/fail.h"
#include "provider/token.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#define CRYPTO_NS "urn:hsmbak:crypto:1"
#define STORE_CAP (4u << 20)

struct hb_object_store {
    char root[PATH_MAX];
    char path[PATH_MAX];
    hb_crypto_object *objects;
    size_t n, cap;
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

/* Append a zeroed object; the caller fills it. */
static hb_status append(hb_object_store *s, hb_crypto_object **out, hb_err *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        hb_crypto_object *grown = realloc(s->objects, cap * sizeof *grown);
        if (grown == NULL)
            return hb_fail(err, HB_E_INTERNAL, "out of memory");
        s->objects = grown;
        s->cap = cap;
    }
    *out = &s->objects[s->n++];
    memset(*out, 0, sizeof **out);
    return HB_OK;
}

/* ---- reading ------------------------------------------------------------- */

static bool on_off(const char *v) { return v != NULL && strcmp(v, "on") == 0; }

static hb_status read_object(hb_object_store *s, xmlNodePtr node, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_type type = HB_OBJECT_CERTIFICATE;
    xmlChar *name = NULL, *state = NULL, *ign = NULL, *trusted = NULL, *wrap = NULL;
    hb_crypto_object o = {0};

    HB_TRY(hb_object_type_from_name((const char *)node->name, &type, err));
    name = xmlGetProp(node, BAD_CAST "name");
    state = xmlGetProp(node, BAD_CAST "admin-state");
    if (name == NULL || check_name("object", (const char *)name, err) != HB_OK) {
        st = hb_fail(err, HB_E_VERIFY, "%s: a %s has a missing or bad name", s->path,
                     hb_object_type_name(type));
        goto cleanup;
    }
    if (hb_objects_find(s, type, (const char *)name) != NULL) {
        st = hb_fail(err, HB_E_VERIFY, "%s: %s '%s' is defined twice", s->path,
                     hb_object_type_name(type), name);
        goto cleanup;
    }
    o.type = type;
    memcpy(o.name, name, strlen((const char *)name) + 1);
    o.enabled = state == NULL || strcmp((const char *)state, "disabled") != 0;
    for (xmlNodePtr c = node->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *text = xmlNodeGetContent(c);
        const char *field = (const char *)c->name;
        const char *value = text ? (const char *)text : "";
        bool ok = true;
        if (type == HB_OBJECT_CERTIFICATE && strcmp(field, "file-name") == 0)
            ok = (o.file_name = strdup(value)) != NULL;
        else if (type == HB_OBJECT_KEY && strcmp(field, "uri") == 0)
            ok = (o.uri = strdup(value)) != NULL;
        else if (type == HB_OBJECT_IDCRED && strcmp(field, "key") == 0 &&
                 strlen(value) <= HB_OBJECT_NAME_MAX)
            memcpy(o.key, value, strlen(value) + 1);
        else if (type == HB_OBJECT_IDCRED && strcmp(field, "certificate") == 0 &&
                 strlen(value) <= HB_OBJECT_NAME_MAX)
            memcpy(o.certificate, value, strlen(value) + 1);
        else
            ok = false;
        xmlFree(text);
        if (!ok) {
            st = hb_fail(err, HB_E_VERIFY, "%s: unexpected <%s> in %s '%s'", s->path, field,
                         hb_object_type_name(type), o.name);
            goto cleanup;
        }
    }
    if (type == HB_OBJECT_CERTIFICATE) {
        ign = xmlGetProp(node, BAD_CAST "ignore-expiration");
        trusted = xmlGetProp(node, BAD_CAST "trusted-signer");
        o.ignore_expiration = on_off((const char *)ign);
        o.trusted_signer = on_off((const char *)trusted);
        wrap = xmlGetProp(node, BAD_CAST "key-wrap");
        o.key_wrap = HB_OAEP_SHA256;
        if (wrap != NULL)
            HB_TRY(hb_oaep_hash_from_name((const char *)wrap, &o.key_wrap, err));
    }
    if ((type == HB_OBJECT_CERTIFICATE && o.file_name == NULL) ||
        (type == HB_OBJECT_KEY && o.uri == NULL) ||
        (type == HB_OBJECT_IDCRED && (!o.key[0] || !o.certificate[0]))) {
        st = hb_fail(err, HB_E_VERIFY, "%s: %s '%s' is incomplete", s->path,
                     hb_object_type_name(type), o.name);
        goto cleanup;
    }
    hb_crypto_object *slot = NULL;
    HB_TRY(append(s, &slot, err));
    *slot = o;
    memset(&o, 0, sizeof o);
cleanup:
    object_clear(&o);
    xmlFree(name);
    xmlFree(state);
    xmlFree(ign);
    xmlFree(trusted);
    xmlFree(wrap);
    return st;
}

hb_status hb_objects_load(const char *root, hb_object_store **out, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    hb_object_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    if (root == NULL || *root == '\0') {
        st = hb_fail(err, HB_E_USAGE, "no system root: give --root DIR or set HSMBAK_ROOT");
        goto cleanup;
    }
    int n = snprintf(s->root, sizeof s->root, "%s", root);
    if (n < 0 || (size_t)n >= sizeof s->root) {
        st = hb_fail(err, HB_E_USAGE, "root path too long");
        goto cleanup;
    }
    HB_TRY(hb_path_join(s->path, sizeof s->path, root, "config/crypto.xml", err));

    st = hb_read_file(s->path, STORE_CAP, &data, &len, err);
    if (st == HB_E_NOT_FOUND) {
        /* No objects defined yet; the root itself must exist though. */
        char config[PATH_MAX];
        HB_TRY(hb_path_join(config, sizeof config, root, "config", err));
        if (access(config, F_OK) != 0) {
            st = hb_fail(err, HB_E_NOT_FOUND,
                         "'%s' is not a system root (no config folder); make one with "
                         "'hsmbak system init --root %s'", root, root);
            goto cleanup;
        }
        st = HB_OK;
        goto done;
    }
    if (st != HB_OK)
        goto cleanup;
    HB_TRY(hb_xml_parse(data, len, STORE_CAP, 0, "schema/crypto.xsd", s->path, &doc, err));
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)c->name, "backup-signer") == 0) {
            xmlChar *id = xmlGetProp(c, BAD_CAST "idcred");
            size_t idlen = id ? strlen((const char *)id) : 0;
            if (idlen > 0 && idlen <= HB_OBJECT_NAME_MAX)
                memcpy(s->backup_signer, id, idlen + 1);
            xmlFree(id);
            continue;
        }
        HB_TRY(read_object(s, c, err));
    }
done:
    *out = s;
    s = NULL;
cleanup:
    xmlFreeDoc(doc);
    free(data);
    hb_objects_free(s);
    return st;
}

/* ---- writing ------------------------------------------------------------- */

static hb_status add_text_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
                                const char *text, hb_err *err)
{
    /* xmlNewTextChild escapes the text; xmlNewChild would not. */
    if (xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST text) == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    return HB_OK;
}

hb_status hb_objects_save(const hb_object_store *s, hb_err *err)
{
    hb_status st = HB_OK;
    xmlChar *buf = NULL;
    int buflen = 0;
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "crypto", NULL) : NULL;
    if (root == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    xmlDocSetRootElement(doc, root);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST CRYPTO_NS, NULL);
    xmlSetNs(root, ns);
    for (size_t i = 0; i < s->n; i++) {
        const hb_crypto_object *o = &s->objects[i];
        xmlNodePtr node = xmlNewChild(root, ns, BAD_CAST hb_object_type_name(o->type), NULL);
        if (node == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        xmlNewProp(node, BAD_CAST "name", BAD_CAST o->name);
        xmlNewProp(node, BAD_CAST "admin-state", BAD_CAST(o->enabled ? "enabled" : "disabled"));
        switch (o->type) {
        case HB_OBJECT_CERTIFICATE:
            xmlNewProp(node, BAD_CAST "ignore-expiration",
                       BAD_CAST(o->ignore_expiration ? "on" : "off"));
            xmlNewProp(node, BAD_CAST "trusted-signer", BAD_CAST(o->trusted_signer ? "on" : "off"));
            xmlNewProp(node, BAD_CAST "key-wrap", BAD_CAST hb_oaep_hash_name(o->key_wrap));
            HB_TRY(add_text_child(node, ns, "file-name", o->file_name, err));
            break;
        case HB_OBJECT_KEY:
            HB_TRY(add_text_child(node, ns, "uri", o->uri, err));
            break;
        case HB_OBJECT_IDCRED:
            HB_TRY(add_text_child(node, ns, "key", o->key, err));
            HB_TRY(add_text_child(node, ns, "certificate", o->certificate, err));
            break;
        }
    }
    if (s->backup_signer[0]) {
        xmlNodePtr bs = xmlNewChild(root, ns, BAD_CAST "backup-signer", NULL);
        if (bs == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        xmlNewProp(bs, BAD_CAST "idcred", BAD_CAST s->backup_signer);
    }
    xmlDocDumpFormatMemoryEnc(doc, &buf, &buflen, "UTF-8", 1);
    if (buf == NULL || buflen <= 0) {
        st = hb_fail(err, HB_E_INTERNAL, "could not serialise the crypto object store");
        goto cleanup;
    }
    st = hb_write_file_atomic(s->path, buf, (size_t)buflen, 0600, err);
cleanup:
    xmlFree(buf);
    xmlFreeDoc(doc);
    return st;
}

/* ---- defining objects ------------------------------------------------------ */

hb_status hb_objects_read_certificate_url(const char *root, const char *url, X509 **out,
                                          hb_err *err)
{
    char path[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    hb_status st = hb_url_resolve(root, url, path, sizeof path, err);
    if (st == HB_OK)
        st = hb_read_file(path, 1u << 20, &data, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "certificate file '%s'", url);
        return st;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (cert == NULL) {
        const unsigned char *q = data;
        ERR_clear_error();
        cert = d2i_X509(NULL, &q, (long)len);
        if (cert != NULL && q != data + len) { /* DER with trailing bytes */
            X509_free(cert);
            cert = NULL;
        }
    }
    BIO_free(bio);
    free(data);
    if (cert == NULL)
        return hb_fail_ossl(err, HB_E_VERIFY,
                            "'%s' is not a certificate (neither PEM nor DER X.509)", url);
    *out = cert;
    return HB_OK;
}

/* Load a certificate from a URL/path (PEM or DER) or a pkcs11: URI. */
static hb_status load_certificate_at(const char *root, hb_provider *p, const char *where,
                                     X509 **out, hb_err *err)
{
    if (strncmp(where, "pkcs11:", 7) == 0) {
        if (p == NULL)
            return hb_fail(err, HB_E_USAGE, "'%s' is a token object; a token is needed", where);
        return hb_provider_load_certificate(p, where, out, err);
    }
    return hb_objects_read_certificate_url(root, where, out, err);
}

hb_status hb_objects_set_certificate(hb_object_store *s, const char *name, const char *url,
                                     bool ignore_expiration, bool disabled,
                                     hb_oaep_hash key_wrap, bool *created, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *cert = NULL;
    char *copy = NULL;
    HB_TRY(check_name("certificate", name, err));
    /* A token certificate is checked when it is used (that needs the token). */
    if (strncmp(url, "pkcs11:", 7) != 0)
        HB_TRY(load_certificate_at(s->root, NULL, url, &cert, err));
    else if (strstr(url, "pin-value") != NULL) {
        st = hb_fail(err, HB_E_USAGE, "a PIN may not be stored in a URI; use pin-source");
        goto cleanup;
    }
    copy = strdup(url);
    if (copy == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_CERTIFICATE, name);
    *created = o == NULL;
    if (o == NULL) {
        HB_TRY(append(s, &o, err));
        o->type = HB_OBJECT_CERTIFICATE;
        memcpy(o->name, name, strlen(name) + 1);
    }
    free(o->file_name);
    o->file_name = copy;
    copy = NULL;
    o->ignore_expiration = ignore_expiration;
    o->enabled = !disabled;
    o->key_wrap = key_wrap;
cleanup:
    free(copy);
    X509_free(cert);
    return st;
}

static hb_status check_key_uri(const char *uri, hb_err *err)
{
    if (strncmp(uri, "pkcs11:", 7) != 0)
        return hb_fail(err, HB_E_USAGE,
                       "key '%s' is not a PKCS#11 URI: keys live on a token "
                       "(e.g. pkcs11:token=backup;object=mykey;type=private)", uri);
    if (strstr(uri, "pin-value") != NULL)
        return hb_fail(err, HB_E_USAGE,
                       "a PIN may not be stored in a key URI (it would be backed up); "
                       "use pin-source=file:PATH or --pin-source");
    if (strstr(uri, "type=") != NULL && strstr(uri, "type=private") == NULL)
        return hb_fail(err, HB_E_USAGE, "key URI '%s' must name a private key (type=private)",
                       uri);
    return HB_OK;
}

hb_status hb_objects_set_key(hb_object_store *s, const char *name, const char *uri,
                             bool *created, hb_err *err)
{
    hb_status st = HB_OK;
    char *copy = NULL;
    HB_TRY(check_name("key", name, err));
    HB_TRY(check_key_uri(uri, err));
    copy = strdup(uri);
    if (copy == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_KEY, name);
    *created = o == NULL;
    if (o == NULL) {
        HB_TRY(append(s, &o, err));
        o->type = HB_OBJECT_KEY;
        o->enabled = true;
        memcpy(o->name, name, strlen(name) + 1);
    }
    free(o->uri);
    o->uri = copy;
    copy = NULL;
cleanup:
    free(copy);
    return st;
}

hb_status hb_objects_set_idcred(hb_object_store *s, const char *name, const char *key,
                                const char *certificate, bool *created, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(check_name("idcred", name, err));
    if (hb_objects_find(s, HB_OBJECT_KEY, key) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no key named '%s'; define it with 'hsmbak crypto "
                       "key %s PKCS11-URI'", key, key);
    if (hb_objects_find(s, HB_OBJECT_CERTIFICATE, certificate) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate named '%s'; define it with "
                       "'hsmbak crypto certificate %s URL'", certificate, certificate);
    hb_crypto_object *o = find_mutable(s, HB_OBJECT_IDCRED, name);
    *created = o == NULL;
    if (o == NULL) {
        HB_TRY(append(s, &o, err));
        o->type = HB_OBJECT_IDCRED;
        o->enabled = true;
        memcpy(o->name, name, strlen(name) + 1);
    }
    memcpy(o->key, key, strlen(key) + 1);
    memcpy(o->certificate, certificate, strlen(certificate) + 1);
cleanup:
    return st;
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
    memmove(o, o + 1, (s->n - idx - 1) * sizeof *o);
    s->n--;
    return HB_OK;
}

hb_status hb_objects_set_backup_signer(hb_object_store *s, const char *idcred, hb_err *err)
{
    if (hb_objects_find(s, HB_OBJECT_IDCRED, idcred) == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no idcred named '%s'; define it with "
                       "'hsmbak crypto idcred %s KEY CERT'", idcred, idcred);
    memcpy(s->backup_signer, idcred, strlen(idcred) + 1);
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

/* The public half of a key URI: same object, type=public. */
static hb_status public_uri_of(const char *uri, char *out, size_t cap, hb_err *err)
{
    const char *t = strstr(uri, "type=private");
    int n = t ? snprintf(out, cap, "%.*stype=public%s", (int)(t - uri), uri, t + 12)
              : snprintf(out, cap, "%s;type=public", uri);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "key URI too long");
    return HB_OK;
}

static void set_down(hb_object_status *out, const char *fmt, ...) HB_PRINTF(2, 3);

static void set_down(hb_object_status *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out->up = false;
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
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

static void key_status(hb_provider *p, const hb_crypto_object *o, hb_object_status *out,
                       EVP_PKEY **keep)
{
    char pub[1024];
    hb_err err = {0};
    EVP_PKEY *key = NULL;
    out->up = true;
    out->reason[0] = '\0';
    if (p == NULL) {
        set_down(out, "not checked (no token access)");
        return;
    }
    if (public_uri_of(o->uri, pub, sizeof pub, &err) != HB_OK ||
        hb_provider_load_public_key(p, pub, &key, &err) != HB_OK) {
        set_down(out, "key not on token: %s", err.msg);
        return;
    }
    if (keep != NULL)
        *keep = key;
    else
        EVP_PKEY_free(key);
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
    case HB_OBJECT_IDCRED: {
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
        return;
    }
    }
}

hb_status hb_objects_load_idcred(const hb_object_store *s, hb_provider *p, const char *name,
                                 X509 **cert_out, EVP_PKEY **key_out, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_IDCRED, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no idcred named '%s'; define it with "
                       "'hsmbak crypto idcred %s KEY CERT'", name, name);
    const hb_crypto_object *k = hb_objects_find(s, HB_OBJECT_KEY, o->key);
    const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, o->certificate);
    if (!o->enabled || k == NULL || c == NULL || !k->enabled || !c->enabled)
        return hb_fail(err, HB_E_REFUSED, "idcred '%s' is down (disabled or incomplete); "
                       "see 'hsmbak crypto show idcred %s'", name, name);
    HB_TRY(load_certificate_at(s->root, p, c->file_name, &cert, err));
    if (!c->ignore_expiration && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        st = hb_fail(err, HB_E_REFUSED, "certificate '%s' of idcred '%s' has expired",
                     c->name, name);
        goto cleanup;
    }
    st = hb_provider_load_private_key(p, k->uri, &key, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "key '%s' of idcred '%s'", k->name, name);
        goto cleanup;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
        ERR_clear_error();
        st = hb_fail(err, HB_E_REFUSED, "idcred '%s': key '%s' and certificate '%s' do not "
                     "match", name, k->name, c->name);
        goto cleanup;
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
