/* ackq: the acks waiting to be handed to the broker, at most one per
 * vehicle: a newer watermark replaces the one still waiting. */
#ifndef SHUTTLE_ACKQ_H
#define SHUTTLE_ACKQ_H

/*
 * An ack is cumulative and retained: only a vehicle's newest one matters.
 * Publishing each commit's acks at once queues one message per vehicle per
 * commit in the MQTT client, and with 1,000 vehicles and 100 in flight
 * that queue grows for as long as the load lasts (ack latency in seconds).
 * The daemon instead puts each new watermark here and hands the oldest
 * waiting ones to the broker only while fewer than its in-flight limit are
 * unanswered; a vehicle whose ack is still waiting has it replaced, so the
 * queue never holds more than one ack per vehicle and drains as fast as
 * the broker answers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct ackq;

enum ackq_err {
    ACKQ_OK = 0,
    ACKQ_REPLACED = 1, /* ackq_put: the vehicle's waiting ack was updated */
    ACKQ_ERR_NOMEM = -1,
    ACKQ_ERR_VID = -2, /* empty or longer than WIRE_VID_MAX */
};

/* An empty queue. ACKQ_OK or ACKQ_ERR_NOMEM; *out is the caller's, to free
 * with ackq_free. */
int ackq_new(struct ackq **out);
void ackq_free(struct ackq *q);

/*
 * vid's watermark is now seq. If an ack of vid is waiting, it keeps its
 * place and takes the higher of the two seqs (ACKQ_REPLACED); else the ack
 * waits at the tail (ACKQ_OK). A seq at or below the last one taken from
 * the queue for vid is still queued: another backend may have published a
 * lower one since, and the retained ack must end at the newest.
 */
int ackq_put(struct ackq *q, const char *vid, uint64_t seq);

/* The oldest waiting ack, left in the queue: false when none. *vid points
 * into the queue, valid until the next ackq_put or ackq_pop. */
bool ackq_peek(const struct ackq *q, const char **vid, uint64_t *seq);

/* Remove the oldest waiting ack (the one ackq_peek shows), once it has
 * been handed to the broker. */
void ackq_pop(struct ackq *q);

/* Acks waiting. */
size_t ackq_len(const struct ackq *q);

/* Acks replaced by a newer one before they went out, since start. */
uint64_t ackq_replaced(const struct ackq *q);

#endif
