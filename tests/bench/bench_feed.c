/* bench_feed: requests/s of a ~20 KB cached feed served through
 * common/http from a poll loop, against nginx serving the same bytes as a
 * file, both under the same wrk load in the same run: plain, gzip and the
 * 304 revalidation, best of two alternating rounds (one with --short, 1 s
 * each). Prints figures; exit 77 when wrk or nginx is missing.
 * Usage: shuttle-bench-feed [--short | --serve SECONDS]
 * (--serve: only serve the blob that long, for poking at by hand) */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "http.h"

#define BENCH_FEED_BYTES (20 * 1024)
#define BENCH_CONNS "100"
#define BENCH_THREADS "2"

struct bench {
    struct http *h;
    struct http_blob *blob;
    int port;
};

static void bench_collect(void *arg, struct metrics_buf *out)
{
    (void)arg;
    (void)out;
}

static int bench_health(void *arg, char *why, size_t whylen)
{
    (void)arg;
    (void)why;
    (void)whylen;
    return 1;
}

static void bench_route(void *arg, struct http_req *rq)
{
    struct bench *b = arg;

    if (strcmp(http_req_path(rq), "/feed.pb") == 0)
        (void)http_req_blob(rq, b->blob);
}

static const struct http_callbacks bench_cb = {bench_collect, bench_health,
                                               bench_route};

/* A feed-like body: protoc text of trip updates, as compressible as the
 * real thing, cut to n bytes. */
static char *bench_feed(size_t n)
{
    char *p = malloc(n + 256);
    size_t len = 0;

    if (!p)
        return NULL;
    for (int i = 0; len < n; i++)
        len += (size_t)snprintf(
            p + len, n + 256 - len,
            "entity { id: \"t%05d\" trip_update { trip { trip_id: "
            "\"R%d_%04d\" } stop_time_update { stop_sequence: %d arrival "
            "{ delay: %d time: %d } stop_id: \"S%03d\" } } }\n",
            i, i % 7, i * 13 % 9973, i % 40, (i * 37) % 600 - 300,
            1764650000 + i * 61, i * 17 % 500);
    return p;
}

static int bench_which(const char *name, char *out, size_t outlen)
{
    const char *dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                          "/usr/bin",        "/sbin",          "/bin"};

    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(out, outlen, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int bench_free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int bench_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        return -1;
    if (fwrite(p, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

/* Run the server (h may be NULL: nginx serves) until the child writing to
 * fd closes it; what it wrote into out. */
static void bench_drain(struct http *h, int fd, char *out, size_t outlen)
{
    size_t len = 0;

    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {http_fd(h), POLLIN, 0}};
        int to = http_timeout_ms(h);
        ssize_t n;

        if (to < 0 || to > 100)
            to = 100;
        (void)poll(p, h ? 2 : 1, to);
        if (h)
            (void)http_run(h);
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        n = read(fd, out + len, outlen - 1 - len);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
        if (n > 0)
            len += (size_t)n;
        if (len == outlen - 1)
            break;
    }
    out[len] = '\0';
}

/* wrk against url with an optional header; its requests/s, or -1. */
static double bench_wrk(const char *wrk, struct http *h, const char *url,
                        const char *header, int secs)
{
    char dur[16], out[8192];
    const char *rps;
    int pipefd[2], status;
    pid_t pid;

    snprintf(dur, sizeof dur, "%ds", secs);
    if (pipe(pipefd) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        if (header)
            execl(wrk, "wrk", "-t" BENCH_THREADS, "-c" BENCH_CONNS, "-d", dur,
                  "-H", header, url, (char *)NULL);
        else
            execl(wrk, "wrk", "-t" BENCH_THREADS, "-c" BENCH_CONNS, "-d", dur,
                  url, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    bench_drain(h, pipefd[0], out, sizeof out);
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rps = strstr(out, "Requests/sec:");
    if (!rps || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_feed: wrk %s failed:\n%s", url, out);
        return -1;
    }
    if (strstr(out, "Non-2xx or 3xx responses") ||
        strstr(out, "Socket errors")) {
        const char *e = strstr(out, "Socket errors");

        fprintf(stderr, "bench_feed: wrk %s: %s", url,
                e ? e : "non-2xx/3xx answers\n");
    }
    return strtod(rps + strlen("Requests/sec:"), NULL);
}

/* One GET over a plain socket (the server runs in h, or is nginx): the
 * status and the value of header `name` into val. */
static int bench_get_header(struct http *h, int port, const char *path,
                            const char *extra, const char *name, char *val,
                            size_t vallen)
{
    char req[256], buf[65536], key[64];
    struct sockaddr_in a;
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    const char *p;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n%s%s\r\n", path,
             extra ? extra : "", extra ? "\r\n" : "");
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    for (int i = 0; i < 500; i++) {
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {http_fd(h), POLLIN, 0}};
        ssize_t n;

        (void)poll(pf, h ? 2 : 1, 10);
        if (h)
            (void)http_run(h);
        if (!(pf[0].revents & (POLLIN | POLLHUP)))
            continue;
        n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    snprintf(key, sizeof key, "\r\n%s: ", name);
    p = strcasestr(buf, key);
    val[0] = '\0';
    if (p) {
        p += strlen(key);
        snprintf(val, vallen, "%.*s", (int)strcspn(p, "\r\n"), p);
    }
    return status;
}

static pid_t bench_nginx(const char *nginx, const char *dir, int port)
{
    char conf[512], err[512], body[2048];
    pid_t pid;

    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(err, sizeof err, "%s/error.log", dir);
    snprintf(body, sizeof body,
             "worker_processes 1;\n"
             "daemon off;\n"
             "pid %s/nginx.pid;\n"
             "error_log %s/error.log;\n"
             "events { worker_connections 1024; }\n"
             "http {\n"
             "  access_log off;\n"
             "  client_body_temp_path %s/tmp;\n"
             "  proxy_temp_path %s/tmp;\n"
             "  fastcgi_temp_path %s/tmp;\n"
             "  uwsgi_temp_path %s/tmp;\n"
             "  scgi_temp_path %s/tmp;\n"
             "  default_type application/x-protobuf;\n"
             "  sendfile on;\n"
             "  gzip_static on;\n"
             "  gzip_http_version 1.0;\n"
             "  server {\n"
             "    listen 127.0.0.1:%d;\n"
             "    root %s/www;\n"
             "  }\n"
             "}\n",
             dir, dir, dir, dir, dir, dir, dir, port, dir);
    if (bench_write(conf, body, strlen(body)) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(nginx, "nginx", "-e", err, "-p", dir, "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The better of two rates; a failed run (-1) poisons the row. */
static double bench_max(double a, double b)
{
    if (a == -2 || b < 0)
        return -2;
    return a > b ? a : b;
}

static void bench_row(const char *what, double s, double n)
{
    if (s < 0 || n < 0) /* -2: a wrk run failed */
        printf("%-24s %12.0f %12.0f %8s\n", what, s, n, "-");
    else
        printf("%-24s %12.0f %12.0f %8.2f\n", what, s, n, n > 0 ? s / n : 0);
}

static int bench_run(const char *wrk, const char *nginx, const char *dir,
                     int secs, int rounds, int serve)
{
    char path[512], url[128], nurl[128], hdr[256], etag[128], netag[128],
        err[256];
    struct http_options o = {.listen = "127.0.0.1", .per_ip_max = 256};
    struct http_blob_options bo = {"application/x-protobuf", 0, 30};
    int nport, st, rc = 0;
    struct bench b = {0};
    double s_plain, n_plain, s_gz, n_gz, s_304, n_304;
    unsigned char *gz;
    size_t gzlen;
    char *feed;
    pid_t npid;

    snprintf(path, sizeof path, "%s/www", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tmp", dir);
    mkdir(path, 0755);

    feed = bench_feed(BENCH_FEED_BYTES);
    if (!feed)
        return 1;
    /* nginx's copy: the file and its .gz for gzip_static. */
    snprintf(path, sizeof path, "%s/www/feed.pb", dir);
    if (bench_write(path, feed, BENCH_FEED_BYTES) != 0)
        return 1;
    gzlen = compressBound(BENCH_FEED_BYTES) + 32;
    gz = malloc(gzlen);
    {
        z_stream z;

        memset(&z, 0, sizeof z);
        if (!gz || deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16,
                                8, Z_DEFAULT_STRATEGY) != Z_OK)
            return 1;
        z.next_in = (unsigned char *)feed;
        z.avail_in = BENCH_FEED_BYTES;
        z.next_out = gz;
        z.avail_out = (uInt)gzlen;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            return 1;
        gzlen = z.total_out;
        deflateEnd(&z);
    }
    snprintf(path, sizeof path, "%s/www/feed.pb.gz", dir);
    if (bench_write(path, gz, gzlen) != 0)
        return 1;
    free(gz);

    /* Ours: the blob takes the bytes. */
    b.port = bench_free_port();
    o.port = b.port;
    if (http_new(&o, &bench_cb, &b, &b.h, err, sizeof err) != HTTP_OK ||
        http_blob_new(feed, BENCH_FEED_BYTES, &bo, &b.blob, err, sizeof err) !=
            HTTP_OK) {
        fprintf(stderr, "bench_feed: %s\n", err);
        return 1;
    }
    if (serve > 0) {
        char sink[16];
        int fds[2];
        pid_t sleeper;

        printf("port %d etag %s\n", b.port, http_blob_etag(b.blob));
        fflush(stdout);
        /* A pipe whose writer exits after `serve` seconds: bench_drain's
         * poll loop serves until then. */
        if (pipe(fds) != 0)
            return 1;
        sleeper = fork();
        if (sleeper == 0) {
            sleep((unsigned int)serve);
            _exit(0);
        }
        close(fds[1]);
        if (sleeper > 0)
            bench_drain(b.h, fds[0], sink, sizeof sink);
        close(fds[0]);
        if (sleeper > 0)
            waitpid(sleeper, &st, 0);
        http_blob_free(b.blob);
        http_free(b.h);
        return sleeper > 0 ? 0 : 1;
    }
    nport = bench_free_port();
    npid = bench_nginx(nginx, dir, nport);
    if (npid < 0)
        return 1;
    for (int i = 0; i < 100; i++) {
        if (bench_get_header(NULL, nport, "/feed.pb", NULL, "ETag", netag,
                             sizeof netag) == 200)
            break;
        netag[0] = '\0';
        usleep(50000);
    }
    if (!netag[0] || bench_get_header(b.h, b.port, "/feed.pb", NULL, "ETag",
                                      etag, sizeof etag) != 200) {
        fprintf(stderr,
                "bench_feed: a server did not answer (nginx's log: "
                "%s/error.log)\n",
                dir);
        kill(npid, SIGTERM);
        waitpid(npid, &st, 0);
        return 1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/feed.pb", b.port);
    snprintf(nurl, sizeof nurl, "http://127.0.0.1:%d/feed.pb", nport);

    printf("bench_feed: %d-byte feed (gzip %zu bytes), wrk -t%s -c%s -d%ds "
           "each, best of %d alternating rounds, shuttle (common/http, one "
           "poll loop) vs nginx (worker_processes 1, sendfile, "
           "gzip_static)\n",
           BENCH_FEED_BYTES, gzlen, BENCH_THREADS, BENCH_CONNS, secs, rounds);
    /* Each case is what it says on both servers, or the figures lie. */
    {
        char v[128], inm[256];
        const char *why = NULL;

        if (bench_get_header(b.h, b.port, "/feed.pb", "Accept-Encoding: gzip",
                             "Content-Encoding", v, sizeof v) != 200 ||
            strcmp(v, "gzip") != 0)
            why = "shuttle gzip";
        else if (bench_get_header(NULL, nport, "/feed.pb",
                                  "Accept-Encoding: gzip", "Content-Encoding",
                                  v, sizeof v) != 200 ||
                 strcmp(v, "gzip") != 0)
            why = "nginx gzip_static";
        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
        if (!why && bench_get_header(b.h, b.port, "/feed.pb", inm, "ETag", v,
                                     sizeof v) != 304)
            why = "shuttle 304";
        snprintf(inm, sizeof inm, "If-None-Match: %s", netag);
        if (!why && bench_get_header(NULL, nport, "/feed.pb", inm, "ETag", v,
                                     sizeof v) != 304)
            why = "nginx 304";
        if (why) {
            fprintf(stderr, "bench_feed: %s not as expected\n", why);
            kill(npid, SIGTERM);
            waitpid(npid, &st, 0);
            return 1;
        }
    }
    /* Alternating, best of `rounds` each: the machine is shared, and a
     * burst of someone else's work should not land on one side only. */
    s_plain = n_plain = s_gz = n_gz = s_304 = n_304 = -1;
    for (int r = 0; r < rounds; r++) {
        char inm[256];

        snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
        snprintf(inm, sizeof inm, "If-None-Match: %s", netag);
        s_plain = bench_max(s_plain, bench_wrk(wrk, b.h, url, NULL, secs));
        n_plain = bench_max(n_plain, bench_wrk(wrk, NULL, nurl, NULL, secs));
        s_gz = bench_max(
            s_gz, bench_wrk(wrk, b.h, url, "Accept-Encoding: gzip", secs));
        n_gz = bench_max(
            n_gz, bench_wrk(wrk, NULL, nurl, "Accept-Encoding: gzip", secs));
        s_304 = bench_max(s_304, bench_wrk(wrk, b.h, url, hdr, secs));
        n_304 = bench_max(n_304, bench_wrk(wrk, NULL, nurl, inm, secs));
    }

    printf("%-24s %12s %12s %8s\n", "case", "shuttle r/s", "nginx r/s",
           "ratio");
    bench_row("200 plain", s_plain, n_plain);
    bench_row("200 gzip", s_gz, n_gz);
    bench_row("304 If-None-Match", s_304, n_304);
    if (s_plain < 0 || n_plain < 0 || s_gz < 0 || n_gz < 0 || s_304 < 0 ||
        n_304 < 0)
        rc = 1;
    else
        printf("target: shuttle/nginx >= 0.50 on 200 plain: %s\n",
               s_plain / n_plain >= 0.5 ? "met" : "NOT met");

    kill(npid, SIGTERM);
    while (waitpid(npid, &st, 0) < 0 && errno == EINTR)
        ;
    http_blob_free(b.blob);
    http_free(b.h);
    return rc;
}

int main(int argc, char **argv)
{
    char wrk[256], nginx[256], dir[] = "/tmp/bench-feed-XXXXXX", cmd[600];
    int secs = 10, rounds = 2, serve = 0, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--short") == 0) {
            secs = 1; /* the suite's form: it shows the path works */
            rounds = 1;
        } else if (strcmp(argv[i], "--serve") == 0 && i + 1 < argc) {
            serve = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--short | --serve SECONDS]\n", argv[0]);
            return 2;
        }
    }
    if (!bench_which("wrk", wrk, sizeof wrk) ||
        !bench_which("nginx", nginx, sizeof nginx)) {
        printf("bench_feed: skipped: wrk or nginx missing (install them with "
               "SHUTTLE_WITH_BENCH=1 scripts/setup.sh)\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir)) {
        perror("bench_feed: mkdtemp");
        return 1;
    }
    /* Run as root, nginx's worker is another user: let it read. */
    chmod(dir, 0755);
    rc = bench_run(wrk, nginx, dir, secs, rounds, serve);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
