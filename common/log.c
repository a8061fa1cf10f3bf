/* log: process-wide logging to stderr or syslog. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/*
 * Logging is the one piece of process-wide state outside main.c: every module
 * of a daemon logs to the same place, and passing a logger everywhere would
 * buy nothing. It is written once, by log_init, before any thread or loop.
 */
static const char *log_progname = "shuttle";
static int log_to_stderr = 1;
static int log_verbose;

void log_init(const char *progname, int to_stderr, int verbose)
{
    const char *slash = strrchr(progname, '/');

    log_progname = slash ? slash + 1 : progname;
    log_to_stderr = to_stderr;
    log_verbose = verbose;
    if (!to_stderr)
        openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_setverbose(int verbose)
{
    log_verbose = verbose;
}

int log_getverbose(void)
{
    return log_verbose;
}

static void log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
    __attribute__((format(printf, 2, 0)));

static void log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
    char msg[1024];
    int saved = errno;

    vsnprintf(msg, sizeof msg, fmt, ap);
    if (with_errno) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
    }
    if (log_to_stderr) {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000L,
                log_progname, msg);
    } else {
        syslog(pri, "%s", msg);
    }
    errno = saved;
}

void log_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_WARNING, fmt, ap, 1);
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_WARNING, fmt, ap, 0);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_INFO, fmt, ap, 0);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_verbose <= 0)
        return;
    va_start(ap, fmt);
    log_vwrite(LOG_DEBUG, fmt, ap, 0);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_CRIT, fmt, ap, 1);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_CRIT, fmt, ap, 0);
    va_end(ap);
    exit(1);
}
