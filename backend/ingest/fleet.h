/* fleet: when the backend last heard from each vehicle, and its acked seq. */
#ifndef SHUTTLE_FLEET_H
#define SHUTTLE_FLEET_H

/*
 * A table kept in memory for /metrics only: it starts empty at every start
 * and is not the truth about anything (vehicle_progress in the database is).
 * It is a sorted array, so the metrics come out in a stable order and a
 * look-up is a binary search; a new vehicle costs a memmove, which happens
 * once per vehicle per process lifetime.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct fleet;

struct fleet_vehicle {
    char vid[WIRE_VID_MAX + 1];
    int64_t seen_ms;    /* Unix ms of the last accepted batch */
    uint64_t acked_seq; /* meaningful only when acked */
    bool acked;
};

enum fleet_err {
    FLEET_OK = 0,
    FLEET_ERR_NOMEM = -1,
    FLEET_ERR_FULL = -2,    /* at max vehicles: the update is counted, lost */
    FLEET_ERR_UNKNOWN = -3, /* an ack for a vehicle not in the table */
    FLEET_ERR_VID = -4,     /* empty or longer than WIRE_VID_MAX */
};

/* An empty table that holds at most `max` vehicles. */
int fleet_new(size_t max, struct fleet **out);
void fleet_free(struct fleet *f);

/* Note an accepted batch of `vid` at `wall_ms`, adding the vehicle if new.
 * Time never goes back: an older wall_ms is ignored. */
int fleet_seen(struct fleet *f, const char *vid, int64_t wall_ms);

/* Note the watermark acknowledged to `vid`; the vehicle must have been
 * seen. */
int fleet_acked(struct fleet *f, const char *vid, uint64_t seq);

size_t fleet_count(const struct fleet *f);

/* The i-th vehicle (0 <= i < fleet_count) in vehicle id order; owned by the
 * table, valid until the next fleet_seen. */
const struct fleet_vehicle *fleet_at(const struct fleet *f, size_t i);

/* New vehicles turned away because the table was full. */
uint64_t fleet_refused(const struct fleet *f);

#endif
