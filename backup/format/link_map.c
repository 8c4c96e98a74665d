/* Hard links on create (docs/FORMAT.md §5, docs/benchmarks.md): a map
 * (device, inode) -> the path of the first entry archived for that file, so
 * later names of the same file become hard-link entries.
 *
 * libarchive's link resolver keeps a whole archive_entry (xattrs, ACLs,
 * names: ~2.7 KiB) per multiply-linked file until all its links are seen,
 * which never happens when the other links are outside the tree (177 MiB at
 * 65 k entries). Here a file costs one node in an arena: its inode, a hash
 * chain link, its parent directory's node, its device's index and its last
 * path component (~20 bytes + the name), plus a 4-byte bucket. Directories
 * on the way are nodes too, made once per directory. Nothing is dropped:
 * the memory is linear in the number of multiply-linked files, not in the
 * size of what libarchive would hold. */
#include "backup/format/archive_internal.h"
#include "common/fail.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE 0u                /* node reference 0: no node (the arena starts at 8) */
#define NODE_ALIGN 8u
#define MAX_DEVICES 65535u
#define FIRST_BUCKETS 1024u

typedef struct node {
    uint64_t ino;       /* files only */
    uint32_t next;      /* hash chain */
    uint32_t parent;    /* directory node, NONE at the top */
    uint16_t dev;       /* index into devs */
    uint16_t name_len;
    char name[];        /* the last path component, not NUL-terminated */
} node;

struct hb_link_map {
    uint8_t *arena;     /* nodes, each at a multiple of NODE_ALIGN */
    size_t used, cap;
    uint32_t *buckets;  /* node references, NONE when empty */
    size_t n_buckets, n_files;
    dev_t *devs;
    size_t n_devs;
    /* the directory chain of the last path seen: its text and, per
     * component, where it ends in that text and its node */
    char *dir;
    size_t dir_len, dir_cap;
    size_t *comp_end;
    uint32_t *comp_ref;
    size_t n_comps, comps_cap;
    char *out;          /* the path returned by hb_link_map_see */
    size_t out_cap;
};

static node *at(const hb_link_map *m, uint32_t ref)
{
    return (node *)(void *)(m->arena + (size_t)ref * NODE_ALIGN);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30; /* splitmix64's finaliser */
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static size_t bucket_of(const hb_link_map *m, uint64_t ino, uint16_t dev)
{
    return (size_t)(mix(ino ^ ((uint64_t)dev << 48)) & (m->n_buckets - 1));
}

static hb_status grow(void **p, size_t *cap, size_t need, size_t size, hb_err *err)
{
    if (need <= *cap)
        return HB_OK;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return hb_fail_oom(err);
    *p = q;
    *cap = n;
    return HB_OK;
}

/* A new node for name (len bytes) under parent; *ref is its reference. */
static hb_status add_node(hb_link_map *m, uint32_t parent, uint16_t dev, uint64_t ino,
                          const char *name, size_t len, uint32_t *ref, hb_err *err)
{
    hb_status st = HB_OK;
    size_t size = (sizeof(node) + len + NODE_ALIGN - 1) / NODE_ALIGN * NODE_ALIGN;
    HB_ENSURE(len <= UINT16_MAX, HB_E_REFUSED, "a path component of %zu bytes is too long", len);
    HB_ENSURE((m->used + size) / NODE_ALIGN <= UINT32_MAX, HB_E_REFUSED,
              "too many hard-linked files in one archive (the link map is full)");
    HB_TRY(grow((void **)&m->arena, &m->cap, m->used + size, 1, err));
    node *n = at(m, (uint32_t)(m->used / NODE_ALIGN));
    n->ino = ino;
    n->next = NONE;
    n->parent = parent;
    n->dev = dev;
    n->name_len = (uint16_t)len;
    memcpy(n->name, name, len);
    *ref = (uint32_t)(m->used / NODE_ALIGN);
    m->used += size;
cleanup:
    return st;
}

hb_status hb_link_map_new(hb_link_map **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_link_map *m = calloc(1, sizeof *m);
    HB_ALLOC(m);
    m->n_buckets = FIRST_BUCKETS;
    HB_ALLOC(m->buckets = calloc(m->n_buckets, sizeof *m->buckets));
    m->used = NODE_ALIGN; /* reference 0 is NONE */
    HB_TRY(grow((void **)&m->arena, &m->cap, 4096, 1, err));
    *out = m;
    m = NULL;
cleanup:
    hb_link_map_free(m);
    return st;
}

void hb_link_map_free(hb_link_map *m)
{
    if (m == NULL)
        return;
    free(m->arena);
    free(m->buckets);
    free(m->devs);
    free(m->dir);
    free(m->comp_end);
    free(m->comp_ref);
    free(m->out);
    free(m);
}

static hb_status dev_index(hb_link_map *m, dev_t dev, uint16_t *out, hb_err *err)
{
    hb_status st = HB_OK;
    size_t cap = m->n_devs;
    for (size_t i = 0; i < m->n_devs; i++) {
        if (m->devs[i] == dev) {
            *out = (uint16_t)i;
            goto cleanup;
        }
    }
    HB_ENSURE(m->n_devs < MAX_DEVICES, HB_E_REFUSED,
              "hard-linked files on more than %u filesystems in one archive", MAX_DEVICES);
    HB_TRY(grow((void **)&m->devs, &cap, m->n_devs + 1, sizeof *m->devs, err));
    m->devs[m->n_devs] = dev;
    *out = (uint16_t)m->n_devs++;
cleanup:
    return st;
}

/* Twice the buckets once there are as many files as buckets. */
static hb_status rehash(hb_link_map *m, hb_err *err)
{
    hb_status st = HB_OK;
    size_t old_n = m->n_buckets;
    uint32_t *old = m->buckets, *nb = calloc(old_n * 2, sizeof *nb);
    HB_ALLOC(nb);
    m->buckets = nb;
    m->n_buckets = old_n * 2;
    for (size_t i = 0; i < old_n; i++) {
        for (uint32_t r = old[i]; r != NONE;) {
            node *n = at(m, r);
            uint32_t next = n->next;
            size_t b = bucket_of(m, n->ino, n->dev);
            n->next = nb[b];
            nb[b] = r;
            r = next;
        }
    }
    free(old);
cleanup:
    return st;
}

/* The node of the directory part of path (before its last '/'), NONE for
 * a top-level name; nodes are made for directories not seen before. The
 * chain of the last path is kept, so a depth-first walk makes each
 * directory's node once. */
static hb_status dir_node(hb_link_map *m, const char *path, size_t dlen, uint32_t *out,
                          hb_err *err)
{
    hb_status st = HB_OK;
    size_t keep = 0; /* components shared with the chain */
    while (keep < m->n_comps) {
        size_t end = m->comp_end[keep];
        if (end > dlen || memcmp(m->dir, path, end) != 0 || (end < dlen && path[end] != '/'))
            break;
        keep++;
    }
    m->n_comps = keep;
    m->dir_len = keep ? m->comp_end[keep - 1] : 0;
    HB_TRY(grow((void **)&m->dir, &m->dir_cap, dlen + 1, 1, err));
    memcpy(m->dir, path, dlen);
    while (m->dir_len < dlen) {
        size_t start = m->dir_len == 0 ? 0 : m->dir_len + 1;
        const char *slash = memchr(path + start, '/', dlen - start);
        size_t end = slash ? (size_t)(slash - path) : dlen;
        size_t cap = m->comps_cap;
        uint32_t ref;
        HB_TRY(grow((void **)&m->comp_end, &m->comps_cap, m->n_comps + 1, sizeof(size_t), err));
        HB_TRY(grow((void **)&m->comp_ref, &cap, m->n_comps + 1, sizeof(uint32_t), err));
        HB_TRY(add_node(m, m->n_comps ? m->comp_ref[m->n_comps - 1] : NONE, 0, 0,
                        path + start, end - start, &ref, err));
        m->comp_end[m->n_comps] = end;
        m->comp_ref[m->n_comps++] = ref;
        m->dir_len = end;
    }
    *out = m->n_comps ? m->comp_ref[m->n_comps - 1] : NONE;
cleanup:
    return st;
}

/* The path of file node ref, into m->out. */
static hb_status path_of(hb_link_map *m, uint32_t ref, hb_err *err)
{
    hb_status st = HB_OK;
    size_t len = 0;
    for (uint32_t r = ref; r != NONE; r = at(m, r)->parent)
        len += at(m, r)->name_len + (r == ref ? 0u : 1u);
    HB_TRY(grow((void **)&m->out, &m->out_cap, len + 1, 1, err));
    m->out[len] = '\0';
    for (uint32_t r = ref; r != NONE; r = at(m, r)->parent) {
        node *n = at(m, r);
        if (r != ref)
            m->out[--len] = '/';
        len -= n->name_len;
        memcpy(m->out + len, n->name, n->name_len);
    }
cleanup:
    return st;
}

hb_status hb_link_map_see(hb_link_map *m, dev_t dev, uint64_t ino, const char *path,
                          const char **first, hb_err *err)
{
    hb_status st = HB_OK;
    uint16_t d = 0;
    uint32_t parent = NONE, ref = NONE;
    *first = NULL;
    HB_TRY(dev_index(m, dev, &d, err));
    for (uint32_t r = m->buckets[bucket_of(m, ino, d)]; r != NONE; r = at(m, r)->next) {
        if (at(m, r)->ino == ino && at(m, r)->dev == d) {
            HB_TRY(path_of(m, r, err));
            *first = m->out;
            goto cleanup;
        }
    }
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    const char *name = slash ? slash + 1 : path;
    HB_TRY(dir_node(m, path, dlen, &parent, err));
    HB_TRY(add_node(m, parent, d, ino, name, strlen(name), &ref, err));
    size_t b = bucket_of(m, ino, d);
    at(m, ref)->next = m->buckets[b];
    m->buckets[b] = ref;
    if (++m->n_files >= m->n_buckets)
        HB_TRY(rehash(m, err));
cleanup:
    return st;
}
