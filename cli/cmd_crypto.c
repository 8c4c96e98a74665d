/* hsmbak crypto certificate|key|idcred|backup-signer|trusted-signer|show|delete
 * (and keygen, in cmd_keygen.c): the appliance's config-crypto vocabulary.
 * The library changes the store (hb_crypto_*: load, change, save under the
 * system's lock); this file parses the arguments and prints the result. */
#include "args.h"
#include "output.h"

#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <stdio.h>
#include <string.h>

/* Every change runs on the open system (its lock held while the library
 * loads, changes and saves the store). */
typedef hb_status (*store_edit_fn)(cli_ctx *ctx, hb_system *sys, const cli_args *a);

static hb_status with_system(cli_ctx *ctx, store_edit_fn change, const cli_args *a)
{
    hb_status st = HB_OK;
    hb_system *sys = NULL;
    const char *root;
    HB_TRY(cli_root(ctx, &root));
    HB_TRY(hb_system_open(root, 0, &sys, &ctx->err));
    st = change(ctx, sys, a);
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

enum { O_IGNORE_EXPIRATION = 1, O_DISABLE, O_KEY_WRAP, O_REMOVE, O_NAMES };

static const cli_option certificate_options[] = {
    {O_IGNORE_EXPIRATION, "ignore-expiration", NULL,
     "use the certificate even when it has expired", NULL, 0},
    {O_DISABLE, "disable", NULL, "define it disabled: nothing uses it until it is defined "
     "again without --disable", NULL, 0},
    {O_KEY_WRAP, "key-wrap", "rsa-oaep-sha256|rsa-oaep-sha1", "how backups wrap archive keys "
     "to it: the hash its token unwraps with (keygen and ceremony enroll probe it)",
     "rsa-oaep-sha256", 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand certificate_operands[] = {
    {"NAME", "the object's name"},
    {"URL", "the certificate: cert:///FILE.pem, a path (PEM or DER), or a token certificate "
            "'pkcs11:token=LABEL;object=NAME;type=cert' (quoted)"},
    {NULL, NULL},
};

/* What is known of a certificate's key-wrap, as crypto show and a
 * definition say it: "probed", "unprobed", "refused", NULL when it has
 * none (not RSA). */
static const char *key_wrap_state(const hb_object_store *s, hb_provider *p,
                                  const hb_crypto_object *o)
{
    switch (hb_objects_key_wrap(s, p, o)) {
    case HB_KEY_WRAP_PROBED: return "probed";
    case HB_KEY_WRAP_UNPROBED: return "unprobed";
    case HB_KEY_WRAP_REFUSED: return "refused";
    case HB_KEY_WRAP_NONE: break;
    }
    return NULL;
}

/* A certificate's key-wrap is asked of its token when this system sees
 * the token that holds the private key (no token: unprobed, said so). */
static hb_status edit_certificate(cli_ctx *ctx, hb_system *sys, const cli_args *a)
{
    bool created = false;
    hb_oaep_hash wrap = HB_OAEP_UNPROBED;
    hb_provider *p = NULL;
    hb_object_store *s = NULL;
    const char *v = cli_get(a, O_KEY_WRAP), *name = a->operands[0];
    hb_status st = v != NULL ? hb_oaep_hash_from_name(v, &wrap, &ctx->err) : HB_OK;
    if (st == HB_OK && cli_provider(ctx, &p) != HB_OK) {
        p = NULL; /* no module: no token to ask */
        memset(&ctx->err, 0, sizeof ctx->err);
    }
    if (st == HB_OK)
        st = hb_crypto_define_certificate(sys, p, name, a->operands[1],
                                          cli_has(a, O_IGNORE_EXPIRATION),
                                          cli_has(a, O_DISABLE), wrap, &created, &ctx->err);
    if (st == HB_OK)
        report_defined(ctx, created, HB_OBJECT_CERTIFICATE, name);
    if (st == HB_OK && hb_objects_load(hb_system_root(sys), &s, &ctx->err) == HB_OK) {
        const hb_crypto_object *o = hb_objects_find(s, HB_OBJECT_CERTIFICATE, name);
        const char *state = o != NULL ? key_wrap_state(s, p, o) : NULL;
        json_t *r = out_record(ctx);
        out_str(r, "key_wrap", o != NULL ? hb_oaep_hash_name(o->key_wrap) : NULL);
        if (state != NULL)
            out_str(r, "key_wrap_state", state);
        if (state != NULL && strcmp(state, "unprobed") == 0)
            out_warning(ctx, "certificate '%s': key-wrap %s is unprobed: no token this system "
                        "sees holds its private key, so nobody has checked that its token "
                        "unwraps with it; define it where that token is attached, or with "
                        "the --key-wrap the token takes", name, out_get_str(r, "key_wrap"));
        else if (state != NULL && strcmp(state, "refused") == 0)
            out_warning(ctx, "certificate '%s': its token's key unwraps with neither "
                        "rsa-oaep-sha1 nor rsa-oaep-sha256: no backup can be made to it",
                        name);
    }
    hb_objects_free(s);
    return st;
}

/* crypto key NAME URI, crypto idcred NAME KEY CERT: each stands only when
 * it is up now, which the library checks on the token. */
static hb_status edit_key_or_idcred(cli_ctx *ctx, hb_system *sys, const cli_args *a)
{
    bool key = strcmp(a->spec->sub, "key") == 0, created = false;
    char **argv = a->operands;
    hb_provider *p = NULL;
    hb_status st = cli_provider(ctx, &p);
    if (st == HB_OK && key)
        st = hb_crypto_define_key(sys, p, argv[0], argv[1], &created, &ctx->err);
    else if (st == HB_OK)
        st = hb_crypto_define_idcred(sys, p, argv[0], argv[1], argv[2], &created, &ctx->err);
    if (st == HB_OK)
        report_defined(ctx, created, key ? HB_OBJECT_KEY : HB_OBJECT_IDCRED, argv[0]);
    return st;
}

static hb_status edit_backup_signer(cli_ctx *ctx, hb_system *sys, const cli_args *a)
{
    hb_status st = hb_crypto_set_backup_signer(sys, a->operands[0], &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "backup_signer", a->operands[0]);
    cli_say(ctx, "Backups are signed with idcred '%s'", out_get_str(r, "backup_signer"));
    return HB_OK;
}

static hb_status edit_trusted_signer(cli_ctx *ctx, hb_system *sys, const cli_args *a)
{
    bool remove = cli_has(a, O_REMOVE);
    hb_status st = hb_crypto_set_trusted_signer(sys, a->operands[0], !remove, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "certificate", a->operands[0]);
    out_bool(r, "trusted_signer", !remove);
    cli_say(ctx, "Certificate '%s' is %s trusted to sign backups", out_get_str(r, "certificate"),
            out_get_bool(r, "trusted_signer") ? "now" : "no longer");
    hb_provider *p = NULL;
    hb_err why = {0};
    if (!remove && cli_provider(ctx, &p) != HB_OK) {
        p = NULL; /* no module: the token certificate's error is the warning */
        memset(&ctx->err, 0, sizeof ctx->err);
    }
    if (!remove && hb_crypto_signer_standing(hb_system_root(sys), p, a->operands[0], &why) != HB_OK)
        out_warning(ctx, "certificate '%s' vouches for no backup now: %s", a->operands[0],
                    why.msg);
    return HB_OK;
}

static hb_status edit_delete(cli_ctx *ctx, hb_system *sys, const cli_args *a)
{
    hb_object_type t;
    hb_status st = hb_object_type_from_name(a->operands[0], &t, &ctx->err);
    if (st == HB_OK)
        st = hb_crypto_delete(sys, t, a->operands[1], &ctx->err);
    if (st == HB_OK)
        report_action(ctx, "deleted", t, a->operands[1]);
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
        if (key_wrap_state(s, p, o) != NULL)
            out_str(j, "key_wrap_state", key_wrap_state(s, p, o));
        if (key_wrap_state(s, p, o) != NULL && strcmp(key_wrap_state(s, p, o), "probed") == 0)
            out_bool(j, "oaep_labels", hb_objects_oaep_labels(o));
        break;
    case HB_OBJECT_KEY:
        out_str(j, "uri", o->uri);
        /* Only what keygen recorded: a key defined by hand has neither. */
        if (o->mechanisms[0] != '\0')
            out_str(j, "mechanisms", o->mechanisms);
        if (o->allowed_mechanisms[0] != '\0')
            out_str(j, "allowed_mechanisms", o->allowed_mechanisms);
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

static hb_status show(cli_ctx *ctx, const cli_args *a)
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
    bool names_only = cli_has(a, O_NAMES);
    if (a->n_operands >= 1) {
        HB_TRY(hb_object_type_from_name(a->operands[0], &type, err));
        typed = true;
    }
    if (a->n_operands == 2)
        name = a->operands[1];
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
    HB_ENSURE(name == NULL || found, HB_E_NOT_FOUND, "no %s named '%s'", a->operands[0], name);
    if (!found && !names_only && !ctx->json)
        printf("no crypto objects defined\n");
cleanup:
    hb_objects_free(s);
    return st;
}

/* ---- the commands ------------------------------------------------------------- */

static hb_status run_certificate(cli_ctx *ctx, const cli_args *a)
{
    return with_system(ctx, edit_certificate, a);
}

static hb_status run_key_or_idcred(cli_ctx *ctx, const cli_args *a)
{
    return with_system(ctx, edit_key_or_idcred, a);
}

static hb_status run_backup_signer(cli_ctx *ctx, const cli_args *a)
{
    return with_system(ctx, edit_backup_signer, a);
}

static hb_status run_trusted_signer(cli_ctx *ctx, const cli_args *a)
{
    return with_system(ctx, edit_trusted_signer, a);
}

static hb_status run_delete(cli_ctx *ctx, const cli_args *a)
{
    return with_system(ctx, edit_delete, a);
}

const cli_spec cli_spec_crypto_certificate = {
    .cmd = "crypto",
    .sub = "certificate",
    .purpose = "Define a certificate object (file or token)",
    .details = "A certificate object names a backup recipient (secure-backup CERT) or a "
               "signer's certificate (an idcred, a trusted signer). Defining an existing "
               "name again replaces its settings.",
    .operands = certificate_operands,
    .options = certificate_options,
    .min_operands = 2,
    .max_operands = 2,
    .run = run_certificate,
};

static const cli_operand key_operands[] = {
    {"NAME", "the object's name"},
    {"PKCS11-URI", "the private key on its token, 'pkcs11:token=LABEL;object=NAME;type=private'"
                   " (quote it: an unquoted ';' ends the shell command)"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_key = {
    .cmd = "crypto",
    .sub = "key",
    .purpose = "Define a key object: a private key on a token",
    .operands = key_operands,
    .min_operands = 2,
    .max_operands = 2,
    .run = run_key_or_idcred,
    .details = "The key is checked on its token through its public half (no PIN). A URI "
               "that matches several keys is refused, and one holding pin-value too.",
};

static const cli_operand idcred_operands[] = {
    {"NAME", "the object's name"},
    {"KEY", "a key object"},
    {"CERT", "the certificate object of that key"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_idcred = {
    .cmd = "crypto",
    .sub = "idcred",
    .purpose = "Pair a key object with its certificate object",
    .details = "Identification credentials: the key that opens backups made to the "
               "certificate (secure-restore IDCRED), or that signs them (backup-signer). "
               "Refused when the key and the certificate do not match.",
    .operands = idcred_operands,
    .min_operands = 3,
    .max_operands = 3,
    .run = run_key_or_idcred,
};

static const cli_operand signer_operands[] = {
    {"IDCRED", "the idcred of a signer key (crypto keygen --usage signer)"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_backup_signer = {
    .cmd = "crypto",
    .sub = "backup-signer",
    .purpose = "Choose the idcred that signs new backups",
    .operands = signer_operands,
    .min_operands = 1,
    .max_operands = 1,
    .run = run_backup_signer,
};

static const cli_option trusted_options[] = {
    {O_REMOVE, "remove", NULL, "stop trusting it", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand trusted_operands[] = {
    {"CERT", "a certificate object: the signer certificate of the backups to accept"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_trusted_signer = {
    .cmd = "crypto",
    .sub = "trusted-signer",
    .purpose = "Trust a certificate to sign backups to restore",
    .details = "secure-restore and inspect accept a backup only when its manifest is signed "
               "by an enabled trusted-signer certificate (or the one --signer names). The "
               "backup signer signs this system's own backups; trusted signers are whose "
               "backups it accepts, its own included once trusted.",
    .operands = trusted_operands,
    .options = trusted_options,
    .min_operands = 1,
    .max_operands = 1,
    .run = run_trusted_signer,
};

static const cli_option show_options[] = {
    {O_NAMES, "names", NULL, "print only the names, one a line (for shell completion; no "
     "token is opened)", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand show_operands[] = {
    {"[certificate|key|idcred]", "only objects of this type (default: every object)"},
    {"[NAME]", "only the object of this name"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_show = {
    .cmd = "crypto",
    .sub = "show",
    .purpose = "Show crypto objects and their live status",
    .operands = show_operands,
    .options = show_options,
    .min_operands = 0,
    .max_operands = 2,
    .run = show,
};

static const cli_operand delete_operands[] = {
    {"certificate|key|idcred", "the object's type"},
    {"NAME", "the object's name"},
    {NULL, NULL},
};

const cli_spec cli_spec_crypto_delete = {
    .cmd = "crypto",
    .sub = "delete",
    .purpose = "Delete a crypto object",
    .details = "Refused while another object refers to it (an idcred to its key or "
               "certificate, the backup signer to its idcred).",
    .operands = delete_operands,
    .min_operands = 2,
    .max_operands = 2,
    .run = run_delete,
};
