/* Delivery survives a backend crash: shuttle-backend is SIGKILLed while a bus
 * streams fixes, restarted a second later, and every fix is stored once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "harness.h"
#include "nmea.h"

#define KILL_FIXES 600
#define KILL_VID "bus-kill"
#define KILL_AT 250    /* from this fix on, the backend dies... */
#define RESTART_AT 350 /* ...and this much later (~1 s) it comes back */

static void send_fix(struct harness_gpsd *g, time_t t, int i)
{
    double lat = 37.5901234 + i * 1.1e-5, lon = 126.6712345 + i * 1.3e-5;
    char buf[256];
    int n;

    n = nmea_rmc(buf, sizeof buf, t, 0, lat, lon, 18.0, 45.0, 1);
    assert_true(n > 0);
    assert_true(nmea_gga(buf + n, sizeof buf - (size_t)n, t, 0, lat, lon, 1, 10,
                         0.8, 15.0) > 0);
    assert_int_equal(harness_gpsd_send(g, buf), 2);
}

static void test_backend_sigkill(void **state)
{
    /* Quick re-sends: the staged rows the killed backend never committed
     * come back after 2 s without ack progress. */
    static const char *const onboard_opts[] = {"resend_s=2", NULL};
    /* Commit only every 500 ms, so the kill lands on rows the broker has
     * delivered (and forgotten) but the database does not hold: only the
     * bus can bring them back. */
    static const char *const backend_opts[] = {"batch_age_ms=500", NULL};
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    struct harness_proc *be;
    time_t t0 = time(NULL) - KILL_FIXES - 60;
    long long at_kill;
    int killed_at = -1;
    char sql[512];
    int i;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    be = harness_backend_start(pg, m, backend_opts);
    assert_non_null(be);
    assert_non_null(harness_onboard_start(KILL_VID, g, m, NULL, onboard_opts));

    for (i = 0; i < KILL_FIXES; i++) {
        /* Only a crash after commits, with rows in flight, proves anything
         * about the watermark: from KILL_AT on, kill at the first look
         * that finds some rows in and the newest not yet. The fixes keep
         * coming while we look, so a slow machine only kills later. */
        if (i >= KILL_AT && killed_at < 0 && i % 5 == 0 &&
            i < KILL_FIXES - (RESTART_AT - KILL_AT)) {
            at_kill = harness_pg_scalar(pg, "SELECT count(*) FROM positions");
            if (at_kill >= 100 && at_kill < i) {
                assert_int_equal(harness_kill(be, SIGKILL), 0);
                assert_int_equal(harness_wait(be, 5000), 128 + SIGKILL);
                print_message("backend killed with %lld rows committed, %d "
                              "sent\n",
                              at_kill, i);
                killed_at = i;
            }
        }
        if (killed_at >= 0 && i == killed_at + (RESTART_AT - KILL_AT)) {
            be = harness_backend_start(pg, m, backend_opts);
            assert_non_null(be);
        }
        send_fix(g, t0 + i, i);
        harness_sleep_ms(10);
    }
    /* It was killed with rows in flight, and came back. */
    assert_true(killed_at >= 0);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'",
             KILL_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, KILL_FIXES, 30000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM positions WHERE vehicle_id = "
             "'%s'",
             KILL_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), KILL_FIXES);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT t) FROM positions WHERE vehicle_id = "
             "'%s'",
             KILL_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), KILL_FIXES);
    /* Every fix sent, and nothing else, by its GPS time. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s' AND t "
             "BETWEEN to_timestamp(%lld) AND to_timestamp(%lld)",
             KILL_VID, (long long)t0, (long long)t0 + KILL_FIXES - 1);
    assert_int_equal(harness_pg_scalar(pg, sql), KILL_FIXES);
    /* The ack caught up: everything stored is acknowledged, so the bus can
     * free its spool. The ack follows the commit: give it a moment. */
    snprintf(sql, sizeof sql,
             "SELECT (SELECT acked_seq FROM vehicle_progress WHERE vehicle_id"
             " = '%s') - (SELECT max(seq) FROM positions WHERE vehicle_id ="
             " '%s')",
             KILL_VID, KILL_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, 0, 5000), 0);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM dead_letters"),
                     0);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_backend_sigkill, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
