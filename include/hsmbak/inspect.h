/* hsmbak inspect SOURCE (DESIGN §5): what a backup is, read without a
 * token: its manifest's signature verified and its signer checked against
 * this system's trusted signers (or the one named), then every field the
 * manifest holds. No PIN, no token, no change to anything. */
#ifndef HSMBAK_INSPECT_H
#define HSMBAK_INSPECT_H

#include "hsmbak/manifest.h"
#include "hsmbak/remote.h"
#include "hsmbak/status.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_inspect_request {
    const char *root;      /* the system root: appliance URLs, its trusted-signer
                              certificate objects; may be NULL with a signer file
                              and a plain path */
    const char *source;    /* the backup directory: appliance URL, path or sftp:// URL */
    const char *signer;    /* trust this signer for this run: a certificate object's
                              name, or a certificate file (a path or URL, anything
                              with a '/'); NULL: the root's trusted signers only */
    /* For an sftp:// source, as in hb_restore_request (include/hsmbak/backup.h). */
    const char *ssh_identity;
    const char *ssh_known_hosts;
    hb_s3_options s3;      /* for an s3:// source */
} hb_inspect_request;

typedef struct hb_inspect_result {
    hb_manifest *manifest;        /* verified and trusted; NULL on failure */
    char *signer_subject;         /* RFC 2253; set once the signature verified, also
                                     when the signer is not trusted */
    char signer_fingerprint[65];  /* SHA-256 of the signer certificate, hex; "" before */
    char signer_not_after[21];    /* the signer certificate's expiry, RFC 3339 UTC */
    char **file_problems;         /* per manifest file: NULL when the file is there with
                                     its listed size, else what is wrong (no checksum is
                                     read: secure-restore --validate does that) */
} hb_inspect_result;

/* Read and verify SOURCE's manifest (HB_E_NOT_FOUND: no manifest;
 * HB_E_VERIFY: it does not verify), check its signer (HB_E_REFUSED naming
 * the signer's subject and SHA-256 fingerprint when this system does not
 * trust it), and describe it in res. Certificate objects held on a token
 * cannot be read without it and trust nobody here. Free res in every case. */
HB_API hb_status hb_inspect(const hb_inspect_request *req, hb_inspect_result *res,
                            hb_err *err) HB_MUST_CHECK;
HB_API void hb_inspect_result_free(hb_inspect_result *res);

#ifdef __cplusplus
}
#endif
#endif
