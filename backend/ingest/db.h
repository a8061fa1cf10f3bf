/* db: PostgreSQL through libpq: migrations, batched idempotent writes, acks. */
#ifndef SHUTTLE_DB_H
#define SHUTTLE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct db;

enum db_err {
    DB_OK = 0,
    DB_ERR_NOMEM = -1,
    DB_ERR_CONNECT = -2, /* cannot reach or log in to the server */
    DB_ERR_QUERY = -3,   /* a statement failed; the connection is reset */
    DB_ERR_FULL = -4,    /* the staging buffer is at its limit */
};

/* Create a handle; `conninfo` is a libpq connection string. Not connected. */
int db_new(const char *conninfo, size_t max_staged, struct db **out);
void db_free(struct db *d);

/* (Re)connect. Returns DB_OK or DB_ERR_CONNECT with the server's words. */
int db_connect(struct db *d, char *err, size_t errlen);
bool db_connected(const struct db *d);

/* Apply every embedded migration newer than the database's version, each in
 * its own transaction, under an advisory lock (several backends may start at
 * once). */
int db_migrate(struct db *d, char *err, size_t errlen);

/* After connecting (and migrating): set up this session's staging tables
 * and read the service time zone (shuttle_service_tz(): the loaded feed's
 * agency_timezone). Returns DB_OK or DB_ERR_QUERY (e.g. the schema is
 * missing, or the zone is not in this machine's tz database). */
int db_prepare(struct db *d, char *err, size_t errlen);

/* The service day (days since 1970-01-01) of t_ms in the zone db_prepare
 * read. Returns DB_OK, DB_ERR_CONNECT before the first db_prepare, or
 * DB_ERR_NOMEM. */
int db_service_day(struct db *d, int64_t t_ms, int32_t *day);

/* That zone, "" before the first db_prepare. */
const char *db_service_zone(const struct db *d);

/*
 * Stage a batch of validated records for the next commit (the batch may
 * hold none: then only its oldest_held_seq is noted, which the caller has
 * bounded with wire_batch_held_bound). Staged rows live in memory only: on
 * a crash they are lost, which is safe because nothing staged is
 * acknowledged, so the bus sends it again. Returns DB_ERR_FULL when over
 * max_staged records; the caller drops the batch (the bus re-sends it).
 *
 * If the commit is refused for what some rows hold (a data or integrity
 * error), it is narrowed down: batch by batch, then row by row; each
 * refused row becomes a dead letter with its seq settled, each refused
 * status a dead letter, and the rest commits (db_narrowed counts them).
 */
int db_stage_batch(struct db *d, const struct wire_batch *b);

/* Stage a dead letter: topic, vehicle (may be NULL), reason, payload (the
 * first bytes are kept). */
int db_stage_dead(struct db *d, const char *topic, const char *vid,
                  const char *reason, const void *payload, size_t len);

/*
 * Stage the dead letter of one refused record of vid's batch (payload: the
 * batch's), and settle its seq: it counts for the watermark as if stored,
 * so the watermark passes it and the bus frees it. A seq outside
 * 1..INT64_MAX is not settled. DB_ERR_FULL when 10,000 dead letters are
 * staged already (then nothing is staged: the bus re-sends the record).
 */
int db_stage_dead_record(struct db *d, const char *topic, const char *vid,
                         uint64_t seq, const char *reason,
                         const void *payload, size_t len);

/* Stage a vehicle's status report (the last one per vehicle wins); the
 * caller has checked it with wire_status_validate. */
int db_stage_status(struct db *d, const struct wire_status *s);

size_t db_staged_records(const struct db *d);
size_t db_staged_items(const struct db *d); /* records + dead + status */

/* Called once per vehicle after a commit with its new watermark: never
 * lower than one this handle reported before. (Two backends may still
 * publish theirs in either order; the next commit of the vehicle by
 * either corrects the retained ack.) */
typedef void (*db_ack_fn)(void *arg, const char *vid, uint64_t acked_seq);

/*
 * Write everything staged in one transaction (COPY into staging tables, then
 * INSERT ... ON CONFLICT DO NOTHING), commit, then compute each touched
 * vehicle's watermark and call on_ack. On error the staged rows are kept for
 * the next try and the connection is closed. `*inserted` (may be NULL)
 * receives the number of new rows.
 */
int db_commit(struct db *d, db_ack_fn on_ack, void *arg, uint64_t *inserted,
              char *err, size_t errlen);

/*
 * Retention: drop the position partitions of service days before the day
 * of `t_ms` (passenger counts are kept). *dropped gets the number of days.
 */
int db_drop_positions_before(struct db *d, int64_t t_ms, int *dropped,
                             char *err, size_t errlen);

/* Commits done and rows written since start (for metrics). */
uint64_t db_commits(const struct db *d);

/* Rows, statuses and dead letters that commits refused for their content
 * and narrowed out, since start. */
uint64_t db_narrowed(const struct db *d);

/* The connection's socket, or -1 when not connected. Between commits it is
 * idle, so poll it for POLLIN: it becomes readable when the server ends the
 * session (shutdown, restart, pg_terminate_backend). */
int db_fd(const struct db *d);

/* Read what the server sent while idle. DB_OK, or DB_ERR_CONNECT (with the
 * reason) when the server has gone: the connection is closed, so
 * db_connected turns false now rather than at the next commit. */
int db_check(struct db *d, char *err, size_t errlen);

#endif
