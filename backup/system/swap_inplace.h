/* Replacing a root that is its own filesystem (internal; issue 11 class 6).
 *
 * swap.h exchanges the whole root with a staging tree beside it in one
 * rename. That cannot work when the root is a mount point (a dedicated LV, a
 * tmpfs): the root cannot be renamed and its parent is another filesystem.
 * Then the staging tree is made inside the root, in its state directory
 * (ROOT/.hsmbak/staging-TAG: never backed up, never listed, never carried
 * over), and the commit swaps each top-level entry with
 * renameat2(RENAME_EXCHANGE) (a plain rename where only one side has it),
 * under an intent journal written and synced before the first swap:
 *
 *   ROOT/.hsmbak/swap-journal
 *     hsmbak swap-journal 1
 *     staging staging-TAG
 *     x INO HEXNAME      both have NAME: exchanged; INO is the new entry's
 *     i INO HEXNAME      only the new tree has NAME: moved in
 *     o INO HEXNAME      only the old root has NAME (INO): moved out
 *     end
 *
 * Whether an entry is done is read from the tree, not the journal: the new
 * entry's inode is at ROOT/NAME (or the old one is gone from it). So
 * applying the journal again is harmless, and the next run after a crash
 * rolls every entry forward (hb_inplace_recover, called with the root's lock
 * held) before anything reads the root: the root is the old tree (no
 * journal yet) or the new one, never a mix. What stays in place at the top
 * of the root, in both trees: .hsmbak (the state, its lock and the journal)
 * and lost+found (the filesystem's own). The *at calls all start from
 * directory fds opened O_NOFOLLOW|O_DIRECTORY. */
#ifndef HSMBAK_BACKUP_SWAP_INPLACE_H
#define HSMBAK_BACKUP_SWAP_INPLACE_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>

#define HB_INPLACE_STAGING_PREFIX "staging-" /* in ROOT/.hsmbak */
#define HB_INPLACE_JOURNAL "swap-journal"   /* in ROOT/.hsmbak */

/* The top-level names that stay where they are (NULL-terminated). */
extern const char *const hb_inplace_pinned[];

/* *yes when root cannot be exchanged with a sibling: it is the root of a
 * mount (statx STATX_ATTR_MOUNT_ROOT, bind mounts included), on another
 * filesystem than its parent, or "/". */
hb_status hb_root_is_mount_point(const char *root, bool *yes, hb_err *err) HB_MUST_CHECK;

/* Make ROOT/.hsmbak/staging-TAG (0700; an earlier one of the same tag is
 * removed) and return its path. Refuses up front a root whose state
 * directory or top-level entries are mounts of their own. */
hb_status hb_inplace_staging_create(const char *root, const char *tag, char *out,
                                    size_t cap, hb_err *err) HB_MUST_CHECK;

/* True when staging is a path hb_inplace_staging_create makes for root. */
bool hb_inplace_staging_is(const char *root, const char *staging);

/* Sync the staging tree, journal, swap every top-level entry, sync, drop
 * the journal, remove the old entries (now in staging). A failure before
 * or during the swaps puts back the entries already swapped: the root is
 * unchanged. */
hb_status hb_inplace_commit(const char *root, const char *staging, hb_err *err) HB_MUST_CHECK;

/* Finish the commit an interrupted run left (a journal in ROOT/.hsmbak):
 * every entry rolled forward, the journal dropped, the old entries removed.
 * *finished tells whether there was one. The caller holds the root's lock. */
hb_status hb_inplace_recover(const char *root, bool *finished, hb_err *err) HB_MUST_CHECK;

/* Remove ROOT/.hsmbak/staging-* (after hb_inplace_recover); *cleaned counts them. */
hb_status hb_inplace_clean(const char *root, unsigned *cleaned, hb_err *err) HB_MUST_CHECK;

#endif
