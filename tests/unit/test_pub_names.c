/* test_pub_names: names and translations from fake query results onto a
 * hand-made timetable's indices: fallbacks, unknown rows, bad UTF-8,
 * bad colours, wrong columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgresult.h"
#include "pub_names.h"

struct world {
    struct trips_stop stops[3];
    struct trips_stop_time st[6];
    struct trips_trip trips[2];
    struct trips_feed f;
};

static struct world w;

/* Stops A B C (sorted by id as the loader keeps them); T0 A->B->C on R1,
 * T1 C->B->A on R2. */
static void world_feed(void)
{
    const char *ids[] = {"A", "B", "C"};

    memset(&w, 0, sizeof w);
    for (int i = 0; i < 3; i++)
        strcpy(w.stops[i].id, ids[i]);
    for (int t = 0; t < 2; t++) {
        for (int j = 0; j < 3; j++)
            w.st[3 * t + j] = (struct trips_stop_time){
                t ? 2 - j : j, j + 1, 28800 + 120 * j, 28800 + 120 * j};
        snprintf(w.trips[t].id, sizeof w.trips[t].id, "T%d", t);
        strcpy(w.trips[t].route_id, t ? "R2" : "R1");
        w.trips[t].first = (size_t)(3 * t);
        w.trips[t].n = 3;
        w.trips[t].direction = t;
    }
    w.f.stops = w.stops;
    w.f.nstops = 3;
    w.f.st = w.st;
    w.f.nst = 6;
    w.f.trips = w.trips;
    w.f.ntrips = 2;
    assert_int_equal(trips_feed_finish(&w.f), 0);
}

static void test_from_results(void **state)
{
    /* Out of order, one stop not in the feed, B without a translation,
     * C with a byte that is not UTF-8. */
    const char *stops[] = {
        "C",
        "C1",
        "bad\xff name",
        "",
        "",
        "Z",
        "Z1",
        "nowhere",
        "Nowhere",
        "",
        "A",
        "A1",
        "검암역",
        "Geomam Station",
        "AREX",
        "B",
        "",
        "독정역",
        "",
        "",
    };
    const char *routes[] = {
        "R2",
        "2",
        "검단신도시 - 검단산단",
        "",
        "43a047",
        "FFFFFFF",
        "R1",
        "1",
        "검암역 - 검단산단",
        "Geomam - Geomdan",
        "1E88E5",
        "FFFFFF",
    };
    const char *trips[] = {
        "T1", "검암역", "Geomam Station", "T9", "x", "x", "T0", "검단산단", "",
    };
    const char *feed[] = {"v2025.1", "서구", "Seo-gu", "Asia/Seoul", "ko"};
    PGresult *rs = pgresult_text(5, 4, stops);
    PGresult *rr = pgresult_text(6, 2, routes);
    PGresult *rt = pgresult_text(3, 3, trips);
    PGresult *rf = pgresult_text(5, 1, feed);
    struct pub_names n;
    char err[128];

    (void)state;
    world_feed();
    assert_int_equal(
        pub_names_from_results(&w.f, rs, rr, rt, rf, &n, err, sizeof err),
        PUB_NAMES_OK);
    PQclear(rs);
    PQclear(rr);
    PQclear(rt);
    PQclear(rf);
    /* Copied: the results are gone. */
    assert_int_equal(n.nstops, 3);
    assert_string_equal(n.stops[0].name, "검암역");
    assert_string_equal(n.stops[0].name_en, "Geomam Station");
    assert_string_equal(n.stops[0].code, "A1");
    assert_string_equal(n.stops[0].desc, "AREX");
    assert_string_equal(n.stops[1].name_en, "독정역"); /* fallback */
    assert_string_equal(n.stops[1].code, "");
    assert_string_equal(n.stops[2].name, "bad\xef\xbf\xbd name");
    assert_true(pub_names_utf8_valid(n.stops[2].name_en));

    assert_int_equal(n.nroutes, 2);
    assert_string_equal(n.routes[0].id, "R2"); /* the query's order */
    assert_string_equal(n.routes[0].color, "43a047");
    assert_string_equal(n.routes[0].text_color, ""); /* 7 digits */
    assert_string_equal(n.routes[0].long_name_en, "검단신도시 - 검단산단");
    assert_string_equal(n.routes[1].long_name_en, "Geomam - Geomdan");
    assert_int_equal(n.trip_route[0], 1);
    assert_int_equal(n.trip_route[1], 0);
    assert_string_equal(n.trip_headsign[0], "검단산단");
    assert_string_equal(n.trip_headsign_en[0], "검단산단");
    assert_string_equal(n.trip_headsign_en[1], "Geomam Station");

    assert_string_equal(n.feed_version, "v2025.1");
    assert_string_equal(n.agency_name_en, "Seo-gu");
    assert_string_equal(n.timezone, "Asia/Seoul");
    assert_string_equal(n.lang, "ko");
    assert_true(n.pool_len <= n.pool_cap);
    pub_names_free(&n);
    assert_null(n.stops);
}

/* Nothing known: every string "" (never NULL), routes unknown. */
static void test_empty(void **state)
{
    PGresult *rs = pgresult_text(5, 0, NULL);
    PGresult *rr = pgresult_text(6, 0, NULL);
    PGresult *rt = pgresult_text(3, 0, NULL);
    PGresult *rf = pgresult_text(5, 0, NULL);
    struct pub_names n;
    char err[128];

    (void)state;
    world_feed();
    assert_int_equal(
        pub_names_from_results(&w.f, rs, rr, rt, rf, &n, err, sizeof err),
        PUB_NAMES_OK);
    for (size_t s = 0; s < 3; s++) {
        assert_string_equal(n.stops[s].name, "");
        assert_string_equal(n.stops[s].name_en, "");
        assert_string_equal(n.stops[s].code, "");
        assert_string_equal(n.stops[s].desc, "");
    }
    assert_int_equal(n.trip_route[0], -1);
    assert_string_equal(n.trip_headsign[1], "");
    assert_string_equal(n.feed_version, "");
    assert_string_equal(n.agency_name, "");
    pub_names_free(&n);

    /* A result of the wrong shape is refused, *OUT zeroed. */
    PQclear(rt);
    rt = pgresult_text(2, 0, NULL);
    assert_int_equal(
        pub_names_from_results(&w.f, rs, rr, rt, rf, &n, err, sizeof err),
        PUB_NAMES_ERR_QUERY);
    assert_null(n.stops);
    assert_non_null(strstr(err, "columns"));
    pub_names_free(&n);
    PQclear(rs);
    PQclear(rr);
    PQclear(rt);
    PQclear(rf);
}

static void test_utf8(void **state)
{
    char *s;

    (void)state;
    assert_true(pub_names_utf8_valid("검암역 ok"));
    assert_false(pub_names_utf8_valid("\xc0\xaf"));     /* overlong */
    assert_false(pub_names_utf8_valid("\xed\xa0\x80")); /* surrogate */
    assert_false(pub_names_utf8_valid("\xea\xb2"));     /* cut short */
    s = pub_names_utf8_repair("a\xea\xb2");
    assert_non_null(s);
    assert_string_equal(s, "a\xef\xbf\xbd\xef\xbf\xbd");
    free(s);
}

/* The query texts name the tables and the day parameter. */
static void test_sql(void **state)
{
    (void)state;
    assert_non_null(strstr(pub_names_sql_stops, "gtfs_translations"));
    assert_non_null(strstr(pub_names_sql_routes, "route_long_name"));
    assert_non_null(strstr(pub_names_sql_trips, "gtfs_services_on($1)"));
    assert_null(strstr(pub_names_sql_stops, "$1"));
    assert_non_null(strstr(pub_names_sql_feed, "feed_version"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_results),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_sql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
