/* http: /metrics and /healthz over HTTP, driven by the caller's poll loop. */
#ifndef SHUTTLE_HTTP_H
#define SHUTTLE_HTTP_H

/*
 * libmicrohttpd in epoll mode without threads of its own: the daemon keeps
 * one poll() loop, and this module only answers when the caller says so.
 * Requests are answered from the callbacks at once, so the callbacks run
 * inside http_run, on the caller's stack, and must not block.
 *
 *   GET|HEAD /metrics  200, what `collect` wrote (Prometheus text)
 *   GET|HEAD /healthz  200 "ok", or 503 and what `health` said is down
 *   other paths        what the optional `route` callback answers, else 404
 *   other methods      405 (with Allow) on the two paths above
 *
 * Query strings are ignored; request line and headers are capped at
 * HTTP_REQUEST_MAX bytes (MHD answers larger requests with 431 itself).
 */

#include <stddef.h>

#include "metrics.h"

#define HTTP_REQUEST_MAX (16 * 1024)

struct http;

struct http_options {
    /* Address to listen on (IPv4 or IPv6 literal, or a host name resolved
     * once at start). NULL, "" or "none": the server is off. */
    const char *listen;
    int port; /* 0: the server is off */
};

struct http_callbacks {
    /* Write every metric into `out` (the writer keeps the first error;
     * a scrape that had one is answered 500). */
    void (*collect)(void *arg, struct metrics_buf *out);
    /* Return nonzero when healthy; otherwise write a short reason (one
     * line, e.g. "database down") into why. */
    int (*health)(void *arg, char *why, size_t whylen);
    /* Optional (NULL: only the two paths above). Called for a GET or HEAD
     * of any other path (query string stripped). Return 0 when the path
     * is not the caller's (404), else the HTTP status, with *body a
     * malloc'd text/plain answer of *len bytes that http frees (NULL with
     * a status: an empty answer). Runs in http_run: must not block. */
    int (*route)(void *arg, const char *path, char **body, size_t *len);
};

enum http_err {
    HTTP_OK = 0,
    HTTP_ERR_NOMEM = -1,
    HTTP_ERR_ADDR = -2,   /* the listen address does not resolve */
    HTTP_ERR_LISTEN = -3, /* cannot bind or listen (port taken, ...) */
    HTTP_ERR_START = -4,  /* libmicrohttpd refused to start */
    HTTP_ERR_RUN = -5,
};

/*
 * Start listening. `cb` and `arg` must outlive the handle. When the options
 * say the server is off, returns HTTP_OK with *out NULL; every function
 * below accepts that NULL and does nothing. On error returns an http_err
 * with a message in err.
 */
int http_new(const struct http_options *o, const struct http_callbacks *cb,
             void *arg, struct http **out, char *err, size_t errlen);

/* Stop listening, close every connection, free the handle. */
void http_free(struct http *h);

/* The descriptor to poll for POLLIN (an epoll set of the listening socket
 * and the connections), or -1 with no server. */
int http_fd(struct http *h);

/* Milliseconds until http_run is due even without activity (-1: only on
 * activity). Ask again after every http_run. */
int http_timeout_ms(struct http *h);

/* Accept, read, answer and time out connections, without blocking. Call
 * when http_fd is readable and when http_timeout_ms has passed; calling it
 * more often is harmless. HTTP_OK or HTTP_ERR_RUN. */
int http_run(struct http *h);

#endif
