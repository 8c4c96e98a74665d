/* Sizes for people (units.h). */
#include "units.h"

#include <stdio.h>

const char *cli_size(uint64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double d = (double)bytes;
    size_t u = 0;
    while (d >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        d /= 1024;
        u++;
    }
    int n = u == 0 ? snprintf(out, cap, "%llu B", (unsigned long long)bytes)
                   : snprintf(out, cap, "%.1f %s", d, units[u]);
    if (n < 0 || (size_t)n >= cap)
        out[0] = '\0';
    return out;
}
