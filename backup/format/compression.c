/* Compression choices of an archive (DESIGN §4, docs/FORMAT.md §6): names,
 * file extensions and the libarchive filters that do the work. */
#include "backup/format/archive.h"

#include "backup/format/archive_internal.h"
#include "common/buf.h"
#include "common/fail.h"

#include <archive.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_DEFAULT_LEVEL 3
#define GZIP_DEFAULT_LEVEL 6

/* Every compression hsmbak writes and reads, once. */
typedef struct compression_row {
    hb_compression c;
    const char *name;      /* the manifest's <compression> */
    const char *ext;       /* the archive file's extension */
    int filter;            /* the libarchive ARCHIVE_FILTER_* it reads as */
} compression_row;

static const compression_row ROWS[] = {
    {HB_COMPRESSION_ZSTD, "zstd", ".tzst", ARCHIVE_FILTER_ZSTD},
    {HB_COMPRESSION_GZIP, "gzip", ".tgz", ARCHIVE_FILTER_GZIP},
    {HB_COMPRESSION_NONE, "none", ".tar", ARCHIVE_FILTER_NONE},
};

static const compression_row *row_of(hb_compression c)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++)
        if (ROWS[i].c == c)
            return &ROWS[i];
    return NULL;
}

const char *hb_compression_name(hb_compression c)
{
    const compression_row *r = row_of(c);
    return r != NULL ? r->name : "unknown";
}

const char *hb_compression_extension(hb_compression c)
{
    const compression_row *r = row_of(c);
    return r != NULL ? r->ext : "";
}

int hb_compression_filter_code(hb_compression c)
{
    const compression_row *r = row_of(c);
    return r != NULL ? r->filter : -1;
}

hb_status hb_compression_from_name(const char *name, hb_compression *out, hb_err *err)
{
    for (size_t i = 0; name != NULL && i < sizeof ROWS / sizeof ROWS[0]; i++) {
        if (strcmp(name, ROWS[i].name) == 0) {
            *out = ROWS[i].c;
            return HB_OK;
        }
    }
    return hb_fail(err, HB_E_USAGE, "unknown compression '%s' (use zstd, gzip or none)",
                   name ? name : "(null)");
}

#define HB_ZSTD_JOB_SIZE (2 * 1024 * 1024) /* see docs/benchmarks.md */

static hb_status set_option(struct archive *a, const char *filter, const char *key, int value,
                            hb_err *err)
{
    hb_status st = HB_OK;
    char text[16];
    HB_TRY(hb_format(text, sizeof text, "a filter option", err, "%d", value));
    HB_ENSURE(archive_write_set_filter_option(a, filter, key, text) == ARCHIVE_OK, HB_E_USAGE,
              "%s option %s=%d refused: %s", filter, key, value,
              archive_error_string(a) ? archive_error_string(a) : "unknown option");
cleanup:
    return st;
}

/* The tar stream leaves libarchive through one write filter: gzip, or none
 * for uncompressed archives and for zstd, which hb_zstd_writer compresses
 * after libarchive (below). */
hb_status hb_compression_add_write_filter(struct archive *a, const hb_archive_spec *spec,
                                          hb_err *err)
{
    hb_status st = HB_OK;
    bool gzip = spec->compression == HB_COMPRESSION_GZIP;
    HB_ENSURE(row_of(spec->compression) != NULL, HB_E_USAGE, "unknown compression %d",
              (int)spec->compression);
    int rc = gzip ? archive_write_add_filter_gzip(a) : archive_write_add_filter_none(a);
    HB_ENSURE(rc == ARCHIVE_OK, HB_E_INTERNAL, "libarchive has no %s filter: %s",
              hb_compression_name(spec->compression),
              archive_error_string(a) ? archive_error_string(a) : "unknown error");
    if (gzip) {
        HB_TRY(set_option(a, "gzip", "compression-level",
                          spec->level ? spec->level : GZIP_DEFAULT_LEVEL, err));
        /* no name or timestamp in the gzip header: nothing to leak */
        (void)archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
    }
cleanup:
    return st;
}

/* ---- zstd, driven directly ----
 * libarchive 3.6.2's zstd filter takes a level and a thread count but no
 * job size, and with threads its buffers pushed a 1 GiB backup past the
 * 64 MiB RSS budget while running slower than one worker (measured in
 * docs/benchmarks.md). libzstd's own streaming API lets us set both; the
 * output is an ordinary zstd frame that libarchive's reader decodes. */

struct hb_zstd_writer {
    ZSTD_CCtx *cctx;
    uint8_t *out;
    size_t out_cap;
    hb_sink_fn sink;
    void *sink_ctx;
};

hb_status hb_zstd_writer_new(int level, unsigned threads, hb_sink_fn sink, void *sink_ctx,
                             hb_zstd_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    size_t rc;
    hb_zstd_writer *z = calloc(1, sizeof *z);
    HB_ALLOC(z);
    HB_ALLOC(z->cctx = ZSTD_createCCtx());
    HB_ALLOC(z->out = malloc(ZSTD_CStreamOutSize()));
    z->out_cap = ZSTD_CStreamOutSize();
    z->sink = sink;
    z->sink_ctx = sink_ctx;
    rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel,
                                level ? level : ZSTD_DEFAULT_LEVEL);
    HB_ENSURE(!ZSTD_isError(rc), HB_E_INTERNAL, "zstd level: %s", ZSTD_getErrorName(rc));
    /* GCM already authenticates every byte; a frame checksum adds nothing. */
    (void)ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 0);
    if (threads > 0) {
        rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, (int)threads);
        if (!ZSTD_isError(rc)) /* libzstd without threads: stay single-threaded */
            (void)ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_jobSize, HB_ZSTD_JOB_SIZE);
    }
    *out = z;
    z = NULL;
cleanup:
    hb_zstd_writer_free(z);
    return st;
}

static hb_status drive(hb_zstd_writer *z, const void *buf, size_t len, ZSTD_EndDirective mode,
                       hb_err *err)
{
    hb_status st = HB_OK;
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {z->out, z->out_cap, 0};
        size_t left = ZSTD_compressStream2(z->cctx, &ob, &in, mode);
        HB_ENSURE(!ZSTD_isError(left), HB_E_INTERNAL, "zstd compression failed: %s",
                  ZSTD_getErrorName(left));
        if (ob.pos > 0)
            HB_TRY(z->sink(z->sink_ctx, z->out, ob.pos, err));
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            break;
    }
cleanup:
    return st;
}

hb_status hb_zstd_write(hb_zstd_writer *z, const void *buf, size_t len, hb_err *err)
{
    return drive(z, buf, len, ZSTD_e_continue, err);
}

hb_status hb_zstd_finish(hb_zstd_writer *z, hb_err *err)
{
    return drive(z, NULL, 0, ZSTD_e_end, err);
}

void hb_zstd_writer_free(hb_zstd_writer *z)
{
    if (z == NULL)
        return;
    ZSTD_freeCCtx(z->cctx);
    if (z->out != NULL)
        OPENSSL_clear_free(z->out, z->out_cap); /* compressed plaintext */
    free(z);
}
