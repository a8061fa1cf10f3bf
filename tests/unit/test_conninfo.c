/* Unit tests of common/conninfo: passwords masked in both libpq forms, the
 * rest (multi-host lists included) kept as written, short buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "conninfo.h"

static void check(const char *in, const char *want)
{
    char out[512];

    assert_int_equal(conninfo_mask(in, out, sizeof out), 0);
    assert_string_equal(out, want);
    assert_null(strstr(out, "s3cret"));
}

static void test_keywords(void **state)
{
    (void)state;
    check("host=db port=5432 dbname=shuttle user=ingest password=s3cret",
          "host=db port=5432 dbname=shuttle user=ingest password=***");
    /* First, last, spaces around '=', quoted with an escaped quote and a
     * space inside. */
    check("password=s3cret host=db", "password=*** host=db");
    check("host=db password = 's3cret \\' x'  sslmode=require",
          "host=db password = ***  sslmode=require");
    check("host=db password=''", "host=db password=***");
    /* Other keys are not touched, even when they hold the word. */
    check("host=db passfile=/etc/shuttle/pgpass application_name=password",
          "host=db passfile=/etc/shuttle/pgpass application_name=password");
    /* A multi-host string as the operator wrote it. */
    check("host=pg-a,pg-b port=5432,5433 dbname=shuttle user=ingest "
          "password=s3cret target_session_attrs=read-write",
          "host=pg-a,pg-b port=5432,5433 dbname=shuttle user=ingest "
          "password=*** target_session_attrs=read-write");
    check("", "");
    check("dbname=shuttle", "dbname=shuttle");
}

static void test_uri(void **state)
{
    (void)state;
    check("postgresql://ingest:s3cret@pg-a:5432,pg-b:5433/shuttle"
          "?target_session_attrs=read-write",
          "postgresql://ingest:***@pg-a:5432,pg-b:5433/shuttle"
          "?target_session_attrs=read-write");
    check("postgres://ingest:s3cret@db/shuttle",
          "postgres://ingest:***@db/shuttle");
    check("postgresql://ingest@db/shuttle?sslmode=require&password=s3cret",
          "postgresql://ingest@db/shuttle?sslmode=require&password=***");
    check("postgresql://db/shuttle?password=s3cret&application_name=x",
          "postgresql://db/shuttle?password=***&application_name=x");
    /* An '@' in a (badly encoded) password: the last one ends the user
     * part. */
    check("postgresql://u:s3cret@x@db", "postgresql://u:***@db");
    check("postgresql://", "postgresql://");
    check("postgresql:///shuttle?host=/run/pg",
          "postgresql:///shuttle?host=/run/pg");
}

/* Too short: -1, NUL-terminated, and never part of the password. */
static void test_short(void **state)
{
    char out[24];

    (void)state;
    assert_int_equal(
        conninfo_mask("host=db password=s3cretXYZ", out, sizeof out), 0);
    assert_string_equal(out, "host=db password=***");
    assert_int_equal(
        conninfo_mask("host=a-long-host-name password=s3cret", out, sizeof out),
        -1);
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_null(strstr(out, "s3"));
    assert_int_equal(conninfo_mask("host=db", out, 0), -1);
    assert_int_equal(conninfo_mask(NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_short),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
