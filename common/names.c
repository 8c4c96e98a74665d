/* Names (common/names.h). */
#include "common/names.h"
#include "common/fail.h"

#include <ctype.h>
#include <string.h>

static bool all_in(const char *s, const char *set)
{
    for (; *s != '\0'; s++)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

bool hb_name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && s[0] != '-' && strlen(s) <= HB_NAME_MAX &&
           all_in(s, "abcdefghijklmnopqrstuvwxyz0123456789-");
}

void hb_name_from_text(const char *cn, char fallback, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; cn[i] != '\0' && j + 1 < cap && j < 48; i++) {
        unsigned char c = (unsigned char)cn[i];
        if (isalnum(c))
            out[j++] = (char)tolower(c);
        else if (j > 0 && out[j - 1] != '-')
            out[j++] = '-';
    }
    while (j > 0 && out[j - 1] == '-')
        j--;
    if (j == 0)
        out[j++] = fallback;
    out[j] = '\0';
}
