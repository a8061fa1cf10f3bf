/* Unit tests of shuttle-report's formatting pieces: display width of
 * Hangul, CSV quoting, the JSON documents (parsed back with jansson),
 * UTF-8 repair, dates, thresholds, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report_fmt.h"
#include "report_query.h"
#include "report_text.h"

/* Run WRITE(fp, s) into memory; the result is the caller's to free. */
static char *capture(void (*write)(FILE *, const char *), const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    write(fp, s);
    fclose(fp);
    return buf;
}

static void check_out(void (*write)(FILE *, const char *), const char *in,
                      const char *want)
{
    char *got = capture(write, in);

    assert_string_equal(got, want);
    free(got);
}

static void test_width(void **state)
{
    assert_int_equal(report_text_width(""), 0);
    assert_int_equal(report_text_width("abc"), 3);
    assert_int_equal(report_text_width("검암역"), 6); /* 3 syllables */
    assert_int_equal(report_text_width("검단산단 동문"),
                     13); /* 6 x 2 + space */
    assert_int_equal(report_text_width("R1 출근"), 7);
    assert_int_equal(report_text_width("노선·방향별"),
                     11); /* U+00B7 is narrow */
    assert_int_equal(report_text_width("東京"), 4);
    assert_int_equal(report_text_width("\xef\xbc\xa1"), 2); /* fullwidth A */
    assert_int_equal(report_text_width("e\xcc\x81"), 1);    /* e + combining */
    /* Conjoining jamo: initial (wide) + medial + final (zero) = one cell
     * of two columns, as the precomposed syllable. */
    assert_int_equal(report_text_width("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"),
                     2);
    /* Invalid bytes are one column each, never a crash or a skip. */
    assert_int_equal(report_text_width("a\xff"
                                       "b"),
                     3);
    assert_int_equal(report_text_width("\xea\xb0"), 2); /* truncated 3-byte */
    assert_int_equal(report_text_cp_width(0xac00), 2);  /* 가 */
    assert_int_equal(report_text_cp_width(0xd7a3), 2);  /* 힣 */
    assert_int_equal(report_text_cp_width(0xd7a4), 1);
    assert_int_equal(report_text_cp_width('\t'), 0);
}

static void pad_left6(FILE *fp, const char *s)
{
    report_text_pad(fp, s, 6, 0);
}

static void pad_right6(FILE *fp, const char *s)
{
    report_text_pad(fp, s, 6, 1);
}

static void test_pad(void **state)
{
    check_out(pad_left6, "검암", "검암  ");
    check_out(pad_right6, "검암", "  검암");
    check_out(pad_left6, "ab", "ab    ");
    check_out(pad_right6, "1,339", " 1,339");
    check_out(pad_left6, "검단산단", "검단산단"); /* wider: whole */
}

static void test_csv(void **state)
{
    check_out(report_text_csv_field, "plain", "plain");
    check_out(report_text_csv_field, "", "");
    check_out(report_text_csv_field, "검암역", "검암역");
    check_out(report_text_csv_field, "Geomam Station (AREX, Incheon Line 2)",
              "\"Geomam Station (AREX, Incheon Line 2)\"");
    check_out(report_text_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\"");
    check_out(report_text_csv_field, "\"", "\"\"\"\"");
    check_out(report_text_csv_field, "two\nlines", "\"two\nlines\"");
    check_out(report_text_csv_field, "cr\rhere", "\"cr\rhere\"");
    check_out(report_text_csv_field, " lead", "\" lead\"");
    check_out(report_text_csv_field, "trail ", "\"trail \"");
    check_out(report_text_csv_field, "in side", "in side");
}

/* ---- JSON: written by jansson, read back by jansson ----------------- */

/* Strings a feed or a config could hold that a hand-made writer gets
 * wrong: quotes, backslashes, every kind of control character, a 4-byte
 * emoji, "</script>", Hangul. */
static const char hostile[] = "\"q\" \\ b\\\\ /\b\f\n\r\t\x01\x1f\x7f "
                              "\xf0\x9f\x9a\x8c </script> 검암역";

/* A stop name that is not UTF-8: a stray byte, an overlong '/', a
 * truncated 3-byte sequence and a UTF-16 surrogate; and what the JSON
 * must hold instead (each bad byte one U+FFFD, the good ones kept). */
static const char bad_utf8[] = "a\xff"
                               "b\xc0\xaf"
                               "c\xea\xb0"
                               "d\xed\xa0\x80";
#define FFFD "\xef\xbf\xbd"
static const char bad_utf8_fixed[] =
    "a" FFFD "b" FFFD FFFD "c" FFFD FFFD "d" FFFD FFFD FFFD;

/* The daily JSON of D parsed back (strictly: no duplicate keys, nothing
 * after the document but its newline); the caller releases it. */
static json_t *daily_json(const struct report_query_daily *d, int english)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    json_error_t err;
    json_t *doc;

    assert_non_null(fp);
    assert_int_equal(report_fmt_daily_json(fp, d, english), 0);
    fclose(fp);
    assert_true(len > 1);
    assert_int_equal(buf[len - 1], '\n');
    doc = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL)
        fail_msg("not JSON: %s at %d:%d", err.text, err.line, err.column);
    free(buf);
    return doc;
}

static json_t *member(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL)
        fail_msg("no member \"%s\"", key);
    return v;
}

static void expect_int(const json_t *o, const char *key, long long want)
{
    json_t *v = member(o, key);

    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    assert_int_equal(json_integer_value(v), want);
}

/* A ratio: a JSON real (never an integer, even when whole) equal to the
 * figure rounded to 0.1 as the text and CSV show it. */
static void expect_real(const json_t *o, const char *key, double want)
{
    json_t *v = member(o, key);

    if (!json_is_real(v))
        fail_msg("\"%s\" is not a real", key);
    if (json_real_value(v) != want)
        fail_msg("\"%s\" is %.17g, want %.17g", key, json_real_value(v), want);
}

static void expect_str(const json_t *o, const char *key, const char *want)
{
    json_t *v = member(o, key);

    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    assert_string_equal(json_string_value(v), want);
}

static void expect_null(const json_t *o, const char *key)
{
    if (!json_is_null(member(o, key)))
        fail_msg("\"%s\" is not null", key);
}

static void expect_bool(const json_t *o, const char *key, int want)
{
    json_t *v = member(o, key);

    if (!json_is_boolean(v))
        fail_msg("\"%s\" is not a boolean", key);
    assert_int_equal(json_is_true(v), want);
}

/* A day holding the hostile strings, with a different figure in every
 * field so that a value written under the wrong key is caught. */
struct day_fixture {
    struct report_query_route route;
    struct report_query_run runs[2];
    struct report_query_stop stops[2];
    struct report_query_eta eta;
    struct report_query_daily d;
};

static void day_fixture_init(struct day_fixture *f)
{
    struct report_query_route route = {
        .route_id = (char *)hostile,
        .route_name = (char *)hostile,
        .direction = 1,
        .runs = 26,
        .operated = 23,
        .partial = 1,
        .missed = 2,
        .late = 3,
        .crowded = 4,
        .boarded = 701,
        .alighted = 699,
    };
    struct report_query_run runs[2] = {
        {
            .trip_id = (char *)hostile,
            .route_id = "R1",
            .route_name = "1",
            .vehicle_id = "bus\"01",
            .direction = 0,
            .status = REPORT_QUERY_PARTIAL,
            .sched_start = "07:30",
            .actual_start = "07:37",
            .has_delay = 1,
            .delay_s = -45,
            .boarded = 44,
            .alighted = 31,
            .has_peak = 1,
            .peak_load = 44,
            .load_pct = 97.777, /* shown as 97.8 */
            .crowded = 1,
            .late = 0,
            .counter_suspect = 1,
        },
        {
            .trip_id = "R1-IN-0900",
            .route_id = "R1",
            .route_name = "1",
            .vehicle_id = "",
            .direction = -1,
            .status = REPORT_QUERY_MISSED,
            .sched_start = "09:00",
            .actual_start = "",
        },
    };
    struct report_query_stop stops[2] = {
        {.stop_id = "GA\\01",
         .name = (char *)hostile,
         .visits = 17,
         .boarded = 123,
         .alighted = 45},
        {.stop_id = "S2",
         .name = (char *)bad_utf8,
         .visits = 1,
         .boarded = 2,
         .alighted = 3},
    };
    struct report_query_eta eta = {
        .horizon_s = 300,
        .samples = 4,
        .mae_s = 40.0,
        .p90_s = 79.0,
        .bias_s = -20.0,
        .accurate = 2,
        .covered = 3,
        .accuracy_pct = 50.0,
        .coverage_pct = 75.0,
    };
    struct report_query_daily d;

    memset(&d, 0, sizeof d);
    strcpy(d.date, "2026-03-10");
    strcpy(d.built_at, "2026-03-11 02:15");
    d.p = (struct report_query_params){.target = 1500,
                                       .seats = 45,
                                       .crowded_pct = 90,
                                       .late_s = 300,
                                       .counter_pct = 20,
                                       .counter_slack = 4};
    d.boarded = 1339;
    d.alighted = 1320;
    d.unattributed = 12;
    d.runs_scheduled = 52;
    d.runs_operated = 49;
    d.runs_partial = 1;
    d.runs_missed = 2;
    d.pct_of_target = 89.3;
    d.runs_late = 3;
    d.runs_crowded = 2;
    d.runs_counter_suspect = 1;
    memset(f, 0, sizeof *f);
    f->route = route;
    memcpy(f->runs, runs, sizeof runs);
    memcpy(f->stops, stops, sizeof stops);
    f->eta = eta;
    d.routes = &f->route;
    d.nroutes = 1;
    d.runs = f->runs;
    d.nruns = 2;
    d.stops = f->stops;
    d.nstops = 2;
    for (int h = 0; h < 24; h++) {
        d.hour_boarded[h] = 100 + h;
        d.hour_alighted[h] = 200 + 2 * h;
    }
    d.eta = &f->eta;
    d.neta = 1;
    f->d = d;
}

static void test_json_daily(void **state)
{
    struct day_fixture f;
    const struct report_query_daily *d = &f.d;
    json_t *doc, *a, *o;

    day_fixture_init(&f);
    doc = daily_json(d, 1);
    expect_str(doc, "report", "daily");
    expect_str(doc, "date", "2026-03-10");
    expect_str(doc, "built_at", "2026-03-11 02:15");
    expect_str(doc, "lang", "en");
    o = member(doc, "params");
    expect_int(o, "target_riders", 1500);
    expect_int(o, "seats", 45);
    expect_int(o, "crowded_pct", 90);
    expect_int(o, "late_s", 300);
    expect_int(o, "counter_pct", 20);
    expect_int(o, "counter_slack", 4);

    o = member(doc, "summary");
    expect_int(o, "boarded", 1339);
    expect_int(o, "target", 1500);
    expect_real(o, "pct_of_target", 89.3);
    expect_int(o, "alighted", 1320);
    expect_int(o, "unattributed_boarded", 12);
    expect_int(o, "runs_scheduled", 52);
    expect_int(o, "runs_operated", 49);
    expect_int(o, "runs_partial", 1);
    expect_int(o, "runs_missed", 2);
    expect_int(o, "runs_late", 3);
    expect_int(o, "runs_crowded", 2);
    expect_int(o, "runs_counter_suspect", 1);

    a = member(doc, "routes");
    assert_int_equal(json_array_size(a), 1);
    o = json_array_get(a, 0);
    expect_str(o, "route_id", hostile);
    expect_str(o, "route_name", hostile);
    expect_int(o, "direction", 1);
    expect_int(o, "runs", 26);
    expect_int(o, "operated", 23);
    expect_int(o, "partial", 1);
    expect_int(o, "missed", 2);
    expect_int(o, "late", 3);
    expect_int(o, "crowded", 4);
    expect_int(o, "boarded", 701);
    expect_int(o, "alighted", 699);

    a = member(doc, "runs");
    assert_int_equal(json_array_size(a), 2);
    o = json_array_get(a, 0);
    expect_str(o, "trip_id", hostile);
    expect_str(o, "route_id", "R1");
    expect_int(o, "direction", 0);
    expect_str(o, "status", "partial");
    expect_str(o, "scheduled_start", "07:30");
    expect_str(o, "actual_start", "07:37");
    expect_int(o, "delay_s", -45);
    expect_str(o, "vehicle_id", "bus\"01");
    expect_int(o, "boarded", 44);
    expect_int(o, "alighted", 31);
    expect_int(o, "peak_load", 44);
    expect_real(o, "load_pct", 97.8);
    expect_bool(o, "crowded", 1);
    expect_bool(o, "late", 0);
    expect_bool(o, "counter_suspect", 1);
    /* Did not run: no start, delay, vehicle or load, rather than zeros. */
    o = json_array_get(a, 1);
    expect_str(o, "status", "missed");
    expect_int(o, "direction", -1);
    expect_null(o, "actual_start");
    expect_null(o, "delay_s");
    expect_null(o, "vehicle_id");
    expect_null(o, "peak_load");
    expect_null(o, "load_pct");
    expect_int(o, "boarded", 0);
    expect_bool(o, "crowded", 0);

    a = member(doc, "stops");
    assert_int_equal(json_array_size(a), 2);
    o = json_array_get(a, 0);
    expect_str(o, "stop_id", "GA\\01");
    expect_str(o, "stop_name", hostile);
    expect_int(o, "stops_made", 17);
    expect_int(o, "boarded", 123);
    expect_int(o, "alighted", 45);
    /* Not UTF-8: jansson refuses it, the report shows U+FFFD instead of
     * failing the whole day. */
    o = json_array_get(a, 1);
    expect_str(o, "stop_name", bad_utf8_fixed);
    expect_int(o, "boarded", 2);

    a = member(doc, "hourly");
    assert_int_equal(json_array_size(a), 24);
    for (int h = 0; h < 24; h++) {
        o = json_array_get(a, (size_t)h);
        expect_int(o, "hour", h);
        expect_int(o, "boarded", 100 + h);
        expect_int(o, "alighted", 200 + 2 * h);
    }

    a = member(doc, "prediction_accuracy");
    assert_int_equal(json_array_size(a), 1);
    o = json_array_get(a, 0);
    expect_int(o, "horizon_s", 300);
    expect_int(o, "samples", 4);
    expect_real(o, "mae_s", 40.0);
    expect_real(o, "p90_s", 79.0);
    expect_real(o, "bias_s", -20.0);
    expect_int(o, "accurate", 2);
    expect_real(o, "accuracy_pct", 50.0);
    expect_int(o, "covered", 3);
    expect_real(o, "coverage_pct", 75.0);
    assert_int_equal(json_object_size(doc), 11); /* nothing else */
    json_decref(doc);

    /* JSON has no NaN: a figure that is not a number is null, and the
     * document stays valid. */
    f.eta.bias_s = NAN;
    doc = daily_json(d, 0);
    expect_str(doc, "lang", "ko");
    expect_null(json_array_get(member(doc, "prediction_accuracy"), 0),
                "bias_s");
    json_decref(doc);
}

/* jansson's allocator for test_json_no_memory: allocation number FAIL_AT
 * (from 0; none when negative) fails, the others succeed; counts them all
 * and the live ones. */
static long alloc_fail_at = -1, alloc_count, alloc_live;

static void *counted_malloc(size_t n)
{
    void *p;

    if (alloc_count++ == alloc_fail_at)
        return NULL;
    p = malloc(n);
    alloc_live += p != NULL;
    return p;
}

static void counted_free(void *p)
{
    alloc_live -= p != NULL;
    free(p);
}

/* Write the daily JSON of D into *OUT (the caller's to free) with
 * allocation FAIL_AT failing; the writer's result. */
static int daily_json_failing(const struct report_query_daily *d, long fail_at,
                              char **out)
{
    size_t len = 0;
    FILE *fp = open_memstream(out, &len);
    int rc;

    assert_non_null(fp);
    alloc_fail_at = fail_at;
    alloc_count = alloc_live = 0;
    errno = 0;
    rc = report_fmt_daily_json(fp, d, 0);
    if (rc != 0)
        assert_int_equal(errno, ENOMEM);
    alloc_fail_at = -1;
    fclose(fp);
    assert_int_equal(alloc_live, 0); /* nothing leaked */
    return rc;
}

/* Each of the document's allocations failed in turn, one at a time: the
 * writer either says ENOMEM and writes nothing, or (when it could do
 * without) writes the whole document; never a document with a part
 * missing, which is what an unchecked allocation would give. */
static void test_json_no_memory(void **state)
{
    struct day_fixture f;
    char *want = NULL, *buf = NULL;
    long total, failed = 0;

    day_fixture_init(&f);
    json_set_alloc_funcs(counted_malloc, counted_free);
    assert_int_equal(daily_json_failing(&f.d, -1, &want), 0);
    total = alloc_count;
    /* A run alone is more than a dozen values. */
    assert_true(total > 100);
    for (long n = 0; n < total; n++) {
        if (daily_json_failing(&f.d, n, &buf) == 0)
            assert_string_equal(buf, want);
        else {
            assert_string_equal(buf, "");
            failed++;
        }
        free(buf);
        buf = NULL;
    }
    json_set_alloc_funcs(malloc, free);
    fprintf(stderr, "json: %ld allocations, %ld failures reported\n", total,
            failed);
    assert_true(failed > total / 2);
    free(want);
}

static void test_json_range(void **state)
{
    struct report_query_day days[3] = {
        {.date = "2026-03-08"}, /* never built */
        {.date = "2026-03-09",
         .built = 1,
         .boarded = 1400,
         .runs_scheduled = 52,
         .runs_operated = 51,
         .runs_partial = 1,
         .runs_missed = 0,
         .runs_late = 2,
         .pct_of_target = 93.3,
         .below_target = 1,
         .eta_samples = 4,
         .eta_mae_s = 40.0,
         .eta_accuracy_pct = 50.0},
        {.date = "2026-03-10",
         .built = 1,
         .boarded = 1600,
         .pct_of_target = 106.7,
         .below_target = 0},
    };
    struct report_query_range r;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;
    json_t *doc, *o, *a;

    memset(&r, 0, sizeof r);
    strcpy(r.from, "2026-03-08");
    strcpy(r.to, "2026-03-10");
    r.p.target = 1500;
    r.days = days;
    r.ndays = 3;
    r.days_built = 2;
    r.days_below = 1;
    r.boarded_total = 5000000000LL; /* more than an int holds */
    r.boarded_mean = 1500.0;

    fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(report_fmt_range_json(fp, &r, 0), 0);
    fclose(fp);
    doc = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(doc);
    free(buf);

    expect_str(doc, "report", "range");
    expect_str(doc, "from", "2026-03-08");
    expect_str(doc, "to", "2026-03-10");
    o = member(doc, "summary");
    expect_int(o, "days", 3);
    expect_int(o, "days_built", 2);
    expect_int(o, "days_below_target", 1);
    expect_int(o, "boarded_total", 5000000000LL);
    expect_real(o, "boarded_mean", 1500.0); /* whole, still a real */
    expect_int(o, "target", 1500);
    expect_int(o, "eta_horizon_s", REPORT_QUERY_RANGE_HORIZON_S);

    a = member(doc, "days");
    assert_int_equal(json_array_size(a), 3);
    /* A day never built has only its date, flag and (no) predictions. */
    o = json_array_get(a, 0);
    expect_bool(o, "built", 0);
    assert_null(json_object_get(o, "boarded"));
    expect_int(o, "eta_samples", 0);
    expect_null(o, "eta_mae_s");
    expect_null(o, "eta_accuracy_pct");
    assert_int_equal(json_object_size(o), 5);
    o = json_array_get(a, 1);
    expect_bool(o, "built", 1);
    expect_int(o, "boarded", 1400);
    expect_real(o, "pct_of_target", 93.3);
    expect_bool(o, "below_target", 1);
    expect_int(o, "runs_operated", 51);
    expect_int(o, "runs_late", 2);
    expect_int(o, "eta_samples", 4);
    expect_real(o, "eta_mae_s", 40.0);
    expect_real(o, "eta_accuracy_pct", 50.0);
    o = json_array_get(a, 2);
    expect_real(o, "pct_of_target", 106.7);
    expect_bool(o, "below_target", 0);

    a = member(doc, "below_target");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_array_get(a, 0)), "2026-03-09");
    json_decref(doc);
}

static void test_utf8_repair(void **state)
{
    char *s = report_text_utf8_repair(bad_utf8);

    assert_non_null(s);
    assert_string_equal(s, bad_utf8_fixed);
    free(s);
    s = report_text_utf8_repair(hostile); /* valid: unchanged */
    assert_non_null(s);
    assert_string_equal(s, hostile);
    free(s);
}

static void test_html(void **state)
{
    check_out(report_text_html, "<a href=\"x\">R&D's</a>",
              "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;");
}

static void test_thousands(void **state)
{
    char b[32];

    assert_string_equal(report_text_thousands(0, b, sizeof b), "0");
    assert_string_equal(report_text_thousands(999, b, sizeof b), "999");
    assert_string_equal(report_text_thousands(1000, b, sizeof b), "1,000");
    assert_string_equal(report_text_thousands(1500, b, sizeof b), "1,500");
    assert_string_equal(report_text_thousands(-1234567, b, sizeof b),
                        "-1,234,567");
    assert_string_equal(report_text_thousands(100000, b, sizeof b), "100,000");
}

static void test_dates(void **state)
{
    char err[128], out[11];
    long d;

    assert_int_equal(report_text_parse_date("1970-01-01", &d, err, sizeof err),
                     REPORT_TEXT_DATE_OK);
    assert_int_equal(d, 0);
    assert_int_equal(report_text_parse_date("2026-03-10", &d, err, sizeof err),
                     REPORT_TEXT_DATE_OK);
    assert_int_equal(d, 20522);
    assert_int_equal(report_text_weekday(d), 1); /* a Tuesday */
    report_text_format_date(d, out);
    assert_string_equal(out, "2026-03-10");

    /* Days that do not exist are refused with a message saying why. */
    assert_int_equal(report_text_parse_date("2026-02-30", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_non_null(strstr(err, "01 to 28"));
    assert_int_equal(report_text_parse_date("2026-02-29", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("2024-02-29", &d, err, sizeof err),
                     REPORT_TEXT_DATE_OK);
    assert_int_equal(report_text_parse_date("2000-02-29", &d, err, sizeof err),
                     REPORT_TEXT_DATE_OK);
    assert_int_equal(report_text_parse_date("2100-02-29", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("2026-04-31", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("2026-13-01", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("2026-00-10", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("2026-01-00", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);
    assert_int_equal(report_text_parse_date("1969-12-31", &d, err, sizeof err),
                     REPORT_TEXT_DATE_RANGE);

    /* Only exactly YYYY-MM-DD. */
    assert_int_equal(report_text_parse_date("2026-3-10", &d, err, sizeof err),
                     REPORT_TEXT_DATE_SYNTAX);
    assert_non_null(strstr(err, "YYYY-MM-DD"));
    assert_int_equal(report_text_parse_date("2026-03-10x", &d, err, sizeof err),
                     REPORT_TEXT_DATE_SYNTAX);
    assert_int_equal(report_text_parse_date("", &d, err, sizeof err),
                     REPORT_TEXT_DATE_SYNTAX);
    assert_int_equal(report_text_parse_date("2026/03/10", &d, err, sizeof err),
                     REPORT_TEXT_DATE_SYNTAX);
    assert_int_equal(report_text_parse_date("+026-03-10", &d, err, sizeof err),
                     REPORT_TEXT_DATE_SYNTAX);

    /* Parse and format agree on every day of 1970..2100 (leap years and
     * century rules included), and consecutive days are consecutive. */
    for (long day = 0; day < 47847; day++) {
        long back;

        report_text_format_date(day, out);
        assert_int_equal(report_text_parse_date(out, &back, err, sizeof err),
                         REPORT_TEXT_DATE_OK);
        assert_int_equal(back, day);
    }
    report_text_format_date(47846, out);
    assert_string_equal(out, "2100-12-31");
}

static void test_thresholds(void **state)
{
    /* 90 % of 45 seats is 40.5: 41 is crowded, 40 is not. */
    assert_true(report_query_is_crowded(41, 45, 90));
    assert_false(report_query_is_crowded(40, 45, 90));
    assert_true(report_query_is_crowded(45, 45, 100));
    assert_false(report_query_is_crowded(0, 45, 90));

    /* 10 % of the larger + 2. */
    assert_true(report_query_counter_suspect(22, 12, 10, 2));  /* 10 > 4.2 */
    assert_false(report_query_counter_suspect(20, 17, 10, 2)); /* 3 <= 4 */
    assert_true(report_query_counter_suspect(20, 15, 10, 2));  /* 5 > 4 */
    assert_false(report_query_counter_suspect(2, 0, 10, 2));   /* slack */
    assert_true(report_query_counter_suspect(0, 3, 10, 2));
    assert_false(report_query_counter_suspect(0, 0, 10, 2));
}

static void test_conninfo_redacted(void **state)
{
    char out[256];

    report_query_conninfo_display("host=db.example port=5433 dbname=shuttle "
                                  "user=report password=s3cret",
                                  out, sizeof out);
    assert_null(strstr(out, "s3cret"));
    assert_non_null(strstr(out, "host=db.example"));
    assert_non_null(strstr(out, "dbname=shuttle"));
    report_query_conninfo_display("postgresql://report:s3cret@db:5433/shuttle",
                                  out, sizeof out);
    assert_null(strstr(out, "s3cret"));
    assert_non_null(strstr(out, "host=db"));
    report_query_conninfo_display("host='unterminated", out, sizeof out);
    assert_string_equal(out, "(unparsable connection string)");
}

static void test_delay(void **state)
{
    char b[16];

    report_fmt_delay(270, b, sizeof b);
    assert_string_equal(b, "+4:30");
    report_fmt_delay(-45, b, sizeof b);
    assert_string_equal(b, "-0:45");
    report_fmt_delay(0, b, sizeof b);
    assert_string_equal(b, "+0:00");
}

/* A small day with awkward strings, through the CSV and JSON writers. */
static void test_writers(void **state)
{
    struct report_query_run run = {
        .trip_id = "T\"1,x",
        .route_id = "R1",
        .route_name = "1 A",
        .vehicle_id = "",
        .direction = 0,
        .status = REPORT_QUERY_MISSED,
        .sched_start = "06:00",
        .actual_start = "",
    };
    struct report_query_stop stop = {.stop_id = "S1",
                                     .name = "a \"b\", c\n",
                                     .visits = 2,
                                     .boarded = 7,
                                     .alighted = 3};
    struct report_query_daily d;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;

    memset(&d, 0, sizeof d);
    strcpy(d.date, "2026-03-10");
    d.p.target = 1500;
    d.p.seats = 45;
    d.boarded = 1339;
    d.pct_of_target = 89.3;
    d.runs = &run;
    d.nruns = 1;
    d.stops = &stop;
    d.nstops = 1;

    fp = open_memstream(&buf, &len);
    assert_int_equal(report_fmt_daily_csv(fp, &d, 0, REPORT_FMT_T_STOPS), 0);
    fclose(fp);
    assert_string_equal(buf, "stop_id,stop_name,stops_made,boarded,alighted"
                             "\r\nS1,\"a \"\"b\"\", c\n\",2,7,3\r\n");
    free(buf);

    fp = open_memstream(&buf, &len);
    assert_int_equal(report_fmt_daily_json(fp, &d, 0), 0);
    fclose(fp);
    assert_non_null(strstr(buf, "\"stop_name\":\"a \\\"b\\\", c\\n\""));
    assert_non_null(strstr(buf, "\"trip_id\":\"T\\\"1,x\""));
    assert_non_null(strstr(buf, "\"pct_of_target\":89.3"));
    /* A missed run has no start, delay, vehicle or load: null, not 0. */
    assert_non_null(strstr(buf, "\"actual_start\":null,\"delay_s\":null,"
                                "\"vehicle_id\":null"));
    assert_non_null(strstr(buf, "\"peak_load\":null"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json_daily),
        cmocka_unit_test(test_json_range),
        cmocka_unit_test(test_json_no_memory),
        cmocka_unit_test(test_utf8_repair),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_thousands),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_conninfo_redacted),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_writers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
