/* How to reach an s3:// store (docs/remote.md): the AWS conventions, given
 * as options for scripts. NULL members take the environment's AWS_*
 * variable, then the default. Nothing here is secret: the keys are read
 * from the credentials file, never given here. */
#ifndef HSMBAK_REMOTE_H
#define HSMBAK_REMOTE_H

#include <stdbool.h>

typedef struct hb_s3_options {
    const char *endpoint_url;     /* AWS_ENDPOINT_URL; https://HOST[:PORT] */
    const char *region;           /* AWS_REGION, AWS_DEFAULT_REGION; default us-east-1 */
    const char *credentials_file; /* AWS_SHARED_CREDENTIALS_FILE; default ~/.aws/credentials */
    const char *profile;          /* AWS_PROFILE; default "default" */
    const char *ca_bundle;        /* AWS_CA_BUNDLE; default the system's trust store */
    bool allow_plain_http;        /* accept an http:// endpoint (unsafe: see the docs) */
    /* Backup only: S3 Object Lock on every object of the backup, "compliance"
     * or "governance", for retain_days days from now; NULL: none. */
    const char *lock_mode;
    unsigned retain_days;
} hb_s3_options;

#endif
