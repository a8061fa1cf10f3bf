/* trips_db: rebuild a service day's derived tables from the raw records. */
#include "trips_db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "svcday.h"
#include "trips.h"

static void trips_db__err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void trips_db__err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    n = strlen(err);
    while (n && err[n - 1] == '\n')
        err[--n] = '\0';
}

static PGresult *trips_db__query(PGconn *c, const char *sql, const char *day,
                                 char *err, size_t errlen)
{
    const char *v[1] = {day};
    PGresult *r = PQexecParams(c, sql, day ? 1 : 0, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        trips_db__err(err, errlen, "%s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The instant the GTFS times of `day` count from, in the service zone
 * (shuttle_service_tz(): the loaded feed's agency_timezone), read in the
 * rebuild's snapshot so zone and timetable belong to one feed. */
static int trips_db__day_base(PGconn *c, int32_t day, int64_t *out, char *err,
                              size_t errlen)
{
    PGresult *r =
        trips_db__query(c, "SELECT shuttle_service_tz()", NULL, err, errlen);
    struct svcday svc;
    int rc = TRIPS_DB_OK;

    if (!r)
        return TRIPS_DB_ERR_QUERY;
    if (PQntuples(r) != 1 ||
        svcday_init(&svc, PQgetvalue(r, 0, 0)) != SVCDAY_OK) {
        trips_db__err(err, errlen,
                      "service time zone '%s' is not in the tz database",
                      PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
        rc = TRIPS_DB_ERR_FEED;
    } else if (svcday_gtfs_base_ms(&svc, day, out) != SVCDAY_OK) {
        rc = TRIPS_DB_ERR_NOMEM;
    }
    PQclear(r);
    return rc;
}

static int trips_db__stop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct trips_stop *)a)->id,
                  ((const struct trips_stop *)b)->id);
}

static int trips_db__stop_index(const struct trips_feed *f, const char *id)
{
    struct trips_stop key;
    const struct trips_stop *s;

    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "%s", id);
    s = bsearch(&key, f->stops, f->nstops, sizeof *s, trips_db__stop_cmp);
    return s ? (int)(s - f->stops) : -1;
}

static void trips_db__feed_free(struct trips_feed *f)
{
    free(f->stops);
    free(f->st);
    free(f->trips);
    memset(f, 0, sizeof *f);
}

const char *const trips_db_sql_stops =
    "SELECT stop_id, stop_lat, stop_lon FROM gtfs_stops"
    " WHERE stop_lat IS NOT NULL ORDER BY stop_id";

const char *const trips_db_sql_stop_times =
    "SELECT t.trip_id, t.route_id, coalesce(t.block_id, ''),"
    " coalesce(t.direction_id, -1), st.stop_id,"
    " st.stop_sequence, st.arrival_secs, st.departure_secs"
    " FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
    " WHERE t.service_id IN (SELECT gtfs_services_on($1))"
    " ORDER BY t.trip_id COLLATE \"C\", st.stop_sequence";

void trips_db_feed_free(struct trips_feed *f)
{
    trips_db__feed_free(f);
}

int trips_db_feed_from_results(const PGresult *stops, const PGresult *times,
                               const char *day, struct trips_feed *f, char *err,
                               size_t errlen)
{
    int n = PQntuples(stops);

    memset(f, 0, sizeof *f);
    if (PQnfields(stops) != 3 || PQnfields(times) != 8) {
        trips_db__err(err, errlen, "timetable query has the wrong columns");
        return TRIPS_DB_ERR_QUERY;
    }
    f->stops = calloc((size_t)n + 1, sizeof *f->stops);
    if (!f->stops)
        return TRIPS_DB_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        snprintf(f->stops[i].id, sizeof f->stops[i].id, "%s",
                 PQgetvalue(stops, i, 0));
        f->stops[i].lat = atof(PQgetvalue(stops, i, 1));
        f->stops[i].lon = atof(PQgetvalue(stops, i, 2));
    }
    f->nstops = (size_t)n;
    /* ORDER BY uses the database's collation; bsearch needs strcmp's. */
    qsort(f->stops, f->nstops, sizeof *f->stops, trips_db__stop_cmp);

    n = PQntuples(times);
    f->st = calloc((size_t)n + 1, sizeof *f->st);
    f->trips = calloc((size_t)n + 1, sizeof *f->trips);
    if (!f->st || !f->trips)
        return TRIPS_DB_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const char *trip = PQgetvalue(times, i, 0);
        struct trips_stop_time *st = &f->st[f->nst];
        struct trips_trip *t;

        if (f->ntrips == 0 || strcmp(f->trips[f->ntrips - 1].id, trip)) {
            t = &f->trips[f->ntrips++];
            snprintf(t->id, sizeof t->id, "%s", trip);
            snprintf(t->route_id, sizeof t->route_id, "%s",
                     PQgetvalue(times, i, 1));
            snprintf(t->block_id, sizeof t->block_id, "%s",
                     PQgetvalue(times, i, 2));
            t->direction = atoi(PQgetvalue(times, i, 3));
            t->first = f->nst;
        }
        t = &f->trips[f->ntrips - 1];
        st->stop = trips_db__stop_index(f, PQgetvalue(times, i, 4));
        if (st->stop < 0) {
            trips_db__err(err, errlen, "trip %s calls at unknown stop %s", trip,
                          PQgetvalue(times, i, 4));
            return TRIPS_DB_ERR_FEED;
        }
        st->sequence = atoi(PQgetvalue(times, i, 5));
        st->arr_s = atoi(PQgetvalue(times, i, 6));
        st->dep_s = atoi(PQgetvalue(times, i, 7));
        f->nst++;
        t->n++;
    }
    if (f->ntrips == 0) {
        trips_db__err(
            err, errlen,
            "no trips run on %s in the loaded timetable (load one with "
            "shuttle-backend --load-gtfs DIR)",
            day);
        return TRIPS_DB_ERR_FEED;
    }
    return trips_feed_finish(f) == 0 ? TRIPS_DB_OK : TRIPS_DB_ERR_NOMEM;
}

/* The rebuild's read of the timetable: the same queries and conversion
 * shuttle-live sends asynchronously. */
static int trips_db__load_feed(PGconn *c, const char *day, struct trips_feed *f,
                               char *err, size_t errlen)
{
    PGresult *stops, *times;
    int rc;

    stops = trips_db__query(c, trips_db_sql_stops, NULL, err, errlen);
    if (!stops)
        return TRIPS_DB_ERR_QUERY;
    times = trips_db__query(c, trips_db_sql_stop_times, day, err, errlen);
    if (!times) {
        PQclear(stops);
        return TRIPS_DB_ERR_QUERY;
    }
    rc = trips_db_feed_from_results(stops, times, day, f, err, errlen);
    PQclear(stops);
    PQclear(times);
    return rc;
}

/* One vehicle's raw input and what was built from it. */
struct trips_db__vehicle {
    char id[TRIPS_ID_MAX];
    struct trips_fix *fixes;
    size_t nfixes;
    struct trips_door *doors;
    size_t ndoors;
    struct trips_visit *visits;
    size_t nvisits;
};

static void trips_db__vehicles_free(struct trips_db__vehicle *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].fixes);
        free(v[i].doors);
        free(v[i].visits);
    }
    free(v);
}

/* The vehicle named `id`, added at the end if new (input is sorted). */
static struct trips_db__vehicle *trips_db__vehicle(struct trips_db__vehicle **v,
                                                   size_t *n, const char *id)
{
    struct trips_db__vehicle *g;

    for (size_t i = *n; i > 0; i--)
        if (strcmp((*v)[i - 1].id, id) == 0)
            return &(*v)[i - 1];
    g = realloc(*v, (*n + 1) * sizeof *g);
    if (!g)
        return NULL;
    *v = g;
    memset(&g[*n], 0, sizeof g[*n]);
    snprintf(g[*n].id, sizeof g[*n].id, "%s", id);
    return &g[(*n)++];
}

static int trips_db__vehicle_cmp(const void *a, const void *b)
{
    return strcmp(((const struct trips_db__vehicle *)a)->id,
                  ((const struct trips_db__vehicle *)b)->id);
}

/* Fill one vehicle's fixes from rows [i, j) of the positions query. */
static int trips_db__take_fixes(struct trips_db__vehicle *v, PGresult *r, int i,
                                int j)
{
    v->fixes = calloc((size_t)(j - i), sizeof *v->fixes);
    if (!v->fixes)
        return TRIPS_DB_ERR_NOMEM;
    for (int k = i; k < j; k++) {
        struct trips_fix *x = &v->fixes[v->nfixes++];

        x->t_ms = strtoll(PQgetvalue(r, k, 1), NULL, 10);
        x->lat = atof(PQgetvalue(r, k, 2));
        x->lon = atof(PQgetvalue(r, k, 3));
        x->speed = strtod(PQgetvalue(r, k, 4), NULL);
    }
    return TRIPS_DB_OK;
}

const char *const trips_db_sql_door_columns =
    "(extract(epoch FROM t) * 1000)::bigint,"
    " coalesce((extract(epoch FROM door_open) * 1000)::bigint, 0),"
    " coalesce((extract(epoch FROM door_close) * 1000)::bigint, 0),"
    " coalesce(lat, 'NaN'), coalesce(lon, 'NaN'), boarded,"
    " alighted, coalesce(load_after, -1)";

void trips_db_door_from_row(const PGresult *r, int row, int col,
                            struct trips_door *d)
{
    d->t_ms = strtoll(PQgetvalue(r, row, col), NULL, 10);
    d->open_ms = strtoll(PQgetvalue(r, row, col + 1), NULL, 10);
    d->close_ms = strtoll(PQgetvalue(r, row, col + 2), NULL, 10);
    d->lat = strtod(PQgetvalue(r, row, col + 3), NULL);
    d->lon = strtod(PQgetvalue(r, row, col + 4), NULL);
    d->boarded = atoi(PQgetvalue(r, row, col + 5));
    d->alighted = atoi(PQgetvalue(r, row, col + 6));
    d->load_after = atoi(PQgetvalue(r, row, col + 7));
    d->visit = -1;
}

/* Fill one vehicle's door episodes from rows [i, j) of the counts query. */
static int trips_db__take_doors(struct trips_db__vehicle *v, PGresult *r, int i,
                                int j)
{
    v->doors = calloc((size_t)(j - i), sizeof *v->doors);
    if (!v->doors)
        return TRIPS_DB_ERR_NOMEM;
    for (int k = i; k < j; k++)
        trips_db_door_from_row(r, k, 1, &v->doors[v->ndoors++]);
    return TRIPS_DB_OK;
}

/* Run `sql` (rows ordered by vehicle) and hand each vehicle's rows to
 * `take`. */
static int trips_db__load_by_vehicle(
    PGconn *c, const char *sql, const char *day,
    int (*take)(struct trips_db__vehicle *, PGresult *, int, int),
    struct trips_db__vehicle **vs, size_t *nv, char *err, size_t errlen)
{
    PGresult *r = trips_db__query(c, sql, day, err, errlen);
    int n, rc = TRIPS_DB_OK;

    if (!r)
        return TRIPS_DB_ERR_QUERY;
    n = PQntuples(r);
    for (int i = 0; i < n && rc == TRIPS_DB_OK;) {
        struct trips_db__vehicle *v =
            trips_db__vehicle(vs, nv, PQgetvalue(r, i, 0));
        int j = i;

        if (!v) {
            rc = TRIPS_DB_ERR_NOMEM;
            break;
        }
        while (j < n && strcmp(PQgetvalue(r, j, 0), v->id) == 0)
            j++;
        rc = take(v, r, i, j);
        i = j;
    }
    PQclear(r);
    return rc;
}

/* The day's door episodes, in the columns trips_db_door_from_row reads. */
static int trips_db__load_doors(PGconn *c, const char *day,
                                struct trips_db__vehicle **vs, size_t *nv,
                                char *err, size_t errlen)
{
    char sql[1024];

    snprintf(sql, sizeof sql,
             "SELECT vehicle_id, %s FROM passenger_counts"
             " WHERE service_day = $1"
             " ORDER BY vehicle_id COLLATE \"C\", t, seq",
             trips_db_sql_door_columns);
    return trips_db__load_by_vehicle(c, sql, day, trips_db__take_doors, vs, nv,
                                     err, errlen);
}

static int trips_db__load_raw(PGconn *c, const char *day,
                              struct trips_db__vehicle **vs, size_t *nv,
                              char *err, size_t errlen)
{
    /* (vehicle, time, seq): the order the bus observed, whatever order
     * the records reached the database in. */
    int rc = trips_db__load_by_vehicle(
        c,
        "SELECT vehicle_id, (extract(epoch FROM t) * 1000)::bigint,"
        " lat, lon, coalesce(speed, 'NaN')"
        " FROM positions WHERE service_day = $1"
        " ORDER BY vehicle_id COLLATE \"C\", t, seq",
        day, trips_db__take_fixes, vs, nv, err, errlen);

    if (rc == TRIPS_DB_OK)
        rc = trips_db__load_doors(c, day, vs, nv, err, errlen);
    if (rc != TRIPS_DB_OK)
        return rc;
    /* A vehicle with only door events came second: keep a stable order. */
    if (*nv > 1)
        qsort(*vs, *nv, sizeof **vs, trips_db__vehicle_cmp);
    return TRIPS_DB_OK;
}

static int trips_db__copy(PGconn *c, const char *sql, const struct buf *b,
                          char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COPY_IN) {
        trips_db__err(err, errlen, "%s", PQerrorMessage(c));
        PQclear(r);
        return TRIPS_DB_ERR_QUERY;
    }
    PQclear(r);
    if ((b->len && PQputCopyData(c, b->p, (int)b->len) != 1) ||
        PQputCopyEnd(c, NULL) != 1) {
        trips_db__err(err, errlen, "%s", PQerrorMessage(c));
        return TRIPS_DB_ERR_QUERY;
    }
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        trips_db__err(err, errlen, "%s", PQerrorMessage(c));
        PQclear(r);
        while ((r = PQgetResult(c)))
            PQclear(r);
        return TRIPS_DB_ERR_QUERY;
    }
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    return TRIPS_DB_OK;
}

/* Per-run tallies: counts by visit, the terminal visit split between the
 * run that ends and the run that starts there. */
static void trips_db__tally(struct trips_db__vehicle *vs, size_t nv,
                            struct trips_run *runs)
{
    for (size_t i = 0; i < nv; i++) {
        for (size_t k = 0; k < vs[i].nvisits; k++) {
            const struct trips_visit *v = &vs[i].visits[k];

            if (v->run >= 0) {
                struct trips_run *r = &runs[v->run];

                r->alighted += v->alighted;
                if (v->run_starting < 0) {
                    r->boarded += v->boarded;
                    if (v->load_after > r->peak_load)
                        r->peak_load = v->load_after;
                }
            }
            if (v->run_starting >= 0) {
                struct trips_run *r = &runs[v->run_starting];

                r->boarded += v->boarded;
                if (v->load_after > r->peak_load)
                    r->peak_load = v->load_after;
            }
        }
    }
}

/* One day's rebuild: what is read, what is computed from it, and the rows
 * written, kept apart so each step is one function. */
struct trips_db__day {
    const char *day;
    struct trips_feed f;
    struct trips_params p;
    struct trips_db__vehicle *vs;
    size_t nv;
    struct trips_run *runs;
    size_t nruns;
    struct buf visits, outcomes; /* COPY text */
    struct trips_db_summary *sum;
};

static void trips_db__day_free(struct trips_db__day *d)
{
    buf_free(&d->visits);
    buf_free(&d->outcomes);
    free(d->runs);
    trips_db__vehicles_free(d->vs, d->nv);
    trips_db__feed_free(&d->f);
}

/* Read the day's timetable and raw records in one snapshot: records
 * committed meanwhile wait for the next rebuild rather than half-appearing
 * in this one. */
static int trips_db__read(PGconn *c, struct trips_db__day *d, int32_t day_n,
                          char *err, size_t errlen)
{
    int64_t day_ms;
    PGresult *r;
    int rc;

    r = trips_db__query(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, err,
                        errlen);
    if (!r)
        return TRIPS_DB_ERR_QUERY;
    PQclear(r);
    rc = trips_db__day_base(c, day_n, &day_ms, err, errlen);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__load_feed(c, d->day, &d->f, err, errlen);
    if (rc == TRIPS_DB_OK) {
        d->f.day_ms = day_ms;
        rc = trips_db__load_raw(c, d->day, &d->vs, &d->nv, err, errlen);
    }
    if (rc != TRIPS_DB_OK)
        return rc;
    r = trips_db__query(c, "COMMIT", NULL, err, errlen);
    if (!r)
        return TRIPS_DB_ERR_QUERY;
    PQclear(r);
    return TRIPS_DB_OK;
}

/* Visits and runs per vehicle, the day's matching, the runs' tallies. */
static int trips_db__compute(struct trips_db__day *d)
{
    struct trips_db_summary *sum = d->sum;

    for (size_t i = 0; i < d->nv; i++) {
        struct trips_db__vehicle *v = &d->vs[i];

        if (trips_visits(&d->f, &d->p, v->fixes, v->nfixes, v->doors, v->ndoors,
                         &v->visits, &v->nvisits) != 0 ||
            trips_runs(&d->f, &d->p, v->id, v->visits, v->nvisits, &d->runs,
                       &d->nruns) != 0)
            return TRIPS_DB_ERR_NOMEM;
        sum->fixes += v->nfixes;
        sum->doors += v->ndoors;
        sum->visits += v->nvisits;
    }
    if (trips_assign(&d->f, &d->p, d->runs, d->nruns) != 0)
        return TRIPS_DB_ERR_NOMEM;
    trips_db__tally(d->vs, d->nv, d->runs);
    sum->vehicles = d->nv;
    sum->runs = d->nruns;
    return TRIPS_DB_OK;
}

/* stop_visits rows, and the day's boardings (attributed or not). */
static int trips_db__format_visits(struct trips_db__day *d)
{
    const struct trips_feed *f = &d->f;
    struct trips_db_summary *sum = d->sum;

    for (size_t i = 0; i < d->nv; i++) {
        const struct trips_db__vehicle *veh = &d->vs[i];

        for (size_t k = 0; k < veh->nvisits; k++) {
            const struct trips_visit *v = &veh->visits[k];
            char arr[CLOCK_TEXT_MAX], dep[CLOCK_TEXT_MAX],
                rs[CLOCK_TEXT_MAX] = "\\N", sched[CLOCK_TEXT_MAX] = "\\N";
            char trip[TRIPS_ID_MAX + 2] = "\\N", seq[16] = "\\N";
            char load[16] = "\\N";

            clock_text_ms(arr, v->arr_ms);
            clock_text_ms(dep, v->dep_ms);
            if (v->run >= 0) {
                const struct trips_run *run = &d->runs[v->run];

                clock_text_ms(rs, run->start_ms);
                if (run->trip >= 0) {
                    const struct trips_trip *t = &f->trips[run->trip];
                    int pos = -1;

                    for (size_t q = 0; q < t->n && pos < 0; q++)
                        if (f->st[t->first + q].stop == v->stop)
                            pos = (int)q;
                    snprintf(trip, sizeof trip, "%s", t->id);
                    if (pos >= 0) {
                        snprintf(seq, sizeof seq, "%d",
                                 f->st[t->first + (size_t)pos].sequence);
                        clock_text_ms(
                            sched, trips_sched_ms(
                                       f, f->st[t->first + (size_t)pos].arr_s));
                    }
                }
            }
            if (v->load_after >= 0)
                snprintf(load, sizeof load, "%d", v->load_after);
            if (buf_printf(&d->visits,
                           "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%"
                           "s\t%d\n",
                           d->day, veh->id, f->stops[v->stop].id, arr, dep,
                           v->stopped ? "t" : "f", rs, trip, seq, sched,
                           v->boarded, v->alighted, load, v->doors) != 0)
                return TRIPS_DB_ERR_NOMEM;
        }
        for (size_t k = 0; k < veh->ndoors; k++) {
            const struct trips_door *e = &veh->doors[k];

            sum->boarded += e->boarded;
            sum->alighted += e->alighted;
            if (e->visit < 0 || (veh->visits[e->visit].run < 0 &&
                                 veh->visits[e->visit].run_starting < 0))
                sum->unattributed += e->boarded;
        }
    }
    return TRIPS_DB_OK;
}

/* trip_outcomes rows: every scheduled trip, run or not. */
static int trips_db__format_outcomes(struct trips_db__day *d)
{
    const struct trips_feed *f = &d->f;
    struct trips_db_summary *sum = d->sum;

    for (size_t t = 0; t < f->ntrips; t++) {
        const struct trips_trip *tr = &f->trips[t];
        const struct trips_run *run = NULL;
        char ss[CLOCK_TEXT_MAX], se[CLOCK_TEXT_MAX], as[CLOCK_TEXT_MAX] = "\\N",
                                                     ae[CLOCK_TEXT_MAX] = "\\N";
        char sd[24] = "\\N", ed[24] = "\\N", veh[TRIPS_ID_MAX + 2] = "\\N";
        char peak[16] = "\\N", dir[16] = "\\N";
        const char *status = "missed";
        int visited = 0, boarded = 0, alighted = 0;

        for (size_t q = 0; q < d->nruns && !run; q++)
            if (d->runs[q].trip == (int)t)
                run = &d->runs[q];
        clock_text_ms(ss, trips_sched_ms(f, f->st[tr->first].dep_s));
        clock_text_ms(se,
                      trips_sched_ms(f, f->st[tr->first + tr->n - 1].arr_s));
        if (tr->direction >= 0)
            snprintf(dir, sizeof dir, "%d", tr->direction);
        sum->trips++;
        if (run) {
            int64_t sdep = trips_sched_ms(
                f, f->st[tr->first + (size_t)run->first_pos].dep_s);
            int64_t sarr = trips_sched_ms(
                f, f->st[tr->first + (size_t)run->last_pos].arr_s);

            status = run->last_pos == (int)tr->n - 1 ||
                             run->matched >= (int)(0.8 * (double)tr->n)
                         ? "operated"
                         : "partial";
            clock_text_ms(as, run->start_ms);
            clock_text_ms(ae, run->end_ms);
            snprintf(sd, sizeof sd, "%" PRId64, (run->start_ms - sdep) / 1000);
            snprintf(ed, sizeof ed, "%" PRId64, (run->end_ms - sarr) / 1000);
            snprintf(veh, sizeof veh, "%s", run->vehicle_id);
            if (run->peak_load >= 0)
                snprintf(peak, sizeof peak, "%d", run->peak_load);
            visited = run->matched;
            boarded = run->boarded;
            alighted = run->alighted;
            if (status[0] == 'o')
                sum->operated++;
            else
                sum->partial++;
            /* Late as the report counts it: any run that started more
             * than late_ms after its schedule, complete or not. */
            if (run->start_ms - sdep > d->p.late_ms)
                sum->late++;
        } else {
            sum->missed++;
        }
        if (buf_printf(&d->outcomes,
                       "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%"
                       "zu\t%d\t%d\t%d\t%s\n",
                       d->day, tr->id, tr->route_id, dir,
                       tr->block_id[0] ? tr->block_id : "\\N", ss, se, status,
                       veh, as, ae, sd, ed, tr->n, visited, boarded, alighted,
                       peak) != 0)
            return TRIPS_DB_ERR_NOMEM;
    }
    return TRIPS_DB_OK;
}

/* Run one statement with $1 = the day; false (message in err) on error. */
static bool trips_db__exec_day(PGconn *c, const char *sql, const char *day,
                               char *err, size_t errlen)
{
    const char *v[1] = {day};
    PGresult *r = PQexecParams(c, sql, 1, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok)
        trips_db__err(err, errlen, "%s", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/* Replace the day's derived rows whole, in one transaction. */
static int trips_db__write(PGconn *c, const struct trips_db__day *d, char *err,
                           size_t errlen)
{
    static const char *const del[] = {
        "DELETE FROM stop_visits WHERE service_day = $1",
        "DELETE FROM trip_outcomes WHERE service_day = $1",
        "DELETE FROM daily_ridership WHERE service_day = $1",
    };
    const struct trips_db_summary *sum = d->sum;
    char ins[512];
    PGresult *r;
    int rc = TRIPS_DB_OK;

    r = trips_db__query(c, "BEGIN", NULL, err, errlen);
    if (!r)
        return TRIPS_DB_ERR_QUERY;
    PQclear(r);
    for (size_t i = 0; i < sizeof del / sizeof *del && rc == TRIPS_DB_OK; i++)
        if (!trips_db__exec_day(c, del[i], d->day, err, errlen))
            rc = TRIPS_DB_ERR_QUERY;
    if (rc == TRIPS_DB_OK)
        rc = trips_db__copy(
            c,
            "COPY stop_visits (service_day, vehicle_id, stop_id,"
            " arrival, departure, stopped, run_start, trip_id,"
            " stop_sequence, scheduled_arrival, boarded, alighted,"
            " load_after, door_events) FROM STDIN",
            &d->visits, err, errlen);
    if (rc == TRIPS_DB_OK)
        rc =
            trips_db__copy(c,
                           "COPY trip_outcomes (service_day, trip_id, route_id,"
                           " direction_id, block_id, scheduled_start,"
                           " scheduled_end, status, vehicle_id, actual_start,"
                           " actual_end, start_delay_s, end_delay_s,"
                           " stops_scheduled, stops_visited, boarded, alighted,"
                           " peak_load) FROM STDIN",
                           &d->outcomes, err, errlen);
    if (rc == TRIPS_DB_OK) {
        snprintf(ins, sizeof ins,
                 "INSERT INTO daily_ridership (service_day, boarded,"
                 " alighted, runs_scheduled, runs_operated, runs_partial,"
                 " runs_missed, runs_late, unattributed_boarded) VALUES"
                 " ($1, %ld, %ld, %zu, %zu, %zu, %zu, %zu, %ld)",
                 sum->boarded, sum->alighted, sum->trips, sum->operated,
                 sum->partial, sum->missed, sum->late, sum->unattributed);
        if (!trips_db__exec_day(c, ins, d->day, err, errlen))
            rc = TRIPS_DB_ERR_QUERY;
    }
    if (rc != TRIPS_DB_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
        return rc;
    }
    r = trips_db__query(c, "COMMIT", NULL, err, errlen);
    if (!r)
        return TRIPS_DB_ERR_QUERY;
    PQclear(r);
    return TRIPS_DB_OK;
}

/*
 * Two rebuilds of one day (shuttle-live's periodic one and an operator's
 * `shuttle-backend --rebuild`) must not overlap: the one that read the
 * older snapshot could write last, or its DELETE could miss the other's
 * rows and its COPY then fail on their keys. A session advisory lock on
 * the day, held until the connection closes, makes the second wait and
 * then read what the first wrote. Other days rebuild side by side.
 */
static int trips_db__lock_day(PGconn *c, int32_t day_n, char *err,
                              size_t errlen)
{
    char key[16], cls[16];
    const char *params[2] = {cls, key};
    PGresult *r;

    snprintf(cls, sizeof cls, "%d", TRIPS_DB_LOCK_CLASS);
    snprintf(key, sizeof key, "%" PRId32, day_n);
    r = PQexecParams(c, "SELECT pg_advisory_lock($1::int4, $2::int4)", 2, NULL,
                     params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        trips_db__err(err, errlen, "locking the day: %s", PQerrorMessage(c));
        PQclear(r);
        return TRIPS_DB_ERR_QUERY;
    }
    PQclear(r);
    return TRIPS_DB_OK;
}

int trips_db_rebuild(const char *conninfo, const char *day,
                     struct trips_db_summary *sum, char *err, size_t errlen)
{
    struct trips_db__day d;
    int64_t t0 = clock_mono_ms();
    int32_t day_n;
    int rc;
    PGconn *c;

    memset(sum, 0, sizeof *sum);
    memset(&d, 0, sizeof d);
    d.day = day;
    d.sum = sum;
    trips_params_default(&d.p);
    if (svcday_parse(day, &day_n) != SVCDAY_OK) {
        trips_db__err(err, errlen, "'%s' is not a date (YYYY-MM-DD)", day);
        return TRIPS_DB_ERR_DATE;
    }
    c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        trips_db__err(err, errlen, "PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return TRIPS_DB_ERR_CONNECT;
    }
    rc = trips_db__lock_day(c, day_n, err, errlen);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__read(c, &d, day_n, err, errlen);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__compute(&d);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__format_visits(&d);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__format_outcomes(&d);
    if (rc == TRIPS_DB_OK)
        rc = trips_db__write(c, &d, err, errlen);
    if (rc == TRIPS_DB_ERR_NOMEM)
        trips_db__err(err, errlen, "out of memory");
    sum->seconds = (double)(clock_mono_ms() - t0) / 1000.0;
    trips_db__day_free(&d);
    PQfinish(c);
    return rc;
}
