/* job: work that may take seconds, run in a child process beside a loop. */
#ifndef SHUTTLE_JOB_H
#define SHUTTLE_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A daemon's loop must never wait, so a migration or a rebuild runs in a
 * child (fork): it opens its own connections, runs niced, dies with its
 * parent (PR_SET_PDEATHSIG) and ends with _exit so that the parent's libpq
 * and MQTT handles are never closed under it. At most one child per job.
 */
struct job {
    const char *what;   /* "rebuild", "migration": for messages */
    pid_t pid;          /* 0: not running */
    int64_t started_ms; /* monotonic */
};

enum job_err {
    JOB_OK = 0,
    JOB_ERR_RUNNING = -1, /* the job's child is still running */
    JOB_ERR_FORK = -2,
};

/* The result of job_reap. */
enum job_state {
    JOB_IDLE = 0, /* none was started, or it was reaped already */
    JOB_RUNNING,  /* still running */
    JOB_DONE,     /* exited 0 */
    JOB_FAILED,   /* exited non-zero */
    JOB_KILLED,   /* ended by a signal (*status: which) */
    JOB_LOST,     /* waitpid failed (*status: errno) */
};

/*
 * Start fn(arg) in a child process and return at once. In the child the
 * signal dispositions of SIGTERM, SIGINT and SIGCHLD are reset, it is
 * reniced by `nice_inc`, and its exit code is fn's. Returns JOB_OK,
 * JOB_ERR_RUNNING, or JOB_ERR_FORK (errno set). `what` must outlive j.
 */
int job_start(struct job *j, const char *what, int nice_inc,
              int (*fn)(void *arg), void *arg, int64_t now_ms);

/*
 * Collect a finished child without waiting. Returns the job_state; for
 * JOB_FAILED *status is the exit code, for JOB_KILLED the signal, for
 * JOB_LOST errno (status may be NULL). After a final state the job is
 * idle again and may be started anew.
 */
enum job_state job_reap(struct job *j, int *status);

/* At shutdown: SIGTERM a running child and wait for it (the only call
 * that waits: the loop has ended). */
void job_stop(struct job *j);

#endif
