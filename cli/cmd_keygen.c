/* hsmbak crypto keygen: parse, call hb_keygen, print what was saved where,
 * in the appliance's words. */
#include "args.h"
#include "output.h"

#include "hsmbak/keygen.h"
#include "hsmbak/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_CN = 1, O_O, O_OU, O_C, O_ST, O_L, O_TOKEN, O_TYPE, O_USAGE, O_SSCERT, O_DAYS,
       O_CSR, O_FILE, O_EXPORT_SSCERT, O_EXPORT_KEY, O_OBJECT, O_OBJECT_NAME };

static const cli_option options[] = {
    {O_CN, "cn", "CN", "the common name of the certificate's subject", NULL, CLI_REQUIRED},
    {O_O, "o", "O", "the subject's organization", NULL, 0},
    {O_OU, "ou", "OU", "the subject's organizational unit", NULL, 0},
    {O_C, "c", "C", "the subject's country (two letters)", NULL, 0},
    {O_ST, "st", "ST", "the subject's state or province", NULL, 0},
    {O_L, "l", "L", "the subject's locality", NULL, 0},
    {O_TOKEN, "token", "URI", "the token to make the key on, by label or serial "
     "(pkcs11:token=LABEL)", NULL, CLI_REQUIRED},
    {O_TYPE, "key-type", "rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384",
     "the key's algorithm and size (EC for signers only)", "rsa:2048", 0},
    {O_USAGE, "usage", "recipient|signer", "recipient: decrypt/unwrap only, opens backups; "
     "signer: sign only, signs manifests", "recipient", 0},
    {O_SSCERT, "gen-sscert", NULL, "make a self-signed certificate, signed on the token, in "
     "cert:///NAME-sscert.pem", NULL, 0},
    {O_DAYS, "days", "N", "the self-signed certificate's validity (with --gen-sscert)", "365",
     0},
    {O_CSR, "csr", NULL, "write a certificate signing request to temporary:///NAME.csr", NULL,
     0},
    {O_FILE, "file-name", "NAME", "the key's label on the token and the files' base name",
     "made from the CN", 0},
    {O_EXPORT_SSCERT, "export-sscert", NULL, "copy the self-signed certificate to "
     "temporary:/// too (with --gen-sscert)", NULL, 0},
    {O_EXPORT_KEY, "export-key", NULL, "refused: a token key never leaves its token (enroll "
     "more recipients instead)", NULL, 0},
    {O_OBJECT, "gen-object", NULL, "define key and certificate crypto objects for the new key",
     NULL, 0},
    {O_OBJECT_NAME, "object-name", "NAME", "the objects' name (with --gen-object)",
     "the file name", 0},
    {0, NULL, NULL, NULL, NULL, 0},
};

static hb_status cmd_keygen(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_crypto_keygen = {
    .cmd = "crypto",
    .sub = "keygen",
    .purpose = "Make a recipient or signer key pair on a token",
    .options = options,
    .run = cmd_keygen,
    .details = "The private key is made sensitive and never extractable. A recipient key's "
               "real RSA-OAEP support is probed with a test wrap and unwrap and reported: "
               "define its certificate object with that --key-wrap.",
};

static void describe_keygen(json_t *r, const hb_keygen_request *req,
                            const hb_keygen_result *res)
{
    out_str(r, "key_uri", res->key_uri);
    out_u64(r, "bits", res->bits);
    out_str(r, "usage", req->usage == HB_USAGE_SIGNER ? "signer" : "recipient");
    out_str(r, "sscert", res->sscert_url[0] ? res->sscert_url : NULL);
    out_str(r, "sscert_export", res->sscert_export_url[0] ? res->sscert_export_url : NULL);
    out_str(r, "csr", res->csr_url[0] ? res->csr_url : NULL);
    out_str(r, "fingerprint_sha256", res->fingerprint[0] ? res->fingerprint : NULL);
    out_str(r, "key_wrap", res->key_wrap ? hb_oaep_hash_name(res->key_wrap) : NULL);
    out_str(r, "object_name", res->object_name[0] ? res->object_name : NULL);
    out_str(r, "mechanisms", res->mechanisms_limit[0] ? res->mechanisms_limit : NULL);
    out_str(r, "allowed_mechanisms",
            res->allowed_mechanisms[0] ? res->allowed_mechanisms : NULL);
}

/* What was saved where, in the appliance's words; one line per field that
 * is there. */
static void print_keygen(const cli_ctx *ctx, const json_t *r)
{
    const char *v;
    cli_say(ctx, "keygen: Private key stays on the token as '%s' (sensitive, not extractable)",
            out_get_str(r, "key_uri"));
    if ((v = out_get_str(r, "csr")) != NULL)
        cli_say(ctx, "keygen: Saved certificate signing request in '%s'", v);
    if ((v = out_get_str(r, "sscert")) != NULL)
        cli_say(ctx, "keygen: Saved self-signed certificate in '%s'", v);
    if ((v = out_get_str(r, "sscert_export")) != NULL)
        cli_say(ctx, "keygen: Saved self-signed certificate in '%s'", v);
    if ((v = out_get_str(r, "fingerprint_sha256")) != NULL)
        cli_say(ctx, "keygen: Certificate SHA-256 fingerprint %s", v);
    if ((v = out_get_str(r, "key_wrap")) != NULL)
        cli_say(ctx, "keygen: The token unwraps with %s (probed); define certificate objects "
                "for it with --key-wrap %s", v, v);
    if ((v = out_get_str(r, "object_name")) != NULL)
        cli_say(ctx, "keygen: Created crypto objects certificate and key '%s'", v);
    if ((v = out_get_str(r, "allowed_mechanisms")) != NULL &&
        strcmp(out_get_str(r, "mechanisms"), "limited") == 0)
        cli_say(ctx, "keygen: The token allows the key %s only (CKA_ALLOWED_MECHANISMS, "
                "checked)", v);
}

static hb_status parse_keygen(cli_ctx *ctx, const cli_args *a, hb_keygen_request *req)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < a->n_given && st == HB_OK; i++) {
        const char *v = a->given[i].value;
        switch (a->given[i].opt->id) {
        case O_CN: req->dn.cn = v; break;
        case O_O: req->dn.o = v; break;
        case O_OU: req->dn.ou = v; break;
        case O_C: req->dn.c = v; break;
        case O_ST: req->dn.st = v; break;
        case O_L: req->dn.l = v; break;
        case O_TOKEN: req->token_uri = v; break;
        case O_TYPE: st = hb_key_type_from_name(v, &req->key_type, &ctx->err); break;
        case O_USAGE: st = hb_key_usage_from_name(v, &req->usage, &ctx->err); break;
        case O_SSCERT: req->gen_sscert = true; break;
        case O_DAYS: st = cli_parse_number(ctx, "--days", v, 36500, &req->days); break;
        case O_CSR: req->csr = true; break;
        case O_FILE: req->file_name = v; break;
        case O_EXPORT_SSCERT: req->export_sscert = true; break;
        case O_EXPORT_KEY: req->export_key = true; break;
        case O_OBJECT: req->gen_object = true; break;
        case O_OBJECT_NAME: req->object_name = v; break;
        default: break;
        }
    }
    if (st != HB_OK)
        return st;
    if (req->days && !req->gen_sscert)
        return cli_usage(ctx, a->spec, "--days only applies with --gen-sscert");
    if (req->export_sscert && !req->gen_sscert)
        return cli_usage(ctx, a->spec, "--export-sscert only applies with --gen-sscert");
    if (req->object_name && !req->gen_object)
        return cli_usage(ctx, a->spec, "--object-name only applies with --gen-object");
    return HB_OK;
}

static hb_status cmd_keygen(cli_ctx *ctx, const cli_args *a)
{
    hb_keygen_request req = {.key_type = HB_KEY_RSA2048, .usage = HB_USAGE_RECIPIENT};
    hb_keygen_result res;
    hb_provider *p = NULL;
    hb_system *sys = NULL;
    hb_status st = HB_OK;
    HB_TRY(parse_keygen(ctx, a, &req));
    HB_TRY(cli_root(ctx, &req.root));
    /* keygen writes certificates and objects into the root: hold its lock. */
    HB_TRY(hb_system_open(req.root, 0, &sys, &ctx->err));
    HB_TRY(cli_provider(ctx, &p));

    if (req.key_type >= HB_KEY_EC_P256)
        cli_say(ctx, "keygen: Generating a %s EC key pair on the token",
                req.key_type == HB_KEY_EC_P256 ? "P-256" : "P-384");
    else
        cli_say(ctx, "keygen: Generating a %s bit RSA key pair on the token",
                req.key_type == HB_KEY_RSA2048 ? "2048"
                : req.key_type == HB_KEY_RSA3072 ? "3072" : "4096");
    cli_say(ctx, "keygen: This could take some time, please be patient");
    HB_TRY(hb_keygen(p, &req, &res, &ctx->err));
    describe_keygen(out_record(ctx), &req, &res);
    print_keygen(ctx, out_record(ctx));
    if (res.mechanisms_warning[0] != '\0')
        out_warning(ctx, "%s", res.mechanisms_warning);
cleanup:
    hb_system_close(sys);
    return st;
}
