/* Bad payloads on a bus's telemetry topic become dead letters with the
 * reason, and the backend goes on to store the good batch after them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "wire.h"

#define DL_TOPIC "shuttle/v1/bus-x/telemetry"

struct dl_ctx {
    struct harness_mqtt *m;
    struct harness_pg *pg;
    char *dir;
    int published;
};

/* Publish the file PATH (NULL: an empty message) on TOPIC with QoS 1. */
static void publish(struct dl_ctx *c, const char *path)
{
    char port[16], log[512];
    struct harness_proc *p;

    snprintf(port, sizeof port, "%d", harness_mosquitto_port(c->m));
    snprintf(log, sizeof log, "%s/pub.log", c->dir);
    {
        char *argv[] = {"mosquitto_pub",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        port,
                        "-q",
                        "1",
                        "-t",
                        DL_TOPIC,
                        path ? "-f" : "-n",
                        (char *)path,
                        NULL};
        p = harness_spawn("mosquitto_pub", argv, log);
    }
    assert_non_null(p);
    if (harness_wait(p, 15000) != 0) {
        harness_log_tail(log, 10);
        fail_msg("mosquitto_pub %s failed", path ? path : "-n");
    }
    c->published++;
}

/* Write LEN bytes to the file NAME in the test folder. Returns its path,
 * valid until the 8th call after this one. */
static const char *write_file(struct dl_ctx *c, const char *name,
                              const void *buf, size_t len)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    FILE *f;

    snprintf(path, sizeof paths[0], "%s/%s", c->dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* A batch of N positions of VID from seq FIRST on, a minute old; the
 * encoded payload is the caller's to free. */
static uint8_t *make_batch(const char *vid, uint64_t first, size_t n,
                           double lat0, size_t *len)
{
    struct wire_record recs[16];
    struct wire_batch b;
    int64_t t = (int64_t)time(NULL) * 1000 - 60000;
    uint8_t *buf;
    size_t i;

    assert_true(n <= 16);
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    for (i = 0; i < n; i++) {
        struct wire_record *r = &recs[i];

        wire_position_init(r);
        r->seq = first + i;
        r->t_ms = t + (int64_t)i * 1000;
        r->time_source = WIRE_TIME_GPS;
        r->u.pos.lat = lat0 + (double)i * 1e-4;
        r->u.pos.lon = 126.6712345 + (double)i * 1e-4;
        r->u.pos.fix_mode = 3;
        r->u.pos.sats_used = 9;
    }
    b.n = n;
    b.records = recs;
    assert_int_equal(wire_batch_encode(&b, &buf, len), WIRE_OK);
    return buf;
}

/* Publish PATH (or an empty message) and wait for dead letter number
 * c->published to appear: one at a time, so ids follow the order sent.
 * Then check its reason starts with PREFIX, holds DETAIL (some words of
 * the cause; "" for any) and its payload_len is LEN. */
static void expect_dead(struct dl_ctx *c, const char *what, const char *path,
                        const char *prefix, const char *detail, long long len)
{
    char sql[512];
    long long id;

    publish(c, path);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM dead_letters");
    if (harness_wait_scalar(c->pg, sql, c->published, 10000) != 0)
        fail_msg("%s: no dead letter", what);
    id = harness_pg_scalar(c->pg, "SELECT max(id) FROM dead_letters");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM dead_letters WHERE id = %lld AND reason "
             "LIKE '%s:%%' AND length(reason) > length('%s: ') AND "
             "reason LIKE '%%%s%%' AND payload_len = %lld AND topic = '%s' "
             "AND vehicle_id = 'bus-x'",
             id, prefix, prefix, detail, len, DL_TOPIC);
    if (harness_pg_scalar(c->pg, sql) != 1) {
        snprintf(sql, sizeof sql,
                 "SELECT payload_len FROM dead_letters WHERE id = %lld", id);
        fail_msg("%s: dead letter %lld is not '%s:...%s...' with payload_len "
                 "%lld (payload_len %lld; the reason is in the backend log)",
                 what, id, prefix, detail, len, harness_pg_scalar(c->pg, sql));
    }
    print_message("%-22s -> dead letter %lld (%s:, %lld bytes)\n", what, id,
                  prefix, len);
}

static void test_dead_letters(void **state)
{
    struct dl_ctx c;
    struct harness_proc *be;
    struct wire_batch check;
    uint8_t rnd[256], *buf;
    size_t len, i;
    char *big;
    const char *path;

    memset(&c, 0, sizeof c);
    c.m = harness_mosquitto_start_plain(
        NULL, "any client may publish here, as on a misconfigured broker: "
              "the backend must dead-letter what it cannot store");
    c.pg = harness_pg_start(1);
    c.dir = harness_tmpdir("dead");
    assert_non_null(c.m);
    assert_non_null(c.pg);
    assert_non_null(c.dir);
    be = harness_backend_start(c.pg, c.m, NULL);
    assert_non_null(be);

    expect_dead(&c, "empty", NULL, "empty", "", 0);

    /* Fixed seed: the same bytes every run. They are not a protobuf
     * message (checked here, or the expectation would be wrong). */
    srand(20240501);
    for (i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)(rand() >> 7);
    assert_int_not_equal(wire_batch_decode(rnd, sizeof rnd, &check, NULL, 0),
                         WIRE_OK);
    path = write_file(&c, "random.bin", rnd, sizeof rnd);
    expect_dead(&c, "256 random bytes", path, "decode", "", 256);

    big = calloc(1, 1 << 20);
    assert_non_null(big);
    memset(big, 'x', 1 << 20);
    path = write_file(&c, "big.bin", big, 1 << 20);
    free(big);
    expect_dead(&c, "1 MiB", path, "too_big", "1048576", 1 << 20);

    /* Well-formed and valid, but another bus's on bus-x's topic. */
    buf = make_batch("bus-y", 1, 3, 37.59, &len);
    path = write_file(&c, "bus-y.bin", buf, len);
    free(buf);
    expect_dead(&c, "bus-y on bus-x", path, "vehicle", "bus-y", (long long)len);

    /* Cut inside the records: the length prefix of the last one runs past
     * the end. */
    buf = make_batch("bus-x", 1, 3, 37.59, &len);
    assert_int_not_equal(wire_batch_decode(buf, len / 2, &check, NULL, 0),
                         WIRE_OK);
    path = write_file(&c, "truncated.bin", buf, len / 2);
    free(buf);
    expect_dead(&c, "truncated batch", path, "decode", "",
                (long long)(len / 2));

    buf = make_batch("bus-x", 1, 1, 91.0, &len);
    path = write_file(&c, "lat91.bin", buf, len);
    free(buf);
    expect_dead(&c, "latitude 91", path, "invalid", "coordinates",
                (long long)len);

    /* None of that stored a row or stopped the backend. */
    assert_int_equal(harness_pg_scalar(c.pg, "SELECT count(*) FROM positions"),
                     0);
    assert_true(harness_alive(be));

    buf = make_batch("bus-x", 100, 5, 37.59, &len);
    path = write_file(&c, "good.bin", buf, len);
    free(buf);
    publish(&c, path);
    assert_int_equal(
        harness_wait_scalar(c.pg,
                            "SELECT count(*) FROM positions WHERE vehicle_id "
                            "= 'bus-x' AND seq BETWEEN 100 AND 104 AND "
                            "abs(lat - (37.59 + (seq - 100) * 1e-4)) < 1e-9",
                            5, 10000),
        0);
    assert_int_equal(harness_pg_scalar(c.pg, "SELECT count(*) FROM positions"),
                     5);
    assert_int_equal(harness_pg_scalar(c.pg, "SELECT count(*) FROM "
                                             "dead_letters"),
                     6);
    assert_true(harness_alive(be));
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_dead_letters, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
