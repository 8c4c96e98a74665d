/* libarchive's failures as an hb_err (STYLE.md "translate at the boundary"),
 * for the archive reader and writer alike. */
#include "backup/format/archive_internal.h"

#include "common/fail.h"

#include <archive.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

hb_status hb_archive_fail(hb_err *err, const hb_err *cb, struct archive *a, hb_status st,
                          const char *fmt, ...)
{
    /* Our own callback failed first and knows why (a bad tag, a truncated
     * stream, no space left): libarchive only saw "-1". */
    if (cb != NULL && cb->status != HB_OK) {
        if (err != NULL)
            *err = *cb;
        return cb->status;
    }
    /* The context is cut, if ever, where hb_fail would cut the whole
     * message anyway (HB_MSG_MAX, marked with "..."). */
    char context[HB_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    if (n < 0)
        context[0] = '\0';
    const char *why = archive_error_string(a);
    return hb_fail(err, archive_errno(a) == ENOSPC ? HB_E_IO : st, "%s: %s", context,
                   why != NULL ? why : "unknown libarchive error");
}
