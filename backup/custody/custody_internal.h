/* Internals of key custody (custody.c, ceremony.c, recipients.c). */
#ifndef HSMBAK_BACKUP_CUSTODY_INTERNAL_H
#define HSMBAK_BACKUP_CUSTODY_INTERNAL_H

#include "hsmbak/custody.h"
#include "hsmbak/keygen.h"

#include "common/buf.h"

#include <libxml/tree.h>
#include <openssl/x509.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Caps on what the custody store holds (each far above a real system's). */
#define HB_CUSTODY_MAX_RECORDS 4096    /* enrollments; quorum groups */
#define HB_CUSTODY_MAX_CUSTODIANS 64   /* per enrollment */
#define HB_QUORUM_MAX_MEMBERS 255      /* Shamir over GF(2^8) */

struct hb_custody {
    char path[PATH_MAX];
    hb_enrollment *enrollments;
    size_t n;
    hb_quorum_group *groups;
    size_t n_groups;
};

/* Write ROOT/config/custody.xml atomically (0600). */
hb_status hb_custody_save(const hb_custody *c, hb_err *err) HB_MUST_CHECK;
/* A store document the writer indented by hand (custody store, transcript),
 * serialised as it is and written atomically at path, 0600. */
hb_status hb_custody_write_doc(xmlDocPtr doc, const char *what, const char *path,
                               hb_err *err) HB_MUST_CHECK;

/* Append an enrollment / a group to the store, taking over what it owns
 * (*e / *g is zeroed). */
hb_status hb_custody_add_enrollment(hb_custody *c, hb_enrollment *e, hb_err *err) HB_MUST_CHECK;
hb_status hb_custody_add_group(hb_custody *c, hb_quorum_group *g, hb_err *err) HB_MUST_CHECK;
/* Append a member's fingerprint (64 hex digits) to a group. */
hb_status hb_quorum_group_add_member(hb_quorum_group *g, const char *fingerprint,
                                     hb_err *err) HB_MUST_CHECK;

const char *hb_enrollment_state_name(hb_enrollment_state s);
void hb_enrollment_clear(hb_enrollment *e);
/* The enrollment's certificate (HB_E_VERIFY while pending). */
hb_status hb_enrollment_cert(const hb_enrollment *e, X509 **out, hb_err *err) HB_MUST_CHECK;
/* A warning appended to out when an active enrollment's certificate
 * expires within HB_CUSTODY_WARN_DAYS of now or has expired. */
hb_status hb_enrollment_expiry_warning(const hb_enrollment *e, time_t now, hb_strlist *out,
                                       hb_err *err) HB_MUST_CHECK;

/* The key wrap a recipient key gets from hb_token_probe_oaep's answer:
 * SHA-256 where the token takes it, else SHA-1; HB_OAEP_UNPROBED when
 * neither round-trips. */
hb_oaep_hash hb_key_wrap_of(unsigned accepted);

/* ---- keygen's last step before a recipient key is sealed (keygen.c) ---- */

/* What a hook sees while the new recipient key may still sign: its
 * certificate (NULL with a CSR), public key, the probed key-wrap (with a
 * certificate; HB_OAEP_UNPROBED with a CSR), and sign/sign_ctx, which make a
 * SHA-256 signature with the new key on the token (the path that signed its
 * certificate or CSR; the result is verified with the public key). */
typedef struct hb_keygen_pre_seal {
    X509 *cert;
    EVP_PKEY *pub;
    const char *key_uri;
    hb_oaep_hash key_wrap;
    hb_status (*sign)(void *ctx, const uint8_t *data, size_t len, uint8_t **sig, size_t *siglen,
                      hb_err *err);
    void *sign_ctx;
} hb_keygen_pre_seal;
typedef hb_status (*hb_keygen_pre_seal_fn)(void *ctx, const hb_keygen_pre_seal *k, hb_err *err);

/* hb_keygen, with hook (may be NULL) called once for a recipient key that
 * signs its own certificate or CSR, after those and the OAEP probe, before
 * hb_token_key_seal. When the hook fails the key is still sealed. */
hb_status hb_keygen_hooked(hb_provider *p, const hb_keygen_request *req,
                           hb_keygen_pre_seal_fn hook, void *hook_ctx, hb_keygen_result *res,
                           hb_err *err) HB_MUST_CHECK;

/* ---- PEM files under the system root (pemfile.c) ---- */

/* HB_E_REFUSED when url already names a file: everything a ceremony or
 * keygen will write is checked free before the token is touched. */
hb_status hb_pem_check_free(const char *root, const char *url, hb_err *err) HB_MUST_CHECK;
/* The PEM of cert (or, when cert is NULL, of req) at url: its folder made
 * (0700), the file created O_EXCL | O_NOFOLLOW, 0600, and synced. */
hb_status hb_pem_write(const char *root, const char *url, X509 *cert, X509_REQ *req,
                       hb_err *err) HB_MUST_CHECK;

#endif
