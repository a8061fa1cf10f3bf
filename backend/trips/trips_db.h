/* trips_db: rebuild a service day's derived tables from the raw records. */
#ifndef SHUTTLE_TRIPS_DB_H
#define SHUTTLE_TRIPS_DB_H

#include <stddef.h>
#include <stdint.h>

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

#endif
