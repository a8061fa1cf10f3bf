/* pub_display: the stop displays' payloads (jansson) and the per-stop
 * memory of the last one published. */
#include "pub_display.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pub_board.h"

/* One stop's last publication. */
struct pub_display__stop {
    char id[TRIPS_ID_MAX];
    bool known;    /* something (maybe the empty message) was published */
    bool nonempty; /* and it was not the empty message */
    uint64_t hash; /* of the payload without generated_at */
};

struct pub_display {
    const struct trips_feed *feed; /* the stops below are of this feed */
    struct pub_display__stop *stops;
    size_t nstops;
};

struct pub_display *pub_display_new(void)
{
    return calloc(1, sizeof(struct pub_display));
}

void pub_display_free(struct pub_display *d)
{
    if (d)
        free(d->stops);
    free(d);
}

static bool pub_display__view_ok(const struct pub_view *v)
{
    return v && v->feed;
}

enum pub_display_err pub_display_topic(const struct pub_view *v, int stop,
                                       char *topic)
{
    const char *id;

    if (!pub_display__view_ok(v) || stop < 0 || (size_t)stop >= v->feed->nstops)
        return PUB_DISPLAY_ERR_INVALID;
    id = v->feed->stops[stop].id;
    if (!id[0])
        return PUB_DISPLAY_ERR_INVALID;
    for (const char *p = id; *p; p++)
        if (*p == '/' || *p == '+' || *p == '#' || (unsigned char)*p < 0x20 ||
            *p == 0x7f)
            return PUB_DISPLAY_ERR_INVALID;
    snprintf(topic, PUB_DISPLAY_TOPIC_MAX, "shuttle/v1/stops/%s/arrivals", id);
    return PUB_DISPLAY_OK;
}

/* S, or "" for NULL: names are optional in a view. */
static const char *pub_display__s(const char *s)
{
    return s ? s : "";
}

/* Seconds of MS, floored (as the JSON API's *_unix). */
static json_int_t pub_display__sec(int64_t ms)
{
    return (json_int_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

/* The row R of board B as the JSON API writes its figures; NULL when out
 * of memory. */
static json_t *pub_display__row(const struct pub_view *v,
                                const struct pub_board_row *r)
{
    const struct pub_names *nm = v->names;
    const struct trips_trip *tr = &v->feed->trips[r->trip];
    const struct pub_route *rt =
        nm && r->route >= 0 && (size_t)r->route < nm->nroutes
            ? &nm->routes[r->route]
            : NULL;
    const char *hs = nm && nm->trip_headsign ? nm->trip_headsign[r->trip] : "";
    const char *hs_en =
        nm && nm->trip_headsign_en ? nm->trip_headsign_en[r->trip] : "";

    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:o}", "route", tr->route_id,
        "route_short_name", pub_display__s(rt ? rt->short_name : NULL),
        "headsign", pub_display__s(hs), "headsign_en", pub_display__s(hs_en),
        "status", pub_board_status_name(r->status), "minutes", r->minutes,
        "arrival_unix", pub_display__sec(r->when_ms), "seats_free",
        r->seats_free >= 0 ? json_integer(r->seats_free) : json_null());
}

/* DOC (released here) dumped into *OUT, NUL ended. */
static enum pub_display_err pub_display__dump(json_t *doc, char **out,
                                              size_t *len)
{
    size_t n = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    char *p = n ? malloc(n + 1) : NULL;

    /* Into a buffer of the measured size: all or nothing. */
    if (!p || json_dumpb(doc, p, n, JSON_COMPACT) != n) {
        free(p);
        json_decref(doc);
        return PUB_DISPLAY_ERR_NOMEM;
    }
    p[n] = '\0';
    json_decref(doc);
    *out = p;
    *len = n;
    return PUB_DISPLAY_OK;
}

enum pub_display_err pub_display_payload(const struct pub_view *v, int stop,
                                         int64_t generated_ms, char **out,
                                         size_t *len, char *err, size_t errlen)
{
    struct pub_board b;
    json_t *doc, *rows;
    size_t shown = 0;

    *out = NULL;
    *len = 0;
    if (!pub_display__view_ok(v) || stop < 0 ||
        (size_t)stop >= v->feed->nstops ||
        pub_board_stop(v, stop, &b) != PUB_BOARD_OK) {
        snprintf(err, errlen, "stop %d: no such stop, or a bad view", stop);
        return PUB_DISPLAY_ERR_INVALID;
    }
    rows = json_array();
    doc = json_object();
    if (!rows || !doc) {
        json_decref(rows);
        json_decref(doc);
        goto nomem;
    }
    if (json_object_set_new(doc, "stop",
                            json_string(v->feed->stops[stop].id)) != 0 ||
        (generated_ms >= 0 && json_object_set_new(doc, "generated_at_unix",
                                                  json_integer(pub_display__sec(
                                                      generated_ms))) != 0)) {
        json_decref(rows);
        json_decref(doc);
        goto nomem;
    }
    if (json_object_set_new(doc, "arrivals", rows) != 0) {
        json_decref(doc);
        goto nomem;
    }
    for (size_t i = 0; i < b.nrows && shown < PUB_DISPLAY_ROWS; i++) {
        json_t *row;

        /* A display says what is coming; a bus gone is no use to it. */
        if (b.rows[i].status == PUB_BOARD_DEPARTED)
            continue;
        row = pub_display__row(v, &b.rows[i]);
        if (!row || json_array_append_new(rows, row) != 0) {
            json_decref(doc);
            goto nomem;
        }
        shown++;
    }
    if (shown == 0) {
        json_decref(doc);
        return PUB_DISPLAY_OK;
    }
    if (pub_display__dump(doc, out, len) == PUB_DISPLAY_OK)
        return PUB_DISPLAY_OK;
nomem:
    snprintf(err, errlen, "out of memory");
    return PUB_DISPLAY_ERR_NOMEM;
}

/* Follow V's feed: a new one (a reload) keeps the memory of the stops it
 * still has and clears the displays of those it lost. */
static enum pub_display_err
pub_display__follow(struct pub_display *d, const struct pub_view *v,
                    int (*cb)(void *, const char *, const char *, size_t),
                    void *arg)
{
    const struct trips_feed *f = v->feed;
    struct pub_display__stop *n;

    if (d->feed == f && d->nstops == f->nstops)
        return PUB_DISPLAY_OK;
    n = calloc(f->nstops + 1, sizeof *n);
    if (!n)
        return PUB_DISPLAY_ERR_NOMEM;
    for (size_t i = 0; i < f->nstops; i++)
        snprintf(n[i].id, sizeof n[i].id, "%s", f->stops[i].id);
    for (size_t k = 0; k < d->nstops; k++) {
        const struct pub_display__stop *o = &d->stops[k];
        size_t i = 0;
        char topic[PUB_DISPLAY_TOPIC_MAX];

        while (i < f->nstops && strcmp(n[i].id, o->id) != 0)
            i++;
        if (i < f->nstops) {
            n[i].known = o->known;
            n[i].nonempty = o->nonempty;
            n[i].hash = o->hash;
        } else if (o->nonempty) {
            /* The id was a topic when it was published. */
            snprintf(topic, sizeof topic, "shuttle/v1/stops/%s/arrivals",
                     o->id);
            (void)cb(arg, topic, NULL, 0); /* best effort: it is gone */
        }
    }
    free(d->stops);
    d->stops = n;
    d->nstops = f->nstops;
    d->feed = f;
    return PUB_DISPLAY_OK;
}

enum pub_display_err pub_display_changes(
    struct pub_display *d, const struct pub_view *v,
    int (*cb)(void *arg, const char *topic, const char *payload, size_t len),
    void *arg, size_t *skipped, char *err, size_t errlen)
{
    size_t skip = 0;

    if (skipped)
        *skipped = 0;
    if (!d || !cb || !pub_display__view_ok(v)) {
        snprintf(err, errlen, "no state, callback or view");
        return PUB_DISPLAY_ERR_INVALID;
    }
    if (pub_display__follow(d, v, cb, arg) != PUB_DISPLAY_OK) {
        snprintf(err, errlen, "out of memory");
        return PUB_DISPLAY_ERR_NOMEM;
    }
    for (size_t i = 0; i < d->nstops; i++) {
        struct pub_display__stop *s = &d->stops[i];
        char topic[PUB_DISPLAY_TOPIC_MAX], *p = NULL;
        size_t len = 0;
        uint64_t h;
        enum pub_display_err e;

        if (pub_display_topic(v, (int)i, topic) != PUB_DISPLAY_OK) {
            skip++;
            continue;
        }
        e = pub_display_payload(v, (int)i, -1, &p, &len, err, errlen);
        if (e != PUB_DISPLAY_OK)
            return e;
        h = p ? hash_fnv1a(HASH_FNV1A_INIT, p, len) : 0;
        free(p);
        if (s->known && s->nonempty == (len > 0) && (!len || s->hash == h))
            continue;
        p = NULL;
        if (len) {
            e = pub_display_payload(v, (int)i, v->now_ms, &p, &len, err,
                                    errlen);
            if (e != PUB_DISPLAY_OK)
                return e;
        }
        if (cb(arg, topic, p, p ? len : 0) == 0) {
            s->known = true;
            s->nonempty = p != NULL;
            s->hash = h;
        }
        free(p);
    }
    if (skipped)
        *skipped = skip;
    return PUB_DISPLAY_OK;
}
