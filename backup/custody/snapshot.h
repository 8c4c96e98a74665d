/* The custody snapshot a v2 transcript entry signs (docs/custody.md
 * "Transcript"): every enrollment and quorum group as far as they decide who
 * receives a backup, in a canonical order, and its length-prefixed bytes. */
#ifndef HSMBAK_CUSTODY_SNAPSHOT_H
#define HSMBAK_CUSTODY_SNAPSHOT_H

#include "hsmbak/custody.h"

#include "common/buf.h"

#include <libxml/tree.h>

/* The snapshot of store c (enrollments and groups sorted by name; members in
 * group order, which is the order of the shares' x coordinates). */
hb_status hb_custody_snapshot_of(const hb_custody *c, hb_custody_snapshot *out,
                                 hb_err *err) HB_MUST_CHECK;

/* A deep copy of s into *out. */
hb_status hb_snapshot_copy(const hb_custody_snapshot *s, hb_custody_snapshot *out,
                           hb_err *err) HB_MUST_CHECK;

/* Length-prefixed encodings shared with the transcript's signed bytes:
 * u32be; str = u32be(len) || bytes. */
hb_status hb_canon_u32(hb_buf *b, uint32_t v, hb_err *err) HB_MUST_CHECK;
hb_status hb_canon_bytes(hb_buf *b, const void *data, size_t len, hb_err *err) HB_MUST_CHECK;
hb_status hb_canon_str(hb_buf *b, const char *s, hb_err *err) HB_MUST_CHECK;

/* The snapshot's signed bytes, appended to b:
 *   u32be(n) || (str(name) || str(fingerprint) || str(spki-sha256) ||
 *                str(state) || str(key-wrap))...          sorted by name
 *   u32be(m) || (str(name) || u32be(threshold) || str(state) ||
 *                u32be(k) || str(member)...)...           sorted by name */
hb_status hb_snapshot_encode(const hb_custody_snapshot *s, hb_buf *b, hb_err *err) HB_MUST_CHECK;

/* <state> with <enrollment/> and <quorum><member/></quorum> children, added
 * under parent at depth (false when out of memory). */
bool hb_snapshot_write_xml(xmlNodePtr parent, xmlNsPtr ns, const hb_custody_snapshot *s,
                           int depth);
/* The snapshot from a <state> element (HB_E_VERIFY when malformed or not in
 * canonical order). seq names the entry in messages. */
hb_status hb_snapshot_read_xml(const xmlNode *state, const char *ns, unsigned long seq,
                               hb_custody_snapshot *out, hb_err *err) HB_MUST_CHECK;

#endif
