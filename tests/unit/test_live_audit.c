/* test_live_audit: predictions are sampled once at each horizon, scored on
 * arrival by the Transit rule and the 80 % interval, dropped when the trip
 * is missed, and summed per lead bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "live_audit.h"

static struct trips_stop stops[3] = {{"A", 0, 0}, {"B", 0, 0}, {"C", 0, 0}};
static struct trips_stop_time st[6] = {
    {0, 1, 28800, 28800}, {1, 2, 29100, 29100}, {2, 3, 29400, 29400},
    {0, 1, 30600, 30600}, {1, 2, 30900, 30900}, {2, 3, 31200, 31200}};
static struct trips_trip trips[2] = {{"T1", "R", "B1", 0, 0, 3, -1},
                                     {"T2", "R", "B1", 0, 3, 3, -1}};

static void feed_make(struct trips_feed *f)
{
    memset(f, 0, sizeof(*f));
    f->stops = stops;
    f->nstops = 3;
    f->st = st;
    f->nst = 6;
    f->trips = trips;
    f->ntrips = 2;
    assert_int_equal(trips_feed_finish(f), 0);
}

#define ARR_MS 10000000LL

/* Trip TRIP with every stop PREDICTED at ARR_MS + pos * 100 s, interval
 * -60 s .. +120 s, made at NOW. */
static void pred_make(struct live_trip_pred *tp, struct live_stop_pred *sp,
                      int trip, int64_t now)
{
    memset(tp, 0, sizeof(*tp));
    tp->trip = trip;
    tp->vehicle = 7;
    tp->made_ms = now;
    tp->fix_ms = now;
    tp->stops = sp;
    tp->nstops = 3;
    for (int p = 0; p < 3; p++) {
        memset(&sp[p], 0, sizeof(sp[p]));
        sp[p].pos = p;
        sp[p].stop = p;
        sp[p].kind = LIVE_KIND_PREDICTED;
        sp[p].arr_ms = ARR_MS + p * 100000LL;
        sp[p].arr_lo_ms = sp[p].arr_ms - 60000;
        sp[p].arr_hi_ms = sp[p].arr_ms + 120000;
        sp[p].load = -1;
    }
}

/* Refresh trip 0 with only stop position 1 PREDICTED, at lead LEAD_S. */
static void refresh_pos1(struct live_audit *a, double lead_s)
{
    struct live_trip_pred tp;
    struct live_stop_pred sp[3];
    int64_t now = ARR_MS + 100000LL - (int64_t)(lead_s * 1000.0);
    pred_make(&tp, sp, 0, now);
    sp[0].kind = LIVE_KIND_DEPARTED;
    sp[2].kind = LIVE_KIND_SCHEDULED;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
}

static struct live_event arrive(int trip, int pos, int64_t t)
{
    struct live_event ev = {LIVE_EV_ARRIVE, 7, trip, pos, t, 0, 0, -1};
    return ev;
}

static void test_sampling_horizons(void **state)
{
    (void)state;
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    refresh_pos1(a, 950); /* before the 15-min window */
    assert_int_equal(live_audit_pending(a), 0);
    refresh_pos1(a, 900); /* the 15-min horizon, edge included */
    assert_int_equal(live_audit_pending(a), 1);
    refresh_pos1(a, 880); /* once only */
    refresh_pos1(a, 700);
    assert_int_equal(live_audit_pending(a), 1);
    refresh_pos1(a, 601); /* not yet 10 min */
    assert_int_equal(live_audit_pending(a), 1);
    refresh_pos1(a, 590);
    assert_int_equal(live_audit_pending(a), 2);
    /* jumps from 590 to 200: 5 min passed its window (225, 300] */
    refresh_pos1(a, 200);
    assert_int_equal(live_audit_pending(a), 2);
    refresh_pos1(a, 100); /* 2 min: (90, 120] */
    assert_int_equal(live_audit_pending(a), 3);
    refresh_pos1(a, 95);
    assert_int_equal(live_audit_pending(a), 3);

    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 99;
    struct live_event ev = arrive(0, 1, ARR_MS + 100000LL + 20000);
    /* too small an array: nothing completed */
    assert_int_equal(live_audit_event(a, &ev, out, 2, &n), LIVE_AUDIT_ERR_ARG);
    assert_int_equal(live_audit_pending(a), 3);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].horizon_s, 120);
    assert_int_equal(out[1].horizon_s, 600);
    assert_int_equal(out[2].horizon_s, 900);
    assert_int_equal(live_audit_pending(a), 0);
    /* arrived: closed to sampling, and a second ARRIVE yields nothing */
    refresh_pos1(a, 50);
    assert_int_equal(live_audit_pending(a), 0);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    live_audit_free(a);
}

static void test_first_seen_late(void **state)
{
    (void)state;
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    /* first seen at 100 s: a 2-min sample only, never a 5/10/15-min one */
    refresh_pos1(a, 100);
    assert_int_equal(live_audit_pending(a), 1);
    refresh_pos1(a, 40); /* 1 min: (30, 60] */
    assert_int_equal(live_audit_pending(a), 2);
    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 0;
    struct live_event ev = arrive(0, 1, ARR_MS + 100000LL);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].horizon_s, 60);
    assert_int_equal(out[1].horizon_s, 120);
    live_audit_free(a);
}

static void test_scoring(void **state)
{
    (void)state;
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    struct live_trip_pred tp;
    struct live_stop_pred sp[3];
    /* 100 s before stop 1 (2-min horizon), stop 2 is then 200 s ahead */
    int64_t now = ARR_MS;
    pred_make(&tp, sp, 1, now);
    sp[0].kind = LIVE_KIND_DEPARTED;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 1); /* 200 s: no window */

    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 0;
    /* the bus came 91 s after the prediction: outside +90 s, in the
     * interval (+120 s) */
    struct live_event ev = arrive(1, 1, ARR_MS + 100000LL + 91000);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].vehicle, 7);
    assert_int_equal(out[0].trip, 1);
    assert_int_equal(out[0].pos, 1);
    assert_int_equal(out[0].stop, 1);
    assert_int_equal(out[0].horizon_s, 120);
    assert_true(out[0].made_ms == now);
    assert_true(out[0].pred_ms == ARR_MS + 100000LL);
    assert_true(out[0].lo_ms == ARR_MS + 40000LL);
    assert_true(out[0].hi_ms == ARR_MS + 220000LL);
    assert_true(out[0].actual_ms == ev.t_ms);
    assert_false(out[0].accurate);
    assert_true(out[0].covered);

    /* other stops and events: DEPART completes nothing */
    now = ARR_MS + 100000LL; /* stop 2 now 100 s ahead */
    pred_make(&tp, sp, 1, now);
    sp[0].kind = sp[1].kind = LIVE_KIND_DEPARTED;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 1);
    struct live_event dep = {LIVE_EV_DEPART, 7, 1, 2, now, 0, 0, -1};
    assert_int_equal(live_audit_event(a, &dep, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(live_audit_pending(a), 1);
    live_audit_free(a);
}

static void score_one(int64_t actual_ms, bool *accurate, bool *covered)
{
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    refresh_pos1(a, 100);
    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 0;
    struct live_event ev = arrive(0, 1, actual_ms);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 1);
    *accurate = out[0].accurate;
    *covered = out[0].covered;
    live_audit_free(a);
}

static void test_coverage(void **state)
{
    (void)state;
    int64_t pred = ARR_MS + 100000LL; /* interval pred-60 s .. pred+120 s */
    bool acc, cov;
    score_one(pred - 60000, &acc, &cov);
    assert_true(cov);
    assert_false(acc); /* 60 s early at 100 s lead */
    score_one(pred - 60001, &acc, &cov);
    assert_false(cov);
    score_one(pred + 120000, &acc, &cov);
    assert_true(cov);
    score_one(pred + 120001, &acc, &cov);
    assert_false(cov);
    score_one(pred - 30000, &acc, &cov);
    assert_true(acc);
    assert_true(cov);
}

static void test_accuracy_rule(void **state)
{
    (void)state;
    /* each bucket: both limits in, just past each out */
    static const double b[4][3] = {
        {100, -30, 90}, {300, -60, 150}, {500, -60, 210}, {800, -90, 270}};
    for (int i = 0; i < 4; i++) {
        assert_true(live_audit_accurate(b[i][0], b[i][1]));
        assert_true(live_audit_accurate(b[i][0], b[i][2]));
        assert_true(live_audit_accurate(b[i][0], 0));
        assert_false(live_audit_accurate(b[i][0], b[i][1] - 0.001));
        assert_false(live_audit_accurate(b[i][0], b[i][2] + 0.001));
    }
    /* the sign: actual - predicted; early (negative) is the narrow side */
    assert_true(live_audit_accurate(60, 60));
    assert_false(live_audit_accurate(60, -60));
    /* lead edges: 180 s is still 0-3 min, just past it 3-6 min */
    assert_false(live_audit_accurate(180, -45));
    assert_true(live_audit_accurate(180.5, -45));
    assert_false(live_audit_accurate(360, 180));
    assert_true(live_audit_accurate(360.5, 180));
    assert_false(live_audit_accurate(600, -75));
    assert_true(live_audit_accurate(600.5, -75));
    assert_true(live_audit_accurate(900, 270));
    assert_false(live_audit_accurate(900.5, 0)); /* no rule past 15 min */
    assert_true(live_audit_accurate(0, 90));
    assert_true(live_audit_accurate(-5, 90));

    assert_int_equal(live_audit_bucket_of(180), LIVE_AUDIT_B0_3);
    assert_int_equal(live_audit_bucket_of(180.5), LIVE_AUDIT_B3_6);
    assert_int_equal(live_audit_bucket_of(600), LIVE_AUDIT_B6_10);
    assert_int_equal(live_audit_bucket_of(900), LIVE_AUDIT_B10_15);
    assert_int_equal(live_audit_bucket_of(1800), LIVE_AUDIT_B15_30);
    assert_int_equal(live_audit_bucket_of(1800.5), -1);
    assert_int_equal(live_audit_slack_s(60), 30);
    assert_int_equal(live_audit_slack_s(900), 225);
}

static void test_missed_drops(void **state)
{
    (void)state;
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    struct live_trip_pred tp;
    struct live_stop_pred sp[3];
    /* stops at 100, 200, 300 s: horizons 2, (none), 5 min */
    int64_t now = ARR_MS - 100000LL;
    pred_make(&tp, sp, 0, now);
    for (int p = 0; p < 3; p++)
        sp[p].arr_ms = now + (p + 1) * 100000LL;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 2);
    pred_make(&tp, sp, 1, now);
    sp[0].arr_ms = now + 110000LL;
    sp[1].kind = sp[2].kind = LIVE_KIND_SCHEDULED;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 3);

    struct live_event ms = {LIVE_EV_MISSED, -1, 0, -1, now, 0, 0, -1};
    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 9;
    assert_int_equal(live_audit_event(a, &ms, out, 0, &n), LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(live_audit_pending(a), 1); /* trip 1's is kept */
    /* the missed trip is closed: no resampling, no scores */
    pred_make(&tp, sp, 0, now);
    for (int p = 0; p < 3; p++)
        sp[p].arr_ms = now + (p + 1) * 100000LL;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 1);
    struct live_event ev = arrive(0, 0, now + 100000LL);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    ev = arrive(1, 0, now + 110000LL);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 1);
    assert_true(out[0].accurate);
    assert_int_equal(live_audit_pending(a), 0);
    live_audit_free(a);
}

static void test_passed_and_trip_end(void **state)
{
    (void)state;
    struct trips_feed f;
    feed_make(&f);
    struct live_audit *a = NULL;
    assert_int_equal(live_audit_new(&f, &a), LIVE_AUDIT_OK);
    struct live_trip_pred tp;
    struct live_stop_pred sp[3];
    int64_t now = ARR_MS - 100000LL;
    /* stops 0, 1, 2 at 100, 110, 300 s: 2, 2 and 5 min */
    pred_make(&tp, sp, 0, now);
    sp[0].arr_ms = now + 100000LL;
    sp[1].arr_ms = now + 110000LL;
    sp[2].arr_ms = now + 300000LL;
    assert_int_equal(live_audit_predictions(a, &tp, now), LIVE_AUDIT_OK);
    assert_int_equal(live_audit_pending(a), 3);
    struct live_audit_sample out[LIVE_AUDIT_NHORIZONS];
    size_t n = 0;
    /* arriving at 1 drops stop 0's sample (passed unseen) */
    struct live_event ev = arrive(0, 1, now + 110000LL);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].pos, 1);
    assert_int_equal(live_audit_pending(a), 1);
    /* the trip ends without stop 2: its sample goes */
    struct live_event end = {LIVE_EV_TRIP_END, 7, 0, 1, now, 0, 0, -1};
    assert_int_equal(live_audit_event(a, &end, out, 0, &n), LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(live_audit_pending(a), 0);
    /* outside the feed: ignored */
    ev = arrive(5, 0, now);
    assert_int_equal(live_audit_event(a, &ev, out, LIVE_AUDIT_NHORIZONS, &n),
                     LIVE_AUDIT_OK);
    assert_int_equal(n, 0);
    live_audit_free(a);
}

static struct live_audit_sample smp(double lead_s, double err_s, bool cov)
{
    struct live_audit_sample s;
    memset(&s, 0, sizeof(s));
    s.made_ms = ARR_MS;
    s.pred_ms = ARR_MS + (int64_t)(lead_s * 1000);
    s.actual_ms = s.pred_ms + (int64_t)(err_s * 1000);
    s.accurate = live_audit_accurate(lead_s, err_s);
    s.covered = cov;
    return s;
}

static void test_summary(void **state)
{
    (void)state;
    struct live_audit_summary *s = live_audit_summary_new();
    assert_non_null(s);
    /* bucket 0-3 min: errors -4 .. 4 and one of +100 s */
    static const double errs[10] = {-4, -3, -2, -1, 0, 1, 2, 3, 4, 100};
    for (int i = 0; i < 10; i++) {
        struct live_audit_sample x = smp(100, errs[i], i < 3);
        assert_int_equal(live_audit_summary_add(s, &x), LIVE_AUDIT_OK);
    }
    /* one in 15-30 min, one beyond 30 min (ignored) */
    struct live_audit_sample x = smp(1000, -50, true);
    assert_int_equal(live_audit_summary_add(s, &x), LIVE_AUDIT_OK);
    x = smp(2000, 0, true);
    assert_int_equal(live_audit_summary_add(s, &x), LIVE_AUDIT_OK);

    struct live_audit_figures g;
    assert_int_equal(live_audit_summary_get(s, LIVE_AUDIT_B0_3, &g),
                     LIVE_AUDIT_OK);
    assert_int_equal(g.n, 10);
    assert_true(g.mae_s == 12.0); /* (4+3+2+1+0+1+2+3+4+100) / 10 */
    assert_true(g.p90_s == 4.0);  /* 9th of 0,1,1,2,2,3,3,4,4,100 */
    assert_true(g.bias_s == 10.0);
    assert_true(g.accuracy == 0.9);
    assert_true(g.coverage == 0.3);
    assert_int_equal(live_audit_summary_get(s, LIVE_AUDIT_B15_30, &g),
                     LIVE_AUDIT_OK);
    assert_int_equal(g.n, 1);
    assert_true(g.bias_s == -50.0 && g.mae_s == 50.0 && g.p90_s == 50.0);
    assert_true(g.accuracy == 0.0 && g.coverage == 1.0);
    assert_int_equal(live_audit_summary_get(s, LIVE_AUDIT_B3_6, &g),
                     LIVE_AUDIT_OK);
    assert_int_equal(g.n, 0);
    assert_int_equal(live_audit_summary_get(
                         s, (enum live_audit_bucket)LIVE_AUDIT_NBUCKETS, &g),
                     LIVE_AUDIT_ERR_ARG);

    /* growth past the first array: 1000 errors 1..1000 s in 6-10 min */
    for (int i = 1000; i >= 1; i--) {
        x = smp(500, i, false);
        assert_int_equal(live_audit_summary_add(s, &x), LIVE_AUDIT_OK);
    }
    assert_int_equal(live_audit_summary_get(s, LIVE_AUDIT_B6_10, &g),
                     LIVE_AUDIT_OK);
    assert_int_equal(g.n, 1000);
    assert_true(g.p90_s == 900.0);
    assert_true(g.mae_s == 500.5);
    live_audit_summary_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_horizons),
        cmocka_unit_test(test_first_seen_late),
        cmocka_unit_test(test_scoring),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_accuracy_rule),
        cmocka_unit_test(test_missed_drops),
        cmocka_unit_test(test_passed_and_trip_end),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
