/* hsmbak crypto certificate|key|idcred|backup-signer|trusted-signer|show|delete
 * (and keygen, in cmd_keygen.c): the appliance's config-crypto vocabulary.
 * The library changes the store (hb_crypto_*: load, change, save under the
 * system's lock); this file parses the arguments and prints the result. */
#include "cli.h"
#include "output.h"

#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Every change runs on the open system (its lock held while the library
 * loads, changes and saves the store). */
typedef hb_status (*store_edit_fn)(cli_ctx *ctx, hb_system *sys, int argc, char **argv);

static hb_status with_system(cli_ctx *ctx, store_edit_fn change, int argc, char **argv)
{
    hb_status st = HB_OK;
    hb_system *sys = NULL;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    st = change(ctx, sys, argc, argv);
cleanup:
    hb_system_close(sys);
    return st;
}

/* {"action": "created"|"modified"|"deleted", "type": T, "name": N}, and as
 * text "Creating certificate 'N'", "Deleted key 'N'", ... */
static void report_action(cli_ctx *ctx, const char *action, hb_object_type type,
                          const char *name)
{
    json_t *r = out_record(ctx);
    out_str(r, "action", action);
    out_str(r, "type", hb_object_type_name(type));
    out_str(r, "name", name);
    const char *verb = strcmp(action, "created") == 0    ? "Creating"
                       : strcmp(action, "modified") == 0 ? "Modifying"
                                                         : "Deleted";
    const char *what = out_get_str(r, "type");
    if (type == HB_OBJECT_IDCRED && verb[0] != 'D')
        what = "Identification Credentials"; /* the appliance's words */
    cli_say(ctx, "%s %s '%s'", verb, what, out_get_str(r, "name"));
}

static void report_defined(cli_ctx *ctx, bool created, hb_object_type type, const char *name)
{
    report_action(ctx, created ? "created" : "modified", type, name);
}

static const char certificate_usage[] =
    "usage: hsmbak crypto certificate NAME URL "
    "[--ignore-expiration] [--disable] [--key-wrap rsa-oaep-sha256|rsa-oaep-sha1]";

static hb_status edit_certificate(cli_ctx *ctx, hb_system *sys, int argc, char **argv)
{
    static const struct option opts[] = {
        {"ignore-expiration", no_argument, NULL, 'i'},
        {"disable", no_argument, NULL, 'd'},
        {"key-wrap", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    bool ignore = false, disable = false, created = false;
    hb_oaep_hash wrap = HB_OAEP_SHA256;
    hb_status st = HB_OK;
    int c;
    optind = 1;
    while (st == HB_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'i') ignore = true;
        else if (c == 'd') disable = true;
        else if (c == 'w') st = hb_oaep_hash_from_name(optarg, &wrap, &ctx->err);
        else st = CLI_USAGE_ERROR(ctx, "%s", certificate_usage);
    }
    if (st == HB_OK && argc - optind != 2)
        st = CLI_USAGE_ERROR(ctx, "%s", certificate_usage);
    if (st == HB_OK)
        st = hb_crypto_define_certificate(sys, argv[optind], argv[optind + 1], ignore, disable,
                                          wrap, &created, &ctx->err);
    if (st == HB_OK)
        report_defined(ctx, created, HB_OBJECT_CERTIFICATE, argv[optind]);
    return st;
}

/* crypto key NAME URI, crypto idcred NAME KEY CERT: each stands only when
 * it is up now, which the library checks on the token. */
static hb_status edit_key_or_idcred(cli_ctx *ctx, hb_system *sys, int argc, char **argv)
{
    bool key = strcmp(argv[0], "key") == 0, created = false;
    hb_provider *p = NULL;
    if (argc != (key ? 3 : 4))
        return CLI_USAGE_ERROR(ctx, "%s", key ? "usage: hsmbak crypto key NAME PKCS11-URI"
                                              : "usage: hsmbak crypto idcred NAME KEY CERT");
    hb_status st = cli_provider(ctx, &p);
    if (st == HB_OK && key)
        st = hb_crypto_define_key(sys, p, argv[1], argv[2], &created, &ctx->err);
    else if (st == HB_OK)
        st = hb_crypto_define_idcred(sys, p, argv[1], argv[2], argv[3], &created, &ctx->err);
    if (st == HB_OK)
        report_defined(ctx, created, key ? HB_OBJECT_KEY : HB_OBJECT_IDCRED, argv[1]);
    return st;
}

static hb_status edit_backup_signer(cli_ctx *ctx, hb_system *sys, int argc, char **argv)
{
    if (argc != 2)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto backup-signer IDCRED");
    hb_status st = hb_crypto_set_backup_signer(sys, argv[1], &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "backup_signer", argv[1]);
    cli_say(ctx, "Backups are signed with idcred '%s'", out_get_str(r, "backup_signer"));
    return HB_OK;
}

static hb_status edit_trusted_signer(cli_ctx *ctx, hb_system *sys, int argc, char **argv)
{
    bool remove = argc == 3 && strcmp(argv[2], "--remove") == 0;
    if (argc != 2 && !remove)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto trusted-signer CERT [--remove]");
    hb_status st = hb_crypto_set_trusted_signer(sys, argv[1], !remove, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "certificate", argv[1]);
    out_bool(r, "trusted_signer", !remove);
    cli_say(ctx, "Certificate '%s' is %s trusted to sign backups", out_get_str(r, "certificate"),
            out_get_bool(r, "trusted_signer") ? "now" : "no longer");
    return HB_OK;
}

static hb_status edit_delete(cli_ctx *ctx, hb_system *sys, int argc, char **argv)
{
    if (argc != 3)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto delete certificate|key|idcred NAME");
    hb_object_type t;
    hb_status st = hb_object_type_from_name(argv[1], &t, &ctx->err);
    if (st == HB_OK)
        st = hb_crypto_delete(sys, t, argv[2], &ctx->err);
    if (st == HB_OK)
        report_action(ctx, "deleted", t, argv[2]);
    return st;
}

/* ---- show ------------------------------------------------------------------ */

static const char *up_down(bool up) { return up ? "up" : "down"; }

/* The live status of an object an idcred refers to ("down" when missing). */
static const char *part_status(const hb_object_store *s, hb_provider *p, hb_object_type type,
                               const char *name)
{
    const hb_crypto_object *o = hb_objects_find(s, type, name);
    hb_object_status st = {0};
    if (o != NULL)
        hb_objects_status(s, p, o, &st);
    return up_down(o != NULL && st.up);
}

/* One object with its live status, as docs/json.md shows it. */
static void describe_object(json_t *j, const hb_object_store *s, hb_provider *p,
                            const hb_crypto_object *o)
{
    hb_object_status status;
    hb_objects_status(s, p, o, &status);
    out_str(j, "type", hb_object_type_name(o->type));
    out_str(j, "name", o->name);
    out_str(j, "status", up_down(status.up));
    if (!status.up)
        out_str(j, "reason", status.reason);
    out_str(j, "admin_state", o->enabled ? "enabled" : "disabled");
    switch (o->type) {
    case HB_OBJECT_CERTIFICATE:
        out_str(j, "file_name", o->file_name);
        out_bool(j, "ignore_expiration", o->ignore_expiration);
        out_bool(j, "trusted_signer", o->trusted_signer);
        out_str(j, "key_wrap", hb_oaep_hash_name(o->key_wrap));
        break;
    case HB_OBJECT_KEY:
        out_str(j, "uri", o->uri);
        break;
    case HB_OBJECT_IDCRED: {
        out_str(j, "key", o->key);
        out_str(j, "key_status", part_status(s, p, HB_OBJECT_KEY, o->key));
        out_str(j, "certificate", o->certificate);
        out_str(j, "certificate_status", part_status(s, p, HB_OBJECT_CERTIFICATE,
                                                     o->certificate));
        const char *signer = hb_objects_backup_signer(s);
        out_bool(j, "backup_signer", signer && strcmp(signer, o->name) == 0);
        break;
    }
    }
}

/* The text of one described object:
 *
 *   idcred: signercred [up]
 *   -----------------------
 *    admin-state enabled
 *    key signer [up]
 *    ...
 *    status: REASON          (when down)
 *
 * Every field after the title is one line, "name value", booleans on/off;
 * a field F with a sibling F_status shows it in brackets. */
static void print_object(const json_t *j)
{
    static const char *const title[] = {"type", "name", "status", "reason"};
    int n = printf("\n%s: %s [%s]\n", out_get_str(j, "type"), out_get_str(j, "name"),
                   out_get_str(j, "status"));
    for (int i = 2; i < n; i++)
        putchar('-');
    putchar('\n');
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        bool skip = false;
        for (size_t i = 0; i < sizeof title / sizeof title[0]; i++)
            skip = skip || strcmp(key, title[i]) == 0;
        size_t len = strlen(key);
        if (skip || (len > 7 && strcmp(key + len - 7, "_status") == 0))
            continue;
        char label[64], status_key[80];
        printf(" %s %s", out_key_label(key, '-', label, sizeof label),
               json_is_boolean(v) ? (json_is_true(v) ? "on" : "off") : json_string_value(v));
        if (snprintf(status_key, sizeof status_key, "%s_status", key) < (int)sizeof status_key &&
            out_get_str(j, status_key) != NULL)
            printf(" [%s]", out_get_str(j, status_key));
        putchar('\n');
    }
    if (out_get_str(j, "reason") != NULL)
        printf(" status: %s\n", out_get_str(j, "reason"));
}

static hb_status show(cli_ctx *ctx, int argc, char **argv)
{
    hb_status st = HB_OK;
    hb_err *err = &ctx->err;
    hb_object_store *s = NULL;
    hb_provider *p = NULL;
    const char *root;
    bool typed = false, found = false;
    hb_object_type type = HB_OBJECT_CERTIFICATE;
    const char *name = NULL;
    /* --names: one name a line, for shell completion (no token is opened). */
    bool names_only = argc >= 2 && strcmp(argv[argc - 1], "--names") == 0;
    if (names_only)
        argc--;
    HB_ENSURE(argc <= 3, HB_E_USAGE, "usage: hsmbak crypto show [certificate|key|idcred] [NAME]");
    if (argc >= 2) {
        HB_TRY(hb_object_type_from_name(argv[1], &type, err));
        typed = true;
    }
    if (argc == 3)
        name = argv[2];
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_objects_load(root, &s, err));
    /* Status is live: without a token module the keys show as not checked. */
    if (!names_only && cli_provider(ctx, &p) != HB_OK)
        p = NULL;
    json_t *list = out_array(out_record(ctx), "objects");
    for (size_t i = 0; i < hb_objects_count(s); i++) {
        const hb_crypto_object *o = hb_objects_at(s, i);
        if ((typed && o->type != type) || (name && strcmp(o->name, name) != 0))
            continue;
        found = true;
        if (names_only) {
            printf("%s\n", o->name);
            continue;
        }
        json_t *j = out_push_object(list);
        describe_object(j, s, p, o);
        if (!ctx->json)
            print_object(j); /* a listing is the data asked for: --quiet keeps it */
    }
    HB_ENSURE(name == NULL || found, HB_E_NOT_FOUND, "no %s named '%s'", argv[1], name);
    if (!found && !names_only && !ctx->json)
        printf("no crypto objects defined\n");
cleanup:
    hb_objects_free(s);
    return st;
}

hb_status cmd_crypto(cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        store_edit_fn fn;
    } edits[] = {
        {"certificate", edit_certificate}, {"key", edit_key_or_idcred},
        {"idcred", edit_key_or_idcred},    {"backup-signer", edit_backup_signer},
        {"trusted-signer", edit_trusted_signer}, {"delete", edit_delete},
    };
    if (argc < 2)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto keygen|certificate|key|idcred|"
                                    "backup-signer|trusted-signer|show|delete ...");
    if (strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return show(ctx, argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        if (strcmp(argv[1], edits[i].name) == 0)
            return with_system(ctx, edits[i].fn, argc - 1, argv + 1);
    return CLI_USAGE_ERROR(ctx, "unknown crypto command '%s'; see 'hsmbak --help'", argv[1]);
}
