/* Internals of key custody (custody.c, ceremony.c, recipients.c). */
#ifndef HSMBAK_BACKUP_CUSTODY_INTERNAL_H
#define HSMBAK_BACKUP_CUSTODY_INTERNAL_H

#include "hsmbak/custody.h"

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

const char *hb_enrollment_state_name(hb_enrollment_state s);
void hb_enrollment_clear(hb_enrollment *e);
/* The enrollment's certificate (HB_E_VERIFY while pending). */
hb_status hb_enrollment_cert(const hb_enrollment *e, X509 **out, hb_err *err) HB_MUST_CHECK;
/* True (and a warning line) when an active enrollment's certificate expires
 * within HB_CUSTODY_WARN_DAYS of now or has expired. */
bool hb_enrollment_expires_soon(const hb_enrollment *e, time_t now, char *line, size_t cap);

/* ---- recipient sets (recipients.c) ---- */

typedef struct hb_rset_single {
    X509 *cert;
    hb_oaep_hash hash;
    bool ignore_expiration;
    char label[96];            /* "certificate 'x'" / "enrolled recipient 'y'" */
    char fingerprint[65];
} hb_rset_single;

typedef struct hb_rset_group {
    char name[HB_CUSTODY_NAME_MAX + 1];
    unsigned threshold;
    X509 **certs;
    hb_oaep_hash *hashes;
    size_t n;
} hb_rset_group;

typedef struct hb_recipient_set {
    hb_rset_single *singles;
    size_t n_singles;
    hb_rset_group *groups;
    size_t n_groups;
    char warnings[2048];       /* expiry and skipped-group warnings, '\n' separated */
} hb_recipient_set;

/* Resolve a backup's recipients (docs/custody.md "Recipient sets"):
 *  - no names: every active enrollment that is not a member of an active
 *    quorum group, and every active quorum group;
 *  - names: each a quorum group name, an enrollment name or fingerprint
 *    (prefix of >= 8 hex digits), or a certificate object name, in that order.
 * Retired enrollments are refused, also when named through a certificate
 * object with the same certificate. */
hb_status hb_recipient_set_resolve(const char *root, hb_provider *p, const char *const *names,
                                   size_t n, hb_recipient_set *out, hb_err *err) HB_MUST_CHECK;
void hb_recipient_set_free(hb_recipient_set *s);

#endif
