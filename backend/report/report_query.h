/* report_query: fetch a day's (or a range's) ridership from the derived
 * tables, and the accuracy of its arrival predictions, into plain structs, with
 * the flags the report shows computed once here so that every output format
 * shows the same numbers. */
#ifndef SHUTTLE_REPORT_QUERY_H
#define SHUTTLE_REPORT_QUERY_H

#include <stddef.h>

enum report_query_err {
    REPORT_QUERY_OK = 0,
    REPORT_QUERY_ERR_CONNECT = -1, /* database unreachable or login refused */
    REPORT_QUERY_ERR_EMPTY = -2,   /* the day (or every day) was never built */
    REPORT_QUERY_ERR_QUERY = -3,   /* a query failed (schema missing, ...) */
    REPORT_QUERY_ERR_NOMEM = -4,
};

/* The thresholds behind the flags (from the config). */
struct report_query_params {
    int target;        /* riders a day the district reports against */
    int seats;         /* per bus */
    int crowded_pct;   /* peak load >= this % of seats: crowded */
    int late_s;        /* started more than this late: late */
    int counter_pct;   /* |boarded - alighted| > pct % of the larger */
    int counter_slack; /*   + slack: counter suspect */
    int english;       /* stop and route names from gtfs_translations */
};

enum report_query_status {
    REPORT_QUERY_OPERATED,
    REPORT_QUERY_PARTIAL,
    REPORT_QUERY_MISSED,
};

/* One scheduled trip of the day (a row of trip_outcomes). Times are in
 * the service zone (the feed's agency_timezone); "" when the run did not
 * start. */
struct report_query_run {
    char *trip_id, *route_id, *route_name, *vehicle_id; /* vehicle "" */
    int direction;                                      /* -1: unknown */
    enum report_query_status status;
    char sched_start[6], actual_start[6]; /* HH:MM */
    int sched_min;                        /* minutes after midnight */
    int has_delay, delay_s;
    int boarded, alighted;
    int has_peak, peak_load;
    double load_pct; /* peak load, % of seats, rounded to 0.1 */
    int crowded, late, counter_suspect;
};

/* Runs of one route in one direction. */
struct report_query_route {
    char *route_id, *route_name;
    int direction;
    int runs, operated, partial, missed, late, crowded;
    int boarded, alighted;
};

struct report_query_stop {
    char *stop_id, *name;
    int visits; /* stops made (doors or dwell), passes not counted */
    int boarded, alighted;
};

/* Arrival predictions at one horizon, scored against the arrival
 * (eta_samples, written by shuttle-live). Errors are actual - predicted in
 * seconds, so a positive bias is a bus later than predicted. */
struct report_query_eta {
    int horizon_s; /* sampled this long before the predicted arrival */
    int samples;
    double mae_s, p90_s, bias_s; /* mean |error|, its 90th percentile, mean
                                    error; rounded to 0.1 */
    int accurate, covered;       /* samples in the ETA-benchmark window, in
                                    the 80 % interval */
    double accuracy_pct, coverage_pct; /* of samples, rounded to 0.1 */
};

struct report_query_daily {
    char date[11];
    char built_at[17]; /* "YYYY-MM-DD HH:MM", in the service zone */
    struct report_query_params p;
    /* daily_ridership: the figure reported against the target. */
    int boarded, alighted, unattributed;
    int runs_scheduled, runs_operated, runs_partial, runs_missed;
    double pct_of_target; /* rounded to 0.1 */
    /* From the runs, with the configured thresholds. */
    int runs_late, runs_crowded, runs_counter_suspect;
    struct report_query_route *routes;
    size_t nroutes;
    struct report_query_run *runs;
    size_t nruns;
    struct report_query_stop *stops;
    size_t nstops;
    int hour_boarded[24], hour_alighted[24]; /* passenger_counts */
    /* One per horizon with samples, shortest first; none (neta 0) before
     * shuttle-live scored any prediction of the day. */
    struct report_query_eta *eta;
    size_t neta;
    /* Set when REPORT_QUERY_ERR_EMPTY: raw counts stored for the day. */
    long long raw_counts;
};

struct report_query_day {
    char date[11];
    int built; /* 0: no daily_ridership row: the rest is 0 */
    int boarded, alighted;
    int runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late;
    double pct_of_target;
    int below_target;
    /* Predictions at REPORT_QUERY_RANGE_HORIZON_S: eta_samples 0 when none
     * were scored that day (then the other two are 0). */
    int eta_samples;
    double eta_mae_s, eta_accuracy_pct; /* rounded to 0.1 */
};

/* The horizon a range shows prediction accuracy at, per day: 5 min, the
 * middle of the 0-10 min targets. A choice of the report, not of
 * the audit (whose horizons live in backend/live/live.h). */
#define REPORT_QUERY_RANGE_HORIZON_S 300

struct report_query_range {
    char from[11], to[11];
    struct report_query_params p;
    struct report_query_day *days;
    size_t ndays;
    int days_built, days_below;
    long long boarded_total;
    double boarded_mean; /* over built days, rounded to 0.1 */
};

struct report_query;

/* Connect to CONNINFO (libpq syntax). On REPORT_QUERY_ERR_CONNECT the message
 * in ERR names the database without its password. *OUT is the caller's to
 * release with report_query_close. */
int report_query_open(const char *conninfo, struct report_query **out,
                      char *err, size_t errlen);
void report_query_close(struct report_query *q);

/* schema_check (backend/schema) on the report's own connection: 1 when the
 * schema holds a migration newer than this binary (the message in ERR),
 * else 0 (a check that could not be made is left to the queries). */
int report_query_schema_newer(struct report_query *q, char *err, size_t errlen);

/* The service time zone, shuttle_service_tz() (the loaded feed's
 * agency_timezone, UTC without a feed), into ZONE of LEN bytes. Returns
 * REPORT_QUERY_OK or REPORT_QUERY_ERR_QUERY with a message in ERR. */
int report_query_service_zone(struct report_query *q, char *zone, size_t len,
                              char *err, size_t errlen);

/* CONNINFO with any password removed, for messages: "host=... dbname=..."
 * (or a URI's parts as keywords). Never fails: an unparsable string is
 * shown as "(unparsable connection string)". */
void report_query_conninfo_display(const char *conninfo, char *out,
                                   size_t outlen);

/* Fetch service day DATE ("YYYY-MM-DD", already validated) into *D, which
 * is overwritten. Returns REPORT_QUERY_OK, REPORT_QUERY_ERR_EMPTY when
 * daily_ridership has no row for the day (d->raw_counts then says whether raw
 * data exists), or another report_query_err with a message in ERR. Release with
 * report_query_daily_free whatever the result. */
int report_query_daily(struct report_query *q,
                       const struct report_query_params *p, const char *date,
                       struct report_query_daily *d, char *err, size_t errlen);
void report_query_daily_free(struct report_query_daily *d);

/* Fetch every day from FROM to TO inclusive from daily_ridership, with
 * each day's prediction accuracy at REPORT_QUERY_RANGE_HORIZON_S from
 * eta_samples.
 * REPORT_QUERY_ERR_EMPTY when none of them was built. Release with
 * report_query_range_free whatever the result. */
int report_query_range(struct report_query *q,
                       const struct report_query_params *p, const char *from,
                       const char *to, struct report_query_range *r, char *err,
                       size_t errlen);
void report_query_range_free(struct report_query_range *r);

/* The SQL report_query_daily runs, for the benchmark's EXPLAIN: query I (0 ..
 * report_query_daily_nsql()-1); each takes $1 = the date, $2 = 'en' or 'ko'.
 * The strings are static. */
int report_query_daily_nsql(void);
const char *report_query_daily_sql(int i);

/* Crowded: peak load at least PCT % of SEATS (integer arithmetic, so 41 of
 * 45 at 90 % is crowded: 4100 >= 4050). */
int report_query_is_crowded(int peak, int seats, int pct);

/* Counter suspect: boardings and alightings of one run differ by more than
 * PCT % of the larger plus SLACK (a full bus that empties at the terminal
 * should balance; small runs get the slack). */
int report_query_counter_suspect(int boarded, int alighted, int pct, int slack);

#endif
