/* trips: stop visits, runs and their scheduled trips from one day's fixes. */
#define _GNU_SOURCE /* qsort_r */
#include "trips.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void trips_params_default(struct trips_params *p)
{
    p->enter_m = 30;
    p->leave_m = 50;
    p->halt_mps = 1.0;
    p->merge_ms = 15 * 60 * 1000;
    p->gap_ms = 40 * 60 * 1000;
    p->assign_ms = 45 * 60 * 1000;
    p->min_share = 0.5;
    p->late_ms = 5 * 60 * 1000;
}

int64_t trips_sched_ms(const struct trips_feed *f, int32_t secs)
{
    return f->day_ms + (int64_t)secs * 1000;
}

double trips_dist_m(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371008.8, rad = M_PI / 180;
    double x = (lon2 - lon1) * rad * cos((lat1 + lat2) * 0.5 * rad);
    double y = (lat2 - lat1) * rad;

    return r * sqrt(x * x + y * y);
}

int trips_feed_finish(struct trips_feed *f)
{
    int np = 0;

    for (size_t i = 0; i < f->ntrips; i++) {
        struct trips_trip *t = &f->trips[i];

        t->pattern = -1;
        for (size_t j = 0; j < i && t->pattern < 0; j++) {
            const struct trips_trip *u = &f->trips[j];
            bool same = u->n == t->n;

            for (size_t k = 0; same && k < t->n; k++)
                same = f->st[u->first + k].stop == f->st[t->first + k].stop;
            if (same)
                t->pattern = u->pattern;
        }
        if (t->pattern < 0)
            t->pattern = np++;
    }
    f->npatterns = np;
    return 0;
}

/* The trip that stands for a pattern (its stop list). */
static const struct trips_trip *trips_pattern_trip(const struct trips_feed *f,
                                                   int pattern)
{
    for (size_t i = 0; i < f->ntrips; i++)
        if (f->trips[i].pattern == pattern)
            return &f->trips[i];
    return NULL;
}

/* Position of `stop` in a pattern at or after `from`, or -1. */
static int trips_pattern_pos(const struct trips_feed *f,
                             const struct trips_trip *t, int stop, int from)
{
    for (size_t k = (size_t)from; k < t->n; k++)
        if (f->st[t->first + k].stop == stop)
            return (int)k;
    return -1;
}

static int trips_nearest_stop(const struct trips_feed *f, double lat,
                              double lon, double *dist)
{
    int best = -1;
    double bd = INFINITY;

    for (size_t i = 0; i < f->nstops; i++) {
        double d = trips_dist_m(lat, lon, f->stops[i].lat, f->stops[i].lon);
        if (d < bd) {
            bd = d;
            best = (int)i;
        }
    }
    *dist = bd;
    return best;
}

struct trips_vbuf {
    struct trips_visit *v;
    size_t n, cap;
};

static int trips_vpush(struct trips_vbuf *b, const struct trips_visit *v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct trips_visit *p = realloc(b->v, cap * sizeof *p);

        if (!p)
            return -1;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = *v;
    return 0;
}

/* Close the candidate: the visit it makes, or 0 when it makes none. */
static int trips__cand_visit(const struct trips_visitor *vs,
                             struct trips_visit *v)
{
    const struct trips_cand *c = &vs->c;

    memset(v, 0, sizeof *v);
    v->stop = c->stop;
    v->run = v->run_starting = -1;
    v->load_after = -1;
    if (c->first_halt) {
        v->arr_ms = c->first_halt;
        v->dep_ms = c->last_halt;
        v->stopped = true;
        return 1;
    }
    /* Only a pass within the entry radius counts as passing the stop. */
    if (c->closest > vs->p->enter_m)
        return 0;
    v->arr_ms = v->dep_ms = c->closest_t;
    return 1;
}

void trips_visitor_init(struct trips_visitor *vs, const struct trips_feed *f,
                        const struct trips_params *p)
{
    memset(vs, 0, sizeof *vs);
    vs->f = f;
    vs->p = p;
    vs->c.stop = -1;
}

int trips_visitor_fix(struct trips_visitor *vs, const struct trips_fix *x,
                      struct trips_visit *out)
{
    const struct trips_feed *f = vs->f;
    const struct trips_params *p = vs->p;
    struct trips_cand *c = &vs->c;
    double d;
    int s = trips_nearest_stop(f, x->lat, x->lon, &d);
    bool halted = isfinite(x->speed) && x->speed <= p->halt_mps;
    int closed = 0;

    if (vs->in && (s != c->stop || d > p->leave_m)) {
        /* Still within the leave radius of the candidate's stop? */
        double dc = trips_dist_m(x->lat, x->lon, f->stops[c->stop].lat,
                                 f->stops[c->stop].lon);
        if (dc <= p->leave_m) {
            s = c->stop;
            d = dc;
        } else {
            closed = trips__cand_visit(vs, out);
            vs->in = false;
        }
    }
    if (!vs->in) {
        if (s < 0 || d > p->enter_m)
            return closed;
        memset(c, 0, sizeof *c);
        c->stop = s;
        c->closest = INFINITY;
        vs->in = true;
    }
    if (d <= p->enter_m && halted) {
        if (!c->first_halt)
            c->first_halt = x->t_ms;
        c->last_halt = x->t_ms;
    }
    if (d < c->closest) {
        c->closest = d;
        c->closest_t = x->t_ms;
    }
    c->last_near = x->t_ms;
    return closed;
}

int trips_visitor_close(struct trips_visitor *vs, struct trips_visit *out)
{
    int closed = vs->in ? trips__cand_visit(vs, out) : 0;

    vs->in = false;
    return closed;
}

bool trips_visit_merge(struct trips_visit *last, const struct trips_visit *v,
                       const struct trips_params *p)
{
    /* Jitter at a terminal, a short dropout: the same stop again soon, with
     * no other stop in between, is the same visit. */
    if (last->stop != v->stop || v->arr_ms - last->dep_ms > p->merge_ms)
        return false;
    if (v->stopped && !last->stopped)
        last->arr_ms = v->arr_ms;
    last->dep_ms = v->dep_ms > last->dep_ms ? v->dep_ms : last->dep_ms;
    last->stopped = last->stopped || v->stopped;
    return true;
}

/* Append a visit the visitor closed, or merge it into the last. */
static int trips__add_visit(struct trips_vbuf *b, const struct trips_visit *v,
                            const struct trips_params *p)
{
    if (b->n && trips_visit_merge(&b->v[b->n - 1], v, p))
        return 0;
    return trips_vpush(b, v);
}

int trips_visits(const struct trips_feed *f, const struct trips_params *p,
                 const struct trips_fix *fixes, size_t nfixes,
                 struct trips_door *doors, size_t ndoors,
                 struct trips_visit **out, size_t *nout)
{
    struct trips_vbuf b = {0};
    struct trips_visitor vs;
    struct trips_visit done;

    trips_visitor_init(&vs, f, p);
    for (size_t i = 0; i < nfixes; i++)
        if (trips_visitor_fix(&vs, &fixes[i], &done) &&
            trips__add_visit(&b, &done, p) != 0)
            goto oom;
    if (trips_visitor_close(&vs, &done) && trips__add_visit(&b, &done, p) != 0)
        goto oom;

    /* Door episodes make visits exact: each belongs to the visit whose
     * time span (with a minute's slack) holds its close, preferring the
     * stop nearest its position. An episode at no visit, with a position
     * at a stop, makes a visit of its own. */
    for (size_t i = 0; i < ndoors; i++) {
        struct trips_door *e = &doors[i];
        int64_t tc = e->close_ms ? e->close_ms : e->t_ms;
        int64_t to = e->open_ms ? e->open_ms : tc;
        int best = -1;
        int64_t bestgap = INT64_MAX;

        for (size_t k = 0; k < b.n; k++) {
            const struct trips_visit *v = &b.v[k];
            int64_t gap = tc < v->arr_ms   ? v->arr_ms - tc
                          : tc > v->dep_ms ? tc - v->dep_ms
                                           : 0;

            if (gap > 60000)
                continue;
            if (isfinite(e->lat) &&
                trips_dist_m(e->lat, e->lon, f->stops[v->stop].lat,
                             f->stops[v->stop].lon) > p->leave_m * 2)
                continue;
            if (gap < bestgap) {
                bestgap = gap;
                best = (int)k;
            }
        }
        if (best < 0 && isfinite(e->lat)) {
            double d;
            int s = trips_nearest_stop(f, e->lat, e->lon, &d);

            if (s >= 0 && d <= p->leave_m) {
                struct trips_visit v;
                size_t k = b.n;

                memset(&v, 0, sizeof v);
                v.stop = s;
                v.arr_ms = to;
                v.dep_ms = tc;
                v.stopped = true;
                v.run = v.run_starting = -1;
                v.load_after = -1;
                if (trips_vpush(&b, &v) != 0)
                    goto oom;
                /* Keep visits in time order. */
                while (k > 0 && b.v[k - 1].arr_ms > b.v[k].arr_ms) {
                    struct trips_visit t = b.v[k - 1];
                    b.v[k - 1] = b.v[k];
                    b.v[k] = t;
                    k--;
                }
                for (size_t j = 0; j < i; j++)
                    if (doors[j].visit >= (int)k)
                        doors[j].visit++;
                best = (int)k;
            }
        }
        e->visit = best;
        if (best >= 0) {
            struct trips_visit *v = &b.v[best];

            if (to < v->arr_ms)
                v->arr_ms = to;
            if (tc > v->dep_ms)
                v->dep_ms = tc;
            v->stopped = true;
            v->boarded += e->boarded;
            v->alighted += e->alighted;
            v->doors++;
            if (e->load_after >= 0)
                v->load_after = e->load_after;
        }
    }
    *out = b.v;
    *nout = b.n;
    return 0;
oom:
    free(b.v);
    return -1;
}

/* How far a run can follow pattern `pat` from visit i (at position k). */
static void trips_follow(const struct trips_feed *f,
                         const struct trips_params *p,
                         const struct trips_trip *t,
                         const struct trips_visit *v, size_t nv, size_t i,
                         int k, size_t *end, int *last, int *matched,
                         int *halts, int *pax)
{
    size_t e = i;
    int l = k, m = 1, h = v[i].stopped, x = 0;

    for (size_t j = i + 1; j < nv && l < (int)t->n - 1; j++) {
        int k2;

        if (v[j].arr_ms - v[e].dep_ms > p->gap_ms)
            break;
        k2 = trips_pattern_pos(f, t, v[j].stop, l + 1);
        if (k2 < 0) {
            /* A stop of this pattern seen again, or going backwards: the
             * run is over. A stop of another route passed on the way is
             * not. */
            if (trips_pattern_pos(f, t, v[j].stop, 0) >= 0 || v[j].doors)
                break;
            continue;
        }
        l = k2;
        m++;
        h += v[j].stopped;
        /* People who rode from one of its stops to the next. */
        x += v[e].boarded + v[j].alighted;
        e = j;
    }
    *end = e;
    *last = l;
    *matched = m;
    *halts = h;
    *pax = x;
}

/* Whether a trip of pattern `pat` is due to leave its stop `pos` within
 * the matching window of t_ms. */
static bool trips_pattern_due(const struct trips_feed *f,
                              const struct trips_params *p, int pat, int pos,
                              int64_t t_ms)
{
    for (size_t i = 0; i < f->ntrips; i++) {
        const struct trips_trip *t = &f->trips[i];
        int64_t d;

        if (t->pattern != pat || (size_t)pos >= t->n)
            continue;
        d = t_ms - trips_sched_ms(f, f->st[t->first + (size_t)pos].dep_s);
        if (d <= p->assign_ms && d >= -p->assign_ms)
            return true;
    }
    return false;
}

int trips_runs(const struct trips_feed *f, const struct trips_params *p,
               const char *vehicle_id, struct trips_visit *v, size_t nv,
               struct trips_run **runs, size_t *nruns)
{
    size_t i = 0;
    bool counted = false; /* the door counters reported this day */

    for (size_t j = 0; j < nv && !counted; j++)
        counted = v[j].doors > 0;
    while (i < nv) {
        int best_pat = -1, best_k = 0, best_last = 0, best_m = 0;
        size_t best_end = i;

        for (int pat = 0; pat < f->npatterns; pat++) {
            const struct trips_trip *t = trips_pattern_trip(f, pat);
            int k, last, m, h, pax;
            size_t end;
            double need;

            if (!t)
                continue;
            /* A run starts at one of its first stops (the first may be
             * missed in a GPS dropout). */
            k = trips_pattern_pos(f, t, v[i].stop, 0);
            if (k < 0 || k > 2)
                continue;
            trips_follow(f, p, t, v, nv, i, k, &end, &last, &m, &h, &pax);
            need = p->min_share * (double)t->n;
            if (m < 2 || (double)m < need)
                continue;
            /* A bus driving back empty passes the stops of the other
             * direction without halting: that is a deadhead, not a run.
             * People who rode it from one of its stops to another make
             * it a run, however few its halts. Without them the halts
             * tell: a deadhead halts at its ends (the terminals) at most,
             * so a third of the stops between them must see one, or the
             * bus halted at a third of all and a trip of the pattern was
             * due then (an empty last trip of the evening is still run).
             * Without door counts that day the halts alone decide. */
            if (!(counted && pax > 0)) {
                int mid = h - v[i].stopped - (end > i ? v[end].stopped : 0);
                bool between = m > 2 ? mid >= 1 && 3 * mid >= m - 2 : h >= 2;
                bool halts = h >= 2 && 3 * h >= m;

                if (!between &&
                    !(halts && (!counted ||
                                trips_pattern_due(f, p, pat, k, v[i].dep_ms))))
                    continue;
            }
            if (m > best_m || (m == best_m && k < best_k)) {
                best_pat = pat;
                best_k = k;
                best_last = last;
                best_m = m;
                best_end = end;
            }
        }
        if (best_pat < 0) {
            i++;
            continue;
        }
        {
            struct trips_run r;
            struct trips_run *grown;

            memset(&r, 0, sizeof r);
            strncpy(r.vehicle_id, vehicle_id, sizeof r.vehicle_id - 1);
            r.pattern = best_pat;
            r.first_visit = i;
            r.last_visit = best_end;
            r.first_pos = best_k;
            r.last_pos = best_last;
            r.matched = best_m;
            r.start_ms = v[i].dep_ms;
            r.end_ms = v[best_end].arr_ms;
            r.trip = -1;
            r.peak_load = -1;
            grown = realloc(*runs, (*nruns + 1) * sizeof *grown);
            if (!grown)
                return -1;
            *runs = grown;
            for (size_t j = i; j <= best_end; j++) {
                /* The first visit may be the terminal where the previous
                 * run ended: it stays that run's, and starts this one. */
                if (j == i && v[j].run >= 0)
                    v[j].run_starting = (int)*nruns;
                else
                    v[j].run = (int)*nruns;
            }
            (*runs)[(*nruns)++] = r;
        }
        /* The terminal can start the next run. */
        i = best_end > i ? best_end : i + 1;
    }
    return 0;
}

/*
 * Matching runs to trips follows the block. A block's trips are driven in
 * order by one bus, so each vehicle's runs (in time order) are aligned
 * with a sequence of trips whose scheduled starts only grow: a bus running
 * late stays on its trip, late, instead of looking early for the next one.
 * Per vehicle this is a small dynamic programme; the best alignment is,
 * first, the one that gives a trip to the most runs, then the cheapest.
 * Costs are in milliseconds of schedule deviation:
 */
/* leaving early weighs this much more than leaving late (buses run late
 * often and by a lot, early seldom and by little) */
#define TRIPS_EARLY_WEIGHT 3
/* a trip of the block left out between two the bus drove: what a missed
 * trip costs, so a run is not pulled back onto it by a few minutes */
#define TRIPS_SKIP_MS (20 * 60 * 1000)
/* the bus's next run is on another block (a swap, a spare bus): rarer
 * than running late, so it weighs more than a skipped trip of its own */
#define TRIPS_SWITCH_MS (30 * 60 * 1000)

struct trips_score {
    int n;        /* runs given a trip */
    int64_t cost; /* their deviation and transition costs */
};

static bool trips_better(struct trips_score a, struct trips_score b)
{
    return a.n > b.n || (a.n == b.n && a.cost < b.cost);
}

/* What the matcher needs of each trip, computed once. */
struct trips_tinfo {
    int64_t start_ms; /* scheduled departure from its first stop */
    int block;        /* index among the day's block ids, -1: none */
    int block_pos;    /* its place in the block, by start */
};

struct trips_matcher {
    const struct trips_feed *f;
    const struct trips_params *p;
    struct trips_run *runs;
    struct trips_tinfo *ti;
    size_t *order;  /* run indices by (vehicle, start) */
    size_t *vfirst; /* per vehicle: first index into order; [nveh]: end */
    size_t nveh;
    bool *excluded; /* [vehicle * ntrips + trip]: lost to another bus */
    /* The programme's tables, sized for the longest vehicle. */
    struct trips_score *dp, *next;
    int *back;  /* [run * (ntrips + 1) + state]: previous state */
    bool *took; /* ... and whether that run took the state's trip */
};

static int trips_run_cmp(const void *a, const void *b, void *arg)
{
    const struct trips_run *runs = arg;
    const struct trips_run *x = &runs[*(const size_t *)a];
    const struct trips_run *y = &runs[*(const size_t *)b];
    int c = strcmp(x->vehicle_id, y->vehicle_id);

    if (c)
        return c;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Scheduled start of trip t where run r joined it (its first stop seen). */
static int64_t trips_run_sched(const struct trips_feed *f,
                               const struct trips_run *r,
                               const struct trips_trip *t)
{
    return trips_sched_ms(f, f->st[t->first + (size_t)r->first_pos].dep_s);
}

/* Deviation cost of run r on trip t, or -1 when t is not r's to take. */
static int64_t trips_pair_cost(const struct trips_matcher *m, size_t r,
                               size_t t)
{
    const struct trips_run *run = &m->runs[r];
    const struct trips_trip *tr = &m->f->trips[t];
    int64_t d;

    if (tr->pattern != run->pattern)
        return -1;
    d = run->start_ms - trips_run_sched(m->f, run, tr);
    if (d > m->p->assign_ms || d < -m->p->assign_ms)
        return -1;
    return d < 0 ? -d * TRIPS_EARLY_WEIGHT : d;
}

/* Cost of driving trip t right after trip s (s < 0: t is the first). */
static int64_t trips_step_cost(const struct trips_matcher *m, int s, size_t t)
{
    const struct trips_tinfo *a, *b = &m->ti[t];

    if (s < 0)
        return 0;
    a = &m->ti[s];
    if (a->block >= 0 && a->block == b->block)
        return (int64_t)(b->block_pos - a->block_pos - 1) * TRIPS_SKIP_MS;
    return TRIPS_SWITCH_MS;
}

/* Align vehicle v's runs with trips; sets their run->trip. */
static void trips_solve_vehicle(struct trips_matcher *m, size_t v)
{
    size_t nt = m->f->ntrips, ns = nt + 1; /* state 0: no trip yet */
    size_t first = m->vfirst[v], n = m->vfirst[v + 1] - first;
    const bool *ex = &m->excluded[v * nt];
    const struct trips_score none = {-1, 0};
    size_t best = 0;

    for (size_t s = 0; s < ns; s++)
        m->dp[s] = none;
    m->dp[0] = (struct trips_score){0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t r = m->order[first + i];
        int *back = &m->back[i * ns];
        bool *took = &m->took[i * ns];

        /* The run may take no trip: every state carries over. */
        for (size_t s = 0; s < ns; s++) {
            m->next[s] = m->dp[s];
            back[s] = (int)s;
            took[s] = false;
        }
        for (size_t t = 0; t < nt; t++) {
            int64_t pc = ex[t] ? -1 : trips_pair_cost(m, r, t);

            if (pc < 0)
                continue;
            for (size_t s = 0; s < ns; s++) {
                struct trips_score c;

                if (m->dp[s].n < 0)
                    continue;
                /* Trips follow one another: the one before started
                 * earlier (by schedule). */
                if (s > 0 && (m->ti[s - 1].start_ms > m->ti[t].start_ms ||
                              (m->ti[s - 1].start_ms == m->ti[t].start_ms &&
                               s - 1 >= t)))
                    continue;
                c.n = m->dp[s].n + 1;
                c.cost = m->dp[s].cost + pc + trips_step_cost(m, (int)s - 1, t);
                if (trips_better(c, m->next[t + 1])) {
                    m->next[t + 1] = c;
                    back[t + 1] = (int)s;
                    took[t + 1] = true;
                }
            }
        }
        memcpy(m->dp, m->next, ns * sizeof *m->dp);
    }
    for (size_t s = 1; s < ns; s++)
        if (m->dp[s].n >= 0 && trips_better(m->dp[s], m->dp[best]))
            best = s;
    for (size_t i = n; i-- > 0;) {
        size_t r = m->order[first + i];

        m->runs[r].trip = m->took[i * ns + best] ? (int)best - 1 : -1;
        best = (size_t)m->back[i * ns + best];
    }
}

/* Of two runs claiming one trip, the one nearer its schedule keeps it;
 * ties go by vehicle id, so the outcome never depends on input order. */
static bool trips_claim_wins(const struct trips_matcher *m, size_t a, size_t b,
                             size_t t)
{
    int64_t ca = trips_pair_cost(m, a, t), cb = trips_pair_cost(m, b, t);
    int c;

    if (ca != cb)
        return ca < cb;
    c = strcmp(m->runs[a].vehicle_id, m->runs[b].vehicle_id);
    if (c)
        return c < 0;
    return m->runs[a].start_ms < m->runs[b].start_ms;
}

int64_t trips_start_ms(const struct trips_feed *f, size_t t)
{
    return trips_sched_ms(f, f->st[f->trips[t].first].dep_s);
}

/* Whether a bus drives trip u before trip t of the same block: by
 * scheduled start, ties by index. */
static bool trips__drives_before(const struct trips_feed *f, size_t u, size_t t)
{
    int64_t a = trips_start_ms(f, u), b = trips_start_ms(f, t);

    return a < b || (a == b && u < t);
}

/* Index of the trip ids' blocks: each trip's block and place in it. */
static void trips_block_index(const struct trips_feed *f,
                              struct trips_tinfo *ti)
{
    int nb = 0;

    for (size_t t = 0; t < f->ntrips; t++) {
        ti[t].start_ms = trips_start_ms(f, t);
        ti[t].block = -1;
        if (!f->trips[t].block_id[0])
            continue;
        for (size_t u = 0; u < t && ti[t].block < 0; u++)
            if (!strcmp(f->trips[u].block_id, f->trips[t].block_id))
                ti[t].block = ti[u].block;
        if (ti[t].block < 0)
            ti[t].block = nb++;
    }
    for (size_t t = 0; t < f->ntrips; t++) {
        ti[t].block_pos = 0;
        for (size_t u = 0; u < f->ntrips && ti[t].block >= 0; u++)
            if (ti[u].block == ti[t].block && trips__drives_before(f, u, t))
                ti[t].block_pos++;
    }
}

int trips_block_next(const struct trips_feed *f, size_t t)
{
    int best = -1;

    if (t >= f->ntrips || !f->trips[t].block_id[0])
        return -1;
    for (size_t u = 0; u < f->ntrips; u++)
        if (u != t && !strcmp(f->trips[u].block_id, f->trips[t].block_id) &&
            trips__drives_before(f, t, u) &&
            (best < 0 || trips__drives_before(f, u, (size_t)best)))
            best = (int)u;
    return best;
}

int trips_assign(const struct trips_feed *f, const struct trips_params *p,
                 struct trips_run *runs, size_t nruns)
{
    struct trips_matcher m = {.f = f, .p = p, .runs = runs};
    size_t nt = f->ntrips, longest = 0;
    size_t *claim = NULL;
    bool *dirty = NULL;
    int rc = -1;

    for (size_t r = 0; r < nruns; r++)
        runs[r].trip = -1;
    if (nruns == 0 || nt == 0)
        return 0;
    m.ti = calloc(nt, sizeof *m.ti);
    m.order = calloc(nruns, sizeof *m.order);
    m.vfirst = calloc(nruns + 1, sizeof *m.vfirst);
    claim = calloc(nt, sizeof *claim);
    if (!m.ti || !m.order || !m.vfirst || !claim)
        goto out;
    trips_block_index(f, m.ti);
    for (size_t r = 0; r < nruns; r++)
        m.order[r] = r;
    qsort_r(m.order, nruns, sizeof *m.order, trips_run_cmp, runs);
    for (size_t i = 0; i < nruns; i++)
        if (i == 0 || strcmp(runs[m.order[i]].vehicle_id,
                             runs[m.order[i - 1]].vehicle_id)) {
            if (m.nveh && i - m.vfirst[m.nveh - 1] > longest)
                longest = i - m.vfirst[m.nveh - 1];
            m.vfirst[m.nveh++] = i;
        }
    m.vfirst[m.nveh] = nruns;
    if (nruns - m.vfirst[m.nveh - 1] > longest)
        longest = nruns - m.vfirst[m.nveh - 1];
    m.excluded = calloc(m.nveh * nt, sizeof *m.excluded);
    dirty = calloc(m.nveh, sizeof *dirty);
    m.dp = calloc(nt + 1, sizeof *m.dp);
    m.next = calloc(nt + 1, sizeof *m.next);
    m.back = calloc(longest * (nt + 1), sizeof *m.back);
    m.took = calloc(longest * (nt + 1), sizeof *m.took);
    if (!m.excluded || !dirty || !m.dp || !m.next || !m.back || !m.took)
        goto out;
    for (size_t v = 0; v < m.nveh; v++)
        dirty[v] = true;
    /* Each vehicle aligns on its own; where two claim one trip, the loser
     * is barred from it and aligns again. Every round bars at least one
     * (vehicle, trip) pair, so this ends. */
    for (;;) {
        bool again = false;

        for (size_t v = 0; v < m.nveh; v++)
            if (dirty[v]) {
                trips_solve_vehicle(&m, v);
                dirty[v] = false;
            }
        for (size_t t = 0; t < nt; t++)
            claim[t] = SIZE_MAX;
        for (size_t v = 0; v < m.nveh; v++)
            for (size_t i = m.vfirst[v]; i < m.vfirst[v + 1]; i++) {
                size_t r = m.order[i];
                int t = runs[r].trip;

                if (t < 0)
                    continue;
                if (claim[t] == SIZE_MAX ||
                    trips_claim_wins(&m, r, claim[t], (size_t)t))
                    claim[t] = r;
            }
        for (size_t v = 0; v < m.nveh; v++)
            for (size_t i = m.vfirst[v]; i < m.vfirst[v + 1]; i++) {
                size_t r = m.order[i];
                int t = runs[r].trip;

                if (t >= 0 && claim[t] != r) {
                    m.excluded[v * nt + (size_t)t] = true;
                    dirty[v] = again = true;
                }
            }
        if (!again)
            break;
    }
    rc = 0;
out:
    free(m.ti);
    free(m.order);
    free(m.vfirst);
    free(m.excluded);
    free(m.dp);
    free(m.next);
    free(m.back);
    free(m.took);
    free(claim);
    free(dirty);
    return rc;
}
