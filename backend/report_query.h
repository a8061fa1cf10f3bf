/* report_query: fetch a day's (or a range's) ridership from the derived
 * tables into plain structs, with the flags the report shows computed once
 * here so that every output format shows the same numbers. */
#ifndef SHUTTLE_REPORT_QUERY_H
#define SHUTTLE_REPORT_QUERY_H

#include <stddef.h>

enum rquery_err {
    RQUERY_OK = 0,
    RQUERY_ERR_CONNECT = -1, /* database unreachable or login refused */
    RQUERY_ERR_EMPTY = -2,   /* the day (or every day) was never built */
    RQUERY_ERR_QUERY = -3,   /* a query failed (schema missing, ...) */
    RQUERY_ERR_NOMEM = -4,
};

/* The thresholds behind the flags (from the config). */
struct rquery_params {
    int target;        /* riders a day the district reports against */
    int seats;         /* per bus */
    int crowded_pct;   /* peak load >= this % of seats: crowded */
    int late_s;        /* started more than this late: late */
    int counter_pct;   /* |boarded - alighted| > pct % of the larger */
    int counter_slack; /*   + slack: counter suspect */
    int english;       /* stop and route names from gtfs_translations */
};

enum rquery_status {
    RQUERY_OPERATED,
    RQUERY_PARTIAL,
    RQUERY_MISSED,
};

/* One scheduled trip of the day (a row of trip_outcomes). Times are in
 * Asia/Seoul; "" when the run did not start. */
struct rquery_run {
    char *trip_id, *route_id, *route_name, *vehicle_id; /* vehicle "" */
    int direction;                                      /* -1: unknown */
    enum rquery_status status;
    char sched_start[6], actual_start[6]; /* HH:MM */
    int sched_min;                        /* minutes after midnight */
    int has_delay, delay_s;
    int boarded, alighted;
    int has_peak, peak_load;
    double load_pct; /* peak load, % of seats, rounded to 0.1 */
    int crowded, late, counter_suspect;
};

/* Runs of one route in one direction. */
struct rquery_route {
    char *route_id, *route_name;
    int direction;
    int runs, operated, partial, missed, late, crowded;
    int boarded, alighted;
};

struct rquery_stop {
    char *stop_id, *name;
    int visits; /* stops made (doors or dwell), passes not counted */
    int boarded, alighted;
};

struct rquery_daily {
    char date[11];
    char built_at[17]; /* "YYYY-MM-DD HH:MM", Asia/Seoul */
    struct rquery_params p;
    /* daily_ridership: the figure reported against the target. */
    int boarded, alighted, unattributed;
    int runs_scheduled, runs_operated, runs_partial, runs_missed;
    double pct_of_target; /* rounded to 0.1 */
    /* From the runs, with the configured thresholds. */
    int runs_late, runs_crowded, runs_counter_suspect;
    struct rquery_route *routes;
    size_t nroutes;
    struct rquery_run *runs;
    size_t nruns;
    struct rquery_stop *stops;
    size_t nstops;
    int hour_boarded[24], hour_alighted[24]; /* passenger_counts */
    /* Set when RQUERY_ERR_EMPTY: raw counts stored for the day. */
    long long raw_counts;
};

struct rquery_day {
    char date[11];
    int built; /* 0: no daily_ridership row: the rest is 0 */
    int boarded, alighted;
    int runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late;
    double pct_of_target;
    int below_target;
};

struct rquery_range {
    char from[11], to[11];
    struct rquery_params p;
    struct rquery_day *days;
    size_t ndays;
    int days_built, days_below;
    long long boarded_total;
    double boarded_mean; /* over built days, rounded to 0.1 */
};

struct rquery;

/* Connect to CONNINFO (libpq syntax). On RQUERY_ERR_CONNECT the message in
 * ERR names the database without its password. *OUT is the caller's to
 * release with rquery_close. */
int rquery_open(const char *conninfo, struct rquery **out, char *err,
                size_t errlen);
void rquery_close(struct rquery *q);

/* CONNINFO with any password removed, for messages: "host=... dbname=..."
 * (or a URI's parts as keywords). Never fails: an unparsable string is
 * shown as "(unparsable connection string)". */
void rquery_conninfo_display(const char *conninfo, char *out, size_t outlen);

/* Fetch service day DATE ("YYYY-MM-DD", already validated) into *D, which
 * is overwritten. Returns RQUERY_OK, RQUERY_ERR_EMPTY when daily_ridership
 * has no row for the day (d->raw_counts then says whether raw data exists),
 * or another rquery_err with a message in ERR. Release with
 * rquery_daily_free whatever the result. */
int rquery_daily(struct rquery *q, const struct rquery_params *p,
                 const char *date, struct rquery_daily *d, char *err,
                 size_t errlen);
void rquery_daily_free(struct rquery_daily *d);

/* Fetch every day from FROM to TO inclusive from daily_ridership only.
 * RQUERY_ERR_EMPTY when none of them was built. Release with
 * rquery_range_free whatever the result. */
int rquery_range(struct rquery *q, const struct rquery_params *p,
                 const char *from, const char *to, struct rquery_range *r,
                 char *err, size_t errlen);
void rquery_range_free(struct rquery_range *r);

/* The SQL rquery_daily runs, for the benchmark's EXPLAIN: query I (0 ..
 * rquery_daily_nsql()-1); each takes $1 = the date, $2 = 'en' or 'ko'.
 * The strings are static. */
int rquery_daily_nsql(void);
const char *rquery_daily_sql(int i);

/* Crowded: peak load at least PCT % of SEATS (integer arithmetic, so 41 of
 * 45 at 90 % is crowded: 4100 >= 4050). */
int rquery_is_crowded(int peak, int seats, int pct);

/* Counter suspect: boardings and alightings of one run differ by more than
 * PCT % of the larger plus SLACK (a full bus that empties at the terminal
 * should balance; small runs get the slack). */
int rquery_counter_suspect(int boarded, int alighted, int pct, int slack);

#endif
