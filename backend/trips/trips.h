/* trips: stop visits, runs and their scheduled trips from one day's fixes. */
#ifndef SHUTTLE_TRIPS_H
#define SHUTTLE_TRIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The algorithm only: the caller (trips_db.c) loads a day's timetable and
 * raw records in (vehicle, time) order and stores what comes out. Nothing
 * here depends on the order records arrived in, so a rebuild gives the same
 * result whenever it runs.
 */

#define TRIPS_ID_MAX 64

struct trips_stop {
    char id[TRIPS_ID_MAX];
    double lat, lon;
};

/* One stop of a scheduled trip. Times are seconds after midnight of the
 * service day (GTFS allows more than 24 h). */
struct trips_stop_time {
    int stop;     /* index into the feed's stops */
    int sequence; /* GTFS stop_sequence */
    int32_t arr_s, dep_s;
};

struct trips_trip {
    char id[TRIPS_ID_MAX], route_id[TRIPS_ID_MAX], block_id[TRIPS_ID_MAX];
    int direction;   /* -1 unknown */
    size_t first, n; /* its stop times in the feed's array */
    int pattern;     /* trips with the same stops share one */
};

/* The day's timetable. trips_feed_finish() fills `pattern` of each trip. */
struct trips_feed {
    struct trips_stop *stops;
    size_t nstops;
    struct trips_stop_time *st;
    size_t nst;
    struct trips_trip *trips;
    size_t ntrips;
    int npatterns;
    int64_t day_ms; /* what GTFS times count from: noon minus 12 h of the
                       service day in the feed's zone, in Unix ms */
};

struct trips_fix {
    int64_t t_ms;
    double lat, lon;
    double speed; /* m/s, NAN when unknown */
};

struct trips_door {
    int64_t t_ms, open_ms, close_ms;   /* open 0: unknown */
    double lat, lon;                   /* NAN: no position */
    int boarded, alighted, load_after; /* load -1: unknown */
    int visit;                         /* out: visit index, -1 none */
};

struct trips_visit {
    int stop;
    int64_t arr_ms, dep_ms;
    bool stopped; /* slowed to a halt or opened doors */
    int run;      /* index in the day's runs, -1: none */
    int boarded, alighted, load_after, doors;
    /* A terminal visit can end one run and start the next: the run that
     * starts here (or -1). Its alightings belong to the run that ends. */
    int run_starting;
};

struct trips_run {
    char vehicle_id[TRIPS_ID_MAX];
    int pattern;
    size_t first_visit, last_visit; /* in that vehicle's visits */
    int first_pos, last_pos;        /* positions in the pattern */
    int matched;                    /* pattern stops visited */
    int64_t start_ms, end_ms;       /* departure first, arrival last */
    int trip;                       /* assigned trip, -1 none */
    int boarded, alighted, peak_load;
};

struct trips_params {
    double enter_m;    /* a fix this close to a stop is at it: 30 */
    double leave_m;    /* ... and stays at it until this far: 50 */
    double halt_mps;   /* slower than this counts as stopped: 1.0 */
    int64_t merge_ms;  /* same-stop visits closer than this merge: 15 min */
    int64_t gap_ms;    /* a run breaks after this long between stops: 40 min */
    int64_t assign_ms; /* a run more than this off schedule is no trip's */
    double min_share;  /* a run covers at least this share of its stops */
    int64_t late_ms;   /* later than this at the start: late (5 min) */
};

void trips_params_default(struct trips_params *p);

/* Group trips with identical stop sequences into patterns. Returns 0, or
 * -1 when out of memory. */
int trips_feed_finish(struct trips_feed *f);

/*
 * Stop visits of one vehicle from its fixes and door events (both in time
 * order). Door events get their visit index. *out is malloc'd, the
 * caller's to free. Returns 0 or -1 (out of memory).
 */
int trips_visits(const struct trips_feed *f, const struct trips_params *p,
                 const struct trips_fix *fixes, size_t nfixes,
                 struct trips_door *doors, size_t ndoors,
                 struct trips_visit **out, size_t *nout);

/*
 * Cut a vehicle's visits into runs along the feed's patterns, appending to
 * *runs (realloc'd; the caller frees). Sets each visit's run (and
 * run_starting) to an index into *runs. Returns 0 or -1 (out of memory).
 */
int trips_runs(const struct trips_feed *f, const struct trips_params *p,
               const char *vehicle_id, struct trips_visit *v, size_t nv,
               struct trips_run **runs, size_t *nruns);

/*
 * Match every run of the day (all vehicles) to at most one scheduled trip
 * and each trip to at most one run, following the blocks: a vehicle's runs
 * take trips in schedule order, a late bus stays on its own trip, a trip
 * of its block left out is missed, and a vehicle may change block (a bus
 * swap). Where two vehicles claim a trip, the one nearer its schedule
 * keeps it. Sets run->trip (-1: none). The result depends only on the
 * runs, not on their order in the array. Returns 0, or -1 when out of
 * memory.
 */
int trips_assign(const struct trips_feed *f, const struct trips_params *p,
                 struct trips_run *runs, size_t nruns);

/* Scheduled time of a trip's stop time, Unix ms. */
int64_t trips_sched_ms(const struct trips_feed *f, int32_t secs);

/* Metres between two nearby points: an equirectangular projection, exact
 * to centimetres over the few kilometres this is used for. */
double trips_dist_m(double lat1, double lon1, double lat2, double lon2);

/*
 * The stop-visit rules, one fix at a time: the same state machine
 * trips_visits runs, for a tracker that sees fixes as they come. A visit
 * is the fixes near one stop (entered within enter_m, left beyond
 * leave_m); arrival is the first fix there at a halt, departure the last,
 * and a bus that never halts passed it at its closest approach.
 */
struct trips_cand {
    int stop;
    int64_t first_halt, last_halt, closest_t, last_near;
    double closest;
};

struct trips_visitor {
    const struct trips_feed *f;
    const struct trips_params *p;
    bool in;             /* near a stop now: c.stop */
    struct trips_cand c; /* the visit being built */
};

/* Start with no visit in progress. F and P must outlive VS. */
void trips_visitor_init(struct trips_visitor *vs, const struct trips_feed *f,
                        const struct trips_params *p);

/* Feed the vehicle's next fix (in time order). Returns 1 when the visit in
 * progress ended with it (the bus left the stop), with that visit in *out
 * (not yet merged: see trips_visit_merge), else 0. Afterwards vs->in and
 * vs->c.stop say which stop the bus is at. No allocation. */
int trips_visitor_fix(struct trips_visitor *vs, const struct trips_fix *x,
                      struct trips_visit *out);

/* No more fixes: returns 1 with the visit in progress in *out, else 0. */
int trips_visitor_close(struct trips_visitor *vs, struct trips_visit *out);

/* Whether V, the visit after LAST, is really the same one (the same stop
 * again within merge_ms); if so LAST absorbs it. */
bool trips_visit_merge(struct trips_visit *last, const struct trips_visit *v,
                       const struct trips_params *p);

/* The trip driven after trip T in its block (by scheduled start, ties by
 * index, as trips_assign orders them), or -1. O(ntrips). */
int trips_block_next(const struct trips_feed *f, size_t t);

/* Scheduled departure of trip T from its first stop, Unix ms. */
int64_t trips_start_ms(const struct trips_feed *f, size_t t);

#endif
