/* The new root a restore builds (DESIGN §5, §7). Beside the root, on the
 * same filesystem (or inside it, ROOT/.hsmbak/staging-ID, when the root is
 * a mount point: swap_inplace.h), ROOT.hsmbak-staging-ID gets a directory for every
 * resource the backup provides; the archives are extracted into those; then
 * what a backup never holds is carried over from the current root, the
 * profile's resets are copied from the factory image, and the tree is
 * swapped in with one rename (swap.h). Until then the system is unchanged,
 * and freeing the staging removes it. */
#ifndef HSMBAK_SYSTEM_RESTORE_STAGING_H
#define HSMBAK_SYSTEM_RESTORE_STAGING_H

#include "backup/format/manifest.h"
#include "backup/system/system.h"

typedef struct hb_restore_staging hb_restore_staging;

/* The staging tree for backup m of sys (sys must outlive it). The backup
 * provides every resource it holds and the empty ones (as empty
 * directories); a skip-when-empty resource it does not hold (sharedcert with
 * only placeholders) stays as it is now. */
hb_status hb_restore_staging_open(const hb_system *sys, const hb_manifest *m,
                                  hb_restore_staging **out, hb_err *err) HB_MUST_CHECK;

/* The directory that archive `name` (a resource of the profile) goes into. */
hb_status hb_restore_staging_dir(const hb_restore_staging *s, const char *name, char *out,
                                 size_t cap, hb_err *err) HB_MUST_CHECK;

/* Carry over, reset, and swap the staging tree in as the root. */
hb_status hb_restore_staging_swap(hb_restore_staging *s, hb_err *err) HB_MUST_CHECK;

/* Removes the staging tree unless it was swapped in. NULL is fine. */
void hb_restore_staging_free(hb_restore_staging *s);

#endif
