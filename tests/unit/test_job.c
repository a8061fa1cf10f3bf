/* job: a child runs beside the caller, is reaped without waiting, reports
 * its exit code or signal, never runs twice at once, and is stopped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include "job.h"

static int exit_with(void *arg)
{
    return *(int *)arg;
}

static int sleep_long(void *arg)
{
    (void)arg;
    sleep(60);
    return 0;
}

/* Reap until the job leaves RUNNING (bounded: a busy machine may take a
 * while to run the child, but not 60 s). */
static enum job_state reap_final(struct job *j, int *status)
{
    enum job_state s = JOB_RUNNING;

    for (int i = 0; i < 6000 && s == JOB_RUNNING; i++) {
        s = job_reap(j, status);
        if (s == JOB_RUNNING)
            usleep(10000);
    }
    return s;
}

static void test_exit_codes(void **state)
{
    struct job j = {0};
    int code = 0, st = -1;

    (void)state;
    assert_int_equal(job_reap(&j, &st), JOB_IDLE);
    assert_int_equal(job_start(&j, "ok", 0, exit_with, &code, 1), JOB_OK);
    assert_true(j.pid > 0);
    assert_int_equal(reap_final(&j, &st), JOB_DONE);
    assert_int_equal(st, 0);
    assert_int_equal(j.pid, 0);
    assert_int_equal(job_reap(&j, &st), JOB_IDLE);

    code = 3;
    assert_int_equal(job_start(&j, "fails", 10, exit_with, &code, 2), JOB_OK);
    assert_int_equal(reap_final(&j, &st), JOB_FAILED);
    assert_int_equal(st, 3);
}

static void test_one_at_a_time_and_stop(void **state)
{
    struct job j = {0};
    int st;
    pid_t pid;

    (void)state;
    assert_int_equal(job_start(&j, "long", 0, sleep_long, NULL, 1), JOB_OK);
    pid = j.pid;
    assert_int_equal(job_reap(&j, &st), JOB_RUNNING);
    assert_int_equal(job_start(&j, "long", 0, sleep_long, NULL, 2),
                     JOB_ERR_RUNNING);
    assert_int_equal(j.pid, pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(reap_final(&j, &st), JOB_KILLED);
    assert_int_equal(st, SIGKILL);

    assert_int_equal(job_start(&j, "long", 0, sleep_long, NULL, 3), JOB_OK);
    pid = j.pid;
    job_stop(&j);
    assert_int_equal(j.pid, 0);
    assert_int_equal(kill(pid, 0), -1); /* gone and reaped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_one_at_a_time_and_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
