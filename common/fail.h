/* Failing with a message, inside the library (STYLE.md "Errors").
 *
 * The one idiom: a function that acquires anything has a local
 * `hb_status st = HB_OK`, its `hb_err *err` parameter, and one `cleanup:`
 * label; it fails with HB_FAIL / HB_ENSURE / HB_TRY (hsmbak/status.h), which
 * all set st and jump to cleanup, and never returns between its first
 * acquisition and the label. A function that acquires nothing may simply
 * `return hb_fail(err, ...)`. */
#ifndef HSMBAK_COMMON_FAIL_H
#define HSMBAK_COMMON_FAIL_H

#include "hsmbak/status.h"

#include <stdarg.h>

/* Like hb_fail, then appends " (REASON)" with the most recent error on
 * OpenSSL's error queue, if there is one, and clears the whole queue either
 * way, so OpenSSL errors never leak to a later, unrelated failure. */
hb_status hb_fail_ossl(hb_err *err, hb_status st, const char *fmt, ...) HB_PRINTF(3, 4);

/* hb_err_prefix with a va_list, for functions that take a format of their own. */
void hb_err_vprefix(hb_err *err, const char *fmt, va_list ap) HB_PRINTF(2, 0);

/* The one out-of-memory message. */
hb_status hb_fail_oom(hb_err *err);

/* hb_fail_ossl, then goto cleanup (same contract as HB_FAIL). */
#define HB_FAIL_OSSL(code, ...)                           \
    do {                                                  \
        st = hb_fail_ossl(err, (code), __VA_ARGS__);      \
        goto cleanup;                                     \
    } while (0)

/* An allocation that returned NULL: out of memory, goto cleanup. */
#define HB_ALLOC(ptr)                      \
    do {                                   \
        if ((ptr) == NULL) {               \
            st = hb_fail_oom(err);         \
            goto cleanup;                  \
        }                                  \
    } while (0)

#endif
