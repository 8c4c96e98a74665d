/* Whether this system trusts a backup's signer (trust.h). */
#include "backup/ops/trust.h"

#include "common/fail.h"
#include "common/x509.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Whether certificate object o holds cert (*holds), and if so whether it
 * vouches for it now: enabled, and valid at `now` unless it says
 * ignore-expiration. The one rule for --signer and the trusted-signer list;
 * HB_E_REFUSED says why not and what to do. */
static hb_status vouches(const hb_object_store *store, hb_provider *p, const hb_crypto_object *o,
                         X509 *cert, time_t now, bool *holds, hb_err *err)
{
    X509 *x = NULL;
    hb_status st = HB_OK;
    *holds = false;
    HB_TRY(hb_objects_load_certificate(store, p, o->name, &x, err));
    *holds = X509_cmp(x, cert) == 0;
    if (!*holds)
        goto cleanup;
    HB_ENSURE(o->enabled, HB_E_REFUSED, "its certificate object '%s' is disabled; define it "
              "again without --disable to trust it", o->name);
    hb_err why;
    if (!o->ignore_expiration && hb_x509_check_validity(x, now, "its certificate", &why) != HB_OK)
        st = hb_fail(err, HB_E_REFUSED, "%s (certificate object '%s'); renew it, or define the "
                     "object with --ignore-expiration to trust it anyway", why.msg, o->name);
cleanup:
    X509_free(x);
    return st;
}

hb_status hb_trust_signer(const hb_object_store *store, hb_provider *p, const char *named,
                          X509 *cert, hb_err *err)
{
    time_t now = time(NULL);
    bool holds = false, have_why = false;
    hb_err why = {0};
    if (named != NULL) {
        const hb_crypto_object *o = hb_objects_find(store, HB_OBJECT_CERTIFICATE, named);
        if (o == NULL)
            return hb_fail(err, HB_E_NOT_FOUND, "--signer: no certificate named '%s'", named);
        hb_status st = vouches(store, p, o, cert, now, &holds, &why);
        if (st != HB_OK && !holds) {
            /* Not there, or unreadable: --signer names nothing usable. */
            *err = why;
            hb_err_prefix(err, "--signer");
            return st;
        }
        if (st == HB_OK && holds)
            return HB_OK;
        have_why = holds;
    }
    /* An enabled, valid trusted-signer object holding cert trusts it; one that
     * cannot be loaded trusts nobody, and is no reason to refuse the others. */
    for (size_t i = 0; i < hb_objects_count(store); i++) {
        const hb_crypto_object *o = hb_objects_at(store, i);
        if (o->type != HB_OBJECT_CERTIFICATE || !o->trusted_signer)
            continue;
        hb_err e = {0};
        hb_status st = vouches(store, p, o, cert, now, &holds, &e);
        if (st == HB_OK && holds)
            return HB_OK;
        if (holds && !have_why) {
            why = e;
            have_why = true;
        }
    }
    char *subject = NULL;
    char fp[65] = "";
    hb_err ignored;
    if (hb_x509_subject_rfc2253(cert, &subject, &ignored) != HB_OK ||
        hb_x509_fingerprint(cert, fp, &ignored) != HB_OK) {
        /* The message still says what to do, without the names. */
    }
    hb_status st;
    if (have_why)
        st = hb_fail(err, HB_E_REFUSED, "the backup is signed by '%s' (SHA-256 fingerprint %s), "
                     "which this system does not trust now: %s", subject != NULL ? subject : "?",
                     fp, why.msg);
    else
        st = hb_fail(err, HB_E_REFUSED, "the backup is signed by '%s' (SHA-256 fingerprint %s), "
                     "which this system does not trust: define its certificate and mark it with "
                     "'hsmbak crypto trusted-signer CERT', or name it with --signer CERT",
                     subject != NULL ? subject : "?", fp);
    free(subject);
    return st;
}

hb_status hb_crypto_signer_standing(const char *root, hb_provider *p, const char *certificate,
                                    hb_err *err)
{
    hb_object_store *store = NULL;
    X509 *x = NULL;
    bool holds = false;
    hb_status st = HB_OK;
    HB_TRY(hb_objects_load(root, &store, err));
    const hb_crypto_object *o = hb_objects_find(store, HB_OBJECT_CERTIFICATE, certificate);
    HB_ENSURE(o != NULL, HB_E_NOT_FOUND, "no certificate named '%s'", certificate);
    HB_TRY(hb_objects_load_certificate(store, p, certificate, &x, err));
    st = vouches(store, p, o, x, time(NULL), &holds, err);
cleanup:
    X509_free(x);
    hb_objects_free(store);
    return st;
}
