/* http: the daemons' HTTP server (metrics, health, feeds, API, pages),
 * driven by the caller's poll loop. */
#ifndef SHUTTLE_HTTP_H
#define SHUTTLE_HTTP_H

/*
 * libmicrohttpd in epoll mode without threads of its own: the daemon keeps
 * one poll() loop, and this module only answers when the caller says so.
 * The callbacks run inside http_run, on the caller's stack, and must not
 * block; slow answers are deferred (http_req_defer) and completed later.
 *
 *   GET|HEAD /metrics  200, what `collect` wrote (Prometheus text)
 *   GET|HEAD /healthz  200 "ok", or 503 and what `health` said is down
 *   GET|HEAD other     what the optional `route` callback answers, else 404
 *   other methods      405 with `Allow: GET, HEAD`, on every path
 *
 * Before any callback sees a request: a URL (path and query) longer than
 * url_max is 414, a query string longer than query_max or with more than
 * args_max arguments is 400. The request line and headers together are
 * capped at HTTP_REQUEST_MAX bytes (MHD answers 431 or 414 past it).
 * Error answers are one short text/plain line.
 */

#include <stddef.h>
#include <time.h>

#include "metrics.h"

#define HTTP_REQUEST_MAX (16 * 1024)

/* Defaults for the zero fields of struct http_options. */
#define HTTP_CONN_MAX_DEFAULT 512
#define HTTP_PER_IP_MAX_DEFAULT 64
#define HTTP_TIMEOUT_S_DEFAULT 15
#define HTTP_URL_MAX_DEFAULT 2048
#define HTTP_QUERY_MAX_DEFAULT 1024
#define HTTP_ARGS_MAX_DEFAULT 16

struct http;
struct http_req;      /* one request, valid only inside the route callback */
struct http_response; /* an answer being built */
struct http_blob;     /* a cached answer shared by every request */
struct http_defer;    /* a request the caller answers later */

struct http_options {
    /* Address to listen on (IPv4 or IPv6 literal, or a host name resolved
     * once at start). NULL, "" or "none": the server is off. */
    const char *listen;
    int port; /* 0: the server is off */
    /* Limits; 0 takes the HTTP_*_DEFAULT above. */
    unsigned int conn_max;   /* open connections; MHD closes any past it */
    unsigned int per_ip_max; /* open connections from one address (behind
                              * a reverse proxy: all of them) */
    unsigned int timeout_s;  /* a connection silent this long is closed */
    size_t url_max;          /* bytes of path + '?' + query, else 414 */
    size_t query_max;        /* bytes of query string, else 400 */
    unsigned int args_max;   /* query arguments, else 400 */
    /* HTTPS: the server's certificate (chain) and key, PEM text (NULL:
     * plain HTTP). Copied by MHD at start. */
    const char *tls_cert_pem, *tls_key_pem;
};

struct http_callbacks {
    /* Write every metric into `out` (the writer keeps the first error;
     * a scrape that had one is answered 500). */
    void (*collect)(void *arg, struct metrics_buf *out);
    /* Return nonzero when healthy; otherwise write a short reason (one
     * line, e.g. "database down") into why. */
    int (*health)(void *arg, char *why, size_t whylen);
    /* Optional (NULL: only the two paths above). Called for a GET or HEAD
     * of any other path. Answer with one http_req_respond / _text / _blob
     * or take a token with http_req_defer; a request not answered is 404.
     * Runs in http_run: must not block. */
    void (*route)(void *arg, struct http_req *rq);
};

enum http_err {
    HTTP_OK = 0,
    HTTP_ERR_NOMEM = -1,
    HTTP_ERR_ADDR = -2,   /* the listen address does not resolve */
    HTTP_ERR_LISTEN = -3, /* cannot bind or listen (port taken, ...) */
    HTTP_ERR_START = -4,  /* libmicrohttpd refused to start */
    HTTP_ERR_RUN = -5,
    HTTP_ERR_ARG = -6,  /* a bad argument (header name, NULL, twice) */
    HTTP_ERR_ZLIB = -7, /* the gzip copy failed */
};

/*
 * Start listening. `cb` and `arg` must outlive the handle. When the options
 * say the server is off, returns HTTP_OK with *out NULL; every function
 * below accepts that NULL and does nothing. On error returns an http_err
 * with a message in err.
 */
int http_new(const struct http_options *o, const struct http_callbacks *cb,
             void *arg, struct http **out, char *err, size_t errlen);

/* Stop listening, close every connection (deferred ones too: their tokens
 * stay the caller's and completing them then only frees), free the
 * handle. Blobs outlive it and are still the caller's to free. */
void http_free(struct http *h);

/* The descriptor to poll for POLLIN (an epoll set of the listening socket
 * and the connections), or -1 with no server. */
int http_fd(struct http *h);

/* Milliseconds until http_run is due even without activity (-1: only on
 * activity; 0 once a deferred request was completed, so that its answer
 * goes out). Ask again after every http_run and every completion. */
int http_timeout_ms(struct http *h);

/* Accept, read, answer and time out connections, without blocking. Call
 * when http_fd is readable and when http_timeout_ms has passed; calling it
 * more often is harmless. HTTP_OK or HTTP_ERR_RUN. */
int http_run(struct http *h);

/* ------------------------------------------------------------ requests */

enum http_method { HTTP_GET, HTTP_HEAD };

enum http_method http_req_method(const struct http_req *rq);
/* The path, percent-decoded by MHD, without the query string. */
const char *http_req_path(const struct http_req *rq);
/* The first query argument called `name` (MHD compares names without
 * case: ?A=1 is found as "a"), percent-decoded; "" for a bare `?name`;
 * NULL when absent. Duplicates and unknown names are the caller's to
 * refuse (http_req_arg_count, http_req_arg_at, which give names as sent). */
const char *http_req_arg(const struct http_req *rq, const char *name);
/* The number of query arguments (at most args_max). */
unsigned int http_req_arg_count(const struct http_req *rq);
/* Argument i (0-based, in request order) into *name and *value (value ""
 * when bare). 0, or -1 when i is out of range. */
int http_req_arg_at(const struct http_req *rq, unsigned int i,
                    const char **name, const char **value);
/* A request header by name (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *rq, const char *name);

/* All strings above are MHD's and valid until the callback returns. */

/*
 * HTTP basic authentication against USER and PASSWORD: 1 when the request
 * carries them (compared in constant time), else 0 with the request
 * answered 401 and a `WWW-Authenticate: Basic realm="REALM"` challenge.
 * Over plain HTTP the password crosses the network readable: give the
 * server tls_cert_pem/tls_key_pem, or a TLS proxy in front.
 */
int http_req_basic_auth(struct http_req *rq, const char *realm,
                        const char *user, const char *password);

/* ----------------------------------------------------------- responses */

/*
 * A response of `status` (outside 100..599: 500) with Content-Type `type`
 * (NULL: text/plain; charset=utf-8) and body `body` of `len` bytes, which
 * must be malloc'd (or NULL with len 0) and becomes the response's to
 * free, also on failure. NULL on no memory.
 */
struct http_response *http_response_new(unsigned int status, const char *type,
                                        void *body, size_t len);
/* Add a header (copied), e.g. Cache-Control or Last-Modified. HTTP_OK or
 * HTTP_ERR_ARG (a name or value with CR/LF, or NULL). */
int http_response_header(struct http_response *r, const char *name,
                         const char *value);
/* Free a response that was never handed to http_req_respond or
 * http_defer_respond. */
void http_response_free(struct http_response *r);

/* Answer with r (taken, also on failure; NULL: 500). HTTP_OK, or
 * HTTP_ERR_ARG when the request was already answered or deferred. */
int http_req_respond(struct http_req *rq, struct http_response *r);
/* Answer `status` with a one-line text/plain message (copied). */
int http_req_text(struct http_req *rq, unsigned int status, const char *msg);
/* Answer with a cached blob: 200 with its bytes (gzip'd when the request's
 * Accept-Encoding allows), or 304 when If-None-Match names its ETag. The
 * blob stays the caller's; the request keeps its bytes alive. */
int http_req_blob(struct http_req *rq, struct http_blob *b);

/* --------------------------------------------------------------- blobs */

struct http_blob_options {
    const char *type;     /* Content-Type; NULL: application/octet-stream */
    time_t last_modified; /* Last-Modified; 0: none */
    int max_age;          /* Cache-Control: max-age=N; < 0: none */
};

/*
 * A cached answer of the `len` bytes at `bytes` (malloc'd, taken, also on
 * failure), with a strong ETag (a hash of the bytes), a gzip copy made
 * once, and the headers of `o`. The caller replaces a blob by making a
 * new one and freeing the old: requests still sending the old bytes keep
 * them until they are done. On error returns an http_err with a message.
 */
int http_blob_new(void *bytes, size_t len, const struct http_blob_options *o,
                  struct http_blob **out, char *err, size_t errlen);
/* Drop the caller's reference (NULL: nothing). */
void http_blob_free(struct http_blob *b);
/* The blob's ETag with its quotes (for tests and logs); the blob's. */
const char *http_blob_etag(const struct http_blob *b);
/* Bytes of the gzip copy (0: none; served plain then). */
size_t http_blob_gzip_len(const struct http_blob *b);

/* ------------------------------------------------------------ deferred */

/*
 * Say "answer later": the connection is suspended (its timeout stops) and
 * the returned token is the caller's until it hands it to exactly one
 * http_defer_respond / _text / _blob. NULL on no memory or when the
 * request was already answered (the request is then 500 or as answered).
 */
struct http_defer *http_req_defer(struct http_req *rq);
/* Complete a deferred request with r (taken; NULL: 500). The token is
 * freed: when the client has gone or the server was freed, that is all. */
void http_defer_respond(struct http_defer *d, struct http_response *r);
void http_defer_text(struct http_defer *d, unsigned int status,
                     const char *msg);
void http_defer_blob(struct http_defer *d, struct http_blob *b);

#endif
