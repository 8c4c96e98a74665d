/* Whole-tree helpers for system roots (internal): a canonical listing with
 * content digests (factory-state check, tests' before/after digests), copy,
 * hard-link carry-over, and removal. All walk with O_NOFOLLOW semantics:
 * symlinks are recorded and copied as links, never followed. */
#ifndef HSMBAK_BACKUP_TREE_H
#define HSMBAK_BACKUP_TREE_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>

/* One entry of a tree listing: "path type mode digest", path relative. */
typedef struct hb_tree_entry {
    char *path;
    char type;           /* 'f' file, 'd' dir, 'l' symlink, 'o' other */
    unsigned mode;       /* permission bits */
    char digest[65];     /* files: SHA-256 of content; links: of the target */
} hb_tree_entry;

typedef struct hb_tree {
    hb_tree_entry *entries; /* sorted by path */
    size_t n;
} hb_tree;

/* List dir. skip (may be NULL) is a NULL-terminated list of relative paths
 * left out with everything below them. A missing dir is an empty tree. */
hb_status hb_tree_list(const char *dir, const char *const *skip, hb_tree *out,
                       hb_err *err) HB_MUST_CHECK;
void hb_tree_free(hb_tree *t);

/* The first difference between two listings, from a to b. */
typedef struct hb_tree_change {
    const char *path;    /* points into a or b */
    const char *how;     /* "added", "removed" or "changed" */
} hb_tree_change;

/* False when the listings are equal; else true and *out the first change. */
bool hb_tree_diff(const hb_tree *a, const hb_tree *b, hb_tree_change *out);

/* Copy src into dst (created 0700 if missing), preserving modes, mtimes and
 * symlinks. When link_files is set, regular files are hard-linked instead of
 * copied (same filesystem), falling back to a copy. */
hb_status hb_tree_copy(const char *src, const char *dst, bool link_files,
                       hb_err *err) HB_MUST_CHECK;

/* hb_tree_copy between two open directories; shown names sfd in messages. */
hb_status hb_tree_copy_at(int sfd, int dfd, const char *shown, bool link_files,
                          hb_err *err) HB_MUST_CHECK;

/* rm -rf that never follows symlinks; a missing path is fine. Everything
 * below path's parent is removed from directory fds with unlinkat
 * (hb_beneath_remove), so a link swapped in mid-walk is removed itself,
 * never entered. */
hb_status hb_tree_remove(const char *path, hb_err *err) HB_MUST_CHECK;

/* For cleanup paths that already report another failure. */
void hb_tree_remove_quietly(const char *path);

/* True when dir is missing or holds no entries. */
bool hb_dir_is_empty(const char *dir);

#endif
