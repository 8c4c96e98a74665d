/* Compression choices of an archive (DESIGN §4, docs/FORMAT.md §6): names,
 * file extensions and the libarchive filters that do the work. */
#include "hsmbak/archive.h"

#include "backup/engine_internal.h"

#include <archive.h>
#include <stdio.h>
#include <string.h>

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
    case HB_COMPRESSION_ZSTD:
        if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
            goto lib_fail;
        HB_TRY(set_option(a, "zstd", "compression-level",
                          spec->level ? spec->level : ZSTD_DEFAULT_LEVEL, err));
        /* libzstd's worker threads (libarchive >= 3.6): compression runs beside
         * the tar reader and the encryption; see docs/benchmarks.md. */
        if (spec->zstd_threads > 0)
            HB_TRY(set_option(a, "zstd", "threads", (int)spec->zstd_threads, err));
        break;
    case HB_COMPRESSION_GZIP:
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK)
            goto lib_fail;
        HB_TRY(set_option(a, "gzip", "compression-level",
                          spec->level ? spec->level : GZIP_DEFAULT_LEVEL, err));
        /* no name or timestamp in the gzip header: nothing to leak */
        (void)archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
        break;
    case HB_COMPRESSION_NONE:
        if (archive_write_add_filter_none(a) != ARCHIVE_OK)
            goto lib_fail;
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
