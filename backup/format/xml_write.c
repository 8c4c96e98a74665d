/* Making XML documents (backup/format/xml.h): a new document with its root
 * element in a default namespace, and serialising one, for the manifest and
 * every store the library writes (crypto objects, custody, transcript). */
#include "backup/format/xml.h"

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
    xmlChar *buf = NULL;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", indent ? 1 : 0);
    if (buf == NULL || len <= 0) {
        xmlFree(buf);
        return hb_fail(err, HB_E_INTERNAL, "cannot serialise the %s", what);
    }
    /* xmlChar memory belongs to libxml2's allocator: hand over a malloc'ed copy. */
    uint8_t *copy = malloc((size_t)len + 1);
    if (copy == NULL) {
        xmlFree(buf);
        return hb_fail_oom(err);
    }
    memcpy(copy, buf, (size_t)len + 1);
    xmlFree(buf);
    *out = copy;
    *out_len = (size_t)len;
    return HB_OK;
}
