/* PKCS#11 URIs (RFC 7512): parsing through p11-kit, plus the two small
 * textual operations p11-kit does not offer (dropping the PIN attributes
 * while keeping the rest of the URI verbatim, and building an object URI). */
#include "provider/provider_internal.h"

#include "common/buf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Is the query attribute a (alen bytes, "name=value") named `name` once its
 * name is percent-decoded and lower-cased? RFC 7512 lets any character be
 * encoded, and a module may decode what p11-kit passes through as unknown:
 * "pin%2Dvalue" is pin-value. *plain says the name was written as is. */
static bool query_attr_is(const char *a, size_t alen, const char *name, bool *plain)
{
    size_t k = 0, n = strlen(name);
    *plain = true;
    for (size_t i = 0; i < alen && a[i] != '='; i++) {
        int c = (unsigned char)a[i];
        if (c == '%' && i + 2 < alen && hex_value(a[i + 1]) >= 0 && hex_value(a[i + 2]) >= 0) {
            c = hex_value(a[i + 1]) * 16 + hex_value(a[i + 2]);
            i += 2;
            *plain = false;
        } else if (c >= 'A' && c <= 'Z') {
            c = c - 'A' + 'a';
            *plain = false;
        }
        if (k >= n || c != name[k])
            return false;
        k++;
    }
    return k == n;
}

/* No PIN in a URI however it is spelt, and pin-source only spelt plainly
 * (p11-kit reads only that spelling; another would be silently ignored). */
static hb_status check_query_pins(const char *uri, hb_err *err)
{
    const char *q = strchr(uri, '?');
    for (const char *a = q != NULL ? q + 1 : NULL; a != NULL && *a != '\0';) {
        const char *e = strchr(a, '&');
        size_t alen = e != NULL ? (size_t)(e - a) : strlen(a);
        bool plain = true;
        if (query_attr_is(a, alen, "pin-value", &plain))
            return hb_fail(err, HB_E_USAGE,
                           "PKCS#11 URI '...' carries pin-value%s; a PIN must not appear in a "
                           "URI or on a command line: use pin-source=file:PATH or --pin-source",
                           plain ? "" : " (percent-encoded or in capitals)");
        if (query_attr_is(a, alen, "pin-source", &plain) && !plain)
            return hb_fail(err, HB_E_USAGE,
                           "PKCS#11 URI '...' spells pin-source percent-encoded or in capitals; "
                           "write it as 'pin-source=' (RFC 7512 §2.4)");
        a = e != NULL ? e + 1 : a + alen;
    }
    return HB_OK;
}

hb_status hb_uri_parse(const char *uri, P11KitUri **out, hb_err *err)
{
    hb_status st = HB_OK;
    P11KitUri *u = NULL;
    char shown[HB_MSG_MAX / 4];
    hb_uri_shown(uri, shown, sizeof shown);
    if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0) {
        st = hb_fail(err, HB_E_USAGE, "'%s' is not a PKCS#11 URI (pkcs11:token=...;object=...)",
                     shown);
        goto cleanup;
    }
    HB_TRY(check_query_pins(uri, err));
    u = p11_kit_uri_new();
    if (u == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    int rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
    if (rc != P11_KIT_URI_OK) {
        st = hb_fail(err, HB_E_USAGE, "malformed PKCS#11 URI '%s': %s", shown,
                     p11_kit_uri_message(rc));
        goto cleanup;
    }
    if (p11_kit_uri_get_pin_value(u) != NULL) {
        st = hb_fail(err, HB_E_USAGE,
                     "PKCS#11 URI '...' carries pin-value; a PIN must not appear in a URI or "
                     "on a command line: use pin-source=file:PATH or --pin-source");
        goto cleanup;
    }
    *out = u;
    u = NULL;
cleanup:
    if (u != NULL)
        p11_kit_uri_free(u);
    return st;
}

hb_status hb_uri_strip_pin(const char *uri, char **stripped, char **pin_source, hb_err *err)
{
    hb_status st = HB_OK;
    P11KitUri *u = NULL;
    char *copy = NULL, *src = NULL;
    HB_TRY(hb_uri_parse(uri, &u, err));
    size_t len = strlen(uri);
    copy = malloc(len + 1);
    if (copy == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    const char *q = strchr(uri, '?');
    size_t used = q != NULL ? (size_t)(q - uri) : len;
    memcpy(copy, uri, used);
    if (q != NULL) {
        /* Query attributes are separated by '&' (RFC 7512 §2.3). */
        const char *a = q + 1;
        char sep = '?';
        while (*a != '\0') {
            const char *e = strchr(a, '&');
            size_t alen = e != NULL ? (size_t)(e - a) : strlen(a);
            bool pin = (alen >= 11 && strncmp(a, "pin-source=", 11) == 0) ||
                       (alen >= 10 && strncmp(a, "pin-value=", 10) == 0);
            if (!pin && alen > 0) {
                copy[used++] = sep;
                memcpy(copy + used, a, alen);
                used += alen;
                sep = '&';
            }
            a += alen;
            if (*a == '&')
                a++;
        }
    }
    copy[used] = '\0';
    const char *ps = p11_kit_uri_get_pin_source(u);
    if (ps != NULL) {
        src = strdup(ps);
        if (src == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
    }
    *stripped = copy;
    copy = NULL;
    *pin_source = src;
    src = NULL;
cleanup:
    if (u != NULL)
        p11_kit_uri_free(u);
    free(copy);
    free(src);
    return st;
}

/* RFC 7512 §2.3: everything outside the unreserved set is percent-encoded. */
static hb_status add_encoded(hb_buf *b, const char *s, hb_err *err)
{
    hb_status st = HB_OK;
    for (; *s != '\0' && st == HB_OK; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        st = plain ? hb_buf_add(b, s, 1, err) : hb_buf_addf(b, err, "%%%02X", c);
    }
    return st;
}

/* An object URI longer than this names no object a token would hold. */
#define HB_OBJECT_URI_MAX 1023

hb_status hb_uri_for_object(const char *token_label, const char *label, const char *type,
                            char **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf b = HB_BUF_INIT(HB_OBJECT_URI_MAX);
    st = hb_buf_adds(&b, "pkcs11:token=", err);
    if (st == HB_OK)
        st = add_encoded(&b, token_label, err);
    if (st == HB_OK)
        st = hb_buf_adds(&b, ";object=", err);
    if (st == HB_OK)
        st = add_encoded(&b, label, err);
    if (st == HB_OK)
        st = hb_buf_addf(&b, err, ";type=%s", type);
    /* Past the cap is refused (hb_buf says HB_E_REFUSED), in the label's words. */
    HB_ENSURE(st != HB_E_REFUSED, HB_E_USAGE, "label '%s' is too long for a PKCS#11 URI", label);
    if (st != HB_OK)
        goto cleanup;
    *out = hb_buf_take(&b);
    HB_ALLOC(*out);
cleanup:
    hb_buf_free(&b);
    return st;
}

void hb_p11_string(const unsigned char *field, size_t fieldlen, char *out, size_t outcap)
{
    size_t n = fieldlen;
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
        n--;
    if (n >= outcap)
        n = outcap - 1;
    memcpy(out, field, n);
    out[n] = '\0';
}

hb_status hb_pkcs11_uri_inspect(const char *uri, hb_pkcs11_uri_info *out, hb_err *err)
{
    hb_status st = HB_OK;
    P11KitUri *u = NULL;
    char shown[HB_MSG_MAX / 4];
    hb_uri_shown(uri, shown, sizeof shown);
    memset(out, 0, sizeof *out);
    HB_ENSURE(uri != NULL && strncmp(uri, "pkcs11:", 7) == 0, HB_E_USAGE,
              "'%s' is not a PKCS#11 URI (pkcs11:token=...;object=...)", shown);
    u = p11_kit_uri_new();
    HB_ALLOC(u);
    int rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
    HB_ENSURE(rc == P11_KIT_URI_OK, HB_E_USAGE, "malformed PKCS#11 URI '%s': %s", shown,
              p11_kit_uri_message(rc));
    out->has_pin_value = p11_kit_uri_get_pin_value(u) != NULL;
    out->has_pin_source = p11_kit_uri_get_pin_source(u) != NULL;
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(u, CKA_CLASS);
    if (cls != NULL && cls->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        CK_OBJECT_CLASS c;
        memcpy(&c, cls->pValue, sizeof c);
        const char *name = c == CKO_PRIVATE_KEY ? "private" : c == CKO_PUBLIC_KEY ? "public"
                         : c == CKO_CERTIFICATE ? "cert" : c == CKO_SECRET_KEY ? "secret-key"
                         : c == CKO_DATA ? "data" : "other";
        HB_TRY(hb_format(out->object_type, sizeof out->object_type, "an object type", err, "%s",
                         name));
    }
cleanup:
    if (u != NULL)
        p11_kit_uri_free(u);
    return st;
}

hb_status hb_pkcs11_uri_with_type(const char *uri, const char *type, char **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_pkcs11_uri_info info;
    hb_buf b = HB_BUF_INIT(64 * 1024);
    HB_TRY(hb_pkcs11_uri_inspect(uri, &info, err));
    /* The path attributes are ';'-separated before the query (RFC 7512 §2.3);
     * every one is kept verbatim except type=, which is replaced. */
    const char *q = strchr(uri, '?');
    const char *end = q != NULL ? q : uri + strlen(uri);
    const char *a = uri + 7;
    bool first = true;
    HB_TRY(hb_buf_adds(&b, "pkcs11:", err));
    while (a < end) {
        const char *e = memchr(a, ';', (size_t)(end - a));
        size_t alen = e != NULL ? (size_t)(e - a) : (size_t)(end - a);
        if (alen > 0 && !(alen >= 5 && strncmp(a, "type=", 5) == 0)) {
            HB_TRY(hb_buf_addf(&b, err, "%s%.*s", first ? "" : ";", (int)alen, a));
            first = false;
        }
        a += alen + (e != NULL);
    }
    HB_TRY(hb_buf_addf(&b, err, "%stype=%s%s", first ? "" : ";", type, q != NULL ? q : ""));
    *out = hb_buf_take(&b);
    HB_ALLOC(*out);
cleanup:
    hb_buf_free(&b);
    return st;
}

const char *hb_uri_shown(const char *uri, char *buf, size_t cap)
{
    const char *q = uri != NULL ? strchr(uri, '?') : NULL;
    hb_err ignored;
    hb_status st;
    if (uri == NULL)
        st = hb_format(buf, cap, "a URI", &ignored, "(no URI)");
    else if (q == NULL)
        st = hb_format(buf, cap, "a URI", &ignored, "%s", uri);
    else
        st = hb_format(buf, cap, "a URI", &ignored, "%.*s?...", (int)(q - uri), uri);
    /* Too long to show whole: its start says which URI it is. */
    if (st != HB_OK && cap > 4 && uri != NULL) {
        size_t n = q != NULL ? (size_t)(q - uri) : strlen(uri);
        n = n < cap - 4 ? n : cap - 4;
        memcpy(buf, uri, n);
        memcpy(buf + n, "...", 4);
    }
    return buf;
}
