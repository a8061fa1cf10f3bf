/* shuttle-live: the writer connection (the audit's samples) and the
 * periodic rebuild of the derived tables in a child process. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "live_daemon.h"
#include "log.h"
#include "trips_db.h"

/* ------------------------------------------------------------- rebuild */

const char *live_writer(const struct live_conf *c)
{
    return c->writer_database ? c->writer_database : c->database;
}

/* ---------------------------------------------------------- the audit */

/* The writer's connection: connect, with the read side's back-off and
 * connect timeout. A batch in flight on a connection given up goes
 * again on the next. */
void live_wdb_try(struct live *l, int64_t now)
{
    char err[512];

    if (live_pg_active(l->wpg) && !live_pg_ready(l->wpg) &&
        now - l->wdb_connect_started_ms > LIVE_DB_CONNECT_TIMEOUT_MS) {
        live_pg_free(l->wpg);
        live_sink_lost(l->sink);
        if (!(l->wpg = live_pg_new(live_writer(&l->conf))))
            fatalx("out of memory");
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: PostgreSQL: no answer to connect; retrying "
                  "in %" PRId64 " ms",
                  l->wdb_backoff_ms);
        return;
    }
    if (live_pg_active(l->wpg) || now < l->wdb_retry_ms)
        return;
    if (live_pg_connect(l->wpg, err, sizeof err) != LIVE_PG_OK) {
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: %s; retrying in %" PRId64 " ms", err,
                  l->wdb_backoff_ms);
        return;
    }
    l->wdb_connect_started_ms = now;
}

/* Advance the writer's connection and send a batch when one is due. */
void live_wdb_step(struct live *l, int64_t now)
{
    char err[512];
    bool was_ready = live_pg_ready(l->wpg);

    if (live_pg_step(l->wpg, err, sizeof err) != LIVE_PG_OK) {
        l->wdb_retry_ms = now + clock_backoff_next(&l->wdb_backoff_ms, 30000);
        log_warnx("audit writer: %s; retrying in %" PRId64 " ms", err,
                  l->wdb_backoff_ms);
        return;
    }
    if (!was_ready && live_pg_ready(l->wpg)) {
        l->wdb_backoff_ms = 0;
        log_info("audit writer: database ready");
    }
    if (live_sink_flush(l->sink, l->wpg, now) != LIVE_SINK_OK)
        log_warnx("audit writer: out of memory building a batch");
}

/* At a clean stop: what is queued gets up to two seconds to be written. */
void live_wdb_drain(struct live *l)
{
    int64_t until = clock_mono_ms() + 2000;

    while (live_sink_queued(l->sink) > 0 && live_pg_ready(l->wpg) &&
           clock_mono_ms() < until) {
        struct pollfd pfd;
        short ev = 0;

        live_wdb_step(l, clock_mono_ms());
        if ((pfd.fd = live_pg_fd(l->wpg, &ev)) < 0)
            break;
        pfd.events = ev;
        (void)poll(&pfd, 1, 100);
    }
}

static void live_log_rebuild(const char *day, const struct trips_db_summary *s)
{
    log_info("rebuilt %s in %.2f s: %zu vehicles, %zu fixes, %zu stop "
             "visits, %zu runs; trips %zu scheduled, %zu operated, %zu "
             "missed",
             day, s->seconds, s->vehicles, s->fixes, s->visits, s->runs,
             s->trips, s->operated, s->missed);
}

/* The rebuild process: the day before (when the day turned), then today.
 * Exit 1 only when the day before failed: today's fails quietly while no
 * feed is loaded, and is tried again next time. */
static int live_rebuild_job(void *arg)
{
    struct live *l = arg;
    struct trips_db_summary ts;
    char err[512];
    int rc = 0;

    if (l->rebuild_prev[0]) {
        if (trips_db_rebuild(live_writer(&l->conf), l->rebuild_prev, &ts, err,
                             sizeof err) == TRIPS_DB_OK)
            live_log_rebuild(l->rebuild_prev, &ts);
        else {
            log_warnx("rebuild of %s: %s", l->rebuild_prev, err);
            rc = 1;
        }
    }
    if (trips_db_rebuild(live_writer(&l->conf), l->rebuild_today, &ts, err,
                         sizeof err) != TRIPS_DB_OK)
        log_debug("rebuild of %s: %s", l->rebuild_today, err);
    else if (log_getverbose() > 0)
        live_log_rebuild(l->rebuild_today, &ts);
    return rc;
}

void live_rebuild_reap(struct live *l)
{
    int st;
    enum job_state s = job_reap(&l->rebuild, &st);

    if (s == JOB_IDLE || s == JOB_RUNNING)
        return;
    l->rebuilds++;
    if (s == JOB_DONE) {
        /* The reports' cached pages are of the tables before it. */
        if (l->reports)
            report_job_flush(l->reports);
        return;
    }
    l->rebuild_failures++;
    if (s == JOB_KILLED)
        log_warnx("rebuild process killed by signal %d", st);
    else if (s == JOB_FAILED)
        log_warnx("rebuild process failed (exit %d)", st);
    else
        log_warnx("rebuild process lost: %s", strerror(st));
}

/* Keep the derived tables current for the reports; never two at once,
 * never in the loop. */
void live_rebuild(struct live *l, int64_t now)
{
    char today[CLOCK_TEXT_MAX];

    l->next_rebuild_ms = now + l->conf.rebuild_interval_s * 1000;
    live_rebuild_reap(l);
    if (l->rebuild.pid > 0) {
        log_debug("rebuild still running; skipping this one");
        return;
    }
    if (live_today(l, today, NULL) != 0)
        return;
    snprintf(l->rebuild_prev, sizeof l->rebuild_prev, "%s",
             l->rebuilt_day[0] && strcmp(l->rebuilt_day, today) != 0
                 ? l->rebuilt_day
                 : "");
    snprintf(l->rebuild_today, sizeof l->rebuild_today, "%s", today);
    if (job_start(&l->rebuild, "rebuild", 10, live_rebuild_job, l, now) ==
        JOB_OK)
        snprintf(l->rebuilt_day, sizeof l->rebuilt_day, "%s", today);
    else
        log_warn("rebuild: fork");
}
