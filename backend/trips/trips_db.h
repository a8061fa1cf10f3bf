/* trips_db: rebuild a service day's derived tables from the raw records. */
#ifndef SHUTTLE_TRIPS_DB_H
#define SHUTTLE_TRIPS_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "trips.h"

struct trips_db_summary {
    size_t vehicles, fixes, doors, visits, runs;
    size_t trips, operated, partial, missed, late;
    long boarded, alighted, unattributed;
    double seconds; /* wall time of the whole rebuild */
};

enum trips_db_err {
    TRIPS_DB_OK = 0,
    TRIPS_DB_ERR_CONNECT = -1,
    TRIPS_DB_ERR_QUERY = -2,
    TRIPS_DB_ERR_NOMEM = -3,
    TRIPS_DB_ERR_DATE = -4, /* not a YYYY-MM-DD date */
    TRIPS_DB_ERR_FEED = -5, /* no timetable for that day */
};

/* A rebuild holds pg_advisory_lock(TRIPS_DB_LOCK_CLASS, day) from reading
 * to commit, day = days since 1970-01-01 of the service day: two
 * rebuilds of one day run one after the other. */
#define TRIPS_DB_LOCK_CLASS 0x5348 /* "SH" */

/*
 * Rebuild `day` (YYYY-MM-DD, a service day in the loaded feed's
 * agency_timezone, as shuttle_service_tz() gives it): read the day's
 * timetable and raw records in (vehicle, time) order, build stop visits,
 * runs and trip outcomes, and replace the day's derived rows in one
 * transaction. `conninfo` is a libpq connection string. Returns
 * TRIPS_DB_OK or an error with a message in err.
 */
int trips_db_rebuild(const char *conninfo, const char *day,
                     struct trips_db_summary *sum, char *err, size_t errlen);

/*
 * The timetable of a service day as the rebuild reads it, shared with
 * shuttle-live, which sends the same queries asynchronously: the stops
 * (no parameter) and the stop times of the trips running on $1 (the day,
 * YYYY-MM-DD). Run both in one snapshot so they belong to one feed.
 */
extern const char *const trips_db_sql_stops;
extern const char *const trips_db_sql_stop_times;

/*
 * Build `f` from the results of trips_db_sql_stops and
 * trips_db_sql_stop_times (for `day`, used in messages). TRIPS_DB_OK, or
 * TRIPS_DB_ERR_FEED (unknown stop, no trips), TRIPS_DB_ERR_QUERY (wrong
 * columns) or TRIPS_DB_ERR_NOMEM with a message in err. The results stay
 * the caller's; `f` is filled even on error and is released with
 * trips_db_feed_free either way.
 */
int trips_db_feed_from_results(const PGresult *stops, const PGresult *times,
                               const char *day, struct trips_feed *f, char *err,
                               size_t errlen);

/*
 * A passenger_counts row as a door episode: the SELECT list
 * trips_db_sql_door_columns (8 columns: t, door open, door close in Unix
 * ms, lat, lon, boarded, alighted, load_after) starting at column `col` of
 * row `row` of `r`. The one conversion of stored counts, for the rebuild
 * and for shuttle-live's restart.
 */
extern const char *const trips_db_sql_door_columns;
void trips_db_door_from_row(const PGresult *r, int row, int col,
                            struct trips_door *d);

/* Free what trips_db_feed_from_results allocated; `f` is zeroed. */
void trips_db_feed_free(struct trips_feed *f);

#endif
