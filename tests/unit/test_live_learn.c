/* test_live_learn: stored visits of past days put on today's feed — trip
 * by id, position by stop_sequence, rows of other trips or stops skipped
 * and counted, each day's GTFS base in the feed's zone, the day type by
 * the date — and what the history then knows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"
#include "live_learn.h"

static struct trips_stop stops[3] = {{"A", 0, 0}, {"B", 0, 0}, {"C", 0, 0}};
/* T1 at 08:00: A, B +300 s, C +600 s; T2 the same an hour later. GTFS
 * sequences 10, 20, 30, so that a position is not a sequence. */
static struct trips_stop_time st[6] = {
    {0, 10, 28800, 28800}, {1, 20, 29100, 29100}, {2, 30, 29400, 29400},
    {0, 10, 32400, 32400}, {1, 20, 32700, 32700}, {2, 30, 33000, 33000}};
static struct trips_trip trips[2] = {{"T1", "R", "B1", 0, 0, 3, -1},
                                     {"T2", "R", "B1", 0, 3, 3, -1}};

static void feed_make(struct trips_feed *f)
{
    f->stops = stops;
    f->nstops = 3;
    f->st = st;
    f->nst = 6;
    f->trips = trips;
    f->ntrips = 2;
    f->day_ms = 0;
    assert_int_equal(trips_feed_finish(f), 0);
}

static void test_day_type(void **state)
{
    (void)state;
    assert_int_equal(live_learn_day_type(0), LIVE_HIST_WEEKDAY); /* Thu */
    assert_int_equal(live_learn_day_type(2), LIVE_HIST_SATURDAY);
    assert_int_equal(live_learn_day_type(3), LIVE_HIST_SUNDAY);
    assert_int_equal(live_learn_day_type(4), LIVE_HIST_WEEKDAY); /* Mon */
    assert_int_equal(live_learn_day_type(20787), LIVE_HIST_WEEKDAY);
    assert_int_equal(live_learn_day_type(20787 - 2), LIVE_HIST_SATURDAY);
    assert_int_equal(live_learn_day_type(20787 - 1), LIVE_HIST_SUNDAY);
    assert_int_equal(live_learn_day_type(-4), LIVE_HIST_SUNDAY); /* 12-28 */
}

/* A visit of T1/T2 at stop SEQ arriving at ARR (Unix ms), 10 s dwell. */
static int row(struct live_learn *l, const char *day, const char *trip, int seq,
               int64_t arr)
{
    struct live_hist_visit v = {-1, -1, arr, arr + 10000, 1, 0, 1};

    return live_learn_row(l, day, trip, seq, &v);
}

/* T1 from A to B in RUN_S seconds at 08:00 in Seoul of day DAY (days
 * since 1970-01-01; Seoul keeps no summer time). */
static void t1_day(struct live_learn *l, int32_t day, int run_s)
{
    /* 08:00 in Seoul on Monday 2026-11-30 (day 20787) */
    int64_t t8 = 1795993200000LL + (int64_t)(day - 20787) * 86400000LL;
    char text[CLOCK_TEXT_MAX];

    clock_text_day(text, day);
    assert_int_equal(row(l, text, "T1", 10, t8), LIVE_LEARN_OK);
    assert_int_equal(row(l, text, "T1", 20, t8 + 10000 + run_s * 1000LL),
                     LIVE_LEARN_OK);
}

static void test_rows_mapped_and_skipped(void **state)
{
    const int64_t mon8 = 1795993200000LL;
    struct trips_feed f = {0};
    struct svcday svc;
    struct live_learn *l;
    struct live_learn_counts c;
    struct live_hist *h;
    struct live_hist_seg s;

    (void)state;
    feed_make(&f);
    assert_int_equal(svcday_init(&svc, "Asia/Seoul"), SVCDAY_OK);
    l = live_learn_new(&f, &svc);
    assert_non_null(l);
    /* In day order: Saturdays 11-14, 11-21 run 120 s, Thursday 11-26 and
     * Friday 11-27 200 s, Saturday 11-28 120 s, Monday 11-30 200 s. */
    t1_day(l, 20771, 120);
    t1_day(l, 20778, 120);
    t1_day(l, 20783, 200);
    t1_day(l, 20784, 200);
    t1_day(l, 20785, 120);
    t1_day(l, 20787, 200);
    /* A trip of another feed and a stop sequence T1 does not have are
     * skipped; T2 is found by its id. */
    assert_int_equal(row(l, "2026-11-30", "T1", 25, mon8 + 300000),
                     LIVE_LEARN_ERR_SKIP);
    assert_int_equal(row(l, "2026-11-30", "OLD-7", 10, mon8),
                     LIVE_LEARN_ERR_SKIP);
    assert_int_equal(row(l, "2026-11-30", "T2", 10, mon8 + 3600000),
                     LIVE_LEARN_OK);
    assert_int_equal(row(l, "not-a-day", "T2", 10, mon8), LIVE_LEARN_ERR_ARG);
    live_learn_counts(l, &c);
    assert_int_equal(c.rows, 16);
    assert_int_equal(c.visits, 13);
    assert_int_equal(c.skipped, 2);
    assert_int_equal(c.days, 6);
    assert_int_equal(live_learn_take(l, &h), LIVE_LEARN_OK);
    assert_non_null(h);
    live_learn_free(l); /* the history is the caller's now */
    assert_int_equal(live_hist_ndays(h), 6);
    /* The weekdays' 200 s sit in the 08:00 bucket of weekdays: each day's
     * base was Seoul's midnight, not UTC's (nine hours off, another
     * bucket). */
    live_hist_segment(h, 0, 0, LIVE_HIST_WEEKDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_BUCKET);
    assert_int_equal(s.n, 3);
    assert_true(s.med_s > 199 && s.med_s < 201);
    /* the Saturdays' 120 s in Saturdays' */
    live_hist_segment(h, 0, 0, LIVE_HIST_SATURDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_BUCKET);
    assert_true(s.med_s > 119 && s.med_s < 121);
    /* Sundays learnt nothing: any day type */
    live_hist_segment(h, 0, 0, LIVE_HIST_SUNDAY, 28800, &s);
    assert_int_equal(s.level, LIVE_HIST_ANYDAY);
    live_hist_free(h);
}

/* The statistics computed a segment position at a time (as the daemon
 * does, between two polls) are those of one live_hist_finish. */
static void test_finish_in_steps(void **state)
{
    struct trips_feed f = {0};
    struct svcday svc;
    struct live_learn *a, *b;
    struct live_hist *ha, *hb;

    (void)state;
    feed_make(&f);
    assert_int_equal(svcday_init(&svc, "Asia/Seoul"), SVCDAY_OK);
    a = live_learn_new(&f, &svc);
    b = live_learn_new(&f, &svc);
    assert_non_null(a);
    assert_non_null(b);
    for (int d = 0; d < 5; d++) {
        t1_day(a, 20780 + d, 150 + 10 * d);
        t1_day(b, 20780 + d, 150 + 10 * d);
    }
    assert_int_equal(live_learn_take(a, &ha), LIVE_LEARN_OK);
    hb = live_learn_detach(b);
    assert_non_null(hb);
    assert_null(live_learn_detach(b)); /* handed over once */
    for (int p = 0; p < live_hist_nsegments(hb); p++)
        assert_int_equal(live_hist_finish_range(hb, p, 1), LIVE_HIST_OK);
    for (int day = 0; day < LIVE_HIST_NDAYS; day++) {
        struct live_hist_seg sa, sb;

        live_hist_segment(ha, 0, 0, (enum live_hist_day)day, 28800, &sa);
        live_hist_segment(hb, 0, 0, (enum live_hist_day)day, 28800, &sb);
        assert_int_equal(sa.level, sb.level);
        assert_int_equal(sa.n, sb.n);
        assert_true(sa.med_s == sb.med_s && sa.q90_s == sb.q90_s);
    }
    {
        struct live_hist_seg s;

        live_hist_segment(hb, 0, 0, LIVE_HIST_WEEKDAY, 28800, &s);
        assert_int_equal(s.level, LIVE_HIST_BUCKET); /* not the timetable */
    }
    live_learn_free(a);
    live_learn_free(b);
    live_hist_free(ha);
    live_hist_free(hb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_type),
        cmocka_unit_test(test_rows_mapped_and_skipped),
        cmocka_unit_test(test_finish_in_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
