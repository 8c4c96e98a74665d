/* The encrypted archive stream (DESIGN §4.1, docs/FORMAT.md): an 88-byte
 * header, then the plaintext cut into segments of 2^seg_log2 bytes, each
 * sealed with AES-256-GCM under a key derived from the archive's DEK with
 * HKDF-SHA256, bound to the backup id and the archive's name.
 *
 * Writer and reader hold a few segments in memory whatever the archive size. */
#ifndef HSMBAK_FORMAT_STREAM_H
#define HSMBAK_FORMAT_STREAM_H

#include "hsmbak/status.h"

#include <stddef.h>
#include <stdint.h>


#define HB_DEK_LEN 32
#define HB_STREAM_HEADER_LEN 88
#define HB_STREAM_TAG_LEN 16
#define HB_SEG_LOG2_MIN 12
#define HB_SEG_LOG2_MAX 24
#define HB_SEG_LOG2_DEFAULT 16

/* Where ciphertext goes / comes from. A source sets *got = 0 only at end of
 * file. */
typedef hb_status (*hb_sink_fn)(void *ctx, const uint8_t *buf, size_t len, hb_err *err);
typedef hb_status (*hb_source_fn)(void *ctx, uint8_t *buf, size_t cap, size_t *got,
                                  hb_err *err);

typedef struct hb_stream_writer hb_stream_writer;
typedef struct hb_stream_reader hb_stream_reader;

/* backup_id: the manifest's <id> text; name: the archive's <name> ("config").
 * The writer copies what it needs from dek (and wipes its copies when freed). */
hb_status hb_stream_writer_new(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                               const char *name, unsigned seg_log2, hb_sink_fn sink,
                               void *sink_ctx, hb_stream_writer **out, hb_err *err) HB_MUST_CHECK;
hb_status hb_stream_write(hb_stream_writer *w, const void *buf, size_t len,
                          hb_err *err) HB_MUST_CHECK;
/* Seals the final segment. Nothing may be written after it. */
hb_status hb_stream_writer_finish(hb_stream_writer *w, hb_err *err) HB_MUST_CHECK;
void hb_stream_writer_free(hb_stream_writer *w);

/* Reads and checks the header (version, suite, segment size, reserved bytes,
 * key commitment) before returning. */
hb_status hb_stream_reader_new(const uint8_t dek[HB_DEK_LEN], const char *backup_id,
                               const char *name, hb_source_fn source, void *source_ctx,
                               hb_stream_reader **out, hb_err *err) HB_MUST_CHECK;
/* Authenticated plaintext only. *got = 0 means the final segment was
 * verified and nothing follows it. */
hb_status hb_stream_read(hb_stream_reader *r, void *buf, size_t cap, size_t *got,
                         hb_err *err) HB_MUST_CHECK;
void hb_stream_reader_free(hb_stream_reader *r);

#endif
