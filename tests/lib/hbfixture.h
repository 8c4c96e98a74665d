/* A sample appliance made through the library API, for the suites that
 * back up and restore against a token (the C twin of
 * tests/lib/backup_fixture.sh): a system root with settings and secrets, a
 * backup signer and a recipient made on the token with hb_keygen, and the
 * crypto objects that name them; and the bare appliance of the custody
 * suites. The set-up helpers return an hb_status with err filled, so a
 * suite's set-up can fail loudly outside a running test; those marked
 * "inside a test" assert instead. */
#ifndef HSMBAK_HBFIXTURE_H
#define HSMBAK_HBFIXTURE_H

#include "hbtest.h"

#include "hsmbak/keygen.h"
#include "hsmbak/objects.h"
#include "hsmbak/provider.h"
#include "hsmbak/status.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct hbfix_system {
    char *dir;                 /* scratch directory holding the root (hbtest_tempdir) */
    char root[PATH_MAX];       /* DIR/system */
    char token_uri[128];       /* pkcs11:token=LABEL of the keys */
    hb_oaep_hash rcpt_wrap;    /* the OAEP hash the token unwraps with (probed) */
} hbfix_system;

/* hb_system_init (appliance), settings and secrets in config, cert, local,
 * password-map, mq-users and root; signer "signer" (EC P-256, idcred
 * "signercred", the backup signer, trusted) and recipient "rcpt" (RSA 2048,
 * idcred "rcptcred") made on token_uri (NULL: the first test token,
 * HSMBAK_TEST_TOKEN; usable before any test runs). */
hb_status hbfix_make_system(hb_provider *p, const char *token_uri, hbfix_system *s,
                            hb_err *err);

/* A recipient key NAME on token_uri, its certificate and key objects NAME and
 * idcred NAMEcred; *wrap (may be NULL) gets its probed OAEP hash. */
hb_status hbfix_add_recipient(hb_provider *p, const hbfix_system *s, const char *token_uri,
                              const char *name, hb_oaep_hash *wrap, hb_err *err);

/* Mark certificate object cert as a trusted signer, or not. */
hb_status hbfix_trust(const hbfix_system *s, const char *cert, bool trusted, hb_err *err);

/* The certificates in cert: (NAME-sscert.pem), kept across a factory reset. */
typedef struct hbfix_certs {
    char *signer_pem, *rcpt_pem;
    size_t signer_len, rcpt_len;
} hbfix_certs;
hb_status hbfix_save_certs(const hbfix_system *s, hbfix_certs *out, hb_err *err);
void hbfix_certs_free(hbfix_certs *c);

/* What the seed's restore procedure does after a factory reset: upload the
 * certificates again, define certificate, key and idcred of rcpt, and trust
 * the signer. */
hb_status hbfix_prepare_restore(const hbfix_system *s, const hbfix_certs *certs,
                                hb_err *err);

/* Write text to ROOT/rel (0600, atomically). */
hb_status hbfix_put(const hbfix_system *s, const char *rel, const char *text, hb_err *err);

/* rm -rf the scratch directory. */
void hbfix_free(hbfix_system *s);

/* The bare appliance the custody suites work in (ceremony, custody keygen,
 * signer): a system root made by hb_system_init, its audit log, and a
 * provider on the test token. */
typedef struct hbfix_appliance {
    char *dir;            /* the suite's scratch directory */
    char root[PATH_MAX];  /* DIR/root, an appliance */
    char audit[PATH_MAX]; /* DIR/audit.log, exported as HSMBAK_AUDIT_FILE */
    hb_provider *prov;    /* th_open(NULL) */
} hbfix_appliance;

/* Inside a test: the object store of the system root `root`, loaded, and
 * (hbfix_objects_save) saved and freed; each asserts that it worked. */
hb_object_store *hbfix_objects(const char *root);
void hbfix_objects_save(hb_object_store *s);
/* Inside a test: key object `name` (re)defined as uri in root's store. */
void hbfix_define_key(const char *root, const char *name, const char *uri);

/* hbtest_run in a fresh *app, with no terminal (no PIN prompt can be
 * reached); app is set up before the cases and removed after them. Exit
 * status 2 when it cannot be set up. */
int hbfix_appliance_main(const char *suite, const hbtest_case *cases, hbfix_appliance *app);

#endif
