/* Whether a backup may be restored onto this system (DESIGN §6): made on
 * exactly the same version, of the same profile, and, for a profile that
 * asks for it, onto a system in factory state (hb_system_check_factory_state,
 * include/hsmbak/system.h). Restore checks them before any key is touched. */
#ifndef HSMBAK_SYSTEM_PRECONDITIONS_H
#define HSMBAK_SYSTEM_PRECONDITIONS_H

#include "backup/format/manifest.h"
#include "backup/system/system.h"

/* HB_E_REFUSED unless m was made on sys's V.R.M.F. */
hb_status hb_system_check_version(const hb_system *sys, const hb_manifest *m,
                                  hb_err *err) HB_MUST_CHECK;

/* HB_E_REFUSED unless m is a backup of a system of sys's profile. */
hb_status hb_system_check_profile(const hb_system *sys, const hb_manifest *m,
                                  hb_err *err) HB_MUST_CHECK;

#endif
