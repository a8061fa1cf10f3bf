/* sim_feed: read a service day's trips, stops and shapes with libpq. */
#include "sim_feed.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "svcday.h"

static void sim_feed_errf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sim_feed_errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    char *nl;

    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    while ((nl = strchr(err, '\n')) != NULL)
        *nl = nl[1] ? ' ' : '\0';
}

static PGresult *sim_feed_query(PGconn *c, const char *sql, const char *date,
                                char *err, size_t len)
{
    const char *params[1] = {date};
    PGresult *r =
        PQexecParams(c, sql, date ? 1 : 0, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        sim_feed_errf(err, len, "PostgreSQL: %s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static char *sim_feed_dup(PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

static int sim_feed_cmp_stop(const void *a, const void *b)
{
    return strcmp(((const struct sim_stop *)a)->stop_id,
                  ((const struct sim_stop *)b)->stop_id);
}

static int sim_feed_find_stop(const struct sim_feed *f, const char *id)
{
    struct sim_stop key = {(char *)id, 0, 0};
    const struct sim_stop *s = bsearch(&key, f->stops, (size_t)f->nstops,
                                       sizeof key, sim_feed_cmp_stop);

    return s ? (int)(s - f->stops) : -1;
}

static int sim_feed_find_line(const struct sim_feed *f, const char *id)
{
    for (int i = 0; i < f->nlines; i++)
        if (f->line_ids[i] && strcmp(f->line_ids[i], id) == 0)
            return i;
    return -1;
}

/* Append a point to the point arrays; the caller has made room. */
static void sim_feed_point(struct sim_feed *f, double lat, double lon,
                           int first)
{
    int i = f->npts++;

    f->pts_lat[i] = lat;
    f->pts_lon[i] = lon;
    f->pts_d[i] = (i == first) ? 0
                               : f->pts_d[i - 1] +
                                     sim_geo_dist(f->pts_lat[i - 1],
                                                  f->pts_lon[i - 1], lat, lon);
}

static int sim_feed_cmp_trip(const void *a, const void *b)
{
    const struct sim_trip *x = a, *y = b;
    int c = strcmp(x->block_id, y->block_id);

    /* first_st indexes stop times that are in (trip, sequence) order, and
     * the comparator cannot see the feed, so the caller stores the first
     * departure in `block` for the duration of the sort. */
    if (c)
        return c;
    return (x->block > y->block) - (x->block < y->block);
}

/* The feed's service day DATE (today in the feed's zone when NULL, then
 * written to f->date): where its GTFS times count from, in f->day0. */
static int sim_feed_service_day(struct sim_feed *f, const char *date, char *err,
                                size_t len)
{
    struct svcday svc;
    int32_t day;
    int64_t base_ms;

    if (svcday_init(&svc, f->tz) != SVCDAY_OK) {
        sim_feed_errf(err, len, "agency_timezone %s is not a known zone",
                      f->tz);
        return -1;
    }
    if (date == NULL) {
        char text[CLOCK_TEXT_MAX];

        if (svcday_day(&svc, clock_wall_ms(), &day) != SVCDAY_OK) {
            sim_feed_errf(err, len, "out of memory");
            return -1;
        }
        snprintf(f->date, sizeof f->date, "%s", clock_text_day(text, day));
    } else if (svcday_parse(date, &day) != SVCDAY_OK) {
        sim_feed_errf(err, len, "bad date %s (want YYYY-MM-DD)", date);
        return -1;
    } else {
        snprintf(f->date, sizeof f->date, "%s", date);
    }
    /* GTFS times count from "noon minus 12 hours" in the agency's zone. */
    if (svcday_gtfs_base_ms(&svc, day, &base_ms) != SVCDAY_OK) {
        sim_feed_errf(err, len, "out of memory");
        return -1;
    }
    f->day0 = (time_t)(base_ms / 1000);
    return 0;
}

int sim_feed_load(const char *conninfo, const char *date, struct sim_feed **out,
                  char *err, size_t errlen)
{
    static const char services[] = "SELECT gtfs_services_on($1::date)";
    struct sim_feed *f = calloc(1, sizeof *f);
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r = NULL;
    char sql[1024];
    int rc = -1, n, shape_pts, *lfirst = NULL;

    err[0] = '\0';
    if (!f)
        goto done;
    if (PQstatus(c) != CONNECTION_OK) {
        sim_feed_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(c));
        goto done;
    }
    PQclear(PQexec(c, "SET client_encoding = 'UTF8'"));

    if (!(r = sim_feed_query(c,
                             "SELECT agency_timezone FROM gtfs_agency "
                             "ORDER BY agency_id LIMIT 1",
                             NULL, err, errlen)))
        goto done;
    if (PQntuples(r) != 1) {
        sim_feed_errf(err, errlen,
                      "no GTFS feed in the database (load one "
                      "with shuttle-backend --load-gtfs DIR)");
        goto done;
    }
    snprintf(f->tz, sizeof f->tz, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (sim_feed_service_day(f, date, err, errlen) != 0)
        goto done;
    date = f->date;

    /* Stops, sorted by id for lookup. */
    if (!(r = sim_feed_query(c,
                             "SELECT stop_id, stop_lat, stop_lon FROM "
                             "gtfs_stops WHERE stop_lat IS NOT NULL "
                             "ORDER BY stop_id",
                             NULL, err, errlen)))
        goto done;
    n = PQntuples(r);
    f->stops = calloc((size_t)n + 1, sizeof *f->stops);
    if (!f->stops)
        goto done;
    for (int i = 0; i < n; i++) {
        f->stops[i].stop_id = sim_feed_dup(r, i, 0);
        f->stops[i].lat = atof(PQgetvalue(r, i, 1));
        f->stops[i].lon = atof(PQgetvalue(r, i, 2));
    }
    f->nstops = n;
    qsort(f->stops, (size_t)n, sizeof *f->stops, sim_feed_cmp_stop);
    PQclear(r);
    r = NULL;

    /* Trips of the day with their first departure. */
    snprintf(sql, sizeof sql,
             "SELECT t.trip_id, t.route_id, coalesce(t.block_id, ''),"
             " coalesce(t.direction_id, 0), coalesce(t.shape_id, ''),"
             " min(coalesce(st.departure_secs, st.arrival_secs)), count(*)"
             " FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
             " WHERE t.service_id IN (%s)"
             " GROUP BY t.trip_id ORDER BY t.trip_id",
             services);
    if (!(r = sim_feed_query(c, sql, date, err, errlen)))
        goto done;
    n = PQntuples(r);
    if (n == 0) {
        sim_feed_errf(err, errlen, "no trips run on %s in the loaded feed",
                      date);
        goto done;
    }
    f->trips = calloc((size_t)n, sizeof *f->trips);
    if (!f->trips)
        goto done;
    f->ntrips = n;
    for (int i = 0; i < n; i++) {
        struct sim_trip *t = &f->trips[i];

        t->trip_id = sim_feed_dup(r, i, 0);
        t->route_id = sim_feed_dup(r, i, 1);
        /* A trip without a block is a bus of its own. */
        if (PQgetvalue(r, i, 2)[0]) {
            t->block_id = sim_feed_dup(r, i, 2);
        } else {
            t->block_id = malloc(strlen(t->trip_id) + 6);
            if (t->block_id)
                sprintf(t->block_id, "trip:%s", t->trip_id);
        }
        t->direction = atoi(PQgetvalue(r, i, 3));
        t->line = -1;
        t->block = atoi(PQgetvalue(r, i, 5));
        t->nst = atoi(PQgetvalue(r, i, 6));
        if (!t->trip_id || !t->route_id || !t->block_id)
            goto done;
        /* Keep the shape id in line_ids temporarily (below). */
    }
    /* Shapes used by those trips. */
    f->line_ids = calloc((size_t)n * 2 + 1, sizeof *f->line_ids);
    f->lines = calloc((size_t)n * 2 + 1, sizeof *f->lines);
    lfirst = calloc((size_t)n * 2 + 1, sizeof *lfirst);
    if (!f->line_ids || !f->lines || !lfirst)
        goto done;
    for (int i = 0; i < n; i++) {
        const char *sid = PQgetvalue(r, i, 4);

        if (sid[0] && sim_feed_find_line(f, sid) < 0) {
            f->line_ids[f->nlines] = strdup(sid);
            if (!f->line_ids[f->nlines])
                goto done;
            f->nlines++;
        }
        f->trips[i].line = sid[0] ? sim_feed_find_line(f, sid) : -1;
    }
    PQclear(r);
    r = NULL;

    /* Stop times, in the same trip order. */
    snprintf(sql, sizeof sql,
             "SELECT st.trip_id, st.stop_id, st.stop_sequence,"
             " coalesce(st.arrival_secs, -1), coalesce(st.departure_secs, -1)"
             " FROM gtfs_stop_times st JOIN gtfs_trips t USING (trip_id)"
             " WHERE t.service_id IN (%s)"
             " ORDER BY st.trip_id, st.stop_sequence",
             services);
    if (!(r = sim_feed_query(c, sql, date, err, errlen)))
        goto done;
    n = PQntuples(r);
    f->st = calloc((size_t)n, sizeof *f->st);
    if (!f->st)
        goto done;
    f->nst = n;
    for (int i = 0, k = 0; k < f->ntrips; k++) {
        struct sim_trip *t = &f->trips[k];

        t->first_st = i;
        for (int j = 0; j < t->nst; j++, i++) {
            struct sim_stop_time *s = &f->st[i];

            s->stop = sim_feed_find_stop(f, PQgetvalue(r, i, 1));
            if (s->stop < 0) {
                sim_feed_errf(err, errlen,
                              "trip %s: stop %s has no "
                              "position",
                              t->trip_id, PQgetvalue(r, i, 1));
                goto done;
            }
            s->seq = atoi(PQgetvalue(r, i, 2));
            s->arr = atoi(PQgetvalue(r, i, 3));
            s->dep = atoi(PQgetvalue(r, i, 4));
            if (s->arr < 0)
                s->arr = s->dep;
            if (s->dep < 0)
                s->dep = s->arr;
        }
    }
    PQclear(r);
    r = NULL;

    /* Points of the shapes, then a line per shape-less trip (its stops). */
    if (!(r = sim_feed_query(c,
                             "SELECT shape_id, shape_pt_lat, shape_pt_lon"
                             " FROM gtfs_shapes"
                             " ORDER BY shape_id, shape_pt_sequence",
                             NULL, err, errlen)))
        goto done;
    shape_pts = PQntuples(r);
    f->pts_lat = malloc(((size_t)shape_pts + (size_t)f->nst) * sizeof(double));
    f->pts_lon = malloc(((size_t)shape_pts + (size_t)f->nst) * sizeof(double));
    f->pts_d = malloc(((size_t)shape_pts + (size_t)f->nst) * sizeof(double));
    if (!f->pts_lat || !f->pts_lon || !f->pts_d)
        goto done;
    for (int i = 0; i < shape_pts;) {
        const char *sid = PQgetvalue(r, i, 0);
        int li = sim_feed_find_line(f, sid), first = f->npts, j = i;

        for (; j < shape_pts && strcmp(PQgetvalue(r, j, 0), sid) == 0; j++)
            if (li >= 0)
                sim_feed_point(f, atof(PQgetvalue(r, j, 1)),
                               atof(PQgetvalue(r, j, 2)), first);
        if (li >= 0) {
            f->lines[li].n = f->npts - first;
            lfirst[li] = first;
        }
        i = j;
    }
    PQclear(r);
    r = NULL;
    for (int k = 0; k < f->ntrips; k++) {
        struct sim_trip *t = &f->trips[k];
        int first = f->npts;

        if (t->line >= 0 && f->lines[t->line].n >= 2)
            continue;
        for (int j = 0; j < t->nst; j++) {
            const struct sim_stop *s = &f->stops[f->st[t->first_st + j].stop];

            sim_feed_point(f, s->lat, s->lon, first);
        }
        t->line = f->nlines++;
        f->lines[t->line].n = t->nst;
        lfirst[t->line] = first;
    }
    /* Point the lines into the arrays only now that they stopped growing. */
    for (int i = 0; i < f->nlines; i++) {
        f->lines[i].lat = f->pts_lat + lfirst[i];
        f->lines[i].lon = f->pts_lon + lfirst[i];
        f->lines[i].d = f->pts_d + lfirst[i];
    }

    /* Where each stop lies along its trip's line. */
    for (int k = 0; k < f->ntrips; k++) {
        struct sim_trip *t = &f->trips[k];
        double from = 0;

        for (int j = 0; j < t->nst; j++) {
            struct sim_stop_time *s = &f->st[t->first_st + j];
            const struct sim_stop *p = &f->stops[s->stop];

            s->dist =
                sim_geo_project(&f->lines[t->line], p->lat, p->lon, from, NULL);
            from = s->dist;
        }
    }

    /* Trips by block and first departure; blocks in id order = buses. */
    qsort(f->trips, (size_t)f->ntrips, sizeof *f->trips, sim_feed_cmp_trip);
    f->blocks = calloc((size_t)f->ntrips, sizeof *f->blocks);
    if (!f->blocks)
        goto done;
    for (int k = 0; k < f->ntrips; k++) {
        struct sim_trip *t = &f->trips[k];

        if (f->nblocks == 0 ||
            strcmp(f->blocks[f->nblocks - 1], t->block_id) != 0)
            f->blocks[f->nblocks++] = t->block_id;
        t->block = f->nblocks - 1;
    }
    rc = 0;
done:
    if (rc != 0 && f && !err[0])
        sim_feed_errf(err, errlen, "out of memory");
    PQclear(r);
    PQfinish(c);
    free(lfirst);
    if (rc == 0) {
        *out = f;
    } else {
        sim_feed_free(f);
    }
    return rc;
}

void sim_feed_free(struct sim_feed *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->nstops; i++)
        free(f->stops[i].stop_id);
    for (int i = 0; i < f->ntrips; i++) {
        free(f->trips[i].trip_id);
        free(f->trips[i].route_id);
        free(f->trips[i].block_id);
    }
    for (int i = 0; i < f->nlines; i++)
        free(f->line_ids[i]);
    free(f->stops);
    free(f->trips);
    free(f->st);
    free(f->pts_lat);
    free(f->pts_lon);
    free(f->pts_d);
    free(f->lines);
    free(f->line_ids);
    free(f->blocks);
    free(f);
}

int sim_feed_trip(const struct sim_feed *f, const char *trip_id)
{
    for (int k = 0; k < f->ntrips; k++)
        if (!strcmp(f->trips[k].trip_id, trip_id))
            return k;
    return -1;
}
