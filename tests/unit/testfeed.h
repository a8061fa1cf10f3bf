/* testfeed: the small hand-made timetable, predictions and view that the
 * unit tests of the live and publish modules build, written once. */
#ifndef SHUTTLE_TEST_TESTFEED_H
#define SHUTTLE_TEST_TESTFEED_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "trips.h"

struct pub_view;

/* 2023-12-09, service day 19700, Asia/Seoul (UTC+9, no DST): a fixed day,
 * so a test means the same on any date. GTFS times count from DAY_MS. */
#define TESTFEED_DAY 19700
#define TESTFEED_DAY_TEXT "2023-12-09"
#define TESTFEED_DAY_MS ((int64_t)TESTFEED_DAY * 86400000 - 9 * 3600000LL)
#define TESTFEED_H(h, m, s) ((h)*3600 + (m)*60 + (s))
#define TESTFEED_MS(secs) (TESTFEED_DAY_MS + (int64_t)(secs)*1000)

/* Big enough for a feed the size of Geomdan's (13 stops, 52 trips of 8). */
#define TESTFEED_STOPS_MAX 13
#define TESTFEED_TRIPS_MAX 52
#define TESTFEED_POS_MAX 8

/* A timetable and one prediction slot per trip, in fixed arrays: f points
 * into them once testfeed_stops has run. */
struct testfeed {
    struct trips_stop stops[TESTFEED_STOPS_MAX];
    struct trips_stop_time st[TESTFEED_POS_MAX * TESTFEED_TRIPS_MAX];
    struct trips_trip trips[TESTFEED_TRIPS_MAX];
    struct trips_feed f;
    struct live_stop_pred sp[TESTFEED_TRIPS_MAX][TESTFEED_POS_MAX];
    struct live_trip_pred tp[TESTFEED_TRIPS_MAX];
    const struct live_trip_pred *tpp[TESTFEED_TRIPS_MAX]; /* NULL: none */
};

/* How testfeed_pred predicts a trip: every stop LATE_S behind its
 * timetable, leaving DWELL_S after arriving, the 80 % interval -LO_S /
 * +HI_S, LOAD on board after each stop; made from the fix at FIX_MS. */
struct testfeed_pred {
    enum live_trip_state state;
    int vehicle; /* tracker index; -1 none */
    int late_s, dwell_s, lo_s, hi_s, load;
    int64_t fix_ms;
};

/* Start TF afresh (all zero) with N stops IDS[i] (copied) at LAT + i *
 * DLAT, LON + i * DLON. Fails the running test when N is too many. */
void testfeed_stops(struct testfeed *tf, const char *const *ids, size_t n,
                    double lat, double lon, double dlat, double dlon);

/* Append a trip through the NPOS stop indexes STOPS, the first at START_S
 * (seconds after the day's midnight), one every STEP_S, no dwell. ID NULL
 * names it "T<index>"; the strings are copied. Returns its index; fails
 * the running test when the arrays are full. */
size_t testfeed_trip(struct testfeed *tf, const char *id, const char *route_id,
                     const char *block_id, int direction, const int *stops,
                     size_t npos, int start_s, int step_s);

/* The feed done: its service day TESTFEED_DAY, trips_feed_finish run (the
 * running test fails if it does). */
void testfeed_finish(struct testfeed *tf);

/* Fill trip T's prediction slot as P says (every stop PREDICTED, or
 * CANCELED for a cancelled trip) and list it in tf->tpp. Returns the
 * slot, which the caller may change further. */
struct live_trip_pred *testfeed_pred(struct testfeed *tf, int t,
                                     const struct testfeed_pred *p);

/* V around TF: its feed, the day, the predictions (tf->tpp, one per
 * trip). Names, vehicles, seats, buses and the time are the caller's to
 * set; the other fields are left as they are. TF must outlive V. */
void testfeed_view(struct pub_view *v, const struct testfeed *tf);

#endif
