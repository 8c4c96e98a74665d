/* common/ids.c, common/names.c, common/fileio.c: identifiers, names and the
 * hardened file helpers every layer shares. */
#include "hbtest.h"

#include "common/fileio.h"
#include "common/ids.h"
#include "common/names.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- ids ---- */

static void test_uuid_v4(void)
{
    hb_err err = {0};
    char a[37], b[37];
    HBTEST_ASSERT_OK(hb_uuid_v4(a, &err), &err);
    HBTEST_ASSERT_OK(hb_uuid_v4(b, &err), &err);
    CU_ASSERT_EQUAL(strlen(a), 36);
    CU_ASSERT(hb_uuid_ok(a));
    CU_ASSERT(hb_uuid_ok(b));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(a[14], '4');                      /* version 4 */
    CU_ASSERT_PTR_NOT_NULL(strchr("89ab", a[19]));    /* variant 10 */
}

static void test_uuid_ok_rejects(void)
{
    CU_ASSERT(hb_uuid_ok("0f8fad5b-d9cb-469f-a165-70867728950e"));
    CU_ASSERT_FALSE(hb_uuid_ok(NULL));
    CU_ASSERT_FALSE(hb_uuid_ok(""));
    CU_ASSERT_FALSE(hb_uuid_ok("0F8FAD5B-D9CB-469F-A165-70867728950E")); /* uppercase */
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5b-d9cb-169f-a165-70867728950e")); /* version 1 */
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5b-d9cb-469f-c165-70867728950e")); /* variant 110 */
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5bd9cb-469f-a165-70867728950e-"));
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5b-d9cb-469f-a165-70867728950"));
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5b-d9cb-469f-a165-70867728950ee"));
    CU_ASSERT_FALSE(hb_uuid_ok("0f8fad5g-d9cb-469f-a165-70867728950e"));
}

static void test_rfc3339(void)
{
    hb_err err = {0};
    char now[21];
    HBTEST_ASSERT_OK(hb_rfc3339_now(now, &err), &err);
    CU_ASSERT(hb_rfc3339_ok(now));
    CU_ASSERT_EQUAL(strlen(now), 20);
    CU_ASSERT(hb_rfc3339_ok("2026-11-29T19:00:00Z"));
    CU_ASSERT_FALSE(hb_rfc3339_ok(NULL));
    CU_ASSERT_FALSE(hb_rfc3339_ok("2026-11-29 19:00:00Z"));
    CU_ASSERT_FALSE(hb_rfc3339_ok("2026-11-29T19:00:00+01:00"));
    CU_ASSERT_FALSE(hb_rfc3339_ok("2026-11-29T19:00:00.5Z"));
    CU_ASSERT_FALSE(hb_rfc3339_ok("2026-11-29T19:00:00z"));
    CU_ASSERT_FALSE(hb_rfc3339_ok("2026-1a-29T19:00:00Z"));
}

/* ---- names ---- */

static void test_name_ok(void)
{
    CU_ASSERT(hb_name_ok("config"));
    CU_ASSERT(hb_name_ok("0"));
    CU_ASSERT(hb_name_ok("password-map-2"));
    char max[HB_NAME_MAX + 2];
    memset(max, 'a', HB_NAME_MAX);
    max[HB_NAME_MAX] = '\0';
    CU_ASSERT(hb_name_ok(max));
    max[HB_NAME_MAX] = 'a';
    max[HB_NAME_MAX + 1] = '\0';
    CU_ASSERT_FALSE(hb_name_ok(max));
    CU_ASSERT_FALSE(hb_name_ok(NULL));
    CU_ASSERT_FALSE(hb_name_ok(""));
    CU_ASSERT_FALSE(hb_name_ok("-config"));
    CU_ASSERT_FALSE(hb_name_ok("Config"));
    CU_ASSERT_FALSE(hb_name_ok("con fig"));
    CU_ASSERT_FALSE(hb_name_ok("../x"));
    CU_ASSERT_FALSE(hb_name_ok("con_fig"));
    CU_ASSERT_FALSE(hb_name_ok("caf\xc3\xa9"));
}

static void test_name_from_text(void)
{
    char out[64];
    hb_name_from_text("My Backup Cert", 'x', out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "my-backup-cert");
    hb_name_from_text("  --Backup, Second \xc3\xa9quipe!! ", 'x', out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "backup-second-quipe");
    CU_ASSERT(hb_name_ok(out));
    /* Nothing left: the fallback alone. */
    hb_name_from_text("\xc3\xa9\xc3\xa9 !!", 'k', out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "k");
    hb_name_from_text("", 'k', out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "k");
    /* At most 48 characters, and never past the buffer. */
    char long_cn[200];
    memset(long_cn, 'A', sizeof long_cn - 1);
    long_cn[sizeof long_cn - 1] = '\0';
    hb_name_from_text(long_cn, 'x', out, sizeof out);
    CU_ASSERT_EQUAL(strlen(out), 48);
    char small[4];
    hb_name_from_text("abcdef", 'x', small, sizeof small);
    CU_ASSERT_STRING_EQUAL(small, "abc");
    /* No trailing '-' left where the cut fell. */
    hb_name_from_text("ab cd", 'x', small, sizeof small);
    CU_ASSERT_STRING_EQUAL(small, "ab");
}

/* ---- file I/O ---- */

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    CU_ASSERT_FATAL(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void test_read_file(void)
{
    hb_err err = {0};
    char *dir = hbtest_tempdir("hb-fileio");
    char *path = join(dir, "f");
    unsigned char *data = NULL;
    size_t len = 0;
    HBTEST_ASSERT_OK(hb_write_file_atomic(path, "hello", 5, 0600, &err), &err);
    struct stat sb;
    CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    HBTEST_ASSERT_OK(hb_read_file(path, 5, &data, &len, &err), &err);
    CU_ASSERT_EQUAL(len, 5);
    CU_ASSERT_STRING_EQUAL((char *)data, "hello"); /* NUL-terminated */
    free(data);
    data = NULL;
    /* The cap is a hard limit. */
    HBTEST_ASSERT_FAIL(hb_read_file(path, 4, &data, &len, &err), HB_E_REFUSED, &err,
                       "is 5 bytes, more than the 4-byte limit");
    CU_ASSERT_PTR_NULL(data);
    /* Not a regular file, and absent. */
    HBTEST_ASSERT_FAIL(hb_read_file(dir, 1024, &data, &len, &err), HB_E_IO, &err,
                       "not a regular file");
    char *absent = join(dir, "absent");
    HBTEST_ASSERT_FAIL(hb_read_file(absent, 1024, &data, &len, &err), HB_E_NOT_FOUND, &err,
                       "no such file or directory");
    CU_ASSERT_PTR_NULL(data);
    /* Replacing leaves no temporary file behind. */
    HBTEST_ASSERT_OK(hb_write_file_atomic(path, "bye", 3, 0600, &err), &err);
    HBTEST_ASSERT_OK(hb_read_file(path, 1024, &data, &len, &err), &err);
    CU_ASSERT_STRING_EQUAL((char *)data, "bye");
    free(data);
    char *tmp = NULL;
    CU_ASSERT_FATAL(asprintf(&tmp, "%s.tmp-%ld", path, (long)getpid()) > 0);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    /* Into a directory that does not exist: refused, nothing made. */
    char *nodir = join(absent, "f");
    HBTEST_ASSERT_STATUS(hb_write_file_atomic(nodir, "x", 1, 0600, &err), HB_E_NOT_FOUND, &err);
    hbtest_rmtree(dir);
    free(nodir);
    free(tmp);
    free(absent);
    free(path);
    free(dir);
}

/* Every input is opened the one way (issue 11 class 4): a FIFO, a socket, a
 * device or a symbolic link is refused at once, naming what it is, and the
 * FIFO is never waited on (the test would hang). */
static void expect_not_regular(const char *path, const char *kind)
{
    hb_err err = {0};
    unsigned char *data = NULL;
    size_t len = 0;
    int fd = -1;
    char want[PATH_MAX + 128];
    if (strcmp(kind, "a symbolic link") == 0)
        snprintf(want, sizeof want, "cannot read '%s': it is a symbolic link, and hsmbak never "
                 "reads input through one; give the file it points to (readlink -f '%s')",
                 path, path);
    else
        snprintf(want, sizeof want, "cannot read '%s': it is %s, not a regular file; hsmbak "
                 "reads its input from regular files only", path, kind);
    HBTEST_ASSERT_STATUS(hb_read_file(path, 1024, &data, &len, &err), HB_E_IO, &err);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    CU_ASSERT_PTR_NULL(data);
    HBTEST_ASSERT_STATUS(hb_open_input(path, &fd, NULL, &err), HB_E_IO, &err);
    CU_ASSERT_EQUAL(fd, -1);
    char sum[65];
    HBTEST_ASSERT_STATUS(hb_sha256_fileat(AT_FDCWD, path, sum, &err), HB_E_IO, &err);
}

static void test_open_input(void)
{
    hb_err err = {0};
    char *dir = hbtest_tempdir("hb-input");
    char *fifo = join(dir, "fifo"), *link = join(dir, "link"), *sock = join(dir, "sock");
    char *file = join(dir, "file"), *dev = join(dir, "dev");
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    expect_not_regular(fifo, "a FIFO");
    HBTEST_ASSERT_OK(hb_write_file_atomic(file, "x", 1, 0600, &err), &err);
    CU_ASSERT_EQUAL_FATAL(symlink(file, link), 0);
    expect_not_regular(link, "a symbolic link");
    CU_ASSERT_EQUAL_FATAL(mknod(sock, S_IFSOCK | 0600, 0), 0);
    expect_not_regular(sock, "a socket");
    expect_not_regular("/dev/null", "a character device");
    if (mknod(dev, S_IFCHR | 0600, makedev(1, 5)) == 0)  /* /dev/zero's numbers; needs root */
        expect_not_regular(dev, "a character device");
    expect_not_regular(dir, "a directory");
    /* Control: a regular file opens, blocking again, with its fstat. */
    int fd = -1;
    struct stat sb;
    HBTEST_ASSERT_OK(hb_open_input(file, &fd, &sb, &err), &err);
    CU_ASSERT(fd >= 0 && S_ISREG(sb.st_mode) && sb.st_size == 1);
    CU_ASSERT((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    CU_ASSERT((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    close(fd);
    free(fifo);
    free(link);
    free(sock);
    free(file);
    free(dev);
    hbtest_rmtree(dir);
    free(dir);
}

static void test_path_limits(void)
{
    hb_err err = {0};
    char out[16];
    HBTEST_ASSERT_OK(hb_path_join(out, sizeof out, "/a", "b", &err), &err);
    CU_ASSERT_STRING_EQUAL(out, "/a/b");
    HBTEST_ASSERT_FAIL(hb_path_join(out, sizeof out, "/aaaaaaaa", "bbbbbbb", &err), HB_E_USAGE,
                       &err, "path too long");
    /* A path too long for the temporary name is refused before anything
     * is created or removed. */
    char *huge = malloc(PATH_MAX + 8);
    memset(huge, 'x', PATH_MAX + 7);
    huge[0] = '/';
    huge[PATH_MAX + 7] = '\0';
    HBTEST_ASSERT_FAIL(hb_write_file_atomic(huge, "x", 1, 0600, &err), HB_E_USAGE, &err,
                       "path too long");
    HBTEST_ASSERT_STATUS(hb_mkdirs(huge, 0700, &err), HB_E_USAGE, &err);
    free(huge);
}

static void test_mkdirs_and_sha256(void)
{
    hb_err err = {0};
    char *dir = hbtest_tempdir("hb-fileio");
    char *deep = join(dir, "a/b/c");
    HBTEST_ASSERT_OK(hb_mkdirs(deep, 0700, &err), &err);
    HBTEST_ASSERT_OK(hb_mkdirs(deep, 0700, &err), &err); /* again: fine */
    HBTEST_ASSERT_OK(hb_fsync_dir(deep, &err), &err);
    char *file = join(deep, "abc");
    HBTEST_ASSERT_OK(hb_write_file_atomic(file, "abc", 3, 0600, &err), &err);
    char hex[65];
    HBTEST_ASSERT_OK(hb_sha256_fileat(AT_FDCWD, file, hex, &err), &err);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* A file where a directory should be. */
    HBTEST_ASSERT_FAIL(hb_mkdirs(file, 0700, &err), HB_E_IO, &err, "exists and is not a directory");
    /* The hash never follows a final symlink. */
    char *link = join(deep, "link");
    CU_ASSERT_EQUAL_FATAL(symlink(file, link), 0);
    HBTEST_ASSERT_STATUS(hb_sha256_fileat(AT_FDCWD, link, hex, &err), HB_E_IO, &err);
    char *absent = join(deep, "absent");
    HBTEST_ASSERT_STATUS(hb_sha256_fileat(AT_FDCWD, absent, hex, &err), HB_E_NOT_FOUND, &err);
    hbtest_rmtree(dir);
    free(absent);
    free(link);
    free(file);
    free(deep);
    free(dir);
}

static void test_write_all_and_read_some(void)
{
    hb_err err = {0};
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    HBTEST_ASSERT_OK(hb_write_all(fds[1], "pipe!", 5, "the pipe", &err), &err);
    close(fds[1]);
    char buf[16];
    size_t got = 0, total = 0;
    do {
        HBTEST_ASSERT_OK(hb_read_some(fds[0], buf + total, sizeof buf - total, &got, "the pipe",
                                      &err), &err);
        total += got;
    } while (got > 0);
    CU_ASSERT_EQUAL(total, 5);
    CU_ASSERT_EQUAL(memcmp(buf, "pipe!", 5), 0);
    close(fds[0]);
    /* A closed descriptor names the file in the message. */
    HBTEST_ASSERT_FAIL(hb_read_some(fds[0], buf, sizeof buf, &got, "the pipe", &err), HB_E_IO, &err,
                       "cannot read 'the pipe'");
    HBTEST_ASSERT_FAIL(hb_write_all(fds[1], "x", 1, "the pipe", &err), HB_E_IO, &err,
                       "cannot write 'the pipe'");
}

static void test_full_disk_said_plainly(void)
{
    hb_err err = {0};
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* no /dev/full here: nothing to show */
    HBTEST_ASSERT_FAIL(hb_write_all(fd, "x", 1, "/dev/full", &err), HB_E_IO, &err,
                       "no space left to write '/dev/full'");
    close(fd);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"UUIDv4: fresh, version and variant", test_uuid_v4},
        {"UUIDv4 syntax refusals", test_uuid_ok_rejects},
        {"RFC 3339 now and shape refusals", test_rfc3339},
        {"names: the schema's rule", test_name_ok},
        {"names from typed text", test_name_from_text},
        {"read and atomic write: cap, type, absent, no leftovers", test_read_file},
        {"inputs: FIFO, socket, device, link, directory refused at once", test_open_input},
        {"paths too long are refused, not cut", test_path_limits},
        {"mkdirs, fsync_dir, sha256_fileat without symlinks", test_mkdirs_and_sha256},
        {"write_all and read_some", test_write_all_and_read_some},
        {"no space left is said plainly", test_full_disk_said_plainly},
        {NULL, NULL},
    };
    return hbtest_main("common", cases);
}
