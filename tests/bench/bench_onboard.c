/* shuttle-bench-onboard: the onboard's footprint (RSS, CPU, fsyncs at 1 Hz)
 * beside gpsd's, and the drain of a one-hour backlog beside mosquitto_pub
 * QoS 1 of as many messages (PERFORMANCE.md); prints figures and ratios. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counter_gw.h"
#include "harness.h"
#include "itest.h"

#define BO_VID "bench-onboard"
#define BO_RSS_KB 4096.0
#define BO_CPU_PCT 0.5
#define BO_FSYNC_PER_S 1.0
#define BO_DRAIN_S 36.0

struct proc_sample {
    double cpu_s;        /* utime + stime */
    long rss_kb, hwm_kb; /* VmRSS, VmHWM */
};

/* CPU seconds and memory of PID from /proc. 0, or -1. */
static int sample(pid_t pid, struct proc_sample *s)
{
    char path[64], buf[4096], *p;
    unsigned long ut, st;
    FILE *f;

    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    /* The command name may hold spaces: fields count from its ')'. */
    if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return -1;
    s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(buf, sizeof buf, f) != NULL) {
        sscanf(buf, "VmRSS: %ld", &s->rss_kb);
        sscanf(buf, "VmHWM: %ld", &s->hwm_kb);
    }
    fclose(f);
    return 0;
}

/* Calls of SYSCALL in an `strace -c` summary at PATH (0 when it is not
 * listed: never called), or -1 when the file cannot be read. */
static long strace_calls(const char *path, const char *syscall)
{
    char line[512], name[64];
    double pct, secs;
    long usecs, calls, total = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    /* "% time seconds usecs/call calls [errors] syscall" */
    while (fgets(line, sizeof line, f) != NULL) {
        char *last;

        if (sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &calls) != 4 ||
            (last = strrchr(line, ' ')) == NULL ||
            sscanf(last, "%63s", name) != 1)
            continue;
        if (strcmp(name, syscall) == 0)
            total = calls;
    }
    fclose(f);
    return total;
}

static void usage(void)
{
    printf("usage: shuttle-bench-onboard [--seconds N] [--quick]\n"
           "  --seconds N  footprint window at 1 Hz (default 60)\n"
           "  --quick      smoke run: 10 s window, 10-minute backlog\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seconds", required_argument, NULL, 's'},
        {"quick", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int seconds = 60, backlog = 3600, quick = 0, ch, cport, i;
    struct harness_mqtt *m;
    struct harness_pg *pg;
    struct harness_gpsd *g;
    struct harness_proc *ob, *be, *tr = NULL;
    struct proc_sample ob0, ob1, gp0, gp1;
    struct counter_gw gw;
    char dev[64], *dir, trace_log[512], pidbuf[16];
    const char *oblog, *belog;
    int64_t w0, w1, t0, t_restart, t_ob = -1, t_be = -1;
    long fsyncs = -1, fsync_n = -1, fdatasync_n = -1;
    long long records, last_commit, spool_bytes = -1;
    double window, pub_s, drain_s, drain_ob_s;

    while ((ch = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            seconds = atoi(optarg);
            break;
        case 'q':
            quick = 1;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (quick) {
        seconds = 10;
        backlog = 600;
    }
    if (seconds < 5) {
        fprintf(stderr, "--seconds: at least 5\n");
        return 2;
    }
    m = harness_mosquitto_start_plain(
        NULL, "the baseline publishes with a plain mosquitto_pub on a "
              "topic of its own");
    pg = harness_pg_start(1);
    g = harness_gpsd_start();
    cport = harness_free_port();
    dir = harness_tmpdir("bench-onboard");
    if (!m || !pg || !g || cport < 0 || !dir)
        return 1;
    snprintf(dev, sizeof dev, "counter_device=127.0.0.1:%d", cport);
    {
        const char *opts[] = {"counter_input=udp", dev, NULL};

        be = harness_backend_start(pg, m, NULL);
        ob = be ? harness_onboard_start(BO_VID, g, m, NULL, opts) : NULL;
    }
    if (!ob || counter_gw_open(&gw, cport) < 0)
        return 1;
    oblog = harness_proc_log(ob);
    belog = harness_proc_log(be);

    /* ---- footprint at 1 Hz ---- */
    printf("footprint: %d s of 1 Hz fixes (a door episode every 20 s)\n",
           seconds);
    /* Fsyncs counted by strace (the spool's own counter is not published):
     * attached for the whole window; with --seccomp-bpf only the traced
     * calls stop the onboard, so its CPU figure is barely touched. */
    snprintf(trace_log, sizeof trace_log, "%s/strace.txt", dir);
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)harness_pid(ob));
    if (access("/usr/bin/strace", X_OK) == 0) {
        char *argv_tr[] = {"strace", "-f",   "--seccomp-bpf",
                           "-c",     "-e",   "trace=fsync,fdatasync",
                           "-p",     pidbuf, NULL};

        tr = harness_spawn("strace", argv_tr, trace_log);
        harness_sleep_ms(300); /* attached */
    }
    sample(harness_pid(ob), &ob0);
    sample(harness_pid(harness_gpsd_proc(g)), &gp0);
    w0 = itest_mono_ms();
    t0 = itest_wall_ms();
    for (i = 0; i < seconds; i++) {
        int64_t now = itest_wall_ms();

        itest_send_fix(g, now, 37.58 + i * 1e-5, 126.67 + i * 1e-5);
        if (i % 20 == 10)
            counter_gw_episode(&gw, 1, 3, 2, 50);
        harness_sleep_ms((int)(t0 + (i + 1) * 1000LL - itest_wall_ms()));
    }
    w1 = itest_mono_ms();
    sample(harness_pid(ob), &ob1);
    sample(harness_pid(harness_gpsd_proc(g)), &gp1);
    window = (double)(w1 - w0) / 1000;
    if (tr != NULL) {
        harness_kill(tr, SIGINT); /* strace prints its summary and detaches */
        harness_wait(tr, 5000);
        fsync_n = strace_calls(trace_log, "fsync");
        fdatasync_n = strace_calls(trace_log, "fdatasync");
        fsyncs = fsync_n + fdatasync_n;
    }
    {
        double ob_cpu = (ob1.cpu_s - ob0.cpu_s) / window * 100;
        double gp_cpu = (gp1.cpu_s - gp0.cpu_s) / window * 100;
        double fps = fsyncs >= 0 ? (double)fsyncs / window : -1;

        printf("  %-16s %10s %10s %12s\n", "", "VmRSS kB", "VmHWM kB",
               "CPU % core");
        printf("  %-16s %10ld %10ld %12.3f\n", "shuttle-onboard", ob1.rss_kb,
               ob1.hwm_kb, ob_cpu);
        printf("  %-16s %10ld %10ld %12.3f\n", "gpsd", gp1.rss_kb, gp1.hwm_kb,
               gp_cpu);
        printf("  onboard/gpsd: RSS %.2fx, CPU %.2fx\n",
               gp1.rss_kb ? (double)ob1.rss_kb / gp1.rss_kb : 0,
               gp_cpu > 0 ? ob_cpu / gp_cpu : 0);
        printf("  vs target: RSS %.2f of %.0f kB, CPU %.2f of %.1f %% "
               "(clock tick %ld Hz: +-%.3f %% over the window)\n",
               ob1.rss_kb / BO_RSS_KB, BO_RSS_KB, ob_cpu / BO_CPU_PCT,
               BO_CPU_PCT, sysconf(_SC_CLK_TCK),
               100.0 / sysconf(_SC_CLK_TCK) / window);
        if (fsyncs >= 0)
            printf("  fsync+fdatasync (strace -c): %ld + %ld in %.1f s = "
                   "%.2f/s, %.2f of the %.0f/s target\n",
                   fsync_n, fdatasync_n, window, fps, fps / BO_FSYNC_PER_S,
                   BO_FSYNC_PER_S);
        else
            printf("  fsyncs: strace not available, not measured\n");
    }

    /* ---- backlog drain ---- */
    printf("drain: %d fixes and %d door episodes recorded with the broker "
           "down\n",
           backlog, backlog / 60);
    harness_mosquitto_stop(m);
    t0 = (itest_wall_ms() / 1000 - backlog - 600) * 1000;
    for (i = 0; i < backlog; i++) {
        itest_send_fix(g, t0 + i * 1000LL, 37.58 + i * 1e-5, 126.67 + i * 1e-5);
        if (i % 60 == 30)
            counter_gw_episode(&gw, 1 + i % 2, 2, 1, 0);
        harness_sleep_ms(1);
    }
    harness_sleep_ms(1500); /* the spool's once-a-second flush */
    {
        char spool[1024];

        snprintf(spool, sizeof spool, "%.*s/spool",
                 (int)(strrchr(oblog, '/') - oblog), oblog);
        spool_bytes = itest_dir_bytes(spool);
    }
    records = harness_pg_scalar(pg, "SELECT (SELECT count(*) FROM positions)"
                                    " + (SELECT count(*) FROM "
                                    "passenger_counts)");
    t_restart = itest_wall_ms();
    harness_mosquitto_restart(m, 1);
    /* Both daemons back (their reconnect back-off is up to 30 s), then
     * every record of the backlog committed. */
    for (i = 0; i < 900; i++) {
        char sql[256];

        if (t_ob < 0)
            t_ob = itest_log_time(oblog, "connected to broker", 2);
        if (t_be < 0)
            t_be = itest_log_time(belog, "connected to broker", 2);
        snprintf(sql, sizeof sql,
                 "SELECT ((SELECT count(*) FROM positions) + (SELECT count(*) "
                 "FROM passenger_counts) >= %lld)::int",
                 records + backlog + backlog / 60);
        if (t_ob >= 0 && t_be >= 0 && harness_pg_scalar(pg, sql) == 1)
            break;
        harness_sleep_ms(100);
    }
    last_commit = harness_pg_scalar(
        pg, "SELECT round(extract(epoch FROM max(received_at)) * 1000) FROM "
            "(SELECT received_at FROM positions UNION ALL SELECT received_at "
            "FROM passenger_counts) x");
    drain_s = (double)(last_commit - (t_ob > t_be ? t_ob : t_be)) / 1000;
    drain_ob_s = (double)(last_commit - t_ob) / 1000;
    printf("  reconnect after the broker returned: onboard %.1f s, backend "
           "%.1f s\n",
           (t_ob - t_restart) / 1000.0, (t_be - t_restart) / 1000.0);
    printf("  drain: %.3f s from both reconnected to the last commit (%.3f s "
           "from the onboard's reconnect)\n",
           drain_s, drain_ob_s);

    /* Baseline: mosquitto_pub -q 1 of as many messages, each the size of
     * an average spooled record, one per line from stdin. */
    {
        int n = backlog + backlog / 60, size = 60;
        char cmd[512];
        int64_t p0;
        FILE *p;

        /* Each message the size of an average spooled record's payload:
         * the spool (beside the onboard's log) over the records it holds,
         * less the record header (SPOOL_RECORD_OVERHEAD, 28 bytes). */
        if (spool_bytes > 0 && n > 0 && spool_bytes / n > 28)
            size = (int)(spool_bytes / n - 28);
        snprintf(cmd, sizeof cmd,
                 "mosquitto_pub -h 127.0.0.1 -p %d -q 1 -t bench/baseline -l",
                 harness_mosquitto_port(m));
        p0 = itest_mono_ms();
        p = popen(cmd, "w");
        if (p != NULL) {
            for (i = 0; i < n; i++)
                fprintf(p, "%0*d\n", size, i);
            pclose(p);
        }
        pub_s = (double)(itest_mono_ms() - p0) / 1000;
        printf("  baseline: mosquitto_pub -q 1 -l of %d messages of %d "
               "bytes: %.3f s\n",
               n, size, pub_s);
        printf("  drain/baseline %.2fx; %.0fx real time (target >= 100x, "
               "i.e. %.1f of the %.0f s bound for one hour)\n",
               pub_s > 0 ? drain_s / pub_s : 0,
               drain_s > 0 ? backlog / drain_s : 0,
               drain_s * 3600 / backlog / BO_DRAIN_S, BO_DRAIN_S);
    }
    counter_gw_close(&gw);
    harness_cleanup();
    return 0;
}
