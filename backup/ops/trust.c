/* Whether this system trusts a backup's signer (trust.h). */
#include "backup/ops/trust.h"

#include "common/fail.h"
#include "common/x509.h"

#include <stdbool.h>
#include <stdlib.h>

/* The --signer certificate object is cert. */
static hb_status is_named(const hb_object_store *store, hb_provider *p, const char *named,
                          X509 *cert, bool *same, hb_err *err)
{
    X509 *x = NULL;
    hb_status st = hb_objects_load_certificate(store, p, named, &x, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "--signer");
        return st;
    }
    *same = X509_cmp(x, cert) == 0;
    X509_free(x);
    return HB_OK;
}

/* An enabled trusted-signer certificate object is cert. One that cannot be
 * loaded trusts nobody, and is no reason to refuse the others. */
static bool is_trusted(const hb_object_store *store, hb_provider *p, X509 *cert)
{
    for (size_t i = 0; i < hb_objects_count(store); i++) {
        const hb_crypto_object *o = hb_objects_at(store, i);
        if (o->type != HB_OBJECT_CERTIFICATE || !o->trusted_signer || !o->enabled)
            continue;
        X509 *x = NULL;
        hb_err ignored;
        if (hb_objects_load_certificate(store, p, o->name, &x, &ignored) != HB_OK)
            continue;
        bool same = X509_cmp(x, cert) == 0;
        X509_free(x);
        if (same)
            return true;
    }
    return false;
}

hb_status hb_trust_signer(const hb_object_store *store, hb_provider *p, const char *named,
                          X509 *cert, hb_err *err)
{
    bool same = false;
    hb_status st = named != NULL ? is_named(store, p, named, cert, &same, err) : HB_OK;
    if (st != HB_OK || same || is_trusted(store, p, cert))
        return st;
    char *subject = NULL;
    char fp[65] = "";
    hb_err ignored;
    if (hb_x509_subject_rfc2253(cert, &subject, &ignored) != HB_OK ||
        hb_x509_fingerprint(cert, fp, &ignored) != HB_OK) {
        /* The message still says what to do, without the names. */
    }
    st = hb_fail(err, HB_E_REFUSED, "the backup is signed by '%s' (SHA-256 fingerprint %s), "
                 "which this system does not trust: define its certificate and mark it with "
                 "'hsmbak crypto trusted-signer CERT', or name it with --signer CERT",
                 subject != NULL ? subject : "?", fp);
    free(subject);
    return st;
}
