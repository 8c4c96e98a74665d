/* secure-backup and secure-restore (DESIGN §5, seed article). */
#ifndef HSMBAK_BACKUP_H
#define HSMBAK_BACKUP_H

#include "hsmbak/checks.h"
#include "hsmbak/compression.h"
#include "hsmbak/manifest.h"
#include "hsmbak/provider.h"
#include "hsmbak/remote.h"
#include "hsmbak/rotate.h"
#include "hsmbak/status.h"
#include "hsmbak/system.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Progress callback (may be NULL). Events, with name and bytes:
 *   "destination" dest, 0             backup: where it goes ({date} expanded,
 *                                     as given otherwise), before any work
 *   "scheduled"  archive, 0           an archive will be made / read
 *   "validating" / "restoring"  archive, its file size   restore: one begins
 *   "total"      NULL, bytes          the bytes that "bytes" events count to
 *                                     (backup: file content; restore: the
 *                                     encrypted files)
 *   "bytes"      archive, n more bytes  BACKUP CALLS THIS FROM THE POOL'S
 *                                     WORKER THREADS, concurrently: the
 *                                     callback must be thread-safe
 *   "archived"   archive, 0           backup: an archive is written (also
 *                                     from the worker threads)
 *   "complete"   archive, its file size  one archive done (backup: its key
 *                                     wrapped to every recipient)
 *   "check"      check name, 0        restore/validate: a check passed
 *                                     (signature, signer-trust, version,
 *                                     profile, factory-state, idcred,
 *                                     recipient, files, rollback, swap; the whole
 *                                     report is hb_restore_result.checks)
 * Unknown events must be ignored (more may be added). */
typedef void (*hb_progress_fn)(void *ctx, const char *event, const char *name,
                               uint64_t bytes);

typedef struct hb_backup_request {
    const char *const *recipients; /* certificate objects, enrolled recipients (name or
                                      fingerprint) or quorum groups; none: every active
                                      enrollment and quorum group (docs/custody.md) */
    size_t n_recipients;
    const char *dest;              /* appliance URL, sftp:// URL or path; must be absent
                                      or empty. May hold {date} once, in its last
                                      component: it becomes the backup's UTC time
                                      (include/hsmbak/rotate.h) */
    unsigned keep;                 /* > 0: afterwards keep the `keep` newest valid backups
                                      whose names match the dated dest (hb_rotate) */
    hb_compression compression;
    unsigned jobs;                 /* archive workers; 0 = online CPUs */
    unsigned seg_log2;             /* 0 = default */
    hb_progress_fn progress;
    void *progress_ctx;
    /* For an sftp:// dest (docs/remote.md); NULL: ~/.ssh/id_ed25519 (then
     * id_rsa) and ~/.ssh/known_hosts. */
    const char *ssh_identity;
    const char *ssh_known_hosts;
    hb_s3_options s3;              /* for an s3:// dest (docs/remote.md) */
} hb_backup_request;

typedef struct hb_backup_result {
    char dest[PATH_MAX];           /* where the backup now is */
    hb_manifest *manifest;         /* what was written; free with hb_manifest_free */
    uint64_t expanded_bytes;       /* tar content backed up */
    unsigned stale_partials_removed; /* left beside DEST by killed backups */
    hb_strlist warnings;           /* e.g. enrolled certificates expiring soon */
    hb_rotate_result rotation;     /* keep > 0: what rotation removed and left alone */
    unsigned self_checked;         /* recipients whose key on this system's tokens opened
                                      one wrapped key of this backup (the self-check) */
} hb_backup_result;

/* Back up every non-empty resource of sys's profile to req->dest, signed by
 * the system's backup-signer idcred, in stages (backup/ops/backup.c):
 * recipients, signer, manifest, destination, archives, key wraps, signed
 * manifest, commit; then, with keep, rotation. The directory appears under
 * its final name only when complete and synced. res->manifest is set once
 * the backup is complete: when only the rotation after it fails, the status
 * is rotation's and res->manifest (and res->rotation, as far as it got) are
 * set. Free res in every case. */
HB_API hb_status hb_secure_backup(hb_system *sys, hb_provider *p, const hb_backup_request *req,
                                  hb_backup_result *res, hb_err *err) HB_MUST_CHECK;
HB_API void hb_backup_result_free(hb_backup_result *res);

/* Asked when an idcred's token is not present (several tokens may share one
 * reader slot): return true once the operator has inserted it, false to give
 * up. message says which token is missing. */
typedef bool (*hb_insert_token_fn)(void *ctx, const char *idcred, const char *message);

typedef struct hb_restore_request {
    const char *idcred;            /* its certificate must be a recipient */
    const char *source;            /* URL (also sftp://) or path of the backup directory */
    bool validate_only;            /* check everything, change nothing */
    const char *signer;            /* a certificate object trusted for this run; NULL:
                                      only trusted-signer certificates */
    uint64_t max_size;             /* expanded-size cap per archive; 0 = default */
    hb_progress_fn progress;
    void *progress_ctx;
    /* Several idcreds (--idcred A --idcred B ...), used instead of idcred when
     * n_idcreds > 0: the first one whose certificate is a single recipient
     * opens the backup; otherwise at least a quorum's threshold of members
     * do (docs/custody.md). */
    const char *const *idcreds;
    size_t n_idcreds;
    hb_insert_token_fn insert_token; /* may be NULL: a missing token is an error */
    void *insert_ctx;
    bool allow_rollback;           /* restore a backup older than the newest this system
                                      made or restored (docs/reliability.md "Rollback") */
    /* For an sftp:// source, as in hb_backup_request. */
    const char *ssh_identity;
    const char *ssh_known_hosts;
    hb_s3_options s3;              /* for an s3:// source */
} hb_restore_request;

/* What this system knew of its backups when the run began, and whether the
 * backup is a rollback (docs/reliability.md "Rollback"). */
typedef struct hb_restore_history {
    uint64_t newest;               /* the newest sequence this system made or restored;
                                      0: none (no history: every backup is accepted) */
    char newest_id[37];            /* that backup's id ("" when newest is 0) */
    char newest_created[21];       /* its created time, RFC 3339 UTC */
    char newest_how[9];            /* "made" or "restored" */
    bool rollback;                 /* the backup's sequence is lower than newest (a backup
                                      without one counts as 0) */
    char *message;                 /* rollback: what it is, naming both backups; NULL
                                      otherwise. A restore without allow_rollback fails
                                      with it; a validate or an allowed restore passes
                                      with it as the "rollback" check's warning */
} hb_restore_history;

typedef struct hb_restore_result {
    hb_manifest *manifest;         /* the verified manifest (NULL when the run failed) */
    hb_check_report checks;        /* every check in order with its status, also when
                                      the run failed (include/hsmbak/checks.h) */
    char *signer_subject;          /* RFC 2253; NULL until the signature verified */
    char signer_fingerprint[65];   /* SHA-256, hex; "" until then */
    uint64_t entries, expanded_bytes;
    unsigned leftovers_cleaned;    /* staging trees of interrupted runs removed */
    int post_restore_status;       /* exit status of the post-restore command, -1 none */
    bool restarts;                 /* restore: the profile says its post-restore command
                                      restarts the system (restarts="true") and the
                                      command exited 0 */
    hb_strlist next_steps;         /* restore: what the operator does next (the profile's
                                      resets, what the backup did not hold, the profile's
                                      next steps), in that order */
    hb_restore_history history;    /* set once the signer is trusted; a restore then makes
                                      newest the higher of it and the backup's sequence
                                      (just before the swap); a validate changes nothing */
} hb_restore_result;

/* Validate (req->validate_only) or restore the backup at req->source, in
 * stages (backup/ops/restore.c) whose checks res->checks reports, also when
 * one fails; free res in every case. */
HB_API hb_status hb_secure_restore(hb_system *sys, hb_provider *p, const hb_restore_request *req,
                                   hb_restore_result *res, hb_err *err) HB_MUST_CHECK;
HB_API void hb_restore_result_free(hb_restore_result *res);

#ifdef __cplusplus
}
#endif
#endif
