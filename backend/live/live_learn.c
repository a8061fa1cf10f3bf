/* live_learn: past days' stop visits from PostgreSQL into a live_hist. */
#include "live_learn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* A trip of the feed by id. */
struct live_learn__trip {
    const char *id;
    int trip;
};

struct live_learn {
    const struct trips_feed *f;
    struct svcday *svc;
    struct live_hist *h;
    struct live_learn__trip *byid; /* sorted by id (strcmp) */
    struct live_learn_counts c;
    char day[CLOCK_TEXT_MAX]; /* the day begun last; "" none */
    bool day_ok;              /* it is a day (its rows are usable) */
    /* The load through live_pg. */
    struct live_pg *pg;
    live_learn_done done;
    void *arg;
    bool started, out, freed; /* a FETCH is out; free on its answer */
};

enum live_hist_day live_learn_day_type(int32_t day)
{
    /* 1970-01-01 was a Thursday: 0 is Sunday. */
    int wd = (int)(((int64_t)day % 7 + 7 + 4) % 7);

    return wd == 0   ? LIVE_HIST_SUNDAY
           : wd == 6 ? LIVE_HIST_SATURDAY
                     : LIVE_HIST_WEEKDAY;
}

static int live_learn__cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_learn__trip *)a)->id,
                  ((const struct live_learn__trip *)b)->id);
}

struct live_learn *live_learn_new(const struct trips_feed *f,
                                  struct svcday *svc)
{
    struct live_learn *l = calloc(1, sizeof *l);

    if (!l)
        return NULL;
    l->f = f;
    l->svc = svc;
    l->h = live_hist_new(f);
    l->byid = calloc(f->ntrips + 1, sizeof *l->byid);
    if (!l->h || !l->byid) {
        live_learn_free(l);
        return NULL;
    }
    for (size_t i = 0; i < f->ntrips; i++) {
        l->byid[i].id = f->trips[i].id;
        l->byid[i].trip = (int)i;
    }
    qsort(l->byid, f->ntrips, sizeof *l->byid, live_learn__cmp);
    return l;
}

static void live_learn__release(struct live_learn *l)
{
    live_hist_free(l->h);
    free(l->byid);
    free(l);
}

void live_learn_free(struct live_learn *l)
{
    if (!l)
        return;
    if (l->out) {
        l->freed = true;
        return;
    }
    live_learn__release(l);
}

static int live_learn__trip(const struct live_learn *l, const char *id)
{
    struct live_learn__trip key = {id, -1};
    const struct live_learn__trip *t =
        bsearch(&key, l->byid, l->f->ntrips, sizeof *l->byid, live_learn__cmp);

    return t ? t->trip : -1;
}

/* A new day: its GTFS base (the one conversion, svcday's) and type. */
static int live_learn__day(struct live_learn *l, const char *day)
{
    int32_t d;
    int64_t base;

    snprintf(l->day, sizeof l->day, "%s", day);
    l->day_ok = false;
    if (svcday_parse(day, &d) != SVCDAY_OK)
        return LIVE_LEARN_ERR_ARG;
    if (svcday_gtfs_base_ms(l->svc, d, &base) != SVCDAY_OK)
        return LIVE_LEARN_ERR_NOMEM;
    live_hist_day_begin(l->h, base, live_learn_day_type(d));
    l->day_ok = true;
    l->c.days++;
    return LIVE_LEARN_OK;
}

int live_learn_row(struct live_learn *l, const char *day, const char *trip_id,
                   int sequence, struct live_hist_visit *v)
{
    const struct trips_trip *tr;
    int trip, rc;
    size_t pos;

    l->c.rows++;
    if (strcmp(day, l->day) != 0 && (rc = live_learn__day(l, day)) != 0)
        return rc;
    if (!l->day_ok)
        return LIVE_LEARN_ERR_ARG;
    if ((trip = live_learn__trip(l, trip_id)) < 0) {
        l->c.skipped++;
        return LIVE_LEARN_ERR_SKIP;
    }
    tr = &l->f->trips[trip];
    for (pos = 0; pos < tr->n && l->f->st[tr->first + pos].sequence != sequence;
         pos++)
        ;
    if (pos == tr->n) {
        l->c.skipped++;
        return LIVE_LEARN_ERR_SKIP;
    }
    v->trip = trip;
    v->pos = (int)pos;
    rc = live_hist_add_visit(l->h, v);
    if (rc == LIVE_HIST_ERR_NOMEM)
        return LIVE_LEARN_ERR_NOMEM;
    if (rc != LIVE_HIST_OK) {
        l->c.skipped++;
        return LIVE_LEARN_ERR_SKIP;
    }
    l->c.visits++;
    return LIVE_LEARN_OK;
}

/* The columns live_learn_result reads, in order. */
#define LIVE_LEARN__COLUMNS                                                    \
    "service_day::text, trip_id, stop_sequence,"                               \
    " (extract(epoch FROM arrival) * 1000)::bigint,"                           \
    " (extract(epoch FROM departure) * 1000)::bigint,"                         \
    " boarded, alighted, coalesce(load_after, -1)"

int live_learn_result(struct live_learn *l, const PGresult *r)
{
    int n = PQntuples(r);
    int64_t t0 = clock_mono_us();
    double took;

    if (PQnfields(r) != 8)
        return LIVE_LEARN_ERR_ARG;
    for (int i = 0; i < n; i++) {
        struct live_hist_visit v;
        int rc;

        v.arr_ms = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        v.dep_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        v.boarded = atoi(PQgetvalue(r, i, 5));
        v.alighted = atoi(PQgetvalue(r, i, 6));
        v.load_after = atoi(PQgetvalue(r, i, 7));
        rc = live_learn_row(l, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                            atoi(PQgetvalue(r, i, 2)), &v);
        if (rc == LIVE_LEARN_ERR_NOMEM)
            return rc;
    }
    /* what the caller's loop waited for this chunk */
    took = (double)(clock_mono_us() - t0) / 1e6;
    if (took > l->c.chunk_max_s)
        l->c.chunk_max_s = took;
    return LIVE_LEARN_OK;
}

void live_learn_counts(const struct live_learn *l, struct live_learn_counts *c)
{
    *c = l->c;
}

int live_learn_take(struct live_learn *l, struct live_hist **out)
{
    *out = NULL;
    if (!l->h || live_hist_finish(l->h) != LIVE_HIST_OK)
        return LIVE_LEARN_ERR_NOMEM;
    *out = l->h;
    l->h = NULL;
    return LIVE_LEARN_OK;
}

#define LIVE_LEARN__STR(x) #x
#define LIVE_LEARN__XSTR(x) LIVE_LEARN__STR(x)
struct live_hist *live_learn_detach(struct live_learn *l)
{
    struct live_hist *h = l->h;

    l->h = NULL;
    return h;
}

static const char live_learn__fetch[] =
    "FETCH " LIVE_LEARN__XSTR(LIVE_LEARN_CHUNK) " FROM live_learn";

static void live_learn__answer(void *arg, const PGresult *r, const char *err);

/* The load ends: the transaction goes, the caller hears. */
static void live_learn__end(struct live_learn *l, const char *err)
{
    /* A failed FETCH left the transaction aborted: ROLLBACK ends it
     * either way (and closes the cursor). Nobody waits for its answer. */
    if (live_pg_query(l->pg, err ? "ROLLBACK" : "COMMIT", 0, NULL, NULL,
                      NULL) != LIVE_PG_OK &&
        !err)
        err = "out of memory";
    if (l->done)
        l->done(l->arg, l, err);
}

static void live_learn__answer(void *arg, const PGresult *r, const char *err)
{
    struct live_learn *l = arg;

    l->out = false;
    if (l->freed) {
        (void)live_pg_query(l->pg, "ROLLBACK", 0, NULL, NULL, NULL);
        live_learn__release(l);
        return;
    }
    if (!r) {
        live_learn__end(l, err ? err : "query failed");
        return;
    }
    if (live_learn_result(l, r) != LIVE_LEARN_OK) {
        live_learn__end(l, "out of memory, or not the visits' columns");
        return;
    }
    if (PQntuples(r) < LIVE_LEARN_CHUNK) {
        live_learn__end(l, NULL);
        return;
    }
    if (live_pg_query(l->pg, live_learn__fetch, 0, NULL, live_learn__answer,
                      l) != LIVE_PG_OK) {
        live_learn__end(l, "out of memory");
        return;
    }
    l->out = true;
}

int live_learn_start(struct live_learn *l, struct live_pg *pg,
                     const char *today, int ndays, live_learn_done done,
                     void *arg)
{
    char sql[1024];
    int32_t d;

    if (l->started || ndays < 0 || svcday_parse(today, &d) != SVCDAY_OK)
        return LIVE_LEARN_ERR_ARG;
    /* TODAY is a checked date and NDAYS a number: both safe as text. */
    snprintf(
        sql, sizeof sql,
        "DECLARE live_learn NO SCROLL CURSOR FOR SELECT " LIVE_LEARN__COLUMNS
        " FROM stop_visits"
        " WHERE trip_id IS NOT NULL AND stop_sequence IS NOT NULL"
        " AND service_day >= DATE '%s' - %d AND service_day < DATE '%s'"
        " ORDER BY service_day, trip_id COLLATE \"C\", vehicle_id,"
        " stop_sequence",
        today, ndays, today);
    l->pg = pg;
    l->done = done;
    l->arg = arg;
    /* A trip driven by two buses (a swap) keeps each bus's visits
     * together, so a segment is never timed across two buses. One
     * snapshot: the days read are the days of one moment. The BEGIN
     * and DECLARE have no answer to wait for: if they fail, so does the
     * FETCH behind them, and its answer carries the error. */
    if (live_pg_query(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                      NULL, NULL, NULL) != LIVE_PG_OK ||
        live_pg_query(pg, sql, 0, NULL, NULL, NULL) != LIVE_PG_OK ||
        live_pg_query(pg, live_learn__fetch, 0, NULL, live_learn__answer, l) !=
            LIVE_PG_OK)
        return LIVE_LEARN_ERR_NOMEM;
    l->started = true;
    l->out = true;
    return LIVE_LEARN_OK;
}
