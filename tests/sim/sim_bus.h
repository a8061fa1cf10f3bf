/* sim_bus: what each bus does all day (drive, dwell, lay over, deadhead,
 * park), planned up front from the timetable and the demand, and where it
 * is at any second. */
#ifndef SHUTTLE_SIM_BUS_H
#define SHUTTLE_SIM_BUS_H

#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_rng.h"
#include "sim_traffic.h"

/* A stop visit as it really happened (the ground truth). Times are
 * seconds after the service day's midnight. */
struct sim_visit {
    int bus, trip, j; /* j: index of the stop in the trip */
    double arr, dep;
    int board, alight, load;           /* true counts, load after the stop */
    int board_counted, alight_counted; /* what the counter will report */
};

enum sim_cline_type { SIM_CL_OPEN, SIM_CL_COUNT, SIM_CL_CLOSE };

/* One passenger-counter sentence to send (door 1). */
struct sim_cline {
    double t;
    int type;
    int in, out;
};

struct sim_span {
    double t0, t1;
};

struct sim_bus;

#define SIM_MAX_EVENTS 32 /* idles (and dropouts) asked for, at most */

/* A disturbance asked for on the command line: bus index, when (seconds
 * after midnight), how long (seconds). */
struct sim_event {
    int bus;
    double t, dur;
};

struct sim_plan_opts {
    int seats;
    double counter_error;        /* fraction of people the counter misses */
    const unsigned char *missed; /* per trip, may be NULL */
    const int *late_s;           /* per trip delay at the start, may be NULL */
    /* GPS without a fix from t for dur, whatever the bus is doing (it
     * keeps driving its schedule; counters keep counting). */
    const struct sim_event *dropouts;
    int ndropouts;
    /* The bus stands at a terminal with the engine on for dur, from t or
     * from its next terminal stand after t (see sim_plan_make). */
    const struct sim_event *idles;
    int nidles;
    /* The day's traffic model (sim_traffic_make); NULL: the one city-wide
     * time-of-day curve, and the plan is exactly what it was before the
     * model existed (no draw added to RNG). */
    const struct sim_traffic *traffic;
};

struct sim_plan {
    int nbus;
    struct sim_bus **bus;
    struct sim_visit *visits; /* in time order per bus */
    int nvisits;
    double *trip_dep; /* per trip: actual departure; -1 missed */
};

/*
 * Plan the day for every block of F. RNG drives travel and dwell times and
 * counting errors. Returns 0, or -1 when out of memory.
 *
 * An idle (o->idles) happens at a terminal stand: the warm-up at the first
 * stop before a piece of work, the layover after a run, or the last stand
 * before the bus is switched off. It begins at t when the bus stands at a
 * terminal then, else when it next gets to one (the end of the run under
 * way at t), and lasts dur. A run that was due to leave meanwhile leaves
 * when the idle ends, late; the runs after it catch up by laying over
 * less. Idles placed after a piece's last run delay nothing.
 *
 * With o->traffic, each leg's time follows the model's factor for its
 * segment and the signals on it, each trip draws from streams of its own
 * (seeded from one draw of RNG), and when the model asks for bunching the
 * day is planned twice: the second pass rescales every stop's boardings by
 * the headway the bus really had behind the previous bus of its route and
 * direction in the first (a late bus finds more people and dwells longer,
 * the one behind finds fewer), with the same draws.
 */
int sim_plan_make(const struct sim_feed *f, const struct sim_demand *d,
                  const struct sim_plan_opts *o, struct sim_rng *rng,
                  struct sim_plan *p);
void sim_plan_free(struct sim_plan *p);

/* The state of bus B at time T: 0 when it is switched off (parked at the
 * depot between runs), else 1 with its true position, speed (m/s) and
 * heading. Calls must come in nondecreasing T per bus. */
int sim_bus_at(struct sim_plan *p, int b, double t, double *lat, double *lon,
               double *speed, double *track);

/* The counter sentences of bus B, in time order. */
const struct sim_cline *sim_bus_clines(const struct sim_plan *p, int b, int *n);

/* The spans of bus B during which its GPS has no fix (random ones and
 * those asked for), in time order, not overlapping. */
const struct sim_span *sim_bus_dropouts(const struct sim_plan *p, int b,
                                        int *n);

/* The idles of bus B as they were placed, in time order. */
const struct sim_span *sim_bus_idles(const struct sim_plan *p, int b, int *n);

#endif
