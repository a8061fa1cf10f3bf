/* acks: the ack watermark of each vehicle: which seqs are committed without
 * a gap, what this process last read back (a cache), the fast path that
 * needs no walk, pending_seqs and the SQL of the walk, and the ack sent. */
#ifndef SHUTTLE_ACKS_H
#define SHUTTLE_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct acks;
struct acks_vehicle; /* a vehicle touched by the staged rows */
struct mqtt;

/* How a vehicle's new watermark is found. */
enum acks_path {
    ACKS_FAST, /* known without asking: the batch extends the watermark */
    ACKS_SLOW, /* the database's walk over pending_seqs */
};

enum acks_err {
    ACKS_OK = 0,
    ACKS_ERR_ENCODE = -1,  /* no topic or no message for this vehicle */
    ACKS_ERR_PUBLISH = -2, /* the broker is away: the next commit re-sends */
};

/* Called once per vehicle after a commit with its new watermark: never
 * lower than one this handle reported before. (Two backends may still
 * publish theirs in either order; the next commit of the vehicle by
 * either corrects the retained ack.) */
typedef void (*acks_fn)(void *arg, const char *vid, uint64_t acked_seq);

/*
 * Does a vehicle's batch simply extend its watermark? Pure: the answer
 * depends on the arguments alone (no database, no state).
 *   known:       this process has read back a watermark for the vehicle;
 *   acked:       that watermark (ignored when !known); everything up to it
 *                is committed, since the database's value only grows;
 *   oldest_held: the oldest seq the bus still holds (its claim), 0 if none;
 *   seqs, nseq:  the seqs staged for it, in any order, repeats allowed
 *                (records and settled dead-letter seqs); sorted in place
 *                when the answer needs their order.
 * ACKS_FAST when the staged seqs add the next ones above `acked` without a
 * gap (seqs at or below it are re-sends): *watermark gets the new one.
 * ACKS_SLOW otherwise — a vehicle new to this process, a gap, or a claim
 * that would skip seqs (only the walk checks it against the bus's status);
 * *watermark is then left alone.
 */
enum acks_path acks_classify(bool known, uint64_t acked, uint64_t oldest_held,
                             uint64_t *seqs, size_t nseq, uint64_t *watermark);

/* An empty state: no vehicle staged, nothing cached. DB_OK or
 * DB_ERR_NOMEM; *out is the caller's, to free with acks_free. */
int acks_new(struct acks **out);
void acks_free(struct acks *a);

/* The staged vehicle vid of the batch filling (added if new), its claim raised
 * to `held` if higher; NULL when out of memory. Valid until the next
 * acks_vehicle or acks_clear. */
struct acks_vehicle *acks_vehicle(struct acks *a, const char *vid,
                                  uint64_t held);

/* Note a seq staged for v. DB_OK or DB_ERR_NOMEM. */
int acks_vehicle_seq(struct acks_vehicle *v, uint64_t seq);

/* The filling batch's vehicles become the commit's (which must have been
 * cleared with acks_clear); a new batch starts with none. */
void acks_seal(struct acks *a);

/* Before the transaction: classify each of the commit's vehicles (acks_classify
 * against the cache). */
void acks_plan(struct acks *a);

/* Inside the transaction: remember the slow vehicles' seqs in
 * pending_seqs for the walk. DB_OK, DB_ERR_NOMEM or DB_ERR_QUERY. */
int acks_pending_add(struct acks *a, struct db *d, char *err, size_t errlen);

/* After the commit: compute the new watermark of every staged vehicle,
 * remember it, and call on_ack (may be NULL) for each. DB_OK, DB_ERR_NOMEM
 * or DB_ERR_QUERY (a failed one is redone with the next commit). */
int acks_watermarks(struct acks *a, struct db *d, acks_fn on_ack, void *arg,
                    char *err, size_t errlen);

/* A statement acks hands out for its caller to run, synchronously or
 * not: sql with nparams text parameters v. Owned by acks, valid until its
 * next call. */
struct acks_query {
    const char *sql;
    int nparams;
    const char *v[3];
};

/* The statement acks_pending_add runs: 1 (*q filled), 0 (none needed: no
 * slow vehicle) or DB_ERR_NOMEM. Its answer is a command's. */
int acks_pending_query(struct acks *a, struct acks_query *q);

/*
 * acks_watermarks in steps, for a caller that does not wait: after the
 * commit, acks_watermark_begin; then while acks_watermark_next gives 1,
 * run *q and hand its result to acks_watermark_result (DB_OK, or
 * DB_ERR_QUERY: stop there, the next commit redoes it). 0 from
 * acks_watermark_next: done; DB_ERR_NOMEM: out of memory.
 */
void acks_watermark_begin(struct acks *a);
int acks_watermark_next(struct acks *a, struct acks_query *q);
int acks_watermark_result(struct acks *a, const PGresult *r, acks_fn on_ack,
                          void *arg, char *err, size_t errlen);

/* Forget the commit's vehicles (the cache stays). */
void acks_clear(struct acks *a);

/* Encode vid's ack of seq (stamped t_ms) and publish it on m, retained, so
 * a bus that reconnects (or lost its spool) learns at once where it
 * stands. ACKS_OK, ACKS_ERR_ENCODE or ACKS_ERR_PUBLISH. */
int acks_publish(struct mqtt *m, const char *vid, uint64_t seq, int64_t t_ms);

#endif
