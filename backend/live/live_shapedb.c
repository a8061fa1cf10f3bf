/* live_shapedb: the day's shapes from query results, checked against the
 * trips' stops. */
#include "live_shapedb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const live_shapedb_sql_points =
    "SELECT shape_id, shape_pt_lat, shape_pt_lon FROM gtfs_shapes"
    " WHERE shape_id IN (SELECT shape_id FROM gtfs_trips"
    "  WHERE service_id IN (SELECT gtfs_services_on($1)))"
    " ORDER BY shape_id COLLATE \"C\", shape_pt_sequence";

const char *const live_shapedb_sql_trips =
    "SELECT trip_id, shape_id FROM gtfs_trips"
    " WHERE service_id IN (SELECT gtfs_services_on($1))"
    " AND shape_id IS NOT NULL";

void live_shapedb_free(struct live_shapedb *s)
{
    free(s->pts);
    free(s->first);
    free(s->n);
    free(s->trip_shape);
    memset(s, 0, sizeof *s);
}

/* Names with their index, sorted for bsearch: the queries' order is not
 * relied on (a collation could differ from strcmp's). */
struct live_shapedb__name {
    const char *name;
    int idx;
};

static int live_shapedb__cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_shapedb__name *)a)->name,
                  ((const struct live_shapedb__name *)b)->name);
}

/* Index of NAME among the N sorted names NM, or -1. */
static int live_shapedb__find(const struct live_shapedb__name *nm, size_t n,
                              const char *name)
{
    struct live_shapedb__name key = {name, -1};
    const struct live_shapedb__name *hit =
        bsearch(&key, nm, n, sizeof *nm, live_shapedb__cmp);

    return hit ? hit->idx : -1;
}

static bool live_shapedb__coord(const char *s, double lim, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*out) && fabs(*out) <= lim;
}

/* Whether trip T's stops all lie near the shape VIEW gives it (built as
 * live_track will build it). -1 out of memory. */
static int live_shapedb__fits(const struct trips_feed *f, size_t t,
                              const struct live_shapes *view)
{
    struct live_shape s;
    char err[128];
    enum live_shape_err e = live_shape_build(f, t, view, &s, err, sizeof err);
    int ok = 1;

    if (e == LIVE_SHAPE_ERR_NOMEM)
        return -1;
    if (e != LIVE_SHAPE_OK)
        return 0;
    for (size_t k = 0; k < f->trips[t].n && ok; k++) {
        const struct trips_stop *q =
            &f->stops[f->st[f->trips[t].first + k].stop];
        double off;

        (void)live_shape_project(&s, q->lat, q->lon, s.stop_d[k] - 1,
                                 s.stop_d[k] + 1, &off);
        ok = off <= LIVE_SHAPEDB_STOP_M;
    }
    live_shape_free(&s);
    return ok;
}

enum live_shapedb_err live_shapedb_from_results(const struct trips_feed *f,
                                                const PGresult *points,
                                                const PGresult *trips,
                                                struct live_shapedb *out,
                                                char *err, size_t errlen)
{
    int np = PQntuples(points), nt = PQntuples(trips);
    struct live_shapedb__name *sn = NULL, *tn = NULL;
    bool *bad = NULL;

    memset(out, 0, sizeof *out);
    if (PQnfields(points) != 3 || PQnfields(trips) != 2) {
        snprintf(err, errlen, "shape query has the wrong columns");
        return LIVE_SHAPEDB_ERR_QUERY;
    }
    out->pts = malloc(((size_t)np + 1) * sizeof *out->pts);
    out->first = malloc(((size_t)np + 1) * sizeof *out->first);
    out->n = calloc((size_t)np + 1, sizeof *out->n);
    out->trip_shape = malloc((f->ntrips + 1) * sizeof *out->trip_shape);
    sn = malloc(((size_t)np + 1) * sizeof *sn);
    tn = malloc((f->ntrips + 1) * sizeof *tn);
    bad = calloc((size_t)np + 1, sizeof *bad);
    if (!out->pts || !out->first || !out->n || !out->trip_shape || !sn || !tn ||
        !bad) {
        free(sn);
        free(tn);
        free(bad);
        live_shapedb_free(out);
        snprintf(err, errlen, "out of memory");
        return LIVE_SHAPEDB_ERR_NOMEM;
    }
    for (size_t t = 0; t < f->ntrips; t++) {
        out->trip_shape[t] = -1;
        tn[t].name = f->trips[t].id;
        tn[t].idx = (int)t;
    }
    /* The points, grouped by shape (the query orders by it). */
    for (int i = 0; i < np; i++) {
        const char *sid = PQgetvalue(points, i, 0);
        struct live_shape_pt *q = &out->pts[i];
        size_t s = out->nshapes;

        if (s == 0 || strcmp(sn[s - 1].name, sid) != 0) {
            sn[s].name = sid;
            sn[s].idx = (int)s;
            out->first[s] = (size_t)i;
            out->nshapes = ++s;
        }
        if (!live_shapedb__coord(PQgetvalue(points, i, 1), 90, &q->lat) ||
            !live_shapedb__coord(PQgetvalue(points, i, 2), 180, &q->lon))
            bad[s - 1] = true;
        q->dist = NAN;
        out->n[s - 1]++;
    }
    qsort(sn, out->nshapes, sizeof *sn, live_shapedb__cmp);
    qsort(tn, f->ntrips, sizeof *tn, live_shapedb__cmp);
    out->view.pts = out->pts;
    out->view.first = out->first;
    out->view.n = out->n;
    out->view.nshapes = out->nshapes;
    out->view.trip_shape = out->trip_shape;
    for (int i = 0; i < nt; i++) {
        int t = live_shapedb__find(tn, f->ntrips, PQgetvalue(trips, i, 0));
        int s = live_shapedb__find(sn, out->nshapes, PQgetvalue(trips, i, 1));
        int fits = 0;

        if (t < 0)
            continue;
        if (s >= 0 && !bad[s]) {
            out->trip_shape[t] = s;
            fits = live_shapedb__fits(f, (size_t)t, &out->view);
        }
        if (fits < 0) {
            free(sn);
            free(tn);
            free(bad);
            live_shapedb_free(out);
            snprintf(err, errlen, "out of memory");
            return LIVE_SHAPEDB_ERR_NOMEM;
        }
        if (fits) {
            out->used++;
        } else {
            out->trip_shape[t] = -1;
            out->refused++;
        }
    }
    free(sn);
    free(tn);
    free(bad);
    return LIVE_SHAPEDB_OK;
}

enum live_shapedb_err live_shapedb_query(PGconn *conn, const char *day,
                                         const struct trips_feed *f,
                                         struct live_shapedb *out, char *err,
                                         size_t errlen)
{
    const char *params[1] = {day};
    PGresult *p = PQexecParams(conn, live_shapedb_sql_points, 1, NULL, params,
                               NULL, NULL, 0);
    PGresult *t = PQexecParams(conn, live_shapedb_sql_trips, 1, NULL, params,
                               NULL, NULL, 0);
    enum live_shapedb_err rc;

    memset(out, 0, sizeof *out);
    if (PQresultStatus(p) != PGRES_TUPLES_OK ||
        PQresultStatus(t) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "shapes: %s", PQerrorMessage(conn));
        rc = LIVE_SHAPEDB_ERR_QUERY;
    } else {
        rc = live_shapedb_from_results(f, p, t, out, err, errlen);
    }
    PQclear(p);
    PQclear(t);
    return rc;
}
