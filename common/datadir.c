/* Data directory lookup (see datadir.h). */
#include "common/datadir.h"

#include "common/fileio.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef HSMBAK_DATADIR
#define HSMBAK_DATADIR "/usr/local/share/hsmbak"
#endif

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

hb_status hb_data_path(const char *rel, char *out, size_t cap, hb_err *err)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strstr(rel, "..") != NULL)
        return hb_fail(err, HB_E_USAGE, "data file name '%s' must be relative and "
                       "without '..'", rel != NULL ? rel : "(null)");
    const char *base = getenv("HSMBAK_DATADIR");
    if (base == NULL || base[0] == '\0') {
#ifdef HSMBAK_SOURCE_DATADIR
        base = is_dir(HSMBAK_SOURCE_DATADIR) ? HSMBAK_SOURCE_DATADIR : HSMBAK_DATADIR;
#else
        base = HSMBAK_DATADIR;
#endif
    }
    return hb_path_join(out, cap, base, rel, err);
}
