/* writer: staging of batches, dead letters and statuses in memory, and
 * their commit: COPY, the re-send path, narrowing a refused commit. */
#ifndef SHUTTLE_WRITER_H
#define SHUTTLE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acks.h"
#include "db.h"
#include "partitions.h"
#include "wire.h"

struct writer;

/*
 * A writer staging up to max_staged records per batch (one filling, and
 * one committing or waiting for its retry), committing through d and
 * keeping its partitions in p. d and p are borrowed: they are the caller's
 * and must outlive the writer. The writer owns its ack watermark state
 * (struct acks). DB_OK or DB_ERR_NOMEM; *out is the caller's, to free with
 * writer_free (staged rows not committed are lost, which is safe: nothing
 * staged is acknowledged).
 */
int writer_new(struct db *d, struct partitions *p, size_t max_staged,
               struct writer **out);
void writer_free(struct writer *w);

/*
 * Stage a batch of validated records for the next commit (the batch may
 * hold none: then only its oldest_held_seq is noted, which the caller has
 * bounded with wire_batch_held_bound). Staged rows live in memory only: on
 * a crash they are lost, which is safe because nothing staged is
 * acknowledged, so the bus sends it again. Returns DB_ERR_FULL when the filling
 * batch would pass max_staged records (or PARTITIONS_DAYS_MAX service days);
 * the caller drops the batch (the bus re-sends it).
 *
 * If the commit is refused for what some rows hold (a data or integrity
 * error), it is narrowed down: batch by batch, then row by row; each
 * refused row becomes a dead letter with its seq settled, each refused
 * status a dead letter, and the rest commits (writer_narrowed counts them).
 */
int writer_stage_batch(struct writer *w, const struct wire_batch *b);

/* Stage a dead letter: topic, vehicle (may be NULL), reason, payload (the
 * first bytes are kept; all are copied). */
int writer_stage_dead(struct writer *w, const char *topic, const char *vid,
                      const char *reason, const void *payload, size_t len);

/*
 * Stage the dead letter of one refused record of vid's batch (payload: the
 * batch's), and settle its seq: it counts for the watermark as if stored,
 * so the watermark passes it and the bus frees it. A seq outside
 * 1..WIRE_SEQ_MAX is not settled. DB_ERR_FULL when 10,000 dead letters are
 * staged already (then nothing is staged: the bus re-sends the record).
 */
int writer_stage_dead_record(struct writer *w, const char *topic,
                             const char *vid, uint64_t seq, const char *reason,
                             const void *payload, size_t len);

/* Stage a vehicle's status report (the last one per vehicle wins); the
 * caller has checked it with wire_status_validate. */
int writer_stage_status(struct writer *w, const struct wire_status *s);

/* Staged and not yet committed: the batch filling and the one sealed for
 * a commit (in flight, or failed and waiting for its retry). */
size_t writer_staged_records(const struct writer *w);
size_t writer_staged_items(const struct writer *w); /* records + dead +
                                                       status */
/* Items of the batch filling only: what the next commit after the one
 * under way would take. */
size_t writer_filling_items(const struct writer *w);
size_t writer_filling_records(const struct writer *w);

/*
 * The commit without waiting, for a poll loop (double-buffering: while one
 * batch is in flight, staging fills the next).
 *
 * writer_commit_start seals the batch filling (unless a sealed one waits
 * for its retry: that one goes first) and sends its first statement.
 * DB_OK: started, or nothing to do (writer_busy tells which); else
 * DB_ERR_CONNECT / DB_ERR_QUERY with the connection closed and the batch
 * kept. While a commit is in flight it does nothing and answers DB_OK.
 *
 * Then poll the socket writer_commit_fd names (-1: none) for *events and
 * call writer_commit_step when it is ready: DB_PENDING while the commit
 * goes on; DB_OK once committed and every vehicle's ack reported through
 * on_ack (*inserted, may be NULL: the new rows); or an error: the
 * connection closed, and the batch kept for the next try unless it was
 * committed and only its watermark statements failed (redone with the next
 * commit). A batch refused for its data is narrowed as writer_commit says;
 * that rare path waits for the server.
 */
int writer_commit_start(struct writer *w, acks_fn on_ack, void *arg, char *err,
                        size_t errlen);
bool writer_busy(const struct writer *w);
int writer_commit_fd(const struct writer *w, short *events);
int writer_commit_step(struct writer *w, uint64_t *inserted, char *err,
                       size_t errlen);

/*
 * Write everything staged (the commit in flight, if any, then the rest) in
 * one transaction per batch, waiting (COPY into the tables, or on
 * a re-send through staging tables and INSERT ... ON CONFLICT DO NOTHING),
 * commit, then compute each touched vehicle's watermark and call on_ack
 * (may be NULL; see acks_fn). On error the staged rows are kept for the
 * next try and the connection is closed. `*inserted` (may be NULL)
 * receives the number of new rows.
 */
int writer_commit(struct writer *w, acks_fn on_ack, void *arg,
                  uint64_t *inserted, char *err, size_t errlen);

/* Commits done since start (for metrics). */
uint64_t writer_commits(const struct writer *w);

/* Rows, statuses and dead letters that commits refused for their content
 * and narrowed out, since start. */
uint64_t writer_narrowed(const struct writer *w);

#endif
