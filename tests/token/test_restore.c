/* backup/ops/restore.c through the library API, against a SoftHSM token:
 * validate and restore a backup made by hb_secure_backup, and the report of
 * checks each run returns, ok and refused (untrusted signer, tampered file,
 * damaged archive, wrong version, not a recipient, no manifest, not in
 * factory state); last, a factory reset and a restore that brings the tree
 * back. */
#include "token_helpers.h"

#include "hbfixture.h"

#include "backup/system/tree.h"
#include "hsmbak/backup.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static hb_provider *prov;
static hbfix_system fx;
static char backup_dir[PATH_MAX];  /* made once in main */
static hb_tree at_backup;          /* the root's resources when it was made */

/* What the backup carries, and so what a restore brings back: everything
 * but hsmbak's state, what is carried over, and what a restore resets. */
static const char *const not_restored[] = {".hsmbak", "temporary", "root/users/admin", NULL};

static hb_system *open_system(void)
{
    hb_system *sys = NULL;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_system_open(fx.root, 0, &sys, &err), &err);
    return sys;
}

/* Validate (or restore) source with idcred; the status, the result kept. */
static hb_status run(const char *idcred, const char *source, bool validate, const char *signer,
                     uint64_t max_size, hb_restore_result *res, hb_err *err)
{
    hb_system *sys = open_system();
    hb_restore_request req = {.idcred = idcred, .source = source, .validate_only = validate,
                              .signer = signer, .max_size = max_size};
    hb_status st = hb_secure_restore(sys, prov, &req, res, err);
    hb_system_close(sys);
    return st;
}

static const hb_check *find(const hb_restore_result *res, const char *name)
{
    for (size_t i = 0; i < res->checks.n; i++)
        if (strcmp(res->checks.checks[i].name, name) == 0)
            return &res->checks.checks[i];
    return NULL;
}

static hb_check_status status_of(const hb_restore_result *res, const char *name)
{
    const hb_check *c = find(res, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c->status;
}

/* Exactly one check failed, it is `name`, its message holds fragment, and
 * every check after it is not-run or skipped. */
static void assert_failed_at(const hb_restore_result *res, const char *name,
                             const char *fragment)
{
    size_t failed = 0, at = SIZE_MAX;
    for (size_t i = 0; i < res->checks.n; i++) {
        const hb_check *c = &res->checks.checks[i];
        if (c->status == HB_CHECK_FAILED) {
            failed++;
            at = i;
        }
    }
    CU_ASSERT_EQUAL_FATAL(failed, 1);
    const hb_check *c = &res->checks.checks[at];
    CU_ASSERT_STRING_EQUAL(c->name, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->message);
    if (strstr(c->message, fragment) == NULL)
        fprintf(stderr, "  check %s: message '%s' lacks '%s'\n", name, c->message, fragment);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->message, fragment));
    for (size_t i = 0; i < at; i++)
        CU_ASSERT(res->checks.checks[i].status == HB_CHECK_OK ||
                  res->checks.checks[i].status == HB_CHECK_SKIPPED);
    for (size_t i = at + 1; i < res->checks.n; i++)
        CU_ASSERT(res->checks.checks[i].status == HB_CHECK_NOT_RUN ||
                  res->checks.checks[i].status == HB_CHECK_SKIPPED);
}

static void list_resources(hb_tree *out)
{
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_tree_list(fx.root, not_restored, out, &err), &err);
}

static void assert_root_unchanged(void)
{
    hb_tree now = {0};
    hb_tree_change change;
    list_resources(&now);
    bool differs = hb_tree_diff(&at_backup, &now, &change);
    if (differs)
        fprintf(stderr, "  '%s' was %s\n", change.path, change.how);
    CU_ASSERT_FALSE(differs);
    hb_tree_free(&now);
}

/* A copy of the backup at dir, to damage. */
static void copy_backup(const char *dir)
{
    hb_err err = {0};
    hbtest_rmtree(dir);
    HBTEST_ASSERT_OK(hb_tree_copy(backup_dir, dir, false, &err), &err);
}

static void test_validate_reports_every_check(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_OK(run("rcptcred", backup_dir, true, NULL, 0, &res, &err), &err);
    /* The fixed checks in order, one archive check per file before swap. */
    static const char *const order[] = {"signature", "signer-trust", "version", "profile",
                                        "factory-state", "idcred", "recipient", "files",
                                        "rollback"};
    size_t n_files = hb_manifest_n_files(res.manifest);
    size_t n_fixed = sizeof order / sizeof order[0];
    CU_ASSERT_EQUAL_FATAL(res.checks.n, n_fixed + n_files + 1);
    for (size_t i = 0; i < n_fixed; i++)
        CU_ASSERT_STRING_EQUAL(res.checks.checks[i].name, order[i]);
    for (size_t i = 0; i < n_files; i++) {
        const hb_check *c = &res.checks.checks[n_fixed + i];
        CU_ASSERT_STRING_EQUAL(c->name, "archive");
        CU_ASSERT_STRING_EQUAL(c->archive, hb_manifest_file_at(res.manifest, i)->name);
        CU_ASSERT_EQUAL(c->status, HB_CHECK_OK);
    }
    CU_ASSERT_STRING_EQUAL(res.checks.checks[res.checks.n - 1].name, "swap");
    /* Validate leaves the system alone: factory state and swap are skipped. */
    for (size_t i = 0; i < res.checks.n; i++) {
        const hb_check *c = &res.checks.checks[i];
        bool system = strcmp(c->name, "factory-state") == 0 || strcmp(c->name, "swap") == 0;
        CU_ASSERT_EQUAL(c->status, system ? HB_CHECK_SKIPPED : HB_CHECK_OK);
        CU_ASSERT_PTR_NULL(c->message);
    }
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_SKIPPED), "skipped");
    CU_ASSERT_STRING_EQUAL(hb_check_status_name(HB_CHECK_NOT_RUN), "not-run");
    CU_ASSERT_STRING_EQUAL(res.signer_subject, "CN=Backup Signer");
    CU_ASSERT_EQUAL(strlen(res.signer_fingerprint), 64);
    CU_ASSERT(res.entries > 0);
    CU_ASSERT_EQUAL(res.next_steps.n, 0);
    CU_ASSERT_EQUAL(res.post_restore_status, -1);
    hb_restore_result_free(&res);
    hb_restore_result_free(NULL);
    assert_root_unchanged();
}

static void test_untrusted_signer(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hbfix_trust(&fx, "signer", false, &err), &err);
    HBTEST_ASSERT_FAIL(run("rcptcred", backup_dir, true, NULL, 0, &res, &err), HB_E_REFUSED, &err,
                       "which this system does not trust");
    CU_ASSERT_EQUAL(status_of(&res, "signature"), HB_CHECK_OK);
    assert_failed_at(&res, "signer-trust", "does not trust");
    CU_ASSERT_EQUAL(status_of(&res, "idcred"), HB_CHECK_NOT_RUN);
    CU_ASSERT_EQUAL(status_of(&res, "files"), HB_CHECK_NOT_RUN);
    CU_ASSERT_PTR_NULL(find(&res, "archive")); /* not known before the files check */
    CU_ASSERT_PTR_NULL(res.manifest);
    /* Who signed it is reported all the same. */
    CU_ASSERT_STRING_EQUAL(res.signer_subject, "CN=Backup Signer");
    hb_restore_result_free(&res);
    /* Named for this run with --signer, the same certificate is trusted. */
    HBTEST_ASSERT_OK(run("rcptcred", backup_dir, true, "signer", 0, &res, &err), &err);
    CU_ASSERT_EQUAL(status_of(&res, "signer-trust"), HB_CHECK_OK);
    hb_restore_result_free(&res);
    /* A --signer that is not a certificate object is an error of its own. */
    HBTEST_ASSERT_FAIL(run("rcptcred", backup_dir, true, "nosuch", 0, &res, &err), HB_E_NOT_FOUND,
                       &err, "--signer");
    assert_failed_at(&res, "signer-trust", "--signer");
    hb_restore_result_free(&res);
    HBTEST_ASSERT_OK(hbfix_trust(&fx, "signer", true, &err), &err);
}

static void test_tampered_file(void)
{
    char bad[PATH_MAX];
    hb_restore_result res;
    hb_err err = {0};
    snprintf(bad, sizeof bad, "%s/tampered", fx.dir);
    copy_backup(bad);
    char file[PATH_MAX + 64];
    snprintf(file, sizeof file, "%s/config.tzst", bad);
    int fd = open(file, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    HBTEST_ASSERT_FAIL(run("rcptcred", bad, true, NULL, 0, &res, &err), HB_E_VERIFY, &err,
                       "does not match its SHA-256 checksum");
    assert_failed_at(&res, "files", "config.tzst");
    CU_ASSERT_EQUAL(status_of(&res, "recipient"), HB_CHECK_OK);
    CU_ASSERT_EQUAL(status_of(&res, "swap"), HB_CHECK_SKIPPED);
    hb_restore_result_free(&res);
    /* A file added beside the listed ones is tampering too. */
    copy_backup(bad);
    snprintf(file, sizeof file, "%s/extra.tzst", bad);
    FILE *f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    HBTEST_ASSERT_STATUS(run("rcptcred", bad, true, NULL, 0, &res, &err), HB_E_VERIFY, &err);
    assert_failed_at(&res, "files", "is not listed in the manifest");
    hb_restore_result_free(&res);
    /* A missing one. */
    copy_backup(bad);
    snprintf(file, sizeof file, "%s/local.tzst", bad);
    CU_ASSERT_EQUAL(unlink(file), 0);
    HBTEST_ASSERT_STATUS(run("rcptcred", bad, true, NULL, 0, &res, &err), HB_E_VERIFY, &err);
    assert_failed_at(&res, "files", "is missing");
    hb_restore_result_free(&res);
    hbtest_rmtree(bad);
}

/* An archive that fails while it is read fails its own check; the archives
 * after it are listed, not run. */
static void test_archive_check_fails(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(run("rcptcred", backup_dir, true, NULL, 1, &res, &err), HB_E_REFUSED, &err,
                       "past the cap");
    assert_failed_at(&res, "archive", "past the cap");
    CU_ASSERT_EQUAL(status_of(&res, "files"), HB_CHECK_OK);
    size_t archives = 0;
    for (size_t i = 0; i < res.checks.n; i++)
        archives += strcmp(res.checks.checks[i].name, "archive") == 0;
    CU_ASSERT(archives >= 2);
    const hb_check *first = find(&res, "archive");
    CU_ASSERT_EQUAL(first->status, HB_CHECK_FAILED);
    CU_ASSERT_PTR_NOT_NULL(first->archive);
    hb_restore_result_free(&res);
}

static void test_wrong_version(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_OK(hbfix_put(&fx, "VERSION", "9.3.6.0\n", &err), &err);
    HBTEST_ASSERT_FAIL(run("rcptcred", backup_dir, true, NULL, 0, &res, &err), HB_E_REFUSED, &err,
                       "restores only onto exactly the same version");
    CU_ASSERT_EQUAL(status_of(&res, "signer-trust"), HB_CHECK_OK);
    assert_failed_at(&res, "version", "9.3.5.0");
    CU_ASSERT_EQUAL(status_of(&res, "profile"), HB_CHECK_NOT_RUN);
    CU_ASSERT_EQUAL(status_of(&res, "idcred"), HB_CHECK_NOT_RUN);
    hb_restore_result_free(&res);
    HBTEST_ASSERT_OK(hbfix_put(&fx, "VERSION", "9.3.5.0\n", &err), &err);
}

static void test_not_a_recipient(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(run("othercred", backup_dir, true, NULL, 0, &res, &err), HB_E_REFUSED, &err,
                       "is not a recipient of this backup");
    HBTEST_ASSERT_MSG(&err, "CN=Recipient rcpt");
    CU_ASSERT_EQUAL(status_of(&res, "idcred"), HB_CHECK_OK);
    assert_failed_at(&res, "recipient", "othercred");
    hb_restore_result_free(&res);
    /* An idcred that is not defined fails the idcred check. */
    HBTEST_ASSERT_STATUS(run("nosuchcred", backup_dir, true, NULL, 0, &res, &err),
                         HB_E_NOT_FOUND, &err);
    assert_failed_at(&res, "idcred", "nosuchcred");
    hb_restore_result_free(&res);
}

static void test_no_manifest(void)
{
    hb_restore_result res;
    hb_err err = {0};
    char empty[PATH_MAX];
    snprintf(empty, sizeof empty, "%s/empty", fx.dir);
    CU_ASSERT_EQUAL(mkdir(empty, 0700), 0);
    HBTEST_ASSERT_FAIL(run("rcptcred", empty, true, NULL, 0, &res, &err), HB_E_NOT_FOUND, &err,
                       "holds no backupmanifest.xml");
    assert_failed_at(&res, "signature", "not a secure backup");
    CU_ASSERT_PTR_NULL(res.signer_subject);
    hb_restore_result_free(&res);
    rmdir(empty);
}

/* A restore needs a factory-reset system; this one has the operator's
 * changes, and is left as it is. */
static void test_restore_refuses_changed_system(void)
{
    hb_restore_result res;
    hb_err err = {0};
    HBTEST_ASSERT_FAIL(run("rcptcred", backup_dir, false, NULL, 0, &res, &err), HB_E_REFUSED, &err,
                       "not in factory state");
    assert_failed_at(&res, "factory-state", "factory-reset");
    CU_ASSERT_EQUAL(status_of(&res, "swap"), HB_CHECK_NOT_RUN);
    hb_restore_result_free(&res);
    assert_root_unchanged();
}

static void test_factory_reset_and_restore(void)
{
    hb_restore_result res;
    hb_err err = {0};
    hbfix_certs certs;
    HBTEST_ASSERT_OK(hbfix_save_certs(&fx, &certs, &err), &err);
    hb_system *sys = open_system();
    HBTEST_ASSERT_OK(hb_system_factory_reset(sys, &err), &err);
    hb_system_close(sys);
    HBTEST_ASSERT_OK(hbfix_prepare_restore(&fx, &certs, &err), &err);
    hbfix_certs_free(&certs);
    HBTEST_ASSERT_OK(run("rcptcred", backup_dir, false, NULL, 0, &res, &err), &err);
    for (size_t i = 0; i < res.checks.n; i++)
        CU_ASSERT_EQUAL(res.checks.checks[i].status, HB_CHECK_OK);
    CU_ASSERT_EQUAL(status_of(&res, "factory-state"), HB_CHECK_OK);
    CU_ASSERT_EQUAL(status_of(&res, "swap"), HB_CHECK_OK);
    CU_ASSERT_EQUAL(res.post_restore_status, 0); /* the appliance profile runs `true` */
    CU_ASSERT_FATAL(res.next_steps.n > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(res.next_steps.items[0], "admin password"));
    hb_restore_result_free(&res);
    /* The tree is the one backed up, and the admin password the factory's. */
    assert_root_unchanged();
    char path[PATH_MAX + 64];
    struct stat sb;
    snprintf(path, sizeof path, "%s/root/users/admin", fx.root);
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    unsigned cleaned = 1;
    HBTEST_ASSERT_OK(hb_system_clean_leftovers(fx.root, &cleaned, &err), &err);
    CU_ASSERT_EQUAL(cleaned, 0); /* nothing left beside the root */
    /* A second restore onto the restored system is refused: not factory state. */
    HBTEST_ASSERT_STATUS(run("rcptcred", backup_dir, false, NULL, 0, &res, &err), HB_E_REFUSED,
                         &err);
    hb_restore_result_free(&res);
}

static int make_backup(void)
{
    hb_err err = {0};
    hb_system *sys = NULL;
    const char *recipients[] = {"rcpt"};
    hb_backup_request req = {.recipients = recipients, .n_recipients = 1,
                             .compression = HB_COMPRESSION_ZSTD};
    hb_backup_result res;
    /* "other" is defined, but not a recipient of the backup. */
    if (hbfix_make_system(prov, NULL, &fx, &err) != HB_OK ||
        hbfix_add_recipient(prov, &fx, fx.token_uri, "other", NULL, &err) != HB_OK)
        goto failed;
    snprintf(backup_dir, sizeof backup_dir, "%s/b1", fx.dir);
    req.dest = backup_dir;
    if (hb_system_open(fx.root, 0, &sys, &err) != HB_OK ||
        hb_secure_backup(sys, prov, &req, &res, &err) != HB_OK ||
        hb_tree_list(fx.root, not_restored, &at_backup, &err) != HB_OK)
        goto failed;
    hb_backup_result_free(&res);
    hb_system_close(sys);
    return 0;
failed:
    fprintf(stderr, "set-up: %s\n", err.msg);
    return 1;
}

static void free_backup(void)
{
    hb_tree_free(&at_backup);
    hbfix_free(&fx);
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"validate: every check in order, ok or skipped, the root untouched",
         test_validate_reports_every_check},
        {"untrusted signer: signer-trust failed, later checks not run; --signer trusts",
         test_untrusted_signer},
        {"a changed, added or missing file fails the files check", test_tampered_file},
        {"an archive past the size cap fails its own archive check", test_archive_check_fails},
        {"another version fails the version check", test_wrong_version},
        {"an idcred that is no recipient fails the recipient check", test_not_a_recipient},
        {"a directory without a manifest fails the signature check", test_no_manifest},
        {"restore onto a changed system fails factory-state and changes nothing",
         test_restore_refuses_changed_system},
        {"factory reset, then restore: every check ok, the tree back",
         test_factory_reset_and_restore},
        {NULL, NULL},
    };
    return hbtest_run(&(hbtest_suite){"restore", cases, .prov = &prov,
                                      .module = TH_SOFTHSM_MODULE, .setup = make_backup,
                                      .teardown = free_backup});
}
