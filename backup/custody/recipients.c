/* Recipient sets for secure-backup (docs/custody.md "Recipient sets"): who a
 * backup is encrypted to, from the command line's names or, with none, from
 * the enrollments and quorum groups of the custody store. */
#include "backup/custody/custody_internal.h"
#include "backup/custody/recipients.h"

#include "backup/custody/objects.h"
#include "backup/custody/store_attest.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/x509.h"
#include "provider/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_recipient_set_free(hb_recipient_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_singles; i++)
        X509_free(s->singles[i].cert);
    free(s->singles);
    for (size_t i = 0; i < s->n_groups; i++) {
        for (size_t k = 0; k < s->groups[i].n; k++)
            X509_free(s->groups[i].certs[k]);
        free(s->groups[i].certs);
        free(s->groups[i].hashes);
    }
    free(s->groups);
    hb_strlist_free(&s->warnings);
    memset(s, 0, sizeof *s);
}

/* Takes cert. A certificate already in the set is dropped silently. */
static hb_status add_single(hb_recipient_set *s, X509 *cert, hb_oaep_hash hash, bool ignore_exp,
                            const char label[HB_RSET_LABEL_MAX], hb_err *err)
{
    hb_status st = HB_OK;
    char fp[65];
    hb_rset_single *r;
    HB_TRY(hb_x509_fingerprint(cert, fp, err));
    for (size_t i = 0; i < s->n_singles; i++)
        if (strcmp(s->singles[i].fingerprint, fp) == 0)
            goto cleanup;
    HB_PUSH(r, s->singles, s->n_singles, HB_CUSTODY_MAX_RECORDS);
    r->cert = cert;
    cert = NULL;
    r->hash = hash;
    r->ignore_expiration = ignore_exp;
    memcpy(r->label, label, HB_RSET_LABEL_MAX);
    memcpy(r->fingerprint, fp, 65);
cleanup:
    X509_free(cert);
    return st;
}

static hb_status refuse_state(const hb_enrollment *e, hb_err *err)
{
    if (e->state == HB_ENROLL_RETIRED)
        return hb_fail(err, HB_E_REFUSED, "enrolled recipient '%s' (SHA-256 %.16s...) was "
                       "retired on %s: no new backup is made to it (its key still opens older "
                       "backups)", e->name, e->fingerprint, e->retired);
    return hb_fail(err, HB_E_REFUSED, "enrolled recipient '%s' is still waiting for its "
                   "CA-signed certificate: run 'hsmbak ceremony import-cert %s FILE' first",
                   e->name, e->name);
}

static hb_status add_enrollment(hb_recipient_set *s, const hb_enrollment *e, hb_err *err)
{
    X509 *cert = NULL;
    char label[HB_RSET_LABEL_MAX];
    if (e->state != HB_ENROLL_ACTIVE)
        return refuse_state(e, err);
    /* An enrollment name has at most 64 characters: the label fits. */
    hb_status st = hb_format(label, sizeof label, "a recipient label", err,
                             "enrolled recipient '%s'", e->name);
    if (st == HB_OK)
        st = hb_enrollment_expiry_warning(e, time(NULL), &s->warnings, err);
    if (st == HB_OK)
        st = hb_enrollment_cert(e, &cert, err);
    if (st != HB_OK)
        return st;
    return add_single(s, cert, e->key_wrap, false, label, err);
}

/* The active members of group g; HB_E_REFUSED when fewer than its threshold. */
static hb_status add_group(hb_recipient_set *s, const hb_custody *c, const hb_quorum_group *g,
                           hb_err *err)
{
    hb_status st = HB_OK;
    hb_rset_group grp = {0}, *slot;
    HB_ENSURE(!g->retired, HB_E_REFUSED, "quorum group '%s' is retired", g->name);
    grp.certs = calloc(g->n_members, sizeof *grp.certs);
    grp.hashes = calloc(g->n_members, sizeof *grp.hashes);
    HB_ALLOC(grp.certs);
    HB_ALLOC(grp.hashes);
    HB_TRY(hb_format(grp.name, sizeof grp.name, "a quorum group name", err, "%s", g->name));
    grp.threshold = g->threshold;
    for (size_t i = 0; i < g->n_members; i++) {
        const hb_enrollment *e = hb_custody_find(c, g->members[i]);
        if (e == NULL || e->state != HB_ENROLL_ACTIVE)
            continue; /* a retired member gets no share of new backups */
        HB_TRY(hb_enrollment_expiry_warning(e, time(NULL), &s->warnings, err));
        HB_TRY(hb_enrollment_cert(e, &grp.certs[grp.n], err));
        grp.hashes[grp.n++] = e->key_wrap;
    }
    HB_ENSURE(grp.n >= grp.threshold, HB_E_REFUSED, "quorum group '%s' has %zu active members, "
              "fewer than its threshold %u (members were retired): define a new group with "
              "'hsmbak ceremony quorum'", g->name, grp.n, g->threshold);
    HB_PUSH_MOVE(slot, s->groups, s->n_groups, HB_CUSTODY_MAX_RECORDS, grp);
cleanup:
    for (size_t i = 0; i < grp.n; i++)
        X509_free(grp.certs[i]);
    free(grp.certs);
    free(grp.hashes);
    return st;
}

/* A member of a quorum group, active or retired: retiring a group never
 * makes one of its members able to open the next default backup alone
 * (issue 15). Such a recipient is used alone only when named. */
static bool in_a_group(const hb_custody *c, const char *fp)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        for (size_t k = 0; k < c->groups[i].n_members; k++)
            if (strcmp(c->groups[i].members[k], fp) == 0)
                return true;
    }
    return false;
}

/* A recipient whose token is known to refuse its key-wrap would make a
 * backup nobody can open: refused before anything is written. One never
 * probed is a warning (docs/custody.md "Key wraps"). */
static hb_status check_key_wrap(hb_recipient_set *s, const hb_crypto_object *o, const char *fp,
                                hb_err *err)
{
    const char *wrap = hb_oaep_hash_name(o->key_wrap);
    switch (hb_objects_key_wrap_state(o, fp)) {
    case HB_KEY_WRAP_REFUSED:
        if (o->key_wraps_accepted == 0)
            return hb_fail(err, HB_E_REFUSED, "recipient certificate '%s': its token's key "
                           "unwraps with neither rsa-oaep-sha1 nor rsa-oaep-sha256 (asked when "
                           "the certificate was defined): no backup was written; choose a "
                           "recipient key", o->name);
        return hb_fail(err, HB_E_REFUSED, "recipient certificate '%s': its token refuses "
                       "key-wrap %s (asked when the certificate was defined, it takes %s): no "
                       "backup was written; define it again with --key-wrap %s", o->name, wrap,
                       hb_oaep_hash_name(o->key_wrap == HB_OAEP_SHA1 ? HB_OAEP_SHA256
                                                                    : HB_OAEP_SHA1),
                       hb_oaep_hash_name(o->key_wrap == HB_OAEP_SHA1 ? HB_OAEP_SHA256
                                                                    : HB_OAEP_SHA1));
    case HB_KEY_WRAP_UNPROBED:
        return hb_strlist_addf(&s->warnings, err, "warning: recipient certificate '%s': "
                               "key-wrap %s is unprobed (no token holding its key was asked "
                               "whether it unwraps with it); if that token refuses it, this "
                               "backup cannot be opened: define the certificate where its "
                               "token is attached", o->name, wrap);
    default:
        return HB_OK;
    }
}

static hb_status add_cert_object(hb_recipient_set *s, const hb_object_store *store,
                                 const hb_custody *c, hb_provider *p, const char *name,
                                 hb_err *err)
{
    X509 *cert = NULL;
    char fp[65], label[HB_RSET_LABEL_MAX];
    const hb_crypto_object *o = hb_objects_find(store, HB_OBJECT_CERTIFICATE, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no certificate object, enrolled recipient or "
                       "quorum group named '%s'; define a certificate with 'hsmbak crypto "
                       "certificate %s cert:///FILE' or enroll one with 'hsmbak ceremony "
                       "enroll'", name, name);
    if (!o->enabled)
        return hb_fail(err, HB_E_REFUSED, "certificate '%s' is disabled", name);
    hb_status st = hb_objects_load_certificate(store, p, name, &cert, err);
    if (st == HB_OK)
        st = hb_x509_fingerprint(cert, fp, err);
    if (st != HB_OK) {
        X509_free(cert);
        hb_err_prefix(err, "recipient certificate '%s'", name);
        return st;
    }
    const hb_enrollment *e = hb_custody_find(c, fp);
    if (e != NULL && e->state == HB_ENROLL_RETIRED) {
        X509_free(cert);
        return refuse_state(e, err);
    }
    /* An object name has at most HB_OBJECT_NAME_MAX characters: the label fits. */
    st = hb_format(label, sizeof label, "a recipient label", err, "recipient certificate '%s'",
                   name);
    if (st == HB_OK)
        st = check_key_wrap(s, o, fp, err);
    if (st != HB_OK) {
        X509_free(cert);
        return st;
    }
    return add_single(s, cert, o->key_wrap, o->ignore_expiration, label, err);
}

/* Some name is a quorum group or an enrollment of the custody store (a
 * certificate object named from crypto.xml is the operator's own choice). */
static bool names_in_store(const hb_custody *c, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hb_custody_find_group(c, names[i]) != NULL || hb_custody_find(c, names[i]) != NULL)
            return true;
    return false;
}

hb_status hb_recipient_set_resolve(const char *root, hb_provider *p, const char *const *names,
                                   size_t n, hb_recipient_set *out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_custody *c = NULL;
    hb_object_store *store = NULL;
    hb_recipient_set s = {0};
    HB_TRY(hb_custody_load(root, &c, err));
    /* Recipients from the store only as far as the signed transcript says
     * the store is (issue 15): checked before any is used. (The caller has
     * checked the transcript against its pinned head already.) */
    if (n == 0 || names_in_store(c, names, n))
        HB_TRY(hb_store_attest_check(p, root, c, "the custody store is checked against the "
                                     "ceremony transcript, which does not verify; nothing "
                                     "was written", err));
    if (n == 0) {
        for (size_t i = 0; i < c->n_groups; i++) {
            if (c->groups[i].retired)
                continue;
            hb_err sub = {0};
            if (add_group(&s, c, &c->groups[i], &sub) != HB_OK)
                HB_TRY(hb_strlist_addf(&s.warnings, err, "warning: skipped: %s", sub.msg));
        }
        for (size_t i = 0; i < c->n; i++) {
            const hb_enrollment *e = &c->enrollments[i];
            /* A quorum member opens default backups only together with the
             * others, also once the group is retired. */
            if (e->state == HB_ENROLL_ACTIVE && !in_a_group(c, e->fingerprint))
                HB_TRY(add_enrollment(&s, e, err));
        }
        if (s.n_singles == 0 && s.n_groups == 0) {
            st = hb_fail(err, HB_E_USAGE, "no recipients: name at least one recipient "
                         "certificate object ('hsmbak secure-backup CERT[,CERT...] DEST'), or "
                         "enroll recipients with 'hsmbak ceremony enroll' (members of a "
                         "quorum group, also a retired one, are default recipients only "
                         "through an active group: form one with 'hsmbak ceremony quorum' "
                         "or name them)");
            goto cleanup;
        }
    } else {
        HB_TRY(hb_objects_load(root, &store, err));
        for (size_t i = 0; i < n; i++) {
            const hb_quorum_group *g = hb_custody_find_group(c, names[i]);
            const hb_enrollment *e = g == NULL ? hb_custody_find(c, names[i]) : NULL;
            bool dup = false;
            for (size_t k = 0; g != NULL && k < s.n_groups; k++)
                dup = dup || strcmp(s.groups[k].name, g->name) == 0;
            if (g != NULL && !dup)
                HB_TRY(add_group(&s, c, g, err));
            else if (e != NULL)
                HB_TRY(add_enrollment(&s, e, err));
            else if (g == NULL)
                HB_TRY(add_cert_object(&s, store, c, p, names[i], err));
        }
    }
    *out = s;
    memset(&s, 0, sizeof s);
cleanup:
    hb_recipient_set_free(&s);
    hb_objects_free(store);
    hb_custody_free(c);
    return st;
}
