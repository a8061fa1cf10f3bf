/* shuttle-backend: ingest bus telemetry from MQTT into PostgreSQL. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackq.h"
#include "acks.h"
#include "clock.h"
#include "conf.h"
#include "conninfo.h"
#include "db.h"
#include "fleet.h"
#include "gtfs.h"
#include "trips_db.h"
#include "http.h"
#include "ingest.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "mqtt.h"
#include "partitions.h"
#include "proc.h"
#include "schema.h"
#include "stats.h"
#include "wire.h"
#include "writer.h"

struct backend_conf {
    char *database;
    char *admin_database;
    long long raw_retention_days;
    int rebuild_interval_s_set; /* retired: shuttle-live's duty now */
    char *mqtt_host;
    long long mqtt_port;
    char *mqtt_client_id;
    char *mqtt_user;
    char *mqtt_password;
    char *mqtt_cafile;
    char *mqtt_certfile;
    char *mqtt_keyfile;
    long long mqtt_session_expiry;
    char *telemetry_topic;
    char *status_topic;
    long long batch_records;
    long long batch_age_ms;
    long long max_staged;
    long long max_age_days;
    long long max_ahead_s;
    char *http_listen;
    long long http_port;
};

#define OPT(name, type, field, def, lo, hi, help)                              \
    {                                                                          \
        name, type, offsetof(struct backend_conf, field), def, lo, hi, 0, help \
    }

static const struct conf_option backend_options[] = {
    OPT("database", CONF_STRING, database, "dbname=shuttle", 0, 0,
        "libpq connection string of the telemetry database"),
    OPT("admin_database", CONF_STRING, admin_database, NULL, 0, 0,
        "connection string of the schema owner, for migrations (default: "
        "database); then database may log in as a shuttle_ingest member"),
    OPT("raw_retention_days", CONF_INT, raw_retention_days, "0", 0, 36500,
        "drop raw positions older than this many service days (0: keep "
        "all); passenger counts are always kept"),
    OPT("rebuild_interval_s", CONF_RETIRED, rebuild_interval_s_set, NULL, 0, 0,
        "the periodic rebuild moved to shuttle-live: set "
        "rebuild_interval_s in live.conf"),
    OPT("mqtt_host", CONF_STRING, mqtt_host, "127.0.0.1", 0, 0,
        "MQTT broker host"),
    OPT("mqtt_port", CONF_INT, mqtt_port, "1883", 1, 65535,
        "MQTT broker port (8883 for TLS)"),
    OPT("mqtt_client_id", CONF_STRING, mqtt_client_id, "shuttle-backend", 0, 0,
        "fixed client id: the broker keeps this session's queue while the "
        "backend is down; give each backend process its own"),
    OPT("mqtt_user", CONF_STRING, mqtt_user, NULL, 0, 0,
        "MQTT user name (none: anonymous)"),
    OPT("mqtt_password_file", CONF_SECRET, mqtt_password, NULL, 0, 0,
        "file holding the MQTT password; must be mode 0600 or stricter"),
    OPT("mqtt_cafile", CONF_STRING, mqtt_cafile, NULL, 0, 0,
        "CA certificate: set it to connect over TLS"),
    OPT("mqtt_certfile", CONF_STRING, mqtt_certfile, NULL, 0, 0,
        "client certificate for TLS (the secured broker's shuttle-ingest "
        "identity)"),
    OPT("mqtt_keyfile", CONF_STRING, mqtt_keyfile, NULL, 0, 0,
        "key of the client certificate"),
    OPT("mqtt_session_expiry", CONF_INT, mqtt_session_expiry, "604800", 60,
        4294967295.0, "seconds the broker keeps our session while we are away"),
    OPT("telemetry_topic", CONF_STRING, telemetry_topic,
        "shuttle/v1/+/telemetry", 0, 0,
        "subscription for telemetry; $share/GROUP/shuttle/v1/+/telemetry "
        "spreads the load over several backends"),
    OPT("status_topic", CONF_STRING, status_topic, "shuttle/v1/+/status", 0, 0,
        "subscription for bus status reports"),
    OPT("batch_records", CONF_INT, batch_records, "5000", 1, 100000,
        "commit when this many records are staged"),
    OPT("batch_age_ms", CONF_INT, batch_age_ms, "50", 1, 10000,
        "commit staged records at least this often"),
    OPT("max_staged", CONF_INT, max_staged, "200000", 1000, 10000000,
        "most records staged per batch (one more batch may be committing or "
        "waiting for the database); beyond it batches are dropped "
        "unacknowledged and the buses re-send them"),
    OPT("max_age_days", CONF_INT, max_age_days, "400", 1, 36500,
        "records observed longer ago than this are dead letters"),
    OPT("max_ahead_s", CONF_INT, max_ahead_s, "86400", 1, 31536000,
        "records stamped this far in the future are dead letters"),
    OPT("http_listen", CONF_STRING, http_listen, "127.0.0.1", 0, 0,
        "address serving /metrics and /healthz (none: no HTTP server)"),
    OPT("http_port", CONF_INT, http_port, "9464", 0, 65535,
        "port serving /metrics and /healthz (0: no HTTP server)"),
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    quit = sig;
}

/* Only there so that a child's exit interrupts poll(); the loop reaps. */
static void on_child(int sig)
{
    (void)sig;
}

/* A database connection that is not up this long is given up. */
#define BACKEND_DB_CONNECT_TIMEOUT_MS 15000

struct backend {
    struct backend_conf conf;
    struct db *db;
    struct partitions *parts; /* which day partitions exist; retention */
    struct writer *writer;    /* staged rows, their commit and acks */
    struct mqtt *mqtt;
    struct ingest_stats stats;
    struct wire_window window;
    int64_t first_staged_ms; /* monotonic; 0: nothing staged */
    int64_t db_retry_ms, db_backoff_ms;
    int64_t mqtt_retry_ms, mqtt_backoff_ms;
    int64_t next_retention_ms;
    int migrated;
    /* The migrations run in a child (common/job), so that the loop never
     * waits for them: their connect may hang on an unreachable server. */
    struct job migration;
    int64_t db_connect_started_ms; /* monotonic; 0: not connecting */
    struct stats st;               /* the daemon's figures, for /metrics */
    int64_t commit_us;             /* in the commit's calls this iteration */
    int64_t commit_started_us;     /* monotonic; of the commit in flight */
    size_t commit_records;         /* records the commit in flight took */
    struct ackq *ackq;   /* committed acks not yet handed to the broker */
    int acks_unanswered; /* acks handed to the broker, not yet PUBACKed */
    struct fleet *fleet; /* per-vehicle last seen and ack, for /metrics */
    struct http *http;   /* NULL: no HTTP server */
};

/* Vehicles tracked for /metrics; beyond this they are only counted. */
#define BACKEND_FLEET_MAX 100000

static void backend_on_connect(void *arg, bool session_present)
{
    struct backend *b = arg;

    log_info("connected to broker %s:%lld (session %s)", b->conf.mqtt_host,
             b->conf.mqtt_port, session_present ? "resumed" : "new");
    b->mqtt_backoff_ms = 0;
    /* What was in flight on the old connection is re-sent by libmosquitto
     * or lost with a fresh session; either way the count starts again
     * (a late PUBACK cannot take it below 0). */
    b->acks_unanswered = 0;
    /* Subscribing again on a resumed session is harmless, and needed when
     * the broker lost it (restart without persistence). */
    if (mqtt_subscribe(b->mqtt, b->conf.telemetry_topic, 1) != MQTT_OK ||
        mqtt_subscribe(b->mqtt, b->conf.status_topic, 1) != MQTT_OK)
        log_warnx("subscribe failed; will retry on reconnect");
}

static void backend_on_disconnect(void *arg, int reason)
{
    struct backend *b = arg;

    log_warnx("lost broker %s:%lld (reason %d)", b->conf.mqtt_host,
              b->conf.mqtt_port, reason);
}

static void backend_commit(struct backend *b);

static int backend_metrics_init(struct backend *b)
{
    if (stats_init(&b->st) != 0 || ackq_new(&b->ackq) != ACKQ_OK)
        return -1;
    return fleet_new(BACKEND_FLEET_MAX, &b->fleet) == FLEET_OK ? 0 : -1;
}

/* Note an accepted message for the per-vehicle metrics. */
static void backend_seen(struct backend *b, const char *topic)
{
    char vid[WIRE_VID_MAX + 1];
    const char *kind = wire_topic_parse(topic, vid);

    /* Only telemetry: a status report may be the Last Will the broker
     * publishes for a bus that has gone. A full table counts the vehicle
     * in fleet_refused, which /metrics shows. */
    if (kind && strcmp(kind, "telemetry") == 0)
        (void)fleet_seen(b->fleet, vid, clock_wall_ms());
}

/* /metrics: stats renders it from what the modules count. */
static void backend_collect(void *arg, struct metrics_buf *m)
{
    struct backend *b = arg;
    struct stats_sources src = {&b->stats, b->writer, b->db,
                                b->mqtt,   b->fleet,  b->ackq};

    stats_render(&b->st, &src, m);
}

/* /healthz: healthy while both ends of the pipe are connected. */
static int backend_health(void *arg, char *why, size_t whylen)
{
    struct backend *b = arg;
    bool db = db_connected(b->db), broker = mqtt_connected(b->mqtt);

    if (db && broker)
        return 1;
    snprintf(why, whylen, "%s%s%s down", db ? "" : "database",
             !db && !broker ? " and " : "", broker ? "" : "broker");
    return 0;
}

static const struct http_callbacks backend_http_cb = {
    .collect = backend_collect,
    .health = backend_health,
};

static void backend_on_message(void *arg, const char *topic,
                               const void *payload, size_t len, bool retained)
{
    struct backend *b = arg;
    enum ingest_reason why = INGEST_R_COUNT;
    uint64_t dead = b->stats.dead_records;
    int r = ingest_message(b->writer, &b->stats, topic, payload, len,
                           clock_wall_ms(), &b->window, &why);

    /* Full (records or days): start committing what is staged, which
     * empties the batch filling, and try once more. */
    if (r == INGEST_ERR_OVERLOAD && writer_filling_items(b->writer) > 0 &&
        db_connected(b->db) && !writer_busy(b->writer)) {
        backend_commit(b);
        r = ingest_retry(b->writer, &b->stats, topic, payload, len,
                         clock_wall_ms(), &b->window, &why);
    }

    if (r != INGEST_OK)
        log_warnx("refused message on %s (%zu bytes): %s", topic, len,
                  ingest_reason_name(why));
    else
        backend_seen(b, topic);
    if (b->stats.dead_records > dead)
        log_warnx("refused %" PRIu64 " record(s) on %s: dead letters, "
                  "their seqs settled",
                  b->stats.dead_records - dead, topic);
    if (b->first_staged_ms == 0 && writer_filling_items(b->writer) > 0)
        b->first_staged_ms = clock_mono_ms();
}

static void backend_on_connect_error(void *arg, const char *why)
{
    struct backend *b = arg;

    log_warnx("%s; retrying in %" PRId64 " ms", why,
              b->mqtt_retry_ms - clock_mono_ms() > 0
                  ? b->mqtt_retry_ms - clock_mono_ms()
                  : 0);
}

static void backend_on_publish(void *arg, int mid);

static const struct mqtt_callbacks backend_mqtt_cb = {
    .on_connect = backend_on_connect,
    .on_disconnect = backend_on_disconnect,
    .on_message = backend_on_message,
    .on_publish = backend_on_publish,
    .on_connect_error = backend_on_connect_error,
};

/* The most acks handed to the broker and not yet answered; the others
 * wait in the ackq, one per vehicle. As many as libmosquitto sends at once
 * (max_inflight), so nothing piles up in its queue behind them. */
#define BACKEND_ACKS_IN_FLIGHT 100

/* Hand waiting acks to the broker while fewer than the limit are
 * unanswered: oldest first, each at its vehicle's newest watermark. */
static void backend_acks_flush(struct backend *b)
{
    const char *vid;
    uint64_t seq;

    while (b->acks_unanswered < BACKEND_ACKS_IN_FLIGHT &&
           mqtt_connected(b->mqtt) && ackq_peek(b->ackq, &vid, &seq)) {
        int rc = acks_publish(b->mqtt, vid, seq, clock_wall_ms());

        if (rc == ACKS_ERR_PUBLISH) {
            log_debug("ack for %s not sent (broker away)", vid);
            return; /* it waits for the next connection */
        }
        if (rc == ACKS_OK)
            b->acks_unanswered++;
        ackq_pop(b->ackq);
    }
}

static void backend_on_ack(void *arg, const char *vid, uint64_t seq)
{
    struct backend *b = arg;

    (void)fleet_acked(b->fleet, vid, seq);
    if (ackq_put(b->ackq, vid, seq) < 0)
        log_warnx("ack for %s dropped (out of memory); its next commit "
                  "sends it",
                  vid);
}

/* A PUBACK: our only QoS 1 publications are acks. */
static void backend_on_publish(void *arg, int mid)
{
    struct backend *b = arg;

    (void)mid;
    if (b->acks_unanswered > 0)
        b->acks_unanswered--;
}

/* The schema owner's connection string: migrations, the timetable and the
 * derived tables are written through it. */
static const char *backend_admin(const struct backend_conf *c)
{
    return c->admin_database ? c->admin_database : c->database;
}

static void backend_log_rebuild(const char *day,
                                const struct trips_db_summary *s)
{
    log_info("rebuilt %s in %.2f s: %zu vehicles, %zu fixes, %zu door "
             "events, %zu stop visits, %zu runs; trips %zu scheduled, %zu "
             "operated, %zu partial, %zu missed, %zu late; %ld boarded",
             day, s->seconds, s->vehicles, s->fixes, s->doors, s->visits,
             s->runs, s->trips, s->operated, s->partial, s->missed, s->late,
             s->boarded);
}

/* Apply the migrations as the schema owner (admin_database, or database). */
static int backend_migrate(const struct backend_conf *c, char *err,
                           size_t errlen)
{
    struct db *admin;
    int rc;

    if (db_new(c->admin_database ? c->admin_database : c->database, &admin) !=
        DB_OK) {
        snprintf(err, errlen, "out of memory");
        return DB_ERR_NOMEM;
    }
    rc = db_connect(admin, err, errlen);
    if (rc == DB_OK)
        rc = db_migrate(admin, err, errlen);
    db_free(admin);
    return rc;
}

/* The migration process: exit 0 once the schema is current. */
static int backend_migrate_job(void *arg)
{
    const struct backend *b = arg;
    char err[512];

    int rc = backend_migrate(&b->conf, err, sizeof err);

    if (rc != DB_OK) {
        log_warnx("%s", err);
        return rc == DB_ERR_NEWER ? SCHEMA_EXIT : 1;
    }
    return 0;
}

static void backend_db_retry(struct backend *b, int64_t now, const char *err)
{
    b->db_retry_ms = now + clock_backoff_next(&b->db_backoff_ms, 30000);
    log_warnx("%s; retrying in %" PRId64 " ms", err, b->db_backoff_ms);
}

/* A finished migration child: 1 when it exited 0, 0 when it failed (said
 * why), -1 while it runs or none was started. Never waits. */
static int backend_migration_reap(struct backend *b)
{
    int st;

    switch (job_reap(&b->migration, &st)) {
    case JOB_IDLE:
    case JOB_RUNNING:
        return -1;
    case JOB_DONE:
        log_debug("migration process done in %.2f s",
                  (double)(clock_mono_ms() - b->migration.started_ms) / 1000.0);
        return 1;
    case JOB_FAILED:
        /* A newer schema does not get older by retrying: stop, so that the
         * service manager shows it (the child said which migration). Nothing
         * is staged before the first connect. */
        if (st == SCHEMA_EXIT) {
            log_warnx("stopping: the database schema is newer than this "
                      "shuttle-backend");
            exit(SCHEMA_EXIT);
        }
        log_warnx("migration process failed (exit %d)", st);
        return 0;
    case JOB_KILLED:
        log_warnx("migration process killed by signal %d", st);
        return 0;
    case JOB_LOST:
        log_warnx("migration process lost: %s", strerror(st));
        return 0;
    }
    return 0;
}

/* Migrate (once, in a child), then connect; nothing here waits. */
static void backend_db_try(struct backend *b, int64_t now)
{
    char err[512];
    int migrated = backend_migration_reap(b);

    if (migrated == 0) {
        backend_db_retry(b, now, "database not migrated");
        return;
    }
    if (migrated == 1)
        b->migrated = 1;
    if (db_connecting(b->db) &&
        now - b->db_connect_started_ms > BACKEND_DB_CONNECT_TIMEOUT_MS) {
        db_disconnect(b->db);
        backend_db_retry(b, now, "PostgreSQL: no answer to connect");
        return;
    }
    if (db_connected(b->db) || db_connecting(b->db) || b->migration.pid > 0 ||
        now < b->db_retry_ms)
        return;
    if (!b->migrated) {
        /* Niced: on a busy machine the loop comes first. */
        if (job_start(&b->migration, "migration", 10, backend_migrate_job, b,
                      now) != JOB_OK) {
            log_warn("migration: fork");
            backend_db_retry(b, now, "cannot start the migration");
        }
        return;
    }
    if (db_connect_start(b->db, err, sizeof err) != DB_OK) {
        backend_db_retry(b, now, err);
        return;
    }
    b->db_connect_started_ms = now;
}

/* The connection's socket is ready: take the connect a step further. */
static void backend_db_step(struct backend *b)
{
    char err[512];
    int rc = db_connect_step(b->db, err, sizeof err);

    if (rc == DB_PENDING)
        return;
    b->db_connect_started_ms = 0;
    if (rc != DB_OK) {
        backend_db_retry(b, clock_mono_ms(), err);
        return;
    }
    b->db_backoff_ms = 0;
    log_info("database ready; service days in %s", db_service_zone(b->db));
}

/* Start a connect when none is up or under way. The next attempt is
 * scheduled now, with back-off: a connect that fails later (refused,
 * timed out) leaves mqtt_fd -1 and must not be retried at once. A CONNACK
 * resets the back-off. */
static void backend_mqtt_try(struct backend *b, int64_t now)
{
    char err[512];

    /* Not before the database has been reached once: until its service
     * zone is known nothing can be staged, and a resumed session's queue
     * would be refused and lost for senders that do not re-send. */
    if (mqtt_fd(b->mqtt) >= 0 || now < b->mqtt_retry_ms ||
        !db_service_zone(b->db)[0])
        return;
    b->mqtt_retry_ms = now + clock_backoff_next(&b->mqtt_backoff_ms, 30000);
    if (mqtt_connect(b->mqtt, err, sizeof err) != MQTT_OK)
        log_warnx("%s; retrying in %" PRId64 " ms", err, b->mqtt_backoff_ms);
}

/* A commit ended (rc from writer_commit_step or writer_commit): count
 * it, log a failure. */
static void backend_commit_done(struct backend *b, int rc, uint64_t n,
                                uint64_t narrowed, const char *err)
{
    if (writer_narrowed(b->writer) > narrowed)
        log_warnx("commit refused %" PRIu64 " item(s) for their content: "
                  "dead letters, the rest committed",
                  writer_narrowed(b->writer) - narrowed);
    if (rc != DB_OK) {
        b->st.commit_failures++;
        /* 25006, read_only_sql_transaction: a standby, or a primary made
         * read-only. The rows are the primary's to take: like a lost
         * connection, keep them unacknowledged (no dead letters) and
         * connect again, which with target_session_attrs=read-write skips
         * read-only servers. */
        if (strcmp(db_sqlstate(b->db), "25006") == 0) {
            db_disconnect(b->db);
            log_warnx("commit refused: the database server is read-only (a "
                      "standby?); keeping %zu staged records and "
                      "reconnecting (put target_session_attrs=read-write in "
                      "database to reach only the primary): %s",
                      writer_staged_records(b->writer), err);
        } else
            log_warnx("commit failed, keeping %zu staged records: %s",
                      writer_staged_records(b->writer), err);
        b->db_retry_ms =
            clock_mono_ms() + clock_backoff_next(&b->db_backoff_ms, 30000);
        return;
    }
    metrics_hist_observe(&b->st.commit_seconds,
                         (double)(clock_mono_us() - b->commit_started_us) /
                             1e6);
    metrics_hist_observe(&b->st.commit_records, (double)b->commit_records);
    b->st.committed += n;
}

/* Start committing what is staged; the loop drives it on (backend_step).
 * Staging goes on into the next batch meanwhile. */
static void backend_commit(struct backend *b)
{
    char err[512];
    uint64_t narrowed;
    int64_t t0;
    int rc;

    if (writer_busy(b->writer) || writer_staged_items(b->writer) == 0 ||
        !db_connected(b->db))
        return;
    t0 = clock_mono_us();
    narrowed = writer_narrowed(b->writer);
    rc = writer_commit_start(b->writer, backend_on_ack, b, err, sizeof err);
    /* Sealed: what is still staged beside it is the next batch's. */
    b->commit_records =
        writer_staged_records(b->writer) - writer_filling_records(b->writer);
    b->commit_us += clock_mono_us() - t0;
    b->commit_started_us = t0;
    b->first_staged_ms =
        writer_filling_items(b->writer) > 0 ? clock_mono_ms() : 0;
    if (rc != DB_OK)
        backend_commit_done(b, rc, 0, narrowed, err);
}

/* The commit's socket is ready: take it a step further. */
static void backend_commit_step(struct backend *b)
{
    char err[512];
    uint64_t n = 0, narrowed = writer_narrowed(b->writer);
    int64_t t0 = clock_mono_us();
    int rc = writer_commit_step(b->writer, &n, err, sizeof err);

    b->commit_us += clock_mono_us() - t0;
    if (rc != DB_PENDING)
        backend_commit_done(b, rc, n, narrowed, err);
}

/* At shutdown: the commit in flight and what is staged, waiting. */
static void backend_commit_all(struct backend *b)
{
    char err[512];
    uint64_t n = 0, narrowed = writer_narrowed(b->writer);
    int rc;

    if (writer_staged_items(b->writer) == 0 || !db_connected(b->db))
        return;
    b->commit_started_us = clock_mono_us();
    b->commit_records = writer_staged_records(b->writer);
    rc = writer_commit(b->writer, backend_on_ack, b, &n, err, sizeof err);
    backend_commit_done(b, rc, n, narrowed, err);
}

/* The server spoke while we were idle: usually to say it is going away. */
static void backend_db_check(struct backend *b)
{
    char err[512];

    if (db_connected(b->db) && db_check(b->db, err, sizeof err) != DB_OK)
        log_warnx("%s; reconnecting", err);
}

/* Hourly: drop raw positions past the retention (if one is set). */
static void backend_retention(struct backend *b, int64_t now)
{
    char err[512];
    int dropped = 0;

    if (b->conf.raw_retention_days == 0 || !db_connected(b->db))
        return;
    if (writer_busy(b->writer))
        return; /* the connection is the commit's; next iteration */
    b->next_retention_ms = now + 3600 * 1000;
    if (partitions_drop_positions_before(
            b->parts, b->db,
            clock_wall_ms() - b->conf.raw_retention_days * 86400000LL, &dropped,
            err, sizeof err) != DB_OK)
        log_warnx("%s", err);
    else if (dropped > 0)
        log_info("retention: dropped %d days of raw positions", dropped);
}

static int backend_commit_due(struct backend *b, int64_t now)
{
    if (writer_busy(b->writer) || writer_staged_items(b->writer) == 0)
        return 0;
    return writer_staged_records(b->writer) >= (size_t)b->conf.batch_records ||
           now - b->first_staged_ms >= b->conf.batch_age_ms;
}

/* Count one iteration's busy time, poll's return to the next poll. */
static void backend_stall(struct backend *b, int64_t busy_us)
{
    stats_stall(&b->st, busy_us, b->commit_us);
    b->commit_us = 0;
}

static void backend_run(struct backend *b)
{
    int64_t last_misc = 0;
    int64_t busy_from = clock_mono_us();

    while (!quit) {
        struct pollfd pfd[5];
        int64_t now = clock_mono_ms();
        int timeout = 1000;
        int nfds = 0;
        /* broker, http, db idle, db connect, commit */
        int mi = -1, hi = -1, di = -1, ci = -1, wi = -1;
        int hto;
        int fd;
        short ev;

        backend_db_try(b, now);
        backend_mqtt_try(b, now);
        if (backend_commit_due(b, now))
            backend_commit(b);
        if (now >= b->next_retention_ms)
            backend_retention(b, now);

        fd = mqtt_fd(b->mqtt);
        if (fd >= 0) {
            mi = nfds++;
            pfd[mi].fd = fd;
            pfd[mi].events = POLLIN | (mqtt_want_write(b->mqtt) ? POLLOUT : 0);
        }
        if ((fd = http_fd(b->http)) >= 0) {
            hi = nfds++;
            pfd[hi].fd = fd;
            pfd[hi].events = POLLIN;
        }
        backend_acks_flush(b);
        /* The connection is the commit's while one is in flight; else it
         * is idle and watched for the server going away. */
        if ((fd = writer_commit_fd(b->writer, &ev)) >= 0) {
            wi = nfds++;
            pfd[wi].fd = fd;
            pfd[wi].events = ev;
        } else if ((fd = db_fd(b->db)) >= 0) {
            di = nfds++;
            pfd[di].fd = fd;
            pfd[di].events = POLLIN;
        }
        if ((fd = db_connect_fd(b->db, &ev)) >= 0) {
            ci = nfds++;
            pfd[ci].fd = fd;
            pfd[ci].events = ev;
        }
        /* Without a database nothing can be committed: wait for the retry
         * below, or the overdue batch makes this loop spin. */
        if (writer_staged_items(b->writer) > 0 && db_connected(b->db) &&
            !writer_busy(b->writer)) {
            int64_t left = b->first_staged_ms + b->conf.batch_age_ms - now;
            timeout = left < 0 ? 0 : (int)left;
        }
        if (!db_connected(b->db) && !db_connecting(b->db) &&
            b->migration.pid <= 0 && b->db_retry_ms - now < timeout)
            timeout =
                (int)(b->db_retry_ms - now > 0 ? b->db_retry_ms - now : 0);
        /* SIGCHLD interrupts poll, unless it came just before: then this
         * bounds how late a finished job is noticed. */
        if (b->migration.pid > 0 && timeout > 100)
            timeout = 100;
        hto = http_timeout_ms(b->http);
        if (hto >= 0 && hto < timeout)
            timeout = hto;
        backend_stall(b, clock_mono_us() - busy_from);
        if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
            busy_from = clock_mono_us();
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        busy_from = clock_mono_us();
        if (mi >= 0 && (pfd[mi].revents & (POLLIN | POLLERR | POLLHUP)))
            mqtt_handle_read(b->mqtt);
        if (mi >= 0 && mqtt_fd(b->mqtt) >= 0 && (pfd[mi].revents & POLLOUT))
            mqtt_handle_write(b->mqtt);
        /* MHD must also run once its timeout is up, activity or not; an
         * early run is harmless. It fails only when misconfigured. */
        if (hi >= 0 && (pfd[hi].revents || (hto >= 0 && hto <= timeout)))
            (void)http_run(b->http);
        if (wi >= 0 && pfd[wi].revents)
            backend_commit_step(b);
        if (di >= 0 && pfd[di].revents)
            backend_db_check(b);
        if (ci >= 0 && pfd[ci].revents)
            backend_db_step(b);
        now = clock_mono_ms();
        if (now - last_misc >= 1000) {
            last_misc = now;
            if (mqtt_fd(b->mqtt) >= 0)
                mqtt_handle_misc(b->mqtt);
        }
    }
}

/*
 * --migrate, --load-gtfs DIR, --rebuild DATE: migrate, then load or rebuild,
 * as the schema owner. Returns the exit code: 0, 1 (database), 2 (bad date),
 * SCHEMA_EXIT (the schema is newer than this binary).
 */
static int backend_oneshot(const struct backend_conf *c, const char *gtfs_dir,
                           const char *rebuild_day)
{
    char err[512];

    int mrc = backend_migrate(c, err, sizeof err);

    if (mrc != DB_OK) {
        log_warnx("%s", err);
        return mrc == DB_ERR_NEWER ? SCHEMA_EXIT : 1;
    }
    log_info("database schema is up to date");
    if (gtfs_dir) {
        struct gtfs_summary gs;

        if (gtfs_load(backend_admin(c), gtfs_dir, &gs, err, sizeof err) !=
            GTFS_OK) {
            log_warnx("GTFS not loaded: %s", err);
            return 1;
        }
        printf("loaded feed %s: %lld routes, %lld stops, %lld trips, "
               "%lld stop times, %lld shape points\n",
               gs.feed_version[0] ? gs.feed_version : "(no feed_version)",
               gs.routes, gs.stops, gs.trips, gs.stop_times, gs.shape_points);
    }
    if (rebuild_day) {
        struct trips_db_summary ts;
        int rc = trips_db_rebuild(backend_admin(c), rebuild_day, &ts, err,
                                  sizeof err);

        if (rc != TRIPS_DB_OK) {
            log_warnx("rebuild of %s failed: %s", rebuild_day, err);
            return rc == TRIPS_DB_ERR_DATE ? 2 : 1;
        }
        backend_log_rebuild(rebuild_day, &ts);
    }
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-backend [-dhnv] [-f file] [-o key=value] "
            "[--migrate] [--example-config]\n"
            "  -f file   configuration (default /etc/shuttle/backend.conf)\n"
            "  -o k=v    set one option, after the file\n"
            "  -n        check the configuration and exit\n"
            "  -d        stay in the foreground, log to stderr\n"
            "  -v        more verbose logging\n"
            "  --migrate apply database migrations and exit\n"
            "  --rebuild DATE   migrate, rebuild the derived tables of that "
            "service day (YYYY-MM-DD, in the feed's agency_timezone) from raw\n"
            "                   records, exit\n"
            "  --load-gtfs DIR  migrate, replace the GTFS feed with the one "
            "in DIR, exit\n"
            "  --example-config  print every option with its default\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"migrate", no_argument, NULL, 'M'},
        {"load-gtfs", required_argument, NULL, 'G'},
        {"rebuild", required_argument, NULL, 'R'},
        {"example-config", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    const char *conffile = "/etc/shuttle/backend.conf";
    char shown[1024];
    const char *overrides[32];
    int noverrides = 0;
    int check = 0, foreground = 0, verbose = 0, migrate = 0;
    const char *gtfs_dir = NULL;
    const char *rebuild_day = NULL;
    struct backend b;
    struct mqtt_options mo;
    char err[512];
    int ch, explicit_file = 0;

    while ((ch = getopt_long(argc, argv, "df:hno:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            foreground = 1;
            break;
        case 'f':
            conffile = optarg;
            explicit_file = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 'o':
            if (noverrides == 32)
                fatalx("too many -o options");
            overrides[noverrides++] = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'R':
            rebuild_day = optarg;
            migrate = 1;
            break;
        case 'G':
            gtfs_dir = optarg;
            migrate = 1; /* the feed's tables come with the schema */
            break;
        case 'M':
            migrate = 1;
            break;
        case 'E':
            conf_print_example(backend_options, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    log_init(argv[0], foreground || check || migrate || isatty(2), verbose);
    memset(&b, 0, sizeof b);
    if (explicit_file || access(conffile, F_OK) == 0) {
        if (conf_load(backend_options, &b.conf, conffile, err, sizeof err) !=
            CONF_OK) {
            fprintf(stderr, "shuttle-backend: %s\n", err);
            conf_free(backend_options, &b.conf);
            return 2;
        }
    } else if (conf_defaults(backend_options, &b.conf, err, sizeof err) !=
               CONF_OK) {
        fprintf(stderr, "shuttle-backend: %s\n", err);
        conf_free(backend_options, &b.conf);
        return 2;
    }
    if (conf_set_pairs(backend_options, &b.conf, overrides, noverrides, err,
                       sizeof err) != CONF_OK) {
        fprintf(stderr, "shuttle-backend: %s\n", err);
        conf_free(backend_options, &b.conf);
        return 2;
    }
    /* Accepted, not refused: an old backend.conf must not stop ingest at
     * the next restart over a duty that is no longer ours (shuttle-live
     * rebuilds by default); refusing would leave the buses spooling. */
    if (b.conf.rebuild_interval_s_set)
        log_warnx("rebuild_interval_s is ignored: the periodic rebuild of the "
                  "derived tables is shuttle-live's now; set "
                  "rebuild_interval_s in live.conf and remove it here");
    if (check) {
        printf("configuration OK\n");
        conf_free(backend_options, &b.conf);
        return 0;
    }

    if (migrate) {
        int rc = backend_oneshot(&b.conf, gtfs_dir, rebuild_day);

        conf_free(backend_options, &b.conf);
        return rc;
    }
    b.window.past_ms = b.conf.max_age_days * 24 * 3600 * 1000;
    b.window.future_ms = b.conf.max_ahead_s * 1000;
    if (db_new(b.conf.database, &b.db) != DB_OK ||
        partitions_new(&b.parts) != DB_OK ||
        writer_new(b.db, b.parts, (size_t)b.conf.max_staged, &b.writer) !=
            DB_OK)
        fatalx("out of memory");
    if (proc_setup(foreground, on_signal, 0) != 0)
        fatal("daemon");
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_child;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_NOCLDSTOP;
        sigaction(SIGCHLD, &sa, NULL);
    }

    mqtt_lib_init();
    memset(&mo, 0, sizeof mo);
    mo.client_id = b.conf.mqtt_client_id;
    mo.host = b.conf.mqtt_host;
    mo.port = (int)b.conf.mqtt_port;
    mo.keepalive_s = 30;
    mo.session_expiry_s = (uint32_t)b.conf.mqtt_session_expiry;
    mo.username = b.conf.mqtt_user;
    mo.password = b.conf.mqtt_password;
    mo.cafile = b.conf.mqtt_cafile;
    mo.certfile = b.conf.mqtt_certfile;
    mo.keyfile = b.conf.mqtt_keyfile;
    mo.max_inflight = 100;
    if (mqtt_new(&mo, &backend_mqtt_cb, &b, &b.mqtt, err, sizeof err) !=
        MQTT_OK)
        fatalx("%s", err);
    if (backend_metrics_init(&b) != 0)
        fatalx("out of memory");
    {
        struct http_options ho = {.listen = b.conf.http_listen,
                                  .port = (int)b.conf.http_port};

        if (http_new(&ho, &backend_http_cb, &b, &b.http, err, sizeof err) !=
            HTTP_OK)
            fatalx("%s", err);
        if (b.http)
            log_info("serving /metrics and /healthz on %s port %lld",
                     b.conf.http_listen, b.conf.http_port);
    }
    /* The string may carry a password; the log must not. */
    (void)conninfo_mask(b.conf.database, shown, sizeof shown);
    log_info("starting: database '%s', broker %s:%lld, topic %s", shown,
             b.conf.mqtt_host, b.conf.mqtt_port, b.conf.telemetry_topic);

    backend_run(&b);

    log_info("signal %d: committing %zu staged records and stopping", (int)quit,
             writer_staged_records(b.writer));
    job_stop(&b.migration);
    backend_commit_all(&b);
    if (mqtt_fd(b.mqtt) >= 0) {
        /* Let the last acks out before saying goodbye: each vehicle's
         * newest, past the in-flight limit (nothing answers now). */
        b.acks_unanswered = -(int)ackq_len(b.ackq);
        backend_acks_flush(&b);
        for (int i = 0; i < 10 && mqtt_want_write(b.mqtt); i++)
            mqtt_handle_write(b.mqtt);
        mqtt_disconnect(b.mqtt);
    }
    log_info("stopped: %" PRIu64 " records committed, %" PRIu64
             " messages seen",
             b.st.committed, b.stats.messages);
    http_free(b.http);
    ackq_free(b.ackq);
    fleet_free(b.fleet);
    mqtt_free(b.mqtt);
    mqtt_lib_cleanup();
    writer_free(b.writer);
    partitions_free(b.parts);
    db_free(b.db);
    conf_free(backend_options, &b.conf);
    return 0;
}
