/* shuttle-live: what it publishes — the moment's view of the live state
 * (struct pub_view) and the bodies built from it once per change, never
 * per request: the GTFS-Realtime feeds, the JSON API, the pages, the stop
 * displays' retained messages and the static feed's zip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "live_gtfsrt_text.h"
#include "log.h"
#include "pub_display.h"
#include "pub_json.h"
#include "pub_page.h"
#include "pub_static.h"

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
    v->generation = l->pub.gen;
    return 0;
}

/* ------------------------------------------------------------ caching */

/* Replace *SLOT by a blob of BYTES (taken) of TYPE; the old one lives on
 * in the requests still sending it. -1 (and *SLOT kept) on failure. */
static int live_publish__blob(struct http_blob **slot, void *bytes, size_t len,
                              const char *type, int64_t mod_ms, int max_age)
{
    struct http_blob_options o = {type, (time_t)(mod_ms / 1000), max_age};
    struct http_blob *b;
    char err[128];

    if (http_blob_new(bytes, len, &o, &b, err, sizeof err) != HTTP_OK) {
        log_warnx("publishing: %s", err);
        return -1;
    }
    http_blob_free(*slot);
    *slot = b;
    return 0;
}

static void live_publish__drop(struct http_blob **b, size_t n)
{
    for (size_t i = 0; b && i < n; i++) {
        http_blob_free(b[i]);
        b[i] = NULL;
    }
}

/* The per-key caches (arrivals by stop, pages by key) sized for N keys,
 * emptied. -1 out of memory. */
static int live_publish__keys(struct http_blob ***b, uint64_t **gen,
                              size_t *have, size_t n)
{
    live_publish__drop(*b, *have);
    free(*b);
    free(*gen);
    *have = 0;
    *b = calloc(n ? n : 1, sizeof **b);
    *gen = calloc(n ? n : 1, sizeof **gen);
    if (!*b || !*gen)
        return -1;
    *have = n;
    return 0;
}

/* After the day's timetable (and names) loaded: what depends only on it
 * (stops, routes, the names the alerts use) and the caches sized for it. */
void live_publish_loaded(struct live *l)
{
    struct live_pub *p = &l->pub;
    struct pub_view v;
    char *out = NULL, err[256] = "";
    size_t len, nkeys;

    p->ready = false;
    http_blob_free(p->stops);
    http_blob_free(p->routes);
    p->stops = p->routes = NULL;
    free(p->route_names);
    p->route_names = NULL;
    p->dirty = true;
    if (live_publish_view(l, &v) != 0)
        return;
    if (!(p->route_names = calloc(l->feed.ntrips + 1, sizeof *p->route_names)))
        return;
    for (size_t t = 0; t < l->feed.ntrips; t++) {
        int r = l->names.trip_route[t];

        p->route_names[t] = r >= 0 && (size_t)r < l->names.nroutes
                                ? l->names.routes[r].short_name
                                : l->feed.trips[t].route_id;
    }
    nkeys = pub_page_workers_nkeys(&v);
    if (live_publish__keys(&p->arrivals, &p->arrivals_gen, &p->narrivals,
                           l->feed.nstops) != 0 ||
        live_publish__keys(&p->pages, &p->pages_gen, &p->npages, nkeys) != 0) {
        log_warnx("publishing: out of memory");
        return;
    }
    if (pub_json_stops(&v, &out, &len, err, sizeof err) != PUB_JSON_OK ||
        live_publish__blob(&p->stops, out, len, LIVE_PUBLISH_JSON, v.now_ms,
                           300) != 0) {
        log_warnx("publishing /api/v1/stops: %s", err);
        return;
    }
    if (pub_json_routes(&v, &out, &len, err, sizeof err) != PUB_JSON_OK ||
        live_publish__blob(&p->routes, out, len, LIVE_PUBLISH_JSON, v.now_ms,
                           300) != 0) {
        log_warnx("publishing /api/v1/routes: %s", err);
        return;
    }
    p->ready = true;
}

/* The static feed's files (gtfs_files) as /gtfs/static.zip. */
void live_publish_zip(struct live *l, const PGresult *files)
{
    uint8_t *zip;
    size_t len;
    char err[256] = "";

    if (pub_static_zip(files, &zip, &len, err, sizeof err) != PUB_STATIC_OK) {
        log_warnx("/gtfs/static.zip: %s", err);
        http_blob_free(l->pub.zip);
        l->pub.zip = NULL;
        return;
    }
    (void)live_publish__blob(&l->pub.zip, zip, len, "application/zip",
                             clock_wall_ms(), 3600);
}

static int live_publish__display(void *arg, const char *topic,
                                 const char *payload, size_t len)
{
    struct live *l = arg;

    if (!mqtt_connected(l->mqtt))
        return -1;
    if (mqtt_publish(l->mqtt, topic, payload, len, 1, true, NULL) != MQTT_OK)
        return -1;
    l->pub.displays_sent++;
    return 0;
}

/* The GTFS-Realtime feed `which` (LIVE_PUBLISH_RT_*) from V. */
static void live_publish__rt(struct live *l, int which,
                             const struct pub_view *v)
{
    struct live_pub *p = &l->pub;
    struct live_gtfsrt_input in;
    struct live_gtfsrt_out out;
    char err[256] = "";

    memset(&in, 0, sizeof in);
    in.feed = v->feed;
    in.feed_version = l->names.feed_version[0] ? l->names.feed_version : NULL;
    in.day = v->day;
    in.vehicles = v->vehicles;
    in.nvehicles = v->nvehicles;
    in.seats = v->seats;
    in.trips = p->rt_trips;
    in.ntrips = p->rt_ntrips;
    in.now_ms = v->now_ms;
    in.route_names = (const char *const *)p->route_names;
    in.headsigns_ko = l->names.trip_headsign;
    in.headsigns_en = l->names.trip_headsign_en;
    if (live_gtfsrt_build(p->rt[which], &in, &out, err, sizeof err) !=
        LIVE_GTFSRT_OK) {
        p->rt_failures++;
        log_warnx("building %s: %s", live_publish_rt_path[which], err);
        return;
    }
    if (out.state == LIVE_GTFSRT_LATER) {
        /* The next second's build has it, at the second's start: held
         * back by the rate as well, a fix would wait up to 1.2 s. */
        p->dirty = true;
        p->due_wall_ms = (v->now_ms / 1000 + 1) * 1000;
        return;
    }
    if (out.state == LIVE_GTFSRT_UNCHANGED && p->rt_blob[which]) {
        free(out.buf);
        return;
    }
    /* A copy for ?format=text, which is built only when asked. */
    free(p->rt_bytes[which]);
    p->rt_bytes[which] = malloc(out.len ? out.len : 1);
    p->rt_len[which] = 0;
    if (p->rt_bytes[which]) {
        memcpy(p->rt_bytes[which], out.buf, out.len);
        p->rt_len[which] = out.len;
    }
    if (live_publish__blob(&p->rt_blob[which], out.buf, out.len,
                           "application/x-protobuf",
                           (int64_t)out.timestamp * 1000, 1) == 0)
        p->rt_changes[which]++;
}

/*
 * One build of everything that changes with the buses, when the state
 * changed (p->dirty) and the last build is old enough: the feeds that
 * clients poll, eagerly; the per-stop and per-page bodies are dropped and
 * rebuilt on their first request (live_publish_get). FORCE: now, whatever
 * the rate (a request for a body of a changed state).
 */
void live_publish_step(struct live *l, bool force)
{
    struct live_pub *p = &l->pub;
    int64_t t0 = clock_mono_ms(), t0_us = clock_mono_us();
    struct pub_view v;
    char *out, err[256] = "";
    size_t len, n = 0, skipped = 0;

    if (!p->ready || !p->dirty)
        return;
    if (!force && t0 - p->built_mono < p->min_ms &&
        !(p->due_wall_ms > 0 && clock_wall_ms() >= p->due_wall_ms))
        return;
    if (live_publish_view(l, &v) != 0)
        return;
    p->dirty = false;
    p->due_wall_ms = 0;
    v.generation = ++p->gen;
    p->built_mono = t0;
    p->view_ms = v.now_ms;
    /* The predictions the GTFS-Realtime feeds list: every trip's newest
     * (live_gtfsrt leaves out the SCHEDULED ones: the static feed says
     * those). */
    if (live_publish__grow(&p->rt_trips, &p->rt_cap, v.ntrips,
                           sizeof *p->rt_trips) != 0)
        return;
    for (size_t t = 0; t < v.ntrips; t++)
        if (v.trips[t])
            p->rt_trips[n++] = v.trips[t];
    p->rt_ntrips = n;
    for (int i = 0; i < LIVE_PUBLISH_RT_N; i++)
        live_publish__rt(l, i, &v);
    if (pub_json_vehicles(&v, &out, &len, err, sizeof err) == PUB_JSON_OK)
        (void)live_publish__blob(&p->vehicles, out, len, LIVE_PUBLISH_JSON,
                                 v.now_ms, 1);
    if (pub_json_runs(&v, &out, &len, err, sizeof err) == PUB_JSON_OK)
        (void)live_publish__blob(&p->runs, out, len, LIVE_PUBLISH_JSON,
                                 v.now_ms, 5);
    /* A board needs every bus: with the fleet split between instances,
     * each would overwrite the others' retained boards. */
    if (l->pub.display && l->conf.instances == 1 && mqtt_connected(l->mqtt) &&
        pub_display_changes(p->display, &v, live_publish__display, l, &skipped,
                            err, sizeof err) != PUB_DISPLAY_OK)
        log_warnx("stop displays: %s", err);
    p->build_us = clock_mono_us() - t0_us;
    /* A build costs what it costs: never more than a quarter of the loop. */
    p->min_ms = LIVE_PUBLISH_MIN_MS;
    if (p->build_us / 1000 * 4 > p->min_ms)
        p->min_ms = p->build_us / 1000 * 4;
    metrics_hist_observe(&p->build_seconds, (double)p->build_us / 1e6);
}

/* What a lazily built body is: the arrivals of a stop, a workers' page,
 * the fleet page (by language), a feed's text form. */
static struct http_blob *live_publish__lazy(struct live *l,
                                            struct http_blob **slot,
                                            uint64_t *gen, int kind, int arg,
                                            const struct pub_page_req *req)
{
    struct live_pub *p = &l->pub;
    struct pub_view v;
    char *out = NULL, err[256] = "";
    size_t len = 0;
    int ok = 0;
    const char *type = LIVE_PUBLISH_JSON;
    int max_age = 1;

    if (*gen == p->gen && *slot != NULL)
        return *slot;
    /* A body built now reads the live state of now: when that moved since
     * the last build, build a new generation first, or this body would
     * show another state than the generation's others under the same
     * generated_at. That is at most one build per change of the state
     * (not per request): a request after it finds the state unchanged. */
    if (p->dirty)
        live_publish_step(l, true);
    if (live_publish_view(l, &v) != 0)
        return NULL;
    /* Every body of one generation tells the same moment. */
    v.now_ms = p->view_ms;
    switch (kind) {
    case LIVE_PUBLISH_ARRIVALS:
        ok = pub_json_arrivals(&v, arg, &out, &len, err, sizeof err) ==
             PUB_JSON_OK;
        break;
    case LIVE_PUBLISH_PAGE:
        ok = pub_page_workers(&v, req, &out, &len, err, sizeof err) ==
             PUB_PAGE_OK;
        type = "text/html; charset=utf-8";
        break;
    case LIVE_PUBLISH_FLEET:
        ok = pub_page_fleet(&v, arg ? "en" : "ko", &out, &len, err,
                            sizeof err) == PUB_PAGE_OK;
        type = "text/html; charset=utf-8";
        break;
    case LIVE_PUBLISH_TEXT: {
        struct buf b = {NULL, 0, 0};

        ok = p->rt_bytes[arg] &&
             live_gtfsrt_text(p->rt_bytes[arg], p->rt_len[arg], &b, err,
                              sizeof err) == LIVE_GTFSRT_OK;
        out = b.p;
        len = b.len;
        type = "text/plain; charset=utf-8";
        break;
    }
    default:
        break;
    }
    if (!ok) {
        free(out);
        log_warnx("publishing: %s", err);
        return NULL;
    }
    if (live_publish__blob(slot, out, len, type, p->view_ms, max_age) != 0)
        return NULL;
    *gen = p->gen;
    p->lazy_builds++;
    return *slot;
}

void live_publish_free(struct live *l)
{
    struct live_pub *p = &l->pub;

    for (int i = 0; i < LIVE_PUBLISH_RT_N; i++) {
        live_gtfsrt_free(p->rt[i]);
        http_blob_free(p->rt_blob[i]);
        http_blob_free(p->rt_text[i]);
        free(p->rt_bytes[i]);
    }
    http_blob_free(p->stops);
    http_blob_free(p->routes);
    http_blob_free(p->vehicles);
    http_blob_free(p->runs);
    http_blob_free(p->zip);
    http_blob_free(p->fleet[0]);
    http_blob_free(p->fleet[1]);
    live_publish__drop(p->arrivals, p->narrivals);
    live_publish__drop(p->pages, p->npages);
    free(p->arrivals);
    free(p->arrivals_gen);
    free(p->pages);
    free(p->pages_gen);
    free(p->rt_trips);
    free(p->route_names);
    pub_display_free(p->display);
    free(l->pv.vehicles);
    free(l->pv.seats);
    free(l->pv.buses);
    memset(&l->pv, 0, sizeof l->pv);
    memset(p, 0, sizeof *p);
}

struct http_blob *live_publish_get(struct live *l, enum live_publish_kind kind,
                                   int arg, const struct pub_page_req *req)
{
    struct live_pub *p = &l->pub;
    struct pub_view v;
    size_t key;

    if (!p->ready)
        return NULL;
    if (p->gen == 0 && p->dirty)
        live_publish_step(l, true);
    if (p->gen == 0)
        return NULL;
    switch (kind) {
    case LIVE_PUBLISH_ARRIVALS:
        if (arg < 0 || (size_t)arg >= p->narrivals)
            return NULL;
        return live_publish__lazy(l, &p->arrivals[arg], &p->arrivals_gen[arg],
                                  kind, arg, NULL);
    case LIVE_PUBLISH_PAGE:
        if (live_publish_view(l, &v) != 0)
            return NULL;
        key = pub_page_workers_key(&v, req);
        if (key >= p->npages)
            return NULL;
        return live_publish__lazy(l, &p->pages[key], &p->pages_gen[key], kind,
                                  0, req);
    case LIVE_PUBLISH_FLEET:
        arg = arg ? 1 : 0;
        return live_publish__lazy(l, &p->fleet[arg], &p->fleet_gen[arg], kind,
                                  arg, NULL);
    case LIVE_PUBLISH_TEXT:
        if (arg < 0 || arg >= LIVE_PUBLISH_RT_N)
            return NULL;
        return live_publish__lazy(l, &p->rt_text[arg], &p->rt_text_gen[arg],
                                  kind, arg, NULL);
    }
    return NULL;
}

int live_publish_timeout_ms(const struct live *l)
{
    const struct live_pub *p = &l->pub;
    int64_t t;

    if (!p->ready || !p->dirty)
        return -1;
    t = p->built_mono + p->min_ms - clock_mono_ms();
    if (p->due_wall_ms > 0 && p->due_wall_ms - clock_wall_ms() < t)
        t = p->due_wall_ms - clock_wall_ms();
    return t < 0 ? 0 : (int)t;
}

int live_publish_init(struct live *l)
{
    static const enum live_gtfsrt_what what[LIVE_PUBLISH_RT_N] = {
        LIVE_GTFSRT_TRIP_UPDATES, LIVE_GTFSRT_VEHICLE_POSITIONS,
        LIVE_GTFSRT_ALERTS, LIVE_GTFSRT_ALL};
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};

    for (int i = 0; i < LIVE_PUBLISH_RT_N; i++)
        if (!(l->pub.rt[i] = live_gtfsrt_new(what[i])))
            return -1;
    if (!(l->pub.display = pub_display_new()))
        return -1;
    l->pub.min_ms = LIVE_PUBLISH_MIN_MS;
    return metrics_hist_init(&l->pub.build_seconds, secs,
                             sizeof secs / sizeof *secs);
}

const char *const live_publish_rt_path[LIVE_PUBLISH_RT_N] = {
    "/gtfs-rt/trip-updates", "/gtfs-rt/vehicle-positions", "/gtfs-rt/alerts",
    "/gtfs-rt"};
