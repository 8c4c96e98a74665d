/* Key custody ceremonies (docs/custody.md): enroll, import-cert, retire,
 * quorum, verify-transcript. Each ceremony that changes the custody store
 * first logs in to the backup signer (so a ceremony that cannot be recorded
 * does not start), then does its work, appends one signed transcript entry,
 * and only then saves the custody store. */
#include "common/audit.h"
#include "hsmbak/custody.h"
#include "backup/custody/transcript.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/signer.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/ids.h"
#include "common/fileio.h"
#include "hsmbak/keygen.h"
#include "backup/custody/objects.h"
#include "hsmbak/url.h"
#include "backup/custody/wrap.h"
#include "common/buf.h"
#include "common/fail.h"
#include "provider/token.h"
#include "common/names.h"
#include "common/x509.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the backup signer, which signs transcript entries ---- */

static hb_status signer_open(hb_provider *p, const char *root, hb_signer **out, hb_err *err)
{
    hb_object_store *store = NULL;
    hb_status st = hb_objects_load(root, &store, err);
    if (st == HB_OK)
        st = hb_signer_open(p, store, "every ceremony is recorded in a transcript signed by it",
                            "backup signer (it signs the ceremony transcript)", out, err);
    hb_objects_free(store);
    return st;
}

static hb_status record(const char *root, hb_signer *s, const char *who, const char *what,
                        const char *detail, const char *const *fps, size_t n, hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_transcript_path(root, path, sizeof path, err);
    if (st == HB_OK)
        st = hb_transcript_append(path, hb_signer_cert(s), hb_signer_sign, s, who, what, detail,
                                  fps, n, err);
    return st;
}

/* "alice, bob" from the custodians; "operator" ($USER) when none given. */
static hb_status who_of(const char *const *custodians, size_t n, char *out, size_t cap,
                        hb_err *err)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (custodians[i][0] == '\0' || strlen(custodians[i]) > 128 ||
            !hb_xml_text_ok(custodians[i]))
            return hb_fail(err, HB_E_USAGE, "custodian name '%s' must be 1..128 printable "
                           "characters", custodians[i]);
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", custodians[i]);
        if (w < 0 || (size_t)w >= cap - used)
            return hb_fail(err, HB_E_USAGE, "too many custodian names");
        used += (size_t)w;
    }
    if (n == 0) {
        const char *user = getenv("USER");
        snprintf(out, cap, "%s", user != NULL && user[0] != '\0' && strlen(user) < 64 &&
                                         hb_xml_text_ok(user) ? user : "operator");
    }
    return HB_OK;
}

static void asn1_to_rfc3339(const ASN1_TIME *t, char out[21])
{
    struct tm tm;
    out[0] = '\0';
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static hb_status fingerprint_of(X509 *cert, char out[65], uint8_t **der_out, size_t *len_out,
                                hb_err *err)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode the certificate");
    hb_status st = hb_sha256_hex(der, (size_t)n, out, err);
    if (st == HB_OK && der_out != NULL) {
        *der_out = malloc((size_t)n);
        if (*der_out == NULL)
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        else {
            memcpy(*der_out, der, (size_t)n);
            *len_out = (size_t)n;
        }
    }
    OPENSSL_free(der);
    return st;
}

static hb_status spki_of(EVP_PKEY *pub, uint8_t **out, size_t *len, hb_err *err)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pub, &der);
    if (n <= 0)
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode the public key");
    *out = malloc((size_t)n);
    if (*out != NULL) {
        memcpy(*out, der, (size_t)n);
        *len = (size_t)n;
    }
    OPENSSL_free(der);
    return *out != NULL ? HB_OK : hb_fail(err, HB_E_INTERNAL, "out of memory");
}

/* The certificate part of an enrollment: DER, fingerprint, subject, expiry. */
static hb_status set_certificate(hb_enrollment *e, X509 *cert, hb_err *err)
{
    hb_status st = fingerprint_of(cert, e->fingerprint, &e->cert_der, &e->cert_der_len, err);
    if (st != HB_OK)
        return st;
    free(e->subject);
    e->subject = NULL;
    st = hb_x509_subject_rfc2253(cert, &e->subject, err);
    asn1_to_rfc3339(X509_get0_notAfter(cert), e->not_after);
    return st;
}


static hb_status public_uri(const char *priv, char *out, size_t cap, hb_err *err)
{
    const char *t = strstr(priv, "type=private");
    int n = t ? snprintf(out, cap, "%.*stype=public%s", (int)(t - priv), priv, t + 12)
              : snprintf(out, cap, "%s;type=public", priv);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_USAGE, "key URI too long");
    return HB_OK;
}

static hb_status add_custodians(hb_enrollment *e, const char *const *c, size_t n, hb_err *err)
{
    e->custodians = calloc(n ? n : 1, sizeof *e->custodians);
    if (e->custodians == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((e->custodians[i] = strdup(c[i])) == NULL)
            return hb_fail(err, HB_E_INTERNAL, "out of memory");
        e->n_custodians++;
    }
    return HB_OK;
}

static hb_status append_enrollment(hb_custody *c, hb_enrollment *e, hb_err *err)
{
    hb_enrollment *arr = realloc(c->enrollments, (c->n + 1) * sizeof *arr);
    if (arr == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    c->enrollments = arr;
    arr[c->n++] = *e;
    memset(e, 0, sizeof *e);
    return HB_OK;
}

/* ---- enroll ---- */

hb_status hb_ceremony_enroll(hb_provider *p, const hb_enroll_request *req, hb_enroll_result *res,
                             hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_object_store *store = NULL;
    hb_enrollment e = {0};
    hb_token_info *tokens = NULL;
    size_t n_tokens = 0;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;
    char who[1024], cn[256], detail[1024], pub_uri[1024];
    hb_keygen_result kr;

    memset(res, 0, sizeof *res);
    if (req->token_uri == NULL || strncmp(req->token_uri, "pkcs11:", 7) != 0)
        return hb_fail(err, HB_E_USAGE, "enroll needs --token pkcs11:token=LABEL: the "
                       "custodian's token that will hold the key");
    if (req->n_custodians == 0)
        return hb_fail(err, HB_E_USAGE, "enroll needs at least one --custodian NAME: who "
                       "holds the token and its PIN");
    if (req->key_type >= HB_KEY_EC_P256)
        return hb_fail(err, HB_E_USAGE, "backup recipient keys must be RSA (rsa:2048, rsa:3072 "
                       "or rsa:4096): backups wrap their keys with RSA-OAEP");
    HB_TRY(who_of(req->custodians, req->n_custodians, who, sizeof who, err));
    if (req->cn != NULL)
        snprintf(cn, sizeof cn, "%s", req->cn);
    else
        snprintf(cn, sizeof cn, "hsmbak backup recipient %.200s", req->custodians[0]);
    if (req->name != NULL)
        snprintf(res->name, sizeof res->name, "%s", req->name);
    else
        hb_name_from_text(req->cn != NULL ? req->cn : req->custodians[0], 'r', res->name,
                               sizeof res->name);
    for (const char *q = res->name; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.'))
            return hb_fail(err, HB_E_USAGE, "enrollment name '%s' may only use letters, "
                           "digits, '-', '_' and '.'", res->name);

    /* Everything that could refuse is checked before the token is touched. */
    HB_TRY(hb_custody_load(req->root, &c, err));
    if (hb_custody_find(c, res->name) != NULL || hb_custody_find_group(c, res->name) != NULL) {
        st = hb_fail(err, HB_E_REFUSED, "an enrollment or quorum group named '%s' exists; "
                     "choose another --name", res->name);
        goto cleanup;
    }
    HB_TRY(hb_objects_load(req->root, &store, err));
    if (hb_objects_find(store, HB_OBJECT_IDCRED, res->name) != NULL) {
        st = hb_fail(err, HB_E_REFUSED, "an idcred named '%s' exists; choose another --name",
                     res->name);
        goto cleanup;
    }
    hb_objects_free(store);
    store = NULL;
    HB_TRY(signer_open(p, req->root, &sg, err));
    HB_TRY(hb_token_list(p, req->token_uri, false, &tokens, &n_tokens, err));
    if (n_tokens != 1) {
        st = hb_fail(err, HB_E_NOT_FOUND, "'%s' selects %zu tokens; name exactly one "
                     "(pkcs11:token=LABEL or ;serial=...)", req->token_uri, n_tokens);
        goto cleanup;
    }

    /* The key pair, self-signed certificate (or CSR), crypto objects. keygen
     * generates the key non-extractable and, for a certificate, proves
     * possession with a real wrap/unwrap per OAEP hash (hb_token_probe_oaep). */
    hb_keygen_request kq = {
        .root = req->root, .token_uri = req->token_uri, .dn = {.cn = cn},
        .key_type = req->key_type, .usage = HB_USAGE_RECIPIENT, .gen_sscert = !req->csr,
        .days = req->days ? req->days : 730, .csr = req->csr, .file_name = res->name,
        .gen_object = true, .object_name = res->name,
    };
    HB_TRY(hb_keygen(p, &kq, &kr, err));
    snprintf(res->key_uri, sizeof res->key_uri, "%s", kr.key_uri);

    hb_key_attrs a;
    HB_TRY(hb_token_key_attrs(p, kr.key_uri, &a, err));
    if (a.extractable || !a.sensitive || a.sign || !(a.decrypt || a.unwrap)) {
        st = hb_fail(err, HB_E_TOKEN, "the token did not keep the new key '%s' as asked "
                     "(sensitive %d, extractable %d, sign %d, decrypt %d): do not use this "
                     "token for backup keys", kr.key_uri, a.sensitive, a.extractable, a.sign,
                     a.decrypt);
        goto cleanup;
    }
    HB_TRY(public_uri(kr.key_uri, pub_uri, sizeof pub_uri, err));
    HB_TRY(hb_provider_load_public_key(p, pub_uri, &pub, err));
    if (req->csr) {
        /* No certificate yet: probe with the public key alone. */
        unsigned accepted = 0;
        X509 *shell = X509_new();
        if (shell == NULL || X509_set_pubkey(shell, pub) != 1) {
            X509_free(shell);
            st = hb_fail_ossl(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        st = hb_token_probe_oaep(p, kr.key_uri, shell, &accepted, err);
        X509_free(shell);
        if (st != HB_OK)
            goto cleanup;
        kr.key_wrap = (accepted & (1u << HB_OAEP_SHA256)) ? HB_OAEP_SHA256 : HB_OAEP_SHA1;
    }

    snprintf(e.name, sizeof e.name, "%s", res->name);
    e.state = req->csr ? HB_ENROLL_PENDING : HB_ENROLL_ACTIVE;
    snprintf(e.token_label, sizeof e.token_label, "%s", tokens[0].label);
    snprintf(e.token_serial, sizeof e.token_serial, "%s", tokens[0].serial);
    e.key_uri = strdup(kr.key_uri);
    e.key_wrap = kr.key_wrap;
    if (e.key_uri == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    HB_TRY(add_custodians(&e, req->custodians, req->n_custodians, err));
    HB_TRY(hb_rfc3339_now(e.enrolled, err));
    HB_TRY(spki_of(pub, &e.spki_der, &e.spki_der_len, err));
    if (!req->csr) {
        HB_TRY(hb_objects_load(req->root, &store, err));
        HB_TRY(hb_objects_load_certificate(store, p, res->name, &cert, err));
        HB_TRY(set_certificate(&e, cert, err));
        bool created;
        HB_TRY(hb_objects_set_idcred(store, res->name, res->name, res->name, &created, err));
        HB_TRY(hb_objects_save(store, err));
        snprintf(res->fingerprint, sizeof res->fingerprint, "%s", e.fingerprint);
        snprintf(res->cert_url, sizeof res->cert_url, "%s", kr.sscert_url);
        HB_TRY(hb_enrollment_expiry_warning(&e, time(NULL), &res->warnings, err));
    } else {
        e.subject = strdup(cn);
        if (e.subject == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        snprintf(res->csr_url, sizeof res->csr_url, "%s", kr.csr_url);
    }
    res->key_wrap = e.key_wrap;
    snprintf(res->token_label, sizeof res->token_label, "%s", e.token_label);
    snprintf(res->token_serial, sizeof res->token_serial, "%s", e.token_serial);

    int w = snprintf(detail, sizeof detail, "enrolled '%s' on token '%s' (serial %s), key %s, "
                     "%s, key-wrap %s (probed by wrap/unwrap), non-extractable; %s%s",
                     e.name, e.token_label, e.token_serial, e.key_uri,
                     req->key_type == HB_KEY_RSA2048 ? "RSA 2048"
                     : req->key_type == HB_KEY_RSA3072 ? "RSA 3072" : "RSA 4096",
                     hb_oaep_hash_name(e.key_wrap),
                     req->csr ? "CSR " : "self-signed certificate, expires ",
                     req->csr ? kr.csr_url : e.not_after);
    if (w < 0 || (size_t)w >= sizeof detail)
        detail[sizeof detail - 1] = '\0'; /* a shortened detail still verifies */
    const char *fps[1] = {e.fingerprint};
    HB_TRY(record(req->root, sg, who, "enroll", detail, fps, req->csr ? 0 : 1, err));
    HB_TRY(append_enrollment(c, &e, err));
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-enroll", st, err, "name", res->name, "token", req->token_uri,
                 "fingerprint", res->fingerprint[0] ? res->fingerprint : NULL, (char *)NULL);
    hb_enrollment_clear(&e);
    hb_token_list_free(tokens, n_tokens);
    EVP_PKEY_free(pub);
    X509_free(cert);
    hb_objects_free(store);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- import-cert ---- */

static hb_status write_cert_pem(const char *root, const char *url, X509 *cert, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    char *data = NULL;
    int fd = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    HB_TRY(hb_url_resolve(root, url, path, sizeof path, err));
    if (bio == NULL || !PEM_write_bio_X509(bio, cert)) {
        st = hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode the certificate");
        goto cleanup;
    }
    long len = BIO_get_mem_data(bio, &data);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = hb_fail(err, HB_E_IO, "cannot create '%s': %s", url, strerror(errno));
        goto cleanup;
    }
    HB_TRY(hb_write_all(fd, data, (size_t)len, url, err));
    if (fsync(fd) != 0)
        st = hb_fail(err, HB_E_IO, "cannot sync '%s': %s", url, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    BIO_free(bio);
    return st;
}


hb_status hb_ceremony_import_cert(hb_provider *p, const char *root, const char *name,
                                  const char *cert_url, const char *const *custodians,
                                  size_t n_custodians, char fingerprint_out[65], hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_object_store *store = NULL;
    X509 *cert = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    char who[1024], detail[1024], url[PATH_MAX];
    bool created;

    HB_TRY(who_of(custodians, n_custodians, who, sizeof who, err));
    HB_TRY(hb_custody_load(root, &c, err));
    hb_enrollment *e = (hb_enrollment *)hb_custody_find(c, name);
    if (e == NULL) {
        st = hb_fail(err, HB_E_NOT_FOUND, "no enrollment named '%s' (see 'hsmbak ceremony "
                     "list')", name);
        goto cleanup;
    }
    if (e->state != HB_ENROLL_PENDING) {
        st = hb_fail(err, HB_E_REFUSED, "enrollment '%s' is %s, not waiting for a certificate",
                     e->name, hb_enrollment_state_name(e->state));
        goto cleanup;
    }
    HB_TRY(hb_objects_load(root, &store, err));
    HB_TRY(hb_objects_read_certificate_url(root, cert_url, &cert, err));
    HB_TRY(spki_of(X509_get0_pubkey(cert), &spki, &spki_len, err));
    if (spki_len != e->spki_der_len || memcmp(spki, e->spki_der, spki_len) != 0) {
        st = hb_fail(err, HB_E_REFUSED, "the certificate in '%s' is not for the key enrolled as "
                     "'%s' (its public key differs): was the CSR of another enrollment signed?",
                     cert_url, e->name);
        goto cleanup;
    }
    HB_TRY(hb_recipient_check(cert, false, time(NULL), err));
    HB_TRY(signer_open(p, root, &sg, err));
    snprintf(url, sizeof url, "cert:///%s-cert.pem", e->name);
    HB_TRY(write_cert_pem(root, url, cert, err));
    HB_TRY(hb_objects_set_certificate(store, e->name, url, false, false, e->key_wrap, &created,
                                      err));
    HB_TRY(hb_objects_set_idcred(store, e->name, e->name, e->name, &created, err));
    HB_TRY(set_certificate(e, cert, err));
    e->state = HB_ENROLL_ACTIVE;
    int w = snprintf(detail, sizeof detail, "imported the CA-signed certificate of '%s' (%s, "
                     "expires %s); the enrollment is active", e->name, e->subject,
                     e->not_after);
    if (w < 0 || (size_t)w >= sizeof detail)
        detail[sizeof detail - 1] = '\0';
    const char *fps[1] = {e->fingerprint};
    HB_TRY(record(root, sg, who, "import-cert", detail, fps, 1, err));
    HB_TRY(hb_objects_save(store, err));
    HB_TRY(hb_custody_save(c, err));
    snprintf(fingerprint_out, 65, "%s", e->fingerprint);
cleanup:
    hb_audit_log("ceremony-import-cert", st, err, "name", name, "certificate", cert_url,
                 (char *)NULL);
    free(spki);
    X509_free(cert);
    hb_objects_free(store);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- retire ---- */

hb_status hb_ceremony_retire(hb_provider *p, const char *root, const char *what,
                             const char *const *custodians, size_t n_custodians, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    char who[1024], detail[1024], now[21];
    HB_TRY(who_of(custodians, n_custodians, who, sizeof who, err));
    HB_TRY(hb_custody_load(root, &c, err));
    HB_TRY(hb_rfc3339_now(now, err));
    hb_quorum_group *g = (hb_quorum_group *)hb_custody_find_group(c, what);
    hb_enrollment *e = g == NULL ? (hb_enrollment *)hb_custody_find(c, what) : NULL;
    if (g == NULL && e == NULL) {
        st = hb_fail(err, HB_E_NOT_FOUND, "no enrollment (name or SHA-256 fingerprint, at "
                     "least 8 hex digits, unambiguous) or quorum group '%s'", what);
        goto cleanup;
    }
    if ((g != NULL && g->retired) || (e != NULL && e->state == HB_ENROLL_RETIRED)) {
        st = hb_fail(err, HB_E_REFUSED, "'%s' is already retired", what);
        goto cleanup;
    }
    HB_TRY(signer_open(p, root, &sg, err));
    if (g != NULL) {
        g->retired = true;
        snprintf(detail, sizeof detail, "retired quorum group '%s' (%u of %zu): no new backup "
                 "is made to it", g->name, g->threshold, g->n_members);
        HB_TRY(record(root, sg, who, "retire", detail, NULL, 0, err));
    } else {
        e->state = HB_ENROLL_RETIRED;
        memcpy(e->retired, now, sizeof now);
        snprintf(detail, sizeof detail, "retired '%s': no new backup is made to it; its key "
                 "stays on token '%s' (serial %s) and still opens older backups", e->name,
                 e->token_label, e->token_serial);
        const char *fps[1] = {e->fingerprint};
        HB_TRY(record(root, sg, who, "retire", detail, fps, e->fingerprint[0] ? 1 : 0, err));
    }
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-retire", st, err, "recipient", what, (char *)NULL);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- quorum ---- */

hb_status hb_ceremony_quorum(hb_provider *p, const char *root, const char *name,
                             unsigned threshold, const char *const *members, size_t n_members,
                             const char *const *custodians, size_t n_custodians, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_quorum_group g = {0};
    const char **fps = NULL;
    char who[1024], detail[1024];
    HB_TRY(who_of(custodians, n_custodians, who, sizeof who, err));
    if (!hb_name_ok(name)) {
        st = hb_fail(err, HB_E_USAGE, "quorum group name '%s' must match [a-z0-9][a-z0-9-]* "
                     "(at most 64 characters)", name);
        goto cleanup;
    }
    if (threshold < 2 || n_members < threshold || n_members > 255) {
        st = hb_fail(err, HB_E_USAGE, "a quorum needs 2 <= --threshold (%u) <= members (%zu) "
                     "<= 255; for any-one-of-several, back up to the recipients directly",
                     threshold, n_members);
        goto cleanup;
    }
    HB_TRY(hb_custody_load(root, &c, err));
    if (hb_custody_find_group(c, name) != NULL || hb_custody_find(c, name) != NULL) {
        st = hb_fail(err, HB_E_REFUSED, "an enrollment or quorum group named '%s' exists",
                     name);
        goto cleanup;
    }
    g.members = calloc(n_members, sizeof *g.members);
    fps = calloc(n_members, sizeof *fps);
    if (g.members == NULL || fps == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n_members; i++) {
        const hb_enrollment *e = hb_custody_find(c, members[i]);
        if (e == NULL) {
            st = hb_fail(err, HB_E_NOT_FOUND, "quorum member '%s' is not an enrollment (name or "
                         "SHA-256 fingerprint, at least 8 hex digits, unambiguous)", members[i]);
            goto cleanup;
        }
        if (e->state != HB_ENROLL_ACTIVE) {
            st = hb_fail(err, HB_E_REFUSED, "quorum member '%s' is %s, not active", e->name,
                         hb_enrollment_state_name(e->state));
            goto cleanup;
        }
        for (size_t k = 0; k < g.n_members; k++)
            if (strcmp(g.members[k], e->fingerprint) == 0) {
                st = hb_fail(err, HB_E_USAGE, "quorum member '%s' is named twice", e->name);
                goto cleanup;
            }
        memcpy(g.members[g.n_members++], e->fingerprint, 65);
        fps[i] = e->fingerprint;
    }
    snprintf(g.name, sizeof g.name, "%s", name);
    g.threshold = threshold;
    HB_TRY(hb_rfc3339_now(g.created, err));
    HB_TRY(signer_open(p, root, &sg, err));
    snprintf(detail, sizeof detail, "defined quorum group '%s': any %u of its %zu members "
             "together open backups made to it", name, threshold, n_members);
    HB_TRY(record(root, sg, who, "quorum", detail, fps, n_members, err));
    hb_quorum_group *arr = realloc(c->groups, (c->n_groups + 1) * sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    c->groups = arr;
    arr[c->n_groups++] = g;
    memset(&g, 0, sizeof g);
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-quorum", st, err, "group", name, (char *)NULL);
    free(g.members);
    free(fps);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- verify-transcript ---- */

hb_status hb_ceremony_verify_transcript(hb_provider *p, const char *root, hb_transcript **out,
                                        hb_strlist *warnings, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    hb_custody *c = NULL;
    X509 *cert = NULL;
    char path[PATH_MAX];
    HB_TRY(hb_objects_load(root, &store, err));
    const char *name = hb_objects_backup_signer(store);
    const hb_crypto_object *id = name ? hb_objects_find(store, HB_OBJECT_IDCRED, name) : NULL;
    if (id == NULL) {
        st = hb_fail(err, HB_E_REFUSED, "no backup signer is set: the transcript is checked "
                     "against the backup signer's certificate");
        goto cleanup;
    }
    /* The certificate only: verifying needs no login. */
    HB_TRY(hb_objects_load_certificate(store, p, id->certificate, &cert, err));
    HB_TRY(hb_transcript_path(root, path, sizeof path, err));
    HB_TRY(hb_transcript_verify(path, cert, out, err));
    HB_TRY(hb_custody_load(root, &c, err));
    HB_TRY(hb_custody_expiry_warnings(c, time(NULL), warnings, err));
cleanup:
    hb_audit_log("ceremony-verify-transcript", st, err, "root", root, (char *)NULL);
    X509_free(cert);
    hb_custody_free(c);
    hb_objects_free(store);
    return st;
}

void hb_enroll_result_free(hb_enroll_result *res)
{
    if (res != NULL)
        hb_strlist_free(&res->warnings);
}
