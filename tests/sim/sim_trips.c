/* sim_trips: a planned simulated day handed straight to the trip builder's
 * algorithm, without NMEA, MQTT or SQL in between. */
#define _GNU_SOURCE /* qsort_r */
#include "sim_trips.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_geo.h"
#include "sim_rng.h"

/* Grow *p (of *cap elements of `size`) to hold one more than n. */
static int sim_trips__grow(void **p, size_t *cap, size_t n, size_t size)
{
    void *q;
    size_t c;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 1024;
    q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

int sim_trips_vehicle(struct sim_plan *p, const struct sim_feed *f, int b,
                      const struct sim_trips_gps *g,
                      struct sim_trips_vehicle *v)
{
    struct sim_rng rn, rdrop;
    int ncl, ndrop, ci = 0, di = 0, load = 0, in = 0, out = 0, have = 0;
    const struct sim_cline *cl = sim_bus_clines(p, b, &ncl);
    const struct sim_span *dr = sim_bus_dropouts(p, b, &ndrop);
    size_t capf = 0, capd = 0;
    double en = 0, ee = 0, open_t = 0, lat = 0, lon = 0;

    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "bus-%d", b + 1);
    sim_rng_init(&rn, g->seed, 100 + (uint64_t)b);
    sim_rng_init(&rdrop, g->seed, 200 + (uint64_t)b);
    for (int t = 0; t < 30 * 3600; t++) {
        double tl, tn, speed, track;

        if (sim_bus_at(p, b, t, &tl, &tn, &speed, &track)) {
            /* A slowly wandering receiver error plus jitter, as the
             * simulator's. */
            en = 0.95 * en + 0.31 * g->noise_m * sim_rng_normal(&rn);
            ee = 0.95 * ee + 0.31 * g->noise_m * sim_rng_normal(&rn);
            lat = tl;
            lon = tn;
            sim_geo_offset(&lat, &lon,
                           en + 0.3 * g->noise_m * sim_rng_normal(&rn),
                           ee + 0.3 * g->noise_m * sim_rng_normal(&rn));
            have = 1;
            while (di < ndrop && dr[di].t1 <= t)
                di++;
            if (!(di < ndrop && dr[di].t0 <= t) &&
                !(g->drop > 0 && sim_rng_u01(&rdrop) < g->drop)) {
                struct trips_fix *x;

                if (sim_trips__grow((void **)&v->fixes, &capf, v->nfixes,
                                    sizeof *v->fixes) != 0)
                    goto oom;
                x = &v->fixes[v->nfixes++];
                x->t_ms = ((int64_t)f->day0 + t) * 1000;
                x->lat = lat;
                x->lon = lon;
                x->speed = speed > 0.5 ? speed : 0;
            }
        }
        /* Door episodes of this second: the row is written at the close,
         * where the bus then is. */
        for (; ci < ncl && cl[ci].t < t + 1; ci++) {
            struct trips_door *e;

            if (cl[ci].type == SIM_CL_OPEN) {
                open_t = cl[ci].t;
                in = out = 0;
                continue;
            }
            if (cl[ci].type == SIM_CL_COUNT) {
                in += cl[ci].in;
                out += cl[ci].out;
                continue;
            }
            load += in - out;
            if (load < 0)
                load = 0;
            if (sim_trips__grow((void **)&v->doors, &capd, v->ndoors,
                                sizeof *v->doors) != 0)
                goto oom;
            e = &v->doors[v->ndoors++];
            memset(e, 0, sizeof *e);
            e->open_ms = (int64_t)((f->day0 + open_t) * 1000);
            e->close_ms = (int64_t)((f->day0 + cl[ci].t) * 1000);
            e->t_ms = e->close_ms;
            e->lat = have ? lat : NAN;
            e->lon = have ? lon : NAN;
            e->boarded = in;
            e->alighted = out;
            e->load_after = load;
            e->visit = -1;
        }
    }
    return 0;
oom:
    sim_trips_vehicle_free(v);
    return -1;
}

void sim_trips_vehicle_free(struct sim_trips_vehicle *v)
{
    free(v->fixes);
    free(v->doors);
    v->fixes = NULL;
    v->doors = NULL;
    v->nfixes = v->ndoors = 0;
}

static int sim_trips__stop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct trips_stop *)a)->id,
                  ((const struct trips_stop *)b)->id);
}

static int sim_trips__trip_cmp(const void *a, const void *b, void *arg)
{
    const struct sim_feed *f = arg;

    return strcmp(f->trips[*(const int *)a].trip_id,
                  f->trips[*(const int *)b].trip_id);
}

int sim_trips_feed(const struct sim_feed *sf, int64_t day_ms,
                   struct trips_feed *f)
{
    int *order = calloc((size_t)sf->ntrips + 1, sizeof *order);

    memset(f, 0, sizeof *f);
    f->stops = calloc((size_t)sf->nstops + 1, sizeof *f->stops);
    f->trips = calloc((size_t)sf->ntrips + 1, sizeof *f->trips);
    f->st = calloc((size_t)sf->nst + 1, sizeof *f->st);
    if (!order || !f->stops || !f->trips || !f->st)
        goto oom;
    for (int i = 0; i < sf->nstops; i++) {
        snprintf(f->stops[i].id, sizeof f->stops[i].id, "%s",
                 sf->stops[i].stop_id);
        f->stops[i].lat = sf->stops[i].lat;
        f->stops[i].lon = sf->stops[i].lon;
    }
    f->nstops = (size_t)sf->nstops;
    qsort(f->stops, f->nstops, sizeof *f->stops, sim_trips__stop_cmp);
    for (int i = 0; i < sf->ntrips; i++)
        order[i] = i;
    qsort_r(order, (size_t)sf->ntrips, sizeof *order, sim_trips__trip_cmp,
            (void *)sf);
    for (int k = 0; k < sf->ntrips; k++) {
        const struct sim_trip *st = &sf->trips[order[k]];
        struct trips_trip *t = &f->trips[f->ntrips++];

        snprintf(t->id, sizeof t->id, "%s", st->trip_id);
        snprintf(t->route_id, sizeof t->route_id, "%s", st->route_id);
        snprintf(t->block_id, sizeof t->block_id, "%s",
                 st->block_id ? st->block_id : "");
        t->direction = st->direction;
        t->first = f->nst;
        for (int j = 0; j < st->nst; j++) {
            const struct sim_stop_time *x = sim_feed_st(sf, st, j);
            struct trips_stop_time *y = &f->st[f->nst++];
            struct trips_stop key, *hit;

            memset(&key, 0, sizeof key);
            snprintf(key.id, sizeof key.id, "%s", sf->stops[x->stop].stop_id);
            hit = bsearch(&key, f->stops, f->nstops, sizeof key,
                          sim_trips__stop_cmp);
            y->stop = hit ? (int)(hit - f->stops) : 0;
            y->sequence = x->seq;
            y->arr_s = x->arr;
            y->dep_s = x->dep;
        }
        t->n = (size_t)st->nst;
    }
    f->day_ms = day_ms;
    free(order);
    order = NULL;
    if (trips_feed_finish(f) != 0)
        goto oom;
    return 0;
oom:
    free(order);
    sim_trips_feed_free(f);
    return -1;
}

void sim_trips_feed_free(struct trips_feed *f)
{
    free(f->stops);
    free(f->st);
    free(f->trips);
    memset(f, 0, sizeof *f);
}
