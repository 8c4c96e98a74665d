/* Keys and certificates made in software for the suites (hbtest_x509.c):
 * throw-away certificates, a software signer with the hb_sign_fn contract
 * (the real caller signs with a token key through the same callback), and
 * certificates issued by any key, token-held or not. */
#ifndef HSMBAK_HBTEST_X509_H
#define HSMBAK_HBTEST_X509_H

#include "hsmbak/status.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* A key pair and its self-signed certificate. */
typedef struct sigtest_key {
    EVP_PKEY *key;
    X509 *cert;
} sigtest_key;

/* A software key; kind: "rsa2048", "rsa1024", "p256", "p384", "p521".
 * NULL for an unknown kind. */
EVP_PKEY *sigtest_keygen(const char *kind);

/* Self-signed by key with subject CN=cn, valid from yesterday for a year. */
X509 *sigtest_cert(EVP_PKEY *key, const char *cn);

/* sigtest_keygen + sigtest_cert; both NULL on failure. */
sigtest_key sigtest_make(const char *kind, const char *cn);
void sigtest_free(sigtest_key *k);

/* The hb_sign_fn contract with a software key (ctx is the EVP_PKEY):
 * SHA-256, PKCS#1 v1.5 for RSA, DER for ECDSA, OPENSSL_malloc'ed. */
hb_status sigtest_sign(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                       size_t *siglen, hb_err *err);

/* A malloc'ed copy of s with the first occurrence of from replaced by to;
 * NULL when from is absent. */
char *sigtest_replace(const char *s, const char *from, const char *to);

/* Write a certificate as PEM (e.g. for xmlsec1 --trusted-pem); 0 on success. */
int sigtest_write_pem(const char *path, X509 *cert);

/* A certificate for pub, issued by signer_key (a token or software key) in
 * libctx, subject and issuer CN=cn, valid from now+from_days to
 * now+to_days. Fails the running CUnit test when it cannot. */
X509 *th_make_cert(OSSL_LIB_CTX *libctx, EVP_PKEY *pub, EVP_PKEY *signer_key, const char *cn,
                   long from_days, long to_days);

/* A software key in libctx's default provider: RSA of rsa_bits when curve is
 * NULL, else EC on curve ("P-256"). Fails the running CUnit test when it cannot. */
EVP_PKEY *th_soft_key(OSSL_LIB_CTX *libctx, size_t rsa_bits, const char *curve);

#endif
