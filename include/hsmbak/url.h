/* Appliance-style URLs (DESIGN §5): cert:///, sharedcert:///, local:///,
 * temporary:/// (and config:///) name folders under the system root; plain
 * paths are used as they are. */
#ifndef HSMBAK_URL_H
#define HSMBAK_URL_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when url has one of the folder schemes above. */
HB_API bool hb_url_is_appliance(const char *url);

/* Resolve url to a file system path in out. Appliance URLs need root (else
 * HB_E_USAGE saying how to give one) and may not climb out of their folder
 * ("..") . "cert:///a/b" -> ROOT/cert/a/b; "cert:" alone -> ROOT/cert. */
HB_API hb_status hb_url_resolve(const char *root, const char *url, char *out, size_t cap,
                                hb_err *err) HB_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
