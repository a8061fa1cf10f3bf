/* fake_clock: an LD_PRELOAD shim that gives a program a wall clock of the
 * test's choosing: as on an SBC without a real-time clock that boots in
 * 1970, or as the simulated day a faster-than-real simulator drives.
 *
 *   SHUTTLE_FAKE_WALL_S   the fake wall clock's reading (Unix seconds,
 *                         fractions allowed) at the anchor
 *   SHUTTLE_FAKE_REAL_MS  the anchor: the real wall time (Unix ms) at which
 *                         the fake clock reads SHUTTLE_FAKE_WALL_S; unset,
 *                         the program's first clock read. A fixed anchor
 *                         lets a restarted program find the clock where it
 *                         would have been had it kept running.
 *   SHUTTLE_FAKE_RATE     fake seconds per real second (default 1)
 *
 * Only CLOCK_REALTIME (and its coarse variant) is faked. CLOCK_MONOTONIC
 * stays real on purpose: a daemon uses it for poll() timeouts, keepalives,
 * back-offs and its 1 s tick, all of which poll() and the peers (broker,
 * PostgreSQL) measure in real time, so scaling it would only make the
 * daemon disagree with its own poll() and its peers. What must run at the
 * simulator's speed is what is compared with fix times: the wall clock
 * (shuttle-live's 90 s stale rule is now - fix time, both simulated). The
 * price is that a once-a-second tick lands every RATE simulated seconds. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long double fake0_ns, real0_ns, rate = 1;
static int active, ready;

static long double fake_ns_of(const struct timespec *ts)
{
    return (long double)ts->tv_sec * 1e9L + (long double)ts->tv_nsec;
}

static void fake_init(void)
{
    const char *wall = getenv("SHUTTLE_FAKE_WALL_S");
    const char *real = getenv("SHUTTLE_FAKE_REAL_MS");
    const char *r = getenv("SHUTTLE_FAKE_RATE");
    struct timespec now;

    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(
        RTLD_NEXT, "clock_gettime");
    if (wall && real_clock_gettime &&
        real_clock_gettime(CLOCK_REALTIME, &now) == 0) {
        fake0_ns = strtold(wall, NULL) * 1e9L;
        real0_ns = real ? strtold(real, NULL) * 1e6L : fake_ns_of(&now);
        if (r && strtold(r, NULL) > 0)
            rate = strtold(r, NULL);
        active = 1;
    }
    ready = 1;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc;

    if (!ready)
        fake_init();
    rc = real_clock_gettime(id, ts);
    if (rc == 0 && active &&
        (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long double ns = fake0_ns + (fake_ns_of(ts) - real0_ns) * rate;
        long long s = (long long)(ns / 1e9L);

        if ((long double)s * 1e9L > ns)
            s--; /* floor, for clocks before 1970 */
        ts->tv_sec = (time_t)s;
        ts->tv_nsec = (long)(ns - (long double)s * 1e9L);
        if (ts->tv_nsec >= 1000000000L) {
            ts->tv_sec++;
            ts->tv_nsec -= 1000000000L;
        }
    }
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
