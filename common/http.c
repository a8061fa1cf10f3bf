/* http: /metrics and /healthz over HTTP, driven by the caller's poll loop. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define HTTP_CONNECTIONS_MAX 64
#define HTTP_PER_IP_MAX 16
#define HTTP_IDLE_S 10 /* a client silent this long is dropped */
#define HTTP_TEXT "text/plain; charset=utf-8"

struct http {
    struct MHD_Daemon *mhd;
    int epoll_fd;
    const struct http_callbacks *cb;
    void *arg;
};

static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned int status,
                                  const char *type, void *body, size_t len,
                                  enum MHD_ResponseMemoryMode mode, bool allow)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO; /* MHD closes the connection: all we can do */
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) !=
            MHD_YES ||
        (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                          "GET, HEAD") != MHD_YES)) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_text(struct MHD_Connection *c, unsigned int status,
                                 const char *text)
{
    return http_reply(c, status, HTTP_TEXT, (void *)text, strlen(text),
                      MHD_RESPMEM_PERSISTENT, false);
}

static enum MHD_Result http_metrics(struct http *h, struct MHD_Connection *c)
{
    struct metrics_buf *m = metrics_new();
    char *body;
    size_t len;

    if (!m)
        return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    h->cb->collect(h->arg, m);
    /* Half a scrape would read as counters going back: all or nothing. */
    if (metrics_error(m) != METRICS_OK) {
        int e = metrics_error(m);

        metrics_free(m);
        return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         e == METRICS_ERR_NOMEM
                             ? "out of memory\n"
                             : "metrics: bad name or order (a bug)\n");
    }
    body = metrics_take(m, &len);
    metrics_free(m);
    if (!body)
        return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return http_reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len,
                      MHD_RESPMEM_MUST_FREE, false);
}

static enum MHD_Result http_health(struct http *h, struct MHD_Connection *c)
{
    char why[200], body[sizeof why + 1];
    size_t n;

    why[0] = '\0';
    if (h->cb->health(h->arg, why, sizeof why))
        return http_text(c, MHD_HTTP_OK, "ok\n");
    n = (size_t)snprintf(body, sizeof body, "%s\n", why[0] ? why : "unhealthy");
    if (n >= sizeof body)
        n = sizeof body - 1;
    return http_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, HTTP_TEXT, body, n,
                      MHD_RESPMEM_MUST_COPY, false);
}

/* A path of the caller's (struct http_callbacks.route). */
static enum MHD_Result http_route(struct http *h, struct MHD_Connection *c,
                                  const char *url)
{
    char *body = NULL;
    size_t len = 0;
    int status = h->cb->route(h->arg, url, &body, &len);

    if (status == 0) {
        free(body);
        return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (!body)
        return http_reply(c, (unsigned int)status, HTTP_TEXT, (void *)"", 0,
                          MHD_RESPMEM_PERSISTENT, false);
    return http_reply(c, (unsigned int)status, HTTP_TEXT, body, len,
                      MHD_RESPMEM_MUST_FREE, false);
}

/*
 * Every request is answered on the first call, before any body is read:
 * no path here takes one, and MHD closes a connection whose body was left
 * unread, so a POST of any size costs us nothing.
 */
static enum MHD_Result http_answer(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    bool metrics = strcmp(url, "/metrics") == 0;
    bool health = strcmp(url, "/healthz") == 0;

    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (!metrics && !health && h->cb->route && get)
        return http_route(h, c, url);
    if (!metrics && !health)
        return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (!get && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char text[] = "method not allowed\n";

        return http_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_TEXT,
                          (void *)text, sizeof text - 1, MHD_RESPMEM_PERSISTENT,
                          true);
    }
    /* HEAD: MHD sends the headers of the GET answer and drops the body. */
    return metrics ? http_metrics(h, c) : http_health(h, c);
}

static void http_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * Bind and listen ourselves rather than let MHD do it: its start fails
 * without saying why, and "address already in use" is the one error an
 * operator needs to see.
 */
static int http_listen(const struct http_options *o, int *fd_out, int *family,
                       char *err, size_t errlen)
{
    struct addrinfo hints, *res, *ai;
    char port[16];
    int rc, fd = -1, saved = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", o->port);
    rc = getaddrinfo(o->listen, port, &hints, &res);
    if (rc != 0) {
        http_errf(err, errlen, "http_listen %s: %s", o->listen,
                  gai_strerror(rc));
        return HTTP_ERR_ADDR;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        /* A restart must not wait for the last run's TIME_WAITs. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0) {
            *family = ai->ai_family;
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        http_errf(err, errlen, "http: cannot listen on %s port %d: %s",
                  o->listen, o->port, strerror(saved));
        return HTTP_ERR_LISTEN;
    }
    *fd_out = fd;
    return HTTP_OK;
}

int http_new(const struct http_options *o, const struct http_callbacks *cb,
             void *arg, struct http **out, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_EPOLL;
    struct http *h;
    int fd, family, rc;

    *out = NULL;
    if (o->port <= 0 || !o->listen || !*o->listen ||
        strcmp(o->listen, "none") == 0)
        return HTTP_OK;
    if (o->port > 65535) {
        http_errf(err, errlen, "http: port %d out of range", o->port);
        return HTTP_ERR_ADDR;
    }
    h = calloc(1, sizeof *h);
    if (!h) {
        http_errf(err, errlen, "http: out of memory");
        return HTTP_ERR_NOMEM;
    }
    h->cb = cb;
    h->arg = arg;
    rc = http_listen(o, &fd, &family, err, errlen);
    if (rc != HTTP_OK) {
        free(h);
        return rc;
    }
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs only inside http_run.
     * No MHD_USE_ERROR_LOG: this module does not log; MHD stays quiet. */
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, http_answer, h, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_REQUEST_MAX,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_S,
        MHD_OPTION_END);
    if (!h->mhd) {
        /* Whether MHD closed a socket it was given depends on where it
         * failed; close it only if it is still open. */
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        free(h);
        http_errf(err, errlen,
                  "http: libmicrohttpd did not start on %s port %d", o->listen,
                  o->port);
        return HTTP_ERR_START;
    }
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || info->epoll_fd < 0) {
        MHD_stop_daemon(h->mhd);
        free(h);
        http_errf(err, errlen, "http: libmicrohttpd has no epoll descriptor");
        return HTTP_ERR_START;
    }
    h->epoll_fd = info->epoll_fd;
    *out = h;
    return HTTP_OK;
}

void http_free(struct http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->mhd); /* closes the listening socket too */
    free(h);
}

int http_fd(struct http *h)
{
    return h ? h->epoll_fd : -1;
}

int http_timeout_ms(struct http *h)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (!h || MHD_get_timeout(h->mhd, &t) != MHD_YES)
        return -1;
    return t > INT_MAX ? INT_MAX : (int)t;
}

int http_run(struct http *h)
{
    if (!h)
        return HTTP_OK;
    return MHD_run(h->mhd) == MHD_YES ? HTTP_OK : HTTP_ERR_RUN;
}
