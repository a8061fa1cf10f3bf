/* shuttle-live: the engine over the day's feed — tracker, predictor,
 * audit — and the history it learns from (live_learn), fed by the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "log.h"

void live_engine_free(struct live *l)
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

void live_on_event(void *arg, const struct live_event *ev)
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
void live_learn_advance(struct live *l)
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

void live_learn_begin(struct live *l)
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
void live_engine_new(struct live *l)
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
void live_engine_tick(struct live *l)
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
    l->pub.dirty = true; /* minutes and stale buses move with the clock */
}

/* A fix through the tracker, then that bus's predictions refreshed. */
void live_engine_fix(struct live *l, const char *vid, int64_t t_ms, double lat,
                     double lon, double speed)
{
    struct trips_fix x = {t_ms, lat, lon, speed};
    enum live_track_res res;
    int vi;

    if (!l->track)
        return;
    res = live_track_fix(l->track, vid, &x, clock_wall_ms());
    l->fix_results[res]++;
    if (res == LIVE_TRACK_USED)
        l->pub.dirty = true;
    if (res == LIVE_TRACK_USED && l->pred &&
        (vi = live_track_find(l->track, vid)) >= 0) {
        live_refresh(l, vi, clock_wall_ms());
    }
}

void live_engine_door(struct live *l, const char *vid,
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
    l->pub.dirty = true;
}
