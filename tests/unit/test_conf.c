/* Unit tests of common/conf: the declarative config table parser. */
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

#include "conf.h"

struct cfg {
    char *host;
    long long port;
    double rate;
    int tls;
    char *password;
    int old_seen; /* "old" (retired) appeared */
};

static const struct conf_option table[] = {
    {"host", CONF_STRING, offsetof(struct cfg, host), "localhost", 0, 0, 0,
     "broker host"},
    {"port", CONF_INT, offsetof(struct cfg, port), "1883", 1, 65535, 0,
     "broker port"},
    {"rate", CONF_DOUBLE, offsetof(struct cfg, rate), NULL, 0.1, 10, 1, "rate"},
    {"tls", CONF_BOOL, offsetof(struct cfg, tls), "no", 0, 0, 0, "tls"},
    {"password_file", CONF_SECRET, offsetof(struct cfg, password), NULL, 0, 0,
     0, "secret"},
    {"old", CONF_RETIRED, offsetof(struct cfg, old_seen), NULL, 0, 0, 0,
     "moved elsewhere"},
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

static char *write_tmp(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/test_conf_XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
    return path;
}

static void test_parses_values_and_defaults(void **state)
{
    struct cfg c;
    char err[256];
    char *p = write_tmp("# comment\nport 8883  # trailing\nrate 2.5\n"
                        "tls yes\n\n",
                        0600);

    assert_int_equal(conf_load(table, &c, p, err, sizeof err), CONF_OK);
    assert_string_equal(c.host, "localhost");
    assert_int_equal(c.port, 8883);
    assert_true(c.rate > 2.49 && c.rate < 2.51);
    assert_int_equal(c.tls, 1);
    assert_null(c.password);
    conf_free(table, &c);
    unlink(p);
    free(p);
}

static void test_error_names_file_and_line(void **state)
{
    struct cfg c;
    char err[256];
    char *p = write_tmp("rate 1\nport 70000\n", 0600);
    char want[300];

    assert_int_equal(conf_load(table, &c, p, err, sizeof err), CONF_ERR_SYNTAX);
    snprintf(want, sizeof want, "%s:2: port: 70000 is outside [1, 65535]", p);
    assert_string_equal(err, want);
    conf_free(table, &c);
    unlink(p);
    free(p);
}

static void test_unknown_and_missing(void **state)
{
    struct cfg c;
    char err[256];
    char *p = write_tmp("rate 1\nbogus 3\n", 0600);
    char *q = write_tmp("port 1\n", 0600);

    assert_int_equal(conf_load(table, &c, p, err, sizeof err), CONF_ERR_SYNTAX);
    assert_non_null(strstr(err, ":2: unknown keyword 'bogus'"));
    conf_free(table, &c);
    assert_int_equal(conf_load(table, &c, q, err, sizeof err),
                     CONF_ERR_MISSING);
    assert_non_null(strstr(err, "'rate'"));
    conf_free(table, &c);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}

static void test_secret_must_be_private(void **state)
{
    struct cfg c;
    char err[512];
    char *secret = write_tmp("hunter2\n", 0644);
    char text[256];
    char *p;

    snprintf(text, sizeof text, "rate 1\npassword_file %s\n", secret);
    p = write_tmp(text, 0600);
    assert_int_equal(conf_load(table, &c, p, err, sizeof err), CONF_ERR_SECRET);
    assert_non_null(strstr(err, "group- or world"));
    conf_free(table, &c);
    chmod(secret, 0600);
    assert_int_equal(conf_load(table, &c, p, err, sizeof err), CONF_OK);
    assert_string_equal(c.password, "hunter2");
    conf_free(table, &c);
    unlink(p);
    unlink(secret);
    free(p);
    free(secret);
}

static void test_overrides(void **state)
{
    struct cfg c;
    char err[256];
    const char *good[] = {"port=2000", "host=broker.example", "rate=3"};
    const char *bad[] = {"port=2000", "noequals"};
    const char *range[] = {"port=0"};

    assert_int_equal(conf_defaults(table, &c, err, sizeof err), CONF_OK);
    assert_int_equal(conf_set_pairs(table, &c, good, 3, err, sizeof err),
                     CONF_OK);
    assert_int_equal(c.port, 2000);
    assert_string_equal(c.host, "broker.example");
    assert_int_equal(conf_set_pairs(table, &c, bad, 2, err, sizeof err),
                     CONF_ERR_SYNTAX);
    assert_string_equal(err, "-o noequals: expected key=value");
    assert_int_equal(conf_set_pairs(table, &c, range, 1, err, sizeof err),
                     CONF_ERR_SYNTAX);
    assert_string_equal(err, "-o port=0: port: 0 is outside [1, 65535]");
    conf_free(table, &c);
}

/* A retired option: accepted with any value and noted, never an error,
 * and left out of the example config that new files are written from. */
static void test_retired_option(void **state)
{
    struct cfg c;
    char err[256];
    char *with = write_tmp("rate 1\nold 60\nold not-a-number\n", 0600);
    char *without = write_tmp("rate 1\n", 0600);
    const char *pair[] = {"old=0"};
    char *text = NULL;
    size_t len = 0;
    FILE *fp;

    (void)state;
    assert_int_equal(conf_load(table, &c, with, err, sizeof err), CONF_OK);
    assert_int_equal(c.old_seen, 1);
    conf_free(table, &c);
    assert_int_equal(conf_load(table, &c, without, err, sizeof err), CONF_OK);
    assert_int_equal(c.old_seen, 0);
    assert_int_equal(conf_set_pairs(table, &c, pair, 1, err, sizeof err),
                     CONF_OK);
    assert_int_equal(c.old_seen, 1);
    conf_free(table, &c);

    fp = open_memstream(&text, &len);
    assert_non_null(fp);
    conf_print_example(table, fp);
    assert_int_equal(fclose(fp), 0);
    assert_non_null(strstr(text, "#port 1883"));
    assert_null(strstr(text, "old"));
    free(text);
    unlink(with);
    unlink(without);
    free(with);
    free(without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_values_and_defaults),
        cmocka_unit_test(test_error_names_file_and_line),
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_secret_must_be_private),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_retired_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
