/* hsmbak crypto keygen: parse, call hb_keygen, print what was saved where,
 * in the appliance's words. */
#include "cli.h"
#include "output.h"

#include "hsmbak/keygen.h"
#include "hsmbak/system.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keygen_usage[] =
    "usage: hsmbak crypto keygen --cn CN [--o O] [--ou OU] [--c C] [--st ST] [--l L]\n"
    "       --token URI [--key-type rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384]\n"
    "       [--usage recipient|signer] [--gen-sscert [--days N]] [--csr] [--file-name NAME]\n"
    "       [--export-sscert] [--gen-object [--object-name NAME]]";

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
}

static hb_status parse_keygen(cli_ctx *ctx, int argc, char **argv, hb_keygen_request *req)
{
    enum { O_CN = 256, O_O, O_OU, O_C, O_ST, O_L, O_TOKEN, O_TYPE, O_USAGE, O_SSCERT, O_DAYS,
           O_CSR, O_FILE, O_EXPORT_SSCERT, O_EXPORT_KEY, O_OBJECT, O_OBJECT_NAME };
    static const struct option opts[] = {
        {"cn", required_argument, NULL, O_CN},       {"o", required_argument, NULL, O_O},
        {"ou", required_argument, NULL, O_OU},       {"c", required_argument, NULL, O_C},
        {"st", required_argument, NULL, O_ST},       {"l", required_argument, NULL, O_L},
        {"token", required_argument, NULL, O_TOKEN}, {"key-type", required_argument, NULL, O_TYPE},
        {"usage", required_argument, NULL, O_USAGE}, {"gen-sscert", no_argument, NULL, O_SSCERT},
        {"days", required_argument, NULL, O_DAYS},   {"csr", no_argument, NULL, O_CSR},
        {"file-name", required_argument, NULL, O_FILE},
        {"export-sscert", no_argument, NULL, O_EXPORT_SSCERT},
        {"export-key", no_argument, NULL, O_EXPORT_KEY},
        {"gen-object", no_argument, NULL, O_OBJECT},
        {"object-name", required_argument, NULL, O_OBJECT_NAME},
        {NULL, 0, NULL, 0},
    };
    hb_status st = HB_OK;
    int c;
    optind = 1;
    opterr = 0;
    while (st == HB_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CN: req->dn.cn = optarg; break;
        case O_O: req->dn.o = optarg; break;
        case O_OU: req->dn.ou = optarg; break;
        case O_C: req->dn.c = optarg; break;
        case O_ST: req->dn.st = optarg; break;
        case O_L: req->dn.l = optarg; break;
        case O_TOKEN: req->token_uri = optarg; break;
        case O_TYPE: st = hb_key_type_from_name(optarg, &req->key_type, &ctx->err); break;
        case O_USAGE: st = hb_key_usage_from_name(optarg, &req->usage, &ctx->err); break;
        case O_SSCERT: req->gen_sscert = true; break;
        case O_DAYS: st = cli_parse_number(ctx, "--days", optarg, 36500, &req->days); break;
        case O_CSR: req->csr = true; break;
        case O_FILE: req->file_name = optarg; break;
        case O_EXPORT_SSCERT: req->export_sscert = true; break;
        case O_EXPORT_KEY: req->export_key = true; break;
        case O_OBJECT: req->gen_object = true; break;
        case O_OBJECT_NAME: req->object_name = optarg; break;
        default:
            return CLI_USAGE_ERROR(ctx, "%s: bad option '%s'\n%s", "crypto keygen",
                                   argv[optind - 1], keygen_usage);
        }
    }
    if (st != HB_OK)
        return st;
    if (optind != argc)
        return CLI_USAGE_ERROR(ctx, "unexpected argument '%s'\n%s", argv[optind], keygen_usage);
    if (req->days && !req->gen_sscert)
        return CLI_USAGE_ERROR(ctx, "--days only applies with --gen-sscert");
    if (req->export_sscert && !req->gen_sscert)
        return CLI_USAGE_ERROR(ctx, "--export-sscert only applies with --gen-sscert");
    if (req->object_name && !req->gen_object)
        return CLI_USAGE_ERROR(ctx, "--object-name only applies with --gen-object");
    return HB_OK;
}

hb_status cmd_keygen(cli_ctx *ctx, int argc, char **argv)
{
    hb_keygen_request req = {.key_type = HB_KEY_RSA2048, .usage = HB_USAGE_RECIPIENT};
    hb_keygen_result res;
    hb_provider *p = NULL;
    hb_system *sys = NULL;
    hb_status st = HB_OK;
    HB_TRY(parse_keygen(ctx, argc, argv, &req));
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
cleanup:
    hb_system_close(sys);
    return st;
}
