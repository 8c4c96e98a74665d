/* crypto keygen (DESIGN §5): a key pair on the token, and optionally a
 * self-signed certificate and a CSR signed on the token, written to cert:
 * and temporary: like the appliance, and crypto objects for them. */
#ifndef HSMBAK_KEYGEN_H
#define HSMBAK_KEYGEN_H

#include "hsmbak/provider.h"
#include "hsmbak/status.h"

#include <limits.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_dn {
    const char *cn, *o, *ou, *c, *st, *l;
} hb_dn;

typedef struct hb_keygen_request {
    const char *root;        /* system root (cert:, temporary:, config) */
    const char *token_uri;   /* pkcs11:token=LABEL or ;serial=... */
    hb_dn dn;
    hb_key_type key_type;    /* default RSA 2048 */
    hb_key_usage usage;      /* default recipient */
    bool gen_sscert;
    unsigned days;           /* validity of the self-signed cert; 0 = 365 */
    bool csr;                /* also when no self-signed cert is made */
    const char *file_name;   /* key label and file stem; default from CN */
    bool export_sscert;      /* copy the certificate to temporary: */
    bool export_key;         /* the appliance's --export-key: always refused
                                (a token key never leaves the token), and audited */
    bool gen_object;         /* define key + certificate objects */
    const char *object_name; /* default file_name */
} hb_keygen_request;

typedef struct hb_keygen_result {
    unsigned bits;
    char key_uri[512];
    char sscert_url[PATH_MAX];        /* empty when not made */
    char sscert_export_url[PATH_MAX];
    char csr_url[PATH_MAX];
    char object_name[65];             /* empty unless gen_object */
    char fingerprint[65];             /* SHA-256 of the certificate, hex */
    hb_oaep_hash key_wrap;            /* recipient keys: the OAEP hash the token
                                         really unwraps with (probed), 0 if not probed */
    unsigned key_wraps_accepted;      /* the probe's answer, 1u << hash per hash */
    /* CKA_ALLOWED_MECHANISMS read back from the token once the key is what
     * it will stay (docs/custody.md "Allowed mechanisms"): */
    char allowed_mechanisms[96];      /* "rsa-oaep,sha256-rsa-pkcs"; "" none */
    char mechanisms_limit[16];        /* "limited", "unlimited", "not-enforced" */
    char mechanisms_warning[320];     /* one line when not "limited", else "" */
} hb_keygen_result;

HB_API hb_status hb_keygen(hb_provider *p, const hb_keygen_request *req, hb_keygen_result *res,
                           hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
