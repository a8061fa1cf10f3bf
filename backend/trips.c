/* trips: stop visits, runs and their scheduled trips from one day's fixes. */
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

/* Metres between two nearby points: an equirectangular projection is
 * exact to centimetres over the few hundred metres this is used for. */
static double trips_dist(double lat1, double lon1, double lat2, double lon2)
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
        double d = trips_dist(lat, lon, f->stops[i].lat, f->stops[i].lon);
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

/*
 * A visit being built: the fixes near one stop. Arrival is the first fix
 * there at a halt (the bus has pulled in), departure the last one; a bus
 * that never halts passed the stop at its closest approach.
 */
struct trips_cand {
    int stop;
    int64_t first_halt, last_halt, closest_t, last_near;
    double closest;
};

static int trips_close_cand(struct trips_vbuf *b, const struct trips_cand *c,
                            const struct trips_params *p)
{
    struct trips_visit v;

    memset(&v, 0, sizeof v);
    v.stop = c->stop;
    v.run = v.run_starting = -1;
    v.load_after = -1;
    if (c->first_halt) {
        v.arr_ms = c->first_halt;
        v.dep_ms = c->last_halt;
        v.stopped = true;
    } else {
        /* Only a pass within the entry radius counts as passing the stop. */
        if (c->closest > p->enter_m)
            return 0;
        v.arr_ms = v.dep_ms = c->closest_t;
    }
    /* Jitter at a terminal, a short dropout: the same stop again soon, with
     * no other stop in between, is the same visit. */
    if (b->n && b->v[b->n - 1].stop == v.stop &&
        v.arr_ms - b->v[b->n - 1].dep_ms <= p->merge_ms) {
        struct trips_visit *last = &b->v[b->n - 1];

        if (v.stopped && !last->stopped)
            last->arr_ms = v.arr_ms;
        last->dep_ms = v.dep_ms > last->dep_ms ? v.dep_ms : last->dep_ms;
        last->stopped = last->stopped || v.stopped;
        return 0;
    }
    return trips_vpush(b, &v);
}

int trips_visits(const struct trips_feed *f, const struct trips_params *p,
                 const struct trips_fix *fixes, size_t nfixes,
                 struct trips_door *doors, size_t ndoors,
                 struct trips_visit **out, size_t *nout)
{
    struct trips_vbuf b = {0};
    struct trips_cand c;
    bool in = false;

    for (size_t i = 0; i < nfixes; i++) {
        const struct trips_fix *x = &fixes[i];
        double d;
        int s = trips_nearest_stop(f, x->lat, x->lon, &d);
        bool halted = isfinite(x->speed) && x->speed <= p->halt_mps;

        if (in && (s != c.stop || d > p->leave_m)) {
            /* Still within the leave radius of the candidate's stop? */
            double dc = trips_dist(x->lat, x->lon, f->stops[c.stop].lat,
                                   f->stops[c.stop].lon);
            if (dc <= p->leave_m) {
                s = c.stop;
                d = dc;
            } else {
                if (trips_close_cand(&b, &c, p) != 0)
                    goto oom;
                in = false;
            }
        }
        if (!in) {
            if (s < 0 || d > p->enter_m)
                continue;
            memset(&c, 0, sizeof c);
            c.stop = s;
            c.closest = INFINITY;
            in = true;
        }
        if (d <= p->enter_m && halted) {
            if (!c.first_halt)
                c.first_halt = x->t_ms;
            c.last_halt = x->t_ms;
        }
        if (d < c.closest) {
            c.closest = d;
            c.closest_t = x->t_ms;
        }
        c.last_near = x->t_ms;
    }
    if (in && trips_close_cand(&b, &c, p) != 0)
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
                trips_dist(e->lat, e->lon, f->stops[v->stop].lat,
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
static void
trips_follow(const struct trips_feed *f, const struct trips_params *p,
             const struct trips_trip *t, const struct trips_visit *v, size_t nv,
             size_t i, int k, size_t *end, int *last, int *matched, int *halts)
{
    size_t e = i;
    int l = k, m = 1, h = v[i].stopped;

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
        e = j;
    }
    *end = e;
    *last = l;
    *matched = m;
    *halts = h;
}

int trips_runs(const struct trips_feed *f, const struct trips_params *p,
               const char *vehicle_id, struct trips_visit *v, size_t nv,
               struct trips_run **runs, size_t *nruns)
{
    size_t i = 0;

    while (i < nv) {
        int best_pat = -1, best_k = 0, best_last = 0, best_m = 0;
        size_t best_end = i;

        for (int pat = 0; pat < f->npatterns; pat++) {
            const struct trips_trip *t = trips_pattern_trip(f, pat);
            int k, last, m, h;
            size_t end;
            double need;

            if (!t)
                continue;
            /* A run starts at one of its first stops (the first may be
             * missed in a GPS dropout). */
            k = trips_pattern_pos(f, t, v[i].stop, 0);
            if (k < 0 || k > 2)
                continue;
            trips_follow(f, p, t, v, nv, i, k, &end, &last, &m, &h);
            need = p->min_share * (double)t->n;
            if (m < 2 || (double)m < need)
                continue;
            /* A bus driving back empty passes the stops of the other
             * direction without halting: that is a deadhead, not a run. */
            if (h < 2 || 3 * h < m)
                continue;
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

/* How much more leaving early weighs than leaving late, when runs are
 * matched to trips. */
#define TRIPS_EARLY_WEIGHT 3

struct trips_pair {
    size_t run, trip;
    int64_t cost;
};

static int trips_pair_cmp(const void *a, const void *b)
{
    const struct trips_pair *x = a, *y = b;

    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    return x->trip < y->trip ? -1 : x->trip > y->trip;
}

/* Greedy matching, cheapest pair first, every run and trip used once. */
static int trips_match(const struct trips_feed *f, const struct trips_params *p,
                       struct trips_run *runs, size_t nruns,
                       char (*vblock)[TRIPS_ID_MAX])
{
    struct trips_pair *pairs = NULL;
    size_t np = 0, cap = 0;
    bool *taken;

    taken = calloc(f->ntrips ? f->ntrips : 1, sizeof *taken);
    if (!taken)
        return -1;
    for (size_t r = 0; r < nruns; r++) {
        runs[r].trip = -1;
        for (size_t t = 0; t < f->ntrips; t++) {
            const struct trips_trip *tr = &f->trips[t];
            int64_t sched, cost;

            if (tr->pattern != runs[r].pattern)
                continue;
            sched = trips_sched_ms(
                f, f->st[tr->first + (size_t)runs[r].first_pos].dep_s);
            cost = runs[r].start_ms - sched;
            if (llabs(cost) > p->assign_ms)
                continue;
            /* Buses run late often and by a lot, early seldom and by
             * little: a run 15 min before one trip and 30 min after the
             * trip before it is the earlier trip, running late. */
            if (cost < 0)
                cost = -cost * TRIPS_EARLY_WEIGHT;
            /* A bus keeps to its block: another block's trip costs a few
             * minutes more, so a late run is not mistaken for the next. */
            if (vblock && vblock[r][0] && strcmp(vblock[r], tr->block_id))
                cost += 5 * 60 * 1000;
            if (np == cap) {
                size_t nc = cap ? cap * 2 : 256;
                struct trips_pair *g = realloc(pairs, nc * sizeof *g);

                if (!g) {
                    free(pairs);
                    free(taken);
                    return -1;
                }
                pairs = g;
                cap = nc;
            }
            pairs[np++] = (struct trips_pair){r, t, cost};
        }
    }
    if (np)
        qsort(pairs, np, sizeof *pairs, trips_pair_cmp);
    for (size_t i = 0; i < np; i++) {
        if (runs[pairs[i].run].trip >= 0 || taken[pairs[i].trip])
            continue;
        runs[pairs[i].run].trip = (int)pairs[i].trip;
        taken[pairs[i].trip] = true;
    }
    free(pairs);
    free(taken);
    return 0;
}

int trips_assign(const struct trips_feed *f, const struct trips_params *p,
                 struct trips_run *runs, size_t nruns)
{
    char(*vblock)[TRIPS_ID_MAX];
    int rc;

    if (trips_match(f, p, runs, nruns, NULL) != 0)
        return -1;
    /* Second pass: the block each vehicle drove most in the first. */
    vblock = calloc(nruns ? nruns : 1, sizeof *vblock);
    if (!vblock)
        return -1;
    for (size_t r = 0; r < nruns; r++) {
        int best = 0;

        for (size_t q = 0; q < nruns; q++) {
            int n = 0;

            if (runs[q].trip < 0 ||
                strcmp(runs[q].vehicle_id, runs[r].vehicle_id))
                continue;
            for (size_t s = 0; s < nruns; s++)
                if (runs[s].trip >= 0 &&
                    !strcmp(runs[s].vehicle_id, runs[r].vehicle_id) &&
                    !strcmp(f->trips[runs[s].trip].block_id,
                            f->trips[runs[q].trip].block_id))
                    n++;
            if (n > best) {
                best = n;
                memcpy(vblock[r], f->trips[runs[q].trip].block_id,
                       TRIPS_ID_MAX);
            }
        }
    }
    rc = trips_match(f, p, runs, nruns, vblock);
    free(vblock);
    return rc;
}
