/* ingest: turn MQTT messages into staged rows or dead letters. */
#ifndef SHUTTLE_INGEST_H
#define SHUTTLE_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Why a message was refused; one counter each, for /metrics. */
enum ingest_reason {
    INGEST_R_TOPIC,    /* topic not shuttle/v1/<vid>/<kind> */
    INGEST_R_EMPTY,
    INGEST_R_TOOBIG,
    INGEST_R_DECODE,   /* not protobuf, truncated, wrong type */
    INGEST_R_VEHICLE,  /* payload's vehicle differs from the topic's */
    INGEST_R_INVALID,  /* a field out of range */
    INGEST_R_OVERLOAD, /* staging full: dropped, the bus re-sends */
    INGEST_R_COUNT
};

struct ingest_stats {
    uint64_t messages;     /* MQTT messages seen */
    uint64_t records;      /* records staged */
    uint64_t statuses;
    uint64_t rejected[INGEST_R_COUNT];
};

const char *ingest_reason_name(enum ingest_reason r);

/*
 * Handle one message. Telemetry is decoded and validated against the topic
 * and the window `w` around `now_ms` (NULL: defaults); good batches are staged in `d`, bad ones staged as dead
 * letters with the reason. Status reports are staged too. Returns the reason
 * it was refused, or -1 when it was accepted. Never fails the process.
 */
int ingest_message(struct db *d, struct ingest_stats *st, const char *topic,
                   const void *payload, size_t len, int64_t now_ms,
                   const struct wire_window *w);

#endif
