/* bench_prom: a loopback HTTP GET and the Prometheus text format, as far as
 * the benchmarks need them. */
#include "bench_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int bench_prom_get(int port, const char *path, char **body)
{
    char req[512];
    char *buf = NULL, *p;
    size_t got = 0, cap = 0;
    int fd, n, status;

    *body = NULL;
    n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    fd = harness_tcp_connect(port);
    if (fd < 0)
        return -1;
    if (write(fd, req, (size_t)n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r;

        if (cap - got < 65536) {
            char *q = realloc(buf, cap ? cap * 2 : 1 << 18);

            if (!q) {
                free(buf);
                close(fd);
                return -1;
            }
            buf = q;
            cap = cap ? cap * 2 : 1 << 18;
        }
        r = read(fd, buf + got, cap - got - 1);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf)
        return -1;
    buf[got] = '\0';
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        free(buf);
        return -1;
    }
    p = strstr(buf, "\r\n\r\n");
    p = p ? p + 4 : buf + got;
    memmove(buf, p, strlen(p) + 1);
    *body = buf;
    return status;
}

/* The line after the one at P (or NULL at the end). */
static const char *bench_prom__next(const char *p)
{
    p = strchr(p, '\n');
    return p ? p + 1 : NULL;
}

/* When the line at P is a sample of NAME (bare or with labels), the
 * position of its labels ('{') or value (' '); else NULL. */
static const char *bench_prom__sample(const char *p, const char *name)
{
    size_t len = strlen(name);

    if (strncmp(p, name, len) != 0 || (p[len] != '{' && p[len] != ' '))
        return NULL;
    return p + len;
}

/* The value of the sample whose name ends at P. */
static double bench_prom__number(const char *p)
{
    if (*p == '{') {
        p = strchr(p, '}');
        if (!p)
            return NAN;
        p++;
    }
    return strtod(p, NULL);
}

int bench_prom_hist(const char *text, const char *name,
                    struct bench_prom_hist *h)
{
    char bucket[160], sum[160], count[160];
    const char *s;

    memset(h, 0, sizeof *h);
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sum, sizeof sum, "%s_sum", name);
    snprintf(count, sizeof count, "%s_count", name);
    for (const char *p = text; p && *p; p = bench_prom__next(p)) {
        if ((s = bench_prom__sample(p, bucket)) != NULL) {
            const char *le = strstr(s, "le=\"");

            if (!le || h->n == BENCH_PROM_BUCKETS)
                continue;
            le += 4;
            h->le[h->n] =
                strncmp(le, "+Inf", 4) == 0 ? INFINITY : strtod(le, NULL);
            h->cum[h->n++] = bench_prom__number(s);
        } else if ((s = bench_prom__sample(p, sum)) != NULL) {
            h->sum = bench_prom__number(s);
        } else if ((s = bench_prom__sample(p, count)) != NULL) {
            h->count = bench_prom__number(s);
        }
    }
    return h->n > 0 ? 0 : -1;
}

int bench_prom_value(const char *text, const char *name, int sum, double *v)
{
    int found = 0;

    *v = 0;
    for (const char *p = text; p && *p; p = bench_prom__next(p)) {
        const char *s = bench_prom__sample(p, name);

        if (!s)
            continue;
        *v += bench_prom__number(s);
        found = 1;
        if (!sum)
            break;
    }
    return found ? 0 : -1;
}

double bench_prom_quantile(const struct bench_prom_hist *a,
                           const struct bench_prom_hist *b, double q)
{
    double total;

    if (a->n != b->n || b->n == 0)
        return NAN;
    total = b->cum[b->n - 1] - a->cum[a->n - 1];
    for (size_t i = 0; total > 0 && i < b->n; i++)
        if (b->cum[i] - a->cum[i] >= q * total)
            return b->le[i];
    return NAN;
}
