/* ackq: the acks waiting to be handed to the broker, at most one per
 * vehicle. */
#include "ackq.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* One vehicle ever acked. Kept for the process's life: a vehicle acked
 * once is acked again at its next commit. */
struct ackq_entry {
    char vid[WIRE_VID_MAX + 1];
    uint64_t seq;
    bool waiting;
};

struct ackq {
    struct ackq_entry *ent;
    size_t nent, capent;
    /* vid -> entry index + 1 (0: empty), open addressing, a power of two */
    size_t *slot;
    size_t capslot;
    /* the waiting entries in arrival order: a ring of capacity capent
     * (each entry waits at most once) */
    size_t *ring;
    size_t head, len;
    uint64_t replaced;
};

int ackq_new(struct ackq **out)
{
    struct ackq *q = calloc(1, sizeof *q);

    if (!q)
        return ACKQ_ERR_NOMEM;
    *out = q;
    return ACKQ_OK;
}

void ackq_free(struct ackq *q)
{
    if (!q)
        return;
    free(q->ent);
    free(q->slot);
    free(q->ring);
    free(q);
}

static size_t *ackq__slot(const struct ackq *q, const char *vid)
{
    size_t mask = q->capslot - 1, i = (size_t)hash_fnv1a_str(vid) & mask;

    while (q->slot[i] && strcmp(q->ent[q->slot[i] - 1].vid, vid) != 0)
        i = (i + 1) & mask;
    return &q->slot[i];
}

/* Room for one more entry: the entries, the ring (in order, from 0) and
 * the table (rehashed) grow together. */
static int ackq__grow(struct ackq *q)
{
    size_t cap = q->capent ? q->capent * 2 : 256, i;
    struct ackq_entry *e;
    size_t *ring, *slot;

    e = realloc(q->ent, cap * sizeof *e);
    if (!e)
        return ACKQ_ERR_NOMEM;
    q->ent = e;
    ring = malloc(cap * sizeof *ring);
    slot = calloc(cap * 2, sizeof *slot);
    if (!ring || !slot) {
        free(ring);
        free(slot);
        return ACKQ_ERR_NOMEM;
    }
    for (i = 0; i < q->len; i++)
        ring[i] = q->ring[(q->head + i) % q->capent];
    free(q->ring);
    q->ring = ring;
    q->head = 0;
    free(q->slot);
    q->slot = slot;
    q->capslot = cap * 2;
    q->capent = cap;
    for (i = 0; i < q->nent; i++)
        *ackq__slot(q, q->ent[i].vid) = i + 1;
    return ACKQ_OK;
}

int ackq_put(struct ackq *q, const char *vid, uint64_t seq)
{
    size_t n = strlen(vid), *s;
    struct ackq_entry *e;

    if (n == 0 || n > WIRE_VID_MAX)
        return ACKQ_ERR_VID;
    s = q->capslot ? ackq__slot(q, vid) : NULL;
    if (!s || !*s) {
        if (q->nent == q->capent) {
            if (ackq__grow(q) != ACKQ_OK)
                return ACKQ_ERR_NOMEM;
        }
        s = ackq__slot(q, vid);
        e = &q->ent[q->nent];
        memcpy(e->vid, vid, n + 1);
        e->waiting = false;
        *s = ++q->nent;
    }
    e = &q->ent[*s - 1];
    if (e->waiting) {
        if (seq > e->seq)
            e->seq = seq;
        q->replaced++;
        return ACKQ_REPLACED;
    }
    e->seq = seq;
    e->waiting = true;
    q->ring[(q->head + q->len) % q->capent] = *s - 1;
    q->len++;
    return ACKQ_OK;
}

bool ackq_peek(const struct ackq *q, const char **vid, uint64_t *seq)
{
    const struct ackq_entry *e;

    if (q->len == 0)
        return false;
    e = &q->ent[q->ring[q->head]];
    *vid = e->vid;
    *seq = e->seq;
    return true;
}

void ackq_pop(struct ackq *q)
{
    if (q->len == 0)
        return;
    q->ent[q->ring[q->head]].waiting = false;
    q->head = (q->head + 1) % q->capent;
    q->len--;
}

size_t ackq_len(const struct ackq *q)
{
    return q->len;
}

uint64_t ackq_replaced(const struct ackq *q)
{
    return q->replaced;
}
