/* pub_view: one moment of shuttle-live's state, as every published feed
 * reads it (the JSON API, the workers' page, the fleet page, the stop
 * displays). The loop fills it after a change; the builders only read it
 * and keep nothing, so they are pure and tested without a daemon. */
#ifndef SHUTTLE_PUB_VIEW_H
#define SHUTTLE_PUB_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "trips.h"

/* Seats of a bus whose own figure is not configured (the Geomdan buses). */
#define PUB_SEATS_DEFAULT 45

/* The names the static feed gives (pub_names loads them with the day's
 * timetable). Strings are UTF-8 as loaded, never NULL ("" when absent);
 * the _en ones fall back to the feed's own language when translations.txt
 * has no English. Escaping is the writer's job (JSON, HTML). */
struct pub_stop_name {
    const char *name, *name_en, *code, *desc;
};

struct pub_route {
    const char *id, *short_name, *long_name, *long_name_en;
    const char *color, *text_color; /* "RRGGBB" or "" */
};

struct pub_names {
    struct pub_stop_name *stops; /* [feed->nstops], by stop index */
    size_t nstops;
    struct pub_route *routes;
    size_t nroutes;
    int *trip_route;            /* [feed->ntrips]: index in routes; -1 */
    const char **trip_headsign; /* [feed->ntrips] */
    const char **trip_headsign_en;
    const char *feed_version; /* feed_info.feed_version, "" none */
    const char *agency_name, *agency_name_en, *timezone, *lang;
    /* Owner of every string above (pub_names_free releases it). */
    char *pool;
    size_t pool_len, pool_cap;
};

/* What the loop knows of one bus from its Status messages and fixes. */
struct pub_bus {
    char id[TRIPS_ID_MAX];
    int vehicle;       /* tracker index (view->vehicles); -1 none */
    int seats;         /* configured, else PUB_SEATS_DEFAULT */
    bool status_known; /* a Status was heard */
    bool online;       /* its last Status said ONLINE */
    int64_t status_ms; /* that Status's t_ms; -1 */
    int64_t seen_ms;   /* wall clock of the last message heard; -1 */
    int64_t fix_ms;    /* newest fix time; -1 */
    double lat, lon;   /* of it; NAN unknown */
    int load;          /* after the last count; -1 unknown */
    uint64_t spool_records, spool_bytes;
    int64_t oldest_unacked_age_s; /* -1 unknown */
    unsigned gps_mode;            /* 0 none, 2 2D, 3 3D */
    bool gps_connected;
    char counter_state[16]; /* "ok", "silent", "fault", "none", "" */
    uint64_t dropped_positions, dropped_counts, counter_rejected;
    uint64_t acks_refused;
    char version[32];
};

struct pub_view {
    const struct trips_feed *feed;
    const struct pub_names *names;
    int32_t day;          /* service day, days since 1970-01-01 */
    const char *day_text; /* the same, "YYYY-MM-DD" */
    /* The tracker's vehicles: vehicles[i] is what live_trip_pred.vehicle
     * and pub_bus.vehicle name. */
    const struct live_vehicle *const *vehicles;
    size_t nvehicles;
    const int *seats; /* [nvehicles], or NULL: PUB_SEATS_DEFAULT each */
    /* By trip index (ntrips == feed->ntrips): the trip's newest
     * prediction, NULL when none was made today (then the timetable). */
    const struct live_trip_pred *const *trips;
    size_t ntrips;
    /* By trip index, or NULL: nonzero once a bus has left one of its stops
     * today. A served trip without a prediction is over: not the
     * timetable's to show again. */
    const unsigned char *served;
    const struct pub_bus *buses; /* owned buses, sorted by id */
    size_t nbuses;
    int64_t now_ms;
    /* Which build of the published state this is: every body of one
     * generation shows one state (generated_at, to the second, may be
     * shared by two builds). 0: none. */
    uint64_t generation;
};

#endif
