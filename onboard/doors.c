/* doors: per-door episodes, the load on board and the counter's health. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "doors.h"

/* How far back a late or repeated seq is still recognised. */
#define SEQ_WINDOW 64
/* A forward jump longer than this is a counter restart, not a loss. */
#define SEQ_JUMP_MAX (APC_SEQ_MAX / 2)

struct door {
    int open;
    int64_t open_ms;
    int64_t last_ms; /* the episode's latest sentence: the close time
                        when its $PCDC never comes */
    uint32_t boarded, alighted;
    uint32_t quality;
    int fault; /* a $PCFL for this door not cleared yet */
};

struct doors {
    struct doors_config cfg;
    struct door door[APC_DOOR_MAX + 1]; /* [1..ndoors]; [0] unused */
    int load;

    int heard; /* any sentence since start */
    int64_t last_rx_ms;
    int hb_fault;  /* last heartbeat said FAULT */
    int all_fault; /* a door-0 $PCFL not cleared yet */
    char counter_id[APC_ID_MAX + 1];

    /* Anti-replay window as in IPsec: bit k of seq_seen is "seq_last - k
     * has been seen", so duplicates are dropped and late lines accepted. */
    int seq_valid;
    uint32_t seq_last;
    uint64_t seq_seen;

    struct doors_stats st;
};

struct doors *doors_new(const struct doors_config *cfg)
{
    struct doors *d;

    if (cfg->ndoors < 1 || cfg->ndoors > APC_DOOR_MAX ||
        cfg->close_timeout_ms <= 0 || cfg->silent_ms <= 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((d = calloc(1, sizeof *d)) == NULL)
        return NULL;
    d->cfg = *cfg;
    return d;
}

void doors_free(struct doors *d)
{
    free(d);
}

/* Steps from seq a forward to seq b; after APC_SEQ_MAX comes 1, not 0. */
static uint32_t doors__seq_dist(uint32_t a, uint32_t b)
{
    if (b > a)
        return b - a;
    if (b == a)
        return 0;
    return b + APC_SEQ_MAX - a;
}

static void doors__flag_open(struct doors *d, unsigned door, uint32_t bits)
{
    unsigned i;

    for (i = 1; i <= d->cfg.ndoors; i++)
        if (d->door[i].open && (door == 0 || door == i))
            d->door[i].quality |= bits;
}

/*
 * Returns 1 if the sentence is new, 0 if it is a duplicate. Lost lines may
 * have been counts, so every episode open across a gap or a counter restart
 * is flagged.
 */
static int doors__seq_accept(struct doors *d, uint32_t seq)
{
    uint32_t fwd, back;

    if (!d->seq_valid || seq == 0) {
        if (d->seq_valid) {
            d->st.restarts++;
            doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
        }
        d->seq_valid = 1;
        d->seq_last = seq;
        d->seq_seen = 1;
        return 1;
    }
    fwd = d->seq_last == 0 ? seq : doors__seq_dist(d->seq_last, seq);
    if (fwd == 0)
        return 0;
    back = d->seq_last == 0 ? 0 : doors__seq_dist(seq, d->seq_last);
    if (back > 0 && back < SEQ_WINDOW) {
        if (d->seq_seen & (UINT64_C(1) << back))
            return 0;
        d->seq_seen |= UINT64_C(1) << back;
        if (d->st.lost > 0)
            d->st.lost--;
        return 1;
    }
    if (fwd > SEQ_JUMP_MAX) {
        d->st.restarts++;
        doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
        d->seq_seen = 1;
    } else {
        if (fwd > 1) {
            d->st.lost += fwd - 1;
            doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
        }
        d->seq_seen = fwd >= SEQ_WINDOW ? 1 : (d->seq_seen << fwd) | 1;
    }
    d->seq_last = seq;
    return 1;
}

static int doors__fault_active(const struct doors *d, unsigned door)
{
    return d->hb_fault || d->all_fault || d->door[door].fault;
}

/* Apply an episode's counts to the load; the load can only be wrong (a
 * miscount), never negative, so clamp and say so. */
static void doors__apply_load(struct doors *d, struct doors_event *ev)
{
    int load = d->load + (int)ev->boarded - (int)ev->alighted;

    if (load < 0) {
        load = 0;
        ev->quality |= DOORS_Q_LOAD_CLAMPED;
    } else if (load > DOORS_LOAD_MAX) {
        load = DOORS_LOAD_MAX;
        ev->quality |= DOORS_Q_LOAD_CLAMPED;
    }
    d->load = load;
    ev->load_after = load;
}

static void doors__close_episode(struct doors *d, unsigned door,
                                 int64_t close_ms, uint32_t bits,
                                 struct doors_event *ev)
{
    struct door *dr = &d->door[door];

    ev->door = door;
    ev->boarded = dr->boarded;
    ev->alighted = dr->alighted;
    ev->door_open_ms = dr->open_ms;
    /* The caller's clock is GPS-derived and may step back; an episode
     * never ends before it began. */
    ev->door_close_ms = close_ms < dr->open_ms ? dr->open_ms : close_ms;
    ev->quality = dr->quality | bits;
    doors__apply_load(d, ev);
    dr->open = 0;
    dr->boarded = 0;
    dr->alighted = 0;
    dr->quality = 0;
}

static void doors__start_episode(struct doors *d, unsigned door, int64_t now_ms)
{
    struct door *dr = &d->door[door];

    dr->open = 1;
    dr->open_ms = now_ms;
    dr->last_ms = now_ms;
    dr->boarded = 0;
    dr->alighted = 0;
    dr->quality = doors__fault_active(d, door) ? DOORS_Q_COUNTER_FAULT : 0;
}

static uint32_t doors__add_count(uint32_t have, unsigned add, uint32_t *quality)
{
    if (have + add > DOORS_COUNT_MAX) {
        *quality |= DOORS_Q_COUNTER_FAULT;
        return DOORS_COUNT_MAX;
    }
    return have + add;
}

static int doors__people(struct doors *d, const struct apc_msg *m,
                         int64_t now_ms, struct doors_event *ev)
{
    struct door *dr = &d->door[m->door];

    if (dr->open) {
        dr->boarded = doors__add_count(dr->boarded, m->in, &dr->quality);
        dr->alighted = doors__add_count(dr->alighted, m->out, &dr->quality);
        dr->last_ms = now_ms;
        return 0;
    }
    if (m->in == 0 && m->out == 0)
        return 0;
    /* Counts with the door closed are people all the same: count them in
     * an event of their own rather than lose them, flagged because the
     * counter's door state and its counts disagree. */
    d->st.stray_counts++;
    memset(ev, 0, sizeof *ev);
    ev->door = m->door;
    ev->quality = DOORS_Q_COUNTER_FAULT;
    ev->boarded = doors__add_count(0, m->in, &ev->quality);
    ev->alighted = doors__add_count(0, m->out, &ev->quality);
    ev->door_open_ms = 0;
    ev->door_close_ms = now_ms;
    doors__apply_load(d, ev);
    return 1;
}

static void doors__clear_faults(struct doors *d)
{
    unsigned i;

    d->all_fault = 0;
    for (i = 1; i <= d->cfg.ndoors; i++)
        d->door[i].fault = 0;
}

static void doors__fault(struct doors *d, const struct apc_msg *m)
{
    if (m->code == 0) {
        if (m->door == 0)
            doors__clear_faults(d);
        else
            d->door[m->door].fault = 0;
        return;
    }
    if (m->door == 0)
        d->all_fault = 1;
    else
        d->door[m->door].fault = 1;
    doors__flag_open(d, m->door, DOORS_Q_COUNTER_FAULT);
}

static void doors__heartbeat(struct doors *d, const struct apc_msg *m)
{
    memcpy(d->counter_id, m->counter_id, sizeof d->counter_id);
    if (m->status == APC_HB_FAULT) {
        d->hb_fault = 1;
        doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
        return;
    }
    /* The gateway vouches for every sensor: earlier faults are over. */
    d->hb_fault = 0;
    doors__clear_faults(d);
}

int doors_feed(struct doors *d, const struct apc_msg *m, int64_t now_ms,
               struct doors_event *ev)
{
    struct door *dr;
    int made = 0;

    /* A silence that doors_tick did not see (not called) still taints the
     * episodes it spanned. */
    if (d->heard && now_ms - d->last_rx_ms >= d->cfg.silent_ms)
        doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
    d->heard = 1;
    d->last_rx_ms = now_ms;

    if (!doors__seq_accept(d, m->seq)) {
        d->st.duplicates++;
        return 0;
    }
    d->st.messages++;
    if (m->door > d->cfg.ndoors ||
        (m->door == 0 && m->type != APC_HEARTBEAT && m->type != APC_FAULT))
        return DOORS_ERR_DOOR;

    switch (m->type) {
    case APC_DOOR_OPEN:
        dr = &d->door[m->door];
        if (dr->open) {
            d->st.reopened++;
            doors__close_episode(d, m->door, dr->last_ms, DOORS_Q_NO_CLOSE, ev);
            made = 1;
        }
        doors__start_episode(d, m->door, now_ms);
        return made;
    case APC_DOOR_CLOSE:
        if (!d->door[m->door].open) {
            d->st.stray_closes++;
            return 0;
        }
        doors__close_episode(d, m->door, now_ms, 0, ev);
        return 1;
    case APC_PEOPLE:
        return doors__people(d, m, now_ms, ev);
    case APC_HEARTBEAT:
        doors__heartbeat(d, m);
        return 0;
    case APC_FAULT:
        doors__fault(d, m);
        return 0;
    }
    return 0;
}

int doors_tick(struct doors *d, int64_t now_ms, struct doors_event *ev)
{
    unsigned i;

    if (d->heard && now_ms - d->last_rx_ms >= d->cfg.silent_ms)
        doors__flag_open(d, 0, DOORS_Q_COUNTER_FAULT);
    for (i = 1; i <= d->cfg.ndoors; i++) {
        const struct door *dr = &d->door[i];

        if (dr->open && now_ms - dr->last_ms >= d->cfg.close_timeout_ms) {
            d->st.timeouts++;
            doors__close_episode(d, i, dr->last_ms, DOORS_Q_NO_CLOSE, ev);
            return 1;
        }
    }
    return 0;
}

int doors_flush(struct doors *d, struct doors_event *ev)
{
    unsigned i;

    for (i = 1; i <= d->cfg.ndoors; i++) {
        if (d->door[i].open) {
            doors__close_episode(d, i, d->door[i].last_ms, DOORS_Q_NO_CLOSE,
                                 ev);
            return 1;
        }
    }
    return 0;
}

enum doors_counter doors_counter_state(const struct doors *d, int64_t now_ms)
{
    unsigned i;

    if (!d->heard)
        return DOORS_COUNTER_NONE;
    if (now_ms - d->last_rx_ms >= d->cfg.silent_ms)
        return DOORS_COUNTER_SILENT;
    if (d->hb_fault || d->all_fault)
        return DOORS_COUNTER_FAULT;
    for (i = 1; i <= d->cfg.ndoors; i++)
        if (d->door[i].fault)
            return DOORS_COUNTER_FAULT;
    return DOORS_COUNTER_OK;
}

const char *doors_counter_name(enum doors_counter s)
{
    switch (s) {
    case DOORS_COUNTER_NONE:
        return "none";
    case DOORS_COUNTER_OK:
        return "ok";
    case DOORS_COUNTER_SILENT:
        return "silent";
    case DOORS_COUNTER_FAULT:
        return "fault";
    }
    return "none";
}

const char *doors_counter_id(const struct doors *d)
{
    return d->counter_id;
}

int doors_load(const struct doors *d)
{
    return d->load;
}

void doors_set_load(struct doors *d, int load)
{
    if (load < 0)
        load = 0;
    if (load > DOORS_LOAD_MAX)
        load = DOORS_LOAD_MAX;
    d->load = load;
}

int doors_is_open(const struct doors *d, unsigned door)
{
    if (door < 1 || door > d->cfg.ndoors)
        return 0;
    return d->door[door].open;
}

const struct doors_stats *doors_stats(const struct doors *d)
{
    return &d->st;
}
