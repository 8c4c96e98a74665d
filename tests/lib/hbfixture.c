/* The sample appliance of the token suites (hbfixture.h). */
#include "hbfixture.h"

#include "hbtest.h"

#include "common/buf.h"
#include "common/fileio.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hb_status hbfix_put(const hbfix_system *s, const char *rel, const char *text, hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_path_join(path, sizeof path, s->root, rel, err);
    if (st == HB_OK)
        st = hb_write_file_atomic(path, text, strlen(text), 0600, err);
    return st;
}

/* A key pair on the token with a self-signed certificate in cert: and its
 * certificate and key objects, both called name. */
static hb_status keygen(hb_provider *p, const hbfix_system *s, const char *token_uri,
                        const char *name, const char *cn, hb_key_type type, hb_key_usage usage,
                        hb_oaep_hash *wrap, hb_err *err)
{
    hb_keygen_request req = {
        .root = s->root, .token_uri = token_uri, .dn = {.cn = cn}, .key_type = type,
        .usage = usage, .gen_sscert = true, .file_name = name, .gen_object = true,
    };
    hb_keygen_result res;
    hb_status st = hb_keygen(p, &req, &res, err);
    if (st == HB_OK && wrap != NULL)
        *wrap = res.key_wrap;
    return st;
}

/* Load the store, let edit change it, save it. */
static hb_status edit_objects(const hbfix_system *s,
                              hb_status (*edit)(hb_object_store *, const void *, hb_err *),
                              const void *arg, hb_err *err)
{
    hb_object_store *store = NULL;
    hb_status st = hb_objects_load(s->root, &store, err);
    if (st == HB_OK)
        st = edit(store, arg, err);
    if (st == HB_OK)
        st = hb_objects_save(store, err);
    hb_objects_free(store);
    return st;
}

static hb_status define_idcred(hb_object_store *store, const void *name, hb_err *err)
{
    char idcred[80];
    bool created;
    snprintf(idcred, sizeof idcred, "%scred", (const char *)name);
    return hb_objects_set_idcred(store, idcred, name, name, &created, err);
}

static hb_status make_signer(hb_object_store *store, const void *unused, hb_err *err)
{
    bool created;
    (void)unused;
    hb_status st = hb_objects_set_idcred(store, "signercred", "signer", "signer", &created, err);
    if (st == HB_OK)
        st = hb_objects_set_backup_signer(store, "signercred", err);
    if (st == HB_OK)
        st = hb_objects_set_trusted_signer(store, "signer", true, err);
    return st;
}

hb_status hbfix_add_recipient(hb_provider *p, const hbfix_system *s, const char *token_uri,
                              const char *name, hb_oaep_hash *wrap, hb_err *err)
{
    char cn[96];
    snprintf(cn, sizeof cn, "Recipient %s", name);
    hb_status st = keygen(p, s, token_uri, name, cn, HB_KEY_RSA2048, HB_USAGE_RECIPIENT, wrap,
                          err);
    if (st == HB_OK)
        st = edit_objects(s, define_idcred, name, err);
    return st;
}

hb_status hbfix_make_system(hb_provider *p, const char *token_uri, hbfix_system *s, hb_err *err)
{
    memset(s, 0, sizeof *s);
    s->dir = hbtest_tempdir("hbfix");
    static const char *const files[][2] = {
        {"config/mqa.cfg", "hostname qa\n"},
        {"cert/tls-privkey.pem", "not really a key, but secret all the same\n"},
        {"local/notes.txt", "operator notes\n"},
        {"password-map/password-map", "alias:0123456789abcdef\n"},
        {"mq-users/users", "app1:fedcba9876543210\n"},
        {"root/users/admin", "admin:$6$x$operator-changed\n"},
    };
    hb_status st = hb_format(s->root, sizeof s->root, "root", err, "%s/system", s->dir);
    if (st == HB_OK && token_uri != NULL)
        st = hb_format(s->token_uri, sizeof s->token_uri, "token URI", err, "%s", token_uri);
    else if (st == HB_OK) /* not th_token_uri(0): it asserts, and no test runs yet */
        st = hb_format(s->token_uri, sizeof s->token_uri, "token URI", err, "pkcs11:token=%s",
                       hbtest_env("HSMBAK_TEST_TOKEN"));
    if (st == HB_OK)
        st = hb_system_init(s->root, "appliance", NULL, err);
    for (size_t i = 0; st == HB_OK && i < sizeof files / sizeof files[0]; i++)
        st = hbfix_put(s, files[i][0], files[i][1], err);
    if (st == HB_OK)
        st = keygen(p, s, s->token_uri, "signer", "Backup Signer", HB_KEY_EC_P256,
                    HB_USAGE_SIGNER, NULL, err);
    if (st == HB_OK)
        st = edit_objects(s, make_signer, NULL, err);
    if (st == HB_OK)
        st = hbfix_add_recipient(p, s, s->token_uri, "rcpt", &s->rcpt_wrap, err);
    return st;
}

typedef struct trust_arg {
    const char *cert;
    bool trusted;
} trust_arg;

static hb_status set_trust(hb_object_store *store, const void *arg, hb_err *err)
{
    const trust_arg *t = arg;
    return hb_objects_set_trusted_signer(store, t->cert, t->trusted, err);
}

hb_status hbfix_trust(const hbfix_system *s, const char *cert, bool trusted, hb_err *err)
{
    trust_arg t = {cert, trusted};
    return edit_objects(s, set_trust, &t, err);
}

static hb_status read_cert(const hbfix_system *s, const char *name, char **out, size_t *len,
                           hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_format(path, sizeof path, "path", err, "%s/cert/%s-sscert.pem", s->root,
                             name);
    if (st == HB_OK)
        st = hb_read_file(path, 1u << 20, (unsigned char **)out, len, err);
    return st;
}

hb_status hbfix_save_certs(const hbfix_system *s, hbfix_certs *out, hb_err *err)
{
    memset(out, 0, sizeof *out);
    hb_status st = read_cert(s, "signer", &out->signer_pem, &out->signer_len, err);
    if (st == HB_OK)
        st = read_cert(s, "rcpt", &out->rcpt_pem, &out->rcpt_len, err);
    return st;
}

void hbfix_certs_free(hbfix_certs *c)
{
    free(c->signer_pem);
    free(c->rcpt_pem);
    memset(c, 0, sizeof *c);
}

typedef struct restore_arg {
    const hbfix_system *s;
} restore_arg;

static hb_status define_restore(hb_object_store *store, const void *arg, hb_err *err)
{
    const hbfix_system *s = ((const restore_arg *)arg)->s;
    char key_uri[256];
    bool created;
    snprintf(key_uri, sizeof key_uri, "%s;object=rcpt;type=private", s->token_uri);
    hb_status st = hb_objects_set_certificate(store, "rcpt", "cert:///rcpt-sscert.pem", false,
                                              false, s->rcpt_wrap, &created, err);
    if (st == HB_OK)
        st = hb_objects_set_key(store, "rcpt", key_uri, &created, err);
    if (st == HB_OK)
        st = hb_objects_set_idcred(store, "rcptcred", "rcpt", "rcpt", &created, err);
    if (st == HB_OK)
        st = hb_objects_set_certificate(store, "signer", "cert:///signer-sscert.pem", false,
                                        false, HB_OAEP_SHA256, &created, err);
    if (st == HB_OK)
        st = hb_objects_set_trusted_signer(store, "signer", true, err);
    return st;
}

hb_status hbfix_prepare_restore(const hbfix_system *s, const hbfix_certs *certs, hb_err *err)
{
    char path[PATH_MAX];
    restore_arg arg = {s};
    hb_status st = hb_path_join(path, sizeof path, s->root, "cert", err);
    if (st == HB_OK)
        st = hb_mkdirs(path, 0755, err);
    if (st == HB_OK)
        st = hbfix_put(s, "cert/signer-sscert.pem", certs->signer_pem, err);
    if (st == HB_OK)
        st = hbfix_put(s, "cert/rcpt-sscert.pem", certs->rcpt_pem, err);
    if (st == HB_OK)
        st = edit_objects(s, define_restore, &arg, err);
    return st;
}

void hbfix_free(hbfix_system *s)
{
    if (s->dir != NULL)
        hbtest_rmtree(s->dir);
    free(s->dir);
    s->dir = NULL;
}

hb_object_store *hbfix_objects(const char *root)
{
    hb_err err = {0};
    hb_object_store *s = NULL;
    HBTEST_ASSERT_OK(hb_objects_load(root, &s, &err), &err);
    return s;
}

void hbfix_objects_save(hb_object_store *s)
{
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_objects_save(s, &err), &err);
    hb_objects_free(s);
}

void hbfix_define_key(const char *root, const char *name, const char *uri)
{
    hb_err err = {0};
    bool created;
    hb_object_store *s = hbfix_objects(root);
    HBTEST_ASSERT_OK(hb_objects_set_key(s, name, uri, &created, &err), &err);
    hbfix_objects_save(s);
}

/* The appliance hbfix_appliance_main is running (hbtest_suite's hooks take
 * no argument). */
static hbfix_appliance *appliance;

static int appliance_setup(void)
{
    hbfix_appliance *a = appliance;
    hb_err err = {0};
    hb_status st = hb_format(a->root, sizeof a->root, "the appliance root", &err, "%s/root",
                             a->dir);
    if (st == HB_OK)
        st = hb_format(a->audit, sizeof a->audit, "the audit log", &err, "%s/audit.log",
                       a->dir);
    if (st == HB_OK) {
        setenv("HSMBAK_AUDIT_FILE", a->audit, 1);
        st = hb_system_init(a->root, "appliance", NULL, &err);
    }
    if (st != HB_OK) {
        fprintf(stderr, "appliance set-up: %s\n", err.msg);
        return 2;
    }
    return 0;
}

int hbfix_appliance_main(const char *suite, const hbtest_case *cases, hbfix_appliance *app)
{
    appliance = app;
    return hbtest_run(&(const hbtest_suite){.name = suite, .cases = cases, .no_terminal = true,
                                            .scratch = &app->dir, .prov = &app->prov,
                                            .setup = appliance_setup});
}
