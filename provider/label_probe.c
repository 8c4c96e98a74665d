/* Whether a recipient key's token takes RSA-OAEP labels (docs/custody.md
 * "OAEP labels"), asked straight through PKCS#11 (CK_RSA_PKCS_OAEP_PARAMS,
 * CKZ_DATA_SPECIFIED), one session of its own per decryption, closed after
 * it: tpm2-pkcs11 1.9 leaves a refused labelled decryption active on its
 * session (CKR_OPERATION_ACTIVE on the next call), and a session that is
 * closed takes it along. pkcs11-provider's sessions, which every backup and
 * restore decrypts through, never see a refused probe. */
#include "provider/provider_internal.h"

#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>

/* In a new session: the private key object of private_uri (token objects
 * only; pkcs11-provider may add session objects). */
static hb_status key_session(hb_provider *p, const char *private_uri, hb_token_session *ts,
                             CK_OBJECT_HANDLE *key, hb_err *err)
{
    hb_status st = HB_OK;
    P11KitUri *u = NULL;
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG n = 0, nattr = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_BBOOL on_token = CK_TRUE;
    bool has_class = false;
    HB_TRY(hb_token_session_open(p, private_uri, false, true, ts, err));
    HB_TRY(hb_uri_parse(ts->uri, &u, err));
    CK_ATTRIBUTE *a = p11_kit_uri_get_attributes(u, &nattr);
    for (CK_ULONG i = 0; i < nattr && n < 6; i++) {
        tmpl[n++] = a[i];
        has_class = has_class || a[i].type == CKA_CLASS;
    }
    if (!has_class)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &on_token, sizeof on_token};
    HB_TRY(hb_object_find_one(ts->f, ts->s, tmpl, n, ts->uri, key, err));
cleanup:
    if (u != NULL)
        p11_kit_uri_free(u);
    if (st != HB_OK)
        hb_token_session_close(ts);
    return st;
}

/* One labelled RSA-OAEP decryption on the token; *ok when it returned
 * exactly want. A refusal is the answer (*ok false), not an error; a
 * session or key that cannot be had is. */
static hb_status decrypt_once(hb_provider *p, const char *private_uri, hb_oaep_hash h,
                              const uint8_t *label, size_t label_len, const uint8_t *in,
                              size_t inlen, const uint8_t *want, size_t want_len, bool *ok,
                              hb_err *err)
{
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE key;
    uint8_t out[1024]; /* a whole RSA block (8192 bits) */
    CK_ULONG out_len = sizeof out;
    CK_RSA_PKCS_OAEP_PARAMS prm = {
        .hashAlg = h == HB_OAEP_SHA1 ? CKM_SHA_1 : CKM_SHA256,
        .mgf = h == HB_OAEP_SHA1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256,
        .source = CKZ_DATA_SPECIFIED,
        .pSourceData = (void *)label,
        .ulSourceDataLen = label_len,
    };
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &prm, sizeof prm};
    *ok = false;
    hb_status st = key_session(p, private_uri, &ts, &key, err);
    if (st != HB_OK)
        return st;
    if (ts.f->C_DecryptInit(ts.s, &mech, key) == CKR_OK &&
        ts.f->C_Decrypt(ts.s, (CK_BYTE_PTR)in, inlen, out, &out_len) == CKR_OK)
        *ok = out_len == want_len && CRYPTO_memcmp(out, want, want_len) == 0;
    OPENSSL_cleanse(out, sizeof out);
    hb_token_session_close(&ts); /* ends an operation the token left active */
    return HB_OK;
}

/* Wrap 32 random bytes in software with label: *ok when the token returns
 * them under label and (wrong not NULL) refuses them under wrong. */
static hb_status round_trip(hb_provider *p, const char *private_uri, X509 *cert, hb_oaep_hash h,
                            const uint8_t *label, size_t label_len, const uint8_t *wrong,
                            size_t wrong_len, bool *ok, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t *wrapped = NULL, dek[32];
    size_t wrapped_len = 0;
    bool wrong_ok = false;
    *ok = false;
    if (RAND_bytes_ex(p->libctx, dek, sizeof dek, 0) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "no random bytes for the OAEP label probe");
    HB_TRY(hb_oaep_encrypt_labelled(p->libctx, X509_get0_pubkey(cert), h, label, label_len,
                                    dek, sizeof dek, &wrapped, &wrapped_len, err));
    HB_TRY(decrypt_once(p, private_uri, h, label, label_len, wrapped, wrapped_len, dek,
                        sizeof dek, ok, err));
    if (*ok && wrong != NULL) {
        HB_TRY(decrypt_once(p, private_uri, h, wrong, wrong_len, wrapped, wrapped_len, dek,
                            sizeof dek, &wrong_ok, err));
        *ok = !wrong_ok; /* a label that is not checked is no label */
    }
cleanup:
    OPENSSL_cleanse(dek, sizeof dek);
    free(wrapped);
    return st;
}

hb_status hb_token_probe_oaep_label(hb_provider *p, const char *private_uri, X509 *cert,
                                    hb_oaep_hash h, bool *takes, hb_err *err)
{
    /* First a plain text label (no NUL), which tpm2-pkcs11 1.9 refuses
     * cleanly ("value is out of range"). Only a token that takes it is
     * asked with a label shaped like hsmbak's (NUL-separated fields, binary
     * at the end): the TPM simulator (libtpms) goes into failure mode on
     * such a label and refuses every command after it, so a TPM must never
     * be sent one. */
    static const uint8_t plain[] = "hsmbak-v1 label probe";
    static const uint8_t label[] = "hsmbak-v1\0probe\0right\0\x01\x02";
    static const uint8_t wrong[] = "hsmbak-v1\0probe\0wrong\0\x01\x02";
    bool ok = false;
    if (p == NULL || private_uri == NULL || cert == NULL || takes == NULL)
        return hb_fail(err, HB_E_USAGE, "OAEP label probe: missing argument");
    hb_status st = round_trip(p, private_uri, cert, h, plain, sizeof plain - 1, NULL, 0, &ok,
                              err);
    if (st == HB_OK && ok)
        st = round_trip(p, private_uri, cert, h, label, sizeof label - 1, wrong,
                        sizeof wrong - 1, &ok, err);
    if (st == HB_OK)
        *takes = ok;
    return st;
}
