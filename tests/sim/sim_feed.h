/* sim_feed: the service day's timetable, read from the gtfs_* tables that
 * `shuttle-backend --load-gtfs` filled (no CSV parsing here). */
#ifndef SHUTTLE_SIM_FEED_H
#define SHUTTLE_SIM_FEED_H

#include <stddef.h>
#include <time.h>

#include "sim_geo.h"

struct sim_stop {
    char *stop_id;
    double lat, lon;
};

/* One stop of one trip: times in seconds after the service day's midnight
 * (may pass 86400), DIST along the trip's line in metres. */
struct sim_stop_time {
    int stop; /* index into feed->stops */
    int seq;  /* GTFS stop_sequence */
    int arr, dep;
    double dist;
};

struct sim_trip {
    char *trip_id, *route_id, *block_id;
    int direction;
    int line;          /* index into feed->lines */
    int first_st, nst; /* range of feed->st */
    int block;         /* index of its block = bus */
};

struct sim_feed {
    char tz[64];   /* agency_timezone */
    char date[11]; /* the service day, YYYY-MM-DD */
    time_t day0;   /* UTC of the service day's "midnight" */
    struct sim_stop *stops;
    int nstops;
    struct sim_trip *trips; /* by block, then first departure */
    int ntrips;
    struct sim_stop_time *st;
    int nst;
    /* Lines (shapes, or the stops joined when a trip has no shape): points
     * in pts_*, each line a range of them. */
    double *pts_lat, *pts_lon, *pts_d;
    int npts;
    struct sim_line *lines;
    char **line_ids;
    int nlines;
    char **blocks; /* block ids in order; bus i drives blocks[i] */
    int nblocks;
};

/* Read the trips running on service day DATE ("YYYY-MM-DD"; NULL: today
 * in the feed's zone, kept in the feed's `date`) from the database at
 * CONNINFO. Returns 0 and a feed the caller frees with
 * sim_feed_free, or -1 with a message in ERR. */
int sim_feed_load(const char *conninfo, const char *date, struct sim_feed **out,
                  char *err, size_t errlen);
void sim_feed_free(struct sim_feed *f);

/* Index of the trip TRIP_ID in F, or -1. */
int sim_feed_trip(const struct sim_feed *f, const char *trip_id);

/* The stop time J (0-based) of trip T. */
static inline const struct sim_stop_time *
sim_feed_st(const struct sim_feed *f, const struct sim_trip *t, int j)
{
    return &f->st[t->first_st + j];
}

#endif
