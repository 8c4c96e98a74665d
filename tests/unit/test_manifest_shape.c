/* The manifest's shape caps (backup/format/manifest_read.c, issue 11 class
 * 4) admit the biggest manifest they were derived from: 1000 files (a
 * profile's most resources), 16 recipients and quorum groups, 1000 excluded
 * items. Written, signed and read back through hb_manifest_read. */
#include "hbtest.h"
#include "sigtest.h"

#include "backup/format/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FILES = 1000, RECIPIENTS = 2, QUORUMS = 14, EXCLUDED = 1000 };

static const char ID[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
static const char SUM[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_biggest_real_manifest(void)
{
    hb_err err = {0};
    hb_manifest *m = NULL, *back = NULL;
    X509 *signer = NULL;
    uint8_t *xml = NULL;
    size_t len = 0;
    const char *rid[RECIPIENTS], *qid[QUORUMS];
    static const uint8_t rsa_key[256] = {1}, quorum_key[40] = {2}, share[256] = {3},
                         commitment[32] = {4};
    sigtest_key sg = sigtest_make("p256", "Signer");
    sigtest_key r1 = sigtest_make("rsa2048", "Recipient One");
    sigtest_key r2 = sigtest_make("rsa2048", "Recipient Two");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2.cert);
    X509 *certs[RECIPIENTS] = {r1.cert, r2.cert};

    HBTEST_ASSERT_OK(hb_manifest_new(&m, &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_set_backup(m, ID, "2026-12-02T14:00:00Z", "hsmbak 0.1.0", &err),
                     &err);
    HBTEST_ASSERT_OK(hb_manifest_set_system(m, "9.3.5.0", "appliance", "b", "t", "s", &err),
                     &err);
    for (int i = 0; i < RECIPIENTS; i++)
        HBTEST_ASSERT_OK(hb_manifest_add_recipient(m, certs[i], "rsa-oaep-sha1", &rid[i], &err),
                         &err);
    for (int q = 0; q < QUORUMS; q++) {
        char name[16];
        snprintf(name, sizeof name, "vault%d", q);
        HBTEST_ASSERT_OK(hb_manifest_add_quorum(m, name, 2, &qid[q], &err), &err);
        for (unsigned x = 1; x <= RECIPIENTS; x++)
            HBTEST_ASSERT_OK(hb_manifest_add_quorum_member(m, qid[q], certs[x - 1],
                                                           "rsa-oaep-sha1", x, share,
                                                           sizeof share, commitment, &err),
                             &err);
    }
    for (int f = 0; f < FILES; f++) {
        char name[16], filename[32];
        snprintf(name, sizeof name, "res%04d", f);
        snprintf(filename, sizeof filename, "res%04d.tzst", f);
        HBTEST_ASSERT_OK(hb_manifest_add_file(m, name, filename, "zstd", 1234567, SUM, &err),
                         &err);
        for (int i = 0; i < RECIPIENTS; i++)
            HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, name, rid[i], rsa_key,
                                                         sizeof rsa_key, &err), &err);
        for (int q = 0; q < QUORUMS; q++)
            HBTEST_ASSERT_OK(hb_manifest_add_wrapped_key(m, name, qid[q], quorum_key,
                                                         sizeof quorum_key, &err), &err);
    }
    for (int e = 0; e < EXCLUDED; e++) {
        char name[16];
        snprintf(name, sizeof name, "ex%04d", e);
        HBTEST_ASSERT_OK(hb_manifest_add_excluded(m, name, "kept elsewhere", &err), &err);
    }
    HBTEST_ASSERT_OK(hb_manifest_write_signed(m, sg.cert, sigtest_sign, sg.key, &xml, &len,
                                              &err), &err);
    HBTEST_ASSERT_OK(hb_manifest_read(xml, len, NULL, &back, &signer, &err), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(back->n_files, FILES);
    CU_ASSERT_EQUAL(back->n_recipients, RECIPIENTS);
    CU_ASSERT_EQUAL(back->n_quorums, QUORUMS);
    CU_ASSERT_EQUAL(back->n_excluded, EXCLUDED);
    CU_ASSERT_EQUAL(back->files[FILES - 1].n_keys, RECIPIENTS + QUORUMS);
    printf("(%zu bytes) ", len);
    hb_manifest_free(back);
    hb_manifest_free(m);
    X509_free(signer);
    free(xml);
    sigtest_free(&sg);
    sigtest_free(&r1);
    sigtest_free(&r2);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"1000 files x 16 recipients and quorums, 1000 excluded: read", test_biggest_real_manifest},
        {NULL, NULL},
    };
    return hbtest_main("manifest_shape", cases);
}
