/* Names hsmbak makes and checks: resource, archive, enrollment and quorum
 * group names (the manifest's and profile's name rule), and names derived
 * from text a user typed (a certificate's CN). */
#ifndef HSMBAK_COMMON_NAMES_H
#define HSMBAK_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define HB_NAME_MAX 64

/* [a-z0-9][a-z0-9-]{0,63}: data/schema/manifest.xsd's name type. */
bool hb_name_ok(const char *s);

/* "My Backup Cert" -> "my-backup-cert": lowercase letters and digits, runs
 * of anything else one '-', at most 48 characters; `fallback` alone when
 * nothing is left. out holds at least 2 bytes. */
void hb_name_from_text(const char *text, char fallback, char *out, size_t cap);

#endif
