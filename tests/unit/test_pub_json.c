/* test_pub_json: the JSON API's documents over a hand-made timetable,
 * names and predictions, parsed back with jansson: every key the README
 * promises, times in the feed's zone, escaping, repaired UTF-8. Run with
 * "--print" it only prints the documents (the README's examples). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_gtfsrt.h"
#include "pub_board.h"
#include "pub_json.h"
#include "testfeed.h"

#define DAY TESTFEED_DAY
#define DAY_MS TESTFEED_DAY_MS
#define H(h, m, s) TESTFEED_H(h, m, s)
#define MS(secs) TESTFEED_MS(secs)
#define NT 5

struct world {
    struct pub_stop_name sn[3];
    struct pub_route routes[2];
    int trip_route[NT];
    const char *headsign[NT], *headsign_en[NT];
    struct pub_names names;
    struct live_vehicle veh[2];
    const struct live_vehicle *vp[2];
    int seats[2];
    struct pub_bus buses[2];
    struct pub_view v;
};

static struct world w;
static struct testfeed tf;

/* Trip T's prediction on VEHICLE in STATE, LATE_S behind, 20 on board,
 * the 80 % interval -30 s / +60 s. */
static void world_pred(int t, enum live_trip_state state, int vehicle,
                       int late_s)
{
    struct testfeed_pred p = {.state = state,
                              .vehicle = vehicle,
                              .late_s = late_s,
                              .dwell_s = 20,
                              .lo_s = 30,
                              .hi_s = 60,
                              .load = 20};

    testfeed_pred(&tf, t, &p);
}

/* Stops GA01 GA02 GD01; trips (index: id, route, start)
 *  0 R1-0800 R1 08:00 A B C   active on V1, left A 60 s late
 *  1 R1-0810 R1 08:10 C B A   next trip of V1's block
 *  2 R2-0830 R2 08:30 A B C   cancelled
 *  3 R1-0845 R1 08:45 A B C   no prediction: timetable
 *  4 R1-0600 R1 06:00 A B C   done
 * Now 08:01:30. */
static void world(void)
{
    static const char *const ids[] = {"GA01", "GA02", "GD01"};
    static const int abc[] = {0, 1, 2}, cba[] = {2, 1, 0};
    const char *tids[NT] = {"R1-0800", "R1-0810", "R2-0830", "R1-0845",
                            "R1-0600"};
    const int start[NT] = {H(8, 0, 0), H(8, 10, 0), H(8, 30, 0), H(8, 45, 0),
                           H(6, 0, 0)};

    memset(&w, 0, sizeof w);
    testfeed_stops(&tf, ids, 3, 37.5693, 126.6738, 0.0123456, 0);
    for (int t = 0; t < NT; t++) {
        testfeed_trip(&tf, tids[t], t == 2 ? "R2" : "R1",
                      t == 2 ? "BLK2" : "BLK1", t == 1, t == 1 ? cba : abc, 3,
                      start[t], 300);
        w.trip_route[t] = t == 2;
        w.headsign[t] = t == 1 ? "검암역" : "검단산단";
        w.headsign_en[t] =
            t == 1 ? "Geomam Station" : "Geomdan Industrial Complex";
    }
    testfeed_finish(&tf);

    w.sn[0] = (struct pub_stop_name){"검암역", "Geomam Station", "GA01", ""};
    w.sn[1] = (struct pub_stop_name){"독정역", "Dokjeong Station", "GA02", ""};
    w.sn[2] = (struct pub_stop_name){"검단산단", "Geomdan Industrial Complex",
                                     "GD01", ""};
    w.routes[0] = (struct pub_route){
        "R1", "1", "검암역 - 검단산단", "Geomam - Geomdan", "1E88E5", "FFFFFF"};
    w.routes[1] = (struct pub_route){"R2",
                                     "2",
                                     "검단신도시 - 검단산단",
                                     "Geomdan New Town - Geomdan",
                                     "43A047",
                                     "FFFFFF"};
    w.names.stops = w.sn;
    w.names.nstops = 3;
    w.names.routes = w.routes;
    w.names.nroutes = 2;
    w.names.trip_route = w.trip_route;
    w.names.trip_headsign = w.headsign;
    w.names.trip_headsign_en = w.headsign_en;
    w.names.feed_version = "illustrative-2025.1";
    w.names.agency_name = "서구";
    w.names.agency_name_en = "Seo-gu";
    w.names.timezone = "Asia/Seoul";
    w.names.lang = "ko";

    world_pred(0, LIVE_TRIP_ACTIVE, 0, 60);
    tf.sp[0][0].kind = LIVE_KIND_DEPARTED;
    world_pred(1, LIVE_TRIP_NEXT, 0, 120);
    world_pred(2, LIVE_TRIP_CANCELED, -1, 0);
    world_pred(4, LIVE_TRIP_ACTIVE, 0, -30);
    for (int j = 0; j < 3; j++)
        tf.sp[4][j].kind = LIVE_KIND_DEPARTED;

    strcpy(w.veh[0].id, "V1");
    w.veh[0].fix_ms = MS(H(8, 1, 20));
    w.veh[0].lat = 37.57541234;
    w.veh[0].lon = 126.67386789;
    w.veh[0].speed = 8.25;
    w.veh[0].bearing = 3.4;
    w.veh[0].status = LIVE_STATUS_IN_TRANSIT;
    w.veh[0].trip = 0;
    w.veh[0].block_next = 1;
    w.veh[0].pos = 0;
    w.veh[0].next_pos = 1;
    w.veh[0].delay_s = 60;
    w.veh[0].load = 20;
    strcpy(w.veh[1].id, "V2");
    w.veh[1].fix_ms = MS(H(7, 50, 0));
    w.veh[1].lat = 37.6;
    w.veh[1].lon = 126.7;
    w.veh[1].speed = NAN;
    w.veh[1].bearing = NAN;
    w.veh[1].status = LIVE_STATUS_STALE;
    w.veh[1].trip = -1;
    w.veh[1].next_pos = -1;
    w.veh[1].load = -1;
    w.vp[0] = &w.veh[0];
    w.vp[1] = &w.veh[1];
    w.seats[0] = 45;
    w.seats[1] = 0; /* not configured: the default */
    strcpy(w.buses[0].id, "V1");
    w.buses[0].vehicle = 0;
    w.buses[0].status_known = true;
    w.buses[0].online = true;
    strcpy(w.buses[1].id, "V2");
    w.buses[1].vehicle = 1;

    testfeed_view(&w.v, &tf);
    w.v.names = &w.names;
    w.v.vehicles = w.vp;
    w.v.nvehicles = 2;
    w.v.seats = w.seats;
    w.v.buses = w.buses;
    w.v.nbuses = 2;
    w.v.now_ms = MS(H(8, 1, 30)) + 250;
}

static int setup(void **state)
{
    (void)state;
    world();
    return 0;
}

/* Parse TEXT (LEN bytes, freed here) strictly: valid JSON, valid UTF-8,
 * one document; and the common keys. */
static json_t *parse(char *text, size_t len)
{
    json_error_t je;
    json_t *j;

    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_null(strchr(text, '\n')); /* compact */
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("%s: %s", je.text, text);
    free(text);
    return j;
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static long long num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return (long long)json_integer_value(v);
}

static void common_keys(const json_t *j)
{
    assert_string_equal(str(j, "generated_at"), "2023-12-09T08:01:30+09:00");
    assert_int_equal(num(j, "generated_at_unix"), MS(H(8, 1, 30)) / 1000);
    assert_string_equal(str(j, "feed_version"), "illustrative-2025.1");
    assert_string_equal(str(j, "service_day"), "2023-12-09");
}

static void test_stops(void **state)
{
    char *text, err[128];
    size_t len;
    json_t *j, *s;

    (void)state;
    assert_int_equal(pub_json_stops(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    common_keys(j);
    assert_int_equal(json_array_size(json_object_get(j, "stops")), 3);
    s = json_array_get(json_object_get(j, "stops"), 1);
    assert_string_equal(str(s, "id"), "GA02");
    assert_string_equal(str(s, "code"), "GA02");
    assert_string_equal(str(s, "name"), "독정역");
    assert_string_equal(str(s, "name_en"), "Dokjeong Station");
    /* 37.5816456 to 5 decimals */
    assert_true(fabs(json_real_value(json_object_get(s, "lat")) - 37.58165) <
                1e-9);
    assert_true(fabs(json_real_value(json_object_get(s, "lon")) - 126.6738) <
                1e-9);
    assert_int_equal(json_array_size(json_object_get(s, "routes")), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(s, "routes"), 0)),
        "R1");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(s, "routes"), 1)),
        "R2");
    json_decref(j);
}

static void test_routes(void **state)
{
    char *text, err[128];
    size_t len;
    json_t *j, *r, *dirs, *d;

    (void)state;
    assert_int_equal(pub_json_routes(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    common_keys(j);
    r = json_array_get(json_object_get(j, "routes"), 0);
    assert_string_equal(str(r, "id"), "R1");
    assert_string_equal(str(r, "short_name"), "1");
    assert_string_equal(str(r, "long_name_en"), "Geomam - Geomdan");
    assert_string_equal(str(r, "color"), "1E88E5");
    dirs = json_object_get(r, "directions");
    assert_int_equal(json_array_size(dirs), 2);
    d = json_array_get(dirs, 1);
    assert_int_equal(num(d, "direction"), 1);
    assert_string_equal(str(d, "headsign_en"), "Geomam Station");
    assert_int_equal(json_array_size(json_object_get(d, "stops")), 3);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(d, "stops"), 0)),
        "GD01");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(d, "stops"), 2)),
        "GA01");
    r = json_array_get(json_object_get(j, "routes"), 1);
    assert_int_equal(json_array_size(json_object_get(r, "directions")), 1);
    json_decref(j);
}

static void test_vehicles(void **state)
{
    char *text, err[128];
    size_t len;
    json_t *j, *a, *b;

    (void)state;
    assert_int_equal(pub_json_vehicles(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    common_keys(j);
    a = json_array_get(json_object_get(j, "vehicles"), 0);
    assert_string_equal(str(a, "id"), "V1");
    assert_string_equal(str(a, "route"), "R1");
    assert_string_equal(str(a, "trip"), "R1-0800");
    assert_true(fabs(json_real_value(json_object_get(a, "lat")) - 37.57541) <
                1e-9);
    assert_true(fabs(json_real_value(json_object_get(a, "lon")) - 126.67387) <
                1e-9);
    assert_int_equal(num(a, "bearing"), 3);
    assert_string_equal(str(a, "status"), "in_transit");
    assert_string_equal(str(a, "next_stop"), "GA02");
    assert_int_equal(num(a, "delay_s"), 60);
    assert_int_equal(num(a, "occupancy_pct"),
                     live_gtfsrt_occupancy(20, 45, NULL));
    assert_null(json_object_get(a, "load")); /* never the count */
    assert_int_equal(num(a, "fix_age_s"), 10);
    assert_true(json_is_true(json_object_get(a, "online")));
    assert_true(json_is_false(json_object_get(a, "stale")));

    b = json_array_get(json_object_get(j, "vehicles"), 1);
    assert_string_equal(str(b, "status"), "stale");
    assert_true(json_is_null(json_object_get(b, "trip")));
    assert_true(json_is_null(json_object_get(b, "speed")));
    assert_true(json_is_null(json_object_get(b, "occupancy_pct")));
    assert_true(json_is_null(json_object_get(b, "online")));
    assert_true(json_is_true(json_object_get(b, "stale")));
    json_decref(j);
}

/* The arrivals are pub_board's rows, row for row. */
static void test_arrivals(void **state)
{
    char *text, err[128];
    size_t len;
    struct pub_board b;
    json_t *j, *arr, *r;

    (void)state;
    assert_int_equal(pub_board_stop(&w.v, 1, &b), PUB_BOARD_OK);
    assert_int_equal(pub_json_arrivals(&w.v, 1, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    common_keys(j);
    assert_string_equal(str(json_object_get(j, "stop"), "id"), "GA02");
    assert_string_equal(str(json_object_get(j, "stop"), "name_en"),
                        "Dokjeong Station");
    arr = json_object_get(j, "arrivals");
    assert_int_equal(json_array_size(arr), b.nrows);
    assert_int_equal(b.nrows, 4); /* 0 and 1 live, 2 cancelled, 3 timetable */
    for (size_t i = 0; i < b.nrows; i++) {
        r = json_array_get(arr, i);
        assert_string_equal(str(r, "trip"), tf.trips[b.rows[i].trip].id);
        assert_int_equal(num(r, "minutes"), b.rows[i].minutes);
        assert_string_equal(str(r, "status"),
                            pub_board_status_name(b.rows[i].status));
    }
    r = json_array_get(arr, 0);
    assert_string_equal(str(r, "trip"), "R1-0800");
    assert_string_equal(str(r, "route"), "R1");
    assert_string_equal(str(r, "route_short_name"), "1");
    assert_string_equal(str(r, "headsign"), "검단산단");
    assert_string_equal(str(r, "headsign_en"), "Geomdan Industrial Complex");
    assert_string_equal(str(r, "vehicle"), "V1");
    assert_string_equal(str(r, "status"), "predicted");
    assert_int_equal(num(r, "minutes"), 4); /* 08:06:00 - 08:01:30.25 */
    assert_string_equal(str(r, "arrival"), "2023-12-09T08:06:00+09:00");
    assert_int_equal(num(r, "arrival_unix"), MS(H(8, 6, 0)) / 1000);
    assert_string_equal(str(r, "scheduled"), "2023-12-09T08:05:00+09:00");
    assert_int_equal(num(r, "delay_s"), 60);
    assert_int_equal(num(json_object_get(r, "uncertainty_s"), "lo"), -30);
    assert_int_equal(num(json_object_get(r, "uncertainty_s"), "hi"), 60);
    assert_int_equal(num(r, "seats_free"), 25);
    r = json_array_get(arr, 2);
    assert_string_equal(str(r, "status"), "canceled");
    assert_true(json_is_null(json_object_get(r, "vehicle")));
    assert_true(json_is_null(json_object_get(r, "seats_free")));
    assert_true(json_is_null(json_object_get(r, "uncertainty_s")));
    r = json_array_get(arr, 3);
    assert_string_equal(str(r, "status"), "scheduled");
    assert_string_equal(str(r, "arrival"), "2023-12-09T08:50:00+09:00");
    json_decref(j);

    assert_int_equal(pub_json_arrivals(&w.v, 3, &text, &len, err, sizeof err),
                     PUB_JSON_ERR_INVALID);
    assert_null(text);
}

static void test_runs(void **state)
{
    char *text, err[128];
    size_t len;
    json_t *j, *arr;
    const char *want[NT][2] = {{"R1-0600", "done"},
                               {"R1-0800", "active"},
                               {"R1-0810", "next"},
                               {"R2-0830", "canceled"},
                               {"R1-0845", "scheduled"}};

    (void)state;
    assert_int_equal(pub_json_runs(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    common_keys(j);
    arr = json_object_get(j, "runs");
    assert_int_equal(json_array_size(arr), NT);
    for (size_t i = 0; i < NT; i++) {
        assert_string_equal(str(json_array_get(arr, i), "trip"), want[i][0]);
        assert_string_equal(str(json_array_get(arr, i), "state"), want[i][1]);
    }
    assert_int_equal(num(json_array_get(arr, 0), "delay_s"), -30);
    assert_string_equal(str(json_array_get(arr, 0), "start"),
                        "2023-12-09T06:00:00+09:00");
    assert_string_equal(str(json_array_get(arr, 0), "end"),
                        "2023-12-09T06:10:00+09:00");
    assert_int_equal(num(json_array_get(arr, 1), "delay_s"), 60);
    assert_string_equal(str(json_array_get(arr, 1), "vehicle"), "V1");
    assert_string_equal(str(json_array_get(arr, 1), "block"), "BLK1");
    assert_true(
        json_is_null(json_object_get(json_array_get(arr, 3), "vehicle")));
    assert_true(
        json_is_null(json_object_get(json_array_get(arr, 4), "delay_s")));
    json_decref(j);
}

/* A name with quotes and a script tag comes back as it was, and the bytes
 * hold no "</script>" that could end a page's script block; bytes that are
 * not UTF-8 become U+FFFD and the document still parses. */
static void test_escaping_utf8(void **state)
{
    const char *evil = "\"Stop\" </script><script>alert(1)</script>";
    char *text, err[128];
    size_t len;
    json_t *j, *s;

    (void)state;
    w.sn[0].name = evil;
    w.sn[0].name_en = "bad \xff\xc3 byte";
    w.headsign[0] = "\xed\xa0\x80"; /* a surrogate */
    assert_int_equal(pub_json_stops(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    assert_null(strstr(text, "</script>"));
    assert_non_null(strstr(text, "\\\"Stop\\\""));
    j = parse(text, len);
    s = json_array_get(json_object_get(j, "stops"), 0);
    assert_string_equal(str(s, "name"), evil);
    assert_string_equal(str(s, "name_en"), "bad \xef\xbf\xbd\xef\xbf\xbd byte");
    json_decref(j);

    assert_int_equal(pub_json_arrivals(&w.v, 0, &text, &len, err, sizeof err),
                     PUB_JSON_OK);
    j = parse(text, len);
    assert_string_equal(str(json_object_get(j, "stop"), "name"), evil);
    s = json_array_get(json_object_get(j, "arrivals"), 0);
    assert_string_equal(str(s, "trip"), "R1-0800"); /* departed from A */
    assert_string_equal(str(s, "status"), "departed");
    assert_string_equal(str(s, "headsign"),
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
}

static void test_error_invalid(void **state)
{
    char *text, err[128];
    size_t len;
    json_t *j, *e;

    (void)state;
    assert_int_equal(pub_json_error(404, "no stop \"X\"", &text, &len),
                     PUB_JSON_OK);
    j = parse(text, len);
    e = json_object_get(j, "error");
    assert_int_equal(num(e, "status"), 404);
    assert_string_equal(str(e, "message"), "no stop \"X\"");
    json_decref(j);

    assert_int_equal(pub_json_stop_find(&tf.f, "GA02"), 1);
    assert_int_equal(pub_json_stop_find(&tf.f, "GA0"), -1);
    assert_int_equal(pub_json_stop_find(&tf.f, NULL), -1);

    w.v.names = NULL;
    assert_int_equal(pub_json_stops(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_ERR_INVALID);
    assert_null(text);
    w.v.names = &w.names;
    w.v.ntrips = 2;
    assert_int_equal(pub_json_runs(&w.v, &text, &len, err, sizeof err),
                     PUB_JSON_ERR_INVALID);
}

/* The offset comes from the service day: a UTC feed says +00:00. */
static void test_time_utc(void **state)
{
    char buf[PUB_JSON_TIME_MAX];

    (void)state;
    tf.f.day_ms = (int64_t)DAY * 86400000;
    assert_string_equal(pub_json_time(&w.v, tf.f.day_ms + 3723000, buf),
                        "2023-12-09T01:02:03+00:00");
    tf.f.day_ms = DAY_MS;
    assert_string_equal(pub_json_time(&w.v, DAY_MS - 1, buf),
                        "2023-12-08T23:59:59+09:00");
}

static void print_docs(void)
{
    char *text, err[128];
    size_t len;

    world();
    if (pub_json_stops(&w.v, &text, &len, err, sizeof err) == PUB_JSON_OK)
        printf("stops %s\n", text), free(text);
    if (pub_json_routes(&w.v, &text, &len, err, sizeof err) == PUB_JSON_OK)
        printf("routes %s\n", text), free(text);
    if (pub_json_vehicles(&w.v, &text, &len, err, sizeof err) == PUB_JSON_OK)
        printf("vehicles %s\n", text), free(text);
    if (pub_json_arrivals(&w.v, 1, &text, &len, err, sizeof err) == PUB_JSON_OK)
        printf("arrivals %s\n", text), free(text);
    if (pub_json_runs(&w.v, &text, &len, err, sizeof err) == PUB_JSON_OK)
        printf("runs %s\n", text), free(text);
    if (pub_json_error(404, "unknown stop", &text, &len) == PUB_JSON_OK)
        printf("error %s\n", text), free(text);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_stops, setup),
        cmocka_unit_test_setup(test_routes, setup),
        cmocka_unit_test_setup(test_vehicles, setup),
        cmocka_unit_test_setup(test_arrivals, setup),
        cmocka_unit_test_setup(test_runs, setup),
        cmocka_unit_test_setup(test_escaping_utf8, setup),
        cmocka_unit_test_setup(test_error_invalid, setup),
        cmocka_unit_test_setup(test_time_utc, setup),
    };

    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        print_docs();
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
