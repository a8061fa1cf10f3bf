/* pub_names: names and translations from query results into one pool of
 * strings, by the timetable's stop and trip indices. */
#include "pub_names.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The English text of TABLE.FIELD for the row whose id is ID and whose
 * own text is VALUE: a translation by record_id wins over one by
 * field_value (GTFS allows either). COPY leaves empty cells NULL, but a
 * hand-loaded feed may hold '' for "none". */
#define PUB_NAMES__EN(table, field, id, value)                                 \
    "(SELECT tr.translation FROM gtfs_translations tr"                         \
    " WHERE tr.table_name = '" table "' AND tr.field_name = '" field "'"       \
    " AND (tr.language = 'en' OR tr.language LIKE 'en-%')"                     \
    " AND (tr.record_id = " id " OR (coalesce(tr.record_id, '') = ''"          \
    " AND tr.field_value = " value "))"                                        \
    " ORDER BY coalesce(tr.record_id, '') = '', tr.language LIMIT 1)"

const char *const pub_names_sql_stops =
    "SELECT s.stop_id, coalesce(s.stop_code, ''), coalesce(s.stop_name, ''),"
    " coalesce(" PUB_NAMES__EN(
        "stops", "stop_name", "s.stop_id",
        "s.stop_name") ", s.stop_name, ''),"
                       " coalesce(s.stop_desc, '')"
                       " FROM gtfs_stops s ORDER BY s.stop_id COLLATE \"C\"";

const char *const pub_names_sql_routes =
    "SELECT r.route_id, coalesce(r.route_short_name, ''),"
    " coalesce(r.route_long_name, ''),"
    " coalesce(" PUB_NAMES__EN(
        "routes", "route_long_name", "r.route_id",
        "r.route_long_name") ", r.route_long_name, ''),"
                             " coalesce(r.route_color, ''), "
                             "coalesce(r.route_text_color, '')"
                             " FROM gtfs_routes r"
                             " ORDER BY r.route_sort_order NULLS LAST, "
                             "r.route_id COLLATE \"C\"";

const char *const pub_names_sql_trips =
    "SELECT t.trip_id, coalesce(t.trip_headsign, ''),"
    " coalesce(" PUB_NAMES__EN(
        "trips", "trip_headsign", "t.trip_id",
        "t.trip_headsign") ", t.trip_headsign, '')"
                           " FROM gtfs_trips t WHERE t.service_id IN (SELECT "
                           "gtfs_services_on($1))"
                           " ORDER BY t.trip_id COLLATE \"C\"";

const char *const pub_names_sql_feed =
    "SELECT coalesce((SELECT feed_version FROM gtfs_feed_info LIMIT 1), ''),"
    " coalesce(a.agency_name, ''),"
    " coalesce(" PUB_NAMES__EN(
        "agency", "agency_name", "a.agency_id",
        "a.agency_name") ", a.agency_name, ''),"
                         " coalesce(a.agency_timezone, ''),"
                         " coalesce(a.agency_lang,"
                         "  (SELECT feed_lang FROM gtfs_feed_info LIMIT 1), '')"
                         " FROM (SELECT 1) AS one LEFT JOIN LATERAL"
                         " (SELECT * FROM gtfs_agency ORDER BY agency_id LIMIT "
                         "1) a ON true";

/* Length of the valid UTF-8 sequence at S, 0 when S does not start one
 * (the NUL included: it is never a continuation byte). */
static int pub_names__utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    int n;

    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Bytes S takes once repaired, without the NUL. */
static size_t pub_names__repaired_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0;

    while (*p) {
        int n = pub_names__utf8_seq(p);

        len += n ? (size_t)n : 3;
        p += n ? n : 1;
    }
    return len;
}

/* Copy S repaired to DST (room for pub_names__repaired_len + 1). */
static void pub_names__repair_into(char *dst, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = pub_names__utf8_seq(p);

        if (n == 0) {
            memcpy(dst, "\xef\xbf\xbd", 3);
            dst += 3;
            p++;
        } else {
            memcpy(dst, p, (size_t)n);
            dst += n;
            p += n;
        }
    }
    *dst = '\0';
}

int pub_names_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = pub_names__utf8_seq(p);

        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

char *pub_names_utf8_repair(const char *s)
{
    size_t len = pub_names__repaired_len(s);
    char *out = malloc(len + 1);

    if (out)
        pub_names__repair_into(out, s);
    return out;
}

void pub_names_free(struct pub_names *n)
{
    free(n->stops);
    free(n->routes);
    free(n->trip_route);
    free((void *)n->trip_headsign);
    free((void *)n->trip_headsign_en);
    free(n->pool);
    memset(n, 0, sizeof *n);
}

/* Ids with their index, sorted for bsearch: the queries' order is not
 * relied on (a collation could differ from strcmp's). */
struct pub_names__id {
    const char *id;
    int idx;
};

static int pub_names__cmp(const void *a, const void *b)
{
    return strcmp(((const struct pub_names__id *)a)->id,
                  ((const struct pub_names__id *)b)->id);
}

static int pub_names__find(const struct pub_names__id *ids, size_t n,
                           const char *id)
{
    struct pub_names__id key = {id, -1};
    const struct pub_names__id *hit =
        n ? bsearch(&key, ids, n, sizeof *ids, pub_names__cmp) : NULL;

    return hit ? hit->idx : -1;
}

/* The string S copied (repaired) into the pool; "" shares pool[0]. The
 * pool was sized by a first pass over the same cells, so it never grows
 * and the pointers already handed out stay valid. */
static const char *pub_names__put(struct pub_names *n, const char *s)
{
    size_t len = pub_names__repaired_len(s);
    char *dst;

    if (len == 0 || n->pool_len + len + 1 > n->pool_cap)
        return n->pool;
    dst = n->pool + n->pool_len;
    pub_names__repair_into(dst, s);
    n->pool_len += len + 1;
    return dst;
}

static bool pub_names__color_ok(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return s[6] == '\0';
}

/* Pool bytes the cells COLS of every row of R will take. */
static size_t pub_names__need(const PGresult *r, int ncols)
{
    size_t need = 0;

    for (int i = 0; i < PQntuples(r); i++)
        for (int c = 0; c < ncols; c++)
            need += pub_names__repaired_len(PQgetvalue(r, i, c)) + 1;
    return need;
}

/* The English cell, or the feed's own text when it has none. */
static const char *pub_names__en(const char *en, const char *own)
{
    return en[0] ? en : own;
}

static enum pub_names_err pub_names__fail(struct pub_names *out,
                                          enum pub_names_err e, char *err,
                                          size_t errlen, const char *msg)
{
    pub_names_free(out);
    snprintf(err, errlen, "%s", msg);
    return e;
}

static void pub_names__stops(const struct trips_feed *f, const PGresult *r,
                             const struct pub_names__id *ids,
                             struct pub_names *out)
{
    for (int i = 0; i < PQntuples(r); i++) {
        int s = pub_names__find(ids, f->nstops, PQgetvalue(r, i, 0));
        struct pub_stop_name *sn;

        if (s < 0)
            continue;
        sn = &out->stops[s];
        sn->code = pub_names__put(out, PQgetvalue(r, i, 1));
        sn->name = pub_names__put(out, PQgetvalue(r, i, 2));
        sn->name_en = pub_names__put(
            out, pub_names__en(PQgetvalue(r, i, 3), PQgetvalue(r, i, 2)));
        sn->desc = pub_names__put(out, PQgetvalue(r, i, 4));
    }
}

static void pub_names__routes(const PGresult *r, struct pub_names *out)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct pub_route *rt = &out->routes[out->nroutes++];
        const char *color = PQgetvalue(r, i, 4);
        const char *text = PQgetvalue(r, i, 5);

        rt->id = pub_names__put(out, PQgetvalue(r, i, 0));
        rt->short_name = pub_names__put(out, PQgetvalue(r, i, 1));
        rt->long_name = pub_names__put(out, PQgetvalue(r, i, 2));
        rt->long_name_en = pub_names__put(
            out, pub_names__en(PQgetvalue(r, i, 3), PQgetvalue(r, i, 2)));
        rt->color =
            pub_names__put(out, pub_names__color_ok(color) ? color : "");
        rt->text_color =
            pub_names__put(out, pub_names__color_ok(text) ? text : "");
    }
}

static void pub_names__trips(const PGresult *r, const struct pub_names__id *ids,
                             size_t nids, struct pub_names *out)
{
    for (int i = 0; i < PQntuples(r); i++) {
        int t = pub_names__find(ids, nids, PQgetvalue(r, i, 0));

        if (t < 0)
            continue;
        out->trip_headsign[t] = pub_names__put(out, PQgetvalue(r, i, 1));
        out->trip_headsign_en[t] = pub_names__put(
            out, pub_names__en(PQgetvalue(r, i, 2), PQgetvalue(r, i, 1)));
    }
}

enum pub_names_err
pub_names_from_results(const struct trips_feed *f, const PGresult *stops,
                       const PGresult *routes, const PGresult *trips,
                       const PGresult *feed, struct pub_names *out, char *err,
                       size_t errlen)
{
    struct pub_names__id *ids = NULL, *rids = NULL;
    size_t nids, nr = (size_t)PQntuples(routes);
    size_t need = 1;

    memset(out, 0, sizeof *out);
    if (PQnfields(stops) != 5 || PQnfields(routes) != 6 ||
        PQnfields(trips) != 3 || PQnfields(feed) != 5)
        return pub_names__fail(out, PUB_NAMES_ERR_QUERY, err, errlen,
                               "names query has the wrong columns");
    /* Twice the English cells: the fallback may copy the own text. */
    need += pub_names__need(stops, 5) + pub_names__need(routes, 6) +
            pub_names__need(trips, 3) + pub_names__need(feed, 5);
    need *= 2;
    out->pool = malloc(need);
    out->stops = calloc(f->nstops + 1, sizeof *out->stops);
    out->routes = calloc(nr + 1, sizeof *out->routes);
    out->trip_route = malloc((f->ntrips + 1) * sizeof *out->trip_route);
    out->trip_headsign = malloc((f->ntrips + 1) * sizeof(char *));
    out->trip_headsign_en = malloc((f->ntrips + 1) * sizeof(char *));
    nids = f->nstops > f->ntrips ? f->nstops : f->ntrips;
    ids = malloc((nids + 1) * sizeof *ids);
    rids = malloc((nr + 1) * sizeof *rids);
    if (!out->pool || !out->stops || !out->routes || !out->trip_route ||
        !out->trip_headsign || !out->trip_headsign_en || !ids || !rids) {
        free(ids);
        free(rids);
        return pub_names__fail(out, PUB_NAMES_ERR_NOMEM, err, errlen,
                               "out of memory");
    }
    out->pool[0] = '\0';
    out->pool_len = 1;
    out->pool_cap = need;
    out->nstops = f->nstops;
    out->feed_version = out->agency_name = out->agency_name_en = out->pool;
    out->timezone = out->lang = out->pool;

    for (size_t s = 0; s < f->nstops; s++) {
        struct pub_stop_name *sn = &out->stops[s];

        sn->name = sn->name_en = sn->code = sn->desc = out->pool;
        ids[s] = (struct pub_names__id){f->stops[s].id, (int)s};
    }
    qsort(ids, f->nstops, sizeof *ids, pub_names__cmp);
    pub_names__stops(f, stops, ids, out);

    pub_names__routes(routes, out);
    for (size_t i = 0; i < out->nroutes; i++)
        rids[i] = (struct pub_names__id){out->routes[i].id, (int)i};
    qsort(rids, out->nroutes, sizeof *rids, pub_names__cmp);

    for (size_t t = 0; t < f->ntrips; t++) {
        out->trip_route[t] =
            pub_names__find(rids, out->nroutes, f->trips[t].route_id);
        out->trip_headsign[t] = out->trip_headsign_en[t] = out->pool;
        ids[t] = (struct pub_names__id){f->trips[t].id, (int)t};
    }
    qsort(ids, f->ntrips, sizeof *ids, pub_names__cmp);
    pub_names__trips(trips, ids, f->ntrips, out);

    if (PQntuples(feed) >= 1) {
        out->feed_version = pub_names__put(out, PQgetvalue(feed, 0, 0));
        out->agency_name = pub_names__put(out, PQgetvalue(feed, 0, 1));
        out->agency_name_en = pub_names__put(
            out, pub_names__en(PQgetvalue(feed, 0, 2), PQgetvalue(feed, 0, 1)));
        out->timezone = pub_names__put(out, PQgetvalue(feed, 0, 3));
        out->lang = pub_names__put(out, PQgetvalue(feed, 0, 4));
    }
    free(ids);
    free(rids);
    return PUB_NAMES_OK;
}
