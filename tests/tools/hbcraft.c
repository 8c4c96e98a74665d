/* hbcraft: build crafted secure backups for the hardening tests (test-only).
 *
 *   hbcraft DEFECT SRC OUT SIGNER_KEY_URI SIGNER_CERT PIN_SOURCE [SRC2]
 *
 * Reads the backup SRC (its manifest must verify; trust is not checked), and
 * writes OUT: the same backup, validly encrypted to every recipient of SRC
 * and signed with the token key SIGNER_KEY_URI (certificate SIGNER_CERT), but
 * with exactly one DEFECT:
 *
 *   none            nothing (a control: OUT must restore)
 *   tar-ok          config replaced by a benign crafted tar (control)
 *   dotdot absolute symlink-through hardlink-out device fifo bomb
 *                   config replaced by a tar with that entry
 *   seg-drop seg-reorder seg-dup seg-truncate reserved
 *                   config re-encrypted in 4 KiB segments, then the
 *                   ciphertext edited (the manifest's size/checksum match)
 *   swap            cert's entry points at config's archive bytes and key
 *   replay          config's archive and key taken from SRC2 (another backup)
 *   no-recipient    the first recipient removed from the manifest
 *   sys-version     the manifest says version 9.3.5.1
 *   format-version  the root's format="2"
 *   unknown-element an <extra/> element in <backup>
 *   dtd             a DOCTYPE before the (validly signed) root
 *   no-signature    the Signature element removed
 *   bad-signature   one character of SignatureValue changed
 *   entry-edit      a <size> changed after signing
 *   link-users-abs link-users-rel link-admin link-nested
 *                   root replaced by a tar holding symlinks to OUTSIDE/decoy
 *                   (issue 11 class 1; see the block "symlinks beneath the
 *                   root" below)
 *   no-sequence     the manifest has no <sequence> (as hsmbak before sequence
 *                   numbers wrote it; issue 11 class 5)
 *   (any defect)    with HBCRAFT_SIGNER_DAYS=FROM,TO: signed by a re-issued
 *                   signer certificate of that validity (signer_validity)
 *   bad-share       a copy of SRC (a quorum backup) whose member x=2 of the first
 *                   quorum holds another share (x=2, random y) wrapped to the
 *                   same certificate, re-signed: its signed share commitment no
 *                   longer matches what its token unwraps (issue 15 item 6);
 *                   with HBCRAFT_SHARE_CERT_X=3 wrapped to member x=3's
 *                   certificate instead (member 2's token refuses it)
 *   share-replay    a copy of SRC (a quorum backup) whose member x=2 of the first
 *                   quorum holds, byte for byte, member x=2's wrapped share
 *                   from SRC2's first quorum (another backup to the same
 *                   group), re-signed (docs/custody.md "OAEP labels")
 *   no-commitment   a copy of SRC with every <share-commitment> removed,
 *                   re-signed (what hsmbak before share commitments wrote)
 *   co-recipient    only OUT/<config's file name>: a benign crafted tar encrypted
 *                   under SRC's own config DEK, unwrapped with the recipient
 *                   key $HBCRAFT_RECIPIENT_KEY (what any co-recipient can
 *                   write); no manifest: SRC's signed one still lists the
 *                   original bytes
 *
 * Exit 0 when OUT was written; messages on stderr otherwise. */
#include "backup/format/xml.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "backup/format/archive.h"
#include "backup/format/manifest.h"
#include "provider/token.h"
#include "backup/format/stream.h"
#include "backup/custody/wrap.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SEG_LOG2 12
#define SEG_STORED ((size_t)(1u << SEG_LOG2) + HB_STREAM_TAG_LEN)

static hb_provider *prov;
static EVP_PKEY *signer_key;

static int die(const char *what, const hb_err *err)
{
    fprintf(stderr, "hbcraft: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

static hb_status sign_cb(void *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                         size_t *siglen, hb_err *err)
{
    (void)ctx;
    return hb_provider_sign_sha256(prov, signer_key, data, len, sig, siglen, err);
}

/* ---- growable buffer ------------------------------------------------------ */
typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            die("out of memory", NULL);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static hb_status sink_buf(void *ctx, const uint8_t *d, size_t n, hb_err *err)
{
    (void)err;
    buf_add(ctx, d, n);
    return HB_OK;
}

/* libarchive writes the (uncompressed, "none") tar into the stream writer. */
static la_ssize_t la_write(struct archive *a, void *ctx, const void *d, size_t n)
{
    hb_err err;
    if (hb_stream_write(ctx, d, n, &err) != HB_OK) {
        archive_set_error(a, EIO, "%s", err.msg);
        return -1;
    }
    return (la_ssize_t)n;
}

static void add_entry(struct archive *a, const char *path, unsigned type, const char *link,
                      const char *hardlink, const void *data, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (link)
        archive_entry_set_symlink(e, link);
    if (hardlink) {
        archive_entry_set_hardlink(e, hardlink);
        size = 0;
    }
    if (type == AE_IFCHR)
        archive_entry_set_rdev(e, makedev(1, 3));
    if (type == AE_IFREG || hardlink)
        archive_entry_set_size(e, size);
    if (archive_write_header(a, e) != ARCHIVE_OK)
        die(archive_error_string(a), NULL);
    if (type == AE_IFREG && !hardlink && size > 0) {
        int64_t left = size;
        while (left > 0) {
            size_t n = left > 65536 ? 65536 : (size_t)left;
            if (archive_write_data(a, data, n) != (la_ssize_t)n)
                die(archive_error_string(a), NULL);
            left -= (int64_t)n;
        }
    }
    archive_entry_free(e);
}

/* A pax tar for archive `name` of backup_id, compressed with zstd or not,
 * encrypted under dek into *out as it is written; tar_close finishes both. */
static struct archive *tar_open(const char *name, const char *backup_id,
                                const uint8_t dek[HB_DEK_LEN], bool zstd, buf *out,
                                hb_stream_writer **w)
{
    hb_err err;
    if (hb_stream_writer_new(dek, backup_id, name, SEG_LOG2, sink_buf, out, w, &err) != HB_OK)
        die("stream writer", &err);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (zstd)
        archive_write_add_filter_zstd(a);
    else
        archive_write_add_filter_none(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, *w, NULL, la_write, NULL) != ARCHIVE_OK)
        die(archive_error_string(a), NULL);
    return a;
}

static void tar_close(struct archive *a, hb_stream_writer *w)
{
    hb_err err;
    if (archive_write_close(a) != ARCHIVE_OK)
        die(archive_error_string(a), NULL);
    archive_write_free(a);
    if (hb_stream_writer_finish(w, &err) != HB_OK)
        die("stream finish", &err);
    hb_stream_writer_free(w);
}

/* The crafted tar of `defect`, compressed (zstd for the bomb, none
 * otherwise), encrypted under dek into *out. */
static const char *craft_archive(const char *defect, const char *backup_id, const char *outside,
                                 const uint8_t dek[HB_DEK_LEN], buf *out)
{
    hb_stream_writer *w = NULL;
    bool bomb = strcmp(defect, "bomb") == 0;
    bool zstd = bomb || strcmp(defect, "co-recipient") == 0;
    struct archive *a = tar_open("config", backup_id, dek, zstd, out, &w);
    static uint8_t data[65536];
    memset(data, 'x', sizeof data);
    char abs_path[PATH_MAX + 32];
    snprintf(abs_path, sizeof abs_path, "%s/pwned-absolute", outside);
    add_entry(a, "mqa.cfg", AE_IFREG, NULL, NULL, data, 20000); /* > 4 segments */
    if (strcmp(defect, "dotdot") == 0) {
        add_entry(a, "../../pwned-dotdot", AE_IFREG, NULL, NULL, data, 10);
    } else if (strcmp(defect, "absolute") == 0) {
        add_entry(a, abs_path, AE_IFREG, NULL, NULL, data, 10);
    } else if (strcmp(defect, "symlink-through") == 0) {
        add_entry(a, "out", AE_IFLNK, outside, NULL, NULL, 0);
        add_entry(a, "out/pwned-symlink", AE_IFREG, NULL, NULL, data, 10);
    } else if (strcmp(defect, "hardlink-out") == 0) {
        add_entry(a, "victim", AE_IFREG, NULL, "../../victim", data, 0);
    } else if (strcmp(defect, "device") == 0) {
        add_entry(a, "null", AE_IFCHR, NULL, NULL, NULL, 0);
    } else if (strcmp(defect, "fifo") == 0) {
        add_entry(a, "pipe", AE_IFIFO, NULL, NULL, NULL, 0);
    } else if (bomb) {
        memset(data, 0, sizeof data);
        add_entry(a, "bomb", AE_IFREG, NULL, NULL, data, (int64_t)96 << 20);
    } else {
        add_entry(a, "sub", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "sub/ok", AE_IFREG, NULL, NULL, data, 10);
    }
    tar_close(a, w);
    return zstd ? "zstd" : "none";
}

static void edit_segments(const char *defect, buf *b)
{
    size_t hdr = HB_STREAM_HEADER_LEN, n = (b->len - hdr + SEG_STORED - 1) / SEG_STORED;
    if (strcmp(defect, "reserved") == 0) {
        b->p[12] = 0x01;
        return;
    }
    if (strncmp(defect, "seg-", 4) != 0)
        return;
    if (n < 4)
        die("crafted archive has fewer than 4 segments", NULL);
    uint8_t *s1 = b->p + hdr + SEG_STORED, *s2 = s1 + SEG_STORED;
    if (strcmp(defect, "seg-drop") == 0) {
        memmove(s1, s2, b->len - (size_t)(s2 - b->p));
        b->len -= SEG_STORED;
    } else if (strcmp(defect, "seg-reorder") == 0) {
        uint8_t tmp[SEG_STORED];
        memcpy(tmp, s1, SEG_STORED);
        memcpy(s1, s2, SEG_STORED);
        memcpy(s2, tmp, SEG_STORED);
    } else if (strcmp(defect, "seg-dup") == 0) {
        uint8_t tmp[SEG_STORED];
        memcpy(tmp, s1, SEG_STORED);
        size_t tail = b->len - (size_t)(s2 - b->p);
        buf_add(b, tmp, SEG_STORED); /* may move b->p */
        s1 = b->p + hdr + SEG_STORED;
        s2 = s1 + SEG_STORED;
        memmove(s2 + SEG_STORED, s2, tail);
        memcpy(s2, tmp, SEG_STORED);
    } else if (strcmp(defect, "seg-truncate") == 0) {
        b->len = hdr + 2 * SEG_STORED; /* cut at a segment boundary */
    }
}

static bool is(const char *d, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(d, *set) == 0)
            return true;
    return false;
}

static void read_all(const char *path, buf *b)
{
    unsigned char *d = NULL;
    size_t len = 0;
    hb_err err;
    if (hb_read_file(path, (size_t)1 << 30, &d, &len, &err) != HB_OK)
        die(path, &err);
    b->p = d;
    b->len = b->cap = len;
}

static void write_out(const char *dir, const char *name, const void *d, size_t len)
{
    char path[PATH_MAX];
    hb_err err;
    if (hb_path_join(path, sizeof path, dir, name, &err) != HB_OK ||
        hb_write_file_atomic(path, d, len, 0600, &err) != HB_OK)
        die(name, &err);
}

static hb_manifest *read_manifest(const char *dir)
{
    char path[PATH_MAX];
    hb_err err;
    buf b = {0};
    hb_manifest *m = NULL;
    if (hb_path_join(path, sizeof path, dir, HB_MANIFEST_FILENAME, &err) != HB_OK)
        die(dir, &err);
    read_all(path, &b);
    if (hb_manifest_read(b.p, b.len, NULL, &m, NULL, &err) != HB_OK)
        die(path, &err);
    free(b.p);
    return m;
}

static void add_file(hb_manifest *m, const hb_manifest_file *f, const char *dropped,
                     const char *name,
                     const char *filename, const char *compression, const buf *data,
                     const char *outdir)
{
    hb_err err;
    char sum[65];
    if (hb_sha256_hex(data->p, data->len, sum, &err) != HB_OK ||
        hb_manifest_add_file(m, name, filename, compression, data->len, sum, &err) != HB_OK)
        die(name, &err);
    for (size_t k = 0; f != NULL && k < f->n_keys; k++)
        if ((dropped == NULL || strcmp(dropped, f->keys[k].recipient) != 0) &&
            hb_manifest_add_wrapped_key(m, name, f->keys[k].recipient, f->keys[k].data,
                                        f->keys[k].len, &err) != HB_OK)
            die(name, &err);
    write_out(outdir, filename, data->p, data->len);
}

/* Remove the Signature, apply an edit that needs a new signature, sign again. */
static void resign_with_edit(const char *defect, uint8_t **xml, size_t *len, X509 *cert)
{
    hb_err err;
    xmlDocPtr doc = xmlReadMemory((const char *)*xml, (int)*len, "m.xml", NULL, XML_PARSE_NONET);
    if (doc == NULL)
        die("cannot re-parse the manifest", NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr sig = hb_xml_child(root, HB_XMLDSIG_NS, "Signature");
    if (sig) {
        xmlUnlinkNode(sig);
        xmlFreeNode(sig);
    }
    if (strcmp(defect, "format-version") == 0)
        xmlSetProp(root, BAD_CAST "format", BAD_CAST "2");
    else if (strcmp(defect, "unknown-element") == 0)
        xmlNewChild(hb_xml_child(root, HB_MANIFEST_NS, "backup"), root->ns,
                    BAD_CAST "extra", BAD_CAST "x");
    if (strcmp(defect, "no-signature") != 0 &&
        hb_xmldsig_sign(doc, cert, sign_cb, NULL, &err) != HB_OK)
        die("sign", &err);
    xmlChar *out = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &out, &n, "UTF-8");
    free(*xml);
    *xml = malloc((size_t)n);
    memcpy(*xml, out, (size_t)n);
    *len = (size_t)n;
    xmlFree(out);
    xmlFreeDoc(doc);
}

/* Text edits on the signed bytes (the signature is not renewed). */
static void edit_text(const char *defect, uint8_t **xml, size_t *len)
{
    buf b = {0};
    const char *s = (const char *)*xml, *end = s + *len;
    if (strcmp(defect, "dtd") == 0) {
        const char *root = strstr(s, "<backupmanifest");
        buf_add(&b, s, (size_t)(root - s));
        const char *dtd = "<!DOCTYPE backupmanifest [<!ENTITY x \"y\">]>\n";
        buf_add(&b, dtd, strlen(dtd));
        buf_add(&b, root, (size_t)(end - root));
    } else if (strcmp(defect, "bad-signature") == 0) {
        buf_add(&b, s, *len);
        char *v = strstr((char *)b.p, "SignatureValue>");
        v += strlen("SignatureValue>") + 4;
        *v = *v == 'A' ? 'B' : 'A';
    } else if (strcmp(defect, "entry-edit") == 0) {
        buf_add(&b, s, *len);
        char *v = strstr((char *)b.p, "<size>");
        v += strlen("<size>");
        *v = *v == '1' ? '2' : '1';
    } else {
        return;
    }
    free(*xml);
    *xml = b.p;
    *len = b.len;
}

/* A co-recipient's config archive: SRC's config DEK, a different tar. */
static int co_recipient(const hb_manifest *m, const char *out, const char *outside)
{
    hb_err err;
    EVP_PKEY *key = NULL;
    const char *uri = getenv("HBCRAFT_RECIPIENT_KEY");
    const hb_manifest_file *f = hb_manifest_find_file(m, "config");
    uint8_t dek[HB_DEK_LEN];
    bool have = false;
    if (uri == NULL || f == NULL ||
        hb_provider_load_private_key(prov, uri, &key, &err) != HB_OK)
        die("co-recipient needs HBCRAFT_RECIPIENT_KEY and a config archive", NULL);
    for (size_t k = 0; !have && k < f->n_keys; k++) {
        const hb_manifest_recipient *r = hb_manifest_find_recipient(m, f->keys[k].recipient);
        hb_oaep_hash h;
        have = r != NULL && hb_oaep_hash_from_name(r->key_wrap, &h, &err) == HB_OK &&
               hb_unwrap_dek(prov, key, h, f->keys[k].data, f->keys[k].len, dek, &err) == HB_OK;
    }
    if (!have)
        die("no wrapped key of config opens with HBCRAFT_RECIPIENT_KEY", NULL);
    buf data = {0};
    (void)craft_archive("co-recipient", m->id, outside, dek, &data);
    write_out(out, f->filename, data.p, data.len);
    free(data.p);
    EVP_PKEY_free(key);
    return 0;
}

/* ==== issue 11 class 1: symlinks beneath the root ============================
 * The resource "root" replaced by a tar whose tree holds symlinks at the
 * paths a restore writes after extracting (the profile's reset file
 * root/users/admin), all pointing at OUTSIDE/decoy, the directory the test
 * keeps beside the system root:
 *   link-users-abs   users -> OUTSIDE/decoy            (reset's directory, absolute)
 *   link-users-rel   users -> ../../decoy              (the same, relative)
 *   link-admin       users/admin -> OUTSIDE/decoy/admin (the reset file itself)
 *   link-nested      users/admin a file; deep/a/b/out, and the carried-over
 *                    names temporary, .hsmbak and VERSION inside the
 *                    resource, links to the decoy: nothing writes there, so
 *                    this one restores, the links kept as links */
static const char *const link_defects[] = {"link-users-abs", "link-users-rel", "link-admin",
                                           "link-nested", NULL};

static const char *craft_link_archive(const char *defect, const char *backup_id,
                                      const char *outside, const uint8_t dek[HB_DEK_LEN],
                                      buf *out)
{
    hb_stream_writer *w = NULL;
    struct archive *a = tar_open("root", backup_id, dek, false, out, &w);
    static const char cfg[] = "system crafted\n", admin[] = "admin:$6$crafted$hash\n";
    char decoy[PATH_MAX + 8], decoy_admin[PATH_MAX + 16];
    if (snprintf(decoy, sizeof decoy, "%s/decoy", outside) >= (int)sizeof decoy ||
        snprintf(decoy_admin, sizeof decoy_admin, "%s/admin", decoy) >= (int)sizeof decoy_admin)
        die("path too long", NULL);
    add_entry(a, "system.cfg", AE_IFREG, NULL, NULL, cfg, (int64_t)strlen(cfg));
    if (strcmp(defect, "link-users-abs") == 0) {
        add_entry(a, "users", AE_IFLNK, decoy, NULL, NULL, 0);
    } else if (strcmp(defect, "link-users-rel") == 0) {
        add_entry(a, "users", AE_IFLNK, "../../decoy", NULL, NULL, 0);
    } else if (strcmp(defect, "link-admin") == 0) {
        add_entry(a, "users", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "users/admin", AE_IFLNK, decoy_admin, NULL, NULL, 0);
    } else {
        add_entry(a, "users", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "users/admin", AE_IFREG, NULL, NULL, admin, (int64_t)strlen(admin));
        add_entry(a, "deep", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "deep/a", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "deep/a/b", AE_IFDIR, NULL, NULL, NULL, 0);
        add_entry(a, "deep/a/b/out", AE_IFLNK, decoy, NULL, NULL, 0);
        add_entry(a, "temporary", AE_IFLNK, decoy, NULL, NULL, 0);
        add_entry(a, ".hsmbak", AE_IFLNK, decoy, NULL, NULL, 0);
        add_entry(a, "VERSION", AE_IFLNK, decoy_admin, NULL, NULL, 0);
    }
    tar_close(a, w);
    return "none";
}
/* ==== end of issue 11 class 1 block ========================================= */

/* ---- issue 11 class 3: a signer certificate of another validity ----------
 * With HBCRAFT_SIGNER_DAYS=FROM,TO (days from now) the signer certificate is
 * re-issued for the same token key with that validity, self-signed on the
 * token, written to $HBCRAFT_SIGNER_OUT, and signs OUT's manifest: a backup
 * validly signed by a certificate that is expired or not yet valid. */
static void signer_validity(X509 *cert)
{
    const char *days = getenv("HBCRAFT_SIGNER_DAYS"), *out = getenv("HBCRAFT_SIGNER_OUT");
    long from, to;
    if (days == NULL)
        return;
    if (out == NULL || sscanf(days, "%ld,%ld", &from, &to) != 2)
        die("HBCRAFT_SIGNER_DAYS=FROM,TO needs HBCRAFT_SIGNER_OUT=PATH", NULL);
    if (X509_gmtime_adj(X509_getm_notBefore(cert), from * 86400L) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), to * 86400L) == NULL ||
        X509_sign(cert, signer_key, EVP_sha256()) <= 0)
        die("re-issuing the signer certificate", NULL);
    FILE *f = fopen(out, "w");
    if (f == NULL || PEM_write_X509(f, cert) != 1 || fclose(f) != 0)
        die(out, NULL);
}

/* ---- issue 15 item 6: quorum share commitments --------------------------
 * bad-share and no-commitment edit SRC's own signed manifest (hbcraft's
 * rebuild does not carry quorum groups), copy every archive as it is, and
 * sign again with the test's signer. */
static void replace_text(xmlNodePtr n, const char *text)
{
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, BAD_CAST text);
}

/* Member x=2's <wrapped-share> text in the first quorum of m2, base64. */
static char *share_of_x2(const hb_manifest *m2)
{
    hb_err err;
    char *b64 = NULL;
    for (size_t k = 0; m2 != NULL && m2->n_quorums > 0 && k < m2->quorums[0].n_members; k++) {
        const hb_manifest_quorum_member *mem = &m2->quorums[0].members[k];
        if (mem->x == 2 && hb_base64_encode(mem->wrapped_share, mem->wrapped_share_len, &b64,
                                            &err) != HB_OK)
            die("share-replay", &err);
    }
    if (b64 == NULL)
        die("share-replay needs SRC2 with a quorum that has a member x=2", NULL);
    return b64;
}

static void edit_quorum(const char *defect, const hb_manifest *m, const hb_manifest *m2,
                        xmlNodePtr root)
{
    hb_err err;
    xmlNodePtr recips = hb_xml_child(root, HB_MANIFEST_NS, "recipients");
    xmlNodePtr q = NULL;
    for (xmlNodePtr r = recips ? hb_xml_first_elem(recips) : NULL; r; r = hb_xml_next_elem(r))
        if (q == NULL && xmlStrcmp(r->name, BAD_CAST "quorum") == 0)
            q = r;
    if (q == NULL || m->n_quorums == 0)
        die("the source backup has no quorum group", NULL);
    for (xmlNodePtr mn = hb_xml_first_elem(q); mn; mn = hb_xml_next_elem(mn)) {
        xmlNodePtr c = hb_xml_child(mn, HB_MANIFEST_NS, "share-commitment");
        if (strcmp(defect, "no-commitment") == 0) {
            if (c == NULL)
                die("the source backup has no share commitments", NULL);
            /* The indentation before it goes too. */
            if (c->prev != NULL && c->prev->type == XML_TEXT_NODE) {
                xmlNodePtr ws = c->prev;
                xmlUnlinkNode(ws);
                xmlFreeNode(ws);
            }
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            continue;
        }
        xmlChar *x = xmlGetNoNsProp(mn, BAD_CAST "x");
        bool two = x != NULL && strcmp((const char *)x, "2") == 0;
        xmlFree(x);
        if (!two)
            continue;
        if (strcmp(defect, "share-replay") == 0) {
            char *b64 = share_of_x2(m2);
            replace_text(hb_xml_child(mn, HB_MANIFEST_NS, "wrapped-share"), b64);
            free(b64);
            return;
        }
        const char *to = getenv("HBCRAFT_SHARE_CERT_X");
        unsigned to_x = to != NULL && strcmp(to, "3") == 0 ? 3 : 2;
        const hb_manifest_quorum_member *mem = NULL;
        for (size_t k = 0; k < m->quorums[0].n_members; k++)
            if (m->quorums[0].members[k].x == to_x)
                mem = &m->quorums[0].members[k];
        const unsigned char *d = mem ? mem->cert_der : NULL;
        X509 *cert = d ? d2i_X509(NULL, &d, (long)mem->cert_der_len) : NULL;
        uint8_t share[33];
        share[0] = 2;
        hb_oaep_hash h;
        uint8_t *wrapped = NULL;
        size_t wlen = 0;
        char *b64 = NULL;
        if (cert == NULL || RAND_bytes(share + 1, 32) != 1 ||
            hb_oaep_hash_from_name(mem->key_wrap, &h, &err) != HB_OK ||
            hb_oaep_encrypt(hb_provider_libctx(prov), X509_get0_pubkey(cert), h, share,
                            sizeof share, &wrapped, &wlen, &err) != HB_OK ||
            hb_base64_encode(wrapped, wlen, &b64, &err) != HB_OK)
            die("bad-share", &err);
        replace_text(hb_xml_child(mn, HB_MANIFEST_NS, "wrapped-share"), b64);
        free(b64);
        free(wrapped);
        X509_free(cert);
        return;
    }
    if (strcmp(defect, "bad-share") == 0)
        die("the first quorum has no member x=2", NULL);
}

static int quorum_defect(const char *defect, const char *src, const char *out,
                         const hb_manifest *m, const hb_manifest *m2, X509 *cert)
{
    hb_err err;
    char path[PATH_MAX];
    buf data = {0};
    for (size_t i = 0; i < m->n_files; i++) {
        if (hb_path_join(path, sizeof path, src, m->files[i].filename, &err) != HB_OK)
            die("path", &err);
        read_all(path, &data);
        write_out(out, m->files[i].filename, data.p, data.len);
        free(data.p);
        data = (buf){0};
    }
    if (hb_path_join(path, sizeof path, src, HB_MANIFEST_FILENAME, &err) != HB_OK)
        die("path", &err);
    read_all(path, &data);
    xmlDocPtr doc = xmlReadMemory((const char *)data.p, (int)data.len, "m.xml", NULL,
                                  XML_PARSE_NONET);
    free(data.p);
    if (doc == NULL)
        die("cannot parse the manifest", NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr sig = hb_xml_child(root, HB_XMLDSIG_NS, "Signature");
    if (sig) {
        xmlUnlinkNode(sig);
        xmlFreeNode(sig);
    }
    edit_quorum(defect, m, m2, root);
    if (hb_xmldsig_sign(doc, cert, sign_cb, NULL, &err) != HB_OK)
        die("sign", &err);
    xmlChar *xml = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &xml, &n, "UTF-8");
    write_out(out, HB_MANIFEST_FILENAME, xml, (size_t)n);
    xmlFree(xml);
    xmlFreeDoc(doc);
    return 0;
}
/* ---- end of issue 15 item 6 ---------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: hbcraft DEFECT SRC OUT SIGNER_KEY_URI SIGNER_CERT PIN_SOURCE "
                        "[SRC2]\n");
        return 2;
    }
    const char *defect = argv[1], *src = argv[2], *out = argv[3];
    static const char *const tar_defects[] = {"tar-ok", "dotdot", "absolute", "symlink-through",
                                              "hardlink-out", "device", "fifo", "bomb",
                                              "seg-drop", "seg-reorder", "seg-dup",
                                              "seg-truncate", "reserved", NULL};
    static const char *const known[] = {"none", "swap", "replay", "no-recipient", "sys-version",
                                        "format-version", "unknown-element", "dtd",
                                        "no-signature", "bad-signature", "entry-edit",
                                        "co-recipient", "no-sequence", "bad-share",
                                        "no-commitment", "share-replay", NULL};
    if (!is(defect, tar_defects) && !is(defect, known) && !is(defect, link_defects)) {
        fprintf(stderr, "hbcraft: unknown defect '%s'\n", defect);
        return 2;
    }
    hb_err err;
    hb_provider_config cfg = {.pin_source = argv[6]};
    if (hb_provider_open(&cfg, &prov, &err) != HB_OK ||
        hb_provider_load_private_key(prov, argv[4], &signer_key, &err) != HB_OK)
        die("signer key", &err);
    FILE *cf = fopen(argv[5], "r");
    X509 *signer_cert = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    if (cf)
        fclose(cf);
    if (signer_cert == NULL)
        die(argv[5], NULL);
    signer_validity(signer_cert);
    if (mkdir(out, 0700) != 0)
        die(out, NULL);
    char outside[PATH_MAX];
    if (realpath(out, outside) == NULL)
        die(out, NULL);
    char *slash = strrchr(outside, '/');
    *slash = '\0'; /* the directory holding OUT: "outside" any staging tree */

    hb_manifest *m = read_manifest(src), *m2 = argc > 7 ? read_manifest(argv[7]) : NULL;
    if (strcmp(defect, "co-recipient") == 0) {
        int rc = co_recipient(m, out, outside);
        hb_manifest_free(m);
        hb_manifest_free(m2);
        X509_free(signer_cert);
        EVP_PKEY_free(signer_key);
        hb_provider_free(prov);
        return rc;
    }
    if (strcmp(defect, "bad-share") == 0 || strcmp(defect, "no-commitment") == 0 ||
        strcmp(defect, "share-replay") == 0) {
        int rc = quorum_defect(defect, src, out, m, m2, signer_cert);
        hb_manifest_free(m);
        hb_manifest_free(m2);
        X509_free(signer_cert);
        EVP_PKEY_free(signer_key);
        hb_provider_free(prov);
        return rc;
    }
    hb_manifest *n = NULL;
    if (hb_manifest_new(&n, &err) != HB_OK ||
        hb_manifest_set_backup(n, m->id, m->created, m->tool, &err) != HB_OK ||
        hb_manifest_set_system(n, strcmp(defect, "sys-version") == 0 ? "9.3.5.1" : m->version,
                               m->profile, m->build, m->machine_type, m->serial, &err) != HB_OK)
        die("manifest", &err);
    /* ---- issue 11 class 5 (rollback): the sequence ---------------------------
     * OUT keeps SRC's sequence, so a crafted backup is as old as its source;
     * no-sequence leaves it out, as hsmbak before sequence numbers did. */
    if (m->sequence > 0 && strcmp(defect, "no-sequence") != 0 &&
        hb_manifest_set_sequence(n, m->sequence, &err) != HB_OK)
        die("sequence", &err);
    /* Likewise its transcript pin (docs/FORMAT.md §10). */
    if (m->transcript_seq > 0 &&
        hb_manifest_set_transcript(n, m->transcript_seq, m->transcript_head, &err) != HB_OK)
        die("transcript pin", &err);
    /* ---- end of issue 11 class 5 --------------------------------------------- */
    /* no-recipient drops the last recipient (put the one that restores last). */
    size_t n_rcpt = m->n_recipients - (strcmp(defect, "no-recipient") == 0 ? 1 : 0);
    const char *dropped = n_rcpt < m->n_recipients ? m->recipients[n_rcpt].id : NULL;
    for (size_t i = 0; i < n_rcpt; i++) {
        const unsigned char *d = m->recipients[i].cert_der;
        X509 *c = d2i_X509(NULL, &d, (long)m->recipients[i].cert_der_len);
        const char *id = NULL;
        if (c == NULL || hb_manifest_add_recipient(n, c, m->recipients[i].key_wrap, &id,
                                                   &err) != HB_OK)
            die("recipient", &err);
        /* Kept as SRC says: swap and replay then move labelled wraps. */
        if (m->recipients[i].oaep_label && hb_manifest_set_recipient_label(n, id, &err) != HB_OK)
            die("recipient label", &err);
        if (strcmp(id, m->recipients[i].id) != 0)
            die("recipient ids shifted; put the removed recipient last", NULL);
        X509_free(c);
    }
    for (size_t i = 0; i < m->n_excluded; i++)
        if (hb_manifest_add_excluded(n, m->excluded[i].name, m->excluded[i].reason, &err) != HB_OK)
            die("excluded", &err);

    for (size_t i = 0; i < m->n_files; i++) {
        const hb_manifest_file *f = &m->files[i];
        char path[PATH_MAX];
        buf data = {0};
        bool link_craft = strcmp(f->name, "root") == 0 && is(defect, link_defects);
        bool crafted = link_craft || (strcmp(f->name, "config") == 0 && is(defect, tar_defects));
        if (crafted) {
            uint8_t dek[HB_DEK_LEN];
            RAND_bytes(dek, sizeof dek);
            const char *comp = link_craft ? craft_link_archive(defect, m->id, outside, dek, &data)
                                          : craft_archive(defect, m->id, outside, dek, &data);
            edit_segments(defect, &data);
            char filename[64], sum[65];
            snprintf(filename, sizeof filename, "%s%s", f->name, hb_manifest_extension(comp));
            if (hb_sha256_hex(data.p, data.len, sum, &err) != HB_OK ||
                hb_manifest_add_file(n, f->name, filename, comp, data.len, sum, &err) != HB_OK)
                die(f->name, &err);
            for (size_t r = 0; r < n->n_recipients; r++) {
                const unsigned char *d = n->recipients[r].cert_der;
                X509 *c = d2i_X509(NULL, &d, (long)n->recipients[r].cert_der_len);
                hb_oaep_hash h;
                hb_wrap_label label;
                uint8_t *wrapped = NULL;
                size_t wlen = 0;
                if (c == NULL ||
                    hb_oaep_hash_from_name(n->recipients[r].key_wrap, &h, &err) != HB_OK ||
                    (n->recipients[r].oaep_label &&
                     hb_wrap_label_make("dek", m->id, f->name, n->recipients[r].fingerprint,
                                        &label, &err) != HB_OK) ||
                    hb_wrap_dek_labelled(hb_provider_libctx(prov), c, h,
                                         n->recipients[r].oaep_label ? &label : NULL, dek,
                                         &wrapped, &wlen, &err) != HB_OK ||
                    hb_manifest_add_wrapped_key(n, f->name, n->recipients[r].id, wrapped, wlen,
                                                &err) != HB_OK)
                    die("wrap", &err);
                free(wrapped);
                X509_free(c);
            }
            write_out(out, filename, data.p, data.len);
            free(data.p);
            continue;
        }
        const hb_manifest_file *from = f;
        const char *from_dir = src;
        if (strcmp(defect, "swap") == 0 && strcmp(f->name, "cert") == 0)
            from = hb_manifest_find_file(m, "config");
        if (strcmp(defect, "replay") == 0 && strcmp(f->name, "config") == 0) {
            if (m2 == NULL || (from = hb_manifest_find_file(m2, "config")) == NULL)
                die("replay needs SRC2 with a config archive", NULL);
            from_dir = argv[7];
        }
        if (hb_path_join(path, sizeof path, from_dir, from->filename, &err) != HB_OK)
            die("path", &err);
        read_all(path, &data);
        add_file(n, from, dropped, f->name, f->filename, from->compression, &data, out);
        free(data.p);
    }

    uint8_t *xml = NULL;
    size_t xml_len = 0;
    if (hb_manifest_write_signed(n, signer_cert, sign_cb, NULL, &xml, &xml_len, &err) != HB_OK)
        die("write manifest", &err);
    if (is(defect, (const char *const[]){"format-version", "unknown-element", "no-signature",
                                         NULL}))
        resign_with_edit(defect, &xml, &xml_len, signer_cert);
    edit_text(defect, &xml, &xml_len);
    write_out(out, HB_MANIFEST_FILENAME, xml, xml_len);
    free(xml);
    hb_manifest_free(m);
    hb_manifest_free(m2);
    hb_manifest_free(n);
    X509_free(signer_cert);
    EVP_PKEY_free(signer_key);
    hb_provider_free(prov);
    return 0;
}
