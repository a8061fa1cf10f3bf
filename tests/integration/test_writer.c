/* The writer's rows read back exactly: every column type of positions and
 * passenger_counts through binary COPY, NULLs, extremes of the rule set,
 * values stored as the text COPY stored them (coordinates to 9 places,
 * speed to 3, the other reals to 2), the re-send path and the narrowing of
 * a refused row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "harness.h"
#include "partitions.h"
#include "wire.h"
#include "writer.h"

struct tw {
    struct harness_pg *pg;
    struct db *d;
    struct partitions *parts;
    struct writer *w;
    PGconn *conn; /* ours, to read back */
};

static struct tw tw;

/* The rule set allows times in 1970..9999 within a window
 * the operator sets; these are its two ends. */
#define TW_T_FIRST 1LL                  /* 1970-01-01 00:00:00.001 UTC */
#define TW_T_LAST 253402300799999LL     /* 9999-12-31 23:59:59.999 UTC */
#define TW_T_NOW_ISH 1764547200123LL    /* 2025-12-01 00:00:00.123 UTC */
#define TW_T_BEFORE_2000 946684799999LL /* 1999-12-31 23:59:59.999 UTC */

static int setup(void **state)
{
    char err[512];

    (void)state;
    memset(&tw, 0, sizeof tw);
    tw.pg = harness_pg_start(1);
    if (!tw.pg)
        return -1;
    if (db_new(harness_pg_conninfo(tw.pg), &tw.d) != DB_OK ||
        partitions_new(&tw.parts) != DB_OK ||
        writer_new(tw.d, tw.parts, 100000, &tw.w) != DB_OK)
        return -1;
    if (db_connect(tw.d, err, sizeof err) != DB_OK ||
        db_migrate(tw.d, err, sizeof err) != DB_OK ||
        db_prepare(tw.d, err, sizeof err) != DB_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    tw.conn = PQconnectdb(harness_pg_conninfo(tw.pg));
    if (PQstatus(tw.conn) != CONNECTION_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    writer_free(tw.w);
    partitions_free(tw.parts);
    db_free(tw.d);
    PQfinish(tw.conn);
    harness_cleanup();
    return 0;
}

/* One row of sql's answer, or a failed test. The result is the caller's. */
static PGresult *row_of(const char *sql)
{
    PGresult *r = PQexec(tw.conn, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s (%d rows)", sql, PQerrorMessage(tw.conn),
                 PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1);
    return r;
}

static long long qll(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    PGresult *r;
    long long v;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    r = row_of(sql);
    v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void commit(uint64_t *inserted)
{
    char err[512];

    if (writer_commit(tw.w, NULL, NULL, inserted, err, sizeof err) != DB_OK)
        fail_msg("commit: %s", err);
}

static void stage(const char *vid, struct wire_record *recs, size_t n)
{
    struct wire_batch b;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    b.records = recs;
    b.n = n;
    assert_int_equal(writer_stage_batch(tw.w, &b), DB_OK);
}

/* v as the writer stores it: to `decimals` places, as the server reads
 * the decimal (the stored values of the text COPY, which the golden files
 * of test_e2e hold). */
static double as_stored(double v, int decimals)
{
    char buf[512];

    if (!isfinite(v))
        return v;
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return strtod(buf, NULL);
}

/* Column c of r is NULL when want is not finite, else exactly want (a
 * double precision, printed in full by PostgreSQL 12+). */
static void expect_f8(const PGresult *r, int c, double want)
{
    if (!isfinite(want)) {
        if (!PQgetisnull(r, 0, c))
            fail_msg("column %s: %s, not NULL", PQfname(r, c),
                     PQgetvalue(r, 0, c));
        return;
    }
    if (PQgetisnull(r, 0, c))
        fail_msg("column %s: NULL, not %.17g", PQfname(r, c), want);
    if (strtod(PQgetvalue(r, 0, c), NULL) != want)
        fail_msg("column %s: %s, not %.17g", PQfname(r, c), PQgetvalue(r, 0, c),
                 want);
}

/* As expect_f8 for a real (want: the decimal it was sent as). */
static void expect_f4(const PGresult *r, int c, double want, int decimals)
{
    char buf[512];

    if (!isfinite(want) || PQgetisnull(r, 0, c)) {
        expect_f8(r, c, want);
        return;
    }
    snprintf(buf, sizeof buf, "%.*f", decimals, want);
    if (strtof(PQgetvalue(r, 0, c), NULL) != strtof(buf, NULL))
        fail_msg("column %s: %s, not %s", PQfname(r, c), PQgetvalue(r, 0, c),
                 buf);
}

/* Column c of r, an integer, is want (-1: NULL). */
static void expect_int(const PGresult *r, int c, long long want)
{
    long long got =
        PQgetisnull(r, 0, c) ? -1 : strtoll(PQgetvalue(r, 0, c), NULL, 10);

    if (got != want)
        fail_msg("column %s: %lld, not %lld", PQfname(r, c), got, want);
}

/* Read back a position and compare every column. t and the service day
 * are compared as Unix ms and as the date of t in the feed's zone. */
static void expect_position(const char *vid, const struct wire_record *rec)
{
    char sql[1024];
    PGresult *r;
    const struct wire_position *p = &rec->u.pos;

    snprintf(sql, sizeof sql,
             "SELECT (extract(epoch FROM t) * 1000)::bigint,"
             " (service_day = (t AT TIME ZONE '%s')::date)::int,"
             " backlog::int, time_source, lat, lon, speed, track, alt, hdop,"
             " fix_mode, sats_used FROM positions WHERE vehicle_id = '%s'"
             " AND seq = %" PRIu64,
             db_service_zone(tw.d), vid, rec->seq);
    r = row_of(sql);
    expect_int(r, 0, rec->t_ms);
    expect_int(r, 1, 1);
    expect_int(r, 2, rec->backlog);
    expect_int(r, 3, rec->time_source);
    expect_f8(r, 4, as_stored(p->lat, 9));
    expect_f8(r, 5, as_stored(p->lon, 9));
    expect_f4(r, 6, p->speed, 3);
    expect_f4(r, 7, p->track, 2);
    expect_f4(r, 8, p->alt, 2);
    expect_f4(r, 9, p->hdop, 2);
    expect_int(r, 10, p->fix_mode);
    expect_int(r, 11, p->sats_used);
    PQclear(r);
}

static void expect_count(const char *vid, const struct wire_record *rec)
{
    char sql[1024];
    PGresult *r;
    const struct wire_count *c = &rec->u.count;

    snprintf(sql, sizeof sql,
             "SELECT (extract(epoch FROM t) * 1000)::bigint,"
             " (service_day = (t AT TIME ZONE '%s')::date)::int,"
             " backlog::int, time_source, door, boarded, alighted,"
             " (extract(epoch FROM door_open) * 1000)::bigint,"
             " (extract(epoch FROM door_close) * 1000)::bigint,"
             " load_after, lat, lon, quality FROM passenger_counts"
             " WHERE vehicle_id = '%s' AND seq = %" PRIu64,
             db_service_zone(tw.d), vid, rec->seq);
    r = row_of(sql);
    expect_int(r, 0, rec->t_ms);
    expect_int(r, 1, 1);
    expect_int(r, 2, rec->backlog);
    expect_int(r, 3, rec->time_source);
    expect_int(r, 4, c->door);
    expect_int(r, 5, c->boarded);
    expect_int(r, 6, c->alighted);
    expect_int(r, 7, c->door_open_ms ? c->door_open_ms : -1);
    expect_int(r, 8, c->door_close_ms ? c->door_close_ms : -1);
    expect_int(r, 9, c->load_after);
    expect_f8(r, 10, as_stored(c->lat, 9));
    expect_f8(r, 11, as_stored(c->lon, 9));
    expect_int(r, 12, c->quality);
    PQclear(r);
}

static struct wire_record position(uint64_t seq, int64_t t_ms, double lat,
                                   double lon)
{
    struct wire_record r;

    wire_position_init(&r);
    r.seq = seq;
    r.t_ms = t_ms;
    r.u.pos.lat = lat;
    r.u.pos.lon = lon;
    r.u.pos.fix_mode = 3;
    return r;
}

static struct wire_record count(uint64_t seq, int64_t t_ms)
{
    struct wire_record r;

    memset(&r, 0, sizeof r);
    r.kind = WIRE_COUNT;
    r.seq = seq;
    r.t_ms = t_ms;
    r.u.count.door = 1;
    r.u.count.load_after = -1;
    r.u.count.lat = NAN;
    r.u.count.lon = NAN;
    return r;
}

/* (a) Every column, NULLs and the extremes, read back exactly. */
static void test_round_trip(void **state)
{
    struct wire_record p[5], c[3];
    uint64_t n = 0;

    (void)state;
    /* Negative coordinates with all the digits a double has; unknowns. */
    p[0] = position(1, TW_T_FIRST, -89.123456789012345, -179.98765432101234);
    p[0].backlog = true;
    p[0].time_source = WIRE_TIME_SYSTEM;
    p[0].u.pos.speed = NAN;
    p[0].u.pos.track = INFINITY;
    p[0].u.pos.alt = -12.25;
    p[0].u.pos.fix_mode = 2;
    /* The other end: the last ms of 9999, the largest seq. */
    p[1] = position(WIRE_SEQ_MAX, TW_T_LAST, 89.999999999, 179.999999999);
    p[1].u.pos.speed = 0.001;
    p[1].u.pos.track = 359.99;
    p[1].u.pos.hdop = 99.9;
    p[1].u.pos.sats_used = 255;
    /* Before PostgreSQL's epoch by a ms (negative microseconds there). */
    p[2] = position(2, TW_T_BEFORE_2000, 37.5665, 126.978);
    p[2].time_source = WIRE_TIME_CARRIED;
    p[2].u.pos.speed = 8.123456;
    p[2].u.pos.track = 0;
    p[2].u.pos.alt = 8848.86;
    p[2].u.pos.hdop = 0.5;
    p[2].u.pos.sats_used = 0;
    p[3] = position(3, TW_T_NOW_ISH, -33.8688, 151.2093);
    p[3].u.pos.speed = 33.3;
    p[3].u.pos.hdop = NAN;
    p[4] = position(4, TW_T_NOW_ISH + 1, 0.000000001, -0.000000001);

    c[0] = count(5, TW_T_NOW_ISH + 2);
    c[0].backlog = true;
    c[0].u.count.door = WIRE_DOOR_MAX;
    c[0].u.count.boarded = WIRE_COUNT_MAX;
    c[0].u.count.door_open_ms = TW_T_NOW_ISH - 5000;
    c[0].u.count.quality = WIRE_Q_NO_CLOSE | WIRE_Q_NO_POSITION;
    c[1] = count(6, TW_T_LAST - 1);
    c[1].time_source = WIRE_TIME_CARRIED;
    c[1].u.count.alighted = 17;
    c[1].u.count.door_open_ms = TW_T_LAST - 9000;
    c[1].u.count.door_close_ms = TW_T_LAST - 2;
    c[1].u.count.load_after = WIRE_LOAD_MAX;
    c[1].u.count.lat = -37.8136;
    c[1].u.count.lon = -144.9631;
    c[2] = count(7, TW_T_FIRST + 1);
    c[2].u.count.load_after = 0;
    c[2].u.count.lat = 1e-9;
    c[2].u.count.lon = -1e-9;
    c[2].u.count.door_close_ms = TW_T_FIRST + 5;

    stage("rt-a", p, 3);
    stage("rt-b", p + 3, 2);
    stage("rt-b", c, 3);
    commit(&n);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < 3; i++)
        expect_position("rt-a", &p[i]);
    for (size_t i = 3; i < 5; i++)
        expect_position("rt-b", &p[i]);
    for (size_t i = 0; i < 3; i++)
        expect_count("rt-b", &c[i]);
    assert_int_equal(qll("SELECT count(*) FROM positions WHERE vehicle_id"
                         " LIKE 'rt-%%'"),
                     5);
    assert_int_equal(qll("SELECT count(*) FROM passenger_counts WHERE"
                         " vehicle_id LIKE 'rt-%%'"),
                     3);
    /* received_at and the defaults were filled by the server. */
    assert_int_equal(qll("SELECT count(*) FROM positions WHERE vehicle_id"
                         " LIKE 'rt-%%' AND received_at > now() - interval"
                         " '1 hour'"),
                     5);
}

/* (b) A batch repeating stored rows goes through the staging tables: the
 * new rows are stored, exactly, the repeats once. */
static void test_resend(void **state)
{
    struct wire_record p[3], c[2];
    uint64_t n = 0;

    (void)state;
    p[0] = position(1, TW_T_NOW_ISH, -10.5, -20.25);
    p[1] = position(2, TW_T_NOW_ISH + 1000, -10.6, -20.35);
    c[0] = count(3, TW_T_NOW_ISH + 2000);
    stage("rs-a", p, 1);
    stage("rs-a", c, 1);
    commit(&n);
    assert_int_equal(n, 2);
    p[1].u.pos.speed = 4.75;
    p[1].u.pos.sats_used = 7;
    p[2] = position(4, TW_T_LAST, 45, -75);
    c[1] = count(5, TW_T_NOW_ISH + 3000);
    c[1].u.count.boarded = 3;
    c[1].u.count.door_close_ms = TW_T_NOW_ISH + 2500;
    stage("rs-a", p, 3);
    stage("rs-a", c, 2);
    commit(&n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        expect_position("rs-a", &p[i]);
    for (size_t i = 0; i < 2; i++)
        expect_count("rs-a", &c[i]);
    assert_int_equal(qll("SELECT count(*) FROM positions WHERE vehicle_id"
                         " = 'rs-a'"),
                     3);
}

/* (c) A row the database refuses is narrowed out and becomes a dead letter
 * with its seq; the rest of the batch and the other batches are stored.
 * Here one row is refused by a trigger and one holds a value its smallint
 * column cannot (the rule set would keep it out; the writer must not store
 * it as another number). */
static void test_narrowed(void **state)
{
    struct wire_record p[4], c[2];
    uint64_t n = 0;

    (void)state;
    assert_int_equal(
        harness_pg_exec(
            tw.pg,
            "CREATE FUNCTION tw_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.vehicle_id = 'nw-a' AND NEW.seq = 2 THEN "
            "RAISE EXCEPTION 'seq 2 refused' USING ERRCODE = '22023'; "
            "END IF; RETURN NEW; END $$;"
            "CREATE TRIGGER tw_refuse BEFORE INSERT ON positions FOR EACH "
            "ROW EXECUTE FUNCTION tw_refuse();"),
        0);
    for (size_t i = 0; i < 4; i++)
        p[i] = position(i + 1, TW_T_NOW_ISH + (int64_t)i, -1.0 - (double)i,
                        2.0 + (double)i);
    c[0] = count(5, TW_T_NOW_ISH + 10);
    c[1] = count(6, TW_T_NOW_ISH + 11);
    c[1].u.count.boarded = 40000; /* over smallint */
    stage("nw-a", p, 3);
    stage("nw-a", c, 2);
    stage("nw-b", p + 3, 1);
    commit(&n);
    assert_int_equal(n, 4);
    expect_position("nw-a", &p[0]);
    expect_position("nw-a", &p[2]);
    expect_position("nw-b", &p[3]);
    expect_count("nw-a", &c[0]);
    assert_int_equal(qll("SELECT count(*) FROM positions WHERE vehicle_id ="
                         " 'nw-a' AND seq = 2"),
                     0);
    assert_int_equal(qll("SELECT count(*) FROM passenger_counts WHERE"
                         " vehicle_id = 'nw-a' AND seq = 6"),
                     0);
    assert_int_equal(qll("SELECT count(*) FROM dead_letters WHERE vehicle_id"
                         " = 'nw-a' AND seq = 2 AND reason LIKE"
                         " 'database: %%seq 2 refused%%'"),
                     1);
    assert_int_equal(qll("SELECT count(*) FROM dead_letters WHERE vehicle_id"
                         " = 'nw-a' AND seq = 6 AND reason LIKE"
                         " 'database: %%'"),
                     1);
    assert_int_equal(writer_narrowed(tw.w), 2);
    assert_int_equal(
        harness_pg_exec(tw.pg, "DROP TRIGGER tw_refuse ON positions"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_resend),
        cmocka_unit_test(test_narrowed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
