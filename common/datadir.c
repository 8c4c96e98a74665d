/* Data directory lookup (see datadir.h). */
#include "common/datadir.h"

#include "common/fileio.h"
#include "common/fail.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HSMBAK_DATADIR
#define HSMBAK_DATADIR "/usr/local/share/hsmbak"
#endif

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* DIR/../share/hsmbak beside the running program (an installed
 * /usr/bin/hsmbak finds /usr/share/hsmbak whatever prefix it was configured
 * with, and never a source tree that happens to be on the machine). */
static bool beside_program(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    int m = snprintf(out, cap, "%s/../share/hsmbak", exe);
    return m > 0 && (size_t)m < cap && is_dir(out);
}

hb_status hb_data_path(const char *rel, char *out, size_t cap, hb_err *err)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strstr(rel, "..") != NULL)
        return hb_fail(err, HB_E_USAGE, "data file name '%s' must be relative and "
                       "without '..'", rel != NULL ? rel : "(null)");
    const char *base = getenv("HSMBAK_DATADIR");
    char installed[PATH_MAX];
    if ((base == NULL || base[0] == '\0') && beside_program(installed, sizeof installed))
        base = installed;
    if (base == NULL || base[0] == '\0') {
#ifdef HSMBAK_SOURCE_DATADIR
        base = is_dir(HSMBAK_SOURCE_DATADIR) ? HSMBAK_SOURCE_DATADIR : HSMBAK_DATADIR;
#else
        base = HSMBAK_DATADIR;
#endif
    }
    return hb_path_join(out, cap, base, rel, err);
}
