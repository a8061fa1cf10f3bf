/* Two rebuilds of one service day run one after the other: a rebuild
 * waits for the day's advisory lock (TRIPS_DB_LOCK_CLASS) that another
 * holds, and goes on when it is released; a rebuild of another day does
 * not wait. (shuttle-live's periodic rebuild and an operator's
 * `shuttle-backend --rebuild` of the same day would otherwise race.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itest_db.h"
#include "svcday.h"
#include "trips_db.h"

#define RL_DAY "2026-03-02"
#define RL_OTHER_DAY "2026-03-03"

static struct harness_pg *pg;

static int setup(void **state)
{
    (void)state;
    pg = itest_db_with_feed();
    return pg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* The one integer SQL answers on C. */
static long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Rebuilds of the day that waits, counted by the server. */
struct rl_wait {
    PGconn *c;
    int32_t day;
};

static int rl_waiting(void *arg)
{
    const struct rl_wait *w = arg;
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
             " AND NOT granted AND classid = %d AND objid = %d",
             TRIPS_DB_LOCK_CLASS, (int)w->day);
    /* harness_wait_for waits for nonzero: 1 once the rebuild waits. */
    return scalar(w->c, sql) == 1;
}

static void test_same_day_waits(void **state)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    struct trips_db_summary sum;
    struct rl_wait w;
    char sql[128], err[512];
    int status = -1;
    pid_t child;

    (void)state;
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_int_equal(svcday_parse(RL_DAY, &w.day), SVCDAY_OK);
    w.c = c;
    /* Another rebuild of the day under way, as far as the lock says. */
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, %d)::text, 1",
             TRIPS_DB_LOCK_CLASS, (int)w.day);
    PQclear(PQexec(c, sql));

    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(trips_db_rebuild(harness_pg_conninfo(pg), RL_DAY, &sum, err,
                               sizeof err) == TRIPS_DB_OK
                  ? 0
                  : 1);
    /* It waits for the lock, and only for it. */
    if (harness_wait_for(rl_waiting, &w, 20000) != 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail_msg("the second rebuild of %s did not wait for the first", RL_DAY);
    }
    harness_sleep_ms(500);
    assert_int_equal(waitpid(child, &status, WNOHANG), 0);

    /* Another day is not held up by it. */
    if (trips_db_rebuild(harness_pg_conninfo(pg), RL_OTHER_DAY, &sum, err,
                         sizeof err) != TRIPS_DB_OK)
        fail_msg("rebuild of %s: %s", RL_OTHER_DAY, err);
    assert_int_equal(waitpid(child, &status, WNOHANG), 0);

    /* The first is done: the second goes on and succeeds. */
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d, %d)::int",
             TRIPS_DB_LOCK_CLASS, (int)w.day);
    assert_int_equal(scalar(c, sql), 1);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(
        scalar(
            c,
            "SELECT count(*) FROM daily_ridership WHERE service_day = '" RL_DAY
            "'"),
        1);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_day_waits),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
