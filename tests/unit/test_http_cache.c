/* common/http in-process over loopback sockets: cached blobs (ETag, 304,
 * gzip, HEAD, replacement under a slow reader), limits, 405, and deferred
 * answers (completed, and with the client or the server gone first). */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "http.h"

#define T_MODIFIED 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

struct t_ctx {
    struct http *h;
    int port;
    struct http_blob *blob;
    struct http_defer *d;
    int routed;
};

struct t_client {
    int fd;
    char *buf;
    size_t len, cap;
    int eof;
};

struct t_reply {
    int status;
    char head[4096];
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
};

static void t_collect(void *arg, struct metrics_buf *out)
{
    (void)arg;
    (void)out;
}

static int t_health(void *arg, char *why, size_t whylen)
{
    (void)arg;
    (void)why;
    (void)whylen;
    return 1;
}

static void t_route(void *arg, struct http_req *rq)
{
    struct t_ctx *c = arg;
    const char *path = http_req_path(rq);

    c->routed++;
    if (strcmp(path, "/feed") == 0) {
        assert_int_equal(http_req_blob(rq, c->blob), HTTP_OK);
    } else if (strcmp(path, "/defer") == 0) {
        c->d = http_req_defer(rq);
        assert_non_null(c->d);
    } else if (strcmp(path, "/args") == 0) {
        char line[256], *body;
        const char *a = http_req_arg(rq, "a"), *b = http_req_arg(rq, "b");
        const char *n0 = "-", *v0 = "-";
        struct http_response *r;

        (void)http_req_arg_at(rq, 0, &n0, &v0);
        snprintf(line, sizeof line, "n=%u a=[%s] b=[%s] z=%s first=%s:%s\n",
                 http_req_arg_count(rq), a ? a : "(null)", b ? b : "(null)",
                 http_req_arg(rq, "z") ? "yes" : "no", n0, v0);
        body = strdup(line);
        assert_non_null(body);
        r = http_response_new(200, "text/plain", body, strlen(body));
        assert_non_null(r);
        assert_int_equal(http_response_header(r, "Cache-Control", "no-store"),
                         HTTP_OK);
        assert_int_equal(http_response_header(r, "X-Bad", "a\r\nb"),
                         HTTP_ERR_ARG);
        assert_int_equal(http_req_respond(rq, r), HTTP_OK);
        /* Answering twice is refused, not sent. */
        assert_int_equal(http_req_text(rq, 500, "twice"), HTTP_ERR_ARG);
    } else if (strcmp(path, "/ops") == 0) {
        if (http_req_basic_auth(rq, "ops", "op", "pa:ss"))
            (void)http_req_text(rq, 200, "in");
    } else if (strcmp(path, "/hdr") == 0) {
        const char *v = http_req_header(rq, "x-test");

        (void)http_req_text(rq, v ? 200 : 400, v ? v : "no x-test");
    }
    /* anything else: unanswered, so 404 */
}

static const struct http_callbacks t_cb = {t_collect, t_health, t_route};

static int t_free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void t_start(struct t_ctx *c)
{
    struct http_options o = {.listen = "127.0.0.1"};
    char err[256];

    c->port = t_free_port();
    o.port = c->port;
    assert_int_equal(http_new(&o, &t_cb, c, &c->h, err, sizeof err), HTTP_OK);
    assert_non_null(c->h);
}

/* Bytes that compress: the feeds are text or protobuf with repeats. */
static char *t_bytes(size_t len, unsigned int seed, size_t *out_len)
{
    char *p = malloc(len);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + (i / 7 + seed) % 26);
    *out_len = len;
    return p;
}

static void t_set_blob(struct t_ctx *c, const void *src, size_t len)
{
    struct http_blob_options o = {"application/x-test", T_MODIFIED, 30};
    char err[256];
    void *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    memcpy(copy, src, len);
    http_blob_free(c->blob);
    c->blob = NULL;
    assert_int_equal(http_blob_new(copy, len, &o, &c->blob, err, sizeof err),
                     HTTP_OK);
}

static struct t_client t_connect(struct t_ctx *c, const char *req, int rcvbuf)
{
    struct t_client cl = {-1, NULL, 0, 0, 0};
    struct sockaddr_in a;
    size_t off = 0, len = strlen(req);

    cl.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cl.fd >= 0);
    if (rcvbuf)
        setsockopt(cl.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)c->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(cl.fd, (struct sockaddr *)&a, sizeof a), 0);
    while (off < len) {
        ssize_t n = send(cl.fd, req + off, len - off, MSG_NOSIGNAL);

        if (n <= 0)
            break; /* refused before it was all read: the answer says */
        off += (size_t)n;
    }
    return cl;
}

/*
 * Run the server and read from the client for up to ms milliseconds,
 * until EOF or until `want` bytes (0: EOF) are in.
 */
static long long t_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void t_pump(struct t_ctx *c, struct t_client *cl, size_t want, int ms)
{
    long long end = t_now_ms() + ms;

    while (t_now_ms() < end) {
        struct pollfd p[2] = {{http_fd(c->h), POLLIN, 0},
                              {cl ? cl->fd : -1, POLLIN, 0}};
        /* As the daemons' loops do: http_run only when its descriptor is
         * readable or its timeout has passed (a completed deferred
         * request must make that happen by itself). */
        int hto = http_timeout_ms(c->h), to = hto < 0 || hto > 10 ? 10 : hto;

        (void)poll(p, 2, to);
        if (p[0].revents || (hto >= 0 && hto <= to))
            assert_int_equal(http_run(c->h), HTTP_OK);
        if (!cl || cl->fd < 0 || !(p[1].revents & (POLLIN | POLLHUP)))
            continue;
        for (;;) {
            size_t room;
            ssize_t n;

            if (cl->cap - cl->len < 65536) {
                cl->cap = cl->cap * 2 + 65536;
                cl->buf = realloc(cl->buf, cl->cap + 1);
                assert_non_null(cl->buf);
            }
            room = cl->cap - cl->len;
            if (want && want - cl->len < room)
                room = want - cl->len;
            n = recv(cl->fd, cl->buf + cl->len, room, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                cl->eof = 1;
            if (n <= 0)
                break;
            cl->len += (size_t)n;
            if (want && cl->len >= want)
                return;
        }
        if (cl->eof)
            return;
    }
}

static void t_parse(struct t_client *cl, struct t_reply *r)
{
    char *end;

    memset(r, 0, sizeof *r);
    r->status = -1;
    if (!cl->buf)
        return;
    cl->buf[cl->len] = '\0';
    if (sscanf(cl->buf, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = -1;
    end = strstr(cl->buf, "\r\n\r\n");
    if (!end)
        return;
    snprintf(r->head, sizeof r->head, "%.*s\r\n", (int)(end - cl->buf),
             cl->buf);
    r->body_len = cl->len - (size_t)(end + 4 - cl->buf);
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, end + 4, r->body_len);
    r->body[r->body_len] = '\0';
}

static void t_close(struct t_client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    free(cl->buf);
    cl->buf = NULL;
}

/* One HTTP/1.0 exchange: the server closes after answering. */
static void t_get(struct t_ctx *c, const char *method, const char *target,
                  const char *headers, struct t_reply *r)
{
    char *req;
    struct t_client cl;
    size_t n = strlen(target) + (headers ? strlen(headers) : 0) + 128;

    req = malloc(n);
    assert_non_null(req);
    snprintf(req, n, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", method,
             target, headers ? headers : "");
    cl = t_connect(c, req, 0);
    free(req);
    t_pump(c, &cl, 0, 5000);
    assert_true(cl.eof);
    t_parse(&cl, r);
    t_close(&cl);
}

/* The value of header `name` in r (copied into out), or NULL. */
static const char *t_header(const struct t_reply *r, const char *name,
                            char *out, size_t outlen)
{
    char key[128];
    const char *p, *e;

    snprintf(key, sizeof key, "\r\n%s: ", name);
    p = strcasestr(r->head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    e = strstr(p, "\r\n");
    snprintf(out, outlen, "%.*s", (int)(e - p), p);
    return out;
}

static void t_reply_free(struct t_reply *r)
{
    free(r->body);
    r->body = NULL;
}

static void t_stop(struct t_ctx *c)
{
    http_free(c->h);
    http_blob_free(c->blob);
    c->h = NULL;
    c->blob = NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_etag_304(void **state)
{
    struct t_ctx c = {0};
    struct t_reply r;
    char v[256], etag[128], hdr[300];
    size_t len;
    char *bytes = t_bytes(20000, 0, &len);

    (void)state;
    t_start(&c);
    t_set_blob(&c, bytes, len);
    t_get(&c, "GET", "/feed", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, bytes, len);
    assert_non_null(t_header(&r, "ETag", etag, sizeof etag));
    assert_string_equal(etag, http_blob_etag(c.blob));
    assert_true(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
    assert_string_equal(t_header(&r, "Content-Type", v, sizeof v),
                        "application/x-test");
    assert_string_equal(t_header(&r, "Cache-Control", v, sizeof v),
                        "max-age=30");
    assert_string_equal(t_header(&r, "Last-Modified", v, sizeof v),
                        "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_string_equal(t_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_null(t_header(&r, "Content-Encoding", v, sizeof v));
    t_reply_free(&r);

    /* The same bytes give the same tag; others another. */
    {
        struct http_blob *b2;
        char err[64], *copy = malloc(len);

        memcpy(copy, bytes, len);
        copy[len / 2] ^= 1;
        assert_int_equal(http_blob_new(copy, len, NULL, &b2, err, sizeof err),
                         HTTP_OK);
        assert_string_not_equal(http_blob_etag(b2), etag);
        http_blob_free(b2);
    }

    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    t_get(&c, "GET", "/feed", hdr, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(t_header(&r, "ETag", v, sizeof v), etag);
    assert_string_equal(t_header(&r, "Cache-Control", v, sizeof v),
                        "max-age=30");
    t_reply_free(&r);
    /* A list, with the weak form of our tag in it. */
    snprintf(hdr, sizeof hdr, "If-None-Match: \"nope\" , W/%s\r\n", etag);
    t_get(&c, "GET", "/feed", hdr, &r);
    assert_int_equal(r.status, 304);
    t_reply_free(&r);
    t_get(&c, "GET", "/feed", "If-None-Match: *\r\n", &r);
    assert_int_equal(r.status, 304);
    t_reply_free(&r);
    t_get(&c, "GET", "/feed", "If-None-Match: \"nope\", \"other\"\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    t_reply_free(&r);
    /* Garbage in the header is only a non-match. */
    t_get(&c, "GET", "/feed", "If-None-Match: ,,, W/ \"\r\n", &r);
    assert_int_equal(r.status, 200);
    t_reply_free(&r);

    /* Keep-alive: two HTTP/1.1 requests on one connection, both answered
     * (MHD closes a connection answered before its body is read). */
    {
        struct t_client cl = t_connect(&c,
                                       "GET /feed HTTP/1.1\r\nHost: x\r\n\r\n"
                                       "GET /feed HTTP/1.1\r\nHost: x\r\n"
                                       "Connection: close\r\n\r\n",
                                       0);
        const char *p;
        int n = 0;

        t_pump(&c, &cl, 0, 5000);
        assert_true(cl.eof);
        cl.buf[cl.len] = '\0';
        assert_true(cl.len > 2 * len && cl.len < 2 * len + 1024);
        for (p = cl.buf; (p = strstr(p, "HTTP/1.1 200 OK\r\n")); p++)
            n++;
        assert_int_equal(n, 2);
        t_close(&cl);
    }

    t_stop(&c);
    free(bytes);
}

static void test_gzip(void **state)
{
    struct t_ctx c = {0};
    struct t_reply r;
    char v[256], etag_gz[128], hdr[300];
    size_t len;
    char *bytes = t_bytes(20000, 3, &len);
    unsigned char *out = malloc(len + 1);
    z_stream z;

    (void)state;
    t_start(&c);
    t_set_blob(&c, bytes, len);
    assert_true(http_blob_gzip_len(c.blob) > 0);
    assert_true(http_blob_gzip_len(c.blob) < len);
    t_get(&c, "GET", "/feed", "Accept-Encoding: deflate, gzip;q=0.5\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(t_header(&r, "Content-Encoding", v, sizeof v), "gzip");
    assert_string_equal(t_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_int_equal(r.body_len, http_blob_gzip_len(c.blob));
    assert_non_null(t_header(&r, "ETag", etag_gz, sizeof etag_gz));
    assert_string_not_equal(etag_gz, http_blob_etag(c.blob));
    /* zlib reads it back (gzip wrapper only: 15 + 16) to the same bytes. */
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)r.body;
    z.avail_in = (uInt)r.body_len;
    z.next_out = out;
    z.avail_out = (uInt)len + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, len);
    assert_memory_equal(out, bytes, len);
    inflateEnd(&z);
    t_reply_free(&r);

    /* The gzip tag revalidates the gzip variant, not the plain one. */
    snprintf(hdr, sizeof hdr, "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n",
             etag_gz);
    t_get(&c, "GET", "/feed", hdr, &r);
    assert_int_equal(r.status, 304);
    assert_string_equal(t_header(&r, "ETag", v, sizeof v), etag_gz);
    t_reply_free(&r);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag_gz);
    t_get(&c, "GET", "/feed", hdr, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    t_reply_free(&r);

    /* Refused or absent gzip: plain. */
    t_get(&c, "GET", "/feed", "Accept-Encoding: gzip;q=0, br\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_null(t_header(&r, "Content-Encoding", v, sizeof v));
    assert_int_equal(r.body_len, len);
    t_reply_free(&r);
    t_get(&c, "GET", "/feed", "Accept-Encoding: *\r\n", &r);
    assert_string_equal(t_header(&r, "Content-Encoding", v, sizeof v), "gzip");
    t_reply_free(&r);

    /* Bytes that do not shrink are served plain only. */
    {
        unsigned char rnd[64];
        uLong s = 12345;

        for (size_t i = 0; i < sizeof rnd; i++) {
            s = s * 1103515245 + 12345;
            rnd[i] = (unsigned char)(s >> 16);
        }
        t_set_blob(&c, rnd, sizeof rnd);
        assert_int_equal(http_blob_gzip_len(c.blob), 0);
        t_get(&c, "GET", "/feed", "Accept-Encoding: gzip\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_null(t_header(&r, "Content-Encoding", v, sizeof v));
        assert_int_equal(r.body_len, sizeof rnd);
        assert_memory_equal(r.body, rnd, sizeof rnd);
        t_reply_free(&r);
    }
    t_stop(&c);
    free(out);
    free(bytes);
}

static void test_head(void **state)
{
    struct t_ctx c = {0};
    struct t_reply g, h;
    char a[256], b[256];
    size_t len;
    char *bytes = t_bytes(5000, 1, &len);

    (void)state;
    t_start(&c);
    t_set_blob(&c, bytes, len);
    t_get(&c, "GET", "/feed", NULL, &g);
    t_get(&c, "HEAD", "/feed", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.body_len, 0);
    snprintf(a, sizeof a, "%zu", len);
    assert_string_equal(t_header(&h, "Content-Length", b, sizeof b), a);
    assert_string_equal(t_header(&g, "Content-Length", a, sizeof a),
                        t_header(&h, "Content-Length", b, sizeof b));
    assert_string_equal(t_header(&g, "ETag", a, sizeof a),
                        t_header(&h, "ETag", b, sizeof b));
    assert_string_equal(t_header(&g, "Content-Type", a, sizeof a),
                        t_header(&h, "Content-Type", b, sizeof b));
    assert_string_equal(t_header(&g, "Last-Modified", a, sizeof a),
                        t_header(&h, "Last-Modified", b, sizeof b));
    t_reply_free(&g);
    t_reply_free(&h);
    t_stop(&c);
    free(bytes);
}

static void test_methods_limits(void **state)
{
    struct t_ctx c = {0};
    struct t_reply r;
    char v[256], *target;
    size_t len, n;
    char *bytes = t_bytes(100, 0, &len);

    (void)state;
    t_start(&c);
    t_set_blob(&c, bytes, len);
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    const char *paths[] = {"/feed", "/nope", "/metrics"};

    for (size_t i = 0; i < 4; i++) {
        t_get(&c, methods[i], paths[i % 3], "Content-Length: 0\r\n", &r);
        assert_int_equal(r.status, 405);
        assert_string_equal(t_header(&r, "Allow", v, sizeof v), "GET, HEAD");
        assert_string_equal(r.body, "method not allowed\n");
        t_reply_free(&r);
    }
    c.routed = 0;
    t_get(&c, "GET", "/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(c.routed, 1);
    t_reply_free(&r);

    /* A 3000-byte URL: 414, and the route never sees it. */
    target = malloc(4096);
    assert_non_null(target);
    n = (size_t)snprintf(target, 4096, "/feed?a=");
    memset(target + n, 'x', 3000);
    target[n + 3000] = '\0';
    c.routed = 0;
    t_get(&c, "GET", target, NULL, &r);
    assert_int_equal(r.status, 414);
    assert_string_equal(t_header(&r, "Content-Type", v, sizeof v),
                        "text/plain; charset=utf-8");
    assert_int_equal(c.routed, 0);
    t_reply_free(&r);
    /* Past the request buffer itself (HTTP_REQUEST_MAX): MHD's own 414,
     * and the route never sees it either. */
    {
        char *huge = malloc(HTTP_REQUEST_MAX + 100);

        assert_non_null(huge);
        memcpy(huge, "/feed?a=", 8);
        memset(huge + 8, 'y', HTTP_REQUEST_MAX);
        huge[HTTP_REQUEST_MAX + 8] = '\0';
        t_get(&c, "GET", huge, NULL, &r);
        print_message("%d-byte URL: status %d\n", HTTP_REQUEST_MAX + 8,
                      r.status);
        assert_int_equal(r.status, 414);
        assert_int_equal(c.routed, 0);
        t_reply_free(&r);
        free(huge);
    }
    /* Under the URL cap but over the query cap: 400. */
    target[n + 1500] = '\0';
    t_get(&c, "GET", target, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "query string too long\n");
    assert_int_equal(c.routed, 0);
    t_reply_free(&r);
    /* 17 arguments: 400; 16: through. */
    n = (size_t)snprintf(target, 4096, "/args?a=1");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(target + n, 4096 - n, "&k%d=%d", i, i);
    t_get(&c, "GET", target, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "too many query arguments\n");
    t_reply_free(&r);
    target[strlen(target) - strlen("&k15=15")] = '\0';
    t_get(&c, "GET", target, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "n=16 a=[1]"));
    t_reply_free(&r);
    free(target);

    /* Percent-decoding, a bare argument, an absent one, the order. */
    t_get(&c, "GET", "/args?a=x%20y%2Fz&b", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "n=2 a=[x y/z] b=[] z=no first=a:x y/z\n");
    assert_string_equal(t_header(&r, "Cache-Control", v, sizeof v), "no-store");
    assert_null(t_header(&r, "X-Bad", v, sizeof v));
    t_reply_free(&r);
    /* MHD matches names without case; http_req_arg_at keeps the case. */
    t_get(&c, "GET", "/args?A=up", NULL, &r);
    assert_string_equal(r.body, "n=1 a=[up] b=[(null)] z=no first=A:up\n");
    t_reply_free(&r);
    t_get(&c, "GET", "/hdr", "X-Test: hello\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello\n");
    t_reply_free(&r);
    /* Hostile bytes in the request line or headers: an answer, no crash. */
    t_get(&c, "GET", "/feed?%zz=%&&==&%00", NULL, &r);
    assert_true(r.status == 200 || r.status == 400);
    t_reply_free(&r);
    t_get(&c, "GET", "/hdr", "X-Test: a\x01\x7f b\r\n", &r);
    assert_true(r.status >= 200);
    t_reply_free(&r);
    /* Still serving. */
    t_get(&c, "GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    t_reply_free(&r);
    t_stop(&c);
    free(bytes);
}

static void test_defer(void **state)
{
    struct t_ctx c = {0};
    struct t_client cl;
    struct t_reply r;

    (void)state;
    t_start(&c);
    cl = t_connect(&c, "GET /defer HTTP/1.0\r\n\r\n", 0);
    t_pump(&c, &cl, 0, 300);
    assert_non_null(c.d);
    assert_int_equal(cl.len, 0); /* nothing yet, and not timed out */
    assert_false(cl.eof);
    http_defer_text(c.d, 200, "done\nlater");
    c.d = NULL;
    t_pump(&c, &cl, 0, 5000);
    assert_true(cl.eof);
    t_parse(&cl, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "done later\n");
    t_reply_free(&r);
    t_close(&cl);

    /* A deferred blob, then a deferred response with headers. */
    {
        size_t len;
        char *bytes = t_bytes(3000, 2, &len);
        char v[64];
        struct http_response *resp;

        t_set_blob(&c, bytes, len);
        cl = t_connect(&c, "GET /defer HTTP/1.0\r\n\r\n", 0);
        t_pump(&c, &cl, 0, 100);
        assert_non_null(c.d);
        http_defer_blob(c.d, c.blob);
        c.d = NULL;
        http_blob_free(c.blob); /* the deferred answer keeps its own */
        c.blob = NULL;
        t_pump(&c, &cl, 0, 5000);
        t_parse(&cl, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, len);
        assert_memory_equal(r.body, bytes, len);
        t_reply_free(&r);
        t_close(&cl);
        free(bytes);

        cl = t_connect(&c, "GET /defer HTTP/1.0\r\n\r\n", 0);
        t_pump(&c, &cl, 0, 100);
        assert_non_null(c.d);
        resp = http_response_new(503, NULL, strdup("busy\n"), 5);
        assert_int_equal(http_response_header(resp, "Retry-After", "7"),
                         HTTP_OK);
        http_defer_respond(c.d, resp);
        c.d = NULL;
        t_pump(&c, &cl, 0, 5000);
        t_parse(&cl, &r);
        assert_int_equal(r.status, 503);
        assert_string_equal(t_header(&r, "Retry-After", v, sizeof v), "7");
        assert_string_equal(r.body, "busy\n");
        t_reply_free(&r);
        t_close(&cl);
    }
    t_stop(&c);
}

static void test_defer_gone(void **state)
{
    struct t_ctx c = {0};
    struct t_client cl;
    struct t_reply r;
    struct http_defer *d1, *d2;

    (void)state;
    t_start(&c);
    /* The client hangs up before the answer: completing is harmless. */
    cl = t_connect(&c, "GET /defer HTTP/1.0\r\n\r\n", 0);
    t_pump(&c, &cl, 0, 100);
    d1 = c.d;
    assert_non_null(d1);
    t_close(&cl);
    t_pump(&c, NULL, 0, 100);
    http_defer_text(d1, 200, "too late");
    t_pump(&c, NULL, 0, 100);
    /* And the server serves on. */
    t_get(&c, "GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    t_reply_free(&r);

    /* The server goes first: the token is still the caller's to complete,
     * and completing it only frees (ASan and valgrind watch this). */
    c.d = NULL;
    cl = t_connect(&c, "GET /defer HTTP/1.0\r\n\r\n", 0);
    t_pump(&c, &cl, 0, 100);
    d2 = c.d;
    assert_non_null(d2);
    http_free(c.h);
    c.h = NULL;
    http_defer_text(d2, 200, "server gone");
    /* The client saw the connection close without an answer. */
    {
        char buf[64];
        ssize_t n = recv(cl.fd, buf, sizeof buf, 0);

        assert_true(n <= 0);
    }
    t_close(&cl);
    t_stop(&c);
}

static void test_blob_replaced_while_reading(void **state)
{
    struct t_ctx c = {0};
    struct t_client slow;
    struct t_reply r;
    size_t len, len2;
    /* Four times the kernel's largest send buffer (tcp_wmem 4 MB on
     * Debian 12): MHD is still sending from the blob when it is dropped. */
    char *old = t_bytes(16 << 20, 5, &len);
    char *fresh = t_bytes(1000, 9, &len2);

    (void)state;
    t_start(&c);
    t_set_blob(&c, old, len);
    slow = t_connect(&c, "GET /feed HTTP/1.0\r\n\r\n", 4096);
    t_pump(&c, &slow, 1024, 2000);
    assert_true(slow.len >= 1 && slow.len <= 1024);
    assert_false(slow.eof);
    t_set_blob(&c, fresh, len2); /* frees the old blob */
    /* A new request gets the new bytes at once... */
    t_get(&c, "GET", "/feed", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len2);
    assert_memory_equal(r.body, fresh, len2);
    t_reply_free(&r);
    /* ...and the slow one the old bytes, whole. */
    t_pump(&c, &slow, 0, 20000);
    assert_true(slow.eof);
    t_parse(&slow, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, old, len);
    t_reply_free(&r);
    t_close(&slow);
    t_stop(&c);
    free(old);
    free(fresh);
}

static void test_basic_auth(void **state)
{
    struct t_ctx c = {0};
    struct t_reply r;
    char v[128];

    (void)state;
    t_start(&c);
    t_get(&c, "GET", "/ops", NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(t_header(&r, "WWW-Authenticate", v, sizeof v),
                        "Basic realm=\"ops\"");
    t_reply_free(&r);
    /* op:pa:ss (the password may hold a colon), then a wrong one */
    t_get(&c, "GET", "/ops", "Authorization: Basic b3A6cGE6c3M=\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "in\n");
    t_reply_free(&r);
    t_get(&c, "GET", "/ops", "Authorization: Basic b3A6cGE6c3Q=\r\n", &r);
    assert_int_equal(r.status, 401);
    t_reply_free(&r);
    t_get(&c, "GET", "/ops", "Authorization: Basic !!!\r\n", &r);
    assert_int_equal(r.status, 401);
    t_reply_free(&r);
    t_stop(&c);
}

static void test_off(void **state)
{
    struct http_options o = {.listen = "none", .port = 1234};
    struct http *h = (struct http *)1;
    char err[64];

    (void)state;
    assert_int_equal(http_new(&o, &t_cb, NULL, &h, err, sizeof err), HTTP_OK);
    assert_null(h);
    assert_int_equal(http_fd(NULL), -1);
    assert_int_equal(http_run(NULL), HTTP_OK);
    http_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_304),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_methods_limits),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_defer_gone),
        cmocka_unit_test(test_blob_replaced_while_reading),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
