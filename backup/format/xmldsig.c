/* Enveloped XML-DSig for the manifest (DESIGN §4.3), computed by hand because
 * libxmlsec1 cannot sign with a token-held key. Exactly one profile is
 * written and accepted:
 *   CanonicalizationMethod  exc-c14n (xml-exc-c14n §3, without comments)
 *   SignatureMethod         rsa-sha256 | ecdsa-sha256 (RFC 6931 §2.3.2, §2.3.6)
 *   one Reference URI=""    transforms enveloped-signature, exc-c14n; sha256
 *   KeyInfo                 exactly one X509Data with one X509Certificate
 * The reader checks this shape element by element before any cryptography;
 * anything else is refused rather than interpreted (no XPath, no ID lookup,
 * so no signature wrapping: the signed node is always the document root). */
#include "backup/format/xml.h"

#include "common/encode.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define SHA256_LEN 32
#define OOM_SIGNATURE "out of memory building the signature"

hb_status hb_xmldsig_check_key(EVP_PKEY *key, bool *is_ec, size_t *ec_field,
                               const char *what, hb_err *err)
{
    *is_ec = false;
    *ec_field = 0;
    if (key == NULL)
        return hb_fail_ossl(err, HB_E_VERIFY, "%s signer certificate has no usable public key",
                            what);
    if (EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits < 2048 || bits > 16384)
            return hb_fail(err, HB_E_VERIFY, "%s signer key is RSA-%d; only RSA of 2048 to "
                           "16384 bits is accepted", what, bits);
        return HB_OK;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &glen) != 1)
            return hb_fail_ossl(err, HB_E_VERIFY, "%s signer EC key has no named curve", what);
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            *ec_field = 32;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            *ec_field = 48;
        else
            return hb_fail(err, HB_E_VERIFY, "%s signer key is on curve %s; only P-256 and "
                           "P-384 are accepted", what, group);
        *is_ec = true;
        return HB_OK;
    }
    return hb_fail(err, HB_E_VERIFY, "%s signer key is %s; only RSA and EC keys are accepted",
                   what, EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key)
                                                             : "of an unknown type");
}

/* ECDSA: DER ECDSA-Sig-Value -> r||s, each left-padded to the field size, as
 * XML-DSig 1.1 §6.4.3 (RFC 4050 §3.3) requires; and back. */
static hb_status ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field,
                                  uint8_t *raw, hb_err *err)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    hb_status st = HB_OK;
    if (s == NULL || p != der + der_len)
        HB_FAIL_OSSL(HB_E_TOKEN, "the signer returned a malformed ECDSA signature");
    const BIGNUM *r = NULL, *sv = NULL;
    ECDSA_SIG_get0(s, &r, &sv);
    if (BN_bn2binpad(r, raw, (int)field) < 0 || BN_bn2binpad(sv, raw + field, (int)field) < 0)
        HB_FAIL_OSSL(HB_E_TOKEN, "the signer returned an ECDSA signature too long for its "
                     "curve");
cleanup:
    ECDSA_SIG_free(s);
    return st;
}

static hb_status ecdsa_raw_to_der(const uint8_t *raw, size_t field, uint8_t **der,
                                  size_t *der_len, hb_err *err)
{
    hb_status st = HB_OK;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)field, NULL);
    BIGNUM *sv = BN_bin2bn(raw + field, (int)field, NULL);
    unsigned char *out = NULL;
    if (s == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(s, r, sv) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "out of memory decoding an ECDSA signature");
    r = sv = NULL; /* owned by s now */
    int n = i2d_ECDSA_SIG(s, &out);
    if (n <= 0)
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot encode an ECDSA signature");
    *der = out;
    *der_len = (size_t)n;
    out = NULL;
cleanup:
    OPENSSL_free(out);
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    return st;
}

static xmlNodePtr add_alg(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *alg,
                          int depth)
{
    xmlNodePtr n = hb_xml_add(parent, ns, name, NULL, depth);
    if (n != NULL && xmlNewProp(n, BAD_CAST "Algorithm", BAD_CAST alg) == NULL)
        return NULL;
    return n;
}

hb_status hb_xmldsig_sign(xmlDocPtr doc, X509 *signer_cert, hb_sign_fn sign, void *sign_ctx,
                          hb_err *err)
{
    hb_status st = HB_OK;
    bool is_ec = false;
    size_t field = 0;
    uint8_t *c14n = NULL, *sig = NULL, *cert_der = NULL;
    size_t c14n_len = 0, sig_len = 0;
    char *b64 = NULL;
    uint8_t digest[SHA256_LEN];
    uint8_t raw[96];

    xmlNodePtr root = xmlDocGetRootElement(doc);
    HB_ENSURE(root != NULL, HB_E_USAGE, "cannot sign an empty document");
    HB_TRY(hb_xmldsig_check_key(X509_get0_pubkey(signer_cert), &is_ec, &field, "manifest",
                                err));

    /* Build the whole Signature first (empty DigestValue and SignatureValue)
     * so the whitespace around it is in place when the digest is taken. */
    xmlNodePtr sig_el = hb_xml_add(root, NULL, "Signature", NULL, 1);
    xmlNsPtr ns = sig_el != NULL ? xmlNewNs(sig_el, BAD_CAST HB_XMLDSIG_NS, NULL) : NULL;
    HB_ENSURE(ns != NULL && hb_xml_indent(root, 0), HB_E_INTERNAL, OOM_SIGNATURE);
    xmlSetNs(sig_el, ns);
    xmlNodePtr si = hb_xml_add(sig_el, ns, "SignedInfo", NULL, 2);
    xmlNodePtr ref = NULL, tr = NULL, dv = NULL, sv = NULL, ki = NULL, xd = NULL;
    bool ok = si != NULL && add_alg(si, ns, "CanonicalizationMethod", ALG_EXC_C14N, 3) &&
              add_alg(si, ns, "SignatureMethod", is_ec ? ALG_ECDSA_SHA256 : ALG_RSA_SHA256, 3) &&
              (ref = hb_xml_add(si, ns, "Reference", NULL, 3)) != NULL &&
              xmlNewProp(ref, BAD_CAST "URI", BAD_CAST "") != NULL &&
              (tr = hb_xml_add(ref, ns, "Transforms", NULL, 4)) != NULL &&
              add_alg(tr, ns, "Transform", ALG_ENVELOPED, 5) &&
              add_alg(tr, ns, "Transform", ALG_EXC_C14N, 5) && hb_xml_indent(tr, 4) &&
              add_alg(ref, ns, "DigestMethod", ALG_SHA256, 4) &&
              (dv = hb_xml_add(ref, ns, "DigestValue", NULL, 4)) != NULL &&
              hb_xml_indent(ref, 3) && hb_xml_indent(si, 2) &&
              (sv = hb_xml_add(sig_el, ns, "SignatureValue", NULL, 2)) != NULL &&
              (ki = hb_xml_add(sig_el, ns, "KeyInfo", NULL, 2)) != NULL &&
              (xd = hb_xml_add(ki, ns, "X509Data", NULL, 3)) != NULL &&
              hb_xml_indent(ki, 2) && hb_xml_indent(sig_el, 1);
    HB_ENSURE(ok, HB_E_INTERNAL, OOM_SIGNATURE);
    int der_len = i2d_X509(signer_cert, &cert_der);
    if (der_len <= 0)
        HB_FAIL_OSSL(HB_E_USAGE, "cannot encode the signer certificate");
    HB_ENSURE(hb_xml_add_b64(xd, ns, "X509Certificate", cert_der, (size_t)der_len, 4) != NULL &&
              hb_xml_indent(xd, 3), HB_E_INTERNAL, OOM_SIGNATURE);

    /* Reference: URI="" is the document without comments; the enveloped
     * transform (XML-DSig §6.6.4) removes this Signature; then exc-C14N. */
    HB_TRY(hb_xml_c14n(doc, NULL, sig_el, &c14n, &c14n_len, err));
    if (EVP_Digest(c14n, c14n_len, digest, NULL, EVP_sha256(), NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 failed");
    HB_TRY(hb_base64_encode(digest, sizeof digest, &b64, err));
    xmlNodeAddContent(dv, BAD_CAST b64);
    free(b64);
    b64 = NULL;
    free(c14n);
    c14n = NULL;

    /* SignatureValue is over exc-C14N(SignedInfo) (XML-DSig §3.1.2). */
    HB_TRY(hb_xml_c14n(doc, si, NULL, &c14n, &c14n_len, err));
    HB_TRY(sign(sign_ctx, c14n, c14n_len, &sig, &sig_len, err));
    HB_ENSURE(sig != NULL && sig_len > 0, HB_E_TOKEN, "the signer returned an empty signature");
    if (is_ec) {
        HB_TRY(ecdsa_der_to_raw(sig, sig_len, field, raw, err));
        HB_TRY(hb_base64_encode(raw, 2 * field, &b64, err));
    } else {
        HB_TRY(hb_base64_encode(sig, sig_len, &b64, err));
    }
    xmlNodeAddContent(sv, BAD_CAST b64);
cleanup:
    free(b64);
    free(c14n);
    OPENSSL_free(sig);
    OPENSSL_free(cert_der);
    return st;
}

/* ---- verification ---- */

/* Only whitespace between the elements of a signature. */
static bool blank(const xmlChar *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* The element's children are exactly the dsig elements in names (in order),
 * separated by whitespace only; got[] receives them. */
static hb_status expect_children(xmlNodePtr el, const char *const *names, size_t n,
                                 xmlNodePtr *got, const char *what, hb_err *err)
{
    size_t i = 0;
    for (xmlNodePtr c = el->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE && blank(c->content))
            continue;
        if (c->type != XML_ELEMENT_NODE)
            return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) holds "
                           "text or other content", what, (const char *)el->name,
                           (int)xmlGetLineNo(el));
        if (i >= n || !hb_xml_is(c, HB_XMLDSIG_NS, names[i]))
            return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: unexpected <%s> in "
                           "<%s> (line %d); expected %s%s%s", what, (const char *)c->name,
                           (const char *)el->name, (int)xmlGetLineNo(c),
                           i < n ? "<" : "nothing more", i < n ? names[i] : "",
                           i < n ? ">" : "");
        got[i++] = c;
    }
    if (i != n)
        return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) lacks <%s>",
                       what, (const char *)el->name, (int)xmlGetLineNo(el), names[i]);
    return HB_OK;
}

/* The element has exactly one attribute (attr, no namespace) or none when
 * attr is NULL, and declares no namespaces; *val receives its value. */
static hb_status expect_attr(xmlNodePtr el, const char *attr, const char *what, char **val,
                             hb_err *err)
{
    int count = 0;
    for (xmlAttrPtr a = el->properties; a != NULL; a = a->next) {
        if (attr == NULL || a->ns != NULL || !xmlStrEqual(a->name, BAD_CAST attr))
            return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) has an "
                           "unexpected attribute '%s'", what, (const char *)el->name,
                           (int)xmlGetLineNo(el), (const char *)a->name);
        count++;
    }
    /* Only <Signature> itself may declare a namespace, and only dsig's. */
    bool may_declare = hb_xml_is(el, HB_XMLDSIG_NS, "Signature");
    if (el->nsDef != NULL &&
        (!may_declare || el->nsDef->next != NULL ||
         !xmlStrEqual(el->nsDef->href, BAD_CAST HB_XMLDSIG_NS)))
        return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) declares "
                       "an unexpected namespace", what, (const char *)el->name,
                       (int)xmlGetLineNo(el));
    if (attr != NULL) {
        if (count != 1)
            return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) lacks "
                           "its %s attribute", what, (const char *)el->name,
                           (int)xmlGetLineNo(el), attr);
        xmlChar *v = xmlGetNoNsProp(el, BAD_CAST attr);
        *val = strdup(v != NULL ? (const char *)v : "");
        xmlFree(v);
        if (*val == NULL)
            return hb_fail_oom(err);
    }
    return HB_OK;
}

/* An algorithm element: one Algorithm attribute equal to want (one of
 * want/want2), and no children (no parameters such as HMACOutputLength or
 * InclusiveNamespaces). */
static hb_status expect_alg(xmlNodePtr el, const char *want, const char *want2,
                            const char *what, const char **which, hb_err *err)
{
    hb_status st = HB_OK;
    char *alg = NULL;
    HB_TRY(expect_attr(el, "Algorithm", what, &alg, err));
    for (xmlNodePtr c = el->children; c != NULL; c = c->next)
        HB_ENSURE(c->type == XML_TEXT_NODE && blank(c->content), HB_E_VERIFY,
                  "%s signature is malformed: <%s> (line %d) has parameters; none are "
                  "accepted", what, (const char *)el->name, (int)xmlGetLineNo(el));
    const char *found = strcmp(alg, want) == 0                      ? want
                        : want2 != NULL && strcmp(alg, want2) == 0 ? want2
                                                                    : NULL;
    HB_ENSURE(found != NULL, HB_E_VERIFY, "%s signature uses an unsupported algorithm: %s '%s' "
              "(only '%s'%s%s%s is accepted)", what, (const char *)el->name, alg, want,
              want2 != NULL ? " or '" : "", want2 != NULL ? want2 : "",
              want2 != NULL ? "'" : "");
    if (which != NULL)
        *which = found;
cleanup:
    free(alg);
    return st;
}

static hb_status text_b64(xmlNodePtr el, const char *what, uint8_t **out, size_t *out_len,
                          hb_err *err)
{
    for (xmlNodePtr c = el->children; c != NULL; c = c->next)
        if (c->type != XML_TEXT_NODE)
            return hb_fail(err, HB_E_VERIFY, "%s signature is malformed: <%s> (line %d) must "
                           "hold base64 text only", what, (const char *)el->name,
                           (int)xmlGetLineNo(el));
    char *t = hb_xml_text(el);
    if (t == NULL)
        return hb_fail_oom(err);
    hb_status st = hb_base64_decode(t, out, out_len, err);
    free(t);
    if (st != HB_OK) {
        hb_err_prefix(err, "%s signature is malformed: <%s> (line %d)", what,
                      (const char *)el->name, (int)xmlGetLineNo(el));
        if (err != NULL)
            err->status = HB_E_VERIFY;
        return HB_E_VERIFY;
    }
    return HB_OK;
}

/* Where is the one Signature? Every dsig Signature element anywhere in the
 * document is counted, so a second (wrapped) one cannot hide in a child. */
static hb_status find_signature(xmlDocPtr doc, const char *what, xmlNodePtr *out,
                                hb_err *err)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr found = NULL;
    size_t count = 0;
    xmlNodePtr n = root;
    while (n != NULL) {
        if (n->type == XML_ELEMENT_NODE && hb_xml_is(n, HB_XMLDSIG_NS, "Signature")) {
            count++;
            if (found == NULL)
                found = n;
        }
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != NULL && n != root && n->next == NULL)
            n = n->parent;
        n = (n == NULL || n == root) ? NULL : n->next;
    }
    if (count == 0)
        return hb_fail(err, HB_E_VERIFY, "%s is not signed: it has no XML-DSig <Signature>",
                       what);
    if (count > 1)
        return hb_fail(err, HB_E_VERIFY, "%s has %zu <Signature> elements; exactly one is "
                       "allowed (a second one is a signature-wrapping attempt)", what, count);
    xmlNodePtr last = NULL;
    for (xmlNodePtr c = hb_xml_first_elem(root); c != NULL; c = hb_xml_next_elem(c))
        last = c;
    if (found->parent != root || found != last)
        return hb_fail(err, HB_E_VERIFY, "%s signature is not the last child of the root "
                       "element (line %d); refusing it (signature-wrapping attempt?)", what,
                       (int)xmlGetLineNo(found));
    *out = found;
    return HB_OK;
}

/* The parts of a signature whose shape checked out (pointers into the
 * document), and what their text decodes to. */
typedef struct sig_parts {
    xmlNodePtr signature, signed_info, digest_value, signature_value, certificate;
    const char *sig_alg;          /* ALG_RSA_SHA256 or ALG_ECDSA_SHA256 */
    uint8_t *digest, *value, *cert_der;
    size_t digest_len, value_len, cert_der_len;
    X509 *cert;                   /* from KeyInfo */
    bool is_ec;
    size_t ec_field;
} sig_parts;

static void sig_parts_clear(sig_parts *p)
{
    free(p->digest);
    free(p->value);
    free(p->cert_der);
    X509_free(p->cert);
}

/* Stage 1, the shape: every element, attribute and algorithm exactly as
 * the one profile writes them, before any decoding or cryptography. */
static hb_status check_shape(sig_parts *p, const char *what, hb_err *err)
{
    static const char *const top_names[] = {"SignedInfo", "SignatureValue", "KeyInfo"};
    static const char *const si_names[] = {"CanonicalizationMethod", "SignatureMethod",
                                           "Reference"};
    static const char *const ref_names[] = {"Transforms", "DigestMethod", "DigestValue"};
    static const char *const tr_names[] = {"Transform", "Transform"};
    static const char *const ki_names[] = {"X509Data"};
    static const char *const xd_names[] = {"X509Certificate"};
    hb_status st = HB_OK;
    xmlNodePtr top[3], si_kids[3], ref_kids[3], tr_kids[2], ki_kids[1], xd_kids[1];
    char *uri = NULL;

    HB_TRY(expect_attr(p->signature, NULL, what, NULL, err));
    HB_TRY(expect_children(p->signature, top_names, 3, top, what, err));
    HB_TRY(expect_attr(top[0], NULL, what, NULL, err));
    HB_TRY(expect_children(top[0], si_names, 3, si_kids, what, err));
    HB_TRY(expect_alg(si_kids[0], ALG_EXC_C14N, NULL, what, NULL, err));
    HB_TRY(expect_alg(si_kids[1], ALG_RSA_SHA256, ALG_ECDSA_SHA256, what, &p->sig_alg, err));
    HB_TRY(expect_attr(si_kids[2], "URI", what, &uri, err));
    HB_ENSURE(uri[0] == '\0', HB_E_VERIFY, "%s signature must cover the whole document: "
              "Reference URI is '%s', only URI=\"\" is accepted", what, uri);
    HB_TRY(expect_children(si_kids[2], ref_names, 3, ref_kids, what, err));
    HB_TRY(expect_attr(ref_kids[0], NULL, what, NULL, err));
    HB_TRY(expect_children(ref_kids[0], tr_names, 2, tr_kids, what, err));
    HB_TRY(expect_alg(tr_kids[0], ALG_ENVELOPED, NULL, what, NULL, err));
    HB_TRY(expect_alg(tr_kids[1], ALG_EXC_C14N, NULL, what, NULL, err));
    HB_TRY(expect_alg(ref_kids[1], ALG_SHA256, NULL, what, NULL, err));
    HB_TRY(expect_attr(ref_kids[2], NULL, what, NULL, err));
    HB_TRY(expect_attr(top[1], NULL, what, NULL, err));
    HB_TRY(expect_attr(top[2], NULL, what, NULL, err));
    HB_TRY(expect_children(top[2], ki_names, 1, ki_kids, what, err));
    HB_TRY(expect_attr(ki_kids[0], NULL, what, NULL, err));
    HB_TRY(expect_children(ki_kids[0], xd_names, 1, xd_kids, what, err));
    HB_TRY(expect_attr(xd_kids[0], NULL, what, NULL, err));
    p->signed_info = top[0];
    p->signature_value = top[1];
    p->digest_value = ref_kids[2];
    p->certificate = xd_kids[0];
cleanup:
    free(uri);
    return st;
}

/* Stage 2, the values: the digest, the signature value and the signer
 * certificate decoded, and the certificate's key one that fits the
 * SignatureMethod. */
static hb_status read_values(sig_parts *p, const char *what, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(text_b64(p->digest_value, what, &p->digest, &p->digest_len, err));
    HB_TRY(text_b64(p->signature_value, what, &p->value, &p->value_len, err));
    HB_TRY(text_b64(p->certificate, what, &p->cert_der, &p->cert_der_len, err));
    HB_ENSURE(p->digest_len == SHA256_LEN, HB_E_VERIFY, "%s signature is malformed: "
              "DigestValue is %zu bytes, SHA-256 gives 32", what, p->digest_len);
    const unsigned char *q = p->cert_der;
    p->cert = d2i_X509(NULL, &q, (long)p->cert_der_len);
    if (p->cert == NULL || q != p->cert_der + p->cert_der_len)
        HB_FAIL_OSSL(HB_E_VERIFY, "%s signature is malformed: X509Certificate is not a DER "
                     "certificate", what);
    HB_TRY(hb_xmldsig_check_key(X509_get0_pubkey(p->cert), &p->is_ec, &p->ec_field, what,
                                err));
    HB_ENSURE(p->is_ec == (strcmp(p->sig_alg, ALG_ECDSA_SHA256) == 0), HB_E_VERIFY,
              "%s signature is malformed: SignatureMethod '%s' does not fit the signer's %s "
              "key", what, p->sig_alg, p->is_ec ? "EC" : "RSA");
cleanup:
    return st;
}

/* Stage 3, the reference: the same selection the signer digested (the
 * document minus this Signature, XML-DSig §6.6.4, then exc-C14N). */
static hb_status check_digest(xmlDocPtr doc, const sig_parts *p, const char *what, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *c14n = NULL;
    size_t c14n_len = 0;
    uint8_t digest[SHA256_LEN];
    HB_TRY(hb_xml_c14n(doc, NULL, p->signature, &c14n, &c14n_len, err));
    if (EVP_Digest(c14n, c14n_len, digest, NULL, EVP_sha256(), NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 failed");
    HB_ENSURE(CRYPTO_memcmp(digest, p->digest, sizeof digest) == 0, HB_E_VERIFY,
              "%s signature does not verify: digest mismatch (the %s was changed after it "
              "was signed)", what, what);
cleanup:
    free(c14n);
    return st;
}

/* Stage 4, the signature value over exc-C14N(SignedInfo) (XML-DSig §3.2.2)
 * with the certificate's key; ECDSA's r||s goes back to DER for OpenSSL. */
static hb_status check_value(xmlDocPtr doc, const sig_parts *p, const char *what, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *c14n = NULL, *der_sig = NULL;
    size_t c14n_len = 0, der_sig_len = 0;
    EVP_MD_CTX *md = NULL;
    const uint8_t *vsig = p->value;
    size_t vsig_len = p->value_len;
    HB_TRY(hb_xml_c14n(doc, p->signed_info, NULL, &c14n, &c14n_len, err));
    if (p->is_ec) {
        HB_ENSURE(p->value_len == 2 * p->ec_field, HB_E_VERIFY, "%s signature is malformed: "
                  "an ECDSA SignatureValue on this curve is %zu bytes, not %zu", what,
                  2 * p->ec_field, p->value_len);
        HB_TRY(ecdsa_raw_to_der(p->value, p->ec_field, &der_sig, &der_sig_len, err));
        vsig = der_sig;
        vsig_len = der_sig_len;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(p->cert)) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot set up signature verification");
    if (EVP_DigestVerify(md, vsig, vsig_len, c14n, c14n_len) != 1)
        HB_FAIL_OSSL(HB_E_VERIFY, "%s signature does not verify: the SignatureValue does not "
                     "match SignedInfo and the signer certificate's key", what);
cleanup:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der_sig);
    free(c14n);
    return st;
}

hb_status hb_xmldsig_verify(xmlDocPtr doc, const char *what, X509 **signer, hb_err *err)
{
    hb_status st = HB_OK;
    sig_parts p = {0};
    if (signer != NULL)
        *signer = NULL;
    HB_TRY(find_signature(doc, what, &p.signature, err));
    HB_TRY(check_shape(&p, what, err));
    HB_TRY(read_values(&p, what, err));
    HB_TRY(check_digest(doc, &p, what, err));
    HB_TRY(check_value(doc, &p, what, err));
    if (signer != NULL) {
        *signer = p.cert;
        p.cert = NULL;
    }
cleanup:
    sig_parts_clear(&p);
    return st;
}
