/* A certificate object on the token next to its key (PKCS#11 v2.40 §4.6.3):
 * same CKA_LABEL and CKA_ID as the key pair, so pkcs11: URIs and tools that
 * pair keys with certificates by id find it. */
#include "provider/provider_internal.h"
#include "common/buf.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CKA_ID of the private key labelled `label` on the session's token. */
static hb_status key_id(const hb_token_session *ts, const char *label, CK_BYTE *id,
                        CK_ULONG *id_len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf kwhat = HB_BUF_INIT(4096); /* for messages only */
    CK_OBJECT_CLASS kcls = CKO_PRIVATE_KEY;
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE find_key[] = {
        {CKA_CLASS, &kcls, sizeof kcls},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_TOKEN, &on_token, sizeof on_token},
    };
    HB_TRY(hb_buf_addf(&kwhat, err, "private key '%s' on %s", label, ts->what));
    CK_OBJECT_HANDLE key;
    HB_TRY(hb_object_find_one(ts->f, ts->s, find_key, 3, hb_buf_str(&kwhat), &key, err));
    CK_ATTRIBUTE id_attr = {CKA_ID, id, *id_len};
    CK_RV rv = ts->f->C_GetAttributeValue(ts->s, key, &id_attr, 1);
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "cannot read the id of %s: %s", hb_buf_str(&kwhat),
              hb_ckr_name(rv));
    *id_len = id_attr.ulValueLen;
cleanup:
    hb_buf_free(&kwhat);
    return st;
}

hb_status hb_token_import_certificate(hb_provider *p, const char *token_uri, const char *label,
                                      X509 *cert, hb_err *err)
{
    hb_status st = HB_OK;
    hb_token_session ts = {.s = CK_INVALID_HANDLE};
    unsigned char *der = NULL, *subj = NULL, *issuer = NULL, *serial = NULL;
    int der_len = 0, subj_len = 0, issuer_len = 0, serial_len = 0;
    CK_BYTE id[64];
    CK_ULONG id_len = sizeof id;

    HB_ENSURE(p != NULL && token_uri != NULL && label != NULL && cert != NULL, HB_E_USAGE,
              "certificate import: missing argument");
    HB_TRY(hb_token_session_open(p, token_uri, true, true, &ts, err));
    /* The key it belongs to gives the CKA_ID. */
    HB_TRY(key_id(&ts, label, id, &id_len, err));
    CK_OBJECT_CLASS ccls = CKO_CERTIFICATE;
    CK_ATTRIBUTE find_cert[] = {
        {CKA_CLASS, &ccls, sizeof ccls},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    bool taken = false;
    HB_TRY(hb_object_exists(ts.f, ts.s, find_cert, 2, ts.what, &taken, err));
    HB_ENSURE(!taken, HB_E_REFUSED, "%s already holds a certificate labelled '%s'", ts.what,
              label);

    der_len = i2d_X509(cert, &der);
    subj_len = i2d_X509_NAME(X509_get_subject_name(cert), &subj);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial);
    if (der_len <= 0 || subj_len <= 0 || issuer_len <= 0 || serial_len <= 0)
        HB_FAIL_OSSL(HB_E_VERIFY, "cannot encode the certificate for '%s'", label);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &ccls, sizeof ccls},
        {CKA_CERTIFICATE_TYPE, &ctype, sizeof ctype},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &no, sizeof no},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, id_len},
        {CKA_SUBJECT, subj, (CK_ULONG)subj_len},
        {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
        {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len},
        {CKA_VALUE, der, (CK_ULONG)der_len},
    };
    CK_OBJECT_HANDLE h;
    CK_RV rv = ts.f->C_CreateObject(ts.s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
    HB_ENSURE(rv == CKR_OK, HB_E_TOKEN, "%s refused the certificate '%s': %s (0x%lx)", ts.what,
              label, hb_ckr_name(rv), (unsigned long)rv);
cleanup:
    hb_token_session_close(&ts);
    OPENSSL_free(der);
    OPENSSL_free(subj);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return st;
}
