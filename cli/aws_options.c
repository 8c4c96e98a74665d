/* The s3:// options of a command into hb_s3_options (aws_options.h). */
#include "aws_options.h"

void cli_s3_options(const cli_args *a, hb_s3_options *o)
{
    o->endpoint_url = cli_get(a, O_AWS_ENDPOINT_URL);
    o->region = cli_get(a, O_AWS_REGION);
    o->credentials_file = cli_get(a, O_AWS_CREDENTIALS_FILE);
    o->profile = cli_get(a, O_AWS_PROFILE);
    o->ca_bundle = cli_get(a, O_AWS_CA_BUNDLE);
    o->allow_plain_http = cli_has(a, O_ALLOW_PLAIN_HTTP);
}
