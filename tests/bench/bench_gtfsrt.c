/* bench_gtfsrt: the cost of building the combined GTFS-Realtime feed for N
 * buses (the active and the next trip of each, 20 stops each) against the
 * protobuf floor measured in the same run: unpacking and packing the same
 * bytes with protobuf-c. Prints figures; passes or fails nothing.
 * Usage: shuttle-bench-gtfsrt [BUSES [ROUNDS]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gtfs-realtime.pb-c.h"
#include "live_gtfsrt.h"
#include "live_gtfsrt_text.h"

#define BENCH_STOPS 20

static double bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int nbus = argc > 1 ? atoi(argv[1]) : 1000;
    int rounds = argc > 2 ? atoi(argv[2]) : 50;
    size_t ntrips = (size_t)nbus * 2;
    struct trips_stop *stops = calloc(BENCH_STOPS, sizeof *stops);
    struct trips_stop_time *st = calloc(ntrips * BENCH_STOPS, sizeof *st);
    struct trips_trip *trips = calloc(ntrips, sizeof *trips);
    struct live_vehicle *v = calloc((size_t)nbus, sizeof *v);
    const struct live_vehicle **vp = calloc((size_t)nbus, sizeof *vp);
    struct live_stop_pred *sp = calloc(ntrips * BENCH_STOPS, sizeof *sp);
    struct live_trip_pred *tp = calloc(ntrips, sizeof *tp);
    const struct live_trip_pred **tpp = calloc(ntrips, sizeof *tpp);
    double *tb = calloc((size_t)rounds, sizeof *tb);
    double *tf = calloc((size_t)rounds, sizeof *tf);
    struct trips_feed f = {0};
    struct live_gtfsrt_input in = {0};
    struct live_gtfsrt *g = live_gtfsrt_new(LIVE_GTFSRT_ALL);
    int64_t day_ms = (int64_t)19700 * 86400000 - 9 * 3600000LL;
    struct buf text = {0};
    size_t len = 0;
    double t0, t_text = 0;
    char err[256];

    if (nbus < 1 || rounds < 1 || !stops || !st || !trips || !v || !vp || !sp ||
        !tp || !tpp || !tb || !tf || !g) {
        fprintf(stderr, "usage: %s [BUSES [ROUNDS]] (or out of memory)\n",
                argv[0]);
        return 2;
    }
    for (int i = 0; i < BENCH_STOPS; i++) {
        snprintf(stops[i].id, sizeof stops[i].id, "S%02d", i);
        stops[i].lat = 37.5;
        stops[i].lon = 127.0 + 0.004 * i;
    }
    for (size_t t = 0; t < ntrips; t++) {
        int32_t start = 6 * 3600 + (int32_t)(t % 600) * 60;

        snprintf(trips[t].id, sizeof trips[t].id, "T%05zu", t);
        snprintf(trips[t].route_id, sizeof trips[t].route_id, "R%zu", t % 2);
        snprintf(trips[t].block_id, sizeof trips[t].block_id, "B%zu", t / 2);
        trips[t].direction = (int)(t % 2);
        trips[t].first = t * BENCH_STOPS;
        trips[t].n = BENCH_STOPS;
        for (int j = 0; j < BENCH_STOPS; j++) {
            struct trips_stop_time *s = &st[t * BENCH_STOPS + j];
            struct live_stop_pred *p = &sp[t * BENCH_STOPS + j];

            *s = (struct trips_stop_time){j, j + 1, start + 90 * j,
                                          start + 90 * j + 20};
            p->pos = j;
            p->stop = j;
            p->sequence = j + 1;
            p->kind =
                j < 3 && t % 2 == 0 ? LIVE_KIND_DEPARTED : LIVE_KIND_PREDICTED;
            p->sched_arr_ms = day_ms + (int64_t)s->arr_s * 1000;
            p->sched_dep_ms = day_ms + (int64_t)s->dep_s * 1000;
            p->arr_ms = p->sched_arr_ms + 45000;
            p->dep_ms = p->sched_dep_ms + 45000;
            p->arr_lo_ms = p->arr_ms - 30000;
            p->arr_hi_ms = p->arr_ms + 50000;
            p->load = 20;
        }
        tp[t] =
            (struct live_trip_pred){(int)t,
                                    (int)(t / 2),
                                    t % 2 ? LIVE_TRIP_NEXT : LIVE_TRIP_ACTIVE,
                                    0,
                                    0,
                                    &sp[t * BENCH_STOPS],
                                    BENCH_STOPS};
        tpp[t] = &tp[t];
    }
    f = (struct trips_feed){stops, BENCH_STOPS, st, ntrips * BENCH_STOPS,
                            trips, ntrips,      0,  day_ms};
    if (trips_feed_finish(&f) != 0)
        return 2;
    for (int i = 0; i < nbus; i++) {
        snprintf(v[i].id, sizeof v[i].id, "bus%04d", i);
        v[i].lat = 37.5;
        v[i].lon = 127.0 + 0.004 * 3.5;
        v[i].speed = 9;
        v[i].bearing = 90;
        v[i].status = LIVE_STATUS_IN_TRANSIT;
        v[i].trip = 2 * i;
        v[i].block_next = 2 * i + 1;
        v[i].pos = 2;
        v[i].next_pos = 3;
        v[i].load = 20;
        vp[i] = &v[i];
    }
    in = (struct live_gtfsrt_input){&f,   "bench", 19700,  vp, (size_t)nbus,
                                    NULL, tpp,     ntrips, 0,  NULL,
                                    NULL, NULL};
    for (int r = 0; r < rounds; r++) {
        struct live_gtfsrt_out out;
        TransitRealtime__FeedMessage *m;
        uint8_t *again;

        /* every round new content a second later: a full build */
        in.now_ms = day_ms + (7 * 3600 + r) * 1000LL;
        for (int i = 0; i < nbus; i++) {
            v[i].fix_ms = in.now_ms - 500;
            tp[2 * i].fix_ms = tp[2 * i + 1].fix_ms = v[i].fix_ms;
        }
        t0 = bench_now_s();
        if (live_gtfsrt_build(g, &in, &out, err, sizeof err) !=
                LIVE_GTFSRT_OK ||
            out.state != LIVE_GTFSRT_CHANGED) {
            fprintf(stderr, "build: %s\n", err);
            return 1;
        }
        tb[r] = bench_now_s() - t0;
        /* the floor: protobuf-c decoding and encoding the same bytes */
        t0 = bench_now_s();
        m = transit_realtime__feed_message__unpack(NULL, out.len, out.buf);
        again = malloc(out.len);
        if (!m || !again ||
            transit_realtime__feed_message__pack(m, again) != out.len)
            return 1;
        transit_realtime__feed_message__free_unpacked(m, NULL);
        tf[r] = bench_now_s() - t0;
        free(again);
        if (r == rounds - 1) {
            t0 = bench_now_s();
            if (live_gtfsrt_text(out.buf, out.len, &text, err, sizeof err) !=
                LIVE_GTFSRT_OK)
                return 1;
            t_text = bench_now_s() - t0;
            len = out.len;
        }
        free(out.buf);
    }
    qsort(tb, (size_t)rounds, sizeof *tb, bench_cmp);
    qsort(tf, (size_t)rounds, sizeof *tf, bench_cmp);
    printf("gtfsrt: %d buses, %zu trips of %d stops, %d rounds\n", nbus, ntrips,
           BENCH_STOPS, rounds);
    printf("  feed bytes       %zu (text %zu)\n", len, text.len);
    printf("  build  median    %.2f ms  max %.2f ms\n", tb[rounds / 2] * 1e3,
           tb[rounds - 1] * 1e3);
    printf("  floor  median    %.2f ms  (protobuf-c unpack + pack)\n",
           tf[rounds / 2] * 1e3);
    printf("  ratio build/floor %.2f\n", tb[rounds / 2] / tf[rounds / 2]);
    printf("  text             %.2f ms\n", t_text * 1e3);
    buf_free(&text);
    live_gtfsrt_free(g);
    free(stops);
    free(st);
    free(trips);
    free(v);
    free(vp);
    free(sp);
    free(tp);
    free(tpp);
    free(tb);
    free(tf);
    return 0;
}
