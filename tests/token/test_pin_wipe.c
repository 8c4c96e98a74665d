/* The PIN is wiped before its memory is released (issue 6, STYLE.md "Wipe
 * by default"). free() is interposed: every block released while a key is
 * loaded (PIN read from the file source, login through pkcs11-provider),
 * used to sign, and the provider closed is scanned for the PIN's bytes. That
 * covers hsmbak's buffers and those of OpenSSL's UI, pkcs11-provider and
 * SoftHSM that go back through free(). A control proves the scan sees an
 * unwiped copy.
 *
 * Sanitizer builds intercept free() themselves; there the checks are
 * skipped (the release tree runs them). */
#include "token_helpers.h"

#include <malloc.h>
#include <stdbool.h>

#if defined(__SANITIZE_ADDRESS__)
#define WIPE_CHECKS 0
#else
#define WIPE_CHECKS 1
#endif

static char pin[256];
static size_t pin_len;
static bool armed;
static unsigned hits, scanned;

#if WIPE_CHECKS
extern void __libc_free(void *p);

void free(void *p)
{
    if (p != NULL && armed) {
        armed = false;
        const unsigned char *b = p;
        size_t n = malloc_usable_size(p);
        scanned++;
        for (size_t i = 0; i + pin_len <= n; i++)
            if (b[i] == (unsigned char)pin[0] && memcmp(b + i, pin, pin_len) == 0) {
                hits++;
                break;
            }
        armed = true;
    }
    __libc_free(p);
}
#endif

static void read_pin(void)
{
    FILE *f = fopen(hbtest_env("HSMBAK_TEST_PIN_FILE"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(pin, sizeof pin, f));
    fclose(f);
    pin_len = strcspn(pin, "\r\n");
    CU_ASSERT_FATAL(pin_len >= 4);
}

static void test_control(void)
{
    read_pin();
    void *(*volatile alloc)(size_t) = malloc;
    void (*volatile release)(void *) = free;
    hits = scanned = 0;
    armed = true;
    char *copy = alloc(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy + 3, pin, pin_len);
    release(copy);
    armed = false;
    if (WIPE_CHECKS)
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

    hits = scanned = 0;
    armed = true;
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
    armed = false;
    if (WIPE_CHECKS) {
        CU_ASSERT(scanned > 0);
        if (hits != 0)
            fprintf(stderr, "  %u released block(s) still held the PIN\n", hits);
        CU_ASSERT_EQUAL(hits, 0);
    }
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
