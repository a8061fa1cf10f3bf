/* test_sender: acks bounded by what was issued and published, re-sends
 * backing off, PUBACKs told apart, undecodable records given up. The MQTT
 * link is replaced by the link-time stubs below; the spool is the real one
 * in a throw-away folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqtt.h"
#include "sender.h"
#include "spool.h"
#include "wire.h"

/* ---- stubs for common/mqtt.c: what sender.c calls ---- */

#define PUB_MAX 4096

struct pub {
    int mid;
    size_t len;
    uint64_t first, last; /* seqs in the batch */
    size_t n;
    uint64_t oldest_held;
};

static struct stub {
    bool connected;
    int next_mid;
    size_t npub;
    struct pub pub[PUB_MAX];
} stub;

bool mqtt_connected(struct mqtt *m)
{
    (void)m;
    return stub.connected;
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, int *mid)
{
    struct wire_batch b;
    struct pub *p;

    (void)m;
    (void)topic;
    (void)qos;
    (void)retain;
    assert_true(stub.npub < PUB_MAX);
    assert_int_equal(wire_batch_decode(payload, len, &b, NULL, 0), WIRE_OK);
    p = &stub.pub[stub.npub++];
    p->mid = ++stub.next_mid;
    p->len = len;
    p->n = b.n;
    p->first = b.n ? b.records[0].seq : 0;
    p->last = b.n ? b.records[b.n - 1].seq : 0;
    p->oldest_held = b.oldest_held_seq;
    wire_batch_free(&b);
    if (mid)
        *mid = p->mid;
    return MQTT_OK;
}

/* ---- fixtures ---- */

struct fx {
    char dir[64];
    struct spool *sp;
    struct sender *s;
};

static void fx_open(struct fx *f, unsigned batch, unsigned window,
                    int64_t resend_ms, int64_t resend_max_ms)
{
    struct sender_options o;

    memset(f, 0, sizeof *f);
    memset(&stub, 0, sizeof stub);
    stub.connected = true;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_sender-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(spool_open(f->dir, NULL, &f->sp), SPOOL_OK);
    memset(&o, 0, sizeof o);
    o.vehicle_id = "bus-t";
    o.batch_records = batch;
    o.window_batches = window;
    o.resend_ms = resend_ms;
    o.resend_max_ms = resend_max_ms;
    o.seed = 12345;
    assert_int_equal(sender_new(f->sp, NULL, &o, &f->s), SENDER_OK);
}

static void fx_close(struct fx *f)
{
    char cmd[128];

    sender_free(f->s);
    assert_int_equal(spool_close(f->sp), SPOOL_OK);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
}

static uint64_t append_fix(struct fx *f, int64_t t_ms)
{
    struct wire_record r;
    uint8_t *buf;
    size_t len;
    uint64_t seq;

    wire_position_init(&r);
    r.t_ms = t_ms;
    r.u.pos.lat = 37.5;
    r.u.pos.lon = 127.0;
    r.u.pos.fix_mode = 3;
    assert_int_equal(wire_record_encode(&r, &buf, &len), WIRE_OK);
    assert_int_equal(spool_append(f->sp, SPOOL_POSITION, t_ms, buf, len, &seq),
                     SPOOL_OK);
    free(buf);
    return seq;
}

static void pump(struct fx *f, int64_t now)
{
    int detail = 0;

    assert_int_equal(sender_pump(f->s, now, 1700000000000LL, &detail),
                     SENDER_OK);
}

static void puback_all(struct fx *f, size_t from)
{
    for (size_t i = from; i < stub.npub; i++)
        sender_puback(f->s, stub.pub[i].mid);
}

static uint64_t held(struct fx *f)
{
    struct spool_stats st;

    assert_int_equal(spool_stats(f->sp, &st), SPOOL_OK);
    return st.records;
}

/* ---- tests ---- */

/* An ack above anything issued frees nothing and moves no numbering;
 * UINT64_MAX neither wraps nor frees. */
static void test_ack_above_issued_refused(void **state)
{
    struct fx f;
    struct sender_stats st;
    uint64_t last = 0, next;
    int detail = 0;

    (void)state;
    fx_open(&f, 50, 8, 1000, 8000);
    for (int i = 0; i < 100; i++)
        last = append_fix(&f, 1700000000000LL + i * 1000);
    pump(&f, 1);
    next = spool_next_seq(f.sp);
    assert_int_equal(next, last + 1);
    assert_int_equal(sender_ack(f.s, last + 1, 2, &detail), SENDER_ERR_ACK);
    assert_int_equal(sender_ack(f.s, last + 1000000, 2, &detail),
                     SENDER_ERR_ACK);
    assert_int_equal(sender_ack(f.s, UINT64_MAX, 2, &detail), SENDER_ERR_ACK);
    assert_int_equal(held(&f), 100);
    assert_int_equal(spool_next_seq(f.sp), next);
    sender_stats(f.s, &st);
    assert_int_equal(st.acks_refused, 3);
    assert_int_equal(st.acked_seq, 0);
    /* The real ack still works. */
    assert_int_equal(sender_ack(f.s, last, 3, &detail), SENDER_OK);
    assert_int_equal(held(&f), 0);
    fx_close(&f);
}

/* A plausible ack above what was published frees only what was published;
 * the rest as publishing passes it. */
static void test_ack_bounded_by_published(void **state)
{
    struct fx f;
    uint64_t first = 0, seq = 0;
    int detail = 0;

    (void)state;
    fx_open(&f, 10, 1, 1000, 8000);
    for (int i = 0; i < 30; i++) {
        seq = append_fix(&f, 1700000000000LL + i * 1000);
        if (i == 0)
            first = seq;
    }
    pump(&f, 1); /* window of one batch: seqs first..first+9 */
    assert_int_equal(stub.npub, 1);
    assert_int_equal(stub.pub[0].last, first + 9);
    assert_int_equal(sender_ack(f.s, seq, 2, &detail), SENDER_OK);
    assert_int_equal(held(&f), 20);
    assert_int_equal(spool_oldest_held(f.sp), first + 10);
    /* Publishing the next batch does not free it: an ack that came before
     * it was sent cannot speak for it. The next ack does. */
    puback_all(&f, 0);
    pump(&f, 3);
    assert_int_equal(stub.npub, 2);
    assert_int_equal(held(&f), 20);
    assert_int_equal(sender_ack(f.s, seq, 4, &detail), SENDER_OK);
    assert_int_equal(held(&f), 10);
    fx_close(&f);
}

/* Without acks, re-sends come after 1, ~2, ~4, ~8 ... s, up to the cap, each
 * one batch from the ack; an ack resets the wait. */
static void test_resend_backs_off(void **state)
{
    struct fx f;
    struct sender_stats st;
    size_t first_pass, before;
    uint64_t seq = 0;
    int64_t t, last_resend = 0, prev_gap = 0;
    size_t bytes_first = 0, bytes_second = 0;
    int detail = 0, resends = 0;

    (void)state;
    fx_open(&f, 100, 8, 1000, 16000);
    for (int i = 0; i < 500; i++)
        seq = append_fix(&f, 1700000000000LL + i * 1000);
    pump(&f, 1);
    first_pass = stub.npub;
    assert_int_equal(first_pass, 5);
    puback_all(&f, 0);
    for (t = 2; t <= 120000; t += 50) {
        before = stub.npub;
        pump(&f, t);
        puback_all(&f, before);
        if (stub.npub == before)
            continue;
        /* One batch, the oldest from the ack. */
        assert_int_equal(stub.npub - before, 1);
        assert_int_equal(stub.pub[before].first, seq - 499);
        resends++;
        if (resends >= 2) {
            int64_t gap = t - last_resend;

            /* Jittered doubling: between half and all of the doubled wait,
             * never above the cap. */
            assert_true(gap <= 16050);
            if (prev_gap > 0 && prev_gap < 8000)
                assert_true(gap >= prev_gap); /* 2w/2 >= w */
            prev_gap = gap;
        }
        last_resend = t;
        if (t < 60000)
            bytes_first += stub.pub[before].len;
        else
            bytes_second += stub.pub[before].len;
    }
    /* Linear would be 120 re-sends of everything in flight. */
    assert_true(resends >= 8 && resends <= 20);
    assert_true(bytes_second < bytes_first);
    sender_stats(f.s, &st);
    assert_int_equal(st.resends, resends);
    assert_true(st.resend_wait_ms >= 8000 && st.resend_wait_ms <= 16000);
    /* Progress: the wait resets and sending resumes at full rate. */
    assert_int_equal(sender_ack(f.s, seq - 400, t, &detail), SENDER_OK);
    before = stub.npub;
    pump(&f, t + 1);
    assert_int_equal(stub.npub - before, 4);
    puback_all(&f, before);
    before = stub.npub;
    pump(&f, t + 1001);
    assert_int_equal(stub.npub - before, 1); /* 1 s later: the first re-send */
    sender_stats(f.s, &st);
    assert_true(st.resend_wait_ms >= 1000 && st.resend_wait_ms <= 2000);
    fx_close(&f);
}

/* A live record sent ahead of a backlog does not let an ack free the
 * backlog between: an ack just below it (anyone may publish one) frees
 * only what was published in order. */
static void test_ack_bounded_by_contiguous(void **state)
{
    struct fx f;
    uint64_t first = 0, seq = 0, live;
    int detail = 0;

    (void)state;
    fx_open(&f, 10, 1, 1000, 8000);
    for (int i = 0; i < 30; i++) {
        seq = append_fix(&f, 1700000000000LL + i * 1000);
        if (i == 0)
            first = seq;
    }
    pump(&f, 1); /* window of one batch: first..first+9 */
    assert_int_equal(stub.npub, 1);
    live = append_fix(&f, 1700000030000LL);
    sender_live(f.s, live);
    pump(&f, 2);
    assert_int_equal(stub.npub, 2);
    assert_int_equal(stub.pub[1].first, live);
    assert_int_equal(sender_ack(f.s, live - 1, 3, &detail), SENDER_OK);
    assert_int_equal(spool_oldest_held(f.sp), first + 10);
    assert_int_equal(held(&f), 21);
    fx_close(&f);
}

/* While re-sends back off, a live record right after the one batch a
 * re-send sent goes out at once, and so do the ones after it; none waits
 * for the next re-send. */
static void test_live_during_backoff(void **state)
{
    struct fx f;
    size_t before;
    uint64_t seq = 0;

    (void)state;
    fx_open(&f, 10, 8, 1000, 64000);
    for (int i = 0; i < 5; i++)
        seq = append_fix(&f, 1700000000000LL + i * 1000);
    pump(&f, 1);
    assert_int_equal(stub.npub, 1);
    puback_all(&f, 0);
    before = stub.npub;
    pump(&f, 1100); /* the first re-send: the one batch, all 5 */
    assert_int_equal(stub.npub - before, 1);
    assert_int_equal(stub.pub[before].last, seq);
    puback_all(&f, before);
    for (int i = 0; i < 3; i++) {
        uint64_t live = append_fix(&f, 1700000005000LL + i * 1000);

        sender_live(f.s, live);
        before = stub.npub;
        pump(&f, 1100 + (i + 1) * 100); /* before the next re-send */
        assert_int_equal(stub.npub - before, 1);
        assert_int_equal(stub.pub[before].first, live);
        assert_int_equal(stub.pub[before].n, 1);
        puback_all(&f, before);
    }
    fx_close(&f);
}

/* A PUBACK that is not for telemetry (the status) opens no window. */
static void test_status_puback_not_counted(void **state)
{
    struct fx f;

    (void)state;
    fx_open(&f, 10, 1, 100000, 0);
    for (int i = 0; i < 30; i++)
        append_fix(&f, 1700000000000LL + i * 1000);
    pump(&f, 1);
    assert_int_equal(stub.npub, 1);
    sender_puback(f.s, 9999); /* the status's PUBACK */
    pump(&f, 2);
    assert_int_equal(stub.npub, 1);
    sender_puback(f.s, stub.pub[0].mid);
    pump(&f, 3);
    assert_int_equal(stub.npub, 2);
    fx_close(&f);
}

/* A record whose CRC passes but which does not decode is given up: counted
 * as dropped, and oldest_held_seq passes it so the watermark can. */
static void test_undecodable_dropped(void **state)
{
    struct fx f;
    struct spool_stats sst;
    struct sender_stats st;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    uint64_t bad, good;

    (void)state;
    fx_open(&f, 10, 8, 1000, 0);
    assert_int_equal(spool_append(f.sp, SPOOL_POSITION, 1700000000000LL, junk,
                                  sizeof junk, &bad),
                     SPOOL_OK);
    good = append_fix(&f, 1700000001000LL);
    pump(&f, 1);
    assert_int_equal(stub.npub, 1);
    assert_int_equal(stub.pub[0].n, 1);
    assert_int_equal(stub.pub[0].first, good);
    assert_true(stub.pub[0].oldest_held > bad);
    assert_int_equal(spool_oldest_held(f.sp), good);
    sender_stats(f.s, &st);
    assert_int_equal(st.undecodable, 1);
    assert_int_equal(spool_stats(f.sp, &sst), SPOOL_OK);
    assert_int_equal(sst.dropped_positions, 1);
    assert_int_equal(sst.records, 1);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_above_issued_refused),
        cmocka_unit_test(test_ack_bounded_by_published),
        cmocka_unit_test(test_resend_backs_off),
        cmocka_unit_test(test_live_during_backoff),
        cmocka_unit_test(test_ack_bounded_by_contiguous),
        cmocka_unit_test(test_status_puback_not_counted),
        cmocka_unit_test(test_undecodable_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
