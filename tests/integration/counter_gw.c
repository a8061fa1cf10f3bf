/* counter_gw: a fake passenger-counter gateway for the integration tests. */
#include "counter_gw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int counter_gw_open(struct counter_gw *c, int port)
{
    memset(c, 0, sizeof *c);
    c->port = port;
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return c->fd < 0 ? -1 : 0;
}

void counter_gw_close(struct counter_gw *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int counter_gw_raw(struct counter_gw *c, const void *buf, size_t len)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)c->port);
    /* Nobody listening (the onboard is being restarted) is not an error of
     * the gateway's: a real one would not know either. */
    if (sendto(c->fd, buf, len, 0, (struct sockaddr *)&sin, sizeof sin) < 0)
        return -1;
    return 0;
}

int counter_gw_send(struct counter_gw *c, const char *type, const char *fields,
                    ...)
{
    char body[256], line[300], rest[200];
    struct timespec ts;
    unsigned sum = 0;
    va_list ap;
    int n;

    va_start(ap, fields);
    n = vsnprintf(rest, sizeof rest, fields, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof rest)
        return -1;
    /* ctime: the gateway's own millisecond clock, here the monotonic one. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    n = snprintf(body, sizeof body, "PC%s,%u,%lu,%s", type, c->seq,
                 (unsigned long)((ts.tv_sec * 1000 + ts.tv_nsec / 1000000) %
                                 4294967296LL),
                 rest);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    for (const char *p = body; *p != '\0'; p++)
        sum ^= (unsigned char)*p;
    n = snprintf(line, sizeof line, "$%s*%02X\r\n", body, sum);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    c->seq = c->seq == 65535 ? 1 : c->seq + 1;
    return counter_gw_raw(c, line, (size_t)n);
}

int counter_gw_episode(struct counter_gw *c, unsigned door, unsigned boarded,
                       unsigned alighted, int gap_ms)
{
    /* Split the counts over up to three lines, as a counter that reports
     * people while they pass does. */
    unsigned b1 = boarded / 2, a1 = alighted / 3;
    unsigned b2 = boarded - b1 - boarded / 4, a2 = alighted - a1 - a1;
    unsigned b3 = boarded - b1 - b2, a3 = alighted - a1 - a2;

    if (counter_gw_send(c, "DO", "%u", door) < 0)
        return -1;
    harness_sleep_ms(gap_ms);
    if (counter_gw_send(c, "IO", "%u,%u,%u", door, b1, a1) < 0)
        return -1;
    harness_sleep_ms(gap_ms);
    if (counter_gw_send(c, "IO", "%u,%u,%u", door, b2, a2) < 0)
        return -1;
    if (b3 + a3 > 0 && counter_gw_send(c, "IO", "%u,%u,%u", door, b3, a3) < 0)
        return -1;
    harness_sleep_ms(gap_ms);
    return counter_gw_send(c, "DC", "%u", door);
}
