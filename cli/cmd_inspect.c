/* hsmbak inspect SOURCE [--signer CERT]: what a backup is, without a token
 * (include/hsmbak/inspect.h). */
#include "args.h"
#include "output.h"
#include "aws_options.h"
#include "summary.h"

#include "hsmbak/inspect.h"

#include <stdio.h>

enum { O_SIGNER = 1 };

/* For an sftp:// SOURCE (docs/remote.md). */
enum { O_SSH_IDENTITY = 100, O_SSH_KNOWN_HOSTS };

static const cli_option options[] = {
    {O_SIGNER, "signer", "CERT", "trust this signer for this run: a certificate object, or a "
     "certificate file (a path or URL with a '/')", "only trusted-signer certificates", 0},
    {O_SSH_IDENTITY, "ssh-identity", "PATH", "private key to log in with, for an sftp:// "
     "SOURCE (readable by its owner only)", "~/.ssh/id_ed25519, then ~/.ssh/id_rsa", 0},
    {O_SSH_KNOWN_HOSTS, "ssh-known-hosts", "PATH", "the known hosts file the server's key "
     "must be in, for an sftp:// SOURCE", "~/.ssh/known_hosts", 0},
    CLI_S3_OPTIONS("SOURCE"),
    {0, NULL, NULL, NULL, NULL, 0},
};

static const cli_operand operands[] = {
    {"SOURCE", "the backup directory: temporary:///NAME, a path or "
               "sftp://[USER@]HOST[:PORT]/PATH or s3://BUCKET/PREFIX"},
    {NULL, NULL},
};

static hb_status run_inspect(cli_ctx *ctx, const cli_args *a);

const cli_spec cli_spec_inspect = {
    .cmd = "inspect",
    .purpose = "Show what a backup holds, without a token",
    .operands = operands,
    .options = options,
    .min_operands = 1,
    .max_operands = 1,
    .run = run_inspect,
    .details = "The files are looked at (there, with their listed size) but not read: "
               "'hsmbak secure-restore IDCRED SOURCE --validate' checks every byte with the "
               "token.",
};

static void describe_inspect(json_t *r, const hb_inspect_result *res)
{
    json_t *sg = out_object(r, "signer");
    out_str(sg, "subject", res->signer_subject);
    out_str(sg, "fingerprint_sha256", res->signer_fingerprint[0] ? res->signer_fingerprint
                                                                 : NULL);
    out_str(sg, "not_after", res->signer_not_after[0] ? res->signer_not_after : NULL);
    out_bool(sg, "trusted", res->manifest != NULL);
    if (res->manifest == NULL)
        return;
    out_manifest(r, res->manifest);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "files"), i, f)
        if (res->file_problems[i] != NULL)
            out_str(f, "problem", res->file_problems[i]);
}

static hb_status run_inspect(cli_ctx *ctx, const cli_args *a)
{
    hb_inspect_request req = {.root = ctx->root, .source = a->operands[0],
                              .signer = cli_get(a, O_SIGNER),
                              .ssh_identity = cli_get(a, O_SSH_IDENTITY),
                              .ssh_known_hosts = cli_get(a, O_SSH_KNOWN_HOSTS)};
    hb_inspect_result res;
    cli_s3_options(a, &req.s3);
    if (req.root != NULL && *req.root == '\0')
        req.root = NULL;
    out_str(out_result(ctx), "source", req.source);
    hb_status st = hb_inspect(&req, &res, &ctx->err);
    describe_inspect(out_record(ctx), &res);
    if (st == HB_OK && out_text(ctx))
        print_summary(out_record(ctx), SUMMARY_TOOL | SUMMARY_SIGNER | SUMMARY_FILES |
                                           SUMMARY_EXCLUDED | SUMMARY_TOTAL);
    for (size_t i = 0; st == HB_OK && i < hb_manifest_n_files(res.manifest); i++)
        if (res.file_problems[i] != NULL)
            out_warning(ctx, "inspect: %s", res.file_problems[i]);
    hb_inspect_result_free(&res);
    return st;
}
