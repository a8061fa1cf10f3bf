/* live_track: each bus placed on its block in real time, with the batch
 * trip builder's stop-visit rules (trips_visitor) and block order. */
#include "live_track.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* A stop seen this many positions beyond the last reached is too far
 * ahead to be the bus's (a loop passing it early, a noisy fix). */
#define LIVE_TRACK__SKIP 3
/* Shape projection window behind / ahead of the last distance, metres. */
#define LIVE_TRACK__BACK_M 100.0
#define LIVE_TRACK__AHEAD_M 600.0
/* Faster than a bus drives: after a gap between fixes, the new one is
 * looked for this much farther ahead per second of the gap. */
#define LIVE_TRACK__FAST_MPS 25.0

struct live_track__veh {
    struct live_vehicle pub;
    struct trips_visitor vs;
    int at;       /* stop the visitor is at, -1 none */
    bool started; /* departed a position of `trip` */
    int boarded, alighted;
    double reach_m; /* how far ahead the last fix may have gone */
};

struct live_track {
    const struct trips_feed *f;
    struct trips_params p;
    live_track_event_fn on_event;
    void *arg;
    struct live_shape *shapes; /* [ntrips] */
    int *block_next;           /* [ntrips] */
    int *block;                /* [ntrips]: block index, -1 none */
    int *taken;                /* [ntrips]: vehicle on it, -1 none */
    bool *done, *missed;       /* [ntrips] */
    struct live_track__veh *veh;
    size_t nveh, capveh;
    int *slots; /* open addressing by id hash: vehicle index, -1 free */
    size_t nslots;
};

static void live_track__emit(struct live_track *t, enum live_event_type type,
                             int vehicle, int trip, int pos, int64_t t_ms)
{
    struct live_event ev = {type, vehicle, trip, pos, t_ms, 0, 0, -1};

    if (vehicle >= 0 && type == LIVE_EV_DEPART) {
        struct live_track__veh *v = &t->veh[vehicle];

        ev.boarded = v->boarded;
        ev.alighted = v->alighted;
        ev.load_after = v->pub.load;
        v->boarded = v->alighted = 0;
    }
    if (t->on_event)
        t->on_event(t->arg, &ev);
}

void live_track_free(struct live_track *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->shapes && i < t->f->ntrips; i++)
        live_shape_free(&t->shapes[i]);
    free(t->shapes);
    free(t->block_next);
    free(t->block);
    free(t->taken);
    free(t->done);
    free(t->missed);
    free(t->veh);
    free(t->slots);
    free(t);
}

enum live_track_err
live_track_new(const struct trips_feed *f, const struct live_shapes *sh,
               const struct trips_params *p, live_track_event_fn on_event,
               void *arg, struct live_track **out, char *err, size_t errlen)
{
    struct live_track *t = calloc(1, sizeof *t);
    size_t nt = f->ntrips;
    int nb = 0;

    *out = NULL;
    if (!t)
        goto oom;
    t->f = f;
    t->p = *p;
    t->on_event = on_event;
    t->arg = arg;
    t->shapes = calloc(nt + 1, sizeof *t->shapes);
    t->block_next = calloc(nt + 1, sizeof *t->block_next);
    t->block = calloc(nt + 1, sizeof *t->block);
    t->taken = calloc(nt + 1, sizeof *t->taken);
    t->done = calloc(nt + 1, sizeof *t->done);
    t->missed = calloc(nt + 1, sizeof *t->missed);
    t->nslots = 64;
    t->slots = malloc(t->nslots * sizeof *t->slots);
    if (!t->shapes || !t->block_next || !t->block || !t->taken || !t->done ||
        !t->missed || !t->slots)
        goto oom;
    for (size_t i = 0; i < t->nslots; i++)
        t->slots[i] = -1;
    for (size_t i = 0; i < nt; i++) {
        enum live_shape_err e =
            live_shape_build(f, i, sh, &t->shapes[i], err, errlen);

        if (e != LIVE_SHAPE_OK) {
            live_track_free(t);
            return e == LIVE_SHAPE_ERR_NOMEM ? LIVE_TRACK_ERR_NOMEM
                                             : LIVE_TRACK_ERR_INVALID;
        }
        t->block_next[i] = trips_block_next(f, i);
        t->taken[i] = -1;
        t->block[i] = -1;
        for (size_t u = 0; u < i && f->trips[i].block_id[0]; u++)
            if (!strcmp(f->trips[u].block_id, f->trips[i].block_id)) {
                t->block[i] = t->block[u];
                break;
            }
        if (t->block[i] < 0 && f->trips[i].block_id[0])
            t->block[i] = nb++;
    }
    *out = t;
    return LIVE_TRACK_OK;
oom:
    live_track_free(t);
    snprintf(err, errlen, "out of memory");
    return LIVE_TRACK_ERR_NOMEM;
}

static size_t live_track__slot(const struct live_track *t, const char *vid)
{
    size_t mask = t->nslots - 1, i = (size_t)hash_fnv1a_str(vid) & mask;

    while (t->slots[i] >= 0 && strcmp(t->veh[t->slots[i]].pub.id, vid))
        i = (i + 1) & mask;
    return i;
}

int live_track_find(const struct live_track *t, const char *vid)
{
    return t->slots[live_track__slot(t, vid)];
}

/* Add vehicle VID; its index or -1 when out of memory. */
static int live_track__add(struct live_track *t, const char *vid)
{
    struct live_track__veh *v;

    if (t->nveh == t->capveh) {
        size_t cap = t->capveh ? t->capveh * 2 : 16;
        struct live_track__veh *nv = realloc(t->veh, cap * sizeof *nv);

        if (!nv)
            return -1;
        t->veh = nv;
        t->capveh = cap;
    }
    /* Keep the table under half full. */
    if (2 * (t->nveh + 1) > t->nslots) {
        size_t n = t->nslots * 2;
        int *s = malloc(n * sizeof *s);

        if (!s)
            return -1;
        free(t->slots);
        t->slots = s;
        t->nslots = n;
        for (size_t i = 0; i < n; i++)
            s[i] = -1;
        for (size_t k = 0; k < t->nveh; k++)
            s[live_track__slot(t, t->veh[k].pub.id)] = (int)k;
    }
    v = &t->veh[t->nveh];
    memset(v, 0, sizeof *v);
    snprintf(v->pub.id, sizeof v->pub.id, "%s", vid);
    v->pub.fix_ms = -1;
    v->pub.lat = v->pub.lon = v->pub.speed = v->pub.bearing = NAN;
    v->pub.status = LIVE_STATUS_UNKNOWN;
    v->pub.trip = v->pub.block_next = v->pub.pos = v->pub.next_pos = -1;
    v->pub.off_m = NAN;
    v->pub.load = -1;
    v->at = -1;
    trips_visitor_init(&v->vs, t->f, &t->p);
    t->slots[live_track__slot(t, vid)] = (int)t->nveh;
    return (int)t->nveh++;
}

/* Position of STOP on trip TR in [from, to], or -1. */
static int live_track__pos(const struct live_track *t, int tr, int stop,
                           int from, int to)
{
    const struct trips_trip *x = &t->f->trips[tr];

    for (int k = from < 0 ? 0 : from; k <= to && k < (int)x->n; k++)
        if (t->f->st[x->first + (size_t)k].stop == stop)
            return k;
    return -1;
}

/* Put vehicle VI on trip TR (-1: none) before any stop of it. */
static void live_track__take(struct live_track *t, int vi, int tr)
{
    struct live_track__veh *v = &t->veh[vi];

    if (v->pub.trip >= 0 && t->taken[v->pub.trip] == vi)
        t->taken[v->pub.trip] = -1;
    v->pub.trip = tr;
    v->pub.block_next = tr >= 0 ? t->block_next[tr] : -1;
    v->pub.pos = -1;
    v->pub.dist_m = 0;
    v->started = false;
    if (tr >= 0)
        t->taken[tr] = vi;
}

/* What leaving D ms after the schedule costs: early weighs 3x late, as
 * in trips_assign (buses run late often, early seldom). */
static int64_t live_track__cost(int64_t d)
{
    return d < 0 ? -3 * d : d;
}

/*
 * The trip a bus with none takes at STOP at T_MS: one not done nor taken
 * whose position 0..2 is STOP (the first may be lost in a dropout, as
 * trips_runs allows), within assign_ms of its schedule there, the nearest
 * (early weighs 3x, as in trips_assign). FIRST_ONLY: position 0 only.
 */
static int live_track__acquire(const struct live_track *t, int stop,
                               int64_t t_ms, bool first_only, int *pos,
                               int64_t *cost)
{
    const struct trips_feed *f = t->f;
    int best = -1;
    int64_t bc = INT64_MAX;

    for (size_t i = 0; i < f->ntrips; i++) {
        int k;
        int64_t d, c;

        if (t->done[i] || t->taken[i] >= 0)
            continue;
        k = live_track__pos(t, (int)i, stop, 0, first_only ? 0 : 2);
        if (k < 0)
            continue;
        d = t_ms -
            trips_sched_ms(f, f->st[f->trips[i].first + (size_t)k].dep_s);
        if (d > t->p.assign_ms || d < -t->p.assign_ms)
            continue;
        c = live_track__cost(d);
        if (c < bc) {
            bc = c;
            best = (int)i;
            *pos = k;
        }
    }
    if (cost)
        *cost = bc;
    return best;
}

/* Vehicle VI reached stop position K of its trip at T_MS. */
static void live_track__arrive(struct live_track *t, int vi, int k,
                               int64_t t_ms)
{
    struct live_track__veh *v = &t->veh[vi];
    int tr = v->pub.trip, next;
    const struct trips_trip *x = &t->f->trips[tr];

    v->pub.pos = k;
    live_track__emit(t, LIVE_EV_ARRIVE, vi, tr, k, t_ms);
    if (k < (int)x->n - 1)
        return;
    /* The end of the trip: at the terminal for the block's next one. */
    live_track__emit(t, LIVE_EV_TRIP_END, vi, tr, k, t_ms);
    t->done[tr] = true;
    next = t->block_next[tr];
    if (next >= 0 && (t->done[next] || t->taken[next] >= 0))
        next = -1;
    live_track__take(t, vi, next);
    if (next >= 0 && live_track__pos(t, next, v->at, 0, 0) == 0) {
        v->pub.pos = 0;
        live_track__emit(t, LIVE_EV_ARRIVE, vi, next, 0, t_ms);
    }
}

/* The visitor says VI arrived at STOP (entered its radius). Before the
 * bus has left its trip's first stop only that stop counts: a bus driving
 * to the start passes stops of the trip that it has not served yet. */
static void live_track__at_stop(struct live_track *t, int vi, int stop,
                                int64_t t_ms)
{
    struct live_track__veh *v = &t->veh[vi];
    int k;

    if (v->pub.trip < 0) {
        int tr = live_track__acquire(t, stop, t_ms, true, &k, NULL);

        if (tr < 0)
            return;
        live_track__take(t, vi, tr);
        live_track__arrive(t, vi, k, t_ms);
        return;
    }
    if (!v->started) {
        if (v->pub.pos < 0 && live_track__pos(t, v->pub.trip, stop, 0, 0) == 0)
            live_track__arrive(t, vi, 0, t_ms);
        return;
    }
    k = live_track__pos(t, v->pub.trip, stop, v->pub.pos + 1,
                        v->pub.pos + LIVE_TRACK__SKIP);
    if (k >= 0)
        live_track__arrive(t, vi, k, t_ms);
}

/* Whether STOP is next to trip TR's first stop (a terminal with two
 * stops: the visit began at the one the bus came to first). */
static bool live_track__near_start(const struct live_track *t, int tr, int stop)
{
    const struct trips_stop *a = &t->f->stops[stop];
    const struct trips_stop *b =
        &t->f->stops[t->f->st[t->f->trips[tr].first].stop];

    return trips_dist_m(a->lat, a->lon, b->lat, b->lon) <= 2 * t->p.leave_m;
}

/* The visitor closed a visit of VI (the bus left VIS->stop). A trip
 * starts on leaving one of its first three stops, as trips_runs allows
 * (the first may be lost in a dropout). */
static void live_track__left(struct live_track *t, int vi,
                             const struct trips_visit *vis,
                             const struct trips_fix *x)
{
    struct live_track__veh *v = &t->veh[vi];
    bool acquired = false;
    int k;

    if (v->pub.trip < 0) {
        int tr =
            live_track__acquire(t, vis->stop, vis->dep_ms, false, &k, NULL);

        if (tr < 0)
            return;
        live_track__take(t, vi, tr);
        acquired = true;
    }
    if (!v->started) {
        k = live_track__pos(t, v->pub.trip, vis->stop, 0, 2);
        if (k < 0 && v->pub.pos == 0 &&
            live_track__near_start(t, v->pub.trip, vis->stop))
            k = 0;
        if (k >= 0 && !acquired) {
            /* Leaving long after the trip it waited for, at the time of a
             * later trip from the same stop: the one waited for was left
             * out, or was never this bus's (a bus that reached the
             * terminal while an earlier trip was due took that one). A
             * late bus stays on its own (early costs more than late). */
            int w = v->pub.trip, k2;
            int64_t cw = live_track__cost(
                        vis->dep_ms -
                        trips_sched_ms(
                            t->f,
                            t->f->st[t->f->trips[w].first + (size_t)k].dep_s)),
                    c2;
            int tr =
                live_track__acquire(t, vis->stop, vis->dep_ms, false, &k2, &c2);

            if (tr >= 0 && k2 == 0 && c2 < cw && cw > LIVE_TRACK_MISS_MS &&
                trips_start_ms(t->f, (size_t)tr) >
                    trips_start_ms(t->f, (size_t)w)) {
                live_track__take(t, vi, tr);
                k = k2;
            }
        }
        if (k < 0) {
            /* Leaving, well after the trip it waited for was due, a stop
             * that starts a later trip of its block: the one waited for
             * was left out (missed), the bus drives the later one. */
            int w = v->pub.trip,
                tr = live_track__acquire(t, vis->stop, vis->dep_ms, false, &k,
                                         NULL);

            if (tr < 0 || t->block[tr] != t->block[w] ||
                trips_start_ms(t->f, (size_t)tr) <=
                    trips_start_ms(t->f, (size_t)w) ||
                vis->dep_ms <
                    trips_start_ms(t->f, (size_t)w) + LIVE_TRACK_MISS_MS)
                return;
            live_track__take(t, vi, tr);
            acquired = true;
        }
        /* Joining past the first stop: only going the trip's way (a bus
         * driving to the start may pass its second stop the other way). */
        if (k > 0 && v->pub.pos < k) {
            const struct live_shape *s = &t->shapes[v->pub.trip];
            double d = live_shape_project(
                s, x->lat, x->lon, s->stop_d[k] - 2 * t->p.leave_m,
                s->stop_d[k] + 2 * t->p.leave_m, NULL);

            if (d <= s->stop_d[k]) {
                if (acquired)
                    live_track__take(t, vi, -1);
                return;
            }
        }
        if (v->pub.pos < k)
            live_track__arrive(t, vi, k, vis->arr_ms);
    } else {
        k = v->pub.pos;
        if (k < 0 || live_track__pos(t, v->pub.trip, vis->stop, k, k) != k)
            return;
    }
    v->started = true;
    live_track__emit(t, LIVE_EV_DEPART, vi, v->pub.trip, k, vis->dep_ms);
}

/* Schedule time (Unix ms) of trip TR at distance D along its line. */
static int64_t live_track__sched_at(const struct live_track *t, int tr,
                                    double d)
{
    const struct trips_feed *f = t->f;
    const struct trips_trip *x = &f->trips[tr];
    const struct live_shape *s = &t->shapes[tr];
    size_t k = 0;
    double a, b, u;

    while (k + 1 < x->n && s->stop_d[k + 1] <= d)
        k++;
    a = f->st[x->first + k].dep_s;
    if (k + 1 >= x->n || d <= s->stop_d[k])
        return trips_sched_ms(f, k + 1 >= x->n ? f->st[x->first + k].arr_s
                                               : (int32_t)a);
    b = f->st[x->first + k + 1].arr_s;
    u = (d - s->stop_d[k]) / (s->stop_d[k + 1] - s->stop_d[k]);
    return f->day_ms + (int64_t)((a + u * (b - a)) * 1000);
}

/* Place VI on its trip's line after a fix. */
static void live_track__place(struct live_track *t, int vi)
{
    struct live_track__veh *v = &t->veh[vi];
    struct live_vehicle *pv = &v->pub;
    const struct live_shape *s;
    double off, lo, hi;
    int n;

    if (pv->trip < 0) {
        pv->status = LIVE_STATUS_DEADHEAD;
        pv->next_pos = -1;
        pv->off_m = NAN;
        pv->delay_s = 0;
        return;
    }
    s = &t->shapes[pv->trip];
    n = (int)t->f->trips[pv->trip].n;
    lo = pv->dist_m - LIVE_TRACK__BACK_M;
    hi = pv->dist_m + v->reach_m;
    if (pv->pos >= 0 && s->stop_d[pv->pos] - LIVE_TRACK__BACK_M > lo)
        lo = s->stop_d[pv->pos] - LIVE_TRACK__BACK_M;
    pv->dist_m = live_shape_project(s, pv->lat, pv->lon, lo, hi, &off);
    pv->off_m = off;
    /* Stops the bus got beyond while no fix came (a dropout): their
     * visits were never seen, so they pass with no times, lest they be
     * shown ahead. Not the last: its visit ends the trip. (Twice the
     * leave radius past a stop, the visitor has closed any visit there;
     * the bus may already be in the next stop's.) */
    if (v->started)
        while (pv->pos + 2 < n &&
               pv->dist_m > s->stop_d[pv->pos + 1] + 2 * t->p.leave_m)
            pv->pos++;
    pv->next_pos = pv->pos + 1 < n ? pv->pos + 1 : -1;
    if (!v->started) {
        int64_t late = pv->fix_ms - live_track__sched_at(t, pv->trip, 0);

        pv->status = LIVE_STATUS_LAYOVER;
        pv->delay_s = late > 0 ? (int32_t)(late / 1000) : 0;
        return;
    }
    pv->delay_s =
        (int32_t)((pv->fix_ms - live_track__sched_at(t, pv->trip, pv->dist_m)) /
                  1000);
    if (off > LIVE_TRACK_OFF_M)
        pv->status = LIVE_STATUS_OFF_ROUTE;
    else if (v->at >= 0 && pv->pos >= 0 &&
             t->f->st[t->f->trips[pv->trip].first + (size_t)pv->pos].stop ==
                 v->at)
        pv->status = LIVE_STATUS_AT_STOP;
    else
        pv->status = LIVE_STATUS_IN_TRANSIT;
}

static bool live_track__bad_pos(double lat, double lon)
{
    return !isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 ||
           fabs(lon) > 180;
}

enum live_track_res live_track_fix(struct live_track *t, const char *vid,
                                   const struct trips_fix *x, int64_t now_ms)
{
    struct live_track__veh *v;
    struct trips_visit vis;
    int vi, at;

    if (!vid || !vid[0] || strlen(vid) >= TRIPS_ID_MAX ||
        live_track__bad_pos(x->lat, x->lon))
        return LIVE_TRACK_BAD;
    if (x->t_ms > now_ms + LIVE_TRACK_FUTURE_MS)
        return LIVE_TRACK_FUTURE;
    vi = live_track_find(t, vid);
    if (vi < 0 && (vi = live_track__add(t, vid)) < 0)
        return LIVE_TRACK_NOMEM;
    v = &t->veh[vi];
    if (x->t_ms <= v->pub.fix_ms)
        return LIVE_TRACK_OLD;
    v->reach_m = LIVE_TRACK__AHEAD_M;
    if (v->pub.fix_ms >= 0)
        v->reach_m += LIVE_TRACK__FAST_MPS *
                      (double)(x->t_ms - v->pub.fix_ms - 1000) / 1000;
    if (v->reach_m < LIVE_TRACK__AHEAD_M)
        v->reach_m = LIVE_TRACK__AHEAD_M;
    v->pub.fix_ms = x->t_ms;
    v->pub.lat = x->lat;
    v->pub.lon = x->lon;
    v->pub.speed = x->speed;
    if (trips_visitor_fix(&v->vs, x, &vis)) {
        v->at = -1;
        live_track__left(t, vi, &vis, x);
    }
    at = v->vs.in ? v->vs.c.stop : -1;
    if (at >= 0 && at != v->at) {
        v->at = at;
        live_track__at_stop(t, vi, at, x->t_ms);
    }
    v->at = at;
    live_track__place(t, vi);
    return LIVE_TRACK_USED;
}

enum live_track_res live_track_door(struct live_track *t, const char *vid,
                                    const struct trips_door *d, int64_t now_ms)
{
    struct live_track__veh *v;
    int vi;

    if (!vid || !vid[0] || strlen(vid) >= TRIPS_ID_MAX || d->boarded < 0 ||
        d->alighted < 0)
        return LIVE_TRACK_BAD;
    if (d->t_ms > now_ms + LIVE_TRACK_FUTURE_MS)
        return LIVE_TRACK_FUTURE;
    vi = live_track_find(t, vid);
    if (vi < 0 && (vi = live_track__add(t, vid)) < 0)
        return LIVE_TRACK_NOMEM;
    v = &t->veh[vi];
    v->boarded += d->boarded;
    v->alighted += d->alighted;
    if (d->load_after >= 0)
        v->pub.load = d->load_after;
    return LIVE_TRACK_USED;
}

/* Whether a bus is on trip TR's block, on a trip it drives before TR
 * (late: it will still come). */
static bool live_track__block_coming(const struct live_track *t, size_t tr)
{
    for (size_t i = 0; i < t->nveh; i++) {
        int u = t->veh[i].pub.trip;

        if (u >= 0 && t->block[tr] >= 0 && t->block[u] == t->block[tr] &&
            t->veh[i].pub.status != LIVE_STATUS_STALE &&
            trips_start_ms(t->f, (size_t)u) <= trips_start_ms(t->f, tr))
            return true;
    }
    return false;
}

void live_track_tick(struct live_track *t, int64_t now_ms)
{
    for (size_t i = 0; i < t->nveh; i++) {
        struct live_vehicle *v = &t->veh[i].pub;

        if (v->fix_ms >= 0 && now_ms - v->fix_ms >= LIVE_STALE_MS)
            v->status = LIVE_STATUS_STALE;
    }
    for (size_t tr = 0; tr < t->f->ntrips; tr++) {
        if (t->done[tr] || t->missed[tr] || t->taken[tr] >= 0 ||
            now_ms - trips_start_ms(t->f, tr) < LIVE_TRACK_MISS_MS ||
            live_track__block_coming(t, tr))
            continue;
        t->missed[tr] = true;
        live_track__emit(t, LIVE_EV_MISSED, -1, (int)tr, -1, now_ms);
    }
}

size_t live_track_nvehicles(const struct live_track *t)
{
    return t->nveh;
}

const struct live_vehicle *live_track_vehicle(const struct live_track *t,
                                              size_t i)
{
    return i < t->nveh ? &t->veh[i].pub : NULL;
}

const struct live_shape *live_track_shape(const struct live_track *t, size_t i)
{
    return i < t->f->ntrips ? &t->shapes[i] : NULL;
}

bool live_track_missed(const struct live_track *t, size_t i)
{
    return i < t->f->ntrips && t->missed[i];
}
