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

void gtime_init(struct gtime *g);

/* Record a fix: its GPS time and the monotonic time it was read. */
void gtime_fix(struct gtime *g, int64_t fix_ms, int64_t mono_ms);

/* Best estimate of now, and where it came from (*src may be NULL). */
int64_t gtime_now(const struct gtime *g, int64_t mono_ms, int64_t wall_ms,
                  enum wire_time_source *src);

#endif
