/* Internals of the archive engine (stream.c, archive_*.c, compression.c),
 * shared by those files and their unit tests only. */
#ifndef HSMBAK_BACKUP_ENGINE_INTERNAL_H
#define HSMBAK_BACKUP_ENGINE_INTERNAL_H

#include "backup/format/archive.h"
#include "backup/format/stream.h"

#include <stdint.h>
#include <sys/types.h>

#define HB_STREAM_SALT_LEN 32
#define HB_STREAM_PREFIX_LEN 7
#define HB_STREAM_COMMIT_LEN 32

/* hb_stream_writer_new with a caller-chosen salt and nonce prefix, for
 * known-answer tests only: production code must use fresh random values
 * (a repeated (K, nonce) pair breaks GCM, NIST SP 800-38D §8). */
hb_status hb_stream_writer_new_fixed(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                                     const char *name, unsigned seg_log2,
                                     const uint8_t salt[HB_STREAM_SALT_LEN],
                                     const uint8_t prefix[HB_STREAM_PREFIX_LEN],
                                     hb_sink_fn sink, void *sink_ctx,
                                     hb_stream_writer **out, hb_err *err) HB_MUST_CHECK;

/* One HKDF-SHA256 output of the format (RFC 5869): label is "hsmbak v1 key"
 * or "hsmbak v1 commit"; info = label || 0x00 || backup_id || 0x00 || name. */
hb_status hb_stream_derive(const uint8_t dek[HB_DEK_LEN], const uint8_t salt[HB_STREAM_SALT_LEN],
                           const char *label, const char *backup_id, const char *name,
                           uint8_t out[32], hb_err *err) HB_MUST_CHECK;

struct archive;

/* A libarchive failure (archive_error.c): when cb (the hb_err our read or
 * write callback filled) holds a failure, that is the message; otherwise
 * "<fmt...>: <libarchive's error string>" with status st, or HB_E_IO when
 * libarchive ran out of space. */
hb_status hb_archive_fail(hb_err *err, const hb_err *cb, struct archive *a, hb_status st,
                          const char *fmt, ...) HB_PRINTF(5, 6);

/* libarchive filter setup for a compression (compression.c). */
hb_status hb_compression_add_write_filter(struct archive *a, const hb_archive_spec *spec,
                                          hb_err *err) HB_MUST_CHECK;
/* The libarchive ARCHIVE_FILTER_* code that a compression reads as. */
int hb_compression_filter_code(hb_compression c);

/* zstd through libzstd's streaming API (compression.c): bytes in, zstd
 * frame out to sink. threads 0: compress in the caller's thread. */
typedef struct hb_zstd_writer hb_zstd_writer;
hb_status hb_zstd_writer_new(int level, unsigned threads, hb_sink_fn sink, void *sink_ctx,
                             hb_zstd_writer **out, hb_err *err) HB_MUST_CHECK;
hb_status hb_zstd_write(hb_zstd_writer *z, const void *buf, size_t len,
                        hb_err *err) HB_MUST_CHECK;
hb_status hb_zstd_finish(hb_zstd_writer *z, hb_err *err) HB_MUST_CHECK;
void hb_zstd_writer_free(hb_zstd_writer *z);

/* Hard links on create (link_map.c): (device, inode) -> the path of the
 * first entry archived for that file, in a few dozen bytes a file. */
typedef struct hb_link_map hb_link_map;
hb_status hb_link_map_new(hb_link_map **out, hb_err *err) HB_MUST_CHECK;
/* *first = NULL: (dev, ino) is new and path (relative, no trailing '/') is
 * remembered for it; otherwise *first is the path remembered, valid until
 * the next call. */
hb_status hb_link_map_see(hb_link_map *m, dev_t dev, uint64_t ino, const char *path,
                          const char **first, hb_err *err) HB_MUST_CHECK;
void hb_link_map_free(hb_link_map *m);

/* The stream decrypted ahead of its reader on a thread of its own
 * (read_ahead.c): next gives the plaintext hb_stream_read would give, in
 * order, in pieces of at most cap bytes, valid until the next call; len 0
 * at the end (the final segment verified). free stops and joins the thread
 * (the stream reader and its source are the thread's until then). */
typedef struct hb_read_ahead hb_read_ahead;
hb_status hb_read_ahead_start(hb_stream_reader *r, size_t cap, hb_read_ahead **out,
                              hb_err *err) HB_MUST_CHECK;
hb_status hb_read_ahead_next(hb_read_ahead *ra, const uint8_t **buf, size_t *len,
                             hb_err *err) HB_MUST_CHECK;
void hb_read_ahead_free(hb_read_ahead *ra);

/* Checked entries onto disk beneath a staging directory, from directory
 * fds (disk_writer.c). canon, canon_link: the checker's canonical paths
 * (canon_link NULL unless a hard link); cb: the read callback's hb_err,
 * for a failure while the entry's data is read. Directory attributes are
 * set when the writer leaves them, the root's by close. */
struct archive_entry;
typedef struct hb_disk_writer hb_disk_writer;
hb_status hb_disk_writer_open(const char *root, const char *name, hb_disk_writer **out,
                              hb_err *err) HB_MUST_CHECK;
hb_status hb_disk_writer_root(hb_disk_writer *w, struct archive_entry *e,
                              hb_err *err) HB_MUST_CHECK;
hb_status hb_disk_writer_entry(hb_disk_writer *w, struct archive *a, const hb_err *cb,
                               struct archive_entry *e, const char *canon,
                               const char *canon_link, hb_err *err) HB_MUST_CHECK;
hb_status hb_disk_writer_close(hb_disk_writer *w, hb_err *err) HB_MUST_CHECK;
void hb_disk_writer_free(hb_disk_writer *w);

#endif
