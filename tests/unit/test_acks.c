/* Unit tests of backend/ingest/acks: the watermark classifier, which says
 * whether a vehicle's staged seqs extend its watermark (the fast path) or
 * need the database's walk over pending_seqs. No PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "acks.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What acks_classify leaves in *watermark when it does not set it. */
#define UNTOUCHED 0xdeadbeefULL

static enum acks_path classify(bool known, uint64_t acked, uint64_t held,
                               uint64_t *seqs, size_t n, uint64_t *w)
{
    *w = UNTOUCHED;
    return acks_classify(known, acked, held, seqs, n, w);
}

static void test_extends_watermark(void **state)
{
    uint64_t s[] = {11, 12, 13}, one[] = {1}, w;

    (void)state;
    assert_int_equal(classify(true, 10, 0, s, N(s), &w), ACKS_FAST);
    assert_int_equal(w, 13);
    /* A vehicle whose watermark is 0 (known, nothing acked yet). */
    assert_int_equal(classify(true, 0, 0, one, N(one), &w), ACKS_FAST);
    assert_int_equal(w, 1);
    /* Nothing staged (an empty batch): the watermark stays. */
    assert_int_equal(classify(true, 10, 0, NULL, 0, &w), ACKS_FAST);
    assert_int_equal(w, 10);
}

static void test_gap(void **state)
{
    uint64_t above[] = {12, 13}, inside[] = {11, 12, 14}, w;

    (void)state;
    /* 11 missing: only the walk may pass it (it may be in pending_seqs). */
    assert_int_equal(classify(true, 10, 0, above, N(above), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
    assert_int_equal(classify(true, 10, 0, inside, N(inside), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
}

static void test_out_of_order(void **state)
{
    uint64_t s[] = {13, 11, 12}, gap[] = {14, 11, 12}, w;

    (void)state;
    /* Order within a commit carries no meaning: no gap, fast. */
    assert_int_equal(classify(true, 10, 0, s, N(s), &w), ACKS_FAST);
    assert_int_equal(w, 13);
    assert_int_equal(classify(true, 10, 0, gap, N(gap), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
}

static void test_repeated_seqs(void **state)
{
    uint64_t twice[] = {12, 11, 12, 11}, resent[] = {5, 10, 11},
             only_old[] = {3, 4, 4}, w;

    (void)state;
    /* The same record staged twice (a re-send within one commit). */
    assert_int_equal(classify(true, 10, 0, twice, N(twice), &w), ACKS_FAST);
    assert_int_equal(w, 12);
    /* Re-sends at or below the watermark are already committed. */
    assert_int_equal(classify(true, 10, 0, resent, N(resent), &w), ACKS_FAST);
    assert_int_equal(w, 11);
    assert_int_equal(classify(true, 10, 0, only_old, N(only_old), &w),
                     ACKS_FAST);
    assert_int_equal(w, 10);
}

static void test_unknown_vehicle(void **state)
{
    uint64_t s[] = {1, 2, 3}, w;

    (void)state;
    /* Nothing read back yet: what is committed is the database's to say,
     * whatever `acked` holds. */
    assert_int_equal(classify(false, 0, 0, s, N(s), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
    assert_int_equal(classify(false, 0, 0, NULL, 0, &w), ACKS_SLOW);
    assert_int_equal(classify(false, 100, 0, s, N(s), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
}

static void test_settled_dead_letter_seqs(void **state)
{
    /* 11 and 13 stored, 12 refused as a dead letter and settled: the
     * writer stages all three as the vehicle's seqs. */
    uint64_t settled[] = {11, 13, 12}, unsettled[] = {11, 13},
             only_dead[] = {11}, w;

    (void)state;
    assert_int_equal(classify(true, 10, 0, settled, N(settled), &w), ACKS_FAST);
    assert_int_equal(w, 13);
    /* Without the settled seq there is a gap at 12. */
    assert_int_equal(classify(true, 10, 0, unsettled, N(unsettled), &w),
                     ACKS_SLOW);
    /* A batch whose only record was refused still moves the watermark. */
    assert_int_equal(classify(true, 10, 0, only_dead, N(only_dead), &w),
                     ACKS_FAST);
    assert_int_equal(w, 11);
}

static void test_oldest_held_claims(void **state)
{
    uint64_t s[] = {11, 12}, far[] = {20, 21}, w;

    (void)state;
    /* A claim at or below watermark + 1 skips nothing. */
    assert_int_equal(classify(true, 10, 11, s, N(s), &w), ACKS_FAST);
    assert_int_equal(w, 12);
    assert_int_equal(classify(true, 10, 5, s, N(s), &w), ACKS_FAST);
    assert_int_equal(w, 12);
    assert_int_equal(classify(true, 10, 1, s, N(s), &w), ACKS_FAST);
    assert_int_equal(w, 12);
    /* A claim that would skip 11: checked against the bus's status, which
     * only the walk does, even though the seqs themselves extend it. */
    assert_int_equal(classify(true, 10, 12, s, N(s), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
    /* A bus that gave up everything below 20 (spool full): slow too. */
    assert_int_equal(classify(true, 10, 20, far, N(far), &w), ACKS_SLOW);
    assert_int_equal(w, UNTOUCHED);
    assert_int_equal(classify(true, 10, 20, NULL, 0, &w), ACKS_SLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extends_watermark),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_repeated_seqs),
        cmocka_unit_test(test_unknown_vehicle),
        cmocka_unit_test(test_settled_dead_letter_seqs),
        cmocka_unit_test(test_oldest_held_claims),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
