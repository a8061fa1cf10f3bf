/* shuttle-onboard: the daemon on each bus: GPS and door counts to MQTT. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apc.h"
#include "clock.h"
#include "conf.h"
#include "doors.h"
#include "drivers/driver.h"
#include "gnss.h"
#include "gtime.h"
#include "held.h"
#include "log.h"
#include "mqtt.h"
#include "proc.h"
#include "sender.h"
#include "spool.h"
#include "wire.h"

struct onboard_conf {
    char *vehicle_id;
    char *gpsd_host;
    char *gpsd_port;
    char *mqtt_host;
    long long mqtt_port;
    char *mqtt_user;
    char *mqtt_password;
    char *mqtt_cafile;
    char *mqtt_certfile;
    char *mqtt_keyfile;
    long long mqtt_keepalive;
    char *spool_dir;
    long long spool_max_mb;
    long long spool_sync_ms;
    char *counter_input;
    char *counter_device;
    long long counter_baud;
    long long counter_doors;
    long long counter_silent_s;
    long long door_timeout_s;
    long long batch_records;
    long long resend_s;
    long long resend_max_s;
    long long status_interval_s;
    long long reconnect_max_s;
};

#define OPT(name, type, field, def, lo, hi, help)                              \
    {                                                                          \
        name, type, offsetof(struct onboard_conf, field), def, lo, hi, 0, help \
    }

static const struct conf_option onboard_options[] = {
    {"vehicle_id", CONF_STRING, offsetof(struct onboard_conf, vehicle_id), NULL,
     0, 0, 1,
     "this bus's id in topics and the database: letters, digits, - and _"},
    OPT("gpsd_host", CONF_STRING, gpsd_host, "127.0.0.1", 0, 0,
        "gpsd to read fixes from"),
    OPT("gpsd_port", CONF_STRING, gpsd_port, "2947", 0, 0, "gpsd's port"),
    OPT("mqtt_host", CONF_STRING, mqtt_host, "127.0.0.1", 0, 0,
        "MQTT broker host"),
    OPT("mqtt_port", CONF_INT, mqtt_port, "1883", 1, 65535,
        "MQTT broker port (8883 for TLS)"),
    OPT("mqtt_user", CONF_STRING, mqtt_user, NULL, 0, 0,
        "per-bus MQTT user name (none: anonymous)"),
    OPT("mqtt_password_file", CONF_SECRET, mqtt_password, NULL, 0, 0,
        "file holding the MQTT password; refused unless mode 0600 or "
        "stricter"),
    OPT("mqtt_cafile", CONF_STRING, mqtt_cafile, NULL, 0, 0,
        "CA certificate: set it to connect over TLS"),
    OPT("mqtt_certfile", CONF_STRING, mqtt_certfile, NULL, 0, 0,
        "client certificate for TLS (optional)"),
    OPT("mqtt_keyfile", CONF_STRING, mqtt_keyfile, NULL, 0, 0,
        "client key for TLS (optional)"),
    OPT("mqtt_keepalive", CONF_INT, mqtt_keepalive, "30", 5, 3600,
        "seconds between MQTT keepalives: how fast a dead link is noticed"),
    OPT("spool_dir", CONF_STRING, spool_dir, "/var/lib/shuttle-onboard", 0, 0,
        "directory of the on-disk journal (on the SD card)"),
    OPT("spool_max_mb", CONF_INT, spool_max_mb, "64", 1, 65536,
        "journal size bound; when full the oldest positions go first"),
    OPT("spool_sync_ms", CONF_INT, spool_sync_ms, "1000", 100, 60000,
        "positions reach the SD card at most this often (passenger counts "
        "at once); a power cut loses at most this much of the track"),
    OPT("counter_input", CONF_STRING, counter_input, "none", 0, 0,
        "passenger counter driver: none, serial or udp"),
    OPT("counter_device", CONF_STRING, counter_device, NULL, 0, 0,
        "serial: the tty (/dev/ttyUSB0); udp: PORT or ADDR:PORT to bind"),
    OPT("counter_baud", CONF_INT, counter_baud, "9600", 1200, 115200,
        "serial speed: 9600, 19200, 38400, 57600 or 115200"),
    OPT("counter_doors", CONF_INT, counter_doors, "2", 1, 8,
        "doors with a counter, numbered from 1"),
    OPT("counter_silent_s", CONF_INT, counter_silent_s, "120", 5, 86400,
        "no line from the counter this long: reported silent"),
    OPT("door_timeout_s", CONF_INT, door_timeout_s, "600", 10, 86400,
        "a door open this long without a line is closed and flagged"),
    OPT("batch_records", CONF_INT, batch_records, "500", 1, 2000,
        "most records in one MQTT message"),
    OPT("resend_s", CONF_INT, resend_s, "10", 1, 3600,
        "no acknowledgement for this long: send the oldest unacknowledged "
        "batch again"),
    OPT("resend_max_s", CONF_INT, resend_max_s, "600", 1, 86400,
        "each re-send without an acknowledgement doubles the wait (with "
        "jitter), up to this"),
    OPT("status_interval_s", CONF_INT, status_interval_s, "60", 5, 3600,
        "seconds between health reports"),
    OPT("reconnect_max_s", CONF_INT, reconnect_max_s, "30", 1, 3600,
        "longest wait between attempts to reach gpsd or the broker"),
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

/* A gateway may batch many counter lines in one datagram: read it whole
 * (a UDP read cuts off what does not fit). */
#define ONBOARD_CBUF 65536

/* A time before this means the clock is not set (no RTC, no fix yet). */
#define ONBOARD_CLOCK_SET_MS GTIME_CLOCK_SET_MS
/* How far behind GPS a set system clock may be and still be only stale
 * (kept over a shutdown): as far back as the backend takes records. */
#define ONBOARD_STALE_CLOCK_MS WIRE_PAST_MS
/* Seqs follow the time in microseconds (onboard_seq_guard): none can reach
 * 2100-01-01 in microseconds, however the bus's clock went. */
#define ONBOARD_SEQ_REACH 4102444800000000ULL
/* Records a spool may issue above its time floor: 10 a second for 30
 * years is 1e10. */
#define ONBOARD_SEQ_MARGIN 10000000000ULL

/* Passenger counts made before the clock was known, waiting for a fix. */

static volatile sig_atomic_t quit, reload;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload = 1;
    else
        quit = sig;
}

struct onboard {
    struct onboard_conf conf;
    const char *conffile;
    char config_hash[17];
    struct gnss *gnss;
    struct mqtt *mqtt;
    struct spool *spool;
    struct sender *sender;
    struct gtime gt;
    /* passenger counter */
    const struct counter_driver *cdrv;
    struct counter_dev *cdev;
    struct apc_reader *apc;
    struct doors *doors;
    char *cbuf; /* ONBOARD_CBUF bytes: one whole UDP datagram */
    int64_t counter_retry_ms;
    /* the last fix, for the position of a door episode */
    struct gnss_fix last_fix;
    int64_t last_fix_mono;
    int seq_floored; /* a fresh spool's numbering was moved past old seqs */
    int ack_seen;    /* an ack arrived since start: later ones move no floor */
    /* Counts made before the clock was known: journaled, they would carry
     * 1970 and be dead letters. Re-stamped from the first fix; on disk
     * meanwhile, so a restart in the same boot keeps them. */
    struct held *held;
    uint64_t refused_at_source; /* records the backend would refuse */
    uint64_t rollover_fixed;    /* fixes moved by 1024 weeks */
    int64_t refused_log_mono;   /* last refusal logged (rate limit) */
    char topic_status[128], topic_ack[128];
    int64_t gps_retry_ms, gps_backoff_ms;
    int64_t mqtt_retry_ms, mqtt_backoff_ms;
    int64_t next_status_ms, next_tick_ms;
    uint64_t records_written;
    /* Dropped records the last status told of. A drop or a numbering jump
     * makes a gap the backend's watermark may pass only when a status
     * says so: one goes out at the next tick, not a status interval later. */
    uint64_t reported_drops;
    int saved_load; /* people on board, kept across a reload */
    /* Connected over TLS without checking the broker certificate's dates:
     * no clock and no fix yet (onboard_tls_time). Status only: no record
     * is sent and no ack believed until a reconnect with a time. */
    int tls_unchecked;
    const char *const *overrides;
    int noverrides;
};

/*
 * A spool with no state file (first boot, new SD card) does not know which
 * seqs this bus already used. The backend's retained ack tells, once the
 * link is up; until then numbering starts above the current time in
 * microseconds: no bus writes a million records a second, so this is above
 * any seq an earlier spool handed out, and still far below 2^63.
 */
static void onboard_seq_guard(struct onboard *o, int64_t t_ms)
{
    struct spool_stats st;

    if (o->seq_floored)
        return;
    if (spool_stats(o->spool, &st) != SPOOL_OK || !st.fresh) {
        o->seq_floored = 1;
        return;
    }
    /* Before 2020 the clock is not set (no RTC, no fix yet): wait. */
    if (t_ms < ONBOARD_CLOCK_SET_MS)
        return;
    if (spool_seq_floor(o->spool, (uint64_t)t_ms * 1000) == SPOOL_OK) {
        o->seq_floored = 1;
        o->next_status_ms = 0;
        log_info("new spool: numbering records from %" PRIu64,
                 (uint64_t)t_ms * 1000);
    }
}

/*
 * A bus whose spool was lost (new SD card) must number above what the
 * backend already holds, and the backend's retained ack is how it learns
 * that. But anyone may publish an ack, so the numbering moves only for the
 * first ack after a fresh journal was opened (the retained one) and only
 * within what the time-in-microseconds scheme of onboard_seq_guard can
 * reach: a seq no real bus handed out (UINT64_MAX, which would also wrap
 * the floor to 0) is refused, and the numbering stays.
 */
static void onboard_ack_floor(struct onboard *o, uint64_t ack)
{
    struct spool_stats st;
    int64_t wall = clock_wall_ms();
    uint64_t reach;

    if (ack < spool_next_seq(o->spool))
        return;
    if (o->ack_seen || spool_stats(o->spool, &st) != SPOOL_OK || !st.fresh)
        return; /* sender_ack refuses and logs it */
    /* A clock before 2020 is not set: bound by the scheme's end instead. */
    reach = wall >= ONBOARD_CLOCK_SET_MS ? (uint64_t)wall * 1000
                                         : ONBOARD_SEQ_REACH;
    if (reach < spool_next_seq(o->spool))
        reach = spool_next_seq(o->spool);
    reach += ONBOARD_SEQ_MARGIN;
    if (ack >= reach) {
        log_warnx("fresh spool: retained ack %" PRIu64 " is beyond any seq a "
                  "bus can have issued (%" PRIu64 "): numbering stays",
                  ack, reach);
        return;
    }
    if (spool_seq_floor(o->spool, ack + 1) == SPOOL_OK) {
        o->seq_floored = 1;
        o->next_status_ms = 0;
        log_info("fresh spool: numbering records above the backend's ack "
                 "%" PRIu64,
                 ack);
    }
}

static int64_t onboard_now(const struct onboard *o, enum wire_time_source *src);
static void onboard_tls_recheck(struct onboard *o);

/*
 * The backend's rule set (wire_record_validate), applied before a record is
 * journaled: one the backend would refuse is never sent, it is counted as
 * refused at source (in the status) and logged, at most once a minute.
 * Returns 1 if `r` was refused.
 */
static int onboard_refuse(struct onboard *o, const struct wire_record *r)
{
    struct wire_record v = *r;
    enum wire_time_source src;
    int64_t now = onboard_now(o, &src);
    struct wire_window w = {WIRE_PAST_MS, WIRE_FUTURE_MS}, *wp = NULL;
    char why[160];

    /* The seq is the spool's to give; any valid one will do here. */
    v.seq = 1;
    /* The receiver's clock. Once a fix was taken, GPS time (carried on the
     * monotonic clock) is the bus's time and judges every record. Before
     * it, a set system clock judges, but it may be the time of the last
     * shutdown (fake-hwclock, no RTC, no network yet): a first fix up to
     * ONBOARD_STALE_CLOCK_MS ahead of it is the clock being stale, not the
     * fix being wrong; years ahead (a receiver's week rollover that did
     * not land near the clock) is refused. With neither (the first fix
     * after a boot without RTC) the time cannot be judged, only the rest. */
    if (src == WIRE_TIME_SYSTEM) {
        if (clock_wall_ms() >= ONBOARD_CLOCK_SET_MS) {
            now = clock_wall_ms();
            if (r->kind == WIRE_POSITION) {
                w.future_ms = ONBOARD_STALE_CLOCK_MS;
                wp = &w;
            }
        } else {
            now = r->t_ms;
        }
    }
    if (wire_record_validate(&v, now, wp, why, sizeof why) == WIRE_OK)
        return 0;
    o->refused_at_source++;
    if (o->refused_log_mono == 0 ||
        clock_mono_ms() - o->refused_log_mono >= 60000) {
        o->refused_log_mono = clock_mono_ms();
        log_warnx("refused at source, not journaled (%" PRIu64 " so far): "
                  "%s",
                  o->refused_at_source,
                  why + (strncmp(why, "seq 1: ", 7) ? 0 : 7));
    }
    return 1;
}

/* Journal one record. Returns 1 when it was, 0 when refused at source,
 * -1 when it could not be (out of memory, the spool failed: logged). */
static int onboard_append(struct onboard *o, enum spool_class cls,
                          struct wire_record *r)
{
    uint8_t *buf;
    size_t len;
    uint64_t seq;
    int rc;

    if (onboard_refuse(o, r))
        return 0;
    onboard_seq_guard(o, r->t_ms);
    r->seq = 0; /* the spool numbers it; the sender fills it in */
    if (wire_record_encode(r, &buf, &len) != WIRE_OK) {
        log_warnx("cannot encode a record: out of memory");
        return -1;
    }
    rc = spool_append(o->spool, cls, r->t_ms, buf, len, &seq);
    free(buf);
    if (rc != SPOOL_OK) {
        log_warn("spool append (%s)", spool_strerror(rc));
        return -1;
    }
    o->records_written++;
    sender_live(o->sender, seq);
    return 1;
}

static int onboard_append(struct onboard *o, enum spool_class cls,
                          struct wire_record *r);

/* A held file marked as being journaled: a crash came between journaling
 * its first count and dropping it from the file (onboard_release_held).
 * If the spool holds that count at the marked seq, it is dropped from the
 * file, so it is not journaled twice. Returns 1 if it was, else 0. */
static size_t onboard_held_reconcile(struct onboard *o)
{
    uint64_t from = held_release_from(o->held);
    const struct held_entry *h = held_get(o->held, 0);
    struct spool_item item;
    struct wire_record r;
    size_t got = 0, done = 0;

    if (from == 0 || !h)
        return 0;
    if (spool_peek(o->spool, from - 1, 1, SIZE_MAX, &item, &got) == SPOOL_OK &&
        got == 1 && item.seq == from &&
        wire_record_decode(item.payload, item.len, &r) == WIRE_OK &&
        r.kind == WIRE_COUNT && r.u.count.door == h->r.u.count.door &&
        r.u.count.boarded == h->r.u.count.boarded &&
        r.u.count.alighted == h->r.u.count.alighted)
        done = 1;
    if (held_drop(o->held, done) != HELD_OK)
        log_warn("held counts' file");
    return done;
}

/* The first usable fix: the counts held since boot get their time. Their
 * times were the system clock's; through the clock's offset from the
 * monotonic clock at the event, they are placed on the fix's time line.
 * One at a time, each marked in the file with the seq it is about to get
 * before it is journaled and dropped from the file after, so a crash at
 * any point journals none twice and loses none (onboard_held_reconcile).
 * Two file writes a count, only for the counts of a boot without a clock.
 * A spool or file that fails stops it; the rest wait for the next fix. */
static void onboard_release_held(struct onboard *o)
{
    size_t done = 0;

    while (held_count(o->held) > 0) {
        const struct held_entry *h = held_get(o->held, 0);
        struct wire_record r = h->r;
        int64_t shift =
            gtime_now(&o->gt, r.t_ms - h->wall_minus_mono, 0, NULL) - r.t_ms;
        int rc;

        r.t_ms += shift;
        if (r.u.count.door_open_ms)
            r.u.count.door_open_ms += shift;
        if (r.u.count.door_close_ms)
            r.u.count.door_close_ms += shift;
        r.time_source = WIRE_TIME_CARRIED;
        if (held_release_begin(o->held, spool_next_seq(o->spool)) != HELD_OK) {
            log_warn("held counts' file: they wait");
            break;
        }
        rc = onboard_append(o, SPOOL_COUNT, &r);
        if (rc < 0)
            break;
        /* Journaled, or refused at source (and counted as such). */
        if (held_drop(o->held, 1) != HELD_OK) {
            log_warn("held counts' file");
            break;
        }
        done += rc == 1;
    }
    if (done)
        log_info("%zu passenger counts made before the clock was known "
                 "re-stamped from the first fix",
                 done);
}

static void onboard_on_fix(void *arg, const struct gnss_fix *f)
{
    struct onboard *o = arg;
    struct wire_record r;
    int64_t t_ms;
    int moved;

    t_ms = gtime_rollover(f->t_ms, clock_wall_ms(), &moved);
    if (moved && o->rollover_fixed++ == 0)
        log_warnx("GPS time %" PRId64 " is 1024 weeks off (week rollover): "
                  "corrected to %" PRId64,
                  f->t_ms, t_ms);
    wire_position_init(&r);
    r.t_ms = t_ms;
    r.time_source = WIRE_TIME_GPS;
    r.u.pos.lat = f->lat;
    r.u.pos.lon = f->lon;
    r.u.pos.speed = f->speed;
    r.u.pos.track = f->track;
    r.u.pos.alt = f->alt;
    r.u.pos.hdop = f->hdop;
    r.u.pos.fix_mode = (uint32_t)f->mode;
    r.u.pos.sats_used = f->sats_used;
    /* A fix the backend would refuse (its time beyond a set clock's
     * window) must not become the bus's time either. */
    if (onboard_refuse(o, &r))
        return;
    gtime_fix(&o->gt, t_ms, clock_mono_ms());
    onboard_tls_recheck(o);
    o->last_fix = *f;
    o->last_fix.t_ms = t_ms;
    o->last_fix_mono = clock_mono_ms();
    onboard_append(o, SPOOL_POSITION, &r);
    onboard_release_held(o);
}

static int64_t onboard_now(const struct onboard *o, enum wire_time_source *src)
{
    return gtime_now(&o->gt, clock_mono_ms(), clock_wall_ms(), src);
}

static void onboard_on_event(struct onboard *o, const struct doors_event *ev)
{
    struct wire_record r;
    enum wire_time_source src;

    wire_count_init(&r);
    onboard_now(o, &src);
    r.t_ms = ev->door_close_ms;
    r.time_source = src;
    r.u.count.door = ev->door;
    r.u.count.boarded = ev->boarded;
    r.u.count.alighted = ev->alighted;
    r.u.count.door_open_ms = ev->door_open_ms;
    r.u.count.door_close_ms = ev->door_close_ms;
    r.u.count.load_after = ev->load_after;
    r.u.count.quality = ev->quality;
    /* The bus stands still at a stop: a fix from the last 10 s is where the
     * door closed. Older than that, say we do not know. */
    if (o->last_fix_mono && clock_mono_ms() - o->last_fix_mono <= 10000) {
        r.u.count.lat = o->last_fix.lat;
        r.u.count.lon = o->last_fix.lon;
    } else {
        r.u.count.quality |= WIRE_Q_NO_POSITION;
    }
    log_debug("door %u: %u in, %u out, load %d", ev->door, ev->boarded,
              ev->alighted, ev->load_after);
    /* No fix yet and a system clock that is not set (no RTC): the count's
     * times mean nothing to the backend. Keep it until the first fix. */
    if (src == WIRE_TIME_SYSTEM && clock_wall_ms() < ONBOARD_CLOCK_SET_MS) {
        int rc;

        /* Judged now on all but its time (there is no clock to judge it
         * by): what is held is journaled whole at the first fix. */
        if (onboard_refuse(o, &r))
            return;
        rc = held_add(o->held, &r, clock_wall_ms() - clock_mono_ms());

        if (rc == HELD_ERR_FULL) {
            o->refused_at_source++;
            log_warnx("no fix and no clock: %d passenger counts already "
                      "wait for a time; this one is refused at source",
                      HELD_MAX);
        } else if (rc != HELD_OK) {
            log_warn("held counts' file (kept in memory only)");
        }
        return;
    }
    onboard_append(o, SPOOL_COUNT, &r);
}

static void onboard_counter_read(struct onboard *o)
{
    char *buf = o->cbuf;
    ssize_t n;

    while ((n = o->cdrv->read(o->cdev, buf, ONBOARD_CBUF - 1)) > 0) {
        size_t off = 0;

        for (;;) {
            struct apc_msg m;
            struct doors_event ev;
            size_t used = 0;
            int rc =
                apc_reader_next(o->apc, buf + off, (size_t)n - off, &used, &m);

            off += used;
            if (rc == 0)
                break;
            if (rc < 0) {
                log_debug("counter line rejected: %s", apc_strerror(rc));
                continue;
            }
            if (doors_feed(o->doors, &m, onboard_now(o, NULL), &ev) == 1)
                onboard_on_event(o, &ev);
        }
    }
    if (n < 0) {
        log_warn("counter input %s lost", o->conf.counter_device);
        o->cdrv->close(o->cdev);
        o->cdev = NULL;
        apc_reader_reset(o->apc);
        o->counter_retry_ms = clock_mono_ms() + 5000;
    }
}

static void onboard_counter_open(struct onboard *o, int64_t now)
{
    struct counter_opts co;

    if (!o->cdrv || o->cdev || now < o->counter_retry_ms)
        return;
    co.path = o->conf.counter_device;
    co.baud = (long)o->conf.counter_baud;
    if (o->cdrv->open(&co, &o->cdev) != 0) {
        log_warn("counter %s %s", o->cdrv->name, o->conf.counter_device);
        o->cdev = NULL;
        o->counter_retry_ms = now + 5000;
        return;
    }
    log_info("counter input %s %s open", o->cdrv->name, o->conf.counter_device);
}

static void onboard_status(struct onboard *o, enum wire_status_state state)
{
    struct wire_status s;
    struct spool_stats st;
    uint8_t *buf;
    size_t len;
    int64_t now = onboard_now(o, NULL);

    memset(&s, 0, sizeof s);
    snprintf(s.vehicle_id, sizeof s.vehicle_id, "%s", o->conf.vehicle_id);
    s.state = state;
    s.t_ms = now;
    snprintf(s.version, sizeof s.version, "%s", SHUTTLE_VERSION);
    snprintf(s.config_hash, sizeof s.config_hash, "%s", o->config_hash);
    if (spool_stats(o->spool, &st) == SPOOL_OK) {
        s.spool_records = st.records;
        s.spool_bytes = st.bytes;
        s.oldest_unacked_age_s =
            st.oldest_t_ms ? (now - st.oldest_t_ms) / 1000 : 0;
        s.dropped_positions = st.dropped_positions;
        s.dropped_counts = st.dropped_counts;
        o->reported_drops = st.dropped_positions + st.dropped_counts;
        s.next_seq = st.next_seq;
        s.acked_seq = st.acked_seq;
    }
    s.gps_connected = gnss_fd(o->gnss) >= 0;
    s.gps_mode = (uint32_t)gnss_mode(o->gnss);
    snprintf(s.counter_state, sizeof s.counter_state, "%s",
             o->doors ? doors_counter_name(doors_counter_state(o->doors, now))
                      : "none");
    if (o->apc)
        s.counter_rejected = apc_stats_rejected(apc_reader_stats(o->apc));
    {
        struct sender_stats ss;

        sender_stats(o->sender, &ss);
        s.acks_refused = ss.acks_refused;
    }
    s.refused_at_source = o->refused_at_source;
    if (wire_status_encode(&s, &buf, &len) != WIRE_OK)
        return;
    mqtt_publish(o->mqtt, o->topic_status, buf, len, 1, true, NULL);
    free(buf);
}

static void onboard_on_connect(void *arg, bool session_present)
{
    struct onboard *o = arg;

    log_info("connected to broker %s:%lld", o->conf.mqtt_host,
             o->conf.mqtt_port);
    o->mqtt_backoff_ms = 0;
    mqtt_subscribe(o->mqtt, o->topic_ack, 1);
    sender_connected(o->sender);
    onboard_status(o, WIRE_ONLINE);
    o->next_status_ms = clock_mono_ms() + o->conf.status_interval_s * 1000;
}

/*
 * What the broker's certificate dates are checked against at the next
 * connect. A set system clock, as anywhere; an unset one (no RTC, no NTP
 * yet) with a fix: GPS time. With neither, OpenSSL would judge every
 * certificate against 1970 and the bus could never connect, not even to
 * say it is alive: it connects without the date check (chain and name are
 * still checked), sends only its status, and reconnects at the first fix.
 * Its journal may hold a previous boot's records; those wait, so that an
 * expired broker certificate (a key that has since leaked) cannot take
 * them and forge their ack.
 */
static void onboard_tls_time(struct onboard *o)
{
    enum wire_time_source src;
    int64_t now = onboard_now(o, &src);

    o->tls_unchecked = 0;
    if (!o->conf.mqtt_cafile || clock_wall_ms() >= ONBOARD_CLOCK_SET_MS) {
        mqtt_set_tls_time(o->mqtt, 0);
    } else if (src != WIRE_TIME_SYSTEM) { /* a fix's time, carried */
        mqtt_set_tls_time(o->mqtt, now / 1000);
    } else {
        mqtt_set_tls_time(o->mqtt, -1);
        o->tls_unchecked = 1;
        log_warnx("no clock and no GPS fix: connecting without checking the "
                  "broker certificate's dates; status only until a fix");
    }
}

/* The first fix after a connect without a time: connect again, checked. */
static void onboard_tls_recheck(struct onboard *o)
{
    if (!o->tls_unchecked)
        return;
    o->tls_unchecked = 0;
    if (mqtt_fd(o->mqtt) < 0)
        return; /* the next connect takes the fix's time */
    log_info("time known from GPS: reconnecting to check the broker "
             "certificate's dates");
    mqtt_disconnect(o->mqtt);
    o->mqtt_retry_ms = 0;
    o->mqtt_backoff_ms = 0;
}

static void onboard_on_disconnect(void *arg, int reason)
{
    struct onboard *o = arg;

    log_warnx("lost broker %s:%lld (reason %d)", o->conf.mqtt_host,
              o->conf.mqtt_port, reason);
}

static void onboard_on_message(void *arg, const char *topic,
                               const void *payload, size_t len, bool retained)
{
    struct onboard *o = arg;
    struct wire_ack a;
    int detail = 0;

    if (strcmp(topic, o->topic_ack) != 0)
        return;
    if (o->tls_unchecked) {
        log_warnx("ignoring an ack on %s: the broker's certificate dates "
                  "were not checked (no time yet)",
                  topic);
        return;
    }
    if (wire_ack_decode(payload, len, &a) != WIRE_OK ||
        strcmp(a.vehicle_id, o->conf.vehicle_id) != 0) {
        log_warnx("ignoring a malformed ack on %s (%zu bytes)", topic, len);
        return;
    }
    onboard_ack_floor(o, a.seq);
    o->ack_seen = 1;
    switch (sender_ack(o->sender, a.seq, clock_mono_ms(), &detail)) {
    case SENDER_OK:
        break;
    case SENDER_ERR_ACK:
        log_warnx("ack %" PRIu64 " on %s is above the highest seq issued "
                  "(%" PRIu64 "): refused, nothing freed",
                  a.seq, topic, spool_next_seq(o->spool) - 1);
        break;
    default:
        log_warnx("spool ack %" PRIu64 ": %s", a.seq, spool_strerror(detail));
    }
}

static void onboard_on_publish(void *arg, int mid)
{
    struct onboard *o = arg;

    sender_puback(o->sender, mid);
}

static const struct mqtt_callbacks onboard_mqtt_cb = {
    .on_connect = onboard_on_connect,
    .on_disconnect = onboard_on_disconnect,
    .on_message = onboard_on_message,
    .on_publish = onboard_on_publish,
};

static void onboard_gps_try(struct onboard *o, int64_t now)
{
    char err[256];

    if (gnss_fd(o->gnss) >= 0 || now < o->gps_retry_ms)
        return;
    if (gnss_connect(o->gnss, err, sizeof err) != GNSS_OK) {
        o->gps_retry_ms =
            now + clock_backoff_next(&o->gps_backoff_ms,
                                     o->conf.reconnect_max_s * 1000);
        log_warnx("%s; retrying in %" PRId64 " ms", err, o->gps_backoff_ms);
        return;
    }
    o->gps_backoff_ms = 0;
    log_info("reading fixes from gpsd %s:%s", o->conf.gpsd_host,
             o->conf.gpsd_port);
}

static void onboard_mqtt_try(struct onboard *o, int64_t now)
{
    char err[256];

    if (mqtt_fd(o->mqtt) >= 0 || now < o->mqtt_retry_ms)
        return;
    onboard_tls_time(o);
    if (mqtt_connect(o->mqtt, err, sizeof err) != MQTT_OK) {
        o->mqtt_retry_ms =
            now + clock_backoff_next(&o->mqtt_backoff_ms,
                                     o->conf.reconnect_max_s * 1000);
        log_warnx("%s; retrying in %" PRId64 " ms", err, o->mqtt_backoff_ms);
        return;
    }
    /* An async connect that fails later closes the socket: back off before
     * the next try either way. */
    o->mqtt_retry_ms = now + clock_backoff_next(&o->mqtt_backoff_ms,
                                                o->conf.reconnect_max_s * 1000);
}

static void onboard_tick(struct onboard *o, int64_t now)
{
    struct doors_event ev;
    int rc;

    rc = spool_flush_due(o->spool, now);
    if (rc < 0)
        log_warn("spool flush (%s)", spool_strerror(rc));
    if (now < o->next_tick_ms)
        return;
    o->next_tick_ms = now + 1000;
    if (o->doors)
        while (doors_tick(o->doors, onboard_now(o, NULL), &ev) == 1)
            onboard_on_event(o, &ev);
    if (mqtt_fd(o->mqtt) >= 0)
        mqtt_handle_misc(o->mqtt);
    {
        struct spool_stats st;

        if (spool_stats(o->spool, &st) == SPOOL_OK &&
            st.dropped_positions + st.dropped_counts != o->reported_drops)
            o->next_status_ms = 0;
    }
    if (mqtt_connected(o->mqtt) && now >= o->next_status_ms) {
        onboard_status(o, WIRE_ONLINE);
        o->next_status_ms = now + o->conf.status_interval_s * 1000;
    }
}

/* Load `file` and the -o overrides into o->conf and check what the table
 * cannot. Returns 0, or -1 with a message naming the file in err. */
static int onboard_load_conf(struct onboard *o, const char *file,
                             const char *const *overrides, int n, char *err,
                             size_t errlen)
{
    if (conf_load(onboard_options, &o->conf, file, err, errlen) != CONF_OK)
        return -1;
    if (conf_set_pairs(onboard_options, &o->conf, overrides, n, err, errlen) !=
        CONF_OK)
        return -1;
    if (!wire_vid_ok(o->conf.vehicle_id)) {
        snprintf(err, errlen,
                 "%s: vehicle_id '%s' must be 1-%d letters, digits, - or _",
                 file, o->conf.vehicle_id, WIRE_VID_MAX);
        return -1;
    }
    if (strcmp(o->conf.counter_input, "none") != 0) {
        if (!counter_driver_find(o->conf.counter_input)) {
            snprintf(err, errlen,
                     "%s: counter_input '%s' is not none, serial or udp", file,
                     o->conf.counter_input);
            return -1;
        }
        if (!o->conf.counter_device) {
            snprintf(err, errlen, "%s: counter_input %s needs counter_device",
                     file, o->conf.counter_input);
            return -1;
        }
    }
    return 0;
}

/*
 * Everything built from the configuration but the spool: gpsd, the broker
 * link, the sender and the counter. SIGHUP tears these down and builds them
 * again from the new configuration; the spool (and so every record) stays.
 */
static int onboard_start_parts(struct onboard *o, char *err, size_t errlen)
{
    struct mqtt_options mo;
    struct sender_options sdo;
    struct wire_status will;
    uint8_t *willbuf;
    size_t willlen;
    int rc;

    if (gnss_new(o->conf.gpsd_host, o->conf.gpsd_port, &o->gnss) != GNSS_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strcmp(o->conf.counter_input, "none") != 0) {
        struct doors_config dc = {
            .ndoors = (unsigned)o->conf.counter_doors,
            .close_timeout_ms = o->conf.door_timeout_s * 1000,
            .silent_ms = o->conf.counter_silent_s * 1000,
        };

        o->cdrv = counter_driver_find(o->conf.counter_input);
        o->apc = apc_reader_new((unsigned)o->conf.counter_doors);
        o->doors = doors_new(&dc);
        o->cbuf = malloc(ONBOARD_CBUF);
        if (!o->apc || !o->doors || !o->cbuf) {
            snprintf(err, errlen, "counter set-up failed (out of memory)");
            return -1;
        }
        doors_set_load(o->doors, o->saved_load);
        o->counter_retry_ms = 0;
    }
    memset(&will, 0, sizeof will);
    snprintf(will.vehicle_id, sizeof will.vehicle_id, "%s", o->conf.vehicle_id);
    will.state = WIRE_OFFLINE;
    snprintf(will.version, sizeof will.version, "%s", SHUTTLE_VERSION);
    snprintf(will.config_hash, sizeof will.config_hash, "%s", o->config_hash);
    if (wire_status_encode(&will, &willbuf, &willlen) != WIRE_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(&mo, 0, sizeof mo);
    mo.client_id = o->conf.vehicle_id;
    mo.host = o->conf.mqtt_host;
    mo.port = (int)o->conf.mqtt_port;
    mo.keepalive_s = (int)o->conf.mqtt_keepalive;
    mo.username = o->conf.mqtt_user;
    mo.password = o->conf.mqtt_password;
    mo.cafile = o->conf.mqtt_cafile;
    mo.certfile = o->conf.mqtt_certfile;
    mo.keyfile = o->conf.mqtt_keyfile;
    mo.will_topic = o->topic_status;
    mo.will_payload = willbuf;
    mo.will_len = willlen;
    mo.max_inflight = 20;
    rc = mqtt_new(&mo, &onboard_mqtt_cb, o, &o->mqtt, err, errlen);
    free(willbuf);
    if (rc != MQTT_OK)
        return -1;
    memset(&sdo, 0, sizeof sdo);
    sdo.vehicle_id = o->conf.vehicle_id;
    sdo.batch_records = (unsigned)o->conf.batch_records;
    sdo.resend_ms = o->conf.resend_s * 1000;
    sdo.resend_max_ms = o->conf.resend_max_s * 1000;
    sdo.seed = (unsigned)getpid() ^ (unsigned)clock_mono_ms();
    if (sender_new(o->spool, o->mqtt, &sdo, &o->sender) != SENDER_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->gps_retry_ms = o->mqtt_retry_ms = 0;
    o->gps_backoff_ms = o->mqtt_backoff_ms = 0;
    return 0;
}

static void onboard_stop_parts(struct onboard *o)
{
    sender_free(o->sender);
    o->sender = NULL;
    mqtt_free(o->mqtt);
    o->mqtt = NULL;
    gnss_free(o->gnss);
    o->gnss = NULL;
    if (o->cdev)
        o->cdrv->close(o->cdev);
    o->cdev = NULL;
    o->cdrv = NULL;
    apc_reader_free(o->apc);
    o->apc = NULL;
    if (o->doors)
        o->saved_load = doors_load(o->doors);
    doors_free(o->doors);
    o->doors = NULL;
    free(o->cbuf);
    o->cbuf = NULL;
}

/*
 * SIGHUP: read the file again. A bad file changes nothing. The vehicle id
 * and the spool directory name the bus's identity and its records: they
 * change only with a restart.
 */
static void onboard_reload(struct onboard *o)
{
    struct onboard n;
    struct doors_event ev;
    char err[512];

    memset(&n, 0, sizeof n);
    if (onboard_load_conf(&n, o->conffile, o->overrides, o->noverrides, err,
                          sizeof err) != 0) {
        log_warnx("SIGHUP: %s; keeping the running configuration", err);
        conf_free(onboard_options, &n.conf);
        return;
    }
    if (strcmp(n.conf.vehicle_id, o->conf.vehicle_id) != 0 ||
        strcmp(n.conf.spool_dir, o->conf.spool_dir) != 0) {
        log_warnx("SIGHUP: vehicle_id and spool_dir change only with a "
                  "restart; keeping the running configuration");
        conf_free(onboard_options, &n.conf);
        return;
    }
    /* Open door episodes become records now, so no boarding is lost. */
    if (o->doors)
        while (doors_flush(o->doors, &ev) == 1)
            onboard_on_event(o, &ev);
    if (o->mqtt && mqtt_connected(o->mqtt))
        mqtt_disconnect(o->mqtt);
    onboard_stop_parts(o);
    conf_free(onboard_options, &o->conf);
    o->conf = n.conf;
    if (conf_file_hash(o->conffile, o->config_hash) != 0)
        snprintf(o->config_hash, sizeof o->config_hash, "unknown");
    if (onboard_start_parts(o, err, sizeof err) != 0)
        fatalx("SIGHUP: %s", err);
    log_info("SIGHUP: configuration %s reloaded (hash %s)", o->conffile,
             o->config_hash);
}

static void onboard_run(struct onboard *o)
{
    while (!quit) {
        struct pollfd pfd[3];
        int ig = -1, im = -1, ic = -1, nfds = 0;
        int64_t now = clock_mono_ms();
        int64_t wake = o->next_tick_ms;
        int64_t flush;
        int detail = 0;
        int fd;

        if (reload) {
            reload = 0;
            onboard_reload(o);
        }
        onboard_gps_try(o, now);
        onboard_mqtt_try(o, now);
        onboard_counter_open(o, now);
        onboard_tick(o, now);
        if (!o->tls_unchecked &&
            sender_pump(o->sender, now, onboard_now(o, NULL), &detail) !=
                SENDER_OK)
            log_warnx("spool read: %s", spool_strerror(detail));

        if ((fd = gnss_fd(o->gnss)) >= 0) {
            pfd[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
            ig = nfds++;
        } else if (o->gps_retry_ms < wake) {
            wake = o->gps_retry_ms;
        }
        if ((fd = mqtt_fd(o->mqtt)) >= 0) {
            pfd[nfds] = (struct pollfd){
                .fd = fd,
                .events = POLLIN | (mqtt_want_write(o->mqtt) ? POLLOUT : 0)};
            im = nfds++;
        } else if (o->mqtt_retry_ms < wake) {
            wake = o->mqtt_retry_ms;
        }
        if (o->cdev) {
            pfd[nfds] =
                (struct pollfd){.fd = o->cdrv->fd(o->cdev), .events = POLLIN};
            ic = nfds++;
        }
        flush = spool_next_flush_ms(o->spool, now);
        if (flush >= 0 && now + flush < wake)
            wake = now + flush;
        if (poll(pfd, (nfds_t)nfds, wake > now ? (int)(wake - now) : 0) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        if (ig >= 0 && pfd[ig].revents) {
            if (gnss_read(o->gnss, onboard_on_fix, o) != GNSS_OK) {
                log_warnx("lost gpsd %s:%s", o->conf.gpsd_host,
                          o->conf.gpsd_port);
                o->gps_retry_ms = clock_mono_ms() + 500;
            }
        }
        if (ic >= 0 && pfd[ic].revents)
            onboard_counter_read(o);
        if (im >= 0 && mqtt_fd(o->mqtt) >= 0) {
            if (pfd[im].revents & (POLLIN | POLLERR | POLLHUP))
                mqtt_handle_read(o->mqtt);
            if (mqtt_fd(o->mqtt) >= 0 && (pfd[im].revents & POLLOUT))
                mqtt_handle_write(o->mqtt);
        }
    }
}

static void onboard_shutdown(struct onboard *o)
{
    struct doors_event ev;
    int rc;

    /* No boarding is lost at power-down: open episodes become records. */
    if (o->doors)
        while (doors_flush(o->doors, &ev) == 1)
            onboard_on_event(o, &ev);
    /* Counts still waiting for a time stay in their file: a restart in
     * this boot can still place them. */
    if (held_count(o->held) > 0)
        log_warnx("%zu passenger counts made before the clock was known "
                  "still wait for a first fix (kept for the next start in "
                  "this boot)",
                  held_count(o->held));
    rc = spool_flush(o->spool);
    if (rc != SPOOL_OK)
        log_warn("spool flush (%s)", spool_strerror(rc));
    if (mqtt_connected(o->mqtt)) {
        int detail;

        if (!o->tls_unchecked)
            sender_pump(o->sender, clock_mono_ms(), onboard_now(o, NULL),
                        &detail);
        onboard_status(o, WIRE_OFFLINE);
        for (int i = 0; i < 50 && mqtt_want_write(o->mqtt); i++)
            mqtt_handle_write(o->mqtt);
        mqtt_disconnect(o->mqtt);
    }
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-onboard [-dhnv] [-f file] [-o key=value] "
            "[--example-config]\n"
            "  -f file   configuration (default /etc/shuttle/onboard.conf)\n"
            "  -o k=v    set one option, after the file\n"
            "  -n        check the configuration and exit\n"
            "  -d        stay in the foreground, log to stderr\n"
            "  -v        more verbose logging\n"
            "  --example-config  print every option with its default\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"example-config", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    const char *conffile = "/etc/shuttle/onboard.conf";
    const char *overrides[32];
    int noverrides = 0, check = 0, foreground = 0, verbose = 0, ch, rc;
    struct onboard o;
    struct spool_options so;
    char err[512];

    while ((ch = getopt_long(argc, argv, "df:hno:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            foreground = 1;
            break;
        case 'f':
            conffile = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'o':
            if (noverrides == 32) {
                fprintf(stderr, "shuttle-onboard: too many -o options\n");
                return 2;
            }
            overrides[noverrides++] = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'E':
            conf_print_example(onboard_options, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    memset(&o, 0, sizeof o);
    o.conffile = conffile;
    o.overrides = overrides;
    o.noverrides = noverrides;
    if (onboard_load_conf(&o, conffile, overrides, noverrides, err,
                          sizeof err) != 0) {
        fprintf(stderr, "shuttle-onboard: %s\n", err);
        conf_free(onboard_options, &o.conf);
        return 2;
    }
    if (check) {
        printf("configuration OK\n");
        conf_free(onboard_options, &o.conf);
        return 0;
    }
    log_init(argv[0], foreground || isatty(2), verbose);
    if (conf_file_hash(conffile, o.config_hash) != 0)
        snprintf(o.config_hash, sizeof o.config_hash, "unknown");

    memset(&so, 0, sizeof so);
    so.max_bytes = (uint64_t)o.conf.spool_max_mb * 1024 * 1024;
    so.flush_interval_ms = (uint32_t)o.conf.spool_sync_ms;
    rc = spool_open(o.conf.spool_dir, &so, &o.spool);
    /* Its own exit code: the fix is another binary, not a repair. */
    if (rc == SPOOL_ERR_VERSION) {
        log_warnx("spool %s: %s", o.conf.spool_dir, spool_strerror(rc));
        exit(3);
    }
    if (rc != SPOOL_OK)
        fatalx("spool %s: %s%s%s", o.conf.spool_dir, spool_strerror(rc),
               rc == SPOOL_ERR_IO ? ": " : "",
               rc == SPOOL_ERR_IO ? strerror(errno) : "");
    {
        char boot[64] = "";
        unsigned lost = 0;
        FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");

        if (fp) {
            if (!fgets(boot, sizeof boot, fp))
                boot[0] = '\0';
            boot[strcspn(boot, "\n")] = '\0';
            fclose(fp);
        }
        rc = held_open(o.conf.spool_dir, boot, &o.held, &lost);
        if (rc != HELD_OK)
            fatalx("held counts in %s: %s", o.conf.spool_dir,
                   rc == HELD_ERR_IO ? strerror(errno) : "out of memory");
        if (lost) {
            o.refused_at_source += lost;
            log_warnx("%u passenger counts made before the clock was known "
                      "in an earlier boot cannot be placed in time: refused "
                      "at source",
                      lost);
        }
        lost = (unsigned)onboard_held_reconcile(&o);
        if (lost)
            log_info("%u held passenger counts were journaled before the "
                     "last stop: not again",
                     lost);
        if (held_count(o.held))
            log_info("%zu passenger counts from before this start wait for "
                     "a first fix",
                     held_count(o.held));
    }
    if (proc_setup(foreground, on_signal, 1) != 0)
        fatal("daemon");
    gtime_init(&o.gt);
    if (wire_topic(o.topic_status, sizeof o.topic_status, o.conf.vehicle_id,
                   "status") ||
        wire_topic(o.topic_ack, sizeof o.topic_ack, o.conf.vehicle_id, "ack"))
        fatalx("vehicle id too long");
    mqtt_lib_init();
    if (onboard_start_parts(&o, err, sizeof err) != 0)
        fatalx("%s", err);

    log_info("starting: vehicle %s, gpsd %s:%s, broker %s:%lld, spool %s",
             o.conf.vehicle_id, o.conf.gpsd_host, o.conf.gpsd_port,
             o.conf.mqtt_host, o.conf.mqtt_port, o.conf.spool_dir);
    onboard_run(&o);
    log_info("signal %d: flushing the spool and going offline", (int)quit);
    onboard_shutdown(&o);

    onboard_stop_parts(&o);
    mqtt_lib_cleanup();
    rc = spool_close(o.spool);
    if (rc != SPOOL_OK)
        log_warn("spool close (%s)", spool_strerror(rc));
    held_free(o.held);
    log_info("stopped after %" PRIu64 " records", o.records_written);
    conf_free(onboard_options, &o.conf);
    return 0;
}
