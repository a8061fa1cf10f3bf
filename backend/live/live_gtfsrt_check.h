/* live_gtfsrt_check: the MobilityData GTFS-Realtime validator's rules that
 * apply to our feeds, checked on the packed bytes against the static feed
 * (for the tests, and later a whole simulated morning). Pure: no I/O. */
#ifndef SHUTTLE_LIVE_GTFSRT_CHECK_H
#define SHUTTLE_LIVE_GTFSRT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "live_shape.h"
#include "trips.h"

struct live_gtfsrt_check_ctx {
    const struct trips_feed *feed;    /* the static feed: ids, sequences */
    const struct live_shapes *shapes; /* E029; NULL: stops joined by lines */
    const uint8_t *prev; /* the fetch of the same feed before, or NULL */
    size_t prevlen;
    int64_t now_ms; /* E050: no timestamp after it; <= 0: not checked */
};

/*
 * Check the FeedMessage BUF (LEN bytes). Returns NULL when it breaks none
 * of the rules below, else the id of the first broken one ("E022"; the
 * static string "DECODE" when it is no FeedMessage at all) with what and
 * where in ERR.
 *
 * Header: E038 version "1.0"/"2.0", E048 timestamp, E049 incrementality,
 * E039 no is_deleted in FULL_DATASET, E017/E018 against PREV. Every
 * timestamp and stop time: E001 POSIX seconds (2010..2100), E012 not
 * after the header, E050 not after NOW. TripUpdate: E003 trip_id, E004
 * route_id, E035 trip of that route, E024 direction_id, E020/E021/E023
 * start_time and start_date, E041 stop_time_updates unless CANCELED,
 * W001 timestamp, W002 vehicle id (not asked of a CANCELED trip: no bus
 * runs it), W009 schedule_relationships; per stop_time_update E040, E011
 * stop_id, E051 stop_sequence in the trip, E045 both name the same stop
 * time, E042 no times with NO_DATA, E043 a time unless SKIPPED/NO_DATA,
 * E044 an event has delay or time, E025 departure not before arrival,
 * E036 / E002 stop_sequence strictly increasing, E037 no repeated
 * stop_id, E022 times strictly increasing. VehiclePosition: E026
 * coordinates, E027 bearing, E028 within 1609 m of a stop, E029 within
 * 200 m of its trip's line (unless a DETOUR alert names the trip), the
 * trip and stop rules above, W001, W002, E052 unique vehicle ids, E047 a
 * vehicle and its trip paired as in the TripUpdates. Alert: E032 an
 * informed_entity, E033 each with a specifier, E004 its route_ids, E011
 * its stop_id and E003 its trip_id in the static feed, E031 a selector's
 * route_id the same as its trip's, E030 its trip of that route, E001 the
 * active_period times. (E034, agency_id, is not checked: the timetable
 * here has no agencies, and our alerts name none.)
 */
const char *live_gtfsrt_check(const struct live_gtfsrt_check_ctx *c,
                              const uint8_t *buf, size_t len, char *err,
                              size_t errlen);

#endif
