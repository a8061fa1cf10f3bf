/* A noisy passenger counter: bad checksums, binary noise, a 10 KB line, an
 * unknown door, unknown sentences between good episodes: the onboard keeps
 * going, stores every good episode once with its counts, and reports each
 * rejected line in the counter_rejected of its retained status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counter_gw.h"
#include "harness.h"
#include "itest.h"
#include "nmea.h"
#include "wire.h"

#define NZ_VID "bus-noisy"
#define NZ_STATUS_S 5

/* A well-formed $PCDO whose checksum is off by one: a line garbled on the
 * wire. It used up a sentence number of the counter's, as a real one
 * would. */
static void send_bad_checksum(struct counter_gw *gw)
{
    char body[64], line[96];
    int n;

    snprintf(body, sizeof body, "PCDO,%u,100,1", gw->seq);
    n = snprintf(line, sizeof line, "$%s*%02X\r\n", body,
                 (nmea_checksum(body) + 1) & 0xff);
    assert_int_equal(counter_gw_raw(gw, line, (size_t)n), 0);
    gw->seq++;
}

/* The retained status of NZ_VID, read with mosquitto_sub (payload as hex)
 * as the ingest service (the ACL lets it read statuses) into the file OUT,
 * into *S. 0, or -1 when there is none or it does not decode. */
static int read_status(struct harness_mqtt *m, const char *out,
                       struct wire_status *s)
{
    static const char *const args[] = {
        "-t", "shuttle/v1/" NZ_VID "/status", "-C", "1", "-W", "3", "-F", "%x",
        NULL};
    char hex[8192];
    uint8_t bin[4096];
    size_t n = 0;
    struct harness_proc *p;
    FILE *f;

    unlink(out); /* the output is appended to */
    p = harness_mosquitto_client(m, "mosquitto_sub", "shuttle-ingest", args,
                                 out);
    if (p == NULL)
        return -1;
    harness_wait(p, 10000);
    f = fopen(out, "r");
    if (f == NULL || fgets(hex, sizeof hex, f) == NULL)
        hex[0] = '\0';
    if (f != NULL)
        fclose(f);
    for (const char *h = hex; h[0] && h[1] && n < sizeof bin; h += 2) {
        unsigned v;

        if (sscanf(h, "%2x", &v) != 1)
            break;
        bin[n++] = (uint8_t)v;
    }
    if (n == 0)
        return -1;
    return wire_status_decode(bin, n, s) == WIRE_OK ? 0 : -1;
}

static void test_counter_noise(void **state)
{
    static struct itest_episode ep[16];
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    int cport = harness_free_port();
    struct harness_proc *ob;
    struct counter_gw gw;
    struct wire_status st;
    char dev[64], status[64], sql[256], status_out[PATH_MAX];
    char big[10240 + 3], noise[61], burst[4096];
    int64_t t0 = (itest_wall_ms() / 1000 - 300) * 1000, sent_at;
    size_t nep = 0, i;
    long long rejected = 0;
    int k, have = -1;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    snprintf(status_out, sizeof status_out, "%s/status.hex",
             harness_mosquitto_dir(m));
    snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d", cport);
    snprintf(status, sizeof status, "status_interval_s=%d", NZ_STATUS_S);
    const char *opts[] = {"counter_input=udp", dev, "counter_doors=2", status,
                          NULL};
    assert_non_null(harness_backend_start(pg, m, NULL));
    ob = harness_onboard_start(NZ_VID, g, m, NULL, opts);
    assert_non_null(ob);
    assert_int_equal(counter_gw_open(&gw, cport), 0);
    harness_sleep_ms(100);
    assert_int_equal(itest_send_fix(g, t0, 37.58, 126.67), 0);

#define GOOD(door, in, out)                                                    \
    do {                                                                       \
        ep[nep] = (struct itest_episode){door, in, out};                       \
        assert_int_equal(counter_gw_episode(&gw, door, in, out, 5), 0);        \
        nep++;                                                                 \
        harness_sleep_ms(20);                                                  \
    } while (0)

    GOOD(1, 4, 1);
    send_bad_checksum(&gw);
    rejected++;
    /* Binary noise: no '$', no line end; one line of it. */
    for (i = 0; i < sizeof noise - 1; i++)
        noise[i] = (char)(0x80 + (i * 37) % 0x7f);
    assert_int_equal(counter_gw_raw(&gw, noise, sizeof noise - 1), 0);
    rejected++;
    GOOD(2, 7, 0);
    /* 10 KB without a line end or a '$': dropped and counted once. */
    memset(big, 'A', sizeof big - 3);
    memcpy(big + sizeof big - 3, "\r\n", 2);
    assert_int_equal(counter_gw_raw(&gw, big, sizeof big - 1), 0);
    rejected++;
    GOOD(1, 0, 5);
    /* Door 9 on a two-door bus. */
    assert_int_equal(counter_gw_send(&gw, "DO", "9"), 0);
    assert_int_equal(counter_gw_send(&gw, "IO", "9,3,3"), 0);
    assert_int_equal(counter_gw_send(&gw, "DC", "9"), 0);
    rejected += 3;
    GOOD(2, 11, 2);
    /* Sentences of types nobody defined, and a GPS sentence on the wrong
     * port. */
    assert_int_equal(counter_gw_send(&gw, "XX", "1,2"), 0);
    {
        char gga[128];
        int n = nmea_gga(gga, sizeof gga, t0 / 1000, 0, 37.5, 126.6, 1, 8, 1.0,
                         10.0);

        assert_true(n > 0);
        assert_int_equal(counter_gw_raw(&gw, gga, (size_t)n), 0);
    }
    rejected += 2;
    GOOD(1, 9, 9);
    /* Line noise and a good episode in one datagram (a gateway that
     * buffers): the sentences after the noise must not be lost. */
    {
        size_t off = 0;
        unsigned door = 2, in = 13, out = 6;

        memset(burst, '#', 300);
        off = 300;
        burst[off++] = '\n';
        rejected++;
        /* The episode's lines, as counter_gw would send them, but here in
         * one datagram. */
        for (k = 0; k < 3; k++) {
            char body[64];
            int n;

            if (k == 0)
                snprintf(body, sizeof body, "PCDO,%u,1,%u", gw.seq, door);
            else if (k == 1)
                snprintf(body, sizeof body, "PCIO,%u,2,%u,%u,%u", gw.seq, door,
                         in, out);
            else
                snprintf(body, sizeof body, "PCDC,%u,3,%u", gw.seq, door);
            n = snprintf(burst + off, sizeof burst - off, "$%s*%02X\r\n", body,
                         nmea_checksum(body));
            off += (size_t)n;
            gw.seq++;
        }
        assert_int_equal(counter_gw_raw(&gw, burst, off), 0);
        ep[nep++] = (struct itest_episode){door, in, out};
    }
    harness_sleep_ms(20);
    GOOD(2, 1, 1);
#undef GOOD

    /* Still alive and still recording fixes. */
    harness_sleep_ms(200);
    assert_true(harness_alive(ob));
    assert_int_equal(itest_send_fix(g, t0 + 1000, 37.581, 126.671), 0);
    assert_int_equal(itest_send_fix(g, t0 + 2000, 37.582, 126.672), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", NZ_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, 3, 10000), 0);

    /* Every good episode once, with its counts; nothing else. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM passenger_counts WHERE vehicle_id = '%s'",
             NZ_VID);
    harness_wait_scalar(pg, sql, (long long)nep, 10000);
    assert_int_equal(itest_episodes_once(pg, NZ_VID, ep, nep), 0);

    /* The rejected lines, in the retained status, which is published every
     * NZ_STATUS_S seconds (its t is the bus's GPS-derived clock, 5 min
     * back here, so wait for the count rather than a time). */
    sent_at = itest_mono_ms();
    memset(&st, 0, sizeof st);
    while (itest_mono_ms() - sent_at < 3000 * NZ_STATUS_S) {
        if (read_status(m, status_out, &st) == 0) {
            have = 1;
            if (st.counter_rejected >= (uint64_t)rejected)
                break;
        }
        harness_sleep_ms(500);
    }
    assert_int_equal(have, 1);
    print_message("status: counter %s, counter_rejected %llu (lines sent "
                  "bad: %lld)\n",
                  st.counter_state, (unsigned long long)st.counter_rejected,
                  rejected);
    assert_true(st.counter_rejected > 0);
    assert_int_equal(st.counter_rejected, rejected);
    assert_true(harness_alive(ob));
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
        cmocka_unit_test_teardown(test_counter_noise, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
