/* The released-memory scanner (hbtest_wipe.h). */
#include "hbtest_wipe.h"

#include "hbtest.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const hbwipe_secret *secrets;
static size_t n_secrets;
static bool armed;
static unsigned hits, scanned;

static bool contains(const unsigned char *hay, size_t n, const hbwipe_secret *s)
{
    const unsigned char *needle = s->data;
    for (size_t i = 0; s->len > 0 && i + s->len <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, s->len) == 0)
            return true;
    return false;
}

void hbwipe_scan(void *p)
{
    if (p == NULL || !armed)
        return;
    armed = false; /* no recursion through stdio */
    size_t n = malloc_usable_size(p);
    scanned++;
    for (size_t i = 0; i < n_secrets; i++)
        if (contains(p, n, &secrets[i])) {
            hits++;
            break;
        }
    armed = true;
}

void hbwipe_arm(const hbwipe_secret *s, size_t n)
{
    secrets = s;
    n_secrets = n;
    hits = scanned = 0;
    armed = true;
}

void hbwipe_disarm(unsigned *scanned_out, unsigned *hits_out)
{
    armed = false;
    *scanned_out = scanned;
    *hits_out = hits;
}

void hbwipe_disarm_and_check(const char *what)
{
    unsigned s = 0, h = 0;
    hbwipe_disarm(&s, &h);
    if (HBWIPE_CHECKS) {
        CU_ASSERT(s > 0);
        if (h != 0)
            fprintf(stderr, "  %u released block(s) still held %s\n", h, what);
        CU_ASSERT_EQUAL(h, 0);
    }
}
