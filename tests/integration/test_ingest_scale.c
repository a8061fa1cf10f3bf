/* Ingest at fleet scale: 1,000 buses (shuttle-loadgen --ack) into two
 * backends sharing one subscription, with and without a PostgreSQL outage;
 * every record stored exactly once and every bus acknowledged to its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SCALE_VEHICLES 1000
#define SCALE_BATCH 10
#define SCALE_PREFIX "sc-"

/* SHUTTLE_SCALE_RECORDS (default 100,000; the README's long form uses
 * 1,000,000) and SHUTTLE_PG_OUTAGE_S (default 10; long form 30). */
static long env_long(const char *name, long def)
{
    const char *v = getenv(name);

    return v && *v ? strtol(v, NULL, 10) : def;
}

/* Appends to a growing string (the per-vehicle expectation as SQL). */
static char *append(char *s, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *append(char *s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    char buf[128];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s = realloc(s, *len + (size_t)n + 1);
    assert_non_null(s);
    memcpy(s + *len, buf, (size_t)n + 1);
    *len += (size_t)n;
    return s;
}

/* "(VALUES ('sc-00001', 100), ...) e(vid, last)": the last seq of each bus
 * as shuttle-loadgen deals them out (messages of SCALE_BATCH records,
 * vehicles in turn, the last message short). Caller frees. */
static char *expected_sql(long records)
{
    long last[SCALE_VEHICLES] = {0};
    long left = records;
    size_t len = 0;
    char *s = NULL;

    for (long k = 0; left > 0; k++) {
        long n = left < SCALE_BATCH ? left : SCALE_BATCH;

        last[k % SCALE_VEHICLES] += n;
        left -= n;
    }
    s = append(s, &len, "(VALUES ");
    for (int i = 0; i < SCALE_VEHICLES; i++)
        s = append(s, &len, "%s('%s%05d', %ld)", i ? "," : "", SCALE_PREFIX,
                   i + 1, last[i]);
    return append(s, &len, ") e(vid, last)");
}

static struct harness_proc *start_loadgen(struct harness_mqtt *m, long records,
                                          double rate, const char *log)
{
    char port[16], recs[24], r[32];
    const char *argv[] = {harness_bin("shuttle-loadgen"), "-p", port, "-n",
                          "1000", "-b", "10", "-m", recs, "-r", r, "-c", "2",
                          "--ack",
                          /* Quicker than the onboard's 10 s: the suite's
                           * time budget. */
                          "--resend-ms", "3000", "--wait-s", "150", "--prefix",
                          SCALE_PREFIX, NULL};

    snprintf(port, sizeof port, "%d", harness_mosquitto_port(m));
    snprintf(recs, sizeof recs, "%ld", records);
    snprintf(r, sizeof r, "%.0f", rate);
    return harness_spawn("shuttle-loadgen", (char *const *)argv, log);
}

static long long scalar(struct harness_pg *pg, const char *sql)
{
    long long v = harness_pg_scalar(pg, sql);

    if (v < 0)
        print_message("query failed: %s\n", sql);
    return v;
}

/* Exactly once, complete, acknowledged: the assertions both cases share. */
static void check_exactly_once(struct harness_pg *pg, long records,
                               const char *lg_log)
{
    char *exp = expected_sql(records);
    size_t cap = strlen(exp) + 1024;
    char *sql = malloc(cap);

    assert_non_null(sql);
    /* Nothing missing, nothing twice. */
    assert_int_equal(scalar(pg, "SELECT count(*) FROM positions WHERE"
                                " vehicle_id LIKE 'sc-%'"),
                     records);
    assert_int_equal(scalar(pg, "SELECT count(DISTINCT (vehicle_id, seq)) FROM"
                                " positions WHERE vehicle_id LIKE 'sc-%'"),
                     records);
    /* Every bus ends where loadgen's numbering ended, seq 1 up. */
    snprintf(sql, cap,
             "SELECT count(*) FROM %s LEFT JOIN (SELECT vehicle_id, min(seq)"
             " lo, max(seq) hi, count(*) n FROM positions GROUP BY"
             " vehicle_id) p ON p.vehicle_id = e.vid WHERE p.hi IS DISTINCT"
             " FROM e.last OR p.lo <> 1 OR p.n <> e.last",
             exp);
    assert_int_equal(scalar(pg, sql), 0);
    /* The watermark reached the end for every bus. */
    snprintf(sql, cap,
             "SELECT count(*) FROM %s LEFT JOIN vehicle_progress vp ON"
             " vp.vehicle_id = e.vid WHERE vp.acked_seq IS DISTINCT FROM"
             " e.last",
             exp);
    assert_int_equal(scalar(pg, sql), 0);
    assert_int_equal(scalar(pg, "SELECT count(*) FROM dead_letters"), 0);
    /* And the buses heard it (the loadgen waited for every ack). */
    assert_true(harness_log_has(lg_log, "acked      1000/1000 vehicles"));
    free(exp);
    free(sql);
}

struct scale_env {
    struct harness_mqtt *m;
    struct harness_pg *pg;
};

static void start_two_backends(struct harness_pg *pg, struct harness_mqtt *m,
                               const char *max_staged)
{
    const char *a[] = {"telemetry_topic=$share/ingest/shuttle/v1/+/telemetry",
                       "mqtt_client_id=ingest-a", max_staged, NULL};
    const char *b[] = {"telemetry_topic=$share/ingest/shuttle/v1/+/telemetry",
                       "mqtt_client_id=ingest-b", max_staged, NULL};

    assert_non_null(harness_backend_start(pg, m, a));
    assert_non_null(harness_backend_start(pg, m, b));
}

static char *lg_log_path(const char *tag)
{
    static char path[512];
    char *dir = harness_tmpdir(tag);

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/loadgen.log", dir);
    return path;
}

static void finish_loadgen(struct harness_proc *lg, const char *log)
{
    int rc = harness_wait(lg, 240000);

    if (rc != 0)
        harness_log_tail(log, 30);
    assert_int_equal(rc, 0);
    harness_log_tail(log, 8);
}

/* As fast as the loop goes: the shared subscription splits each bus's
 * stream over two processes, so watermarks must come from the database. */
static void test_scale_shared(void **state)
{
    long records = env_long("SHUTTLE_SCALE_RECORDS", 100000);
    struct harness_mqtt *m = harness_mosquitto_start_plain(
        NULL, "one load generator speaks as 1,000 buses (a certificate "
              "each would take minutes to make; test_broker_acl proves the "
              "ACL)");
    struct harness_pg *pg = harness_pg_start(1);
    const char *log = lg_log_path("scale");
    struct harness_proc *lg;

    assert_non_null(m);
    assert_non_null(pg);
    start_two_backends(pg, m, "max_staged=200000");
    lg = start_loadgen(m, records, 0, log);
    assert_non_null(lg);
    finish_loadgen(lg, log);
    check_exactly_once(pg, records, log);
}

/* PostgreSQL goes away mid-stream (immediate stop, i.e. a crash with
 * recovery) and comes back after SHUTTLE_PG_OUTAGE_S. The backends stage
 * only 5,000 records, so most of what arrives meanwhile is dropped
 * unacknowledged and only the buses' re-sends bring it back. */
static void test_scale_pg_outage(void **state)
{
    long records = env_long("SHUTTLE_SCALE_RECORDS", 100000);
    long outage = env_long("SHUTTLE_PG_OUTAGE_S", 10);
    struct harness_mqtt *m = harness_mosquitto_start_plain(
        NULL, "one load generator speaks as 1,000 buses (a certificate "
              "each would take minutes to make; test_broker_acl proves the "
              "ACL)");
    /* fsync on: the stop below is a crash, and the harness keeps fsync off
     * for servers that are never crashed. */
    struct harness_pg *pg = harness_pg_start(0);
    const char *log = lg_log_path("scale-outage");
    struct harness_proc *lg;
    /* Spread the load so the outage falls in the middle of it. */
    double seconds = outage * 3 > 20 ? (double)outage * 3 : 20;
    char sql[256];

    assert_non_null(m);
    assert_non_null(pg);
    start_two_backends(pg, m, "max_staged=5000");
    lg = start_loadgen(m, records, (double)records / seconds, log);
    assert_non_null(lg);

    snprintf(sql, sizeof sql,
             "SELECT (coalesce(sum(acked_seq), 0) >= %ld)::int FROM"
             " vehicle_progress WHERE vehicle_id LIKE 'sc-%%'",
             records / 4);
    assert_int_equal(harness_wait_scalar(pg, sql, 1, 60000), 0);
    print_message("stopping PostgreSQL for %ld s\n", outage);
    assert_true(harness_pg_stop(pg, 1) >= 0);
    harness_sleep_ms((int)(outage * 1000));
    assert_int_equal(harness_pg_restart(pg), 0);
    print_message("PostgreSQL back\n");

    finish_loadgen(lg, log);
    assert_false(harness_log_has(log, "resends    0 records"));
    check_exactly_once(pg, records, log);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_scale_shared, teardown),
        cmocka_unit_test_teardown(test_scale_pg_outage, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
