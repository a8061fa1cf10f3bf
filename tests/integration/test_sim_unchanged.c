/* test_sim_unchanged: shuttle-sim without --traffic writes the same ground
 * truth, byte for byte, as the simulator did before the traffic model
 * (tests/data/sim_truth_seed*.csv were written by shuttle-sim of commit
 * 6e34cf2); with --traffic the day changes, the same way every run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct harness_pg *pg;
static const char *work;

/* Run ARGV (its output to LOG) to the end; its exit code. */
static int run(char *const argv[], const char *log)
{
    struct harness_proc *p = harness_spawn(argv[0], argv, log);
    int rc;

    if (!p)
        return -1;
    rc = harness_wait(p, 120000);
    if (rc != 0)
        harness_log_tail(log, 20);
    return rc;
}

/* A database with the schema and deploy/gtfs, loaded by the backend. */
static int setup(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char dir[1024], dbopt[1100], log[1100];
    char *argv[6];

    (void)state;
    work = harness_tmpdir("sim-unchanged");
    pg = work ? harness_pg_start(1) : NULL;
    if (!pg)
        return -1;
    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : ".");
    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(pg));
    snprintf(log, sizeof log, "%s/load-gtfs.log", work);
    argv[0] = (char *)harness_bin("shuttle-backend");
    argv[1] = "-o";
    argv[2] = dbopt;
    argv[3] = "--load-gtfs";
    argv[4] = dir;
    argv[5] = NULL;
    return run(argv, log) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* Run shuttle-sim as fast as it goes for DATE and SEED (plus EXTRA, up to
 * four arguments) writing its truth to OUT; its summary goes to OUT.log. */
static int sim(const char *date, const char *seed, const char *const *extra,
               const char *out)
{
    char log[1100];
    char *argv[20];
    int n = 0;

    snprintf(log, sizeof log, "%s.log", out);
    argv[n++] = (char *)harness_bin("shuttle-sim");
    argv[n++] = "--database";
    argv[n++] = (char *)harness_pg_conninfo(pg);
    argv[n++] = "--date";
    argv[n++] = (char *)date;
    argv[n++] = "--seed";
    argv[n++] = (char *)seed;
    argv[n++] = "--speed";
    argv[n++] = "0";
    argv[n++] = "--quiet";
    argv[n++] = "--truth";
    argv[n++] = (char *)out;
    for (int i = 0; extra && extra[i] && i < 4; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    return run(argv, log);
}

/* The whole of file PATH (malloc'd, NUL-terminated), *LEN its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
        fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, fp) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;

    if (!same)
        fprintf(stderr, "%s (%zu bytes) differs from %s (%zu bytes)\n", a, la,
                b, lb);
    free(x);
    free(y);
    return same;
}

/* The days the goldens hold: a date (the day's randomness from it) and a
 * seed, one with --fixed-seed. */
static const struct {
    const char *date, *seed, *fixed;
} days[] = {
    {"2026-03-02", "1", NULL},
    {"2026-03-03", "7", NULL},
    {"2026-06-15", "42", "--fixed-seed"},
};

static void test_off_is_unchanged(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    /* SHUTTLE_SIM_GOLDEN_WRITE=1 with SHUTTLE_BIN_DIR at the old build
     * writes the goldens instead (how they were made). */
    int write = getenv("SHUTTLE_SIM_GOLDEN_WRITE") != NULL;

    (void)state;
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        char out[1024], gold[1024];
        const char *extra[] = {days[i].fixed, NULL};
        const char *off[] = {"--traffic", "off", days[i].fixed, NULL};

        snprintf(gold, sizeof gold, "%s/tests/data/sim_truth_seed%s.csv",
                 src ? src : ".", days[i].seed);
        if (write) {
            assert_int_equal(sim(days[i].date, days[i].seed, extra, gold), 0);
            continue;
        }
        snprintf(out, sizeof out, "%s/default-%zu.csv", work, i);
        assert_int_equal(sim(days[i].date, days[i].seed, extra, out), 0);
        assert_true(same_file(out, gold));
        /* --traffic off spelt out is the same as not asking */
        snprintf(out, sizeof out, "%s/off-%zu.csv", work, i);
        assert_int_equal(sim(days[i].date, days[i].seed, off, out), 0);
        assert_true(same_file(out, gold));
    }
}

/* --traffic normal: another day than off, the same one twice; with an
 * incident yet another, and the summary says where the incident was. */
static void test_traffic_on(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    const char *on[] = {"--traffic", "normal", NULL};
    const char *inc[] = {"--traffic", "normal", "--incident", "random", NULL};
    char gold[1024], a[1024], b[1024], c[1024], log[1100];
    size_t n = 0;
    char *sum;

    (void)state;
    if (getenv("SHUTTLE_SIM_GOLDEN_WRITE"))
        skip();
    snprintf(gold, sizeof gold, "%s/tests/data/sim_truth_seed1.csv",
             src ? src : ".");
    snprintf(a, sizeof a, "%s/on-a.csv", work);
    snprintf(b, sizeof b, "%s/on-b.csv", work);
    snprintf(c, sizeof c, "%s/inc.csv", work);
    assert_int_equal(sim(days[0].date, days[0].seed, on, a), 0);
    assert_int_equal(sim(days[0].date, days[0].seed, on, b), 0);
    assert_int_equal(sim(days[0].date, days[0].seed, inc, c), 0);
    assert_true(same_file(a, b));
    fprintf(stderr, "(two differences expected next)\n");
    assert_false(same_file(a, gold));
    assert_false(same_file(a, c));
    snprintf(log, sizeof log, "%s.log", c);
    sum = slurp(log, &n);
    assert_non_null(sum);
    assert_non_null(strstr(sum, "traffic=normal\n"));
    assert_non_null(strstr(sum, "incident="));
    free(sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_is_unchanged),
        cmocka_unit_test(test_traffic_on),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
