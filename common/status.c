/* Failure messages: one buffer per call chain, filled where the failure is
 * first seen (STYLE.md "translate at the boundary"). */
#include "hsmbak/status.h"

#include "common/fail.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message cut short at HB_MSG_MAX ends in "..." to say so: it is still
 * useful, and the reader knows there was more. */
static void mark_cut(char msg[HB_MSG_MAX])
{
    memcpy(msg + HB_MSG_MAX - 4, "...", 4);
}

HB_PRINTF(3, 0)
static void set_message(hb_err *err, hb_status st, const char *fmt, va_list ap)
{
    static const char unprintable[] = "unprintable error message";
    err->status = st;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (n < 0)
        memcpy(err->msg, unprintable, sizeof unprintable);
    else if ((size_t)n >= sizeof err->msg)
        mark_cut(err->msg);
}

hb_status hb_fail(hb_err *err, hb_status st, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        set_message(err, st, fmt, ap);
        va_end(ap);
    }
    return st;
}

hb_status hb_fail_ossl(hb_err *err, hb_status st, const char *fmt, ...)
{
    unsigned long code = ERR_peek_last_error();
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        set_message(err, st, fmt, ap);
        va_end(ap);
        if (code != 0) {
            char reason[256];
            ERR_error_string_n(code, reason, sizeof reason);
            size_t used = strlen(err->msg);
            int n = snprintf(err->msg + used, sizeof err->msg - used, " (%s)", reason);
            if (n < 0 || (size_t)n >= sizeof err->msg - used)
                mark_cut(err->msg);
        }
    }
    ERR_clear_error();
    return st;
}

void hb_err_vprefix(hb_err *err, const char *fmt, va_list ap)
{
    if (err == NULL)
        return;
    char prefix[HB_MSG_MAX];
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    if (n < 0)
        return;
    char joined[HB_MSG_MAX];
    n = snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof joined)
        mark_cut(joined);
    memcpy(err->msg, joined, sizeof joined);
}

void hb_err_prefix(hb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hb_err_vprefix(err, fmt, ap);
    va_end(ap);
}

hb_status hb_fail_oom(hb_err *err)
{
    return hb_fail(err, HB_E_INTERNAL, "out of memory");
}

void hb_strlist_free(hb_strlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void hb_err_clear(hb_err *err)
{
    if (err != NULL) {
        err->status = HB_OK;
        err->msg[0] = '\0';
    }
}

const char *hb_status_name(hb_status st)
{
    switch (st) {
    case HB_OK: return "ok";
    case HB_E_USAGE: return "usage";
    case HB_E_NOT_FOUND: return "not-found";
    case HB_E_AUTH: return "auth";
    case HB_E_VERIFY: return "verify-failed";
    case HB_E_REFUSED: return "refused";
    case HB_E_IO: return "io";
    case HB_E_TOKEN: return "token";
    case HB_E_INTERNAL: return "internal";
    }
    return "unknown";
}
