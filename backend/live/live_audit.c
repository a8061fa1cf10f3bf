/* live_audit: samples predictions at fixed horizons, scores them on
 * arrival and sums the scores per lead-time bucket. */
#include "live_audit.h"

#include <stdlib.h>
#include <string.h>

static const int live_audit__horizons[LIVE_AUDIT_NHORIZONS] =
    LIVE_AUDIT_HORIZONS_S;

/* A sample waiting for its arrival: a node of its stop's list, or of the
 * free list. */
struct live_audit__pend {
    int next; /* index in the pool; -1 end */
    int vehicle, stop, hi_idx;
    int64_t made_ms, pred_ms, lo_ms, hi_ms;
};

struct live_audit {
    const struct trips_feed *f;
    uint8_t *done; /* per stop time: bit i = horizon i sampled or closed */
    int *head;     /* per stop time: first pending sample; -1 none */
    struct live_audit__pend *pool;
    size_t npool, cappool;
    int freelist;
    size_t npending;
};

#define LIVE_AUDIT__ALL ((uint8_t)((1u << LIVE_AUDIT_NHORIZONS) - 1u))

int live_audit_slack_s(int horizon_s)
{
    int q = horizon_s / 4;
    return q < 30 ? 30 : q;
}

bool live_audit_accurate(double lead_s, double err_s)
{
    /* Transit's ETA benchmark, per lead bucket: {upper lead, early, late} */
    static const double rule[4][3] = {
        {180.0, -30.0, 90.0},
        {360.0, -60.0, 150.0},
        {600.0, -60.0, 210.0},
        {900.0, -90.0, 270.0},
    };
    for (int i = 0; i < 4; i++) {
        if (lead_s <= rule[i][0])
            return err_s >= rule[i][1] && err_s <= rule[i][2];
    }
    return false;
}

int live_audit_bucket_of(double lead_s)
{
    static const double upper[LIVE_AUDIT_NBUCKETS] = {180.0, 360.0, 600.0,
                                                      900.0, 1800.0};
    for (int i = 0; i < LIVE_AUDIT_NBUCKETS; i++) {
        if (lead_s <= upper[i])
            return i;
    }
    return -1;
}

enum live_audit_err live_audit_new(const struct trips_feed *f,
                                   struct live_audit **out)
{
    if (f == NULL || out == NULL)
        return LIVE_AUDIT_ERR_ARG;
    *out = NULL;
    struct live_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return LIVE_AUDIT_ERR_NOMEM;
    a->f = f;
    a->freelist = -1;
    size_t n = f->nst > 0 ? f->nst : 1;
    a->done = calloc(n, sizeof(*a->done));
    a->head = malloc(n * sizeof(*a->head));
    if (a->done == NULL || a->head == NULL) {
        live_audit_free(a);
        return LIVE_AUDIT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        a->head[i] = -1;
    *out = a;
    return LIVE_AUDIT_OK;
}

void live_audit_free(struct live_audit *a)
{
    if (a == NULL)
        return;
    free(a->done);
    free(a->head);
    free(a->pool);
    free(a);
}

size_t live_audit_pending(const struct live_audit *a)
{
    return a != NULL ? a->npending : 0;
}

/* Stop-time index of (trip, pos); -1 when outside the feed. */
static long live_audit__st(const struct live_audit *a, int trip, int pos)
{
    if (trip < 0 || (size_t)trip >= a->f->ntrips || pos < 0)
        return -1;
    const struct trips_trip *t = &a->f->trips[trip];
    if ((size_t)pos >= t->n || t->first + (size_t)pos >= a->f->nst)
        return -1;
    return (long)(t->first + (size_t)pos);
}

/* A free node of the pool, growing it by doubling; -1 out of memory. */
static int live_audit__alloc(struct live_audit *a)
{
    if (a->freelist >= 0) {
        int i = a->freelist;
        a->freelist = a->pool[i].next;
        return i;
    }
    if (a->npool == a->cappool) {
        size_t cap = a->cappool ? a->cappool * 2 : 64;
        if (cap > (size_t)INT32_MAX)
            return -1;
        struct live_audit__pend *p = realloc(a->pool, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        a->pool = p;
        a->cappool = cap;
    }
    return (int)a->npool++;
}

static void live_audit__release(struct live_audit *a, int i)
{
    a->pool[i].next = a->freelist;
    a->freelist = i;
    a->npending--;
}

enum live_audit_err live_audit_predictions(struct live_audit *a,
                                           const struct live_trip_pred *tp,
                                           int64_t now_ms)
{
    if (a == NULL || tp == NULL || (tp->stops == NULL && tp->nstops > 0))
        return LIVE_AUDIT_ERR_ARG;
    int64_t made = tp->made_ms >= 0 ? tp->made_ms : now_ms;
    for (size_t k = 0; k < tp->nstops; k++) {
        const struct live_stop_pred *sp = &tp->stops[k];
        if (sp->kind != LIVE_KIND_PREDICTED || sp->arr_ms < 0)
            continue;
        long st = live_audit__st(a, tp->trip, sp->pos);
        if (st < 0 || a->done[st] == LIVE_AUDIT__ALL)
            continue;
        int64_t lead_ms = sp->arr_ms - now_ms;
        for (int h = 0; h < LIVE_AUDIT_NHORIZONS; h++) {
            int64_t hz = (int64_t)live_audit__horizons[h] * 1000;
            int64_t slack =
                (int64_t)live_audit_slack_s(live_audit__horizons[h]) * 1000;
            if ((a->done[st] & (1u << h)) || lead_ms > hz ||
                lead_ms <= hz - slack)
                continue;
            int i = live_audit__alloc(a);
            if (i < 0)
                return LIVE_AUDIT_ERR_NOMEM;
            struct live_audit__pend *p = &a->pool[i];
            p->vehicle = tp->vehicle;
            p->stop = sp->stop;
            p->hi_idx = h;
            p->made_ms = made;
            p->pred_ms = sp->arr_ms;
            p->lo_ms = sp->arr_lo_ms;
            p->hi_ms = sp->arr_hi_ms;
            p->next = a->head[st];
            a->head[st] = i;
            a->done[st] |= (uint8_t)(1u << h);
            a->npending++;
        }
    }
    return LIVE_AUDIT_OK;
}

/* Drop the pending samples of stop time ST and close it to sampling. */
static void live_audit__drop(struct live_audit *a, size_t st)
{
    int i = a->head[st];
    while (i >= 0) {
        int next = a->pool[i].next;
        live_audit__release(a, i);
        i = next;
    }
    a->head[st] = -1;
    a->done[st] = LIVE_AUDIT__ALL;
}

enum live_audit_err live_audit_event(struct live_audit *a,
                                     const struct live_event *ev,
                                     struct live_audit_sample *out, size_t cap,
                                     size_t *nout)
{
    if (a == NULL || ev == NULL || nout == NULL)
        return LIVE_AUDIT_ERR_ARG;
    *nout = 0;
    if (ev->type == LIVE_EV_MISSED || ev->type == LIVE_EV_TRIP_END) {
        /* missed, or over: what was never reached will never be */
        if (ev->trip < 0 || (size_t)ev->trip >= a->f->ntrips)
            return LIVE_AUDIT_OK;
        const struct trips_trip *t = &a->f->trips[ev->trip];
        for (size_t k = 0; k < t->n && t->first + k < a->f->nst; k++)
            live_audit__drop(a, t->first + k);
        return LIVE_AUDIT_OK;
    }
    if (ev->type != LIVE_EV_ARRIVE)
        return LIVE_AUDIT_OK;
    long st = live_audit__st(a, ev->trip, ev->pos);
    if (st < 0)
        return LIVE_AUDIT_OK;
    size_t n = 0;
    for (int i = a->head[st]; i >= 0; i = a->pool[i].next)
        n++;
    if (n > cap || (n > 0 && out == NULL))
        return LIVE_AUDIT_ERR_ARG;
    n = 0;
    for (int i = a->head[st]; i >= 0; i = a->pool[i].next) {
        const struct live_audit__pend *p = &a->pool[i];
        struct live_audit_sample s;
        memset(&s, 0, sizeof(s));
        s.vehicle = p->vehicle;
        s.trip = ev->trip;
        s.pos = ev->pos;
        s.stop = p->stop;
        s.horizon_s = live_audit__horizons[p->hi_idx];
        s.made_ms = p->made_ms;
        s.pred_ms = p->pred_ms;
        s.lo_ms = p->lo_ms;
        s.hi_ms = p->hi_ms;
        s.actual_ms = ev->t_ms;
        s.accurate =
            live_audit_accurate((double)(p->pred_ms - p->made_ms) / 1000.0,
                                (double)(ev->t_ms - p->pred_ms) / 1000.0);
        s.covered = p->lo_ms <= ev->t_ms && ev->t_ms <= p->hi_ms;
        /* insertion by horizon: the list holds at most NHORIZONS */
        size_t j = n++;
        while (j > 0 && out[j - 1].horizon_s > s.horizon_s) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = s;
    }
    /* events come in order: stops before this one were passed unseen */
    for (long k = st - ev->pos; k <= st; k++)
        live_audit__drop(a, (size_t)k);
    *nout = n;
    return LIVE_AUDIT_OK;
}

/* One bucket: counters and every absolute error, for the percentile. */
struct live_audit__acc {
    double *abs_s;
    size_t n, cap;
    double sum_abs, sum_err;
    size_t accurate, covered;
};

struct live_audit_summary {
    struct live_audit__acc b[LIVE_AUDIT_NBUCKETS];
};

struct live_audit_summary *live_audit_summary_new(void)
{
    return calloc(1, sizeof(struct live_audit_summary));
}

void live_audit_summary_free(struct live_audit_summary *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < LIVE_AUDIT_NBUCKETS; i++)
        free(s->b[i].abs_s);
    free(s);
}

enum live_audit_err live_audit_summary_add(struct live_audit_summary *s,
                                           const struct live_audit_sample *smp)
{
    if (s == NULL || smp == NULL)
        return LIVE_AUDIT_ERR_ARG;
    int b =
        live_audit_bucket_of((double)(smp->pred_ms - smp->made_ms) / 1000.0);
    if (b < 0)
        return LIVE_AUDIT_OK;
    struct live_audit__acc *acc = &s->b[b];
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? acc->cap * 2 : 64;
        double *p = realloc(acc->abs_s, cap * sizeof(*p));
        if (p == NULL)
            return LIVE_AUDIT_ERR_NOMEM;
        acc->abs_s = p;
        acc->cap = cap;
    }
    double err = (double)(smp->actual_ms - smp->pred_ms) / 1000.0;
    double ab = err < 0 ? -err : err;
    acc->abs_s[acc->n++] = ab;
    acc->sum_abs += ab;
    acc->sum_err += err;
    acc->accurate += smp->accurate ? 1 : 0;
    acc->covered += smp->covered ? 1 : 0;
    return LIVE_AUDIT_OK;
}

static int live_audit__cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

enum live_audit_err live_audit_summary_get(struct live_audit_summary *s,
                                           enum live_audit_bucket b,
                                           struct live_audit_figures *out)
{
    if (s == NULL || out == NULL || (int)b < 0 || b >= LIVE_AUDIT_NBUCKETS)
        return LIVE_AUDIT_ERR_ARG;
    memset(out, 0, sizeof(*out));
    struct live_audit__acc *acc = &s->b[b];
    if (acc->n == 0)
        return LIVE_AUDIT_OK;
    qsort(acc->abs_s, acc->n, sizeof(*acc->abs_s), live_audit__cmp);
    double n = (double)acc->n;
    /* nearest rank: the ceil(0.9 n)-th smallest */
    size_t rank = (acc->n * 9 + 9) / 10;
    out->n = acc->n;
    out->mae_s = acc->sum_abs / n;
    out->p90_s = acc->abs_s[rank - 1];
    out->bias_s = acc->sum_err / n;
    out->accuracy = (double)acc->accurate / n;
    out->coverage = (double)acc->covered / n;
    return LIVE_AUDIT_OK;
}
