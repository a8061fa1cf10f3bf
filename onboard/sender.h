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
};

struct sender_stats {
    uint64_t batches, records, live_records, resends;
    uint64_t acked_seq;
    int64_t last_ack_mono_ms;
};

enum sender_err {
    SENDER_OK = 0,
    SENDER_ERR_NOMEM = -1,
    SENDER_ERR_SPOOL = -2, /* the spool failed; its error is in *detail */
};

/* `sp` and `m` must outlive the sender. */
int sender_new(struct spool *sp, struct mqtt *m, const struct sender_options *o,
               struct sender **out);
void sender_free(struct sender *s);

/* The link came up: everything unacknowledged is sent again from the
 * oldest, since whatever was in flight may be lost with the old link. */
void sender_connected(struct sender *s);

/* A PUBACK arrived: one more batch may go out. */
void sender_puback(struct sender *s, int mid);

/* The backend's ack: every seq <= `seq` is committed. Frees the spool up to
 * it. Returns SENDER_OK or SENDER_ERR_SPOOL (spool error in *detail). */
int sender_ack(struct sender *s, uint64_t seq, int64_t now_mono_ms,
               int *detail);

/* A record was just appended: it is published ahead of any backlog. */
void sender_live(struct sender *s, uint64_t seq);

/*
 * Publish what is due: live records first, then backlog batches while the
 * window allows, and re-send after resend_ms without ack progress.
 * `now_ms` is the bus's best time (records older than a few seconds are
 * flagged backlog). Returns SENDER_OK or an error.
 */
int sender_pump(struct sender *s, int64_t now_mono_ms, int64_t now_ms,
                int *detail);

void sender_stats(const struct sender *s, struct sender_stats *st);

#endif
