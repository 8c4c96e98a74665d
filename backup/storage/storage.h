/* Where a backup's files live (DESIGN §1, §4): one interface, so that the
 * operations stream archives and the manifest to a store and read them back
 * without knowing whether they are files or objects.
 *
 * A store is one backup's location. Writing: hb_store_begin prepares it (a
 * hidden partial directory for the local backend), each file is a stream
 * opened with hb_store_put, written, and published by hb_store_put_commit
 * (synced; nothing half-written is ever listed); hb_store_finish makes the
 * whole backup visible at once. Until then hb_store_free removes what was
 * written. Reading: hb_store_get streams a published file.
 *
 * Backends: the local directory (local.c), SFTP (sftp.c) and S3 (s3.c),
 * chosen by hb_store_open from the location's form (store.c; docs/remote.md). */
#ifndef HSMBAK_STORAGE_STORAGE_H
#define HSMBAK_STORAGE_STORAGE_H

#include "common/buf.h"
#include "hsmbak/remote.h"
#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_store hb_store;
typedef struct hb_store_writer hb_store_writer;
typedef struct hb_store_reader hb_store_reader;

/* How to reach a remote store; NULL members take the defaults
 * (docs/remote.md). Nothing here is secret: these are file names. */
typedef struct hb_store_remote {
    const char *ssh_identity;      /* private key file; default ~/.ssh/id_ed25519, id_rsa */
    const char *ssh_known_hosts;   /* default ~/.ssh/known_hosts */
    hb_s3_options s3;              /* for s3:// */
} hb_store_remote;

/* True when location names a remote store (sftp://, s3://): it is not a path,
 * and no appliance URL resolution applies to it. */
bool hb_store_is_remote(const char *location);

/* The store at location: an sftp:// URL (connected, host key checked and
 * logged in before this returns; opts may be NULL), an s3:// URL
 * (configured, credentials read; nothing sent yet), else a local directory
 * path (absolute or relative; its parent is created on begin). shown names it
 * in messages. */
hb_status hb_store_open(const char *location, const char *shown, const hb_store_remote *opts,
                        hb_store **out, hb_err *err) HB_MUST_CHECK;

/* A local backup directory at path (hb_store_open for a path). */
hb_status hb_store_open_local(const char *path, const char *shown, hb_store **out,
                              hb_err *err) HB_MUST_CHECK;

/* Prepare for writing a new backup: the location must not hold one (an
 * existing empty directory is fine). */
hb_status hb_store_begin(hb_store *s, hb_err *err) HB_MUST_CHECK;

/* A new file name in the backup being written, opened as a stream. */
hb_status hb_store_put(hb_store *s, const char *name, hb_store_writer **out,
                       hb_err *err) HB_MUST_CHECK;
/* hb_sink_fn-compatible: ctx is the hb_store_writer. */
hb_status hb_store_write(void *writer, const uint8_t *buf, size_t len, hb_err *err) HB_MUST_CHECK;
/* Publish the file atomically (synced). The writer is freed either way. */
hb_status hb_store_put_commit(hb_store_writer *w, hb_err *err) HB_MUST_CHECK;
/* Drop an unfinished file; NULL is fine. */
void hb_store_put_abort(hb_store_writer *w);

/* The backup is complete: make it visible under its final name. */
hb_status hb_store_finish(hb_store *s, hb_err *err) HB_MUST_CHECK;

/* Where the finished backup is, as shown to the operator. */
const char *hb_store_location(const hb_store *s);
/* Stale partial backups of killed writers removed by begin. */
unsigned hb_store_stale_removed(const hb_store *s);

/* What hb_store_begin left alone and why (stale partial directories of
 * another user, or links in their place), one line each; owned by s. */
const hb_strlist *hb_store_warnings(const hb_store *s);

/* Read a published file of an existing backup. HB_E_NOT_FOUND: none. */
hb_status hb_store_get(hb_store *s, const char *name, hb_store_reader **out,
                       hb_err *err) HB_MUST_CHECK;
/* hb_source_fn-compatible: ctx is the hb_store_reader; *got = 0 at end. */
hb_status hb_store_read(void *reader, uint8_t *buf, size_t cap, size_t *got,
                        hb_err *err) HB_MUST_CHECK;
void hb_store_reader_free(hb_store_reader *r);

/* Read all of a published file, at most cap bytes (HB_E_REFUSED if larger);
 * *data is NUL-terminated, owned by the caller. HB_E_NOT_FOUND: none. */
hb_status hb_store_read_file(hb_store *s, const char *name, size_t cap, uint8_t **data,
                             size_t *len, hb_err *err) HB_MUST_CHECK;
/* What name in the backup is, without following a link. HB_E_NOT_FOUND: none. */
hb_status hb_store_stat(hb_store *s, const char *name, uint64_t *size, bool *regular,
                        hb_err *err) HB_MUST_CHECK;
/* Each name in the backup's directory but "." and "..", until fn fails. */
typedef hb_status (*hb_store_name_fn)(void *ctx, const char *name, hb_err *err);
hb_status hb_store_list(hb_store *s, hb_store_name_fn fn, void *ctx, hb_err *err) HB_MUST_CHECK;

/* Frees s; an unfinished backup's partial files are removed. */
void hb_store_free(hb_store *s);

#endif
