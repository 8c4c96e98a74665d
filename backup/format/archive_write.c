/* Creating one archive (DESIGN §4.1, docs/FORMAT.md §5): the resource
 * directory is walked by libarchive's disk reader, written as pax tar,
 * compressed by a libarchive write filter, and handed block by block to the
 * encrypted stream, whose sink writes the file and hashes what it writes. */
#include "backup/format/archive.h"

#include "backup/format/archive_internal.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/fail.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF (256 * 1024)
#define BLOCK_BYTES (64 * 1024) /* libarchive -> stream hand-off size */

typedef struct out_file {
    hb_sink_fn sink;  /* where the encrypted bytes go */
    void *sink_ctx;
    EVP_MD_CTX *md;
    uint64_t size;
    hb_stream_writer *w;
    hb_zstd_writer *z;  /* NULL unless zstd */
    const hb_archive_spec *spec; /* for byte progress */
    hb_err err;       /* why the callback failed, for hb_archive_fail */
} out_file;

/* Stream sink: the encrypted bytes go to the caller's sink and into SHA-256. */
static hb_status hashed_sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    out_file *o = ctx;
    hb_status st = o->sink(o->sink_ctx, buf, len, err);
    if (st == HB_OK && EVP_DigestUpdate(o->md, buf, len) != 1)
        st = hb_fail_ossl(err, HB_E_INTERNAL, "SHA-256 failed");
    if (st == HB_OK)
        o->size += len;
    return st;
}

/* zstd workers: 0 in the spec means one per online CPU, the fastest
 * setting measured on 2 cores (docs/benchmarks.md); even one worker lets
 * compression overlap the disk walk and the encryption. */
static unsigned zstd_threads(const hb_archive_spec *spec)
{
    if (spec->zstd_threads > 0)
        return spec->zstd_threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)cpus : 1;
}

static hb_status to_stream(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    return hb_stream_write(ctx, buf, len, err);
}

/* libarchive's write callback: compressed tar bytes into the stream. */
static la_ssize_t tar_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    out_file *o = ctx;
    hb_status st = o->z != NULL ? hb_zstd_write(o->z, buf, len, &o->err)
                                : hb_stream_write(o->w, buf, len, &o->err);
    if (st != HB_OK) {
        archive_set_error(a, EIO, "%s", o->err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

/* Entry path relative to the resource directory (docs/FORMAT.md §5). */
static const char *relative(const char *full, const char *root, size_t root_len)
{
    if (strncmp(full, root, root_len) != 0)
        return NULL;
    full += root_len;
    while (*full == '/')
        full++;
    return full;
}

static hb_status add_tree(struct archive *out, out_file *o, const char *src,
                          hb_archive_info *info, hb_err *err)
{
    hb_status st = HB_OK;
    struct archive *disk = archive_read_disk_new();
    struct archive_entry *entry = archive_entry_new();
    hb_link_map *links = NULL;
    uint8_t *buf = malloc(COPY_BUF);
    size_t root_len = strlen(src);
    HB_ALLOC(disk);
    HB_ALLOC(entry);
    HB_ALLOC(buf);
    HB_TRY(hb_link_map_new(&links, err));
    /* Physical walk: symlinks are stored as links, never followed. Sparse
     * detection off: sparse files are stored whole (DESIGN §4.1). */
    if (archive_read_disk_set_symlink_physical(disk) != ARCHIVE_OK ||
        archive_read_disk_set_standard_lookup(disk) != ARCHIVE_OK ||
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_SPARSE) != ARCHIVE_OK ||
        archive_read_disk_open(disk, src) != ARCHIVE_OK)
        HB_FAIL(HB_E_IO, "cannot read '%s': %s", src, archive_error_string(disk));
    for (;;) {
        archive_entry_clear(entry);
        int r = archive_read_next_header2(disk, entry);
        if (r == ARCHIVE_EOF)
            break;
        HB_ENSURE(r >= ARCHIVE_WARN, HB_E_IO, "cannot read '%s': %s",
                  archive_entry_pathname(entry) ? archive_entry_pathname(entry) : src,
                  archive_error_string(disk));
        (void)archive_read_disk_descend(disk);
        const char *full = archive_entry_pathname(entry);
        const char *rel = full ? relative(full, src, root_len) : NULL;
        HB_ENSURE(rel != NULL, HB_E_INTERNAL, "'%s' is not under '%s'", full ? full : "?", src);
        /* The resource directory itself is stored as "." so that a restore
         * gives it back its mode, owner and times. */
        if (*rel == '\0')
            rel = ".";
        mode_t type = archive_entry_filetype(entry);
        if (type == AE_IFSOCK)
            continue; /* sockets carry no data and are recreated by their owners */
        HB_ENSURE(type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK, HB_E_REFUSED,
                  "'%s' is a device or FIFO; a backup holds only regular files, directories "
                  "and symlinks (DESIGN §4.1)", full);
        /* rel points into the entry's own pathname: copy before replacing it. */
        char *relcopy = strdup(rel);
        HB_ALLOC(relcopy);
        archive_entry_copy_pathname(entry, relcopy);
        free(relcopy);
        struct archive_entry *e = entry;
        /* A later name of a regular file already archived is a hard link to
         * the first; symlinks with several names are stored as symlinks each
         * time (a reader refuses hard links to non-regular entries). */
        if (type == AE_IFREG && archive_entry_nlink(e) > 1) {
            const char *first = NULL;
            HB_TRY(hb_link_map_see(links, archive_entry_dev(e), archive_entry_ino64(e),
                                   archive_entry_pathname(e), &first, err));
            if (first != NULL) {
                archive_entry_copy_hardlink(e, first);
                archive_entry_set_size(e, 0);
            }
        }
        if (archive_write_header(out, e) < ARCHIVE_WARN)
            HB_TRY(hb_archive_fail(err, &o->err, out, HB_E_INTERNAL, "cannot archive '%s'", full));
        info->entries++;
        if (type == AE_IFREG && archive_entry_hardlink(e) == NULL && archive_entry_size(e) > 0) {
            la_ssize_t n;
            while ((n = archive_read_data(disk, buf, COPY_BUF)) > 0) {
                if (archive_write_data(out, buf, (size_t)n) != n)
                    HB_TRY(hb_archive_fail(err, &o->err, out, HB_E_INTERNAL,
                                           "cannot archive '%s'", full));
                info->expanded_bytes += (uint64_t)n;
                if (o->spec->on_bytes != NULL)
                    o->spec->on_bytes(o->spec->on_bytes_ctx, o->spec->name, (uint64_t)n);
            }
            HB_ENSURE(n == 0, HB_E_IO, "cannot read '%s': %s", full, archive_error_string(disk));
        }
    }
cleanup:
    if (buf != NULL)
        OPENSSL_clear_free(buf, COPY_BUF);
    hb_link_map_free(links);
    archive_entry_free(entry);
    archive_read_free(disk);
    return st;
}

hb_status hb_archive_create_to(const char *src_dir, hb_sink_fn sink, void *sink_ctx,
                               const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                               hb_archive_info *info, hb_err *err)
{
    hb_status st = HB_OK;
    out_file o = {.sink = sink, .sink_ctx = sink_ctx, .spec = spec};
    struct archive *a = NULL;
    hb_archive_info inf = {0};
    char *src = NULL;
    uint8_t digest[32];
    struct stat sb;
    HB_ENSURE(src_dir != NULL && sink != NULL && spec != NULL && dek != NULL &&
              spec->name != NULL && spec->backup_id != NULL, HB_E_USAGE,
              "hb_archive_create: missing argument");
    HB_ENSURE(lstat(src_dir, &sb) == 0 && S_ISDIR(sb.st_mode), HB_E_NOT_FOUND,
              "archive '%s': '%s' is not a directory", spec->name, src_dir);
    src = strdup(src_dir);
    HB_ALLOC(src);
    for (size_t l = strlen(src); l > 1 && src[l - 1] == '/'; l--)
        src[l - 1] = '\0';
    o.md = EVP_MD_CTX_new();
    if (o.md == NULL || EVP_DigestInit_ex(o.md, EVP_sha256(), NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 is not available");
    HB_TRY(hb_stream_writer_new(dek, spec->backup_id, spec->name, spec->seg_log2, hashed_sink,
                                &o, &o.w, err));
    a = archive_write_new();
    HB_ALLOC(a);
    if (archive_write_set_format_pax(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, BLOCK_BYTES) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
        HB_FAIL(HB_E_INTERNAL, "libarchive: %s", archive_error_string(a));
    HB_TRY(hb_compression_add_write_filter(a, spec, err));
    if (spec->compression == HB_COMPRESSION_ZSTD)
        HB_TRY(hb_zstd_writer_new(spec->level, zstd_threads(spec), to_stream, o.w, &o.z, err));
    if (archive_write_open2(a, &o, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK)
        HB_TRY(hb_archive_fail(err, &o.err, a, HB_E_INTERNAL, "cannot start archive '%s'",
                               spec->name));
    HB_TRY(add_tree(a, &o, src, &inf, err));
    if (archive_write_close(a) != ARCHIVE_OK)
        HB_TRY(hb_archive_fail(err, &o.err, a, HB_E_INTERNAL, "cannot finish archive '%s'",
                               spec->name));
    if (o.z != NULL)
        HB_TRY(hb_zstd_finish(o.z, err));
    HB_TRY(hb_stream_writer_finish(o.w, err));
    if (spec->on_bytes != NULL)
        spec->on_bytes(spec->on_bytes_ctx, spec->name, 0); /* this archive is written */
    if (EVP_DigestFinal_ex(o.md, digest, NULL) != 1)
        HB_FAIL_OSSL(HB_E_INTERNAL, "SHA-256 failed");
    hb_hex_encode(digest, sizeof digest, inf.sha256_hex);
    inf.file_size = o.size;
    if (info != NULL)
        *info = inf;
cleanup:
    if (st != HB_OK && err != NULL && spec != NULL && spec->name != NULL &&
        strstr(err->msg, "archive '") == NULL)
        hb_err_prefix(err, "archive '%s'", spec->name);
    archive_write_free(a); /* after a failure: frees without flushing into the stream */
    hb_zstd_writer_free(o.z);
    hb_stream_writer_free(o.w);
    EVP_MD_CTX_free(o.md);
    free(src);
    return st;
}

typedef struct file_out {
    int fd;
    const char *path;
} file_out;

static hb_status file_sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    file_out *f = ctx;
    return hb_write_all(f->fd, buf, len, f->path, err);
}

hb_status hb_archive_create(const char *src_dir, const char *out_path,
                            const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                            hb_archive_info *info, hb_err *err)
{
    hb_status st = HB_OK;
    file_out f = {.fd = -1, .path = out_path};
    bool created = false;
    HB_ENSURE(out_path != NULL && spec != NULL && spec->name != NULL, HB_E_USAGE,
              "hb_archive_create: missing argument");
    f.fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    HB_ENSURE(f.fd >= 0, errno == EEXIST ? HB_E_REFUSED : HB_E_IO,
              "archive '%s': cannot create '%s': %s", spec->name, out_path, strerror(errno));
    created = true;
    HB_TRY(hb_archive_create_to(src_dir, file_sink, &f, spec, dek, info, err));
    HB_ENSURE(fsync(f.fd) == 0, HB_E_IO, "archive '%s': cannot sync '%s': %s", spec->name,
              out_path, strerror(errno));
cleanup:
    if (f.fd >= 0 && close(f.fd) != 0 && st == HB_OK)
        st = hb_fail(err, HB_E_IO, "archive '%s': cannot close '%s': %s", spec->name,
                     out_path, strerror(errno));
    if (st != HB_OK && created)
        (void)unlink(out_path); /* ours (O_EXCL); a partial archive must not look done */
    return st;
}
