/* sender: publish the spool over MQTT, oldest first, live records at once. */
#include "sender.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Live records published out of order, remembered so the backlog pass does
 * not send them twice. Bounded: past it we merely send some twice, which
 * the backend ignores. */
#define SENDER_LIVE_MAX 64
/* A record observed longer ago than this is flagged as backlog. */
#define SENDER_LIVE_AGE_MS 5000

struct sender {
    struct spool *sp;
    struct mqtt *mqtt;
    struct sender_options o;
    char topic[128];
    struct spool_item *items;
    struct wire_record *recs;
    uint64_t acked;  /* backend's watermark */
    uint64_t cursor; /* highest seq the backlog pass has published */
    uint64_t pending_live[SENDER_LIVE_MAX];
    unsigned npending; /* appended, not yet published */
    uint64_t sent_live[SENDER_LIVE_MAX];
    unsigned nsent_live;
    unsigned inflight;     /* batches awaiting PUBACK */
    int64_t progress_mono; /* last ack progress or connect */
    struct sender_stats st;
};

int sender_new(struct spool *sp, struct mqtt *m, const struct sender_options *o,
               struct sender **out)
{
    struct sender *s = calloc(1, sizeof *s);

    if (!s)
        return SENDER_ERR_NOMEM;
    s->sp = sp;
    s->mqtt = m;
    s->o = *o;
    if (s->o.batch_records == 0 || s->o.batch_records > WIRE_BATCH_MAX)
        s->o.batch_records = 500;
    if (s->o.batch_bytes == 0)
        s->o.batch_bytes = 64 * 1024;
    if (s->o.window_batches == 0)
        s->o.window_batches = 8;
    if (s->o.max_ahead == 0)
        s->o.max_ahead = 5000;
    if (s->o.resend_ms <= 0)
        s->o.resend_ms = 10000;
    s->items = calloc(s->o.batch_records, sizeof *s->items);
    s->recs = calloc(s->o.batch_records, sizeof *s->recs);
    if (!s->items || !s->recs ||
        wire_topic(s->topic, sizeof s->topic, o->vehicle_id, "telemetry")) {
        sender_free(s);
        return SENDER_ERR_NOMEM;
    }
    s->acked = spool_oldest_held(sp) - 1;
    s->cursor = s->acked;
    *out = s;
    return SENDER_OK;
}

void sender_free(struct sender *s)
{
    if (!s)
        return;
    free(s->items);
    free(s->recs);
    free(s);
}

void sender_connected(struct sender *s)
{
    s->npending = 0;
    s->inflight = 0;
    s->cursor = s->acked;
    s->nsent_live = 0;
    s->progress_mono = 0;
}

void sender_puback(struct sender *s, int mid)
{
    if (s->inflight > 0)
        s->inflight--;
}

void sender_live(struct sender *s, uint64_t seq)
{
    /* Offline, every record is backlog by the time the link returns: only
     * what is appended while connected jumps the queue. */
    if (!mqtt_connected(s->mqtt))
        return;
    /* Keep the newest: the oldest pending one is the least live. */
    if (s->npending == SENDER_LIVE_MAX) {
        memmove(s->pending_live, s->pending_live + 1,
                (SENDER_LIVE_MAX - 1) * sizeof *s->pending_live);
        s->npending--;
    }
    s->pending_live[s->npending++] = seq;
}

static bool sender_was_sent_live(const struct sender *s, uint64_t seq)
{
    for (unsigned i = 0; i < s->nsent_live; i++)
        if (s->sent_live[i] == seq)
            return true;
    return false;
}

/* Forget live records the backlog cursor or the ack has passed. */
static void sender_prune_live(struct sender *s)
{
    unsigned j = 0;

    for (unsigned i = 0; i < s->nsent_live; i++)
        if (s->sent_live[i] > s->cursor && s->sent_live[i] > s->acked)
            s->sent_live[j++] = s->sent_live[i];
    s->nsent_live = j;
}

int sender_ack(struct sender *s, uint64_t seq, int64_t now_mono_ms, int *detail)
{
    int rc;

    if (seq <= s->acked)
        return SENDER_OK;
    s->acked = seq;
    if (s->cursor < seq)
        s->cursor = seq;
    s->progress_mono = now_mono_ms;
    s->st.acked_seq = seq;
    s->st.last_ack_mono_ms = now_mono_ms;
    sender_prune_live(s);
    rc = spool_ack(s->sp, seq);
    if (rc != SPOOL_OK) {
        *detail = rc;
        return SENDER_ERR_SPOOL;
    }
    return SENDER_OK;
}

/* Encode items[0..n) into one batch and publish it. */
static int sender_publish(struct sender *s, size_t n, int64_t now_ms, bool live)
{
    struct wire_batch b;
    uint8_t *buf;
    size_t len, k = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        struct wire_record *r = &s->recs[k];

        /* A record the spool cannot give back intact is lost; the
         * oldest_held mark lets the backend's watermark pass it. */
        if (wire_record_decode(s->items[i].payload, s->items[i].len, r) !=
            WIRE_OK)
            continue;
        r->seq = s->items[i].seq;
        r->backlog = !live && now_ms - r->t_ms > SENDER_LIVE_AGE_MS;
        k++;
    }
    if (k == 0)
        return MQTT_OK;
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", s->o.vehicle_id);
    b.oldest_held_seq = spool_oldest_held(s->sp);
    b.n = k;
    b.records = s->recs;
    if (wire_batch_encode(&b, &buf, &len) != WIRE_OK)
        return MQTT_ERR_NOMEM;
    rc = mqtt_publish(s->mqtt, s->topic, buf, len, 1, false, NULL);
    free(buf);
    if (rc == MQTT_OK) {
        s->inflight++;
        s->st.batches++;
        s->st.records += k;
        if (live)
            s->st.live_records += k;
    }
    return rc;
}

static int sender_pump_live(struct sender *s, int64_t now_ms, int *detail)
{
    unsigned keep = 0;

    for (unsigned i = 0; i < s->npending; i++) {
        uint64_t seq = s->pending_live[i];
        size_t n = 0;
        int rc;

        /* In order with the backlog pass: it will go in the next batch. */
        if (seq <= s->cursor + 1 || seq <= s->acked)
            continue;
        rc = spool_peek(s->sp, seq - 1, 1, s->o.batch_bytes, s->items, &n);
        if (rc != SPOOL_OK) {
            *detail = rc;
            return SENDER_ERR_SPOOL;
        }
        if (n == 1 && s->items[0].seq == seq) {
            if (sender_publish(s, 1, now_ms, true) != MQTT_OK) {
                s->pending_live[keep++] = seq;
                continue;
            }
            if (s->nsent_live < SENDER_LIVE_MAX)
                s->sent_live[s->nsent_live++] = seq;
        }
    }
    s->npending = keep;
    return SENDER_OK;
}

int sender_pump(struct sender *s, int64_t now_mono_ms, int64_t now_ms,
                int *detail)
{
    int rc;

    if (!mqtt_connected(s->mqtt))
        return SENDER_OK;
    /* The re-send clock runs only while something is unacknowledged: after
     * an idle hour the first record must not look overdue at once. */
    if (s->progress_mono == 0 || s->cursor <= s->acked)
        s->progress_mono = now_mono_ms;
    /* Nothing acknowledged for a while although we sent: a batch was lost
     * (broker restart without persistence, backend crash). Start over from
     * the watermark; the backend drops what it already has. */
    if (s->cursor > s->acked &&
        now_mono_ms - s->progress_mono >= s->o.resend_ms) {
        s->cursor = s->acked;
        s->nsent_live = 0;
        s->inflight = 0;
        s->progress_mono = now_mono_ms;
        s->st.resends++;
    }
    rc = sender_pump_live(s, now_ms, detail);
    if (rc != SENDER_OK)
        return rc;
    while (s->inflight < s->o.window_batches &&
           s->cursor - s->acked < s->o.max_ahead) {
        size_t n = 0, k = 0;
        uint64_t last;

        rc = spool_peek(s->sp, s->cursor, s->o.batch_records, s->o.batch_bytes,
                        s->items, &n);
        if (rc != SPOOL_OK) {
            *detail = rc;
            return SENDER_ERR_SPOOL;
        }
        if (n == 0)
            break;
        last = s->items[n - 1].seq;
        for (size_t i = 0; i < n; i++)
            if (!sender_was_sent_live(s, s->items[i].seq))
                s->items[k++] = s->items[i];
        if (sender_publish(s, k, now_ms, false) != MQTT_OK)
            break;
        s->cursor = last;
        sender_prune_live(s);
    }
    return SENDER_OK;
}

void sender_stats(const struct sender *s, struct sender_stats *st)
{
    *st = s->st;
}
