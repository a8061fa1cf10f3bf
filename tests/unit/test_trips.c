/* Unit tests of the trip builder's matcher and run cutter
 * (backend/trips/trips.c) on constructed timetables and visit sequences: a late
 * block, a missed trip, a bus swap, early starts, two buses after one trip,
 * input order, and deadheads against empty runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trips.h"

#define NSTOPS 5
#define MIN (60 * 1000LL)
#define DAY0 1767193200000LL /* a midnight, Unix ms; any would do */

/*
 * Three blocks on one line of five stops, each trip 20 min end to end:
 * block A at 06:00, 06:45, 07:30, 08:15; B 15 min after A; C 30 min after.
 * Plus the line backwards (pattern 1) at 17:00 only.
 */
struct fixture {
    struct trips_feed f;
    struct trips_stop stops[NSTOPS];
    struct trips_stop_time st[13 * NSTOPS];
    struct trips_trip trips[13];
};

static void add_trip(struct fixture *x, const char *id, const char *block,
                     int dep_min, bool backwards)
{
    struct trips_trip *t = &x->trips[x->f.ntrips++];

    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->route_id, sizeof t->route_id, "R");
    snprintf(t->block_id, sizeof t->block_id, "%s", block);
    t->direction = backwards;
    t->first = x->f.nst;
    t->n = NSTOPS;
    for (int k = 0; k < NSTOPS; k++) {
        struct trips_stop_time *s = &x->st[x->f.nst++];

        s->stop = backwards ? NSTOPS - 1 - k : k;
        s->sequence = k + 1;
        s->arr_s = s->dep_s = (dep_min + 5 * k) * 60;
    }
}

static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof *x);
    static const char *blocks[] = {"A", "B", "C"};

    if (!x)
        return -1;
    x->f.stops = x->stops;
    x->f.nstops = NSTOPS;
    x->f.st = x->st;
    x->f.trips = x->trips;
    x->f.day_ms = DAY0;
    for (int i = 0; i < NSTOPS; i++) {
        snprintf(x->stops[i].id, sizeof x->stops[i].id, "S%d", i);
        x->stops[i].lat = 37.6 + 0.01 * i;
        x->stops[i].lon = 126.6;
    }
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 4; k++) {
            char id[16];
            int dep = 6 * 60 + 15 * b + 45 * k;

            snprintf(id, sizeof id, "%s%d", blocks[b], k + 1);
            add_trip(x, id, blocks[b], dep, false);
        }
    add_trip(x, "BACK", "A", 17 * 60, true);
    assert_int_equal(trips_feed_finish(&x->f), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static struct trips_run run_at(const char *vid, int hh, int mm)
{
    struct trips_run r;

    memset(&r, 0, sizeof r);
    snprintf(r.vehicle_id, sizeof r.vehicle_id, "%s", vid);
    r.pattern = 0;
    r.start_ms = DAY0 + (hh * 60 + mm) * MIN;
    r.trip = -1;
    return r;
}

/* The trip id a run was given, or "-". */
static const char *trip_of(const struct fixture *x, const struct trips_run *r)
{
    return r->trip < 0 ? "-" : x->trips[r->trip].id;
}

/* Buses b and c drive their blocks on time (the neighbours a late or
 * early run could be mistaken for). */
static size_t add_on_time(struct trips_run *r, size_t n, bool with_b)
{
    for (int k = 0; k < 4; k++) {
        int m = 6 * 60 + 45 * k;

        if (with_b)
            r[n++] = run_at("bus-b", (m + 15) / 60, (m + 15) % 60);
        r[n++] = run_at("bus-c", (m + 30) / 60, (m + 30) % 60);
    }
    return n;
}

static void test_late_block_stays_late(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[16];
    size_t n = 0;

    trips_params_default(&p);
    /* Bus a stood 40 min at the terminal: its 06:45 leaves 36 min late,
     * nearer B2 (07:00) and A3's window than its own, and it catches up
     * slowly. */
    r[n++] = run_at("bus-a", 6, 0);
    r[n++] = run_at("bus-a", 7, 21);
    r[n++] = run_at("bus-a", 8, 6);
    r[n++] = run_at("bus-a", 8, 46);
    n = add_on_time(r, n, true);
    assert_int_equal(trips_assign(&x->f, &p, r, n), 0);
    assert_string_equal(trip_of(x, &r[0]), "A1");
    assert_string_equal(trip_of(x, &r[1]), "A2");
    assert_string_equal(trip_of(x, &r[2]), "A3");
    assert_string_equal(trip_of(x, &r[3]), "A4");
    for (size_t i = 4; i < n; i++)
        assert_int_equal(x->trips[r[i].trip].block_id[0],
                         r[i].vehicle_id[4] - 'a' + 'A');
}

static void test_missed_trip_is_missed(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[16];
    size_t n = 0;
    bool b2 = false;

    trips_params_default(&p);
    /* Bus b does not run B2 (07:00); its next run leaves on time. */
    r[n++] = run_at("bus-b", 6, 15);
    r[n++] = run_at("bus-b", 7, 45);
    r[n++] = run_at("bus-b", 8, 31);
    r[n++] = run_at("bus-a", 6, 0);
    r[n++] = run_at("bus-a", 6, 45);
    r[n++] = run_at("bus-a", 7, 30);
    r[n++] = run_at("bus-a", 8, 15);
    n = add_on_time(r, n, false);
    assert_int_equal(trips_assign(&x->f, &p, r, n), 0);
    assert_string_equal(trip_of(x, &r[0]), "B1");
    assert_string_equal(trip_of(x, &r[1]), "B3");
    assert_string_equal(trip_of(x, &r[2]), "B4");
    for (size_t i = 0; i < n; i++)
        b2 = b2 || !strcmp(trip_of(x, &r[i]), "B2");
    assert_false(b2);
}

static void test_bus_swap(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[16];
    size_t n = 0;

    trips_params_default(&p);
    /* Bus a breaks down after A2; spare bus z drives A3 and A4, a few
     * minutes late. */
    r[n++] = run_at("bus-a", 6, 1);
    r[n++] = run_at("bus-a", 6, 46);
    r[n++] = run_at("bus-z", 7, 36);
    r[n++] = run_at("bus-z", 8, 19);
    n = add_on_time(r, n, true);
    assert_int_equal(trips_assign(&x->f, &p, r, n), 0);
    assert_string_equal(trip_of(x, &r[0]), "A1");
    assert_string_equal(trip_of(x, &r[1]), "A2");
    assert_string_equal(trip_of(x, &r[2]), "A3");
    assert_string_equal(trip_of(x, &r[3]), "A4");
}

static void test_early_start(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[16];
    size_t n = 0;

    trips_params_default(&p);
    /* Bus a leaves every trip 4 min early. */
    r[n++] = run_at("bus-a", 5, 56);
    r[n++] = run_at("bus-a", 6, 41);
    r[n++] = run_at("bus-a", 7, 26);
    r[n++] = run_at("bus-a", 8, 11);
    n = add_on_time(r, n, true);
    assert_int_equal(trips_assign(&x->f, &p, r, n), 0);
    assert_string_equal(trip_of(x, &r[0]), "A1");
    assert_string_equal(trip_of(x, &r[1]), "A2");
    assert_string_equal(trip_of(x, &r[2]), "A3");
    assert_string_equal(trip_of(x, &r[3]), "A4");
}

static void test_two_buses_one_trip(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[4];

    trips_params_default(&p);
    /* Two vehicles drove A1's stops; the one on time keeps it, the other
     * takes no trip of another block without reason. */
    r[0] = run_at("bus-y", 6, 9);
    r[1] = run_at("bus-a", 6, 1);
    assert_int_equal(trips_assign(&x->f, &p, r, 2), 0);
    assert_string_equal(trip_of(x, &r[1]), "A1");
    assert_string_equal(trip_of(x, &r[0]), "B1"); /* 6 min early for B1 */
    /* The same pair in the other order: the same outcome. */
    r[2] = r[1];
    r[3] = r[0];
    assert_int_equal(trips_assign(&x->f, &p, &r[2], 2), 0);
    assert_string_equal(trip_of(x, &r[2]), "A1");
    assert_string_equal(trip_of(x, &r[3]), "B1");
}

static void test_order_does_not_matter(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_run r[16], s[16];
    size_t n = 0;
    unsigned seed = 7;

    trips_params_default(&p);
    r[n++] = run_at("bus-a", 6, 0);
    r[n++] = run_at("bus-a", 7, 21);
    r[n++] = run_at("bus-a", 8, 6);
    r[n++] = run_at("bus-a", 8, 46);
    n = add_on_time(r, n, true);
    assert_int_equal(trips_assign(&x->f, &p, r, n), 0);
    for (int round = 0; round < 20; round++) {
        int perm[16];

        for (size_t i = 0; i < n; i++)
            perm[i] = (int)i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rand_r(&seed) % (i + 1);
            int t = perm[i];

            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            s[i] = r[perm[i]];
            s[i].trip = -1;
        }
        assert_int_equal(trips_assign(&x->f, &p, s, n), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(s[i].trip, r[perm[i]].trip);
    }
}

/* Visits of one pass along pattern `backwards` from stop 0 at `t0`. */
static size_t pass(struct trips_visit *v, size_t n, bool backwards, int64_t t0,
                   const bool *halts, const int *board, const int *alight)
{
    for (int k = 0; k < NSTOPS; k++) {
        struct trips_visit *x = &v[n++];

        memset(x, 0, sizeof *x);
        x->stop = backwards ? NSTOPS - 1 - k : k;
        x->arr_ms = t0 + k * 5 * MIN;
        x->dep_ms = x->arr_ms + (halts[k] ? 30000 : 0);
        x->stopped = halts[k];
        x->boarded = board ? board[k] : 0;
        x->alighted = alight ? alight[k] : 0;
        x->doors = (x->boarded || x->alighted) ? 1 : 0;
        x->load_after = -1;
        x->run = x->run_starting = -1;
    }
    return n;
}

static void test_deadhead_or_empty_run(void **state)
{
    struct fixture *x = *state;
    struct trips_params p;
    struct trips_visit v[3 * NSTOPS];
    struct trips_run *runs = NULL;
    size_t nv = 0, nruns = 0;
    static const bool ends[NSTOPS] = {1, 0, 0, 0, 1};
    static const int on[NSTOPS] = {20, 0, 0, 0, 0};
    static const int off[NSTOPS] = {0, 0, 5, 0, 15};
    static const int few_on[NSTOPS] = {2, 0, 0, 0, 0};
    static const int few_off[NSTOPS] = {0, 0, 0, 0, 2};

    trips_params_default(&p);
    /* A run with people on board, then the bus drives the line back
     * empty, halting only at the ends, at 07:00 when no trip of the back
     * pattern is due: a deadhead. Then the 17:00 back trip, halting only
     * at its ends with two riders: a run. */
    nv = pass(v, nv, false, DAY0 + 6 * 60 * MIN, ends, on, off);
    nv = pass(v, nv, true, DAY0 + 7 * 60 * MIN, ends, NULL, NULL);
    nv = pass(v, nv, true, DAY0 + 17 * 60 * MIN, ends, few_on, few_off);
    assert_int_equal(trips_runs(&x->f, &p, "bus-a", v, nv, &runs, &nruns), 0);
    assert_int_equal(nruns, 2);
    assert_int_equal(runs[0].pattern, x->trips[0].pattern);
    assert_int_equal(runs[0].start_ms, DAY0 + 6 * 60 * MIN + 30000);
    assert_int_equal(runs[1].pattern, x->trips[12].pattern);
    assert_int_equal(runs[1].start_ms, DAY0 + 17 * 60 * MIN + 30000);
    free(runs);

    /* The same empty back pass at 17:00, when the back trip is due, is
     * that trip run empty. */
    nv = 0;
    nruns = 0;
    runs = NULL;
    nv = pass(v, nv, false, DAY0 + 16 * 60 * MIN, ends, on, off);
    nv = pass(v, nv, true, DAY0 + 17 * 60 * MIN, ends, NULL, NULL);
    assert_int_equal(trips_runs(&x->f, &p, "bus-a", v, nv, &runs, &nruns), 0);
    assert_int_equal(nruns, 2);
    assert_int_equal(runs[1].pattern, x->trips[12].pattern);
    free(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_block_stays_late),
        cmocka_unit_test(test_missed_trip_is_missed),
        cmocka_unit_test(test_bus_swap),
        cmocka_unit_test(test_early_start),
        cmocka_unit_test(test_two_buses_one_trip),
        cmocka_unit_test(test_order_does_not_matter),
        cmocka_unit_test(test_deadhead_or_empty_run),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
