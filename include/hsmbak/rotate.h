/* Scheduled backups: dated destinations and `secure-backup --keep N`.
 *
 * A destination may hold the placeholder {date} once, in its last path
 * component (e.g. /var/backups/hsmbak/web1/backup-{date}); it becomes the UTC
 * time "YYYYMMDDTHHMMSSZ", so names sort by age. Rotation looks at the
 * directory that holds the destination, at entries that match the pattern
 * (same text around a well-formed timestamp), and keeps the N newest VALID
 * backups, removing older valid ones. Valid means: backupmanifest.xml is
 * there, parses and its signature verifies, it is signed with the same
 * certificate as the backup just made (so a planted backup signed by anyone
 * else never counts towards N), and every file it lists is present with its
 * listed size. Anything else that matches (incomplete or damaged backups) is
 * never removed: it is reported for an operator to look at. The backup just
 * made is valid and the newest, so it is never removed. */
#ifndef HSMBAK_ROTATE_H
#define HSMBAK_ROTATE_H

#include "hsmbak/status.h"

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_DATE_PLACEHOLDER "{date}"

/* Copy pattern to out with {date} replaced by when (UTC). A pattern without
 * the placeholder is copied unchanged; more than one, or one outside the last
 * path component, is HB_E_USAGE. */
HB_API hb_status hb_dest_expand(const char *pattern, time_t when, char *out, size_t cap,
                                hb_err *err) HB_MUST_CHECK;

typedef struct hb_rotate_result {
    size_t kept;         /* valid backups kept (the newest N) */
    hb_strlist removed;  /* paths removed, newest first */
    hb_strlist invalid;  /* matching entries that are not valid backups (left alone) */
} hb_rotate_result;

/* Keep the `keep` (>= 1) newest valid backups matching pattern_path (a
 * resolved path holding {date}); newest is the backup just made (its path),
 * the reference for "signed with the same certificate". secure-backup does
 * this itself when its request has keep (include/hsmbak/backup.h). res is
 * filled as far as rotation got, also on failure; free it either way. */
HB_API hb_status hb_rotate(const char *pattern_path, const char *newest, unsigned keep,
                           hb_rotate_result *res, hb_err *err) HB_MUST_CHECK;
HB_API void hb_rotate_result_free(hb_rotate_result *res);

#ifdef __cplusplus
}
#endif
#endif
