/* pub_json: the JSON API's documents (/api/v1/...) built from one
 * struct pub_view: compact UTF-8 bytes, once per change of the live
 * state, never per request. Pure: nothing is kept between calls. */
#ifndef SHUTTLE_PUB_JSON_H
#define SHUTTLE_PUB_JSON_H

#include <stddef.h>

#include "pub_view.h"

enum pub_json_err {
    PUB_JSON_OK = 0,
    PUB_JSON_ERR_NOMEM,
    PUB_JSON_ERR_INVALID, /* no feed or names, a stop outside the feed */
};

/*
 * Every builder writes a malloc'd, NUL-terminated document to *OUT (the
 * caller's to free) and its length without the NUL to *LEN, and returns
 * PUB_JSON_OK; on error *OUT is NULL and ERR says why. Every document
 * has "generated_at" (V->now_ms, ISO 8601 in the feed's zone with its
 * offset), "generated_at_unix" (seconds), "feed_version" and
 * "service_day" (YYYY-MM-DD). Names that are not valid UTF-8 are
 * repaired (U+FFFD), never refused. README.md "JSON API" shows each.
 */

/* /api/v1/stops: every stop of the feed with code, names, position and
 * the ids of the routes whose trips serve it today. */
enum pub_json_err pub_json_stops(const struct pub_view *v, char **out,
                                 size_t *len, char *err, size_t errlen);

/* /api/v1/routes: every route with names and colours, and per direction
 * the stops in order of its most common stop pattern today. */
enum pub_json_err pub_json_routes(const struct pub_view *v, char **out,
                                  size_t *len, char *err, size_t errlen);

/* /api/v1/vehicles: every tracked bus: trip, position (5 decimals),
 * status, next stop, delay, occupancy (live_gtfsrt_occupancy's coarse
 * percentage, never a count), fix age, online, stale. */
enum pub_json_err pub_json_vehicles(const struct pub_view *v, char **out,
                                    size_t *len, char *err, size_t errlen);

/* /api/v1/stops/<stop_id>/arrivals for stop index STOP: pub_board's rows,
 * the same the workers' page and the stop displays show. An unknown stop
 * is the caller's 404 (pub_json_stop_find, pub_json_error). */
enum pub_json_err pub_json_arrivals(const struct pub_view *v, int stop,
                                    char **out, size_t *len, char *err,
                                    size_t errlen);

/* /api/v1/runs: today's trips in scheduled order, and what became of each
 * (done, active, next, scheduled, canceled). */
enum pub_json_err pub_json_runs(const struct pub_view *v, char **out,
                                size_t *len, char *err, size_t errlen);

/* {"error":{"status":STATUS,"message":MSG}} for an HTTP error answer. */
enum pub_json_err pub_json_error(int status, const char *msg, char **out,
                                 size_t *len);

/* What the API (and the fleet page) calls a vehicle status: "at_stop",
 * "in_transit", "layover", "deadhead", "off_route", "stale",
 * "unknown". A static string. */
const char *pub_json_status_name(enum live_status s);

/* The index of stop ID in F, or -1 (ID is checked: any text is safe). */
int pub_json_stop_find(const struct trips_feed *f, const char *id);

/* ISO 8601 local time of Unix ms MS with V's zone offset
 * ("2023-12-09T08:01:35+09:00") into BUF (at least PUB_JSON_TIME_MAX). */
#define PUB_JSON_TIME_MAX 64
char *pub_json_time(const struct pub_view *v, int64_t ms, char *buf);

#endif
