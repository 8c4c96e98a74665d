/* The compression inside an archive (docs/design.md §4): the file's
 * extension says which. */
#ifndef HSMBAK_COMPRESSION_H
#define HSMBAK_COMPRESSION_H

#include "hsmbak/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hb_compression {
    HB_COMPRESSION_ZSTD = 0, /* default, level 3, ".tzst" */
    HB_COMPRESSION_GZIP = 1, /* ".tgz" */
    HB_COMPRESSION_NONE = 2, /* ".tar" */
} hb_compression;

HB_API const char *hb_compression_name(hb_compression c);      /* "zstd", "gzip", "none" */
HB_API const char *hb_compression_extension(hb_compression c); /* ".tzst", ".tgz", ".tar" */
HB_API hb_status hb_compression_from_name(const char *name, hb_compression *out,
                                       hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
