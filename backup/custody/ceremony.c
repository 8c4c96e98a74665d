/* Key custody ceremonies (docs/custody.md): enroll, import-cert, retire,
 * quorum, attest, verify-transcript. Each ceremony that changes the custody
 * store first checks the store against the transcript's signed snapshot
 * (store_attest.c; attest excepted: it records the store as it is), logs in
 * to the backup signer (so a ceremony that cannot be recorded does not
 * start), then does its work, appends one signed v2 transcript entry with
 * the store after the change, and only then saves the custody store. Every
 * ceremony writes one audit line, whatever its outcome. */
#include "hsmbak/custody.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/objects.h"
#include "backup/custody/signer.h"
#include "backup/custody/snapshot.h"
#include "backup/custody/store_attest.h"
#include "backup/custody/transcript.h"
#include "backup/custody/transcript_pin.h"
#include "backup/custody/wrap.h"
#include "backup/format/xml.h"
#include "common/audit.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fault.h"
#include "common/ids.h"
#include "common/names.h"
#include "common/x509.h"
#include "hsmbak/keygen.h"
#include "provider/token.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the backup signer, and the transcript entry it signs ---- */

/* Every ceremony checks the store against the transcript (after the pin
 * guard, whose message about a lost transcript names the pinning backup)
 * before it changes anything: a change made by hand is not carried into the
 * next signed snapshot. A new log
 * (--new-transcript, recorded in its first entry) starts from the store as
 * it is. */
#define UNVERIFIED "nothing is appended to a transcript that does not verify"

static hb_status store_check(hb_provider *p, const char *root, const hb_custody *c,
                             unsigned flags, hb_err *err)
{
    if (flags & HB_CEREMONY_NEW_TRANSCRIPT)
        return HB_OK;
    return hb_store_attest_check(p, root, c, UNVERIFIED, err);
}

/* The signer, and the transcript checked against the head this system
 * pinned (transcript_pin.h): before the ceremony writes anything. */
static hb_status signer_open(hb_provider *p, const char *root, unsigned flags,
                             hb_pin_guard *guard, hb_signer **out, hb_err *err)
{
    hb_object_store *store = NULL;
    hb_status st = hb_objects_load(root, &store, err);
    if (st == HB_OK)
        st = hb_signer_open(p, store, "every ceremony is recorded in a transcript signed by it",
                            "backup signer (it signs the ceremony transcript)", out, err);
    hb_objects_free(store);
    if (st == HB_OK)
        st = hb_transcript_pin_guard(root, hb_signer_cert(*out),
                                     (flags & HB_CEREMONY_NEW_TRANSCRIPT) != 0, guard, err);
    return st;
}

static hb_status detail_of(char **out, hb_err *err, const char *fmt, ...) HB_PRINTF(3, 4);

/* One signed v2 entry: what was done, and the custody store c after it (a
 * new log's first one says so, guard->note); then its head is pinned. */
static hb_status record(const char *root, hb_signer *s, const hb_pin_guard *guard,
                        const hb_custody *c, const char *who, const char *what,
                        const char *detail, const char *const *fps, size_t n, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody_snapshot snap = {0};
    char path[PATH_MAX];
    char *noted = NULL;
    if (guard->note[0] != '\0')
        HB_TRY(detail_of(&noted, err, "%s; %s", guard->note, detail));
    HB_TRY(hb_transcript_path(root, path, sizeof path, err));
    HB_TRY(hb_custody_snapshot_of(c, &snap, err));
    /* Test hook (docs/custody.md): a legacy v1 entry, as an older hsmbak
     * wrote, for the migration tests. */
    hb_transcript_record r = {.who = who, .what = what,
                              .detail = noted != NULL ? noted : detail, .fingerprints = fps,
                              .n_fingerprints = n,
                              .snapshot = hb_fault_active("transcript-v1") ? NULL : &snap};
    HB_TRY(hb_transcript_append_record(path, hb_signer_cert(s), hb_signer_sign, s, &r, err));
    HB_TRY(hb_transcript_pin_after_append(root, hb_signer_cert(s), err));
cleanup:
    hb_custody_snapshot_free(&snap);
    free(noted);
    return st;
}

/* The detail of a transcript entry (*out malloc'ed): at most
 * HB_TRANSCRIPT_TEXT_MAX bytes, refused when longer, never cut. */
static hb_status detail_of(char **out, hb_err *err, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return hb_fail_oom(err);
    if ((size_t)n > HB_TRANSCRIPT_TEXT_MAX) {
        free(s);
        return hb_fail(err, HB_E_REFUSED, "the transcript entry of this ceremony would say %d "
                       "bytes, more than %d: use shorter names", n, HB_TRANSCRIPT_TEXT_MAX);
    }
    *out = s;
    return HB_OK;
}

/* "alice, bob" from the custodians; "operator" ($USER) when none given.
 * *out is malloc'ed. */
static hb_status who_of(const char *const *custodians, size_t n, char **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf who = HB_BUF_INIT(HB_TRANSCRIPT_TEXT_MAX);
    for (size_t i = 0; i < n; i++) {
        HB_ENSURE(custodians[i][0] != '\0' && strlen(custodians[i]) <= 128 &&
                  hb_xml_text_ok(custodians[i]), HB_E_USAGE,
                  "custodian name '%s' must be 1..128 printable characters", custodians[i]);
        if (hb_buf_addf(&who, err, "%s%s", i ? ", " : "", custodians[i]) != HB_OK)
            HB_FAIL(HB_E_USAGE, "too many custodian names (at most %d bytes together)",
                    HB_TRANSCRIPT_TEXT_MAX);
    }
    if (n == 0) {
        const char *user = getenv("USER");
        bool ok = user != NULL && user[0] != '\0' && strlen(user) < 64 && hb_xml_text_ok(user);
        HB_TRY(hb_buf_adds(&who, ok ? user : "operator", err));
    }
    *out = hb_buf_take(&who);
    HB_ALLOC(*out);
cleanup:
    hb_buf_free(&who);
    return st;
}

/* ---- the parts of an enrollment record ---- */

static void asn1_to_rfc3339(const ASN1_TIME *t, char out[21])
{
    struct tm tm;
    out[0] = '\0';
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A malloc'ed copy of what an i2d_ function returned (n bytes at der,
 * which is freed either way). */
static hb_status take_der(unsigned char *der, int n, const char *what, uint8_t **out,
                          size_t *len, hb_err *err)
{
    if (n <= 0)
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode %s", what);
    uint8_t *copy = malloc((size_t)n);
    if (copy != NULL)
        memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    if (copy == NULL)
        return hb_fail_oom(err);
    *out = copy;
    *len = (size_t)n;
    return HB_OK;
}

static hb_status spki_of(EVP_PKEY *pub, uint8_t **out, size_t *len, hb_err *err)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pub, &der);
    return take_der(der, n, "the public key", out, len, err);
}

/* The certificate part of an enrollment: DER, fingerprint, subject, expiry. */
static hb_status set_certificate(hb_enrollment *e, X509 *cert, hb_err *err)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    free(e->cert_der);
    e->cert_der = NULL;
    hb_status st = take_der(der, n, "the certificate", &e->cert_der, &e->cert_der_len, err);
    if (st == HB_OK)
        st = hb_sha256_hex(e->cert_der, e->cert_der_len, e->fingerprint, err);
    if (st == HB_OK) {
        free(e->subject);
        e->subject = NULL;
        st = hb_x509_subject_rfc2253(cert, &e->subject, err);
    }
    asn1_to_rfc3339(X509_get0_notAfter(cert), e->not_after);
    return st;
}

static hb_status add_custodians(hb_enrollment *e, const char *const *c, size_t n, hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < n; i++) {
        char **slot;
        HB_PUSH(slot, e->custodians, e->n_custodians, HB_CUSTODY_MAX_CUSTODIANS);
        *slot = strdup(c[i]);
        HB_ALLOC(*slot);
    }
cleanup:
    return st;
}

/* ---- enroll ---- */

/* What enroll refuses before anything is read; res->name gets the
 * enrollment's name (--name, or made from the CN or first custodian). */
static hb_status check_enroll(const hb_enroll_request *req, hb_enroll_result *res, hb_err *err)
{
    if (req->token_uri == NULL || strncmp(req->token_uri, "pkcs11:", 7) != 0)
        return hb_fail(err, HB_E_USAGE, "enroll needs --token pkcs11:token=LABEL: the "
                       "custodian's token that will hold the key");
    if (req->n_custodians == 0)
        return hb_fail(err, HB_E_USAGE, "enroll needs at least one --custodian NAME: who "
                       "holds the token and its PIN");
    if (req->key_type >= HB_KEY_EC_P256)
        return hb_fail(err, HB_E_USAGE, "backup recipient keys must be RSA (rsa:2048, rsa:3072 "
                       "or rsa:4096): backups wrap their keys with RSA-OAEP");
    if (req->name != NULL) {
        hb_status st = hb_format(res->name, sizeof res->name, "--name", err, "%s", req->name);
        if (st != HB_OK)
            return st;
    } else {
        hb_name_from_text(req->cn != NULL ? req->cn : req->custodians[0], 'r', res->name,
                          sizeof res->name);
    }
    for (const char *q = res->name; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.'))
            return hb_fail(err, HB_E_USAGE, "enrollment name '%s' may only use letters, "
                           "digits, '-', '_' and '.'", res->name);
    return HB_OK;
}

/* No enrollment, quorum group or idcred has the name yet. */
static hb_status check_name_free(const hb_custody *c, const char *root, const char *name,
                                 hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    HB_ENSURE(hb_custody_find(c, name) == NULL && hb_custody_find_group(c, name) == NULL,
              HB_E_REFUSED, "an enrollment or quorum group named '%s' exists; choose another "
              "--name", name);
    HB_TRY(hb_objects_load(root, &store, err));
    HB_ENSURE(hb_objects_find(store, HB_OBJECT_IDCRED, name) == NULL, HB_E_REFUSED,
              "an idcred named '%s' exists; choose another --name", name);
cleanup:
    hb_objects_free(store);
    return st;
}

/* The label and serial of the one token uri selects, into e. */
static hb_status token_of(hb_provider *p, const char *uri, hb_enrollment *e, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_info *tokens = NULL;
    size_t n = 0;
    HB_TRY(hb_token_list(p, uri, false, &tokens, &n, err));
    HB_ENSURE(n == 1, HB_E_NOT_FOUND, "'%s' selects %zu tokens; name exactly one "
              "(pkcs11:token=LABEL or ;serial=...)", uri, n);
    _Static_assert(sizeof e->token_label == sizeof tokens->label, "token label sizes");
    _Static_assert(sizeof e->token_serial == sizeof tokens->serial, "token serial sizes");
    memcpy(e->token_label, tokens[0].label, sizeof e->token_label);
    memcpy(e->token_serial, tokens[0].serial, sizeof e->token_serial);
cleanup:
    hb_token_list_free(tokens, n);
    return st;
}

/* A CSR enrollment has no certificate yet: probe with the public key alone. */
static hb_status probe_public_key(hb_provider *p, const char *key_uri, EVP_PKEY *pub,
                                  hb_oaep_hash *out, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned accepted = 0;
    X509 *shell = X509_new();
    if (shell == NULL || X509_set_pubkey(shell, pub) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "out of memory");
    HB_TRY(hb_token_probe_oaep(p, key_uri, shell, &accepted, err));
    *out = hb_key_wrap_of(accepted);
cleanup:
    X509_free(shell);
    return st;
}

/* The key pair, self-signed certificate (or CSR) and crypto objects, by
 * hb_keygen: it generates the key non-extractable and, for a certificate,
 * proves possession with a real wrap/unwrap per OAEP hash. The token's own
 * report of the key is checked too. *pub gets the public half. */
static hb_status make_key(hb_provider *p, const hb_enroll_request *req, const char *name,
                          const char *cn, hb_keygen_pre_seal_fn hook, void *hook_ctx,
                          hb_keygen_result *kr, EVP_PKEY **pub, hb_err *err)
{
    hb_status st = HB_OK;
    char *pub_uri = NULL;
    hb_key_attrs a;
    hb_keygen_request kq = {
        .root = req->root, .token_uri = req->token_uri, .dn = {.cn = cn},
        .key_type = req->key_type, .usage = HB_USAGE_RECIPIENT, .gen_sscert = !req->csr,
        .days = req->days ? req->days : 730, .csr = req->csr, .file_name = name,
        .gen_object = true, .object_name = name,
    };
    HB_TRY(hb_keygen_hooked(p, &kq, hook, hook_ctx, kr, err));
    HB_TRY(hb_token_key_attrs(p, kr->key_uri, &a, err));
    HB_ENSURE(!a.extractable && a.sensitive && !a.sign && (a.decrypt || a.unwrap), HB_E_TOKEN,
              "the token did not keep the new key '%s' as asked (sensitive %d, extractable %d, "
              "sign %d, decrypt %d): do not use this token for backup keys", kr->key_uri,
              a.sensitive, a.extractable, a.sign, a.decrypt);
    HB_TRY(hb_pkcs11_uri_with_type(kr->key_uri, "public", &pub_uri, err));
    HB_TRY(hb_provider_load_public_key(p, pub_uri, pub, err));
cleanup:
    free(pub_uri);
    return st;
}

/* The record of the new key: name, state, key, custodians, time, SPKI. */
static hb_status new_enrollment(const hb_enroll_request *req, const char *name,
                                const hb_keygen_result *kr, EVP_PKEY *pub, hb_enrollment *e,
                                hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(hb_format(e->name, sizeof e->name, "the enrollment name", err, "%s", name));
    e->state = req->csr ? HB_ENROLL_PENDING : HB_ENROLL_ACTIVE;
    e->key_uri = strdup(kr->key_uri);
    HB_ALLOC(e->key_uri);
    e->key_wrap = kr->key_wrap;
    HB_TRY(add_custodians(e, req->custodians, req->n_custodians, err));
    HB_TRY(hb_rfc3339_now(e->enrolled, err));
    HB_TRY(spki_of(pub, &e->spki_der, &e->spki_der_len, err));
cleanup:
    return st;
}

/* A self-signed enrollment is active at once: the certificate keygen made
 * (crypto object NAME) goes into the record, and idcred NAME pairs it with
 * the key. */
static hb_status attach_sscert(hb_provider *p, const char *root, hb_enrollment *e,
                               hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    X509 *cert = NULL;
    bool created;
    HB_TRY(hb_objects_load(root, &store, err));
    HB_TRY(hb_objects_load_certificate(store, p, e->name, &cert, err));
    HB_TRY(set_certificate(e, cert, err));
    HB_TRY(hb_objects_set_idcred(store, e->name, e->name, e->name, &created, err));
    HB_TRY(hb_objects_save(store, err));
cleanup:
    X509_free(cert);
    hb_objects_free(store);
    return st;
}

static hb_status fill_result(const hb_enrollment *e, const hb_keygen_result *kr, bool csr,
                             hb_enroll_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(hb_format(res->key_uri, sizeof res->key_uri, "the key URI", err, "%s", kr->key_uri));
    if (csr) {
        HB_TRY(hb_format(res->csr_url, sizeof res->csr_url, "the CSR's URL", err, "%s",
                         kr->csr_url));
    } else {
        memcpy(res->fingerprint, e->fingerprint, sizeof res->fingerprint);
        HB_TRY(hb_format(res->cert_url, sizeof res->cert_url, "the certificate's URL", err,
                         "%s", kr->sscert_url));
        HB_TRY(hb_enrollment_expiry_warning(e, time(NULL), &res->warnings, err));
    }
    res->key_wrap = e->key_wrap;
    /* What the token lets the key do, read back by hb_keygen. */
    _Static_assert(sizeof res->mechanisms_warning == sizeof kr->mechanisms_warning &&
                       sizeof res->allowed_mechanisms == sizeof kr->allowed_mechanisms &&
                       sizeof res->mechanisms_limit == sizeof kr->mechanisms_limit,
                   "mechanism fields");
    memcpy(res->mechanisms_limit, kr->mechanisms_limit, sizeof res->mechanisms_limit);
    memcpy(res->allowed_mechanisms, kr->allowed_mechanisms, sizeof res->allowed_mechanisms);
    memcpy(res->mechanisms_warning, kr->mechanisms_warning, sizeof res->mechanisms_warning);
    memcpy(res->token_label, e->token_label, sizeof res->token_label);
    memcpy(res->token_serial, e->token_serial, sizeof res->token_serial);
cleanup:
    return st;
}

static hb_status enroll_detail(const hb_enroll_request *req, const hb_enrollment *e,
                               const hb_keygen_result *kr, char **out, hb_err *err)
{
    static const char *const sizes[] = {"RSA 2048", "RSA 3072", "RSA 4096"};
    /* Every part is bounded (names of 64 characters, a label of 32, ...):
     * the text stays well under the transcript's limit. */
    return detail_of(out, err, "enrolled '%s' on token '%s' (serial %s), key %s, %s, key-wrap "
                     "%s (probed by wrap/unwrap), non-extractable; %s%s", e->name,
                     e->token_label, e->token_serial, e->key_uri, sizes[req->key_type],
                     hb_oaep_hash_name(e->key_wrap),
                     req->csr ? "CSR " : "self-signed certificate, expires ",
                     req->csr ? kr->csr_url : e->not_after);
}

/* The enroll entry is made while the new key may still sign: the key signs
 * the entry's body (proof of possession, issue 15) before it is sealed. */
typedef struct enroll_hook {
    hb_provider *p;
    const hb_enroll_request *req;
    const char *name, *who, *cn;
    hb_custody *c;               /* gets the enrollment */
    hb_enrollment *e;            /* token label and serial set; taken over by c */
    hb_signer *sg;
    const hb_pin_guard *guard;   /* a new log's first entry says so */
    hb_keygen_result *kr;
    hb_transcript_pending *pending;
} enroll_hook;

static hb_status enroll_pre_seal(void *ctx, const hb_keygen_pre_seal *k, hb_err *err)
{
    hb_status st = HB_OK;
    enroll_hook *h = ctx;
    hb_enrollment *e = h->e;
    hb_custody_snapshot snap = {0};
    char *detail = NULL, path[PATH_MAX];
    h->kr->key_wrap = k->key_wrap;
    if (h->req->csr)
        HB_TRY(probe_public_key(h->p, k->key_uri, k->pub, &h->kr->key_wrap, err));
    HB_TRY(new_enrollment(h->req, h->name, h->kr, k->pub, e, err));
    if (h->req->csr) {
        e->subject = strdup(h->cn);
        HB_ALLOC(e->subject);
    } else {
        HB_TRY(set_certificate(e, k->cert, err));
    }
    HB_TRY(enroll_detail(h->req, e, h->kr, &detail, err));
    if (h->guard->note[0] != '\0') {
        char *plain = detail;
        detail = NULL;
        st = detail_of(&detail, err, "%s; %s", h->guard->note, plain);
        free(plain);
        HB_TRY(st);
    }
    char fp[65];
    memcpy(fp, e->fingerprint, sizeof fp);
    const char *fps[1] = {fp};
    uint8_t *spki = hb_memdup(e->spki_der, e->spki_der_len);
    size_t spki_len = e->spki_der_len;
    HB_ALLOC(spki);
    st = hb_custody_add_enrollment(h->c, e, err);
    if (st == HB_OK)
        st = hb_custody_snapshot_of(h->c, &snap, err);
    hb_transcript_record r = {.who = h->who, .what = "enroll", .detail = detail,
                              .fingerprints = fps, .n_fingerprints = h->req->csr ? 0 : 1,
                              .snapshot = &snap, .pop_spki = spki, .pop_spki_len = spki_len,
                              .pop_sign = k->sign, .pop_ctx = k->sign_ctx};
    if (hb_fault_active("transcript-v1")) /* test hook, as in record() */
        r = (hb_transcript_record){.who = h->who, .what = "enroll", .detail = detail,
                                   .fingerprints = fps, .n_fingerprints = r.n_fingerprints};
    if (st == HB_OK)
        st = hb_transcript_path(h->req->root, path, sizeof path, err);
    if (st == HB_OK)
        st = hb_transcript_prepare(path, hb_signer_cert(h->sg), hb_signer_sign, &r,
                                   &h->pending, err);
    free(spki);
cleanup:
    hb_custody_snapshot_free(&snap);
    free(detail);
    return st;
}

hb_status hb_ceremony_enroll(hb_provider *p, const hb_enroll_request *req, hb_enroll_result *res,
                             hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_enrollment e = {0};
    EVP_PKEY *pub = NULL;
    char *who = NULL, *default_cn = NULL;
    hb_keygen_result kr;
    enroll_hook h = {0};
    hb_pin_guard guard = {0};

    memset(res, 0, sizeof *res);
    memset(&kr, 0, sizeof kr);
    HB_TRY(check_enroll(req, res, err));
    HB_TRY(who_of(req->custodians, req->n_custodians, &who, err));
    const char *cn = req->cn;
    if (cn == NULL) {
        /* custodians are at most 128 characters (who_of) */
        if (asprintf(&default_cn, "hsmbak backup recipient %s", req->custodians[0]) < 0)
            HB_FAIL(HB_E_INTERNAL, "out of memory");
        cn = default_cn;
    }
    /* Everything that could refuse is checked before the token is touched. */
    HB_TRY(hb_custody_load(req->root, &c, err));
    HB_TRY(check_name_free(c, req->root, res->name, err));
    HB_TRY(signer_open(p, req->root, req->flags, &guard, &sg, err));
    HB_TRY(store_check(p, req->root, c, req->flags, err));
    HB_TRY(token_of(p, req->token_uri, &e, err));

    h = (enroll_hook){.p = p, .req = req, .name = res->name, .who = who, .cn = cn, .c = c,
                      .e = &e, .sg = sg, .guard = &guard, .kr = &kr};
    HB_TRY(make_key(p, req, res->name, cn, enroll_pre_seal, &h, &kr, &pub, err));
    HB_ENSURE(h.pending != NULL && c->n > 0, HB_E_INTERNAL, "the enrollment of '%s' was not "
              "prepared before its key was sealed", res->name);
    hb_enrollment *rec = &c->enrollments[c->n - 1];
    if (!req->csr)
        HB_TRY(attach_sscert(p, req->root, rec, err));
    HB_TRY(fill_result(rec, &kr, req->csr, res, err));
    HB_TRY(hb_transcript_commit(h.pending, hb_signer_sign, sg, err));
    HB_TRY(hb_transcript_pin_after_append(req->root, hb_signer_cert(sg), err));
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-enroll", st, err, "name", res->name, "token", req->token_uri,
                 "fingerprint", res->fingerprint, (char *)NULL);
    hb_transcript_pending_free(h.pending);
    hb_enrollment_clear(&e);
    EVP_PKEY_free(pub);
    free(who);
    free(default_cn);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- import-cert ---- */

/* The CA-signed certificate is for the enrolled key (same SPKI). */
static hb_status check_same_key(const hb_enrollment *e, X509 *cert, const char *cert_url,
                                hb_err *err)
{
    uint8_t *spki = NULL;
    size_t len = 0;
    hb_status st = spki_of(X509_get0_pubkey(cert), &spki, &len, err);
    if (st == HB_OK && (len != e->spki_der_len || memcmp(spki, e->spki_der, len) != 0))
        st = hb_fail(err, HB_E_REFUSED, "the certificate in '%s' is not for the key enrolled as "
                     "'%s' (its public key differs): was the CSR of another enrollment signed?",
                     cert_url, e->name);
    free(spki);
    return st;
}

hb_status hb_ceremony_import_cert(hb_provider *p, const char *root, const char *name,
                                  const char *cert_url, const char *const *custodians,
                                  size_t n_custodians, char fingerprint_out[65], unsigned flags,
                                  hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_object_store *store = NULL;
    X509 *cert = NULL;
    char *who = NULL, *detail = NULL;
    char url[PATH_MAX];
    bool created;
    hb_pin_guard guard = {0};

    HB_TRY(who_of(custodians, n_custodians, &who, err));
    HB_TRY(hb_custody_load(root, &c, err));
    hb_enrollment *e = (hb_enrollment *)hb_custody_find(c, name);
    HB_ENSURE(e != NULL, HB_E_NOT_FOUND, "no enrollment named '%s' (see 'hsmbak ceremony "
              "list')", name);
    HB_ENSURE(e->state == HB_ENROLL_PENDING, HB_E_REFUSED,
              "enrollment '%s' is %s, not waiting for a certificate", e->name,
              hb_enrollment_state_name(e->state));
    HB_TRY(hb_objects_load(root, &store, err));
    HB_TRY(hb_objects_read_certificate_url(root, cert_url, &cert, err));
    HB_TRY(check_same_key(e, cert, cert_url, err));
    HB_TRY(hb_recipient_check(cert, false, time(NULL), err));
    HB_TRY(signer_open(p, root, flags, &guard, &sg, err));
    HB_TRY(store_check(p, root, c, flags, err));
    /* The record in memory first: a refusal from here on saves nothing. */
    HB_TRY(set_certificate(e, cert, err));
    e->state = HB_ENROLL_ACTIVE;
    HB_TRY(detail_of(&detail, err, "imported the CA-signed certificate of '%s' (%s, expires "
                     "%s); the enrollment is active", e->name, e->subject, e->not_after));
    HB_TRY(hb_format(url, sizeof url, "the certificate's URL", err, "cert:///%s-cert.pem",
                     e->name));
    HB_TRY(hb_pem_write(root, url, cert, NULL, err));
    HB_TRY(hb_objects_set_certificate(store, e->name, url, false, false, e->key_wrap, &created,
                                      err));
    /* Probed at enrollment, on the key this certificate now certifies. */
    HB_TRY(hb_objects_set_key_wrap_probe(store, e->name, e->fingerprint, 1u << e->key_wrap,
                                         err));
    HB_TRY(hb_objects_set_idcred(store, e->name, e->name, e->name, &created, err));
    const char *fps[1] = {e->fingerprint};
    HB_TRY(record(root, sg, &guard, c, who, "import-cert", detail, fps, 1, err));
    HB_TRY(hb_objects_save(store, err));
    HB_TRY(hb_custody_save(c, err));
    if (fingerprint_out != NULL)
        memcpy(fingerprint_out, e->fingerprint, 65);
cleanup:
    hb_audit_log("ceremony-import-cert", st, err, "name", name, "certificate", cert_url,
                 (char *)NULL);
    free(who);
    free(detail);
    X509_free(cert);
    hb_objects_free(store);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- retire ---- */

hb_status hb_ceremony_retire(hb_provider *p, const char *root, const char *what,
                             const char *const *custodians, size_t n_custodians,
                             unsigned flags, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    char *who = NULL, *detail = NULL;
    char now[21];
    hb_pin_guard guard = {0};
    HB_TRY(who_of(custodians, n_custodians, &who, err));
    HB_TRY(hb_custody_load(root, &c, err));
    HB_TRY(hb_rfc3339_now(now, err));
    hb_quorum_group *g = (hb_quorum_group *)hb_custody_find_group(c, what);
    hb_enrollment *e = g == NULL ? (hb_enrollment *)hb_custody_find(c, what) : NULL;
    HB_ENSURE(g != NULL || e != NULL, HB_E_NOT_FOUND, "no enrollment (name or SHA-256 "
              "fingerprint, at least 8 hex digits, unambiguous) or quorum group '%s'", what);
    HB_ENSURE(!(g != NULL && g->retired) && !(e != NULL && e->state == HB_ENROLL_RETIRED),
              HB_E_REFUSED, "'%s' is already retired", what);
    HB_TRY(signer_open(p, root, flags, &guard, &sg, err));
    HB_TRY(store_check(p, root, c, flags, err));
    if (g != NULL) {
        g->retired = true;
        HB_TRY(detail_of(&detail, err, "retired quorum group '%s' (%u of %zu): no new backup "
                         "is made to it; its members stay out of the default set (a "
                         "backup to one of them alone names it)", g->name, g->threshold,
                         g->n_members));
        HB_TRY(record(root, sg, &guard, c, who, "retire", detail, NULL, 0, err));
    } else {
        e->state = HB_ENROLL_RETIRED;
        memcpy(e->retired, now, sizeof now);
        HB_TRY(detail_of(&detail, err, "retired '%s': no new backup is made to it; its key "
                         "stays on token '%s' (serial %s) and still opens older backups",
                         e->name, e->token_label, e->token_serial));
        const char *fps[1] = {e->fingerprint};
        HB_TRY(record(root, sg, &guard, c, who, "retire", detail, fps, e->fingerprint[0] ? 1 : 0,
                      err));
    }
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-retire", st, err, "recipient", what, (char *)NULL);
    free(who);
    free(detail);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- quorum ---- */

/* The members (names or fingerprints of active enrollments, each once) into
 * g, their fingerprints into fps (n entries, borrowed from c). */
static hb_status add_members(const hb_custody *c, const char *const *members, size_t n,
                             hb_quorum_group *g, const char **fps, hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < n; i++) {
        const hb_enrollment *e = hb_custody_find(c, members[i]);
        HB_ENSURE(e != NULL, HB_E_NOT_FOUND, "quorum member '%s' is not an enrollment (name or "
                  "SHA-256 fingerprint, at least 8 hex digits, unambiguous)", members[i]);
        HB_ENSURE(e->state == HB_ENROLL_ACTIVE, HB_E_REFUSED, "quorum member '%s' is %s, not "
                  "active", e->name, hb_enrollment_state_name(e->state));
        for (size_t k = 0; k < g->n_members; k++)
            HB_ENSURE(strcmp(g->members[k], e->fingerprint) != 0, HB_E_USAGE,
                      "quorum member '%s' is named twice", e->name);
        HB_TRY(hb_quorum_group_add_member(g, e->fingerprint, err));
        fps[i] = e->fingerprint;
    }
cleanup:
    return st;
}

hb_status hb_ceremony_quorum(hb_provider *p, const char *root, const char *name,
                             unsigned threshold, const char *const *members, size_t n_members,
                             const char *const *custodians, size_t n_custodians,
                             unsigned flags, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    hb_quorum_group g = {0};
    hb_pin_guard guard = {0};
    const char **fps = NULL;
    char *who = NULL, *detail = NULL;
    HB_TRY(who_of(custodians, n_custodians, &who, err));
    HB_ENSURE(hb_name_ok(name), HB_E_USAGE, "quorum group name '%s' must match "
              "[a-z0-9][a-z0-9-]* (at most 64 characters)", name);
    HB_ENSURE(threshold >= 2 && n_members >= threshold && n_members <= HB_QUORUM_MAX_MEMBERS,
              HB_E_USAGE, "a quorum needs 2 <= --threshold (%u) <= members (%zu) <= 255; for "
              "any-one-of-several, back up to the recipients directly", threshold, n_members);
    HB_TRY(hb_custody_load(root, &c, err));
    HB_ENSURE(hb_custody_find_group(c, name) == NULL && hb_custody_find(c, name) == NULL,
              HB_E_REFUSED, "an enrollment or quorum group named '%s' exists", name);
    fps = calloc(n_members, sizeof *fps);
    HB_ALLOC(fps);
    HB_TRY(add_members(c, members, n_members, &g, fps, err));
    HB_TRY(hb_format(g.name, sizeof g.name, "the quorum group name", err, "%s", name));
    g.threshold = threshold;
    HB_TRY(hb_rfc3339_now(g.created, err));
    HB_TRY(signer_open(p, root, flags, &guard, &sg, err));
    HB_TRY(store_check(p, root, c, flags, err));
    HB_TRY(detail_of(&detail, err, "defined quorum group '%s': any %u of its %zu members "
                     "together open backups made to it", name, threshold, n_members));
    HB_TRY(hb_custody_add_group(c, &g, err));
    HB_TRY(record(root, sg, &guard, c, who, "quorum", detail, fps, n_members, err));
    HB_TRY(hb_custody_save(c, err));
cleanup:
    hb_audit_log("ceremony-quorum", st, err, "group", name, (char *)NULL);
    free(g.members);
    free(fps);
    free(who);
    free(detail);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- attest ---- */

/* Record the custody store as it is (issue 15): the migration from a
 * transcript whose last entry has no snapshot, and the one way to vouch for
 * a store changed by hand. Whoever holds the backup signer's PIN decides. */
hb_status hb_ceremony_attest(hb_provider *p, const char *root, const char *const *custodians,
                             size_t n_custodians, unsigned flags, hb_err *err)
{
    hb_status st = HB_OK;
    hb_signer *sg = NULL;
    hb_custody *c = NULL;
    char *who = NULL, *detail = NULL;
    hb_pin_guard guard = {0};
    HB_TRY(who_of(custodians, n_custodians, &who, err));
    HB_TRY(hb_custody_load(root, &c, err));
    HB_TRY(signer_open(p, root, flags, &guard, &sg, err));
    HB_TRY(detail_of(&detail, err, "attested the custody store as it is: %zu enrollment(s), "
                     "%zu quorum group(s); backups to enrolled recipients follow this record",
                     c->n, c->n_groups));
    HB_TRY(record(root, sg, &guard, c, who, "attest", detail, NULL, 0, err));
cleanup:
    hb_audit_log("ceremony-attest", st, err, "root", root, (char *)NULL);
    free(who);
    free(detail);
    hb_custody_free(c);
    hb_signer_free(sg);
    return st;
}

/* ---- verify-transcript ---- */

hb_status hb_ceremony_verify_transcript(hb_provider *p, const char *root, hb_transcript **out,
                                        hb_strlist *warnings, hb_err *err)
{
    return hb_ceremony_verify_transcript_against(p, root, NULL, out, warnings, err);
}

hb_status hb_ceremony_verify_transcript_against(hb_provider *p, const char *root,
                                                const hb_manifest *kept, hb_transcript **out,
                                                hb_strlist *warnings, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    hb_custody *c = NULL;
    X509 *cert = NULL;
    hb_transcript *t = NULL;
    hb_transcript_pin pin, kept_pin = {0};
    char path[PATH_MAX];
    bool legacy = false;
    if (out != NULL)
        *out = NULL;
    HB_TRY(hb_objects_load(root, &store, err));
    const char *name = hb_objects_backup_signer(store);
    const hb_crypto_object *id = name ? hb_objects_find(store, HB_OBJECT_IDCRED, name) : NULL;
    HB_ENSURE(id != NULL, HB_E_REFUSED, "no backup signer is set: the transcript is checked "
              "against the backup signer's certificate");
    /* The certificate only: verifying needs no login. */
    HB_TRY(hb_objects_load_certificate(store, p, id->certificate, &cert, err));
    HB_TRY(hb_transcript_path(root, path, sizeof path, err));
    HB_TRY(hb_transcript_pin_load(root, &pin, err));
    if (kept != NULL)
        HB_TRY(hb_transcript_pin_of_manifest(kept, &kept_pin, err));
    st = hb_transcript_verify(path, cert, &t, err);
    if (st == HB_E_NOT_FOUND && (pin.seq > 0 || kept_pin.seq > 0)) /* deleted, not "never held" */
        st = hb_transcript_pin_compare(NULL, pin.seq > 0 ? &pin : &kept_pin, err);
    HB_TRY(st);
    HB_TRY(hb_transcript_pin_compare(t, &pin, err));
    HB_TRY(hb_transcript_pin_compare(t, &kept_pin, err));
    HB_TRY(hb_custody_load(root, &c, err));
    /* The store must be what the last entry signed (issue 15). */
    HB_TRY(hb_store_attest_compare(c, t, path, true, &legacy, err));
    if (legacy && warnings != NULL)
        HB_TRY(hb_strlist_addf(warnings, err, "warning: the transcript's last entry was written "
                               "by an older hsmbak and does not record the custody store: "
                               "backups to enrolled recipients are refused until 'hsmbak "
                               "ceremony attest' records it"));
    HB_TRY(hb_custody_expiry_warnings(c, time(NULL), warnings, err));
    if (out != NULL) {
        *out = t;
        t = NULL;
    }
cleanup:
    hb_audit_log("ceremony-verify-transcript", st, err, "root", root, (char *)NULL);
    hb_transcript_free(t);
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
