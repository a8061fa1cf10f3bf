/* live_audit: the self-audit of predictions — samples each predicted
 * arrival at fixed horizons before it, scores it when the bus arrives and
 * sums the scores per lead-time bucket. Pure: no I/O, no logging. */
#ifndef SHUTTLE_LIVE_AUDIT_H
#define SHUTTLE_LIVE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live.h"

enum live_audit_err {
    LIVE_AUDIT_OK = 0,
    LIVE_AUDIT_ERR_NOMEM,
    LIVE_AUDIT_ERR_ARG, /* NULL argument, or an output array too small */
};

/* A horizon H is sampled at the first refresh whose lead (predicted
 * arrival - now) lies in (H - slack, H], slack = max(30 s, H / 4): a
 * prediction first seen at 2 min is not counted as a 15-min one. */
int live_audit_slack_s(int horizon_s);

/*
 * The Transit app ETA-benchmark rule: is a prediction made LEAD_S seconds
 * before its predicted arrival accurate when the bus came ERR_S = actual -
 * predicted seconds off? Allowed ranges by lead: [0, 180] s: -30 s..+90 s;
 * (180, 360]: -60..+150; (360, 600]: -60..+210; (600, 900]: -90..+270
 * (edges included). Early (negative) is the worse error, so its side is
 * the narrower. A negative lead counts as 0; a lead beyond 900 s has no
 * rule and is never accurate.
 */
bool live_audit_accurate(double lead_s, double err_s);

struct live_audit;

/*
 * An auditor for one service day of feed F (which must outlive it): sets
 * *OUT, the caller's to free with live_audit_free. Its per-stop state is
 * allocated here, once. Returns LIVE_AUDIT_OK, LIVE_AUDIT_ERR_ARG (NULL F
 * or OUT) or LIVE_AUDIT_ERR_NOMEM (*OUT then NULL).
 */
enum live_audit_err live_audit_new(const struct trips_feed *f,
                                   struct live_audit **out);
void live_audit_free(struct live_audit *a);

/*
 * One refresh of trip prediction TP at NOW_MS: every PREDICTED stop of it,
 * for every horizon not yet sampled at that (trip, pos) whose window holds
 * the lead, becomes a pending sample (made_ms = TP->made_ms, or NOW_MS
 * when that is -1). Stops outside the feed are ignored. Returns
 * LIVE_AUDIT_OK, LIVE_AUDIT_ERR_ARG or LIVE_AUDIT_ERR_NOMEM (the samples
 * taken so far are kept). Allocates only to grow the pending pool.
 */
enum live_audit_err live_audit_predictions(struct live_audit *a,
                                           const struct live_trip_pred *tp,
                                           int64_t now_ms);

/*
 * One tracker event. ARRIVE at (trip, pos) completes every pending sample
 * of that stop with actual_ms = EV->t_ms, scores it (accurate by the lead
 * at sampling, covered = lo <= actual <= hi) and writes it to OUT (CAP
 * entries; LIVE_AUDIT_NHORIZONS always suffice), in horizon order; the
 * stop, and the trip's earlier stops (passed unseen: their samples are
 * dropped), are then closed to sampling. MISSED and TRIP_END drop every
 * pending sample of the trip and close it. DEPART does nothing. *NOUT is
 * the number
 * written. Returns LIVE_AUDIT_OK or LIVE_AUDIT_ERR_ARG (NULL argument, or
 * CAP too small: nothing is then completed).
 */
enum live_audit_err live_audit_event(struct live_audit *a,
                                     const struct live_event *ev,
                                     struct live_audit_sample *out, size_t cap,
                                     size_t *nout);

/* Pending samples held (for tests and metrics). */
size_t live_audit_pending(const struct live_audit *a);

/* Summary buckets, by the lead at sampling (pred_ms - made_ms):
 * [0, 3], (3, 6], (6, 10], (10, 15], (15, 30] min. */
enum live_audit_bucket {
    LIVE_AUDIT_B0_3 = 0,
    LIVE_AUDIT_B3_6,
    LIVE_AUDIT_B6_10,
    LIVE_AUDIT_B10_15,
    LIVE_AUDIT_B15_30,
    LIVE_AUDIT_NBUCKETS,
};

/* The bucket of a lead time; -1 beyond 30 min. A negative lead is 0. */
int live_audit_bucket_of(double lead_s);

struct live_audit_figures {
    size_t n;
    double mae_s;    /* mean |actual - predicted| */
    double p90_s;    /* 90th percentile of it (nearest rank) */
    double bias_s;   /* mean actual - predicted: + the bus came later */
    double accuracy; /* share accurate, 0..1 */
    double coverage; /* share covered by the 80 % interval, 0..1 */
};

struct live_audit_summary;

/* An empty summary, the caller's to free; NULL when out of memory. */
struct live_audit_summary *live_audit_summary_new(void);
void live_audit_summary_free(struct live_audit_summary *s);

/* Count sample SMP in its bucket (samples with a lead beyond 30 min are
 * ignored). Returns LIVE_AUDIT_OK, LIVE_AUDIT_ERR_ARG or
 * LIVE_AUDIT_ERR_NOMEM (SMP then not counted). Amortised: the per-bucket
 * error array doubles when full. */
enum live_audit_err live_audit_summary_add(struct live_audit_summary *s,
                                           const struct live_audit_sample *smp);

/* The figures of bucket B into *OUT (all 0 when empty). Sorts the
 * bucket's stored errors in place, hence S is not const. Returns
 * LIVE_AUDIT_OK or LIVE_AUDIT_ERR_ARG (NULL, or B out of range). */
enum live_audit_err live_audit_summary_get(struct live_audit_summary *s,
                                           enum live_audit_bucket b,
                                           struct live_audit_figures *out);

#endif
