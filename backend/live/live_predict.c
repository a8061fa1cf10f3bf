/* live_predict: stop-by-stop arrival prediction for the four methods. */
#include "live_predict.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Today's running-time evidence of one segment. */
struct live_predict__seg {
    double lr, w;   /* decayed mean of log(observed / history) */
    int64_t t_ms;   /* when last observed; -1 never */
    double last_s;  /* the last bus's running time (Kalman) */
    double kal_err; /* Kalman filter error carried to the next bus */
};

struct live_predict__veh {
    double lr, w;        /* this bus's own pace, log ratio, decayed */
    int64_t term_arr_ms; /* last arrival at a trip's last stop; -1 */
    int load;            /* on board after its last door event; -1 */
};

/* How well each source of today's evidence foretold the next segment:
 * mean squared error of the log ratio, the weights of the blend. */
struct live_predict__skill {
    double mse_hist, mse_seg, mse_own;
};

struct live_predict {
    const struct trips_feed *f;
    const struct live_hist *h;
    enum live_hist_day day;
    enum live_method m;
    struct live_predict_params pp;
    int64_t *arr_ms, *dep_ms; /* per stop time: what happened today */
    unsigned char *missed;    /* per trip */
    struct live_predict__seg *seg;
    struct live_predict__veh *veh;
    size_t nveh;
    struct live_predict__skill sk;
    struct live_trip_pred *pred;  /* per trip */
    struct live_stop_pred *stops; /* per stop time, reused each refresh */
};

void live_predict_params_default(struct live_predict_params *p)
{
    p->min_layover_s = 120;
    p->half_life_s = 1800;
    p->interval_k = 1.0;
    p->interval_min_s = 20;
    memset(&p->cal, 0, sizeof(p->cal));
}

static int live_predict__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum live_predict_err live_predict_calibrate(const struct live_audit_sample *s,
                                             size_t n,
                                             struct live_predict_calib *out)
{
    memset(out, 0, sizeof(*out));
    double *e = malloc((n + 1) * sizeof(double));
    if (!e)
        return LIVE_PREDICT_ERR_NOMEM;
    static const int hz[LIVE_AUDIT_NHORIZONS] = LIVE_AUDIT_HORIZONS_S;
    for (int b = 0; b < LIVE_PREDICT_NBANDS; b++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i].horizon_s == hz[b])
                e[m++] = (double)(s[i].actual_ms - s[i].pred_ms) / 1000;
        if (m < LIVE_PREDICT_CALIB_MIN)
            continue;
        qsort(e, m, sizeof(double), live_predict__cmp);
        out->n[b] = (int)m;
        out->lead_s[b] = hz[b];
        out->q10_s[b] = e[(size_t)(0.1 * (double)(m - 1))];
        out->q90_s[b] = e[(size_t)(0.9 * (double)(m - 1) + 0.5)];
    }
    free(e);
    return LIVE_PREDICT_OK;
}

/* The calibrated error quantiles at LEAD_S, linear between the calibrated
 * horizons either side (flat beyond the outermost). Returns
 * false when nothing is calibrated. */
static bool live_predict__calib_at(const struct live_predict_calib *c,
                                   double lead_s, double *q10, double *q90)
{
    int below = -1, above = -1;
    for (int b = 0; b < LIVE_PREDICT_NBANDS; b++) {
        if (!c->n[b])
            continue;
        if (c->lead_s[b] <= lead_s)
            below = b;
        else if (above < 0)
            above = b;
    }
    if (below < 0 && above < 0)
        return false;
    if (below < 0 || above < 0) {
        int b = below < 0 ? above : below;
        *q10 = c->q10_s[b];
        *q90 = c->q90_s[b];
        return true;
    }
    double u =
        (lead_s - c->lead_s[below]) / (c->lead_s[above] - c->lead_s[below]);
    *q10 = c->q10_s[below] + u * (c->q10_s[above] - c->q10_s[below]);
    *q90 = c->q90_s[below] + u * (c->q90_s[above] - c->q90_s[below]);
    return true;
}

struct live_predict *live_predict_new(const struct trips_feed *f,
                                      const struct live_hist *h,
                                      enum live_hist_day day,
                                      enum live_method m,
                                      const struct live_predict_params *pp)
{
    struct live_predict *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->f = f;
    p->h = h;
    p->day = day;
    p->m = m;
    if (pp)
        p->pp = *pp;
    else
        live_predict_params_default(&p->pp);
    size_t nseg = (size_t)live_hist_nsegments(h) + 1;
    p->arr_ms = malloc((f->nst + 1) * sizeof(int64_t));
    p->dep_ms = malloc((f->nst + 1) * sizeof(int64_t));
    p->missed = calloc(f->ntrips + 1, 1);
    p->seg = calloc(nseg, sizeof(*p->seg));
    p->pred = calloc(f->ntrips + 1, sizeof(*p->pred));
    p->stops = calloc(f->nst + 1, sizeof(*p->stops));
    if (!p->arr_ms || !p->dep_ms || !p->missed || !p->seg || !p->pred ||
        !p->stops) {
        live_predict_free(p);
        return NULL;
    }
    for (size_t i = 0; i < f->nst; i++)
        p->arr_ms[i] = p->dep_ms[i] = -1;
    for (size_t i = 0; i < nseg; i++) {
        p->seg[i].t_ms = -1;
        /* TransitClock starts the chain of errors with a guess */
        p->seg[i].kal_err = 50.0;
    }
    for (size_t t = 0; t < f->ntrips; t++) {
        p->pred[t].trip = (int)t;
        p->pred[t].vehicle = -1;
        p->pred[t].stops = &p->stops[f->trips[t].first];
        p->pred[t].nstops = f->trips[t].n;
    }
    /* a prior: history alone is as good as a 20 % error until shown */
    p->sk.mse_hist = p->sk.mse_seg = p->sk.mse_own = 0.04;
    return p;
}

void live_predict_free(struct live_predict *p)
{
    if (!p)
        return;
    free(p->arr_ms);
    free(p->dep_ms);
    free(p->missed);
    free(p->seg);
    free(p->veh);
    free(p->pred);
    free(p->stops);
    free(p);
}

static int32_t live_predict__tod(const struct live_predict *p, int64_t t_ms)
{
    return (int32_t)((t_ms - p->f->day_ms) / 1000);
}

static struct live_predict__veh *live_predict__veh(struct live_predict *p,
                                                   int vi)
{
    if (vi < 0 || vi > 1000000)
        return NULL;
    if ((size_t)vi >= p->nveh) {
        size_t n = (size_t)vi * 2 + 8;
        struct live_predict__veh *nv = realloc(p->veh, n * sizeof(*nv));
        if (!nv)
            return NULL;
        for (size_t i = p->nveh; i < n; i++) {
            nv[i].lr = nv[i].w = 0;
            nv[i].term_arr_ms = -1;
            nv[i].load = -1;
        }
        p->veh = nv;
        p->nveh = n;
    }
    return &p->veh[vi];
}

/* Weight left of evidence AGE_MS old. */
static double live_predict__decay(const struct live_predict *p, double age_ms)
{
    if (age_ms < 0)
        age_ms = 0;
    return exp2(-age_ms / (p->pp.half_life_s * 1000.0));
}

/* A segment was run: score the sources that would have foretold it, then
 * learn from it. */
static void live_predict__observe(struct live_predict *p,
                                  struct live_predict__veh *vh, int trip,
                                  int pos, int64_t dep_ms, int64_t arr_ms)
{
    struct live_hist_seg hs;
    live_hist_segment(p->h, trip, pos, p->day, live_predict__tod(p, dep_ms),
                      &hs);
    double run = (double)(arr_ms - dep_ms) / 1000.0;
    struct live_predict__seg *s = &p->seg[live_hist_segindex(p->h, trip, pos)];
    /* Kalman (TransitClock): gain from the carried error and the
     * history's variance; the error carried on is variance x gain. */
    if (s->t_ms >= 0) {
        double var = hs.var_s2 > 1 ? hs.var_s2 : 1;
        double g = s->kal_err / (s->kal_err + var);
        s->kal_err = var * g;
    }
    s->last_s = run;
    if (hs.med_s <= 1 || run <= 0) {
        s->t_ms = arr_ms;
        return;
    }
    double x = log(run / hs.med_s);
    const double a = 0.02; /* the skills' memory: about 50 segments */
    p->sk.mse_hist += a * (x * x - p->sk.mse_hist);
    if (s->t_ms >= 0 && s->w > 0) {
        double d = x - s->lr;
        double k = live_predict__decay(p, (double)(dep_ms - s->t_ms));
        /* evidence fades towards history as it ages */
        d = x - k * s->lr;
        p->sk.mse_seg += a * (d * d - p->sk.mse_seg);
    }
    if (vh && vh->w > 0) {
        double d = x - vh->lr;
        p->sk.mse_own += a * (d * d - p->sk.mse_own);
    }
    if (s->t_ms >= 0) {
        double k = live_predict__decay(p, (double)(arr_ms - s->t_ms));
        s->w = s->w * k + 1;
        s->lr = s->lr + (x - s->lr) / s->w;
    } else {
        s->w = 1;
        s->lr = x;
    }
    s->t_ms = arr_ms;
    if (vh) {
        /* a bus's pace: the last few segments count most */
        vh->w = vh->w * 0.6 + 1;
        vh->lr = vh->lr + (x - vh->lr) / vh->w;
    }
}

void live_predict_event(struct live_predict *p, const struct live_event *ev)
{
    const struct trips_feed *f = p->f;
    if (ev->trip < 0 || (size_t)ev->trip >= f->ntrips)
        return;
    if (ev->type == LIVE_EV_MISSED) {
        p->missed[ev->trip] = 1;
        return;
    }
    const struct trips_trip *tr = &f->trips[ev->trip];
    if (ev->pos < 0 || (size_t)ev->pos >= tr->n)
        return;
    size_t k = tr->first + (size_t)ev->pos;
    struct live_predict__veh *vh = live_predict__veh(p, ev->vehicle);
    switch (ev->type) {
    case LIVE_EV_ARRIVE:
        p->arr_ms[k] = ev->t_ms;
        if (ev->pos > 0 && p->dep_ms[k - 1] >= 0 && ev->t_ms > p->dep_ms[k - 1])
            live_predict__observe(p, vh, ev->trip, ev->pos - 1,
                                  p->dep_ms[k - 1], ev->t_ms);
        if (vh && (size_t)ev->pos + 1 == tr->n)
            vh->term_arr_ms = ev->t_ms;
        break;
    case LIVE_EV_DEPART:
        p->dep_ms[k] = ev->t_ms;
        if (p->arr_ms[k] < 0)
            p->arr_ms[k] = ev->t_ms;
        if (vh && ev->load_after >= 0)
            vh->load = ev->load_after;
        break;
    case LIVE_EV_TRIP_END:
    case LIVE_EV_MISSED:
        break;
    }
}

/* Predicted running time (s) of a segment for this method, and the two
 * sides of its spread, for a departure at DEP_MS made at NOW_MS with
 * AHEAD segments between the bus and this one. */
static double live_predict__run(struct live_predict *p,
                                const struct live_predict__veh *vh, int trip,
                                int pos, int64_t dep_ms, int64_t now_ms,
                                int ahead, double *lo_s, double *hi_s)
{
    struct live_hist_seg hs;
    live_hist_segment(p->h, trip, pos, p->day, live_predict__tod(p, dep_ms),
                      &hs);
    const struct live_predict__seg *s =
        &p->seg[live_hist_segindex(p->h, trip, pos)];
    const struct trips_stop_time *st =
        &p->f->st[p->f->trips[trip].first + (size_t)pos];
    double sched = st[1].arr_s - st[0].dep_s;
    double run = hs.med_s;
    double ratio = 1;
    switch (p->m) {
    case LIVE_METHOD_TIMETABLE:
    case LIVE_METHOD_DEVIATION:
        run = sched;
        break;
    case LIVE_METHOD_KALMAN:
        /* TransitClock: the previous bus today on this segment blended
         * with the historical average, gain = e / (e + var) */
        run = hs.mean_s;
        if (s->t_ms >= 0) {
            double var = hs.var_s2 > 1 ? hs.var_s2 : 1;
            double g = s->kal_err / (s->kal_err + var);
            run = g * hs.mean_s + (1 - g) * s->last_s;
        }
        break;
    case LIVE_METHOD_SHUTTLE: {
        /* inverse-error weights of history (log ratio 0), the buses
         * before on this segment (faded by age) and this bus's pace
         * (faded by how far ahead the segment is) */
        double wh = 1 / (p->sk.mse_hist + 1e-4);
        double ws = 0, wo = 0, num = 0;
        if (s->t_ms >= 0 && s->w > 0) {
            ws = live_predict__decay(p, (double)(dep_ms - s->t_ms)) /
                 (p->sk.mse_seg + 1e-4);
            num += ws * s->lr;
        }
        if (vh && vh->w > 0) {
            wo = pow(0.7, ahead) / (p->sk.mse_own + 1e-4);
            num += wo * vh->lr;
        }
        double lr = num / (wh + ws + wo);
        ratio = exp(lr);
        /* the evidence is a ratio to the median (its centre), applied to
         * the expected time, which is what segments add up to */
        run = hs.exp_s * ratio;
        break;
    }
    }
    (void)now_ms;
    double sl = (hs.med_s - hs.q10_s) * ratio,
           sh = (hs.q90_s - hs.med_s) * ratio;
    *lo_s = sl > 0 ? sl : 0;
    *hi_s = sh > 0 ? sh : 0;
    return run > 0 ? run : 0;
}

static void live_predict__sched(struct live_predict *p,
                                struct live_trip_pred *tp, size_t from,
                                enum live_kind kind)
{
    const struct trips_feed *f = p->f;
    const struct trips_trip *tr = &f->trips[tp->trip];
    for (size_t i = from; i < tr->n; i++) {
        struct live_stop_pred *sp = &tp->stops[i];
        sp->kind = kind;
        sp->arr_ms = sp->arr_lo_ms = sp->arr_hi_ms = sp->sched_arr_ms;
        sp->dep_ms = sp->sched_dep_ms;
        sp->load = -1;
    }
}

/* Fill the fixed part of each stop and the stops already passed. */
static void live_predict__init(struct live_predict *p,
                               struct live_trip_pred *tp, int64_t now_ms)
{
    const struct trips_feed *f = p->f;
    const struct trips_trip *tr = &f->trips[tp->trip];
    tp->made_ms = now_ms;
    tp->fix_ms = -1;
    tp->vehicle = -1;
    for (size_t i = 0; i < tr->n; i++) {
        const struct trips_stop_time *st = &f->st[tr->first + i];
        struct live_stop_pred *sp = &tp->stops[i];
        sp->pos = (int)i;
        sp->stop = st->stop;
        sp->sequence = st->sequence;
        sp->sched_arr_ms = trips_sched_ms(f, st->arr_s);
        sp->sched_dep_ms = trips_sched_ms(f, st->dep_s);
    }
}

const struct live_trip_pred *live_predict_trip(struct live_predict *p, int trip,
                                               int64_t now_ms)
{
    if (trip < 0 || (size_t)trip >= p->f->ntrips)
        return NULL;
    struct live_trip_pred *tp = &p->pred[trip];
    live_predict__init(p, tp, now_ms);
    tp->state = p->missed[trip] ? LIVE_TRIP_CANCELED : LIVE_TRIP_SCHEDULED;
    live_predict__sched(
        p, tp, 0, p->missed[trip] ? LIVE_KIND_CANCELED : LIVE_KIND_SCHEDULED);
    return tp;
}

/* Expected load after each stop from FROM on, starting with LOAD on board
 * (-1 unknown: all unknown). */
static void live_predict__load(struct live_predict *p,
                               struct live_trip_pred *tp, size_t from, int load)
{
    const struct trips_trip *tr = &p->f->trips[tp->trip];
    double l = load;
    for (size_t i = from; i < tr->n; i++) {
        struct live_stop_pred *sp = &tp->stops[i];
        if (load < 0) {
            sp->load = -1;
            continue;
        }
        double b, a;
        live_hist_flows(p->h, sp->stop, p->day,
                        live_predict__tod(p, sp->arr_ms), &b, &a);
        if (i + 1 == tr->n) {
            l = 0; /* everyone leaves at the last stop */
        } else {
            l -= a < l ? a : l;
            l += b;
        }
        sp->load = (int)lround(l);
    }
}

/* The share of a segment still to run, RUN_S expected in all, PART_S run so
 * far and DONE of its length behind the bus (< 0 unknown). Where the bus is
 * says more than how long it has been going: a bus stuck at a light has
 * run long but not got far, one that sped has got far. */
static double live_predict__left(double run_s, double part_s, double done)
{
    double frac;
    if (done >= 0 && done <= 1)
        frac = 1 - done;
    else
        frac = run_s > 1 ? (run_s - part_s) / run_s : 0;
    /* never quite there while still between the stops */
    return frac < 1.0 / 20 ? 1.0 / 20 : frac;
}

/*
 * Predict TP's stops from position FROM on, the bus leaving FROM (or, when
 * PART_S > 0, partway along the segment FROM -> FROM + 1 with PART_S
 * seconds of it already run and DONE of its length behind it, < 0 unknown)
 * at T_MS. DELAY_S: the schedule deviation
 * (deviation method). Returns the predicted arrival at the last stop.
 */
static int64_t live_predict__ahead(struct live_predict *p,
                                   const struct live_predict__veh *vh,
                                   struct live_trip_pred *tp, size_t from,
                                   int64_t t_ms, double part_s, double done,
                                   int64_t now_ms, double delay_s)
{
    const struct trips_feed *f = p->f;
    const struct trips_trip *tr = &f->trips[tp->trip];
    double var_lo = 0, var_hi = 0, lin_lo = 0, lin_hi = 0;
    int64_t t = t_ms;
    for (size_t i = from; i + 1 < tr->n; i++) {
        double slo, shi;
        int ahead = (int)(i - from);
        double run = live_predict__run(p, vh, tp->trip, (int)i, t, now_ms,
                                       ahead, &slo, &shi);
        if (i == from && part_s > 0) {
            double frac = live_predict__left(run, part_s, done);
            double left = run * frac;
            run = left;
            slo *= frac;
            shi *= frac;
        }
        struct live_stop_pred *sp = &tp->stops[i + 1];
        /* partway, what is left runs from now */
        int64_t base = (i == from && part_s > 0) ? now_ms : t;
        int64_t arr = base + (int64_t)llround(run * 1000);
        if (p->m == LIVE_METHOD_TIMETABLE) {
            arr = sp->sched_arr_ms;
        } else if (p->m == LIVE_METHOD_DEVIATION) {
            arr = sp->sched_arr_ms + (int64_t)llround(delay_s * 1000);
        }
        var_lo += slo * slo;
        var_hi += shi * shi;
        lin_lo += slo;
        lin_hi += shi;
        /* segments share the day's traffic: between independent (root of
         * squares) and fully correlated (sum) */
        double wlo = 0.5 * (sqrt(var_lo) + lin_lo) * p->pp.interval_k;
        double whi = 0.5 * (sqrt(var_hi) + lin_hi) * p->pp.interval_k;
        if (wlo < p->pp.interval_min_s)
            wlo = p->pp.interval_min_s;
        if (whi < p->pp.interval_min_s)
            whi = p->pp.interval_min_s;
        double q10, q90;
        if (live_predict__calib_at(&p->pp.cal, (double)(arr - now_ms) / 1000,
                                   &q10, &q90)) {
            /* what past days' errors at this lead were; the interval
             * still holds the estimate */
            wlo = q10 < 0 ? -q10 : 0;
            whi = q90 > 0 ? q90 : 0;
        }
        sp->kind = LIVE_KIND_PREDICTED;
        sp->arr_ms = arr;
        sp->arr_lo_ms = arr - (int64_t)llround(wlo * 1000);
        sp->arr_hi_ms = arr + (int64_t)llround(whi * 1000);
        int64_t dep;
        if (i + 2 == tr->n) {
            dep = arr;
        } else if (p->m == LIVE_METHOD_DEVIATION ||
                   p->m == LIVE_METHOD_TIMETABLE) {
            /* OneBusAway: a late bus makes up the schedule's slack */
            dep = arr > sp->sched_dep_ms
                      ? arr
                      : arr + (sp->sched_dep_ms - sp->sched_arr_ms);
            if (p->m == LIVE_METHOD_DEVIATION && delay_s > 0) {
                double slack =
                    (double)(sp->sched_dep_ms - sp->sched_arr_ms) / 1000;
                delay_s = delay_s > slack ? delay_s - slack : 0;
                dep = sp->sched_dep_ms + (int64_t)llround(delay_s * 1000);
            }
        } else {
            double dw = live_hist_dwell(p->h, tp->trip, (int)i + 1, p->day,
                                        live_predict__tod(p, arr));
            dep = arr + (int64_t)llround(dw * 1000);
        }
        sp->dep_ms = dep;
        t = dep;
    }
    return tr->n > 0 ? tp->stops[tr->n - 1].arr_ms : t_ms;
}

/* How long (ms) a bus coming in late takes from its last trip's end to
 * leaving on TRIP. The baselines keep the fixed minimum layover; ours uses
 * the turnaround learnt for that trip (the rest, the drive to its first
 * stop and the boarding there), which the fixed rule leaves out. */
static int64_t live_predict__turn(const struct live_predict *p, int trip)
{
    double t = p->m == LIVE_METHOD_SHUTTLE ? live_hist_turn(p->h, trip) : -1;
    if (t < 0)
        return p->pp.min_layover_s * 1000LL;
    return (int64_t)llround(t * 1000);
}

/* How much of the segment FROM -> FROM + 1 of TR the bus V has behind it,
 * 0..1, -1 unknown. The tracker's schedule deviation is measured at the
 * bus's distance along the line against the timetable interpolated by
 * distance, so the scheduled time at that point gives the share back. */
static double live_predict__done(const struct trips_feed *f,
                                 const struct trips_trip *tr, size_t from,
                                 const struct live_vehicle *v, int64_t now_ms)
{
    (void)now_ms;
    if (from + 1 >= tr->n || v->fix_ms < 0)
        return -1;
    int64_t a = trips_sched_ms(f, f->st[tr->first + from].dep_s);
    int64_t b = trips_sched_ms(f, f->st[tr->first + from + 1].arr_s);
    if (b - a < 1000)
        return -1;
    double at = (double)v->fix_ms - (double)v->delay_s * 1000;
    double u = (at - (double)a) / (double)(b - a);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

const struct live_trip_pred *
live_predict_vehicle(struct live_predict *p, int vi,
                     const struct live_vehicle *v, int64_t now_ms,
                     const struct live_trip_pred **next)
{
    const struct trips_feed *f = p->f;
    *next = NULL;
    if (v->trip < 0 || (size_t)v->trip >= f->ntrips)
        return NULL;
    struct live_predict__veh *vh = live_predict__veh(p, vi);
    struct live_trip_pred *tp = &p->pred[v->trip];
    const struct trips_trip *tr = &f->trips[v->trip];
    live_predict__init(p, tp, now_ms);
    tp->vehicle = vi;
    tp->fix_ms = v->fix_ms;
    tp->state = LIVE_TRIP_ACTIVE;
    int cur = v->pos < (int)tr->n ? v->pos : (int)tr->n - 1;
    /* stops behind: what happened */
    for (int i = 0; i <= cur; i++) {
        struct live_stop_pred *sp = &tp->stops[i];
        size_t k = tr->first + (size_t)i;
        sp->kind = LIVE_KIND_DEPARTED;
        sp->arr_ms = sp->arr_lo_ms = sp->arr_hi_ms = p->arr_ms[k];
        sp->dep_ms = p->dep_ms[k];
        sp->load = -1;
    }
    bool stale = v->status == LIVE_STATUS_STALE ||
                 v->status == LIVE_STATUS_UNKNOWN || v->fix_ms < 0 ||
                 now_ms - v->fix_ms > LIVE_STALE_MS;
    if (stale) {
        /* no live data: the schedule shown as schedule */
        live_predict__sched(p, tp, (size_t)(cur + 1), LIVE_KIND_SCHEDULED);
        if (v->block_next >= 0)
            *next = live_predict_trip(p, v->block_next, now_ms);
        return tp;
    }
    int load = v->load >= 0 ? v->load : (vh ? vh->load : -1);
    double delay = v->delay_s;
    int64_t t0;
    double part = 0, done = -1;
    size_t from;
    if (cur < 0) {
        /* in layover or driving to the first stop: it leaves at the
         * scheduled time, or after its minimum rest */
        from = 0;
        struct live_stop_pred *sp = &tp->stops[0];
        int64_t ready = now_ms;
        if (vh && vh->term_arr_ms >= 0) {
            int64_t r = vh->term_arr_ms + live_predict__turn(p, v->trip);
            ready = r > ready ? r : ready;
        }
        t0 = ready > sp->sched_dep_ms ? ready : sp->sched_dep_ms;
        sp->kind = LIVE_KIND_PREDICTED;
        sp->arr_ms = sp->arr_lo_ms = sp->arr_hi_ms =
            now_ms < sp->sched_arr_ms ? sp->sched_arr_ms : now_ms;
        sp->dep_ms = t0;
        delay = (double)(t0 - sp->sched_dep_ms) / 1000;
        if (p->m == LIVE_METHOD_TIMETABLE)
            sp->dep_ms = sp->sched_dep_ms;
        sp->load = load >= 0 ? load : -1;
        load = load >= 0 ? 0 : -1;
        if (load >= 0) {
            double b, a;
            live_hist_flows(p->h, sp->stop, p->day, live_predict__tod(p, t0),
                            &b, &a);
            load = (int)lround(b);
            sp->load = load;
        }
    } else {
        from = (size_t)cur;
        size_t k = tr->first + from;
        struct live_stop_pred *sp = &tp->stops[from];
        /* passed while no fix came (the tracker saw no visit): it goes on
         * from where it is, now */
        bool unseen = p->arr_ms[k] < 0 && p->dep_ms[k] < 0 && from > 0 &&
                      v->status != LIVE_STATUS_AT_STOP;
        if (unseen) {
            t0 = now_ms;
            part = 0.001;
        } else if (v->status == LIVE_STATUS_AT_STOP || p->dep_ms[k] < 0) {
            /* still at the stop: leaves after its dwell */
            double dw = from == 0
                            ? 0
                            : live_hist_dwell(p->h, v->trip, cur, p->day,
                                              live_predict__tod(p, now_ms));
            int64_t a = p->arr_ms[k] >= 0 ? p->arr_ms[k] : now_ms;
            t0 = a + (int64_t)llround(dw * 1000);
            if (t0 < now_ms)
                t0 = now_ms;
            if (from == 0 && t0 < sp->sched_dep_ms)
                t0 = sp->sched_dep_ms;
            sp->kind = LIVE_KIND_PREDICTED;
            sp->arr_ms = sp->arr_lo_ms = sp->arr_hi_ms = a;
            sp->dep_ms = t0;
        } else {
            t0 = p->dep_ms[k];
            part = (double)(now_ms - t0) / 1000;
            if (part <= 0)
                part = 0.001;
            done = live_predict__done(f, tr, from, v, now_ms);
        }
    }
    int64_t end = tp->stops[tr->n - 1].arr_ms;
    if (from + 1 < tr->n)
        end =
            live_predict__ahead(p, vh, tp, from, t0, part, done, now_ms, delay);
    live_predict__load(p, tp, from + 1, load);
    if (v->block_next < 0 || (size_t)v->block_next >= f->ntrips)
        return tp;
    /* the next trip of the block inherits the lateness */
    int nt = v->block_next;
    if (p->missed[nt]) {
        *next = live_predict_trip(p, nt, now_ms);
        return tp;
    }
    struct live_trip_pred *np = &p->pred[nt];
    const struct trips_trip *ntr = &f->trips[nt];
    live_predict__init(p, np, now_ms);
    np->vehicle = vi;
    np->fix_ms = v->fix_ms;
    np->state = LIVE_TRIP_NEXT;
    struct live_stop_pred *s0 = &np->stops[0];
    int64_t ready = end + live_predict__turn(p, nt);
    int64_t d0 = ready > s0->sched_dep_ms ? ready : s0->sched_dep_ms;
    if (p->m == LIVE_METHOD_TIMETABLE)
        d0 = s0->sched_dep_ms;
    s0->kind = LIVE_KIND_PREDICTED;
    s0->arr_ms = end > s0->sched_arr_ms ? end : s0->sched_arr_ms;
    s0->arr_lo_ms = s0->arr_hi_ms = s0->arr_ms;
    s0->dep_ms = d0;
    s0->load = -1;
    if (ntr->n > 1)
        live_predict__ahead(p, NULL, np, 0, d0, 0, -1, now_ms,
                            (double)(d0 - s0->sched_dep_ms) / 1000);
    if (load >= 0) {
        double b, a;
        live_hist_flows(p->h, s0->stop, p->day, live_predict__tod(p, d0), &b,
                        &a);
        s0->load = (int)lround(b);
        live_predict__load(p, np, 1, s0->load);
    } else {
        live_predict__load(p, np, 1, -1);
    }
    *next = np;
    return tp;
}
