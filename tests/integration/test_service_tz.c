/* The service day follows the loaded feed's agency_timezone: the same
 * instant lands on different days with deploy/gtfs (Asia/Seoul) and with a
 * copy of it in America/New_York, and the trip rebuild and the report
 * count the timetable from the feed's zone, daylight saving time included.
 * Ingest, rebuild and report run as the daemons run them (db, trips_db,
 * report_query), against a real PostgreSQL; and a running shuttle-backend
 * takes a feed loaded under it with another zone from its next batch on,
 * without a reconnect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "partitions.h"
#include "writer.h"
#include "gtfs.h"
#include "harness.h"
#include "report_query.h"
#include "trips_db.h"
#include "wire.h"

/* 2026-03-08 15:30 UTC: 00:30 on the 9th in Seoul, 11:30 EDT on the 8th in
 * New York, whose clocks went forward at 02:00 that morning. */
#define T_MS 1772983800000LL
#define NY_DAY "2026-03-08"
#define SEOUL_DAY "2026-03-09"
/* R1-IN-0700 leaves its first stop at 07:00:00 (deploy/gtfs). */
#define TRIP "R1-IN-0700"

static struct harness_pg *pg;
static char feed_ny[1024];

/* deploy/gtfs with every agency_timezone replaced by America/New_York. */
static int copy_feed(const char *src, const char *dst)
{
    char cmd[8192];

    snprintf(cmd, sizeof cmd,
             "cp -r '%s'/. '%s' && sed -i 's#,Asia/Seoul,#,America/New_York,#'"
             " '%s/agency.txt' && grep -q America/New_York '%s/agency.txt'",
             src, dst, dst, dst);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char dir[1024], err[512];
    const char *tmp;
    struct db *db;

    (void)state;
    pg = harness_pg_start(1);
    if (!pg)
        return -1;
    if (db_new(harness_pg_conninfo(pg), &db) != 0)
        return -1;
    if (db_connect(db, err, sizeof err) != 0 ||
        db_migrate(db, err, sizeof err) != 0) {
        fprintf(stderr, "schema: %s\n", err);
        db_free(db);
        return -1;
    }
    db_free(db);
    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : ".");
    tmp = harness_tmpdir("feed-ny");
    if (!tmp)
        return -1;
    snprintf(feed_ny, sizeof feed_ny, "%s", tmp);
    return copy_feed(dir, feed_ny);
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* The one text value of SQL (a static buffer). */
static const char *scalar_text(const char *sql)
{
    static char out[256];
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return out;
}

static void load_feed(const char *dir)
{
    char err[512];

    if (gtfs_load(harness_pg_conninfo(pg), dir, NULL, err, sizeof err) != 0)
        fail_msg("GTFS %s: %s", dir, err);
}

/* Ingest one position of bus-tz at T_MS with SEQ as the daemon does:
 * connect (which reads the zone), stage, commit. Returns the zone the
 * ingest side used. */
static const char *ingest_at(uint64_t seq)
{
    static char zone[64];
    struct wire_record rec;
    struct wire_batch b;
    struct db *db;
    struct partitions *parts;
    struct writer *wr;
    char err[512];

    assert_int_equal(db_new(harness_pg_conninfo(pg), &db), DB_OK);
    if (db_connect(db, err, sizeof err) != DB_OK ||
        db_prepare(db, err, sizeof err) != DB_OK)
        fail_msg("db: %s", err);
    snprintf(zone, sizeof zone, "%s", db_service_zone(db));
    memset(&rec, 0, sizeof rec);
    rec.seq = seq;
    rec.t_ms = T_MS;
    rec.time_source = WIRE_TIME_GPS;
    rec.kind = WIRE_POSITION;
    rec.u.pos.lat = 37.6;
    rec.u.pos.lon = 126.6;
    rec.u.pos.speed = rec.u.pos.track = rec.u.pos.alt = rec.u.pos.hdop = NAN;
    rec.u.pos.fix_mode = 3;
    rec.u.pos.sats_used = -1;
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "bus-tz");
    b.n = 1;
    b.records = &rec;
    assert_int_equal(partitions_new(&parts), DB_OK);
    assert_int_equal(writer_new(db, parts, 1000, &wr), DB_OK);
    assert_int_equal(writer_stage_batch(wr, &b), DB_OK);
    if (writer_commit(wr, NULL, NULL, NULL, err, sizeof err) != DB_OK)
        fail_msg("commit: %s", err);
    writer_free(wr);
    partitions_free(parts);
    db_free(db);
    return zone;
}

static const char *day_of_seq(uint64_t seq)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT service_day::text FROM positions"
             " WHERE vehicle_id = 'bus-tz' AND seq = %llu",
             (unsigned long long)seq);
    return scalar_text(sql);
}

/* The report's scheduled start of TRIP on DAY, after a rebuild of DAY. */
static const char *report_start(const char *day)
{
    static char start[8];
    struct report_query_params p = {1000, 45, 90, 300, 20, 5, 1};
    struct report_query_daily d;
    struct trips_db_summary sum;
    struct report_query *q;
    char err[512];
    size_t i;

    if (trips_db_rebuild(harness_pg_conninfo(pg), day, &sum, err, sizeof err) !=
        TRIPS_DB_OK)
        fail_msg("rebuild %s: %s", day, err);
    assert_int_equal(
        report_query_open(harness_pg_conninfo(pg), &q, err, sizeof err),
        REPORT_QUERY_OK);
    if (report_query_daily(q, &p, day, &d, err, sizeof err) != REPORT_QUERY_OK)
        fail_msg("report %s: %s", day, err);
    start[0] = '\0';
    for (i = 0; i < d.nruns; i++)
        if (!strcmp(d.runs[i].trip_id, TRIP))
            snprintf(start, sizeof start, "%s", d.runs[i].sched_start);
    report_query_daily_free(&d);
    report_query_close(q);
    return start;
}

static void test_no_feed_is_utc(void **state)
{
    (void)state;
    assert_string_equal(scalar_text("SELECT shuttle_service_tz()"), "UTC");
}

static void test_seoul_then_new_york(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char dir[1024];

    (void)state;
    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : ".");
    load_feed(dir);
    assert_string_equal(scalar_text("SELECT shuttle_service_tz()"),
                        "Asia/Seoul");
    assert_string_equal(ingest_at(1), "Asia/Seoul");
    assert_string_equal(day_of_seq(1), SEOUL_DAY);
    /* 07:00 in Seoul is 22:00 UTC the day before. */
    assert_string_equal(report_start(NY_DAY), "07:00");
    assert_string_equal(
        scalar_text("SELECT scheduled_start::text FROM trip_outcomes"
                    " WHERE service_day = '" NY_DAY "' AND trip_id = '" TRIP
                    "'"),
        "2026-03-07 22:00:00+00");

    load_feed(feed_ny);
    assert_string_equal(scalar_text("SELECT shuttle_service_tz()"),
                        "America/New_York");
    assert_string_equal(ingest_at(2), "America/New_York");
    /* The same instant, another day: the zone moved it. */
    assert_string_equal(day_of_seq(2), NY_DAY);
    assert_string_equal(day_of_seq(1), SEOUL_DAY); /* stored days stay */
    /* The timetable counts from noon EDT minus 12 h on the day the clocks
     * go forward: 07:00 EDT is 11:00 UTC (midnight EST plus 7 h would be
     * 12:00 UTC, an hour late). */
    assert_string_equal(report_start(NY_DAY), "07:00");
    assert_string_equal(
        scalar_text("SELECT scheduled_start::text FROM trip_outcomes"
                    " WHERE service_day = '" NY_DAY "' AND trip_id = '" TRIP
                    "'"),
        "2026-03-08 11:00:00+00");
}

static void test_bad_zone_refused(void **state)
{
    char dir[1200], cmd[8192], err[512];

    (void)state;
    snprintf(dir, sizeof dir, "%s", harness_tmpdir("feed-bad"));
    snprintf(
        cmd, sizeof cmd,
        "cp -r '%s'/. '%s' && sed -i 's#,America/New_York,#,Mars/Olympus,#'"
        " '%s/agency.txt'",
        feed_ny, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(
        gtfs_load(harness_pg_conninfo(pg), dir, NULL, err, sizeof err),
        GTFS_ERR_FEED);
    assert_non_null(strstr(err, "Mars/Olympus"));
    /* The loaded feed, and so the zone, is unchanged. */
    assert_string_equal(scalar_text("SELECT shuttle_service_tz()"),
                        "America/New_York");
}

/* Rows of the running backend's vehicle with SEQ (0 or 1). */
static int live_rows(uint64_t seq)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions"
             " WHERE vehicle_id = 'bus-live' AND seq = %llu",
             (unsigned long long)seq);
    return atoi(scalar_text(sql));
}

/* Publish one position of bus-live at t_ms with SEQ through the broker,
 * and wait until the backend has committed it. */
static void publish_live(struct harness_mqtt *m, uint64_t seq, int64_t t_ms)
{
    struct wire_record rec;
    struct wire_batch b;
    uint8_t *buf;
    size_t len;

    wire_position_init(&rec);
    rec.seq = seq;
    rec.t_ms = t_ms;
    rec.time_source = WIRE_TIME_GPS;
    rec.u.pos.lat = 37.6;
    rec.u.pos.lon = 126.6;
    rec.u.pos.fix_mode = 3;
    rec.u.pos.sats_used = 9;
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "bus-live");
    b.n = 1;
    b.records = &rec;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(
        harness_mosquitto_publish(m, "shuttle/v1/bus-live/telemetry", buf, len),
        0);
    free(buf);
    for (int i = 0; i < 300 && live_rows(seq) == 0; i++)
        usleep(50 * 1000);
    assert_int_equal(live_rows(seq), 1);
}

/* The service day of t_ms in ZONE, by PostgreSQL's own rules. */
static const char *pg_day(int64_t t_ms, const char *zone)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT (to_timestamp(%lld / 1000.0) AT TIME ZONE '%s')::date"
             "::text",
             (long long)t_ms, zone);
    return scalar_text(sql);
}

static void test_running_backend_follows_reload(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_proc *be;
    char dir[1024], seoul[16], ny[16];
    /* The last 15:30 UTC before now: 00:30 the next day in Seoul, the
     * morning of the same day in New York, whatever the date; recent, so
     * inside the backend's window. */
    int64_t now_s = (int64_t)time(NULL);
    int64_t t_ms = ((now_s - 55800) / 86400 * 86400 + 55800) * 1000;

    (void)state;
    assert_non_null(m);
    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : ".");
    snprintf(seoul, sizeof seoul, "%s", pg_day(t_ms, "Asia/Seoul"));
    snprintf(ny, sizeof ny, "%s", pg_day(t_ms, "America/New_York"));
    assert_string_not_equal(seoul, ny);

    load_feed(dir);
    be = harness_backend_start(pg, m, NULL);
    assert_non_null(be);
    publish_live(m, 101, t_ms);
    assert_string_equal(
        scalar_text("SELECT service_day::text FROM positions"
                    " WHERE vehicle_id = 'bus-live' AND seq = 101"),
        seoul);

    /* shuttle-backend --load-gtfs of a feed in another zone, while the
     * backend runs on. The batch after the next commit is in the new
     * zone: each commit reads the zone again. */
    load_feed(feed_ny);
    publish_live(m, 102, t_ms + 1000);
    publish_live(m, 103, t_ms + 2000);
    assert_string_equal(
        scalar_text("SELECT service_day::text FROM positions"
                    " WHERE vehicle_id = 'bus-live' AND seq = 103"),
        ny);
    /* Still the same process and connection: no reconnect was needed. */
    assert_true(harness_alive(be));
    harness_stop(be);
    harness_mosquitto_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_feed_is_utc),
        cmocka_unit_test(test_seoul_then_new_york),
        cmocka_unit_test(test_bad_zone_refused),
        cmocka_unit_test(test_running_backend_follows_reload),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
