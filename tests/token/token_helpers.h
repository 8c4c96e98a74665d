/* Helpers shared by the token suites: the compiled helpers of tests/lib
 * (hbtest_token.h: the test token; hbtest_x509.h: certificates and software
 * keys). Every suite runs inside hsm-config/with-token. */
#ifndef HSMBAK_TOKEN_HELPERS_H
#define HSMBAK_TOKEN_HELPERS_H

#include "hbtest.h"
#include "hbtest_token.h"
#include "hbtest_x509.h"

#include "provider/token.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#endif
