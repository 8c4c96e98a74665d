/* Hex, base64 and SHA-256 text (common/encode.h). */
#include "common/encode.h"
#include "common/fail.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

void hb_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool hb_hex_lower_ok(const char *s, size_t n)
{
    if (s == NULL || strlen(s) != n)
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

hb_status hb_hex_decode(const char *in, uint8_t *out, size_t outlen, hb_err *err)
{
    if (strlen(in) != 2 * outlen)
        return hb_fail(err, HB_E_VERIFY, "expected %zu hex digits, found %zu", 2 * outlen,
                       strlen(in));
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return hb_fail(err, HB_E_VERIFY, "not a hex digit at position %zu", 2 * i);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return HB_OK;
}

hb_status hb_base64_encode(const uint8_t *in, size_t len, char **out, hb_err *err)
{
    if (len > (SIZE_MAX / 4) * 3 - 3 || len > 0x3fffffff)
        return hb_fail(err, HB_E_INTERNAL, "data too large for base64");
    char *buf = malloc(4 * ((len + 2) / 3) + 1);
    if (buf == NULL)
        return hb_fail_oom(err);
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return HB_OK;
}

hb_status hb_base64_decode(const char *in, uint8_t **out, size_t *outlen, hb_err *err)
{
    hb_status st = HB_OK;
    size_t n = strlen(in), m = 0;
    char *compact = malloc(n + 1);
    uint8_t *bin = NULL;
    HB_ALLOC(compact);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (isspace(c))
            continue;
        HB_ENSURE(isalnum(c) || c == '+' || c == '/' || c == '=', HB_E_VERIFY,
                  "invalid base64 character at position %zu", i);
        compact[m++] = (char)c;
    }
    HB_ENSURE(m % 4 == 0 && m <= 0x3fffffff, HB_E_VERIFY, "base64 text has a bad length (%zu)",
              m);
    bin = malloc(m / 4 * 3 + 1);
    HB_ALLOC(bin);
    int got = EVP_DecodeBlock(bin, (const unsigned char *)compact, (int)m);
    HB_ENSURE(got >= 0, HB_E_VERIFY, "invalid base64");
    /* EVP_DecodeBlock counts padding as zero bytes; take them off. */
    size_t pad = 0;
    if (m >= 1 && compact[m - 1] == '=') pad++;
    if (m >= 2 && compact[m - 2] == '=') pad++;
    *outlen = (size_t)got - pad;
    *out = bin;
    bin = NULL;
cleanup:
    free(compact);
    free(bin);
    return st;
}

hb_status hb_sha256_hex(const void *data, size_t len, char out[65], hb_err *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return hb_fail_ossl(err, HB_E_INTERNAL, "SHA-256 failed");
    hb_hex_encode(md, 32, out);
    return HB_OK;
}
