/* live_shape_db: the day's GTFS shapes from the database, as the
 * struct live_shapes the tracker builds its lines from. No I/O of its
 * own: the caller runs the two queries (in the timetable's snapshot) and
 * hands over their results. */
#ifndef SHUTTLE_LIVE_SHAPE_DB_H
#define SHUTTLE_LIVE_SHAPE_DB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "live_shape.h"
#include "trips.h"

/* $1 the service day (YYYY-MM-DD): the points of the shapes its trips
 * use (shape_id, lat, lon), by shape and sequence; and its trips' shapes
 * (trip_id, shape_id). */
extern const char *const live_shape_db_sql_points;
extern const char *const live_shape_db_sql_trips;

/* The shapes and the arrays SH points into; all malloc'd. */
struct live_shape_db {
    struct live_shapes sh;
    struct live_shape_pt *pts;
    size_t *first, *n;
    int *trip_shape; /* [feed->ntrips] */
};

enum live_shape_db_err {
    LIVE_SHAPE_DB_OK = 0,
    LIVE_SHAPE_DB_ERR_NOMEM,
    LIVE_SHAPE_DB_ERR_QUERY, /* the results have the wrong columns */
};

/*
 * Fill OUT from the results of the two queries for feed F (the day's
 * timetable). A trip whose shape is unknown, or has fewer than two
 * distinct points, gets none (-1: its stops joined by straight lines).
 * Free with live_shape_db_free, also after an error.
 */
enum live_shape_db_err live_shape_db_from_results(const PGresult *points,
                                                  const PGresult *trips,
                                                  const struct trips_feed *f,
                                                  struct live_shape_db *out,
                                                  char *err, size_t errlen);
void live_shape_db_free(struct live_shape_db *s);

#endif
