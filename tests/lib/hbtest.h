/* Shared helpers for the CUnit suites, the core of the test library
 * hsmbak_testlib that every suite links (tests/lib/: hbtest_x509.h for
 * software keys, certificates and signers, hbtest_token.h for the test
 * token, hbtest_xmlsec.h for xmlsec1 as an independent verifier). */
#ifndef HSMBAK_HBTEST_H
#define HSMBAK_HBTEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#include "hsmbak/status.h"

/* One suite entry. */
typedef struct hbtest_case {
    const char *name;
    void (*fn)(void);
} hbtest_case;

/* Register a NULL-terminated list of cases as one suite, run every suite
 * registered so far in verbose basic mode, return the process exit status
 * (0 when all pass). */
int hbtest_main(const char *suite, const hbtest_case *cases);

/* Environment variable that with-token sets; the test fails (not skips)
 * when it is missing, so a misconfigured CI cannot pass silently. */
const char *hbtest_env(const char *name);

/* A fresh directory under HSMBAK_TEST_DIR (or TMPDIR); caller frees. */
char *hbtest_tempdir(const char *tag);

/* rm -rf; only under the test's temp area. */
void hbtest_rmtree(const char *path);

/* Write text to path (created or truncated, 0644 less umask); 0 on success. */
int hbtest_write_text(const char *path, const char *text);

/* Assert a status and print the message when it differs. */
#define HBTEST_ASSERT_STATUS(expr, want, errp)                                        \
    do {                                                                              \
        hb_status got_ = (expr);                                                      \
        if (got_ != (want))                                                           \
            fprintf(stderr, "  %s:%d: status %d (want %d): %s\n", __FILE__, __LINE__, \
                    (int)got_, (int)(want), (errp)->msg);                             \
        CU_ASSERT_EQUAL_FATAL(got_, want);                                            \
    } while (0)

#define HBTEST_ASSERT_OK(expr, errp) HBTEST_ASSERT_STATUS(expr, HB_OK, errp)

/* Assert that err's message contains a fragment. */
#define HBTEST_ASSERT_MSG(errp, fragment)                                             \
    do {                                                                              \
        if (strstr((errp)->msg, (fragment)) == NULL)                                  \
            fprintf(stderr, "  %s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, \
                    (errp)->msg, (fragment));                                         \
        CU_ASSERT_PTR_NOT_NULL(strstr((errp)->msg, (fragment)));                      \
    } while (0)

#endif
