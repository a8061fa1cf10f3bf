/* live_predict: arrivals, departures, their 80 % intervals and the load at
 * every stop ahead of each bus, from the tracker's state, today's events
 * and the learnt history — four methods in the same code. Pure: no I/O. */
#ifndef SHUTTLE_LIVE_PREDICT_H
#define SHUTTLE_LIVE_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "live_hist.h"

/* The interval is calibrated at the audit's horizons (LIVE_AUDIT_HORIZONS_S,
 * the leads its samples are taken at) and interpolated between them. */
#define LIVE_PREDICT_NBANDS LIVE_AUDIT_NHORIZONS

/* The 80 % interval learnt from scored predictions of past days: per audit
 * horizon (lead_s), the 10 % and 90 % quantiles of the error (actual -
 * predicted, s). A horizon with n == 0 had too few samples. */
struct live_predict_calib {
    int n[LIVE_PREDICT_NBANDS];
    double lead_s[LIVE_PREDICT_NBANDS];
    double q10_s[LIVE_PREDICT_NBANDS], q90_s[LIVE_PREDICT_NBANDS];
};

struct live_predict_params {
    int min_layover_s;     /* a bus rests this long at a terminal: 120 */
    double half_life_s;    /* today's evidence loses half its weight: 1800 */
    double interval_k;     /* uncalibrated: scale of the history's spread */
    double interval_min_s; /* floor of each side of the interval: 20 */
    struct live_predict_calib cal; /* all n 0: uncalibrated */
};

void live_predict_params_default(struct live_predict_params *p);

enum live_predict_err {
    LIVE_PREDICT_OK = 0,
    LIVE_PREDICT_ERR_NOMEM,
};

/*
 * Learn the interval calibration OUT from N scored samples S (actual_ms
 * set; live_audit's, or eta_samples rows of past days) of one method.
 * Horizons with fewer than 30 samples are left out (n 0); interpolation
 * between the ones that have them covers the gaps. Returns
 * LIVE_PREDICT_OK or LIVE_PREDICT_ERR_NOMEM (OUT then uncalibrated).
 */
/* A horizon needs this many scored samples to be calibrated: fewer and
 * a 10 % quantile is one or two samples. */
#define LIVE_PREDICT_CALIB_MIN 30

enum live_predict_err live_predict_calibrate(const struct live_audit_sample *s,
                                             size_t n,
                                             struct live_predict_calib *out);

struct live_predict;

/*
 * A predictor for one service day of the feed F with history H (both must
 * outlive it), day type DAY and method M. PP NULL: defaults. Every buffer
 * a refresh writes is allocated here, once. NULL when out of memory.
 */
struct live_predict *live_predict_new(const struct trips_feed *f,
                                      const struct live_hist *h,
                                      enum live_hist_day day,
                                      enum live_method m,
                                      const struct live_predict_params *pp);
void live_predict_free(struct live_predict *p);

/* Today's evidence: one tracker event (in time order per vehicle). Events
 * naming trips, positions or vehicles outside the feed are ignored. */
void live_predict_event(struct live_predict *p, const struct live_event *ev);

/*
 * Refresh the predictions of vehicle VI (state V, tracker index) at NOW_MS:
 * the trip it is on and the next trip of its block. Returns the trip's
 * prediction (NULL when V is on no trip) and sets *NEXT to the next trip's
 * (NULL none). The results point into P and stay valid until that trip is
 * refreshed again or P is freed.
 */
const struct live_trip_pred *
live_predict_vehicle(struct live_predict *p, int vi,
                     const struct live_vehicle *v, int64_t now_ms,
                     const struct live_trip_pred **next);

/* The prediction of a trip no bus is on: the timetable (SCHEDULED), or
 * CANCELED when it was missed. Points into P as above; NULL for a trip
 * outside the feed. */
const struct live_trip_pred *live_predict_trip(struct live_predict *p, int trip,
                                               int64_t now_ms);

#endif
