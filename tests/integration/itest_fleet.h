/* itest_fleet: the simulated fleet the whole-path integration tests share:
 * PostgreSQL with the shipped feed, mosquitto, shuttle-backend, 6 gpsd and
 * 6 shuttle-onboard with UDP counters, shuttle-sim driving them, and
 * shuttle-live on a fake clock that runs at the simulator's speed. */
#ifndef SHUTTLE_ITEST_FLEET_H
#define SHUTTLE_ITEST_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct harness_gpsd;
struct harness_mqtt;
struct harness_pg;
struct harness_proc;

#define ITEST_FLEET_NBUS 6

/* What itest_fleet_start started; the handles belong to the harness. */
struct itest_fleet {
    const char *work; /* the test's folder: logs, truth files */
    struct harness_pg *pg;
    struct harness_mqtt *mq;
    struct harness_proc *backend;
    struct harness_gpsd *gpsd[ITEST_FLEET_NBUS];
    struct harness_proc *onboard[ITEST_FLEET_NBUS]; /* bus-1 .. bus-6 */
    int counter_port[ITEST_FLEET_NBUS]; /* UDP, where bus-N's counter is */
    char dbopt[600];                    /* "database=CONNINFO" for -o */
    /* The fake clock (set by itest_fleet_sim_start): it reads Unix ms
     * fake0_ms at real Unix ms real0_ms and runs SPEED times as fast. */
    int speed;
    int64_t fake0_ms, real0_ms;
};

/* Buses whose ack watermark is below their highest stored seq: 0 once the
 * backend has stored and acked everything the onboards sent. */
extern const char itest_fleet_sql_holes[];

/* Spawn ARGV (NAME for messages, output appended to LOG) and wait up to
 * TIMEOUT_MS: its exit status as harness_wait's (-1 also when it could not
 * start); when not 0, printed with the log's tail. */
int itest_fleet_run(const char *name, char *const argv[], const char *log,
                    int timeout_ms);

/* The last Monday before today in Seoul as "YYYY-MM-DD" into DATE (LEN
 * bytes): a weekday whatever the date, and in the past, so GPS time never
 * runs ahead of the buses' system clocks. Returns its 00:00 in Seoul as
 * Unix ms. */
int64_t itest_fleet_last_monday(char *date, size_t len);

/* Zero F, then start the fleet: a folder harness_tmpdir(TAG), PostgreSQL
 * (fast) with deploy/gtfs loaded by `shuttle-backend --load-gtfs` and its
 * calendar widened to 30 days around today (the feed's ends some day; the
 * days simulated are recent ones), mosquitto, shuttle-backend with
 * BACKEND_OPTS (as harness_backend_start's, may be NULL), and for each bus
 * a gpsd and a shuttle-onboard reading its counter on a free UDP port.
 * 0, or -1 after printing what failed. */
int itest_fleet_start(struct itest_fleet *f, const char *tag,
                      const char *const *backend_opts);

/* One run of shuttle-sim over the fleet, seeded as given and with
 * --fixed-seed (what is simulated must not depend on the run's date). */
struct itest_fleet_sim {
    const char *date;         /* YYYY-MM-DD */
    const char *seed;         /* --seed */
    int speed;                /* simulated seconds per real second */
    const char *start, *end;  /* HH:MM of the window */
    const char *truth;        /* where it writes its truth CSV */
    const char *log;          /* its output */
    const char *const *extra; /* more arguments, NULL-terminated; may be NULL */
};

/* Start shuttle-sim S; once its clock starts (its first progress line, at
 * most 60 s) set F's fake clock to it: FAKE_START_MS (Unix ms of S's start
 * on the simulated day) now, at S's speed. The simulator (the harness's),
 * or NULL after printing why. */
struct harness_proc *itest_fleet_sim_start(struct itest_fleet *f,
                                           const struct itest_fleet_sim *s,
                                           int64_t fake_start_ms);

/* Run shuttle-sim S to its end (at most TIMEOUT_MS): as itest_fleet_run. */
int itest_fleet_sim_run(const struct itest_fleet *f,
                        const struct itest_fleet_sim *s, int timeout_ms);

/* What F's fake clock reads now, in Unix ms. */
int64_t itest_fleet_now(const struct itest_fleet *f);

/* Start shuttle-live in the foreground on F's database and broker, HTTP on
 * HTTP_PORT, with "-o key=value" for each of OPTS (NULL-terminated, at most
 * 8, may be NULL), on F's fake clock (fake_clock.c preloaded), its output
 * appended to LOG. Does not wait for it to serve. The process (the
 * harness's), or NULL after printing why. */
struct harness_proc *itest_fleet_live_start(const struct itest_fleet *f,
                                            int http_port,
                                            const char *const *opts,
                                            const char *log);

#endif
