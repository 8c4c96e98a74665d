/* Reading one archive back (DESIGN §4.1, §4.3, §7; docs/FORMAT.md §5):
 * file -> encrypted stream -> libarchive filter -> tar entries, which are
 * either walked (validate: every check, nothing written) or extracted into
 * a staging directory. Walk and extract run the same checks on every entry,
 * so a validate catches whatever a restore would refuse.
 *
 * Statuses: an entry that breaks the tar profile (absolute path, "..",
 * a path through a symlink, a hard link to an absent entry, a device, FIFO
 * or socket) is HB_E_VERIFY, like any other malformed content; a cap (entry
 * count, expanded size, free space) is HB_E_REFUSED, the status for caps. */
#include "backup/format/archive.h"

#include "backup/format/archive_internal.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define READ_BUF (128 * 1024)
#define DEFAULT_MAX_ENTRIES 1000000
#define DEFAULT_MIN_FREE_PERCENT 5

void hb_archive_limits_default(hb_archive_limits *l)
{
    l->max_expanded_bytes = UINT64_MAX;
    l->max_entries = DEFAULT_MAX_ENTRIES; /* DESIGN §4.3 */
    l->min_free_percent = DEFAULT_MIN_FREE_PERCENT;
    l->no_links = NULL;
    l->no_links_shown = "";
}

/* ---- a set of paths (open addressing, FNV-1a) ---- */

typedef struct pathset {
    char **slots;
    size_t cap, count;
} pathset;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool pathset_has(const pathset *p, const char *s)
{
    if (p->cap == 0)
        return false;
    for (size_t i = fnv1a(s) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
        if (p->slots[i] == NULL)
            return false;
        if (strcmp(p->slots[i], s) == 0)
            return true;
    }
}

static bool pathset_put_owned(pathset *p, char *s)
{
    size_t i = fnv1a(s) & (p->cap - 1);
    while (p->slots[i] != NULL)
        i = (i + 1) & (p->cap - 1);
    p->slots[i] = s;
    p->count++;
    return true;
}

static hb_status pathset_add(pathset *p, const char *s, hb_err *err)
{
    if (pathset_has(p, s))
        return HB_OK;
    if ((p->count + 1) * 2 > p->cap) { /* keep the load under 1/2 */
        pathset bigger = {calloc(p->cap ? p->cap * 2 : 64, sizeof(char *)),
                          p->cap ? p->cap * 2 : 64, 0};
        if (bigger.slots == NULL)
            return hb_fail_oom(err);
        for (size_t i = 0; i < p->cap; i++)
            if (p->slots[i] != NULL)
                pathset_put_owned(&bigger, p->slots[i]);
        free(p->slots);
        *p = bigger;
    }
    char *copy = strdup(s);
    if (copy == NULL)
        return hb_fail_oom(err);
    pathset_put_owned(p, copy);
    return HB_OK;
}

static void pathset_clear(pathset *p)
{
    for (size_t i = 0; i < p->cap; i++)
        free(p->slots[i]);
    free(p->slots);
    p->slots = NULL;
    p->cap = p->count = 0;
}

/* ---- reading the stream ---- */

typedef struct in_file {
    int fd;             /* -1 when reading from source */
    const char *path;
    hb_source_fn source; /* the caller's source, or NULL: fd */
    void *source_ctx;
    uint64_t size;      /* encrypted bytes read */
    hb_stream_reader *r;
    EVP_MD_CTX *md;     /* SHA-256 of the encrypted file, for hb_archive_info */
    const hb_archive_spec *spec; /* for byte progress */
    hb_read_ahead *ra;  /* decrypts ahead of libarchive, on its own thread */
    bool eof;
    hb_err err;         /* why tar_read_cb failed, for hb_archive_fail */
} in_file;

static hb_status fd_source(void *ctx, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    in_file *in = ctx;
    hb_status st = in->source != NULL ? in->source(in->source_ctx, buf, cap, got, err)
                                      : hb_read_some(in->fd, buf, cap, got, in->path, err);
    if (st != HB_OK)
        return st;
    in->size += *got;
    if (EVP_DigestUpdate(in->md, buf, *got) != 1)
        return hb_fail_ossl(err, HB_E_INTERNAL, "SHA-256 failed");
    if (*got > 0 && in->spec != NULL && in->spec->on_bytes != NULL)
        in->spec->on_bytes(in->spec->on_bytes_ctx, in->spec->name, (uint64_t)*got);
    return HB_OK;
}

static la_ssize_t tar_read_cb(struct archive *a, void *ctx, const void **out)
{
    in_file *in = ctx;
    size_t got = 0;
    const uint8_t *buf = NULL;
    *out = NULL;
    if (in->eof)
        return 0;
    if (hb_read_ahead_next(in->ra, &buf, &got, &in->err) != HB_OK) {
        archive_set_error(a, EIO, "%s", in->err.msg);
        return -1;
    }
    if (got == 0)
        in->eof = true; /* the final segment verified */
    *out = buf;
    return (la_ssize_t)got;
}

/* ---- the per-entry checks shared by walk and extract ---- */

typedef struct checker {
    const char *name;        /* archive name, for messages */
    hb_archive_limits lim;
    pathset files;           /* regular files so far: valid hard-link targets */
    pathset symlinks;        /* nothing may be written through or over these */
    uint64_t entries, expanded;
    uint64_t space_budget;   /* bytes that may still be written unchecked */
    unsigned space_unchecked; /* entries since the last statvfs */
    char canon[PATH_MAX];
    char canon_link[PATH_MAX];
} checker;

/* Canonical relative form of an entry path: no "", "." components, no
 * leading "./"; refuses absolute paths and "..". */
static hb_status canonical(const checker *c, const char *path, const char *what, char *out,
                           hb_err *err)
{
    size_t o = 0;
    if (path == NULL || path[0] == '\0')
        return hb_fail(err, HB_E_VERIFY, "archive '%s': %s with an empty name", c->name, what);
    if (path[0] == '/')
        return hb_fail(err, HB_E_VERIFY, "archive '%s': %s '%s' is an absolute path; "
                       "entries must stay inside the restore root", c->name, what, path);
    const char *p = path;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return hb_fail(err, HB_E_VERIFY, "archive '%s': %s '%s' has a '..' component; "
                           "entries must stay inside the restore root", c->name, what, path);
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (o + len + 2 > PATH_MAX)
                return hb_fail(err, HB_E_VERIFY, "archive '%s': %s path too long", c->name,
                               what);
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    out[o] = '\0';
    return HB_OK;
}

/* A symbolic link entry at canon must not be, nor lead to, a path the
 * restore writes afterwards (limits.no_links): the restore would write
 * through it. Said as the restore's own refusal (restore_staging.c). */
static hb_status check_reset_links(const checker *c, const char *canon, hb_err *err)
{
    size_t n = strlen(canon);
    const char *at = c->lim.no_links_shown != NULL ? c->lim.no_links_shown : "";
    const char *sep = at[0] != '\0' ? "/" : "";
    for (const char *const *p = c->lim.no_links; p != NULL && *p != NULL; p++) {
        if (strncmp(*p, canon, n) != 0 || ((*p)[n] != '\0' && (*p)[n] != '/'))
            continue;
        return hb_fail(err, HB_E_REFUSED, "the backup cannot be restored: in its tree, "
                       "'%s%s%s' is a symbolic link; hsmbak never writes, removes or follows "
                       "anything through a link beneath a root (on the way to '%s%s%s', which "
                       "the profile resets to the factory default); the system is unchanged",
                       at, sep, canon, at, sep, *p);
    }
    return HB_OK;
}

/* No proper prefix of path (nor path itself when it is to be written) may be
 * an earlier symlink entry: that would write through the link. */
static hb_status check_no_symlink(const checker *c, const char *path, const char *entry,
                                  hb_err *err)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    memcpy(tmp, path, len + 1);
    for (size_t i = 0; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        bool hit = pathset_has(&c->symlinks, tmp);
        tmp[i] = saved;
        if (hit)
            return hb_fail(err, HB_E_VERIFY, "archive '%s': entry '%s' would be written "
                           "through or over the symlink '%.*s'", c->name, entry, (int)i, path);
    }
    return HB_OK;
}

/* Checks one entry; on success c->canon (and c->canon_link for hard links)
 * hold the canonical paths and *skip says the entry is the root itself. */
static hb_status check_entry(checker *c, struct archive_entry *e, bool *skip, hb_err *err)
{
    hb_status st = HB_OK;
    const char *path = archive_entry_pathname(e);
    const char *link = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    *skip = false;
    HB_ENSURE(++c->entries <= c->lim.max_entries, HB_E_REFUSED, "archive '%s': more than %llu "
              "entries (the cap; raise it if this archive is genuine)", c->name,
              (unsigned long long)c->lim.max_entries);
    HB_TRY(canonical(c, path, "entry", c->canon, err));
    if (c->canon[0] == '\0') { /* "." or "./": the restore root itself */
        HB_ENSURE(type == AE_IFDIR && link == NULL, HB_E_VERIFY, "archive '%s': the root "
                  "entry '%s' is not a directory", c->name, path);
        *skip = true;
        goto cleanup;
    }
    HB_TRY(check_no_symlink(c, c->canon, path, err));
    if (link != NULL) {
        HB_TRY(canonical(c, link, "hard link target", c->canon_link, err));
        HB_TRY(check_no_symlink(c, c->canon_link, path, err));
        HB_ENSURE(pathset_has(&c->files, c->canon_link), HB_E_VERIFY, "archive '%s': hard "
                  "link '%s' points to '%s', which is not an earlier regular file of the "
                  "archive", c->name, path, link);
    } else if (type == AE_IFLNK) {
        HB_TRY(check_reset_links(c, c->canon, err));
        HB_TRY(pathset_add(&c->symlinks, c->canon, err));
    } else if (type != AE_IFREG && type != AE_IFDIR) {
        const char *kind = type == AE_IFCHR || type == AE_IFBLK ? "a device node"
                         : type == AE_IFIFO ? "a FIFO" : type == AE_IFSOCK ? "a socket"
                         : "of an unknown type";
        HB_FAIL(HB_E_VERIFY, "archive '%s': entry '%s' is %s; archives hold only files, "
                "directories and links", c->name, path, kind);
    }
    if (type == AE_IFREG || link != NULL)
        HB_TRY(pathset_add(&c->files, link != NULL ? c->canon_link : c->canon, err));
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    HB_ENSURE(size >= 0 && (uint64_t)size <= c->lim.max_expanded_bytes - c->expanded,
              HB_E_REFUSED, "archive '%s': entry '%s' would take the expanded size past the "
              "cap of %llu bytes (decompression bomb?)", c->name, path,
              (unsigned long long)c->lim.max_expanded_bytes);
    c->expanded += (uint64_t)size;
cleanup:
    return st;
}

/* Refuse before free space on the staging filesystem would fall under the
 * floor (DESIGN §4.3). statvfs is asked again only once half the headroom
 * it last showed is used (each entry charged its size plus a block for its
 * inode and directory entry) or after SPACE_RECHECK entries, whichever comes
 * first: one statfs per entry was 3 % of a restore's system time
 * (docs/benchmarks.md), and the halving leaves room for what others write
 * meanwhile. */
#define SPACE_RECHECK 1024
#define SPACE_ENTRY_OVERHEAD 4096
static hb_status check_space(checker *c, const char *dir, const char *entry, uint64_t bytes,
                             hb_err *err)
{
    struct statvfs vfs;
    if (c->lim.min_free_percent == 0)
        return HB_OK;
    uint64_t charge = bytes + SPACE_ENTRY_OVERHEAD;
    if (charge <= c->space_budget && c->space_unchecked < SPACE_RECHECK) {
        c->space_budget -= charge;
        c->space_unchecked++;
        return HB_OK;
    }
    if (statvfs(dir, &vfs) != 0)
        return hb_fail(err, HB_E_IO, "archive '%s': cannot check free space on '%s': %s",
                       c->name, dir, strerror(errno));
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    uint64_t min_free = total / 100 * c->lim.min_free_percent;
    if (avail < bytes || avail - bytes < min_free)
        return hb_fail(err, HB_E_REFUSED, "archive '%s': extracting '%s' (%llu bytes) would "
                       "leave less than %u%% free on the filesystem of '%s'; free space "
                       "first", c->name, entry, (unsigned long long)bytes,
                       c->lim.min_free_percent, dir);
    c->space_budget = (avail - bytes - min_free) / 2;
    c->space_unchecked = 0;
    return HB_OK;
}

/* ---- walk and extract, in stages ---- */

/* One archive being read: the file and its stream, libarchive's reader, the
 * entry checks and, when extracting, libarchive's disk writer. */
typedef struct reader {
    const hb_archive_spec *spec;
    in_file in;
    struct stat sb;          /* of the archive file */
    struct archive *a;
    checker *c;
    hb_disk_writer *disk;    /* NULL when walking */
    char *root;              /* canonical staging directory; NULL when walking */
} reader;

static void reader_close(reader *rd)
{
    archive_read_free(rd->a);
    hb_read_ahead_free(rd->in.ra); /* joins its thread before the stream goes */
    hb_disk_writer_free(rd->disk);
    hb_stream_reader_free(rd->in.r);
    EVP_MD_CTX_free(rd->in.md);
    if (rd->in.fd >= 0)
        close(rd->in.fd);
    if (rd->c != NULL) {
        pathset_clear(&rd->c->files);
        pathset_clear(&rd->c->symlinks);
        free(rd->c);
    }
    free(rd->root);
}

/* Stage 1: open the file, authenticate the stream header (hb_stream_reader_new
 * checks the version, suite and key commitment before anything is
 * decrypted) and start libarchive on it with the compression the manifest
 * names. */
static hb_status open_archive(reader *rd, const char *path, const uint8_t dek[HB_DEK_LEN],
                              const char *staging_dir, const hb_archive_limits *limits,
                              hb_err *err)
{
    hb_status st = HB_OK;
    const hb_archive_spec *spec = rd->spec;
    HB_ALLOC(rd->c = calloc(1, sizeof *rd->c));
    rd->c->name = spec->name;
    if (limits != NULL)
        rd->c->lim = *limits;
    else
        hb_archive_limits_default(&rd->c->lim);
    if (staging_dir != NULL) {
        /* A canonical root: no symlinks or ".." in the prefix we add. */
        rd->root = realpath(staging_dir, NULL);
        HB_ENSURE(rd->root != NULL && stat(rd->root, &rd->sb) == 0 && S_ISDIR(rd->sb.st_mode),
                  HB_E_NOT_FOUND, "archive '%s': staging directory '%s' is missing or not a "
                  "directory", spec->name, staging_dir);
    }
    if (rd->in.source == NULL) {
        st = hb_open_input(path, &rd->in.fd, &rd->sb, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "archive '%s'", spec->name);
            goto cleanup;
        }
    }
    rd->in.md = EVP_MD_CTX_new();
    if (rd->in.md == NULL || EVP_DigestInit_ex(rd->in.md, EVP_sha256(), NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 is not available");
    HB_TRY(hb_stream_reader_new(dek, spec->backup_id, spec->name, fd_source, &rd->in,
                                &rd->in.r, err));
    HB_TRY(hb_read_ahead_start(rd->in.r, READ_BUF, &rd->in.ra, err));

    rd->a = archive_read_new();
    HB_ENSURE(rd->a != NULL && archive_read_support_format_tar(rd->a) == ARCHIVE_OK &&
              archive_read_support_filter_zstd(rd->a) == ARCHIVE_OK &&
              archive_read_support_filter_gzip(rd->a) == ARCHIVE_OK &&
              archive_read_support_filter_none(rd->a) == ARCHIVE_OK, HB_E_INTERNAL,
              "libarchive cannot read tar, zstd or gzip");
    if (archive_read_open2(rd->a, &rd->in, NULL, tar_read_cb, NULL, NULL) != ARCHIVE_OK)
        HB_TRY(hb_archive_fail(err, &rd->in.err, rd->a, HB_E_VERIFY, "archive '%s': not a tar "
                               "stream", spec->name));
    /* The compression must be the one the manifest and extension say. */
    HB_ENSURE(archive_filter_code(rd->a, 0) == hb_compression_filter_code(spec->compression),
              HB_E_VERIFY, "archive '%s': compressed with %s, but the manifest says %s",
              spec->name, archive_filter_name(rd->a, 0),
              hb_compression_name(spec->compression));
cleanup:
    return st;
}

/* One checked entry onto disk, under the root, with its data. */
static hb_status extract_entry(reader *rd, struct archive_entry *e, hb_err *err)
{
    hb_status st = HB_OK;
    checker *c = rd->c;
    int64_t size = archive_entry_size(e);
    HB_TRY(check_space(c, rd->root, archive_entry_pathname(e), size > 0 ? (uint64_t)size : 0,
                       err));
    HB_TRY(hb_disk_writer_entry(rd->disk, rd->a, &rd->in.err, e, c->canon,
                                archive_entry_hardlink(e) != NULL ? c->canon_link : NULL, err));
cleanup:
    return st;
}

/* Stage 2, once per entry: the checks walk and extract share, then either
 * the entry onto disk or its data read (and so authenticated) and dropped.
 * *done at the end of the tar stream. */
static hb_status next_entry(reader *rd, bool *done, hb_err *err)
{
    hb_status st = HB_OK;
    struct archive_entry *e = NULL;
    bool skip = false;
    int r = archive_read_next_header(rd->a, &e);
    *done = r == ARCHIVE_EOF;
    if (*done)
        goto cleanup;
    if (r < ARCHIVE_WARN)
        HB_TRY(hb_archive_fail(err, &rd->in.err, rd->a, HB_E_VERIFY, "archive '%s': bad tar "
                               "entry", rd->spec->name));
    HB_TRY(check_entry(rd->c, e, &skip, err));
    if (rd->disk != NULL && skip)
        HB_TRY(hb_disk_writer_root(rd->disk, e, err));
    else if (rd->disk != NULL)
        HB_TRY(extract_entry(rd, e, err));
    else if (archive_read_data_skip(rd->a) != ARCHIVE_OK)
        HB_TRY(hb_archive_fail(err, &rd->in.err, rd->a, HB_E_VERIFY, "archive '%s': bad tar "
                               "data", rd->spec->name));
cleanup:
    return st;
}

/* Stage 3: authenticate the rest of the stream (the tar end may come
 * before the final segment, and a truncated or extended file must still
 * fail), close the extraction, and report what the archive held. */
static hb_status finish(reader *rd, hb_archive_info *info, hb_err *err)
{
    hb_status st = HB_OK;
    uint8_t digest[32];
    while (!rd->in.eof) {
        size_t n = 0;
        const uint8_t *buf;
        HB_TRY(hb_read_ahead_next(rd->in.ra, &buf, &n, err));
        rd->in.eof = n == 0;
    }
    hb_read_ahead_free(rd->in.ra); /* its thread joined: the digest and size are final */
    rd->in.ra = NULL;
    if (rd->disk != NULL)
        HB_TRY(hb_disk_writer_close(rd->disk, err)); /* directory modes, times */
    if (EVP_DigestFinal_ex(rd->in.md, digest, NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 failed");
    if (info != NULL) {
        memset(info, 0, sizeof *info);
        hb_hex_encode(digest, sizeof digest, info->sha256_hex);
        info->file_size = rd->in.size;
        info->entries = rd->c->entries;
        info->expanded_bytes = rd->c->expanded;
    }
cleanup:
    return st;
}

static hb_status run(const char *path, hb_source_fn source, void *source_ctx,
                     const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                     const char *staging_dir, const hb_archive_limits *limits,
                     hb_archive_info *info, hb_err *err)
{
    hb_status st = HB_OK;
    reader rd = {.spec = spec, .in = {.fd = -1, .path = path, .spec = spec, .source = source,
                                      .source_ctx = source_ctx}};
    HB_ENSURE(path != NULL && spec != NULL && spec->name != NULL && spec->backup_id != NULL &&
              dek != NULL, HB_E_USAGE, "reading an archive: missing argument");
    HB_TRY(open_archive(&rd, path, dek, staging_dir, limits, err));
    if (rd.root != NULL)
        HB_TRY(hb_disk_writer_open(rd.root, spec->name, &rd.disk, err));
    for (bool done = false; !done;)
        HB_TRY(next_entry(&rd, &done, err));
    HB_TRY(finish(&rd, info, err));
cleanup:
    reader_close(&rd);
    return st;
}

hb_status hb_archive_walk(const char *path, const hb_archive_spec *spec,
                          const uint8_t dek[HB_DEK_LEN], const hb_archive_limits *limits,
                          hb_archive_info *info, hb_err *err)
{
    return run(path, NULL, NULL, spec, dek, NULL, limits, info, err);
}

hb_status hb_archive_walk_from(hb_source_fn source, void *source_ctx, const char *shown,
                               const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                               const hb_archive_limits *limits, hb_archive_info *info,
                               hb_err *err)
{
    if (source == NULL)
        return hb_fail(err, HB_E_USAGE, "hb_archive_walk_from: no source");
    return run(shown, source, source_ctx, spec, dek, NULL, limits, info, err);
}

hb_status hb_archive_extract_from(hb_source_fn source, void *source_ctx, const char *shown,
                                  const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                                  const char *staging_dir, const hb_archive_limits *limits,
                                  hb_archive_info *info, hb_err *err)
{
    if (source == NULL || staging_dir == NULL)
        return hb_fail(err, HB_E_USAGE, "hb_archive_extract_from: missing argument");
    return run(shown, source, source_ctx, spec, dek, staging_dir, limits, info, err);
}

hb_status hb_archive_extract(const char *path, const hb_archive_spec *spec,
                             const uint8_t dek[HB_DEK_LEN], const char *staging_dir,
                             const hb_archive_limits *limits, hb_archive_info *info,
                             hb_err *err)
{
    if (staging_dir == NULL)
        return hb_fail(err, HB_E_USAGE, "hb_archive_extract: no staging directory");
    return run(path, NULL, NULL, spec, dek, staging_dir, limits, info, err);
}
