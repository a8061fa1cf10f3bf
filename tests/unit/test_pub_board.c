/* test_pub_board: the stop board over a hand-made timetable and hand-made
 * predictions: timetable rows, live rows with seats, the one departure,
 * skipped and cancelled stops, the window, the order and the row cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pub_board.h"
#include "testfeed.h"

#define H(h, m, s) TESTFEED_H(h, m, s)
#define MS(secs) TESTFEED_MS(secs)
#define NTRIPS_MAX 12

struct world {
    struct live_vehicle veh[2];
    const struct live_vehicle *vp[2];
    int seats[2];
    int trip_route[NTRIPS_MAX];
    struct pub_names names;
    struct pub_view v;
};

static struct world w;
static struct testfeed tf;

/* N trips A -> B -> C, 2 min apart, trip t starting at START_S + t * GAP_S;
 * trip 1 runs the other way (C -> B -> A) when REVERSE1. */
static void world_feed(size_t n, int start_s, int gap_s, int reverse1)
{
    static const char *const ids[] = {"A", "B", "C"};
    static const int abc[] = {0, 1, 2}, cba[] = {2, 1, 0};

    memset(&w, 0, sizeof w);
    testfeed_stops(&tf, ids, 3, 37.5, 127.0, 0, 0.005);
    for (size_t t = 0; t < n; t++) {
        int rev = reverse1 && t == 1;

        testfeed_trip(&tf, NULL, "R", "blk", rev, rev ? cba : abc, 3,
                      start_s + (int)t * gap_s, 120);
        w.trip_route[t] = (int)(t % 2);
    }
    testfeed_finish(&tf);

    for (int i = 0; i < 2; i++) {
        snprintf(w.veh[i].id, sizeof w.veh[i].id, "V%d", i + 1);
        w.vp[i] = &w.veh[i];
    }
    w.seats[0] = 45;
    w.seats[1] = 25;
    w.names.trip_route = w.trip_route;
    testfeed_view(&w.v, &tf);
    w.v.names = &w.names;
    w.v.vehicles = w.vp;
    w.v.nvehicles = 2;
    w.v.seats = w.seats;
}

/* Trip T predicted LATE_S behind its timetable on VEHICLE, LOAD on board
 * after each stop, the 80 % interval -30 s / +60 s. */
static void world_pred(int t, int vehicle, int late_s, int load)
{
    struct testfeed_pred p = {.state = vehicle >= 0 ? LIVE_TRIP_ACTIVE
                                                    : LIVE_TRIP_SCHEDULED,
                              .vehicle = vehicle,
                              .late_s = late_s,
                              .dwell_s = 20,
                              .lo_s = 30,
                              .hi_s = 60,
                              .load = load};

    testfeed_pred(&tf, t, &p);
}

/* No predictions at all: every row from the timetable, none from a trip's
 * last stop (trip 1 ends at A), in time order. */
static void test_timetable_only(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(3, H(8, 0, 0), 15 * 60, 1);
    w.v.trips = NULL;
    w.v.ntrips = 0;
    w.v.now_ms = MS(H(7, 50, 30));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.stop, 0);
    assert_int_equal(b.nrows, 2);
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].status, PUB_BOARD_SCHEDULED);
    assert_int_equal(b.rows[0].when_ms, MS(H(8, 0, 0)));
    assert_int_equal(b.rows[0].sched_ms, MS(H(8, 0, 0)));
    assert_int_equal(b.rows[0].minutes, 9); /* 9.5 floored */
    assert_int_equal(b.rows[0].delay_s, 0);
    assert_int_equal(b.rows[0].seats_free, -1);
    assert_int_equal(b.rows[0].vehicle, -1);
    assert_int_equal(b.rows[0].lo_ms, -1);
    assert_int_equal(b.rows[0].route, 0);
    assert_int_equal(b.rows[1].trip, 2);
    assert_int_equal(b.rows[1].route, 0);
    assert_int_equal(b.rows[1].minutes, 39);
    assert_string_equal(pub_board_status_name(b.rows[1].status), "scheduled");

    /* At C trip 1 starts; trips 0 and 2 end there. */
    assert_int_equal(pub_board_stop(&w.v, 2, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 1);
    assert_int_equal(b.rows[0].trip, 1);
    assert_int_equal(b.rows[0].route, 1);
}

/* A live trip: the prediction's time, its interval, its delay, and the
 * seats free after the stop, floored to steps of 5. A trip with no
 * prediction beside it still shows from the timetable. */
static void test_predicted_seats(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(3, H(8, 0, 0), 15 * 60, 0);
    world_pred(0, 0, 95, 12); /* 45 - 12 = 33 -> 30 */
    world_pred(1, 1, -20, 3); /* 25 - 3 = 22 -> 20 */
    w.v.now_ms = MS(H(7, 59, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 3);
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].status, PUB_BOARD_PREDICTED);
    assert_int_equal(b.rows[0].vehicle, 0);
    assert_int_equal(b.rows[0].when_ms, MS(H(8, 1, 35)));
    assert_int_equal(b.rows[0].minutes, 2);
    assert_int_equal(b.rows[0].delay_s, 95);
    assert_int_equal(b.rows[0].lo_ms, MS(H(8, 1, 5)));
    assert_int_equal(b.rows[0].hi_ms, MS(H(8, 2, 35)));
    assert_int_equal(b.rows[0].seats_free, 30);
    assert_int_equal(b.rows[1].trip, 1);
    assert_int_equal(b.rows[1].delay_s, -20);
    assert_int_equal(b.rows[1].seats_free, 20);
    assert_int_equal(b.rows[2].trip, 2);
    assert_int_equal(b.rows[2].status, PUB_BOARD_SCHEDULED);

    /* Overfull: no seats, never negative; unknown load: unknown seats;
     * no seats table: the default. */
    tf.sp[0][0].load = 60;
    tf.sp[1][0].load = -1;
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.rows[0].seats_free, 0);
    assert_int_equal(b.rows[1].seats_free, -1);
    w.v.seats = NULL;
    tf.sp[0][0].load = 1; /* 44 -> 40 */
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.rows[0].seats_free, PUB_SEATS_DEFAULT - 5);
}

/* The bus that just left comes first, as "departed N min ago", timed by
 * its real departure; older than 10 minutes it is gone. */
static void test_departed(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(2, H(8, 0, 0), 15 * 60, 0);
    world_pred(0, 0, 30, 5);
    tf.sp[0][0].kind = LIVE_KIND_DEPARTED;
    tf.sp[0][0].dep_ms = MS(H(8, 0, 50));
    w.v.now_ms = MS(H(8, 2, 10));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 2);
    assert_int_equal(b.rows[0].status, PUB_BOARD_DEPARTED);
    assert_string_equal(pub_board_status_name(b.rows[0].status), "departed");
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].when_ms, MS(H(8, 0, 50)));
    assert_int_equal(b.rows[0].minutes, 1);
    assert_int_equal(b.rows[0].delay_s, 50);
    assert_int_equal(b.rows[1].trip, 1);
    assert_int_equal(b.rows[1].status, PUB_BOARD_SCHEDULED);

    /* At B the same trip is still ahead. */
    assert_int_equal(pub_board_stop(&w.v, 1, &b), PUB_BOARD_OK);
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].status, PUB_BOARD_PREDICTED);

    w.v.now_ms = MS(H(8, 11, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 1);
    assert_int_equal(b.rows[0].trip, 1);

    /* Two buses gone within ten minutes: only the later one is shown. */
    world_feed(2, H(8, 0, 0), 5 * 60, 0);
    world_pred(0, 0, 0, 5);
    world_pred(1, 1, 0, 5);
    tf.sp[0][0].kind = tf.sp[1][0].kind = LIVE_KIND_DEPARTED;
    tf.sp[0][0].dep_ms = MS(H(8, 0, 30));
    tf.sp[1][0].dep_ms = MS(H(8, 5, 10));
    w.v.now_ms = MS(H(8, 6, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 1);
    assert_int_equal(b.rows[0].trip, 1);
    assert_int_equal(b.rows[0].status, PUB_BOARD_DEPARTED);
    assert_int_equal(b.rows[0].vehicle, 1);
}

/* A skipped stop is no arrival; a cancelled trip shows as cancelled at its
 * scheduled time, with no bus and no seats. */
static void test_skipped_canceled(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(2, H(8, 0, 0), 10 * 60, 0);
    world_pred(0, 0, 200, 5);
    tf.sp[0][1].kind = LIVE_KIND_SKIPPED;
    world_pred(1, 1, 0, 5);
    tf.tp[1].state = LIVE_TRIP_CANCELED;
    for (int j = 0; j < 3; j++)
        tf.sp[1][j].kind = LIVE_KIND_CANCELED;
    w.v.now_ms = MS(H(7, 55, 0));
    assert_int_equal(pub_board_stop(&w.v, 1, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 1);
    assert_int_equal(b.rows[0].trip, 1);
    assert_int_equal(b.rows[0].status, PUB_BOARD_CANCELED);
    assert_string_equal(pub_board_status_name(b.rows[0].status), "canceled");
    assert_int_equal(b.rows[0].when_ms, MS(H(8, 12, 0)));
    assert_int_equal(b.rows[0].minutes, 17);
    assert_int_equal(b.rows[0].vehicle, -1);
    assert_int_equal(b.rows[0].seats_free, -1);
    assert_int_equal(b.rows[0].delay_s, 0);
}

/* A late bus overtaken by the next one's timetable: rows follow the
 * expected time, not the schedule; at most 8 rows, the soonest; nothing
 * beyond 90 minutes. */
static void test_order_window_cap(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(12, H(8, 0, 0), 5 * 60, 0);
    w.v.trips = tf.tpp;
    world_pred(0, 0, 7 * 60, 0); /* 08:07, after trip 1's 08:05 */
    w.v.now_ms = MS(H(7, 58, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, PUB_BOARD_ROWS_MAX);
    assert_int_equal(b.rows[0].trip, 1);
    assert_int_equal(b.rows[1].trip, 0);
    for (size_t i = 1; i < b.nrows; i++)
        assert_true(b.rows[i - 1].when_ms <= b.rows[i].when_ms);
    assert_int_equal(b.rows[7].trip, 7);

    /* 06:36: only 08:05 is within 90 minutes (trip 0 is now 08:07). */
    w.v.now_ms = MS(H(6, 36, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 1);
    assert_int_equal(b.rows[0].trip, 1);
    w.v.now_ms = MS(H(6, 40, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 3); /* 08:05, 08:07, 08:10 */
}

/* A bus standing at the stop (arrived, not gone) is still on the board at
 * 0 minutes; a timetable time just passed is not. */
static void test_at_stop_now(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(2, H(8, 0, 0), 60, 0);
    world_pred(0, 0, 0, 5);
    w.v.now_ms = MS(H(8, 0, 10)); /* arrived 08:00:00, leaves 08:00:20 */
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 2);
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].minutes, 0);
    w.v.now_ms = MS(H(8, 1, 10));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 0);
}

static void test_invalid(void **state)
{
    struct pub_board b;

    (void)state;
    world_feed(2, H(8, 0, 0), 60, 0);
    assert_int_equal(pub_board_stop(&w.v, 3, &b), PUB_BOARD_ERR_INVALID);
    assert_int_equal(pub_board_stop(&w.v, -1, &b), PUB_BOARD_ERR_INVALID);
    assert_int_equal(pub_board_stop(NULL, 0, &b), PUB_BOARD_ERR_INVALID);
    w.v.ntrips = 1;
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_ERR_INVALID);
    w.v.ntrips = 2;
    w.v.names = NULL; /* routes unknown, still a board */
    w.v.now_ms = MS(H(7, 0, 0));
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, 2);
    assert_int_equal(b.rows[0].route, -1);

    /* A prediction naming a vehicle the view does not have. */
    w.v.names = &w.names;
    world_pred(0, 7, 0, 5);
    assert_int_equal(pub_board_stop(&w.v, 0, &b), PUB_BOARD_OK);
    assert_int_equal(b.rows[0].trip, 0);
    assert_int_equal(b.rows[0].status, PUB_BOARD_PREDICTED);
    assert_int_equal(b.rows[0].vehicle, -1);
    assert_int_equal(b.rows[0].seats_free, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timetable_only),
        cmocka_unit_test(test_predicted_seats),
        cmocka_unit_test(test_departed),
        cmocka_unit_test(test_skipped_canceled),
        cmocka_unit_test(test_order_window_cap),
        cmocka_unit_test(test_at_stop_now),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
