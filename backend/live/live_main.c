/* shuttle-live: live telemetry from MQTT, the day's timetable and the
 * past days' visits from PostgreSQL, one poll loop; tracking, prediction,
 * history and self-audit come from shuttle_live (live_track, live_predict,
 * live_learn, live_audit, live_sink), the periodic rebuild of the derived
 * tables runs here in a child process. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "hash.h"
#include "http.h"
#include "job.h"
#include "live_audit.h"
#include "live_hist.h"
#include "live_learn.h"
#include "live_pg.h"
#include "live_predict.h"
#include "live_shapedb.h"
#include "live_sink.h"
#include "live_track.h"
#include "log.h"
#include "metrics.h"
#include "mqtt.h"
#include "proc.h"
#include "svcday.h"
#include "trips.h"
#include "trips_db.h"
#include "wire.h"

struct live_conf {
    char *database;
    char *writer_database;
    char *mqtt_host;
    long long mqtt_port;
    char *mqtt_client_id;
    long long mqtt_keepalive;
    char *mqtt_user;
    char *mqtt_password;
    char *mqtt_cafile;
    char *mqtt_certfile;
    char *mqtt_keyfile;
    char *telemetry_topic;
    char *status_topic;
    long long instance;
    long long instances;
    long long rebuild_interval_s;
    long long history_days;
    long long midtrip;
    char *http_listen;
    long long http_port;
    long long verbose;
};

#define OPT(name, type, field, def, lo, hi, help)                              \
    {                                                                          \
        name, type, offsetof(struct live_conf, field), def, lo, hi, 0, help    \
    }

static const struct conf_option live_options[] = {
    OPT("database", CONF_STRING, database, "dbname=shuttle", 0, 0,
        "libpq connection string for reading (a shuttle_read member): "
        "timetable, history, today's raw records"),
    OPT("writer_database", CONF_STRING, writer_database, NULL, 0, 0,
        "connection string that may write the derived tables and "
        "eta_samples (a shuttle_live member; default: database)"),
    OPT("mqtt_host", CONF_STRING, mqtt_host, "127.0.0.1", 0, 0,
        "MQTT broker host"),
    OPT("mqtt_port", CONF_INT, mqtt_port, "1883", 1, 65535,
        "MQTT broker port (8883 for TLS)"),
    OPT("mqtt_client_id", CONF_STRING, mqtt_client_id, NULL, 0, 0,
        "client id (default shuttle-live-INSTANCE); a clean session: state "
        "comes back from the database, not the broker"),
    OPT("mqtt_keepalive", CONF_INT, mqtt_keepalive, "30", 5, 3600,
        "MQTT keepalive in seconds"),
    OPT("mqtt_user", CONF_STRING, mqtt_user, NULL, 0, 0,
        "MQTT user name (none: anonymous)"),
    OPT("mqtt_password_file", CONF_SECRET, mqtt_password, NULL, 0, 0,
        "file holding the MQTT password; must be mode 0600 or stricter"),
    OPT("mqtt_cafile", CONF_STRING, mqtt_cafile, NULL, 0, 0,
        "CA certificate: set it to connect over TLS"),
    OPT("mqtt_certfile", CONF_STRING, mqtt_certfile, NULL, 0, 0,
        "client certificate for TLS (optional)"),
    OPT("mqtt_keyfile", CONF_STRING, mqtt_keyfile, NULL, 0, 0,
        "key of the client certificate"),
    OPT("telemetry_topic", CONF_STRING, telemetry_topic,
        "shuttle/v1/+/telemetry", 0, 0, "subscription for telemetry"),
    OPT("status_topic", CONF_STRING, status_topic, "shuttle/v1/+/status", 0, 0,
        "subscription for bus status reports (retained)"),
    OPT("instance", CONF_INT, instance, "0", 0, 1023,
        "this instance owns the vehicles whose FNV-1a hash of the id mod "
        "instances is this number"),
    OPT("instances", CONF_INT, instances, "1", 1, 1024,
        "how many shuttle-live instances share the fleet"),
    OPT("rebuild_interval_s", CONF_INT, rebuild_interval_s, "60", 0, 86400,
        "rebuild today's stop visits, runs and ridership this often, and "
        "yesterday's once after the day turns (0: never; then run "
        "shuttle-backend --rebuild DATE from cron; only instance 0 rebuilds)"),
    OPT("midtrip_acquire", CONF_INT, midtrip, "0", 0, 1,
        "1: a bus just heard between stops takes the trip whose line it "
        "drives at a time that fits (off: it is placed at a trip's first "
        "stops; after a restart today's stored fixes are replayed)"),
    OPT("history_days", CONF_INT, history_days, "28", 0, 3650,
        "past service days of stop visits the running-time history learns "
        "from, read at start and at each day turn (0: timetable only)"),
    OPT("http_listen", CONF_STRING, http_listen, "127.0.0.1", 0, 0,
        "address serving /metrics, /healthz and /debug/ (none: no HTTP "
        "server)"),
    OPT("http_port", CONF_INT, http_port, "9465", 0, 65535,
        "port of the HTTP server (0: none)"),
    OPT("log_verbose", CONF_INT, verbose, "0", 0, 2,
        "log level: 0 info, 1 debug, 2 more"),
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    quit = sig;
}

/* Only there so that a child's exit interrupts poll(); the loop reaps. */
static void on_child(int sig)
{
    (void)sig;
}

/* Why a message or record was not used: the labels of
 * shuttle_live_rejected_total. */
enum live_reason {
    LIVE_R_TOPIC,   /* topic not shuttle/v1/<vid>/<kind> */
    LIVE_R_DECODE,  /* not a TelemetryBatch / Status */
    LIVE_R_VEHICLE, /* vehicle id bad or not the topic's */
    LIVE_R_RECORD,  /* a record outside the rule set */
    LIVE_R_STATUS,  /* a status outside the rule set */
    LIVE_R_COUNT,
};

static const char *const live_reason_names[LIVE_R_COUNT] = {
    "topic", "decode", "vehicle", "record", "status",
};

/* What the loop knows of an owned bus until the tracker takes over. */
struct live_bus {
    char id[WIRE_VID_MAX + 1];
    int64_t fix_ms, seen_ms; /* newest fix time; wall clock heard */
    double lat, lon, speed;
    int load; /* after the last count; -1 unknown */
    bool online;
    uint64_t fixes, counts;
};

#define LIVE_BUSES_MAX 100000
/* How far back a restart looks for a bus's state: a bus not heard from in
 * two hours is not on the road. */
#define LIVE_RESTORE_S (2 * 3600)
#define LIVE_DB_CONNECT_TIMEOUT_MS 15000
/* The engine's tick: every prediction must be refreshed at least once a
 * second, also for a bus whose fixes stopped (a GPS dropout), where the
 * tick alone refreshes it. A tick due at exactly 1 s comes a few ms late
 * with the loop's own work, so it is due 100 ms early. */
#define LIVE_TICK_MS 900
/* A trip no bus ran stays listed (scheduled, or canceled) this long after
 * its scheduled end: riders looking for it see what became of it. */
#define LIVE_UNSERVED_KEEP_MS (30 * 60 * 1000LL)

/* Loading phases of the day's model, in order. */
enum live_load {
    LIVE_LOAD_IDLE,  /* nothing asked yet (no database) */
    LIVE_LOAD_ZONE,  /* shuttle_service_tz() asked */
    LIVE_LOAD_FEED,  /* the timetable's queries out */
    LIVE_LOAD_READY, /* the day's model is loaded */
};

struct live {
    struct live_conf conf;
    char client_id[128];
    struct mqtt *mqtt;
    struct live_pg *pg;
    struct http *http;
    int64_t mqtt_retry_ms, mqtt_backoff_ms;
    int64_t db_retry_ms, db_backoff_ms, db_connect_started_ms;

    /* The day's model. */
    enum live_load load;
    struct svcday svc;
    bool svc_ok;
    char day[CLOCK_TEXT_MAX]; /* the service day the feed is for */
    int32_t day_n;            /* the same, as svcday counts days */
    struct trips_feed feed;
    bool feed_ok;
    /* The timetable's first answers, kept until the stop times arrive. */
    PGresult *stops_result, *shape_points, *shape_trips;
    struct live_shapedb shapes; /* of `feed`; empty: straight lines */
    char load_err[256];
    uint64_t loads, load_failures;
    /* The engine over the feed: its shapes (straight lines between stops
     * for a trip without one), an empty history (timetable fallback)
     * until the past days' visits are read (learn), then theirs. */
    struct live_track *track;
    struct live_hist *hist;
    struct live_predict *pred;
    struct live_audit *audit;
    struct live_learn *learn;  /* reading the history; NULL none */
    struct live_hist *pending; /* read, its statistics being computed */
    /* The 80 % interval learnt from the past days' own scored samples
     * (eta_samples), for the predictor over the history. */
    struct live_predict_calib calib;
    uint64_t calib_samples;
    int pending_pos; /* the next segment position to compute */
    bool learnt;     /* hist holds the past days */
    int64_t learn_retry_ms, learn_started_ms; /* monotonic */
    struct live_learn_counts learnt_counts;
    double learn_seconds, learn_finish_s;
    uint64_t learn_failures;
    /* Today's tracker events while the history is read: replayed into
     * the predictor that takes it over. */
    struct live_event *evlog;
    size_t nevlog, capevlog;
    bool evlog_lost; /* out of memory: the replay misses some */

    /* The self-audit's writer: its own connection (writer_database). */
    struct live_pg *wpg;
    struct live_sink *sink;
    int64_t wdb_retry_ms, wdb_backoff_ms, wdb_connect_started_ms;
    uint64_t audit_unnamed; /* samples without a vehicle (not written) */
    uint64_t fix_results[LIVE_TRACK_NOMEM + 1];
    /* Per trip: its newest prediction (points into pred) and when it was
     * made (monotonic ms, 0 never). */
    const struct live_trip_pred **last;
    int64_t *last_mono;
    /* Per trip: a bus has left one of its stops today, so its listing
     * is the bus's (live_refresh), never the timetable's. */
    unsigned char *served;

    /* The periodic rebuild. */
    struct job rebuild;
    int64_t next_rebuild_ms;
    char rebuilt_day[CLOCK_TEXT_MAX];
    char rebuild_prev[CLOCK_TEXT_MAX], rebuild_today[CLOCK_TEXT_MAX];
    uint64_t rebuilds, rebuild_failures;

    /* Owned buses, kept sorted by id. */
    struct live_bus *buses;
    size_t nbuses, capbuses;

    uint64_t messages, records, statuses, not_owned, stale_fixes;
    uint64_t rejected[LIVE_R_COUNT];
    struct metrics_hist update_seconds, refresh_gap;
};

/* -------------------------------------------------------------- owners */

/* Whether this instance owns `vid`: FNV-1a of the id, mod instances. */
static bool live_owns(const struct live *l, const char *vid)
{
    return hash_fnv1a_str(vid) % (uint64_t)l->conf.instances ==
           (uint64_t)l->conf.instance;
}

static int live_bus_cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_bus *)a)->id,
                  ((const struct live_bus *)b)->id);
}

/* The owned bus `vid`, added when new; NULL when the table is full. */
static struct live_bus *live_bus(struct live *l, const char *vid)
{
    struct live_bus key, *b;
    size_t at;

    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "%s", vid);
    b = bsearch(&key, l->buses, l->nbuses, sizeof *b, live_bus_cmp);
    if (b)
        return b;
    if (l->nbuses == LIVE_BUSES_MAX)
        return NULL;
    if (l->nbuses == l->capbuses) {
        size_t cap = l->capbuses ? l->capbuses * 2 : 64;
        struct live_bus *n = realloc(l->buses, cap * sizeof *n);

        if (!n)
            return NULL;
        l->buses = n;
        l->capbuses = cap;
    }
    for (at = 0; at < l->nbuses && strcmp(l->buses[at].id, vid) < 0; at++)
        ;
    memmove(&l->buses[at + 1], &l->buses[at],
            (l->nbuses - at) * sizeof *l->buses);
    l->nbuses++;
    b = &l->buses[at];
    *b = key;
    b->fix_ms = -1;
    b->load = -1;
    return b;
}

/* ------------------------------------------------------------ messages */

static void live_reject(struct live *l, enum live_reason r, const char *topic,
                        const char *why)
{
    l->rejected[r]++;
    log_debug("refused on %s: %s: %s", topic, live_reason_names[r], why);
}

static void live_engine_free(struct live *l)
{
    live_learn_free(l->learn);
    live_hist_free(l->pending);
    l->pending = NULL;
    live_audit_free(l->audit);
    live_predict_free(l->pred);
    live_track_free(l->track);
    live_hist_free(l->hist);
    free(l->last);
    free(l->last_mono);
    free(l->evlog);
    l->learn = NULL;
    l->audit = NULL;
    free(l->served);
    l->pred = NULL;
    l->track = NULL;
    l->hist = NULL;
    l->last = NULL;
    l->last_mono = NULL;
    l->evlog = NULL;
    l->nevlog = l->capevlog = 0;
    l->evlog_lost = false;
    l->learnt = false;
    l->served = NULL;
}

/* Keep TP as its trip's newest prediction, observe the refresh gap, and
 * let the audit sample it. */
static void live_keep(struct live *l, const struct live_trip_pred *tp,
                      int64_t now_ms)
{
    int64_t now = clock_mono_ms();

    if (!tp || !l->last || tp->trip < 0 || (size_t)tp->trip >= l->feed.ntrips)
        return;
    if (l->last_mono[tp->trip] > 0)
        metrics_hist_observe(&l->refresh_gap,
                             (double)(now - l->last_mono[tp->trip]) / 1e3);
    l->last_mono[tp->trip] = now;
    l->last[tp->trip] = tp;
    if (l->audit &&
        live_audit_predictions(l->audit, tp, now_ms) != LIVE_AUDIT_OK)
        log_debug("audit: out of memory sampling trip %s",
                  l->feed.trips[tp->trip].id);
}

/* Refresh vehicle VI's trip and the next of its block. */
static void live_refresh(struct live *l, int vi, int64_t now_ms)
{
    const struct live_trip_pred *tp, *next = NULL;

    tp = live_predict_vehicle(
        l->pred, vi, live_track_vehicle(l->track, (size_t)vi), now_ms, &next);
    live_keep(l, tp, now_ms);
    live_keep(l, next, now_ms);
}

/* A scored sample into the writer's queue, with the ids eta_samples
 * keeps: the bus that was predicted (or, failing that, the one that
 * came). */
static void live_audit_push(struct live *l, const struct live_audit_sample *x,
                            int ev_vehicle)
{
    const struct trips_trip *tr = &l->feed.trips[x->trip];
    int vi = x->vehicle >= 0 ? x->vehicle : ev_vehicle;
    const struct live_vehicle *v =
        vi >= 0 ? live_track_vehicle(l->track, (size_t)vi) : NULL;
    struct live_sink_row r;

    if (!v || !l->sink) {
        l->audit_unnamed++;
        return;
    }
    memset(&r, 0, sizeof r);
    r.service_day = l->day_n;
    snprintf(r.vehicle_id, sizeof r.vehicle_id, "%s", v->id);
    snprintf(r.trip_id, sizeof r.trip_id, "%s", tr->id);
    snprintf(r.route_id, sizeof r.route_id, "%s", tr->route_id);
    snprintf(r.stop_id, sizeof r.stop_id, "%s", l->feed.stops[x->stop].id);
    r.stop_sequence = l->feed.st[tr->first + (size_t)x->pos].sequence;
    r.horizon_s = x->horizon_s;
    r.made_ms = x->made_ms;
    r.pred_ms = x->pred_ms;
    r.lo_ms = x->lo_ms;
    r.hi_ms = x->hi_ms;
    r.actual_ms = x->actual_ms;
    r.accurate = x->accurate;
    r.covered = x->covered;
    live_sink_push(l->sink, &r);
}

/* Until the history is in (read, or tried again after a failure), today's
 * events are kept for the predictor that will take it over; at most
 * LIVE_EVLOG_MAX (a day of 1,000 buses is ~500,000). */
#define LIVE_EVLOG_MAX 2000000

static void live_evlog_add(struct live *l, const struct live_event *ev)
{
    if (l->nevlog == LIVE_EVLOG_MAX) {
        l->evlog_lost = true;
        return;
    }
    if (l->nevlog == l->capevlog) {
        size_t cap = l->capevlog ? l->capevlog * 2 : 1024;
        struct live_event *n = realloc(l->evlog, cap * sizeof *n);

        if (!n) {
            l->evlog_lost = true;
            return;
        }
        l->evlog = n;
        l->capevlog = cap;
    }
    l->evlog[l->nevlog++] = *ev;
}

static void live_on_event(void *arg, const struct live_event *ev)
{
    struct live *l = arg;
    struct live_audit_sample done[LIVE_AUDIT_NHORIZONS];
    size_t n = 0;

    if (l->pred)
        live_predict_event(l->pred, ev);
    if (l->served && ev->trip >= 0 && (size_t)ev->trip < l->feed.ntrips &&
        ev->type == LIVE_EV_DEPART)
        l->served[ev->trip] = 1;
    /* A finished trip is no longer listed: its last refresh, made before
     * the bus reached the end, would show its last stop ahead for ever. */
    if (l->served && ev->trip >= 0 && (size_t)ev->trip < l->feed.ntrips &&
        ev->type == LIVE_EV_TRIP_END) {
        l->served[ev->trip] = 1;
        l->last[ev->trip] = NULL;
    }
    if (!l->learnt && l->conf.history_days > 0)
        live_evlog_add(l, ev);
    if (!l->audit || live_audit_event(l->audit, ev, done, LIVE_AUDIT_NHORIZONS,
                                      &n) != LIVE_AUDIT_OK)
        return;
    for (size_t i = 0; i < n; i++)
        live_audit_push(l, &done[i], ev->vehicle);
}

/* The history could not be had: the timetable goes on, a new read
 * after 60 s (today's events are still kept). */
static void live_learn_failed(struct live *l, const char *err)
{
    l->learn_failures++;
    l->learn_retry_ms = clock_mono_ms() + 60000;
    log_warnx("reading the history of the past %lld days: %s; running on "
              "the timetable, trying again in 60 s",
              l->conf.history_days, err);
}

/* Every row of the history is read: its statistics are computed in
 * steps (live_learn_advance), then it takes over. */
static void live_on_learnt(void *arg, struct live_learn *ln, const char *err)
{
    struct live *l = arg;

    l->learn = NULL;
    if (!err) {
        live_learn_counts(ln, &l->learnt_counts);
        l->pending = live_learn_detach(ln);
        l->pending_pos = 0;
        l->learn_finish_s = 0;
    }
    live_learn_free(ln);
    if (err)
        live_learn_failed(l, err);
}

/* The history's statistics, about 10 ms of them per call (one segment
 * position at least), so that the loop answers meanwhile; once all are
 * done a predictor over it takes over, today's events replayed into it
 * (its evidence is a ratio to the history, so it is learnt again rather
 * than carried over). */
static void live_learn_advance(struct live *l)
{
    int64_t t0 = clock_mono_us();
    int n = live_hist_nsegments(l->pending);
    struct live_predict_params pp;
    struct live_predict *p;

    while (l->pending_pos < n) {
        if (live_hist_finish_range(l->pending, l->pending_pos, 1) !=
            LIVE_HIST_OK) {
            live_hist_free(l->pending);
            l->pending = NULL;
            live_learn_failed(l, "out of memory");
            return;
        }
        l->pending_pos++;
        if (clock_mono_us() - t0 >= 10000)
            break;
    }
    l->learn_finish_s += (double)(clock_mono_us() - t0) / 1e6;
    if (l->pending_pos < n)
        return;
    live_predict_params_default(&pp);
    pp.cal = l->calib;
    if (!(p = live_predict_new(&l->feed, l->pending,
                               live_learn_day_type(l->day_n),
                               LIVE_METHOD_SHUTTLE, &pp))) {
        live_hist_free(l->pending);
        l->pending = NULL;
        live_learn_failed(l, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->nevlog; i++)
        live_predict_event(p, &l->evlog[i]);
    if (l->evlog_lost)
        log_warnx("history: some of today's events were lost (out of "
                  "memory); predictions learn them again as buses go");
    live_predict_free(l->pred);
    live_hist_free(l->hist);
    l->pred = p;
    l->hist = l->pending;
    l->pending = NULL;
    l->learnt = true;
    memset(l->last, 0, l->feed.ntrips * sizeof *l->last);
    l->learn_seconds = (double)(clock_mono_ms() - l->learn_started_ms) / 1e3;
    log_info("history: %zu visits of %d days learnt (%zu rows, %zu not on "
             "today's trips) in %.2f s (longest chunk %.1f ms, statistics "
             "%.1f ms in steps of 10 ms); %zu events of today replayed",
             l->learnt_counts.visits, l->learnt_counts.days,
             l->learnt_counts.rows, l->learnt_counts.skipped, l->learn_seconds,
             l->learnt_counts.chunk_max_s * 1e3, l->learn_finish_s * 1e3,
             l->nevlog);
    free(l->evlog);
    l->evlog = NULL;
    l->nevlog = l->capevlog = 0;
    {
        size_t nv = live_track_nvehicles(l->track);

        for (size_t i = 0; i < nv; i++)
            live_refresh(l, (int)i, clock_wall_ms());
    }
}

/* Start reading the past days (history_days > 0), once the engine runs
 * and the read connection is up. */
/* The error quantiles per audit horizon of the past days' scored
 * samples: what the predictor over the history calibrates its interval
 * with (live_predict_calib). Too few samples leave a horizon out. */
static const char *const live_sql_calib =
    "SELECT horizon_s, count(*),"
    " percentile_disc(0.1) WITHIN GROUP"
    "  (ORDER BY extract(epoch FROM actual - predicted)),"
    " percentile_disc(0.9) WITHIN GROUP"
    "  (ORDER BY extract(epoch FROM actual - predicted))"
    " FROM eta_samples"
    " WHERE service_day >= $1::date - $2::int AND service_day < $1::date"
    " GROUP BY horizon_s";

static void live_on_calib(void *arg, const PGresult *r, const char *err)
{
    static const int hz[LIVE_AUDIT_NHORIZONS] = LIVE_AUDIT_HORIZONS_S;
    struct live *l = arg;

    memset(&l->calib, 0, sizeof l->calib);
    l->calib_samples = 0;
    if (!r || PQnfields(r) != 4) {
        log_warnx("interval calibration from eta_samples: %s; the "
                  "history's own spread is used",
                  err ? err : "wrong columns");
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int h = atoi(PQgetvalue(r, i, 0));
        long n = atol(PQgetvalue(r, i, 1));

        for (int b = 0; b < LIVE_PREDICT_NBANDS; b++)
            if (hz[b] == h && n >= LIVE_PREDICT_CALIB_MIN) {
                l->calib.n[b] = (int)n;
                l->calib.lead_s[b] = h;
                l->calib.q10_s[b] = strtod(PQgetvalue(r, i, 2), NULL);
                l->calib.q90_s[b] = strtod(PQgetvalue(r, i, 3), NULL);
                l->calib_samples += (uint64_t)n;
            }
    }
}

static void live_learn_begin(struct live *l)
{
    char days[16];
    const char *cp[2] = {l->day, days};

    if (l->conf.history_days <= 0 || !l->pred || l->learnt || l->learn ||
        l->pending || !live_pg_ready(l->pg) ||
        clock_mono_ms() < l->learn_retry_ms)
        return;
    /* Asked first on the same connection: answered before the history. */
    snprintf(days, sizeof days, "%lld", l->conf.history_days);
    if (live_pg_query(l->pg, live_sql_calib, 2, cp, live_on_calib, l) !=
        LIVE_PG_OK)
        log_warnx("interval calibration: out of memory");
    l->learn = live_learn_new(&l->feed, &l->svc);
    if (!l->learn ||
        live_learn_start(l->learn, l->pg, l->day, (int)l->conf.history_days,
                         live_on_learnt, l) != LIVE_LEARN_OK) {
        live_learn_free(l->learn);
        l->learn = NULL;
        l->learn_failures++;
        l->learn_retry_ms = clock_mono_ms() + 60000;
        log_warnx("history: out of memory; trying again in 60 s");
        return;
    }
    l->learn_started_ms = clock_mono_ms();
}

/* Tracker and predictor for the loaded feed, recreated on every load;
 * SH (may be NULL: no shapes) is read during the call only. */
static void live_engine_new(struct live *l)
{
    struct trips_params tp;
    char err[256];

    live_engine_free(l);
    l->learn_retry_ms = 0;
    memset(&l->learnt_counts, 0, sizeof l->learnt_counts);
    trips_params_default(&tp);
    if (live_track_new(&l->feed, &l->shapes.view, &tp, live_on_event, l,
                       &l->track, err, sizeof err) != LIVE_TRACK_OK) {
        log_warnx("tracker: %s", err);
        l->track = NULL;
        return;
    }
    live_track_set_midtrip(l->track, l->conf.midtrip != 0);
    if (!(l->hist = live_hist_new(&l->feed)) ||
        live_hist_finish(l->hist) != LIVE_HIST_OK ||
        !(l->pred =
              live_predict_new(&l->feed, l->hist, live_learn_day_type(l->day_n),
                               LIVE_METHOD_SHUTTLE, NULL)) ||
        live_audit_new(&l->feed, &l->audit) != LIVE_AUDIT_OK) {
        log_warnx("predictor: out of memory");
        live_engine_free(l);
        return;
    }
    l->last = calloc(l->feed.ntrips ? l->feed.ntrips : 1, sizeof *l->last);
    l->last_mono =
        calloc(l->feed.ntrips ? l->feed.ntrips : 1, sizeof *l->last_mono);
    l->served = calloc(l->feed.ntrips ? l->feed.ntrips : 1, 1);
    if (!l->last || !l->last_mono || !l->served) {
        log_warnx("predictor: out of memory");
        live_engine_free(l);
        return;
    }
    live_learn_begin(l);
}

/* The trips no bus is on, nor coming to as the next of its block (none
 * refreshed since TICK_MONO), and none has driven today: the timetable
 * (SCHEDULED), or CANCELED once the tracker declared them missed, until
 * LIVE_UNSERVED_KEEP_MS after their scheduled end. A trip a bus has driven
 * keeps what the bus said of it. Each is a copy of its stop times, so
 * this costs a pass over today's remaining stop times a tick. */
static void live_unserved(struct live *l, int64_t now, int64_t tick_mono)
{
    for (size_t i = 0; i < l->feed.ntrips; i++) {
        const struct trips_trip *tr = &l->feed.trips[i];
        int64_t end;

        if (l->served[i] || l->last_mono[i] >= tick_mono || tr->n == 0)
            continue;
        end = trips_sched_ms(&l->feed, l->feed.st[tr->first + tr->n - 1].arr_s);
        if (now - end > LIVE_UNSERVED_KEEP_MS) {
            l->last[i] = NULL;
            continue;
        }
        live_keep(l, live_predict_trip(l->pred, (int)i, now), now);
    }
}

/* Once a second: time passes for the tracker, every bus's predictions are
 * refreshed, then the trips without a bus. */
static void live_engine_tick(struct live *l)
{
    int64_t now = clock_wall_ms(), tick_mono = clock_mono_ms();
    size_t n;

    if (!l->track || !l->pred)
        return;
    live_track_tick(l->track, now);
    n = live_track_nvehicles(l->track);
    for (size_t i = 0; i < n; i++)
        live_refresh(l, (int)i, now);
    live_unserved(l, now, tick_mono);
}

/* A fix through the tracker, then that bus's predictions refreshed. */
static void live_engine_fix(struct live *l, const char *vid, int64_t t_ms,
                            double lat, double lon, double speed)
{
    struct trips_fix x = {t_ms, lat, lon, speed};
    enum live_track_res res;
    int vi;

    if (!l->track)
        return;
    res = live_track_fix(l->track, vid, &x, clock_wall_ms());
    l->fix_results[res]++;
    if (res == LIVE_TRACK_USED && l->pred &&
        (vi = live_track_find(l->track, vid)) >= 0) {
        live_refresh(l, vi, clock_wall_ms());
    }
}

static void live_engine_door(struct live *l, const char *vid,
                             const struct wire_record *r)
{
    struct trips_door d;

    if (!l->track)
        return;
    d.t_ms = r->t_ms;
    d.open_ms = r->u.count.door_open_ms;
    d.close_ms = r->u.count.door_close_ms;
    d.lat = r->u.count.lat;
    d.lon = r->u.count.lon;
    d.boarded = (int)r->u.count.boarded;
    d.alighted = (int)r->u.count.alighted;
    d.load_after = r->u.count.load_after;
    d.visit = -1;
    (void)live_track_door(l->track, vid, &d, clock_wall_ms());
}

/* One valid record of an owned bus. Fixes older than the newest are
 * ignored (a re-sent backlog): the tracker goes forward only. */
static void live_record(struct live *l, struct live_bus *b,
                        const struct wire_record *r)
{
    if (r->kind == WIRE_POSITION) {
        if (r->t_ms <= b->fix_ms) {
            l->stale_fixes++;
            return;
        }
        b->fix_ms = r->t_ms;
        b->lat = r->u.pos.lat;
        b->lon = r->u.pos.lon;
        b->speed = r->u.pos.speed;
        b->fixes++;
        live_engine_fix(l, b->id, r->t_ms, b->lat, b->lon, b->speed);
    } else {
        live_engine_door(l, b->id, r);
        if (r->u.count.load_after >= 0)
            b->load = r->u.count.load_after;
        b->counts++;
    }
}

static void live_telemetry(struct live *l, const char *topic, const char *vid,
                           const void *payload, size_t len, int64_t t0_us)
{
    struct wire_batch batch;
    struct live_bus *b;
    char why[128];
    int64_t now = clock_wall_ms();

    if (wire_batch_decode(payload, len, &batch, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_DECODE, topic, why);
        return;
    }
    if (wire_batch_validate_header(&batch, vid, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_VEHICLE, topic, why);
        wire_batch_free(&batch);
        return;
    }
    b = live_bus(l, vid);
    if (!b) {
        live_reject(l, LIVE_R_VEHICLE, topic, "vehicle table full");
        wire_batch_free(&batch);
        return;
    }
    b->seen_ms = now;
    for (size_t i = 0; i < batch.n; i++) {
        if (wire_record_validate(&batch.records[i], now, NULL, why,
                                 sizeof why) != WIRE_OK) {
            live_reject(l, LIVE_R_RECORD, topic, why);
            continue;
        }
        l->records++;
        live_record(l, b, &batch.records[i]);
    }
    wire_batch_free(&batch);
    metrics_hist_observe(&l->update_seconds,
                         (double)(clock_mono_us() - t0_us) / 1e6);
}

static void live_status(struct live *l, const char *topic, const char *vid,
                        const void *payload, size_t len)
{
    struct wire_status s;
    struct live_bus *b;
    char why[128];

    if (wire_status_decode(payload, len, &s) != WIRE_OK) {
        live_reject(l, LIVE_R_DECODE, topic, "not a Status");
        return;
    }
    if (wire_status_validate(&s, vid, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_STATUS, topic, why);
        return;
    }
    l->statuses++;
    if ((b = live_bus(l, vid)) != NULL)
        b->online = s.state == WIRE_ONLINE;
}

static void live_on_message(void *arg, const char *topic, const void *payload,
                            size_t len, bool retained)
{
    struct live *l = arg;
    int64_t t0 = clock_mono_us();
    char vid[WIRE_VID_MAX + 1];
    const char *kind = wire_topic_parse(topic, vid);

    (void)retained;
    l->messages++;
    if (!kind) {
        live_reject(l, LIVE_R_TOPIC, topic, "not shuttle/v1/<vid>/<kind>");
        return;
    }
    if (!live_owns(l, vid)) {
        l->not_owned++;
        return;
    }
    if (len > WIRE_PAYLOAD_MAX) {
        live_reject(l, LIVE_R_DECODE, topic, "payload too large");
        return;
    }
    if (strcmp(kind, "telemetry") == 0)
        live_telemetry(l, topic, vid, payload, len, t0);
    else if (strcmp(kind, "status") == 0)
        live_status(l, topic, vid, payload, len);
    else
        live_reject(l, LIVE_R_TOPIC, topic, "not telemetry or status");
}

static void live_on_connect(void *arg, bool session_present)
{
    struct live *l = arg;

    (void)session_present;
    log_info("connected to broker %s:%lld as %s", l->conf.mqtt_host,
             l->conf.mqtt_port, l->client_id);
    l->mqtt_backoff_ms = 0;
    /* QoS 0: a live view wants the newest fix, not a redelivered one. */
    if (mqtt_subscribe(l->mqtt, l->conf.telemetry_topic, 0) != MQTT_OK ||
        mqtt_subscribe(l->mqtt, l->conf.status_topic, 0) != MQTT_OK)
        log_warnx("subscribe failed; will retry on reconnect");
}

static void live_on_disconnect(void *arg, int reason)
{
    struct live *l = arg;

    log_warnx("lost broker %s:%lld (reason %d)", l->conf.mqtt_host,
              l->conf.mqtt_port, reason);
}

static void live_on_connect_error(void *arg, const char *why)
{
    (void)arg;
    log_warnx("%s", why);
}

static const struct mqtt_callbacks live_mqtt_cb = {
    .on_connect = live_on_connect,
    .on_disconnect = live_on_disconnect,
    .on_message = live_on_message,
    .on_connect_error = live_on_connect_error,
};

static void live_mqtt_try(struct live *l, int64_t now)
{
    char err[256];

    if (mqtt_fd(l->mqtt) >= 0 || now < l->mqtt_retry_ms)
        return;
    l->mqtt_retry_ms = now + clock_backoff_next(&l->mqtt_backoff_ms, 30000);
    if (mqtt_connect(l->mqtt, err, sizeof err) != MQTT_OK)
        log_warnx("%s; retrying in %" PRId64 " ms", err, l->mqtt_backoff_ms);
}

/* ------------------------------------------------------------- loading */

/* Drop the answers kept for the load under way. */
static void live_load_clear(struct live *l)
{
    PQclear(l->stops_result);
    PQclear(l->shape_points);
    PQclear(l->shape_trips);
    l->stops_result = l->shape_points = l->shape_trips = NULL;
}

static void live_load_failed(struct live *l, const char *what, const char *err)
{
    snprintf(l->load_err, sizeof l->load_err, "%s: %s", what, err ? err : "?");
    log_warnx("loading %s for %s failed: %s", what, l->day[0] ? l->day : "?",
              err ? err : "?");
    l->load_failures++;
    l->load = LIVE_LOAD_IDLE; /* tried again by the timer */
    live_load_clear(l);
}

/* A fresh tracker and predictor for the restore's replay. Once the
 * history is learnt it is kept (with its calibration): reading it again
 * would only take seconds and show no history meanwhile. Before, the
 * whole engine is made again (the read under way starts over). */
static void live_engine_reset(struct live *l)
{
    struct live_predict_params pp;
    struct live_track *tr;
    struct live_predict *p;
    struct trips_params tp;
    char err[256];

    if (!l->learnt || !l->hist || !l->track || !l->pred) {
        live_engine_new(l);
        return;
    }
    trips_params_default(&tp);
    live_predict_params_default(&pp);
    pp.cal = l->calib;
    if (live_track_new(&l->feed, &l->shapes.view, &tp, live_on_event, l, &tr,
                       err, sizeof err) != LIVE_TRACK_OK) {
        log_warnx("tracker: %s", err);
        return;
    }
    if (!(p = live_predict_new(&l->feed, l->hist, live_learn_day_type(l->day_n),
                               LIVE_METHOD_SHUTTLE, &pp))) {
        live_track_free(tr);
        log_warnx("predictor: out of memory");
        return;
    }
    live_track_set_midtrip(tr, l->conf.midtrip != 0);
    live_track_free(l->track);
    live_predict_free(l->pred);
    l->track = tr;
    l->pred = p;
    /* What they said points into the old ones; the replay says it again. */
    memset(l->last, 0, l->feed.ntrips * sizeof *l->last);
    memset(l->served, 0, l->feed.ntrips ? l->feed.ntrips : 1);
}

/* Restored from the database: today's fixes of the owned buses within
 * LIVE_RESTORE_S, in time order, through a fresh tracker and predictor,
 * so that each bus is back on the trip it drives: which trip that is
 * follows from where it has been (the terminal it waited at, the trips
 * of its block it finished), not from its newest fix alone. Fixes heard
 * live before the answer went to the engine this replaces; they are
 * stored as well, so they are in the replay or newer than it. */
static void live_on_last_fixes(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;
    size_t buses = 0;
    int n;

    if (!r) {
        log_warnx("restoring the buses' positions: %s", err ? err : "?");
        return;
    }
    live_engine_reset(l);
    n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        const char *vid = PQgetvalue(r, i, 0);
        struct live_bus *b;
        int64_t t;
        double lat, lon, speed;

        if (!wire_vid_ok(vid) || !live_owns(l, vid) || !(b = live_bus(l, vid)))
            continue;
        t = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        lat = strtod(PQgetvalue(r, i, 2), NULL);
        lon = strtod(PQgetvalue(r, i, 3), NULL);
        speed = strtod(PQgetvalue(r, i, 4), NULL);
        live_engine_fix(l, b->id, t, lat, lon, speed);
        if (t <= b->fix_ms)
            continue;
        buses += b->fix_ms < 0;
        b->fix_ms = t;
        b->lat = lat;
        b->lon = lon;
        b->speed = speed;
    }
    log_info("restored %d fixes from the database (%zu buses not heard "
             "live yet)",
             n, buses);
}

/* The load on board after each owned bus's newest count today, through
 * the rebuild's own conversion of a stored count. */
static void live_on_last_counts(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    if (!r) {
        log_warnx("restoring the buses' loads: %s", err ? err : "?");
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *vid = PQgetvalue(r, i, 0);
        struct trips_door d;
        struct live_bus *b;

        if (!wire_vid_ok(vid) || !live_owns(l, vid) || !(b = live_bus(l, vid)))
            continue;
        trips_db_door_from_row(r, i, 1, &d);
        if (b->counts == 0 && d.load_after >= 0)
            b->load = d.load_after;
    }
}

/* After a (re)start or a day turn: what the database holds of today's
 * buses, so the state is back before the next fix. */
static void live_restore(struct live *l)
{
    char counts[1024], secs[32], now[32];
    const char *p[3] = {l->day, secs, now};

    /* The window ends at this daemon's clock, not the server's now(): the
     * fixes it compares with are on the buses' (GPS) time, and so is its
     * clock; the database's may differ (a replayed or simulated day). */
    snprintf(secs, sizeof secs, "%d", LIVE_RESTORE_S);
    snprintf(now, sizeof now, "%" PRId64, clock_wall_ms());
    snprintf(counts, sizeof counts,
             "SELECT DISTINCT ON (vehicle_id) vehicle_id, %s"
             " FROM passenger_counts WHERE service_day = $1"
             " AND t > to_timestamp($3::bigint / 1000.0)"
             " - make_interval(secs => $2::int)"
             " ORDER BY vehicle_id, t DESC, seq DESC",
             trips_db_sql_door_columns);
    if (live_pg_query(l->pg,
                      "SELECT vehicle_id,"
                      " (extract(epoch FROM t) * 1000)::bigint, lat, lon,"
                      " coalesce(speed, 'NaN') FROM positions"
                      " WHERE service_day = $1"
                      " AND t > to_timestamp($3::bigint / 1000.0)"
                      " - make_interval(secs => $2::int)"
                      " ORDER BY t, vehicle_id, seq",
                      3, p, live_on_last_fixes, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, counts, 3, p, live_on_last_counts, l) !=
            LIVE_PG_OK)
        log_warnx("restoring the buses: out of memory");
}

static void live_on_stop_times(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;
    struct trips_feed f;
    char why[256];

    /* The stops failed already (and the transaction with them): that
     * failure was counted, and a new load may be under way. */
    if (l->load != LIVE_LOAD_FEED)
        return;
    if (!r || !l->stops_result) {
        live_load_failed(l, "timetable", err ? err : "stops missing");
        return;
    }
    if (trips_db_feed_from_results(l->stops_result, r, l->day, &f, why,
                                   sizeof why) != TRIPS_DB_OK) {
        trips_db_feed_free(&f);
        live_load_failed(l, "timetable", why);
        return;
    }
    /* What the timetable's times count from: without it every trip would
     * be scheduled on 1 January 1970 and no bus would fit one. */
    if (svcday_gtfs_base_ms(&l->svc, l->day_n, &f.day_ms) != SVCDAY_OK) {
        trips_db_feed_free(&f);
        live_load_failed(l, "timetable", "out of memory");
        return;
    }
    live_engine_free(l); /* it points into the old feed */
    if (l->feed_ok)
        trips_db_feed_free(&l->feed);
    live_shapedb_free(&l->shapes);
    l->feed = f;
    l->feed_ok = true;
    /* A shape that cannot be used costs the trips on it their shape, not
     * the day its predictions. */
    if (l->shape_points && l->shape_trips &&
        live_shapedb_from_results(&l->feed, l->shape_points, l->shape_trips,
                                  &l->shapes, why,
                                  sizeof why) != LIVE_SHAPEDB_OK)
        log_warnx("shapes of %s: %s; straight lines between stops", l->day,
                  why);
    if (l->shapes.refused > 0)
        log_warnx("%zu trips of %s keep straight lines between stops: their "
                  "shape is missing, has too few points or passes a stop "
                  "farther than %.0f m",
                  l->shapes.refused, l->day, LIVE_SHAPEDB_STOP_M);
    live_load_clear(l);
    live_engine_new(l);
    l->load = LIVE_LOAD_READY;
    l->loads++;
    l->load_err[0] = '\0';
    log_info("loaded the timetable of %s: %zu trips (%zu on their shape), "
             "%zu stops",
             l->day, l->feed.ntrips, l->shapes.used, l->feed.nstops);
    live_restore(l);
}

/* Keep answer R (freed after its callback returns) in *SLOT until the
 * stop times arrive. */
static void live_keep_result(struct live *l, PGresult **slot, const char *what,
                             const PGresult *r, const char *err)
{
    PGresult *copy;

    if (l->load != LIVE_LOAD_FEED)
        return;
    if (!r) {
        live_load_failed(l, what, err);
        return;
    }
    copy = PQcopyResult(r, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    if (!copy) {
        live_load_failed(l, what, "out of memory");
        return;
    }
    PQclear(*slot);
    *slot = copy;
}

static void live_on_stops(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->stops_result, "stops", r, err);
}

static void live_on_shape_points(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->shape_points, "shapes", r, err);
}

static void live_on_shape_trips(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->shape_trips, "trip shapes", r, err);
}

static void live_on_ignore(void *arg, const PGresult *r, const char *err)
{
    (void)arg;
    if (!r)
        log_warnx("%s", err ? err : "query failed");
}

/* The day's timetable, in one read-only snapshot. */
static void live_load_feed(struct live *l)
{
    const char *day[1] = {l->day};

    if (live_pg_query(l->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                      0, NULL, live_on_ignore, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, trips_db_sql_stops, 0, NULL, live_on_stops, l) !=
            LIVE_PG_OK ||
        live_pg_query(l->pg, live_shapedb_sql_points, 1, day,
                      live_on_shape_points, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, live_shapedb_sql_trips, 1, day,
                      live_on_shape_trips, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, trips_db_sql_stop_times, 1, day,
                      live_on_stop_times, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, "COMMIT", 0, NULL, live_on_ignore, l) !=
            LIVE_PG_OK) {
        live_load_failed(l, "timetable", "out of memory");
        return;
    }
    l->load = LIVE_LOAD_FEED;
}

/* Today's service day in the feed's zone, as text in BUF and (DAY not
 * NULL) as svcday's number; -1 before the zone is known. */
static int live_today(struct live *l, char *buf, int32_t *day)
{
    int32_t d;

    if (!l->svc_ok || svcday_day(&l->svc, clock_wall_ms(), &d) != SVCDAY_OK)
        return -1;
    clock_text_day(buf, d);
    if (day)
        *day = d;
    return 0;
}

static void live_on_zone(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    if (!r || PQntuples(r) != 1) {
        live_load_failed(l, "service zone", err ? err : "no answer");
        return;
    }
    if (svcday_init(&l->svc, PQgetvalue(r, 0, 0)) != SVCDAY_OK) {
        live_load_failed(l, "service zone", "not in the tz database");
        return;
    }
    l->svc_ok = true;
    if (live_today(l, l->day, &l->day_n) != 0) {
        live_load_failed(l, "service zone", "out of memory");
        return;
    }
    live_load_feed(l);
}

/* Start (again) loading: the zone first (it may change with the feed),
 * then the timetable of the day it gives. */
static void live_load_start(struct live *l)
{
    if (live_pg_query(l->pg, "SELECT shuttle_service_tz()", 0, NULL,
                      live_on_zone, l) != LIVE_PG_OK) {
        live_load_failed(l, "service zone", "out of memory");
        return;
    }
    l->load = LIVE_LOAD_ZONE;
}

static void live_db_retry(struct live *l, int64_t now, const char *err)
{
    l->db_retry_ms = now + clock_backoff_next(&l->db_backoff_ms, 30000);
    log_warnx("%s; retrying in %" PRId64 " ms", err, l->db_backoff_ms);
}

static void live_db_try(struct live *l, int64_t now)
{
    char err[512];

    if (live_pg_active(l->pg) && !live_pg_ready(l->pg) &&
        now - l->db_connect_started_ms > LIVE_DB_CONNECT_TIMEOUT_MS) {
        live_pg_free(l->pg);
        l->pg = live_pg_new(l->conf.database);
        if (!l->pg)
            fatalx("out of memory");
        l->load = LIVE_LOAD_IDLE;
        live_db_retry(l, now, "PostgreSQL: no answer to connect");
        return;
    }
    if (live_pg_active(l->pg) || now < l->db_retry_ms)
        return;
    l->load = LIVE_LOAD_IDLE;
    if (live_pg_connect(l->pg, err, sizeof err) != LIVE_PG_OK) {
        live_db_retry(l, now, err);
        return;
    }
    l->db_connect_started_ms = now;
}

static void live_db_step(struct live *l)
{
    char err[512];
    bool was_ready = live_pg_ready(l->pg);

    if (live_pg_step(l->pg, err, sizeof err) != LIVE_PG_OK) {
        l->load = LIVE_LOAD_IDLE;
        live_db_retry(l, clock_mono_ms(), err);
        return;
    }
    if (!was_ready && live_pg_ready(l->pg)) {
        l->db_backoff_ms = 0;
        log_info("database ready");
    }
}

/* Once a second: load when there is nothing, again when the day turned. */
static void live_load_check(struct live *l)
{
    char today[CLOCK_TEXT_MAX];

    if (!live_pg_ready(l->pg))
        return;
    if (l->load == LIVE_LOAD_IDLE) {
        live_load_start(l);
        return;
    }
    live_learn_begin(l); /* after a failure, or a reconnect */
    /* The history's read holds a transaction on this connection: the new
     * day's timetable waits the few seconds until it is done. */
    if (l->load == LIVE_LOAD_READY && !l->learn &&
        live_today(l, today, NULL) == 0 && strcmp(today, l->day) != 0) {
        log_info("service day turned: %s -> %s", l->day, today);
        live_load_start(l);
    }
}

/* ------------------------------------------------------------- rebuild */

static const char *live_writer(const struct live_conf *c)
{
    return c->writer_database ? c->writer_database : c->database;
}

/* ---------------------------------------------------------- the audit */

/* The writer's connection: connect, with the read side's back-off and
 * connect timeout. A batch in flight on a connection given up goes
 * again on the next. */
static void live_wdb_try(struct live *l, int64_t now)
{
    char err[512];

    if (live_pg_active(l->wpg) && !live_pg_ready(l->wpg) &&
        now - l->wdb_connect_started_ms > LIVE_DB_CONNECT_TIMEOUT_MS) {
        live_pg_free(l->wpg);
        live_sink_lost(l->sink);
        if (!(l->wpg = live_pg_new(live_writer(&l->conf))))
            fatalx("out of memory");
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: PostgreSQL: no answer to connect; retrying "
                  "in %" PRId64 " ms",
                  l->wdb_backoff_ms);
        return;
    }
    if (live_pg_active(l->wpg) || now < l->wdb_retry_ms)
        return;
    if (live_pg_connect(l->wpg, err, sizeof err) != LIVE_PG_OK) {
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: %s; retrying in %" PRId64 " ms", err,
                  l->wdb_backoff_ms);
        return;
    }
    l->wdb_connect_started_ms = now;
}

/* Advance the writer's connection and send a batch when one is due. */
static void live_wdb_step(struct live *l, int64_t now)
{
    char err[512];
    bool was_ready = live_pg_ready(l->wpg);

    if (live_pg_step(l->wpg, err, sizeof err) != LIVE_PG_OK) {
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: %s; retrying in %" PRId64 " ms", err,
                  l->wdb_backoff_ms);
        return;
    }
    if (!was_ready && live_pg_ready(l->wpg)) {
        l->wdb_backoff_ms = 0;
        log_info("audit writer: database ready");
    }
    if (live_sink_flush(l->sink, l->wpg, now) != LIVE_SINK_OK)
        log_warnx("audit writer: out of memory building a batch");
}

/* At a clean stop: what is queued gets up to two seconds to be written. */
static void live_wdb_drain(struct live *l)
{
    int64_t until = clock_mono_ms() + 2000;

    while (live_sink_queued(l->sink) > 0 && live_pg_ready(l->wpg) &&
           clock_mono_ms() < until) {
        struct pollfd pfd;
        short ev = 0;

        live_wdb_step(l, clock_mono_ms());
        if ((pfd.fd = live_pg_fd(l->wpg, &ev)) < 0)
            break;
        pfd.events = ev;
        (void)poll(&pfd, 1, 100);
    }
}

static void live_log_rebuild(const char *day, const struct trips_db_summary *s)
{
    log_info("rebuilt %s in %.2f s: %zu vehicles, %zu fixes, %zu stop "
             "visits, %zu runs; trips %zu scheduled, %zu operated, %zu "
             "missed",
             day, s->seconds, s->vehicles, s->fixes, s->visits, s->runs,
             s->trips, s->operated, s->missed);
}

/* The rebuild process: the day before (when the day turned), then today.
 * Exit 1 only when the day before failed: today's fails quietly while no
 * feed is loaded, and is tried again next time. */
static int live_rebuild_job(void *arg)
{
    struct live *l = arg;
    struct trips_db_summary ts;
    char err[512];
    int rc = 0;

    if (l->rebuild_prev[0]) {
        if (trips_db_rebuild(live_writer(&l->conf), l->rebuild_prev, &ts, err,
                             sizeof err) == TRIPS_DB_OK)
            live_log_rebuild(l->rebuild_prev, &ts);
        else {
            log_warnx("rebuild of %s: %s", l->rebuild_prev, err);
            rc = 1;
        }
    }
    if (trips_db_rebuild(live_writer(&l->conf), l->rebuild_today, &ts, err,
                         sizeof err) != TRIPS_DB_OK)
        log_debug("rebuild of %s: %s", l->rebuild_today, err);
    else if (log_getverbose() > 0)
        live_log_rebuild(l->rebuild_today, &ts);
    return rc;
}

static void live_rebuild_reap(struct live *l)
{
    int st;
    enum job_state s = job_reap(&l->rebuild, &st);

    if (s == JOB_IDLE || s == JOB_RUNNING)
        return;
    l->rebuilds++;
    if (s == JOB_DONE)
        return;
    l->rebuild_failures++;
    if (s == JOB_KILLED)
        log_warnx("rebuild process killed by signal %d", st);
    else if (s == JOB_FAILED)
        log_warnx("rebuild process failed (exit %d)", st);
    else
        log_warnx("rebuild process lost: %s", strerror(st));
}

/* Keep the derived tables current for the reports; never two at once,
 * never in the loop. */
static void live_rebuild(struct live *l, int64_t now)
{
    char today[CLOCK_TEXT_MAX];

    l->next_rebuild_ms = now + l->conf.rebuild_interval_s * 1000;
    live_rebuild_reap(l);
    if (l->rebuild.pid > 0) {
        log_debug("rebuild still running; skipping this one");
        return;
    }
    if (live_today(l, today, NULL) != 0)
        return;
    snprintf(l->rebuild_prev, sizeof l->rebuild_prev, "%s",
             l->rebuilt_day[0] && strcmp(l->rebuilt_day, today) != 0
                 ? l->rebuilt_day
                 : "");
    snprintf(l->rebuild_today, sizeof l->rebuild_today, "%s", today);
    if (job_start(&l->rebuild, "rebuild", 10, live_rebuild_job, l, now) ==
        JOB_OK)
        snprintf(l->rebuilt_day, sizeof l->rebuilt_day, "%s", today);
    else
        log_warn("rebuild: fork");
}

/* ---------------------------------------------------------------- HTTP */

static void live_collect(void *arg, struct metrics_buf *m)
{
    struct live *l = arg;
    struct metrics_label lb[2] = {{"reason", NULL}, {NULL, NULL}};

    metrics_counter(m, "shuttle_live_messages_total", "MQTT messages received",
                    NULL, l->messages);
    metrics_counter(m, "shuttle_live_records_total",
                    "telemetry records of owned vehicles accepted", NULL,
                    l->records);
    metrics_counter(m, "shuttle_live_statuses_total",
                    "status reports of owned vehicles accepted", NULL,
                    l->statuses);
    metrics_counter(m, "shuttle_live_not_owned_total",
                    "messages of vehicles another instance owns", NULL,
                    l->not_owned);
    metrics_counter(m, "shuttle_live_old_fixes_total",
                    "fixes not newer than the vehicle's newest (ignored)", NULL,
                    l->stale_fixes);
    for (int r = 0; r < LIVE_R_COUNT; r++) {
        lb[0].value = live_reason_names[r];
        metrics_counter(m, "shuttle_live_rejected_total",
                        "messages and records refused, by reason", lb,
                        l->rejected[r]);
    }
    {
        static const char *const res[] = {"used", "old", "future", "bad",
                                          "nomem"};
        struct metrics_label rl[2] = {{"result", NULL}, {NULL, NULL}};

        for (int i = 0; i <= LIVE_TRACK_NOMEM; i++) {
            rl[0].value = res[i];
            metrics_counter(m, "shuttle_live_fixes_total",
                            "fixes given to the tracker, by its result", rl,
                            l->fix_results[i]);
        }
    }
    metrics_histogram(m, "shuttle_live_refresh_gap_seconds",
                      "per trip, the time since its previous prediction "
                      "refresh",
                      NULL, &l->refresh_gap);
    metrics_histogram(m, "shuttle_live_update_seconds",
                      "time from a telemetry message's arrival to its bus "
                      "being updated",
                      NULL, &l->update_seconds);
    metrics_gauge(m, "shuttle_live_vehicles", "owned vehicles heard from", NULL,
                  (double)l->nbuses);
    metrics_gauge(m, "shuttle_live_loaded",
                  "1 while the day's timetable is loaded", NULL,
                  l->feed_ok ? 1 : 0);
    metrics_gauge(m, "shuttle_live_trips_on_shape",
                  "today's trips tracked along their GTFS shape", NULL,
                  (double)l->shapes.used);
    metrics_gauge(m, "shuttle_live_trips_shape_refused",
                  "today's trips whose shape was refused (straight lines "
                  "between stops instead)",
                  NULL, (double)l->shapes.refused);
    metrics_counter(m, "shuttle_live_loads_total",
                    "timetable loads that succeeded", NULL, l->loads);
    metrics_counter(m, "shuttle_live_load_failures_total",
                    "timetable loads that failed (retried)", NULL,
                    l->load_failures);
    metrics_counter(m, "shuttle_live_rebuilds_total",
                    "rebuild processes finished (rebuild_interval_s)", NULL,
                    l->rebuilds);
    metrics_counter(m, "shuttle_live_rebuild_failures_total",
                    "rebuild processes that failed or were killed", NULL,
                    l->rebuild_failures);
    {
        static const char *const res[] = {"written", "dropped", "failed"};
        struct metrics_label rl[2] = {{"result", NULL}, {NULL, NULL}};
        struct live_sink_counts c;
        uint64_t v[3];

        live_sink_counts(l->sink, &c);
        v[0] = c.written;
        v[1] = c.dropped;
        v[2] = c.failed;
        for (int i = 0; i < 3; i++) {
            rl[0].value = res[i];
            metrics_counter(m, "shuttle_live_audit_samples_total",
                            "scored prediction samples for eta_samples: "
                            "written, dropped (queue full or refused), "
                            "failed (a batch that failed; sent again)",
                            rl, v[i]);
        }
    }
    metrics_gauge(m, "shuttle_live_audit_queued",
                  "scored samples waiting for the writer", NULL,
                  (double)live_sink_queued(l->sink));
    metrics_gauge(m, "shuttle_live_audit_pending",
                  "predictions sampled, waiting for their bus to arrive", NULL,
                  l->audit ? (double)live_audit_pending(l->audit) : 0);
    metrics_gauge(m, "shuttle_live_history_visits",
                  "past stop visits the running-time history learnt", NULL,
                  l->learnt ? (double)l->learnt_counts.visits : 0);
    metrics_gauge(m, "shuttle_live_history_skipped",
                  "past stop visits not on today's trips (not learnt)", NULL,
                  l->learnt ? (double)l->learnt_counts.skipped : 0);
    metrics_gauge(m, "shuttle_live_interval_calibration_samples",
                  "past days' scored samples (eta_samples) the 80 % "
                  "interval is calibrated from (0: the history's spread)",
                  NULL, (double)l->calib_samples);
    metrics_gauge(m, "shuttle_live_history_days",
                  "past service days with visits in the history", NULL,
                  l->learnt ? (double)l->learnt_counts.days : 0);
    metrics_gauge(m, "shuttle_live_history_load_seconds",
                  "time the last history read took", NULL, l->learn_seconds);
    metrics_counter(m, "shuttle_live_history_failures_total",
                    "history reads that failed (retried after 60 s)", NULL,
                    l->learn_failures);
    metrics_gauge(m, "shuttle_live_writer_connected",
                  "1 while the audit writer's connection is up", NULL,
                  live_pg_ready(l->wpg) ? 1 : 0);
    metrics_gauge(m, "shuttle_live_database_connected",
                  "1 while the read connection is up", NULL,
                  live_pg_ready(l->pg) ? 1 : 0);
    metrics_gauge(m, "shuttle_live_mqtt_connected",
                  "1 while connected to the MQTT broker", NULL,
                  mqtt_connected(l->mqtt) ? 1 : 0);
}

/* Healthy once the day's model is loaded and both links are up; 503
 * "loading" before. */
static int live_health(void *arg, char *why, size_t whylen)
{
    struct live *l = arg;

    if (!live_pg_ready(l->pg))
        snprintf(why, whylen, "database down");
    else if (!mqtt_connected(l->mqtt))
        snprintf(why, whylen, "broker down");
    else if (!l->feed_ok)
        snprintf(why, whylen, "loading%s%s", l->load_err[0] ? ": " : "",
                 l->load_err);
    else
        return 1;
    return 0;
}

/* A growing text answer. */
struct live_text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void live_text_printf(struct live_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void live_text_printf(struct live_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0,
                      fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        {
            size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
            char *p = realloc(t->p, cap);

            if (!p) {
                t->failed = true;
                return;
            }
            t->p = p;
            t->cap = cap;
        }
    }
}

static const char *live_status_name(enum live_status s)
{
    static const char *const names[] = {"UNKNOWN", "AT_STOP",  "IN_TRANSIT",
                                        "LAYOVER", "DEADHEAD", "OFF_ROUTE",
                                        "STALE"};

    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

static void live_debug_vehicles(struct live *l, struct live_text *t)
{
    char ts[CLOCK_TEXT_MAX];

    live_text_printf(t, "# vehicle fix_time lat lon speed load online "
                        "fixes counts status trip pos delay_s\n");
    for (size_t i = 0; i < l->nbuses; i++) {
        const struct live_bus *b = &l->buses[i];
        const struct live_vehicle *v = NULL;
        int vi = l->track ? live_track_find(l->track, b->id) : -1;

        if (vi >= 0)
            v = live_track_vehicle(l->track, (size_t)vi);
        live_text_printf(
            t,
            "%s %s %.6f %.6f %.1f %d %d %" PRIu64 " %" PRIu64 " %s %s %d %d\n",
            b->id, b->fix_ms >= 0 ? clock_text_ms(ts, b->fix_ms) : "-", b->lat,
            b->lon, b->speed, b->load, b->online ? 1 : 0, b->fixes, b->counts,
            v ? live_status_name(v->status) : "-",
            v && v->trip >= 0 && (size_t)v->trip < l->feed.ntrips
                ? l->feed.trips[v->trip].id
                : "-",
            v ? v->pos : -1, v ? (int)v->delay_s : 0);
    }
}

static void live_debug_predictions(struct live *l, struct live_text *t)
{
    static const char *const kinds[] = {"PREDICTED", "SCHEDULED", "DEPARTED",
                                        "SKIPPED", "CANCELED"};

    live_text_printf(t, "# trip_id\tstop_sequence\tstop_id\tkind\tarrival_s"
                        "\tdeparture_s\tinterval_lo_s\tinterval_hi_s\tload"
                        "\tvehicle\tvehicle_status\n");
    if (!l->last || !l->track)
        return;
    for (size_t i = 0; i < l->feed.ntrips; i++) {
        const struct live_trip_pred *tp = l->last[i];
        const struct live_vehicle *v = NULL;

        if (!tp || tp->trip != (int)i)
            continue;
        if (tp->vehicle >= 0)
            v = live_track_vehicle(l->track, (size_t)tp->vehicle);
        for (size_t k = 0; k < tp->nstops; k++) {
            const struct live_stop_pred *sp = &tp->stops[k];

            live_text_printf(t,
                             "%s\t%d\t%s\t%s\t%" PRId64 "\t%" PRId64
                             "\t%" PRId64 "\t%" PRId64 "\t%d\t%s\t%s\n",
                             l->feed.trips[i].id, sp->sequence,
                             sp->stop >= 0 && (size_t)sp->stop < l->feed.nstops
                                 ? l->feed.stops[sp->stop].id
                                 : "-",
                             (unsigned)sp->kind < 5 ? kinds[sp->kind] : "?",
                             sp->arr_ms >= 0 ? sp->arr_ms / 1000 : -1,
                             sp->dep_ms >= 0 ? sp->dep_ms / 1000 : -1,
                             sp->arr_lo_ms >= 0 ? sp->arr_lo_ms / 1000 : -1,
                             sp->arr_hi_ms >= 0 ? sp->arr_hi_ms / 1000 : -1,
                             sp->load, v ? v->id : "-",
                             v ? live_status_name(v->status) : "-");
        }
    }
}

/* The debug pages: text/plain, built per request (they are for people). */
static void live_route(void *arg, struct http_req *rq)
{
    struct live *l = arg;
    struct live_text t = {NULL, 0, 0, false};
    const char *path = http_req_path(rq);

    if (strcmp(path, "/debug/vehicles") == 0)
        live_debug_vehicles(l, &t);
    else if (strcmp(path, "/debug/predictions") == 0)
        live_debug_predictions(l, &t);
    else
        return; /* 404 */
    if (t.failed) {
        free(t.p);
        (void)http_req_text(rq, 500, "out of memory");
        return;
    }
    (void)http_req_respond(rq, http_response_new(200, NULL, t.p, t.len));
}

static const struct http_callbacks live_http_cb = {
    .collect = live_collect,
    .health = live_health,
    .route = live_route,
};

/* ---------------------------------------------------------------- loop */

static void live_run(struct live *l)
{
    int64_t last_tick = 0;

    while (!quit) {
        struct pollfd pfd[4];
        int64_t now = clock_mono_ms(), due;
        int timeout = 1000, nfds = 0, mi = -1, hi = -1, di = -1, wi = -1, hto,
            fd;
        short ev = 0;

        live_db_try(l, now);
        live_wdb_try(l, now);
        if (l->pending)
            live_learn_advance(l);
        live_mqtt_try(l, now);
        live_rebuild_reap(l);
        if (now - last_tick >= LIVE_TICK_MS) {
            last_tick = now;
            live_load_check(l);
            live_engine_tick(l);
            if (mqtt_fd(l->mqtt) >= 0)
                mqtt_handle_misc(l->mqtt);
            /* The pg step also sends what was queued meanwhile. */
            live_db_step(l);
        }
        if (l->conf.rebuild_interval_s > 0 && l->conf.instance == 0 &&
            l->svc_ok && now >= l->next_rebuild_ms)
            live_rebuild(l, now);

        if ((fd = mqtt_fd(l->mqtt)) >= 0) {
            mi = nfds++;
            pfd[mi].fd = fd;
            pfd[mi].events = POLLIN | (mqtt_want_write(l->mqtt) ? POLLOUT : 0);
        }
        if ((fd = http_fd(l->http)) >= 0) {
            hi = nfds++;
            pfd[hi].fd = fd;
            pfd[hi].events = POLLIN;
        }
        if ((fd = live_pg_fd(l->pg, &ev)) >= 0) {
            di = nfds++;
            pfd[di].fd = fd;
            pfd[di].events = ev;
        }
        ev = 0;
        if ((fd = live_pg_fd(l->wpg, &ev)) >= 0) {
            wi = nfds++;
            pfd[wi].fd = fd;
            pfd[wi].events = ev;
        }
        if (live_pg_ready(l->pg) && live_pg_pending(l->pg) > 0)
            timeout = 100; /* a query queued inside a callback goes soon */
        /* Samples waiting: the next batch is at most 100 ms late. */
        if (live_pg_ready(l->wpg) && live_sink_queued(l->sink) > 0 &&
            timeout > 100)
            timeout = 100;
        if (l->rebuild.pid > 0 && timeout > 100)
            timeout = 100;
        /* Wake for the tick when nothing else comes. */
        due = last_tick + LIVE_TICK_MS - clock_mono_ms();
        if (due < timeout)
            timeout = due > 0 ? (int)due : 0;
        if (l->pending)
            timeout = 0; /* more of the history's statistics, at once */
        hto = http_timeout_ms(l->http);
        if (hto >= 0 && hto < timeout)
            timeout = hto;
        if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        if (mi >= 0 && (pfd[mi].revents & (POLLIN | POLLERR | POLLHUP)))
            mqtt_handle_read(l->mqtt);
        if (mi >= 0 && mqtt_fd(l->mqtt) >= 0 && (pfd[mi].revents & POLLOUT))
            mqtt_handle_write(l->mqtt);
        if (hi >= 0 && (pfd[hi].revents || (hto >= 0 && hto <= timeout)))
            (void)http_run(l->http);
        if (di >= 0 && pfd[di].revents)
            live_db_step(l);
        else if (live_pg_ready(l->pg) && live_pg_pending(l->pg) > 0)
            live_db_step(l);
        if ((wi >= 0 && pfd[wi].revents) || live_pg_ready(l->wpg))
            live_wdb_step(l, clock_mono_ms());
    }
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: shuttle-live [-dhnv] [-f file] [-o key=value] "
                "[--example-config]\n"
                "  -f file   configuration (default /etc/shuttle/live.conf)\n"
                "  -o k=v    set one option, after the file\n"
                "  -n        check the configuration and exit\n"
                "  -d        stay in the foreground, log to stderr\n"
                "  -v        more verbose logging\n"
                "  --example-config  print every option with its default\n");
}

static int live_configure(struct live *l, const char *file, int explicit_file,
                          const char *const *ov, int nov)
{
    char err[512];
    int rc;

    if (explicit_file || access(file, F_OK) == 0)
        rc = conf_load(live_options, &l->conf, file, err, sizeof err);
    else
        rc = conf_defaults(live_options, &l->conf, err, sizeof err);
    if (rc == CONF_OK)
        rc = conf_set_pairs(live_options, &l->conf, ov, nov, err, sizeof err);
    if (rc == CONF_OK && l->conf.instance >= l->conf.instances) {
        snprintf(err, sizeof err, "instance %lld is not below instances %lld",
                 l->conf.instance, l->conf.instances);
        rc = CONF_ERR_SYNTAX;
    }
    if (rc != CONF_OK) {
        fprintf(stderr, "shuttle-live: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"example-config", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};
    static const double gaps[] = {0.5, 0.9, 1.0, 1.1, 1.5, 2, 5, 10, 60};
    const char *conffile = "/etc/shuttle/live.conf";
    const char *overrides[32];
    int noverrides = 0, check = 0, foreground = 0, verbose = 0;
    int ch, explicit_file = 0;
    struct live l;
    struct mqtt_options mo;
    struct sigaction sa;
    char err[512];

    while ((ch = getopt_long(argc, argv, "df:hno:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            foreground = 1;
            break;
        case 'f':
            conffile = optarg;
            explicit_file = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 'o':
            if (noverrides == 32)
                fatalx("too many -o options");
            overrides[noverrides++] = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'E':
            conf_print_example(live_options, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    memset(&l, 0, sizeof l);
    if (live_configure(&l, conffile, explicit_file, overrides, noverrides) !=
        0) {
        conf_free(live_options, &l.conf);
        return 2;
    }
    log_init(argv[0], foreground || check || isatty(2),
             verbose + (int)l.conf.verbose);
    if (check) {
        printf("configuration OK\n");
        conf_free(live_options, &l.conf);
        return 0;
    }
    snprintf(l.client_id, sizeof l.client_id, "%s", l.conf.mqtt_client_id);
    if (!l.conf.mqtt_client_id)
        snprintf(l.client_id, sizeof l.client_id, "shuttle-live-%lld",
                 l.conf.instance);
    if (metrics_hist_init(&l.update_seconds, secs,
                          sizeof secs / sizeof *secs) != METRICS_OK ||
        metrics_hist_init(&l.refresh_gap, gaps, sizeof gaps / sizeof *gaps) !=
            METRICS_OK ||
        !(l.pg = live_pg_new(l.conf.database)) ||
        !(l.wpg = live_pg_new(live_writer(&l.conf))) ||
        !(l.sink = live_sink_new(NULL)))
        fatalx("out of memory");
    if (proc_setup(foreground, on_signal, 0) != 0)
        fatal("daemon");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    mqtt_lib_init();
    memset(&mo, 0, sizeof mo);
    mo.client_id = l.client_id;
    mo.host = l.conf.mqtt_host;
    mo.port = (int)l.conf.mqtt_port;
    mo.keepalive_s = (int)l.conf.mqtt_keepalive;
    mo.session_expiry_s = 0; /* clean: state comes from the database */
    mo.username = l.conf.mqtt_user;
    mo.password = l.conf.mqtt_password;
    mo.cafile = l.conf.mqtt_cafile;
    mo.certfile = l.conf.mqtt_certfile;
    mo.keyfile = l.conf.mqtt_keyfile;
    mo.max_inflight = 100;
    if (mqtt_new(&mo, &live_mqtt_cb, &l, &l.mqtt, err, sizeof err) != MQTT_OK)
        fatalx("%s", err);
    {
        struct http_options ho = {.listen = l.conf.http_listen,
                                  .port = (int)l.conf.http_port};

        if (http_new(&ho, &live_http_cb, &l, &l.http, err, sizeof err) !=
            HTTP_OK)
            fatalx("%s", err);
    }
    log_info("starting: instance %lld of %lld, database '%s', broker "
             "%s:%lld",
             l.conf.instance, l.conf.instances, l.conf.database,
             l.conf.mqtt_host, l.conf.mqtt_port);

    live_run(&l);

    log_info("signal %d: stopping", (int)quit);
    live_wdb_drain(&l);
    job_stop(&l.rebuild);
    if (mqtt_fd(l.mqtt) >= 0)
        mqtt_disconnect(l.mqtt);
    http_free(l.http);
    mqtt_free(l.mqtt);
    mqtt_lib_cleanup();
    live_engine_free(&l); /* before the connection its learner may use */
    live_pg_free(l.pg);
    live_load_clear(&l);
    live_engine_free(&l);
    live_shapedb_free(&l.shapes);
    live_pg_free(l.wpg);
    live_sink_free(l.sink);
    if (l.feed_ok)
        trips_db_feed_free(&l.feed);
    free(l.buses);
    conf_free(live_options, &l.conf);
    return 0;
}
