/* Identifiers and timestamps the formats share: backup ids (UUIDv4) and
 * RFC 3339 UTC times with seconds, "2026-11-29T19:00:00Z". */
#ifndef HSMBAK_COMMON_IDS_H
#define HSMBAK_COMMON_IDS_H

#include "hsmbak/status.h"

#include <stdbool.h>

/* A lowercase random UUIDv4 (RFC 9562 §5.4), 36 characters + NUL. */
hb_status hb_uuid_v4(char out[37], hb_err *err) HB_MUST_CHECK;
/* Lowercase UUIDv4 syntax. */
bool hb_uuid_ok(const char *s);

/* The current time as RFC 3339 UTC with seconds. */
hb_status hb_rfc3339_now(char out[21], hb_err *err) HB_MUST_CHECK;
/* YYYY-MM-DDThh:mm:ssZ (shape only). */
bool hb_rfc3339_ok(const char *s);

#endif
