/* The two stores of key custody under ROOT/config: custody.xml
 * (custody.c) and crypto.xml (objects.c). Both are found and read the same
 * way (store.c). */
#ifndef HSMBAK_BACKUP_CUSTODY_STORE_INTERNAL_H
#define HSMBAK_BACKUP_CUSTODY_STORE_INTERNAL_H

#include "hsmbak/status.h"

#include <libxml/tree.h>
#include <limits.h>
#include <stddef.h>

/* The store ROOT/rel: its path into path, and the document, at most cap
 * bytes, parsed by hb_xml_parse and valid against schema_rel, into *doc
 * (free with xmlFreeDoc). A store not written yet is an empty one (*doc
 * NULL), but only in a system root; anywhere else HB_E_NOT_FOUND, saying
 * how to make one. HB_E_USAGE when root is NULL or empty. */
hb_status hb_store_load(const char *root, const char *rel, size_t cap, const char *schema_rel,
                        char path[PATH_MAX], xmlDocPtr *doc, hb_err *err) HB_MUST_CHECK;

#endif
