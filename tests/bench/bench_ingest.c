/* shuttle-bench-ingest: ingest throughput, writer speed, latency and commit
 * discipline against same-run baselines (PERFORMANCE.md); prints figures. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "bench_prom.h"
#include "clock.h"
#include "db.h"
#include "partitions.h"
#include "writer.h"
#include "harness.h"
#include "wire.h"

/*
 * Order of the phases: everything measured without the backend first (the
 * broker drain, the broker's latency floor, the writer against COPY and
 * INSERT), then the backend is started for throughput, commits and latency.
 * Each phase uses its own vehicle-id prefix, so retained acks and rows of
 * one phase never meet the next. The drain (a) and the backend (b) are
 * driven by the same publishers (run_publishers), and each prints the CPU
 * seconds of its processes: on a shared machine the rates move with the
 * other load, the CPU per record does not.
 */

struct bench_opts {
    double seconds;     /* sustained throughput phase */
    double lat_seconds; /* latency phases */
    double lat_rate;
    unsigned vehicles, batch;
    unsigned publishers; /* shuttle-loadgen processes of (a) and (b) */
    long writer_rows, insert_rows;
    int fast_pg;
    int quick;
};

/* What shuttle-loadgen printed on its RESULT line. */
struct lg_result {
    double records, messages, seconds, rate, resends, failed;
    double p50, p99, max, cp50, cp99;
};

struct bench {
    struct bench_opts o;
    struct harness_mqtt *m;
    struct harness_pg *pg;
    PGconn *conn;            /* ours, for polling and statistics */
    struct harness_proc *be; /* shuttle-backend of (b), (d) */
    char *dir;
    char port[16];

    double base_rate;    /* (a) */
    double base_records; /* (a) records received */
    double base_send;    /* loadgen's own publish rate in (a) */
    double be_rate;      /* (b) */
    double be_send;
    double be_records;
    double be_lost; /* sent but never committed: dropped by the broker */
    double writer_rate, copy_rate, insert_rate; /* (c) */
    /* CPU seconds of the phase's own processes: the machine is shared, and
     * rates per CPU second do not depend on what else runs beside. */
    double base_cpu, be_cpu, writer_cpu, copy_cpu;
    struct lg_result floor, lat;       /* (d) */
    double xids_per_100, xact_per_100; /* (e) */
    double commits_backend;
    /* (f) the loop's stall with a rebuild beside it */
    struct lg_result stall_lat;
    double stall_p99_ms, stall_max_ms, stall_rebuilds;
};

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "shuttle-bench-ingest: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static PGresult *q(struct bench *b, const char *sql)
{
    PGresult *r = PQexec(b->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        die("%s: %s", sql, PQerrorMessage(b->conn));
    return r;
}

static double qnum(struct bench *b, const char *sql)
{
    PGresult *r = q(b, sql);
    double v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                   ? strtod(PQgetvalue(r, 0, 0), NULL)
                   : NAN;

    PQclear(r);
    return v;
}

static void qexec(struct bench *b, const char *sql)
{
    PQclear(q(b, sql));
}

/* A shuttle-loadgen started and not yet waited for. */
struct lg_run {
    struct harness_proc *p;
    char tag[64], log[512];
};

/* Start shuttle-loadgen with ARGS (NULL-terminated). */
static void loadgen_start(struct bench *b, struct lg_run *run, const char *tag,
                          const char *const *args)
{
    const char *argv[40];
    int n = 0;

    snprintf(run->tag, sizeof run->tag, "%s", tag);
    snprintf(run->log, sizeof run->log, "%s/loadgen-%s.log", b->dir, tag);
    argv[n++] = harness_bin("shuttle-loadgen");
    argv[n++] = "-p";
    argv[n++] = b->port;
    while (*args && n < 38)
        argv[n++] = *args++;
    argv[n] = NULL;
    run->p = harness_spawn("shuttle-loadgen", (char *const *)argv, run->log);
    if (!run->p)
        die("cannot start shuttle-loadgen");
}

/* Wait for a started shuttle-loadgen to end; its RESULT. */
static struct lg_result loadgen_finish(struct lg_run *run)
{
    const char *log = run->log, *tag = run->tag;
    char line[1024];
    struct lg_result r;
    FILE *f;
    int rc, found = 0;

    memset(&r, 0, sizeof r);
    rc = harness_wait(run->p, -1);
    f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "RESULT ", 7) != 0)
            continue;
        found = sscanf(line,
                       "RESULT records=%lf messages=%lf seconds=%lf rate=%lf "
                       "resends=%lf failed=%lf p50=%lf p99=%lf max=%lf "
                       "cp50=%lf cp99=%lf",
                       &r.records, &r.messages, &r.seconds, &r.rate, &r.resends,
                       &r.failed, &r.p50, &r.p99, &r.max, &r.cp50, &r.cp99);
    }
    if (f)
        fclose(f);
    if (found < 6) {
        harness_log_tail(log, 20);
        die("shuttle-loadgen (%s) gave no result (exit %d)", tag, rc);
    }
    if (rc != 0)
        fprintf(stderr, "note: shuttle-loadgen (%s) exit %d (see %s)\n", tag,
                rc, log);
    return r;
}

/* Run shuttle-loadgen with ARGS (NULL-terminated) to the end; its RESULT. */
static struct lg_result run_loadgen(struct bench *b, const char *tag,
                                    const char *const *args)
{
    struct lg_run run;

    memset(&run, 0, sizeof run);
    loadgen_start(b, &run, tag, args);
    return loadgen_finish(&run);
}

#define BENCH_PUBLISHERS_MAX 8

/*
 * The load of (a) and (b), the same in both: b->o.publishers
 * shuttle-loadgen processes at once, as fast as each can, the vehicles
 * shared out (vehicle ids PREFIX<i>-nnnnn). One loadgen is one core at
 * most, and on this machine one was slower than the broker: the drain then
 * measured the publisher. The results are summed; rate is the sum of each
 * one's rate, seconds the longest.
 */
static struct lg_result run_publishers(struct bench *b, const char *tag,
                                       const char *prefix)
{
    struct lg_run run[BENCH_PUBLISHERS_MAX];
    char name[BENCH_PUBLISHERS_MAX][64], pre[BENCH_PUBLISHERS_MAX][24],
        veh[BENCH_PUBLISHERS_MAX][16], secs[32], bat[16];
    unsigned np = b->o.publishers;
    struct lg_result sum;

    memset(&sum, 0, sizeof sum);
    memset(run, 0, sizeof run);
    snprintf(secs, sizeof secs, "%g", b->o.seconds);
    snprintf(bat, sizeof bat, "%u", b->o.batch);
    for (unsigned i = 0; i < np; i++) {
        unsigned nv = b->o.vehicles / np + (i < b->o.vehicles % np ? 1 : 0);
        const char *args[] = {"-n", veh[i],     "-b",   bat, "-d",
                              secs, "--prefix", pre[i], NULL};

        snprintf(name[i], sizeof name[i], "%s-%u", tag, i);
        snprintf(pre[i], sizeof pre[i], "%s%u-", prefix, i);
        snprintf(veh[i], sizeof veh[i], "%u", nv);
        loadgen_start(b, &run[i], name[i], args);
    }
    for (unsigned i = 0; i < np; i++) {
        struct lg_result r = loadgen_finish(&run[i]);

        sum.records += r.records;
        sum.messages += r.messages;
        sum.rate += r.rate;
        if (r.seconds > sum.seconds)
            sum.seconds = r.seconds;
    }
    return sum;
}

/*
 * Where the CPU goes: clock-tick counts from /proc, read before and after a
 * phase. A process's CPU is utime + stime of /proc/PID/stat; the children
 * the bench has reaped (the publishers) through RUSAGE_CHILDREN;
 * PostgreSQL as its postmaster and every process whose parent that is (one
 * per connection, the WAL writer, the checkpointer); the machine from
 * /proc/stat.
 */
struct cpu_snap {
    double wall, broker, pg, consumer, reaped, self, busy;
};

static double cpu_pg(struct bench *b)
{
    pid_t pm = harness_pid(harness_pg_proc(b->pg));
    double sum = bench_proc_cpu_pid(pm);
    DIR *d = opendir("/proc");
    const struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        long pp = 0;
        double c;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        c = bench_proc_cpu(e->d_name, &pp);
        if (pp == (long)pm)
            sum += c;
    }
    if (d)
        closedir(d);
    return sum;
}

/* consumer: the pid of the process taking the load. */
static struct cpu_snap cpu_snap(struct bench *b, pid_t consumer)
{
    struct cpu_snap c;

    c.wall = bench_now();
    c.broker = bench_proc_cpu_pid(harness_pid(harness_mosquitto_proc(b->m)));
    c.pg = cpu_pg(b);
    c.consumer = bench_proc_cpu_pid(consumer);
    c.reaped = bench_proc_rusage(RUSAGE_CHILDREN);
    c.self = bench_proc_rusage(RUSAGE_SELF);
    c.busy = bench_proc_machine_busy();
    return c;
}

/* Print the CPU seconds between two snapshots of a phase; returns those
 * of the processes of the phase (not the machine's other load). */
static double cpu_print(const char *phase, const char *consumer,
                        const struct cpu_snap *a, const struct cpu_snap *z)
{
    double wall = z->wall - a->wall, busy = z->busy - a->busy;
    double ours = (z->broker - a->broker) + (z->pg - a->pg) +
                  (z->consumer - a->consumer) + (z->reaped - a->reaped) +
                  (z->self - a->self);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    printf("  %s CPU s in %.1f s wall (%ld cores): mosquitto %.1f,"
           " publishers %.1f, %s %.1f, PostgreSQL %.1f, bench %.1f;"
           " machine busy %.1f (%.0f %%), not ours %.1f\n",
           phase, wall, ncpu, z->broker - a->broker, z->reaped - a->reaped,
           consumer, z->consumer - a->consumer, z->pg - a->pg,
           z->self - a->self, busy, 100.0 * busy / (wall * (double)ncpu),
           busy - ours > 0 ? busy - ours : 0);
    return ours;
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

static void fmt_common(struct bench *b, char *veh, char *bat, size_t len)
{
    snprintf(veh, len, "%u", b->o.vehicles);
    snprintf(bat, len, "%u", b->o.batch);
}

/* (a) mosquitto_sub draining the load of run_publishers to a file of one
 * "x\n" per message: the broker's own ceiling for this load on this
 * machine. Timed as (b) is: from the start to the last message received
 * (if the broker drops some, to when the count stops growing). */
static void phase_baseline(struct bench *b)
{
    char out[512];
    const char *sub[] = {
        "mosquitto_sub",          "-h", "127.0.0.1", "-p", b->port, "-t",
        "shuttle/v1/+/telemetry", "-q", "1",         "-F", "x",     NULL};
    struct harness_proc *p;
    struct lg_result r;
    double t0, tlast, got;
    off_t want, prev = -1;
    struct cpu_snap c0, c1;

    snprintf(out, sizeof out, "%s/mosquitto_sub.out", b->dir);
    p = harness_spawn("mosquitto_sub", (char *const *)sub, out);
    if (!p)
        die("cannot start mosquitto_sub");
    harness_sleep_ms(500); /* let the subscription settle */
    c0 = cpu_snap(b, harness_pid(p));
    t0 = bench_now();
    r = run_publishers(b, "baseline", "ba-");
    want = (off_t)(2 * r.messages);
    tlast = bench_now();
    while (bench_now() - tlast < 3) {
        off_t sz = file_size(out);

        if (sz > prev) {
            tlast = bench_now();
            prev = sz;
        }
        if (sz >= want)
            break;
        harness_sleep_ms(5);
    }
    c1 = cpu_snap(b, harness_pid(p)); /* before mosquitto_sub is reaped */
    harness_stop(p);
    /* Records per message are the same for every message. */
    got = (double)(prev / 2) * (r.messages > 0 ? r.records / r.messages : 0);
    b->base_rate = got / (tlast - t0);
    b->base_records = got;
    b->base_send = r.rate;
    printf("  (a) mosquitto_sub drained %.0f of %.0f records (%.0f messages)"
           " in %.2f s: %.0f records/s (%u publishers: %.0f/s)\n",
           got, r.records, r.messages, tlast - t0, b->base_rate,
           b->o.publishers, r.rate);
    b->base_cpu = cpu_print("(a)", "mosquitto_sub", &c0, &c1);
}

/* (d, floor) broker pub -> sub latency at the latency rate, same load. */
static void phase_floor(struct bench *b)
{
    char secs[32], rate[32], veh[16], bat[16];

    fmt_common(b, veh, bat, sizeof veh);
    snprintf(secs, sizeof secs, "%g", b->o.lat_seconds);
    snprintf(rate, sizeof rate, "%g", b->o.lat_rate);
    {
        const char *args[] = {"-n", veh,  "-b",     bat,        "-d",  secs,
                              "-r", rate, "--echo", "--prefix", "fl-", NULL};
        b->floor = run_loadgen(b, "floor", args);
    }
    printf("  (d0) broker floor at %.0f records/s: p50 %.2f ms, p99 %.2f ms"
           " (%.0f records)\n",
           b->floor.rate, b->floor.p50, b->floor.p99, b->floor.records);
}

/* The rows of the writer phases: messages of `batch` records, vehicles in
 * turn, as the backend sees them under the load of (b). */
static void writer_record(unsigned vi, uint64_t seq, int64_t t_ms,
                          struct wire_record *r)
{
    wire_position_init(r);
    r->seq = seq;
    r->t_ms = t_ms;
    r->u.pos.lat = 37.59 + 0.02 * sin(vi * 0.37 + seq * 1e-4);
    r->u.pos.lon = 126.67 + 0.02 * cos(vi * 0.37 + seq * 1e-4);
    r->u.pos.speed = 8.5;
    r->u.pos.track = 90.0;
    r->u.pos.hdop = 0.9;
    r->u.pos.fix_mode = 3;
    r->u.pos.sats_used = 9;
}

static void fmt_ts(char *buf, size_t len, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00",
             (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void truncate_positions(struct bench *b)
{
    qexec(b, "TRUNCATE positions, vehicle_progress");
    /* The lead's schema keeps a watermark helper table; empty it too. */
    if (qnum(b, "SELECT (to_regclass('pending_seqs') IS NOT NULL)::int") == 1)
        qexec(b, "TRUNCATE pending_seqs");
    qexec(b, "CHECKPOINT");
}

/* The day partition key of positions (the service day), when the schema
 * has one: COPY and INSERT must supply it as the writer does. */
static int has_service_day(struct bench *b)
{
    return qnum(b, "SELECT count(*) FROM information_schema.columns WHERE"
                   " table_name = 'positions' AND column_name ="
                   " 'service_day'") > 0;
}

/* The service day of t_ms as the writer computes it (in the zone d read
 * from the database), as text. */
static void fmt_day(struct db *d, char *buf, int64_t t_ms)
{
    int32_t day;

    if (db_service_day(d, t_ms, &day) != DB_OK)
        die("no service day for %" PRId64, t_ms);
    clock_text_day(buf, day);
}

/* (c) writer.c's path (stage + commit every 5000 rows, watermarks included) vs
 * one COPY of the same rows straight into positions vs one autocommit
 * INSERT per row; each on an empty table with its indexes. */
static void phase_writer(struct bench *b)
{
    unsigned nv = b->o.vehicles, bs = b->o.batch;
    long rows = b->o.writer_rows;
    uint64_t *next = calloc(nv, sizeof *next);
    struct wire_record *recs = calloc(bs, sizeof *recs);
    int64_t t_ms = (int64_t)time(NULL) * 1000;
    struct db *d;
    struct partitions *parts;
    struct writer *wr;
    char err[512];
    double t0, t;
    struct cpu_snap c0, c1;
    long done;
    unsigned vi;
    int sday = has_service_day(b);

    if (!next || !recs)
        die("out of memory");
    truncate_positions(b);
    if (db_new(harness_pg_conninfo(b->pg), &d) != DB_OK ||
        partitions_new(&parts) != DB_OK ||
        writer_new(d, parts, 1000000, &wr) != DB_OK ||
        db_connect(d, err, sizeof err) != DB_OK ||
        db_migrate(d, err, sizeof err) != DB_OK ||
        db_prepare(d, err, sizeof err) != DB_OK)
        die("writer: %s", err);
    c0 = cpu_snap(b, 0);
    t0 = bench_now();
    for (done = 0, vi = 0; done < rows; vi = (vi + 1) % nv) {
        struct wire_batch wb;
        unsigned n = rows - done < (long)bs ? (unsigned)(rows - done) : bs;

        memset(&wb, 0, sizeof wb);
        snprintf(wb.vehicle_id, sizeof wb.vehicle_id, "wr-%05u", vi + 1);
        wb.n = n;
        wb.records = recs;
        for (unsigned i = 0; i < n; i++)
            writer_record(vi, ++next[vi], t_ms + done + i, &recs[i]);
        if (writer_stage_batch(wr, &wb) != DB_OK)
            die("writer: staging failed");
        done += n;
        if (writer_staged_records(wr) >= 5000 || done == rows) {
            if (writer_commit(wr, NULL, NULL, NULL, err, sizeof err) != DB_OK)
                die("writer: %s", err);
        }
    }
    t = bench_now() - t0;
    c1 = cpu_snap(b, 0);
    b->writer_rate = (double)rows / t;
    writer_free(wr);
    partitions_free(parts);
    printf("  (c) writer (writer.c, commit per 5000): %ld rows in %.2f s: %.0f "
           "rows/s\n",
           rows, t, b->writer_rate);
    b->writer_cpu = cpu_print("(c) writer", "-", &c0, &c1);

    /* COPY: the same rows as COPY text, one statement, as psql \copy. */
    truncate_positions(b);
    {
        size_t cap = (size_t)rows * 160 + 1024, len = 0;
        char *text = malloc(cap);
        PGresult *r;

        if (!text)
            die("out of memory");
        memset(next, 0, nv * sizeof *next);
        for (done = 0, vi = 0; done < rows; vi = (vi + 1) % nv) {
            unsigned n = rows - done < (long)bs ? (unsigned)(rows - done) : bs;

            for (unsigned i = 0; i < n; i++) {
                struct wire_record rec;
                char ts[40], day[CLOCK_TEXT_MAX];

                writer_record(vi, ++next[vi], t_ms + done + i, &rec);
                fmt_ts(ts, sizeof ts, rec.t_ms);
                fmt_day(d, day, rec.t_ms);
                len += (size_t)snprintf(
                    text + len, cap - len,
                    "wr-%05u\t%" PRIu64 "\t%s%s%s\tf\t0\t%.9f\t%.9f\t"
                    "8.500\t90.00\t\\N\t0.90\t3\t9\n",
                    vi + 1, rec.seq, sday ? day : "", sday ? "\t" : "", ts,
                    rec.u.pos.lat, rec.u.pos.lon);
            }
            done += n;
        }
        c0 = cpu_snap(b, 0);
        t0 = bench_now();
        r = PQexec(b->conn,
                   sday ? "COPY positions (vehicle_id, seq, service_day, t,"
                          " backlog, time_source, lat, lon, speed, track, alt,"
                          " hdop, fix_mode, sats_used) FROM STDIN"
                        : "COPY positions (vehicle_id, seq, t, backlog,"
                          " time_source, lat, lon, speed, track, alt, hdop,"
                          " fix_mode, sats_used) FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN)
            die("COPY: %s", PQerrorMessage(b->conn));
        PQclear(r);
        for (size_t off = 0; off < len; off += 1 << 20) {
            size_t n = len - off < (1 << 20) ? len - off : (1 << 20);

            if (PQputCopyData(b->conn, text + off, (int)n) != 1)
                die("COPY: %s", PQerrorMessage(b->conn));
        }
        if (PQputCopyEnd(b->conn, NULL) != 1)
            die("COPY: %s", PQerrorMessage(b->conn));
        r = PQgetResult(b->conn);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY: %s", PQerrorMessage(b->conn));
        PQclear(r);
        while ((r = PQgetResult(b->conn)))
            PQclear(r);
        t = bench_now() - t0;
        c1 = cpu_snap(b, 0);
        free(text);
        b->copy_rate = (double)rows / t;
        printf("  (c) COPY into positions: %ld rows in %.2f s: %.0f rows/s\n",
               rows, t, b->copy_rate);
        b->copy_cpu = cpu_print("(c) COPY", "-", &c0, &c1);
    }

    /* One INSERT per row, autocommit: a smaller sample, extrapolated. */
    truncate_positions(b);
    rows = b->o.insert_rows;
    memset(next, 0, nv * sizeof *next);
    t0 = bench_now();
    for (done = 0, vi = 0; done < rows; vi = (vi + 1) % nv) {
        struct wire_record rec;
        char vid[16], seq[24], ts[40], lat[32], lon[32], day[CLOCK_TEXT_MAX];
        const char *v[6] = {vid, seq, ts, lat, lon, day};
        PGresult *r;

        writer_record(vi, ++next[vi], t_ms + done, &rec);
        fmt_day(d, day, rec.t_ms);
        snprintf(vid, sizeof vid, "wr-%05u", vi + 1);
        snprintf(seq, sizeof seq, "%" PRIu64, rec.seq);
        fmt_ts(ts, sizeof ts, rec.t_ms);
        snprintf(lat, sizeof lat, "%.9f", rec.u.pos.lat);
        snprintf(lon, sizeof lon, "%.9f", rec.u.pos.lon);
        r = PQexecParams(
            b->conn,
            sday ? "INSERT INTO positions (vehicle_id, seq, service_day, t,"
                   " backlog, time_source, lat, lon, speed, track, hdop,"
                   " fix_mode, sats_used) VALUES ($1, $2, $6::date, $3,"
                   " false, 0, $4, $5, 8.5, 90, 0.9, 3, 9)"
                 : "INSERT INTO positions (vehicle_id, seq, t, backlog,"
                   " time_source, lat, lon, speed, track, hdop, fix_mode,"
                   " sats_used) VALUES ($1, $2, $3, false, 0, $4, $5, 8.5,"
                   " 90, 0.9, 3, 9)",
            sday ? 6 : 5, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("INSERT: %s", PQerrorMessage(b->conn));
        PQclear(r);
        done++;
    }
    t = bench_now() - t0;
    b->insert_rate = (double)rows / t;
    printf("  (c) INSERT per row (autocommit): %ld rows in %.2f s: %.0f "
           "rows/s\n",
           rows, t, b->insert_rate);
    truncate_positions(b);
    db_free(d);
    free(next);
    free(recs);
}

/* Write transactions so far: the next transaction id to be assigned. Read
 * without taking one (pg_current_xact_id would), and unlike pg_stat_database
 * it is exact at once (statistics are flushed up to 10 s late). */
static double next_xid(struct bench *b)
{
    return qnum(b, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"
                   "::bigint");
}

static double xact_commit(struct bench *b)
{
    qexec(b, "SELECT pg_stat_clear_snapshot()");
    return qnum(b, "SELECT xact_commit FROM pg_stat_database"
                   " WHERE datname = 'shuttle'");
}

/* (b) and (e): the same load as (a) through the backend into committed
 * rows. When the backend is slower than the publisher, the broker queues
 * and, past its limits, drops ("Outgoing messages are being dropped" in its
 * log): without acks nothing brings those back, so the rate is committed
 * rows over the time until the count stops growing, and the loss is shown. */
static void phase_backend(struct bench *b)
{
    double t0, tlast, x0, x1, c0, c1, rows = 0, prev = -1;
    long my_queries = 0;
    struct lg_result r;
    struct cpu_snap s0, s1;

    x0 = next_xid(b);
    c0 = xact_commit(b);
    my_queries += 2;
    s0 = cpu_snap(b, harness_pid(b->be));
    t0 = bench_now();
    r = run_publishers(b, "backend", "bk-");
    tlast = bench_now();
    /* A count costs a scan, so once a second, only after the load. */
    for (int still = 0; still < 3 && bench_now() - tlast < 600;) {
        rows = qnum(b, "SELECT count(*) FROM positions WHERE vehicle_id"
                       " LIKE 'bk-%'");
        my_queries++;
        if (rows > prev) {
            tlast = bench_now();
            prev = rows;
            still = 0;
        } else {
            still++;
        }
        if (rows >= r.records)
            break;
        harness_sleep_ms(1000);
    }
    s1 = cpu_snap(b, harness_pid(b->be));
    x1 = next_xid(b);
    b->be_records = rows;
    b->be_rate = rows / (tlast - t0);
    b->be_send = r.rate;
    b->be_lost = r.records - rows;
    b->xids_per_100 = (x1 - x0) / rows * 100.0;
    printf("  (b) backend committed %.0f records in %.2f s: %.0f records/s"
           " (%u publishers: %.0f/s); %.0f of %.0f never arrived%s\n",
           rows, tlast - t0, b->be_rate, b->o.publishers, r.rate, b->be_lost,
           r.records, b->be_lost > 0 ? " (broker queue overflow)" : "");
    b->be_cpu = cpu_print("(b)", "shuttle-backend", &s0, &s1);
    printf("  (e) %.0f write transactions for %.0f rows\n", x1 - x0, rows);
    /* pg_stat_database lags by up to PGSTAT_IDLE_INTERVAL (10 s). */
    if (!b->o.quick) {
        harness_sleep_ms(11000);
        c1 = xact_commit(b);
        my_queries += 3; /* the reads themselves and the clears */
        b->xact_per_100 = (c1 - c0 - (double)my_queries) / rows * 100.0;
        printf("  (e) pg_stat_database xact_commit +%.0f (less %ld of ours)"
               "\n",
               c1 - c0, my_queries);
    } else {
        b->xact_per_100 = NAN;
    }
}

static void phase_latency(struct bench *b)
{
    char secs[32], rate[32], veh[16], bat[16];

    fmt_common(b, veh, bat, sizeof veh);
    snprintf(secs, sizeof secs, "%g", b->o.lat_seconds);
    snprintf(rate, sizeof rate, "%g", b->o.lat_rate);
    {
        const char *args[] = {"-n",  veh,        "-b", bat,     "-d",
                              secs,  "-r",       rate, "--ack", "--prefix",
                              "la-", "--wait-s", "60", NULL};
        b->lat = run_loadgen(b, "latency", args);
    }
    printf("  (d) backend at %.0f records/s: publish -> ack p50 %.1f ms, p99"
           " %.1f ms; -> commit stamp p50 %.1f ms, p99 %.1f ms; resends %.0f,"
           " incomplete vehicles %.0f\n",
           b->lat.rate, b->lat.p50, b->lat.p99, b->lat.cp50, b->lat.cp99,
           b->lat.resends, b->lat.failed);
}

/*
 * (f) The loop's stall under load with a rebuild beside it, in the
 * deployment's shape: the backend is restarted with /metrics on, and a
 * shuttle-live runs beside it on the same database and broker with
 * rebuild_interval_s=1 (a rebuild process of today's rows every second,
 * with the shipped feed loaded; it also takes every fix from the broker, as
 * it does in service). The latency load runs against both. Max and p99 come
 * from the backend's own shuttle_backend_loop_stall_seconds (max gauge and
 * histogram), scraped before and after: the gauge holds the longest since
 * the previous scrape; p99 is the upper bound of the bucket the 99th
 * percentile falls in. The rebuilds are shuttle-live's
 * shuttle_live_rebuilds_total over the same span. Then shuttle-live is
 * stopped and the same load runs against the backend alone: the baseline.
 */
struct stall_scrape {
    struct bench_prom_hist loop, commit; /* stall, and commit duration */
    double max, other_max, rebuilds;
};

/* shuttle-live's finished rebuilds, or -1 when /metrics did not answer. */
static double stall_live_rebuilds(int port)
{
    char *body = NULL;
    double v = -1;

    if (bench_prom_get(port, "/metrics", &body) != 200 || !body ||
        bench_prom_value(body, "shuttle_live_rebuilds_total", 0, &v) != 0)
        v = -1;
    free(body);
    return v;
}

static int stall_get_metrics(int port, int live_port, struct stall_scrape *sc)
{
    char *body = NULL;
    int st = bench_prom_get(port, "/metrics", &body);

    memset(sc, 0, sizeof *sc);
    if (st != 200 || !body ||
        bench_prom_hist(body, "shuttle_backend_loop_stall_seconds",
                        &sc->loop) != 0) {
        free(body);
        return -1;
    }
    bench_prom_hist(body, "shuttle_backend_commit_duration_seconds",
                    &sc->commit);
    bench_prom_value(body, "shuttle_backend_loop_stall_seconds_max", 0,
                     &sc->max);
    bench_prom_value(body, "shuttle_backend_loop_stall_other_seconds_max", 0,
                     &sc->other_max);
    free(body);
    if (live_port <= 0)
        return 0; /* the baseline: nothing beside */
    sc->rebuilds = stall_live_rebuilds(live_port);
    return sc->rebuilds < 0 ? -1 : 0;
}

/* The latency load of (f) under vehicle-id prefix PREFIX, with the loop's
 * figures scraped before and after into *S0 and *S1. */
static struct lg_result stall_load(struct bench *b, const char *tag,
                                   const char *prefix, int port, int live_port,
                                   struct stall_scrape *s0,
                                   struct stall_scrape *s1)
{
    char secs[32], rate[32], veh[16], bat[16];
    struct lg_result r;

    if (stall_get_metrics(port, live_port, s0) != 0)
        die("no loop stall histogram in /metrics");
    fmt_common(b, veh, bat, sizeof veh);
    snprintf(secs, sizeof secs, "%g", b->o.lat_seconds);
    snprintf(rate, sizeof rate, "%g", b->o.lat_rate);
    {
        const char *args[] = {"-n",   veh,        "-b", bat,     "-d",
                              secs,   "-r",       rate, "--ack", "--prefix",
                              prefix, "--wait-s", "60", NULL};
        r = run_loadgen(b, tag, args);
    }
    if (stall_get_metrics(port, live_port, s1) != 0)
        die("no loop stall histogram in /metrics");
    return r;
}

static void phase_stall(struct bench *b, struct harness_proc **backend)
{
    char http[32], dbopt[1200];
    char feed[1024], log[1100], live_http[32];
    const char *opts[] = {http, NULL};
    const char *live_opts[] = {"rebuild_interval_s=1", live_http, NULL};
    char *argv[8];
    struct stall_scrape s0, s1, b0, b1;
    struct lg_result base;
    struct harness_proc *p, *live;
    double total, base_max_ms;
    int port = harness_free_port(), live_port = harness_free_port();

    /* The shipped feed, so that each rebuild has a timetable to match
     * today's rows (every phase's) against. */
    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(b->pg));
    snprintf(feed, sizeof feed, "%s/deploy/gtfs", BENCH_SOURCE_DIR);
    snprintf(log, sizeof log, "%s/load-gtfs.log", b->dir);
    argv[0] = (char *)harness_bin("shuttle-backend");
    argv[1] = "-o";
    argv[2] = dbopt;
    argv[3] = "--load-gtfs";
    argv[4] = feed;
    argv[5] = NULL;
    p = harness_spawn("shuttle-backend --load-gtfs", argv, log);
    if (!p || harness_wait(p, 120000) != 0) {
        harness_log_tail(log, 20);
        die("cannot load %s", feed);
    }
    if (harness_stop(*backend) != 0)
        die("shuttle-backend did not stop");
    snprintf(http, sizeof http, "http_port=%d", port);
    *backend = harness_backend_start(b->pg, b->m, opts);
    if (!*backend || harness_wait_port(port, *backend, 5000) != 0)
        die("cannot start shuttle-backend");
    snprintf(live_http, sizeof live_http, "http_port=%d", live_port);
    live = harness_live_start(b->pg, b->m, live_opts);
    if (!live || harness_wait_port(live_port, live, 5000) != 0)
        die("cannot start shuttle-live with rebuild_interval_s=1");
    printf("shuttle-backend: default options; beside it shuttle-live: "
           "default options, rebuild_interval_s=1, feed %s\n",
           feed);
    /* Its first rebuild waits for the day's timetable; measure from one
     * finished rebuild on, so that every second of the load has one. */
    {
        double done = 0;

        for (int i = 0; i < 300 && (done = stall_live_rebuilds(live_port)) < 1;
             i++)
            harness_sleep_ms(100);
        if (done < 1)
            die("shuttle-live finished no rebuild within 30 s (log %s)",
                harness_proc_log(live));
    }
    b->stall_lat = stall_load(b, "stall", "st-", port, live_port, &s0, &s1);
    total = s1.loop.cum[s1.loop.n - 1] - s0.loop.cum[s0.loop.n - 1];
    b->stall_max_ms = s1.max * 1000.0;
    b->stall_p99_ms = bench_prom_quantile(&s0.loop, &s1.loop, 0.99) * 1000.0;
    b->stall_rebuilds = s1.rebuilds - s0.rebuilds;
    printf("  (f) loop stall at %.0f records/s with %.0f shuttle-live "
           "rebuilds beside it: "
           "%.0f iterations, p99 <= %.1f ms, max %.1f ms (target max <= 20 "
           "ms: %s)\n",
           b->stall_lat.rate, b->stall_rebuilds, total, b->stall_p99_ms,
           b->stall_max_ms, b->stall_max_ms <= 20.0 ? "met" : "NOT met");
    /* The commit's statements are driven by the loop, which runs on
     * between them: its duration (start to acks) is latency, not stall;
     * the time inside its calls is what "less commits" takes out. */
    printf("  (f) commits (start to acks): p50 <= %.1f ms, p99 <= %.1f ms; "
           "max stall less the commit's calls %.1f ms; ack p50 %.1f ms, "
           "p99 %.1f ms\n",
           bench_prom_quantile(&s0.commit, &s1.commit, 0.5) * 1000.0,
           bench_prom_quantile(&s0.commit, &s1.commit, 0.99) * 1000.0,
           s1.other_max * 1000.0, b->stall_lat.p50, b->stall_lat.p99);
    if (harness_stop(live) != 0)
        printf("  (f) shuttle-live did not stop cleanly (log %s)\n",
               harness_proc_log(live));
    /* The baseline in the same run: the same load with nothing beside the
     * backend. On a shared machine the stall moves with the other load;
     * the difference is what shuttle-live and its rebuilds add. After the
     * measurement with them, so that its rows do not make the rebuilds
     * heavier than in the first. */
    base = stall_load(b, "stall-base", "sb-", port, 0, &b0, &b1);
    base_max_ms = b1.max * 1000.0;
    printf(
        "  (f) baseline, shuttle-live stopped: loop stall at %.0f records/s: "
        "%.0f iterations, p99 <= %.1f ms, max %.1f ms; max stall less the "
        "commit's calls %.1f ms; ack p50 %.1f ms, p99 %.1f ms\n",
        base.rate, b1.loop.cum[b1.loop.n - 1] - b0.loop.cum[b0.loop.n - 1],
        bench_prom_quantile(&b0.loop, &b1.loop, 0.99) * 1000.0, base_max_ms,
        b1.other_max * 1000.0, base.p50, base.p99);
    printf("  (f) max stall with shuttle-live beside / baseline: %.2f\n",
           base_max_ms > 0 ? b->stall_max_ms / base_max_ms : NAN);
}

static void machine(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], *model = NULL;

    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');

            if (c) {
                model = c + 2;
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    }
    if (f)
        fclose(f);
    snprintf(buf, len, "nproc %ld, %s", sysconf(_SC_NPROCESSORS_ONLN),
             model ? model : "unknown CPU");
}

static const char *yes(int ok)
{
    return ok ? "yes" : "NO";
}

static void report(struct bench *b, const char *mach, const char *pgver)
{
    double r_b = b->be_rate / b->base_rate;
    double r_w = b->writer_rate / b->copy_rate;
    double r_i = b->writer_rate / b->insert_rate;

    printf("\n== shuttle ingest benchmark ==\n");
    printf("machine     %s\n", mach);
    printf("postgresql  %s, %s (harness fast=%d)\n", pgver,
           b->o.fast_pg ? "NOT the target's conditions"
                        : "synchronous_commit on",
           b->o.fast_pg);
    printf("load        %u vehicles, %u record(s)/message, positions; "
           "throughput %g s as fast as possible, latency %g s at %.0f/s\n\n",
           b->o.vehicles, b->o.batch, b->o.seconds, b->o.lat_seconds,
           b->o.lat_rate);
    printf("%-34s %12s %12s %8s %-22s %s\n", "measure", "value", "baseline",
           "ratio", "target", "met");
    printf("%-34s %12.0f %12s %8s %-22s %s\n", "(a) mosquitto_sub drain, rec/s",
           b->base_rate, "-", "-", "-", "-");
    printf("%-34s %12.0f %12.0f %8.2f %-22s %s\n",
           "(b) backend MQTT->commit, rec/s", b->be_rate, b->base_rate, r_b,
           ">=20000 and >=0.90", yes(b->be_rate >= 20000 && r_b >= 0.90));
    printf("%-34s %12.0f %12.0f %8.2f %-22s %s\n", "(c) writer vs COPY, rows/s",
           b->writer_rate, b->copy_rate, r_w, ">=0.60", yes(r_w >= 0.60));
    printf("%-34s %12.0f %12.0f %8.2f %-22s %s\n",
           "(b) per CPU s of its processes", b->be_records / b->be_cpu,
           b->base_records / b->base_cpu,
           (b->be_records / b->be_cpu) / (b->base_records / b->base_cpu),
           "(info)", "-");
    printf("%-34s %12.0f %12.0f %8.2f %-22s %s\n",
           "(c) per CPU s of its processes",
           (double)b->o.writer_rows / b->writer_cpu,
           (double)b->o.writer_rows / b->copy_cpu, b->copy_cpu / b->writer_cpu,
           "(info)", "-");
    printf("%-34s %12.0f %12.0f %8.1f %-22s %s\n",
           "(c) writer vs INSERT/row, rows/s", b->writer_rate, b->insert_rate,
           r_i, ">=5", yes(r_i >= 5));
    printf("%-34s %12.1f %12.2f %8.0f %-22s %s\n", "(d) latency p50 ms (ack)",
           b->lat.p50, b->floor.p50,
           b->floor.p50 > 0 ? b->lat.p50 / b->floor.p50 : NAN, "<=100",
           yes(b->lat.p50 <= 100));
    printf("%-34s %12.1f %12.2f %8.0f %-22s %s\n", "(d) latency p99 ms (ack)",
           b->lat.p99, b->floor.p99,
           b->floor.p99 > 0 ? b->lat.p99 / b->floor.p99 : NAN, "<=250",
           yes(b->lat.p99 <= 250));
    printf("%-34s %12.1f %12s %8s %-22s %s\n",
           "(d) latency p50 ms (commit stamp)", b->lat.cp50, "-", "-", "(info)",
           "-");
    printf("%-34s %12.1f %12s %8s %-22s %s\n",
           "(d) latency p99 ms (commit stamp)", b->lat.cp99, "-", "-", "(info)",
           "-");
    printf("%-34s %12.2f %12s %8s %-22s %s\n", "(e) write xacts per 100 rows",
           b->xids_per_100, "-", "-", "<=1", yes(b->xids_per_100 <= 1));
    if (!isnan(b->xact_per_100))
        printf("%-34s %12.2f %12s %8s %-22s %s\n",
               "(e) xact_commit per 100 rows", b->xact_per_100, "-", "-", "<=1",
               yes(b->xact_per_100 <= 1));
    printf("\n(d) baseline is mosquitto pub->sub on loopback at the same "
           "rate (the floor); ratio = backend/floor.\n");
    printf("(a), (b) the same %u publishers reached %.0f rec/s in (a) and"
           " %.0f in (b); all processes share the %ld CPUs.\n",
           b->o.publishers, b->base_send, b->be_send,
           sysconf(_SC_NPROCESSORS_ONLN));
    if (b->be_lost > 0)
        printf("(b) %.0f records were dropped by the broker (backend queue "
               "full): the backend is slower than the publisher; only acks "
               "and re-sends bring such records back.\n",
               b->be_lost);
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: shuttle-bench-ingest [options]\n"
            "  --seconds D        sustained throughput phase (60)\n"
            "  --latency-seconds L  each latency phase (20)\n"
            "  --latency-rate R   records/s of the latency phases (10000)\n"
            "  --vehicles N       simulated buses (1000)\n"
            "  --batch B          records per message (1: live fixes)\n"
            "  --publishers P     loadgen processes of (a) and (b) (2)\n"
            "  --writer-rows W    rows for writer and COPY (200000)\n"
            "  --insert-rows I    rows for one-INSERT-per-row (3000)\n"
            "  --fast-pg          PostgreSQL without fsync (not the target's "
            "conditions)\n"
            "  --quick            a few seconds per phase (test suite)\n"
            "  --stall-only       only (f), the loop stall with shuttle-live "
            "rebuilding beside it\n");
}

int main(int argc, char **argv)
{
    enum {
        O_SEC = 256,
        O_LSEC,
        O_LRATE,
        O_VEH,
        O_BATCH,
        O_WR,
        O_INS,
        O_FAST,
        O_QUICK,
        O_STALL,
        O_PUB
    };
    static const struct option longopts[] = {
        {"seconds", required_argument, NULL, O_SEC},
        {"latency-seconds", required_argument, NULL, O_LSEC},
        {"latency-rate", required_argument, NULL, O_LRATE},
        {"vehicles", required_argument, NULL, O_VEH},
        {"batch", required_argument, NULL, O_BATCH},
        {"writer-rows", required_argument, NULL, O_WR},
        {"insert-rows", required_argument, NULL, O_INS},
        {"fast-pg", no_argument, NULL, O_FAST},
        {"quick", no_argument, NULL, O_QUICK},
        {"stall-only", no_argument, NULL, O_STALL},
        {"publishers", required_argument, NULL, O_PUB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench b;
    char mach[256], pgver[64];
    int ch, stall_only = 0;

    memset(&b, 0, sizeof b);
    b.o.seconds = 60;
    b.o.lat_seconds = 20;
    b.o.lat_rate = 10000;
    b.o.vehicles = 1000;
    b.o.batch = 1;
    b.o.publishers = 2;
    b.o.writer_rows = 200000;
    b.o.insert_rows = 3000;
    /* --quick first, so explicit sizes given with it still win. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            b.o.quick = 1;
            b.o.seconds = 5;
            b.o.lat_seconds = 4;
            b.o.writer_rows = 20000;
            b.o.insert_rows = 500;
        }
    }
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_SEC:
            b.o.seconds = strtod(optarg, NULL);
            break;
        case O_LSEC:
            b.o.lat_seconds = strtod(optarg, NULL);
            break;
        case O_LRATE:
            b.o.lat_rate = strtod(optarg, NULL);
            break;
        case O_VEH:
            b.o.vehicles = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_BATCH:
            b.o.batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_PUB:
            b.o.publishers = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_WR:
            b.o.writer_rows = strtol(optarg, NULL, 10);
            break;
        case O_INS:
            b.o.insert_rows = strtol(optarg, NULL, 10);
            break;
        case O_FAST:
            b.o.fast_pg = 1;
            break;
        case O_QUICK:
            break;
        case O_STALL:
            stall_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (b.o.seconds <= 0 || b.o.lat_seconds <= 0 || b.o.lat_rate <= 0 ||
        b.o.vehicles < 1 || b.o.vehicles > 99999 || b.o.batch < 1 ||
        b.o.batch > WIRE_BATCH_MAX || b.o.writer_rows < 1 ||
        b.o.insert_rows < 1 || b.o.publishers < 1 ||
        b.o.publishers > BENCH_PUBLISHERS_MAX ||
        b.o.publishers > b.o.vehicles) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    machine(mach, sizeof mach);
    printf("shuttle-bench-ingest: %s\n", mach);

    b.dir = harness_tmpdir("bench");
    b.m = harness_mosquitto_start_plain(
        NULL, "shuttle-loadgen speaks as every simulated bus, and the "
              "baselines are plain clients");
    b.pg = harness_pg_start(b.o.fast_pg);
    if (!b.dir || !b.m || !b.pg)
        die("cannot start mosquitto and PostgreSQL");
    snprintf(b.port, sizeof b.port, "%d", harness_mosquitto_port(b.m));
    b.conn = PQconnectdb(harness_pg_conninfo(b.pg));
    if (PQstatus(b.conn) != CONNECTION_OK)
        die("%s", PQerrorMessage(b.conn));
    {
        struct db *d;
        char err[512];

        /* The schema first: the writer phase runs before the backend. */
        if (db_new(harness_pg_conninfo(b.pg), &d) != DB_OK ||
            db_connect(d, err, sizeof err) != DB_OK ||
            db_migrate(d, err, sizeof err) != DB_OK)
            die("migrate: %s", err);
        db_free(d);
    }
    {
        PGresult *r = q(&b, "SELECT current_setting('server_version') || "
                            "', fsync=' || current_setting('fsync')");

        snprintf(pgver, sizeof pgver, "PostgreSQL %s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    printf("%s; mosquitto on port %s\n", pgver, b.port);

    if (stall_only)
        goto stall;
    phase_baseline(&b);
    phase_floor(&b);
    phase_writer(&b);
    {
        /* Shipped defaults (batch_records 5000, batch_age_ms 50). */
        b.be = harness_backend_start(b.pg, b.m, NULL);
        if (!b.be)
            die("cannot start shuttle-backend");
        printf("shuttle-backend: default options\n");
    }
    phase_backend(&b);
    phase_latency(&b);
stall:
    if (stall_only) {
        b.be = harness_backend_start(b.pg, b.m, NULL);
        if (!b.be)
            die("cannot start shuttle-backend");
    }
    phase_stall(&b, &b.be);
    if (!stall_only)
        report(&b, mach, pgver);

    PQfinish(b.conn);
    harness_cleanup();
    return 0;
}
