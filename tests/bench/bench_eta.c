/* shuttle-bench-eta: how well the four live_predict methods foretell
 * arrivals on simulated days. Learns a history from N simulated days
 * through the batch trip builder, then replays held-out days through one
 * live_track and scores each method's predictions, sampled at the audit
 * horizons, against the simulator's true arrivals. Prints figures, not a
 * verdict: the targets are reported as met or not met. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "gtfs.h"
#include "harness.h"
#include "live.h"
#include "live_audit.h"
#include "live_hist.h"
#include "live_predict.h"
#include "live_track.h"
#include "sim_bus.h"
#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_rng.h"
#include "sim_traffic.h"
#include "sim_trips.h"
#include "trips.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

#define NMETHODS 4
#define TRAFFIC_SEED 7 /* the same every day: segment personalities stay */
#define MAXSEEDS 16

static const enum live_method methods[NMETHODS] = {
    LIVE_METHOD_TIMETABLE, LIVE_METHOD_DEVIATION, LIVE_METHOD_KALMAN,
    LIVE_METHOD_SHUTTLE};
static const char *const method_names[NMETHODS] = {"timetable", "deviation",
                                                   "kalman", "shuttle"};
/* live_audit's buckets (lead at sampling, min). */
static const char *const bucket_names[LIVE_AUDIT_NBUCKETS] = {
    "0-3", "3-6", "6-10", "10-15", "15-30"};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("shuttle-bench-eta: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    harness_cleanup();
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The scored samples of one method (live_audit's, rescored against the
 * simulator's truth). */
struct samples {
    struct live_audit_sample *v;
    size_t n, cap;
};

static void samples_push(struct samples *s, const struct live_audit_sample *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            die("out of memory");
    }
    s->v[s->n++] = *x;
}

/* Per-fix cost of track + the four refreshes (µs). */
struct costs {
    double *v;
    size_t n, cap;
};

static void costs_push(struct costs *c, double us)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 65536;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        if (!c->v)
            die("out of memory");
    }
    c->v[c->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* One simulated day: the plan, its trips_feed and every bus's input. */
struct day {
    struct sim_feed *sf;
    struct sim_demand dem;
    struct sim_plan plan;
    struct sim_traffic *tm;
    struct trips_feed tf;
    struct sim_trips_vehicle *veh;
    int *sf2tf; /* simulator trip index -> trips_feed trip index */
};

static void day_make(const char *conninfo, const char *date, uint64_t seed,
                     int level, bool incident, struct day *d)
{
    struct sim_plan_opts po;
    struct sim_rng rdem, rplan;
    struct sim_traffic_conf tc;
    char err[512];
    int y, m, dd;

    memset(d, 0, sizeof *d);
    if (sim_feed_load(conninfo, date, &d->sf, err, sizeof err))
        die("%s: %s", date, err);
    sscanf(date, "%d-%d-%d", &y, &m, &dd);
    sim_traffic_conf_init(&tc, level, TRAFFIC_SEED,
                          (uint64_t)(y * 10000 + m * 100 + dd));
    if (incident) {
        memset(&tc.incidents[0], 0, sizeof tc.incidents[0]);
        tc.incidents[0].t = -1;
        tc.incidents[0].dur = 0;
        tc.incidents[0].slow = 3.0;
        tc.nincidents = 1;
    }
    if (sim_traffic_make(&tc, d->sf, &d->tm, err, sizeof err))
        die("traffic: %s", err);
    sim_rng_init(&rdem, seed, 1);
    sim_rng_init(&rplan, seed, 2);
    if (sim_demand_make(d->sf, NULL, 1500, 45, &rdem, &d->dem))
        die("demand: out of memory");
    memset(&po, 0, sizeof po);
    po.seats = 45;
    po.counter_error = 0.03;
    po.traffic = d->tm;
    if (sim_plan_make(d->sf, &d->dem, &po, &rplan, &d->plan))
        die("plan: out of memory");
    if (sim_trips_feed(d->sf, (int64_t)d->sf->day0 * 1000, &d->tf))
        die("trips feed: out of memory");
    d->sf2tf = calloc((size_t)d->sf->ntrips, sizeof *d->sf2tf);
    d->veh = calloc((size_t)d->plan.nbus, sizeof *d->veh);
    if (!d->sf2tf || !d->veh)
        die("out of memory");
    for (int i = 0; i < d->sf->ntrips; i++) {
        d->sf2tf[i] = -1;
        for (size_t k = 0; k < d->tf.ntrips; k++)
            if (!strcmp(d->tf.trips[k].id, d->sf->trips[i].trip_id))
                d->sf2tf[i] = (int)k;
    }
    for (int b = 0; b < d->plan.nbus; b++) {
        /* 3 m of receiver error, 2 % of fixes lost at random. */
        struct sim_trips_gps g = {seed, 3.0, 0.02};

        if (sim_trips_vehicle(&d->plan, d->sf, b, &g, &d->veh[b]))
            die("bus %d: out of memory", b);
    }
}

static void day_free(struct day *d)
{
    for (int b = 0; b < d->plan.nbus; b++)
        sim_trips_vehicle_free(&d->veh[b]);
    free(d->veh);
    free(d->sf2tf);
    sim_trips_feed_free(&d->tf);
    sim_plan_free(&d->plan);
    sim_demand_free(&d->dem);
    sim_traffic_free(d->tm);
    sim_feed_free(d->sf);
}

/* A learning day: the batch builder's visits, each put on its trip and
 * position, into the history. Returns the visits added. */
static size_t learn_day(struct live_hist *h, struct day *d)
{
    struct trips_params p;
    struct trips_run *runs = NULL;
    struct trips_visit **vis;
    size_t nruns = 0, *nvis, *run0, added = 0;
    int nb = d->plan.nbus;

    trips_params_default(&p);
    vis = calloc((size_t)nb, sizeof *vis);
    nvis = calloc((size_t)nb, sizeof *nvis);
    run0 = calloc((size_t)nb + 1, sizeof *run0);
    if (!vis || !nvis || !run0)
        die("out of memory");
    for (int b = 0; b < nb; b++) {
        run0[b] = nruns;
        if (trips_visits(&d->tf, &p, d->veh[b].fixes, d->veh[b].nfixes,
                         d->veh[b].doors, d->veh[b].ndoors, &vis[b],
                         &nvis[b]) ||
            trips_runs(&d->tf, &p, d->veh[b].id, vis[b], nvis[b], &runs,
                       &nruns))
            die("trip builder failed on bus %d", b);
    }
    run0[nb] = nruns;
    if (trips_assign(&d->tf, &p, runs, nruns))
        die("trips_assign failed");
    live_hist_day_begin(h, d->tf.day_ms, LIVE_HIST_WEEKDAY);
    for (int b = 0; b < nb; b++) {
        for (size_t r = run0[b]; r < run0[b + 1]; r++) {
            const struct trips_run *rn = &runs[r];
            const struct trips_trip *tr;
            size_t pos = 0;

            if (rn->trip < 0)
                continue;
            tr = &d->tf.trips[rn->trip];
            for (size_t k = rn->first_visit; k <= rn->last_visit && k < nvis[b];
                 k++) {
                const struct trips_visit *v = &vis[b][k];
                struct live_hist_visit hv;
                size_t q = pos;

                /* The visit's position: the next one of the trip on its
                 * stop. */
                while (q < tr->n && d->tf.st[tr->first + q].stop != v->stop)
                    q++;
                if (q == tr->n)
                    continue;
                pos = q + 1;
                hv.trip = rn->trip;
                hv.pos = (int)q;
                hv.arr_ms = v->arr_ms;
                hv.dep_ms = v->dep_ms;
                hv.boarded = v->boarded;
                hv.alighted = v->alighted;
                hv.load_after = v->load_after;
                if (live_hist_add_visit(h, &hv) == LIVE_HIST_OK)
                    added++;
            }
        }
        free(vis[b]);
    }
    free(vis);
    free(nvis);
    free(run0);
    free(runs);
    return added;
}

/* How far the tracker's events fall from the simulator's truth (s, event
 * - truth): at stops the bus halted at and at stops it drove past. A
 * constant offset here is a bias every method inherits. */
struct offsets {
    double arr_halt, arr_pass, dep_halt;
    size_t n_arr_halt, n_arr_pass, n_dep_halt;
};

/* A held-out day's replay state. */
struct replay {
    struct live_predict *pred[NMETHODS];
    const struct trips_feed *tf;
    struct live_audit *aud[NMETHODS];
    int64_t *truth;                  /* per stop time: true arrival, -1 */
    int64_t *truth_dep;              /* per stop time: true departure, -1 */
    struct offsets *off;             /* tracker events against the truth */
    struct samples *out;             /* per method */
    struct live_audit_summary **sum; /* per method */
};

static void on_event(void *arg, const struct live_event *ev)
{
    struct replay *r = arg;

    if ((ev->type == LIVE_EV_ARRIVE || ev->type == LIVE_EV_DEPART) &&
        ev->pos > 0 && ev->trip >= 0 && (size_t)ev->trip < r->tf->ntrips) {
        size_t st = r->tf->trips[ev->trip].first + (size_t)ev->pos;
        bool halt = r->truth_dep[st] > r->truth[st];

        if (r->truth[st] >= 0 && ev->type == LIVE_EV_ARRIVE && halt) {
            r->off->arr_halt += (double)(ev->t_ms - r->truth[st]) / 1000;
            r->off->n_arr_halt++;
        } else if (r->truth[st] >= 0 && ev->type == LIVE_EV_ARRIVE) {
            r->off->arr_pass += (double)(ev->t_ms - r->truth[st]) / 1000;
            r->off->n_arr_pass++;
        } else if (r->truth[st] >= 0 && halt) {
            r->off->dep_halt += (double)(ev->t_ms - r->truth_dep[st]) / 1000;
            r->off->n_dep_halt++;
        }
    }
    for (int m = 0; m < NMETHODS; m++) {
        struct live_audit_sample done[LIVE_AUDIT_NHORIZONS];
        size_t n = 0;

        live_predict_event(r->pred[m], ev);
        if (live_audit_event(r->aud[m], ev, done, LIVE_AUDIT_NHORIZONS, &n) !=
            LIVE_AUDIT_OK)
            die("live_audit_event failed");
        /* Scored again against the simulator's true arrival, not the
         * tracker's. */
        for (size_t i = 0; i < n; i++) {
            struct live_audit_sample *x = &done[i];
            size_t st = r->tf->trips[x->trip].first + (size_t)x->pos;
            double lead_s, err_s;

            if (r->truth[st] < 0 || r->truth[st] < x->made_ms)
                continue; /* not served, or predicted after it came */
            x->actual_ms = r->truth[st];
            lead_s = (double)(x->pred_ms - x->made_ms) / 1000.0;
            err_s = (double)(x->actual_ms - x->pred_ms) / 1000.0;
            x->accurate = live_audit_accurate(lead_s, err_s);
            x->covered = x->lo_ms <= x->actual_ms && x->actual_ms <= x->hi_ms;
            if (live_audit_summary_add(r->sum[m], x) != LIVE_AUDIT_OK)
                die("out of memory");
            samples_push(&r->out[m], x);
        }
    }
}

/* One held-out day: replay, predict, sample, score. */
static void replay_day(const struct live_hist *h, struct day *d,
                       const struct live_predict_params *pp,
                       struct samples *out, struct live_audit_summary **sum,
                       struct costs *cost, struct offsets *off)
{
    struct replay r;
    struct trips_params p;
    struct live_track *lt;
    size_t *fi, *di;
    char err[512];
    int64_t last_tick = 0;
    int nb = d->plan.nbus;

    memset(&r, 0, sizeof r);
    r.tf = &d->tf;
    r.out = out;
    r.sum = sum;
    r.truth = malloc(d->tf.nst * sizeof *r.truth);
    r.truth_dep = malloc(d->tf.nst * sizeof *r.truth_dep);
    r.off = off;
    fi = calloc((size_t)nb, sizeof *fi);
    di = calloc((size_t)nb, sizeof *di);
    if (!r.truth || !r.truth_dep || !fi || !di)
        die("out of memory");
    for (size_t k = 0; k < d->tf.nst; k++)
        r.truth[k] = r.truth_dep[k] = -1;
    for (int i = 0; i < d->plan.nvisits; i++) {
        const struct sim_visit *v = &d->plan.visits[i];
        int t =
            v->trip >= 0 && v->trip < d->sf->ntrips ? d->sf2tf[v->trip] : -1;

        if (t < 0 || v->j < 0 || (size_t)v->j >= d->tf.trips[t].n)
            continue;
        r.truth[d->tf.trips[t].first + (size_t)v->j] =
            ((int64_t)d->sf->day0 + 0) * 1000 + (int64_t)llround(v->arr * 1000);
        r.truth_dep[d->tf.trips[t].first + (size_t)v->j] =
            (int64_t)d->sf->day0 * 1000 + (int64_t)llround(v->dep * 1000);
    }
    for (int m = 0; m < NMETHODS; m++) {
        r.pred[m] =
            live_predict_new(&d->tf, h, LIVE_HIST_WEEKDAY, methods[m], &pp[m]);
        if (!r.pred[m] || live_audit_new(&d->tf, &r.aud[m]) != LIVE_AUDIT_OK)
            die("live_predict_new/live_audit_new: out of memory");
    }
    trips_params_default(&p);
    if (live_track_new(&d->tf, NULL, &p, on_event, &r, &lt, err, sizeof err) !=
        LIVE_TRACK_OK)
        die("live_track_new: %s", err);
    /* Every vehicle's fixes and doors in global time order. */
    for (;;) {
        int b = -1;
        bool door = false;
        int64_t t = INT64_MAX;

        for (int k = 0; k < nb; k++) {
            if (fi[k] < d->veh[k].nfixes && d->veh[k].fixes[fi[k]].t_ms < t) {
                t = d->veh[k].fixes[fi[k]].t_ms;
                b = k;
                door = false;
            }
            if (di[k] < d->veh[k].ndoors && d->veh[k].doors[di[k]].t_ms < t) {
                t = d->veh[k].doors[di[k]].t_ms;
                b = k;
                door = true;
            }
        }
        if (b < 0)
            break;
        if (t - last_tick >= 1000) {
            live_track_tick(lt, t);
            last_tick = t;
        }
        if (door) {
            live_track_door(lt, d->veh[b].id, &d->veh[b].doors[di[b]++], t);
        } else {
            const struct trips_fix *x = &d->veh[b].fixes[fi[b]++];
            const struct live_trip_pred *tp[NMETHODS], *nx[NMETHODS];
            const struct live_vehicle *v;
            double t0 = now_us();
            int vi;

            live_track_fix(lt, d->veh[b].id, x, t);
            vi = live_track_find(lt, d->veh[b].id);
            if (vi < 0)
                continue;
            v = live_track_vehicle(lt, (size_t)vi);
            for (int m = 0; m < NMETHODS; m++)
                tp[m] = live_predict_vehicle(r.pred[m], vi, v, t, &nx[m]);
            costs_push(cost, now_us() - t0);
            for (int m = 0; m < NMETHODS; m++)
                if ((tp[m] && live_audit_predictions(r.aud[m], tp[m], t) !=
                                  LIVE_AUDIT_OK) ||
                    (nx[m] && live_audit_predictions(r.aud[m], nx[m], t) !=
                                  LIVE_AUDIT_OK))
                    die("live_audit_predictions failed");
        }
    }
    live_track_free(lt);
    for (int m = 0; m < NMETHODS; m++) {
        live_predict_free(r.pred[m]);
        live_audit_free(r.aud[m]);
    }
    free(r.truth);
    free(r.truth_dep);
    free(fi);
    free(di);
}

/* Figures of the samples of one method whose lead at sampling (predicted
 * arrival - made) is in [LO, HI) s: the 0-5 and 5-10 min targets, which
 * straddle live_audit's buckets. Same definitions as live_audit's. */
static void figures(const struct samples *s, int lo_s, int hi_s,
                    struct live_audit_figures *f)
{
    double *ae = malloc((s->n + 1) * sizeof *ae), sum = 0, bias = 0;
    size_t acc = 0, cov = 0;

    if (!ae)
        die("out of memory");
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < s->n; i++) {
        const struct live_audit_sample *x = &s->v[i];
        int64_t lead = x->pred_ms - x->made_ms;
        double e = (double)(x->actual_ms - x->pred_ms) / 1000.0;

        if (lead < (int64_t)lo_s * 1000 || lead >= (int64_t)hi_s * 1000)
            continue;
        ae[f->n++] = fabs(e);
        sum += fabs(e);
        bias += e;
        acc += x->accurate;
        cov += x->covered;
    }
    if (f->n) {
        qsort(ae, f->n, sizeof *ae, cmp_double);
        f->mae_s = sum / (double)f->n;
        f->p90_s = ae[(size_t)ceil(0.9 * (double)f->n) - 1];
        f->bias_s = bias / (double)f->n;
        f->accuracy = (double)acc / (double)f->n;
        f->coverage = (double)cov / (double)f->n;
    }
    free(ae);
}

static void print_table(const char *title, struct live_audit_summary **sum)
{
    printf("\n%s\n", title);
    printf("%-10s %-6s %7s %8s %8s %8s %7s %7s\n", "method", "bucket", "n",
           "MAE s", "p90 s", "bias s", "acc %", "cov %");
    for (int m = 0; m < NMETHODS; m++)
        for (int b = 0; b < LIVE_AUDIT_NBUCKETS; b++) {
            struct live_audit_figures f;

            live_audit_summary_get(sum[m], (enum live_audit_bucket)b, &f);
            printf("%-10s %-6s %7zu %8.1f %8.1f %+8.1f %7.1f %7.1f\n",
                   method_names[m], bucket_names[b], f.n, f.mae_s, f.p90_s,
                   f.bias_s, 100 * f.accuracy, 100 * f.coverage);
        }
}

static int met(bool ok)
{
    printf("  %s\n", ok ? "met" : "NOT met");
    return ok;
}

static void print_targets(struct samples *out)
{
    struct live_audit_figures s[2], dv[2], k[2], all;
    static const int lo[2] = {0, 300}, hi[2] = {300, 600};
    static const double mae_max[2] = {45, 90};

    printf("\ntargets (shuttle, held-out days; MAE ratio = shuttle / other)\n");
    for (int i = 0; i < 2; i++) {
        figures(&out[3], lo[i], hi[i], &s[i]);
        figures(&out[1], lo[i], hi[i], &dv[i]);
        figures(&out[2], lo[i], hi[i], &k[i]);
        printf("%d-%d min: shuttle MAE %.1f s, deviation %.1f s, kalman "
               "%.1f s\n",
               lo[i] / 60, hi[i] / 60, s[i].mae_s, dv[i].mae_s, k[i].mae_s);
        printf("  vs deviation ratio %.3f (target <= 0.75)",
               dv[i].mae_s > 0 ? s[i].mae_s / dv[i].mae_s : NAN);
        met(dv[i].mae_s > 0 && s[i].mae_s <= 0.75 * dv[i].mae_s);
        printf("  vs kalman ratio %.3f (target <= 0.90)",
               k[i].mae_s > 0 ? s[i].mae_s / k[i].mae_s : NAN);
        met(k[i].mae_s > 0 && s[i].mae_s <= 0.90 * k[i].mae_s);
        printf("  MAE %.1f s (target <= %.0f s)", s[i].mae_s, mae_max[i]);
        met(s[i].n > 0 && s[i].mae_s <= mae_max[i]);
    }
    figures(&out[3], 0, 1801, &all);
    printf("accuracy 0-30 min %.1f %% (target >= 90 %%)", 100 * all.accuracy);
    met(all.n > 0 && all.accuracy >= 0.90);
    printf("coverage 0-30 min %.1f %% (target 75-85 %%)", 100 * all.coverage);
    met(all.n > 0 && all.coverage >= 0.75 && all.coverage <= 0.85);
}

/* The I-th weekday from 2026-03-02 (a Monday) as YYYY-MM-DD. */
static void weekday_date(int i, char *out, size_t len)
{
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 2;
    tm.tm_mday = 2 + (i / 5) * 7 + i % 5;
    tm.tm_hour = 12;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d", &tm);
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-bench-eta [options]\n"
            "  --learn N          learning days (default 20)\n"
            "  --seeds a,b,c      held-out day seeds (default 101,102,103)\n"
            "  --calib N          days (seeds 1001..) replayed before them to\n"
            "                     calibrate the 80 %% intervals (default 3)\n"
            "  --quick            --learn 3 and one held-out seed\n"
            "  --traffic normal|heavy  (default normal)\n"
            "  --gtfs DIR         feed (default the source tree's "
            "deploy/gtfs)\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"learn", required_argument, NULL, 'l'},
        {"seeds", required_argument, NULL, 's'},
        {"calib", required_argument, NULL, 'c'},
        {"quick", no_argument, NULL, 'q'},
        {"traffic", required_argument, NULL, 't'},
        {"gtfs", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *gtfs = BENCH_SOURCE_DIR "/deploy/gtfs";
    uint64_t seeds[MAXSEEDS] = {101, 102, 103};
    int nseeds = 3, learn = 20, ncalib = 3, level = SIM_TRAFFIC_NORMAL, ch;
    struct live_predict_params pp[NMETHODS];
    bool quick = false;
    struct harness_pg *pg;
    struct db *db;
    struct live_hist *h;
    struct day hday;
    struct samples out[NMETHODS], inc[NMETHODS];
    struct live_audit_summary *sum[NMETHODS], *isum[NMETHODS];
    struct costs cost = {0};
    struct offsets off = {0}, ioff = {0};
    char err[512], date[16];
    size_t visits = 0;
    double t_start = now_us(), t_learn;

    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            learn = atoi(optarg);
            break;
        case 's': {
            char *p = optarg, *e;

            nseeds = 0;
            while (*p && nseeds < MAXSEEDS) {
                seeds[nseeds++] = strtoull(p, &e, 10);
                p = *e == ',' ? e + 1 : e;
                if (e == p && *p)
                    break;
            }
            break;
        }
        case 'c':
            ncalib = atoi(optarg);
            break;
        case 'q':
            quick = true;
            break;
        case 't':
            if (!strcmp(optarg, "normal"))
                level = SIM_TRAFFIC_NORMAL;
            else if (!strcmp(optarg, "heavy"))
                level = SIM_TRAFFIC_HEAVY;
            else {
                usage(stderr);
                return 2;
            }
            break;
        case 'g':
            gtfs = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (quick) {
        learn = 3;
        nseeds = 1;
        ncalib = 1;
    }
    if (learn < 1 || nseeds < 1 || ncalib < 0)
        die("need at least one learning day and one held-out seed");

    pg = harness_pg_start(1);
    if (!pg)
        die("cannot start PostgreSQL");
    if (db_new(harness_pg_conninfo(pg), &db) != 0 ||
        db_connect(db, err, sizeof err) != 0 ||
        db_migrate(db, err, sizeof err) != 0)
        die("schema: %s", err);
    db_free(db);
    if (gtfs_load(harness_pg_conninfo(pg), gtfs, NULL, err, sizeof err) != 0)
        die("GTFS %s: %s", gtfs, err);

    /* (1) The history: the first learning day's feed stays as its feed
     * (every day's feed has the same trips in the same order). */
    weekday_date(0, date, sizeof date);
    day_make(harness_pg_conninfo(pg), date, 1, level, false, &hday);
    h = live_hist_new(&hday.tf);
    if (!h)
        die("live_hist_new: out of memory");
    visits += learn_day(h, &hday);
    for (int i = 1; i < learn; i++) {
        struct day d;

        weekday_date(i, date, sizeof date);
        day_make(harness_pg_conninfo(pg), date, (uint64_t)i + 1, level, false,
                 &d);
        visits += learn_day(h, &d);
        day_free(&d);
    }
    if (live_hist_finish(h) != LIVE_HIST_OK)
        die("live_hist_finish: out of memory");
    t_learn = now_us();
    printf("shuttle-bench-eta: %d learning days (weekdays from 2026-03-02, "
           "traffic %s, traffic seed %d), %zu visits learnt in %.1f s\n",
           learn, level == SIM_TRAFFIC_HEAVY ? "heavy" : "normal", TRAFFIC_SEED,
           visits, (t_learn - t_start) / 1e6);

    /* (2) Calibration days after the learning days: each method's 80 %
     * interval from its own errors there, as shuttle-live would from the
     * eta_samples of past days. */
    for (int m = 0; m < NMETHODS; m++)
        live_predict_params_default(&pp[m]);
    if (ncalib > 0) {
        struct samples cs[NMETHODS];
        struct live_audit_summary *csum[NMETHODS];
        struct offsets coff = {0};

        memset(cs, 0, sizeof cs);
        for (int m = 0; m < NMETHODS; m++)
            if (!(csum[m] = live_audit_summary_new()))
                die("out of memory");
        for (int i = 0; i < ncalib; i++) {
            struct day d;

            weekday_date(learn + i, date, sizeof date);
            day_make(harness_pg_conninfo(pg), date, 1001 + (uint64_t)i, level,
                     false, &d);
            replay_day(h, &d, pp, cs, csum, &cost, &coff);
            day_free(&d);
        }
        for (int m = 0; m < NMETHODS; m++) {
            if (live_predict_calibrate(cs[m].v, cs[m].n, &pp[m].cal) !=
                LIVE_PREDICT_OK)
                die("out of memory");
            free(cs[m].v);
            live_audit_summary_free(csum[m]);
        }
        printf("interval calibration (shuttle), %d days from seed 1001: "
               "error q10..q90 at lead",
               ncalib);
        for (int b = 0; b < LIVE_PREDICT_NBANDS; b++)
            if (pp[3].cal.n[b])
                printf(" %.0f s %+.0f..%+.0f", pp[3].cal.lead_s[b],
                       pp[3].cal.q10_s[b], pp[3].cal.q90_s[b]);
        printf("\n");
    }

    /* (3) Held-out days, after those. */
    memset(out, 0, sizeof out);
    memset(inc, 0, sizeof inc);
    for (int m = 0; m < NMETHODS; m++) {
        sum[m] = live_audit_summary_new();
        isum[m] = live_audit_summary_new();
        if (!sum[m] || !isum[m])
            die("out of memory");
    }
    for (int i = 0; i < nseeds; i++) {
        struct day d;

        weekday_date(learn + ncalib + i, date, sizeof date);
        day_make(harness_pg_conninfo(pg), date, seeds[i], level, false, &d);
        replay_day(h, &d, pp, out, sum, &cost, &off);
        printf("held-out %s seed %" PRIu64 ": %d buses replayed\n", date,
               seeds[i], d.plan.nbus);
        day_free(&d);
    }
    printf("tracker events - truth: arrival at a halt %+.1f s (%zu), "
           "passing %+.1f s (%zu), departure from a halt %+.1f s (%zu)\n",
           off.n_arr_halt ? off.arr_halt / (double)off.n_arr_halt : 0,
           off.n_arr_halt,
           off.n_arr_pass ? off.arr_pass / (double)off.n_arr_pass : 0,
           off.n_arr_pass,
           off.n_dep_halt ? off.dep_halt / (double)off.n_dep_halt : 0,
           off.n_dep_halt);
    /* (4) */
    print_table(
        "arrival predictions, held-out days (live_audit: error = actual - "
        "predicted, bias + = the bus came later; buckets by lead at "
        "sampling, min)",
        sum);
    print_targets(out);

    /* (5) One more held-out day with a random incident. */
    {
        struct day d;

        weekday_date(learn + ncalib + nseeds, date, sizeof date);
        day_make(harness_pg_conninfo(pg), date, seeds[nseeds - 1] + 1000, level,
                 true, &d);
        replay_day(h, &d, pp, inc, isum, &cost, &ioff);
        {
            int seg;
            double t0, t1;

            if (sim_traffic_incidents(d.tm, 0, &seg, &t0, &t1) == 0 && seg >= 0)
                printf("\nincident day %s: segment %s -> %s x3 slower "
                       "%02d:%02d-%02d:%02d\n",
                       date, sim_traffic_segment_stop(d.tm, seg, 0, d.sf),
                       sim_traffic_segment_stop(d.tm, seg, 1, d.sf),
                       (int)t0 / 3600, (int)t0 / 60 % 60, (int)t1 / 3600,
                       (int)t1 / 60 % 60);
            else
                printf("\nincident day %s: random incident\n", date);
        }
        print_table("arrival predictions, incident day", isum);
        day_free(&d);
    }

    /* (6) */
    if (cost.n) {
        qsort(cost.v, cost.n, sizeof *cost.v, cmp_double);
        printf("\nper-fix cost of live_track_fix + 4 live_predict_vehicle: "
               "p50 %.2f us, p99 %.2f us over %zu fixes\n",
               cost.v[cost.n / 2], cost.v[(size_t)((double)cost.n * 0.99)],
               cost.n);
    }
    printf("total %.1f s\n", (now_us() - t_start) / 1e6);

    for (int m = 0; m < NMETHODS; m++) {
        free(out[m].v);
        free(inc[m].v);
        live_audit_summary_free(sum[m]);
        live_audit_summary_free(isum[m]);
    }
    free(cost.v);
    live_hist_free(h);
    day_free(&hday);
    harness_cleanup();
    return 0;
}
