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

static int ingest_reject(struct db *d, struct ingest_stats *st,
                         enum ingest_reason r, const char *topic,
                         const char *vid, const char *why,
                         const void *payload, size_t len)
{
    char reason[320];

    st->rejected[r]++;
    snprintf(reason, sizeof reason, "%s: %s", ingest_reason_name(r), why);
    /* If even the dead-letter buffer is full the message is only counted:
     * the process must keep going whatever it is fed. */
    db_stage_dead(d, topic, vid, reason, payload, len);
    return (int)r;
}

int ingest_message(struct db *d, struct ingest_stats *st, const char *topic,
                   const void *payload, size_t len, int64_t now_ms,
                   const struct wire_window *w)
{
    char vid[WIRE_VID_MAX + 1];
    char why[256];
    const char *kind;
    struct wire_batch b;
    int rc;

    st->messages++;
    kind = wire_topic_parse(topic, vid);
    if (!kind)
        return ingest_reject(d, st, INGEST_R_TOPIC, topic, NULL,
                             "topic is not shuttle/v1/<vehicle>/<kind>",
                             payload, len);
    if (strcmp(kind, "status") == 0) {
        struct wire_status s;

        rc = wire_status_decode(payload, len, &s);
        if (rc == WIRE_OK && strcmp(s.vehicle_id, vid) != 0)
            rc = WIRE_ERR_VEHICLE;
        if (rc != WIRE_OK)
            return ingest_reject(d, st, ingest_reason_of(rc), topic, vid,
                                 wire_strerror(rc), payload, len);
        st->statuses++;
        db_stage_status(d, &s);
        return -1;
    }
    if (strcmp(kind, "telemetry") != 0)
        return ingest_reject(d, st, INGEST_R_TOPIC, topic, vid,
                             "not a telemetry or status topic", payload, len);
    why[0] = '\0';
    rc = wire_batch_decode(payload, len, &b, why, sizeof why);
    if (rc == WIRE_OK)
        rc = wire_batch_validate(&b, vid, now_ms, w, why, sizeof why);
    if (rc != WIRE_OK) {
        wire_batch_free(&b);
        return ingest_reject(d, st, ingest_reason_of(rc), topic, vid,
                             why[0] ? why : wire_strerror(rc), payload, len);
    }
    rc = db_stage_batch(d, &b);
    if (rc != DB_OK) {
        /* Not a dead letter: the batch is good, we are only full. Nothing
         * is acknowledged, so the bus sends it again. */
        st->rejected[INGEST_R_OVERLOAD]++;
        wire_batch_free(&b);
        return INGEST_R_OVERLOAD;
    }
    st->records += b.n;
    wire_batch_free(&b);
    return -1;
}
