/* shuttle-live: what it publishes — the moment's view of the live state
 * (struct pub_view) that every published feed is built from, once per
 * change, never per request. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "log.h"

/* Grow *P (of *CAP elements of SIZE bytes) to hold N; -1 out of memory. */
static int live_publish__grow(void *p, size_t *cap, size_t n, size_t size)
{
    void **pp = p, *q;
    size_t c = *cap ? *cap : 16;

    if (n <= *cap)
        return 0;
    while (c < n)
        c *= 2;
    if (!(q = realloc(*pp, c * size)))
        return -1;
    *pp = q;
    *cap = c;
    return 0;
}

/* The bus's own figures as the fleet page shows them. */
static void live_publish__bus(const struct live *l, const struct live_bus *b,
                              struct pub_bus *o)
{
    const struct wire_status *s = &b->status;

    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", b->id);
    o->vehicle = l->track ? live_track_find(l->track, b->id) : -1;
    o->seats = live_seats_of(l, b->id);
    o->status_known = b->status_known;
    o->online = b->online;
    o->status_ms = b->status_known && s->t_ms > 0 ? s->t_ms : -1;
    o->seen_ms = b->seen_ms > 0 ? b->seen_ms : -1;
    o->fix_ms = b->fix_ms;
    o->lat = b->fix_ms >= 0 ? b->lat : NAN;
    o->lon = b->fix_ms >= 0 ? b->lon : NAN;
    o->load = b->load;
    o->oldest_unacked_age_s = -1;
    if (!b->status_known)
        return;
    o->spool_records = s->spool_records;
    o->spool_bytes = s->spool_bytes;
    o->oldest_unacked_age_s = s->oldest_unacked_age_s;
    o->gps_mode = s->gps_mode;
    o->gps_connected = s->gps_connected;
    snprintf(o->counter_state, sizeof o->counter_state, "%s", s->counter_state);
    o->dropped_positions = s->dropped_positions;
    o->dropped_counts = s->dropped_counts;
    o->counter_rejected = s->counter_rejected;
    o->acks_refused = s->acks_refused;
    snprintf(o->version, sizeof o->version, "%s", s->version);
}

int live_publish_view(struct live *l, struct pub_view *v)
{
    struct live_pubview *pv = &l->pv;
    size_t nv = l->track ? live_track_nvehicles(l->track) : 0;

    memset(v, 0, sizeof *v);
    if (l->load != LIVE_LOAD_READY || !l->feed_ok || !l->names_ok || !l->last ||
        !l->track)
        return -1;
    if (live_publish__grow(&pv->vehicles, &pv->capvehicles, nv,
                           sizeof *pv->vehicles) != 0 ||
        live_publish__grow(&pv->seats, &pv->capseats, nv, sizeof *pv->seats) !=
            0 ||
        live_publish__grow(&pv->buses, &pv->capbuses, l->nbuses,
                           sizeof *pv->buses) != 0)
        return -1;
    for (size_t i = 0; i < nv; i++) {
        pv->vehicles[i] = live_track_vehicle(l->track, i);
        pv->seats[i] = live_seats_of(l, pv->vehicles[i]->id);
    }
    for (size_t i = 0; i < l->nbuses; i++)
        live_publish__bus(l, &l->buses[i], &pv->buses[i]);
    v->feed = &l->feed;
    v->names = &l->names;
    v->day = l->day_n;
    v->day_text = l->day;
    v->vehicles = pv->vehicles;
    v->nvehicles = nv;
    v->seats = pv->seats;
    v->trips = l->last;
    v->ntrips = l->feed.ntrips;
    v->served = l->served;
    v->buses = pv->buses;
    v->nbuses = l->nbuses;
    v->now_ms = clock_wall_ms();
    return 0;
}

void live_publish_free(struct live *l)
{
    free(l->pv.vehicles);
    free(l->pv.seats);
    free(l->pv.buses);
    memset(&l->pv, 0, sizeof l->pv);
}
