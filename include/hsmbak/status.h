/* hsmbak — status codes and error messages shared by every layer.
 *
 * Every fallible function returns an hb_status and, on failure, fills the
 * caller's hb_err with one message that says what failed, where, and what to
 * do. Status values are stable: the CLI maps them to exit codes one to one
 * (docs/exit-codes in README.md), so never renumber them. */
#ifndef HSMBAK_STATUS_H
#define HSMBAK_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_status {
    HB_OK = 0,
    HB_E_USAGE = 2,      /* bad command line or API misuse */
    HB_E_NOT_FOUND = 3,  /* file, object, token or key does not exist */
    HB_E_AUTH = 4,       /* PIN missing, wrong or locked; login refused */
    HB_E_VERIFY = 5,     /* integrity: signature, checksum, tag, format */
    HB_E_REFUSED = 6,    /* a precondition does not hold (trust, version,
                            factory state, expired certificate, caps) */
    HB_E_IO = 7,         /* reading or writing files, no space left */
    HB_E_TOKEN = 8,      /* the token refused a mechanism or failed */
    HB_E_INTERNAL = 9,   /* out of memory, library failure, a bug */
} hb_status;

#define HB_MSG_MAX 1024

typedef struct hb_err {
    hb_status status;
    char msg[HB_MSG_MAX];
} hb_err;

/* HB_API marks what libhsmbak exports: the library is built with
 * -fvisibility=hidden, so a function is part of the ABI exactly when a
 * header in include/hsmbak/ declares it with HB_API (tests/layout/exports.sh
 * checks the shared object against the headers). */
#if defined(HSMBAK_BUILDING_LIBRARY) && defined(__GNUC__)
#define HB_API __attribute__((visibility("default")))
#else
#define HB_API
#endif

#if defined(__GNUC__)
#define HB_MUST_CHECK __attribute__((warn_unused_result))
#define HB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define HB_MUST_CHECK
#define HB_PRINTF(f, a)
#endif

/* Record a failure in err (may be NULL) and return st. A message longer
 * than HB_MSG_MAX ends in "..." to say it was cut. */
HB_API hb_status hb_fail(hb_err *err, hb_status st, const char *fmt, ...) HB_PRINTF(3, 4);

/* Prefix an existing message with more context ("restoring 'config': ..."). */
HB_API void hb_err_prefix(hb_err *err, const char *fmt, ...) HB_PRINTF(2, 3);

HB_API void hb_err_clear(hb_err *err);

/* Short stable name ("verify-failed") for logs and JSON. */
HB_API const char *hb_status_name(hb_status st);

/* The one error idiom, for functions with a single cleanup path: a local
 * `hb_status st`, an `hb_err *err` in scope, and a `cleanup:` label. Each
 * macro sets st and jumps to cleanup; none returns. */
#define HB_TRY(expr)                   \
    do {                               \
        st = (expr);                   \
        if (st != HB_OK) goto cleanup; \
    } while (0)

/* Fail with a message (hb_fail), then goto cleanup. */
#define HB_FAIL(code, ...)                       \
    do {                                         \
        st = hb_fail(err, (code), __VA_ARGS__);  \
        goto cleanup;                            \
    } while (0)

/* HB_FAIL unless cond holds. */
#define HB_ENSURE(cond, code, ...)                   \
    do {                                             \
        if (!(cond)) HB_FAIL((code), __VA_ARGS__);   \
    } while (0)

/* A list of owned strings (warnings, names) handed to the caller. */
typedef struct hb_strlist {
    char **items;
    size_t n;
} hb_strlist;
HB_API void hb_strlist_free(hb_strlist *l);

#ifdef __cplusplus
}
#endif
#endif
