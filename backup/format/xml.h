/* The one hardened way hsmbak reads XML (manifest, system profile, crypto
 * object store), small tree helpers, and the XML-DSig signer/verifier used by
 * the manifest. Internal to libhsmbak. */
#ifndef HSMBAK_BACKUP_XML_INTERNAL_H
#define HSMBAK_BACKUP_XML_INTERNAL_H

#include "backup/format/manifest.h"
#include "hsmbak/status.h"

#include <libxml/tree.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_XMLDSIG_NS "http://www.w3.org/2000/09/xmldsig#"

/* hb_xml_parse flags. */
#define HB_XML_NO_COMMENTS 0x1u /* reject comments (signed documents: exc-C14N
                                   drops comments, so their text is unsigned) */

/* Parse len bytes of XML, the only entry point for XML input.
 *  - len > cap: HB_E_REFUSED, nothing parsed.
 *  - no network (XML_PARSE_NONET), no entity substitution; any DOCTYPE
 *    (internal or external subset) stops the parser at once, before an entity
 *    could be declared or expanded: HB_E_VERIFY "<what> contains a DTD; ...".
 *  - processing instructions are always rejected (nothing of ours uses them;
 *    a PI is a channel for instructions to other tools); comments are
 *    rejected when flags has HB_XML_NO_COMMENTS.
 *  - schema_rel (e.g. "schema/manifest.xsd", resolved by hb_data_path) when
 *    not NULL: validated with xmlSchemaValidateDoc.
 * libxml2 never prints: its first error is captured into err with the line.
 * what names the document in messages ("manifest", "profile '/x/y.xml'").
 * *out is freed with xmlFreeDoc. */
hb_status hb_xml_parse(const uint8_t *data, size_t len, size_t cap, unsigned flags,
                       const char *schema_rel, const char *what, xmlDocPtr *out,
                       hb_err *err) HB_MUST_CHECK;

/* The shape a document may have, checked while it is parsed (SAX), before
 * any tree beyond the limit is built, so hostile input ends fast and small
 * (issue 11 class 4). Every limit is refused at its first excess with one
 * line "<shown> has more than N <thing> (at most N); <not_ours>". A zero
 * limit is not checked. */
typedef struct hb_xml_shape {
    const char *shown;            /* "manifest '/b/manifest.xml'" */
    const char *not_ours;         /* "it is not a backup hsmbak made" */
    unsigned max_depth;           /* elements nested (the root is 1) */
    unsigned max_elements;        /* in the whole document */
    unsigned max_attributes;      /* in the whole document */
    unsigned max_element_attributes; /* on one element */
    unsigned max_ns_decls;        /* xmlns declarations in the whole document */
    size_t max_text;              /* bytes of one text node */
    unsigned max_nodes;           /* elements, text, comments, PIs, and 2 per
                                     attribute (it and its value's text) */
    /* NULL-terminated: the only namespace URIs that may be declared or used
     * (elements must be in one of them, attributes in none); NULL: any. */
    const char *const *namespaces;
    const char *root_ns, *root_name; /* the root element (NULL: any) */
} hb_xml_shape;

/* hb_xml_parse with a shape (may be NULL: hb_xml_parse). The shape is
 * checked before the schema. */
hb_status hb_xml_parse_shaped(const uint8_t *data, size_t len, size_t cap, unsigned flags,
                              const hb_xml_shape *shape, const char *schema_rel,
                              const char *what, xmlDocPtr *out, hb_err *err) HB_MUST_CHECK;

/* Validate an already parsed document (split from hb_xml_parse so a caller
 * can run its own checks first). HB_E_VERIFY "<what> does not match the
 * schema: line N: ...". */
hb_status hb_xml_validate(xmlDocPtr doc, const char *schema_rel, const char *what,
                          hb_err *err) HB_MUST_CHECK;

/* Element n has namespace ns (NULL: none) and local name name. */
bool hb_xml_is(const xmlNode *n, const char *ns, const char *name);

/* First / next element sibling, skipping text and other nodes. */
xmlNodePtr hb_xml_first_elem(const xmlNode *parent);
xmlNodePtr hb_xml_next_elem(const xmlNode *n);

/* First child element called name in namespace ns, or NULL. */
xmlNodePtr hb_xml_child(const xmlNode *parent, const char *ns, const char *name);

/* Text content of n, malloc'ed (free()); NULL only when out of memory. */
char *hb_xml_text(const xmlNode *n);

/* Text of child element name, malloc'ed into *out; *out = NULL when the
 * element is absent and required is false; HB_E_VERIFY when required. */
hb_status hb_xml_child_text(const xmlNode *parent, const char *ns, const char *name,
                            bool required, const char *what, char **out,
                            hb_err *err) HB_MUST_CHECK;

/* A new document (XML 1.0) whose root element root_name is in the default
 * namespace ns_uri; *root and *ns point into *doc (xmlFreeDoc frees all). */
hb_status hb_xml_new_doc(const char *root_name, const char *ns_uri, xmlDocPtr *doc,
                         xmlNodePtr *root, xmlNsPtr *ns, hb_err *err) HB_MUST_CHECK;

/* doc as UTF-8 with its XML declaration; libxml2's own indentation when
 * indent (stores people read), the document's text nodes as they are
 * otherwise (signed documents). *out is malloc'ed and NUL-terminated; what
 * names the document in messages. */
hb_status hb_xml_serialize(xmlDocPtr doc, bool indent, const char *what, uint8_t **out,
                           size_t *out_len, hb_err *err) HB_MUST_CHECK;

/* Writer helpers: append an indentation text node ("\n" + 2*depth spaces)
 * then a new element (in ns, may be NULL) with optional escaped text. */
xmlNodePtr hb_xml_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text,
                      int depth);
/* Append the "\n" + 2*depth spaces that closes a parent's child list. */
bool hb_xml_indent(xmlNodePtr parent, int depth);
/* hb_xml_add with the base64 of len bytes as its text (certificates, wrapped
 * keys); NULL when out of memory. */
xmlNodePtr hb_xml_add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name,
                          const uint8_t *data, size_t len, int depth);

/* Exclusive C14N 1.0 without comments (exc-c14n §3) of the whole document
 * minus the subtree at `exclude` (may be NULL), or — when `only` is not NULL —
 * of the subtree at `only`. Linear in the document: the selected subtree is
 * marked once (the nodes' _private, cleared afterwards), so each node's
 * visibility is one look-up. *out is malloc'ed. */
hb_status hb_xml_c14n(xmlDocPtr doc, xmlNodePtr only, xmlNodePtr exclude, uint8_t **out,
                      size_t *out_len, hb_err *err) HB_MUST_CHECK;

/* The string is UTF-8 without control characters (what XML 1.0 can carry and
 * what a C14N round trip keeps byte for byte). */
bool hb_xml_text_ok(const char *s);

/* XML-DSig (xmldsig.c). Append an enveloped signature as the last child of
 * the root (indented at depth 1), signed with sign() over exc-C14N of
 * SignedInfo; KeyInfo carries signer_cert only. */
hb_status hb_xmldsig_sign(xmlDocPtr doc, X509 *signer_cert, hb_sign_fn sign, void *sign_ctx,
                          hb_err *err) HB_MUST_CHECK;

/* Verify the enveloped signature of doc strictly (see manifest.h for the
 * rules); *signer receives the certificate from KeyInfo (the caller decides
 * trust). what names the document ("manifest"). */
hb_status hb_xmldsig_verify(xmlDocPtr doc, const char *what, X509 **signer,
                            hb_err *err) HB_MUST_CHECK;

/* The signer key is one hsmbak accepts: RSA >= 2048 bits, EC P-256 or P-384.
 * *is_ec tells which; *ec_field is the EC field size in bytes. */
hb_status hb_xmldsig_check_key(EVP_PKEY *key, bool *is_ec, size_t *ec_field,
                               const char *what, hb_err *err) HB_MUST_CHECK;

#endif
