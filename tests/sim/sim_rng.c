/* sim_rng: xoshiro256** seeded through splitmix64. */
#include "sim_rng.h"

#include <math.h>

static uint64_t sim_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x =
        seed * 0x2545f4914f6cdd1dULL ^ (stream + 1) * 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < 4; i++)
        r->s[i] = sim_rng_splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double sim_rng_u01(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double sim_rng_normal(struct sim_rng *r)
{
    /* Box-Muller; 1 - u keeps the logarithm away from zero. */
    double u = 1.0 - sim_rng_u01(r), v = sim_rng_u01(r);

    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

int sim_rng_poisson(struct sim_rng *r, double mean)
{
    double l, p = 1.0;
    int k = 0;

    if (mean <= 0)
        return 0;
    if (mean > 200) { /* Knuth's loop underflows; the normal is close */
        double x = mean + sqrt(mean) * sim_rng_normal(r);
        return x < 0 ? 0 : (int)lround(x);
    }
    l = exp(-mean);
    do {
        k++;
        p *= sim_rng_u01(r);
    } while (p > l);
    return k - 1;
}

int sim_rng_pick(struct sim_rng *r, const double *w, int n)
{
    double sum = 0, x;

    for (int i = 0; i < n; i++)
        sum += w[i];
    if (sum <= 0)
        return -1;
    x = sim_rng_u01(r) * sum;
    for (int i = 0; i < n; i++) {
        if (x < w[i] && w[i] > 0)
            return i;
        x -= w[i];
    }
    for (int i = n - 1; i >= 0; i--)
        if (w[i] > 0)
            return i;
    return -1;
}
