/* report_text: display width, UTF-8 repair, CSV/HTML escaping and dates
 * for shuttle-report. Pure functions: no state, no logging. */
#include "report_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int report_text_cp_width(unsigned cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
        return 0;
    /* Zero width: combining marks, Hangul medial vowels and final
     * consonants (they join the preceding initial into one cell), zero
     * width spaces and joiners, variation selectors. */
    if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1160 && cp <= 0x11ff) ||
        (cp >= 0xd7b0 && cp <= 0xd7ff) || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x20d0 && cp <= 0x20ff))
        return 0;
    /* Wide and fullwidth (Unicode East Asian Width W/F), the blocks that
     * matter here: Korean stop names and labels, CJK, kana. */
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
        (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
        (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
        (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
        (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
        (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/* Decode one UTF-8 sequence at S: its length (1..4) with the code point in
 * *CP, or 0 when S does not start a valid, shortest-form sequence. */
static int report_text__utf8_decode(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    int n, i;
    unsigned min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, *cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, *cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, *cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return n;
}

size_t report_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p) {
        unsigned cp;
        int n = report_text__utf8_decode(p, &cp);

        if (n == 0) {
            w += 1;
            p++;
            continue;
        }
        w += (size_t)report_text_cp_width(cp);
        p += n;
    }
    return w;
}

void report_text_pad(FILE *fp, const char *s, size_t width, int right)
{
    size_t w = report_text_width(s);
    size_t fill = w < width ? width - w : 0;

    if (right)
        fprintf(fp, "%*s", (int)fill, "");
    fputs(s, fp);
    if (!right)
        fprintf(fp, "%*s", (int)fill, "");
}

void report_text_csv_field(FILE *fp, const char *s)
{
    size_t len = strlen(s);

    /* Leading/trailing spaces are quoted too: RFC 4180 keeps them, but
     * spreadsheet imports commonly trim unquoted ones. */
    if (strpbrk(s, ",\"\r\n") == NULL &&
        (len == 0 || (s[0] != ' ' && s[len - 1] != ' '))) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

char *report_text_utf8_repair(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    char *out, *o;

    /* U+FFFD is 3 bytes: at most three times the input. */
    if (len > (SIZE_MAX - 1) / 3 || (out = malloc(3 * len + 1)) == NULL)
        return NULL;
    o = out;
    while (*p) {
        unsigned cp;
        int n = report_text__utf8_decode(p, &cp);

        if (n == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
            continue;
        }
        memcpy(o, p, (size_t)n);
        o += n;
        p += n;
    }
    *o = '\0';
    return out;
}

void report_text_html(FILE *fp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", fp);
            break;
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '"':
            fputs("&quot;", fp);
            break;
        case '\'':
            fputs("&#39;", fp);
            break;
        default:
            fputc(*s, fp);
        }
    }
}

char *report_text_thousands(long long n, char *out, size_t outlen)
{
    char digits[32];
    unsigned long long u =
        n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    int len = snprintf(digits, sizeof digits, "%llu", u);
    size_t o = 0;

    if (outlen == 0)
        return out;
    if (n < 0 && o + 1 < outlen)
        out[o++] = '-';
    for (int i = 0; i < len && o + 1 < outlen; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < outlen)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

int report_text_days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m < 1 || m > 12)
        return 0;
    return dim[m - 1] + (m == 2 && leap);
}

/* Days since 1970-01-01 of a valid Gregorian date: count from 1 March of
 * year 0 so that the leap day falls at the end of the counting year. */
static long report_text__days_from_civil(int y, int m, int d)
{
    long yy = y - (m <= 2);
    long era = yy / 400; /* yy >= 0 for the years we accept */
    long yoe = yy - era * 400;
    long doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

int report_text_parse_date(const char *s, long *days, char *err, size_t errlen)
{
    int y, m, d, dim;

    for (int i = 0; i < 10; i++) {
        int want_dash = i == 4 || i == 7;

        if (s[i] == '\0' ||
            (want_dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))) {
            snprintf(err, errlen, "'%s' is not a date: expected YYYY-MM-DD", s);
            return REPORT_TEXT_DATE_SYNTAX;
        }
    }
    if (s[10] != '\0') {
        snprintf(err, errlen, "'%s' is not a date: expected YYYY-MM-DD", s);
        return REPORT_TEXT_DATE_SYNTAX;
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
        (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970) {
        snprintf(err, errlen, "%s: year %d is before 1970", s, y);
        return REPORT_TEXT_DATE_RANGE;
    }
    if (m < 1 || m > 12) {
        snprintf(err, errlen, "%s: there is no month %d", s, m);
        return REPORT_TEXT_DATE_RANGE;
    }
    dim = report_text_days_in_month(y, m);
    if (d < 1 || d > dim) {
        snprintf(err, errlen, "%s: %04d-%02d has days 01 to %02d", s, y, m,
                 dim);
        return REPORT_TEXT_DATE_RANGE;
    }
    *days = report_text__days_from_civil(y, m, d);
    return REPORT_TEXT_DATE_OK;
}

void report_text_format_date(long days, char out[11])
{
    long z = days + 719468;
    long era = z / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);

    /* The casts bound the values for the compiler's truncation check:
     * m is 1..12 and d 1..31 by construction. */
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(y % 10000) % 10000u,
             (unsigned)m % 100u, (unsigned)d % 100u);
}

int report_text_weekday(long days)
{
    /* 1970-01-01 was a Thursday (3 counting from Monday = 0). */
    long w = (days + 3) % 7;

    return (int)(w < 0 ? w + 7 : w);
}
