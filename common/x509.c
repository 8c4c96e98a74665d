/* X.509 helpers (common/x509.h). */
#include "common/x509.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hb_status hb_x509_from_bytes(OSSL_LIB_CTX *libctx, const uint8_t *data, size_t len,
                             const char *what, X509 **out, hb_err *err)
{
    hb_status st = HB_OK;
    X509 *x = NULL;
    BIO *bio = NULL;
    HB_ENSURE(len <= HB_CERT_FILE_MAX, HB_E_REFUSED, "%s is larger than a certificate can be",
              what);
    x = X509_new_ex(libctx, NULL);
    bio = BIO_new_mem_buf(data, (int)len);
    if (x == NULL || bio == NULL)
        HB_FAIL_OSSL(HB_E_INTERNAL, "out of memory");
    if (PEM_read_bio_X509(bio, &x, NULL, NULL) == NULL) {
        const unsigned char *q = data;
        ERR_clear_error();
        if (d2i_X509(&x, &q, (long)len) == NULL || q != data + len)
            HB_FAIL_OSSL(HB_E_VERIFY, "%s is not a certificate (neither PEM nor DER X.509)",
                         what);
    }
    *out = x;
    x = NULL;
cleanup:
    X509_free(x);
    BIO_free(bio);
    return st;
}

hb_status hb_x509_read_file(OSSL_LIB_CTX *libctx, const char *path, X509 **out, hb_err *err)
{
    static const char by_role[] = "the certificate file";
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    char what[PATH_MAX + 3];
    st = hb_read_file(path, HB_CERT_FILE_MAX, &data, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "reading certificate '%s'", path);
        goto cleanup;
    }
    /* Messages name the file by its path, or by its role when the path is
     * too long to quote. */
    if (hb_format(what, sizeof what, "path", NULL, "'%s'", path) != HB_OK)
        memcpy(what, by_role, sizeof by_role);
    st = hb_x509_from_bytes(libctx, data, len, what, out, err);
cleanup:
    free(data);
    return st;
}

hb_status hb_x509_from_der(const uint8_t *der, size_t len, const char *what, X509 **out,
                           hb_err *err)
{
    hb_status st = HB_OK;
    const unsigned char *p = der;
    X509 *x = len <= HB_CERT_FILE_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (x == NULL || p != der + len)
        HB_FAIL_OSSL(HB_E_VERIFY, "%s is not one DER X.509 certificate", what);
    *out = x;
    x = NULL;
cleanup:
    X509_free(x);
    return st;
}

hb_status hb_x509_der(X509 *cert, uint8_t **der, size_t *len, hb_err *err)
{
    unsigned char *buf = NULL;
    int n = i2d_X509(cert, &buf);
    if (n <= 0)
        return hb_fail_ossl(err, HB_E_INTERNAL, "cannot encode a certificate");
    *der = buf;
    *len = (size_t)n;
    return HB_OK;
}

hb_status hb_x509_fingerprint(X509 *cert, char out[65], hb_err *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    hb_status st = hb_x509_der(cert, &der, &len, err);
    if (st == HB_OK)
        st = hb_sha256_hex(der, len, out, err);
    OPENSSL_free(der);
    return st;
}

hb_status hb_x509_subject_rfc2253(X509 *cert, char **out, hb_err *err)
{
    hb_status st = HB_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (bio == NULL)
        HB_FAIL_OSSL(HB_E_INTERNAL, "out of memory");
    /* RFC 2253 order and escaping, but UTF-8 kept as is (not \XX escaped). */
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
        HB_FAIL_OSSL(HB_E_VERIFY, "cannot print the certificate subject");
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    HB_ALLOC(s = hb_memdup(data, n > 0 ? (size_t)n : 0));
    *out = s;
    s = NULL;
cleanup:
    free(s);
    BIO_free(bio);
    return st;
}

/* An ASN1_TIME as "YYYY-MM-DD HH:MM:SS UTC" ("an unreadable date" if not). */
static void time_text(const ASN1_TIME *t, char out[32])
{
    static const char unreadable[] = "an unreadable date";
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        memcpy(out, unreadable, sizeof unreadable);
}

hb_status hb_x509_check_validity(X509 *cert, time_t now, const char *what, hb_err *err)
{
    const ASN1_TIME *from = X509_get0_notBefore(cert), *until = X509_get0_notAfter(cert);
    char when[32];
    /* X509_cmp_time: -1 earlier than or equal to now, 1 later, 0 unreadable
     * (not valid either way). */
    if (X509_cmp_time(until, &now) != 1) {
        time_text(until, when);
        return hb_fail(err, HB_E_REFUSED, "%s expired on %s", what, when);
    }
    if (X509_cmp_time(from, &now) != -1) {
        time_text(from, when);
        return hb_fail(err, HB_E_REFUSED, "%s is not valid until %s (check the clock)", what,
                       when);
    }
    return HB_OK;
}
