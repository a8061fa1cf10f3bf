/* Unit tests of onboard/doors: episodes, load, faults, timeouts, seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "doors.h"

#define T0 1700000000000LL /* an arbitrary Unix ms */
#define TIMEOUT (600 * 1000)
#define SILENT (30 * 1000)

/* A counter that numbers its sentences like a real gateway does. */
struct sender {
    struct doors *d;
    uint32_t seq;
    struct doors_event ev;
};

static struct doors *mkdoors(unsigned ndoors)
{
    struct doors_config cfg = {
        .ndoors = ndoors, .close_timeout_ms = TIMEOUT, .silent_ms = SILENT};
    struct doors *d = doors_new(&cfg);

    assert_non_null(d);
    return d;
}

static int send_msg(struct sender *s, struct apc_msg *m, int64_t t)
{
    m->seq = ++s->seq;
    memset(&s->ev, 0xa5, sizeof s->ev); /* stale data must not pass */
    return doors_feed(s->d, m, t, &s->ev);
}

static int door_msg(struct sender *s, enum apc_type type, unsigned door,
                    int64_t t)
{
    struct apc_msg m = {.type = type, .door = door};
    return send_msg(s, &m, t);
}

static int io(struct sender *s, unsigned door, unsigned in, unsigned out,
              int64_t t)
{
    struct apc_msg m = {.type = APC_PEOPLE, .door = door, .in = in, .out = out};
    return send_msg(s, &m, t);
}

static int hb(struct sender *s, enum apc_hb_status st, int64_t t)
{
    struct apc_msg m = {.type = APC_HEARTBEAT, .status = st};
    strcpy(m.counter_id, "APC-0007");
    return send_msg(s, &m, t);
}

static int fl(struct sender *s, unsigned door, unsigned code, int64_t t)
{
    struct apc_msg m = {.type = APC_FAULT, .door = door, .code = code};
    return send_msg(s, &m, t);
}

static void test_quality_bits_match_wire(void **state)
{
    /* CountQuality in proto/shuttle.proto. */
    assert_int_equal(DOORS_Q_LOAD_CLAMPED, 1);
    assert_int_equal(DOORS_Q_COUNTER_FAULT, 2);
    assert_int_equal(DOORS_Q_NO_CLOSE, 4);
    assert_int_equal(DOORS_Q_NO_POSITION, 8);
}

static void test_typical_stop(void **state)
{
    struct sender s = {.d = mkdoors(2)};

    doors_set_load(s.d, 10);
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 1, T0), 0);
    assert_true(doors_is_open(s.d, 1));
    assert_int_equal(io(&s, 1, 1, 0, T0 + 1000), 0);
    assert_int_equal(io(&s, 1, 2, 1, T0 + 2500), 0);
    assert_int_equal(hb(&s, APC_HB_OK, T0 + 3000), 0);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 9000), 1);
    assert_int_equal(s.ev.door, 1);
    assert_int_equal(s.ev.boarded, 3);
    assert_int_equal(s.ev.alighted, 1);
    assert_int_equal(s.ev.door_open_ms, T0);
    assert_int_equal(s.ev.door_close_ms, T0 + 9000);
    assert_int_equal(s.ev.load_after, 12);
    assert_int_equal(s.ev.quality, 0);
    assert_false(doors_is_open(s.d, 1));
    assert_int_equal(doors_load(s.d), 12);

    /* Both doors at the next stop, interleaved: one event each, and the
     * load carries over from the first stop. */
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 1, T0 + 60000), 0);
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 2, T0 + 60100), 0);
    assert_int_equal(io(&s, 2, 0, 5, T0 + 61000), 0);
    assert_int_equal(io(&s, 1, 2, 0, T0 + 61500), 0);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 2, T0 + 70000), 1);
    assert_int_equal(s.ev.door, 2);
    assert_int_equal(s.ev.boarded, 0);
    assert_int_equal(s.ev.alighted, 5);
    assert_int_equal(s.ev.door_open_ms, T0 + 60100);
    assert_int_equal(s.ev.load_after, 7);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 71000), 1);
    assert_int_equal(s.ev.door, 1);
    assert_int_equal(s.ev.boarded, 2);
    assert_int_equal(s.ev.load_after, 9);
    assert_int_equal(s.ev.quality, 0);
    assert_int_equal(doors_stats(s.d)->messages, 11);
    assert_string_equal(doors_counter_id(s.d), "APC-0007");
    doors_free(s.d);
}

static void test_load_clamp(void **state)
{
    struct sender s = {.d = mkdoors(1)};

    doors_set_load(s.d, 1);
    door_msg(&s, APC_DOOR_OPEN, 1, T0);
    io(&s, 1, 0, 3, T0 + 1000);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 2000), 1);
    assert_int_equal(s.ev.alighted, 3); /* the counts stay as counted */
    assert_int_equal(s.ev.load_after, 0);
    assert_int_equal(s.ev.quality, DOORS_Q_LOAD_CLAMPED);
    assert_int_equal(doors_load(s.d), 0);

    /* The next episode starts from 0 and is clean. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 5000);
    io(&s, 1, 2, 0, T0 + 6000);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 7000), 1);
    assert_int_equal(s.ev.load_after, 2);
    assert_int_equal(s.ev.quality, 0);

    /* And at the top. */
    doors_set_load(s.d, 1000);
    assert_int_equal(doors_load(s.d), DOORS_LOAD_MAX);
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 8000);
    io(&s, 1, 1, 0, T0 + 8500);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 9000), 1);
    assert_int_equal(s.ev.load_after, DOORS_LOAD_MAX);
    assert_int_equal(s.ev.quality, DOORS_Q_LOAD_CLAMPED);
    doors_set_load(s.d, -4);
    assert_int_equal(doors_load(s.d), 0);
    doors_free(s.d);
}

static void test_fault_flags(void **state)
{
    struct sender s = {.d = mkdoors(2)};

    hb(&s, APC_HB_OK, T0);
    assert_int_equal(doors_counter_state(s.d, T0), DOORS_COUNTER_OK);

    /* A fault at door 2 taints door 2's episode only. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 100);
    door_msg(&s, APC_DOOR_OPEN, 2, T0 + 100);
    io(&s, 1, 1, 0, T0 + 200);
    assert_int_equal(fl(&s, 2, 17, T0 + 300), 0);
    assert_int_equal(doors_counter_state(s.d, T0 + 300), DOORS_COUNTER_FAULT);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 400), 1);
    assert_int_equal(s.ev.quality, 0);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 2, T0 + 500), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);

    /* Still uncleared: the next episode at door 2 starts tainted. */
    door_msg(&s, APC_DOOR_OPEN, 2, T0 + 1000);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 2, T0 + 2000), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);

    /* Cleared with code 0: clean again. */
    fl(&s, 2, 0, T0 + 2500);
    assert_int_equal(doors_counter_state(s.d, T0 + 2500), DOORS_COUNTER_OK);
    door_msg(&s, APC_DOOR_OPEN, 2, T0 + 3000);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 2, T0 + 4000), 1);
    assert_int_equal(s.ev.quality, 0);

    /* A heartbeat saying FAULT taints every open episode; OK clears. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 5000);
    hb(&s, APC_HB_FAULT, T0 + 5100);
    assert_int_equal(doors_counter_state(s.d, T0 + 5100), DOORS_COUNTER_FAULT);
    hb(&s, APC_HB_OK, T0 + 5200);
    assert_int_equal(doors_counter_state(s.d, T0 + 5200), DOORS_COUNTER_OK);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 6000), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);

    /* A whole-counter fault (door 0) taints both doors. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 7000);
    door_msg(&s, APC_DOOR_OPEN, 2, T0 + 7000);
    fl(&s, 0, 3, T0 + 7100);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 8000), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 2, T0 + 8000), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);
    assert_int_equal(doors_counter_state(s.d, T0 + 8000), DOORS_COUNTER_FAULT);
    fl(&s, 0, 0, T0 + 9000);
    assert_int_equal(doors_counter_state(s.d, T0 + 9000), DOORS_COUNTER_OK);
    doors_free(s.d);
}

static void test_no_close_timeout(void **state)
{
    struct sender s = {.d = mkdoors(1)};
    struct doors_event ev;

    door_msg(&s, APC_DOOR_OPEN, 1, T0);
    io(&s, 1, 4, 0, T0 + 20000);
    /* Heartbeats keep the counter alive but are no door activity. */
    for (int64_t t = T0 + 25000; t < T0 + 20000 + TIMEOUT; t += 5000) {
        hb(&s, APC_HB_OK, t);
        assert_int_equal(doors_tick(s.d, t, &ev), 0);
    }
    assert_int_equal(doors_tick(s.d, T0 + 20000 + TIMEOUT - 1, &ev), 0);
    assert_true(doors_is_open(s.d, 1));
    assert_int_equal(doors_tick(s.d, T0 + 20000 + TIMEOUT, &ev), 1);
    assert_int_equal(ev.door, 1);
    assert_int_equal(ev.boarded, 4);
    assert_int_equal(ev.door_open_ms, T0);
    /* Closed when it was last seen doing anything. */
    assert_int_equal(ev.door_close_ms, T0 + 20000);
    assert_int_equal(ev.quality, DOORS_Q_NO_CLOSE);
    assert_int_equal(ev.load_after, 4);
    assert_false(doors_is_open(s.d, 1));
    assert_int_equal(doors_tick(s.d, T0 + 20000 + TIMEOUT, &ev), 0);
    assert_int_equal(doors_stats(s.d)->timeouts, 1);

    /* The late close finds no episode and makes none. */
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + TIMEOUT * 2), 0);
    assert_int_equal(doors_stats(s.d)->stray_closes, 1);
    doors_free(s.d);
}

static void test_reopen_and_flush(void **state)
{
    struct sender s = {.d = mkdoors(3)};
    struct doors_event ev;

    /* The close was lost: a second open ends the first episode (within
     * the silence limit, so only NO_CLOSE). */
    door_msg(&s, APC_DOOR_OPEN, 1, T0);
    io(&s, 1, 2, 0, T0 + 1000);
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 1, T0 + 20000), 1);
    assert_int_equal(s.ev.boarded, 2);
    assert_int_equal(s.ev.door_close_ms, T0 + 1000);
    assert_int_equal(s.ev.quality, DOORS_Q_NO_CLOSE);
    assert_true(doors_is_open(s.d, 1));
    assert_int_equal(doors_stats(s.d)->reopened, 1);

    /* Shutdown: every open door is closed, one event each. */
    door_msg(&s, APC_DOOR_OPEN, 3, T0 + 20500);
    io(&s, 3, 1, 0, T0 + 21000);
    assert_int_equal(doors_flush(s.d, &ev), 1);
    assert_int_equal(ev.door, 1);
    assert_int_equal(ev.door_open_ms, T0 + 20000);
    assert_int_equal(ev.quality, DOORS_Q_NO_CLOSE);
    assert_int_equal(doors_flush(s.d, &ev), 1);
    assert_int_equal(ev.door, 3);
    assert_int_equal(ev.boarded, 1);
    assert_int_equal(ev.door_close_ms, T0 + 21000);
    assert_int_equal(ev.load_after, 3);
    assert_int_equal(doors_flush(s.d, &ev), 0);
    doors_free(s.d);
}

static void test_counts_while_closed(void **state)
{
    struct sender s = {.d = mkdoors(1)};

    doors_set_load(s.d, 5);
    assert_int_equal(io(&s, 1, 2, 1, T0), 1);
    assert_int_equal(s.ev.door, 1);
    assert_int_equal(s.ev.boarded, 2);
    assert_int_equal(s.ev.alighted, 1);
    assert_int_equal(s.ev.door_open_ms, 0);
    assert_int_equal(s.ev.door_close_ms, T0);
    assert_int_equal(s.ev.load_after, 6);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);
    /* Nothing counted: nothing to report. */
    assert_int_equal(io(&s, 1, 0, 0, T0 + 10), 0);
    assert_int_equal(doors_stats(s.d)->stray_counts, 1);
    doors_free(s.d);
}

static void test_silent_counter(void **state)
{
    struct sender s = {.d = mkdoors(1)};
    struct doors_event ev;

    assert_int_equal(doors_counter_state(s.d, T0), DOORS_COUNTER_NONE);
    assert_string_equal(doors_counter_name(DOORS_COUNTER_NONE), "none");
    hb(&s, APC_HB_OK, T0);
    assert_int_equal(doors_counter_state(s.d, T0 + SILENT - 1),
                     DOORS_COUNTER_OK);
    assert_int_equal(doors_counter_state(s.d, T0 + SILENT),
                     DOORS_COUNTER_SILENT);
    assert_string_equal(doors_counter_name(DOORS_COUNTER_SILENT), "silent");
    assert_string_equal(doors_counter_name(DOORS_COUNTER_OK), "ok");
    assert_string_equal(doors_counter_name(DOORS_COUNTER_FAULT), "fault");
    /* Silence outranks a fault: nothing is known any more. */
    fl(&s, 1, 5, T0 + 1000);
    assert_int_equal(doors_counter_state(s.d, T0 + 1000 + SILENT),
                     DOORS_COUNTER_SILENT);
    fl(&s, 1, 0, T0 + 2000);

    /* An episode the counter fell silent in may have lost counts. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 3000);
    assert_int_equal(doors_tick(s.d, T0 + 3000 + SILENT, &ev), 0);
    hb(&s, APC_HB_OK, T0 + 3000 + SILENT + 1000);
    assert_int_equal(doors_counter_state(s.d, T0 + 3000 + SILENT + 1000),
                     DOORS_COUNTER_OK);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 40000), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);

    /* Also when no tick ran during the silence. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 50000);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 50000 + SILENT), 1);
    assert_int_equal(s.ev.quality, DOORS_Q_COUNTER_FAULT);
    doors_free(s.d);
}

static void test_seq_duplicates_and_loss(void **state)
{
    struct doors *d = mkdoors(1);
    struct doors_event ev;
    struct apc_msg m = {.type = APC_DOOR_OPEN, .door = 1, .seq = 100};

    assert_int_equal(doors_feed(d, &m, T0, &ev), 0);
    m.type = APC_PEOPLE;
    m.in = 3;
    m.seq = 101;
    assert_int_equal(doors_feed(d, &m, T0 + 10, &ev), 0);
    /* The same line again (a gateway retry): not counted twice. */
    assert_int_equal(doors_feed(d, &m, T0 + 20, &ev), 0);
    assert_int_equal(doors_stats(d)->duplicates, 1);
    m.type = APC_DOOR_CLOSE;
    m.seq = 102;
    assert_int_equal(doors_feed(d, &m, T0 + 30, &ev), 1);
    assert_int_equal(ev.boarded, 3);
    assert_int_equal(ev.quality, 0);

    /* 103 and 104 lost while a door is open: counts may be missing. */
    m.type = APC_DOOR_OPEN;
    m.seq = 103;
    doors_feed(d, &m, T0 + 100, &ev);
    m.type = APC_PEOPLE;
    m.in = 1;
    m.seq = 106;
    doors_feed(d, &m, T0 + 110, &ev);
    assert_int_equal(doors_stats(d)->lost, 2);
    /* 105 arrives late: accepted, and no longer lost; 104 stays lost. */
    m.in = 2;
    m.seq = 105;
    doors_feed(d, &m, T0 + 120, &ev);
    assert_int_equal(doors_stats(d)->lost, 1);
    doors_feed(d, &m, T0 + 125, &ev); /* and its repeat is dropped */
    assert_int_equal(doors_stats(d)->duplicates, 2);
    m.type = APC_DOOR_CLOSE;
    m.seq = 107;
    assert_int_equal(doors_feed(d, &m, T0 + 130, &ev), 1);
    assert_int_equal(ev.boarded, 3);
    assert_int_equal(ev.quality, DOORS_Q_COUNTER_FAULT);

    /* A restarted counter begins at 0, then 1: neither is a duplicate. */
    m.type = APC_HEARTBEAT;
    m.seq = 0;
    doors_feed(d, &m, T0 + 300, &ev);
    m.seq = 1;
    doors_feed(d, &m, T0 + 310, &ev);
    assert_int_equal(doors_stats(d)->restarts, 1);
    assert_int_equal(doors_stats(d)->duplicates, 2);
    assert_int_equal(doors_stats(d)->lost, 1);

    /* A restart without seq 0 (jump far back) resynchronises too. */
    for (m.seq = 2; m.seq <= 200; m.seq++)
        doors_feed(d, &m, T0 + 400, &ev);
    m.seq = 3;
    doors_feed(d, &m, T0 + 410, &ev);
    assert_int_equal(doors_stats(d)->restarts, 2);
    m.type = APC_DOOR_OPEN;
    m.seq = 4;
    doors_feed(d, &m, T0 + 420, &ev);
    assert_true(doors_is_open(d, 1));
    assert_int_equal(doors_stats(d)->lost, 1);
    doors_free(d);

    /* Wrap: 65535 is followed by 1, with nothing lost or restarted. */
    d = mkdoors(1);
    m.type = APC_HEARTBEAT;
    for (uint32_t seq = 65530; seq != 3; seq = seq == 65535 ? 1 : seq + 1) {
        m.seq = seq;
        doors_feed(d, &m, T0, &ev);
    }
    assert_int_equal(doors_stats(d)->messages, 8);
    assert_int_equal(doors_stats(d)->lost, 0);
    assert_int_equal(doors_stats(d)->restarts, 0);
    assert_int_equal(doors_stats(d)->duplicates, 0);
    /* And 65535 again, right after the wrap, is a duplicate. */
    m.seq = 65535;
    doors_feed(d, &m, T0, &ev);
    assert_int_equal(doors_stats(d)->duplicates, 1);
    doors_free(d);
}

static void test_bad_input(void **state)
{
    struct doors_config cfg = {
        .ndoors = 0, .close_timeout_ms = 1, .silent_ms = 1};
    struct sender s = {.seq = 0};
    struct doors_event ev;

    assert_null(doors_new(&cfg));
    assert_int_equal(errno, EINVAL);
    cfg.ndoors = APC_DOOR_MAX + 1;
    assert_null(doors_new(&cfg));
    cfg.ndoors = 2;
    cfg.silent_ms = 0;
    assert_null(doors_new(&cfg));

    s.d = mkdoors(2);
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 3, T0), DOORS_ERR_DOOR);
    assert_int_equal(door_msg(&s, APC_DOOR_OPEN, 0, T0), DOORS_ERR_DOOR);
    assert_int_equal(io(&s, 0, 1, 1, T0), DOORS_ERR_DOOR);
    assert_false(doors_is_open(s.d, 3));
    /* The counter is alive all the same. */
    assert_int_equal(doors_counter_state(s.d, T0), DOORS_COUNTER_OK);

    /* A clock stepping back never makes an episode end before it began. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 - 5000), 1);
    assert_int_equal(s.ev.door_open_ms, T0);
    assert_int_equal(s.ev.door_close_ms, T0);

    /* Per-event counts stop at the wire format's bound, flagged. */
    door_msg(&s, APC_DOOR_OPEN, 1, T0 + 1000);
    io(&s, 1, 150, 0, T0 + 1100);
    io(&s, 1, 150, 0, T0 + 1200);
    assert_int_equal(door_msg(&s, APC_DOOR_CLOSE, 1, T0 + 1300), 1);
    assert_int_equal(s.ev.boarded, DOORS_COUNT_MAX);
    assert_true(s.ev.quality & DOORS_Q_COUNTER_FAULT);
    assert_int_equal(doors_tick(s.d, T0 + 1400, &ev), 0);
    doors_free(s.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quality_bits_match_wire),
        cmocka_unit_test(test_typical_stop),
        cmocka_unit_test(test_load_clamp),
        cmocka_unit_test(test_fault_flags),
        cmocka_unit_test(test_no_close_timeout),
        cmocka_unit_test(test_reopen_and_flush),
        cmocka_unit_test(test_counts_while_closed),
        cmocka_unit_test(test_silent_counter),
        cmocka_unit_test(test_seq_duplicates_and_loss),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
