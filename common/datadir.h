/* Where hsmbak finds its data files (schemas, built-in profiles). */
#ifndef HSMBAK_COMMON_DATADIR_H
#define HSMBAK_COMMON_DATADIR_H

#include "hsmbak/status.h"

#include <stddef.h>

/* Resolve rel (a relative path such as "schema/manifest.xsd") against, in
 * order: $HSMBAK_DATADIR when set and non-empty; ../share/hsmbak beside the
 * running program when it exists (an installed binary); the source tree's data/
 * directory when it exists (tests run from a build tree); the installed
 * data directory. Only the directory is chosen here; a missing file is the
 * caller's error to report. rel must be relative and free of "..". */
hb_status hb_data_path(const char *rel, char *out, size_t cap, hb_err *err) HB_MUST_CHECK;

#endif
