/* ingest: turn MQTT messages into staged rows or dead letters. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

const char *ingest_reason_name(enum ingest_reason r)
{
    static const char *const names[INGEST_R_COUNT] = {
        [INGEST_R_TOPIC] = "topic",       [INGEST_R_EMPTY] = "empty",
        [INGEST_R_TOOBIG] = "too_big",    [INGEST_R_DECODE] = "decode",
        [INGEST_R_VEHICLE] = "vehicle",   [INGEST_R_INVALID] = "invalid",
        [INGEST_R_OVERLOAD] = "overload",
    };
    return (unsigned)r < INGEST_R_COUNT ? names[r] : "unknown";
}

static enum ingest_reason ingest_reason_of(int wire_rc)
{
    switch (wire_rc) {
    case WIRE_ERR_EMPTY:
        return INGEST_R_EMPTY;
    case WIRE_ERR_TOOBIG:
        return INGEST_R_TOOBIG;
    case WIRE_ERR_VEHICLE:
        return INGEST_R_VEHICLE;
    case WIRE_ERR_INVALID:
        return INGEST_R_INVALID;
    default:
        return INGEST_R_DECODE;
    }
}

static int ingest_reject(struct writer *wr, struct ingest_stats *st,
                         enum ingest_reason r, const char *topic,
                         const char *vid, const char *why, const void *payload,
                         size_t len, enum ingest_reason *reason)
{
    char text[320];

    st->rejected[r]++;
    snprintf(text, sizeof text, "%s: %s", ingest_reason_name(r), why);
    /* If even the dead-letter buffer is full the message is only counted:
     * the process must keep going whatever it is fed. */
    writer_stage_dead(wr, topic, vid, text, payload, len);
    if (reason)
        *reason = r;
    return INGEST_ERR_REFUSED;
}

static int ingest_status(struct writer *wr, struct ingest_stats *st,
                         const char *topic, const char *vid,
                         const void *payload, size_t len,
                         enum ingest_reason *reason)
{
    struct wire_status s;
    char why[256] = "";
    int rc = wire_status_decode(payload, len, &s);

    if (rc == WIRE_OK)
        rc = wire_status_validate(&s, vid, why, sizeof why);
    if (rc != WIRE_OK)
        return ingest_reject(wr, st, ingest_reason_of(rc), topic, vid,
                             why[0] ? why : wire_strerror(rc), payload, len,
                             reason);
    st->statuses++;
    writer_stage_status(wr, &s);
    return INGEST_OK;
}

int ingest_message(struct writer *wr, struct ingest_stats *st,
                   const char *topic, const void *payload, size_t len,
                   int64_t now_ms, const struct wire_window *w,
                   enum ingest_reason *reason)
{
    char vid[WIRE_VID_MAX + 1];
    char why[256];
    const char *kind;
    struct wire_batch b;
    size_t good = 0;
    int rc;

    st->messages++;
    kind = wire_topic_parse(topic, vid);
    if (!kind)
        return ingest_reject(wr, st, INGEST_R_TOPIC, topic, NULL,
                             "topic is not shuttle/v1/<vehicle>/<kind>",
                             payload, len, reason);
    if (strcmp(kind, "status") == 0)
        return ingest_status(wr, st, topic, vid, payload, len, reason);
    if (strcmp(kind, "telemetry") != 0)
        return ingest_reject(wr, st, INGEST_R_TOPIC, topic, vid,
                             "not a telemetry or status topic", payload, len,
                             reason);
    why[0] = '\0';
    rc = wire_batch_decode(payload, len, &b, why, sizeof why);
    if (rc == WIRE_OK)
        rc = wire_batch_validate_header(&b, vid, why, sizeof why);
    if (rc != WIRE_OK) {
        wire_batch_free(&b);
        return ingest_reject(wr, st, ingest_reason_of(rc), topic, vid,
                             why[0] ? why : wire_strerror(rc), payload, len,
                             reason);
    }
    b.oldest_held_seq = wire_batch_held_bound(&b);
    /* Good records first, in order; the bad ones after them, to be
     * dead-lettered once the good ones found room. */
    for (size_t i = 0; i < b.n; i++) {
        if (wire_record_validate(&b.records[i], now_ms, w, NULL, 0) ==
            WIRE_OK) {
            struct wire_record r = b.records[i];

            memmove(&b.records[good + 1], &b.records[good],
                    (i - good) * sizeof *b.records);
            b.records[good++] = r;
        }
    }
    {
        size_t total = b.n;

        b.n = good;
        rc = writer_stage_batch(wr, &b);
        b.n = total;
    }
    if (rc != DB_OK) {
        /* Not a dead letter: the batch is good, we are only full. Nothing
         * is acknowledged, so the bus sends it again. */
        st->rejected[INGEST_R_OVERLOAD]++;
        wire_batch_free(&b);
        if (reason)
            *reason = INGEST_R_OVERLOAD;
        return INGEST_ERR_OVERLOAD;
    }
    st->records += good;
    for (size_t i = good; i < b.n; i++) {
        char text[320];

        wire_record_validate(&b.records[i], now_ms, w, why, sizeof why);
        snprintf(text, sizeof text, "%s: %s",
                 ingest_reason_name(INGEST_R_INVALID), why);
        st->rejected[INGEST_R_INVALID]++;
        st->dead_records++;
        /* Full: the record is neither stored nor settled, so the bus still
         * holds it and sends it again. */
        writer_stage_dead_record(wr, topic, vid, b.records[i].seq, text,
                                 payload, len);
    }
    wire_batch_free(&b);
    return INGEST_OK;
}

int ingest_retry(struct writer *wr, struct ingest_stats *st, const char *topic,
                 const void *payload, size_t len, int64_t now_ms,
                 const struct wire_window *w, enum ingest_reason *reason)
{
    st->rejected[INGEST_R_OVERLOAD]--;
    st->messages--;
    return ingest_message(wr, st, topic, payload, len, now_ms, w, reason);
}
