/* Unit tests of shuttle-report's formatting pieces: display width of
 * Hangul, CSV quoting, JSON escaping, dates, thresholds, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void test_json(void **state)
{
    check_out(report_text_json_string, "", "\"\"");
    check_out(report_text_json_string, "abc", "\"abc\"");
    check_out(report_text_json_string, "검암역", "\"검암역\"");
    check_out(report_text_json_string, "a\"b\\c", "\"a\\\"b\\\\c\"");
    check_out(report_text_json_string, "l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
    check_out(report_text_json_string, "\x01\x1f\b\f",
              "\"\\u0001\\u001f\\b\\f\"");
    check_out(report_text_json_string, "</script>", "\"</script>\"");
    check_out(report_text_json_string, "\x7f", "\"\x7f\""); /* DEL is legal */
    /* Not UTF-8: each bad byte becomes U+FFFD, so the JSON stays valid. */
    check_out(report_text_json_string,
              "a\xff"
              "b",
              "\"a\xef\xbf\xbd"
              "b\"");
    check_out(report_text_json_string, "\xc0\xaf", /* overlong '/' */
              "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    check_out(report_text_json_string, "\xed\xa0\x80", /* a UTF-16 surrogate */
              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    check_out(report_text_json_string, "\xea\xb0", /* truncated */
              "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    check_out(report_text_json_string, "\xf0\x9f\x9a\x8c",
              "\"\xf0\x9f\x9a\x8c\"");
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
        cmocka_unit_test(test_json),
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
