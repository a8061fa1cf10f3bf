/* shuttle-backend's HTTP side against the real thing: /healthz follows the
 * database and the broker, /metrics counts what was published, and other
 * paths, methods and oversized requests are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wire.h"

#define HT_VID "bus-h1"
#define HT_TOPIC "shuttle/v1/" HT_VID "/telemetry"
#define HT_RECORDS 5

struct ht_reply {
    int status;         /* -1: no status line came back */
    char head[4096];    /* status line and headers */
    char body[1 << 16]; /* NUL-terminated */
};

/*
 * One HTTP/1.0 exchange over a plain socket (the CI machine has no curl):
 * send REQ, read to EOF (the server closes after a 1.0 answer). False on a
 * connect failure only; a server that hangs up early gives status -1.
 */
static int ht_raw(int port, const char *req, size_t reqlen, struct ht_reply *r)
{
    static char buf[sizeof r->head + sizeof r->body];
    struct timeval tv = {5, 0};
    size_t got = 0, off = 0;
    char *end;
    int fd = harness_tcp_connect(port);

    memset(r, 0, sizeof *r);
    r->status = -1;
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (off < reqlen) {
        ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);

        if (n <= 0)
            break; /* the server may refuse before reading it all */
        off += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = -1;
    end = strstr(buf, "\r\n\r\n");
    if (end) {
        size_t hl = (size_t)(end - buf);

        if (hl >= sizeof r->head)
            hl = sizeof r->head - 1;
        memcpy(r->head, buf, hl);
        snprintf(r->body, sizeof r->body, "%s", end + 4);
    }
    return 1;
}

static int ht_request(int port, const char *method, const char *path,
                      struct ht_reply *r)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                     "Content-Length: 0\r\n\r\n",
                     method, path);

    return ht_raw(port, req, (size_t)n, r);
}

/* The value of the sample line that starts with SERIES ("name{labels}"),
 * or -1 when absent. */
static double ht_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while (p) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

struct ht_ctx {
    int port;
    struct ht_reply r;
    const char *series; /* for ht_metric_at_least */
    double want;
};

static int ht_metric_at_least(void *arg)
{
    struct ht_ctx *c = arg;

    return ht_request(c->port, "GET", "/metrics", &c->r) &&
           c->r.status == 200 && ht_sample(c->r.body, c->series) >= c->want;
}

static int ht_health_is(void *arg)
{
    struct ht_ctx *c = arg;

    return ht_request(c->port, "GET", "/healthz", &c->r) &&
           c->r.status == (int)c->want;
}

static void publish_file(struct harness_mqtt *m, const char *dir,
                         const char *name, const void *buf, size_t len)
{
    char path[512], log[512];
    struct harness_proc *p;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(log, sizeof log, "%s/pub.log", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    {
        const char *args[] = {"-q", "1", "-t", HT_TOPIC, "-f", path, NULL};

        p = harness_mosquitto_client(m, "mosquitto_pub", HT_VID, args, log);
    }
    assert_non_null(p);
    if (harness_wait(p, 15000) != 0) {
        harness_log_tail(log, 10);
        fail_msg("mosquitto_pub %s failed", name);
    }
}

/* HT_RECORDS positions from seq 1, a minute old; the caller frees. */
static uint8_t *good_batch(size_t *len)
{
    struct wire_record recs[HT_RECORDS];
    struct wire_batch b;
    int64_t t = (int64_t)time(NULL) * 1000 - 60000;
    uint8_t *buf;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", HT_VID);
    for (size_t i = 0; i < HT_RECORDS; i++) {
        wire_position_init(&recs[i]);
        recs[i].seq = 1 + i;
        recs[i].t_ms = t + (int64_t)i * 1000;
        recs[i].time_source = WIRE_TIME_GPS;
        recs[i].u.pos.lat = 37.5901234 + (double)i * 1e-4;
        recs[i].u.pos.lon = 126.6712345 + (double)i * 1e-4;
        recs[i].u.pos.fix_mode = 3;
        recs[i].u.pos.sats_used = 9;
    }
    b.n = HT_RECORDS;
    b.records = recs;
    assert_int_equal(wire_batch_encode(&b, &buf, len), WIRE_OK);
    return buf;
}

static void test_http(void **state)
{
    /* Truncated varints: no protobuf reader takes this. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff};
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    char *dir = harness_tmpdir("http");
    struct ht_ctx c;
    char opt[64];
    const char *opts[] = {opt, NULL};
    struct harness_proc *be;
    uint8_t *buf;
    size_t len;
    double seen;
    char *big;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(dir);
    memset(&c, 0, sizeof c);
    c.port = harness_free_port();
    assert_true(c.port > 0);
    snprintf(opt, sizeof opt, "http_port=%d", c.port);
    be = harness_backend_start(pg, m, opts);
    assert_non_null(be);
    assert_int_equal(harness_wait_port(c.port, be, 5000), 0);

    /* Both up (the harness waited for both log lines). */
    assert_true(ht_request(c.port, "GET", "/healthz", &c.r));
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body, "ok\n");
    /* Query strings are ignored; HEAD has the headers and no body. */
    assert_true(ht_request(c.port, "GET", "/healthz?verbose=1", &c.r));
    assert_int_equal(c.r.status, 200);
    assert_true(ht_request(c.port, "HEAD", "/metrics", &c.r));
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body, "");
    assert_non_null(strstr(c.r.head, "Content-Length: "));

    /* One good batch, one undecodable payload. */
    buf = good_batch(&len);
    publish_file(m, dir, "good.bin", buf, len);
    free(buf);
    publish_file(m, dir, "garbage.bin", garbage, sizeof garbage);

    c.series = "shuttle_backend_records_committed_total";
    c.want = HT_RECORDS;
    if (harness_wait_for(ht_metric_at_least, &c, 10000) != 0)
        fail_msg("records committed never reached %d; last answer %d:\n%s",
                 HT_RECORDS, c.r.status, c.r.body);
    /* The ack follows the commit in the same step; the decode refusal
     * arrived after the batch. Wait for both before reading the rest. */
    c.series = "shuttle_backend_vehicle_acked_seq{vehicle=\"" HT_VID "\"}";
    c.want = HT_RECORDS;
    assert_int_equal(harness_wait_for(ht_metric_at_least, &c, 5000), 0);
    c.series = "shuttle_backend_rejected_total{reason=\"decode\"}";
    c.want = 1;
    assert_int_equal(harness_wait_for(ht_metric_at_least, &c, 5000), 0);
    /* Not print_message: its buffer cuts the exposition short. */
    printf("/metrics after one good batch and one bad payload:\n");
    fputs(c.r.body, stdout);

    assert_non_null(strstr(c.r.head, "Content-Type: text/plain; "
                                     "version=0.0.4"));
    assert_true(ht_sample(c.r.body, "shuttle_backend_rejected_total"
                                    "{reason=\"decode\"}") == 1);
    assert_true(ht_sample(c.r.body, "shuttle_backend_rejected_total"
                                    "{reason=\"invalid\"}") == 0);
    assert_true(ht_sample(c.r.body, "shuttle_backend_messages_total") == 2);
    assert_true(ht_sample(c.r.body, "shuttle_backend_records_received_total") ==
                HT_RECORDS);
    assert_true(
        ht_sample(c.r.body, "shuttle_backend_records_committed_total") ==
        HT_RECORDS);
    assert_true(ht_sample(c.r.body, "shuttle_backend_commits_total") >= 1);
    assert_true(ht_sample(c.r.body, "shuttle_backend_vehicle_acked_seq"
                                    "{vehicle=\"" HT_VID "\"}") == HT_RECORDS);
    assert_true(ht_sample(c.r.body, "shuttle_backend_database_connected") == 1);
    assert_true(ht_sample(c.r.body, "shuttle_backend_mqtt_connected") == 1);
    assert_true(ht_sample(c.r.body, "shuttle_backend_vehicles") == 1);
    seen = ht_sample(c.r.body, "shuttle_backend_vehicle_last_seen_seconds"
                               "{vehicle=\"" HT_VID "\"}");
    assert_true(seen > (double)time(NULL) - 60 &&
                seen <= (double)time(NULL) + 1);
    /* Every commit is in both histograms: the +Inf bucket is the count. */
    assert_true(ht_sample(c.r.body, "shuttle_backend_commit_records_count") >=
                1);
    assert_true(ht_sample(c.r.body, "shuttle_backend_commit_records_bucket"
                                    "{le=\"+Inf\"}") ==
                ht_sample(c.r.body, "shuttle_backend_commit_records_count"));
    assert_true(ht_sample(c.r.body, "shuttle_backend_commit_records_sum") >=
                HT_RECORDS);
    assert_true(
        ht_sample(c.r.body, "shuttle_backend_commit_duration_seconds_bucket"
                            "{le=\"+Inf\"}") ==
        ht_sample(c.r.body, "shuttle_backend_commit_duration_seconds_count"));
    assert_true(ht_sample(c.r.body, "shuttle_backend_staged_records") == 0);
    /* HELP and TYPE once per family, even with a sample per reason. */
    {
        const char *p =
            strstr(c.r.body, "# TYPE shuttle_backend_rejected_total counter\n");

        assert_non_null(p);
        assert_null(strstr(p + 1, "# TYPE shuttle_backend_rejected_total"));
    }

    /* Other paths, other methods, oversized requests. */
    assert_true(ht_request(c.port, "GET", "/nope", &c.r));
    assert_int_equal(c.r.status, 404);
    assert_true(ht_request(c.port, "GET", "/metrics/", &c.r));
    assert_int_equal(c.r.status, 404);
    assert_true(ht_request(c.port, "POST", "/metrics", &c.r));
    assert_int_equal(c.r.status, 405);
    assert_non_null(strstr(c.r.head, "Allow: GET, HEAD"));
    assert_true(ht_request(c.port, "DELETE", "/healthz", &c.r));
    assert_int_equal(c.r.status, 405);
    big = malloc(64 * 1024);
    assert_non_null(big);
    len = (size_t)snprintf(big, 64 * 1024,
                           "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                           "X-Padding: ");
    memset(big + len, 'a', 40 * 1024);
    len += 40 * 1024;
    len += (size_t)snprintf(big + len, 64 * 1024 - len, "\r\n\r\n");
    assert_true(ht_raw(c.port, big, len, &c.r));
    free(big);
    print_message("40 KiB of headers: status %d\n", c.r.status);
    assert_int_equal(c.r.status, 431); /* MHD's answer past the cap */
    /* Still serving after all that. */
    assert_true(ht_request(c.port, "GET", "/healthz", &c.r));
    assert_int_equal(c.r.status, 200);

    /* The database goes: /healthz says so without waiting for traffic. */
    assert_true(harness_pg_stop(pg, 0) >= 0);
    c.want = 503;
    if (harness_wait_for(ht_health_is, &c, 10000) != 0)
        fail_msg("/healthz still %d after PostgreSQL stopped: %s", c.r.status,
                 c.r.body);
    assert_string_equal(c.r.body, "database down\n");
    c.series = "shuttle_backend_database_connected";
    c.want = 0;
    assert_true(ht_metric_at_least(&c));
    assert_true(ht_sample(c.r.body, "shuttle_backend_database_connected") == 0);

    /* And the broker too. */
    assert_true(harness_mosquitto_stop(m) >= 0);
    c.want = 503;
    for (int i = 0; i < 100; i++) {
        assert_true(ht_request(c.port, "GET", "/healthz", &c.r));
        if (strcmp(c.r.body, "database and broker down\n") == 0)
            break;
        harness_sleep_ms(100);
    }
    assert_int_equal(c.r.status, 503);
    assert_string_equal(c.r.body, "database and broker down\n");

    /* A clean stop with the HTTP server in the loop. */
    assert_int_equal(harness_stop(be), 0);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_http, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
