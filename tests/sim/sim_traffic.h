/* sim_traffic: how slow each road segment (a stop-to-stop leg) is at any
 * moment of a simulated day: the time-of-day curve, a per-segment
 * personality that is the same every day, a per-segment day factor,
 * congestion correlated in time, signals and incidents. */
#ifndef SHUTTLE_SIM_TRAFFIC_H
#define SHUTTLE_SIM_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

#include "sim_feed.h"
#include "sim_rng.h"

enum sim_traffic_level {
    SIM_TRAFFIC_OFF,    /* the simulator as before: one city-wide curve */
    SIM_TRAFFIC_NORMAL, /* the model below with its default spreads */
    SIM_TRAFFIC_HEAVY   /* stronger peaks, more congestion, more red lights */
};

#define SIM_TRAFFIC_MAX_INCIDENTS 8
#define SIM_TRAFFIC_ID_MAX 64

/* One segment FROM -> TO (stop ids; both empty: a random segment) SLOW
 * times slower from T (seconds after midnight; < 0: a random time between
 * 07:00 and 19:00) for DUR seconds (<= 0: a random 30 to 60 min). */
struct sim_traffic_incident {
    char from[SIM_TRAFFIC_ID_MAX], to[SIM_TRAFFIC_ID_MAX];
    double t, dur, slow;
};

struct sim_traffic_conf {
    int level;     /* enum sim_traffic_level */
    uint64_t seed; /* the run's seed: personalities come from it alone */
    uint64_t day;  /* which day (a date as YYYYMMDD, or an index) */
    int bunching;  /* boardings follow the actual headway (sim_plan_make) */
    struct sim_traffic_incident incidents[SIM_TRAFFIC_MAX_INCIDENTS];
    int nincidents;
};

struct sim_traffic;

/* Defaults for LEVEL: bunching on unless off, no incidents. */
void sim_traffic_conf_init(struct sim_traffic_conf *c, int level, uint64_t seed,
                           uint64_t day);

/*
 * Build the model of C's day for the segments of feed F (every pair of
 * consecutive stops of its trips, by stop id, so two routes on the same
 * stops share their congestion). Every random draw comes from streams of
 * its own seeded from (seed, segment) and (seed, day, segment); nothing
 * is drawn from the caller's generators. Returns 0 and *OUT (NULL when
 * C's level is off), or -1 with a message in ERR (an incident on a
 * segment no trip drives, out of memory).
 */
int sim_traffic_make(const struct sim_traffic_conf *c, const struct sim_feed *f,
                     struct sim_traffic **out, char *err, size_t errlen);
void sim_traffic_free(struct sim_traffic *tm);

/* The city-wide time-of-day curve (the simulator's only traffic when
 * off): 1 at night, about 1.15 at 07:55 and 1.2 at 18:05. */
double sim_traffic_tod(double secs);

/* The segment from stop index A to stop index B of the feed, or -1. */
int sim_traffic_segment(const struct sim_traffic *tm, int a, int b);
int sim_traffic_nsegments(const struct sim_traffic *tm);
/* The stop id at the start (END 0) or the end (END 1) of segment SEG, F
 * the feed the model was made from; "" when SEG is not one. */
const char *sim_traffic_segment_stop(const struct sim_traffic *tm, int seg,
                                     int end, const struct sim_feed *f);

/*
 * The travel-time factor of segment SEG for a bus entering it at T
 * (seconds after midnight), relative to the timetable's free running:
 * time of day shaped by the segment's personality, times its day factor,
 * its congestion (smooth in t, the same for every bus), and an incident's
 * slowdown while one is on. Pure: no draws. TM NULL: 1. SEG < 0: the
 * time-of-day curve alone.
 */
double sim_traffic_factor(const struct sim_traffic *tm, int seg, double t);

/* Seconds a bus waits at the signals of segment SEG on one passage at T,
 * drawn from R (the caller's stream: each passage is its own draw). TM
 * NULL or SEG < 0: 0 and no draw. */
double sim_traffic_signals(const struct sim_traffic *tm, int seg, double t,
                           struct sim_rng *r);

/* Whether plans with TM model bunching (see sim_plan_make). */
int sim_traffic_bunching(const struct sim_traffic *tm);

/* The incidents as placed (random ones resolved): segment, start, end. */
int sim_traffic_incidents(const struct sim_traffic *tm, int i, int *seg,
                          double *t0, double *t1);

#endif
