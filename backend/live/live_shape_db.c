/* live_shape_db: the day's GTFS shapes from query results. */
#include "live_shape_db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const live_shape_db_sql_points =
    "SELECT shape_id, shape_pt_lat, shape_pt_lon FROM gtfs_shapes"
    " WHERE shape_id IN (SELECT shape_id FROM gtfs_trips"
    " WHERE service_id IN (SELECT gtfs_services_on($1)))"
    " ORDER BY shape_id COLLATE \"C\", shape_pt_sequence";

const char *const live_shape_db_sql_trips =
    "SELECT trip_id, shape_id FROM gtfs_trips"
    " WHERE service_id IN (SELECT gtfs_services_on($1))"
    " AND shape_id IS NOT NULL";

void live_shape_db_free(struct live_shape_db *s)
{
    free(s->pts);
    free(s->first);
    free(s->n);
    free(s->trip_shape);
    memset(s, 0, sizeof *s);
}

/* qsort/bsearch over trip indices by the feed's trip id. */
struct live_shape_db__by_id {
    const char *id;
    int i;
};

static int live_shape_db__cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_shape_db__by_id *)a)->id,
                  ((const struct live_shape_db__by_id *)b)->id);
}

/* Whether shape S has two distinct points (a line of some length). */
static bool live_shape_db__line(const struct live_shape_db *d, size_t s)
{
    const struct live_shape_pt *p = &d->pts[d->first[s]];

    for (size_t k = 1; k < d->n[s]; k++)
        if (p[k].lat != p[0].lat || p[k].lon != p[0].lon)
            return true;
    return false;
}

enum live_shape_db_err live_shape_db_from_results(const PGresult *points,
                                                  const PGresult *trips,
                                                  const struct trips_feed *f,
                                                  struct live_shape_db *out,
                                                  char *err, size_t errlen)
{
    int np = PQntuples(points), nt = PQntuples(trips);
    struct live_shape_db__by_id *ids = NULL, *sids = NULL;
    size_t ns = 0;

    memset(out, 0, sizeof *out);
    if (PQnfields(points) != 3 || PQnfields(trips) != 2) {
        snprintf(err, errlen, "shape query has the wrong columns");
        return LIVE_SHAPE_DB_ERR_QUERY;
    }
    out->pts = calloc((size_t)np + 1, sizeof *out->pts);
    out->first = calloc((size_t)np + 1, sizeof *out->first);
    out->n = calloc((size_t)np + 1, sizeof *out->n);
    out->trip_shape = calloc(f->ntrips + 1, sizeof *out->trip_shape);
    ids = calloc(f->ntrips + 1, sizeof *ids);
    sids = calloc((size_t)np + 1, sizeof *sids);
    if (!out->pts || !out->first || !out->n || !out->trip_shape || !ids ||
        !sids) {
        free(ids);
        free(sids);
        snprintf(err, errlen, "out of memory");
        return LIVE_SHAPE_DB_ERR_NOMEM;
    }
    /* The points come by shape: a new shape where the id changes. */
    for (int r = 0; r < np; r++) {
        const char *id = PQgetvalue(points, r, 0);

        if (!ns || strcmp(id, sids[ns - 1].id)) {
            sids[ns].id = id;
            sids[ns].i = (int)ns;
            out->first[ns++] = (size_t)r;
        }
        out->n[ns - 1]++;
        out->pts[r].lat = strtod(PQgetvalue(points, r, 1), NULL);
        out->pts[r].lon = strtod(PQgetvalue(points, r, 2), NULL);
        /* Distances are measured from the points (live_shape_build). */
        out->pts[r].dist = NAN;
    }
    for (size_t i = 0; i < f->ntrips; i++) {
        ids[i].id = f->trips[i].id;
        ids[i].i = (int)i;
        out->trip_shape[i] = -1;
    }
    qsort(ids, f->ntrips, sizeof *ids, live_shape_db__cmp);
    /* Sorted here rather than trusting the query's collation to be
     * strcmp's. */
    qsort(sids, ns, sizeof *sids, live_shape_db__cmp);
    for (int r = 0; r < nt; r++) {
        struct live_shape_db__by_id kt = {PQgetvalue(trips, r, 0), 0},
                                    ks = {PQgetvalue(trips, r, 1), 0};
        const struct live_shape_db__by_id *t =
            bsearch(&kt, ids, f->ntrips, sizeof *ids, live_shape_db__cmp);
        const struct live_shape_db__by_id *s =
            bsearch(&ks, sids, ns, sizeof *sids, live_shape_db__cmp);

        if (t && s && live_shape_db__line(out, (size_t)s->i))
            out->trip_shape[t->i] = s->i;
    }
    free(ids);
    free(sids);
    out->sh.pts = out->pts;
    out->sh.first = out->first;
    out->sh.n = out->n;
    out->sh.nshapes = ns;
    out->sh.trip_shape = out->trip_shape;
    return LIVE_SHAPE_DB_OK;
}
