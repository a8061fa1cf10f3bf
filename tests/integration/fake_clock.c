/* fake_clock: an LD_PRELOAD shim that sets a program's system clock back,
 * as on an SBC without a real-time clock that boots in 1970. The clock
 * starts at $SHUTTLE_FAKE_WALL_S (Unix seconds) and runs at the real rate;
 * the monotonic clock is untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static time_t offset_s;
static int ready;

static void fake_init(void)
{
    const char *v = getenv("SHUTTLE_FAKE_WALL_S");
    struct timespec now;

    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(
        RTLD_NEXT, "clock_gettime");
    if (v && real_clock_gettime &&
        real_clock_gettime(CLOCK_REALTIME, &now) == 0)
        offset_s = now.tv_sec - (time_t)strtoll(v, NULL, 10);
    ready = 1;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc;

    if (!ready)
        fake_init();
    rc = real_clock_gettime(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec -= offset_s;
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    struct timespec ts;

    (void)tz;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
