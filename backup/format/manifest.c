/* The manifest struct and its builder (DESIGN §4.3; quorum groups
 * docs/FORMAT.md §8): the value rules the reader shares, construction with
 * every value checked (so a built manifest always writes and reads back),
 * lookups, freeing, and the public read-only view. The reader and the writer
 * call into this file; it calls neither. */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/ids.h"
#include "common/names.h"
#include "common/x509.h"
#include "hsmbak/compression.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef HSMBAK_VERSION
#define HSMBAK_VERSION "0.0.0"
#endif

#define MAX_WRAPPED 2048 /* bytes: RSA-16384 OAEP, the largest key accepted */

/* ---- value checks (mirror data/schema/manifest.xsd) ---- */

bool hb_manifest_version_ok(const char *s)
{
    /* V.R.M.F: four dot-separated decimal numbers. */
    int parts = 0;
    size_t digits = 0;
    if (s == NULL)
        return false;
    for (;; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 9)
                return false;
        } else if (*s == '.' || *s == '\0') {
            if (digits == 0)
                return false;
            parts++;
            digits = 0;
            if (*s == '\0')
                break;
        } else {
            return false;
        }
    }
    return parts == 4;
}

bool hb_manifest_key_wrap_ok(const char *s)
{
    return s != NULL && (strcmp(s, "rsa-oaep-sha256") == 0 || strcmp(s, "rsa-oaep-sha1") == 0);
}

bool hb_manifest_rid_ok(const char *s)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    return s != NULL && s[0] != '\0' && strlen(s) <= 64 && s[strspn(s, set)] == '\0';
}

const char *hb_manifest_extension(const char *compression)
{
    hb_compression c;
    return hb_compression_from_name(compression, &c, NULL) == HB_OK
               ? hb_compression_extension(c) : NULL;
}

bool hb_manifest_filename_ok(const char *name, const char *filename, const char *compression)
{
    const char *ext = hb_manifest_extension(compression);
    if (ext == NULL || name == NULL || filename == NULL)
        return false;
    size_t n = strlen(name);
    return strncmp(filename, name, n) == 0 && strcmp(filename + n, ext) == 0;
}

/* ---- construction ---- */

static hb_status dup_str(const char *s, char **out, hb_err *err)
{
    char *d = NULL;
    if (s != NULL && (d = strdup(s)) == NULL)
        return hb_fail_oom(err);
    free(*out);
    *out = d;
    return HB_OK;
}

/* Ids are <letter>1, <letter>2, ... in order ("r3", "q1"); a manifest never
 * has gaps to reuse. */
static hb_status numbered_id(char letter, size_t count, char **out, hb_err *err)
{
    char id[32];
    hb_status st = hb_format(id, sizeof id, "an id", err, "%c%zu", letter, count + 1);
    return st != HB_OK ? st : dup_str(id, out, err);
}

static hb_status check_text(const char *field, const char *s, size_t max, hb_err *err)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > max || !hb_xml_text_ok(s))
        return hb_fail(err, HB_E_USAGE, "manifest %s must be 1..%zu characters of UTF-8 "
                       "without control characters", field, max);
    return HB_OK;
}

static hb_status check_name(const char *what, const char *name, hb_err *err)
{
    if (!hb_name_ok(name))
        return hb_fail(err, HB_E_USAGE, "%s '%s' must match [a-z0-9][a-z0-9-]*", what,
                       name != NULL ? name : "");
    return HB_OK;
}

hb_status hb_manifest_new(hb_manifest **out, hb_err *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return hb_fail_oom(err);
    return HB_OK;
}

hb_status hb_manifest_set_backup(hb_manifest *m, const char *id, const char *created,
                                 const char *tool, hb_err *err)
{
    hb_status st = HB_OK;
    char uuid[37], now[21];
    if (id == NULL) {
        HB_TRY(hb_uuid_v4(uuid, err));
        id = uuid;
    }
    if (created == NULL) {
        HB_TRY(hb_rfc3339_now(now, err));
        created = now;
    }
    if (tool == NULL)
        tool = "hsmbak " HSMBAK_VERSION;
    HB_ENSURE(hb_uuid_ok(id), HB_E_USAGE, "backup id '%s' is not a lowercase UUIDv4", id);
    HB_ENSURE(hb_rfc3339_ok(created), HB_E_USAGE, "backup time '%s' is not RFC 3339 UTC "
              "(YYYY-MM-DDThh:mm:ssZ)", created);
    HB_TRY(check_text("tool", tool, 256, err));
    HB_TRY(dup_str(id, &m->id, err));
    HB_TRY(dup_str(created, &m->created, err));
    HB_TRY(dup_str(tool, &m->tool, err));
cleanup:
    return st;
}

hb_status hb_manifest_set_sequence(hb_manifest *m, uint64_t sequence, hb_err *err)
{
    if (sequence == 0 || sequence > HB_MANIFEST_SEQUENCE_MAX)
        return hb_fail(err, HB_E_USAGE, "backup sequence %llu is not 1..%llu",
                       (unsigned long long)sequence,
                       (unsigned long long)HB_MANIFEST_SEQUENCE_MAX);
    m->sequence = sequence;
    return HB_OK;
}

hb_status hb_manifest_set_transcript(hb_manifest *m, uint64_t seq, const char *head,
                                     hb_err *err)
{
    if (seq == 0 || seq > HB_MANIFEST_SEQUENCE_MAX || head == NULL ||
        strlen(head) != 64 || !hb_hex_lower_ok(head, 64))
        return hb_fail(err, HB_E_USAGE, "a transcript pin needs an entry count 1..%llu and a "
                       "head of 64 lowercase hex digits",
                       (unsigned long long)HB_MANIFEST_SEQUENCE_MAX);
    m->transcript_seq = seq;
    memcpy(m->transcript_head, head, 65);
    return HB_OK;
}

hb_status hb_manifest_set_system(hb_manifest *m, const char *version, const char *profile,
                                 const char *build, const char *machine_type,
                                 const char *serial, hb_err *err)
{
    hb_status st = HB_OK;
    HB_ENSURE(hb_manifest_version_ok(version), HB_E_USAGE, "system version '%s' is not V.R.M.F "
              "(four numbers)", version != NULL ? version : "");
    HB_TRY(check_name("profile name", profile, err));
    if (build != NULL)
        HB_TRY(check_text("build", build, 256, err));
    if (machine_type != NULL)
        HB_TRY(check_text("machine-type", machine_type, 256, err));
    if (serial != NULL)
        HB_TRY(check_text("serial", serial, 256, err));
    HB_TRY(dup_str(version, &m->version, err));
    HB_TRY(dup_str(profile, &m->profile, err));
    HB_TRY(dup_str(build, &m->build, err));
    HB_TRY(dup_str(machine_type, &m->machine_type, err));
    HB_TRY(dup_str(serial, &m->serial, err));
cleanup:
    return st;
}

/* What the manifest records of a certificate, for recipients and quorum
 * members alike: its DER (malloc'ed), SHA-256 fingerprint, and RFC 2253
 * subject, which must be text XML can carry. */
static hb_status cert_fields(X509 *cert, const char *what, uint8_t **der_out, size_t *der_len,
                             char fingerprint[65], char **subject_out, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *der = NULL;
    uint8_t *copy = NULL;
    char *subject = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        HB_FAIL_OSSL(HB_E_USAGE, "cannot encode the %s", what);
    HB_TRY(hb_sha256_hex(der, (size_t)n, fingerprint, err));
    HB_TRY(hb_x509_subject_rfc2253(cert, &subject, err));
    HB_ENSURE(hb_xml_text_ok(subject), HB_E_USAGE, "%s subject is not printable UTF-8", what);
    HB_ALLOC(copy = hb_memdup(der, (size_t)n));
    *der_out = copy;
    *der_len = (size_t)n;
    *subject_out = subject;
    copy = NULL;
    subject = NULL;
cleanup:
    OPENSSL_free(der);
    free(copy);
    free(subject);
    return st;
}

hb_status hb_manifest_add_recipient(hb_manifest *m, X509 *cert, const char *key_wrap,
                                    const char **id_out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_recipient r = {0}, *slot = NULL;
    HB_ENSURE(cert != NULL, HB_E_USAGE, "no recipient certificate given");
    HB_ENSURE(hb_manifest_key_wrap_ok(key_wrap), HB_E_USAGE, "key wrap '%s' is not "
              "rsa-oaep-sha256 or rsa-oaep-sha1", key_wrap != NULL ? key_wrap : "");
    HB_TRY(cert_fields(cert, "recipient certificate", &r.cert_der, &r.cert_der_len,
                       r.fingerprint, &r.subject, err));
    HB_ENSURE(hb_manifest_find_recipient_cert(m, cert) == NULL, HB_E_USAGE,
              "recipient certificate %s is listed twice", r.fingerprint);
    HB_TRY(numbered_id('r', m->n_recipients, &r.id, err));
    HB_TRY(dup_str(key_wrap, &r.key_wrap, err));
    HB_PUSH_MOVE(slot, m->recipients, m->n_recipients, HB_MANIFEST_MAX_RECIPIENTS, r);
    if (id_out != NULL)
        *id_out = slot->id;
cleanup:
    hb_manifest_recipient_clear(&r);
    return st;
}

static void member_clear(hb_manifest_quorum_member *q)
{
    free(q->subject);
    free(q->key_wrap);
    free(q->cert_der);
    free(q->wrapped_share);
    memset(q, 0, sizeof *q);
}

static void quorum_clear(hb_manifest_quorum *q)
{
    free(q->id);
    free(q->name);
    for (size_t i = 0; i < q->n_members; i++)
        member_clear(&q->members[i]);
    free(q->members);
    memset(q, 0, sizeof *q);
}

hb_status hb_manifest_set_recipient_label(hb_manifest *m, const char *recipient_id,
                                          hb_err *err)
{
    for (size_t i = 0; m != NULL && recipient_id != NULL && i < m->n_recipients; i++)
        if (strcmp(m->recipients[i].id, recipient_id) == 0) {
            m->recipients[i].oaep_label = true;
            return HB_OK;
        }
    return hb_fail(err, HB_E_USAGE, "no recipient '%s' to label",
                   recipient_id != NULL ? recipient_id : "");
}

hb_status hb_manifest_set_member_label(hb_manifest *m, const char *quorum_id, unsigned x,
                                       hb_err *err)
{
    for (size_t i = 0; m != NULL && quorum_id != NULL && i < m->n_quorums; i++) {
        hb_manifest_quorum *q = &m->quorums[i];
        for (size_t k = 0; strcmp(q->id, quorum_id) == 0 && k < q->n_members; k++)
            if (q->members[k].x == x) {
                q->members[k].oaep_label = true;
                return HB_OK;
            }
    }
    return hb_fail(err, HB_E_USAGE, "no member %u of quorum '%s' to label", x,
                   quorum_id != NULL ? quorum_id : "");
}

hb_status hb_manifest_add_quorum(hb_manifest *m, const char *name, unsigned threshold,
                                 const char **id_out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_quorum q = {0}, *slot = NULL;
    HB_TRY(check_name("quorum name", name, err));
    HB_ENSURE(threshold >= 2 && threshold <= HB_QUORUM_MAX_MEMBERS, HB_E_USAGE,
              "quorum '%s': threshold %u is not 2..255", name, threshold);
    HB_TRY(numbered_id('q', m->n_quorums, &q.id, err));
    HB_TRY(dup_str(name, &q.name, err));
    q.threshold = threshold;
    HB_PUSH_MOVE(slot, m->quorums, m->n_quorums, HB_MANIFEST_MAX_RECIPIENTS, q);
    if (id_out != NULL)
        *id_out = slot->id;
cleanup:
    quorum_clear(&q);
    return st;
}

hb_status hb_manifest_add_quorum_member(hb_manifest *m, const char *quorum_id, X509 *cert,
                                        const char *key_wrap, unsigned x,
                                        const uint8_t *wrapped_share, size_t wrapped_len,
                                        const uint8_t *commitment, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_quorum_member mem = {0}, *slot = NULL;
    hb_manifest_quorum *q = (hb_manifest_quorum *)hb_manifest_find_quorum(m, quorum_id);
    HB_ENSURE(q != NULL, HB_E_USAGE, "no quorum '%s' in the manifest",
              quorum_id != NULL ? quorum_id : "");
    HB_ENSURE(cert != NULL && hb_manifest_key_wrap_ok(key_wrap) && x >= 1 &&
              x <= HB_QUORUM_MAX_MEMBERS && wrapped_share != NULL && wrapped_len > 0 &&
              wrapped_len <= MAX_WRAPPED, HB_E_USAGE, "quorum '%s': bad member (certificate, "
              "key wrap, x coordinate 1..255 or wrapped share)", q->name);
    for (size_t i = 0; i < q->n_members; i++)
        HB_ENSURE(q->members[i].x != x, HB_E_USAGE, "quorum '%s': x coordinate %u is used "
                  "twice", q->name, x);
    /* All or none: a reader that checks commitments must not be handed a
     * member it cannot check beside ones it can. */
    HB_ENSURE(q->n_members == 0 || q->members[0].has_commitment == (commitment != NULL),
              HB_E_USAGE, "quorum '%s': some members have a share commitment and some do not",
              q->name);
    HB_TRY(cert_fields(cert, "quorum member's certificate", &mem.cert_der, &mem.cert_der_len,
                       mem.fingerprint, &mem.subject, err));
    for (size_t i = 0; i < q->n_members; i++)
        HB_ENSURE(strcmp(q->members[i].fingerprint, mem.fingerprint) != 0, HB_E_USAGE,
                  "quorum '%s': member %s is listed twice", q->name, mem.fingerprint);
    mem.x = x;
    HB_TRY(dup_str(key_wrap, &mem.key_wrap, err));
    HB_ALLOC(mem.wrapped_share = hb_memdup(wrapped_share, wrapped_len));
    mem.wrapped_share_len = wrapped_len;
    if (commitment != NULL) {
        mem.has_commitment = true;
        memcpy(mem.commitment, commitment, sizeof mem.commitment);
    }
    HB_PUSH_MOVE(slot, q->members, q->n_members, HB_QUORUM_MAX_MEMBERS, mem);
cleanup:
    member_clear(&mem);
    return st;
}

hb_status hb_manifest_add_file(hb_manifest *m, const char *name, const char *filename,
                               const char *compression, uint64_t size,
                               const char *sha256_hex, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_file f = {0}, *slot = NULL;
    HB_TRY(check_name("file name", name, err));
    HB_ENSURE(hb_manifest_find_file(m, name) == NULL, HB_E_USAGE, "file '%s' is listed twice",
              name);
    HB_ENSURE(hb_manifest_filename_ok(name, filename, compression), HB_E_USAGE, "file '%s': "
              "file name '%s' and compression '%s' do not agree (zstd: .tzst, gzip: .tgz, "
              "none: .tar)", name, filename != NULL ? filename : "",
              compression != NULL ? compression : "");
    /* Either case is accepted; the manifest records lowercase. */
    for (size_t i = 0; sha256_hex != NULL && i < 64 && sha256_hex[i] != '\0'; i++)
        f.sha256[i] = (char)(sha256_hex[i] >= 'A' && sha256_hex[i] <= 'F'
                                 ? sha256_hex[i] - 'A' + 'a' : sha256_hex[i]);
    HB_ENSURE(sha256_hex != NULL && strlen(sha256_hex) == 64 && hb_hex_lower_ok(f.sha256, 64),
              HB_E_USAGE, "file '%s': checksum is not 64 hex digits", name);
    HB_TRY(dup_str(name, &f.name, err));
    HB_TRY(dup_str(filename, &f.filename, err));
    HB_TRY(dup_str(compression, &f.compression, err));
    f.size = size;
    HB_PUSH_MOVE(slot, m->files, m->n_files, HB_MANIFEST_MAX_FILES, f);
cleanup:
    hb_manifest_file_clear(&f);
    return st;
}

hb_status hb_manifest_add_wrapped_key(hb_manifest *m, const char *name,
                                      const char *recipient_id, const uint8_t *wrapped,
                                      size_t wrapped_len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_wrapped_key k = {0}, *slot = NULL;
    hb_manifest_file *f = (hb_manifest_file *)hb_manifest_find_file(m, name);
    HB_ENSURE(f != NULL, HB_E_USAGE, "wrapped key for unknown file '%s'",
              name != NULL ? name : "");
    HB_ENSURE(hb_manifest_find_recipient(m, recipient_id) != NULL ||
              hb_manifest_find_quorum(m, recipient_id) != NULL, HB_E_USAGE,
              "file '%s': wrapped key for unknown recipient '%s'", name,
              recipient_id != NULL ? recipient_id : "");
    HB_ENSURE(hb_manifest_find_wrapped_key(f, recipient_id) == NULL, HB_E_USAGE,
              "file '%s' already has a key for recipient '%s'", name, recipient_id);
    HB_ENSURE(wrapped != NULL && wrapped_len > 0 && wrapped_len <= MAX_WRAPPED, HB_E_USAGE,
              "file '%s': wrapped key of %zu bytes is not plausible", name, wrapped_len);
    HB_TRY(dup_str(recipient_id, &k.recipient, err));
    HB_ALLOC(k.data = hb_memdup(wrapped, wrapped_len));
    k.len = wrapped_len;
    HB_PUSH_MOVE(slot, f->keys, f->n_keys, HB_MANIFEST_MAX_KEYS, k);
cleanup:
    free(k.recipient);
    free(k.data);
    return st;
}

hb_status hb_manifest_add_excluded(hb_manifest *m, const char *name, const char *reason,
                                   hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_excluded x = {0}, *slot = NULL;
    HB_TRY(check_name("excluded item", name, err));
    HB_TRY(check_text("exclusion reason", reason, 1024, err));
    HB_TRY(dup_str(name, &x.name, err));
    HB_TRY(dup_str(reason, &x.reason, err));
    HB_PUSH_MOVE(slot, m->excluded, m->n_excluded, HB_MANIFEST_MAX_EXCLUDED, x);
cleanup:
    free(x.name);
    free(x.reason);
    return st;
}

/* ---- lookups ---- */

/* Every list of the manifest is looked up the same way, by a string field
 * (a name or an id): the element of arr (n elements of size elem) whose
 * `char *` at offset key_off equals key, or NULL. Lists are short (the
 * schema caps them), so a linear scan. */
static const void *find_by(const void *arr, size_t n, size_t elem, size_t key_off,
                           const char *key)
{
    for (size_t i = 0; key != NULL && i < n; i++) {
        const char *e = (const char *)arr + i * elem;
        const char *k;
        memcpy(&k, e + key_off, sizeof k);
        if (strcmp(k, key) == 0)
            return e;
    }
    return NULL;
}
#define FIND_BY(arr, n, field, key) \
    find_by((arr), (n), sizeof *(arr), offsetof(__typeof__(*(arr)), field), (key))

const hb_manifest_file *hb_manifest_find_file(const hb_manifest *m, const char *name)
{
    return m != NULL ? FIND_BY(m->files, m->n_files, name, name) : NULL;
}

const hb_manifest_recipient *hb_manifest_find_recipient(const hb_manifest *m, const char *id)
{
    return m != NULL ? FIND_BY(m->recipients, m->n_recipients, id, id) : NULL;
}

const hb_manifest_quorum *hb_manifest_find_quorum(const hb_manifest *m, const char *id)
{
    return m != NULL ? FIND_BY(m->quorums, m->n_quorums, id, id) : NULL;
}

const hb_manifest_wrapped_key *hb_manifest_find_wrapped_key(const hb_manifest_file *f,
                                                            const char *recipient_id)
{
    return f != NULL ? FIND_BY(f->keys, f->n_keys, recipient, recipient_id) : NULL;
}

const hb_manifest_recipient *hb_manifest_find_recipient_cert(const hb_manifest *m,
                                                             X509 *cert)
{
    unsigned char *der = NULL;
    const hb_manifest_recipient *found = NULL;
    int n = cert != NULL ? i2d_X509(cert, &der) : -1;
    for (size_t i = 0; m != NULL && n > 0 && i < m->n_recipients; i++)
        if (m->recipients[i].cert_der_len == (size_t)n &&
            memcmp(m->recipients[i].cert_der, der, (size_t)n) == 0)
            found = &m->recipients[i];
    OPENSSL_free(der);
    return found;
}

/* ---- freeing ---- */

void hb_manifest_recipient_clear(hb_manifest_recipient *r)
{
    free(r->id);
    free(r->subject);
    free(r->key_wrap);
    free(r->cert_der);
    memset(r, 0, sizeof *r);
}

void hb_manifest_file_clear(hb_manifest_file *f)
{
    free(f->name);
    free(f->filename);
    free(f->compression);
    for (size_t i = 0; i < f->n_keys; i++) {
        free(f->keys[i].recipient);
        free(f->keys[i].data);
    }
    free(f->keys);
    memset(f, 0, sizeof *f);
}

void hb_manifest_free(hb_manifest *m)
{
    if (m == NULL)
        return;
    free(m->id);
    free(m->created);
    free(m->tool);
    free(m->version);
    free(m->profile);
    free(m->build);
    free(m->machine_type);
    free(m->serial);
    for (size_t i = 0; i < m->n_recipients; i++)
        hb_manifest_recipient_clear(&m->recipients[i]);
    free(m->recipients);
    for (size_t i = 0; i < m->n_files; i++)
        hb_manifest_file_clear(&m->files[i]);
    free(m->files);
    for (size_t i = 0; i < m->n_excluded; i++) {
        free(m->excluded[i].name);
        free(m->excluded[i].reason);
    }
    free(m->excluded);
    for (size_t i = 0; i < m->n_quorums; i++)
        quorum_clear(&m->quorums[i]);
    free(m->quorums);
    free(m);
}

/* ---- the public, read-only view (include/hsmbak/manifest.h) ---- */

const char *hb_manifest_id(const hb_manifest *m) { return m->id; }
const char *hb_manifest_created(const hb_manifest *m) { return m->created; }
const char *hb_manifest_tool(const hb_manifest *m) { return m->tool; }
uint64_t hb_manifest_sequence(const hb_manifest *m) { return m->sequence; }
uint64_t hb_manifest_transcript_seq(const hb_manifest *m) { return m->transcript_seq; }
const char *hb_manifest_transcript_head(const hb_manifest *m)
{
    return m->transcript_seq > 0 ? m->transcript_head : NULL;
}
const char *hb_manifest_version(const hb_manifest *m) { return m->version; }
const char *hb_manifest_profile(const hb_manifest *m) { return m->profile; }
size_t hb_manifest_n_recipients(const hb_manifest *m) { return m->n_recipients; }
size_t hb_manifest_n_quorums(const hb_manifest *m) { return m->n_quorums; }
size_t hb_manifest_n_files(const hb_manifest *m) { return m->n_files; }
size_t hb_manifest_n_excluded(const hb_manifest *m) { return m->n_excluded; }

const hb_manifest_recipient *hb_manifest_recipient_at(const hb_manifest *m, size_t i)
{
    return i < m->n_recipients ? &m->recipients[i] : NULL;
}

const hb_manifest_quorum *hb_manifest_quorum_at(const hb_manifest *m, size_t i)
{
    return i < m->n_quorums ? &m->quorums[i] : NULL;
}

const hb_manifest_file *hb_manifest_file_at(const hb_manifest *m, size_t i)
{
    return i < m->n_files ? &m->files[i] : NULL;
}

const hb_manifest_excluded *hb_manifest_excluded_at(const hb_manifest *m, size_t i)
{
    return i < m->n_excluded ? &m->excluded[i] : NULL;
}
