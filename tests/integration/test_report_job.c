/* Integration test of report_job against a real PostgreSQL: the pages a
 * small poll loop gets from the children are byte for byte what
 * `shuttle-report --format html` prints for the same day (and range), over
 * a read-only login; past days come from the cache; a bad date is a 400
 * without a child; a stopped server is a quick 503; the loop's steps never
 * wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "itest_db.h"
#include "report_job.h"

#define DAY "2026-03-10"
#define DAY2 "2026-03-11"
/* 2026-03-20 03:00 in Seoul: both days are over, whatever the real date. */
#define WALL_MS 1773943200000LL

static struct harness_pg *pg;
static char *tmp;
static char conn[600];

/* Two built days, every trip of the feed in each: the 7:30 runs missed,
 * the 8:00 runs late, boardings varying with the trip. */
static const char days_sql[] =
    "INSERT INTO trip_outcomes (service_day, trip_id, route_id, direction_id,"
    " block_id, scheduled_start, scheduled_end, status, vehicle_id,"
    " actual_start, actual_end, start_delay_s, end_delay_s, stops_scheduled,"
    " stops_visited, boarded, alighted, peak_load)"
    " SELECT d, t.trip_id, t.route_id, t.direction_id, t.block_id, s0, s1,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN 'missed' ELSE 'operated' END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL ELSE 'bus01' END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL ELSE s0 + dl END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL ELSE s1 + dl END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL"
    "   ELSE extract(epoch FROM dl)::int END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL"
    "   ELSE extract(epoch FROM dl)::int END,"
    "  n, CASE WHEN t.trip_id LIKE '%0730' THEN 0 ELSE n END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN 0 ELSE 10 + length(t.trip_id) END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN 0 ELSE 10 + length(t.trip_id) END,"
    "  CASE WHEN t.trip_id LIKE '%0730' THEN NULL ELSE 8 + length(t.trip_id)"
    "  END"
    " FROM (SELECT d::date AS d FROM (VALUES ('" DAY "'), ('" DAY2
    "')) v(d)) dd"
    " CROSS JOIN gtfs_trips t"
    " CROSS JOIN LATERAL (SELECT"
    "  (d::timestamp + make_interval(secs => min(st.departure_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s0,"
    "  (d::timestamp + make_interval(secs => max(st.arrival_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s1, count(*)::int AS n,"
    "  CASE WHEN t.trip_id LIKE '%0800' THEN interval '420 s'"
    "   ELSE interval '60 s' END AS dl"
    "  FROM gtfs_stop_times st WHERE st.trip_id = t.trip_id) x;"
    "INSERT INTO daily_ridership (service_day, boarded, alighted,"
    " runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late,"
    " unattributed_boarded, built_at)"
    " SELECT service_day, sum(boarded), sum(alighted), count(*),"
    " count(*) FILTER (WHERE status = 'operated'), 0,"
    " count(*) FILTER (WHERE status = 'missed'),"
    " count(*) FILTER (WHERE start_delay_s > 300), 0,"
    " service_day + interval '1 day 1 hour' FROM trip_outcomes"
    " GROUP BY service_day;"
    "CREATE ROLE report_ro LOGIN IN ROLE shuttle_read;";

static const struct report_query_params params = {
    .target = 1500,
    .seats = 45,
    .crowded_pct = 90,
    .late_s = 300,
    .counter_pct = 10,
    .counter_slack = 2,
    .english = 0,
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* shuttle-report -o database=CONN --format html ARGS... : its stdout. */
static char *shuttle_report(size_t *len, const char *a1, const char *a2,
                            const char *a3, const char *a4, const char *a5)
{
    char out[1024], db[700];
    pid_t pid;
    int st;

    snprintf(out, sizeof out, "%s/report.html", tmp);
    snprintf(db, sizeof db, "database=%s", conn);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char *argv[] = {(char *)harness_bin("shuttle-report"),
                        "-f",
                        "/dev/null",
                        "-o",
                        db,
                        "--format",
                        "html",
                        (char *)a1,
                        (char *)a2,
                        (char *)a3,
                        (char *)a4,
                        (char *)a5,
                        NULL};

        if (o < 0)
            _exit(127);
        dup2(o, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    return slurp(out, len);
}

struct got {
    int calls;
    struct report_job_answer a;
    int64_t at_ms;
};

static void on_done(void *arg, struct report_job_answer *a)
{
    struct got *g = arg;

    g->calls++;
    g->a = *a; /* the body is the test's now */
    g->at_ms = clock_mono_ms();
}

/* The longest report_job_step of the run, in µs: the loop's stall. */
static int64_t max_step_us;

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Run REQ through RJ from a poll loop like shuttle-live's. The answer,
 * whether NOW or LATER; *WHEN says which. */
static struct report_job_answer ask(struct report_job *rj,
                                    enum report_job_kind kind,
                                    const struct report_job_arg *args,
                                    size_t nargs, enum report_job_when *when,
                                    int64_t *ms)
{
    struct report_job_answer now = {0};
    struct got g = {0};
    uint64_t ticket = 0;
    int64_t t0 = clock_mono_ms();

    *when = report_job_request(rj, kind, args, nargs, "Asia/Seoul", WALL_MS, t0,
                               on_done, &g, &ticket, &now);
    if (*when == REPORT_JOB_NOW) {
        *ms = clock_mono_ms() - t0;
        return now;
    }
    while (g.calls == 0 && clock_mono_ms() - t0 < 60000) {
        struct pollfd pfd = {.fd = report_job_fd(rj), .events = POLLIN};
        int t = report_job_timeout_ms(rj, clock_mono_ms());
        int64_t s0;

        (void)poll(&pfd, 1, t < 0 || t > 1000 ? 1000 : t);
        s0 = mono_us();
        report_job_step(rj, clock_mono_ms());
        if (mono_us() - s0 > max_step_us)
            max_step_us = mono_us() - s0;
    }
    assert_int_equal(g.calls, 1);
    *ms = g.at_ms - t0;
    return g.a;
}

static struct report_job *new_job(void)
{
    struct report_job_options o = {0};
    struct report_job *rj;
    char err[256];

    o.conninfo = conn;
    o.params = params;
    o.timeout_ms = 30000;
    assert_int_equal(report_job_new(&o, &rj, err, sizeof err), REPORT_JOB_OK);
    return rj;
}

/* ---- tests ---------------------------------------------------------- */

static void test_daily_same_as_cli(void **state)
{
    struct report_job *rj = new_job();
    struct report_job_arg args[] = {{"date", DAY}};
    struct report_job_answer a, b;
    enum report_job_when when;
    struct report_job_stats st;
    size_t cli_len;
    char *cli = shuttle_report(&cli_len, "daily", "--date", DAY, NULL, NULL);
    int64_t ms, ms2;

    (void)state;
    a = ask(rj, REPORT_JOB_DAILY, args, 1, &when, &ms);
    assert_int_equal(when, REPORT_JOB_LATER);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "text/html; charset=utf-8");
    assert_true(cli_len > 1000);
    assert_non_null(strstr(cli, DAY));
    assert_int_equal(a.len, cli_len);
    assert_memory_equal(a.body, cli, cli_len);
    /* A past day: the second request is the cached page, at once. */
    b = ask(rj, REPORT_JOB_DAILY, args, 1, &when, &ms2);
    assert_int_equal(when, REPORT_JOB_NOW);
    assert_int_equal(b.status, 200);
    assert_int_equal(b.len, cli_len);
    assert_memory_equal(b.body, cli, cli_len);
    report_job_stats(rj, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.cache_hits, 1);
    free(b.body);
    /* After a rebuild the page is rendered anew. */
    report_job_flush(rj);
    b = ask(rj, REPORT_JOB_DAILY, args, 1, &when, &ms2);
    assert_int_equal(when, REPORT_JOB_LATER);
    assert_int_equal(b.status, 200);
    assert_int_equal(b.len, cli_len);
    free(b.body);
    b = ask(rj, REPORT_JOB_DAILY, args, 1, &when, &ms2);
    assert_int_equal(when, REPORT_JOB_NOW);
    fprintf(stderr,
            "daily %s: %zu bytes in %lld ms by a child, %lld ms cached; "
            "longest loop step %lld us\n",
            DAY, cli_len, (long long)ms, (long long)ms2,
            (long long)max_step_us);
    free(a.body);
    free(b.body);
    free(cli);
    report_job_free(rj);
}

static void test_default_day(void **state)
{
    struct report_job *rj = new_job();
    struct report_job_answer a;
    enum report_job_when when;
    int64_t ms;

    (void)state;
    /* WALL_MS is 2026-03-20 in Seoul: yesterday was never built. */
    a = ask(rj, REPORT_JOB_DAILY, NULL, 0, &when, &ms);
    assert_int_equal(when, REPORT_JOB_LATER);
    assert_int_equal(a.status, 404);
    assert_string_equal(a.content_type, "text/plain; charset=utf-8");
    assert_non_null(strstr(a.body, "2026-03-19"));
    free(a.body);
    report_job_free(rj);
}

static void test_range_same_as_cli(void **state)
{
    struct report_job *rj = new_job();
    struct report_job_arg args[] = {{"from", "2026-03-09"}, {"to", DAY2}};
    struct report_job_answer a;
    enum report_job_when when;
    size_t cli_len;
    char *cli =
        shuttle_report(&cli_len, "range", "--from", "2026-03-09", "--to", DAY2);
    int64_t ms;

    (void)state;
    a = ask(rj, REPORT_JOB_RANGE, args, 2, &when, &ms);
    assert_int_equal(when, REPORT_JOB_LATER);
    assert_int_equal(a.status, 200);
    assert_true(cli_len > 1000);
    assert_int_equal(a.len, cli_len);
    assert_memory_equal(a.body, cli, cli_len);
    fprintf(stderr, "range 2026-03-09..%s: %zu bytes in %lld ms\n", DAY2,
            cli_len, (long long)ms);
    free(a.body);
    free(cli);
    report_job_free(rj);
}

static void test_bad_date(void **state)
{
    struct report_job *rj = new_job();
    struct report_job_arg bad[] = {{"date", "2026-02-30"}};
    struct report_job_arg far[] = {{"from", "2026-01-01"},
                                   {"to", "2026-06-01"}};
    struct report_job_answer a;
    enum report_job_when when;
    struct report_job_stats st;
    int64_t ms;

    (void)state;
    a = ask(rj, REPORT_JOB_DAILY, bad, 1, &when, &ms);
    assert_int_equal(when, REPORT_JOB_NOW);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "2026-02-30"));
    free(a.body);
    a = ask(rj, REPORT_JOB_RANGE, far, 2, &when, &ms);
    assert_int_equal(a.status, 400);
    free(a.body);
    report_job_stats(rj, &st);
    assert_int_equal(st.started, 0);
    report_job_free(rj);
}

/* Runs last: the server is stopped. */
static void test_db_down(void **state)
{
    struct report_job *rj = new_job();
    struct report_job_arg args[] = {{"date", DAY2}};
    struct report_job_answer a;
    enum report_job_when when;
    int64_t ms;

    (void)state;
    assert_int_equal(harness_pg_stop(pg, 0), 0);
    a = ask(rj, REPORT_JOB_DAILY, args, 1, &when, &ms);
    assert_int_equal(when, REPORT_JOB_LATER);
    assert_int_equal(a.status, 503);
    assert_int_equal(a.len, strlen("database unavailable"));
    assert_memory_equal(a.body, "database unavailable", a.len);
    assert_true(ms < 5000);
    fprintf(stderr, "database down: 503 in %lld ms\n", (long long)ms);
    free(a.body);
    report_job_free(rj);
}

static int setup(void **state)
{
    (void)state;
    tmp = harness_tmpdir("report_job");
    pg = itest_db_with_feed();
    if (tmp == NULL || pg == NULL || harness_pg_exec(pg, days_sql) != 0)
        return -1;
    /* The children log in as a reader only, as shuttle-live's database. */
    snprintf(conn, sizeof conn, "%s", harness_pg_conninfo(pg));
    {
        char *u = strstr(conn, "user=postgres");

        if (u == NULL)
            return -1;
        memmove(u + strlen("user=report_ro"), u + strlen("user=postgres"),
                strlen(u + strlen("user=postgres")) + 1);
        memcpy(u, "user=report_ro", strlen("user=report_ro"));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_same_as_cli),
        cmocka_unit_test(test_default_day),
        cmocka_unit_test(test_range_same_as_cli),
        cmocka_unit_test(test_bad_date),
        cmocka_unit_test(test_db_down),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
