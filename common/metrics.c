/* metrics: write counters, gauges and histograms as Prometheus text. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_family {
    char *name;
    enum metrics_type type;
};

struct metrics_buf {
    char *data;
    size_t len, cap;
    int err;
    /* Every family begun, so a family split in two (which Prometheus
     * refuses as a whole scrape) is caught here instead. */
    struct metrics_family *fam;
    size_t nfam, capfam;
};

struct metrics_buf *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics_buf));
}

void metrics_free(struct metrics_buf *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nfam; i++)
        free(b->fam[i].name);
    free(b->fam);
    free(b->data);
    free(b);
}

int metrics_error(const struct metrics_buf *b)
{
    return b->err;
}

const char *metrics_text(const struct metrics_buf *b, size_t *len)
{
    if (len)
        *len = b->len;
    return b->data ? b->data : "";
}

char *metrics_take(struct metrics_buf *b, size_t *len)
{
    char *s = b->data ? b->data : strdup("");

    if (len)
        *len = s ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    for (size_t i = 0; i < b->nfam; i++)
        free(b->fam[i].name);
    b->nfam = 0;
    b->err = METRICS_OK;
    return s;
}

static void metrics_fail(struct metrics_buf *b, int err)
{
    if (b->err == METRICS_OK)
        b->err = err;
}

/* Room for `more` bytes and the NUL after them; false once out of memory,
 * after which nothing more is written (a truncated scrape must not pass for
 * a whole one: the caller sees the error). */
static bool metrics_reserve(struct metrics_buf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->err == METRICS_ERR_NOMEM)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->err = METRICS_ERR_NOMEM;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

static void metrics_put(struct metrics_buf *b, const char *s, size_t n)
{
    if (!metrics_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void metrics_puts(struct metrics_buf *b, const char *s)
{
    metrics_put(b, s, strlen(s));
}

/* Escape `s` as the format wants: in HELP text backslash and newline, in
 * label values also the double quote. */
static void metrics_put_escaped(struct metrics_buf *b, const char *s,
                                bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            metrics_put(b, "\\\\", 2);
        else if (*s == '\n')
            metrics_put(b, "\\n", 2);
        else if (quote && *s == '"')
            metrics_put(b, "\\\"", 2);
        else
            metrics_put(b, s, 1);
    }
}

/*
 * Shortest "%g" form that reads back as the same double, so bucket bounds
 * print as 0.005 rather than 0.0050000000000000001, and the special values
 * as the format spells them.
 */
static void metrics_fmt_double(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static bool metrics_name_ok(const char *s, bool metric)
{
    if (!s || !*s)
        return false;
    if (!metric && s[0] == '_' && s[1] == '_')
        return false; /* reserved for Prometheus' own labels */
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || (metric && c == ':');

        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool metrics_labels_ok(const struct metrics_label *l, bool histogram)
{
    for (; l && l->name; l++) {
        if (!metrics_name_ok(l->name, false) || !l->value)
            return false;
        if (histogram && strcmp(l->name, "le") == 0)
            return false;
    }
    return true;
}

/*
 * Begin a sample of family `name`: check the names, write HELP and TYPE if
 * the family is new. False when the sample must be skipped.
 */
static bool metrics_begin(struct metrics_buf *b, const char *name,
                          const char *help, enum metrics_type type,
                          const struct metrics_label *labels)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct metrics_family *f;

    if (b->err == METRICS_ERR_NOMEM)
        return false;
    if (!metrics_name_ok(name, true) ||
        !metrics_labels_ok(labels, type == METRICS_HISTOGRAM)) {
        metrics_fail(b, METRICS_ERR_NAME);
        return false;
    }
    if (b->nfam && strcmp(b->fam[b->nfam - 1].name, name) == 0) {
        if (b->fam[b->nfam - 1].type == type)
            return true;
        metrics_fail(b, METRICS_ERR_ORDER);
        return false;
    }
    /* A linear search: a scrape has a few dozen families, and this runs
     * once per family, not per sample. */
    for (size_t i = 0; i + 1 < b->nfam; i++) {
        if (strcmp(b->fam[i].name, name) == 0) {
            metrics_fail(b, METRICS_ERR_ORDER);
            return false;
        }
    }
    if (b->nfam == b->capfam) {
        size_t cap = b->capfam ? b->capfam * 2 : 32;

        f = realloc(b->fam, cap * sizeof *f);
        if (!f) {
            b->err = METRICS_ERR_NOMEM;
            return false;
        }
        b->fam = f;
        b->capfam = cap;
    }
    f = &b->fam[b->nfam];
    f->name = strdup(name);
    if (!f->name) {
        b->err = METRICS_ERR_NOMEM;
        return false;
    }
    f->type = type;
    b->nfam++;
    if (help) {
        metrics_puts(b, "# HELP ");
        metrics_puts(b, name);
        metrics_puts(b, " ");
        metrics_put_escaped(b, help, false);
        metrics_puts(b, "\n");
    }
    metrics_puts(b, "# TYPE ");
    metrics_puts(b, name);
    metrics_puts(b, " ");
    metrics_puts(b, types[type]);
    metrics_puts(b, "\n");
    return true;
}

/* NAME SUFFIX {labels, le} VALUE: one sample line. `le` may be NULL. */
static void metrics_sample(struct metrics_buf *b, const char *name,
                           const char *suffix,
                           const struct metrics_label *labels, const char *le,
                           const char *value)
{
    bool first = true;

    metrics_puts(b, name);
    metrics_puts(b, suffix);
    for (const struct metrics_label *l = labels; l && l->name; l++) {
        metrics_puts(b, first ? "{" : ",");
        first = false;
        metrics_puts(b, l->name);
        metrics_puts(b, "=\"");
        metrics_put_escaped(b, l->value, true);
        metrics_puts(b, "\"");
    }
    if (le) {
        metrics_puts(b, first ? "{le=\"" : ",le=\"");
        first = false;
        metrics_puts(b, le);
        metrics_puts(b, "\"");
    }
    if (!first)
        metrics_puts(b, "}");
    metrics_puts(b, " ");
    metrics_puts(b, value);
    metrics_puts(b, "\n");
}

void metrics_counter(struct metrics_buf *b, const char *name, const char *help,
                     const struct metrics_label *labels, uint64_t value)
{
    char v[32];

    if (!metrics_begin(b, name, help, METRICS_COUNTER, labels))
        return;
    snprintf(v, sizeof v, "%" PRIu64, value);
    metrics_sample(b, name, "", labels, NULL, v);
}

void metrics_gauge(struct metrics_buf *b, const char *name, const char *help,
                   const struct metrics_label *labels, double value)
{
    char v[40];

    if (!metrics_begin(b, name, help, METRICS_GAUGE, labels))
        return;
    metrics_fmt_double(v, sizeof v, value);
    metrics_sample(b, name, "", labels, NULL, v);
}

void metrics_histogram(struct metrics_buf *b, const char *name,
                       const char *help, const struct metrics_label *labels,
                       const struct metrics_hist *h)
{
    char le[40], v[40];
    uint64_t cum = 0;

    if (h->nbounds > METRICS_BUCKETS_MAX) {
        metrics_fail(b, METRICS_ERR_BUCKETS);
        return;
    }
    if (!metrics_begin(b, name, help, METRICS_HISTOGRAM, labels))
        return;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        metrics_fmt_double(le, sizeof le, h->bounds[i]);
        snprintf(v, sizeof v, "%" PRIu64, cum);
        metrics_sample(b, name, "_bucket", labels, le, v);
    }
    /* +Inf is the total by definition; writing count rather than the sum of
     * the buckets keeps the two from ever disagreeing. */
    snprintf(v, sizeof v, "%" PRIu64, h->count);
    metrics_sample(b, name, "_bucket", labels, "+Inf", v);
    metrics_fmt_double(v, sizeof v, h->sum);
    metrics_sample(b, name, "_sum", labels, NULL, v);
    snprintf(v, sizeof v, "%" PRIu64, h->count);
    metrics_sample(b, name, "_count", labels, NULL, v);
}

int metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    if (n > METRICS_BUCKETS_MAX)
        return METRICS_ERR_BUCKETS;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return METRICS_ERR_BUCKETS;
        h->bounds[i] = bounds[i];
    }
    h->nbounds = n;
    return METRICS_OK;
}

void metrics_hist_observe(struct metrics_hist *h, double v)
{
    size_t i = 0;

    if (isnan(v))
        return;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}
