/* svcday: the service day of an instant, a date in the feed's time zone. */
#include "svcday.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Offsets of real zones stay within ±26 h of UTC: a bound for searches. */
#define SVCDAY__SPAN_S (30 * 3600LL)

struct svcday__saved {
    char *tz; /* the TZ to put back, NULL when TZ was unset */
};

/* Point TZ at the zone's file for the conversions that follow. */
static int svcday__enter(const char *zone, struct svcday__saved *sv)
{
    char spec[SVCDAY_ZONE_MAX + 1];
    const char *old = getenv("TZ");

    sv->tz = NULL;
    if (old && !(sv->tz = strdup(old)))
        return SVCDAY_ERR_NOMEM;
    /* The colon says "a file of the tz database", never a POSIX rule. */
    snprintf(spec, sizeof spec, ":%s", zone);
    if (setenv("TZ", spec, 1) != 0) {
        free(sv->tz);
        return SVCDAY_ERR_NOMEM;
    }
    tzset();
    return SVCDAY_OK;
}

static void svcday__leave(struct svcday__saved *sv)
{
    if (sv->tz)
        setenv("TZ", sv->tz, 1);
    else
        unsetenv("TZ");
    free(sv->tz);
    sv->tz = NULL;
    tzset();
}

/* Local wall-clock seconds (as if UTC) of Unix second s, in the zone
 * entered. */
static long long svcday__local(long long s)
{
    time_t t = (time_t)s;
    struct tm tm;

    if (!localtime_r(&t, &tm))
        return s;
    return s + tm.tm_gmtoff;
}

static long long svcday__floordiv(long long a, long long b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The first Unix second whose local time is at or after `target` local
 * seconds. A binary search rather than target minus an offset, so a gap
 * (a clock that skips the target) lands at its end. */
static long long svcday__first_at(long long target)
{
    long long lo = target - SVCDAY__SPAN_S, hi = target + SVCDAY__SPAN_S;

    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;

        if (svcday__local(mid) >= target)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int svcday__name_ok(const char *zone)
{
    size_t n = strlen(zone);

    if (n == 0 || n >= SVCDAY_ZONE_MAX || zone[0] == '/' || strstr(zone, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = zone[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
              c == '+' || c == '.'))
            return 0;
    }
    return 1;
}

int svcday_init(struct svcday *s, const char *zone)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    struct stat st;

    if (!zone || !svcday__name_ok(zone))
        return SVCDAY_ERR_ZONE;
    /* glibc quietly takes an unknown zone for UTC: look for the file. */
    snprintf(path, sizeof path, "%s/%s",
             dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return SVCDAY_ERR_ZONE;
    memset(s, 0, sizeof *s);
    memcpy(s->zone, zone, strlen(zone) + 1);
    s->lo_ms = INT64_MAX;
    s->hi_ms = INT64_MIN;
    return SVCDAY_OK;
}

const char *svcday_zone(const struct svcday *s)
{
    return s->zone;
}

int svcday_day(struct svcday *s, int64_t t_ms, int32_t *day)
{
    struct svcday__saved sv;
    long long t, d;
    int rc;

    if (t_ms >= s->lo_ms && t_ms < s->hi_ms) {
        *day = s->day;
        return SVCDAY_OK;
    }
    if ((rc = svcday__enter(s->zone, &sv)) != SVCDAY_OK)
        return rc;
    t = svcday__floordiv(t_ms, 1000);
    d = svcday__floordiv(svcday__local(t), 86400);
    s->day = (int32_t)d;
    s->lo_ms = svcday__first_at(d * 86400) * 1000;
    s->hi_ms = svcday__first_at((d + 1) * 86400) * 1000;
    svcday__leave(&sv);
    /* A clock set back across midnight gives an hour two dates; the
     * cache holds only a plain [start, next start). */
    if (!(t_ms >= s->lo_ms && t_ms < s->hi_ms)) {
        s->lo_ms = INT64_MAX;
        s->hi_ms = INT64_MIN;
    }
    *day = (int32_t)d;
    return SVCDAY_OK;
}

int svcday_start_ms(struct svcday *s, int32_t day, int64_t *ms)
{
    struct svcday__saved sv;
    int rc;

    if ((rc = svcday__enter(s->zone, &sv)) != SVCDAY_OK)
        return rc;
    *ms = (int64_t)svcday__first_at((long long)day * 86400) * 1000;
    svcday__leave(&sv);
    return SVCDAY_OK;
}

int svcday_gtfs_base_ms(struct svcday *s, int32_t day, int64_t *ms)
{
    struct svcday__saved sv;
    int rc;

    if ((rc = svcday__enter(s->zone, &sv)) != SVCDAY_OK)
        return rc;
    *ms = ((int64_t)svcday__first_at((long long)day * 86400 + 43200) - 43200) *
          1000;
    svcday__leave(&sv);
    return SVCDAY_OK;
}

int svcday_parse(const char *text, int32_t *day)
{
    struct tm tm, back;
    int y, m, d, n = 0;
    time_t t;

    if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || text[n] != '\0' ||
        n != 10 || m < 1 || m > 12 || d < 1 || d > 31)
        return SVCDAY_ERR_DATE;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    t = timegm(&tm); /* normalises tm: compare with d and m */
    gmtime_r(&t, &back);
    if (back.tm_mday != d || back.tm_mon != m - 1)
        return SVCDAY_ERR_DATE; /* 2026-02-30 */
    *day = (int32_t)(t / 86400);
    return SVCDAY_OK;
}
