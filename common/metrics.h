/* metrics: write counters, gauges and histograms as Prometheus text. */
#ifndef SHUTTLE_METRICS_H
#define SHUTTLE_METRICS_H

/*
 * The text exposition format, version 0.0.4 (what every Prometheus server
 * and most scrapers read). A family is one metric name with its HELP and
 * TYPE lines, written once, before its first sample; all samples of a
 * family must be written one after the other. Writing never fails loudly:
 * the first error is kept in the buffer (metrics_error) and the caller
 * decides what to serve. Numbers are formatted with printf, so the process
 * must stay in the "C" locale (it never calls setlocale).
 */

#include <stddef.h>
#include <stdint.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_BUCKETS_MAX 16

enum metrics_err {
    METRICS_OK = 0,
    METRICS_ERR_NOMEM = -1,
    METRICS_ERR_NAME = -2,    /* bad metric or label name: sample skipped */
    METRICS_ERR_ORDER = -3,   /* family split or its type changed: skipped */
    METRICS_ERR_BUCKETS = -4, /* histogram bounds not finite and rising */
};

/* An output buffer; opaque. */
struct metrics_buf;

/* One label; arrays of them end with {NULL, NULL}. Values are escaped. */
struct metrics_label {
    const char *name;
    const char *value;
};

/*
 * A histogram's state, kept by whoever observes. Plain data, so it can live
 * inside the caller's structs; set it up with metrics_hist_init.
 */
struct metrics_hist {
    size_t nbounds;
    double bounds[METRICS_BUCKETS_MAX];       /* upper bounds, rising */
    uint64_t counts[METRICS_BUCKETS_MAX + 1]; /* per bucket; last: +Inf */
    double sum;
    uint64_t count;
};

/* A new empty buffer, or NULL when out of memory. */
struct metrics_buf *metrics_new(void);
void metrics_free(struct metrics_buf *b);

/* The first error met while writing, METRICS_OK if none. */
int metrics_error(const struct metrics_buf *b);

/* The text written so far (NUL-terminated; "" when empty) and its length
 * (may be NULL); owned by the buffer, valid until the next write. */
const char *metrics_text(const struct metrics_buf *b, size_t *len);

/* Hand the text over: returns a malloc'd NUL-terminated string the caller
 * frees (NULL when out of memory) and leaves the buffer as new (no families
 * begun, no error). Check metrics_error first. */
char *metrics_take(struct metrics_buf *b, size_t *len);

/*
 * Write one sample. `name` is the whole metric name (counters end in
 * _total by convention); `help` (may be NULL: no HELP line) is used on the
 * family's first sample only; `labels` may be NULL.
 */
void metrics_counter(struct metrics_buf *b, const char *name, const char *help,
                     const struct metrics_label *labels, uint64_t value);
void metrics_gauge(struct metrics_buf *b, const char *name, const char *help,
                   const struct metrics_label *labels, double value);

/* Write a histogram's NAME_bucket lines (cumulative, ending at le="+Inf"),
 * NAME_sum and NAME_count. `labels` must not contain "le". */
void metrics_histogram(struct metrics_buf *b, const char *name,
                       const char *help, const struct metrics_label *labels,
                       const struct metrics_hist *h);

/* Empty histogram with N upper bounds (finite, strictly rising, N at most
 * METRICS_BUCKETS_MAX); the +Inf bucket is implicit. Returns METRICS_OK or
 * METRICS_ERR_BUCKETS. */
int metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t n);

/* Count one value in the first bucket whose bound is >= v (NaN is
 * ignored: it would poison _sum forever). */
void metrics_hist_observe(struct metrics_hist *h, double v);

#endif
