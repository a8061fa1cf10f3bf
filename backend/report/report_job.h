/* report_job: the operators' report pages (/report/daily, /report/range) for
 * a daemon's loop, each rendered by shuttle-report's own code in a child
 * process, so that the loop never waits on the database. */
#ifndef SHUTTLE_REPORT_JOB_H
#define SHUTTLE_REPORT_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report_query.h"

/*
 * A request is validated in the loop (report_job_parse), then answered
 * either at once (a bad request, a cached page, too many reports running)
 * or later: a child (common/job) opens its own libpq connection, runs
 * report_query + report_html exactly as `shuttle-report --format html`
 * does, writes the page into a pipe and _exits, so the loop's own libpq
 * and MQTT handles are never touched. The loop polls report_job_fd() and
 * calls report_job_step(), which reads the pipes without blocking and
 * calls each request's completion callback once.
 *
 * Answers: 200 and the page (text/html); 400 a bad request; 404 the day
 * (or every day of the range) was never built; 503 "database
 * unavailable", "report timed out", "busy, retry" or "no service time
 * zone yet"; 500 another failure. Every body but a page is one line of
 * text/plain. Identical requests in flight share one child; pages of days
 * that are over (every day before today in the service zone) are cached
 * for options.cache_ms, as only a rebuild changes them.
 */

/* The longest range a page shows (a quarter, with a 31-day month each). */
#define REPORT_JOB_RANGE_MAX_DAYS 92

enum report_job_err {
    REPORT_JOB_OK = 0,
    REPORT_JOB_ERR_BAD = -1,   /* the request is invalid: answer 400 */
    REPORT_JOB_ERR_ZONE = -2,  /* no default date without a service zone */
    REPORT_JOB_ERR_NOMEM = -3, /* answer 500 */
    REPORT_JOB_ERR_ARG = -4,   /* report_job_new: an option out of bounds */
};

enum report_job_kind {
    REPORT_JOB_DAILY,
    REPORT_JOB_RANGE,
};

/* One query parameter, already URL-decoded (libmicrohttpd's
 * MHD_get_connection_values with MHD_GET_ARGUMENT_KIND gives them so);
 * value NULL for "?date" without '='. */
struct report_job_arg {
    const char *key, *value;
};

/* A validated request. A daily report has from == to. */
struct report_job_req {
    enum report_job_kind kind;
    char from[11], to[11]; /* "YYYY-MM-DD" */
    bool past;             /* `to` is before today: the page may be cached */
};

/* An answer. The body is malloc'd and the receiver's to free (for
 * libmicrohttpd: MHD_RESPMEM_MUST_FREE); it is NULL (len 0) only when
 * memory ran out, and the status is then 500. content_type is static. */
struct report_job_answer {
    int status;
    const char *content_type;
    char *body;
    size_t len;
};

/* Called once per pending request, from report_job_step, unless the
 * request was cancelled. A takes ownership of a->body. */
typedef void (*report_job_done_fn)(void *arg, struct report_job_answer *a);

struct report_job_options {
    const char *conninfo; /* read-only libpq connection string; copied */
    struct report_query_params params; /* thresholds and language */
    /* 0 takes the default given. */
    int max_running;       /* children at once (2); more: 503 busy */
    int max_waiters;       /* requests sharing one child (16) */
    int timeout_ms;        /* a child is killed after this (30000) */
    int cache_ms;          /* pages of past days kept this long (60000) */
    int cache_entries;     /* pages kept at most (16) */
    size_t max_bytes;      /* a larger page is a 500 (32 MiB) */
    int connect_timeout_s; /* PGCONNECT_TIMEOUT in the child unless the
                              environment sets it (10) */
    int nice_inc;          /* the child's nice increment (5) */
};

/* Counters for /metrics. */
struct report_job_stats {
    uint64_t started;  /* children started */
    uint64_t ok;       /* pages rendered (200) */
    uint64_t failed;   /* children that answered 404/500/503 or died */
    uint64_t timeouts; /* children killed at timeout_ms */
    uint64_t busy;     /* requests answered 503 busy */
    uint64_t bad;      /* requests answered 400 */
    uint64_t cache_hits;
    uint64_t shared; /* requests that joined a running child */
    int running;     /* children not yet reaped */
};

struct report_job;

/*
 * Validate a request of KIND with its NARGS query parameters: daily takes
 * only date=YYYY-MM-DD (default: yesterday in the service zone ZONE at
 * WALL_MS, Unix ms, as shuttle-report does), range only from= and to=,
 * both required, a real date each, from <= to, at most
 * REPORT_JOB_RANGE_MAX_DAYS days. ZONE may be NULL or "" (no feed loaded
 * yet): a daily report then needs its date. Returns REPORT_JOB_OK with
 * *REQ filled, REPORT_JOB_ERR_BAD with a one-line message for the user in
 * ERR (which never echoes more than a checked date), or
 * REPORT_JOB_ERR_ZONE.
 */
int report_job_parse(enum report_job_kind kind,
                     const struct report_job_arg *args, size_t nargs,
                     const char *zone, int64_t wall_ms,
                     struct report_job_req *req, char *err, size_t errlen);

/* The kind of PATH ("/report/daily", "/report/range", query string
 * stripped) into *KIND: 1, or 0 when the path is not a report's. */
int report_job_kind_of(const char *path, enum report_job_kind *kind);

/* A new handle with O (every string copied). Returns REPORT_JOB_OK,
 * REPORT_JOB_ERR_ARG (message in ERR) or REPORT_JOB_ERR_NOMEM. *OUT is
 * the caller's to release with report_job_free. */
int report_job_new(const struct report_job_options *o, struct report_job **out,
                   char *err, size_t errlen);

/* At shutdown: kill and reap every child (the only call that waits), free
 * the handle and every cached page. Pending callbacks are not called. */
void report_job_free(struct report_job *rj);

enum report_job_when {
    REPORT_JOB_NOW = 0, /* *now holds the answer */
    REPORT_JOB_LATER,   /* done(arg, ...) will be called by report_job_step */
};

/*
 * Answer REQ (from report_job_parse) at MONO_MS (monotonic ms): from the
 * cache, by joining the running child of the same report, or by starting
 * a child. Returns REPORT_JOB_NOW with the answer in *NOW (a cached page,
 * or 503 busy / 500 fork failed), or REPORT_JOB_LATER with *TICKET set
 * (never 0) for report_job_cancel: then DONE is called exactly once, from
 * report_job_step, never from inside this call.
 */
enum report_job_when report_job_submit(struct report_job *rj,
                                       const struct report_job_req *req,
                                       int64_t mono_ms, report_job_done_fn done,
                                       void *arg, uint64_t *ticket,
                                       struct report_job_answer *now);

/*
 * report_job_parse then report_job_submit, for an HTTP route: a bad
 * request is answered REPORT_JOB_NOW with 400 and the message, a daily
 * report without a date while ZONE is unknown with 503.
 */
enum report_job_when
report_job_request(struct report_job *rj, enum report_job_kind kind,
                   const struct report_job_arg *args, size_t nargs,
                   const char *zone, int64_t wall_ms, int64_t mono_ms,
                   report_job_done_fn done, void *arg, uint64_t *ticket,
                   struct report_job_answer *now);

/* Forget pending request TICKET (the client went away): its callback is
 * not called. A child no one waits for goes on when its page may be
 * cached, else it is killed. Unknown tickets are ignored. */
void report_job_cancel(struct report_job *rj, uint64_t ticket);

/* Drop every cached page: call when a rebuild of the derived tables has
 * finished, so that no page older than it is served. */
void report_job_flush(struct report_job *rj);

/* The descriptor to poll for POLLIN (an epoll set of the children's
 * pipes); always valid while the handle lives. */
int report_job_fd(const struct report_job *rj);

/* Milliseconds from MONO_MS until report_job_step is due even without
 * POLLIN (a timeout, or a child to reap), -1 when nothing runs. */
int report_job_timeout_ms(const struct report_job *rj, int64_t mono_ms);

/* Read what the children wrote, without blocking; finish, time out and
 * reap children; call the callbacks of finished requests. Call when the
 * fd is readable and when report_job_timeout_ms has passed; more often is
 * harmless. */
void report_job_step(struct report_job *rj, int64_t mono_ms);

void report_job_stats(const struct report_job *rj, struct report_job_stats *st);

#endif
