/* The system's backup signer (docs/design.md §4.3, docs/custody.md): the
 * idcred marked with `crypto backup-signer`, whose token key signs every
 * manifest and every ceremony transcript entry. One module loads it and
 * signs with it, for backups and ceremonies alike. */
#ifndef HSMBAK_CUSTODY_SIGNER_H
#define HSMBAK_CUSTODY_SIGNER_H

#include "backup/custody/objects.h"
#include "backup/format/manifest.h"

#include <openssl/x509.h>

typedef struct hb_signer hb_signer;

/* Load the backup signer's certificate and token key (logs in). `why` says
 * in a refusal what needs the signer ("every backup manifest must be
 * signed"); errors while loading are prefixed with `role` ("backup
 * signer"). */
hb_status hb_signer_open(hb_provider *p, const hb_object_store *store, const char *why,
                         const char *role, hb_signer **out, hb_err *err) HB_MUST_CHECK;
/* The certificate that goes into KeyInfo and transcript anchors (borrowed). */
X509 *hb_signer_cert(const hb_signer *s);
/* An hb_sign_fn: pass the hb_signer as its ctx. */
hb_status hb_signer_sign(void *signer, const uint8_t *data, size_t len, uint8_t **sig,
                         size_t *siglen, hb_err *err) HB_MUST_CHECK;
void hb_signer_free(hb_signer *s);

#endif
