/* hsmbak — what a backup's signed manifest says (docs/design.md §4.3).
 *
 * A manifest lists a backup's recipients (the certificates each archive key
 * is wrapped to), its encrypted files and what the profile excluded, and is
 * signed with an enveloped XML-DSig signature by a token-held key.
 *
 * hb_manifest is opaque and read-only here: the operations return one
 * (backup, restore), the accessors below read it, hb_manifest_free frees it.
 * The element structs point into the manifest and live as long as it. */
#ifndef HSMBAK_MANIFEST_H
#define HSMBAK_MANIFEST_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_MANIFEST_FILENAME "backupmanifest.xml"

typedef struct hb_manifest_recipient {
    char *id;             /* "r1", "r2", ... unique in the manifest */
    char *subject;        /* RFC 2253 subject, "CN=My Backup Cert" (informational) */
    char fingerprint[65]; /* SHA-256 of cert_der, lowercase hex */
    char *key_wrap;       /* "rsa-oaep-sha256" or "rsa-oaep-sha1" (DESIGN §4.2) */
    bool oaep_label;      /* oaep-label="hsmbak-v1": wrapped with the label of
                             docs/FORMAT.md §2.1; false: empty label */
    uint8_t *cert_der;
    size_t cert_der_len;
} hb_manifest_recipient;

typedef struct hb_manifest_wrapped_key {
    char *recipient;      /* a recipient id */
    uint8_t *data;
    size_t len;
} hb_manifest_wrapped_key;

typedef struct hb_manifest_file {
    char *name;           /* resource name, "config"; HKDF context (DESIGN §4.1) */
    char *filename;       /* name + extension of compression: "config.tzst" */
    char *compression;    /* "zstd" (.tzst), "gzip" (.tgz), "none" (.tar) */
    uint64_t size;        /* bytes of the encrypted file */
    char sha256[65];      /* of the whole encrypted file, lowercase hex */
    hb_manifest_wrapped_key *keys;
    size_t n_keys;
} hb_manifest_file;

/* A k-of-n quorum recipient (docs/FORMAT.md §8): each file's DEK is wrapped
 * under a per-backup group key G with AES-256 key wrap with padding (RFC 5649);
 * G is split with Shamir's scheme over GF(2^8) and each member's share
 * (x || y, 33 bytes) is wrapped with RSA-OAEP to that member's certificate. */
typedef struct hb_manifest_quorum_member {
    unsigned x;           /* share x coordinate, 1..255, unique in the group */
    char *subject;        /* RFC 2253 (informational) */
    char fingerprint[65]; /* SHA-256 of cert_der */
    char *key_wrap;       /* rsa-oaep-sha256 | rsa-oaep-sha1 */
    bool oaep_label;      /* the share is wrapped with a label (FORMAT.md §2.1) */
    uint8_t *cert_der;
    size_t cert_der_len;
    uint8_t *wrapped_share; /* RSA-OAEP(x || y) */
    size_t wrapped_share_len;
    bool has_commitment;    /* false in manifests made before share commitments */
    uint8_t commitment[32]; /* SHA-256 share commitment (docs/FORMAT.md §8.2) */
} hb_manifest_quorum_member;

typedef struct hb_manifest_quorum {
    char *id;             /* "q1", "q2", ...; unique among recipient and quorum ids */
    char *name;           /* the group's name at backup time (informational) */
    unsigned threshold;   /* shares needed, 2..n */
    hb_manifest_quorum_member *members;
    size_t n_members;
} hb_manifest_quorum;

typedef struct hb_manifest_excluded {
    char *name;
    char *reason;
} hb_manifest_excluded;

typedef struct hb_manifest hb_manifest;

HB_API const char *hb_manifest_id(const hb_manifest *m);       /* lowercase UUIDv4 */
HB_API const char *hb_manifest_created(const hb_manifest *m);  /* RFC 3339 UTC */
HB_API const char *hb_manifest_tool(const hb_manifest *m);     /* "hsmbak 0.1.0" */
/* The system's backup counter when the backup was made (<sequence>): 1 and
 * up, strictly increasing for the backups one system root makes; 0 when the
 * manifest has none (made by hsmbak before sequence numbers). Restore
 * refuses one older than the newest this system knows (docs/reliability.md
 * "Rollback"). */
HB_API uint64_t hb_manifest_sequence(const hb_manifest *m);
/* The ceremony transcript's pin (<transcript>, docs/FORMAT.md §10): how many
 * entries the system's transcript held when the backup was made, and the
 * last one's hash (64 hex digits); 0 and NULL when the manifest has none
 * (no transcript then, or made by hsmbak before pins). */
HB_API uint64_t hb_manifest_transcript_seq(const hb_manifest *m);
HB_API const char *hb_manifest_transcript_head(const hb_manifest *m);
HB_API const char *hb_manifest_version(const hb_manifest *m);  /* system V.R.M.F */
HB_API const char *hb_manifest_profile(const hb_manifest *m);
HB_API size_t hb_manifest_n_recipients(const hb_manifest *m);
HB_API const hb_manifest_recipient *hb_manifest_recipient_at(const hb_manifest *m, size_t i);
HB_API size_t hb_manifest_n_quorums(const hb_manifest *m);
HB_API const hb_manifest_quorum *hb_manifest_quorum_at(const hb_manifest *m, size_t i);
HB_API size_t hb_manifest_n_files(const hb_manifest *m);
HB_API const hb_manifest_file *hb_manifest_file_at(const hb_manifest *m, size_t i);
HB_API size_t hb_manifest_n_excluded(const hb_manifest *m);
HB_API const hb_manifest_excluded *hb_manifest_excluded_at(const hb_manifest *m, size_t i);

HB_API void hb_manifest_free(hb_manifest *m);

#ifdef __cplusplus
}
#endif
#endif
