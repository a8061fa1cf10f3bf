/* Unit tests of onboard/held.c: counts waiting for a time survive a
 * restart in the same boot, are reported lost from another boot, and the
 * file never holds half a write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "held.h"

#define BOOT "6c1d7e2a-0000-4000-8000-000000000001"

static int setup(void **state)
{
    char *dir = strdup("/tmp/test_held-XXXXXX");

    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf %s", (char *)*state);
    if (system(cmd) != 0)
        return -1;
    free(*state);
    return 0;
}

static struct wire_record count_at(int64_t t_ms, unsigned boarded)
{
    struct wire_record r;

    wire_count_init(&r);
    r.t_ms = t_ms;
    r.time_source = WIRE_TIME_SYSTEM;
    r.u.count.door = 1;
    r.u.count.boarded = boarded;
    r.u.count.door_open_ms = t_ms - 2000;
    r.u.count.door_close_ms = t_ms;
    return r;
}

static bool exists(const char *dir, const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void test_survives_restart(void **state)
{
    const char *dir = *state;
    struct held *h;
    unsigned lost = 9;

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(lost, 0);
    assert_int_equal(held_count(h), 0);
    for (unsigned i = 0; i < 3; i++) {
        struct wire_record r = count_at(864000000 + i * 1000, i + 1);

        assert_int_equal(held_add(h, &r, 1000 + i), HELD_OK);
    }
    assert_true(exists(dir, "held"));
    assert_false(exists(dir, "held.tmp"));
    held_free(h); /* as a kill would leave it */

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(lost, 0);
    assert_int_equal(held_count(h), 3);
    for (unsigned i = 0; i < 3; i++) {
        const struct held_entry *e = held_get(h, i);

        assert_int_equal(e->r.t_ms, 864000000 + i * 1000);
        assert_int_equal(e->r.u.count.boarded, i + 1);
        assert_int_equal(e->wall_minus_mono, 1000 + i);
    }
    assert_null(held_get(h, 3));
    assert_int_equal(held_clear(h), HELD_OK);
    assert_false(exists(dir, "held"));
    held_free(h);

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(held_count(h), 0);
    held_free(h);
}

static void test_other_boot_lost(void **state)
{
    const char *dir = *state;
    struct wire_record r = count_at(864000000, 4);
    struct held *h;
    unsigned lost;

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(held_add(h, &r, 5), HELD_OK);
    assert_int_equal(held_add(h, &r, 6), HELD_OK);
    held_free(h);
    /* A power cut: the monotonic clock started again; the times are lost,
     * and the caller is told how many. */
    assert_int_equal(held_open(dir, "another-boot", &h, &lost), HELD_OK);
    assert_int_equal(lost, 2);
    assert_int_equal(held_count(h), 0);
    assert_false(exists(dir, "held"));
    held_free(h);
    /* Without a boot id nothing can be trusted across a restart. */
    assert_int_equal(held_open(dir, "", &h, &lost), HELD_OK);
    assert_int_equal(held_add(h, &r, 5), HELD_OK);
    held_free(h);
    assert_int_equal(held_open(dir, "", &h, &lost), HELD_OK);
    assert_int_equal(lost, 1);
    assert_int_equal(held_count(h), 0);
    held_free(h);
}

static void test_full_and_garbage(void **state)
{
    const char *dir = *state;
    struct wire_record r = count_at(864000000, 1);
    struct held *h;
    unsigned lost;
    char path[256];
    FILE *fp;

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    for (int i = 0; i < HELD_MAX; i++)
        assert_int_equal(held_add(h, &r, i), HELD_OK);
    assert_int_equal(held_add(h, &r, 0), HELD_ERR_FULL);
    assert_int_equal(held_count(h), HELD_MAX);
    held_free(h);
    /* A file this build cannot read is one count lost, not a crash. */
    snprintf(path, sizeof path, "%s/held", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not a held file", fp);
    fclose(fp);
    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(lost, 1);
    assert_int_equal(held_count(h), 0);
    held_free(h);
}

/* The mark of a release in progress survives a restart, and dropping the
 * ones already journaled keeps the rest in order. */
static void test_release_mark(void **state)
{
    const char *dir = *state;
    struct held *h;
    unsigned lost;

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    for (unsigned i = 0; i < 3; i++) {
        struct wire_record r = count_at(864000000 + i * 1000, i + 1);

        assert_int_equal(held_add(h, &r, 0), HELD_OK);
    }
    assert_int_equal(held_release_from(h), 0);
    assert_int_equal(held_release_begin(h, 1234567), HELD_OK);
    held_free(h); /* a crash while journaling them */

    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(held_count(h), 3);
    assert_int_equal(held_release_from(h), 1234567);
    assert_int_equal(held_drop(h, 2), HELD_OK); /* two made it in */
    assert_int_equal(held_count(h), 1);
    assert_int_equal(held_get(h, 0)->r.u.count.boarded, 3);
    assert_int_equal(held_release_from(h), 0);
    held_free(h);
    assert_int_equal(held_open(dir, BOOT, &h, &lost), HELD_OK);
    assert_int_equal(held_count(h), 1);
    assert_int_equal(held_release_from(h), 0);
    assert_int_equal(held_drop(h, 1), HELD_OK); /* none left: no file */
    assert_false(exists(dir, "held"));
    held_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_boot_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_mark, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
