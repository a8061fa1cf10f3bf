/* Unit tests of proto/wire: round trips, sizes, hostile input, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* The receiver's clock in every test: 2026-01-01T00:00:00Z. */
#define NOW_MS 1767225600000LL
#define DAY_MS (24LL * 3600 * 1000)
#define VID "bus-17"

/* ---- helpers ---------------------------------------------------------- */

static struct wire_record make_position(uint64_t seq, int64_t t_ms,
                                        bool all_set)
{
    struct wire_record r;

    wire_position_init(&r);
    r.seq = seq;
    r.t_ms = t_ms;
    /* Digits past float precision, so a double/float mix-up would show. */
    r.u.pos.lat = 37.5452837261 + (double)seq * 1e-7;
    r.u.pos.lon = 126.6760115983 - (double)seq * 1e-7;
    r.u.pos.fix_mode = 3;
    if (all_set) {
        r.backlog = true;
        r.time_source = WIRE_TIME_CARRIED;
        r.u.pos.speed = 12.34;
        r.u.pos.track = 271.5;
        r.u.pos.alt = 41.7;
        r.u.pos.hdop = 0.9;
        r.u.pos.sats_used = 11;
    }
    return r;
}

static struct wire_record make_count(uint64_t seq, int64_t t_ms, bool all_set)
{
    struct wire_record r;

    wire_count_init(&r);
    r.seq = seq;
    r.t_ms = t_ms;
    r.u.count.door = 2;
    r.u.count.boarded = 7;
    r.u.count.alighted = 3;
    if (all_set) {
        r.time_source = WIRE_TIME_SYSTEM;
        r.u.count.door_open_ms = t_ms - 15000;
        r.u.count.door_close_ms = t_ms - 2000;
        r.u.count.load_after = 23;
        r.u.count.lat = 37.5401234567891;
        r.u.count.lon = 126.6712345678912;
        r.u.count.quality = WIRE_Q_LOAD_CLAMPED | WIRE_Q_NO_CLOSE;
    }
    return r;
}

/* Same value after a trip through a protobuf float. */
static void assert_float_equalish(double got, double want)
{
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    assert_false(isnan(got));
    assert_true(fabs(got - want) <= fabs(want) * FLT_EPSILON);
}

static void assert_record_equal(const struct wire_record *a,
                                const struct wire_record *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->t_ms, b->t_ms);
    assert_int_equal(a->backlog, b->backlog);
    assert_int_equal(a->time_source, b->time_source);
    assert_int_equal(a->kind, b->kind);
    if (a->kind == WIRE_POSITION) {
        const struct wire_position *p = &a->u.pos, *q = &b->u.pos;

        /* Doubles on the wire: bit-exact. */
        assert_true(p->lat == q->lat);
        assert_true(p->lon == q->lon);
        assert_float_equalish(p->speed, q->speed);
        assert_float_equalish(p->track, q->track);
        assert_float_equalish(p->alt, q->alt);
        assert_float_equalish(p->hdop, q->hdop);
        assert_int_equal(p->fix_mode, q->fix_mode);
        assert_int_equal(p->sats_used, q->sats_used);
    } else {
        const struct wire_count *c = &a->u.count, *d = &b->u.count;

        assert_int_equal(c->door, d->door);
        assert_int_equal(c->boarded, d->boarded);
        assert_int_equal(c->alighted, d->alighted);
        assert_int_equal(c->door_open_ms, d->door_open_ms);
        assert_int_equal(c->door_close_ms, d->door_close_ms);
        assert_int_equal(c->load_after, d->load_after);
        if (isnan(d->lat)) {
            assert_true(isnan(c->lat) && isnan(c->lon));
        } else {
            assert_true(c->lat == d->lat);
            assert_true(c->lon == d->lon);
        }
        assert_int_equal(c->quality, d->quality);
    }
}

/* A realistic batch: mostly positions a second apart, a count every tenth. */
static struct wire_batch make_batch(size_t n)
{
    struct wire_batch b;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", VID);
    b.oldest_held_seq = 4000;
    b.n = n;
    b.records = calloc(n ? n : 1, sizeof *b.records);
    assert_non_null(b.records);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = 4100 + i;
        int64_t t = NOW_MS - 60000 + (int64_t)i * 1000;

        if (i % 10 == 9)
            b.records[i] = make_count(seq, t, i % 20 == 19);
        else
            b.records[i] = make_position(seq, t, i % 3 != 0);
    }
    return b;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/*
 * Decode hostile bytes: either an error with a reason and an empty batch, or
 * a batch that validation accepts or rejects with a reason. Returns the
 * decode result.
 */
static int decode_any(const uint8_t *buf, size_t len)
{
    struct wire_batch b;
    char why[256];
    int rc, v;

    why[0] = '\0';
    rc = wire_batch_decode(buf, len, &b, why, sizeof why);
    if (rc != WIRE_OK) {
        assert_true(rc == WIRE_ERR_EMPTY || rc == WIRE_ERR_TOOBIG ||
                    rc == WIRE_ERR_DECODE || rc == WIRE_ERR_VEHICLE);
        assert_true(why[0] != '\0');
        assert_int_equal(b.n, 0);
        assert_null(b.records);
        assert_int_equal(b.vehicle_id[0], '\0');
        return rc;
    }
    assert_true(b.n <= WIRE_BATCH_MAX);
    assert_true(b.n == 0 || b.records != NULL);
    assert_true(strlen(b.vehicle_id) <= WIRE_VID_MAX);
    why[0] = '\0';
    v = wire_batch_validate(&b, VID, NOW_MS, NULL, why, sizeof why);
    if (v != WIRE_OK) {
        assert_true(v == WIRE_ERR_INVALID || v == WIRE_ERR_VEHICLE);
        assert_true(why[0] != '\0');
    }
    wire_batch_free(&b);
    return rc;
}

/* Same for one spooled record. */
static void record_decode_any(const uint8_t *buf, size_t len)
{
    struct wire_record r;
    char why[256];
    int rc = wire_record_decode(buf, len, &r);

    if (rc != WIRE_OK) {
        assert_true(rc == WIRE_ERR_EMPTY || rc == WIRE_ERR_DECODE);
        return;
    }
    assert_true(r.kind == WIRE_POSITION || r.kind == WIRE_COUNT);
    why[0] = '\0';
    if (wire_record_validate(&r, NOW_MS, NULL, why, sizeof why) != WIRE_OK)
        assert_true(why[0] != '\0');
}

/* ---- round trips -------------------------------------------------------- */

static void test_batch_round_trip(void **state)
{
    struct wire_batch b, d;
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[256] = "";

    b = make_batch(4);
    b.records[0] = make_position(10, NOW_MS - 4000, true);
    b.records[1] = make_position(11, NOW_MS - 3000, false);
    b.records[2] = make_count(12, NOW_MS - 2000, true);
    b.records[3] = make_count(13, NOW_MS - 1000, false);
    b.oldest_held_seq = 9;

    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_true(len > 0);
    assert_int_equal(wire_batch_decode(buf, len, &d, why, sizeof why), WIRE_OK);
    assert_string_equal(d.vehicle_id, VID);
    assert_int_equal(d.oldest_held_seq, 9);
    assert_int_equal(d.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_record_equal(&d.records[i], &b.records[i]);

    /* Unset optionals come back as "unknown", not as zero. */
    assert_true(isnan(d.records[1].u.pos.speed));
    assert_true(isnan(d.records[1].u.pos.track));
    assert_true(isnan(d.records[1].u.pos.alt));
    assert_true(isnan(d.records[1].u.pos.hdop));
    assert_int_equal(d.records[1].u.pos.sats_used, -1);
    assert_false(d.records[1].backlog);
    assert_int_equal(d.records[1].time_source, WIRE_TIME_GPS);
    assert_int_equal(d.records[3].u.count.load_after, -1);
    assert_true(isnan(d.records[3].u.count.lat));
    assert_true(isnan(d.records[3].u.count.lon));
    assert_int_equal(d.records[3].u.count.door_open_ms, 0);
    assert_int_equal(d.records[3].u.count.door_close_ms, 0);
    /* Set optionals come back set. */
    assert_true(d.records[0].backlog);
    assert_int_equal(d.records[0].time_source, WIRE_TIME_CARRIED);
    assert_int_equal(d.records[0].u.pos.sats_used, 11);
    assert_int_equal(d.records[2].u.count.quality,
                     WIRE_Q_LOAD_CLAMPED | WIRE_Q_NO_CLOSE);

    assert_int_equal(
        wire_batch_validate(&d, VID, NOW_MS, NULL, why, sizeof why), WIRE_OK);
    wire_batch_free(&d);
    assert_null(d.records);
    assert_int_equal(d.n, 0);
    free(buf);
    free(b.records);
}

static void test_batch_round_trip_no_oldest_held(void **state)
{
    struct wire_batch b = make_batch(1), d;
    uint8_t *buf = NULL;
    size_t len = 0;

    b.oldest_held_seq = 0;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(wire_batch_decode(buf, len, &d, NULL, 0), WIRE_OK);
    assert_int_equal(d.oldest_held_seq, 0);
    assert_int_equal(d.n, 1);
    assert_record_equal(&d.records[0], &b.records[0]);
    wire_batch_free(&d);
    free(buf);
    free(b.records);
}

static void test_record_round_trip(void **state)
{
    struct wire_record in[4], out;
    uint8_t *buf;
    size_t len;

    in[0] = make_position(1, NOW_MS, true);
    in[1] = make_position(2, NOW_MS, false);
    in[2] = make_count(3, NOW_MS, true);
    in[3] = make_count(4, NOW_MS, false);
    /* Extremes of the integer fields survive too. */
    in[0].seq = (uint64_t)INT64_MAX;
    in[1].t_ms = -1;
    in[2].u.count.door_open_ms = INT64_MIN;
    in[2].u.count.load_after = INT32_MAX;
    for (size_t i = 0; i < 4; i++) {
        buf = NULL;
        assert_int_equal(wire_record_encode(&in[i], &buf, &len), WIRE_OK);
        assert_true(len > 0);
        memset(&out, 0xa5, sizeof out);
        assert_int_equal(wire_record_decode(buf, len, &out), WIRE_OK);
        assert_record_equal(&out, &in[i]);
        free(buf);
    }
    assert_int_equal(wire_record_decode((const uint8_t *)"", 0, &out),
                     WIRE_ERR_EMPTY);
}

/* An enum value the .proto does not know decodes, and validation refuses
 * it rather than trusting the cast. */
static void test_unknown_time_source(void **state)
{
    struct wire_record in = make_position(8, NOW_MS, false), out;
    uint8_t *buf, *grown;
    size_t len;
    char why[256] = "";

    assert_int_equal(wire_record_encode(&in, &buf, &len), WIRE_OK);
    grown = realloc(buf, len + 2);
    assert_non_null(grown);
    buf = grown;
    buf[len++] = 0x20; /* field 4, varint: time_source = 99 */
    buf[len++] = 99;
    assert_int_equal(wire_record_decode(buf, len, &out), WIRE_OK);
    free(buf);
    assert_int_equal(out.time_source, 99);
    assert_int_equal(wire_record_validate(&out, NOW_MS, NULL, why, sizeof why),
                     WIRE_ERR_INVALID);
    assert_non_null(strstr(why, "time source 99"));
}

static void test_status_round_trip(void **state)
{
    struct wire_status s, d;
    uint8_t *buf;
    size_t len;

    memset(&s, 0, sizeof s);
    snprintf(s.vehicle_id, sizeof s.vehicle_id, "%s", VID);
    s.state = WIRE_ONLINE;
    s.t_ms = NOW_MS;
    snprintf(s.version, sizeof s.version, "0.1.0");
    snprintf(s.config_hash, sizeof s.config_hash, "0123456789abcdef");
    s.spool_records = 1234;
    s.spool_bytes = 98765;
    s.oldest_unacked_age_s = 42;
    s.gps_mode = 3;
    s.gps_connected = true;
    snprintf(s.counter_state, sizeof s.counter_state, "silent");
    s.dropped_positions = 5;
    s.dropped_counts = 6;
    s.next_seq = 5000;
    s.acked_seq = 4999;
    s.counter_rejected = 7;

    assert_int_equal(wire_status_encode(&s, &buf, &len), WIRE_OK);
    assert_int_equal(wire_status_decode(buf, len, &d), WIRE_OK);
    free(buf);
    assert_string_equal(d.vehicle_id, VID);
    assert_int_equal(d.state, WIRE_ONLINE);
    assert_int_equal(d.t_ms, NOW_MS);
    assert_string_equal(d.version, "0.1.0");
    assert_string_equal(d.config_hash, "0123456789abcdef");
    assert_int_equal(d.spool_records, 1234);
    assert_int_equal(d.spool_bytes, 98765);
    assert_int_equal(d.oldest_unacked_age_s, 42);
    assert_int_equal(d.gps_mode, 3);
    assert_true(d.gps_connected);
    assert_string_equal(d.counter_state, "silent");
    assert_int_equal(d.dropped_positions, 5);
    assert_int_equal(d.dropped_counts, 6);
    assert_int_equal(d.next_seq, 5000);
    assert_int_equal(d.acked_seq, 4999);
    assert_int_equal(d.counter_rejected, 7);

    /* The offline Last Will carries identity and state, no counters. */
    s.state = WIRE_OFFLINE;
    assert_int_equal(wire_status_encode(&s, &buf, &len), WIRE_OK);
    assert_int_equal(wire_status_decode(buf, len, &d), WIRE_OK);
    free(buf);
    assert_string_equal(d.vehicle_id, VID);
    assert_int_equal(d.state, WIRE_OFFLINE);
    assert_int_equal(d.t_ms, NOW_MS);
    assert_string_equal(d.version, "0.1.0");
    assert_int_equal(d.spool_records, 0);
    assert_int_equal(d.next_seq, 0);
    assert_false(d.gps_connected);

    assert_int_equal(wire_status_decode((const uint8_t *)"", 0, &d),
                     WIRE_ERR_EMPTY);
    assert_int_equal(wire_status_decode((const uint8_t *)"\xff\xff", 2, &d),
                     WIRE_ERR_DECODE);
}

static void test_ack_round_trip(void **state)
{
    struct wire_ack a, d;
    uint8_t *buf;
    size_t len;

    memset(&a, 0, sizeof a);
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "%s", VID);
    a.seq = 0xfedcba9876ULL;
    a.t_ms = NOW_MS + 17;
    assert_int_equal(wire_ack_encode(&a, &buf, &len), WIRE_OK);
    assert_int_equal(wire_ack_decode(buf, len, &d), WIRE_OK);
    free(buf);
    assert_string_equal(d.vehicle_id, VID);
    assert_int_equal(d.seq, 0xfedcba9876ULL);
    assert_int_equal(d.t_ms, NOW_MS + 17);

    /* A malformed vehicle id is refused after decoding. */
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "bus/17");
    assert_int_equal(wire_ack_encode(&a, &buf, &len), WIRE_OK);
    assert_int_equal(wire_ack_decode(buf, len, &d), WIRE_ERR_VEHICLE);
    free(buf);
    assert_int_equal(wire_ack_decode((const uint8_t *)"", 0, &d),
                     WIRE_ERR_EMPTY);
}

/* A status or ack whose vehicle id is too long must not be truncated into
 * some other, valid id. */
static void test_status_ack_long_vid(void **state)
{
    uint8_t buf[64];
    size_t n = 0;
    struct wire_ack a;
    struct wire_status s;

    /* Ack { vehicle_id = 33 x 'a', seq = 1 } */
    buf[n++] = 0x0a;
    buf[n++] = 33;
    memset(buf + n, 'a', 33);
    n += 33;
    buf[n++] = 0x10;
    buf[n++] = 0x01;
    assert_int_equal(wire_ack_decode(buf, n, &a), WIRE_ERR_VEHICLE);
    /* Status { vehicle_id = 33 x 'a', state = ONLINE }: same bytes. */
    assert_int_equal(wire_status_decode(buf, n, &s), WIRE_ERR_VEHICLE);
    /* 32 characters is fine. */
    buf[1] = 32;
    memmove(buf + 2 + 32, buf + 2 + 33, 2);
    assert_int_equal(wire_ack_decode(buf, n - 1, &a), WIRE_OK);
    assert_int_equal(strlen(a.vehicle_id), 32);
    assert_int_equal(wire_status_decode(buf, n - 1, &s), WIRE_OK);
    assert_int_equal(s.state, WIRE_ONLINE);
}

/* ---- sizes -------------------------------------------------------------- */

static void test_record_size_sums_to_batch(void **state)
{
    struct wire_batch b = make_batch(50);
    uint8_t *buf, *rbuf;
    size_t len, rlen, sum;

    /* Integer extremes make the longest varints. */
    b.records[3].seq = UINT64_MAX;
    b.records[3].t_ms = INT64_MIN;
    b.records[9].u.count.door_open_ms = -1;
    b.records[9].u.count.quality = UINT32_MAX;
    b.records[9].u.count.load_after = INT32_MAX;

    for (int with_oldest = 0; with_oldest < 2; with_oldest++) {
        b.oldest_held_seq = with_oldest ? 123456789012ULL : 0;
        sum = 2 + strlen(b.vehicle_id); /* field 1: tag, length, bytes */
        if (b.oldest_held_seq)
            sum += 1 + varint_len(b.oldest_held_seq);
        for (size_t i = 0; i < b.n; i++) {
            size_t one = wire_record_size(&b.records[i]);

            /* Each is the spooled form plus its tag and length prefix. */
            assert_int_equal(wire_record_encode(&b.records[i], &rbuf, &rlen),
                             WIRE_OK);
            assert_int_equal(one, 1 + varint_len(rlen) + rlen);
            free(rbuf);
            sum += one;
        }
        assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
        assert_int_equal(sum, len);
        free(buf);
    }
    free(b.records);
}

/* ---- hostile input ------------------------------------------------------ */

static void test_truncations_and_bit_flips(void **state)
{
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    struct wire_batch b = make_batch(50);
    uint8_t *buf, *copy, *rbuf;
    size_t len, rlen, errors = 0, flips_ok = 0;

    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    assert_int_equal(decode_any(buf, len), WIRE_OK);

    /* Every prefix, each in its own allocation so ASan sees any overread. */
    for (size_t cut = 0; cut < len; cut++) {
        copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, buf, cut);
        if (decode_any(copy, cut) != WIRE_OK)
            errors++;
        free(copy);
    }
    /* Most cuts land inside a field. */
    assert_true(errors > len / 2);

    copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, buf, len);
            copy[i] ^= masks[m];
            if (decode_any(copy, len) == WIRE_OK)
                flips_ok++;
        }
    }
    free(copy);
    /* Both outcomes happen: a flip in a coordinate still parses, a flip in
     * a length or tag does not. */
    assert_true(flips_ok > 0 && flips_ok < 3 * len);

    /* The spooled single-record form, the same way. */
    assert_int_equal(wire_record_encode(&b.records[9], &rbuf, &rlen), WIRE_OK);
    copy = malloc(rlen);
    assert_non_null(copy);
    for (size_t cut = 0; cut < rlen; cut++)
        record_decode_any(rbuf, cut);
    for (size_t i = 0; i < rlen; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, rbuf, rlen);
            copy[i] ^= masks[m];
            record_decode_any(copy, rlen);
        }
    }
    free(copy);
    free(rbuf);
    free(buf);
    free(b.records);
}

static void test_random_bytes(void **state)
{
    const size_t total = 1024 * 1024;
    uint8_t *rnd = malloc(total);
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* fixed seed: xorshift64 */

    assert_non_null(rnd);
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rnd[i] = (uint8_t)(x >> 32);
    }
    /* The whole megabyte is over the payload limit. */
    assert_int_equal(decode_any(rnd, total), WIRE_ERR_TOOBIG);
    /* The largest payload allowed, then many short windows. */
    decode_any(rnd, WIRE_PAYLOAD_MAX);
    for (size_t off = 0, n = 1; off + n <= total; off += n, n = n % 97 + 1)
        decode_any(rnd + off, n);
    for (size_t off = 0; off + 64 <= total; off += 4096)
        record_decode_any(rnd + off, 64);
    free(rnd);
}

static void test_empty_payload(void **state)
{
    struct wire_batch b;
    char why[64] = "";

    assert_int_equal(
        wire_batch_decode((const uint8_t *)"", 0, &b, why, sizeof why),
        WIRE_ERR_EMPTY);
    assert_true(why[0] != '\0');
    assert_int_equal(b.n, 0);
    assert_null(b.records);
    /* why may be NULL. */
    assert_int_equal(wire_batch_decode((const uint8_t *)"", 0, &b, NULL, 0),
                     WIRE_ERR_EMPTY);
}

/* Batch header + the bytes of `n` copies of one record field, built by hand
 * because wire_batch_encode refuses more than WIRE_BATCH_MAX. */
static uint8_t *concat_batch(const struct wire_record *r, size_t n, size_t *len)
{
    uint8_t *rbuf, *out, *p;
    size_t rlen, one;

    assert_int_equal(wire_record_encode(r, &rbuf, &rlen), WIRE_OK);
    one = 1 + varint_len(rlen) + rlen;
    out = malloc(2 + strlen(VID) + n * one);
    assert_non_null(out);
    p = out;
    *p++ = 0x0a; /* field 1, length-delimited */
    *p++ = (uint8_t)strlen(VID);
    memcpy(p, VID, strlen(VID));
    p += strlen(VID);
    for (size_t i = 0; i < n; i++) {
        *p++ = 0x12; /* field 2, length-delimited */
        p += put_varint(p, rlen);
        memcpy(p, rbuf, rlen);
        p += rlen;
    }
    free(rbuf);
    *len = (size_t)(p - out);
    return out;
}

static void test_batch_over_max(void **state)
{
    struct wire_record r = make_position(77, NOW_MS - 1000, true);
    struct wire_batch b, big;
    uint8_t *manual, *enc;
    size_t mlen, elen;
    char why[256] = "";

    /* The hand-made form of WIRE_BATCH_MAX records is what encode makes. */
    big = make_batch(WIRE_BATCH_MAX);
    big.oldest_held_seq = 0;
    for (size_t i = 0; i < big.n; i++)
        big.records[i] = r;
    assert_int_equal(wire_batch_encode(&big, &enc, &elen), WIRE_OK);
    manual = concat_batch(&r, WIRE_BATCH_MAX, &mlen);
    assert_int_equal(mlen, elen);
    assert_memory_equal(manual, enc, elen);
    assert_int_equal(wire_batch_decode(manual, mlen, &b, why, sizeof why),
                     WIRE_OK);
    assert_int_equal(b.n, WIRE_BATCH_MAX);
    wire_batch_free(&b);
    free(manual);
    free(enc);

    /* One more is refused both ways. */
    free(big.records);
    big = make_batch(WIRE_BATCH_MAX + 1);
    assert_int_equal(wire_batch_encode(&big, &enc, &elen), WIRE_ERR_TOOBIG);
    free(big.records);
    manual = concat_batch(&r, WIRE_BATCH_MAX + 1, &mlen);
    assert_true(mlen <= WIRE_PAYLOAD_MAX);
    assert_int_equal(wire_batch_decode(manual, mlen, &b, why, sizeof why),
                     WIRE_ERR_TOOBIG);
    assert_non_null(strstr(why, "2001"));
    assert_int_equal(b.n, 0);
    assert_null(b.records);
    free(manual);
}

static void test_huge_fields(void **state)
{
    struct wire_record r = make_position(5, NOW_MS, false);
    struct wire_batch b;
    uint8_t *buf, *p;
    size_t len, n;
    char why[256] = "";

    /* As many small records as fit in the largest payload: too many. */
    n = (WIRE_PAYLOAD_MAX - (2 + strlen(VID))) / wire_record_size(&r);
    assert_true(n > WIRE_BATCH_MAX);
    buf = concat_batch(&r, n, &len);
    assert_true(len <= WIRE_PAYLOAD_MAX);
    assert_true(len + wire_record_size(&r) > WIRE_PAYLOAD_MAX);
    assert_int_equal(decode_any(buf, len), WIRE_ERR_TOOBIG);
    free(buf);

    /* A record field claiming 2^62 bytes. */
    buf = malloc(64);
    assert_non_null(buf);
    p = buf;
    *p++ = 0x0a;
    *p++ = 3;
    memcpy(p, "b17", 3);
    p += 3;
    *p++ = 0x12;
    p += put_varint(p, 1ULL << 62);
    memset(p, 0, 8);
    p += 8;
    assert_int_equal(decode_any(buf, (size_t)(p - buf)), WIRE_ERR_DECODE);
    free(buf);

    /* A 200 kB vehicle id, then one good record. */
    n = 200 * 1024;
    buf = malloc(n + 256);
    assert_non_null(buf);
    p = buf;
    *p++ = 0x0a;
    p += put_varint(p, n);
    memset(p, 'a', n);
    p += n;
    {
        uint8_t *rbuf;
        size_t rlen;

        assert_int_equal(wire_record_encode(&r, &rbuf, &rlen), WIRE_OK);
        *p++ = 0x12;
        p += put_varint(p, rlen);
        memcpy(p, rbuf, rlen);
        p += rlen;
        free(rbuf);
    }
    assert_int_equal(
        wire_batch_decode(buf, (size_t)(p - buf), &b, why, sizeof why),
        WIRE_ERR_VEHICLE);
    assert_null(b.records);
    free(buf);

    /* One byte over the payload limit, whatever it holds. */
    buf = calloc(1, WIRE_PAYLOAD_MAX + 1);
    assert_non_null(buf);
    assert_int_equal(
        wire_batch_decode(buf, WIRE_PAYLOAD_MAX + 1, &b, why, sizeof why),
        WIRE_ERR_TOOBIG);
    assert_int_equal(wire_record_decode(buf, WIRE_PAYLOAD_MAX + 1, &r),
                     WIRE_ERR_TOOBIG);
    free(buf);
}

static void test_record_without_body(void **state)
{
    /* Record { seq = 300, t_ms = 1 }: required fields, no oneof. */
    static const uint8_t rec[] = {0x08, 0xac, 0x02, 0x10, 0x01};
    struct wire_record good = make_position(299, NOW_MS, true), r;
    struct wire_batch b;
    uint8_t *buf, *grown;
    size_t len;
    char why[256] = "";

    assert_int_equal(wire_record_decode(rec, sizeof rec, &r), WIRE_ERR_DECODE);

    /* After a good record, so the decoder has something to clean up. */
    buf = concat_batch(&good, 3, &len);
    grown = realloc(buf, len + 2 + sizeof rec);
    assert_non_null(grown);
    buf = grown;
    buf[len++] = 0x12;
    buf[len++] = sizeof rec;
    memcpy(buf + len, rec, sizeof rec);
    len += sizeof rec;
    assert_int_equal(wire_batch_decode(buf, len, &b, why, sizeof why),
                     WIRE_ERR_DECODE);
    assert_non_null(strstr(why, "seq 300"));
    assert_non_null(strstr(why, "no body"));
    assert_int_equal(b.n, 0);
    assert_null(b.records);
    assert_string_equal(b.vehicle_id, "");
    free(buf);

    /* An empty record misses its required fields. */
    assert_int_equal(decode_any((const uint8_t *)"\x0a\x01x\x12\x00", 5),
                     WIRE_ERR_DECODE);
}

static void test_vehicle_id_33_chars(void **state)
{
    struct wire_record r = make_position(1, NOW_MS, false);
    struct wire_batch b;
    uint8_t *buf, *rbuf;
    size_t rlen, n;
    char why[256] = "";

    assert_int_equal(wire_record_encode(&r, &rbuf, &rlen), WIRE_OK);
    buf = malloc(64 + rlen);
    assert_non_null(buf);
    for (size_t vlen = 32; vlen <= 33; vlen++) {
        n = 0;
        buf[n++] = 0x0a;
        buf[n++] = (uint8_t)vlen;
        memset(buf + n, 'v', vlen);
        n += vlen;
        buf[n++] = 0x12;
        buf[n++] = (uint8_t)rlen;
        memcpy(buf + n, rbuf, rlen);
        n += rlen;
        why[0] = '\0';
        if (vlen == 32) {
            assert_int_equal(wire_batch_decode(buf, n, &b, why, sizeof why),
                             WIRE_OK);
            assert_int_equal(strlen(b.vehicle_id), 32);
            assert_int_equal(b.n, 1);
            wire_batch_free(&b);
        } else {
            assert_int_equal(wire_batch_decode(buf, n, &b, why, sizeof why),
                             WIRE_ERR_VEHICLE);
            assert_true(why[0] != '\0');
            assert_null(b.records);
        }
    }
    free(buf);
    free(rbuf);
}

/* ---- validation --------------------------------------------------------- */

/* Validate one record, expect WIRE_ERR_INVALID and `needle` in the reason. */
static void expect_invalid(const struct wire_record *r, const char *needle)
{
    char why[256] = "";

    assert_int_equal(wire_record_validate(r, NOW_MS, NULL, why, sizeof why),
                     WIRE_ERR_INVALID);
    if (!strstr(why, needle))
        fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
}

static void expect_valid(const struct wire_record *r)
{
    char why[256] = "";

    if (wire_record_validate(r, NOW_MS, NULL, why, sizeof why) != WIRE_OK)
        fail_msg("valid record refused: %s", why);
}

static void test_validate_position(void **state)
{
    struct wire_record r, ok = make_position(42, NOW_MS - 1000, true);

    expect_valid(&ok);
    r = make_position(42, NOW_MS, false);
    expect_valid(&r);

    r = ok, r.u.pos.lat = 91;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lat = -91;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lon = 181;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lon = -181;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lat = 0, r.u.pos.lon = 0;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lat = NAN;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lon = NAN;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lat = INFINITY;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.pos.lat = 90, r.u.pos.lon = -180; /* the edges are places */
    expect_valid(&r);
    r = ok, r.u.pos.lat = 0, r.u.pos.lon = 0.0001;
    expect_valid(&r);

    r = ok, r.u.pos.fix_mode = 1;
    expect_invalid(&r, "fix mode 1");
    r = ok, r.u.pos.fix_mode = 0;
    expect_invalid(&r, "fix mode 0");
    r = ok, r.u.pos.fix_mode = 2;
    expect_valid(&r);

    r = ok, r.u.pos.speed = -1;
    expect_invalid(&r, "out of range");
    r = ok, r.u.pos.track = 361;
    expect_invalid(&r, "out of range");
    r = ok, r.u.pos.sats_used = 256;
    expect_invalid(&r, "out of range");
}

static void test_validate_time_and_seq(void **state)
{
    struct wire_record r, ok = make_position(42, NOW_MS, false);

    r = ok, r.t_ms = NOW_MS + 2 * DAY_MS;
    expect_invalid(&r, "future");
    r = ok, r.t_ms = NOW_MS - 500 * DAY_MS;
    expect_invalid(&r, "past");
    r = ok, r.t_ms = INT64_MAX;
    expect_invalid(&r, "future");
    r = ok, r.t_ms = INT64_MIN;
    expect_invalid(&r, "past");
    r = ok, r.t_ms = 0;
    expect_invalid(&r, "past");
    /* The window's edges are inside it. */
    r = ok, r.t_ms = NOW_MS + DAY_MS;
    expect_valid(&r);
    r = ok, r.t_ms = NOW_MS - 400 * DAY_MS;
    expect_valid(&r);
    r = ok, r.t_ms = NOW_MS - 399 * DAY_MS;
    expect_valid(&r);

    r = ok, r.seq = 0;
    expect_invalid(&r, "seq 0");
    r = ok, r.seq = (uint64_t)INT64_MAX + 1;
    expect_invalid(&r, "above the highest");
    r = ok, r.seq = (uint64_t)INT64_MAX; /* no next seq in the database */
    expect_invalid(&r, "above the highest");
    r = ok, r.seq = WIRE_SEQ_MAX;
    expect_valid(&r);
    r = ok, r.seq = 1;
    expect_valid(&r);

    r = ok, r.time_source = (enum wire_time_source)7;
    expect_invalid(&r, "time source");
}

static void test_validate_count(void **state)
{
    struct wire_record r, ok = make_count(42, NOW_MS - 1000, true);

    expect_valid(&ok);
    r = make_count(42, NOW_MS, false);
    expect_valid(&r);

    r = ok, r.u.count.door = 0;
    expect_invalid(&r, "door 0");
    r = ok, r.u.count.door = 9;
    expect_invalid(&r, "door 9");
    r = ok, r.u.count.door = 1;
    expect_valid(&r);
    r = ok, r.u.count.door = WIRE_DOOR_MAX;
    expect_valid(&r);

    r = ok, r.u.count.boarded = 201;
    expect_invalid(&r, "201 in");
    r = ok, r.u.count.alighted = 201;
    expect_invalid(&r, "201 out");
    r = ok, r.u.count.load_after = 256;
    expect_invalid(&r, "load 256");
    r = ok, r.u.count.boarded = WIRE_COUNT_MAX;
    r.u.count.alighted = WIRE_COUNT_MAX;
    r.u.count.load_after = WIRE_LOAD_MAX;
    expect_valid(&r);

    r = ok, r.u.count.lat = 91;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.count.lon = NAN;
    expect_invalid(&r, "coordinates");
    r = ok, r.u.count.lat = 0, r.u.count.lon = 0;
    expect_invalid(&r, "coordinates");

    r = ok, r.u.count.door_close_ms = r.u.count.door_open_ms - 1;
    expect_invalid(&r, "closed before");
    r = ok, r.u.count.quality = 16;
    expect_invalid(&r, "quality");
    r = ok, r.kind = (enum wire_kind)0;
    expect_invalid(&r, "kind");
}

static void test_validate_batch(void **state)
{
    struct wire_batch b = make_batch(20);
    char why[256] = "";
    struct wire_record keep;

    assert_int_equal(
        wire_batch_validate(&b, VID, NOW_MS, NULL, why, sizeof why), WIRE_OK);
    /* No topic vehicle to compare with: payload alone decides. */
    assert_int_equal(
        wire_batch_validate(&b, NULL, NOW_MS, NULL, why, sizeof why), WIRE_OK);

    assert_int_equal(
        wire_batch_validate(&b, "bus-18", NOW_MS, NULL, why, sizeof why),
        WIRE_ERR_VEHICLE);
    assert_non_null(strstr(why, "differs"));
    assert_non_null(strstr(why, "bus-18"));

    snprintf(b.vehicle_id, sizeof b.vehicle_id, "bus 17");
    assert_int_equal(
        wire_batch_validate(&b, NULL, NOW_MS, NULL, why, sizeof why),
        WIRE_ERR_VEHICLE);
    b.vehicle_id[0] = '\0';
    assert_int_equal(
        wire_batch_validate(&b, NULL, NOW_MS, NULL, why, sizeof why),
        WIRE_ERR_VEHICLE);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", VID);

    /* One bad record, the last, spoils the batch. */
    keep = b.records[19];
    b.records[19].seq = 0;
    why[0] = '\0';
    assert_int_equal(
        wire_batch_validate(&b, VID, NOW_MS, NULL, why, sizeof why),
        WIRE_ERR_INVALID);
    assert_non_null(strstr(why, "seq 0"));
    b.records[19] = keep;

    b.n = 0;
    assert_int_equal(
        wire_batch_validate(&b, VID, NOW_MS, NULL, why, sizeof why),
        WIRE_ERR_INVALID);
    assert_non_null(strstr(why, "no records"));
    free(b.records);
}

/* Door times are times: the same window as t, not only in order. */
static void test_validate_door_times(void **state)
{
    struct wire_record r, ok = make_count(42, NOW_MS - 1000, true);
    const int64_t bad[] = {1,
                           NOW_MS - 401 * DAY_MS,
                           NOW_MS + 2 * DAY_MS,
                           10000000000000000LL,
                           -4000000000000000000LL,
                           INT64_MIN,
                           INT64_MAX};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = ok, r.u.count.door_open_ms = bad[i];
        if (bad[i] > r.u.count.door_close_ms)
            r.u.count.door_close_ms = 0; /* not "closed before" */
        expect_invalid(&r, "door time");
        r = ok, r.u.count.door_close_ms = bad[i];
        if (bad[i] < r.u.count.door_open_ms)
            r.u.count.door_open_ms = 0;
        expect_invalid(&r, "door time");
    }
    /* Only one known, the other 0 (unknown): fine. */
    r = ok, r.u.count.door_open_ms = 0;
    expect_valid(&r);
    r = ok, r.u.count.door_close_ms = 0;
    expect_valid(&r);
}

/* Times that would overflow a naive now - past: refused, no UB. */
static void test_validate_time_extremes(void **state)
{
    struct wire_record r = make_position(7, NOW_MS, false);
    struct wire_window huge = {INT64_MAX, INT64_MAX};
    char why[256];

    r.t_ms = INT64_MIN;
    expect_invalid(&r, "too far in the past");
    r.t_ms = 10000000000000000LL;
    expect_invalid(&r, "future");
    r.t_ms = INT64_MIN;
    assert_int_equal(wire_record_validate(&r, NOW_MS, &huge, why, sizeof why),
                     WIRE_ERR_INVALID);
    r.t_ms = INT64_MAX;
    assert_int_equal(wire_record_validate(&r, NOW_MS, &huge, why, sizeof why),
                     WIRE_ERR_INVALID);
    r.t_ms = 1; /* 1970, inside a huge window: still a valid time */
    assert_int_equal(wire_record_validate(&r, NOW_MS, &huge, why, sizeof why),
                     WIRE_OK);
}

static struct wire_status good_status(void)
{
    struct wire_status s;

    memset(&s, 0, sizeof s);
    snprintf(s.vehicle_id, sizeof s.vehicle_id, "%s", VID);
    s.state = WIRE_ONLINE;
    s.t_ms = NOW_MS;
    snprintf(s.version, sizeof s.version, "0.1.0-\xc3\xa9");
    snprintf(s.config_hash, sizeof s.config_hash, "0123456789abcdef");
    snprintf(s.counter_state, sizeof s.counter_state, "silent");
    s.gps_mode = 3;
    s.next_seq = 5000;
    s.acked_seq = 4999;
    return s;
}

static void expect_status(const struct wire_status *s, int want,
                          const char *needle)
{
    char why[256] = "";

    assert_int_equal(wire_status_validate(s, VID, why, sizeof why), want);
    if (needle && !strstr(why, needle))
        fail_msg("reason '%s' lacks '%s'", why, needle);
}

static void test_validate_status(void **state)
{
    struct wire_status s = good_status(), ok = good_status();
    uint64_t *counters[] = {&s.spool_records,     &s.spool_bytes,
                            &s.dropped_positions, &s.dropped_counts,
                            &s.next_seq,          &s.acked_seq,
                            &s.counter_rejected};

    expect_status(&ok, WIRE_OK, NULL);
    s = ok, s.t_ms = 0; /* unknown */
    expect_status(&s, WIRE_OK, NULL);
    s = ok, s.t_ms = 1000; /* a bus without a fix and without an RTC */
    expect_status(&s, WIRE_OK, NULL);
    s = ok, s.t_ms = 10000000000000000LL;
    expect_status(&s, WIRE_ERR_INVALID, "time");
    s = ok, s.t_ms = -1;
    expect_status(&s, WIRE_ERR_INVALID, "time");
    s = ok, s.t_ms = INT64_MIN;
    expect_status(&s, WIRE_ERR_INVALID, "time");
    s = ok, s.gps_mode = 4;
    expect_status(&s, WIRE_ERR_INVALID, "gps mode");
    s = ok, s.gps_mode = 40000;
    expect_status(&s, WIRE_ERR_INVALID, "gps mode");
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        s = ok;
        *counters[i] = (uint64_t)INT64_MAX;
        expect_status(&s, WIRE_OK, NULL);
        *counters[i] = (uint64_t)INT64_MAX + 1;
        expect_status(&s, WIRE_ERR_INVALID, "bigint");
        *counters[i] = UINT64_MAX;
        expect_status(&s, WIRE_ERR_INVALID, "bigint");
    }
    s = ok, snprintf(s.version, sizeof s.version, "1.0\xff");
    expect_status(&s, WIRE_ERR_INVALID, "version");
    s = ok, snprintf(s.version, sizeof s.version, "1.0\n");
    expect_status(&s, WIRE_ERR_INVALID, "version");
    s = ok, snprintf(s.config_hash, sizeof s.config_hash, "abc\xc3\xa9");
    expect_status(&s, WIRE_ERR_INVALID, "config hash");
    s = ok, snprintf(s.counter_state, sizeof s.counter_state, "ok\x80");
    expect_status(&s, WIRE_ERR_INVALID, "counter state");
    s = ok, snprintf(s.vehicle_id, sizeof s.vehicle_id, "bus-18");
    expect_status(&s, WIRE_ERR_VEHICLE, "differs");
    s = ok, snprintf(s.vehicle_id, sizeof s.vehicle_id, "bus 17");
    expect_status(&s, WIRE_ERR_VEHICLE, NULL);
}

/* A long multi-byte version is cut at a character, not inside one. */
static void test_status_decode_cuts_at_character(void **state)
{
    /* Status { vehicle_id "bus-17", state ONLINE, version 19 x U+00E9 }
     * by hand: the encoder cannot send more than its 31-byte field. */
    uint8_t msg[2 + 6 + 2 + 2 + 38];
    struct wire_status d;
    size_t n = 0;

    msg[n++] = 0x0a;
    msg[n++] = 6;
    memcpy(msg + n, VID, 6);
    n += 6;
    msg[n++] = 0x10;
    msg[n++] = 1;
    msg[n++] = 0x22;
    msg[n++] = 38;
    for (int i = 0; i < 19; i++, n += 2)
        memcpy(msg + n, "\xc3\xa9", 2);
    assert_int_equal(n, sizeof msg);
    assert_int_equal(wire_status_decode(msg, n, &d), WIRE_OK);
    /* 31 bytes would split the 16th character: 15 are kept. */
    assert_int_equal(strlen(d.version), 30);
    assert_true(wire_utf8_ok(d.version));
    assert_int_equal(wire_status_validate(&d, VID, NULL, 0), WIRE_OK);
}

static void test_validate_ack(void **state)
{
    struct wire_ack a;
    char why[256] = "";

    memset(&a, 0, sizeof a);
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "%s", VID);
    a.seq = 77;
    a.t_ms = NOW_MS;
    assert_int_equal(wire_ack_validate(&a, VID, why, sizeof why), WIRE_OK);
    a.seq = WIRE_SEQ_MAX;
    assert_int_equal(wire_ack_validate(&a, VID, why, sizeof why), WIRE_OK);
    a.seq = UINT64_MAX;
    assert_int_equal(wire_ack_validate(&a, VID, why, sizeof why),
                     WIRE_ERR_INVALID);
    assert_non_null(strstr(why, "above the highest"));
    a.seq = 77;
    a.t_ms = -5;
    assert_int_equal(wire_ack_validate(&a, VID, why, sizeof why),
                     WIRE_ERR_INVALID);
    a.t_ms = 0;
    assert_int_equal(wire_ack_validate(&a, "bus-18", why, sizeof why),
                     WIRE_ERR_VEHICLE);
}

static void test_utf8(void **state)
{
    assert_true(wire_utf8_ok(""));
    assert_true(wire_utf8_ok("abc \xea\xb0\x80 \xf0\x9f\x9a\x8c"));
    assert_false(wire_utf8_ok("\xc0\xaf"));         /* overlong '/' */
    assert_false(wire_utf8_ok("\xe0\x80\xaf"));     /* overlong */
    assert_false(wire_utf8_ok("\xed\xa0\x80"));     /* surrogate */
    assert_false(wire_utf8_ok("\xf4\x90\x80\x80")); /* > U+10FFFF */
    assert_false(wire_utf8_ok("\xc3"));             /* cut */
    assert_false(wire_utf8_ok("\x80"));
    assert_false(wire_utf8_ok("a\tb"));
    assert_false(wire_utf8_ok("\x7f"));
}

/* The header alone, and what a batch can say about its oldest held seq. */
static void test_batch_header_and_held(void **state)
{
    struct wire_batch b = make_batch(5); /* seqs as make_batch numbers them */
    uint64_t low = UINT64_MAX;
    char why[256];

    for (size_t i = 0; i < b.n; i++)
        if (b.records[i].seq < low)
            low = b.records[i].seq;
    b.records[2].seq = 0; /* a bad record is not the header's business */
    assert_int_equal(wire_batch_validate_header(&b, VID, why, sizeof why),
                     WIRE_OK);
    b.records[2].seq = low + 2;
    b.oldest_held_seq = 0;
    assert_int_equal(wire_batch_held_bound(&b), 0);
    b.oldest_held_seq = low;
    assert_int_equal(wire_batch_held_bound(&b), low);
    b.oldest_held_seq = low - 1;
    assert_int_equal(wire_batch_held_bound(&b), low - 1);
    b.oldest_held_seq = low + 1000000;
    assert_int_equal(wire_batch_held_bound(&b), low);
    b.oldest_held_seq = (uint64_t)INT64_MAX + 1;
    assert_int_equal(wire_batch_validate_header(&b, VID, why, sizeof why),
                     WIRE_ERR_INVALID);
    free(b.records);
}

/* ---- topics ------------------------------------------------------------- */

static void test_topic_parse(void **state)
{
    static const char *const bad[] = {
        "shuttle/v1//telemetry",
        "shuttle/v1/bus-17/telemetry/extra",
        "shuttle/v1/bus-17/telemetry/",
        "shuttle/v1/a/b/c/d",
        "shuttle/v1/abcdefghijklmnopqrstuvwxyz0123456/telemetry", /* 33 */
        "shuttle/v2/bus-17/telemetry",
        "Shuttle/v1/bus-17/telemetry",
        "/shuttle/v1/bus-17/telemetry",
        "shuttle/v1/bus-17",
        "shuttle/v1/bus-17/",
        "shuttle/v1/",
        "shuttle/v1",
        "",
        "shuttle/v1/+/telemetry",
        "shuttle/v1/bus+17/telemetry",
        "shuttle/v1/#",
        "shuttle/v1/bus-17/#",
        "shuttle/v1/bus-17/+",
        "shuttle/v1/bus#17/status",
        "shuttle/v1/bus-17/position",
        "shuttle/v1/bus.17/ack",
    };
    char vid[WIRE_VID_MAX + 1];
    const char *kind;

    kind = wire_topic_parse("shuttle/v1/bus-17/telemetry", vid);
    assert_non_null(kind);
    assert_string_equal(kind, "telemetry");
    assert_string_equal(vid, "bus-17");
    kind = wire_topic_parse("shuttle/v1/B_9/status", vid);
    assert_non_null(kind);
    assert_string_equal(kind, "status");
    assert_string_equal(vid, "B_9");
    kind = wire_topic_parse("shuttle/v1/x/ack", vid);
    assert_non_null(kind);
    assert_string_equal(kind, "ack");
    assert_string_equal(vid, "x");
    kind = wire_topic_parse("shuttle/v1/abcdefghijklmnopqrstuvwxyz012345/ack",
                            vid); /* 32 */
    assert_non_null(kind);
    assert_string_equal(vid, "abcdefghijklmnopqrstuvwxyz012345");

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wire_topic_parse(bad[i], vid) != NULL)
            fail_msg("topic \"%s\" accepted", bad[i]);
    }
}

static void test_topic_compose(void **state)
{
    char buf[64], vid[WIRE_VID_MAX + 1];
    const char *kind;

    assert_int_equal(wire_topic(buf, sizeof buf, VID, "status"), 0);
    assert_string_equal(buf, "shuttle/v1/bus-17/status");
    kind = wire_topic_parse(buf, vid);
    assert_non_null(kind);
    assert_string_equal(kind, "status");
    assert_string_equal(vid, VID);
    /* Exactly full (the NUL does not fit) is too long. */
    assert_int_equal(
        wire_topic(buf, strlen("shuttle/v1/bus-17/status"), VID, "status"), -1);
    assert_int_equal(
        wire_topic(buf, strlen("shuttle/v1/bus-17/status") + 1, VID, "status"),
        0);
}

static void test_vid_and_strerror(void **state)
{
    assert_true(wire_vid_ok("a"));
    assert_true(wire_vid_ok("Bus_17-x"));
    assert_true(wire_vid_ok("abcdefghijklmnopqrstuvwxyz012345"));
    assert_false(wire_vid_ok("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(wire_vid_ok(""));
    assert_false(wire_vid_ok(NULL));
    assert_false(wire_vid_ok("bus/17"));
    assert_false(wire_vid_ok("bus 17"));
    assert_false(wire_vid_ok("b\xc3\xbcs"));

    assert_string_equal(wire_strerror(WIRE_OK), "ok");
    assert_string_equal(wire_strerror(WIRE_ERR_TOOBIG), "payload too large");
    assert_string_equal(wire_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_validate_door_times),
        cmocka_unit_test(test_validate_time_extremes),
        cmocka_unit_test(test_validate_status),
        cmocka_unit_test(test_status_decode_cuts_at_character),
        cmocka_unit_test(test_validate_ack),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_batch_header_and_held),
        cmocka_unit_test(test_batch_round_trip_no_oldest_held),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_unknown_time_source),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_status_ack_long_vid),
        cmocka_unit_test(test_record_size_sums_to_batch),
        cmocka_unit_test(test_truncations_and_bit_flips),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_batch_over_max),
        cmocka_unit_test(test_huge_fields),
        cmocka_unit_test(test_record_without_body),
        cmocka_unit_test(test_vehicle_id_33_chars),
        cmocka_unit_test(test_validate_position),
        cmocka_unit_test(test_validate_time_and_seq),
        cmocka_unit_test(test_validate_count),
        cmocka_unit_test(test_validate_batch),
        cmocka_unit_test(test_topic_parse),
        cmocka_unit_test(test_topic_compose),
        cmocka_unit_test(test_vid_and_strerror),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
