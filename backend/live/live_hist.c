/* live_hist: running times, dwell and flows learnt from past stop visits. */
#include "live_hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_HIST__NHOURS 30
#define LIVE_HIST__MAX_SEG_MS (2 * 3600 * 1000)

struct live_hist__vec {
    float *v;
    size_t n, cap;
};

struct live_hist__stat {
    float med, q10, q90, mean, var, exp;
    int n;
};

struct live_hist__flow {
    double boarded, alighted;
    int n;
};

struct live_hist {
    const struct trips_feed *f;
    int *pat_base; /* per pattern: first index of its positions */
    int *pat_trip; /* per pattern: a trip of it (for stop lookups) */
    int npos;      /* pattern positions over all patterns */
    /* running-time samples and statistics, [npos][NDAYS][NBUCKETS] */
    struct live_hist__vec *seg;
    struct live_hist__stat *seg_st;
    struct live_hist__stat *seg_day; /* [npos][NDAYS]: all day */
    struct live_hist__stat *seg_any; /* [npos] */
    /* dwell samples and medians, [npos][NDAYS][NHOURS] */
    struct live_hist__vec *dwell;
    struct live_hist__stat *dwell_st;
    struct live_hist__flow *flow; /* [nstops][NDAYS][NHOURS] */
    /* the day being added */
    int64_t day_ms;
    int day;
    int ndays;
    int *last_pos;
    int64_t *last_dep;
    /* turnarounds: per trip its block's trip before (-1), the day's first
     * departure and last arrival, the samples and their medians */
    int *prev;
    int64_t *day_dep0, *day_arr1;
    struct live_hist__vec *turn;
    struct live_hist__stat *turn_st;
};

static int live_hist__pidx(const struct live_hist *h, int trip, int pos)
{
    return h->pat_base[h->f->trips[trip].pattern] + pos;
}

static int live_hist__hour(int32_t tod_s)
{
    int hr = tod_s < 0 ? 0 : tod_s / 3600;
    return hr >= LIVE_HIST__NHOURS ? LIVE_HIST__NHOURS - 1 : hr;
}

static int live_hist__bucket(int32_t tod_s)
{
    int b = tod_s < 0 ? 0 : tod_s / LIVE_HIST_BUCKET_S;
    return b >= LIVE_HIST_NBUCKETS ? LIVE_HIST_NBUCKETS - 1 : b;
}

struct live_hist *live_hist_new(const struct trips_feed *f)
{
    struct live_hist *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->f = f;
    h->day = -1;
    int np = f->npatterns > 0 ? f->npatterns : 1;
    h->pat_base = calloc((size_t)np, sizeof(int));
    h->pat_trip = malloc((size_t)np * sizeof(int));
    h->last_pos = malloc((f->ntrips + 1) * sizeof(int));
    h->last_dep = malloc((f->ntrips + 1) * sizeof(int64_t));
    h->prev = malloc((f->ntrips + 1) * sizeof(int));
    h->day_dep0 = malloc((f->ntrips + 1) * sizeof(int64_t));
    h->day_arr1 = malloc((f->ntrips + 1) * sizeof(int64_t));
    h->turn = calloc(f->ntrips + 1, sizeof(*h->turn));
    h->turn_st = calloc(f->ntrips + 1, sizeof(*h->turn_st));
    if (!h->pat_base || !h->pat_trip || !h->last_pos || !h->last_dep ||
        !h->prev || !h->day_dep0 || !h->day_arr1 || !h->turn || !h->turn_st)
        goto fail;
    for (size_t t = 0; t < f->ntrips; t++)
        h->prev[t] = -1, h->day_dep0[t] = h->day_arr1[t] = -1;
    for (size_t t = 0; t < f->ntrips; t++) {
        int n = trips_block_next(f, t);
        if (n >= 0 && (size_t)n < f->ntrips)
            h->prev[n] = (int)t;
    }
    for (int i = 0; i < np; i++)
        h->pat_trip[i] = -1;
    for (size_t t = 0; t < f->ntrips; t++) {
        int p = f->trips[t].pattern;
        if (p >= 0 && p < np && h->pat_trip[p] < 0)
            h->pat_trip[p] = (int)t;
    }
    for (int p = 0; p < np; p++) {
        h->pat_base[p] = h->npos;
        if (h->pat_trip[p] >= 0)
            h->npos += (int)f->trips[h->pat_trip[p]].n;
    }
    size_t nseg = (size_t)(h->npos + 1) * LIVE_HIST_NDAYS * LIVE_HIST_NBUCKETS;
    size_t ndw = (size_t)(h->npos + 1) * LIVE_HIST_NDAYS * LIVE_HIST__NHOURS;
    size_t nfl = (f->nstops + 1) * LIVE_HIST_NDAYS * LIVE_HIST__NHOURS;
    h->seg = calloc(nseg, sizeof(*h->seg));
    h->seg_st = calloc(nseg, sizeof(*h->seg_st));
    h->seg_day =
        calloc((size_t)(h->npos + 1) * LIVE_HIST_NDAYS, sizeof(*h->seg_day));
    h->seg_any = calloc((size_t)(h->npos + 1), sizeof(*h->seg_any));
    h->dwell = calloc(ndw, sizeof(*h->dwell));
    h->dwell_st = calloc(ndw, sizeof(*h->dwell_st));
    h->flow = calloc(nfl, sizeof(*h->flow));
    if (!h->seg || !h->seg_st || !h->seg_day || !h->seg_any || !h->dwell ||
        !h->dwell_st || !h->flow)
        goto fail;
    return h;
fail:
    live_hist_free(h);
    return NULL;
}

void live_hist_free(struct live_hist *h)
{
    if (!h)
        return;
    if (h->seg) {
        size_t nseg =
            (size_t)(h->npos + 1) * LIVE_HIST_NDAYS * LIVE_HIST_NBUCKETS;
        for (size_t i = 0; i < nseg; i++)
            free(h->seg[i].v);
    }
    if (h->dwell) {
        size_t ndw =
            (size_t)(h->npos + 1) * LIVE_HIST_NDAYS * LIVE_HIST__NHOURS;
        for (size_t i = 0; i < ndw; i++)
            free(h->dwell[i].v);
    }
    free(h->seg);
    free(h->seg_st);
    free(h->seg_day);
    free(h->seg_any);
    free(h->dwell);
    free(h->dwell_st);
    free(h->flow);
    free(h->pat_base);
    free(h->pat_trip);
    free(h->last_pos);
    free(h->last_dep);
    if (h->turn)
        for (size_t t = 0; t < h->f->ntrips; t++)
            free(h->turn[t].v);
    free(h->turn);
    free(h->turn_st);
    free(h->prev);
    free(h->day_dep0);
    free(h->day_arr1);
    free(h);
}

static int live_hist__push(struct live_hist__vec *v, float x);

/* The turnarounds of the day being added, once: a late departure (over
 * 30 s behind the timetable) was set by the bus coming in, not by the
 * timetable, so only those say how long a turnaround takes. */
static enum live_hist_err live_hist__turns(struct live_hist *h)
{
    const struct trips_feed *f = h->f;
    enum live_hist_err rc = LIVE_HIST_OK;
    for (size_t t = 0; t < f->ntrips; t++) {
        int pv = h->prev[t];
        int64_t d0 = h->day_dep0[t];
        if (pv >= 0 && d0 >= 0 && h->day_arr1[pv] >= 0) {
            int64_t sched =
                h->day_ms + (int64_t)f->st[f->trips[t].first].dep_s * 1000;
            int64_t turn = d0 - h->day_arr1[pv];
            if (d0 > sched + 30000 && turn >= 0 &&
                turn <= LIVE_HIST__MAX_SEG_MS &&
                live_hist__push(&h->turn[t], (float)turn / 1000.0f) < 0)
                rc = LIVE_HIST_ERR_NOMEM;
        }
    }
    for (size_t t = 0; t < f->ntrips; t++)
        h->day_dep0[t] = h->day_arr1[t] = -1;
    return rc;
}

void live_hist_day_begin(struct live_hist *h, int64_t day_ms,
                         enum live_hist_day day)
{
    /* out of memory here loses one day's turnarounds, nothing else */
    if (h->day >= 0)
        (void)live_hist__turns(h);
    h->day_ms = day_ms;
    h->day = (int)day;
    h->ndays++;
    for (size_t t = 0; t < h->f->ntrips; t++) {
        h->last_pos[t] = -1;
        h->last_dep[t] = -1;
    }
}

int live_hist_segindex(const struct live_hist *h, int trip, int pos)
{
    return live_hist__pidx(h, trip, pos);
}

int live_hist_nsegments(const struct live_hist *h)
{
    return h->npos;
}

int live_hist_ndays(const struct live_hist *h)
{
    return h->ndays;
}

static int live_hist__push(struct live_hist__vec *v, float x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        float *nv = realloc(v->v, cap * sizeof(float));
        if (!nv)
            return -1;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

enum live_hist_err live_hist_add_visit(struct live_hist *h,
                                       const struct live_hist_visit *v)
{
    const struct trips_feed *f = h->f;
    if (h->day < 0 || v->trip < 0 || (size_t)v->trip >= f->ntrips ||
        v->pos < 0 || (size_t)v->pos >= f->trips[v->trip].n ||
        f->trips[v->trip].pattern < 0)
        return LIVE_HIST_ERR_ARG;
    const struct trips_trip *tr = &f->trips[v->trip];
    const struct trips_stop_time *st = &f->st[tr->first + (size_t)v->pos];
    int pi = live_hist__pidx(h, v->trip, v->pos);
    int hr = live_hist__hour(st->arr_s);
    /* a segment: the previous position of the same trip, just before */
    if (v->arr_ms >= 0 && h->last_pos[v->trip] == v->pos - 1 &&
        h->last_dep[v->trip] >= 0) {
        int64_t run = v->arr_ms - h->last_dep[v->trip];
        if (run >= 0 && run <= LIVE_HIST__MAX_SEG_MS) {
            int32_t tod = (int32_t)((h->last_dep[v->trip] - h->day_ms) / 1000);
            size_t k = ((size_t)(pi - 1) * LIVE_HIST_NDAYS + (size_t)h->day) *
                           LIVE_HIST_NBUCKETS +
                       (size_t)live_hist__bucket(tod);
            if (live_hist__push(&h->seg[k], (float)run / 1000.0f) < 0)
                return LIVE_HIST_ERR_NOMEM;
        }
    }
    /* dwell at intermediate stops: at the terminals it is layover */
    if (v->arr_ms >= 0 && v->dep_ms >= v->arr_ms && v->pos > 0 &&
        (size_t)v->pos + 1 < tr->n &&
        v->dep_ms - v->arr_ms <= LIVE_HIST__MAX_SEG_MS) {
        size_t k = ((size_t)pi * LIVE_HIST_NDAYS + (size_t)h->day) *
                       LIVE_HIST__NHOURS +
                   (size_t)hr;
        if (live_hist__push(&h->dwell[k],
                            (float)(v->dep_ms - v->arr_ms) / 1000.0f) < 0)
            return LIVE_HIST_ERR_NOMEM;
    }
    if (v->boarded >= 0 && v->alighted >= 0) {
        struct live_hist__flow *fl =
            &h->flow[((size_t)st->stop * LIVE_HIST_NDAYS + (size_t)h->day) *
                         LIVE_HIST__NHOURS +
                     (size_t)hr];
        fl->boarded += v->boarded;
        fl->alighted += v->alighted;
        fl->n++;
    }
    if (v->pos == 0 && v->dep_ms >= 0)
        h->day_dep0[v->trip] = v->dep_ms;
    if ((size_t)v->pos + 1 == tr->n && v->arr_ms >= 0)
        h->day_arr1[v->trip] = v->arr_ms;
    h->last_pos[v->trip] = v->pos;
    h->last_dep[v->trip] = v->dep_ms >= 0 ? v->dep_ms : v->arr_ms;
    return LIVE_HIST_OK;
}

static int live_hist__cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Quantile Q of sorted X (linear between ranks). */
static float live_hist__q(const float *x, size_t n, double q)
{
    double r = q * (double)(n - 1);
    size_t i = (size_t)r;
    if (i + 1 >= n)
        return x[n - 1];
    return (float)(x[i] + (r - (double)i) * (x[i + 1] - x[i]));
}

static void live_hist__stat(float *x, size_t n, struct live_hist__stat *s)
{
    memset(s, 0, sizeof(*s));
    if (n == 0)
        return;
    qsort(x, n, sizeof(float), live_hist__cmp);
    s->med = live_hist__q(x, n, 0.5);
    s->q10 = live_hist__q(x, n, 0.1);
    s->q90 = live_hist__q(x, n, 0.9);
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    s->mean = (float)(sum / (double)n);
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->var = (float)(ss / (double)n);
    /* The expected value: sums of running times and dwells are what a
     * prediction adds up, and their median is nearer the sum of means than
     * the sum of medians (red lights, riders: the times are skewed late);
     * clipping the outer 5 % keeps one stuck day from dragging it. */
    float lo = live_hist__q(x, n, 0.05), hi = live_hist__q(x, n, 0.95);
    double cs = 0;
    for (size_t i = 0; i < n; i++)
        cs += x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    s->exp = (float)(cs / (double)n);
    s->n = (int)n;
}

enum live_hist_err live_hist_finish(struct live_hist *h)
{
    return live_hist_finish_range(h, 0, h->npos);
}

enum live_hist_err live_hist_finish_range(struct live_hist *h, int from, int n)
{
    struct live_hist__vec pool = {0}, any = {0};
    enum live_hist_err rc = LIVE_HIST_OK;
    int to = from + n < h->npos ? from + n : h->npos;

    if (from < 0)
        return LIVE_HIST_ERR_ARG;
    /* Turnarounds are per trip, not per position: with the first range. */
    if (from == 0) {
        rc = h->day >= 0 ? live_hist__turns(h) : LIVE_HIST_OK;
        for (size_t t = 0; t < h->f->ntrips; t++)
            live_hist__stat(h->turn[t].v, h->turn[t].n, &h->turn_st[t]);
    }
    for (int p = from; p < to && rc == LIVE_HIST_OK; p++) {
        any.n = 0;
        for (int d = 0; d < LIVE_HIST_NDAYS && rc == LIVE_HIST_OK; d++) {
            pool.n = 0;
            for (int b = 0; b < LIVE_HIST_NBUCKETS; b++) {
                size_t k = ((size_t)p * LIVE_HIST_NDAYS + (size_t)d) *
                               LIVE_HIST_NBUCKETS +
                           (size_t)b;
                struct live_hist__vec *v = &h->seg[k];
                for (size_t i = 0; i < v->n && rc == LIVE_HIST_OK; i++)
                    if (live_hist__push(&pool, v->v[i]) < 0 ||
                        live_hist__push(&any, v->v[i]) < 0)
                        rc = LIVE_HIST_ERR_NOMEM;
                live_hist__stat(v->v, v->n, &h->seg_st[k]);
            }
            live_hist__stat(pool.v, pool.n,
                            &h->seg_day[(size_t)p * LIVE_HIST_NDAYS + d]);
            for (int hr = 0; hr < LIVE_HIST__NHOURS; hr++) {
                size_t k = ((size_t)p * LIVE_HIST_NDAYS + (size_t)d) *
                               LIVE_HIST__NHOURS +
                           (size_t)hr;
                live_hist__stat(h->dwell[k].v, h->dwell[k].n, &h->dwell_st[k]);
            }
        }
        live_hist__stat(any.v, any.n, &h->seg_any[p]);
    }
    free(pool.v);
    free(any.v);
    return rc;
}

static void live_hist__out(const struct live_hist__stat *s,
                           enum live_hist_level lvl, struct live_hist_seg *o)
{
    o->med_s = s->med;
    o->q10_s = s->q10;
    o->q90_s = s->q90;
    o->mean_s = s->mean;
    o->var_s2 = s->var;
    o->exp_s = s->exp;
    o->n = s->n;
    o->level = lvl;
}

/* Fewer samples than this in a bucket and its neighbours are used. */
#define LIVE_HIST__MIN_N 3

void live_hist_segment(const struct live_hist *h, int trip, int pos,
                       enum live_hist_day day, int32_t tod_s,
                       struct live_hist_seg *out)
{
    const struct trips_feed *f = h->f;
    const struct trips_trip *tr = &f->trips[trip];
    int pi = live_hist__pidx(h, trip, pos);
    int b = live_hist__bucket(tod_s);
    const struct live_hist__stat *row =
        &h->seg_st[((size_t)pi * LIVE_HIST_NDAYS + (size_t)day) *
                   LIVE_HIST_NBUCKETS];
    if (row[b].n >= LIVE_HIST__MIN_N) {
        live_hist__out(&row[b], LIVE_HIST_BUCKET, out);
        return;
    }
    /* neighbours: the sample-weighted blend of the buckets either side */
    int n = row[b].n;
    double w = 0, med = 0, q10 = 0, q90 = 0, mean = 0, var = 0, ex = 0;
    for (int d = -1; d <= 1; d++) {
        int k = b + d;
        if (k < 0 || k >= LIVE_HIST_NBUCKETS || row[k].n == 0)
            continue;
        double wk = row[k].n * (d == 0 ? 2.0 : 1.0);
        w += wk;
        med += wk * row[k].med;
        q10 += wk * row[k].q10;
        q90 += wk * row[k].q90;
        mean += wk * row[k].mean;
        var += wk * row[k].var;
        ex += wk * row[k].exp;
        if (d != 0)
            n += row[k].n;
    }
    if (n >= LIVE_HIST__MIN_N && w > 0) {
        out->med_s = med / w;
        out->q10_s = q10 / w;
        out->q90_s = q90 / w;
        out->mean_s = mean / w;
        out->var_s2 = var / w;
        out->exp_s = ex / w;
        out->n = n;
        out->level = LIVE_HIST_NEIGHBOUR;
        return;
    }
    const struct live_hist__stat *s =
        &h->seg_day[(size_t)pi * LIVE_HIST_NDAYS + (size_t)day];
    if (s->n >= LIVE_HIST__MIN_N) {
        live_hist__out(s, LIVE_HIST_ALLDAY, out);
        return;
    }
    if (h->seg_any[pi].n >= LIVE_HIST__MIN_N) {
        live_hist__out(&h->seg_any[pi], LIVE_HIST_ANYDAY, out);
        return;
    }
    const struct trips_stop_time *st = &f->st[tr->first + (size_t)pos];
    double sched = (pos + 1 < (int)tr->n) ? st[1].arr_s - st[0].dep_s : 0;
    if (sched < 0)
        sched = 0;
    out->med_s = out->mean_s = out->exp_s = sched;
    /* without history, a fifth either way is what buses usually vary by */
    out->q10_s = sched * 0.85;
    out->q90_s = sched * 1.25;
    out->var_s2 = (sched * 0.15) * (sched * 0.15);
    out->n = 0;
    out->level = LIVE_HIST_TIMETABLE;
}

double live_hist_dwell(const struct live_hist *h, int trip, int pos,
                       enum live_hist_day day, int32_t tod_s)
{
    const struct trips_trip *tr = &h->f->trips[trip];
    const struct trips_stop_time *st = &h->f->st[tr->first + (size_t)pos];
    int pi = live_hist__pidx(h, trip, pos);
    int hr = live_hist__hour(tod_s);
    const struct live_hist__stat *row =
        &h->dwell_st[((size_t)pi * LIVE_HIST_NDAYS + (size_t)day) *
                     LIVE_HIST__NHOURS];
    if (row[hr].n >= LIVE_HIST__MIN_N)
        return row[hr].exp;
    for (int d = 1; d < LIVE_HIST__NHOURS; d++) {
        if (hr - d >= 0 && row[hr - d].n >= LIVE_HIST__MIN_N)
            return row[hr - d].exp;
        if (hr + d < LIVE_HIST__NHOURS && row[hr + d].n >= LIVE_HIST__MIN_N)
            return row[hr + d].exp;
    }
    return st->dep_s - st->arr_s;
}

void live_hist_flows(const struct live_hist *h, int stop,
                     enum live_hist_day day, int32_t tod_s, double *boarded,
                     double *alighted)
{
    *boarded = *alighted = 0;
    if (stop < 0 || (size_t)stop >= h->f->nstops)
        return;
    const struct live_hist__flow *fl =
        &h->flow[((size_t)stop * LIVE_HIST_NDAYS + (size_t)day) *
                     LIVE_HIST__NHOURS +
                 (size_t)live_hist__hour(tod_s)];
    if (fl->n > 0) {
        *boarded = fl->boarded / fl->n;
        *alighted = fl->alighted / fl->n;
    }
}

double live_hist_turn(const struct live_hist *h, int trip)
{
    if (trip < 0 || (size_t)trip >= h->f->ntrips ||
        h->turn_st[trip].n < LIVE_HIST__MIN_N)
        return -1;
    return h->turn_st[trip].med;
}
