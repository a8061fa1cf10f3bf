/* test_upgrade: a database whose schema is newer than the binaries (a fake
 * migration 999 in schema_migrations) is refused by shuttle-backend (both
 * --migrate and the daemon), shuttle-live and shuttle-report, each with
 * exit SCHEMA_EXIT (5) and a message naming the migration, and the schema
 * is left untouched. Real PostgreSQL through the harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SCHEMA_EXIT 5 /* backend/schema/schema.h */

/* Run BIN with ARGV (a NULL-terminated list after argv[0]), its output in
 * a log of its own; its exit code, the log's path in *log. */
static int run(const char *bin, char *const *args, const char **log)
{
    char *dir = harness_tmpdir("upgrade-run");
    char *argv[16];
    static char path[4096];
    struct harness_proc *p;
    int n = 0;

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/out.log", dir);
    argv[n++] = (char *)harness_bin(bin);
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    p = harness_spawn(bin, argv, path);
    assert_non_null(p);
    *log = path;
    /* Generous: two cores shared with other test runs. */
    return harness_wait(p, 60000);
}

static void expect_refusal(const char *bin, char *const *args)
{
    const char *log;
    int rc = run(bin, args, &log);

    if (rc != SCHEMA_EXIT || !harness_log_has(log, "migration 999") ||
        !harness_log_has(log, "this binary knows up to") ||
        !harness_log_has(log, "or use a matching version"))
        harness_log_tail(log, 20);
    assert_int_equal(rc, SCHEMA_EXIT);
    assert_true(harness_log_has(log, "database schema is at migration 999 "
                                     "(999_from_the_future)"));
    assert_true(harness_log_has(log, "or use a matching version"));
}

static void test_newer_schema_refused(void **state)
{
    struct harness_pg *pg = harness_pg_start(1);
    char *dir = harness_tmpdir("upgrade");
    char db[1024], empty[4096], mport[64];
    const char *log;
    long long tables;
    FILE *f;

    (void)state;
    assert_non_null(pg);
    assert_non_null(dir);
    snprintf(empty, sizeof empty, "%s/empty.conf", dir);
    f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    /* No broker: a daemon refusing the schema never gets that far. */
    snprintf(mport, sizeof mport, "mqtt_port=%d", harness_free_port());

    /* Today's schema first, by today's backend, then one step beyond. */
    {
        char *args[] = {"-f", empty, "-o", db, "--migrate", NULL};

        assert_int_equal(run("shuttle-backend", args, &log), 0);
    }
    assert_int_equal(harness_pg_exec(pg, "INSERT INTO schema_migrations "
                                         "(version, name) VALUES "
                                         "(999, '999_from_the_future')"),
                     0);
    tables = harness_pg_scalar(pg, "SELECT count(*) FROM pg_tables WHERE "
                                   "schemaname = 'public'");
    assert_true(tables > 0);

    {
        char *args[] = {"-f", empty, "-o", db, "--migrate", NULL};

        expect_refusal("shuttle-backend", args);
    }
    {
        /* The daemon: its migration child refuses, and it stops. */
        char *args[] = {"-d", "-f",  empty, "-o",          db,
                        "-o", mport, "-o",  "http_port=0", NULL};

        expect_refusal("shuttle-backend", args);
    }
    {
        char *args[] = {"-d", "-f",  empty, "-o",          db,
                        "-o", mport, "-o",  "http_port=0", NULL};

        expect_refusal("shuttle-live", args);
    }
    {
        char *args[] = {"-f",    empty,    "-o",         db,
                        "daily", "--date", "2026-01-05", NULL};

        expect_refusal("shuttle-report", args);
    }
    /* Refused untouched: the future migration and every table still there. */
    assert_int_equal(harness_pg_scalar(pg, "SELECT max(version) FROM "
                                           "schema_migrations"),
                     999);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM pg_tables "
                                           "WHERE schemaname = 'public'"),
                     tables);
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_newer_schema_refused, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
