/* shuttle-loadgen: many simulated buses publishing telemetry at a set rate,
 * optionally honouring the ack protocol, measuring publish -> ack latency. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqtt.h"
#include "wire.h"

/*
 * One process, one poll() loop, no threads: the publisher connections, and
 * in --ack/--echo mode one subscriber connection. Times kept per record are
 * uint32 tenths of a millisecond since the start (4 bytes per unacked
 * record, enough for 119 hours), so a million records in flight cost 4 MB.
 */

#define LG_TICK 100           /* stored time unit: 100 us */
#define LG_FINE_BINS 10000    /* 0.1 ms bins up to 1 s */
#define LG_COARSE_BINS 100000 /* 10 ms bins up to 1000 s */
#define LG_MAX_CONN 64

/* A latency histogram in LG_TICK units: fine below 1 s, coarse above. */
struct lg_hist {
    uint32_t fine[LG_FINE_BINS];
    uint32_t coarse[LG_COARSE_BINS];
    uint64_t n;
    uint64_t max;
};

struct lg_vehicle {
    uint64_t sent;        /* highest seq published */
    uint64_t acked;       /* highest seq acknowledged (or echoed) */
    uint64_t resend_next; /* next seq to re-send; 0: no re-send queued */
    int64_t progress_us;  /* last ack progress or first unacked send */
    /* Publish time of seq base + i, for the unacked seqs only. */
    uint32_t *pub;
    uint64_t base;
    size_t n, cap;
};

struct loadgen;

struct lg_conn {
    struct loadgen *lg;
    struct mqtt *m;
    int idx;
    bool sub;        /* the subscriber connection (acks or echoed telemetry) */
    int outstanding; /* QoS 1 publishes not yet PUBACKed */
    int64_t retry_us;
};

struct loadgen {
    /* options */
    const char *host;
    int port;
    unsigned nveh;
    double rate; /* records/s in total; 0: as fast as possible */
    unsigned batch;
    double seconds;   /* 0: no time limit */
    uint64_t records; /* 0: no record limit */
    unsigned nconn;
    bool ack, echo;
    int64_t resend_us;
    double wait_s;
    const char *prefix;
    int window;
    unsigned ahead; /* --ack: records a vehicle may have unacknowledged */
    unsigned show_failures;

    struct lg_vehicle *veh;
    struct lg_conn conn[LG_MAX_CONN + 1];
    unsigned rr;       /* next vehicle for new records */
    unsigned *resendq; /* vehicles with a re-send in progress */
    size_t rq_head, rq_len;
    bool *queued;

    int64_t start_us;   /* monotonic: when publishing began */
    int64_t wall0_us;   /* wall clock at start_us */
    int64_t gen_end_us; /* when the last new record went out */
    bool ready;         /* subscriber confirmed (probe came back) */
    bool generating;
    bool closing; /* our own DISCONNECTs are not losses */
    char probe_topic[96];

    uint64_t new_records, new_msgs;
    uint64_t resent_records, resent_msgs;
    uint64_t stale_acks, unknown;
    uint64_t disconnects;
    struct lg_hist *lat_arrival; /* publish -> ack (or echo) arrival */
    struct lg_hist *lat_commit;  /* publish -> ack t_ms (commit stamp) */
};

static volatile sig_atomic_t lg_quit;

static void lg_on_signal(int sig)
{
    lg_quit = sig;
}

static int64_t lg_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t lg_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Now as stored ticks since the start. */
static uint32_t lg_now_tick(const struct loadgen *lg)
{
    return (uint32_t)((lg_mono_us() - lg->start_us) / LG_TICK);
}

static void lg_hist_add(struct lg_hist *h, int64_t ticks)
{
    if (ticks < 0)
        ticks = 0;
    if (ticks < LG_FINE_BINS)
        h->fine[ticks]++;
    else if (ticks / 100 < LG_COARSE_BINS)
        h->coarse[ticks / 100]++;
    else
        h->coarse[LG_COARSE_BINS - 1]++;
    if ((uint64_t)ticks > h->max)
        h->max = (uint64_t)ticks;
    h->n++;
}

/* The q-quantile in milliseconds; NAN when empty. */
static double lg_hist_ms(const struct lg_hist *h, double q)
{
    uint64_t want, seen = 0;

    if (h->n == 0)
        return NAN;
    want = (uint64_t)ceil(q * (double)h->n);
    if (want == 0)
        want = 1;
    for (int i = 0; i < LG_FINE_BINS; i++) {
        seen += h->fine[i];
        if (seen >= want)
            return (i + 0.5) * LG_TICK / 1000.0;
    }
    for (int i = LG_FINE_BINS / 100; i < LG_COARSE_BINS; i++) {
        seen += h->coarse[i];
        if (seen >= want)
            return (i + 0.5) * 100.0 * LG_TICK / 1000.0;
    }
    return (double)h->max * LG_TICK / 1000.0;
}

static void lg_vid(const struct loadgen *lg, unsigned i, char *buf, size_t len)
{
    snprintf(buf, len, "%s%05u", lg->prefix, i + 1);
}

/* Vehicle index of a vehicle id, or -1 when it is not one of ours. */
static long lg_vid_index(const struct loadgen *lg, const char *vid)
{
    size_t pl = strlen(lg->prefix);
    char *end;
    unsigned long n;

    if (strncmp(vid, lg->prefix, pl) != 0 || vid[pl] < '0' || vid[pl] > '9')
        return -1;
    n = strtoul(vid + pl, &end, 10);
    if (*end || n == 0 || n > lg->nveh)
        return -1;
    return (long)n - 1;
}

static int lg_track(const struct loadgen *lg)
{
    return lg->ack || lg->echo;
}

/* Remember when `seq` (just published for the first time) went out. */
static int lg_remember(struct lg_vehicle *v, uint64_t seq, uint32_t tick)
{
    if (v->n == 0)
        v->base = seq;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        uint32_t *p = realloc(v->pub, cap * sizeof *p);

        if (!p)
            return -1;
        v->pub = p;
        v->cap = cap;
    }
    v->pub[v->n++] = tick;
    return 0;
}

/* The vehicle's watermark reached `seq` at `arrival` (ticks); `commit_tick`
 * is the backend's commit stamp in ticks, or -1 when there is none. */
static void lg_acked(struct loadgen *lg, struct lg_vehicle *v, uint64_t seq,
                     int64_t arrival, int64_t commit_tick)
{
    size_t drop;

    if (seq <= v->acked)
        return;
    if (seq > v->sent) {
        /* Retained ack from an earlier run with the same ids: the rows it
         * claims are not ours. */
        lg->stale_acks++;
        return;
    }
    for (uint64_t s = v->acked + 1; s <= seq; s++) {
        if (s < v->base || s - v->base >= v->n)
            continue;
        lg_hist_add(lg->lat_arrival, arrival - v->pub[s - v->base]);
        if (commit_tick >= 0)
            lg_hist_add(lg->lat_commit, commit_tick - v->pub[s - v->base]);
    }
    drop = seq + 1 > v->base ? (size_t)(seq + 1 - v->base) : 0;
    if (drop >= v->n) {
        v->n = 0;
    } else if (drop) {
        memmove(v->pub, v->pub + drop, (v->n - drop) * sizeof *v->pub);
        v->n -= drop;
    }
    v->base = seq + 1;
    v->acked = seq;
    v->progress_us = lg_mono_us();
    /* A re-send below the new ack is pointless. */
    if (v->resend_next && v->resend_next <= seq)
        v->resend_next = seq + 1 <= v->sent ? seq + 1 : 0;
}

static void lg_fill_record(const struct loadgen *lg, unsigned vi, uint64_t seq,
                           uint32_t tick, bool backlog, struct wire_record *r)
{
    /* Every bus drives its own slow line around Geomdan; deterministic, so
     * a re-sent record is the same record. */
    double a = (double)vi * 0.37 + (double)seq * 1e-4;

    wire_position_init(r);
    r->seq = seq;
    /* The publish time is the observation time: fine for a load test, and
     * always inside the backend's validation window. */
    r->t_ms = (lg->wall0_us + (int64_t)tick * LG_TICK) / 1000;
    r->backlog = backlog;
    r->time_source = WIRE_TIME_GPS;
    r->u.pos.lat = 37.59 + 0.02 * sin(a);
    r->u.pos.lon = 126.67 + 0.02 * cos(a);
    r->u.pos.speed = 8.5;
    r->u.pos.track = fmod(a * 57.0, 360.0);
    r->u.pos.hdop = 0.9;
    r->u.pos.fix_mode = 3;
    r->u.pos.sats_used = 9;
}

/* Publish records [first, first + n) of vehicle vi; 0 or -1. */
static int lg_publish(struct loadgen *lg, unsigned vi, uint64_t first,
                      unsigned n, bool resend)
{
    struct lg_vehicle *v = &lg->veh[vi];
    struct lg_conn *c = &lg->conn[vi % lg->nconn];
    struct wire_record recs[WIRE_BATCH_MAX];
    struct wire_batch b;
    char topic[128];
    uint32_t now = lg_now_tick(lg);
    uint8_t *buf;
    size_t len;
    int rc;

    memset(&b, 0, sizeof b);
    lg_vid(lg, vi, b.vehicle_id, sizeof b.vehicle_id);
    b.oldest_held_seq = lg->ack ? v->acked + 1 : 0;
    b.n = n;
    b.records = recs;
    for (unsigned i = 0; i < n; i++) {
        uint64_t seq = first + i;
        uint32_t tick = now;

        if (resend && seq >= v->base && seq - v->base < v->n)
            tick = v->pub[seq - v->base];
        lg_fill_record(lg, vi, seq, tick, resend, &recs[i]);
    }
    if (wire_batch_encode(&b, &buf, &len) != WIRE_OK ||
        wire_topic(topic, sizeof topic, b.vehicle_id, "telemetry") != 0)
        return -1;
    rc = mqtt_publish(c->m, topic, buf, len, 1, false, NULL);
    free(buf);
    if (rc != MQTT_OK)
        return -1;
    c->outstanding++;
    if (resend) {
        lg->resent_records += n;
        lg->resent_msgs++;
        return 0;
    }
    if (v->acked == v->sent)
        v->progress_us = lg_mono_us(); /* the re-send clock starts now */
    for (unsigned i = 0; i < n; i++) {
        if (lg_track(lg) && lg_remember(v, first + i, now) != 0)
            return -1;
    }
    v->sent = first + n - 1;
    lg->new_records += n;
    lg->new_msgs++;
    return 0;
}

static bool lg_can_send(const struct loadgen *lg, unsigned vi)
{
    const struct lg_conn *c = &lg->conn[vi % lg->nconn];

    return mqtt_connected(c->m) && c->outstanding < lg->window;
}

/* Queue a re-send of everything above the ack for vehicles whose ack has
 * not moved for resend_us (what the onboard daemon does). */
static void lg_check_resends(struct loadgen *lg, int64_t now)
{
    for (unsigned i = 0; i < lg->nveh; i++) {
        struct lg_vehicle *v = &lg->veh[i];

        if (v->acked >= v->sent || lg->queued[i] ||
            now - v->progress_us < lg->resend_us)
            continue;
        v->resend_next = v->acked + 1;
        lg->queued[i] = true;
        lg->resendq[(lg->rq_head + lg->rq_len++) % lg->nveh] = i;
    }
}

/* Send queued re-sends first (oldest data first, like the spool), then new
 * records within the rate. Returns the time (monotonic us) worth waking up
 * for the next new message, or INT64_MAX. */
static int64_t lg_pump(struct loadgen *lg, int64_t now)
{
    int budget = 512; /* messages per turn: reading must not starve */

    while (lg->rq_len && budget > 0) {
        unsigned vi = lg->resendq[lg->rq_head];
        struct lg_vehicle *v = &lg->veh[vi];
        uint64_t first = v->resend_next;
        unsigned n;

        /* Like the onboard: re-send no further ahead of the ack than a
         * vehicle may run, or a slow backend is buried in repeats. */
        uint64_t last =
            v->sent < v->acked + lg->ahead ? v->sent : v->acked + lg->ahead;

        if (first == 0 || first > last) {
            v->resend_next = 0;
        } else {
            if (!lg_can_send(lg, vi))
                break;
            n = (unsigned)(last - first + 1 < lg->batch ? last - first + 1
                                                        : lg->batch);
            if (lg_publish(lg, vi, first, n, true) != 0)
                break;
            budget--;
            v->resend_next = first + n <= last ? first + n : 0;
            if (v->resend_next)
                continue;
        }
        /* Done with this vehicle: wait resend_us again before the next. */
        v->progress_us = lg_mono_us();
        lg->queued[vi] = false;
        lg->rq_head = (lg->rq_head + 1) % lg->nveh;
        lg->rq_len--;
    }
    while (lg->generating && budget > 0) {
        double elapsed = (double)(now - lg->start_us) / 1e6;
        unsigned n = lg->batch;
        unsigned vi = lg->rr;

        if ((lg->seconds > 0 && elapsed >= lg->seconds) ||
            (lg->records && lg->new_records >= lg->records)) {
            lg->generating = false;
            lg->gen_end_us = now;
            break;
        }
        if (lg->rate > 0 && (double)lg->new_records >= lg->rate * elapsed)
            return lg->start_us +
                   (int64_t)((double)lg->new_records / lg->rate * 1e6);
        if (lg->records && lg->records - lg->new_records < n)
            n = (unsigned)(lg->records - lg->new_records);
        if (!lg_can_send(lg, vi))
            break;
        /* A bus stops sending new records far ahead of its ack, as the
         * onboard's max_ahead makes it. Wait for it rather than skip it:
         * every bus must get its equal share, in turn. */
        if (lg->ack && lg->veh[vi].sent - lg->veh[vi].acked >= lg->ahead)
            break;
        if (lg_publish(lg, vi, lg->veh[vi].sent + 1, n, false) != 0)
            break;
        lg->rr = (lg->rr + 1) % lg->nveh;
        budget--;
        now = lg_mono_us();
    }
    return budget > 0 ? INT64_MAX : now;
}

static void lg_on_connect(void *arg, bool session_present)
{
    struct lg_conn *c = arg;
    struct loadgen *lg = c->lg;

    c->outstanding = 0;
    if (!c->sub)
        return;
    /* The probe subscription goes last: once a probe comes back, the
     * broker has the data subscription too. */
    mqtt_subscribe(c->m,
                   lg->ack ? "shuttle/v1/+/ack" : "shuttle/v1/+/telemetry", 1);
    mqtt_subscribe(c->m, lg->probe_topic, 0);
}

static void lg_on_disconnect(void *arg, int reason)
{
    struct lg_conn *c = arg;

    c->outstanding = 0;
    if (c->lg->closing)
        return;
    c->lg->disconnects++;
    fprintf(stderr, "shuttle-loadgen: connection %d lost (reason %d)\n", c->idx,
            reason);
}

static void lg_on_publish(void *arg, int mid)
{
    struct lg_conn *c = arg;

    if (c->outstanding > 0)
        c->outstanding--;
}

static void lg_on_message(void *arg, const char *topic, const void *payload,
                          size_t len, bool retained)
{
    struct lg_conn *c = arg;
    struct loadgen *lg = c->lg;
    char vid[WIRE_VID_MAX + 1];
    int64_t arrival = (lg_mono_us() - lg->start_us) / LG_TICK;
    const char *kind;
    long vi;

    if (strcmp(topic, lg->probe_topic) == 0) {
        lg->ready = true;
        return;
    }
    kind = wire_topic_parse(topic, vid);
    if (!kind || (vi = lg_vid_index(lg, vid)) < 0)
        return;
    if (lg->ack && strcmp(kind, "ack") == 0) {
        struct wire_ack a;
        int64_t commit;

        if (wire_ack_decode(payload, len, &a) != WIRE_OK) {
            lg->unknown++;
            return;
        }
        commit = a.t_ms ? (a.t_ms * 1000 - lg->wall0_us) / LG_TICK : -1;
        lg_acked(lg, &lg->veh[vi], a.seq, arrival, commit);
    } else if (lg->echo && strcmp(kind, "telemetry") == 0) {
        struct wire_batch b;
        uint64_t top = 0;

        if (wire_batch_decode(payload, len, &b, NULL, 0) != WIRE_OK) {
            lg->unknown++;
            return;
        }
        for (size_t i = 0; i < b.n; i++)
            if (b.records[i].seq > top)
                top = b.records[i].seq;
        wire_batch_free(&b);
        lg_acked(lg, &lg->veh[vi], top, arrival, -1);
    }
}

static const struct mqtt_callbacks lg_cb = {
    .on_connect = lg_on_connect,
    .on_disconnect = lg_on_disconnect,
    .on_message = lg_on_message,
    .on_publish = lg_on_publish,
};

static bool lg_all_acked(const struct loadgen *lg)
{
    for (unsigned i = 0; i < lg->nveh; i++)
        if (lg->veh[i].acked != lg->veh[i].sent)
            return false;
    return true;
}

static bool lg_all_puback(const struct loadgen *lg)
{
    for (unsigned i = 0; i < lg->nconn; i++)
        if (lg->conn[i].outstanding > 0 || mqtt_want_write(lg->conn[i].m))
            return false;
    return true;
}

static int lg_open(struct loadgen *lg, unsigned idx, bool sub)
{
    struct lg_conn *c = &lg->conn[idx];
    struct mqtt_options o;
    char id[64], err[256];

    snprintf(id, sizeof id, "loadgen-%ld-%s%u", (long)getpid(),
             sub ? "sub" : "pub", idx);
    memset(&o, 0, sizeof o);
    o.client_id = id;
    o.host = lg->host;
    o.port = lg->port;
    o.keepalive_s = 30;
    o.max_inflight = lg->window;
    c->lg = lg;
    c->idx = (int)idx;
    c->sub = sub;
    if (mqtt_new(&o, &lg_cb, c, &c->m, err, sizeof err) != MQTT_OK) {
        fprintf(stderr, "shuttle-loadgen: %s\n", err);
        return -1;
    }
    return 0;
}

/* Drive every connection once through poll(), waking by `wake` at most. */
static void lg_poll(struct loadgen *lg, unsigned nall, int64_t wake)
{
    struct pollfd pfd[LG_MAX_CONN + 1];
    int map[LG_MAX_CONN + 1];
    int64_t now = lg_mono_us();
    int nfds = 0, timeout;
    char err[256];

    for (unsigned i = 0; i < nall; i++) {
        struct lg_conn *c = &lg->conn[i];
        int fd = mqtt_fd(c->m);

        if (fd < 0) {
            if (now >= c->retry_us) {
                if (mqtt_connect(c->m, err, sizeof err) != MQTT_OK) {
                    fprintf(stderr, "shuttle-loadgen: %s\n", err);
                    c->retry_us = now + 1000000;
                }
            }
            fd = mqtt_fd(c->m);
            if (fd < 0)
                continue;
        }
        pfd[nfds].fd = fd;
        pfd[nfds].events = POLLIN | (mqtt_want_write(c->m) ? POLLOUT : 0);
        map[nfds++] = (int)i;
    }
    timeout = wake == INT64_MAX ? 100
              : wake <= now     ? 0
                                : (int)((wake - now + 999) / 1000);
    if (timeout > 100)
        timeout = 100;
    if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
        if (errno != EINTR)
            perror("shuttle-loadgen: poll");
        return;
    }
    for (int k = 0; k < nfds; k++) {
        struct lg_conn *c = &lg->conn[map[k]];

        if (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))
            mqtt_handle_read(c->m);
        if (mqtt_fd(c->m) >= 0 && (pfd[k].revents & POLLOUT))
            mqtt_handle_write(c->m);
    }
}

static void lg_report(struct loadgen *lg, double gen_s, int failed)
{
    double rate = gen_s > 0 ? (double)lg->new_records / gen_s : 0;
    double p50 = lg_hist_ms(lg->lat_arrival, 0.50);
    double p99 = lg_hist_ms(lg->lat_arrival, 0.99);
    double mx = (double)lg->lat_arrival->max * LG_TICK / 1000.0;
    double c50 = lg_hist_ms(lg->lat_commit, 0.50);
    double c99 = lg_hist_ms(lg->lat_commit, 0.99);

    printf("sent       %" PRIu64 " records in %" PRIu64
           " messages, %.3f s: %.0f records/s\n",
           lg->new_records, lg->new_msgs, gen_s, rate);
    if (lg->ack)
        printf("resends    %" PRIu64 " records in %" PRIu64 " messages\n",
               lg->resent_records, lg->resent_msgs);
    if (lg_track(lg)) {
        printf("%-10s %u/%u vehicles complete\n", lg->ack ? "acked" : "echoed",
               lg->nveh - (unsigned)failed, lg->nveh);
        printf("latency    publish -> %s arrival: p50 %.1f ms, p99 %.1f ms, "
               "max %.1f ms (%" PRIu64 " records)\n",
               lg->ack ? "ack" : "echo", p50, p99, mx, lg->lat_arrival->n);
        if (lg->ack)
            printf("latency    publish -> commit stamp (ack t_ms): p50 %.1f "
                   "ms, p99 %.1f ms\n",
                   c50, c99);
    }
    if (lg->stale_acks)
        printf("warning    %" PRIu64 " acks above what was sent (ids reused "
               "from an earlier run? use --prefix)\n",
               lg->stale_acks);
    /* One line for programs (shuttle-bench-ingest) to read. */
    printf("RESULT records=%" PRIu64 " messages=%" PRIu64
           " seconds=%.3f rate=%.0f resends=%" PRIu64 " failed=%d p50=%.2f"
           " p99=%.2f max=%.2f cp50=%.2f cp99=%.2f disconnects=%" PRIu64 "\n",
           lg->new_records, lg->new_msgs, gen_s, rate, lg->resent_records,
           failed, p50, p99, mx, c50, c99, lg->disconnects);
    fflush(stdout);
}

static void lg_usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-loadgen [options]\n"
            "  -p, --port N         broker port (1883)\n"
            "  -H, --host H         broker host (127.0.0.1)\n"
            "  -n, --vehicles N     simulated buses, ids PREFIX00001... "
            "(1000)\n"
            "  -r, --rate R         records/s in total; 0: as fast as "
            "possible (0)\n"
            "  -b, --batch B        records per message (10)\n"
            "  -d, --seconds D      publish for D seconds\n"
            "  -m, --records M      publish M records in total\n"
            "                       (neither -d nor -m: 10 seconds)\n"
            "  -c, --connections C  publishing connections (1)\n"
            "  -a, --ack            honour acks: re-send above the ack after "
            "--resend-ms\n"
            "                       without progress, wait until all acked\n"
            "  -e, --echo           subscribe to the telemetry itself and "
            "measure\n"
            "                       publish -> delivery (the broker floor)\n"
            "      --resend-ms T    re-send timeout in --ack mode (10000)\n"
            "      --ahead N        --ack: most unacknowledged records per "
            "vehicle (50)\n"
            "      --wait-s W       deadline for the final acks (120)\n"
            "      --prefix S       vehicle id prefix (lg-)\n"
            "      --window W       unacknowledged publishes per connection "
            "(1000)\n"
            "      --failures K     list at most K incomplete vehicles "
            "(20)\n"
            "Exit status: 0, or 1 when a vehicle was not completely acked "
            "(echoed).\n");
}

static int lg_parse(struct loadgen *lg, int argc, char **argv)
{
    enum { O_RESEND = 256, O_WAIT, O_PREFIX, O_WINDOW, O_FAIL, O_AHEAD };
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"vehicles", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"seconds", required_argument, NULL, 'd'},
        {"records", required_argument, NULL, 'm'},
        {"connections", required_argument, NULL, 'c'},
        {"ack", no_argument, NULL, 'a'},
        {"echo", no_argument, NULL, 'e'},
        {"resend-ms", required_argument, NULL, O_RESEND},
        {"wait-s", required_argument, NULL, O_WAIT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"window", required_argument, NULL, O_WINDOW},
        {"ahead", required_argument, NULL, O_AHEAD},
        {"failures", required_argument, NULL, O_FAIL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    lg->host = "127.0.0.1";
    lg->port = 1883;
    lg->nveh = 1000;
    lg->batch = 10;
    lg->nconn = 1;
    lg->resend_us = 10000000; /* the onboard default, resend_s 10 */
    lg->wait_s = 120;
    lg->prefix = "lg-";
    lg->window = 1000;
    lg->ahead = 50;
    lg->show_failures = 20;
    while ((ch = getopt_long(argc, argv, "p:H:n:r:b:d:m:c:aeh", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case 'p':
            lg->port = atoi(optarg);
            break;
        case 'H':
            lg->host = optarg;
            break;
        case 'n':
            lg->nveh = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            lg->rate = strtod(optarg, NULL);
            break;
        case 'b':
            lg->batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            lg->seconds = strtod(optarg, NULL);
            break;
        case 'm':
            lg->records = strtoull(optarg, NULL, 10);
            break;
        case 'c':
            lg->nconn = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            lg->ack = true;
            break;
        case 'e':
            lg->echo = true;
            break;
        case O_RESEND:
            lg->resend_us = strtoll(optarg, NULL, 10) * 1000;
            break;
        case O_WAIT:
            lg->wait_s = strtod(optarg, NULL);
            break;
        case O_PREFIX:
            lg->prefix = optarg;
            break;
        case O_AHEAD:
            lg->ahead = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_WINDOW:
            lg->window = atoi(optarg);
            break;
        case O_FAIL:
            lg->show_failures = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'h':
            lg_usage(stdout);
            exit(0);
        default:
            lg_usage(stderr);
            return -1;
        }
    }
    if (lg->nveh < 1 || lg->nveh > 99999 || lg->batch < 1 ||
        lg->batch > WIRE_BATCH_MAX || lg->nconn < 1 ||
        lg->nconn > LG_MAX_CONN || lg->port < 1 || lg->window < 1 ||
        lg->ahead < 1 || lg->rate < 0 || (lg->ack && lg->echo) ||
        lg->resend_us < 100000 || strlen(lg->prefix) + 5 > WIRE_VID_MAX) {
        fprintf(stderr, "shuttle-loadgen: option out of range (vehicles "
                        "1..99999, batch 1..2000, connections 1..64, "
                        "resend-ms >= 100, not both --ack and --echo)\n");
        return -1;
    }
    if (lg->seconds <= 0 && lg->records == 0)
        lg->seconds = 10;
    return 0;
}

int main(int argc, char **argv)
{
    struct loadgen lg;
    unsigned nall;
    int64_t deadline = 0, next_check = 0, next_misc = 0, next_probe = 0;
    int failed = 0;
    double gen_s;

    memset(&lg, 0, sizeof lg);
    if (lg_parse(&lg, argc, argv) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, lg_on_signal);
    signal(SIGTERM, lg_on_signal);

    lg.veh = calloc(lg.nveh, sizeof *lg.veh);
    lg.resendq = calloc(lg.nveh, sizeof *lg.resendq);
    lg.queued = calloc(lg.nveh, sizeof *lg.queued);
    lg.lat_arrival = calloc(1, sizeof *lg.lat_arrival);
    lg.lat_commit = calloc(1, sizeof *lg.lat_commit);
    if (!lg.veh || !lg.resendq || !lg.queued || !lg.lat_arrival ||
        !lg.lat_commit) {
        fprintf(stderr, "shuttle-loadgen: out of memory\n");
        return 2;
    }
    snprintf(lg.probe_topic, sizeof lg.probe_topic, "shuttle-loadgen/%ld/probe",
             (long)getpid());

    mqtt_lib_init();
    nall = lg.nconn + (lg_track(&lg) ? 1 : 0);
    for (unsigned i = 0; i < nall; i++)
        if (lg_open(&lg, i, i == lg.nconn) != 0)
            return 2;
    printf("shuttle-loadgen: %u vehicles (%s%05u...), batch %u, rate %s%.0f,"
           " %u connection(s)%s\n",
           lg.nveh, lg.prefix, 1u, lg.batch, lg.rate > 0 ? "" : "max ", lg.rate,
           lg.nconn,
           lg.ack    ? ", ack mode"
           : lg.echo ? ", echo mode"
                     : "");

    /* Wait for the connections (and the subscriber) before the clock
     * starts: latency and rate are about the steady state. */
    lg.start_us = lg_mono_us();
    while (!lg_quit) {
        bool up = true;
        int64_t now = lg_mono_us();

        for (unsigned i = 0; i < nall; i++)
            up = up && mqtt_connected(lg.conn[i].m);
        if (up && lg_track(&lg) && !lg.ready && now >= next_probe) {
            mqtt_publish(lg.conn[0].m, lg.probe_topic, "p", 1, 0, false, NULL);
            next_probe = now + 200000;
        }
        if (up && (!lg_track(&lg) || lg.ready))
            break;
        if (now - lg.start_us > 15000000) {
            fprintf(stderr,
                    "shuttle-loadgen: broker %s:%d not ready in "
                    "15 s\n",
                    lg.host, lg.port);
            return 2;
        }
        lg_poll(&lg, nall, now + 50000);
    }

    lg.start_us = lg_mono_us();
    lg.wall0_us = lg_wall_us();
    lg.generating = true;
    while (!lg_quit) {
        int64_t now = lg_mono_us();
        int64_t wake;

        if (lg.ack && now >= next_check) {
            lg_check_resends(&lg, now);
            next_check = now + 100000;
        }
        wake = lg_pump(&lg, now);
        /* A bus held back by its ack must still get its re-send check. */
        if (lg.ack && wake > next_check)
            wake = next_check;
        if (!lg.generating) {
            if (deadline == 0)
                deadline = now + (int64_t)(lg.wait_s * 1e6);
            if (lg_track(&lg) ? lg_all_acked(&lg) : lg_all_puback(&lg))
                break;
            if (now >= deadline) {
                fprintf(stderr,
                        "shuttle-loadgen: deadline of %.0f s after "
                        "the last record passed\n",
                        lg.wait_s);
                break;
            }
        }
        if (now >= next_misc) {
            for (unsigned i = 0; i < nall; i++)
                if (mqtt_fd(lg.conn[i].m) >= 0)
                    mqtt_handle_misc(lg.conn[i].m);
            next_misc = now + 1000000;
        }
        lg_poll(&lg, nall, wake);
    }
    if (lg.generating)
        lg.gen_end_us = lg_mono_us();
    gen_s = (double)(lg.gen_end_us - lg.start_us) / 1e6;

    if (lg_track(&lg)) {
        unsigned shown = 0;

        for (unsigned i = 0; i < lg.nveh; i++) {
            const struct lg_vehicle *v = &lg.veh[i];
            char vid[WIRE_VID_MAX + 1];

            if (v->acked == v->sent)
                continue;
            failed++;
            if (shown++ < lg.show_failures) {
                lg_vid(&lg, i, vid, sizeof vid);
                printf("FAIL %s: sent up to %" PRIu64 ", %s %" PRIu64 "\n", vid,
                       v->sent, lg.ack ? "acked" : "echoed", v->acked);
            }
        }
        if (failed > (int)lg.show_failures)
            printf("FAIL ... and %d more vehicles\n",
                   failed - (int)lg.show_failures);
    }
    lg_report(&lg, gen_s, failed);

    lg.closing = true;
    for (unsigned i = 0; i < nall; i++) {
        if (mqtt_fd(lg.conn[i].m) >= 0)
            mqtt_disconnect(lg.conn[i].m);
        mqtt_free(lg.conn[i].m);
    }
    mqtt_lib_cleanup();
    for (unsigned i = 0; i < lg.nveh; i++)
        free(lg.veh[i].pub);
    free(lg.veh);
    free(lg.resendq);
    free(lg.queued);
    free(lg.lat_arrival);
    free(lg.lat_commit);
    return failed || lg_quit ? 1 : 0;
}
