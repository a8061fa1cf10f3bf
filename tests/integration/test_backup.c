/* Backup and restore (README "Backup and restore"): deploy/backup.sh of a
 * database with four service days of telemetry and built days, restored by
 * deploy/restore.sh into a second, fresh cluster, gives the same daily
 * reports, the same tables, day partitions and grants; the restored
 * database then takes new records (a new day partition) and the raw-data
 * retention still drops an old day. Also: a failed backup leaves no file,
 * and a restore refuses a database that is not empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wire.h"

/* Days before the feed zone's today: the old one lies past the retention
 * (BK_RETENTION days), the others well inside it, so that the test gives
 * the same answer whatever the date and hour it runs at. */
#define BK_RETENTION 5
static const int day_ago[] = {10, 3, 2, 1};
#define NDAYS (sizeof day_ago / sizeof day_ago[0])

static struct harness_pg *pg1, *pg2;
static char *tmp;
static char days[NDAYS][16]; /* YYYY-MM-DD */

/* Built days as the trip builder leaves them, made up per day K so that
 * days differ: positions of three buses, a count per operated trip (and
 * one at no stop), the trips' outcomes and the day's totals. */
static const char day_fn[] =
    "CREATE FUNCTION pg_temp.bk_day(day date, k int) RETURNS void"
    " LANGUAGE plpgsql AS $f$ BEGIN"
    " PERFORM shuttle_ensure_partition(day);"
    " INSERT INTO positions (vehicle_id, seq, service_day, t, lat, lon,"
    "  fix_mode) SELECT 'bus0' || v, s, day, (day + time '07:00'"
    "  + s * interval '10 s') AT TIME ZONE 'Asia/Seoul',"
    "  37.59 + s * 1e-4, 126.67 + v * 1e-3, 3"
    "  FROM generate_series(1, 3) v, generate_series(1, 20) s;"
    " CREATE TEMP TABLE tt ON COMMIT DROP AS SELECT t.trip_id, t.route_id,"
    "  t.direction_id, t.block_id,"
    "  row_number() OVER (ORDER BY t.trip_id) AS r,"
    "  (day + make_interval(secs => min(st.departure_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s0,"
    "  (day + make_interval(secs => max(st.arrival_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s1, count(*) AS n"
    "  FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
    "  GROUP BY t.trip_id, t.route_id, t.direction_id, t.block_id;"
    " INSERT INTO trip_outcomes (service_day, trip_id, route_id,"
    "  direction_id, block_id, scheduled_start, scheduled_end, status,"
    "  vehicle_id, actual_start, actual_end, start_delay_s, end_delay_s,"
    "  stops_scheduled, stops_visited, boarded, alighted, peak_load)"
    " SELECT day, trip_id, route_id, direction_id, block_id, s0, s1, st,"
    "  CASE WHEN st <> 'missed' THEN 'bus0' || right(block_id, 1) END,"
    "  CASE WHEN st <> 'missed' THEN s0 + make_interval(secs => dl) END,"
    "  CASE WHEN st <> 'missed' THEN s1 + make_interval(secs => dl) END,"
    "  CASE WHEN st <> 'missed' THEN dl END,"
    "  CASE WHEN st <> 'missed' THEN dl END, n,"
    "  CASE st WHEN 'missed' THEN 0 WHEN 'partial' THEN n / 2 ELSE n END,"
    "  b, b, CASE WHEN st <> 'missed' THEN b - 3 END"
    "  FROM (SELECT tt.*, CASE WHEN (r + k) % 13 = 0 THEN 'missed'"
    "   WHEN (r + k) % 17 = 0 THEN 'partial' ELSE 'operated' END AS st,"
    "   ((r * 7 + k * 3) % 11) * 60 AS dl,"
    "   CASE WHEN (r + k) % 13 = 0 THEN 0 ELSE 10 + (r * 5 + k) % 30 END"
    "   AS b FROM tt) x;"
    " INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    "  boarded, alighted) SELECT vehicle_id, row_number() OVER"
    "  (PARTITION BY vehicle_id ORDER BY actual_start), day, actual_start,"
    "  1, boarded, alighted FROM trip_outcomes"
    "  WHERE service_day = day AND status <> 'missed';"
    " INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    "  boarded, alighted) VALUES ('bus01', 100000, day,"
    "  (day + time '12:00') AT TIME ZONE 'Asia/Seoul', 1, k, 0);"
    " INSERT INTO daily_ridership (service_day, boarded, alighted,"
    "  runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late,"
    "  unattributed_boarded, built_at)"
    " SELECT day, sum(boarded) + k, sum(alighted), count(*),"
    "  count(*) FILTER (WHERE status = 'operated'),"
    "  count(*) FILTER (WHERE status = 'partial'),"
    "  count(*) FILTER (WHERE status = 'missed'),"
    "  count(*) FILTER (WHERE status <> 'missed' AND start_delay_s > 300),"
    "  k, (day + 1 + time '01:10') AT TIME ZONE 'Asia/Seoul'"
    "  FROM trip_outcomes WHERE service_day = day;"
    " END $f$;";

/* What must survive a restore, as one text per aspect: the relations
 * (kind, and the parent of each day partition), the grants of the shuttle
 * roles on every table, column and function, the default privileges. */
static const char *const fingerprints[] = {
    "SELECT string_agg(c.relname || ':' || c.relkind::text || ':'"
    " || coalesce(p.relname, '-'), ',' ORDER BY c.relname)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
    " LEFT JOIN pg_class p ON p.oid = i.inhparent"
    " WHERE n.nspname = 'public'",
    "SELECT string_agg(t.tablename || ':' || r || ':' || v, ','"
    " ORDER BY t.tablename, r, v) FROM pg_tables t,"
    " unnest(ARRAY['shuttle_ingest', 'shuttle_read', 'shuttle_live']) r,"
    " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) v"
    " WHERE t.schemaname = 'public'"
    " AND has_table_privilege(r, 'public.' || t.tablename, v)",
    "SELECT string_agg(a.attrelid::regclass || '.' || a.attname || ':'"
    " || r, ',' ORDER BY a.attrelid::regclass::text, a.attname, r)"
    " FROM pg_attribute a,"
    " unnest(ARRAY['shuttle_ingest', 'shuttle_read', 'shuttle_live']) r"
    " WHERE a.attrelid IN ('positions'::regclass,"
    " 'passenger_counts'::regclass) AND a.attnum > 0"
    " AND has_column_privilege(r, a.attrelid, a.attnum, 'SELECT')",
    "SELECT string_agg(p.proname || ':' || r || ':'"
    " || has_function_privilege(r, p.oid, 'EXECUTE'), ','"
    " ORDER BY p.proname, r)"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,"
    " unnest(ARRAY['shuttle_ingest', 'shuttle_read', 'shuttle_live']) r"
    " WHERE n.nspname = 'public'",
    "SELECT string_agg(defaclobjtype::text || ':' || defaclacl::text, ','"
    " ORDER BY defaclobjtype, defaclacl::text) FROM pg_default_acl",
    "SELECT string_agg(version::text, ',' ORDER BY version)"
    " FROM schema_migrations",
};

/* ---- helpers ------------------------------------------------------ */

/* bash deploy/SCRIPT A1 A2: its status; its stderr printed on failure
 * when SHOW. */
static int script(const char *name, const char *a1, const char *a2, int show)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char path[1024], out[1024], err[1024];
    char *argv[] = {"bash", path, (char *)a1, (char *)a2, NULL};
    int rc;

    snprintf(path, sizeof path, "%s/deploy/%s", src ? src : "..", name);
    snprintf(out, sizeof out, "%s/%s.out", tmp, name);
    snprintf(err, sizeof err, "%s/%s.err", tmp, name);
    rc = harness_run(argv, out, err);
    if (rc != 0 && show) {
        fprintf(stderr, "%s exited %d:\n", name, rc);
        harness_log_tail(out, 20);
        harness_log_tail(err, 20);
    }
    return rc;
}

/* The first value SQL answers on PG, as a new string ("" for NULL). */
static char *text_of(struct harness_pg *pg, const char *sql)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    PGresult *r = PQexec(c, sql);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    v = strdup(PQgetvalue(r, 0, 0));
    assert_non_null(v);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* shuttle-report daily --date DAY on PG: its output (exit status 0). */
static char *report(struct harness_pg *pg, const char *day)
{
    char dbopt[600], out[1024], err[1024];
    char *argv[] = {(char *)harness_bin("shuttle-report"),
                    "-o",
                    dbopt,
                    "daily",
                    "--date",
                    (char *)day,
                    NULL};
    int rc;

    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(pg));
    snprintf(out, sizeof out, "%s/report.out", tmp);
    snprintf(err, sizeof err, "%s/report.err", tmp);
    rc = harness_run(argv, out, err);
    if (rc != 0)
        harness_log_tail(err, 20);
    assert_int_equal(rc, 0);
    return harness_read_file(out);
}

static long long partition_exists(struct harness_pg *pg, const char *table,
                                  const char *day)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_class WHERE relname = '%s_%.4s%.2s%.2s'",
             table, day, day + 5, day + 8);
    return harness_pg_scalar(pg, sql);
}

/* ---- the test ----------------------------------------------------- */

static int setup(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char feed[1024], dbopt[600], log[1024], sql[256];
    PGconn *c;
    PGresult *r;

    (void)state;
    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : "..");
    tmp = harness_tmpdir("backup");
    pg1 = harness_pg_start(1);
    if (tmp == NULL || pg1 == NULL)
        return -1;
    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(pg1));
    snprintf(log, sizeof log, "%s/setup.log", tmp);
    {
        char *mig[] = {(char *)harness_bin("shuttle-backend"), "--migrate",
                       "-o", dbopt, NULL};
        char *load[] = {(char *)harness_bin("shuttle-backend"),
                        "--load-gtfs",
                        feed,
                        "-o",
                        dbopt,
                        NULL};

        if (harness_run(mig, log, log) != 0 ||
            harness_run(load, log, log) != 0) {
            harness_log_tail(log, 20);
            return -1;
        }
    }
    c = PQconnectdb(harness_pg_conninfo(pg1));
    PQclear(PQexec(c, day_fn));
    for (size_t i = 0; i < NDAYS; i++) {
        /* The feed zone's date (service days are dated there). */
        snprintf(sql, sizeof sql,
                 "SELECT (now() AT TIME ZONE 'Asia/Seoul')::date - %d,"
                 " pg_temp.bk_day((now() AT TIME ZONE 'Asia/Seoul')::date"
                 " - %d, %zu)",
                 day_ago[i], day_ago[i], i + 1);
        r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "day %zu: %s", i, PQerrorMessage(c));
            PQclear(r);
            PQfinish(c);
            return -1;
        }
        snprintf(days[i], sizeof days[i], "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

static void test_backup_restore(void **state)
{
    char dump[1024], bad[1024], path[1100];
    struct harness_mqtt *mq;
    struct harness_proc *be;
    static const char *const opts[] = {"raw_retention_days=5", NULL};
    struct wire_record rec;
    struct wire_batch b;
    uint8_t *buf;
    size_t len;
    struct stat st;
    char *today;

    (void)state;
    snprintf(dump, sizeof dump, "%s/shuttle.dump", tmp);

    /* A backup that fails (no such database) leaves nothing behind. */
    snprintf(bad, sizeof bad, "%s dbname=no_such_db", harness_pg_conninfo(pg1));
    assert_int_equal(script("backup.sh", dump, bad, 0), 1);
    assert_int_not_equal(stat(dump, &st), 0);
    snprintf(path, sizeof path, "ls %s | grep -q partial", tmp);
    assert_int_not_equal(system(path), 0);
    /* Bad usage is 2. */
    assert_int_equal(script("backup.sh", NULL, NULL, 0), 2);

    assert_int_equal(script("backup.sh", dump, harness_pg_conninfo(pg1), 1), 0);
    assert_int_equal(stat(dump, &st), 0);
    assert_true(st.st_size > 0);

    pg2 = harness_pg_start(1);
    assert_non_null(pg2);
    /* The fresh cluster has none of the shuttle roles: restore.sh makes
     * them. */
    assert_int_equal(harness_pg_scalar(pg2,
                                       "SELECT count(*) FROM pg_roles"
                                       " WHERE rolname LIKE 'shuttle\\_%'"),
                     0);
    assert_int_equal(script("restore.sh", dump, harness_pg_conninfo(pg2), 1),
                     0);
    /* A second restore into it is refused: it is no longer empty. */
    assert_int_equal(script("restore.sh", dump, harness_pg_conninfo(pg2), 0),
                     1);
    snprintf(path, sizeof path, "%s/restore.sh.err", tmp);
    assert_true(harness_log_has(path, "not empty"));

    /* The same reports, byte for byte, for every day. */
    for (size_t i = 0; i < NDAYS; i++) {
        char *a = report(pg1, days[i]), *z = report(pg2, days[i]);

        assert_true(strlen(a) > 100);
        assert_string_equal(a, z);
        free(a);
        free(z);
    }
    /* The same tables, partitions, grants and migrations. */
    for (size_t i = 0; i < sizeof fingerprints / sizeof *fingerprints; i++) {
        char *a = text_of(pg1, fingerprints[i]);
        char *z = text_of(pg2, fingerprints[i]);

        assert_true(strlen(a) > 0);
        assert_string_equal(a, z);
        free(a);
        free(z);
    }
    for (size_t i = 0; i < NDAYS; i++) {
        assert_int_equal(partition_exists(pg2, "positions", days[i]), 1);
        assert_int_equal(partition_exists(pg2, "passenger_counts", days[i]), 1);
    }

    /* The restored database at work: a backend on it with a retention of
     * BK_RETENTION days drops the old day's positions (and only them)... */
    mq = harness_mosquitto_start(NULL);
    assert_non_null(mq);
    be = harness_backend_start(pg2, mq, opts);
    assert_non_null(be);
    {
        char sql[256];

        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pg_class WHERE relname ="
                 " 'positions_%.4s%.2s%.2s'",
                 days[0], days[0] + 5, days[0] + 8);
        assert_int_equal(harness_wait_scalar(pg2, sql, 0, 30000), 0);
    }
    assert_int_equal(partition_exists(pg2, "passenger_counts", days[0]), 1);
    for (size_t i = 1; i < NDAYS; i++)
        assert_int_equal(partition_exists(pg2, "positions", days[i]), 1);

    /* ...and ingests a new record, into a new partition of its day. */
    today = text_of(pg2, "SELECT (to_timestamp(extract(epoch FROM now())"
                         " - 60) AT TIME ZONE 'Asia/Seoul')::date");
    assert_int_equal(partition_exists(pg2, "positions", today), 0);
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "bus-bk1");
    wire_position_init(&rec);
    rec.seq = 1;
    rec.t_ms = (int64_t)time(NULL) * 1000 - 60000;
    rec.u.pos.lat = 37.5901234;
    rec.u.pos.lon = 126.6712345;
    rec.u.pos.fix_mode = 3;
    rec.u.pos.sats_used = 9;
    b.n = 1;
    b.records = &rec;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(
        harness_mosquitto_publish(mq, "shuttle/v1/bus-bk1/telemetry", buf, len),
        0);
    free(buf);
    assert_int_equal(
        harness_wait_scalar(pg2,
                            "SELECT count(*) FROM positions"
                            " WHERE vehicle_id = 'bus-bk1' AND seq = 1"
                            " AND service_day = (to_timestamp(extract(epoch"
                            " FROM now()) - 60) AT TIME ZONE"
                            " 'Asia/Seoul')::date",
                            1, 30000),
        0);
    assert_int_equal(partition_exists(pg2, "positions", today), 1);
    free(today);
    assert_int_equal(harness_stop(be), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_restore),
    };

    /* The cluster's own version of pg_dump and pg_restore, for the
     * scripts (they honour PG_BINDIR). */
    setenv("PG_BINDIR", "/usr/lib/postgresql/15/bin", 1);

    return cmocka_run_group_tests(tests, setup, teardown);
}
