/* The directory a path is in (backup/system/pathname.h). */
#include "backup/system/pathname.h"

#include "common/buf.h"

#include <string.h>

hb_status hb_path_parent(const char *path, char *parent, size_t cap, const char **base,
                         hb_err *err)
{
    const char *last = strrchr(path, '/');
    if (base != NULL)
        *base = last != NULL ? last + 1 : path;
    if (last == NULL)
        return hb_format(parent, cap, "path", err, ".");
    if (last == path)
        return hb_format(parent, cap, "path", err, "/");
    return hb_format(parent, cap, "path", err, "%.*s", (int)(last - path), path);
}
