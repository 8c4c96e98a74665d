/* What a backup is, as text: the one renderer of the record out_manifest
 * (output.h) describes, for the backup summary, a validate or restore, and
 * inspect. Reads only the record, so the text says nothing --json lacks.
 *
 *    backup id   0c6c...
 *    created     2026-11-29T19:00:00Z
 *    sequence    42
 *    transcript  entry 7, head 3f1c...   (the ceremony transcript's pinned head)
 *    system      9.3.5.0 (appliance profile)
 *    signer      CN=Backup Signer (SHA-256 ab12...)
 *    recipient   CN=My Backup Cert (rsa-oaep-sha1, SHA-256 cd34...)
 *    file        config.tzst           zstd     4.1 KiB
 *    excluded    ipmi: IPMI passwords are held by the BMC; ...
 *    total       6 files, 21.4 KiB */
#ifndef HSMBAK_CLI_SUMMARY_H
#define HSMBAK_CLI_SUMMARY_H

#include <jansson.h>

#define SUMMARY_TOOL 1u     /* the tool that made it */
#define SUMMARY_SIGNER 2u   /* record["signer"] */
#define SUMMARY_FILES 4u    /* one line per file (with record files[].problem) */
#define SUMMARY_EXCLUDED 8u
#define SUMMARY_TOTAL 16u   /* files and bytes (and record["expanded_bytes"]) */

/* Print the summary of record r on stdout, framed by blank lines. */
void print_summary(const json_t *r, unsigned what);

#endif
