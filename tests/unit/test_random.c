/* common/random.c: hsmbak's keys, salts, nonce prefixes and ids come from its
 * own library context, whatever the system's openssl.cnf does to the
 * process default (issue 15 item 6). The suite runs under an OPENSSL_CONF
 * whose [random] section names a cipher that does not exist: the default
 * context then has no working DRBG (checked, so the test can fail), and
 * hsmbak's draws must still work and differ. */
#include "hbtest.h"

#include "common/ids.h"
#include "common/random.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char conf[] = "/tmp/hsmbak-random-conf-XXXXXX";

static void test_default_context_is_broken(void)
{
    unsigned char b[16];
    CU_ASSERT_NOT_EQUAL(RAND_bytes(b, sizeof b), 1);
    CU_ASSERT_NOT_EQUAL(RAND_priv_bytes(b, sizeof b), 1);
}

static void test_own_context_works(void)
{
    hb_err err = {0};
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    HBTEST_ASSERT_OK(hb_random_secret(a, sizeof a, "a test key", &err), &err);
    HBTEST_ASSERT_OK(hb_random_secret(b, sizeof b, "a test key", &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, zero, sizeof a), 0);
    HBTEST_ASSERT_OK(hb_random_public(a, sizeof a, "a test salt", &err), &err);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof a), 0);
    char id1[37], id2[37];
    HBTEST_ASSERT_OK(hb_uuid_v4(id1, &err), &err);
    HBTEST_ASSERT_OK(hb_uuid_v4(id2, &err), &err);
    CU_ASSERT_STRING_NOT_EQUAL(id1, id2);
    CU_ASSERT_EQUAL(id1[14], '4');
}

int main(void)
{
    /* Before any OpenSSL call: the process default reads this file. */
    int fd = mkstemp(conf);
    static const char text[] = "openssl_conf = init\n[init]\nrandom = rand\n"
                               "[rand]\nrandom = CTR-DRBG\ncipher = NO-SUCH-CIPHER\n";
    if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1) ||
        close(fd) != 0) {
        perror(conf);
        return 1;
    }
    setenv("OPENSSL_CONF", conf, 1);
    static const hbtest_case cases[] = {
        {"the process default has no DRBG under this openssl.cnf", test_default_context_is_broken},
        {"hsmbak's own context still draws keys, salts and ids", test_own_context_works},
        {NULL, NULL},
    };
    int rc = hbtest_run(&(hbtest_suite){"random", cases, .no_terminal = false});
    unlink(conf);
    return rc;
}
