/* Unit tests of backend/metrics: the Prometheus text exposition writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static int setup(void **state)
{
    *state = metrics_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    metrics_free(*state);
    return 0;
}

/* A whole small exposition, byte for byte: HELP/TYPE once per family,
 * escaping in HELP and in label values, cumulative buckets ending at +Inf,
 * _sum and _count with the same labels. */
static void test_exposition(void **state)
{
    struct metrics_buf *b = *state;
    static const struct metrics_label decode[] = {{"reason", "decode"},
                                                  {NULL, NULL}};
    static const struct metrics_label nasty[] = {{"reason", "to\"o\\big\nx"},
                                                 {NULL, NULL}};
    static const struct metrics_label db[] = {{"db", "main"}, {NULL, NULL}};
    static const double bounds[] = {0.25, 1, 4};
    static const double one[] = {1};
    struct metrics_hist h, empty;
    static const char want[] =
        "# HELP x_rejected_total refused \\\\ messages\\nby \"reason\"\n"
        "# TYPE x_rejected_total counter\n"
        "x_rejected_total{reason=\"decode\"} 3\n"
        "x_rejected_total{reason=\"to\\\"o\\\\big\\nx\"} 18446744073709551615\n"
        "# TYPE x_up gauge\n"
        "x_up 1\n"
        "# HELP x_ratio ratio\n"
        "# TYPE x_ratio gauge\n"
        "x_ratio 0.005\n"
        "# HELP x_seconds commit time\n"
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{db=\"main\",le=\"0.25\"} 2\n"
        "x_seconds_bucket{db=\"main\",le=\"1\"} 3\n"
        "x_seconds_bucket{db=\"main\",le=\"4\"} 4\n"
        "x_seconds_bucket{db=\"main\",le=\"+Inf\"} 5\n"
        "x_seconds_sum{db=\"main\"} 11.875\n"
        "x_seconds_count{db=\"main\"} 5\n"
        "# TYPE y histogram\n"
        "y_bucket{le=\"1\"} 0\n"
        "y_bucket{le=\"+Inf\"} 0\n"
        "y_sum 0\n"
        "y_count 0\n";
    size_t len;

    assert_int_equal(metrics_hist_init(&h, bounds, 3), METRICS_OK);
    /* 0.25 sits on a bound: buckets are "less than or equal". */
    metrics_hist_observe(&h, 0.125);
    metrics_hist_observe(&h, 0.25);
    metrics_hist_observe(&h, 0.5);
    metrics_hist_observe(&h, 3);
    metrics_hist_observe(&h, 8);
    assert_int_equal(metrics_hist_init(&empty, one, 1), METRICS_OK);

    metrics_counter(b, "x_rejected_total", "refused \\ messages\nby \"reason\"",
                    decode, 3);
    metrics_counter(b, "x_rejected_total", "not written twice", nasty,
                    UINT64_MAX);
    metrics_gauge(b, "x_up", NULL, NULL, 1);
    metrics_gauge(b, "x_ratio", "ratio", NULL, 0.005);
    metrics_histogram(b, "x_seconds", "commit time", db, &h);
    metrics_histogram(b, "y", NULL, NULL, &empty);

    assert_int_equal(metrics_error(b), METRICS_OK);
    assert_string_equal(metrics_text(b, &len), want);
    assert_int_equal(len, strlen(want));
}

static void test_numbers(void **state)
{
    struct metrics_buf *b = *state;
    static const struct metrics_label l[] = {{"k", "v"}, {NULL, NULL}};

    metrics_gauge(b, "g_nan", NULL, NULL, NAN);
    metrics_gauge(b, "g_inf", NULL, NULL, INFINITY);
    metrics_gauge(b, "g_ninf", NULL, NULL, -INFINITY);
    metrics_gauge(b, "g_time", NULL, l, 1700000000.123);
    metrics_gauge(b, "g_neg", NULL, NULL, -2.5);
    metrics_gauge(b, "g_tenth", NULL, NULL, 0.1);
    assert_int_equal(metrics_error(b), METRICS_OK);
    assert_string_equal(metrics_text(b, NULL), "# TYPE g_nan gauge\n"
                                               "g_nan NaN\n"
                                               "# TYPE g_inf gauge\n"
                                               "g_inf +Inf\n"
                                               "# TYPE g_ninf gauge\n"
                                               "g_ninf -Inf\n"
                                               "# TYPE g_time gauge\n"
                                               "g_time{k=\"v\"} "
                                               "1700000000.123\n"
                                               "# TYPE g_neg gauge\n"
                                               "g_neg -2.5\n"
                                               "# TYPE g_tenth gauge\n"
                                               "g_tenth 0.1\n");
}

/* A family split in two would make Prometheus refuse the whole scrape: the
 * second part is skipped and the error kept. */
static void test_split_family(void **state)
{
    struct metrics_buf *b = *state;

    metrics_counter(b, "a_total", NULL, NULL, 1);
    metrics_counter(b, "b_total", NULL, NULL, 2);
    metrics_counter(b, "a_total", NULL, NULL, 3);
    assert_int_equal(metrics_error(b), METRICS_ERR_ORDER);
    assert_string_equal(metrics_text(b, NULL), "# TYPE a_total counter\n"
                                               "a_total 1\n"
                                               "# TYPE b_total counter\n"
                                               "b_total 2\n");
}

static void test_type_change(void **state)
{
    struct metrics_buf *b = *state;

    metrics_counter(b, "a", NULL, NULL, 1);
    metrics_gauge(b, "a", NULL, NULL, 2);
    assert_int_equal(metrics_error(b), METRICS_ERR_ORDER);
    assert_string_equal(metrics_text(b, NULL), "# TYPE a counter\na 1\n");
}

static void test_bad_names(void **state)
{
    struct metrics_buf *b = *state;
    static const struct metrics_label dash[] = {{"bad-label", "x"},
                                                {NULL, NULL}};
    static const struct metrics_label reserved[] = {{"__name__", "x"},
                                                    {NULL, NULL}};
    static const struct metrics_label le[] = {{"le", "1"}, {NULL, NULL}};
    static const struct metrics_label novalue[] = {{"k", NULL}, {NULL, NULL}};
    static const double one[] = {1};
    struct metrics_hist h;

    assert_int_equal(metrics_hist_init(&h, one, 1), METRICS_OK);
    metrics_counter(b, "9starts_with_digit", NULL, NULL, 1);
    metrics_counter(b, "has space", NULL, NULL, 1);
    metrics_counter(b, "", NULL, NULL, 1);
    metrics_counter(b, "ok_total", NULL, dash, 1);
    metrics_counter(b, "ok_total", NULL, reserved, 1);
    metrics_counter(b, "ok_total", NULL, novalue, 1);
    metrics_histogram(b, "h", NULL, le, &h);
    assert_int_equal(metrics_error(b), METRICS_ERR_NAME);
    /* None of them half-written; good samples still go out. "le" is a
     * fine label on a gauge, and colons are allowed in metric names. */
    metrics_gauge(b, "ns:ok", NULL, le, 1);
    assert_string_equal(metrics_text(b, NULL),
                        "# TYPE ns:ok gauge\nns:ok{le=\"1\"} 1\n");
}

static void test_hist_init(void **state)
{
    static const double falling[] = {1, 0.5};
    static const double equal[] = {1, 1};
    static const double nan_bound[] = {1, NAN};
    static const double inf_bound[] = {1, INFINITY};
    double many[METRICS_BUCKETS_MAX + 1];
    struct metrics_hist h;

    for (size_t i = 0; i < sizeof many / sizeof *many; i++)
        many[i] = (double)i;
    assert_int_equal(metrics_hist_init(&h, falling, 2), METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_hist_init(&h, equal, 2), METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_hist_init(&h, nan_bound, 2), METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_hist_init(&h, inf_bound, 2), METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_hist_init(&h, many, METRICS_BUCKETS_MAX + 1),
                     METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_hist_init(&h, many, METRICS_BUCKETS_MAX),
                     METRICS_OK);
    /* NaN is not counted, and does not poison the sum. */
    metrics_hist_observe(&h, NAN);
    metrics_hist_observe(&h, 100);
    assert_int_equal(h.count, 1);
    assert_int_equal(h.counts[METRICS_BUCKETS_MAX], 1);
    assert_true(h.sum == 100);
}

/* take hands the text over and the buffer starts again from nothing:
 * the next scrape writes HELP/TYPE again. */
static void test_take(void **state)
{
    struct metrics_buf *b = *state;
    size_t len;
    char *s;

    metrics_counter(b, "a_total", "help", NULL, 1);
    s = metrics_take(b, &len);
    assert_non_null(s);
    assert_string_equal(s, "# HELP a_total help\n"
                           "# TYPE a_total counter\na_total 1\n");
    assert_int_equal(len, strlen(s));
    free(s);
    assert_string_equal(metrics_text(b, &len), "");
    assert_int_equal(len, 0);
    metrics_counter(b, "a_total", "help", NULL, 2);
    assert_string_equal(metrics_text(b, NULL),
                        "# HELP a_total help\n"
                        "# TYPE a_total counter\na_total 2\n");
    s = metrics_take(b, NULL);
    free(s);
    s = metrics_take(b, &len); /* nothing written: "" still */
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
}

/* Many samples: the buffer grows past its first allocation intact. */
static void test_growth(void **state)
{
    struct metrics_buf *b = *state;
    struct metrics_label l[] = {{"vehicle", NULL}, {NULL, NULL}};
    char vid[32], line[96];
    const char *text;
    size_t len;

    for (int i = 0; i < 5000; i++) {
        snprintf(vid, sizeof vid, "bus-%04d", i);
        l[0].value = vid;
        metrics_gauge(b, "seen", NULL, l, i);
    }
    assert_int_equal(metrics_error(b), METRICS_OK);
    text = metrics_text(b, &len);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "seen{vehicle=\"bus-0000\"} 0\n"));
    snprintf(line, sizeof line, "\nseen{vehicle=\"bus-4999\"} 4999\n");
    assert_int_equal(strcmp(text + len - strlen(line), line), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exposition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test(test_hist_init),
        cmocka_unit_test_setup_teardown(test_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
