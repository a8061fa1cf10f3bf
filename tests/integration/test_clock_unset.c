/* A bus without a real-time clock boots in 1970 (here: the fake_clock shim
 * sets its system clock to 1970-01-11) and counts passengers before gpsd
 * has a fix. Those counts must not be journaled with 1970 times (the
 * backend would make them dead letters): they wait, and are re-stamped
 * from the first fix (time_source CARRIED), so they are stored with the
 * time they happened. On the shipped TLS broker: with no time at all the
 * bus connects without checking the certificate's dates, sends only its
 * status, and reconnects checked (against GPS time) at the first fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter_gw.h"
#include "harness.h"
#include "itest.h"

#define CU_VID "bus-norc"
#define CU_FAKE_WALL_S "864000" /* 1970-01-11 */
#define CU_FIXES 5

static long long scalar(struct harness_pg *pg, const char *sql)
{
    return harness_pg_scalar(pg, sql);
}

/* Start the onboard with the 1970 clock (only it gets the shim; ASan wants
 * to be first in the preload list, under it the shim comes second). */
static struct harness_proc *start_norc(struct harness_gpsd *g,
                                       struct harness_mqtt *m,
                                       const char *spool, const char *dev)
{
    const char *opts[] = {"counter_input=udp", dev, NULL};
    struct harness_proc *ob;

    assert_int_equal(
        setenv("LD_PRELOAD", harness_bin("libshuttle_fakeclock.so"), 1), 0);
    assert_int_equal(setenv("SHUTTLE_FAKE_WALL_S", CU_FAKE_WALL_S, 1), 0);
    assert_int_equal(setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1), 0);
    ob = harness_onboard_start(CU_VID, g, m, spool, opts);
    unsetenv("LD_PRELOAD");
    unsetenv("SHUTTLE_FAKE_WALL_S");
    assert_non_null(ob);
    /* The shim works: the onboard's log lines are stamped 1970. */
    assert_true(harness_log_has(harness_proc_log(ob), "1970-01-1"));
    /* And it is connected (harness_onboard_start waited for it), which
     * OpenSSL's date check against 1970 would have refused. */
    assert_true(
        harness_log_has(harness_proc_log(ob), "status only until a fix"));
    return ob;
}

/* Counts before any fix, then the first fixes; with RESTART the daemon is
 * killed (SIGKILL) in between and started again on its spool: the counts
 * waiting for a time survive it (same boot, the monotonic clock goes on). */
static void clock_unset_case(bool restart)
{
    static const struct itest_episode ep[] = {{1, 3, 1}, {2, 5, 2}};
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char *spool = harness_tmpdir("norc-spool");
    int cport = harness_free_port();
    char dev[64], sql[1024];
    const char *oblog;
    struct harness_proc *ob;
    struct counter_gw gw;
    int64_t t_counted, t_fix;
    long long got;
    int i;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(spool);
    assert_true(cport > 0);
    assert_non_null(harness_backend_start(pg, m, NULL));
    snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d", cport);
    ob = start_norc(g, m, spool, dev);
    oblog = harness_proc_log(ob);
    assert_int_equal(counter_gw_open(&gw, cport), 0);
    for (i = 0; i < 100 && !harness_log_has(oblog, "counter input"); i++)
        harness_sleep_ms(20);

    /* Counts before any fix. */
    t_counted = itest_wall_ms();
    for (i = 0; i < 2; i++)
        assert_int_equal(counter_gw_episode(&gw, ep[i].door, ep[i].boarded,
                                            ep[i].alighted, 10),
                         0);
    harness_sleep_ms(3000);
    if (restart) {
        assert_int_equal(harness_kill(ob, SIGKILL), 0);
        assert_int_equal(harness_wait(ob, 5000), 128 + SIGKILL);
        ob = start_norc(g, m, spool, dev);
        oblog = harness_proc_log(ob);
        assert_true(harness_log_has(oblog, "wait for a first fix"));
    }

    /* Then gpsd gets its first fixes, with the true time. */
    t_fix = itest_wall_ms();
    for (i = 0; i < CU_FIXES; i++) {
        assert_int_equal(itest_send_fix(g, t_fix + i * 1000, 37.5 + i * 1e-4,
                                        127.0 + i * 1e-4),
                         0);
        harness_sleep_ms(200);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", CU_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, CU_FIXES, 20000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM passenger_counts WHERE vehicle_id = '%s'",
             CU_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, 2, 20000), 0);
    assert_int_equal(itest_episodes_once(pg, CU_VID, ep, 2), 0);

    /* Stored with the time they happened (within the 3 s before the fix,
     * give or take the machine's load and the restart), flagged as carried,
     * and no dead letter. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM passenger_counts WHERE vehicle_id = '%s' "
             "AND time_source = 1 "
             "AND t >= to_timestamp(%lld / 1000.0) - interval '5 s' "
             "AND t <= to_timestamp(%lld / 1000.0) + interval '1 s'",
             CU_VID, (long long)t_counted, (long long)t_counted + 3000);
    got = scalar(pg, sql);
    assert_int_equal(got, 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM dead_letters WHERE vehicle_id = '%s'",
             CU_VID);
    assert_int_equal(scalar(pg, sql), 0);
    assert_true(harness_log_has(oblog, "re-stamped from the first fix"));
    /* What was stored came over a connection checked against GPS time. */
    assert_true(harness_log_has(oblog, "reconnecting to check the broker"));
    counter_gw_close(&gw);
    (void)t_fix;
}

static void test_clock_unset(void **state)
{
    (void)state;
    clock_unset_case(false);
}

static void test_clock_unset_restart(void **state)
{
    (void)state;
    clock_unset_case(true);
}

/* A bus whose system clock is set but stale: kept over a shutdown
 * (fake-hwclock) three days ago, no network yet. Its first fixes are the
 * truth, not three days in the future: every one is stored. A fix years
 * ahead (a week rollover that lands nowhere near the clock) is still
 * refused at source. */
static void test_clock_stale(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char wall[32], sql[512];
    const char *oblog;
    struct harness_proc *ob;
    int64_t t_fix;
    int i;

    (void)state;
    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(harness_backend_start(pg, m, NULL));
    snprintf(wall, sizeof wall, "%lld",
             (long long)(itest_wall_ms() / 1000 - 3 * 86400));
    assert_int_equal(
        setenv("LD_PRELOAD", harness_bin("libshuttle_fakeclock.so"), 1), 0);
    assert_int_equal(setenv("SHUTTLE_FAKE_WALL_S", wall, 1), 0);
    assert_int_equal(setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1), 0);
    ob = harness_onboard_start(CU_VID, g, m, NULL, NULL);
    unsetenv("LD_PRELOAD");
    unsetenv("SHUTTLE_FAKE_WALL_S");
    assert_non_null(ob);
    oblog = harness_proc_log(ob);

    /* Eight years ahead first: refused, and it does not become the bus's
     * time. Then the true fixes. */
    t_fix = itest_wall_ms();
    assert_int_equal(
        itest_send_fix(g, t_fix + 8LL * 365 * 86400 * 1000, 37.5, 127.0), 0);
    harness_sleep_ms(500);
    for (i = 0; i < CU_FIXES; i++) {
        assert_int_equal(itest_send_fix(g, t_fix + (i + 1) * 1000,
                                        37.5 + i * 1e-4, 127.0 + i * 1e-4),
                         0);
        harness_sleep_ms(200);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s' AND t >="
             " to_timestamp(%lld / 1000.0) AND t < to_timestamp(%lld / 1000.0)",
             CU_VID, (long long)t_fix, (long long)t_fix + 10000);
    assert_int_equal(harness_wait_scalar(pg, sql, CU_FIXES, 20000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", CU_VID);
    assert_int_equal(scalar(pg, sql), CU_FIXES);
    assert_true(harness_log_has(oblog, "refused at source"));
    assert_int_equal(scalar(pg, "SELECT count(*) FROM dead_letters"), 0);
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* A bus that reboots without a clock with records from before the reboot
 * still unsent in its journal, and a retained ack waiting for it:
 * before its first fix it is connected without the certificate-date check,
 * so it sends none of them and believes no ack; at the first fix it
 * reconnects, checked, and everything arrives once. */
static void test_clock_unset_journal_waits(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char *spool = harness_tmpdir("norc-spool");
    struct harness_proc *ob;
    const char *oblog;
    char sql[256];
    int64_t t0;
    int i;

    (void)state;
    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(spool);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", CU_VID);
    /* First boot, clock set: three fixes stored and acknowledged (the ack
     * stays retained on the broker). */
    assert_non_null(harness_backend_start(pg, m, NULL));
    ob = harness_onboard_start(CU_VID, g, m, spool, NULL);
    assert_non_null(ob);
    t0 = itest_wall_ms();
    for (i = 0; i < 3; i++) {
        assert_int_equal(itest_send_fix(g, t0 + i * 1000, 37.5, 127.0), 0);
        harness_sleep_ms(200);
    }
    assert_int_equal(harness_wait_scalar(pg, sql, 3, 20000), 0);
    /* The broker goes away (it keeps the retained ack on disk); three more
     * fixes are journaled and cannot be sent. */
    assert_int_equal(harness_mosquitto_stop(m), 0);
    for (i = 3; i < 6; i++) {
        assert_int_equal(itest_send_fix(g, t0 + i * 1000, 37.5, 127.0), 0);
        harness_sleep_ms(200);
    }
    harness_sleep_ms(1000);
    assert_int_equal(harness_kill(ob, SIGKILL), 0);
    assert_int_equal(harness_wait(ob, 5000), 128 + SIGKILL);
    /* Reboot without a clock; the broker is back. */
    assert_int_equal(harness_mosquitto_restart(m, 1), 0);
    ob = start_norc(g, m, spool, "counter_input=none");
    oblog = harness_proc_log(ob);
    for (i = 0; i < 100 && !harness_log_has(oblog, "ignoring an ack"); i++)
        harness_sleep_ms(50);
    assert_true(harness_log_has(oblog, "ignoring an ack"));
    harness_sleep_ms(3000);
    assert_int_equal(scalar(pg, sql), 3);
    /* The first fix: reconnected, checked, and the journal drains. */
    assert_int_equal(itest_send_fix(g, itest_wall_ms(), 37.5, 127.0), 0);
    assert_int_equal(harness_wait_scalar(pg, sql, 7, 20000), 0);
    assert_true(harness_log_has(oblog, "reconnecting to check the broker"));
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM positions WHERE vehicle_id = "
             "'%s'",
             CU_VID);
    assert_int_equal(scalar(pg, sql), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_clock_unset, teardown),
        cmocka_unit_test_teardown(test_clock_unset_restart, teardown),
        cmocka_unit_test_teardown(test_clock_stale, teardown),
        cmocka_unit_test_teardown(test_clock_unset_journal_waits, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
