/* live_gtfsrt: the GTFS-Realtime FeedMessage (TripUpdates, VehiclePositions,
 * Alerts or all) built from the tracker's vehicles and the trip predictions,
 * with a header timestamp that never goes back. Pure: no I/O, no clock. */
#ifndef SHUTTLE_LIVE_GTFSRT_H
#define SHUTTLE_LIVE_GTFSRT_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "trips.h"

/* Seats of a bus whose own figure is not configured. */
#define LIVE_GTFSRT_SEATS 45
/* In transit this close (straight line) to its next stop: INCOMING_AT. */
#define LIVE_GTFSRT_INCOMING_M 150.0
/* A bus without a fix for this long leaves the VehiclePositions. */
#define LIVE_GTFSRT_GONE_MS (10 * 60 * 1000)
/* A bus later than this on its trip gets a SIGNIFICANT_DELAYS alert, kept
 * until it is back under the second figure (so a bus hovering around ten
 * minutes does not make the alert come and go). */
#define LIVE_GTFSRT_DELAY_ALERT_S 600
#define LIVE_GTFSRT_DELAY_CLEAR_S 480
/* An alert stays active this long after its trip's scheduled end. */
#define LIVE_GTFSRT_ALERT_AFTER_S (30 * 60)

enum live_gtfsrt_err {
    LIVE_GTFSRT_OK = 0,
    LIVE_GTFSRT_ERR_NOMEM,
    LIVE_GTFSRT_ERR_INVALID, /* a bad argument, or bytes that do not decode */
};

/* Which entities a feed carries. */
enum live_gtfsrt_what {
    LIVE_GTFSRT_TRIP_UPDATES = 1,
    LIVE_GTFSRT_VEHICLE_POSITIONS = 2,
    LIVE_GTFSRT_ALERTS = 4,
    LIVE_GTFSRT_ALL = 7,
};

/* What a build gave (struct live_gtfsrt_out.state). */
enum live_gtfsrt_state {
    LIVE_GTFSRT_CHANGED = 0, /* new content, a newer header timestamp */
    LIVE_GTFSRT_UNCHANGED,   /* the same bytes as the last build */
    /* New content within the second of the last change: a new timestamp
     * would be ahead of the clock and the old one would repeat (validator
     * E017), so there are no bytes; keep serving the last ones and build
     * again in the next second. */
    LIVE_GTFSRT_LATER,
};

/*
 * Everything a build reads; nothing is kept after it returns. Vehicle i
 * is vehicles[i], the tracker's index i (what live_trip_pred.vehicle
 * names). trips are the predictions to publish: the active trip and the
 * next trip of each bus's block and the cancelled ones; a trip listed
 * twice is published once (the first), one in state SCHEDULED (no bus,
 * timetable only) not at all: the static feed already says it.
 */
struct live_gtfsrt_input {
    const struct trips_feed *feed;
    const char *feed_version; /* feed_info.feed_version; NULL: none */
    int32_t day; /* the service day, days since 1970-01-01 (svcday_day) */
    const struct live_vehicle *const *vehicles;
    size_t nvehicles;
    const int *seats; /* [nvehicles] or NULL; <= 0: LIVE_GTFSRT_SEATS */
    const struct live_trip_pred *const *trips;
    size_t ntrips;
    int64_t now_ms;
    /* The words of the alerts, by trip index ([feed->ntrips] each), UTF-8;
     * an array or an entry that is NULL or "" falls back on the ids (the
     * route_id, the last stop's stop_id). */
    const char *const *route_names;  /* route_short_name of each trip */
    const char *const *headsigns_ko; /* trip_headsign */
    const char *const *headsigns_en; /* its English translation */
};

struct live_gtfsrt_out {
    enum live_gtfsrt_state state;
    uint8_t *buf; /* the packed FeedMessage, malloc'd, the caller's to free;
                     NULL for LIVE_GTFSRT_LATER */
    size_t len;
    uint64_t timestamp; /* its header timestamp, POSIX seconds */
    uint64_t hash;      /* FNV-1a of the message without that timestamp */
};

/* One published feed's memory of its last content and timestamp. */
struct live_gtfsrt;

/* A feed of WHAT; NULL when out of memory or WHAT is not one of the enum. */
struct live_gtfsrt *live_gtfsrt_new(enum live_gtfsrt_what what);
void live_gtfsrt_free(struct live_gtfsrt *g);

/*
 * Build G's FeedMessage from IN into *OUT. The header timestamp is the
 * last one while the content is the same, else max(now, last + 1) in
 * seconds, so it never decreases even when IN->now_ms does. Entity ids
 * are "trip:<trip_id>", "vehicle:<vehicle_id>", "alert:cancel:<trip_id>"
 * (a trip in IN->trips LIVE_TRIP_CANCELED: NO_SERVICE) and
 * "alert:delay:<trip_id>" (an ACTIVE trip whose bus is more than
 * LIVE_GTFSRT_DELAY_ALERT_S late: SIGNIFICANT_DELAYS). An alert names its
 * route and trip, is active from when it was first built until
 * LIVE_GTFSRT_ALERT_AFTER_S after the trip's scheduled end (then it goes),
 * and has its header and description in "ko" then "en". Returns LIVE_GTFSRT_OK
 * (see out->state), _ERR_INVALID (a prediction or vehicle outside the
 * feed; ERR says which) or _ERR_NOMEM; on error G is unchanged.
 */
enum live_gtfsrt_err live_gtfsrt_build(struct live_gtfsrt *g,
                                       const struct live_gtfsrt_input *in,
                                       struct live_gtfsrt_out *out, char *err,
                                       size_t errlen);

/*
 * The occupancy published for LOAD passengers on SEATS seats: a percentage
 * in steps wide enough to hold several people (never an exact count), or
 * -1 when the load is unknown. *STATUS (may be NULL) gets the matching
 * VehiclePosition.OccupancyStatus value.
 */
int live_gtfsrt_occupancy(int load, int seats, int *status);

#endif
