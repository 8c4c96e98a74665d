/* Software signers and throw-away certificates for the manifest and XML-DSig
 * suites: the compiled helpers of tests/lib (hbtest_x509.h, hbtest_xmlsec.h),
 * and what the suites that include this header use beside them. */
#ifndef HSMBAK_TEST_SIGTEST_H
#define HSMBAK_TEST_SIGTEST_H

#include "hbtest_x509.h"
#include "hbtest_xmlsec.h"

#include "backup/format/manifest.h"
#include "common/fail.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#endif
