/* doors: turn counter sentences into one passenger-count event per episode. */
#ifndef SHUTTLE_DOORS_H
#define SHUTTLE_DOORS_H

#include <stdint.h>

#include "apc.h"

/*
 * Quality bits of an event. The values are the wire format's (CountQuality
 * in proto/shuttle.proto): the daemon copies them through unchanged.
 */
#define DOORS_Q_LOAD_CLAMPED 1u  /* load would have left 0..DOORS_LOAD_MAX */
#define DOORS_Q_COUNTER_FAULT 2u /* fault, silence or lost lines meanwhile */
#define DOORS_Q_NO_CLOSE 4u      /* closed by timeout, re-open or flush */
#define DOORS_Q_NO_POSITION 8u   /* set by the daemon, never by doors.c */

#define DOORS_LOAD_MAX 255  /* the wire format's upper bound on load */
#define DOORS_COUNT_MAX 200 /* per event and direction, as the wire's */

enum doors_err {
    DOORS_OK = 0,
    DOORS_ERR_CONFIG = -1, /* a doors_config field out of range */
    DOORS_ERR_DOOR = -2,   /* a message names a door above ndoors */
    DOORS_ERR_NOMEM = -3,
};

/* What the bus status says about the counter. */
enum doors_counter {
    DOORS_COUNTER_NONE = 0, /* nothing received since start */
    DOORS_COUNTER_OK,
    DOORS_COUNTER_SILENT, /* nothing for silent_ms */
    DOORS_COUNTER_FAULT,  /* heartbeat FAULT, or a $PCFL not cleared */
};

struct doors_config {
    unsigned ndoors;          /* 1..APC_DOOR_MAX */
    int64_t close_timeout_ms; /* an open door with no sentence this long
                                 is closed with NO_CLOSE (> 0) */
    int64_t silent_ms;        /* no sentence this long: silent (> 0) */
};

/* One door-open ... door-close episode at one door. */
struct doors_event {
    unsigned door;         /* 1..ndoors */
    uint32_t boarded;      /* 0..DOORS_COUNT_MAX */
    uint32_t alighted;     /* 0..DOORS_COUNT_MAX */
    int64_t door_open_ms;  /* caller's clock; 0: no open was seen */
    int64_t door_close_ms; /* the close, or the last sentence if NO_CLOSE */
    int32_t load_after;    /* people on board after it, 0..DOORS_LOAD_MAX */
    uint32_t quality;      /* DOORS_Q_* bits */
};

/* What was odd in the counter's stream; for logs and the status. */
struct doors_stats {
    uint64_t messages;     /* sentences fed in and not duplicates */
    uint64_t duplicates;   /* seq already seen: dropped */
    uint64_t lost;         /* seq numbers never seen (gaps) */
    uint64_t restarts;     /* seq 0 or a jump back: the counter restarted */
    uint64_t stray_counts; /* $PCIO with the door closed (own event) */
    uint64_t stray_closes; /* $PCDC with the door closed: ignored */
    uint64_t reopened;     /* $PCDO with the door open (NO_CLOSE event) */
    uint64_t timeouts;     /* doors closed by close_timeout_ms */
};

/* Opaque: per-door episodes, the load, the counter's health. */
struct doors;

/*
 * Create the state for one counter. The load on board starts at 0 (see
 * doors_set_load). Returns NULL when cfg is out of range (errno EINVAL) or
 * memory is short (ENOMEM). Free with doors_free.
 */
struct doors *doors_new(const struct doors_config *cfg);
void doors_free(struct doors *d);

/*
 * Feed one parsed sentence, received at `now_ms` (the caller's clock; doors.c
 * reads none). Returns 1 when it completes an event, written to *ev; 0 when
 * not (a duplicate is dropped silently, see doors_stats); DOORS_ERR_DOOR when
 * m->door is above ndoors (nothing changes but the counter's liveness).
 * At most one event per call.
 */
int doors_feed(struct doors *d, const struct apc_msg *m, int64_t now_ms,
               struct doors_event *ev);

/*
 * Time passes: close doors idle for close_timeout_ms (NO_CLOSE) and flag
 * episodes open while the counter is silent. Returns 1 with one event in
 * *ev, or 0; call until it returns 0 (several doors may time out at once).
 */
int doors_tick(struct doors *d, int64_t now_ms, struct doors_event *ev);

/*
 * Close every open episode with NO_CLOSE, e.g. at shutdown, so no boarding
 * is lost; the close time is each door's last sentence. Returns 1 with one
 * event in *ev, or 0; call until it returns 0.
 */
int doors_flush(struct doors *d, struct doors_event *ev);

/* The counter's state at now_ms. */
enum doors_counter doors_counter_state(const struct doors *d, int64_t now_ms);

/* "none", "ok", "silent", "fault": the status message's strings. */
const char *doors_counter_name(enum doors_counter s);

/* The counter id of the last heartbeat, or "" before any. */
const char *doors_counter_id(const struct doors *d);

/* People on board now; and set it (restored state, a terminal reset).
 * doors_set_load clamps to 0..DOORS_LOAD_MAX. */
int doors_load(const struct doors *d);
void doors_set_load(struct doors *d, int load);

/* True while that door (1..ndoors) has an episode open. */
int doors_is_open(const struct doors *d, unsigned door);

/* Counters of odd input; valid until doors_free. */
const struct doors_stats *doors_stats(const struct doors *d);

#endif
