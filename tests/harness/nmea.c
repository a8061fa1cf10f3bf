/* NMEA 0183 sentence generation ($GPRMC, $GPGGA) for tests and the
 * simulator. */
#include "nmea.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int nmea_checksum(const char *body)
{
    int sum = 0;

    if (*body == '$')
        body++;
    for (; *body != '\0' && *body != '*'; body++)
        sum ^= (unsigned char)*body;
    return sum;
}

/* "ddmm.mmmmmm,N" (DEG_DIGITS 2) or "dddmm.mmmmmm,E" (3). Rounding is done
 * on integer millionths of a minute so 59.9999999' carries into the degrees
 * instead of printing 60.000000. */
static int format_angle(char *buf, size_t len, double v, int deg_digits,
                        char pos, char neg)
{
    const long long per_deg = 60LL * 1000000LL;
    long long total = llround(fabs(v) * (double)per_deg);
    long long deg = total / per_deg;
    long long rest = total % per_deg;
    int n;

    n = snprintf(buf, len, "%0*lld%02lld.%06lld,%c", deg_digits, deg,
                 rest / 1000000LL, rest % 1000000LL, v < 0 ? neg : pos);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static int format_time(char *buf, size_t len, time_t t, int ms, struct tm *tm)
{
    int n;

    if (ms < 0 || ms > 999 || gmtime_r(&t, tm) == NULL)
        return -1;
    n = snprintf(buf, len, "%02d%02d%02d.%03d", tm->tm_hour, tm->tm_min,
                 tm->tm_sec, ms);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

/* Append "*HH\r\n" to the sentence "$BODY" in BUF. */
static int finish(char *buf, size_t len, const char *body)
{
    int n = snprintf(buf, len, "$%s*%02X\r\n", body, nmea_checksum(body));

    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static int check_position(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon) && fabs(lat) <= 90.0 &&
           fabs(lon) <= 180.0;
}

int nmea_rmc(char *buf, size_t len, time_t t, int ms, double lat, double lon,
             double speed_knots, double track, int valid)
{
    char hms[16], slat[24], slon[24], body[128];
    struct tm tm;
    int n;

    if (!check_position(lat, lon) || !isfinite(speed_knots) ||
        speed_knots < 0 || !isfinite(track) || track < 0 || track >= 360)
        return -1;
    if (format_time(hms, sizeof hms, t, ms, &tm) < 0 ||
        format_angle(slat, sizeof slat, lat, 2, 'N', 'S') < 0 ||
        format_angle(slon, sizeof slon, lon, 3, 'E', 'W') < 0)
        return -1;
    n = snprintf(body, sizeof body,
                 "GPRMC,%s,%c,%s,%s,%.3f,%.2f,%02d%02d%02d,,,%c", hms,
                 valid ? 'A' : 'V', slat, slon, speed_knots, track, tm.tm_mday,
                 tm.tm_mon + 1, tm.tm_year % 100, valid ? 'A' : 'N');
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    return finish(buf, len, body);
}

int nmea_gga(char *buf, size_t len, time_t t, int ms, double lat, double lon,
             int quality, int sats, double hdop, double alt)
{
    char hms[16], slat[24], slon[24], body[128];
    struct tm tm;
    int n;

    if (!check_position(lat, lon) || quality < 0 || quality > 8 || sats < 0 ||
        sats > 99 || !isfinite(hdop) || hdop < 0 || !isfinite(alt) ||
        fabs(alt) > 100000)
        return -1;
    if (format_time(hms, sizeof hms, t, ms, &tm) < 0 ||
        format_angle(slat, sizeof slat, lat, 2, 'N', 'S') < 0 ||
        format_angle(slon, sizeof slon, lon, 3, 'E', 'W') < 0)
        return -1;
    n = snprintf(body, sizeof body, "GPGGA,%s,%s,%s,%d,%02d,%.1f,%.1f,M,,M,,",
                 hms, slat, slon, quality, sats, hdop, alt);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    return finish(buf, len, body);
}

void nmea_field(const char *s, int i, char *out, size_t len)
{
    size_t n;

    while (i-- > 0 && s != NULL) {
        s = strchr(s, ',');
        if (s != NULL)
            s++;
    }
    if (s == NULL) {
        out[0] = '\0';
        return;
    }
    n = strcspn(s, ",*\r\n");
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

long long nmea_tod_ms(const char *s)
{
    int h, m;
    double sec;

    if (strlen(s) < 6 || sscanf(s, "%2d%2d%lf", &h, &m, &sec) != 3)
        return -1;
    return (long long)h * 3600000 + m * 60000 + llround(sec * 1000);
}

/* S with field I replaced by VALUE, into OUT; see nmea_redate for the
 * checksum. Returns 0, or -1 when OUT is too small. */
static int nmea_replace_field(const char *s, int i, const char *value,
                              char *out, size_t len)
{
    const char *start = s, *end, *star = strchr(s, '*');
    unsigned int sum;
    int ok, n;
    char body[1024];

    ok = star != NULL && sscanf(star + 1, "%2X", &sum) == 1 &&
         (int)sum == nmea_checksum(s);
    while (i-- > 0 && start != NULL) {
        start = strchr(start, ',');
        if (start != NULL)
            start++;
    }
    if (start == NULL || star == NULL || start > star) {
        n = snprintf(out, len, "%s", s);
        return n < 0 || (size_t)n >= len ? -1 : 0;
    }
    end = start + strcspn(start, ",*");
    n = snprintf(body, sizeof body, "%.*s%s%.*s", (int)(start - s), s, value,
                 (int)(star - end), end);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    if (ok)
        n = snprintf(out, len, "%s*%02X", body,
                     (unsigned)(nmea_checksum(body) & 0xff));
    else
        n = snprintf(out, len, "%s%s", body, star);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int nmea_redate(const char *s, const struct tm *day, char *out, size_t len)
{
    char v[16], tmp[1024];
    int n;

    if (strlen(s) >= 7 && strncmp(s + 3, "RMC,", 4) == 0) {
        snprintf(v, sizeof v, "%02d%02d%02d", day->tm_mday % 100,
                 (day->tm_mon + 1) % 100, day->tm_year % 100);
        return nmea_replace_field(s, 9, v, out, len);
    }
    if (strlen(s) >= 7 && strncmp(s + 3, "ZDA,", 4) == 0) {
        snprintf(v, sizeof v, "%02d", day->tm_mday % 100);
        if (nmea_replace_field(s, 2, v, tmp, sizeof tmp) != 0)
            return -1;
        snprintf(v, sizeof v, "%02d", (day->tm_mon + 1) % 100);
        if (nmea_replace_field(tmp, 3, v, out, len) != 0)
            return -1;
        snprintf(v, sizeof v, "%04d", (day->tm_year + 1900) % 10000);
        if (nmea_replace_field(out, 4, v, tmp, sizeof tmp) != 0)
            return -1;
        s = tmp;
    }
    n = snprintf(out, len, "%s", s);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
