/* hsmbak token list: tokens, their objects and key attributes, and the
 * mechanisms hsmbak needs. Each token is described once (describe_token);
 * the text is printed from that description. */
#include "args.h"
#include "output.h"

#include <stdio.h>
#include <string.h>

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* "rsa-keygen,ec-keygen" as ["rsa-keygen", "ec-keygen"]. */
static void describe_mechanisms(json_t *list, const char *mechanisms)
{
    for (const char *m = mechanisms; *m != '\0';) {
        size_t n = strcspn(m, ",");
        json_array_append_new(list, json_stringn(m, n));
        m += n + (m[n] == ',');
    }
}

static void describe_object(json_t *jo, const hb_object_info *o)
{
    out_str(jo, "class", o->class_name);
    out_str(jo, "label", o->label);
    out_str(jo, "id", o->id_hex);
    out_str(jo, "key_type", o->key_type[0] ? o->key_type : NULL);
    out_u64(jo, "bits", o->bits);
    out_str(jo, "uri", o->uri);
    if (strcmp(o->class_name, "private-key") == 0) {
        json_t *a = out_object(jo, "attributes");
        out_bool(a, "sensitive", o->attrs.sensitive);
        out_bool(a, "always_sensitive", o->attrs.always_sensitive);
        out_bool(a, "extractable", o->attrs.extractable);
        out_bool(a, "never_extractable", o->attrs.never_extractable);
        out_bool(a, "decrypt", o->attrs.decrypt);
        out_bool(a, "unwrap", o->attrs.unwrap);
        out_bool(a, "sign", o->attrs.sign);
    }
}

static void describe_token(json_t *j, const hb_token_info *t)
{
    out_str(j, "label", t->label);
    out_str(j, "serial", t->serial);
    out_str(j, "manufacturer", t->manufacturer);
    out_str(j, "model", t->model);
    out_bool(j, "initialized", t->initialized);
    out_bool(j, "login_required", t->login_required);
    out_bool(j, "user_pin_locked", t->user_pin_locked);
    out_bool(j, "user_pin_final_try", t->user_pin_final_try);
    describe_mechanisms(out_array(j, "mechanisms"), t->mechanisms);
    json_t *objs = out_array(j, "objects");
    for (size_t i = 0; i < t->n_objects; i++)
        describe_object(out_push_object(objs), &t->objects[i]);
}

/*     private-key  signer (ec 256)
 *       uri pkcs11:...
 *       sensitive yes, always-sensitive yes, ... */
static void print_object(const json_t *o)
{
    printf("    %-12s %s", out_get_str(o, "class"), out_get_str(o, "label"));
    if (out_get_str(o, "key_type") != NULL)
        printf(" (%s %lld)", out_get_str(o, "key_type"), out_get_int(o, "bits"));
    printf("\n      uri %s\n", out_get_str(o, "uri"));
    const json_t *attrs = json_object_get(o, "attributes");
    if (attrs == NULL)
        return;
    const char *key;
    json_t *v;
    const char *sep = "      ";
    json_object_foreach((json_t *)attrs, key, v) {
        char label[64];
        printf("%s%s %s", sep, out_key_label(key, '-', label, sizeof label),
               yes_no(json_is_true(v)));
        sep = ", ";
    }
    putchar('\n');
}

static void print_token(const json_t *t)
{
    static const char *const fields[] = {"serial", "manufacturer", "model", "initialized",
                                         "login_required"};
    printf("token: %s\n", out_get_str(t, "label"));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *v = json_object_get(t, fields[i]);
        char label[64];
        printf("  %-14s %s\n", out_key_label(fields[i], ' ', label, sizeof label),
               json_is_boolean(v) ? yes_no(json_is_true(v)) : json_string_value(v));
    }
    if (out_get_bool(t, "user_pin_locked"))
        printf("  user PIN       LOCKED (reset it with the SO PIN)\n");
    else if (out_get_bool(t, "user_pin_final_try"))
        printf("  user PIN       final try left\n");
    const json_t *mechs = json_object_get(t, "mechanisms");
    printf("  mechanisms     ");
    if (json_array_size(mechs) == 0)
        printf("(none of interest)");
    out_print_strings(mechs, ",");
    const json_t *objs = json_object_get(t, "objects");
    printf("\n  objects        %zu\n", json_array_size(objs));
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
        print_object(o);
}

enum { O_TOKEN = 1, O_LOGIN };

static const cli_option options[] = {
    {O_TOKEN, "token", "URI", "only the token this pkcs11: URI selects (by label or serial)",
     "every token the module sees", 0},
    {O_LOGIN, "login", NULL, "log in (asks for the PIN) to list private objects too", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static hb_status run_token_list(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_token_list = {
    .cmd = "token",
    .sub = "list",
    .purpose = "List the tokens, their objects and mechanisms",
    .details = "Each token the module sees: label, serial, PIN state, the mechanisms hsmbak "
               "needs, and its objects with their key attributes (sensitive, extractable, "
               "decrypt, unwrap, sign).",
    .options = options,
    .run = run_token_list,
};

static hb_status run_token_list(cli_ctx *ctx, const cli_args *a)
{
    const char *token = cli_get(a, O_TOKEN);
    bool login = cli_has(a, O_LOGIN);
    hb_provider *p = NULL;
    hb_token_info *tokens = NULL;
    size_t n = 0;
    hb_status st = HB_OK;
    hb_err *err = &ctx->err;
    HB_TRY(cli_provider(ctx, &p));
    HB_TRY(hb_token_list(p, token, login, &tokens, &n, err));
    json_t *r = out_record(ctx);
    out_str(r, "module", ctx->provider_cfg.module ? ctx->provider_cfg.module : "default");
    json_t *list = out_array(r, "tokens");
    for (size_t i = 0; i < n; i++)
        describe_token(out_push_object(list), &tokens[i]);
    if (ctx->json)
        goto cleanup; /* a listing is the data asked for: --quiet keeps it */
    if (n == 0)
        printf("no tokens found (module: %s)\n", out_get_str(r, "module"));
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putchar('\n');
        print_token(json_array_get(list, i));
    }
cleanup:
    hb_token_list_free(tokens, n);
    return st;
}
