/* sim_demand: who rides which run on the simulated day, from a daily total
 * with morning and evening peaks and a seat limit. */
#ifndef SHUTTLE_SIM_DEMAND_H
#define SHUTTLE_SIM_DEMAND_H

#include "sim_feed.h"
#include "sim_rng.h"

struct sim_demand {
    int *board, *alight; /* per stop time, indexed like feed->st */
    int *riders;         /* per trip (feed->trips order) */
    int total;           /* boardings on the day */
    int left_behind;     /* turned away by a full bus or a missed run with
                            no later run to take them */
};

/*
 * Draw the day's ridership: about RIDERS boardings (the day's own total
 * varies by a few percent), spread over the runs by time of day (peaks
 * around 07:35 and 18:10), each rider boarding early on the run (weights
 * falling with the cube of the stop index) and alighting late (hubs to the
 * complex in the morning, back at night). A full bus (SEATS) or a run in MISSED
 * (per trip, may be NULL) leaves its riders for the next run of the same route
 * and direction. Returns 0, or -1 when out of memory. Free with
 * sim_demand_free.
 */
int sim_demand_make(const struct sim_feed *f, const unsigned char *missed,
                    double riders, int seats, struct sim_rng *rng,
                    struct sim_demand *d);
void sim_demand_free(struct sim_demand *d);

#endif
