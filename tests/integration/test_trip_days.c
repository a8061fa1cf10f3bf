/* The disturbed service day of test_service_day for 20 dates and seeds,
 * planned by the simulator and handed straight to the trip builder's
 * algorithm (no NMEA, MQTT or SQL between them): every run must be matched
 * to the trip and bus the simulator drove, the missed trip must stay
 * missed, the late one late, whatever the date, the seed and the fixes
 * lost on the way. PostgreSQL only serves the timetable to the simulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "itest_db.h"
#include "sim_bus.h"
#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_rng.h"
#include "sim_trips.h"
#include "trips.h"

/* Days tried; SHUTTLE_TRIP_DAYS=N tries N (the long form). */
#define NDAYS 20
/* The disturbances of test_service_day's disturbed day. */
#define MISS_TRIP "R1-IN-0700"
#define LATE_TRIP "R2-IN-0742"
#define LATE_S (12 * 60)
static const struct sim_event idle = {2, 7 * 3600, 40 * 60}; /* bus-3 */
static const struct sim_event dropout = {3, 7 * 3600 + 32 * 60,
                                         600}; /* bus-4 */

static struct harness_pg *pg;

static int setup(void **state)
{
    (void)state;
    pg = itest_db_with_feed();
    return pg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

static int feed_trip_index(const struct trips_feed *f, const char *id)
{
    for (size_t t = 0; t < f->ntrips; t++)
        if (!strcmp(f->trips[t].id, id))
            return (int)t;
    return -1;
}

/* When trip k really left its stop j (seconds after midnight); the
 * trip's departure when the plan has no such visit. */
static double truth_dep(const struct sim_plan *p, int k, int j)
{
    for (int i = 0; i < p->nvisits; i++)
        if (p->visits[i].trip == k && p->visits[i].j == j)
            return p->visits[i].dep;
    return p->trip_dep[k];
}

/* One day: plan it, build its runs, hold them against the plan. Returns
 * the number of trips the builder got wrong (printed). */
static int one_day(const char *date, uint64_t seed)
{
    struct sim_feed *sf;
    struct sim_demand dem;
    struct sim_plan plan;
    struct sim_plan_opts po;
    struct sim_rng rdem, rplan;
    struct trips_feed tf;
    struct trips_params p;
    struct trips_run *runs = NULL;
    size_t nruns = 0;
    unsigned char *missed;
    int *late_s, bad = 0, operated = 0, nmissed = 0, km, kl;
    char err[512];
    double late_err = NAN;

    if (sim_feed_load(harness_pg_conninfo(pg), date, &sf, err, sizeof err))
        fail_msg("%s: %s", date, err);
    missed = calloc((size_t)sf->ntrips, 1);
    late_s = calloc((size_t)sf->ntrips, sizeof *late_s);
    assert_non_null(missed);
    assert_non_null(late_s);
    km = sim_feed_trip(sf, MISS_TRIP);
    kl = sim_feed_trip(sf, LATE_TRIP);
    assert_true(km >= 0 && kl >= 0);
    missed[km] = 1;
    late_s[kl] = LATE_S;
    sim_rng_init(&rdem, seed, 1);
    sim_rng_init(&rplan, seed, 2);
    assert_int_equal(sim_demand_make(sf, missed, 1500, 45, &rdem, &dem), 0);
    memset(&po, 0, sizeof po);
    po.seats = 45;
    po.counter_error = 0.03;
    po.missed = missed;
    po.late_s = late_s;
    po.dropouts = &dropout;
    po.ndropouts = 1;
    po.idles = &idle;
    po.nidles = 1;
    assert_int_equal(sim_plan_make(sf, &dem, &po, &rplan, &plan), 0);
    assert_int_equal(sim_trips_feed(sf, (int64_t)sf->day0 * 1000, &tf), 0);

    trips_params_default(&p);
    for (int b = 0; b < plan.nbus; b++) {
        /* 3 m of receiver error, 2 % of fixes lost at random. */
        struct sim_trips_gps g = {seed, 3.0, 0.02};
        struct sim_trips_vehicle v;
        struct trips_visit *vis = NULL;
        size_t nvis = 0;

        assert_int_equal(sim_trips_vehicle(&plan, sf, b, &g, &v), 0);
        assert_int_equal(trips_visits(&tf, &p, v.fixes, v.nfixes, v.doors,
                                      v.ndoors, &vis, &nvis),
                         0);
        assert_int_equal(trips_runs(&tf, &p, v.id, vis, nvis, &runs, &nruns),
                         0);
        free(vis);
        sim_trips_vehicle_free(&v);
    }
    assert_int_equal(trips_assign(&tf, &p, runs, nruns), 0);

    /* Every trip: driven by its block's bus, or missed, as planned. */
    for (int k = 0; k < sf->ntrips; k++) {
        const struct sim_trip *st = &sf->trips[k];
        int t = feed_trip_index(&tf, st->trip_id), got = -1;
        char want[TRIPS_ID_MAX];

        assert_true(t >= 0);
        snprintf(want, sizeof want, "bus-%d", st->block + 1);
        for (size_t r = 0; r < nruns; r++)
            if (runs[r].trip == t)
                got = (int)r;
        if (plan.trip_dep[k] < 0) {
            nmissed++;
            if (got >= 0) {
                fprintf(stderr,
                        "%s seed %llu: %s was missed, but %s's run"
                        " at +%.0f s was matched to it\n",
                        date, (unsigned long long)seed, st->trip_id,
                        runs[got].vehicle_id,
                        (double)(runs[got].start_ms / 1000 - sf->day0) -
                            sim_feed_st(sf, st, 0)->dep);
                bad++;
            }
            continue;
        }
        operated++;
        /* The right bus, and its run that left when the plan says (from
         * the first stop the run saw: a dropout can hide the first). */
        if (got < 0 || strcmp(runs[got].vehicle_id, want) ||
            fabs((double)runs[got].start_ms / 1000 -
                 ((double)sf->day0 +
                  truth_dep(&plan, k, runs[got].first_pos))) > 180) {
            fprintf(stderr,
                    "%s seed %llu: %s (%s, left %02d:%02d) got %s"
                    " (run at %+.0f s)\n",
                    date, (unsigned long long)seed, st->trip_id, want,
                    (int)plan.trip_dep[k] / 3600,
                    (int)plan.trip_dep[k] / 60 % 60,
                    got < 0 ? "no run" : runs[got].vehicle_id,
                    got < 0 ? NAN
                            : (double)runs[got].start_ms / 1000 -
                                  ((double)sf->day0 + plan.trip_dep[k]));
            bad++;
        } else if (k == kl) {
            late_err = (double)runs[got].start_ms / 1000 -
                       ((double)sf->day0 + plan.trip_dep[k]);
        }
    }
    /* Runs that took no trip: a phantom run, or one the matcher dropped. */
    for (size_t r = 0; r < nruns; r++)
        if (runs[r].trip < 0) {
            fprintf(stderr,
                    "%s seed %llu: %s's run at %02lld:%02lld"
                    " (pattern %d, stops %d-%d, %d seen) took no trip\n",
                    date, (unsigned long long)seed, runs[r].vehicle_id,
                    (long long)(runs[r].start_ms / 1000 - sf->day0) / 3600,
                    (long long)(runs[r].start_ms / 1000 - sf->day0) / 60 % 60,
                    runs[r].pattern, runs[r].first_pos, runs[r].last_pos,
                    runs[r].matched);
            bad++;
        }
    fprintf(stderr,
            "%s seed %3llu: %zu runs, %d trips operated, %d missed;"
            " %s start %+.0f s from the truth; %d wrong\n",
            date, (unsigned long long)seed, nruns, operated, nmissed, LATE_TRIP,
            late_err, bad);
    if (!(fabs(late_err) <= 90))
        bad++;
    free(runs);
    sim_trips_feed_free(&tf);
    sim_plan_free(&plan);
    sim_demand_free(&dem);
    free(missed);
    free(late_s);
    sim_feed_free(sf);
    return bad;
}

static void test_disturbed_days(void **state)
{
    const char *env = getenv("SHUTTLE_TRIP_DAYS");
    int bad = 0, ndays = env ? atoi(env) : NDAYS;

    (void)state;
    if (ndays < 1)
        ndays = NDAYS;
    /* Dates spread over the feed's calendar (every weekday and month),
     * seeds the simulator's own way of mixing a seed with a date. */
    for (int i = 0; i < ndays; i++) {
        /* 2025-01-06 on, 37 days apart, round the calendar's three years */
        time_t t = (time_t)1736121600 + (time_t)(i * 37 % 1090) * 86400;
        struct tm tm;
        char date[16];
        int y, mo, d;
        uint64_t seed;

        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        sscanf(date, "%d-%d-%d", &y, &mo, &d);
        seed = (uint64_t)(i + 1) * 1000003ULL +
               (uint64_t)(y * 10000 + mo * 100 + d);
        bad += one_day(date, seed);
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disturbed_days),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
