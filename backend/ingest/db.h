/* db: the PostgreSQL connection through libpq: connect, migrations, the
 * exec helpers the ingest modules (writer, acks, partitions) share. */
#ifndef SHUTTLE_DB_H
#define SHUTTLE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct db;

enum db_err {
    DB_OK = 0,
    DB_ERR_NOMEM = -1,
    DB_ERR_CONNECT = -2, /* cannot reach or log in to the server */
    DB_ERR_QUERY = -3,   /* a statement failed; the connection is reset */
    DB_ERR_FULL = -4,    /* the staging buffer is at its limit */
    DB_ERR_SCHEMA = -5,  /* the schema is behind and this login may not
                            migrate it (not its owner) */
    DB_ERR_NEWER = -6,   /* the schema holds a migration this binary does
                            not know (schema_check in backend/schema) */
};

/* db_copy's answer when the rows repeat a stored key (a re-send). */
#define DB_DUPLICATE 1
/* db_connect_step's and db_io's answer while waiting for the server. */
#define DB_PENDING 2
/* db_note_zone's answer when the service zone is another one now. */
#define DB_ZONE_CHANGED 3

/* Create a handle; `conninfo` is a libpq connection string (copied). Not
 * connected. Returns DB_OK or DB_ERR_NOMEM; *out is the caller's, to free
 * with db_free. */
int db_new(const char *conninfo, struct db **out);
void db_free(struct db *d);

/* (Re)connect, waiting for the server. Returns DB_OK or DB_ERR_CONNECT
 * with the server's words. For one-shot commands and tests; a poll loop
 * uses db_connect_start instead. */
int db_connect(struct db *d, char *err, size_t errlen);
/* True once connected and, for db_connect_start, set up. */
bool db_connected(const struct db *d);

/*
 * (Re)connect without blocking: db_connect_start begins (DB_OK, or
 * DB_ERR_CONNECT / DB_ERR_NOMEM with the reason); then, whenever the socket
 * db_connect_fd names is ready for *events (POLLIN or POLLOUT), call
 * db_connect_step. It answers DB_PENDING until the connection is up and
 * set up as db_connect + db_prepare would (session settings, staging
 * tables, the service zone), then DB_OK; or DB_ERR_CONNECT / DB_ERR_QUERY,
 * the connection closed. The caller bounds the time it allows (libpq's
 * connect_timeout does not apply here).
 */
int db_connect_start(struct db *d, char *err, size_t errlen);
bool db_connecting(const struct db *d);
int db_connect_fd(const struct db *d, short *events);
int db_connect_step(struct db *d, char *err, size_t errlen);

/* Close the connection (if any); db_connected turns false. */
void db_disconnect(struct db *d);

/* Apply every embedded migration newer than the database's version, each in
 * its own transaction, under an advisory lock (several backends may start at
 * once). A current schema is only read, so a login in shuttle_ingest (no
 * CREATE on the schema) starts fine; a schema that is behind, seen by such
 * a login, gives DB_ERR_SCHEMA and an err naming the first migration not
 * applied. A schema newer than this binary is DB_ERR_NEWER, untouched.
 * Otherwise DB_OK, DB_ERR_CONNECT or DB_ERR_QUERY. */
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

/* The connection's socket, or -1 when not connected. Between commits it is
 * idle, so poll it for POLLIN: it becomes readable when the server ends the
 * session (shutdown, restart, pg_terminate_backend). */
int db_fd(const struct db *d);

/* Read what the server sent while idle. DB_OK, or DB_ERR_CONNECT (with the
 * reason) when the server has gone: the connection is closed, so
 * db_connected turns false now rather than at the next commit. */
int db_check(struct db *d, char *err, size_t errlen);

/*
 * For the ingest library's modules (writer, acks, partitions): the
 * connection and the statement helpers they share. All need a connected
 * handle. A failed statement's SQLSTATE is remembered (db_sqlstate) and
 * its message written to err (may be NULL), without libpq's newline.
 */

/* The libpq connection, borrowed: NULL when not connected. */
PGconn *db_conn(struct db *d);

/* printf into err[errlen], trailing newlines and blanks cut. */
void db_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run sql (no parameters). DB_OK or DB_ERR_QUERY. */
int db_exec(struct db *d, const char *sql, char *err, size_t errlen);

/* Run sql with nparams text parameters v. DB_OK or DB_ERR_QUERY. */
int db_exec_params(struct db *d, const char *sql, int nparams,
                   const char *const *v, char *err, size_t errlen);

/* Run a command and add the rows it affected to *n. DB_OK or
 * DB_ERR_QUERY. */
int db_exec_count(struct db *d, const char *sql, uint64_t *n, char *err,
                  size_t errlen);

/* COPY the len bytes of text at p with `sql` (a COPY ... FROM STDIN); *rows
 * (may be NULL) gets the rows copied added. Returns DB_OK, DB_DUPLICATE
 * (unique violation) or DB_ERR_QUERY. */
int db_copy(struct db *d, const char *sql, const char *p, size_t len,
            uint64_t *rows, char *err, size_t errlen);

/* As db_copy, for rows in PostgreSQL's binary COPY format (each an int16
 * field count, then per field an int32 length, -1 for NULL, and the value
 * in network byte order): `sql` says FORMAT binary, p holds whole rows
 * only; the header and the trailer are added here. */
int db_copy_binary(struct db *d, const char *sql, const char *p, size_t len,
                   uint64_t *rows, char *err, size_t errlen);

/* Remember the SQLSTATE of result r (NULL or none: ""). */
void db_note_state(struct db *d, const PGresult *r);

/* The SQLSTATE of the last failed statement, "" if none since
 * db_clear_state. */
const char *db_sqlstate(const struct db *d);
void db_clear_state(struct db *d);

/* Was the last failure a data error: the rows' fault (SQLSTATE class 22
 * data exception, 23 integrity), on a connection that is still there?
 * Anything else (the server going away, out of disk, a lock timeout) is no
 * reason to blame a message. */
bool db_data_error(const struct db *d);

/*
 * Statements that do not wait, one at a time, for a caller's poll loop
 * (libpq's non-blocking mode). db_send sends sql (nparams 0: a simple
 * query, which may hold several statements; else parameters as for
 * PQexecParams, lens and formats may be NULL for text). db_send_copy_binary
 * sends a COPY ... FROM STDIN (FORMAT binary) whose rows are the len bytes
 * at p (whole rows, borrowed until the statement is done; the frame is
 * added here). Both return DB_OK, or DB_ERR_CONNECT with the connection
 * closed (or none, or a statement already under way).
 *
 * Then poll the socket db_io_fd names for *events and call db_io when it
 * is ready (calling it early is harmless): DB_PENDING while waiting; DB_OK
 * with *out a result (the caller's, to PQclear; a failed one's SQLSTATE
 * noted) or with *out NULL once the statement has no more results;
 * DB_ERR_CONNECT when the connection is lost (closed: db_connected is
 * false).
 */
int db_send(struct db *d, const char *sql, int nparams, const char *const *v,
            const int *lens, const int *formats, char *err, size_t errlen);
int db_send_copy_binary(struct db *d, const char *sql, const char *p,
                        size_t len, char *err, size_t errlen);
bool db_busy(const struct db *d); /* a db_send* statement is under way */
int db_io_fd(const struct db *d, short *events);
int db_io(struct db *d, PGresult **out, char *err, size_t errlen);

/* Back to blocking mode, for the helpers above that wait (PQexec waits in
 * either mode; COPY's data calls would not). DB_OK or DB_ERR_CONNECT. */
int db_set_blocking(struct db *d);

/* r answered SELECT shuttle_service_tz(): take that zone for
 * db_service_day. DB_OK (the same zone), DB_ZONE_CHANGED (another, now in
 * use) or DB_ERR_QUERY (no answer, or a zone this machine does not know:
 * the old one stays). */
int db_note_zone(struct db *d, const PGresult *r, char *err, size_t errlen);

#endif
