/* crypto keygen: the key pair is made on the token, never in software; the
 * self-signed certificate and CSR are built here and signed on the token.
 *
 * Recipient keys are decrypt/unwrap only, yet their self-signed certificate
 * and CSR need a signature by the key itself (that is what proves the key is
 * there). So a recipient key is generated with signing allowed, signs those
 * two documents, and then has CKA_SIGN cleared (hb_token_key_seal) before
 * keygen returns; a keygen that fails in between deletes nothing on the token
 * but reports the key as unusable. An enrollment ceremony also has the new
 * key sign its transcript entry (proof of possession) in that window, through
 * hb_keygen_hooked's hook; the key is sealed whether or not the hook
 * succeeds. What the token then lets the key do (CKA_ALLOWED_MECHANISMS,
 * provider/allowed.c) is read back, tried, reported and recorded on the key
 * object (docs/custody.md "Allowed mechanisms"). */
#include "hsmbak/keygen.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/objects.h"
#include "common/audit.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/names.h"
#include "common/x509.h"
#include "provider/token.h"

#include <limits.h>
#include <openssl/err.h>

#include <ctype.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static hb_status add_dn_entry(X509_NAME *name, const char *field, const char *value,
                              hb_err *err)
{
    if (value == NULL || *value == '\0')
        return HB_OK;
    if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value,
                                    -1, -1, 0))
        return hb_fail_ossl(err, HB_E_USAGE, "bad %s '%s' for the certificate subject", field,
                            value);
    return HB_OK;
}

static hb_status make_name(const hb_dn *dn, X509_NAME **out, hb_err *err)
{
    hb_status st = HB_OK;
    X509_NAME *name = X509_NAME_new();
    HB_ALLOC(name);
    HB_TRY(add_dn_entry(name, "C", dn->c, err));
    HB_TRY(add_dn_entry(name, "ST", dn->st, err));
    HB_TRY(add_dn_entry(name, "L", dn->l, err));
    HB_TRY(add_dn_entry(name, "O", dn->o, err));
    HB_TRY(add_dn_entry(name, "OU", dn->ou, err));
    HB_TRY(add_dn_entry(name, "CN", dn->cn, err));
    *out = name;
    name = NULL;
cleanup:
    X509_NAME_free(name);
    return st;
}

static hb_status add_ext(X509 *cert, int nid, const char *value, hb_err *err)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL || !X509_add_ext(cert, ext, -1)) {
        X509_EXTENSION_free(ext);
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot add certificate extension %s", value);
    }
    X509_EXTENSION_free(ext);
    return HB_OK;
}

/* Sign cert (or, when cert is NULL, req) with SHA-256 by the token key. */
/* The token's signature over the certificate or CSR, verified with pub
 * before it is used. X509_sign_ctx sets the algorithm identifiers and signs
 * through EVP_DigestSign; where that signature does not verify (openCryptoki
 * through pkcs11-provider signs the bare hash), the to-be-signed part is
 * signed again through hb_provider_sign_sha256, which verifies and falls
 * back to signing the digest, and the signature is replaced. */
static hb_status sign_on_token(hb_provider *p, EVP_PKEY *key, EVP_PKEY *pub, X509 *cert,
                               X509_REQ *req, hb_err *err)
{
    hb_status st = HB_OK;
    const char *what = cert != NULL ? "self-signed certificate" : "CSR";
    unsigned char *tbs = NULL;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    const ASN1_BIT_STRING *old = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestSignInit_ex(md, NULL, "SHA256", hb_provider_libctx(p), NULL, key, NULL) != 1)
        HB_FAIL_OSSL(HB_E_TOKEN, "the token refused to sign with the new key");
    if ((cert != NULL ? X509_sign_ctx(cert, md) : X509_REQ_sign_ctx(req, md)) <= 0)
        HB_FAIL_OSSL(HB_E_TOKEN, "signing the %s on the token failed", what);
    if ((cert != NULL ? X509_verify(cert, pub) : X509_REQ_verify(req, pub)) == 1)
        goto cleanup;
    ERR_clear_error();
    int n = cert != NULL ? i2d_re_X509_tbs(cert, &tbs) : i2d_re_X509_REQ_tbs(req, &tbs);
    HB_ENSURE(n > 0, HB_E_INTERNAL, "cannot encode the %s to sign it", what);
    HB_TRY(hb_provider_sign_sha256(p, key, tbs, (size_t)n, &sig, &siglen, err));
    if (cert != NULL)
        X509_get0_signature(&old, NULL, cert);
    else
        X509_REQ_get0_signature(req, &old, NULL);
    ASN1_BIT_STRING *bits = (ASN1_BIT_STRING *)old; /* owned by the certificate or CSR */
    HB_ENSURE(bits != NULL && siglen <= INT_MAX &&
                  ASN1_BIT_STRING_set(bits, sig, (int)siglen) == 1,
              HB_E_INTERNAL, "cannot store the %s's signature", what);
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT; /* no unused bits */
    HB_ENSURE((cert != NULL ? X509_verify(cert, pub) : X509_REQ_verify(req, pub)) == 1,
              HB_E_TOKEN, "the token's signature on the %s does not verify with the new key; "
              "nothing was written (check the token and its PKCS#11 module)", what);
cleanup:
    ERR_clear_error();
    OPENSSL_free(tbs);
    OPENSSL_free(sig);
    EVP_MD_CTX_free(md);
    return st;
}

static hb_status make_sscert(hb_provider *p, EVP_PKEY *key, EVP_PKEY *pub, const hb_dn *dn,
                             unsigned days, hb_key_usage usage, X509 **out, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *cert = X509_new_ex(hb_provider_libctx(p), NULL);
    X509_NAME *name = NULL;
    BIGNUM *serial = BN_new();
    HB_ALLOC(cert);
    HB_ALLOC(serial);
    HB_TRY(make_name(dn, &name, err));
    /* RFC 5280 §4.1.2.2: positive, at most 20 octets. */
    if (!BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) ||
        !X509_set_version(cert, X509_VERSION_3) || !X509_set_subject_name(cert, name) ||
        !X509_set_issuer_name(cert, name) ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) ||
        !X509_set_pubkey(cert, pub))
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot build the self-signed certificate");
    HB_TRY(add_ext(cert, NID_basic_constraints, "critical,CA:FALSE", err));
    HB_TRY(add_ext(cert, NID_key_usage,
                   usage == HB_USAGE_SIGNER ? "critical,digitalSignature,nonRepudiation"
                                            : "critical,keyEncipherment,dataEncipherment",
                   err));
    HB_TRY(add_ext(cert, NID_subject_key_identifier, "hash", err));
    HB_TRY(sign_on_token(p, key, pub, cert, NULL, err));
    *out = cert;
    cert = NULL;
cleanup:
    BN_free(serial);
    X509_NAME_free(name);
    X509_free(cert);
    return st;
}

static hb_status make_csr(hb_provider *p, EVP_PKEY *key, EVP_PKEY *pub, const hb_dn *dn,
                          X509_REQ **out, hb_err *err)
{
    hb_status st = HB_OK;
    X509_REQ *req = X509_REQ_new_ex(hb_provider_libctx(p), NULL);
    X509_NAME *name = NULL;
    HB_ALLOC(req);
    HB_TRY(make_name(dn, &name, err));
    if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, pub))
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot build the certificate signing request");
    HB_TRY(sign_on_token(p, key, pub, NULL, req, err));
    *out = req;
    req = NULL;
cleanup:
    X509_NAME_free(name);
    X509_REQ_free(req);
    return st;
}

static unsigned key_bits(hb_key_type t)
{
    static const unsigned bits[] = {2048, 3072, 4096, 256, 384};
    return bits[t];
}

hb_oaep_hash hb_key_wrap_of(unsigned accepted)
{
    if (accepted & (1u << HB_OAEP_SHA256))
        return HB_OAEP_SHA256;
    if (accepted & (1u << HB_OAEP_SHA1))
        return HB_OAEP_SHA1;
    return HB_OAEP_UNPROBED;
}

/* Everything in the request that can be refused without a file or token;
 * the key label and file stem go to file_name (from --file-name or the CN). */
static hb_status check_request(const hb_keygen_request *req, unsigned days,
                               char file_name[HB_OBJECT_NAME_MAX + 1], hb_err *err)
{
    /* The appliance's --export-key: refused (and the refusal audited). */
    if (req->export_key)
        return hb_fail(err, HB_E_REFUSED,
                       "--export-key is refused: the private key is generated inside the token "
                       "and can never leave it (CKA_EXTRACTABLE=FALSE). To be able to restore "
                       "without this token, enroll more recipients (keys on other tokens) and "
                       "back up to all of them");
    if (req->dn.cn == NULL || *req->dn.cn == '\0')
        return hb_fail(err, HB_E_USAGE, "keygen needs --cn (the certificate's common name)");
    if (req->token_uri == NULL || strncmp(req->token_uri, "pkcs11:", 7) != 0)
        return hb_fail(err, HB_E_USAGE, "keygen needs --token pkcs11:token=LABEL (the token "
                       "that will hold the key)");
    if (req->usage == HB_USAGE_RECIPIENT && req->key_type >= HB_KEY_EC_P256)
        return hb_fail(err, HB_E_USAGE, "backup recipient keys must be RSA (backups wrap their "
                       "keys with RSA-OAEP); use --key-type rsa:2048 or larger, or --usage "
                       "signer");
    if (days > 36500)
        return hb_fail(err, HB_E_USAGE, "--days %u is more than 100 years", days);
    if (req->file_name != NULL) {
        hb_status st = hb_format(file_name, HB_OBJECT_NAME_MAX + 1, "--file-name", err, "%s",
                                 req->file_name);
        if (st != HB_OK)
            return st;
    } else {
        hb_name_from_text(req->dn.cn, 'k', file_name, HB_OBJECT_NAME_MAX + 1);
    }
    for (const char *c = file_name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
            return hb_fail(err, HB_E_USAGE, "--file-name '%s' may only use letters, digits, "
                           "'-', '_' and '.'", file_name);
    return HB_OK;
}

/* The names of every file and object keygen will make, each checked free:
 * a refusal must leave neither a stray key nor a half set of files. *store
 * is loaded when objects are to be defined. */
static hb_status plan_outputs(const hb_keygen_request *req, const char *file_name,
                              bool want_csr, hb_keygen_result *res, hb_object_store **store,
                              hb_err *err)
{
    hb_status st = HB_OK;
    if (req->gen_sscert) {
        HB_TRY(hb_format(res->sscert_url, sizeof res->sscert_url, "--file-name", err,
                         "cert:///%s-sscert.pem", file_name));
        HB_TRY(hb_pem_check_free(req->root, res->sscert_url, err));
        if (req->export_sscert) {
            HB_TRY(hb_format(res->sscert_export_url, sizeof res->sscert_export_url,
                             "--file-name", err, "temporary:///%s-sscert.pem", file_name));
            HB_TRY(hb_pem_check_free(req->root, res->sscert_export_url, err));
        }
    }
    if (want_csr) {
        HB_TRY(hb_format(res->csr_url, sizeof res->csr_url, "--file-name", err,
                         "temporary:///%s.csr", file_name));
        HB_TRY(hb_pem_check_free(req->root, res->csr_url, err));
    }
    if (req->gen_object) {
        const char *oname = req->object_name ? req->object_name : file_name;
        HB_TRY(hb_format(res->object_name, sizeof res->object_name, "--object-name", err, "%s",
                         oname));
        HB_TRY(hb_objects_load(req->root, store, err));
        HB_ENSURE(hb_objects_find(*store, HB_OBJECT_CERTIFICATE, oname) == NULL &&
                  hb_objects_find(*store, HB_OBJECT_KEY, oname) == NULL, HB_E_REFUSED,
                  "a crypto object named '%s' already exists; choose another --object-name",
                  oname);
    }
cleanup:
    return st;
}

/* The pre-seal signing path for a hook (hb_keygen_pre_seal): the new key
 * on the token, as for its certificate's fallback, checked with pub. */
typedef struct pre_seal_signer {
    hb_provider *p;
    EVP_PKEY *key, *pub;
} pre_seal_signer;

static hb_status pre_seal_sign(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                               size_t *siglen, hb_err *err)
{
    pre_seal_signer *s = ctx;
    hb_status st = hb_provider_sign_sha256(s->p, s->key, data, len, sig, siglen, err);
    if (st != HB_OK)
        return st;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL &&
              EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, "provider=default", s->pub,
                                      NULL) == 1 &&
              EVP_DigestVerify(md, *sig, *siglen, data, len) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok) {
        OPENSSL_free(*sig);
        *sig = NULL;
        return hb_fail(err, HB_E_TOKEN, "the new key's signature does not verify with its "
                       "public key (check the token and its PKCS#11 module)");
    }
    return HB_OK;
}

static hb_status probe_key_wrap(hb_provider *p, const char *priv_uri, X509 *cert,
                                hb_keygen_result *res, hb_err *err);

/* The self-signed certificate and/or CSR, signed on the token by the new
 * key; then, for a hook, the probe and the hook; an unsealed recipient key
 * loses its signing right right after (also when the hook failed). */
static hb_status sign_documents(hb_provider *p, const hb_keygen_request *req,
                                const char *priv_uri, const char *pub_uri, unsigned days,
                                bool want_csr, hb_key_usage gen_usage, hb_keygen_pre_seal_fn hook,
                                void *hook_ctx, X509 **cert, X509_REQ **csr,
                                hb_keygen_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    EVP_PKEY *key = NULL, *pub = NULL;
    bool unsealed = gen_usage == HB_USAGE_RECIPIENT_UNSEALED;
    HB_TRY(hb_provider_load_private_key(p, priv_uri, &key, err));
    HB_TRY(hb_provider_load_public_key(p, pub_uri, &pub, err));
    if (req->gen_sscert)
        HB_TRY(make_sscert(p, key, pub, &req->dn, days, req->usage, cert, err));
    if (want_csr)
        HB_TRY(make_csr(p, key, pub, &req->dn, csr, err));
    if (hook != NULL && unsealed) {
        pre_seal_signer ps = {.p = p, .key = key, .pub = pub};
        if (*cert != NULL)
            HB_TRY(probe_key_wrap(p, priv_uri, *cert, res, err));
        hb_keygen_pre_seal k = {.cert = *cert, .pub = pub, .key_uri = priv_uri,
                                .key_wrap = res->key_wrap, .sign = pre_seal_sign,
                                .sign_ctx = &ps};
        HB_TRY(hook(hook_ctx, &k, err));
    }
    if (unsealed)
        HB_TRY(hb_token_key_seal(p, priv_uri, err));
    unsealed = false;
cleanup:
    if (unsealed && st != HB_OK) {
        hb_err ignored; /* the first failure is the one reported */
        (void)!hb_token_key_seal(p, priv_uri, &ignored);
    }
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    return st;
}

/* The token's real OAEP support decides how backups wrap to it: SHA-256
 * where it works, SHA-1 on tokens such as SoftHSM 2.6.1. */
static hb_status probe_key_wrap(hb_provider *p, const char *priv_uri, X509 *cert,
                                hb_keygen_result *res, hb_err *err)
{
    unsigned accepted = 0;
    hb_oaep_hash *out = &res->key_wrap;
    hb_status st = hb_token_probe_oaep(p, priv_uri, cert, &accepted, err);
    if (st != HB_OK)
        return st;
    res->key_wraps_accepted = accepted;
    *out = hb_key_wrap_of(accepted);
    if (*out == HB_OAEP_UNPROBED)
        return hb_fail(err, HB_E_TOKEN, "the token cannot unwrap with the new key using "
                       "RSA-OAEP (neither SHA-256 nor SHA-1); it cannot hold a backup key");
    return HB_OK;
}

/* What the token lets the key do, read back and tried once the key is what
 * it will stay (sealed). A token that ignores CKA_ALLOWED_MECHANISMS is not
 * refused (openCryptoki 3.8 has no such attribute): one warning says so. */
static hb_status check_mechanisms(hb_provider *p, const char *priv_uri, const char *token_uri,
                                  hb_key_usage usage, hb_keygen_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    hb_key_mechanisms m;
    HB_TRY(hb_token_key_mechanisms(p, priv_uri, &m, err));
    _Static_assert(sizeof res->allowed_mechanisms == sizeof m.allowed, "mechanism list sizes");
    memcpy(res->allowed_mechanisms, m.allowed, sizeof res->allowed_mechanisms);
    HB_TRY(hb_format(res->mechanisms_limit, sizeof res->mechanisms_limit, "the limit", err,
                     "%s", hb_mech_limit_name(m.limit)));
    if (m.limit == HB_MECH_LIMITED)
        goto cleanup;
    const char *can = usage == HB_USAGE_SIGNER
                          ? "raw RSA signatures (CKM_RSA_X_509) with any hash"
                          : "raw RSA (CKM_RSA_X_509: valid signatures) and PKCS#1 v1.5 "
                            "decryption (a padding oracle)";
    HB_TRY(hb_format(res->mechanisms_warning, sizeof res->mechanisms_warning, "the warning", err,
                     "%s %s: with the PIN, the key can still do %s; only its usage flags "
                     "limit it", token_uri,
                     m.limit == HB_MECH_UNLIMITED
                         ? "ignores CKA_ALLOWED_MECHANISMS"
                         : "does not enforce the CKA_ALLOWED_MECHANISMS it was given",
                     can));
cleanup:
    return st;
}

/* The certificate onto the token and into cert: (and temporary:), the CSR
 * into temporary:, and the crypto objects naming them. */
static hb_status write_outputs(hb_provider *p, const hb_keygen_request *req,
                               const char *file_name, const char *priv_uri, X509 *cert,
                               X509_REQ *csr, hb_object_store *store, hb_keygen_result *res,
                               hb_err *err)
{
    hb_status st = HB_OK;
    bool created;
    if (cert != NULL) {
        HB_TRY(hb_x509_fingerprint(cert, res->fingerprint, err));
        HB_TRY(hb_token_import_certificate(p, req->token_uri, file_name, cert, err));
        HB_TRY(hb_pem_write(req->root, res->sscert_url, cert, NULL, err));
        if (req->export_sscert)
            HB_TRY(hb_pem_write(req->root, res->sscert_export_url, cert, NULL, err));
    }
    if (csr != NULL)
        HB_TRY(hb_pem_write(req->root, res->csr_url, NULL, csr, err));
    if (store != NULL) {
        if (cert != NULL)
            HB_TRY(hb_objects_set_certificate(store, res->object_name, res->sscert_url, false,
                                              false, res->key_wrap ? res->key_wrap
                                                                   : HB_OAEP_SHA256,
                                              &created, err));
        if (cert != NULL && res->key_wrap != HB_OAEP_UNPROBED)
            HB_TRY(hb_objects_set_key_wrap_probe(store, res->object_name, res->fingerprint,
                                                 res->key_wraps_accepted, err));
        HB_TRY(hb_objects_set_key(store, res->object_name, priv_uri, &created, err));
        HB_TRY(hb_objects_set_key_mechanisms(store, res->object_name, res->mechanisms_limit,
                                             res->allowed_mechanisms, err));
        HB_TRY(hb_objects_save(store, err));
    }
cleanup:
    return st;
}

hb_status hb_keygen(hb_provider *p, const hb_keygen_request *req, hb_keygen_result *res,
                    hb_err *err)
{
    return hb_keygen_hooked(p, req, NULL, NULL, res, err);
}

hb_status hb_keygen_hooked(hb_provider *p, const hb_keygen_request *req,
                           hb_keygen_pre_seal_fn hook, void *hook_ctx, hb_keygen_result *res,
                           hb_err *err)
{
    hb_status st = HB_OK;
    char file_name[HB_OBJECT_NAME_MAX + 1] = "";
    char *priv_uri = NULL, *pub_uri = NULL;
    X509 *cert = NULL;
    X509_REQ *csr = NULL;
    hb_object_store *store = NULL;
    bool want_csr = req->csr || !req->gen_sscert;
    bool must_sign = req->gen_sscert || want_csr;
    unsigned days = req->days ? req->days : 365;
    /* A recipient key that signs its own certificate or CSR is made
     * unsealed and sealed as soon as it has (see the top of this file). */
    hb_key_usage gen_usage = req->usage == HB_USAGE_RECIPIENT && must_sign
                                 ? HB_USAGE_RECIPIENT_UNSEALED
                                 : req->usage;

    memset(res, 0, sizeof *res);
    HB_TRY(check_request(req, days, file_name, err));
    HB_TRY(plan_outputs(req, file_name, want_csr, res, &store, err));
    HB_TRY(hb_token_keygen(p, req->token_uri, file_name, req->key_type, gen_usage, &priv_uri,
                           &pub_uri, err));
    res->bits = key_bits(req->key_type);
    HB_TRY(hb_format(res->key_uri, sizeof res->key_uri, "the key URI", err, "%s", priv_uri));
    if (must_sign)
        HB_TRY(sign_documents(p, req, priv_uri, pub_uri, days, want_csr, gen_usage, hook,
                              hook_ctx, &cert, &csr, res, err));
    HB_TRY(check_mechanisms(p, priv_uri, req->token_uri, req->usage, res, err));
    if (cert != NULL && req->usage == HB_USAGE_RECIPIENT && res->key_wrap == HB_OAEP_UNPROBED)
        HB_TRY(probe_key_wrap(p, priv_uri, cert, res, err));
    HB_TRY(write_outputs(p, req, file_name, priv_uri, cert, csr, store, res, err));
cleanup:
    hb_audit_log("keygen", st, err, "token", req->token_uri,
                 "request", req->export_key ? "export-key" : NULL, "label", file_name,
                 "key", res->key_uri, "usage",
                 req->usage == HB_USAGE_SIGNER ? "signer" : "recipient",
                 "fingerprint", res->fingerprint,
                 "key_wrap", res->key_wrap ? hb_oaep_hash_name(res->key_wrap) : NULL,
                 "mechanisms", res->mechanisms_limit[0] ? res->mechanisms_limit : NULL,
                 (const char *)NULL);
    hb_objects_free(store);
    X509_free(cert);
    X509_REQ_free(csr);
    free(priv_uri);
    free(pub_uri);
    return st;
}
