/* shuttle-live against the real thing: it loads the day's timetable from
 * PostgreSQL without blocking (/healthz 503 "loading" until then), takes
 * telemetry from mosquitto with its own clean session and validates it
 * with the ingest rule set (bad messages counted by reason), serves
 * /debug/vehicles, runs the periodic rebuild in a child (the backend beside
 * it, given an old config that still sets rebuild_interval_s, starts and
 * warns that the rebuild is shuttle-live's), and after kill -9 is healthy
 * again within 10 s of its restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "itest.h"
#include "hash.h"
#include "wire.h"

#define LV_VID "bus-l1"
#define LV_RECORDS 5

static struct harness_pg *pg;
static struct harness_mqtt *mq;
static char *dir;
static int http_port;
static char body[1 << 16];

/* GET PATH over HTTP/1.0 from shuttle-live: the status (-1 when nothing
 * answered), the body in `body`. */
static int lv_get(const char *path)
{
    return itest_http_get(http_port, path, body, sizeof body);
}

/* The value of the /metrics sample SERIES, or -1. */
static double lv_metric(const char *series)
{
    if (lv_get("/metrics") != 200)
        return -1;
    return itest_metric_value(body, series);
}

/* /debug/vehicles lists LV_VID with a fix time (restored, 0 fixes taken
 * since the start). */
static int lv_vehicle_restored(void *arg)
{
    const char *line;

    (void)arg;
    if (lv_get("/debug/vehicles") != 200 || !(line = strstr(body, LV_VID " ")))
        return 0;
    return strncmp(line + strlen(LV_VID " "), "- ", 2) != 0;
}

static int lv_healthy(void *arg)
{
    (void)arg;
    return lv_get("/healthz") == 200;
}

struct lv_want {
    const char *series;
    double at_least;
};

static int lv_metric_reached(void *arg)
{
    const struct lv_want *w = arg;

    return lv_metric(w->series) >= w->at_least;
}

static void lv_wait_metric(const char *series, double at_least)
{
    struct lv_want w = {series, at_least};

    if (harness_wait_for(lv_metric_reached, &w, 30000) != 0)
        fail_msg("%s never reached %g (last /metrics:\n%s)", series, at_least,
                 body);
}

/* Start shuttle-live; INSTANCE (e.g. "instance=1"), if not NULL, with
 * instances=2. */
static struct harness_proc *lv_start_as(const char *instance)
{
    static int runs;
    char db[600], mport[64], hport[64], log[512];
    const char *tls[3];

    assert_int_equal(harness_mosquitto_identity_opts(mq, "shuttle-live", tls),
                     0);
    char *argv[] = {(char *)harness_bin("shuttle-live"),
                    "-d",
                    "-v",
                    "-o",
                    db,
                    "-o",
                    mport,
                    "-o",
                    hport,
                    "-o",
                    "rebuild_interval_s=2",
                    "-o",
                    (char *)tls[0],
                    "-o",
                    (char *)tls[1],
                    "-o",
                    (char *)tls[2],
                    "-o",
                    "instances=2",
                    "-o",
                    (char *)instance,
                    NULL};

    if (!instance)
        argv[17] = NULL;

    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    snprintf(mport, sizeof mport, "mqtt_port=%d", harness_mosquitto_port(mq));
    snprintf(hport, sizeof hport, "http_port=%d", http_port);
    snprintf(log, sizeof log, "%s/live-%d.log", dir, ++runs);
    return harness_spawn("shuttle-live", argv, log);
}

static struct harness_proc *lv_start(void)
{
    return lv_start_as(NULL);
}

static void lv_publish(const char *vid_topic, const void *buf, size_t len)
{
    static int n;
    char path[512], log[512], topic[128];
    struct harness_proc *p;
    FILE *f;

    snprintf(path, sizeof path, "%s/msg-%d", dir, ++n);
    snprintf(log, sizeof log, "%s/pub.log", dir);
    snprintf(topic, sizeof topic, "shuttle/v1/%s/telemetry", vid_topic);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    {
        const char *args[] = {"-q", "1", "-t", topic, "-f", path, NULL};

        p = harness_mosquitto_client(mq, "mosquitto_pub", vid_topic, args, log);
    }
    assert_non_null(p);
    assert_int_equal(harness_wait(p, 15000), 0);
}

/* LV_RECORDS positions of VID, a minute old; record BAD (if < LV_RECORDS)
 * at (0, 0), which the rule set refuses. The caller frees. */
static uint8_t *lv_batch(const char *vid, size_t bad, size_t *len)
{
    struct wire_record recs[LV_RECORDS];
    struct wire_batch b;
    int64_t t = (int64_t)time(NULL) * 1000 - 60000;
    uint8_t *buf;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    for (size_t i = 0; i < LV_RECORDS; i++) {
        wire_position_init(&recs[i]);
        recs[i].seq = 1 + i;
        recs[i].t_ms = t + (int64_t)i * 1000;
        recs[i].u.pos.lat = i == bad ? 0 : 37.5901234 + (double)i * 1e-4;
        recs[i].u.pos.lon = i == bad ? 0 : 126.6712345 + (double)i * 1e-4;
        recs[i].u.pos.fix_mode = 3;
        recs[i].u.pos.sats_used = 9;
    }
    b.n = LV_RECORDS;
    b.records = recs;
    assert_int_equal(wire_batch_encode(&b, &buf, len), WIRE_OK);
    return buf;
}

static void test_live_daemon(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff};
    static const char *const old_backend_conf[] = {"rebuild_interval_s=1",
                                                   NULL};
    struct harness_proc *lv, *be;
    uint8_t *buf;
    size_t len;
    double took;

    (void)state;
    mq = harness_mosquitto_start(NULL);
    pg = harness_pg_start(1);
    dir = harness_tmpdir("live");
    assert_non_null(mq);
    assert_non_null(pg);
    assert_non_null(dir);
    http_port = harness_free_port();
    assert_int_equal(itest_load_gtfs(pg, NULL, NULL, 0), 0);
    /* Ingest beside it stores what the bus sends: the restart reads it.
     * It is given rebuild_interval_s, as an old backend.conf would: it
     * starts all the same and says whose duty the rebuild is now. */
    be = harness_backend_start(pg, mq, old_backend_conf);
    assert_non_null(be);
    if (!harness_log_has(harness_proc_log(be),
                         "rebuild_interval_s is ignored: the periodic rebuild "
                         "of the derived tables is shuttle-live's now"))
        fail_msg("no warning about rebuild_interval_s in %s",
                 harness_proc_log(be));

    lv = lv_start();
    assert_non_null(lv);
    assert_int_equal(harness_wait_port(http_port, lv, 15000), 0);
    if (harness_wait_for(lv_healthy, NULL, 30000) != 0) {
        harness_log_tail(harness_proc_log(lv), 30);
        fail_msg("shuttle-live never healthy: %s", body);
    }
    /* Healthy means the day's timetable is in (deploy/gtfs runs daily). */
    if (lv_metric("shuttle_live_loaded") != 1)
        fail_msg("not loaded; /metrics:\n%s", body);
    /* Every trip of the shipped feed follows its shape (deploy/gtfs has
     * one per route and direction, through every stop). */
    if (lv_metric("shuttle_live_trips_on_shape") < 52 ||
        lv_metric("shuttle_live_trips_shape_refused") != 0)
        fail_msg("shapes not used; /metrics:\n%s", body);

    /* A good batch: every record reaches the bus's state. */
    buf = lv_batch(LV_VID, LV_RECORDS, &len);
    lv_publish(LV_VID, buf, len);
    free(buf);
    lv_wait_metric("shuttle_live_records_total", LV_RECORDS);
    assert_int_equal(lv_get("/debug/vehicles"), 200);
    assert_non_null(strstr(body, LV_VID " "));
    /* 5 fixes, 0 counts, then the tracker's status trip pos delay */
    assert_non_null(strstr(body, " 5 0 "));
    assert_int_equal(lv_get("/debug/predictions"), 200);
    assert_non_null(strstr(body, "# trip_id\tstop_sequence"));

    /* Bad input is counted by reason and the daemon keeps going. */
    lv_publish(LV_VID, garbage, sizeof garbage);
    lv_wait_metric("shuttle_live_rejected_total{reason=\"decode\"}", 1);
    buf = lv_batch("bus-other", LV_RECORDS, &len);
    lv_publish(LV_VID, buf, len); /* vehicle id is not the topic's */
    free(buf);
    lv_wait_metric("shuttle_live_rejected_total{reason=\"vehicle\"}", 1);
    buf = lv_batch("bus-l2", 2, &len);
    lv_publish("bus-l2", buf, len);
    free(buf);
    lv_wait_metric("shuttle_live_rejected_total{reason=\"record\"}", 1);
    lv_wait_metric("shuttle_live_records_total", 2 * LV_RECORDS - 1);
    assert_int_equal(lv_get("/debug/nothing"), 404);

    /* The rebuild ran in a child beside the loop, and finished. */
    lv_wait_metric("shuttle_live_rebuilds_total", 1);
    assert_true(lv_metric("shuttle_live_rebuild_failures_total") == 0);

    /* kill -9 and restart: healthy (timetable loaded) within 10 s. */
    assert_int_equal(harness_kill(lv, SIGKILL), 0);
    assert_int_equal(harness_wait(lv, 5000), 128 + SIGKILL);
    {
        struct timespec a, b;

        clock_gettime(CLOCK_MONOTONIC, &a);
        lv = lv_start();
        assert_non_null(lv);
        assert_int_equal(harness_wait_for(lv_healthy, NULL, 30000), 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        took = (double)(b.tv_sec - a.tv_sec) +
               (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    }
    print_message("shuttle-live healthy %.2f s after its restart\n", took);
    assert_true(took <= 10.0);
    /* Its state is back from the database, before any new fix: the bus
     * and the time of its newest stored fix. */
    assert_int_equal(harness_wait_for(lv_vehicle_restored, NULL, 10000), 0);
    assert_int_equal(harness_stop(lv), 0);

    /* Two instances share the fleet: the one that does not own the bus
     * (FNV-1a of its id mod 2) counts its messages and keeps none. */
    {
        char inst[32];

        snprintf(inst, sizeof inst, "instance=%d",
                 (int)((hash_fnv1a_str(LV_VID) + 1) % 2));
        lv = lv_start_as(inst);
        assert_non_null(lv);
        assert_int_equal(harness_wait_for(lv_healthy, NULL, 30000), 0);
        buf = lv_batch(LV_VID, LV_RECORDS, &len);
        lv_publish(LV_VID, buf, len);
        free(buf);
        lv_wait_metric("shuttle_live_not_owned_total", 1);
        assert_true(lv_metric("shuttle_live_records_total") == 0);
        assert_int_equal(lv_get("/debug/vehicles"), 200);
        assert_null(strstr(body, LV_VID " "));
        assert_int_equal(harness_stop(lv), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_daemon),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    harness_cleanup();
    return rc;
}
