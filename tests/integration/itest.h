/* itest: small helpers the integration tests share: clocks, daemon logs,
 * spool size, fixes into gpsd, passenger-count episodes out of PostgreSQL. */
#ifndef SHUTTLE_ITEST_H
#define SHUTTLE_ITEST_H

#include <stddef.h>
#include <stdint.h>

struct harness_gpsd;
struct harness_pg;

/* CLOCK_REALTIME and CLOCK_MONOTONIC in milliseconds. */
int64_t itest_wall_ms(void);
int64_t itest_mono_ms(void);

/* Lines of the log at PATH that contain NEEDLE (0 when it cannot be read). */
int itest_log_count(const char *path, const char *needle);

/* The time stamp (Unix ms, from the "YYYY-MM-DDTHH:MM:SS.mmmZ" our daemons
 * start each line with) of the NTH (from 1) line of PATH containing NEEDLE,
 * or -1 when there is no such line. */
int64_t itest_log_time(const char *path, const char *needle, int nth);

/* What itest_http read: valid until the next call (one static buffer). */
#define ITEST_HTTP_MAX (1 << 20)
struct itest_http_reply {
    int status;       /* -1: nothing (or nothing HTTP) answered */
    const char *head; /* status line and headers, CRLF-separated */
    const char *body; /* LEN bytes, NUL-terminated after them */
    size_t len;
};

/* METHOD PATH over HTTP/1.0 from 127.0.0.1:PORT with the request HEADERS
 * (each line ending in CRLF; NULL none), 5 s receive timeout: the status
 * (also in *OUT), or -1. Bodies are cut at ITEST_HTTP_MAX bytes. */
int itest_http(int port, const char *method, const char *path,
               const char *headers, struct itest_http_reply *out);

/* The value of header NAME (any case) of R into VAL, or NULL. */
const char *itest_http_header(const struct itest_http_reply *r,
                              const char *name, char *val, size_t vallen);

/* GET PATH over HTTP/1.0 from 127.0.0.1:PORT (5 s receive timeout): the
 * status, or -1 when nothing answered; the body, NUL-terminated and cut to
 * BODYLEN - 1 bytes, in BODY. */
int itest_http_get(int port, const char *path, char *body, size_t bodylen);

/* The value of the sample SERIES (its name and labels as printed) in the
 * Prometheus text TEXT, or -1 when it is not there. */
double itest_metric_value(const char *text, const char *series);

/* `shuttle-backend --load-gtfs DIR` (NULL: $SHUTTLE_SOURCE_DIR/deploy/gtfs)
 * into PG, as an operator loads a feed: its exit status (harness_wait's,
 * within 60 s), its output in a new test folder whose path is left in LOG
 * (LOGLEN bytes; LOG may be NULL). */
int itest_load_gtfs(struct harness_pg *pg, const char *dir, char *log,
                    size_t loglen);

/* Bytes in the regular files directly in DIR (a spool), or -1. */
long long itest_dir_bytes(const char *dir);

/* One epoch, $GPRMC and $GPGGA with a 3D fix at T_MS (Unix ms), into gpsd.
 * 0, or -1 when gpsd's UDP port did not take both. */
int itest_send_fix(struct harness_gpsd *g, int64_t t_ms, double lat,
                   double lon);

/* A passenger-count episode as sent by the fake gateway. */
struct itest_episode {
    unsigned door, boarded, alighted;
};

/*
 * For each of the N episodes, how many rows of passenger_counts of VID have
 * its door, boarded and alighted, into FOUND[i]. Episodes should have
 * distinct (boarded, alighted) pairs or the counts say nothing. Also the
 * total rows of VID into *TOTAL. 0, or -1 after printing the error.
 */
int itest_episodes_found(struct harness_pg *pg, const char *vid,
                         const struct itest_episode *ep, size_t n, int *found,
                         long long *total);

/*
 * Every one of the N episodes is stored exactly once for VID, and nothing
 * else is. 0, or -1 after printing each episode that is not.
 */
int itest_episodes_once(struct harness_pg *pg, const char *vid,
                        const struct itest_episode *ep, size_t n);

#endif
