/* backup/custody/pemfile.c: certificates and CSRs handed out as PEM files
 * under the system root, written once (O_EXCL, 0600, no symlinks). */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/custody/custody_internal.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char *root;

static void test_write_once(void)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make("rsa2048", "pem test");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k.cert);
    HBTEST_ASSERT_OK(hb_pem_check_free(root, "cert:///a/b-sscert.pem", &err), &err);
    /* Its folder is made on the way. */
    HBTEST_ASSERT_OK(hb_pem_write(root, "cert:///a/b-sscert.pem", k.cert, NULL, &err), &err);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/cert/a/b-sscert.pem", root);
    struct stat sb;
    CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    X509 *back = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(X509_cmp(back, k.cert), 0);
    X509_free(back);

    /* Taken now: checked before the token is touched, and never replaced. */
    HBTEST_ASSERT_FAIL(hb_pem_check_free(root, "cert:///a/b-sscert.pem", &err), HB_E_REFUSED, &err,
                       "'cert:///a/b-sscert.pem' already exists");
    HBTEST_ASSERT_FAIL(hb_pem_write(root, "cert:///a/b-sscert.pem", k.cert, NULL, &err), HB_E_IO,
                       &err, "cannot create 'cert:///a/b-sscert.pem'");
    sigtest_free(&k);
}

static void test_csr_and_refusals(void)
{
    hb_err err = {0};
    sigtest_key k = sigtest_make("p256", "csr test");
    X509_REQ *req = X509_REQ_new();
    CU_ASSERT_FATAL(req != NULL && X509_REQ_set_pubkey(req, k.key) == 1 &&
                    X509_REQ_sign(req, k.key, EVP_sha256()) > 0);
    HBTEST_ASSERT_OK(hb_pem_write(root, "temporary:///c.csr", NULL, req, &err), &err);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/temporary/c.csr", root);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    X509_REQ *back = PEM_read_X509_REQ(f, NULL, NULL, NULL);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(back);
    X509_REQ_free(back);
    /* A symlink where the file would go is not followed. */
    char target[PATH_MAX + 64], link[PATH_MAX + 64];
    snprintf(target, sizeof target, "%s/elsewhere.pem", root);
    snprintf(link, sizeof link, "%s/temporary/l.csr", root);
    CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
    HBTEST_ASSERT_STATUS(hb_pem_check_free(root, "temporary:///l.csr", &err), HB_E_REFUSED,
                         &err);
    HBTEST_ASSERT_FAIL(hb_pem_write(root, "temporary:///l.csr", NULL, req, &err), HB_E_REFUSED,
                       &err, "temporary/l.csr' is a symbolic link");
    CU_ASSERT_NOT_EQUAL(access(target, F_OK), 0);
    /* Nor a link on the way (a restored cert/ may hold one): issue 11 class 1. */
    char outside[PATH_MAX + 64], via[PATH_MAX + 64], through[PATH_MAX + 64];
    snprintf(outside, sizeof outside, "%s/outside", root);
    snprintf(via, sizeof via, "%s/cert/via", root);
    snprintf(through, sizeof through, "%s/outside/x.pem", root);
    CU_ASSERT_EQUAL_FATAL(mkdir(outside, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(symlink(outside, via), 0);
    HBTEST_ASSERT_FAIL(hb_pem_write(root, "cert:///via/x.pem", NULL, req, &err), HB_E_REFUSED,
                       &err, "cert/via' is a symbolic link");
    CU_ASSERT_NOT_EQUAL(access(through, F_OK), 0);
    /* Never out of the folder. */
    HBTEST_ASSERT_STATUS(hb_pem_write(root, "cert:///../x.pem", NULL, req, &err), HB_E_USAGE,
                         &err);
    HBTEST_ASSERT_STATUS(hb_pem_check_free(root, "cert:///../x.pem", &err), HB_E_USAGE, &err);
    X509_REQ_free(req);
    sigtest_free(&k);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"a certificate is written once, 0600, its folder made", test_write_once},
        {"a CSR; symlinks and '..' refused", test_csr_and_refusals},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"pemfile", cases, .scratch = &root});
}
