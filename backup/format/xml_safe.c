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
#include <libxml/SAX2.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The shape check while parsing (hb_xml_shape): counts so far, and the
 * SAX2 handlers it wraps. */
typedef struct shape_state {
    const hb_xml_shape *lim;
    startElementNsSAX2Func start;
    endElementNsSAX2Func end;
    charactersSAXFunc characters;
    ignorableWhitespaceSAXFunc whitespace;
    cdataBlockSAXFunc cdata;
    commentSAXFunc comment;
    processingInstructionSAXFunc pi;
    unsigned depth, elements, attributes, ns_decls, nodes;
    size_t text;         /* bytes of the text node being read */
    bool in_text;        /* the last thing read was text (one node) */
    bool failed;
    char msg[512];
} shape_state;

/* First error libxml2 reports while we are parsing or validating. */
typedef struct xml_errs {
    bool have;
    int line;
    char msg[512];
    bool dtd;     /* a DOCTYPE or entity declaration was seen */
    shape_state *shape; /* NULL: no shape check */
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

/* ---- the shape check (SAX2, while parsing) ---- */

static shape_state *shape_of(void *ctx)
{
    xmlParserCtxtPtr p = ctx;
    return ((xml_errs *)p->_private)->shape;
}

/* "<shown> <what>; <not_ours>" into out: one line, cut (on a UTF-8
 * character boundary) when it does not fit. */
static void shape_message(char *out, size_t cap, const hb_xml_shape *lim, const char *fmt,
                          va_list ap) __attribute__((format(printf, 4, 0)));
static void shape_message(char *out, size_t cap, const hb_xml_shape *lim, const char *fmt,
                          va_list ap)
{
    char what[400];
    int n = vsnprintf(what, sizeof what, fmt, ap);
    if (n < 0)
        what[0] = '\0';
    n = snprintf(out, cap, "%s %s; %s", lim->shown, what, lim->not_ours);
    if (n < 0) {
        out[0] = '\0';
    } else if ((size_t)n >= cap) {
        size_t end = cap - 1;
        while (end > 0 && ((unsigned char)out[end] & 0xC0) == 0x80)
            end--;
        out[end] = '\0';
    }
}

/* The pre-scan's refusal: the message into msg; false. */
static bool prescan_refuse(char *msg, size_t cap, const hb_xml_shape *lim, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));
static bool prescan_refuse(char *msg, size_t cap, const hb_xml_shape *lim, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    shape_message(msg, cap, lim, fmt, ap);
    va_end(ap);
    return false;
}

/* Refuse: record the one-line message and stop the parser (nothing more is
 * built). Returns false so callers can `return shape_refuse(...)`. */
static bool shape_refuse(void *ctx, shape_state *sh, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool shape_refuse(void *ctx, shape_state *sh, const char *fmt, ...)
{
    if (!sh->failed) {
        va_list ap;
        va_start(ap, fmt);
        shape_message(sh->msg, sizeof sh->msg, sh->lim, fmt, ap);
        va_end(ap);
        sh->failed = true;
    }
    xmlStopParser(ctx);
    return false;
}

/* Over a limit (0: none) at count n: refuse with "has more than LIM THING". */
static bool shape_count(void *ctx, shape_state *sh, unsigned n, unsigned lim,
                        const char *thing)
{
    if (lim == 0 || n <= lim)
        return true;
    return shape_refuse(ctx, sh, "has more than %u %s (at most %u)", lim, thing, lim);
}

/* A name or URI from the document for a message: at most 80 bytes, cut
 * on a UTF-8 character boundary (libxml2 has checked the encoding). */
typedef struct clip_buf {
    char s[84];
} clip_buf;

static const char *clip(const xmlChar *in, clip_buf *b)
{
    size_t n = 0;
    if (in == NULL)
        in = BAD_CAST "";
    while (in[n] != '\0' && n < 80)
        n++;
    if (in[n] != '\0')
        while (n > 0 && (in[n] & 0xC0) == 0x80)
            n--; /* in[n] starts the character that did not fit */
    memcpy(b->s, in, n);
    b->s[n] = '\0';
    return b->s;
}

static bool shape_ns_ok(const shape_state *sh, const xmlChar *uri)
{
    if (sh->lim->namespaces == NULL)
        return true;
    if (uri == NULL)
        return false;
    for (const char *const *ns = sh->lim->namespaces; *ns != NULL; ns++)
        if (xmlStrEqual(uri, BAD_CAST *ns))
            return true;
    return false;
}

static bool shape_node(void *ctx, shape_state *sh)
{
    sh->in_text = false;
    return shape_count(ctx, sh, ++sh->nodes, sh->lim->max_nodes, "nodes");
}

static void shape_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                        const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                        int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    shape_state *sh = shape_of(ctx);
    const hb_xml_shape *lim = sh->lim;
    int line = xmlSAX2GetLineNumber(ctx);
    clip_buf c1, c2;
    if (!shape_node(ctx, sh) ||
        !shape_count(ctx, sh, ++sh->depth, lim->max_depth, "nested elements") ||
        !shape_count(ctx, sh, ++sh->elements, lim->max_elements, "elements"))
        return;
    if (sh->depth == 1 && lim->root_name != NULL &&
        (!xmlStrEqual(localname, BAD_CAST lim->root_name) || uri == NULL ||
         !xmlStrEqual(uri, BAD_CAST lim->root_ns))) {
        shape_refuse(ctx, sh, "has root element <%s>, expected <%s xmlns=\"%s\">",
                     clip(localname, &c1), lim->root_name, lim->root_ns);
        return;
    }
    sh->ns_decls += nb_namespaces > 0 ? (unsigned)nb_namespaces : 0;
    if (!shape_count(ctx, sh, sh->ns_decls, lim->max_ns_decls, "namespace declarations"))
        return;
    for (int i = 0; i < nb_namespaces; i++)
        if (!shape_ns_ok(sh, namespaces[2 * i + 1])) {
            shape_refuse(ctx, sh, "declares namespace '%s' (line %d), which is neither "
                         "the manifest's nor XML-DSig's", clip(namespaces[2 * i + 1], &c1),
                         line);
            return;
        }
    if (!shape_ns_ok(sh, uri)) {
        shape_refuse(ctx, sh, "has element <%s> (line %d) in %s%s%s, neither the "
                     "manifest's nor XML-DSig's", clip(localname, &c1), line,
                     uri != NULL ? "namespace '" : "no namespace", clip(uri, &c2),
                     uri != NULL ? "'" : "");
        return;
    }
    unsigned n_attrs = nb_attributes > 0 ? (unsigned)nb_attributes : 0;
    if (lim->max_element_attributes != 0 && n_attrs > lim->max_element_attributes) {
        shape_refuse(ctx, sh, "has more than %u attributes on one element (at most %u; "
                     "line %d)", lim->max_element_attributes, lim->max_element_attributes,
                     line);
        return;
    }
    sh->attributes += n_attrs;
    sh->nodes += 2 * n_attrs; /* the attribute and its value's text node */
    if (!shape_count(ctx, sh, sh->attributes, lim->max_attributes, "attributes") ||
        !shape_count(ctx, sh, sh->nodes, lim->max_nodes, "nodes"))
        return;
    /* attributes: localname, prefix, URI, value, end for each. */
    for (unsigned i = 0; i < n_attrs; i++) {
        const xmlChar *const *a = attributes + 5 * i;
        if (lim->namespaces != NULL && a[2] != NULL) {
            shape_refuse(ctx, sh, "has attribute '%s' (line %d) in namespace '%s'; "
                         "none is in a namespace", clip(a[0], &c1), line, clip(a[2], &c2));
            return;
        }
        if (lim->max_text != 0 && (size_t)(a[4] - a[3]) > lim->max_text) {
            shape_refuse(ctx, sh, "has an attribute value of more than %zu bytes (at most "
                         "%zu; line %d)", lim->max_text, lim->max_text, line);
            return;
        }
    }
    sh->start(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
              nb_defaulted, attributes);
}

static void shape_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                      const xmlChar *uri)
{
    shape_state *sh = shape_of(ctx);
    sh->in_text = false;
    if (sh->depth > 0)
        sh->depth--;
    sh->end(ctx, localname, prefix, uri);
}

/* Text arrives in pieces; one run between two tags is one text node. */
static bool shape_text(void *ctx, shape_state *sh, int len)
{
    if (!sh->in_text) {
        if (!shape_node(ctx, sh))
            return false;
        sh->in_text = true;
        sh->text = 0;
    }
    sh->text += len > 0 ? (size_t)len : 0;
    if (sh->lim->max_text != 0 && sh->text > sh->lim->max_text)
        return shape_refuse(ctx, sh, "has a text node of more than %zu bytes (at most %zu; "
                            "line %d)", sh->lim->max_text, sh->lim->max_text,
                            xmlSAX2GetLineNumber(ctx));
    return true;
}

static void shape_characters(void *ctx, const xmlChar *ch, int len)
{
    shape_state *sh = shape_of(ctx);
    if (shape_text(ctx, sh, len))
        sh->characters(ctx, ch, len);
}

static void shape_whitespace(void *ctx, const xmlChar *ch, int len)
{
    shape_state *sh = shape_of(ctx);
    if (shape_text(ctx, sh, len))
        sh->whitespace(ctx, ch, len);
}

static void shape_cdata(void *ctx, const xmlChar *value, int len)
{
    shape_state *sh = shape_of(ctx);
    if (shape_node(ctx, sh) && shape_text(ctx, sh, len)) {
        sh->in_text = false; /* a CDATA section is a node of its own */
        sh->cdata(ctx, value, len);
    }
}

/* Comments and PIs are refused after the parse (with their line); until
 * then each is a node like any other. */
static void shape_comment(void *ctx, const xmlChar *value)
{
    shape_state *sh = shape_of(ctx);
    if (shape_node(ctx, sh))
        sh->comment(ctx, value);
}

static void shape_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    shape_state *sh = shape_of(ctx);
    if (shape_node(ctx, sh))
        sh->pi(ctx, target, data);
}

static void shape_hook(xmlParserCtxtPtr ctxt, shape_state *sh, const hb_xml_shape *lim)
{
    xmlSAXHandlerPtr sax = ctxt->sax;
    sh->lim = lim;
    sh->start = sax->startElementNs;
    sh->end = sax->endElementNs;
    sh->characters = sax->characters;
    sh->whitespace = sax->ignorableWhitespace;
    sh->cdata = sax->cdataBlock;
    sh->comment = sax->comment;
    sh->pi = sax->processingInstruction;
    sax->startElementNs = shape_start;
    sax->endElementNs = shape_end;
    sax->characters = shape_characters;
    sax->ignorableWhitespace = shape_whitespace;
    sax->cdataBlock = shape_cdata;
    sax->comment = shape_comment;
    sax->processingInstruction = shape_pi;
}

/* Before libxml2 sees the bytes: one linear pass over the markup counting
 * each start tag's attributes and the namespace declarations. libxml2 2.9
 * checks a start tag's attributes and namespace declarations for duplicates
 * pair by pair, before any SAX callback is called, so one tag with a
 * million attributes would cost minutes there; here it costs one pass.
 * Comments, CDATA sections, PIs and declarations are skipped (the parser
 * judges them); an unterminated construct ends the pass (the parser will
 * refuse it). The messages are the SAX check's. */
static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skip to just after the terminator term (length n) from d[*i]; false when
 * there is none. Counts lines. */
static bool skip_past(const uint8_t *d, size_t len, size_t *i, const char *term, size_t n,
                      int *line)
{
    for (size_t j = *i; j + n <= len; j++) {
        if (d[j] == '\n')
            (*line)++;
        if (d[j] == (uint8_t)term[0] && (n == 1 || memcmp(d + j, term, n) == 0)) {
            *i = j + n;
            return true;
        }
    }
    return false;
}

static bool starts(const uint8_t *d, size_t len, size_t i, const char *s)
{
    size_t n = strlen(s);
    return i + n <= len && memcmp(d + i, s, n) == 0;
}

static bool shape_prescan(const uint8_t *d, size_t len, const hb_xml_shape *lim, char *msg,
                          size_t cap)
{
    int line = 1, text_line = 1;
    unsigned ns_total = 0;
    size_t i = 0, text_from = 0;
    while (i < len) {
        if (d[i] != '<') {
            if (d[i] == '\n')
                line++;
            i++;
            continue;
        }
        /* The text before this markup, raw (a reference only shortens it). */
        if (lim->max_text != 0 && i - text_from > lim->max_text) {
            return prescan_refuse(msg, cap, lim, "has a text node of more than %zu bytes (at "
                                  "most %zu; line %d)", lim->max_text, lim->max_text,
                                  text_line);
        }
        /* The constructs that are not start tags, skipped to their end. */
        uint8_t next = i + 1 < len ? d[i + 1] : 0;
        size_t from = i;
        int from_line = line;
        bool ok = true;
        if (next == '!' && starts(d, len, i, "<!--")) {
            i += 4;
            ok = skip_past(d, len, &i, "-->", 3, &line);
        } else if (next == '!' && starts(d, len, i, "<![CDATA[")) {
            i += 9;
            ok = skip_past(d, len, &i, "]]>", 3, &line);
        } else if (next == '?') {
            i += 2;
            ok = skip_past(d, len, &i, "?>", 2, &line);
        } else if (next == '!' || next == '/') {
            i += 2;
            ok = skip_past(d, len, &i, ">", 1, &line);
        }
        if (ok && i != from && lim->max_text != 0 && i - from > lim->max_text) {
            return prescan_refuse(msg, cap, lim, "has a comment or other markup of more than "
                                  "%zu bytes (at most %zu; line %d)", lim->max_text,
                                  lim->max_text, from_line);
        }
        if (i == from) {
            /* A start tag: NAME (ATTR = "VALUE")* /? > */
            unsigned attrs = 0;
            int tag_line = line;
            size_t tok = 0;
            bool in_tok = false;
            for (i++;; i++) {
                if (i >= len)
                    return true;
                uint8_t c = d[i];
                if (c == '>')
                    break;
                if (c == '"' || c == '\'') {
                    in_tok = false;
                    size_t value_from = i + 1;
                    for (i++; i < len && d[i] != c; i++)
                        if (d[i] == '\n')
                            line++;
                    if (i >= len)
                        return true;
                    if (lim->max_text != 0 && i - value_from > lim->max_text) {
                        return prescan_refuse(msg, cap, lim, "has an attribute value of more "
                                              "than %zu bytes (at most %zu; line %d)",
                                              lim->max_text, lim->max_text, tag_line);
                    }
                } else if (c == '=') {
                    in_tok = false;
                    bool ns = tok + 5 <= i && memcmp(d + tok, "xmlns", 5) == 0 &&
                              (d[tok + 5] == ':' || d[tok + 5] == '=' || is_space(d[tok + 5]));
                    if (ns && lim->max_ns_decls != 0 && ++ns_total > lim->max_ns_decls) {
                        return prescan_refuse(msg, cap, lim, "has more than %u namespace "
                                              "declarations (at most %u)", lim->max_ns_decls,
                                              lim->max_ns_decls);
                    }
                    if (!ns && lim->max_element_attributes != 0 &&
                        ++attrs > lim->max_element_attributes) {
                        return prescan_refuse(msg, cap, lim, "has more than %u attributes "
                                              "on one element (at most %u; line %d)",
                                              lim->max_element_attributes,
                                              lim->max_element_attributes, tag_line);
                    }
                } else if (is_space(c)) {
                    in_tok = false;
                    if (c == '\n')
                        line++;
                } else if (!in_tok) {
                    in_tok = true;
                    tok = i;
                }
            }
            i++;
        }
        if (!ok)
            return true;
        text_from = i;
        text_line = line;
    }
    return true;
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

#define PUSH_CHUNK ((size_t)64 * 1024)

hb_status hb_xml_parse(const uint8_t *data, size_t len, size_t cap, unsigned flags,
                       const char *schema_rel, const char *what, xmlDocPtr *out,
                       hb_err *err)
{
    return hb_xml_parse_shaped(data, len, cap, flags, NULL, schema_rel, what, out, err);
}

hb_status hb_xml_parse_shaped(const uint8_t *data, size_t len, size_t cap, unsigned flags,
                              const hb_xml_shape *shape, const char *schema_rel,
                              const char *what, xmlDocPtr *out, hb_err *err)
{
    hb_status st = HB_OK;
    xml_errs e = {0};
    shape_state sh = {0};
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
    if (shape != NULL && !shape_prescan(data, len, shape, sh.msg, sizeof sh.msg))
        HB_FAIL(HB_E_VERIFY, "%s", sh.msg);
    /* The push parser, fed in pieces: libxml2 keeps only what it has not
     * parsed yet (a memory parser copies the whole input first), and a
     * parser stopped by a limit is fed nothing more. The first 4 bytes
     * tell the encoding. */
    size_t first = len < 4 ? len : 4;
    ctxt = xmlCreatePushParserCtxt(NULL, NULL, (const char *)data, (int)first, NULL);
    HB_ENSURE(ctxt != NULL, HB_E_INTERNAL, "out of memory parsing %s", what);
    /* NONET: never fetch anything; no NOENT: entities are not substituted;
     * no DTDLOAD/DTDATTR/DTDVALID: nothing from a DTD is ever applied; no
     * HUGE: libxml2 keeps its own caps (names 50,000 bytes, text and
     * attribute values 10,000,000, depth 256) under the shape's; COMPACT:
     * short text is stored in its node (less memory per node). */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_COMPACT);
    ctxt->_private = &e;
    if (shape != NULL) {
        e.shape = &sh;
        shape_hook(ctxt, &sh, shape);
    }
    ctxt->sax->serror = on_parser_error;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->externalSubset = on_internal_subset;
    ctxt->sax->entityDecl = on_entity_decl;
    ctxt->vctxt.error = silent_generic;
    ctxt->vctxt.warning = silent_generic;

    for (size_t off = first;;) {
        size_t n = len - off < PUSH_CHUNK ? len - off : PUSH_CHUNK;
        bool last = off + n == len;
        int rc = xmlParseChunk(ctxt, (const char *)data + off, (int)n, last);
        off += n;
        if (last || rc != 0 || ctxt->disableSAX || ctxt->instate == XML_PARSER_EOF)
            break;
    }
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    HB_ENSURE(!e.dtd, HB_E_VERIFY, "%s contains a DTD; refusing to parse it", what);
    HB_ENSURE(!sh.failed, HB_E_VERIFY, "%s", sh.msg);
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
 * are reported with their element as parent, attributes have theirs). The
 * subtree at `top` (only or exclude) is marked once before the walk, so a
 * node's visibility is one look-up: the whole C14N stays linear in the
 * document (walking up to the root for every node and namespace was
 * quadratic in depth, and attacker-controlled). */
typedef struct c14n_sel {
    xmlNodePtr top;
    bool keep_top; /* true: only top's subtree; false: everything but it */
} c14n_sel;

static char c14n_mark; /* its address is the mark in a node's _private */

/* Set (mark != NULL) or clear the mark on every node of top's subtree. */
static void c14n_mark_subtree(xmlNodePtr top, void *mark)
{
    xmlNodePtr n = top;
    while (n != NULL) {
        n->_private = mark;
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != NULL && n != top && n->next == NULL)
            n = n->parent;
        n = (n == NULL || n == top) ? NULL : n->next;
    }
}

static int c14n_visible(void *user, xmlNodePtr node, xmlNodePtr parent)
{
    const c14n_sel *sel = user;
    xmlNodePtr n = node;
    if (n != NULL && (n->type == XML_NAMESPACE_DECL || n->type == XML_ATTRIBUTE_NODE))
        n = parent;
    bool in_top = n != NULL && n->type != XML_DOCUMENT_NODE && n->_private == &c14n_mark;
    if (sel->top == NULL)
        return 1;
    return in_top == sel->keep_top;
}

hb_status hb_xml_c14n(xmlDocPtr doc, xmlNodePtr only, xmlNodePtr exclude, uint8_t **out,
                      size_t *out_len, hb_err *err)
{
    hb_status st = HB_OK;
    xml_errs e = {0};
    saved_handlers saved;
    c14n_sel sel = {only != NULL ? only : exclude, only != NULL};
    xmlOutputBufferPtr buf = NULL;
    int rc;

    *out = NULL;
    *out_len = 0;
    handlers_push(&saved, &e);
    buf = xmlAllocOutputBuffer(NULL);
    HB_ALLOC(buf);
    if (sel.top != NULL)
        c14n_mark_subtree(sel.top, &c14n_mark);
    rc = xmlC14NExecute(doc, c14n_visible, &sel, XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf);
    if (sel.top != NULL)
        c14n_mark_subtree(sel.top, NULL);
    HB_ENSURE(rc >= 0, HB_E_INTERNAL, "exclusive XML canonicalization failed: %s",
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
