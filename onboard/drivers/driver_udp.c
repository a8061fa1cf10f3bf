/* driver_udp: a counter gateway that sends its lines as UDP datagrams. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver.h"

struct counter_dev {
    int fd;
};

/*
 * Split "PORT", "ADDR:PORT" or "[V6]:PORT" into host and port strings.
 * A bare port binds loopback: a counter input open to the whole network by
 * default would let anyone on it inject passenger counts.
 */
static int driver_udp__split_addr(const char *spec, char *host, size_t hostlen,
                                  char *port, size_t portlen)
{
    const char *colon, *h = spec;
    size_t hl;

    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        h = spec + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else if ((colon = strrchr(spec, ':')) != NULL) {
        if (strchr(spec, ':') != colon) /* bare IPv6 without [] */
            return -1;
        hl = (size_t)(colon - spec);
    } else {
        h = "127.0.0.1";
        hl = strlen(h);
        colon = spec - 1;
    }
    if (hl == 0 || hl >= hostlen || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= portlen ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        atol(colon + 1) > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

static int driver_udp__open(const struct counter_opts *o,
                            struct counter_dev **out)
{
    struct addrinfo hints, *ai = NULL;
    struct counter_dev *dev;
    char host[64], port[8];
    int fd, saved_errno;

    if (o->path == NULL || driver_udp__split_addr(o->path, host, sizeof host,
                                                  port, sizeof port) < 0) {
        errno = EINVAL;
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        errno = EINVAL;
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        goto fail;
    if ((dev = malloc(sizeof *dev)) == NULL)
        goto fail;
    freeaddrinfo(ai);
    dev->fd = fd;
    *out = dev;
    return 0;

fail:
    saved_errno = errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    errno = saved_errno;
    return -1;
}

static int driver_udp__fd(const struct counter_dev *dev)
{
    return dev->fd;
}

static ssize_t driver_udp__read(struct counter_dev *dev, void *buf, size_t len)
{
    char *p = buf;
    ssize_t n;

    if (len < 2) {
        errno = EINVAL;
        return -1;
    }
    /* One byte kept back for the '\n' that ends the datagram's last line. */
    n = recv(dev->fd, buf, len - 1, 0);
    if (n < 0) {
        /* ECONNREFUSED and the like are a sender's problem, not ours. */
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNREFUSED)
            return 0;
        return -1;
    }
    if (n == 0)
        return 0;
    /* A datagram never continues in the next one: end its last line here
     * so a sender that leaves out the final "\r\n" is still understood. */
    if (p[n - 1] != '\n')
        p[n++] = '\n';
    return n;
}

static void driver_udp__close(struct counter_dev *dev)
{
    if (dev == NULL)
        return;
    close(dev->fd);
    free(dev);
}

const struct counter_driver counter_driver_udp = {
    .name = "udp",
    .open = driver_udp__open,
    .fd = driver_udp__fd,
    .read = driver_udp__read,
    .close = driver_udp__close,
};
