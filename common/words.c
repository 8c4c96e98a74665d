/* Words of the one-line state files (words.h). */
#include "common/words.h"

#include <string.h>

bool hb_word_next(const char **p, const char *end, const char **w, size_t *n)
{
    const char *s = *p;
    if (s >= end)
        return false;
    const char *e = memchr(s, ' ', (size_t)(end - s));
    if (e == NULL)
        e = end;
    *w = s;
    *n = (size_t)(e - s);
    *p = e < end ? e + 1 : e;
    return *n > 0;
}

bool hb_word_copy(const char **p, const char *end, char *out, size_t cap)
{
    const char *w;
    size_t n;
    if (!hb_word_next(p, end, &w, &n) || n >= cap)
        return false;
    memcpy(out, w, n);
    out[n] = '\0';
    return true;
}

bool hb_word_is(const char *w, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(w, lit, n) == 0;
}

bool hb_word_u64(const char *w, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && w[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return false;
        uint64_t d = (uint64_t)(w[i] - '0');
        if (d > max || v > (max - d) / 10)
            return false; /* past max, also before any overflow */
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
