/* gtime: record timestamps from GPS time, carried on the monotonic clock. */
#ifndef SHUTTLE_GTIME_H
#define SHUTTLE_GTIME_H

#include <stdint.h>

#include "wire.h"

/*
 * The SBC may have no real-time clock, so its system clock can be years off
 * until NTP runs (if ever). GPS time is the truth; between fixes we carry the
 * last fix's time forward on CLOCK_MONOTONIC, which never jumps. Only before
 * the first fix do we fall back to the system clock, and say so.
 */
struct gtime {
    int have_fix;
    int64_t fix_ms;  /* GPS time of the last fix */
    int64_t mono_ms; /* CLOCK_MONOTONIC at that fix */
};

/* A time before 2020-01-01 means a clock is not set. */
#define GTIME_CLOCK_SET_MS 1577836800000LL
/* GPS week rollover: the 10-bit week number wraps every 1024 weeks. */
#define GTIME_GPS_EPOCH_MS (1024LL * 7 * 86400 * 1000)
/* A corrected fix must land this close to a set system clock. */
#define GTIME_ROLLOVER_NEAR_MS (86400LL * 1000)

void gtime_init(struct gtime *g);

/* Record a fix: its GPS time and the monotonic time it was read. */
void gtime_fix(struct gtime *g, int64_t fix_ms, int64_t mono_ms);

/* Best estimate of now, and where it came from (*src may be NULL). */
int64_t gtime_now(const struct gtime *g, int64_t mono_ms, int64_t wall_ms,
                  enum wire_time_source *src);

/*
 * GPS week rollover: a receiver (or gpsd's guess of the era) can put fixes
 * 1024 weeks off. With the system clock `wall_ms` set, a fix far from it is
 * moved by 1024 weeks when that lands within GTIME_ROLLOVER_NEAR_MS of the
 * clock; a fix before 2020 is moved forward once, whatever the clock. Anything
 * else is returned as is (the caller's validation then judges it). Returns
 * the time to use; *moved says whether it was corrected.
 */
int64_t gtime_rollover(int64_t fix_ms, int64_t wall_ms, int *moved);

#endif
