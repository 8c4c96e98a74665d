/* The manifest struct: construction, checks shared by writer and reader,
 * lookups, and freeing (DESIGN §4.3). */
#include "backup/format/manifest.h"

#include "backup/format/manifest_internal.h"
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/ids.h"
#include "common/fail.h"
#include "common/names.h"
#include "common/x509.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef HSMBAK_VERSION
#define HSMBAK_VERSION "0.0.0"
#endif

/* ---- value checks (mirror data/schema/manifest.xsd) ---- */

static bool all_in(const char *s, const char *set)
{
    for (; *s != '\0'; s++)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

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
    return s != NULL && s[0] != '\0' && strlen(s) <= 64 &&
           all_in(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
}

const char *hb_manifest_extension(const char *compression)
{
    if (compression == NULL)
        return NULL;
    if (strcmp(compression, "zstd") == 0)
        return ".tzst";
    if (strcmp(compression, "gzip") == 0)
        return ".tgz";
    if (strcmp(compression, "none") == 0)
        return ".tar";
    return NULL;
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
    if (s != NULL) {
        d = strdup(s);
        if (d == NULL)
            return hb_fail(err, HB_E_INTERNAL, "out of memory");
    }
    free(*out);
    *out = d;
    return HB_OK;
}

static hb_status check_text(const char *field, const char *s, size_t max, hb_err *err)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > max || !hb_xml_text_ok(s))
        return hb_fail(err, HB_E_USAGE, "manifest %s must be 1..%zu characters of UTF-8 "
                       "without control characters", field, max);
    return HB_OK;
}

hb_status hb_manifest_new(hb_manifest **out, hb_err *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
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
    if (!hb_uuid_ok(id)) {
        st = hb_fail(err, HB_E_USAGE, "backup id '%s' is not a lowercase UUIDv4", id);
        goto cleanup;
    }
    if (!hb_rfc3339_ok(created)) {
        st = hb_fail(err, HB_E_USAGE, "backup time '%s' is not RFC 3339 UTC "
                     "(YYYY-MM-DDThh:mm:ssZ)", created);
        goto cleanup;
    }
    HB_TRY(check_text("tool", tool, 256, err));
    HB_TRY(dup_str(id, &m->id, err));
    HB_TRY(dup_str(created, &m->created, err));
    HB_TRY(dup_str(tool, &m->tool, err));
cleanup:
    return st;
}

hb_status hb_manifest_set_system(hb_manifest *m, const char *version, const char *profile,
                                 const char *build, const char *machine_type,
                                 const char *serial, hb_err *err)
{
    hb_status st = HB_OK;
    if (!hb_manifest_version_ok(version)) {
        st = hb_fail(err, HB_E_USAGE, "system version '%s' is not V.R.M.F (four numbers)",
                     version != NULL ? version : "");
        goto cleanup;
    }
    if (!hb_name_ok(profile)) {
        st = hb_fail(err, HB_E_USAGE, "profile name '%s' must match [a-z0-9][a-z0-9-]*",
                     profile != NULL ? profile : "");
        goto cleanup;
    }
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

/* Grow an array by one zeroed element. */
static void *grow(void *arr, size_t n, size_t elem)
{
    uint8_t *p = realloc(arr, (n + 1) * elem);
    if (p != NULL)
        memset(p + n * elem, 0, elem);
    return p;
}

hb_status hb_manifest_add_recipient(hb_manifest *m, X509 *cert, const char *key_wrap,
                                    const char **id_out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_recipient r = {0};
    unsigned char *der = NULL;
    char idbuf[32];

    if (cert == NULL) {
        st = hb_fail(err, HB_E_USAGE, "no recipient certificate given");
        goto cleanup;
    }
    if (!hb_manifest_key_wrap_ok(key_wrap)) {
        st = hb_fail(err, HB_E_USAGE, "key wrap '%s' is not rsa-oaep-sha256 or rsa-oaep-sha1",
                     key_wrap != NULL ? key_wrap : "");
        goto cleanup;
    }
    int n = i2d_X509(cert, &der);
    if (n <= 0) {
        st = hb_fail_ossl(err, HB_E_USAGE, "cannot encode the recipient certificate");
        goto cleanup;
    }
    HB_TRY(hb_sha256_hex(der, (size_t)n, r.fingerprint, err));
    if (hb_manifest_find_recipient_cert(m, cert) != NULL) {
        st = hb_fail(err, HB_E_USAGE, "recipient certificate %s is listed twice",
                     r.fingerprint);
        goto cleanup;
    }
    HB_TRY(hb_x509_subject_rfc2253(cert, &r.subject, err));
    if (!hb_xml_text_ok(r.subject)) {
        st = hb_fail(err, HB_E_USAGE, "recipient certificate subject is not printable UTF-8");
        goto cleanup;
    }
    r.cert_der = malloc((size_t)n);
    if (r.cert_der == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    memcpy(r.cert_der, der, (size_t)n);
    r.cert_der_len = (size_t)n;
    /* Ids are r1, r2, ... in order; a manifest never has gaps to reuse. */
    snprintf(idbuf, sizeof idbuf, "r%zu", m->n_recipients + 1); /* <= 21 chars: fits */
    HB_TRY(dup_str(idbuf, &r.id, err));
    HB_TRY(dup_str(key_wrap, &r.key_wrap, err));
    hb_manifest_recipient *arr = grow(m->recipients, m->n_recipients, sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    m->recipients = arr;
    arr[m->n_recipients] = r;
    memset(&r, 0, sizeof r);
    if (id_out != NULL)
        *id_out = arr[m->n_recipients].id;
    m->n_recipients++;
cleanup:
    OPENSSL_free(der);
    hb_manifest_recipient_clear(&r);
    return st;
}

hb_status hb_manifest_add_file(hb_manifest *m, const char *name, const char *filename,
                               const char *compression, uint64_t size,
                               const char *sha256_hex, hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_file f = {0};
    if (!hb_name_ok(name)) {
        st = hb_fail(err, HB_E_USAGE, "file name '%s' must match [a-z0-9][a-z0-9-]*",
                     name != NULL ? name : "");
        goto cleanup;
    }
    if (hb_manifest_find_file(m, name) != NULL) {
        st = hb_fail(err, HB_E_USAGE, "file '%s' is listed twice", name);
        goto cleanup;
    }
    if (!hb_manifest_filename_ok(name, filename, compression)) {
        st = hb_fail(err, HB_E_USAGE, "file '%s': file name '%s' and compression '%s' do not "
                     "agree (zstd: .tzst, gzip: .tgz, none: .tar)", name,
                     filename != NULL ? filename : "", compression != NULL ? compression : "");
        goto cleanup;
    }
    if (sha256_hex == NULL || strlen(sha256_hex) != 64 ||
        !all_in(sha256_hex, "0123456789abcdefABCDEF")) {
        st = hb_fail(err, HB_E_USAGE, "file '%s': checksum is not 64 hex digits", name);
        goto cleanup;
    }
    HB_TRY(dup_str(name, &f.name, err));
    HB_TRY(dup_str(filename, &f.filename, err));
    HB_TRY(dup_str(compression, &f.compression, err));
    f.size = size;
    for (int i = 0; i < 64; i++)
        f.sha256[i] = (char)((sha256_hex[i] >= 'A' && sha256_hex[i] <= 'F')
                                 ? sha256_hex[i] - 'A' + 'a' : sha256_hex[i]);
    f.sha256[64] = '\0';
    hb_manifest_file *arr = grow(m->files, m->n_files, sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    m->files = arr;
    arr[m->n_files++] = f;
    memset(&f, 0, sizeof f);
cleanup:
    hb_manifest_file_clear(&f);
    return st;
}

hb_status hb_manifest_add_wrapped_key(hb_manifest *m, const char *name,
                                      const char *recipient_id, const uint8_t *wrapped,
                                      size_t wrapped_len, hb_err *err)
{
    hb_manifest_file *f = (hb_manifest_file *)hb_manifest_find_file(m, name);
    if (f == NULL)
        return hb_fail(err, HB_E_USAGE, "wrapped key for unknown file '%s'",
                       name != NULL ? name : "");
    if (hb_manifest_find_recipient(m, recipient_id) == NULL &&
        hb_manifest_find_quorum(m, recipient_id) == NULL)
        return hb_fail(err, HB_E_USAGE, "file '%s': wrapped key for unknown recipient '%s'",
                       name, recipient_id != NULL ? recipient_id : "");
    if (hb_manifest_find_wrapped_key(f, recipient_id) != NULL)
        return hb_fail(err, HB_E_USAGE, "file '%s' already has a key for recipient '%s'",
                       name, recipient_id);
    if (wrapped == NULL || wrapped_len == 0 || wrapped_len > 2048)
        return hb_fail(err, HB_E_USAGE, "file '%s': wrapped key of %zu bytes is not plausible",
                       name, wrapped_len);
    hb_manifest_wrapped_key k = {0};
    k.recipient = strdup(recipient_id);
    k.data = malloc(wrapped_len);
    hb_manifest_wrapped_key *arr = grow(f->keys, f->n_keys, sizeof *arr);
    if (arr != NULL)
        f->keys = arr;
    if (k.recipient == NULL || k.data == NULL || arr == NULL) {
        free(k.recipient);
        free(k.data);
        return hb_fail(err, HB_E_INTERNAL, "out of memory");
    }
    memcpy(k.data, wrapped, wrapped_len);
    k.len = wrapped_len;
    arr[f->n_keys++] = k;
    return HB_OK;
}

hb_status hb_manifest_add_excluded(hb_manifest *m, const char *name, const char *reason,
                                   hb_err *err)
{
    hb_status st = HB_OK;
    hb_manifest_excluded x = {0};
    if (!hb_name_ok(name)) {
        st = hb_fail(err, HB_E_USAGE, "excluded item '%s' must match [a-z0-9][a-z0-9-]*",
                     name != NULL ? name : "");
        goto cleanup;
    }
    HB_TRY(check_text("exclusion reason", reason, 1024, err));
    HB_TRY(dup_str(name, &x.name, err));
    HB_TRY(dup_str(reason, &x.reason, err));
    hb_manifest_excluded *arr = grow(m->excluded, m->n_excluded, sizeof *arr);
    if (arr == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    m->excluded = arr;
    arr[m->n_excluded++] = x;
    memset(&x, 0, sizeof x);
cleanup:
    free(x.name);
    free(x.reason);
    return st;
}

/* ---- lookups ---- */

const hb_manifest_file *hb_manifest_find_file(const hb_manifest *m, const char *name)
{
    for (size_t i = 0; m != NULL && name != NULL && i < m->n_files; i++)
        if (strcmp(m->files[i].name, name) == 0)
            return &m->files[i];
    return NULL;
}

const hb_manifest_recipient *hb_manifest_find_recipient(const hb_manifest *m, const char *id)
{
    for (size_t i = 0; m != NULL && id != NULL && i < m->n_recipients; i++)
        if (strcmp(m->recipients[i].id, id) == 0)
            return &m->recipients[i];
    return NULL;
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

const hb_manifest_wrapped_key *hb_manifest_find_wrapped_key(const hb_manifest_file *f,
                                                            const char *recipient_id)
{
    for (size_t i = 0; f != NULL && recipient_id != NULL && i < f->n_keys; i++)
        if (strcmp(f->keys[i].recipient, recipient_id) == 0)
            return &f->keys[i];
    return NULL;
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
    hb_manifest_quorums_clear(m);
    free(m);
}

/* ---- the public, read-only view (include/hsmbak/manifest.h) ---- */

const char *hb_manifest_id(const hb_manifest *m) { return m->id; }
const char *hb_manifest_created(const hb_manifest *m) { return m->created; }
const char *hb_manifest_tool(const hb_manifest *m) { return m->tool; }
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
