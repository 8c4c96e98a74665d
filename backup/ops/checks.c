/* The check report of a validate or restore (backup/ops/checks.h). */
#include "backup/ops/checks.h"

#include "common/buf.h"
#include "common/fail.h"

#include <stdlib.h>
#include <string.h>

/* More than any profile has resources, plus the fixed checks. */
#define HB_CHECKS_MAX 100000

const char *hb_check_status_name(hb_check_status s)
{
    switch (s) {
    case HB_CHECK_OK: return "ok";
    case HB_CHECK_FAILED: return "failed";
    case HB_CHECK_SKIPPED: return "skipped";
    case HB_CHECK_WARNING: return "warning";
    case HB_CHECK_NOT_RUN: break;
    }
    return "not-run";
}

hb_status hb_checks_add(hb_check_report *r, const char *name, const char *archive,
                        hb_check_status status, hb_err *err)
{
    char *copy = NULL;
    if (archive != NULL && (copy = strdup(archive)) == NULL)
        return hb_fail_oom(err);
    hb_check *c = HB_ARRAY_PUSH(r->checks, r->n, HB_CHECKS_MAX, err);
    if (c == NULL) {
        free(copy);
        return err->status;
    }
    c->name = name;
    c->archive = copy;
    c->status = status;
    return HB_OK;
}

hb_status hb_checks_insert(hb_check_report *r, const char *before, const char *name,
                           const char *archive, hb_err *err)
{
    size_t at = 0;
    while (at < r->n && strcmp(r->checks[at].name, before) != 0)
        at++;
    hb_status st = hb_checks_add(r, name, archive, HB_CHECK_NOT_RUN, err);
    if (st != HB_OK)
        return st;
    hb_check added = r->checks[r->n - 1];
    memmove(&r->checks[at + 1], &r->checks[at], (r->n - 1 - at) * sizeof *r->checks);
    r->checks[at] = added;
    return HB_OK;
}

static bool is(const hb_check *c, const char *name, const char *archive)
{
    return strcmp(c->name, name) == 0 &&
           (archive == NULL || (c->archive != NULL && strcmp(c->archive, archive) == 0));
}

void hb_checks_pass(hb_check_report *r, const char *name, const char *archive)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->checks[i].status == HB_CHECK_NOT_RUN && is(&r->checks[i], name, archive)) {
            r->checks[i].status = HB_CHECK_OK;
            return;
        }
}

hb_status hb_checks_warn(hb_check_report *r, const char *name, const char *message,
                         hb_err *err)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->checks[i].status == HB_CHECK_NOT_RUN && is(&r->checks[i], name, NULL)) {
            char *copy = strdup(message);
            if (copy == NULL)
                return hb_fail_oom(err);
            r->checks[i].status = HB_CHECK_WARNING;
            r->checks[i].message = copy;
            return HB_OK;
        }
    return HB_OK;
}

void hb_checks_fail_pending(hb_check_report *r, const hb_err *err)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->checks[i].status == HB_CHECK_NOT_RUN) {
            r->checks[i].status = HB_CHECK_FAILED;
            /* Out of memory here leaves the check failed without its
             * message; the run's error still carries it. */
            r->checks[i].message = strdup(err->msg);
            return;
        }
}

void hb_check_report_free(hb_check_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->checks[i].archive);
        free(r->checks[i].message);
    }
    free(r->checks);
    r->checks = NULL;
    r->n = 0;
}
