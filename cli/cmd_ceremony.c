/* hsmbak ceremony enroll|import-cert|retire|quorum|attest|verify-transcript|list
 * (docs/custody.md). */
#include "args.h"
#include "output.h"

#include "hsmbak/custody.h"
#include "hsmbak/inspect.h"
#include "hsmbak/objects.h"
#include "hsmbak/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CUSTODIANS 64

enum { O_TOKEN = 1, O_CUSTODIAN, O_NAME, O_CN, O_TYPE, O_DAYS, O_CSR, O_THRESHOLD,
       O_NEW_TRANSCRIPT, O_BACKUP };

typedef struct parsed {
    const char *custodians[MAX_CUSTODIANS];
    size_t n_custodians;
    const char *token, *name, *cn;
    const char *backup;   /* verify-transcript --backup DIR */
    hb_key_type key_type;
    unsigned days, threshold;
    bool csr;
    unsigned flags;       /* HB_CEREMONY_* */
} parsed;

/* The options of any ceremony (each takes those its table lists). */
static hb_status parse(cli_ctx *ctx, const cli_args *a, parsed *o)
{
    hb_status st = HB_OK;
    memset(o, 0, sizeof *o);
    o->key_type = HB_KEY_RSA2048;
    for (size_t i = 0; i < a->n_given && st == HB_OK; i++) {
        const char *v = a->given[i].value;
        switch (a->given[i].opt->id) {
        case O_TOKEN: o->token = v; break;
        case O_CUSTODIAN:
            if (o->n_custodians == MAX_CUSTODIANS)
                return cli_usage(ctx, a->spec, "at most %d --custodian", MAX_CUSTODIANS);
            o->custodians[o->n_custodians++] = v;
            break;
        case O_NAME: o->name = v; break;
        case O_CN: o->cn = v; break;
        case O_TYPE: st = hb_key_type_from_name(v, &o->key_type, &ctx->err); break;
        case O_DAYS: st = cli_parse_number(ctx, "--days", v, 36500, &o->days); break;
        case O_CSR: o->csr = true; break;
        case O_THRESHOLD: st = cli_parse_number(ctx, "--threshold", v, 255, &o->threshold); break;
        case O_NEW_TRANSCRIPT: o->flags |= HB_CEREMONY_NEW_TRANSCRIPT; break;
        case O_BACKUP: o->backup = v; break;
        default: break;
        }
    }
    return st;
}

#define NEW_TRANSCRIPT_OPTION                                                             \
    {O_NEW_TRANSCRIPT, "new-transcript", NULL, "the transcript is missing while this "        \
     "system pinned its head: start a new one anyway (its first entry records it)", NULL, 0}

#define CUSTODIAN_OPTION(what)                                                            \
    {O_CUSTODIAN, "custodian", "NAME", "a custodian present at the " what " (recorded in "  \
     "the transcript)", NULL, CLI_REPEAT}

/* Warnings from the library, one out_warning each (stderr in text mode,
 * the document's "warnings" with --json); the list is freed. */
static void print_warnings(cli_ctx *ctx, hb_strlist *w)
{
    for (size_t i = 0; i < w->n; i++)
        out_warning(ctx, "%s", w->items[i]);
    hb_strlist_free(w);
}

/* After a ceremony: every active enrollment whose certificate expires within
 * 30 days, on stderr (the ceremony itself succeeded). */
static void print_store_warnings(cli_ctx *ctx, const char *root)
{
    hb_custody *c = NULL;
    hb_err ignored;
    hb_strlist warnings = {0};
    if (hb_custody_load(root, &c, &ignored) == HB_OK &&
        hb_custody_expiry_warnings(c, time(NULL), &warnings, &ignored) == HB_OK)
        print_warnings(ctx, &warnings);
    hb_strlist_free(&warnings);
    hb_custody_free(c);
}

/* ---- enroll ---------------------------------------------------------------- */

static void describe_enrolled(json_t *r, const hb_enroll_result *res)
{
    out_str(r, "name", res->name);
    out_str(r, "token_label", res->token_label);
    out_str(r, "token_serial", res->token_serial);
    out_str(r, "key_uri", res->key_uri);
    out_str(r, "key_wrap", hb_oaep_hash_name(res->key_wrap));
    out_str(r, "fingerprint_sha256", res->fingerprint[0] ? res->fingerprint : NULL);
    out_str(r, "certificate", res->cert_url[0] ? res->cert_url : NULL);
    out_str(r, "csr", res->csr_url[0] ? res->csr_url : NULL);
    out_str(r, "mechanisms", res->mechanisms_limit[0] ? res->mechanisms_limit : NULL);
    out_str(r, "allowed_mechanisms",
            res->allowed_mechanisms[0] ? res->allowed_mechanisms : NULL);
}

static void print_enrolled(const cli_ctx *ctx, const json_t *r)
{
    const char *name = out_get_str(r, "name");
    cli_say(ctx, "ceremony: enrolled '%s' on token '%s' (serial %s)", name,
            out_get_str(r, "token_label"), out_get_str(r, "token_serial"));
    cli_say(ctx, "ceremony: private key %s stays on the token (sensitive, not extractable, "
            "decrypt/unwrap only)", out_get_str(r, "key_uri"));
    cli_say(ctx, "ceremony: the token unwraps with %s (proved by a test wrap/unwrap)",
            out_get_str(r, "key_wrap"));
    const char *mechs = out_get_str(r, "mechanisms");
    if (mechs != NULL && strcmp(mechs, "limited") == 0)
        cli_say(ctx, "ceremony: the token allows the key %s only (CKA_ALLOWED_MECHANISMS, "
                "checked)", out_get_str(r, "allowed_mechanisms"));
    if (out_get_str(r, "fingerprint_sha256") != NULL)
        cli_say(ctx, "ceremony: certificate %s, SHA-256 fingerprint %s",
                out_get_str(r, "certificate"), out_get_str(r, "fingerprint_sha256"));
    if (out_get_str(r, "csr") != NULL)
        cli_say(ctx, "ceremony: certificate signing request saved in '%s'; have it signed and "
                "run 'hsmbak ceremony import-cert %s FILE'", out_get_str(r, "csr"), name);
    cli_say(ctx, "ceremony: recorded in the transcript; idcred '%s' opens backups made to it",
            name);
}

static hb_status do_enroll(cli_ctx *ctx, const char *root, hb_provider *p, const parsed *o)
{
    hb_enroll_request req = {
        .root = root, .token_uri = o->token, .custodians = o->custodians,
        .n_custodians = o->n_custodians, .name = o->name, .cn = o->cn,
        .key_type = o->key_type, .days = o->days, .csr = o->csr, .flags = o->flags,
    };
    hb_enroll_result res = {0};
    cli_say(ctx, "ceremony: enrolling a backup recipient key on '%s' (this may take a while)",
            o->token ? o->token : "");
    hb_status st = hb_ceremony_enroll(p, &req, &res, &ctx->err);
    if (st == HB_OK) {
        describe_enrolled(out_record(ctx), &res);
        print_enrolled(ctx, out_record(ctx));
        if (res.mechanisms_warning[0] != '\0')
            out_warning(ctx, "%s", res.mechanisms_warning);
        print_store_warnings(ctx, root); /* includes res.warnings */
    }
    hb_enroll_result_free(&res);
    return st;
}

/* ---- verify-transcript ------------------------------------------------------- */

static void describe_transcript(json_t *r, const hb_transcript *t)
{
    out_bool(r, "verified", true);
    out_str(r, "signer_subject", t->signer_subject);
    out_str(r, "anchor_sha256", t->anchor);
    out_str(r, "head", t->n ? t->entries[t->n - 1].hash : t->anchor);
    json_t *entries = out_array(r, "entries");
    for (size_t i = 0; i < t->n; i++) {
        const hb_transcript_entry *e = &t->entries[i];
        json_t *o = out_push_object(entries);
        out_u64(o, "seq", e->seq);
        out_u64(o, "version", e->version);
        out_bool(o, "proof_of_possession", e->pop_sig_len > 0);
        out_str(o, "time", e->time);
        out_str(o, "what", e->what);
        out_str(o, "who", e->who);
        out_str(o, "detail", e->detail);
        json_t *fps = out_array(o, "fingerprints");
        for (size_t k = 0; k < e->n_fingerprints; k++)
            out_push_str(fps, e->fingerprints[k]);
        out_str(o, "prev", e->prev);
        out_str(o, "hash", e->hash);
    }
}

static void print_transcript(const json_t *r)
{
    const json_t *entries = json_object_get(r, "entries");
    printf("transcript anchored to %s\n  signer SHA-256 %s\n", out_get_str(r, "signer_subject"),
           out_get_str(r, "anchor_sha256"));
    size_t i, k;
    json_t *e, *fp;
    json_array_foreach(entries, i, e) {
        printf("%lld  %s  %-11s by %s\n    %s\n", out_get_int(e, "seq"), out_get_str(e, "time"),
               out_get_str(e, "what"), out_get_str(e, "who"), out_get_str(e, "detail"));
        json_array_foreach(json_object_get(e, "fingerprints"), k, fp)
            printf("    fingerprint %s\n", json_string_value(fp));
        printf("    hash %s\n", out_get_str(e, "hash"));
    }
    printf("The transcript verifies: %zu entries, chain and signatures intact; head %s\n"
           "It holds the head this system pinned (.hsmbak/transcript-pin; compare with "
           "--backup DIR against a backup kept elsewhere if .hsmbak could be lost too)\n",
           json_array_size(entries), out_get_str(r, "head"));
}

/* With --backup DIR: that backup's manifest, verified and its signer
 * trusted (as inspect does), is compared too. */
static hb_status do_verify(cli_ctx *ctx, const char *root, hb_provider *p, const parsed *o)
{
    hb_transcript *t = NULL;
    hb_strlist warnings = {0};
    hb_inspect_request ireq = {.root = root, .source = o->backup};
    hb_inspect_result ires = {0};
    hb_status st = HB_OK;
    if (o->backup != NULL)
        st = hb_inspect(&ireq, &ires, &ctx->err);
    if (st == HB_OK)
        st = hb_ceremony_verify_transcript_against(p, root, ires.manifest, &t, &warnings,
                                                   &ctx->err);
    if (st == HB_OK) {
        json_t *r = out_record(ctx);
        describe_transcript(r, t);
        if (ires.manifest != NULL) {
            out_str(r, "compared_backup", hb_manifest_id(ires.manifest));
            if (hb_manifest_transcript_seq(ires.manifest) > 0)
                out_u64(r, "compared_seq", hb_manifest_transcript_seq(ires.manifest));
        }
        if (out_text(ctx))
            print_transcript(r);
        if (out_text(ctx) && ires.manifest != NULL)
            printf("It holds the head backup %s pinned%s\n", out_get_str(r, "compared_backup"),
                   hb_manifest_transcript_seq(ires.manifest) > 0
                       ? "" : " (none: that backup pins no transcript)");
        print_warnings(ctx, &warnings);
    }
    hb_inspect_result_free(&ires);
    hb_strlist_free(&warnings);
    hb_transcript_free(t);
    return st;
}

/* ---- list -------------------------------------------------------------------- */

/* store (may be NULL) holds the key object keygen made for the enrollment,
 * with what the token let that key do. */
static void describe_enrollment(json_t *o, const hb_enrollment *e, const hb_object_store *store)
{
    const hb_crypto_object *key = store != NULL ? hb_objects_find(store, HB_OBJECT_KEY, e->name)
                                                : NULL;
    static const char *const states[] = {"pending", "active", "retired"};
    out_str(o, "name", e->name);
    out_str(o, "state", states[e->state]);
    out_str(o, "subject", e->subject);
    out_str(o, "fingerprint_sha256", e->fingerprint[0] ? e->fingerprint : NULL);
    out_str(o, "token_label", e->token_label);
    out_str(o, "token_serial", e->token_serial);
    out_str(o, "key_wrap", hb_oaep_hash_name(e->key_wrap));
    out_str(o, "enrolled", e->enrolled);
    out_str(o, "expires", e->not_after[0] ? e->not_after : NULL);
    out_str(o, "retired", e->retired[0] ? e->retired : NULL);
    if (key != NULL && key->mechanisms[0] != '\0') {
        out_str(o, "mechanisms", key->mechanisms);
        out_str(o, "allowed_mechanisms",
                key->allowed_mechanisms[0] ? key->allowed_mechanisms : NULL);
    }
    json_t *cs = out_array(o, "custodians");
    for (size_t k = 0; k < e->n_custodians; k++)
        out_push_str(cs, e->custodians[k]);
}

static void describe_group(json_t *o, const hb_quorum_group *g)
{
    out_str(o, "name", g->name);
    out_str(o, "state", g->retired ? "retired" : "active");
    out_u64(o, "threshold", g->threshold);
    json_t *ms = out_array(o, "members");
    for (size_t k = 0; k < g->n_members; k++)
        out_push_str(ms, g->members[k]);
}

/* "  subject     CN=..." (nothing when value is NULL). */
static void print_line(const char *label, const char *value)
{
    if (value != NULL)
        printf("  %-11s %s\n", label, value);
}

static void print_enrollment(const json_t *o)
{
    const char *fp = out_get_str(o, "fingerprint_sha256");
    printf("enrollment %s  %s\n", out_get_str(o, "name"), out_get_str(o, "state"));
    print_line("subject", out_get_str(o, "subject"));
    print_line("fingerprint", fp != NULL ? fp : "(pending certificate)");
    printf("  %-11s %s (serial %s)\n", "token", out_get_str(o, "token_label"),
           out_get_str(o, "token_serial"));
    print_line("key-wrap", out_get_str(o, "key_wrap"));
    print_line("enrolled", out_get_str(o, "enrolled"));
    print_line("expires", out_get_str(o, "expires"));
    print_line("retired", out_get_str(o, "retired"));
    const char *mechs = out_get_str(o, "mechanisms"), *allowed = out_get_str(o, "allowed_mechanisms");
    if (mechs != NULL)
        printf("  %-11s %s%s%s%s\n", "mechanisms", mechs, allowed ? " (" : "",
               allowed ? allowed : "", allowed ? ")"
               : strcmp(mechs, "unlimited") == 0 ? ": the token ignores CKA_ALLOWED_MECHANISMS"
                                                 : "");
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(o, "custodians"), k, c)
        print_line("custodian", json_string_value(c));
}

/* The name of the listed enrollment with that fingerprint, "?" if none. */
static const char *enrollment_named(const json_t *enrollments, const char *fp)
{
    size_t i;
    json_t *e;
    json_array_foreach(enrollments, i, e) {
        const char *efp = out_get_str(e, "fingerprint_sha256");
        if (efp != NULL && strcmp(efp, fp) == 0)
            return out_get_str(e, "name");
    }
    return "?";
}

static void print_group(const json_t *g, const json_t *enrollments)
{
    const json_t *members = json_object_get(g, "members");
    printf("quorum %s  %s, %lld of %zu\n", out_get_str(g, "name"), out_get_str(g, "state"),
           out_get_int(g, "threshold"), json_array_size(members));
    size_t k;
    json_t *m;
    json_array_foreach(members, k, m)
        printf("  member      %s (%s)\n", json_string_value(m),
               enrollment_named(enrollments, json_string_value(m)));
}

static hb_status do_list(cli_ctx *ctx, const char *root)
{
    hb_custody *c = NULL;
    hb_strlist warnings = {0};
    hb_status st = hb_custody_load(root, &c, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    json_t *je = out_array(r, "enrollments"), *jq = out_array(r, "quorums");
    hb_object_store *store = NULL;
    hb_err ignored = {0}; /* no crypto objects: nothing known of the keys */
    if (hb_objects_load(root, &store, &ignored) != HB_OK)
        store = NULL;
    for (size_t i = 0; i < hb_custody_n_enrollments(c); i++)
        describe_enrollment(out_push_object(je), hb_custody_enrollment_at(c, i), store);
    hb_objects_free(store);
    for (size_t i = 0; i < hb_custody_n_groups(c); i++)
        describe_group(out_push_object(jq), hb_custody_group_at(c, i));
    if (out_text(ctx)) {
        size_t i;
        json_t *o;
        json_array_foreach(je, i, o)
            print_enrollment(o);
        json_array_foreach(jq, i, o)
            print_group(o, je);
    }
    st = hb_custody_expiry_warnings(c, time(NULL), &warnings, &ctx->err);
    print_warnings(ctx, &warnings);
    hb_custody_free(c);
    return st;
}

/* ---- import-cert, retire, quorum ---------------------------------------------- */

static hb_status do_import_cert(cli_ctx *ctx, const char *root, hb_provider *p,
                                const parsed *o, char **pos)
{
    char fp[65];
    hb_status st = hb_ceremony_import_cert(p, root, pos[0], pos[1], o->custodians,
                                           o->n_custodians, fp, o->flags, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "name", pos[0]);
    out_str(r, "fingerprint_sha256", fp);
    cli_say(ctx, "ceremony: '%s' is active; certificate SHA-256 fingerprint %s",
            out_get_str(r, "name"), out_get_str(r, "fingerprint_sha256"));
    print_store_warnings(ctx, root);
    return HB_OK;
}

/* After a group is retired, the change of the default set in words: its
 * members do not become recipients of their own. */
static void say_withheld_members(cli_ctx *ctx, const char *root, const char *group)
{
    hb_custody *c = NULL;
    hb_err ignored;
    char names[1024] = "";
    size_t used = 0;
    if (hb_custody_load(root, &c, &ignored) != HB_OK)
        return;
    const hb_quorum_group *g = hb_custody_find_group(c, group);
    for (size_t k = 0; g != NULL && k < g->n_members; k++) {
        const hb_enrollment *e = hb_custody_find(c, g->members[k]);
        int n = snprintf(names + used, sizeof names - used, "%s%s", k > 0 ? ", " : "",
                         e != NULL ? e->name : g->members[k]);
        if (n < 0 || (size_t)n >= sizeof names - used)
            break; /* a very long list is cut short here */
        used += (size_t)n;
    }
    if (g != NULL)
        cli_say(ctx, "ceremony: the members of '%s' (%s) stay out of the default set: none "
                "of them alone opens the next default backup; name a member to back up to it "
                "alone", g->name, names);
    hb_custody_free(c);
}

static hb_status do_retire(cli_ctx *ctx, const char *root, hb_provider *p, const parsed *o,
                           char **pos)
{
    hb_status st = hb_ceremony_retire(p, root, pos[0], o->custodians, o->n_custodians,
                                      o->flags, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "retired", pos[0]);
    cli_say(ctx, "ceremony: '%s' is retired: new backups leave it out; backups made to it "
            "still restore with its key", out_get_str(r, "retired"));
    say_withheld_members(ctx, root, pos[0]);
    print_store_warnings(ctx, root);
    return HB_OK;
}

static hb_status do_quorum(cli_ctx *ctx, const char *root, hb_provider *p, const parsed *o,
                           char **pos, int npos)
{
    if (o->threshold == 0)
        return CLI_USAGE_ERROR(ctx, "ceremony quorum needs --threshold K");
    hb_status st = hb_ceremony_quorum(p, root, pos[0], o->threshold,
                                      (const char *const *)pos + 1, (size_t)npos - 1,
                                      o->custodians, o->n_custodians, o->flags, &ctx->err);
    if (st != HB_OK)
        return st;
    json_t *r = out_record(ctx);
    out_str(r, "quorum", pos[0]);
    out_u64(r, "threshold", o->threshold);
    out_u64(r, "members", (uint64_t)(npos - 1));
    cli_say(ctx, "ceremony: quorum group '%s': any %lld of its %lld members together open "
            "backups made to it", out_get_str(r, "quorum"), out_get_int(r, "threshold"),
            out_get_int(r, "members"));
    print_store_warnings(ctx, root);
    return HB_OK;
}

/* The store is printed first: what is signed is what the operator saw. */
static hb_status do_attest(cli_ctx *ctx, const char *root, hb_provider *p, const parsed *o)
{
    hb_status st = do_list(ctx, root);
    if (st != HB_OK)
        return st;
    st = hb_ceremony_attest(p, root, o->custodians, o->n_custodians, o->flags, &ctx->err);
    if (st != HB_OK)
        return st;
    out_bool(out_record(ctx), "attested", true);
    cli_say(ctx, "ceremony: the custody store above is recorded in the transcript, signed by "
            "the backup signer; backups to enrolled recipients follow it");
    return HB_OK;
}

/* ---- the commands ------------------------------------------------------------- */

typedef enum ceremony {
    C_ENROLL, C_IMPORT_CERT, C_RETIRE, C_QUORUM, C_ATTEST, C_VERIFY, C_LIST
} ceremony;

static hb_status run_ceremony(cli_ctx *ctx, const cli_args *a, ceremony which)
{
    hb_status st = HB_OK;
    parsed o;
    const char *root;
    hb_provider *p = NULL;
    hb_system *sys = NULL;
    hb_err *err = &ctx->err;
    char **pos = a->operands;
    HB_TRY(parse(ctx, a, &o));
    HB_TRY(cli_root(ctx, &root));
    /* The root's lock: two ceremonies never interleave their transcript
     * appends and custody store writes. */
    HB_TRY(hb_system_open(root, 0, &sys, err));
    if (which == C_LIST) {
        st = do_list(ctx, root);
        goto cleanup;
    }
    HB_TRY(cli_provider(ctx, &p));
    switch (which) {
    case C_ENROLL: st = do_enroll(ctx, root, p, &o); break;
    case C_IMPORT_CERT: st = do_import_cert(ctx, root, p, &o, pos); break;
    case C_RETIRE: st = do_retire(ctx, root, p, &o, pos); break;
    case C_QUORUM: st = do_quorum(ctx, root, p, &o, pos, (int)a->n_operands); break;
    case C_ATTEST: st = do_attest(ctx, root, p, &o); break;
    case C_VERIFY: st = do_verify(ctx, root, p, &o); break;
    case C_LIST: break;
    }
cleanup:
    hb_system_close(sys);
    return st;
}

static hb_status run_enroll(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_ENROLL);
}

static hb_status run_import_cert(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_IMPORT_CERT);
}

static hb_status run_retire(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_RETIRE);
}

static hb_status run_quorum(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_QUORUM);
}

static hb_status run_attest(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_ATTEST);
}

static hb_status run_verify(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_VERIFY);
}

static hb_status run_list(cli_ctx *ctx, const cli_args *a)
{
    return run_ceremony(ctx, a, C_LIST);
}

static const cli_option enroll_options[] = {
    {O_TOKEN, "token", "URI", "the custodian's token, by label or serial (pkcs11:token=LABEL)",
     NULL, CLI_REQUIRED},
    {O_CUSTODIAN, "custodian", "NAME", "a custodian present at the ceremony (recorded in the "
     "transcript)", NULL, CLI_REQUIRED | CLI_REPEAT},
    {O_NAME, "name", "NAME", "the enrollment's name, also its crypto objects' name",
     "made from the CN", 0},
    {O_CN, "cn", "CN", "the certificate's common name", "hsmbak recipient NAME", 0},
    {O_TYPE, "key-type", "rsa:2048|rsa:3072|rsa:4096", "the recipient key's size", "rsa:2048",
     0},
    {O_CSR, "csr", NULL, "write a certificate signing request for a CA instead of a "
     "self-signed certificate", NULL, 0},
    {O_DAYS, "days", "N", "the self-signed certificate's validity", "730", 0},
    NEW_TRANSCRIPT_OPTION,
    {0, NULL, NULL, NULL, NULL, 0},
};

const cli_spec cli_spec_ceremony_enroll = {
    .cmd = "ceremony",
    .sub = "enroll",
    .purpose = "Enroll a custodian's recipient key on a token",
    .options = enroll_options,
    .run = run_enroll,
    .details = "The key can only decrypt and unwrap; possession is proved and the token's "
               "RSA-OAEP support probed with a test wrap and unwrap; the enrollment and a "
               "signed transcript entry are recorded (docs/custody.md).",
};

static const cli_option import_options[] = {
    CUSTODIAN_OPTION("import"),
    NEW_TRANSCRIPT_OPTION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand import_operands[] = {
    {"NAME", "the enrollment made with --csr"},
    {"FILE", "its CA-signed certificate (PEM or DER); it must match the key on the token"},
    {NULL, NULL},
};

const cli_spec cli_spec_ceremony_import_cert = {
    .cmd = "ceremony",
    .sub = "import-cert",
    .purpose = "Import an enrollment's CA-signed certificate",
    .operands = import_operands,
    .options = import_options,
    .min_operands = 2,
    .max_operands = 2,
    .run = run_import_cert,
};

static const cli_option retire_options[] = {
    CUSTODIAN_OPTION("retirement"),
    NEW_TRANSCRIPT_OPTION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand retire_operands[] = {
    {"FINGERPRINT|NAME|GROUP", "the enrollment (by name or fingerprint) or quorum group"},
    {NULL, NULL},
};

const cli_spec cli_spec_ceremony_retire = {
    .cmd = "ceremony",
    .sub = "retire",
    .purpose = "Retire a recipient or a quorum group",
    .details = "New backups leave it out; backups made to it still open with its key.",
    .operands = retire_operands,
    .options = retire_options,
    .min_operands = 1,
    .max_operands = 1,
    .run = run_retire,
};

static const cli_option quorum_options[] = {
    {O_THRESHOLD, "threshold", "K", "how many members together open a backup (2 to the "
     "number of members)", NULL, CLI_REQUIRED},
    CUSTODIAN_OPTION("definition"),
    NEW_TRANSCRIPT_OPTION,
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand quorum_operands[] = {
    {"NAME", "the group's name"},
    {"MEMBER...", "enrolled recipients (names or fingerprints), at least two"},
    {NULL, NULL},
};

const cli_spec cli_spec_ceremony_quorum = {
    .cmd = "ceremony",
    .sub = "quorum",
    .purpose = "Define a k-of-n quorum group",
    .operands = quorum_operands,
    .options = quorum_options,
    .min_operands = 3,
    .max_operands = 256,
    .run = run_quorum,
};

static const cli_option attest_options[] = {
    CUSTODIAN_OPTION("attestation"),
    NEW_TRANSCRIPT_OPTION,
    {0, NULL, NULL, NULL, NULL, 0},
};

const cli_spec cli_spec_ceremony_attest = {
    .cmd = "ceremony",
    .sub = "attest",
    .purpose = "Print the custody store and record it in the transcript",
    .details = "secure-backup takes enrolled recipients only from a custody store the "
               "transcript's last entry records; attest records the store as it is (after a "
               "transcript written by an older hsmbak, or to accept a change made by hand), "
               "signed by the backup signer (its PIN is asked).",
    .options = attest_options,
    .run = run_attest,
};

static const cli_option verify_options[] = {
    {O_BACKUP, "backup", "DIR", "also compare with the transcript head that backup's signed "
     "manifest pins", NULL, 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

const cli_spec cli_spec_ceremony_verify_transcript = {
    .cmd = "ceremony",
    .sub = "verify-transcript",
    .purpose = "Verify and print the ceremony transcript",
    .details = "Checks the transcript's hash chain and every entry's signature, and that it "
               "holds the head this system pinned (docs/custody.md).",
    .options = verify_options,
    .run = run_verify,
};

const cli_spec cli_spec_ceremony_list = {
    .cmd = "ceremony",
    .sub = "list",
    .purpose = "List enrollments and quorum groups",
    .run = run_list,
};
