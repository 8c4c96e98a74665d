/* Replacing a system root atomically (internal). A new tree is built in a
 * staging directory beside the root (same filesystem), synced, and swapped
 * in with one renameat2(RENAME_EXCHANGE): at every instant the root is either
 * the old tree or the new one. The old tree, now under the staging name, is
 * removed afterwards; if that is interrupted, hb_system_clean_leftovers
 * removes it on the next run.
 *
 * A root that is a mount point cannot be exchanged with a sibling: then
 * the staging tree is ROOT/.hsmbak/staging-TAG and the commit swaps entry by
 * entry under a journal (swap_inplace.h). hb_staging_create and
 * hb_staging_commit choose the way; the callers do not change. */
#ifndef HSMBAK_BACKUP_SWAP_H
#define HSMBAK_BACKUP_SWAP_H

#include "hsmbak/status.h"

#include <stddef.h>

#define HB_STAGING_INFIX ".hsmbak-staging-"

/* Make ROOT.hsmbak-staging-TAG (0700), or ROOT/.hsmbak/staging-TAG when
 * root is a mount point, and return its path. */
hb_status hb_staging_create(const char *root, const char *tag, char *out, size_t cap,
                            hb_err *err) HB_MUST_CHECK;

/* Carry into staging every entry of root that the new tree does not provide:
 * `provided` (NULL-terminated, relative paths) are left out, their ancestors
 * are recreated as directories, everything else is hard-linked (files) or
 * recreated (directories, links). */
hb_status hb_staging_carry_over(const char *root, const char *staging,
                                const char *const *provided, hb_err *err) HB_MUST_CHECK;

/* Carry exactly the listed relative paths of root into staging. */
hb_status hb_staging_carry_paths(const char *root, const char *staging,
                                 const char *const *paths, hb_err *err) HB_MUST_CHECK;

/* Sync staging, exchange it with root, sync the parent, remove the old tree. */
hb_status hb_staging_commit(const char *root, const char *staging, hb_err *err) HB_MUST_CHECK;

/* Remove a staging tree that was not swapped in (a failure path), unless a
 * half-done swap's journal still needs it (the next run finishes that). */
void hb_staging_discard(const char *root, const char *staging);

#endif
