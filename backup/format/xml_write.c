/* Making XML documents (backup/format/xml.h): a new document with its root
 * element in a default namespace, elements and indentation added by hand,
 * and serialising one, for the manifest and every store the library writes
 * (crypto objects, custody, transcript). */
#include "backup/format/xml.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

hb_status hb_xml_new_doc(const char *root_name, const char *ns_uri, xmlDocPtr *doc_out,
                         xmlNodePtr *root_out, xmlNsPtr *ns_out, hb_err *err)
{
    hb_status st = HB_OK;
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc != NULL ? xmlNewDocNode(doc, NULL, BAD_CAST root_name, NULL) : NULL;
    HB_ALLOC(root);
    xmlDocSetRootElement(doc, root);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST ns_uri, NULL);
    HB_ALLOC(ns);
    xmlSetNs(root, ns);
    *doc_out = doc;
    *root_out = root;
    *ns_out = ns;
    doc = NULL;
cleanup:
    xmlFreeDoc(doc);
    return st;
}

hb_status hb_xml_serialize(xmlDocPtr doc, bool indent, const char *what, uint8_t **out,
                           size_t *out_len, hb_err *err)
{
    hb_status st = HB_OK;
    xmlChar *buf = NULL;
    uint8_t *copy = NULL;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", indent ? 1 : 0);
    HB_ENSURE(buf != NULL && len > 0, HB_E_INTERNAL, "cannot serialise the %s", what);
    /* xmlChar memory belongs to libxml2's allocator: hand over a malloc'ed copy. */
    HB_ALLOC(copy = hb_memdup(buf, (size_t)len));
    *out = copy;
    *out_len = (size_t)len;
    copy = NULL;
cleanup:
    free(copy);
    xmlFree(buf);
    return st;
}

/* ---- building a document by hand ----
 * Signed documents are never re-indented by libxml2: the whitespace between
 * their elements is written as text nodes, so what is signed is what is
 * serialised, byte for byte. */

bool hb_xml_indent(xmlNodePtr parent, int depth)
{
    char buf[1 + 2 * 16 + 1];
    if (depth < 0)
        depth = 0;
    if (depth > 16)
        depth = 16;
    buf[0] = '\n';
    memset(buf + 1, ' ', (size_t)depth * 2);
    buf[1 + depth * 2] = '\0';
    xmlNodePtr t = xmlNewDocText(parent->doc, BAD_CAST buf);
    if (t == NULL)
        return false;
    if (xmlAddChild(parent, t) == NULL) {
        xmlFreeNode(t);
        return false;
    }
    return true;
}

xmlNodePtr hb_xml_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text,
                      int depth)
{
    if (!hb_xml_indent(parent, depth))
        return NULL;
    xmlNodePtr n = xmlNewDocNode(parent->doc, ns, BAD_CAST name, NULL);
    if (n == NULL)
        return NULL;
    if (text != NULL) {
        /* A text node, so the content is escaped on output, never parsed. */
        xmlNodePtr t = xmlNewDocText(parent->doc, BAD_CAST text);
        if (t == NULL || xmlAddChild(n, t) == NULL) {
            xmlFreeNode(t);
            xmlFreeNode(n);
            return NULL;
        }
    }
    if (xmlAddChild(parent, n) == NULL) {
        xmlFreeNode(n);
        return NULL;
    }
    return n;
}

xmlNodePtr hb_xml_add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name,
                          const uint8_t *data, size_t len, int depth)
{
    char *b64 = NULL;
    if (hb_base64_encode(data, len, &b64, NULL) != HB_OK)
        return NULL;
    xmlNodePtr n = hb_xml_add(parent, ns, name, b64, depth);
    free(b64);
    return n;
}
