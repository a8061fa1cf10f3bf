/* db: the PostgreSQL connection through libpq: connect, migrations, the
 * exec helpers the ingest modules (writer, acks, partitions) share. */
#include "db.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"
#include "schema.h"
#include "svcday.h"

#define DB_LOCK_MIGRATE 0x5348544cLL /* advisory lock key: "SHTL" */

/* How a connection is set up: the session settings and staging tables
 * db_prepare creates, and the service zone, in one round trip. */
#define DB_SETUP_SQL                                                           \
    "SET TIME ZONE 'UTC';"                                                     \
    "SET synchronous_commit = on;"                                             \
    "SET application_name = 'shuttle-backend';"

enum db_phase {
    DB_PHASE_IDLE,  /* no connection, or a ready one */
    DB_PHASE_POLL,  /* PQconnectPoll under way */
    DB_PHASE_SETUP, /* connected; the setup statements are out */
};

struct db {
    char *conninfo;
    PGconn *conn;
    enum db_phase phase;
    PostgresPollingStatusType poll; /* PQconnectPoll's last answer */
    bool zone_read;                 /* the setup's SELECT answered */
    char sqlstate[6];  /* of the last failed statement, "" if none */
    struct svcday svc; /* the service zone, read by db_prepare */
    /* The statement db_send* sent, while its results are read. */
    bool sent;
    bool want_write;    /* libpq holds output the socket did not take */
    const char *copy_p; /* a COPY's rows (borrowed), NULL when none */
    size_t copy_len;    /* their length */
    int copy_stage;     /* 0 none, 1 waiting for COPY_IN, 2 data out */
};

void db_errf(char *err, size_t errlen, const char *fmt, ...)
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

int db_new(const char *conninfo, struct db **out)
{
    struct db *d = calloc(1, sizeof *d);

    if (!d)
        return DB_ERR_NOMEM;
    d->conninfo = strdup(conninfo);
    if (!d->conninfo) {
        free(d);
        return DB_ERR_NOMEM;
    }
    *out = d;
    return DB_OK;
}

void db_free(struct db *d)
{
    if (!d)
        return;
    if (d->conn)
        PQfinish(d->conn);
    free(d->conninfo);
    free(d);
}

bool db_connected(const struct db *d)
{
    return d->conn && d->phase == DB_PHASE_IDLE &&
           PQstatus(d->conn) == CONNECTION_OK;
}

void db_disconnect(struct db *d)
{
    if (d->conn) {
        PQfinish(d->conn);
        d->conn = NULL;
    }
    d->phase = DB_PHASE_IDLE;
    d->sent = d->want_write = false;
    d->copy_p = NULL;
    d->copy_stage = 0;
}

PGconn *db_conn(struct db *d)
{
    return d->conn;
}

const char *db_sqlstate(const struct db *d)
{
    return d->sqlstate;
}

void db_clear_state(struct db *d)
{
    d->sqlstate[0] = '\0';
}

/* Remember why a statement failed: a data error is the rows' fault, and
 * narrowed down; anything else is the connection's or the server's. */
void db_note_state(struct db *d, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    snprintf(d->sqlstate, sizeof d->sqlstate, "%s", st ? st : "");
}

int db_exec(struct db *d, const char *sql, char *err, size_t errlen)
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
static void db__quiet(void *arg, const char *message)
{
}

int db_connect(struct db *d, char *err, size_t errlen)
{
    db_disconnect(d);
    d->conn = PQconnectdb(d->conninfo);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    PQsetNoticeProcessor(d->conn, db__quiet, NULL);
    /* Staged rows go through per-session temporary tables: COPY is the
     * fast path into PostgreSQL, and only INSERT ... ON CONFLICT makes a
     * re-sent record a no-op. */
    if (db_exec(d, DB_SETUP_SQL, err, errlen) != DB_OK) {
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    return DB_OK;
}

/* One result of the setup statements; the SELECT's carries the service
 * time zone: the loaded feed's agency_timezone, through
 * shuttle_service_tz() (UTC while no feed is loaded). */
static int db__setup_result(struct db *d, PGresult *r, char *err, size_t errlen)
{
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_TUPLES_OK) {
        if (PQntuples(r) != 1) {
            db_errf(err, errlen, "service time zone: no answer");
            return DB_ERR_QUERY;
        }
        if (svcday_init(&d->svc, PQgetvalue(r, 0, 0)) != SVCDAY_OK) {
            db_errf(err, errlen,
                    "service time zone '%s' (the feed's agency_timezone) is "
                    "not in this machine's tz database",
                    PQgetvalue(r, 0, 0));
            return DB_ERR_QUERY;
        }
        d->zone_read = true;
        return DB_OK;
    }
    if (st != PGRES_COMMAND_OK) {
        db_note_state(d, r);
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        return DB_ERR_QUERY;
    }
    return DB_OK;
}

static int db__read_zone(struct db *d, char *err, size_t errlen)
{
    PGresult *r = PQexec(d->conn, "SELECT shuttle_service_tz()");
    int rc;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "service time zone: %s", PQerrorMessage(d->conn));
        rc = DB_ERR_QUERY;
    } else {
        rc = db__setup_result(d, r, err, errlen);
    }
    PQclear(r);
    return rc;
}

int db_service_day(struct db *d, int64_t t_ms, int32_t *day)
{
    if (!d->svc.zone[0])
        return DB_ERR_CONNECT;
    return svcday_day(&d->svc, t_ms, day) == SVCDAY_OK ? DB_OK : DB_ERR_NOMEM;
}

const char *db_service_zone(const struct db *d)
{
    return d->svc.zone;
}

/* Spelled out rather than LIKE positions: the ingest role may not read
 * the raw tables, and LIKE needs that. Same columns, same order. */
#define DB_STAGE_SQL                                                           \
    "CREATE TEMP TABLE IF NOT EXISTS stage_positions ("                        \
    " vehicle_id text, seq bigint, service_day date, t timestamptz,"           \
    " received_at timestamptz DEFAULT now(), backlog boolean,"                 \
    " time_source smallint, lat double precision, lon double precision,"       \
    " speed real, track real, alt real, hdop real, fix_mode smallint,"         \
    " sats_used smallint) ON COMMIT DELETE ROWS;"                              \
    "CREATE TEMP TABLE IF NOT EXISTS stage_counts ("                           \
    " vehicle_id text, seq bigint, service_day date, t timestamptz,"           \
    " received_at timestamptz DEFAULT now(), backlog boolean,"                 \
    " time_source smallint, door smallint, boarded smallint,"                  \
    " alighted smallint, door_open timestamptz, door_close timestamptz,"       \
    " load_after smallint, lat double precision, lon double precision,"        \
    " quality smallint) ON COMMIT DELETE ROWS;"

int db_prepare(struct db *d, char *err, size_t errlen)
{
    int rc = db_exec(d, DB_STAGE_SQL, err, errlen);

    if (rc == DB_OK)
        rc = db__read_zone(d, err, errlen);
    if (rc != DB_OK)
        db_disconnect(d);
    return rc;
}

int db_connect_start(struct db *d, char *err, size_t errlen)
{
    db_disconnect(d);
    d->conn = PQconnectStart(d->conninfo);
    if (!d->conn) {
        db_errf(err, errlen, "PostgreSQL: out of memory");
        return DB_ERR_NOMEM;
    }
    if (PQstatus(d->conn) == CONNECTION_BAD) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    d->phase = DB_PHASE_POLL;
    /* As the libpq manual says: behave as if the last poll said "write". */
    d->poll = PGRES_POLLING_WRITING;
    return DB_OK;
}

bool db_connecting(const struct db *d)
{
    return d->conn && d->phase != DB_PHASE_IDLE;
}

int db_connect_fd(const struct db *d, short *events)
{
    if (!db_connecting(d))
        return -1;
    *events = d->phase == DB_PHASE_POLL && d->poll == PGRES_POLLING_WRITING
                  ? POLLOUT
                  : POLLIN;
    return PQsocket(d->conn);
}

int db_connect_step(struct db *d, char *err, size_t errlen)
{
    PGresult *r;
    int rc = DB_OK;

    if (!db_connecting(d))
        return db_connected(d) ? DB_OK : DB_ERR_CONNECT;
    if (d->phase == DB_PHASE_POLL) {
        d->poll = PQconnectPoll(d->conn);
        if (d->poll == PGRES_POLLING_FAILED) {
            db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
            db_disconnect(d);
            return DB_ERR_CONNECT;
        }
        if (d->poll != PGRES_POLLING_OK)
            return DB_PENDING;
        PQsetNoticeProcessor(d->conn, db__quiet, NULL);
        /* Staged rows go through per-session temporary tables (see
         * db_connect); all of the setup goes out as one query string, and
         * its answers are read as they come. */
        d->zone_read = false;
        if (!PQsendQuery(d->conn, DB_SETUP_SQL DB_STAGE_SQL
                         "SELECT shuttle_service_tz()")) {
            db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
            db_disconnect(d);
            return DB_ERR_CONNECT;
        }
        d->phase = DB_PHASE_SETUP;
        /* A short query string leaves at once; if not, the next step's
         * consume flushes it. */
        (void)PQflush(d->conn);
        return DB_PENDING;
    }
    if (PQflush(d->conn) < 0 || !PQconsumeInput(d->conn)) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    while (!PQisBusy(d->conn)) {
        r = PQgetResult(d->conn);
        if (!r) {
            /* Every statement answered. */
            if (rc == DB_OK && !d->zone_read) {
                db_errf(err, errlen, "service time zone: no answer");
                rc = DB_ERR_QUERY;
            }
            if (rc != DB_OK) {
                db_disconnect(d);
                return rc;
            }
            d->phase = DB_PHASE_IDLE;
            return DB_OK;
        }
        if (rc == DB_OK)
            rc = db__setup_result(d, r, err, errlen);
        PQclear(r);
    }
    return DB_PENDING;
}

/* The first embedded migration newer than HAVE, NULL when none is. */
static const struct migration *db__next_migration(int have)
{
    for (const struct migration *m = migrations; m->version; m++)
        if (m->version > have)
            return m;
    return NULL;
}

/* Read the schema's version without writing anything. Returns 1 when it
 * was read (*have), 0 when there is no schema_migrations table, -1 when it
 * cannot be read, -2 when the server cannot be asked (the reason in WHY
 * for both); *may_create tells whether this login
 * may create tables in public (the owner may, the shuttle_* logins not). */
static int db__schema_version(struct db *d, int *have, int *may_create,
                              char *why, size_t whylen)
{
    PGresult *r =
        PQexec(d->conn, "SELECT to_regclass('public.schema_migrations')"
                        " IS NOT NULL, has_schema_privilege('public',"
                        " 'CREATE')");
    int exists;

    *have = 0;
    *may_create = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        db_errf(why, whylen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        return -2;
    }
    exists = PQgetvalue(r, 0, 0)[0] == 't';
    *may_create = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    if (!exists)
        return 0;
    r = PQexec(d->conn,
               "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        db_errf(why, whylen, "%s", PQerrorMessage(d->conn));
        PQclear(r);
        return -1;
    }
    *have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 1;
}

/* A login that may not create tables cannot migrate: say which step is
 * missing and who can apply it, rather than fail on the first CREATE. */
static int db__schema_behind(int known, int have, const char *why, char *err,
                             size_t errlen)
{
    const struct migration *m = db__next_migration(known > 0 ? have : 0);
    const char *fix = "apply it as the schema owner (shuttle-backend "
                      "--migrate with the owner's connection, or set "
                      "admin_database)";

    if (known < 0)
        db_errf(err, errlen,
                "cannot read the schema version (%s): the schema predates "
                "migration 009_schema_version, or this login is in no "
                "shuttle role; %s",
                why, fix);
    else if (known == 0)
        db_errf(err, errlen,
                "the database has no schema: migration %s not applied, and "
                "this login may not create tables; %s",
                m ? m->name : "?", fix);
    else
        db_errf(err, errlen,
                "the schema is at version %d: migration %s not applied, and "
                "this login may not create tables; %s",
                have, m ? m->name : "?", fix);
    return DB_ERR_SCHEMA;
}

int db_migrate(struct db *d, char *err, size_t errlen)
{
    char why[512];
    char sql[256];
    PGresult *r;
    int have = 0;
    int rc = DB_OK;
    int known, may_create;

    if (!db_connected(d))
        return DB_ERR_CONNECT;
    /* Read first: a current schema needs no lock and no CREATE, which the
     * ingest login has not. */
    why[0] = '\0';
    known = db__schema_version(d, &have, &may_create, why, sizeof why);
    if (known == -2) {
        db_errf(err, errlen, "%s", why);
        return DB_ERR_QUERY;
    }
    /* Newer than us: never write to it, whoever we log in as. */
    if (known == 1 &&
        schema_check(d->conn, "shuttle-backend", err, errlen) == SCHEMA_NEWER)
        return DB_ERR_NEWER;
    if (known == 1 && !db__next_migration(have))
        return DB_OK;
    if (!may_create)
        return db__schema_behind(known, have, why, err, errlen);
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

int db_exec_params(struct db *d, const char *sql, int nparams,
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

/* COPY head, then len bytes at p, then tail (head and tail: NUL-free text
 * or the binary format's frame, of the given lengths). */
static int db__copy(struct db *d, const char *sql, const char *head,
                    size_t headlen, const char *p, size_t len, const char *tail,
                    size_t taillen, uint64_t *rows, char *err, size_t errlen)
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
    if ((headlen && PQputCopyData(d->conn, head, (int)headlen) != 1) ||
        PQputCopyData(d->conn, p, (int)len) != 1 ||
        (taillen && PQputCopyData(d->conn, tail, (int)taillen) != 1) ||
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

int db_copy(struct db *d, const char *sql, const char *p, size_t len,
            uint64_t *rows, char *err, size_t errlen)
{
    return db__copy(d, sql, NULL, 0, p, len, NULL, 0, rows, err, errlen);
}

int db_copy_binary(struct db *d, const char *sql, const char *p, size_t len,
                   uint64_t *rows, char *err, size_t errlen)
{
    /* The signature, no flags, no header extension; the trailer is a
     * field count of -1. */
    static const char head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    static const char tail[2] = "\377\377";

    return db__copy(d, sql, head, sizeof head, p, len, tail, sizeof tail, rows,
                    err, errlen);
}

int db_exec_count(struct db *d, const char *sql, uint64_t *n, char *err,
                  size_t errlen)
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

bool db_data_error(const struct db *d)
{
    return d->conn && PQstatus(d->conn) == CONNECTION_OK &&
           (strncmp(d->sqlstate, "22", 2) == 0 ||
            strncmp(d->sqlstate, "23", 2) == 0);
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
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    /* Nobody LISTENs, but a NOTIFY would otherwise pile up here. */
    while ((n = PQnotifies(d->conn)) != NULL)
        PQfreemem(n);
    return DB_OK;
}

/* Binary COPY's frame: the signature, no flags, no header extension; the
 * trailer is a field count of -1. */
static const char db__copy_head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char db__copy_tail[2] = "\377\377";

/* libpq's non-blocking mode for the db_send* statements; the blocking
 * helpers (PQexec) wait as before whatever the mode. */
static int db__send_begin(struct db *d, char *err, size_t errlen)
{
    if (!db_connected(d) || d->sent) {
        db_errf(err, errlen, "PostgreSQL: %s",
                d->sent ? "a statement is under way" : "not connected");
        return DB_ERR_CONNECT;
    }
    if (!PQisnonblocking(d->conn) && PQsetnonblocking(d->conn, 1) != 0) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        return DB_ERR_CONNECT;
    }
    d->sqlstate[0] = '\0';
    return DB_OK;
}

static int db__send_end(struct db *d, int ok, char *err, size_t errlen)
{
    if (!ok) {
        db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
        db_disconnect(d);
        return DB_ERR_CONNECT;
    }
    d->sent = true;
    d->want_write = PQflush(d->conn) == 1;
    return DB_OK;
}

int db_send(struct db *d, const char *sql, int nparams, const char *const *v,
            const int *lens, const int *formats, char *err, size_t errlen)
{
    int rc = db__send_begin(d, err, errlen);

    if (rc != DB_OK)
        return rc;
    d->copy_p = NULL;
    d->copy_stage = 0;
    return db__send_end(d,
                        nparams == 0
                            ? PQsendQuery(d->conn, sql)
                            : PQsendQueryParams(d->conn, sql, nparams, NULL, v,
                                                lens, formats, 0),
                        err, errlen);
}

int db_send_copy_binary(struct db *d, const char *sql, const char *p,
                        size_t len, char *err, size_t errlen)
{
    int rc = db__send_begin(d, err, errlen);

    if (rc != DB_OK)
        return rc;
    d->copy_p = p;
    d->copy_len = len;
    d->copy_stage = 1;
    return db__send_end(d, PQsendQuery(d->conn, sql), err, errlen);
}

bool db_busy(const struct db *d)
{
    return d->sent;
}

int db_io_fd(const struct db *d, short *events)
{
    if (!d->conn || !d->sent)
        return -1;
    *events = POLLIN | (d->want_write ? POLLOUT : 0);
    return PQsocket(d->conn);
}

/* The server wants the COPY's rows: all of them into libpq's buffer (it
 * grows; the socket takes them as it can), then the end. */
static int db__copy_out(struct db *d)
{
    if (PQputCopyData(d->conn, db__copy_head, sizeof db__copy_head) != 1 ||
        (d->copy_len &&
         PQputCopyData(d->conn, d->copy_p, (int)d->copy_len) != 1) ||
        PQputCopyData(d->conn, db__copy_tail, sizeof db__copy_tail) != 1 ||
        PQputCopyEnd(d->conn, NULL) != 1)
        return -1;
    d->copy_stage = 2;
    return 0;
}

int db_io(struct db *d, PGresult **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!d->conn || !d->sent) {
        db_errf(err, errlen, "PostgreSQL: no statement under way");
        return DB_ERR_CONNECT;
    }
    for (;;) {
        int f = PQflush(d->conn);
        PGresult *r;

        if (f < 0 || !PQconsumeInput(d->conn)) {
            db_errf(err, errlen, "PostgreSQL: %s", PQerrorMessage(d->conn));
            db_disconnect(d);
            return DB_ERR_CONNECT;
        }
        d->want_write = f == 1;
        if (PQisBusy(d->conn))
            return DB_PENDING;
        r = PQgetResult(d->conn);
        if (!r) {
            d->sent = false;
            d->copy_p = NULL;
            return DB_OK; /* every result read: *out stays NULL */
        }
        if (PQresultStatus(r) == PGRES_COPY_IN) {
            PQclear(r);
            if (d->copy_stage != 1 || db__copy_out(d) != 0) {
                /* A COPY nobody gave rows for: end it as failed. */
                if (d->copy_stage != 1)
                    (void)PQputCopyEnd(d->conn, "no rows");
                else {
                    db_errf(err, errlen, "PostgreSQL: %s",
                            PQerrorMessage(d->conn));
                    db_disconnect(d);
                    return DB_ERR_CONNECT;
                }
            }
            continue;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            PQresultStatus(r) != PGRES_TUPLES_OK)
            db_note_state(d, r);
        *out = r;
        return DB_OK;
    }
}

int db_note_zone(struct db *d, const PGresult *r, char *err, size_t errlen)
{
    struct svcday next;
    const char *z;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        db_errf(err, errlen, "service time zone: no answer");
        return DB_ERR_QUERY;
    }
    z = PQgetvalue(r, 0, 0);
    if (strcmp(z, d->svc.zone) == 0)
        return DB_OK;
    if (svcday_init(&next, z) != SVCDAY_OK) {
        db_errf(err, errlen,
                "service time zone '%s' (the feed's agency_timezone) is not "
                "in this machine's tz database",
                z);
        return DB_ERR_QUERY;
    }
    d->svc = next;
    return DB_ZONE_CHANGED;
}

int db_set_blocking(struct db *d)
{
    if (d->conn && PQisnonblocking(d->conn) && PQsetnonblocking(d->conn, 0))
        return DB_ERR_CONNECT;
    return DB_OK;
}
