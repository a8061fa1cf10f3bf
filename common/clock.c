/* clock: wall and monotonic time in the units the wire format uses. */
#include "clock.h"

#include <stdio.h>
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
    /* Floor division without forming ms - 999, which overflows at
     * INT64_MIN. */
    int64_t s = ms / 1000;
    int frac = (int)(ms % 1000);
    time_t ts;
    struct tm tm;
    char text[96];
    size_t n;

    if (frac < 0) {
        frac += 1000;
        s--;
    }
    ts = (time_t)s;
    if (!gmtime_r(&ts, &tm)) {
        /* Only where the year does not fit an int: not a time anyone
         * observed, and no text a database reads as one. */
        snprintf(buf, CLOCK_TEXT_MAX, "out-of-range");
        return buf;
    }
    /* snprintf, not strftime plus appends: a year of nine digits and a
     * sign (int64 ms spans +-292 million years) must still fit. */
    snprintf(text, sizeof text, "%04lld-%02d-%02d %02d:%02d:%02d.%03d+00",
             (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    /* The compiler cannot know gmtime's fields are small; they are, so
     * this copy never cuts. */
    n = strlen(text);
    if (n >= CLOCK_TEXT_MAX)
        n = CLOCK_TEXT_MAX - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
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
