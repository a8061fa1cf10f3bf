/* shuttle-live: the read connection, the day's timetable loaded in one
 * snapshot, and the buses' state restored after a restart. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "pub_names.h"
#include "pub_static.h"
#include "log.h"
#include "trips_db.h"

/* ------------------------------------------------------------- loading */

/* Drop the answers kept for the load under way. */
void live_load_clear(struct live *l)
{
    PQclear(l->stops_result);
    PQclear(l->shape_points);
    PQclear(l->shape_trips);
    PQclear(l->names_stops);
    PQclear(l->names_routes);
    PQclear(l->names_trips);
    PQclear(l->names_feed);
    l->stops_result = l->shape_points = l->shape_trips = NULL;
    l->names_stops = l->names_routes = l->names_trips = l->names_feed = NULL;
}

static void live_load_failed(struct live *l, const char *what, const char *err)
{
    snprintf(l->load_err, sizeof l->load_err, "%s: %.200s", what,
             err ? err : "?");
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
    pub_names_free(&l->names);
    l->names_ok = false;
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
    /* Without the riders' names the feeds are not published (the engine
     * runs: /debug and the audit do not need them). */
    if (!l->names_stops || !l->names_routes || !l->names_trips ||
        !l->names_feed ||
        pub_names_from_results(&l->feed, l->names_stops, l->names_routes,
                               l->names_trips, l->names_feed, &l->names, why,
                               sizeof why) != PUB_NAMES_OK)
        log_warnx("names of %s: %s; nothing published until the next load",
                  l->day, l->names_stops ? why : "not read");
    else
        l->names_ok = true;
    live_load_clear(l);
    live_engine_new(l);
    l->load = LIVE_LOAD_READY;
    live_publish_loaded(l);
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

static void live_on_names_stops(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->names_stops, "stop names", r, err);
}

static void live_on_names_routes(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->names_routes, "routes", r, err);
}

static void live_on_names_trips(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->names_trips, "headsigns", r, err);
}

static void live_on_names_feed(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    live_keep_result(l, &l->names_feed, "feed info", r, err);
}

static void live_on_static_files(void *arg, const PGresult *r, const char *err)
{
    struct live *l = arg;

    if (l->load != LIVE_LOAD_FEED)
        return;
    /* The zip is the riders' copy of the timetable, not the engine's: a
     * failure costs /gtfs/static.zip, not the day. */
    if (!r) {
        log_warnx("static feed files: %s", err ? err : "query failed");
        return;
    }
    live_publish_zip(l, r);
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
        live_pg_query(l->pg, pub_names_sql_stops, 0, NULL, live_on_names_stops,
                      l) != LIVE_PG_OK ||
        live_pg_query(l->pg, pub_names_sql_routes, 0, NULL,
                      live_on_names_routes, l) != LIVE_PG_OK ||
        live_pg_query(l->pg, pub_names_sql_trips, 1, day, live_on_names_trips,
                      l) != LIVE_PG_OK ||
        live_pg_query(l->pg, pub_names_sql_feed, 0, NULL, live_on_names_feed,
                      l) != LIVE_PG_OK ||
        live_pg_query(l->pg, pub_static_sql(), 0, NULL, live_on_static_files,
                      l) != LIVE_PG_OK ||
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
int live_today(struct live *l, char *buf, int32_t *day)
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

void live_db_try(struct live *l, int64_t now)
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

void live_db_step(struct live *l)
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
void live_load_check(struct live *l)
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
