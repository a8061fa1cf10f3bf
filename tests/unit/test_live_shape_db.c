/* live_shape_db on query results made in memory (PQmakeEmptyPGresult,
 * no server): shapes grouped by id, trips mapped to them by id, the
 * unusable ones left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "live_shape_db.h"

/* A result with NCOL text columns and the rows of CELLS (row-major). */
static PGresult *result(int ncol, const char *const *names,
                        const char *const *cells, int nrow)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[4];

    assert_non_null(r);
    memset(att, 0, sizeof att);
    for (int c = 0; c < ncol; c++) {
        att[c].name = (char *)names[c];
        att[c].typid = 25; /* text */
        att[c].typlen = -1;
        att[c].atttypmod = -1;
    }
    assert_int_equal(PQsetResultAttrs(r, ncol, att), 1);
    for (int i = 0; i < nrow; i++)
        for (int c = 0; c < ncol; c++)
            assert_int_equal(PQsetvalue(r, i, c, (char *)cells[i * ncol + c],
                                        (int)strlen(cells[i * ncol + c])),
                             1);
    return r;
}

struct world {
    struct trips_stop stops[2];
    struct trips_stop_time st[8];
    struct trips_trip trips[4];
    struct trips_feed f;
};

/* Four trips A..D of the same two stops. */
static void world_init(struct world *w)
{
    static const char *const ids[] = {"D", "A", "C", "B"};

    memset(w, 0, sizeof *w);
    strcpy(w->stops[0].id, "s0");
    w->stops[0].lat = 37.5;
    w->stops[0].lon = 127.0;
    strcpy(w->stops[1].id, "s1");
    w->stops[1].lat = 37.5;
    w->stops[1].lon = 127.01;
    for (int i = 0; i < 4; i++) {
        strcpy(w->trips[i].id, ids[i]);
        w->trips[i].first = (size_t)(2 * i);
        w->trips[i].n = 2;
        w->trips[i].direction = -1;
        w->st[2 * i] = (struct trips_stop_time){0, 1, 0, 0};
        w->st[2 * i + 1] = (struct trips_stop_time){1, 2, 600, 600};
    }
    w->f.stops = w->stops;
    w->f.nstops = 2;
    w->f.st = w->st;
    w->f.nst = 8;
    w->f.trips = w->trips;
    w->f.ntrips = 4;
}

static void test_from_results(void **state)
{
    static const char *const pn[] = {"shape_id", "lat", "lon"};
    /* "bend" (3 points, north of the stops), "dot" (one point), "flat"
     * (two equal points): grouped, not in strcmp order. */
    static const char *const pts[] = {
        "bend", "37.5", "127.0",  "bend", "37.502", "127.005",
        "bend", "37.5", "127.01", "dot",  "37.5",   "127.0",
        "flat", "37.5", "127.0",  "flat", "37.5",   "127.0",
    };
    static const char *const tn[] = {"trip_id", "shape_id"};
    static const char *const trips[] = {
        "A", "bend", "B", "dot", "C", "flat", "D", "nowhere", "Z", "bend",
    };
    struct world w;
    struct live_shape_db d;
    struct live_shape line;
    PGresult *rp = result(3, pn, pts, 6), *rt = result(2, tn, trips, 5);
    char err[128];
    int a;

    (void)state;
    world_init(&w);
    assert_int_equal(
        live_shape_db_from_results(rp, rt, &w.f, &d, err, sizeof err),
        LIVE_SHAPE_DB_OK);
    assert_int_equal(d.sh.nshapes, 3);
    /* Trip A (index 1) has "bend", the first shape: three points. */
    a = d.sh.trip_shape[1];
    assert_int_equal(a, 0);
    assert_int_equal(d.sh.n[a], 3);
    assert_true(fabs(d.sh.pts[d.sh.first[a] + 1].lat - 37.502) < 1e-9);
    assert_true(fabs(d.sh.pts[d.sh.first[a] + 1].lon - 127.005) < 1e-9);
    /* D: unknown shape; B: one point; C: no length. */
    assert_int_equal(d.sh.trip_shape[0], -1);
    assert_int_equal(d.sh.trip_shape[3], -1);
    assert_int_equal(d.sh.trip_shape[2], -1);
    /* The line built from it follows the bend (about 220 m north of the
     * stops half-way), not the straight stop line. */
    assert_int_equal(live_shape_build(&w.f, 1, &d.sh, &line, err, sizeof err),
                     LIVE_SHAPE_OK);
    assert_int_equal(line.n, 3);
    assert_true(line.len > 900 && line.len < 1000);
    live_shape_free(&line);
    assert_int_equal(live_shape_build(&w.f, 2, &d.sh, &line, err, sizeof err),
                     LIVE_SHAPE_OK);
    assert_int_equal(line.n, 2); /* straight from stop to stop */
    live_shape_free(&line);
    live_shape_db_free(&d);
    PQclear(rp);
    PQclear(rt);
}

static void test_wrong_columns(void **state)
{
    static const char *const tn[] = {"trip_id", "shape_id"};
    static const char *const trips[] = {"A", "bend"};
    struct world w;
    struct live_shape_db d;
    PGresult *rt = result(2, tn, trips, 1);
    char err[128];

    (void)state;
    world_init(&w);
    assert_int_equal(
        live_shape_db_from_results(rt, rt, &w.f, &d, err, sizeof err),
        LIVE_SHAPE_DB_ERR_QUERY);
    assert_non_null(strstr(err, "columns"));
    live_shape_db_free(&d);
    PQclear(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_results),
        cmocka_unit_test(test_wrong_columns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
