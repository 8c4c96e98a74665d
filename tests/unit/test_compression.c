/* backup/format/compression.c and archive_error.c: the compression table,
 * libarchive's write filters, the direct zstd writer, and libarchive
 * failures as messages. */
#include "hbtest.h"

#include "backup/format/archive_internal.h"
#include "backup/format/manifest.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static void test_table(void)
{
    static const struct {
        hb_compression c;
        const char *name, *ext;
        int filter;
    } rows[] = {
        {HB_COMPRESSION_ZSTD, "zstd", ".tzst", ARCHIVE_FILTER_ZSTD},
        {HB_COMPRESSION_GZIP, "gzip", ".tgz", ARCHIVE_FILTER_GZIP},
        {HB_COMPRESSION_NONE, "none", ".tar", ARCHIVE_FILTER_NONE},
    };
    hb_err err = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hb_compression c = (hb_compression)-1;
        CU_ASSERT_STRING_EQUAL(hb_compression_name(rows[i].c), rows[i].name);
        CU_ASSERT_STRING_EQUAL(hb_compression_extension(rows[i].c), rows[i].ext);
        CU_ASSERT_EQUAL(hb_compression_filter_code(rows[i].c), rows[i].filter);
        HBTEST_ASSERT_OK(hb_compression_from_name(rows[i].name, &c, &err), &err);
        CU_ASSERT_EQUAL(c, rows[i].c);
        /* The manifest's extension rule is the same table. */
        CU_ASSERT_STRING_EQUAL(hb_manifest_extension(rows[i].name), rows[i].ext);
    }
    /* Outside the table. */
    hb_compression bad = (hb_compression)7, c = HB_COMPRESSION_NONE;
    CU_ASSERT_STRING_EQUAL(hb_compression_name(bad), "unknown");
    CU_ASSERT_STRING_EQUAL(hb_compression_extension(bad), "");
    CU_ASSERT_EQUAL(hb_compression_filter_code(bad), -1);
    HBTEST_ASSERT_STATUS(hb_compression_from_name("ZSTD", &c, &err), HB_E_USAGE, &err);
    HBTEST_ASSERT_FAIL(hb_compression_from_name(NULL, &c, &err), HB_E_USAGE, &err,
                       "unknown compression '(null)'");
    CU_ASSERT_EQUAL(c, HB_COMPRESSION_NONE); /* untouched */
    CU_ASSERT_PTR_NULL(hb_manifest_extension("xz"));
    CU_ASSERT_PTR_NULL(hb_manifest_extension(NULL));
}

static void test_write_filter(void)
{
    hb_err err = {0};
    hb_archive_spec spec = {.compression = HB_COMPRESSION_GZIP, .level = 9};
    struct archive *a = archive_write_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    HBTEST_ASSERT_OK(hb_compression_add_write_filter(a, &spec, &err), &err);
    CU_ASSERT_EQUAL(archive_filter_count(a), 1);
    CU_ASSERT_EQUAL(archive_filter_code(a, 0), ARCHIVE_FILTER_GZIP);
    archive_write_free(a);
    /* zstd leaves libarchive unfiltered: hb_zstd_writer compresses after it. */
    spec.compression = HB_COMPRESSION_ZSTD;
    a = archive_write_new();
    HBTEST_ASSERT_OK(hb_compression_add_write_filter(a, &spec, &err), &err);
    CU_ASSERT_EQUAL(archive_filter_count(a), 0); /* "none" adds no filter at all */
    archive_write_free(a);
    /* A gzip level libarchive refuses, and a compression outside the table. */
    spec.compression = HB_COMPRESSION_GZIP;
    spec.level = 42;
    a = archive_write_new();
    HBTEST_ASSERT_FAIL(hb_compression_add_write_filter(a, &spec, &err), HB_E_USAGE, &err,
                       "gzip option compression-level=42 refused");
    archive_write_free(a);
    spec.compression = (hb_compression)9;
    a = archive_write_new();
    HBTEST_ASSERT_FAIL(hb_compression_add_write_filter(a, &spec, &err), HB_E_USAGE, &err,
                       "unknown compression 9");
    archive_write_free(a);
}

typedef struct sink_buf {
    uint8_t *data;
    size_t len;
    bool fail;
} sink_buf;

static hb_status to_buf(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    sink_buf *s = ctx;
    if (s->fail)
        return hb_fail(err, HB_E_IO, "the sink is full");
    s->data = realloc(s->data, s->len + len);
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return HB_OK;
}

static void zstd_round_trip(unsigned threads)
{
    hb_err err = {0};
    sink_buf out = {0};
    hb_zstd_writer *z = NULL;
    size_t n = 300000;
    uint8_t *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)(i % 251 ^ (i >> 9));
    HBTEST_ASSERT_OK(hb_zstd_writer_new(0, threads, to_buf, &out, &z, &err), &err);
    HBTEST_ASSERT_OK(hb_zstd_write(z, in, n / 2, &err), &err);
    HBTEST_ASSERT_OK(hb_zstd_write(z, in + n / 2, n - n / 2, &err), &err);
    HBTEST_ASSERT_OK(hb_zstd_finish(z, &err), &err);
    hb_zstd_writer_free(z);
    CU_ASSERT(out.len > 0 && out.len < n);
    /* An ordinary zstd frame: libzstd (and so libarchive's reader) decodes it. */
    uint8_t *back = malloc(n);
    size_t got = ZSTD_decompress(back, n, out.data, out.len);
    CU_ASSERT_FALSE(ZSTD_isError(got));
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(memcmp(back, in, n), 0);
    free(back);
    free(in);
    free(out.data);
}

static void test_zstd_single(void) { zstd_round_trip(0); }
static void test_zstd_threads(void) { zstd_round_trip(2); }

static void test_zstd_failures(void)
{
    hb_err err = {0};
    sink_buf out = {.fail = true};
    hb_zstd_writer *z = NULL;
    /* The sink's own failure is what the caller hears. */
    HBTEST_ASSERT_OK(hb_zstd_writer_new(1, 0, to_buf, &out, &z, &err), &err);
    HBTEST_ASSERT_FAIL(hb_zstd_finish(z, &err), HB_E_IO, &err, "the sink is full");
    hb_zstd_writer_free(z);
    hb_zstd_writer_free(NULL);
}

static void test_archive_fail(void)
{
    hb_err err = {0}, cb = {0};
    struct archive *a = archive_write_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    archive_set_error(a, EINVAL, "libarchive says no");
    /* No callback failure: our context, then libarchive's words. */
    HBTEST_ASSERT_STATUS(hb_archive_fail(&err, &cb, a, HB_E_VERIFY, "archive '%s': %s", "cfg",
                                         "bad tar data"), HB_E_VERIFY, &err);
    CU_ASSERT_STRING_EQUAL(err.msg, "archive 'cfg': bad tar data: libarchive says no");
    HBTEST_ASSERT_STATUS(hb_archive_fail(&err, NULL, a, HB_E_INTERNAL, "x"), HB_E_INTERNAL,
                         &err);
    /* Out of space is an I/O failure, whatever the caller expected. */
    archive_set_error(a, ENOSPC, "No space left on device");
    HBTEST_ASSERT_STATUS(hb_archive_fail(&err, &cb, a, HB_E_INTERNAL, "cannot archive '%s'",
                                         "/x"), HB_E_IO, &err);
    /* Our callback failed first: its message wins. */
    hb_fail(&cb, HB_E_VERIFY, "archive 'cfg': segment 3 fails authentication");
    HBTEST_ASSERT_STATUS(hb_archive_fail(&err, &cb, a, HB_E_INTERNAL, "ignored"), HB_E_VERIFY,
                         &err);
    CU_ASSERT_STRING_EQUAL(err.msg, "archive 'cfg': segment 3 fails authentication");
    CU_ASSERT_EQUAL(hb_archive_fail(NULL, &cb, a, HB_E_INTERNAL, "no err"), HB_E_VERIFY);
    archive_write_free(a);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"one table: names, extensions, filters", test_table},
        {"libarchive write filters and refusals", test_write_filter},
        {"zstd writer round trip, one thread", test_zstd_single},
        {"zstd writer round trip, worker threads", test_zstd_threads},
        {"zstd writer: the sink's failure is the caller's", test_zstd_failures},
        {"libarchive failures as messages", test_archive_fail},
        {NULL, NULL},
    };
    return hbtest_main("compression", cases);
}
