/* Audit log: one structured line per operation (backup, validate, restore,
 * keygen, enrollment, and every refusal), for the site's security log.
 *
 * The line goes to syslog(3), ident "hsmbak", facility LOG_AUTHPRIV (on
 * Debian: journald and /var/log/auth.log, readable by root only). It is
 * logfmt: `hsmbak-audit v=1 op=secure-backup outcome=ok status=0 uid=0
 * user=root backup_id=... recipients=sha256:...,sha256:... signer=sha256:...`.
 * Values with spaces, quotes or '=' are double-quoted with \" and \\ escapes;
 * control characters become '?'.
 *
 * Never a PIN or key material: callers pass names, URIs (a URI carrying a
 * PIN is refused long before this point), fingerprints, ids and paths.
 *
 * HSMBAK_AUDIT_FILE=PATH, when set and non-empty, sends the lines to PATH
 * (appended, created 0600, never through a symlink) instead of syslog, each
 * prefixed with an RFC 3339 UTC time: for tests and for hosts without a
 * syslog daemon. */
#ifndef HSMBAK_COMMON_AUDIT_H
#define HSMBAK_COMMON_AUDIT_H

#include "hsmbak/status.h"



/* "ok", "refused" (HB_E_REFUSED, HB_E_AUTH) or "failed". */
const char *hb_audit_outcome(hb_status st);

/* One line: op, outcome, status, uid, user, then the key/value pairs given
 * as a NULL-terminated list of (const char *key, const char *value); pairs
 * whose value is NULL or empty are left out. err (may be NULL) adds
 * reason="..." on failure. */
#if defined(__GNUC__)
#define HB_SENTINEL __attribute__((sentinel))
#else
#define HB_SENTINEL
#endif
void hb_audit_log(const char *op, hb_status st, const hb_err *err, ...) HB_SENTINEL;

/* The line under construction, for layers that add fields of their own
 * (backup/ops/audit.c). */
typedef struct hb_audit_line hb_audit_line;
hb_audit_line *hb_audit_begin(const char *op, hb_status st);
void hb_audit_pair(hb_audit_line *l, const char *key, const char *value);
/* Adds the outcome fields, emits the line and frees l. */
void hb_audit_end(hb_audit_line *l, hb_status st, const hb_err *err);

#endif
