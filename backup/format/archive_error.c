/* libarchive's failures as an hb_err (STYLE.md "translate at the boundary"),
 * for the archive reader and writer alike. */
#include "backup/format/archive_internal.h"

#include "common/fail.h"

#include <archive.h>
#include <errno.h>
#include <stdarg.h>

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
    const char *why = archive_error_string(a);
    hb_status code = archive_errno(a) == ENOSPC ? HB_E_IO : st;
    hb_fail(err, code, "%s", why != NULL ? why : "unknown libarchive error");
    va_list ap;
    va_start(ap, fmt);
    hb_err_vprefix(err, fmt, ap);
    va_end(ap);
    return code;
}
