/* Reading a store of key custody (store_internal.h). */
#include "backup/custody/store_internal.h"

#include "backup/format/xml.h"
#include "common/fail.h"
#include "common/fileio.h"

#include <stdlib.h>
#include <unistd.h>

hb_status hb_store_load(const char *root, const char *rel, size_t cap, const char *schema_rel,
                        char path[PATH_MAX], xmlDocPtr *doc, hb_err *err)
{
    hb_status st = HB_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    char config[PATH_MAX];
    *doc = NULL;
    HB_ENSURE(root != NULL && *root != '\0', HB_E_USAGE,
              "no system root: give --root DIR or set HSMBAK_ROOT");
    HB_TRY(hb_path_join(path, PATH_MAX, root, rel, err));
    st = hb_read_file(path, cap, &data, &len, err);
    if (st == HB_OK) {
        HB_TRY(hb_xml_parse(data, len, cap, 0, schema_rel, path, doc, err));
    } else if (st == HB_E_NOT_FOUND) {
        /* Nothing stored yet: an empty store, but only in a system root. */
        HB_TRY(hb_path_join(config, sizeof config, root, "config", err));
        HB_ENSURE(access(config, F_OK) == 0, HB_E_NOT_FOUND,
                  "'%s' is not a system root (no config folder); make one with "
                  "'hsmbak system init --root %s'", root, root);
    }
cleanup:
    free(data);
    return st;
}
