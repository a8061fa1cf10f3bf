/* proc: what every daemon does once at start: detach, and route signals. */
#ifndef SHUTTLE_PROC_H
#define SHUTTLE_PROC_H

/*
 * Unless `foreground`, detach from the terminal (daemon(3)). Ignore SIGPIPE
 * (a broken socket is an error return, not a death) and send SIGTERM,
 * SIGINT and, if `catch_hup`, SIGHUP to `handler`, which should only set a
 * flag. Returns 0, or -1 with errno set when detaching failed.
 */
int proc_setup(int foreground, void (*handler)(int), int catch_hup);

#endif
