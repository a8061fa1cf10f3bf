/* trips_db's shared conversions, on results built without a server: the
 * timetable as shuttle-live and the rebuild both read it, and a stored
 * passenger count as a door episode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "pgresult.h"
#include "trips_db.h"

static const char *const stops[] = {
    "S2", "37.60", "126.70", /* out of order: strcmp order is rebuilt */
    "S1", "37.50", "126.60",
};

static void test_feed(void **state)
{
    static const char *const times[] = {
        "T1", "R1", "B1", "0", "S1", "1", "25200", "25230",
        "T1", "R1", "B1", "0", "S2", "2", "25800", "25800",
        "T2", "R1", "B1", "1", "S2", "1", "27000", "27000",
        "T2", "R1", "B1", "1", "S1", "2", "27600", "27660",
    };
    PGresult *s = pgresult_text(3, 2, stops), *t = pgresult_text(8, 4, times);
    struct trips_feed f;
    char err[256];

    (void)state;
    assert_int_equal(
        trips_db_feed_from_results(s, t, "2026-12-01", &f, err, sizeof err),
        TRIPS_DB_OK);
    assert_int_equal(f.nstops, 2);
    assert_string_equal(f.stops[0].id, "S1");
    assert_int_equal(f.ntrips, 2);
    assert_string_equal(f.trips[1].id, "T2");
    assert_string_equal(f.trips[1].block_id, "B1");
    assert_int_equal(f.trips[1].direction, 1);
    assert_int_equal(f.trips[1].n, 2);
    /* T2's second call is at S1, which sorts first. */
    assert_int_equal(f.st[f.trips[1].first + 1].stop, 0);
    assert_int_equal(f.st[f.trips[1].first + 1].dep_s, 27660);
    assert_int_equal(f.st[f.trips[0].first].arr_s, 25200);
    trips_db_feed_free(&f);
    PQclear(s);
    PQclear(t);
}

static void test_feed_refused(void **state)
{
    static const char *const unknown[] = {
        "T1", "R1", "B1", "0", "S9", "1", "25200", "25230",
    };
    PGresult *s = pgresult_text(3, 2, stops), *t = pgresult_text(8, 1, unknown);
    PGresult *none = pgresult_text(8, 0, NULL);
    struct trips_feed f;
    char err[256];

    (void)state;
    assert_int_equal(
        trips_db_feed_from_results(s, t, "2026-12-01", &f, err, sizeof err),
        TRIPS_DB_ERR_FEED);
    assert_non_null(strstr(err, "S9"));
    trips_db_feed_free(&f);
    assert_int_equal(
        trips_db_feed_from_results(s, none, "2026-12-01", &f, err, sizeof err),
        TRIPS_DB_ERR_FEED);
    assert_non_null(strstr(err, "2026-12-01"));
    trips_db_feed_free(&f);
    /* The columns of another query are refused, not misread. */
    assert_int_equal(
        trips_db_feed_from_results(t, s, "2026-12-01", &f, err, sizeof err),
        TRIPS_DB_ERR_QUERY);
    trips_db_feed_free(&f);
    PQclear(s);
    PQclear(t);
    PQclear(none);
}

static void test_door_row(void **state)
{
    static const char *const row[] = {
        "bus-1", "1764540000000", "1764539990000", "0", "NaN", "NaN", "3", "1",
        "-1",
    };
    PGresult *r = pgresult_text(9, 1, row);
    struct trips_door d;

    (void)state;
    memset(&d, 0, sizeof d);
    trips_db_door_from_row(r, 0, 1, &d);
    assert_true(d.t_ms == 1764540000000LL);
    assert_true(d.open_ms == 1764539990000LL);
    assert_true(d.close_ms == 0);
    assert_true(isnan(d.lat) && isnan(d.lon));
    assert_int_equal(d.boarded, 3);
    assert_int_equal(d.alighted, 1);
    assert_int_equal(d.load_after, -1);
    assert_int_equal(d.visit, -1);
    PQclear(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed),
        cmocka_unit_test(test_feed_refused),
        cmocka_unit_test(test_door_row),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
