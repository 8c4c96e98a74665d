/* The credentials a restore opens a backup with (docs/custody.md): given
 * the manifest and the idcreds the operator named, either one idcred whose
 * certificate is a single recipient, or a quorum's group key G recovered
 * from the shares of enough members among them. The restore asks for each
 * file's DEK and never knows which of the two it holds. */
#ifndef HSMBAK_CUSTODY_CREDENTIALS_H
#define HSMBAK_CUSTODY_CREDENTIALS_H

#include "hsmbak/backup.h"
#include "backup/format/manifest.h"
#include "backup/format/stream.h"
#include "backup/custody/objects.h"
#include "provider/token.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hb_credentials hb_credentials;

/* The "idcred" check: choose and load. The first of names whose certificate
 * is a single recipient of m, its key loaded (logs in); else, when m has
 * quorum groups, G of the group the idcreds cover best (HB_E_REFUSED unless
 * at least its threshold of distinct members are among them, saying how many
 * are present and which certificates could help; keys are loaded one idcred
 * at a time, in order, asking insert (may be NULL) for an absent token);
 * else names[0] loaded, for hb_credentials_check_recipient to refuse. */
hb_status hb_credentials_open(const hb_object_store *s, hb_provider *p, const hb_manifest *m,
                              const char *const *names, size_t n, hb_insert_token_fn insert,
                              void *insert_ctx, hb_credentials **out,
                              hb_err *err) HB_MUST_CHECK;

/* The "recipient" check: the credentials can open m (a quorum's G always
 * can: it was recovered from m's own shares). HB_E_REFUSED naming who can. */
hb_status hb_credentials_check_recipient(hb_credentials *c, const hb_manifest *m,
                                         hb_err *err) HB_MUST_CHECK;

/* The DEK of file f (after the recipient check); the caller wipes it. */
hb_status hb_credentials_file_key(const hb_credentials *c, hb_provider *p,
                                  const hb_manifest_file *f, uint8_t dek[HB_DEK_LEN],
                                  hb_err *err) HB_MUST_CHECK;

/* The quorum shares that were present but not used (a share that does not
 * match its signed commitment, or that its token refused), each named, as
 * one message; NULL when none. Points into c. */
const char *hb_credentials_bad_shares(const hb_credentials *c);

/* Wipes G; frees the key and certificate. NULL is fine. */
void hb_credentials_free(hb_credentials *c);

#endif
