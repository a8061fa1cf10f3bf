/* live_sink: the audit writer — scored prediction samples queued in a
 * bounded ring (the oldest dropped when full), written to eta_samples in
 * batches of one INSERT through a live_pg connection, a failed batch sent
 * again. No logging: counters say what happened. */
#ifndef SHUTTLE_LIVE_SINK_H
#define SHUTTLE_LIVE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live_pg.h"
#include "trips.h"

/* One row of eta_samples: a struct live_audit_sample with the ids the
 * feed and tracker give it. */
struct live_sink_row {
    int32_t service_day; /* days since 1970-01-01 (the trip's day) */
    char vehicle_id[TRIPS_ID_MAX], trip_id[TRIPS_ID_MAX];
    char route_id[TRIPS_ID_MAX], stop_id[TRIPS_ID_MAX];
    int stop_sequence, horizon_s;
    int64_t made_ms, pred_ms, lo_ms, hi_ms, actual_ms;
    bool accurate, covered;
};

struct live_sink_params {
    size_t cap;       /* rows held at most: 100,000 */
    size_t batch_max; /* rows in one INSERT: 1,000 */
    int64_t flush_ms; /* a smaller batch goes after this long: 1,000 */
    int retries;      /* a batch the server refused (connection up) is
                         sent again this often, then dropped: 3 */
};

void live_sink_params_default(struct live_sink_params *p);

/* What became of the samples pushed. `failed` counts samples of batches
 * that failed (each is sent again, so one sample may count there and
 * then in `written` or `dropped`). */
struct live_sink_counts {
    uint64_t written, dropped, failed;
};

struct live_sink;

/* A sink with params PP (NULL: defaults; cap and batch_max at least 1),
 * its ring allocated here, once. NULL when out of memory. */
struct live_sink *live_sink_new(const struct live_sink_params *pp);
void live_sink_free(struct live_sink *s);

/* Queue ROW (copied). When the ring is full the oldest row not in flight
 * is dropped (counted); when every row is in flight, ROW itself is. */
void live_sink_push(struct live_sink *s, const struct live_sink_row *row);

/* Rows queued, in flight included. */
size_t live_sink_queued(const struct live_sink *s);

/* Whether a batch should go at NOW_MS: rows wait, none is in flight, and
 * either batch_max rows are queued or flush_ms passed since the last
 * batch went (or since the sink was made). */
bool live_sink_due(const struct live_sink *s, int64_t now_ms);

/*
 * Take the next batch at NOW_MS: the oldest min(queued, batch_max) rows
 * are marked in flight and written as the JSON array live_sink_sql reads
 * into *JSON (the caller's to free) with their number in *N. Returns
 * LIVE_SINK_OK, LIVE_SINK_ERR_BUSY (a batch is in flight, or nothing is
 * queued) or LIVE_SINK_ERR_NOMEM (nothing marked).
 */
int live_sink_take(struct live_sink *s, int64_t now_ms, char **json, size_t *n);

/*
 * The batch in flight was answered: OK, its rows leave the ring (written);
 * not OK, they stay at its head to go again (failed). REFUSED says the
 * connection was up, so the server refused these rows: after `retries`
 * such refusals in a row the batch is dropped instead.
 */
void live_sink_done(struct live_sink *s, bool ok, bool refused);

/* The connection of the batch in flight was freed without an answer:
 * its rows go again with the next batch (nothing is counted). */
void live_sink_lost(struct live_sink *s);

void live_sink_counts(const struct live_sink *s, struct live_sink_counts *c);

/* The INSERT of one batch: $1 is the JSON of live_sink_take. Samples
 * already stored (a retry, a restart) are left as they are. */
extern const char *const live_sink_sql;

/*
 * When PG is ready and a batch is due at NOW_MS, send it through PG; its
 * answer calls live_sink_done. S and PG must outlive the query (freeing
 * PG answers nothing; free S after PG). Returns LIVE_SINK_OK (sent, or
 * nothing to do) or LIVE_SINK_ERR_NOMEM.
 */
int live_sink_flush(struct live_sink *s, struct live_pg *pg, int64_t now_ms);

enum live_sink_err {
    LIVE_SINK_OK = 0,
    LIVE_SINK_ERR_NOMEM = -1,
    LIVE_SINK_ERR_BUSY = -2,
};

#endif
