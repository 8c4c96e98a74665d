/* Identifiers and timestamps (common/ids.h). */
#include "common/ids.h"
#include "common/random.h"

#include "common/encode.h"
#include "common/fail.h"

#include <string.h>
#include <time.h>

hb_status hb_uuid_v4(char out[37], hb_err *err)
{
    uint8_t b[16];
    hb_status st = hb_random_public(b, sizeof b, "a backup id", err);
    if (st != HB_OK)
        return st;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 (RFC 9562 §5.4) */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    char hex[33];
    hb_hex_encode(b, sizeof b, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
    return HB_OK;
}

hb_status hb_rfc3339_now(char out[21], hb_err *err)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || gmtime_r(&now, &tm) == NULL ||
        strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        return hb_fail(err, HB_E_INTERNAL, "cannot format the current time");
    return HB_OK;
}

bool hb_uuid_ok(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-'))
            return false;
        if (!dash && strchr("0123456789abcdef", s[i]) == NULL)
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

bool hb_rfc3339_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (s == NULL || strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    return true;
}
