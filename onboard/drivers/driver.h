/* driver: the method table every passenger-counter input implements. */
#ifndef SHUTTLE_COUNTER_DRIVER_H
#define SHUTTLE_COUNTER_DRIVER_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

/*
 * Where the counter is. Each driver reads the fields it needs:
 *   serial: `path` is the tty device, `baud` one of 9600, 19200, 38400,
 *           57600, 115200;
 *   udp:    `path` is where to bind: "PORT" (on 127.0.0.1), "ADDR:PORT" or
 *           "[IPV6]:PORT", numeric addresses only (no DNS lookup may block
 *           the daemon's loop); port 0 picks a free one.
 */
struct counter_opts {
    const char *path;
    long baud;
};

/* One open input; each driver defines its own. */
struct counter_dev;

/*
 * All calls return -1 with errno set on failure (EINVAL for bad options), so
 * the daemon can log_warn the cause; drivers never log. No call blocks.
 */
struct counter_driver {
    const char *name; /* "serial", "udp": the config's counter_input */

    /* Open the input; *out is the caller's until close. */
    int (*open)(const struct counter_opts *o, struct counter_dev **out);

    /* The descriptor to poll for POLLIN; owned by the device. */
    int (*fd)(const struct counter_dev *dev);

    /*
     * Read what is available into buf, for apc_reader_next. Returns the
     * byte count (> 0), 0 when nothing is available now, or -1: the input
     * is gone (e.g. USB adapter unplugged: errno EIO); close and reopen it.
     * A UDP read returns one datagram and ends it with '\n' if it had none,
     * so len must leave room for one byte more than the datagram.
     */
    ssize_t (*read)(struct counter_dev *dev, void *buf, size_t len);

    /* Release everything (a tty gets its previous settings back). */
    void (*close)(struct counter_dev *dev);
};

extern const struct counter_driver counter_driver_serial;
extern const struct counter_driver counter_driver_udp;

/* The driver called `name`, or NULL. */
static inline const struct counter_driver *counter_driver_find(const char *name)
{
    if (strcmp(name, counter_driver_serial.name) == 0)
        return &counter_driver_serial;
    if (strcmp(name, counter_driver_udp.name) == 0)
        return &counter_driver_udp;
    return NULL;
}

#endif
