/* live_track on a constructed feed: three stops on a line running east, a
 * block of two trips (out A-B-C, back C-B-A), buses driven fix by fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "live_track.h"

#define DAY_MS 1700000000000LL
#define LAT 37.5
#define STEP 0.005 /* degrees of longitude between stops: ~441 m */
#define H(h, m) ((h)*3600 + (m)*60)
#define MS(s) (DAY_MS + (int64_t)(s)*1000)

struct world {
    struct trips_stop stops[3];
    struct trips_stop_time st[6];
    struct trips_trip trips[2];
    struct trips_feed f;
    struct trips_params p;
    struct live_track *t;
    struct live_event ev[64];
    int nev;
};

static void on_event(void *arg, const struct live_event *ev)
{
    struct world *w = arg;

    if (w->nev < 64)
        w->ev[w->nev++] = *ev;
}

static int setup(void **state)
{
    static struct world w;
    char err[128];
    const char *ids[] = {"A", "B", "C"};

    memset(&w, 0, sizeof w);
    for (int i = 0; i < 3; i++) {
        strcpy(w.stops[i].id, ids[i]);
        w.stops[i].lat = LAT;
        w.stops[i].lon = 127.0 + STEP * i;
    }
    for (int j = 0; j < 3; j++) {
        w.st[j] = (struct trips_stop_time){j, j + 1, H(8, 2 * j), H(8, 2 * j)};
        w.st[3 + j] = (struct trips_stop_time){2 - j, j + 1, H(8, 10 + 2 * j),
                                               H(8, 10 + 2 * j)};
    }
    strcpy(w.trips[0].id, "OUT-0800");
    strcpy(w.trips[1].id, "BACK-0810");
    for (int i = 0; i < 2; i++) {
        strcpy(w.trips[i].route_id, "R");
        strcpy(w.trips[i].block_id, "blk");
        w.trips[i].direction = i;
        w.trips[i].first = (size_t)(3 * i);
        w.trips[i].n = 3;
    }
    w.f.stops = w.stops;
    w.f.nstops = 3;
    w.f.st = w.st;
    w.f.nst = 6;
    w.f.trips = w.trips;
    w.f.ntrips = 2;
    w.f.day_ms = DAY_MS;
    assert_int_equal(trips_feed_finish(&w.f), 0);
    trips_params_default(&w.p);
    assert_int_equal(
        live_track_new(&w.f, NULL, &w.p, on_event, &w, &w.t, err, sizeof err),
        LIVE_TRACK_OK);
    live_track_set_midtrip(w.t, true);
    *state = &w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    live_track_free(w->t);
    return 0;
}

static enum live_track_res fix(struct world *w, const char *vid, int s,
                               double lon, double speed, double north_m)
{
    struct trips_fix x = {MS(s), LAT + north_m / 111195.0, lon, speed};

    return live_track_fix(w->t, vid, &x, MS(s));
}

/* Stand at LON from second S for N seconds; returns the second after. */
static int stand(struct world *w, const char *vid, int s, double lon, int n)
{
    for (int i = 0; i < n; i++)
        fix(w, vid, s + i, lon, 0, 0);
    return s + n;
}

/* Drive from lon A to lon B in N seconds. */
static int drive(struct world *w, const char *vid, int s, double a, double b,
                 int n)
{
    double v = fabs(b - a) * 88000 / n; /* m/s, roughly */

    for (int i = 1; i <= n; i++)
        fix(w, vid, s + i - 1, a + (b - a) * i / n, v, 0);
    return s + n;
}

static const struct live_vehicle *veh(struct world *w, const char *vid)
{
    int i = live_track_find(w->t, vid);

    assert_true(i >= 0);
    return live_track_vehicle(w->t, (size_t)i);
}

static double lon_of(int stop)
{
    return 127.0 + STEP * stop;
}

/* A bus on time: layover at A, the trip out with its events in order,
 * the end at C in layover for the trip back. */
static void test_trip_out_and_layover(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    int s = stand(w, "bus-1", H(7, 58), lon_of(0), 120);
    static const struct {
        enum live_event_type type;
        int trip, pos;
    } want[] = {
        {LIVE_EV_ARRIVE, 0, 0}, {LIVE_EV_DEPART, 0, 0},
        {LIVE_EV_ARRIVE, 0, 1}, {LIVE_EV_DEPART, 0, 1},
        {LIVE_EV_ARRIVE, 0, 2}, {LIVE_EV_TRIP_END, 0, 2},
        {LIVE_EV_ARRIVE, 1, 0},
    };

    v = veh(w, "bus-1");
    assert_int_equal(v->status, LIVE_STATUS_LAYOVER);
    assert_int_equal(v->trip, 0);
    assert_int_equal(v->block_next, 1);
    s = drive(w, "bus-1", s, lon_of(0), lon_of(1), 100);
    s = stand(w, "bus-1", s, lon_of(1), 15);
    assert_int_equal(v->status, LIVE_STATUS_AT_STOP);
    assert_int_equal(v->pos, 1);
    assert_int_equal(v->next_pos, 2);
    s = drive(w, "bus-1", s, lon_of(1), lon_of(1) + STEP / 2, 50);
    assert_int_equal(v->status, LIVE_STATUS_IN_TRANSIT);
    assert_true(fabs(v->dist_m - 1.5 * 441) < 20);
    /* Scheduled at 08:03 there, the bus is there at 08:02:45. */
    assert_true(v->delay_s > -30 && v->delay_s < 0);
    s = drive(w, "bus-1", s, lon_of(1) + STEP / 2, lon_of(2), 50);
    stand(w, "bus-1", s, lon_of(2), 30);
    assert_int_equal(w->nev, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(w->ev[i].type, want[i].type);
        assert_int_equal(w->ev[i].trip, want[i].trip);
        assert_int_equal(w->ev[i].pos, want[i].pos);
        assert_int_equal(w->ev[i].vehicle, 0);
        if (i)
            assert_true(w->ev[i].t_ms >= w->ev[i - 1].t_ms);
    }
    assert_int_equal(v->status, LIVE_STATUS_LAYOVER);
    assert_int_equal(v->trip, 1);
    assert_int_equal(v->block_next, -1);
}

/* A bus arrives at its first halt at a stop, as the batch builder counts
 * it, not where it enters the stop's radius (seconds earlier); a stop it
 * drives past is reached at its closest fix. */
static void test_arrival_times(void **state)
{
    struct world *w = *state;
    int s = stand(w, "bus-1", H(7, 58), lon_of(0), 120), at_b, past_c;

    /* to B at 4.4 m/s: inside its 30 m from about 7 s before the halt */
    at_b = drive(w, "bus-1", s, lon_of(0), lon_of(1), 100);
    s = stand(w, "bus-1", at_b, lon_of(1), 15);
    /* on past B without halting there again, C the same way: the fix at
     * C's position is the 50th of the drive */
    s = drive(w, "bus-1", s, lon_of(1), lon_of(2), 50);
    past_c = s - 1;
    drive(w, "bus-1", s, lon_of(2), lon_of(2) + STEP / 2, 50);
    int found_b = 0;
    for (int i = 0; i < w->nev; i++) {
        const struct live_event *e = &w->ev[i];

        if (e->type == LIVE_EV_ARRIVE && e->trip == 0 && e->pos == 1) {
            assert_int_equal(e->t_ms, MS(at_b));
            found_b = 1;
        }
        if (e->type == LIVE_EV_ARRIVE && e->trip == 0 && e->pos == 2)
            assert_int_equal(e->t_ms, MS(past_c));
    }
    assert_true(found_b);
}

/* 15 minutes late out: the bus stays on its own trip, late, and its
 * block's next trip is not missed while it comes. */
static void test_late_stays(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    int s = stand(w, "bus-1", H(8, 14), lon_of(0), 60);

    v = veh(w, "bus-1");
    assert_int_equal(v->trip, 0);
    s = drive(w, "bus-1", s, lon_of(0), lon_of(0) + STEP / 2, 50);
    assert_int_equal(v->trip, 0);
    assert_int_equal(v->status, LIVE_STATUS_IN_TRANSIT);
    /* At 08:15:50 where the schedule says 08:01. */
    assert_true(v->delay_s > 14 * 60 && v->delay_s < 16 * 60);
    s = drive(w, "bus-1", s, lon_of(0) + STEP / 2, lon_of(2), 150);
    live_track_tick(w->t, MS(s));
    assert_false(live_track_missed(w->t, 1));
    stand(w, "bus-1", s, lon_of(2), 20);
    assert_int_equal(v->trip, 1);
    assert_int_equal(v->status, LIVE_STATUS_LAYOVER);
    assert_true(v->delay_s > 0);
}

/* Stale after 90 s without a fix; an old fix is ignored, one from the
 * future refused. */
static void test_stale_old_future(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    int s = drive(w, "bus-1", H(8, 0), lon_of(0), lon_of(0), 10);

    stand(w, "bus-1", s, lon_of(0), 5);
    v = veh(w, "bus-1");
    live_track_tick(w->t, MS(s + 5 + 60));
    assert_int_not_equal(v->status, LIVE_STATUS_STALE);
    live_track_tick(w->t, MS(s + 4 + 90));
    assert_int_equal(v->status, LIVE_STATUS_STALE);
    assert_int_equal(fix(w, "bus-1", s - 3, lon_of(1), 0, 0), LIVE_TRACK_OLD);
    assert_int_equal(v->fix_ms, MS(s + 4));
    {
        struct trips_fix x = {MS(s + 600), LAT, lon_of(0), 0};

        assert_int_equal(live_track_fix(w->t, "bus-1", &x, MS(s)),
                         LIVE_TRACK_FUTURE);
    }
    assert_int_equal(fix(w, "bus-1", s + 100, NAN, 0, 0), LIVE_TRACK_BAD);
}

/* On its trip but 300 m north of it: off route; a bus on no trip away
 * from the stops: deadhead. */
static void test_off_route_deadhead(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    int s = stand(w, "bus-1", H(7, 59), lon_of(0), 30);

    s = drive(w, "bus-1", s, lon_of(0), lon_of(0) + STEP / 2, 50);
    v = veh(w, "bus-1");
    assert_int_equal(v->status, LIVE_STATUS_IN_TRANSIT);
    fix(w, "bus-1", s, lon_of(0) + STEP / 2, 8, 300);
    assert_int_equal(v->status, LIVE_STATUS_OFF_ROUTE);
    assert_int_equal(v->trip, 0);
    assert_true(v->off_m > 250);
    fix(w, "bus-2", s, lon_of(1), 8, 800);
    v = veh(w, "bus-2");
    assert_int_equal(v->status, LIVE_STATUS_DEADHEAD);
    assert_int_equal(v->trip, -1);
}

/* No bus: the first trip is missed ten minutes after its departure, the
 * second not yet. */
static void test_missed(void **state)
{
    struct world *w = *state;

    live_track_tick(w->t, MS(H(8, 5)));
    assert_int_equal(w->nev, 0);
    live_track_tick(w->t, MS(H(8, 11)));
    assert_int_equal(w->nev, 1);
    assert_int_equal(w->ev[0].type, LIVE_EV_MISSED);
    assert_int_equal(w->ev[0].trip, 0);
    assert_true(live_track_missed(w->t, 0));
    assert_false(live_track_missed(w->t, 1));
    live_track_tick(w->t, MS(H(8, 12)));
    assert_int_equal(w->nev, 1);
}

/* Door events: the load, and the counts going out with the DEPART. */
static void test_doors(void **state)
{
    struct world *w = *state;
    struct trips_door d = {MS(H(7, 59)), 0, 0, LAT, lon_of(0), 12, 0, 12, -1};
    int s = stand(w, "bus-1", H(7, 59), lon_of(0), 30);

    assert_int_equal(live_track_door(w->t, "bus-1", &d, MS(s)),
                     LIVE_TRACK_USED);
    assert_int_equal(veh(w, "bus-1")->load, 12);
    drive(w, "bus-1", s, lon_of(0), lon_of(1), 100);
    assert_int_equal(w->ev[1].type, LIVE_EV_DEPART);
    assert_int_equal(w->ev[1].boarded, 12);
    assert_int_equal(w->ev[1].load_after, 12);
}

/* The tracker again on the feed's first N trips (N 1: only the trip
 * out, so nothing runs west). */
static void retrack(struct world *w, size_t n)
{
    char err[128];

    live_track_free(w->t);
    w->f.ntrips = n;
    assert_int_equal(
        live_track_new(&w->f, NULL, &w->p, on_event, w, &w->t, err, sizeof err),
        LIVE_TRACK_OK);
    live_track_set_midtrip(w->t, true);
}

/* Fixes every second from lon A by STEP_LON each, N of them, from
 * second S, NORTH_M off the line; returns the second after. */
static int roll(struct world *w, const char *vid, int s, double a,
                double step_lon, int n, double north_m)
{
    for (int i = 0; i < n; i++)
        fix(w, vid, s + i, a + step_lon * i, 13, north_m);
    return s + n;
}

/* About 13 m of longitude at LAT: a bus at 47 km/h sampled at 1 Hz. */
#define ROLL (STEP / 34.0)

/* First heard half-way from A to B at 08:01, when the trip out is due
 * there, going east: taken on the third fix (three samples), on the
 * trip out, past A, with no event for A; from then on the normal rules
 * tell its arrival at B. */
static void test_midtrip_acquired(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    double a = lon_of(0) + STEP * 0.45;
    int s = roll(w, "bus-1", H(8, 1), a, ROLL, 2, 0);

    v = veh(w, "bus-1");
    assert_int_equal(v->trip, -1);
    assert_int_equal(v->status, LIVE_STATUS_DEADHEAD);
    s = roll(w, "bus-1", s, a + 2 * ROLL, ROLL, 1, 0);
    assert_int_equal(v->trip, 0);
    assert_int_equal(v->pos, 0);
    assert_int_equal(v->next_pos, 1);
    assert_int_equal(v->status, LIVE_STATUS_IN_TRANSIT);
    assert_int_equal(v->block_next, 1);
    /* 0.45 of a stop gap and two rolls: about 224 m along. */
    assert_true(fabs(v->dist_m - (0.45 * 441 + 26)) < 15);
    assert_true(v->delay_s > -60 && v->delay_s < 60);
    assert_int_equal(w->nev, 0);
    s = drive(w, "bus-1", s, a + 2 * ROLL, lon_of(1), 20);
    s = stand(w, "bus-1", s, lon_of(1), 15);
    drive(w, "bus-1", s, lon_of(1), lon_of(1) + STEP / 4, 15);
    assert_int_equal(w->nev, 2);
    assert_int_equal(w->ev[0].type, LIVE_EV_ARRIVE);
    assert_int_equal(w->ev[0].pos, 1);
    assert_int_equal(w->ev[1].type, LIVE_EV_DEPART);
    assert_int_equal(w->ev[1].pos, 1);
    for (int i = 0; i < w->nev; i++)
        assert_int_equal(w->ev[i].trip, 0);
    assert_int_equal(v->pos, 1);
}

/* Taken while inside B's radius: B counts as reached, and leaving it
 * tells no departure (its arrival was not seen). */
static void test_midtrip_at_stop_quiet(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    /* From 40 m before B, three 13 m rolls: the last two inside its
     * 30 m radius. */
    double a = lon_of(1) - 40 / 88216.0;
    int s = roll(w, "bus-1", H(8, 2), a, ROLL, 3, 0);

    v = veh(w, "bus-1");
    assert_int_equal(v->trip, 0);
    assert_int_equal(v->pos, 1);
    drive(w, "bus-1", s, a + 3 * ROLL, lon_of(1) + STEP / 2, 20);
    assert_int_equal(v->pos, 1);
    assert_int_equal(v->status, LIVE_STATUS_IN_TRANSIT);
    assert_int_equal(w->nev, 0);
}

/* The same stretch at the same time but west: not the trip out's way
 * (with only that trip in the feed, nothing else fits). Twelve rolls
 * stop 100 m short of A, where the trip would be taken at its start. */
static void test_midtrip_other_way(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;

    retrack(w, 1);
    roll(w, "bus-1", H(8, 1), lon_of(0) + STEP * 0.6, -ROLL, 12, 0);
    v = veh(w, "bus-1");
    assert_int_equal(v->trip, -1);
    assert_int_equal(v->status, LIVE_STATUS_DEADHEAD);
    assert_int_equal(w->nev, 0);
}

/* Going east at 08:01 but 80 m north of the line (a parallel street), or
 * across it: not on the trip. */
static void test_midtrip_off_line(void **state)
{
    struct world *w = *state;
    double a = lon_of(0) + STEP * 0.45;

    roll(w, "bus-1", H(8, 1), a, ROLL, 20, 80);
    assert_int_equal(veh(w, "bus-1")->trip, -1);
    /* Crossing it north to south, 13 m a second. */
    for (int i = 0; i < 8; i++)
        fix(w, "bus-2", H(8, 1) + i, lon_of(0) + STEP * 0.5, 13, 45 - 13.0 * i);
    assert_int_equal(veh(w, "bus-2")->trip, -1);
    assert_int_equal(veh(w, "bus-2")->status, LIVE_STATUS_DEADHEAD);
    assert_int_equal(w->nev, 0);
}

/* Going east along the line at 10:00, long after both trips (their end
 * plus assign_ms is 08:59): no trip. */
static void test_midtrip_far_from_schedule(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;

    roll(w, "bus-1", H(10, 0), lon_of(0) + STEP * 0.3, ROLL, 20, 0);
    v = veh(w, "bus-1");
    assert_int_equal(v->trip, -1);
    assert_int_equal(v->status, LIVE_STATUS_DEADHEAD);
    assert_int_equal(w->nev, 0);
}

/* Half-way from A to B going east 15 min after the trip out was due
 * there: within assign_ms, but too late for a take mid-trip; 8 min late
 * it is taken. */
static void test_midtrip_late(void **state)
{
    struct world *w = *state;
    double a = lon_of(0) + STEP * 0.45;

    roll(w, "bus-1", H(8, 16), a, ROLL, 20, 0);
    assert_int_equal(veh(w, "bus-1")->trip, -1);
    assert_int_equal(veh(w, "bus-1")->status, LIVE_STATUS_DEADHEAD);
    retrack(w, 2);
    roll(w, "bus-1", H(8, 9), a, ROLL, 3, 0);
    assert_int_equal(veh(w, "bus-1")->trip, 0);
    assert_true(veh(w, "bus-1")->delay_s > 7 * 60 &&
                veh(w, "bus-1")->delay_s < 9 * 60);
    assert_int_equal(w->nev, 0);
}

/* Bus 1 drives the trip out; bus 2, heard behind it going east, gets
 * nothing (the trip is taken), and going west at the trip back's time
 * neither (bus 1, live, drives the block's trip before it). */
static void test_midtrip_taken(void **state)
{
    struct world *w = *state;
    int s = stand(w, "bus-1", H(7, 59), lon_of(0), 60);

    s = drive(w, "bus-1", s, lon_of(0), lon_of(1) - STEP / 4, 60);
    assert_int_equal(veh(w, "bus-1")->trip, 0);
    roll(w, "bus-2", s - 20, lon_of(0) + STEP * 0.2, ROLL, 20, 0);
    assert_int_equal(veh(w, "bus-2")->trip, -1);
    assert_int_equal(veh(w, "bus-2")->status, LIVE_STATUS_DEADHEAD);
    /* 08:11, between C and B going west, when the trip back is due. */
    roll(w, "bus-3", H(8, 11), lon_of(2) - STEP * 0.3, -ROLL, 20, 0);
    assert_int_equal(veh(w, "bus-3")->trip, -1);
    assert_int_equal(veh(w, "bus-1")->trip, 0);
}

/* Bus 1 drives both trips of the block, then, on no trip, drives east
 * along the line at 08:16: the trip out is done, nothing fits, it stays
 * DEADHEAD and tells no event. */
static void test_deadhead_along_line(void **state)
{
    struct world *w = *state;
    const struct live_vehicle *v;
    int s = stand(w, "bus-1", H(7, 59), lon_of(0), 60), nev;

    s = drive(w, "bus-1", s, lon_of(0), lon_of(1), 100);
    s = stand(w, "bus-1", s, lon_of(1), 15);
    s = drive(w, "bus-1", s, lon_of(1), lon_of(2), 100);
    s = stand(w, "bus-1", H(8, 9), lon_of(2), 60);
    v = veh(w, "bus-1");
    assert_int_equal(v->trip, 1);
    s = drive(w, "bus-1", s, lon_of(2), lon_of(1), 100);
    s = stand(w, "bus-1", s, lon_of(1), 15);
    s = drive(w, "bus-1", s, lon_of(1), lon_of(0), 100);
    s = stand(w, "bus-1", s, lon_of(0), 20);
    assert_int_equal(v->trip, -1);
    nev = w->nev;
    assert_int_equal(w->ev[nev - 1].type, LIVE_EV_TRIP_END);
    assert_int_equal(w->ev[nev - 1].trip, 1);
    roll(w, "bus-1", s, lon_of(0) + STEP * 0.2, ROLL, 40, 0);
    assert_int_equal(v->trip, -1);
    assert_int_equal(v->status, LIVE_STATUS_DEADHEAD);
    assert_int_equal(w->nev, nev);
}

/* Mid-trip acquisition is for a bus just heard: one followed for over
 * ten minutes with no trip (parked 2 km off the line) that then drives
 * the trip out's line at its time is out of service, not taken; another
 * heard once 21 min before, silent since, is heard afresh and taken. */
static void test_midtrip_only_when_just_heard(void **state)
{
    struct world *w = *state;
    double a = lon_of(0) + STEP * 0.45;
    int s = H(7, 50);

    for (; s < H(8, 1); s += 10)
        fix(w, "bus-1", s, lon_of(0), 0, 2000);
    roll(w, "bus-1", s, a, ROLL, 6, 0);
    assert_int_equal(veh(w, "bus-1")->trip, -1);
    assert_int_equal(veh(w, "bus-1")->status, LIVE_STATUS_DEADHEAD);

    fix(w, "bus-2", H(7, 40), lon_of(0), 0, 2000);
    roll(w, "bus-2", s, a, ROLL, 6, 0);
    assert_int_equal(veh(w, "bus-2")->trip, 0);
    assert_int_equal(w->nev, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trip_out_and_layover, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_arrival_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_old_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_route_deadhead, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_acquired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_only_when_just_heard,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_at_stop_quiet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_other_way, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_off_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_far_from_schedule, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midtrip_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadhead_along_line, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
