/* The credentials a restore opens a backup with (credentials.h): one idcred
 * that is a single recipient, or a quorum's group key gathered from several
 * idcreds, one token at a time (docs/custody.md, docs/FORMAT.md §8). */
#include "backup/custody/credentials.h"

#include "backup/custody/quorum.h"
#include "backup/custody/wrap.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/x509.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hb_credentials {
    /* One idcred whose certificate is a single recipient... */
    const char *idcred;                      /* borrowed from the caller's names */
    X509 *cert;
    EVP_PKEY *key;
    const hb_manifest_recipient *recipient;  /* into the manifest; set by the check */
    const char *backup_id;                   /* into the manifest; set by the check */
    hb_oaep_hash hash;
    /* ...or a quorum group's key (kept in the secure heap with the struct). */
    const hb_manifest_quorum *quorum;        /* into the manifest */
    uint8_t g[HB_QUORUM_KEY_LEN];
    char *bad_shares;                        /* the shares not used, said; NULL: none */
};

/* ---- certificates: which idcreds are which recipients (no login) --------- */

static hb_status idcred_cert(const hb_object_store *s, hb_provider *p, const char *name,
                             X509 **out, hb_err *err)
{
    const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_IDCRED, name);
    if (o == NULL)
        return hb_fail(err, HB_E_NOT_FOUND, "no idcred named '%s'; define it with "
                       "'hsmbak crypto idcred %s KEY CERT'", name, name);
    return hb_objects_load_certificate(s, p, o->certificate, out, err);
}

static bool der_is(X509 *cert, const uint8_t *der, size_t len)
{
    unsigned char *mine = NULL;
    int n = i2d_X509(cert, &mine);
    bool same = n > 0 && (size_t)n == len && memcmp(mine, der, len) == 0;
    OPENSSL_free(mine);
    return same;
}

/* The first of names whose certificate is a single recipient of m, or NULL.
 * An idcred that cannot even give its certificate is reported by the path
 * that uses it, in that path's words. */
static const char *pick_single(const hb_object_store *s, hb_provider *p, const hb_manifest *m,
                               const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        X509 *cert = NULL;
        hb_err ignored;
        if (idcred_cert(s, p, names[i], &cert, &ignored) != HB_OK)
            continue;
        bool recipient = hb_manifest_find_recipient_cert(m, cert) != NULL;
        X509_free(cert);
        if (recipient)
            return names[i];
    }
    return NULL;
}

static void free_certs(X509 **certs, size_t n)
{
    for (size_t i = 0; certs != NULL && i < n; i++)
        X509_free(certs[i]);
    free(certs);
}

/* The certificate of every idcred, in order. */
static hb_status load_certs(const hb_object_store *s, hb_provider *p, const char *const *names,
                            size_t n, X509 ***out, hb_err *err)
{
    hb_status st = HB_OK;
    X509 **certs = calloc(n ? n : 1, sizeof *certs);
    HB_ALLOC(certs);
    for (size_t i = 0; i < n; i++)
        HB_TRY(idcred_cert(s, p, names[i], &certs[i], err));
    *out = certs;
    certs = NULL;
cleanup:
    free_certs(certs, n);
    return st;
}

/* The member of q that cert is, or SIZE_MAX. */
static size_t member_index(const hb_manifest_quorum *q, X509 *cert)
{
    for (size_t k = 0; k < q->n_members; k++)
        if (der_is(cert, q->members[k].cert_der, q->members[k].cert_der_len))
            return k;
    return SIZE_MAX;
}

/* The quorum the idcreds cover best, relative to its threshold. */
static const hb_manifest_quorum *best_quorum(const hb_manifest *m, X509 *const *certs, size_t n)
{
    const hb_manifest_quorum *best = NULL;
    size_t best_count = 0;
    for (size_t qi = 0; qi < m->n_quorums; qi++) {
        const hb_manifest_quorum *q = &m->quorums[qi];
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
            count += member_index(q, certs[i]) != SIZE_MAX;
        if (best == NULL || count * best->threshold > best_count * q->threshold) {
            best = q;
            best_count = count;
        }
    }
    return best;
}

/* member_of[i]: which member of q idcred i is; SIZE_MAX when none, or when
 * an earlier idcred is the same member (it counts once). Returns how many
 * distinct members are present. */
static size_t match_members(const hb_manifest_quorum *q, X509 *const *certs, size_t n,
                            size_t *member_of)
{
    size_t present = 0;
    for (size_t i = 0; i < n; i++) {
        member_of[i] = member_index(q, certs[i]);
        for (size_t j = 0; j < i && member_of[i] != SIZE_MAX; j++)
            if (member_of[j] == member_of[i])
                member_of[i] = SIZE_MAX;
        present += member_of[i] != SIZE_MAX;
    }
    return present;
}

/* Fewer than the threshold: say how many are present, how many are needed,
 * and which certificates could help. A shortened list is harmless here (the
 * message itself ends in "..." when cut). */
static hb_status refuse_short(const hb_manifest_quorum *q, const char *const *names, size_t n,
                              const size_t *member_of, size_t present, const size_t *bad_of,
                              const char *bad, hb_err *err)
{
    hb_buf have = HB_BUF_INIT(1024), helpers = HB_BUF_INIT(2048);
    hb_err ignored;
    for (size_t i = 0; i < n; i++)
        if (member_of[i] != SIZE_MAX &&
            hb_buf_addf(&have, &ignored, "%s%s", have.len ? ", " : "", names[i]) != HB_OK)
            break;
    for (size_t k = 0; k < q->n_members; k++) {
        bool mine = false;
        for (size_t i = 0; i < n; i++)
            mine = mine || member_of[i] == k || (bad_of != NULL && bad_of[i] == k);
        if (!mine && hb_buf_addf(&helpers, &ignored, "%s%s (%s)", helpers.len ? ", " : "",
                                 q->members[k].fingerprint, q->members[k].subject) != HB_OK)
            break;
    }
    /* A share that does not match the signed manifest is an integrity
     * failure (5); too few members given is a refusal (6). */
    hb_status st = hb_fail(err, bad != NULL ? HB_E_VERIFY : HB_E_REFUSED,
                           "quorum '%s' needs %u of its %zu member shares to open this backup, "
                           "but only %zu %s%s present (%s)%s%s; %zu more needed: add --idcred "
                           "for members holding any of these certificates (SHA-256): %s",
                           q->name, q->threshold, q->n_members, present,
                           bad == NULL ? "" : present == 1 ? "good share " : "good shares ",
                           present == 1 ? "is" : "are",
                           present ? hb_buf_str(&have) : "none of the idcreds given",
                           bad != NULL ? ": " : "", bad != NULL ? bad : "",
                           (size_t)q->threshold - present,
                           helpers.len ? hb_buf_str(&helpers) : "(none left)");
    hb_buf_free(&have);
    hb_buf_free(&helpers);
    return st;
}

/* ---- keys: one idcred at a time ------------------------------------------ */

/* Load an idcred's key; when its token is absent, ask for it. */
static hb_status load_key(const hb_object_store *s, hb_provider *p, const char *name,
                          hb_insert_token_fn insert, void *insert_ctx, X509 **cert,
                          EVP_PKEY **key, hb_err *err)
{
    for (;;) {
        hb_status st = hb_objects_load_idcred(s, p, name, cert, key, err);
        if (st != HB_E_NOT_FOUND)
            return st;
        if (insert == NULL || !insert(insert_ctx, name, err->msg)) {
            hb_err_prefix(err, "the token of idcred '%s' is needed for its quorum share (when "
                          "several tokens share one reader, run on a terminal: hsmbak asks "
                          "for each in turn)", name);
            return st;
        }
    }
}

/* Unwrap member mem's share with idcred name's key, then let go of the key.
 * *share_bad: the failure is the share's (the token refused it, or it is not
 * a share for mem's x), not the key's or the token's. */
static hb_status unwrap_share(const hb_object_store *s, hb_provider *p, const hb_manifest *m,
                              const hb_manifest_quorum *q, const hb_manifest_quorum_member *mem,
                              const char *name, hb_insert_token_fn insert, void *insert_ctx,
                              uint8_t share[HB_QUORUM_SHARE_LEN], bool *share_bad, hb_err *err)
{
    hb_wrap_label label;
    hb_status st = HB_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    uint8_t *plain = NULL;
    size_t plain_cap = 0, len = 0;
    hb_oaep_hash hash;
    *share_bad = false;
    HB_TRY(hb_oaep_hash_from_name(mem->key_wrap, &hash, err));
    /* The label from the signed manifest's own fields (FORMAT.md §2.1). */
    if (mem->oaep_label)
        HB_TRY(hb_wrap_label_make("share", hb_manifest_id(m), q->name, mem->fingerprint, &label,
                                  err));
    HB_TRY(load_key(s, p, name, insert, insert_ctx, &cert, &key, err));
    int size = EVP_PKEY_get_size(key);
    if (size <= 0)
        HB_FAIL_OSSL(HB_E_TOKEN, "cannot get the size of the key of idcred '%s'", name);
    plain_cap = (size_t)size;
    plain = OPENSSL_secure_malloc(plain_cap);
    HB_ALLOC(plain);
    *share_bad = true;
    st = hb_provider_decrypt_oaep_labelled(p, key, hash, mem->oaep_label ? label.bytes : NULL,
                                           mem->oaep_label ? label.len : 0, mem->wrapped_share,
                                           mem->wrapped_share_len, plain, &len, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "unwrapping the quorum share of idcred '%s'", name);
        goto cleanup;
    }
    HB_ENSURE(len == HB_QUORUM_SHARE_LEN && plain[0] == mem->x, HB_E_VERIFY,
              "the quorum share of idcred '%s' is not a share for x = %u (%zu bytes): the "
              "manifest was not made by hsmbak", name, mem->x, len);
    memcpy(share, plain, HB_QUORUM_SHARE_LEN);
    *share_bad = false;
cleanup:
    OPENSSL_secure_clear_free(plain, plain_cap);
    X509_free(cert);
    EVP_PKEY_free(key);
    return st;
}

/* "quorum 'vault': the share of member bob (SHA-256 FP, CN=...) WHY; it is
 * not used", appended to the notes (joined by "; "). */
static hb_status note_bad_share(hb_buf *notes, const hb_manifest_quorum *q,
                                const hb_manifest_quorum_member *mem, const char *name,
                                const char *why, hb_err *err)
{
    return hb_buf_addf(notes, err, "%squorum '%s': the share of member %s (SHA-256 %s, %s) %s; "
                       "it is not used", notes->len ? "; " : "", q->name, name, mem->fingerprint,
                       mem->subject, why);
}

/* Whether q's manifest entries carry share commitments (all or none, the
 * builder sees to it). */
static bool has_commitments(const hb_manifest_quorum *q)
{
    return q->n_members > 0 && q->members[0].has_commitment;
}

/* G of the quorum the idcreds cover best, from threshold or more shares.
 * With share commitments (docs/FORMAT.md §8.2) each share is compared with
 * its signed commitment as it is unwrapped; one that does not match, or
 * that its token refuses, is named and left out, and the first threshold
 * good shares open the backup (later idcreds' tokens are not asked). Without
 * them (older manifests) every present share is used, as before. */
static hb_status recover_group_key(hb_credentials *c, const hb_object_store *s, hb_provider *p,
                                   const hb_manifest *m, const char *const *names, size_t n,
                                   hb_insert_token_fn insert, void *insert_ctx, hb_err *err)
{
    hb_status st = HB_OK;
    X509 **certs = NULL;
    size_t *member_of = NULL, *bad_of = NULL, have = 0;
    uint8_t(*shares)[HB_QUORUM_SHARE_LEN] = NULL;
    uint8_t commitment[HB_QUORUM_COMMITMENT_LEN];
    hb_buf notes = HB_BUF_INIT(8192);
    HB_TRY(load_certs(s, p, names, n, &certs, err));
    const hb_manifest_quorum *q = best_quorum(m, certs, n);
    HB_ENSURE(q != NULL, HB_E_REFUSED, "none of the idcreds is a recipient of this backup");
    member_of = calloc(n ? n : 1, sizeof *member_of);
    bad_of = calloc(n ? n : 1, sizeof *bad_of);
    HB_ALLOC(member_of);
    HB_ALLOC(bad_of);
    shares = OPENSSL_secure_zalloc((n ? n : 1) * HB_QUORUM_SHARE_LEN);
    HB_ALLOC(shares);
    size_t present = match_members(q, certs, n, member_of);
    if (present < q->threshold) {
        st = refuse_short(q, names, n, member_of, present, NULL, NULL, err);
        goto cleanup;
    }
    bool checked = has_commitments(q);
    for (size_t i = 0; i < n; i++) {
        bad_of[i] = SIZE_MAX;
        if (member_of[i] == SIZE_MAX || (checked && have == q->threshold))
            continue;
        const hb_manifest_quorum_member *mem = &q->members[member_of[i]];
        bool share_bad = false;
        st = unwrap_share(s, p, m, q, mem, names[i], insert, insert_ctx, shares[have],
                          &share_bad, err);
        if (st != HB_OK && !(checked && share_bad))
            goto cleanup;
        const char *why = NULL;
        char refused[sizeof err->msg + 64];
        if (st != HB_OK) {
            HB_TRY(hb_format(refused, sizeof refused, "a message", err, "cannot be used (%s)",
                             err->msg));
            why = refused;
            st = HB_OK;
        } else if (checked) {
            HB_TRY(hb_quorum_share_commitment(m->id, q->name, shares[have], commitment, err));
            if (CRYPTO_memcmp(commitment, mem->commitment, sizeof commitment) != 0)
                why = "does not match the signed manifest";
        }
        if (why != NULL) {
            OPENSSL_cleanse(shares[have], HB_QUORUM_SHARE_LEN);
            HB_TRY(note_bad_share(&notes, q, mem, names[i], why, err));
            bad_of[i] = member_of[i];
            member_of[i] = SIZE_MAX;
            continue;
        }
        have++;
    }
    if (have < q->threshold) {
        st = refuse_short(q, names, n, member_of, have, bad_of, hb_buf_str(&notes), err);
        goto cleanup;
    }
    HB_TRY(hb_quorum_combine((const uint8_t(*)[HB_QUORUM_SHARE_LEN])shares, have, c->g, err));
    if (notes.len > 0)
        HB_ALLOC(c->bad_shares = strdup(hb_buf_str(&notes)));
    c->quorum = q;
cleanup:
    OPENSSL_cleanse(commitment, sizeof commitment);
    OPENSSL_secure_clear_free(shares, (n ? n : 1) * HB_QUORUM_SHARE_LEN);
    hb_buf_free(&notes);
    free(member_of);
    free(bad_of);
    free_certs(certs, n);
    return st;
}

/* ---- the object -------------------------------------------------------------- */

hb_status hb_credentials_open(const hb_object_store *s, hb_provider *p, const hb_manifest *m,
                              const char *const *names, size_t n, hb_insert_token_fn insert,
                              void *insert_ctx, hb_credentials **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_credentials *c = OPENSSL_secure_zalloc(sizeof *c);
    HB_ALLOC(c);
    HB_ENSURE(n > 0, HB_E_USAGE, "no idcred given to open the backup with");
    c->idcred = pick_single(s, p, m, names, n);
    if (c->idcred == NULL && m->n_quorums > 0) {
        HB_TRY(recover_group_key(c, s, p, m, names, n, insert, insert_ctx, err));
    } else {
        c->idcred = c->idcred != NULL ? c->idcred : names[0];
        HB_TRY(hb_objects_load_idcred(s, p, c->idcred, &c->cert, &c->key, err));
    }
    *out = c;
    c = NULL;
cleanup:
    hb_credentials_free(c);
    return st;
}

/* Not a recipient: say whose certificates can open the backup. */
static hb_status refuse_not_recipient(const hb_credentials *c, const hb_manifest *m,
                                      hb_err *err)
{
    char fp[65] = "";
    hb_err ignored;
    hb_buf list = HB_BUF_INIT(2048);
    if (hb_x509_fingerprint(c->cert, fp, &ignored) != HB_OK)
        fp[0] = '\0';
    for (size_t i = 0; i < m->n_recipients; i++)
        if (hb_buf_addf(&list, &ignored, "%s%s (%.16s...)", i ? ", " : "",
                        m->recipients[i].subject, m->recipients[i].fingerprint) != HB_OK)
            break;
    hb_status st = hb_fail(err, HB_E_REFUSED, "the certificate of idcred '%s' (SHA-256 "
                           "%.16s...) is not a recipient of this backup, so its key cannot "
                           "open it; the backup can be opened by: %s", c->idcred, fp,
                           hb_buf_str(&list));
    hb_buf_free(&list);
    return st;
}

hb_status hb_credentials_check_recipient(hb_credentials *c, const hb_manifest *m, hb_err *err)
{
    if (c->quorum != NULL)
        return HB_OK;
    c->recipient = hb_manifest_find_recipient_cert(m, c->cert);
    if (c->recipient == NULL)
        return refuse_not_recipient(c, m, err);
    c->backup_id = hb_manifest_id(m);
    return hb_oaep_hash_from_name(c->recipient->key_wrap, &c->hash, err);
}

hb_status hb_credentials_file_key(const hb_credentials *c, hb_provider *p,
                                  const hb_manifest_file *f, uint8_t dek[HB_DEK_LEN],
                                  hb_err *err)
{
    if (c->quorum == NULL && c->recipient == NULL)
        return hb_fail(err, HB_E_INTERNAL, "the recipient check was not made before unwrapping");
    const char *rid = c->quorum != NULL ? c->quorum->id : c->recipient->id;
    const hb_manifest_wrapped_key *wk = hb_manifest_find_wrapped_key(f, rid);
    if (wk == NULL)
        return hb_fail(err, HB_E_VERIFY, "the manifest has no key of '%s' for recipient %s",
                       f->filename, rid);
    /* The label from the signed manifest's own fields: this backup's id,
     * this file's name, the recipient's fingerprint (FORMAT.md §2.1). A key
     * moved here from another file or backup fails on the token. */
    hb_wrap_label label;
    bool labelled = c->quorum == NULL && c->recipient->oaep_label;
    hb_status st = labelled ? hb_wrap_label_make("dek", c->backup_id, f->name,
                                                 c->recipient->fingerprint, &label, err)
                            : HB_OK;
    if (st == HB_OK)
        st = c->quorum != NULL ? hb_quorum_unwrap_dek(c->g, wk->data, wk->len, dek, err)
                               : hb_unwrap_dek_labelled(p, c->key, c->hash,
                                                        labelled ? &label : NULL, wk->data,
                                                        wk->len, dek, err);
    if (st != HB_OK)
        hb_err_prefix(err, "unwrapping the key of '%s'", f->filename);
    return st;
}

const char *hb_credentials_bad_shares(const hb_credentials *c)
{
    return c != NULL ? c->bad_shares : NULL;
}

void hb_credentials_free(hb_credentials *c)
{
    if (c == NULL)
        return;
    free(c->bad_shares);
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    OPENSSL_secure_clear_free(c, sizeof *c);
}
