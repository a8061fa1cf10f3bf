/* http: the daemons' HTTP server (metrics, health, feeds, API, pages),
 * driven by the caller's poll loop. */
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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#define HTTP_TEXT "text/plain; charset=utf-8"
#define HTTP_MSG_MAX 256 /* bytes of a one-line error answer */

struct http {
    struct MHD_Daemon *mhd;
    int epoll_fd;
    const struct http_callbacks *cb;
    void *arg;
    size_t url_max, query_max;
    unsigned int args_max;
    struct http_defer *suspended; /* deferred and not yet resumed */
    /* A connection was resumed since the last http_run: without a thread
     * of its own MHD learns of it only in MHD_run, which nothing on the
     * socket would trigger (the client just waits). */
    bool resumed;
};

/* What the URI log callback found, before MHD parses the request; the
 * request's con_cls points at one of these or at a struct http_defer. */
static const char http__uri_ok, http__uri_long, http__query_long;
/* Headers seen; answered on MHD's next call, once the (empty) body is in:
 * MHD closes a connection answered before that, losing keep-alive. */
static const char http__ready;

static bool http__marker(const void *p)
{
    return p == &http__uri_ok || p == &http__uri_long ||
           p == &http__query_long || p == &http__ready;
}

struct http_req {
    struct http *h;
    struct MHD_Connection *c;
    void **con_cls;
    const char *path;
    enum http_method method;
    bool answered;
    enum MHD_Result ret;
};

struct http_response {
    struct MHD_Response *r;
    unsigned int status;
};

/*
 * The MHD responses are built once; MHD counts their users itself, and
 * each body is freed by its response's free callback, so a blob the
 * caller drops stays readable until the last request sending it is done.
 */
struct http_blob {
    unsigned int refs; /* the caller's, plus one per deferred answer */
    struct MHD_Response *plain, *gzip;           /* gzip NULL: none */
    struct MHD_Response *same_plain, *same_gzip; /* 304s */
    size_t gzip_len;
    char etag[48], etag_gzip[52];
};

/* Held by the caller until completed, and by the connection until MHD
 * says the request is over; freed when neither holds it. */
struct http_defer {
    struct http *h; /* NULL once the server is gone */
    struct MHD_Connection *c;
    struct http_defer *prev, *next; /* in h->suspended */
    bool caller, conn, linked, done;
    struct http_response *r;
    struct http_blob *blob;
};

/* ------------------------------------------------------------ answers */

static enum MHD_Result http__queue(struct MHD_Connection *c,
                                   unsigned int status, struct MHD_Response *r)
{
    enum MHD_Result ret = MHD_queue_response(c, status, r);

    MHD_destroy_response(r); /* MHD keeps its own reference while sending */
    return ret;
}

static enum MHD_Result http__reply(struct MHD_Connection *c,
                                   unsigned int status, const char *type,
                                   void *body, size_t len,
                                   enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r;

    r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO; /* MHD closes the connection: all we can do */
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) !=
            MHD_YES ||
        (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") !=
             MHD_YES)) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return http__queue(c, status, r);
}

static enum MHD_Result http__text(struct MHD_Connection *c, unsigned int status,
                                  const char *text)
{
    return http__reply(c, status, HTTP_TEXT, (void *)text, strlen(text),
                       MHD_RESPMEM_PERSISTENT);
}

/* One line of text: a newline added, CR/LF inside replaced, capped. */
static struct MHD_Response *http__line(const char *msg)
{
    char line[HTTP_MSG_MAX];
    struct MHD_Response *r;
    size_t n = 0;

    for (const char *p = msg ? msg : ""; *p && n < sizeof line - 2; p++)
        line[n++] = *p == '\r' || *p == '\n' ? ' ' : *p;
    line[n++] = '\n';
    r = MHD_create_response_from_buffer(n, line, MHD_RESPMEM_MUST_COPY);
    if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                     HTTP_TEXT) != MHD_YES) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return r;
}

static enum MHD_Result http_metrics(struct http *h, struct MHD_Connection *c)
{
    struct metrics_buf *m = metrics_new();
    char *body;
    size_t len;

    if (!m)
        return http__text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    h->cb->collect(h->arg, m);
    /* Half a scrape would read as counters going back: all or nothing. */
    if (metrics_error(m) != METRICS_OK) {
        int e = metrics_error(m);

        metrics_free(m);
        return http__text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          e == METRICS_ERR_NOMEM
                              ? "out of memory\n"
                              : "metrics: bad name or order (a bug)\n");
    }
    body = metrics_take(m, &len);
    metrics_free(m);
    if (!body)
        return http__text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return http__reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len,
                       MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result http_health(struct http *h, struct MHD_Connection *c)
{
    char why[200], body[sizeof why + 1];
    size_t n;

    why[0] = '\0';
    if (h->cb->health(h->arg, why, sizeof why))
        return http__text(c, MHD_HTTP_OK, "ok\n");
    n = (size_t)snprintf(body, sizeof body, "%s\n", why[0] ? why : "unhealthy");
    if (n >= sizeof body)
        n = sizeof body - 1;
    return http__reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, HTTP_TEXT, body, n,
                       MHD_RESPMEM_MUST_COPY);
}

/* ----------------------------------------------------- blob selection */

static bool http__space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Whether the If-None-Match list names `etag`: `*`, or any tag equal to
 * it under the weak comparison (a W/ prefix ignored). */
static bool http__etag_match(const char *list, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = list;

    while (*p) {
        const char *end;
        size_t len;

        while (http__space(*p) || *p == ',')
            p++;
        end = p;
        while (*end && *end != ',')
            end++;
        len = (size_t)(end - p);
        while (len && http__space(p[len - 1]))
            len--;
        if (len == 1 && *p == '*')
            return true;
        if (len >= 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
            len -= 2;
        }
        if (len == n && memcmp(p, etag, n) == 0)
            return true;
        p = end;
    }
    return false;
}

/* Whether Accept-Encoding allows gzip: listed (or `*`) with q > 0. */
static bool http__accepts_gzip(const char *ae)
{
    double gz = -1, star = -1;
    const char *p = ae;

    while (p && *p) {
        const char *end, *semi, *q;
        size_t len;
        double qv = 1;

        while (http__space(*p) || *p == ',')
            p++;
        end = p;
        while (*end && *end != ',')
            end++;
        semi = memchr(p, ';', (size_t)(end - p));
        len = (size_t)((semi ? semi : end) - p);
        while (len && http__space(p[len - 1]))
            len--;
        for (q = semi; q && q < end; q++) {
            if ((*q == 'q' || *q == 'Q') && q + 1 < end && q[1] == '=') {
                qv = strtod(q + 2, NULL);
                break;
            }
        }
        if ((len == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (len == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gz = qv;
        else if (len == 1 && *p == '*')
            star = qv;
        p = end;
    }
    return gz >= 0 ? gz > 0 : star > 0;
}

static enum MHD_Result http__serve_blob(struct MHD_Connection *c,
                                        const struct http_blob *b)
{
    const char *ae, *inm;
    bool gz;

    ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_ACCEPT_ENCODING);
    gz = b->gzip && ae && http__accepts_gzip(ae);
    inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && http__etag_match(inm, gz ? b->etag_gzip : b->etag))
        return MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED,
                                  gz ? b->same_gzip : b->same_plain);
    return MHD_queue_response(c, MHD_HTTP_OK, gz ? b->gzip : b->plain);
}

/* ------------------------------------------------------------- deferred */

static void http__unlink(struct http_defer *d)
{
    if (!d->linked)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        d->h->suspended = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->prev = d->next = NULL;
    d->linked = false;
}

static void http__defer_release(struct http_defer *d)
{
    if (d->caller || d->conn)
        return;
    http_response_free(d->r);
    http_blob_free(d->blob);
    free(d);
}

/* The caller's completion: resume the connection, or only free when it
 * has gone. Takes r and a reference on b. */
static void http__complete(struct http_defer *d, struct http_response *r,
                           struct http_blob *b)
{
    if (!d) {
        http_response_free(r);
        http_blob_free(b);
        return;
    }
    d->caller = false;
    if (!d->conn || !d->h || d->done) {
        http_response_free(r);
        http_blob_free(b);
        http__defer_release(d);
        return;
    }
    d->r = r;
    d->blob = b;
    d->done = true;
    http__unlink(d);
    MHD_resume_connection(d->c); /* MHD calls http_answer again */
    d->h->resumed = true;
}

static enum MHD_Result http__answer_deferred(struct http_defer *d,
                                             struct MHD_Connection *c)
{
    struct http_response *r = d->r;

    if (!d->done)
        return MHD_YES; /* cannot happen: MHD does not call us suspended */
    if (d->blob)
        return http__serve_blob(c, d->blob);
    if (!r)
        return http__text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "internal error\n");
    d->r = NULL;
    {
        enum MHD_Result ret = http__queue(c, r->status, r->r);

        free(r);
        return ret;
    }
}

/* ------------------------------------------------------------- dispatch */

static void *http__uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    const struct http *h = cls;
    size_t len = strlen(uri);
    const char *q = memchr(uri, '?', len);

    (void)c;
    if (len > h->url_max)
        return (void *)&http__uri_long;
    if (q && strlen(q + 1) > h->query_max)
        return (void *)&http__query_long;
    return (void *)&http__uri_ok;
}

static void http__completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    struct http_defer *d = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (!d || http__marker(d))
        return;
    *con_cls = NULL;
    d->conn = false;
    http__unlink(d);
    http__defer_release(d);
}

static enum MHD_Result http_route(struct http *h, struct MHD_Connection *c,
                                  const char *url, bool head, void **con_cls)
{
    struct http_req rq = {
        h, c, con_cls, url, head ? HTTP_HEAD : HTTP_GET, false, MHD_YES};

    h->cb->route(h->arg, &rq);
    if (!rq.answered)
        return http__text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    return rq.ret;
}

/*
 * MHD calls this once when the headers are in and again when the body is.
 * Refusals (405, 414, 400) and requests that carry a body are answered on
 * the first call: MHD then closes the connection without reading the
 * body, so a POST of any size costs us nothing. Everything else is
 * answered on the second call, which keeps the connection alive. A
 * deferred request is called a third time once resumed, with its token
 * in *con_cls.
 */
static enum MHD_Result http_answer(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    const void *seen = *con_cls;

    (void)version;
    (void)upload_data;
    if (seen && !http__marker(seen))
        return http__answer_deferred(*con_cls, c);
    if (seen == &http__uri_long)
        return http__text(c, MHD_HTTP_URI_TOO_LONG, "URL too long\n");
    if (!get && !head)
        return http__text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "method not allowed\n");
    if (seen == &http__query_long)
        return http__text(c, MHD_HTTP_BAD_REQUEST, "query string too long\n");
    if (seen != &http__ready) {
        const char *cl = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

        if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) >
            (int)h->args_max)
            return http__text(c, MHD_HTTP_BAD_REQUEST,
                              "too many query arguments\n");
        if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_TRANSFER_ENCODING) &&
            (!cl || strcmp(cl, "0") == 0)) {
            *con_cls = (void *)&http__ready;
            return MHD_YES;
        }
        /* A body on a GET: answer now, and MHD drops it with the
         * connection. */
    } else if (*upload_data_size) {
        *upload_data_size = 0; /* cannot happen: no body was announced */
        return MHD_YES;
    }
    /* HEAD: MHD sends the headers of the GET answer and drops the body. */
    if (strcmp(url, "/metrics") == 0)
        return http_metrics(h, c);
    if (strcmp(url, "/healthz") == 0)
        return http_health(h, c);
    if (h->cb->route)
        return http_route(h, c, url, head, con_cls);
    return http__text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ------------------------------------------------------------ requests */

enum http_method http_req_method(const struct http_req *rq)
{
    return rq->method;
}

const char *http_req_path(const struct http_req *rq)
{
    return rq->path;
}

const char *http_req_arg(const struct http_req *rq, const char *name)
{
    const char *v = NULL;

    if (!name ||
        MHD_lookup_connection_value_n(rq->c, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), &v, NULL) != MHD_YES)
        return NULL;
    return v ? v : "";
}

unsigned int http_req_arg_count(const struct http_req *rq)
{
    int n = MHD_get_connection_values(rq->c, MHD_GET_ARGUMENT_KIND, NULL, NULL);

    return n > 0 ? (unsigned int)n : 0;
}

struct http__nth {
    unsigned int want, at;
    const char *name, *value;
};

static enum MHD_Result http__nth_arg(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    struct http__nth *n = cls;

    (void)kind;
    if (n->at++ != n->want)
        return MHD_YES;
    n->name = key;
    n->value = value ? value : "";
    return MHD_NO;
}

int http_req_arg_at(const struct http_req *rq, unsigned int i,
                    const char **name, const char **value)
{
    struct http__nth n = {i, 0, NULL, NULL};

    MHD_get_connection_values(rq->c, MHD_GET_ARGUMENT_KIND, http__nth_arg, &n);
    if (!n.name)
        return -1;
    *name = n.name;
    *value = n.value;
    return 0;
}

const char *http_req_header(const struct http_req *rq, const char *name)
{
    return name ? MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, name)
                : NULL;
}

/* ----------------------------------------------------------- responses */

struct http_response *http_response_new(unsigned int status, const char *type,
                                        void *body, size_t len)
{
    struct http_response *r = malloc(sizeof *r);

    if (!r) {
        free(body);
        return NULL;
    }
    /* MHD refuses other codes by closing the connection: say 500. */
    r->status = status >= 100 && status <= 599 ? status : 500;
    if (body)
        r->r =
            MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    else
        r->r = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);
    if (!r->r) {
        free(body);
        free(r);
        return NULL;
    }
    if (MHD_add_response_header(r->r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                type ? type : HTTP_TEXT) != MHD_YES ||
        (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
         MHD_add_response_header(r->r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") !=
             MHD_YES)) {
        http_response_free(r);
        return NULL;
    }
    return r;
}

int http_response_header(struct http_response *r, const char *name,
                         const char *value)
{
    if (!r || !name || !value || !*name || strpbrk(name, "\r\n: \t") ||
        strpbrk(value, "\r\n"))
        return HTTP_ERR_ARG;
    return MHD_add_response_header(r->r, name, value) == MHD_YES
               ? HTTP_OK
               : HTTP_ERR_NOMEM;
}

void http_response_free(struct http_response *r)
{
    if (!r)
        return;
    MHD_destroy_response(r->r);
    free(r);
}

int http_req_respond(struct http_req *rq, struct http_response *r)
{
    if (rq->answered) {
        http_response_free(r);
        return HTTP_ERR_ARG;
    }
    rq->answered = true;
    if (!r) {
        rq->ret = http__text(rq->c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "out of memory\n");
        return HTTP_ERR_NOMEM;
    }
    rq->ret = http__queue(rq->c, r->status, r->r);
    free(r);
    return HTTP_OK;
}

int http_req_text(struct http_req *rq, unsigned int status, const char *msg)
{
    struct MHD_Response *m;
    struct http_response *r = malloc(sizeof *r);

    m = r ? http__line(msg) : NULL;
    if (!m) {
        free(r);
        return http_req_respond(rq, NULL);
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        (void)MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    r->r = m;
    r->status = status;
    return http_req_respond(rq, r);
}

int http_req_blob(struct http_req *rq, struct http_blob *b)
{
    if (rq->answered || !b)
        return b ? HTTP_ERR_ARG : http_req_respond(rq, NULL);
    rq->answered = true;
    rq->ret = http__serve_blob(rq->c, b);
    return HTTP_OK;
}

/* --------------------------------------------------------------- blobs */

static void http_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* RFC 9110 IMF-fixdate, without the locale strftime would bring in. */
static void http__date(time_t t, char *out, size_t outlen)
{
    static const char day[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             day[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The headers every variant carries, on the 304s too (RFC 9110 15.4.5). */
static int http__blob_headers(struct MHD_Response *r, const char *etag,
                              const struct http_blob_options *o, bool body,
                              bool gzip)
{
    char v[64];

    if (MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding") !=
            MHD_YES)
        return -1;
    if (o->max_age >= 0) {
        snprintf(v, sizeof v, "max-age=%d", o->max_age);
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, v) !=
            MHD_YES)
            return -1;
    }
    if (o->last_modified > 0) {
        http__date(o->last_modified, v, sizeof v);
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, v) !=
            MHD_YES)
            return -1;
    }
    if (!body)
        return 0;
    if (MHD_add_response_header(
            r, MHD_HTTP_HEADER_CONTENT_TYPE,
            o->type ? o->type : "application/octet-stream") != MHD_YES)
        return -1;
    if (gzip && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                        "gzip") != MHD_YES)
        return -1;
    return 0;
}

/* A gzip copy (RFC 1952) of bytes into *out (malloc'd), or an http_err;
 * HTTP_OK with *out NULL when it would not be smaller. */
static int http__gzip(const void *bytes, size_t len, unsigned char **out,
                      size_t *outlen)
{
    z_stream z;
    unsigned char *buf;
    uLong bound;
    int rc;

    *out = NULL;
    *outlen = 0;
    if (len > UINT_MAX / 2)
        return HTTP_OK; /* zlib counts in uInt: serve such a body plain */
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return HTTP_ERR_ZLIB;
    bound = deflateBound(&z, (uLong)len);
    buf = malloc(bound ? bound : 1);
    if (!buf) {
        deflateEnd(&z);
        return HTTP_ERR_NOMEM;
    }
    z.next_in = (Bytef *)bytes;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return HTTP_ERR_ZLIB;
    }
    if (*outlen >= len) {
        free(buf);
        *outlen = 0;
        return HTTP_OK;
    }
    *out = buf;
    return HTTP_OK;
}

static struct MHD_Response *
http__blob_variant(void *body, size_t len, const char *etag,
                   const struct http_blob_options *o, bool gzip)
{
    struct MHD_Response *r;

    if (body)
        r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    else
        r = MHD_create_response_from_buffer(0, (void *)"",
                                            MHD_RESPMEM_PERSISTENT);
    if (r && http__blob_headers(r, etag, o, body != NULL, gzip) != 0) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return r;
}

int http_blob_new(void *bytes, size_t len, const struct http_blob_options *o,
                  struct http_blob **out, char *err, size_t errlen)
{
    static const struct http_blob_options none = {NULL, 0, -1};
    struct http_blob *b;
    unsigned char *gz = NULL;
    uLong crc, adl;
    int rc;

    *out = NULL;
    if (!o)
        o = &none;
    if (!bytes && len) {
        http_errf(err, errlen, "http_blob_new: no bytes");
        return HTTP_ERR_ARG;
    }
    if (!bytes) {
        bytes = malloc(1); /* an empty body is still the blob's to free */
        if (!bytes) {
            http_errf(err, errlen, "http_blob_new: out of memory");
            return HTTP_ERR_NOMEM;
        }
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        free(bytes);
        http_errf(err, errlen, "http_blob_new: out of memory");
        return HTTP_ERR_NOMEM;
    }
    b->refs = 1;
    /* Strong: the same bytes always give the same tag, across restarts. */
    crc = crc32_z(0L, bytes, len);
    adl = adler32_z(1L, bytes, len);
    snprintf(b->etag, sizeof b->etag, "\"%08lx%08lx-%zx\"", crc, adl, len);
    snprintf(b->etag_gzip, sizeof b->etag_gzip, "\"%08lx%08lx-%zx-gz\"", crc,
             adl, len);
    rc = http__gzip(bytes, len, &gz, &b->gzip_len);
    if (rc != HTTP_OK) {
        free(bytes);
        free(b);
        http_errf(err, errlen, "http_blob_new: gzip failed (%d)", rc);
        return rc;
    }
    /* From here each body belongs to its response, freed with it. */
    b->plain = http__blob_variant(bytes, len, b->etag, o, false);
    if (!b->plain)
        free(bytes);
    if (gz) {
        b->gzip = http__blob_variant(gz, b->gzip_len, b->etag_gzip, o, true);
        if (!b->gzip)
            free(gz);
        b->same_gzip = http__blob_variant(NULL, 0, b->etag_gzip, o, false);
    }
    b->same_plain = http__blob_variant(NULL, 0, b->etag, o, false);
    if (!b->plain || !b->same_plain || (gz && (!b->gzip || !b->same_gzip))) {
        http_blob_free(b);
        http_errf(err, errlen, "http_blob_new: out of memory");
        return HTTP_ERR_NOMEM;
    }
    *out = b;
    return HTTP_OK;
}

void http_blob_free(struct http_blob *b)
{
    if (!b || --b->refs > 0)
        return;
    /* Requests still sending hold MHD's own references to these. */
    if (b->plain)
        MHD_destroy_response(b->plain);
    if (b->gzip)
        MHD_destroy_response(b->gzip);
    if (b->same_plain)
        MHD_destroy_response(b->same_plain);
    if (b->same_gzip)
        MHD_destroy_response(b->same_gzip);
    free(b);
}

const char *http_blob_etag(const struct http_blob *b)
{
    return b->etag;
}

size_t http_blob_gzip_len(const struct http_blob *b)
{
    return b->gzip ? b->gzip_len : 0;
}

/* ------------------------------------------------------------ deferred */

struct http_defer *http_req_defer(struct http_req *rq)
{
    struct http_defer *d;

    if (rq->answered)
        return NULL;
    d = calloc(1, sizeof *d);
    if (!d) {
        http_req_respond(rq, NULL);
        return NULL;
    }
    d->h = rq->h;
    d->c = rq->c;
    d->caller = d->conn = d->linked = true;
    d->next = rq->h->suspended;
    if (d->next)
        d->next->prev = d;
    rq->h->suspended = d;
    *rq->con_cls = d;
    rq->answered = true;
    rq->ret = MHD_YES;
    MHD_suspend_connection(rq->c);
    return d;
}

void http_defer_respond(struct http_defer *d, struct http_response *r)
{
    http__complete(d, r, NULL);
}

void http_defer_text(struct http_defer *d, unsigned int status, const char *msg)
{
    struct http_response *r = malloc(sizeof *r);

    if (r) {
        r->status = status;
        r->r = http__line(msg);
        if (!r->r) {
            free(r);
            r = NULL;
        }
    }
    http__complete(d, r, NULL);
}

void http_defer_blob(struct http_defer *d, struct http_blob *b)
{
    if (b)
        b->refs++;
    http__complete(d, NULL, b);
}

/* ---------------------------------------------------------- the server */

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

/* Equal strings in a time that depends on their lengths only. */
static bool http__same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int http_req_basic_auth(struct http_req *rq, const char *realm,
                        const char *user, const char *password)
{
    char *pass = NULL;
    char *name = MHD_basic_auth_get_username_password(rq->c, &pass);
    bool ok = name && pass && user && password && http__same(name, user) &&
              http__same(pass, password);
    struct http_response *r;
    char *msg;

    if (name)
        MHD_free(name);
    if (pass)
        MHD_free(pass);
    if (ok)
        return 1;
    msg = strdup("authentication required\n");
    r = msg ? http_response_new(401, NULL, msg, strlen(msg)) : NULL;
    if (!r) {
        (void)http_req_text(rq, 500, "out of memory");
        return 0;
    }
    {
        char challenge[128];

        snprintf(challenge, sizeof challenge, "Basic realm=\"%s\"",
                 realm ? realm : "shuttle");
        (void)http_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                   challenge);
    }
    (void)http_req_respond(rq, r);
    return 0;
}

int http_new(const struct http_options *o, const struct http_callbacks *cb,
             void *arg, struct http **out, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
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
    h->url_max = o->url_max ? o->url_max : HTTP_URL_MAX_DEFAULT;
    h->query_max = o->query_max ? o->query_max : HTTP_QUERY_MAX_DEFAULT;
    h->args_max = o->args_max ? o->args_max : HTTP_ARGS_MAX_DEFAULT;
    rc = http_listen(o, &fd, &family, err, errlen);
    if (rc != HTTP_OK) {
        free(h);
        return rc;
    }
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls_cert_pem || o->tls_key_pem) {
        if (!o->tls_cert_pem || !o->tls_key_pem ||
            MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            close(fd);
            free(h);
            http_errf(err, errlen,
                      !o->tls_cert_pem || !o->tls_key_pem
                          ? "http: HTTPS needs both a certificate and its key"
                          : "http: this libmicrohttpd has no TLS support");
            return HTTP_ERR_START;
        }
        flags |= MHD_USE_TLS;
    }
    /* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs only inside http_run.
     * No MHD_USE_ERROR_LOG: this module does not log; MHD stays quiet. */
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, http_answer, h, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_REQUEST_MAX,
        MHD_OPTION_CONNECTION_LIMIT,
        o->conn_max ? o->conn_max : (unsigned int)HTTP_CONN_MAX_DEFAULT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        o->per_ip_max ? o->per_ip_max : (unsigned int)HTTP_PER_IP_MAX_DEFAULT,
        MHD_OPTION_CONNECTION_TIMEOUT,
        o->timeout_s ? o->timeout_s : (unsigned int)HTTP_TIMEOUT_S_DEFAULT,
        MHD_OPTION_URI_LOG_CALLBACK, http__uri_log, h,
        MHD_OPTION_NOTIFY_COMPLETED, http__completed, h,
        /* Both NULL without TLS: MHD then takes the next option as END. */
        o->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
        o->tls_cert_pem, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key_pem,
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
    /* MHD will not stop with connections suspended: wake them, and let
     * their tokens know the server is gone (completion then only frees). */
    while (h->suspended) {
        struct http_defer *d = h->suspended;

        http__unlink(d);
        d->h = NULL;
        MHD_resume_connection(d->c);
    }
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

    if (h && h->resumed)
        return 0;
    if (!h || MHD_get_timeout(h->mhd, &t) != MHD_YES)
        return -1;
    return t > INT_MAX ? INT_MAX : (int)t;
}

int http_run(struct http *h)
{
    if (!h)
        return HTTP_OK;
    h->resumed = false;
    return MHD_run(h->mhd) == MHD_YES ? HTTP_OK : HTTP_ERR_RUN;
}
