/* xmlsec1 as an independent XML-DSig verifier (hbtest_xmlsec.c): what the
 * suites use to show that hsmbak's signatures are standard ones. */
#ifndef HSMBAK_HBTEST_XMLSEC_H
#define HSMBAK_HBTEST_XMLSEC_H

/* Run `xmlsec1 --verify --trusted-pem PEM --enabled-reference-uris empty
 * XML` (its output thrown away); its exit status (0: the signature
 * verifies), or -1 when xmlsec1 cannot be run. */
int hbtest_xmlsec1_verify(const char *pem, const char *xml_path);

#endif
