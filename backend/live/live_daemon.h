/* live_daemon: the state of shuttle-live shared by its files (live_main,
 * live_msg, live_engine, live_load, live_writer, live_serve); not a
 * library: only the daemon includes it. */
#ifndef SHUTTLE_LIVE_DAEMON_H
#define SHUTTLE_LIVE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "clock.h"
#include "http.h"
#include "job.h"
#include "live_audit.h"
#include "live_gtfsrt.h"
#include "live_hist.h"
#include "live_learn.h"
#include "live_pg.h"
#include "live_predict.h"
#include "live_shapedb.h"
#include "live_sink.h"
#include "live_track.h"
#include "metrics.h"
#include "mqtt.h"
#include "pub_page.h"
#include "pub_view.h"
#include "report_job.h"
#include "svcday.h"
#include "trips.h"
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
    long long seats;
    char *vehicle_seats;
    int reports;
    long long target_riders, crowded_pct, late_s, counter_pct, counter_slack;
    char *http_listen;
    long long http_port;
    long long http_conn_max, http_per_ip_max, http_timeout_s;
    char *http_tls_certfile, *http_tls_key, *ops_credentials;
    long long verbose;
};

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

extern const char *const live_reason_names[LIVE_R_COUNT];

/* A bus whose seats differ from `seats` (vehicle_seats). */
struct live_seats {
    char id[WIRE_VID_MAX + 1];
    int seats;
};

/* The arrays a pub_view points into (live_publish), kept between builds. */
struct live_pubview {
    const struct live_vehicle **vehicles;
    int *seats;
    struct pub_bus *buses;
    size_t capvehicles, capseats, capbuses;
};

/* The published bodies (live_publish). */
#define LIVE_PUBLISH_JSON "application/json; charset=utf-8"
/* Builds after a change come at most this often (or four times the last
 * build's time, if more); a request for a body not yet built of a changed
 * state builds at once. */
#define LIVE_PUBLISH_MIN_MS 200
enum live_publish_rt {
    LIVE_PUBLISH_RT_TRIP_UPDATES,
    LIVE_PUBLISH_RT_VEHICLE_POSITIONS,
    LIVE_PUBLISH_RT_ALERTS,
    LIVE_PUBLISH_RT_ALL,
    LIVE_PUBLISH_RT_N,
};
extern const char *const live_publish_rt_path[LIVE_PUBLISH_RT_N];

enum live_publish_kind {
    LIVE_PUBLISH_ARRIVALS, /* arg: stop index */
    LIVE_PUBLISH_PAGE,     /* the workers' page of a pub_page_req */
    LIVE_PUBLISH_FLEET,    /* arg: 1 English */
    LIVE_PUBLISH_TEXT,     /* arg: enum live_publish_rt */
};

struct live_pub {
    bool ready;   /* the day's names are loaded: publishing */
    bool dirty;   /* the state changed since the last build */
    uint64_t gen; /* builds so far; a lazy body is of one generation */
    int64_t built_mono, view_ms; /* the last build: when, its moment */
    int64_t min_ms, build_us;
    int64_t due_wall_ms; /* a GTFS-Realtime change held for this second */
    struct live_gtfsrt *rt[LIVE_PUBLISH_RT_N];
    struct http_blob *rt_blob[LIVE_PUBLISH_RT_N], *rt_text[LIVE_PUBLISH_RT_N];
    uint64_t rt_text_gen[LIVE_PUBLISH_RT_N];
    uint8_t *rt_bytes[LIVE_PUBLISH_RT_N];
    size_t rt_len[LIVE_PUBLISH_RT_N];
    uint64_t rt_changes[LIVE_PUBLISH_RT_N], rt_failures;
    const struct live_trip_pred **rt_trips;
    size_t rt_ntrips, rt_cap;
    const char **route_names; /* by trip: its route's short name */
    struct http_blob *stops, *routes, *vehicles, *runs, *zip, *fleet[2];
    uint64_t fleet_gen[2];
    struct http_blob **arrivals, **pages;
    uint64_t *arrivals_gen, *pages_gen;
    size_t narrivals, npages;
    struct pub_display *display;
    uint64_t displays_sent, lazy_builds;
    struct metrics_hist build_seconds;
};

/* What the loop knows of an owned bus until the tracker takes over. */
struct live_bus {
    char id[WIRE_VID_MAX + 1];
    int64_t fix_ms, seen_ms; /* newest fix time; wall clock heard */
    double lat, lon, speed;
    int load; /* after the last count; -1 unknown */
    bool online;
    uint64_t fixes, counts;
    /* Its last Status (the fleet page's spool, GPS and counter state). */
    struct wire_status status;
    bool status_known;
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
    struct live_seats *seats;            /* vehicle_seats, sorted by id */
    char *tls_cert;                      /* http_tls_certfile's text */
    const char *ops_user, *ops_password; /* into conf.ops_credentials */
    size_t nseats;
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
    /* The riders' names of `feed` (stops, routes, headsigns). */
    struct pub_names names;
    bool names_ok;
    PGresult *names_stops, *names_routes, *names_trips, *names_feed;
    struct live_pubview pv;
    struct live_pub pub;
    struct report_job *reports;
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

/* live_msg.c */
bool live_owns(const struct live *l, const char *vid);
struct live_bus *live_bus(struct live *l, const char *vid);
void live_mqtt_try(struct live *l, int64_t now);

/* live_main.c */
int live_seats_of(const struct live *l, const char *vid);

/* live_publish.c */
int live_publish_init(struct live *l);
int live_publish_view(struct live *l, struct pub_view *v);
void live_publish_loaded(struct live *l);
void live_publish_zip(struct live *l, const PGresult *files);
void live_publish_step(struct live *l, bool force);
int live_publish_timeout_ms(const struct live *l);
struct http_blob *live_publish_get(struct live *l, enum live_publish_kind kind,
                                   int arg, const struct pub_page_req *req);
void live_publish_free(struct live *l);

/* live_engine.c */
void live_engine_free(struct live *l);
void live_on_event(void *arg, const struct live_event *ev);
void live_learn_advance(struct live *l);
void live_learn_begin(struct live *l);
void live_engine_new(struct live *l);
void live_engine_tick(struct live *l);
void live_engine_fix(struct live *l, const char *vid, int64_t t_ms, double lat,
                     double lon, double speed);
void live_engine_door(struct live *l, const char *vid,
                      const struct wire_record *r);

/* live_load.c */
void live_load_clear(struct live *l);
int live_today(struct live *l, char *buf, int32_t *day);
void live_db_try(struct live *l, int64_t now);
void live_db_step(struct live *l);
void live_load_check(struct live *l);

/* live_writer.c */
const char *live_writer(const struct live_conf *c);
void live_wdb_try(struct live *l, int64_t now);
void live_wdb_step(struct live *l, int64_t now);
void live_wdb_drain(struct live *l);
void live_rebuild_reap(struct live *l);
void live_rebuild(struct live *l, int64_t now);

/* The callbacks the loop gives the broker's client and the HTTP server. */
extern const struct mqtt_callbacks live_mqtt_cb;
extern const struct http_callbacks live_http_cb;

#endif
