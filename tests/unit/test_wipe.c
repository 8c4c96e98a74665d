/* Secrets are wiped before their memory is released (STYLE.md "Wipe by
 * default"; issue 6). Every block freed while the check is armed is scanned
 * (hbtest_wipe.h) for the archive's data key (DEK) and for the AES key K
 * derived from it; a hit is a secret left in released memory. A control
 * case proves the scanner sees an unwiped buffer. */
#include "hbtest.h"
#include "hbtest_wipe.h"

#include "backup/format/archive_internal.h"
#include "backup/format/archive.h"
#include "backup/format/stream.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

HBWIPE_INTERPOSE_FREE()

static const uint8_t dek[HB_DEK_LEN] = {0xd1, 0x5e, 0xc2, 0xe7, 0x11, 0x22, 0x33, 0x44,
                                        0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                                        0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05,
                                        0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d};
static const uint8_t salt[HB_STREAM_SALT_LEN] = {0x40};
static const uint8_t prefix[HB_STREAM_PREFIX_LEN] = {0xa0};
static const char id[] = "123e4567-e89b-42d3-a456-426614174000";
static uint8_t k[32];

/* Scan for the DEK and for K, derived from it as stream.c does. */
static void arm(void)
{
    static const hbwipe_secret keys[] = {{dek, sizeof dek}, {k, sizeof k}};
    hb_err err;
    HBTEST_ASSERT_OK(hb_stream_derive(dek, salt, "hsmbak v1 key", id, "config", k, &err), &err);
    hbwipe_arm(keys, 2);
}

static void disarm_and_check(void) { hbwipe_disarm_and_check("the DEK or K"); }

/* The scanner finds a secret left in a released block. */
static void test_control_unwiped_buffer_is_seen(void)
{
    /* Through volatile pointers: the compiler may not elide the pair. */
    void *(*volatile alloc)(size_t) = malloc;
    void (*volatile release)(void *) = free;
    arm();
    uint8_t *copy = alloc(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy + 7, dek, sizeof dek);
    release(copy);
    unsigned scanned, hits;
    hbwipe_disarm(&scanned, &hits);
    if (HBWIPE_CHECKS)
        CU_ASSERT_EQUAL(hits, 1);
}

typedef struct {
    uint8_t buf[1 << 16];
    size_t len;
} mem;

static hb_status sink(void *ctx, const uint8_t *b, size_t n, hb_err *err)
{
    mem *m = ctx;
    if (m->len + n > sizeof m->buf)
        return hb_fail(err, HB_E_IO, "full");
    memcpy(m->buf + m->len, b, n);
    m->len += n;
    return HB_OK;
}

typedef struct {
    const mem *m;
    size_t off;
} cursor;

static hb_status source(void *ctx, uint8_t *b, size_t cap, size_t *got, hb_err *err)
{
    (void)err;
    cursor *c = ctx;
    size_t n = c->m->len - c->off < cap ? c->m->len - c->off : cap;
    memcpy(b, c->m->buf + c->off, n);
    c->off += n;
    *got = n;
    return HB_OK;
}

/* Writer and reader, including a reader that fails on a bad tag. */
static void test_stream_releases_no_key(void)
{
    static mem m;
    static uint8_t plain[20000], out[8192];
    hb_err err;
    memset(plain, 'p', sizeof plain);
    m.len = 0;
    arm();
    hb_stream_writer *w = NULL;
    HBTEST_ASSERT_OK(hb_stream_writer_new_fixed(dek, id, "config", 12, salt, prefix, sink, &m,
                                                &w, &err), &err);
    HBTEST_ASSERT_OK(hb_stream_write(w, plain, sizeof plain, &err), &err);
    HBTEST_ASSERT_OK(hb_stream_writer_finish(w, &err), &err);
    hb_stream_writer_free(w);

    for (int tamper = 0; tamper < 2; tamper++) {
        if (tamper)
            m.buf[HB_STREAM_HEADER_LEN + 5000] ^= 1;
        cursor c = {&m, 0};
        hb_stream_reader *r = NULL;
        HBTEST_ASSERT_OK(hb_stream_reader_new(dek, id, "config", source, &c, &r, &err), &err);
        size_t got = 0;
        hb_status st;
        while ((st = hb_stream_read(r, out, sizeof out, &got, &err)) == HB_OK && got > 0) {
        }
        CU_ASSERT_EQUAL(st, tamper ? HB_E_VERIFY : HB_OK);
        hb_stream_reader_free(r);
    }
    disarm_and_check();
}

/* A whole archive: create, walk and extract (libarchive, compression). */
static void test_archive_releases_no_key(void)
{
    hb_err err;
    char *dir = hbtest_tempdir("wipe");
    char src[512], file[512], dst[512];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(file, sizeof file, "%s/config.tzst", dir);
    snprintf(dst, sizeof dst, "%s/dst", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(src, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(dst, 0700), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/settings", src);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("hostname x\n", f);
    fclose(f);
    arm();
    hb_archive_spec spec = {.backup_id = id, .name = "config"};
    hb_archive_info info;
    hb_archive_limits limits;
    hb_archive_limits_default(&limits);
    HBTEST_ASSERT_OK(hb_archive_create(src, file, &spec, dek, &info, &err), &err);
    HBTEST_ASSERT_OK(hb_archive_walk(file, &spec, dek, &limits, &info, &err), &err);
    HBTEST_ASSERT_OK(hb_archive_extract(file, &spec, dek, dst, &limits, &info, &err), &err);
    /* (This archive's K comes from its random salt: the scan looks for the
     * DEK, the secret every archive key is derived from.) */
    disarm_and_check();
    hbtest_rmtree(dir);
    free(dir);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"control: an unwiped buffer is seen", test_control_unwiped_buffer_is_seen},
        {"stream writer and reader release no key", test_stream_releases_no_key},
        {"archive create, walk, extract release no DEK", test_archive_releases_no_key},
        {NULL, NULL},
    };
    return hbtest_main("wipe", cases);
}
