/* The custody store against the signed transcript (store_attest.h). The
 * store (config/custody.xml) is unsigned: anyone who can write config could
 * paste an enrollment or lower a threshold. The transcript's last entry
 * carries a signed snapshot of what the store must be; this is where the two
 * are compared, field by field, naming the first disagreement. */
#include "backup/custody/store_attest.h"

#include "backup/custody/custody_internal.h"
#include "backup/custody/objects.h"
#include "backup/custody/snapshot.h"
#include "backup/custody/transcript.h"
#include "common/fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ADVICE "the store was changed outside a ceremony; restore config/custody.xml from a " \
               "backup, or record the change in a ceremony ('hsmbak ceremony attest' records " \
               "the store as it is); nothing was written"

/* The comparison's one message: what differs, then which entry says so. */
static hb_status disagree(hb_err *err, const hb_transcript_entry *head, const char *fmt, ...)
    HB_PRINTF(3, 4);
static hb_status disagree(hb_err *err, const hb_transcript_entry *head, const char *fmt, ...)
{
    char what[HB_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (n < 0)
        what[0] = '\0';
    return hb_fail(err, HB_E_VERIFY, "custody store and ceremony transcript disagree: %s "
                   "(entry %lu, %s, %s): " ADVICE, what, head->seq, head->what, head->time);
}

static const char *group_state(bool retired)
{
    return retired ? "retired" : "active";
}

static hb_status compare_enrollment(const hb_snapshot_enrollment *s,
                                    const hb_snapshot_enrollment *t, const char *path,
                                    const hb_transcript_entry *head, hb_err *err)
{
    if (s->state != t->state)
        return disagree(err, head, "enrollment '%s' is %s in %s but %s in the transcript",
                        s->name, hb_enrollment_state_name(s->state), path,
                        hb_enrollment_state_name(t->state));
    if (strcmp(s->fingerprint, t->fingerprint) != 0)
        return disagree(err, head, "enrollment '%s' has certificate SHA-256 %s in %s but %s "
                        "in the transcript", s->name, s->fingerprint[0] ? s->fingerprint
                        : "(none)", path, t->fingerprint[0] ? t->fingerprint : "(none)");
    if (strcmp(s->spki_sha256, t->spki_sha256) != 0)
        return disagree(err, head, "enrollment '%s' has a public key with SPKI SHA-256 %s in "
                        "%s but %s in the transcript", s->name, s->spki_sha256, path,
                        t->spki_sha256);
    if (s->key_wrap != t->key_wrap)
        return disagree(err, head, "enrollment '%s' has key-wrap %s in %s but %s in the "
                        "transcript", s->name, hb_oaep_hash_name(s->key_wrap), path,
                        hb_oaep_hash_name(t->key_wrap));
    return HB_OK;
}

static hb_status compare_group(const hb_snapshot_group *s, const hb_snapshot_group *t,
                               const char *path, const hb_transcript_entry *head, hb_err *err)
{
    if (s->threshold != t->threshold)
        return disagree(err, head, "quorum '%s' has threshold %u in %s but %u in the "
                        "transcript", s->name, s->threshold, path, t->threshold);
    if (s->retired != t->retired)
        return disagree(err, head, "quorum '%s' is %s in %s but %s in the transcript", s->name,
                        group_state(s->retired), path, group_state(t->retired));
    if (s->n_members != t->n_members)
        return disagree(err, head, "quorum '%s' has %zu members in %s but %zu in the "
                        "transcript", s->name, s->n_members, path, t->n_members);
    for (size_t k = 0; k < s->n_members; k++)
        if (strcmp(s->members[k], t->members[k]) != 0)
            return disagree(err, head, "member %zu of quorum '%s' is SHA-256 %s in %s but %s "
                            "in the transcript", k + 1, s->name, s->members[k], path,
                            t->members[k]);
    return HB_OK;
}

/* Both lists are sorted by name: one merge walk finds what is in one only. */
static hb_status compare(const hb_custody_snapshot *s, const hb_custody_snapshot *t,
                         const char *path, const hb_transcript_entry *head, hb_err *err)
{
    hb_status st = HB_OK;
    size_t i = 0, k = 0;
    while (st == HB_OK && (i < s->n || k < t->n)) {
        int c = i == s->n ? 1 : k == t->n ? -1
                                          : strcmp(s->enrollments[i].name, t->enrollments[k].name);
        if (c < 0)
            return disagree(err, head, "enrollment '%s' (certificate SHA-256 %s) is in %s but "
                            "not in the transcript", s->enrollments[i].name,
                            s->enrollments[i].fingerprint[0] ? s->enrollments[i].fingerprint
                                                             : "(none yet)", path);
        if (c > 0)
            return disagree(err, head, "enrollment '%s' is in the transcript but not in %s",
                            t->enrollments[k].name, path);
        st = compare_enrollment(&s->enrollments[i++], &t->enrollments[k++], path, head, err);
    }
    i = k = 0;
    while (st == HB_OK && (i < s->n_groups || k < t->n_groups)) {
        int c = i == s->n_groups ? 1 : k == t->n_groups ? -1
                                       : strcmp(s->groups[i].name, t->groups[k].name);
        if (c < 0)
            return disagree(err, head, "quorum '%s' is in %s but not in the transcript",
                            s->groups[i].name, path);
        if (c > 0)
            return disagree(err, head, "quorum '%s' is in the transcript but not in %s",
                            t->groups[k].name, path);
        st = compare_group(&s->groups[i++], &t->groups[k++], path, head, err);
    }
    return st;
}

hb_status hb_store_attest_compare(const hb_custody *c, const hb_transcript *t,
                                  const char *tpath, bool legacy_ok, bool *legacy, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody_snapshot now = {0};
    bool empty = c->n == 0 && c->n_groups == 0;
    if (legacy != NULL)
        *legacy = false;
    if (t == NULL || t->n == 0) {
        HB_ENSURE(empty, HB_E_VERIFY, "custody store and ceremony transcript disagree: %s "
                  "holds %zu enrollment(s) and %zu quorum group(s) but %s '%s' (it was "
                  "deleted, or the store was written outside a ceremony): restore "
                  "config/custody-transcript.xml from a backup; nothing was written",
                  c->path, c->n, c->n_groups,
                  t == NULL ? "there is no ceremony transcript at" : "no entry is recorded in",
                  tpath);
        goto cleanup;
    }
    const hb_transcript_entry *head = &t->entries[t->n - 1];
    if (head->version < 2) {
        if (legacy_ok && legacy != NULL) {
            *legacy = true;
            goto cleanup;
        }
        HB_FAIL(HB_E_REFUSED, "the ceremony transcript's last entry (entry %lu, %s, %s) was "
                "written by an older hsmbak and does not record the custody store, so %s "
                "cannot be checked against it: run 'hsmbak ceremony attest' (it prints the "
                "store and records it, signed by the backup signer), after checking what it "
                "prints; nothing was written", head->seq, head->what, head->time, c->path);
    }
    const hb_custody_snapshot *signed_state = &head->snapshot;
    if (empty && (signed_state->n > 0 || signed_state->n_groups > 0))
        HB_TRY(disagree(err, head, "%s has no enrollments or quorum groups (it was deleted or "
                        "emptied) but the transcript records %zu enrollment(s) and %zu quorum "
                        "group(s)", c->path, signed_state->n, signed_state->n_groups));
    HB_TRY(hb_custody_snapshot_of(c, &now, err));
    HB_TRY(compare(&now, signed_state, c->path, head, err));
cleanup:
    hb_custody_snapshot_free(&now);
    return st;
}

/* The backup signer's certificate (the transcript's anchor must be it);
 * *out stays NULL when no backup signer is set. */
static hb_status signer_cert(hb_provider *p, const char *root, X509 **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    *out = NULL;
    HB_TRY(hb_objects_load(root, &store, err));
    const char *name = hb_objects_backup_signer(store);
    const hb_crypto_object *id = name ? hb_objects_find(store, HB_OBJECT_IDCRED, name) : NULL;
    if (id != NULL)
        HB_TRY(hb_objects_load_certificate(store, p, id->certificate, out, err));
cleanup:
    hb_objects_free(store);
    return st;
}

hb_status hb_store_attest_check(hb_provider *p, const char *root, const hb_custody *c,
                                const char *refusal, hb_err *err)
{
    hb_status st = HB_OK;
    hb_transcript *t = NULL;
    X509 *cert = NULL;
    char tpath[PATH_MAX];
    bool empty = c->n == 0 && c->n_groups == 0;
    HB_TRY(hb_transcript_path(root, tpath, sizeof tpath, err));
    HB_TRY(signer_cert(p, root, &cert, err));
    if (cert == NULL) {
        HB_ENSURE(empty, HB_E_REFUSED, "%s holds %zu enrollment(s) and %zu quorum group(s), "
                  "but no backup signer is set, so the ceremony transcript that vouches for "
                  "them cannot be checked: set the backup signer ('hsmbak crypto "
                  "backup-signer') first; nothing was written", c->path, c->n, c->n_groups);
        goto cleanup;
    }
    st = hb_transcript_verify(tpath, cert, &t, err);
    if (st == HB_E_NOT_FOUND) {
        st = HB_OK;
        t = NULL;
    } else if (st != HB_OK) {
        hb_err_prefix(err, "%s", refusal);
        goto cleanup;
    }
    HB_TRY(hb_store_attest_compare(c, t, tpath, false, NULL, err));
cleanup:
    X509_free(cert);
    hb_transcript_free(t);
    return st;
}
