/* test_ingest: what ingest_message stages, what it dead-letters with which
 * reason, each record's own fate, and the counters. The database is
 * replaced by the link-time stubs of ingest_stubs.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "ingest_stubs.h"
#include "wire.h"

#define VID "bus-7"
#define TOPIC_TEL "shuttle/v1/" VID "/telemetry"
#define TOPIC_STATUS "shuttle/v1/" VID "/status"
/* 2025-01-01T00:00:00Z: the receiver's clock in every case. */
#define NOW_MS 1735689600000LL
#define MIN_MS 60000LL
#define DAY_MS 86400000LL

/* ingest_message never dereferences the handle: the stubs stand in for it. */
#define NO_DB ((struct writer *)NULL)

/* ---- building payloads ---- */

static void position(struct wire_record *r, uint64_t seq)
{
    wire_position_init(r);
    r->seq = seq;
    r->t_ms = NOW_MS - 10 * MIN_MS + (int64_t)seq * 1000;
    r->time_source = WIRE_TIME_GPS;
    r->u.pos.lat = 37.5850123 + (double)seq * 1e-5;
    r->u.pos.lon = 126.6700456;
    r->u.pos.speed = 11.0;
    r->u.pos.track = 41.0;
    r->u.pos.fix_mode = 3;
    r->u.pos.sats_used = 9;
}

static void count(struct wire_record *r, uint64_t seq)
{
    wire_count_init(r);
    r->seq = seq;
    r->t_ms = NOW_MS - 10 * MIN_MS + (int64_t)seq * 1000;
    r->time_source = WIRE_TIME_CARRIED;
    r->u.count.door = 1;
    r->u.count.boarded = 3;
    r->u.count.alighted = 1;
    r->u.count.load_after = 12;
}

/* Encode records `r[0..n)` as vid's batch; the buffer is the caller's to
 * free. */
static uint8_t *batch_of(const char *vid, uint64_t oldest_held,
                         struct wire_record *r, size_t n, size_t *len)
{
    struct wire_batch b;
    uint8_t *buf = NULL;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    b.oldest_held_seq = oldest_held;
    b.n = n;
    b.records = r;
    assert_int_equal(wire_batch_encode(&b, &buf, len), WIRE_OK);
    return buf;
}

static void status_init(struct wire_status *s, const char *vid)
{
    memset(s, 0, sizeof *s);
    snprintf(s->vehicle_id, sizeof s->vehicle_id, "%s", vid);
    s->state = WIRE_ONLINE;
    s->t_ms = NOW_MS;
    snprintf(s->version, sizeof s->version, "1.4.0");
    snprintf(s->config_hash, sizeof s->config_hash, "0123456789abcdef");
    s->gps_mode = 3;
    s->gps_connected = true;
    snprintf(s->counter_state, sizeof s->counter_state, "ok");
    s->next_seq = 101;
    s->acked_seq = 90;
}

static uint8_t *status_of(const struct wire_status *s, size_t *len)
{
    uint8_t *buf = NULL;

    assert_int_equal(wire_status_encode(s, &buf, len), WIRE_OK);
    return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int setup(void **state)
{
    (void)state;
    ingest_stubs_reset();
    return 0;
}

/* One message into a fresh ingest_stats; returns ingest_message's answer
 * and the reason it set (INGEST_R_COUNT when it set none). */
static int feed(struct ingest_stats *st, const char *topic, const void *p,
                size_t len, enum ingest_reason *why)
{
    *why = INGEST_R_COUNT;
    return ingest_message(NO_DB, st, topic, p, len, NOW_MS, NULL, why);
}

/* ---- cases ---- */

static void test_valid_batch_staged_whole(void **state)
{
    struct wire_record r[4];
    struct ingest_stats st = {0};
    enum ingest_reason why;
    const struct stub_batch *sb;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r[0], 5);
    position(&r[1], 6);
    count(&r[2], 7);
    position(&r[3], 8);
    /* A claim above the batch's lowest seq is cut down to it. */
    p = batch_of(VID, 9, r, 4, &len);
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(why, INGEST_R_COUNT); /* untouched on success */

    assert_int_equal(ingest_stubs.nbatch, 1);
    assert_int_equal(ingest_stubs.ndead, 0);
    assert_int_equal(ingest_stubs.nstatus, 0);
    sb = &ingest_stubs.batch[0];
    assert_string_equal(sb->vehicle_id, VID);
    assert_int_equal(sb->oldest_held_seq, 5);
    assert_int_equal(sb->n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sb->records[i].seq, r[i].seq);
        assert_int_equal(sb->records[i].t_ms, r[i].t_ms);
        assert_int_equal(sb->records[i].kind, r[i].kind);
        assert_int_equal(sb->records[i].time_source, r[i].time_source);
    }
    assert_true(sb->records[0].u.pos.lat == r[0].u.pos.lat);
    assert_true(sb->records[3].u.pos.lon == r[3].u.pos.lon);
    assert_int_equal(sb->records[2].u.count.boarded, 3);
    assert_int_equal(sb->records[2].u.count.load_after, 12);

    assert_int_equal(st.messages, 1);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.dead_records, 0);
    for (int k = 0; k < INGEST_R_COUNT; k++)
        assert_int_equal(st.rejected[k], 0);
    free(p);

    /* A claim below the lowest seq stands (older records still held). */
    p = batch_of(VID, 2, r, 4, &len);
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.nbatch, 2);
    assert_int_equal(ingest_stubs.batch[1].oldest_held_seq, 2);
    assert_int_equal(st.records, 8);
    free(p);
}

/* A whole message refused for `want`: no rows, one dead letter on the
 * topic whose reason starts with the reason's name. */
static void expect_refused(const char *topic, const void *p, size_t len,
                           enum ingest_reason want, const char *vid)
{
    struct ingest_stats st = {0};
    enum ingest_reason why;
    char prefix[64];
    const struct stub_dead *x;

    ingest_stubs_reset();
    assert_int_equal(feed(&st, topic, p, len, &why), INGEST_ERR_REFUSED);
    assert_int_equal(why, want);
    assert_int_equal(ingest_stubs.nbatch, 0);
    assert_int_equal(ingest_stubs.nstatus, 0);
    assert_int_equal(ingest_stubs.ndead, 1);
    x = &ingest_stubs.dead[0];
    assert_false(x->is_record);
    assert_string_equal(x->topic, topic);
    if (vid) {
        assert_true(x->has_vid);
        assert_string_equal(x->vid, vid);
    } else {
        assert_false(x->has_vid);
    }
    assert_int_equal(x->len, len);
    snprintf(prefix, sizeof prefix, "%s: ", ingest_reason_name(want));
    if (!starts_with(x->reason, prefix))
        fail_msg("dead letter reason '%s' does not start with '%s'", x->reason,
                 prefix);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.statuses, 0);
    for (int k = 0; k < INGEST_R_COUNT; k++)
        assert_int_equal(st.rejected[k], k == (int)want ? 1 : 0);
}

static void test_empty_garbage_oversized(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f,
                                      0x12, 0x34, 0x56, 0x78};
    uint8_t *big = calloc(1, WIRE_PAYLOAD_MAX + 1);

    (void)state;
    assert_non_null(big);
    expect_refused(TOPIC_TEL, "", 0, INGEST_R_EMPTY, VID);
    assert_string_equal(ingest_stubs.dead[0].reason, "empty: empty payload");
    expect_refused(TOPIC_TEL, garbage, sizeof garbage, INGEST_R_DECODE, VID);
    expect_refused(TOPIC_TEL, big, WIRE_PAYLOAD_MAX + 1, INGEST_R_TOOBIG, VID);
    /* At the limit the size check passes and decoding judges it: zeros
     * are no protobuf. */
    expect_refused(TOPIC_TEL, big, WIRE_PAYLOAD_MAX, INGEST_R_DECODE, VID);
    /* The same on the status topic. */
    expect_refused(TOPIC_STATUS, "", 0, INGEST_R_EMPTY, VID);
    expect_refused(TOPIC_STATUS, garbage, sizeof garbage, INGEST_R_DECODE, VID);
    expect_refused(TOPIC_STATUS, big, WIRE_PAYLOAD_MAX + 1, INGEST_R_TOOBIG,
                   VID);
    free(big);
}

static void test_batch_without_records(void **state)
{
    struct wire_batch b;
    uint8_t *p = NULL;
    size_t len;

    (void)state;
    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, VID);
    assert_int_equal(wire_batch_encode(&b, &p, &len), WIRE_OK);
    if (len == 0) {
        /* An all-default message encodes to nothing: that is "empty". */
        expect_refused(TOPIC_TEL, p, len, INGEST_R_EMPTY, VID);
    } else {
        expect_refused(TOPIC_TEL, p, len, INGEST_R_INVALID, VID);
        assert_non_null(strstr(ingest_stubs.dead[0].reason, "no records"));
    }
    free(p);
}

static void test_vehicle_differs_from_topic(void **state)
{
    struct wire_record r[2];
    struct wire_status s;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r[0], 1);
    position(&r[1], 2);
    p = batch_of("bus-8", 0, r, 2, &len);
    /* The dead letter is filed under the topic's vehicle, the one whose
     * channel carried it. */
    expect_refused(TOPIC_TEL, p, len, INGEST_R_VEHICLE, VID);
    assert_non_null(strstr(ingest_stubs.dead[0].reason, "bus-8"));
    free(p);

    status_init(&s, "bus-8");
    p = status_of(&s, &len);
    expect_refused(TOPIC_STATUS, p, len, INGEST_R_VEHICLE, VID);
    assert_non_null(strstr(ingest_stubs.dead[0].reason, "bus-8"));
    free(p);
}

static void test_one_bad_record_among_good(void **state)
{
    struct wire_record r[5];
    struct ingest_stats st = {0};
    enum ingest_reason why;
    const struct stub_batch *sb;
    const struct stub_dead *x;
    static const uint64_t kept[] = {11, 12, 14, 15};
    uint8_t *p;
    size_t len;

    (void)state;
    for (size_t i = 0; i < 5; i++)
        position(&r[i], 11 + i);
    r[2].u.pos.fix_mode = 1; /* seq 13: no fix */
    p = batch_of(VID, 0, r, 5, &len);
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(why, INGEST_R_COUNT);

    assert_int_equal(ingest_stubs.nbatch, 1);
    sb = &ingest_stubs.batch[0];
    assert_int_equal(sb->n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sb->records[i].seq, kept[i]);
        assert_int_equal(sb->records[i].u.pos.fix_mode, 3);
    }
    assert_int_equal(ingest_stubs.ndead, 1);
    x = &ingest_stubs.dead[0];
    assert_true(x->is_record);
    assert_int_equal(x->seq, 13);
    assert_string_equal(x->topic, TOPIC_TEL);
    assert_string_equal(x->vid, VID);
    assert_int_equal(x->len, len); /* the batch's payload, kept whole */
    assert_true(starts_with(x->reason, "invalid: seq 13: "));
    assert_non_null(strstr(x->reason, "fix mode 1"));

    assert_int_equal(st.messages, 1);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.dead_records, 1);
    assert_int_equal(st.rejected[INGEST_R_INVALID], 1);
    free(p);
}

static void test_record_fates_in_order(void **state)
{
    struct wire_record r[6];
    struct ingest_stats st = {0};
    enum ingest_reason why;
    const struct stub_batch *sb;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r[0], 21);
    position(&r[1], 22);
    r[1].t_ms = NOW_MS + 2 * DAY_MS; /* beyond the future window */
    count(&r[2], 23);
    position(&r[3], 24);
    r[3].u.pos.lat = 0; /* (0,0): no position at all */
    r[3].u.pos.lon = 0;
    count(&r[4], 25);
    r[4].u.count.door = WIRE_DOOR_MAX + 1;
    position(&r[5], 26);
    p = batch_of(VID, 30, r, 6, &len);
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);

    sb = &ingest_stubs.batch[0];
    assert_int_equal(ingest_stubs.nbatch, 1);
    assert_int_equal(sb->n, 3);
    assert_int_equal(sb->records[0].seq, 21);
    assert_int_equal(sb->records[1].seq, 23);
    assert_int_equal(sb->records[1].kind, WIRE_COUNT);
    assert_int_equal(sb->records[2].seq, 26);
    /* Bounded by the lowest seq of the batch, bad records included: their
     * seqs are settled, not lost. */
    assert_int_equal(sb->oldest_held_seq, 21);

    assert_int_equal(ingest_stubs.ndead, 3);
    assert_int_equal(ingest_stubs.dead[0].seq, 22);
    assert_non_null(strstr(ingest_stubs.dead[0].reason, "seq 22: time"));
    assert_int_equal(ingest_stubs.dead[1].seq, 24);
    assert_non_null(strstr(ingest_stubs.dead[1].reason, "coordinates"));
    assert_int_equal(ingest_stubs.dead[2].seq, 25);
    assert_non_null(strstr(ingest_stubs.dead[2].reason, "door"));
    for (size_t i = 0; i < 3; i++) {
        assert_true(ingest_stubs.dead[i].is_record);
        assert_true(starts_with(ingest_stubs.dead[i].reason, "invalid: "));
    }
    assert_int_equal(st.records, 3);
    assert_int_equal(st.dead_records, 3);
    assert_int_equal(st.rejected[INGEST_R_INVALID], 3);
    free(p);
}

static void test_all_records_bad(void **state)
{
    struct wire_record r[2];
    struct ingest_stats st = {0};
    enum ingest_reason why;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r[0], 40);
    position(&r[1], 41);
    r[0].t_ms = NOW_MS - 500 * DAY_MS; /* beyond the 400-day past window */
    r[1].u.pos.lat = 91;
    p = batch_of(VID, 38, r, 2, &len);
    /* The message is taken (its records are dead letters one by one), and
     * an empty batch still carries the held claim to the database. */
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.nbatch, 1);
    assert_int_equal(ingest_stubs.batch[0].n, 0);
    assert_int_equal(ingest_stubs.batch[0].oldest_held_seq, 38);
    assert_int_equal(ingest_stubs.ndead, 2);
    assert_int_equal(ingest_stubs.dead[0].seq, 40);
    assert_int_equal(ingest_stubs.dead[1].seq, 41);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.dead_records, 2);
    free(p);

    /* A wider window takes the old record. */
    {
        const struct wire_window w = {.past_ms = 600 * DAY_MS,
                                      .future_ms = DAY_MS};

        ingest_stubs_reset();
        p = batch_of(VID, 0, r, 1, &len);
        assert_int_equal(
            ingest_message(NO_DB, &st, TOPIC_TEL, p, len, NOW_MS, &w, NULL),
            INGEST_OK);
        assert_int_equal(ingest_stubs.batch[0].n, 1);
        assert_int_equal(ingest_stubs.ndead, 0);
        free(p);
    }
}

static void test_overload(void **state)
{
    struct wire_record r[3];
    struct ingest_stats st = {0};
    enum ingest_reason why;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r[0], 1);
    position(&r[1], 2);
    r[1].u.pos.fix_mode = 0;
    position(&r[2], 3);
    p = batch_of(VID, 0, r, 3, &len);
    ingest_stubs.batch_rc = DB_ERR_FULL;
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_ERR_OVERLOAD);
    assert_int_equal(why, INGEST_R_OVERLOAD);
    /* Not a dead letter, not even the bad record: nothing is settled, so
     * the bus sends the whole batch again. */
    assert_int_equal(ingest_stubs.nbatch, 0);
    assert_int_equal(ingest_stubs.ndead, 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.dead_records, 0);
    assert_int_equal(st.rejected[INGEST_R_OVERLOAD], 1);
    assert_int_equal(st.rejected[INGEST_R_INVALID], 0);

    /* Room again: the same payload goes through. */
    ingest_stubs.batch_rc = DB_OK;
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.batch[0].n, 2);
    assert_int_equal(ingest_stubs.ndead, 1);
    assert_int_equal(ingest_stubs.dead[0].seq, 2);
    assert_int_equal(st.messages, 2);

    /* Dead letters full: the record is counted but nothing is staged for
     * it (the bus still holds it), and ingest carries on. */
    ingest_stubs_reset();
    ingest_stubs.dead_rc = DB_ERR_FULL;
    assert_int_equal(feed(&st, TOPIC_TEL, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.batch[0].n, 2);
    assert_int_equal(ingest_stubs.ndead, 0);
    assert_int_equal(st.dead_records, 2);
    free(p);
}

static void test_status_staged(void **state)
{
    struct wire_status s;
    struct ingest_stats st = {0};
    enum ingest_reason why;
    uint8_t *p;
    size_t len;

    (void)state;
    status_init(&s, VID);
    s.spool_records = 1234;
    s.refused_at_source = 2;
    p = status_of(&s, &len);
    assert_int_equal(feed(&st, TOPIC_STATUS, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.nstatus, 1);
    assert_int_equal(ingest_stubs.nbatch, 0);
    assert_int_equal(ingest_stubs.ndead, 0);
    assert_string_equal(ingest_stubs.status[0].vehicle_id, VID);
    assert_int_equal(ingest_stubs.status[0].state, WIRE_ONLINE);
    assert_int_equal(ingest_stubs.status[0].spool_records, 1234);
    assert_int_equal(ingest_stubs.status[0].refused_at_source, 2);
    assert_int_equal(ingest_stubs.status[0].next_seq, 101);
    assert_string_equal(ingest_stubs.status[0].version, "1.4.0");
    assert_int_equal(st.statuses, 1);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.records, 0);
    free(p);
}

static void test_bad_status(void **state)
{
    struct wire_status s;
    uint8_t *p;
    size_t len;

    (void)state;
    status_init(&s, VID);
    s.gps_mode = 7;
    p = status_of(&s, &len);
    expect_refused(TOPIC_STATUS, p, len, INGEST_R_INVALID, VID);
    assert_string_equal(ingest_stubs.dead[0].reason,
                        "invalid: gps mode 7 is not 0..3");
    free(p);

    status_init(&s, VID);
    s.acked_seq = (uint64_t)INT64_MAX + 1;
    p = status_of(&s, &len);
    expect_refused(TOPIC_STATUS, p, len, INGEST_R_INVALID, VID);
    assert_non_null(strstr(ingest_stubs.dead[0].reason, "bigint"));
    free(p);

    status_init(&s, VID);
    snprintf(s.counter_state, sizeof s.counter_state, "ok; drop");
    p = status_of(&s, &len);
    expect_refused(TOPIC_STATUS, p, len, INGEST_R_INVALID, VID);
    free(p);
}

/*
 * The broker keeps the last status of each bus (its will: offline) and
 * hands it to every new subscription, so a backend that starts or
 * reconnects sees it again, maybe long after it was sent. ingest_message
 * has no notion of retained: the status is judged on its own (its time is
 * not held to the record window, a bus without a fix reports its system
 * clock) and staged each time; the last one per vehicle wins in db.
 */
static void test_retained_status(void **state)
{
    struct wire_status s;
    struct ingest_stats st = {0};
    enum ingest_reason why;
    uint8_t *p;
    size_t len;

    (void)state;
    status_init(&s, VID);
    s.state = WIRE_OFFLINE;
    s.gps_connected = false;
    s.gps_mode = 0;
    s.t_ms = NOW_MS - 3 * 365 * DAY_MS; /* far outside the record window */
    p = status_of(&s, &len);
    assert_int_equal(feed(&st, TOPIC_STATUS, p, len, &why), INGEST_OK);
    assert_int_equal(feed(&st, TOPIC_STATUS, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.nstatus, 2);
    assert_int_equal(ingest_stubs.ndead, 0);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(ingest_stubs.status[i].state, WIRE_OFFLINE);
        assert_int_equal(ingest_stubs.status[i].t_ms, s.t_ms);
    }
    assert_int_equal(st.statuses, 2);
    free(p);

    /* An unknown time (0) is taken too; one outside 1970..9999 is not. */
    ingest_stubs_reset();
    s.t_ms = 0;
    p = status_of(&s, &len);
    assert_int_equal(feed(&st, TOPIC_STATUS, p, len, &why), INGEST_OK);
    assert_int_equal(ingest_stubs.nstatus, 1);
    free(p);
    s.t_ms = -1;
    p = status_of(&s, &len);
    expect_refused(TOPIC_STATUS, p, len, INGEST_R_INVALID, VID);
    free(p);
}

static void test_unknown_topics(void **state)
{
    struct wire_record r;
    uint8_t *p;
    size_t len;

    (void)state;
    position(&r, 1);
    p = batch_of(VID, 0, &r, 1, &len);
    /* A kind of the protocol the backend does not ingest (its own acks,
     * should it ever subscribe to them): filed under the vehicle. */
    expect_refused("shuttle/v1/" VID "/ack", p, len, INGEST_R_TOPIC, VID);
    assert_non_null(strstr(ingest_stubs.dead[0].reason, "not a telemetry"));
    /* Kinds the protocol does not have, and not the shape at all: no
     * vehicle to file the dead letter under. */
    expect_refused("shuttle/v1/" VID "/video", p, len, INGEST_R_TOPIC, NULL);
    expect_refused("shuttle/v1/" VID "/Telemetry", p, len, INGEST_R_TOPIC,
                   NULL);
    expect_refused("shuttle/v1/" VID "/telemetry/extra", p, len, INGEST_R_TOPIC,
                   NULL);
    expect_refused("shuttle/v1/" VID "/+", p, len, INGEST_R_TOPIC, NULL);
    expect_refused("other/topic", p, len, INGEST_R_TOPIC, NULL);
    expect_refused("shuttle/v2/" VID "/telemetry", p, len, INGEST_R_TOPIC,
                   NULL);
    expect_refused("shuttle/v1/bus 7/telemetry", p, len, INGEST_R_TOPIC, NULL);
    expect_refused("shuttle/v1//telemetry", p, len, INGEST_R_TOPIC, NULL);
    expect_refused("shuttle/v1/" VID, p, len, INGEST_R_TOPIC, NULL);
    expect_refused("", p, len, INGEST_R_TOPIC, NULL);
    free(p);
}

static void test_reason_counters(void **state)
{
    static const uint8_t garbage[] = {0x08, 0x96, 0x01, 0xff};
    struct ingest_stats st = {0};
    struct wire_record r[3];
    struct wire_status s;
    uint8_t *tel, *bad_vid, *sta;
    size_t tlen, blen, slen;
    uint64_t want[INGEST_R_COUNT] = {0};

    (void)state;
    for (size_t i = 0; i < 3; i++)
        position(&r[i], 100 + i);
    r[1].seq = 0; /* reserved: that record alone is refused */
    tel = batch_of(VID, 0, r, 3, &tlen);
    bad_vid = batch_of("bus-9", 0, r, 3, &blen);
    status_init(&s, VID);
    sta = status_of(&s, &slen);

    /* Reasons are not cumulative per call: NULL for `reason` is fine. */
    for (int round = 0; round < 2; round++) {
        ingest_message(NO_DB, &st, TOPIC_TEL, tel, tlen, NOW_MS, NULL, NULL);
        ingest_message(NO_DB, &st, TOPIC_TEL, bad_vid, blen, NOW_MS, NULL,
                       NULL);
        ingest_message(NO_DB, &st, TOPIC_TEL, garbage, sizeof garbage, NOW_MS,
                       NULL, NULL);
        ingest_message(NO_DB, &st, TOPIC_TEL, "", 0, NOW_MS, NULL, NULL);
        ingest_message(NO_DB, &st, "shuttle/v1/" VID "/x", sta, slen, NOW_MS,
                       NULL, NULL);
        ingest_message(NO_DB, &st, TOPIC_STATUS, sta, slen, NOW_MS, NULL, NULL);
    }
    ingest_stubs.batch_rc = DB_ERR_FULL;
    ingest_message(NO_DB, &st, TOPIC_TEL, tel, tlen, NOW_MS, NULL, NULL);

    want[INGEST_R_TOPIC] = 2;
    want[INGEST_R_EMPTY] = 2;
    want[INGEST_R_DECODE] = 2;
    want[INGEST_R_VEHICLE] = 2;
    want[INGEST_R_INVALID] = 2; /* records, not messages */
    want[INGEST_R_OVERLOAD] = 1;
    for (int k = 0; k < INGEST_R_COUNT; k++)
        if (st.rejected[k] != want[k])
            fail_msg("rejected[%s] = %llu, want %llu",
                     ingest_reason_name((enum ingest_reason)k),
                     (unsigned long long)st.rejected[k],
                     (unsigned long long)want[k]);
    assert_int_equal(st.messages, 13);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.dead_records, 2);
    assert_int_equal(st.statuses, 2);
    /* 8 messages refused whole + 2 records refused alone. */
    assert_int_equal(ingest_stubs.ndead, 10);
    assert_int_equal(ingest_stubs.nbatch, 2);
    assert_int_equal(ingest_stubs.nstatus, 2);
    free(tel);
    free(bad_vid);
    free(sta);
}

static void test_reason_names(void **state)
{
    static const char *const want[INGEST_R_COUNT] = {
        "topic",   "empty",   "too_big", "decode",
        "vehicle", "invalid", "overload"};

    (void)state;
    /* These name /metrics series and prefix dead-letter reasons: renaming
     * one breaks dashboards and queries. */
    for (int k = 0; k < INGEST_R_COUNT; k++)
        assert_string_equal(ingest_reason_name((enum ingest_reason)k), want[k]);
    assert_string_equal(ingest_reason_name(INGEST_R_COUNT), "unknown");
    assert_string_equal(ingest_reason_name((enum ingest_reason) - 1),
                        "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_valid_batch_staged_whole, setup),
        cmocka_unit_test_setup(test_empty_garbage_oversized, setup),
        cmocka_unit_test_setup(test_batch_without_records, setup),
        cmocka_unit_test_setup(test_vehicle_differs_from_topic, setup),
        cmocka_unit_test_setup(test_one_bad_record_among_good, setup),
        cmocka_unit_test_setup(test_record_fates_in_order, setup),
        cmocka_unit_test_setup(test_all_records_bad, setup),
        cmocka_unit_test_setup(test_overload, setup),
        cmocka_unit_test_setup(test_status_staged, setup),
        cmocka_unit_test_setup(test_bad_status, setup),
        cmocka_unit_test_setup(test_retained_status, setup),
        cmocka_unit_test_setup(test_unknown_topics, setup),
        cmocka_unit_test_setup(test_reason_counters, setup),
        cmocka_unit_test_setup(test_reason_names, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
