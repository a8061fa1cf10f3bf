/* Unit tests of common/buf: appends across many doublings keep every byte,
 * printf that outgrows the room left, binary data with NULs, reserve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_empty(void **state)
{
    struct buf b = {0};

    (void)state;
    assert_int_equal(buf_printf(&b, "%s", ""), BUF_OK);
    assert_non_null(b.p);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
}

/* 200,000 numbers: the buffer doubles several times past its first size,
 * and every number is where it belongs, in order. */
static void test_printf_grows(void **state)
{
    struct buf b = {0};
    size_t want = 0;
    char one[32];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        assert_int_equal(buf_printf(&b, "%d,", i), BUF_OK);
        want += (size_t)snprintf(one, sizeof one, "%d,", i);
    }
    assert_int_equal(b.len, want);
    assert_true(b.cap > 65536 * 4);
    assert_int_equal(strlen(b.p), b.len);
    {
        const char *p = b.p;

        for (int i = 0; i < 200000; i++) {
            char *end;

            assert_int_equal(strtol(p, &end, 10), i);
            assert_int_equal(*end, ',');
            p = end + 1;
        }
        assert_int_equal(*p, '\0');
    }
    buf_free(&b);
}

/* One printf longer than the room left (and than the first size): it
 * comes out whole, not cut at the old capacity. */
static void test_printf_long(void **state)
{
    struct buf b = {0};
    size_t n = 300000;
    char *big = malloc(n + 1);

    (void)state;
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    assert_int_equal(buf_printf(&b, "a"), BUF_OK);
    assert_int_equal(buf_printf(&b, "<%s>", big), BUF_OK);
    assert_int_equal(b.len, n + 3);
    assert_int_equal(b.p[0], 'a');
    assert_int_equal(b.p[1], '<');
    assert_int_equal(b.p[n + 1], 'x');
    assert_int_equal(b.p[n + 2], '>');
    assert_int_equal(b.p[n + 3], '\0');
    free(big);
    buf_free(&b);
}

/* Binary rows hold NULs: append and reserve keep the bytes as given. */
static void test_binary(void **state)
{
    struct buf b = {0};
    static const char row[5] = {0, 1, 0, 2, (char)0xff};

    (void)state;
    for (int i = 0; i < 20000; i++)
        assert_int_equal(buf_append(&b, row, sizeof row), BUF_OK);
    assert_int_equal(b.len, 20000 * sizeof row);
    for (int i = 0; i < 20000; i++)
        assert_memory_equal(b.p + (size_t)i * sizeof row, row, sizeof row);
    assert_int_equal(buf_reserve(&b, 100), BUF_OK);
    assert_true(b.cap >= b.len + 101);
    memcpy(b.p + b.len, "tail", 4);
    b.len += 4;
    assert_memory_equal(b.p + b.len - 4, "tail", 4);
    buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    assert_true(b.cap > 0); /* memory kept for the next batch */
    buf_free(&b);
}

static void test_reserve_too_much(void **state)
{
    struct buf b = {0};

    (void)state;
    assert_int_equal(buf_printf(&b, "keep"), BUF_OK);
    assert_int_equal(buf_reserve(&b, SIZE_MAX - 2), BUF_ERR_NOMEM);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.p, "keep");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_printf_long),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_reserve_too_much),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
