/* sim_bus: what each bus does all day (drive, dwell, lay over, deadhead,
 * park), planned up front from the timetable and the demand, and where it
 * is at any second. */
#ifndef SHUTTLE_SIM_BUS_H
#define SHUTTLE_SIM_BUS_H

#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_rng.h"

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

struct sim_plan_opts {
    int seats;
    double counter_error;        /* fraction of people the counter misses */
    const unsigned char *missed; /* per trip, may be NULL */
    const int *late_s;           /* per trip delay at the start, may be NULL */
};

struct sim_plan {
    int nbus;
    struct sim_bus **bus;
    struct sim_visit *visits; /* in time order per bus */
    int nvisits;
    double *trip_dep; /* per trip: actual departure; -1 missed */
};

/* Plan the day for every block of F. RNG drives travel and dwell times and
 * counting errors. Returns 0, or -1 when out of memory. */
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

/* The spans of bus B during which its GPS has no fix. */
const struct sim_span *sim_bus_dropouts(const struct sim_plan *p, int b,
                                        int *n);

#endif
