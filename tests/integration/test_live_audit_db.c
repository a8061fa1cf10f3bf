/* shuttle-live learns from the stored history and writes its self-audit:
 * past days' stop_visits (as the superuser) are learnt, exactly those on
 * today's trips, the rows of a trip no longer in the feed skipped; a bus
 * driving a trip under a fake clock (its fixes along the stop coordinates,
 * faster than the timetable) leaves rows in eta_samples for that trip,
 * stop and horizon with the arrival the tracker saw; and a restart that
 * scores the same trip again does not double them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "harness.h"
#include "itest.h"
#include "svcday.h"
#include "wire.h"

#define AD_DAY "2026-03-02" /* a Monday: the past days mix day types */
#define AD_TRIP "R1-IN-0600"
#define AD_VID "bus-a1"
#define AD_HISTORY_DAYS 5
#define AD_STOPS 7      /* of AD_TRIP */
#define AD_OLD_STOPS 3  /* a trip of an older feed, per day */
#define AD_SEG_FIXES 10 /* fixes between two stops, one a second */
#define AD_STOP_FIXES 3 /* fixes standing at each stop */
#define AD_LEAD_S 40    /* the daemon starts this long before 06:00 */
/* The daemon's wall clock runs this many times as fast as the real one
 * (tests/integration/fake_clock.c): the drives take an eighth of the time
 * while every fix is still a (fake) second after the one before. */
#define AD_RATE 8

static struct harness_pg *pg;
static struct harness_mqtt *mq;
static char *dir;
static int http_port;
static char body[1 << 16];
static uint64_t seq;
/* The bus's link: a fix a second for minutes, one client (a
 * mosquitto_pub each would be hundreds of processes). */
static struct mosquitto *pub;

struct ad_stop {
    char id[16];
    double lat, lon;
    int sequence;
};

static struct ad_stop stops[AD_STOPS];

/* GET PATH from shuttle-live over HTTP/1.0: the status (-1 none), the
 * body in `body`. */
static int ad_get(const char *path)
{
    return itest_http_get(http_port, path, body, sizeof body);
}

/* The value of /metrics sample SERIES, or -1. */
static double ad_metric(const char *series)
{
    if (ad_get("/metrics") != 200)
        return -1;
    return itest_metric_value(body, series);
}

struct ad_want {
    const char *series;
    double at_least;
};

static int ad_reached(void *arg)
{
    const struct ad_want *w = arg;

    return ad_metric(w->series) >= w->at_least;
}

static void ad_wait_metric(const char *series, double at_least, int ms)
{
    struct ad_want w = {series, at_least};

    if (harness_wait_for(ad_reached, &w, ms) != 0)
        fail_msg("%s never reached %g (last /metrics:\n%s)", series, at_least,
                 body);
}

/* AD_TRIP's stops, in order, from the loaded feed. */
static void ad_read_stops(void)
{
    for (int i = 0; i < AD_STOPS; i++) {
        char sql[512];
        long long v;

        snprintf(sql, sizeof sql,
                 "SELECT stop_sequence FROM gtfs_stop_times WHERE trip_id = "
                 "'" AD_TRIP "' ORDER BY stop_sequence OFFSET %d LIMIT 1",
                 i);
        assert_true((v = harness_pg_scalar(pg, sql)) >= 0);
        stops[i].sequence = (int)v;
        /* lat/lon in micro-degrees keep harness_pg_scalar's integers */
        snprintf(
            sql, sizeof sql,
            "SELECT round(s.stop_lat * 1e6) FROM gtfs_stop_times st"
            " JOIN gtfs_stops s USING (stop_id) WHERE st.trip_id = '" AD_TRIP
            "' AND st.stop_sequence = %d",
            stops[i].sequence);
        stops[i].lat = (double)harness_pg_scalar(pg, sql) / 1e6;
        snprintf(
            sql, sizeof sql,
            "SELECT round(s.stop_lon * 1e6) FROM gtfs_stop_times st"
            " JOIN gtfs_stops s USING (stop_id) WHERE st.trip_id = '" AD_TRIP
            "' AND st.stop_sequence = %d",
            stops[i].sequence);
        stops[i].lon = (double)harness_pg_scalar(pg, sql) / 1e6;
        assert_true(stops[i].lat > 37 && stops[i].lon > 126);
    }
}

/*
 * The past: on each of the AD_HISTORY_DAYS days before AD_DAY, AD_TRIP
 * driven at half its scheduled running times (10 s dwell), plus
 * AD_OLD_STOPS visits of a trip today's feed does not have. Beside them,
 * rows the read must not take: the day before the window, today, and a
 * visit of no trip.
 */
static void ad_insert_history(void)
{
    char sql[4096];

    snprintf(sql, sizeof sql,
             "INSERT INTO stop_visits (service_day, vehicle_id, stop_id,"
             " arrival, departure, stopped, trip_id, stop_sequence)"
             " SELECT d::date, 'bus-h', st.stop_id,"
             " (d::date + time '06:00') AT TIME ZONE shuttle_service_tz()"
             "   + (st.arrival_secs - 21600) * interval '0.5 s',"
             " (d::date + time '06:00') AT TIME ZONE shuttle_service_tz()"
             "   + (st.arrival_secs - 21600) * interval '0.5 s'"
             "   + interval '10 s', true, st.trip_id, st.stop_sequence"
             " FROM generate_series(date '" AD_DAY "' - %d,"
             "  date '" AD_DAY "', interval '1 day') d,"
             " gtfs_stop_times st WHERE st.trip_id = '" AD_TRIP "';"
             "INSERT INTO stop_visits (service_day, vehicle_id, stop_id,"
             " arrival, departure, stopped, trip_id, stop_sequence)"
             " SELECT d::date, 'bus-old', 'GA01',"
             " d::date + time '07:00' + k * interval '1 min',"
             " d::date + time '07:00' + k * interval '1 min', true,"
             " 'OLD-FEED-TRIP', k"
             " FROM generate_series(date '" AD_DAY "' - %d,"
             "  date '" AD_DAY "' - 1, interval '1 day') d,"
             " generate_series(1, %d) k;"
             "INSERT INTO stop_visits (service_day, vehicle_id, stop_id,"
             " arrival, departure, stopped)"
             " VALUES (date '" AD_DAY "' - 1, 'bus-x', 'GA01',"
             " timestamptz '" AD_DAY " 01:00+09' - interval '1 day',"
             " timestamptz '" AD_DAY " 01:00+09' - interval '1 day', true);",
             AD_HISTORY_DAYS + 1, AD_HISTORY_DAYS, AD_OLD_STOPS);
    assert_int_equal(harness_pg_exec(pg, sql), 0);
    /* Scored samples of past days (the interval's calibration). */
    assert_int_equal(
        harness_pg_exec(
            pg, "INSERT INTO eta_samples SELECT d::date, 'bus-c', 'T-CAL',"
                " 'R1', 'GA01', k, h, now(), now(), now() - interval '1 min',"
                " now() + interval '1 min', now() + k * interval '10 s',"
                " true, true"
                " FROM generate_series(date '" AD_DAY "' - 6,"
                "  date '" AD_DAY "' - 1, interval '1 day') d,"
                " generate_series(1, 8) k, (VALUES (300), (600)) hz(h)"
                " WHERE h = 300 OR k <= 2"),
        0);
    /* what the read must skip is really there */
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM stop_visits"),
                     (AD_HISTORY_DAYS + 2) * AD_STOPS +
                         AD_HISTORY_DAYS * AD_OLD_STOPS + 1);
}

/* The daemon's clock: FAKE0_MS at the real REAL0_MS, AD_RATE times as
 * fast (the shim is given the same anchor). */
struct ad_clock {
    int64_t real0_ms, fake0_ms;
};

static int64_t ad_now(const struct ad_clock *c)
{
    return c->fake0_ms + (itest_wall_ms() - c->real0_ms) * AD_RATE;
}

/* Start shuttle-live with its wall clock at FAKE_S (Unix s) now; *CK gets
 * that clock. */
static struct harness_proc *ad_start(int64_t fake_s, struct ad_clock *ck)
{
    static int runs;
    char db[600], mport[64], hport[64], log[512], wall[32], hist[64];
    char real0[32], rate[16];
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
                    "rebuild_interval_s=0",
                    "-o",
                    hist,
                    "-o",
                    (char *)tls[0],
                    "-o",
                    (char *)tls[1],
                    "-o",
                    (char *)tls[2],
                    NULL};
    struct harness_proc *p;

    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    snprintf(mport, sizeof mport, "mqtt_port=%d", harness_mosquitto_port(mq));
    snprintf(hport, sizeof hport, "http_port=%d", http_port);
    snprintf(hist, sizeof hist, "history_days=%d", AD_HISTORY_DAYS);
    snprintf(log, sizeof log, "%s/live-%d.log", dir, ++runs);
    snprintf(wall, sizeof wall, "%lld", (long long)fake_s);
    assert_int_equal(
        setenv("LD_PRELOAD", harness_bin("libshuttle_fakeclock.so"), 1), 0);
    ck->real0_ms = itest_wall_ms();
    ck->fake0_ms = fake_s * 1000;
    snprintf(real0, sizeof real0, "%lld", (long long)ck->real0_ms);
    snprintf(rate, sizeof rate, "%d", AD_RATE);
    assert_int_equal(setenv("SHUTTLE_FAKE_WALL_S", wall, 1), 0);
    assert_int_equal(setenv("SHUTTLE_FAKE_REAL_MS", real0, 1), 0);
    assert_int_equal(setenv("SHUTTLE_FAKE_RATE", rate, 1), 0);
    assert_int_equal(setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1), 0);
    p = harness_spawn("shuttle-live", argv, log);
    unsetenv("LD_PRELOAD");
    unsetenv("SHUTTLE_FAKE_WALL_S");
    unsetenv("SHUTTLE_FAKE_REAL_MS");
    unsetenv("SHUTTLE_FAKE_RATE");
    assert_non_null(p);
    return p;
}

/* One fix of AD_VID at LAT/LON, stamped with the daemon's (fake) now. */
static int64_t ad_fix(const struct ad_clock *ck, double lat, double lon,
                      double speed)
{
    struct wire_record r;
    struct wire_batch b;
    uint8_t *buf;
    size_t len;
    int64_t t = ad_now(ck);

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", AD_VID);
    wire_position_init(&r);
    r.seq = ++seq;
    r.t_ms = t;
    r.u.pos.lat = lat;
    r.u.pos.lon = lon;
    r.u.pos.speed = speed;
    r.u.pos.fix_mode = 3;
    r.u.pos.sats_used = 9;
    b.n = 1;
    b.records = &r;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(mosquitto_publish(pub, NULL,
                                       "shuttle/v1/" AD_VID "/telemetry",
                                       (int)len, buf, 1, false),
                     MOSQ_ERR_SUCCESS);
    free(buf);
    return t;
}

/* Sleep to the daemon's next whole second: one fix a (fake) second. */
static void ad_tick(const struct ad_clock *ck)
{
    harness_sleep_ms((int)((1000 - ad_now(ck) % 1000) / AD_RATE) + 1);
}

/*
 * Drive AD_TRIP up to its stop position LAST: stand at its first stop
 * until T0_MS + 2 s (fake), then each segment in AD_SEG_FIXES + 1 s with
 * AD_STOP_FIXES at every stop. ARR[i] is the time of the first fix at
 * stop i (the arrival the tracker sees).
 */
static void ad_drive(const struct ad_clock *ck, int64_t t0_ms, int64_t *arr,
                     int last)
{
    while (ad_now(ck) < t0_ms + 2000) {
        (void)ad_fix(ck, stops[0].lat, stops[0].lon, 0);
        ad_tick(ck);
    }
    arr[0] = -1;
    for (int i = 1; i <= last; i++) {
        const struct ad_stop *a = &stops[i - 1], *b = &stops[i];

        for (int k = 1; k <= AD_SEG_FIXES; k++) {
            double u = (double)k / (AD_SEG_FIXES + 1);

            (void)ad_fix(ck, a->lat + u * (b->lat - a->lat),
                         a->lon + u * (b->lon - a->lon), 50);
            ad_tick(ck);
        }
        for (int k = 0; k < AD_STOP_FIXES; k++) {
            int64_t t = ad_fix(ck, b->lat, b->lon, 0);

            if (k == 0)
                arr[i] = t;
            ad_tick(ck);
        }
    }
}

/* The arrivals seen, into a table the checks join. */
static void ad_store_arrivals(const int64_t *arr)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql,
                     "DROP TABLE IF EXISTS ad_arrivals;"
                     "CREATE TABLE ad_arrivals (stop_sequence integer,"
                     " t timestamptz); INSERT INTO ad_arrivals VALUES ");

    for (int i = 1; i < AD_STOPS; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      "%s(%d, 'epoch'::timestamptz + %lld * interval '1 ms')",
                      i > 1 ? "," : "", stops[i].sequence, (long long)arr[i]);
    assert_true((size_t)n < sizeof sql);
    assert_int_equal(harness_pg_exec(pg, sql), 0);
}

static long long ad_scalar(const char *sql)
{
    long long v = harness_pg_scalar(pg, sql);

    assert_true(v >= 0);
    return v;
}

static void test_live_audit_db(void **state)
{
    struct harness_proc *lv;
    struct svcday svc;
    int32_t day;
    int64_t base_ms, t0_ms, arr[AD_STOPS];
    struct ad_clock ck;
    long long rows, sum;
    double took;

    (void)state;
    mq = harness_mosquitto_start(NULL);
    pg = harness_pg_start(1);
    dir = harness_tmpdir("audit");
    assert_non_null(mq);
    assert_non_null(pg);
    assert_non_null(dir);
    http_port = harness_free_port();
    assert_int_equal(itest_load_gtfs(pg, NULL, NULL, 0), 0);
    mosquitto_lib_init();
    pub = mosquitto_new("test-live-audit-bus", true, NULL);
    assert_non_null(pub);
    {
        const char *ca, *cert, *key;

        assert_int_equal(
            harness_mosquitto_identity(mq, AD_VID, &ca, &cert, &key), 0);
        assert_int_equal(mosquitto_tls_set(pub, ca, NULL, cert, key, NULL),
                         MOSQ_ERR_SUCCESS);
    }
    assert_int_equal(
        mosquitto_connect(pub, "127.0.0.1", harness_mosquitto_port(mq), 30),
        MOSQ_ERR_SUCCESS);
    assert_int_equal(mosquitto_loop_start(pub), MOSQ_ERR_SUCCESS);
    ad_read_stops();
    ad_insert_history();

    /* 06:00 of AD_DAY in the feed's zone, the one conversion. */
    {
        char zone[64];
        long long ok = harness_pg_scalar(
            pg, "SELECT (shuttle_service_tz() = 'Asia/Seoul')::int");

        /* deploy/gtfs is Asia/Seoul; the check keeps the literal honest */
        assert_int_equal(ok, 1);
        snprintf(zone, sizeof zone, "Asia/Seoul");
        assert_int_equal(svcday_init(&svc, zone), SVCDAY_OK);
    }
    assert_int_equal(svcday_parse(AD_DAY, &day), SVCDAY_OK);
    assert_int_equal(svcday_gtfs_base_ms(&svc, day, &base_ms), SVCDAY_OK);
    t0_ms = base_ms + 6 * 3600 * 1000LL;

    lv = ad_start(t0_ms / 1000 - AD_LEAD_S, &ck);
    assert_int_equal(harness_wait_port(http_port, lv, 15000), 0);
    /* The history: AD_STOPS visits on each of the AD_HISTORY_DAYS days,
     * not today's, not the day before the window, not the trip-less
     * visit; the old feed's trip skipped. */
    ad_wait_metric("shuttle_live_history_days", 1, 20000);
    assert_true(ad_metric("shuttle_live_history_visits") ==
                AD_HISTORY_DAYS * AD_STOPS);
    assert_true(ad_metric("shuttle_live_history_skipped") ==
                AD_HISTORY_DAYS * AD_OLD_STOPS);
    assert_true(ad_metric("shuttle_live_history_days") == AD_HISTORY_DAYS);
    /* The interval is calibrated from the window's own scored samples:
     * horizon 300 s has 40 there (the 8 of the day before the window do
     * not count), 600 s only 10, too few to calibrate (at least
     * LIVE_PREDICT_CALIB_MIN, 30). They were stored before the start;
     * gone again before the drive, whose samples are counted below. */
    ad_wait_metric("shuttle_live_interval_calibration_samples", 1, 20000);
    assert_true(ad_metric("shuttle_live_interval_calibration_samples") == 40);
    assert_int_equal(
        harness_pg_exec(pg, "DELETE FROM eta_samples WHERE trip_id = 'T-CAL'"),
        0);
    took = ad_metric("shuttle_live_history_load_seconds");
    print_message("history of %d visits read in %.3f s\n",
                  AD_HISTORY_DAYS * AD_STOPS, took);
    ad_wait_metric("shuttle_live_writer_connected", 1, 20000);

    /* The bus drives the trip at about a tenth of its running times. */
    ad_drive(&ck, t0_ms, arr, AD_STOPS - 1);
    ad_store_arrivals(arr);
    ad_wait_metric("shuttle_live_audit_samples_total{result=\"written\"}", 1,
                   20000);
    /* every sample of the trip scored by now is in the table */
    harness_sleep_ms(2500);
    assert_true(ad_metric("shuttle_live_audit_queued") == 0);
    assert_true(ad_metric("shuttle_live_audit_samples_total{result=\""
                          "failed\"}") == 0);
    rows = ad_scalar("SELECT count(*) FROM eta_samples");
    print_message("eta_samples: %lld rows after one trip\n", rows);
    assert_true(ad_metric("shuttle_live_audit_samples_total{result=\""
                          "written\"}") == (double)rows);
    /* samples at several stops and horizons */
    assert_true(rows >= 4);
    assert_true(ad_scalar("SELECT count(DISTINCT stop_sequence) FROM "
                          "eta_samples") >= 2);
    assert_true(ad_scalar("SELECT count(DISTINCT horizon_s) FROM "
                          "eta_samples") >= 2);
    /* each is this trip's, at one of its stops (id and sequence agree
     * with the feed), of this bus and day, sampled inside its horizon's
     * window, and scored against the arrival the tracker saw */
    assert_int_equal(
        ad_scalar(
            "SELECT count(*) FROM eta_samples e"
            " LEFT JOIN gtfs_stop_times st ON st.trip_id = e.trip_id"
            "  AND st.stop_sequence = e.stop_sequence"
            " LEFT JOIN ad_arrivals a ON a.stop_sequence = e.stop_sequence"
            " WHERE NOT coalesce("
            "  e.trip_id = '" AD_TRIP "' AND e.route_id = 'R1'"
            "  AND e.vehicle_id = '" AD_VID "'"
            "  AND e.service_day = date '" AD_DAY "'"
            "  AND st.stop_id = e.stop_id"
            "  AND e.horizon_s IN (60, 120, 300, 600, 900)"
            "  AND extract(epoch FROM e.predicted - e.made_at)"
            "   <= e.horizon_s + 1"
            "  AND extract(epoch FROM e.predicted - e.made_at)"
            "   > e.horizon_s - greatest(30, e.horizon_s / 4.0) - 1"
            "  AND abs(extract(epoch FROM e.actual - a.t)) <= 2"
            "  AND e.lo <= e.predicted AND e.predicted <= e.hi"
            "  AND e.covered = (e.lo <= e.actual AND e.actual <= e.hi),"
            " false)"),
        0);
    sum = ad_scalar("SELECT sum(extract(epoch FROM actual) * 1000)::bigint"
                    " % 1000000007 FROM eta_samples");
    assert_int_equal(harness_stop(lv), 0);

    /* A restart that lives the same morning again, as far as the third
     * stop: the same samples scored again are not stored twice, and the
     * first stay as they were (the batch itself is accepted: written, not
     * failed). */
    lv = ad_start(t0_ms / 1000 - AD_LEAD_S, &ck);
    assert_int_equal(harness_wait_port(http_port, lv, 15000), 0);
    ad_wait_metric("shuttle_live_history_days", 1, 20000);
    ad_wait_metric("shuttle_live_writer_connected", 1, 20000);
    ad_drive(&ck, t0_ms, arr, 3);
    ad_wait_metric("shuttle_live_audit_samples_total{result=\"written\"}", 1,
                   20000);
    harness_sleep_ms(2500);
    assert_true(ad_metric("shuttle_live_audit_samples_total{result=\""
                          "failed\"}") == 0);
    assert_int_equal(ad_scalar("SELECT count(*) FROM eta_samples"), rows);
    assert_int_equal(
        ad_scalar("SELECT sum(extract(epoch FROM actual) * 1000)::bigint"
                  " % 1000000007 FROM eta_samples"),
        sum);
    assert_int_equal(harness_stop(lv), 0);
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, false);
    mosquitto_destroy(pub);
    mosquitto_lib_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_audit_db),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    harness_cleanup();
    return rc;
}
