/* Re-send back-off: with the backend away for 60 s, what the bus publishes
 * on its telemetry topic falls off by back-off (each re-send one batch, the
 * waits doubling), instead of everything in flight again every resend_s.
 * A plain mosquitto_sub counts the bytes. When the backend returns every
 * record is stored exactly once. */
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

#define BO_VID "bus-backoff"
#define BO_PRE 10     /* fixes stored before the backend goes away */
#define BO_AWAY 300   /* fixes while it is away (one batch holds 500) */
#define BO_WATCH_S 60 /* seconds of watching the telemetry topic */
#define BO_SLOT_S 10  /* bytes are reported per slot */

/* Messages and bytes mosquitto_sub saw, from its "%U %l" lines (Unix time
 * with nanoseconds, payload length), by slot of BO_SLOT_S from T0_S. */
static int tally(const char *path, double t0_s, long long *bytes, int *msgs,
                 int nslot)
{
    FILE *fp = fopen(path, "r");
    double t;
    long long len;

    if (!fp)
        return -1;
    memset(bytes, 0, sizeof *bytes * (size_t)nslot);
    memset(msgs, 0, sizeof *msgs * (size_t)nslot);
    while (fscanf(fp, "%lf %lld", &t, &len) == 2) {
        int k = (int)((t - t0_s) / BO_SLOT_S);

        if (k >= 0 && k < nslot) {
            bytes[k] += len;
            msgs[k]++;
        }
    }
    fclose(fp);
    return 0;
}

static void test_resend_backoff(void **state)
{
    enum { NSLOT = BO_WATCH_S / BO_SLOT_S };
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char *dir = harness_tmpdir("backoff");
    /* resend_s 1: without back-off that is 60 re-sends in the minute. */
    const char *opts[] = {"resend_s=1", "resend_max_s=600", NULL};
    struct harness_proc *ob, *be, *sub;
    int64_t t0 = (itest_wall_ms() / 1000 - 900) * 1000, w0;
    long long bytes[NSLOT], first_half = 0, second_half = 0, total = 0;
    int msgs[NSLOT], nmsgs = 0, k = 0, i;
    char sql[512], topic[128], log[512];

    (void)state;
    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(dir);
    be = harness_backend_start(pg, m, NULL);
    assert_non_null(be);
    ob = harness_onboard_start(BO_VID, g, m, NULL, opts);
    assert_non_null(ob);
    for (i = 0; i < BO_PRE; i++, k++) {
        assert_int_equal(
            itest_send_fix(g, t0 + k * 1000, 37.5 + k * 1e-4, 127.0 + k * 1e-4),
            0);
        harness_sleep_ms(50);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", BO_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, BO_PRE, 20000), 0);

    /* The backend goes away: no acks from now on. */
    assert_int_equal(harness_stop(be), 0);
    for (i = 0; i < BO_AWAY; i++, k++) {
        assert_int_equal(
            itest_send_fix(g, t0 + k * 1000, 37.5 + k * 1e-4, 127.0 + k * 1e-4),
            0);
        harness_sleep_ms(5);
    }
    /* The fixes themselves are published live; watching starts after. */
    harness_sleep_ms(1500);
    snprintf(topic, sizeof topic, "shuttle/v1/%s/telemetry", BO_VID);
    snprintf(log, sizeof log, "%s/telemetry.txt", dir);
    {
        /* As the ingest service would (the ACL lets it read telemetry). */
        const char *args[] = {"-t", topic, "-q", "1", "-F", "%U %l", NULL};

        sub = harness_mosquitto_client(m, "mosquitto_sub", "shuttle-ingest",
                                       args, log);
        assert_non_null(sub);
    }
    harness_sleep_ms(500); /* subscribed */
    w0 = itest_wall_ms();
    harness_sleep_ms(BO_WATCH_S * 1000);
    harness_stop(sub);
    assert_int_equal(tally(log, (double)w0 / 1000, bytes, msgs, NSLOT), 0);
    for (i = 0; i < NSLOT; i++) {
        print_message("backend away, %3d-%3d s: %2d messages, %7lld bytes\n",
                      i * BO_SLOT_S, (i + 1) * BO_SLOT_S, msgs[i], bytes[i]);
        if (i < NSLOT / 2)
            first_half += bytes[i];
        else
            second_half += bytes[i];
        total += bytes[i];
        nmsgs += msgs[i];
    }
    /* Without back-off: a re-send of all 300 records about every second,
     * 60 in the minute (at least 30 on a slow machine). With it: waits of
     * 1, 2, 4, 8, 16, 32 s (each between half and all of that): a handful,
     * fewer in the second half than in the first. */
    assert_true(nmsgs >= 1);
    assert_true(nmsgs <= 10);
    assert_true(second_half <= first_half);
    print_message("backend away %d s: %d messages, %lld bytes (%lld in the "
                  "first half, %lld in the second)\n",
                  BO_WATCH_S, nmsgs, total, first_half, second_half);

    /* The backend returns; the next re-send (at most 64 s away) or the
     * backend's queued session brings everything in, once. */
    be = harness_backend_start(pg, m, NULL);
    assert_non_null(be);
    assert_int_equal(harness_wait_scalar(pg, sql, BO_PRE + BO_AWAY, 90000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM positions "
             "WHERE vehicle_id = '%s'",
             BO_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), BO_PRE + BO_AWAY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resend_backoff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
