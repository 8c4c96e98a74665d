/* After a restore is swapped in (DESIGN §6): the profile's post-restore
 * command, and what the operator does next. */
#ifndef HSMBAK_SYSTEM_POST_RESTORE_H
#define HSMBAK_SYSTEM_POST_RESTORE_H

#include "backup/format/manifest.h"
#include "backup/system/system.h"

/* Run the profile's post-restore command in the root (*status: its exit
 * status, 128 + signal when killed, -1 when the profile has none or it
 * could not be started), then list the next steps: the profile's resets,
 * what the backup m did not hold, the profile's next steps, in that order.
 * The command gets a minimal environment: nothing of ours (a PIN source
 * variable, say) reaches it. */
hb_status hb_system_post_restore(const hb_system *sys, const hb_manifest *m, int *status,
                                 hb_strlist *next_steps, hb_err *err) HB_MUST_CHECK;

#endif
