/* PINs typed at the terminal, remembered once per token and process so that
 * one command asks once (a recipient keygen logs in for the key pair, then
 * pkcs11-provider wants the same PIN for the self-signed certificate and for
 * the probe). Only a PIN that a login has accepted is kept; a PIN from a
 * file or an environment variable is read again instead (it costs nothing
 * and an explicit source always wins).
 *
 * The entries live in one anonymous mapping that is locked in memory (never
 * swapped), left out of core dumps, wiped in a forked child, and wiped and
 * unmapped when the process exits or the library is unloaded. Where the
 * mapping cannot be locked (RLIMIT_MEMLOCK), nothing is remembered: the
 * PIN is asked again rather than held in memory that may reach swap. */
#include "provider/provider_internal.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#define PIN_CACHE_SLOTS 16

typedef struct pin_entry {
    char token[HB_PIN_TOKEN_KEY_MAX];
    char pin[HB_PIN_MAX];
    size_t len;
} pin_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pin_entry *cache;        /* PIN_CACHE_SLOTS entries, or NULL */
static size_t cache_size;       /* bytes mapped */
static bool cache_unavailable;  /* mapping or locking failed once: do not retry */

/* The four fields that tell one token from another (PKCS#11 v2.40 §5.5). */
void hb_pin_token_key(const CK_TOKEN_INFO *info, char key[HB_PIN_TOKEN_KEY_MAX])
{
    char label[33], manufacturer[33], model[17], serial[17];
    hb_p11_string(info->label, sizeof info->label, label, sizeof label);
    hb_p11_string(info->manufacturerID, sizeof info->manufacturerID, manufacturer,
                  sizeof manufacturer);
    hb_p11_string(info->model, sizeof info->model, model, sizeof model);
    hb_p11_string(info->serialNumber, sizeof info->serialNumber, serial, sizeof serial);
    /* 32 + 32 + 16 + 16 + 3 separators + NUL always fit. */
    int n = snprintf(key, HB_PIN_TOKEN_KEY_MAX, "%s\x1f%s\x1f%s\x1f%s", manufacturer, model,
                     serial, label);
    if (n < 0 || n >= HB_PIN_TOKEN_KEY_MAX)
        key[0] = '\0';
}

static bool cache_map(void)
{
    if (cache != NULL)
        return true;
    if (cache_unavailable)
        return false;
    size_t size = sizeof(pin_entry) * PIN_CACHE_SLOTS;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        cache_unavailable = true;
        return false;
    }
    if (mlock(m, size) != 0) {
        (void)munmap(m, size);
        cache_unavailable = true;
        return false;
    }
    /* Best effort: a kernel without these still has a locked mapping. */
    (void)madvise(m, size, MADV_DONTDUMP);
    (void)madvise(m, size, MADV_WIPEONFORK);
    cache = m;
    cache_size = size;
    return true;
}

static pin_entry *cache_find(const char *token)
{
    for (size_t i = 0; cache != NULL && i < PIN_CACHE_SLOTS; i++)
        if (cache[i].len > 0 && strcmp(cache[i].token, token) == 0)
            return &cache[i];
    return NULL;
}

bool hb_pin_cache_get(const char *token, char *pin, size_t *pinlen)
{
    bool found = false;
    if (token == NULL || token[0] == '\0')
        return false;
    pthread_mutex_lock(&cache_lock);
    pin_entry *e = cache_find(token);
    if (e != NULL) {
        memcpy(pin, e->pin, e->len + 1);
        *pinlen = e->len;
        found = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

void hb_pin_cache_put(const char *token, const char *pin, size_t pinlen)
{
    if (token == NULL || token[0] == '\0' || pinlen == 0 || pinlen >= HB_PIN_MAX ||
        strlen(token) >= HB_PIN_TOKEN_KEY_MAX)
        return;
    pthread_mutex_lock(&cache_lock);
    pin_entry *e = cache_map() ? cache_find(token) : NULL;
    for (size_t i = 0; e == NULL && cache != NULL && i < PIN_CACHE_SLOTS; i++)
        if (cache[i].len == 0)
            e = &cache[i];
    /* Sixteen tokens in one run is more than any command uses: a full cache
     * only means the next token is asked for again. */
    if (e != NULL) {
        OPENSSL_cleanse(e, sizeof *e);
        memcpy(e->token, token, strlen(token) + 1);
        memcpy(e->pin, pin, pinlen);
        e->pin[pinlen] = '\0';
        e->len = pinlen;
    }
    pthread_mutex_unlock(&cache_lock);
}

void hb_pin_cache_forget(const char *token)
{
    if (token == NULL)
        return;
    pthread_mutex_lock(&cache_lock);
    pin_entry *e = cache_find(token);
    if (e != NULL)
        OPENSSL_cleanse(e, sizeof *e);
    pthread_mutex_unlock(&cache_lock);
}

void hb_pin_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    if (cache != NULL) {
        OPENSSL_cleanse(cache, cache_size);
        (void)munlock(cache, cache_size);
        (void)munmap(cache, cache_size);
        cache = NULL;
        cache_size = 0;
    }
    pthread_mutex_unlock(&cache_lock);
}

/* At exit and at dlclose: no PIN outlives the run. */
__attribute__((destructor)) static void pin_cache_at_exit(void)
{
    hb_pin_cache_clear();
}
