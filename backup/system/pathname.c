/* Paths made from parts (backup/system/pathname.h). */
#include "backup/system/pathname.h"

#include "common/buf.h"
#include "common/fail.h"

#include <stdio.h>

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

hb_status hb_path_child(char *out, size_t cap, const char *rel, const char *name, hb_err *err)
{
    int n = rel[0] != '\0' ? snprintf(out, cap, "%s/%s", rel, name)
                           : snprintf(out, cap, "%s", name);
    if (n < 0 || (size_t)n >= cap)
        return hb_fail(err, HB_E_IO, "path too long under '%s'", rel[0] ? rel : ".");
    return HB_OK;
}
