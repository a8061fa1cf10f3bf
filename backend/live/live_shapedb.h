/* live_shapedb: the day's GTFS shapes from PostgreSQL results into the
 * arrays live_track takes (struct live_shapes), each checked against the
 * stops of the trips that use it. */
#ifndef SHUTTLE_LIVE_SHAPEDB_H
#define SHUTTLE_LIVE_SHAPEDB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "live_shape.h"
#include "trips.h"

/* A stop farther than this from its trip's shape means the shape is not
 * that trip's road (a wrong shape_id, a shape of the other direction): the
 * trip keeps straight lines between its stops. MobilityData's validator
 * warns at the same distance (stop_too_far_from_shape). */
#define LIVE_SHAPEDB_STOP_M 100.0

/* The queries, one parameter each: the service day (YYYY-MM-DD). POINTS
 * answers shape_id, lat, lon of the shapes today's trips use, in shape
 * and sequence order; TRIPS answers trip_id, shape_id of those trips. */
extern const char *const live_shapedb_sql_points;
extern const char *const live_shapedb_sql_trips;

struct live_shapedb {
    struct live_shapes view; /* points into the arrays below */
    struct live_shape_pt *pts;
    size_t *first, *n;
    int *trip_shape; /* [feed->ntrips] */
    size_t nshapes;
    size_t used;    /* trips that follow a shape */
    size_t refused; /* trips whose shape was refused (see above, or fewer
                       than two distinct points): straight lines instead */
};

enum live_shapedb_err {
    LIVE_SHAPEDB_OK = 0,
    LIVE_SHAPEDB_ERR_NOMEM,
    LIVE_SHAPEDB_ERR_QUERY, /* a result with the wrong columns */
};

/*
 * Fill *OUT for feed F (finished; it must outlive *OUT) from the answers
 * of the two queries. Rows naming a trip or shape that is not in the
 * day's feed are skipped; a point with an impossible coordinate drops its
 * whole shape. On error *OUT is empty (no trip has a shape) and ERR says
 * why. Free with live_shapedb_free.
 */
enum live_shapedb_err live_shapedb_from_results(const struct trips_feed *f,
                                                const PGresult *points,
                                                const PGresult *trips,
                                                struct live_shapedb *out,
                                                char *err, size_t errlen);
void live_shapedb_free(struct live_shapedb *s);

/* The same, asking CONN (blocking) for service day DAY: for tools and
 * tests, never from a daemon's loop. LIVE_SHAPEDB_ERR_QUERY also when a
 * query fails (ERR has the server's message). */
enum live_shapedb_err live_shapedb_query(PGconn *conn, const char *day,
                                         const struct trips_feed *f,
                                         struct live_shapedb *out, char *err,
                                         size_t errlen);

#endif
