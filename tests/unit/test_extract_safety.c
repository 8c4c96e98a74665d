/* backup/archive_read.c: hostile archives (DESIGN §7). Each is crafted
 * here with libarchive, encrypted with the stream writer, then walked and
 * extracted: both must refuse it with the same reason, and nothing may
 * appear outside the staging directory (a sentinel directory stays empty). */
#include "hbtest.h"

#include "backup/format/archive.h"
#include "backup/format/stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define ID "123e4567-e89b-12d3-a456-426614174000"

static const uint8_t DEK[32] = {1, 2, 3};
static char *g_base;     /* per-run temp area */
static char g_sentinel[PATH_MAX / 2]; /* must stay empty */
static char g_outside[PATH_MAX / 2];  /* must keep one link */

/* ---- crafting ---- */

typedef struct crafted {
    int fd;
    hb_stream_writer *w;
} crafted;

static hb_status file_sink(void *ctx, const uint8_t *buf, size_t len, hb_err *err)
{
    crafted *c = ctx;
    (void)err;
    return write(c->fd, buf, len) == (ssize_t)len ? HB_OK : HB_E_IO;
}

static la_ssize_t la_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
    crafted *c = ctx;
    hb_err err = {0};
    (void)a;
    return hb_stream_write(c->w, buf, len, &err) == HB_OK ? (la_ssize_t)len : -1;
}

typedef struct ent {
    const char *path;
    mode_t type;            /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO */
    const char *link;       /* symlink target */
    const char *hardlink;   /* hard link target */
    int64_t size;           /* zero-filled data of this size */
} ent;

static struct archive *g_a;
static crafted g_c;

static void craft_begin(const char *file)
{
    hb_err err = {0};
    g_c.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(g_c.fd >= 0);
    HBTEST_ASSERT_OK(hb_stream_writer_new(DEK, ID, "config", 0, file_sink, &g_c, &g_c.w, &err),
                     &err);
    g_a = archive_write_new();
    archive_write_set_format_pax_restricted(g_a);
    archive_write_add_filter_zstd(g_a);
    archive_write_set_bytes_in_last_block(g_a, 1);
    CU_ASSERT_EQUAL_FATAL(archive_write_open2(g_a, &g_c, NULL, la_write, NULL, NULL),
                          ARCHIVE_OK);
}

static void craft_add(const ent *e)
{
    static char zeros[1 << 16];
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_filetype(ae, e->type);
    archive_entry_set_perm(ae, e->type == AE_IFDIR ? 0755 : 0644);
    if (e->link)
        archive_entry_set_symlink(ae, e->link);
    if (e->hardlink)
        archive_entry_set_hardlink(ae, e->hardlink);
    if (e->type == AE_IFCHR)
        archive_entry_set_rdev(ae, makedev(1, 3));
    archive_entry_set_size(ae, e->size);
    CU_ASSERT(archive_write_header(g_a, ae) >= ARCHIVE_WARN);
    for (int64_t left = e->size; left > 0;) {
        size_t n = left > (int64_t)sizeof zeros ? sizeof zeros : (size_t)left;
        CU_ASSERT_EQUAL_FATAL(archive_write_data(g_a, zeros, n), (la_ssize_t)n);
        left -= (int64_t)n;
    }
    archive_entry_free(ae);
}

static void craft_end(void)
{
    hb_err err = {0};
    CU_ASSERT_EQUAL(archive_write_close(g_a), ARCHIVE_OK);
    archive_write_free(g_a);
    HBTEST_ASSERT_OK(hb_stream_writer_finish(g_c.w, &err), &err);
    hb_stream_writer_free(g_c.w);
    close(g_c.fd);
}

static void craft(const char *file, const ent *ents, size_t n)
{
    craft_begin(file);
    for (size_t i = 0; i < n; i++)
        craft_add(&ents[i]);
    craft_end();
}

/* ---- checking ---- */

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Walk and extract file; both must fail with want and fragment. */
static void expect_refused(const char *file, const hb_archive_limits *lim, hb_status want,
                           const char *fragment)
{
    hb_archive_spec spec = {.backup_id = ID, .name = "config",
                            .compression = HB_COMPRESSION_ZSTD};
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(hb_archive_walk(file, &spec, DEK, lim, NULL, &err), want, &err, fragment);
    HBTEST_ASSERT_MSG(&err, "archive 'config'");
    char stage[PATH_MAX];
    snprintf(stage, sizeof stage, "%s/stage", g_base);
    CU_ASSERT_EQUAL_FATAL(mkdir(stage, 0700), 0);
    HBTEST_ASSERT_FAIL(hb_archive_extract(file, &spec, DEK, stage, lim, NULL, &err), want, &err,
                       fragment);
    CU_ASSERT_EQUAL(count_entries(g_sentinel), 0);
    hbtest_rmtree(stage);
    unlink(file);
}

static void archive_path(char *out, const char *tag)
{
    snprintf(out, PATH_MAX, "%s/%s.tzst", g_base, tag);
}

static void test_absolute_path(void)
{
    char file[PATH_MAX], target[PATH_MAX];
    archive_path(file, "abs");
    snprintf(target, sizeof target, "%s/pwned", g_sentinel);
    ent e[] = {{"ok", AE_IFREG, NULL, NULL, 1}, {target, AE_IFREG, NULL, NULL, 4}};
    craft(file, e, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "is an absolute path");
}

static void test_dotdot(void)
{
    char file[PATH_MAX];
    archive_path(file, "dotdot");
    ent e1[] = {{"../sentinel/x", AE_IFREG, NULL, NULL, 4}};
    craft(file, e1, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "has a '..' component");
    ent e2[] = {{"a", AE_IFDIR, NULL, NULL, 0}, {"a/../../sentinel/x", AE_IFREG, NULL, NULL, 4}};
    craft(file, e2, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "has a '..' component");
}

static void test_file_through_symlink(void)
{
    char file[PATH_MAX];
    archive_path(file, "symlink");
    ent e[] = {{"link", AE_IFLNK, g_sentinel, NULL, 0}, {"link/pwned", AE_IFREG, NULL, NULL, 4}};
    craft(file, e, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "through or over the symlink 'link'");
    /* a relative link up and out, then a file in a directory below it */
    ent e2[] = {{"d", AE_IFDIR, NULL, NULL, 0}, {"d/up", AE_IFLNK, "../..", NULL, 0},
                {"./d/up/sentinel/pwned", AE_IFREG, NULL, NULL, 4}};
    craft(file, e2, 3);
    expect_refused(file, NULL, HB_E_VERIFY, "through or over the symlink 'd/up'");
    /* a file over a symlink of the same name */
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/pwned", g_sentinel);
    ent e3[] = {{"s", AE_IFLNK, target, NULL, 0}, {"s", AE_IFREG, NULL, NULL, 4}};
    craft(file, e3, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "through or over the symlink 's'");
}

static void test_hard_links(void)
{
    char file[PATH_MAX], outside[PATH_MAX];
    archive_path(file, "hard");
    snprintf(outside, sizeof outside, "%s/../outside-file", g_sentinel);
    ent e1[] = {{"h", AE_IFREG, NULL, "../outside-file", 0}};
    craft(file, e1, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "has a '..' component");
    ent e2[] = {{"h", AE_IFREG, NULL, outside, 0}};
    craft(file, e2, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "is an absolute path");
    ent e3[] = {{"h", AE_IFREG, NULL, "absent", 0}};
    craft(file, e3, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "not an earlier regular file");
    ent e4[] = {{"d", AE_IFDIR, NULL, NULL, 0}, {"h", AE_IFREG, NULL, "d", 0}};
    craft(file, e4, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "not an earlier regular file");
    /* through a symlink to a real file outside */
    ent e5[] = {{"l", AE_IFLNK, g_base, NULL, 0}, {"h", AE_IFREG, NULL, "l/outside-file", 0}};
    craft(file, e5, 2);
    expect_refused(file, NULL, HB_E_VERIFY, "through or over the symlink 'l'");
}

static void test_devices_and_fifos(void)
{
    char file[PATH_MAX];
    archive_path(file, "dev");
    ent e1[] = {{"null", AE_IFCHR, NULL, NULL, 0}};
    craft(file, e1, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "is a device node");
    ent e2[] = {{"fifo", AE_IFIFO, NULL, NULL, 0}};
    craft(file, e2, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "is a FIFO");
    ent e3[] = {{"blk", AE_IFBLK, NULL, NULL, 0}};
    craft(file, e3, 1);
    expect_refused(file, NULL, HB_E_VERIFY, "is a device node");
}

static void test_bomb(void)
{
    char file[PATH_MAX];
    archive_path(file, "bomb");
    /* 100 MB of zeros compress to a few KB */
    ent e[] = {{"small", AE_IFREG, NULL, NULL, 1000}, {"bomb", AE_IFREG, NULL, NULL, 100 << 20}};
    craft(file, e, 2);
    struct stat sb;
    CU_ASSERT_EQUAL(stat(file, &sb), 0);
    CU_ASSERT(sb.st_size < 1 << 20);
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    lim.max_expanded_bytes = 10 << 20;
    /* keep the file for the extraction check below */
    hb_archive_spec spec = {.backup_id = ID, .name = "config",
                            .compression = HB_COMPRESSION_ZSTD};
    char stage[PATH_MAX], bomb[PATH_MAX + 16];
    snprintf(stage, sizeof stage, "%s/stage", g_base);
    CU_ASSERT_EQUAL_FATAL(mkdir(stage, 0700), 0);
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(hb_archive_extract(file, &spec, DEK, stage, &lim, NULL, &err), HB_E_REFUSED,
                       &err, "past the cap");
    snprintf(bomb, sizeof bomb, "%s/bomb", stage);
    CU_ASSERT_NOT_EQUAL(stat(bomb, &sb), 0); /* refused before a byte was written */
    hbtest_rmtree(stage);
    expect_refused(file, &lim, HB_E_REFUSED, "past the cap of 10485760 bytes");
}

static void test_too_many_entries(void)
{
    char file[PATH_MAX], name[32];
    archive_path(file, "many");
    craft_begin(file);
    for (int i = 0; i < 101; i++) {
        snprintf(name, sizeof name, "f%d", i);
        ent e = {name, AE_IFREG, NULL, NULL, 0};
        craft_add(&e);
    }
    craft_end();
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    lim.max_entries = 100;
    expect_refused(file, &lim, HB_E_REFUSED, "more than 100 entries");
}

static void test_free_space_floor(void)
{
    char file[PATH_MAX];
    archive_path(file, "space");
    ent e[] = {{"f", AE_IFREG, NULL, NULL, 10}};
    craft(file, e, 1);
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    lim.min_free_percent = 100; /* no filesystem is that empty */
    hb_archive_spec spec = {.backup_id = ID, .name = "config",
                            .compression = HB_COMPRESSION_ZSTD};
    char stage[PATH_MAX];
    snprintf(stage, sizeof stage, "%s/stage", g_base);
    CU_ASSERT_EQUAL_FATAL(mkdir(stage, 0700), 0);
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_archive_walk(file, &spec, DEK, &lim, NULL, &err), &err); /* no disk */
    HBTEST_ASSERT_FAIL(hb_archive_extract(file, &spec, DEK, stage, &lim, NULL, &err), HB_E_REFUSED,
                       &err, "would leave less than 100% free");
    CU_ASSERT_EQUAL(count_entries(stage), 0);
    hbtest_rmtree(stage);
    unlink(file);
}

static void test_benign_crafted_archive_extracts(void)
{
    /* the checks do not refuse what a normal archive holds */
    char file[PATH_MAX];
    archive_path(file, "benign");
    ent e[] = {{"./", AE_IFDIR, NULL, NULL, 0},        {"./d", AE_IFDIR, NULL, NULL, 0},
               {"./d/f", AE_IFREG, NULL, NULL, 5},     {"d//g", AE_IFREG, NULL, NULL, 0},
               {"d/l", AE_IFLNK, "/etc/passwd", NULL, 0}, {"d/h", AE_IFREG, NULL, "./d/f", 0},
               {"up", AE_IFLNK, "../../..", NULL, 0}};
    craft(file, e, 7);
    hb_archive_spec spec = {.backup_id = ID, .name = "config",
                            .compression = HB_COMPRESSION_ZSTD};
    char stage[PATH_MAX], p[PATH_MAX + 16];
    snprintf(stage, sizeof stage, "%s/stage", g_base);
    CU_ASSERT_EQUAL_FATAL(mkdir(stage, 0700), 0);
    hb_err err = {0};
    hb_archive_info info;
    HBTEST_ASSERT_OK(hb_archive_walk(file, &spec, DEK, NULL, &info, &err), &err);
    CU_ASSERT_EQUAL(info.entries, 7);
    HBTEST_ASSERT_OK(hb_archive_extract(file, &spec, DEK, stage, NULL, &info, &err), &err);
    struct stat sb;
    snprintf(p, sizeof p, "%s/d/h", stage);
    CU_ASSERT(stat(p, &sb) == 0 && sb.st_nlink == 2 && sb.st_size == 5);
    snprintf(p, sizeof p, "%s/d/l", stage);
    CU_ASSERT(lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode));
    CU_ASSERT_EQUAL(count_entries(g_sentinel), 0);
    hbtest_rmtree(stage);
    unlink(file);
}

/* After every case: the file outside was never linked to. */
static void test_outside_file_never_linked(void)
{
    struct stat sb;
    CU_ASSERT(stat(g_outside, &sb) == 0 && sb.st_nlink == 1);
}

static int make_sentinel_and_outside_file(void)
{
    int n = snprintf(g_sentinel, sizeof g_sentinel, "%s/sentinel", g_base);
    if (n < 0 || (size_t)n >= sizeof g_sentinel || mkdir(g_sentinel, 0700) != 0)
        return 2;
    n = snprintf(g_outside, sizeof g_outside, "%s/outside-file", g_base);
    if (n < 0 || (size_t)n >= sizeof g_outside)
        return 2;
    int fd = open(g_outside, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 2;
    close(fd);
    return 0;
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"absolute path", test_absolute_path},
        {"'..' components", test_dotdot},
        {"file through a symlink", test_file_through_symlink},
        {"hard links out, absent, through a symlink", test_hard_links},
        {"device nodes and FIFOs", test_devices_and_fifos},
        {"decompression bomb: 100 MB entry, 10 MB cap", test_bomb},
        {"too many entries", test_too_many_entries},
        {"free space floor", test_free_space_floor},
        {"benign crafted archive extracts", test_benign_crafted_archive_extracts},
        {"the file outside was never linked to", test_outside_file_never_linked},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"extract safety", cases, .scratch = &g_base,
                                      .setup = make_sentinel_and_outside_file});
}
