/* Shared helpers for the CUnit suites, the core of the test library
 * hsmbak_testlib that every suite links (tests/lib/: hbtest_x509.h for
 * software keys, certificates and signers, hbtest_token.h for the test
 * token, hbtest_xmlsec.h for xmlsec1 as an independent verifier,
 * hbfixture.h for sample appliances, hbtest_wipe.h for secrets left in
 * released memory). */
#ifndef HSMBAK_HBTEST_H
#define HSMBAK_HBTEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>

#include "hsmbak/provider.h"
#include "hsmbak/status.h"

/* One suite entry. */
typedef struct hbtest_case {
    const char *name;
    void (*fn)(void);
} hbtest_case;

/* A suite's main: its cases and what they need around them (hbtest_run).
 * Members left zero are not wanted. */
typedef struct hbtest_suite {
    const char *name;
    const hbtest_case *cases; /* NULL-terminated */
    bool no_terminal;         /* stdin from /dev/null: no PIN prompt can be reached */
    char **scratch;           /* a fresh hbtest_tempdir(name) while the cases run;
                               * removed and freed after them */
    hb_provider **prov;       /* th_open(module) while the cases run, freed after */
    const char *module;       /* with prov: the PKCS#11 module (NULL: the default) */
    int (*setup)(void);       /* before the cases, scratch and prov made: 0, or
                               * the exit status (no case runs) */
    void (*teardown)(void);   /* after the cases (or a failed setup), before
                               * scratch is removed */
} hbtest_suite;

/* Register the suite's cases, run them in verbose basic mode with what
 * they need around them, return the process exit status (0 when all pass;
 * what setup returned when it failed). */
int hbtest_run(const hbtest_suite *s);

/* hbtest_run for a suite that needs nothing around its cases. */
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

/* Assert that expr fails with status want and a message containing fragment. */
#define HBTEST_ASSERT_FAIL(expr, want, errp, fragment)                                \
    do {                                                                              \
        HBTEST_ASSERT_STATUS(expr, want, errp);                                       \
        HBTEST_ASSERT_MSG(errp, fragment);                                            \
    } while (0)

#endif
