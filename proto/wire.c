/* wire: encode, decode and validate the messages of proto/shuttle.proto. */
#include "wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shuttle.pb-c.h"

static void wire_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wire_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (!why || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/*
 * The last instant every consumer reads: 9999-12-31T23:59:59.999Z. A
 * timestamp column holds more, but ISO text, reports and the bus's own
 * formatting stop at four-digit years.
 */
#define WIRE_T_MAX_MS 253402300799999LL

/* Copy a decoded string into a fixed field, cutting a too-long one at a
 * character boundary so the cut never makes valid UTF-8 invalid. */
static void wire__copy_text(char *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(src);

    if (n >= dstlen) {
        n = dstlen - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

bool wire_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        uint32_t c;
        int more;

        if (*p < 0x80) {
            /* C0 controls and DEL have no place in a label; they would
             * also need escaping in every text format downstream. */
            if (*p < 0x20 || *p == 0x7f)
                return false;
            p++;
            continue;
        }
        if (*p >= 0xC2 && *p <= 0xDF) {
            c = *p & 0x1Fu;
            more = 1;
        } else if (*p >= 0xE0 && *p <= 0xEF) {
            c = *p & 0x0Fu;
            more = 2;
        } else if (*p >= 0xF0 && *p <= 0xF4) {
            c = *p & 0x07u;
            more = 3;
        } else {
            return false; /* continuation byte first, C0/C1, or > U+10FFFF */
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return false; /* also stops at the terminating NUL */
            c = (c << 6) | (*p & 0x3Fu);
        }
        /* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
        if ((more == 2 && c < 0x800) || (more == 3 && c < 0x10000) ||
            (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
            return false;
    }
    return true;
}

/* Printable ASCII only, from `extra` or alphanumerics. */
static bool wire__ascii_ok(const char *s, const char *extra)
{
    for (; *s; s++) {
        char c = *s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || (c && strchr(extra, c))))
            return false;
    }
    return true;
}

const char *wire_strerror(int err)
{
    switch (err) {
    case WIRE_OK:
        return "ok";
    case WIRE_ERR_NOMEM:
        return "out of memory";
    case WIRE_ERR_EMPTY:
        return "empty payload";
    case WIRE_ERR_TOOBIG:
        return "payload too large";
    case WIRE_ERR_DECODE:
        return "not a valid protobuf message";
    case WIRE_ERR_INVALID:
        return "invalid field";
    case WIRE_ERR_VEHICLE:
        return "bad vehicle id";
    }
    return "unknown error";
}

bool wire_vid_ok(const char *vid)
{
    size_t n = 0;

    if (!vid)
        return false;
    for (; vid[n]; n++) {
        char c = vid[n];
        if (n >= WIRE_VID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return n > 0;
}

const char *wire_topic_parse(const char *topic, char *vid)
{
    static const char prefix[] = "shuttle/v1/";
    const char *p, *slash;
    size_t n;

    if (strncmp(topic, prefix, sizeof prefix - 1) != 0)
        return NULL;
    p = topic + sizeof prefix - 1;
    slash = strchr(p, '/');
    if (!slash)
        return NULL;
    n = (size_t)(slash - p);
    if (n == 0 || n > WIRE_VID_MAX)
        return NULL;
    memcpy(vid, p, n);
    vid[n] = '\0';
    if (!wire_vid_ok(vid))
        return NULL;
    /* Only the kinds the protocol has: no empty level, no wildcard. */
    p = slash + 1;
    if (strcmp(p, "telemetry") != 0 && strcmp(p, "status") != 0 &&
        strcmp(p, "ack") != 0)
        return NULL;
    return p;
}

int wire_topic(char *buf, size_t len, const char *vid, const char *kind)
{
    int n = snprintf(buf, len, "shuttle/v1/%s/%s", vid, kind);

    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

void wire_position_init(struct wire_record *r)
{
    memset(r, 0, sizeof *r);
    r->kind = WIRE_POSITION;
    r->u.pos.speed = r->u.pos.track = r->u.pos.alt = r->u.pos.hdop = NAN;
    r->u.pos.sats_used = -1;
}

void wire_count_init(struct wire_record *r)
{
    memset(r, 0, sizeof *r);
    r->kind = WIRE_COUNT;
    r->u.count.load_after = -1;
    r->u.count.lat = r->u.count.lon = NAN;
}

/*
 * The generated structs of one record, filled from a wire_record. They live
 * on the caller's stack (or in an array) and point into each other, so
 * nothing here is allocated.
 */
struct wire_pb_record {
    Shuttle__V1__Record rec;
    Shuttle__V1__Position pos;
    Shuttle__V1__PassengerCount count;
};

static void wire_to_pb(const struct wire_record *r, struct wire_pb_record *pb)
{
    Shuttle__V1__Record rinit = SHUTTLE__V1__RECORD__INIT;

    pb->rec = rinit;
    pb->rec.seq = r->seq;
    pb->rec.t_ms = r->t_ms;
    if (r->backlog) {
        pb->rec.has_backlog = 1;
        pb->rec.backlog = 1;
    }
    if (r->time_source != WIRE_TIME_GPS) {
        pb->rec.has_time_source = 1;
        pb->rec.time_source = (Shuttle__V1__TimeSource)r->time_source;
    }
    if (r->kind == WIRE_POSITION) {
        const struct wire_position *p = &r->u.pos;
        Shuttle__V1__Position pinit = SHUTTLE__V1__POSITION__INIT;

        pb->pos = pinit;
        pb->pos.lat = p->lat;
        pb->pos.lon = p->lon;
        pb->pos.fix_mode = p->fix_mode;
        if ((pb->pos.has_speed = isfinite(p->speed)))
            pb->pos.speed = (float)p->speed;
        if ((pb->pos.has_track = isfinite(p->track)))
            pb->pos.track = (float)p->track;
        if ((pb->pos.has_alt = isfinite(p->alt)))
            pb->pos.alt = (float)p->alt;
        if ((pb->pos.has_hdop = isfinite(p->hdop)))
            pb->pos.hdop = (float)p->hdop;
        if ((pb->pos.has_sats_used = p->sats_used >= 0))
            pb->pos.sats_used = (uint32_t)p->sats_used;
        pb->rec.body_case = SHUTTLE__V1__RECORD__BODY_POSITION;
        pb->rec.position = &pb->pos;
    } else {
        const struct wire_count *c = &r->u.count;
        Shuttle__V1__PassengerCount cinit = SHUTTLE__V1__PASSENGER_COUNT__INIT;

        pb->count = cinit;
        pb->count.door = c->door;
        pb->count.boarded = c->boarded;
        pb->count.alighted = c->alighted;
        if ((pb->count.has_door_open_ms = c->door_open_ms != 0))
            pb->count.door_open_ms = c->door_open_ms;
        if ((pb->count.has_door_close_ms = c->door_close_ms != 0))
            pb->count.door_close_ms = c->door_close_ms;
        if ((pb->count.has_load_after = c->load_after >= 0))
            pb->count.load_after = (uint32_t)c->load_after;
        if (isfinite(c->lat) && isfinite(c->lon)) {
            pb->count.has_lat = pb->count.has_lon = 1;
            pb->count.lat = c->lat;
            pb->count.lon = c->lon;
        }
        if ((pb->count.has_quality = c->quality != 0))
            pb->count.quality = c->quality;
        pb->rec.body_case = SHUTTLE__V1__RECORD__BODY_COUNT;
        pb->rec.count = &pb->count;
    }
}

/* Returns WIRE_OK or WIRE_ERR_DECODE with a reason: a record without a body
 * cannot be stored anywhere. */
static int wire_from_pb(const Shuttle__V1__Record *pr, struct wire_record *r,
                        char *why, size_t whylen)
{
    if (pr->body_case == SHUTTLE__V1__RECORD__BODY_POSITION && pr->position) {
        const Shuttle__V1__Position *p = pr->position;

        wire_position_init(r);
        r->u.pos.lat = p->lat;
        r->u.pos.lon = p->lon;
        r->u.pos.fix_mode = p->fix_mode;
        if (p->has_speed)
            r->u.pos.speed = p->speed;
        if (p->has_track)
            r->u.pos.track = p->track;
        if (p->has_alt)
            r->u.pos.alt = p->alt;
        if (p->has_hdop)
            r->u.pos.hdop = p->hdop;
        if (p->has_sats_used)
            r->u.pos.sats_used =
                p->sats_used > INT32_MAX ? INT32_MAX : (int32_t)p->sats_used;
    } else if (pr->body_case == SHUTTLE__V1__RECORD__BODY_COUNT && pr->count) {
        const Shuttle__V1__PassengerCount *c = pr->count;

        wire_count_init(r);
        r->u.count.door = c->door;
        r->u.count.boarded = c->boarded;
        r->u.count.alighted = c->alighted;
        if (c->has_door_open_ms)
            r->u.count.door_open_ms = c->door_open_ms;
        if (c->has_door_close_ms)
            r->u.count.door_close_ms = c->door_close_ms;
        if (c->has_load_after)
            r->u.count.load_after =
                c->load_after > INT32_MAX ? INT32_MAX : (int32_t)c->load_after;
        if (c->has_lat && c->has_lon) {
            r->u.count.lat = c->lat;
            r->u.count.lon = c->lon;
        }
        if (c->has_quality)
            r->u.count.quality = c->quality;
    } else {
        wire_why(why, whylen, "record seq %llu has no body",
                 (unsigned long long)pr->seq);
        return WIRE_ERR_DECODE;
    }
    r->seq = pr->seq;
    r->t_ms = pr->t_ms;
    r->backlog = pr->has_backlog && pr->backlog;
    r->time_source = pr->has_time_source
                         ? (enum wire_time_source)pr->time_source
                         : WIRE_TIME_GPS;
    return WIRE_OK;
}

static int wire_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;

    if (n > WIRE_PAYLOAD_MAX)
        return WIRE_ERR_TOOBIG;
    /* malloc(0) may return NULL; an all-default message packs to 0 bytes. */
    buf = malloc(n ? n : 1);
    if (!buf)
        return WIRE_ERR_NOMEM;
    *len = protobuf_c_message_pack(m, buf);
    *out = buf;
    return WIRE_OK;
}

size_t wire_record_size(const struct wire_record *r)
{
    struct wire_pb_record pb;
    size_t n;

    wire_to_pb(r, &pb);
    n = shuttle__v1__record__get_packed_size(&pb.rec);
    /* In a batch: tag byte + varint length prefix. */
    return 1 + (n < 128 ? 1 : n < 16384 ? 2 : 3) + n;
}

int wire_record_encode(const struct wire_record *r, uint8_t **out, size_t *len)
{
    struct wire_pb_record pb;

    wire_to_pb(r, &pb);
    return wire_pack(&pb.rec.base, out, len);
}

int wire_record_decode(const uint8_t *buf, size_t len, struct wire_record *r)
{
    Shuttle__V1__Record *pr;
    int rc;

    if (len == 0)
        return WIRE_ERR_EMPTY;
    if (len > WIRE_PAYLOAD_MAX)
        return WIRE_ERR_TOOBIG;
    pr = shuttle__v1__record__unpack(NULL, len, buf);
    if (!pr)
        return WIRE_ERR_DECODE;
    rc = wire_from_pb(pr, r, NULL, 0);
    shuttle__v1__record__free_unpacked(pr, NULL);
    return rc;
}

int wire_batch_encode(const struct wire_batch *b, uint8_t **out, size_t *len)
{
    Shuttle__V1__TelemetryBatch pb = SHUTTLE__V1__TELEMETRY_BATCH__INIT;
    struct wire_pb_record *recs = NULL;
    Shuttle__V1__Record **ptrs = NULL;
    int rc;

    if (b->n > WIRE_BATCH_MAX)
        return WIRE_ERR_TOOBIG;
    if (b->n) {
        recs = calloc(b->n, sizeof *recs);
        ptrs = calloc(b->n, sizeof *ptrs);
        if (!recs || !ptrs) {
            free(recs);
            free(ptrs);
            return WIRE_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        wire_to_pb(&b->records[i], &recs[i]);
        ptrs[i] = &recs[i].rec;
    }
    pb.vehicle_id = (char *)b->vehicle_id;
    pb.n_records = b->n;
    pb.records = ptrs;
    if (b->oldest_held_seq) {
        pb.has_oldest_held_seq = 1;
        pb.oldest_held_seq = b->oldest_held_seq;
    }
    rc = wire_pack(&pb.base, out, len);
    free(recs);
    free(ptrs);
    return rc;
}

int wire_batch_decode(const uint8_t *buf, size_t len, struct wire_batch *b,
                      char *why, size_t whylen)
{
    Shuttle__V1__TelemetryBatch *pb;
    int rc = WIRE_OK;

    memset(b, 0, sizeof *b);
    if (len == 0) {
        wire_why(why, whylen, "empty payload");
        return WIRE_ERR_EMPTY;
    }
    if (len > WIRE_PAYLOAD_MAX) {
        wire_why(why, whylen, "payload of %zu bytes exceeds %d", len,
                 WIRE_PAYLOAD_MAX);
        return WIRE_ERR_TOOBIG;
    }
    pb = shuttle__v1__telemetry_batch__unpack(NULL, len, buf);
    if (!pb) {
        wire_why(why, whylen, "not a TelemetryBatch protobuf (%zu bytes)", len);
        return WIRE_ERR_DECODE;
    }
    if (pb->n_records > WIRE_BATCH_MAX) {
        wire_why(why, whylen, "batch of %zu records exceeds %d", pb->n_records,
                 WIRE_BATCH_MAX);
        rc = WIRE_ERR_TOOBIG;
        goto out;
    }
    if (strlen(pb->vehicle_id) > WIRE_VID_MAX) {
        wire_why(why, whylen, "vehicle id longer than %d", WIRE_VID_MAX);
        rc = WIRE_ERR_VEHICLE;
        goto out;
    }
    snprintf(b->vehicle_id, sizeof b->vehicle_id, "%s", pb->vehicle_id);
    b->oldest_held_seq = pb->has_oldest_held_seq ? pb->oldest_held_seq : 0;
    if (pb->n_records) {
        b->records = calloc(pb->n_records, sizeof *b->records);
        if (!b->records) {
            wire_why(why, whylen, "out of memory");
            rc = WIRE_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < pb->n_records; i++) {
        rc = wire_from_pb(pb->records[i], &b->records[i], why, whylen);
        if (rc != WIRE_OK) {
            wire_batch_free(b);
            memset(b, 0, sizeof *b);
            goto out;
        }
    }
    b->n = pb->n_records;
out:
    shuttle__v1__telemetry_batch__free_unpacked(pb, NULL);
    return rc;
}

void wire_batch_free(struct wire_batch *b)
{
    free(b->records);
    b->records = NULL;
    b->n = 0;
}

/* Is t within [now - past, now + future] and inside WIRE_T_MAX_MS? In
 * 64-bit arithmetic that cannot overflow, whatever the window says. */
static bool wire__time_in(int64_t t, int64_t now_ms,
                          const struct wire_window *w)
{
    int64_t past = w ? w->past_ms : WIRE_PAST_MS;
    int64_t future = w ? w->future_ms : WIRE_FUTURE_MS;

    if (t < 0 || t > WIRE_T_MAX_MS || now_ms < 0 || now_ms > WIRE_T_MAX_MS)
        return false;
    if (past < 0)
        past = 0;
    if (future < 0)
        future = 0;
    /* Both sides are now within [-2^62, 2^62]: no overflow. */
    if (past > WIRE_T_MAX_MS)
        past = WIRE_T_MAX_MS;
    if (future > WIRE_T_MAX_MS)
        future = WIRE_T_MAX_MS;
    return t >= now_ms - past && t <= now_ms + future;
}

int wire_record_validate(const struct wire_record *r, int64_t now_ms,
                         const struct wire_window *w, char *why, size_t whylen)
{

    if (r->seq == 0) {
        wire_why(why, whylen, "seq 0 is reserved");
        return WIRE_ERR_INVALID;
    }
    if (r->seq > WIRE_SEQ_MAX) {
        wire_why(why, whylen, "seq %llu is above the highest a bus may use",
                 (unsigned long long)r->seq);
        return WIRE_ERR_INVALID;
    }
    if (!wire__time_in(r->t_ms, now_ms, w)) {
        wire_why(why, whylen, "seq %llu: time %lld ms is %s",
                 (unsigned long long)r->seq, (long long)r->t_ms,
                 r->t_ms > now_ms ? "too far in the future"
                                  : "too far in the past");
        return WIRE_ERR_INVALID;
    }
    if ((unsigned)r->time_source > WIRE_TIME_SYSTEM) {
        wire_why(why, whylen, "seq %llu: unknown time source %d",
                 (unsigned long long)r->seq, (int)r->time_source);
        return WIRE_ERR_INVALID;
    }
    if (r->kind == WIRE_POSITION) {
        const struct wire_position *p = &r->u.pos;

        if (!isfinite(p->lat) || !isfinite(p->lon) || fabs(p->lat) > 90 ||
            fabs(p->lon) > 180 || (p->lat == 0 && p->lon == 0)) {
            wire_why(why, whylen, "seq %llu: impossible coordinates %g,%g",
                     (unsigned long long)r->seq, p->lat, p->lon);
            return WIRE_ERR_INVALID;
        }
        if (p->fix_mode != 2 && p->fix_mode != 3) {
            wire_why(why, whylen, "seq %llu: fix mode %u is not 2D or 3D",
                     (unsigned long long)r->seq, p->fix_mode);
            return WIRE_ERR_INVALID;
        }
        if ((isfinite(p->speed) && (p->speed < 0 || p->speed > 100)) ||
            (isfinite(p->track) && (p->track < 0 || p->track > 360)) ||
            (isfinite(p->alt) && fabs(p->alt) > 20000) ||
            (isfinite(p->hdop) && (p->hdop < 0 || p->hdop > 100)) ||
            p->sats_used > 255) {
            wire_why(why, whylen,
                     "seq %llu: speed, track, altitude, hdop or satellites "
                     "out of range",
                     (unsigned long long)r->seq);
            return WIRE_ERR_INVALID;
        }
        return WIRE_OK;
    }
    if (r->kind == WIRE_COUNT) {
        const struct wire_count *c = &r->u.count;

        if (c->door < 1 || c->door > WIRE_DOOR_MAX) {
            wire_why(why, whylen, "seq %llu: door %u outside 1..%d",
                     (unsigned long long)r->seq, c->door, WIRE_DOOR_MAX);
            return WIRE_ERR_INVALID;
        }
        if (c->boarded > WIRE_COUNT_MAX || c->alighted > WIRE_COUNT_MAX ||
            c->load_after > WIRE_LOAD_MAX) {
            wire_why(why, whylen,
                     "seq %llu: counts %u in, %u out, load %d out of range",
                     (unsigned long long)r->seq, c->boarded, c->alighted,
                     c->load_after);
            return WIRE_ERR_INVALID;
        }
        if (isfinite(c->lat) &&
            (fabs(c->lat) > 90 || fabs(c->lon) > 180 || !isfinite(c->lon) ||
             (c->lat == 0 && c->lon == 0))) {
            wire_why(why, whylen, "seq %llu: impossible coordinates",
                     (unsigned long long)r->seq);
            return WIRE_ERR_INVALID;
        }
        /* Door times are observation times like t: the same window, or
         * they would reach the database (and the report) unchecked. */
        if ((c->door_open_ms && !wire__time_in(c->door_open_ms, now_ms, w)) ||
            (c->door_close_ms && !wire__time_in(c->door_close_ms, now_ms, w))) {
            wire_why(
                why, whylen,
                "seq %llu: door time %lld ms is outside the time window",
                (unsigned long long)r->seq,
                (long long)(c->door_open_ms &&
                                    !wire__time_in(c->door_open_ms, now_ms, w)
                                ? c->door_open_ms
                                : c->door_close_ms));
            return WIRE_ERR_INVALID;
        }
        if (c->door_open_ms && c->door_close_ms &&
            c->door_close_ms < c->door_open_ms) {
            wire_why(why, whylen, "seq %llu: door closed before it opened",
                     (unsigned long long)r->seq);
            return WIRE_ERR_INVALID;
        }
        if (c->quality > 15) {
            wire_why(why, whylen, "seq %llu: unknown quality bits %u",
                     (unsigned long long)r->seq, c->quality);
            return WIRE_ERR_INVALID;
        }
        return WIRE_OK;
    }
    wire_why(why, whylen, "seq %llu: unknown record kind",
             (unsigned long long)r->seq);
    return WIRE_ERR_INVALID;
}

int wire_batch_validate_header(const struct wire_batch *b,
                               const char *topic_vid, char *why, size_t whylen)
{
    if (!wire_vid_ok(b->vehicle_id)) {
        wire_why(why, whylen, "malformed vehicle id in payload");
        return WIRE_ERR_VEHICLE;
    }
    if (topic_vid && strcmp(b->vehicle_id, topic_vid) != 0) {
        wire_why(why, whylen, "payload vehicle '%s' differs from topic's '%s'",
                 b->vehicle_id, topic_vid);
        return WIRE_ERR_VEHICLE;
    }
    if (b->n == 0) {
        wire_why(why, whylen, "batch holds no records");
        return WIRE_ERR_INVALID;
    }
    if (b->oldest_held_seq > WIRE_SEQ_MAX) {
        wire_why(why, whylen,
                 "oldest held seq %llu is above the highest a "
                 "bus may use",
                 (unsigned long long)b->oldest_held_seq);
        return WIRE_ERR_INVALID;
    }
    return WIRE_OK;
}

uint64_t wire_batch_held_bound(const struct wire_batch *b)
{
    uint64_t low = UINT64_MAX;

    for (size_t i = 0; i < b->n; i++)
        if (b->records[i].seq < low)
            low = b->records[i].seq;
    /* The bus sends from what it holds, so nothing it sends lies below
     * what it says it holds: a claim above the batch is not believed. */
    return b->oldest_held_seq <= low ? b->oldest_held_seq : low;
}

int wire_batch_validate(const struct wire_batch *b, const char *topic_vid,
                        int64_t now_ms, const struct wire_window *w, char *why,
                        size_t whylen)
{
    int rc = wire_batch_validate_header(b, topic_vid, why, whylen);

    if (rc != WIRE_OK)
        return rc;
    for (size_t i = 0; i < b->n && rc == WIRE_OK; i++)
        rc = wire_record_validate(&b->records[i], now_ms, w, why, whylen);
    return rc;
}

int wire_status_validate(const struct wire_status *s, const char *topic_vid,
                         char *why, size_t whylen)
{
    const struct {
        const char *name;
        uint64_t v;
    } counters[] = {
        {"spool_records", s->spool_records},
        {"spool_bytes", s->spool_bytes},
        {"dropped_positions", s->dropped_positions},
        {"dropped_counts", s->dropped_counts},
        {"next_seq", s->next_seq},
        {"acked_seq", s->acked_seq},
        {"counter_rejected", s->counter_rejected},
    };

    if (!wire_vid_ok(s->vehicle_id)) {
        wire_why(why, whylen, "malformed vehicle id in payload");
        return WIRE_ERR_VEHICLE;
    }
    if (topic_vid && strcmp(s->vehicle_id, topic_vid) != 0) {
        wire_why(why, whylen, "payload vehicle '%s' differs from topic's '%s'",
                 s->vehicle_id, topic_vid);
        return WIRE_ERR_VEHICLE;
    }
    if ((unsigned)s->state > WIRE_ONLINE) {
        wire_why(why, whylen, "unknown state %d", (int)s->state);
        return WIRE_ERR_INVALID;
    }
    /* Not the record window: a bus without a fix may report its 1970
     * system clock, and its health is still worth keeping. */
    if (s->t_ms < 0 || s->t_ms > WIRE_T_MAX_MS) {
        wire_why(why, whylen, "status time %lld ms outside 1970..9999",
                 (long long)s->t_ms);
        return WIRE_ERR_INVALID;
    }
    if (s->gps_mode > 3) {
        wire_why(why, whylen, "gps mode %u is not 0..3", s->gps_mode);
        return WIRE_ERR_INVALID;
    }
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        if (counters[i].v > (uint64_t)INT64_MAX) {
            wire_why(why, whylen, "%s %llu exceeds the database's bigint",
                     counters[i].name, (unsigned long long)counters[i].v);
            return WIRE_ERR_INVALID;
        }
    }
    if (!wire_utf8_ok(s->version)) {
        wire_why(why, whylen, "version is not printable UTF-8");
        return WIRE_ERR_INVALID;
    }
    if (!wire__ascii_ok(s->config_hash, "")) {
        wire_why(why, whylen, "config hash is not alphanumeric");
        return WIRE_ERR_INVALID;
    }
    if (!wire__ascii_ok(s->counter_state, "_-")) {
        wire_why(why, whylen, "counter state is not [A-Za-z0-9_-]");
        return WIRE_ERR_INVALID;
    }
    return WIRE_OK;
}

int wire_ack_validate(const struct wire_ack *a, const char *topic_vid,
                      char *why, size_t whylen)
{
    if (!wire_vid_ok(a->vehicle_id)) {
        wire_why(why, whylen, "malformed vehicle id in payload");
        return WIRE_ERR_VEHICLE;
    }
    if (topic_vid && strcmp(a->vehicle_id, topic_vid) != 0) {
        wire_why(why, whylen, "payload vehicle '%s' differs from topic's '%s'",
                 a->vehicle_id, topic_vid);
        return WIRE_ERR_VEHICLE;
    }
    /* Seqs are bigint in the database, so no honest ack is above this. */
    if (a->seq > WIRE_SEQ_MAX) {
        wire_why(why, whylen, "ack seq %llu is above the highest a bus may use",
                 (unsigned long long)a->seq);
        return WIRE_ERR_INVALID;
    }
    if (a->t_ms < 0 || a->t_ms > WIRE_T_MAX_MS) {
        wire_why(why, whylen, "ack time %lld ms outside 1970..9999",
                 (long long)a->t_ms);
        return WIRE_ERR_INVALID;
    }
    return WIRE_OK;
}

int wire_status_encode(const struct wire_status *s, uint8_t **out, size_t *len)
{
    Shuttle__V1__Status pb = SHUTTLE__V1__STATUS__INIT;

    pb.vehicle_id = (char *)s->vehicle_id;
    pb.state = s->state == WIRE_ONLINE ? SHUTTLE__V1__STATUS__STATE__ONLINE
                                       : SHUTTLE__V1__STATUS__STATE__OFFLINE;
    pb.has_t_ms = s->t_ms != 0;
    pb.t_ms = s->t_ms;
    pb.version = s->version[0] ? (char *)s->version : NULL;
    pb.config_hash = s->config_hash[0] ? (char *)s->config_hash : NULL;
    pb.counter_state = s->counter_state[0] ? (char *)s->counter_state : NULL;
    /* An offline Last Will is composed at connect time: only the state and
     * identity mean anything in it. */
    if (s->state == WIRE_ONLINE) {
        pb.has_spool_records = pb.has_spool_bytes = 1;
        pb.spool_records = s->spool_records;
        pb.spool_bytes = s->spool_bytes;
        pb.has_oldest_unacked_age_s = 1;
        pb.oldest_unacked_age_s = s->oldest_unacked_age_s;
        pb.has_gps_mode = pb.has_gps_connected = 1;
        pb.gps_mode = s->gps_mode;
        pb.gps_connected = s->gps_connected;
        pb.has_dropped_positions = pb.has_dropped_counts = 1;
        pb.dropped_positions = s->dropped_positions;
        pb.dropped_counts = s->dropped_counts;
        pb.has_next_seq = pb.has_acked_seq = 1;
        pb.next_seq = s->next_seq;
        pb.acked_seq = s->acked_seq;
        pb.has_counter_rejected = 1;
        pb.counter_rejected = s->counter_rejected;
        pb.has_acks_refused = pb.has_refused_at_source = 1;
        pb.acks_refused = s->acks_refused;
        pb.refused_at_source = s->refused_at_source;
    }
    return wire_pack(&pb.base, out, len);
}

int wire_status_decode(const uint8_t *buf, size_t len, struct wire_status *s)
{
    Shuttle__V1__Status *pb;

    memset(s, 0, sizeof *s);
    if (len == 0)
        return WIRE_ERR_EMPTY;
    if (len > WIRE_PAYLOAD_MAX)
        return WIRE_ERR_TOOBIG;
    pb = shuttle__v1__status__unpack(NULL, len, buf);
    if (!pb)
        return WIRE_ERR_DECODE;
    /* Too long must not be truncated into some other bus's id. */
    if (strlen(pb->vehicle_id) > WIRE_VID_MAX) {
        shuttle__v1__status__free_unpacked(pb, NULL);
        return WIRE_ERR_VEHICLE;
    }
    snprintf(s->vehicle_id, sizeof s->vehicle_id, "%s", pb->vehicle_id);
    s->state = pb->state == SHUTTLE__V1__STATUS__STATE__ONLINE ? WIRE_ONLINE
                                                               : WIRE_OFFLINE;
    s->t_ms = pb->t_ms;
    if (pb->version)
        wire__copy_text(s->version, sizeof s->version, pb->version);
    if (pb->config_hash)
        wire__copy_text(s->config_hash, sizeof s->config_hash, pb->config_hash);
    if (pb->counter_state)
        wire__copy_text(s->counter_state, sizeof s->counter_state,
                        pb->counter_state);
    s->spool_records = pb->spool_records;
    s->spool_bytes = pb->spool_bytes;
    s->oldest_unacked_age_s = pb->oldest_unacked_age_s;
    s->gps_mode = pb->gps_mode;
    s->gps_connected = pb->gps_connected;
    s->dropped_positions = pb->dropped_positions;
    s->dropped_counts = pb->dropped_counts;
    s->next_seq = pb->next_seq;
    s->acked_seq = pb->acked_seq;
    s->counter_rejected = pb->counter_rejected;
    s->acks_refused = pb->acks_refused;
    s->refused_at_source = pb->refused_at_source;
    shuttle__v1__status__free_unpacked(pb, NULL);
    return wire_vid_ok(s->vehicle_id) ? WIRE_OK : WIRE_ERR_VEHICLE;
}

int wire_ack_encode(const struct wire_ack *a, uint8_t **out, size_t *len)
{
    Shuttle__V1__Ack pb = SHUTTLE__V1__ACK__INIT;

    pb.vehicle_id = (char *)a->vehicle_id;
    pb.seq = a->seq;
    pb.has_t_ms = a->t_ms != 0;
    pb.t_ms = a->t_ms;
    return wire_pack(&pb.base, out, len);
}

int wire_ack_decode(const uint8_t *buf, size_t len, struct wire_ack *a)
{
    Shuttle__V1__Ack *pb;

    memset(a, 0, sizeof *a);
    if (len == 0)
        return WIRE_ERR_EMPTY;
    if (len > WIRE_PAYLOAD_MAX)
        return WIRE_ERR_TOOBIG;
    pb = shuttle__v1__ack__unpack(NULL, len, buf);
    if (!pb)
        return WIRE_ERR_DECODE;
    if (strlen(pb->vehicle_id) > WIRE_VID_MAX) {
        shuttle__v1__ack__free_unpacked(pb, NULL);
        return WIRE_ERR_VEHICLE;
    }
    snprintf(a->vehicle_id, sizeof a->vehicle_id, "%s", pb->vehicle_id);
    a->seq = pb->seq;
    a->t_ms = pb->t_ms;
    shuttle__v1__ack__free_unpacked(pb, NULL);
    return wire_vid_ok(a->vehicle_id) ? WIRE_OK : WIRE_ERR_VEHICLE;
}
