/* k-of-n quorum recipients (internal; docs/FORMAT.md §8, docs/custody.md):
 * a fresh 256-bit group key G per backup and group; each archive DEK wrapped
 * under G with AES-256 key wrap with padding (RFC 5649); G split with
 * Shamir's scheme over GF(2^8) (libgfshare) into one share per member; each
 * share (x || y) wrapped with RSA-OAEP to its member's certificate. */
#ifndef HSMBAK_BACKUP_QUORUM_H
#define HSMBAK_BACKUP_QUORUM_H

#include "hsmbak/backup.h"
#include "backup/format/manifest.h"
#include "backup/custody/objects.h"
#include "provider/token.h"
#include "hsmbak/status.h"
#include "backup/format/stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_QUORUM_KEY_LEN 32
#define HB_QUORUM_SHARE_LEN (1 + HB_QUORUM_KEY_LEN) /* x || y */
#define HB_QUORUM_WRAPPED_LEN (HB_DEK_LEN + 8)      /* RFC 5649 of a 32-byte DEK */

/* A fresh random G (RAND_priv_bytes). */
hb_status hb_quorum_new_key(uint8_t g[HB_QUORUM_KEY_LEN], hb_err *err) HB_MUST_CHECK;

/* Split g into n shares for threshold k (2 <= k <= n <= 255): share i is
 * x = i + 1 followed by 32 bytes y. Coefficients come from RAND_priv_bytes. */
hb_status hb_quorum_split(const uint8_t g[HB_QUORUM_KEY_LEN], unsigned k, size_t n,
                          uint8_t (*shares)[HB_QUORUM_SHARE_LEN], hb_err *err) HB_MUST_CHECK;

/* Lagrange interpolation at 0 of n shares (distinct non-zero x). With fewer
 * shares than the threshold the result is a wrong key, not an error: the
 * RFC 5649 integrity check is what tells. */
hb_status hb_quorum_combine(const uint8_t (*shares)[HB_QUORUM_SHARE_LEN], size_t n,
                            uint8_t g[HB_QUORUM_KEY_LEN], hb_err *err) HB_MUST_CHECK;

/* RFC 5649 (AES-256-WRAP-PAD, default AIV A65959A6 || MLI) of the DEK. */
hb_status hb_quorum_wrap_dek(const uint8_t g[HB_QUORUM_KEY_LEN], const uint8_t dek[HB_DEK_LEN],
                             uint8_t out[HB_QUORUM_WRAPPED_LEN], hb_err *err) HB_MUST_CHECK;
/* HB_E_VERIFY when the integrity check fails (wrong G or altered bytes). */
hb_status hb_quorum_unwrap_dek(const uint8_t g[HB_QUORUM_KEY_LEN], const uint8_t *in,
                               size_t in_len, uint8_t dek[HB_DEK_LEN], hb_err *err) HB_MUST_CHECK;

#define HB_QUORUM_COMMITMENT_LEN 32

/* The share commitment (docs/FORMAT.md §8.2): SHA-256("hsmbak-share-v1" 0x00
 * || backup_id 0x00 || group_name 0x00 || share), share = x || y. */
hb_status hb_quorum_share_commitment(const char *backup_id, const char *group_name,
                                     const uint8_t share[HB_QUORUM_SHARE_LEN],
                                     uint8_t out[HB_QUORUM_COMMITMENT_LEN],
                                     hb_err *err) HB_MUST_CHECK;

/* Add a quorum group to m (its backup id set): draws G (returned, the caller
 * wipes it), splits it, wraps share i to certs[i] with hashes[i] (with the
 * "share" OAEP label of docs/FORMAT.md §2.1 where labelled[i]; labelled
 * NULL: none) and records each share's commitment. */
hb_status hb_quorum_add_to_manifest(hb_manifest *m, OSSL_LIB_CTX *libctx, const char *name,
                                    unsigned threshold, X509 *const *certs,
                                    const hb_oaep_hash *hashes, const bool *labelled,
                                    size_t n, uint8_t g[HB_QUORUM_KEY_LEN], const char **qid,
                                    hb_err *err) HB_MUST_CHECK;

#endif
