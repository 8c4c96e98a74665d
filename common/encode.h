/* Hex and base64 for the manifest and the CLI (OpenSSL does the base64). */
#ifndef HSMBAK_COMMON_ENCODE_H
#define HSMBAK_COMMON_ENCODE_H

#include "hsmbak/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out must hold 2*len+1 bytes; lowercase. */
void hb_hex_encode(const uint8_t *in, size_t len, char *out);

/* s is exactly n lowercase hex digits. */
bool hb_hex_lower_ok(const char *s, size_t n);

/* Strict: exactly 2*outlen hex digits, either case. */
hb_status hb_hex_decode(const char *in, uint8_t *out, size_t outlen, hb_err *err) HB_MUST_CHECK;

/* *out is a malloc'ed NUL-terminated string without line breaks. */
hb_status hb_base64_encode(const uint8_t *in, size_t len, char **out, hb_err *err) HB_MUST_CHECK;

/* Accepts whitespace between groups; rejects anything else that is not
 * base64. *out is malloc'ed. */
hb_status hb_base64_decode(const char *in, uint8_t **out, size_t *outlen,
                           hb_err *err) HB_MUST_CHECK;

/* SHA-256 of a buffer as 64 lowercase hex digits (out holds 65). */
hb_status hb_sha256_hex(const void *data, size_t len, char out[65], hb_err *err) HB_MUST_CHECK;

#endif
