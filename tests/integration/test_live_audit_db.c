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
#define AD_LEAD_S 20    /* the daemon starts this long before 06:00 */

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
    char req[256], buf[sizeof body + 4096];
    struct timeval tv = {5, 0};
    size_t got = 0;
    int status = -1, fd = harness_tcp_connect(http_port), n;
    char *end;

    body[0] = '\0';
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);

        if (r <= 0 || (got += (size_t)r) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    end = strstr(buf, "\r\n\r\n");
    snprintf(body, sizeof body, "%s", end ? end + 4 : "");
    return status;
}

/* The value of /metrics sample SERIES, or -1. */
static double ad_metric(const char *series)
{
    size_t n = strlen(series);

    if (ad_get("/metrics") != 200)
        return -1;
    for (const char *p = body; p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
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

static void ad_load_gtfs(void)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char feed[512], db[600], log[512];
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    "--load-gtfs",
                    feed,
                    "-o",
                    db,
                    NULL};
    struct harness_proc *p;

    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : "..");
    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    snprintf(log, sizeof log, "%s/gtfs.log", dir);
    p = harness_spawn("shuttle-backend", argv, log);
    assert_non_null(p);
    assert_int_equal(harness_wait(p, 60000), 0);
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
    /* what the read must skip is really there */
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM stop_visits"),
                     (AD_HISTORY_DAYS + 2) * AD_STOPS +
                         AD_HISTORY_DAYS * AD_OLD_STOPS + 1);
}

/* Start shuttle-live with its wall clock at FAKE_S (Unix s). Sets *OFFSET
 * to real - fake seconds as the shim computes it (the shim's may be one
 * more if a second turned in between: fixes are that little early). */
static struct harness_proc *ad_start(int64_t fake_s, int64_t *offset_s)
{
    static int runs;
    char db[600], mport[64], hport[64], log[512], wall[32], hist[64];
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
    assert_int_equal(setenv("SHUTTLE_FAKE_WALL_S", wall, 1), 0);
    assert_int_equal(setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1), 0);
    *offset_s = itest_wall_ms() / 1000 - fake_s;
    p = harness_spawn("shuttle-live", argv, log);
    unsetenv("LD_PRELOAD");
    unsetenv("SHUTTLE_FAKE_WALL_S");
    assert_non_null(p);
    return p;
}

/* One fix of AD_VID at LAT/LON, stamped with the daemon's (fake) now. */
static int64_t ad_fix(int64_t offset_s, double lat, double lon, double speed)
{
    struct wire_record r;
    struct wire_batch b;
    uint8_t *buf;
    size_t len;
    int64_t t = itest_wall_ms() - offset_s * 1000;

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

/* Sleep to the next whole real second: one fix a second. */
static void ad_tick(void)
{
    harness_sleep_ms((int)(1000 - itest_wall_ms() % 1000));
}

/*
 * Drive AD_TRIP up to its stop position LAST: stand at its first stop
 * until T0_MS + 2 s (fake), then each segment in AD_SEG_FIXES + 1 s with
 * AD_STOP_FIXES at every stop. ARR[i] is the time of the first fix at
 * stop i (the arrival the tracker sees).
 */
static void ad_drive(int64_t offset_s, int64_t t0_ms, int64_t *arr, int last)
{
    while (itest_wall_ms() - offset_s * 1000 < t0_ms + 2000) {
        (void)ad_fix(offset_s, stops[0].lat, stops[0].lon, 0);
        ad_tick();
    }
    arr[0] = -1;
    for (int i = 1; i <= last; i++) {
        const struct ad_stop *a = &stops[i - 1], *b = &stops[i];

        for (int k = 1; k <= AD_SEG_FIXES; k++) {
            double u = (double)k / (AD_SEG_FIXES + 1);

            (void)ad_fix(offset_s, a->lat + u * (b->lat - a->lat),
                         a->lon + u * (b->lon - a->lon), 50);
            ad_tick();
        }
        for (int k = 0; k < AD_STOP_FIXES; k++) {
            int64_t t = ad_fix(offset_s, b->lat, b->lon, 0);

            if (k == 0)
                arr[i] = t;
            ad_tick();
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
    int64_t base_ms, t0_ms, offset_s, arr[AD_STOPS];
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
    ad_load_gtfs();
    mosquitto_lib_init();
    pub = mosquitto_new("test-live-audit-bus", true, NULL);
    assert_non_null(pub);
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

    lv = ad_start(t0_ms / 1000 - AD_LEAD_S, &offset_s);
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
    took = ad_metric("shuttle_live_history_load_seconds");
    print_message("history of %d visits read in %.3f s\n",
                  AD_HISTORY_DAYS * AD_STOPS, took);
    ad_wait_metric("shuttle_live_writer_connected", 1, 20000);

    /* The bus drives the trip at about a tenth of its running times. */
    ad_drive(offset_s, t0_ms, arr, AD_STOPS - 1);
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
    lv = ad_start(t0_ms / 1000 - AD_LEAD_S, &offset_s);
    assert_int_equal(harness_wait_port(http_port, lv, 15000), 0);
    ad_wait_metric("shuttle_live_history_days", 1, 20000);
    ad_wait_metric("shuttle_live_writer_connected", 1, 20000);
    ad_drive(offset_s, t0_ms, arr, 3);
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
