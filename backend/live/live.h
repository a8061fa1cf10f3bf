/* live: the types the live side shares — where each bus is on its block
 * (live_track), what it will do next (live_predict), and how well that was
 * predicted (live_audit). Pure data: no I/O, no logging. */
#ifndef SHUTTLE_LIVE_H
#define SHUTTLE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trips.h"

/*
 * Indices (trip, stop, pattern) are into the day's struct trips_feed
 * (backend/trips/trips.h), the same timetable the batch trip builder uses;
 * a trip's stop positions are 0 .. trip->n - 1 (feed->st[trip->first + pos]).
 * Times are Unix milliseconds; -1 (or INT64_MIN where noted) is "none".
 */

/* What a bus is doing, judged from its last fix. */
enum live_status {
    LIVE_STATUS_UNKNOWN = 0, /* no fix yet today */
    LIVE_STATUS_AT_STOP,     /* within the stop radius of its next stop */
    LIVE_STATUS_IN_TRANSIT,  /* on its trip's shape between stops */
    LIVE_STATUS_LAYOVER,     /* at a terminal waiting for its next trip */
    LIVE_STATUS_DEADHEAD,    /* on no trip: driving to or from one */
    LIVE_STATUS_OFF_ROUTE,   /* on a trip but away from its shape */
    LIVE_STATUS_STALE,       /* no fix for LIVE_STALE_MS */
};

#define LIVE_STALE_MS (90 * 1000)

/* One bus, as the tracker places it. */
struct live_vehicle {
    char id[TRIPS_ID_MAX];
    int64_t fix_ms;                  /* time of the last fix used; -1 none */
    double lat, lon, speed, bearing; /* of that fix; NAN unknown */
    enum live_status status;
    int trip;        /* trip it is on (or, in layover, about to start); -1 */
    int block_next;  /* the trip after `trip` in its block; -1 none */
    int pos;         /* last stop position reached on `trip`; -1 before it */
    int next_pos;    /* next stop position ahead; -1 none (trip done) */
    double dist_m;   /* distance along the trip's shape from its first stop */
    double off_m;    /* distance from the shape (OFF_ROUTE when large) */
    int32_t delay_s; /* schedule deviation: + late, - early (at dist_m) */
    int load;        /* passengers on board after the last door event; -1 */
};

/* What the tracker saw happen: the evidence predictions learn from today
 * and are scored against. Emitted once each, in time order per vehicle. */
enum live_event_type {
    LIVE_EV_ARRIVE,   /* reached stop position `pos` of `trip` */
    LIVE_EV_DEPART,   /* left it */
    LIVE_EV_TRIP_END, /* trip finished (last stop reached) */
    LIVE_EV_MISSED,   /* trip's departure passed, no bus on it (cancelled) */
};

struct live_event {
    enum live_event_type type;
    int vehicle; /* index in the tracker's vehicles; -1 for MISSED */
    int trip, pos;
    int64_t t_ms;
    int boarded, alighted, load_after; /* at DEPART; load -1 unknown */
};

/* How a stop time ahead is known. */
enum live_kind {
    LIVE_KIND_PREDICTED = 0, /* from the bus's position and history */
    LIVE_KIND_SCHEDULED, /* no live data (stale or not yet out): timetable */
    LIVE_KIND_DEPARTED,  /* already passed: arr/dep are what happened */
    LIVE_KIND_SKIPPED,   /* the bus will not serve it (trip cut short) */
    LIVE_KIND_CANCELED,  /* the trip will not run (missed) */
};

/* One stop of a trip ahead (or just behind). */
struct live_stop_pred {
    int pos, stop, sequence; /* position in the trip, stop index, GTFS seq */
    enum live_kind kind;
    int64_t sched_arr_ms, sched_dep_ms;
    int64_t arr_ms, dep_ms;       /* best estimate */
    int64_t arr_lo_ms, arr_hi_ms; /* 80 % interval of the arrival */
    int load;                     /* expected on board after the stop; -1 */
};

enum live_trip_state {
    LIVE_TRIP_ACTIVE = 0, /* a bus is on it */
    LIVE_TRIP_NEXT,       /* the next trip of a block whose bus is out */
    LIVE_TRIP_SCHEDULED,  /* no bus known: timetable only */
    LIVE_TRIP_CANCELED,   /* missed */
};

/* Predictions of one trip, made at `made_ms` from the fix at `fix_ms`. */
struct live_trip_pred {
    int trip;
    int vehicle; /* tracker index; -1 none */
    enum live_trip_state state;
    int64_t made_ms, fix_ms;
    struct live_stop_pred *stops; /* positions 0 .. n-1 of the trip */
    size_t nstops;
};

/* The prediction methods, all in the same code so a benchmark compares
 * them on the same replay. */
enum live_method {
    LIVE_METHOD_SHUTTLE = 0, /* ours: history + today's evidence, blended */
    LIVE_METHOD_TIMETABLE,   /* the schedule as published */
    LIVE_METHOD_DEVIATION,   /* OneBusAway: current deviation carried on */
    LIVE_METHOD_KALMAN,      /* TransitClock-style Kalman blend */
};

/* The horizons at which predictions are sampled and later scored:
 * 1, 2, 5, 10 and 15 minutes before the predicted arrival. */
#define LIVE_AUDIT_NHORIZONS 5
#define LIVE_AUDIT_HORIZONS_S                                                  \
    {                                                                          \
        60, 120, 300, 600, 900                                                 \
    }

/*
 * One prediction sampled at a horizon and scored when the bus arrived
 * (live_audit). `accurate` is the Transit app ETA-benchmark rule for the
 * horizon's bucket, `covered` whether the arrival fell in the 80 %
 * interval: both decided in C, once, so the report only counts them.
 * Stored as a row of eta_samples (migration 007).
 */
struct live_audit_sample {
    int vehicle, trip, pos, stop;
    int horizon_s;        /* one of LIVE_AUDIT_HORIZONS_S */
    int64_t made_ms;      /* when the prediction was made */
    int64_t pred_ms;      /* predicted arrival */
    int64_t lo_ms, hi_ms; /* its 80 % interval */
    int64_t actual_ms;    /* the arrival that happened */
    bool accurate, covered;
};

#endif
