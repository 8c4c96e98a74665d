/* Internals of key custody (custody.c, ceremony.c, recipients.c). */
#ifndef HSMBAK_BACKUP_CUSTODY_INTERNAL_H
#define HSMBAK_BACKUP_CUSTODY_INTERNAL_H

#include "hsmbak/custody.h"

#include <openssl/x509.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct hb_custody {
    char path[PATH_MAX];
    hb_enrollment *enrollments;
    size_t n;
    hb_quorum_group *groups;
    size_t n_groups;
};

/* Write ROOT/config/custody.xml atomically (0600). */
hb_status hb_custody_save(const hb_custody *c, hb_err *err) HB_MUST_CHECK;

const char *hb_enrollment_state_name(hb_enrollment_state s);
void hb_enrollment_clear(hb_enrollment *e);
/* The enrollment's certificate (HB_E_VERIFY while pending). */
hb_status hb_enrollment_cert(const hb_enrollment *e, X509 **out, hb_err *err) HB_MUST_CHECK;
/* A warning appended to out when an active enrollment's certificate
 * expires within HB_CUSTODY_WARN_DAYS of now or has expired. */
hb_status hb_enrollment_expiry_warning(const hb_enrollment *e, time_t now, hb_strlist *out,
                                       hb_err *err) HB_MUST_CHECK;

#endif
