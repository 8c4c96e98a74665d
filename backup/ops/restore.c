/* secure-restore: trust the manifest only after its signature verifies and
 * its signer is trusted; check version, recipient, and every file's size and
 * checksum; then unwrap each archive key on the token and decrypt, decompress
 * and walk (validate) or extract (restore) every entry. A restore builds the
 * new root in a staging directory and swaps it in with one rename, so the
 * system is the old tree or the new one, never a mix (DESIGN §5, §7). */
#include "hsmbak/backup.h"

#include "backup/custody/quorum.h"
#include "backup/system/swap.h"
#include "backup/system/tree.h"
#include "common/buf.h"
#include "common/fault.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "backup/format/archive.h"
#include "backup/system/system.h"
#include "common/x509.h"
#include "backup/ops/audit.h"
#include "backup/custody/objects.h"
#include "hsmbak/url.h"
#include "backup/custody/wrap.h"
#include "common/fail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The signer is trusted when it is a trusted-signer certificate object or the
 * one named with --signer; nothing else, however valid the signature. */
static hb_status check_trust(const hb_object_store *store, hb_provider *p, const char *signer,
                             X509 *cert, hb_restore_result *res, hb_err *err)
{
    char *subject = NULL;
    hb_status st = hb_x509_subject_rfc2253(cert, &subject, err);
    if (st != HB_OK)
        return st;
    snprintf(res->signer_subject, sizeof res->signer_subject, "%s", subject);
    free(subject);
    st = hb_x509_fingerprint(cert, res->signer_fingerprint, err);
    if (st != HB_OK)
        return st;
    if (signer != NULL) {
        X509 *named = NULL;
        st = hb_objects_load_certificate(store, p, signer, &named, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "--signer");
            return st;
        }
        bool same = X509_cmp(named, cert) == 0;
        X509_free(named);
        if (same)
            return HB_OK;
    }
    for (size_t i = 0; i < hb_objects_count(store); i++) {
        const hb_crypto_object *o = hb_objects_at(store, i);
        if (o->type != HB_OBJECT_CERTIFICATE || !o->trusted_signer || !o->enabled)
            continue;
        X509 *trusted = NULL;
        hb_err ignored;
        if (hb_objects_load_certificate(store, p, o->name, &trusted, &ignored) != HB_OK)
            continue;
        bool same = X509_cmp(trusted, cert) == 0;
        X509_free(trusted);
        if (same)
            return HB_OK;
    }
    return hb_fail(err, HB_E_REFUSED,
                   "the backup is signed by '%s' (SHA-256 fingerprint %s), which this system "
                   "does not trust: define its certificate and mark it with 'hsmbak crypto "
                   "trusted-signer CERT', or name it with --signer CERT", res->signer_subject,
                   res->signer_fingerprint);
}

static hb_status check_recipient(const hb_manifest *m, X509 *cert, const char *idcred,
                                 const hb_manifest_recipient **out, hb_err *err)
{
    *out = hb_manifest_find_recipient_cert(m, cert);
    if (*out != NULL)
        return HB_OK;
    char fp[65] = "", list[512] = "";
    hb_err ignored;
    if (hb_x509_fingerprint(cert, fp, &ignored) != HB_OK)
        fp[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < m->n_recipients && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s (%.16s...)", i ? ", " : "",
                         m->recipients[i].subject, m->recipients[i].fingerprint);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return hb_fail(err, HB_E_REFUSED, "the certificate of idcred '%s' (SHA-256 %.16s...) is "
                   "not a recipient of this backup, so its key cannot open it; the backup "
                   "can be opened by: %s", idcred, fp, list);
}

/* The directory holds exactly the manifest and the files it lists, each with
 * the listed size and checksum, each a resource of this system's profile. */
static hb_status check_files(const char *dir, const hb_manifest *m, const hb_profile *prof,
                             hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < m->n_files; i++) {
        const hb_manifest_file *f = &m->files[i];
        bool known = false;
        for (size_t r = 0; r < prof->n_resources; r++)
            known = known || strcmp(prof->resources[r].name, f->name) == 0;
        if (!known)
            return hb_fail(err, HB_E_VERIFY, "the backup holds '%s', which is not a resource of "
                           "profile '%s'", f->name, prof->name);
        const char *ext = hb_manifest_extension(f->compression);
        char expect[256];
        snprintf(expect, sizeof expect, "%s%s", f->name, ext ? ext : "");
        if (ext == NULL || strcmp(expect, f->filename) != 0)
            return hb_fail(err, HB_E_VERIFY, "manifest entry '%s' has file name '%s'; expected "
                           "'%s'", f->name, f->filename, expect);
        char path[PATH_MAX], sum[65];
        HB_TRY(hb_path_join(path, sizeof path, dir, f->filename, err));
        struct stat sb;
        if (lstat(path, &sb) != 0)
            return hb_fail(err, HB_E_VERIFY, "backup file '%s' is missing from '%s'",
                           f->filename, dir);
        if (!S_ISREG(sb.st_mode))
            return hb_fail(err, HB_E_VERIFY, "backup file '%s' is not a regular file",
                           f->filename);
        if ((uint64_t)sb.st_size != f->size)
            return hb_fail(err, HB_E_VERIFY, "backup file '%s' is %lld bytes but the manifest "
                           "says %llu (truncated or appended to)", f->filename,
                           (long long)sb.st_size, (unsigned long long)f->size);
        HB_TRY(hb_sha256_fileat(AT_FDCWD, path, sum, err));
        if (strcmp(sum, f->sha256) != 0)
            return hb_fail(err, HB_E_VERIFY, "backup file '%s' does not match its SHA-256 "
                           "checksum in the manifest (it was changed or replaced)", f->filename);
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        return hb_fail(err, HB_E_IO, "cannot list '%s': %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL && st == HB_OK) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, HB_MANIFEST_FILENAME) == 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < m->n_files && !listed; i++)
            listed = strcmp(m->files[i].filename, n) == 0;
        if (!listed)
            st = hb_fail(err, HB_E_VERIFY, "'%s' in the backup directory is not listed in the "
                         "manifest (a file was added, renamed or copied in)", n);
    }
    closedir(d);
cleanup:
    return st;
}

static const hb_profile_resource *resource_named(const hb_profile *prof, const char *name)
{
    for (size_t i = 0; i < prof->n_resources; i++)
        if (strcmp(prof->resources[i].name, name) == 0)
            return &prof->resources[i];
    return NULL;
}

/* Progress: a check passed ("check" event; the CLI lists them in --json). */
static void passed(const hb_restore_request *req, const char *check)
{
    if (req->progress)
        req->progress(req->progress_ctx, "check", check, 0);
}

/* hb_bytes_fn: encrypted bytes read, forwarded to the request's callback. */
static void forward_bytes(void *ctx, const char *name, uint64_t n)
{
    const hb_restore_request *req = ctx;
    req->progress(req->progress_ctx, "bytes", name, n);
}

/* Run the profile's post-restore command with a minimal environment: nothing
 * of ours (a PIN source variable, say) reaches it. */
static int run_post_restore(const char *root, const char *cmd)
{
    char env_root[PATH_MAX + 16];
    snprintf(env_root, sizeof env_root, "HSMBAK_ROOT=%s", root);
    char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", env_root, NULL};
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = -1;
    char cwd[PATH_MAX];
    bool have_cwd = getcwd(cwd, sizeof cwd) != NULL;
    if (chdir(root) == 0 && posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp) == 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (have_cwd && chdir(cwd) != 0)
        rc = rc == 0 ? -1 : rc;
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* What the operator does after a restore, for the CLI to print. */
static hb_status list_next_steps(const hb_profile *prof, const hb_manifest *m, hb_strlist *out,
                                 hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf line = HB_BUF_INIT(4096);
    size_t n = prof->n_reset + m->n_excluded + prof->n_next_steps;
    for (size_t i = 0; i < n; i++) {
        hb_buf_reset(&line);
        if (i < prof->n_reset)
            HB_TRY(hb_buf_adds(&line, prof->reset[i].message, err));
        else if (i < prof->n_reset + m->n_excluded)
            HB_TRY(hb_buf_addf(&line, err, "not restored: %s: %s",
                               m->excluded[i - prof->n_reset].name,
                               m->excluded[i - prof->n_reset].reason));
        else
            HB_TRY(hb_buf_adds(&line, prof->next_steps[i - prof->n_reset - m->n_excluded],
                               err));
        char **slot = HB_ARRAY_PUSH(out->items, out->n, n, err);
        if (slot == NULL) {
            st = err->status;
            goto cleanup;
        }
        *slot = hb_buf_take(&line);
        HB_ALLOC(*slot);
    }
cleanup:
    hb_buf_free(&line);
    return st;
}

hb_status hb_secure_restore(hb_system *sys, hb_provider *p, const hb_restore_request *req,
                            hb_restore_result *res, hb_err *err)
{
    hb_status st = HB_OK;
    hb_object_store *store = NULL;
    hb_manifest *m = NULL;
    X509 *signer_cert = NULL, *id_cert = NULL;
    EVP_PKEY *id_key = NULL;
    unsigned char *xml = NULL;
    size_t xml_len = 0;
    char src[PATH_MAX], path[PATH_MAX], staging[PATH_MAX] = "";
    const char **provided = NULL;
    uint8_t dek[HB_DEK_LEN];
    uint8_t group_key[HB_QUORUM_KEY_LEN];
    const hb_manifest_quorum *quorum = NULL;
    const hb_profile *prof = sys->profile;
    const char *const *names = req->n_idcreds ? req->idcreds : &req->idcred;
    size_t n_names = req->n_idcreds ? req->n_idcreds : 1;

    memset(res, 0, sizeof *res);
    res->post_restore_status = -1;
    HB_TRY(hb_system_clean_leftovers(sys->root, &res->leftovers_cleaned, err));
    HB_TRY(hb_url_resolve(sys->root, req->source, src, sizeof src, err));
    HB_TRY(hb_path_join(path, sizeof path, src, HB_MANIFEST_FILENAME, err));
    st = hb_read_file(path, HB_MANIFEST_DEFAULT_CAP, &xml, &xml_len, err);
    if (st == HB_E_NOT_FOUND) {
        st = hb_fail(err, HB_E_NOT_FOUND, "'%s' holds no %s: it is not a secure backup, or an "
                     "incomplete one", req->source, HB_MANIFEST_FILENAME);
        goto cleanup;
    }
    if (st != HB_OK)
        goto cleanup;
    HB_TRY(hb_manifest_read(xml, xml_len, NULL, &m, &signer_cert, err));
    passed(req, "signature");
    HB_TRY(hb_objects_load(sys->root, &store, err));
    HB_TRY(check_trust(store, p, req->signer, signer_cert, res, err));
    passed(req, "signer-trust");

    if (strcmp(m->version, sys->version) != 0) {
        st = hb_fail(err, HB_E_REFUSED, "the backup was made on version %s and this system "
                     "runs %s; a secure backup restores only onto exactly the same version",
                     m->version, sys->version);
        goto cleanup;
    }
    passed(req, "version");
    if (strcmp(m->profile, prof->name) != 0) {
        st = hb_fail(err, HB_E_REFUSED, "the backup is of a '%s' system and this one is '%s'",
                     m->profile, prof->name);
        goto cleanup;
    }
    /* Before any key is touched: a restore needs a factory-reset system. */
    passed(req, "profile");
    if (!req->validate_only) {
        HB_TRY(hb_system_check_factory_state(sys, err));
        passed(req, "factory-state");
    }

    /* One idcred that is a single recipient opens the backup; failing that,
     * a quorum's threshold of members among the idcreds (docs/custody.md). */
    const char *idcred = NULL;
    const hb_manifest_recipient *me = NULL;
    hb_oaep_hash hash = HB_OAEP_SHA256;
    HB_TRY(hb_restore_pick_idcred(store, p, m, names, n_names, &idcred, err));
    if (idcred == NULL && m->n_quorums > 0) {
        HB_TRY(hb_quorum_recover(p, store, m, names, n_names, req->insert_token,
                                 req->insert_ctx, group_key, &quorum, err));
        passed(req, "idcred");
        passed(req, "recipient");
    } else {
        idcred = idcred != NULL ? idcred : names[0];
        HB_TRY(hb_objects_load_idcred(store, p, idcred, &id_cert, &id_key, err));
        passed(req, "idcred");
        HB_TRY(check_recipient(m, id_cert, idcred, &me, err));
        passed(req, "recipient");
        HB_TRY(hb_oaep_hash_from_name(me->key_wrap, &hash, err));
    }
    HB_TRY(check_files(src, m, prof, err));
    passed(req, "files");
    if (req->progress) {
        uint64_t total = 0;
        for (size_t i = 0; i < m->n_files; i++) {
            total += m->files[i].size;
            req->progress(req->progress_ctx, "scheduled", m->files[i].name, 0);
        }
        req->progress(req->progress_ctx, "total", NULL, total);
    }

    hb_archive_limits limits;
    hb_archive_limits_default(&limits);
    if (req->max_size)
        limits.max_expanded_bytes = req->max_size;

    if (!req->validate_only) {
        HB_TRY(hb_staging_create(sys->root, m->id, staging, sizeof staging, err));
        provided = calloc(prof->n_resources + 1, sizeof *provided);
        if (provided == NULL) {
            st = hb_fail(err, HB_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        /* The backup provides every resource it holds, and the empty ones
         * (as empty directories); a skip-when-empty resource it does not
         * hold (sharedcert with only placeholders) stays as it is now. */
        size_t n_provided = 0;
        for (size_t i = 0; i < prof->n_resources; i++) {
            const hb_profile_resource *r = &prof->resources[i];
            if (r->skip_when_empty && hb_manifest_find_file(m, r->name) == NULL)
                continue;
            char dir[PATH_MAX];
            provided[n_provided++] = r->path;
            HB_TRY(hb_path_join(dir, sizeof dir, staging, r->path, err));
            HB_TRY(hb_mkdirs(dir, 0755, err));
        }
    }
    for (size_t i = 0; i < m->n_files; i++) {
        const hb_manifest_file *f = &m->files[i];
        const char *rid = quorum != NULL ? quorum->id : me->id;
        const hb_manifest_wrapped_key *wk = hb_manifest_find_wrapped_key(f, rid);
        if (wk == NULL) {
            st = hb_fail(err, HB_E_VERIFY, "the manifest has no key of '%s' for recipient %s",
                         f->filename, rid);
            goto cleanup;
        }
        if (req->progress)
            req->progress(req->progress_ctx, req->validate_only ? "validating" : "restoring",
                          f->name, f->size);
        if (quorum != NULL)
            st = hb_quorum_unwrap_dek(group_key, wk->data, wk->len, dek, err);
        else
            st = hb_unwrap_dek(p, id_key, hash, wk->data, wk->len, dek, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "unwrapping the key of '%s'", f->filename);
            goto cleanup;
        }
        hb_archive_spec spec = {.backup_id = m->id, .name = f->name};
        if (req->progress) {
            spec.on_bytes = forward_bytes;
            spec.on_bytes_ctx = (void *)req;
        }
        HB_TRY(hb_compression_from_name(f->compression, &spec.compression, err));
        hb_archive_info info;
        char file[PATH_MAX];
        HB_TRY(hb_path_join(file, sizeof file, src, f->filename, err));
        if (req->validate_only) {
            st = hb_archive_walk(file, &spec, dek, &limits, &info, err);
        } else {
            char dir[PATH_MAX];
            HB_TRY(hb_path_join(dir, sizeof dir, staging, resource_named(prof, f->name)->path,
                                err));
            st = hb_archive_extract(file, &spec, dek, dir, &limits, &info, err);
        }
        OPENSSL_cleanse(dek, sizeof dek);
        if (st != HB_OK)
            goto cleanup;
        if (!req->validate_only)
            hb_fault_point("restore-during-extract");
        res->entries += info.entries;
        res->expanded_bytes += info.expanded_bytes;
        if (req->progress)
            req->progress(req->progress_ctx, "complete", f->name, f->size);
    }
    if (!req->validate_only) {
        /* What a backup never holds comes over from the current root. */
        HB_TRY(hb_staging_carry_over(sys->root, staging, provided, err));
        for (size_t i = 0; i < prof->n_reset; i++) {
            char from[PATH_MAX], to[PATH_MAX];
            HB_TRY(hb_path_join(from, sizeof from, prof->factory_image, prof->reset[i].path, err));
            HB_TRY(hb_path_join(to, sizeof to, staging, prof->reset[i].path, err));
            unsigned char *data = NULL;
            size_t len = 0;
            HB_TRY(hb_read_file(from, 1u << 20, &data, &len, err));
            st = hb_write_file_atomic(to, data, len, 0600, err);
            free(data);
            if (st != HB_OK)
                goto cleanup;
        }
        hb_fault_point("restore-before-swap");
        HB_TRY(hb_staging_commit(sys->root, staging, err));
        staging[0] = '\0';
        passed(req, "swap");
        if (prof->post_restore_command != NULL)
            res->post_restore_status = run_post_restore(sys->root, prof->post_restore_command);
        HB_TRY(list_next_steps(prof, m, &res->next_steps, err));
    }
    res->manifest = m;
    m = NULL;
cleanup:
    hb_audit_backup_op(req->validate_only ? "validate" : "secure-restore", st, err,
                       req->source, m != NULL ? m : res->manifest, signer_cert, req->idcred);
    OPENSSL_cleanse(dek, sizeof dek);
    OPENSSL_cleanse(group_key, sizeof group_key);
    if (staging[0] != '\0')
        hb_tree_remove_quietly(staging);
    free(provided);
    free(xml);
    X509_free(signer_cert);
    X509_free(id_cert);
    EVP_PKEY_free(id_key);
    hb_manifest_free(m);
    hb_objects_free(store);
    return st;
}

void hb_restore_result_free(hb_restore_result *res)
{
    if (res != NULL) {
        hb_manifest_free(res->manifest);
        res->manifest = NULL;
        hb_strlist_free(&res->next_steps);
    }
}
