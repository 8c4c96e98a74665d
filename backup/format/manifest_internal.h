/* Checks and helpers shared by the manifest builder, writer and reader. */
#ifndef HSMBAK_BACKUP_MANIFEST_INTERNAL_H
#define HSMBAK_BACKUP_MANIFEST_INTERNAL_H

#include "backup/format/manifest.h"

#include <libxml/tree.h>
#include <stdbool.h>

/* Value rules; data/schema/manifest.xsd states the same ones. */
bool hb_manifest_version_ok(const char *s);   /* V.R.M.F */
bool hb_manifest_key_wrap_ok(const char *s);
bool hb_manifest_rid_ok(const char *s);       /* recipient id */
bool hb_manifest_filename_ok(const char *name, const char *filename, const char *compression);

void hb_manifest_recipient_clear(hb_manifest_recipient *r);
void hb_manifest_file_clear(hb_manifest_file *f);

/* Quorum recipients (manifest_quorum.c). */
void hb_manifest_quorums_clear(hb_manifest *m);
/* Append every <quorum> to <recipients> (indented at depth 2). */
hb_status hb_manifest_write_quorums(xmlNodePtr recips, xmlNsPtr ns, const hb_manifest *m,
                                    hb_err *err) HB_MUST_CHECK;
hb_status hb_manifest_read_quorum(const xmlNode *qn, hb_manifest *m, hb_err *err) HB_MUST_CHECK;
/* Every file has a 40-byte wrapped key for every quorum, and each quorum has
 * at least `threshold` members. */
hb_status hb_manifest_check_quorums(const hb_manifest *m, hb_err *err) HB_MUST_CHECK;

#endif
