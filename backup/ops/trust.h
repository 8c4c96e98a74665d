/* Whose backups this system restores (DESIGN §7, docs/design.md §5): the
 * signer of a backup is trusted when its certificate is an enabled
 * trusted-signer certificate object, or the certificate object named for
 * this run (--signer); nothing else, however valid the signature. */
#ifndef HSMBAK_OPS_TRUST_H
#define HSMBAK_OPS_TRUST_H

#include "backup/custody/objects.h"

#include <openssl/x509.h>

/* HB_E_REFUSED (naming the signer and what to do) unless cert is trusted;
 * named (may be NULL) is the --signer certificate object. */
hb_status hb_trust_signer(const hb_object_store *store, hb_provider *p, const char *named,
                          X509 *cert, hb_err *err) HB_MUST_CHECK;

#endif
