/* sim_traffic: per-segment travel-time factors of a simulated day, drawn up
 * front from streams of their own so the rest of the simulation is not
 * reshuffled by them. */
#include "sim_traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_TRAFFIC_KNOT 1800.0 /* congestion knots: every half-hour */
#define SIM_TRAFFIC_NKNOTS 62   /* 00:00 to 30:30, past the longest day */
#define SIM_TRAFFIC_MAX_SIGNALS 4
#define SIM_TRAFFIC_STREAM_DAY 0x5eed0000ULL /* the day's city-wide draws */

/* The spreads of one level (the README's simulator section lists them). */
struct sim_traffic_params {
    double base_sd; /* personality: the segment's own pace, log sd */
    double peak_sd; /* personality: how much it suffers each rush, log sd */
    double peak_k;  /* rush amplitude, times the city-wide curve's */
    double day_sd;  /* the segment's day-to-day factor, log sd */
    double cong_sd; /* congestion: marginal log sd of the AR(1) */
    double cong_phi;
    double city_sd; /* congestion shared by every segment, log sd */
    double signals; /* mean number of signals on a segment */
    double red_p;   /* chance of meeting a signal red */
    double red_s;   /* longest red wait, seconds (uniform up to it) */
};

static const struct sim_traffic_params sim_traffic__levels[] = {
    [SIM_TRAFFIC_NORMAL] = {0.10, 0.45, 1.0, 0.05, 0.10, 0.70, 0.04, 1.0, 0.45,
                            40.0},
    [SIM_TRAFFIC_HEAVY] = {0.12, 0.50, 1.6, 0.08, 0.18, 0.75, 0.06, 1.5, 0.50,
                           50.0},
};

struct sim_traffic_seg {
    long key; /* from * nstops + to */
    double base, am, pm, day;
    float cong[SIM_TRAFFIC_NKNOTS]; /* log factor at each knot */
    int nsignals;
    int ntrips; /* trips that drive it, to weight a random incident */
};

struct sim_traffic_inc {
    int seg;
    double t0, t1, slow;
};

struct sim_traffic {
    struct sim_traffic_params p;
    int nstops, bunching;
    struct sim_traffic_seg *seg;
    int nseg;
    struct sim_traffic_inc inc[SIM_TRAFFIC_MAX_INCIDENTS];
    int ninc;
};

static double sim_traffic__bump(double x, double mu, double sigma)
{
    double z = (x - mu) / sigma;

    return exp(-0.5 * z * z);
}

double sim_traffic_tod(double secs)
{
    double h = secs / 3600.0;

    return 0.95 + 0.20 * sim_traffic__bump(h, 7.9, 0.6) +
           0.25 * sim_traffic__bump(h, 18.1, 0.7);
}

/* FNV-1a of the two stop ids: the segment's stream number, the same in
 * every feed that has those stops. */
static uint64_t sim_traffic__hash(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL; /* "ab"+"c" is not "a"+"bc" */
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The seed of a day's draws: a different day, a different stream. */
static uint64_t sim_traffic__dayseed(uint64_t seed, uint64_t day)
{
    return seed ^ ((day + 1) * 0xd1b54a32d192ed03ULL);
}

void sim_traffic_conf_init(struct sim_traffic_conf *c, int level, uint64_t seed,
                           uint64_t day)
{
    memset(c, 0, sizeof *c);
    c->level = level;
    c->seed = seed;
    c->day = day;
    c->bunching = level != SIM_TRAFFIC_OFF;
}

static int sim_traffic__cmp(const void *a, const void *b)
{
    long x = ((const struct sim_traffic_seg *)a)->key,
         y = ((const struct sim_traffic_seg *)b)->key;

    return x < y ? -1 : x > y;
}

int sim_traffic_segment(const struct sim_traffic *tm, int a, int b)
{
    int lo = 0, hi;
    long key;

    if (!tm || a < 0 || b < 0 || a >= tm->nstops || b >= tm->nstops)
        return -1;
    key = (long)a * tm->nstops + b;
    hi = tm->nseg - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;

        if (tm->seg[mid].key == key)
            return mid;
        if (tm->seg[mid].key < key)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int sim_traffic_nsegments(const struct sim_traffic *tm)
{
    return tm ? tm->nseg : 0;
}

const char *sim_traffic_segment_stop(const struct sim_traffic *tm, int seg,
                                     int end, const struct sim_feed *f)
{
    long key;

    if (!tm || seg < 0 || seg >= tm->nseg)
        return "";
    key = tm->seg[seg].key;
    return f->stops[end ? key % tm->nstops : key / tm->nstops].stop_id;
}

/* The distinct stop pairs the feed's trips drive, sorted by key, with how
 * many trips drive each. */
static int sim_traffic__segments(struct sim_traffic *tm,
                                 const struct sim_feed *f)
{
    int n = 0, u = 0;

    tm->seg = calloc((size_t)f->nst + 1, sizeof *tm->seg);
    if (!tm->seg)
        return -1;
    for (int k = 0; k < f->ntrips; k++) {
        const struct sim_trip *tr = &f->trips[k];

        for (int j = 0; j + 1 < tr->nst; j++) {
            tm->seg[n].key = (long)sim_feed_st(f, tr, j)->stop * f->nstops +
                             sim_feed_st(f, tr, j + 1)->stop;
            tm->seg[n++].ntrips = 1;
        }
    }
    qsort(tm->seg, (size_t)n, sizeof *tm->seg, sim_traffic__cmp);
    for (int i = 0; i < n; i++) {
        if (u > 0 && tm->seg[u - 1].key == tm->seg[i].key)
            tm->seg[u - 1].ntrips++;
        else
            tm->seg[u++] = tm->seg[i];
    }
    tm->nseg = u;
    return 0;
}

/* Personality (from the seed alone), day factor and congestion knots
 * (from seed and day) of segment S; CITY the day's shared knots. */
static void sim_traffic__draw(struct sim_traffic *tm, struct sim_traffic_seg *s,
                              const struct sim_feed *f, uint64_t seed,
                              uint64_t dayseed, const double *city)
{
    const struct sim_traffic_params *p = &tm->p;
    const char *a = f->stops[s->key / tm->nstops].stop_id;
    const char *b = f->stops[s->key % tm->nstops].stop_id;
    uint64_t h = sim_traffic__hash(a, b);
    struct sim_rng r;
    double x, innov = p->cong_sd * sqrt(1 - p->cong_phi * p->cong_phi);
    int n;

    sim_rng_init(&r, seed, h);
    s->base = exp(p->base_sd * sim_rng_normal(&r));
    s->am = exp(p->peak_sd * sim_rng_normal(&r));
    s->pm = exp(p->peak_sd * sim_rng_normal(&r));
    n = sim_rng_poisson(&r, p->signals);
    s->nsignals = n > SIM_TRAFFIC_MAX_SIGNALS ? SIM_TRAFFIC_MAX_SIGNALS : n;

    sim_rng_init(&r, dayseed, h);
    s->day = exp(p->day_sd * sim_rng_normal(&r));
    x = p->cong_sd * sim_rng_normal(&r); /* stationary from the start */
    for (int i = 0; i < SIM_TRAFFIC_NKNOTS; i++) {
        s->cong[i] = (float)(x + city[i]);
        x = p->cong_phi * x + innov * sim_rng_normal(&r);
    }
}

/* Place incident C on its segment (or a random one, weighted by the trips
 * that drive it) at its time (or a random one). */
static int sim_traffic__incident(struct sim_traffic *tm,
                                 const struct sim_feed *f,
                                 const struct sim_traffic_incident *c,
                                 struct sim_rng *r, char *err, size_t errlen)
{
    struct sim_traffic_inc *in = &tm->inc[tm->ninc];
    int seg = -1;

    if (c->from[0] || c->to[0]) {
        int a = -1, b = -1;

        for (int i = 0; i < f->nstops; i++) {
            if (strcmp(f->stops[i].stop_id, c->from) == 0)
                a = i;
            if (strcmp(f->stops[i].stop_id, c->to) == 0)
                b = i;
        }
        seg = sim_traffic_segment(tm, a, b);
        if (seg < 0) {
            snprintf(err, errlen,
                     "incident %s-%s: no trip drives from %s to %s", c->from,
                     c->to, c->from, c->to);
            return -1;
        }
    } else {
        double *w = malloc((size_t)tm->nseg * sizeof *w + 1);

        if (!w) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (int i = 0; i < tm->nseg; i++)
            w[i] = tm->seg[i].ntrips;
        seg = sim_rng_pick(r, w, tm->nseg);
        free(w);
        if (seg < 0) {
            snprintf(err, errlen, "incident: the feed has no segments");
            return -1;
        }
    }
    in->seg = seg;
    in->t0 = c->t >= 0 ? c->t : 7 * 3600 + 12 * 3600 * sim_rng_u01(r);
    in->t1 = in->t0 + (c->dur > 0 ? c->dur : 1800 + 1800 * sim_rng_u01(r));
    in->slow = c->slow > 0 ? c->slow : 3.0;
    tm->ninc++;
    return 0;
}

int sim_traffic_make(const struct sim_traffic_conf *c, const struct sim_feed *f,
                     struct sim_traffic **out, char *err, size_t errlen)
{
    struct sim_traffic *tm;
    double city[SIM_TRAFFIC_NKNOTS], x, innov;
    uint64_t dayseed;
    struct sim_rng r;

    *out = NULL;
    if (c->level == SIM_TRAFFIC_OFF)
        return 0;
    if (c->level != SIM_TRAFFIC_NORMAL && c->level != SIM_TRAFFIC_HEAVY) {
        snprintf(err, errlen, "traffic level %d unknown", c->level);
        return -1;
    }
    tm = calloc(1, sizeof *tm);
    if (!tm || (tm->nstops = f->nstops, sim_traffic__segments(tm, f)) != 0) {
        sim_traffic_free(tm);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    tm->p = sim_traffic__levels[c->level];
    tm->bunching = c->bunching;
    dayseed = sim_traffic__dayseed(c->seed, c->day);

    /* The day's city-wide congestion, added to every segment's own. */
    sim_rng_init(&r, dayseed, SIM_TRAFFIC_STREAM_DAY);
    innov = tm->p.city_sd * sqrt(1 - tm->p.cong_phi * tm->p.cong_phi);
    x = tm->p.city_sd * sim_rng_normal(&r);
    for (int i = 0; i < SIM_TRAFFIC_NKNOTS; i++) {
        city[i] = x;
        x = tm->p.cong_phi * x + innov * sim_rng_normal(&r);
    }
    for (int i = 0; i < tm->nseg; i++)
        sim_traffic__draw(tm, &tm->seg[i], f, c->seed, dayseed, city);
    for (int i = 0; i < c->nincidents && i < SIM_TRAFFIC_MAX_INCIDENTS; i++)
        if (sim_traffic__incident(tm, f, &c->incidents[i], &r, err, errlen)) {
            sim_traffic_free(tm);
            return -1;
        }
    *out = tm;
    return 0;
}

void sim_traffic_free(struct sim_traffic *tm)
{
    if (!tm)
        return;
    free(tm->seg);
    free(tm);
}

double sim_traffic_factor(const struct sim_traffic *tm, int seg, double t)
{
    const struct sim_traffic_seg *s;
    double h = t / 3600.0, tod, kf, cong, slow = 1;
    int k;

    if (!tm)
        return 1.0;
    if (seg < 0 || seg >= tm->nseg)
        return sim_traffic_tod(t);
    s = &tm->seg[seg];
    tod =
        0.95 + tm->p.peak_k * (0.20 * s->am * sim_traffic__bump(h, 7.9, 0.6) +
                               0.25 * s->pm * sim_traffic__bump(h, 18.1, 0.7));
    kf = t / SIM_TRAFFIC_KNOT;
    if (kf < 0)
        kf = 0;
    if (kf > SIM_TRAFFIC_NKNOTS - 1)
        kf = SIM_TRAFFIC_NKNOTS - 1;
    k = (int)kf;
    if (k >= SIM_TRAFFIC_NKNOTS - 1)
        cong = s->cong[SIM_TRAFFIC_NKNOTS - 1];
    else
        cong = s->cong[k] + (kf - k) * (s->cong[k + 1] - s->cong[k]);
    for (int i = 0; i < tm->ninc; i++)
        if (tm->inc[i].seg == seg && t >= tm->inc[i].t0 && t < tm->inc[i].t1)
            slow *= tm->inc[i].slow;
    return tod * s->base * s->day * exp(cong) * slow;
}

double sim_traffic_signals(const struct sim_traffic *tm, int seg, double t,
                           struct sim_rng *r)
{
    double wait = 0;

    (void)t; /* fixed-time signals: the same cycle all day */
    if (!tm || seg < 0 || seg >= tm->nseg)
        return 0;
    for (int i = 0; i < tm->seg[seg].nsignals; i++)
        if (sim_rng_u01(r) < tm->p.red_p)
            wait += tm->p.red_s * sim_rng_u01(r);
    return wait;
}

int sim_traffic_bunching(const struct sim_traffic *tm)
{
    return tm ? tm->bunching : 0;
}

int sim_traffic_incidents(const struct sim_traffic *tm, int i, int *seg,
                          double *t0, double *t1)
{
    if (!tm || i < 0 || i >= tm->ninc)
        return -1;
    *seg = tm->inc[i].seg;
    *t0 = tm->inc[i].t0;
    *t1 = tm->inc[i].t1;
    return 0;
}
