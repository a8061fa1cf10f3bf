/* live_pg: one PostgreSQL connection driven by the caller's poll loop,
 * queries queued and answered through callbacks, never waiting. */
#include "live_pg.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_PG_PARAMS 4

struct live_pg__query {
    char *sql;
    char *params[LIVE_PG_PARAMS];
    int nparams;
    live_pg_done done;
    void *arg;
    struct live_pg__query *next;
};

enum live_pg__phase {
    LIVE_PG__DOWN,
    LIVE_PG__CONNECTING, /* PQconnectPoll under way */
    LIVE_PG__READY,
};

struct live_pg {
    char *conninfo;
    PGconn *conn;
    enum live_pg__phase phase;
    PostgresPollingStatusType poll;
    struct live_pg__query *head, *tail;
    bool sent;        /* head is out, its results are being read */
    PGresult *result; /* head's last result so far */
    size_t npending;
};

static void live_pg__err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void live_pg__err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    n = strlen(err);
    while (n && err[n - 1] == '\n')
        err[--n] = '\0';
}

static void live_pg__query_free(struct live_pg__query *q)
{
    free(q->sql);
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q);
}

static struct live_pg__query *live_pg__pop(struct live_pg *p)
{
    struct live_pg__query *q = p->head;

    p->head = q->next;
    if (!p->head)
        p->tail = NULL;
    p->npending--;
    p->sent = false;
    return q;
}

/* The server never answers notices to anyone: keep them off stderr. */
static void live_pg__quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Close and answer every queued query with NULL (the caller retries). */
static void live_pg__down(struct live_pg *p, const char *why)
{
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    p->phase = LIVE_PG__DOWN;
    PQclear(p->result);
    p->result = NULL;
    while (p->head) {
        struct live_pg__query *q = live_pg__pop(p);

        if (why && q->done)
            q->done(q->arg, NULL, why);
        live_pg__query_free(q);
    }
}

struct live_pg *live_pg_new(const char *conninfo)
{
    struct live_pg *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->conninfo = strdup(conninfo ? conninfo : "");
    if (!p->conninfo) {
        free(p);
        return NULL;
    }
    return p;
}

void live_pg_free(struct live_pg *p)
{
    if (!p)
        return;
    live_pg__down(p, NULL);
    free(p->conninfo);
    free(p);
}

int live_pg_connect(struct live_pg *p, char *err, size_t errlen)
{
    if (p->conn)
        PQfinish(p->conn);
    p->conn = PQconnectStart(p->conninfo);
    if (!p->conn || PQstatus(p->conn) == CONNECTION_BAD) {
        live_pg__err(err, errlen, "PostgreSQL: %s",
                     p->conn ? PQerrorMessage(p->conn) : "out of memory");
        live_pg__down(p, NULL);
        return LIVE_PG_ERR_CONNECT;
    }
    p->phase = LIVE_PG__CONNECTING;
    p->poll = PGRES_POLLING_WRITING; /* what PQconnectStart leaves */
    return LIVE_PG_OK;
}

bool live_pg_ready(const struct live_pg *p)
{
    return p->phase == LIVE_PG__READY;
}

bool live_pg_active(const struct live_pg *p)
{
    return p->phase != LIVE_PG__DOWN;
}

size_t live_pg_pending(const struct live_pg *p)
{
    return p->npending;
}

int live_pg_fd(const struct live_pg *p, short *events)
{
    if (!p->conn || p->phase == LIVE_PG__DOWN)
        return -1;
    if (p->phase == LIVE_PG__CONNECTING)
        *events = p->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    else
        *events =
            POLLIN |
            (PQisnonblocking(p->conn) && PQflush(p->conn) == 1 ? POLLOUT : 0);
    return PQsocket(p->conn);
}

int live_pg_query(struct live_pg *p, const char *sql, int nparams,
                  const char *const *params, live_pg_done done, void *arg)
{
    struct live_pg__query *q = calloc(1, sizeof *q);

    if (!q || nparams < 0 || nparams > LIVE_PG_PARAMS)
        goto fail;
    q->sql = strdup(sql);
    if (!q->sql)
        goto fail;
    for (; q->nparams < nparams; q->nparams++) {
        q->params[q->nparams] = strdup(params[q->nparams]);
        if (!q->params[q->nparams])
            goto fail;
    }
    q->done = done;
    q->arg = arg;
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->npending++;
    return LIVE_PG_OK;
fail:
    if (q)
        live_pg__query_free(q);
    return LIVE_PG_ERR_NOMEM;
}

/* Send the head query when nothing is out. */
static int live_pg__send(struct live_pg *p, char *err, size_t errlen)
{
    struct live_pg__query *q = p->head;

    if (!q || p->sent)
        return LIVE_PG_OK;
    if (!PQsendQueryParams(p->conn, q->sql, q->nparams, NULL,
                           (const char *const *)q->params, NULL, NULL, 0)) {
        live_pg__err(err, errlen, "PostgreSQL: %s", PQerrorMessage(p->conn));
        return LIVE_PG_ERR_CONNECT;
    }
    p->sent = true;
    return LIVE_PG_OK;
}

/* Read what has arrived; deliver each finished query. */
static int live_pg__read(struct live_pg *p, char *err, size_t errlen)
{
    if (PQflush(p->conn) < 0 || !PQconsumeInput(p->conn)) {
        live_pg__err(err, errlen, "PostgreSQL: %s", PQerrorMessage(p->conn));
        return LIVE_PG_ERR_CONNECT;
    }
    while (p->sent && !PQisBusy(p->conn)) {
        PGresult *r = PQgetResult(p->conn);

        if (r) {
            PQclear(p->result);
            p->result = r;
            continue;
        }
        {
            struct live_pg__query *q = live_pg__pop(p);
            ExecStatusType st =
                p->result ? PQresultStatus(p->result) : PGRES_FATAL_ERROR;
            bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            char why[512];

            if (!ok)
                live_pg__err(why, sizeof why, "PostgreSQL: %s",
                             p->result ? PQresultErrorMessage(p->result)
                                       : "no result");
            if (q->done)
                q->done(q->arg, ok ? p->result : NULL, ok ? NULL : why);
            live_pg__query_free(q);
            PQclear(p->result);
            p->result = NULL;
        }
        if (live_pg__send(p, err, errlen) != LIVE_PG_OK)
            return LIVE_PG_ERR_CONNECT;
    }
    return LIVE_PG_OK;
}

int live_pg_step(struct live_pg *p, char *err, size_t errlen)
{
    int rc;

    if (p->phase == LIVE_PG__DOWN)
        return LIVE_PG_OK;
    if (p->phase == LIVE_PG__CONNECTING) {
        p->poll = PQconnectPoll(p->conn);
        if (p->poll == PGRES_POLLING_FAILED) {
            live_pg__err(err, errlen, "PostgreSQL: %s",
                         PQerrorMessage(p->conn));
            live_pg__down(p, err);
            return LIVE_PG_ERR_CONNECT;
        }
        if (p->poll != PGRES_POLLING_OK)
            return LIVE_PG_OK;
        PQsetNoticeProcessor(p->conn, live_pg__quiet, NULL);
        if (PQsetnonblocking(p->conn, 1) != 0) {
            live_pg__err(err, errlen, "PostgreSQL: cannot go non-blocking");
            live_pg__down(p, err);
            return LIVE_PG_ERR_CONNECT;
        }
        p->phase = LIVE_PG__READY;
    }
    rc = live_pg__send(p, err, errlen);
    if (rc == LIVE_PG_OK)
        rc = live_pg__read(p, err, errlen);
    if (rc == LIVE_PG_OK && PQstatus(p->conn) == CONNECTION_BAD) {
        live_pg__err(err, errlen, "PostgreSQL: connection lost");
        rc = LIVE_PG_ERR_CONNECT;
    }
    if (rc != LIVE_PG_OK)
        live_pg__down(p, err);
    return rc;
}
