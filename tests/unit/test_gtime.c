/* test_gtime: carried time, and the GPS week-rollover guard against what
 * the backend's rules (wire_record_validate) would refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gtime.h"
#include "wire.h"

#define WALL 1796083200000LL /* 2026-12-01T00:00:00Z */
#define DAY (86400LL * 1000)

/* Would the backend, with its clock at WALL, take a position at t? */
static int backend_takes(int64_t t)
{
    struct wire_record r;

    wire_position_init(&r);
    r.seq = 1;
    r.t_ms = t;
    r.u.pos.lat = 37.5;
    r.u.pos.lon = 127.0;
    r.u.pos.fix_mode = 3;
    return wire_record_validate(&r, WALL, NULL, NULL, 0) == WIRE_OK;
}

static void test_carried(void **state)
{
    struct gtime g;
    enum wire_time_source src;

    (void)state;
    gtime_init(&g);
    assert_int_equal(gtime_now(&g, 500, 1234, &src), 1234);
    assert_int_equal(src, WIRE_TIME_SYSTEM);
    gtime_fix(&g, WALL, 1000);
    assert_int_equal(gtime_now(&g, 3500, 1234, &src), WALL + 2500);
    assert_int_equal(src, WIRE_TIME_CARRIED);
}

static void test_rollover(void **state)
{
    int moved;

    (void)state;
    /* In step with the clock: untouched. */
    assert_int_equal(gtime_rollover(WALL + 3000, WALL, &moved), WALL + 3000);
    assert_int_equal(moved, 0);
    /* 1024 weeks ahead or behind a set clock: corrected. */
    assert_int_equal(
        gtime_rollover(WALL + GTIME_GPS_EPOCH_MS + 3000, WALL, &moved),
        WALL + 3000);
    assert_int_equal(moved, 1);
    assert_int_equal(
        gtime_rollover(WALL - GTIME_GPS_EPOCH_MS - 3000, WALL, &moved),
        WALL - 3000);
    assert_int_equal(moved, 1);
    /* A receiver that missed a rollover, no clock: 2006 becomes 2026. */
    assert_int_equal(gtime_rollover(WALL - GTIME_GPS_EPOCH_MS, 0, &moved),
                     WALL);
    assert_int_equal(moved, 1);
    /* No clock and a plausible fix: GPS is the truth. */
    assert_int_equal(gtime_rollover(WALL, 864000000, &moved), WALL);
    assert_int_equal(moved, 0);
}

/* gpsd 3.22 puts two of the shared captures in 2028 and 2034: 1024 weeks
 * back lands in 2008 and 2014, nowhere near the clock, so they stay as
 * they are, and the backend's rules refuse them: the bus refuses them at
 * source (onboard_refuse) instead of sending dead letters. */
static void test_rollover_far_future(void **state)
{
    const int64_t y2028 = 1843603200000LL; /* 2028-06-03 */
    const int64_t y2034 = 2032992000000LL; /* 2034-06-04 */
    int moved;

    (void)state;
    assert_int_equal(gtime_rollover(y2028, WALL, &moved), y2028);
    assert_int_equal(moved, 0);
    assert_int_equal(gtime_rollover(y2034, WALL, &moved), y2034);
    assert_int_equal(moved, 0);
    assert_false(backend_takes(y2028));
    assert_false(backend_takes(y2034));
    assert_true(backend_takes(
        gtime_rollover(WALL + GTIME_GPS_EPOCH_MS + DAY / 2, WALL, &moved)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carried),
        cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_rollover_far_future),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
