/* svcday: the service day of an instant, a date in the feed's time zone. */
#ifndef SHUTTLE_SVCDAY_H
#define SHUTTLE_SVCDAY_H

#include <stdint.h>

/*
 * A service day is the local date, in one IANA time zone, of an instant
 * (GTFS: the time zone of the feed's agency, agency_timezone). Days are
 * counted from 1970-01-01 as clock_text_day prints them.
 *
 * The offsets come from the C library's tz database (TZif files under
 * $TZDIR or /usr/share/zoneinfo), the same files PostgreSQL reads on a
 * Debian system. To use them the functions point TZ at the zone for the
 * duration of the call and restore it after: that is process-global, so
 * they must not run while another thread converts local times. Both
 * daemons are single-threaded. The struct caches the last day's bounds,
 * so the per-record cost is two comparisons and the TZ swap happens once
 * a day or when records of another day arrive.
 */

#define SVCDAY_ZONE_MAX 64

enum svcday_err {
    SVCDAY_OK = 0,
    SVCDAY_ERR_ZONE = -1,  /* not a zone name, or no such zone file */
    SVCDAY_ERR_DATE = -2,  /* not a YYYY-MM-DD date */
    SVCDAY_ERR_NOMEM = -3, /* the environment could not be changed */
};

/* Members are the module's own; embed it, do not touch them. */
struct svcday {
    char zone[SVCDAY_ZONE_MAX];
    int64_t lo_ms, hi_ms; /* cached: [lo, hi) is local day `day` */
    int32_t day;
};

/*
 * Set s to the zone `zone` ("Asia/Seoul", "UTC"): a relative name without
 * "..", whose file exists in the tz database. Returns SVCDAY_OK or
 * SVCDAY_ERR_ZONE (s is then unchanged).
 */
int svcday_init(struct svcday *s, const char *zone);

/* The zone s was set to. */
const char *svcday_zone(const struct svcday *s);

/* The service day of t_ms (Unix ms) in *day. Returns SVCDAY_OK or
 * SVCDAY_ERR_NOMEM. */
int svcday_day(struct svcday *s, int64_t t_ms, int32_t *day);

/* The first instant (Unix ms) of service day `day`: local midnight, or
 * the end of the gap when a clock change skips midnight. */
int svcday_start_ms(struct svcday *s, int32_t day, int64_t *ms);

/*
 * The instant GTFS times of service day `day` count from: noon minus
 * 12 h (GTFS reference, "Field Types: Time"). It is local midnight except
 * on the days a clock change falls between midnight and noon, where it is
 * an hour off, so that "12:00:00" is always noon.
 */
int svcday_gtfs_base_ms(struct svcday *s, int32_t day, int64_t *ms);

/* "YYYY-MM-DD" (exactly, a real date) to days since 1970-01-01. Returns
 * SVCDAY_OK or SVCDAY_ERR_DATE. */
int svcday_parse(const char *text, int32_t *day);

#endif
