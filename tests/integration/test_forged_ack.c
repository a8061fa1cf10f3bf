/* Forged acks: while the backend is away (and the broker lost what it had
 * queued for it), an ordinary MQTT client publishes retained acks for the
 * bus, one above every seq it issued and one of UINT64_MAX. The bus frees
 * nothing, says so in its log and status, keeps its numbering, and once the
 * backend is back every record is stored exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "itest.h"
#include "wire.h"

#define FA_VID "bus-forged"
#define FA_PRE 20   /* fixes stored before the backend goes away */
#define FA_AWAY 30  /* fixes while it is away */
#define FA_AFTER 10 /* fixes after the forged acks */

static char topic_ack[128], topic_status[128];

/* The bus's retained status, read by mosquitto_sub as hex and decoded. */
static int read_status(struct harness_mqtt *m, const char *dir,
                       struct wire_status *st)
{
    static int n;
    char port[16], log[512];
    char *argv[] = {"mosquitto_sub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    port,
                    "-t",
                    topic_status,
                    "-C",
                    "1",
                    "-W",
                    "10",
                    "-F",
                    "%x",
                    NULL};
    struct harness_proc *p;
    static char hex[2 * WIRE_PAYLOAD_MAX + 8];
    static uint8_t bin[WIRE_PAYLOAD_MAX];
    size_t len, i;
    FILE *fp;

    snprintf(port, sizeof port, "%d", harness_mosquitto_port(m));
    snprintf(log, sizeof log, "%s/status-%d.hex", dir, ++n);
    p = harness_spawn("mosquitto_sub", argv, log);
    if (!p || harness_wait(p, 15000) != 0)
        return -1;
    fp = fopen(log, "r");
    if (!fp)
        return -1;
    len = fread(hex, 1, sizeof hex - 1, fp);
    fclose(fp);
    hex[len] = '\0';
    len = strcspn(hex, "\r\n");
    for (i = 0; i + 1 < len; i += 2) {
        unsigned v;

        if (sscanf(hex + i, "%2x", &v) != 1)
            return -1;
        bin[i / 2] = (uint8_t)v;
    }
    return wire_status_decode(bin, len / 2, st) == WIRE_OK ? 0 : -1;
}

/* A status no older than what we did: the bus publishes one every 5 s. */
static int fresh_status(struct harness_mqtt *m, const char *dir,
                        struct wire_status *st)
{
    harness_sleep_ms(6000);
    for (int i = 0; i < 20; i++) {
        if (read_status(m, dir, st) == 0 && st->state == WIRE_ONLINE)
            return 0;
        harness_sleep_ms(500);
    }
    return -1;
}

/* Publish a retained Ack for FA_VID as an ordinary client would. */
static int forge_ack(struct harness_mqtt *m, const char *dir, uint64_t seq)
{
    struct wire_ack a;
    char port[16], file[512], log[512];
    char *argv[] = {"mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    port,
                    "-t",
                    topic_ack,
                    "-r",
                    "-q",
                    "1",
                    "-f",
                    file,
                    NULL};
    struct harness_proc *p;
    uint8_t *buf;
    size_t len;
    FILE *fp;

    memset(&a, 0, sizeof a);
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "%s", FA_VID);
    a.seq = seq;
    a.t_ms = itest_wall_ms();
    if (wire_ack_encode(&a, &buf, &len) != WIRE_OK)
        return -1;
    snprintf(port, sizeof port, "%d", harness_mosquitto_port(m));
    snprintf(file, sizeof file, "%s/ack-%" PRIu64, dir, seq);
    snprintf(log, sizeof log, "%s/pub.log", dir);
    fp = fopen(file, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len) {
        free(buf);
        if (fp)
            fclose(fp);
        return -1;
    }
    free(buf);
    fclose(fp);
    p = harness_spawn("mosquitto_pub", argv, log);
    return p && harness_wait(p, 15000) == 0 ? 0 : -1;
}

static void test_forged_ack(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start_plain(
        NULL, "any client may publish an ack here, as on a misconfigured "
              "broker: the bus's own checks must refuse the forgery");
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    char *dir = harness_tmpdir("forged");
    const char *opts[] = {"status_interval_s=5", "resend_s=1", "resend_max_s=4",
                          NULL};
    struct harness_proc *ob, *be;
    struct wire_status st;
    int64_t t0 = (itest_wall_ms() / 1000 - 600) * 1000;
    uint64_t next_before;
    char sql[512];
    int i, k = 0;

    (void)state;
    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(dir);
    assert_int_equal(wire_topic(topic_ack, sizeof topic_ack, FA_VID, "ack"), 0);
    assert_int_equal(
        wire_topic(topic_status, sizeof topic_status, FA_VID, "status"), 0);
    be = harness_backend_start(pg, m, NULL);
    assert_non_null(be);
    ob = harness_onboard_start(FA_VID, g, m, NULL, opts);
    assert_non_null(ob);

    for (i = 0; i < FA_PRE; i++, k++) {
        assert_int_equal(
            itest_send_fix(g, t0 + k * 1000, 37.5 + k * 1e-4, 127.0 + k * 1e-4),
            0);
        harness_sleep_ms(50);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", FA_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, FA_PRE, 20000), 0);

    /* The backend goes away; the bus keeps recording and publishing. */
    assert_int_equal(harness_stop(be), 0);
    for (i = 0; i < FA_AWAY; i++, k++) {
        assert_int_equal(
            itest_send_fix(g, t0 + k * 1000, 37.5 + k * 1e-4, 127.0 + k * 1e-4),
            0);
        harness_sleep_ms(50);
    }
    /* The broker loses what it queued for the backend: from here on only
     * the bus's spool holds those records. */
    assert_int_equal(harness_mosquitto_restart(m, 0), 0);
    for (i = 0; i < 300 && itest_log_count(harness_proc_log(ob),
                                           "connected to broker") < 2;
         i++)
        harness_sleep_ms(100);
    assert_true(i < 300);
    assert_int_equal(fresh_status(m, dir, &st), 0);
    next_before = st.next_seq;
    print_message("before the forgery: next_seq %" PRIu64 ", acked %" PRIu64
                  ", %" PRIu64 " records held\n",
                  st.next_seq, st.acked_seq, st.spool_records);
    assert_true(st.spool_records >= FA_AWAY);

    /* The forgeries, retained, by an ordinary client. */
    assert_int_equal(forge_ack(m, dir, next_before + 1000), 0);
    harness_sleep_ms(1000);
    assert_int_equal(forge_ack(m, dir, UINT64_MAX), 0);
    harness_sleep_ms(1000);
    for (i = 0; i < FA_AFTER; i++, k++) {
        assert_int_equal(
            itest_send_fix(g, t0 + k * 1000, 37.5 + k * 1e-4, 127.0 + k * 1e-4),
            0);
        harness_sleep_ms(50);
    }
    assert_int_equal(fresh_status(m, dir, &st), 0);
    print_message("after: next_seq %" PRIu64 ", acked %" PRIu64 ", %" PRIu64
                  " records held, %" PRIu64 " acks refused\n",
                  st.next_seq, st.acked_seq, st.spool_records, st.acks_refused);
    /* Numbering moved only by the records appended since. */
    assert_true(st.next_seq == next_before + FA_AFTER);
    assert_true(st.spool_records >= FA_AWAY + FA_AFTER);
    assert_true(st.acks_refused >= 2);
    assert_true(
        harness_log_has(harness_proc_log(ob), "above the highest seq issued"));

    /* The backend returns: everything is stored, each record once. */
    be = harness_backend_start(pg, m, NULL);
    assert_non_null(be);
    assert_int_equal(
        harness_wait_scalar(pg, sql, FA_PRE + FA_AWAY + FA_AFTER, 60000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT t) FROM positions WHERE vehicle_id = '%s'",
             FA_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), FA_PRE + FA_AWAY + FA_AFTER);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM dead_letters WHERE vehicle_id = '%s'",
             FA_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), 0);
    /* And the numbering is one run with no jump. */
    snprintf(sql, sizeof sql,
             "SELECT max(seq) - min(seq) + 1 FROM positions "
             "WHERE vehicle_id = '%s'",
             FA_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), FA_PRE + FA_AWAY + FA_AFTER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_ack),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
