/* Unit tests of common/svcday: service days in Seoul, UTC and zones with
 * daylight saving time, and that TZ is left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "svcday.h"

#define S(x) ((int64_t)(x)*1000)

static int32_t day_of(struct svcday *s, int64_t t_ms)
{
    int32_t d = -1;

    assert_int_equal(svcday_day(s, t_ms, &d), SVCDAY_OK);
    return d;
}

static const char *day_text(char *buf, int32_t d)
{
    return clock_text_day(buf, d);
}

static int32_t parse(const char *text)
{
    int32_t d = -1;

    assert_int_equal(svcday_parse(text, &d), SVCDAY_OK);
    return d;
}

static int64_t start_of(struct svcday *s, const char *day)
{
    int64_t ms = 0;

    assert_int_equal(svcday_start_ms(s, parse(day), &ms), SVCDAY_OK);
    return ms;
}

static int64_t base_of(struct svcday *s, const char *day)
{
    int64_t ms = 0;

    assert_int_equal(svcday_gtfs_base_ms(s, parse(day), &ms), SVCDAY_OK);
    return ms;
}

static void test_seoul(void **state)
{
    struct svcday s;
    char buf[CLOCK_TEXT_MAX];

    (void)state;
    assert_int_equal(svcday_init(&s, "Asia/Seoul"), SVCDAY_OK);
    assert_string_equal(svcday_zone(&s), "Asia/Seoul");
    /* 2026-03-10 15:00 UTC is midnight of the 11th in Seoul (UTC+9). */
    assert_string_equal(day_text(buf, day_of(&s, S(1773154800) - 1)),
                        "2026-03-10");
    assert_string_equal(day_text(buf, day_of(&s, S(1773154800))), "2026-03-11");
    assert_int_equal(start_of(&s, "2026-03-11"), S(1773154800));
    assert_int_equal(base_of(&s, "2026-03-11"), S(1773154800));
    /* Back across the cached day and forth again. */
    assert_string_equal(day_text(buf, day_of(&s, S(1773154800) - 1)),
                        "2026-03-10");
    assert_string_equal(day_text(buf, day_of(&s, S(1773154800) + 86399999)),
                        "2026-03-11");
}

static void test_utc(void **state)
{
    struct svcday s;

    (void)state;
    assert_int_equal(svcday_init(&s, "UTC"), SVCDAY_OK);
    assert_int_equal(day_of(&s, 0), 0);
    assert_int_equal(day_of(&s, -1), -1); /* 1969-12-31 */
    assert_int_equal(day_of(&s, 86399999), 0);
    assert_int_equal(day_of(&s, 86400000), 1);
    assert_int_equal(day_of(&s, S(1773154800)), 20522);
    assert_int_equal(start_of(&s, "2026-03-10"), S(20522LL * 86400));
}

/* New York: 2026-03-08 has 23 hours (02:00 EST -> 03:00 EDT), 2026-11-01
 * 25 (02:00 EDT -> 01:00 EST). */
static void test_new_york(void **state)
{
    struct svcday s;
    char buf[CLOCK_TEXT_MAX];

    (void)state;
    assert_int_equal(svcday_init(&s, "America/New_York"), SVCDAY_OK);
    assert_int_equal(start_of(&s, "2026-03-08"), S(1772946000)); /* 05Z */
    assert_int_equal(start_of(&s, "2026-03-09"), S(1773028800)); /* 04Z */
    assert_int_equal(start_of(&s, "2026-03-09") - start_of(&s, "2026-03-08"),
                     S(23 * 3600));
    assert_string_equal(day_text(buf, day_of(&s, S(1773028800) - 1)),
                        "2026-03-08");
    assert_string_equal(day_text(buf, day_of(&s, S(1773028800))), "2026-03-09");
    /* GTFS counts the 8th from noon EDT minus 12 h: 23:00 EST the 7th. */
    assert_int_equal(base_of(&s, "2026-03-08"), S(1772946000 - 3600));
    assert_int_equal(base_of(&s, "2026-03-09"), S(1773028800));

    assert_int_equal(start_of(&s, "2026-11-01"), S(1793505600)); /* 04Z */
    assert_int_equal(start_of(&s, "2026-11-02"), S(1793595600)); /* 05Z */
    assert_int_equal(start_of(&s, "2026-11-02") - start_of(&s, "2026-11-01"),
                     S(25 * 3600));
    /* Noon EST minus 12 h is 01:00 EDT, an hour after midnight. */
    assert_int_equal(base_of(&s, "2026-11-01"), S(1793509200));
    /* The repeated hour 01:00-02:00 is all the 1st. */
    assert_int_equal(day_of(&s, S(1793509200) + S(1800)), parse("2026-11-01"));
    assert_int_equal(day_of(&s, S(1793509200) + S(5400)), parse("2026-11-01"));
    assert_int_equal(day_of(&s, S(1793595600) - 1), parse("2026-11-01"));
}

/* Havana skips midnight: 2026-03-08 begins at 01:00 CDT, 05:00 UTC. */
static void test_gap_at_midnight(void **state)
{
    struct svcday s;

    (void)state;
    assert_int_equal(svcday_init(&s, "America/Havana"), SVCDAY_OK);
    assert_int_equal(start_of(&s, "2026-03-08"), S(1772946000));
    assert_int_equal(day_of(&s, S(1772946000) - 1), parse("2026-03-07"));
    assert_int_equal(day_of(&s, S(1772946000)), parse("2026-03-08"));
}

/* London and Seoul put one instant on different days. */
static void test_zone_moves_day(void **state)
{
    struct svcday seoul, london;
    int64_t t = S(1773154800) + S(3600); /* 2026-03-10 16:00 UTC */

    (void)state;
    assert_int_equal(svcday_init(&seoul, "Asia/Seoul"), SVCDAY_OK);
    assert_int_equal(svcday_init(&london, "Europe/London"), SVCDAY_OK);
    assert_int_equal(day_of(&seoul, t), parse("2026-03-11"));
    assert_int_equal(day_of(&london, t), parse("2026-03-10"));
}

static void test_tz_restored(void **state)
{
    struct svcday s;

    (void)state;
    assert_int_equal(svcday_init(&s, "Asia/Seoul"), SVCDAY_OK);
    setenv("TZ", "Europe/Paris", 1);
    (void)day_of(&s, 0);
    assert_string_equal(getenv("TZ"), "Europe/Paris");
    unsetenv("TZ");
    (void)day_of(&s, S(86400 * 1000LL));
    assert_null(getenv("TZ"));
}

static void test_bad_zone(void **state)
{
    struct svcday s;

    (void)state;
    assert_int_equal(svcday_init(&s, "Asia/Seoul"), SVCDAY_OK);
    assert_int_equal(svcday_init(&s, "Mars/Olympus_Mons"), SVCDAY_ERR_ZONE);
    assert_int_equal(svcday_init(&s, ""), SVCDAY_ERR_ZONE);
    assert_int_equal(svcday_init(&s, "../../etc/passwd"), SVCDAY_ERR_ZONE);
    assert_int_equal(svcday_init(&s, "/etc/localtime"), SVCDAY_ERR_ZONE);
    assert_int_equal(svcday_init(&s, "Asia/Seoul;x"), SVCDAY_ERR_ZONE);
    assert_int_equal(svcday_init(&s, NULL), SVCDAY_ERR_ZONE);
    assert_string_equal(svcday_zone(&s), "Asia/Seoul"); /* unchanged */
}

static void test_parse(void **state)
{
    int32_t d;

    (void)state;
    assert_int_equal(parse("1970-01-01"), 0);
    assert_int_equal(parse("2026-03-10"), 20522);
    assert_int_equal(parse("1969-12-31"), -1);
    assert_int_equal(svcday_parse("2026-02-30", &d), SVCDAY_ERR_DATE);
    assert_int_equal(svcday_parse("2026-3-10", &d), SVCDAY_ERR_DATE);
    assert_int_equal(svcday_parse("2026-03-10x", &d), SVCDAY_ERR_DATE);
    assert_int_equal(svcday_parse("yesterday", &d), SVCDAY_ERR_DATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seoul),
        cmocka_unit_test(test_utc),
        cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_gap_at_midnight),
        cmocka_unit_test(test_zone_moves_day),
        cmocka_unit_test(test_tz_restored),
        cmocka_unit_test(test_bad_zone),
        cmocka_unit_test(test_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
