/* testfeed: the unit tests' small timetable, predictions and view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pub_view.h"
#include "testfeed.h"

void testfeed_stops(struct testfeed *tf, const char *const *ids, size_t n,
                    double lat, double lon, double dlat, double dlon)
{
    assert_true(n <= TESTFEED_STOPS_MAX);
    memset(tf, 0, sizeof *tf);
    for (size_t i = 0; i < n; i++) {
        snprintf(tf->stops[i].id, sizeof tf->stops[i].id, "%s", ids[i]);
        tf->stops[i].lat = lat + dlat * (double)i;
        tf->stops[i].lon = lon + dlon * (double)i;
    }
    tf->f.stops = tf->stops;
    tf->f.nstops = n;
    tf->f.st = tf->st;
    tf->f.trips = tf->trips;
}

size_t testfeed_trip(struct testfeed *tf, const char *id, const char *route_id,
                     const char *block_id, int direction, const int *stops,
                     size_t npos, int start_s, int step_s)
{
    size_t t = tf->f.ntrips;
    struct trips_trip *tr = &tf->trips[t];

    assert_true(t < TESTFEED_TRIPS_MAX);
    assert_true(npos <= TESTFEED_POS_MAX);
    assert_true(tf->f.nst + npos <= sizeof tf->st / sizeof tf->st[0]);
    if (id != NULL)
        snprintf(tr->id, sizeof tr->id, "%s", id);
    else
        snprintf(tr->id, sizeof tr->id, "T%zu", t);
    snprintf(tr->route_id, sizeof tr->route_id, "%s", route_id);
    snprintf(tr->block_id, sizeof tr->block_id, "%s", block_id);
    tr->direction = direction;
    tr->first = tf->f.nst;
    tr->n = npos;
    for (size_t j = 0; j < npos; j++) {
        int s = start_s + (int)j * step_s;

        tf->st[tf->f.nst++] =
            (struct trips_stop_time){stops[j], (int)j + 1, s, s};
    }
    tf->f.ntrips = t + 1;
    return t;
}

void testfeed_finish(struct testfeed *tf)
{
    tf->f.day_ms = TESTFEED_DAY_MS;
    assert_int_equal(trips_feed_finish(&tf->f), 0);
}

struct live_trip_pred *testfeed_pred(struct testfeed *tf, int t,
                                     const struct testfeed_pred *p)
{
    struct live_trip_pred *tp;
    const struct trips_trip *tr;

    assert_true(t >= 0 && (size_t)t < tf->f.ntrips);
    tp = &tf->tp[t];
    tr = &tf->trips[t];
    tp->trip = t;
    tp->vehicle = p->vehicle;
    tp->state = p->state;
    tp->made_ms = p->fix_ms;
    tp->fix_ms = p->fix_ms;
    tp->stops = tf->sp[t];
    tp->nstops = tr->n;
    for (size_t j = 0; j < tr->n; j++) {
        const struct trips_stop_time *st = &tf->st[tr->first + j];
        struct live_stop_pred *sp = &tf->sp[t][j];

        sp->pos = (int)j;
        sp->stop = st->stop;
        sp->sequence = st->sequence;
        sp->kind = p->state == LIVE_TRIP_CANCELED ? LIVE_KIND_CANCELED
                                                  : LIVE_KIND_PREDICTED;
        sp->sched_arr_ms = TESTFEED_MS(st->arr_s);
        sp->sched_dep_ms = TESTFEED_MS(st->dep_s);
        sp->arr_ms = sp->sched_arr_ms + p->late_s * 1000;
        sp->dep_ms = sp->arr_ms + p->dwell_s * 1000;
        sp->arr_lo_ms = sp->arr_ms - p->lo_s * 1000;
        sp->arr_hi_ms = sp->arr_ms + p->hi_s * 1000;
        sp->load = p->load;
    }
    tf->tpp[t] = tp;
    return tp;
}

void testfeed_view(struct pub_view *v, const struct testfeed *tf)
{
    v->feed = &tf->f;
    v->day = TESTFEED_DAY;
    v->day_text = TESTFEED_DAY_TEXT;
    v->trips = tf->tpp;
    v->ntrips = tf->f.ntrips;
}
