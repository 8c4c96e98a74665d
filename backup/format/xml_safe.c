/* The hardened XML reader every XML input goes through (DESIGN §4.3: no
 * network, no entity expansion, no DTD, a size cap), plus tree helpers for
 * reading and exclusive canonicalization. Writing is xml_write.c. */
#include "backup/format/xml.h"

#include "common/buf.h"
#include "common/datadir.h"
#include "common/fail.h"

#include <libxml/c14n.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First error libxml2 reports while we are parsing or validating. */
typedef struct xml_errs {
    bool have;
    int line;
    char msg[512];
    bool dtd;     /* a DOCTYPE or entity declaration was seen */
} xml_errs;

static void record_error(xml_errs *e, const xmlError *x)
{
    if (e == NULL || x == NULL || x->level < XML_ERR_ERROR || e->have)
        return;
    const char *m = x->message != NULL ? x->message : "unknown error";
    /* libxml2 messages end in a newline; ours are one line. A message longer
     * than msg is cut: the first part still says what went wrong, and the
     * whole hb_err is capped anyway. */
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    if (n >= sizeof e->msg)
        n = sizeof e->msg - 1;
    memcpy(e->msg, m, n);
    e->msg[n] = '\0';
    e->have = true;
    e->line = x->line;
}

static void on_struct_error(void *ctx, xmlErrorPtr x)
{
    record_error(ctx, x);
}

/* Parser SAX callbacks get the parser context; our state is in _private. */
static void on_parser_error(void *ctx, xmlErrorPtr x)
{
    xmlParserCtxtPtr p = ctx;
    record_error(p != NULL ? p->_private : NULL, x);
}

static void silent_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/* Any DOCTYPE ends the parse here, before the internal subset is read, so no
 * entity is ever declared (billion laughs) or external subset fetched (XXE);
 * an entity declaration that got this far ends it too. */
static void stop_at_dtd(void *ctx)
{
    xmlParserCtxtPtr p = ctx;
    ((xml_errs *)p->_private)->dtd = true;
    xmlStopParser(p);
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                               const xmlChar *sys_id)
{
    (void)name;
    (void)ext_id;
    (void)sys_id;
    stop_at_dtd(ctx);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    stop_at_dtd(ctx);
}

/* libxml2's error handlers are thread-local globals; set ours for the call
 * and put the caller's back afterwards so nothing reaches stderr. */
typedef struct saved_handlers {
    xmlStructuredErrorFunc serror;
    void *serror_ctx;
    xmlGenericErrorFunc generic;
    void *generic_ctx;
} saved_handlers;

static void handlers_push(saved_handlers *s, xml_errs *e)
{
    s->serror = xmlStructuredError;
    s->serror_ctx = xmlStructuredErrorContext;
    s->generic = xmlGenericError;
    s->generic_ctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(e, on_struct_error);
    xmlSetGenericErrorFunc(NULL, silent_generic);
}

static void handlers_pop(const saved_handlers *s)
{
    xmlSetStructuredErrorFunc(s->serror_ctx, s->serror);
    xmlSetGenericErrorFunc(s->generic_ctx, s->generic);
}

/* Walk the tree once: PIs always refused, comments when asked, and anything
 * DTD- or entity-shaped that slipped past the parser callbacks. */
static hb_status check_tree(xmlDocPtr doc, unsigned flags, const char *what, hb_err *err)
{
    if (doc->intSubset != NULL || doc->extSubset != NULL)
        return hb_fail(err, HB_E_VERIFY, "%s contains a DTD; refusing to parse it", what);
    xmlNodePtr n = doc->children;
    while (n != NULL) {
        switch (n->type) {
        case XML_PI_NODE:
            return hb_fail(err, HB_E_VERIFY, "%s contains a processing instruction "
                           "(line %d); refusing it", what, (int)xmlGetLineNo(n));
        case XML_COMMENT_NODE:
            if (flags & HB_XML_NO_COMMENTS)
                return hb_fail(err, HB_E_VERIFY, "%s contains a comment (line %d); signed "
                               "documents may not carry unsigned text", what,
                               (int)xmlGetLineNo(n));
            break;
        case XML_DTD_NODE:
        case XML_ENTITY_DECL:
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
            return hb_fail(err, HB_E_VERIFY, "%s contains a DTD; refusing to parse it", what);
        case XML_XINCLUDE_START:
        case XML_XINCLUDE_END:
            return hb_fail(err, HB_E_VERIFY, "%s contains XInclude nodes; refusing it", what);
        default:
            break;
        }
        /* Depth-first without recursion (attribute children are text). */
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != NULL && n->next == NULL)
            n = (n->parent == (xmlNodePtr)doc) ? NULL : n->parent;
        if (n != NULL)
            n = n->next;
    }
    return HB_OK;
}

hb_status hb_xml_validate(xmlDocPtr doc, const char *schema_rel, const char *what,
                          hb_err *err)
{
    hb_status st = HB_OK;
    xml_errs e = {0};
    saved_handlers saved;
    xmlSchemaParserCtxtPtr pctxt = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vctxt = NULL;
    char path[4096];

    handlers_push(&saved, &e);
    HB_TRY(hb_data_path(schema_rel, path, sizeof path, err));
    HB_ENSURE(access(path, R_OK) == 0, HB_E_NOT_FOUND, "schema '%s' not found (looked in "
              "'%s'; set HSMBAK_DATADIR to the directory that holds schema/)", schema_rel,
              path);
    pctxt = xmlSchemaNewParserCtxt(path);
    HB_ENSURE(pctxt != NULL, HB_E_INTERNAL, "out of memory loading schema '%s'", path);
    xmlSchemaSetParserStructuredErrors(pctxt, on_struct_error, &e);
    schema = xmlSchemaParse(pctxt);
    HB_ENSURE(schema != NULL, HB_E_INTERNAL, "cannot load schema '%s': line %d: %s", path,
              e.line, e.have ? e.msg : "unknown error");
    vctxt = xmlSchemaNewValidCtxt(schema);
    HB_ENSURE(vctxt != NULL, HB_E_INTERNAL, "out of memory validating %s", what);
    xmlSchemaSetValidStructuredErrors(vctxt, on_struct_error, &e);
    HB_ENSURE(xmlSchemaValidateDoc(vctxt, doc) == 0, HB_E_VERIFY, "%s does not match the "
              "schema: line %d: %s", what, e.line, e.have ? e.msg : "validation failed");
cleanup:
    xmlSchemaFreeValidCtxt(vctxt);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctxt);
    handlers_pop(&saved);
    return st;
}

hb_status hb_xml_parse(const uint8_t *data, size_t len, size_t cap, unsigned flags,
                       const char *schema_rel, const char *what, xmlDocPtr *out,
                       hb_err *err)
{
    hb_status st = HB_OK;
    xml_errs e = {0};
    saved_handlers saved;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;

    *out = NULL;
    if (cap > INT_MAX)
        cap = INT_MAX; /* libxml2 takes an int length */
    handlers_push(&saved, &e);
    HB_ENSURE(len <= cap, HB_E_REFUSED, "%s is %zu bytes, more than the limit of %zu bytes; "
              "refusing to parse it", what, len, cap);
    HB_ENSURE(len > 0, HB_E_VERIFY, "%s is empty", what);
    ctxt = xmlCreateMemoryParserCtxt((const char *)data, (int)len);
    HB_ENSURE(ctxt != NULL, HB_E_INTERNAL, "out of memory parsing %s", what);
    /* NONET: never fetch anything; no NOENT: entities are not substituted;
     * no DTDLOAD/DTDATTR/DTDVALID: nothing from a DTD is ever applied. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET);
    ctxt->_private = &e;
    ctxt->sax->serror = on_parser_error;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->externalSubset = on_internal_subset;
    ctxt->sax->entityDecl = on_entity_decl;
    ctxt->vctxt.error = silent_generic;
    ctxt->vctxt.warning = silent_generic;

    (void)xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    HB_ENSURE(!e.dtd, HB_E_VERIFY, "%s contains a DTD; refusing to parse it", what);
    HB_ENSURE(ctxt->wellFormed && doc != NULL, HB_E_VERIFY, "%s is not well-formed XML: "
              "line %d: %s", what, e.line, e.have ? e.msg : "parse error");
    HB_ENSURE(xmlDocGetRootElement(doc) != NULL, HB_E_VERIFY, "%s has no root element", what);
    HB_TRY(check_tree(doc, flags, what, err));
    if (schema_rel != NULL) {
        handlers_pop(&saved);
        st = hb_xml_validate(doc, schema_rel, what, err);
        handlers_push(&saved, &e);
        if (st != HB_OK)
            goto cleanup;
    }
    *out = doc;
    doc = NULL;
cleanup:
    xmlFreeDoc(doc);
    if (ctxt != NULL)
        xmlFreeParserCtxt(ctxt);
    handlers_pop(&saved);
    return st;
}

bool hb_xml_is(const xmlNode *n, const char *ns, const char *name)
{
    if (n == NULL || n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST name))
        return false;
    if (ns == NULL)
        return n->ns == NULL;
    return n->ns != NULL && xmlStrEqual(n->ns->href, BAD_CAST ns);
}

xmlNodePtr hb_xml_first_elem(const xmlNode *parent)
{
    xmlNodePtr c = parent != NULL ? parent->children : NULL;
    while (c != NULL && c->type != XML_ELEMENT_NODE)
        c = c->next;
    return c;
}

xmlNodePtr hb_xml_next_elem(const xmlNode *n)
{
    xmlNodePtr c = n != NULL ? n->next : NULL;
    while (c != NULL && c->type != XML_ELEMENT_NODE)
        c = c->next;
    return c;
}

xmlNodePtr hb_xml_child(const xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = hb_xml_first_elem(parent); c != NULL; c = hb_xml_next_elem(c))
        if (hb_xml_is(c, ns, name))
            return c;
    return NULL;
}

char *hb_xml_text(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = strdup(t != NULL ? (const char *)t : "");
    xmlFree(t);
    return s;
}

hb_status hb_xml_child_text(const xmlNode *parent, const char *ns, const char *name,
                            bool required, const char *what, char **out, hb_err *err)
{
    *out = NULL;
    xmlNodePtr c = hb_xml_child(parent, ns, name);
    if (c == NULL) {
        if (!required)
            return HB_OK;
        return hb_fail(err, HB_E_VERIFY, "%s: line %d: <%s> lacks <%s>", what,
                       (int)xmlGetLineNo(parent), (const char *)parent->name, name);
    }
    *out = hb_xml_text(c);
    if (*out == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory reading %s", what);
    return HB_OK;
}

bool hb_xml_text_ok(const char *s)
{
    if (s == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return xmlCheckUTF8(BAD_CAST s) != 0;
}

/* Node-set selection for xmlC14NExecute (XPath data model: namespace nodes
 * are reported with their element as parent). */
typedef struct c14n_sel {
    xmlNodePtr only;
    xmlNodePtr exclude;
} c14n_sel;

static bool under(xmlNodePtr n, xmlNodePtr top)
{
    for (; n != NULL; n = n->parent)
        if (n == top)
            return true;
    return false;
}

static int c14n_visible(void *user, xmlNodePtr node, xmlNodePtr parent)
{
    const c14n_sel *sel = user;
    xmlNodePtr n = (node != NULL && node->type == XML_NAMESPACE_DECL) ? parent : node;
    if (n == NULL)
        return sel->only == NULL;
    if (sel->only != NULL && !under(n, sel->only))
        return 0;
    if (sel->exclude != NULL && under(n, sel->exclude))
        return 0;
    return 1;
}

hb_status hb_xml_c14n(xmlDocPtr doc, xmlNodePtr only, xmlNodePtr exclude, uint8_t **out,
                      size_t *out_len, hb_err *err)
{
    hb_status st = HB_OK;
    xml_errs e = {0};
    saved_handlers saved;
    c14n_sel sel = {only, exclude};
    xmlOutputBufferPtr buf = NULL;

    *out = NULL;
    *out_len = 0;
    handlers_push(&saved, &e);
    buf = xmlAllocOutputBuffer(NULL);
    HB_ALLOC(buf);
    HB_ENSURE(xmlC14NExecute(doc, c14n_visible, &sel, XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf) >= 0,
              HB_E_INTERNAL, "exclusive XML canonicalization failed: %s",
              e.have ? e.msg : "unknown error");
    HB_ENSURE(xmlOutputBufferFlush(buf) >= 0, HB_E_INTERNAL,
              "exclusive XML canonicalization failed to flush");
    size_t n = xmlOutputBufferGetSize(buf);
    uint8_t *copy = hb_memdup(xmlOutputBufferGetContent(buf), n);
    HB_ALLOC(copy);
    *out = copy;
    *out_len = n;
cleanup:
    if (buf != NULL)
        xmlOutputBufferClose(buf);
    handlers_pop(&saved);
    return st;
}
