/* Unit tests of backend/fleet: the per-vehicle table behind /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fleet.h"

static void test_sorted_and_updated(void **state)
{
    struct fleet *f;
    static const char *const vids[] = {"bus-7", "bus-10", "bus-1", "a",
                                       "bus-7"};

    assert_int_equal(fleet_new(10, &f), FLEET_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fleet_seen(f, vids[i], 1000 * (i + 1)), FLEET_OK);
    assert_int_equal(fleet_count(f), 4);
    /* strcmp order, whatever order they arrived in. */
    assert_string_equal(fleet_at(f, 0)->vid, "a");
    assert_string_equal(fleet_at(f, 1)->vid, "bus-1");
    assert_string_equal(fleet_at(f, 2)->vid, "bus-10");
    assert_string_equal(fleet_at(f, 3)->vid, "bus-7");
    assert_null(fleet_at(f, 4));
    /* bus-7 seen twice: the later time wins, and time does not go back. */
    assert_int_equal(fleet_at(f, 3)->seen_ms, 5000);
    assert_int_equal(fleet_seen(f, "bus-7", 10), FLEET_OK);
    assert_int_equal(fleet_at(f, 3)->seen_ms, 5000);
    assert_false(fleet_at(f, 3)->acked);

    assert_int_equal(fleet_acked(f, "bus-7", 42), FLEET_OK);
    assert_true(fleet_at(f, 3)->acked);
    assert_int_equal(fleet_at(f, 3)->acked_seq, 42);
    assert_false(fleet_at(f, 2)->acked);
    assert_int_equal(fleet_acked(f, "bus-8", 1), FLEET_ERR_UNKNOWN);
    assert_int_equal(fleet_count(f), 4);
    fleet_free(f);
}

static void test_full_and_bad(void **state)
{
    char vid[40];
    struct fleet *f;

    assert_int_equal(fleet_new(100, &f), FLEET_OK);
    /* Reverse order: every insert lands at the front (memmove path), and
     * the array grows past its first allocation. */
    for (int i = 99; i >= 0; i--) {
        snprintf(vid, sizeof vid, "v%03d", i);
        assert_int_equal(fleet_seen(f, vid, i), FLEET_OK);
    }
    assert_int_equal(fleet_count(f), 100);
    for (int i = 0; i < 100; i++) {
        snprintf(vid, sizeof vid, "v%03d", i);
        assert_string_equal(fleet_at(f, (size_t)i)->vid, vid);
        assert_int_equal(fleet_at(f, (size_t)i)->seen_ms, i);
    }
    assert_int_equal(fleet_seen(f, "new", 1), FLEET_ERR_FULL);
    assert_int_equal(fleet_seen(f, "new2", 1), FLEET_ERR_FULL);
    assert_int_equal(fleet_refused(f), 2);
    /* Known vehicles still update when full. */
    assert_int_equal(fleet_seen(f, "v050", 1000), FLEET_OK);
    assert_int_equal(fleet_at(f, 50)->seen_ms, 1000);

    memset(vid, 'x', 33);
    vid[33] = '\0';
    assert_int_equal(fleet_seen(f, vid, 1), FLEET_ERR_VID);
    assert_int_equal(fleet_seen(f, "", 1), FLEET_ERR_VID);
    assert_int_equal(fleet_acked(f, NULL, 1), FLEET_ERR_VID);
    assert_int_equal(fleet_refused(f), 2);
    fleet_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_updated),
        cmocka_unit_test(test_full_and_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
