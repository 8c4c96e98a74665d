/* The system's backup sequence (docs/reliability.md "Rollback"): the state
 * in ROOT/.hsmbak/sequence that says which sequence number the next backup
 * gets and which backup is the newest this system has made or restored.
 * It lives in .hsmbak/, which factory reset and restore carry over, so it
 * survives both; every function here needs the root's lock held (sys open
 * with hb_system_open) and replaces the file atomically. */
#ifndef HSMBAK_SYSTEM_SEQUENCE_H
#define HSMBAK_SYSTEM_SEQUENCE_H

#include "backup/system/system.h"

#include <stdbool.h>
#include <stdint.h>

#define HB_SEQUENCE_STATE ".hsmbak/sequence"

typedef struct hb_sequence_state {
    uint64_t counter;          /* the last sequence given to a backup here (0: none);
                                  a backup that failed after taking one leaves a gap */
    uint64_t newest;           /* the newest sequence made or restored (0: none) */
    char newest_id[37];        /* that backup's id, "" when newest is 0 */
    char newest_created[21];   /* its created time */
    char newest_how[9];        /* "made" or "restored" */
} hb_sequence_state;

/* Read the state; a root without the file has no history (all zero).
 * HB_E_VERIFY when the file is there but is not one hsmbak wrote (the
 * message names it and what to do): a state that cannot be read is never
 * taken for "no history". */
hb_status hb_sequence_load(const hb_system *sys, hb_sequence_state *out,
                           hb_err *err) HB_MUST_CHECK;

/* The sequence for a new backup: one more than both the counter and the
 * newest (a system that restored another's backup continues after it).
 * Only reads: a backup refused before it is committed changes nothing. */
hb_status hb_sequence_next(const hb_system *sys, uint64_t *seq, hb_err *err) HB_MUST_CHECK;

/* The backup with sequence seq (from hb_sequence_next, under the same lock)
 * is about to be committed: seq becomes the counter, so no other backup of
 * this system ever gets it, even when this one is not committed after all
 * (a gap). HB_E_INTERNAL when seq is not above the counter and the newest. */
hb_status hb_sequence_claim(const hb_system *sys, uint64_t seq, hb_err *err) HB_MUST_CHECK;

/* Backup id/created with sequence seq was made ("made") or restored
 * ("restored") here: it becomes the newest when its sequence is higher than
 * the newest's. seq 0 (a backup without a sequence) changes nothing. */
hb_status hb_sequence_record(const hb_system *sys, uint64_t seq, const char *id,
                             const char *created, const char *how,
                             hb_err *err) HB_MUST_CHECK;

#endif
