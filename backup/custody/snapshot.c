/* The custody snapshot of a v2 transcript entry (snapshot.h): built from the
 * store, encoded for signing, written to and read from the transcript's XML. */
#include "backup/custody/snapshot.h"

#include "backup/custody/custody_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_custody_snapshot_free(hb_custody_snapshot *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_groups; i++)
        free(s->groups[i].members);
    free(s->groups);
    free(s->enrollments);
    memset(s, 0, sizeof *s);
}

hb_status hb_snapshot_copy(const hb_custody_snapshot *s, hb_custody_snapshot *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody_snapshot c = {0};
    memset(out, 0, sizeof *out);
    if (s->n > 0) {
        c.enrollments = hb_memdup(s->enrollments, s->n * sizeof *s->enrollments);
        HB_ALLOC(c.enrollments);
        c.n = s->n;
    }
    if (s->n_groups > 0) {
        c.groups = calloc(s->n_groups, sizeof *c.groups);
        HB_ALLOC(c.groups);
    }
    for (size_t i = 0; i < s->n_groups; i++) {
        hb_snapshot_group *g = &c.groups[c.n_groups++];
        *g = s->groups[i];
        g->members = calloc(g->n_members ? g->n_members : 1, sizeof *g->members);
        HB_ALLOC(g->members);
        if (g->n_members > 0)
            memcpy(g->members, s->groups[i].members, g->n_members * sizeof *g->members);
    }
    *out = c;
    memset(&c, 0, sizeof c);
cleanup:
    hb_custody_snapshot_free(&c);
    return st;
}

/* ---- canonical bytes ---- */

hb_status hb_canon_u32(hb_buf *b, uint32_t v, hb_err *err)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return hb_buf_add(b, x, 4, err);
}

hb_status hb_canon_bytes(hb_buf *b, const void *data, size_t len, hb_err *err)
{
    if (len > UINT32_MAX)
        return hb_fail(err, HB_E_INTERNAL, "a transcript field is too long to encode");
    hb_status st = hb_canon_u32(b, (uint32_t)len, err);
    return st == HB_OK && len > 0 ? hb_buf_add(b, data, len, err) : st;
}

hb_status hb_canon_str(hb_buf *b, const char *s, hb_err *err)
{
    return hb_canon_bytes(b, s, strlen(s), err);
}

hb_status hb_snapshot_encode(const hb_custody_snapshot *s, hb_buf *b, hb_err *err)
{
    hb_status st = HB_OK;
    HB_TRY(hb_canon_u32(b, (uint32_t)s->n, err));
    for (size_t i = 0; i < s->n; i++) {
        const hb_snapshot_enrollment *e = &s->enrollments[i];
        HB_TRY(hb_canon_str(b, e->name, err));
        HB_TRY(hb_canon_str(b, e->fingerprint, err));
        HB_TRY(hb_canon_str(b, e->spki_sha256, err));
        HB_TRY(hb_canon_str(b, hb_enrollment_state_name(e->state), err));
        HB_TRY(hb_canon_str(b, hb_oaep_hash_name(e->key_wrap), err));
    }
    HB_TRY(hb_canon_u32(b, (uint32_t)s->n_groups, err));
    for (size_t i = 0; i < s->n_groups; i++) {
        const hb_snapshot_group *g = &s->groups[i];
        HB_TRY(hb_canon_str(b, g->name, err));
        HB_TRY(hb_canon_u32(b, g->threshold, err));
        HB_TRY(hb_canon_str(b, g->retired ? "retired" : "active", err));
        HB_TRY(hb_canon_u32(b, (uint32_t)g->n_members, err));
        for (size_t k = 0; k < g->n_members; k++)
            HB_TRY(hb_canon_str(b, g->members[k], err));
    }
cleanup:
    return st;
}

/* ---- from the store ---- */

static int by_enrollment_name(const void *a, const void *b)
{
    return strcmp(((const hb_snapshot_enrollment *)a)->name,
                  ((const hb_snapshot_enrollment *)b)->name);
}

static int by_group_name(const void *a, const void *b)
{
    return strcmp(((const hb_snapshot_group *)a)->name, ((const hb_snapshot_group *)b)->name);
}

hb_status hb_custody_snapshot_of(const hb_custody *c, hb_custody_snapshot *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody_snapshot s = {0};
    memset(out, 0, sizeof *out);
    if (c->n > 0) {
        s.enrollments = calloc(c->n, sizeof *s.enrollments);
        HB_ALLOC(s.enrollments);
    }
    for (size_t i = 0; i < c->n; i++) {
        const hb_enrollment *e = &c->enrollments[i];
        hb_snapshot_enrollment *x = &s.enrollments[s.n++];
        memcpy(x->name, e->name, sizeof x->name);
        memcpy(x->fingerprint, e->fingerprint, sizeof x->fingerprint);
        HB_TRY(hb_sha256_hex(e->spki_der, e->spki_der_len, x->spki_sha256, err));
        x->state = e->state;
        x->key_wrap = e->key_wrap;
    }
    if (c->n_groups > 0) {
        s.groups = calloc(c->n_groups, sizeof *s.groups);
        HB_ALLOC(s.groups);
    }
    for (size_t i = 0; i < c->n_groups; i++) {
        const hb_quorum_group *g = &c->groups[i];
        hb_snapshot_group *x = &s.groups[s.n_groups++];
        memcpy(x->name, g->name, sizeof x->name);
        x->threshold = g->threshold;
        x->retired = g->retired;
        x->members = calloc(g->n_members ? g->n_members : 1, sizeof *x->members);
        HB_ALLOC(x->members);
        memcpy(x->members, g->members, g->n_members * sizeof *x->members);
        x->n_members = g->n_members;
    }
    if (s.n > 1)
        qsort(s.enrollments, s.n, sizeof *s.enrollments, by_enrollment_name);
    if (s.n_groups > 1)
        qsort(s.groups, s.n_groups, sizeof *s.groups, by_group_name);
    *out = s;
    memset(&s, 0, sizeof s);
cleanup:
    hb_custody_snapshot_free(&s);
    return st;
}

/* ---- XML ---- */

bool hb_snapshot_write_xml(xmlNodePtr parent, xmlNsPtr ns, const hb_custody_snapshot *s,
                           int depth)
{
    xmlNodePtr st = hb_xml_add(parent, ns, "state", NULL, depth);
    bool ok = st != NULL;
    for (size_t i = 0; ok && i < s->n; i++) {
        const hb_snapshot_enrollment *e = &s->enrollments[i];
        xmlNodePtr n = hb_xml_add(st, ns, "enrollment", NULL, depth + 1);
        ok = n != NULL && xmlNewProp(n, BAD_CAST "name", BAD_CAST e->name) != NULL &&
             xmlNewProp(n, BAD_CAST "state", BAD_CAST hb_enrollment_state_name(e->state)) &&
             xmlNewProp(n, BAD_CAST "key-wrap", BAD_CAST hb_oaep_hash_name(e->key_wrap)) &&
             xmlNewProp(n, BAD_CAST "spki", BAD_CAST e->spki_sha256) != NULL &&
             (e->fingerprint[0] == '\0' ||
              xmlNewProp(n, BAD_CAST "fingerprint", BAD_CAST e->fingerprint) != NULL);
    }
    for (size_t i = 0; ok && i < s->n_groups; i++) {
        const hb_snapshot_group *g = &s->groups[i];
        char thr[12];
        xmlNodePtr n = hb_xml_add(st, ns, "quorum", NULL, depth + 1);
        ok = n != NULL &&
             hb_format(thr, sizeof thr, "a threshold", NULL, "%u", g->threshold) == HB_OK &&
             xmlNewProp(n, BAD_CAST "name", BAD_CAST g->name) != NULL &&
             xmlNewProp(n, BAD_CAST "threshold", BAD_CAST thr) != NULL &&
             xmlNewProp(n, BAD_CAST "state", BAD_CAST(g->retired ? "retired" : "active"));
        for (size_t k = 0; ok && k < g->n_members; k++)
            ok = hb_xml_add(n, ns, "member", g->members[k], depth + 2) != NULL;
        ok = ok && hb_xml_indent(n, depth + 1);
    }
    return ok && hb_xml_indent(st, depth);
}

/* Attribute name of node into out (cap bytes, at least 1 byte). */
static bool attr(const xmlNode *node, const char *name, char *out, size_t cap)
{
    xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
    bool ok = v != NULL && v[0] != '\0' && strlen((const char *)v) < cap &&
              hb_xml_text_ok((const char *)v);
    if (ok)
        memcpy(out, v, strlen((const char *)v) + 1);
    xmlFree(v);
    return ok;
}

static bool parse_state(const char *s, hb_enrollment_state *out)
{
    for (int i = HB_ENROLL_PENDING; i <= HB_ENROLL_RETIRED; i++)
        if (strcmp(s, hb_enrollment_state_name((hb_enrollment_state)i)) == 0) {
            *out = (hb_enrollment_state)i;
            return true;
        }
    return false;
}

static hb_status read_enrollment(const xmlNode *n, unsigned long seq, hb_custody_snapshot *s,
                                 hb_err *err)
{
    hb_status st = HB_OK;
    hb_snapshot_enrollment *e;
    char state[16], wrap[32];
    hb_err ignored;
    HB_PUSH(e, s->enrollments, s->n, HB_CUSTODY_MAX_RECORDS);
    bool ok = attr(n, "name", e->name, sizeof e->name) && attr(n, "state", state, sizeof state) &&
              parse_state(state, &e->state) && attr(n, "key-wrap", wrap, sizeof wrap) &&
              hb_oaep_hash_from_name(wrap, &e->key_wrap, &ignored) == HB_OK &&
              attr(n, "spki", e->spki_sha256, sizeof e->spki_sha256) &&
              hb_hex_lower_ok(e->spki_sha256, 64);
    xmlChar *fp = xmlGetNoNsProp(n, BAD_CAST "fingerprint");
    if (fp != NULL)
        ok = ok && attr(n, "fingerprint", e->fingerprint, sizeof e->fingerprint) &&
             hb_hex_lower_ok(e->fingerprint, 64);
    xmlFree(fp);
    HB_ENSURE(ok && (e->fingerprint[0] != '\0') == (e->state != HB_ENROLL_PENDING),
              HB_E_VERIFY, "transcript entry %lu: a malformed enrollment in its custody state",
              seq);
cleanup:
    return st;
}

static hb_status read_group(const xmlNode *n, const char *ns, unsigned long seq,
                            hb_custody_snapshot *s, hb_err *err)
{
    hb_status st = HB_OK;
    hb_snapshot_group *g;
    char thr[8], state[16];
    char *end = NULL, *m = NULL;
    HB_PUSH(g, s->groups, s->n_groups, HB_CUSTODY_MAX_RECORDS);
    bool ok = attr(n, "name", g->name, sizeof g->name) && attr(n, "threshold", thr, sizeof thr) &&
              attr(n, "state", state, sizeof state) &&
              (strcmp(state, "active") == 0 || strcmp(state, "retired") == 0);
    errno = 0;
    unsigned long k = ok ? strtoul(thr, &end, 10) : 0;
    HB_ENSURE(ok && thr[0] >= '1' && thr[0] <= '9' && *end == '\0' && errno == 0 && k <= 255,
              HB_E_VERIFY, "transcript entry %lu: a malformed quorum group in its custody state",
              seq);
    g->threshold = (unsigned)k;
    g->retired = strcmp(state, "retired") == 0;
    for (xmlNodePtr c = hb_xml_first_elem(n); c != NULL; c = hb_xml_next_elem(c)) {
        if (!hb_xml_is(c, ns, "member"))
            continue;
        char(*slot)[65];
        free(m);
        m = hb_xml_text(c);
        HB_ENSURE(m != NULL && hb_hex_lower_ok(m, 64), HB_E_VERIFY,
                  "transcript entry %lu: quorum '%s' has a malformed member", seq, g->name);
        HB_PUSH(slot, g->members, g->n_members, HB_QUORUM_MAX_MEMBERS);
        memcpy(*slot, m, 65);
    }
cleanup:
    free(m);
    return st;
}

hb_status hb_snapshot_read_xml(const xmlNode *state, const char *ns, unsigned long seq,
                               hb_custody_snapshot *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody_snapshot s = {0};
    for (xmlNodePtr n = hb_xml_first_elem(state); n != NULL; n = hb_xml_next_elem(n)) {
        if (hb_xml_is(n, ns, "enrollment"))
            HB_TRY(read_enrollment(n, seq, &s, err));
        else if (hb_xml_is(n, ns, "quorum"))
            HB_TRY(read_group(n, ns, seq, &s, err));
    }
    /* The signed bytes are of the canonical order: a file in another order
     * was not written by hsmbak (and its names would be ambiguous). */
    for (size_t i = 1; i < s.n; i++)
        HB_ENSURE(strcmp(s.enrollments[i - 1].name, s.enrollments[i].name) < 0, HB_E_VERIFY,
                  "transcript entry %lu: its custody state is not sorted by name", seq);
    for (size_t i = 1; i < s.n_groups; i++)
        HB_ENSURE(strcmp(s.groups[i - 1].name, s.groups[i].name) < 0, HB_E_VERIFY,
                  "transcript entry %lu: its custody state is not sorted by name", seq);
    *out = s;
    memset(&s, 0, sizeof s);
cleanup:
    hb_custody_snapshot_free(&s);
    return st;
}
