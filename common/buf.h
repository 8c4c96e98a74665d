/* A growable buffer with a hard cap (curl's dynbuf), for every message,
 * warning list and text the library builds, and a growable array for every
 * list of structs: no fixed char[N] that silently cuts what a user typed,
 * no hand-written realloc. */
#ifndef HSMBAK_COMMON_BUF_H
#define HSMBAK_COMMON_BUF_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct hb_buf {
    char *data;     /* NUL-terminated when not NULL */
    size_t len;     /* bytes, without the NUL */
    size_t cap;     /* allocated */
    size_t max;     /* hard cap on len; adding past it fails, nothing is cut */
    bool secret;    /* wipe on growth and free (PINs, keys) */
} hb_buf;

#define HB_BUF_INIT(max_) {NULL, 0, 0, (max_), false}

void hb_buf_init(hb_buf *b, size_t max);
/* Append n bytes. HB_E_REFUSED (and b unchanged) past the cap. */
hb_status hb_buf_add(hb_buf *b, const void *data, size_t n, hb_err *err) HB_MUST_CHECK;
hb_status hb_buf_adds(hb_buf *b, const char *s, hb_err *err) HB_MUST_CHECK;
hb_status hb_buf_addf(hb_buf *b, hb_err *err, const char *fmt, ...) HB_PRINTF(3, 4) HB_MUST_CHECK;
/* The text so far; "" when empty (never NULL). */
const char *hb_buf_str(const hb_buf *b);
/* Hand the text over (malloc'ed, NUL-terminated, "" when empty; NULL only
 * when out of memory) and reset b. */
char *hb_buf_take(hb_buf *b);
void hb_buf_reset(hb_buf *b);   /* len = 0, memory kept */
void hb_buf_free(hb_buf *b);    /* wipes when secret */

/* Make room for one more zeroed element of size elem at the end of *arr,
 * which holds *n elements (grows geometrically; at most max elements). The
 * array must be made by hb_array_push alone (NULL and 0 to start): its
 * capacity is implied by *n.
 * Returns the new element and increments *n, or NULL with err set
 * (HB_E_INTERNAL out of memory, HB_E_REFUSED past max). */
void *hb_array_push(void *arr_ptr, size_t *n, size_t elem, size_t max, hb_err *err);
#define HB_ARRAY_PUSH(arr, n, max, err) \
    ((__typeof__(*(arr)) *)hb_array_push(&(arr), &(n), sizeof *(arr), (max), (err)))

/* HB_ARRAY_PUSH inside the one error idiom (hsmbak/status.h: `st`, `err`
 * and a `cleanup:` label in scope): slot receives the new zeroed element, or
 * st is set (HB_E_INTERNAL, HB_E_REFUSED past max; right even when err is
 * NULL) and control goes to cleanup. Fill a local struct first and move it
 * into the slot (HB_PUSH_MOVE), so a failure never leaves a half-made
 * element behind. */
#define HB_PUSH(slot, arr, n, max)                                \
    do {                                                          \
        hb_err push_err_;                                         \
        push_err_.status = HB_E_INTERNAL;                         \
        push_err_.msg[0] = '\0';                                  \
        (slot) = HB_ARRAY_PUSH(arr, n, (max), &push_err_);        \
        if ((slot) == NULL) {                                     \
            st = push_err_.status;                                \
            if (err != NULL)                                      \
                *err = push_err_;                                 \
            goto cleanup;                                         \
        }                                                         \
    } while (0)

/* HB_PUSH, then the filled local struct `value` moves into the new slot:
 * *slot = value, and value is zeroed, so the cleanup that frees it frees
 * nothing the list now owns. */
#define HB_PUSH_MOVE(slot, arr, n, max, value)                    \
    do {                                                          \
        HB_PUSH(slot, arr, n, max);                               \
        *(slot) = (value);                                        \
        memset(&(value), 0, sizeof(value));                       \
    } while (0)

/* A malloc'ed copy of len bytes followed by a NUL (bytes handed over from
 * another allocator: libxml2, OpenSSL); NULL only when out of memory. */
void *hb_memdup(const void *data, size_t len);

/* Append to a list of owned strings (at most 10,000 entries). */
hb_status hb_strlist_add(hb_strlist *l, const char *s, hb_err *err) HB_MUST_CHECK;
hb_status hb_strlist_addf(hb_strlist *l, hb_err *err, const char *fmt, ...) HB_PRINTF(3, 4)
    HB_MUST_CHECK;
/* Append copies of every entry of src. */
hb_status hb_strlist_extend(hb_strlist *dst, const hb_strlist *src, hb_err *err) HB_MUST_CHECK;

/* snprintf into a fixed buffer that fails instead of truncating:
 * HB_E_USAGE "`what` is too long (N bytes, at most CAP)". */
hb_status hb_format(char *out, size_t cap, const char *what, hb_err *err, const char *fmt,
                    ...) HB_PRINTF(5, 6) HB_MUST_CHECK;

#endif
