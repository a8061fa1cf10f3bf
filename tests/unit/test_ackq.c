/* Unit tests of backend/ingest/ackq: one waiting ack per vehicle, the
 * newest seq wins, arrival order kept, growth across many vehicles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ackq.h"

static void pop_expect(struct ackq *q, const char *vid, uint64_t seq)
{
    const char *v;
    uint64_t s;

    assert_true(ackq_peek(q, &v, &s));
    assert_string_equal(v, vid);
    assert_int_equal(s, seq);
    ackq_pop(q);
}

/* Commits of three vehicles, ten times over, before anything goes out:
 * three acks wait, in first-seen order, each at its newest seq. */
static void test_newest_replaces(void **state)
{
    struct ackq *q;
    const char *v;
    uint64_t s;

    (void)state;
    assert_int_equal(ackq_new(&q), ACKQ_OK);
    assert_false(ackq_peek(q, &v, &s));
    for (uint64_t c = 1; c <= 10; c++) {
        int want = c == 1 ? ACKQ_OK : ACKQ_REPLACED;

        assert_int_equal(ackq_put(q, "bus-b", c * 10), want);
        assert_int_equal(ackq_put(q, "bus-a", c * 100), want);
        assert_int_equal(ackq_put(q, "bus-c", c), want);
    }
    assert_int_equal(ackq_len(q), 3);
    assert_int_equal(ackq_replaced(q), 27);
    pop_expect(q, "bus-b", 100);
    pop_expect(q, "bus-a", 1000);
    pop_expect(q, "bus-c", 10);
    assert_int_equal(ackq_len(q), 0);
    assert_false(ackq_peek(q, &v, &s));
    ackq_free(q);
}

/* A waiting ack never goes back: a lower watermark reported later (two
 * statements' answers in either order) leaves the higher one. */
static void test_never_lower_while_waiting(void **state)
{
    struct ackq *q;

    (void)state;
    assert_int_equal(ackq_new(&q), ACKQ_OK);
    assert_int_equal(ackq_put(q, "v1", 50), ACKQ_OK);
    assert_int_equal(ackq_put(q, "v1", 40), ACKQ_REPLACED);
    pop_expect(q, "v1", 50);
    ackq_free(q);
}

/* Once handed out, the vehicle's next ack waits again, at the tail. */
static void test_after_pop_queued_again(void **state)
{
    struct ackq *q;

    (void)state;
    assert_int_equal(ackq_new(&q), ACKQ_OK);
    assert_int_equal(ackq_put(q, "v1", 1), ACKQ_OK);
    assert_int_equal(ackq_put(q, "v2", 1), ACKQ_OK);
    pop_expect(q, "v1", 1);
    assert_int_equal(ackq_put(q, "v1", 2), ACKQ_OK);
    assert_int_equal(ackq_len(q), 2);
    pop_expect(q, "v2", 1);
    pop_expect(q, "v1", 2);
    ackq_free(q);
}

/* 5,000 vehicles (the table and the ring grow several times while acks
 * wait, with the ring's head not at 0), then every one replaced: 5,000
 * acks, in order, each at its second seq. */
static void test_many_vehicles(void **state)
{
    struct ackq *q;
    char vid[32];

    (void)state;
    assert_int_equal(ackq_new(&q), ACKQ_OK);
    assert_int_equal(ackq_put(q, "first", 1), ACKQ_OK);
    pop_expect(q, "first", 1);
    for (int i = 0; i < 5000; i++) {
        snprintf(vid, sizeof vid, "bus-%d", i);
        assert_int_equal(ackq_put(q, vid, 1), ACKQ_OK);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(vid, sizeof vid, "bus-%d", i);
        assert_int_equal(ackq_put(q, vid, (uint64_t)i + 2), ACKQ_REPLACED);
    }
    assert_int_equal(ackq_len(q), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(vid, sizeof vid, "bus-%d", i);
        pop_expect(q, vid, (uint64_t)i + 2);
    }
    assert_int_equal(ackq_len(q), 0);
    ackq_free(q);
}

static void test_bad_vid(void **state)
{
    struct ackq *q;

    (void)state;
    assert_int_equal(ackq_new(&q), ACKQ_OK);
    assert_int_equal(ackq_put(q, "", 1), ACKQ_ERR_VID);
    assert_int_equal(ackq_put(q, "0123456789012345678901234567890123", 1),
                     ACKQ_ERR_VID);
    assert_int_equal(ackq_len(q), 0);
    ackq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_replaces),
        cmocka_unit_test(test_never_lower_while_waiting),
        cmocka_unit_test(test_after_pop_queued_again),
        cmocka_unit_test(test_many_vehicles),
        cmocka_unit_test(test_bad_vid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
