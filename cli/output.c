/* Text and --json output (see output.h). jansson builds and prints the
 * documents: no hand-made JSON. */
#include "output.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

json_t *out_result(cli_ctx *ctx)
{
    if (!ctx->json)
        return NULL;
    if (ctx->json_result == NULL)
        ctx->json_result = json_object();
    return ctx->json_result;
}

bool out_text(const cli_ctx *ctx)
{
    return !ctx->json && !ctx->quiet;
}

json_t *out_record(cli_ctx *ctx)
{
    if (ctx->json_result == NULL)
        ctx->json_result = json_object();
    return ctx->json_result;
}

const char *out_get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

bool out_get_bool(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

long long out_get_int(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

const char *out_key_label(const char *key, char sep, char *buf, size_t cap)
{
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < cap; i++)
        buf[i] = key[i] == '_' ? sep : key[i];
    buf[i] = '\0';
    return buf;
}

void out_print_strings(const json_t *array, const char *sep)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
        printf("%s%s", i > 0 ? sep : "", json_string_value(v));
}

/* A JSON string; bytes that are not UTF-8 (file names are bytes) become '?'. */
static json_t *string_value(const char *value)
{
    json_t *v = json_string(value);
    if (v != NULL)
        return v;
    char *copy = strdup(value);
    if (copy == NULL)
        return json_null();
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    v = json_string(copy);
    free(copy);
    return v != NULL ? v : json_null();
}

/* obj[key] = v (v is taken over); a NULL obj drops v. */
static void put(json_t *obj, const char *key, json_t *v)
{
    if (obj == NULL) {
        json_decref(v);
        return;
    }
    json_object_set_new(obj, key, v != NULL ? v : json_null());
}

void out_str(json_t *obj, const char *key, const char *value)
{
    put(obj, key, obj != NULL && value != NULL ? string_value(value) : json_null());
}

void out_u64(json_t *obj, const char *key, uint64_t value)
{
    put(obj, key, json_integer((json_int_t)value));
}

void out_int(json_t *obj, const char *key, long long value)
{
    put(obj, key, json_integer((json_int_t)value));
}

void out_bool(json_t *obj, const char *key, bool value)
{
    put(obj, key, json_boolean(value));
}

void out_time(json_t *obj, const char *key, time_t when)
{
    if (obj == NULL)
        return;
    char buf[32];
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    out_str(obj, key, buf);
}

/* A new container stored at obj[key], borrowed; NULL when obj is. */
static json_t *put_container(json_t *obj, const char *key, json_t *(*make)(void))
{
    if (obj == NULL)
        return NULL;
    json_t *v = make();
    put(obj, key, v);
    return v;
}

json_t *out_array(json_t *obj, const char *key) { return put_container(obj, key, json_array); }

json_t *out_object(json_t *obj, const char *key) { return put_container(obj, key, json_object); }

json_t *out_push_object(json_t *array)
{
    if (array == NULL)
        return NULL;
    json_t *o = json_object();
    json_array_append_new(array, o);
    return o;
}

void out_push_str(json_t *array, const char *value)
{
    if (array != NULL && value != NULL)
        json_array_append_new(array, string_value(value));
}

void out_warning(cli_ctx *ctx, const char *fmt, ...)
{
    char msg[HB_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap); /* a long warning is cut, harmlessly */
    va_end(ap);
    if (ctx->json) {
        if (ctx->json_warnings == NULL)
            ctx->json_warnings = json_array();
        out_push_str(ctx->json_warnings, msg);
    } else if (!ctx->quiet) {
        fprintf(stderr, "hsmbak: warning: %s\n", msg);
    }
}

void out_swap_mode(cli_ctx *ctx, const char *label, const hb_system *sys, bool swaps)
{
    const char *root = hb_system_root(sys);
    if (hb_system_finished_swap(sys))
        out_warning(ctx, "%s: finished the swap of a restore or factory reset that was "
                    "interrupted (%s/.hsmbak/swap-journal): the root is the new tree", label,
                    root);
    if (!swaps)
        return;
    bool in_place = hb_system_swaps_in_place(sys);
    out_str(out_result(ctx), "swap", in_place ? "in-place" : "exchange");
    if (in_place && !ctx->json && !ctx->quiet)
        fprintf(stderr, "hsmbak: %s: '%s' is a mount point: staging inside it (%s/.hsmbak) and "
                "swapping resource by resource\n", label, root, root);
}

void out_begin(cli_ctx *ctx, const char *command)
{
    ctx->command = command;
    ctx->json_fd = -1;
    if (!ctx->json)
        return;
    fflush(stdout);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int saved = dup(STDOUT_FILENO);
    if (devnull >= 0 && saved >= 0 && dup2(devnull, STDOUT_FILENO) >= 0) {
        ctx->json_fd = saved;
        saved = -1;
    }
    if (saved >= 0)
        close(saved);
    if (devnull >= 0)
        close(devnull);
}

void out_finish(cli_ctx *ctx, hb_status st)
{
    if (!ctx->json) {
        if (st != HB_OK)
            fprintf(stderr, "hsmbak: %s\n", ctx->err.msg[0] ? ctx->err.msg : hb_status_name(st));
        fflush(stdout);
        json_decref(ctx->json_result); /* the record text was printed from */
        ctx->json_result = NULL;
        return;
    }
    fflush(stdout);
    if (ctx->json_fd >= 0) {
        dup2(ctx->json_fd, STDOUT_FILENO);
        close(ctx->json_fd);
        ctx->json_fd = -1;
    }
    json_t *doc = json_object();
    out_str(doc, "hsmbak", HSMBAK_VERSION);
    out_str(doc, "command", ctx->command);
    out_bool(doc, "ok", st == HB_OK);
    out_int(doc, "exit_code", (int)st);
    if (st != HB_OK) {
        json_t *e = out_object(doc, "error");
        out_str(e, "status", hb_status_name(st));
        out_int(e, "code", (int)st);
        out_str(e, "message", ctx->err.msg[0] ? ctx->err.msg : hb_status_name(st));
    }
    if (ctx->json_result != NULL)
        json_object_set(doc, "result", ctx->json_result);
    else if (st == HB_OK)
        json_object_set_new(doc, "result", json_object());
    if (ctx->json_warnings != NULL)
        json_object_set(doc, "warnings", ctx->json_warnings);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (text != NULL) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    fflush(stdout);
    json_decref(doc);
    json_decref(ctx->json_result);
    json_decref(ctx->json_warnings);
    ctx->json_result = ctx->json_warnings = NULL;
}

/* One entry of the manifest's lists each (out_manifest). */
static void out_recipient(json_t *o, const hb_manifest_recipient *rc)
{
    out_str(o, "id", rc->id);
    out_str(o, "subject", rc->subject);
    out_str(o, "fingerprint_sha256", rc->fingerprint);
    out_str(o, "key_wrap", rc->key_wrap);
    if (rc->oaep_label) /* absent: the empty label (docs/json.md) */
        out_str(o, "oaep_label", "hsmbak-v1");
}

static void out_quorum(json_t *o, const hb_manifest_quorum *q)
{
    out_str(o, "id", q->id);
    out_str(o, "quorum", q->name);
    out_u64(o, "threshold", q->threshold);
    json_t *ms = out_array(o, "members");
    for (size_t k = 0; k < q->n_members; k++)
        out_push_str(ms, q->members[k].fingerprint);
}

static void out_file(json_t *o, const hb_manifest_file *f)
{
    out_str(o, "name", f->name);
    out_str(o, "filename", f->filename);
    out_str(o, "compression", f->compression);
    out_u64(o, "size", f->size);
    out_str(o, "sha256", f->sha256);
}

void out_manifest(json_t *r, const hb_manifest *m)
{
    if (r == NULL || m == NULL)
        return;
    out_str(r, "backup_id", hb_manifest_id(m));
    out_str(r, "created", hb_manifest_created(m));
    /* null: a manifest made before sequence numbers (docs/json.md). */
    if (hb_manifest_sequence(m) > 0)
        out_u64(r, "sequence", hb_manifest_sequence(m));
    else
        json_object_set_new(r, "sequence", json_null());
    /* null: no transcript pin (docs/FORMAT.md §10, docs/json.md). */
    if (hb_manifest_transcript_seq(m) > 0) {
        json_t *pin = out_object(r, "transcript");
        out_u64(pin, "seq", hb_manifest_transcript_seq(m));
        out_str(pin, "head", hb_manifest_transcript_head(m));
    } else {
        json_object_set_new(r, "transcript", json_null());
    }
    out_str(r, "tool", hb_manifest_tool(m));
    json_t *sys = out_object(r, "system");
    out_str(sys, "version", hb_manifest_version(m));
    out_str(sys, "profile", hb_manifest_profile(m));
    /* Single recipients, then quorum groups, in one list as the manifest has them. */
    json_t *rs = out_array(r, "recipients");
    for (size_t i = 0; i < hb_manifest_n_recipients(m); i++)
        out_recipient(out_push_object(rs), hb_manifest_recipient_at(m, i));
    for (size_t i = 0; i < hb_manifest_n_quorums(m); i++)
        out_quorum(out_push_object(rs), hb_manifest_quorum_at(m, i));
    json_t *fs = out_array(r, "files");
    uint64_t total = 0;
    for (size_t i = 0; i < hb_manifest_n_files(m); i++) {
        out_file(out_push_object(fs), hb_manifest_file_at(m, i));
        total += hb_manifest_file_at(m, i)->size;
    }
    out_u64(r, "archive_bytes", total);
    json_t *ex = out_array(r, "excluded");
    for (size_t i = 0; i < hb_manifest_n_excluded(m); i++) {
        json_t *o = out_push_object(ex);
        out_str(o, "name", hb_manifest_excluded_at(m, i)->name);
        out_str(o, "reason", hb_manifest_excluded_at(m, i)->reason);
    }
}
