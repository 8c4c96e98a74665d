/* libFuzzer: the manifest's field reader below the signature — the hardened
 * parse and shape check, then every field (recipients, quorum groups and
 * their members, files and wrapped keys, excluded items) as hb_manifest_read
 * reads them after verification, through hb_manifest_read_unverified
 * (manifest_fuzz_internal.h). fuzz_manifest stops at the signature check;
 * this one starts from the seeds' signed manifests with the signature
 * ignored, so mutations reach the fields. */
#include "fuzz_common.h"
#include "backup/format/manifest.h"
#include "backup/format/manifest_fuzz_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_manifest *m = NULL;
    hb_err err;
    if (hb_manifest_read_unverified(data, size, &m, &err) == HB_OK) {
        /* Read: every promise of the struct must hold, so use each field. */
        for (size_t i = 0; i < m->n_files; i++) {
            const hb_manifest_file *f = &m->files[i];
            if (hb_manifest_find_file(m, f->name) == NULL || strlen(f->sha256) != 64)
                abort();
            for (size_t k = 0; k < f->n_keys; k++)
                if (hb_manifest_find_wrapped_key(f, f->keys[k].recipient) == NULL ||
                    f->keys[k].len == 0)
                    abort();
        }
        for (size_t i = 0; i < m->n_recipients; i++)
            if (hb_manifest_find_recipient(m, m->recipients[i].id) == NULL)
                abort();
        for (size_t i = 0; i < m->n_quorums; i++)
            if (hb_manifest_find_quorum(m, m->quorums[i].id) == NULL ||
                m->quorums[i].n_members < m->quorums[i].threshold)
                abort();
    }
    hb_manifest_free(m);
    return 0;
}
