/* The PIN is wiped before its memory is released (issue 6, STYLE.md "Wipe
 * by default"). Every block released while a key is loaded (PIN read from
 * the file source, login through pkcs11-provider), used to sign, and the
 * provider closed is scanned for the PIN's bytes (hbtest_wipe.h). That
 * covers hsmbak's buffers and those of OpenSSL's UI, pkcs11-provider and
 * SoftHSM that go back through free(). A control proves the scan sees an
 * unwiped copy. */
#include "token_helpers.h"

#include "hbtest_wipe.h"

static char pin[256];
static hbwipe_secret the_pin = {pin, 0};

HBWIPE_INTERPOSE_FREE()

static void read_pin(void)
{
    FILE *f = fopen(hbtest_env("HSMBAK_TEST_PIN_FILE"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(pin, sizeof pin, f));
    fclose(f);
    the_pin.len = strcspn(pin, "\r\n");
    CU_ASSERT_FATAL(the_pin.len >= 4);
}

static void test_control(void)
{
    read_pin();
    void *(*volatile alloc)(size_t) = malloc;
    void (*volatile release)(void *) = free;
    unsigned scanned, hits;
    hbwipe_arm(&the_pin, 1);
    char *copy = alloc(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy + 3, pin, the_pin.len);
    release(copy);
    hbwipe_disarm(&scanned, &hits);
    if (HBWIPE_CHECKS)
        CU_ASSERT_EQUAL(hits, 1);
}

static void test_login_sign_close_release_no_pin(void)
{
    hb_err err = {0};
    read_pin();
    /* A signing key to log in for, made before the check is armed. */
    hb_provider *p = th_open(NULL);
    char *priv = NULL, *pub = NULL;
    HBTEST_ASSERT_OK(hb_token_keygen(p, th_token_uri(0), "wipe-signer", HB_KEY_EC_P256,
                                     HB_USAGE_SIGNER, &priv, &pub, &err), &err);
    hb_provider_free(p);

    hbwipe_arm(&the_pin, 1);
    p = th_open(NULL);
    EVP_PKEY *key = NULL;
    HBTEST_ASSERT_OK(hb_provider_load_private_key(p, priv, &key, &err), &err);
    static const uint8_t msg[] = "manifest";
    uint8_t *sig = NULL;
    size_t siglen = 0;
    HBTEST_ASSERT_OK(hb_provider_sign_sha256(p, key, msg, sizeof msg, &sig, &siglen, &err),
                     &err);
    OPENSSL_free(sig);
    EVP_PKEY_free(key);
    hb_provider_free(p);
    hbwipe_disarm_and_check("the PIN");
    free(priv);
    free(pub);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"control: an unwiped PIN copy is seen", test_control},
        {"login, sign and close release no PIN", test_login_sign_close_release_no_pin},
        {NULL, NULL},
    };
    return hbtest_main("pin_wipe", cases);
}
