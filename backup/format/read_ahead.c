/* Decryption ahead of the tar walk (issue 16; archive_internal.h).
 *
 * One thread reads the archive's stream (the source, the SHA-256 of the
 * encrypted bytes, AES-GCM opening and authenticating each segment:
 * hb_stream_read) into a ring of RING buffers of `cap` bytes; the caller's
 * thread (libarchive: decompression, tar, extraction) takes them in order.
 * Only authenticated plaintext ever enters the ring (hb_stream_read returns
 * nothing before its segment's tag verified), so the reader sees exactly
 * what it saw when it called hb_stream_read itself, one ring later. Memory:
 * RING * cap (1 MiB at 8 x 128 KiB), whatever the archive's size.
 *
 * Locking: every field below `lock` is guarded by it. The stream reader and
 * its source belong to the thread from start to join. */
#include "backup/format/archive_internal.h"

#include "common/fail.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define RING 8

struct hb_read_ahead {
    hb_stream_reader *r;
    size_t cap;
    uint8_t *buf[RING];
    pthread_t tid;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t len[RING];
    size_t head, count;  /* filled slots: head .. head+count-1 */
    bool held;           /* the caller holds slot head (from its last next) */
    bool done;           /* the final segment verified, or a failure */
    bool stop;           /* the caller is gone */
    hb_status st;
    hb_err err;
};

static void *run(void *arg)
{
    hb_read_ahead *ra = arg;
    size_t slot = 0;
    for (;;) {
        pthread_mutex_lock(&ra->lock);
        while (!ra->stop && ra->count + (ra->held ? 1 : 0) >= RING)
            pthread_cond_wait(&ra->changed, &ra->lock);
        bool stop = ra->stop;
        slot = (ra->head + ra->count + (ra->held ? 1 : 0)) % RING;
        pthread_mutex_unlock(&ra->lock);
        if (stop)
            break;
        size_t got = 0;
        hb_err err = {0};
        hb_status st = hb_stream_read(ra->r, ra->buf[slot], ra->cap, &got, &err);
        pthread_mutex_lock(&ra->lock);
        if (st != HB_OK) {
            ra->st = st;
            ra->err = err;
            ra->done = true;
        } else if (got == 0) {
            ra->done = true;
        } else {
            ra->len[slot] = got;
            ra->count++;
        }
        bool done = ra->done;
        pthread_cond_broadcast(&ra->changed);
        pthread_mutex_unlock(&ra->lock);
        if (done)
            break;
    }
    return NULL;
}

hb_status hb_read_ahead_start(hb_stream_reader *r, size_t cap, hb_read_ahead **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_read_ahead *ra = calloc(1, sizeof *ra);
    HB_ALLOC(ra);
    ra->r = r;
    ra->cap = cap;
    for (size_t i = 0; i < RING; i++)
        HB_ALLOC(ra->buf[i] = malloc(cap));
    HB_ENSURE(pthread_mutex_init(&ra->lock, NULL) == 0, HB_E_INTERNAL, "cannot create a mutex");
    if (pthread_cond_init(&ra->changed, NULL) != 0) {
        pthread_mutex_destroy(&ra->lock);
        HB_FAIL(HB_E_INTERNAL, "cannot create a condition variable");
    }
    if (pthread_create(&ra->tid, NULL, run, ra) != 0) {
        pthread_cond_destroy(&ra->changed);
        pthread_mutex_destroy(&ra->lock);
        HB_FAIL(HB_E_INTERNAL, "cannot start the archive's reader thread");
    }
    ra->started = true;
    *out = ra;
    ra = NULL;
cleanup:
    hb_read_ahead_free(ra);
    return st;
}

hb_status hb_read_ahead_next(hb_read_ahead *ra, const uint8_t **buf, size_t *len, hb_err *err)
{
    hb_status st = HB_OK;
    pthread_mutex_lock(&ra->lock);
    if (ra->held) { /* the caller is done with the last one */
        ra->held = false;
        ra->head = (ra->head + 1) % RING;
        pthread_cond_broadcast(&ra->changed);
    }
    while (ra->count == 0 && !ra->done)
        pthread_cond_wait(&ra->changed, &ra->lock);
    *buf = NULL;
    *len = 0;
    if (ra->count > 0) {
        *buf = ra->buf[ra->head];
        *len = ra->len[ra->head];
        ra->count--;
        ra->held = true;
    } else if (ra->st != HB_OK) {
        st = ra->st;
        if (err != NULL)
            *err = ra->err;
    }
    pthread_mutex_unlock(&ra->lock);
    return st;
}

void hb_read_ahead_free(hb_read_ahead *ra)
{
    if (ra == NULL)
        return;
    if (ra->started) {
        pthread_mutex_lock(&ra->lock);
        ra->stop = true;
        pthread_cond_broadcast(&ra->changed);
        pthread_mutex_unlock(&ra->lock);
        pthread_join(ra->tid, NULL);
        pthread_cond_destroy(&ra->changed);
        pthread_mutex_destroy(&ra->lock);
    }
    for (size_t i = 0; i < RING; i++)
        if (ra->buf[i] != NULL)
            OPENSSL_clear_free(ra->buf[i], ra->cap);
    free(ra);
}
