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

/*
 * Mid-trip acquisition (a bus first heard between stops), as an AVL
 * matcher does it: near a trip's line, going its way, at a time its
 * schedule fits.
 *
 * NEAR_M: the bus is on the line when this close to it. Wider than the
 * receiver's error (a few metres) plus a road's width and a shape drawn
 * down the middle of it, narrower than LIVE_TRACK_OFF_M so a bus taken
 * this way is not OFF_ROUTE at once, and narrow enough that a parallel
 * street a block away is not the line.
 */
#define LIVE_TRACK__NEAR_M 50.0
/* STEP_M: a new sample only after the bus moved this far from the last
 * one: over three times the receiver's error, so the direction of a step
 * is the bus's and not the noise's; a standing bus adds none. */
#define LIVE_TRACK__STEP_M 10.0
/* CONFIRM: samples that must all be on the line and advance along it:
 * two steps, so one noisy step or a bus turning onto the line is not
 * enough, while at 1 Hz and city speed the bus is taken in a few
 * seconds (a restart must have predictions back within 10 s). */
#define LIVE_TRACK__CONFIRM 3
/* ALONG: each step's advance along the line is at least this share of
 * the ground it covered: a bus on the road moves along the line (along
 * a bend, more than the chord), one driving the other way goes back, one
 * crossing it moves mostly across (a 45 degree crossing gives 0.71). */
#define LIVE_TRACK__ALONG 0.75
/* LATE_MS, EARLY_MS: how far off its schedule at that distance a bus
 * taken mid-trip may be. Narrower than assign_ms (45 min), which is for a
 * bus seen leaving a trip's first stops: mid-trip there is less evidence
 * and more to lose. A deadhead bus on a road a trip also drives, heard
 * when the trip's own bus finished it before the tracker started
 * listening, fits that trip a quarter of an hour "late"; taken, it is a
 * ghost with predictions and blocks the trip's block. In
 * shuttle-bench-live --quick the right takes were within -1 and +3 min
 * of schedule, five of the six wrong ones 9 to 17 min late. A bus later
 * than this is taken at its
 * next trip's start. Early weighs 3x late (live_track__cost), so 5 min
 * early is refused before 10 min late. */
#define LIVE_TRACK__LATE_MS (10 * 60 * 1000)
#define LIVE_TRACK__EARLY_MS (5 * 60 * 1000)
/* GAP_MS: samples further apart than this in time are not consecutive
 * (a dropout or a long halt): the confirmation starts again. */
#define LIVE_TRACK__GAP_MS (60 * 1000)
/* COLD_MS: mid-trip acquisition is for a bus the tracker has just begun
 * to hear (first heard, or heard again after this long without a fix: a
 * restart past the replay, first fixes lost), within this long of it. A
 * bus followed all along that has no trip is known to be out of service
 * (driving back to the hub along another trip's road, its way, at its
 * time, is what the simulator's buses do after every commute-in run):
 * taking it would make a ghost of it and hide the trip's real state. */
#define LIVE_TRACK__COLD_MS (10 * 60 * 1000)

/* One position of a bus with no trip, kept for the confirmation. */
struct live_track__sample {
    int64_t t_ms;
    double lat, lon;
};

/* Where a trip's line lies: its shape's bounding box, widened by NEAR_M,
 * so a fix far from it is refused without projecting. */
struct live_track__box {
    double lat0, lat1, lon0, lon1;
};

struct live_track__veh {
    struct live_vehicle pub;
    struct trips_visitor vs;
    int at;       /* stop the bus halted at (visitor in it), -1 none */
    bool started; /* departed a position of `trip` */
    int boarded, alighted;
    /* The stop whose visit was under way when the bus was taken mid-trip
     * (-1 none): its arrival was not seen, so its departure is not told
     * either. */
    int quiet;
    struct live_track__sample ring[LIVE_TRACK__CONFIRM]; /* oldest first */
    int nring;
    double reach_m;   /* how far ahead the last fix may have gone */
    int64_t heard_ms; /* first fix since the tracker began hearing it */
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
    bool midtrip;              /* live_track_set_midtrip */
    /* For mid-trip acquisition: trips by scheduled start, each trip's
     * scheduled start and end, the longest trip, the lines' boxes and
     * each block's first trip. */
    int *by_start;              /* [ntrips] */
    int64_t *start_ms, *end_ms; /* [ntrips] */
    int64_t max_span_ms;
    struct live_track__box *box; /* [ntrips] */
    int *block_first;            /* [nblocks] */
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
    free(t->by_start);
    free(t->start_ms);
    free(t->end_ms);
    free(t->box);
    free(t->block_first);
    free(t->veh);
    free(t->slots);
    free(t);
}

/* A trip and its scheduled start, to sort trips by start. */
struct live_track__key {
    int64_t start_ms;
    int trip;
};

/* By start, ties by index: the same order on every run. */
static int live_track__by_start(const void *a, const void *b)
{
    const struct live_track__key *x = a, *y = b;

    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return x->trip < y->trip ? -1 : x->trip > y->trip;
}

/* The index mid-trip acquisition scans: trips by start, their spans and
 * boxes, each block's first trip. Returns -1 when out of memory. */
static int live_track__index(struct live_track *t, int nb)
{
    const struct trips_feed *f = t->f;
    size_t nt = f->ntrips;
    struct live_track__key *key = calloc(nt + 1, sizeof *key);

    if (!key)
        return -1;
    t->by_start = calloc(nt + 1, sizeof *t->by_start);
    t->start_ms = calloc(nt + 1, sizeof *t->start_ms);
    t->end_ms = calloc(nt + 1, sizeof *t->end_ms);
    t->box = calloc(nt + 1, sizeof *t->box);
    t->block_first = calloc((size_t)nb + 1, sizeof *t->block_first);
    if (!t->by_start || !t->start_ms || !t->end_ms || !t->box ||
        !t->block_first) {
        free(key);
        return -1;
    }
    for (int b = 0; b < nb; b++)
        t->block_first[b] = -1;
    for (size_t i = 0; i < nt; i++) {
        const struct trips_trip *x = &f->trips[i];
        const struct live_shape *s = &t->shapes[i];
        struct live_track__box *bx = &t->box[i];
        /* NEAR_M in degrees: latitude everywhere, longitude shrunk by
         * the cosine of the box's latitude (taken at its edge nearest a
         * pole, so the margin is never short). */
        double dlat = LIVE_TRACK__NEAR_M / 111195.0, c;

        t->start_ms[i] = trips_start_ms(f, i);
        t->end_ms[i] = trips_sched_ms(f, f->st[x->first + x->n - 1].arr_s);
        if (t->end_ms[i] - t->start_ms[i] > t->max_span_ms)
            t->max_span_ms = t->end_ms[i] - t->start_ms[i];
        bx->lat0 = bx->lat1 = s->lat[0];
        bx->lon0 = bx->lon1 = s->lon[0];
        for (size_t k = 1; k < s->n; k++) {
            bx->lat0 = fmin(bx->lat0, s->lat[k]);
            bx->lat1 = fmax(bx->lat1, s->lat[k]);
            bx->lon0 = fmin(bx->lon0, s->lon[k]);
            bx->lon1 = fmax(bx->lon1, s->lon[k]);
        }
        c = cos(fmin(fmax(fabs(bx->lat0), fabs(bx->lat1)) + dlat, 89.0) * M_PI /
                180);
        bx->lat0 -= dlat;
        bx->lat1 += dlat;
        bx->lon0 -= dlat / c;
        bx->lon1 += dlat / c;
        if (t->block[i] >= 0 &&
            (t->block_first[t->block[i]] < 0 ||
             t->start_ms[i] < t->start_ms[t->block_first[t->block[i]]]))
            t->block_first[t->block[i]] = (int)i;
        key[i].start_ms = t->start_ms[i];
        key[i].trip = (int)i;
    }
    qsort(key, nt, sizeof *key, live_track__by_start);
    for (size_t i = 0; i < nt; i++)
        t->by_start[i] = key[i].trip;
    free(key);
    return 0;
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
    if (live_track__index(t, nb) != 0)
        goto oom;
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
    v->quiet = -1;
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
    v->quiet = -1;
    v->nring = 0;
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

/* The visitor says VI arrived at STOP (halted in its radius, or drove past it).
 * Before the bus has left its trip's first stop only that stop counts: a bus
 * driving to the start passes stops of the trip that it has not served yet. */
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

    if (v->pub.trip >= 0 && vis->stop == v->quiet) {
        v->quiet = -1;
        return;
    }
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

/* Keep fix X of VI as a confirmation sample when the bus moved STEP_M
 * since the last one; whether CONFIRM samples are there to judge. */
static bool live_track__sample(struct live_track__veh *v,
                               const struct trips_fix *x)
{
    struct live_track__sample *last = v->nring ? &v->ring[v->nring - 1] : NULL;

    if (last && x->t_ms - last->t_ms > LIVE_TRACK__GAP_MS)
        v->nring = 0;
    else if (last && trips_dist_m(last->lat, last->lon, x->lat, x->lon) <
                         LIVE_TRACK__STEP_M)
        return false;
    if (v->nring == LIVE_TRACK__CONFIRM) {
        memmove(v->ring, v->ring + 1,
                (LIVE_TRACK__CONFIRM - 1) * sizeof *v->ring);
        v->nring--;
    }
    v->ring[v->nring++] = (struct live_track__sample){x->t_ms, x->lat, x->lon};
    return v->nring == LIVE_TRACK__CONFIRM;
}

/* Whether another live bus than VI is on trip TR's block on a trip it
 * drives before TR: TR is that bus's to come to, not VI's to take. */
static bool live_track__block_busy(const struct live_track *t, int tr, int vi)
{
    int guard = (int)t->f->ntrips;

    if (t->block[tr] < 0)
        return false;
    for (int u = t->block_first[t->block[tr]]; u >= 0 && u != tr && guard-- > 0;
         u = t->block_next[u]) {
        int o = t->taken[u];

        if (o >= 0 && o != vi && t->veh[o].pub.status != LIVE_STATUS_STALE)
            return true;
    }
    return false;
}

/* Whether VI's samples lie on trip TR's line and advance along it; *d
 * gets the distance along of the newest. */
static bool live_track__along(const struct live_track *t,
                              const struct live_track__veh *v, int tr,
                              double *d)
{
    const struct live_shape *s = &t->shapes[tr];
    const struct live_track__box *bx = &t->box[tr];
    double prev = 0, off;

    /* The box first: most trips of the hour are on other roads. */
    for (int k = 0; k < v->nring; k++)
        if (v->ring[k].lat < bx->lat0 || v->ring[k].lat > bx->lat1 ||
            v->ring[k].lon < bx->lon0 || v->ring[k].lon > bx->lon1)
            return false;
    for (int k = 0; k < v->nring; k++) {
        const struct live_track__sample *q = &v->ring[k];
        double chord = 0, at;

        if (k == 0) {
            at = live_shape_project(s, q->lat, q->lon, -INFINITY, INFINITY,
                                    &off);
        } else {
            chord = trips_dist_m(v->ring[k - 1].lat, v->ring[k - 1].lon, q->lat,
                                 q->lon);
            /* Near the last sample, behind it as well as ahead, so a bus
             * going the other way is seen to go back (and a line that
             * comes back on itself is not taken for its other leg). */
            at =
                live_shape_project(s, q->lat, q->lon, prev - 2 * chord,
                                   prev + 3 * chord + LIVE_TRACK__NEAR_M, &off);
        }
        if (off > LIVE_TRACK__NEAR_M)
            return false;
        if (k > 0 && at - prev < LIVE_TRACK__ALONG * chord)
            return false;
        prev = at;
    }
    *d = prev;
    return true;
}

/*
 * The trip vehicle VI (on none) is driving, taken from its last
 * CONFIRM samples: not done nor taken, its block with no other live bus
 * on an earlier trip, the samples on its line going its way, between its
 * first and last stop, within EARLY_MS / LATE_MS of its schedule there
 * (and its span, widened by assign_ms, holding the time); of those
 * the nearest its schedule (early weighs 3x, as live_track__cost). -1
 * none; *d gets the distance along.
 *
 * Bounded per fix: only trips whose scheduled span, widened by
 * assign_ms, holds the time are looked at (a binary search of the trips
 * by start), and of those only the ones whose box holds the samples are
 * projected.
 */
static int live_track__midtrip(const struct live_track *t, int vi, double *d)
{
    const struct live_track__veh *v = &t->veh[vi];
    int64_t tn = v->ring[v->nring - 1].t_ms, bc = INT64_MAX;
    int64_t from = tn - t->p.assign_ms - t->max_span_ms,
            to = tn + t->p.assign_ms;
    size_t lo = 0, hi = t->f->ntrips;
    int best = -1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->start_ms[t->by_start[mid]] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->f->ntrips; i++) {
        int tr = t->by_start[i];
        const struct live_shape *s = &t->shapes[tr];
        double at;
        int64_t late, c;

        if (t->start_ms[tr] > to)
            break;
        if (t->done[tr] || t->taken[tr] >= 0 ||
            tn > t->end_ms[tr] + t->p.assign_ms ||
            !live_track__along(t, v, tr, &at))
            continue;
        /* Past the first stop, short of the last: before it the bus is
         * taken at its first stop; at the last there is nothing left to
         * predict. */
        if (at < s->stop_d[0] || at >= s->stop_d[s->nstops - 1])
            continue;
        late = tn - live_track__sched_at(t, tr, at);
        if (late > LIVE_TRACK__LATE_MS || late < -LIVE_TRACK__EARLY_MS)
            continue;
        c = live_track__cost(late);
        if (c < bc && !live_track__block_busy(t, tr, vi)) {
            bc = c;
            best = tr;
            *d = at;
        }
    }
    return best;
}

/*
 * Put VI on trip TR where it was found, D metres along: at the last stop
 * behind it, already started. No ARRIVE or DEPART is told for the stops
 * it was not seen at (today's evidence must not learn invented times);
 * a stop visit under way is kept quiet to its end for the same reason.
 */
static void live_track__join(struct live_track *t, int vi, int tr, double d)
{
    struct live_track__veh *v = &t->veh[vi];
    const struct live_shape *s = &t->shapes[tr];
    int k = 0, quiet = -1;

    while (k + 1 < (int)s->nstops && s->stop_d[k + 1] <= d)
        k++;
    if (v->vs.in) {
        int j = live_track__pos(t, tr, v->vs.c.stop, k, k + 1);

        if (j >= 0) {
            k = j;
            quiet = v->vs.c.stop;
        }
    }
    /* At its last stop the trip is over: joined there, it would never
     * end (its arrival is what ends it, and that one is kept quiet). */
    if (k >= (int)s->nstops - 1)
        return;
    live_track__take(t, vi, tr);
    v->quiet = quiet;
    v->pub.pos = k;
    v->pub.dist_m = d;
    v->started = true;
    /* A bus is on it after all: whatever was said before, it runs. */
    t->missed[tr] = false;
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
    if (v->pub.fix_ms < 0 || x->t_ms - v->pub.fix_ms > LIVE_TRACK__COLD_MS)
        v->heard_ms = x->t_ms;
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
        /* a stop driven past is reached at its closest fix, known only
         * now that the bus has left it */
        if (v->at != vis.stop)
            live_track__at_stop(t, vi, vis.stop, vis.arr_ms);
        v->at = -1;
        live_track__left(t, vi, &vis, x);
    }
    /* A bus arrives at its first halt within the radius, not on entering
     * it: the batch builder's arrival, which the history's running times
     * and dwells are measured from (and a rider's "the bus is here"). */
    at = v->vs.in && v->vs.c.first_halt ? v->vs.c.stop : -1;
    if (at >= 0 && at != v->at) {
        v->at = at;
        live_track__at_stop(t, vi, at, v->vs.c.first_halt);
    }
    v->at = at;
    /* Only a bus on no trip looks for one along the lines. */
    if (t->midtrip && v->pub.trip < 0 &&
        x->t_ms - v->heard_ms <= LIVE_TRACK__COLD_MS &&
        live_track__sample(v, x)) {
        double d;
        int tr = live_track__midtrip(t, vi, &d);

        if (tr >= 0)
            live_track__join(t, vi, tr, d);
    } else if (v->pub.trip >= 0) {
        v->nring = 0;
    }
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

void live_track_set_midtrip(struct live_track *t, bool on)
{
    t->midtrip = on;
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
