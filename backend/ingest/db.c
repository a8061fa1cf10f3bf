/* db: PostgreSQL through libpq: migrations, batched idempotent writes, acks. */
#include "db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "migrations.h"
#include "svcday.h"

#define DB_DEAD_KEEP 4096            /* bytes of a dead payload worth keeping */
#define DB_LOCK_MIGRATE 0x5348544cLL /* advisory lock key: "SHTL" */
/* Distinct service days in one commit, and remembered as having partitions.
 * A backlog of more days than this is split over several commits. */
#define DB_DAYS_MAX 64

struct db_text {
    char *p;
    size_t len, cap;
};

struct db_dead {
    char *topic, *vid, *reason;
    uint64_t seq; /* the refused record's, or 0 for a whole message */
    void *payload;
    size_t kept, len;
};

/* One staged batch's rows in the COPY texts: the unit a failed commit is
 * narrowed down to before going row by row. */
struct db_unit {
    char vid[WIRE_VID_MAX + 1];
    size_t pos_off, pos_end, cnt_off, cnt_end;
};

/* A vehicle touched by the staged rows: the oldest seq it still holds, and
 * the seqs staged for it (to see whether they simply extend its watermark). */
struct db_vehicle {
    char vid[WIRE_VID_MAX + 1];
    uint64_t oldest_held;
    uint64_t *seqs;
    size_t nseq, capseq;
    bool slow;       /* the watermark needs the database's walk */
    uint64_t fast_w; /* when not slow: the new watermark */
};

/* The watermark this process last read back for a vehicle. The database's
 * value only grows, so this is a lower bound of it. */
struct db_acked {
    char vid[WIRE_VID_MAX + 1];
    uint64_t acked;
};

struct db {
    char *conninfo;
    PGconn *conn;
    size_t max_staged;
    struct db_text pos, cnt; /* COPY text of staged rows */
    size_t npos, ncnt;
    struct db_dead *dead;
    size_t ndead, capdead;
    struct db_unit *units;
    size_t nunits, capunits;
    char sqlstate[6]; /* of the last failed statement, "" if none */
    uint64_t narrowed; /* items a failed commit sent to dead letters */
    struct wire_status *status;
    size_t nstatus, capstatus;
    struct db_vehicle *veh;
    size_t nveh, capveh;
    struct db_acked *acked; /* open addressing, capacity a power of two */
    size_t nacked, capacked;
    int32_t staged_days[DB_DAYS_MAX]; /* service days in the staged rows */
    size_t nstaged_days;
    int32_t known_days[DB_DAYS_MAX]; /* days whose partitions exist */
    size_t nknown_days;
    uint64_t commits;
    struct svcday svc; /* the service zone, read by db_prepare */
};

static void db_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void db_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* libpq messages end in a newline; a log line should not. */
    n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

int db_new(const char *conninfo, size_t max_staged, struct db **out)
{
    struct db *d = calloc(1, sizeof *d);

    if (!d)
        return DB_ERR_NOMEM;
    d->conninfo = strdup(conninfo);
    if (!d->conninfo) {
        free(d);
        return DB_ERR_NOMEM;
    }
    d->max_staged = max_staged;
    *out = d;
    return DB_OK;
}

static void db_clear_staged(struct db *d)
{
    d->pos.len = d->cnt.len = 0;
    d->npos = d->ncnt = 0;
    for (size_t i = 0; i < d->ndead; i++) {
        free(d->dead[i].topic);
        free(d->dead[i].vid);
        free(d->dead[i].reason);
        free(d->dead[i].payload);
    }
    d->ndead = 0;
    d->nunits = 0;
    d->nstatus = 0;
    d->nveh = 0;
    d->nstaged_days = 0;
}

void db_free(struct db *d)
{
    if (!d)
        return;
    if (d->conn)
        PQfinish(d->conn);
    db_clear_staged(d);
    free(d->pos.p);
    free(d->cnt.p);
    free(d->dead);
    free(d->units);
    free(d->status);
    for (size_t i = 0; i < d->capveh; i++)
        free(d->veh[i].seqs);
    free(d->veh);
    free(d->acked);
    free(d->conninfo);
    free(d);
}

bool db_connected(const struct db *d)
{
    return d->conn && PQstatus(d->conn) == CONNECTION_OK;
}

static void db_drop(struct db *d)
{
    if (d->conn) {
        PQfinish(d->conn);
        d->conn = NULL;
    }
}

/* Remember why a statement failed: a data error is the rows' fault, and
 * narrowed down; anything else is the connection's or the server's. */
static void db_note_state(struct db *d, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    snprintf(d->sqlstate, sizeof d->sqlstate, "%s", st ? st : "");
}

static int db_exec(struct db *d, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(d->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_note_state(d, r);
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    PQclear(r);
    return DB_OK;
}

/* Server NOTICEs ("relation already exists, skipping") are not ours to
 * print. */
static void db_quiet(void *arg, const char *message)
{
}

int db_connect(struct db *d, char *err, size_t errlen)
{
    db_drop(d);
    d->conn = PQconnectdb(d->conninfo);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        db_drop(d);
        return DB_ERR_CONNECT;
    }
    PQsetNoticeProcessor(d->conn, db_quiet, NULL);
    /* Staged rows go through per-session temporary tables: COPY is the
     * fast path into PostgreSQL, and only INSERT ... ON CONFLICT makes a
     * re-sent record a no-op. */
    if (db_exec(d,
                "SET TIME ZONE 'UTC';"
                "SET synchronous_commit = on;"
                "SET application_name = 'shuttle-backend';",
                err, errlen) != DB_OK) {
        db_drop(d);
        return DB_ERR_CONNECT;
    }
    return DB_OK;
}

/* The service zone, asked at every (re)connect: a feed loaded meanwhile
 * with another zone takes effect then. */
static int db_read_zone(struct db *d, char *err, size_t errlen)
{
    PGresult *r = PQexec(d->conn, "SELECT shuttle_service_tz()");
    int rc = DB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        db_errf(err, errlen, "service time zone: %s",
                PQerrorMessage(d->conn));
        rc = DB_ERR_QUERY;
    } else if (svcday_init(&d->svc, PQgetvalue(r, 0, 0)) != SVCDAY_OK) {
        db_errf(err, errlen,
                "service time zone '%s' (the feed's agency_timezone) is "
                "not in this machine's tz database",
                PQgetvalue(r, 0, 0));
        rc = DB_ERR_QUERY;
    }
    PQclear(r);
    return rc;
}

int db_prepare(struct db *d, char *err, size_t errlen)
{
    /* Spelled out rather than LIKE positions: the ingest role may not read
     * the raw tables, and LIKE needs that. Same columns, same order. */
    int rc = db_exec(
        d,
        "CREATE TEMP TABLE IF NOT EXISTS stage_positions ("
        " vehicle_id text, seq bigint, service_day date, t timestamptz,"
        " received_at timestamptz DEFAULT now(), backlog boolean,"
        " time_source smallint, lat double precision, lon double precision,"
        " speed real, track real, alt real, hdop real, fix_mode smallint,"
        " sats_used smallint) ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_counts ("
        " vehicle_id text, seq bigint, service_day date, t timestamptz,"
        " received_at timestamptz DEFAULT now(), backlog boolean,"
        " time_source smallint, door smallint, boarded smallint,"
        " alighted smallint, door_open timestamptz, door_close timestamptz,"
        " load_after smallint, lat double precision, lon double precision,"
        " quality smallint) ON COMMIT DELETE ROWS;",
        err, errlen);

    if (rc == DB_OK)
        rc = db_read_zone(d, err, errlen);
    if (rc != DB_OK)
        db_drop(d);
    return rc;
}

int db_migrate(struct db *d, char *err, size_t errlen)
{
    char why[512];
    char sql[256];
    PGresult *r;
    int have = 0;
    int rc = DB_OK;

    if (!db_connected(d))
        return DB_ERR_CONNECT;
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", DB_LOCK_MIGRATE);
    if (db_exec(d, sql, err, errlen) != DB_OK)
        return DB_ERR_QUERY;
    if (db_exec(d,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen) != DB_OK) {
        rc = DB_ERR_QUERY;
        goto unlock;
    }
    r = PQexec(d->conn,
               "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        rc = DB_ERR_QUERY;
        goto unlock;
    }
    have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    for (const struct migration *m = migrations; m->version; m++) {
        const char *params[2];
        char ver[16];

        if (m->version <= have)
            continue;
        if (db_exec(d, "BEGIN", err, errlen) != DB_OK ||
            db_exec(d, m->sql, why, sizeof why) != DB_OK) {
            if (why[0])
                db_errf(err, errlen, "migration %s: %s", m->name, why);
            db_exec(d, "ROLLBACK", NULL, 0);
            rc = DB_ERR_QUERY;
            goto unlock;
        }
        snprintf(ver, sizeof ver, "%d", m->version);
        params[0] = ver;
        params[1] = m->name;
        r = PQexecParams(d->conn,
                         "INSERT INTO schema_migrations (version, name) "
                         "VALUES ($1, $2)",
                         2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK ||
            db_exec(d, "COMMIT", err, errlen) != DB_OK) {
            db_errf(err, errlen, "migration %s: %s", m->name,
                    PQerrorMessage(d->conn));
            PQclear(r);
            db_exec(d, "ROLLBACK", NULL, 0);
            rc = DB_ERR_QUERY;
            goto unlock;
        }
        PQclear(r);
    }
unlock:
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)",
             DB_LOCK_MIGRATE);
    db_exec(d, sql, NULL, 0);
    return rc;
}

static int db_text_grow(struct db_text *t, size_t more)
{
    if (t->len + more + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 65536;
        char *p;

        while (cap < t->len + more + 1)
            cap *= 2;
        p = realloc(t->p, cap);
        if (!p)
            return DB_ERR_NOMEM;
        t->p = p;
        t->cap = cap;
    }
    return DB_OK;
}

static int db_text_printf(struct db_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int db_text_printf(struct db_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (db_text_grow(t, 256) != DB_OK)
        return DB_ERR_NOMEM;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DB_ERR_NOMEM;
    if ((size_t)n >= t->cap - t->len) {
        if (db_text_grow(t, (size_t)n + 1) != DB_OK)
            return DB_ERR_NOMEM;
        va_start(ap, fmt);
        vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
    return DB_OK;
}

/*
 * The service day of a time: its date in the service zone (the loaded
 * feed's agency_timezone, read by db_prepare). As days since the epoch.
 */
int db_service_day(struct db *d, int64_t t_ms, int32_t *day)
{
    if (!d->svc.zone[0])
        return DB_ERR_CONNECT;
    return svcday_day(&d->svc, t_ms, day) == SVCDAY_OK ? DB_OK
                                                       : DB_ERR_NOMEM;
}

const char *db_service_zone(const struct db *d)
{
    return d->svc.zone;
}

/* Remember a staged row's day; false when the commit already spans
 * DB_DAYS_MAX days. */
static bool db_note_day(struct db *d, int32_t day)
{
    for (size_t i = 0; i < d->nstaged_days; i++)
        if (d->staged_days[i] == day)
            return true;
    if (d->nstaged_days == DB_DAYS_MAX)
        return false;
    d->staged_days[d->nstaged_days++] = day;
    return true;
}

/* COPY text for an optional number: \N when unknown. */
static void db_num(char *buf, size_t len, double v, int decimals)
{
    if (isfinite(v))
        snprintf(buf, len, "%.*f", decimals, v);
    else
        snprintf(buf, len, "\\N");
}

/* The staged vehicle of batch b (added if new), or NULL when out of
 * memory. */
static struct db_vehicle *db_note_vehicle(struct db *d, const char *vid,
                                          uint64_t held)
{
    struct db_vehicle *v;

    for (size_t i = 0; i < d->nveh; i++) {
        if (strcmp(d->veh[i].vid, vid) == 0) {
            if (held > d->veh[i].oldest_held)
                d->veh[i].oldest_held = held;
            return &d->veh[i];
        }
    }
    if (d->nveh == d->capveh) {
        size_t cap = d->capveh ? d->capveh * 2 : 16;
        struct db_vehicle *g = realloc(d->veh, cap * sizeof *g);

        if (!g)
            return NULL;
        /* Slots keep their seq buffers from commit to commit. */
        memset(g + d->capveh, 0, (cap - d->capveh) * sizeof *g);
        d->veh = g;
        d->capveh = cap;
    }
    v = &d->veh[d->nveh++];
    snprintf(v->vid, sizeof v->vid, "%s", vid);
    v->oldest_held = held;
    v->nseq = 0;
    v->slow = false;
    return v;
}

static int db_note_seq(struct db_vehicle *v, uint64_t seq)
{
    if (v->nseq == v->capseq) {
        size_t cap = v->capseq ? v->capseq * 2 : 64;
        uint64_t *g = realloc(v->seqs, cap * sizeof *g);

        if (!g)
            return DB_ERR_NOMEM;
        v->seqs = g;
        v->capseq = cap;
    }
    v->seqs[v->nseq++] = seq;
    return DB_OK;
}

static uint64_t db_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The cache slot of vid: its entry, or the empty slot where it belongs. */
static struct db_acked *db_acked_slot(const struct db *d, const char *vid)
{
    size_t mask = d->capacked - 1, i = (size_t)db_hash(vid) & mask;

    while (d->acked[i].vid[0] && strcmp(d->acked[i].vid, vid) != 0)
        i = (i + 1) & mask;
    return &d->acked[i];
}

/* What this process last saw of vid's watermark, or false if nothing. */
static bool db_acked_get(const struct db *d, const char *vid, uint64_t *out)
{
    const struct db_acked *e;

    if (d->nacked == 0)
        return false;
    e = db_acked_slot(d, vid);
    if (!e->vid[0])
        return false;
    *out = e->acked;
    return true;
}

static int db_acked_put(struct db *d, const char *vid, uint64_t acked)
{
    struct db_acked *e;

    if (2 * (d->nacked + 1) > d->capacked) {
        size_t cap = d->capacked ? d->capacked * 2 : 256;
        struct db_acked *old = d->acked;
        size_t oldcap = d->capacked;

        d->acked = calloc(cap, sizeof *d->acked);
        if (!d->acked) {
            d->acked = old;
            return DB_ERR_NOMEM;
        }
        d->capacked = cap;
        d->nacked = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].vid[0]) {
                *db_acked_slot(d, old[i].vid) = old[i];
                d->nacked++;
            }
        }
        free(old);
    }
    e = db_acked_slot(d, vid);
    if (!e->vid[0]) {
        snprintf(e->vid, sizeof e->vid, "%s", vid);
        d->nacked++;
    }
    if (acked > e->acked)
        e->acked = acked;
    return DB_OK;
}

static int db_seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * Does a vehicle's batch simply extend its watermark? Then the new one is
 * known without asking the database: everything up to the last watermark
 * this process read back is committed (it only grows), and this commit
 * adds the next seqs without a gap. Anything else — a vehicle new to this
 * process, a gap, records out of order — takes the database's walk over
 * pending_seqs. Sets v->slow; returns the new watermark for a fast one.
 */
static uint64_t db_classify(const struct db *d, struct db_vehicle *v)
{
    uint64_t w;

    v->slow = true;
    if (!db_acked_get(d, v->vid, &w))
        return 0;
    /* A claim that would skip seqs is checked against the bus's status,
     * which only the database's walk does. */
    if (v->oldest_held > 0 && v->oldest_held - 1 > w)
        return 0;
    qsort(v->seqs, v->nseq, sizeof *v->seqs, db_seq_cmp);
    for (size_t i = 0; i < v->nseq; i++) {
        if (v->seqs[i] <= w)
            continue; /* re-sent */
        if (v->seqs[i] != w + 1)
            return 0;
        w = v->seqs[i];
    }
    v->slow = false;
    return w;
}

static int db_stage_position(struct db *d, const char *vid,
                             const struct wire_record *r)
{
    const struct wire_position *p = &r->u.pos;
    char ts[CLOCK_TEXT_MAX], day[CLOCK_TEXT_MAX], speed[32], track[32], alt[32],
        hdop[32], sats[16];
    int32_t sd;

    clock_text_ms(ts, r->t_ms);
    if (db_service_day(d, r->t_ms, &sd) != DB_OK)
        return DB_ERR_NOMEM;
    clock_text_day(day, sd);
    db_num(speed, sizeof speed, p->speed, 3);
    db_num(track, sizeof track, p->track, 2);
    db_num(alt, sizeof alt, p->alt, 2);
    db_num(hdop, sizeof hdop, p->hdop, 2);
    if (p->sats_used >= 0)
        snprintf(sats, sizeof sats, "%d", p->sats_used);
    else
        snprintf(sats, sizeof sats, "\\N");
    d->npos++;
    return db_text_printf(&d->pos,
                          "%s\t%" PRIu64 "\t%s\t%s\t%s\t%d\t%.9f\t%.9f\t%s\t"
                          "%s\t%s\t%s\t%u\t%s\n",
                          vid, r->seq, day, ts, r->backlog ? "t" : "f",
                          (int)r->time_source, p->lat, p->lon, speed, track,
                          alt, hdop, p->fix_mode, sats);
}

static int db_stage_count(struct db *d, const char *vid,
                          const struct wire_record *r)
{
    const struct wire_count *c = &r->u.count;
    char ts[CLOCK_TEXT_MAX], day[CLOCK_TEXT_MAX], open[CLOCK_TEXT_MAX],
        close[CLOCK_TEXT_MAX], load[16], lat[32], lon[32];
    int32_t sd;

    clock_text_ms(ts, r->t_ms);
    if (db_service_day(d, r->t_ms, &sd) != DB_OK)
        return DB_ERR_NOMEM;
    clock_text_day(day, sd);
    if (c->door_open_ms)
        clock_text_ms(open, c->door_open_ms);
    else
        snprintf(open, sizeof open, "\\N");
    if (c->door_close_ms)
        clock_text_ms(close, c->door_close_ms);
    else
        snprintf(close, sizeof close, "\\N");
    if (c->load_after >= 0)
        snprintf(load, sizeof load, "%d", c->load_after);
    else
        snprintf(load, sizeof load, "\\N");
    db_num(lat, sizeof lat, c->lat, 9);
    db_num(lon, sizeof lon, c->lon, 9);
    d->ncnt++;
    return db_text_printf(&d->cnt,
                          "%s\t%" PRIu64 "\t%s\t%s\t%s\t%d\t%u\t%u\t%u\t%s\t"
                          "%s\t%s\t%s\t%s\t%u\n",
                          vid, r->seq, day, ts, r->backlog ? "t" : "f",
                          (int)r->time_source, c->door, c->boarded, c->alighted,
                          open, close, load, lat, lon, c->quality);
}

int db_stage_batch(struct db *d, const struct wire_batch *b)
{
    size_t ndays = d->nstaged_days;
    struct db_vehicle *v;
    struct db_unit *u;

    if (d->npos + d->ncnt + b->n > d->max_staged)
        return DB_ERR_FULL;
    for (size_t i = 0; i < b->n; i++) {
        int32_t day;
        int rc = db_service_day(d, b->records[i].t_ms, &day);

        if (rc != DB_OK) {
            d->nstaged_days = ndays;
            return rc;
        }
        if (!db_note_day(d, day)) {
            d->nstaged_days = ndays;
            return DB_ERR_FULL;
        }
    }
    v = db_note_vehicle(d, b->vehicle_id, b->oldest_held_seq);
    if (!v)
        return DB_ERR_NOMEM;
    if (b->n == 0)
        return DB_OK;
    if (d->nunits == d->capunits) {
        size_t cap = d->capunits ? d->capunits * 2 : 64;
        struct db_unit *g = realloc(d->units, cap * sizeof *g);

        if (!g)
            return DB_ERR_NOMEM;
        d->units = g;
        d->capunits = cap;
    }
    u = &d->units[d->nunits++];
    snprintf(u->vid, sizeof u->vid, "%s", b->vehicle_id);
    u->pos_off = d->pos.len;
    u->cnt_off = d->cnt.len;
    u->pos_end = u->pos_off;
    u->cnt_end = u->cnt_off;
    for (size_t i = 0; i < b->n; i++) {
        const struct wire_record *r = &b->records[i];
        int rc = r->kind == WIRE_POSITION
                     ? db_stage_position(d, b->vehicle_id, r)
                     : db_stage_count(d, b->vehicle_id, r);
        if (rc == DB_OK)
            rc = db_note_seq(v, r->seq);
        u->pos_end = d->pos.len;
        u->cnt_end = d->cnt.len;
        if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

static char *db_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Append a dead letter, without the cap (a narrowed commit's refusals
 * must all find a place). */
static int db_add_dead(struct db *d, const char *topic, const char *vid,
                       uint64_t seq, const char *reason, const void *payload,
                       size_t len)
{
    struct db_dead *x;

    if (d->ndead == d->capdead) {
        size_t cap = d->capdead ? d->capdead * 2 : 16;
        struct db_dead *p = realloc(d->dead, cap * sizeof *p);

        if (!p)
            return DB_ERR_NOMEM;
        d->dead = p;
        d->capdead = cap;
    }
    x = &d->dead[d->ndead];
    memset(x, 0, sizeof *x);
    x->len = len;
    x->seq = seq;
    x->kept = len < DB_DEAD_KEEP ? len : DB_DEAD_KEEP;
    x->topic = db_strdup0(topic);
    x->vid = db_strdup0(vid);
    x->reason = db_strdup0(reason);
    x->payload = malloc(x->kept ? x->kept : 1);
    if (!x->topic || !x->reason || !x->payload || (vid && !x->vid)) {
        free(x->topic);
        free(x->vid);
        free(x->reason);
        free(x->payload);
        return DB_ERR_NOMEM;
    }
    if (x->kept)
        memcpy(x->payload, payload, x->kept);
    d->ndead++;
    return DB_OK;
}

int db_stage_dead(struct db *d, const char *topic, const char *vid,
                  const char *reason, const void *payload, size_t len)
{
    /* Dead letters are rare; a flood of them must not eat the memory the
     * good records need. */
    if (d->ndead >= 10000)
        return DB_ERR_FULL;
    return db_add_dead(d, topic, vid, 0, reason, payload, len);
}

int db_stage_dead_record(struct db *d, const char *topic, const char *vid,
                         uint64_t seq, const char *reason,
                         const void *payload, size_t len)
{
    struct db_vehicle *v;
    int rc;

    if (d->ndead >= 10000)
        return DB_ERR_FULL;
    /* Settle first: a dead letter without its settled seq would leave the
     * bus stalled on it; the reverse only loses the dead letter's copy. */
    if (seq >= 1 && seq <= (uint64_t)INT64_MAX) {
        v = db_note_vehicle(d, vid, 0);
        if (!v)
            return DB_ERR_NOMEM;
        rc = db_note_seq(v, seq);
        if (rc != DB_OK)
            return rc;
    } else {
        seq = 0; /* not a seq the database can hold: nothing to settle */
    }
    return db_add_dead(d, topic, vid, seq, reason, payload, len);
}

int db_stage_status(struct db *d, const struct wire_status *s)
{
    for (size_t i = 0; i < d->nstatus; i++) {
        if (strcmp(d->status[i].vehicle_id, s->vehicle_id) == 0) {
            d->status[i] = *s;
            return DB_OK;
        }
    }
    if (d->nstatus == d->capstatus) {
        size_t cap = d->capstatus ? d->capstatus * 2 : 16;
        struct wire_status *p = realloc(d->status, cap * sizeof *p);

        if (!p)
            return DB_ERR_NOMEM;
        d->status = p;
        d->capstatus = cap;
    }
    d->status[d->nstatus++] = *s;
    return DB_OK;
}

size_t db_staged_records(const struct db *d)
{
    return d->npos + d->ncnt;
}

size_t db_staged_items(const struct db *d)
{
    return d->npos + d->ncnt + d->ndead + d->nstatus;
}

uint64_t db_commits(const struct db *d)
{
    return d->commits;
}

uint64_t db_narrowed(const struct db *d)
{
    return d->narrowed;
}

int db_fd(const struct db *d)
{
    return db_connected(d) ? PQsocket(d->conn) : -1;
}

int db_check(struct db *d, char *err, size_t errlen)
{
    PGnotify *n;

    if (!d->conn)
        return DB_ERR_CONNECT;
    if (!PQconsumeInput(d->conn) || PQstatus(d->conn) != CONNECTION_OK) {
        db_errf(err, errlen, "database connection lost: %s",
                PQerrorMessage(d->conn));
        db_drop(d);
        return DB_ERR_CONNECT;
    }
    /* Nobody LISTENs, but a NOTIFY would otherwise pile up here. */
    while ((n = PQnotifies(d->conn)) != NULL)
        PQfreemem(n);
    return DB_OK;
}

/* db_copy's answer when the rows repeat a stored key (a re-send). */
#define DB_DUPLICATE 1

/* COPY the text t with `sql`; *rows (may be NULL) gets the rows copied.
 * Returns DB_OK, DB_DUPLICATE (unique violation) or DB_ERR_QUERY. */
static int db_copy(struct db *d, const char *sql, const struct db_text *t,
                   uint64_t *rows, char *err, size_t errlen)
{
    PGresult *r = PQexec(d->conn, sql);
    int rc = DB_OK;

    if (PQresultStatus(r) != PGRES_COPY_IN) {
        db_note_state(d, r);
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    PQclear(r);
    d->sqlstate[0] = '\0';
    if (PQputCopyData(d->conn, t->p, (int)t->len) != 1 ||
        PQputCopyEnd(d->conn, NULL) != 1) {
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        return DB_ERR_QUERY;
    }
    r = PQgetResult(d->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        rc = state && strcmp(state, "23505") == 0 ? DB_DUPLICATE : DB_ERR_QUERY;
        db_note_state(d, r);
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
    } else if (rows) {
        *rows += strtoull(PQcmdTuples(r), NULL, 10);
    }
    PQclear(r);
    while ((r = PQgetResult(d->conn)))
        PQclear(r);
    return rc;
}

static int db_count_inserted(struct db *d, const char *sql, uint64_t *n,
                             char *err, size_t errlen)
{
    PGresult *r = PQexec(d->conn, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        db_note_state(d, r);
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    *n += strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return DB_OK;
}

/*
 * Rows go straight into their table with COPY: that is the fast path, and
 * nearly every batch takes it. A batch repeating a stored record (the bus
 * re-sent what it had no ack for) makes COPY fail on the key; then the
 * rows go again through the session's staging table and INSERT ... ON
 * CONFLICT DO NOTHING, which keeps the new ones and drops the repeats.
 */
static int db_write_rows(struct db *d, const char *table, const char *stage,
                         const char *cols, const struct db_text *t, uint64_t *n,
                         char *err, size_t errlen)
{
    char sql[512];
    int rc = db_exec(d, "SAVEPOINT direct", err, errlen);

    if (rc != DB_OK)
        return rc;
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table, cols);
    rc = db_copy(d, sql, t, n, err, errlen);
    if (rc == DB_OK)
        return db_exec(d, "RELEASE SAVEPOINT direct", err, errlen);
    if (rc != DB_DUPLICATE)
        return rc;
    rc = db_exec(d, "ROLLBACK TO SAVEPOINT direct", err, errlen);
    if (rc != DB_OK)
        return rc;
    /* A narrowed commit comes here once per batch: each must find only
     * its own rows in the staging table. */
    snprintf(sql, sizeof sql, "DELETE FROM %s", stage);
    rc = db_exec(d, sql, err, errlen);
    if (rc != DB_OK)
        return rc;
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", stage, cols);
    rc = db_copy(d, sql, t, NULL, err, errlen);
    if (rc != DB_OK)
        return rc == DB_DUPLICATE ? DB_ERR_QUERY : rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO %s SELECT * FROM %s"
             " ON CONFLICT (vehicle_id, seq, service_day) DO NOTHING",
             table, stage);
    return db_count_inserted(d, sql, n, err, errlen);
}

static int db_insert_dead(struct db *d, const struct db_dead *x, char *err,
                          size_t errlen)
{
    char len[24], seq[24];
    const char *v[6] = {x->topic, x->vid, x->reason, x->payload, len,
                        x->seq ? seq : NULL};
    int l[6] = {0, 0, 0, (int)x->kept, 0, 0};
    int f[6] = {0, 0, 0, 1, 0, 0};
    PGresult *r;

    snprintf(len, sizeof len, "%zu", x->len);
    snprintf(seq, sizeof seq, "%" PRIu64, x->seq);
    r = PQexecParams(d->conn,
                     "INSERT INTO dead_letters "
                     "(topic, vehicle_id, reason, payload, payload_len, seq) "
                     "VALUES ($1, $2, $3, $4, $5, $6)",
                     6, NULL, v, l, f, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        db_note_state(d, r);
        db_errf(err, errlen, "dead letter: %s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    PQclear(r);
    return DB_OK;
}

/* A data error: the rows' fault (SQLSTATE class 22 data exception, 23
 * integrity), on a connection that is still there. Anything else (the
 * server going away, out of disk, a lock timeout) is no reason to blame
 * a message. */
static bool db_data_error(const struct db *d)
{
    return d->conn && PQstatus(d->conn) == CONNECTION_OK &&
           (strncmp(d->sqlstate, "22", 2) == 0 ||
            strncmp(d->sqlstate, "23", 2) == 0);
}

/* db_savepoint_end's answer when the item's data was refused: it is
 * rolled back and the transaction goes on without it. */
#define DB_REFUSED 2

static int db_savepoint_begin(struct db *d, char *err, size_t errlen)
{
    return db_exec(d, "SAVEPOINT item", err, errlen);
}

/* Close the savepoint opened before one item whose write returned rc:
 * DB_OK, DB_REFUSED (a data error, undone), or the error. */
static int db_savepoint_end(struct db *d, int rc, char *err, size_t errlen)
{
    char why[512];

    if (rc == DB_OK)
        return db_exec(d, "RELEASE SAVEPOINT item", err, errlen);
    if (!db_data_error(d))
        return rc;
    if (db_exec(d, "ROLLBACK TO SAVEPOINT item", why, sizeof why) != DB_OK ||
        db_exec(d, "RELEASE SAVEPOINT item", why, sizeof why) != DB_OK) {
        db_errf(err, errlen, "%s", why);
        return DB_ERR_QUERY;
    }
    return DB_REFUSED;
}

static int db_write_dead(struct db *d, bool narrow, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->ndead; i++) {
        int rc;

        if (!narrow) {
            rc = db_insert_dead(d, &d->dead[i], err, errlen);
            if (rc != DB_OK)
                return rc;
            continue;
        }
        /* A dead letter the database refuses has nowhere left to go: it
         * is counted and dropped, the rest goes on. */
        rc = db_savepoint_begin(d, err, errlen);
        if (rc == DB_OK)
            rc = db_savepoint_end(d, db_insert_dead(d, &d->dead[i], err,
                                                    errlen),
                                  err, errlen);
        if (rc == DB_REFUSED)
            d->narrowed++;
        else if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

static int db_insert_status(struct db *d, const struct wire_status *s,
                            char *err, size_t errlen)
{
    char t[CLOCK_TEXT_MAX], recs[24], age[24], mode[16], dp[24], dc[24],
        next[24], acked[24];
    const char *v[13];
    PGresult *r;
    bool online = s->state == WIRE_ONLINE;

    clock_text_ms(t, s->t_ms);
    snprintf(recs, sizeof recs, "%" PRIu64, s->spool_records);
    snprintf(age, sizeof age, "%" PRId64, s->oldest_unacked_age_s);
    snprintf(mode, sizeof mode, "%u", s->gps_mode);
    snprintf(dp, sizeof dp, "%" PRIu64, s->dropped_positions);
    snprintf(dc, sizeof dc, "%" PRIu64, s->dropped_counts);
    snprintf(next, sizeof next, "%" PRIu64, s->next_seq);
    snprintf(acked, sizeof acked, "%" PRIu64, s->acked_seq);
    v[0] = s->vehicle_id;
    v[1] = online ? "t" : "f";
    v[2] = s->t_ms ? t : NULL;
    v[3] = s->version[0] ? s->version : NULL;
    v[4] = s->config_hash[0] ? s->config_hash : NULL;
    v[5] = recs;
    v[6] = age;
    v[7] = mode;
    v[8] = s->counter_state[0] ? s->counter_state : NULL;
    v[9] = dp;
    v[10] = dc;
    /* A Last Will knows nothing of the numbering: keep the last known. */
    v[11] = online ? next : NULL;
    v[12] = online ? acked : NULL;
    r = PQexecParams(
        d->conn,
        "INSERT INTO vehicle_status (vehicle_id, online, t, version,"
        " config_hash, spool_records, oldest_unacked_age_s, gps_mode,"
        " counter_state, dropped_positions, dropped_counts, next_seq,"
        " acked_seq, received_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13, now())"
        " ON CONFLICT (vehicle_id) DO UPDATE SET online = excluded.online,"
        " t = excluded.t, version = coalesce(excluded.version,"
        " vehicle_status.version), config_hash = coalesce("
        "excluded.config_hash, vehicle_status.config_hash),"
        " spool_records = excluded.spool_records,"
        " oldest_unacked_age_s = excluded.oldest_unacked_age_s,"
        " gps_mode = excluded.gps_mode,"
        " counter_state = excluded.counter_state,"
        " dropped_positions = excluded.dropped_positions,"
        " dropped_counts = excluded.dropped_counts,"
        " next_seq = coalesce(excluded.next_seq, vehicle_status.next_seq),"
        " acked_seq = coalesce(excluded.acked_seq, vehicle_status.acked_seq),"
        " received_at = now()",
        13, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        db_note_state(d, r);
        db_errf(err, errlen, "status: %s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    PQclear(r);
    return DB_OK;
}

/* A status the database refused, as a dead letter (re-encoded: the
 * original payload is not kept past staging). */
static int db_status_dead(struct db *d, const struct wire_status *s,
                          const char *why, char *err, size_t errlen)
{
    struct db_dead x;
    char topic[128], reason[600];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    memset(&x, 0, sizeof x);
    if (wire_topic(topic, sizeof topic, s->vehicle_id, "status") != 0)
        snprintf(topic, sizeof topic, "status");
    snprintf(reason, sizeof reason, "database: %s", why);
    if (wire_status_encode(s, &buf, &len) != WIRE_OK)
        len = 0;
    x.topic = topic;
    x.vid = (char *)s->vehicle_id;
    x.reason = reason;
    x.payload = buf ? buf : (void *)"";
    x.kept = len < DB_DEAD_KEEP ? len : DB_DEAD_KEEP;
    x.len = len;
    rc = db_savepoint_begin(d, err, errlen);
    if (rc == DB_OK)
        rc = db_savepoint_end(d, db_insert_dead(d, &x, err, errlen), err,
                              errlen);
    free(buf);
    return rc == DB_REFUSED ? DB_OK : rc;
}

static int db_write_status(struct db *d, bool narrow, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < d->nstatus; i++) {
        char why[512];
        int rc;

        if (!narrow) {
            rc = db_insert_status(d, &d->status[i], err, errlen);
            if (rc != DB_OK)
                return rc;
            continue;
        }
        rc = db_savepoint_begin(d, err, errlen);
        if (rc == DB_OK)
            rc = db_savepoint_end(
                d, db_insert_status(d, &d->status[i], why, sizeof why), err,
                errlen);
        if (rc == DB_REFUSED) {
            d->narrowed++;
            rc = db_status_dead(d, &d->status[i], why, err, errlen);
        }
        if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

/*
 * The watermark of each vehicle touched: the end of the unbroken run of
 * committed seqs above its last watermark (or above the oldest seq the bus
 * still holds, when it gave up older ones). Once a vehicle has a
 * watermark, that claim moves it over a gap only as far as the bus's last
 * online status says it has issued seqs (next_seq): without that, one
 * forged batch with a far-ahead oldest_held_seq would acknowledge records
 * never stored. A vehicle new to the database has nothing to protect yet,
 * and a fresh spool numbers from far above 1: there the claim (already
 * capped at the batch's lowest seq) stands. A bus that skips numbering
 * later (a new spool, records dropped when full) waits for its next status. Computed from what is
 * committed, not from what this process saw, so several backends sharing
 * a subscription agree; GREATEST keeps it from moving back when two
 * backends race. One statement for all vehicles of the commit.
 */
static const char db_watermark_sql[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[])"
    "           AS v(vehicle_id, held)),"
    " b0 AS (SELECT v.vehicle_id, v.held, vs.next_seq,"
    "        vp.vehicle_id IS NULL AS fresh,"
    "        greatest(coalesce(vp.acked_seq, 0),"
    "        coalesce(vp.oldest_held, 0) - 1) AS w0"
    "        FROM v LEFT JOIN vehicle_progress vp USING (vehicle_id)"
    "        LEFT JOIN vehicle_status vs USING (vehicle_id)),"
    " b1 AS (SELECT vehicle_id, CASE WHEN fresh THEN held"
    "        ELSE least(held, greatest(coalesce(next_seq, 0), w0 + 1)) END"
    "        AS held, w0 FROM b0),"
    " base AS (SELECT vehicle_id, held, greatest(w0, held - 1) AS w"
    "          FROM b1),"
    " r AS (SELECT p.vehicle_id, p.seq, p.seq - row_number() OVER"
    "       (PARTITION BY p.vehicle_id ORDER BY p.seq) AS g"
    "       FROM pending_seqs p JOIN base b ON p.vehicle_id = b.vehicle_id"
    "       AND p.seq > b.w),"
    " n AS (SELECT b.vehicle_id, b.held, coalesce(max(r.seq), b.w) AS w"
    "       FROM base b LEFT JOIN r ON r.vehicle_id = b.vehicle_id"
    "       AND r.g = b.w GROUP BY b.vehicle_id, b.held, b.w)"
    " INSERT INTO vehicle_progress AS vp"
    "  (vehicle_id, acked_seq, oldest_held, last_seen)"
    " SELECT vehicle_id, w, held, now() FROM n"
    " ON CONFLICT (vehicle_id) DO UPDATE SET"
    "  acked_seq = greatest(vp.acked_seq, excluded.acked_seq),"
    "  oldest_held = greatest(vp.oldest_held, excluded.oldest_held),"
    "  last_seen = now()"
    " RETURNING vehicle_id, acked_seq";

/* Seqs at or below a watermark are done with. */
static const char db_pending_trim_sql[] =
    "DELETE FROM pending_seqs p USING vehicle_progress vp"
    " WHERE p.vehicle_id = vp.vehicle_id AND p.seq <= vp.acked_seq"
    " AND p.vehicle_id = ANY($1::text[])";

/* A fast vehicle's new watermark, GREATEST with what is there (another
 * backend may be ahead). */
static const char db_fast_sql[] =
    "INSERT INTO vehicle_progress AS vp"
    " (vehicle_id, acked_seq, oldest_held, last_seen)"
    " SELECT v, w, h, now() FROM unnest($1::text[], $2::bigint[],"
    " $3::bigint[]) AS u(v, w, h)"
    " ON CONFLICT (vehicle_id) DO UPDATE SET"
    "  acked_seq = greatest(vp.acked_seq, excluded.acked_seq),"
    "  oldest_held = greatest(vp.oldest_held, excluded.oldest_held),"
    "  last_seen = now()"
    " RETURNING vehicle_id, acked_seq";

/* Fast vehicles with seqs waiting above a gap: the walk may now pass it. */
static const char db_pending_probe_sql[] =
    "SELECT DISTINCT vehicle_id FROM pending_seqs"
    " WHERE vehicle_id = ANY($1::text[])";

/* A slow vehicle's staged seqs become candidates for the walk. */
static const char db_pending_add_sql[] =
    "INSERT INTO pending_seqs (vehicle_id, seq)"
    " SELECT * FROM unnest($1::text[], $2::bigint[])"
    " ON CONFLICT DO NOTHING";

/* Array literals of the slow (or fast) vehicles: ids, oldest held seqs and
 * fast watermarks. Vehicle ids are [A-Za-z0-9_-], so nothing needs quoting.
 * Returns the number of vehicles, or -1 when out of memory. */
static int db_arrays(const struct db *d, bool slow, struct db_text *vids,
                     struct db_text *helds, struct db_text *ws)
{
    int n = 0;

    vids->len = helds->len = ws->len = 0;
    for (size_t i = 0; i < d->nveh; i++) {
        const struct db_vehicle *v = &d->veh[i];

        if (v->slow != slow)
            continue;
        if (db_text_printf(vids, "%c%s", n ? ',' : '{', v->vid) ||
            db_text_printf(helds, "%c%" PRIu64, n ? ',' : '{',
                           v->oldest_held) ||
            db_text_printf(ws, "%c%" PRIu64, n ? ',' : '{', v->fast_w))
            return -1;
        n++;
    }
    if (db_text_printf(vids, "}") || db_text_printf(helds, "}") ||
        db_text_printf(ws, "}"))
        return -1;
    return n;
}

/* Run a watermark statement; every row (vehicle, acked) is remembered and
 * reported. */
static int db_ack_rows(struct db *d, const char *sql, int nparams,
                       const char *const *v, db_ack_fn on_ack, void *arg,
                       char *err, size_t errlen)
{
    PGresult *r = PQexecParams(d->conn, sql, nparams, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "watermark: %s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *vid = PQgetvalue(r, i, 0);
        uint64_t acked = strtoull(PQgetvalue(r, i, 1), NULL, 10), seen;

        /* The row is GREATEST-updated, yet answers of two statements can
         * arrive in either order: never report less than already done. */
        db_acked_put(d, vid, acked);
        if (db_acked_get(d, vid, &seen) && seen > acked)
            acked = seen;
        if (on_ack)
            on_ack(arg, vid, acked);
    }
    PQclear(r);
    return DB_OK;
}

static int db_exec_params(struct db *d, const char *sql, int nparams,
                          const char *const *v, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(d->conn, sql, nparams, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        db_note_state(d, r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "%s", PQerrorMessage(d->conn));
        return DB_ERR_QUERY;
    }
    return DB_OK;
}

/* Inside the transaction: remember the slow vehicles' seqs for the walk
 * (from memory: the rows may not have gone through a staging table). */
static int db_pending_add(struct db *d, char *err, size_t errlen)
{
    struct db_text vids = {0}, seqs = {0};
    const char *v[2];
    size_t n = 0;
    int rc = DB_OK;

    for (size_t i = 0; i < d->nveh && rc == DB_OK; i++) {
        const struct db_vehicle *veh = &d->veh[i];

        if (!veh->slow)
            continue;
        for (size_t k = 0; k < veh->nseq; k++, n++) {
            if (db_text_printf(&vids, "%c%s", n ? ',' : '{', veh->vid) ||
                db_text_printf(&seqs, "%c%" PRIu64, n ? ',' : '{',
                               veh->seqs[k])) {
                rc = DB_ERR_NOMEM;
                break;
            }
        }
    }
    if (rc == DB_OK && n > 0) {
        if (db_text_printf(&vids, "}") || db_text_printf(&seqs, "}")) {
            rc = DB_ERR_NOMEM;
        } else {
            v[0] = vids.p;
            v[1] = seqs.p;
            rc = db_exec_params(d, db_pending_add_sql, 2, v, err, errlen);
        }
    }
    free(vids.p);
    free(seqs.p);
    return rc;
}

/* After the commit: the new watermark of every vehicle touched. */
static int db_watermarks(struct db *d, db_ack_fn on_ack, void *arg, char *err,
                         size_t errlen)
{
    struct db_text vids = {0}, helds = {0}, ws = {0};
    const char *v[3];
    int n, rc = DB_OK;

    n = db_arrays(d, false, &vids, &helds, &ws);
    if (n > 0) {
        PGresult *r;

        v[0] = vids.p;
        v[1] = ws.p;
        v[2] = helds.p;
        rc = db_ack_rows(d, db_fast_sql, 3, v, on_ack, arg, err, errlen);
        if (rc != DB_OK)
            goto out;
        r = PQexecParams(d->conn, db_pending_probe_sql, 1, NULL, v, NULL, NULL,
                         0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            db_errf(err, errlen, "watermark: %s", PQerrorMessage(d->conn));
            PQclear(r);
            rc = DB_ERR_QUERY;
            goto out;
        }
        for (int i = 0; i < PQntuples(r); i++)
            for (size_t k = 0; k < d->nveh; k++)
                if (strcmp(d->veh[k].vid, PQgetvalue(r, i, 0)) == 0)
                    d->veh[k].slow = true;
        PQclear(r);
    }
    n = db_arrays(d, true, &vids, &helds, &ws);
    if (n < 0)
        rc = DB_ERR_NOMEM;
    if (n > 0) {
        v[0] = vids.p;
        v[1] = helds.p;
        rc = db_ack_rows(d, db_watermark_sql, 2, v, on_ack, arg, err, errlen);
        if (rc == DB_OK)
            rc = db_exec_params(d, db_pending_trim_sql, 1, v, err, errlen);
    }
out:
    free(vids.p);
    free(helds.p);
    free(ws.p);
    return rc;
}

/* Make sure every staged day has its partitions, each in its own short
 * transaction: creating one locks the parent table. */
static int db_ensure_partitions(struct db *d, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->nstaged_days; i++) {
        int32_t day = d->staged_days[i];
        bool known = false;
        char text[CLOCK_TEXT_MAX];
        const char *v[1] = {text};
        PGresult *r;

        for (size_t k = 0; k < d->nknown_days && !known; k++)
            known = d->known_days[k] == day;
        if (known)
            continue;
        clock_text_day(text, day);
        r = PQexecParams(d->conn, "SELECT shuttle_ensure_partition($1::date)",
                         1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            db_errf(err, errlen, "partition for %s: %s", text,
                    PQerrorMessage(d->conn));
            PQclear(r);
            return DB_ERR_QUERY;
        }
        PQclear(r);
        /* A full cache starts over: it is only a shortcut. */
        if (d->nknown_days == DB_DAYS_MAX)
            d->nknown_days = 0;
        d->known_days[d->nknown_days++] = day;
    }
    return DB_OK;
}

int db_drop_positions_before(struct db *d, int64_t t_ms, int *dropped,
                             char *err, size_t errlen)
{
    char text[CLOCK_TEXT_MAX];
    const char *v[1] = {text};
    PGresult *r;
    int32_t day;

    if (!db_connected(d) || db_service_day(d, t_ms, &day) != DB_OK)
        return DB_ERR_CONNECT;
    clock_text_day(text, day);
    r = PQexecParams(d->conn, "SELECT shuttle_drop_positions_before($1::date)",
                     1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "retention: %s", PQerrorMessage(d->conn));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    *dropped = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    /* Dropped days may come back (a late backlog): ask again. */
    d->nknown_days = 0;
    return DB_OK;
}

#define DB_POS_COLS                                                           \
    "vehicle_id, seq, service_day, t, backlog, time_source, lat, lon,"       \
    " speed, track, alt, hdop, fix_mode, sats_used"
#define DB_CNT_COLS                                                           \
    "vehicle_id, seq, service_day, t, backlog, time_source, door, boarded,"  \
    " alighted, door_open, door_close, load_after, lat, lon, quality"

/* Write the rows of text t[off, end) (whole lines) into positions (pos) or
 * passenger_counts. */
static int db_write_slice(struct db *d, bool pos, const struct db_text *t,
                          size_t off, size_t end, uint64_t *n, char *err,
                          size_t errlen)
{
    struct db_text slice = {t->p + off, end - off, end - off};

    if (end == off)
        return DB_OK;
    return pos ? db_write_rows(d, "positions", "stage_positions", DB_POS_COLS,
                               &slice, n, err, errlen)
               : db_write_rows(d, "passenger_counts", "stage_counts",
                               DB_CNT_COLS, &slice, n, err, errlen);
}

/* One row of a batch the database refused: a dead letter, its seq settled
 * (it is among the vehicle's staged seqs already). */
static int db_row_dead(struct db *d, const char *vid, const char *line,
                       size_t len, const char *why)
{
    const char *tab = memchr(line, '\t', len);
    char topic[128], reason[600];
    uint64_t seq = tab ? strtoull(tab + 1, NULL, 10) : 0;

    d->narrowed++;
    if (wire_topic(topic, sizeof topic, vid, "telemetry") != 0)
        snprintf(topic, sizeof topic, "telemetry");
    snprintf(reason, sizeof reason, "database: %s", why);
    return db_add_dead(d, topic, vid, seq, reason, line, len);
}

/* Row by row through one batch's slice of t, each in a savepoint. */
static int db_write_rows_narrow(struct db *d, bool pos, const char *vid,
                                const struct db_text *t, size_t off,
                                size_t end, uint64_t *n, char *err,
                                size_t errlen)
{
    while (off < end) {
        const char *nl = memchr(t->p + off, '\n', end - off);
        size_t next = nl ? (size_t)(nl - t->p) + 1 : end;
        char why[512];
        int rc = db_savepoint_begin(d, err, errlen);

        if (rc == DB_OK)
            rc = db_savepoint_end(
                d, db_write_slice(d, pos, t, off, next, n, why, sizeof why),
                err, errlen);
        if (rc == DB_REFUSED)
            rc = db_row_dead(d, vid, t->p + off, next - off, why);
        if (rc != DB_OK)
            return rc;
        off = next;
    }
    return DB_OK;
}

/* The raw rows: all at once, or (narrow) batch by batch and the refused
 * batches row by row. */
static int db_write_all_rows(struct db *d, bool narrow, uint64_t *n,
                             char *err, size_t errlen)
{
    int rc = DB_OK;

    if (!narrow) {
        rc = db_write_slice(d, true, &d->pos, 0, d->pos.len, n, err, errlen);
        if (rc == DB_OK)
            rc = db_write_slice(d, false, &d->cnt, 0, d->cnt.len, n, err,
                                errlen);
        return rc;
    }
    for (size_t i = 0; i < d->nunits && rc == DB_OK; i++) {
        const struct db_unit *u = &d->units[i];

        rc = db_savepoint_begin(d, err, errlen);
        if (rc == DB_OK) {
            int w = db_write_slice(d, true, &d->pos, u->pos_off, u->pos_end,
                                   n, err, errlen);
            if (w == DB_OK)
                w = db_write_slice(d, false, &d->cnt, u->cnt_off, u->cnt_end,
                                   n, err, errlen);
            rc = db_savepoint_end(d, w, err, errlen);
        }
        if (rc == DB_REFUSED) {
            rc = db_write_rows_narrow(d, true, u->vid, &d->pos, u->pos_off,
                                      u->pos_end, n, err, errlen);
            if (rc == DB_OK)
                rc = db_write_rows_narrow(d, false, u->vid, &d->cnt,
                                          u->cnt_off, u->cnt_end, n, err,
                                          errlen);
        }
    }
    return rc;
}

/* One transaction of everything staged. On a data error the transaction
 * is rolled back and DB_REFUSED returned, the connection kept. */
static int db_commit_once(struct db *d, bool narrow, uint64_t *n, char *err,
                          size_t errlen)
{
    size_t ndead = d->ndead;
    int rc;

    *n = 0;
    d->sqlstate[0] = '\0';
    rc = db_exec(d, "BEGIN", err, errlen);
    if (rc == DB_OK)
        rc = db_write_all_rows(d, narrow, n, err, errlen);
    /* The seqs of vehicles whose watermark needs the walk, new or re-sent:
     * a re-send after a database crash refills what the unlogged table
     * lost. */
    if (rc == DB_OK)
        rc = db_pending_add(d, err, errlen);
    if (rc == DB_OK)
        rc = db_write_dead(d, narrow, err, errlen);
    if (rc == DB_OK)
        rc = db_write_status(d, narrow, err, errlen);
    if (rc == DB_OK)
        rc = db_exec(d, "COMMIT", err, errlen);
    if (rc == DB_OK)
        return DB_OK;
    /* Dead letters a narrowing added belong to that attempt only. */
    for (size_t i = ndead; i < d->ndead; i++) {
        free(d->dead[i].topic);
        free(d->dead[i].vid);
        free(d->dead[i].reason);
        free(d->dead[i].payload);
    }
    d->ndead = ndead;
    if (db_data_error(d) &&
        db_exec(d, "ROLLBACK", NULL, 0) == DB_OK)
        return DB_REFUSED;
    return rc;
}

int db_commit(struct db *d, db_ack_fn on_ack, void *arg, uint64_t *inserted,
              char *err, size_t errlen)
{
    uint64_t n = 0;
    int rc;

    if (db_staged_items(d) == 0)
        return DB_OK;
    if (!db_connected(d))
        return DB_ERR_CONNECT;
    rc = db_ensure_partitions(d, err, errlen);
    if (rc != DB_OK) {
        db_drop(d);
        return rc;
    }
    for (size_t i = 0; i < d->nveh; i++)
        d->veh[i].fast_w = db_classify(d, &d->veh[i]);
    rc = db_commit_once(d, false, &n, err, errlen);
    if (rc == DB_REFUSED && strcmp(d->sqlstate, "23514") == 0) {
        /* "No partition for the row": another backend's retention dropped
         * a day this process remembered as there. Ask again, once. */
        d->nknown_days = 0;
        rc = db_ensure_partitions(d, err, errlen);
        if (rc == DB_OK)
            rc = db_commit_once(d, false, &n, err, errlen);
    }
    if (rc == DB_REFUSED) {
        /* Some row, status or dead letter is refused for what it holds:
         * find it (batch by batch, then row by row), make it a dead
         * letter, commit the rest. One bad message must not hold up
         * every vehicle's records. */
        rc = db_commit_once(d, true, &n, err, errlen);
        if (rc == DB_REFUSED)
            rc = DB_ERR_QUERY; /* narrowed and still refused: give up */
    }
    if (rc != DB_OK) {
        /* Keep the staged rows: they are retried on the next connection. */
        db_drop(d);
        return rc;
    }
    d->commits++;
    if (inserted)
        *inserted = n;
    /* Committed: the staged rows are durable, whatever happens to the
     * watermark query (a failed one is redone with the next commit). */
    rc = db_watermarks(d, on_ack, arg, err, errlen);
    db_clear_staged(d);
    if (rc != DB_OK)
        db_drop(d);
    return rc;
}
