/* The manifest inside the library (docs/design.md §4.3): its body, the
 * builder the backup uses, and the hardened reader and signing writer. The
 * builder checks every value against the schema's rules, so a written
 * manifest always reads back. */
#ifndef HSMBAK_FORMAT_MANIFEST_H
#define HSMBAK_FORMAT_MANIFEST_H

#include "hsmbak/manifest.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define HB_MANIFEST_NS "urn:hsmbak:manifest:1"
#define HB_MANIFEST_OAEP_LABEL "hsmbak-v1" /* oaep-label's one value (FORMAT.md §2.1) */
#define HB_MANIFEST_DEFAULT_CAP ((size_t)16 * 1024 * 1024)
#define HB_MANIFEST_SEQUENCE_MAX UINT64_C(9223372036854775807) /* 2^63-1, the schema's cap */

struct hb_manifest {
    char *id;             /* lowercase UUIDv4 */
    char *created;        /* RFC 3339 UTC, "2026-11-29T19:00:00Z" */
    uint64_t sequence;    /* the system's backup counter, 1..HB_MANIFEST_SEQUENCE_MAX;
                             0: none (a manifest made before sequences, docs/FORMAT.md) */
    uint64_t transcript_seq;   /* the ceremony transcript's entries when the backup was
                                  made, 1..HB_MANIFEST_SEQUENCE_MAX; 0: no pin */
    char transcript_head[65];  /* the hash of its last entry (hex); "" with no pin */
    char *tool;           /* "hsmbak 0.1.0" */
    char *version;        /* system version V.R.M.F */
    char *profile;        /* profile name */
    char *build;          /* optional (NULL) */
    char *machine_type;   /* optional (NULL) */
    char *serial;         /* optional (NULL) */
    hb_manifest_recipient *recipients;
    size_t n_recipients;
    hb_manifest_file *files;
    size_t n_files;
    hb_manifest_excluded *excluded;
    size_t n_excluded;
    hb_manifest_quorum *quorums;   /* none in manifests without quorum groups */
    size_t n_quorums;
};

/* Signs data with SHA-256: RSA PKCS#1 v1.5 returns the raw signature, ECDSA
 * returns DER (ECDSA-Sig-Value; the writer converts it to XML-DSig's r||s).
 * *sig is OPENSSL_malloc'ed; the manifest code frees it. */
typedef hb_status (*hb_sign_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *siglen, hb_err *err);

hb_status hb_manifest_new(hb_manifest **out, hb_err *err) HB_MUST_CHECK;

/* id NULL: a fresh UUIDv4; created NULL: now; tool NULL: "hsmbak <version>". */
hb_status hb_manifest_set_backup(hb_manifest *m, const char *id, const char *created,
                                 const char *tool, hb_err *err) HB_MUST_CHECK;

/* The backup's sequence number (<sequence>, DESIGN §4.3): 1..2^63-1. A
 * manifest without one (0, the default) is what hsmbak before sequence
 * numbers wrote. */
hb_status hb_manifest_set_sequence(hb_manifest *m, uint64_t sequence, hb_err *err) HB_MUST_CHECK;

/* The transcript pin (<transcript>, docs/FORMAT.md §10): the ceremony
 * transcript held seq entries (1..2^63-1), the last one's hash head (64
 * lowercase hex digits). A manifest without one (the default) is a system
 * without a transcript, or hsmbak before pins. */
hb_status hb_manifest_set_transcript(hb_manifest *m, uint64_t seq, const char *head,
                                     hb_err *err) HB_MUST_CHECK;

/* version V.R.M.F; profile a profile name; build, machine_type, serial may be NULL. */
hb_status hb_manifest_set_system(hb_manifest *m, const char *version, const char *profile,
                                 const char *build, const char *machine_type,
                                 const char *serial, hb_err *err) HB_MUST_CHECK;

/* Add a recipient certificate; computes subject and fingerprint. *id_out (may
 * be NULL) points into m. The same certificate twice is refused. */
hb_status hb_manifest_add_recipient(hb_manifest *m, X509 *cert, const char *key_wrap,
                                    const char **id_out, hb_err *err) HB_MUST_CHECK;

/* Add a quorum group (no members yet); *id_out (may be NULL) points into m. */
hb_status hb_manifest_add_quorum(hb_manifest *m, const char *name, unsigned threshold,
                                 const char **id_out, hb_err *err) HB_MUST_CHECK;
/* Add a member with its wrapped share to quorum quorum_id; commitment (32
 * bytes, docs/FORMAT.md §8.2) may be NULL (a manifest made before share
 * commitments). All members of a quorum have one, or none does. */
hb_status hb_manifest_add_quorum_member(hb_manifest *m, const char *quorum_id, X509 *cert,
                                        const char *key_wrap, unsigned x,
                                        const uint8_t *wrapped_share, size_t wrapped_len,
                                        const uint8_t *commitment,
                                        hb_err *err) HB_MUST_CHECK;
const hb_manifest_quorum *hb_manifest_find_quorum(const hb_manifest *m, const char *id);

/* Mark recipient recipient_id, or member x of quorum quorum_id, as wrapped
 * with the OAEP label of docs/FORMAT.md §2.1 (oaep-label="hsmbak-v1"). */
hb_status hb_manifest_set_recipient_label(hb_manifest *m, const char *recipient_id,
                                          hb_err *err) HB_MUST_CHECK;
hb_status hb_manifest_set_member_label(hb_manifest *m, const char *quorum_id, unsigned x,
                                       hb_err *err) HB_MUST_CHECK;

hb_status hb_manifest_add_file(hb_manifest *m, const char *name, const char *filename,
                               const char *compression, uint64_t size,
                               const char *sha256_hex, hb_err *err) HB_MUST_CHECK;

/* The archive key of file `name` wrapped to recipient `recipient_id` (RSA-OAEP),
 * or to quorum `recipient_id` (RFC 5649 under G: exactly 40 bytes). */
hb_status hb_manifest_add_wrapped_key(hb_manifest *m, const char *name,
                                      const char *recipient_id, const uint8_t *wrapped,
                                      size_t wrapped_len, hb_err *err) HB_MUST_CHECK;

hb_status hb_manifest_add_excluded(hb_manifest *m, const char *name, const char *reason,
                                   hb_err *err) HB_MUST_CHECK;

/* Lookups (NULL when absent); the results point into the manifest. */
const hb_manifest_file *hb_manifest_find_file(const hb_manifest *m, const char *name);
const hb_manifest_recipient *hb_manifest_find_recipient(const hb_manifest *m,
                                                        const char *id);
const hb_manifest_recipient *hb_manifest_find_recipient_cert(const hb_manifest *m,
                                                             X509 *cert);
const hb_manifest_wrapped_key *hb_manifest_find_wrapped_key(const hb_manifest_file *f,
                                                            const char *recipient_id);

/* The file extension for a compression ("zstd" -> ".tzst"), NULL if unknown. */
const char *hb_manifest_extension(const char *compression);

/* Serialize m and sign it (XML-DSig enveloped, exc-C14N, SHA-256, rsa-sha256 or
 * ecdsa-sha256 chosen from signer_cert's key, which must be RSA >= 2048 or EC
 * P-256/P-384; KeyInfo holds signer_cert only). Every file must have a
 * wrapped key for every recipient. *xml is malloc'ed. */
hb_status hb_manifest_write_signed(const hb_manifest *m, X509 *signer_cert, hb_sign_fn sign,
                                   void *sign_ctx, uint8_t **xml, size_t *xml_len,
                                   hb_err *err) HB_MUST_CHECK;

typedef struct hb_manifest_read_opts {
    size_t max_size;      /* 0: HB_MANIFEST_DEFAULT_CAP */
    const char *path;     /* names the file in shape refusals; NULL: "manifest" */
} hb_manifest_read_opts;

/* Parse (hardened: no DTD, entities, PIs or comments; size cap), check the
 * signature's place and form, validate against schema/manifest.xsd, verify
 * the signature, and only then read the fields from the same root element.
 * opts may be NULL. *signer_cert (may be NULL if unwanted) is the certificate
 * the manifest was signed with: whether it is trusted is the caller's call.
 * HB_E_REFUSED: too big. HB_E_VERIFY: everything else that is wrong. */
hb_status hb_manifest_read(const uint8_t *xml, size_t len, const hb_manifest_read_opts *opts,
                           hb_manifest **out, X509 **signer_cert, hb_err *err) HB_MUST_CHECK;

#endif
