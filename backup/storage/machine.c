/* This machine, in the names of partial backups on a shared server (sftp.c,
 * s3.c): 16 hex digits of SHA-256 over /etc/machine-id (else the host name),
 * so that several machines writing to one store are told apart without
 * naming them. */
#include "backup/storage/backend.h"

#include "common/encode.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *hb_storage_machine_tag(void)
{
    static char tag[17];
    char id[256] = "", digest[65];
    hb_err ignored;
    FILE *f = fopen("/etc/machine-id", "re");
    if (f == NULL || fgets(id, sizeof id, f) == NULL)
        (void)gethostname(id, sizeof id - 1);
    if (f != NULL)
        fclose(f);
    if (hb_sha256_hex(id, strlen(id), digest, &ignored) != HB_OK)
        memset(digest, '0', 16);
    memcpy(tag, digest, 16);
    tag[16] = '\0';
    return tag;
}
