/* The ceremony transcript's pinned head (docs/custody.md "Transcript",
 * docs/FORMAT.md §10): what stops a truncated, rolled-back or deleted
 * transcript from passing as a shorter valid log.
 *
 * Every backup's signed manifest carries the transcript's entry count and
 * head hash; the system keeps the newest pin it knows in
 * ROOT/.hsmbak/transcript-pin (which factory reset and restore carry over),
 * updated when a backup commits, after every ceremony append and on a
 * restore. Every append and verify-transcript compare the transcript with
 * it. Every function here runs under the root's lock. */
#ifndef HSMBAK_CUSTODY_TRANSCRIPT_PIN_H
#define HSMBAK_CUSTODY_TRANSCRIPT_PIN_H

#include "hsmbak/custody.h"

#include "backup/format/manifest.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#define HB_TRANSCRIPT_PIN_STATE ".hsmbak/transcript-pin"

/* The newest head this system knows, and where it came from. */
typedef struct hb_transcript_pin {
    uint64_t seq;              /* the transcript's entry count; 0: no pin */
    char head[65];             /* the hash of entry seq (hex) */
    bool from_backup;          /* a backup's manifest, else a ceremony here */
    char backup_id[37];        /* from_backup: the backup's id */
    char time[21];             /* from_backup: its created; else the ceremony's time */
    char how[9];               /* from_backup: "made" or "restored" */
} hb_transcript_pin;

/* Read ROOT/.hsmbak/transcript-pin (absent: no pin, seq 0). HB_E_VERIFY
 * when it is there but is not one hsmbak wrote. */
hb_status hb_transcript_pin_load(const char *root, hb_transcript_pin *out,
                                 hb_err *err) HB_MUST_CHECK;

/* The transcript t (NULL: there is none) against pin (seq 0: nothing to
 * compare): t must hold at least pin->seq entries and its entry pin->seq
 * must have the pinned hash. HB_E_VERIFY names the pin's backup (or
 * ceremony), both heads, and what to do. */
hb_status hb_transcript_pin_compare(const hb_transcript *t, const hb_transcript_pin *pin,
                                    hb_err *err) HB_MUST_CHECK;

/* The pin in backup m's manifest, as if this system had recorded it
 * (seq 0 when it has none). */
hb_status hb_transcript_pin_of_manifest(const hb_manifest *m, hb_transcript_pin *out,
                                        hb_err *err) HB_MUST_CHECK;

/* For a backup, before anything is written: the system's transcript
 * (verified, chain and signatures) compared with the system's pin; *seq and
 * head get its entry count and head hash, *seq 0 when there is no
 * transcript and no pin. */
hb_status hb_transcript_pin_for_backup(const char *root, uint64_t *seq, char head[65],
                                       hb_err *err) HB_MUST_CHECK;

/* Backup m was committed ("made") or is being restored ("restored") here:
 * its manifest's pin becomes the system's. A made backup without a pin
 * changes nothing; a restored one without a pin removes the system's (the
 * restored config has no transcript that was pinned). */
hb_status hb_transcript_pin_record_backup(const char *root, const hb_manifest *m,
                                          const char *how, hb_err *err) HB_MUST_CHECK;

/* What a ceremony's append may do, decided before the ceremony writes
 * anything. */
typedef struct hb_pin_guard {
    bool new_log;              /* the transcript is missing: this append starts one */
    char note[400];            /* new_log: what the first entry's detail says of it */
} hb_pin_guard;

/* Before a ceremony writes anything: the transcript verifies against
 * signer and holds the pinned head; a missing transcript while a pin
 * exists is refused unless new_transcript (then out->note says which head
 * was pinned); new_transcript with a transcript present is refused. */
hb_status hb_transcript_pin_guard(const char *root, X509 *signer, bool new_transcript,
                                  hb_pin_guard *out, hb_err *err) HB_MUST_CHECK;

/* After a ceremony's append: its new head becomes the system's pin. */
hb_status hb_transcript_pin_after_append(const char *root, X509 *signer,
                                         hb_err *err) HB_MUST_CHECK;

#endif
