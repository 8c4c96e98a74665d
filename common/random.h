/* Random bytes from hsmbak's own OpenSSL library context, never the
 * process default: the system's openssl.cnf configures the default context
 * (a [random] section can name another DRBG, seed source or provider), and
 * hsmbak's keys, salts, nonce prefixes and ids must not depend on it (issue
 * 15 item 6). The context is made once, loads only OpenSSL's default
 * provider and reads no configuration file. */
#ifndef HSMBAK_COMMON_RANDOM_H
#define HSMBAK_COMMON_RANDOM_H

#include "hsmbak/status.h"

#include <stddef.h>

/* len bytes for public values (salts, nonce prefixes, ids). */
hb_status hb_random_public(void *buf, size_t len, const char *what, hb_err *err) HB_MUST_CHECK;

/* len bytes for secrets (keys, shares): OpenSSL's private DRBG. */
hb_status hb_random_secret(void *buf, size_t len, const char *what, hb_err *err) HB_MUST_CHECK;

#endif
