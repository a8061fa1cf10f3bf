/* Unit tests of onboard/apc (counter line protocol) and the counter drivers. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apc.h"
#include "drivers/driver.h"

/* "$<body>*HH\r\n" with the checksum computed here, independently. */
static void mkline(char *buf, size_t len, const char *body)
{
    unsigned sum = 0;
    const char *p;

    for (p = body; *p; p++)
        sum ^= (unsigned char)*p;
    snprintf(buf, len, "$%s*%02X\r\n", body, sum);
}

static int parse(const char *line, struct apc_msg *m)
{
    return apc_parse_line(line, strlen(line), m);
}

static int parse_body(const char *body, struct apc_msg *m)
{
    char line[256];

    mkline(line, sizeof line, body);
    return parse(line, m);
}

/* The examples of proto/counter-protocol.md, checksums as printed there. */
static void test_parse_door_open_close(void **state)
{
    struct apc_msg m;

    assert_int_equal(parse("$PCDO,1042,5531200,1*32\r\n", &m), APC_OK);
    assert_int_equal(m.type, APC_DOOR_OPEN);
    assert_int_equal(m.seq, 1042);
    assert_true(m.has_ctime);
    assert_int_equal(m.ctime_ms, 5531200);
    assert_int_equal(m.door, 1);

    assert_int_equal(parse("$PCDC,1046,5544730,1*3E", &m), APC_OK);
    assert_int_equal(m.type, APC_DOOR_CLOSE);
    assert_int_equal(m.seq, 1046);
    assert_int_equal(m.ctime_ms, 5544730);
    assert_int_equal(m.door, 1);

    /* ctime may be empty; bare "\n" ends a line too. */
    assert_int_equal(parse_body("PCDO,7,,4", &m), APC_OK);
    assert_false(m.has_ctime);
    assert_int_equal(m.door, 4);
    assert_int_equal(m.seq, 7);
    assert_int_equal(parse("$PCDO,1042,5531200,1*32\n", &m), APC_OK);
}

static void test_parse_people(void **state)
{
    struct apc_msg m;

    assert_int_equal(parse("$PCIO,1043,5532010,1,3,1*3C\r\n", &m), APC_OK);
    assert_int_equal(m.type, APC_PEOPLE);
    assert_int_equal(m.seq, 1043);
    assert_int_equal(m.door, 1);
    assert_int_equal(m.in, 3);
    assert_int_equal(m.out, 1);

    assert_int_equal(parse_body("PCIO,65535,0,8,200,0", &m), APC_OK);
    assert_int_equal(m.seq, 65535);
    assert_int_equal(m.door, 8);
    assert_int_equal(m.in, 200);
    assert_int_equal(m.out, 0);
}

static void test_parse_heartbeat(void **state)
{
    struct apc_msg m;

    assert_int_equal(parse("$PCHB,1044,5535000,APC-0007,OK*52\r\n", &m),
                     APC_OK);
    assert_int_equal(m.type, APC_HEARTBEAT);
    assert_int_equal(m.seq, 1044);
    assert_string_equal(m.counter_id, "APC-0007");
    assert_int_equal(m.status, APC_HB_OK);
    assert_int_equal(m.door, 0);

    assert_int_equal(parse("$PCHB,1050,5560000,APC-0007,FAULT*19", &m), APC_OK);
    assert_int_equal(m.status, APC_HB_FAULT);

    assert_int_equal(parse_body("PCHB,1,2,APC-0007,BAD", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCHB,1,2,,OK", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCHB,1,2,a b,OK", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCHB,1,2,ABCDEFGHIJKLMNOPQ,OK", &m),
                     APC_ERR_SYNTAX); /* 17 characters */
}

static void test_parse_fault(void **state)
{
    struct apc_msg m;

    assert_int_equal(parse("$PCFL,1045,5536100,2,17,beam blocked*76\r\n", &m),
                     APC_OK);
    assert_int_equal(m.type, APC_FAULT);
    assert_int_equal(m.door, 2);
    assert_int_equal(m.code, 17);
    assert_string_equal(m.text, "beam blocked");

    assert_int_equal(parse("$PCFL,1047,5546000,2,0,*07", &m), APC_OK);
    assert_int_equal(m.code, 0);
    assert_string_equal(m.text, "");

    /* Door 0 is the whole counter; the text keeps its commas. */
    assert_int_equal(
        parse("$PCFL,1048,5547000,0,3,sensor bus reset, recovering*19", &m),
        APC_OK);
    assert_int_equal(m.door, 0);
    assert_string_equal(m.text, "sensor bus reset, recovering");

    assert_int_equal(parse_body("PCFL,1,2,1,10000,x", &m), APC_ERR_RANGE);
    assert_int_equal(parse_body("PCFL,1,2,1,5", &m), APC_ERR_SYNTAX);
}

static void test_checksum(void **state)
{
    struct apc_msg m;

    assert_int_equal(parse("$PCDO,1042,5531200,1*33\r\n", &m),
                     APC_ERR_CHECKSUM);
    /* One flipped digit in the body, checksum of the original. */
    assert_int_equal(parse("$PCIO,1043,5532010,1,8,1*3C", &m),
                     APC_ERR_CHECKSUM);
    /* Lower-case hex is accepted. */
    assert_int_equal(parse("$PCDC,1046,5544730,1*3e", &m), APC_OK);
    assert_int_equal(parse("$PCDC,1046,5544730,1*3G", &m), APC_ERR_SYNTAX);
}

static void test_rejects_each_reason(void **state)
{
    struct apc_msg m;
    char long_line[128];

    /* Binary noise. */
    assert_int_equal(parse("$PCDO,1,2,\x01*00", &m), APC_ERR_BINARY);
    assert_int_equal(parse("\xff\xfe", &m), APC_ERR_BINARY);
    /* 81 characters before "\r\n": one over the limit. */
    memset(long_line, 'A', sizeof long_line);
    long_line[0] = '$';
    assert_int_equal(apc_parse_line(long_line, 81, &m), APC_ERR_TOOLONG);
    assert_int_equal(apc_parse_line(long_line, 80, &m), APC_ERR_TRUNCATED);
    /* Doors 1..8; 0 only for faults. */
    assert_int_equal(parse_body("PCDO,1,2,9", &m), APC_ERR_DOOR);
    assert_int_equal(parse_body("PCDO,1,2,0", &m), APC_ERR_DOOR);
    assert_int_equal(parse_body("PCIO,1,2,12345678901,1,1", &m), APC_ERR_DOOR);
    assert_int_equal(parse_body("PCFL,1,2,9,1,x", &m), APC_ERR_DOOR);
    /* Unknown types, ours or another talker's. */
    assert_int_equal(parse_body("PCXX,1,2,1", &m), APC_ERR_UNKNOWN_TYPE);
    assert_int_equal(parse_body("GPGGA,1,2,3", &m), APC_ERR_UNKNOWN_TYPE);
    assert_int_equal(parse_body("PCDOX,1,2,1", &m), APC_ERR_UNKNOWN_TYPE);
    /* Truncated: the checksum is gone or cut. */
    assert_int_equal(parse("$PCDO,1042,553", &m), APC_ERR_TRUNCATED);
    assert_int_equal(parse("$PCDO,1042,5531200,1*3", &m), APC_ERR_TRUNCATED);
    assert_int_equal(parse("$PCDO,1042,5531200,1*", &m), APC_ERR_TRUNCATED);
    /* Syntax. */
    assert_int_equal(parse("PCDO,1042,5531200,1*32", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse("", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCDO,1,2", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCDO,1,2,1,1", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCDO,-1,2,1", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCDO,1,2,x", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCIO,1,2,1,,1", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse_body("PCIO,1,2,1, 3,1", &m), APC_ERR_SYNTAX);
    assert_int_equal(parse("$PCDO,1042,5531200,1*32XY", &m), APC_ERR_SYNTAX);
    /* Ranges. */
    assert_int_equal(parse_body("PCDO,65536,2,1", &m), APC_ERR_RANGE);
    assert_int_equal(parse_body("PCIO,1,2,1,201,0", &m), APC_ERR_RANGE);
    assert_int_equal(parse_body("PCIO,1,4294967296,1,1,0", &m), APC_ERR_RANGE);
}

static void test_strerror_distinct(void **state)
{
    static const int errs[] = {APC_ERR_SYNTAX,       APC_ERR_CHECKSUM,
                               APC_ERR_TOOLONG,      APC_ERR_BINARY,
                               APC_ERR_UNKNOWN_TYPE, APC_ERR_DOOR,
                               APC_ERR_TRUNCATED,    APC_ERR_RANGE};
    size_t i, j, n = sizeof errs / sizeof errs[0];

    for (i = 0; i < n; i++) {
        assert_string_not_equal(apc_strerror(errs[i]), "unknown error");
        for (j = i + 1; j < n; j++)
            assert_string_not_equal(apc_strerror(errs[i]),
                                    apc_strerror(errs[j]));
    }
    assert_string_equal(apc_strerror(-99), "unknown error");
}

/* Feed `data` through a reader the way the daemon will; keep up to `max`
 * parsed messages and count rejects. Returns how many messages came out. */
static int feed_all(struct apc_reader *r, const void *data, size_t len,
                    struct apc_msg *msgs, int max, int *nrejects)
{
    const char *p = data;
    size_t used;
    int n = 0;

    for (;;) {
        struct apc_msg m;
        int rc = apc_reader_next(r, p, len, &used, &m);
        assert_true(used <= len);
        p += used;
        len -= used;
        if (rc == 0) {
            assert_int_equal(len, 0);
            break;
        }
        if (rc < 0) {
            if (nrejects)
                (*nrejects)++;
            continue;
        }
        assert_int_equal(rc, 1);
        if (n < max)
            msgs[n] = m;
        n++;
    }
    return n;
}

static void test_reader_chunks(void **state)
{
    const char *text = "$PCDO,1042,5531200,1*32\r\n"
                       "$PCIO,1043,5532010,1,3,1*3C\r\n"
                       "\r\n"
                       "$PCDC,1046,5544730,1*3E\r\n";
    struct apc_reader *r = apc_reader_new(4);
    struct apc_msg msgs[4];
    size_t i;
    int n = 0;

    assert_non_null(r);
    /* Byte by byte: the line is assembled across calls. */
    for (i = 0; i < strlen(text); i++)
        n += feed_all(r, text + i, 1, msgs + n, 4 - n, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(msgs[0].type, APC_DOOR_OPEN);
    assert_int_equal(msgs[1].in, 3);
    assert_int_equal(msgs[2].type, APC_DOOR_CLOSE);
    assert_int_equal(apc_reader_stats(r)->accepted, 3);
    assert_int_equal(apc_stats_rejected(apc_reader_stats(r)), 0);
    assert_int_equal(apc_reader_stats(r)->bytes, strlen(text));

    /* All at once. */
    n = feed_all(r, text, strlen(text), msgs, 4, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(msgs[2].seq, 1046);
    apc_reader_free(r);
}

static void test_reader_counts_rejects(void **state)
{
    struct apc_reader *r = apc_reader_new(2);
    const struct apc_stats *st = apc_reader_stats(r);
    struct apc_msg msgs[8];
    char buf[512];
    int n, rejects = 0;

    assert_non_null(r);
    /* Bad checksum, unknown type, door 3 of a 2-door bus, truncated by a
     * newline, a range error, and junk without '$'. */
    {
        static const char *bodies[] = {"PCZZ,1,2,1", "PCDO,5,,3",
                                       "PCIO,1,2,1,999,0"};
        char line[128];

        strcpy(buf, "$PCDO,1042,5531200,1*33\r\n");
        for (size_t i = 0; i < 3; i++) {
            mkline(line, sizeof line, bodies[i]);
            strcat(buf, line);
            if (i == 1)
                strcat(buf, "$PCIO,1043,55\r\n");
        }
        strcat(buf, "hello\r\n$PCDO,1042,5531200,1*32\r\n");
    }
    n = feed_all(r, buf, strlen(buf), msgs, 8, &rejects);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].seq, 1042);
    assert_int_equal(rejects, 6);
    assert_int_equal(st->checksum, 1);
    assert_int_equal(st->unknown_type, 1);
    assert_int_equal(st->door, 1);
    assert_int_equal(st->truncated, 1);
    assert_int_equal(st->range, 1);
    assert_int_equal(st->syntax, 1);
    assert_int_equal(st->binary, 0);
    assert_int_equal(st->toolong, 0);
    assert_int_equal(apc_stats_rejected(st), 6);
    assert_int_equal(st->accepted, 1);
    apc_reader_free(r);
}

static void test_reader_binary_noise(void **state)
{
    struct apc_reader *r = apc_reader_new(4);
    const struct apc_stats *st = apc_reader_stats(r);
    struct apc_msg msgs[4];
    char buf[600];
    size_t len = 0;
    int n, rejects = 0;

    /* Line noise glued to the front of a sentence: the '$' resyncs. */
    memcpy(buf, "\x00\xff\x13\x80", 4);
    len = 4;
    len += (size_t)sprintf(buf + len, "$PCDO,1042,5531200,1*32\r\n");
    /* A noise line of its own. */
    memcpy(buf + len, "\x01\x02\xfe\r\n", 5);
    len += 5;
    /* 300 bytes of noise with no '$' or newline: one reject, as noise. */
    memset(buf + len, 0x81, 300);
    len += 300;
    len += (size_t)sprintf(buf + len, "\n$PCDC,1046,5544730,1*3E\r\n");
    n = feed_all(r, buf, len, msgs, 4, &rejects);
    assert_int_equal(n, 2);
    assert_int_equal(msgs[0].type, APC_DOOR_OPEN);
    assert_int_equal(msgs[1].type, APC_DOOR_CLOSE);
    assert_int_equal(st->binary, 3);
    assert_int_equal(rejects, 3);
    assert_int_equal(apc_stats_rejected(st), 3);
    apc_reader_free(r);
}

static void test_reader_overlong(void **state)
{
    struct apc_reader *r = apc_reader_new(4);
    const struct apc_stats *st = apc_reader_stats(r);
    struct apc_msg msgs[4];
    char *big = malloc(10240);
    const char *good = "$PCIO,1043,5532010,1,3,1*3C\r\n";
    int n, rejects = 0;

    assert_non_null(big);
    /* 10 KB without a newline, in chunks, then a newline and a good line. */
    memset(big, 'A', 10240);
    big[0] = '$';
    for (int i = 0; i < 10; i++)
        assert_int_equal(feed_all(r, big + i * 1024, 1024, msgs, 4, &rejects),
                         0);
    n = feed_all(r, "\r\n", 2, msgs, 4, &rejects);
    assert_int_equal(n, 0);
    n = feed_all(r, good, strlen(good), msgs, 4, &rejects);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].in, 3);
    assert_int_equal(st->toolong, 1);
    assert_int_equal(rejects, 1);

    /* Again, with the good line glued straight onto the junk: its '$'
     * starts it afresh and the junk is still counted only once. */
    n = feed_all(r, big, 10240, msgs, 4, &rejects);
    assert_int_equal(n, 0);
    n = feed_all(r, good, strlen(good), msgs, 4, &rejects);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].seq, 1043);
    assert_int_equal(st->toolong, 2);
    assert_int_equal(apc_stats_rejected(st), 2);

    /* Junk with a '$' every 100 bytes: each '$' may start a good line,
     * but the junk region is still one reject, not a hundred. */
    for (int i = 0; i < 10240; i += 100)
        big[i] = '$';
    n = feed_all(r, big, 10240, msgs, 4, &rejects);
    n += feed_all(r, "\n", 1, msgs, 4, &rejects);
    assert_int_equal(n, 0);
    assert_int_equal(st->toolong, 3);
    assert_int_equal(apc_stats_rejected(st), 4);
    /* The fragment after the last '$' (40 bytes, then '\n') is judged as
     * a line of its own: truncated. */
    assert_int_equal(st->truncated, 1);

    /* Exactly 82 characters with "\r\n" is still fine. */
    {
        char line[128], body[96];
        memset(body, 'x', sizeof body);
        memcpy(body, "PCFL,1,2,1,5,", 13);
        body[76] = '\0'; /* "$" + 76 + "*HH" = 80, + "\r\n" = 82 */
        mkline(line, sizeof line, body);
        assert_int_equal(strlen(line), 82);
        n = feed_all(r, line, strlen(line), msgs, 4, &rejects);
        assert_int_equal(n, 1);
        assert_int_equal(strlen(msgs[0].text), 63);
        /* One more character and it is rejected. */
        body[76] = 'x';
        body[77] = '\0';
        mkline(line, sizeof line, body);
        n = feed_all(r, line, strlen(line), msgs, 4, &rejects);
        assert_int_equal(n, 0);
        assert_int_equal(st->toolong, 4);
    }
    free(big);
    apc_reader_free(r);
}

static void test_reader_dollar_restarts(void **state)
{
    struct apc_reader *r = apc_reader_new(4);
    const struct apc_stats *st = apc_reader_stats(r);
    struct apc_msg msgs[4];
    const char *text = "$PCIO,1043,55$PCDO,1042,5531200,1*32\r\n";
    int n, rejects = 0;

    /* A gateway that restarted mid-line: the cut line is truncated. */
    n = feed_all(r, text, strlen(text), msgs, 4, &rejects);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].type, APC_DOOR_OPEN);
    assert_int_equal(st->truncated, 1);
    assert_int_equal(rejects, 1);

    /* apc_reader_reset forgets a partial line without counting it. */
    assert_int_equal(feed_all(r, "$PCDO,1", 7, msgs, 4, &rejects), 0);
    apc_reader_reset(r);
    n = feed_all(r, "\n", 1, msgs, 4, &rejects);
    assert_int_equal(n, 0);
    assert_int_equal(apc_stats_rejected(st), 1);
    apc_reader_free(r);
}

static void test_reader_new_bounds(void **state)
{
    assert_null(apc_reader_new(0));
    assert_null(apc_reader_new(APC_DOOR_MAX + 1));
}

/* Wait for the device to be readable and read through the reader until
 * `want` messages came out or 2 s passed. */
static int drain(const struct counter_driver *drv, struct counter_dev *dev,
                 struct apc_reader *r, struct apc_msg *msgs, int want)
{
    struct pollfd pfd = {.fd = drv->fd(dev), .events = POLLIN};
    char buf[2048];
    int n = 0, tries = 0;

    while (n < want && tries++ < 20) {
        ssize_t got;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        while ((got = drv->read(dev, buf, sizeof buf)) > 0)
            n += feed_all(r, buf, (size_t)got, msgs + n, want - n, NULL);
        assert_int_equal(got, 0);
    }
    return n;
}

static void test_serial_pty(void **state)
{
    const struct counter_driver *drv = counter_driver_find("serial");
    struct counter_opts o = {.baud = 19200};
    struct apc_reader *r = apc_reader_new(4);
    struct counter_dev *dev = NULL;
    struct apc_msg msgs[4];
    const char *text = "$PCDO,1042,5531200,1*32\r\n"
                       "$PCIO,1043,5532010,1,3,1*3C\r\n"
                       "$PCDC,1046,5544730,1*3E\r\n";
    char buf[16];
    int master;

    assert_non_null(drv);
    assert_string_equal(drv->name, "serial");
    master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    o.path = ptsname(master);
    assert_non_null(o.path);

    /* Unsupported speeds and non-ttys are refused. */
    o.baud = 12345;
    assert_int_equal(drv->open(&o, &dev), -1);
    assert_int_equal(errno, EINVAL);
    o.baud = 19200;
    {
        struct counter_opts notty = {.path = "/dev/null", .baud = 9600};
        assert_int_equal(drv->open(&notty, &dev), -1);
        assert_int_equal(errno, ENOTTY);
    }

    assert_int_equal(drv->open(&o, &dev), 0);
    assert_non_null(dev);
    /* Nothing yet: a read returns 0 at once instead of blocking. */
    assert_int_equal(drv->read(dev, buf, sizeof buf), 0);

    /* Raw mode: "\r\n" arrives unchanged, nothing is echoed. */
    assert_int_equal(write(master, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(drain(drv, dev, r, msgs, 3), 3);
    assert_int_equal(msgs[0].type, APC_DOOR_OPEN);
    assert_int_equal(msgs[1].in, 3);
    assert_int_equal(msgs[1].out, 1);
    assert_int_equal(msgs[2].seq, 1046);
    assert_int_equal(apc_stats_rejected(apc_reader_stats(r)), 0);
    {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 50), 0); /* no echo */
    }

    /* The counter going away is an error the daemon can act on. */
    close(master);
    {
        struct pollfd pfd = {.fd = drv->fd(dev), .events = POLLIN};
        (void)poll(&pfd, 1, 500);
    }
    assert_int_equal(drv->read(dev, buf, sizeof buf), -1);
    assert_int_equal(errno, EIO);
    drv->close(dev);
    apc_reader_free(r);
}

static void test_udp_roundtrip(void **state)
{
    const struct counter_driver *drv = counter_driver_find("udp");
    struct counter_opts o = {.path = "127.0.0.1:0"};
    struct apc_reader *r = apc_reader_new(4);
    struct counter_dev *dev = NULL;
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    struct apc_msg msgs[8];
    char buf[16];
    int s;
    /* Two lines in one datagram; one datagram without its "\r\n"; one
     * datagram cut mid-line must not join the next one. */
    const char *dgrams[] = {
        "$PCDO,1042,5531200,1*32\r\n$PCIO,1043,5532010,1,3,1*3C\r\n",
        "$PCHB,1044,5535000,APC-0007,OK*52",
        "$PCIO,1045,553",
        "$PCDC,1046,5544730,1*3E\r\n",
    };

    assert_non_null(drv);
    assert_null(counter_driver_find("can"));
    assert_int_equal(drv->open(&o, &dev), 0);
    assert_int_equal(getsockname(drv->fd(dev), (struct sockaddr *)&sin, &slen),
                     0);
    assert_int_equal(sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(drv->read(dev, buf, sizeof buf), 0);

    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sendto(s, dgrams[i], strlen(dgrams[i]), 0,
                                (struct sockaddr *)&sin, sizeof sin),
                         (ssize_t)strlen(dgrams[i]));
    assert_int_equal(drain(drv, dev, r, msgs, 4), 4);
    assert_int_equal(msgs[0].type, APC_DOOR_OPEN);
    assert_int_equal(msgs[1].type, APC_PEOPLE);
    assert_int_equal(msgs[2].type, APC_HEARTBEAT);
    assert_string_equal(msgs[2].counter_id, "APC-0007");
    assert_int_equal(msgs[3].type, APC_DOOR_CLOSE);
    assert_int_equal(apc_reader_stats(r)->truncated, 1);
    close(s);
    drv->close(dev);

    /* Bad listen addresses are refused before any socket is made. */
    {
        static const char *bad[] = {
            "", "x:1", "1.2.3.4:", "::1:5", "[::1]5", "127.0.0.1:99999"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            o.path = bad[i];
            assert_int_equal(drv->open(&o, &dev), -1);
        }
    }
    /* A bare port and the IPv6 form bind. */
    o.path = "0";
    assert_int_equal(drv->open(&o, &dev), 0);
    drv->close(dev);
    o.path = "[::1]:0";
    if (drv->open(&o, &dev) == 0) /* no IPv6 in some containers */
        drv->close(dev);
    apc_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_door_open_close),
        cmocka_unit_test(test_parse_people),
        cmocka_unit_test(test_parse_heartbeat),
        cmocka_unit_test(test_parse_fault),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_rejects_each_reason),
        cmocka_unit_test(test_strerror_distinct),
        cmocka_unit_test(test_reader_chunks),
        cmocka_unit_test(test_reader_counts_rejects),
        cmocka_unit_test(test_reader_binary_noise),
        cmocka_unit_test(test_reader_overlong),
        cmocka_unit_test(test_reader_dollar_restarts),
        cmocka_unit_test(test_reader_new_bounds),
        cmocka_unit_test(test_serial_pty),
        cmocka_unit_test(test_udp_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
