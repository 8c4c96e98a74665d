/* What the manifest's reader (manifest_read.c) and writer (manifest_write.c)
 * share with its builder (manifest.c): the value rules and the caps. Both
 * only call into the builder, never into each other. */
#ifndef HSMBAK_FORMAT_MANIFEST_INTERNAL_H
#define HSMBAK_FORMAT_MANIFEST_INTERNAL_H

#include "backup/format/manifest.h"

#include <stdbool.h>

/* Caps: data/schema/manifest.xsd's maxOccurs, so a manifest the builder
 * accepts is one the schema accepts. */
#define HB_MANIFEST_MAX_RECIPIENTS 1000 /* recipients and quorum groups, each */
#define HB_MANIFEST_MAX_FILES 10000
#define HB_MANIFEST_MAX_KEYS 1000       /* wrapped keys of one file */
#define HB_MANIFEST_MAX_EXCLUDED 1000
#define HB_QUORUM_MAX_MEMBERS 255       /* x coordinates 1..255 of GF(2^8) */
#define HB_QUORUM_WRAPPED_DEK 40        /* RFC 5649 of a 32-byte DEK */

/* Value rules; data/schema/manifest.xsd states the same ones. */
bool hb_manifest_version_ok(const char *s);   /* V.R.M.F */
bool hb_manifest_key_wrap_ok(const char *s);
bool hb_manifest_rid_ok(const char *s);       /* recipient or quorum id */
bool hb_manifest_filename_ok(const char *name, const char *filename, const char *compression);

/* Free what an element holds and zero it (for one being built). */
void hb_manifest_recipient_clear(hb_manifest_recipient *r);
void hb_manifest_file_clear(hb_manifest_file *f);

#endif
