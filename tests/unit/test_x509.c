/* common/x509.c: the one certificate reader, fingerprint, DER and subject. */
#include "hbtest.h"

#include "common/encode.h"
#include "common/x509.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static X509 *cert;           /* CN "Backup, Second équipe", O "Example" */
static uint8_t *der;
static size_t der_len;
static char *pem;
static size_t pem_len;

static void setup(void)
{
    if (cert != NULL)
        return;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400L);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Example", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"Backup, Second \xc3\xa9quipe", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_set_pubkey(cert, key);
    CU_ASSERT_FATAL(X509_sign(cert, key, EVP_sha256()) > 0);
    EVP_PKEY_free(key);
    unsigned char *d = NULL;
    int n = i2d_X509(cert, &d);
    CU_ASSERT_FATAL(n > 0);
    der = malloc((size_t)n + 16);
    memcpy(der, d, (size_t)n);
    der_len = (size_t)n;
    OPENSSL_free(d);
    BIO *bio = BIO_new(BIO_s_mem());
    CU_ASSERT_FATAL(PEM_write_bio_X509(bio, cert) == 1);
    char *p = NULL;
    long len = BIO_get_mem_data(bio, &p);
    pem = malloc((size_t)len + 1);
    memcpy(pem, p, (size_t)len);
    pem[len] = '\0';
    pem_len = (size_t)len;
    BIO_free(bio);
}

static bool same_cert(X509 *x)
{
    return x != NULL && X509_cmp(x, cert) == 0;
}

static void test_pem_and_der(void)
{
    hb_err err = {0};
    X509 *x = NULL;
    setup();
    HBTEST_ASSERT_OK(hb_x509_from_bytes(NULL, (const uint8_t *)pem, pem_len, "the PEM", &x,
                                        &err), &err);
    CU_ASSERT(same_cert(x));
    X509_free(x);
    x = NULL;
    HBTEST_ASSERT_OK(hb_x509_from_bytes(NULL, der, der_len, "the DER", &x, &err), &err);
    CU_ASSERT(same_cert(x));
    X509_free(x);
    x = NULL;
    HBTEST_ASSERT_OK(hb_x509_from_der(der, der_len, "the DER", &x, &err), &err);
    CU_ASSERT(same_cert(x));
    X509_free(x);
}

static void test_trailing_bytes_refused(void)
{
    hb_err err = {0};
    X509 *x = NULL;
    setup();
    der[der_len] = 0x00;
    /* A DER certificate must end exactly where the input does. */
    HBTEST_ASSERT_FAIL(hb_x509_from_bytes(NULL, der, der_len + 1, "the file", &x, &err),
                       HB_E_VERIFY, &err,
                       "the file is not a certificate (neither PEM nor DER X.509)");
    CU_ASSERT_PTR_NULL(x);
    HBTEST_ASSERT_FAIL(hb_x509_from_der(der, der_len + 1, "the blob", &x, &err), HB_E_VERIFY, &err,
                       "the blob is not one DER X.509 certificate");
    CU_ASSERT_PTR_NULL(x);
    /* Nor a byte short. */
    HBTEST_ASSERT_STATUS(hb_x509_from_der(der, der_len - 1, "the blob", &x, &err), HB_E_VERIFY,
                         &err);
    CU_ASSERT_PTR_NULL(x);
}

static void test_garbage_refused(void)
{
    hb_err err = {0};
    X509 *x = NULL;
    static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n"
                               "-----END CERTIFICATE-----\n";
    setup();
    HBTEST_ASSERT_FAIL(hb_x509_from_bytes(NULL, (const uint8_t *)junk, sizeof junk - 1, "junk", &x,
                                          &err), HB_E_VERIFY, &err, "junk is not a certificate");
    HBTEST_ASSERT_STATUS(hb_x509_from_bytes(NULL, (const uint8_t *)"", 0, "nothing", &x, &err),
                         HB_E_VERIFY, &err);
    /* PEM is not DER: the strict reader refuses it. */
    HBTEST_ASSERT_STATUS(hb_x509_from_der((const uint8_t *)pem, pem_len, "text", &x, &err),
                         HB_E_VERIFY, &err);
    CU_ASSERT_PTR_NULL(x);
    /* More than a certificate file can hold is refused before parsing. */
    HBTEST_ASSERT_FAIL(hb_x509_from_bytes(NULL, der, HB_CERT_FILE_MAX + 1, "big", &x, &err),
                       HB_E_REFUSED, &err, "big is larger than a certificate can be");
    HBTEST_ASSERT_STATUS(hb_x509_from_der(der, HB_CERT_FILE_MAX + 1, "big", &x, &err),
                         HB_E_VERIFY, &err);
    CU_ASSERT_PTR_NULL(x);
}

static void test_fingerprint_and_der(void)
{
    hb_err err = {0};
    char fp[65], want[65];
    uint8_t digest[32];
    setup();
    CU_ASSERT_FATAL(EVP_Digest(der, der_len, digest, NULL, EVP_sha256(), NULL) == 1);
    hb_hex_encode(digest, sizeof digest, want);
    HBTEST_ASSERT_OK(hb_x509_fingerprint(cert, fp, &err), &err);
    CU_ASSERT_STRING_EQUAL(fp, want);
    CU_ASSERT(hb_hex_lower_ok(fp, 64));
    uint8_t *d = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_x509_der(cert, &d, &len, &err), &err);
    CU_ASSERT_EQUAL(len, der_len);
    CU_ASSERT_EQUAL(memcmp(d, der, len), 0);
    OPENSSL_free(d);
}

static void test_subject(void)
{
    hb_err err = {0};
    char *s = NULL;
    setup();
    HBTEST_ASSERT_OK(hb_x509_subject_rfc2253(cert, &s, &err), &err);
    /* RFC 2253: last RDN first, ',' escaped, UTF-8 kept as it is. */
    CU_ASSERT_STRING_EQUAL(s, "CN=Backup\\, Second \xc3\xa9quipe,O=Example");
    free(s);
}

static char *write_temp(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = NULL;
    CU_ASSERT_FATAL(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void test_read_file(void)
{
    hb_err err = {0};
    X509 *x = NULL;
    setup();
    char *dir = hbtest_tempdir("hb-x509");
    char *p_pem = write_temp(dir, "c.pem", pem, pem_len);
    char *p_der = write_temp(dir, "c.der", der, der_len);
    char *p_junk = write_temp(dir, "junk.pem", "hello\n", 6);
    uint8_t *big = calloc(1, HB_CERT_FILE_MAX + 1);
    char *p_big = write_temp(dir, "big.der", big, HB_CERT_FILE_MAX + 1);
    free(big);

    HBTEST_ASSERT_OK(hb_x509_read_file(NULL, p_pem, &x, &err), &err);
    CU_ASSERT(same_cert(x));
    X509_free(x);
    x = NULL;
    HBTEST_ASSERT_OK(hb_x509_read_file(NULL, p_der, &x, &err), &err);
    CU_ASSERT(same_cert(x));
    X509_free(x);
    x = NULL;
    HBTEST_ASSERT_FAIL(hb_x509_read_file(NULL, p_junk, &x, &err), HB_E_VERIFY, &err,
                       "junk.pem' is not a certificate");
    HBTEST_ASSERT_FAIL(hb_x509_read_file(NULL, p_big, &x, &err), HB_E_REFUSED, &err,
                       "reading certificate '");
    char *missing = NULL;
    CU_ASSERT_FATAL(asprintf(&missing, "%s/absent.pem", dir) > 0);
    HBTEST_ASSERT_FAIL(hb_x509_read_file(NULL, missing, &x, &err), HB_E_NOT_FOUND, &err,
                       "reading certificate '");
    HBTEST_ASSERT_MSG(&err, "no such file or directory");
    CU_ASSERT_PTR_NULL(x);
    hbtest_rmtree(dir);
    free(missing);
    free(p_pem);
    free(p_der);
    free(p_junk);
    free(p_big);
    free(dir);
}

static void teardown(void)
{
    X509_free(cert);
    free(der);
    free(pem);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"PEM and DER read back the same certificate", test_pem_and_der},
        {"DER with trailing or missing bytes refused", test_trailing_bytes_refused},
        {"garbage, empty, PEM-as-DER and oversize refused", test_garbage_refused},
        {"fingerprint is SHA-256 of the DER", test_fingerprint_and_der},
        {"subject as RFC 2253 with UTF-8 kept", test_subject},
        {"hb_x509_read_file: PEM, DER, junk, too big, missing", test_read_file},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"x509", cases, .teardown = teardown});
}
