/* test_live_sink: the audit writer's queue — batches in order and of the
 * right size, due by size or by time, a failed batch sent again first,
 * the oldest dropped when full (never a row in flight), a refused batch
 * given up after its retries — and the JSON the INSERT reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_sink.h"

static struct live_sink *sink_make(size_t cap, size_t batch, int retries)
{
    struct live_sink_params pp;
    struct live_sink *s;

    live_sink_params_default(&pp);
    pp.cap = cap;
    pp.batch_max = batch;
    pp.flush_ms = 1000;
    pp.retries = retries;
    s = live_sink_new(&pp);
    assert_non_null(s);
    return s;
}

/* Row number I: told apart by its stop_sequence. */
static void push(struct live_sink *s, int i)
{
    struct live_sink_row r;

    memset(&r, 0, sizeof r);
    r.service_day = 20424; /* 2025-12-02 */
    snprintf(r.vehicle_id, sizeof r.vehicle_id, "bus-1");
    snprintf(r.trip_id, sizeof r.trip_id, "T1");
    snprintf(r.route_id, sizeof r.route_id, "R1");
    snprintf(r.stop_id, sizeof r.stop_id, "S%d", i);
    r.stop_sequence = i;
    r.horizon_s = 60;
    r.made_ms = 1000;
    r.pred_ms = 61000;
    r.lo_ms = 50000;
    r.hi_ms = 70000;
    r.actual_ms = 65000;
    r.accurate = true;
    live_sink_push(s, &r);
}

/* The stop_sequence values of a batch's JSON, in order, into SEQ. */
static size_t seqs(const char *json, int *seq, size_t max)
{
    size_t n = 0;

    for (const char *p = json; (p = strstr(p, "\"q\":")) && n < max; p += 4)
        seq[n++] = atoi(p + 4);
    return n;
}

static void take(struct live_sink *s, int64_t now, const int *want, size_t n)
{
    char *json;
    size_t got;
    int seq[64];

    assert_int_equal(live_sink_take(s, now, &json, &got), LIVE_SINK_OK);
    assert_int_equal(got, n);
    assert_int_equal(seqs(json, seq, 64), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seq[i], want[i]);
    free(json);
}

static void test_due_by_size_and_time(void **state)
{
    struct live_sink *s = sink_make(100, 3, 3);

    (void)state;
    assert_false(live_sink_due(s, 0)); /* nothing queued */
    push(s, 1);
    assert_true(live_sink_due(s, 0)); /* no batch went yet */
    take(s, 0, (const int[]){1}, 1);
    live_sink_done(s, true, false);
    push(s, 2);
    push(s, 3);
    /* two rows, a batch went 500 ms ago: not yet */
    assert_false(live_sink_due(s, 500));
    assert_true(live_sink_due(s, 1000));
    push(s, 4);
    assert_true(live_sink_due(s, 500)); /* batch_max rows */
    take(s, 500, (const int[]){2, 3, 4}, 3);
    /* in flight: nothing else goes */
    push(s, 5);
    assert_false(live_sink_due(s, 5000));
    live_sink_done(s, true, false);
    {
        struct live_sink_counts c;

        live_sink_counts(s, &c);
        assert_int_equal(c.written, 4);
        assert_int_equal(c.dropped, 0);
        assert_int_equal(c.failed, 0);
    }
    assert_int_equal(live_sink_queued(s), 1);
    live_sink_free(s);
}

static void test_failed_batch_goes_again_first(void **state)
{
    struct live_sink *s = sink_make(100, 2, 3);
    struct live_sink_counts c;

    (void)state;
    for (int i = 1; i <= 3; i++)
        push(s, i);
    take(s, 0, (const int[]){1, 2}, 2);
    live_sink_done(s, false, false); /* connection lost */
    /* the connection lost any number of times: never given up */
    for (int k = 0; k < 10; k++) {
        take(s, 2000 + k * 2000, (const int[]){1, 2}, 2);
        live_sink_done(s, false, false);
    }
    take(s, 30000, (const int[]){1, 2}, 2);
    live_sink_done(s, true, false);
    take(s, 40000, (const int[]){3}, 1);
    live_sink_done(s, true, false);
    live_sink_counts(s, &c);
    assert_int_equal(c.written, 3);
    assert_int_equal(c.failed, 22);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(live_sink_queued(s), 0);
    live_sink_free(s);
}

static void test_refused_batch_dropped_after_retries(void **state)
{
    struct live_sink *s = sink_make(100, 2, 2);
    struct live_sink_counts c;

    (void)state;
    for (int i = 1; i <= 3; i++)
        push(s, i);
    /* the first send and two retries refused: then dropped */
    for (int k = 0; k < 3; k++) {
        take(s, k * 2000, (const int[]){1, 2}, 2);
        live_sink_done(s, false, true);
    }
    live_sink_counts(s, &c);
    assert_int_equal(c.dropped, 2);
    assert_int_equal(c.failed, 6);
    take(s, 10000, (const int[]){3}, 1);
    live_sink_done(s, true, false);
    live_sink_counts(s, &c);
    assert_int_equal(c.written, 1);
    live_sink_free(s);
}

static void test_full_drops_oldest_not_in_flight(void **state)
{
    struct live_sink *s = sink_make(4, 2, 3);
    struct live_sink_counts c;

    (void)state;
    for (int i = 1; i <= 6; i++) /* 1 and 2 dropped */
        push(s, i);
    live_sink_counts(s, &c);
    assert_int_equal(c.dropped, 2);
    assert_int_equal(live_sink_queued(s), 4);
    take(s, 0, (const int[]){3, 4}, 2);
    /* full with 3, 4 in flight: 5 goes, then 6, not the batch */
    push(s, 7);
    push(s, 8);
    live_sink_counts(s, &c);
    assert_int_equal(c.dropped, 4);
    assert_int_equal(live_sink_queued(s), 4);
    live_sink_done(s, true, false);
    take(s, 5000, (const int[]){7, 8}, 2);
    live_sink_done(s, true, false);
    live_sink_counts(s, &c);
    assert_int_equal(c.written, 4);
    assert_int_equal(live_sink_queued(s), 0);
    live_sink_free(s);
}

static void test_lost_connection_sends_again(void **state)
{
    struct live_sink *s = sink_make(10, 5, 3);

    (void)state;
    push(s, 1);
    take(s, 0, (const int[]){1}, 1);
    live_sink_lost(s);                 /* freed without an answer */
    assert_false(live_sink_due(s, 1)); /* at the next flush, not at once */
    assert_true(live_sink_due(s, 1000));
    take(s, 1000, (const int[]){1}, 1);
    live_sink_free(s);
}

static void test_json(void **state)
{
    struct live_sink *s = sink_make(10, 5, 3);
    struct live_sink_row r;
    char *json;
    size_t n;

    (void)state;
    memset(&r, 0, sizeof r);
    r.service_day = 20424;
    snprintf(r.vehicle_id, sizeof r.vehicle_id, "bus\"1\\");
    snprintf(r.trip_id, sizeof r.trip_id, "T\t1");
    snprintf(r.route_id, sizeof r.route_id, "R1");
    snprintf(r.stop_id, sizeof r.stop_id, "GA02");
    r.stop_sequence = 2;
    r.horizon_s = 300;
    r.made_ms = 1764633600123;
    r.pred_ms = 1764633900000;
    r.lo_ms = 1764633880000;
    r.hi_ms = 1764633950000;
    r.actual_ms = 1764633910500;
    r.covered = true;
    live_sink_push(s, &r);
    assert_int_equal(live_sink_take(s, 0, &json, &n), LIVE_SINK_OK);
    assert_string_equal(
        json,
        "[{\"d\":\"2025-12-02\",\"v\":\"bus\\\"1\\\\\",\"t\":\"T\\u00091\","
        "\"r\":\"R1\",\"s\":\"GA02\",\"q\":2,\"h\":300,"
        "\"m\":1764633600123,\"p\":1764633900000,\"l\":1764633880000,"
        "\"u\":1764633950000,\"a\":1764633910500,\"ac\":false,"
        "\"co\":true}]");
    free(json);
    /* in flight: nothing more to take */
    assert_int_equal(live_sink_take(s, 0, &json, &n), LIVE_SINK_ERR_BUSY);
    live_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_by_size_and_time),
        cmocka_unit_test(test_failed_batch_goes_again_first),
        cmocka_unit_test(test_refused_batch_dropped_after_retries),
        cmocka_unit_test(test_full_drops_oldest_not_in_flight),
        cmocka_unit_test(test_lost_connection_sends_again),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
