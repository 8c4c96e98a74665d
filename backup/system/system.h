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
};

#endif
