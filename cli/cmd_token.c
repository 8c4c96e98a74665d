/* hsmbak token list: tokens, their objects and key attributes, and the
 * mechanisms hsmbak needs. */
#include "cli.h"
#include "output.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* The same data as print_token, as JSON. */
static void json_token(json_t *list, const hb_token_info *t)
{
    json_t *j = out_push_object(list);
    out_str(j, "label", t->label);
    out_str(j, "serial", t->serial);
    out_str(j, "manufacturer", t->manufacturer);
    out_str(j, "model", t->model);
    out_bool(j, "initialized", t->initialized);
    out_bool(j, "login_required", t->login_required);
    out_bool(j, "user_pin_locked", t->user_pin_locked);
    out_bool(j, "user_pin_final_try", t->user_pin_final_try);
    json_t *mechs = out_array(j, "mechanisms");
    char copy[sizeof t->mechanisms];
    snprintf(copy, sizeof copy, "%s", t->mechanisms);
    for (char *m = copy, *next; m != NULL && *m != '\0'; m = next) {
        next = strchr(m, ',');
        if (next != NULL)
            *next++ = '\0';
        while (*m == ' ')
            m++;
        out_push_str(mechs, m);
    }
    json_t *objs = out_array(j, "objects");
    for (size_t i = 0; i < t->n_objects; i++) {
        const hb_object_info *o = &t->objects[i];
        json_t *jo = out_push_object(objs);
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
}

static void print_token(const hb_token_info *t)
{
    printf("token: %s\n", t->label);
    printf("  serial         %s\n  manufacturer   %s\n  model          %s\n", t->serial,
           t->manufacturer, t->model);
    printf("  initialized    %s\n  login required %s\n", yes_no(t->initialized),
           yes_no(t->login_required));
    if (t->user_pin_locked)
        printf("  user PIN       LOCKED (reset it with the SO PIN)\n");
    else if (t->user_pin_final_try)
        printf("  user PIN       final try left\n");
    printf("  mechanisms     %s\n", t->mechanisms[0] ? t->mechanisms : "(none of interest)");
    printf("  objects        %zu\n", t->n_objects);
    for (size_t i = 0; i < t->n_objects; i++) {
        const hb_object_info *o = &t->objects[i];
        printf("    %-12s %s", o->class_name, o->label);
        if (o->key_type[0])
            printf(" (%s %u)", o->key_type, o->bits);
        printf("\n      uri %s\n", o->uri);
        if (strcmp(o->class_name, "private-key") == 0)
            printf("      sensitive %s, always-sensitive %s, extractable %s, "
                   "never-extractable %s, decrypt %s, unwrap %s, sign %s\n",
                   yes_no(o->attrs.sensitive), yes_no(o->attrs.always_sensitive),
                   yes_no(o->attrs.extractable), yes_no(o->attrs.never_extractable),
                   yes_no(o->attrs.decrypt), yes_no(o->attrs.unwrap), yes_no(o->attrs.sign));
    }
}

hb_status cmd_token(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"login", no_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    const char *token = NULL;
    bool login = false;
    hb_provider *p = NULL;
    hb_token_info *tokens = NULL;
    size_t n = 0;
    hb_status st = HB_OK;
    if (argc < 2 || strcmp(argv[1], "list") != 0)
        return CLI_USAGE_ERROR(ctx, "usage: hsmbak token list [--token URI] [--login]");
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if (c == 't') token = optarg;
        else if (c == 'l') login = true;
        else return CLI_USAGE_ERROR(ctx, "usage: hsmbak token list [--token URI] [--login]");
    }
    HB_TRY(cli_provider(ctx, &p));
    HB_TRY(hb_token_list(p, token, login, &tokens, &n, &ctx->err));
    json_t *r = out_result(ctx);
    if (r != NULL) {
        out_str(r, "module", ctx->provider_cfg.module ? ctx->provider_cfg.module : "default");
        json_t *list = out_array(r, "tokens");
        for (size_t i = 0; i < n; i++)
            json_token(list, &tokens[i]);
        goto cleanup;
    }
    if (n == 0)
        printf("no tokens found (module: %s)\n",
               ctx->provider_cfg.module ? ctx->provider_cfg.module : "default");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putchar('\n');
        print_token(&tokens[i]);
    }
cleanup:
    hb_token_list_free(tokens, n);
    return st;
}
