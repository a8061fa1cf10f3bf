/* shuttle-backend's loop never waits for PostgreSQL: with the postmaster
 * stopped (SIGSTOP: it accepts TCP in the kernel, and never answers), a
 * reconnect is under way and /healthz and /metrics still answer at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Most an answer may take while the database hangs. */
#define LS_ANSWER_MS 1000

struct ls_reply {
    int status; /* -1: no answer within LS_ANSWER_MS */
    char body[1 << 16];
    double ms; /* how long it took */
};

static double ls_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* GET path over HTTP/1.0, reading to EOF, giving up after LS_ANSWER_MS. */
static void ls_get(int port, const char *path, struct ls_reply *r)
{
    struct timeval tv = {LS_ANSWER_MS / 1000, (LS_ANSWER_MS % 1000) * 1000};
    char req[256];
    static char buf[1 << 16];
    size_t got = 0;
    double t0 = ls_now_ms();
    int fd = harness_tcp_connect(port);
    const char *end;

    r->status = -1;
    r->body[0] = '\0';
    if (fd < 0) {
        r->ms = ls_now_ms() - t0;
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    (void)send(fd, req, strlen(req), MSG_NOSIGNAL);
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);

        if (n <= 0 || (got += (size_t)n) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    r->ms = ls_now_ms() - t0;
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = -1;
    if ((end = strstr(buf, "\r\n\r\n")) != NULL)
        snprintf(r->body, sizeof r->body, "%s", end + 4);
}

struct ls_ctx {
    int port;
    struct ls_reply r;
};

static int ls_healthy(void *arg)
{
    struct ls_ctx *c = arg;

    ls_get(c->port, "/healthz", &c->r);
    return c->r.status == 200;
}

static void test_db_hang(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct ls_ctx c;
    char opt[64];
    const char *opts[] = {opt, NULL};
    struct harness_proc *be;
    PGconn *ours;
    PGresult *res;
    double worst = 0;
    char bad[256] = "";

    (void)state;
    assert_non_null(m);
    assert_non_null(pg);
    memset(&c, 0, sizeof c);
    c.port = harness_free_port();
    assert_true(c.port > 0);
    snprintf(opt, sizeof opt, "http_port=%d", c.port);
    be = harness_backend_start(pg, m, opts);
    assert_non_null(be);
    assert_int_equal(harness_wait_port(c.port, be, 5000), 0);
    assert_int_equal(harness_wait_for(ls_healthy, &c, 5000), 0);

    /* Our session first: it keeps working with the postmaster stopped. */
    ours = PQconnectdb(harness_pg_conninfo(pg));
    assert_int_equal(PQstatus(ours), CONNECTION_OK);
    assert_int_equal(harness_kill(harness_pg_proc(pg), SIGSTOP), 0);
    /* End the backend's session: it reconnects, to a server that now
     * accepts the TCP connection and never says a word. */
    res = PQexec(ours, "SELECT count(pg_terminate_backend(pid)) FROM"
                       " pg_stat_activity WHERE application_name ="
                       " 'shuttle-backend'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "1");
    PQclear(res);

    /* Three seconds of questions: each answered within LS_ANSWER_MS. A
     * blocking PQconnectdb would leave every one without an answer. The
     * verdict waits until the server runs again: a stopped postmaster
     * would hold up the harness's clean-up. */
    harness_sleep_ms(300);
    for (int i = 0; i < 15 && !bad[0]; i++) {
        int health = i % 2 == 0;

        ls_get(c.port, health ? "/healthz" : "/metrics", &c.r);
        if (c.r.status < 0)
            snprintf(bad, sizeof bad,
                     "no answer within %d ms while the database hangs "
                     "(request %d)",
                     LS_ANSWER_MS, i);
        else if (health &&
                 (c.r.status != 503 || strstr(c.r.body, "database") == NULL))
            snprintf(bad, sizeof bad, "/healthz answered %d: %.80s", c.r.status,
                     c.r.body);
        else if (!health &&
                 (c.r.status != 200 ||
                  !strstr(c.r.body, "shuttle_backend_database_connected 0") ||
                  !strstr(c.r.body, "shuttle_backend_loop_stall_seconds_max ")))
            snprintf(bad, sizeof bad,
                     "/metrics answered %d without the "
                     "expected series",
                     c.r.status);
        if (c.r.ms > worst)
            worst = c.r.ms;
        harness_sleep_ms(200);
    }
    printf("slowest answer while the database hung: %.1f ms\n", worst);
    assert_int_equal(harness_kill(harness_pg_proc(pg), SIGCONT), 0);
    if (bad[0])
        fail_msg("%s", bad);

    /* The server wakes: the pending connect completes, or times out and
     * the next one does. */
    if (harness_wait_for(ls_healthy, &c, 40000) != 0)
        fail_msg("not healthy again after the database came back: %d %s",
                 c.r.status, c.r.body);
    PQfinish(ours);
    assert_int_equal(harness_stop(be), 0);
    harness_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_hang),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
