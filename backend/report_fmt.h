/* report_fmt: shuttle-report's labels (Korean and English) and its text,
 * CSV and JSON outputs of a fetched day or range. */
#ifndef SHUTTLE_REPORT_FMT_H
#define SHUTTLE_REPORT_FMT_H

#include <stdio.h>

#include "report_query.h"

/* The CSV output is one table (RFC 4180 wants one record shape a file). */
enum rfmt_table {
    RFMT_T_SUMMARY,
    RFMT_T_ROUTES,
    RFMT_T_RUNS,
    RFMT_T_STOPS,
    RFMT_T_HOURLY,
    RFMT_T_DAYS, /* range only */
};

/* "summary", "routes", "runs", "stops", "hourly", "days" to *T: 0, or -1
 * for an unknown name. */
int rfmt_table_parse(const char *name, enum rfmt_table *t);

enum rfmt_label {
    RFMT_L_TITLE_DAILY,
    RFMT_L_TITLE_RANGE,
    RFMT_L_BUILT_AT,
    RFMT_L_RIDERS,
    RFMT_L_TARGET,
    RFMT_L_OF_TARGET,
    RFMT_L_ALIGHTED,
    RFMT_L_UNATTRIBUTED,
    RFMT_L_RUNS,
    RFMT_L_SCHEDULED,
    RFMT_L_OPERATED,
    RFMT_L_PARTIAL,
    RFMT_L_MISSED,
    RFMT_L_LATE,
    RFMT_L_CROWDED,
    RFMT_L_SUSPECT,
    RFMT_L_SEC_ROUTES,
    RFMT_L_SEC_RUNS,
    RFMT_L_SEC_STOPS,
    RFMT_L_SEC_HOURLY,
    RFMT_L_SEC_COUNTERS,
    RFMT_L_SEC_LOAD,
    RFMT_L_SEC_TREND,
    RFMT_L_SEC_BELOW,
    RFMT_L_ROUTE,
    RFMT_L_DIRECTION,
    RFMT_L_DIR_IN,
    RFMT_L_DIR_OUT,
    RFMT_L_TRIP,
    RFMT_L_SCHED_START,
    RFMT_L_ACTUAL_START,
    RFMT_L_DELAY,
    RFMT_L_VEHICLE,
    RFMT_L_BOARDED,
    RFMT_L_PEAK,
    RFMT_L_SEATS,
    RFMT_L_STATUS,
    RFMT_L_NOTES,
    RFMT_L_STOP_ID,
    RFMT_L_STOP,
    RFMT_L_VISITS,
    RFMT_L_HOUR,
    RFMT_L_DATE,
    RFMT_L_WEEKDAY,
    RFMT_L_DIFF,
    RFMT_L_NONE,
    RFMT_L_NOT_BUILT,
    RFMT_L_DAYS,
    RFMT_L_DAYS_BUILT,
    RFMT_L_MEAN,
    RFMT_L_TOTAL,
    RFMT_L_BAR,
    RFMT_L_N,
};

/* The label ID in English (ENGLISH nonzero) or Korean; static string. */
const char *rfmt_label(int english, enum rfmt_label id);

/* Short weekday name of DAYS since 1970-01-01 ("월", "Mon"); static. */
const char *rfmt_weekday(int english, long days);

/* Label of a direction_id: 0 commute in, 1 commute out (the feed's
 * convention: IN trips are direction 0), else "-". */
const char *rfmt_direction(int english, int direction);

/* Label of a run's status, and its machine name ("operated", ...). */
const char *rfmt_status(int english, enum rquery_status s);
const char *rfmt_status_key(enum rquery_status s);

/* The counter-suspect rule in words, with its thresholds, into OUT. */
void rfmt_suspect_rule(int english, int pct, int slack, char *out,
                       size_t outlen);

/* "+4:30" / "-0:45" for a delay in seconds into OUT. */
void rfmt_delay(int delay_s, char *out, size_t outlen);

/* Write the day D as an aligned text report (every section), or as JSON
 * (every section), or as CSV (table T only). Return 0, or -1 when writing
 * failed or memory ran out (errno tells). */
int rfmt_daily_text(FILE *fp, const struct rquery_daily *d, int english);
int rfmt_daily_json(FILE *fp, const struct rquery_daily *d, int english);
int rfmt_daily_csv(FILE *fp, const struct rquery_daily *d, int english,
                   enum rfmt_table t);

/* The same for a range; its CSV is always the days table. */
int rfmt_range_text(FILE *fp, const struct rquery_range *r, int english);
int rfmt_range_json(FILE *fp, const struct rquery_range *r, int english);
int rfmt_range_csv(FILE *fp, const struct rquery_range *r, int english);

#endif
