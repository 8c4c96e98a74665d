/* Compression choices of an archive (DESIGN §4, docs/FORMAT.md §6): names,
 * file extensions and the libarchive filters that do the work. */
#include "backup/format/archive.h"

#include "backup/format/archive_internal.h"
#include "common/fail.h"

#include <archive.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_DEFAULT_LEVEL 3
#define GZIP_DEFAULT_LEVEL 6

const char *hb_compression_name(hb_compression c)
{
    switch (c) {
    case HB_COMPRESSION_ZSTD: return "zstd";
    case HB_COMPRESSION_GZIP: return "gzip";
    case HB_COMPRESSION_NONE: return "none";
    }
    return "unknown";
}

const char *hb_compression_extension(hb_compression c)
{
    switch (c) {
    case HB_COMPRESSION_ZSTD: return ".tzst";
    case HB_COMPRESSION_GZIP: return ".tgz";
    case HB_COMPRESSION_NONE: return ".tar";
    }
    return "";
}

hb_status hb_compression_from_name(const char *name, hb_compression *out, hb_err *err)
{
    static const hb_compression all[] = {HB_COMPRESSION_ZSTD, HB_COMPRESSION_GZIP,
                                         HB_COMPRESSION_NONE};
    for (size_t i = 0; name != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, hb_compression_name(all[i])) == 0) {
            *out = all[i];
            return HB_OK;
        }
    }
    return hb_fail(err, HB_E_USAGE, "unknown compression '%s' (use zstd, gzip or none)",
                   name ? name : "(null)");
}

int hb_compression_filter_code(hb_compression c)
{
    switch (c) {
    case HB_COMPRESSION_ZSTD: return ARCHIVE_FILTER_ZSTD;
    case HB_COMPRESSION_GZIP: return ARCHIVE_FILTER_GZIP;
    case HB_COMPRESSION_NONE: return ARCHIVE_FILTER_NONE;
    }
    return -1;
}

#define HB_ZSTD_JOB_SIZE (2 * 1024 * 1024) /* see docs/benchmarks.md */

static hb_status set_option(struct archive *a, const char *filter, const char *key, int value,
                            hb_err *err)
{
    char text[16];
    snprintf(text, sizeof text, "%d", value); /* an int always fits */
    if (archive_write_set_filter_option(a, filter, key, text) != ARCHIVE_OK)
        return hb_fail(err, HB_E_USAGE, "%s option %s=%d refused: %s", filter, key, value,
                       archive_error_string(a) ? archive_error_string(a) : "unknown option");
    return HB_OK;
}

hb_status hb_compression_add_write_filter(struct archive *a, const hb_archive_spec *spec,
                                          hb_err *err)
{
    hb_status st = HB_OK;
    switch (spec->compression) {
    case HB_COMPRESSION_ZSTD: /* compressed by hb_zstd_writer, after libarchive */
    case HB_COMPRESSION_NONE:
        if (archive_write_add_filter_none(a) != ARCHIVE_OK)
            goto lib_fail;
        break;
    case HB_COMPRESSION_GZIP:
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK)
            goto lib_fail;
        HB_TRY(set_option(a, "gzip", "compression-level",
                          spec->level ? spec->level : GZIP_DEFAULT_LEVEL, err));
        /* no name or timestamp in the gzip header: nothing to leak */
        (void)archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
        break;
    default:
        st = hb_fail(err, HB_E_USAGE, "unknown compression %d", (int)spec->compression);
        goto cleanup;
    }
    goto cleanup;
lib_fail:
    st = hb_fail(err, HB_E_INTERNAL, "libarchive has no %s filter: %s",
                 hb_compression_name(spec->compression),
                 archive_error_string(a) ? archive_error_string(a) : "unknown error");
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

static hb_status zstd_fail(hb_err *err, const char *what, size_t code)
{
    return hb_fail(err, HB_E_INTERNAL, "zstd %s: %s", what, ZSTD_getErrorName(code));
}

hb_status hb_zstd_writer_new(int level, unsigned threads, hb_sink_fn sink, void *sink_ctx,
                             hb_zstd_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    size_t rc;
    hb_zstd_writer *z = calloc(1, sizeof *z);
    if (z == NULL || (z->cctx = ZSTD_createCCtx()) == NULL ||
        (z->out = malloc(ZSTD_CStreamOutSize())) == NULL) {
        st = hb_fail(err, HB_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    z->out_cap = ZSTD_CStreamOutSize();
    z->sink = sink;
    z->sink_ctx = sink_ctx;
    rc = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel,
                                level ? level : ZSTD_DEFAULT_LEVEL);
    if (ZSTD_isError(rc)) {
        st = zstd_fail(err, "level", rc);
        goto cleanup;
    }
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
        if (ZSTD_isError(left)) {
            st = zstd_fail(err, "compression failed", left);
            goto cleanup;
        }
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
