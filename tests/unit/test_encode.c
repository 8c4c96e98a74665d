/* common/encode.c and common/status.c */
#include "hbtest.h"

#include "common/encode.h"
#include "common/words.h"

#include <stdlib.h>
#include <string.h>

static void test_hex_round_trip(void)
{
    const uint8_t in[] = {0x00, 0x89, 0xff, 0x10};
    char hex[9];
    hb_hex_encode(in, sizeof in, hex);
    CU_ASSERT_STRING_EQUAL(hex, "0089ff10");
    uint8_t back[4];
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_hex_decode("0089FF10", back, 4, &err), &err);
    CU_ASSERT_EQUAL(memcmp(in, back, 4), 0);
}

static void test_hex_rejects(void)
{
    uint8_t out[2];
    hb_err err = {0};
    HBTEST_ASSERT_STATUS(hb_hex_decode("abc", out, 2, &err), HB_E_VERIFY, &err);
    HBTEST_ASSERT_FAIL(hb_hex_decode("abcg", out, 2, &err), HB_E_VERIFY, &err, "not a hex digit");
}

static void test_base64_round_trip(void)
{
    hb_err err = {0};
    for (size_t len = 0; len < 70; len++) {
        uint8_t in[70];
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)(i * 37 + 1);
        char *b64 = NULL;
        HBTEST_ASSERT_OK(hb_base64_encode(in, len, &b64, &err), &err);
        uint8_t *out = NULL;
        size_t outlen = 0;
        HBTEST_ASSERT_OK(hb_base64_decode(b64, &out, &outlen, &err), &err);
        CU_ASSERT_EQUAL(outlen, len);
        CU_ASSERT_EQUAL(memcmp(in, out, len), 0);
        free(b64);
        free(out);
    }
}

static void test_base64_whitespace_and_rejects(void)
{
    hb_err err = {0};
    uint8_t *out = NULL;
    size_t outlen = 0;
    HBTEST_ASSERT_OK(hb_base64_decode(" aGVs\n bG8=\n", &out, &outlen, &err), &err);
    CU_ASSERT_EQUAL(outlen, 5);
    CU_ASSERT_EQUAL(memcmp(out, "hello", 5), 0);
    free(out);
    HBTEST_ASSERT_STATUS(hb_base64_decode("aGVs*G8=", &out, &outlen, &err), HB_E_VERIFY, &err);
    HBTEST_ASSERT_STATUS(hb_base64_decode("aGVsbG8", &out, &outlen, &err), HB_E_VERIFY, &err);
}

static void test_sha256_hex(void)
{
    char hex[65];
    hb_err err = {0};
    HBTEST_ASSERT_OK(hb_sha256_hex("abc", 3, hex, &err), &err);
    CU_ASSERT_STRING_EQUAL(hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_err_prefix_and_truncation(void)
{
    hb_err err = {0};
    CU_ASSERT_EQUAL(hb_fail(&err, HB_E_IO, "disk %s", "full"), HB_E_IO);
    hb_err_prefix(&err, "writing '%s'", "config");
    CU_ASSERT_STRING_EQUAL(err.msg, "writing 'config': disk full");
    char big[2 * HB_MSG_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    (void)hb_fail(&err, HB_E_IO, "%s", big);
    CU_ASSERT_EQUAL(strlen(err.msg), HB_MSG_MAX - 1);
    CU_ASSERT_STRING_EQUAL(err.msg + HB_MSG_MAX - 4, "...");
    CU_ASSERT_STRING_EQUAL(hb_status_name(HB_E_VERIFY), "verify-failed");
}

/* The state files' words: single spaces, strict decimals up to a cap. */
static void test_state_file_words(void)
{
    const char line[] = "pin 42 x", *p = line, *end = line + strlen(line), *w;
    size_t n;
    uint64_t v = 7;
    char out[4];
    CU_ASSERT_TRUE(hb_word_next(&p, end, &w, &n) && hb_word_is(w, n, "pin"));
    CU_ASSERT_TRUE(hb_word_next(&p, end, &w, &n) && hb_word_u64(w, n, 100, &v) && v == 42);
    CU_ASSERT_TRUE(hb_word_copy(&p, end, out, sizeof out) && strcmp(out, "x") == 0);
    CU_ASSERT_FALSE(hb_word_next(&p, end, &w, &n)); /* the end */
    const char two[] = "a  b", *q = two;
    CU_ASSERT_TRUE(hb_word_next(&q, two + 4, &w, &n));
    CU_ASSERT_FALSE(hb_word_next(&q, two + 4, &w, &n)); /* an empty word */
    const char big[] = "toolong", *r = big;
    CU_ASSERT_FALSE(hb_word_copy(&r, big + 7, out, sizeof out));
    CU_ASSERT_TRUE(hb_word_u64("0", 1, 5, &v) && v == 0);
    CU_ASSERT_TRUE(hb_word_u64("9223372036854775807", 19, INT64_MAX, &v) && v == INT64_MAX);
    CU_ASSERT_FALSE(hb_word_u64("9223372036854775808", 19, INT64_MAX, &v));
    CU_ASSERT_TRUE(hb_word_u64("18446744073709551615", 20, UINT64_MAX, &v) && v == UINT64_MAX);
    CU_ASSERT_FALSE(hb_word_u64("18446744073709551616", 20, UINT64_MAX, &v)); /* overflow */
    CU_ASSERT_FALSE(hb_word_u64("6", 1, 5, &v));
    CU_ASSERT_FALSE(hb_word_u64("01", 2, 5, &v));
    CU_ASSERT_FALSE(hb_word_u64("+1", 2, 5, &v));
    CU_ASSERT_FALSE(hb_word_u64("", 0, 5, &v));
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"hex round trip", test_hex_round_trip},
        {"hex rejects bad input", test_hex_rejects},
        {"base64 round trip 0..69 bytes", test_base64_round_trip},
        {"base64 whitespace and rejects", test_base64_whitespace_and_rejects},
        {"sha256 hex known answer", test_sha256_hex},
        {"error prefix and truncation", test_err_prefix_and_truncation},
        {"state file words", test_state_file_words},
        {NULL, NULL},
    };
    return hbtest_main("encode", cases);
}
