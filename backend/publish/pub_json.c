/* pub_json: the JSON API's documents with jansson, measured then dumped
 * into one buffer. */
#include "pub_json.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "live_gtfsrt.h"
#include "pub_board.h"
#include "pub_names.h"

/* Compact; "/" escaped so that a name holding "</script>" cannot end the
 * script block of a page that embeds a document; reals with enough digits
 * that 126.67380 stays 126.6738. */
#define PUB_JSON__FLAGS                                                        \
    (JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(15))

/* A string, repaired when it is not UTF-8 (jansson refuses such strings,
 * and one bad name must not cost every rider the whole document); null
 * for NULL. NULL only when memory ran out. */
static json_t *pub_json__str(const char *s)
{
    json_t *j;
    char *fixed;

    if (!s)
        return json_null();
    j = json_string(s);
    if (j)
        return j;
    fixed = pub_names_utf8_repair(s);
    if (!fixed)
        return NULL;
    j = json_string(fixed);
    free(fixed);
    return j;
}

/* Set KEY of O; json_object_set_new releases V on failure and fails on a
 * NULL V, so the results of a document's sets can be or-ed. */
static int pub_json__set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) != 0;
}

static int pub_json__set_int(json_t *o, const char *key, long long v)
{
    return pub_json__set(o, key, json_integer((json_int_t)v));
}

static int pub_json__set_str(json_t *o, const char *key, const char *s)
{
    return pub_json__set(o, key, pub_json__str(s));
}

/* Append V (NULL: failed), released on failure. */
static int pub_json__append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) != 0;
}

/* X rounded to DIGITS decimals, null when unknown (JSON has no NaN). */
static json_t *pub_json__real(double x, int digits)
{
    char b[64];

    if (!isfinite(x))
        return json_null();
    snprintf(b, sizeof b, "%.*f", digits, x);
    return json_real(strtod(b, NULL));
}

static int64_t pub_json__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The zone's offset from UTC on the service day: local midnight (day *
 * 86400 s as a UTC clock reads it) minus the instant GTFS times count
 * from. Exact where the zone has no clock change that day (Asia/Seoul has
 * none); an offset beyond +-14 h means a bad view, and UTC is shown. */
static int64_t pub_json__offset_ms(const struct pub_view *v)
{
    int64_t off = (int64_t)v->day * 86400000 - v->feed->day_ms;

    if (off > 14 * 3600000LL || off < -14 * 3600000LL)
        return 0;
    return off;
}

char *pub_json_time(const struct pub_view *v, int64_t ms, char *buf)
{
    int64_t off = pub_json__offset_ms(v);
    int64_t offmin = off / 60000;
    time_t t = (time_t)pub_json__floor_div(ms + off, 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm)) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, PUB_JSON_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, offmin < 0 ? '-' : '+',
             (int)((offmin < 0 ? -offmin : offmin) / 60),
             (int)((offmin < 0 ? -offmin : offmin) % 60));
    return buf;
}

/* KEY as ISO 8601 and KEY_unix as seconds; both null when MS < 0. */
static int pub_json__set_time(json_t *o, const struct pub_view *v,
                              const char *key, int64_t ms)
{
    char iso[PUB_JSON_TIME_MAX], ukey[64];

    snprintf(ukey, sizeof ukey, "%s_unix", key);
    if (ms < 0)
        return pub_json__set(o, key, json_null()) |
               pub_json__set(o, ukey, json_null());
    return pub_json__set_str(o, key, pub_json_time(v, ms, iso)) |
           pub_json__set_int(o, ukey, pub_json__floor_div(ms, 1000));
}

/* The keys every document starts with; NULL when memory ran out. */
static json_t *pub_json__doc(const struct pub_view *v)
{
    json_t *o = json_object();
    int bad;

    if (!o)
        return NULL;
    bad = pub_json__set_time(o, v, "generated_at", v->now_ms) |
          json_object_set_new(o, "generation",
                              json_integer((json_int_t)v->generation)) |
          pub_json__set_str(o, "feed_version", v->names->feed_version) |
          pub_json__set_str(o, "service_day", v->day_text ? v->day_text : "");
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Dump DOC (released here) into *OUT. Into a buffer of the measured size:
 * jansson's growing dump can drop a key when an allocation fails, a
 * fixed buffer cannot. */
static enum pub_json_err pub_json__dump(json_t *doc, int bad, char **out,
                                        size_t *len, char *err, size_t errlen)
{
    size_t n = doc && !bad ? json_dumpb(doc, NULL, 0, PUB_JSON__FLAGS) : 0;
    char *text = n ? malloc(n + 1) : NULL;

    if (!text || json_dumpb(doc, text, n, PUB_JSON__FLAGS) != n) {
        free(text);
        json_decref(doc);
        snprintf(err, errlen, "out of memory");
        return PUB_JSON_ERR_NOMEM;
    }
    json_decref(doc);
    text[n] = '\0';
    *out = text;
    *len = n;
    return PUB_JSON_OK;
}

static enum pub_json_err pub_json__check(const struct pub_view *v, char **out,
                                         size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!v || !v->feed || !v->names || !v->names->stops ||
        v->names->nstops != v->feed->nstops || !v->names->trip_route ||
        !v->names->trip_headsign || !v->names->trip_headsign_en ||
        (v->trips && v->ntrips != v->feed->ntrips) ||
        (v->nvehicles && !v->vehicles)) {
        snprintf(err, errlen, "no feed or names, or a view of another feed");
        return PUB_JSON_ERR_INVALID;
    }
    return PUB_JSON_OK;
}

/* Route index R's entry in the names, or NULL. */
static const struct pub_route *pub_json__route(const struct pub_view *v, int r)
{
    return r >= 0 && (size_t)r < v->names->nroutes ? &v->names->routes[r]
                                                   : NULL;
}

/* The route id of trip T: the names' entry, else the timetable's text. */
static const char *pub_json__trip_route_id(const struct pub_view *v, int t)
{
    const struct pub_route *r = pub_json__route(v, v->names->trip_route[t]);

    return r ? r->id : v->feed->trips[t].route_id;
}

/* Tracker vehicle I, or NULL when I is none or outside the view. */
static const struct live_vehicle *pub_json__vehicle(const struct pub_view *v,
                                                    int i)
{
    return i >= 0 && (size_t)i < v->nvehicles ? v->vehicles[i] : NULL;
}

/* --- stops ------------------------------------------------------------ */

enum pub_json_err pub_json_stops(const struct pub_view *v, char **out,
                                 size_t *len, char *err, size_t errlen)
{
    enum pub_json_err e = pub_json__check(v, out, len, err, errlen);
    const struct trips_feed *f;
    size_t nr;
    bool *serves;
    json_t *doc, *arr;
    int bad;

    if (e != PUB_JSON_OK)
        return e;
    f = v->feed;
    nr = v->names->nroutes;
    /* Which route serves which stop, from today's trips. */
    serves = calloc(f->nstops * nr + 1, sizeof *serves);
    doc = pub_json__doc(v);
    arr = json_array();
    bad = !serves || !doc || !arr;
    for (size_t t = 0; !bad && t < f->ntrips; t++) {
        int r = v->names->trip_route[t];

        if (r < 0 || (size_t)r >= nr)
            continue;
        for (size_t k = 0; k < f->trips[t].n; k++)
            serves[(size_t)f->st[f->trips[t].first + k].stop * nr + (size_t)r] =
                true;
    }
    for (size_t s = 0; !bad && s < f->nstops; s++) {
        const struct pub_stop_name *sn = &v->names->stops[s];
        json_t *o = json_object(), *routes = json_array();

        bad = pub_json__append(arr, o) || !routes;
        if (bad) {
            json_decref(routes);
            break;
        }
        for (size_t r = 0; r < nr && !bad; r++)
            if (serves[s * nr + r])
                bad = pub_json__append(routes,
                                       pub_json__str(v->names->routes[r].id));
        bad |= pub_json__set_str(o, "id", f->stops[s].id) |
               pub_json__set_str(o, "code", sn->code) |
               pub_json__set_str(o, "name", sn->name) |
               pub_json__set_str(o, "name_en", sn->name_en) |
               pub_json__set(o, "lat", pub_json__real(f->stops[s].lat, 5)) |
               pub_json__set(o, "lon", pub_json__real(f->stops[s].lon, 5)) |
               pub_json__set(o, "routes", routes);
    }
    free(serves);
    if (!bad)
        bad = pub_json__set(doc, "stops", arr);
    else
        json_decref(arr);
    return pub_json__dump(doc, bad, out, len, err, errlen);
}

/* --- routes ----------------------------------------------------------- */

/* The trip whose stop pattern most of route R's trips in direction DIR
 * follow today (ties: the longer pattern, then the earlier trip), or -1.
 * COUNT has room for npatterns. */
static int pub_json__route_pattern(const struct pub_view *v, int r, int dir,
                                   int *count)
{
    const struct trips_feed *f = v->feed;
    int best = -1;

    memset(count, 0,
           (size_t)(f->npatterns > 0 ? f->npatterns : 1) * sizeof *count);
    for (size_t t = 0; t < f->ntrips; t++) {
        const struct trips_trip *tr = &f->trips[t];

        if (v->names->trip_route[t] != r || tr->direction != dir ||
            tr->pattern < 0 || tr->pattern >= f->npatterns)
            continue;
        count[tr->pattern]++;
    }
    for (size_t t = 0; t < f->ntrips; t++) {
        const struct trips_trip *tr = &f->trips[t];
        const struct trips_trip *b;

        if (v->names->trip_route[t] != r || tr->direction != dir ||
            tr->pattern < 0 || tr->pattern >= f->npatterns)
            continue;
        if (best < 0) {
            best = (int)t;
            continue;
        }
        b = &f->trips[best];
        if (count[tr->pattern] > count[b->pattern] ||
            (count[tr->pattern] == count[b->pattern] && tr->n > b->n))
            best = (int)t;
    }
    return best;
}

static json_t *pub_json__direction(const struct pub_view *v, int dir, int t)
{
    const struct trips_trip *tr = &v->feed->trips[t];
    json_t *o = json_object(), *stops = json_array();
    int bad = !o || !stops;

    for (size_t k = 0; !bad && k < tr->n; k++)
        bad = pub_json__append(
            stops,
            pub_json__str(v->feed->stops[v->feed->st[tr->first + k].stop].id));
    if (bad) {
        json_decref(o);
        json_decref(stops);
        return NULL;
    }
    bad = pub_json__set(o, "direction",
                        dir >= 0 ? json_integer(dir) : json_null()) |
          pub_json__set_str(o, "headsign", v->names->trip_headsign[t]) |
          pub_json__set_str(o, "headsign_en", v->names->trip_headsign_en[t]) |
          pub_json__set(o, "stops", stops);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum pub_json_err pub_json_routes(const struct pub_view *v, char **out,
                                  size_t *len, char *err, size_t errlen)
{
    enum pub_json_err e = pub_json__check(v, out, len, err, errlen);
    json_t *doc, *arr;
    int *count;
    int bad;

    if (e != PUB_JSON_OK)
        return e;
    doc = pub_json__doc(v);
    arr = json_array();
    count = malloc((size_t)(v->feed->npatterns > 0 ? v->feed->npatterns : 1) *
                   sizeof *count);
    bad = !doc || !arr || !count;
    for (size_t r = 0; !bad && r < v->names->nroutes; r++) {
        const struct pub_route *rt = &v->names->routes[r];
        json_t *o = json_object(), *dirs = json_array();
        static const int order[] = {0, 1, -1};

        bad = pub_json__append(arr, o) || !dirs;
        if (bad) {
            json_decref(dirs);
            break;
        }
        for (size_t d = 0; d < 3 && !bad; d++) {
            int t = pub_json__route_pattern(v, (int)r, order[d], count);

            if (t >= 0)
                bad =
                    pub_json__append(dirs, pub_json__direction(v, order[d], t));
        }
        bad |= pub_json__set_str(o, "id", rt->id) |
               pub_json__set_str(o, "short_name", rt->short_name) |
               pub_json__set_str(o, "long_name", rt->long_name) |
               pub_json__set_str(o, "long_name_en", rt->long_name_en) |
               pub_json__set_str(o, "color", rt->color) |
               pub_json__set_str(o, "text_color", rt->text_color) |
               pub_json__set(o, "directions", dirs);
    }
    free(count);
    if (!bad)
        bad = pub_json__set(doc, "routes", arr);
    else
        json_decref(arr);
    return pub_json__dump(doc, bad, out, len, err, errlen);
}

/* --- vehicles --------------------------------------------------------- */

const char *pub_json_status_name(enum live_status s)
{
    switch (s) {
    case LIVE_STATUS_UNKNOWN:
        return "unknown";
    case LIVE_STATUS_AT_STOP:
        return "at_stop";
    case LIVE_STATUS_IN_TRANSIT:
        return "in_transit";
    case LIVE_STATUS_LAYOVER:
        return "layover";
    case LIVE_STATUS_DEADHEAD:
        return "deadhead";
    case LIVE_STATUS_OFF_ROUTE:
        return "off_route";
    case LIVE_STATUS_STALE:
        return "stale";
    }
    return "unknown";
}

/* Whole degrees clockwise from north, 0..359; null when unknown. */
static json_t *pub_json__bearing(double b)
{
    long d;

    if (!isfinite(b))
        return json_null();
    d = lround(fmod(b, 360.0));
    return json_integer((json_int_t)((d % 360 + 360) % 360));
}

/* The owned bus of tracker vehicle I, or NULL. */
static const struct pub_bus *pub_json__bus(const struct pub_view *v, size_t i)
{
    for (size_t b = 0; v->buses && b < v->nbuses; b++)
        if (v->buses[b].vehicle == (int)i)
            return &v->buses[b];
    return NULL;
}

static json_t *pub_json__one_vehicle(const struct pub_view *v, size_t i,
                                     const struct live_vehicle *lv)
{
    const struct trips_feed *f = v->feed;
    const struct pub_bus *bus = pub_json__bus(v, i);
    bool on_trip = lv->trip >= 0 && (size_t)lv->trip < f->ntrips;
    bool has_fix = lv->fix_ms >= 0;
    int seats = v->seats && v->seats[i] > 0 ? v->seats[i] : PUB_SEATS_DEFAULT;
    int pct = live_gtfsrt_occupancy(lv->load, seats, NULL);
    const char *next = NULL;
    json_t *o = json_object();
    int bad;

    if (!o)
        return NULL;
    if (on_trip && lv->next_pos >= 0 &&
        (size_t)lv->next_pos < f->trips[lv->trip].n)
        next = f->stops[f->st[f->trips[lv->trip].first + (size_t)lv->next_pos]
                            .stop]
                   .id;
    bad =
        pub_json__set_str(o, "id", lv->id) |
        pub_json__set_str(
            o, "route", on_trip ? pub_json__trip_route_id(v, lv->trip) : NULL) |
        pub_json__set_str(o, "trip", on_trip ? f->trips[lv->trip].id : NULL) |
        pub_json__set(o, "lat", pub_json__real(has_fix ? lv->lat : NAN, 5)) |
        pub_json__set(o, "lon", pub_json__real(has_fix ? lv->lon : NAN, 5)) |
        pub_json__set(o, "bearing",
                      pub_json__bearing(has_fix ? lv->bearing : NAN)) |
        pub_json__set(o, "speed",
                      pub_json__real(has_fix ? lv->speed : NAN, 1)) |
        pub_json__set_str(o, "status", pub_json_status_name(lv->status)) |
        pub_json__set_str(o, "next_stop", next) |
        pub_json__set(o, "delay_s",
                      on_trip ? json_integer(lv->delay_s) : json_null()) |
        pub_json__set(o, "occupancy_pct",
                      pct >= 0 ? json_integer(pct) : json_null()) |
        pub_json__set(o, "fix_age_s",
                      has_fix ? json_integer((json_int_t)pub_json__floor_div(
                                    v->now_ms - lv->fix_ms, 1000))
                              : json_null()) |
        pub_json__set(o, "online",
                      bus && bus->status_known ? json_boolean(bus->online)
                                               : json_null()) |
        pub_json__set(o, "stale",
                      json_boolean(!has_fix ||
                                   lv->status == LIVE_STATUS_STALE ||
                                   v->now_ms - lv->fix_ms > LIVE_STALE_MS));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum pub_json_err pub_json_vehicles(const struct pub_view *v, char **out,
                                    size_t *len, char *err, size_t errlen)
{
    enum pub_json_err e = pub_json__check(v, out, len, err, errlen);
    json_t *doc, *arr;
    int bad;

    if (e != PUB_JSON_OK)
        return e;
    doc = pub_json__doc(v);
    arr = json_array();
    bad = !doc || !arr;
    for (size_t i = 0; !bad && i < v->nvehicles; i++)
        if (v->vehicles[i])
            bad = pub_json__append(arr,
                                   pub_json__one_vehicle(v, i, v->vehicles[i]));
    if (!bad)
        bad = pub_json__set(doc, "vehicles", arr);
    else
        json_decref(arr);
    return pub_json__dump(doc, bad, out, len, err, errlen);
}

/* --- arrivals --------------------------------------------------------- */

static json_t *pub_json__row(const struct pub_view *v,
                             const struct pub_board_row *r)
{
    const struct pub_route *rt = pub_json__route(v, r->route);
    const struct live_vehicle *lv = pub_json__vehicle(v, r->vehicle);
    json_t *o = json_object(), *unc = NULL;
    int bad;

    if (!o)
        return NULL;
    if (r->lo_ms >= 0 && r->hi_ms >= 0) {
        unc = json_object();
        if (!unc ||
            pub_json__set_int(
                unc, "lo", pub_json__floor_div(r->lo_ms - r->when_ms, 1000)) |
                pub_json__set_int(unc, "hi", (r->hi_ms - r->when_ms) / 1000)) {
            json_decref(unc);
            json_decref(o);
            return NULL;
        }
    }
    bad = pub_json__set_str(o, "trip", v->feed->trips[r->trip].id) |
          pub_json__set_str(o, "route", pub_json__trip_route_id(v, r->trip)) |
          pub_json__set_str(o, "route_short_name", rt ? rt->short_name : NULL) |
          pub_json__set_str(o, "headsign", v->names->trip_headsign[r->trip]) |
          pub_json__set_str(o, "headsign_en",
                            v->names->trip_headsign_en[r->trip]) |
          pub_json__set_str(o, "vehicle", lv ? lv->id : NULL) |
          pub_json__set_str(o, "status", pub_board_status_name(r->status)) |
          pub_json__set_int(o, "minutes", r->minutes) |
          pub_json__set_time(o, v, "arrival", r->when_ms) |
          pub_json__set_time(o, v, "scheduled", r->sched_ms) |
          pub_json__set_int(o, "delay_s", r->delay_s) |
          pub_json__set(o, "uncertainty_s", unc ? unc : json_null()) |
          pub_json__set(o, "seats_free",
                        r->seats_free >= 0 ? json_integer(r->seats_free)
                                           : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum pub_json_err pub_json_arrivals(const struct pub_view *v, int stop,
                                    char **out, size_t *len, char *err,
                                    size_t errlen)
{
    enum pub_json_err e = pub_json__check(v, out, len, err, errlen);
    struct pub_board b;
    const struct pub_stop_name *sn;
    json_t *doc, *so, *arr;
    int bad;

    if (e != PUB_JSON_OK)
        return e;
    if (pub_board_stop(v, stop, &b) != PUB_BOARD_OK) {
        snprintf(err, errlen, "stop %d is not in the feed", stop);
        return PUB_JSON_ERR_INVALID;
    }
    sn = &v->names->stops[stop];
    doc = pub_json__doc(v);
    so = json_object();
    arr = json_array();
    bad = !doc || !so || !arr;
    if (!bad)
        bad = pub_json__set_str(so, "id", v->feed->stops[stop].id) |
              pub_json__set_str(so, "code", sn->code) |
              pub_json__set_str(so, "name", sn->name) |
              pub_json__set_str(so, "name_en", sn->name_en);
    for (size_t i = 0; !bad && i < b.nrows; i++)
        bad = pub_json__append(arr, pub_json__row(v, &b.rows[i]));
    if (!bad) {
        bad = pub_json__set(doc, "stop", so) |
              pub_json__set(doc, "arrivals", arr);
    } else {
        json_decref(so);
        json_decref(arr);
    }
    return pub_json__dump(doc, bad, out, len, err, errlen);
}

/* --- runs ------------------------------------------------------------- */

struct pub_json__run {
    int64_t start_ms;
    int trip;
};

static int pub_json__run_cmp(const void *a, const void *b)
{
    const struct pub_json__run *x = a, *y = b;

    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return (x->trip > y->trip) - (x->trip < y->trip);
}

/* What became of trip T by its prediction TP: "done" once its last stop
 * was reached (or its bus moved on after the last stop's time), else the
 * prediction's state; "scheduled" with none. *DELAY_S gets the delay at
 * the first stop not yet passed (the last one when done); *HAS_DELAY
 * whether there is one. */
static const char *pub_json__run_state(const struct pub_view *v,
                                       const struct live_trip_pred *tp, int t,
                                       int *delay_s, bool *has_delay)
{
    const struct live_stop_pred *last, *at = NULL;
    const struct live_vehicle *lv;

    *has_delay = false;
    /* shuttle-live drops a trip's prediction when its bus reaches the end:
     * driven and unlisted is done. */
    if (!tp && v->served && v->served[t])
        return "done";
    if (!tp || !tp->stops || tp->nstops == 0)
        return tp && tp->state == LIVE_TRIP_CANCELED ? "canceled" : "scheduled";
    if (tp->state == LIVE_TRIP_CANCELED)
        return "canceled";
    last = &tp->stops[tp->nstops - 1];
    for (size_t k = 0; k < tp->nstops && !at; k++)
        if (tp->stops[k].kind == LIVE_KIND_PREDICTED)
            at = &tp->stops[k];
    lv = pub_json__vehicle(v, tp->vehicle);
    if (last->kind == LIVE_KIND_DEPARTED ||
        (lv && lv->trip != t && last->arr_ms >= 0 &&
         last->arr_ms <= v->now_ms)) {
        if (last->arr_ms >= 0 && last->sched_arr_ms >= 0) {
            *delay_s = (int)((last->arr_ms - last->sched_arr_ms) / 1000);
            *has_delay = true;
        }
        return "done";
    }
    if (at && at->arr_ms >= 0 && at->sched_arr_ms >= 0 &&
        tp->state != LIVE_TRIP_SCHEDULED) {
        *delay_s = (int)((at->arr_ms - at->sched_arr_ms) / 1000);
        *has_delay = true;
    }
    switch (tp->state) {
    case LIVE_TRIP_ACTIVE:
        return "active";
    case LIVE_TRIP_NEXT:
        return "next";
    case LIVE_TRIP_SCHEDULED:
        return "scheduled";
    case LIVE_TRIP_CANCELED:
        return "canceled";
    }
    return "scheduled";
}

static json_t *pub_json__one_run(const struct pub_view *v, int t)
{
    const struct trips_feed *f = v->feed;
    const struct trips_trip *tr = &f->trips[t];
    const struct live_trip_pred *tp = v->trips ? v->trips[t] : NULL;
    const struct live_vehicle *lv = tp && tp->state != LIVE_TRIP_CANCELED
                                        ? pub_json__vehicle(v, tp->vehicle)
                                        : NULL;
    int delay_s = 0;
    bool has_delay;
    const char *state = pub_json__run_state(v, tp, t, &delay_s, &has_delay);
    json_t *o = json_object();
    int bad;

    if (!o)
        return NULL;
    bad = pub_json__set_str(o, "trip", tr->id) |
          pub_json__set_str(o, "route", pub_json__trip_route_id(v, t)) |
          pub_json__set_str(o, "block", tr->block_id) |
          pub_json__set(o, "direction",
                        tr->direction >= 0 ? json_integer(tr->direction)
                                           : json_null()) |
          pub_json__set_str(o, "headsign", v->names->trip_headsign[t]) |
          pub_json__set_time(o, v, "start",
                             tr->n ? trips_start_ms(f, (size_t)t) : -1) |
          pub_json__set_time(
              o, v, "end",
              tr->n ? trips_sched_ms(f, f->st[tr->first + tr->n - 1].arr_s)
                    : -1) |
          pub_json__set_str(o, "state", state) |
          pub_json__set_str(o, "vehicle", lv ? lv->id : NULL) |
          pub_json__set(o, "delay_s",
                        has_delay ? json_integer(delay_s) : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum pub_json_err pub_json_runs(const struct pub_view *v, char **out,
                                size_t *len, char *err, size_t errlen)
{
    enum pub_json_err e = pub_json__check(v, out, len, err, errlen);
    struct pub_json__run *order;
    json_t *doc, *arr;
    int bad;

    if (e != PUB_JSON_OK)
        return e;
    order = malloc((v->feed->ntrips + 1) * sizeof *order);
    doc = pub_json__doc(v);
    arr = json_array();
    bad = !order || !doc || !arr;
    if (!bad) {
        for (size_t t = 0; t < v->feed->ntrips; t++) {
            order[t].trip = (int)t;
            order[t].start_ms =
                v->feed->trips[t].n ? trips_start_ms(v->feed, t) : INT64_MAX;
        }
        qsort(order, v->feed->ntrips, sizeof *order, pub_json__run_cmp);
    }
    for (size_t i = 0; !bad && i < v->feed->ntrips; i++)
        bad = pub_json__append(arr, pub_json__one_run(v, order[i].trip));
    free(order);
    if (!bad)
        bad = pub_json__set(doc, "runs", arr);
    else
        json_decref(arr);
    return pub_json__dump(doc, bad, out, len, err, errlen);
}

/* --- errors and look-ups ---------------------------------------------- */

enum pub_json_err pub_json_error(int status, const char *msg, char **out,
                                 size_t *len)
{
    json_t *doc = json_object(), *e = json_object();
    char err[64];
    int bad = !doc || !e;

    *out = NULL;
    *len = 0;
    if (!bad)
        bad = pub_json__set_int(e, "status", status) |
              pub_json__set_str(e, "message", msg ? msg : "");
    if (!bad)
        bad = pub_json__set(doc, "error", e);
    else
        json_decref(e);
    return pub_json__dump(doc, bad, out, len, err, sizeof err);
}

int pub_json_stop_find(const struct trips_feed *f, const char *id)
{
    if (!f || !id)
        return -1;
    for (size_t s = 0; s < f->nstops; s++)
        if (strcmp(f->stops[s].id, id) == 0)
            return (int)s;
    return -1;
}
