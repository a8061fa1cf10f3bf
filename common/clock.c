/* clock: wall and monotonic time in the units the wire format uses. */
#include "clock.h"

#include <string.h>
#include <time.h>

int64_t clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *clock_text_ms(char *buf, int64_t ms)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&s, &tm);
    n = strftime(buf, CLOCK_TEXT_MAX, "%Y-%m-%d %H:%M:%S", &tm);
    buf[n++] = '.';
    buf[n++] = (char)('0' + frac / 100);
    buf[n++] = (char)('0' + frac / 10 % 10);
    buf[n++] = (char)('0' + frac % 10);
    memcpy(buf + n, "+00", 4);
    return buf;
}

char *clock_text_day(char *buf, int64_t days)
{
    time_t s = (time_t)(days * 86400);
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, CLOCK_TEXT_MAX, "%Y-%m-%d", &tm);
    return buf;
}

int64_t clock_backoff_next(int64_t *backoff_ms, int64_t max_ms)
{
    *backoff_ms = *backoff_ms ? *backoff_ms * 2 : 500;
    if (*backoff_ms > max_ms)
        *backoff_ms = max_ms;
    return *backoff_ms;
}
