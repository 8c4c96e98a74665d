/* backup/xml_safe.c and common/datadir.c: the hardened parser every XML
 * input goes through. */
#include "hbtest.h"

#include "backup/format/xml.h"
#include "common/datadir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static hb_status parse(const char *xml, unsigned flags, const char *schema, xmlDocPtr *doc,
                       hb_err *err)
{
    return hb_xml_parse((const uint8_t *)xml, strlen(xml), 1 << 20, flags, schema, "input",
                        doc, err);
}

static void expect_reject(const char *xml, unsigned flags, hb_status want, const char *msg)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_FAIL(parse(xml, flags, NULL, &doc, &err), want, &err, msg);
    CU_ASSERT_PTR_NULL(doc);
}

static void test_parse_and_getters(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_OK(parse("<?xml version=\"1.0\"?>\n<r xmlns=\"urn:a\"><!-- note -->\n"
                           "  <x>1 &lt; 2</x><y/><x>second</x></r>", 0, NULL, &doc, &err), &err);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    CU_ASSERT(hb_xml_is(root, "urn:a", "r"));
    CU_ASSERT(!hb_xml_is(root, NULL, "r"));
    xmlNodePtr x = hb_xml_first_elem(root);
    CU_ASSERT(hb_xml_is(x, "urn:a", "x"));
    CU_ASSERT(hb_xml_is(hb_xml_next_elem(x), "urn:a", "y"));
    char *t = NULL;
    HBTEST_ASSERT_OK(hb_xml_child_text(root, "urn:a", "x", true, "input", &t, &err), &err);
    CU_ASSERT_STRING_EQUAL(t, "1 < 2");
    free(t);
    HBTEST_ASSERT_OK(hb_xml_child_text(root, "urn:a", "z", false, "input", &t, &err), &err);
    CU_ASSERT_PTR_NULL(t);
    HBTEST_ASSERT_FAIL(hb_xml_child_text(root, "urn:a", "z", true, "input", &t, &err), HB_E_VERIFY,
                       &err, "input: line 2: <r> lacks <z>");
    xmlFreeDoc(doc);
}

static void test_dtd_rejected(void)
{
    const char *cases[] = {
        "<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>",
        "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>",
        "<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\"><r/>",
        "<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><r/>",
        "<!DOCTYPE r><r/>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
        "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
        "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
        "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
        "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
        "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
        "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">"
        "]>\n<lolz>&lol9;</lolz>",
        NULL,
    };
    for (size_t i = 0; cases[i] != NULL; i++)
        expect_reject(cases[i], 0, HB_E_VERIFY, "input contains a DTD; refusing to parse it");
    /* Undeclared entities are a well-formedness error, never a lookup. */
    expect_reject("<r>&ext;</r>", 0, HB_E_VERIFY, "input is not well-formed XML: line 1: "
                  "Entity 'ext' not defined");
}

static void test_cap_and_garbage(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    const char *xml = "<r>0123456789</r>";
    HBTEST_ASSERT_FAIL(hb_xml_parse((const uint8_t *)xml, strlen(xml), 10, 0, NULL, "input", &doc,
                                    &err), HB_E_REFUSED, &err,
                       "input is 17 bytes, more than the limit of 10 bytes; refusing");
    expect_reject("<r>\n<a>\n</r>", 0, HB_E_VERIFY, "input is not well-formed XML: line 3: "
                  "Opening and ending tag mismatch: a line 2 and r");
    expect_reject("<r><a></a", 0, HB_E_VERIFY, "input is not well-formed XML");
    expect_reject("\x01\x02\x03", 0, HB_E_VERIFY, "input is not well-formed XML");
    expect_reject("", 0, HB_E_VERIFY, "input is empty");
    expect_reject("<r/><r/>", 0, HB_E_VERIFY, "Extra content at the end of the document");
}

static void test_pi_and_comments(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    expect_reject("<r><?php x?></r>", 0, HB_E_VERIFY, "input contains a processing instruction "
                  "(line 1); refusing it");
    expect_reject("<?xml-stylesheet href=\"x\"?><r/>", 0, HB_E_VERIFY, "processing instruction");
    expect_reject("<r/>\n<!-- trailer -->", HB_XML_NO_COMMENTS, HB_E_VERIFY,
                  "input contains a comment (line 2)");
    HBTEST_ASSERT_OK(parse("<r/>\n<!-- trailer -->", 0, NULL, &doc, &err), &err);
    xmlFreeDoc(doc);
}

static void test_schema_validation(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_FAIL(parse("<r xmlns=\"urn:hsmbak:manifest:1\"/>", 0, "schema/manifest.xsd", &doc,
                             &err), HB_E_VERIFY, &err,
                       "input does not match the schema: line 1: Element "
                       "'{urn:hsmbak:manifest:1}r': No matching global declaration");
    /* A schema that is not there is a set-up problem, said plainly. */
    char *dir = hbtest_tempdir("xmlsafe");
    setenv("HSMBAK_DATADIR", dir, 1);
    HBTEST_ASSERT_FAIL(parse("<r/>", 0, "schema/manifest.xsd", &doc, &err), HB_E_NOT_FOUND, &err,
                       "schema 'schema/manifest.xsd' not found");
    HBTEST_ASSERT_MSG(&err, "set HSMBAK_DATADIR");
    unsetenv("HSMBAK_DATADIR");
    hbtest_rmtree(dir);
    free(dir);
}

/* libxml2 must never print: run failing parses with stderr captured. */
static void test_libxml2_silent(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    char *dir = hbtest_tempdir("xmlsafe");
    char path[4096];
    snprintf(path, sizeof path, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    (void)parse("<r><a></r>", 0, NULL, &doc, &err);
    (void)parse("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>", 0, NULL, &doc, &err);
    (void)parse("<r>&undefined;</r>", 0, NULL, &doc, &err);
    (void)parse("<r xmlns=\"urn:hsmbak:manifest:1\"/>", 0, "schema/manifest.xsd", &doc, &err);
    (void)parse("<r>\xff\xfe</r>", 0, NULL, &doc, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat sb;
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_size, 0);
    hbtest_rmtree(dir);
    free(dir);
}

static void test_c14n(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    HBTEST_ASSERT_OK(parse("<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\" xmlns:u=\"urn:unused\">"
                           "<b  z='2' c=\"1\"/><s>t</s></a>", 0, NULL, &doc, &err), &err);
    uint8_t *out = NULL;
    size_t len = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr b = hb_xml_first_elem(root);
    xmlNodePtr s = hb_xml_next_elem(b);
    HBTEST_ASSERT_OK(hb_xml_c14n(doc, NULL, NULL, &out, &len, &err), &err);
    CU_ASSERT_STRING_EQUAL((char *)out, "<a xmlns=\"urn:x\"><b c=\"1\" z=\"2\"></b><s>t</s></a>");
    CU_ASSERT_EQUAL(len, strlen((char *)out));
    free(out);
    HBTEST_ASSERT_OK(hb_xml_c14n(doc, NULL, s, &out, &len, &err), &err);
    CU_ASSERT_STRING_EQUAL((char *)out, "<a xmlns=\"urn:x\"><b c=\"1\" z=\"2\"></b></a>");
    free(out);
    /* A subtree carries the namespaces it uses (exc-c14n §3). */
    HBTEST_ASSERT_OK(hb_xml_c14n(doc, s, NULL, &out, &len, &err), &err);
    CU_ASSERT_STRING_EQUAL((char *)out, "<s xmlns=\"urn:x\">t</s>");
    free(out);
    xmlFreeDoc(doc);
}

static void test_text_ok(void)
{
    CU_ASSERT(hb_xml_text_ok("plain text; <ok> & \"fine\""));
    CU_ASSERT(hb_xml_text_ok("caf\xc3\xa9"));
    CU_ASSERT(!hb_xml_text_ok("tab\there"));
    CU_ASSERT(!hb_xml_text_ok("line\n"));
    CU_ASSERT(!hb_xml_text_ok("bad \xc3"));
    CU_ASSERT(!hb_xml_text_ok(NULL));
}

static void test_data_path(void)
{
    hb_err err = {0};
    char out[4096];
    setenv("HSMBAK_DATADIR", "/opt/x", 1);
    HBTEST_ASSERT_OK(hb_data_path("schema/a.xsd", out, sizeof out, &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/opt/x/schema/a.xsd");
    unsetenv("HSMBAK_DATADIR");
    HBTEST_ASSERT_OK(hb_data_path("schema/manifest.xsd", out, sizeof out, &err), &err);
    CU_ASSERT_EQUAL(access(out, R_OK), 0); /* the source tree's copy */
    HBTEST_ASSERT_STATUS(hb_data_path("../etc/passwd", out, sizeof out, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_STATUS(hb_data_path("/etc/passwd", out, sizeof out, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_data_path("schema/manifest.xsd", out, 8, &err), HB_E_USAGE, &err,
                       "path too long");
}

/* ---- the shape check (issue 11 class 4) ---- */

static const char *const shape_ns[] = {"urn:a", "urn:b", NULL};

static hb_xml_shape small_shape(void)
{
    hb_xml_shape sh = {
        .shown = "doc 'd.xml'",
        .not_ours = "not ours",
        .max_depth = 3,
        .max_elements = 6,
        .max_attributes = 4,
        .max_element_attributes = 2,
        .max_ns_decls = 2,
        .max_text = 8,
        .max_nodes = 15,
        .namespaces = shape_ns,
        .root_ns = "urn:a",
        .root_name = "r",
    };
    return sh;
}

static hb_status parse_shaped(const char *xml, const hb_xml_shape *sh, xmlDocPtr *doc,
                              hb_err *err)
{
    return hb_xml_parse_shaped((const uint8_t *)xml, strlen(xml), 1 << 20, 0, sh, NULL,
                               "input", doc, err);
}

/* xml is refused with exactly "doc 'd.xml' <what>; not ours". */
static void expect_shape(const char *xml, const char *what)
{
    hb_xml_shape sh = small_shape();
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    char want[512];
    snprintf(want, sizeof want, "doc 'd.xml' %s; not ours", what);
    CU_ASSERT_EQUAL(parse_shaped(xml, &sh, &doc, &err), HB_E_VERIFY);
    CU_ASSERT_PTR_NULL(doc);
    if (strcmp(err.msg, want) != 0)
        fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", err.msg, want);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
}

static void test_shape(void)
{
    hb_xml_shape sh = small_shape();
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    /* Control: at every limit, accepted (depth 3, 6 elements, 4 attributes,
     * 2 on one element, 2 declarations, 8-byte text, 15 nodes: 6 elements,
     * 1 text, 2 for each attribute). */
    HBTEST_ASSERT_OK(parse_shaped("<r xmlns=\"urn:a\" a=\"1\" b=\"2\"><x><y>12345678</y></x>"
                                  "<b:z xmlns:b=\"urn:b\" c=\"\" d=\"\"/><x/><x/></r>", &sh,
                                  &doc, &err), &err);
    xmlFreeDoc(doc);
    doc = NULL;
    expect_shape("<r xmlns=\"urn:a\"><x><y><z/></y></x></r>",
                 "has more than 3 nested elements (at most 3)");
    expect_shape("<r xmlns=\"urn:a\"><x/><x/><x/><x/><x/><x/></r>",
                 "has more than 6 elements (at most 6)");
    expect_shape("<r xmlns=\"urn:a\" a=\"\" b=\"\"><x a=\"\" b=\"\"/><x a=\"\"/></r>",
                 "has more than 4 attributes (at most 4)");
    /* One element's attributes: caught by the pre-scan, before libxml2. */
    expect_shape("<r xmlns=\"urn:a\">\n<x a=\"\" b = '' c=\"\"/></r>",
                 "has more than 2 attributes on one element (at most 2; line 2)");
    expect_shape("<r xmlns=\"urn:a\"><x xmlns:p=\"urn:a\" xmlns:q=\"urn:b\"/></r>",
                 "has more than 2 namespace declarations (at most 2)");
    expect_shape("<r xmlns=\"urn:a\"><x xmlns:e=\"urn:evil\"/></r>",
                 "declares namespace 'urn:evil' (line 1), which is neither the manifest's nor "
                 "XML-DSig's");
    {
        /* A long name is cut for the message on a character boundary. */
        char xml[512] = "<r xmlns=\"urn:a\"><x xmlns:e=\"u", what[256] = "declares namespace 'u";
        for (int i = 0; i < 100; i++)
            strcat(xml, "\xc3\xa9");
        for (int i = 0; i < 39; i++)
            strcat(what, "\xc3\xa9");
        strcat(xml, "\"/></r>");
        strcat(what, "' (line 1), which is neither the manifest's nor XML-DSig's");
        hb_xml_shape wide = small_shape();
        wide.max_text = 1000;
        char want[512];
        snprintf(want, sizeof want, "doc 'd.xml' %s; not ours", what);
        HBTEST_ASSERT_STATUS(parse_shaped(xml, &wide, &doc, &err), HB_E_VERIFY, &err);
        CU_ASSERT_STRING_EQUAL(err.msg, want);
    }
    expect_shape("<r xmlns=\"urn:a\"><x xmlns=\"\"/></r>",
                 "declares namespace '' (line 1), which is neither the manifest's nor "
                 "XML-DSig's");
    expect_shape("<a:r xmlns:a=\"urn:a\"><x/></a:r>",
                 "has element <x> (line 1) in no namespace, neither the manifest's nor "
                 "XML-DSig's");
    expect_shape("<r xmlns=\"urn:a\" xmlns:b=\"urn:b\"><x b:a=\"1\"/></r>",
                 "has attribute 'a' (line 1) in namespace 'urn:b'; none is in a namespace");
    expect_shape("<q xmlns=\"urn:a\"/>",
                 "has root element <q>, expected <r xmlns=\"urn:a\">");
    expect_shape("<r xmlns=\"urn:b\"/>",
                 "has root element <r>, expected <r xmlns=\"urn:a\">");
    /* Text, raw (a reference only makes it shorter once parsed). */
    expect_shape("<r xmlns=\"urn:a\">\n<x>123456789</x></r>",
                 "has a text node of more than 8 bytes (at most 8; line 2)");
    expect_shape("<r xmlns=\"urn:a\"><x a=\"123456789\"/></r>",
                 "has an attribute value of more than 8 bytes (at most 8; line 1)");
    expect_shape("<r xmlns=\"urn:a\"><!-- a long one --></r>",
                 "has a comment or other markup of more than 8 bytes (at most 8; line 1)");
    expect_shape("<r xmlns=\"urn:a\"><!----><!----><!----><!----><!----><!----><!---->"
                 "<!----><!----><!----><!----><!----><!----><!----><!----></r>",
                 "has more than 15 nodes (at most 15)");
    /* "a > b" in a value and "=" in text are not attributes. */
    HBTEST_ASSERT_OK(parse_shaped("<r xmlns=\"urn:a\"><x a=\"x>=y=z\">a=b</x></r>", &sh,
                                  &doc, &err), &err);
    xmlFreeDoc(doc);
    doc = NULL;
    /* A shape does not hide the parser's own refusals. */
    sh.max_text = 1000;
    HBTEST_ASSERT_FAIL(parse_shaped("<!DOCTYPE r [<!ENTITY e \"x\">]><r xmlns=\"urn:a\"/>", &sh,
                                    &doc, &err), HB_E_VERIFY, &err, "contains a DTD");
    HBTEST_ASSERT_FAIL(parse_shaped("<r xmlns=\"urn:a\"><x></r>", &sh, &doc, &err),
                       HB_E_VERIFY, &err, "input is not well-formed XML");
    HBTEST_ASSERT_FAIL(parse_shaped("<r xmlns=\"urn:a\"><x a=\"", &sh, &doc, &err),
                       HB_E_VERIFY, &err, "input is not well-formed XML");
}

/* C14N leaves no mark on the document, and a deep one costs no more per
 * node than a flat one (the old walk to the root was quadratic). */
static void test_c14n_linear(void)
{
    hb_err err = {0};
    xmlDocPtr doc = NULL;
    enum { DEPTH = 250 };
    char *xml = malloc(DEPTH * 16 + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(xml);
    char *p = xml + sprintf(xml, "<r xmlns=\"urn:a\">");
    for (int i = 0; i < DEPTH - 2; i++)
        p += sprintf(p, "<x a=\"%d\">", i % 10);
    p += sprintf(p, "<s>t</s>");
    for (int i = 0; i < DEPTH - 2; i++)
        p += sprintf(p, "</x>");
    sprintf(p, "</r>");
    HBTEST_ASSERT_OK(parse(xml, 0, NULL, &doc, &err), &err);
    xmlNodePtr s = xmlDocGetRootElement(doc);
    while (hb_xml_first_elem(s) != NULL)
        s = hb_xml_first_elem(s);
    CU_ASSERT_FATAL(hb_xml_is(s, "urn:a", "s"));
    uint8_t *out = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_xml_c14n(doc, s, NULL, &out, &len, &err), &err);
    CU_ASSERT_EQUAL(len, strlen("<s xmlns=\"urn:a\">t</s>"));
    CU_ASSERT(out != NULL && memcmp(out, "<s xmlns=\"urn:a\">t</s>", len) == 0);
    free(out);
    HBTEST_ASSERT_OK(hb_xml_c14n(doc, NULL, s, &out, &len, &err), &err);
    CU_ASSERT(out != NULL && strstr((char *)out, "<s") == NULL);
    CU_ASSERT(out != NULL && strstr((char *)out, "<x a=\"7\"></x>") != NULL);
    free(out);
    for (xmlNodePtr n = s; n != NULL && n->type == XML_ELEMENT_NODE; n = n->parent)
        CU_ASSERT_PTR_NULL(n->_private);
    CU_ASSERT_PTR_NULL(s->children->_private);
    xmlFreeDoc(doc);
    free(xml);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"parse and child getters", test_parse_and_getters},
        {"DTD, XXE, parameter entities, billion laughs", test_dtd_rejected},
        {"size cap, truncated, garbage", test_cap_and_garbage},
        {"processing instructions and comments", test_pi_and_comments},
        {"schema validation and missing schema", test_schema_validation},
        {"libxml2 prints nothing", test_libxml2_silent},
        {"exclusive C14N of document, minus subtree, subtree", test_c14n},
        {"text check", test_text_ok},
        {"data path lookup", test_data_path},
        {"shape check: namespaces, depth, counts, text (issue 11 class 4)", test_shape},
        {"C14N marks the selection once and leaves no mark", test_c14n_linear},
        {NULL, NULL},
    };
    return hbtest_main("xml_safe", cases);
}
