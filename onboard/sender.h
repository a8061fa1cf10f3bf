/* sender: publish the spool over MQTT, oldest first, live records at once. */
#ifndef SHUTTLE_SENDER_H
#define SHUTTLE_SENDER_H

#include <stdint.h>

#include "mqtt.h"
#include "spool.h"

struct sender;

struct sender_options {
    const char *vehicle_id;
    unsigned batch_records;  /* most records in one batch */
    unsigned batch_bytes;    /* most payload bytes in one batch */
    unsigned window_batches; /* batches published and not yet PUBACKed */
    /* Backlog published ahead of the backend's ack, in seqs. The broker
     * queues what we publish in one line: a live record published behind
     * a whole day of backlog would wait for all of it. */
    unsigned max_ahead;
    int64_t resend_ms; /* no ack progress this long: send again */
    /* Each re-send without progress doubles the wait, up to this (with
     * jitter, so a fleet that lost its backend together does not re-send
     * together). 0: 64 times resend_ms, at most an hour. */
    int64_t resend_max_ms;
    unsigned seed; /* for the jitter */
};

struct sender_stats {
    uint64_t batches, records, live_records, resends;
    uint64_t acked_seq;     /* what the spool was freed up to */
    uint64_t published_seq; /* highest seq ever published */
    uint64_t acks_refused;  /* acks above the highest seq issued */
    uint64_t undecodable;   /* held records that did not decode: dropped */
    int64_t resend_wait_ms; /* the current back-off; 0 after progress */
    int64_t last_ack_mono_ms;
};

enum sender_err {
    SENDER_OK = 0,
    SENDER_ERR_NOMEM = -1,
    SENDER_ERR_SPOOL = -2, /* the spool failed; its error is in *detail */
    SENDER_ERR_ACK = -3,   /* an ack above any seq issued: ignored */
};

/* `sp` and `m` must outlive the sender. */
int sender_new(struct spool *sp, struct mqtt *m, const struct sender_options *o,
               struct sender **out);
void sender_free(struct sender *s);

/* The link came up: everything unacknowledged is sent again from the
 * oldest, since whatever was in flight may be lost with the old link. */
void sender_connected(struct sender *s);

/* A PUBACK arrived. If `mid` is one of our telemetry publishes, one more
 * batch may go out; any other mid (the status) is ignored. */
void sender_puback(struct sender *s, int mid);

/*
 * The backend's ack: every seq <= `seq` is committed. Anyone who can
 * publish on the ack topic can send one, so it is bounded: an ack above the
 * highest seq the spool ever issued is refused (SENDER_ERR_ACK, counted in
 * acks_refused, nothing freed), and the spool is freed only up to the
 * highest seq this sender had published when the ack came (what was not
 * sent then cannot be committed; the backend acks again after each commit
 * a re-sent record is part of). Returns SENDER_OK, SENDER_ERR_ACK or
 * SENDER_ERR_SPOOL (spool error in *detail).
 */
int sender_ack(struct sender *s, uint64_t seq, int64_t now_mono_ms,
               int *detail);

/* A record was just appended: it is published ahead of any backlog. */
void sender_live(struct sender *s, uint64_t seq);

/*
 * Publish what is due: live records first, then backlog batches while the
 * window allows. Without ack progress for resend_ms it re-sends the oldest
 * batch from the ack (not everything in flight) and waits twice as long
 * (jittered, capped at resend_max_ms) before the next re-send; ack progress
 * resets the wait and resumes full-rate sending. A held record that does
 * not decode is dropped from the spool (counted) so the watermark passes.
 * `now_ms` is the bus's best time (records older than a few seconds are
 * flagged backlog). Returns SENDER_OK or an error.
 */
int sender_pump(struct sender *s, int64_t now_mono_ms, int64_t now_ms,
                int *detail);

void sender_stats(const struct sender *s, struct sender_stats *st);

#endif
