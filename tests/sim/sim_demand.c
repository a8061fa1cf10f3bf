/* sim_demand: riders per run and stop for the simulated day. */
#include "sim_demand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIM_DEMAND_MAX_STOPS 256

static double sim_demand_bump(double t, double mu, double sigma)
{
    double x = (t - mu) / sigma;

    return exp(-0.5 * x * x);
}

/* How attractive a departure time is: shifts start around 08:00-08:30 and
 * end around 17:30-18:30, with a floor for early and overtime runs. */
static double sim_demand_weight(double secs)
{
    double h = secs / 3600.0;

    return 0.15 + sim_demand_bump(h, 7.6, 0.7) + sim_demand_bump(h, 18.2, 0.8);
}

/* Order for carrying riders over: route, direction, then departure. */
struct sim_demand_key {
    const struct sim_feed *f;
    int trip;
};

static int sim_demand_cmp(const void *a, const void *b)
{
    const struct sim_demand_key *x = a, *y = b;
    const struct sim_trip *s = &x->f->trips[x->trip],
                          *t = &y->f->trips[y->trip];
    int c = strcmp(s->route_id, t->route_id);

    if (c)
        return c;
    if (s->direction != t->direction)
        return s->direction - t->direction;
    c = sim_feed_st(x->f, s, 0)->dep - sim_feed_st(y->f, t, 0)->dep;
    return c ? c : x->trip - y->trip;
}

int sim_demand_make(const struct sim_feed *f, const unsigned char *missed,
                    double riders, int seats, struct sim_rng *rng,
                    struct sim_demand *d)
{
    struct sim_demand_key *order = calloc((size_t)f->ntrips, sizeof *order);
    double *pop = calloc((size_t)f->nstops + 1, sizeof *pop);
    double wsum = 0, day_total;
    int carry = 0;

    memset(d, 0, sizeof *d);
    d->board = calloc((size_t)f->nst + 1, sizeof *d->board);
    d->alight = calloc((size_t)f->nst + 1, sizeof *d->alight);
    d->riders = calloc((size_t)f->ntrips + 1, sizeof *d->riders);
    if (!order || !pop || !d->board || !d->alight || !d->riders) {
        free(order);
        free(pop);
        sim_demand_free(d);
        return -1;
    }
    /* Some stops are busier than others, differently each day. */
    for (int i = 0; i < f->nstops; i++)
        pop[i] = 0.5 + sim_rng_u01(rng);
    day_total = riders * exp(0.04 * sim_rng_normal(rng));
    for (int k = 0; k < f->ntrips; k++) {
        order[k].f = f;
        order[k].trip = k;
        wsum += sim_demand_weight(sim_feed_st(f, &f->trips[k], 0)->dep);
    }
    qsort(order, (size_t)f->ntrips, sizeof *order, sim_demand_cmp);

    for (int o = 0; o < f->ntrips; o++) {
        int k = order[o].trip;
        const struct sim_trip *t = &f->trips[k];
        int n = t->nst < SIM_DEMAND_MAX_STOPS ? t->nst : SIM_DEMAND_MAX_STOPS;
        int load[SIM_DEMAND_MAX_STOPS] = {0};
        double wb[SIM_DEMAND_MAX_STOPS], wa[SIM_DEMAND_MAX_STOPS];
        double lambda =
            day_total * sim_demand_weight(sim_feed_st(f, t, 0)->dep) / wsum;
        int want;

        /* A new route or direction: nobody carries over into it. */
        if (o > 0 &&
            (strcmp(f->trips[order[o - 1].trip].route_id, t->route_id) != 0 ||
             f->trips[order[o - 1].trip].direction != t->direction)) {
            d->left_behind += carry;
            carry = 0;
        }
        want = sim_rng_poisson(rng, lambda) + carry;
        carry = 0;
        if (missed && missed[k]) {
            carry = want;
            continue;
        }
        for (int i = 0; i < n; i++) {
            double p = pop[sim_feed_st(f, t, i)->stop];

            wb[i] = i < n - 1 ? pow(n - 1 - i, 3) * p : 0;
            wa[i] = pow(i, 3) * p;
        }
        for (int r = 0; r < want; r++) {
            int i = sim_rng_pick(rng, wb, n), j, full = 0;

            if (i < 0)
                break;
            j = i + 1 + sim_rng_pick(rng, wa + i + 1, n - i - 1);
            if (j <= i)
                j = n - 1;
            for (int s = i; s < j; s++)
                full |= load[s] >= seats;
            if (full) {
                carry++;
                continue;
            }
            for (int s = i; s < j; s++)
                load[s]++;
            d->board[t->first_st + i]++;
            d->alight[t->first_st + j]++;
            d->riders[k]++;
            d->total++;
        }
    }
    d->left_behind += carry;
    free(order);
    free(pop);
    return 0;
}

void sim_demand_free(struct sim_demand *d)
{
    free(d->board);
    free(d->alight);
    free(d->riders);
    memset(d, 0, sizeof *d);
}
