/* fleet: when the backend last heard from each vehicle, and its acked seq. */
#include "fleet.h"

#include <stdlib.h>
#include <string.h>

struct fleet {
    struct fleet_vehicle *v; /* sorted by vid */
    size_t n, cap, max;
    uint64_t refused;
};

int fleet_new(size_t max, struct fleet **out)
{
    struct fleet *f = calloc(1, sizeof *f);

    if (!f)
        return FLEET_ERR_NOMEM;
    f->max = max;
    *out = f;
    return FLEET_OK;
}

void fleet_free(struct fleet *f)
{
    if (!f)
        return;
    free(f->v);
    free(f);
}

/* Index of vid, or where it would go (with *found false). */
static size_t fleet_find(const struct fleet *f, const char *vid, bool *found)
{
    size_t lo = 0, hi = f->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->v[mid].vid, vid);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool fleet_vid_ok(const char *vid)
{
    size_t n = vid ? strlen(vid) : 0;

    return n > 0 && n <= WIRE_VID_MAX;
}

int fleet_seen(struct fleet *f, const char *vid, int64_t wall_ms)
{
    struct fleet_vehicle *v;
    bool found;
    size_t i;

    if (!fleet_vid_ok(vid))
        return FLEET_ERR_VID;
    i = fleet_find(f, vid, &found);
    if (!found) {
        if (f->n >= f->max) {
            f->refused++;
            return FLEET_ERR_FULL;
        }
        if (f->n == f->cap) {
            size_t cap = f->cap ? f->cap * 2 : 64;

            if (cap > f->max)
                cap = f->max;
            v = realloc(f->v, cap * sizeof *v);
            if (!v)
                return FLEET_ERR_NOMEM;
            f->v = v;
            f->cap = cap;
        }
        memmove(&f->v[i + 1], &f->v[i], (f->n - i) * sizeof *f->v);
        memset(&f->v[i], 0, sizeof f->v[i]);
        memcpy(f->v[i].vid, vid, strlen(vid) + 1);
        f->n++;
    }
    /* Two backends sharing a subscription, or a clock step, must not make
     * a vehicle look as if it had gone quiet. */
    if (wall_ms > f->v[i].seen_ms)
        f->v[i].seen_ms = wall_ms;
    return FLEET_OK;
}

int fleet_acked(struct fleet *f, const char *vid, uint64_t seq)
{
    bool found;
    size_t i;

    if (!fleet_vid_ok(vid))
        return FLEET_ERR_VID;
    i = fleet_find(f, vid, &found);
    if (!found)
        return FLEET_ERR_UNKNOWN;
    f->v[i].acked_seq = seq;
    f->v[i].acked = true;
    return FLEET_OK;
}

size_t fleet_count(const struct fleet *f)
{
    return f->n;
}

const struct fleet_vehicle *fleet_at(const struct fleet *f, size_t i)
{
    return i < f->n ? &f->v[i] : NULL;
}

uint64_t fleet_refused(const struct fleet *f)
{
    return f->refused;
}
