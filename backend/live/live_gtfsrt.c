/* live_gtfsrt: the GTFS-Realtime FeedMessage from the tracker's vehicles and
 * the trip predictions, and the header timestamp that never goes back. */
#include "live_gtfsrt.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gtfs-realtime.pb-c.h"
#include "hash.h"

/* The smallest number of people one occupancy step may stand for: a
 * published figure must not tell one or two riders apart from none. */
#define LIVE_GTFSRT__BUCKET_PEOPLE 4

struct live_gtfsrt {
    enum live_gtfsrt_what what;
    bool have; /* hash and ts are of a build */
    uint64_t hash, ts;
    /* When each trip of `feed` was first seen cancelled (seconds; 0: not
     * cancelled): the cancelled TripUpdate's timestamp, fixed so that a
     * cancellation does not change the content every second. */
    const struct trips_feed *feed;
    int64_t *canceled_s;
    /* When each trip's alerts were first built, the start of their
     * active_period (seconds; 0: no alert): [2 t] its cancellation, [2 t +
     * 1] its delay. Fixed for the same reason, and the delay's says it was
     * on in the last build (the hysteresis of LIVE_GTFSRT_DELAY_CLEAR_S). */
    int64_t *alert_s;
    size_t ntrips;
};

/* Everything of one message comes from one arena, freed at once after
 * packing: the message is a tree of small structs and strings. */
struct live_gtfsrt__chunk {
    struct live_gtfsrt__chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct live_gtfsrt__build {
    const struct live_gtfsrt_input *in;
    struct live_gtfsrt *g;
    struct live_gtfsrt__chunk *arena;
    bool nomem;
    bool *canceled; /* [ntrips]: listed as cancelled in this build */
    bool *alerted;  /* [2 ntrips]: the alert_s slots used in this build */
    int64_t now_s;
    char date[9]; /* start_date of every trip: the service day */
};

struct live_gtfsrt *live_gtfsrt_new(enum live_gtfsrt_what what)
{
    struct live_gtfsrt *g;

    if (what <= 0 || (what & ~LIVE_GTFSRT_ALL) != 0)
        return NULL;
    g = calloc(1, sizeof *g);
    if (g)
        g->what = what;
    return g;
}

void live_gtfsrt_free(struct live_gtfsrt *g)
{
    if (g) {
        free(g->canceled_s);
        free(g->alert_s);
    }
    free(g);
}

static void *live_gtfsrt__alloc(struct live_gtfsrt__build *b, size_t n)
{
    struct live_gtfsrt__chunk *c = b->arena;
    void *p;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;

        c = malloc(sizeof *c + cap);
        if (!c) {
            b->nomem = true;
            return NULL;
        }
        c->next = b->arena;
        c->used = 0;
        c->cap = cap;
        b->arena = c;
    }
    p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static void live_gtfsrt__arena_free(struct live_gtfsrt__build *b)
{
    while (b->arena) {
        struct live_gtfsrt__chunk *c = b->arena;

        b->arena = c->next;
        free(c);
    }
}

static char *live_gtfsrt__printf(struct live_gtfsrt__build *b, const char *fmt,
                                 ...) __attribute__((format(printf, 2, 3)));

static char *live_gtfsrt__printf(struct live_gtfsrt__build *b, const char *fmt,
                                 ...)
{
    va_list ap;
    char *s;
    int n;

    /* Measured first: alert texts hold names of any length. */
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->nomem = true;
        return NULL;
    }
    s = live_gtfsrt__alloc(b, (size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Milliseconds to the second that contains them. */
static int64_t live_gtfsrt__sec(int64_t ms)
{
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int live_gtfsrt_occupancy(int load, int seats, int *status)
{
    long step = 10, q;
    int pct, st;

    if (load < 0 || seats <= 0)
        return -1;
    /* Steps of 10 % while 10 % of the seats hold at least four people
     * (4.5 on a 45-seat bus), wider on a small vehicle; rounded to the
     * nearest step, so every figure stands for four or more possible
     * counts, and 0 % for "0 to 2 riders" on our buses. */
    while (step * seats < LIVE_GTFSRT__BUCKET_PEOPLE * 100L)
        step += 10;
    q = (200L * load + step * seats) / (2 * step * seats);
    pct = (int)(q * step);
    /* From the coarse figure, not the count, so the status says no more
     * than the percentage does. */
    if (pct == 0)
        st = TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__EMPTY;
    else if (pct < 70)
        st =
            TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__MANY_SEATS_AVAILABLE;
    else if (pct < 100)
        st =
            TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__FEW_SEATS_AVAILABLE;
    else if (pct < 130)
        st =
            TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__STANDING_ROOM_ONLY;
    else
        st =
            TRANSIT_REALTIME__VEHICLE_POSITION__OCCUPANCY_STATUS__CRUSHED_STANDING_ROOM_ONLY;
    if (status)
        *status = st;
    return pct;
}

static TransitRealtime__TripDescriptor *
live_gtfsrt__trip(struct live_gtfsrt__build *b, int t, bool canceled)
{
    const struct trips_feed *f = b->in->feed;
    const struct trips_trip *tr = &f->trips[t];
    TransitRealtime__TripDescriptor *d = live_gtfsrt__alloc(b, sizeof *d);
    int32_t s0;

    if (!d)
        return NULL;
    transit_realtime__trip_descriptor__init(d);
    d->trip_id = live_gtfsrt__printf(b, "%s", tr->id);
    if (tr->route_id[0])
        d->route_id = live_gtfsrt__printf(b, "%s", tr->route_id);
    if (tr->direction >= 0) {
        d->has_direction_id = 1;
        d->direction_id = (uint32_t)tr->direction;
    }
    /* The first stop's arrival_time as GTFS writes it (past 24:00:00 for
     * a trip after midnight): validator E023. */
    s0 = tr->n ? f->st[tr->first].arr_s : 0;
    d->start_time = live_gtfsrt__printf(b, "%02d:%02d:%02d", (int)(s0 / 3600),
                                        (int)(s0 / 60 % 60), (int)(s0 % 60));
    d->start_date = live_gtfsrt__printf(b, "%s", b->date);
    d->has_schedule_relationship = 1;
    d->schedule_relationship =
        canceled
            ? TRANSIT_REALTIME__TRIP_DESCRIPTOR__SCHEDULE_RELATIONSHIP__CANCELED
            : TRANSIT_REALTIME__TRIP_DESCRIPTOR__SCHEDULE_RELATIONSHIP__SCHEDULED;
    return d;
}

static TransitRealtime__VehicleDescriptor *
live_gtfsrt__vehicle(struct live_gtfsrt__build *b, const struct live_vehicle *v)
{
    TransitRealtime__VehicleDescriptor *d = live_gtfsrt__alloc(b, sizeof *d);

    if (!d)
        return NULL;
    transit_realtime__vehicle_descriptor__init(d);
    d->id = live_gtfsrt__printf(b, "%s", v->id);
    return d;
}

/* Whether vehicle V's predictions are live: a bus without a recent fix
 * has predictions from its last one, which no longer say anything. */
static bool live_gtfsrt__live(const struct live_gtfsrt__build *b,
                              const struct live_vehicle *v)
{
    return v && v->fix_ms >= 0 && v->status != LIVE_STATUS_STALE &&
           v->status != LIVE_STATUS_UNKNOWN &&
           b->in->now_ms - v->fix_ms <= LIVE_STALE_MS;
}

static TransitRealtime__TripUpdate__StopTimeEvent *
live_gtfsrt__event(struct live_gtfsrt__build *b, int64_t t_s, int64_t sched_ms,
                   int32_t unc_s)
{
    TransitRealtime__TripUpdate__StopTimeEvent *e =
        live_gtfsrt__alloc(b, sizeof *e);

    if (!e)
        return NULL;
    transit_realtime__trip_update__stop_time_event__init(e);
    e->has_time = 1;
    e->time = t_s;
    /* delay is time minus the timetable, both in whole seconds, so a
     * client adding it to the static schedule gets `time` back. */
    e->has_delay = 1;
    e->delay = (int32_t)(t_s - live_gtfsrt__sec(sched_ms));
    if (unc_s >= 0) {
        e->has_uncertainty = 1;
        e->uncertainty = unc_s;
    }
    return e;
}

/* The stop time updates of TP into TU; false when out of memory. */
static bool live_gtfsrt__stops(struct live_gtfsrt__build *b,
                               const struct live_trip_pred *tp, bool live,
                               TransitRealtime__TripUpdate *tu)
{
    const struct trips_feed *f = b->in->feed;
    int64_t last = INT64_MIN;

    tu->stop_time_update =
        live_gtfsrt__alloc(b, tp->nstops * sizeof *tu->stop_time_update);
    if (!tu->stop_time_update && tp->nstops)
        return false;
    for (size_t i = 0; i < tp->nstops; i++) {
        const struct live_stop_pred *sp = &tp->stops[i];
        TransitRealtime__TripUpdate__StopTimeUpdate *u;
        int64_t a, d;
        int32_t unc = -1;

        /* What already happened is history, not a prediction: clients
         * show what is ahead. */
        if (sp->kind == LIVE_KIND_DEPARTED)
            continue;
        u = live_gtfsrt__alloc(b, sizeof *u);
        if (!u)
            return false;
        transit_realtime__trip_update__stop_time_update__init(u);
        u->has_stop_sequence = 1;
        u->stop_sequence = (uint32_t)sp->sequence;
        u->stop_id = live_gtfsrt__printf(b, "%s", f->stops[sp->stop].id);
        u->has_schedule_relationship = 1;
        tu->stop_time_update[tu->n_stop_time_update++] = u;
        if (sp->kind == LIVE_KIND_SKIPPED || sp->kind == LIVE_KIND_CANCELED) {
            u->schedule_relationship =
                TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SKIPPED;
            continue;
        }
        if (!live || sp->kind == LIVE_KIND_SCHEDULED || sp->arr_ms < 0 ||
            sp->dep_ms < 0) {
            /* No live data: NO_DATA and no times (validator E042), so a
             * client falls back on its timetable. */
            u->schedule_relationship =
                TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__NO_DATA;
            continue;
        }
        u->schedule_relationship =
            TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SCHEDULED;
        /* Whole seconds may tie two stops, and clients reject times that
         * do not increase from stop to stop (E022) or a departure before
         * its arrival (E025): each is nudged to one second later. */
        a = live_gtfsrt__sec(sp->arr_ms + 500);
        if (last != INT64_MIN && a <= last)
            a = last + 1;
        d = live_gtfsrt__sec(sp->dep_ms + 500);
        if (d < a)
            d = a;
        last = d;
        /* Half the 80 % interval's width, rounded up. */
        if (sp->arr_lo_ms >= 0 && sp->arr_hi_ms >= sp->arr_lo_ms)
            unc = (int32_t)((sp->arr_hi_ms - sp->arr_lo_ms + 1999) / 2000);
        u->arrival = live_gtfsrt__event(b, a, sp->sched_arr_ms, unc);
        u->departure = live_gtfsrt__event(b, d, sp->sched_dep_ms, unc);
        if (!u->arrival || !u->departure)
            return false;
    }
    return true;
}

static TransitRealtime__FeedEntity *
live_gtfsrt__entity(struct live_gtfsrt__build *b, const char *kind,
                    const char *id)
{
    TransitRealtime__FeedEntity *e = live_gtfsrt__alloc(b, sizeof *e);

    if (!e)
        return NULL;
    transit_realtime__feed_entity__init(e);
    e->id = live_gtfsrt__printf(b, "%s:%s", kind, id);
    return e;
}

/* TP's TripUpdate entity into *OUT (NULL: not published). Returns false
 * when out of memory. */
static bool live_gtfsrt__trip_update(struct live_gtfsrt__build *b,
                                     const struct live_trip_pred *tp,
                                     TransitRealtime__FeedEntity **out)
{
    const struct live_gtfsrt_input *in = b->in;
    const struct trips_feed *f = in->feed;
    const struct live_vehicle *v =
        tp->vehicle >= 0 ? in->vehicles[tp->vehicle] : NULL;
    bool canceled = tp->state == LIVE_TRIP_CANCELED;
    TransitRealtime__TripUpdate *tu;
    TransitRealtime__FeedEntity *e;

    *out = NULL;
    if (tp->state == LIVE_TRIP_SCHEDULED)
        return true;
    if (canceled) {
        const struct trips_trip *tr = &f->trips[tp->trip];

        b->canceled[tp->trip] = true;

        /* Nobody waits for a cancelled trip after its last stop's time. */
        if (!tr->n ||
            trips_sched_ms(f, f->st[tr->first + tr->n - 1].arr_s) < in->now_ms)
            return true;
    }
    tu = live_gtfsrt__alloc(b, sizeof *tu);
    e = live_gtfsrt__entity(b, "trip", f->trips[tp->trip].id);
    if (!tu || !e)
        return false;
    transit_realtime__trip_update__init(tu);
    tu->trip = live_gtfsrt__trip(b, tp->trip, canceled);
    if (!tu->trip)
        return false;
    if (v) {
        tu->vehicle = live_gtfsrt__vehicle(b, v);
        if (!tu->vehicle)
            return false;
    }
    if (canceled) {
        /* No fix measured this: the moment we first learnt of it. */
        int64_t *s = &b->g->canceled_s[tp->trip];

        if (*s <= 0 || *s > b->now_s)
            *s = b->now_s;
        tu->has_timestamp = 1;
        tu->timestamp = (uint64_t)*s;
    } else {
        if (!live_gtfsrt__stops(b, tp, live_gtfsrt__live(b, v), tu))
            return false;
        /* A trip with every stop behind it is over. */
        if (!tu->n_stop_time_update)
            return true;
        if (tp->fix_ms >= 0) {
            int64_t s = live_gtfsrt__sec(tp->fix_ms);

            /* A bus clock ahead of ours must not put the entity after the
             * header (E012). */
            tu->has_timestamp = 1;
            tu->timestamp = (uint64_t)(s < b->now_s ? s : b->now_s);
        }
    }
    e->trip_update = tu;
    *out = e;
    return true;
}

/* Vehicle V's VehiclePosition entity into *OUT (NULL: not published).
 * Returns false when out of memory. */
static bool live_gtfsrt__position(struct live_gtfsrt__build *b, size_t vi,
                                  TransitRealtime__FeedEntity **out)
{
    const struct live_gtfsrt_input *in = b->in;
    const struct trips_feed *f = in->feed;
    const struct live_vehicle *v = in->vehicles[vi];
    TransitRealtime__VehiclePosition *vp;
    TransitRealtime__Position *p;
    TransitRealtime__FeedEntity *e;
    int seats, pct, occ, at = -1, status = -1;
    int64_t s;

    *out = NULL;
    /* A bus gone quiet keeps its last position, with that fix's time
     * (never a newer one), until it has been quiet too long to matter. */
    if (!v || v->fix_ms < 0 || v->status == LIVE_STATUS_UNKNOWN ||
        in->now_ms - v->fix_ms > LIVE_GTFSRT_GONE_MS || !isfinite(v->lat) ||
        !isfinite(v->lon))
        return true;
    vp = live_gtfsrt__alloc(b, sizeof *vp);
    p = live_gtfsrt__alloc(b, sizeof *p);
    e = live_gtfsrt__entity(b, "vehicle", v->id);
    if (!vp || !p || !e)
        return false;
    transit_realtime__vehicle_position__init(vp);
    transit_realtime__position__init(p);
    p->latitude = (float)v->lat;
    p->longitude = (float)v->lon;
    if (isfinite(v->bearing)) {
        double br = fmod(v->bearing, 360.0);

        p->has_bearing = 1;
        p->bearing = (float)(br < 0 ? br + 360.0 : br);
    }
    if (isfinite(v->speed) && v->speed >= 0) {
        p->has_speed = 1;
        p->speed = (float)v->speed;
    }
    vp->position = p;
    vp->vehicle = live_gtfsrt__vehicle(b, v);
    if (!vp->vehicle)
        return false;
    s = live_gtfsrt__sec(v->fix_ms);
    vp->has_timestamp = 1;
    vp->timestamp = (uint64_t)(s < b->now_s ? s : b->now_s);

    if (v->trip >= 0 && v->status != LIVE_STATUS_DEADHEAD) {
        const struct trips_trip *tr = &f->trips[v->trip];

        vp->trip = live_gtfsrt__trip(b, v->trip, false);
        if (!vp->trip)
            return false;
        if (v->status == LIVE_STATUS_LAYOVER && tr->n) {
            at = 0; /* waiting at the terminal its trip starts from */
            status =
                TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__STOPPED_AT;
        } else if (v->status == LIVE_STATUS_AT_STOP && v->pos >= 0) {
            at = v->pos;
            status =
                TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__STOPPED_AT;
        } else if (v->next_pos >= 0) {
            const struct trips_stop *st =
                &f->stops[f->st[tr->first + (size_t)v->next_pos].stop];

            at = v->next_pos;
            status =
                v->status == LIVE_STATUS_IN_TRANSIT &&
                        trips_dist_m(v->lat, v->lon, st->lat, st->lon) <
                            LIVE_GTFSRT_INCOMING_M
                    ? TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__INCOMING_AT
                    : TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__IN_TRANSIT_TO;
        } else if (v->pos >= 0) {
            at = v->pos; /* the trip's last stop, reached */
            status =
                TRANSIT_REALTIME__VEHICLE_POSITION__VEHICLE_STOP_STATUS__STOPPED_AT;
        }
        if (at >= 0 && (size_t)at < tr->n) {
            const struct trips_stop_time *st = &f->st[tr->first + (size_t)at];

            vp->has_current_stop_sequence = 1;
            vp->current_stop_sequence = (uint32_t)st->sequence;
            vp->stop_id = live_gtfsrt__printf(b, "%s", f->stops[st->stop].id);
            vp->has_current_status = 1;
            vp->current_status =
                (TransitRealtime__VehiclePosition__VehicleStopStatus)status;
        }
    }
    seats = in->seats && in->seats[vi] > 0 ? in->seats[vi] : LIVE_GTFSRT_SEATS;
    pct = live_gtfsrt_occupancy(v->load, seats, &occ);
    if (pct >= 0) {
        vp->has_occupancy_percentage = 1;
        vp->occupancy_percentage = (uint32_t)pct;
        vp->has_occupancy_status = 1;
        vp->occupancy_status =
            (TransitRealtime__VehiclePosition__OccupancyStatus)occ;
    }
    e->vehicle = vp;
    *out = e;
    return true;
}

/* NAMES[T] when the caller gave one, else FALLBACK. */
static const char *live_gtfsrt__name(const char *const *names, int t,
                                     const char *fallback)
{
    return names && names[t] && names[t][0] ? names[t] : fallback;
}

static TransitRealtime__TranslatedString *
live_gtfsrt__translated(struct live_gtfsrt__build *b, const char *ko,
                        const char *en)
{
    TransitRealtime__TranslatedString *ts = live_gtfsrt__alloc(b, sizeof *ts);
    TransitRealtime__TranslatedString__Translation **tr =
        live_gtfsrt__alloc(b, 2 * sizeof *tr);
    const char *text[2] = {ko, en}, *lang[2] = {"ko", "en"};

    if (!ts || !tr || !ko || !en)
        return NULL;
    transit_realtime__translated_string__init(ts);
    /* Korean first: the riders' language, and what a client showing one
     * translation without matching the user's language should pick. */
    for (int i = 0; i < 2; i++) {
        tr[i] = live_gtfsrt__alloc(b, sizeof *tr[i]);
        if (!tr[i])
            return NULL;
        transit_realtime__translated_string__translation__init(tr[i]);
        tr[i]->text = live_gtfsrt__printf(b, "%s", text[i]);
        tr[i]->language = live_gtfsrt__printf(b, "%s", lang[i]);
    }
    ts->translation = tr;
    ts->n_translation = 2;
    return ts;
}

/* The alert of kind DELAY (else a cancellation) of trip T into *OUT (NULL:
 * not published, its active period is over). Returns false when out of
 * memory. */
static bool live_gtfsrt__alert(struct live_gtfsrt__build *b, int t, bool delay,
                               TransitRealtime__FeedEntity **out)
{
    const struct live_gtfsrt_input *in = b->in;
    const struct trips_feed *f = in->feed;
    const struct trips_trip *tr = &f->trips[t];
    int64_t *since = &b->g->alert_s[2 * (size_t)t + (delay ? 1 : 0)];
    int64_t end_s;
    int32_t dep;
    char hhmm[8];
    const char *route, *to_ko, *to_en;
    TransitRealtime__Alert *a;
    TransitRealtime__TimeRange *p;
    TransitRealtime__EntitySelector *sel;
    TransitRealtime__FeedEntity *e;

    *out = NULL;
    if (!tr->n)
        return true;
    end_s = live_gtfsrt__sec(
                trips_sched_ms(f, f->st[tr->first + tr->n - 1].arr_s)) +
            LIVE_GTFSRT_ALERT_AFTER_S;
    if (end_s <= b->now_s)
        return true;
    b->alerted[2 * (size_t)t + (delay ? 1 : 0)] = true;
    /* From when we first knew, so the content stays the same from one
     * build to the next. */
    if (*since <= 0 || *since > b->now_s)
        *since = b->now_s;

    a = live_gtfsrt__alloc(b, sizeof *a);
    p = live_gtfsrt__alloc(b, sizeof *p);
    sel = live_gtfsrt__alloc(b, sizeof *sel);
    e = live_gtfsrt__entity(b, delay ? "alert:delay" : "alert:cancel", tr->id);
    if (!a || !p || !sel || !e)
        return false;
    transit_realtime__alert__init(a);
    transit_realtime__time_range__init(p);
    transit_realtime__entity_selector__init(sel);
    p->has_start = 1;
    p->start = (uint64_t)*since;
    p->has_end = 1;
    p->end = (uint64_t)end_s;
    a->active_period = live_gtfsrt__alloc(b, sizeof *a->active_period);
    a->informed_entity = live_gtfsrt__alloc(b, sizeof *a->informed_entity);
    if (!a->active_period || !a->informed_entity)
        return false;
    a->active_period[0] = p;
    a->n_active_period = 1;
    /* Route and trip in one selector: this trip of this route (E031). */
    if (tr->route_id[0])
        sel->route_id = live_gtfsrt__printf(b, "%s", tr->route_id);
    sel->trip = live_gtfsrt__trip(b, t, !delay);
    if (!sel->trip)
        return false;
    a->informed_entity[0] = sel;
    a->n_informed_entity = 1;
    a->has_cause = 1;
    a->cause = TRANSIT_REALTIME__ALERT__CAUSE__UNKNOWN_CAUSE;
    a->has_effect = 1;
    a->effect = delay ? TRANSIT_REALTIME__ALERT__EFFECT__SIGNIFICANT_DELAYS
                      : TRANSIT_REALTIME__ALERT__EFFECT__NO_SERVICE;

    dep = f->st[tr->first].dep_s;
    /* The clock a rider reads: 24:10 of a trip after midnight is 00:10. */
    snprintf(hhmm, sizeof hhmm, "%02d:%02d", (int)(dep / 3600 % 24),
             (int)(dep / 60 % 60));
    route = live_gtfsrt__name(in->route_names, t,
                              tr->route_id[0] ? tr->route_id : tr->id);
    to_ko = live_gtfsrt__name(in->headsigns_ko, t,
                              f->stops[f->st[tr->first + tr->n - 1].stop].id);
    to_en = live_gtfsrt__name(in->headsigns_en, t, to_ko);
    if (delay) {
        a->header_text = live_gtfsrt__translated(
            b, live_gtfsrt__printf(b, "%s번 %s %s행 지연", route, hhmm, to_ko),
            live_gtfsrt__printf(b, "Route %s %s to %s delayed", route, hhmm,
                                to_en));
        a->description_text = live_gtfsrt__translated(
            b,
            live_gtfsrt__printf(b,
                                "이 버스는 %d분 넘게 늦게 운행하고 있습니다.",
                                LIVE_GTFSRT_DELAY_ALERT_S / 60),
            live_gtfsrt__printf(b,
                                "This bus is running more than %d minutes "
                                "late.",
                                LIVE_GTFSRT_DELAY_ALERT_S / 60));
    } else {
        a->header_text = live_gtfsrt__translated(
            b,
            live_gtfsrt__printf(b, "%s번 %s %s행 운행 취소", route, hhmm,
                                to_ko),
            live_gtfsrt__printf(b, "Route %s %s to %s cancelled", route, hhmm,
                                to_en));
        a->description_text = live_gtfsrt__translated(
            b, "이 버스는 운행하지 않습니다. 다음 버스를 이용해 주세요.",
            "This bus will not run. Please take the next one.");
    }
    if (!a->header_text || !a->description_text)
        return false;
    e->alert = a;
    *out = e;
    return true;
}

/* Whether TP, listed in this build, gets a delay alert: its bus more than
 * LIVE_GTFSRT_DELAY_ALERT_S late on it, or still later than
 * LIVE_GTFSRT_DELAY_CLEAR_S when it had one in the last build. */
static bool live_gtfsrt__delayed(const struct live_gtfsrt__build *b,
                                 const struct live_trip_pred *tp)
{
    const struct live_vehicle *v =
        tp->vehicle >= 0 ? b->in->vehicles[tp->vehicle] : NULL;
    bool had = b->g->alert_s[2 * (size_t)tp->trip + 1] > 0;

    if (tp->state != LIVE_TRIP_ACTIVE || !v || v->trip != tp->trip ||
        v->fix_ms < 0)
        return false;
    return v->delay_s > LIVE_GTFSRT_DELAY_ALERT_S ||
           (had && v->delay_s > LIVE_GTFSRT_DELAY_CLEAR_S);
}

static enum live_gtfsrt_err
live_gtfsrt__valid(const struct live_gtfsrt_input *in, char *err, size_t errlen)
{
    const struct trips_feed *f = in->feed;

    if (!f || (in->nvehicles && !in->vehicles) || (in->ntrips && !in->trips)) {
        snprintf(err, errlen, "no feed, vehicles or trips");
        return LIVE_GTFSRT_ERR_INVALID;
    }
    for (size_t i = 0; i < in->nvehicles; i++) {
        const struct live_vehicle *v = in->vehicles[i];

        if (v &&
            (v->trip >= (int)f->ntrips ||
             (v->trip >= 0 && (v->pos >= (int)f->trips[v->trip].n ||
                               v->next_pos >= (int)f->trips[v->trip].n)))) {
            snprintf(err, errlen, "vehicle %zu: trip or stop outside the feed",
                     i);
            return LIVE_GTFSRT_ERR_INVALID;
        }
    }
    for (size_t i = 0; i < in->ntrips; i++) {
        const struct live_trip_pred *tp = in->trips[i];

        if (!tp)
            continue;
        if (tp->trip < 0 || (size_t)tp->trip >= f->ntrips ||
            tp->vehicle >= (int)in->nvehicles ||
            (tp->vehicle >= 0 && !in->vehicles[tp->vehicle]) ||
            tp->nstops > f->trips[tp->trip].n) {
            snprintf(err, errlen,
                     "prediction %zu: trip or vehicle outside "
                     "the feed",
                     i);
            return LIVE_GTFSRT_ERR_INVALID;
        }
        for (size_t k = 0; k < tp->nstops; k++)
            if (tp->stops[k].stop < 0 ||
                (size_t)tp->stops[k].stop >= f->nstops) {
                snprintf(err, errlen, "prediction %zu: stop outside the feed",
                         i);
                return LIVE_GTFSRT_ERR_INVALID;
            }
    }
    return LIVE_GTFSRT_OK;
}

/* The message of IN for G into *M (its parts in B's arena). */
static bool live_gtfsrt__message(struct live_gtfsrt__build *b,
                                 struct live_gtfsrt *g,
                                 TransitRealtime__FeedMessage *m)
{
    const struct live_gtfsrt_input *in = b->in;
    TransitRealtime__FeedHeader *h = live_gtfsrt__alloc(b, sizeof *h);
    bool *seen = live_gtfsrt__alloc(b, in->feed->ntrips + 1);

    b->canceled = live_gtfsrt__alloc(b, in->feed->ntrips + 1);
    b->alerted = live_gtfsrt__alloc(b, 2 * in->feed->ntrips + 1);
    /* At most one TripUpdate and one alert per listed trip. */
    m->entity = live_gtfsrt__alloc(b, (2 * in->ntrips + in->nvehicles + 1) *
                                          sizeof *m->entity);
    if (!h || !seen || !b->canceled || !b->alerted || !m->entity)
        return false;
    transit_realtime__feed_header__init(h);
    h->gtfs_realtime_version = live_gtfsrt__printf(b, "2.0");
    h->has_incrementality = 1;
    h->incrementality =
        TRANSIT_REALTIME__FEED_HEADER__INCREMENTALITY__FULL_DATASET;
    if (in->feed_version && in->feed_version[0]) {
        size_t n = strlen(in->feed_version);

        h->feed_version = live_gtfsrt__alloc(b, n + 1);
        if (!h->feed_version)
            return false;
        memcpy(h->feed_version, in->feed_version, n);
    }
    m->header = h;
    if (g->what & LIVE_GTFSRT_TRIP_UPDATES)
        for (size_t i = 0; i < in->ntrips; i++) {
            const struct live_trip_pred *tp = in->trips[i];
            TransitRealtime__FeedEntity *e;

            if (!tp || seen[tp->trip])
                continue;
            seen[tp->trip] = true;
            if (!live_gtfsrt__trip_update(b, tp, &e))
                return false;
            if (e)
                m->entity[m->n_entity++] = e;
        }
    /* A trip no longer listed as cancelled is forgotten: cancelled again
     * later, it is news again. */
    for (size_t t = 0; t < in->feed->ntrips; t++)
        if (!b->canceled[t])
            g->canceled_s[t] = 0;
    if (g->what & LIVE_GTFSRT_VEHICLE_POSITIONS)
        for (size_t i = 0; i < in->nvehicles; i++) {
            TransitRealtime__FeedEntity *e;

            if (!live_gtfsrt__position(b, i, &e))
                return false;
            if (e)
                m->entity[m->n_entity++] = e;
        }
    if (g->what & LIVE_GTFSRT_ALERTS) {
        memset(seen, 0, in->feed->ntrips + 1);
        for (size_t i = 0; i < in->ntrips; i++) {
            const struct live_trip_pred *tp = in->trips[i];
            TransitRealtime__FeedEntity *e = NULL;
            bool ok = true;

            if (!tp || seen[tp->trip])
                continue;
            seen[tp->trip] = true;
            if (tp->state == LIVE_TRIP_CANCELED)
                ok = live_gtfsrt__alert(b, tp->trip, false, &e);
            else if (live_gtfsrt__delayed(b, tp))
                ok = live_gtfsrt__alert(b, tp->trip, true, &e);
            if (!ok)
                return false;
            if (e)
                m->entity[m->n_entity++] = e;
        }
        /* An alert gone is forgotten: it comes back as news. */
        for (size_t k = 0; k < 2 * in->feed->ntrips; k++)
            if (!b->alerted[k])
                g->alert_s[k] = 0;
    }
    return !b->nomem;
}

static uint8_t *live_gtfsrt__pack(const TransitRealtime__FeedMessage *m,
                                  size_t *len)
{
    size_t n = transit_realtime__feed_message__get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);

    if (p)
        *len = transit_realtime__feed_message__pack(m, p);
    return p;
}

/*
 * M packed again, now with its header timestamp, from BYTES (LEN), M
 * packed without it. The header is field 1, which protobuf-c packs first,
 * so the new header goes before the same entity bytes instead of packing
 * every entity a second time; anything unexpected in BYTES falls back on
 * a full pack. The result is malloc'd; NULL when out of memory.
 */
static uint8_t *live_gtfsrt__stamp(const TransitRealtime__FeedMessage *m,
                                   const uint8_t *bytes, size_t len,
                                   size_t *outlen)
{
    size_t old = 0, pos = 1, hl, rest, n, k = 1;
    unsigned shift = 0;
    bool more = true;
    uint8_t *p;

    if (len < 2 || bytes[0] != 0x0a) /* field 1, length-delimited */
        return live_gtfsrt__pack(m, outlen);
    while (more && pos < len && shift < 63) {
        old |= (size_t)(bytes[pos] & 0x7f) << shift;
        more = bytes[pos++] & 0x80;
        shift += 7;
    }
    if (more || old > len - pos)
        return live_gtfsrt__pack(m, outlen);
    rest = len - pos - old;
    hl = transit_realtime__feed_header__get_packed_size(m->header);
    n = 1 + 10 + hl + rest;
    p = malloc(n);
    if (!p)
        return NULL;
    p[0] = 0x0a;
    for (size_t v = hl; k == 1 || v; v >>= 7)
        p[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    k += transit_realtime__feed_header__pack(m->header, p + k);
    memcpy(p + k, bytes + pos + old, rest);
    *outlen = k + rest;
    return p;
}

enum live_gtfsrt_err live_gtfsrt_build(struct live_gtfsrt *g,
                                       const struct live_gtfsrt_input *in,
                                       struct live_gtfsrt_out *out, char *err,
                                       size_t errlen)
{
    struct live_gtfsrt__build b = {0};
    TransitRealtime__FeedMessage m = TRANSIT_REALTIME__FEED_MESSAGE__INIT;
    enum live_gtfsrt_err rc;
    uint64_t hash, ts;
    uint8_t *bytes;
    size_t len = 0;
    time_t day;
    struct tm tm;

    memset(out, 0, sizeof *out);
    if (!g || !in) {
        snprintf(err, errlen, "no feed state or input");
        return LIVE_GTFSRT_ERR_INVALID;
    }
    rc = live_gtfsrt__valid(in, err, errlen);
    if (rc != LIVE_GTFSRT_OK)
        return rc;
    if (g->feed != in->feed || g->ntrips != in->feed->ntrips) {
        int64_t *c = calloc(in->feed->ntrips + 1, sizeof *c);
        int64_t *a = calloc(2 * in->feed->ntrips + 1, sizeof *a);

        if (!c || !a) {
            free(c);
            free(a);
            snprintf(err, errlen, "out of memory");
            return LIVE_GTFSRT_ERR_NOMEM;
        }
        free(g->canceled_s);
        free(g->alert_s);
        g->canceled_s = c;
        g->alert_s = a;
        g->feed = in->feed;
        g->ntrips = in->feed->ntrips;
    }
    b.in = in;
    b.g = g;
    b.now_s = live_gtfsrt__sec(in->now_ms);
    day = (time_t)in->day * 86400;
    if (!gmtime_r(&day, &tm) ||
        strftime(b.date, sizeof b.date, "%Y%m%d", &tm) != 8) {
        snprintf(err, errlen, "service day %ld out of range", (long)in->day);
        return LIVE_GTFSRT_ERR_INVALID;
    }
    if (!live_gtfsrt__message(&b, g, &m))
        goto nomem;
    /* The content is the message without its timestamp. */
    bytes = live_gtfsrt__pack(&m, &len);
    if (!bytes)
        goto nomem;
    hash = hash_fnv1a(HASH_FNV1A_INIT, bytes, len);
    if (g->have && hash == g->hash) {
        out->state = LIVE_GTFSRT_UNCHANGED;
        ts = g->ts;
    } else if (g->have && b.now_s == (int64_t)g->ts) {
        out->state = LIVE_GTFSRT_LATER;
        out->timestamp = g->ts;
        out->hash = g->hash;
        free(bytes);
        live_gtfsrt__arena_free(&b);
        return LIVE_GTFSRT_OK;
    } else {
        out->state = LIVE_GTFSRT_CHANGED;
        /* A clock stepped back must not take the timestamp with it. */
        ts = g->have && b.now_s < (int64_t)g->ts ? g->ts + 1
             : b.now_s > 0                       ? (uint64_t)b.now_s
                                                 : 1;
    }
    m.header->has_timestamp = 1;
    m.header->timestamp = ts;
    out->buf = live_gtfsrt__stamp(&m, bytes, len, &out->len);
    free(bytes);
    live_gtfsrt__arena_free(&b);
    if (!out->buf) {
        snprintf(err, errlen, "out of memory");
        return LIVE_GTFSRT_ERR_NOMEM;
    }
    out->timestamp = ts;
    out->hash = hash;
    g->have = true;
    g->hash = hash;
    g->ts = ts;
    return LIVE_GTFSRT_OK;

nomem:
    live_gtfsrt__arena_free(&b);
    snprintf(err, errlen, "out of memory");
    return LIVE_GTFSRT_ERR_NOMEM;
}
