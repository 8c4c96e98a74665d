/* The transcript's pinned head (transcript_pin.h).
 *
 * ROOT/.hsmbak/transcript-pin is two lines of text, written whole through
 * common/beneath.c (temporary file, fsync, rename, fsync of the directory):
 *
 *   hsmbak-transcript-pin 1
 *   pin 7 HEAD64 backup 0c6c2f4e-...-... 2026-12-02T13:00:00Z made
 *   pin 8 HEAD64 ceremony 2026-12-02T14:00:00Z            (after a ceremony)
 *
 * Strict, like .hsmbak/sequence: a file hsmbak did not write is refused,
 * never read as "no pin". */
#include "backup/custody/transcript_pin.h"

#include "backup/custody/transcript.h"
#include "common/beneath.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fileio.h"
#include "common/ids.h"
#include "common/words.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIN_MAGIC "hsmbak-transcript-pin 1"
#define PIN_CAP 512
#define SEQ_MAX UINT64_C(9223372036854775807)
#define RESTORE_HINT "restore config/custody-transcript.xml from that backup"

/* ---- the state file ---- */

static bool parse_pin(const char *text, size_t len, hb_transcript_pin *pin)
{
    const char *end = text + len, *p;
    char w[64];
    size_t magic = strlen(PIN_MAGIC);
    if (len < magic + 2 || memcmp(text, PIN_MAGIC "\n", magic + 1) != 0 || end[-1] != '\n')
        return false;
    p = text + magic + 1;
    end--; /* the last newline */
    if (memchr(p, '\n', (size_t)(end - p)) != NULL || (end > p && end[-1] == ' '))
        return false;
    if (!hb_word_copy(&p, end, w, sizeof w) || strcmp(w, "pin") != 0 ||
        !hb_word_copy(&p, end, w, sizeof w) || !hb_word_u64(w, strlen(w), SEQ_MAX, &pin->seq) ||
        pin->seq == 0 || !hb_word_copy(&p, end, pin->head, sizeof pin->head) ||
        strlen(pin->head) != 64 || !hb_hex_lower_ok(pin->head, 64) ||
        !hb_word_copy(&p, end, w, sizeof w))
        return false;
    pin->from_backup = strcmp(w, "backup") == 0;
    if (!pin->from_backup && strcmp(w, "ceremony") != 0)
        return false;
    if (pin->from_backup &&
        (!hb_word_copy(&p, end, pin->backup_id, sizeof pin->backup_id) ||
         !hb_uuid_ok(pin->backup_id)))
        return false;
    if (!hb_word_copy(&p, end, pin->time, sizeof pin->time) || !hb_rfc3339_ok(pin->time))
        return false;
    if (pin->from_backup && (!hb_word_copy(&p, end, pin->how, sizeof pin->how) ||
                             (strcmp(pin->how, "made") != 0 && strcmp(pin->how, "restored") != 0)))
        return false;
    return p == end;
}

static hb_status read_all(int fd, const char *what, char *buf, size_t cap, size_t *len,
                          hb_err *err)
{
    hb_status st = HB_OK;
    size_t got = 1;
    *len = 0;
    while (got > 0 && *len < cap) {
        HB_TRY(hb_read_some(fd, buf + *len, cap - *len, &got, what, err));
        *len += got;
    }
cleanup:
    return st;
}

hb_status hb_transcript_pin_load(const char *root, hb_transcript_pin *out, hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1, fd = -1;
    char text[PIN_CAP + 1], shown[PATH_MAX];
    size_t len = 0;
    struct stat sb;
    hb_transcript_pin pin = {0};
    memset(out, 0, sizeof *out);
    HB_TRY(hb_path_join(shown, sizeof shown, root, HB_TRANSCRIPT_PIN_STATE, err));
    HB_TRY(hb_beneath_open_top(root, &rootfd, err));
    /* O_NONBLOCK: a FIFO put there opens at once, and is refused below. */
    st = hb_beneath_open(rootfd, root, HB_TRANSCRIPT_PIN_STATE, O_RDONLY | O_NONBLOCK, 0, &fd,
                         err);
    if (st == HB_E_NOT_FOUND) {
        st = HB_OK; /* no pin: no transcript yet, or one made before pins */
        goto cleanup;
    }
    HB_TRY(st);
    HB_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), HB_E_VERIFY, "'%s' is not a regular "
              "file, so it is not a transcript pin hsmbak wrote; remove it to forget the "
              "pinned head (docs/custody.md \"Transcript\")", shown);
    HB_TRY(read_all(fd, shown, text, sizeof text, &len, err));
    HB_ENSURE(len <= PIN_CAP && parse_pin(text, len, &pin), HB_E_VERIFY,
              "'%s' is not a transcript pin hsmbak wrote, so this system cannot tell a "
              "truncated ceremony transcript from a whole one; restore it from a backup of "
              "the root's .hsmbak/, or remove it to forget the pinned head (docs/custody.md "
              "\"Transcript\")", shown);
    *out = pin;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

static hb_status pin_store(const char *root, const hb_transcript_pin *pin, hb_err *err)
{
    hb_status st = HB_OK;
    int rootfd = -1;
    char text[PIN_CAP], from[128];
    if (pin->from_backup)
        HB_TRY(hb_format(from, sizeof from, "the transcript pin", err, "backup %s %s %s",
                         pin->backup_id, pin->time, pin->how));
    else
        HB_TRY(hb_format(from, sizeof from, "the transcript pin", err, "ceremony %s",
                         pin->time));
    HB_TRY(hb_format(text, sizeof text, "the transcript pin", err, PIN_MAGIC "\npin %llu %s %s\n",
                     (unsigned long long)pin->seq, pin->head, from));
    HB_TRY(hb_beneath_open_top(root, &rootfd, err));
    st = hb_beneath_write_file(rootfd, root, HB_TRANSCRIPT_PIN_STATE, text, strlen(text), 0600,
                               err);
    if (st != HB_OK)
        hb_err_prefix(err, "recording the ceremony transcript's head");
cleanup:
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

static hb_status pin_remove(const char *root, hb_err *err)
{
    int rootfd = -1;
    hb_status st = hb_beneath_open_top(root, &rootfd, err);
    if (st == HB_OK)
        st = hb_beneath_remove(rootfd, root, HB_TRANSCRIPT_PIN_STATE, 0, err);
    if (rootfd >= 0)
        close(rootfd);
    return st;
}

/* ---- comparing ---- */

/* "backup UUID (created TIME)" or "the ceremony at TIME on this system"
 * (both well under 160 bytes: an id and a time). */
static hb_status pin_source(const hb_transcript_pin *pin, char *out, size_t cap, hb_err *err)
{
    if (pin->from_backup)
        return hb_format(out, cap, "a message", err, "backup %s (created %s)", pin->backup_id,
                         pin->time);
    return hb_format(out, cap, "a message", err, "the ceremony at %s on this system",
                     pin->time);
}

static const char *restore_hint(const hb_transcript_pin *pin)
{
    return pin->from_backup ? RESTORE_HINT
                            : "restore config/custody-transcript.xml from a copy that holds "
                              "that entry";
}

hb_status hb_transcript_pin_compare(const hb_transcript *t, const hb_transcript_pin *pin,
                                    hb_err *err)
{
    char src[160];
    if (pin->seq == 0)
        return HB_OK;
    hb_status st = pin_source(pin, src, sizeof src, err);
    if (st != HB_OK)
        return st;
    if (t == NULL)
        return hb_fail(err, HB_E_VERIFY, "there is no ceremony transcript "
                       "(config/custody-transcript.xml), but %s pinned entry %llu (head %s): "
                       "the transcript was truncated, rolled back or deleted; %s, or start a "
                       "new one with a ceremony's --new-transcript (its first entry records "
                       "this)", src, (unsigned long long)pin->seq, pin->head,
                       restore_hint(pin));
    if (t->n < pin->seq)
        return hb_fail(err, HB_E_VERIFY, "the ceremony transcript ends at entry %zu (head %s), "
                       "but %s pinned entry %llu (head %s): the transcript was truncated, "
                       "rolled back or deleted; %s", t->n,
                       t->n > 0 ? t->entries[t->n - 1].hash : t->anchor, src,
                       (unsigned long long)pin->seq, pin->head, restore_hint(pin));
    const char *have = t->entries[pin->seq - 1].hash;
    if (strcmp(have, pin->head) != 0)
        return hb_fail(err, HB_E_VERIFY, "the ceremony transcript's entry %llu has hash %s, but "
                       "%s pinned entry %llu with head %s: the transcript was rolled back or "
                       "replaced by another log; %s", (unsigned long long)pin->seq, have, src,
                       (unsigned long long)pin->seq, pin->head, restore_hint(pin));
    return HB_OK;
}

/* The system's transcript, verified (*t NULL when there is none). */
static hb_status load_transcript(const char *root, X509 *signer, hb_transcript **t,
                                 hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_transcript_path(root, path, sizeof path, err);
    if (st == HB_OK)
        st = hb_transcript_verify(path, signer, t, err);
    if (st == HB_E_NOT_FOUND) {
        *t = NULL;
        return HB_OK;
    }
    return st;
}

hb_status hb_transcript_pin_for_backup(const char *root, uint64_t *seq, char head[65],
                                       hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    hb_transcript_pin pin;
    *seq = 0;
    head[0] = '\0';
    HB_TRY(hb_transcript_pin_load(root, &pin, err));
    /* Any anchor: whether it is the current signer's is the ceremonies' and
     * verify-transcript's business; a backup pins the log it carries. */
    st = load_transcript(root, NULL, &t, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "the ceremony transcript (a backup pins its head)");
        goto cleanup;
    }
    st = hb_transcript_pin_compare(t, &pin, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "no backup is made of a transcript that lost its pinned head");
        goto cleanup;
    }
    if (t != NULL && t->n > 0) {
        *seq = t->n;
        memcpy(head, t->entries[t->n - 1].hash, 65);
    }
cleanup:
    hb_transcript_free(t);
    return st;
}

hb_status hb_transcript_pin_of_manifest(const hb_manifest *m, hb_transcript_pin *out,
                                        hb_err *err)
{
    hb_status st = HB_OK;
    memset(out, 0, sizeof *out);
    if (m->transcript_seq == 0)
        goto cleanup;
    out->seq = m->transcript_seq;
    out->from_backup = true;
    memcpy(out->head, m->transcript_head, sizeof out->head);
    HB_TRY(hb_format(out->backup_id, sizeof out->backup_id, "the transcript pin", err, "%s",
                     m->id));
    HB_TRY(hb_format(out->time, sizeof out->time, "the transcript pin", err, "%s", m->created));
    HB_TRY(hb_format(out->how, sizeof out->how, "the transcript pin", err, "made"));
cleanup:
    return st;
}

hb_status hb_transcript_pin_record_backup(const char *root, const hb_manifest *m,
                                          const char *how, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript_pin pin;
    bool restored = strcmp(how, "restored") == 0;
    HB_TRY(hb_transcript_pin_of_manifest(m, &pin, err));
    if (pin.seq == 0) {
        if (restored)
            HB_TRY(pin_remove(root, err));
        goto cleanup;
    }
    if (restored)
        memcpy(pin.how, "restored", sizeof "restored");
    HB_TRY(pin_store(root, &pin, err));
cleanup:
    return st;
}

/* ---- ceremonies ---- */

hb_status hb_transcript_pin_guard(const char *root, X509 *signer, bool new_transcript,
                                  hb_pin_guard *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    hb_transcript_pin pin;
    char src[160];
    memset(out, 0, sizeof *out);
    HB_TRY(hb_transcript_pin_load(root, &pin, err));
    st = load_transcript(root, signer, &t, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "nothing is appended to a transcript that does not verify");
        goto cleanup;
    }
    if (t != NULL) {
        HB_ENSURE(!new_transcript, HB_E_REFUSED, "--new-transcript starts a log only where "
                  "config/custody-transcript.xml is missing; this system has one (%zu %s) "
                  "and the ceremony appends to it", t->n, t->n == 1 ? "entry" : "entries");
        HB_TRY(hb_transcript_pin_compare(t, &pin, err));
        goto cleanup;
    }
    if (pin.seq > 0 && !new_transcript)
        HB_TRY(hb_transcript_pin_compare(NULL, &pin, err));
    out->new_log = true;
    if (!new_transcript)
        goto cleanup; /* the first ceremony ever: a log starts as it always did */
    if (pin.seq > 0)
        HB_TRY(pin_source(&pin, src, sizeof src, err));
    if (pin.seq > 0)
        HB_TRY(hb_format(out->note, sizeof out->note, "a transcript note", err,
                         "new transcript; previous head seq %llu %s pinned by %s",
                         (unsigned long long)pin.seq, pin.head, src));
    else
        HB_TRY(hb_format(out->note, sizeof out->note, "a transcript note", err,
                         "new transcript; no earlier head known"));
cleanup:
    hb_transcript_free(t);
    return st;
}

hb_status hb_transcript_pin_after_append(const char *root, X509 *signer, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    hb_transcript_pin pin = {0};
    HB_TRY(load_transcript(root, signer, &t, err));
    HB_ENSURE(t != NULL && t->n > 0, HB_E_INTERNAL, "the ceremony transcript is not there "
              "after an entry was appended to it");
    pin.seq = t->n;
    memcpy(pin.head, t->entries[t->n - 1].hash, sizeof pin.head);
    memcpy(pin.time, t->entries[t->n - 1].time, sizeof pin.time);
    HB_TRY(pin_store(root, &pin, err));
cleanup:
    hb_transcript_free(t);
    return st;
}
