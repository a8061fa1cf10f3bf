/* live_sink: the bounded queue of audit samples and their batched INSERT
 * into eta_samples. */
#include "live_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct live_sink {
    struct live_sink_params pp;
    struct live_sink_row *ring;
    size_t head, n;     /* the oldest row, rows held */
    size_t inflight;    /* the first `inflight` rows are out in a batch */
    int refusals;       /* of the batch in flight, in a row */
    int64_t last_ms;    /* when the last batch went; INT64_MIN none yet */
    struct live_pg *pg; /* of the batch in flight, for its answer */
    struct live_sink_counts c;
};

/* Columns as json_to_recordset names them: short keys keep a batch of
 * 1,000 rows near 250 kB. Times go as Unix ms and are turned into
 * timestamptz exactly (no float division). */
const char *const live_sink_sql =
    "INSERT INTO eta_samples (service_day, vehicle_id, trip_id, route_id,"
    " stop_id, stop_sequence, horizon_s, made_at, predicted, lo, hi, actual,"
    " accurate, covered)"
    " SELECT d, v, t, r, s, q, h,"
    " 'epoch'::timestamptz + m * interval '1 millisecond',"
    " 'epoch'::timestamptz + p * interval '1 millisecond',"
    " 'epoch'::timestamptz + l * interval '1 millisecond',"
    " 'epoch'::timestamptz + u * interval '1 millisecond',"
    " 'epoch'::timestamptz + a * interval '1 millisecond',"
    " ac, co FROM json_to_recordset($1::json) AS x(d date, v text, t text,"
    " r text, s text, q integer, h integer, m bigint, p bigint, l bigint,"
    " u bigint, a bigint, ac boolean, co boolean)"
    " ON CONFLICT DO NOTHING";

void live_sink_params_default(struct live_sink_params *p)
{
    p->cap = 100000;
    p->batch_max = 1000;
    p->flush_ms = 1000;
    p->retries = 3;
}

struct live_sink *live_sink_new(const struct live_sink_params *pp)
{
    struct live_sink *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    if (pp)
        s->pp = *pp;
    else
        live_sink_params_default(&s->pp);
    if (s->pp.cap < 1)
        s->pp.cap = 1;
    if (s->pp.batch_max < 1)
        s->pp.batch_max = 1;
    s->last_ms = INT64_MIN;
    s->ring = calloc(s->pp.cap, sizeof *s->ring);
    if (!s->ring) {
        free(s);
        return NULL;
    }
    return s;
}

void live_sink_free(struct live_sink *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s);
}

static struct live_sink_row *live_sink__at(struct live_sink *s, size_t i)
{
    return &s->ring[(s->head + i) % s->pp.cap];
}

void live_sink_push(struct live_sink *s, const struct live_sink_row *row)
{
    if (s->n == s->pp.cap) {
        if (s->inflight == s->n) {
            s->c.dropped++;
            return;
        }
        /* The oldest row not in flight goes: the batch out keeps its rows
         * in order at the head, one place further on. */
        for (size_t i = s->inflight; i > 0; i--)
            *live_sink__at(s, i) = *live_sink__at(s, i - 1);
        s->head = (s->head + 1) % s->pp.cap;
        s->n--;
        s->c.dropped++;
    }
    *live_sink__at(s, s->n) = *row;
    s->n++;
}

size_t live_sink_queued(const struct live_sink *s)
{
    return s->n;
}

bool live_sink_due(const struct live_sink *s, int64_t now_ms)
{
    if (s->n == 0 || s->inflight > 0)
        return false;
    return s->n >= s->pp.batch_max || s->last_ms == INT64_MIN ||
           now_ms - s->last_ms >= s->pp.flush_ms;
}

/* A growing text. */
struct live_sink__text {
    char *p;
    size_t len, cap;
};

static int live_sink__grow(struct live_sink__text *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return 0;
    {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + more;
        char *p = realloc(t->p, cap);

        if (!p)
            return -1;
        t->p = p;
        t->cap = cap;
    }
    return 0;
}

/* KEY and the JSON string of V, after a comma. */
static int live_sink__str(struct live_sink__text *t, const char *key,
                          const char *v)
{
    size_t n = strlen(v);

    /* 6 bytes per character is the worst case (\u00XX). */
    if (live_sink__grow(t, strlen(key) + 6 * n + 8) != 0)
        return -1;
    t->len += (size_t)sprintf(t->p + t->len, ",\"%s\":\"", key);
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (*c == '"' || *c == '\\') {
            t->p[t->len++] = '\\';
            t->p[t->len++] = (char)*c;
        } else if (*c < 0x20) {
            t->len += (size_t)sprintf(t->p + t->len, "\\u%04x", *c);
        } else {
            t->p[t->len++] = (char)*c;
        }
    }
    t->p[t->len++] = '"';
    t->p[t->len] = '\0';
    return 0;
}

static int live_sink__row(struct live_sink__text *t,
                          const struct live_sink_row *r, bool first)
{
    char day[CLOCK_TEXT_MAX];

    clock_text_day(day, r->service_day);
    if (live_sink__grow(t, 64) != 0)
        return -1;
    t->len += (size_t)sprintf(t->p + t->len, "%s{\"d\":\"%s\"",
                              first ? "" : ",", day);
    if (live_sink__str(t, "v", r->vehicle_id) != 0 ||
        live_sink__str(t, "t", r->trip_id) != 0 ||
        live_sink__str(t, "r", r->route_id) != 0 ||
        live_sink__str(t, "s", r->stop_id) != 0 || live_sink__grow(t, 200) != 0)
        return -1;
    t->len += (size_t)sprintf(
        t->p + t->len,
        ",\"q\":%d,\"h\":%d,\"m\":%" PRId64 ",\"p\":%" PRId64 ",\"l\":%" PRId64
        ",\"u\":%" PRId64 ",\"a\":%" PRId64 ",\"ac\":%s,\"co\":%s}",
        r->stop_sequence, r->horizon_s, r->made_ms, r->pred_ms, r->lo_ms,
        r->hi_ms, r->actual_ms, r->accurate ? "true" : "false",
        r->covered ? "true" : "false");
    return 0;
}

int live_sink_take(struct live_sink *s, int64_t now_ms, char **json, size_t *n)
{
    struct live_sink__text t = {NULL, 0, 0};
    size_t k = s->n < s->pp.batch_max ? s->n : s->pp.batch_max;

    *json = NULL;
    *n = 0;
    if (s->inflight > 0 || k == 0)
        return LIVE_SINK_ERR_BUSY;
    if (live_sink__grow(&t, 2) != 0)
        return LIVE_SINK_ERR_NOMEM;
    t.p[t.len++] = '[';
    for (size_t i = 0; i < k; i++)
        if (live_sink__row(&t, live_sink__at(s, i), i == 0) != 0) {
            free(t.p);
            return LIVE_SINK_ERR_NOMEM;
        }
    if (live_sink__grow(&t, 1) != 0) {
        free(t.p);
        return LIVE_SINK_ERR_NOMEM;
    }
    t.p[t.len++] = ']';
    t.p[t.len] = '\0';
    s->inflight = k;
    s->last_ms = now_ms;
    *json = t.p;
    *n = k;
    return LIVE_SINK_OK;
}

/* The batch's rows leave the ring. */
static void live_sink__drop_inflight(struct live_sink *s)
{
    s->head = (s->head + s->inflight) % s->pp.cap;
    s->n -= s->inflight;
    s->inflight = 0;
    s->refusals = 0;
}

void live_sink_done(struct live_sink *s, bool ok, bool refused)
{
    if (s->inflight == 0)
        return;
    if (ok) {
        s->c.written += s->inflight;
        live_sink__drop_inflight(s);
        return;
    }
    s->c.failed += s->inflight;
    if (refused && ++s->refusals > s->pp.retries) {
        s->c.dropped += s->inflight;
        live_sink__drop_inflight(s);
        return;
    }
    if (!refused)
        s->refusals = 0;
    s->inflight = 0; /* the rows stay at the head, to go again */
}

void live_sink_lost(struct live_sink *s)
{
    s->inflight = 0;
    s->pg = NULL;
}

void live_sink_counts(const struct live_sink *s, struct live_sink_counts *c)
{
    *c = s->c;
}

static void live_sink__answer(void *arg, const PGresult *r, const char *err)
{
    struct live_sink *s = arg;

    (void)err;
    /* live_pg marks itself down before it answers a lost connection's
     * queries: still ready means the server itself refused the batch. */
    live_sink_done(s, r != NULL, !r && s->pg && live_pg_ready(s->pg));
}

int live_sink_flush(struct live_sink *s, struct live_pg *pg, int64_t now_ms)
{
    char *json;
    size_t n;
    int rc;

    if (!live_pg_ready(pg) || !live_sink_due(s, now_ms))
        return LIVE_SINK_OK;
    rc = live_sink_take(s, now_ms, &json, &n);
    if (rc == LIVE_SINK_ERR_BUSY)
        return LIVE_SINK_OK;
    if (rc != LIVE_SINK_OK)
        return rc;
    s->pg = pg;
    {
        const char *p[1] = {json};

        rc = live_pg_query(pg, live_sink_sql, 1, p, live_sink__answer, s);
    }
    free(json);
    if (rc != LIVE_PG_OK) {
        s->inflight = 0; /* not sent: the rows wait for the next try */
        return LIVE_SINK_ERR_NOMEM;
    }
    return LIVE_SINK_OK;
}
