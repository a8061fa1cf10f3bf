/* Integration test of the test harness itself: real mosquitto, PostgreSQL
 * and gpsd start, answer, restart and are gone after harness_stop_all(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "nmea.h"

static long long ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)(t.tv_sec - t0->tv_sec) * 1000 +
           (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* 1 when no process PID exists any more (a zombie nobody reaps counts as
 * gone: it runs no code and holds no port). */
static int pid_gone(pid_t pid)
{
    char path[64], buf[512];
    const char *close_paren;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    return close_paren != NULL && close_paren[1] == ' ' &&
           close_paren[2] == 'Z';
}

static int pid_gone_pred(void *arg)
{
    return pid_gone(*(pid_t *)arg);
}

/* The pids of the children of PARENT (from /proc), at most MAX. */
static int children_of(pid_t parent, pid_t *out, int max)
{
    struct dirent *de;
    int n = 0;
    DIR *d = opendir("/proc");

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL && n < max) {
        char path[300], buf[512];
        const char *p;
        FILE *f;
        size_t len;
        int ppid;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        p = strrchr(buf, ')');
        if (p != NULL && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
            ppid == (int)parent)
            out[n++] = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* ---- NMEA ----------------------------------------------------------- */

static void test_nmea_sentences(void **state)
{
    char buf[128];
    time_t t = 1700000000; /* 2023-11-14 22:13:20 UTC */
    unsigned int sum;
    int n;

    /* A sentence from a real receiver (gpsd regression data). */
    assert_int_equal(nmea_checksum("$GPGGA,123519,4807.038,N,01131.000,E,1,08,"
                                   "0.9,545.4,M,46.9,M,,*47"),
                     0x47);

    n = nmea_rmc(buf, sizeof buf, t, 250, 37.552057600, 126.660905350, 10.5, 90,
                 1);
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf, "$GPRMC,221320.250,A,3733.123456,N,12639.654321"
                             ",E,10.500,90.00,141123,,,A*5B\r\n");
    assert_int_equal(sscanf(strchr(buf, '*') + 1, "%2X", &sum), 1);
    assert_int_equal((int)sum, nmea_checksum(buf));

    /* South/west, and minutes that round up to a whole degree. */
    n = nmea_gga(buf, sizeof buf, t, 0, -9.9999999999, -0.5, 1, 7, 1.25,
                 -12.34);
    assert_true(n > 0);
    assert_non_null(strstr(buf, ",1000.000000,S,00030.000000,W,1,07,1.2,"
                                "-12.3,M,,M,,*"));
    assert_int_equal(nmea_rmc(buf, sizeof buf, t, 0, 1, 2, 0, 0, 0) > 0, 1);
    assert_non_null(strstr(buf, ",V,"));
    assert_non_null(strstr(buf, ",N*"));

    assert_int_equal(nmea_rmc(buf, 20, t, 0, 1, 2, 0, 0, 1), -1);
    assert_int_equal(nmea_rmc(buf, sizeof buf, t, 0, 91, 2, 0, 0, 1), -1);
    assert_int_equal(nmea_gga(buf, sizeof buf, t, 1000, 1, 2, 1, 5, 1, 0), -1);
}

/* ---- mosquitto ------------------------------------------------------ */

/* Subscribe for one message on TOPIC (waiting at most WAIT_S) while
 * publishing PAYLOAD every 100 ms when PUBLISH: the subscriber's exit code;
 * its output is in OUT. */
/* The topics are stop displays': the shipped ACL lets shuttle-live write
 * them and "displays" read them. */
static int mqtt_round_trip(struct harness_mqtt *m, const char *topic,
                           const char *payload, int publish, int wait_s,
                           const char *out)
{
    char wait[16];
    struct harness_proc *sub;
    int i, rc;

    snprintf(wait, sizeof wait, "%d", wait_s);
    {
        const char *args[] = {"-t", topic, "-q", "1", "-C",
                              "1",  "-W",  wait, NULL};
        sub =
            harness_mosquitto_client(m, "mosquitto_sub", "displays", args, out);
    }
    assert_non_null(sub);
    for (i = 0; publish && i < wait_s * 10 && harness_alive(sub); i++) {
        const char *args[] = {"-t", topic, "-q", "1", "-m", payload, NULL};
        struct harness_proc *pub = harness_mosquitto_client(
            m, "mosquitto_pub", "shuttle-live", args, "/dev/null");

        assert_non_null(pub);
        assert_int_equal(harness_wait(pub, 15000), 0);
        harness_sleep_ms(100);
    }
    rc = harness_wait(sub, (wait_s + 5) * 1000);
    return rc;
}

#define KEPT "shuttle/v1/stops/harness-kept/arrivals"

static void test_mosquitto(void **state)
{
    struct harness_mqtt *m;
    struct timespec t0;
    char *dir = harness_tmpdir("test");
    char out[512], port[16];
    pid_t pid;

    assert_non_null(dir);
    snprintf(out, sizeof out, "%s/sub.out", dir);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    m = harness_mosquitto_start("autosave_interval 1800");
    assert_non_null(m);
    print_message("mosquitto started in %lld ms\n", ms_since(&t0));

    assert_int_equal(mqtt_round_trip(m,
                                     "shuttle/v1/stops/harness-live/arrivals",
                                     "hello 1", 1, 5, out),
                     0);
    assert_string_equal(slurp(out), "hello 1\n");

    /* A retained message survives a restart that keeps persistence... */
    snprintf(port, sizeof port, "%d", harness_mosquitto_port(m));
    {
        const char *args[] = {"-t", KEPT, "-q",         "1",
                              "-r", "-m", "retained 2", NULL};
        struct harness_proc *pub = harness_mosquitto_client(
            m, "mosquitto_pub", "shuttle-live", args, "/dev/null");

        assert_non_null(pub);
        assert_int_equal(harness_wait(pub, 15000), 0);
    }
    pid = harness_pid(harness_mosquitto_proc(m));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(harness_mosquitto_restart(m, 1), 0);
    print_message("mosquitto restarted in %lld ms\n", ms_since(&t0));
    assert_true(pid_gone(pid));
    assert_int_equal(harness_mosquitto_port(m), atoi(port));
    unlink(out);
    assert_int_equal(mqtt_round_trip(m, KEPT, NULL, 0, 3, out), 0);
    assert_string_equal(slurp(out), "retained 2\n");

    /* ...and is gone after one that wipes it (mosquitto_sub times out). */
    assert_int_equal(harness_mosquitto_restart(m, 0), 0);
    unlink(out);
    assert_int_not_equal(mqtt_round_trip(m, KEPT, NULL, 0, 1, out), 0);
    assert_null(strstr(slurp(out), "retained 2"));

    pid = harness_pid(harness_mosquitto_proc(m));
    assert_int_equal(harness_mosquitto_stop(m), 0);
    assert_true(pid_gone(pid));
    assert_int_equal(harness_tcp_connect(atoi(port)), -1);
}

/* ---- PostgreSQL ----------------------------------------------------- */

static void test_postgres(void **state)
{
    struct harness_pg *pg;
    struct timespec t0;
    pid_t pid, kids[32];
    int nkids, i;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pg = harness_pg_start(0);
    assert_non_null(pg);
    print_message("postgres (initdb + start + createdb) in %lld ms\n",
                  ms_since(&t0));
    print_message("conninfo: %s\n", harness_pg_conninfo(pg));
    assert_non_null(strstr(harness_pg_conninfo(pg), "dbname=shuttle"));

    assert_int_equal(harness_pg_scalar(pg, "SELECT 1"), 1);
    assert_int_equal(harness_pg_scalar(pg, "SELECT current_database() = "
                                           "'shuttle'::name"),
                     -1); /* a boolean is not an integer */
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM "
                                           "pg_database WHERE datname = "
                                           "current_database() AND datname "
                                           "= 'shuttle'"),
                     1);
    assert_int_equal(harness_pg_scalar(pg, "SELECT no_such_column"), -1);
    assert_int_equal(harness_pg_exec(pg, "SELEC 1"), -1);
    assert_int_equal(harness_pg_exec(pg, "CREATE TABLE t (v int);"
                                         "INSERT INTO t SELECT "
                                         "generate_series(1, 1000)"),
                     0);
    assert_int_equal(harness_pg_scalar(pg, "SELECT sum(v) FROM t"), 500500);
    assert_int_equal(harness_pg_scalar(pg, "SELECT (current_setting('fsync')"
                                           " = 'on')::int"),
                     1);

    /* Fast restart keeps the data. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(harness_pg_restart(pg), 0);
    print_message("postgres restart in %lld ms\n", ms_since(&t0));
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM t"), 1000);

    /* Committed rows survive an immediate (crash-like) stop. */
    assert_int_equal(harness_pg_exec(pg, "INSERT INTO t VALUES (7)"), 0);
    pid = harness_pid(harness_pg_proc(pg));
    nkids = children_of(pid, kids, 32);
    assert_true(nkids >= 3); /* checkpointer, bgwriter, walwriter, ... */
    print_message("postmaster exit after SIGQUIT: %d\n",
                  harness_pg_stop(pg, 1));
    for (i = 0; i < nkids; i++)
        assert_true(pid_gone(kids[i]));
    assert_int_equal(harness_pg_restart(pg), 0);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM t"), 1001);
    assert_non_null(
        strstr(slurp(harness_pg_log(pg)), "not properly shut down"));
}

/* ---- gpsd ----------------------------------------------------------- */

/* Read TPV reports from FD for up to TIMEOUT_MS, sending a fix at LAT/LON to
 * G every 200 ms: 1 once a TPV with mode >= 2 at that position arrives.
 * 6 decimals of minutes are within 8.3e-9 degree and gpsd prints 9
 * decimals, so 2e-8 would catch a sentence with fewer decimals. */
static int gpsd_sees_fix(struct harness_gpsd *g, int fd, double lat, double lon,
                         int timeout_ms)
{
    static char buf[65536];
    size_t len = 0;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (ms_since(&t0) < timeout_ms) {
        struct pollfd pfd = {fd, POLLIN, 0};
        char sentences[256];
        time_t now = time(NULL);
        char *line, *nl;
        int n;

        n = nmea_rmc(sentences, sizeof sentences, now, 0, lat, lon, 12.0, 45.0,
                     1);
        assert_true(n > 0);
        assert_true(nmea_gga(sentences + n, sizeof sentences - (size_t)n, now,
                             0, lat, lon, 1, 9, 0.9, 31.5) > 0);
        assert_int_equal(harness_gpsd_send(g, sentences), 2);

        if (poll(&pfd, 1, 200) <= 0)
            continue;
        n = (int)read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        line = buf;
        while ((nl = strchr(line, '\n')) != NULL) {
            const char *mode, *la, *lo;

            *nl = '\0';
            mode = strstr(line, "\"mode\":");
            la = strstr(line, "\"lat\":");
            lo = strstr(line, "\"lon\":");
            if (strstr(line, "\"class\":\"TPV\"") != NULL && mode != NULL &&
                la != NULL && lo != NULL && atoi(mode + 7) >= 2 &&
                fabs(strtod(la + 6, NULL) - lat) < 2e-8 &&
                fabs(strtod(lo + 6, NULL) - lon) < 2e-8)
                return 1;
            line = nl + 1;
        }
        len = strlen(line);
        memmove(buf, line, len + 1);
        if (len == sizeof buf - 1)
            len = 0;
    }
    return 0;
}

static int gpsd_watch(struct harness_gpsd *g)
{
    static const char watch[] = "?WATCH={\"enable\":true,\"json\":true};\n";
    int fd = harness_tcp_connect(harness_gpsd_port(g));

    if (fd >= 0 &&
        write(fd, watch, sizeof watch - 1) != (ssize_t)(sizeof watch - 1)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void test_gpsd(void **state)
{
    struct harness_gpsd *g;
    struct timespec t0;
    int fd, udp;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    g = harness_gpsd_start();
    assert_non_null(g);
    print_message("gpsd started in %lld ms\n", ms_since(&t0));
    assert_int_not_equal(harness_gpsd_port(g), harness_gpsd_udp_port(g));

    fd = gpsd_watch(g);
    assert_true(fd >= 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Geomdan, Incheon; digits beyond 1e-6 degree would show a rounding. */
    assert_true(gpsd_sees_fix(g, fd, 37.5921234, 126.6751987, 10000));
    print_message("first fix after %lld ms\n", ms_since(&t0));
    close(fd);

    /* Same ports after a restart, and a fix in the south-western
     * quadrant. */
    udp = harness_gpsd_udp_port(g);
    assert_int_equal(harness_gpsd_restart(g), 0);
    assert_int_equal(harness_gpsd_udp_port(g), udp);
    fd = gpsd_watch(g);
    assert_true(fd >= 0);
    assert_true(gpsd_sees_fix(g, fd, -33.8567844, -151.2152967, 10000));
    close(fd);
}

/* ---- processes ------------------------------------------------------ */

static void test_spawn_wait_kill(void **state)
{
    char *dir = harness_tmpdir("proc");
    char log[512];
    struct harness_proc *p;

    snprintf(log, sizeof log, "%s/out", dir);
    {
        char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        p = harness_spawn("sh", argv, log);
    }
    assert_non_null(p);
    assert_int_equal(harness_wait(p, 5000), 3);
    assert_int_equal(harness_wait(p, 0), 3);
    assert_false(harness_alive(p));
    assert_string_equal(slurp(log), "out\nerr\n");

    {
        char *argv[] = {"/nonexistent/program", NULL};
        assert_null(harness_spawn("none", argv, log));
    }
    {
        char *argv[] = {"sleep", "30", NULL};
        p = harness_spawn("sleep", argv, log);
    }
    assert_non_null(p);
    assert_true(harness_alive(p));
    assert_int_equal(harness_wait(p, 100), -1);
    assert_int_equal(harness_kill(p, SIGUSR1), 0);
    assert_int_equal(harness_wait(p, 5000), 128 + SIGUSR1);
    assert_int_equal(harness_kill(p, SIGUSR1), -1);
    /* The shell ignores SIGTERM: harness_stop must escalate to SIGKILL. */
    {
        char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30 & wait", NULL};
        p = harness_spawn("obstinate", argv, log);
    }
    assert_non_null(p);
    harness_sleep_ms(100);
    harness_set_stop(p, SIGTERM, 300);
    assert_int_equal(harness_stop(p), 128 + SIGKILL);
}

/* A test process that dies (by SIG) leaves none of its services running:
 * not mosquitto and gpsd, which change user, not the PostgreSQL cluster
 * whose backends are outside the postmaster's process group. */
static void check_no_orphans(int sig)
{
    enum { NSVC = 4 };
    pid_t child, pids[NSVC], kids[32], svc;
    char dirs[1024], *dir, *save = NULL;
    int fds[2], status, nkids, i;
    ssize_t n, got = 0;

    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct harness_mqtt *m;
        struct harness_gpsd *g;
        struct harness_pg *pg;
        struct harness_proc *p;
        char *argv[] = {"sleep", "60", NULL};

        close(fds[0]);
        m = harness_mosquitto_start(NULL);
        g = harness_gpsd_start();
        pg = harness_pg_start(1);
        p = harness_spawn("sleep", argv, "/dev/null");
        if (m == NULL || g == NULL || pg == NULL || p == NULL)
            _exit(1);
        pids[0] = harness_pid(harness_mosquitto_proc(m));
        pids[1] = harness_pid(harness_gpsd_proc(g));
        pids[2] = harness_pid(harness_pg_proc(pg));
        pids[3] = harness_pid(p);
        /* Its folders, for the parent to remove. */
        snprintf(dirs, sizeof dirs, "%s\n%s\n%s\n", harness_mosquitto_dir(m),
                 harness_pg_dir(pg), harness_gpsd_dir(g));
        (void)!write(fds[1], pids, sizeof pids);
        (void)!write(fds[1], dirs, strlen(dirs));
        close(fds[1]);
        pause();
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], pids, sizeof pids), (int)sizeof pids);
    while ((n = read(fds[0], dirs + got, sizeof dirs - 1 - (size_t)got)) > 0)
        got += n;
    dirs[got] = '\0';
    close(fds[0]);
    for (i = 0; i < NSVC; i++)
        assert_false(pid_gone(pids[i]));
    nkids = children_of(pids[2], kids, 32);
    assert_true(nkids >= 3);

    kill(child, sig);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
    for (i = 0; i < NSVC; i++) {
        svc = pids[i];
        assert_int_equal(harness_wait_for(pid_gone_pred, &svc, 5000), 0);
    }
    for (i = 0; i < nkids; i++) {
        svc = kids[i];
        assert_int_equal(harness_wait_for(pid_gone_pred, &svc, 5000), 0);
    }
    /* Folders outlive a signal (removing them is not signal-safe). */
    for (dir = strtok_r(dirs, "\n", &save); dir != NULL;
         dir = strtok_r(NULL, "\n", &save)) {
        assert_int_equal(access(dir, F_OK), 0);
        assert_int_equal(harness_rmtree(dir), 0);
        assert_int_equal(access(dir, F_OK), -1);
    }
}

static void test_no_orphans_sigkill(void **state)
{
    check_no_orphans(SIGKILL);
}

static void test_no_orphans_sigterm(void **state)
{
    check_no_orphans(SIGTERM);
}

/* ---- all together --------------------------------------------------- */

static void test_all_three_then_stop_all(void **state)
{
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    pid_t pids[3], pg_kids[32];
    int i, nkids, fd;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    pids[0] = harness_pid(harness_mosquitto_proc(m));
    pids[1] = harness_pid(harness_pg_proc(pg));
    pids[2] = harness_pid(harness_gpsd_proc(g));
    assert_int_equal(harness_pg_scalar(pg, "SELECT 1"), 1);
    fd = gpsd_watch(g);
    assert_true(fd >= 0);
    assert_true(gpsd_sees_fix(g, fd, 37.5, 126.6, 10000));
    close(fd);
    nkids = children_of(pids[1], pg_kids, 32);
    assert_true(nkids >= 3);

    harness_stop_all();
    for (i = 0; i < 3; i++)
        assert_true(pid_gone(pids[i]));
    for (i = 0; i < nkids; i++)
        assert_true(pid_gone(pg_kids[i]));
    assert_false(harness_alive(harness_gpsd_proc(g)));
    assert_int_equal(harness_tcp_connect(harness_mosquitto_port(m)), -1);
    assert_int_equal(harness_tcp_connect(harness_gpsd_port(g)), -1);
}

static void test_paths(void **state)
{
    const char *bin = harness_bin("shuttle-onboard");
    const char *shared = harness_shared_data();
    char *d1 = harness_tmpdir("a"), *d2 = harness_tmpdir("a");
    struct stat st;
    int p1 = harness_free_port(), p2 = harness_free_port();

    assert_non_null(strstr(bin, "/shuttle-onboard"));
    if (getenv("SHUTTLE_BIN_DIR") != NULL)
        assert_int_equal(strncmp(bin, getenv("SHUTTLE_BIN_DIR"),
                                 strlen(getenv("SHUTTLE_BIN_DIR"))),
                         0);
    if (shared != NULL)
        assert_int_equal(stat(shared, &st), 0);
    assert_string_not_equal(d1, d2);
    assert_int_equal(stat(d1, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_true(p1 > 0 && p2 > 0 && p1 != p2);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nmea_sentences, teardown),
        cmocka_unit_test_teardown(test_paths, teardown),
        cmocka_unit_test_teardown(test_spawn_wait_kill, teardown),
        cmocka_unit_test_teardown(test_mosquitto, teardown),
        cmocka_unit_test_teardown(test_postgres, teardown),
        cmocka_unit_test_teardown(test_gpsd, teardown),
        cmocka_unit_test_teardown(test_no_orphans_sigkill, teardown),
        cmocka_unit_test_teardown(test_no_orphans_sigterm, teardown),
        cmocka_unit_test_teardown(test_all_three_then_stop_all, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
