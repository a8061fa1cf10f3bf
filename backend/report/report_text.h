/* report_text: the small text pieces of shuttle-report: terminal display
 * width of UTF-8 (Hangul is two columns), UTF-8 repair, CSV and HTML
 * escaping, dates. */
#ifndef SHUTTLE_REPORT_TEXT_H
#define SHUTTLE_REPORT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Terminal columns one code point takes: 2 for East Asian wide and
 * fullwidth characters (Hangul syllables, CJK ideographs, kana, fullwidth
 * forms), 0 for combining marks and Hangul medial/final jamo, 1 otherwise.
 * Control characters count 0. */
int report_text_cp_width(unsigned cp);

/* Display width in terminal columns of the NUL-terminated UTF-8 string S.
 * A byte that does not start a valid sequence counts as one column (it is
 * shown as a replacement character), so the result is never negative. */
size_t report_text_width(const char *s);

/* Write S padded with spaces to WIDTH columns, on the left when RIGHT is
 * nonzero (numbers), else on the right. Wider strings are written whole. */
void report_text_pad(FILE *fp, const char *s, size_t width, int right);

/* Write S as one CSV field (RFC 4180): quoted, with quotes doubled, when it
 * holds a comma, a quote, CR or LF or starts/ends with a space; else as is. */
void report_text_csv_field(FILE *fp, const char *s);

/* A copy of S with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD, as a terminal or browser shows it (JSON libraries refuse such
 * strings). The copy is the caller's to free; NULL when memory ran out. */
char *report_text_utf8_repair(const char *s);

/* Write S with &, <, >, " and ' as HTML character references. */
void report_text_html(FILE *fp, const char *s);

/* N with a comma every three digits ("1,500", "-12"), into OUT (at least
 * 32 bytes). Returns OUT. */
char *report_text_thousands(long long n, char *out, size_t outlen);

enum report_text_date_err {
    REPORT_TEXT_DATE_OK = 0,
    REPORT_TEXT_DATE_SYNTAX = -1, /* not YYYY-MM-DD */
    REPORT_TEXT_DATE_RANGE = -2,  /* month or day does not exist */
};

/* Days in month M (1..12) of year Y, Gregorian. */
int report_text_days_in_month(int y, int m);

/* Parse exactly "YYYY-MM-DD" (years 1970..9999) into *DAYS, days since
 * 1970-01-01. Returns an report_text_date_err; "2026-02-30" is
 * REPORT_TEXT_DATE_RANGE. On error a message for the user is written to ERR. */
int report_text_parse_date(const char *s, long *days, char *err, size_t errlen);

/* Days since 1970-01-01 to "YYYY-MM-DD" in OUT (11 bytes). */
void report_text_format_date(long days, char out[11]);

/* Day of the week of DAYS since 1970-01-01: 0 Monday .. 6 Sunday. */
int report_text_weekday(long days);

#endif
