/* backup/storage/: the dispatch of store.c over the local backend (write,
 * publish, read back, stat, list, read whole), and the sftp:// URL checks
 * that need no server (tests/e2e/remote_sftp.sh has the server). */
#include "hbtest.h"

#include "backup/storage/storage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX];

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hb-storage-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static hb_status collect(void *ctx, const char *name, hb_err *err)
{
    (void)err;
    char *names = ctx;
    strcat(names, name);
    strcat(names, ";");
    return HB_OK;
}

static void test_local_round_trip(void)
{
    char dest[PATH_MAX + 16], names[256] = "";
    hb_err err = {0};
    hb_store *s = NULL;
    hb_store_writer *w = NULL;
    hb_store_reader *r = NULL;
    uint8_t buf[8], *data = NULL;
    size_t got = 0, len = 0;
    uint64_t size = 0;
    bool regular = false;
    struct stat sb;
    make_dir();
    snprintf(dest, sizeof dest, "%s/b1", dir);
    CU_ASSERT_FALSE(hb_store_is_remote(dest));
    HBTEST_ASSERT_OK(hb_store_open(dest, "b1", NULL, &s, &err), &err);
    HBTEST_ASSERT_OK(hb_store_begin(s, &err), &err);
    HBTEST_ASSERT_OK(hb_store_put(s, "a.tzst", &w, &err), &err);
    HBTEST_ASSERT_OK(hb_store_write(w, (const uint8_t *)"hello", 5, &err), &err);
    HBTEST_ASSERT_OK(hb_store_put_commit(w, &err), &err);
    CU_ASSERT_NOT_EQUAL(stat(dest, &sb), 0); /* not visible before finish */
    HBTEST_ASSERT_OK(hb_store_finish(s, &err), &err);
    CU_ASSERT_STRING_EQUAL(hb_store_location(s), dest);
    hb_store_free(s);
    s = NULL;

    HBTEST_ASSERT_OK(hb_store_open_local(dest, "b1", &s, &err), &err);
    HBTEST_ASSERT_OK(hb_store_get(s, "a.tzst", &r, &err), &err);
    HBTEST_ASSERT_OK(hb_store_read(r, buf, sizeof buf, &got, &err), &err);
    CU_ASSERT_EQUAL(got, 5);
    CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
    hb_store_reader_free(r);
    HBTEST_ASSERT_OK(hb_store_stat(s, "a.tzst", &size, &regular, &err), &err);
    CU_ASSERT_EQUAL(size, 5);
    CU_ASSERT_TRUE(regular);
    HBTEST_ASSERT_STATUS(hb_store_stat(s, "none", &size, &regular, &err), HB_E_NOT_FOUND, &err);
    HBTEST_ASSERT_OK(hb_store_read_file(s, "a.tzst", 5, &data, &len, &err), &err);
    CU_ASSERT_EQUAL(len, 5);
    CU_ASSERT_STRING_EQUAL((char *)data, "hello");
    free(data);
    data = NULL;
    HBTEST_ASSERT_FAIL(hb_store_read_file(s, "a.tzst", 4, &data, &len, &err), HB_E_REFUSED, &err,
                       "is larger than 4 bytes");
    HBTEST_ASSERT_STATUS(hb_store_read_file(s, "none", 4, &data, &len, &err), HB_E_NOT_FOUND,
                         &err);
    HBTEST_ASSERT_OK(hb_store_list(s, collect, names, &err), &err);
    CU_ASSERT_STRING_EQUAL(names, "a.tzst;");
    hb_store_free(s);
    hbtest_rmtree(dir);
}

/* An interrupted writer's files disappear with the store. */
static void test_local_unfinished_removed(void)
{
    char dest[PATH_MAX + 16];
    hb_err err = {0};
    hb_store *s = NULL;
    hb_store_writer *w = NULL;
    make_dir();
    snprintf(dest, sizeof dest, "%s/b2", dir);
    HBTEST_ASSERT_OK(hb_store_open(dest, "b2", NULL, &s, &err), &err);
    HBTEST_ASSERT_OK(hb_store_begin(s, &err), &err);
    HBTEST_ASSERT_OK(hb_store_put(s, "a.tzst", &w, &err), &err);
    HBTEST_ASSERT_OK(hb_store_write(w, (const uint8_t *)"x", 1, &err), &err);
    hb_store_put_abort(w);
    hb_store_free(s);
    CU_ASSERT_EQUAL(rmdir(dir), 0); /* empty: nothing left behind */
}

/* Refused before any connection is made. */
static void test_sftp_url_refusals(void)
{
    hb_err err = {0};
    hb_store *s = NULL;
    hb_store_remote none = {.ssh_identity = "/nonexistent/id", .ssh_known_hosts = "/dev/null"};
    CU_ASSERT_TRUE(hb_store_is_remote("sftp://h/x"));
    CU_ASSERT_FALSE(hb_store_is_remote("sftp:/h/x"));
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://host", NULL, &none, &s, &err), HB_E_USAGE, &err,
                       "has no path");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://host/", NULL, &none, &s, &err), HB_E_USAGE, &err,
                       "names no directory on the server");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://host:0/x", NULL, &none, &s, &err), HB_E_USAGE, &err,
                       "the port must be a number from 1 to 65535");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://host:22x/x", NULL, &none, &s, &err), HB_E_USAGE,
                       &err, "the port must be a number");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://@host/x", NULL, &none, &s, &err), HB_E_USAGE, &err,
                       "empty or too long user name");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://u:pw@host/x", NULL, &none, &s, &err), HB_E_USAGE,
                       &err, "a password in the URL is not accepted");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "pw@"));
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://[::1/x", NULL, &none, &s, &err), HB_E_USAGE, &err,
                       "'[' without ']'");
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://host/a/../b", NULL, &none, &s, &err), HB_E_USAGE,
                       &err, "'..' is not allowed");
    /* A well-formed URL gets as far as the identity file. */
    HBTEST_ASSERT_FAIL(hb_store_open("sftp://u@[::1]:2222/srv/b/", NULL, &none, &s, &err),
                       HB_E_NOT_FOUND, &err, "cannot open SSH identity file '/nonexistent/id'");
    CU_ASSERT_PTR_NULL(s);
}

/* Refused before any request is made: URL, endpoint, plain http, the
 * credentials file's mode and profile. */
static void test_s3_refusals(void)
{
    hb_err err = {0};
    hb_store *s = NULL;
    char tmp[] = "/tmp/hsmbak-s3-XXXXXX", cred[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
    CU_ASSERT_FATAL(snprintf(cred, sizeof cred, "%s/credentials", tmp) < (int)sizeof cred);
    FILE *f = fopen(cred, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("[default]\naws_access_key_id = AK\naws_secret_access_key = SECRETKEY\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(chmod(cred, 0600), 0);
    hb_store_remote o = {.s3 = {.endpoint_url = "https://127.0.0.1:1", .credentials_file = cred}};
    CU_ASSERT_TRUE(hb_store_is_remote("s3://b/x"));
    CU_ASSERT_FALSE(hb_store_is_remote("s3:/b/x"));
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "names no bucket and prefix");
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket//", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "names no backup in the bucket");
    HBTEST_ASSERT_FAIL(hb_store_open("s3://Bucket/x", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "a bucket name has only lowercase letters");
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/a//b", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "empty, '.' and '..' components are not allowed");
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/a b", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "the prefix may hold only");
    o.s3.endpoint_url = "http://127.0.0.1:1";
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/x", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "is a plain-http endpoint");
    o.s3.endpoint_url = "https://127.0.0.1:1/path";
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/x", NULL, &o, &s, &err), HB_E_USAGE, &err,
                       "is not an S3 endpoint URL");
    o.s3.endpoint_url = "https://127.0.0.1:1";
    o.s3.profile = "other";
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/x", NULL, &o, &s, &err), HB_E_AUTH, &err,
                       "has no profile [other]");
    o.s3.profile = NULL;
    CU_ASSERT_EQUAL(chmod(cred, 0640), 0);
    HBTEST_ASSERT_FAIL(hb_store_open("s3://bucket/x", NULL, &o, &s, &err), HB_E_AUTH, &err,
                       "is accessible by group or others (mode 0640)");
    CU_ASSERT_PTR_NULL(strstr(err.msg, "SECRETKEY"));
    CU_ASSERT_EQUAL(chmod(cred, 0600), 0);
    /* Well-formed: opened (no request is made before begin or get). */
    HBTEST_ASSERT_OK(hb_store_open("s3://bucket/a/b/", NULL, &o, &s, &err), &err);
    CU_ASSERT_STRING_EQUAL(hb_store_location(s), "s3://bucket/a/b/");
    hb_store_free(s);
    CU_ASSERT_EQUAL(unlink(cred), 0);
    CU_ASSERT_EQUAL(rmdir(tmp), 0);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"local: written, published, read back, stat, list, read whole", test_local_round_trip},
        {"local: an unfinished backup is removed", test_local_unfinished_removed},
        {"sftp:// URLs refused before connecting", test_sftp_url_refusals},
        {"s3:// URLs, endpoints and credentials refused before any request", test_s3_refusals},
        {NULL, NULL},
    };
    return hbtest_main("storage", cases);
}
