/* test_live_predict: kinds, the terminal layover rule and inherited
 * lateness on a constructed two-trip block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "live_predict.h"

static struct trips_stop stops[2] = {{"A", 0, 0}, {"B", 0, 0}};
/* T1 08:00 A -> 08:10 B; T2 08:12 B -> 08:22 A, one block */
static struct trips_stop_time st[4] = {{0, 1, 28800, 28800},
                                       {1, 2, 29400, 29400},
                                       {1, 1, 29520, 29520},
                                       {0, 2, 30120, 30120}};
static struct trips_trip trips[2] = {{"T1", "R", "B1", 0, 0, 2, -1},
                                     {"T2", "R", "B1", 1, 2, 2, -1}};

struct fx {
    struct trips_feed f;
    struct live_hist *h;
    struct live_predict *p;
};

static int setup(void **state)
{
    static struct fx x;
    memset(&x, 0, sizeof(x));
    x.f = (struct trips_feed){stops, 2, st, 4, trips, 2, 0, 0};
    assert_int_equal(trips_feed_finish(&x.f), 0);
    x.h = live_hist_new(&x.f);
    assert_int_equal(live_hist_finish(x.h), LIVE_HIST_OK);
    x.p = live_predict_new(&x.f, x.h, LIVE_HIST_WEEKDAY, LIVE_METHOD_SHUTTLE,
                           NULL);
    assert_non_null(x.p);
    *state = &x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    live_predict_free(x->p);
    live_hist_free(x->h);
    return 0;
}

static void test_late_block(void **state)
{
    struct fx *x = *state;
    /* T1 left A 5 min late */
    struct live_event ev = {LIVE_EV_DEPART, 0, 0, 0, 29100000, 3, 0, 3};
    live_predict_event(x->p, &ev);
    struct live_vehicle v = {0};
    v.fix_ms = 29160000;
    v.status = LIVE_STATUS_IN_TRANSIT;
    v.trip = 0;
    v.block_next = 1;
    v.pos = 0;
    v.next_pos = 1;
    v.load = 3;
    /* where the timetable puts the bus 300 s earlier: a tenth of the way */
    v.delay_s = 300;
    const struct live_trip_pred *next = NULL;
    const struct live_trip_pred *tp =
        live_predict_vehicle(x->p, 0, &v, 29160000, &next);
    assert_non_null(tp);
    assert_int_equal(tp->state, LIVE_TRIP_ACTIVE);
    assert_int_equal(tp->stops[0].kind, LIVE_KIND_DEPARTED);
    assert_int_equal(tp->stops[0].dep_ms, 29100000);
    assert_int_equal(tp->stops[1].kind, LIVE_KIND_PREDICTED);
    /* timetable run of 600 s from the late departure */
    assert_int_equal(tp->stops[1].arr_ms, 29700000);
    assert_true(tp->stops[1].arr_lo_ms < 29700000);
    assert_true(tp->stops[1].arr_hi_ms > 29700000);
    assert_int_equal(tp->stops[1].load, 0);
    /* the next trip leaves after the minimum layover, not on time */
    assert_non_null(next);
    assert_int_equal(next->state, LIVE_TRIP_NEXT);
    assert_int_equal(next->stops[0].dep_ms, 29700000 + 120000);
    assert_int_equal(next->stops[1].arr_ms, 29820000 + 600000);
    /* stuck: 300 s into the run but only a tenth of the way (the
     * deviation grew to 540 s): what is left is by distance, 540 s, not
     * the 300 s the clock alone would leave */
    v.fix_ms = 29400000;
    v.delay_s = 540;
    tp = live_predict_vehicle(x->p, 0, &v, 29400000, &next);
    assert_int_equal(tp->stops[1].arr_ms, 29400000 + 540000);
    v.fix_ms = 29160000;
    /* stale: the schedule as schedule */
    v.status = LIVE_STATUS_STALE;
    tp = live_predict_vehicle(x->p, 0, &v, 29300000, &next);
    assert_int_equal(tp->stops[1].kind, LIVE_KIND_SCHEDULED);
    assert_int_equal(tp->stops[1].arr_ms, 29400000);
    /* missed: cancelled */
    struct live_event m = {LIVE_EV_MISSED, -1, 1, 0, 29520000, 0, 0, -1};
    live_predict_event(x->p, &m);
    const struct live_trip_pred *c = live_predict_trip(x->p, 1, 29600000);
    assert_int_equal(c->state, LIVE_TRIP_CANCELED);
    assert_int_equal(c->stops[1].kind, LIVE_KIND_CANCELED);
}

/* The 80 % interval from past errors: the 10 % and 90 % quantiles per
 * horizon, then used as the interval's sides at that lead. */
static void test_calibrated_interval(void **state)
{
    struct fx *x = *state;
    struct live_audit_sample smp[120];
    memset(smp, 0, sizeof(smp));
    /* 100 at the 1-min horizon, late by -50 .. +49 s; 20 at 2 min (too
     * few to count) */
    for (int i = 0; i < 120; i++) {
        smp[i].horizon_s = i < 100 ? 60 : 120;
        smp[i].made_ms = 0;
        smp[i].pred_ms = 60000;
        smp[i].actual_ms = 60000 + (i < 100 ? (i - 50) * 1000 : 500000);
    }
    struct live_predict_params pp;
    live_predict_params_default(&pp);
    assert_int_equal(live_predict_calibrate(smp, 120, &pp.cal),
                     LIVE_PREDICT_OK);
    assert_int_equal(pp.cal.n[0], 100);
    assert_int_equal(pp.cal.n[1], 0);
    assert_true(pp.cal.q10_s[0] == -41.0);
    assert_true(pp.cal.q90_s[0] == 39.0);
    struct live_predict *p = live_predict_new(&x->f, x->h, LIVE_HIST_WEEKDAY,
                                              LIVE_METHOD_SHUTTLE, &pp);
    assert_non_null(p);
    struct live_event ev = {LIVE_EV_DEPART, 0, 0, 0, 29100000, 3, 0, 3};
    live_predict_event(p, &ev);
    struct live_vehicle v = {0};
    v.fix_ms = 29160000;
    v.status = LIVE_STATUS_IN_TRANSIT;
    v.trip = 0;
    v.block_next = 1;
    v.next_pos = 1;
    v.load = 3;
    v.delay_s = 300;
    const struct live_trip_pred *next = NULL;
    const struct live_trip_pred *tp =
        live_predict_vehicle(p, 0, &v, 29160000, &next);
    /* only the 1-min horizon is known: its quantiles at every lead */
    assert_int_equal(tp->stops[1].arr_ms, 29700000);
    assert_int_equal(tp->stops[1].arr_lo_ms, 29700000 - 41000);
    assert_int_equal(tp->stops[1].arr_hi_ms, 29700000 + 39000);
    live_predict_free(p);
}

/* A late bus turns around in what the history says the turnaround takes
 * (learnt only from late departures), not the fixed minimum layover. */
static void test_learnt_turnaround(void **state)
{
    struct fx *x = *state;
    struct live_hist *h = live_hist_new(&x->f);
    assert_non_null(h);
    /* three late days: T1 in at 08:15, T2 out 180 s later; one early day
     * (in 08:05, out on time 08:12: the timetable held it) that must not
     * count */
    for (int d = 0; d < 4; d++) {
        int64_t in = d < 3 ? 29700000 : 29100000;
        int64_t out = d < 3 ? in + 180000 : 29520000;
        live_hist_day_begin(h, 0, LIVE_HIST_WEEKDAY);
        struct live_hist_visit v[4] = {
            {0, 0, in - 600000, in - 600000, -1, -1, -1},
            {0, 1, in, in, -1, -1, -1},
            {1, 0, out - 30000, out, -1, -1, -1},
            {1, 1, out + 600000, out + 600000, -1, -1, -1}};
        for (int i = 0; i < 4; i++)
            assert_int_equal(live_hist_add_visit(h, &v[i]), LIVE_HIST_OK);
    }
    assert_int_equal(live_hist_finish(h), LIVE_HIST_OK);
    assert_true(live_hist_turn(h, 1) == 180.0);
    assert_true(live_hist_turn(h, 0) < 0); /* first of its block */
    struct live_predict *ps = live_predict_new(&x->f, h, LIVE_HIST_WEEKDAY,
                                               LIVE_METHOD_SHUTTLE, NULL);
    struct live_predict *pk =
        live_predict_new(&x->f, h, LIVE_HIST_WEEKDAY, LIVE_METHOD_KALMAN, NULL);
    assert_non_null(ps);
    assert_non_null(pk);
    struct live_event ev = {LIVE_EV_DEPART, 0, 0, 0, 29100000, 3, 0, 3};
    live_predict_event(ps, &ev);
    live_predict_event(pk, &ev);
    struct live_vehicle v = {0};
    v.fix_ms = 29160000;
    v.status = LIVE_STATUS_IN_TRANSIT;
    v.trip = 0;
    v.block_next = 1;
    v.next_pos = 1;
    v.load = -1;
    v.delay_s = 300;
    const struct live_trip_pred *ns = NULL, *nk = NULL;
    const struct live_trip_pred *ts =
        live_predict_vehicle(ps, 0, &v, 29160000, &ns);
    const struct live_trip_pred *tk =
        live_predict_vehicle(pk, 0, &v, 29160000, &nk);
    assert_non_null(ns);
    assert_non_null(nk);
    int64_t end_s = ts->stops[1].arr_ms, end_k = tk->stops[1].arr_ms;
    assert_int_equal(ns->stops[0].dep_ms, end_s + 180000);
    /* the baseline keeps the fixed 120 s */
    assert_int_equal(nk->stops[0].dep_ms, end_k + 120000);
    live_predict_free(ps);
    live_predict_free(pk);
    live_hist_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_late_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calibrated_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_learnt_turnaround, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
