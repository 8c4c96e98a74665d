/* The backends behind storage.h (store.c dispatches to them): the local
 * directory (local.c), SFTP (sftp.c) and S3 (s3.c). Each has the same operations with
 * the meaning storage.h gives them; only store.c calls these. */
#ifndef HSMBAK_STORAGE_BACKEND_H
#define HSMBAK_STORAGE_BACKEND_H

#include "backup/storage/storage.h"

typedef struct hb_local hb_local;
typedef struct hb_local_writer hb_local_writer;
typedef struct hb_local_reader hb_local_reader;

hb_status hb_local_open(const char *path, const char *shown, hb_local **out,
                        hb_err *err) HB_MUST_CHECK;
hb_status hb_local_begin(hb_local *s, hb_err *err) HB_MUST_CHECK;
hb_status hb_local_put(hb_local *s, const char *name, hb_local_writer **out,
                       hb_err *err) HB_MUST_CHECK;
hb_status hb_local_write(void *writer, const uint8_t *buf, size_t len, hb_err *err) HB_MUST_CHECK;
hb_status hb_local_put_commit(hb_local_writer *w, hb_err *err) HB_MUST_CHECK;
void hb_local_put_abort(hb_local_writer *w);
hb_status hb_local_finish(hb_local *s, hb_err *err) HB_MUST_CHECK;
const char *hb_local_location(const hb_local *s);
unsigned hb_local_stale_removed(const hb_local *s);
const hb_strlist *hb_local_warnings(const hb_local *s);
hb_status hb_local_get(hb_local *s, const char *name, hb_local_reader **out,
                       hb_err *err) HB_MUST_CHECK;
hb_status hb_local_read(void *reader, uint8_t *buf, size_t cap, size_t *got,
                        hb_err *err) HB_MUST_CHECK;
void hb_local_reader_free(hb_local_reader *r);
hb_status hb_local_stat(hb_local *s, const char *name, uint64_t *size, bool *regular,
                        hb_err *err) HB_MUST_CHECK;
hb_status hb_local_list(hb_local *s, hb_store_name_fn fn, void *ctx, hb_err *err) HB_MUST_CHECK;
void hb_local_free(hb_local *s);

typedef struct hb_sftp hb_sftp;
typedef struct hb_sftp_writer hb_sftp_writer;
typedef struct hb_sftp_reader hb_sftp_reader;

/* url is an sftp:// URL (hb_store_is_remote); connects, checks the host key
 * and logs in before it returns. */
hb_status hb_sftp_open(const char *url, const hb_store_remote *opts, hb_sftp **out,
                       hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_begin(hb_sftp *s, hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_put(hb_sftp *s, const char *name, hb_sftp_writer **out,
                      hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_write(void *writer, const uint8_t *buf, size_t len, hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_put_commit(hb_sftp_writer *w, hb_err *err) HB_MUST_CHECK;
void hb_sftp_put_abort(hb_sftp_writer *w);
hb_status hb_sftp_finish(hb_sftp *s, hb_err *err) HB_MUST_CHECK;
const char *hb_sftp_location(const hb_sftp *s);
unsigned hb_sftp_stale_removed(const hb_sftp *s);
hb_status hb_sftp_get(hb_sftp *s, const char *name, hb_sftp_reader **out,
                      hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_read(void *reader, uint8_t *buf, size_t cap, size_t *got,
                       hb_err *err) HB_MUST_CHECK;
void hb_sftp_reader_free(hb_sftp_reader *r);
hb_status hb_sftp_stat(hb_sftp *s, const char *name, uint64_t *size, bool *regular,
                       hb_err *err) HB_MUST_CHECK;
hb_status hb_sftp_list(hb_sftp *s, hb_store_name_fn fn, void *ctx, hb_err *err) HB_MUST_CHECK;
void hb_sftp_free(hb_sftp *s);

typedef struct hb_s3 hb_s3;
typedef struct hb_s3_writer hb_s3_writer;
typedef struct hb_s3_reader hb_s3_reader;

/* url is an s3:// URL; reads the configuration and the credentials (no
 * request is made before begin, get, stat or list). */
hb_status hb_s3_open(const char *url, const hb_store_remote *opts, hb_s3 **out,
                     hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_begin(hb_s3 *s, hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_put(hb_s3 *s, const char *name, hb_s3_writer **out, hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_write(void *writer, const uint8_t *buf, size_t len, hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_put_commit(hb_s3_writer *w, hb_err *err) HB_MUST_CHECK;
void hb_s3_put_abort(hb_s3_writer *w);
hb_status hb_s3_finish(hb_s3 *s, hb_err *err) HB_MUST_CHECK;
const char *hb_s3_location(const hb_s3 *s);
unsigned hb_s3_stale_removed(const hb_s3 *s);
hb_status hb_s3_get(hb_s3 *s, const char *name, hb_s3_reader **out, hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_read(void *reader, uint8_t *buf, size_t cap, size_t *got,
                     hb_err *err) HB_MUST_CHECK;
void hb_s3_reader_free(hb_s3_reader *r);
hb_status hb_s3_stat(hb_s3 *s, const char *name, uint64_t *size, bool *regular,
                     hb_err *err) HB_MUST_CHECK;
hb_status hb_s3_list(hb_s3 *s, hb_store_name_fn fn, void *ctx, hb_err *err) HB_MUST_CHECK;
void hb_s3_free(hb_s3 *s);

/* This machine in partial names on shared stores (machine.c). */
const char *hb_storage_machine_tag(void);

#endif
