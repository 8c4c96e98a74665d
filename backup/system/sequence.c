/* The system's backup sequence state, ROOT/.hsmbak/sequence (sequence.h).
 *
 * The file is three lines of text, written whole by hb_write_file_atomic:
 *
 *   hsmbak-sequence 1
 *   counter 6
 *   newest 5 0c6c2f4e-...-... 2026-12-02T13:00:00Z made
 *
 * ("newest none" before the first backup made or restored). Text, so an
 * operator can read what the system knows; strict, so a file hsmbak did not
 * write is refused rather than read as "no history". */
#include "backup/system/sequence.h"

#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"
#include "common/ids.h"
#include "common/words.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_CAP 4096
#define STATE_MAGIC "hsmbak-sequence 1"
#define SEQ_MAX UINT64_C(9223372036854775807) /* 2^63-1, the manifest schema's cap */

static hb_status need_lock(const hb_system *sys, hb_err *err)
{
    if (sys == NULL || sys->lock_fd < 0)
        return hb_fail(err, HB_E_INTERNAL, "the backup sequence is read and written only "
                       "under the system root's lock");
    return HB_OK;
}

static hb_status state_path(const hb_system *sys, char *out, size_t cap, hb_err *err)
{
    return hb_path_join(out, cap, sys->root, HB_SEQUENCE_STATE, err);
}

/* "newest none" or "newest SEQ ID CREATED HOW". */
static bool parse_newest(const char *p, const char *end, hb_sequence_state *s)
{
    const char *w;
    size_t n;
    if (!hb_word_next(&p, end, &w, &n) || !hb_word_is(w, n, "newest") ||
        !hb_word_next(&p, end, &w, &n))
        return false;
    if (hb_word_is(w, n, "none"))
        return p == end;
    if (!hb_word_u64(w, n, SEQ_MAX, &s->newest) || s->newest == 0)
        return false;
    if (!hb_word_next(&p, end, &w, &n) || n != 36)
        return false;
    memcpy(s->newest_id, w, n);
    s->newest_id[n] = '\0';
    if (!hb_word_next(&p, end, &w, &n) || n != 20)
        return false;
    memcpy(s->newest_created, w, n);
    s->newest_created[n] = '\0';
    if (!hb_word_next(&p, end, &w, &n) ||
        !(hb_word_is(w, n, "made") || hb_word_is(w, n, "restored")))
        return false;
    memcpy(s->newest_how, w, n);
    s->newest_how[n] = '\0';
    return p == end && hb_uuid_ok(s->newest_id) && hb_rfc3339_ok(s->newest_created);
}

static bool parse_state(const char *text, size_t len, hb_sequence_state *s)
{
    const char *line[3], *end[3], *p = text, *stop = text + len;
    const char *w;
    size_t n;
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        if (nl == NULL)
            return false;
        /* Words are separated by single spaces (hb_word_next refuses an empty
         * one); a line never ends in one. */
        if (nl > p && nl[-1] == ' ')
            return false;
        line[i] = p;
        end[i] = nl;
        p = nl + 1;
    }
    if (p != stop || (size_t)(end[0] - line[0]) != strlen(STATE_MAGIC) ||
        memcmp(line[0], STATE_MAGIC, strlen(STATE_MAGIC)) != 0)
        return false;
    p = line[1];
    if (!hb_word_next(&p, end[1], &w, &n) || !hb_word_is(w, n, "counter") ||
        !hb_word_next(&p, end[1], &w, &n) || !hb_word_u64(w, n, SEQ_MAX, &s->counter) ||
        p != end[1])
        return false;
    return parse_newest(line[2], end[2], s);
}

hb_status hb_sequence_load(const hb_system *sys, hb_sequence_state *out, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    unsigned char *data = NULL;
    size_t len = 0;
    hb_sequence_state s = {0};
    memset(out, 0, sizeof *out);
    HB_TRY(need_lock(sys, err));
    HB_TRY(state_path(sys, path, sizeof path, err));
    if (access(path, F_OK) != 0 && errno == ENOENT)
        goto cleanup; /* no history: a new root, or one made before sequences */
    st = hb_read_file(path, STATE_CAP, &data, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "the system's backup sequence");
        goto cleanup;
    }
    HB_ENSURE(parse_state((const char *)data, len, &s), HB_E_VERIFY, "'%s' is not a backup "
              "sequence state hsmbak wrote, so this system cannot tell an old backup from a "
              "new one; restore it from a backup of the root's .hsmbak/, or remove it to "
              "forget this system's history (docs/reliability.md \"Rollback\")", path);
    *out = s;
cleanup:
    free(data);
    return st;
}

static hb_status store(const hb_system *sys, const hb_sequence_state *s, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX], text[256], newest[128];
    if (s->newest == 0)
        HB_TRY(hb_format(newest, sizeof newest, "sequence state", err, "none"));
    else
        HB_TRY(hb_format(newest, sizeof newest, "sequence state", err, "%llu %s %s %s",
                         (unsigned long long)s->newest, s->newest_id, s->newest_created,
                         s->newest_how));
    HB_TRY(hb_format(text, sizeof text, "sequence state", err, STATE_MAGIC "\ncounter %llu\n"
                     "newest %s\n", (unsigned long long)s->counter, newest));
    HB_TRY(state_path(sys, path, sizeof path, err));
    st = hb_write_file_atomic(path, text, strlen(text), 0600, err);
    if (st != HB_OK)
        hb_err_prefix(err, "recording the system's backup sequence");
cleanup:
    return st;
}

static uint64_t last_of(const hb_sequence_state *s)
{
    return s->counter > s->newest ? s->counter : s->newest;
}

hb_status hb_sequence_next(const hb_system *sys, uint64_t *seq, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sequence_state s;
    *seq = 0;
    HB_TRY(hb_sequence_load(sys, &s, err));
    HB_ENSURE(last_of(&s) < SEQ_MAX, HB_E_REFUSED, "this system's backup sequence is at its "
              "limit (%llu); no backup can be newer", (unsigned long long)last_of(&s));
    *seq = last_of(&s) + 1;
cleanup:
    return st;
}

hb_status hb_sequence_claim(const hb_system *sys, uint64_t seq, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sequence_state s;
    HB_TRY(hb_sequence_load(sys, &s, err));
    HB_ENSURE(seq > last_of(&s) && seq <= SEQ_MAX, HB_E_INTERNAL, "backup sequence %llu is not "
              "above this system's %llu: it was not taken under the root's lock",
              (unsigned long long)seq, (unsigned long long)last_of(&s));
    s.counter = seq;
    HB_TRY(store(sys, &s, err));
cleanup:
    return st;
}

hb_status hb_sequence_record(const hb_system *sys, uint64_t seq, const char *id,
                             const char *created, const char *how, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sequence_state s;
    HB_ENSURE(id != NULL && hb_uuid_ok(id) && created != NULL && hb_rfc3339_ok(created) &&
              how != NULL && (strcmp(how, "made") == 0 || strcmp(how, "restored") == 0) &&
              seq <= SEQ_MAX, HB_E_INTERNAL, "recording a backup sequence needs a sequence, "
              "a backup id, its time and how this system knows it");
    HB_TRY(hb_sequence_load(sys, &s, err));
    if (seq == 0 || seq <= s.newest)
        goto cleanup;
    s.newest = seq;
    memcpy(s.newest_id, id, sizeof s.newest_id);
    memcpy(s.newest_created, created, sizeof s.newest_created);
    HB_TRY(hb_format(s.newest_how, sizeof s.newest_how, "sequence state", err, "%s", how));
    HB_TRY(store(sys, &s, err));
cleanup:
    return st;
}
