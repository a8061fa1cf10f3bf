/* Database fail-over: a primary and a synchronous streaming replica, and
 * buses (shuttle-loadgen --ack) streaming through the broker into
 * shuttle-backend on a multi-host connection string. Mid-load the replica
 * is promoted and the old primary stopped (or made read-only): every record
 * ends up on the new primary exactly once, the acks resume within seconds,
 * every bus is acknowledged to its end. shuttle-report and shuttle-live
 * read from the standby while there is one (prefer-standby). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "itest.h"

#define FO_PREFIX "fo-"

/* SHUTTLE_FAILOVER_VEHICLES (default 6, the fleet) and
 * SHUTTLE_FAILOVER_RECORDS (default 6,000 at 400 records/s; the README's
 * long form: 100 vehicles, 100,000 records). */
static long env_long(const char *name, long def)
{
    const char *v = getenv(name);

    return v && *v ? strtol(v, NULL, 10) : def;
}

/* The bound the test asserts on the ack gap, for a busy 2-core machine;
 * the measured figure is printed. */
#define FO_ACK_GAP_MAX_MS 30000

struct fo {
    struct harness_mqtt *m;
    struct harness_pg *primary, *standby;
    const char *rw, *ro; /* read-write and prefer-standby strings */
    long vehicles, records;
    const char *lg_log, *acks_log;
    struct harness_proc *lg, *acks, *be;
};

static const char *tmp_file(const char *tag, const char *name)
{
    char *dir = harness_tmpdir(tag);
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];

    assert_non_null(dir);
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

/* Broker, primary (fsync on: the old primary is crashed), a synchronous
 * standby, the two connection strings (primary listed first, as an
 * operator would), the ack listener and shuttle-backend. */
static void fo_start(struct fo *f)
{
    struct harness_pg *both[2];
    char opt[1024];
    const char *be_opts[] = {opt, "batch_age_ms=200", NULL};
    const char *sub_args[] = {
        "-t", "shuttle/v1/+/ack", "-q", "1", "-F", "%U %t", NULL};

    f->vehicles = env_long("SHUTTLE_FAILOVER_VEHICLES", 6);
    f->records = env_long("SHUTTLE_FAILOVER_RECORDS", 6000);
    f->m = harness_mosquitto_start_plain(
        NULL, "one load generator speaks as every bus (test_broker_acl "
              "proves the shipped broker's ACL)");
    assert_non_null(f->m);
    f->primary = harness_pg_start(0);
    assert_non_null(f->primary);
    /* Each server logs its logins: which one a client reached is then
     * read from the logs. Set before the base backup, so both have it. */
    assert_int_equal(
        harness_pg_exec(f->primary, "ALTER SYSTEM SET log_connections = on"),
        0);
    assert_int_equal(harness_pg_exec(f->primary, "SELECT pg_reload_conf()"), 0);
    f->standby = harness_pg_start_replica(f->primary, 1);
    assert_non_null(f->standby);
    both[0] = f->primary;
    both[1] = f->standby;
    f->rw = harness_pg_conninfo_multi(both, 2, "read-write");
    f->ro = harness_pg_conninfo_multi(both, 2, "prefer-standby");
    print_message("backend database: %s\n", f->rw);

    f->acks_log = tmp_file("fo-acks", "acks.log");
    f->acks = harness_mosquitto_client(f->m, "mosquitto_sub", "shuttle-ingest",
                                       sub_args, f->acks_log);
    assert_non_null(f->acks);
    /* A password (trust ignores it) that the start-up line must mask. */
    snprintf(opt, sizeof opt, "database=%s password=fo-s3cret", f->rw);
    f->be = harness_backend_start(f->primary, f->m, be_opts);
    assert_non_null(f->be);
}

static void fo_loadgen(struct fo *f)
{
    char port[16], veh[24], recs[24];
    const char *argv[] = {harness_bin("shuttle-loadgen"), "-p", port, "-n", veh,
                          "-b", "10", "-m", recs, "-r", "400", "--ack",
                          /* Quicker than the onboard's 10 s: the suite's
                           * time budget. */
                          "--resend-ms", "2000", "--wait-s", "120", "--prefix",
                          FO_PREFIX, NULL};

    snprintf(port, sizeof port, "%d", harness_mosquitto_port(f->m));
    snprintf(veh, sizeof veh, "%ld", f->vehicles);
    snprintf(recs, sizeof recs, "%ld", f->records);
    f->lg_log = tmp_file("fo-loadgen", "loadgen.log");
    f->lg = harness_spawn("shuttle-loadgen", (char *const *)argv, f->lg_log);
    assert_non_null(f->lg);
}

/* Wait until a third of the load is acknowledged on the primary: the
 * fail-over then falls into a running load. */
static void fo_wait_third(struct fo *f)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT (coalesce(sum(acked_seq), 0) >= %ld)::int FROM"
             " vehicle_progress WHERE vehicle_id LIKE '" FO_PREFIX "%%'",
             f->records / 3);
    assert_int_equal(harness_wait_scalar(f->primary, sql, 1, 120000), 0);
}

/* The first ack the listener received at or after AFTER_MS (Unix ms):
 * its time, or -1. The listener prints "SECONDS.NANOSECONDS TOPIC". */
static int64_t fo_first_ack_after(const char *log, int64_t after_ms,
                                  int64_t *max_gap_ms, int64_t from_ms)
{
    FILE *fp = fopen(log, "r");
    char line[512];
    int64_t found = -1, prev = -1;

    assert_non_null(fp);
    *max_gap_ms = 0;
    while (fgets(line, sizeof line, fp)) {
        int64_t t = (int64_t)(strtod(line, NULL) * 1000.0);

        if (t <= 0)
            continue;
        if (t >= from_ms && prev >= 0 && t - prev > *max_gap_ms)
            *max_gap_ms = t - prev;
        prev = t;
        if (found < 0 && t >= after_ms)
            found = t;
    }
    fclose(fp);
    return found;
}

/* After the load: on the new primary every record once, each bus's seqs
 * 1..n without a gap, every bus's watermark at its end, no dead letters;
 * and the buses heard it (loadgen exits 0 only when every vehicle is
 * acknowledged to its last record). */
static void fo_check(struct fo *f, struct harness_pg *now_primary)
{
    char want[64];
    int rc = harness_wait(f->lg, 240000);

    if (rc != 0)
        harness_log_tail(f->lg_log, 30);
    harness_log_tail(f->lg_log, 6);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want, "acked      %ld/%ld vehicles complete",
             f->vehicles, f->vehicles);
    assert_true(harness_log_has(f->lg_log, want));
    assert_int_equal(harness_pg_scalar(now_primary,
                                       "SELECT count(*) FROM positions WHERE"
                                       " vehicle_id LIKE '" FO_PREFIX "%'"),
                     f->records);
    /* By (vehicle_id, seq) alone: the key also holds service_day. */
    assert_int_equal(harness_pg_scalar(now_primary,
                                       "SELECT count(DISTINCT (vehicle_id,"
                                       " seq)) FROM positions WHERE"
                                       " vehicle_id LIKE '" FO_PREFIX "%'"),
                     f->records);
    assert_int_equal(harness_pg_scalar(now_primary,
                                       "SELECT count(DISTINCT vehicle_id) FROM"
                                       " positions WHERE vehicle_id LIKE"
                                       " '" FO_PREFIX "%'"),
                     f->vehicles);
    assert_int_equal(
        harness_pg_scalar(now_primary,
                          "SELECT count(*) FROM (SELECT vehicle_id, min(seq)"
                          " lo, max(seq) hi, count(*) n FROM positions WHERE"
                          " vehicle_id LIKE '" FO_PREFIX "%' GROUP BY"
                          " vehicle_id) p LEFT JOIN vehicle_progress vp USING"
                          " (vehicle_id) WHERE p.lo <> 1 OR p.hi <> p.n OR"
                          " vp.acked_seq IS DISTINCT FROM p.hi"),
        0);
    assert_int_equal(
        harness_pg_scalar(now_primary, "SELECT count(*) FROM dead_letters"), 0);
}

/* Statements shuttle-report's sessions logged in the server log at PATH,
 * but for libpq's own question while choosing a host. */
static int fo_report_queries(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        if ((strstr(line, "LOG:  statement: ") ||
             strstr(line, "LOG:  execute ")) &&
            !strstr(line, "pg_is_in_recovery") &&
            !strstr(line, "transaction_read_only"))
            n++;
    fclose(fp);
    return n;
}

struct fo_log_wait {
    const char *path, *needle;
};

static int fo_log_has(void *arg)
{
    const struct fo_log_wait *w = arg;

    return harness_log_has(w->path, w->needle);
}

static int wait_log(const char *path, const char *needle, int timeout_ms)
{
    struct fo_log_wait w = {path, needle};

    return harness_wait_for(fo_log_has, &w, timeout_ms);
}

/* Promote the standby, stop the old primary at once (immediate: a crash),
 * the load running throughout. */
static void test_failover_promote(void **state)
{
    struct fo f = {0};
    char opt_db[1024], opt_wdb[1024];
    const char *live_opts[] = {opt_db, opt_wdb, NULL};
    const char *rep_conf = tmp_file("fo-report", "report.conf");
    const char *rep_log = tmp_file("fo-report", "report.log");
    char rep_db[1024];
    const char *rep_argv[] = {harness_bin("shuttle-report"),
                              "-f",
                              rep_conf,
                              "-o",
                              rep_db,
                              "daily",
                              "--date",
                              "2026-01-01",
                              NULL};
    struct harness_proc *live, *rep;
    FILE *fp;
    int64_t t_promote, t_promoted, t_stopped, t_resume, max_gap;
    int rc;

    (void)state;
    fo_start(&f);
    /* shuttle-live reads where reports may (a standby) and writes on the
     * primary. */
    snprintf(opt_db, sizeof opt_db, "database=%s password=fo-s3cret", f.ro);
    snprintf(opt_wdb, sizeof opt_wdb, "writer_database=%s", f.rw);
    live = harness_live_start(f.primary, f.m, live_opts);
    assert_non_null(live);
    /* Both logged their connection strings, the passwords masked. */
    assert_true(harness_log_has(harness_proc_log(f.be), "password=***"));
    assert_false(harness_log_has(harness_proc_log(f.be), "fo-s3cret"));
    assert_true(harness_log_has(harness_proc_log(live), "password=***"));
    assert_false(harness_log_has(harness_proc_log(live), "fo-s3cret"));

    /* shuttle-report on the prefer-standby string logs in on the standby,
     * though the primary is listed first. No day is built: exit 3. */
    fp = fopen(rep_conf, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    /* Its sessions alone log their statements (user postgres may). */
    snprintf(rep_db, sizeof rep_db,
             "database=%s options='-c log_statement=all'", f.ro);
    rep = harness_spawn("shuttle-report", (char *const *)rep_argv, rep_log);
    assert_non_null(rep);
    rc = harness_wait(rep, 60000);
    if (rc != 3)
        harness_log_tail(rep_log, 10);
    assert_int_equal(rc, 3);
    /* libpq logs in on each host to ask, so both logs have the login;
     * only the chosen one has the report's queries. */
    assert_true(fo_report_queries(harness_pg_log(f.standby)) > 0);
    assert_int_equal(fo_report_queries(harness_pg_log(f.primary)), 0);

    fo_loadgen(&f);
    fo_wait_third(&f);
    t_promote = itest_wall_ms();
    assert_int_equal(harness_pg_promote(f.standby), 0);
    t_promoted = itest_wall_ms();
    assert_true(harness_pg_stop(f.primary, 1) >= 0);
    t_stopped = itest_wall_ms();
    print_message("promoted in %lld ms, old primary stopped %lld ms after "
                  "the promotion began\n",
                  (long long)(t_promoted - t_promote),
                  (long long)(t_stopped - t_promote));

    fo_check(&f, f.standby);
    t_resume = fo_first_ack_after(f.acks_log, t_stopped, &max_gap, t_promote);
    assert_true(t_resume > 0);
    print_message("FAILOVER acks resumed %lld ms after the promotion began "
                  "(%lld ms after the old primary was gone); longest pause "
                  "between two acks %lld ms\n",
                  (long long)(t_resume - t_promote),
                  (long long)(t_resume - t_stopped), (long long)max_gap);
    assert_true(t_resume - t_promote <= FO_ACK_GAP_MAX_MS);
    /* The backend lost its server and found the new one. */
    assert_true(itest_log_count(harness_proc_log(f.be), "database ready") >= 2);
    /* shuttle-live lived through it. */
    assert_true(harness_alive(live));
}

/* The old primary stays up but read-only (a fenced primary, or one that
 * came back as a standby): its refusals (SQLSTATE 25006) must be a lost
 * connection, not dead letters, and the backend must find the new
 * primary, the read-only one still listed first. */
static void test_failover_read_only(void **state)
{
    struct fo f = {0};
    int64_t t_promote, t_resume, max_gap;

    (void)state;
    fo_start(&f);
    fo_loadgen(&f);
    fo_wait_third(&f);
    t_promote = itest_wall_ms();
    assert_int_equal(harness_pg_exec(f.primary,
                                     "ALTER SYSTEM SET"
                                     " default_transaction_read_only = on"),
                     0);
    assert_int_equal(harness_pg_exec(f.primary, "SELECT pg_reload_conf()"), 0);
    /* Refused, and not promoted yet: no server takes the rows, the backend
     * keeps them. Only then the promotion: commits begun before the switch
     * still wait on their synchronous standby, which must be streaming. */
    assert_int_equal(wait_log(harness_proc_log(f.be),
                              "the database server is read-only", 60000),
                     0);
    assert_int_equal(harness_pg_promote(f.standby), 0);

    fo_check(&f, f.standby);
    /* Nothing of the load was written to the old primary after it became
     * read-only, and the new one holds it all (fo_check). */
    t_resume = fo_first_ack_after(f.acks_log, itest_wall_ms() - 3600000,
                                  &max_gap, t_promote);
    assert_true(t_resume > 0);
    print_message("FAILOVER read-only old primary: longest pause between two "
                  "acks from the switch on %lld ms\n",
                  (long long)max_gap);
    assert_true(max_gap <= FO_ACK_GAP_MAX_MS);
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
        cmocka_unit_test_teardown(test_failover_promote, teardown),
        cmocka_unit_test_teardown(test_failover_read_only, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
