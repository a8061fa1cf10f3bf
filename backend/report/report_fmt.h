/* report_fmt: shuttle-report's labels (Korean and English) and its text,
 * CSV and JSON outputs of a fetched day or range (ridership, runs, stops
 * and prediction accuracy). */
#ifndef SHUTTLE_REPORT_FMT_H
#define SHUTTLE_REPORT_FMT_H

#include <stdio.h>

#include "report_query.h"

/* The CSV output is one table (RFC 4180 wants one record shape a file). */
enum report_fmt_table {
    REPORT_FMT_T_SUMMARY,
    REPORT_FMT_T_ROUTES,
    REPORT_FMT_T_RUNS,
    REPORT_FMT_T_STOPS,
    REPORT_FMT_T_HOURLY,
    REPORT_FMT_T_DAYS, /* range only */
    REPORT_FMT_T_ACCURACY,
};

/* "summary", "routes", "runs", "stops", "hourly", "days", "accuracy" to
 * *T: 0, or -1 for an unknown name. */
int report_fmt_table_parse(const char *name, enum report_fmt_table *t);

enum report_fmt_label {
    REPORT_FMT_L_TITLE_DAILY,
    REPORT_FMT_L_TITLE_RANGE,
    REPORT_FMT_L_BUILT_AT,
    REPORT_FMT_L_RIDERS,
    REPORT_FMT_L_TARGET,
    REPORT_FMT_L_OF_TARGET,
    REPORT_FMT_L_ALIGHTED,
    REPORT_FMT_L_UNATTRIBUTED,
    REPORT_FMT_L_RUNS,
    REPORT_FMT_L_SCHEDULED,
    REPORT_FMT_L_OPERATED,
    REPORT_FMT_L_PARTIAL,
    REPORT_FMT_L_MISSED,
    REPORT_FMT_L_LATE,
    REPORT_FMT_L_CROWDED,
    REPORT_FMT_L_SUSPECT,
    REPORT_FMT_L_SEC_ROUTES,
    REPORT_FMT_L_SEC_RUNS,
    REPORT_FMT_L_SEC_STOPS,
    REPORT_FMT_L_SEC_HOURLY,
    REPORT_FMT_L_SEC_COUNTERS,
    REPORT_FMT_L_SEC_LOAD,
    REPORT_FMT_L_SEC_TREND,
    REPORT_FMT_L_SEC_BELOW,
    REPORT_FMT_L_ROUTE,
    REPORT_FMT_L_DIRECTION,
    REPORT_FMT_L_DIR_IN,
    REPORT_FMT_L_DIR_OUT,
    REPORT_FMT_L_TRIP,
    REPORT_FMT_L_SCHED_START,
    REPORT_FMT_L_ACTUAL_START,
    REPORT_FMT_L_DELAY,
    REPORT_FMT_L_VEHICLE,
    REPORT_FMT_L_BOARDED,
    REPORT_FMT_L_PEAK,
    REPORT_FMT_L_SEATS,
    REPORT_FMT_L_STATUS,
    REPORT_FMT_L_NOTES,
    REPORT_FMT_L_STOP_ID,
    REPORT_FMT_L_STOP,
    REPORT_FMT_L_VISITS,
    REPORT_FMT_L_HOUR,
    REPORT_FMT_L_DATE,
    REPORT_FMT_L_WEEKDAY,
    REPORT_FMT_L_DIFF,
    REPORT_FMT_L_NONE,
    REPORT_FMT_L_NOT_BUILT,
    REPORT_FMT_L_DAYS,
    REPORT_FMT_L_DAYS_BUILT,
    REPORT_FMT_L_MEAN,
    REPORT_FMT_L_TOTAL,
    REPORT_FMT_L_BAR,
    REPORT_FMT_L_SEC_ETA,
    REPORT_FMT_L_HORIZON,
    REPORT_FMT_L_SAMPLES,
    REPORT_FMT_L_MAE,
    REPORT_FMT_L_P90,
    REPORT_FMT_L_BIAS,
    REPORT_FMT_L_ACCURATE,
    REPORT_FMT_L_COVERED,
    REPORT_FMT_L_NO_ETA,
    REPORT_FMT_L_ETA_MAE,
    REPORT_FMT_L_ETA_ACCURATE,
    REPORT_FMT_L_N,
};

/* The label ID in English (ENGLISH nonzero) or Korean; static string. */
const char *report_fmt_label(int english, enum report_fmt_label id);

/* Short weekday name of DAYS since 1970-01-01 ("월", "Mon"); static. */
const char *report_fmt_weekday(int english, long days);

/* Label of a direction_id: 0 commute in, 1 commute out (the feed's
 * convention: IN trips are direction 0), else "-". */
const char *report_fmt_direction(int english, int direction);

/* Label of a run's status, and its machine name ("operated", ...). */
const char *report_fmt_status(int english, enum report_query_status s);
const char *report_fmt_status_key(enum report_query_status s);

/* The counter-suspect rule in words, with its thresholds, into OUT. */
void report_fmt_suspect_rule(int english, int pct, int slack, char *out,
                             size_t outlen);

/* What the prediction accuracy columns mean, in words, into OUT. */
void report_fmt_eta_rule(int english, char *out, size_t outlen);

/* A prediction horizon for people: "5 min" / "5분 전" (seconds when not
 * whole minutes), into OUT. */
void report_fmt_horizon(int english, int horizon_s, char *out, size_t outlen);

/* "+4:30" / "-0:45" for a delay in seconds into OUT. */
void report_fmt_delay(int delay_s, char *out, size_t outlen);

/* Write the day D as an aligned text report (every section), or as JSON
 * (every section), or as CSV (table T only). Return 0, or -1 when writing
 * failed or memory ran out (errno tells). */
int report_fmt_daily_text(FILE *fp, const struct report_query_daily *d,
                          int english);
int report_fmt_daily_json(FILE *fp, const struct report_query_daily *d,
                          int english);
int report_fmt_daily_csv(FILE *fp, const struct report_query_daily *d,
                         int english, enum report_fmt_table t);

/* The same for a range; its CSV is always the days table. */
int report_fmt_range_text(FILE *fp, const struct report_query_range *r,
                          int english);
int report_fmt_range_json(FILE *fp, const struct report_query_range *r,
                          int english);
int report_fmt_range_csv(FILE *fp, const struct report_query_range *r,
                         int english);

#endif
