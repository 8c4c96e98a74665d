/* The check report of a validate or restore: every check the library makes,
 * in the order it makes them, each with what became of it. A caller prints
 * it as it is (docs/json.md "secure-restore"); it never needs to know the
 * order or which checks a mode skips. */
#ifndef HSMBAK_CHECKS_H
#define HSMBAK_CHECKS_H

#include "hsmbak/status.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_check_status {
    HB_CHECK_NOT_RUN = 0, /* an earlier check failed, so this one was not made */
    HB_CHECK_OK,
    HB_CHECK_FAILED,      /* exactly one check of a failed run, with message */
    HB_CHECK_SKIPPED,     /* not part of this mode (validate: factory-state, swap) */
    HB_CHECK_WARNING,     /* passed with a finding, in message ("rollback": the backup is
                             older than one this system knows, and the run was a
                             validate or had --allow-rollback) */
} hb_check_status;

typedef struct hb_check {
    const char *name;     /* static: "signature", "signer-trust", "version", "profile",
                             "factory-state", "idcred", "recipient", "files", "rollback",
                             "archive" (one per archive), "swap" */
    char *archive;        /* "archive" checks: the archive's name; NULL otherwise */
    hb_check_status status;
    char *message;        /* HB_CHECK_FAILED: why (the run's error message);
                             HB_CHECK_WARNING: the finding; else NULL */
} hb_check;

typedef struct hb_check_report {
    hb_check *checks;     /* in the order they are made */
    size_t n;
} hb_check_report;

/* "ok", "failed", "skipped", "not-run", "warning" (the names docs/json.md lists). */
HB_API const char *hb_check_status_name(hb_check_status s);

HB_API void hb_check_report_free(hb_check_report *r);

#ifdef __cplusplus
}
#endif
#endif
