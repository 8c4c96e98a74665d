/* A certificate object on the token next to its key (PKCS#11 v2.40 §4.6.3):
 * same CKA_LABEL and CKA_ID as the key pair, so pkcs11: URIs and tools that
 * pair keys with certificates by id find it. */
#include "provider/provider_internal.h"
#include "common/fail.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hb_status hb_token_import_certificate(hb_provider *p, const char *token_uri, const char *label,
                                      X509 *cert, hb_err *err)
{
    hb_status st = HB_OK;
    CK_FUNCTION_LIST *f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;
    char *stripped = NULL, *pin_source = NULL;
    unsigned char *der = NULL, *subj = NULL, *issuer = NULL, *serial = NULL;
    int der_len = 0, subj_len = 0, issuer_len = 0, serial_len = 0;
    char tlabel[33], what[200];
    CK_BYTE id[64];

    if (p == NULL || token_uri == NULL || label == NULL || cert == NULL)
        return hb_fail(err, HB_E_USAGE, "certificate import: missing argument");
    HB_TRY(hb_uri_strip_pin(token_uri, &stripped, &pin_source, err));
    HB_TRY(hb_module_get(p, &f, err));
    HB_TRY(hb_token_find(f, stripped, &slot, &ti, err));
    hb_p11_string(ti.label, sizeof ti.label, tlabel, sizeof tlabel);
    snprintf(what, sizeof what, "token '%s'", tlabel);
    HB_TRY(hb_session_open(p, f, slot, what, pin_source, true, true, &s, err));

    /* The key it belongs to gives the CKA_ID. */
    CK_OBJECT_CLASS kcls = CKO_PRIVATE_KEY;
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE find_key[] = {
        {CKA_CLASS, &kcls, sizeof kcls},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_TOKEN, &on_token, sizeof on_token},
    };
    char kwhat[300]; /* for messages only */
    snprintf(kwhat, sizeof kwhat, "private key '%s' on %s", label, what);
    CK_OBJECT_HANDLE key;
    HB_TRY(hb_object_find_one(f, s, find_key, 3, kwhat, &key, err));
    CK_ATTRIBUTE id_attr = {CKA_ID, id, sizeof id};
    CK_RV rv = f->C_GetAttributeValue(s, key, &id_attr, 1);
    if (rv != CKR_OK) {
        st = hb_fail(err, HB_E_TOKEN, "cannot read the id of %s: %s", kwhat, hb_ckr_name(rv));
        goto cleanup;
    }
    CK_OBJECT_CLASS ccls = CKO_CERTIFICATE;
    CK_ATTRIBUTE find_cert[] = {
        {CKA_CLASS, &ccls, sizeof ccls},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE old;
    CK_ULONG count = 0;
    rv = f->C_FindObjectsInit(s, find_cert, 2);
    if (rv == CKR_OK) {
        rv = f->C_FindObjects(s, &old, 1, &count);
        (void)f->C_FindObjectsFinal(s);
    }
    if (rv == CKR_OK && count > 0) {
        st = hb_fail(err, HB_E_REFUSED, "%s already holds a certificate labelled '%s'", what,
                     label);
        goto cleanup;
    }

    der_len = i2d_X509(cert, &der);
    subj_len = i2d_X509_NAME(X509_get_subject_name(cert), &subj);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial);
    if (der_len <= 0 || subj_len <= 0 || issuer_len <= 0 || serial_len <= 0) {
        st = hb_fail_ossl(err, HB_E_VERIFY, "cannot encode the certificate for '%s'", label);
        goto cleanup;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &ccls, sizeof ccls},
        {CKA_CERTIFICATE_TYPE, &ctype, sizeof ctype},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &no, sizeof no},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, id_attr.ulValueLen},
        {CKA_SUBJECT, subj, (CK_ULONG)subj_len},
        {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
        {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len},
        {CKA_VALUE, der, (CK_ULONG)der_len},
    };
    CK_OBJECT_HANDLE h;
    rv = f->C_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
    if (rv != CKR_OK) {
        st = hb_fail(err, HB_E_TOKEN, "%s refused the certificate '%s': %s (0x%lx)", what,
                     label, hb_ckr_name(rv), (unsigned long)rv);
        goto cleanup;
    }
cleanup:
    if (s != CK_INVALID_HANDLE)
        (void)f->C_CloseSession(s);
    OPENSSL_free(der);
    OPENSSL_free(subj);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    free(stripped);
    free(pin_source);
    return st;
}
