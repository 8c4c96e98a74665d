/* libFuzzer: tar-entry validation, the walk of a decrypted stream
 * (hb_archive_walk). The input is the plaintext: its first byte picks the
 * compression (0 none, 1 gzip, 2 zstd), the rest is the compressed tar
 * stream. It is encrypted with a fixed key, so every input reaches the
 * decompressor and the entry checks (paths, links, types, caps). */
#include "fuzz_common.h"
#include "backup/format/archive.h"

typedef struct {
    int fd;
} sink_ctx;

static hb_status sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    sink_ctx *s = ctx;
    while (len > 0) {
        ssize_t n = write(s->fd, buf, len);
        if (n <= 0)
            return hb_fail(err, HB_E_IO, "write");
        buf += n;
        len -= (size_t)n;
    }
    return HB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t dek[HB_DEK_LEN] = {7};
    static const char id[] = "123e4567-e89b-42d3-a456-426614174000";
    if (size < 1)
        return 0;
    hb_archive_spec spec = {.backup_id = id, .name = "config"};
    spec.compression = data[0] % 3 == 0   ? HB_COMPRESSION_NONE
                       : data[0] % 3 == 1 ? HB_COMPRESSION_GZIP
                                          : HB_COMPRESSION_ZSTD;
    const char *path = fuzz_scratch(".archive");
    sink_ctx s = {open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (s.fd < 0)
        abort();
    hb_stream_writer *w = NULL;
    hb_err err;
    if (hb_stream_writer_new(dek, id, "config", 12, sink, &s, &w, &err) != HB_OK ||
        hb_stream_write(w, data + 1, size - 1, &err) != HB_OK ||
        hb_stream_writer_finish(w, &err) != HB_OK)
        abort();
    hb_stream_writer_free(w);
    close(s.fd);
    hb_archive_limits limits;
    hb_archive_limits_default(&limits);
    limits.max_expanded_bytes = 1u << 20; /* enough for every check; keeps runs fast */
    limits.max_entries = 1000;
    hb_archive_info info;
    hb_status st = hb_archive_walk(path, &spec, dek, &limits, &info, &err);
    (void)st; /* refusals are expected; crashes and leaks are what we look for */
    return 0;
}
