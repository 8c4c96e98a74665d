/* One resource directory <-> one encrypted archive file (DESIGN §4.1):
 * pax tar (libarchive) -> compression -> encrypted stream -> file, and back,
 * either walking every entry (validate) or extracting into a staging
 * directory with every path checked. */
#ifndef HSMBAK_FORMAT_ARCHIVE_H
#define HSMBAK_FORMAT_ARCHIVE_H

#include "hsmbak/compression.h"
#include "hsmbak/status.h"
#include "backup/format/stream.h"

#include <stdbool.h>
#include <stdint.h>


/* Caps for reading (DESIGN §4.3); defaults from hb_archive_limits_default. */
typedef struct hb_archive_limits {
    uint64_t max_expanded_bytes;   /* sum of entry sizes; default: unlimited */
    uint64_t max_entries;          /* default 1,000,000 */
    unsigned min_free_percent;     /* extraction stops before the target
                                      filesystem's free space falls under this;
                                      default 5 */
    /* Paths inside the archive that the restore writes after extraction
     * (the profile's resets, NULL-terminated; NULL: none): neither they nor
     * a directory on the way to them may be a symbolic link entry, so walk
     * (validate) and extract (restore) refuse such an archive alike.
     * no_links_shown (e.g. the resource's path) prefixes them in messages. */
    const char *const *no_links;
    const char *no_links_shown;
} hb_archive_limits;
void hb_archive_limits_default(hb_archive_limits *l);

/* What one archive holds, filled by create, walk and extract. */
typedef struct hb_archive_info {
    uint64_t file_size;       /* bytes of the encrypted file */
    char sha256_hex[65];      /* of the encrypted file */
    uint64_t entries;
    uint64_t expanded_bytes;  /* sum of regular file sizes */
} hb_archive_info;

/* Byte progress: n more bytes of archive `name` processed (backup: file
 * content read; validate/restore: encrypted file read); create also calls it
 * once with n = 0 when the archive is completely written. Called from the
 * thread that runs the archive, so from several pool workers at once: the
 * callback must be thread-safe. */
typedef void (*hb_bytes_fn)(void *ctx, const char *name, uint64_t n);

typedef struct hb_archive_spec {
    const char *backup_id;    /* manifest <id> */
    const char *name;         /* manifest <name>, e.g. "config" */
    hb_compression compression;
    int level;                /* 0: default for the compression */
    unsigned seg_log2;        /* 0: HB_SEG_LOG2_DEFAULT */
    unsigned zstd_threads;    /* 0: library default */
    hb_bytes_fn on_bytes;     /* may be NULL */
    void *on_bytes_ctx;
} hb_archive_spec;

/* Archive src_dir into out_path (created O_EXCL, 0600, fsynced). */
hb_status hb_archive_create(const char *src_dir, const char *out_path,
                            const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                            hb_archive_info *info, hb_err *err) HB_MUST_CHECK;

/* The same, the encrypted bytes handed to sink as they are made (a storage
 * backend's writer: a file, an SFTP upload, an S3 multipart upload); the
 * format does not know where they go. info->file_size and sha256_hex are
 * of the bytes given to sink. */
hb_status hb_archive_create_to(const char *src_dir, hb_sink_fn sink, void *sink_ctx,
                               const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                               hb_archive_info *info, hb_err *err) HB_MUST_CHECK;

/* Walk and extract reading the encrypted bytes from source; shown names it
 * in messages. */
hb_status hb_archive_walk_from(hb_source_fn source, void *source_ctx, const char *shown,
                               const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                               const hb_archive_limits *limits, hb_archive_info *info,
                               hb_err *err) HB_MUST_CHECK;
hb_status hb_archive_extract_from(hb_source_fn source, void *source_ctx, const char *shown,
                                  const hb_archive_spec *spec, const uint8_t dek[HB_DEK_LEN],
                                  const char *staging_dir, const hb_archive_limits *limits,
                                  hb_archive_info *info, hb_err *err) HB_MUST_CHECK;

/* Decrypt, decompress and check every entry; writes nothing. */
hb_status hb_archive_walk(const char *path, const hb_archive_spec *spec,
                          const uint8_t dek[HB_DEK_LEN], const hb_archive_limits *limits,
                          hb_archive_info *info, hb_err *err) HB_MUST_CHECK;

/* Extract into staging_dir (which must exist and be empty of the entries'
 * names). Rejects absolute paths, "..", writes through symlinks, hard links
 * out of the root, devices and FIFOs; on failure the caller removes
 * staging_dir, nothing was written outside it. */
hb_status hb_archive_extract(const char *path, const hb_archive_spec *spec,
                             const uint8_t dek[HB_DEK_LEN], const char *staging_dir,
                             const hb_archive_limits *limits, hb_archive_info *info,
                             hb_err *err) HB_MUST_CHECK;

/* Create several archives in a pool of worker threads (threads 0 = online
 * CPUs). Stops at the first failure and reports it (err names the archive);
 * files already written are left for the caller to remove. */
typedef struct hb_archive_job {
    const char *src_dir;
    const char *out_path;     /* a file made here; or, when sink is set, NULL */
    hb_sink_fn sink;          /* where the bytes go instead (see create_to) */
    void *sink_ctx;
    hb_archive_spec spec;
    uint8_t dek[HB_DEK_LEN];
    hb_archive_info info;     /* out */
} hb_archive_job;
hb_status hb_archive_create_all(hb_archive_job *jobs, size_t n_jobs, unsigned threads,
                                hb_err *err) HB_MUST_CHECK;

#endif
