/* job: work that may take seconds, run in a child process beside a loop. */
#include "job.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int job_start(struct job *j, const char *what, int nice_inc,
              int (*fn)(void *arg), void *arg, int64_t now_ms)
{
    pid_t parent = getpid();
    pid_t pid;

    if (j->pid > 0)
        return JOB_ERR_RUNNING;
    pid = fork();
    if (pid < 0)
        return JOB_ERR_FORK;
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        /* Checked after the prctl: the parent may have died before it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(1);
        /* Background work: on a busy machine the loop comes first. A
         * failed nice only costs priority, so it is ignored. */
        if (nice_inc > 0)
            (void)!nice(nice_inc);
        _exit(fn(arg));
    }
    j->what = what;
    j->pid = pid;
    j->started_ms = now_ms;
    return JOB_OK;
}

enum job_state job_reap(struct job *j, int *status)
{
    int st = 0, dummy;
    pid_t r;

    if (!status)
        status = &dummy;
    *status = 0;
    if (j->pid <= 0)
        return JOB_IDLE;
    r = waitpid(j->pid, &st, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return JOB_RUNNING;
    j->pid = 0;
    if (r < 0) {
        *status = errno;
        return JOB_LOST;
    }
    if (WIFSIGNALED(st)) {
        *status = WTERMSIG(st);
        return JOB_KILLED;
    }
    *status = WEXITSTATUS(st);
    return *status == 0 ? JOB_DONE : JOB_FAILED;
}

void job_stop(struct job *j)
{
    if (j->pid <= 0)
        return;
    (void)kill(j->pid, SIGTERM);
    while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    j->pid = 0;
}
