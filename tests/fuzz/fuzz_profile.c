/* libFuzzer: the system profile reader (hb_profile_load_file: hardened parse,
 * schema, path and name rules). */
#include "fuzz_common.h"
#include "backup/system/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch(".profile.xml");
    if (fuzz_write(path, data, size) != 0)
        abort();
    hb_profile *p = NULL;
    hb_err err;
    if (hb_profile_load_file(path, &p, &err) == HB_OK) {
        for (size_t i = 0; i < p->n_resources; i++)
            (void)hb_profile_find_resource(p, p->resources[i].name);
    }
    hb_profile_free(p);
    return 0;
}
