/* A system root (DESIGN §5, §6): the directory tree hsmbak backs up and
 * restores, laid out by a profile.
 *
 *   ROOT/VERSION           V.R.M.F, one line
 *   ROOT/.hsmbak/profile   which profile lays the root out ("appliance",
 *                          "host" or the absolute path of a profile file)
 *   ROOT/.hsmbak/lock      held by every operation that reads or changes it
 *   ROOT/.hsmbak/sequence  the backup counter and the newest backup made or
 *                          restored here (docs/FORMAT.md §9)
 *   ROOT/<resources>       what backups carry, per the profile
 */
#ifndef HSMBAK_SYSTEM_H
#define HSMBAK_SYSTEM_H

#include "hsmbak/status.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_system hb_system;

/* What the opened root is: its absolute path, its V.R.M.F version and the
 * name of its profile ("appliance", "host", ...). */
HB_API const char *hb_system_root(const hb_system *sys);
HB_API const char *hb_system_version(const hb_system *sys);
HB_API const char *hb_system_profile_name(const hb_system *sys);

/* The version a system with a factory image gets when none is given (the
 * sample appliance's firmware level). */
#define HB_SYSTEM_DEFAULT_VERSION "9.3.5.0"

/* Lay a fresh system down: the profile's factory image, the version file,
 * .hsmbak/profile, and the folders hsmbak works in (config/, cert/,
 * temporary/) when the image has none. Refuses a root that exists and is not empty. version
 * NULL: HB_SYSTEM_DEFAULT_VERSION for a profile with a factory image; for
 * one without (a host) the operating system's VERSION_ID from
 * ROOT/etc/os-release, else /etc/os-release, as V.R.M.F ("12" is 12.0.0.0,
 * "22.04" is 22.04.0.0; docs/decisions.md). */
HB_API hb_status hb_system_init(const char *root, const char *profile, const char *version,
                                hb_err *err) HB_MUST_CHECK;

/* Make an existing directory a system root as it is (`system init
 * --adopt`): nothing in it changes but .hsmbak/, hsmbak's folders config/,
 * cert/ and temporary/ when missing, and, when the root has none, the
 * profile's version file (version, or the default above). Only
 * for profiles without a factory image (restores onto an adopted root do
 * not need a factory state); refuses a root that is one already, one that
 * holds none of the profile's resources, and a version that differs from
 * the version file the root already has. */
HB_API hb_status hb_system_adopt(const char *root, const char *profile, const char *version,
                                 hb_err *err) HB_MUST_CHECK;

/* Open a root made by hb_system_init and take its lock (waits up to
 * wait_seconds for another operation to finish, then refuses clearly). */
HB_API hb_status hb_system_open(const char *root, unsigned wait_seconds, hb_system **out,
                                hb_err *err) HB_MUST_CHECK;
HB_API void hb_system_close(hb_system *sys);

/* True when the root is a mount point of its own (a dedicated volume, a
 * tmpfs): it cannot be swapped with a tree beside it in one rename, so a
 * restore or factory reset stages inside it (ROOT/.hsmbak/staging-*) and
 * swaps entry by entry under a journal (docs/design.md). */
HB_API bool hb_system_swaps_in_place(const hb_system *sys);

/* True when opening the root finished such a swap that a crash had
 * interrupted (the root is now the new tree). */
HB_API bool hb_system_finished_swap(const hb_system *sys);

/* Nothing changed since factory reset, except what the seed's restore
 * procedure needs (the profile's factory-ignores: crypto objects, cert:,
 * temporary:). The message names the first difference. */
HB_API hb_status hb_system_check_factory_state(const hb_system *sys, hb_err *err) HB_MUST_CHECK;

/* Put the factory image back, atomically (the old tree is swapped out in one
 * rename; entry by entry under a journal when the root is a mount point,
 * hb_system_swaps_in_place). VERSION and .hsmbak stay. */
HB_API hb_status hb_system_factory_reset(hb_system *sys, hb_err *err) HB_MUST_CHECK;

/* Remove what an interrupted restore or reset left beside the root
 * (ROOT.hsmbak-staging-*), or inside it when the root is a mount point
 * (ROOT/.hsmbak/staging-*, after finishing a swap its journal says was
 * under way); *cleaned counts the staging trees removed. */
HB_API hb_status hb_system_clean_leftovers(const char *root, unsigned *cleaned,
                                           hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
