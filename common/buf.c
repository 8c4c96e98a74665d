/* Growable buffers and arrays with hard caps (common/buf.h). */
#include "common/buf.h"

#include "common/fail.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_buf_init(hb_buf *b, size_t max)
{
    *b = (hb_buf)HB_BUF_INIT(max);
}

/* Room for `need` bytes plus the NUL. A secret buffer never leaves a copy
 * behind in freed memory: it moves by hand and wipes the old block. */
static hb_status reserve(hb_buf *b, size_t need, hb_err *err)
{
    if (need < b->cap)
        return HB_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap <= need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    char *p;
    if (b->secret) {
        p = OPENSSL_secure_malloc(cap);
        if (p != NULL && b->data != NULL)
            memcpy(p, b->data, b->len + 1);
        if (p != NULL)
            OPENSSL_secure_clear_free(b->data, b->cap);
    } else {
        p = realloc(b->data, cap);
    }
    if (p == NULL)
        return hb_fail_oom(err);
    b->data = p;
    b->cap = cap;
    return HB_OK;
}

hb_status hb_buf_add(hb_buf *b, const void *data, size_t n, hb_err *err)
{
    if (n > b->max || b->len > b->max - n)
        return hb_fail(err, HB_E_REFUSED, "text longer than %zu bytes", b->max);
    hb_status st = reserve(b, b->len + n, err);
    if (st != HB_OK)
        return st;
    if (n > 0)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return HB_OK;
}

hb_status hb_buf_adds(hb_buf *b, const char *s, hb_err *err)
{
    return hb_buf_add(b, s, strlen(s), err);
}

hb_status hb_buf_addf(hb_buf *b, hb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return hb_fail(err, HB_E_INTERNAL, "cannot format a message");
    if ((size_t)n > b->max || b->len > b->max - (size_t)n)
        return hb_fail(err, HB_E_REFUSED, "text longer than %zu bytes", b->max);
    hb_status st = reserve(b, b->len + (size_t)n, err);
    if (st != HB_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HB_OK;
}

const char *hb_buf_str(const hb_buf *b)
{
    return b->data != NULL ? b->data : "";
}

char *hb_buf_take(hb_buf *b)
{
    char *s = b->data != NULL ? b->data : strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void hb_buf_reset(hb_buf *b)
{
    if (b->data != NULL) {
        if (b->secret)
            OPENSSL_cleanse(b->data, b->len);
        b->data[0] = '\0';
    }
    b->len = 0;
}

void hb_buf_free(hb_buf *b)
{
    if (b->secret)
        OPENSSL_secure_clear_free(b->data, b->cap);
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void *hb_array_push(void *arr_ptr, size_t *n, size_t elem, size_t max, hb_err *err)
{
    void **arr = arr_ptr;
    if (*n >= max) {
        hb_fail(err, HB_E_REFUSED, "more than %zu entries", max);
        return NULL;
    }
    /* Capacity is implied by n (the smallest power of two >= n), so pushing
     * one at a time stays linear without a capacity stored beside every
     * array; the array is full, and grows, when n is 0 or a power of two. */
    if (*n == 0 || (*n & (*n - 1)) == 0) {
        size_t cap = *n == 0 ? 1 : *n * 2;
        if (cap > SIZE_MAX / elem) {
            hb_fail_oom(err);
            return NULL;
        }
        uint8_t *p = realloc(*arr, cap * elem);
        if (p == NULL) {
            hb_fail_oom(err);
            return NULL;
        }
        *arr = p;
    }
    uint8_t *slot = (uint8_t *)*arr + *n * elem;
    memset(slot, 0, elem);
    (*n)++;
    return slot;
}

void *hb_memdup(const void *data, size_t len)
{
    uint8_t *p = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

hb_status hb_format(char *out, size_t cap, const char *what, hb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        return hb_fail(err, HB_E_INTERNAL, "cannot format %s", what);
    if ((size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return hb_fail(err, HB_E_USAGE, "%s is too long (%d bytes, at most %zu)", what, n,
                       cap > 0 ? cap - 1 : 0);
    }
    return HB_OK;
}

#define HB_STRLIST_MAX 10000

hb_status hb_strlist_add(hb_strlist *l, const char *s, hb_err *err)
{
    hb_status st = HB_OK;
    char **slot = NULL;
    char *copy = strdup(s);
    HB_ALLOC(copy);
    HB_PUSH(slot, l->items, l->n, HB_STRLIST_MAX);
    *slot = copy;
    copy = NULL;
cleanup:
    free(copy);
    return st;
}

hb_status hb_strlist_addf(hb_strlist *l, hb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return hb_fail_oom(err);
    hb_status st = hb_strlist_add(l, s, err);
    free(s);
    return st;
}

hb_status hb_strlist_extend(hb_strlist *dst, const hb_strlist *src, hb_err *err)
{
    for (size_t i = 0; i < src->n; i++) {
        hb_status st = hb_strlist_add(dst, src->items[i], err);
        if (st != HB_OK)
            return st;
    }
    return HB_OK;
}
