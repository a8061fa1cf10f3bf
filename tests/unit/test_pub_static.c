/* test_pub_static: /gtfs/static.zip from a fake gtfs_files answer, opened
 * back with libzip: every member's exact bytes, deflated, the fixed
 * dates, the same bytes on every build and in any time zone, and the
 * answers it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "pgresult.h"
#include "pub_static.h"

/* BYTES (N) as a bytea's text output, "\x..." (static storage). */
static const char *hex(const char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = digits[(unsigned char)bytes[i] >> 4];
        out[3 + 2 * i] = digits[(unsigned char)bytes[i] & 15];
    }
    out[2 + 2 * n] = '\0';
    return out;
}

static const char agency[] =
    "agency_id,agency_name,agency_url,agency_timezone\r\n"
    "GD,\"검단 셔틀\",https://example.org,Asia/Seoul\r\n";
/* Repetitive, so deflate makes it smaller: it was compressed. */
static char stops[8192];

static PGresult *feed(void)
{
    static char h1[2 * sizeof agency + 3], h2[2 * sizeof stops + 3], h3[3];
    const char *cells[6];

    for (size_t i = 0; i + 1 < sizeof stops; i++)
        stops[i] = "stop_id,stop_name,stop_lat,stop_lon\n"[i % 36];
    cells[0] = "agency.txt";
    cells[1] = hex(agency, sizeof agency - 1, h1);
    cells[2] = "stops.txt";
    cells[3] = hex(stops, sizeof stops - 1, h2);
    cells[4] = "feed_info.txt"; /* an empty file is still a member */
    cells[5] = hex("", 0, h3);
    return pgresult_text(2, 3, cells);
}

static void assert_member(zip_t *za, zip_uint64_t i, const char *name,
                          const char *bytes, size_t n)
{
    zip_stat_t st;
    zip_file_t *zf;
    char *got = malloc(n + 1);

    assert_non_null(got);
    assert_int_equal(zip_stat_index(za, i, 0, &st), 0);
    assert_string_equal(st.name, name);
    assert_int_equal(st.size, n);
    assert_int_equal(st.comp_method, ZIP_CM_DEFLATE);
    zf = zip_fopen_index(za, i, 0);
    assert_non_null(zf);
    assert_int_equal(zip_fread(zf, got, n + 1), (zip_int64_t)n);
    assert_memory_equal(got, bytes, n);
    zip_fclose(zf);
    free(got);
}

static void test_zip(void **state)
{
    PGresult *r = feed();
    uint8_t *zip = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    zip_source_t *src;
    zip_t *za;
    zip_error_t ze;
    zip_uint16_t dtime = 1, ddate = 1;
    char err[256];

    (void)state;
    assert_string_equal(pub_static_sql(),
                        "SELECT name, body FROM gtfs_files ORDER BY name "
                        "COLLATE \"C\"");
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_OK);
    assert_non_null(zip);
    assert_true(len > 22 && len < sizeof stops);
    assert_memory_equal(zip, "PK\3\4", 4);

    zip_error_init(&ze);
    src = zip_source_buffer_create(zip, len, 0, &ze);
    assert_non_null(src);
    za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    assert_non_null(za);
    assert_int_equal(zip_get_num_entries(za, 0), 3);
    assert_member(za, 0, "agency.txt", agency, sizeof agency - 1);
    assert_member(za, 1, "stops.txt", stops, sizeof stops - 1);
    assert_member(za, 2, "feed_info.txt", "", 0);
    for (zip_uint64_t i = 0; i < 3; i++) {
        struct tm tm = {.tm_year = 80, .tm_mday = 1, .tm_isdst = -1};
        zip_stat_t st;

        /* libzip reads the DOS time as local time */
        assert_int_equal(zip_stat_index(za, i, 0, &st), 0);
        assert_true(st.valid & ZIP_STAT_MTIME);
        assert_int_equal(st.mtime, mktime(&tm));
    }
    /* the first local header's time and date fields, little-endian */
    dtime = (zip_uint16_t)(zip[10] | zip[11] << 8);
    ddate = (zip_uint16_t)(zip[12] | zip[13] << 8);
    assert_int_equal(dtime, PUB_STATIC_DOSTIME);
    assert_int_equal(ddate, PUB_STATIC_DOSDATE);
    zip_close(za);
    zip_error_fini(&ze);

    /* the same files, another time zone, another moment: the same bytes */
    setenv("TZ", "America/New_York", 1);
    tzset();
    assert_int_equal(pub_static_zip(r, &again, &len2, err, sizeof err),
                     PUB_STATIC_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, zip, len);
    free(again);
    free(zip);
    PQclear(r);
}

static void test_refused(void **state)
{
    const char *dup[] = {"stops.txt", "\\x41", "stops.txt", "\\x42"};
    const char *path[] = {"../etc/passwd", "\\x41"};
    const char *dot[] = {".hidden", "\\x41"};
    const char *nothex[] = {"stops.txt", "AB"};
    const char *one[] = {"stops.txt"};
    uint8_t *zip = (uint8_t *)"x";
    size_t len = 0;
    char err[256];
    PGresult *r;

    (void)state;
    r = pgresult_text(2, 0, NULL);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_EMPTY);
    assert_null(zip);
    PQclear(r);
    r = pgresult_text(2, 2, dup);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    assert_non_null(strstr(err, "twice"));
    PQclear(r);
    r = pgresult_text(2, 1, path);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    PQclear(r);
    r = pgresult_text(2, 1, dot);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    PQclear(r);
    r = pgresult_text(2, 1, nothex);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    PQclear(r);
    r = pgresult_text(1, 1, one);
    assert_int_equal(pub_static_zip(r, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    PQclear(r);
    assert_int_equal(pub_static_zip(NULL, &zip, &len, err, sizeof err),
                     PUB_STATIC_ERR_INVALID);
    assert_null(zip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
