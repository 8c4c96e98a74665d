/* storage.h's one entry point: which backend a location names (a path, an
 * sftp:// or an s3:// URL), and each operation forwarded to it (backend.h). */
#include "backup/storage/backend.h"

#include "common/fail.h"

#include <stdlib.h>
#include <string.h>

struct hb_store {
    hb_local *local; /* exactly one of the three */
    hb_sftp *sftp;
    hb_s3 *s3;
};

struct hb_store_writer {
    hb_local_writer *local;
    hb_sftp_writer *sftp;
    hb_s3_writer *s3;
};

struct hb_store_reader {
    hb_local_reader *local;
    hb_sftp_reader *sftp;
    hb_s3_reader *s3;
};

static bool is_s3(const char *location)
{
    return location != NULL && strncmp(location, "s3://", 5) == 0;
}

bool hb_store_is_remote(const char *location)
{
    return location != NULL && (strncmp(location, "sftp://", 7) == 0 || is_s3(location));
}

hb_status hb_store_open(const char *location, const char *shown, const hb_store_remote *opts,
                        hb_store **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    HB_ENSURE(is_s3(location) || opts == NULL ||
              (opts->s3.lock_mode == NULL && opts->s3.retain_days == 0), HB_E_USAGE,
              "--lock and --retain are for an s3:// destination (S3 Object Lock); '%s' is not "
              "one", shown ? shown : location);
    if (is_s3(location))
        HB_TRY(hb_s3_open(location, opts, &s->s3, err));
    else if (hb_store_is_remote(location))
        HB_TRY(hb_sftp_open(location, opts, &s->sftp, err));
    else
        HB_TRY(hb_local_open(location, shown, &s->local, err));
    *out = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

hb_status hb_store_open_local(const char *path, const char *shown, hb_store **out,
                              hb_err *err)
{
    return hb_store_open(path, shown, NULL, out, err);
}

hb_status hb_store_begin(hb_store *s, hb_err *err)
{
    return s->s3     ? hb_s3_begin(s->s3, err)
           : s->sftp ? hb_sftp_begin(s->sftp, err)
                     : hb_local_begin(s->local, err);
}

hb_status hb_store_put(hb_store *s, const char *name, hb_store_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_writer *w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    if (s->s3)
        HB_TRY(hb_s3_put(s->s3, name, &w->s3, err));
    else if (s->sftp)
        HB_TRY(hb_sftp_put(s->sftp, name, &w->sftp, err));
    else
        HB_TRY(hb_local_put(s->local, name, &w->local, err));
    *out = w;
    w = NULL;
cleanup:
    free(w);
    return st;
}

hb_status hb_store_write(void *writer, const uint8_t *buf, size_t len, hb_err *err)
{
    hb_store_writer *w = writer;
    return w->s3     ? hb_s3_write(w->s3, buf, len, err)
           : w->sftp ? hb_sftp_write(w->sftp, buf, len, err)
                     : hb_local_write(w->local, buf, len, err);
}

hb_status hb_store_put_commit(hb_store_writer *w, hb_err *err)
{
    hb_status st = w->s3     ? hb_s3_put_commit(w->s3, err)
                   : w->sftp ? hb_sftp_put_commit(w->sftp, err)
                             : hb_local_put_commit(w->local, err);
    free(w);
    return st;
}

void hb_store_put_abort(hb_store_writer *w)
{
    if (w == NULL)
        return;
    if (w->s3)
        hb_s3_put_abort(w->s3);
    else if (w->sftp)
        hb_sftp_put_abort(w->sftp);
    else
        hb_local_put_abort(w->local);
    free(w);
}

hb_status hb_store_finish(hb_store *s, hb_err *err)
{
    return s->s3     ? hb_s3_finish(s->s3, err)
           : s->sftp ? hb_sftp_finish(s->sftp, err)
                     : hb_local_finish(s->local, err);
}

const char *hb_store_location(const hb_store *s)
{
    return s->s3     ? hb_s3_location(s->s3)
           : s->sftp ? hb_sftp_location(s->sftp)
                     : hb_local_location(s->local);
}

unsigned hb_store_stale_removed(const hb_store *s)
{
    return s->s3     ? hb_s3_stale_removed(s->s3)
           : s->sftp ? hb_sftp_stale_removed(s->sftp)
                     : hb_local_stale_removed(s->local);
}

const hb_strlist *hb_store_warnings(const hb_store *s)
{
    /* The remote backends leave other machines' partials alone without a
     * warning (docs/remote.md); the local one says what it left. */
    static const hb_strlist none = {0};
    return s->local ? hb_local_warnings(s->local) : &none;
}

hb_status hb_store_get(hb_store *s, const char *name, hb_store_reader **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_reader *r = calloc(1, sizeof *r);
    HB_ALLOC(r);
    if (s->s3)
        HB_TRY(hb_s3_get(s->s3, name, &r->s3, err));
    else if (s->sftp)
        HB_TRY(hb_sftp_get(s->sftp, name, &r->sftp, err));
    else
        HB_TRY(hb_local_get(s->local, name, &r->local, err));
    *out = r;
    r = NULL;
cleanup:
    free(r);
    return st;
}

hb_status hb_store_read(void *reader, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    hb_store_reader *r = reader;
    return r->s3     ? hb_s3_read(r->s3, buf, cap, got, err)
           : r->sftp ? hb_sftp_read(r->sftp, buf, cap, got, err)
                     : hb_local_read(r->local, buf, cap, got, err);
}

void hb_store_reader_free(hb_store_reader *r)
{
    if (r == NULL)
        return;
    hb_s3_reader_free(r->s3);
    hb_sftp_reader_free(r->sftp);
    hb_local_reader_free(r->local);
    free(r);
}

hb_status hb_store_read_file(hb_store *s, const char *name, size_t cap, uint8_t **data,
                             size_t *len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_store_reader *r = NULL;
    size_t n = 0, got = 0, size = 0;
    uint8_t *buf = NULL;
    HB_TRY(hb_store_get(s, name, &r, err));
    /* Up to cap + 1 bytes, so that a larger file is caught; the buffer
     * grows as the file is read (one byte more for the NUL). */
    do {
        if (n == size) {
            size = size == 0 ? 64 * 1024 : size * 2;
            if (size > cap + 1)
                size = cap + 1;
            uint8_t *more = realloc(buf, size + 1);
            HB_ALLOC(more);
            buf = more;
        }
        HB_TRY(hb_store_read(r, buf + n, size - n, &got, err));
        n += got;
    } while (got > 0 && n <= cap);
    HB_ENSURE(n <= cap, HB_E_REFUSED, "'%s' in '%s' is larger than %zu bytes", name,
              hb_store_location(s), cap);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
cleanup:
    hb_store_reader_free(r);
    free(buf);
    return st;
}

hb_status hb_store_stat(hb_store *s, const char *name, uint64_t *size, bool *regular,
                        hb_err *err)
{
    return s->s3     ? hb_s3_stat(s->s3, name, size, regular, err)
           : s->sftp ? hb_sftp_stat(s->sftp, name, size, regular, err)
                     : hb_local_stat(s->local, name, size, regular, err);
}

hb_status hb_store_list(hb_store *s, hb_store_name_fn fn, void *ctx, hb_err *err)
{
    return s->s3     ? hb_s3_list(s->s3, fn, ctx, err)
           : s->sftp ? hb_sftp_list(s->sftp, fn, ctx, err)
                     : hb_local_list(s->local, fn, ctx, err);
}

void hb_store_free(hb_store *s)
{
    if (s == NULL)
        return;
    hb_s3_free(s->s3);
    hb_sftp_free(s->sftp);
    hb_local_free(s->local);
    free(s);
}
