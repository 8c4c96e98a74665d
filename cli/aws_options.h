/* The options for an s3:// DEST or SOURCE, the same on every command that
 * takes one (docs/remote.md): the AWS settings by the names of their
 * environment variables, for scripts. The keys are never options: they come
 * from the shared credentials file. */
#ifndef HSMBAK_CLI_AWS_OPTIONS_H
#define HSMBAK_CLI_AWS_OPTIONS_H

#include "args.h"

#include "hsmbak/remote.h"

enum {
    O_AWS_ENDPOINT_URL = 200,
    O_AWS_REGION,
    O_AWS_CREDENTIALS_FILE,
    O_AWS_PROFILE,
    O_AWS_CA_BUNDLE,
    O_ALLOW_PLAIN_HTTP,
};

/* The entries of a command's option table; what is "DEST" or "SOURCE". */
#define CLI_S3_OPTIONS(what)                                                                  \
    {O_AWS_ENDPOINT_URL, "aws-endpoint-url", "URL", "the S3 server, for an s3:// " what,    \
     "$AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com", 0},                          \
    {O_AWS_REGION, "aws-region", "REGION", "the region requests are signed for", "$AWS_REGION, " \
     "else us-east-1", 0},                                                                    \
    {O_AWS_CREDENTIALS_FILE, "aws-shared-credentials-file", "PATH", "the AWS credentials file " \
     "(readable by its owner only)", "$AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials", \
     0},                                                                                      \
    {O_AWS_PROFILE, "aws-profile", "NAME", "the profile of the credentials file",            \
     "$AWS_PROFILE, else default", 0},                                                        \
    {O_AWS_CA_BUNDLE, "aws-ca-bundle", "PATH", "the CA certificates the server's TLS "        \
     "certificate is checked against", "$AWS_CA_BUNDLE, else the system's", 0},               \
    {O_ALLOW_PLAIN_HTTP, "allow-plain-http", NULL, "accept an http:// endpoint: UNSAFE, the "  \
     "backup, its names and the signed requests cross the network unencrypted and the "      \
     "server is not authenticated (a test server on loopback only)", NULL, 0}

/* The options given into o (NULL members for those not given). */
void cli_s3_options(const cli_args *a, hb_s3_options *o);

#endif
