/* shuttle-live: live telemetry from MQTT, the day's timetable and the
 * past days' visits from PostgreSQL, one poll loop. This file is the
 * options, the loop and main; the rest of the daemon is live_msg (the
 * buses' messages), live_engine (tracker, predictor, audit, learning),
 * live_load (the read connection, the day's timetable, the restore),
 * live_writer (the audit's writer, the periodic rebuild in a child) and
 * live_serve (HTTP), sharing struct live (live_daemon.h). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conninfo.h"
#include "live_daemon.h"
#include "pub_names.h"
#include "log.h"
#include "proc.h"
#include "schema.h"
#include "trips_db.h"

#define OPT(name, type, field, def, lo, hi, help)                              \
    {                                                                          \
        name, type, offsetof(struct live_conf, field), def, lo, hi, 0, help    \
    }

static const struct conf_option live_options[] = {
    OPT("database", CONF_STRING, database, "dbname=shuttle", 0, 0,
        "libpq connection string for reading (a shuttle_read member): "
        "timetable, history, today's raw records"),
    OPT("writer_database", CONF_STRING, writer_database, NULL, 0, 0,
        "connection string that may write the derived tables and "
        "eta_samples (a shuttle_live member; default: database)"),
    OPT("mqtt_host", CONF_STRING, mqtt_host, "127.0.0.1", 0, 0,
        "MQTT broker host"),
    OPT("mqtt_port", CONF_INT, mqtt_port, "1883", 1, 65535,
        "MQTT broker port (8883 for TLS)"),
    OPT("mqtt_client_id", CONF_STRING, mqtt_client_id, NULL, 0, 0,
        "client id (default shuttle-live-INSTANCE); a clean session: state "
        "comes back from the database, not the broker"),
    OPT("mqtt_keepalive", CONF_INT, mqtt_keepalive, "30", 5, 3600,
        "MQTT keepalive in seconds"),
    OPT("mqtt_user", CONF_STRING, mqtt_user, NULL, 0, 0,
        "MQTT user name (none: anonymous)"),
    OPT("mqtt_password_file", CONF_SECRET, mqtt_password, NULL, 0, 0,
        "file holding the MQTT password; must be mode 0600 or stricter"),
    OPT("mqtt_cafile", CONF_STRING, mqtt_cafile, NULL, 0, 0,
        "CA certificate: set it to connect over TLS"),
    OPT("mqtt_certfile", CONF_STRING, mqtt_certfile, NULL, 0, 0,
        "client certificate for TLS (optional)"),
    OPT("mqtt_keyfile", CONF_STRING, mqtt_keyfile, NULL, 0, 0,
        "key of the client certificate"),
    OPT("telemetry_topic", CONF_STRING, telemetry_topic,
        "shuttle/v1/+/telemetry", 0, 0, "subscription for telemetry"),
    OPT("status_topic", CONF_STRING, status_topic, "shuttle/v1/+/status", 0, 0,
        "subscription for bus status reports (retained)"),
    OPT("instance", CONF_INT, instance, "0", 0, 1023,
        "this instance owns the vehicles whose FNV-1a hash of the id mod "
        "instances is this number"),
    OPT("instances", CONF_INT, instances, "1", 1, 1024,
        "how many shuttle-live instances share the fleet"),
    OPT("rebuild_interval_s", CONF_INT, rebuild_interval_s, "60", 0, 86400,
        "rebuild today's stop visits, runs and ridership this often, and "
        "yesterday's once after the day turns (0: never; then run "
        "shuttle-backend --rebuild DATE from cron; only instance 0 rebuilds)"),
    OPT("midtrip_acquire", CONF_INT, midtrip, "0", 0, 1,
        "1: a bus just heard between stops takes the trip whose line it "
        "drives at a time that fits (off: it is placed at a trip's first "
        "stops; after a restart today's stored fixes are replayed)"),
    OPT("history_days", CONF_INT, history_days, "28", 0, 3650,
        "past service days of stop visits the running-time history learns "
        "from, read at start and at each day turn (0: timetable only)"),
    OPT("seats", CONF_INT, seats, "45", 1, 500,
        "seats of a bus (the published occupancy and seats free count "
        "against it) unless vehicle_seats names the bus"),
    OPT("vehicle_seats", CONF_STRING, vehicle_seats, NULL, 0, 0,
        "buses whose seats differ from `seats`: a list of VEHICLE=SEATS "
        "separated by spaces or commas, e.g. \"bus-7=30, bus-8=60\""),
    OPT("reports", CONF_BOOL, reports, "1", 0, 0,
        "serve the operators' reports at /report/daily and /report/range "
        "(each rendered in a child process on the database connection)"),
    OPT("target_riders", CONF_INT, target_riders, "1500", 1, 10000000,
        "the reports' daily ridership target"),
    OPT("crowded_pct", CONF_INT, crowded_pct, "90", 1, 1000,
        "the reports: a run whose peak load is at least this % of its seats "
        "is crowded"),
    OPT("late_s", CONF_INT, late_s, "300", 0, 86400,
        "the reports: a run that started more than this late is late"),
    OPT("counter_pct", CONF_INT, counter_pct, "10", 0, 100,
        "the reports: a run whose boardings and alightings differ by more "
        "than this % of the larger (plus counter_slack) has a suspect "
        "counter"),
    OPT("counter_slack", CONF_INT, counter_slack, "2", 0, 1000,
        "the reports: riders of difference always allowed"),
    OPT("http_listen", CONF_STRING, http_listen, "127.0.0.1", 0, 0,
        "address serving the feeds, the API, the pages, /metrics, /healthz "
        "and /debug/ (none: no HTTP server)"),
    OPT("http_port", CONF_INT, http_port, "9465", 0, 65535,
        "port of the HTTP server (0: none)"),
    OPT("http_tls_certfile", CONF_STRING, http_tls_certfile, NULL, 0, 0,
        "PEM certificate (chain) of the HTTP server: set it and "
        "http_tls_keyfile to serve HTTPS"),
    OPT("http_tls_keyfile", CONF_SECRET, http_tls_key, NULL, 0, 0,
        "file holding the PEM key of http_tls_certfile (at most 4 KB); must "
        "be mode 0600 or stricter"),
    OPT("operators_password_file", CONF_SECRET, ops_credentials, NULL, 0, 0,
        "file holding USER:PASSWORD (mode 0600) that /fleet, /report/ and "
        "/debug/ then require (HTTP basic authentication; use it with "
        "HTTPS). None: those pages are as public as the feeds"),
    OPT("http_conn_max", CONF_INT, http_conn_max, "512", 1, 65536,
        "open HTTP connections at most; more wait in the listen backlog"),
    OPT("http_per_ip_max", CONF_INT, http_per_ip_max, "64", 1, 65536,
        "open HTTP connections from one address (behind a reverse proxy "
        "every client has its address: set it to http_conn_max)"),
    OPT("http_timeout_s", CONF_INT, http_timeout_s, "15", 1, 3600,
        "an HTTP connection silent this long is closed"),
    OPT("log_verbose", CONF_INT, verbose, "0", 0, 2,
        "log level: 0 info, 1 debug, 2 more"),
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

/* ---------------------------------------------------------------- loop */

static void live_run(struct live *l)
{
    int64_t last_tick = 0;

    while (!quit) {
        struct pollfd pfd[5];
        int64_t now = clock_mono_ms(), due;
        int timeout = 1000, nfds = 0, mi = -1, hi = -1, di = -1, wi = -1,
            ri = -1, hto, rto, pto, fd;
        short ev = 0;

        live_db_try(l, now);
        live_wdb_try(l, now);
        if (l->pending)
            live_learn_advance(l);
        live_mqtt_try(l, now);
        live_rebuild_reap(l);
        if (now - last_tick >= LIVE_TICK_MS) {
            last_tick = now;
            live_load_check(l);
            live_engine_tick(l);
            if (mqtt_fd(l->mqtt) >= 0)
                mqtt_handle_misc(l->mqtt);
            /* The pg step also sends what was queued meanwhile. */
            live_db_step(l);
        }
        if (l->conf.rebuild_interval_s > 0 && l->conf.instance == 0 &&
            l->svc_ok && now >= l->next_rebuild_ms)
            live_rebuild(l, now);
        /* What the buses did since the last build, published before
         * anyone is answered. */
        live_publish_step(l, false);

        if ((fd = mqtt_fd(l->mqtt)) >= 0) {
            mi = nfds++;
            pfd[mi].fd = fd;
            pfd[mi].events = POLLIN | (mqtt_want_write(l->mqtt) ? POLLOUT : 0);
        }
        if ((fd = http_fd(l->http)) >= 0) {
            hi = nfds++;
            pfd[hi].fd = fd;
            pfd[hi].events = POLLIN;
        }
        if ((fd = live_pg_fd(l->pg, &ev)) >= 0) {
            di = nfds++;
            pfd[di].fd = fd;
            pfd[di].events = ev;
        }
        ev = 0;
        if ((fd = live_pg_fd(l->wpg, &ev)) >= 0) {
            wi = nfds++;
            pfd[wi].fd = fd;
            pfd[wi].events = ev;
        }
        if (l->reports && (fd = report_job_fd(l->reports)) >= 0) {
            ri = nfds++;
            pfd[ri].fd = fd;
            pfd[ri].events = POLLIN;
        }
        if (live_pg_ready(l->pg) && live_pg_pending(l->pg) > 0)
            timeout = 100; /* a query queued inside a callback goes soon */
        /* Samples waiting: the next batch is at most 100 ms late. */
        if (live_pg_ready(l->wpg) && live_sink_queued(l->sink) > 0 &&
            timeout > 100)
            timeout = 100;
        if (l->rebuild.pid > 0 && timeout > 100)
            timeout = 100;
        /* Wake for the tick when nothing else comes. */
        due = last_tick + LIVE_TICK_MS - clock_mono_ms();
        if (due < timeout)
            timeout = due > 0 ? (int)due : 0;
        if (l->pending)
            timeout = 0; /* more of the history's statistics, at once */
        /* A change not yet published (held back by the build rate, or a
         * feed's change by the second). */
        pto = live_publish_timeout_ms(l);
        if (pto >= 0 && pto < timeout)
            timeout = pto;
        hto = http_timeout_ms(l->http);
        if (hto >= 0 && hto < timeout)
            timeout = hto;
        rto = l->reports ? report_job_timeout_ms(l->reports, clock_mono_ms())
                         : -1;
        if (rto >= 0 && rto < timeout)
            timeout = rto;
        if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        if (mi >= 0 && (pfd[mi].revents & (POLLIN | POLLERR | POLLHUP)))
            mqtt_handle_read(l->mqtt);
        if (mi >= 0 && mqtt_fd(l->mqtt) >= 0 && (pfd[mi].revents & POLLOUT))
            mqtt_handle_write(l->mqtt);
        if (hi >= 0 && (pfd[hi].revents || (hto >= 0 && hto <= timeout)))
            (void)http_run(l->http);
        if (di >= 0 && pfd[di].revents)
            live_db_step(l);
        else if (live_pg_ready(l->pg) && live_pg_pending(l->pg) > 0)
            live_db_step(l);
        if ((wi >= 0 && pfd[wi].revents) || live_pg_ready(l->wpg))
            live_wdb_step(l, clock_mono_ms());
        /* Finished reports complete their deferred requests. */
        if (l->reports && (ri >= 0 || rto >= 0))
            report_job_step(l->reports, clock_mono_ms());
    }
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: shuttle-live [-dhnv] [-f file] [-o key=value] "
                "[--example-config]\n"
                "  -f file   configuration (default /etc/shuttle/live.conf)\n"
                "  -o k=v    set one option, after the file\n"
                "  -n        check the configuration and exit\n"
                "  -d        stay in the foreground, log to stderr\n"
                "  -v        more verbose logging\n"
                "  --example-config  print every option with its default\n");
}

static int live_seats_cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_seats *)a)->id,
                  ((const struct live_seats *)b)->id);
}

/* The seats of bus VID: its vehicle_seats entry, else `seats`. */
int live_seats_of(const struct live *l, const char *vid)
{
    struct live_seats key = {{0}, 0}, *s;

    snprintf(key.id, sizeof key.id, "%s", vid);
    s = bsearch(&key, l->seats, l->nseats, sizeof key, live_seats_cmp);
    return s ? s->seats : (int)l->conf.seats;
}

/* Parse vehicle_seats into l->seats; -1 with a message naming the entry. */
static int live_seats_parse(struct live *l, char *err, size_t errlen)
{
    const char *p = l->conf.vehicle_seats;
    size_t n = 0;

    if (!p)
        return 0;
    for (const char *q = p; *q; q++)
        n += *q == '=';
    if (n == 0) {
        snprintf(err, errlen, "vehicle_seats: no VEHICLE=SEATS in \"%s\"", p);
        return -1;
    }
    if (!(l->seats = calloc(n, sizeof *l->seats))) {
        snprintf(err, errlen, "vehicle_seats: out of memory");
        return -1;
    }
    while (*p) {
        size_t idlen;
        char *end;
        long v;

        p += strspn(p, " ,\t");
        if (!*p)
            break;
        idlen = strcspn(p, "= ,\t");
        if (p[idlen] != '=' || idlen == 0 || idlen > WIRE_VID_MAX) {
            snprintf(err, errlen,
                     "vehicle_seats: \"%.40s\" is not VEHICLE=SEATS (a "
                     "vehicle id of 1 to %d characters)",
                     p, WIRE_VID_MAX);
            return -1;
        }
        v = strtol(p + idlen + 1, &end, 10);
        if (end == p + idlen + 1 || v < 1 || v > 500 ||
            (*end && !strchr(" ,\t", *end))) {
            snprintf(err, errlen,
                     "vehicle_seats: the seats of \"%.*s\" must be 1 to "
                     "500",
                     (int)idlen, p);
            return -1;
        }
        memcpy(l->seats[l->nseats].id, p, idlen);
        l->seats[l->nseats].id[idlen] = '\0';
        l->seats[l->nseats++].seats = (int)v;
        p = end;
    }
    qsort(l->seats, l->nseats, sizeof *l->seats, live_seats_cmp);
    for (size_t i = 1; i < l->nseats; i++)
        if (strcmp(l->seats[i - 1].id, l->seats[i].id) == 0) {
            snprintf(err, errlen, "vehicle_seats: %s is listed twice",
                     l->seats[i].id);
            return -1;
        }
    return 0;
}

/* The whole of text file PATH (a certificate), malloc'd; NULL with a
 * message in ERR. */
static char *live_read_file(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = len + 4096 + 1);

            if (!nb) {
                free(buf);
                fclose(fp);
                snprintf(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, 4096, fp);
        len += n;
    } while (n > 0 && len < 1024 * 1024);
    if (ferror(fp) || len == 0) {
        snprintf(err, errlen, "%s: %s", path,
                 ferror(fp) ? strerror(errno) : "empty");
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    buf[len] = '\0';
    return buf;
}

static int live_configure(struct live *l, const char *file, int explicit_file,
                          const char *const *ov, int nov)
{
    char err[512];
    int rc;

    if (explicit_file || access(file, F_OK) == 0)
        rc = conf_load(live_options, &l->conf, file, err, sizeof err);
    else
        rc = conf_defaults(live_options, &l->conf, err, sizeof err);
    if (rc == CONF_OK)
        rc = conf_set_pairs(live_options, &l->conf, ov, nov, err, sizeof err);
    if (rc == CONF_OK && l->conf.instance >= l->conf.instances) {
        snprintf(err, sizeof err, "instance %lld is not below instances %lld",
                 l->conf.instance, l->conf.instances);
        rc = CONF_ERR_SYNTAX;
    }
    if (rc == CONF_OK && live_seats_parse(l, err, sizeof err) != 0)
        rc = CONF_ERR_SYNTAX;
    if (rc == CONF_OK && l->conf.ops_credentials) {
        char *colon = strchr(l->conf.ops_credentials, ':');

        if (!colon || colon == l->conf.ops_credentials || !colon[1] ||
            strchr(l->conf.ops_credentials, '\n')) {
            snprintf(err, sizeof err,
                     "operators_password_file: one line USER:PASSWORD "
                     "expected");
            rc = CONF_ERR_SYNTAX;
        } else {
            *colon = '\0';
            l->ops_user = l->conf.ops_credentials;
            l->ops_password = colon + 1;
        }
    }
    if (rc == CONF_OK && !l->conf.http_tls_certfile != !l->conf.http_tls_key) {
        snprintf(err, sizeof err,
                 "http_tls_certfile and http_tls_keyfile go together");
        rc = CONF_ERR_SYNTAX;
    }
    if (rc == CONF_OK && l->conf.http_tls_certfile &&
        !(l->tls_cert =
              live_read_file(l->conf.http_tls_certfile, err, sizeof err)))
        rc = CONF_ERR_IO;
    if (rc != CONF_OK) {
        fprintf(stderr, "shuttle-live: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"example-config", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};
    static const double gaps[] = {0.5, 0.9, 1.0, 1.1, 1.5, 2, 5, 10, 60};
    const char *conffile = "/etc/shuttle/live.conf";
    char shown[1024];
    const char *overrides[32];
    int noverrides = 0, check = 0, foreground = 0, verbose = 0;
    int ch, explicit_file = 0;
    struct live l;
    struct mqtt_options mo;
    struct sigaction sa;
    char err[512];

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
        case 'E':
            conf_print_example(live_options, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    memset(&l, 0, sizeof l);
    if (live_configure(&l, conffile, explicit_file, overrides, noverrides) !=
        0) {
        free(l.seats);
        conf_free(live_options, &l.conf);
        return 2;
    }
    log_init(argv[0], foreground || check || isatty(2),
             verbose + (int)l.conf.verbose);
    if (check) {
        printf("configuration OK\n");
        free(l.seats);
        conf_free(live_options, &l.conf);
        return 0;
    }
    /* Before anything starts: a schema newer than us is refused at once
     * (exit SCHEMA_EXIT). A server not up yet is the loop's business, which
     * waits for it as always. */
    if (schema_check_conninfo(l.conf.database, "shuttle-live", err,
                              sizeof err) == SCHEMA_NEWER) {
        log_warnx("%s", err);
        free(l.seats);
        conf_free(live_options, &l.conf);
        return SCHEMA_EXIT;
    }
    snprintf(l.client_id, sizeof l.client_id, "%s", l.conf.mqtt_client_id);
    if (!l.conf.mqtt_client_id)
        snprintf(l.client_id, sizeof l.client_id, "shuttle-live-%lld",
                 l.conf.instance);
    if (metrics_hist_init(&l.update_seconds, secs,
                          sizeof secs / sizeof *secs) != METRICS_OK ||
        metrics_hist_init(&l.refresh_gap, gaps, sizeof gaps / sizeof *gaps) !=
            METRICS_OK ||
        !(l.pg = live_pg_new(l.conf.database)) ||
        !(l.wpg = live_pg_new(live_writer(&l.conf))) ||
        !(l.sink = live_sink_new(NULL)))
        fatalx("out of memory");
    if (proc_setup(foreground, on_signal, 0) != 0)
        fatal("daemon");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    mqtt_lib_init();
    memset(&mo, 0, sizeof mo);
    mo.client_id = l.client_id;
    mo.host = l.conf.mqtt_host;
    mo.port = (int)l.conf.mqtt_port;
    mo.keepalive_s = (int)l.conf.mqtt_keepalive;
    mo.session_expiry_s = 0; /* clean: state comes from the database */
    mo.username = l.conf.mqtt_user;
    mo.password = l.conf.mqtt_password;
    mo.cafile = l.conf.mqtt_cafile;
    mo.certfile = l.conf.mqtt_certfile;
    mo.keyfile = l.conf.mqtt_keyfile;
    mo.max_inflight = 100;
    if (mqtt_new(&mo, &live_mqtt_cb, &l, &l.mqtt, err, sizeof err) != MQTT_OK)
        fatalx("%s", err);
    {
        struct http_options ho = {
            .listen = l.conf.http_listen,
            .port = (int)l.conf.http_port,
            .conn_max = (unsigned int)l.conf.http_conn_max,
            .per_ip_max = (unsigned int)l.conf.http_per_ip_max,
            .timeout_s = (unsigned int)l.conf.http_timeout_s,
            .tls_cert_pem = l.tls_cert,
            .tls_key_pem = l.conf.http_tls_key,
        };

        if (http_new(&ho, &live_http_cb, &l, &l.http, err, sizeof err) !=
            HTTP_OK)
            fatalx("%s", err);
    }
    if (l.http && !l.ops_user && strcmp(l.conf.http_listen, "127.0.0.1") != 0 &&
        strcmp(l.conf.http_listen, "::1") != 0 &&
        strcmp(l.conf.http_listen, "localhost") != 0)
        log_warnx("the operators' pages (/fleet, /report/, /debug/) are "
                  "open to anyone reaching %s: set operators_password_file "
                  "(and http_tls_certfile) or keep http_listen on loopback",
                  l.conf.http_listen);
    if (live_publish_init(&l) != 0)
        fatalx("out of memory");
    if (l.conf.reports) {
        struct report_job_options ro;

        memset(&ro, 0, sizeof ro);
        ro.conninfo = l.conf.database;
        ro.params.target = (int)l.conf.target_riders;
        ro.params.seats = (int)l.conf.seats;
        ro.params.crowded_pct = (int)l.conf.crowded_pct;
        ro.params.late_s = (int)l.conf.late_s;
        ro.params.counter_pct = (int)l.conf.counter_pct;
        ro.params.counter_slack = (int)l.conf.counter_slack;
        if (report_job_new(&ro, &l.reports, err, sizeof err) != REPORT_JOB_OK)
            fatalx("reports: %s", err);
    }
    /* The string may carry a password; the log must not. */
    (void)conninfo_mask(l.conf.database, shown, sizeof shown);
    log_info("starting: instance %lld of %lld, database '%s', broker "
             "%s:%lld",
             l.conf.instance, l.conf.instances, shown, l.conf.mqtt_host,
             l.conf.mqtt_port);

    live_run(&l);

    log_info("signal %d: stopping", (int)quit);
    live_wdb_drain(&l);
    job_stop(&l.rebuild);
    report_job_free(l.reports);
    if (mqtt_fd(l.mqtt) >= 0)
        mqtt_disconnect(l.mqtt);
    http_free(l.http);
    mqtt_free(l.mqtt);
    mqtt_lib_cleanup();
    live_engine_free(&l); /* before the connection its learner may use */
    live_pg_free(l.pg);
    live_load_clear(&l);
    live_engine_free(&l);
    live_shapedb_free(&l.shapes);
    pub_names_free(&l.names);
    live_publish_free(&l);
    live_pg_free(l.wpg);
    live_sink_free(l.sink);
    if (l.feed_ok)
        trips_db_feed_free(&l.feed);
    free(l.buses);
    free(l.seats);
    free(l.tls_cert);
    conf_free(live_options, &l.conf);
    return 0;
}
