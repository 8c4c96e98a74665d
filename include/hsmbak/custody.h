/* Key custody (issue 5, docs/custody.md): enrollment ceremonies, the signed
 * ceremony transcript, recipient sets and k-of-n quorum groups.
 *
 *   ROOT/config/custody.xml             enrollments and quorum groups
 *                                       (schema/custody.xsd), written atomically
 *   ROOT/config/custody-transcript.xml  append-only, hash-chained, every entry
 *                                       signed by the backup-signer key
 *                                       (schema/transcript.xsd)
 *
 * Both live in the `config` resource, so backups carry them. */
#ifndef HSMBAK_CUSTODY_H
#define HSMBAK_CUSTODY_H

#include "hsmbak/manifest.h"
#include "hsmbak/provider.h"
#include "hsmbak/status.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_CUSTODY_NAME_MAX 64
#define HB_CUSTODY_WARN_DAYS 30

/* ---- enrollment store ------------------------------------------------------ */

typedef enum hb_enrollment_state {
    HB_ENROLL_PENDING, /* key made, CSR out, CA-signed certificate not imported yet */
    HB_ENROLL_ACTIVE,  /* a recipient of every backup made without a recipient list */
    HB_ENROLL_RETIRED, /* never a recipient again; its key still opens old backups */
} hb_enrollment_state;

typedef struct hb_enrollment {
    char name[HB_CUSTODY_NAME_MAX + 1];  /* also the crypto objects' name */
    hb_enrollment_state state;
    char fingerprint[65];                /* SHA-256 of the DER certificate; "" pending */
    char *subject;                       /* RFC 2253 */
    char token_label[33], token_serial[17];
    char *key_uri;                       /* pkcs11: URI of the private key */
    hb_oaep_hash key_wrap;               /* probed at enrollment */
    char **custodians;
    size_t n_custodians;
    char enrolled[21];                   /* RFC 3339 UTC */
    char not_after[21];                  /* certificate expiry; "" pending */
    char retired[21];                    /* "" unless retired */
    uint8_t *cert_der;                   /* NULL while pending */
    size_t cert_der_len;
    uint8_t *spki_der;                   /* the key's SubjectPublicKeyInfo (DER) */
    size_t spki_der_len;
} hb_enrollment;

typedef struct hb_quorum_group {
    char name[HB_CUSTODY_NAME_MAX + 1];  /* [a-z0-9][a-z0-9-]* */
    unsigned threshold;
    bool retired;
    char created[21];
    char (*members)[65];                 /* enrollment fingerprints */
    size_t n_members;
} hb_quorum_group;

typedef struct hb_custody hb_custody;

/* Load ROOT/config/custody.xml (absent: empty). */
HB_API hb_status hb_custody_load(const char *root, hb_custody **out, hb_err *err) HB_MUST_CHECK;
HB_API void hb_custody_free(hb_custody *c);

HB_API size_t hb_custody_n_enrollments(const hb_custody *c);
HB_API const hb_enrollment *hb_custody_enrollment_at(const hb_custody *c, size_t i);
HB_API size_t hb_custody_n_groups(const hb_custody *c);
HB_API const hb_quorum_group *hb_custody_group_at(const hb_custody *c, size_t i);

/* By name or by fingerprint (full, or a unique prefix of at least 8 hex
 * digits); NULL when absent or ambiguous. */
HB_API const hb_enrollment *hb_custody_find(const hb_custody *c, const char *name_or_fp);
HB_API const hb_quorum_group *hb_custody_find_group(const hb_custody *c, const char *name);

/* Warnings for active enrollments whose certificate expires within
 * HB_CUSTODY_WARN_DAYS of now (or already has): one entry each, appended
 * to out. */
HB_API hb_status hb_custody_expiry_warnings(const hb_custody *c, time_t now, hb_strlist *out,
                                            hb_err *err) HB_MUST_CHECK;

/* ---- ceremonies (each appends one signed transcript entry) ---------------- */

/* Ceremony flags. HB_CEREMONY_NEW_TRANSCRIPT: the system's transcript is
 * missing while a pinned head exists (docs/custody.md "Transcript"); start
 * a new log anyway, its first entry saying so. Refused when a transcript
 * is there. */
#define HB_CEREMONY_NEW_TRANSCRIPT 1u

typedef struct hb_enroll_request {
    const char *root;
    const char *token_uri;               /* pkcs11:token=LABEL */
    const char *const *custodians;       /* at least one */
    size_t n_custodians;
    const char *name;                    /* NULL: from the CN */
    const char *cn;                      /* NULL: "hsmbak recipient NAME" */
    hb_key_type key_type;                /* RSA only */
    unsigned days;                       /* self-signed validity; 0 = 730 */
    bool csr;                            /* CSR for a CA instead of a self-signed cert */
    unsigned flags;                      /* HB_CEREMONY_* */
} hb_enroll_request;

typedef struct hb_enroll_result {
    char name[HB_CUSTODY_NAME_MAX + 1];
    char fingerprint[65];                /* "" with csr */
    char key_uri[512];
    char cert_url[PATH_MAX];             /* cert:///NAME-sscert.pem, "" with csr */
    char csr_url[PATH_MAX];              /* temporary:///NAME.csr with csr */
    hb_oaep_hash key_wrap;
    char token_label[33], token_serial[17];
    /* CKA_ALLOWED_MECHANISMS read back (hb_keygen_result): */
    char mechanisms_limit[16], allowed_mechanisms[96];
    char mechanisms_warning[320];        /* "" unless the token ignores it */
    hb_strlist warnings;
} hb_enroll_result;
HB_API void hb_enroll_result_free(hb_enroll_result *res);

HB_API hb_status hb_ceremony_enroll(hb_provider *p, const hb_enroll_request *req,
                                    hb_enroll_result *res, hb_err *err) HB_MUST_CHECK;

/* Import the CA-signed certificate for a pending enrollment (by name or
 * fingerprint prefix is not possible while pending: by name). The
 * certificate's public key must be the enrolled key's. */
HB_API hb_status hb_ceremony_import_cert(hb_provider *p, const char *root, const char *name,
                                         const char *cert_url, const char *const *custodians,
                                         size_t n_custodians, char fingerprint_out[65],
                                         unsigned flags, hb_err *err) HB_MUST_CHECK;

/* Retire an enrollment (name or fingerprint) or a quorum group (name). */
HB_API hb_status hb_ceremony_retire(hb_provider *p, const char *root, const char *what,
                                    const char *const *custodians, size_t n_custodians,
                                    unsigned flags, hb_err *err) HB_MUST_CHECK;

/* Define quorum group `name`: threshold of the listed enrollments (names or
 * fingerprints, all active, 2 <= threshold <= n <= 255). */
HB_API hb_status hb_ceremony_quorum(hb_provider *p, const char *root, const char *name,
                                    unsigned threshold, const char *const *members,
                                    size_t n_members, const char *const *custodians,
                                    size_t n_custodians, unsigned flags,
                                    hb_err *err) HB_MUST_CHECK;

/* Record the custody store as it is in a signed transcript entry (the
 * migration from a transcript whose last entry has no custody snapshot, or
 * the deliberate acceptance of a store changed by hand). */
HB_API hb_status hb_ceremony_attest(hb_provider *p, const char *root,
                                    const char *const *custodians, size_t n_custodians,
                                    unsigned flags, hb_err *err) HB_MUST_CHECK;

/* ---- transcript ------------------------------------------------------------ */

/* The recipient-relevant custody state a v2 transcript entry signs (the
 * store after the entry's change; docs/custody.md "Transcript"). */
typedef struct hb_snapshot_enrollment {
    char name[HB_CUSTODY_NAME_MAX + 1];
    char fingerprint[65];                /* certificate SHA-256; "" pending */
    char spki_sha256[65];                /* SHA-256 of the key's SubjectPublicKeyInfo */
    hb_enrollment_state state;
    hb_oaep_hash key_wrap;
} hb_snapshot_enrollment;

typedef struct hb_snapshot_group {
    char name[HB_CUSTODY_NAME_MAX + 1];
    unsigned threshold;
    bool retired;
    char (*members)[65];                 /* in group order (the shares' x order) */
    size_t n_members;
} hb_snapshot_group;

typedef struct hb_custody_snapshot {
    hb_snapshot_enrollment *enrollments; /* sorted by name */
    size_t n;
    hb_snapshot_group *groups;           /* sorted by name */
    size_t n_groups;
} hb_custody_snapshot;

HB_API void hb_custody_snapshot_free(hb_custody_snapshot *s);

typedef struct hb_transcript_entry {
    unsigned long seq;                   /* 1, 2, ... */
    unsigned version;                    /* 1 (legacy) or 2 (with a snapshot) */
    char time[21];
    char *who, *what, *detail;
    char (*fingerprints)[65];
    size_t n_fingerprints;
    char prev[65];                       /* hash of the entry before, or the anchor */
    char hash[65];                       /* SHA-256 of this entry's signed bytes */
    uint8_t *sig;                        /* by the anchor's key over the same bytes */
    size_t sig_len;
    hb_custody_snapshot snapshot;        /* v2: the store after this entry */
    uint8_t *pop_spki;                   /* v2 enroll/import-cert: the new key (DER) */
    size_t pop_spki_len;
    uint8_t *pop_sig;                    /* by that key over the entry's body */
    size_t pop_sig_len;
} hb_transcript_entry;

typedef struct hb_transcript {
    char anchor[65];                     /* SHA-256 of the signer certificate */
    char *signer_subject;
    uint8_t *signer_der;                 /* the anchor: the signer certificate */
    size_t signer_der_len;
    hb_transcript_entry *entries;
    size_t n;
} hb_transcript;

HB_API void hb_transcript_free(hb_transcript *t);

/* Verify the system's transcript against its backup signer's certificate
 * and against the head this system pinned (.hsmbak/transcript-pin). */
HB_API hb_status hb_ceremony_verify_transcript(hb_provider *p, const char *root,
                                               hb_transcript **out, hb_strlist *warnings,
                                               hb_err *err) HB_MUST_CHECK;

/* The same, and also against the pin in kept, a backup's manifest the
 * caller verified and trusts (hb_inspect): what still tells a truncated or
 * deleted transcript when the root's .hsmbak/ was lost too. A manifest
 * without a pin adds nothing. */
HB_API hb_status hb_ceremony_verify_transcript_against(hb_provider *p, const char *root,
                                                       const hb_manifest *kept,
                                                       hb_transcript **out,
                                                       hb_strlist *warnings,
                                                       hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
