/* Restarts of what the bus depends on: the broker losing its state together
 * with a backend crash mid-batch (nothing lost, nothing doubled), gpsd
 * coming back (publishing resumes within 5 s), and a real receiver's
 * power-up log (no no-fix position is ever stored as valid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "counter_gw.h"
#include "harness.h"
#include "itest.h"
#include "nmea.h"

static long long scalar(struct harness_pg *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static long long scalar(struct harness_pg *pg, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return harness_pg_scalar(pg, sql);
}

/* ---- (a) broker without persistence, backend SIGKILLed ------------- */

#define RS_VID "bus-restarts"
#define RS_FIXES 600
#define RS_BROKER_AT 150 /* fix after which the broker restarts empty */
#define RS_KILL_AT 350   /* fix after which the backend is SIGKILLed */
#define RS_BACK_AT 420   /* and started again */
#define RS_EP_EVERY 40

static void test_broker_and_backend(void **state)
{
    /* Commits only every 500 ms: the kill lands on rows the broker has
     * delivered and forgotten but the database does not hold. */
    static const char *const backend_opts[] = {"batch_age_ms=500", NULL};
    static struct itest_episode ep[RS_FIXES / RS_EP_EVERY + 1];
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    int cport = harness_free_port();
    int64_t t0 = (itest_wall_ms() / 1000 - RS_FIXES - 120) * 1000;
    struct harness_proc *be;
    struct counter_gw gw;
    char dev[64];
    size_t nep = 0;
    int i;
    long long at_kill = 0;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d", cport);
    /* Quick re-sends: what the empty broker and the dead backend lost
     * comes back after 2 s without ack progress. */
    const char *onboard_opts[] = {"counter_input=udp", dev, "resend_s=2", NULL};
    be = harness_backend_start(pg, m, backend_opts);
    assert_non_null(be);
    assert_non_null(harness_onboard_start(RS_VID, g, m, NULL, onboard_opts));
    assert_int_equal(counter_gw_open(&gw, cport), 0);
    harness_sleep_ms(100); /* the counter socket opens after "connected" */

    for (i = 0; i < RS_FIXES; i++) {
        if (i == RS_BROKER_AT) {
            /* Mid-stream, and with whatever it had queued for the backend
             * and every retained ack gone. */
            assert_int_equal(harness_mosquitto_restart(m, 0), 0);
            print_message("broker restarted without persistence after fix "
                          "%d\n",
                          i);
        }
        if (i == RS_KILL_AT) {
            /* Rows staged but not committed (batch_age_ms 500) are what
             * only the bus can bring back. */
            at_kill = scalar(pg,
                             "SELECT count(*) FROM positions WHERE "
                             "vehicle_id = '%s'",
                             RS_VID);
            assert_int_equal(harness_kill(be, SIGKILL), 0);
            assert_int_equal(harness_wait(be, 5000), 128 + SIGKILL);
            print_message("backend killed after fix %d with %lld rows "
                          "committed\n",
                          i, at_kill);
            assert_true(at_kill < i);
        }
        if (i == RS_BACK_AT) {
            be = harness_backend_start(pg, m, backend_opts);
            assert_non_null(be);
        }
        assert_int_equal(itest_send_fix(g, t0 + i * 1000LL, 37.58 + i * 1e-5,
                                        126.67 + i * 1e-5),
                         0);
        if (i % RS_EP_EVERY == 7) {
            ep[nep] = (struct itest_episode){1 + (unsigned)nep % 2,
                                             2 + (unsigned)nep, 1};
            assert_int_equal(counter_gw_episode(&gw, ep[nep].door,
                                                ep[nep].boarded,
                                                ep[nep].alighted, 0),
                             0);
            nep++;
        }
        harness_sleep_ms(10);
    }

    {
        char sql[256];

        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM positions WHERE vehicle_id = '%s'",
                 RS_VID);
        assert_int_equal(harness_wait_scalar(pg, sql, RS_FIXES, 30000), 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM passenger_counts WHERE vehicle_id = "
                 "'%s'",
                 RS_VID);
        assert_int_equal(harness_wait_scalar(pg, sql, (long long)nep, 10000),
                         0);
    }
    /* Nothing more trickles in (a late duplicate would show here). */
    harness_sleep_ms(2500);
    assert_int_equal(scalar(pg,
                            "SELECT count(*) FROM positions WHERE vehicle_id "
                            "= '%s'",
                            RS_VID),
                     RS_FIXES);
    assert_int_equal(scalar(pg,
                            "SELECT count(DISTINCT t) FROM positions WHERE "
                            "vehicle_id = '%s' AND t BETWEEN to_timestamp(%lld)"
                            " AND to_timestamp(%lld)",
                            RS_VID, (long long)(t0 / 1000),
                            (long long)(t0 / 1000 + RS_FIXES - 1)),
                     RS_FIXES);
    assert_int_equal(itest_episodes_once(pg, RS_VID, ep, nep), 0);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM dead_letters"),
                     0);
    counter_gw_close(&gw);
}

/* ---- (b) gpsd restart ------------------------------------------------ */

#define GR_VID "bus-gpsd"
#define GR_RESUME_MS 5000

static void test_gpsd_restart(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    int64_t t_restart, t_back, resumed = -1;
    long long first_after;
    int i;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(harness_backend_start(pg, m, NULL));
    assert_non_null(harness_onboard_start(GR_VID, g, m, NULL, NULL));
    harness_sleep_ms(200);
    /* Live fixes at 10 Hz, stamped with the wall clock. */
    for (i = 0; i < 20; i++) {
        assert_int_equal(
            itest_send_fix(g, itest_wall_ms(), 37.58, 126.67 + i * 1e-5), 0);
        harness_sleep_ms(100);
    }
    assert_int_equal(
        harness_wait_scalar(pg,
                            "SELECT (count(*) > 0)::int FROM positions WHERE "
                            "vehicle_id = '" GR_VID "'",
                            1, 5000),
        0);
    t_restart = itest_wall_ms();
    assert_int_equal(harness_gpsd_restart(g), 0);
    t_back = itest_wall_ms();
    /* Keep the receiver talking; look for a row of a fix sent after the
     * restart. */
    for (i = 0; i < 100 && resumed < 0; i++) {
        assert_int_equal(
            itest_send_fix(g, itest_wall_ms(), 37.59, 126.67 + i * 1e-5), 0);
        harness_sleep_ms(100);
        if (i % 3 == 2 &&
            scalar(pg,
                   "SELECT count(*) FROM positions WHERE vehicle_id = '%s' "
                   "AND t > to_timestamp(%lld / 1000.0)",
                   GR_VID, (long long)t_back) > 0)
            resumed = i;
    }
    assert_true(resumed >= 0);
    /* When the first of them was committed (received_at), from the moment
     * gpsd was stopped. */
    first_after = scalar(pg,
                         "SELECT round(extract(epoch FROM min(received_at)) *"
                         " 1000) FROM positions WHERE vehicle_id = '%s' AND "
                         "t > to_timestamp(%lld / 1000.0)",
                         GR_VID, (long long)t_back);
    print_message("gpsd restart took %lld ms; first fix after it stored "
                  "%lld ms after the restart began (limit %d)\n",
                  (long long)(t_back - t_restart),
                  first_after - (long long)t_restart, GR_RESUME_MS);
    assert_true(first_after - t_restart <= GR_RESUME_MS);
}

/* ---- (c) a real receiver's power-up log ------------------------------ */

#define CAP_VID "bus-mtk"
#define DAY_MS 86400000LL

static void test_mtk_replay(void **state)
{
    const char *shared = harness_shared_data();
    char path[1024], line[1024], sql[256];
    long long valid_tod[128];
    int nvalid = 0, nlines = 0, nofix = 0;
    struct harness_mqtt *m;
    struct harness_pg *pg;
    struct harness_gpsd *g;
    time_t yesterday = time(NULL) - 86400;
    struct tm day;
    PGconn *c;
    PGresult *r;
    FILE *f;

    if (shared == NULL) {
        print_message("no shared data folder (SHUTTLE_SHARED_DATA): skipping "
                      "the mtk-3301 replay\n");
        skip();
    }
    snprintf(path, sizeof path, "%s/nmea/mtk-3301.log", shared);
    f = fopen(path, "r");
    if (f == NULL) {
        print_message("%s not found: skipping\n", path);
        skip();
    }
    m = harness_mosquitto_start(NULL);
    pg = harness_pg_start(1);
    g = harness_gpsd_start();
    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(harness_backend_start(pg, m, NULL));
    assert_non_null(harness_onboard_start(CAP_VID, g, m, NULL, NULL));
    harness_sleep_ms(200);
    gmtime_r(&yesterday, &day);

    while (fgets(line, sizeof line, f) != NULL) {
        char type[16], tod[32], st[16], out[1024];

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        nmea_field(line, 0, type, sizeof type);
        nmea_field(line, 1, tod, sizeof tod);
        /* What counts as a fix: RMC status A, GGA quality above 0. */
        if (strcmp(type, "$GPRMC") == 0) {
            nmea_field(line, 2, st, sizeof st);
            if (strcmp(st, "A") == 0 && nvalid < 128)
                valid_tod[nvalid++] = nmea_tod_ms(tod);
            else
                nofix++;
            /* A receiver's cycle: pause between epochs. */
            harness_sleep_ms(30);
        } else if (strcmp(type, "$GPGGA") == 0) {
            nmea_field(line, 6, st, sizeof st);
            if (atoi(st) > 0 && nvalid < 128)
                valid_tod[nvalid++] = nmea_tod_ms(tod);
        }
        assert_int_equal(nmea_redate(line, &day, out, sizeof out), 0);
        assert_int_equal(harness_gpsd_send(g, out), 1);
        nlines++;
    }
    fclose(f);
    harness_sleep_ms(2000); /* the last epoch, committed */

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", CAP_VID);
    print_message("mtk-3301: %d sentences, %d no-fix RMC epochs, %lld rows "
                  "stored\n",
                  nlines, nofix, harness_pg_scalar(pg, sql));
    c = PQconnectdb(harness_pg_conninfo(pg));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, "SELECT round(extract(epoch FROM t) * 1000)::bigint, lat,"
                  " lon FROM positions WHERE vehicle_id = '" CAP_VID "'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    /* The log has four epochs with a fix: some must come through. */
    assert_true(PQntuples(r) > 0);
    for (int k = 0; k < PQntuples(r); k++) {
        long long t = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        long long tod = ((t % DAY_MS) + DAY_MS) % DAY_MS;
        int ok = 0;

        for (int j = 0; j < nvalid && !ok; j++)
            ok = valid_tod[j] == tod;
        if (!ok)
            fail_msg("stored row at time of day %lld ms (%s, %s) is not an "
                     "epoch with a fix",
                     tod, PQgetvalue(r, k, 1), PQgetvalue(r, k, 2));
    }
    PQclear(r);
    PQfinish(c);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_broker_and_backend, teardown),
        cmocka_unit_test_teardown(test_gpsd_restart, teardown),
        cmocka_unit_test_teardown(test_mtk_replay, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
