/* sim_rng: a small seeded random generator (xoshiro256**), so a simulated
 * day is the same for the same --seed, whatever the C library. */
#ifndef SHUTTLE_SIM_RNG_H
#define SHUTTLE_SIM_RNG_H

#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

/* Seed from SEED and a STREAM number: separate streams (demand, travel
 * times, each bus's GPS noise) stay independent, so changing one part of
 * the simulation does not reshuffle the others. */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_u01(struct sim_rng *r);    /* [0, 1) */
double sim_rng_normal(struct sim_rng *r); /* N(0, 1) */
int sim_rng_poisson(struct sim_rng *r, double mean);
/* Index drawn from weights W[0..N-1] (not all zero); -1 if they are. */
int sim_rng_pick(struct sim_rng *r, const double *w, int n);

#endif
