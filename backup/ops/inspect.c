/* hsmbak inspect (include/hsmbak/inspect.h): the manifest of a backup,
 * verified and its signer trusted, read without a token:
 *
 *   open the manifest and verify its signature     backup_dir.c
 *   trust its signer                               trust.c (no provider: file
 *                                                  certificates only)
 *   look at each listed file: there, with its size backup_dir.c
 *
 * Nothing is written and nothing is locked: a backup directory appears
 * under its name only when complete (backup.c), and the object store is
 * replaced atomically, so reading either while another operation runs is
 * safe. No audit line either: nothing secret is touched. */
#include "hsmbak/inspect.h"

#include "backup/custody/objects.h"
#include "backup/ops/backup_dir.h"
#include "backup/ops/trust.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/x509.h"
#include "hsmbak/url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The signer certificate's subject, fingerprint and expiry into res. */
static hb_status describe_signer(X509 *signer, hb_inspect_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    struct tm tm;
    HB_TRY(hb_x509_subject_rfc2253(signer, &res->signer_subject, err));
    HB_TRY(hb_x509_fingerprint(signer, res->signer_fingerprint, err));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(signer), &tm) == 1 &&
        strftime(res->signer_not_after, sizeof res->signer_not_after, "%Y-%m-%dT%H:%M:%SZ",
                 &tm) == 0)
        res->signer_not_after[0] = '\0';
cleanup:
    return st;
}

/* A trusted-signer certificate object held on a token, which inspect
 * cannot read (it opens no token): its name, or NULL when there is none. */
static const char *token_trusted_signer(const hb_object_store *store)
{
    for (size_t i = 0; store != NULL && i < hb_objects_count(store); i++) {
        const hb_crypto_object *o = hb_objects_at(store, i);
        if (o->type == HB_OBJECT_CERTIFICATE && o->trusted_signer && o->enabled &&
            strncmp(o->file_name, "pkcs11:", 7) == 0)
            return o->name;
    }
    return NULL;
}

/* The --signer certificate file is the signer's. */
static hb_status signer_file_matches(const char *root, const char *url, X509 *signer,
                                     bool *same, hb_err *err)
{
    X509 *x = NULL;
    hb_status st = hb_objects_read_certificate_url(root, url, &x, err);
    if (st != HB_OK) {
        hb_err_prefix(err, "--signer");
        return st;
    }
    /* The rule a certificate object follows without ignore-expiration. */
    char what[PATH_MAX + 64];
    *same = X509_cmp(x, signer) == 0;
    if (*same)
        st = hb_format(what, sizeof what, "the --signer path", err,
                       "the backup's signer, the --signer certificate '%s',", url);
    if (*same && st == HB_OK)
        st = hb_x509_check_validity(x, time(NULL), what, err);
    X509_free(x);
    return st;
}

static hb_status untrusted(const hb_inspect_result *res, hb_err *err)
{
    return hb_fail(err, HB_E_REFUSED, "the backup is signed by '%s' (SHA-256 fingerprint %s), "
                   "which is not the --signer certificate, and no system root names the "
                   "signers it trusts: give --root or --signer", res->signer_subject,
                   res->signer_fingerprint);
}

/* Trusted as restore trusts it, but without a token (trust.h). */
static hb_status trust(const hb_inspect_request *req, X509 *signer,
                       const hb_inspect_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    const char *named = req->signer;
    bool same = false;
    if (named != NULL && strchr(named, '/') != NULL) {
        HB_TRY(signer_file_matches(req->root, named, signer, &same, err));
        if (same)
            goto cleanup;
        named = NULL;
    }
    if (req->root == NULL) {
        st = named != NULL ? hb_fail(err, HB_E_USAGE, "--signer '%s' names a certificate "
                                     "object: give the system root (--root)", named)
                           : untrusted(res, err);
        goto cleanup;
    }
    HB_TRY(hb_objects_load(req->root, &store, err));
    st = hb_trust_signer(store, NULL, named, signer, err);
    const char *on_token = token_trusted_signer(store);
    if (st == HB_E_REFUSED && on_token != NULL) {
        char msg[HB_MSG_MAX];
        memcpy(msg, err->msg, sizeof msg);
        st = hb_fail(err, HB_E_REFUSED, "%s (inspect opens no token, so trusted-signer '%s', "
                     "a token certificate, was not read: name a certificate file with "
                     "--signer)", msg, on_token);
    }
cleanup:
    hb_objects_free(store);
    return st;
}

/* Each listed file: there with its listed size, or what is wrong; in dir,
 * or through in for a remote backup. */
static hb_status look_at_files(const char *dir, hb_store *in, const hb_manifest *m,
                               hb_inspect_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    size_t n = hb_manifest_n_files(m);
    res->file_problems = calloc(n ? n : 1, sizeof *res->file_problems);
    HB_ALLOC(res->file_problems);
    for (size_t i = 0; i < n; i++) {
        hb_err why = {0};
        const hb_manifest_file *f = hb_manifest_file_at(m, i);
        if ((in != NULL ? hb_backup_store_file_present(in, f, &why)
                        : hb_backup_dir_file_present(dir, f, &why)) == HB_OK)
            continue;
        res->file_problems[i] = strdup(why.msg);
        HB_ALLOC(res->file_problems[i]);
    }
cleanup:
    return st;
}

static void free_problems(hb_inspect_result *res, size_t n)
{
    for (size_t i = 0; res->file_problems != NULL && i < n; i++)
        free(res->file_problems[i]);
    free(res->file_problems);
    res->file_problems = NULL;
}

hb_status hb_inspect(const hb_inspect_request *req, hb_inspect_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    char dir[PATH_MAX] = "";
    hb_manifest *m = NULL;
    X509 *signer = NULL;
    hb_store *in = NULL; /* a remote backup (sftp://) */
    hb_store_remote remote = {.ssh_identity = req->ssh_identity,
                              .ssh_known_hosts = req->ssh_known_hosts,
                              .s3 = req->s3};
    memset(res, 0, sizeof *res);
    HB_ENSURE(req->source != NULL && *req->source != '\0', HB_E_USAGE, "inspect needs SOURCE, "
              "the backup directory");
    if (hb_store_is_remote(req->source)) {
        HB_TRY(hb_store_open(req->source, req->source, &remote, &in, err));
        HB_TRY(hb_backup_store_manifest(in, req->source, &m, &signer, err));
    } else {
        HB_TRY(hb_url_resolve(req->root, req->source, dir, sizeof dir, err));
        HB_TRY(hb_backup_dir_manifest(dir, req->source, &m, &signer, err));
    }
    HB_TRY(describe_signer(signer, res, err));
    HB_TRY(trust(req, signer, res, err));
    HB_TRY(look_at_files(dir, in, m, res, err));
    res->manifest = m;
    m = NULL;
cleanup:
    if (m != NULL)
        free_problems(res, hb_manifest_n_files(m));
    hb_manifest_free(m);
    X509_free(signer);
    hb_store_free(in);
    return st;
}

void hb_inspect_result_free(hb_inspect_result *res)
{
    if (res == NULL)
        return;
    free_problems(res, res->manifest != NULL ? hb_manifest_n_files(res->manifest) : 0);
    hb_manifest_free(res->manifest);
    res->manifest = NULL;
    free(res->signer_subject);
    res->signer_subject = NULL;
}
