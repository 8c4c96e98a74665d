/* The ceremony transcript's file (docs/custody.md "Transcript"): append and
 * verify, for the ceremonies and for verify-transcript. */
#ifndef HSMBAK_CUSTODY_TRANSCRIPT_H
#define HSMBAK_CUSTODY_TRANSCRIPT_H

#include "hsmbak/custody.h"

#include "backup/format/manifest.h"

#include <openssl/x509.h>

/* who, what and detail of an entry: 1..HB_TRANSCRIPT_TEXT_MAX bytes each. */
#define HB_TRANSCRIPT_TEXT_MAX 1024

/* What a new entry says. */
typedef struct hb_transcript_record {
    const char *who, *what, *detail;
    const char *const *fingerprints;
    size_t n_fingerprints;
    /* The custody store after the entry's change: a version 2 entry. NULL
     * writes a legacy version 1 entry (only tests of old logs do). */
    const hb_custody_snapshot *snapshot;
    /* Proof of possession (enroll, import-cert): the new key's SPKI (DER)
     * and a function that signs with that key, called once with the entry's
     * body; NULL/0 for none. */
    const uint8_t *pop_spki;
    size_t pop_spki_len;
    hb_sign_fn pop_sign;
    void *pop_ctx;
} hb_transcript_record;

/* Append an entry to the transcript at path (created, anchored to
 * signer_cert, when absent). The existing transcript is verified first and
 * must be anchored to signer_cert: nothing is appended to a broken log. */
hb_status hb_transcript_append_record(const char *path, X509 *signer_cert, hb_sign_fn sign,
                                      void *sign_ctx, const hb_transcript_record *r,
                                      hb_err *err) HB_MUST_CHECK;
/* The same in two steps, for an entry whose proof of possession must be
 * made while the new key may still sign (before hb_token_key_seal): prepare
 * verifies the log, makes the entry (time, sequence, snapshot) and calls
 * r->pop_sign; commit signs it with the backup signer and writes the file.
 * Nothing is written until commit. sign is only checked by prepare. */
typedef struct hb_transcript_pending hb_transcript_pending;
hb_status hb_transcript_prepare(const char *path, X509 *signer_cert, hb_sign_fn sign,
                                const hb_transcript_record *r, hb_transcript_pending **out,
                                hb_err *err) HB_MUST_CHECK;
hb_status hb_transcript_commit(hb_transcript_pending *pd, hb_sign_fn sign, void *sign_ctx,
                               hb_err *err) HB_MUST_CHECK;
void hb_transcript_pending_free(hb_transcript_pending *pd);

/* The same with no snapshot: a legacy version 1 entry (tests of old logs). */
hb_status hb_transcript_append(const char *path, X509 *signer_cert, hb_sign_fn sign,
                               void *sign_ctx, const char *who, const char *what,
                               const char *detail, const char *const *fingerprints,
                               size_t n_fingerprints, hb_err *err) HB_MUST_CHECK;

/* Verify every entry: sequence, chain (each previous hash, the first one
 * against the anchor), hash and signature. expected_signer (may be NULL)
 * must be the anchor's certificate. HB_E_VERIFY names the entry and what is
 * wrong. *out (may be NULL) gets the entries. */
hb_status hb_transcript_verify(const char *path, X509 *expected_signer, hb_transcript **out,
                               hb_err *err) HB_MUST_CHECK;

/* Where the system's transcript lives: ROOT/config/custody-transcript.xml. */
hb_status hb_transcript_path(const char *root, char *out, size_t cap, hb_err *err) HB_MUST_CHECK;

#endif
