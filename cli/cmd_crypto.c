/* hsmbak crypto certificate|key|idcred|backup-signer|trusted-signer|show|delete
 * (and keygen, in cmd_keygen.c): the appliance's config-crypto vocabulary. */
#include "cli.h"
#include "output.h"

#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>


/* Load the store, let `change` edit it, save it. Nothing is written when any
 * step fails, so a refused definition leaves the store as it was. */
typedef hb_status (*store_edit_fn)(cli_ctx *ctx, hb_object_store *s, int argc, char **argv);

static hb_status edit_store(cli_ctx *ctx, store_edit_fn change, int argc, char **argv)
{
    hb_status st = HB_OK;
    hb_object_store *s = NULL;
    hb_system *sys = NULL;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    /* Held until saved: a backup or restore at work never sees the store change. */
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    HB_TRY(hb_objects_load(root, &s, &ctx->err));
    HB_TRY(change(ctx, s, argc, argv));
    HB_TRY(hb_objects_save(s, &ctx->err));
cleanup:
    hb_objects_free(s);
    hb_system_close(sys);
    return st;
}

static void say_created(cli_ctx *ctx, bool created, const char *type, const char *name)
{
    cli_say(ctx, "%s %s '%s'", created ? "Creating" : "Modifying", type, name);
    json_t *r = out_result(ctx);
    out_str(r, "action", created ? "created" : "modified");
    out_str(r, "type", type);
    out_str(r, "name", name);
}

static hb_status edit_certificate(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    static const struct option opts[] = {
        {"ignore-expiration", no_argument, NULL, 'i'},
        {"disable", no_argument, NULL, 'd'},
        {"key-wrap", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    bool ignore = false, disable = false, created = false;
    hb_oaep_hash wrap = HB_OAEP_SHA256;
    hb_status st;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'i') ignore = true;
        else if (c == 'd') disable = true;
        else if (c == 'w') {
            if ((st = hb_oaep_hash_from_name(optarg, &wrap, &ctx->err)) != HB_OK)
                return st;
        } else return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto certificate NAME URL "
                                         "[--ignore-expiration] [--disable] [--key-wrap rsa-oaep-sha256|rsa-oaep-sha1]");
    }
    if (argc - optind != 2)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto certificate NAME URL "
                                    "[--ignore-expiration] [--disable] [--key-wrap rsa-oaep-sha256|rsa-oaep-sha1]");
    st = hb_objects_set_certificate(s, argv[optind], argv[optind + 1], ignore, disable, wrap,
                                    &created, &ctx->err);
    if (st == HB_OK)
        say_created(ctx, created, "certificate", argv[optind]);
    return st;
}

/* A definition stands only when its object is up now (the key on its token,
 * key and certificate matching); otherwise the store is not saved. */
static hb_status require_up(cli_ctx *ctx, hb_object_store *s, hb_object_type type,
                            const char *name, hb_status when_down)
{
    hb_provider *p = NULL;
    hb_status st = cli_provider(ctx, &p);
    if (st != HB_OK)
        return st;
    hb_object_status status;
    hb_objects_status(s, p, hb_objects_find(s, type, name), &status);
    if (!status.up)
        return hb_fail(&ctx->err, when_down, "%s '%s': %s", hb_object_type_name(type), name,
                       status.reason);
    return HB_OK;
}

static hb_status edit_key(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    if (argc != 3)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto key NAME PKCS11-URI");
    bool created = false;
    hb_status st = hb_objects_set_key(s, argv[1], argv[2], &created, &ctx->err);
    if (st != HB_OK)
        return st;
    /* The key must be on its token now; the check needs no PIN (public half). */
    st = require_up(ctx, s, HB_OBJECT_KEY, argv[1], HB_E_NOT_FOUND);
    if (st != HB_OK)
        return st;
    say_created(ctx, created, "key", argv[1]);
    return HB_OK;
}

static hb_status edit_idcred(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    if (argc != 4)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto idcred NAME KEY CERT");
    bool created = false;
    hb_status st = hb_objects_set_idcred(s, argv[1], argv[2], argv[3], &created, &ctx->err);
    if (st != HB_OK)
        return st;
    st = require_up(ctx, s, HB_OBJECT_IDCRED, argv[1], HB_E_REFUSED);
    if (st != HB_OK)
        return st;
    cli_say(ctx, "%s Identification Credentials '%s'", created ? "Creating" : "Modifying",
            argv[1]);
    json_t *r = out_result(ctx);
    out_str(r, "action", created ? "created" : "modified");
    out_str(r, "type", "idcred");
    out_str(r, "name", argv[1]);
    return HB_OK;
}

static hb_status edit_backup_signer(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    if (argc != 2)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto backup-signer IDCRED");
    hb_status st = hb_objects_set_backup_signer(s, argv[1], &ctx->err);
    if (st == HB_OK)
        cli_say(ctx, "Backups are signed with idcred '%s'", argv[1]);
    out_str(out_result(ctx), "backup_signer", argv[1]);
    return st;
}

static hb_status edit_trusted_signer(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    bool remove = argc == 3 && strcmp(argv[2], "--remove") == 0;
    if (argc != 2 && !remove)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto trusted-signer CERT [--remove]");
    hb_status st = hb_objects_set_trusted_signer(s, argv[1], !remove, &ctx->err);
    if (st == HB_OK)
        cli_say(ctx, "Certificate '%s' is %s trusted to sign backups", argv[1],
                remove ? "no longer" : "now");
    out_str(out_result(ctx), "certificate", argv[1]);
    out_bool(out_result(ctx), "trusted_signer", !remove);
    return st;
}

static hb_status edit_delete(cli_ctx *ctx, hb_object_store *s, int argc, char **argv)
{
    if (argc != 3)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto delete certificate|key|idcred NAME");
    hb_object_type t;
    hb_status st = hb_object_type_from_name(argv[1], &t, &ctx->err);
    if (st == HB_OK)
        st = hb_objects_delete(s, t, argv[2], &ctx->err);
    if (st == HB_OK)
        cli_say(ctx, "Deleted %s '%s'", argv[1], argv[2]);
    out_str(out_result(ctx), "action", "deleted");
    out_str(out_result(ctx), "type", argv[1]);
    out_str(out_result(ctx), "name", argv[2]);
    return st;
}

/* The same data as show_object's text, as one JSON object. */
static void json_object_of(json_t *list, const hb_object_store *s, hb_provider *p,
                           const hb_crypto_object *o, const hb_object_status *status)
{
    json_t *j = out_push_object(list);
    out_str(j, "type", hb_object_type_name(o->type));
    out_str(j, "name", o->name);
    out_str(j, "status", status->up ? "up" : "down");
    if (!status->up)
        out_str(j, "reason", status->reason);
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
        hb_object_status ks = {0}, cs = {0};
        const hb_crypto_object *k = hb_objects_find(s, HB_OBJECT_KEY, o->key);
        const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, o->certificate);
        if (k) hb_objects_status(s, p, k, &ks);
        if (c) hb_objects_status(s, p, c, &cs);
        out_str(j, "key", o->key);
        out_str(j, "key_status", k && ks.up ? "up" : "down");
        out_str(j, "certificate", o->certificate);
        out_str(j, "certificate_status", c && cs.up ? "up" : "down");
        const char *signer = hb_objects_backup_signer(s);
        out_bool(j, "backup_signer", signer && strcmp(signer, o->name) == 0);
        break;
    }
    }
}

static void show_object(cli_ctx *ctx, json_t *list, const hb_object_store *s, hb_provider *p,
                        const hb_crypto_object *o)
{
    hb_object_status status;
    hb_objects_status(s, p, o, &status);
    if (list != NULL) {
        json_object_of(list, s, p, o, &status);
        return;
    }
    if (ctx->json)
        return; /* a listing is the data asked for: --quiet keeps it */
    char title[160];
    int n = snprintf(title, sizeof title, "%s: %s [%s]", hb_object_type_name(o->type), o->name,
                     status.up ? "up" : "down");
    printf("\n%s\n", title);
    for (int i = 0; i < n && i < (int)sizeof title - 1; i++)
        putchar('-');
    printf("\n admin-state %s\n", o->enabled ? "enabled" : "disabled");
    switch (o->type) {
    case HB_OBJECT_CERTIFICATE:
        printf(" file-name %s\n ignore-expiration %s\n trusted-signer %s\n key-wrap %s\n",
               o->file_name, o->ignore_expiration ? "on" : "off",
               o->trusted_signer ? "on" : "off", hb_oaep_hash_name(o->key_wrap));
        break;
    case HB_OBJECT_KEY:
        printf(" uri %s\n", o->uri);
        break;
    case HB_OBJECT_IDCRED: {
        hb_object_status ks = {0}, cs = {0};
        const hb_crypto_object *k = hb_objects_find(s, HB_OBJECT_KEY, o->key);
        const hb_crypto_object *c = hb_objects_find(s, HB_OBJECT_CERTIFICATE, o->certificate);
        if (k) hb_objects_status(s, p, k, &ks);
        if (c) hb_objects_status(s, p, c, &cs);
        printf(" key %s [%s]\n certificate %s [%s]\n", o->key, k && ks.up ? "up" : "down",
               o->certificate, c && cs.up ? "up" : "down");
        const char *signer = hb_objects_backup_signer(s);
        if (signer && strcmp(signer, o->name) == 0)
            printf(" backup-signer on\n");
        break;
    }
    }
    if (!status.up)
        printf(" status: %s\n", status.reason);
}

static hb_status show(cli_ctx *ctx, int argc, char **argv)
{
    hb_status st = HB_OK;
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
    if (argc > 3)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak crypto show [certificate|key|idcred] [NAME]");
    if (argc >= 2) {
        HB_TRY(hb_object_type_from_name(argv[1], &type, &ctx->err));
        typed = true;
    }
    if (argc == 3)
        name = argv[2];
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_objects_load(root, &s, &ctx->err));
    /* Status is live: without a token module the keys show as not checked. */
    if (!names_only && cli_provider(ctx, &p) != HB_OK)
        p = NULL;
    json_t *list = out_array(out_result(ctx), "objects");
    for (size_t i = 0; i < hb_objects_count(s); i++) {
        const hb_crypto_object *o = hb_objects_at(s, i);
        if ((typed && o->type != type) || (name && strcmp(o->name, name) != 0))
            continue;
        if (names_only)
            printf("%s\n", o->name);
        else
            show_object(ctx, list, s, p, o);
        found = true;
    }
    if (name != NULL && !found)
        st = hb_fail(&ctx->err, HB_E_NOT_FOUND, "no %s named '%s'", argv[1], name);
    else if (!found && !names_only && !ctx->json)
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
        {"certificate", edit_certificate}, {"key", edit_key},
        {"idcred", edit_idcred},           {"backup-signer", edit_backup_signer},
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
            return edit_store(ctx, edits[i].fn, argc - 1, argv + 1);
    return CLI_USAGE_ERROR(ctx, "unknown crypto command '%s'; see 'hsmbak --help'", argv[1]);
}
