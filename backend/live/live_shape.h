/* live_shape: a trip's shape as a polyline with cumulative distances, and
 * the projection of a point onto it. Pure geometry: no I/O. */
#ifndef SHUTTLE_LIVE_SHAPE_H
#define SHUTTLE_LIVE_SHAPE_H

#include <stddef.h>

#include "trips.h"

/* One point of a GTFS shape (gtfs_shapes), in sequence order. dist is
 * shape_dist_traveled in metres, or NAN when the feed has none (then it
 * is computed from the points). */
struct live_shape_pt {
    double lat, lon, dist;
};

/*
 * The shapes of a day as plain arrays, filled by whoever loads them (the
 * daemon from SQL, tests from the simulator's lines): shape s is
 * pts[first[s]] .. pts[first[s] + n[s] - 1]; trip_shape[t] is the shape of
 * the feed's trip t, or -1 when it has none (its stops joined by straight
 * lines stand in). trip_shape may be NULL: no trip has a shape.
 */
struct live_shapes {
    const struct live_shape_pt *pts;
    const size_t *first, *n;
    size_t nshapes;
    const int *trip_shape; /* [feed->ntrips] */
};

/* One trip's line: points with cumulative metres from the first stop (so
 * stop_d[0] = 0 and a bus before the first stop has a negative distance),
 * and the distance along of each stop position. */
struct live_shape {
    double *lat, *lon, *d; /* [n] */
    size_t n;
    double *stop_d; /* [trip->n] */
    size_t nstops;
    double len; /* d[n - 1] */
};

enum live_shape_err {
    LIVE_SHAPE_OK = 0,
    LIVE_SHAPE_ERR_NOMEM,
    LIVE_SHAPE_ERR_INVALID, /* fewer than two distinct points */
};

/*
 * Build trip T's line from its shape in SH (may be NULL) or, without one,
 * from its stops. Stop positions are projected in order, each not before
 * the last, so a loop or a there-and-back shape keeps its order. *out's
 * arrays are malloc'd; free with live_shape_free.
 */
enum live_shape_err live_shape_build(const struct trips_feed *f, size_t t,
                                     const struct live_shapes *sh,
                                     struct live_shape *out, char *err,
                                     size_t errlen);
void live_shape_free(struct live_shape *s);

/*
 * Project LAT/LON onto S: the nearest point of the segments whose
 * distance range meets [from, to] (from = -INFINITY, to = INFINITY: the
 * whole line). Returns the distance along; *off (may be NULL) gets the
 * distance from the line in metres. No allocation.
 */
double live_shape_project(const struct live_shape *s, double lat, double lon,
                          double from, double to, double *off);

#endif
