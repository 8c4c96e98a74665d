/* Building a check report (include/hsmbak/checks.h) inside an operation.
 *
 * The operation plans its checks up front (all not-run, or skipped when its
 * mode leaves them out), marks each one ok as it passes, and when it fails,
 * fails the first check still pending with the error message: checks are
 * made in report order, so that is the check that was being made. */
#ifndef HSMBAK_OPS_CHECKS_H
#define HSMBAK_OPS_CHECKS_H

#include "hsmbak/checks.h"

#include <stdbool.h>

/* Append a check (name static) with status; archive (may be NULL) copied. */
hb_status hb_checks_add(hb_check_report *r, const char *name, const char *archive,
                        hb_check_status status, hb_err *err) HB_MUST_CHECK;

/* Insert a not-run check before the first check called `before` (at the
 * end when there is none): archives are known only once the manifest is. */
hb_status hb_checks_insert(hb_check_report *r, const char *before, const char *name,
                           const char *archive, hb_err *err) HB_MUST_CHECK;

/* Mark check name (and archive, when not NULL) ok. */
void hb_checks_pass(hb_check_report *r, const char *name, const char *archive);

/* Mark check name passed with a finding (HB_CHECK_WARNING); message copied. */
hb_status hb_checks_warn(hb_check_report *r, const char *name, const char *message,
                         hb_err *err) HB_MUST_CHECK;

/* The run failed: the first not-run check fails with err's message. */
void hb_checks_fail_pending(hb_check_report *r, const hb_err *err);

#endif
