/* Paths made from parts: the directory a path is in, for the renames that
 * make backups and restores atomic (a partial backup or a staging tree is
 * made beside its final name, on the same filesystem, and that directory is
 * synced after), and an entry's path inside a tree being walked. */
#ifndef HSMBAK_SYSTEM_PATHNAME_H
#define HSMBAK_SYSTEM_PATHNAME_H

#include "hsmbak/status.h"

#include <stddef.h>

/* parent = everything before the last '/' of path ("/" for "/x", "." for a
 * path without '/'); *base (may be NULL) = what follows it, pointing into
 * path (empty when path ends in '/'). HB_E_USAGE when parent does not fit. */
hb_status hb_path_parent(const char *path, char *parent, size_t cap, const char **base,
                         hb_err *err) HB_MUST_CHECK;

/* rel/name, or name alone when rel is "" (paths inside a tree walked from
 * its top). HB_E_IO "path too long under 'rel'" when it does not fit. */
hb_status hb_path_child(char *out, size_t cap, const char *rel, const char *name,
                        hb_err *err) HB_MUST_CHECK;

#endif
