/* report_job: the operators' report pages rendered in child processes
 * beside a daemon's loop, read back through pipes without blocking. */
#include "report_job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "job.h"
#include "report_html.h"
#include "report_text.h"
#include "svcday.h"

#define REPORT_JOB_HTML "text/html; charset=utf-8"
#define REPORT_JOB_TEXT "text/plain; charset=utf-8"
/* How often a child that closed its pipe is looked for: it exits at once. */
#define REPORT_JOB_REAP_MS 20

/* What a child writes before the body: native layout, the same binary
 * reads it. */
struct report_job__hdr {
    int32_t status;
    uint32_t zero;
    uint64_t len;
};

struct report_job__waiter {
    uint64_t ticket;
    report_job_done_fn done;
    void *arg;
};

enum report_job__state {
    REPORT_JOB__FREE = 0,
    REPORT_JOB__RUNNING, /* pipe open, answer not complete */
    REPORT_JOB__REAPING, /* answered; the child is still to be reaped */
};

struct report_job__slot {
    struct report_job *owner;
    enum report_job__state state;
    struct job job;
    struct report_job_req req;
    int fd;  /* read end in the parent, -1 */
    int wfd; /* write end, open only across the fork */
    struct report_job__hdr hdr;
    size_t hdr_got;
    char *body;
    size_t body_got;
    int64_t started_ms;
    struct report_job__waiter *waiters; /* [owner->o.max_waiters] */
    size_t nwaiters;
};

struct report_job__page {
    struct report_job_req req; /* body NULL: an empty entry */
    char *body;
    size_t len;
    int64_t expires_ms;
};

struct report_job {
    struct report_job_options o;
    char *conninfo;
    int epfd;
    struct report_job__slot *slots; /* [o.max_running] */
    struct report_job__page *cache; /* [o.cache_entries] */
    uint64_t next_ticket;
    struct report_job_stats st;
};

/* ------------------------------------------------------------ requests */

/* Check a date parameter's value; the message names the parameter and
 * echoes the value only once it is known to be ten digits and dashes. */
static int report_job__date(const char *name, const char *v, long *day,
                            char *err, size_t errlen)
{
    char why[128];

    if (v == NULL || strlen(v) != 10 || strspn(v, "0123456789-") != 10) {
        snprintf(err, errlen, "%s: expected a date YYYY-MM-DD", name);
        return REPORT_JOB_ERR_BAD;
    }
    if (report_text_parse_date(v, day, why, sizeof why) !=
        REPORT_TEXT_DATE_OK) {
        snprintf(err, errlen, "%s: %s", name, why);
        return REPORT_JOB_ERR_BAD;
    }
    return REPORT_JOB_OK;
}

/* Today's service day in ZONE at WALL_MS: 0, or -1 when the zone is
 * unknown. */
static int report_job__today(const char *zone, int64_t wall_ms, long *today)
{
    struct svcday svc;
    int32_t d;

    if (zone == NULL || zone[0] == '\0' ||
        svcday_init(&svc, zone) != SVCDAY_OK ||
        svcday_day(&svc, wall_ms, &d) != SVCDAY_OK)
        return -1;
    *today = d;
    return 0;
}

int report_job_parse(enum report_job_kind kind,
                     const struct report_job_arg *args, size_t nargs,
                     const char *zone, int64_t wall_ms,
                     struct report_job_req *req, char *err, size_t errlen)
{
    const char *names[2] = {"date", NULL};
    const char *vals[2] = {NULL, NULL};
    int seen[2] = {0, 0};
    long d0 = 0, d1 = 0, today = 0;
    int have_today = report_job__today(zone, wall_ms, &today) == 0;

    if (kind == REPORT_JOB_RANGE) {
        names[0] = "from";
        names[1] = "to";
    }
    for (size_t i = 0; i < nargs; i++) {
        const char *k = args[i].key ? args[i].key : "";
        int which = -1;

        for (int n = 0; n < 2; n++)
            if (names[n] && strcmp(k, names[n]) == 0)
                which = n;
        if (which < 0) {
            snprintf(err, errlen,
                     kind == REPORT_JOB_DAILY
                         ? "unknown parameter: the daily report takes only "
                           "date=YYYY-MM-DD"
                         : "unknown parameter: the range report takes only "
                           "from=YYYY-MM-DD and to=YYYY-MM-DD");
            return REPORT_JOB_ERR_BAD;
        }
        if (seen[which]) {
            snprintf(err, errlen, "%s: given more than once", names[which]);
            return REPORT_JOB_ERR_BAD;
        }
        seen[which] = 1;
        /* "?date" without a value is a bad date, not the default. */
        vals[which] = args[i].value ? args[i].value : "";
    }

    memset(req, 0, sizeof *req);
    req->kind = kind;
    if (kind == REPORT_JOB_DAILY) {
        if (!seen[0]) {
            if (!have_today) {
                snprintf(err, errlen,
                         "no service time zone yet: give "
                         "date=YYYY-MM-DD");
                return REPORT_JOB_ERR_ZONE;
            }
            d0 = today - 1;
        } else if (report_job__date("date", vals[0], &d0, err, errlen) !=
                   REPORT_JOB_OK) {
            return REPORT_JOB_ERR_BAD;
        }
        d1 = d0;
    } else {
        if (!seen[0] || !seen[1]) {
            snprintf(err, errlen,
                     "the range report needs from=YYYY-MM-DD "
                     "and to=YYYY-MM-DD");
            return REPORT_JOB_ERR_BAD;
        }
        if (report_job__date("from", vals[0], &d0, err, errlen) !=
                REPORT_JOB_OK ||
            report_job__date("to", vals[1], &d1, err, errlen) != REPORT_JOB_OK)
            return REPORT_JOB_ERR_BAD;
        if (d1 < d0) {
            snprintf(err, errlen, "to %s is before from %s", vals[1], vals[0]);
            return REPORT_JOB_ERR_BAD;
        }
        if (d1 - d0 + 1 > REPORT_JOB_RANGE_MAX_DAYS) {
            snprintf(err, errlen, "%s .. %s is %ld days; at most %d", vals[0],
                     vals[1], d1 - d0 + 1, REPORT_JOB_RANGE_MAX_DAYS);
            return REPORT_JOB_ERR_BAD;
        }
    }
    report_text_format_date(d0, req->from);
    report_text_format_date(d1, req->to);
    req->past = have_today && d1 < today;
    return REPORT_JOB_OK;
}

int report_job_kind_of(const char *path, enum report_job_kind *kind)
{
    if (path && strcmp(path, "/report/daily") == 0) {
        *kind = REPORT_JOB_DAILY;
        return 1;
    }
    if (path && strcmp(path, "/report/range") == 0) {
        *kind = REPORT_JOB_RANGE;
        return 1;
    }
    return 0;
}

static int report_job__same(const struct report_job_req *a,
                            const struct report_job_req *b)
{
    return a->kind == b->kind && strcmp(a->from, b->from) == 0 &&
           strcmp(a->to, b->to) == 0;
}

/* An answer of STATUS with a copy of LEN bytes of BODY; a body that could
 * not be copied becomes an empty 500. */
static struct report_job_answer report_job__answer(int status, const char *body,
                                                   size_t len)
{
    struct report_job_answer a = {
        .status = status,
        .content_type = status == 200 ? REPORT_JOB_HTML : REPORT_JOB_TEXT,
    };

    a.body = malloc(len + 1);
    if (a.body == NULL) {
        a.status = 500;
        a.content_type = REPORT_JOB_TEXT;
        return a;
    }
    memcpy(a.body, body, len);
    a.body[len] = '\0';
    a.len = len;
    return a;
}

static struct report_job_answer report_job__line(int status, const char *msg)
{
    return report_job__answer(status, msg, strlen(msg));
}

/* --------------------------------------------------------------- child */

/* Render REQ into MEM as shuttle-report --format html would: the status,
 * with a one-line message in MSG when it is not 200. */
static int report_job__render(const struct report_job *rj,
                              const struct report_job_req *req, FILE *mem,
                              char *msg, size_t msglen)
{
    const struct report_query_params *p = &rj->o.params;
    struct report_query *q;
    char err[512];
    int rc, status = 200;

    if (report_query_open(rj->conninfo, &q, err, sizeof err) !=
        REPORT_QUERY_OK) {
        snprintf(msg, msglen, "database unavailable");
        return 503;
    }
    if (req->kind == REPORT_JOB_DAILY) {
        struct report_query_daily d;

        rc = report_query_daily(q, p, req->from, &d, err, sizeof err);
        if (rc == REPORT_QUERY_OK && report_html_daily(mem, &d, p->english))
            rc = REPORT_QUERY_ERR_NOMEM;
        report_query_daily_free(&d);
        if (rc == REPORT_QUERY_ERR_EMPTY)
            snprintf(msg, msglen, "no data for %s: the day has not been built",
                     req->from);
    } else {
        struct report_query_range r;

        rc = report_query_range(q, p, req->from, req->to, &r, err, sizeof err);
        if (rc == REPORT_QUERY_OK && report_html_range(mem, &r, p->english))
            rc = REPORT_QUERY_ERR_NOMEM;
        report_query_range_free(&r);
        if (rc == REPORT_QUERY_ERR_EMPTY)
            snprintf(msg, msglen, "no day from %s to %s has been built",
                     req->from, req->to);
    }
    report_query_close(q);
    switch (rc) {
    case REPORT_QUERY_OK:
        break;
    case REPORT_QUERY_ERR_EMPTY:
        status = 404;
        break;
    case REPORT_QUERY_ERR_CONNECT:
        /* The server went away between the connect and the query. */
        snprintf(msg, msglen, "database unavailable");
        status = 503;
        break;
    default:
        /* The detail (SQL, server text) is not for the web client. */
        snprintf(msg, msglen, "report query failed");
        status = 500;
    }
    return status;
}

static int report_job__write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The child: render, then header and body into the pipe. Exit 1 when the
 * parent could not be told (it then answers 500 on the early EOF). */
static int report_job__child(void *arg)
{
    struct report_job__slot *s = arg;
    const struct report_job *rj = s->owner;
    struct report_job__hdr h = {0};
    char msg[256] = "", *buf = NULL, cto[16];
    size_t len = 0;
    FILE *mem;
    int status;

    close(s->fd);
    if (getenv("PGCONNECT_TIMEOUT") == NULL) {
        snprintf(cto, sizeof cto, "%d", rj->o.connect_timeout_s);
        (void)setenv("PGCONNECT_TIMEOUT", cto, 1);
    }
    mem = open_memstream(&buf, &len);
    if (mem == NULL)
        return 1;
    status = report_job__render(rj, &s->req, mem, msg, sizeof msg);
    if (fclose(mem) != 0)
        return 1;
    if (status == 200 && len > rj->o.max_bytes) {
        status = 500;
        snprintf(msg, sizeof msg, "report too large");
    }
    h.status = status;
    h.len = status == 200 ? len : strlen(msg);
    if (report_job__write_all(s->wfd, &h, sizeof h) != 0 ||
        report_job__write_all(s->wfd, status == 200 ? buf : msg, h.len) != 0)
        return 1;
    free(buf);
    return 0;
}

/* -------------------------------------------------------------- parent */

static void report_job__cache_put(struct report_job *rj,
                                  const struct report_job_req *req,
                                  const char *body, size_t len, int64_t now)
{
    struct report_job__page *victim = NULL;
    char *copy;

    if (rj->o.cache_entries <= 0 || rj->o.cache_ms <= 0)
        return;
    for (int i = 0; i < rj->o.cache_entries; i++) {
        struct report_job__page *pg = &rj->cache[i];

        if (pg->body && report_job__same(&pg->req, req)) {
            victim = pg;
            break;
        }
        /* An empty entry first, else the one that expires soonest. */
        if (victim == NULL || (victim->body && !pg->body) ||
            (victim->body && pg->body && pg->expires_ms < victim->expires_ms))
            victim = pg;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return; /* only a cache: the next request renders it again */
    memcpy(copy, body, len);
    copy[len] = '\0';
    free(victim->body);
    victim->req = *req;
    victim->body = copy;
    victim->len = len;
    victim->expires_ms = now + rj->o.cache_ms;
}

static const struct report_job__page *
report_job__cache_get(struct report_job *rj, const struct report_job_req *req,
                      int64_t now)
{
    for (int i = 0; i < rj->o.cache_entries; i++) {
        struct report_job__page *pg = &rj->cache[i];

        if (pg->body && now >= pg->expires_ms) {
            free(pg->body);
            pg->body = NULL;
        }
        if (pg->body && report_job__same(&pg->req, req))
            return pg;
    }
    return NULL;
}

/* Stop reading S's pipe. The descriptor leaves the epoll set explicitly:
 * later children hold copies of it, which would keep it registered. */
static void report_job__close(struct report_job *rj, struct report_job__slot *s)
{
    if (s->fd >= 0) {
        (void)epoll_ctl(rj->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->hdr_got = s->body_got = 0;
    s->nwaiters = 0;
    s->state = REPORT_JOB__REAPING;
}

/* Give every waiter of S the answer (a copy each), then close S. BODY is
 * LEN bytes, not owned. */
static void report_job__finish(struct report_job *rj,
                               struct report_job__slot *s, int status,
                               const char *body, size_t len, int64_t now)
{
    size_t n = s->nwaiters;

    if (status == 200) {
        rj->st.ok++;
        if (s->req.past)
            report_job__cache_put(rj, &s->req, body, len, now);
    } else {
        rj->st.failed++;
    }
    /* Callbacks may call back in (submit, cancel): the slot is closed
     * first, so that none joins or cancels it meanwhile. */
    report_job__close(rj, s);
    for (size_t i = 0; i < n; i++) {
        struct report_job_answer a = report_job__answer(status, body, len);

        s->waiters[i].done(s->waiters[i].arg, &a);
    }
    /* BODY may be it: freed only now. */
    free(s->body);
    s->body = NULL;
}

static void report_job__fail(struct report_job *rj, struct report_job__slot *s,
                             int status, const char *msg, int64_t now)
{
    report_job__finish(rj, s, status, msg, strlen(msg), now);
}

/* Read what S's child wrote so far. */
static void report_job__read(struct report_job *rj, struct report_job__slot *s,
                             int64_t now)
{
    for (;;) {
        char *dst;
        size_t want;
        ssize_t n;

        if (s->hdr_got < sizeof s->hdr) {
            dst = (char *)&s->hdr + s->hdr_got;
            want = sizeof s->hdr - s->hdr_got;
        } else {
            dst = s->body + s->body_got;
            want = (size_t)s->hdr.len - s->body_got;
        }
        n = want > 0 ? read(s->fd, dst, want) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0 && want > 0) {
            report_job__fail(rj, s, 500, "report process failed", now);
            return;
        }
        if (s->hdr_got < sizeof s->hdr) {
            s->hdr_got += (size_t)n;
            if (s->hdr_got < sizeof s->hdr)
                continue;
            if (s->hdr.status < 200 || s->hdr.status > 599 ||
                s->hdr.len > rj->o.max_bytes ||
                (s->body = malloc((size_t)s->hdr.len + 1)) == NULL) {
                report_job__fail(rj, s, 500, "report process failed", now);
                return;
            }
        } else {
            s->body_got += (size_t)n;
        }
        if (s->hdr_got == sizeof s->hdr && s->body_got == s->hdr.len) {
            s->body[s->body_got] = '\0';
            report_job__finish(rj, s, s->hdr.status, s->body, s->body_got, now);
            return;
        }
    }
}

static void report_job__reap(struct report_job *rj, struct report_job__slot *s)
{
    if (job_reap(&s->job, NULL) == JOB_RUNNING)
        return;
    s->state = REPORT_JOB__FREE;
    rj->st.running--;
}

static int report_job__start(struct report_job *rj, struct report_job__slot *s,
                             const struct report_job_req *req, int64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int p[2];

    /* Close-on-exec only for hygiene: the child never execs. */
    if (pipe(p) != 0)
        return -1;
    (void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
    s->fd = p[0];
    s->wfd = p[1];
    s->req = *req;
    ev.data.ptr = s;
    if (fcntl(s->fd, F_SETFL, O_NONBLOCK) != 0 ||
        epoll_ctl(rj->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0 ||
        job_start(&s->job, "report", rj->o.nice_inc, report_job__child, s,
                  now) != JOB_OK) {
        close(p[0]);
        close(p[1]);
        s->fd = -1;
        return -1;
    }
    close(s->wfd);
    s->wfd = -1;
    s->state = REPORT_JOB__RUNNING;
    s->started_ms = now;
    s->hdr_got = s->body_got = 0;
    s->nwaiters = 0;
    rj->st.started++;
    rj->st.running++;
    return 0;
}

enum report_job_when report_job_submit(struct report_job *rj,
                                       const struct report_job_req *req,
                                       int64_t mono_ms, report_job_done_fn done,
                                       void *arg, uint64_t *ticket,
                                       struct report_job_answer *now)
{
    const struct report_job__page *pg = report_job__cache_get(rj, req, mono_ms);
    struct report_job__slot *s = NULL;

    if (pg) {
        rj->st.cache_hits++;
        *now = report_job__answer(200, pg->body, pg->len);
        return REPORT_JOB_NOW;
    }
    for (int i = 0; i < rj->o.max_running && s == NULL; i++)
        if (rj->slots[i].state == REPORT_JOB__RUNNING &&
            report_job__same(&rj->slots[i].req, req) &&
            rj->slots[i].nwaiters < (size_t)rj->o.max_waiters) {
            s = &rj->slots[i];
            rj->st.shared++;
        }
    for (int i = 0; i < rj->o.max_running && s == NULL; i++)
        if (rj->slots[i].state == REPORT_JOB__FREE) {
            if (report_job__start(rj, &rj->slots[i], req, mono_ms) != 0) {
                *now = report_job__line(500, "cannot start the report");
                return REPORT_JOB_NOW;
            }
            s = &rj->slots[i];
        }
    if (s == NULL) {
        rj->st.busy++;
        *now = report_job__line(503, "busy, retry");
        return REPORT_JOB_NOW;
    }
    s->waiters[s->nwaiters].ticket = ++rj->next_ticket;
    s->waiters[s->nwaiters].done = done;
    s->waiters[s->nwaiters].arg = arg;
    s->nwaiters++;
    *ticket = rj->next_ticket;
    return REPORT_JOB_LATER;
}

enum report_job_when
report_job_request(struct report_job *rj, enum report_job_kind kind,
                   const struct report_job_arg *args, size_t nargs,
                   const char *zone, int64_t wall_ms, int64_t mono_ms,
                   report_job_done_fn done, void *arg, uint64_t *ticket,
                   struct report_job_answer *now)
{
    struct report_job_req req;
    char err[256];
    int rc = report_job_parse(kind, args, nargs, zone, wall_ms, &req, err,
                              sizeof err);

    if (rc == REPORT_JOB_ERR_BAD) {
        rj->st.bad++;
        *now = report_job__line(400, err);
        return REPORT_JOB_NOW;
    }
    if (rc != REPORT_JOB_OK) {
        *now = report_job__line(503, err);
        return REPORT_JOB_NOW;
    }
    return report_job_submit(rj, &req, mono_ms, done, arg, ticket, now);
}

void report_job_cancel(struct report_job *rj, uint64_t ticket)
{
    for (int i = 0; i < rj->o.max_running; i++) {
        struct report_job__slot *s = &rj->slots[i];

        if (s->state != REPORT_JOB__RUNNING)
            continue;
        for (size_t w = 0; w < s->nwaiters; w++) {
            if (s->waiters[w].ticket != ticket)
                continue;
            memmove(&s->waiters[w], &s->waiters[w + 1],
                    (s->nwaiters - w - 1) * sizeof s->waiters[0]);
            s->nwaiters--;
            /* A page of today is stale by the next request: not worth the
             * slot. */
            if (s->nwaiters == 0 && !s->req.past) {
                (void)kill(s->job.pid, SIGKILL);
                report_job__close(rj, s);
                free(s->body);
                s->body = NULL;
            }
            return;
        }
    }
}

void report_job_flush(struct report_job *rj)
{
    for (int i = 0; i < rj->o.cache_entries; i++) {
        free(rj->cache[i].body);
        rj->cache[i].body = NULL;
    }
}

int report_job_fd(const struct report_job *rj)
{
    return rj->epfd;
}

int report_job_timeout_ms(const struct report_job *rj, int64_t mono_ms)
{
    int64_t t = -1;

    for (int i = 0; i < rj->o.max_running; i++) {
        const struct report_job__slot *s = &rj->slots[i];
        int64_t due = -1;

        if (s->state == REPORT_JOB__REAPING)
            due = REPORT_JOB_REAP_MS;
        else if (s->state == REPORT_JOB__RUNNING)
            due = s->started_ms + rj->o.timeout_ms - mono_ms;
        if (due < 0 && s->state != REPORT_JOB__FREE)
            due = 0;
        if (due >= 0 && (t < 0 || due < t))
            t = due;
    }
    return t > 0x7fffffff ? 0x7fffffff : (int)t;
}

void report_job_step(struct report_job *rj, int64_t mono_ms)
{
    /* Level-triggered: the epoll set stays readable until every pipe is
     * drained, and each running one is read to EAGAIN here. */
    for (int i = 0; i < rj->o.max_running; i++) {
        struct report_job__slot *s = &rj->slots[i];

        if (s->state == REPORT_JOB__RUNNING)
            report_job__read(rj, s, mono_ms);
        if (s->state == REPORT_JOB__RUNNING &&
            mono_ms - s->started_ms >= rj->o.timeout_ms) {
            (void)kill(s->job.pid, SIGKILL);
            rj->st.timeouts++;
            report_job__fail(rj, s, 503, "report timed out", mono_ms);
        }
        if (s->state == REPORT_JOB__REAPING)
            report_job__reap(rj, s);
    }
}

void report_job_stats(const struct report_job *rj, struct report_job_stats *st)
{
    *st = rj->st;
}

/* ----------------------------------------------------------- lifecycle */

static int report_job__opt(int *v, int def, int lo, int hi, const char *name,
                           char *err, size_t errlen)
{
    if (*v == 0)
        *v = def;
    if (*v < lo || *v > hi) {
        snprintf(err, errlen, "report_job: %s %d not in %d..%d", name, *v, lo,
                 hi);
        return -1;
    }
    return 0;
}

int report_job_new(const struct report_job_options *o, struct report_job **out,
                   char *err, size_t errlen)
{
    struct report_job *rj;
    struct report_job_options c = *o;

    *out = NULL;
    if (c.conninfo == NULL ||
        report_job__opt(&c.max_running, 2, 1, 64, "max_running", err, errlen) ||
        report_job__opt(&c.max_waiters, 16, 1, 1024, "max_waiters", err,
                        errlen) ||
        report_job__opt(&c.timeout_ms, 30000, 1, 3600000, "timeout_ms", err,
                        errlen) ||
        report_job__opt(&c.cache_ms, 60000, -1, 86400000, "cache_ms", err,
                        errlen) ||
        report_job__opt(&c.cache_entries, 16, -1, 1024, "cache_entries", err,
                        errlen) ||
        report_job__opt(&c.connect_timeout_s, 10, 1, 3600, "connect_timeout_s",
                        err, errlen) ||
        report_job__opt(&c.nice_inc, 5, -1, 19, "nice_inc", err, errlen)) {
        if (c.conninfo == NULL)
            snprintf(err, errlen, "report_job: no connection string");
        return REPORT_JOB_ERR_ARG;
    }
    if (c.max_bytes == 0)
        c.max_bytes = 32u << 20;
    /* -1 turns the cache off (0 is the default). */
    if (c.cache_entries < 0 || c.cache_ms < 0)
        c.cache_entries = c.cache_ms = 0;
    if (c.nice_inc < 0)
        c.nice_inc = 0;
    rj = calloc(1, sizeof *rj);
    if (rj == NULL)
        return REPORT_JOB_ERR_NOMEM;
    rj->o = c;
    rj->epfd = epoll_create1(EPOLL_CLOEXEC);
    rj->conninfo = strdup(c.conninfo);
    rj->slots = calloc((size_t)c.max_running, sizeof *rj->slots);
    rj->cache = calloc(c.cache_entries > 0 ? (size_t)c.cache_entries : 1,
                       sizeof *rj->cache);
    if (rj->epfd < 0 || !rj->conninfo || !rj->slots || !rj->cache) {
        report_job_free(rj);
        return REPORT_JOB_ERR_NOMEM;
    }
    rj->o.conninfo = rj->conninfo;
    for (int i = 0; i < c.max_running; i++) {
        struct report_job__slot *s = &rj->slots[i];

        s->owner = rj;
        s->fd = s->wfd = -1;
        s->waiters = calloc((size_t)c.max_waiters, sizeof *s->waiters);
        if (s->waiters == NULL) {
            report_job_free(rj);
            return REPORT_JOB_ERR_NOMEM;
        }
    }
    *out = rj;
    return REPORT_JOB_OK;
}

void report_job_free(struct report_job *rj)
{
    if (rj == NULL)
        return;
    for (int i = 0; rj->slots && i < rj->o.max_running; i++) {
        struct report_job__slot *s = &rj->slots[i];

        if (s->state == REPORT_JOB__RUNNING && s->job.pid > 0)
            (void)kill(s->job.pid, SIGKILL);
        if (s->fd >= 0)
            close(s->fd);
        free(s->body);
        free(s->waiters);
        job_stop(&s->job);
    }
    for (int i = 0; rj->cache && i < rj->o.cache_entries; i++)
        free(rj->cache[i].body);
    if (rj->epfd >= 0)
        close(rj->epfd);
    free(rj->slots);
    free(rj->cache);
    free(rj->conninfo);
    free(rj);
}
