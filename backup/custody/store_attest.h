/* The custody store is only believed as far as the signed ceremony
 * transcript vouches for it (docs/custody.md "Recipient sets", issue 15):
 * the store is compared with the custody snapshot of the transcript's last
 * entry before any recipient is taken from it, and before a ceremony
 * changes it. */
#ifndef HSMBAK_CUSTODY_STORE_ATTEST_H
#define HSMBAK_CUSTODY_STORE_ATTEST_H

#include "hsmbak/custody.h"

#include <stdbool.h>

/* Store c against transcript t (verified; NULL when the system has none,
 * found at tpath). HB_E_VERIFY names the first disagreement; HB_E_REFUSED
 * when t's last entry is a legacy v1 entry (no snapshot), unless legacy_ok,
 * when *legacy (may be NULL) is set instead. */
hb_status hb_store_attest_compare(const hb_custody *c, const hb_transcript *t,
                                  const char *tpath, bool legacy_ok, bool *legacy,
                                  hb_err *err) HB_MUST_CHECK;

/* Verify the system's transcript against the backup signer's certificate
 * (the crypto store, no login) and compare store c with it. A transcript
 * that does not verify is refused with its message after refusal. */
hb_status hb_store_attest_check(hb_provider *p, const char *root, const hb_custody *c,
                                const char *refusal, hb_err *err) HB_MUST_CHECK;

#endif
