/* test_live_hist: the learnt history falls back to the timetable on day
 * one and keeps robust statistics per time-of-day bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "live_hist.h"

static struct trips_stop stops[3] = {{"A", 0, 0}, {"B", 0, 0}, {"C", 0, 0}};
/* one trip at 08:00: A 0 s, B +300 s (dwell 30 s), C +600 s */
static struct trips_stop_time st[3] = {
    {0, 1, 28800, 28800}, {1, 2, 29100, 29130}, {2, 3, 29430, 29430}};
static struct trips_trip trip = {"T1", "R", "B1", 0, 0, 3, -1};

static void feed_make(struct trips_feed *f)
{
    f->stops = stops;
    f->nstops = 3;
    f->st = st;
    f->nst = 3;
    f->trips = &trip;
    f->ntrips = 1;
    f->day_ms = 0;
    assert_int_equal(trips_feed_finish(f), 0);
}

static void test_day_one_timetable(void **state)
{
    (void)state;
    struct trips_feed f = {0};
    feed_make(&f);
    struct live_hist *h = live_hist_new(&f);
    assert_non_null(h);
    assert_int_equal(live_hist_finish(h), LIVE_HIST_OK);
    struct live_hist_seg s;
    live_hist_segment(h, 0, 0, LIVE_HIST_WEEKDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_TIMETABLE);
    assert_true(s.med_s == 300.0);
    assert_true(live_hist_dwell(h, 0, 1, LIVE_HIST_WEEKDAY, 29100) == 30.0);
    live_hist_free(h);
}

static void test_bucket_median(void **state)
{
    (void)state;
    struct trips_feed f = {0};
    feed_make(&f);
    struct live_hist *h = live_hist_new(&f);
    /* five days: 100..140 s, plus one day stuck for an hour */
    int runs[6] = {100, 110, 120, 130, 140, 3600};
    for (int d = 0; d < 6; d++) {
        live_hist_day_begin(h, 0, LIVE_HIST_WEEKDAY);
        struct live_hist_visit a = {0, 0, 28800000, 28800000, 5, 0, 5};
        struct live_hist_visit b = {0,
                                    1,
                                    28800000 + runs[d] * 1000LL,
                                    28800000 + runs[d] * 1000LL + 20000,
                                    2,
                                    1,
                                    6};
        assert_int_equal(live_hist_add_visit(h, &a), LIVE_HIST_OK);
        assert_int_equal(live_hist_add_visit(h, &b), LIVE_HIST_OK);
    }
    assert_int_equal(live_hist_finish(h), LIVE_HIST_OK);
    struct live_hist_seg s;
    live_hist_segment(h, 0, 0, LIVE_HIST_WEEKDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_BUCKET);
    assert_int_equal(s.n, 6);
    /* the median ignores the bad day the mean does not */
    assert_true(s.med_s > 120 && s.med_s < 130);
    assert_true(s.mean_s > 500);
    assert_true(live_hist_dwell(h, 0, 1, LIVE_HIST_WEEKDAY, 29100) == 20.0);
    /* a Saturday has nothing of its own: any day type */
    live_hist_segment(h, 0, 0, LIVE_HIST_SATURDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_ANYDAY);
    live_hist_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_one_timetable),
        cmocka_unit_test(test_bucket_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
