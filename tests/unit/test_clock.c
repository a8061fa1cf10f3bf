/* Unit tests of common/clock: time text for every int64, back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "clock.h"

/* clock_text_ms into a buffer of exactly CLOCK_TEXT_MAX bytes followed by a
 * guard: the text must end inside the buffer and the guard stay intact. */
static const char *text_ms(char *area, size_t arealen, int64_t ms)
{
    memset(area, 0x5a, arealen);
    clock_text_ms(area, ms);
    assert_true(memchr(area, '\0', CLOCK_TEXT_MAX) != NULL);
    for (size_t i = CLOCK_TEXT_MAX; i < arealen; i++)
        assert_int_equal((unsigned char)area[i], 0x5a);
    return area;
}

static void test_text_ms_ordinary(void **state)
{
    char area[CLOCK_TEXT_MAX + 32];

    assert_string_equal(text_ms(area, sizeof area, 0),
                        "1970-01-01 00:00:00.000+00");
    assert_string_equal(text_ms(area, sizeof area, -1),
                        "1969-12-31 23:59:59.999+00");
    assert_string_equal(text_ms(area, sizeof area, -1000),
                        "1969-12-31 23:59:59.000+00");
    assert_string_equal(text_ms(area, sizeof area, 1767225600123LL),
                        "2026-01-01 00:00:00.123+00");
    /* The rule set's upper bound: 9999-12-31 23:59:59.999. */
    assert_string_equal(text_ms(area, sizeof area, 253402300799999LL),
                        "9999-12-31 23:59:59.999+00");
}

static void test_text_ms_extremes(void **state)
{
    char area[CLOCK_TEXT_MAX + 32];

    /* The values of the issue: reached from unvalidated door times. */
    text_ms(area, sizeof area, -4000000000000000000LL);
    assert_int_equal(area[0], '-');
    assert_non_null(strstr(area, ".000+00"));
    assert_string_equal(text_ms(area, sizeof area, INT64_MIN),
                        "-292275055-05-16 16:47:04.192+00");
    assert_string_equal(text_ms(area, sizeof area, INT64_MAX),
                        "292278994-08-17 07:12:55.807+00");
    text_ms(area, sizeof area, INT64_MIN + 1);
    assert_non_null(strstr(area, ".193+00"));
    text_ms(area, sizeof area, 10000000000000000LL); /* 1e16, year 318857 */
    assert_non_null(strstr(area, "318857-"));
}

static void test_text_day(void **state)
{
    char buf[CLOCK_TEXT_MAX];

    assert_string_equal(clock_text_day(buf, 0), "1970-01-01");
    assert_string_equal(clock_text_day(buf, 20454), "2026-01-01");
}

static void test_backoff(void **state)
{
    int64_t b = 0;

    assert_int_equal(clock_backoff_next(&b, 30000), 500);
    assert_int_equal(clock_backoff_next(&b, 30000), 1000);
    for (int i = 0; i < 20; i++)
        clock_backoff_next(&b, 30000);
    assert_int_equal(b, 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_ms_ordinary),
        cmocka_unit_test(test_text_ms_extremes),
        cmocka_unit_test(test_text_day),
        cmocka_unit_test(test_backoff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
