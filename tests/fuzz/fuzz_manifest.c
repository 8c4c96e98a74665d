/* libFuzzer: the manifest reader — hardened parse, schema, signature place and
 * form, XML-DSig verification, field extraction (hb_manifest_read). */
#include "fuzz_common.h"
#include "backup/format/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_manifest *m = NULL;
    X509 *signer = NULL;
    hb_err err;
    hb_manifest_read_opts opts = {.max_size = 1u << 20};
    if (hb_manifest_read(data, size, &opts, &m, &signer, &err) == HB_OK) {
        /* Accepted: it verified, so every field must be usable. */
        for (size_t i = 0; i < m->n_files; i++)
            (void)hb_manifest_find_wrapped_key(&m->files[i], m->recipients[0].id);
    }
    hb_manifest_free(m);
    X509_free(signer);
    return 0;
}
