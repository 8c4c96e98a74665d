/* The manifest's field reader without the signature, for the fuzz harness
 * (tests/fuzz/fuzz_manifest_fields.c) and tests only: hb_manifest_read
 * checks the signature before the fields, so fuzzing through it never
 * reaches them. Nothing in libhsmbak calls this; the shared object does not
 * export it (-fvisibility=hidden), and an *_internal.h is on no other
 * layer's include path. Never use it on input you mean to trust. */
#ifndef HSMBAK_FORMAT_MANIFEST_FUZZ_INTERNAL_H
#define HSMBAK_FORMAT_MANIFEST_FUZZ_INTERNAL_H

#include "backup/format/manifest.h"

/* The hardened parse and the manifest's shape check as hb_manifest_read
 * does them, then the fields, skipping the signature and the schema. */
hb_status hb_manifest_read_unverified(const uint8_t *xml, size_t len, hb_manifest **out,
                                      hb_err *err) HB_MUST_CHECK;

#endif
