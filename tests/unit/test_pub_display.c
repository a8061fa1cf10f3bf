/* test_pub_display: the stop displays' payloads over a hand-made
 * timetable (the board's rows and figures, at most four, nothing when no
 * bus is due) and the change detection: every stop once, then only those
 * whose content changed, a failed publish tried again, a stop of the old
 * feed cleared, a stop id that makes no topic skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pub_board.h"
#include "pub_display.h"
#include "testfeed.h"

#define H(h, m, s) TESTFEED_H(h, m, s)
#define MS(secs) TESTFEED_MS(secs)
#define NTRIPS 6

struct world {
    int trip_route[NTRIPS];
    const char *hs[NTRIPS], *hs_en[NTRIPS];
    struct pub_route routes[1];
    struct pub_names names;
    struct pub_view v;
};

static struct world w;
static struct testfeed tf;

/* NTRIPS trips A -> B -> C (2 min apart), every 10 min from 08:00, route
 * "1" to 검단산단; timetable only. */
static int setup(void **state)
{
    static const char *const ids[] = {"A", "B", "C"};
    static const int abc[] = {0, 1, 2};

    (void)state;
    memset(&w, 0, sizeof w);
    testfeed_stops(&tf, ids, 3, 37.5, 127.0, 0, 0.005);
    for (int t = 0; t < NTRIPS; t++) {
        testfeed_trip(&tf, NULL, "R1", "blk", 0, abc, 3, H(8, 0, 0) + t * 600,
                      120);
        w.trip_route[t] = 0;
        w.hs[t] = "검단산단";
        w.hs_en[t] = "Geomdan";
    }
    testfeed_finish(&tf);
    w.routes[0] = (struct pub_route){"R1", "1", "", "", "", ""};
    w.names.routes = w.routes;
    w.names.nroutes = 1;
    w.names.trip_route = w.trip_route;
    w.names.trip_headsign = w.hs;
    w.names.trip_headsign_en = w.hs_en;
    testfeed_view(&w.v, &tf);
    w.v.names = &w.names;
    w.v.now_ms = MS(H(7, 58, 30));
    return 0;
}

static void test_payload(void **state)
{
    struct pub_board b;
    json_t *doc, *rows;
    json_error_t je;
    char *p, err[256];
    size_t len;

    (void)state;
    assert_int_equal(
        pub_display_payload(&w.v, 1, w.v.now_ms, &p, &len, err, sizeof err),
        PUB_DISPLAY_OK);
    assert_non_null(p);
    assert_int_equal(strlen(p), len);
    assert_null(strchr(p, '\n')); /* compact */
    doc = json_loadb(p, len, 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "stop")), "B");
    assert_int_equal(
        json_integer_value(json_object_get(doc, "generated_at_unix")),
        w.v.now_ms / 1000);
    rows = json_object_get(doc, "arrivals");
    /* six trips within the board's 90 min, four shown */
    assert_int_equal(pub_board_stop(&w.v, 1, &b), PUB_BOARD_OK);
    assert_true(b.nrows > PUB_DISPLAY_ROWS);
    assert_int_equal(json_array_size(rows), PUB_DISPLAY_ROWS);
    for (size_t i = 0; i < PUB_DISPLAY_ROWS; i++) {
        json_t *r = json_array_get(rows, i);

        /* the board's own figures */
        assert_int_equal(json_integer_value(json_object_get(r, "minutes")),
                         b.rows[i].minutes);
        assert_int_equal(json_integer_value(json_object_get(r, "arrival_unix")),
                         b.rows[i].when_ms / 1000);
        assert_string_equal(json_string_value(json_object_get(r, "status")),
                            "scheduled");
        assert_true(json_is_null(json_object_get(r, "seats_free")));
        assert_string_equal(json_string_value(json_object_get(r, "route")),
                            "R1");
        assert_string_equal(
            json_string_value(json_object_get(r, "route_short_name")), "1");
        assert_string_equal(json_string_value(json_object_get(r, "headsign")),
                            "검단산단");
        assert_string_equal(
            json_string_value(json_object_get(r, "headsign_en")), "Geomdan");
    }
    /* B at 08:02 is 3.5 min away: 3 */
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(rows, 0), "minutes")),
        3);
    json_decref(doc);
    free(p);

    /* C ends every trip: no bus due there, the empty message */
    assert_int_equal(
        pub_display_payload(&w.v, 2, w.v.now_ms, &p, &len, err, sizeof err),
        PUB_DISPLAY_OK);
    assert_null(p);
    assert_int_equal(len, 0);
    assert_int_equal(
        pub_display_payload(&w.v, 3, w.v.now_ms, &p, &len, err, sizeof err),
        PUB_DISPLAY_ERR_INVALID);
}

struct sent {
    char topic[8][PUB_DISPLAY_TOPIC_MAX];
    char payload[8][4096];
    bool empty[8];
    size_t n;
    int fail; /* refuse this many calls */
};

static int collect(void *arg, const char *topic, const char *payload,
                   size_t len)
{
    struct sent *s = arg;

    assert_true(s->n < 8);
    if (s->fail > 0) {
        s->fail--;
        return -1;
    }
    snprintf(s->topic[s->n], sizeof s->topic[s->n], "%s", topic);
    s->empty[s->n] = payload == NULL;
    assert_true(payload ? len == strlen(payload) : len == 0);
    if (payload)
        snprintf(s->payload[s->n], sizeof s->payload[s->n], "%s", payload);
    s->n++;
    return 0;
}

static size_t changes(struct pub_display *d, struct sent *s)
{
    size_t skipped = 99;
    char err[256];

    s->n = 0;
    assert_int_equal(
        pub_display_changes(d, &w.v, collect, s, &skipped, err, sizeof err),
        PUB_DISPLAY_OK);
    return skipped;
}

static void test_changes(void **state)
{
    struct pub_display *d = pub_display_new();
    struct sent s = {.n = 0};
    struct trips_feed f2;

    (void)state;
    assert_non_null(d);
    /* the first time: every stop, C's the empty message */
    assert_int_equal(changes(d, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.topic[0], "shuttle/v1/stops/A/arrivals");
    assert_string_equal(s.topic[1], "shuttle/v1/stops/B/arrivals");
    assert_string_equal(s.topic[2], "shuttle/v1/stops/C/arrivals");
    assert_false(s.empty[0]);
    assert_true(s.empty[2]);

    /* 20 s on, the same minutes: nothing, though generated_at would move */
    w.v.now_ms += 20000;
    changes(d, &s);
    assert_int_equal(s.n, 0);

    /* 08:00:00: A's first bus is due now (0 min) and B's in 2: both sent,
     * with the new generated_at; A's publish fails and is tried again */
    w.v.now_ms = MS(H(8, 0, 0));
    s.fail = 1;
    changes(d, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.topic[0], "shuttle/v1/stops/B/arrivals");
    assert_non_null(strstr(s.payload[0], "\"generated_at_unix\":1702076400"));
    changes(d, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.topic[0], "shuttle/v1/stops/A/arrivals");
    changes(d, &s);
    assert_int_equal(s.n, 0);

    /* a reloaded feed without B, and a stop id no topic can hold: B is
     * cleared, "C/D" skipped */
    f2 = tf.f;
    f2.nstops = 2;
    w.v.feed = &f2;
    strcpy(tf.stops[1].id, "C/D");
    assert_int_equal(changes(d, &s), 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.topic[0], "shuttle/v1/stops/B/arrivals");
    assert_true(s.empty[0]);

    {
        char topic[PUB_DISPLAY_TOPIC_MAX];

        assert_int_equal(pub_display_topic(&w.v, 1, topic),
                         PUB_DISPLAY_ERR_INVALID);
        strcpy(tf.stops[1].id, "+");
        assert_int_equal(pub_display_topic(&w.v, 1, topic),
                         PUB_DISPLAY_ERR_INVALID);
        assert_int_equal(pub_display_topic(&w.v, 0, topic), PUB_DISPLAY_OK);
        assert_string_equal(topic, "shuttle/v1/stops/A/arrivals");
    }
    pub_display_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_payload, setup),
        cmocka_unit_test_setup(test_changes, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
