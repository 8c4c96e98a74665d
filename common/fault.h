/* Fault injection for the crash-safety tests (internal).
 *
 * hb_fault_point("name") kills the process with SIGKILL when the environment
 * variable HSMBAK_FAULT equals "name". It can do nothing a user could not do
 * with kill -9, and lets tests stop a restore at exactly the moments that
 * matter (just before and just after the swap) rather than by chance. */
#ifndef HSMBAK_COMMON_FAULT_H
#define HSMBAK_COMMON_FAULT_H

void hb_fault_point(const char *name);

#endif
