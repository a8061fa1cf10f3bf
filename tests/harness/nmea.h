/* NMEA 0183 sentence generation ($GPRMC, $GPGGA) for tests and the
 * simulator. */
#ifndef SHUTTLE_NMEA_H
#define SHUTTLE_NMEA_H

#include <stddef.h>
#include <time.h>

/* XOR of the characters of BODY: after a leading '$' if any, up to a '*' or
 * the end of the string. */
int nmea_checksum(const char *body);

/* Write a complete "$GPRMC,...*HH\r\n" sentence into BUF (LEN bytes, NUL
 * terminated) for UTC time T plus MS milliseconds (0..999), position LAT/LON
 * in degrees (north/east positive), SPEED_KNOTS, TRACK in degrees true.
 * VALID 0 writes status V and mode indicator N. Latitude and longitude carry
 * 6 decimals of minutes (1.7e-8 degree). Returns the sentence length, or -1
 * when an argument is out of range or BUF is too small. */
int nmea_rmc(char *buf, size_t len, time_t t, int ms, double lat, double lon,
             double speed_knots, double track, int valid);

/* Write a complete "$GPGGA,...*HH\r\n" sentence: fix QUALITY (0 none,
 * 1 GPS, 2 DGPS), SATS used, HDOP, ALT metres above mean sea level; the geoid
 * separation is left empty. Returns as nmea_rmc(). */
int nmea_gga(char *buf, size_t len, time_t t, int ms, double lat, double lon,
             int quality, int sats, double hdop, double alt);

/* Field I (0: the sentence type) of sentence S into OUT (LEN bytes, NUL
 * terminated), without the checksum; "" when S has no such field. */
void nmea_field(const char *s, int i, char *out, size_t len);

/* "hhmmss[.fff]" as milliseconds of the day, or -1. */
long long nmea_tod_ms(const char *s);

/*
 * Sentence S with the date fields of an RMC or ZDA set to DAY (other
 * sentences are copied as they are), into OUT. The checksum is recomputed
 * only when S's own was right: a corrupt sentence stays corrupt. For
 * replaying old captures: gpsd 3.22 takes a date before its release for a
 * GPS week rollover and moves it 1024 weeks ahead. Returns 0, or -1 when
 * OUT is too small.
 */
int nmea_redate(const char *s, const struct tm *day, char *out, size_t len);

#endif
