/* live_learn: a live_hist learnt from the stop visits of past service days
 * stored in PostgreSQL, each row put on today's feed (trip by id, position
 * by stop_sequence), read through a cursor in chunks on a live_pg so that
 * neither memory nor the caller's loop waits on the whole history. No
 * logging: the done callback and the counters say what happened. */
#ifndef SHUTTLE_LIVE_LEARN_H
#define SHUTTLE_LIVE_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "live_hist.h"
#include "live_pg.h"
#include "svcday.h"
#include "trips.h"

/* Rows one FETCH reads: converted in ~30 ms on a busy 2-core machine
 * (10,000 took 150 ms there), a round trip per chunk is cheap beside it. */
#define LIVE_LEARN_CHUNK 2000

enum live_learn_err {
    LIVE_LEARN_OK = 0,
    LIVE_LEARN_ERR_NOMEM = -1,
    LIVE_LEARN_ERR_ARG = -2,  /* a row that is not a stop visit (bad day) */
    LIVE_LEARN_ERR_SKIP = -3, /* trip or stop_sequence not in today's feed */
};

/* The day type of service day DAY (days since 1970-01-01): Monday to
 * Friday WEEKDAY, then SATURDAY, SUNDAY. The feed has no holiday list,
 * so a holiday counts as the weekday it falls on. */
enum live_hist_day live_learn_day_type(int32_t day);

struct live_learn_counts {
    size_t rows;        /* rows read */
    size_t visits;      /* added to the history */
    size_t skipped;     /* trip or stop_sequence not in today's feed */
    int days;           /* service days begun */
    double chunk_max_s; /* the longest conversion of one FETCH's rows */
};

struct live_learn;

/*
 * A learner for feed F (today's; it and SVC, the feed's service zone,
 * must outlive it). NULL when out of memory.
 */
struct live_learn *live_learn_new(const struct trips_feed *f,
                                  struct svcday *svc);

/* Free L now, or, while a query of live_learn_start is out, once it is
 * answered (its answer is then ignored and done is not called). */
void live_learn_free(struct live_learn *l);

/*
 * One stored visit of service day DAY ("YYYY-MM-DD"; rows come in day
 * order): TRIP_ID's stop SEQUENCE with the times (Unix ms, -1 unknown)
 * and flows of V (its trip and pos are set here). Returns LIVE_LEARN_OK,
 * LIVE_LEARN_ERR_SKIP (counted), LIVE_LEARN_ERR_ARG or
 * LIVE_LEARN_ERR_NOMEM.
 */
int live_learn_row(struct live_learn *l, const char *day, const char *trip_id,
                   int sequence, struct live_hist_visit *v);

/* Every row of R, a result of live_learn_sql_fetch over the cursor of
 * live_learn_sql_declare. LIVE_LEARN_OK or LIVE_LEARN_ERR_NOMEM. */
int live_learn_result(struct live_learn *l, const PGresult *r);

void live_learn_counts(const struct live_learn *l, struct live_learn_counts *c);

/* Finish the history (live_hist_finish) and hand it over: *OUT is the
 * caller's to free with live_hist_free, L keeps nothing of it. Returns
 * LIVE_LEARN_OK or LIVE_LEARN_ERR_NOMEM (*OUT NULL). */
int live_learn_take(struct live_learn *l, struct live_hist **out);

/* Hand the history over as read, its statistics not yet computed: the
 * caller runs live_hist_finish (or live_hist_finish_range over every
 * segment position) before any query, and frees it. NULL when L holds
 * none (taken already). */
struct live_hist *live_learn_detach(struct live_learn *l);

/* Called once when the load ends: ERR NULL when every row was read. */
typedef void (*live_learn_done)(void *arg, struct live_learn *l,
                                const char *err);

/*
 * Read the visits of the NDAYS service days before TODAY ("YYYY-MM-DD")
 * through PG: a read-only transaction, a cursor, FETCH
 * LIVE_LEARN_CHUNK rows at a time, each converted as it comes. DONE gets
 * the outcome (it may free L). Returns LIVE_LEARN_OK, LIVE_LEARN_ERR_ARG
 * (a bad day, or started already) or LIVE_LEARN_ERR_NOMEM.
 */
int live_learn_start(struct live_learn *l, struct live_pg *pg,
                     const char *today, int ndays, live_learn_done done,
                     void *arg);

#endif
