/* shuttle-bench-latency: fix-to-feed latency of 6 real buses (gpsd +
 * shuttle-onboard) through mosquitto into shuttle-live's GTFS-Realtime
 * vehicle positions and JSON API, against the broker's own delivery to a
 * plain subscriber; then the workers' page: sizes and render times. */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "gtfs-realtime.pb-c.h"
#include "harness.h"
#include "itest.h"
#include "mqtt.h"
#include "wire.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

/*
 * How the run is made:
 *
 * - The real path: PostgreSQL with deploy/gtfs loaded, mosquitto,
 *   shuttle-backend (it acknowledges, as on the road), shuttle-live with
 *   its HTTP server, and per bus a gpsd and a shuttle-onboard at its
 *   default settings: live records go out at once, batch_records (500)
 *   only bounds backlog batches. No simulator: this program writes the
 *   NMEA of every fix into each gpsd's UDP source.
 * - Fix k of bus b is due at T0 + k s + b / 6 s + 20 ms (monotonic), so the
 *   six buses' fixes are spread over each second, and carries that
 *   moment's wall time (never a second another fix of the bus has). Each
 *   bus drives a trip's stops (one trip per route and direction, from the
 *   database) about 11 m per second: consecutive fixes are about 1e-4
 *   degrees apart, far more than the 1e-5 the positions are told apart by.
 * - Every ~20 ms this program GETs /gtfs-rt/vehicle-positions (decoded
 *   with protobuf-c) and /api/v1/vehicles (jansson). A fix is in the
 *   GTFS-RT feed at the first response whose VehiclePosition of its bus
 *   has a timestamp of its second or later (a newer fix shown counts: the
 *   feed is at least that fresh); "exact" counts those whose position
 *   was that fix's. In the JSON a fix is shown when its bus's lat/lon (5
 *   decimals) is that fix's or a newer one's.
 * - The baseline: a plain MQTT subscriber in this process receives the
 *   onboards' telemetry; fix -> delivery there is the part of the figure
 *   spent before shuttle-live sees the fix ("to the broker").
 */

#define BLT_NBUS 6
#define BLT_POLL_MS 20
#define BLT_WARMUP_S 4 /* fixes of the first seconds are not measured */
#define BLT_DRAIN_MS 4000
#define BLT_STEP_DEG 1e-4
#define BLT_TARGET_MS 1000.0
#define BLT_MAX_FIX 400
#define BLT_MAX_STOPS 512

struct blt_pt {
    double lat, lon;
};

struct blt_fix {
    int64_t t_wall_ms; /* the NMEA time */
    int64_t sent_mono_us;
    struct blt_pt p;
    bool measured;
    bool in_broker, in_feed, in_json, exact;
};

struct blt_bus {
    char id[16];
    struct harness_gpsd *gpsd;
    struct blt_pt *path; /* the stops it drives, in order */
    size_t npath;
    size_t seg;
    double along; /* degrees travelled on segment seg */
    struct blt_fix fix[BLT_MAX_FIX];
    int nfix;
};

struct blt_lat {
    double *v;
    size_t n, cap;
};

struct blt {
    bool quick;
    int seconds, page_reqs;
    struct harness_pg *pg;
    struct harness_mqtt *mq;
    int http_port;
    struct blt_bus bus[BLT_NBUS];
    char (*stops)[64];
    size_t nstops;
    struct mqtt *sub;
    bool sub_ready;
    struct blt_lat broker, feed, json, page_fresh, page_cached;
    /* Wall ms past its header second at which each new feed was first
     * seen: the feed changes at most once a second (live_gtfsrt's
     * LIVE_GTFSRT_LATER), so this is its share of the tail. */
    struct blt_lat change_lag;
    uint64_t last_header;
    uint64_t feed_polls, feed_bad, json_polls, json_bad, exact;
};

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lat_add(struct blt_lat *l, double v)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 256;
        double *p = realloc(l->v, c * sizeof *p);

        if (!p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        l->v = p;
        l->cap = c;
    }
    l->v[l->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile P (0..100) of the sorted L. */
static double pct(const struct blt_lat *l, double p)
{
    size_t k;

    if (l->n == 0)
        return NAN;
    k = (size_t)ceil(p / 100.0 * (double)l->n);
    if (k > 0)
        k--;
    if (k >= l->n)
        k = l->n - 1;
    return l->v[k];
}

static void print_lat(const char *name, struct blt_lat *l, size_t expected)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    printf("%-22s N %4zu of %4zu  p50 %7.1f  p90 %7.1f  p99 %7.1f  max %7.1f"
           " ms\n",
           name, l->n, expected, pct(l, 50), pct(l, 90), pct(l, 99),
           pct(l, 100));
}

/* ---- the feed's stops ------------------------------------------------- */

/* Each bus's path: the stops of one trip per route and direction; and
 * every stop id. 0, or -1 after printing why. */
static int load_paths(struct blt *b)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(b->pg));
    PGresult *r = NULL;
    int rc = -1, ntrips = 0;
    char last[128] = "";
    struct blt_pt *paths[BLT_NBUS * 4];
    size_t npaths[BLT_NBUS * 4];

    memset(npaths, 0, sizeof npaths);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "database: %s", PQerrorMessage(c));
        goto out;
    }
    r = PQexec(c, "SELECT st.trip_id, s.stop_lat, s.stop_lon FROM"
                  " gtfs_stop_times st JOIN gtfs_stops s USING (stop_id)"
                  " WHERE st.trip_id IN (SELECT min(trip_id) FROM gtfs_trips"
                  " GROUP BY route_id, direction_id) ORDER BY st.trip_id,"
                  " st.stop_sequence");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "stops: %s", PQerrorMessage(c));
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *trip = PQgetvalue(r, i, 0);
        struct blt_pt p = {strtod(PQgetvalue(r, i, 1), NULL),
                           strtod(PQgetvalue(r, i, 2), NULL)};

        if (strcmp(trip, last) != 0) {
            if (ntrips == BLT_NBUS * 4)
                break;
            snprintf(last, sizeof last, "%s", trip);
            paths[ntrips] = calloc((size_t)PQntuples(r), sizeof p);
            if (!paths[ntrips])
                goto out;
            ntrips++;
        }
        paths[ntrips - 1][npaths[ntrips - 1]++] = p;
    }
    PQclear(r);
    r = NULL;
    if (ntrips == 0) {
        fprintf(stderr, "the feed has no trips\n");
        goto out;
    }
    for (int i = 0; i < BLT_NBUS; i++) {
        struct blt_bus *bus = &b->bus[i];
        int t = i % ntrips;

        bus->npath = npaths[t];
        bus->path = calloc(bus->npath, sizeof *bus->path);
        if (!bus->path || bus->npath < 2) {
            fprintf(stderr, "trip %d has fewer than 2 stops\n", t);
            goto out;
        }
        memcpy(bus->path, paths[t], bus->npath * sizeof *bus->path);
        /* Buses of the same trip start at different stops. */
        bus->seg = (size_t)(i / ntrips) % (bus->npath - 1);
    }
    r = PQexec(c, "SELECT stop_id FROM gtfs_stops ORDER BY stop_id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "stop ids: %s", PQerrorMessage(c));
        goto out;
    }
    b->nstops = (size_t)PQntuples(r);
    if (b->nstops > BLT_MAX_STOPS)
        b->nstops = BLT_MAX_STOPS;
    b->stops = calloc(b->nstops ? b->nstops : 1, sizeof *b->stops);
    if (!b->stops)
        goto out;
    for (size_t i = 0; i < b->nstops; i++)
        snprintf(b->stops[i], sizeof b->stops[i], "%s",
                 PQgetvalue(r, (int)i, 0));
    rc = b->nstops ? 0 : -1;
out:
    for (int i = 0; i < ntrips; i++)
        free(paths[i]);
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* The bus's next position: BLT_STEP_DEG further along its stops (back to
 * the first at the end). */
static struct blt_pt next_pos(struct blt_bus *bus)
{
    for (;;) {
        struct blt_pt a = bus->path[bus->seg], z = bus->path[bus->seg + 1];
        double len = hypot(z.lat - a.lat, z.lon - a.lon);

        bus->along += BLT_STEP_DEG;
        if (bus->along < len) {
            double f = bus->along / len;
            struct blt_pt p = {a.lat + f * (z.lat - a.lat),
                               a.lon + f * (z.lon - a.lon)};

            return p;
        }
        bus->along -= len + BLT_STEP_DEG;
        bus->seg = (bus->seg + 1) % (bus->npath - 1);
    }
}

/* Send the bus's next fix now; -1 when gpsd did not take it. */
static int send_fix(struct blt_bus *bus, bool measured)
{
    struct blt_fix *f;

    if (bus->nfix == BLT_MAX_FIX)
        return -1;
    f = &bus->fix[bus->nfix];
    memset(f, 0, sizeof *f);
    f->p = next_pos(bus);
    f->t_wall_ms = itest_wall_ms();
    f->measured = measured;
    f->sent_mono_us = mono_us();
    if (itest_send_fix(bus->gpsd, f->t_wall_ms, f->p.lat, f->p.lon) != 0)
        return -1;
    bus->nfix++;
    return 0;
}

static int bus_of(struct blt *b, const char *id)
{
    for (int i = 0; i < BLT_NBUS; i++)
        if (id && strcmp(b->bus[i].id, id) == 0)
            return i;
    return -1;
}

/* ---- the baseline subscriber ------------------------------------------ */

static void sub_on_connect(void *arg, bool session_present)
{
    struct blt *b = arg;

    (void)session_present;
    if (mqtt_subscribe(b->sub, "shuttle/v1/+/telemetry", 1) == MQTT_OK)
        b->sub_ready = true;
}

static void sub_on_disconnect(void *arg, int reason)
{
    struct blt *b = arg;

    (void)reason;
    b->sub_ready = false;
}

static void sub_on_message(void *arg, const char *topic, const void *payload,
                           size_t len, bool retained)
{
    struct blt *b = arg;
    int64_t now = mono_us();
    char vid[WIRE_VID_MAX + 1];
    struct wire_batch wb;
    int bi;

    if (retained || !wire_topic_parse(topic, vid) ||
        (bi = bus_of(b, vid)) < 0 ||
        wire_batch_decode(payload, len, &wb, NULL, 0) != WIRE_OK)
        return;
    for (size_t r = 0; r < wb.n; r++) {
        struct blt_bus *bus = &b->bus[bi];

        if (wb.records[r].kind != WIRE_POSITION)
            continue;
        for (int k = bus->nfix - 1; k >= 0; k--) {
            struct blt_fix *f = &bus->fix[k];

            /* gpsd keeps the NMEA time to the centisecond at worst. */
            if (llabs(f->t_wall_ms - wb.records[r].t_ms) <= 10) {
                if (!f->in_broker && f->measured)
                    lat_add(&b->broker, (double)(now - f->sent_mono_us) / 1e3);
                f->in_broker = true;
                break;
            }
        }
    }
    wire_batch_free(&wb);
}

static const struct mqtt_callbacks sub_cb = {sub_on_connect, sub_on_disconnect,
                                             sub_on_message, NULL, NULL};

/* Drive the subscriber for at most WAIT_MS. */
static void sub_poll(struct blt *b, int wait_ms)
{
    struct pollfd p = {mqtt_fd(b->sub), POLLIN, 0};

    if (p.fd < 0) {
        harness_sleep_ms(wait_ms > 0 ? wait_ms : 0);
        return;
    }
    if (mqtt_want_write(b->sub))
        p.events |= POLLOUT;
    if (poll(&p, 1, wait_ms < 0 ? 0 : wait_ms) > 0) {
        if (p.revents & (POLLIN | POLLERR | POLLHUP))
            mqtt_handle_read(b->sub);
        if (mqtt_fd(b->sub) >= 0 && (p.revents & POLLOUT))
            mqtt_handle_write(b->sub);
    }
    mqtt_handle_misc(b->sub);
}

/* ---- the published feeds ---------------------------------------------- */

/* Mark, from the GTFS-RT bytes got at NOW, the fixes it shows. */
static void see_feed(struct blt *b, const uint8_t *buf, size_t len, int64_t now)
{
    TransitRealtime__FeedMessage *m =
        transit_realtime__feed_message__unpack(NULL, len, buf);

    if (!m) {
        b->feed_bad++;
        return;
    }
    if (m->header && m->header->has_timestamp &&
        m->header->timestamp != b->last_header) {
        if (b->last_header)
            lat_add(&b->change_lag,
                    (double)(itest_wall_ms() -
                             (int64_t)m->header->timestamp * 1000));
        b->last_header = m->header->timestamp;
    }
    for (size_t e = 0; e < m->n_entity; e++) {
        const TransitRealtime__VehiclePosition *vp = m->entity[e]->vehicle;
        struct blt_bus *bus;
        int bi;

        if (!vp || !vp->vehicle || !vp->has_timestamp ||
            (bi = bus_of(b, vp->vehicle->id)) < 0)
            continue;
        bus = &b->bus[bi];
        for (int k = 0; k < bus->nfix; k++) {
            struct blt_fix *f = &bus->fix[k];

            if (f->in_feed || (uint64_t)(f->t_wall_ms / 1000) > vp->timestamp)
                continue;
            f->in_feed = true;
            /* A float keeps ~4e-6 degrees at longitude 127. */
            f->exact = vp->position &&
                       (uint64_t)(f->t_wall_ms / 1000) == vp->timestamp &&
                       fabs(vp->position->latitude - f->p.lat) < 5e-6 &&
                       fabs(vp->position->longitude - f->p.lon) < 5e-6;
            if (f->measured) {
                lat_add(&b->feed, (double)(now - f->sent_mono_us) / 1e3);
                b->exact += f->exact;
            }
        }
    }
    transit_realtime__feed_message__free_unpacked(m, NULL);
}

static bool same5(double a, double b)
{
    return fabs(round(a * 1e5) / 1e5 - b) < 2e-6;
}

/* Mark, from the /api/v1/vehicles JSON got at NOW, the fixes it shows;
 * BUS_ONLY >= 0: only whether that bus's newest fix is shown (returned). */
static bool see_json(struct blt *b, const char *body, size_t len, int64_t now,
                     int bus_only)
{
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je), *arr, *v;
    size_t i;
    bool newest = false;

    arr = json_is_object(doc) ? json_object_get(doc, "vehicles") : NULL;
    if (!json_is_array(arr)) {
        b->json_bad++;
        json_decref(doc);
        return false;
    }
    json_array_foreach(arr, i, v)
    {
        int bi = bus_of(b, json_string_value(json_object_get(v, "id")));
        json_t *la = json_object_get(v, "lat"), *lo = json_object_get(v, "lon");
        struct blt_bus *bus;
        int shown = -1;

        if (bi < 0 || !json_is_number(la) || !json_is_number(lo) ||
            (bus_only >= 0 && bi != bus_only))
            continue;
        bus = &b->bus[bi];
        for (int k = bus->nfix - 1; k >= 0 && shown < 0; k--)
            if (same5(bus->fix[k].p.lat, json_number_value(la)) &&
                same5(bus->fix[k].p.lon, json_number_value(lo)))
                shown = k;
        if (bus_only >= 0) {
            newest = shown >= 0 && shown == bus->nfix - 1;
            continue;
        }
        for (int k = 0; k <= shown; k++) {
            struct blt_fix *f = &bus->fix[k];

            if (f->in_json)
                continue;
            f->in_json = true;
            if (f->measured)
                lat_add(&b->json, (double)(now - f->sent_mono_us) / 1e3);
        }
    }
    json_decref(doc);
    return newest;
}

static void poll_feeds(struct blt *b)
{
    struct itest_http_reply r;

    if (itest_http(b->http_port, "GET", "/gtfs-rt/vehicle-positions", NULL,
                   &r) == 200)
        see_feed(b, (const uint8_t *)r.body, r.len, mono_us());
    else
        b->feed_bad++;
    b->feed_polls++;
    if (itest_http(b->http_port, "GET", "/api/v1/vehicles", NULL, &r) == 200)
        see_json(b, r.body, r.len, mono_us(), -1);
    else
        b->json_bad++;
    b->json_polls++;
}

/* ---- the phases ------------------------------------------------------- */

static void phase_latency(struct blt *b)
{
    /* Second k starts on a whole wall-clock second: the fixes' times sit
     * 20..854 ms into theirs, so scheduling jitter never gives two fixes
     * of a bus the same second. */
    int64_t wall = itest_wall_ms(), mono = mono_us();
    int64_t t0 = mono + (1000 - wall % 1000) * 1000 + 1000000, end_us,
            next_poll = 0;
    int next_k = 0, nb = 0;
    size_t measured = 0, broker_n, feed_n, json_n;

    end_us = t0 + (int64_t)b->seconds * 1000000;
    for (;;) {
        int64_t now = mono_us();
        /* The next due fix: k-th second, bus nb. */
        int64_t due = t0 + (int64_t)next_k * 1000000 +
                      (int64_t)nb * 1000000 / BLT_NBUS + 20000;
        int64_t wake;

        if (due >= end_us && now >= end_us + (int64_t)BLT_DRAIN_MS * 1000)
            break;
        if (due < end_us && now >= due) {
            bool m = next_k >= BLT_WARMUP_S;

            if (send_fix(&b->bus[nb], m) != 0)
                fprintf(stderr, "gpsd of %s did not take a fix\n",
                        b->bus[nb].id);
            else
                measured += m;
            if (++nb == BLT_NBUS) {
                nb = 0;
                next_k++;
            }
            continue;
        }
        if (now >= next_poll) {
            poll_feeds(b);
            next_poll = now + BLT_POLL_MS * 1000;
            continue;
        }
        wake = next_poll;
        if (due < end_us && due < wake)
            wake = due;
        sub_poll(b, (int)((wake - now + 999) / 1000));
    }
    broker_n = b->broker.n;
    feed_n = b->feed.n;
    json_n = b->json.n;
    printf("\nfix -> published position, %d buses at 1 Hz, %d s (first %d s"
           " not measured), feeds polled every %d ms\n",
           BLT_NBUS, b->seconds, BLT_WARMUP_S, BLT_POLL_MS);
    print_lat("fix -> broker (sub)", &b->broker, measured);
    print_lat("fix -> GTFS-RT feed", &b->feed, measured);
    print_lat("fix -> JSON API", &b->json, measured);
    printf("GTFS-RT: %" PRIu64 " polls, %" PRIu64 " failed; %" PRIu64
           " of %zu fixes shown with their own position"
           " and second (the rest first shown superseded by a newer fix)\n",
           b->feed_polls, b->feed_bad, b->exact, feed_n);
    print_lat("new feed past its second", &b->change_lag, b->change_lag.n);
    printf("JSON: %" PRIu64 " polls, %" PRIu64 " failed\n", b->json_polls,
           b->json_bad);
    if (broker_n && feed_n) {
        double pb = pct(&b->broker, 50), pf = pct(&b->feed, 50);

        printf("split at p50: to the broker %.1f ms, broker to feed %.1f ms;"
               " fix->feed / fix->broker = %.1f\n",
               pb, pf - pb, pb > 0 ? pf / pb : NAN);
    }
    printf("target (fix -> GTFS-RT p99 <= %.0f ms at %d buses): %s (p99 %.1f"
           " ms, %zu of %zu fixes seen)\n",
           BLT_TARGET_MS, BLT_NBUS,
           feed_n && feed_n == measured && pct(&b->feed, 99) <= BLT_TARGET_MS
               ? "met"
               : "NOT met",
           pct(&b->feed, 99), feed_n, measured);
    (void)json_n;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return (x > y) - (x < y);
}

/* One timed GET of PATH: ms, or -1 unless 200; its size into *LEN. */
static double timed_get(struct blt *b, const char *path, size_t *len)
{
    struct itest_http_reply r;
    struct timespec a, z;

    clock_gettime(CLOCK_MONOTONIC, &a);
    if (itest_http(b->http_port, "GET", path, NULL, &r) != 200)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &z);
    if (len)
        *len = r.len;
    return (double)(z.tv_sec - a.tv_sec) * 1e3 +
           (double)(z.tv_nsec - a.tv_nsec) / 1e6;
}

/* The workers' page: sizes of every stop in both languages; then, after a
 * new fix has reached the JSON API (a new generation: pages are built on
 * their first request), the first request of a page and the same again. */
static void phase_page(struct blt *b)
{
    size_t n = b->nstops * 2, k = 0, *sz = calloc(n, sizeof *sz), fails = 0;
    char path[160];
    int done = 0, waits_lost = 0;

    if (!sz)
        return;
    for (size_t s = 0; s < b->nstops; s++)
        for (int l = 0; l < 2; l++) {
            snprintf(path, sizeof path, "/?stop=%s&lang=%s", b->stops[s],
                     l ? "en" : "ko");
            if (timed_get(b, path, &sz[k]) >= 0)
                k++;
            else
                fails++;
        }
    qsort(sz, k, sizeof *sz, cmp_size);
    printf("\nworkers' page /?stop=S&lang=ko|en, %zu stops x 2: %zu pages,"
           " %zu failed; bytes min %zu median %zu max %zu\n",
           b->nstops, k, fails, k ? sz[0] : 0, k ? sz[k / 2] : 0,
           k ? sz[k - 1] : 0);
    free(sz);
    for (int i = 0; done < b->page_reqs && i < b->page_reqs * 3; i++) {
        struct blt_bus *bus = &b->bus[i % BLT_NBUS];
        int64_t since = bus->nfix
                            ? mono_us() - bus->fix[bus->nfix - 1].sent_mono_us
                            : 1000000;
        int64_t deadline;
        bool shown = false;
        double fresh, cached;

        /* A bus's fixes stay a second apart (one second, one fix). */
        if (since < 1000000)
            harness_sleep_ms((int)((1000000 - since) / 1000) + 1);
        if (send_fix(bus, false) != 0)
            continue;
        deadline = itest_mono_ms() + 3000;
        while (!shown && itest_mono_ms() < deadline) {
            struct itest_http_reply r;

            sub_poll(b, 5);
            if (itest_http(b->http_port, "GET", "/api/v1/vehicles", NULL, &r) ==
                200)
                shown = see_json(b, r.body, r.len, mono_us(), i % BLT_NBUS);
        }
        if (!shown) {
            waits_lost++;
            continue;
        }
        snprintf(path, sizeof path, "/?stop=%s&lang=%s",
                 b->stops[(size_t)i % b->nstops], i % 2 ? "en" : "ko");
        fresh = timed_get(b, path, NULL);
        cached = timed_get(b, path, NULL);
        if (fresh < 0 || cached < 0)
            continue;
        lat_add(&b->page_fresh, fresh);
        lat_add(&b->page_cached, cached);
        done++;
    }
    printf("page request time (client side, loopback, HTTP/1.0), %d pairs,"
           " %d fixes not seen in time:\n",
           done, waits_lost);
    print_lat("  new state (built)", &b->page_fresh, (size_t)b->page_reqs);
    print_lat("  same state (cached)", &b->page_cached, (size_t)b->page_reqs);
    if (b->page_fresh.n && b->page_cached.n)
        printf("  build cost at p50: %.2f ms (new - cached)\n",
               pct(&b->page_fresh, 50) - pct(&b->page_cached, 50));
}

/* ---- setup ------------------------------------------------------------- */

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[1024], *save = NULL, *dir;
    char all[2048];

    snprintf(all, sizeof all, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin");
    for (dir = strtok_r(all, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(buf, sizeof buf, "%s/%s", dir, prog);
        if (access(buf, X_OK) == 0)
            return true;
    }
    return false;
}

static bool have_postgres(void)
{
    glob_t g;
    bool ok;

    if (getenv("SHUTTLE_PG_BINDIR"))
        return true;
    ok = glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0;
    if (ok)
        globfree(&g);
    return ok;
}

static int skip(const char *what)
{
    printf("skipped: %s not found\n", what);
    return 77;
}

static int wait_feed(void *arg)
{
    struct blt *b = arg;
    struct itest_http_reply r;

    return itest_http(b->http_port, "GET", "/gtfs-rt/vehicle-positions", NULL,
                      &r) == 200;
}

static void usage(void)
{
    fprintf(stderr, "usage: shuttle-bench-latency [--short]\n"
                    "  fix -> feed latency of 6 buses through shuttle-live"
                    " (~2 min; --short ~20 s)\n");
}

int main(int argc, char **argv)
{
    static struct blt b;
    static const char *const progs[] = {"mosquitto", "gpsd", "mosquitto_pub"};
    static const char *const bins[] = {"shuttle-live", "shuttle-backend",
                                       "shuttle-onboard"};
    char hport[32], err[256], id[64];
    const char *live_opts[] = {hport, "rebuild_interval_s=0", NULL};
    const char *backend_opts[] = {"rebuild_interval_s=0", NULL};
    struct mqtt_options mo;
    int64_t t;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--short") == 0)
            b.quick = true;
        else {
            usage();
            return 2;
        }
    }
    b.seconds = b.quick ? 7 : 80;
    b.page_reqs = b.quick ? 12 : 100;
    for (size_t i = 0; i < sizeof progs / sizeof *progs; i++)
        if (!in_path(progs[i]))
            return skip(progs[i]);
    if (!have_postgres())
        return skip("PostgreSQL (/usr/lib/postgresql/*/bin/postgres)");
    for (size_t i = 0; i < sizeof bins / sizeof *bins; i++)
        if (access(harness_bin(bins[i]), X_OK) != 0)
            return skip(harness_bin(bins[i]));
    if (!getenv("SHUTTLE_SOURCE_DIR"))
        setenv("SHUTTLE_SOURCE_DIR", BENCH_SOURCE_DIR, 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    t = itest_mono_ms();
    b.pg = harness_pg_start(1);
    b.mq = harness_mosquitto_start(NULL);
    if (!b.pg || !b.mq)
        return 1;
    if (itest_load_gtfs(b.pg, NULL, NULL, 0) != 0)
        return 1;
    /* The shipped feed's calendar ends some day: any date runs. */
    if (harness_pg_exec(b.pg, "UPDATE gtfs_calendar SET start_date ="
                              " least(start_date, current_date - 30),"
                              " end_date = greatest(end_date, current_date"
                              " + 30)") != 0 ||
        load_paths(&b) != 0)
        return 1;
    if (!harness_backend_start(b.pg, b.mq, backend_opts))
        return 1;
    b.http_port = harness_free_port();
    snprintf(hport, sizeof hport, "http_port=%d", b.http_port);
    if (!harness_live_start(b.pg, b.mq, live_opts) ||
        harness_wait_for(wait_feed, &b, 60000) != 0) {
        fprintf(stderr, "shuttle-live does not serve its feed\n");
        return 1;
    }
    mqtt_lib_init();
    memset(&mo, 0, sizeof mo);
    snprintf(id, sizeof id, "bench-latency-%ld", (long)getpid());
    mo.client_id = id;
    mo.host = "127.0.0.1";
    mo.port = harness_mosquitto_port(b.mq);
    mo.keepalive_s = 30;
    /* The baseline subscriber reads telemetry as the ingest service. */
    if (harness_mosquitto_identity(b.mq, "shuttle-ingest", &mo.cafile,
                                   &mo.certfile, &mo.keyfile) < 0)
        return 1;
    if (mqtt_new(&mo, &sub_cb, &b, &b.sub, err, sizeof err) != MQTT_OK ||
        mqtt_connect(b.sub, err, sizeof err) != MQTT_OK) {
        fprintf(stderr, "MQTT: %s\n", err);
        return 1;
    }
    for (int i = 0; i < BLT_NBUS; i++) {
        snprintf(b.bus[i].id, sizeof b.bus[i].id, "bus-%d", i + 1);
        if (!(b.bus[i].gpsd = harness_gpsd_start()) ||
            !harness_onboard_start(b.bus[i].id, b.bus[i].gpsd, b.mq, NULL,
                                   NULL))
            return 1;
    }
    for (int i = 0; i < 200 && !b.sub_ready; i++)
        sub_poll(&b, 50);
    if (!b.sub_ready) {
        fprintf(stderr, "the baseline subscriber did not subscribe\n");
        return 1;
    }
    printf("shuttle-bench-latency%s: setup %.1f s; onboard at its defaults"
           " (live records published at once; batch_records 500 bounds"
           " backlog batches only)\n",
           b.quick ? " --short" : "", (double)(itest_mono_ms() - t) / 1e3);
    phase_latency(&b);
    phase_page(&b);
    mqtt_disconnect(b.sub);
    mqtt_free(b.sub);
    mqtt_lib_cleanup();
    harness_cleanup();
    return 0;
}
