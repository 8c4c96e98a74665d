/* The backup signer (backup/custody/signer.h). */
#include "backup/custody/signer.h"

#include "common/fail.h"

#include <stdlib.h>

struct hb_signer {
    hb_provider *p;
    X509 *cert;
    EVP_PKEY *key;
};

hb_status hb_signer_open(hb_provider *p, const hb_object_store *store, const char *why,
                         const char *role, hb_signer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    s->p = p;
    const char *name = hb_objects_backup_signer(store);
    HB_ENSURE(name != NULL, HB_E_REFUSED,
              "no backup signer is set, and %s: make a signing key with 'hsmbak crypto keygen "
              "--usage signer --gen-sscert --gen-object ...', define an idcred for it "
              "('hsmbak crypto idcred NAME KEY CERT') and mark it with 'hsmbak crypto "
              "backup-signer NAME'", why);
    st = hb_objects_load_idcred(store, p, name, &s->cert, &s->key, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "%s", role);
        goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    hb_signer_free(s);
    return st;
}

X509 *hb_signer_cert(const hb_signer *s)
{
    return s->cert;
}

hb_status hb_signer_sign(void *signer, const uint8_t *data, size_t len, uint8_t **sig,
                         size_t *siglen, hb_err *err)
{
    hb_signer *s = signer;
    return hb_provider_sign_sha256(s->p, s->key, data, len, sig, siglen, err);
}

void hb_signer_free(hb_signer *s)
{
    if (s == NULL)
        return;
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    free(s);
}
