/* shuttle-bench-live: N simulated buses at 1 Hz through the real
 * shuttle-live (issue 10's engine target), beside the broker's own
 * delivery of the same messages to a plain subscriber; prints figures. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "bench_prom.h"
#include "db.h"
#include "gtfs.h"
#include "harness.h"
#include "mqtt.h"
#include "sim_bus.h"
#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_rng.h"
#include "sim_trips.h"
#include "trips.h"
#include "wire.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

/*
 * How the run is made:
 *
 * - The fleet: the shipped feed (6 blocks) is copied in SQL until it has N
 *   blocks. Copy c gets its own stops, shapes, trips and block (ids with
 *   the suffix "_c<c>"), moved by a grid step of BL_GRID_DEG degrees so
 *   that no two copies share a road (a bus is never on two blocks' shapes
 *   at once, as in a real city), and its timetable shifted by a few
 *   minutes so the copies' buses are not all at the same phase of their
 *   runs. The last copy keeps only the blocks needed to make N.
 * - "Now": shuttle-live runs under the LD_PRELOAD fake clock of
 *   tests/integration/fake_clock.c, set to 07:30 local time of a fixed
 *   service day (the morning peak, when every block is out), running at
 *   the real rate. The timetable stays as published; only the wall clock
 *   of shuttle-live (and the times the bench stamps) are moved, so the run
 *   is the same on any date and at any hour. The monotonic clock, which
 *   shuttle-live's latency histogram uses, is untouched.
 * - The buses: the simulator plans the day for every block (sim_plan_make)
 *   and gives each bus's one-second fixes with GPS noise and dropouts and
 *   its door episodes (sim_trips_vehicle), the same records the trips
 *   benchmark stores; the bench keeps the window it replays.
 * - The feed of fixes: each bus's fix of second s is published at s plus
 *   the bus's phase (b / N of a second), so the N publications are spread
 *   evenly over every second, from a few MQTT connections, as
 *   TelemetryBatch messages (QoS 1, as the buses send them).
 * - The baseline: a plain subscriber in this process, on the same broker,
 *   receives the same messages; its publish -> delivery latency is the
 *   broker's share of what a fix goes through before shuttle-live sees it.
 */

#define BL_GRID_DEG 0.25      /* copies this far apart (about 25 km) */
#define BL_GRID_SIDE 13       /* copies per row of the grid */
#define BL_SHIFT_MIN 20       /* timetables shifted by -20 .. +20 minutes */
#define BL_RING 64            /* publish times remembered per bus */
#define BL_MAX_CONN 16        /* publisher connections at most */
#define BL_LOAD_TIMEOUT_S 240 /* shuttle-live must be serving by then */
#define BL_SLICE_SPARE_S (BL_LOAD_TIMEOUT_S + 30)

struct bl_opts {
    int buses, seconds, warmup, conns;
    uint64_t seed;
    const char *date, *at, *gtfs;
    bool quick, baseline_only;
};

/* A trip a simulated bus drives: from leaving its first stop to reaching
 * its last (simulator seconds), the feed's trip index. */
struct bl_span {
    double t0, t1;
    int trip;
};

/* One simulated bus: the records of the window it replays. */
struct bl_bus {
    char id[WIRE_VID_MAX + 1];
    struct bl_span *span; /* the day's trips, in time order */
    size_t nspan;
    struct trips_fix *fx;
    size_t nfx, ifx;
    struct trips_door *dr;
    size_t ndr, idr;
    uint64_t seq;
    uint64_t ring_seq[BL_RING];
    int64_t ring_us[BL_RING]; /* monotonic publish time */
    bool ring_measured[BL_RING];
};

struct bl_conn {
    struct bl *bl;
    struct mqtt *m;
    bool connected, sub;
};

struct bl_lat {
    double *v;
    size_t n, cap;
};

struct bl {
    struct bl_opts o;
    struct harness_pg *pg;
    struct harness_mqtt *mq;
    struct sim_feed *sf;
    struct bl_bus *bus;
    int nbus;
    struct bl_conn conn[BL_MAX_CONN + 1]; /* the last one subscribes */
    int nconn;
    /* Fake clock: fake Unix ms = mono ms + fake_off_ms. */
    int64_t fake_off_ms;
    int64_t t0_ms; /* fake time the slices start at */
    /* Counters, of the measured window unless said otherwise. */
    bool measuring;
    uint64_t msgs, fixes, doors, pub_fail, sub_msgs, sub_unknown;
    uint64_t msgs_all, fixes_all, sub_all;
    struct bl_lat broker, lag; /* ms */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "shuttle-bench-live: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        die("out of memory");
    return p;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t fake_ms(const struct bl *bl)
{
    return mono_us() / 1000 + bl->fake_off_ms;
}

static void lat_add(struct bl_lat *l, double v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            die("out of memory");
    }
    l->v[l->n++] = v;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Quantile Q of the sorted values (nearest rank); NAN when empty. */
static double lat_q(const struct bl_lat *l, double q)
{
    size_t i;

    if (l->n == 0)
        return NAN;
    i = (size_t)ceil(q * (double)l->n);
    return l->v[i ? i - 1 : 0];
}

static void pg_exec(struct bl *bl, const char *sql)
{
    if (harness_pg_exec(bl->pg, sql) != 0)
        die("SQL failed: %.200s", sql);
}

/* ---- the fleet, in SQL ------------------------------------------------ */

/*
 * Copies 1 .. COPIES-1 of every stop, shape, trip and stop time of the
 * loaded feed, then the blocks beyond NBUS (in block id order, the order
 * sim_feed gives buses) dropped. Copy c's shift and grid cell come from
 * bl_copies (SQL), the same for every table.
 */
static void scale_feed(struct bl *bl, int nbus, int *copies_out)
{
    char sql[4096];
    long long blocks =
        harness_pg_scalar(bl->pg, "SELECT count(DISTINCT block_id) FROM "
                                  "gtfs_trips WHERE block_id IS NOT NULL");
    int copies;

    if (blocks < 1)
        die("the feed has no blocks");
    copies = (int)((nbus + blocks - 1) / blocks);
    *copies_out = copies;
    snprintf(sql, sizeof sql,
             "CREATE TABLE bl_copies AS SELECT c, '_c' || c AS sfx,"
             " ((c * 7) %% %d - %d) * 60 AS shift_s,"
             " (c %% %d - %d) * %g AS dlon, (c / %d - %d) * %g AS dlat"
             " FROM generate_series(1, %d) c",
             2 * BL_SHIFT_MIN + 1, BL_SHIFT_MIN, BL_GRID_SIDE, BL_GRID_SIDE / 2,
             BL_GRID_DEG, BL_GRID_SIDE, BL_GRID_SIDE / 2, BL_GRID_DEG,
             copies - 1);
    pg_exec(bl, sql);
    pg_exec(bl, "CREATE FUNCTION bl_hms(s integer) RETURNS text LANGUAGE sql"
                " IMMUTABLE AS $$ SELECT lpad((s / 3600)::text, 2, '0') || ':'"
                " || lpad((s / 60 % 60)::text, 2, '0') || ':'"
                " || lpad((s % 60)::text, 2, '0') $$");
    pg_exec(bl, "BEGIN;"
                "INSERT INTO gtfs_stops (stop_id, stop_code, stop_name,"
                " stop_desc, stop_lat, stop_lon)"
                " SELECT s.stop_id || k.sfx, s.stop_code || k.sfx,"
                " s.stop_name, s.stop_desc, s.stop_lat + k.dlat,"
                " s.stop_lon + k.dlon FROM gtfs_stops s, bl_copies k;"
                "INSERT INTO gtfs_shapes SELECT p.shape_id || k.sfx,"
                " p.shape_pt_lat + k.dlat, p.shape_pt_lon + k.dlon,"
                " p.shape_pt_sequence, p.shape_dist_traveled"
                " FROM gtfs_shapes p, bl_copies k;"
                "INSERT INTO gtfs_trips (route_id, service_id, trip_id,"
                " trip_headsign, trip_short_name, direction_id, block_id,"
                " shape_id) SELECT t.route_id, t.service_id,"
                " t.trip_id || k.sfx, t.trip_headsign, t.trip_short_name,"
                " t.direction_id, t.block_id || k.sfx, t.shape_id || k.sfx"
                " FROM gtfs_trips t, bl_copies k;"
                "INSERT INTO gtfs_stop_times (trip_id, arrival_time,"
                " departure_time, stop_id, stop_sequence, pickup_type,"
                " drop_off_type, shape_dist_traveled, timepoint)"
                " SELECT st.trip_id || k.sfx,"
                " bl_hms(st.arrival_secs + k.shift_s),"
                " bl_hms(st.departure_secs + k.shift_s),"
                " st.stop_id || k.sfx, st.stop_sequence, st.pickup_type,"
                " st.drop_off_type, st.shape_dist_traveled, st.timepoint"
                " FROM gtfs_stop_times st, bl_copies k;"
                "COMMIT");
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "CREATE TEMP TABLE bl_drop AS SELECT block_id FROM"
             " (SELECT DISTINCT block_id FROM gtfs_trips"
             "  WHERE block_id IS NOT NULL) b"
             " ORDER BY block_id OFFSET %d;"
             "DELETE FROM gtfs_stop_times WHERE trip_id IN (SELECT trip_id"
             " FROM gtfs_trips WHERE block_id IN (SELECT * FROM bl_drop));"
             "DELETE FROM gtfs_trips WHERE block_id IN (SELECT * FROM"
             " bl_drop);"
             "COMMIT; ANALYZE",
             nbus);
    pg_exec(bl, sql);
}

/* ---- the buses, from the simulator ------------------------------------ */

/* Plan the day and keep each bus's records of [t0_ms, t0_ms + span). */
static void make_buses(struct bl *bl, int64_t span_ms)
{
    struct sim_demand dem;
    struct sim_plan plan;
    struct sim_plan_opts po;
    struct sim_rng rdem, rplan;
    int64_t t1 = bl->t0_ms + span_ms;

    sim_rng_init(&rdem, bl->o.seed, 1);
    sim_rng_init(&rplan, bl->o.seed, 2);
    /* The shipped feed's 1,500 riders a day per copy of it. */
    if (sim_demand_make(bl->sf, NULL, 1500.0 * bl->sf->nblocks / 6.0, 45, &rdem,
                        &dem) != 0)
        die("out of memory");
    memset(&po, 0, sizeof po);
    po.seats = 45;
    po.counter_error = 0.03;
    if (sim_plan_make(bl->sf, &dem, &po, &rplan, &plan) != 0)
        die("out of memory");
    bl->nbus = bl->sf->nblocks;
    bl->bus = xcalloc((size_t)bl->nbus, sizeof *bl->bus);
    for (int b = 0; b < bl->nbus; b++) {
        struct sim_trips_gps g = {bl->o.seed, 3.0, 0};
        struct sim_trips_vehicle day;
        struct bl_bus *v = &bl->bus[b];
        size_t i0 = 0, i1, j0 = 0, j1;

        if (sim_trips_vehicle(&plan, bl->sf, b, &g, &day) != 0)
            die("out of memory");
        snprintf(v->id, sizeof v->id, "%.32s", day.id);
        while (i0 < day.nfixes && day.fixes[i0].t_ms < bl->t0_ms)
            i0++;
        for (i1 = i0; i1 < day.nfixes && day.fixes[i1].t_ms < t1; i1++)
            ;
        while (j0 < day.ndoors && day.doors[j0].t_ms < bl->t0_ms)
            j0++;
        for (j1 = j0; j1 < day.ndoors && day.doors[j1].t_ms < t1; j1++)
            ;
        v->nfx = i1 - i0;
        v->fx = xcalloc(v->nfx, sizeof *v->fx);
        memcpy(v->fx, day.fixes + i0, v->nfx * sizeof *v->fx);
        v->ndr = j1 - j0;
        v->dr = xcalloc(v->ndr, sizeof *v->dr);
        memcpy(v->dr, day.doors + j0, v->ndr * sizeof *v->dr);
        sim_trips_vehicle_free(&day);
    }
    /* The truth the tracker is checked against: what each bus drives. */
    for (int i = 0; i < plan.nvisits; i++) {
        const struct sim_visit *x = &plan.visits[i];
        struct bl_bus *v = &bl->bus[x->bus];

        if (x->j == 0) {
            v->span = realloc(v->span, (v->nspan + 1) * sizeof *v->span);
            if (!v->span)
                die("out of memory");
            v->span[v->nspan++] = (struct bl_span){x->dep, -1, x->trip};
        } else if (x->j == bl->sf->trips[x->trip].nst - 1 && v->nspan &&
                   v->span[v->nspan - 1].trip == x->trip) {
            v->span[v->nspan - 1].t1 = x->arr;
        }
    }
    sim_plan_free(&plan);
    sim_demand_free(&dem);
}

/* ---- MQTT --------------------------------------------------------------- */

static void bl_on_connect(void *arg, bool session_present)
{
    struct bl_conn *c = arg;

    (void)session_present;
    c->connected = true;
    if (c->sub && mqtt_subscribe(c->m, "shuttle/v1/+/telemetry", 1) != MQTT_OK)
        die("cannot subscribe");
}

static void bl_on_disconnect(void *arg, int reason)
{
    struct bl_conn *c = arg;

    (void)reason;
    c->connected = false;
}

/* The baseline: publish -> delivery of our own messages. */
static void bl_on_message(void *arg, const char *topic, const void *payload,
                          size_t len, bool retained)
{
    struct bl_conn *c = arg;
    struct bl *bl = c->bl;
    int64_t now = mono_us();
    char vid[WIRE_VID_MAX + 1];
    struct wire_batch b;
    const char *kind = wire_topic_parse(topic, vid);
    long idx;

    if (retained || !kind || strncmp(vid, "bus-", 4) != 0 ||
        wire_batch_decode(payload, len, &b, NULL, 0) != WIRE_OK) {
        bl->sub_unknown++;
        return;
    }
    idx = strtol(vid + 4, NULL, 10) - 1;
    if (idx >= 0 && idx < bl->nbus && b.n > 0) {
        const struct bl_bus *v = &bl->bus[idx];
        unsigned k = (unsigned)(b.records[0].seq % BL_RING);

        bl->sub_all++;
        if (v->ring_seq[k] == b.records[0].seq && v->ring_measured[k]) {
            bl->sub_msgs++;
            lat_add(&bl->broker, (double)(now - v->ring_us[k]) / 1000.0);
        }
    } else {
        bl->sub_unknown++;
    }
    wire_batch_free(&b);
}

static const struct mqtt_callbacks bl_cb = {bl_on_connect, bl_on_disconnect,
                                            bl_on_message, NULL, NULL};

static void open_conns(struct bl *bl)
{
    char err[256];

    for (int i = 0; i <= bl->nconn; i++) {
        struct bl_conn *c = &bl->conn[i];
        struct mqtt_options o;
        char id[64];

        c->bl = bl;
        c->sub = i == bl->nconn;
        snprintf(id, sizeof id, "bench-live-%ld-%s%d", (long)getpid(),
                 c->sub ? "sub" : "pub", i);
        memset(&o, 0, sizeof o);
        o.client_id = id;
        o.host = "127.0.0.1";
        o.port = harness_mosquitto_port(bl->mq);
        o.keepalive_s = 30;
        o.max_inflight = 10000;
        if (mqtt_new(&o, &bl_cb, c, &c->m, err, sizeof err) != MQTT_OK ||
            mqtt_connect(c->m, err, sizeof err) != MQTT_OK)
            die("MQTT: %s", err);
    }
}

/* Drive every connection through one poll(), waiting until DEADLINE_US
 * (monotonic) at most. */
static void poll_conns(struct bl *bl, int64_t deadline_us)
{
    struct pollfd pfd[BL_MAX_CONN + 1];
    int nfds = bl->nconn + 1; /* pfd[i] is connection i */
    int64_t now = mono_us();
    /* Rounded up: a sub-millisecond wait must not become a busy loop. */
    int timeout =
        deadline_us <= now ? 0 : (int)((deadline_us - now + 999) / 1000);

    for (int i = 0; i <= bl->nconn; i++) {
        int fd = mqtt_fd(bl->conn[i].m);

        if (fd < 0)
            die("lost the broker");
        pfd[i].fd = fd;
        pfd[i].events = POLLIN | (mqtt_want_write(bl->conn[i].m) ? POLLOUT : 0);
    }
    if (poll(pfd, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
        die("poll: %s", strerror(errno));
    for (int k = 0; k < nfds; k++) {
        struct mqtt *m = bl->conn[k].m;

        if (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))
            mqtt_handle_read(m);
        if (mqtt_fd(m) >= 0 && (pfd[k].revents & POLLOUT))
            mqtt_handle_write(m);
    }
}

static void misc_conns(struct bl *bl)
{
    for (int i = 0; i <= bl->nconn; i++)
        mqtt_handle_misc(bl->conn[i].m);
}

/* Each bus's retained "online" status, as an onboard's birth message. */
static void publish_statuses(struct bl *bl)
{
    for (int b = 0; b < bl->nbus; b++) {
        struct wire_status s;
        char topic[128];
        uint8_t *buf;
        size_t len;

        memset(&s, 0, sizeof s);
        snprintf(s.vehicle_id, sizeof s.vehicle_id, "%s", bl->bus[b].id);
        s.state = WIRE_ONLINE;
        s.t_ms = fake_ms(bl);
        snprintf(s.version, sizeof s.version, "bench-live");
        s.gps_mode = 3;
        s.gps_connected = true;
        snprintf(s.counter_state, sizeof s.counter_state, "ok");
        s.next_seq = 1;
        if (wire_status_encode(&s, &buf, &len) != WIRE_OK ||
            wire_topic(topic, sizeof topic, s.vehicle_id, "status") != 0)
            die("cannot encode a status");
        if (mqtt_publish(bl->conn[b % bl->nconn].m, topic, buf, len, 1, true,
                         NULL) != MQTT_OK)
            die("cannot publish a status");
        free(buf);
        if (b % 64 == 63)
            poll_conns(bl, 0);
    }
}

/* Publish bus B's records of fake second S (its fix, door episodes closed
 * in it) as one batch. */
static void publish_second(struct bl *bl, int b, int64_t s)
{
    struct bl_bus *v = &bl->bus[b];
    struct wire_record recs[8];
    struct wire_batch batch;
    int64_t lo = s * 1000, hi = lo + 1000;
    char topic[128];
    uint8_t *buf;
    size_t len, n = 0, nfix = 0;
    unsigned k;

    while (v->ifx < v->nfx && v->fx[v->ifx].t_ms < lo)
        v->ifx++;
    while (v->idr < v->ndr && v->dr[v->idr].t_ms < lo)
        v->idr++;
    for (; v->ifx < v->nfx && v->fx[v->ifx].t_ms < hi && n < 8; v->ifx++) {
        const struct trips_fix *f = &v->fx[v->ifx];
        struct wire_record *r = &recs[n++];

        wire_position_init(r);
        r->seq = ++v->seq;
        r->t_ms = f->t_ms;
        r->time_source = WIRE_TIME_GPS;
        r->u.pos.lat = f->lat;
        r->u.pos.lon = f->lon;
        r->u.pos.speed = isnan(f->speed) ? NAN : f->speed;
        r->u.pos.hdop = 0.9;
        r->u.pos.fix_mode = 3;
        r->u.pos.sats_used = 9;
        nfix++;
    }
    for (; v->idr < v->ndr && v->dr[v->idr].t_ms < hi && n < 8; v->idr++) {
        const struct trips_door *d = &v->dr[v->idr];
        struct wire_record *r = &recs[n++];

        wire_count_init(r);
        r->seq = ++v->seq;
        r->t_ms = d->t_ms;
        r->time_source = WIRE_TIME_GPS;
        r->u.count.door = 1;
        r->u.count.boarded = (uint32_t)d->boarded;
        r->u.count.alighted = (uint32_t)d->alighted;
        r->u.count.door_open_ms = d->open_ms;
        r->u.count.door_close_ms = d->close_ms;
        r->u.count.load_after = d->load_after;
        r->u.count.lat = d->lat;
        r->u.count.lon = d->lon;
    }
    if (n == 0)
        return; /* switched off, or a GPS dropout */
    memset(&batch, 0, sizeof batch);
    snprintf(batch.vehicle_id, sizeof batch.vehicle_id, "%s", v->id);
    batch.n = n;
    batch.records = recs;
    if (wire_batch_encode(&batch, &buf, &len) != WIRE_OK ||
        wire_topic(topic, sizeof topic, v->id, "telemetry") != 0)
        die("cannot encode a batch");
    k = (unsigned)(recs[0].seq % BL_RING);
    v->ring_seq[k] = recs[0].seq;
    v->ring_us[k] = mono_us();
    v->ring_measured[k] = bl->measuring;
    if (mqtt_publish(bl->conn[b % bl->nconn].m, topic, buf, len, 1, false,
                     NULL) != MQTT_OK)
        bl->pub_fail++;
    free(buf);
    bl->msgs_all++;
    bl->fixes_all += nfix;
    if (bl->measuring) {
        bl->msgs++;
        bl->fixes += nfix;
        bl->doors += n - nfix;
    }
}

/*
 * Replay fake seconds [S0, S1): bus b's records of second s go out at
 * s + b / N seconds (fake time), so the fleet's messages are spread over
 * every second.
 */
static void drive(struct bl *bl, int64_t s0, int64_t s1)
{
    int64_t misc_at = 0;

    for (int64_t s = s0; s < s1; s++) {
        for (int b = 0; b < bl->nbus; b++) {
            int64_t due_ms = s * 1000 + (int64_t)b * 1000 / bl->nbus;

            while (fake_ms(bl) < due_ms)
                poll_conns(bl, (due_ms - bl->fake_off_ms) * 1000);
            if (bl->measuring)
                lat_add(&bl->lag, (double)(fake_ms(bl) - due_ms));
            publish_second(bl, b, s);
            if (b % 16 == 15)
                poll_conns(bl, 0);
        }
        if (mono_us() >= misc_at) {
            misc_conns(bl);
            misc_at = mono_us() + 1000000;
        }
    }
}

/* ---- shuttle-live ------------------------------------------------------- */

struct bl_scrape {
    struct bench_prom_hist update, gap;
    double update_max, gap_max, fixes, bad;
    bool have_gap, have_update_max, have_gap_max, have_fixes;
};

static int scrape(int port, struct bl_scrape *s)
{
    char *body = NULL;
    int st = bench_prom_get(port, "/metrics", &body);

    memset(s, 0, sizeof *s);
    if (st != 200 || !body ||
        bench_prom_hist(body, "shuttle_live_update_seconds", &s->update) != 0) {
        free(body);
        return -1;
    }
    s->have_gap =
        bench_prom_hist(body, "shuttle_live_refresh_gap_seconds", &s->gap) == 0;
    s->have_update_max =
        bench_prom_value(body, "shuttle_live_update_seconds_max", 0,
                         &s->update_max) == 0;
    s->have_gap_max =
        bench_prom_value(body, "shuttle_live_refresh_gap_seconds_max", 0,
                         &s->gap_max) == 0;
    s->have_fixes =
        bench_prom_value(body, "shuttle_live_records_total", 1, &s->fixes) == 0;
    bench_prom_value(body, "shuttle_live_rejected_total", 1, &s->bad);
    free(body);
    return 0;
}

static struct harness_proc *start_live(struct bl *bl, int http_port,
                                       int64_t fake_start_s)
{
    char *dir = harness_tmpdir("bench-live");
    char conf[1024], log[1024], db[1200], mport[64], hport[64], fake[32];
    char *argv[16];
    struct harness_proc *p;
    FILE *f;
    int i = 0;

    if (!dir)
        die("no temporary folder");
    snprintf(conf, sizeof conf, "%s/live.conf", dir);
    snprintf(log, sizeof log, "%s/live.log", dir);
    f = fopen(conf, "w");
    if (!f || fputs("# written by shuttle-bench-live\n", f) < 0 ||
        fclose(f) != 0)
        die("%s: %s", conf, strerror(errno));
    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(bl->pg));
    snprintf(mport, sizeof mport, "mqtt_port=%d",
             harness_mosquitto_port(bl->mq));
    snprintf(hport, sizeof hport, "http_port=%d", http_port);
    snprintf(fake, sizeof fake, "%" PRId64, fake_start_s);
    argv[i++] = (char *)harness_bin("shuttle-live");
    argv[i++] = "-d";
    argv[i++] = "-f";
    argv[i++] = conf;
    argv[i++] = "-o";
    argv[i++] = db;
    argv[i++] = "-o";
    argv[i++] = "mqtt_host=127.0.0.1";
    argv[i++] = "-o";
    argv[i++] = mport;
    argv[i++] = "-o";
    argv[i++] = hport;
    /* Every bus is first heard mid-trip, with nothing stored to replay:
     * without mid-trip acquisition (off by default) none has a trip. */
    argv[i++] = "-o";
    argv[i++] = "midtrip_acquire=1";
    argv[i] = NULL;
    /* Only shuttle-live gets the shim (ASan wants to come first). */
    if (setenv("LD_PRELOAD", harness_bin("libshuttle_fakeclock.so"), 1) != 0 ||
        setenv("SHUTTLE_FAKE_WALL_S", fake, 1) != 0 ||
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1) != 0)
        die("setenv failed");
    p = harness_spawn("shuttle-live", argv, log);
    unsetenv("LD_PRELOAD");
    unsetenv("SHUTTLE_FAKE_WALL_S");
    if (!p)
        die("cannot start %s", argv[0]);
    return p;
}

/* 1 once /healthz answers 200 (loaded and connected). */
static int live_ready(void *arg)
{
    const int *port = arg;
    char *body = NULL;
    int st = bench_prom_get(*port, "/healthz", &body);

    free(body);
    return st == 200;
}

static void print_machine(void)
{
    char model[256] = "unknown CPU", line[512];
    FILE *fp = fopen("/proc/cpuinfo", "r");
    struct utsname u;

    while (fp && fgets(line, sizeof line, fp)) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (fp)
        fclose(fp);
    uname(&u);
    printf("machine: %s, %ld online CPUs, %s %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

static const char *met(bool ok)
{
    return ok ? "met" : "NOT met";
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-bench-live [options]\n"
            "  --buses N     simulated buses, each on its own block (default "
            "1000)\n"
            "  --seconds N   measured run at 1 Hz (default 60)\n"
            "  --warmup N    seconds driven before it (default 15)\n"
            "  --conns N     publishing MQTT connections (default 4)\n"
            "  --quick       100 buses, 10 s, 5 s warm-up (the test suite)\n"
            "  --date D      service day (default 2026-03-02)\n"
            "  --at HH:MM    local time the run starts at (default 07:30)\n"
            "  --seed N      simulator seed (default 1)\n"
            "  --gtfs DIR    feed to scale (default the source tree's "
            "deploy/gtfs)\n"
            "  --baseline-only  the fleet and the broker baseline alone "
            "(no shuttle-live)\n");
}

static void parse(int argc, char **argv, struct bl_opts *o)
{
    static const struct option longopts[] = {
        {"buses", required_argument, NULL, 'b'},
        {"seconds", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},
        {"conns", required_argument, NULL, 'c'},
        {"quick", no_argument, NULL, 'q'},
        {"date", required_argument, NULL, 'd'},
        {"at", required_argument, NULL, 'a'},
        {"seed", required_argument, NULL, 'S'},
        {"gtfs", required_argument, NULL, 'g'},
        {"baseline-only", no_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    o->buses = 1000;
    o->seconds = 60;
    o->warmup = 15;
    o->conns = 4;
    o->seed = 1;
    o->date = "2026-03-02";
    o->at = "07:30";
    o->gtfs = BENCH_SOURCE_DIR "/deploy/gtfs";
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o->buses = atoi(optarg);
            break;
        case 's':
            o->seconds = atoi(optarg);
            break;
        case 'w':
            o->warmup = atoi(optarg);
            break;
        case 'c':
            o->conns = atoi(optarg);
            break;
        case 'q':
            o->quick = true;
            o->buses = 100;
            o->seconds = 10;
            o->warmup = 5;
            break;
        case 'd':
            o->date = optarg;
            break;
        case 'a':
            o->at = optarg;
            break;
        case 'S':
            o->seed = strtoull(optarg, NULL, 10);
            break;
        case 'g':
            o->gtfs = optarg;
            break;
        case 'B':
            o->baseline_only = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (o->buses < 1 || o->buses > 100000 || o->seconds < 1 ||
        o->seconds > 3600 || o->warmup < 1 || o->warmup > 600 || o->conns < 1 ||
        o->conns > BL_MAX_CONN) {
        usage(stderr);
        exit(2);
    }
}

/* Start of the local time AT ("HH:MM") of the service day, fake Unix ms. */
static int64_t at_ms(const struct bl *bl)
{
    int h, m;

    if (sscanf(bl->o.at, "%d:%d", &h, &m) != 2 || h < 0 || h > 27 || m < 0 ||
        m > 59)
        die("--at wants HH:MM");
    /* day0 is the service day's midnight; GTFS times count from noon
     * minus 12 h, which differs only on clock-change days. */
    return ((int64_t)bl->sf->day0 + h * 3600 + m * 60) * 1000;
}

/* CPU and wall clock at the edges of the measured window. */
struct bl_cpu {
    double live, mq, self, busy, wall;
};

static struct bl_cpu cpu_now(pid_t live, pid_t mq)
{
    struct bl_cpu c;

    c.live = live > 0 ? bench_proc_cpu_pid(live) : 0;
    c.mq = bench_proc_cpu_pid(mq);
    c.self = bench_proc_rusage(RUSAGE_SELF);
    c.busy = bench_proc_machine_busy();
    c.wall = (double)mono_us() / 1e6;
    return c;
}

/* Load the schema and the feed, scale it to the fleet, plan the buses. */
static void setup(struct bl *bl)
{
    struct db *db;
    char err[512];
    int copies, in_service = 0;
    int64_t t = mono_us();

    bl->pg = harness_pg_start(1);
    bl->mq = harness_mosquitto_start_plain(
        NULL, "the simulated buses share a few publishers (one identity "
              "each would not)");
    if (!bl->pg || !bl->mq)
        die("PostgreSQL or mosquitto did not start");
    if (db_new(harness_pg_conninfo(bl->pg), &db) != 0 ||
        db_connect(db, err, sizeof err) != 0 ||
        db_migrate(db, err, sizeof err) != 0)
        die("schema: %s", err);
    db_free(db);
    if (gtfs_load(harness_pg_conninfo(bl->pg), bl->o.gtfs, NULL, err,
                  sizeof err) != 0)
        die("GTFS %s: %s", bl->o.gtfs, err);
    scale_feed(bl, bl->o.buses, &copies);
    if (sim_feed_load(harness_pg_conninfo(bl->pg), bl->o.date, &bl->sf, err,
                      sizeof err) != 0)
        die("%s", err);
    if (bl->sf->nblocks != bl->o.buses)
        die("the scaled feed has %d blocks, not %d", bl->sf->nblocks,
            bl->o.buses);
    bl->t0_ms = at_ms(bl);
    make_buses(bl, (int64_t)(BL_SLICE_SPARE_S + bl->o.warmup + bl->o.seconds) *
                       1000);
    for (int b = 0; b < bl->nbus; b++)
        in_service += bl->bus[b].nfx > 0;
    printf("fleet: %d buses on %d blocks, %d trips (%d copies of %s, %d km "
           "apart, timetables shifted within +-%d min), %d of them with "
           "fixes in the replayed window; made in %.1f s\n",
           bl->nbus, bl->sf->nblocks, bl->sf->ntrips, copies, bl->o.gtfs,
           (int)(BL_GRID_DEG * 111), BL_SHIFT_MIN, in_service,
           (double)(mono_us() - t) / 1e6);
}

/* What the driver sent and the broker delivered to the plain subscriber. */
static void report_feed(const struct bl *bl, const struct bl_cpu *a,
                        const struct bl_cpu *z)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    printf("\nlive engine run: %d buses at 1 Hz, %d s measured after %d s "
           "warm-up, %d publishing connections, %s %s local (fake clock)\n",
           bl->nbus, bl->o.seconds, bl->o.warmup, bl->nconn, bl->sf->date,
           bl->o.at);
    printf("  sent: %" PRIu64 " messages, %" PRIu64 " fixes, %" PRIu64
           " door events (%.0f fixes/s); publish lag behind the even "
           "schedule p50 %.1f ms, p99 %.1f ms, max %.1f ms; %" PRIu64
           " publish errors\n",
           bl->msgs, bl->fixes, bl->doors, (double)bl->fixes / bl->o.seconds,
           lat_q(&bl->lag, 0.5), lat_q(&bl->lag, 0.99), lat_q(&bl->lag, 1.0),
           bl->pub_fail);
    printf("  broker baseline (plain subscriber, same messages): %" PRIu64
           " of %" PRIu64 " delivered, publish -> delivery p50 %.2f ms, p99 "
           "%.2f ms, max %.2f ms\n",
           bl->sub_msgs, bl->msgs, lat_q(&bl->broker, 0.5),
           lat_q(&bl->broker, 0.99), lat_q(&bl->broker, 1.0));
    printf("  CPU over %.1f s: shuttle-live %.1f s (%.0f %% of one core), "
           "mosquitto %.1f s, bench %.1f s; machine busy %.0f %% of %ld "
           "cores\n",
           z->wall - a->wall, z->live - a->live,
           100.0 * (z->live - a->live) / (z->wall - a->wall), z->mq - a->mq,
           z->self - a->self,
           100.0 * (z->busy - a->busy) / ((z->wall - a->wall) * (double)ncpu),
           ncpu);
}

/*
 * What /debug/vehicles says the buses are doing, as a sanity check of the
 * run (a tracker that placed no bus on its block would still be fast):
 * lines per status word, matched loosely ("IN_TRANSIT", "in transit").
 */
static void report_vehicles(int port)
{
    static const char *const words[] = {"at_stop",  "in_transit", "layover",
                                        "deadhead", "off_route",  "stale",
                                        "unknown"};
    int count[sizeof words / sizeof *words] = {0}, lines = 0;
    char *body = NULL, *save = NULL;
    int st = bench_prom_get(port, "/debug/vehicles", &body);

    if (st != 200 || !body) {
        printf("  /debug/vehicles: HTTP %d\n", st);
        free(body);
        return;
    }
    for (char *l = strtok_r(body, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (*l == '#')
            continue;
        for (char *p = l; *p; p++)
            *p =
                *p == ' ' || *p == '-' ? '_' : (char)tolower((unsigned char)*p);
        lines++;
        for (size_t i = 0; i < sizeof words / sizeof *words; i++)
            count[i] += strstr(l, words[i]) != NULL;
    }
    printf("  /debug/vehicles after the run: %d lines;", lines);
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        printf(" %s %d", words[i], count[i]);
    printf("\n");
    free(body);
}

/*
 * The tracker against the simulator's truth at fake second T_S: of the
 * buses driving a trip then (left its first stop, not at its last, and
 * not within BL_EDGE_S of either), how many /debug/vehicles puts on that
 * very trip (at_stop, in_transit or off_route), on another, on none; of
 * the others (laying over, deadheading), how many it puts on no trip
 * under way.
 */
#define BL_EDGE_S 10

static void report_truth(const struct bl *bl, int port, int64_t t_s)
{
    double t = (double)(t_s - (int64_t)bl->sf->day0);
    int driving = 0, same = 0, other = 0, none = 0, edge = 0, idle = 0,
        idle_ok = 0;
    char *body = NULL, *save = NULL;
    int st = bench_prom_get(port, "/debug/vehicles", &body);

    if (st != 200 || !body) {
        free(body);
        return;
    }
    for (char *l = strtok_r(body, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *tok[32], *save2 = NULL;
        const char *id, *status, *trip;
        const struct bl_bus *v = NULL;
        const struct bl_span *on = NULL;
        bool moving;
        int n = 0;

        if (*l == '#')
            continue;
        /* From the end (the time may hold a space): status, trip, pos,
         * delay_s. */
        for (char *w = strtok_r(l, " ", &save2); w && n < 32;
             w = strtok_r(NULL, " ", &save2))
            tok[n++] = w;
        if (n < 5 || strncmp(tok[0], "bus-", 4) != 0)
            continue;
        id = tok[0];
        status = tok[n - 4];
        trip = tok[n - 3];
        long b = strtol(id + 4, NULL, 10) - 1;

        if (b < 0 || b >= bl->nbus)
            continue;
        v = &bl->bus[b];
        /* The trip under way at t, or one starting or ending near it. */
        for (size_t k = 0; k < v->nspan && !on; k++) {
            const struct bl_span *x = &v->span[k];
            double end = x->t1 < 0 ? INFINITY : x->t1;

            if (x->t0 - BL_EDGE_S <= t && t < end + BL_EDGE_S)
                on = x;
        }
        if (on && (t < on->t0 + BL_EDGE_S ||
                   (on->t1 >= 0 && t >= on->t1 - BL_EDGE_S))) {
            edge++;
            continue;
        }
        moving = !strcasecmp(status, "at_stop") ||
                 !strcasecmp(status, "in_transit") ||
                 !strcasecmp(status, "off_route");
        if (!on) {
            idle++;
            idle_ok += !moving;
            continue;
        }
        driving++;
        if (moving && !strcmp(trip, bl->sf->trips[on->trip].trip_id))
            same++;
        else if (moving)
            other++;
        else
            none++;
    }
    free(body);
    printf("  against the simulator's truth at the end: %d buses driving a "
           "trip, %d of them on that trip in shuttle-live, %d on another, "
           "%d on none (layover, deadhead); %d not driving one, %d of them "
           "on no trip under way; %d left out within %d s of a trip's "
           "start or end\n",
           driving, same, other, none, idle, idle_ok, edge, BL_EDGE_S);
}

/* How many stop predictions /debug/predictions lists (one a line, "#"
 * comments aside): what
 * the update latency covers depends on whether the daemon predicts yet. */
static long count_predictions(int port)
{
    char *body = NULL;
    int st = bench_prom_get(port, "/debug/predictions", &body);
    long n = 0;

    if (st != 200 || !body) {
        free(body);
        return -1;
    }
    /* Lines that are neither empty nor a "#" comment. */
    for (const char *p = body; *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
        n += *p != '\n' && *p != '#';
    free(body);
    return n;
}

/* shuttle-live's figures between scrapes A and Z, and the targets. */
static void report_live(const struct bl *bl, pid_t pid,
                        const struct bl_scrape *a, const struct bl_scrape *z,
                        const struct bl_cpu *ca, const struct bl_cpu *cz,
                        int port)
{
    double n = z->update.count - a->update.count;
    double p50 = bench_prom_quantile(&a->update, &z->update, 0.50) * 1000;
    double p99 = bench_prom_quantile(&a->update, &z->update, 0.99) * 1000;
    double bp99 = lat_q(&bl->broker, 0.99);
    double pct = 100.0 * (cz->live - ca->live) / (cz->wall - ca->wall);
    double refreshes = 0, late = 0;
    bool refresh_ok = false;
    long np;

    printf(
        "  shuttle-live: %.0f telemetry messages updated their bus (of %" PRIu64
        " sent, each with that second's fix)",
        n, bl->msgs);
    if (z->have_fixes)
        printf("; %.0f records accepted (of %" PRIu64 " sent), %.0f refused",
               z->fixes - a->fixes, bl->fixes + bl->doors, z->bad - a->bad);
    printf("\n  update latency (fix arrival -> its bus's predictions, "
           "shuttle_live_update_seconds): p50 <= %.1f ms, p99 <= %.1f ms",
           p50, p99);
    if (z->have_update_max)
        printf(", max %.1f ms", z->update_max * 1000);
    printf("\n  ratio to the broker: update p99 / delivery p99 = %.2f; "
           "publish -> predictions p99 about %.1f ms (the two added)\n",
           p99 / bp99, p99 + bp99);
    if (z->have_gap) {
        /* Refreshes that came more than 1 s after the trip's previous one:
         * those counted above the 1 s bucket. */
        refreshes = z->gap.count - a->gap.count;
        for (size_t i = 0; i < z->gap.n && i < a->gap.n; i++)
            if (z->gap.le[i] >= 1.0) {
                late = refreshes - (z->gap.cum[i] - a->gap.cum[i]);
                break;
            }
        refresh_ok = refreshes > 0 && late == 0;
        printf("  refresh: %.0f trip refreshes, %.0f more than 1 s after the "
               "trip's previous one, gap p99 <= %.2f s",
               refreshes, late, bench_prom_quantile(&a->gap, &z->gap, 0.99));
        if (z->have_gap_max)
            printf(", max %.2f s", z->gap_max);
        printf("\n");
    }
    printf("  shuttle-live memory: peak RSS (VmHWM) %.1f MB, RSS now %.1f "
           "MB\n",
           bench_proc_vm_mb(pid, "VmHWM"), bench_proc_vm_mb(pid, "VmRSS"));
    report_vehicles(port);
    np = count_predictions(port);
    printf("  /debug/predictions after the run: %ld lines\n", np);
    printf("targets (issue 10; PERFORMANCE.md, live engine):\n");
    /* Fast at doing nothing is no figure: without predictions the
     * histogram times the intake of a fix only. */
    if (np > 0)
        printf("  a fix updates its bus's predictions within 50 ms p99: %s "
               "(p99 <= %.1f ms)\n",
               met(p99 <= 50.0), p99);
    else
        printf("  a fix updates its bus's predictions within 50 ms p99: not "
               "judged, shuttle-live listed no predictions (its intake of a "
               "fix: p99 <= %.1f ms)\n",
               p99);
    printf("  %d buses at 1 Hz, every fix sent processed: %s (%.0f of %" PRIu64
           " messages)\n",
           bl->nbus, met(n >= (double)bl->msgs), n, bl->msgs);
    if (z->have_gap)
        printf("  every prediction refreshed at least once a second: %s\n",
               met(refresh_ok));
    else
        printf("  every prediction refreshed at least once a second: not "
               "measured (no shuttle_live_refresh_gap_seconds in /metrics)\n");
    printf("  on %ld cores: shuttle-live used %.0f %% of one core\n",
           sysconf(_SC_NPROCESSORS_ONLN), pct);
}

int main(int argc, char **argv)
{
    struct bl *bl = xcalloc(1, sizeof *bl);
    struct bl_scrape s0, s1;
    struct bl_cpu c0, c1;
    struct harness_proc *live = NULL;
    int http_port = -1;
    int64_t spawn_wall_us, spawn_mono_us, s_first, s_meas;
    pid_t live_pid = -1, mq_pid;

    parse(argc, argv, &bl->o);
    /* A daemon that dies mid-request must not take the bench with it. */
    signal(SIGPIPE, SIG_IGN);
    bl->nconn = bl->o.conns;
    mqtt_lib_init();
    print_machine();
    setup(bl);
    mq_pid = harness_pid(harness_mosquitto_proc(bl->mq));

    /* The fake clock: shuttle-live's wall clock reads T0 when it starts;
     * the shim keeps whole seconds, so start just after a second turns
     * and count from that second. */
    while (wall_us() % 1000000 > 50000)
        harness_sleep_ms(1 + (int)((1000000 - wall_us() % 1000000) / 1000));
    spawn_wall_us = wall_us();
    spawn_mono_us = mono_us();
    bl->fake_off_ms = bl->t0_ms - (spawn_wall_us / 1000000) * 1000 +
                      (spawn_wall_us - spawn_mono_us) / 1000;
    if (!bl->o.baseline_only) {
        http_port = harness_free_port();
        live = start_live(bl, http_port, bl->t0_ms / 1000);
        live_pid = harness_pid(live);
        if (harness_wait_for(live_ready, &http_port,
                             BL_LOAD_TIMEOUT_S * 1000) != 0) {
            harness_log_tail(harness_proc_log(live), 30);
            die("shuttle-live was not serving /healthz within %d s",
                BL_LOAD_TIMEOUT_S);
        }
        printf("shuttle-live: ready (/healthz 200) %.1f s after its start\n",
               (double)(mono_us() - spawn_mono_us) / 1e6);
    }

    open_conns(bl);
    for (int i = 0; i < 200; i++) {
        bool all = true;

        for (int k = 0; k <= bl->nconn; k++)
            all = all && bl->conn[k].connected;
        if (all)
            break;
        poll_conns(bl, mono_us() + 50000);
    }
    for (int k = 0; k <= bl->nconn; k++)
        if (!bl->conn[k].connected)
            die("MQTT connections did not come up");
    publish_statuses(bl);

    /* Warm-up (the buses acquire their trips), then the measured run. */
    s_first = fake_ms(bl) / 1000 + 1;
    if ((s_first + bl->o.warmup + bl->o.seconds) * 1000 >
        bl->t0_ms +
            (int64_t)(BL_SLICE_SPARE_S + bl->o.warmup + bl->o.seconds) * 1000)
        die("too late: the replayed window is gone");
    drive(bl, s_first, s_first + bl->o.warmup);
    poll_conns(bl, mono_us() + 200000);
    if (live && scrape(http_port, &s0) != 0)
        die("no shuttle_live_update_seconds histogram in /metrics");
    s_meas = s_first + bl->o.warmup;
    c0 = cpu_now(live_pid, mq_pid);
    bl->measuring = true;
    drive(bl, s_meas, s_meas + bl->o.seconds);
    bl->measuring = false;
    c1 = cpu_now(live_pid, mq_pid);
    /* Let the last fixes arrive and be processed before counting. */
    {
        int64_t until = mono_us() + 1000000;

        while (mono_us() < until)
            poll_conns(bl, until);
    }
    qsort(bl->broker.v, bl->broker.n, sizeof(double), dbl_cmp);
    qsort(bl->lag.v, bl->lag.n, sizeof(double), dbl_cmp);
    report_feed(bl, &c0, &c1);
    if (live) {
        if (!harness_alive(live))
            die("shuttle-live died during the run");
        if (scrape(http_port, &s1) != 0)
            die("no shuttle_live_update_seconds histogram in /metrics");
        report_live(bl, live_pid, &s0, &s1, &c0, &c1, http_port);
        /* The last second whose fixes were sent. */
        report_truth(bl, http_port, s_meas + bl->o.seconds - 1);
        if (harness_stop(live) != 0)
            printf("note: shuttle-live did not exit cleanly on SIGTERM\n");
    } else {
        printf("targets: not judged (--baseline-only)\n");
    }

    for (int i = 0; i <= bl->nconn; i++) {
        mqtt_disconnect(bl->conn[i].m);
        mqtt_free(bl->conn[i].m);
    }
    for (int b = 0; b < bl->nbus; b++) {
        free(bl->bus[b].fx);
        free(bl->bus[b].dr);
        free(bl->bus[b].span);
    }
    free(bl->bus);
    free(bl->broker.v);
    free(bl->lag.v);
    sim_feed_free(bl->sf);
    free(bl);
    mqtt_lib_cleanup();
    harness_cleanup();
    return 0;
}
