/* Onboard crashes: shuttle-onboard is SIGKILLed at 20 seeded random moments
 * of a drive with door episodes and restarted on the same spool: every
 * passenger count read before a kill is stored exactly once, no record is
 * stored twice, and a kill loses at most the positions of its last second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "counter_gw.h"
#include "harness.h"
#include "itest.h"

#define KILL_VID "bus-crash"
#define KILL_N 20
#define KILL_SLOT_MS 200 /* a fix every slot: 5 fixes a second */
#define KILL_FIX_HZ (1000 / KILL_SLOT_MS)
#define KILL_EP_GAP_MS 15
/* An episode whose $PCDC went out this long before a kill was read by the
 * onboard (an idle poll loop reads its socket within a millisecond): it
 * must be stored. Closer to the kill it may be lost, never doubled. */
#define KILL_READ_MS 100
#define KILL_MAX_EP 400
#define KILL_MAX_FIX 2000

struct ep_sent {
    struct itest_episode e;
    int64_t dc_mono;  /* when its $PCDC was sent */
    int64_t kill_gap; /* ms from $PCDC to the next kill; -1: none */
};

static unsigned rng_next(unsigned long long *s)
{
    /* xorshift64*: a fixed, portable sequence for a given seed. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (unsigned)((*s * 2685821657736338717ULL) >> 33);
}

/* Start the onboard on SPOOL and wait until it reads gpsd and the counter:
 * what is sent before that is lost by no fault of the spool. */
static struct harness_proc *onboard_up(struct harness_gpsd *g,
                                       struct harness_mqtt *m,
                                       const char *spool,
                                       const char *const *opts)
{
    struct harness_proc *ob =
        harness_onboard_start(KILL_VID, g, m, spool, opts);
    int i;

    assert_non_null(ob);
    for (i = 0; i < 250; i++) {
        if (harness_log_has(harness_proc_log(ob), "reading fixes") &&
            harness_log_has(harness_proc_log(ob), "counter input"))
            break;
        harness_sleep_ms(20);
    }
    /* gpsd takes the WATCH of the new client a moment after it connects. */
    harness_sleep_ms(150);
    return ob;
}

static void test_onboard_kill(void **state)
{
    static struct ep_sent eps[KILL_MAX_EP];
    static struct itest_episode ep_only[KILL_MAX_EP];
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char *spool = harness_tmpdir("kill-spool");
    int cport = harness_free_port();
    const char *seed_env = getenv("SHUTTLE_SEED");
    unsigned long long seed =
        seed_env != NULL ? strtoull(seed_env, NULL, 0) : 20240521ULL;
    unsigned long long rng = seed ? seed : 1;
    int64_t t0 = (itest_wall_ms() / 1000 - 3600) * 1000;
    int64_t start = itest_mono_ms();
    struct harness_proc *ob;
    struct counter_gw gw;
    char dev[64], sql[512];
    size_t nep = 0, e, first_open = 0;
    int nfix = 0, kill, must = 0, may = 0, may_stored = 0, *found;
    long long stored, total, missing;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(spool);
    assert_true(cport > 0);
    print_message("seed %llu (set SHUTTLE_SEED to replay another)\n", seed);
    snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d", cport);
    /* resend_s=2: after a restart the unacknowledged tail goes out again
     * soon, so the test need not wait 10 s at the end. */
    /* Fixes come KILL_FIX_HZ times faster than a bus's 1 Hz, so the spool
     * syncs positions as much faster: a kill then loses what a real bus
     * would, the fix in progress and at most one unsynced. */
    char sync[32];
    const char *opts[] = {"counter_input=udp", dev, "resend_s=2", sync, NULL};

    snprintf(sync, sizeof sync, "spool_sync_ms=%d", 1000 / KILL_FIX_HZ);

    /* The first half of the kills with no backend: nobody subscribes, the
     * broker drops the telemetry, nothing is acknowledged, so the records
     * exist only in the spool and a kill tests the spool alone. The second
     * half with the backend catching up on that backlog while the kills go
     * on: kills land between publish, commit and ack. */
    ob = onboard_up(g, m, spool, opts);
    assert_int_equal(counter_gw_open(&gw, cport), 0);

    for (kill = 0; kill < KILL_N; kill++) {
        int slots = 3 + (int)(rng_next(&rng) % 5);
        int mode = (int)(rng_next(&rng) % 3);
        int64_t k_mono;

        if (kill == KILL_N / 2)
            assert_non_null(harness_backend_start(pg, m, NULL));

        for (int s = 0; s < slots; s++) {
            int64_t slot_start = itest_mono_ms();
            /* The last slot of a "kill right after a close" cycle always
             * has an episode. */
            int with_ep = rng_next(&rng) % 2 || (mode == 0 && s == slots - 1);

            assert_true(nfix < KILL_MAX_FIX);
            assert_int_equal(itest_send_fix(g, t0 + nfix * 1000LL,
                                            37.58 + nfix * 1e-5,
                                            126.67 + nfix * 1e-5),
                             0);
            nfix++;
            if (with_ep) {
                struct ep_sent *x = &eps[nep];

                assert_true(nep < KILL_MAX_EP);
                /* (boarded, alighted) is unique per episode: 1..100 in,
                 * 0.. out. */
                x->e = (struct itest_episode){1 + (unsigned)nep % 2,
                                              1 + (unsigned)nep % 100,
                                              (unsigned)nep / 100};
                assert_int_equal(counter_gw_episode(&gw, x->e.door,
                                                    x->e.boarded, x->e.alighted,
                                                    KILL_EP_GAP_MS),
                                 0);
                x->dc_mono = itest_mono_ms();
                x->kill_gap = -1;
                nep++;
            }
            if (mode == 0 && s == slots - 1)
                break; /* straight to the kill */
            harness_sleep_ms(KILL_SLOT_MS -
                             (int)(itest_mono_ms() - slot_start));
        }
        if (mode != 0)
            harness_sleep_ms((int)(rng_next(&rng) % 250));
        else
            harness_sleep_ms((int)(rng_next(&rng) % 5));
        assert_int_equal(harness_kill(ob, SIGKILL), 0);
        assert_int_equal(harness_wait(ob, 5000), 128 + SIGKILL);
        k_mono = itest_mono_ms();
        for (e = first_open; e < nep; e++)
            eps[e].kill_gap = k_mono - eps[e].dc_mono;
        first_open = nep;
        ob = onboard_up(g, m, spool, opts);
    }
    /* A last stretch with the daemon up, so the final restart is not the
     * end of the story. */
    for (int s = 0; s < 10; s++) {
        assert_int_equal(itest_send_fix(g, t0 + nfix * 1000LL,
                                        37.58 + nfix * 1e-5,
                                        126.67 + nfix * 1e-5),
                         0);
        nfix++;
        harness_sleep_ms(KILL_SLOT_MS);
    }
    print_message("%d kills in %.1f s: %d fixes and %zu episodes sent\n",
                  KILL_N, (double)(itest_mono_ms() - start) / 1000, nfix, nep);

    /* Drained: the last fix is in and the ack caught up with what is
     * stored (the restarted onboard re-sends its unacknowledged tail). */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s' AND "
             "t = to_timestamp(%lld)",
             KILL_VID, (long long)(t0 / 1000 + nfix - 1));
    assert_int_equal(harness_wait_scalar(pg, sql, 1, 20000), 0);
    snprintf(sql, sizeof sql,
             "SELECT (coalesce((SELECT acked_seq FROM vehicle_progress WHERE "
             "vehicle_id = '%s'), 0) >= greatest((SELECT max(seq) FROM "
             "positions WHERE vehicle_id = '%s'), (SELECT max(seq) FROM "
             "passenger_counts WHERE vehicle_id = '%s')))::int",
             KILL_VID, KILL_VID, KILL_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, 1, 20000), 0);

    /* Positions: none twice, none that was not sent, few lost. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'",
             KILL_VID);
    stored = harness_pg_scalar(pg, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM positions WHERE vehicle_id = "
             "'%s'",
             KILL_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), stored);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT t) FROM positions WHERE vehicle_id = '%s'"
             " AND t BETWEEN to_timestamp(%lld) AND to_timestamp(%lld)",
             KILL_VID, (long long)(t0 / 1000),
             (long long)(t0 / 1000 + nfix - 1));
    assert_int_equal(harness_pg_scalar(pg, sql), stored);
    missing = nfix - stored;
    print_message("positions: %lld of %d stored, %lld lost in %d kills "
                  "(%.2f per kill; at most 1 per kill allowed)\n",
                  stored, nfix, missing, KILL_N, (double)missing / KILL_N);
    assert_true(missing >= 0);
    assert_true(missing <= (long long)KILL_N);

    /* Passenger counts: each episode at most once; every one read before
     * the kill exactly once; nothing stored that was not sent. */
    found = calloc(nep, sizeof *found);
    assert_non_null(found);
    for (e = 0; e < nep; e++)
        ep_only[e] = eps[e].e;
    assert_int_equal(
        itest_episodes_found(pg, KILL_VID, ep_only, nep, found, &total), 0);
    for (e = 0; e < nep; e++) {
        int required = eps[e].kill_gap < 0 || eps[e].kill_gap >= KILL_READ_MS;

        if (found[e] > 1 || (required && found[e] != 1))
            fail_msg("episode %zu (door %u, %u in, %u out; $PCDC %lld ms "
                     "before a kill) stored %d times",
                     e, eps[e].e.door, eps[e].e.boarded, eps[e].e.alighted,
                     (long long)eps[e].kill_gap, found[e]);
        must += required;
        may += !required;
        may_stored += !required && found[e] == 1;
    }
    print_message("counts: %d episodes closed >= %d ms before a kill, all "
                  "stored once; %d closed closer to a kill, %d of them "
                  "stored\n",
                  must, KILL_READ_MS, may, may_stored);
    /* No row that is not one of the episodes (a half-read episode must not
     * turn into a stray count). */
    {
        long long sum = 0;

        for (e = 0; e < nep; e++)
            sum += found[e];
        assert_int_equal(total, sum);
    }
    free(found);
    snprintf(sql, sizeof sql,
             "SELECT count(*) - count(DISTINCT seq) FROM passenger_counts "
             "WHERE vehicle_id = '%s'",
             KILL_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), 0);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM dead_letters"),
                     0);
    counter_gw_close(&gw);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_onboard_kill, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
