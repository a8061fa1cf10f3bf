/* wire: encode, decode and validate the messages of proto/shuttle.proto. */
#ifndef SHUTTLE_WIRE_H
#define SHUTTLE_WIRE_H

/*
 * No module outside wire.c touches the protobuf-c generated structs: they are
 * converted to the plain structs below, which own no pointers except the
 * record array of a batch.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VID_MAX 32               /* vehicle id: [A-Za-z0-9_-]{1,32} */
#define WIRE_PAYLOAD_MAX (256 * 1024) /* larger MQTT payloads are refused */
#define WIRE_BATCH_MAX 2000           /* records in one batch */
#define WIRE_DOOR_MAX 8               /* doors numbered 1..8 */
#define WIRE_COUNT_MAX 200            /* people through one door at once */
#define WIRE_LOAD_MAX 255

enum wire_err {
    WIRE_OK = 0,
    WIRE_ERR_NOMEM = -1,
    WIRE_ERR_EMPTY = -2,   /* zero-length payload */
    WIRE_ERR_TOOBIG = -3,  /* over WIRE_PAYLOAD_MAX or WIRE_BATCH_MAX */
    WIRE_ERR_DECODE = -4,  /* not a valid protobuf message of that type */
    WIRE_ERR_INVALID = -5, /* decoded, but a field is out of range */
    WIRE_ERR_VEHICLE = -6, /* vehicle id bad, or differs from the topic */
};

enum wire_time_source {
    WIRE_TIME_GPS = 0,
    WIRE_TIME_CARRIED = 1,
    WIRE_TIME_SYSTEM = 2,
};

enum wire_kind {
    WIRE_POSITION = 1,
    WIRE_COUNT = 2,
};

/* Bits of wire_count.quality (CountQuality in the .proto). */
#define WIRE_Q_LOAD_CLAMPED 1u
#define WIRE_Q_COUNTER_FAULT 2u
#define WIRE_Q_NO_CLOSE 4u
#define WIRE_Q_NO_POSITION 8u

/* Optional float fields are NAN when absent. */
struct wire_position {
    double lat, lon;
    double speed, track, alt, hdop; /* m/s, degrees, metres, -; NAN: unknown */
    uint32_t fix_mode;              /* 2 or 3 */
    int32_t sats_used;              /* -1: unknown */
};

struct wire_count {
    uint32_t door, boarded, alighted;
    int64_t door_open_ms, door_close_ms; /* 0: unknown */
    int32_t load_after;                  /* -1: unknown */
    double lat, lon;                     /* NAN: no position */
    uint32_t quality;                    /* WIRE_Q_* bits */
};

struct wire_record {
    uint64_t seq;
    int64_t t_ms; /* Unix ms, UTC */
    bool backlog;
    enum wire_time_source time_source;
    enum wire_kind kind;
    union {
        struct wire_position pos;
        struct wire_count count;
    } u;
};

struct wire_batch {
    char vehicle_id[WIRE_VID_MAX + 1];
    uint64_t oldest_held_seq; /* 0: not given */
    size_t n;
    struct wire_record *records; /* owned by the batch: wire_batch_free */
};

enum wire_status_state { WIRE_OFFLINE = 0, WIRE_ONLINE = 1 };

struct wire_status {
    char vehicle_id[WIRE_VID_MAX + 1];
    enum wire_status_state state;
    int64_t t_ms; /* 0: unknown */
    /* Decoding cuts too-long strings at a character boundary. */
    char version[32];
    char config_hash[17];
    uint64_t spool_records, spool_bytes;
    int64_t oldest_unacked_age_s;
    uint32_t gps_mode;
    bool gps_connected;
    char counter_state[16];
    uint64_t dropped_positions, dropped_counts;
    uint64_t next_seq, acked_seq;
    uint64_t counter_rejected;
    uint64_t acks_refused;      /* acks above any seq the bus issued */
    uint64_t refused_at_source; /* records the backend would refuse: never
                                   journaled */
};

struct wire_ack {
    char vehicle_id[WIRE_VID_MAX + 1];
    uint64_t seq;
    int64_t t_ms;
};

/* A record with every optional field marked unknown. */
void wire_position_init(struct wire_record *r);
void wire_count_init(struct wire_record *r);

/*
 * Encode into a malloc'd buffer; *out is the caller's to free. Returns
 * WIRE_OK, WIRE_ERR_NOMEM, or WIRE_ERR_TOOBIG when the result would exceed
 * WIRE_PAYLOAD_MAX.
 */
int wire_batch_encode(const struct wire_batch *b, uint8_t **out, size_t *len);
int wire_status_encode(const struct wire_status *s, uint8_t **out, size_t *len);
int wire_ack_encode(const struct wire_ack *a, uint8_t **out, size_t *len);

/*
 * One record alone (the spool stores records this way). Encode returns a
 * malloc'd buffer the caller frees; decode checks structure like
 * wire_batch_decode.
 */
int wire_record_encode(const struct wire_record *r, uint8_t **out, size_t *len);
int wire_record_decode(const uint8_t *buf, size_t len, struct wire_record *r);

/* Exact encoded size of one record inside a batch (to fill a batch up to a
 * byte budget without encoding twice). */
size_t wire_record_size(const struct wire_record *r);

/*
 * Decode a payload. Checks size and protobuf structure only; call
 * wire_batch_validate for the meaning. On success *b owns its records
 * (wire_batch_free); on failure *b is left empty. `why` (may be NULL)
 * receives a short reason for the dead-letter table.
 */
int wire_batch_decode(const uint8_t *buf, size_t len, struct wire_batch *b,
                      char *why, size_t whylen);
void wire_batch_free(struct wire_batch *b);
int wire_status_decode(const uint8_t *buf, size_t len, struct wire_status *s);
int wire_ack_decode(const uint8_t *buf, size_t len, struct wire_ack *a);

/* The highest seq a record may carry: seqs are bigint in the database, and
 * the watermark (the last seq with nothing missing below) must still have
 * a next one there. */
#define WIRE_SEQ_MAX ((uint64_t)INT64_MAX - 1)

/* Anything older than this is not telemetry from a running bus: a spool can
 * hold days of backlog, but not more than a year. */
#define WIRE_PAST_MS (400LL * 24 * 3600 * 1000)
/* Bus clocks come from GPS; more than a day ahead is a broken clock. */
#define WIRE_FUTURE_MS (24LL * 3600 * 1000)

/* How far from the receiver's clock a record's time may be. */
struct wire_window {
    int64_t past_ms;   /* default 400 days: a spool holds days, not years */
    int64_t future_ms; /* default 1 day: GPS time is not in the future */
};

/*
 * Validate one record's meaning: seq 1..INT64_MAX, coordinates in range
 * and not (0,0), fix mode 2 or 3, time (and door times) within
 * [now - past, now + future] and 1970..9999 (`now_ms` is the receiver's
 * clock; `w` NULL means the defaults), counts within bounds.
 * Returns WIRE_OK or WIRE_ERR_INVALID with a reason in why.
 */
int wire_record_validate(const struct wire_record *r, int64_t now_ms,
                         const struct wire_window *w, char *why, size_t whylen);

/*
 * The rule set. What a record, a status and an ack may contain is decided
 * here and only here: the backend applies it to what it receives, the bus
 * to what it is about to journal and to the acks it gets. A message that
 * passes can be stored: every integer fits its database column, every time
 * renders as a timestamp, every string is valid UTF-8 of its charset.
 *
 * Door times (door_open_ms, door_close_ms) when given must lie in the same
 * window as t_ms, and close not before open.
 */

/* The envelope of a batch alone: vehicle id well-formed and equal to the
 * topic's (topic_vid NULL: not compared), at least one record,
 * oldest_held_seq within bigint. WIRE_OK, WIRE_ERR_VEHICLE or
 * WIRE_ERR_INVALID with a reason. Records are judged one by one with
 * wire_record_validate: a bad one is that record's fate, not the batch's. */
int wire_batch_validate_header(const struct wire_batch *b,
                               const char *topic_vid, char *why, size_t whylen);

/* Header and every record; the first bad record fails the whole batch
 * (for a sender checking what it built). */
int wire_batch_validate(const struct wire_batch *b, const char *topic_vid,
                        int64_t now_ms, const struct wire_window *w, char *why,
                        size_t whylen);

/* The batch's oldest_held_seq claim as far as the batch itself supports
 * it: never above its lowest record seq (0 when not given). */
uint64_t wire_batch_held_bound(const struct wire_batch *b);

/*
 * A status: vehicle id as for a batch; t_ms 0 (unknown) or within
 * 1970..9999 (not the record window: a bus without a fix reports its
 * system clock); gps_mode 0..3; every uint64 counter <= INT64_MAX;
 * version printable UTF-8 (no control characters); config_hash
 * [A-Za-z0-9]*; counter_state [A-Za-z0-9_-]*. Returns WIRE_OK,
 * WIRE_ERR_VEHICLE or WIRE_ERR_INVALID with a reason in why.
 */
int wire_status_validate(const struct wire_status *s, const char *topic_vid,
                         char *why, size_t whylen);

/* An ack: vehicle id as for a batch, seq <= INT64_MAX (no seq above is
 * ever committed), t_ms 0 or within 1970..9999. Whether the seq is above
 * what the bus issued is the bus's own check. */
int wire_ack_validate(const struct wire_ack *a, const char *topic_vid,
                      char *why, size_t whylen);

/* True if `s` is valid UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF) without C0 control characters or DEL. */
bool wire_utf8_ok(const char *s);

/* True if `vid` is a well-formed vehicle id. */
bool wire_vid_ok(const char *vid);

/*
 * Split "shuttle/v1/<vid>/<kind>" into vid (buffer of WIRE_VID_MAX + 1) and
 * return the kind ("telemetry", "status", "ack") as a pointer into topic, or
 * NULL when the topic does not have that shape.
 */
const char *wire_topic_parse(const char *topic, char *vid);

/* Write "shuttle/v1/<vid>/<kind>" into buf; returns 0 or -1 if too long. */
int wire_topic(char *buf, size_t len, const char *vid, const char *kind);

const char *wire_strerror(int err);

#endif
