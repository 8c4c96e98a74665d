/* hsmbak — the signed backup manifest (DESIGN §4.3).
 *
 * A manifest lists a backup's recipients (the certificates each archive key
 * is wrapped to), its encrypted files and what the profile excluded, and is
 * signed with an enveloped XML-DSig signature by a token-held key.
 *
 * The struct is public and owns every byte it points to; treat it as
 * read-only and build it with the functions below (they check every value
 * against the schema's rules, so a written manifest always reads back). */
#ifndef HSMBAK_MANIFEST_H
#define HSMBAK_MANIFEST_H

#include "hsmbak/status.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_MANIFEST_NS "urn:hsmbak:manifest:1"
#define HB_MANIFEST_FILENAME "backupmanifest.xml"
#define HB_MANIFEST_DEFAULT_CAP ((size_t)16 * 1024 * 1024)

typedef struct hb_manifest_recipient {
    char *id;             /* "r1", "r2", ... unique in the manifest */
    char *subject;        /* RFC 2253 subject, "CN=My Backup Cert" (informational) */
    char fingerprint[65]; /* SHA-256 of cert_der, lowercase hex */
    char *key_wrap;       /* "rsa-oaep-sha256" or "rsa-oaep-sha1" (DESIGN §4.2) */
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
    uint8_t *cert_der;
    size_t cert_der_len;
    uint8_t *wrapped_share; /* RSA-OAEP(x || y) */
    size_t wrapped_share_len;
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

typedef struct hb_manifest {
    char *id;             /* lowercase UUIDv4 */
    char *created;        /* RFC 3339 UTC, "2026-11-29T19:00:00Z" */
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
} hb_manifest;

/* Signs data with SHA-256: RSA PKCS#1 v1.5 returns the raw signature, ECDSA
 * returns DER (ECDSA-Sig-Value; the writer converts it to XML-DSig's r||s).
 * *sig is OPENSSL_malloc'ed; the manifest code frees it. */
typedef hb_status (*hb_sign_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *siglen, hb_err *err);

/* A lowercase random UUIDv4 (RFC 9562 §5.4), 36 characters + NUL. */
hb_status hb_uuid_v4(char out[37], hb_err *err) HB_MUST_CHECK;

/* The current time as RFC 3339 UTC with seconds, "YYYY-MM-DDThh:mm:ssZ". */
hb_status hb_rfc3339_now(char out[21], hb_err *err) HB_MUST_CHECK;

hb_status hb_manifest_new(hb_manifest **out, hb_err *err) HB_MUST_CHECK;

/* id NULL: a fresh UUIDv4; created NULL: now; tool NULL: "hsmbak <version>". */
hb_status hb_manifest_set_backup(hb_manifest *m, const char *id, const char *created,
                                 const char *tool, hb_err *err) HB_MUST_CHECK;

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
/* Add a member with its wrapped share to quorum quorum_id. */
hb_status hb_manifest_add_quorum_member(hb_manifest *m, const char *quorum_id, X509 *cert,
                                        const char *key_wrap, unsigned x,
                                        const uint8_t *wrapped_share, size_t wrapped_len,
                                        hb_err *err) HB_MUST_CHECK;
const hb_manifest_quorum *hb_manifest_find_quorum(const hb_manifest *m, const char *id);

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

void hb_manifest_free(hb_manifest *m);

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
} hb_manifest_read_opts;

/* Parse (hardened: no DTD, entities, PIs or comments; size cap), check the
 * signature's place and form, validate against schema/manifest.xsd, verify
 * the signature, and only then read the fields from the same root element.
 * opts may be NULL. *signer_cert (may be NULL if unwanted) is the certificate
 * the manifest was signed with: whether it is trusted is the caller's call.
 * HB_E_REFUSED: too big. HB_E_VERIFY: everything else that is wrong. */
hb_status hb_manifest_read(const uint8_t *xml, size_t len, const hb_manifest_read_opts *opts,
                           hb_manifest **out, X509 **signer_cert, hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
