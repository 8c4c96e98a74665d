/* backup/ops/backup.c through the library API, against a SoftHSM token:
 * what a backup writes and reports (files, modes, progress events, the
 * manifest), that it validates, dated destinations with rotation (keep),
 * and the refusals that leave nothing behind. */
#include "token_helpers.h"

#include "hbfixture.h"

#include "backup/system/tree.h"
#include "hsmbak/backup.h"
#include "hsmbak/system.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static hb_provider *prov;
static hbfix_system fx;

/* Progress events as seen by a caller; workers call in concurrently. */
typedef struct events {
    pthread_mutex_t lock;
    unsigned destination, scheduled, complete, total, archived;
    char first[32];
    char dest[PATH_MAX];
} events;

static void on_event(void *ctx, const char *event, const char *name, uint64_t bytes)
{
    events *e = ctx;
    (void)bytes;
    pthread_mutex_lock(&e->lock);
    if (e->first[0] == '\0')
        snprintf(e->first, sizeof e->first, "%s", event);
    if (strcmp(event, "destination") == 0) {
        e->destination++;
        snprintf(e->dest, sizeof e->dest, "%s", name);
    }
    e->scheduled += strcmp(event, "scheduled") == 0;
    e->complete += strcmp(event, "complete") == 0;
    e->total += strcmp(event, "total") == 0;
    e->archived += strcmp(event, "archived") == 0;
    pthread_mutex_unlock(&e->lock);
}

/* Back up to dest (keep, compression), with the status. */
static hb_status backup(const char *dest, unsigned keep, hb_compression c, events *ev,
                        hb_backup_result *res, hb_err *err)
{
    hb_system *sys = NULL;
    const char *recipients[] = {"rcpt"};
    hb_backup_request req = {.recipients = recipients, .n_recipients = 1, .dest = dest,
                             .keep = keep, .compression = c};
    if (ev != NULL) {
        req.progress = on_event;
        req.progress_ctx = ev;
    }
    HBTEST_ASSERT_OK(hb_system_open(fx.root, 0, &sys, err), err);
    hb_status st = hb_secure_backup(sys, prov, &req, res, err);
    hb_system_close(sys);
    return st;
}

static void validate(const char *dir)
{
    hb_system *sys = NULL;
    hb_restore_request req = {.idcred = "rcptcred", .source = dir, .validate_only = true};
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_system_open(fx.root, 0, &sys, &err), &err);
    HBTEST_ASSERT_OK(hb_secure_restore(sys, prov, &req, &res, &err), &err);
    hb_restore_result_free(&res);
    hb_system_close(sys);
}

static char *scratch(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fx.dir, name);
    return path;
}

/* Entries of dir whose name contains part. */
static unsigned count_named(const char *dir, const char *part)
{
    unsigned n = 0;
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, part) != NULL;
    closedir(d);
    return n;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CU_ASSERT_EQUAL_FATAL(lstat(path, &sb), 0);
    return sb.st_mode & 07777;
}

static void test_backup_writes_and_reports(void)
{
    hb_backup_result res;
    hb_err err = {0};
    events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s", scratch("b1"));
    HBTEST_ASSERT_OK(backup(dest, 0, HB_COMPRESSION_ZSTD, &ev, &res, &err), &err);
    CU_ASSERT_STRING_EQUAL(res.dest, dest);
    const hb_manifest *m = res.manifest;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* Every non-empty resource, in profile order; sharedcert is empty. */
    static const char *const names[] = {"root", "config", "cert", "local", "password-map",
                                        "mq-users"};
    CU_ASSERT_EQUAL_FATAL(hb_manifest_n_files(m), sizeof names / sizeof names[0]);
    for (size_t i = 0; i < hb_manifest_n_files(m); i++) {
        const hb_manifest_file *f = hb_manifest_file_at(m, i);
        char filename[64];
        snprintf(filename, sizeof filename, "%s.tzst", names[i]);
        CU_ASSERT_STRING_EQUAL(f->name, names[i]);
        CU_ASSERT_STRING_EQUAL(f->filename, filename);
        CU_ASSERT_EQUAL(mode_of(dest, f->filename), 0600);
        CU_ASSERT_EQUAL(f->n_keys, 1);
    }
    CU_ASSERT_EQUAL(mode_of(dest, "backupmanifest.xml"), 0600);
    CU_ASSERT_EQUAL(mode_of(fx.dir, "b1"), 0700);
    CU_ASSERT_EQUAL(hb_manifest_n_recipients(m), 1);
    CU_ASSERT_STRING_EQUAL(hb_manifest_recipient_at(m, 0)->subject, "CN=Recipient rcpt");
    CU_ASSERT_STRING_EQUAL(hb_manifest_recipient_at(m, 0)->key_wrap,
                           hb_oaep_hash_name(fx.rcpt_wrap));
    CU_ASSERT_EQUAL(hb_manifest_n_excluded(m), 1);
    CU_ASSERT_STRING_EQUAL(hb_manifest_version(m), "9.3.5.0");
    CU_ASSERT_STRING_EQUAL(hb_manifest_profile(m), "appliance");
    CU_ASSERT(res.expanded_bytes > 0);
    CU_ASSERT_EQUAL(res.rotation.kept, 0); /* no keep, no rotation */
    CU_ASSERT_EQUAL(count_named(fx.dir, "hsmbak-partial"), 0);
    /* The caller hears where it goes first, then every archive. */
    CU_ASSERT_STRING_EQUAL(ev.first, "destination");
    CU_ASSERT_EQUAL(ev.destination, 1);
    CU_ASSERT_STRING_EQUAL(ev.dest, dest);
    CU_ASSERT_EQUAL(ev.scheduled, hb_manifest_n_files(m));
    CU_ASSERT_EQUAL(ev.complete, hb_manifest_n_files(m));
    CU_ASSERT_EQUAL(ev.archived, hb_manifest_n_files(m));
    CU_ASSERT_EQUAL(ev.total, 1);
    hb_backup_result_free(&res);
    hb_backup_result_free(NULL);
    validate(dest);
}

static void test_compressions(void)
{
    static const struct {
        hb_compression c;
        const char *dir, *file;
    } cases[] = {
        {HB_COMPRESSION_GZIP, "b-gzip", "config.tgz"},
        {HB_COMPRESSION_NONE, "b-none", "config.tar"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_backup_result res;
        hb_err err = {0};
        char dest[PATH_MAX];
        snprintf(dest, sizeof dest, "%s", scratch(cases[i].dir));
        HBTEST_ASSERT_OK(backup(dest, 0, cases[i].c, NULL, &res, &err), &err);
        CU_ASSERT_EQUAL(mode_of(dest, cases[i].file), 0600);
        hb_backup_result_free(&res);
        validate(dest);
    }
}

/* keep: the newest valid backups stay, older valid ones go, anything else
 * that looks dated is reported and left alone. */
static void test_dated_destination_and_keep(void)
{
    hb_backup_result res;
    hb_err err = {0};
    char dir[PATH_MAX], pattern[PATH_MAX + 32], old[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s", scratch("dated"));
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    snprintf(pattern, sizeof pattern, "%s/backup-{date}", dir);
    /* Two older valid backups (copies of a real one) and an invalid one. */
    static const char *const valid[] = {"backup-20000102T000000Z", "backup-20000103T000000Z"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(old, sizeof old, "%s/%s", dir, valid[i]);
        HBTEST_ASSERT_OK(hb_tree_copy(scratch("b1"), old, false, &err), &err);
    }
    snprintf(old, sizeof old, "%s/backup-20000101T000000Z", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(old, 0700), 0);
    events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
    HBTEST_ASSERT_OK(backup(pattern, 2, HB_COMPRESSION_ZSTD, &ev, &res, &err), &err);
    /* The name is the UTC time, and the caller is told it. */
    const char *base = strrchr(res.dest, '/') + 1;
    CU_ASSERT_EQUAL(strlen(base), strlen("backup-20261129T190000Z"));
    CU_ASSERT_EQUAL(strncmp(base, "backup-2", 8), 0);
    CU_ASSERT_STRING_EQUAL(ev.dest, res.dest);
    CU_ASSERT_EQUAL(res.rotation.kept, 2);
    CU_ASSERT_EQUAL_FATAL(res.rotation.removed.n, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(res.rotation.removed.items[0], valid[0]));
    CU_ASSERT_EQUAL_FATAL(res.rotation.invalid.n, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(res.rotation.invalid.items[0], "backup-20000101T000000Z"));
    struct stat sb;
    snprintf(old, sizeof old, "%s/%s", dir, valid[0]);
    CU_ASSERT_NOT_EQUAL(stat(old, &sb), 0); /* removed */
    snprintf(old, sizeof old, "%s/%s", dir, valid[1]);
    CU_ASSERT_EQUAL(stat(old, &sb), 0); /* kept */
    snprintf(old, sizeof old, "%s/backup-20000101T000000Z", dir);
    CU_ASSERT_EQUAL(stat(old, &sb), 0); /* invalid: left alone */
    CU_ASSERT_EQUAL(count_named(dir, "backup-"), 3);
    validate(res.dest);
    hb_backup_result_free(&res);
}

/* Refused before anything is written: nothing is left behind. */
static void expect_refused(const char *dest, unsigned keep, hb_status want, const char *fragment)
{
    hb_backup_result res;
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(backup(dest, keep, HB_COMPRESSION_ZSTD, NULL, &res, &err), want, &err,
                       fragment);
    CU_ASSERT_PTR_NULL(res.manifest);
    CU_ASSERT_EQUAL(res.dest[0], '\0');
    hb_backup_result_free(&res);
    CU_ASSERT_EQUAL(count_named(fx.dir, "hsmbak-partial"), 0);
}

static void test_refusals(void)
{
    char dest[PATH_MAX + 32];
    hb_err err = {0};
    /* keep needs a dated destination; {date} once, in the last component. */
    snprintf(dest, sizeof dest, "%s", scratch("plain"));
    expect_refused(dest, 3, HB_E_USAGE, "--keep needs a dated destination");
    struct stat sb;
    CU_ASSERT_NOT_EQUAL(stat(dest, &sb), 0);
    snprintf(dest, sizeof dest, "%s/{date}/x-{date}", fx.dir);
    expect_refused(dest, 0, HB_E_USAGE, "once, in the last path component");
    /* A destination that holds something, or is a file. */
    snprintf(dest, sizeof dest, "%s", scratch("b1"));
    expect_refused(dest, 0, HB_E_REFUSED, "is not empty");
    snprintf(dest, sizeof dest, "%s/b1/backupmanifest.xml", fx.dir);
    expect_refused(dest, 0, HB_E_REFUSED, "exists and is not a directory");
    /* Inside a resource it backs up. */
    expect_refused("config:///nested", 0, HB_E_USAGE, "inside resource 'config'");
    /* A recipient this system does not know. */
    snprintf(dest, sizeof dest, "%s", scratch("never"));
    hb_system *sys = NULL;
    const char *nobody[] = {"nosuch"};
    hb_backup_request req = {.recipients = nobody, .n_recipients = 1, .dest = dest};
    hb_backup_result res;
    HBTEST_ASSERT_OK(hb_system_open(fx.root, 0, &sys, &err), &err);
    CU_ASSERT_NOT_EQUAL(hb_secure_backup(sys, prov, &req, &res, &err), HB_OK);
    HBTEST_ASSERT_MSG(&err, "nosuch");
    CU_ASSERT_PTR_NULL(res.manifest);
    hb_backup_result_free(&res);
    hb_system_close(sys);
    CU_ASSERT_NOT_EQUAL(stat(dest, &sb), 0);
}

static int make_system(void)
{
    hb_err err = {0};
    if (hbfix_make_system(prov, NULL, &fx, &err) == HB_OK)
        return 0;
    fprintf(stderr, "set-up: %s\n", err.msg);
    return 1;
}

static void free_system(void) { hbfix_free(&fx); }

int main(void)
{
    static const hbtest_case cases[] = {
        {"a backup: every non-empty resource, 0600 files in a 0700 directory, events",
         test_backup_writes_and_reports},
        {"gzip and no compression: .tgz and .tar archives that validate", test_compressions},
        {"{date} and keep: the newest valid backups kept, invalid ones left alone",
         test_dated_destination_and_keep},
        {"refusals leave nothing behind", test_refusals},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"backup", cases, .prov = &prov,
                                      .module = TH_SOFTHSM_MODULE, .setup = make_system,
                                      .teardown = free_system});
}
