/* bench_prom: what the benchmarks read from a daemon's HTTP side: a GET on
 * loopback, and histograms and values out of a Prometheus text page. */
#ifndef SHUTTLE_BENCH_PROM_H
#define SHUTTLE_BENCH_PROM_H

#include <stddef.h>

#define BENCH_PROM_BUCKETS 64

/* One histogram as scraped: cumulative counts per upper bound `le`
 * (the last is +Inf), in the page's order. */
struct bench_prom_hist {
    double le[BENCH_PROM_BUCKETS], cum[BENCH_PROM_BUCKETS];
    size_t n;
    double sum, count;
};

/*
 * GET PATH from 127.0.0.1:PORT (HTTP/1.0). Returns the HTTP status and
 * the body in *BODY (malloc'd, NUL-terminated, the caller's to free), or
 * -1 when the server could not be reached or answered no status line
 * (*BODY is then NULL).
 */
int bench_prom_get(int port, const char *path, char **body);

/* The histogram NAME of the page TEXT into *H. Returns 0, or -1 when the
 * page has no bucket of it. */
int bench_prom_hist(const char *text, const char *name,
                    struct bench_prom_hist *h);

/* The value of the first sample named exactly NAME (labels allowed, a
 * sample "NAME{...} v" counts) in TEXT, summed over all its label sets
 * when SUM is nonzero. Returns 0, or -1 when there is none. */
int bench_prom_value(const char *text, const char *name, int sum, double *v);

/*
 * The upper bound of the bucket in which quantile Q (0..1) of what was
 * counted between scrapes A and B (the same histogram, B later) falls:
 * an upper bound on the quantile, never an interpolation. NAN when
 * nothing was counted or the bucket layouts differ.
 */
double bench_prom_quantile(const struct bench_prom_hist *a,
                           const struct bench_prom_hist *b, double q);

#endif
