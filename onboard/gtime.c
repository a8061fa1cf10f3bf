/* gtime: record timestamps from GPS time, carried on the monotonic clock. */
#include "gtime.h"

#include <stdlib.h>

void gtime_init(struct gtime *g)
{
    g->have_fix = 0;
    g->fix_ms = 0;
    g->mono_ms = 0;
}

void gtime_fix(struct gtime *g, int64_t fix_ms, int64_t mono_ms)
{
    g->have_fix = 1;
    g->fix_ms = fix_ms;
    g->mono_ms = mono_ms;
}

int64_t gtime_now(const struct gtime *g, int64_t mono_ms, int64_t wall_ms,
                  enum wire_time_source *src)
{
    if (!g->have_fix) {
        if (src)
            *src = WIRE_TIME_SYSTEM;
        return wall_ms;
    }
    if (src)
        *src = WIRE_TIME_CARRIED;
    return g->fix_ms + (mono_ms - g->mono_ms);
}

int64_t gtime_rollover(int64_t fix_ms, int64_t wall_ms, int *moved)
{
    *moved = 0;
    /* Once: a receiver that has missed one rollover shows 2006 for 2026. */
    if (fix_ms < GTIME_CLOCK_SET_MS) {
        fix_ms += GTIME_GPS_EPOCH_MS;
        *moved = 1;
    }
    if (wall_ms < GTIME_CLOCK_SET_MS)
        return fix_ms;
    if (fix_ms - wall_ms > GTIME_ROLLOVER_NEAR_MS &&
        llabs(fix_ms - GTIME_GPS_EPOCH_MS - wall_ms) <=
            GTIME_ROLLOVER_NEAR_MS) {
        *moved = 1;
        return fix_ms - GTIME_GPS_EPOCH_MS;
    }
    if (wall_ms - fix_ms > GTIME_ROLLOVER_NEAR_MS &&
        llabs(fix_ms + GTIME_GPS_EPOCH_MS - wall_ms) <=
            GTIME_ROLLOVER_NEAR_MS) {
        *moved = 1;
        return fix_ms + GTIME_GPS_EPOCH_MS;
    }
    return fix_ms;
}
