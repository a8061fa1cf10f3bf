/* report_query: the report's reads from daily_ridership, trip_outcomes,
 * stop_visits, passenger_counts (one partition) and eta_samples, never raw
 * positions. */
#include "report_query.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

/* Type OIDs of the parameters (pg_type.h is a server header): every query
 * gets both, typed, so one that does not use $2 still prepares. */
#define OID_DATE 1082
#define OID_TEXT 25

struct report_query {
    PGconn *conn;
};

/* The service zone (the loaded feed's agency_timezone), asked once per
 * statement rather than once per row. */
#define REPORT_QUERY__TZ "(SELECT shuttle_service_tz())"

enum { SQL_SUMMARY, SQL_RUNS, SQL_STOPS, SQL_HOURLY, SQL_ETA, SQL_N };

/* A sample's error in seconds: + the bus came later than predicted. */
#define REPORT_QUERY__ETA_ERR                                                  \
    "extract(epoch FROM actual - predicted)::double precision"

static const char *const daily_sql[SQL_N] = {
    [SQL_SUMMARY] =
        "SELECT boarded, alighted, unattributed_boarded, runs_scheduled,"
        " runs_operated, runs_partial, runs_missed,"
        " to_char(built_at AT TIME ZONE " REPORT_QUERY__TZ ","
        "         'YYYY-MM-DD HH24:MI')"
        " FROM daily_ridership WHERE service_day = $1",
    [SQL_RUNS] =
        "SELECT o.trip_id, o.route_id,"
        " concat_ws(' ', r.route_short_name,"
        "           coalesce(tr.translation, r.route_long_name)),"
        " coalesce(o.direction_id, -1), o.status,"
        " to_char(o.scheduled_start AT TIME ZONE " REPORT_QUERY__TZ ","
        "         'HH24:MI'),"
        " (extract(epoch FROM (o.scheduled_start"
        "                      AT TIME ZONE " REPORT_QUERY__TZ ")"
        "   - $1::timestamp) / 60)::int,"
        " coalesce(to_char(o.actual_start AT TIME ZONE " REPORT_QUERY__TZ ","
        "                  'HH24:MI'), ''),"
        " o.start_delay_s, coalesce(o.vehicle_id, ''), o.boarded,"
        " o.alighted, o.peak_load"
        " FROM trip_outcomes o"
        " LEFT JOIN gtfs_routes r USING (route_id)"
        " LEFT JOIN LATERAL (SELECT translation FROM gtfs_translations t"
        "   WHERE t.table_name = 'routes' AND t.field_name = "
        "'route_long_name'"
        "   AND t.language = $2 AND t.record_id = o.route_id LIMIT 1) tr"
        "   ON true"
        " WHERE o.service_day = $1"
        " ORDER BY o.scheduled_start, o.trip_id",
    /* Every visit of the day counts, matched to a trip or not: a stop's
     * boardings do not depend on trip matching. */
    [SQL_STOPS] =
        "WITH v AS (SELECT stop_id, count(*) FILTER (WHERE stopped) AS n,"
        "  sum(boarded) AS b, sum(alighted) AS a"
        "  FROM stop_visits WHERE service_day = $1 GROUP BY stop_id)"
        " SELECT v.stop_id,"
        " coalesce((SELECT translation FROM gtfs_translations t"
        "   WHERE t.table_name = 'stops' AND t.field_name = 'stop_name'"
        "   AND t.language = $2 AND t.record_id = v.stop_id LIMIT 1),"
        "  s.stop_name, v.stop_id),"
        " v.n, v.b, v.a"
        " FROM v LEFT JOIN gtfs_stops s USING (stop_id)"
        " ORDER BY v.stop_id",
    /* The door closing is when the boarding is complete; t (the record's
     * time) when the counter gave no door times. service_day selects one
     * partition. */
    [SQL_HOURLY] = "SELECT extract(hour FROM coalesce(door_close, t)"
                   "               AT TIME ZONE " REPORT_QUERY__TZ ")::int,"
                   " sum(boarded), sum(alighted)"
                   " FROM passenger_counts WHERE service_day = $1"
                   " GROUP BY 1 ORDER BY 1",
    /* Per horizon present, so the report follows the audit's horizons
     * without a copy of their list. $2 is unused but typed. */
    [SQL_ETA] = "SELECT horizon_s, count(*),"
                " avg(abs(" REPORT_QUERY__ETA_ERR ")),"
                " percentile_cont(0.9) WITHIN GROUP"
                "  (ORDER BY abs(" REPORT_QUERY__ETA_ERR ")),"
                " avg(" REPORT_QUERY__ETA_ERR "),"
                " count(*) FILTER (WHERE accurate),"
                " count(*) FILTER (WHERE covered)"
                " FROM eta_samples WHERE service_day = $1 AND $2 IS NOT NULL"
                " GROUP BY horizon_s ORDER BY horizon_s",
};

#define REPORT_QUERY__STR(x) #x
#define REPORT_QUERY__XSTR(x) REPORT_QUERY__STR(x)

static const char range_sql[] =
    "SELECT to_char(d, 'YYYY-MM-DD'), r.service_day IS NOT NULL,"
    " coalesce(r.boarded, 0), coalesce(r.alighted, 0),"
    " coalesce(r.runs_scheduled, 0), coalesce(r.runs_operated, 0),"
    " coalesce(r.runs_partial, 0), coalesce(r.runs_missed, 0),"
    " coalesce(r.runs_late, 0), coalesce(e.n, 0), e.mae, e.accurate"
    " FROM generate_series($1::date, $2::date, interval '1 day') AS d"
    " LEFT JOIN daily_ridership r ON r.service_day = d::date"
    " LEFT JOIN (SELECT service_day, count(*) AS n,"
    "   avg(abs(" REPORT_QUERY__ETA_ERR ")) AS mae,"
    "   count(*) FILTER (WHERE accurate) AS accurate"
    "   FROM eta_samples WHERE service_day BETWEEN $1 AND $2"
    "   AND horizon_s = " REPORT_QUERY__XSTR(
        REPORT_QUERY_RANGE_HORIZON_S) " GROUP BY service_day) e"
                                      " ON e.service_day = d::date"
                                      " ORDER BY d";

int report_query_daily_nsql(void)
{
    return SQL_N;
}

const char *report_query_daily_sql(int i)
{
    return i >= 0 && i < SQL_N ? daily_sql[i] : NULL;
}

int report_query_is_crowded(int peak, int seats, int pct)
{
    return (long long)peak * 100 >= (long long)seats * pct;
}

int report_query_counter_suspect(int boarded, int alighted, int pct, int slack)
{
    long long diff =
        boarded > alighted ? boarded - alighted : alighted - boarded;
    long long big = boarded > alighted ? boarded : alighted;

    return diff * 100 > big * pct + (long long)slack * 100;
}

void report_query_conninfo_display(const char *conninfo, char *out,
                                   size_t outlen)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    size_t o = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    if (opts == NULL) {
        snprintf(out, outlen, "(unparsable connection string)");
        return;
    }
    for (PQconninfoOption *p = opts; p->keyword != NULL; p++) {
        int n;

        if (p->val == NULL || p->val[0] == '\0' ||
            strcmp(p->keyword, "password") == 0)
            continue;
        n = snprintf(out + o, outlen - o, "%s%s=%s", o ? " " : "", p->keyword,
                     p->val);
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
    PQconninfoFree(opts);
}

int report_query_schema_newer(struct report_query *q, char *err, size_t errlen)
{
    return schema_check(q->conn, "shuttle-report", err, errlen) == SCHEMA_NEWER;
}

int report_query_open(const char *conninfo, struct report_query **out,
                      char *err, size_t errlen)
{
    /* Ours first: with expand_dbname the conninfo's own settings win. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                                NULL};
    const char *const vals[] = {"10", "shuttle-report", conninfo, NULL};
    struct report_query *q = calloc(1, sizeof *q);
    char shown[512];

    *out = NULL;
    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return REPORT_QUERY_ERR_NOMEM;
    }
    q->conn = PQconnectdbParams(keys, vals, 1);
    if (q->conn == NULL || PQstatus(q->conn) != CONNECTION_OK) {
        const char *why = q->conn ? PQerrorMessage(q->conn) : "no memory";
        size_t len = strlen(why);

        /* libpq messages end in a newline (sometimes two lines); keep the
         * first line, our caller adds its own line end. */
        report_query_conninfo_display(conninfo, shown, sizeof shown);
        if (strchr(why, '\n') != NULL)
            len = (size_t)(strchr(why, '\n') - why);
        snprintf(err, errlen, "cannot connect to database '%s': %.*s", shown,
                 (int)len, why);
        report_query_close(q);
        return REPORT_QUERY_ERR_CONNECT;
    }
    *out = q;
    return REPORT_QUERY_OK;
}

void report_query_close(struct report_query *q)
{
    if (q == NULL)
        return;
    if (q->conn)
        PQfinish(q->conn);
    free(q);
}

static PGresult *run(struct report_query *q, const char *sql, const char *p1,
                     const char *p2, char *err, size_t errlen)
{
    const Oid types[2] = {OID_DATE, OID_TEXT};
    const char *vals[2] = {p1, p2};
    PGresult *res = PQexecParams(q->conn, sql, 2, types, vals, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK &&
        PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorMessage(res);

        snprintf(err, errlen, "query failed: %.*s", (int)strcspn(msg, "\n"),
                 msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int report_query__cmd(struct report_query *q, const char *sql, char *err,
                             size_t errlen)
{
    PGresult *res = PQexec(q->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok) {
        const char *msg = PQresultErrorMessage(res);

        snprintf(err, errlen, "%s: %.*s", sql, (int)strcspn(msg, "\n"), msg);
    }
    PQclear(res);
    return ok ? REPORT_QUERY_OK : REPORT_QUERY_ERR_QUERY;
}

static int report_query__geti(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col)
               ? 0
               : (int)strtol(PQgetvalue(res, row, col), NULL, 10);
}

static char *report_query__dup(const char *s)
{
    return strdup(s ? s : "");
}

static double report_query__pct1(long long n, long long of)
{
    return of > 0 ? round(1000.0 * (double)n / (double)of) / 10.0 : 0.0;
}

/* A double column rounded to 0.1, 0 when NULL: every format then shows
 * the same figure. */
static double report_query__getd1(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col)
               ? 0.0
               : round(10.0 * strtod(PQgetvalue(res, row, col), NULL)) / 10.0;
}

static int report_query__fetch_eta(struct report_query_daily *d,
                                   const PGresult *res)
{
    int n = PQntuples(res);

    d->eta = calloc(n > 0 ? (size_t)n : 1, sizeof *d->eta);
    if (d->eta == NULL)
        return REPORT_QUERY_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct report_query_eta *e = &d->eta[d->neta++];

        e->horizon_s = report_query__geti(res, i, 0);
        e->samples = report_query__geti(res, i, 1);
        e->mae_s = report_query__getd1(res, i, 2);
        e->p90_s = report_query__getd1(res, i, 3);
        e->bias_s = report_query__getd1(res, i, 4);
        e->accurate = report_query__geti(res, i, 5);
        e->covered = report_query__geti(res, i, 6);
        e->accuracy_pct = report_query__pct1(e->accurate, e->samples);
        e->coverage_pct = report_query__pct1(e->covered, e->samples);
    }
    return REPORT_QUERY_OK;
}

static int report_query__fetch_runs(struct report_query_daily *d,
                                    const PGresult *res)
{
    int n = PQntuples(res);

    d->runs = calloc(n > 0 ? (size_t)n : 1, sizeof *d->runs);
    if (d->runs == NULL)
        return REPORT_QUERY_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct report_query_run *r = &d->runs[i];
        const char *st = PQgetvalue(res, i, 4);

        d->nruns++;
        r->trip_id = report_query__dup(PQgetvalue(res, i, 0));
        r->route_id = report_query__dup(PQgetvalue(res, i, 1));
        r->route_name = report_query__dup(PQgetvalue(res, i, 2));
        r->vehicle_id = report_query__dup(PQgetvalue(res, i, 9));
        if (!r->trip_id || !r->route_id || !r->route_name || !r->vehicle_id)
            return REPORT_QUERY_ERR_NOMEM;
        r->direction = report_query__geti(res, i, 3);
        r->status = strcmp(st, "operated") == 0  ? REPORT_QUERY_OPERATED
                    : strcmp(st, "partial") == 0 ? REPORT_QUERY_PARTIAL
                                                 : REPORT_QUERY_MISSED;
        snprintf(r->sched_start, sizeof r->sched_start, "%s",
                 PQgetvalue(res, i, 5));
        r->sched_min = report_query__geti(res, i, 6);
        snprintf(r->actual_start, sizeof r->actual_start, "%s",
                 PQgetvalue(res, i, 7));
        r->has_delay = !PQgetisnull(res, i, 8);
        r->delay_s = report_query__geti(res, i, 8);
        r->boarded = report_query__geti(res, i, 10);
        r->alighted = report_query__geti(res, i, 11);
        r->has_peak = !PQgetisnull(res, i, 12);
        r->peak_load = report_query__geti(res, i, 12);
        r->load_pct = report_query__pct1(r->peak_load, d->p.seats);
        r->crowded =
            r->has_peak &&
            report_query_is_crowded(r->peak_load, d->p.seats, d->p.crowded_pct);
        r->late = r->status != REPORT_QUERY_MISSED && r->has_delay &&
                  r->delay_s > d->p.late_s;
        r->counter_suspect =
            r->status != REPORT_QUERY_MISSED &&
            report_query_counter_suspect(r->boarded, r->alighted,
                                         d->p.counter_pct, d->p.counter_slack);
        d->runs_late += r->late;
        d->runs_crowded += r->crowded;
        d->runs_counter_suspect += r->counter_suspect;
    }
    return REPORT_QUERY_OK;
}

static int report_query__route_cmp(const void *a, const void *b)
{
    const struct report_query_route *x = a, *y = b;
    int c = strcmp(x->route_id, y->route_id);

    return c ? c : x->direction - y->direction;
}

/* Per route and direction, summed from the runs so that the table always
 * adds up to the runs listed below it. */
static int report_query__build_routes(struct report_query_daily *d)
{
    d->routes = calloc(d->nruns > 0 ? d->nruns : 1, sizeof *d->routes);
    if (d->routes == NULL)
        return REPORT_QUERY_ERR_NOMEM;
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_query_run *r = &d->runs[i];
        struct report_query_route *g = NULL;

        for (size_t j = 0; j < d->nroutes; j++)
            if (strcmp(d->routes[j].route_id, r->route_id) == 0 &&
                d->routes[j].direction == r->direction)
                g = &d->routes[j];
        if (g == NULL) {
            g = &d->routes[d->nroutes++];
            g->route_id = report_query__dup(r->route_id);
            g->route_name = report_query__dup(r->route_name);
            if (!g->route_id || !g->route_name)
                return REPORT_QUERY_ERR_NOMEM;
            g->direction = r->direction;
        }
        g->runs++;
        g->operated += r->status == REPORT_QUERY_OPERATED;
        g->partial += r->status == REPORT_QUERY_PARTIAL;
        g->missed += r->status == REPORT_QUERY_MISSED;
        g->late += r->late;
        g->crowded += r->crowded;
        g->boarded += r->boarded;
        g->alighted += r->alighted;
    }
    qsort(d->routes, d->nroutes, sizeof *d->routes, report_query__route_cmp);
    return REPORT_QUERY_OK;
}

static int report_query__fetch_stops(struct report_query_daily *d,
                                     const PGresult *res)
{
    int n = PQntuples(res);

    d->stops = calloc(n > 0 ? (size_t)n : 1, sizeof *d->stops);
    if (d->stops == NULL)
        return REPORT_QUERY_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct report_query_stop *s = &d->stops[i];

        d->nstops++;
        s->stop_id = report_query__dup(PQgetvalue(res, i, 0));
        s->name = report_query__dup(PQgetvalue(res, i, 1));
        if (!s->stop_id || !s->name)
            return REPORT_QUERY_ERR_NOMEM;
        s->visits = report_query__geti(res, i, 2);
        s->boarded = report_query__geti(res, i, 3);
        s->alighted = report_query__geti(res, i, 4);
    }
    return REPORT_QUERY_OK;
}

/* The day's queries, inside the caller's transaction. */
static int report_query__daily_fetch(struct report_query *q,
                                     struct report_query_daily *d,
                                     const char *lang, char *err, size_t errlen)
{
    PGresult *res;
    int rc;

    if ((res = run(q, daily_sql[SQL_SUMMARY], d->date, lang, err, errlen)) ==
        NULL)
        return REPORT_QUERY_ERR_QUERY;
    if (PQntuples(res) == 0) {
        PQclear(res);
        /* Tell "not built yet" from "nothing recorded": the fix differs. */
        res = run(q,
                  "SELECT count(*) FROM passenger_counts"
                  " WHERE service_day = $1 AND $2 IS NOT NULL",
                  d->date, lang, err, errlen);
        if (res == NULL)
            return REPORT_QUERY_ERR_QUERY;
        d->raw_counts = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        snprintf(err, errlen, "%s has no daily_ridership row", d->date);
        return REPORT_QUERY_ERR_EMPTY;
    }
    d->boarded = report_query__geti(res, 0, 0);
    d->alighted = report_query__geti(res, 0, 1);
    d->unattributed = report_query__geti(res, 0, 2);
    d->runs_scheduled = report_query__geti(res, 0, 3);
    d->runs_operated = report_query__geti(res, 0, 4);
    d->runs_partial = report_query__geti(res, 0, 5);
    d->runs_missed = report_query__geti(res, 0, 6);
    snprintf(d->built_at, sizeof d->built_at, "%s", PQgetvalue(res, 0, 7));
    d->pct_of_target = report_query__pct1(d->boarded, d->p.target);
    PQclear(res);

    if ((res = run(q, daily_sql[SQL_RUNS], d->date, lang, err, errlen)) == NULL)
        return REPORT_QUERY_ERR_QUERY;
    rc = report_query__fetch_runs(d, res);
    PQclear(res);
    if (rc == REPORT_QUERY_OK)
        rc = report_query__build_routes(d);
    if (rc != REPORT_QUERY_OK)
        return rc;

    if ((res = run(q, daily_sql[SQL_STOPS], d->date, lang, err, errlen)) ==
        NULL)
        return REPORT_QUERY_ERR_QUERY;
    rc = report_query__fetch_stops(d, res);
    PQclear(res);
    if (rc != REPORT_QUERY_OK)
        return rc;

    if ((res = run(q, daily_sql[SQL_HOURLY], d->date, lang, err, errlen)) ==
        NULL)
        return REPORT_QUERY_ERR_QUERY;
    for (int i = 0; i < PQntuples(res); i++) {
        int h = report_query__geti(res, i, 0);

        if (h >= 0 && h < 24) {
            d->hour_boarded[h] = report_query__geti(res, i, 1);
            d->hour_alighted[h] = report_query__geti(res, i, 2);
        }
    }
    PQclear(res);

    if ((res = run(q, daily_sql[SQL_ETA], d->date, lang, err, errlen)) == NULL)
        return REPORT_QUERY_ERR_QUERY;
    rc = report_query__fetch_eta(d, res);
    PQclear(res);
    return rc;
}

int report_query_daily(struct report_query *q,
                       const struct report_query_params *p, const char *date,
                       struct report_query_daily *d, char *err, size_t errlen)
{
    const char *lang = p->english ? "en" : "ko";
    int rc;

    memset(d, 0, sizeof *d);
    d->p = *p;
    snprintf(d->date, sizeof d->date, "%s", date);
    /* One snapshot: a rebuild of the day committing between two of the
     * queries must not make the totals disagree with the runs. */
    rc = report_query__cmd(q, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                           err, errlen);
    if (rc != REPORT_QUERY_OK)
        return rc;
    rc = report_query__daily_fetch(q, d, lang, err, errlen);
    if (rc == REPORT_QUERY_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    /* Read only: ROLLBACK ends it as well as COMMIT and works after an
     * error too. */
    PQclear(PQexec(q->conn, "ROLLBACK"));
    return rc;
}

void report_query_daily_free(struct report_query_daily *d)
{
    for (size_t i = 0; i < d->nruns; i++) {
        free(d->runs[i].trip_id);
        free(d->runs[i].route_id);
        free(d->runs[i].route_name);
        free(d->runs[i].vehicle_id);
    }
    for (size_t i = 0; i < d->nroutes; i++) {
        free(d->routes[i].route_id);
        free(d->routes[i].route_name);
    }
    for (size_t i = 0; i < d->nstops; i++) {
        free(d->stops[i].stop_id);
        free(d->stops[i].name);
    }
    free(d->runs);
    free(d->routes);
    free(d->stops);
    free(d->eta);
    d->runs = NULL;
    d->routes = NULL;
    d->stops = NULL;
    d->eta = NULL;
    d->nruns = d->nroutes = d->nstops = d->neta = 0;
}

int report_query_range(struct report_query *q,
                       const struct report_query_params *p, const char *from,
                       const char *to, struct report_query_range *r, char *err,
                       size_t errlen)
{
    const Oid types[2] = {OID_DATE, OID_DATE};
    const char *vals[2] = {from, to};
    PGresult *res;
    long long built_sum = 0;
    int n;

    memset(r, 0, sizeof *r);
    r->p = *p;
    snprintf(r->from, sizeof r->from, "%s", from);
    snprintf(r->to, sizeof r->to, "%s", to);
    res = PQexecParams(q->conn, range_sql, 2, types, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);

        snprintf(err, errlen, "query failed: %.*s", (int)strcspn(msg, "\n"),
                 msg);
        PQclear(res);
        return REPORT_QUERY_ERR_QUERY;
    }
    n = PQntuples(res);
    r->days = calloc(n > 0 ? (size_t)n : 1, sizeof *r->days);
    if (r->days == NULL) {
        PQclear(res);
        snprintf(err, errlen, "out of memory");
        return REPORT_QUERY_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct report_query_day *d = &r->days[r->ndays++];

        snprintf(d->date, sizeof d->date, "%s", PQgetvalue(res, i, 0));
        d->built = PQgetvalue(res, i, 1)[0] == 't';
        d->boarded = report_query__geti(res, i, 2);
        d->alighted = report_query__geti(res, i, 3);
        d->runs_scheduled = report_query__geti(res, i, 4);
        d->runs_operated = report_query__geti(res, i, 5);
        d->runs_partial = report_query__geti(res, i, 6);
        d->runs_missed = report_query__geti(res, i, 7);
        d->runs_late = report_query__geti(res, i, 8);
        /* Predictions are scored whether or not the day was built. */
        d->eta_samples = report_query__geti(res, i, 9);
        d->eta_mae_s = report_query__getd1(res, i, 10);
        d->eta_accuracy_pct =
            report_query__pct1(report_query__geti(res, i, 11), d->eta_samples);
        if (!d->built)
            continue;
        d->pct_of_target = report_query__pct1(d->boarded, p->target);
        d->below_target = d->boarded < p->target;
        r->days_built++;
        r->days_below += d->below_target;
        built_sum += d->boarded;
    }
    PQclear(res);
    r->boarded_total = built_sum;
    if (r->days_built == 0) {
        snprintf(err, errlen, "no day from %s to %s has been built", from, to);
        return REPORT_QUERY_ERR_EMPTY;
    }
    r->boarded_mean = round(10.0 * (double)built_sum / r->days_built) / 10.0;
    return REPORT_QUERY_OK;
}

void report_query_range_free(struct report_query_range *r)
{
    free(r->days);
    r->days = NULL;
    r->ndays = 0;
}

int report_query_service_zone(struct report_query *q, char *zone, size_t len,
                              char *err, size_t errlen)
{
    PGresult *r = PQexec(q->conn, "SELECT shuttle_service_tz()");
    int rc = REPORT_QUERY_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(err, errlen, "service time zone: %s", PQerrorMessage(q->conn));
        rc = REPORT_QUERY_ERR_QUERY;
    } else if ((size_t)snprintf(zone, len, "%s", PQgetvalue(r, 0, 0)) >= len) {
        snprintf(err, errlen, "service time zone: name too long");
        rc = REPORT_QUERY_ERR_QUERY;
    }
    PQclear(r);
    return rc;
}
