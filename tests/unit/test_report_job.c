/* report_job: request validation (dates, ranges, default day in the
 * service zone, no other parameters), and the child's life without a
 * database: refused connection, timeout, busy, sharing and cancelling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "report_job.h"

/* 2026-03-10 16:00 UTC: already 2026-03-11 01:00 in Seoul. */
#define T_MS 1773158400000LL

static int parse(enum report_job_kind kind, const char *k1, const char *v1,
                 const char *k2, const char *v2, const char *zone,
                 struct report_job_req *req, char *err, size_t errlen)
{
    struct report_job_arg a[2] = {{k1, v1}, {k2, v2}};
    size_t n = k2 ? 2 : k1 ? 1 : 0;

    return report_job_parse(kind, a, n, zone, T_MS, req, err, errlen);
}

static void test_daily_date(void **state)
{
    struct report_job_req r;
    char err[256];

    (void)state;
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-02-28", NULL, NULL,
                           "Asia/Seoul", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_int_equal(r.kind, REPORT_JOB_DAILY);
    assert_string_equal(r.from, "2026-02-28");
    assert_string_equal(r.to, "2026-02-28");
    assert_true(r.past);
    /* Leap day of a leap year only. */
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2024-02-29", NULL, NULL,
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-02-29", NULL, NULL,
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_non_null(strstr(err, "date: "));
    assert_non_null(strstr(err, "2026-02"));
}

static void test_daily_bad(void **state)
{
    static const char *bad[] = {
        "2026-3-10",  "20260310",   "2026-03-10x", "2026-13-01", "2026-00-10",
        "2026-04-31", "1969-12-31", "--------- ",  "",           "2026/03/10",
    };
    struct report_job_req r;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(REPORT_JOB_DAILY, "date", bad[i], NULL, NULL,
                               "UTC", &r, err, sizeof err),
                         REPORT_JOB_ERR_BAD);
        assert_true(strncmp(err, "date: ", 6) == 0);
        assert_null(strchr(err, '\n'));
    }
    /* "?date" with no value is not the default day. */
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", NULL, NULL, NULL, "UTC",
                           &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    /* What is not a date is never echoed back into the page. */
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "<script>x</script>", NULL,
                           NULL, "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_null(strchr(err, '<'));
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-03-01", "date",
                           "2026-03-02", "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_non_null(strstr(err, "more than once"));
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-03-01", "lang", "en",
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_non_null(strstr(err, "unknown parameter"));
    assert_int_equal(parse(REPORT_JOB_DAILY, "from", "2026-03-01", NULL, NULL,
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
}

/* No date: yesterday in the feed's zone, as shuttle-report does. */
static void test_daily_default(void **state)
{
    struct report_job_req r;
    char err[256];

    (void)state;
    assert_int_equal(parse(REPORT_JOB_DAILY, NULL, NULL, NULL, NULL,
                           "Asia/Seoul", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_string_equal(r.from, "2026-03-10");
    assert_true(r.past);
    assert_int_equal(parse(REPORT_JOB_DAILY, NULL, NULL, NULL, NULL, "UTC", &r,
                           err, sizeof err),
                     REPORT_JOB_OK);
    assert_string_equal(r.from, "2026-03-09");
    assert_int_equal(parse(REPORT_JOB_DAILY, NULL, NULL, NULL, NULL, NULL, &r,
                           err, sizeof err),
                     REPORT_JOB_ERR_ZONE);
    assert_int_equal(parse(REPORT_JOB_DAILY, NULL, NULL, NULL, NULL,
                           "Nowhere/Atlantis", &r, err, sizeof err),
                     REPORT_JOB_ERR_ZONE);
    /* With a date the zone only decides what may be cached. */
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-03-01", NULL, NULL,
                           NULL, &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_false(r.past);
}

/* Today (and later) changes with every rebuild: never cached. */
static void test_past(void **state)
{
    struct report_job_req r;
    char err[256];

    (void)state;
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-03-11", NULL, NULL,
                           "Asia/Seoul", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_false(r.past);
    assert_int_equal(parse(REPORT_JOB_DAILY, "date", "2026-03-11", NULL, NULL,
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_false(r.past);
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-01", "to",
                           "2026-03-10", "Asia/Seoul", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_true(r.past);
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-01", "to",
                           "2026-03-10", "UTC", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_false(r.past);
}

static void test_range(void **state)
{
    struct report_job_req r;
    char err[256];

    (void)state;
    /* 31 + 28 + 31 + 2 = 92 days: the most. */
    assert_int_equal(parse(REPORT_JOB_RANGE, "to", "2026-04-02", "from",
                           "2026-01-01", "UTC", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_int_equal(r.kind, REPORT_JOB_RANGE);
    assert_string_equal(r.from, "2026-01-01");
    assert_string_equal(r.to, "2026-04-02");
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-01-01", "to",
                           "2026-04-03", "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_non_null(strstr(err, "93 days"));
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-05", "to",
                           "2026-03-05", "UTC", &r, err, sizeof err),
                     REPORT_JOB_OK);
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-05", "to",
                           "2026-03-04", "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_non_null(strstr(err, "before"));
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-05", NULL, NULL,
                           "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-05", "to",
                           "2026-02-30", "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_true(strncmp(err, "to: ", 4) == 0);
    assert_int_equal(parse(REPORT_JOB_RANGE, "from", "2026-03-05", "date",
                           "2026-03-06", "UTC", &r, err, sizeof err),
                     REPORT_JOB_ERR_BAD);
    assert_int_equal(parse(REPORT_JOB_RANGE, NULL, NULL, NULL, NULL, "UTC", &r,
                           err, sizeof err),
                     REPORT_JOB_ERR_BAD);
}

static void test_kind_of(void **state)
{
    enum report_job_kind k = REPORT_JOB_RANGE;

    (void)state;
    assert_int_equal(report_job_kind_of("/report/daily", &k), 1);
    assert_int_equal(k, REPORT_JOB_DAILY);
    assert_int_equal(report_job_kind_of("/report/range", &k), 1);
    assert_int_equal(k, REPORT_JOB_RANGE);
    assert_int_equal(report_job_kind_of("/report/daily/", &k), 0);
    assert_int_equal(report_job_kind_of("/report", &k), 0);
    assert_int_equal(report_job_kind_of(NULL, &k), 0);
}

/* ---- children without a database ---------------------------------- */

struct got {
    int calls;
    int status;
    char body[256];
    int64_t at_ms;
};

static void on_done(void *arg, struct report_job_answer *a)
{
    struct got *g = arg;

    g->calls++;
    g->status = a->status;
    g->at_ms = clock_mono_ms();
    snprintf(g->body, sizeof g->body, "%.*s", (int)a->len,
             a->body ? a->body : "");
    free(a->body);
}

/* Poll and step until COND's calls reach WANT, all children are reaped,
 * or MAX_MS passed. */
static void run_loop(struct report_job *rj, const int *calls, int want,
                     int max_ms)
{
    int64_t end = clock_mono_ms() + max_ms;
    struct report_job_stats st;

    for (;;) {
        struct pollfd pfd = {.fd = report_job_fd(rj), .events = POLLIN};
        int t = report_job_timeout_ms(rj, clock_mono_ms());

        report_job_stats(rj, &st);
        if ((calls == NULL || *calls >= want) && st.running == 0)
            return;
        if (clock_mono_ms() > end)
            return;
        if (t < 0 || t > 100)
            t = 100;
        (void)poll(&pfd, 1, t);
        report_job_step(rj, clock_mono_ms());
    }
}

/* A port on loopback that refuses connections (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A listener that never answers: libpq waits for the server forever. */
static int mute_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct report_job *new_job(int port, int max_running, int timeout_ms)
{
    struct report_job_options o = {0};
    struct report_job *rj;
    char conn[128], err[256];

    snprintf(conn, sizeof conn,
             "host=127.0.0.1 port=%d dbname=shuttle user=nobody "
             "connect_timeout=60",
             port);
    o.conninfo = conn;
    o.params = (struct report_query_params){1500, 45, 90, 300, 10, 2, 0};
    o.max_running = max_running;
    o.timeout_ms = timeout_ms;
    assert_int_equal(report_job_new(&o, &rj, err, sizeof err), REPORT_JOB_OK);
    return rj;
}

static struct report_job_req req_of(const char *date)
{
    struct report_job_req r;
    char err[256];

    assert_int_equal(parse(REPORT_JOB_DAILY, "date", date, NULL, NULL, NULL, &r,
                           err, sizeof err),
                     REPORT_JOB_OK);
    return r;
}

static void test_db_down(void **state)
{
    struct report_job *rj = new_job(closed_port(), 2, 30000);
    struct report_job_req r = req_of("2026-03-10");
    struct report_job_answer now = {0};
    struct report_job_stats st;
    struct got g = {0};
    uint64_t ticket = 0;
    int64_t t0 = clock_mono_ms();

    (void)state;
    assert_int_equal(report_job_submit(rj, &r, t0, on_done, &g, &ticket, &now),
                     REPORT_JOB_LATER);
    assert_true(ticket != 0);
    assert_int_equal(g.calls, 0); /* never from inside submit */
    run_loop(rj, &g.calls, 1, 10000);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 503);
    assert_string_equal(g.body, "database unavailable");
    assert_true(g.at_ms - t0 < 5000);
    report_job_stats(rj, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.running, 0);
    report_job_free(rj);
}

static void test_timeout(void **state)
{
    int port, lfd = mute_listener(&port);
    struct report_job *rj = new_job(port, 2, 300);
    struct report_job_req r = req_of("2026-03-10");
    struct report_job_answer now = {0};
    struct report_job_stats st;
    struct got g = {0};
    uint64_t ticket;
    int64_t t0 = clock_mono_ms();

    (void)state;
    assert_int_equal(report_job_submit(rj, &r, t0, on_done, &g, &ticket, &now),
                     REPORT_JOB_LATER);
    assert_true(report_job_timeout_ms(rj, t0) <= 300);
    run_loop(rj, &g.calls, 1, 10000);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 503);
    assert_string_equal(g.body, "report timed out");
    assert_true(g.at_ms - t0 >= 300);
    assert_true(g.at_ms - t0 < 3000);
    report_job_stats(rj, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.running, 0); /* killed and reaped */
    assert_int_equal(report_job_timeout_ms(rj, clock_mono_ms()), -1);
    report_job_free(rj);
    close(lfd);
}

/* One child at most here: the same report joins it, another is refused,
 * a cancelled waiter is not called. */
static void test_busy_shared_cancel(void **state)
{
    int port, lfd = mute_listener(&port);
    struct report_job *rj = new_job(port, 1, 400);
    struct report_job_req a = req_of("2026-03-10"), b = req_of("2026-03-09");
    struct report_job_answer now = {0};
    struct report_job_stats st;
    struct got g1 = {0}, g2 = {0}, g3 = {0};
    uint64_t t1, t2, t3;
    int64_t t0 = clock_mono_ms();

    (void)state;
    assert_int_equal(report_job_submit(rj, &a, t0, on_done, &g1, &t1, &now),
                     REPORT_JOB_LATER);
    assert_int_equal(report_job_submit(rj, &b, t0, on_done, &g2, &t2, &now),
                     REPORT_JOB_NOW);
    assert_int_equal(now.status, 503);
    assert_int_equal(now.len, strlen("busy, retry"));
    assert_memory_equal(now.body, "busy, retry", now.len);
    free(now.body);
    assert_int_equal(report_job_submit(rj, &a, t0, on_done, &g2, &t2, &now),
                     REPORT_JOB_LATER);
    assert_int_equal(report_job_submit(rj, &a, t0, on_done, &g3, &t3, &now),
                     REPORT_JOB_LATER);
    assert_true(t1 != t2 && t2 != t3 && t1 != t3);
    report_job_cancel(rj, t2);
    run_loop(rj, &g1.calls, 1, 10000);
    assert_int_equal(g1.calls, 1);
    assert_int_equal(g1.status, 503);
    assert_int_equal(g2.calls, 0);
    assert_int_equal(g3.calls, 1);
    assert_string_equal(g3.body, "report timed out");
    report_job_stats(rj, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.shared, 2);
    assert_int_equal(st.busy, 1);
    report_job_free(rj);
    close(lfd);
}

/* Nobody waits for a page that will not be cached: its child goes. */
static void test_cancel_kills(void **state)
{
    int port, lfd = mute_listener(&port);
    struct report_job *rj = new_job(port, 1, 30000);
    struct report_job_req r = req_of("2026-03-10");
    struct report_job_answer now = {0};
    struct report_job_stats st;
    struct got g = {0};
    uint64_t ticket;

    (void)state;
    assert_false(r.past);
    assert_int_equal(
        report_job_submit(rj, &r, clock_mono_ms(), on_done, &g, &ticket, &now),
        REPORT_JOB_LATER);
    report_job_cancel(rj, ticket);
    run_loop(rj, NULL, 0, 5000);
    report_job_stats(rj, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(g.calls, 0);
    /* The slot is free again. */
    assert_int_equal(
        report_job_submit(rj, &r, clock_mono_ms(), on_done, &g, &ticket, &now),
        REPORT_JOB_LATER);
    report_job_free(rj);
    close(lfd);
}

static void test_request_bad(void **state)
{
    struct report_job *rj = new_job(closed_port(), 1, 1000);
    struct report_job_arg args[] = {{"date", "2026-02-30"}};
    struct report_job_answer now = {0};
    struct report_job_stats st;
    struct got g = {0};
    uint64_t ticket = 0;

    (void)state;
    assert_int_equal(report_job_request(rj, REPORT_JOB_DAILY, args, 1, "UTC",
                                        T_MS, clock_mono_ms(), on_done, &g,
                                        &ticket, &now),
                     REPORT_JOB_NOW);
    assert_int_equal(now.status, 400);
    assert_string_equal(now.content_type, "text/plain; charset=utf-8");
    assert_non_null(strstr(now.body, "2026-02 has days 01 to 28"));
    free(now.body);
    assert_int_equal(report_job_request(rj, REPORT_JOB_DAILY, NULL, 0, NULL,
                                        T_MS, clock_mono_ms(), on_done, &g,
                                        &ticket, &now),
                     REPORT_JOB_NOW);
    assert_int_equal(now.status, 503);
    free(now.body);
    report_job_stats(rj, &st);
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.started, 0);
    report_job_free(rj);
}

static void test_options(void **state)
{
    struct report_job_options o = {0};
    struct report_job *rj = NULL;
    char err[256];

    (void)state;
    assert_int_equal(report_job_new(&o, &rj, err, sizeof err),
                     REPORT_JOB_ERR_ARG);
    o.conninfo = "dbname=shuttle";
    o.max_running = 1000;
    assert_int_equal(report_job_new(&o, &rj, err, sizeof err),
                     REPORT_JOB_ERR_ARG);
    assert_non_null(strstr(err, "max_running"));
    assert_null(rj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_date),
        cmocka_unit_test(test_daily_bad),
        cmocka_unit_test(test_daily_default),
        cmocka_unit_test(test_past),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_db_down),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_busy_shared_cancel),
        cmocka_unit_test(test_cancel_kills),
        cmocka_unit_test(test_request_bad),
        cmocka_unit_test(test_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
