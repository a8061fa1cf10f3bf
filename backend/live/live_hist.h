/* live_hist: what past days teach about each segment and stop — running
 * times by time-of-day bucket and day type, dwell and passenger flows by
 * stop and hour — built from stop visits, pure (no SQL, no I/O). */
#ifndef SHUTTLE_LIVE_HIST_H
#define SHUTTLE_LIVE_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"

/* Day types the statistics are kept apart by. */
enum live_hist_day {
    LIVE_HIST_WEEKDAY = 0,
    LIVE_HIST_SATURDAY,
    LIVE_HIST_SUNDAY, /* Sundays and holidays */
    LIVE_HIST_NDAYS,
};

#define LIVE_HIST_BUCKET_S 1800 /* time-of-day bucket of running times */
#define LIVE_HIST_NBUCKETS 60   /* 30 h: GTFS times may pass midnight */

enum live_hist_err {
    LIVE_HIST_OK = 0,
    LIVE_HIST_ERR_NOMEM,
    LIVE_HIST_ERR_ARG, /* index out of the feed, or a day not begun */
};

/* One stored stop visit of a past day (a row of stop_visits joined to the
 * trip it was assigned to). */
struct live_hist_visit {
    int trip, pos;          /* trip index in the feed, stop position */
    int64_t arr_ms, dep_ms; /* -1 unknown */
    int boarded, alighted;  /* -1 unknown */
    int load_after;         /* -1 unknown */
};

/* Where a statistic came from, best first. */
enum live_hist_level {
    LIVE_HIST_BUCKET = 0, /* this bucket */
    LIVE_HIST_NEIGHBOUR,  /* the buckets either side */
    LIVE_HIST_ALLDAY,     /* the whole day of this day type */
    LIVE_HIST_ANYDAY,     /* any day type */
    LIVE_HIST_TIMETABLE,  /* nothing learnt: the schedule */
};

/* A segment's running time (departure at pos to arrival at pos + 1). */
struct live_hist_seg {
    double med_s, q10_s, q90_s; /* median and 10/90 % quantiles */
    double mean_s, var_s2;      /* over the samples (the Kalman baseline) */
    double exp_s; /* expected: the mean with the outer 5 % each side clipped */
    int n;        /* samples behind it; 0 at TIMETABLE */
    enum live_hist_level level;
};

struct live_hist;

/* A history for the feed F (which must outlive it, and whose trips'
 * patterns are final). NULL when out of memory. */
struct live_hist *live_hist_new(const struct trips_feed *f);
void live_hist_free(struct live_hist *h);

/* Start a past day: its visits follow with live_hist_add_visit. DAY_MS is
 * what that day's GTFS times count from (trips_feed.day_ms of that day). */
void live_hist_day_begin(struct live_hist *h, int64_t day_ms,
                         enum live_hist_day day);

/*
 * Add one visit of the current day. A trip's visits must come in stop
 * order; a segment's running time is taken from two consecutive positions
 * of the same trip. Times that are absurd (negative, or over 2 h for one
 * segment) are ignored, not fatal. Returns LIVE_HIST_OK,
 * LIVE_HIST_ERR_ARG (trip/pos outside the feed, no day begun; the visit is
 * dropped) or LIVE_HIST_ERR_NOMEM.
 */
enum live_hist_err live_hist_add_visit(struct live_hist *h,
                                       const struct live_hist_visit *v);

/* Compute the statistics from all visits added so far. Call after the last
 * day and before any query; may be called again after more days. Returns
 * LIVE_HIST_OK or LIVE_HIST_ERR_NOMEM. */
enum live_hist_err live_hist_finish(struct live_hist *h);

/* The same in steps, so that a caller's loop never waits for all of it:
 * the statistics of segment positions FROM .. FROM + N - 1 (of
 * live_hist_nsegments(); beyond it is ignored). Once every position was
 * done the result is live_hist_finish's. Returns LIVE_HIST_OK,
 * LIVE_HIST_ERR_ARG (FROM negative) or LIVE_HIST_ERR_NOMEM. */
enum live_hist_err live_hist_finish_range(struct live_hist *h, int from, int n);

/* Running time of TRIP's segment POS -> POS + 1 for a departure TOD_S
 * seconds into the service day, falling back bucket -> neighbours -> all
 * day -> any day type -> timetable. */
void live_hist_segment(const struct live_hist *h, int trip, int pos,
                       enum live_hist_day day, int32_t tod_s,
                       struct live_hist_seg *out);

/* Expected dwell (s) at TRIP's stop POS in the hour of TOD_S: the clipped
 * mean, so the visits that drove past (0 s) weigh as often as they happen;
 * the timetable's dwell when nothing was learnt. */
double live_hist_dwell(const struct live_hist *h, int trip, int pos,
                       enum live_hist_day day, int32_t tod_s);

/* Turnaround (s) before TRIP when its bus comes late from the trip before
 * it in the block: from that trip's last arrival to this one's departure
 * (rest, the drive to the first stop, boarding), the median over days
 * the departure was later than scheduled, when the turnaround and not the
 * timetable set it. -1 when fewer than 3 such days were learnt. */
double live_hist_turn(const struct live_hist *h, int trip);

/* Mean boardings and alightings at a stop in the hour of TOD_S (0 when
 * nothing was learnt). */
void live_hist_flows(const struct live_hist *h, int stop,
                     enum live_hist_day day, int32_t tod_s, double *boarded,
                     double *alighted);

/* Index of TRIP's segment POS -> POS + 1 among all pattern positions
 * (trips of one pattern share it), 0 .. live_hist_nsegments() - 1: lets a
 * caller keep its own per-segment state. */
int live_hist_segindex(const struct live_hist *h, int trip, int pos);
int live_hist_nsegments(const struct live_hist *h);

/* Days added so far. */
int live_hist_ndays(const struct live_hist *h);

#endif
