/* hsmbak's own random context (common/random.h). */
#include "common/random.h"

#include "common/fail.h"

#include <limits.h>
#include <openssl/provider.h>
#include <stdbool.h>
#include <openssl/rand.h>
#include <pthread.h>

static OSSL_LIB_CTX *rand_ctx;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

/* Kept for the process: released at exit with OpenSSL's own state. */
static void make_context(void)
{
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_new();
    if (c != NULL && OSSL_PROVIDER_load(c, "default") == NULL) {
        OSSL_LIB_CTX_free(c);
        c = NULL;
    }
    rand_ctx = c;
}

static hb_status draw(void *buf, size_t len, bool secret, const char *what, hb_err *err)
{
    hb_status st = HB_OK;
    (void)pthread_once(&rand_once, make_context);
    HB_ENSURE(rand_ctx != NULL, HB_E_INTERNAL, "cannot make hsmbak's random context for %s",
              what);
    HB_ENSURE(len <= INT_MAX, HB_E_INTERNAL, "too many random bytes asked for %s", what);
    int ok = secret ? RAND_priv_bytes_ex(rand_ctx, buf, len, 0)
                    : RAND_bytes_ex(rand_ctx, buf, len, 0);
    if (ok != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "no random bytes for %s", what);
cleanup:
    return st;
}

hb_status hb_random_public(void *buf, size_t len, const char *what, hb_err *err)
{
    return draw(buf, len, false, what, err);
}

hb_status hb_random_secret(void *buf, size_t len, const char *what, hb_err *err)
{
    return draw(buf, len, true, what, err);
}
