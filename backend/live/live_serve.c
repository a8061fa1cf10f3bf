/* shuttle-live: what the HTTP server answers — metrics, health and the
 * debug pages. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_daemon.h"
#include "pub_json.h"
#include "log.h"

/* ---------------------------------------------------------------- HTTP */

/* What was published: builds, feed changes, stop-display messages, the
 * reports' children. */
static void live_collect_published(struct live *l, struct metrics_buf *m)
{
    struct metrics_label fl[2] = {{"feed", NULL}, {NULL, NULL}};
    struct report_job_stats rs;

    metrics_gauge(m, "shuttle_live_publishing",
                  "1 while the feeds are published (the day's names loaded)",
                  NULL, l->pub.ready ? 1 : 0);
    metrics_counter(m, "shuttle_live_publish_builds_total",
                    "builds of the published bodies after a change", NULL,
                    l->pub.gen);
    metrics_histogram(m, "shuttle_live_publish_build_seconds",
                      "time of one build of the published bodies", NULL,
                      &l->pub.build_seconds);
    metrics_counter(m, "shuttle_live_publish_lazy_total",
                    "bodies built on their first request after a change "
                    "(arrivals, pages, text)",
                    NULL, l->pub.lazy_builds);
    for (int i = 0; i < LIVE_PUBLISH_RT_N; i++) {
        fl[0].value = live_publish_rt_path[i];
        metrics_counter(m, "shuttle_live_gtfsrt_changes_total",
                        "new contents of a GTFS-Realtime feed", fl,
                        l->pub.rt_changes[i]);
    }
    metrics_counter(m, "shuttle_live_gtfsrt_failures_total",
                    "GTFS-Realtime builds that failed", NULL,
                    l->pub.rt_failures);
    metrics_counter(m, "shuttle_live_displays_sent_total",
                    "stop-display messages published (retained)", NULL,
                    l->pub.displays_sent);
    if (!l->reports)
        return;
    report_job_stats(l->reports, &rs);
    metrics_counter(m, "shuttle_live_reports_total",
                    "report pages rendered by a child", NULL, rs.ok);
    metrics_counter(m, "shuttle_live_report_failures_total",
                    "report children that failed, timed out or were refused",
                    NULL, rs.failed + rs.timeouts + rs.busy);
    metrics_gauge(m, "shuttle_live_reports_running",
                  "report children running now", NULL, (double)rs.running);
}

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
    live_collect_published(l, m);
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

/* ------------------------------------------------------ published */

/* Every query argument of RQ is one of ALLOWED (NULL-ended) and none comes
 * twice; else a 400 naming the first offender, and false. */
static bool live_serve__args(struct http_req *rq, const char *const *allowed)
{
    unsigned int n = http_req_arg_count(rq);
    char msg[160];

    for (unsigned int i = 0; i < n; i++) {
        const char *name, *value;
        bool ok = false;

        if (http_req_arg_at(rq, i, &name, &value) != 0)
            continue;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, name) == 0;
        for (unsigned int j = 0; j < i && ok; j++) {
            const char *n2, *v2;

            if (http_req_arg_at(rq, j, &n2, &v2) == 0 && strcmp(n2, name) == 0)
                ok = false;
        }
        if (!ok) {
            /* Only a name of plain characters is said back. */
            bool plain = strlen(name) <= 32 && name[0];

            for (const char *c = name; *c && plain; c++)
                plain = (*c >= 'a' && *c <= 'z') || *c == '_';
            snprintf(msg, sizeof msg, "bad parameter%s%s%s", plain ? " " : "",
                     plain ? name : "",
                     plain ? ": unknown or given twice" : "");
            (void)http_req_text(rq, 400, msg);
            return false;
        }
    }
    return true;
}

/* LANG is absent, "ko" or "en"; else a 400. */
static bool live_serve__lang(struct http_req *rq, const char **lang)
{
    const char *v = http_req_arg(rq, "lang");

    *lang = v ? v : "ko";
    if (!v || strcmp(v, "ko") == 0 || strcmp(v, "en") == 0)
        return true;
    (void)http_req_text(rq, 400, "lang must be ko or en");
    return false;
}

static void live_serve__json_error(struct http_req *rq, unsigned int status,
                                   const char *msg)
{
    char *out;
    size_t len;

    if (pub_json_error((int)status, msg, &out, &len) != PUB_JSON_OK) {
        (void)http_req_text(rq, status, msg);
        return;
    }
    (void)http_req_respond(
        rq, http_response_new(status, LIVE_PUBLISH_JSON, out, len));
}

static void live_serve__blob(struct http_req *rq, struct http_blob *b)
{
    if (b)
        (void)http_req_blob(rq, b);
    else
        (void)http_req_text(rq, 503, "not built yet; retry in a second");
}

/* /gtfs-rt..., ?format=text for people. */
static bool live_serve__gtfsrt(struct live *l, struct http_req *rq,
                               const char *path)
{
    static const char *const args[] = {"format", NULL};
    const char *format;
    int i;

    for (i = 0; i < LIVE_PUBLISH_RT_N; i++)
        if (strcmp(path, live_publish_rt_path[i]) == 0)
            break;
    if (i == LIVE_PUBLISH_RT_N)
        return false;
    if (!live_serve__args(rq, args))
        return true;
    format = http_req_arg(rq, "format");
    if (format && strcmp(format, "text") != 0 && strcmp(format, "pb") != 0) {
        (void)http_req_text(rq, 400, "format must be text or pb");
        return true;
    }
    if (!l->pub.ready) {
        (void)http_req_text(rq, 503, "the day's timetable is not loaded yet");
        return true;
    }
    if (format && strcmp(format, "text") == 0)
        live_serve__blob(rq, live_publish_get(l, LIVE_PUBLISH_TEXT, i, NULL));
    else {
        live_publish_step(l, false);
        live_serve__blob(rq, l->pub.rt_blob[i]);
    }
    return true;
}

/* /api/v1/... */
static void live_serve__api(struct live *l, struct http_req *rq,
                            const char *path)
{
    static const char *const none[] = {NULL};
    static const char *const lang_only[] = {"lang", NULL};
    const char *rest = path + strlen("/api/v1/"), *lang;

    if (!l->pub.ready) {
        live_serve__json_error(rq, 503,
                               "the day's timetable is not loaded yet");
        return;
    }
    if (strncmp(rest, "stops/", 6) == 0) {
        const char *id = rest + 6, *slash = strchr(id, '/');
        char sid[TRIPS_ID_MAX];
        int stop;

        if (!slash || strcmp(slash, "/arrivals") != 0 ||
            (size_t)(slash - id) >= sizeof sid) {
            live_serve__json_error(rq, 404, "no such resource");
            return;
        }
        memcpy(sid, id, (size_t)(slash - id));
        sid[slash - id] = '\0';
        if (!live_serve__args(rq, lang_only) || !live_serve__lang(rq, &lang))
            return;
        if ((stop = pub_json_stop_find(&l->feed, sid)) < 0) {
            live_serve__json_error(rq, 404, "unknown stop");
            return;
        }
        live_serve__blob(
            rq, live_publish_get(l, LIVE_PUBLISH_ARRIVALS, stop, NULL));
        return;
    }
    if (!live_serve__args(rq, none))
        return;
    live_publish_step(l, false);
    if (strcmp(rest, "stops") == 0)
        live_serve__blob(rq, l->pub.stops);
    else if (strcmp(rest, "routes") == 0)
        live_serve__blob(rq, l->pub.routes);
    else if (strcmp(rest, "vehicles") == 0)
        live_serve__blob(rq, l->pub.vehicles);
    else if (strcmp(rest, "runs") == 0)
        live_serve__blob(rq, l->pub.runs);
    else
        live_serve__json_error(rq, 404, "no such resource");
}

/* ------------------------------------------------------------ reports */

/* A report answered later: the deferred request it completes. */
struct live_serve_report {
    struct http_defer *d;
};

static void live_serve__report_done(void *arg, struct report_job_answer *a)
{
    struct live_serve_report *r = arg;
    struct http_response *resp = http_response_new(
        (unsigned int)a->status, a->content_type, a->body, a->len);

    a->body = NULL;
    if (resp && a->status == 503)
        (void)http_response_header(resp, "Retry-After", "5");
    http_defer_respond(r->d, resp);
    free(r);
}

static void live_serve__report(struct live *l, struct http_req *rq,
                               enum report_job_kind kind)
{
    struct report_job_arg args[HTTP_ARGS_MAX_DEFAULT];
    struct report_job_answer now;
    struct live_serve_report *r;
    unsigned int n = http_req_arg_count(rq);
    uint64_t ticket = 0;
    enum report_job_when w;

    if (!l->reports) {
        (void)http_req_text(rq, 404, "reports are not served here");
        return;
    }
    if (n > sizeof args / sizeof *args) {
        (void)http_req_text(rq, 400, "too many parameters");
        return;
    }
    for (unsigned int i = 0; i < n; i++) {
        const char *name = "", *value = "";

        (void)http_req_arg_at(rq, i, &name, &value);
        args[i].key = name;
        args[i].value = value && value[0] ? value : NULL;
    }
    if (!(r = calloc(1, sizeof *r))) {
        (void)http_req_text(rq, 500, "out of memory");
        return;
    }
    memset(&now, 0, sizeof now);
    w = report_job_request(l->reports, kind, args, n,
                           l->svc_ok ? svcday_zone(&l->svc) : NULL,
                           clock_wall_ms(), clock_mono_ms(),
                           live_serve__report_done, r, &ticket, &now);
    if (w == REPORT_JOB_LATER) {
        if (!(r->d = http_req_defer(rq))) {
            report_job_cancel(l->reports, ticket);
            free(r);
        }
        return;
    }
    free(r);
    {
        struct http_response *resp = http_response_new(
            (unsigned int)now.status, now.content_type, now.body, now.len);

        if (resp && now.status == 503)
            (void)http_response_header(resp, "Retry-After", "5");
        (void)http_req_respond(rq, resp);
    }
}

/* ---------------------------------------------------------------- routes */

static void live_route(void *arg, struct http_req *rq)
{
    static const char *const page_args[] = {"stop", "route", "lang", NULL};
    static const char *const lang_only[] = {"lang", NULL};
    struct live *l = arg;
    const char *path = http_req_path(rq), *lang;
    struct live_text t = {NULL, 0, 0, false};
    enum report_job_kind kind;

    if (live_serve__gtfsrt(l, rq, path))
        return;
    if (strncmp(path, "/api/v1/", 8) == 0) {
        live_serve__api(l, rq, path);
        return;
    }
    /* The operators' pages: behind their password when one is set. */
    if ((strcmp(path, "/fleet") == 0 || strncmp(path, "/report/", 8) == 0 ||
         strncmp(path, "/debug/", 7) == 0) &&
        l->ops_user &&
        !http_req_basic_auth(rq, "shuttle operators", l->ops_user,
                             l->ops_password))
        return;
    if (report_job_kind_of(path, &kind)) {
        live_serve__report(l, rq, kind);
        return;
    }
    if (strcmp(path, "/") == 0) {
        struct pub_page_req req;

        if (!live_serve__args(rq, page_args) || !live_serve__lang(rq, &lang))
            return;
        if (!l->pub.ready) {
            (void)http_req_text(rq, 503,
                                "the day's timetable is not loaded yet");
            return;
        }
        req.stop_id = http_req_arg(rq, "stop");
        req.route_id = http_req_arg(rq, "route");
        req.lang = lang;
        live_serve__blob(rq, live_publish_get(l, LIVE_PUBLISH_PAGE, 0, &req));
        return;
    }
    if (strcmp(path, "/fleet") == 0) {
        if (!live_serve__args(rq, lang_only) || !live_serve__lang(rq, &lang))
            return;
        if (!l->pub.ready) {
            (void)http_req_text(rq, 503,
                                "the day's timetable is not loaded yet");
            return;
        }
        live_serve__blob(rq, live_publish_get(l, LIVE_PUBLISH_FLEET,
                                              strcmp(lang, "en") == 0, NULL));
        return;
    }
    if (strcmp(path, "/gtfs/static.zip") == 0) {
        if (l->pub.zip)
            (void)http_req_blob(rq, l->pub.zip);
        else
            (void)http_req_text(rq, 503, "no static feed loaded yet");
        return;
    }
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

const struct http_callbacks live_http_cb = {
    .collect = live_collect,
    .health = live_health,
    .route = live_route,
};
