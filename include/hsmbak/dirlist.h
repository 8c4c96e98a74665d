/* `hsmbak dir URL`: the seed's listing of a folder (name, modified, size)
 * and the free space under it. */
#ifndef HSMBAK_DIRLIST_H
#define HSMBAK_DIRLIST_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_dir_entry {
    char name[256];
    bool is_dir;
    time_t modified;
    uint64_t size;
} hb_dir_entry;

typedef struct hb_dir_listing {
    hb_dir_entry *entries; /* manifest first, then by name */
    size_t n;
    uint64_t available;    /* bytes free to unprivileged users */
} hb_dir_listing;

HB_API hb_status hb_dir_list(const char *root, const char *url, hb_dir_listing *out,
                             hb_err *err) HB_MUST_CHECK;
HB_API void hb_dir_listing_free(hb_dir_listing *l);

/* The backups directly under URL: the names of its subdirectories that hold
 * a backup manifest (what factory-reset names before it erases temporary:),
 * sorted. A missing folder holds none. */
HB_API hb_status hb_dir_backups(const char *root, const char *url, hb_strlist *names,
                                hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
