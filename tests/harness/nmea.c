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
