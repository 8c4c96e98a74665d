/* libFuzzer: the encrypted archive stream reader, header and segments
 * (hb_stream_reader_new / hb_stream_read). The key and context are those of
 * docs/FORMAT.md §7, so the seed (that worked example) decrypts and the
 * fuzzer starts from a valid file; the commitment and tags stop most
 * mutations early, which is what a reader must do. */
#include "fuzz_common.h"
#include "backup/format/stream.h"

typedef struct {
    const uint8_t *p;
    size_t left, chunk;
} src;

static hb_status source(void *ctx, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    (void)err;
    src *s = ctx;
    size_t n = cap < s->left ? cap : s->left;
    if (s->chunk && n > s->chunk)
        n = s->chunk; /* short reads, as from a pipe */
    memcpy(buf, s->p, n);
    s->p += n;
    s->left -= n;
    *got = n;
    return HB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t dek[HB_DEK_LEN] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                            11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                            22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    src s = {data, size, size > 0 ? 1 + (data[size - 1] % 3) * 4093 : 0};
    hb_stream_reader *r = NULL;
    hb_err err;
    if (hb_stream_reader_new(dek, "123e4567-e89b-12d3-a456-426614174000", "config", source, &s,
                             &r, &err) == HB_OK) {
        uint8_t buf[8192];
        size_t got = 0;
        while (hb_stream_read(r, buf, sizeof buf, &got, &err) == HB_OK && got > 0) {
        }
    }
    hb_stream_reader_free(r);
    return 0;
}
