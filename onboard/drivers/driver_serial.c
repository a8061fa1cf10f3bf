/* driver_serial: a counter on a tty, raw 8N1, read without blocking. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "driver.h"

struct counter_dev {
    int fd;
    struct termios saved; /* put back on close: the port is shared with
                             whatever configured it before us */
};

static int driver_serial__baud_flag(long baud, speed_t *out)
{
    switch (baud) {
    case 9600:
        *out = B9600;
        return 0;
    case 19200:
        *out = B19200;
        return 0;
    case 38400:
        *out = B38400;
        return 0;
    case 57600:
        *out = B57600;
        return 0;
    case 115200:
        *out = B115200;
        return 0;
    }
    return -1;
}

static int driver_serial__open(const struct counter_opts *o,
                               struct counter_dev **out)
{
    struct counter_dev *dev;
    struct termios t;
    speed_t speed;
    int fd, saved_errno;

    if (o->path == NULL || driver_serial__baud_flag(o->baud, &speed) < 0) {
        errno = EINVAL;
        return -1;
    }
    /* O_NOCTTY: a counter's port must never become our controlling tty,
     * or a hang-up on it would signal the daemon. */
    fd = open(o->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if ((dev = calloc(1, sizeof *dev)) == NULL)
        goto fail;
    dev->fd = fd;
    if (tcgetattr(fd, &dev->saved) < 0) /* ENOTTY for a plain file */
        goto fail;
    /* Two readers on one port each get half the bytes: keep others out. */
    (void)ioctl(fd, TIOCEXCL);
    t = dev->saved;
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS | CSIZE);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0)
        goto fail;
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        goto fail;
    /* Bytes queued before we configured the port are at a wrong speed or
     * stale; start clean. */
    (void)tcflush(fd, TCIFLUSH);
    *out = dev;
    return 0;

fail:
    saved_errno = errno;
    free(dev);
    close(fd);
    errno = saved_errno;
    return -1;
}

static int driver_serial__fd(const struct counter_dev *dev)
{
    return dev->fd;
}

static ssize_t driver_serial__read(struct counter_dev *dev, void *buf,
                                   size_t len)
{
    ssize_t n = read(dev->fd, buf, len);

    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    /* End of file on a tty is a hang-up: the device went away. */
    if (n == 0)
        errno = EIO;
    return -1;
}

static void driver_serial__close(struct counter_dev *dev)
{
    if (dev == NULL)
        return;
    (void)tcsetattr(dev->fd, TCSANOW, &dev->saved);
    close(dev->fd);
    free(dev);
}

const struct counter_driver counter_driver_serial = {
    .name = "serial",
    .open = driver_serial__open,
    .fd = driver_serial__fd,
    .read = driver_serial__read,
    .close = driver_serial__close,
};
