/* test_upgrade: a database whose schema is newer than the binaries (a fake
 * migration 999 in schema_migrations) is refused by shuttle-backend (both
 * --migrate and the daemon), shuttle-live and shuttle-report, each with
 * exit SCHEMA_EXIT (5) and a message naming the migration, and the schema
 * is left untouched. And a database left at every earlier migration, with
 * raw data in it, is upgraded by today's shuttle-backend with its data
 * intact, and reports the day as one built at today's schema does. Real
 * PostgreSQL through the harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "harness.h"
#include "migrations.h"

#define SCHEMA_EXIT 5 /* backend/schema/schema.h */
/* A Tuesday inside deploy/gtfs's calendar (2025-01-01..2030-12-31). */
#define UP_DAY "2026-03-10"

/* Run BIN with ARGV (a NULL-terminated list after argv[0]), its output in
 * a log of its own; its exit code, the log's path in *log. */
static int run(const char *bin, char *const *args, const char **log)
{
    char *dir = harness_tmpdir("upgrade-run");
    char *argv[16];
    static char path[4096];
    struct harness_proc *p;
    int n = 0;

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/out.log", dir);
    argv[n++] = (char *)harness_bin(bin);
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    p = harness_spawn(bin, argv, path);
    assert_non_null(p);
    *log = path;
    /* Generous: two cores shared with other test runs. */
    return harness_wait(p, 60000);
}

static void expect_refusal(const char *bin, char *const *args)
{
    const char *log;
    int rc = run(bin, args, &log);

    if (rc != SCHEMA_EXIT || !harness_log_has(log, "migration 999") ||
        !harness_log_has(log, "this binary knows up to") ||
        !harness_log_has(log, "or use a matching version"))
        harness_log_tail(log, 20);
    assert_int_equal(rc, SCHEMA_EXIT);
    assert_true(harness_log_has(log, "database schema is at migration 999 "
                                     "(999_from_the_future)"));
    assert_true(harness_log_has(log, "or use a matching version"));
}

/* An empty config file in DIR, its path in BUF: the daemons then take
 * their defaults and the -o options, never /etc/shuttle. */
static void empty_conf(const char *dir, char *buf, size_t len)
{
    FILE *f;

    assert_true((size_t)snprintf(buf, len, "%s/empty.conf", dir) < len);
    f = fopen(buf, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_newer_schema_refused(void **state)
{
    struct harness_pg *pg = harness_pg_start(1);
    char *dir = harness_tmpdir("upgrade");
    char db[1024], empty[4096], mport[64];
    const char *log;
    long long tables;

    (void)state;
    assert_non_null(pg);
    assert_non_null(dir);
    empty_conf(dir, empty, sizeof empty);
    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    /* No broker: a daemon refusing the schema never gets that far. */
    snprintf(mport, sizeof mport, "mqtt_port=%d", harness_free_port());

    /* Today's schema first, by today's backend, then one step beyond. */
    {
        char *args[] = {"-f", empty, "-o", db, "--migrate", NULL};

        assert_int_equal(run("shuttle-backend", args, &log), 0);
    }
    assert_int_equal(harness_pg_exec(pg, "INSERT INTO schema_migrations "
                                         "(version, name) VALUES "
                                         "(999, '999_from_the_future')"),
                     0);
    tables = harness_pg_scalar(pg, "SELECT count(*) FROM pg_tables WHERE "
                                   "schemaname = 'public'");
    assert_true(tables > 0);

    {
        char *args[] = {"-f", empty, "-o", db, "--migrate", NULL};

        expect_refusal("shuttle-backend", args);
    }
    {
        /* The daemon: its migration child refuses, and it stops. */
        char *args[] = {"-d", "-f",  empty, "-o",          db,
                        "-o", mport, "-o",  "http_port=0", NULL};

        expect_refusal("shuttle-backend", args);
    }
    {
        char *args[] = {"-d", "-f",  empty, "-o",          db,
                        "-o", mport, "-o",  "http_port=0", NULL};

        expect_refusal("shuttle-live", args);
    }
    {
        char *args[] = {"-f",    empty,    "-o",         db,
                        "daily", "--date", "2026-01-05", NULL};

        expect_refusal("shuttle-report", args);
    }
    /* Refused untouched: the future migration and every table still there. */
    assert_int_equal(harness_pg_scalar(pg, "SELECT max(version) FROM "
                                           "schema_migrations"),
                     999);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM pg_tables "
                                           "WHERE schemaname = 'public'"),
                     tables);
}

/* ---- upgrade from every earlier migration ---------------------------- */

/* The raw tables whose rows an upgrade must keep; all exist since 001. */
static const char *const raw_tables[] = {"positions", "passenger_counts",
                                         "vehicle_progress", "dead_letters"};
#define NRAW (sizeof raw_tables / sizeof raw_tables[0])

/* One day of raw records, made from the loaded timetable so that the trip
 * builder has real work: two fixes at each stop (arrival, 25 s later) and
 * one half-way from the previous stop, each trip late by its own few
 * minutes, every 13th trip not run; a door count at each stop. */
static const char raw_sql[] =
    "SELECT shuttle_ensure_partition('" UP_DAY "');"
    "CREATE TEMP TABLE up_stop AS"
    " WITH tr AS (SELECT trip_id, 'bus0' || right(block_id, 1) AS vid,"
    "  row_number() OVER (ORDER BY trip_id) AS k FROM gtfs_trips)"
    " SELECT tr.vid, tr.k, s.stop_sequence, g.stop_lat AS lat,"
    "  g.stop_lon AS lon, ('" UP_DAY "'::timestamp + make_interval(secs =>"
    "  s.arrival_secs + (tr.k * 37) % 400)) AT TIME ZONE"
    "  shuttle_service_tz() AS arr"
    " FROM tr JOIN gtfs_stop_times s USING (trip_id)"
    " JOIN gtfs_stops g USING (stop_id) WHERE tr.k % 13 <> 0;"
    "CREATE TEMP TABLE up_fix AS"
    " SELECT vid, arr AS t, lat, lon, 0.0 AS speed FROM up_stop"
    " UNION ALL SELECT vid, arr + interval '25 s', lat, lon, 0.0 FROM up_stop"
    " UNION ALL SELECT vid, p + (arr - p) / 2, (lat + plat) / 2,"
    "  (lon + plon) / 2, 9.5 FROM (SELECT *, lag(arr) OVER w"
    "  + interval '25 s' AS p, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon"
    "  FROM up_stop WINDOW w AS (PARTITION BY k ORDER BY stop_sequence)) m"
    "  WHERE p IS NOT NULL;"
    "INSERT INTO positions (vehicle_id, seq, service_day, t, received_at,"
    " backlog, time_source, lat, lon, speed, track, alt, hdop, fix_mode,"
    " sats_used) SELECT vid, row_number() OVER (PARTITION BY vid ORDER BY t),"
    " '" UP_DAY "', t, t + interval '2 s', false, 0, lat, lon, speed, NULL,"
    " 12.5, 0.9, 3, 9 FROM up_fix;"
    "INSERT INTO passenger_counts (vehicle_id, seq, service_day, t,"
    " received_at, backlog, time_source, door, boarded, alighted, door_open,"
    " door_close, load_after, lat, lon, quality)"
    " SELECT vid, row_number() OVER (PARTITION BY vid ORDER BY arr),"
    " '" UP_DAY "', arr + interval '20 s', arr + interval '21 s', false, 0, 1,"
    " (k + stop_sequence * 3) % 6, (k * 5 + stop_sequence) % 4,"
    " arr + interval '5 s', arr + interval '20 s', NULL, lat, lon, 0"
    " FROM up_stop;"
    "INSERT INTO vehicle_progress (vehicle_id, acked_seq, oldest_held,"
    " last_seen) SELECT vehicle_id, max(seq), 1, max(t) FROM positions"
    " GROUP BY vehicle_id;"
    "INSERT INTO dead_letters (id, received_at, topic, vehicle_id, reason,"
    " payload, payload_len) VALUES (1, '" UP_DAY " 08:00:00+09',"
    " 'shuttle/v1/bus01/pos', 'bus01', 'not a position record',"
    " '\\x00ff10'::bytea, 3);";

/* The connection string of database NAME of PG's cluster. */
static const char *conninfo_of(struct harness_pg *pg, const char *name)
{
    static char buf[1024];
    const char *c = harness_pg_conninfo(pg);
    const char *at = strstr(c, "dbname=shuttle");

    assert_non_null(at);
    snprintf(buf, sizeof buf, "%.*sdbname=%s%s", (int)(at - c), c, name,
             at + strlen("dbname=shuttle"));
    return buf;
}

static PGconn *db_open(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", conninfo, PQerrorMessage(c));
    return c;
}

/* Run SQL with up to one parameter; the first value of the first row in
 * OUT (when not NULL), the test failing on any error. */
static void sql1(PGconn *c, const char *sql, const char *param, char *out,
                 size_t outlen)
{
    PGresult *r =
        PQexecParams(c, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    if (out) {
        assert_true(st == PGRES_TUPLES_OK && PQntuples(r) == 1);
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
}

/* Bring an empty database to migration K only, as a shuttle-backend of
 * that era left it: the embedded SQL of 001..K (the same text today's
 * binary carries) and their rows in schema_migrations, as db_migrate
 * writes them. */
static void migrate_to(PGconn *c, int k)
{
    sql1(c,
         "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
         " name text NOT NULL,"
         " applied_at timestamptz NOT NULL DEFAULT now())",
         NULL, NULL, 0);
    for (const struct migration *m = migrations; m->version && m->version <= k;
         m++) {
        char ver[16];
        const char *v[2] = {ver, m->name};
        PGresult *r;

        sql1(c, "BEGIN", NULL, NULL, 0);
        r = PQexec(c, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("migration %s: %s", m->name, PQerrorMessage(c));
        PQclear(r);
        snprintf(ver, sizeof ver, "%d", m->version);
        r = PQexecParams(c,
                         "INSERT INTO schema_migrations (version, name)"
                         " VALUES ($1, $2)",
                         2, NULL, v, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        sql1(c, "COMMIT", NULL, NULL, 0);
    }
}

/* TABLE's columns in C's database, in order, comma-separated. */
static void columns_of(PGconn *c, const char *table, char *out, size_t len)
{
    sql1(c,
         "SELECT string_agg(quote_ident(column_name), ', '"
         " ORDER BY ordinal_position) FROM information_schema.columns"
         " WHERE table_schema = 'public' AND table_name = $1",
         table, out, len);
    assert_true(out[0] != '\0');
}

/* "ROWS md5" of COLS of TABLE: the row count and a checksum of every row's
 * text, in a fixed order. */
static void checksum(PGconn *c, const char *table, const char *cols, char *out,
                     size_t len)
{
    char sql[10240];

    snprintf(sql, sizeof sql,
             "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|'"
             " ORDER BY x::text), '')) FROM (SELECT %s FROM %s) x",
             cols, table);
    sql1(c, sql, NULL, out, len);
}

/* Copy COLS of TABLE from FROM to TO, values exactly (through JSON: the
 * server prints floats round-trip exact and times to the microsecond). */
static void copy_rows(PGconn *from, PGconn *to, const char *table,
                      const char *cols)
{
    char sql[10240];
    PGresult *r;

    snprintf(sql, sizeof sql,
             "SELECT coalesce(json_agg(x), '[]') FROM (SELECT %s FROM %s) x",
             cols, table);
    r = PQexec(from, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (%s) SELECT %s FROM"
             " json_populate_recordset(NULL::%s, $1)",
             table, cols, cols, table);
    sql1(to, sql, PQgetvalue(r, 0, 0), NULL, 0);
    PQclear(r);
}

/* The report's text without its "집계 시각" (built at) line: when the day
 * was rebuilt, the one line that differs by design between two builds of
 * the same records. Fails when the line is not there. */
static void drop_built_at(char *text)
{
    char *line = strstr(text, "\n집계 시각 ");
    char *end;

    assert_non_null(line);
    end = strchr(line + 1, '\n');
    assert_non_null(end);
    memmove(line, end, strlen(end) + 1);
}

/* Today's binaries on database DB (a "database=..." option): migrate, load
 * the feed, rebuild the day; the daily report's text (drop_built_at), to
 * be freed. */
static char *build_and_report(const char *empty, const char *db,
                              const char *feed)
{
    const char *log;
    char *rargs[] = {"-f",        (char *)empty, "-o",
                     (char *)db,  "--load-gtfs", (char *)feed,
                     "--rebuild", UP_DAY,        NULL};
    char *pargs[] = {"-f",    (char *)empty, "-o",   (char *)db,
                     "daily", "--date",      UP_DAY, NULL};

    if (run("shuttle-backend", rargs, &log) != 0) {
        harness_log_tail(log, 20);
        fail_msg("shuttle-backend --load-gtfs --rebuild failed");
    }
    if (run("shuttle-report", pargs, &log) != 0) {
        harness_log_tail(log, 20);
        fail_msg("shuttle-report daily failed");
    }
    {
        char *text = harness_read_file(log);

        drop_built_at(text);
        return text;
    }
}

static void test_upgrade_from_every_migration(void **state)
{
    struct harness_pg *pg = harness_pg_start(1);
    char *dir = harness_tmpdir("upgrade-every");
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char empty[4096], feed[4096], db[1200];
    char *want;
    PGconn *ref;
    int latest = 0;

    (void)state;
    assert_non_null(pg);
    assert_non_null(dir);
    empty_conf(dir, empty, sizeof empty);
    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : "..");
    for (const struct migration *m = migrations; m->version; m++)
        latest = m->version;
    assert_true(latest > 1);

    /* The reference: today's schema from the start (database shuttle),
     * the feed, the day's raw records, built and reported. */
    {
        const char *log;
        char *args[] = {"-f",          empty,        "-o", db,
                        "--load-gtfs", (char *)feed, NULL};

        snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
        if (run("shuttle-backend", args, &log) != 0) {
            harness_log_tail(log, 20);
            fail_msg("reference database not set up");
        }
    }
    assert_int_equal(harness_pg_exec(pg, raw_sql), 0);
    want = build_and_report(empty, db, feed);
    /* A report of real work: runs operated and riders counted. */
    assert_true(harness_pg_scalar(pg, "SELECT count(*) FROM trip_outcomes"
                                      " WHERE status = 'operated'") > 10);
    assert_true(harness_pg_scalar(pg,
                                  "SELECT boarded FROM daily_ridership"
                                  " WHERE service_day = '" UP_DAY "'") > 100);
    ref = db_open(harness_pg_conninfo(pg));

    for (int k = 1; k < latest; k++) {
        char name[32], cols[NRAW][1024], before[NRAW][128], sum[128];
        char *got;
        PGconn *c;

        snprintf(name, sizeof name, "up%03d", k);
        {
            char sql[64];

            snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
            assert_int_equal(harness_pg_exec(pg, sql), 0);
        }
        c = db_open(conninfo_of(pg, name));
        migrate_to(c, k);
        /* The raw rows as that era's schema takes them: its columns only
         * (today's rows, so both databases hold the same records). */
        sql1(c, "SELECT shuttle_ensure_partition('" UP_DAY "')", NULL, NULL, 0);
        for (size_t t = 0; t < NRAW; t++) {
            columns_of(c, raw_tables[t], cols[t], sizeof cols[t]);
            copy_rows(ref, c, raw_tables[t], cols[t]);
            checksum(c, raw_tables[t], cols[t], before[t], sizeof before[t]);
            checksum(ref, raw_tables[t], cols[t], sum, sizeof sum);
            assert_string_equal(before[t], sum);
        }

        /* Today's backend upgrades it... */
        snprintf(db, sizeof db, "database=%s", conninfo_of(pg, name));
        {
            const char *log;
            char *args[] = {"-f", empty, "-o", db, "--migrate", NULL};

            if (run("shuttle-backend", args, &log) != 0) {
                harness_log_tail(log, 20);
                fail_msg("upgrade from migration %d failed", k);
            }
        }
        sql1(c,
             "SELECT max(version) || ' ' || count(*) FROM"
             " schema_migrations",
             NULL, sum, sizeof sum);
        {
            char wantv[32];

            snprintf(wantv, sizeof wantv, "%d %d", latest, latest);
            if (strcmp(sum, wantv) != 0)
                fail_msg("from migration %d: schema_migrations %s, want %s", k,
                         sum, wantv);
        }
        /* ...with every raw row as it was. */
        for (size_t t = 0; t < NRAW; t++) {
            checksum(c, raw_tables[t], cols[t], sum, sizeof sum);
            if (strcmp(sum, before[t]) != 0)
                fail_msg("from migration %d: %s changed (%s, was %s)", k,
                         raw_tables[t], sum, before[t]);
        }
        PQfinish(c);

        /* And the day it reports is the reference's, byte for byte. */
        got = build_and_report(empty, db, feed);
        if (strcmp(got, want) != 0) {
            size_t at = 0, line = 1;

            /* The first line that differs, rather than two whole reports. */
            for (; got[at] == want[at]; at++)
                line += got[at] == '\n';
            while (at > 0 && got[at - 1] != '\n')
                at--;
            fprintf(stderr, "line %zu, got:\n%.200s\nwant:\n%.200s\n", line,
                    got + at, want + at);
            fail_msg("from migration %d: the report differs", k);
        }
        free(got);
    }
    PQfinish(ref);
    free(want);
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_newer_schema_refused, teardown),
        cmocka_unit_test_teardown(test_upgrade_from_every_migration, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
