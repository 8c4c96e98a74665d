/* backup/archive_write.c, archive_read.c, compression.c, pool.c: tar round
 * trips for every compression, info, compression mismatch, the pool. */
#include "hbtest.h"

#include "common/encode.h"
#include "common/fileio.h"
#include "backup/format/archive.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ID "123e4567-e89b-12d3-a456-426614174000"

static uint8_t DEK[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
static int g_xattrs; /* the test filesystem keeps user xattrs */

static void path_of(char *out, const char *dir, const char *rel)
{
    snprintf(out, PATH_MAX, "%s/%s", dir, rel);
}

static void write_file(const char *dir, const char *rel, const void *data, size_t len,
                       mode_t mode, time_t mtime)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
    close(fd);
    CU_ASSERT_EQUAL(chmod(p, mode), 0);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    CU_ASSERT_EQUAL(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void make_tree(const char *dir)
{
    char p[PATH_MAX], q[PATH_MAX];
    static uint8_t big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + i / 1000);
    path_of(p, dir, "etc");
    CU_ASSERT_EQUAL(mkdir(p, 0750), 0);
    path_of(p, dir, "etc/sub");
    CU_ASSERT_EQUAL(mkdir(p, 0700), 0);
    write_file(dir, "etc/hosts", "127.0.0.1 localhost\n", 20, 0644, 1700000000);
    write_file(dir, "etc/secret", "s3cret", 6, 0600, 1600000000);
    write_file(dir, "etc/sub/run.sh", "#!/bin/sh\n", 10, 0755, 1500000000);
    write_file(dir, "empty", "", 0, 0640, 1400000000);
    write_file(dir, "big.bin", big, sizeof big, 0644, 1650000000);
    /* a name longer than ustar's 100 bytes needs a pax header */
    write_file(dir, "a-very-long-file-name-that-needs-a-pax-extended-header-because-ustar-"
                    "stops-at-one-hundred-bytes.txt", "long", 4, 0644, 1650000000);
    path_of(p, dir, "etc/hosts");
    path_of(q, dir, "hosts.hard");
    CU_ASSERT_EQUAL(link(p, q), 0);
    path_of(p, dir, "link.rel");
    CU_ASSERT_EQUAL(symlink("etc/hosts", p), 0);
    path_of(p, dir, "link.abs"); /* may point anywhere; restored as a link */
    CU_ASSERT_EQUAL(symlink("/nonexistent/elsewhere", p), 0);
    /* sparse: stored whole, comes back with the same bytes */
    path_of(p, dir, "sparse");
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(pwrite(fd, "end", 3, 2 * 1024 * 1024) == 3);
    close(fd);
    path_of(p, dir, "etc/secret"); /* an xattr, where the filesystem has them */
    g_xattrs = setxattr(p, "user.hsmbak", "v1", 2, 0) == 0;
    path_of(p, dir, "etc"); /* directory times last: adding files changes them */
    struct timespec ts[2] = {{1300000000, 0}, {1300000000, 0}};
    CU_ASSERT_EQUAL(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void same_file(const char *a_dir, const char *b_dir, const char *rel)
{
    char a[PATH_MAX], b[PATH_MAX];
    struct stat sa, sb;
    path_of(a, a_dir, rel);
    path_of(b, b_dir, rel);
    CU_ASSERT_EQUAL_FATAL(lstat(a, &sa), 0);
    if (lstat(b, &sb) != 0) {
        fprintf(stderr, "  missing after extraction: %s\n", rel);
        CU_FAIL("entry missing");
        return;
    }
    CU_ASSERT_EQUAL(sa.st_mode, sb.st_mode);
    CU_ASSERT_EQUAL(sa.st_size, sb.st_size);
    if (!S_ISLNK(sa.st_mode))
        CU_ASSERT_EQUAL(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    if (S_ISLNK(sa.st_mode)) {
        char la[PATH_MAX] = {0}, lb[PATH_MAX] = {0};
        CU_ASSERT(readlink(a, la, sizeof la - 1) > 0);
        CU_ASSERT(readlink(b, lb, sizeof lb - 1) > 0);
        CU_ASSERT_STRING_EQUAL(la, lb);
    } else if (S_ISREG(sa.st_mode)) {
        unsigned char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        hb_err err = {0};
        HBTEST_ASSERT_OK(hb_read_file(a, 1 << 24, &da, &la, &err), &err);
        HBTEST_ASSERT_OK(hb_read_file(b, 1 << 24, &db, &lb, &err), &err);
        CU_ASSERT_EQUAL(la, lb);
        CU_ASSERT(la == lb && memcmp(da, db, la) == 0);
        free(da);
        free(db);
    }
}

static void round_trip(hb_compression comp, unsigned seg_log2)
{
    char *src = hbtest_tempdir("hb-src");
    char *out = hbtest_tempdir("hb-out");
    char *stage = hbtest_tempdir("hb-stage");
    char file[PATH_MAX];
    hb_err err = {0};
    make_tree(src);
    snprintf(file, sizeof file, "%s/config%s", out, hb_compression_extension(comp));
    hb_archive_spec spec = {.backup_id = ID, .name = "config", .compression = comp,
                            .seg_log2 = seg_log2};
    hb_archive_info ci = {0}, wi = {0}, xi = {0};
    HBTEST_ASSERT_OK(hb_archive_create(src, file, &spec, DEK, &ci, &err), &err);
    struct stat sb;
    CU_ASSERT_EQUAL(stat(file, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
    CU_ASSERT_EQUAL((uint64_t)sb.st_size, ci.file_size);
    unsigned char *data = NULL;
    size_t len = 0;
    char hex[65];
    HBTEST_ASSERT_OK(hb_read_file(file, 1 << 26, &data, &len, &err), &err);
    HBTEST_ASSERT_OK(hb_sha256_hex(data, len, hex, &err), &err);
    CU_ASSERT_STRING_EQUAL(hex, ci.sha256_hex);
    free(data);
    /* the root "." + 4 dirs/files under etc + empty, big, long, hard link,
     * 2 symlinks, sparse */
    CU_ASSERT_EQUAL(ci.entries, 13);
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    HBTEST_ASSERT_OK(hb_archive_walk(file, &spec, DEK, &lim, &wi, &err), &err);
    CU_ASSERT_EQUAL(wi.entries, ci.entries);
    CU_ASSERT_EQUAL(wi.expanded_bytes, ci.expanded_bytes);
    CU_ASSERT_STRING_EQUAL(wi.sha256_hex, ci.sha256_hex);
    HBTEST_ASSERT_OK(hb_archive_extract(file, &spec, DEK, stage, &lim, &xi, &err), &err);
    CU_ASSERT_EQUAL(xi.entries, ci.entries);
    const char *rels[] = {"etc", "etc/sub", "etc/hosts", "etc/secret", "etc/sub/run.sh",
                          "empty", "big.bin", "hosts.hard", "link.rel", "link.abs", "sparse",
                          "a-very-long-file-name-that-needs-a-pax-extended-header-because-"
                          "ustar-stops-at-one-hundred-bytes.txt"};
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++)
        same_file(src, stage, rels[i]);
    char a[PATH_MAX], b[PATH_MAX];
    struct stat s1, s2;
    if (g_xattrs) {
        char v[8] = {0};
        path_of(a, stage, "etc/secret");
        CU_ASSERT_EQUAL(getxattr(a, "user.hsmbak", v, sizeof v), 2);
        CU_ASSERT_STRING_EQUAL(v, "v1");
    }
    path_of(a, stage, "etc/hosts");
    path_of(b, stage, "hosts.hard");
    CU_ASSERT(stat(a, &s1) == 0 && stat(b, &s2) == 0 && s1.st_ino == s2.st_ino);
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    hbtest_rmtree(stage);
    free(src);
    free(out);
    free(stage);
}

static void test_round_trip_zstd(void) { round_trip(HB_COMPRESSION_ZSTD, 0); }
static void test_round_trip_gzip(void) { round_trip(HB_COMPRESSION_GZIP, 12); }
static void test_round_trip_none(void) { round_trip(HB_COMPRESSION_NONE, 20); }

static void test_compression_names(void)
{
    hb_compression c;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_compression_from_name("gzip", &c, &err), &err);
    CU_ASSERT_EQUAL(c, HB_COMPRESSION_GZIP);
    CU_ASSERT_STRING_EQUAL(hb_compression_extension(HB_COMPRESSION_ZSTD), ".tzst");
    CU_ASSERT_STRING_EQUAL(hb_compression_extension(HB_COMPRESSION_GZIP), ".tgz");
    CU_ASSERT_STRING_EQUAL(hb_compression_extension(HB_COMPRESSION_NONE), ".tar");
    HBTEST_ASSERT_FAIL(hb_compression_from_name("xz", &c, &err), HB_E_USAGE, &err,
                       "unknown compression 'xz'");
}

/* Shared set-up: one small archive. */
static char *small_archive(char **src_out, hb_archive_spec *spec, char *file)
{
    char *src = hbtest_tempdir("hb-src");
    char *out = hbtest_tempdir("hb-out");
    hb_err err = {0};
    write_file(src, "a", "aaa", 3, 0644, 1600000000);
    snprintf(file, PATH_MAX, "%s/config.tzst", out);
    *spec = (hb_archive_spec){.backup_id = ID, .name = "config",
                              .compression = HB_COMPRESSION_ZSTD};
    HBTEST_ASSERT_OK(hb_archive_create(src, file, spec, DEK, NULL, &err), &err);
    *src_out = src;
    return out;
}

static void test_compression_mismatch_and_wrong_name(void)
{
    char *src, file[PATH_MAX];
    hb_archive_spec spec;
    char *out = small_archive(&src, &spec, file);
    hb_err err = {0};
    spec.compression = HB_COMPRESSION_GZIP;
    HBTEST_ASSERT_FAIL(hb_archive_walk(file, &spec, DEK, NULL, NULL, &err), HB_E_VERIFY, &err,
                       "compressed with zstd, but the manifest says gzip");
    spec.compression = HB_COMPRESSION_NONE;
    HBTEST_ASSERT_STATUS(hb_archive_walk(file, &spec, DEK, NULL, NULL, &err), HB_E_VERIFY,
                         &err);
    spec.compression = HB_COMPRESSION_ZSTD;
    spec.name = "cert"; /* config.tzst presented as cert.tzst */
    HBTEST_ASSERT_FAIL(hb_archive_walk(file, &spec, DEK, NULL, NULL, &err), HB_E_VERIFY, &err,
                       "archive 'cert': key commitment mismatch");
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    free(src);
    free(out);
}

static void test_create_refuses_existing_and_bad_source(void)
{
    char *src, file[PATH_MAX];
    hb_archive_spec spec;
    char *out = small_archive(&src, &spec, file);
    hb_err err = {0};
    struct stat before, after;
    CU_ASSERT_EQUAL(stat(file, &before), 0);
    HBTEST_ASSERT_FAIL(hb_archive_create(src, file, &spec, DEK, NULL, &err), HB_E_REFUSED, &err,
                       "cannot create");
    CU_ASSERT_EQUAL(stat(file, &after), 0);
    CU_ASSERT_EQUAL(before.st_size, after.st_size); /* untouched */
    char other[PATH_MAX];
    snprintf(other, sizeof other, "%s/x.tzst", out);
    HBTEST_ASSERT_STATUS(hb_archive_create("/nonexistent-hb", other, &spec, DEK, NULL, &err),
                         HB_E_NOT_FOUND, &err);
    CU_ASSERT_NOT_EQUAL(access(other, F_OK), 0);
    /* a FIFO in the source is refused and the partial file removed */
    char fifo[PATH_MAX];
    path_of(fifo, src, "pipe");
    CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
    HBTEST_ASSERT_FAIL(hb_archive_create(src, other, &spec, DEK, NULL, &err), HB_E_REFUSED, &err,
                       "device or FIFO");
    CU_ASSERT_NOT_EQUAL(access(other, F_OK), 0);
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    free(src);
    free(out);
}

/* The file level: a cut, a flipped bit or an appended byte is refused by
 * walk and extract, even when the tar end marker is already behind us
 * (the rest of the stream is still authenticated). */
static void test_tampered_file_refused(void)
{
    char *src, file[PATH_MAX];
    hb_archive_spec spec;
    char *out = small_archive(&src, &spec, file);
    unsigned char *data = NULL;
    size_t len = 0;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_read_file(file, 1 << 20, &data, &len, &err), &err);
    struct { size_t cut; size_t flip; int append; const char *msg; } cases[] = {
        {len - 1, 0, 0, "fails authentication"},
        {len - 16, 0, 0, "fails authentication"},
        {40, 0, 0, "inside the 88-byte header"},
        {len, len - 20, 0, "segment 0 fails authentication"},
        {len, 0, 1, "bytes after the final segment"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bad[PATH_MAX + 8];
        snprintf(bad, sizeof bad, "%s.bad", file);
        int fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CU_ASSERT_FATAL(fd >= 0);
        if (cases[i].flip)
            data[cases[i].flip] ^= 0x04;
        CU_ASSERT(write(fd, data, cases[i].cut) == (ssize_t)cases[i].cut);
        if (cases[i].flip)
            data[cases[i].flip] ^= 0x04;
        if (cases[i].append)
            CU_ASSERT(write(fd, "x", 1) == 1);
        close(fd);
        HBTEST_ASSERT_FAIL(hb_archive_walk(bad, &spec, DEK, NULL, NULL, &err), HB_E_VERIFY, &err,
                           cases[i].msg);
        HBTEST_ASSERT_MSG(&err, "archive 'config'");
        char *stage = hbtest_tempdir("hb-stage");
        HBTEST_ASSERT_FAIL(hb_archive_extract(bad, &spec, DEK, stage, NULL, NULL, &err),
                           HB_E_VERIFY, &err, cases[i].msg);
        hbtest_rmtree(stage);
        free(stage);
        unlink(bad);
    }
    free(data);
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    free(src);
    free(out);
}

static void test_create_all(void)
{
    char *src = hbtest_tempdir("hb-src");
    char *out = hbtest_tempdir("hb-out");
    char paths[4][PATH_MAX], dirs[4][PATH_MAX];
    const char *names[4] = {"root", "config", "cert", "local"};
    hb_archive_job jobs[4];
    hb_err err = {0};
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 4; i++) {
        path_of(dirs[i], src, names[i]);
        CU_ASSERT_EQUAL(mkdir(dirs[i], 0700), 0);
        write_file(dirs[i], "f", names[i], strlen(names[i]), 0600, 1600000000);
        snprintf(paths[i], PATH_MAX, "%s/%s.tzst", out, names[i]);
        jobs[i].src_dir = dirs[i];
        jobs[i].out_path = paths[i];
        jobs[i].spec = (hb_archive_spec){.backup_id = ID, .name = names[i],
                                         .zstd_threads = 2};
        jobs[i].dek[0] = (uint8_t)i;
    }
    HBTEST_ASSERT_OK(hb_archive_create_all(jobs, 4, 0, &err), &err);
    for (int i = 0; i < 4; i++) {
        hb_archive_info wi;
        CU_ASSERT_EQUAL(jobs[i].info.entries, 2); /* "." and one file */
        HBTEST_ASSERT_OK(hb_archive_walk(paths[i], &jobs[i].spec, jobs[i].dek, NULL, &wi, &err),
                         &err);
        CU_ASSERT_STRING_EQUAL(wi.sha256_hex, jobs[i].info.sha256_hex);
        unlink(paths[i]);
    }
    /* one job fails: reported with its archive name */
    jobs[2].src_dir = "/nonexistent-hb";
    HBTEST_ASSERT_FAIL(hb_archive_create_all(jobs, 4, 2, &err), HB_E_NOT_FOUND, &err,
                       "archive 'cert'");
    HBTEST_ASSERT_OK(hb_archive_create_all(jobs, 0, 0, &err), &err);
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    free(src);
    free(out);
}

/* Hard links through the link map (link_map.c): 3,000 files (past its first
 * rehash) in directories three deep, each with a second name in another
 * deep directory and every tenth with a third; a file whose other name is
 * outside the tree; a symlink with two names. Each set comes back as one
 * inode, and the file linked from outside comes back whole. */
static void test_many_hard_links(void)
{
    char *src = hbtest_tempdir("hb-src");
    char *out = hbtest_tempdir("hb-out");
    char *stage = hbtest_tempdir("hb-stage");
    char *outside = hbtest_tempdir("hb-outside");
    char p[PATH_MAX], q[PATH_MAX], r[PATH_MAX], file[PATH_MAX];
    hb_err err = {0};
    enum { N = 3000 };
    for (int d = 0; d < 30; d++) {
        snprintf(p, sizeof p, "%s/a%02d", src, d);
        CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/a%02d/b", src, d);
        CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/a%02d/b/c", src, d);
        CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/z%02d", src, d);
        CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
    }
    for (int i = 0; i < N; i++) {
        char rel[64], data[32];
        snprintf(rel, sizeof rel, "a%02d/b/c/file%04d", i % 30, i);
        int n = snprintf(data, sizeof data, "content %d\n", i);
        write_file(src, rel, data, (size_t)n, 0644, 1600000000);
        snprintf(p, sizeof p, "%s/%s", src, rel);
        snprintf(q, sizeof q, "%s/z%02d/second%04d", src, (i + 7) % 30, i);
        CU_ASSERT_EQUAL_FATAL(link(p, q), 0);
        if (i % 10 == 0) {
            snprintf(q, sizeof q, "%s/third%04d", src, i);
            CU_ASSERT_EQUAL_FATAL(link(p, q), 0);
        }
    }
    write_file(outside, "twin", "from outside\n", 13, 0644, 1600000000);
    path_of(p, outside, "twin");
    path_of(q, src, "linked-from-outside");
    CU_ASSERT_EQUAL_FATAL(link(p, q), 0);
    path_of(p, src, "sym1");
    CU_ASSERT_EQUAL_FATAL(symlink("a00", p), 0);
    path_of(q, src, "sym2");
    CU_ASSERT_EQUAL_FATAL(link(p, q), 0); /* a symlink with two names */
    snprintf(file, sizeof file, "%s/local.tzst", out);
    hb_archive_spec spec = {.backup_id = ID, .name = "local", .compression = HB_COMPRESSION_ZSTD};
    hb_archive_info ci = {0}, xi = {0};
    HBTEST_ASSERT_OK(hb_archive_create(src, file, &spec, DEK, &ci, &err), &err);
    /* ".", 120 directories, 3,000 + 3,000 + 300 names, 1 from outside, 2 symlinks */
    CU_ASSERT_EQUAL(ci.entries, 1 + 120 + N + N + N / 10 + 1 + 2);
    hb_archive_limits lim;
    hb_archive_limits_default(&lim);
    HBTEST_ASSERT_OK(hb_archive_extract(file, &spec, DEK, stage, &lim, &xi, &err), &err);
    CU_ASSERT_EQUAL(xi.entries, ci.entries);
    /* the data is stored once per file, not once per name */
    CU_ASSERT(ci.expanded_bytes < (uint64_t)N * 14 + 13);
    int same = 0;
    for (int i = 0; i < N; i++) {
        struct stat s1, s2, s3;
        snprintf(p, sizeof p, "%s/a%02d/b/c/file%04d", stage, i % 30, i);
        snprintf(q, sizeof q, "%s/z%02d/second%04d", stage, (i + 7) % 30, i);
        snprintf(r, sizeof r, "%s/third%04d", stage, i);
        bool ok = lstat(p, &s1) == 0 && lstat(q, &s2) == 0 && S_ISREG(s1.st_mode) &&
                  s1.st_ino == s2.st_ino;
        if (i % 10 == 0)
            ok = ok && lstat(r, &s3) == 0 && s3.st_ino == s1.st_ino && s1.st_nlink == 3;
        same += ok;
    }
    CU_ASSERT_EQUAL(same, N);
    same_file(src, stage, "a07/b/c/file0007");
    same_file(src, stage, "z14/second0007");
    same_file(src, stage, "linked-from-outside");
    same_file(src, stage, "sym1");
    same_file(src, stage, "sym2");
    hbtest_rmtree(src);
    hbtest_rmtree(out);
    hbtest_rmtree(stage);
    hbtest_rmtree(outside);
    free(src);
    free(out);
    free(stage);
    free(outside);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"tar round trip, zstd", test_round_trip_zstd},
        {"tar round trip, gzip", test_round_trip_gzip},
        {"tar round trip, none", test_round_trip_none},
        {"compression names and extensions", test_compression_names},
        {"compression mismatch and renamed archive", test_compression_mismatch_and_wrong_name},
        {"create refuses existing file, bad source, FIFO", test_create_refuses_existing_and_bad_source},
        {"tampered file refused by walk and extract", test_tampered_file_refused},
        {"create_all in a pool", test_create_all},
        {"many hard links, deep paths, a link from outside", test_many_hard_links},
        {NULL, NULL},
    };
    return hbtest_main("archive", cases);
}
