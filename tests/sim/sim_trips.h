/* sim_trips: a planned simulated day handed straight to the trip builder's
 * algorithm (backend/trips/trips.h), without NMEA, MQTT or SQL in between. */
#ifndef SHUTTLE_SIM_TRIPS_H
#define SHUTTLE_SIM_TRIPS_H

#include <stddef.h>
#include <stdint.h>

#include "sim_bus.h"
#include "sim_feed.h"
#include "trips.h"

/* One bus's day as the raw tables would hold it. */
struct sim_trips_vehicle {
    char id[TRIPS_ID_MAX]; /* "bus-N", N = block index + 1 */
    struct trips_fix *fixes;
    size_t nfixes;
    struct trips_door *doors;
    size_t ndoors;
};

/* How the positions are taken. */
struct sim_trips_gps {
    uint64_t seed;
    double noise_m; /* receiver error, metres (the simulator's model) */
    double drop;    /* share of fixes lost at random (gpsd, the link) */
};

/*
 * The records of bus B of plan P: one fix a second while the bus is on
 * (none in its dropouts, and a random `drop` share lost), one door event
 * per counter episode at its close. *v's arrays are malloc'd: free them
 * with sim_trips_vehicle_free. Returns 0, or -1 when out of memory.
 */
int sim_trips_vehicle(struct sim_plan *p, const struct sim_feed *f, int b,
                      const struct sim_trips_gps *g,
                      struct sim_trips_vehicle *v);
void sim_trips_vehicle_free(struct sim_trips_vehicle *v);

/*
 * The same timetable trips_db.c builds from the gtfs_* tables (stops by id,
 * trips by id in byte order, stop times by sequence), for the service day
 * starting at DAY_MS. Returns 0, or -1 when out of memory; free with
 * sim_trips_feed_free.
 */
int sim_trips_feed(const struct sim_feed *sf, int64_t day_ms,
                   struct trips_feed *f);
void sim_trips_feed_free(struct trips_feed *f);

#endif
