/* test_live_gtfsrt: the GTFS-Realtime builder on a hand-made timetable and
 * hand-made predictions, decoded back with the generated code; the header
 * timestamp's rules; the validator rules flagging broken messages; and the
 * bytes read by protoc --decode, whose text must equal ours. Run with
 * "--write FILE" it only writes the sample feed (for the Node test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gtfs-realtime.pb-c.h"
#include "live_gtfsrt.h"
#include "live_gtfsrt_check.h"
#include "live_gtfsrt_text.h"
#include "live_predict.h"
#include "live_track.h"

#include "testfeed.h"

#define DAY TESTFEED_DAY
#define H(h, m, s) TESTFEED_H(h, m, s)
#define MS(secs) TESTFEED_MS(secs)
#define SEC(secs) (MS(secs) / 1000)
#define LAT 37.5
#define LON0 127.0
#define STEP 0.005 /* ~441 m of longitude between stops */

typedef TransitRealtime__FeedMessage msg_t;
typedef TransitRealtime__TripUpdate__StopTimeUpdate stu_t;

struct world {
    struct live_vehicle v[2];
    const struct live_vehicle *vp[2];
    struct live_gtfsrt_input in;
};

static struct world w;
static struct testfeed tf;

/* T1 "OUT" A 08:00 B 08:02 C 08:04, T2 "BACK" C 08:10 B 08:12 A 08:14,
 * both route R, block blk; T3 on route R2, A 08:30 B 08:32 C 08:34. */
static void world_feed(void)
{
    static const char *const ids[] = {"A", "B", "C"};
    static const int abc[] = {0, 1, 2}, cba[] = {2, 1, 0};
    const char *tids[] = {"OUT", "BACK", "LATE"};
    const int start[] = {H(8, 0, 0), H(8, 10, 0), H(8, 30, 0)};

    memset(&w, 0, sizeof w);
    testfeed_stops(&tf, ids, 3, LAT, LON0, 0, STEP);
    for (int t = 0; t < 3; t++)
        testfeed_trip(&tf, tids[t], t == 2 ? "R2" : "R",
                      t == 2 ? "blk2" : "blk", t == 1 ? 1 : 0,
                      t == 1 ? cba : abc, 3, start[t], 120);
    testfeed_finish(&tf);
}

/* Trip T's prediction: every stop PREDICTED (CANCELED when STATE is) at
 * its schedule + LATE_S, dwell DWELL_S, the 80 % interval +-40 s. */
static void world_pred(int t, enum live_trip_state state, int vehicle,
                       int late_s, int dwell_s, int64_t fix_ms)
{
    struct testfeed_pred p = {.state = state,
                              .vehicle = vehicle,
                              .late_s = late_s,
                              .dwell_s = dwell_s,
                              .lo_s = 40,
                              .hi_s = 40,
                              .load = 10,
                              .fix_ms = fix_ms};

    testfeed_pred(&tf, t, &p);
}

/* Bus V1 on OUT, left A late, 100 m short of halfway to B at 08:01:00,
 * 20 on board; BACK is its block's next trip; LATE was cancelled. */
static int setup(void **state)
{
    world_feed();
    strcpy(w.v[0].id, "V1");
    w.v[0].fix_ms = MS(H(8, 1, 0));
    w.v[0].lat = LAT;
    w.v[0].lon = LON0 + STEP * 0.3;
    w.v[0].speed = 8.25;
    w.v[0].bearing = 90;
    w.v[0].status = LIVE_STATUS_IN_TRANSIT;
    w.v[0].trip = 0;
    w.v[0].block_next = 1;
    w.v[0].pos = 0;
    w.v[0].next_pos = 1;
    w.v[0].load = 20;
    w.vp[0] = &w.v[0];
    world_pred(0, LIVE_TRIP_ACTIVE, 0, 30, 15, w.v[0].fix_ms);
    tf.sp[0][0].kind = LIVE_KIND_DEPARTED;
    world_pred(1, LIVE_TRIP_NEXT, 0, 0, 0, w.v[0].fix_ms);
    world_pred(2, LIVE_TRIP_CANCELED, -1, 0, 0, -1);
    w.in.feed = &tf.f;
    w.in.feed_version = "2023-12-01";
    w.in.day = DAY;
    w.in.vehicles = w.vp;
    w.in.nvehicles = 1;
    w.in.trips = tf.tpp;
    w.in.ntrips = 3;
    w.in.now_ms = MS(H(8, 1, 5)) + 300;
    *state = &w;
    return 0;
}

/* Build with a fresh state; the bytes are the caller's. */
static uint8_t *build(enum live_gtfsrt_what what, size_t *len)
{
    struct live_gtfsrt *g = live_gtfsrt_new(what);
    struct live_gtfsrt_out out;
    char err[256];

    assert_non_null(g);
    assert_int_equal(live_gtfsrt_build(g, &w.in, &out, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(out.state, LIVE_GTFSRT_CHANGED);
    live_gtfsrt_free(g);
    *len = out.len;
    return out.buf;
}

static const char *check(const uint8_t *buf, size_t len, char *err,
                         size_t errlen)
{
    struct live_gtfsrt_check_ctx c = {&tf.f, NULL, NULL, 0, w.in.now_ms};

    return live_gtfsrt_check(&c, buf, len, err, errlen);
}

static void assert_valid(const uint8_t *buf, size_t len)
{
    char err[256];
    const char *rule = check(buf, len, err, sizeof err);

    if (rule)
        fail_msg("%s", err);
}

static const TransitRealtime__FeedEntity *find(const msg_t *m, const char *id)
{
    for (size_t i = 0; i < m->n_entity; i++)
        if (strcmp(m->entity[i]->id, id) == 0)
            return m->entity[i];
    return NULL;
}

static void assert_event(const TransitRealtime__TripUpdate__StopTimeEvent *e,
                         int64_t t, int32_t delay, int32_t unc)
{
    assert_non_null(e);
    assert_true(e->has_time);
    assert_int_equal(e->time, t);
    assert_true(e->has_delay);
    assert_int_equal(e->delay, delay);
    assert_true(e->has_uncertainty);
    assert_int_equal(e->uncertainty, unc);
}

static void test_fields(void **state)
{
    size_t len;
    uint8_t *buf = build(LIVE_GTFSRT_ALL, &len);
    msg_t *m = transit_realtime__feed_message__unpack(NULL, len, buf);
    const TransitRealtime__FeedEntity *e;
    const TransitRealtime__TripUpdate *tu;
    const TransitRealtime__VehiclePosition *vp;

    (void)state;
    assert_non_null(m);
    /* the timestamp spliced into the header gives the bytes a full pack
     * of the same message gives */
    {
        uint8_t *again = malloc(len);

        assert_non_null(again);
        assert_int_equal(transit_realtime__feed_message__pack(m, again), len);
        assert_memory_equal(again, buf, len);
        free(again);
    }
    assert_string_equal(m->header->gtfs_realtime_version, "2.0");
    assert_true(m->header->has_incrementality);
    assert_int_equal(
        m->header->incrementality,
        TRANSIT_REALTIME__FEED_HEADER__INCREMENTALITY__FULL_DATASET);
    assert_true(m->header->has_timestamp);
    assert_int_equal(m->header->timestamp, SEC(H(8, 1, 5)));
    assert_string_equal(m->header->feed_version, "2023-12-01");
    /* OUT, BACK, the cancelled LATE, the bus, then LATE's alert */
    assert_int_equal(m->n_entity, 5);
    assert_string_equal(m->entity[4]->id, "alert:cancel:LATE");
    assert_string_equal(m->entity[0]->id, "trip:OUT");
    assert_string_equal(m->entity[1]->id, "trip:BACK");
    assert_string_equal(m->entity[2]->id, "trip:LATE");
    assert_string_equal(m->entity[3]->id, "vehicle:V1");

    tu = m->entity[0]->trip_update;
    assert_non_null(tu);
    assert_string_equal(tu->trip->trip_id, "OUT");
    assert_string_equal(tu->trip->route_id, "R");
    assert_true(tu->trip->has_direction_id);
    assert_int_equal(tu->trip->direction_id, 0);
    assert_string_equal(tu->trip->start_time, "08:00:00");
    assert_string_equal(tu->trip->start_date, "20231209");
    assert_true(tu->trip->has_schedule_relationship);
    assert_int_equal(
        tu->trip->schedule_relationship,
        TRANSIT_REALTIME__TRIP_DESCRIPTOR__SCHEDULE_RELATIONSHIP__SCHEDULED);
    assert_string_equal(tu->vehicle->id, "V1");
    assert_true(tu->has_timestamp);
    assert_int_equal(tu->timestamp, SEC(H(8, 1, 0)));
    /* A (departed) is left out; B and C ahead, 30 s late, 15 s dwell */
    assert_int_equal(tu->n_stop_time_update, 2);
    assert_int_equal(tu->stop_time_update[0]->stop_sequence, 2);
    assert_string_equal(tu->stop_time_update[0]->stop_id, "B");
    assert_int_equal(
        tu->stop_time_update[0]->schedule_relationship,
        TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SCHEDULED);
    assert_true(tu->stop_time_update[0]->has_schedule_relationship);
    assert_event(tu->stop_time_update[0]->arrival, SEC(H(8, 2, 30)), 30, 40);
    assert_event(tu->stop_time_update[0]->departure, SEC(H(8, 2, 45)), 45, 40);
    assert_int_equal(tu->stop_time_update[1]->stop_sequence, 3);
    assert_string_equal(tu->stop_time_update[1]->stop_id, "C");
    assert_event(tu->stop_time_update[1]->arrival, SEC(H(8, 4, 30)), 30, 40);

    /* the next trip of the block: BACK, C first, same bus */
    tu = m->entity[1]->trip_update;
    assert_string_equal(tu->trip->start_time, "08:10:00");
    assert_int_equal(tu->trip->direction_id, 1);
    assert_string_equal(tu->vehicle->id, "V1");
    assert_int_equal(tu->n_stop_time_update, 3);
    assert_string_equal(tu->stop_time_update[0]->stop_id, "C");
    assert_event(tu->stop_time_update[0]->arrival, SEC(H(8, 10, 0)), 0, 40);

    /* cancelled: the trip says so, no stops, no bus; timestamp fixed */
    tu = m->entity[2]->trip_update;
    assert_int_equal(
        tu->trip->schedule_relationship,
        TRANSIT_REALTIME__TRIP_DESCRIPTOR__SCHEDULE_RELATIONSHIP__CANCELED);
    assert_string_equal(tu->trip->route_id, "R2");
    assert_int_equal(tu->n_stop_time_update, 0);
    assert_null(tu->vehicle);
    assert_true(tu->has_timestamp);
    assert_true(tu->timestamp <= m->header->timestamp);

    e = find(m, "vehicle:V1");
    vp = e->vehicle;
    assert_non_null(vp);
    assert_true(vp->position->latitude == (float)LAT);
    assert_true(vp->position->longitude == (float)(LON0 + STEP * 0.3));
    assert_true(vp->position->has_bearing);
    assert_true(vp->position->bearing == 90.0f);
    assert_true(vp->position->has_speed);
    assert_true(vp->position->speed == 8.25f);
    assert_string_equal(vp->vehicle->id, "V1");
    assert_string_equal(vp->trip->trip_id, "OUT");
    assert_string_equal(vp->trip->start_date, "20231209");
    assert_true(vp->has_current_stop_sequence);
    assert_int_equal(vp->current_stop_sequence, 2);
    assert_string_equal(vp->stop_id, "B");
    assert_true(vp->has_current_status);
    assert_int_equal(
        vp->current_status,
        TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__IN_TRANSIT_TO);
    assert_true(vp->has_timestamp);
    assert_int_equal(vp->timestamp, SEC(H(8, 1, 0)));
    /* 20 of 45 is 44 %: published as 40 % */
    assert_true(vp->has_occupancy_percentage);
    assert_int_equal(vp->occupancy_percentage, 40);
    assert_int_equal(
        vp->occupancy_status,
        TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__MANY_SEATS_AVAILABLE);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);

    /* each feed alone */
    buf = build(LIVE_GTFSRT_TRIP_UPDATES, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    assert_int_equal(m->n_entity, 3);
    assert_null(find(m, "vehicle:V1"));
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);
    buf = build(LIVE_GTFSRT_VEHICLE_POSITIONS, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    assert_int_equal(m->n_entity, 1);
    assert_non_null(find(m, "vehicle:V1"));
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);
}

/* The VehiclePosition's stop and status for V1 as it stands now. */
static void vp_status(int *seq, const char **stop, int *status)
{
    size_t len;
    uint8_t *buf = build(LIVE_GTFSRT_VEHICLE_POSITIONS, &len);
    msg_t *m = transit_realtime__feed_message__unpack(NULL, len, buf);
    const TransitRealtime__VehiclePosition *vp = m->entity[0]->vehicle;
    static char stop_id[TRIPS_ID_MAX];

    assert_true(vp->has_current_status);
    *seq = (int)vp->current_stop_sequence;
    snprintf(stop_id, sizeof stop_id, "%s", vp->stop_id);
    *stop = stop_id;
    *status = (int)vp->current_status;
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);
}

static void test_stop_status(void **state)
{
    const char *stop;
    int seq, st;

    (void)state;
    /* 88 m before B: coming in */
    w.v[0].lon = LON0 + STEP * 0.8;
    vp_status(&seq, &stop, &st);
    assert_int_equal(seq, 2);
    assert_string_equal(stop, "B");
    assert_int_equal(
        st,
        TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__INCOMING_AT);
    /* at B */
    w.v[0].lon = LON0 + STEP;
    w.v[0].status = LIVE_STATUS_AT_STOP;
    w.v[0].pos = 1;
    w.v[0].next_pos = 2;
    vp_status(&seq, &stop, &st);
    assert_int_equal(seq, 2);
    assert_string_equal(stop, "B");
    assert_int_equal(
        st,
        TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__STOPPED_AT);
    /* waiting at A before its trip */
    w.v[0].lon = LON0;
    w.v[0].status = LIVE_STATUS_LAYOVER;
    w.v[0].pos = -1;
    w.v[0].next_pos = 0;
    vp_status(&seq, &stop, &st);
    assert_int_equal(seq, 1);
    assert_string_equal(stop, "A");
    assert_int_equal(
        st,
        TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__STOPPED_AT);
}

static void test_kinds(void **state)
{
    size_t len;
    uint8_t *buf;
    msg_t *m;
    const TransitRealtime__TripUpdate *tu;

    (void)state;
    /* C will be skipped (the trip cut short); BACK has no live data at its
     * first stop yet, and a trip that is timetable only is not published */
    tf.sp[0][2].kind = LIVE_KIND_SKIPPED;
    tf.sp[1][0].kind = LIVE_KIND_SCHEDULED;
    tf.tp[2].state = LIVE_TRIP_SCHEDULED;
    buf = build(LIVE_GTFSRT_TRIP_UPDATES, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    assert_int_equal(m->n_entity, 2);
    tu = m->entity[0]->trip_update;
    assert_int_equal(tu->n_stop_time_update, 2);
    assert_int_equal(
        tu->stop_time_update[1]->schedule_relationship,
        TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SKIPPED);
    assert_null(tu->stop_time_update[1]->arrival);
    tu = m->entity[1]->trip_update;
    assert_int_equal(
        tu->stop_time_update[0]->schedule_relationship,
        TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__NO_DATA);
    assert_null(tu->stop_time_update[0]->arrival);
    assert_null(tu->stop_time_update[0]->departure);
    assert_non_null(tu->stop_time_update[1]->arrival);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);

    /* every stop of OUT behind the bus: the trip is over, not published;
     * the cancelled trip after its last stop's time neither */
    for (int j = 0; j < 3; j++)
        tf.sp[0][j].kind = LIVE_KIND_DEPARTED;
    tf.tp[2].state = LIVE_TRIP_CANCELED;
    w.in.now_ms = MS(H(8, 34, 1));
    w.v[0].fix_ms = MS(H(8, 34, 0));
    buf = build(LIVE_GTFSRT_TRIP_UPDATES, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    assert_int_equal(m->n_entity, 1);
    assert_string_equal(m->entity[0]->id, "trip:BACK");
    transit_realtime__feed_message__free_unpacked(m, NULL);
    free(buf);
}

static void test_stale(void **state)
{
    size_t len;
    uint8_t *buf;
    msg_t *m;
    const TransitRealtime__TripUpdate *tu;
    const TransitRealtime__VehiclePosition *vp;

    (void)state;
    /* no fix for 3 minutes: the predictions made from the last one are no
     * live data any more, and the position keeps its own time */
    w.in.now_ms = w.v[0].fix_ms + 180000;
    buf = build(LIVE_GTFSRT_ALL, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    tu = find(m, "trip:OUT")->trip_update;
    assert_int_equal(tu->n_stop_time_update, 2);
    for (size_t i = 0; i < tu->n_stop_time_update; i++) {
        assert_int_equal(
            tu->stop_time_update[i]->schedule_relationship,
            TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__NO_DATA);
        assert_null(tu->stop_time_update[i]->arrival);
    }
    assert_int_equal(tu->timestamp, SEC(H(8, 1, 0)));
    vp = find(m, "vehicle:V1")->vehicle;
    assert_int_equal(vp->timestamp, SEC(H(8, 1, 0)));
    assert_true(vp->timestamp < m->header->timestamp);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);

    /* quiet for longer than LIVE_GTFSRT_GONE_MS: no position at all */
    w.in.now_ms = w.v[0].fix_ms + LIVE_GTFSRT_GONE_MS + 1000;
    w.v[0].status = LIVE_STATUS_STALE;
    buf = build(LIVE_GTFSRT_VEHICLE_POSITIONS, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    assert_int_equal(m->n_entity, 0);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    free(buf);
}

static void test_timestamp(void **state)
{
    struct live_gtfsrt *g = live_gtfsrt_new(LIVE_GTFSRT_ALL);
    struct live_gtfsrt_out a, b;
    struct live_gtfsrt_check_ctx c = {&tf.f, NULL, NULL, 0, 0};
    char err[256];
    uint64_t t0 = (uint64_t)SEC(H(8, 1, 5));

    (void)state;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &a, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(a.timestamp, t0);
    /* nothing changed, a second later: same timestamp, same bytes */
    w.in.now_ms += 1000;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &b, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(b.state, LIVE_GTFSRT_UNCHANGED);
    assert_int_equal(b.timestamp, t0);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(b.buf, a.buf, a.len);
    free(b.buf);
    /* the load changes within the second of the last change: come back */
    w.in.now_ms -= 1000;
    w.v[0].load = 30;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &b, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(b.state, LIVE_GTFSRT_LATER);
    assert_null(b.buf);
    /* two seconds on: the new content, the new time */
    w.in.now_ms += 2000;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &b, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(b.state, LIVE_GTFSRT_CHANGED);
    assert_int_equal(b.timestamp, t0 + 2);
    assert_true(b.hash != a.hash);
    c.prev = a.buf;
    c.prevlen = a.len;
    assert_null(live_gtfsrt_check(&c, b.buf, b.len, err, sizeof err));
    free(a.buf);
    a = b;
    /* the clock steps back 100 s and the content changes: still later */
    w.in.now_ms -= 100000;
    w.v[0].load = 40;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &b, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(b.state, LIVE_GTFSRT_CHANGED);
    assert_int_equal(b.timestamp, t0 + 3);
    c.prev = a.buf;
    c.prevlen = a.len;
    assert_null(live_gtfsrt_check(&c, b.buf, b.len, err, sizeof err));
    free(a.buf);
    a = b;
    /* ... and stays when nothing changes */
    w.in.now_ms += 400;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &b, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_int_equal(b.state, LIVE_GTFSRT_UNCHANGED);
    assert_int_equal(b.timestamp, t0 + 3);
    free(a.buf);
    free(b.buf);
    live_gtfsrt_free(g);
}

static void test_occupancy(void **state)
{
    int st = -1;

    (void)state;
    assert_int_equal(live_gtfsrt_occupancy(-1, 45, &st), -1);
    /* one or two riders look like none */
    assert_int_equal(live_gtfsrt_occupancy(0, 45, &st), 0);
    assert_int_equal(
        st, TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__EMPTY);
    assert_int_equal(live_gtfsrt_occupancy(1, 45, NULL), 0);
    assert_int_equal(live_gtfsrt_occupancy(2, 45, NULL), 0);
    assert_int_equal(live_gtfsrt_occupancy(3, 45, NULL), 10);
    assert_int_equal(live_gtfsrt_occupancy(33, 45, &st), 70);
    assert_int_equal(
        st,
        TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__FEW_SEATS_AVAILABLE);
    assert_int_equal(live_gtfsrt_occupancy(45, 45, &st), 100);
    assert_int_equal(
        st,
        TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__STANDING_ROOM_ONLY);
    /* a 10-seat van: steps of 40 %, so one rider is still 0 % */
    assert_int_equal(live_gtfsrt_occupancy(1, 10, NULL), 0);
    assert_int_equal(live_gtfsrt_occupancy(3, 10, NULL), 40);
    /* on every size, a count shares its step with three others (one
     * other at 0 %, the half-step nearest empty) */
    for (int seats = 5; seats <= 80; seats++)
        for (int load = 0; load <= 2 * seats; load++) {
            int p = live_gtfsrt_occupancy(load, seats, NULL);
            int lo = load, hi = load;

            while (lo > 0 && live_gtfsrt_occupancy(lo - 1, seats, NULL) == p)
                lo--;
            while (live_gtfsrt_occupancy(hi + 1, seats, NULL) == p)
                hi++;
            assert_true(hi - lo + 1 >= (lo == 0 ? 2 : 4));
        }
    /* the seats of the vehicle are used */
    {
        int seats[1] = {20};
        size_t len;
        uint8_t *buf;
        msg_t *m;

        w.in.seats = seats;
        buf = build(LIVE_GTFSRT_VEHICLE_POSITIONS, &len);
        m = transit_realtime__feed_message__unpack(NULL, len, buf);
        /* 20 of 20 */
        assert_int_equal(m->entity[0]->vehicle->occupancy_percentage, 100);
        transit_realtime__feed_message__free_unpacked(m, NULL);
        free(buf);
    }
}

/* What is unknown is left out; what is outside the feed is refused. */
static void test_unknown_and_bad(void **state)
{
    size_t len;
    uint8_t *buf;
    msg_t *m;
    const TransitRealtime__VehiclePosition *vp;
    struct live_gtfsrt *g = live_gtfsrt_new(LIVE_GTFSRT_ALL);
    struct live_gtfsrt_out out;
    char err[256];

    (void)state;
    /* driving to its block: no trip, no stop; no bearing, speed or load */
    w.v[0].status = LIVE_STATUS_DEADHEAD;
    w.v[0].bearing = NAN;
    w.v[0].speed = NAN;
    w.v[0].load = -1;
    buf = build(LIVE_GTFSRT_VEHICLE_POSITIONS, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    vp = m->entity[0]->vehicle;
    assert_null(vp->trip);
    assert_false(vp->has_current_stop_sequence);
    assert_null(vp->stop_id);
    assert_false(vp->position->has_bearing);
    assert_false(vp->position->has_speed);
    assert_false(vp->has_occupancy_percentage);
    assert_false(vp->has_occupancy_status);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);

    /* a prediction naming a trip or a bus the feed does not have */
    tf.tp[1].trip = 3;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &out, err, sizeof err),
                     LIVE_GTFSRT_ERR_INVALID);
    assert_null(out.buf);
    tf.tp[1].trip = 1;
    tf.tp[1].vehicle = 1;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &out, err, sizeof err),
                     LIVE_GTFSRT_ERR_INVALID);
    assert_null(live_gtfsrt_new((enum live_gtfsrt_what)0));
    live_gtfsrt_free(g);
}

/* Predictions that tie in whole seconds still give increasing times. */
static void test_ties(void **state)
{
    size_t len;
    uint8_t *buf;
    msg_t *m;
    const TransitRealtime__TripUpdate *tu;

    (void)state;
    for (int j = 0; j < 3; j++) {
        tf.sp[1][j].arr_ms = MS(H(8, 10, 0)) + 200 * j;
        tf.sp[1][j].dep_ms = tf.sp[1][j].arr_ms - 100; /* before it arrives */
    }
    buf = build(LIVE_GTFSRT_TRIP_UPDATES, &len);
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    tu = find(m, "trip:BACK")->trip_update;
    assert_int_equal(tu->stop_time_update[0]->arrival->time, SEC(H(8, 10, 0)));
    assert_int_equal(tu->stop_time_update[0]->departure->time,
                     SEC(H(8, 10, 0)));
    assert_int_equal(tu->stop_time_update[1]->arrival->time, SEC(H(8, 10, 1)));
    assert_int_equal(tu->stop_time_update[2]->arrival->time, SEC(H(8, 10, 2)));
    assert_int_equal(tu->stop_time_update[2]->arrival->delay,
                     SEC(H(8, 10, 2)) - SEC(H(8, 14, 0)));
    transit_realtime__feed_message__free_unpacked(m, NULL);
    assert_valid(buf, len);
    free(buf);
}

/* ---- broken messages: one per rule ---- */

/* Messages decoded into memory the test owns, so a mutation may point a
 * field anywhere; all freed at once. */
struct pool {
    void *p[4096];
    size_t n;
};

static void *pool_alloc(void *data, size_t size)
{
    struct pool *pl = data;
    void *p = calloc(1, size ? size : 1);

    assert_non_null(p);
    assert_true(pl->n < 4096);
    pl->p[pl->n++] = p;
    return p;
}

static void pool_free(void *data, void *p)
{
    (void)data;
    (void)p; /* all at the end */
}

static void pool_done(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->p[i]);
    pl->n = 0;
}

static stu_t *stu(msg_t *m, size_t i)
{
    return m->entity[0]->trip_update->stop_time_update[i];
}

static TransitRealtime__VehiclePosition *vpos(msg_t *m)
{
    return m->entity[3]->vehicle;
}

/* The informed entity of the cancellation's alert. */
static TransitRealtime__EntitySelector *sel(msg_t *m)
{
    assert_non_null(m->entity[4]->alert);
    return m->entity[4]->alert->informed_entity[0];
}

static TransitRealtime__FeedEntity *add_entity(msg_t *m, struct pool *pl)
{
    TransitRealtime__FeedEntity **n =
        pool_alloc(pl, (m->n_entity + 1) * sizeof *n);
    TransitRealtime__FeedEntity *e = pool_alloc(pl, sizeof *e);

    memcpy(n, m->entity, m->n_entity * sizeof *n);
    transit_realtime__feed_entity__init(e);
    n[m->n_entity++] = e;
    m->entity = n;
    return e;
}

static void add_alert(msg_t *m, struct pool *pl, bool selector, bool specific,
                      bool detour)
{
    TransitRealtime__FeedEntity *e = add_entity(m, pl);
    TransitRealtime__Alert *a = pool_alloc(pl, sizeof *a);

    transit_realtime__alert__init(a);
    e->id = "alert:1";
    e->alert = a;
    if (detour) {
        a->has_effect = 1;
        a->effect = TRANSIT_REALTIME__ALERT__EFFECT__DETOUR;
    }
    if (selector) {
        TransitRealtime__EntitySelector *s = pool_alloc(pl, sizeof *s);

        transit_realtime__entity_selector__init(s);
        if (specific)
            s->trip = m->entity[0]->trip_update->trip;
        a->informed_entity = pool_alloc(pl, sizeof *a->informed_entity);
        a->informed_entity[0] = s;
        a->n_informed_entity = 1;
    }
}

static void mutate(const char *rule, msg_t *m, struct pool *pl)
{
    TransitRealtime__TripUpdate *tu = m->entity[0]->trip_update;

    if (!strcmp(rule, "E038"))
        m->header->gtfs_realtime_version = "3.0";
    else if (!strcmp(rule, "E048"))
        m->header->has_timestamp = 0;
    else if (!strcmp(rule, "E049"))
        m->header->has_incrementality = 0;
    else if (!strcmp(rule, "E001"))
        m->header->timestamp *= 1000;
    else if (!strcmp(rule, "E039"))
        m->entity[1]->has_is_deleted = 1;
    else if (!strcmp(rule, "E003"))
        tu->trip->trip_id = "NOPE";
    else if (!strcmp(rule, "E004"))
        tu->trip->route_id = "NOPE";
    else if (!strcmp(rule, "E035"))
        tu->trip->route_id = "R2";
    else if (!strcmp(rule, "E024"))
        tu->trip->direction_id = 1;
    else if (!strcmp(rule, "E020"))
        tu->trip->start_time = "8h00";
    else if (!strcmp(rule, "E021"))
        tu->trip->start_date = "2023-12-09";
    else if (!strcmp(rule, "E023"))
        tu->trip->start_time = "08:01:00";
    else if (!strcmp(rule, "W009"))
        tu->trip->has_schedule_relationship = 0;
    else if (!strcmp(rule, "E041"))
        tu->n_stop_time_update = 0;
    else if (!strcmp(rule, "W001"))
        tu->has_timestamp = 0;
    else if (!strcmp(rule, "E012"))
        tu->timestamp = m->header->timestamp + 10;
    else if (!strcmp(rule, "W002"))
        tu->vehicle = NULL;
    else if (!strcmp(rule, "E040")) {
        stu(m, 0)->has_stop_sequence = 0;
        stu(m, 0)->stop_id = NULL;
    } else if (!strcmp(rule, "E011"))
        stu(m, 0)->stop_id = "Z";
    else if (!strcmp(rule, "E051"))
        stu(m, 0)->stop_sequence = 99;
    else if (!strcmp(rule, "E045"))
        stu(m, 0)->stop_id = "A";
    else if (!strcmp(rule, "E036")) {
        stu(m, 1)->stop_sequence = stu(m, 0)->stop_sequence;
        stu(m, 1)->stop_id = stu(m, 0)->stop_id;
    } else if (!strcmp(rule, "E002")) {
        stu_t *t = stu(m, 0);
        tu->stop_time_update[0] = stu(m, 1);
        tu->stop_time_update[1] = t;
    } else if (!strcmp(rule, "E037")) {
        stu(m, 1)->has_stop_sequence = 0;
        stu(m, 1)->stop_id = stu(m, 0)->stop_id;
    } else if (!strcmp(rule, "W009/stu"))
        stu(m, 0)->has_schedule_relationship = 0;
    else if (!strcmp(rule, "E042"))
        stu(m, 0)->schedule_relationship =
            TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__NO_DATA;
    else if (!strcmp(rule, "E043")) {
        stu(m, 0)->arrival = NULL;
        stu(m, 0)->departure = NULL;
    } else if (!strcmp(rule, "E044")) {
        stu(m, 0)->arrival->has_time = 0;
        stu(m, 0)->arrival->has_delay = 0;
    } else if (!strcmp(rule, "E025"))
        stu(m, 0)->departure->time = stu(m, 0)->arrival->time - 1;
    else if (!strcmp(rule, "E022"))
        stu(m, 1)->arrival->time = stu(m, 0)->departure->time;
    else if (!strcmp(rule, "E001/stu"))
        stu(m, 0)->arrival->time *= 1000;
    else if (!strcmp(rule, "E026"))
        vpos(m)->position->latitude = 95;
    else if (!strcmp(rule, "E027"))
        vpos(m)->position->bearing = 400;
    else if (!strcmp(rule, "E028"))
        vpos(m)->position->latitude += 0.1f;
    else if (!strcmp(rule, "E029"))
        vpos(m)->position->latitude += 0.0045f; /* 500 m north of the line */
    else if (!strcmp(rule, "E011/vp"))
        vpos(m)->stop_id = "Z";
    else if (!strcmp(rule, "E003/vp"))
        vpos(m)->trip->trip_id = "NOPE";
    else if (!strcmp(rule, "W001/vp"))
        vpos(m)->has_timestamp = 0;
    else if (!strcmp(rule, "W002/vp"))
        vpos(m)->vehicle = NULL;
    else if (!strcmp(rule, "E012/vp"))
        vpos(m)->timestamp = m->header->timestamp + 1;
    else if (!strcmp(rule, "E052")) {
        TransitRealtime__FeedEntity *e = add_entity(m, pl);
        e->id = "vehicle:again";
        e->vehicle = vpos(m);
    } else if (!strcmp(rule, "E047"))
        tu->vehicle->id = "V9";
    else if (!strcmp(rule, "E030")) {
        sel(m)->route_id = "R";
        sel(m)->trip->route_id = "R";
    } else if (!strcmp(rule, "E031"))
        sel(m)->route_id = "R";
    else if (!strcmp(rule, "E004/al"))
        sel(m)->route_id = "NOPE";
    else if (!strcmp(rule, "E003/al"))
        sel(m)->trip->trip_id = "NOPE";
    else if (!strcmp(rule, "E011/al"))
        sel(m)->stop_id = "Z";
    else if (!strcmp(rule, "E001/al"))
        m->entity[4]->alert->active_period[0]->end *= 1000;
    else if (!strcmp(rule, "E032"))
        add_alert(m, pl, false, false, false);
    else if (!strcmp(rule, "E033"))
        add_alert(m, pl, true, false, false);
    else
        fail_msg("no mutation for %s", rule);
}

static void test_check_rules(void **state)
{
    static const char *rules[] = {
        "E038",     "E048",    "E049",    "E001",    "E039",    "E003",
        "E004",     "E035",    "E024",    "E020",    "E021",    "E023",
        "W009",     "E041",    "W001",    "E012",    "W002",    "E040",
        "E011",     "E051",    "E045",    "E036",    "E002",    "E037",
        "W009/stu", "E042",    "E043",    "E044",    "E025",    "E022",
        "E001/stu", "E026",    "E027",    "E028",    "E029",    "E011/vp",
        "E003/vp",  "W001/vp", "W002/vp", "E012/vp", "E052",    "E047",
        "E032",     "E033",    "E030",    "E031",    "E004/al", "E003/al",
        "E011/al",  "E001/al"};
    size_t len;
    uint8_t *buf;
    char err[256];

    (void)state;
    buf = build(LIVE_GTFSRT_ALL, &len);
    assert_valid(buf, len);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        struct pool pl = {.n = 0};
        ProtobufCAllocator al = {pool_alloc, pool_free, &pl};
        msg_t *m = transit_realtime__feed_message__unpack(&al, len, buf);
        uint8_t *bad;
        size_t n;
        const char *got;
        char want[5];

        assert_non_null(m);
        mutate(rules[i], m, &pl);
        bad = malloc(transit_realtime__feed_message__get_packed_size(m));
        assert_non_null(bad);
        n = transit_realtime__feed_message__pack(m, bad);
        got = check(bad, n, err, sizeof err);
        snprintf(want, sizeof want, "%s", rules[i]);
        if (!got || strcmp(got, want) != 0)
            fail_msg("mutation %s: got %s (%s)", rules[i], got ? got : "none",
                     err);
        free(bad);
        pool_done(&pl);
    }

    /* a DETOUR alert for the trip excuses the distance from its shape */
    {
        struct pool pl = {.n = 0};
        ProtobufCAllocator al = {pool_alloc, pool_free, &pl};
        msg_t *m = transit_realtime__feed_message__unpack(&al, len, buf);
        uint8_t *bad;
        size_t n;

        mutate("E029", m, &pl);
        add_alert(m, &pl, true, true, true);
        bad = malloc(transit_realtime__feed_message__get_packed_size(m));
        n = transit_realtime__feed_message__pack(m, bad);
        assert_null(check(bad, n, err, sizeof err));
        free(bad);
        pool_done(&pl);
    }

    /* E050: a header after the checker's clock */
    {
        struct live_gtfsrt_check_ctx c = {&tf.f, NULL, NULL, 0,
                                          w.in.now_ms - 5000};

        assert_string_equal(live_gtfsrt_check(&c, buf, len, err, sizeof err),
                            "E050");
    }

    /* E017 / E018 against the fetch before */
    {
        struct pool pl = {.n = 0};
        ProtobufCAllocator al = {pool_alloc, pool_free, &pl};
        msg_t *m = transit_realtime__feed_message__unpack(&al, len, buf);
        struct live_gtfsrt_check_ctx c = {&tf.f, NULL, buf, len, 0};
        uint8_t *next = malloc(len + 16);
        size_t n;

        stu(m, 0)->arrival->delay += 1; /* new content, same timestamp */
        n = transit_realtime__feed_message__pack(m, next);
        assert_string_equal(live_gtfsrt_check(&c, next, n, err, sizeof err),
                            "E017");
        /* the fetch before had a later timestamp */
        stu(m, 0)->arrival->delay -= 1;
        m->header->timestamp += 1;
        n = transit_realtime__feed_message__pack(m, next);
        c.prev = next;
        c.prevlen = n;
        assert_string_equal(live_gtfsrt_check(&c, buf, len, err, sizeof err),
                            "E018");
        c.prev = buf;
        c.prevlen = len;
        /* the same bytes again are fine */
        assert_null(live_gtfsrt_check(&c, buf, len, err, sizeof err));
        free(next);
        pool_done(&pl);
    }

    {
        static const uint8_t junk[] = {0xff, 0xff, 0xff};

        assert_string_equal(check(junk, sizeof junk, err, sizeof err),
                            "DECODE");
    }
    free(buf);
}

/* protoc reads our bytes, and prints exactly what our text printer does. */
static void test_protoc(void **state)
{
    char path[] = "/tmp/test_live_gtfsrt.XXXXXX", cmd[1024], err[256];
    struct buf text = {0}, got = {0};
    size_t len, n;
    uint8_t *buf;
    FILE *p;
    int fd, rc;
    char chunk[4096];

    (void)state;
    if (system("command -v protoc >/dev/null 2>&1") != 0)
        skip(); /* scripts/setup.sh installs protobuf-compiler */
    buf = build(LIVE_GTFSRT_ALL, &len);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    snprintf(cmd, sizeof cmd,
             "protoc --decode transit_realtime.FeedMessage -I %s "
             "%s/gtfs-realtime.proto < %s",
             SHUTTLE_PROTO_DIR, SHUTTLE_PROTO_DIR, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        assert_int_equal(buf_append(&got, chunk, n), BUF_OK);
    rc = pclose(p);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_int_equal(live_gtfsrt_text(buf, len, &text, err, sizeof err),
                     LIVE_GTFSRT_OK);
    assert_non_null(strstr(text.p, "incrementality: FULL_DATASET\n"));
    assert_non_null(strstr(text.p, "  id: \"vehicle:V1\"\n"));
    assert_non_null(strstr(text.p, "  id: \"alert:cancel:LATE\"\n"));
    assert_non_null(strstr(text.p, "effect: NO_SERVICE\n"));
    assert_string_equal(text.p, got.p);
    assert_int_equal(
        live_gtfsrt_text((const uint8_t *)"\xff", 1, &text, err, sizeof err),
        LIVE_GTFSRT_ERR_INVALID);
    buf_free(&text);
    buf_free(&got);
    free(buf);
}

/* The alert texts of A (header or description) in "ko" then "en". */
static void assert_texts(const TransitRealtime__TranslatedString *t,
                         const char *ko, const char *en)
{
    assert_non_null(t);
    assert_int_equal(t->n_translation, 2);
    assert_string_equal(t->translation[0]->language, "ko");
    assert_string_equal(t->translation[1]->language, "en");
    if (ko)
        assert_string_equal(t->translation[0]->text, ko);
    if (en)
        assert_string_equal(t->translation[1]->text, en);
}

/* Build ALERTS on G at NOW; the decoded message is the caller's. */
static msg_t *alerts_at(struct live_gtfsrt *g, int64_t now,
                        enum live_gtfsrt_state *st)
{
    struct live_gtfsrt_out out;
    char err[256];
    msg_t *m;

    w.in.now_ms = now;
    assert_int_equal(live_gtfsrt_build(g, &w.in, &out, err, sizeof err),
                     LIVE_GTFSRT_OK);
    *st = out.state;
    if (!out.buf)
        return NULL;
    {
        struct live_gtfsrt_check_ctx c = {&tf.f, NULL, NULL, 0, now};
        const char *rule =
            live_gtfsrt_check(&c, out.buf, out.len, err, sizeof err);

        if (rule)
            fail_msg("%s", err);
    }
    m = transit_realtime__feed_message__unpack(NULL, out.len, out.buf);
    assert_non_null(m);
    free(out.buf);
    return m;
}

static void test_alerts(void **state)
{
    static const char *routes[] = {"1", "1", "2"};
    static const char *ko[] = {"검단산단", "가좌", "검단산단"};
    static const char *en[] = {"Geomdan", "Gajwa", NULL};
    struct live_gtfsrt *g = live_gtfsrt_new(LIVE_GTFSRT_ALERTS);
    const TransitRealtime__Alert *a;
    const TransitRealtime__EntitySelector *s;
    enum live_gtfsrt_state st;
    int64_t now = w.in.now_ms;
    msg_t *m;

    (void)state;
    assert_non_null(g);
    assert_null(live_gtfsrt_new((enum live_gtfsrt_what)8));
    assert_null(live_gtfsrt_new((enum live_gtfsrt_what)0));

    /* no names: the ids; only the cancellation (V1 is 0 s late) */
    m = alerts_at(g, now, &st);
    assert_int_equal(st, LIVE_GTFSRT_CHANGED);
    assert_int_equal(m->n_entity, 1);
    assert_string_equal(m->entity[0]->id, "alert:cancel:LATE");
    a = m->entity[0]->alert;
    assert_non_null(a);
    assert_null(m->entity[0]->trip_update);
    assert_true(a->has_effect);
    assert_int_equal(a->effect, TRANSIT_REALTIME__ALERT__EFFECT__NO_SERVICE);
    assert_true(a->has_cause);
    assert_int_equal(a->cause, TRANSIT_REALTIME__ALERT__CAUSE__UNKNOWN_CAUSE);
    assert_int_equal(a->n_active_period, 1);
    assert_int_equal(a->active_period[0]->start, SEC(H(8, 1, 5)));
    assert_int_equal(a->active_period[0]->end, SEC(H(8, 34, 0) + 1800));
    assert_int_equal(a->n_informed_entity, 1);
    s = a->informed_entity[0];
    assert_string_equal(s->route_id, "R2");
    assert_non_null(s->trip);
    assert_string_equal(s->trip->trip_id, "LATE");
    assert_string_equal(s->trip->start_date, "20231209");
    assert_texts(a->header_text, "R2번 08:30 C행 운행 취소",
                 "Route R2 08:30 to C cancelled");
    assert_texts(a->description_text, NULL, NULL);
    transit_realtime__feed_message__free_unpacked(m, NULL);

    /* a minute later nothing changed: the active period starts when the
     * alert was first built, not now */
    m = alerts_at(g, now + 60000, &st);
    assert_int_equal(st, LIVE_GTFSRT_UNCHANGED);
    transit_realtime__feed_message__free_unpacked(m, NULL);

    /* names given; V1 11 min 40 s late on OUT: a delay alert */
    w.in.route_names = routes;
    w.in.headsigns_ko = ko;
    w.in.headsigns_en = en;
    w.v[0].delay_s = 700;
    m = alerts_at(g, now + 120000, &st);
    assert_int_equal(st, LIVE_GTFSRT_CHANGED);
    assert_int_equal(m->n_entity, 2);
    assert_string_equal(m->entity[0]->id, "alert:delay:OUT");
    assert_string_equal(m->entity[1]->id, "alert:cancel:LATE");
    a = m->entity[0]->alert;
    assert_int_equal(a->effect,
                     TRANSIT_REALTIME__ALERT__EFFECT__SIGNIFICANT_DELAYS);
    assert_int_equal(a->active_period[0]->start, SEC(H(8, 3, 5)));
    assert_int_equal(a->active_period[0]->end, SEC(H(8, 4, 0) + 1800));
    assert_string_equal(a->informed_entity[0]->route_id, "R");
    assert_string_equal(a->informed_entity[0]->trip->trip_id, "OUT");
    assert_texts(a->header_text, "1번 08:00 검단산단행 지연",
                 "Route 1 08:00 to Geomdan delayed");
    /* no English headsign: the Korean one */
    assert_texts(m->entity[1]->alert->header_text,
                 "2번 08:30 검단산단행 운행 취소",
                 "Route 2 08:30 to 검단산단 cancelled");
    transit_realtime__feed_message__free_unpacked(m, NULL);

    /* 9 min late: the alert stays (hysteresis), 7 min: it goes; back at
     * 9 min it does not return */
    w.v[0].delay_s = 540;
    m = alerts_at(g, now + 180000, &st);
    assert_int_equal(st, LIVE_GTFSRT_UNCHANGED);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    w.v[0].delay_s = 420;
    m = alerts_at(g, now + 240000, &st);
    assert_int_equal(st, LIVE_GTFSRT_CHANGED);
    assert_int_equal(m->n_entity, 1);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    w.v[0].delay_s = 540;
    m = alerts_at(g, now + 300000, &st);
    assert_int_equal(st, LIVE_GTFSRT_UNCHANGED);
    transit_realtime__feed_message__free_unpacked(m, NULL);

    /* a late bus on its block's NEXT trip is not that trip's delay */
    w.v[0].delay_s = 900;
    tf.tp[0].state = LIVE_TRIP_NEXT;
    m = alerts_at(g, now + 360000, &st);
    assert_int_equal(st, LIVE_GTFSRT_UNCHANGED);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    tf.tp[0].state = LIVE_TRIP_ACTIVE;

    /* half an hour after LATE's last stop its alert is gone, and so is the
     * delay alert of OUT (08:04 + 30 min) */
    m = alerts_at(g, MS(H(9, 4, 0)), &st);
    assert_int_equal(st, LIVE_GTFSRT_CHANGED);
    assert_int_equal(m->n_entity, 0);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    live_gtfsrt_free(g);
}

static void drive_event(void *arg, const struct live_event *ev)
{
    live_predict_event(arg, ev);
}

/* A bus driven fix by fix through the real tracker and predictor, a feed
 * built every 5 s and checked against every rule and the fetch before:
 * A 07:58-08:00:30, B 08:02-08:02:20, C 08:04 to 08:10:30 (no fixes
 * 08:05-08:08: stale), B 08:12:30-08:12:50, A 08:14:30. */
static void test_drive(void **state)
{
    static const struct {
        int t, stop;
    } way[] = {{H(7, 58, 0), 0},  {H(8, 0, 30), 0},  {H(8, 2, 0), 1},
               {H(8, 2, 20), 1},  {H(8, 4, 0), 2},   {H(8, 10, 30), 2},
               {H(8, 12, 30), 1}, {H(8, 12, 50), 1}, {H(8, 14, 30), 0},
               {H(8, 16, 0), 0}};
    struct trips_params tpar;
    struct live_track *t;
    struct live_hist *h = live_hist_new(&tf.f);
    struct live_predict *p;
    struct live_gtfsrt *g = live_gtfsrt_new(LIVE_GTFSRT_ALL);
    uint8_t *prev = NULL;
    size_t prevlen = 0;
    int changed = 0, with_trips = 0, stale_seen = 0;
    char err[256];

    (void)state;
    assert_non_null(h);
    assert_int_equal(live_hist_finish(h), LIVE_HIST_OK);
    p = live_predict_new(&tf.f, h, LIVE_HIST_WEEKDAY, LIVE_METHOD_SHUTTLE,
                         NULL);
    assert_non_null(p);
    trips_params_default(&tpar);
    assert_int_equal(
        live_track_new(&tf.f, NULL, &tpar, drive_event, p, &t, err, sizeof err),
        LIVE_TRACK_OK);
    for (int k = 0; k + 1 < (int)(sizeof way / sizeof way[0]); k++)
        for (int sec = way[k].t; sec < way[k + 1].t; sec += 5) {
            double u = (double)(sec - way[k].t) / (way[k + 1].t - way[k].t);
            double lon0 = LON0 + STEP * way[k].stop;
            double lon1 = LON0 + STEP * way[k + 1].stop;
            struct trips_fix x = {MS(sec), LAT, lon0 + u * (lon1 - lon0),
                                  lon0 == lon1 ? 0.0 : 4.9};
            int64_t now = MS(sec) + 200;
            const struct live_trip_pred *list[3];
            const struct live_vehicle *vs[1];
            struct live_gtfsrt_input in = {&tf.f, "2023-12-01", DAY,  vs,
                                           1,     NULL,         list, 0,
                                           now,   NULL,         NULL, NULL};
            struct live_gtfsrt_check_ctx c = {&tf.f, NULL, prev, prevlen, now};
            struct live_gtfsrt_out out;
            const char *rule;

            if (sec < H(8, 5, 0) || sec >= H(8, 8, 0))
                live_track_fix(t, "V1", &x, now);
            live_track_tick(t, now);
            vs[0] = live_track_vehicle(t, 0);
            if (vs[0]->trip >= 0) {
                const struct live_trip_pred *next = NULL;

                list[in.ntrips++] =
                    live_predict_vehicle(p, 0, vs[0], now, &next);
                if (next)
                    list[in.ntrips++] = next;
            }
            stale_seen += vs[0]->status == LIVE_STATUS_STALE;
            assert_int_equal(live_gtfsrt_build(g, &in, &out, err, sizeof err),
                             LIVE_GTFSRT_OK);
            if (out.state == LIVE_GTFSRT_LATER)
                continue;
            changed += out.state == LIVE_GTFSRT_CHANGED;
            with_trips += in.ntrips > 0;
            rule = live_gtfsrt_check(&c, out.buf, out.len, err, sizeof err);
            if (rule)
                fail_msg("at %02d:%02d:%02d: %s", sec / 3600, sec / 60 % 60,
                         sec % 60, err);
            free(prev);
            prev = out.buf;
            prevlen = out.len;
        }
    /* the feed moved with the bus, and the gap made it stale */
    assert_true(changed > 100);
    assert_true(with_trips > 100);
    assert_true(stale_seen > 0);
    free(prev);
    live_gtfsrt_free(g);
    live_track_free(t);
    live_predict_free(p);
    live_hist_free(h);
}

static int write_sample(const char *file)
{
    size_t len;
    uint8_t *buf;
    FILE *f;
    void *st;

    setup(&st);
    buf = build(LIVE_GTFSRT_ALL, &len);
    f = fopen(file, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(file);
        return 1;
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fields, setup),
        cmocka_unit_test_setup(test_stop_status, setup),
        cmocka_unit_test_setup(test_kinds, setup),
        cmocka_unit_test_setup(test_stale, setup),
        cmocka_unit_test_setup(test_timestamp, setup),
        cmocka_unit_test_setup(test_occupancy, setup),
        cmocka_unit_test_setup(test_unknown_and_bad, setup),
        cmocka_unit_test_setup(test_ties, setup),
        cmocka_unit_test_setup(test_check_rules, setup),
        cmocka_unit_test_setup(test_protoc, setup),
        cmocka_unit_test_setup(test_alerts, setup),
        cmocka_unit_test_setup(test_drive, setup),
    };

    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_sample(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
