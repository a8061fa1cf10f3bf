/* shuttle-backend: ingest bus telemetry from MQTT into PostgreSQL. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "db.h"
#include "gtfs.h"
#include "ingest.h"
#include "log.h"
#include "mqtt.h"
#include "wire.h"

struct backend_conf {
    char *database;
    char *admin_database;
    long long raw_retention_days;
    char *mqtt_host;
    long long mqtt_port;
    char *mqtt_client_id;
    char *mqtt_user;
    char *mqtt_password;
    char *mqtt_cafile;
    long long mqtt_session_expiry;
    char *telemetry_topic;
    char *status_topic;
    long long batch_records;
    long long batch_age_ms;
    long long max_staged;
    long long max_age_days;
    long long max_ahead_s;
};

#define OPT(name, type, field, def, lo, hi, help)                             \
    {name, type, offsetof(struct backend_conf, field), def, lo, hi, 0, help}

static const struct conf_option backend_options[] = {
    OPT("database", CONF_STRING, database, "dbname=shuttle", 0, 0,
        "libpq connection string of the telemetry database"),
    OPT("admin_database", CONF_STRING, admin_database, NULL, 0, 0,
        "connection string of the schema owner, for migrations (default: "
        "database); then database may log in as a shuttle_ingest member"),
    OPT("raw_retention_days", CONF_INT, raw_retention_days, "0", 0, 36500,
        "drop raw positions older than this many service days (0: keep "
        "all); passenger counts are always kept"),
    OPT("mqtt_host", CONF_STRING, mqtt_host, "127.0.0.1", 0, 0,
        "MQTT broker host"),
    OPT("mqtt_port", CONF_INT, mqtt_port, "1883", 1, 65535,
        "MQTT broker port (8883 for TLS)"),
    OPT("mqtt_client_id", CONF_STRING, mqtt_client_id, "shuttle-backend", 0,
        0,
        "fixed client id: the broker keeps this session's queue while the "
        "backend is down; give each backend process its own"),
    OPT("mqtt_user", CONF_STRING, mqtt_user, NULL, 0, 0,
        "MQTT user name (none: anonymous)"),
    OPT("mqtt_password_file", CONF_SECRET, mqtt_password, NULL, 0, 0,
        "file holding the MQTT password; must be mode 0600 or stricter"),
    OPT("mqtt_cafile", CONF_STRING, mqtt_cafile, NULL, 0, 0,
        "CA certificate: set it to connect over TLS"),
    OPT("mqtt_session_expiry", CONF_INT, mqtt_session_expiry, "604800", 60,
        4294967295.0,
        "seconds the broker keeps our session while we are away"),
    OPT("telemetry_topic", CONF_STRING, telemetry_topic,
        "shuttle/v1/+/telemetry", 0, 0,
        "subscription for telemetry; $share/GROUP/shuttle/v1/+/telemetry "
        "spreads the load over several backends"),
    OPT("status_topic", CONF_STRING, status_topic, "shuttle/v1/+/status", 0,
        0, "subscription for bus status reports"),
    OPT("batch_records", CONF_INT, batch_records, "5000", 1, 100000,
        "commit when this many records are staged"),
    OPT("batch_age_ms", CONF_INT, batch_age_ms, "50", 1, 10000,
        "commit staged records at least this often"),
    OPT("max_staged", CONF_INT, max_staged, "200000", 1000, 10000000,
        "most records held while the database is away; beyond it batches "
        "are dropped unacknowledged and the buses re-send them"),
    OPT("max_age_days", CONF_INT, max_age_days, "400", 1, 36500,
        "records observed longer ago than this are dead letters"),
    OPT("max_ahead_s", CONF_INT, max_ahead_s, "86400", 1, 31536000,
        "records stamped this far in the future are dead letters"),
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    quit = sig;
}

struct backend {
    struct backend_conf conf;
    struct db *db;
    struct mqtt *mqtt;
    struct ingest_stats stats;
    struct wire_window window;
    int64_t first_staged_ms; /* monotonic; 0: nothing staged */
    int64_t db_retry_ms, db_backoff_ms;
    int64_t mqtt_retry_ms, mqtt_backoff_ms;
    int64_t next_retention_ms;
    int migrated;
    uint64_t committed;
};

static void backend_on_connect(void *arg, bool session_present)
{
    struct backend *b = arg;

    log_info("connected to broker %s:%lld (session %s)", b->conf.mqtt_host,
             b->conf.mqtt_port, session_present ? "resumed" : "new");
    b->mqtt_backoff_ms = 0;
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

static void backend_on_message(void *arg, const char *topic,
                               const void *payload, size_t len, bool retained)
{
    struct backend *b = arg;
    int r = ingest_message(b->db, &b->stats, topic, payload, len,
                           clock_wall_ms(), &b->window);

    /* Full (records or days): commit what is staged and try once more. */
    if (r == INGEST_R_OVERLOAD && db_staged_items(b->db) > 0 &&
        db_connected(b->db)) {
        backend_commit(b);
        b->stats.rejected[INGEST_R_OVERLOAD]--;
        b->stats.messages--;
        r = ingest_message(b->db, &b->stats, topic, payload, len,
                           clock_wall_ms(), &b->window);
    }

    if (r >= 0)
        log_warnx("refused message on %s (%zu bytes): %s", topic, len,
                  ingest_reason_name(r));
    if (b->first_staged_ms == 0 && db_staged_items(b->db) > 0)
        b->first_staged_ms = clock_mono_ms();
}

static const struct mqtt_callbacks backend_mqtt_cb = {
    .on_connect = backend_on_connect,
    .on_disconnect = backend_on_disconnect,
    .on_message = backend_on_message,
};

static void backend_on_ack(void *arg, const char *vid, uint64_t seq)
{
    struct backend *b = arg;
    struct wire_ack a;
    char topic[128];
    uint8_t *buf;
    size_t len;

    memset(&a, 0, sizeof a);
    snprintf(a.vehicle_id, sizeof a.vehicle_id, "%s", vid);
    a.seq = seq;
    a.t_ms = clock_wall_ms();
    if (wire_topic(topic, sizeof topic, vid, "ack") != 0 ||
        wire_ack_encode(&a, &buf, &len) != WIRE_OK)
        return;
    /* Retained, so a bus that reconnects (or lost its spool) learns where
     * it stands at once. If the broker is away the next commit re-sends. */
    if (mqtt_publish(b->mqtt, topic, buf, len, 1, true, NULL) != MQTT_OK)
        log_debug("ack for %s not sent (broker away)", vid);
    free(buf);
}

static int64_t backoff_next(int64_t *backoff)
{
    *backoff = *backoff ? *backoff * 2 : 500;
    if (*backoff > 30000)
        *backoff = 30000;
    return *backoff;
}

/* Apply the migrations as the schema owner (admin_database, or database). */
static int backend_migrate(const struct backend_conf *c, char *err,
                           size_t errlen)
{
    struct db *admin;
    int rc;

    if (db_new(c->admin_database ? c->admin_database : c->database, 1,
               &admin) != DB_OK) {
        snprintf(err, errlen, "out of memory");
        return DB_ERR_NOMEM;
    }
    rc = db_connect(admin, err, errlen);
    if (rc == DB_OK)
        rc = db_migrate(admin, err, errlen);
    db_free(admin);
    return rc;
}

static void backend_db_try(struct backend *b, int64_t now)
{
    char err[512];

    if (db_connected(b->db) || now < b->db_retry_ms)
        return;
    if ((!b->migrated &&
         (b->migrated = backend_migrate(&b->conf, err, sizeof err) == DB_OK) ==
             0) ||
        db_connect(b->db, err, sizeof err) != DB_OK ||
        db_prepare(b->db, err, sizeof err) != DB_OK) {
        b->db_retry_ms = now + backoff_next(&b->db_backoff_ms);
        log_warnx("%s; retrying in %" PRId64 " ms", err, b->db_backoff_ms);
        return;
    }
    b->db_backoff_ms = 0;
    log_info("database ready");
}

static void backend_mqtt_try(struct backend *b, int64_t now)
{
    char err[512];

    if (mqtt_fd(b->mqtt) >= 0 || now < b->mqtt_retry_ms)
        return;
    if (mqtt_connect(b->mqtt, err, sizeof err) != MQTT_OK) {
        b->mqtt_retry_ms = now + backoff_next(&b->mqtt_backoff_ms);
        log_warnx("%s; retrying in %" PRId64 " ms", err, b->mqtt_backoff_ms);
    }
}

static void backend_commit(struct backend *b)
{
    char err[512];
    uint64_t n = 0;
    int rc;

    if (db_staged_items(b->db) == 0 || !db_connected(b->db))
        return;
    rc = db_commit(b->db, backend_on_ack, b, &n, err, sizeof err);
    if (rc != DB_OK) {
        log_warnx("commit failed, keeping %zu staged records: %s",
                  db_staged_records(b->db), err);
        b->db_retry_ms = clock_mono_ms() + backoff_next(&b->db_backoff_ms);
        return;
    }
    b->committed += n;
    b->first_staged_ms = 0;
}

/* Hourly: drop raw positions past the retention (if one is set). */
static void backend_retention(struct backend *b, int64_t now)
{
    char err[512];
    int dropped = 0;

    if (b->conf.raw_retention_days == 0 || !db_connected(b->db))
        return;
    b->next_retention_ms = now + 3600 * 1000;
    if (db_drop_positions_before(b->db,
                                 clock_wall_ms() -
                                     b->conf.raw_retention_days * 86400000LL,
                                 &dropped, err, sizeof err) != DB_OK)
        log_warnx("%s", err);
    else if (dropped > 0)
        log_info("retention: dropped %d days of raw positions", dropped);
}

static int backend_commit_due(struct backend *b, int64_t now)
{
    if (db_staged_items(b->db) == 0)
        return 0;
    return db_staged_records(b->db) >= (size_t)b->conf.batch_records ||
           now - b->first_staged_ms >= b->conf.batch_age_ms;
}

static void backend_run(struct backend *b)
{
    int64_t last_misc = 0;

    while (!quit) {
        struct pollfd pfd[1];
        int64_t now = clock_mono_ms();
        int timeout = 1000;
        int nfds = 0;
        int fd;

        backend_db_try(b, now);
        backend_mqtt_try(b, now);
        if (backend_commit_due(b, now))
            backend_commit(b);
        if (now >= b->next_retention_ms)
            backend_retention(b, now);

        fd = mqtt_fd(b->mqtt);
        if (fd >= 0) {
            pfd[0].fd = fd;
            pfd[0].events = POLLIN | (mqtt_want_write(b->mqtt) ? POLLOUT : 0);
            nfds = 1;
        }
        if (db_staged_items(b->db) > 0) {
            int64_t left = b->first_staged_ms + b->conf.batch_age_ms - now;
            timeout = left < 0 ? 0 : (int)left;
        }
        if (!db_connected(b->db) && b->db_retry_ms - now < timeout)
            timeout = (int)(b->db_retry_ms - now > 0 ? b->db_retry_ms - now
                                                     : 0);
        if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        if (nfds && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
            mqtt_handle_read(b->mqtt);
        if (nfds && mqtt_fd(b->mqtt) >= 0 && (pfd[0].revents & POLLOUT))
            mqtt_handle_write(b->mqtt);
        now = clock_mono_ms();
        if (now - last_misc >= 1000) {
            last_misc = now;
            if (mqtt_fd(b->mqtt) >= 0)
                mqtt_handle_misc(b->mqtt);
        }
    }
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
        {"example-config", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    const char *conffile = "/etc/shuttle/backend.conf";
    const char *overrides[32];
    int noverrides = 0;
    int check = 0, foreground = 0, verbose = 0, migrate = 0;
    const char *gtfs_dir = NULL;
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
            return 2;
        }
    } else if (conf_defaults(backend_options, &b.conf, err, sizeof err) !=
               CONF_OK) {
        fprintf(stderr, "shuttle-backend: %s\n", err);
        return 2;
    }
    for (int i = 0; i < noverrides; i++) {
        char key[64];
        const char *eq = strchr(overrides[i], '=');

        if (!eq || (size_t)(eq - overrides[i]) >= sizeof key) {
            fprintf(stderr, "shuttle-backend: -o %s: expected key=value\n",
                    overrides[i]);
            return 2;
        }
        memcpy(key, overrides[i], (size_t)(eq - overrides[i]));
        key[eq - overrides[i]] = '\0';
        if (conf_set(backend_options, &b.conf, key, eq + 1, err,
                     sizeof err) != CONF_OK) {
            fprintf(stderr, "shuttle-backend: -o %s: %s\n", overrides[i],
                    err);
            return 2;
        }
    }
    if (check) {
        printf("configuration OK\n");
        return 0;
    }

    b.window.past_ms = b.conf.max_age_days * 24 * 3600 * 1000;
    b.window.future_ms = b.conf.max_ahead_s * 1000;
    if (db_new(b.conf.database, (size_t)b.conf.max_staged, &b.db) != DB_OK)
        fatalx("out of memory");
    if (migrate) {
        if (backend_migrate(&b.conf, err, sizeof err) != DB_OK) {
            log_warnx("%s", err);
            return 1;
        }
        log_info("database schema is up to date");
        if (gtfs_dir) {
            struct gtfs_summary gs;

            if (gtfs_load(b.conf.database, gtfs_dir, &gs, err, sizeof err) !=
                GTFS_OK) {
                log_warnx("GTFS not loaded: %s", err);
                db_free(b.db);
                return 1;
            }
            printf("loaded feed %s: %lld routes, %lld stops, %lld trips, "
                   "%lld stop times, %lld shape points\n",
                   gs.feed_version[0] ? gs.feed_version : "(no feed_version)",
                   gs.routes, gs.stops, gs.trips, gs.stop_times,
                   gs.shape_points);
        }
        db_free(b.db);
        return 0;
    }
    if (!foreground && daemon(0, 0) != 0)
        fatal("daemon");

    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
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
    mo.max_inflight = 100;
    if (mqtt_new(&mo, &backend_mqtt_cb, &b, &b.mqtt, err, sizeof err) !=
        MQTT_OK)
        fatalx("%s", err);
    log_info("starting: database '%s', broker %s:%lld, topic %s",
             b.conf.database, b.conf.mqtt_host, b.conf.mqtt_port,
             b.conf.telemetry_topic);

    backend_run(&b);

    log_info("signal %d: committing %zu staged records and stopping",
             (int)quit, db_staged_records(b.db));
    backend_commit(&b);
    if (mqtt_fd(b.mqtt) >= 0) {
        /* Let the last acks out before saying goodbye. */
        for (int i = 0; i < 10 && mqtt_want_write(b.mqtt); i++)
            mqtt_handle_write(b.mqtt);
        mqtt_disconnect(b.mqtt);
    }
    log_info("stopped: %" PRIu64 " records committed, %" PRIu64
             " messages seen",
             b.committed, b.stats.messages);
    mqtt_free(b.mqtt);
    mqtt_lib_cleanup();
    db_free(b.db);
    conf_free(backend_options, &b.conf);
    return 0;
}
