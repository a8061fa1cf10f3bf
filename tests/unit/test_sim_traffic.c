/* test_sim_traffic: the simulator's traffic model (determinism, time
 * correlation, incidents, day-to-day variation around a persistent
 * personality, off = no change) and its effect on a planned day. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_bus.h"
#include "sim_traffic.h"

#define FX_STOPS 6
#define FX_PTS 6
/* Route A: stops 0..5 along the line out; route B: 5..0 back. Each block
 * alternates A and B, a run every 30 min, NBLK blocks staggered by 10 min. */
static struct sim_feed *fx_feed(int nblk, int nrun)
{
    struct sim_feed *f = calloc(1, sizeof *f);
    int ntr = nblk * nrun, k = 0;

    strcpy(f->tz, "UTC");
    strcpy(f->date, "2026-12-01");
    f->nstops = FX_STOPS;
    f->stops = calloc(FX_STOPS, sizeof *f->stops);
    for (int i = 0; i < FX_STOPS; i++) {
        char id[32];
        snprintf(id, sizeof id, "S%d", i);
        f->stops[i].stop_id = strdup(id);
        f->stops[i].lat = 37.5;
        f->stops[i].lon = 126.9 + 0.009 * i;
    }
    f->npts = 2 * FX_PTS;
    f->pts_lat = calloc((size_t)f->npts, sizeof(double));
    f->pts_lon = calloc((size_t)f->npts, sizeof(double));
    f->pts_d = calloc((size_t)f->npts, sizeof(double));
    for (int i = 0; i < FX_PTS; i++) {
        f->pts_lat[i] = f->pts_lat[FX_PTS + i] = 37.5;
        f->pts_lon[i] = 126.9 + 0.009 * i;
        f->pts_lon[FX_PTS + i] = 126.9 + 0.009 * (FX_PTS - 1 - i);
        f->pts_d[i] = f->pts_d[FX_PTS + i] = 0;
    }
    for (int l = 0; l < 2; l++)
        for (int i = 1; i < FX_PTS; i++)
            f->pts_d[l * FX_PTS + i] =
                f->pts_d[l * FX_PTS + i - 1] +
                sim_geo_dist(f->pts_lat[l * FX_PTS + i - 1],
                             f->pts_lon[l * FX_PTS + i - 1],
                             f->pts_lat[l * FX_PTS + i],
                             f->pts_lon[l * FX_PTS + i]);
    f->nlines = 2;
    f->lines = calloc(2, sizeof *f->lines);
    f->line_ids = calloc(2, sizeof *f->line_ids);
    for (int l = 0; l < 2; l++) {
        f->lines[l].lat = f->pts_lat + l * FX_PTS;
        f->lines[l].lon = f->pts_lon + l * FX_PTS;
        f->lines[l].d = f->pts_d + l * FX_PTS;
        f->lines[l].n = FX_PTS;
        f->line_ids[l] = strdup(l ? "B" : "A");
    }
    f->nblocks = nblk;
    f->blocks = calloc((size_t)nblk, sizeof *f->blocks);
    f->ntrips = ntr;
    f->trips = calloc((size_t)ntr, sizeof *f->trips);
    f->nst = ntr * FX_STOPS;
    f->st = calloc((size_t)f->nst, sizeof *f->st);
    for (int b = 0; b < nblk; b++) {
        char id[32];
        for (int r = 0; r < nrun; r++, k++) {
            struct sim_trip *t = &f->trips[k];
            int dir = r % 2, t0 = 6 * 3600 + b * 600 + r * 1800;

            snprintf(id, sizeof id, "t%d_%d", b, r);
            t->trip_id = strdup(id);
            t->route_id = strdup(dir ? "B" : "A");
            snprintf(id, sizeof id, "blk%d", b);
            t->block_id = strdup(id);
            if (r == 0) /* as sim_feed: the block's id is its first trip's */
                f->blocks[b] = t->block_id;
            t->direction = dir;
            t->line = dir;
            t->first_st = k * FX_STOPS;
            t->nst = FX_STOPS;
            t->block = b;
            for (int j = 0; j < FX_STOPS; j++) {
                struct sim_stop_time *s = &f->st[k * FX_STOPS + j];
                s->stop = dir ? FX_STOPS - 1 - j : j;
                s->seq = j + 1;
                s->arr = s->dep = t0 + j * 240;
                s->dist = f->pts_d[dir * FX_PTS + j];
            }
        }
    }
    return f;
}

static struct sim_traffic *fx_model(const struct sim_feed *f, int level,
                                    uint64_t seed, uint64_t day)
{
    struct sim_traffic_conf c;
    struct sim_traffic *tm = NULL;
    char err[256];

    sim_traffic_conf_init(&c, level, seed, day);
    assert_int_equal(sim_traffic_make(&c, f, &tm, err, sizeof err), 0);
    return tm;
}

/* One incident in C: S2 -> S3 from 08:00 for 40 min. */
static void fx_incident(struct sim_traffic_conf *c)
{
    strcpy(c->incidents[0].from, "S2");
    strcpy(c->incidents[0].to, "S3");
    c->incidents[0].t = 8 * 3600;
    c->incidents[0].dur = 2400;
    c->nincidents = 1;
}

/* Same seed and day, same factors; another seed, other factors. */
static void test_deterministic(void **state)
{
    struct sim_feed *f = fx_feed(2, 4);
    struct sim_traffic *a = fx_model(f, SIM_TRAFFIC_NORMAL, 7, 3);
    struct sim_traffic *b = fx_model(f, SIM_TRAFFIC_NORMAL, 7, 3);
    struct sim_traffic *c = fx_model(f, SIM_TRAFFIC_NORMAL, 8, 3);
    int differ = 0;

    (void)state;
    /* 5 stop pairs each way on the shared road. */
    assert_int_equal(sim_traffic_nsegments(a), 2 * (FX_STOPS - 1));
    assert_true(sim_traffic_segment(a, 0, 1) >= 0);
    assert_true(sim_traffic_segment(a, 1, 0) >= 0);
    assert_int_equal(sim_traffic_segment(a, 0, 2), -1);
    for (int s = 0; s < sim_traffic_nsegments(a); s++)
        for (double t = 0; t < 86400; t += 600) {
            double fa = sim_traffic_factor(a, s, t);

            assert_true(fa == sim_traffic_factor(b, s, t));
            assert_true(fa > 0.3 && fa < 4);
            differ += fabs(fa - sim_traffic_factor(c, s, t)) > 1e-9;
        }
    assert_true(differ > 100);
    sim_traffic_free(a);
    sim_traffic_free(b);
    sim_traffic_free(c);
    sim_feed_free(f);
}

/* Congestion is shared in time: two buses 5 min apart on a segment see
 * nearly the same factor; 3 h apart, unrelated ones. Measured over many
 * days as the mean squared difference of log factors, net of the
 * time-of-day curve (which both share by construction). */
static void test_correlated(void **state)
{
    struct sim_feed *f = fx_feed(2, 4);
    double near = 0, far = 0;
    int n = 0;

    (void)state;
    for (uint64_t day = 0; day < 40; day++) {
        struct sim_traffic *tm = fx_model(f, SIM_TRAFFIC_NORMAL, 11, day);

        for (int s = 0; s < sim_traffic_nsegments(tm); s++)
            for (double t = 9 * 3600; t < 15 * 3600; t += 900) {
                double x = log(sim_traffic_factor(tm, s, t));
                double y5 = log(sim_traffic_factor(tm, s, t + 300));
                double y3h = log(sim_traffic_factor(tm, s, t + 3 * 3600));

                near += (x - y5) * (x - y5);
                far += (x - y3h) * (x - y3h);
                n++;
            }
        sim_traffic_free(tm);
    }
    near /= n;
    far /= n;
    assert_true(far > 0);
    assert_true(near < 0.1 * far);
    sim_feed_free(f);
}

/* An incident makes its segment 3x slower inside its window, and only
 * there; a random one lasts 30-60 min and falls in the day. */
static void test_incident(void **state)
{
    struct sim_feed *f = fx_feed(2, 4);
    struct sim_traffic_conf c;
    struct sim_traffic *on = NULL, *off, *rnd = NULL;
    char err[256];
    int seg, s2;
    double t0, t1;

    (void)state;
    sim_traffic_conf_init(&c, SIM_TRAFFIC_NORMAL, 5, 1);
    off = fx_model(f, SIM_TRAFFIC_NORMAL, 5, 1);
    fx_incident(&c);
    assert_int_equal(sim_traffic_make(&c, f, &on, err, sizeof err), 0);
    seg = sim_traffic_segment(on, 2, 3);
    assert_int_equal(sim_traffic_incidents(on, 0, &s2, &t0, &t1), 0);
    assert_int_equal(s2, seg);
    for (double t = 6 * 3600; t < 10 * 3600; t += 60) {
        double r =
            sim_traffic_factor(on, seg, t) / sim_traffic_factor(off, seg, t);
        int in = t >= 8 * 3600 && t < 8 * 3600 + 2400;

        assert_true(fabs(r - (in ? 3.0 : 1.0)) < 1e-9);
        /* the other direction of the same road is not blocked */
        assert_true(sim_traffic_factor(on, sim_traffic_segment(on, 3, 2), t) ==
                    sim_traffic_factor(off, sim_traffic_segment(off, 3, 2), t));
    }
    sim_traffic_free(on);

    /* A segment nobody drives is refused. */
    strcpy(c.incidents[0].to, "S4");
    assert_int_equal(sim_traffic_make(&c, f, &on, err, sizeof err), -1);
    assert_non_null(strstr(err, "S2"));

    memset(&c.incidents[0], 0, sizeof c.incidents[0]);
    c.incidents[0].t = -1;
    assert_int_equal(sim_traffic_make(&c, f, &rnd, err, sizeof err), 0);
    assert_int_equal(sim_traffic_incidents(rnd, 0, &s2, &t0, &t1), 0);
    assert_true(s2 >= 0 && s2 < sim_traffic_nsegments(rnd));
    assert_true(t1 - t0 >= 1800 && t1 - t0 <= 3600);
    assert_true(t0 >= 7 * 3600 && t0 <= 19 * 3600);
    assert_int_equal(sim_traffic_incidents(rnd, 1, &s2, &t0, &t1), -1);
    sim_traffic_free(rnd);
    sim_traffic_free(off);
    sim_feed_free(f);
}

static double fx_corr(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;

    for (int i = 0; i < n; i++) {
        mx += x[i] / n;
        my += y[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

/* Days differ segment by segment, but a segment's character persists: its
 * evening-peak mean on one day correlates with its mean on another. A
 * bigger feed (many stop pairs) gives the correlation something to bite. */
static void test_personality(void **state)
{
    struct sim_feed *f = fx_feed(2, 4);
    enum { NDAYS = 2 };
    double m[NDAYS][2 * (FX_STOPS - 1)];
    int ns = 0, changed = 0;
    double cs = 0;

    (void)state;
    for (int d = 0; d < NDAYS; d++) {
        struct sim_traffic *tm = fx_model(f, SIM_TRAFFIC_NORMAL, 21, 100 + d);

        ns = sim_traffic_nsegments(tm);
        for (int s = 0; s < ns; s++) {
            m[d][s] = 0;
            for (double t = 17 * 3600; t < 19 * 3600; t += 300)
                m[d][s] += sim_traffic_factor(tm, s, t) / 24;
        }
        sim_traffic_free(tm);
    }
    for (int s = 0; s < ns; s++)
        changed += fabs(m[0][s] - m[1][s]) > 0.01;
    assert_true(changed > ns / 2);
    cs = fx_corr(m[0], m[1], ns);
    assert_true(cs > 0.3);
    sim_feed_free(f);
}

/* Off: no model, a factor of 1, and the caller's generator untouched. */
static void test_off(void **state)
{
    struct sim_feed *f = fx_feed(2, 4);
    struct sim_traffic_conf c;
    struct sim_traffic *tm = (struct sim_traffic *)&c; /* must be cleared */
    struct sim_rng r, r0;
    char err[64];

    (void)state;
    sim_traffic_conf_init(&c, SIM_TRAFFIC_OFF, 1, 1);
    assert_int_equal(sim_traffic_make(&c, f, &tm, err, sizeof err), 0);
    assert_null(tm);
    sim_rng_init(&r, 3, 4);
    r0 = r;
    assert_true(sim_traffic_factor(NULL, 0, 8 * 3600) == 1.0);
    assert_true(sim_traffic_signals(NULL, 0, 8 * 3600, &r) == 0.0);
    assert_int_equal(sim_traffic_bunching(NULL), 0);
    assert_memory_equal(&r, &r0, sizeof r);
    sim_feed_free(f);
}

/* FNV-1a over the plan's visits and counter lines, times in ms. */
static uint64_t fx_hash(uint64_t h, double x)
{
    int64_t v = llround(x * 1000);

    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)(v >> (8 * i)) & 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t fx_plan_hash(const struct sim_plan *p)
{
    uint64_t h = 1469598103934665603ULL;

    for (int i = 0; i < p->nvisits; i++) {
        const struct sim_visit *v = &p->visits[i];

        h = fx_hash(h, v->bus);
        h = fx_hash(h, v->trip);
        h = fx_hash(h, v->j);
        h = fx_hash(h, v->arr);
        h = fx_hash(h, v->dep);
        h = fx_hash(h, v->board);
        h = fx_hash(h, v->alight);
        h = fx_hash(h, v->load);
        h = fx_hash(h, v->board_counted);
        h = fx_hash(h, v->alight_counted);
    }
    for (int b = 0; b < p->nbus; b++) {
        int n;
        const struct sim_cline *c = sim_bus_clines(p, b, &n);

        for (int i = 0; i < n; i++) {
            h = fx_hash(h, c[i].t);
            h = fx_hash(h, c[i].in);
        }
    }
    return h;
}

static void fx_plan(struct sim_feed *f, uint64_t seed,
                    const struct sim_traffic *tm, struct sim_plan *p,
                    struct sim_demand *d)
{
    struct sim_plan_opts o;
    struct sim_rng r1, r2;

    sim_rng_init(&r1, seed, 1);
    sim_rng_init(&r2, seed, 2);
    assert_int_equal(sim_demand_make(f, NULL, 1500, 45, &r1, d), 0);
    memset(&o, 0, sizeof o);
    o.seats = 45;
    o.counter_error = 0.03;
    o.traffic = tm;
    assert_int_equal(sim_plan_make(f, d, &o, &r2, p), 0);
}

/* With traffic off the plan is byte for byte what the simulator planned
 * before the traffic model existed: these checksums were computed with
 * the code of commit 6e34cf2 (tests/sim unchanged since). */
static void test_off_unchanged(void **state)
{
    static const uint64_t want[] = {
        0x5c5e43f29e8efa6aULL, 0x38cd3a299c35b0e7ULL, 0x8e241e280fa87c0bULL,
        0x96379238a5c58154ULL};

    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct sim_feed *f = fx_feed(4, 28);
        struct sim_plan p;
        struct sim_demand d;

        fx_plan(f, seed, NULL, &p, &d);
        assert_int_equal(p.nvisits, 672);
        assert_true(fx_plan_hash(&p) == want[seed - 1]);
        sim_plan_free(&p);
        sim_demand_free(&d);
        sim_feed_free(f);
    }
}

/* Traffic on changes the day, the same way for the same seed; an incident
 * at 08:00-08:40 on S2->S3 makes the buses that drive it then slower
 * than on the same day without it. */
static void test_plan_with_traffic(void **state)
{
    struct sim_feed *f = fx_feed(4, 28);
    struct sim_traffic *tm = fx_model(f, SIM_TRAFFIC_NORMAL, 9, 1);
    struct sim_traffic_conf c;
    struct sim_traffic *inc = NULL;
    struct sim_plan p0, p1, p2, p3;
    struct sim_demand d0, d1, d2, d3;
    char err[128];
    double slow = 0, base = 0;
    int n = 0;

    (void)state;
    fx_plan(f, 9, NULL, &p0, &d0);
    fx_plan(f, 9, tm, &p1, &d1);
    fx_plan(f, 9, tm, &p2, &d2);
    assert_true(fx_plan_hash(&p0) != fx_plan_hash(&p1));
    assert_true(fx_plan_hash(&p1) == fx_plan_hash(&p2));

    sim_traffic_conf_init(&c, SIM_TRAFFIC_NORMAL, 9, 1);
    fx_incident(&c);
    assert_int_equal(sim_traffic_make(&c, f, &inc, err, sizeof err), 0);
    fx_plan(f, 9, inc, &p3, &d3);
    /* Route A runs S0..S5: the leg S2->S3 is visit j=2 to j=3. */
    for (int i = 0; i + 1 < p1.nvisits && i + 1 < p3.nvisits; i++) {
        const struct sim_visit *a = &p1.visits[i], *b = &p3.visits[i];

        if (f->trips[a->trip].direction != 0 || a->j != 2 ||
            p1.visits[i + 1].trip != a->trip || b->trip != a->trip ||
            a->dep < 8 * 3600 + 60 || a->dep > 8 * 3600 + 2000)
            continue;
        base += p1.visits[i + 1].arr - a->dep;
        slow += p3.visits[i + 1].arr - b->dep;
        n++;
    }
    assert_true(n >= 2);
    assert_true(slow > 2.0 * base);
    sim_plan_free(&p0);
    sim_plan_free(&p1);
    sim_plan_free(&p2);
    sim_plan_free(&p3);
    sim_demand_free(&d0);
    sim_demand_free(&d1);
    sim_demand_free(&d2);
    sim_demand_free(&d3);
    sim_traffic_free(tm);
    sim_traffic_free(inc);
    sim_feed_free(f);
}

/* Seconds from first to last stop, summed over the trips of plan P. */
static double fx_run_time(const struct sim_plan *p)
{
    double sum = 0;

    for (int i = 0; i + 1 < p->nvisits; i++)
        if (p->visits[i + 1].trip == p->visits[i].trip)
            sum += p->visits[i + 1].arr - p->visits[i].dep;
    return sum;
}

/* Heavy traffic is slower than normal, normal (its signals) slower than
 * off, on the same days. */
static void test_levels(void **state)
{
    double t[3] = {0, 0, 0};

    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++)
        for (int lv = 0; lv < 3; lv++) {
            struct sim_feed *f = fx_feed(4, 28);
            struct sim_traffic *tm = fx_model(f, lv, seed, seed);
            struct sim_plan p;
            struct sim_demand d;

            fx_plan(f, seed, tm, &p, &d);
            t[lv] += fx_run_time(&p);
            sim_plan_free(&p);
            sim_demand_free(&d);
            sim_traffic_free(tm);
            sim_feed_free(f);
        }
    assert_true(t[SIM_TRAFFIC_NORMAL] > t[SIM_TRAFFIC_OFF]);
    assert_true(t[SIM_TRAFFIC_HEAVY] > t[SIM_TRAFFIC_NORMAL]);
}

/* Boardings of trip K in plan P. */
static int fx_boarded(const struct sim_plan *p, int k)
{
    int n = 0;

    for (int i = 0; i < p->nvisits; i++)
        if (p->visits[i].trip == k)
            n += p->visits[i].board;
    return n;
}

/* Bunching: a run 8 min late behind a 10-min headway finds more people
 * waiting (and so dwells longer), the run of the same route behind it
 * fewer; without the bunching pass both carry what the demand drew. */
static void test_bunching(void **state)
{
    struct sim_feed *f = fx_feed(4, 28);
    struct sim_traffic_conf c;
    struct sim_traffic *bunch = NULL, *flat = NULL;
    struct sim_plan pb, pf;
    struct sim_demand db, df;
    struct sim_plan_opts o;
    struct sim_rng r1, r2;
    int *late = calloc((size_t)f->ntrips, sizeof *late);
    char err[128];
    /* Route A at 08:10 is run 4 of block 1 (t1_4) and, 10 min later, of
     * block 2 (t2_4). */
    int k_late = 1 * 28 + 4, k_next = 2 * 28 + 4;
    double dwell_b = 0, dwell_f = 0;

    (void)state;
    memset(&pb, 0, sizeof pb);
    memset(&pf, 0, sizeof pf);
    memset(&db, 0, sizeof db);
    memset(&df, 0, sizeof df);
    assert_non_null(late);
    late[k_late] = 480;
    sim_traffic_conf_init(&c, SIM_TRAFFIC_NORMAL, 3, 1);
    assert_int_equal(sim_traffic_make(&c, f, &bunch, err, sizeof err), 0);
    c.bunching = 0;
    assert_int_equal(sim_traffic_make(&c, f, &flat, err, sizeof err), 0);
    assert_int_equal(sim_traffic_bunching(bunch), 1);
    assert_int_equal(sim_traffic_bunching(flat), 0);
    for (int pass = 0; pass < 2; pass++) {
        struct sim_plan *p = pass ? &pf : &pb;
        struct sim_demand *d = pass ? &df : &db;

        sim_rng_init(&r1, 3, 1);
        sim_rng_init(&r2, 3, 2);
        assert_int_equal(sim_demand_make(f, NULL, 1500, 45, &r1, d), 0);
        memset(&o, 0, sizeof o);
        o.seats = 90; /* room to spare: dwell, not a full bus, is tested */
        o.late_s = late;
        o.traffic = pass ? flat : bunch;
        assert_int_equal(sim_plan_make(f, d, &o, &r2, p), 0);
    }
    assert_true(fx_boarded(&pb, k_late) > fx_boarded(&pf, k_late));
    assert_true(fx_boarded(&pb, k_next) < fx_boarded(&pf, k_next));
    /* Dwell on the way (at the first stop the bus stands until its time,
     * however many board). */
    for (int i = 0; i < pb.nvisits; i++)
        if (pb.visits[i].trip == k_late && pb.visits[i].j > 0)
            dwell_b += pb.visits[i].dep - pb.visits[i].arr;
    for (int i = 0; i < pf.nvisits; i++)
        if (pf.visits[i].trip == k_late && pf.visits[i].j > 0)
            dwell_f += pf.visits[i].dep - pf.visits[i].arr;
    assert_true(dwell_b > dwell_f);
    /* Nobody is left on board at the end, nobody stands past the seats. */
    for (int i = 0; i < pb.nvisits; i++) {
        const struct sim_trip *tr = &f->trips[pb.visits[i].trip];

        assert_true(pb.visits[i].load >= 0 && pb.visits[i].load <= 90);
        if (pb.visits[i].j == tr->nst - 1)
            assert_int_equal(pb.visits[i].load, 0);
    }
    sim_plan_free(&pb);
    sim_plan_free(&pf);
    sim_demand_free(&db);
    sim_demand_free(&df);
    sim_traffic_free(bunch);
    sim_traffic_free(flat);
    free(late);
    sim_feed_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_correlated),
        cmocka_unit_test(test_incident),
        cmocka_unit_test(test_personality),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_off_unchanged),
        cmocka_unit_test(test_plan_with_traffic),
        cmocka_unit_test(test_bunching),
        cmocka_unit_test(test_levels),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
