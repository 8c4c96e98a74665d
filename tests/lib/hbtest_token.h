/* The test token, for suites that run inside hsm-config/with-token
 * (hbtest_token.c): a provider on it with the test PIN file, its URIs, key
 * pairs made on it. Every failure here fails the running test (or, outside
 * a test, exits). */
#ifndef HSMBAK_HBTEST_TOKEN_H
#define HSMBAK_HBTEST_TOKEN_H

#include "provider/token.h"

/* SoftHSMv2 itself, not through the p11-kit proxy. */
#define TH_SOFTHSM_MODULE "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"

/* A provider on module (NULL: the default, the p11-kit proxy) with the test
 * PIN file as PIN source. Exits when it cannot open: usable in main too. */
hb_provider *th_open(const char *module);

/* "pkcs11:token=LABEL" of the n-th test token (0-based, n < 3); the string
 * stays valid until the next call for the same n. */
const char *th_token_uri(int n);

/* th_token_uri(n) with the URI's own PIN source, the test PIN file
 * ("?pin-source=file:PATH"); valid until the next call for the same n. */
const char *th_token_uri_with_pin(int n);

/* A key pair labelled label on token n; *priv and *pub (malloc'ed) name it. */
void th_keygen(hb_provider *p, int n, const char *label, hb_key_type type, hb_key_usage usage,
               char **priv, char **pub);

#endif
