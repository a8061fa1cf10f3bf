/* No message of any content stops ingest: poisoned statuses and records
 * become dead letters with a reason while a healthy bus keeps committing
 * and being acked; one bad record does not stall its bus; a forged
 * far-ahead batch does not move a bus's watermark past what it sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "wire.h"

/* Generous: the machine may be busy; a pass is usually well under 1 s. */
#define WAIT_MS 30000

struct px {
    struct harness_mqtt *m;
    struct harness_pg *pg;
    struct harness_proc *be;
    char *dir;
    int files;
};

static struct px px;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publish LEN bytes on TOPIC with QoS 1 (retained if asked), through the
 * ordinary command-line client: any client of the broker could. */
static void publish(const char *topic, const void *buf, size_t len,
                    int retained)
{
    char path[512], log[512], port[16];
    struct harness_proc *p;
    FILE *f;

    snprintf(path, sizeof path, "%s/msg%d.bin", px.dir, px.files++);
    snprintf(log, sizeof log, "%s/pub.log", px.dir);
    snprintf(port, sizeof port, "%d", harness_mosquitto_port(px.m));
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    {
        char *argv[] = {"mosquitto_pub",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        port,
                        "-q",
                        "1",
                        "-t",
                        (char *)topic,
                        "-f",
                        path,
                        retained ? "-r" : NULL,
                        NULL};
        p = harness_spawn("mosquitto_pub", argv, log);
    }
    assert_non_null(p);
    if (harness_wait(p, 15000) != 0) {
        harness_log_tail(log, 10);
        fail_msg("mosquitto_pub on %s failed", topic);
    }
}

static void topic_of(char *buf, size_t len, const char *vid, const char *kind)
{
    assert_int_equal(wire_topic(buf, len, vid, kind), 0);
}

static void position(struct wire_record *r, uint64_t seq, int64_t t)
{
    wire_position_init(r);
    r->seq = seq;
    r->t_ms = t;
    r->u.pos.lat = 37.45 + (double)(seq % 1000) * 1e-5;
    r->u.pos.lon = 126.70 + (double)(seq % 1000) * 1e-5;
    r->u.pos.fix_mode = 3;
    r->u.pos.sats_used = 8;
}

static void publish_batch(const char *vid, struct wire_record *recs, size_t n,
                          uint64_t oldest_held)
{
    struct wire_batch b;
    char topic[128];
    uint8_t *buf;
    size_t len;

    memset(&b, 0, sizeof b);
    snprintf(b.vehicle_id, sizeof b.vehicle_id, "%s", vid);
    b.n = n;
    b.records = recs;
    b.oldest_held_seq = oldest_held;
    assert_int_equal(wire_batch_encode(&b, &buf, &len), WIRE_OK);
    topic_of(topic, sizeof topic, vid, "telemetry");
    publish(topic, buf, len, 0);
    free(buf);
}

/* Positions FIRST..LAST of VID, a minute old, in one batch. */
static void publish_positions(const char *vid, uint64_t first, uint64_t last,
                              uint64_t oldest_held)
{
    struct wire_record recs[64];
    int64_t t = now_ms() - 60000;

    assert_true(last - first + 1 <= 64);
    for (uint64_t s = first; s <= last; s++)
        position(&recs[s - first], s, t + (int64_t)(s - first) * 100);
    publish_batch(vid, recs, (size_t)(last - first + 1), oldest_held);
}

static struct wire_status status_of(const char *vid, uint64_t next_seq)
{
    struct wire_status s;

    memset(&s, 0, sizeof s);
    snprintf(s.vehicle_id, sizeof s.vehicle_id, "%s", vid);
    s.state = WIRE_ONLINE;
    s.t_ms = now_ms();
    snprintf(s.version, sizeof s.version, "0.1.0");
    snprintf(s.config_hash, sizeof s.config_hash, "0123456789abcdef");
    snprintf(s.counter_state, sizeof s.counter_state, "ok");
    s.gps_mode = 3;
    s.gps_connected = true;
    s.next_seq = next_seq;
    s.acked_seq = next_seq ? next_seq - 1 : 0;
    return s;
}

static void publish_status(const struct wire_status *s)
{
    char topic[128];
    uint8_t *buf;
    size_t len;

    assert_int_equal(wire_status_encode(s, &buf, &len), WIRE_OK);
    topic_of(topic, sizeof topic, s->vehicle_id, "status");
    publish(topic, buf, len, 1);
    free(buf);
}

/* The retained ack of VID as the bus would read it, or -1. */
static long long retained_ack(const char *vid)
{
    char topic[128], port[16], path[512];
    struct harness_proc *p;
    struct wire_ack a;
    uint8_t bin[256];
    char hex[1024];
    size_t n = 0;
    FILE *f;

    topic_of(topic, sizeof topic, vid, "ack");
    snprintf(port, sizeof port, "%d", harness_mosquitto_port(px.m));
    snprintf(path, sizeof path, "%s/ack%d.txt", px.dir, px.files++);
    {
        char *argv[] = {"mosquitto_sub",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        port,
                        "-t",
                        topic,
                        "-C",
                        "1",
                        "-W",
                        "10",
                        "-F",
                        "%x",
                        NULL};
        p = harness_spawn("mosquitto_sub", argv, path);
    }
    assert_non_null(p);
    if (harness_wait(p, 15000) != 0)
        return -1;
    f = fopen(path, "r");
    assert_non_null(f);
    if (!fgets(hex, sizeof hex, f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    for (const char *h = hex; h[0] && h[1] && n < sizeof bin; h += 2) {
        unsigned v;

        if (sscanf(h, "%2x", &v) != 1)
            break;
        bin[n++] = (uint8_t)v;
    }
    if (wire_ack_decode(bin, n, &a) != WIRE_OK)
        return -1;
    return (long long)a.seq;
}

static long long q(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return harness_pg_scalar(px.pg, sql);
}

static int wait_q(long long want, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int wait_q(long long want, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return harness_wait_scalar(px.pg, sql, want, WAIT_MS);
}

/* Wait until VID's positions FIRST..LAST are stored once each and its
 * watermark is LAST. */
static void expect_committed(const char *what, const char *vid, uint64_t first,
                             uint64_t last)
{
    if (wait_q((long long)(last - first + 1),
               "SELECT count(*) FROM positions WHERE vehicle_id = '%s' "
               "AND seq BETWEEN %llu AND %llu",
               vid, (unsigned long long)first, (unsigned long long)last) != 0)
        fail_msg("%s: %s's records %llu..%llu were not stored", what, vid,
                 (unsigned long long)first, (unsigned long long)last);
    if (wait_q((long long)last,
               "SELECT acked_seq FROM vehicle_progress WHERE vehicle_id = "
               "'%s'",
               vid) != 0)
        fail_msg("%s: %s's watermark did not reach %llu", what, vid,
                 (unsigned long long)last);
}

static void start(void)
{
    memset(&px, 0, sizeof px);
    px.m = harness_mosquitto_start_plain(
        NULL, "any client may publish here, as on a misconfigured broker: "
              "the backend's own checks must stop the poison");
    px.pg = harness_pg_start(1);
    px.dir = harness_tmpdir("poison");
    assert_non_null(px.m);
    assert_non_null(px.pg);
    assert_non_null(px.dir);
    px.be = harness_backend_start(px.pg, px.m, NULL);
    assert_non_null(px.be);
}

/* (a) Each poisoned status, then a poisoned count, is a dead letter with
 * its reason, and the healthy bus's next records commit and are acked. */
static void test_poisoned_status_and_count(void **state)
{
    static const struct {
        const char *what, *detail;
    } names[] = {
        {"t_ms 1e16", "time"},
        {"gps_mode 40000", "gps mode"},
        {"spool_records 2^64-1", "spool_records"},
        {"dropped_positions 2^63", "dropped_positions"},
        {"dropped_counts 2^64-1", "dropped_counts"},
        {"next_seq 2^64-1", "next_seq"},
        {"version not UTF-8", "version"},
        {"config_hash not UTF-8", "config hash"},
        {"counter_state not UTF-8", "counter state"},
    };
    uint64_t seq = 1;

    (void)state;
    start();
    publish_positions("bus-ok", seq, seq + 4, 0);
    expect_committed("before any poison", "bus-ok", 1, seq + 4);
    seq += 5;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char vid[32], topic[128];
        struct wire_status s;

        snprintf(vid, sizeof vid, "ghost-%zu", i);
        s = status_of(vid, 0);
        switch (i) {
        case 0:
            s.t_ms = 10000000000000000LL;
            break;
        case 1:
            s.gps_mode = 40000;
            break;
        case 2:
            s.spool_records = UINT64_MAX;
            break;
        case 3:
            s.dropped_positions = (uint64_t)INT64_MAX + 1;
            break;
        case 4:
            s.dropped_counts = UINT64_MAX;
            break;
        case 5:
            s.next_seq = UINT64_MAX;
            break;
        case 6:
            memcpy(s.version, "0.1\xff\xfe", 6);
            break;
        case 7:
            memcpy(s.config_hash, "ab\xc3(", 5);
            break;
        case 8:
            memcpy(s.counter_state, "o\x80k", 4);
            break;
        }
        publish_status(&s);
        publish_positions("bus-ok", seq, seq + 4, 0);
        expect_committed(names[i].what, "bus-ok", 1, seq + 4);
        seq += 5;
        topic_of(topic, sizeof topic, vid, "status");
        if (wait_q(1,
                   "SELECT count(*) FROM dead_letters WHERE topic = '%s' "
                   "AND vehicle_id = '%s' AND reason LIKE 'invalid: %%%s%%'",
                   topic, vid, names[i].detail) != 0)
            fail_msg("%s: no dead letter 'invalid: ...%s...'", names[i].what,
                     names[i].detail);
        assert_int_equal(
            q("SELECT count(*) FROM vehicle_status WHERE vehicle_id = '%s'",
              vid),
            0);
        print_message("%-26s -> dead letter; bus-ok acked %llu\n",
                      names[i].what, (unsigned long long)(seq - 1));
    }

    /* A passenger count whose door times are out of any range. */
    {
        struct wire_record r;
        char topic[128];

        wire_count_init(&r);
        r.seq = 1;
        r.t_ms = now_ms() - 30000;
        r.u.count.door = 1;
        r.u.count.boarded = 2;
        r.u.count.door_open_ms = r.t_ms - 5000;
        r.u.count.door_close_ms = 10000000000000000LL;
        publish_batch("ghost-count", &r, 1, 0);
        publish_positions("bus-ok", seq, seq + 4, 0);
        expect_committed("door_close 1e16", "bus-ok", 1, seq + 4);
        seq += 5;
        topic_of(topic, sizeof topic, "ghost-count", "telemetry");
        if (wait_q(1,
                   "SELECT count(*) FROM dead_letters WHERE topic = '%s' "
                   "AND seq = 1 AND reason LIKE 'invalid: %%door time%%'",
                   topic) != 0)
            fail_msg("door_close 1e16: no dead letter for seq 1");
        /* Settled: the bus that sent it is acked past it. */
        if (wait_q(1, "SELECT acked_seq FROM vehicle_progress WHERE "
                      "vehicle_id = 'ghost-count'") != 0)
            fail_msg("door_close 1e16: seq 1 not settled");
        assert_int_equal(q("SELECT count(*) FROM passenger_counts"), 0);
    }

    /* The poisoned statuses are retained: after a restart they come back,
     * and still stop nothing. */
    assert_int_equal(harness_stop(px.be), 0);
    px.be = harness_backend_start(px.pg, px.m, NULL);
    assert_non_null(px.be);
    publish_positions("bus-ok", seq, seq + 4, 0);
    expect_committed("after a restart", "bus-ok", 1, seq + 4);
    assert_int_equal(retained_ack("bus-ok"), (long long)(seq + 4));
    assert_true(harness_alive(px.be));
}

/* (b) A count stamped 1970 (system clock, no RTC, before the first fix)
 * among good records: the good ones are stored, the bad one is a dead
 * letter with its seq, and the bus's ack passes it. */
static void test_record_from_1970(void **state)
{
    struct wire_record recs[10];
    int64_t t = now_ms() - 120000;

    (void)state;
    start();
    for (int i = 0; i < 10; i++)
        position(&recs[i], (uint64_t)i + 1, t + i * 1000);
    wire_count_init(&recs[4]);
    recs[4].seq = 5;
    recs[4].t_ms = 93000; /* 1970-01-01 00:01:33 */
    recs[4].time_source = WIRE_TIME_SYSTEM;
    recs[4].u.count.door = 2;
    recs[4].u.count.boarded = 3;
    publish_batch("bus-b", recs, 10, 1);

    if (wait_q(9, "SELECT count(*) FROM positions WHERE vehicle_id = "
                  "'bus-b' AND seq BETWEEN 1 AND 10 AND seq <> 5") != 0)
        fail_msg("the 9 good records of the batch were not stored");
    if (wait_q(10, "SELECT acked_seq FROM vehicle_progress WHERE "
                   "vehicle_id = 'bus-b'") != 0)
        fail_msg("the watermark did not pass the 1970 record");
    assert_int_equal(
        q("SELECT count(*) FROM dead_letters WHERE vehicle_id = 'bus-b' AND "
          "seq = 5 AND reason LIKE 'invalid: %%past%%'"),
        1);
    assert_int_equal(q("SELECT count(*) FROM dead_letters"), 1);
    assert_int_equal(q("SELECT count(*) FROM passenger_counts"), 0);
    assert_int_equal(retained_ack("bus-b"), 10);

    /* The bus goes on from there. */
    publish_positions("bus-b", 11, 12, 11);
    expect_committed("after the 1970 record", "bus-b", 11, 12);
    assert_int_equal(retained_ack("bus-b"), 12);
}

/* (c) A forger sends a far-ahead batch for a real bus: the real bus's
 * records are all stored once and its ack follows them, never jumping to
 * the forger's seq. A bus that really dropped records (status says so)
 * still gets its watermark over the gap. */
static void test_forged_far_ahead(void **state)
{
    struct wire_status s;

    (void)state;
    start();
    s = status_of("bus-c", 1);
    publish_status(&s);
    publish_positions("bus-c", 1, 5, 1);
    expect_committed("before the forgery", "bus-c", 1, 5);

    /* The forgery: far ahead, claiming nothing below is held. */
    publish_positions("bus-c", 1000000, 1000000, 1000000);
    /* A second one claims more than its own records. */
    publish_positions("bus-c", 6, 6, 900000);
    /* The real bus carries on (its status tells where it is). */
    s = status_of("bus-c", 7);
    publish_status(&s);
    for (uint64_t first = 6; first <= 36; first += 10)
        publish_positions("bus-c", first, first + 9, 6);
    expect_committed("after the forgery", "bus-c", 1, 45);
    /* Give a wrong watermark the time to show. */
    harness_sleep_ms(500);
    assert_int_equal(q("SELECT acked_seq FROM vehicle_progress WHERE "
                       "vehicle_id = 'bus-c'"),
                     45);
    assert_int_equal(q("SELECT count(*) - count(DISTINCT seq) FROM positions "
                       "WHERE vehicle_id = 'bus-c'"),
                     0);
    assert_int_equal(retained_ack("bus-c"), 45);

    /* A genuine gap: the bus dropped 1..39 (spool full) and says it has
     * issued up to 49. */
    s = status_of("bus-d", 50);
    s.dropped_positions = 39;
    publish_status(&s);
    publish_positions("bus-d", 40, 49, 40);
    expect_committed("a genuine gap", "bus-d", 40, 49);
    assert_int_equal(retained_ack("bus-d"), 49);
}

/* (d) A commit the database refuses for what one row holds (here a
 * trigger standing for any check the rule set does not know) is narrowed
 * down to that row and that status; everything else commits. */
static void test_commit_narrowed(void **state)
{
    struct wire_status s;

    (void)state;
    start();
    assert_int_equal(
        harness_pg_exec(
            px.pg,
            "CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.vehicle_id = 'bus-n' AND NEW.seq = 13 THEN "
            "RAISE EXCEPTION 'seq 13 refused' USING ERRCODE = '22023'; "
            "END IF; RETURN NEW; END $$;"
            "CREATE TRIGGER refuse_13 BEFORE INSERT ON positions FOR EACH "
            "ROW EXECUTE FUNCTION refuse_13();"
            "CREATE FUNCTION refuse_status() RETURNS trigger LANGUAGE "
            "plpgsql AS $$ BEGIN IF NEW.vehicle_id = 'bus-s' THEN RAISE "
            "EXCEPTION 'status refused' USING ERRCODE = '23514'; END IF; "
            "RETURN NEW; END $$;"
            "CREATE TRIGGER refuse_status BEFORE INSERT OR UPDATE ON "
            "vehicle_status FOR EACH ROW EXECUTE FUNCTION refuse_status();"),
        0);
    s = status_of("bus-s", 1);
    publish_status(&s);
    publish_positions("bus-n", 1, 10, 1);
    publish_positions("bus-ok", 1, 5, 1);
    publish_positions("bus-n", 11, 20, 11);
    publish_positions("bus-ok", 6, 10, 6);
    expect_committed("beside the refused row", "bus-ok", 1, 10);
    if (wait_q(19, "SELECT count(*) FROM positions WHERE vehicle_id = "
                   "'bus-n' AND seq BETWEEN 1 AND 20") != 0)
        fail_msg("bus-n's 19 acceptable records were not stored");
    if (wait_q(20, "SELECT acked_seq FROM vehicle_progress WHERE "
                   "vehicle_id = 'bus-n'") != 0)
        fail_msg("bus-n's watermark did not pass the refused seq 13");
    assert_int_equal(q("SELECT count(*) FROM dead_letters WHERE vehicle_id "
                       "= 'bus-n' AND seq = 13 AND reason LIKE "
                       "'database: %%seq 13 refused%%'"),
                     1);
    if (wait_q(1, "SELECT count(*) FROM dead_letters WHERE vehicle_id = "
                  "'bus-s' AND seq IS NULL AND reason LIKE "
                  "'database: %%status refused%%'") != 0)
        fail_msg("the refused status is not a dead letter");
    assert_int_equal(retained_ack("bus-n"), 20);
    assert_true(harness_alive(px.be));
}

/* (e) Another backend's retention dropped a day this backend remembers
 * as having partitions: the next rows of that day are stored at once,
 * not after the hourly retention run. */
static void test_partition_dropped_elsewhere(void **state)
{
    (void)state;
    start();
    publish_positions("bus-r", 1, 5, 1);
    expect_committed("before the drop", "bus-r", 1, 5);
    assert_true(q("SELECT shuttle_drop_positions_before(current_date + 3)") >=
                1);
    publish_positions("bus-r", 6, 10, 6);
    expect_committed("after the drop", "bus-r", 6, 10);
    assert_int_equal(q("SELECT count(*) FROM dead_letters"), 0);
}

/* Seqs at the top of bigint: INT64_MAX itself is refused (a watermark
 * there would have no next seq, and the statement computing every slow
 * vehicle's watermark would overflow); a vehicle parked at the highest
 * allowed seq stops no other bus's acks, also after a restart, when every
 * vehicle takes the slow path. */
static void test_top_seq(void **state)
{
    struct wire_record r;

    (void)state;
    start();
    position(&r, (uint64_t)INT64_MAX, now_ms() - 60000);
    publish_batch("bus-top", &r, 1, (uint64_t)INT64_MAX);
    assert_int_equal(wait_q(1, "SELECT count(*) FROM dead_letters WHERE "
                               "vehicle_id = 'bus-top' AND reason LIKE "
                               "'%%above the highest%%'"),
                     0);
    position(&r, WIRE_SEQ_MAX, now_ms() - 60000);
    publish_batch("bus-top", &r, 1, WIRE_SEQ_MAX);
    expect_committed("at the top", "bus-top", WIRE_SEQ_MAX, WIRE_SEQ_MAX);
    for (uint64_t round = 0; round < 2; round++) {
        /* Both arrive while the backend is away; it starts with no cache
         * of watermarks, so both vehicles go the slow way together. */
        assert_int_equal(harness_stop(px.be), 0);
        publish_positions("bus-ok", round * 5 + 1, round * 5 + 5,
                          round * 5 + 1);
        position(&r, WIRE_SEQ_MAX, now_ms() - 60000);
        publish_batch("bus-top", &r, 1, WIRE_SEQ_MAX);
        px.be = harness_backend_start(px.pg, px.m, NULL);
        assert_non_null(px.be);
        expect_committed("beside the top", "bus-ok", round * 5 + 1,
                         round * 5 + 5);
    }
    assert_false(harness_log_has(harness_proc_log(px.be), "out of range"));
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_poisoned_status_and_count, teardown),
        cmocka_unit_test_teardown(test_record_from_1970, teardown),
        cmocka_unit_test_teardown(test_forged_far_ahead, teardown),
        cmocka_unit_test_teardown(test_commit_narrowed, teardown),
        cmocka_unit_test_teardown(test_partition_dropped_elsewhere, teardown),
        cmocka_unit_test_teardown(test_top_seq, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
