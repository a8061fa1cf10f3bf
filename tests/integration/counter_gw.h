/* counter_gw: a fake passenger-counter gateway for the integration tests:
 * sends $PC sentences (proto/counter-protocol.md) over UDP to an onboard. */
#ifndef SHUTTLE_COUNTER_GW_H
#define SHUTTLE_COUNTER_GW_H

#include <stddef.h>

/* One gateway: its socket, where it sends, and its sentence number. */
struct counter_gw {
    int fd;
    int port;
    unsigned seq; /* of the next sentence; 0 only right after "boot" */
};

/* Open a UDP socket that sends to 127.0.0.1:PORT. The first sentence goes
 * out with seq 0, as a gateway that just started. 0, or -1 on error. */
int counter_gw_open(struct counter_gw *c, int port);
void counter_gw_close(struct counter_gw *c);

/* Send "$PC<TYPE>,<seq>,<ctime>,<FIELDS>*HH\r\n" as one datagram and advance
 * seq (65535 wraps to 1). FIELDS is printf-formatted. 0, or -1 on error. */
int counter_gw_send(struct counter_gw *c, const char *type, const char *fields,
                    ...) __attribute__((format(printf, 3, 4)));

/* Send LEN raw bytes as one datagram; seq is not advanced (line noise is not
 * a sentence of the counter's). 0, or -1 on error. */
int counter_gw_raw(struct counter_gw *c, const void *buf, size_t len);

/* One whole episode at DOOR: $PCDO, the counts in up to three $PCIO lines
 * (a counter may send one line per person or per episode), $PCDC, each its
 * own datagram, GAP_MS apart. 0, or -1 on error. */
int counter_gw_episode(struct counter_gw *c, unsigned door, unsigned boarded,
                       unsigned alighted, int gap_ms);

#endif
