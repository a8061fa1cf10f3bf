/* acks: the ack watermark of each vehicle: which seqs are committed without
 * a gap, what this process last read back (a cache), the fast path that
 * needs no walk, pending_seqs and the SQL of the walk, and the ack sent. */
#include "acks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mqtt.h"
#include "wire.h"

/* A vehicle touched by the staged rows: the oldest seq it still holds, and
 * the seqs staged for it (to see whether they simply extend its watermark). */
struct acks_vehicle {
    char vid[WIRE_VID_MAX + 1];
    uint64_t oldest_held;
    uint64_t *seqs;
    size_t nseq, capseq;
    bool slow;       /* the watermark needs the database's walk */
    uint64_t fast_w; /* when not slow: the new watermark */
};

/* The watermark this process last read back for a vehicle. The database's
 * value only grows, so this is a lower bound of it. */
struct acks_acked {
    char vid[WIRE_VID_MAX + 1];
    uint64_t acked;
};

struct acks {
    /* The vehicles of the commit under way (veh), and of the batch filling
     * beside it (sveh): acks_seal swaps them. */
    struct acks_vehicle *veh, *sveh;
    size_t nveh, capveh, nsveh, capsveh;
    int wm_phase; /* the last watermark statement handed out */
    struct buf vids, helds, ws, seqs; /* its array literals */
    struct acks_acked *acked; /* open addressing, capacity a power of two */
    size_t nacked, capacked;
};

int acks_new(struct acks **out)
{
    struct acks *a = calloc(1, sizeof *a);

    if (!a)
        return DB_ERR_NOMEM;
    *out = a;
    return DB_OK;
}

void acks_free(struct acks *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->capveh; i++)
        free(a->veh[i].seqs);
    for (size_t i = 0; i < a->capsveh; i++)
        free(a->sveh[i].seqs);
    free(a->veh);
    free(a->sveh);
    free(a->acked);
    buf_free(&a->vids);
    buf_free(&a->helds);
    buf_free(&a->ws);
    buf_free(&a->seqs);
    free(a);
}

void acks_clear(struct acks *a)
{
    a->nveh = 0;
}

void acks_seal(struct acks *a)
{
    struct acks_vehicle *v = a->veh;
    size_t cap = a->capveh;

    a->veh = a->sveh;
    a->capveh = a->capsveh;
    a->nveh = a->nsveh;
    a->sveh = v;
    a->capsveh = cap;
    a->nsveh = 0;
}

struct acks_vehicle *acks_vehicle(struct acks *a, const char *vid,
                                  uint64_t held)
{
    struct acks_vehicle *v;

    for (size_t i = 0; i < a->nsveh; i++) {
        if (strcmp(a->sveh[i].vid, vid) == 0) {
            if (held > a->sveh[i].oldest_held)
                a->sveh[i].oldest_held = held;
            return &a->sveh[i];
        }
    }
    if (a->nsveh == a->capsveh) {
        size_t cap = a->capsveh ? a->capsveh * 2 : 16;
        struct acks_vehicle *g = realloc(a->sveh, cap * sizeof *g);

        if (!g)
            return NULL;
        /* Slots keep their seq buffers from commit to commit. */
        memset(g + a->capsveh, 0, (cap - a->capsveh) * sizeof *g);
        a->sveh = g;
        a->capsveh = cap;
    }
    v = &a->sveh[a->nsveh++];
    snprintf(v->vid, sizeof v->vid, "%s", vid);
    v->oldest_held = held;
    v->nseq = 0;
    v->slow = false;
    return v;
}

int acks_vehicle_seq(struct acks_vehicle *v, uint64_t seq)
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

/* The cache slot of vid: its entry, or the empty slot where it belongs. */
static struct acks_acked *acks__slot(const struct acks *a, const char *vid)
{
    size_t mask = a->capacked - 1, i = (size_t)hash_fnv1a_str(vid) & mask;

    while (a->acked[i].vid[0] && strcmp(a->acked[i].vid, vid) != 0)
        i = (i + 1) & mask;
    return &a->acked[i];
}

/* What this process last saw of vid's watermark, or false if nothing. */
static bool acks__get(const struct acks *a, const char *vid, uint64_t *out)
{
    const struct acks_acked *e;

    if (a->nacked == 0)
        return false;
    e = acks__slot(a, vid);
    if (!e->vid[0])
        return false;
    *out = e->acked;
    return true;
}

static int acks__put(struct acks *a, const char *vid, uint64_t acked)
{
    struct acks_acked *e;

    if (2 * (a->nacked + 1) > a->capacked) {
        size_t cap = a->capacked ? a->capacked * 2 : 256;
        struct acks_acked *old = a->acked;
        size_t oldcap = a->capacked;

        a->acked = calloc(cap, sizeof *a->acked);
        if (!a->acked) {
            a->acked = old;
            return DB_ERR_NOMEM;
        }
        a->capacked = cap;
        a->nacked = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].vid[0]) {
                *acks__slot(a, old[i].vid) = old[i];
                a->nacked++;
            }
        }
        free(old);
    }
    e = acks__slot(a, vid);
    if (!e->vid[0]) {
        snprintf(e->vid, sizeof e->vid, "%s", vid);
        a->nacked++;
    }
    if (acked > e->acked)
        e->acked = acked;
    return DB_OK;
}

static int acks__seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

enum acks_path acks_classify(bool known, uint64_t acked, uint64_t oldest_held,
                             uint64_t *seqs, size_t nseq, uint64_t *watermark)
{
    uint64_t w = acked;

    if (!known)
        return ACKS_SLOW;
    /* A claim that would skip seqs is checked against the bus's status,
     * which only the database's walk does. */
    if (oldest_held > 0 && oldest_held - 1 > w)
        return ACKS_SLOW;
    if (nseq > 1) /* seqs may be NULL when there are none */
        qsort(seqs, nseq, sizeof *seqs, acks__seq_cmp);
    for (size_t i = 0; i < nseq; i++) {
        if (seqs[i] <= w)
            continue; /* re-sent */
        if (seqs[i] != w + 1)
            return ACKS_SLOW;
        w = seqs[i];
    }
    *watermark = w;
    return ACKS_FAST;
}

void acks_plan(struct acks *a)
{
    for (size_t i = 0; i < a->nveh; i++) {
        struct acks_vehicle *v = &a->veh[i];
        uint64_t w = 0;
        bool known = acks__get(a, v->vid, &w);

        v->slow = acks_classify(known, w, v->oldest_held, v->seqs, v->nseq,
                                &v->fast_w) == ACKS_SLOW;
        if (v->slow)
            v->fast_w = 0;
    }
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
 * later (a new spool, records dropped when full) waits for its next status.
 * Computed from what is committed, not from what this process saw, so several
 * backends sharing a subscription agree; GREATEST keeps it from moving back
 * when two backends race. One statement for all vehicles of the commit.
 */
static const char acks__watermark_sql[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[])"
    "           AS v(vehicle_id, held)),"
    " b0 AS (SELECT v.vehicle_id, v.held, vs.next_seq,"
    "        vp.vehicle_id IS NULL AS fresh,"
    "        greatest(coalesce(vp.acked_seq, 0),"
    "        coalesce(vp.oldest_held, 0) - 1) AS w0"
    "        FROM v LEFT JOIN vehicle_progress vp USING (vehicle_id)"
    "        LEFT JOIN vehicle_status vs USING (vehicle_id)),"
    " b1 AS (SELECT vehicle_id, CASE WHEN fresh THEN held"
    "        ELSE least(held, greatest(coalesce(next_seq, 0),"
    "        least(w0, 9223372036854775806) + 1)) END"
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
static const char acks__pending_trim_sql[] =
    "DELETE FROM pending_seqs p USING vehicle_progress vp"
    " WHERE p.vehicle_id = vp.vehicle_id AND p.seq <= vp.acked_seq"
    " AND p.vehicle_id = ANY($1::text[])";

/* A fast vehicle's new watermark, GREATEST with what is there (another
 * backend may be ahead). */
static const char acks__fast_sql[] =
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
static const char acks__pending_probe_sql[] =
    "SELECT DISTINCT vehicle_id FROM pending_seqs"
    " WHERE vehicle_id = ANY($1::text[])";

/* A slow vehicle's staged seqs become candidates for the walk. */
static const char acks__pending_add_sql[] =
    "INSERT INTO pending_seqs (vehicle_id, seq)"
    " SELECT * FROM unnest($1::text[], $2::bigint[])"
    " ON CONFLICT DO NOTHING";

/* Array literals of the slow (or fast) vehicles: ids, oldest held seqs and
 * fast watermarks. Vehicle ids are [A-Za-z0-9_-], so nothing needs quoting.
 * Returns the number of vehicles, or -1 when out of memory. */
static int acks__arrays(const struct acks *a, bool slow, struct buf *vids,
                        struct buf *helds, struct buf *ws)
{
    int n = 0;

    vids->len = helds->len = ws->len = 0;
    for (size_t i = 0; i < a->nveh; i++) {
        const struct acks_vehicle *v = &a->veh[i];

        if (v->slow != slow)
            continue;
        if (buf_printf(vids, "%c%s", n ? ',' : '{', v->vid) ||
            buf_printf(helds, "%c%" PRIu64, n ? ',' : '{', v->oldest_held) ||
            buf_printf(ws, "%c%" PRIu64, n ? ',' : '{', v->fast_w))
            return -1;
        n++;
    }
    if (buf_printf(vids, "}") || buf_printf(helds, "}") || buf_printf(ws, "}"))
        return -1;
    return n;
}

/* Every row (vehicle, acked) of a watermark statement's answer is
 * remembered and reported. */
static int acks__rows(struct acks *a, const PGresult *r, acks_fn on_ack,
                      void *arg, char *err, size_t errlen)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "watermark: %s", PQresultErrorMessage(r));
        return DB_ERR_QUERY;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *vid = PQgetvalue(r, i, 0);
        uint64_t acked = strtoull(PQgetvalue(r, i, 1), NULL, 10), seen;

        /* The row is GREATEST-updated, yet answers of two statements can
         * arrive in either order: never report less than already done. */
        acks__put(a, vid, acked);
        if (acks__get(a, vid, &seen) && seen > acked)
            acked = seen;
        if (on_ack)
            on_ack(arg, vid, acked);
    }
    return DB_OK;
}

/* From memory: the rows may not have gone through a staging table. */
int acks_pending_query(struct acks *a, struct acks_query *q)
{
    size_t n = 0;

    buf_clear(&a->vids);
    buf_clear(&a->seqs);
    for (size_t i = 0; i < a->nveh; i++) {
        const struct acks_vehicle *veh = &a->veh[i];

        if (!veh->slow)
            continue;
        for (size_t k = 0; k < veh->nseq; k++, n++) {
            if (buf_printf(&a->vids, "%c%s", n ? ',' : '{', veh->vid) ||
                buf_printf(&a->seqs, "%c%" PRIu64, n ? ',' : '{', veh->seqs[k]))
                return DB_ERR_NOMEM;
        }
    }
    if (n == 0)
        return 0;
    if (buf_printf(&a->vids, "}") || buf_printf(&a->seqs, "}"))
        return DB_ERR_NOMEM;
    q->sql = acks__pending_add_sql;
    q->nparams = 2;
    q->v[0] = a->vids.p;
    q->v[1] = a->seqs.p;
    q->v[2] = NULL;
    return 1;
}

/* A statement acks hands out, run and answered at once. */
static PGresult *acks__exec(struct db *d, const struct acks_query *q)
{
    return PQexecParams(db_conn(d), q->sql, q->nparams, NULL, q->v, NULL, NULL,
                        0);
}

int acks_pending_add(struct acks *a, struct db *d, char *err, size_t errlen)
{
    struct acks_query q;
    int rc = acks_pending_query(a, &q);

    if (rc <= 0)
        return rc;
    return db_exec_params(d, q.sql, q.nparams, q.v, err, errlen);
}

/* The watermark statements, in this order; each only when needed. */
enum {
    ACKS__WM_START,
    ACKS__WM_FAST,  /* the fast vehicles' new watermarks */
    ACKS__WM_PROBE, /* which of them have seqs waiting above a gap */
    ACKS__WM_WALK,  /* the slow ones' walk */
    ACKS__WM_TRIM,  /* pending seqs the walk passed */
    ACKS__WM_DONE,
};

void acks_watermark_begin(struct acks *a)
{
    a->wm_phase = ACKS__WM_START;
}

int acks_watermark_next(struct acks *a, struct acks_query *q)
{
    int n;

    q->v[2] = NULL;
    if (a->wm_phase == ACKS__WM_START) {
        n = acks__arrays(a, false, &a->vids, &a->helds, &a->ws);
        if (n < 0)
            return DB_ERR_NOMEM;
        a->wm_phase = n > 0 ? ACKS__WM_FAST : ACKS__WM_PROBE;
        if (n > 0) {
            q->sql = acks__fast_sql;
            q->nparams = 3;
            q->v[0] = a->vids.p;
            q->v[1] = a->ws.p;
            q->v[2] = a->helds.p;
            return 1;
        }
    } else if (a->wm_phase == ACKS__WM_FAST) {
        a->wm_phase = ACKS__WM_PROBE;
        q->sql = acks__pending_probe_sql;
        q->nparams = 1;
        q->v[0] = a->vids.p;
        return 1;
    } else if (a->wm_phase == ACKS__WM_WALK) {
        a->wm_phase = ACKS__WM_TRIM;
        q->sql = acks__pending_trim_sql;
        q->nparams = 1;
        q->v[0] = a->vids.p;
        return 1;
    }
    if (a->wm_phase == ACKS__WM_PROBE) {
        /* After the probe (or with no fast vehicle): the slow ones. */
        n = acks__arrays(a, true, &a->vids, &a->helds, &a->ws);
        if (n < 0)
            return DB_ERR_NOMEM;
        if (n > 0) {
            a->wm_phase = ACKS__WM_WALK;
            q->sql = acks__watermark_sql;
            q->nparams = 2;
            q->v[0] = a->vids.p;
            q->v[1] = a->helds.p;
            return 1;
        }
    }
    a->wm_phase = ACKS__WM_DONE;
    return 0;
}

int acks_watermark_result(struct acks *a, const PGresult *r, acks_fn on_ack,
                          void *arg, char *err, size_t errlen)
{
    switch (a->wm_phase) {
    case ACKS__WM_FAST:
    case ACKS__WM_WALK:
        return acks__rows(a, r, on_ack, arg, err, errlen);
    case ACKS__WM_PROBE:
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            break;
        for (int i = 0; i < PQntuples(r); i++)
            for (size_t k = 0; k < a->nveh; k++)
                if (strcmp(a->veh[k].vid, PQgetvalue(r, i, 0)) == 0)
                    a->veh[k].slow = true;
        return DB_OK;
    default:
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            return DB_OK;
        break;
    }
    db_errf(err, errlen, "watermark: %s", PQresultErrorMessage(r));
    return DB_ERR_QUERY;
}

int acks_watermarks(struct acks *a, struct db *d, acks_fn on_ack, void *arg,
                    char *err, size_t errlen)
{
    struct acks_query q;
    int rc;

    acks_watermark_begin(a);
    while ((rc = acks_watermark_next(a, &q)) == 1) {
        PGresult *r = acks__exec(d, &q);

        rc = acks_watermark_result(a, r, on_ack, arg, err, errlen);
        PQclear(r);
        if (rc != DB_OK)
            return rc;
    }
    return rc;
}

int acks_publish(struct mqtt *m, const char *vid, uint64_t seq, int64_t t_ms)
{
    struct wire_ack a;
    char topic[128];
    uint8_t *buf;
    size_t len;
    int rc;

    memset(&a, 0, sizeof a);
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "%s", vid);
    a.seq = seq;
    a.t_ms = t_ms;
    if (wire_topic(topic, sizeof topic, vid, "ack") != 0 ||
        wire_ack_encode(&a, &buf, &len) != WIRE_OK)
        return ACKS_ERR_ENCODE;
    /* Retained, so a bus that reconnects (or lost its spool) learns where
     * it stands at once. If the broker is away the next commit re-sends. */
    rc = mqtt_publish(m, topic, buf, len, 1, true, NULL) == MQTT_OK
             ? ACKS_OK
             : ACKS_ERR_PUBLISH;
    free(buf);
    return rc;
}
