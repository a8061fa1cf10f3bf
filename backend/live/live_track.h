/* live_track: each bus placed on its block in real time, from its fixes and
 * door events, with the batch trip builder's rules (trips.h). Pure: no I/O,
 * no clock of its own, no logging. */
#ifndef SHUTTLE_LIVE_TRACK_H
#define SHUTTLE_LIVE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "live_shape.h"
#include "trips.h"

struct live_track;

/* Called for each event as it happens, from inside live_track_fix, _door
 * or _tick; EV is valid during the call only. */
typedef void (*live_track_event_fn)(void *arg, const struct live_event *ev);

enum live_track_err {
    LIVE_TRACK_OK = 0,
    LIVE_TRACK_ERR_NOMEM,
    LIVE_TRACK_ERR_INVALID, /* a bad argument or feed */
};

/* Why a fix or door event was not used (the caller counts them). */
enum live_track_res {
    LIVE_TRACK_USED = 0,
    LIVE_TRACK_OLD,    /* not newer than the vehicle's newest: a resend */
    LIVE_TRACK_FUTURE, /* more than LIVE_TRACK_FUTURE_MS after `now` */
    LIVE_TRACK_BAD,    /* position or id unusable */
    LIVE_TRACK_NOMEM,  /* a new vehicle could not be added */
};

#define LIVE_TRACK_FUTURE_MS (5 * 60 * 1000)
/* A trip with no bus this long after its scheduled departure, and none of
 * its block before it, is missed. */
#define LIVE_TRACK_MISS_MS (10 * 60 * 1000)
/* Farther than this from its trip's shape, a bus is OFF_ROUTE. */
#define LIVE_TRACK_OFF_M 100.0

/*
 * Create a tracker for the day of F (finished with trips_feed_finish; it
 * must outlive the tracker). SH is read during the call only (the lines
 * are copied); NULL: straight lines between stops. P is copied.
 * ON_EVENT (may be NULL) gets every event with ARG.
 */
enum live_track_err
live_track_new(const struct trips_feed *f, const struct live_shapes *sh,
               const struct trips_params *p, live_track_event_fn on_event,
               void *arg, struct live_track **out, char *err, size_t errlen);
void live_track_free(struct live_track *t);

/*
 * A fix of vehicle VID observed at x->t_ms, seen at NOW_MS (the caller's
 * clock). A vehicle not seen before is added. Fixes older than the
 * vehicle's newest are ignored. No allocation except for a new vehicle.
 */
enum live_track_res live_track_fix(struct live_track *t, const char *vid,
                                   const struct trips_fix *x, int64_t now_ms);

/* A door episode of VID (load_after, boarded, alighted): sets its load;
 * its counts go with the next DEPART event. */
enum live_track_res live_track_door(struct live_track *t, const char *vid,
                                    const struct trips_door *d, int64_t now_ms);

/*
 * Mid-trip acquisition (off after live_track_new): a bus just heard
 * (first heard, or again after 10 min without a fix) that drives a trip's
 * line, its way, at a time that fits, takes that trip where it is. Off
 * by default: on the simulated morning of test_live_e2e it puts a bus
 * first heard near the end of a trip on the block's next trip before
 * another bus, waiting for a missed trip, leaves at that next trip's time
 * (the two rules then fight over it), and a restart is covered by the
 * daemon's replay of today's stored fixes instead.
 */
void live_track_set_midtrip(struct live_track *t, bool on);

/* Time passes: vehicles without a fix for LIVE_STALE_MS go STALE, trips
 * left without a bus go MISSED (one event each). */
void live_track_tick(struct live_track *t, int64_t now_ms);

/* The vehicles, 0 .. live_track_nvehicles() - 1, in the order first seen
 * (an index stays valid for the tracker's life). */
size_t live_track_nvehicles(const struct live_track *t);
const struct live_vehicle *live_track_vehicle(const struct live_track *t,
                                              size_t i);
/* Index of vehicle VID, or -1. */
int live_track_find(const struct live_track *t, const char *vid);

/* Trip I's line (for predictions along it); NULL when out of range. */
const struct live_shape *live_track_shape(const struct live_track *t, size_t i);
/* Whether trip I was declared missed. */
bool live_track_missed(const struct live_track *t, size_t i);

#endif
