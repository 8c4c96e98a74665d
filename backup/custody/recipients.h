/* Recipient sets (docs/custody.md "Recipient sets"): who receives the keys
 * of the next backup, resolved from names or from the enrolled defaults. */
#ifndef HSMBAK_CUSTODY_RECIPIENTS_H
#define HSMBAK_CUSTODY_RECIPIENTS_H

#include "hsmbak/custody.h"
#include "provider/token.h"

#include <stdbool.h>
#include <stddef.h>

#define HB_RSET_LABEL_MAX 96

typedef struct hb_rset_single {
    X509 *cert;
    hb_oaep_hash hash;
    bool ignore_expiration;
    char label[HB_RSET_LABEL_MAX]; /* "recipient certificate 'x'" / "enrolled recipient 'y'" */
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
    hb_strlist warnings;       /* expiry and skipped-group warnings */
} hb_recipient_set;

/* Resolve a backup's recipients (docs/custody.md "Recipient sets"):
 *  - no names: every active enrollment that is not a member of an active
 *    quorum group, and every active quorum group;
 *  - names: each a quorum group name, an enrollment name or fingerprint
 *    (prefix of >= 8 hex digits), or a certificate object name, in that order.
 * Retired enrollments are refused, also when named through a certificate
 * object with the same certificate. The caller has checked the transcript
 * against its pinned head (hb_transcript_pin_for_backup) first. */
hb_status hb_recipient_set_resolve(const char *root, hb_provider *p, const char *const *names,
                                   size_t n, hb_recipient_set *out, hb_err *err) HB_MUST_CHECK;
void hb_recipient_set_free(hb_recipient_set *s);

#endif
