/* live_shapedb: the day's shapes from query answers (built without a
 * server), each kept only where it runs through its trips' stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "live_shapedb.h"
#include "pgresult.h"
#include "trips_db.h"

/* Two stops 1,112 m apart, north-south, and four trips between them. */
static const char *const stops[] = {
    "S1", "37.50", "126.60", "S2", "37.51", "126.60",
};
static const char *const times[] = {
    "T1", "R1", "B1", "0", "S1", "1", "25200", "25200",
    "T1", "R1", "B1", "0", "S2", "2", "25800", "25800",
    "T2", "R1", "B2", "0", "S1", "1", "25200", "25200",
    "T2", "R1", "B2", "0", "S2", "2", "25800", "25800",
    "T3", "R1", "B3", "0", "S1", "1", "25200", "25200",
    "T3", "R1", "B3", "0", "S2", "2", "25800", "25800",
    "T4", "R1", "B4", "0", "S1", "1", "25200", "25200",
    "T4", "R1", "B4", "0", "S2", "2", "25800", "25800",
};
/* BENT: the road bends 440 m east between the stops. FAR: a parallel road
 * 880 m east (the stops are not on it). BAD: an impossible latitude. */
static const char *const points[] = {
    "BAD",    "37.50",  "126.60", "BAD",    "95",      "126.60", "BENT",
    "37.50",  "126.60", "BENT",   "37.505", "126.605", "BENT",   "37.51",
    "126.60", "FAR",    "37.50",  "126.61", "FAR",     "37.51",  "126.61",
};
static const char *const trip_shapes[] = {
    "T1", "BENT", "T2", "FAR", "T3", "BAD", "T4", "NONE", "T9", "BENT",
};

static void load_feed(struct trips_feed *f)
{
    PGresult *s = pgresult_text(3, 2, stops), *t = pgresult_text(8, 8, times);
    char err[256];

    assert_int_equal(
        trips_db_feed_from_results(s, t, "2026-12-01", f, err, sizeof err),
        TRIPS_DB_OK);
    assert_int_equal(f->ntrips, 4);
    PQclear(s);
    PQclear(t);
}

static int trip_index(const struct trips_feed *f, const char *id)
{
    for (size_t i = 0; i < f->ntrips; i++)
        if (!strcmp(f->trips[i].id, id))
            return (int)i;
    fail_msg("no trip %s", id);
    return -1;
}

static void test_shapes(void **state)
{
    PGresult *p = pgresult_text(3, 7, points),
             *t = pgresult_text(2, 5, trip_shapes);
    struct trips_feed f;
    struct live_shapedb db;
    struct live_shape line, straight;
    char err[256];
    int t1, t2;

    (void)state;
    load_feed(&f);
    assert_int_equal(live_shapedb_from_results(&f, p, t, &db, err, sizeof err),
                     LIVE_SHAPEDB_OK);
    /* T1 follows BENT; T2's shape misses its stops, T3's has a bad point,
     * T4's does not exist: straight lines. T9 is not today's: skipped. */
    assert_int_equal(db.used, 1);
    assert_int_equal(db.refused, 3);
    t1 = trip_index(&f, "T1");
    t2 = trip_index(&f, "T2");
    assert_true(db.trip_shape[t1] >= 0);
    assert_int_equal(db.trip_shape[t2], -1);
    assert_int_equal(db.trip_shape[trip_index(&f, "T3")], -1);
    assert_int_equal(db.trip_shape[trip_index(&f, "T4")], -1);
    assert_int_equal(db.view.n[db.trip_shape[t1]], 3);

    /* The tracker's line for T1 is the road, longer than the straight one
     * T2 keeps, and its stops sit at its ends. */
    assert_int_equal(
        live_shape_build(&f, (size_t)t1, &db.view, &line, err, sizeof err),
        LIVE_SHAPE_OK);
    assert_int_equal(
        live_shape_build(&f, (size_t)t2, &db.view, &straight, err, sizeof err),
        LIVE_SHAPE_OK);
    assert_true(fabs(straight.len - 1112) < 5);
    assert_true(line.len > straight.len + 300);
    assert_true(fabs(line.stop_d[1] - line.len) < 1);
    live_shape_free(&line);
    live_shape_free(&straight);
    live_shapedb_free(&db);
    trips_db_feed_free(&f);
    PQclear(p);
    PQclear(t);
}

static void test_wrong_columns(void **state)
{
    PGresult *p = pgresult_text(2, 0, NULL), *t = pgresult_text(2, 0, NULL);
    struct trips_feed f;
    struct live_shapedb db;
    char err[256] = "";

    (void)state;
    load_feed(&f);
    assert_int_equal(live_shapedb_from_results(&f, p, t, &db, err, sizeof err),
                     LIVE_SHAPEDB_ERR_QUERY);
    assert_non_null(strstr(err, "columns"));
    assert_int_equal(db.nshapes, 0);
    assert_null(db.view.trip_shape);
    live_shapedb_free(&db);
    trips_db_feed_free(&f);
    PQclear(p);
    PQclear(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_wrong_columns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
