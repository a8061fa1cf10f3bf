/* The database roles in use, as the demo sets them up: logins in
 * shuttle_ingest, shuttle_read and shuttle_live that authenticate with
 * scram-sha-256 through a libpq passfile; each may write only what its
 * program writes; shuttle-backend runs as the ingest login on a current
 * schema, stores a bus's batch and acknowledges it, and names the missing
 * migration on a schema that is behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "itest_db.h"
#include "wire.h"

struct rx {
    struct harness_pg *pg;
    char *dir;
    char passfile[600];
};

static struct rx rx;

/* What a login may do to one table: a bit per statement. */
#define MAY_INSERT 1
#define MAY_UPDATE 2
#define MAY_DELETE 4

struct grant {
    const char *table;
    int may;
};

static const char *const logins[][2] = {
    {"t_ingest", "shuttle_ingest"},
    {"t_read", "shuttle_read"},
    {"t_live", "shuttle_live"},
};

static void conninfo_of(char *buf, size_t len, const char *login,
                        const char *passfile)
{
    snprintf(buf, len, "host=%s port=%d dbname=shuttle user=%s passfile=%s",
             harness_pg_dir(rx.pg), harness_pg_port(rx.pg), login,
             passfile ? passfile : "none");
}

static PGconn *connect_as(const char *login)
{
    char ci[1024];
    PGconn *c;

    conninfo_of(ci, sizeof ci, login, rx.passfile);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("%s: %s", login, PQerrorMessage(c));
    return c;
}

/* The SQLSTATE of SQL on C: "" when it succeeded. Copied into BUF. */
static const char *state_of(PGconn *c, const char *sql, char *buf, size_t len)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    snprintf(buf, len, "%s",
             st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? ""
             : s                                             ? s
                                                             : "?");
    PQclear(r);
    return buf;
}

static void expect_ok(PGconn *c, const char *sql)
{
    char st[8];

    if (state_of(c, sql, st, sizeof st)[0])
        fail_msg("%s: expected to succeed, got %s: %s", sql, st,
                 PQerrorMessage(c));
}

/* 42501: insufficient_privilege, the one refusal that proves the grant. */
static void expect_denied(PGconn *c, const char *sql)
{
    char st[8];

    if (strcmp(state_of(c, sql, st, sizeof st), "42501") != 0)
        fail_msg("%s: expected permission denied (42501), got '%s'", sql, st);
}

static int may_of(const struct grant *g, const char *table)
{
    for (; g && g->table; g++)
        if (strcmp(g->table, table) == 0)
            return g->may;
    return 0;
}

/* Every table of public (partitions, the unlogged and the GTFS ones
 * included): LOGIN may SELECT each, and INSERT, UPDATE, DELETE, TRUNCATE
 * only where ALLOWED says (TRUNCATE never). The statements touch no row,
 * so an allowed one changes nothing and a refused one is refused by the
 * privilege check alone. Returns the number of tables tried. */
static int check_every_table(const char *login, const struct grant *allowed)
{
    PGconn *c = connect_as(login);
    PGresult *r = PQexec(
        c, "SELECT t.tablename, (SELECT attname FROM pg_attribute"
           " WHERE attrelid = format('public.%I', t.tablename)::regclass"
           " AND attnum = 1) FROM pg_tables t WHERE schemaname = 'public'"
           " ORDER BY 1");
    int n;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        const char *t = PQgetvalue(r, i, 0);
        const char *col = PQgetvalue(r, i, 1);
        int may = may_of(allowed, t);
        char sql[512];

        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", t);
        expect_ok(c, sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO \"%s\" (\"%s\") SELECT \"%s\" FROM \"%s\""
                 " WHERE false",
                 t, col, col, t);
        (may & MAY_INSERT ? expect_ok : expect_denied)(c, sql);
        snprintf(sql, sizeof sql,
                 "UPDATE \"%s\" SET \"%s\" = \"%s\" WHERE false", t, col, col);
        (may & MAY_UPDATE ? expect_ok : expect_denied)(c, sql);
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE false", t);
        (may & MAY_DELETE ? expect_ok : expect_denied)(c, sql);
        snprintf(sql, sizeof sql, "TRUNCATE \"%s\"", t);
        expect_denied(c, sql);
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

static int setup(void **state)
{
    char sql[512], hba[600];
    FILE *f;

    (void)state;
    rx.pg = itest_db_with_feed();
    rx.dir = harness_tmpdir("roles");
    if (!rx.pg || !rx.dir)
        return -1;
    snprintf(rx.passfile, sizeof rx.passfile, "%s/pgpass", rx.dir);
    f = fopen(rx.passfile, "w");
    if (!f || chmod(rx.passfile, 0600) != 0)
        return -1;
    for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
        /* Fixed passwords: the test proves they are asked for, not that
         * they are random (the demo's are). */
        snprintf(sql, sizeof sql,
                 "CREATE ROLE %s LOGIN PASSWORD 'pw-%s-%zu' IN ROLE %s",
                 logins[i][0], logins[i][0], i, logins[i][1]);
        if (harness_pg_exec(rx.pg, sql) != 0)
            return -1;
        fprintf(f, "%s:%d:shuttle:%s:pw-%s-%zu\n", harness_pg_dir(rx.pg),
                harness_pg_port(rx.pg), logins[i][0], logins[i][0], i);
    }
    if (fclose(f) != 0)
        return -1;
    /* As the demo: the superuser trusted on the socket, every login by
     * password. harness_pg_start's cluster is in DIR/data. */
    snprintf(hba, sizeof hba, "%s/data/pg_hba.conf", harness_pg_dir(rx.pg));
    f = fopen(hba, "w");
    if (!f)
        return -1;
    fputs("local all postgres trust\nlocal all all scram-sha-256\n", f);
    if (fclose(f) != 0 ||
        harness_pg_scalar(rx.pg, "SELECT pg_reload_conf()::int") != 1)
        return -1;
    /* A positions partition for today, as ingest would make it. */
    return harness_pg_exec(rx.pg,
                           "SELECT shuttle_ensure_partition(current_date)");
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* scram-sha-256 is in force: no password or a wrong one is refused, the
 * passfile's is taken. */
static void test_password_required(void **state)
{
    char ci[1024], bad[600];
    PGconn *c;
    FILE *f;

    (void)state;
    conninfo_of(ci, sizeof ci, "t_ingest", NULL);
    c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    PQfinish(c);
    snprintf(bad, sizeof bad, "%s/wrongpass", rx.dir);
    f = fopen(bad, "w");
    assert_non_null(f);
    assert_int_equal(chmod(bad, 0600), 0);
    fprintf(f, "*:*:*:t_ingest:not-the-password\n");
    assert_int_equal(fclose(f), 0);
    conninfo_of(ci, sizeof ci, "t_ingest", bad);
    c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    assert_non_null(strstr(PQerrorMessage(c), "password authentication"));
    PQfinish(c);
    PQfinish(connect_as("t_ingest"));
}

/* Ingest appends raw rows and never changes or removes one. */
static void test_ingest_appends_only(void **state)
{
    PGconn *c;
    PGresult *r;

    (void)state;
    c = connect_as("t_ingest");
    expect_ok(c, "INSERT INTO positions (vehicle_id, seq, service_day, t,"
                 " lat, lon, fix_mode) VALUES ('bus-r', 1, current_date,"
                 " now(), 37.5, 126.7, 3)");
    expect_denied(c, "UPDATE positions SET lat = 0 WHERE vehicle_id = 'bus-r'");
    expect_denied(c, "DELETE FROM positions WHERE vehicle_id = 'bus-r'");
    expect_denied(c, "UPDATE passenger_counts SET boarded = 0");
    expect_denied(c, "DELETE FROM passenger_counts");
    PQfinish(c);
    assert_int_equal(harness_pg_scalar(rx.pg, "SELECT count(*) FROM positions"
                                              " WHERE vehicle_id = 'bus-r'"
                                              " AND lat = 37.5"),
                     1);
    /* Only the key of raw rows is readable to ingest, not the fix. */
    c = connect_as("t_ingest");
    r = PQexec(c, "SELECT lat FROM positions");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(c);
}

/* The read login reads every table and writes none. */
static void test_read_writes_nothing(void **state)
{
    (void)state;
    /* 8 GTFS, 6 raw, 4 derived and at least one partition: all of them. */
    assert_true(check_every_table("t_read", NULL) >= 19);
}

/* The live writer writes its own tables only, raw telemetry never. */
static void test_live_writes_its_tables(void **state)
{
    static const struct grant live[] = {
        {"stop_visits", MAY_INSERT | MAY_DELETE},
        {"trip_outcomes", MAY_INSERT | MAY_DELETE},
        {"daily_ridership", MAY_INSERT | MAY_DELETE},
        {"eta_samples", MAY_INSERT},
        {NULL, 0},
    };

    (void)state;
    assert_true(check_every_table("t_live", live) >= 19);
}

/* Publish positions 1..N of VID, a minute old, in one batch with QoS 1,
 * through the ordinary command-line client, as a bus would send them. */
static void publish_positions(struct harness_mqtt *m, const char *vid, int n)
{
    struct wire_record recs[8];
    struct wire_batch b;
    struct timespec ts;
    char topic[128], path[600], log[600];
    struct harness_proc *p;
    uint8_t *buf;
    size_t len;
    FILE *f;

    assert_true(n > 0 && n <= 8);
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < n; i++) {
        wire_position_init(&recs[i]);
        recs[i].seq = (uint64_t)i + 1;
        recs[i].t_ms = (int64_t)ts.tv_sec * 1000 - 60000 + i * 1000;
        recs[i].u.pos.lat = 37.45 + i * 1e-4;
        recs[i].u.pos.lon = 126.70;
        recs[i].u.pos.fix_mode = 3;
        recs[i].u.pos.sats_used = 8;
    }
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    b.n = (size_t)n;
    b.records = recs;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(wire_topic(topic, sizeof topic, vid, "telemetry"), 0);
    snprintf(path, sizeof path, "%s/batch.bin", rx.dir);
    snprintf(log, sizeof log, "%s/pub.log", rx.dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
    {
        const char *args[] = {"-q", "1", "-t", topic, "-f", path, NULL};

        p = harness_mosquitto_client(m, "mosquitto_pub", vid, args, log);
    }
    assert_non_null(p);
    assert_int_equal(harness_wait(p, 15000), 0);
}

/* shuttle-backend --migrate as LOGIN: its exit code, its log in LOG. */
static int backend_migrate_as(const char *login, const char *log)
{
    char ci[1200], opt[1300];
    struct harness_proc *p;

    conninfo_of(ci, sizeof ci, login, rx.passfile);
    snprintf(opt, sizeof opt, "database=%s", ci);
    {
        char *argv[] = {(char *)harness_bin("shuttle-backend"), "-o", opt,
                        "--migrate", NULL};
        p = harness_spawn("shuttle-backend", argv, log);
    }
    assert_non_null(p);
    return harness_wait(p, 20000);
}

/* The ingest login starts on a current schema, and says which migration is
 * missing (and who applies it) when one is. */
static void test_backend_as_ingest(void **state)
{
    char log[600], ci[1200], opt[1300];
    const char *const opts[] = {opt, NULL};
    struct harness_mqtt *m;
    struct harness_proc *be;

    (void)state;
    snprintf(log, sizeof log, "%s/migrate-current.log", rx.dir);
    assert_int_equal(backend_migrate_as("t_ingest", log), 0);
    assert_true(harness_log_has(log, "database schema is up to date"));

    m = harness_mosquitto_start(NULL);
    assert_non_null(m);
    conninfo_of(ci, sizeof ci, "t_ingest", rx.passfile);
    snprintf(opt, sizeof opt, "database=%s", ci);
    be = harness_backend_start(rx.pg, m, opts);
    assert_non_null(be);
    /* End to end as that login: stored, and the bus's watermark moved (the
     * partition of today's first record made through the granted
     * function). */
    publish_positions(m, "bus-roles", 5);
    assert_int_equal(harness_wait_scalar(rx.pg,
                                         "SELECT count(*) FROM positions"
                                         " WHERE vehicle_id = 'bus-roles'",
                                         5, 20000),
                     0);
    assert_int_equal(harness_wait_scalar(rx.pg,
                                         "SELECT acked_seq FROM"
                                         " vehicle_progress WHERE vehicle_id"
                                         " = 'bus-roles'",
                                         5, 20000),
                     0);
    assert_int_equal(harness_stop(be), 0);

    /* A schema one step behind (as after an upgrade of the binary). */
    assert_int_equal(harness_pg_exec(rx.pg, "DELETE FROM"
                                            " schema_migrations WHERE version"
                                            " = 9"),
                     0);
    snprintf(log, sizeof log, "%s/migrate-behind.log", rx.dir);
    assert_int_equal(backend_migrate_as("t_ingest", log), 1);
    if (!harness_log_has(log, "migration 009_schema_version not applied")) {
        harness_log_tail(log, 5);
        fail_msg("the missing migration is not named");
    }
    assert_true(harness_log_has(log, "schema owner"));
    harness_mosquitto_stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_required),
        cmocka_unit_test(test_ingest_appends_only),
        cmocka_unit_test(test_read_writes_nothing),
        cmocka_unit_test(test_live_writes_its_tables),
        cmocka_unit_test(test_backend_as_ingest),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
