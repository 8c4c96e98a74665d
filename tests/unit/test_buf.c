/* common/buf.c: the bounded buffer, growable arrays, hb_format, string lists. */
#include "hbtest.h"

#include "common/buf.h"
#include "common/fail.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_buf_grows_to_its_cap(void)
{
    hb_err err = {0};
    hb_buf b = HB_BUF_INIT(300);
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), "");
    /* Past the first 64 bytes and several doublings, exactly up to the cap. */
    for (int i = 0; i < 30; i++)
        HBTEST_ASSERT_OK(hb_buf_adds(&b, "0123456789", &err), &err);
    CU_ASSERT_EQUAL(b.len, 300);
    CU_ASSERT_EQUAL(strlen(hb_buf_str(&b)), 300);
    CU_ASSERT(b.cap > b.len);
    /* One byte more is refused and changes nothing: nothing is cut. */
    HBTEST_ASSERT_FAIL(hb_buf_adds(&b, "x", &err), HB_E_REFUSED, &err,
                       "text longer than 300 bytes");
    CU_ASSERT_EQUAL(b.len, 300);
    HBTEST_ASSERT_STATUS(hb_buf_addf(&b, &err, "%d", 7), HB_E_REFUSED, &err);
    CU_ASSERT_EQUAL(b.len, 300);
    /* A huge length cannot wrap the check around. */
    HBTEST_ASSERT_STATUS(hb_buf_add(&b, "x", SIZE_MAX, &err), HB_E_REFUSED, &err);
    hb_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
}

static void test_buf_addf_take_reset(void)
{
    hb_err err = {0};
    hb_buf b;
    hb_buf_init(&b, 1024);
    HBTEST_ASSERT_OK(hb_buf_addf(&b, &err, "%s=%d", "n", 42), &err);
    HBTEST_ASSERT_OK(hb_buf_add(&b, ";\0hidden", 1, &err), &err);
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), "n=42;");
    hb_buf_reset(&b);
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), "");
    CU_ASSERT_PTR_NOT_NULL(b.data); /* memory kept */
    HBTEST_ASSERT_OK(hb_buf_adds(&b, "again", &err), &err);
    char *s = hb_buf_take(&b);
    CU_ASSERT_STRING_EQUAL(s, "again");
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    free(s);
    /* An empty buffer hands over "", not NULL. */
    s = hb_buf_take(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    hb_buf_free(&b);
}

static void test_buf_secret(void)
{
    hb_err err = {0};
    hb_buf b = HB_BUF_INIT(4096);
    b.secret = true;
    /* Growth in secret mode moves the text by hand (no realloc copy left
     * behind); the content must survive every move. */
    char want[2001];
    for (int i = 0; i < 2000; i++) {
        want[i] = (char)('a' + i % 26);
        HBTEST_ASSERT_OK(hb_buf_add(&b, &want[i], 1, &err), &err);
    }
    want[2000] = '\0';
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), want);
    hb_buf_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), "");
    HBTEST_ASSERT_OK(hb_buf_adds(&b, "1234", &err), &err);
    CU_ASSERT_STRING_EQUAL(hb_buf_str(&b), "1234");
    hb_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
}

typedef struct item {
    int value;
    char tag[12];
} item;

static void test_array_push_grows(void)
{
    hb_err err = {0};
    item *arr = NULL;
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        item *slot = HB_ARRAY_PUSH(arr, n, 1000, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(slot);
        /* A new element is zeroed. */
        CU_ASSERT_EQUAL(slot->value, 0);
        CU_ASSERT_EQUAL(slot->tag[0], '\0');
        slot->value = i;
        CU_ASSERT_EQUAL(n, (size_t)i + 1);
    }
    /* Every element survived every growth. */
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(arr[i].value, i);
    /* At the maximum: refused, nothing changes. */
    CU_ASSERT_PTR_NULL(HB_ARRAY_PUSH(arr, n, 1000, &err));
    CU_ASSERT_EQUAL(err.status, HB_E_REFUSED);
    HBTEST_ASSERT_MSG(&err, "more than 1000 entries");
    CU_ASSERT_EQUAL(n, 1000);
    CU_ASSERT_EQUAL(arr[999].value, 999);
    free(arr);
}

static void test_array_push_max_zero_and_null_err(void)
{
    item *arr = NULL;
    size_t n = 0;
    CU_ASSERT_PTR_NULL(HB_ARRAY_PUSH(arr, n, 0, NULL));
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(arr);
}

/* HB_PUSH in the one error idiom: the status is right even without an err. */
static hb_status push_n(item **arr, size_t *n, size_t count, size_t max, hb_err *err)
{
    hb_status st = HB_OK;
    for (size_t i = 0; i < count; i++) {
        item *slot = NULL;
        HB_PUSH(slot, *arr, *n, max);
        slot->value = (int)i;
    }
cleanup:
    return st;
}

static void test_push_macro(void)
{
    hb_err err = {0};
    item *arr = NULL;
    size_t n = 0;
    HBTEST_ASSERT_OK(push_n(&arr, &n, 5, 8, &err), &err);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(arr[4].value, 4);
    HBTEST_ASSERT_FAIL(push_n(&arr, &n, 5, 8, &err), HB_E_REFUSED, &err, "more than 8 entries");
    CU_ASSERT_EQUAL(n, 8);
    CU_ASSERT_EQUAL(push_n(&arr, &n, 1, 8, NULL), HB_E_REFUSED);
    CU_ASSERT_EQUAL(n, 8);
    free(arr);
}

static void test_format_refuses_truncation(void)
{
    hb_err err = {0};
    char out[8];
    HBTEST_ASSERT_OK(hb_format(out, sizeof out, "a label", &err, "%s-%d", "ab", 1234), &err);
    CU_ASSERT_STRING_EQUAL(out, "ab-1234");
    /* Eight characters do not fit in eight bytes with the NUL: refused, and
     * the buffer holds nothing half-written. */
    HBTEST_ASSERT_FAIL(hb_format(out, sizeof out, "a label", &err, "%s", "abcdefgh"), HB_E_USAGE,
                       &err, "a label is too long (8 bytes, at most 7)");
    CU_ASSERT_STRING_EQUAL(out, "");
    HBTEST_ASSERT_FAIL(hb_format(out, 0, "nothing", &err, "x"), HB_E_USAGE, &err,
                       "nothing is too long (1 bytes, at most 0)");
}

static void test_strlist(void)
{
    hb_err err = {0};
    hb_strlist a = {0}, b = {0};
    HBTEST_ASSERT_OK(hb_strlist_add(&a, "first", &err), &err);
    HBTEST_ASSERT_OK(hb_strlist_addf(&a, &err, "second %d of %s", 2, "two"), &err);
    CU_ASSERT_EQUAL_FATAL(a.n, 2);
    CU_ASSERT_STRING_EQUAL(a.items[0], "first");
    CU_ASSERT_STRING_EQUAL(a.items[1], "second 2 of two");
    /* Copies, not the caller's strings. */
    char mine[] = "mine";
    HBTEST_ASSERT_OK(hb_strlist_add(&b, mine, &err), &err);
    mine[0] = 'X';
    CU_ASSERT_STRING_EQUAL(b.items[0], "mine");
    HBTEST_ASSERT_OK(hb_strlist_extend(&b, &a, &err), &err);
    CU_ASSERT_EQUAL_FATAL(b.n, 3);
    CU_ASSERT_STRING_EQUAL(b.items[2], "second 2 of two");
    CU_ASSERT_PTR_NOT_EQUAL(b.items[1], a.items[0]);
    hb_strlist_free(&a);
    CU_ASSERT_EQUAL(a.n, 0);
    CU_ASSERT_PTR_NULL(a.items);
    hb_strlist_free(&b);
    hb_strlist_free(NULL);
}

static void test_strlist_cap(void)
{
    hb_err err = {0};
    hb_strlist l = {0};
    for (int i = 0; i < 10000; i++)
        HBTEST_ASSERT_OK(hb_strlist_add(&l, "w", &err), &err);
    HBTEST_ASSERT_STATUS(hb_strlist_add(&l, "one too many", &err), HB_E_REFUSED, &err);
    CU_ASSERT_EQUAL(l.n, 10000);
    hb_strlist_free(&l);
}

static void test_memdup(void)
{
    const uint8_t bytes[] = {'a', 0, 'b'};
    uint8_t *p = hb_memdup(bytes, sizeof bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(memcmp(p, bytes, sizeof bytes), 0);
    CU_ASSERT_EQUAL(p[3], '\0');
    free(p);
    char *e = hb_memdup(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e, "");
    free(e);
    CU_ASSERT_PTR_NULL(hb_memdup(bytes, SIZE_MAX));
}

int main(void)
{
    static const hbtest_case cases[] = {
        {"hb_buf grows to its cap and refuses past it", test_buf_grows_to_its_cap},
        {"hb_buf addf, take, reset", test_buf_addf_take_reset},
        {"hb_buf secret growth keeps the text", test_buf_secret},
        {"HB_ARRAY_PUSH grows, zeroes, stops at max", test_array_push_grows},
        {"HB_ARRAY_PUSH with max 0 and no err", test_array_push_max_zero_and_null_err},
        {"HB_PUSH sets the status and reaches cleanup", test_push_macro},
        {"hb_format refuses to truncate", test_format_refuses_truncation},
        {"hb_strlist add, addf, extend, free", test_strlist},
        {"hb_strlist stops at 10,000 entries", test_strlist_cap},
        {"hb_memdup", test_memdup},
        {NULL, NULL},
    };
    return hbtest_main("buf", cases);
}
