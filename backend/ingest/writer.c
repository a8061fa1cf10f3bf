/* writer: staging of batches, dead letters and statuses in memory, and
 * their commit: binary COPY, the re-send path, narrowing a refused commit. */
#include "writer.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define WRITER_DEAD_KEEP 4096 /* bytes of a dead payload worth keeping */

struct writer_dead {
    char *topic, *vid, *reason;
    uint64_t seq; /* the refused record's, or 0 for a whole message */
    void *payload;
    size_t kept, len;
};

/* One staged batch's rows in the COPY buffers: the unit a failed commit is
 * narrowed down to before going row by row. */
struct writer_unit {
    char vid[WIRE_VID_MAX + 1];
    size_t pos_off, pos_end, cnt_off, cnt_end;
};

/* What one commit writes: the batch filling while another is in flight,
 * then that one (double-buffering: the loop stages into one while the
 * other's statements are under way). */
struct writer_batch {
    struct buf pos, cnt; /* staged rows, binary COPY */
    size_t npos, ncnt;
    struct writer_dead *dead;
    size_t ndead, capdead;
    struct writer_unit *units;
    size_t nunits, capunits;
    struct wire_status *status;
    size_t nstatus, capstatus;
    int32_t staged_days[PARTITIONS_DAYS_MAX]; /* service days in the rows */
    size_t nstaged_days;
};

/* The steps of an asynchronous commit; each waits for its statement's
 * answer. */
enum writer_step {
    WRITER_S_IDLE,
    WRITER_S_BEGIN,     /* BEGIN */
    WRITER_S_SAVEPOINT, /* SAVEPOINT direct, before a table's rows */
    WRITER_S_COPY,      /* COPY the table straight in */
    WRITER_S_RELEASE,   /* RELEASE SAVEPOINT direct (and the next one) */
    WRITER_S_UNDO,      /* a re-send: back to the savepoint, staging emptied */
    WRITER_S_STAGE,     /* COPY into the session's staging table */
    WRITER_S_MERGE,     /* INSERT ... ON CONFLICT DO NOTHING from it */
    WRITER_S_PENDING,   /* the slow vehicles' seqs for the walk */
    WRITER_S_DEAD,      /* one dead letter */
    WRITER_S_STATUS,    /* one status */
    WRITER_S_COMMIT,    /* COMMIT; the service zone read again */
    WRITER_S_WATERMARK, /* the acks' statements, one after another */
};

struct writer {
    struct db *db;            /* borrowed */
    struct partitions *parts; /* borrowed */
    struct acks *acks;        /* owned */
    size_t max_staged;
    struct writer_batch batch[2];
    struct writer_batch *fill; /* staging goes here */
    struct writer_batch *fl;   /* sealed: committing, or waiting to retry */
    bool sealed;               /* fl holds a batch */
    uint64_t narrowed;         /* items a failed commit sent to dead letters */
    uint64_t commits;
    /* The commit under way. */
    enum writer_step step;
    int table;         /* WRITER_S_COPY..MERGE: 0 positions, 1 counts */
    size_t item;       /* WRITER_S_DEAD, _STATUS: which one */
    int failed;        /* a statement of this step failed: its rc */
    char why[512];     /* and why */
    bool duplicate;    /* the direct COPY met a stored key */
    uint64_t inserted; /* new rows so far */
    acks_fn on_ack;
    void *on_ack_arg;
};

int writer_new(struct db *d, struct partitions *p, size_t max_staged,
               struct writer **out)
{
    struct writer *w = calloc(1, sizeof *w);

    if (!w)
        return DB_ERR_NOMEM;
    if (acks_new(&w->acks) != DB_OK) {
        free(w);
        return DB_ERR_NOMEM;
    }
    w->db = d;
    w->parts = p;
    w->max_staged = max_staged;
    w->fill = &w->batch[0];
    w->fl = &w->batch[1];
    *out = w;
    return DB_OK;
}

static void writer__dead_free(struct writer_dead *x)
{
    free(x->topic);
    free(x->vid);
    free(x->reason);
    free(x->payload);
}

/* Empty s, keeping its memory for the next batch. */
static void writer__batch_clear(struct writer_batch *s)
{
    s->pos.len = s->cnt.len = 0;
    s->npos = s->ncnt = 0;
    for (size_t i = 0; i < s->ndead; i++)
        writer__dead_free(&s->dead[i]);
    s->ndead = 0;
    s->nunits = 0;
    s->nstatus = 0;
    s->nstaged_days = 0;
}

static void writer__batch_free(struct writer_batch *s)
{
    writer__batch_clear(s);
    buf_free(&s->pos);
    buf_free(&s->cnt);
    free(s->dead);
    free(s->units);
    free(s->status);
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    writer__batch_free(&w->batch[0]);
    writer__batch_free(&w->batch[1]);
    acks_free(w->acks);
    free(w);
}

/* Remember a staged row's day; false when the commit already spans
 * PARTITIONS_DAYS_MAX days. */
static bool writer__note_day(struct writer *w, int32_t day)
{
    for (size_t i = 0; i < w->fill->nstaged_days; i++)
        if (w->fill->staged_days[i] == day)
            return true;
    if (w->fill->nstaged_days == PARTITIONS_DAYS_MAX)
        return false;
    w->fill->staged_days[w->fill->nstaged_days++] = day;
    return true;
}

/*
 * Rows are staged in PostgreSQL's binary COPY format: an int16 field
 * count, then each field as an int32 length (-1: NULL) and its value in
 * network byte order. The server then parses no text: no float or
 * timestamp input functions, which were most of a text COPY's cost.
 * A staged row is at most WRITER_ROW_MAX bytes (15 fields of at most 12
 * bytes and a vehicle id).
 */
#define WRITER_ROW_MAX 256
/* PostgreSQL's epoch, 2000-01-01, from the Unix one. */
#define WRITER_PG_EPOCH_DAYS 10957
#define WRITER_PG_EPOCH_MS 946684800000LL

static unsigned char *writer__be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

static unsigned char *writer__be32(unsigned char *p, uint32_t v)
{
    p = writer__be16(p, (uint16_t)(v >> 16));
    return writer__be16(p, (uint16_t)v);
}

static unsigned char *writer__be64(unsigned char *p, uint64_t v)
{
    p = writer__be32(p, (uint32_t)(v >> 32));
    return writer__be32(p, (uint32_t)v);
}

static unsigned char *writer__null(unsigned char *p)
{
    return writer__be32(p, UINT32_MAX); /* length -1 */
}

static unsigned char *writer__int8(unsigned char *p, int64_t v)
{
    return writer__be64(writer__be32(p, 8), (uint64_t)v);
}

/*
 * A value its column cannot hold goes out as a field longer than its type
 * (shorter would be a protocol error, not a data error): the server
 * refuses the row ("incorrect binary data format", SQLSTATE
 * 22P03, a data error), as it refused the text of such a value, and the
 * narrowing makes that row a dead letter. The rule set keeps such values
 * out; this only keeps a wrong one from being stored as another value.
 */
static unsigned char *writer__int2(unsigned char *p, int64_t v)
{
    if (v < INT16_MIN || v > INT16_MAX)
        return writer__int8(p, v);
    return writer__be16(writer__be32(p, 2), (uint16_t)(int16_t)v);
}

static unsigned char *writer__bool(unsigned char *p, bool v)
{
    p = writer__be32(p, 1);
    *p = v ? 1 : 0;
    return p + 1;
}

static unsigned char *writer__float8(unsigned char *p, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof u);
    return writer__be64(writer__be32(p, 8), u);
}

/*
 * v to `decimals` places, as the stored values have always been (the text
 * COPY printed them so: coordinates to 9 places, about 0.1 mm, speeds to
 * 3, the rest to 2): the nearest double to that decimal, which is what
 * the server made of the text.
 */
static double writer__round(double v, int decimals)
{
    static const double scale[] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                   1e5, 1e6, 1e7, 1e8, 1e9};
    double s = scale[decimals], x = round(v * s);

    return isfinite(x) ? x / s : v;
}

/* An optional double precision to `decimals` places: NULL when not finite
 * (unknown). */
static unsigned char *writer__opt_float8(unsigned char *p, double v,
                                         int decimals)
{
    return isfinite(v) ? writer__float8(p, writer__round(v, decimals))
                       : writer__null(p);
}

/* An optional real to `decimals` places: NULL when not finite (unknown);
 * beyond real's range, refused (see writer__int2). */
static unsigned char *writer__opt_float4(unsigned char *p, double v,
                                         int decimals)
{
    float f;
    uint32_t u;

    if (!isfinite(v))
        return writer__null(p);
    v = writer__round(v, decimals);
    if (fabs(v) > FLT_MAX)
        return writer__float8(p, v);
    f = (float)v;
    memcpy(&u, &f, sizeof u);
    return writer__be32(writer__be32(p, 4), u);
}

/* A date from days since 1970-01-01. */
static unsigned char *writer__date(unsigned char *p, int32_t days)
{
    int64_t d = (int64_t)days - WRITER_PG_EPOCH_DAYS;

    return writer__be32(writer__be32(p, 4), (uint32_t)(int32_t)d);
}

/* A timestamptz from Unix ms (UTC): microseconds since 2000-01-01 UTC.
 * Past what int64 microseconds hold, refused (see writer__int2); the
 * server checks its own range (4713 BC .. 294276 AD). */
static unsigned char *writer__timestamptz(unsigned char *p, int64_t ms)
{
    if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000 + WRITER_PG_EPOCH_MS) {
        p = writer__be32(p, 12);
        memset(p, 0, 12);
        return p + 12;
    }
    return writer__int8(p, (ms - WRITER_PG_EPOCH_MS) * 1000);
}

static unsigned char *writer__opt_timestamptz(unsigned char *p, int64_t ms)
{
    return ms ? writer__timestamptz(p, ms) : writer__null(p);
}

static unsigned char *writer__text(unsigned char *p, const char *s)
{
    size_t n = strlen(s);

    p = writer__be32(p, (uint32_t)n);
    memcpy(p, s, n);
    return p + n;
}

/* The fields both tables begin with: vehicle_id, seq, service_day, t,
 * backlog, time_source. */
static unsigned char *writer__row_head(unsigned char *p, uint16_t nfields,
                                       const char *vid,
                                       const struct wire_record *r, int32_t day)
{
    p = writer__be16(p, nfields);
    p = writer__text(p, vid);
    p = writer__int8(p, (int64_t)r->seq);
    p = writer__date(p, day);
    p = writer__timestamptz(p, r->t_ms);
    p = writer__bool(p, r->backlog);
    return writer__int2(p, (int64_t)r->time_source);
}

/* Reserve a row's room in t: where to write it, or NULL. */
static unsigned char *writer__row_begin(struct buf *t, const char *vid)
{
    if (strlen(vid) > WIRE_VID_MAX || buf_reserve(t, WRITER_ROW_MAX) != BUF_OK)
        return NULL;
    return (unsigned char *)t->p + t->len;
}

static int writer__stage_position(struct writer *w, const char *vid,
                                  const struct wire_record *r, int32_t day)
{
    const struct wire_position *x = &r->u.pos;
    unsigned char *p = writer__row_begin(&w->fill->pos, vid), *p0 = p;

    if (!p)
        return DB_ERR_NOMEM;
    p = writer__row_head(p, 14, vid, r, day);
    p = writer__float8(p, writer__round(x->lat, 9));
    p = writer__float8(p, writer__round(x->lon, 9));
    p = writer__opt_float4(p, x->speed, 3);
    p = writer__opt_float4(p, x->track, 2);
    p = writer__opt_float4(p, x->alt, 2);
    p = writer__opt_float4(p, x->hdop, 2);
    p = writer__int2(p, x->fix_mode);
    p = x->sats_used >= 0 ? writer__int2(p, x->sats_used) : writer__null(p);
    w->fill->pos.len += (size_t)(p - p0);
    w->fill->npos++;
    return DB_OK;
}

static int writer__stage_count(struct writer *w, const char *vid,
                               const struct wire_record *r, int32_t day)
{
    const struct wire_count *c = &r->u.count;
    unsigned char *p = writer__row_begin(&w->fill->cnt, vid), *p0 = p;

    if (!p)
        return DB_ERR_NOMEM;
    p = writer__row_head(p, 15, vid, r, day);
    p = writer__int2(p, c->door);
    p = writer__int2(p, c->boarded);
    p = writer__int2(p, c->alighted);
    p = writer__opt_timestamptz(p, c->door_open_ms);
    p = writer__opt_timestamptz(p, c->door_close_ms);
    p = c->load_after >= 0 ? writer__int2(p, c->load_after) : writer__null(p);
    p = writer__opt_float8(p, c->lat, 9);
    p = writer__opt_float8(p, c->lon, 9);
    p = writer__int2(p, c->quality);
    w->fill->cnt.len += (size_t)(p - p0);
    w->fill->ncnt++;
    return DB_OK;
}

static uint32_t writer__rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The end of the staged row starting at off in t (rows are ours: well
 * formed). */
static size_t writer__row_end(const struct buf *t, size_t off)
{
    const unsigned char *p = (const unsigned char *)t->p + off;
    unsigned nf = (unsigned)p[0] << 8 | p[1];
    size_t o = 2;

    for (unsigned i = 0; i < nf; i++) {
        uint32_t len = writer__rd32(p + o);

        o += 4;
        if (len != UINT32_MAX)
            o += len;
    }
    return off + o;
}

/* The seq of the staged row at p (its second field; the first is the
 * vehicle id). */
static uint64_t writer__row_seq(const unsigned char *p)
{
    size_t o = 2 + 4 + writer__rd32(p + 2) + 4;

    return (uint64_t)writer__rd32(p + o) << 32 | writer__rd32(p + o + 4);
}

int writer_stage_batch(struct writer *w, const struct wire_batch *b)
{
    size_t ndays = w->fill->nstaged_days;
    struct acks_vehicle *v;
    struct writer_unit *u;

    /* Per batch: the one in flight (or waiting for its retry) holds at
     * most as many again. */
    if (w->fill->npos + w->fill->ncnt + b->n > w->max_staged)
        return DB_ERR_FULL;
    for (size_t i = 0; i < b->n; i++) {
        int32_t day;
        /* Before the zone is known (no connection yet) nothing is staged:
         * the bus sends it again. */
        int rc = db_service_day(w->db, b->records[i].t_ms, &day);

        if (rc != DB_OK) {
            w->fill->nstaged_days = ndays;
            return rc;
        }
        if (!writer__note_day(w, day)) {
            w->fill->nstaged_days = ndays;
            return DB_ERR_FULL;
        }
    }
    v = acks_vehicle(w->acks, b->vehicle_id, b->oldest_held_seq);
    if (!v)
        return DB_ERR_NOMEM;
    if (b->n == 0)
        return DB_OK;
    if (w->fill->nunits == w->fill->capunits) {
        size_t cap = w->fill->capunits ? w->fill->capunits * 2 : 64;
        struct writer_unit *g = realloc(w->fill->units, cap * sizeof *g);

        if (!g)
            return DB_ERR_NOMEM;
        w->fill->units = g;
        w->fill->capunits = cap;
    }
    u = &w->fill->units[w->fill->nunits++];
    snprintf(u->vid, sizeof u->vid, "%s", b->vehicle_id);
    u->pos_off = w->fill->pos.len;
    u->cnt_off = w->fill->cnt.len;
    u->pos_end = u->pos_off;
    u->cnt_end = u->cnt_off;
    for (size_t i = 0; i < b->n; i++) {
        const struct wire_record *r = &b->records[i];
        int32_t day;
        int rc = db_service_day(w->db, r->t_ms, &day);

        if (rc == DB_OK)
            rc = r->kind == WIRE_POSITION
                     ? writer__stage_position(w, b->vehicle_id, r, day)
                     : writer__stage_count(w, b->vehicle_id, r, day);
        if (rc == DB_OK)
            rc = acks_vehicle_seq(v, r->seq);
        u->pos_end = w->fill->pos.len;
        u->cnt_end = w->fill->cnt.len;
        if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

static char *writer__strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Append a dead letter, without the cap (a narrowed commit's refusals
 * must all find a place). */
static int writer__add_dead(struct writer_batch *w, const char *topic,
                            const char *vid, uint64_t seq, const char *reason,
                            const void *payload, size_t len)
{
    struct writer_dead *x;

    if (w->ndead == w->capdead) {
        size_t cap = w->capdead ? w->capdead * 2 : 16;
        struct writer_dead *p = realloc(w->dead, cap * sizeof *p);

        if (!p)
            return DB_ERR_NOMEM;
        w->dead = p;
        w->capdead = cap;
    }
    x = &w->dead[w->ndead];
    memset(x, 0, sizeof *x);
    x->len = len;
    x->seq = seq;
    x->kept = len < WRITER_DEAD_KEEP ? len : WRITER_DEAD_KEEP;
    x->topic = writer__strdup0(topic);
    x->vid = writer__strdup0(vid);
    x->reason = writer__strdup0(reason);
    x->payload = malloc(x->kept ? x->kept : 1);
    if (!x->topic || !x->reason || !x->payload || (vid && !x->vid)) {
        writer__dead_free(x);
        return DB_ERR_NOMEM;
    }
    if (x->kept)
        memcpy(x->payload, payload, x->kept);
    w->ndead++;
    return DB_OK;
}

int writer_stage_dead(struct writer *w, const char *topic, const char *vid,
                      const char *reason, const void *payload, size_t len)
{
    /* Dead letters are rare; a flood of them must not eat the memory the
     * good records need. */
    if (w->fill->ndead >= 10000)
        return DB_ERR_FULL;
    return writer__add_dead(w->fill, topic, vid, 0, reason, payload, len);
}

int writer_stage_dead_record(struct writer *w, const char *topic,
                             const char *vid, uint64_t seq, const char *reason,
                             const void *payload, size_t len)
{
    struct acks_vehicle *v;
    int rc;

    if (w->fill->ndead >= 10000)
        return DB_ERR_FULL;
    /* Settle first: a dead letter without its settled seq would leave the
     * bus stalled on it; the reverse only loses the dead letter's copy. */
    if (seq >= 1 && seq <= WIRE_SEQ_MAX) {
        v = acks_vehicle(w->acks, vid, 0);
        if (!v)
            return DB_ERR_NOMEM;
        rc = acks_vehicle_seq(v, seq);
        if (rc != DB_OK)
            return rc;
    } else {
        seq = 0; /* not a seq the database can hold: nothing to settle */
    }
    return writer__add_dead(w->fill, topic, vid, seq, reason, payload, len);
}

int writer_stage_status(struct writer *w, const struct wire_status *s)
{
    for (size_t i = 0; i < w->fill->nstatus; i++) {
        if (strcmp(w->fill->status[i].vehicle_id, s->vehicle_id) == 0) {
            w->fill->status[i] = *s;
            return DB_OK;
        }
    }
    if (w->fill->nstatus == w->fill->capstatus) {
        size_t cap = w->fill->capstatus ? w->fill->capstatus * 2 : 16;
        struct wire_status *p = realloc(w->fill->status, cap * sizeof *p);

        if (!p)
            return DB_ERR_NOMEM;
        w->fill->status = p;
        w->fill->capstatus = cap;
    }
    w->fill->status[w->fill->nstatus++] = *s;
    return DB_OK;
}

static size_t writer__items(const struct writer_batch *s)
{
    return s->npos + s->ncnt + s->ndead + s->nstatus;
}

size_t writer_staged_records(const struct writer *w)
{
    return w->fill->npos + w->fill->ncnt +
           (w->sealed ? w->fl->npos + w->fl->ncnt : 0);
}

size_t writer_staged_items(const struct writer *w)
{
    return writer__items(w->fill) + (w->sealed ? writer__items(w->fl) : 0);
}

size_t writer_filling_items(const struct writer *w)
{
    return writer__items(w->fill);
}

size_t writer_filling_records(const struct writer *w)
{
    return w->fill->npos + w->fill->ncnt;
}

bool writer_busy(const struct writer *w)
{
    return w->step != WRITER_S_IDLE;
}

uint64_t writer_commits(const struct writer *w)
{
    return w->commits;
}

uint64_t writer_narrowed(const struct writer *w)
{
    return w->narrowed;
}

/*
 * Rows go straight into their table with COPY: that is the fast path, and
 * nearly every batch takes it. A batch repeating a stored record (the bus
 * re-sent what it had no ack for) makes COPY fail on the key; then the
 * rows go again through the session's staging table and INSERT ... ON
 * CONFLICT DO NOTHING, which keeps the new ones and drops the repeats.
 */
static int writer__write_rows(struct writer *w, const char *table,
                              const char *stage, const char *cols,
                              const struct buf *t, uint64_t *n, char *err,
                              size_t errlen)
{
    char sql[512];
    int rc = db_exec(w->db, "SAVEPOINT direct", err, errlen);

    if (rc != DB_OK)
        return rc;
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary)", table,
             cols);
    rc = db_copy_binary(w->db, sql, t->p, t->len, n, err, errlen);
    if (rc == DB_OK)
        return db_exec(w->db, "RELEASE SAVEPOINT direct", err, errlen);
    if (rc != DB_DUPLICATE)
        return rc;
    rc = db_exec(w->db, "ROLLBACK TO SAVEPOINT direct", err, errlen);
    if (rc != DB_OK)
        return rc;
    /* A narrowed commit comes here once per batch: each must find only
     * its own rows in the staging table. */
    snprintf(sql, sizeof sql, "DELETE FROM %s", stage);
    rc = db_exec(w->db, sql, err, errlen);
    if (rc != DB_OK)
        return rc;
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary)", stage,
             cols);
    rc = db_copy_binary(w->db, sql, t->p, t->len, NULL, err, errlen);
    if (rc != DB_OK)
        return rc == DB_DUPLICATE ? DB_ERR_QUERY : rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO %s SELECT * FROM %s"
             " ON CONFLICT (vehicle_id, seq, service_day) DO NOTHING",
             table, stage);
    return db_exec_count(w->db, sql, n, err, errlen);
}

/* A statement's text and parameters, built once for the blocking and the
 * asynchronous path alike. */
struct writer_params {
    const char *sql;
    int n;
    const char *v[13];
    int l[13], f[13];
    char t[CLOCK_TEXT_MAX], num[8][24];
};

static const char writer__dead_sql[] =
    "INSERT INTO dead_letters "
    "(topic, vehicle_id, reason, payload, payload_len, seq) "
    "VALUES ($1, $2, $3, $4, $5, $6)";

static void writer__dead_params(const struct writer_dead *x,
                                struct writer_params *q)
{
    memset(q->l, 0, sizeof q->l);
    memset(q->f, 0, sizeof q->f);
    snprintf(q->num[0], sizeof q->num[0], "%zu", x->len);
    snprintf(q->num[1], sizeof q->num[1], "%" PRIu64, x->seq);
    q->sql = writer__dead_sql;
    q->n = 6;
    q->v[0] = x->topic;
    q->v[1] = x->vid;
    q->v[2] = x->reason;
    q->v[3] = x->payload;
    q->v[4] = q->num[0];
    q->v[5] = x->seq ? q->num[1] : NULL;
    q->l[3] = (int)x->kept;
    q->f[3] = 1; /* the payload is bytes */
}

/* Run q, waiting; `what` names it in err. */
static int writer__exec(struct writer *w, const struct writer_params *q,
                        const char *what, char *err, size_t errlen)
{
    PGresult *r =
        PQexecParams(db_conn(w->db), q->sql, q->n, NULL, q->v, q->l, q->f, 0);

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        db_note_state(w->db, r);
        db_errf(err, errlen, "%s: %s", what, PQerrorMessage(db_conn(w->db)));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    PQclear(r);
    return DB_OK;
}

static int writer__insert_dead(struct writer *w, const struct writer_dead *x,
                               char *err, size_t errlen)
{
    struct writer_params q;

    writer__dead_params(x, &q);
    return writer__exec(w, &q, "dead letter", err, errlen);
}

/* db_savepoint_end's answer when the item's data was refused: it is
 * rolled back and the transaction goes on without it. */
#define WRITER_REFUSED 2

static int writer__savepoint_begin(struct writer *w, char *err, size_t errlen)
{
    return db_exec(w->db, "SAVEPOINT item", err, errlen);
}

/* Close the savepoint opened before one item whose write returned rc:
 * DB_OK, WRITER_REFUSED (a data error, undone), or the error. */
static int writer__savepoint_end(struct writer *w, int rc, char *err,
                                 size_t errlen)
{
    char why[512];

    if (rc == DB_OK)
        return db_exec(w->db, "RELEASE SAVEPOINT item", err, errlen);
    if (!db_data_error(w->db))
        return rc;
    if (db_exec(w->db, "ROLLBACK TO SAVEPOINT item", why, sizeof why) !=
            DB_OK ||
        db_exec(w->db, "RELEASE SAVEPOINT item", why, sizeof why) != DB_OK) {
        db_errf(err, errlen, "%s", why);
        return DB_ERR_QUERY;
    }
    return WRITER_REFUSED;
}

static int writer__write_dead(struct writer *w, bool narrow, char *err,
                              size_t errlen)
{
    for (size_t i = 0; i < w->fl->ndead; i++) {
        int rc;

        if (!narrow) {
            rc = writer__insert_dead(w, &w->fl->dead[i], err, errlen);
            if (rc != DB_OK)
                return rc;
            continue;
        }
        /* A dead letter the database refuses has nowhere left to go: it
         * is counted and dropped, the rest goes on. */
        rc = writer__savepoint_begin(w, err, errlen);
        if (rc == DB_OK)
            rc = writer__savepoint_end(
                w, writer__insert_dead(w, &w->fl->dead[i], err, errlen), err,
                errlen);
        if (rc == WRITER_REFUSED)
            w->narrowed++;
        else if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

static const char writer__status_sql[] =
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
    " received_at = now()";

static void writer__status_params(const struct wire_status *s,
                                  struct writer_params *q)
{
    bool online = s->state == WIRE_ONLINE;

    memset(q->l, 0, sizeof q->l);
    memset(q->f, 0, sizeof q->f);
    clock_text_ms(q->t, s->t_ms);
    snprintf(q->num[0], sizeof q->num[0], "%" PRIu64, s->spool_records);
    snprintf(q->num[1], sizeof q->num[1], "%" PRId64, s->oldest_unacked_age_s);
    snprintf(q->num[2], sizeof q->num[2], "%u", s->gps_mode);
    snprintf(q->num[3], sizeof q->num[3], "%" PRIu64, s->dropped_positions);
    snprintf(q->num[4], sizeof q->num[4], "%" PRIu64, s->dropped_counts);
    snprintf(q->num[5], sizeof q->num[5], "%" PRIu64, s->next_seq);
    snprintf(q->num[6], sizeof q->num[6], "%" PRIu64, s->acked_seq);
    q->sql = writer__status_sql;
    q->n = 13;
    q->v[0] = s->vehicle_id;
    q->v[1] = online ? "t" : "f";
    q->v[2] = s->t_ms ? q->t : NULL;
    q->v[3] = s->version[0] ? s->version : NULL;
    q->v[4] = s->config_hash[0] ? s->config_hash : NULL;
    q->v[5] = q->num[0];
    q->v[6] = q->num[1];
    q->v[7] = q->num[2];
    q->v[8] = s->counter_state[0] ? s->counter_state : NULL;
    q->v[9] = q->num[3];
    q->v[10] = q->num[4];
    /* A Last Will knows nothing of the numbering: keep the last known. */
    q->v[11] = online ? q->num[5] : NULL;
    q->v[12] = online ? q->num[6] : NULL;
}

static int writer__insert_status(struct writer *w, const struct wire_status *s,
                                 char *err, size_t errlen)
{
    struct writer_params q;

    writer__status_params(s, &q);
    return writer__exec(w, &q, "status", err, errlen);
}

/* A status the database refused, as a dead letter (re-encoded: the
 * original payload is not kept past staging). */
static int writer__status_dead(struct writer *w, const struct wire_status *s,
                               const char *why, char *err, size_t errlen)
{
    struct writer_dead x;
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
    x.kept = len < WRITER_DEAD_KEEP ? len : WRITER_DEAD_KEEP;
    x.len = len;
    rc = writer__savepoint_begin(w, err, errlen);
    if (rc == DB_OK)
        rc = writer__savepoint_end(w, writer__insert_dead(w, &x, err, errlen),
                                   err, errlen);
    free(buf);
    return rc == WRITER_REFUSED ? DB_OK : rc;
}

static int writer__write_status(struct writer *w, bool narrow, char *err,
                                size_t errlen)
{
    for (size_t i = 0; i < w->fl->nstatus; i++) {
        char why[512];
        int rc;

        if (!narrow) {
            rc = writer__insert_status(w, &w->fl->status[i], err, errlen);
            if (rc != DB_OK)
                return rc;
            continue;
        }
        rc = writer__savepoint_begin(w, err, errlen);
        if (rc == DB_OK)
            rc = writer__savepoint_end(
                w, writer__insert_status(w, &w->fl->status[i], why, sizeof why),
                err, errlen);
        if (rc == WRITER_REFUSED) {
            w->narrowed++;
            rc = writer__status_dead(w, &w->fl->status[i], why, err, errlen);
        }
        if (rc != DB_OK)
            return rc;
    }
    return DB_OK;
}

#define WRITER_POS_COLS                                                        \
    "vehicle_id, seq, service_day, t, backlog, time_source, lat, lon,"         \
    " speed, track, alt, hdop, fix_mode, sats_used"
#define WRITER_CNT_COLS                                                        \
    "vehicle_id, seq, service_day, t, backlog, time_source, door, boarded,"    \
    " alighted, door_open, door_close, load_after, lat, lon, quality"

/* Write the rows t[off, end) (whole rows) into positions (pos) or
 * passenger_counts. */
static int writer__write_slice(struct writer *w, bool pos, const struct buf *t,
                               size_t off, size_t end, uint64_t *n, char *err,
                               size_t errlen)
{
    struct buf slice = {t->p + off, end - off, end - off};

    if (end == off)
        return DB_OK;
    return pos ? writer__write_rows(w, "positions", "stage_positions",
                                    WRITER_POS_COLS, &slice, n, err, errlen)
               : writer__write_rows(w, "passenger_counts", "stage_counts",
                                    WRITER_CNT_COLS, &slice, n, err, errlen);
}

/* One row of a batch the database refused: a dead letter, its seq settled
 * (it is among the vehicle's staged seqs already). Its payload is the row
 * as staged: one tuple of the binary COPY format. */
static int writer__row_dead(struct writer *w, const char *vid, const char *row,
                            size_t len, const char *why)
{
    char topic[128], reason[600];
    uint64_t seq = writer__row_seq((const unsigned char *)row);

    w->narrowed++;
    if (wire_topic(topic, sizeof topic, vid, "telemetry") != 0)
        snprintf(topic, sizeof topic, "telemetry");
    snprintf(reason, sizeof reason, "database: %s", why);
    return writer__add_dead(w->fl, topic, vid, seq, reason, row, len);
}

/* Row by row through one batch's slice of t, each in a savepoint. */
static int writer__write_rows_narrow(struct writer *w, bool pos,
                                     const char *vid, const struct buf *t,
                                     size_t off, size_t end, uint64_t *n,
                                     char *err, size_t errlen)
{
    while (off < end) {
        size_t next = writer__row_end(t, off);
        char why[512];
        int rc = writer__savepoint_begin(w, err, errlen);

        if (rc == DB_OK)
            rc = writer__savepoint_end(
                w,
                writer__write_slice(w, pos, t, off, next, n, why, sizeof why),
                err, errlen);
        if (rc == WRITER_REFUSED)
            rc = writer__row_dead(w, vid, t->p + off, next - off, why);
        if (rc != DB_OK)
            return rc;
        off = next;
    }
    return DB_OK;
}

/* The raw rows: all at once, or (narrow) batch by batch and the refused
 * batches row by row. */
static int writer__write_all_rows(struct writer *w, bool narrow, uint64_t *n,
                                  char *err, size_t errlen)
{
    int rc = DB_OK;

    if (!narrow) {
        rc = writer__write_slice(w, true, &w->fl->pos, 0, w->fl->pos.len, n,
                                 err, errlen);
        if (rc == DB_OK)
            rc = writer__write_slice(w, false, &w->fl->cnt, 0, w->fl->cnt.len,
                                     n, err, errlen);
        return rc;
    }
    for (size_t i = 0; i < w->fl->nunits && rc == DB_OK; i++) {
        const struct writer_unit *u = &w->fl->units[i];

        rc = writer__savepoint_begin(w, err, errlen);
        if (rc == DB_OK) {
            int wr = writer__write_slice(w, true, &w->fl->pos, u->pos_off,
                                         u->pos_end, n, err, errlen);
            if (wr == DB_OK)
                wr = writer__write_slice(w, false, &w->fl->cnt, u->cnt_off,
                                         u->cnt_end, n, err, errlen);
            rc = writer__savepoint_end(w, wr, err, errlen);
        }
        if (rc == WRITER_REFUSED) {
            rc = writer__write_rows_narrow(w, true, u->vid, &w->fl->pos,
                                           u->pos_off, u->pos_end, n, err,
                                           errlen);
            if (rc == DB_OK)
                rc = writer__write_rows_narrow(w, false, u->vid, &w->fl->cnt,
                                               u->cnt_off, u->cnt_end, n, err,
                                               errlen);
        }
    }
    return rc;
}

/* One transaction of everything staged. On a data error the transaction
 * is rolled back and WRITER_REFUSED returned, the connection kept. */
static int writer__commit_once(struct writer *w, bool narrow, uint64_t *n,
                               char *err, size_t errlen)
{
    size_t ndead = w->fl->ndead;
    int rc;

    *n = 0;
    db_clear_state(w->db);
    rc = db_exec(w->db, "BEGIN", err, errlen);
    if (rc == DB_OK)
        rc = writer__write_all_rows(w, narrow, n, err, errlen);
    /* The seqs of vehicles whose watermark needs the walk, new or re-sent:
     * a re-send after a database crash refills what the unlogged table
     * lost. */
    if (rc == DB_OK)
        rc = acks_pending_add(w->acks, w->db, err, errlen);
    if (rc == DB_OK)
        rc = writer__write_dead(w, narrow, err, errlen);
    if (rc == DB_OK)
        rc = writer__write_status(w, narrow, err, errlen);
    if (rc == DB_OK)
        rc = db_exec(w->db, "COMMIT", err, errlen);
    if (rc == DB_OK)
        return DB_OK;
    /* Dead letters a narrowing added belong to that attempt only. */
    for (size_t i = ndead; i < w->fl->ndead; i++)
        writer__dead_free(&w->fl->dead[i]);
    w->fl->ndead = ndead;
    if (db_data_error(w->db) && db_exec(w->db, "ROLLBACK", NULL, 0) == DB_OK)
        return WRITER_REFUSED;
    return rc;
}

/* The staging tables and columns of each raw table, by w->table. */
static const struct {
    const char *table, *stage, *cols;
} writer__tables[2] = {
    {"positions", "stage_positions", WRITER_POS_COLS},
    {"passenger_counts", "stage_counts", WRITER_CNT_COLS},
};

static const struct buf *writer__rows(const struct writer *w)
{
    return w->table == 0 ? &w->fl->pos : &w->fl->cnt;
}

/* Send sql (no parameters) as the next step. */
static int writer__send(struct writer *w, enum writer_step step,
                        const char *sql, char *err, size_t errlen)
{
    w->step = step;
    return db_send(w->db, sql, 0, NULL, NULL, NULL, err, errlen);
}

static int writer__send_params(struct writer *w, enum writer_step step,
                               const struct writer_params *q, char *err,
                               size_t errlen)
{
    w->step = step;
    return db_send(w->db, q->sql, q->n, q->v, q->l, q->f, err, errlen);
}

/* COPY the current table's rows into `into` (the table or its staging
 * table) as the next step. */
static int writer__send_copy(struct writer *w, enum writer_step step,
                             const char *into, char *err, size_t errlen)
{
    const struct buf *t = writer__rows(w);
    char sql[512];

    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary)", into,
             writer__tables[w->table].cols);
    w->step = step;
    return db_send_copy_binary(w->db, sql, t->p, t->len, err, errlen);
}

/* The commit is over (done or failed): back to idle. On success the
 * batch is gone; on failure it stays sealed for the next try. */
static void writer__finish(struct writer *w, bool ok)
{
    w->step = WRITER_S_IDLE;
    if (ok) {
        writer__batch_clear(w->fl);
        acks_clear(w->acks);
        w->sealed = false;
    }
}

/* The first watermark statement, or the end of the commit (DB_OK). */
static int writer__watermark_next(struct writer *w, char *err, size_t errlen)
{
    struct acks_query q;
    int rc = acks_watermark_next(w->acks, &q);

    if (rc == 1) {
        w->step = WRITER_S_WATERMARK;
        return db_send(w->db, q.sql, q.nparams, q.v, NULL, NULL, err, errlen);
    }
    writer__finish(w, true);
    if (rc != 0) {
        db_errf(err, errlen, "watermark: out of memory");
        db_disconnect(w->db);
    }
    return rc;
}

/* Committed: the rows are durable, whatever happens to the watermark
 * statements (a failed one is redone with the next commit). */
static int writer__committed(struct writer *w, char *err, size_t errlen)
{
    w->commits++;
    acks_watermark_begin(w->acks);
    return writer__watermark_next(w, err, errlen);
}

/* From table w->table on: the next table with rows, its savepoint; after
 * both, the seqs for the walk, the dead letters, the statuses, COMMIT. */
static int writer__after_rows(struct writer *w, char *err, size_t errlen)
{
    struct acks_query aq;
    struct writer_params q;
    int rc;

    while (w->table < 2 && writer__rows(w)->len == 0)
        w->table++;
    if (w->table < 2)
        return writer__send(w, WRITER_S_SAVEPOINT, "SAVEPOINT direct", err,
                            errlen);
    if (w->step < WRITER_S_PENDING) {
        /* The seqs of vehicles whose watermark needs the walk, new or
         * re-sent: a re-send after a database crash refills what the
         * unlogged table lost. */
        rc = acks_pending_query(w->acks, &aq);
        if (rc < 0)
            return DB_ERR_NOMEM;
        w->item = 0;
        if (rc == 1) {
            w->step = WRITER_S_PENDING;
            return db_send(w->db, aq.sql, aq.nparams, aq.v, NULL, NULL, err,
                           errlen);
        }
        w->step = WRITER_S_PENDING;
    }
    if (w->step == WRITER_S_PENDING || w->step == WRITER_S_DEAD) {
        if (w->item < w->fl->ndead) {
            writer__dead_params(&w->fl->dead[w->item++], &q);
            return writer__send_params(w, WRITER_S_DEAD, &q, err, errlen);
        }
        w->item = 0;
        w->step = WRITER_S_STATUS;
    }
    if (w->item < w->fl->nstatus) {
        writer__status_params(&w->fl->status[w->item++], &q);
        return writer__send_params(w, WRITER_S_STATUS, &q, err, errlen);
    }
    /* The zone is read again with every commit, in the same round trip:
     * a feed loaded with another agency_timezone takes effect from the
     * next batch, without a reconnect. */
    return writer__send(w, WRITER_S_COMMIT,
                        "COMMIT; SELECT shuttle_service_tz()", err, errlen);
}

/* The current step's statement is done without error: send the next. */
static int writer__advance(struct writer *w, char *err, size_t errlen)
{
    char sql[512];

    switch (w->step) {
    case WRITER_S_BEGIN:
        return writer__after_rows(w, err, errlen);
    case WRITER_S_SAVEPOINT: /* there: the rows straight in */
        return writer__send_copy(w, WRITER_S_COPY,
                                 writer__tables[w->table].table, err, errlen);
    case WRITER_S_COPY:
    case WRITER_S_MERGE:
        return writer__send(w, WRITER_S_RELEASE, "RELEASE SAVEPOINT direct",
                            err, errlen);
    case WRITER_S_RELEASE:
        w->table++;
        w->duplicate = false;
        return writer__after_rows(w, err, errlen);
    case WRITER_S_UNDO:
        return writer__send_copy(w, WRITER_S_STAGE,
                                 writer__tables[w->table].stage, err, errlen);
    case WRITER_S_STAGE:
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s SELECT * FROM %s"
                 " ON CONFLICT (vehicle_id, seq, service_day) DO NOTHING",
                 writer__tables[w->table].table,
                 writer__tables[w->table].stage);
        return writer__send(w, WRITER_S_MERGE, sql, err, errlen);
    case WRITER_S_PENDING:
    case WRITER_S_DEAD:
    case WRITER_S_STATUS:
        return writer__after_rows(w, err, errlen);
    case WRITER_S_COMMIT:
        return writer__committed(w, err, errlen);
    case WRITER_S_WATERMARK:
        return writer__watermark_next(w, err, errlen);
    default:
        return DB_ERR_QUERY;
    }
}

/* One result of the current step's statement. A failure is remembered
 * (the first one) until the statement has no more results. */
static void writer__result(struct writer *w, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    char why[512];

    if (w->failed)
        return;
    if (w->step == WRITER_S_WATERMARK) {
        if (acks_watermark_result(w->acks, r, w->on_ack, w->on_ack_arg, why,
                                  sizeof why) != DB_OK) {
            w->failed = DB_ERR_QUERY;
            snprintf(w->why, sizeof w->why, "%s", why);
        }
        return;
    }
    if (w->step == WRITER_S_COMMIT && st == PGRES_TUPLES_OK) {
        /* A zone this machine does not know keeps the old one: the rows
         * are committed, and db_prepare says so at the next connect. */
        (void)db_note_zone(w->db, r, why, sizeof why);
        return;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        if (w->step == WRITER_S_COPY && state && strcmp(state, "23505") == 0) {
            w->duplicate = true; /* a re-send: handled, not a failure */
            return;
        }
        w->failed = DB_ERR_QUERY;
        db_errf(w->why, sizeof w->why, "%s", PQresultErrorMessage(r));
        return;
    }
    if (w->step == WRITER_S_COPY || w->step == WRITER_S_MERGE)
        w->inserted += strtoull(PQcmdTuples(r), NULL, 10);
}

/* The fast path was refused for what some rows hold (or a partition this
 * process thought there was not): the transaction is rolled back, and the
 * rest is done the waiting way, as before: the partitions asked again
 * once, then the commit narrowed batch by batch and row by row. Rare: a
 * bad message, or another backend's retention. */
static int writer__refused(struct writer *w, char *err, size_t errlen)
{
    uint64_t n = 0;
    int rc = WRITER_REFUSED;
    bool stale = partitions_stale(w->db);

    if (db_set_blocking(w->db) != DB_OK ||
        db_exec(w->db, "ROLLBACK", err, errlen) != DB_OK)
        return DB_ERR_QUERY;
    if (stale) {
        /* Another backend's retention dropped a day this process
         * remembered as there. Ask again, once. */
        partitions_forget(w->parts);
        rc = partitions_ensure(w->parts, w->db, w->fl->staged_days,
                               w->fl->nstaged_days, err, errlen);
        if (rc == DB_OK)
            rc = writer__commit_once(w, false, &n, err, errlen);
    }
    if (rc == WRITER_REFUSED) {
        /* Some row, status or dead letter is refused for what it holds:
         * find it (batch by batch, then row by row), make it a dead
         * letter, commit the rest. One bad message must not hold up
         * every vehicle's records. */
        rc = writer__commit_once(w, true, &n, err, errlen);
        if (rc == WRITER_REFUSED)
            rc = DB_ERR_QUERY; /* narrowed and still refused: give up */
    }
    if (rc != DB_OK)
        return rc;
    w->inserted = n;
    return writer__committed(w, err, errlen);
}

/* The current step's statement has no more results. */
static int writer__step_done(struct writer *w, char *err, size_t errlen)
{
    if (w->step == WRITER_S_COPY && w->duplicate && !w->failed)
        /* A batch repeating a stored record (the bus re-sent what it had
         * no ack for) makes COPY fail on the key; then the rows go again
         * through the session's staging table and INSERT ... ON CONFLICT
         * DO NOTHING, which keeps the new ones and drops the repeats. */
        return writer__send(w, WRITER_S_UNDO,
                            w->table == 0 ? "ROLLBACK TO SAVEPOINT direct;"
                                            " DELETE FROM stage_positions"
                                          : "ROLLBACK TO SAVEPOINT direct;"
                                            " DELETE FROM stage_counts",
                            err, errlen);
    if (!w->failed)
        return writer__advance(w, err, errlen);
    db_errf(err, errlen, "%s", w->why);
    w->failed = 0;
    if (w->step == WRITER_S_WATERMARK)
        return DB_ERR_QUERY;
    if (db_data_error(w->db))
        return writer__refused(w, err, errlen);
    return DB_ERR_QUERY;
}

int writer_commit_start(struct writer *w, acks_fn on_ack, void *arg, char *err,
                        size_t errlen)
{
    int rc;

    if (w->step != WRITER_S_IDLE)
        return DB_OK;
    if (!w->sealed) {
        struct writer_batch *t;

        if (writer__items(w->fill) == 0)
            return DB_OK;
        t = w->fl;
        w->fl = w->fill;
        w->fill = t;
        acks_seal(w->acks);
        w->sealed = true;
    }
    if (!db_connected(w->db))
        return DB_ERR_CONNECT;
    w->on_ack = on_ack;
    w->on_ack_arg = arg;
    /* Usually known already: then no statement. */
    rc = partitions_ensure(w->parts, w->db, w->fl->staged_days,
                           w->fl->nstaged_days, err, errlen);
    if (rc != DB_OK) {
        db_disconnect(w->db);
        return rc;
    }
    acks_plan(w->acks);
    db_clear_state(w->db);
    w->table = 0;
    w->item = 0;
    w->failed = 0;
    w->duplicate = false;
    w->inserted = 0;
    rc = writer__send(w, WRITER_S_BEGIN, "BEGIN", err, errlen);
    if (rc != DB_OK)
        writer__finish(w, false);
    return rc;
}

int writer_commit_fd(const struct writer *w, short *events)
{
    return w->step == WRITER_S_IDLE ? -1 : db_io_fd(w->db, events);
}

int writer_commit_step(struct writer *w, uint64_t *inserted, char *err,
                       size_t errlen)
{
    for (;;) {
        PGresult *r;
        int rc;

        if (w->step == WRITER_S_IDLE)
            return DB_OK;
        rc = db_io(w->db, &r, err, errlen);
        if (rc == DB_PENDING)
            return DB_PENDING;
        if (rc == DB_OK && r) {
            writer__result(w, r);
            PQclear(r);
            continue;
        }
        if (rc == DB_OK) {
            bool watermarks = w->step == WRITER_S_WATERMARK;

            rc = writer__step_done(w, err, errlen);
            if (rc == DB_OK && w->step == WRITER_S_IDLE) {
                if (inserted)
                    *inserted = w->inserted;
                return DB_OK;
            }
            if (rc == DB_OK)
                continue; /* the next statement is out */
            if (watermarks || w->step == WRITER_S_WATERMARK) {
                /* Committed; only the acks are lost, and redone with the
                 * vehicle's next commit. */
                writer__finish(w, true);
                db_disconnect(w->db);
                return rc;
            }
        }
        /* Keep the staged rows: they are retried on the next connection. */
        writer__finish(w, false);
        db_disconnect(w->db);
        return rc;
    }
}

int writer_commit(struct writer *w, acks_fn on_ack, void *arg,
                  uint64_t *inserted, char *err, size_t errlen)
{
    uint64_t total = 0;
    int rc = DB_OK;

    /* A commit under way first, then the batch filling beside it. */
    for (int pass = 0; pass < 3 && rc == DB_OK; pass++) {
        uint64_t n = 0;

        if (w->step == WRITER_S_IDLE && writer_staged_items(w) == 0)
            break;
        rc = writer_commit_start(w, on_ack, arg, err, errlen);
        if (rc != DB_OK)
            break;
        while ((rc = writer_commit_step(w, &n, err, errlen)) == DB_PENDING) {
            struct pollfd pfd;

            pfd.fd = writer_commit_fd(w, &pfd.events);
            if (pfd.fd < 0)
                break;
            (void)poll(&pfd, 1, 1000);
        }
        total += n;
    }
    if (inserted)
        *inserted = total;
    return rc;
}
