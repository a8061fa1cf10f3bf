/* itest_fleet: the simulated fleet the whole-path integration tests share. */
#include "itest_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "itest.h"

const char itest_fleet_sql_holes[] =
    "SELECT count(*) FROM vehicle_progress vp WHERE vp.acked_seq <"
    " (SELECT max(seq) FROM (SELECT seq FROM positions p"
    "  WHERE p.vehicle_id = vp.vehicle_id UNION ALL"
    "  SELECT seq FROM passenger_counts c"
    "  WHERE c.vehicle_id = vp.vehicle_id) s)";

int itest_fleet_run(const char *name, char *const argv[], const char *log,
                    int timeout_ms)
{
    struct harness_proc *p = harness_spawn(name, argv, log);
    int rc;

    if (!p)
        return -1;
    rc = harness_wait(p, timeout_ms);
    if (rc != 0) {
        fprintf(stderr, "%s exited with %d:\n", name, rc);
        harness_log_tail(log, 20);
    }
    return rc;
}

int64_t itest_fleet_last_monday(char *date, size_t len)
{
    time_t t = time(NULL) + 9 * 3600;
    struct tm tm;
    int back;

    gmtime_r(&t, &tm);
    back = (tm.tm_wday + 6) % 7; /* days since Monday */
    if (back == 0)
        back = 7;
    t -= (time_t)back * 86400;
    gmtime_r(&t, &tm);
    strftime(date, len, "%Y-%m-%d", &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return ((int64_t)timegm(&tm) - 9 * 3600) * 1000;
}

/* `shuttle-backend --load-gtfs deploy/gtfs`, its log in F's folder. */
static int itest_fleet__load_gtfs(const struct itest_fleet *f)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char feed[1024], log[1100];
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    "-o",
                    (char *)f->dbopt,
                    "--load-gtfs",
                    feed,
                    NULL};

    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : "../..");
    snprintf(log, sizeof log, "%s/load-gtfs.log", f->work);
    return itest_fleet_run("shuttle-backend --load-gtfs", argv, log, 60000);
}

int itest_fleet_start(struct itest_fleet *f, const char *tag,
                      const char *const *backend_opts)
{
    memset(f, 0, sizeof *f);
    f->work = harness_tmpdir(tag);
    f->pg = f->work ? harness_pg_start(1) : NULL;
    f->mq = f->pg ? harness_mosquitto_start(NULL) : NULL;
    if (!f->mq)
        return -1;
    snprintf(f->dbopt, sizeof f->dbopt, "database=%s",
             harness_pg_conninfo(f->pg));
    if (itest_fleet__load_gtfs(f) != 0 ||
        harness_pg_exec(f->pg, "UPDATE gtfs_calendar SET"
                               " start_date = least(start_date,"
                               " current_date - 30), end_date ="
                               " greatest(end_date, current_date"
                               " + 30)") != 0)
        return -1;
    f->backend = harness_backend_start(f->pg, f->mq, backend_opts);
    if (!f->backend)
        return -1;
    for (int i = 0; i < ITEST_FLEET_NBUS; i++) {
        char vid[16], dev[64];
        const char *oopts[] = {"counter_input=udp", dev, NULL};

        f->counter_port[i] = harness_free_port();
        if (f->counter_port[i] <= 0) {
            fprintf(stderr, "itest_fleet: no free port for bus-%d\n", i + 1);
            return -1;
        }
        snprintf(vid, sizeof vid, "bus-%d", i + 1);
        snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d",
                 f->counter_port[i]);
        f->gpsd[i] = harness_gpsd_start();
        if (!f->gpsd[i])
            return -1;
        f->onboard[i] =
            harness_onboard_start(vid, f->gpsd[i], f->mq, NULL, oopts);
        if (!f->onboard[i])
            return -1;
    }
    return 0;
}

/* shuttle-sim's command line and the strings it points to. */
struct itest_fleet__sim_cmd {
    char *argv[40];
    char gps[128], cnt[128], speed[16]; /* the port lists, the speed */
};

/* shuttle-sim's command line for S over F into CMD: 0, or -1 when S has
 * more extra arguments than fit. */
static int itest_fleet__sim_cmd(const struct itest_fleet *f,
                                const struct itest_fleet_sim *s,
                                struct itest_fleet__sim_cmd *cmd)
{
    const int max = (int)(sizeof cmd->argv / sizeof *cmd->argv);
    char **argv = cmd->argv;
    int k = 0;

    cmd->gps[0] = cmd->cnt[0] = '\0';
    for (int i = 0; i < ITEST_FLEET_NBUS; i++) {
        size_t g = strlen(cmd->gps), c = strlen(cmd->cnt);

        snprintf(cmd->gps + g, sizeof cmd->gps - g, "%s%d", i ? "," : "",
                 harness_gpsd_udp_port(f->gpsd[i]));
        snprintf(cmd->cnt + c, sizeof cmd->cnt - c, "%s%d", i ? "," : "",
                 f->counter_port[i]);
    }
    snprintf(cmd->speed, sizeof cmd->speed, "%d", s->speed);
    argv[k++] = (char *)harness_bin("shuttle-sim");
    argv[k++] = "--database";
    argv[k++] = (char *)harness_pg_conninfo(f->pg);
    argv[k++] = "--date";
    argv[k++] = (char *)s->date;
    argv[k++] = "--seed";
    argv[k++] = (char *)s->seed;
    argv[k++] = "--fixed-seed";
    argv[k++] = "--speed";
    argv[k++] = cmd->speed;
    argv[k++] = "--start";
    argv[k++] = (char *)s->start;
    argv[k++] = "--end";
    argv[k++] = (char *)s->end;
    argv[k++] = "--gpsd-ports";
    argv[k++] = cmd->gps;
    argv[k++] = "--counter-ports";
    argv[k++] = cmd->cnt;
    argv[k++] = "--truth";
    argv[k++] = (char *)s->truth;
    for (const char *const *e = s->extra; e && *e; e++) {
        if (k == max - 1) {
            fprintf(stderr, "itest_fleet: too many shuttle-sim arguments\n");
            return -1;
        }
        argv[k++] = (char *)*e;
    }
    argv[k] = NULL;
    fprintf(stderr, "simulating %s (seed %s) %s-%s at %dx\n", s->date, s->seed,
            s->start, s->end, s->speed);
    return 0;
}

struct harness_proc *itest_fleet_sim_start(struct itest_fleet *f,
                                           const struct itest_fleet_sim *s,
                                           int64_t fake_start_ms)
{
    struct itest_fleet__sim_cmd cmd;
    struct harness_proc *sim;
    char needle[64];

    if (itest_fleet__sim_cmd(f, s, &cmd) != 0)
        return NULL;
    sim = harness_spawn("shuttle-sim", cmd.argv, s->log);
    if (!sim)
        return NULL;
    /* Its first progress line is printed as its clock starts at its start
     * (sim_main.c paces every step against that moment). */
    snprintf(needle, sizeof needle, "shuttle-sim: %s:00 ", s->start);
    for (int waited = 0; !harness_log_has(s->log, needle); waited += 5) {
        if (waited > 60000 || !harness_alive(sim)) {
            harness_log_tail(s->log, 20);
            fprintf(stderr, "shuttle-sim did not start\n");
            return NULL;
        }
        harness_sleep_ms(5);
    }
    f->real0_ms = itest_wall_ms();
    f->fake0_ms = fake_start_ms;
    f->speed = s->speed;
    return sim;
}

int itest_fleet_sim_run(const struct itest_fleet *f,
                        const struct itest_fleet_sim *s, int timeout_ms)
{
    struct itest_fleet__sim_cmd cmd;

    if (itest_fleet__sim_cmd(f, s, &cmd) != 0)
        return -1;
    return itest_fleet_run("shuttle-sim", cmd.argv, s->log, timeout_ms);
}

int64_t itest_fleet_now(const struct itest_fleet *f)
{
    return f->fake0_ms + (itest_wall_ms() - f->real0_ms) * f->speed;
}

struct harness_proc *itest_fleet_live_start(const struct itest_fleet *f,
                                            int http_port,
                                            const char *const *opts,
                                            const char *log)
{
    static const char *const fake_env[] = {"LD_PRELOAD", "SHUTTLE_FAKE_WALL_S",
                                           "SHUTTLE_FAKE_REAL_MS",
                                           "SHUTTLE_FAKE_RATE"};
    char mport[64], hport[64], wall[32], real[32], rate[16];
    const char *tls[3];
    char *argv[14 + 2 * 8 + 1];
    struct harness_proc *p = NULL;
    int n = 0;

    snprintf(mport, sizeof mport, "mqtt_port=%d",
             harness_mosquitto_port(f->mq));
    snprintf(hport, sizeof hport, "http_port=%d", http_port);
    argv[n++] = (char *)harness_bin("shuttle-live");
    argv[n++] = "-d";
    argv[n++] = "-o";
    argv[n++] = (char *)f->dbopt;
    argv[n++] = "-o";
    argv[n++] = mport;
    argv[n++] = "-o";
    argv[n++] = hport;
    if (harness_mosquitto_identity_opts(f->mq, "shuttle-live", tls) < 0)
        return NULL;
    for (int i = 0; i < 3 && tls[i] != NULL; i++) {
        argv[n++] = "-o";
        argv[n++] = (char *)tls[i];
    }
    for (int i = 0; opts && opts[i]; i++) {
        if (i == 8) {
            fprintf(stderr, "itest_fleet: too many shuttle-live options\n");
            return NULL;
        }
        argv[n++] = "-o";
        argv[n++] = (char *)opts[i];
    }
    argv[n] = NULL;
    snprintf(wall, sizeof wall, "%.3f", (double)f->fake0_ms / 1000);
    snprintf(real, sizeof real, "%lld", (long long)f->real0_ms);
    snprintf(rate, sizeof rate, "%d", f->speed);
    /* Only the child is to run on the fake clock: the variables are set
     * for the spawn and taken away again. */
    if (setenv(fake_env[0], harness_bin("libshuttle_fakeclock.so"), 1) == 0 &&
        setenv(fake_env[1], wall, 1) == 0 &&
        setenv(fake_env[2], real, 1) == 0 &&
        setenv(fake_env[3], rate, 1) == 0 &&
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1) == 0)
        p = harness_spawn("shuttle-live", argv, log);
    else
        perror("itest_fleet: setenv");
    for (size_t i = 0; i < sizeof fake_env / sizeof *fake_env; i++)
        unsetenv(fake_env[i]);
    return p;
}
