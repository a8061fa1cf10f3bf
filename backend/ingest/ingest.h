/* ingest: turn MQTT messages into staged rows or dead letters. */
#ifndef SHUTTLE_INGEST_H
#define SHUTTLE_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "writer.h"

/* Why a message was refused; one counter each, for /metrics. */
enum ingest_reason {
    INGEST_R_TOPIC, /* topic not shuttle/v1/<vid>/<kind> */
    INGEST_R_EMPTY,
    INGEST_R_TOOBIG,
    INGEST_R_DECODE,   /* not protobuf, truncated, wrong type */
    INGEST_R_VEHICLE,  /* payload's vehicle differs from the topic's */
    INGEST_R_INVALID,  /* a field out of range */
    INGEST_R_OVERLOAD, /* staging full: dropped, the bus re-sends */
    INGEST_R_COUNT
};

/* What ingest_message did with a message. */
enum ingest_err {
    INGEST_OK = 0,            /* staged (records refused one by one are
                                 dead letters: ingest_stats.dead_records) */
    INGEST_ERR_REFUSED = -1,  /* the whole message is a dead letter */
    INGEST_ERR_OVERLOAD = -2, /* staging full: nothing staged, the bus
                                 re-sends */
};

struct ingest_stats {
    uint64_t messages; /* MQTT messages seen */
    uint64_t records;  /* records staged */
    uint64_t statuses;
    uint64_t dead_records; /* records refused alone, their seqs settled */
    uint64_t rejected[INGEST_R_COUNT]; /* messages (records for INVALID) */
};

const char *ingest_reason_name(enum ingest_reason r);

/*
 * Handle one message. Telemetry is decoded and its envelope checked against
 * the topic; then each record on its own against the rule set, with the
 * window `w` around `now_ms` (NULL: defaults): good records are staged in
 * `wr`, each bad one becomes a dead letter with its seq, which is settled so
 * the watermark passes it. The batch's oldest_held_seq claim is bounded by
 * its lowest seq. Status reports are checked with wire_status_validate and
 * staged, or dead-lettered. Returns an ingest_err; for INGEST_ERR_REFUSED
 * and INGEST_ERR_OVERLOAD `*reason` (may be NULL) says why. Never fails the
 * process.
 */
int ingest_message(struct writer *wr, struct ingest_stats *st,
                   const char *topic, const void *payload, size_t len,
                   int64_t now_ms, const struct wire_window *w,
                   enum ingest_reason *reason);

/*
 * Handle again a message that ingest_message refused with
 * INGEST_ERR_OVERLOAD, once the caller has made room (committed what was
 * staged): that refusal is taken back from `st`, so the message counts
 * once, as if seen only now. Arguments and return as ingest_message.
 */
int ingest_retry(struct writer *wr, struct ingest_stats *st, const char *topic,
                 const void *payload, size_t len, int64_t now_ms,
                 const struct wire_window *w, enum ingest_reason *reason);

#endif
