/* proc: what every daemon does once at start: detach, and route signals. */
#include "proc.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

int proc_setup(int foreground, void (*handler)(int), int catch_hup)
{
    struct sigaction sa;

    if (!foreground && daemon(0, 0) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (catch_hup)
        sigaction(SIGHUP, &sa, NULL);
    return 0;
}
