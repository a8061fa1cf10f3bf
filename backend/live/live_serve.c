/* shuttle-live: what the HTTP server answers — metrics, health and the
 * debug pages. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "log.h"

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

static int live_route(void *arg, const char *path, char **body, size_t *len)
{
    struct live *l = arg;
    struct live_text t = {NULL, 0, 0, false};

    if (strcmp(path, "/debug/vehicles") == 0)
        live_debug_vehicles(l, &t);
    else if (strcmp(path, "/debug/predictions") == 0)
        live_debug_predictions(l, &t);
    else
        return 0;
    if (t.failed) {
        free(t.p);
        *body = NULL;
        *len = 0;
        return 500;
    }
    *body = t.p;
    *len = t.len;
    return 200;
}

const struct http_callbacks live_http_cb = {
    .collect = live_collect,
    .health = live_health,
    .route = live_route,
};
