/* sim_bus: plan each bus's day and replay it second by second. */
#define _GNU_SOURCE /* qsort_r */
#include "sim_bus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_geo.h"
#include "sim_traffic.h"

#define SIM_ACCEL 0.8         /* m/s^2, a loaded bus pulling away */
#define SIM_VMAX (55.0 / 3.6) /* no faster than this, whatever the plan */
#define SIM_DEADHEAD (30.0 / 3.6)
#define SIM_LAYOVER 300.0      /* scheduled minimum at a terminal */
#define SIM_LAYOVER_LATE 120.0 /* what a driver running late still takes */
#define SIM_PIECE_GAP 5400.0   /* a longer gap: the bus parks at the depot */
#define SIM_WARMUP 600.0       /* switched on this long before a piece */
#define SIM_SAME_PLACE 150.0   /* closer than this needs no deadhead */

enum sim_leg_kind { SIM_LEG_STAY, SIM_LEG_MOVE };

/* A piece of a bus's day: standing at LAT0/LON0, or moving LEN metres with
 * a trapezoid speed profile (accelerate at A, cruise at V, brake at A),
 * along LINE from D0 towards D1 or, without a line, straight from point 0
 * to point 1. */
struct sim_leg {
    int kind;
    double t0, t1;
    const struct sim_line *line;
    double d0, d1;
    double lat0, lon0, lat1, lon1;
    double len, v, a;
};

struct sim_bus {
    struct sim_leg *legs;
    int nlegs, caplegs;
    struct sim_span *power;
    int npower, cappower;
    struct sim_cline *cl;
    int ncl, capcl;
    struct sim_span *drop;
    int ndrop, capdrop;
    struct sim_span *idle;
    int nidle, capidle;
    int cursor, pcursor;
    double track;
};

/* Room for one more element in *P (N used, *CAP allocated). */
static int sim_grow(void **p, int *cap, int n, size_t size)
{
    void *q;
    int c;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 64;
    q = realloc(*p, (size_t)c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

#define SIM_PUSH(arr, n, cap, ptr)                                             \
    (sim_grow((void **)&(arr), &(cap), (n), sizeof *(arr)) == 0                \
         ? ((ptr) = &(arr)[(n)++], 0)                                          \
         : -1)

/* Seconds the doors stay open: one door, people board one at a time
 * (showing a pass) and alight a bit faster. */
static double sim_dwell(struct sim_rng *r, int board, int alight)
{
    double s =
        (6.0 + 2.5 * board + 1.6 * alight) * exp(0.15 * sim_rng_normal(r));

    return s < 8.0 ? 8.0 : s;
}

static void sim_leg_profile(struct sim_leg *l)
{
    double T = l->t1 - l->t0, L = l->len, a = SIM_ACCEL;

    if (T <= 0 || L <= 0) {
        l->a = 1;
        l->v = 0;
        return;
    }
    if (a * a * T * T >= 4 * a * L) {
        l->a = a;
        l->v = (a * T - sqrt(a * a * T * T - 4 * a * L)) / 2;
    } else { /* too little time to reach a cruise: accelerate, then brake */
        l->a = 4 * L / (T * T);
        l->v = l->a * T / 2;
    }
}

/* Distance covered TAU seconds into the leg; *V the speed then. */
static double sim_leg_s(const struct sim_leg *l, double tau, double *v)
{
    double T = l->t1 - l->t0, ta = l->v / l->a;

    if (tau <= 0 || l->v <= 0) {
        *v = 0;
        return tau <= 0 ? 0 : (tau >= T ? l->len : 0);
    }
    if (tau >= T) {
        *v = 0;
        return l->len;
    }
    if (tau < ta) {
        *v = l->a * tau;
        return 0.5 * l->a * tau * tau;
    }
    if (tau < T - ta) {
        *v = l->v;
        return 0.5 * l->a * ta * ta + l->v * (tau - ta);
    }
    *v = l->a * (T - tau);
    return l->len - 0.5 * l->a * (T - tau) * (T - tau);
}

/* When the leg has covered X metres (X in [0, len]). */
static double sim_leg_time_at(const struct sim_leg *l, double x)
{
    double lo = 0, hi = l->t1 - l->t0, v;

    for (int i = 0; i < 50; i++) {
        double mid = (lo + hi) / 2;

        if (sim_leg_s(l, mid, &v) < x)
            lo = mid;
        else
            hi = mid;
    }
    return l->t0 + (lo + hi) / 2;
}

static void sim_leg_point(const struct sim_leg *l, double s, double *lat,
                          double *lon)
{
    if (l->kind == SIM_LEG_STAY) {
        *lat = l->lat0;
        *lon = l->lon0;
    } else if (l->line) {
        sim_geo_at(l->line, l->d0 + (l->d1 >= l->d0 ? s : -s), lat, lon);
    } else {
        double f = l->len > 0 ? s / l->len : 0;

        *lat = l->lat0 + (l->lat1 - l->lat0) * f;
        *lon = l->lon0 + (l->lon1 - l->lon0) * f;
    }
}

static int sim_stay(struct sim_bus *b, double t0, double t1, double lat,
                    double lon)
{
    struct sim_leg *l;

    if (t1 <= t0)
        return 0;
    if (SIM_PUSH(b->legs, b->nlegs, b->caplegs, l) != 0)
        return -1;
    memset(l, 0, sizeof *l);
    l->kind = SIM_LEG_STAY;
    l->t0 = t0;
    l->t1 = t1;
    l->lat0 = l->lat1 = lat;
    l->lon0 = l->lon1 = lon;
    return 0;
}

static struct sim_leg *sim_move(struct sim_bus *b, double t0, double t1,
                                const struct sim_line *line, double d0,
                                double d1, double lat0, double lon0,
                                double lat1, double lon1)
{
    struct sim_leg *l;

    if (SIM_PUSH(b->legs, b->nlegs, b->caplegs, l) != 0)
        return NULL;
    memset(l, 0, sizeof *l);
    l->kind = SIM_LEG_MOVE;
    l->t0 = t0;
    l->t1 = t1;
    l->line = line;
    l->d0 = d0;
    l->d1 = d1;
    l->lat0 = lat0;
    l->lon0 = lon0;
    l->lat1 = lat1;
    l->lon1 = lon1;
    l->len = line ? fabs(d1 - d0) : sim_geo_dist(lat0, lon0, lat1, lon1);
    sim_leg_profile(l);
    return l;
}

static int sim_power(struct sim_bus *b, double t0, double t1)
{
    struct sim_span *s;

    if (SIM_PUSH(b->power, b->npower, b->cappower, s) != 0)
        return -1;
    s->t0 = t0;
    s->t1 = t1;
    return 0;
}

static int sim_cl(struct sim_bus *b, double t, int type, int in, int out)
{
    struct sim_cline *c;

    if (SIM_PUSH(b->cl, b->ncl, b->capcl, c) != 0)
        return -1;
    c->t = t;
    c->type = type;
    c->in = in;
    c->out = out;
    return 0;
}

/* What an imperfect counter sees of N people: some missed, a few counted
 * twice. */
static int sim_counted(struct sim_rng *r, int n, double err)
{
    int c = 0;

    for (int i = 0; i < n; i++) {
        double u = sim_rng_u01(r);

        c += u < err ? 0 : u < err + err / 3 ? 2 : 1;
    }
    return c;
}

/* A door episode: open, the counts in small batches, close. */
static int sim_door(struct sim_bus *b, struct sim_rng *r, double t_open,
                    double t_close, int in, int out)
{
    int left_in = in, left_out = out, parts = 0;

    if (sim_cl(b, t_open, SIM_CL_OPEN, 0, 0) != 0)
        return -1;
    while (left_in > 0 || left_out > 0) {
        int i = left_in > 0 ? 1 + (int)(sim_rng_u01(r) * 4) : 0;
        int o = left_out > 0 ? 1 + (int)(sim_rng_u01(r) * 4) : 0;
        double f;

        i = i > left_in ? left_in : i;
        o = o > left_out ? left_out : o;
        left_in -= i;
        left_out -= o;
        parts++;
        /* Spread over the episode, all before the close (protocol rule). */
        f = 1.0 - 1.0 / (parts + 1.0);
        if (sim_cl(b, t_open + 0.5 + (t_close - t_open - 1.0) * f, SIM_CL_COUNT,
                   i, o) != 0)
            return -1;
    }
    return sim_cl(b, t_close, SIM_CL_CLOSE, 0, 0);
}

static int sim_visit(struct sim_plan *p, int *cap, const struct sim_visit *v)
{
    struct sim_visit *n;

    if (SIM_PUSH(p->visits, p->nvisits, *cap, n) != 0)
        return -1;
    *n = *v;
    return 0;
}

/* The line that best serves as the road from point A to point B (a shape
 * that starts near A and ends near B), or NULL. */
static const struct sim_line *sim_road(const struct sim_feed *f, double alat,
                                       double alon, double blat, double blon)
{
    const struct sim_line *best = NULL;

    for (int i = 0; i < f->nlines; i++) {
        const struct sim_line *l = &f->lines[i];

        if (l->n < 2 || sim_geo_dist(alat, alon, l->lat[0], l->lon[0]) > 300 ||
            sim_geo_dist(blat, blon, l->lat[l->n - 1], l->lon[l->n - 1]) > 300)
            continue;
        if (!best || l->d[l->n - 1] < best->d[best->n - 1])
            best = l;
    }
    return best;
}

struct sim_where {
    int have;
    double t, lat, lon;
};

/* Drive trip K: from standing at its first stop at T_START to standing at
 * its last. RNG draws the times, RC the counting (the same generator but
 * with traffic on, so a changed boarding count leaves the times alone). */
static int sim_drive(const struct sim_feed *f, const struct sim_demand *d,
                     const struct sim_plan_opts *o, struct sim_rng *rng,
                     struct sim_rng *rc, struct sim_plan *p, int *vcap, int bi,
                     int k, double t_start, double not_before, double f_day,
                     struct sim_where *w)
{
    struct sim_bus *b = p->bus[bi];
    const struct sim_trip *tr = &f->trips[k];
    const struct sim_line *line = &f->lines[tr->line];
    const struct sim_stop_time *s0 = sim_feed_st(f, tr, 0);
    const struct sim_stop_time *sl = sim_feed_st(f, tr, tr->nst - 1);
    double sched = s0->dep + (o->late_s ? o->late_s[k] : 0);
    double lat, lon, t, v_sched, f_trip, run;
    int b0 = d->board[tr->first_st], load, from = 0;
    double dwell0 = b0 ? sim_dwell(rng, b0, 0) : 0, dep0;
    struct sim_visit v;

    sim_geo_at(line, s0->dist, &lat, &lon);
    dep0 = t_start + dwell0 + 5;
    if (dep0 < sched)
        dep0 = sched;
    if (dep0 < not_before) /* an idle holds the bus here */
        dep0 = not_before;
    if (sim_stay(b, t_start, dep0, lat, lon) != 0)
        return -1;
    memset(&v, 0, sizeof v);
    v.bus = bi;
    v.trip = k;
    v.arr = t_start;
    v.dep = dep0;
    v.board = v.load = load = b0;
    v.board_counted = sim_counted(rc, b0, o->counter_error);
    if (b0 && sim_door(b, rc, dep0 - dwell0, dep0 - 3, v.board_counted, 0))
        return -1;
    if (sim_visit(p, vcap, &v) != 0)
        return -1;
    p->trip_dep[k] = dep0;

    /* The timetable's running speed, net of the dwell it allows for. */
    run = (sl->arr - s0->dep) - 20.0 * (tr->nst - 2);
    v_sched = run > 0 ? (sl->dist - s0->dist) / run : 20 / 3.6;
    if (v_sched <= 0.5)
        v_sched = 20 / 3.6;
    f_trip = exp(0.05 * sim_rng_normal(rng));
    t = dep0;
    for (int j = 1; j < tr->nst; j++) {
        const struct sim_stop_time *sj = sim_feed_st(f, tr, j);
        int bj = d->board[tr->first_st + j], aj = d->alight[tr->first_st + j];
        const struct sim_stop_time *sf = sim_feed_st(f, tr, from);
        double T = 0, arr, dep, dwell;
        struct sim_leg *leg;

        if (bj + aj == 0 && j < tr->nst - 1)
            continue; /* nobody to pick up or set down: drive past */
        for (int m = from; m < j; m++) {
            double len =
                sim_feed_st(f, tr, m + 1)->dist - sim_feed_st(f, tr, m)->dist;
            int sg = o->traffic
                         ? sim_traffic_segment(o->traffic,
                                               sim_feed_st(f, tr, m)->stop,
                                               sim_feed_st(f, tr, m + 1)->stop)
                         : -1;
            /* Off: the one city-wide curve, exactly as before the model. */
            double seg = len / v_sched *
                         (o->traffic ? sim_traffic_factor(o->traffic, sg, t + T)
                                     : sim_traffic_tod(t + T)) *
                         f_day * f_trip * exp(0.08 * sim_rng_normal(rng));

            T += seg < len / SIM_VMAX ? len / SIM_VMAX : seg;
            if (o->traffic) /* red lights, drawn per passage */
                T += sim_traffic_signals(o->traffic, sg, t + T, rng);
        }
        if (T < 5)
            T = 5;
        sim_geo_at(line, sj->dist, &lat, &lon);
        leg = sim_move(b, t, t + T, line, sf->dist, sj->dist, 0, 0, 0, 0);
        if (!leg)
            return -1;
        for (int m = from + 1; m < j; m++) {
            double tm =
                sim_leg_time_at(leg, sim_feed_st(f, tr, m)->dist - sf->dist);

            memset(&v, 0, sizeof v);
            v.bus = bi;
            v.trip = k;
            v.j = m;
            v.arr = v.dep = tm;
            v.load = load;
            if (sim_visit(p, vcap, &v) != 0)
                return -1;
        }
        arr = t + T;
        dwell = sim_dwell(rng, bj, aj);
        dep = arr + dwell + 4;
        memset(&v, 0, sizeof v);
        v.bus = bi;
        v.trip = k;
        v.j = j;
        v.arr = arr;
        v.dep = dep;
        v.board = bj;
        v.alight = aj;
        load += bj - aj;
        v.load = load;
        v.board_counted = sim_counted(rc, bj, o->counter_error);
        v.alight_counted = sim_counted(rc, aj, o->counter_error);
        if (sim_stay(b, arr, dep, lat, lon) != 0 ||
            sim_door(b, rc, arr + 2, dep - 2, v.board_counted,
                     v.alight_counted) != 0 ||
            sim_visit(p, vcap, &v) != 0)
            return -1;
        t = dep;
        from = j;
    }
    w->have = 1;
    w->t = t;
    w->lat = lat;
    w->lon = lon;
    return 0;
}

/* The idles of this bus still to be placed (done[i] set once placed). */
struct sim_idles {
    const struct sim_plan_opts *o;
    int bus;
    unsigned char done[SIM_MAX_EVENTS];
};

/*
 * The bus stands at a terminal from FROM and would leave at UNTIL: place
 * every idle not yet placed that is due before it would leave (the earliest
 * first, one after the other) and return when it may leave now.
 */
static int sim_idle_hold(struct sim_bus *b, struct sim_idles *st, double from,
                         double until, double *leave)
{
    const struct sim_plan_opts *o = st->o;

    for (;;) {
        int next = -1;

        for (int i = 0; i < o->nidles && i < SIM_MAX_EVENTS; i++)
            if (!st->done[i] && o->idles[i].bus == st->bus &&
                o->idles[i].t < until &&
                (next < 0 || o->idles[i].t < o->idles[next].t))
                next = i;
        if (next < 0)
            break;
        {
            const struct sim_event *e = &o->idles[next];
            double t0 = e->t > from ? e->t : from;
            struct sim_span *s;

            if (SIM_PUSH(b->idle, b->nidle, b->capidle, s) != 0)
                return -1;
            s->t0 = t0;
            s->t1 = t0 + e->dur;
            st->done[next] = 1;
            from = s->t1;
            if (until < s->t1)
                until = s->t1;
        }
    }
    *leave = until;
    return 0;
}

static int sim_span_cmp(const void *a, const void *b)
{
    const struct sim_span *x = a, *y = b;

    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* Add the dropouts asked for to the random ones, keeping the list sorted
 * and without overlaps (the replay walks it with one cursor). */
static int sim_add_dropouts(struct sim_bus *b, const struct sim_plan_opts *o,
                            int bi)
{
    int n = 0;

    for (int i = 0; i < o->ndropouts; i++) {
        struct sim_span *s;

        if (o->dropouts[i].bus != bi)
            continue;
        if (SIM_PUSH(b->drop, b->ndrop, b->capdrop, s) != 0)
            return -1;
        s->t0 = o->dropouts[i].t;
        s->t1 = o->dropouts[i].t + o->dropouts[i].dur;
    }
    if (b->ndrop < 2)
        return 0;
    qsort(b->drop, (size_t)b->ndrop, sizeof *b->drop, sim_span_cmp);
    for (int i = 1; i < b->ndrop; i++) {
        if (b->drop[i].t0 <= b->drop[n].t1) {
            if (b->drop[i].t1 > b->drop[n].t1)
                b->drop[n].t1 = b->drop[i].t1;
        } else {
            b->drop[++n] = b->drop[i];
        }
    }
    b->ndrop = n + 1;
    return 0;
}

/* Plan bus BI's day. With traffic on, trip K draws from streams of its own
 * seeded from TSEED (times 2K, counting 2K + 1), so the bunching pass
 * replays the same draws with other boardings. */
static int sim_plan_bus(const struct sim_feed *f, const struct sim_demand *d,
                        const struct sim_plan_opts *o, struct sim_rng *rng,
                        struct sim_plan *p, int *vcap, int bi, double f_day,
                        uint64_t tseed)
{
    struct sim_bus *b = p->bus[bi];
    struct sim_where w = {0, 0, 0, 0};
    struct sim_idles idl;
    double on = 0;

    memset(&idl, 0, sizeof idl);
    idl.o = o;
    idl.bus = bi;

    for (int k = 0; k < f->ntrips; k++) {
        const struct sim_trip *tr = &f->trips[k];
        double sched, slat, slon, t_start, hold;
        struct sim_rng rt, rct, *rr = rng, *rc = rng;

        if (tr->block != bi)
            continue;
        if (o->missed && o->missed[k]) {
            p->trip_dep[k] = -1;
            continue;
        }
        sched = sim_feed_st(f, tr, 0)->dep + (o->late_s ? o->late_s[k] : 0);
        sim_geo_at(&f->lines[tr->line], sim_feed_st(f, tr, 0)->dist, &slat,
                   &slon);
        if (!w.have || sched - w.t > SIM_PIECE_GAP) {
            /* Park at the depot between the morning and the evening. */
            if (w.have) {
                double off;

                if (sim_idle_hold(b, &idl, w.t, w.t + SIM_LAYOVER, &off) ||
                    sim_stay(b, w.t, off, w.lat, w.lon) != 0 ||
                    sim_power(b, on, off) != 0)
                    return -1;
            }
            on = sched - SIM_WARMUP;
            t_start = on;
        } else if (sim_geo_dist(w.lat, w.lon, slat, slon) > SIM_SAME_PLACE) {
            /* Deadhead: empty, non-stop, over the road the other
             * direction takes when there is one. */
            const struct sim_line *road = sim_road(f, w.lat, w.lon, slat, slon);
            double len = road ? road->d[road->n - 1]
                              : sim_geo_dist(w.lat, w.lon, slat, slon);
            double dur = len / SIM_DEADHEAD * f_day * sim_traffic_tod(w.t) + 30;
            double go = w.t + SIM_LAYOVER;

            if (go + dur > sched - 60)
                go = sched - 60 - dur;
            if (go < w.t + SIM_LAYOVER_LATE)
                go = w.t + SIM_LAYOVER_LATE;
            if (sim_idle_hold(b, &idl, w.t, go, &go) != 0)
                return -1;
            if (sim_stay(b, w.t, go, w.lat, w.lon) != 0 ||
                !sim_move(b, go, go + dur, road, 0,
                          road ? road->d[road->n - 1] : 0, w.lat, w.lon, slat,
                          slon))
                return -1;
            t_start = go + dur;
        } else {
            t_start = w.t;
        }
        if (o->traffic) {
            sim_rng_init(&rt, tseed, 2 * (uint64_t)k);
            sim_rng_init(&rct, tseed, 2 * (uint64_t)k + 1);
            rr = &rt;
            rc = &rct;
        }
        /* At the first stop: an idle due before the departure holds it. */
        if (sim_idle_hold(b, &idl, t_start, sched, &hold) != 0 ||
            sim_drive(f, d, o, rr, rc, p, vcap, bi, k, t_start, hold, f_day,
                      &w) != 0)
            return -1;
    }
    if (w.have) {
        double off;

        if (sim_idle_hold(b, &idl, w.t, w.t + SIM_LAYOVER, &off) != 0 ||
            sim_stay(b, w.t, off, w.lat, w.lon) != 0 ||
            sim_power(b, on, off) != 0)
            return -1;
    }
    /* GPS dropouts: about one every 45 minutes, 5 to 40 s long. */
    for (int i = 0; i < b->npower; i++) {
        double t = b->power[i].t0;

        for (;;) {
            struct sim_span *s;

            t += -log(1.0 - sim_rng_u01(rng)) * 2700.0;
            if (t >= b->power[i].t1)
                break;
            if (SIM_PUSH(b->drop, b->ndrop, b->capdrop, s) != 0)
                return -1;
            s->t0 = t;
            s->t1 = t + 5 + 35 * sim_rng_u01(rng);
            t = s->t1;
        }
    }
    return sim_add_dropouts(b, o, bi);
}

/* One planning pass over every bus. */
static int sim_plan_pass(const struct sim_feed *f, const struct sim_demand *d,
                         const struct sim_plan_opts *o, struct sim_rng *rng,
                         struct sim_plan *p, double f_day, uint64_t tseed)
{
    int vcap = 0;

    memset(p, 0, sizeof *p);
    p->nbus = f->nblocks;
    p->bus = calloc((size_t)f->nblocks + 1, sizeof *p->bus);
    p->trip_dep = calloc((size_t)f->ntrips + 1, sizeof *p->trip_dep);
    if (!p->bus || !p->trip_dep)
        goto fail;
    for (int i = 0; i < p->nbus; i++) {
        p->bus[i] = calloc(1, sizeof *p->bus[i]);
        if (!p->bus[i] ||
            sim_plan_bus(f, d, o, rng, p, &vcap, i, f_day, tseed) != 0)
            goto fail;
    }
    return 0;
fail:
    sim_plan_free(p);
    return -1;
}

/* Stop times ordered by stop, route, direction, then timetable arrival:
 * consecutive ones of a group are a bus and the one before it there. */
static int sim_hw_cmp(const void *a, const void *b, void *ctx)
{
    const struct sim_feed *f = ctx;
    const int *x = a, *y = b;
    const struct sim_stop_time *sx = &f->st[x[0]], *sy = &f->st[y[0]];
    const struct sim_trip *tx = &f->trips[x[1]], *ty = &f->trips[y[1]];
    int c;

    if (sx->stop != sy->stop)
        return sx->stop < sy->stop ? -1 : 1;
    c = strcmp(tx->route_id, ty->route_id);
    if (c != 0)
        return c;
    if (tx->direction != ty->direction)
        return tx->direction < ty->direction ? -1 : 1;
    return sx->arr < sy->arr ? -1 : sx->arr > sy->arr;
}

/*
 * Bunching: the boardings of D rescaled by the headway each bus really
 * had in plan P, between departures (at a terminal the bus may stand a
 * while; whoever comes before it leaves gets on). People arrive at a stop at a
 * steady rate, so a bus that comes R times the timetable's gap after the
 * previous one of its route and direction finds R times the people (R clamped
 * to [0.25, 3]); those on board alight in the same shares as before; nobody
 * boards past SEATS. Fills D2's board and alight (malloc'd).
 */
static int sim_bunch_demand(const struct sim_feed *f,
                            const struct sim_demand *d, int seats,
                            const struct sim_plan *p, struct sim_demand *d2)
{
    double *act = malloc(((size_t)f->nst + 1) * sizeof *act);
    double *ratio = malloc(((size_t)f->nst + 1) * sizeof *ratio);
    int *ord = malloc(((size_t)f->nst + 1) * 2 * sizeof *ord), n = 0;

    memset(d2, 0, sizeof *d2);
    d2->board = malloc(((size_t)f->nst + 1) * sizeof *d2->board);
    d2->alight = malloc(((size_t)f->nst + 1) * sizeof *d2->alight);
    if (!act || !ratio || !ord || !d2->board || !d2->alight) {
        free(act);
        free(ratio);
        free(ord);
        free(d2->board);
        free(d2->alight);
        return -1;
    }
    for (int i = 0; i < f->nst; i++) {
        act[i] = -1;
        ratio[i] = 1;
    }
    for (int i = 0; i < p->nvisits; i++)
        act[f->trips[p->visits[i].trip].first_st + p->visits[i].j] =
            p->visits[i].dep;
    for (int k = 0; k < f->ntrips; k++)
        for (int j = 0; j < f->trips[k].nst; j++) {
            ord[2 * n] = f->trips[k].first_st + j;
            ord[2 * n + 1] = k;
            n++;
        }
    qsort_r(ord, (size_t)n, 2 * sizeof *ord, sim_hw_cmp, (void *)f);
    for (int i = 1; i < n; i++) {
        int a = ord[2 * (i - 1)], b = ord[2 * i];
        double sched = f->st[b].dep - f->st[a].dep;

        if (f->st[a].stop != f->st[b].stop ||
            f->trips[ord[2 * i - 1]].direction !=
                f->trips[ord[2 * i + 1]].direction ||
            strcmp(f->trips[ord[2 * i - 1]].route_id,
                   f->trips[ord[2 * i + 1]].route_id) != 0 ||
            sched <= 0 || act[a] < 0 || act[b] < 0)
            continue; /* the first bus of its group, or one not run */
        ratio[b] = (act[b] - act[a]) / sched;
        ratio[b] = ratio[b] < 0.25 ? 0.25 : ratio[b] > 3 ? 3 : ratio[b];
    }
    for (int k = 0; k < f->ntrips; k++) {
        const struct sim_trip *tr = &f->trips[k];
        int l0 = 0, l = 0;

        for (int j = 0; j < tr->nst; j++) {
            int i = tr->first_st + j, a, bo;

            a = j == tr->nst - 1 ? l
                : l0 > 0         ? (int)lround((double)d->alight[i] * l / l0)
                                 : 0;
            a = a > l ? l : a;
            l0 -= d->alight[i];
            l -= a;
            bo = (int)lround(d->board[i] * ratio[i]);
            bo = bo > seats - l ? (seats - l > 0 ? seats - l : 0) : bo;
            l0 += d->board[i];
            l += bo;
            d2->alight[i] = a;
            d2->board[i] = bo;
        }
    }
    free(act);
    free(ratio);
    free(ord);
    return 0;
}

int sim_plan_make(const struct sim_feed *f, const struct sim_demand *d,
                  const struct sim_plan_opts *o, struct sim_rng *rng,
                  struct sim_plan *p)
{
    double f_day = exp(0.06 * sim_rng_normal(rng)); /* a slow or quick day */
    uint64_t tseed = o->traffic ? sim_rng_next(rng) : 0;
    struct sim_rng r0 = *rng;
    struct sim_demand d2;
    int rc;

    if (sim_plan_pass(f, d, o, rng, p, f_day, tseed) != 0)
        return -1;
    if (!sim_traffic_bunching(o->traffic))
        return 0;
    /* Second pass: the same draws, the boardings the first pass's
     * headways call for. */
    rc = sim_bunch_demand(f, d, o->seats > 0 ? o->seats : 1000, p, &d2);
    sim_plan_free(p);
    if (rc != 0)
        return -1;
    *rng = r0;
    rc = sim_plan_pass(f, &d2, o, rng, p, f_day, tseed);
    free(d2.board);
    free(d2.alight);
    return rc;
}

void sim_plan_free(struct sim_plan *p)
{
    for (int i = 0; p->bus && i < p->nbus; i++) {
        if (!p->bus[i])
            continue;
        free(p->bus[i]->legs);
        free(p->bus[i]->power);
        free(p->bus[i]->cl);
        free(p->bus[i]->drop);
        free(p->bus[i]->idle);
        free(p->bus[i]);
    }
    free(p->bus);
    free(p->visits);
    free(p->trip_dep);
    memset(p, 0, sizeof *p);
}

int sim_bus_at(struct sim_plan *p, int bi, double t, double *lat, double *lon,
               double *speed, double *track)
{
    struct sim_bus *b = p->bus[bi];
    const struct sim_leg *l;
    double s, v, la2, lo2;

    while (b->pcursor < b->npower && b->power[b->pcursor].t1 <= t)
        b->pcursor++;
    if (b->pcursor >= b->npower || t < b->power[b->pcursor].t0 || b->nlegs == 0)
        return 0;
    while (b->cursor < b->nlegs - 1 && b->legs[b->cursor].t1 <= t)
        b->cursor++;
    l = &b->legs[b->cursor];
    s = sim_leg_s(l, t - l->t0, &v);
    if (l->kind == SIM_LEG_STAY)
        v = 0;
    sim_leg_point(l, s, lat, lon);
    if (v > 0.3 && l->len > 0) {
        double ahead = s + 2 > l->len ? l->len : s + 2;
        double la1 = *lat, lo1 = *lon;

        if (ahead - s < 1) { /* at the very end: look back instead */
            sim_leg_point(l, s - 2 < 0 ? 0 : s - 2, &la1, &lo1);
            ahead = s;
        }
        sim_leg_point(l, ahead, &la2, &lo2);
        if (sim_geo_dist(la1, lo1, la2, lo2) > 0.5)
            b->track = sim_geo_bearing(la1, lo1, la2, lo2);
    }
    *speed = v;
    *track = b->track;
    return 1;
}

const struct sim_cline *sim_bus_clines(const struct sim_plan *p, int b, int *n)
{
    *n = p->bus[b]->ncl;
    return p->bus[b]->cl;
}

const struct sim_span *sim_bus_dropouts(const struct sim_plan *p, int b, int *n)
{
    *n = p->bus[b]->ndrop;
    return p->bus[b]->drop;
}

const struct sim_span *sim_bus_idles(const struct sim_plan *p, int b, int *n)
{
    *n = p->bus[b]->nidle;
    return p->bus[b]->idle;
}
