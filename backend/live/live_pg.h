/* live_pg: one PostgreSQL connection driven by the caller's poll loop,
 * queries queued and answered through callbacks, never waiting. */
#ifndef SHUTTLE_LIVE_PG_H
#define SHUTTLE_LIVE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct live_pg;

/*
 * Called once per query with its last result (tuples or command status;
 * NULL when the connection failed before it was answered, with the
 * message in err). The result is freed after the call returns.
 */
typedef void (*live_pg_done)(void *arg, const PGresult *r, const char *err);

enum live_pg_err {
    LIVE_PG_OK = 0,
    LIVE_PG_ERR_NOMEM = -1,
    LIVE_PG_ERR_CONNECT = -2, /* connect could not start, or broke */
    LIVE_PG_ERR_QUERY = -3,   /* a query failed (already reported) */
};

/* A handle for `conninfo` (copied); nothing connects until
 * live_pg_connect. NULL when out of memory. */
struct live_pg *live_pg_new(const char *conninfo);

/* Close the connection; queued queries are dropped without callback. */
void live_pg_free(struct live_pg *p);

/* Start connecting (PQconnectStart). LIVE_PG_OK or LIVE_PG_ERR_CONNECT
 * with a message in err. */
int live_pg_connect(struct live_pg *p, char *err, size_t errlen);

/* Connection up and ready for queries. */
bool live_pg_ready(const struct live_pg *p);
/* A connect is under way, or the connection is up. */
bool live_pg_active(const struct live_pg *p);

/* Descriptor to poll (-1: none) and the events to poll it for. */
int live_pg_fd(const struct live_pg *p, short *events);

/*
 * Queue `sql` with up to 4 text parameters (copied); it is sent once the
 * connection is up and the queries before it are answered. `done` gets
 * its result. LIVE_PG_OK or LIVE_PG_ERR_NOMEM.
 */
int live_pg_query(struct live_pg *p, const char *sql, int nparams,
                  const char *const *params, live_pg_done done, void *arg);

/* Queries queued or under way. */
size_t live_pg_pending(const struct live_pg *p);

/*
 * The descriptor is ready (or a second has passed): advance the connect,
 * send, read and deliver results. LIVE_PG_OK, or LIVE_PG_ERR_CONNECT
 * when the connection is lost (err says why; every queued query was
 * answered NULL; connect again later).
 */
int live_pg_step(struct live_pg *p, char *err, size_t errlen);

#endif
