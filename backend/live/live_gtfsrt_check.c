/* live_gtfsrt_check: GTFS-Realtime validator rules on a packed FeedMessage.
 * Rule ids and meanings are MobilityData's gtfs-realtime-validator's. */
#include "live_gtfsrt_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtfs-realtime.pb-c.h"

/* E001: what a POSIX time in seconds looks like here (2010 .. 2100);
 * milliseconds are a thousand times past the end. */
#define LIVE_GTFSRT_CHECK__MIN_S 1262304000LL
#define LIVE_GTFSRT_CHECK__MAX_S 4102444800LL
/* E028 and E029 buffers, the validator's. */
#define LIVE_GTFSRT_CHECK__AREA_M 1609.0
#define LIVE_GTFSRT_CHECK__SHAPE_M 200.0

struct live_gtfsrt_check__run {
    const struct live_gtfsrt_check_ctx *c;
    const TransitRealtime__FeedMessage *m;
    uint64_t header_ts;
    char *err;
    size_t errlen;
};

static const char *live_gtfsrt_check__fail(struct live_gtfsrt_check__run *r,
                                           const char *rule, const char *fmt,
                                           ...)
    __attribute__((format(printf, 3, 4)));

static const char *live_gtfsrt_check__fail(struct live_gtfsrt_check__run *r,
                                           const char *rule, const char *fmt,
                                           ...)
{
    va_list ap;
    int n = snprintf(r->err, r->errlen, "%s: ", rule);

    if (n >= 0 && (size_t)n < r->errlen) {
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rule;
}

static int live_gtfsrt_check__trip(const struct trips_feed *f, const char *id)
{
    for (size_t i = 0; id && i < f->ntrips; i++)
        if (strcmp(f->trips[i].id, id) == 0)
            return (int)i;
    return -1;
}

static int live_gtfsrt_check__stop(const struct trips_feed *f, const char *id)
{
    for (size_t i = 0; id && i < f->nstops; i++)
        if (strcmp(f->stops[i].id, id) == 0)
            return (int)i;
    return -1;
}

static bool live_gtfsrt_check__route(const struct trips_feed *f, const char *id)
{
    for (size_t i = 0; i < f->ntrips; i++)
        if (strcmp(f->trips[i].route_id, id) == 0)
            return true;
    return false;
}

/* E001, E012 and E050 for one timestamp T of WHAT. */
static const char *live_gtfsrt_check__time(struct live_gtfsrt_check__run *r,
                                           uint64_t t, bool entity,
                                           const char *what)
{
    if (t < (uint64_t)LIVE_GTFSRT_CHECK__MIN_S ||
        t > (uint64_t)LIVE_GTFSRT_CHECK__MAX_S)
        return live_gtfsrt_check__fail(r, "E001", "%s %llu is no POSIX time",
                                       what, (unsigned long long)t);
    if (entity && t > r->header_ts)
        return live_gtfsrt_check__fail(
            r, "E012", "%s %llu is after the header's %llu", what,
            (unsigned long long)t, (unsigned long long)r->header_ts);
    if (r->c->now_ms > 0 && entity && (int64_t)t > r->c->now_ms / 1000)
        return live_gtfsrt_check__fail(r, "E050", "%s %llu is in the future",
                                       what, (unsigned long long)t);
    return NULL;
}

/* The rules of a TripDescriptor (a TripUpdate's or a VehiclePosition's);
 * *TI gets the trip's index. */
static const char *
live_gtfsrt_check__descriptor(struct live_gtfsrt_check__run *r,
                              const TransitRealtime__TripDescriptor *d,
                              const char *eid, int *ti)
{
    const struct trips_feed *f = r->c->feed;
    const struct trips_trip *tr;
    unsigned h, mi, s;
    char tail;
    int32_t s0;

    *ti = live_gtfsrt_check__trip(f, d->trip_id);
    if (*ti < 0)
        return live_gtfsrt_check__fail(r, "E003", "%s: trip_id %s not in GTFS",
                                       eid, d->trip_id ? d->trip_id : "(none)");
    tr = &f->trips[*ti];
    if (d->route_id && !live_gtfsrt_check__route(f, d->route_id))
        return live_gtfsrt_check__fail(r, "E004", "%s: route_id %s not in GTFS",
                                       eid, d->route_id);
    if (d->route_id && strcmp(d->route_id, tr->route_id) != 0)
        return live_gtfsrt_check__fail(r, "E035",
                                       "%s: trip %s is not of route %s", eid,
                                       tr->id, d->route_id);
    if (d->has_direction_id && (int)d->direction_id != tr->direction)
        return live_gtfsrt_check__fail(r, "E024",
                                       "%s: direction_id %u, GTFS has %d", eid,
                                       d->direction_id, tr->direction);
    if (d->start_time) {
        if (sscanf(d->start_time, "%2u:%2u:%2u%c", &h, &mi, &s, &tail) != 3 ||
            strlen(d->start_time) < 7 || mi > 59 || s > 59)
            return live_gtfsrt_check__fail(r, "E020", "%s: start_time \"%s\"",
                                           eid, d->start_time);
        s0 = tr->n ? f->st[tr->first].arr_s : 0;
        if ((int32_t)(h * 3600 + mi * 60 + s) != s0)
            return live_gtfsrt_check__fail(
                r, "E023", "%s: start_time %s is not the first arrival", eid,
                d->start_time);
    }
    if (d->start_date) {
        size_t n = strlen(d->start_date);

        if (n != 8 || strspn(d->start_date, "0123456789") != 8 ||
            strncmp(d->start_date + 4, "13", 2) >= 0 ||
            strncmp(d->start_date + 6, "32", 2) >= 0 ||
            strncmp(d->start_date + 4, "01", 2) < 0 ||
            strncmp(d->start_date + 6, "01", 2) < 0)
            return live_gtfsrt_check__fail(r, "E021", "%s: start_date \"%s\"",
                                           eid, d->start_date);
    }
    if (!d->has_schedule_relationship)
        return live_gtfsrt_check__fail(
            r, "W009", "%s: trip has no schedule_relationship", eid);
    return NULL;
}

static bool live_gtfsrt_check__event_has(
    const TransitRealtime__TripUpdate__StopTimeEvent *e)
{
    return e && e->has_time;
}

static const char *
live_gtfsrt_check__stops(struct live_gtfsrt_check__run *r,
                         const TransitRealtime__TripUpdate *tu, int ti,
                         const char *eid)
{
    const struct trips_feed *f = r->c->feed;
    const struct trips_trip *tr = &f->trips[ti];
    int64_t prev_t = INT64_MIN;
    long prev_seq = -1;
    const char *prev_stop = NULL;

    for (size_t i = 0; i < tu->n_stop_time_update; i++) {
        const TransitRealtime__TripUpdate__StopTimeUpdate *u =
            tu->stop_time_update[i];
        const TransitRealtime__TripUpdate__StopTimeEvent *ev[2] = {
            u->arrival, u->departure};
        int rel =
            u->has_schedule_relationship
                ? (int)u->schedule_relationship
                : TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SCHEDULED;
        bool skipped =
            rel ==
            TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__SKIPPED;
        bool nodata =
            rel ==
            TRANSIT_REALTIME__TRIP_UPDATE__STOP_TIME_UPDATE__SCHEDULE_RELATIONSHIP__NO_DATA;
        int64_t cur_max = INT64_MIN;

        if (!u->has_stop_sequence && !u->stop_id)
            return live_gtfsrt_check__fail(
                r, "E040", "%s: stop_time_update %zu has no stop", eid, i);
        if (u->stop_id && live_gtfsrt_check__stop(f, u->stop_id) < 0)
            return live_gtfsrt_check__fail(
                r, "E011", "%s: stop_id %s not in GTFS", eid, u->stop_id);
        if (u->has_stop_sequence) {
            size_t k = 0;

            while (k < tr->n &&
                   f->st[tr->first + k].sequence != (int)u->stop_sequence)
                k++;
            if (k == tr->n)
                return live_gtfsrt_check__fail(
                    r, "E051", "%s: stop_sequence %u not in trip %s", eid,
                    u->stop_sequence, tr->id);
            if (u->stop_id &&
                strcmp(f->stops[f->st[tr->first + k].stop].id, u->stop_id) != 0)
                return live_gtfsrt_check__fail(
                    r, "E045", "%s: stop_sequence %u is not stop %s", eid,
                    u->stop_sequence, u->stop_id);
            if ((long)u->stop_sequence == prev_seq)
                return live_gtfsrt_check__fail(r, "E036",
                                               "%s: stop_sequence %u twice",
                                               eid, u->stop_sequence);
            if ((long)u->stop_sequence < prev_seq)
                return live_gtfsrt_check__fail(r, "E002",
                                               "%s: stop_sequence %u after %ld",
                                               eid, u->stop_sequence, prev_seq);
            prev_seq = (long)u->stop_sequence;
        }
        if (u->stop_id && prev_stop && strcmp(u->stop_id, prev_stop) == 0)
            return live_gtfsrt_check__fail(
                r, "E037", "%s: stop_id %s twice in a row", eid, u->stop_id);
        prev_stop = u->stop_id;
        if (!u->has_schedule_relationship)
            return live_gtfsrt_check__fail(
                r, "W009",
                "%s: stop_time_update %zu has no schedule_relationship", eid,
                i);
        if (nodata && (u->arrival || u->departure))
            return live_gtfsrt_check__fail(
                r, "E042", "%s: NO_DATA stop %zu has times", eid, i);
        if (!nodata && !skipped && !u->arrival && !u->departure)
            return live_gtfsrt_check__fail(
                r, "E043", "%s: stop %zu has neither arrival nor departure",
                eid, i);
        for (int k = 0; k < 2; k++) {
            if (!ev[k])
                continue;
            if (!skipped && !ev[k]->has_time && !ev[k]->has_delay)
                return live_gtfsrt_check__fail(
                    r, "E044", "%s: stop %zu %s has neither time nor delay",
                    eid, i, k ? "departure" : "arrival");
            if (!ev[k]->has_time)
                continue;
            if (ev[k]->time < LIVE_GTFSRT_CHECK__MIN_S ||
                ev[k]->time > LIVE_GTFSRT_CHECK__MAX_S)
                return live_gtfsrt_check__fail(
                    r, "E001", "%s: stop %zu time %lld is no POSIX time", eid,
                    i, (long long)ev[k]->time);
            /* E022: every time after all of the stop before's. */
            if (prev_t != INT64_MIN && ev[k]->time <= prev_t)
                return live_gtfsrt_check__fail(
                    r, "E022", "%s: stop_sequence %u %s %lld not after %lld",
                    eid, u->stop_sequence, k ? "departure" : "arrival",
                    (long long)ev[k]->time, (long long)prev_t);
            if (ev[k]->time > cur_max)
                cur_max = ev[k]->time;
        }
        if (live_gtfsrt_check__event_has(u->arrival) &&
            live_gtfsrt_check__event_has(u->departure) &&
            u->departure->time < u->arrival->time)
            return live_gtfsrt_check__fail(
                r, "E025", "%s: stop_sequence %u departs before it arrives",
                eid, u->stop_sequence);
        if (cur_max != INT64_MIN)
            prev_t = cur_max;
    }
    return NULL;
}

static const char *
live_gtfsrt_check__trip_update(struct live_gtfsrt_check__run *r,
                               const TransitRealtime__FeedEntity *e)
{
    const TransitRealtime__TripUpdate *tu = e->trip_update;
    const char *rule;
    bool canceled;
    int ti;

    rule = live_gtfsrt_check__descriptor(r, tu->trip, e->id, &ti);
    if (rule)
        return rule;
    canceled =
        tu->trip->schedule_relationship ==
        TRANSIT_REALTIME__TRIP_DESCRIPTOR__SCHEDULE_RELATIONSHIP__CANCELED;
    if (!canceled && tu->n_stop_time_update == 0)
        return live_gtfsrt_check__fail(r, "E041", "%s: no stop_time_update",
                                       e->id);
    if (!tu->has_timestamp)
        return live_gtfsrt_check__fail(r, "W001", "%s: no timestamp", e->id);
    rule = live_gtfsrt_check__time(r, tu->timestamp, true, e->id);
    if (rule)
        return rule;
    if (!canceled && (!tu->vehicle || !tu->vehicle->id || !tu->vehicle->id[0]))
        return live_gtfsrt_check__fail(r, "W002", "%s: no vehicle id", e->id);
    return live_gtfsrt_check__stops(r, tu, ti, e->id);
}

/* Whether an alert of the message is a DETOUR of trip TRIP_ID. */
static bool live_gtfsrt_check__detour(const TransitRealtime__FeedMessage *m,
                                      const char *trip_id)
{
    for (size_t i = 0; i < m->n_entity; i++) {
        const TransitRealtime__Alert *a = m->entity[i]->alert;

        if (!a || !a->has_effect ||
            a->effect != TRANSIT_REALTIME__ALERT__EFFECT__DETOUR)
            continue;
        for (size_t k = 0; k < a->n_informed_entity; k++) {
            const TransitRealtime__EntitySelector *s = a->informed_entity[k];

            if (s->trip && s->trip->trip_id &&
                strcmp(s->trip->trip_id, trip_id) == 0)
                return true;
        }
    }
    return false;
}

static const char *
live_gtfsrt_check__position(struct live_gtfsrt_check__run *r,
                            const TransitRealtime__FeedEntity *e)
{
    const struct trips_feed *f = r->c->feed;
    const TransitRealtime__VehiclePosition *vp = e->vehicle;
    const TransitRealtime__Position *p = vp->position;
    const char *rule;
    double best = INFINITY;
    int ti = -1;

    if (!vp->vehicle || !vp->vehicle->id || !vp->vehicle->id[0])
        return live_gtfsrt_check__fail(r, "W002", "%s: no vehicle id", e->id);
    if (!vp->has_timestamp)
        return live_gtfsrt_check__fail(r, "W001", "%s: no timestamp", e->id);
    rule = live_gtfsrt_check__time(r, vp->timestamp, true, e->id);
    if (rule)
        return rule;
    if (vp->trip) {
        rule = live_gtfsrt_check__descriptor(r, vp->trip, e->id, &ti);
        if (rule)
            return rule;
    }
    if (vp->stop_id && live_gtfsrt_check__stop(f, vp->stop_id) < 0)
        return live_gtfsrt_check__fail(r, "E011", "%s: stop_id %s not in GTFS",
                                       e->id, vp->stop_id);
    if (!p)
        return NULL;
    if (!(p->latitude >= -90 && p->latitude <= 90 && p->longitude >= -180 &&
          p->longitude <= 180))
        return live_gtfsrt_check__fail(r, "E026", "%s: position %g,%g", e->id,
                                       p->latitude, p->longitude);
    if (p->has_bearing && !(p->bearing >= 0 && p->bearing <= 360))
        return live_gtfsrt_check__fail(r, "E027", "%s: bearing %g", e->id,
                                       p->bearing);
    for (size_t i = 0; i < f->nstops; i++) {
        double d = trips_dist_m(p->latitude, p->longitude, f->stops[i].lat,
                                f->stops[i].lon);

        if (d < best)
            best = d;
    }
    if (best > LIVE_GTFSRT_CHECK__AREA_M)
        return live_gtfsrt_check__fail(
            r, "E028", "%s: %.0f m from the nearest stop", e->id, best);
    if (ti >= 0 && !live_gtfsrt_check__detour(r->m, f->trips[ti].id)) {
        struct live_shape s;
        char serr[128];
        double off = 0;

        if (live_shape_build(f, (size_t)ti, r->c->shapes, &s, serr,
                             sizeof serr) == LIVE_SHAPE_OK) {
            live_shape_project(&s, p->latitude, p->longitude, -INFINITY,
                               INFINITY, &off);
            live_shape_free(&s);
            if (off > LIVE_GTFSRT_CHECK__SHAPE_M)
                return live_gtfsrt_check__fail(
                    r, "E029", "%s: %.0f m from trip %s's shape", e->id, off,
                    f->trips[ti].id);
        }
    }
    return NULL;
}

/* E052 and E047 across the entities. */
static const char *live_gtfsrt_check__pairs(struct live_gtfsrt_check__run *r)
{
    const TransitRealtime__FeedMessage *m = r->m;

    for (size_t i = 0; i < m->n_entity; i++) {
        const TransitRealtime__VehiclePosition *a = m->entity[i]->vehicle;

        if (!a)
            continue;
        for (size_t k = 0; k < m->n_entity; k++) {
            const TransitRealtime__VehiclePosition *b = m->entity[k]->vehicle;
            const TransitRealtime__TripUpdate *tu = m->entity[k]->trip_update;

            if (b && k > i && strcmp(a->vehicle->id, b->vehicle->id) == 0)
                return live_gtfsrt_check__fail(
                    r, "E052", "vehicle %s in two VehiclePositions",
                    a->vehicle->id);
            if (tu && a->trip && a->trip->trip_id && tu->trip->trip_id &&
                strcmp(a->trip->trip_id, tu->trip->trip_id) == 0 &&
                tu->vehicle && tu->vehicle->id &&
                strcmp(tu->vehicle->id, a->vehicle->id) != 0)
                return live_gtfsrt_check__fail(
                    r, "E047", "trip %s: vehicle %s here, %s in its TripUpdate",
                    a->trip->trip_id, a->vehicle->id, tu->vehicle->id);
        }
    }
    return NULL;
}

static const char *
live_gtfsrt_check__alert(struct live_gtfsrt_check__run *r,
                         const TransitRealtime__FeedEntity *e)
{
    const TransitRealtime__Alert *a = e->alert;

    if (a->n_informed_entity == 0)
        return live_gtfsrt_check__fail(r, "E032", "%s: no informed_entity",
                                       e->id);
    for (size_t i = 0; i < a->n_informed_entity; i++) {
        const TransitRealtime__EntitySelector *s = a->informed_entity[i];

        const TransitRealtime__TripDescriptor *d = s->trip;
        const struct trips_feed *f = r->c->feed;
        int ti = -1;

        if (!s->agency_id && !s->route_id && !s->has_route_type && !d &&
            !s->stop_id)
            return live_gtfsrt_check__fail(
                r, "E033", "%s: informed_entity %zu names nothing", e->id, i);
        if (s->route_id && !live_gtfsrt_check__route(f, s->route_id))
            return live_gtfsrt_check__fail(
                r, "E004", "%s: informed_entity route_id %s not in GTFS", e->id,
                s->route_id);
        if (s->stop_id && live_gtfsrt_check__stop(f, s->stop_id) < 0)
            return live_gtfsrt_check__fail(
                r, "E011", "%s: informed_entity stop_id %s not in GTFS", e->id,
                s->stop_id);
        if (!d)
            continue;
        if (d->trip_id) {
            ti = live_gtfsrt_check__trip(f, d->trip_id);
            if (ti < 0)
                return live_gtfsrt_check__fail(
                    r, "E003", "%s: informed_entity trip_id %s not in GTFS",
                    e->id, d->trip_id);
        }
        if (d->route_id && !live_gtfsrt_check__route(f, d->route_id))
            return live_gtfsrt_check__fail(
                r, "E004", "%s: informed_entity trip route_id %s not in GTFS",
                e->id, d->route_id);
        if (s->route_id && d->route_id && strcmp(s->route_id, d->route_id))
            return live_gtfsrt_check__fail(
                r, "E031", "%s: informed_entity route_id %s, its trip's %s",
                e->id, s->route_id, d->route_id);
        if (ti >= 0 && s->route_id &&
            strcmp(f->trips[ti].route_id, s->route_id) != 0)
            return live_gtfsrt_check__fail(r, "E030",
                                           "%s: trip %s is not of route %s",
                                           e->id, f->trips[ti].id, s->route_id);
    }
    for (size_t i = 0; i < a->n_active_period; i++) {
        const TransitRealtime__TimeRange *t = a->active_period[i];
        const char *rule = NULL;

        if (t->has_start)
            rule = live_gtfsrt_check__time(r, t->start, false, e->id);
        if (!rule && t->has_end)
            rule = live_gtfsrt_check__time(r, t->end, false, e->id);
        if (rule)
            return rule;
    }
    return NULL;
}

/* The message M packed without its header timestamp (content only); the
 * caller frees. */
static uint8_t *live_gtfsrt_check__content(TransitRealtime__FeedMessage *m,
                                           size_t *len)
{
    protobuf_c_boolean had = m->header->has_timestamp;
    uint8_t *p;

    m->header->has_timestamp = 0;
    p = malloc(transit_realtime__feed_message__get_packed_size(m) + 1);
    if (p)
        *len = transit_realtime__feed_message__pack(m, p);
    m->header->has_timestamp = had;
    return p;
}

/* E017 and E018 against the fetch before. */
static const char *live_gtfsrt_check__prev(struct live_gtfsrt_check__run *r,
                                           TransitRealtime__FeedMessage *m)
{
    TransitRealtime__FeedMessage *p =
        transit_realtime__feed_message__unpack(NULL, r->c->prevlen, r->c->prev);
    const char *rule = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;

    if (!p)
        return live_gtfsrt_check__fail(r, "DECODE",
                                       "the previous fetch is no FeedMessage");
    if (m->header->timestamp < p->header->timestamp)
        rule = live_gtfsrt_check__fail(
            r, "E018", "header timestamp %llu after %llu",
            (unsigned long long)m->header->timestamp,
            (unsigned long long)p->header->timestamp);
    else if (m->header->timestamp == p->header->timestamp) {
        a = live_gtfsrt_check__content(m, &alen);
        b = live_gtfsrt_check__content(p, &blen);
        if (!a || !b)
            rule = live_gtfsrt_check__fail(r, "DECODE", "out of memory");
        else if (alen != blen || memcmp(a, b, alen) != 0)
            rule = live_gtfsrt_check__fail(
                r, "E017", "content changed, header timestamp %llu did not",
                (unsigned long long)m->header->timestamp);
    }
    free(a);
    free(b);
    transit_realtime__feed_message__free_unpacked(p, NULL);
    return rule;
}

static const char *live_gtfsrt_check__run(struct live_gtfsrt_check__run *r,
                                          TransitRealtime__FeedMessage *m)
{
    const TransitRealtime__FeedHeader *h = m->header;
    const char *rule;

    if (strcmp(h->gtfs_realtime_version, "2.0") != 0 &&
        strcmp(h->gtfs_realtime_version, "1.0") != 0)
        return live_gtfsrt_check__fail(r, "E038",
                                       "gtfs_realtime_version \"%s\"",
                                       h->gtfs_realtime_version);
    if (!h->has_timestamp)
        return live_gtfsrt_check__fail(r, "E048", "header has no timestamp");
    if (!h->has_incrementality)
        return live_gtfsrt_check__fail(r, "E049",
                                       "header has no incrementality");
    r->header_ts = h->timestamp;
    rule = live_gtfsrt_check__time(r, h->timestamp, false, "header timestamp");
    if (rule)
        return rule;
    if (r->c->now_ms > 0 && (int64_t)h->timestamp > r->c->now_ms / 1000)
        return live_gtfsrt_check__fail(r, "E050",
                                       "header timestamp %llu is in "
                                       "the future",
                                       (unsigned long long)h->timestamp);
    for (size_t i = 0; i < m->n_entity; i++) {
        const TransitRealtime__FeedEntity *e = m->entity[i];

        if (h->incrementality ==
                TRANSIT_REALTIME__FEED_HEADER__INCREMENTALITY__FULL_DATASET &&
            e->has_is_deleted)
            return live_gtfsrt_check__fail(r, "E039", "%s: is_deleted", e->id);
        rule = e->trip_update ? live_gtfsrt_check__trip_update(r, e)
               : e->vehicle   ? live_gtfsrt_check__position(r, e)
               : e->alert     ? live_gtfsrt_check__alert(r, e)
                              : NULL;
        if (rule)
            return rule;
    }
    rule = live_gtfsrt_check__pairs(r);
    if (!rule && r->c->prev)
        rule = live_gtfsrt_check__prev(r, m);
    return rule;
}

const char *live_gtfsrt_check(const struct live_gtfsrt_check_ctx *c,
                              const uint8_t *buf, size_t len, char *err,
                              size_t errlen)
{
    struct live_gtfsrt_check__run r = {c, NULL, 0, err, errlen};
    TransitRealtime__FeedMessage *m;
    const char *rule;

    if (errlen)
        err[0] = '\0';
    m = transit_realtime__feed_message__unpack(NULL, len, buf);
    if (!m)
        return live_gtfsrt_check__fail(&r, "DECODE",
                                       "no FeedMessage (%zu bytes)", len);
    r.m = m;
    rule = live_gtfsrt_check__run(&r, m);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    return rule;
}
