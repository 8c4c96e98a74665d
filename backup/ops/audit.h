/* The audit line of a backup, validate or restore (common/audit.h). */
#ifndef HSMBAK_OPS_AUDIT_H
#define HSMBAK_OPS_AUDIT_H

#include "common/audit.h"

#include "backup/format/manifest.h"

#include <openssl/x509.h>

/* For backup, validate and restore: the manifest's backup id, version,
 * recipient fingerprints and file count, the signer's fingerprint, where the
 * backup is, and the idcred used (restore; NULL for backup). m and signer may
 * be NULL (the operation failed before they were known). */
void hb_audit_backup_op(const char *op, hb_status st, const hb_err *err, const char *where,
                        const hb_manifest *m, X509 *signer, const char *idcred);

#endif
