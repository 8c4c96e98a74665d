/* Fault injection for the crash-safety tests (internal).
 *
 * hb_fault_point("name") kills the process with SIGKILL when the environment
 * variable HSMBAK_FAULT equals "name". It can do nothing a user could not do
 * with kill -9, and lets tests stop a restore at exactly the moments that
 * matter (just before and just after the swap) rather than by chance. */
#ifndef HSMBAK_COMMON_FAULT_H
#define HSMBAK_COMMON_FAULT_H

#include <stdbool.h>

void hb_fault_point(const char *name);

/* True when HSMBAK_FAULT equals name: for a hook that corrupts instead of
 * killing (provider/sign.c's "bad-token-signature": a token that returns a
 * wrong signature, as openCryptoki through pkcs11-provider does). */
bool hb_fault_active(const char *name);

/* Test hook for the "bytes restored are the bytes signed" tests
 * (docs/custody.md): when HSMBAK_FAULT equals "name" and HSMBAK_FAULT_FILE
 * names a file with path's base name, that file is renamed over path, as a co-recipient with write
 * access to the backup could do at that moment. Nothing a user with write
 * access to the backup could not do. */
void hb_fault_swap(const char *name, const char *path);

#endif
