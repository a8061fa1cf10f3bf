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
/* Telemetry publishes awaiting PUBACK that we can tell apart from others
 * (the status). Past it the oldest is forgotten: the window then merely
 * opens one PUBACK early. */
#define SENDER_MIDS_MAX 256
/* Batches one re-send publishes: the oldest from the ack. It is a probe:
 * if the backend is back, its ack resumes full-rate sending at once; if
 * not, re-sending everything in flight would only fill the broker's queue
 * for a backend that is away. */
#define SENDER_RESEND_BATCHES 1u

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
    int mids[SENDER_MIDS_MAX]; /* telemetry publishes awaiting PUBACK */
    unsigned inflight;
    uint64_t published; /* highest seq ever published */
    /* Highest seq with everything from the ack up to it published: what
     * an ack may free. Live records sent ahead of the backlog do not
     * raise it (an ack just below one of them would free the backlog
     * between, never sent). */
    uint64_t contig;
    int64_t progress_mono; /* last ack progress or connect */
    int64_t resend_wait;   /* back-off: wait before the next re-send */
    unsigned resend_k;     /* re-sends since the last progress */
    unsigned budget;       /* backlog batches allowed until progress */
    uint32_t rng;
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
    if (s->o.resend_max_ms <= 0) {
        s->o.resend_max_ms = s->o.resend_ms * 64;
        if (s->o.resend_max_ms > 3600000)
            s->o.resend_max_ms = 3600000;
    }
    if (s->o.resend_max_ms < s->o.resend_ms)
        s->o.resend_max_ms = s->o.resend_ms;
    s->rng = o->seed ? o->seed : 0x9e3779b9u;
    s->resend_wait = s->o.resend_ms;
    s->budget = UINT32_MAX;
    s->items = calloc(s->o.batch_records, sizeof *s->items);
    s->recs = calloc(s->o.batch_records, sizeof *s->recs);
    if (!s->items || !s->recs ||
        wire_topic(s->topic, sizeof s->topic, o->vehicle_id, "telemetry")) {
        sender_free(s);
        return SENDER_ERR_NOMEM;
    }
    s->acked = spool_oldest_held(sp) - 1;
    s->cursor = s->acked;
    s->published = s->contig = s->acked;
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
    /* A new link is no news from the backend: while re-sends are backing
     * off, a flapping link must not send everything in flight each time. */
    if (s->resend_k > 0)
        s->budget = SENDER_RESEND_BATCHES;
}

void sender_puback(struct sender *s, int mid)
{
    for (unsigned i = 0; i < s->inflight; i++)
        if (s->mids[i] == mid) {
            s->mids[i] = s->mids[--s->inflight];
            return;
        }
}

static void sender_track_mid(struct sender *s, int mid)
{
    if (s->inflight == SENDER_MIDS_MAX) {
        memmove(s->mids, s->mids + 1, (SENDER_MIDS_MAX - 1) * sizeof *s->mids);
        s->inflight--;
    }
    s->mids[s->inflight++] = mid;
}

/* xorshift32: the jitter needs no quality, only no shared state. */
static uint32_t sender_rand(struct sender *s)
{
    uint32_t x = s->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x;
    return x;
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

/* Free the spool up to the ack, but never above what we had published
 * when it came: what was not sent then cannot have been committed, whoever
 * says so. (After a restart the backend may hold more than this run has
 * sent; re-sending it costs a duplicate, and the backend acks again after
 * every commit it is part of.) */
static int sender_apply(struct sender *s, uint64_t seq, int64_t now_mono_ms,
                        int *detail)
{
    uint64_t upto = seq < s->contig ? seq : s->contig;
    int rc;

    if (upto <= s->acked)
        return SENDER_OK;
    s->acked = upto;
    if (s->cursor < upto)
        s->cursor = upto;
    s->progress_mono = now_mono_ms;
    s->resend_k = 0;
    s->resend_wait = s->o.resend_ms;
    s->budget = UINT32_MAX;
    s->st.acked_seq = upto;
    s->st.last_ack_mono_ms = now_mono_ms;
    s->st.resend_wait_ms = 0;
    sender_prune_live(s);
    rc = spool_ack(s->sp, upto);
    if (rc != SPOOL_OK) {
        *detail = rc;
        return SENDER_ERR_SPOOL;
    }
    return SENDER_OK;
}

int sender_ack(struct sender *s, uint64_t seq, int64_t now_mono_ms, int *detail)
{
    /* next_seq - 1 is the highest seq issued (next_seq >= 1 always). */
    if (seq >= spool_next_seq(s->sp)) {
        s->st.acks_refused++;
        return SENDER_ERR_ACK;
    }
    return sender_apply(s, seq, now_mono_ms, detail);
}

/* Encode items[0..n) into one batch and publish it. */
static int sender_publish(struct sender *s, size_t n, int64_t now_ms, bool live)
{
    struct wire_batch b;
    uint8_t *buf;
    size_t len, k = 0;
    uint64_t top = 0;
    int rc, mid = 0;

    for (size_t i = 0; i < n; i++) {
        struct wire_record *r = &s->recs[k];

        /* Intact on disk (its CRC passed) but not a record: it can never
         * be sent. Held, it would keep the backend's watermark below it
         * for good; given up, oldest_held_seq lets the watermark pass. */
        if (wire_record_decode(s->items[i].payload, s->items[i].len, r) !=
            WIRE_OK) {
            if (spool_discard(s->sp, s->items[i].seq) == SPOOL_OK)
                s->st.undecodable++;
            continue;
        }
        r->seq = s->items[i].seq;
        if (r->seq > top)
            top = r->seq;
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
    rc = mqtt_publish(s->mqtt, s->topic, buf, len, 1, false, &mid);
    free(buf);
    if (rc == MQTT_OK) {
        sender_track_mid(s, mid);
        if (top > s->published)
            s->published = top;
        s->st.published_seq = s->published;
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

        bool next = seq == s->cursor + 1;

        /* In order with the backlog pass: it will go in the next batch,
         * unless a backing-off re-send has used the pass's budget; then
         * it goes now, and the pass continues after it. */
        if (seq <= s->cursor || seq <= s->acked || (next && s->budget != 0))
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
            if (next) {
                s->cursor = seq;
                if (s->cursor > s->contig)
                    s->contig = s->cursor;
            } else if (s->nsent_live < SENDER_LIVE_MAX)
                s->sent_live[s->nsent_live++] = seq;
        }
    }
    s->npending = keep;
    return SENDER_OK;
}

/* Nothing acknowledged for the current wait although we sent: a batch
 * may be lost (broker restart without persistence, backend crash), or the
 * backend is away. Start over from the watermark, but with one batch only,
 * and wait twice as long before the next try. */
static void sender_resend(struct sender *s, int64_t now_mono_ms)
{
    int64_t w;

    s->cursor = s->acked;
    s->nsent_live = 0;
    s->inflight = 0;
    s->budget = SENDER_RESEND_BATCHES;
    s->progress_mono = now_mono_ms;
    s->st.resends++;
    if (s->resend_k < 30)
        s->resend_k++;
    w = s->o.resend_ms << (s->resend_k < 20 ? s->resend_k : 20);
    if (w > s->o.resend_max_ms || w <= 0)
        w = s->o.resend_max_ms;
    /* Between half and all of it. */
    s->resend_wait = w - (int64_t)(sender_rand(s) % (uint32_t)(w / 2 + 1));
    s->st.resend_wait_ms = s->resend_wait;
}

int sender_pump(struct sender *s, int64_t now_mono_ms, int64_t now_ms,
                int *detail)
{
    bool outstanding;
    int rc;

    if (!mqtt_connected(s->mqtt))
        return SENDER_OK;
    outstanding = s->cursor > s->acked || s->published > s->acked;
    /* The re-send clock runs only while something is unacknowledged: after
     * an idle hour the first record must not look overdue at once. */
    if (s->progress_mono == 0 || !outstanding)
        s->progress_mono = now_mono_ms;
    if (outstanding && now_mono_ms - s->progress_mono >= s->resend_wait)
        sender_resend(s, now_mono_ms);
    rc = sender_pump_live(s, now_ms, detail);
    if (rc != SENDER_OK)
        return rc;
    while (s->inflight < s->o.window_batches && s->budget > 0 &&
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
        if (s->cursor > s->contig)
            s->contig = s->cursor;
        if (s->budget != UINT32_MAX)
            s->budget--;
        sender_prune_live(s);
    }
    return SENDER_OK;
}

void sender_stats(const struct sender *s, struct sender_stats *st)
{
    *st = s->st;
}
