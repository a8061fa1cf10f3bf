/* log: process-wide logging to stderr or syslog, in the style of OpenBSD's
 * log.c. */
#ifndef SHUTTLE_LOG_H
#define SHUTTLE_LOG_H

#include <stdarg.h>

/*
 * Call once from main before any other log_ function. `progname` must outlive
 * the process (argv[0] or a literal). `to_stderr` non-zero writes to stderr,
 * otherwise to syslog(LOG_DAEMON). `verbose` > 0 also emits log_debug lines.
 */
void log_init(const char *progname, int to_stderr, int verbose);
void log_setverbose(int verbose);
int log_getverbose(void);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Only main.c and its direct helpers may end the process. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
