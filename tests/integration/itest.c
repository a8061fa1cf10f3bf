/* itest: small helpers the integration tests share. */
#include "itest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "nmea.h"

int64_t itest_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t itest_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int itest_log_count(const char *path, const char *needle)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* "2024-05-01T12:34:56.789Z" at the start of LINE as Unix ms, or -1. */
static int64_t stamp_ms(const char *line)
{
    struct tm tm;
    int ms;

    memset(&tm, 0, sizeof tm);
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

int64_t itest_log_time(const char *path, const char *needle, int nth)
{
    char line[4096];
    int64_t t = -1;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, needle) != NULL && --nth == 0) {
            t = stamp_ms(line);
            break;
        }
    fclose(f);
    return t;
}

long long itest_dir_bytes(const char *dir)
{
    struct dirent *de;
    long long sum = 0;
    DIR *d = opendir(dir);

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            sum += st.st_size;
    }
    closedir(d);
    return sum;
}

int itest_send_fix(struct harness_gpsd *g, int64_t t_ms, double lat, double lon)
{
    time_t t = (time_t)(t_ms / 1000);
    int ms = (int)(t_ms % 1000);
    char buf[256];
    int n;

    n = nmea_rmc(buf, sizeof buf, t, ms, lat, lon, 15.0, 45.0, 1);
    if (n < 0 || nmea_gga(buf + n, sizeof buf - (size_t)n, t, ms, lat, lon, 1,
                          10, 0.8, 15.0) < 0)
        return -1;
    return harness_gpsd_send(g, buf) == 2 ? 0 : -1;
}

int itest_episodes_found(struct harness_pg *pg, const char *vid,
                         const struct itest_episode *ep, size_t n, int *found,
                         long long *total)
{
    size_t cap = 512 + n * 48, off;
    char *sql = malloc(cap);
    const char *params[1] = {vid};
    PGconn *c;
    PGresult *r;
    int rc = -1;

    if (sql == NULL)
        return -1;
    /* Every episode with the number of stored rows like it, in order; and
     * the vehicle's total as a last row with k = -1. */
    off = (size_t)snprintf(sql, cap,
                           "SELECT e.k, (SELECT count(*) FROM passenger_counts"
                           " p WHERE p.vehicle_id = $1 AND p.door = e.d AND"
                           " p.boarded = e.b AND p.alighted = e.a) FROM"
                           " (VALUES (-2, 0, 0, 0)");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(sql + off, cap - off, ",(%zu,%u,%u,%u)", i,
                                ep[i].door, ep[i].boarded, ep[i].alighted);
    snprintf(sql + off, cap - off,
             ") e(k, d, b, a) WHERE e.k >= 0 UNION ALL SELECT -1, count(*)"
             " FROM passenger_counts WHERE vehicle_id = $1");
    c = PQconnectdb(harness_pg_conninfo(pg));
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "itest: %s", PQerrorMessage(c));
        PQfinish(c);
        free(sql);
        return -1;
    }
    r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "itest: episodes: %s", PQerrorMessage(c));
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            long k = strtol(PQgetvalue(r, i, 0), NULL, 10);
            long long v = strtoll(PQgetvalue(r, i, 1), NULL, 10);

            if (k == -1)
                *total = v;
            else if (k >= 0 && (size_t)k < n)
                found[k] = (int)v;
        }
        rc = 0;
    }
    PQclear(r);
    PQfinish(c);
    free(sql);
    return rc;
}

int itest_episodes_once(struct harness_pg *pg, const char *vid,
                        const struct itest_episode *ep, size_t n)
{
    int *found = calloc(n ? n : 1, sizeof *found);
    long long total = 0;
    int rc = 0;

    if (!found || itest_episodes_found(pg, vid, ep, n, found, &total) != 0) {
        free(found);
        return -1;
    }
    for (size_t e = 0; e < n; e++) {
        if (found[e] != 1) {
            fprintf(stderr,
                    "episode %zu (door %u, %u in, %u out) stored %d "
                    "times\n",
                    e, ep[e].door, ep[e].boarded, ep[e].alighted, found[e]);
            rc = -1;
        }
    }
    if (total != (long long)n) {
        fprintf(stderr, "%lld count rows for %s, %zu episodes sent\n", total,
                vid, n);
        rc = -1;
    }
    free(found);
    return rc;
}

int itest_http(int port, const char *method, const char *path,
               const char *headers, struct itest_http_reply *out)
{
    static char buf[ITEST_HTTP_MAX + 8192];
    char req[4096];
    struct timeval tv = {5, 0};
    size_t got = 0;
    int fd = harness_tcp_connect(port), n;
    char *end;

    memset(out, 0, sizeof *out);
    out->status = -1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\n%s\r\n", method, path,
                 headers ? headers : "");
    if (n < 0 || (size_t)n >= sizeof req ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);

        if (r <= 0 || (got += (size_t)r) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1)
        return out->status = -1;
    if (!(end = strstr(buf, "\r\n\r\n")))
        return out->status = -1;
    out->head = buf;
    *end = '\0';
    out->body = end + 4;
    out->len = got - (size_t)(end + 4 - buf);
    return out->status;
}

const char *itest_http_header(const struct itest_http_reply *r,
                              const char *name, char *val, size_t vallen)
{
    size_t n = strlen(name);

    if (vallen > 0)
        val[0] = '\0';
    for (const char *p = r->head; p && *p;
         p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            v += strspn(v, " \t");
            snprintf(val, vallen, "%.*s", (int)strcspn(v, "\r\n"), v);
            return val;
        }
    }
    return NULL;
}

int itest_http_get(int port, const char *path, char *body, size_t bodylen)
{
    struct itest_http_reply r;
    int status = itest_http(port, "GET", path, NULL, &r);

    if (bodylen > 0)
        snprintf(body, bodylen, "%s", status >= 0 ? r.body : "");
    return status;
}

double itest_metric_value(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

int itest_load_gtfs(struct harness_pg *pg, const char *dir, char *log,
                    size_t loglen)
{
    static int runs;
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char feed[1024], db[1024], path[1024];
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    "--load-gtfs",
                    feed,
                    "-o",
                    db,
                    NULL};
    char *tmp = harness_tmpdir("gtfs-load");
    struct harness_proc *p;

    if (!tmp)
        return -1;
    if (dir)
        snprintf(feed, sizeof feed, "%s", dir);
    else
        snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : ".");
    snprintf(db, sizeof db, "database=%s", harness_pg_conninfo(pg));
    snprintf(path, sizeof path, "%s/load-%d.log", tmp, ++runs);
    if (log && loglen > 0)
        snprintf(log, loglen, "%s", path);
    p = harness_spawn("shuttle-backend", argv, path);
    return p ? harness_wait(p, 60000) : -1;
}
