/* An open system root inside the library (include/hsmbak/system.h for the
 * operations on it): the body every layer above reads. */
#ifndef HSMBAK_SYSTEM_SYSTEM_H
#define HSMBAK_SYSTEM_SYSTEM_H

#include "hsmbak/system.h"

#include "backup/system/profile.h"

struct hb_system {
    char *root;            /* absolute */
    char *version;         /* V.R.M.F from VERSION */
    char *profile_ref;     /* "appliance", "host" or a path */
    hb_profile *profile;
    int lock_fd;           /* -1 when not locked */
    bool in_place;         /* a mount point: swapped entry by entry (swap_inplace.h) */
    bool finished_swap;    /* opening it finished an interrupted one */
};

/* The operating system's version as V.R.M.F from the text of an
 * os-release(5) file: VERSION_ID's leading numbers, padded with ".0"
 * ("12" -> "12.0.0.0"). HB_E_NOT_FOUND without VERSION_ID, HB_E_REFUSED
 * when it holds no number. */
hb_status hb_system_version_from_os_release(const char *text, size_t len, char *out,
                                            size_t cap, hb_err *err) HB_MUST_CHECK;

#endif
