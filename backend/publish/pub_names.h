/* pub_names: the names riders read (stops, routes, headsigns, the agency)
 * from the static feed's tables, with their English translations, mapped
 * onto the day's timetable indices (struct pub_names in pub_view.h). */
#ifndef SHUTTLE_PUB_NAMES_H
#define SHUTTLE_PUB_NAMES_H

#include <libpq-fe.h>
#include <stddef.h>

#include "pub_view.h"
#include "trips.h"

/*
 * The queries: read-only, to run in the same REPEATABLE READ snapshot as
 * the day's timetable (trips_db_sql_*) so names and indices belong to one
 * feed. Only TRIPS has a parameter, the service day (YYYY-MM-DD).
 *  STOPS  stop_id, stop_code, stop_name, stop_name in English, stop_desc
 *  ROUTES route_id, short name, long name, long name in English, color,
 *         text color (in route_sort_order, then route_id)
 *  TRIPS  trip_id, trip_headsign, trip_headsign in English
 *  FEED   one row: feed_version, agency_name, agency_name in English,
 *         agency_timezone, agency_lang (else feed_lang)
 * English is translations.txt's language "en" (or "en-*"), matched by
 * record_id or by field_value; without one it is the feed's own text.
 * NULL columns come back as "".
 */
extern const char *const pub_names_sql_stops;
extern const char *const pub_names_sql_routes;
extern const char *const pub_names_sql_trips;
extern const char *const pub_names_sql_feed;

enum pub_names_err {
    PUB_NAMES_OK = 0,
    PUB_NAMES_ERR_NOMEM,
    PUB_NAMES_ERR_QUERY, /* a result with the wrong columns */
};

/*
 * Fill *OUT for feed F (finished; it must outlive *OUT) from the answers
 * of the four queries (the results stay the caller's: every string is
 * copied). Stops and trips are by F's indices; rows naming a stop or trip
 * not in F are skipped, and what F has but the results lack gets "".
 * trip_route maps each trip's route_id into OUT->routes (-1 unknown).
 * Every string is valid UTF-8 (bad bytes become U+FFFD) and never NULL; a
 * color that is not six hex digits becomes "". On error *OUT is zeroed
 * (no arrays: not to be published; safe to free) and ERR says why. Free
 * with pub_names_free.
 */
enum pub_names_err
pub_names_from_results(const struct trips_feed *f, const PGresult *stops,
                       const PGresult *routes, const PGresult *trips,
                       const PGresult *feed, struct pub_names *out, char *err,
                       size_t errlen);

/* Release what pub_names_from_results allocated; *N is left empty. */
void pub_names_free(struct pub_names *n);

/* A copy of S with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD (JSON libraries refuse such strings). The caller's to free; NULL
 * when memory ran out. */
char *pub_names_utf8_repair(const char *s);

/* Whether S is valid UTF-8 (no overlongs, no surrogates). */
int pub_names_utf8_valid(const char *s);

#endif
