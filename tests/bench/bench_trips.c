/* shuttle-bench-trips: how fast the trip builder turns a day of positions
 * into stop visits and runs, and how its time splits between SQL I/O and
 * the algorithm; prints figures with the machine they were taken on. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "gtfs.h"
#include "harness.h"
#include "sim_bus.h"
#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_geo.h"
#include "sim_rng.h"
#include "sim_trips.h"
#include "trips.h"
#include "trips_db.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

/*
 * The day is the simulator's (tests/sim: the same plan of drives, dwells,
 * layovers, deadheads and door episodes that shuttle-sim replays), turned
 * straight into raw rows instead of NMEA: one fix a second while a bus is
 * switched on, none in its GPS dropouts, one passenger_counts row per door
 * episode. --copies N repeats the fleet N times under other vehicle ids, a
 * bigger fleet on the same timetable (the copies' runs then compete for the
 * same trips, so most stay unassigned: the work is the same).
 */

struct bench_opts {
    const char *gtfs, *date;
    int copies, repeat;
    uint64_t seed;
    double noise; /* GPS error, metres */
};

/* One vehicle's input to the algorithm, kept to time it without SQL. */
struct bench_vehicle {
    char id[TRIPS_ID_MAX];
    struct trips_fix *fixes;
    size_t nfixes;
    struct trips_door *doors;
    size_t ndoors;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "shuttle-bench-trips: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        die("out of memory");
    return p;
}

static double now_s(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "2026-03-02 06:01:02.345+00" */
static void ts_text(char *buf, size_t len, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&s, &tm);
    n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03u+00", (unsigned)(ms % 1000));
}

static void copy_in(PGconn *c, const char *sql, const struct buf *b)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    for (size_t off = 0; off < b->len; off += 1 << 20) {
        size_t n = b->len - off < (1u << 20) ? b->len - off : 1u << 20;

        if (PQputCopyData(c, b->p + off, (int)n) != 1)
            die("COPY: %s", PQerrorMessage(c));
    }
    if (PQputCopyEnd(c, NULL) != 1)
        die("COPY: %s", PQerrorMessage(c));
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
}

/*
 * Plan the simulated day and write its raw rows (text for COPY into POS and
 * CNT) and, per vehicle, the same records in memory. Returns the vehicles
 * (6 x copies), the caller's to free.
 */
static struct bench_vehicle *make_day(const struct bench_opts *o,
                                      const struct sim_feed *f, struct buf *pos,
                                      struct buf *cnt, int *nv)
{
    struct sim_demand dem;
    struct sim_plan plan;
    struct sim_plan_opts po;
    struct sim_rng rdem, rplan;
    struct bench_vehicle *vs;
    int nbus = f->nblocks;

    sim_rng_init(&rdem, o->seed, 1);
    sim_rng_init(&rplan, o->seed, 2);
    if (sim_demand_make(f, NULL, 1500, 45, &rdem, &dem) != 0)
        die("out of memory");
    memset(&po, 0, sizeof po);
    po.seats = 45;
    po.counter_error = 0.03;
    if (sim_plan_make(f, &dem, &po, &rplan, &plan) != 0)
        die("out of memory");
    *nv = nbus * o->copies;
    vs = xcalloc((size_t)*nv, sizeof *vs);

    for (int b = 0; b < nbus; b++) {
        struct sim_trips_gps g = {o->seed, o->noise, 0};
        struct sim_trips_vehicle day;
        const struct trips_fix *fx;
        const struct trips_door *dd;
        size_t nf, nd;

        if (sim_trips_vehicle(&plan, f, b, &g, &day) != 0)
            die("out of memory");
        fx = day.fixes;
        dd = day.doors;
        nf = day.nfixes;
        nd = day.ndoors;
        for (int c = 0; c < o->copies; c++) {
            struct bench_vehicle *v = &vs[c * nbus + b];
            size_t i = 0, j = 0;
            long long seq = 0;

            if (c)
                snprintf(v->id, sizeof v->id, "c%d-bus-%d", c + 1, b + 1);
            else
                snprintf(v->id, sizeof v->id, "bus-%d", b + 1);
            v->fixes = xcalloc(nf, sizeof *fx);
            memcpy(v->fixes, fx, nf * sizeof *fx);
            v->nfixes = nf;
            v->doors = xcalloc(nd, sizeof *dd);
            memcpy(v->doors, dd, nd * sizeof *dd);
            v->ndoors = nd;
            /* Rows in the bus's own order, one seq for both kinds. */
            while (i < nf || j < nd) {
                char t1[48], t2[48];

                seq++;
                if (j >= nd || (i < nf && fx[i].t_ms <= dd[j].t_ms)) {
                    ts_text(t1, sizeof t1, fx[i].t_ms);
                    if (buf_printf(pos,
                                   "%s\t%lld\t%s\t%s\t%.17g\t%.17g\t%.3f\t3\n",
                                   v->id, seq, o->date, t1, fx[i].lat,
                                   fx[i].lon, fx[i].speed) != BUF_OK)
                        die("out of memory");
                    i++;
                } else {
                    const struct trips_door *e = &dd[j++];

                    ts_text(t1, sizeof t1, e->open_ms);
                    ts_text(t2, sizeof t2, e->close_ms);
                    if (buf_printf(cnt,
                                   "%s\t%lld\t%s\t%s\t1\t%d\t%d\t%s\t%s\t%d\t%"
                                   ".17g\t%.17g\n",
                                   v->id, seq, o->date, t2, e->boarded,
                                   e->alighted, t1, t2, e->load_after, e->lat,
                                   e->lon) != BUF_OK)
                        die("out of memory");
                }
            }
        }
        sim_trips_vehicle_free(&day);
    }
    sim_plan_free(&plan);
    sim_demand_free(&dem);
    return vs;
}

/* The algorithm alone on the in-memory day: visits and runs per vehicle,
 * then the day's matching. Returns the runs built. */
static size_t run_algorithm(const struct trips_feed *f,
                            struct bench_vehicle *vs, int nv, size_t *visits)
{
    struct trips_params p;
    struct trips_run *runs = NULL;
    size_t nruns = 0;

    trips_params_default(&p);
    *visits = 0;
    for (int i = 0; i < nv; i++) {
        struct trips_visit *v = NULL;
        size_t n = 0;

        for (size_t k = 0; k < vs[i].ndoors; k++)
            vs[i].doors[k].visit = -1;
        if (trips_visits(f, &p, vs[i].fixes, vs[i].nfixes, vs[i].doors,
                         vs[i].ndoors, &v, &n) != 0 ||
            trips_runs(f, &p, vs[i].id, v, n, &runs, &nruns) != 0)
            die("out of memory");
        *visits += n;
        free(v);
    }
    if (trips_assign(f, &p, runs, nruns) != 0)
        die("out of memory");
    free(runs);
    return nruns;
}

static void print_machine(PGconn *c)
{
    char model[256] = "unknown CPU", line[512];
    FILE *fp = fopen("/proc/cpuinfo", "r");
    struct utsname u;
    PGresult *r;

    while (fp && fgets(line, sizeof line, fp)) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (fp)
        fclose(fp);
    uname(&u);
    r = PQexec(c, "SHOW server_version");
    printf("machine: %s, %ld online CPUs, %s %s; PostgreSQL %s (local "
           "socket, fsync off)\n",
           model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
           PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: shuttle-bench-trips [options]\n"
                "  --copies N   the 6-bus fleet N times over (default 1)\n"
                "  --repeat N   timed rebuilds and algorithm runs (default 5)\n"
                "  --date D     service day (default 2026-03-02)\n"
                "  --seed N     simulator seed (default 1)\n"
                "  --gtfs DIR   feed to load (default the source tree's "
                "deploy/gtfs)\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"copies", required_argument, NULL, 'c'},
        {"repeat", required_argument, NULL, 'r'},
        {"date", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"gtfs", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench_opts o = {
        BENCH_SOURCE_DIR "/deploy/gtfs", "2026-03-02", 1, 5, 1, 3.0};
    struct harness_pg *pg;
    struct db *db;
    struct sim_feed *sf;
    struct trips_feed tf;
    struct buf pos = {0}, cnt = {0};
    struct bench_vehicle *vs;
    struct trips_db_summary sum;
    char err[512], sql[256];
    double *wall, *cpu, *algo, t_wall, t_cpu, t_algo;
    size_t nfix = 0, ndoor = 0, visits = 0, algo_runs = 0;
    int ch, nv;
    PGconn *c;
    cpu_set_t one;

    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.copies = atoi(optarg);
            break;
        case 'r':
            o.repeat = atoi(optarg);
            break;
        case 'd':
            o.date = optarg;
            break;
        case 's':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        case 'g':
            o.gtfs = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o.copies < 1 || o.copies > 1000 || o.repeat < 1 || o.repeat > 100) {
        usage(stderr);
        return 2;
    }
    /* One core for the builder (the client side of the rebuild); the
     * server works in its own processes, wherever they run. */
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        fprintf(stderr, "shuttle-bench-trips: could not pin to CPU 0\n");

    pg = harness_pg_start(1);
    if (!pg)
        die("PostgreSQL did not start");
    if (db_new(harness_pg_conninfo(pg), &db) != 0 ||
        db_connect(db, err, sizeof err) != 0 ||
        db_migrate(db, err, sizeof err) != 0)
        die("schema: %s", err);
    db_free(db);
    if (gtfs_load(harness_pg_conninfo(pg), o.gtfs, NULL, err, sizeof err) != 0)
        die("GTFS %s: %s", o.gtfs, err);
    if (sim_feed_load(harness_pg_conninfo(pg), o.date, &sf, err, sizeof err) !=
        0)
        die("%s", err);

    vs = make_day(&o, sf, &pos, &cnt, &nv);
    for (int i = 0; i < nv; i++) {
        nfix += vs[i].nfixes;
        ndoor += vs[i].ndoors;
    }
    c = PQconnectdb(harness_pg_conninfo(pg));
    if (PQstatus(c) != CONNECTION_OK)
        die("%s", PQerrorMessage(c));
    print_machine(c);
    snprintf(sql, sizeof sql, "SELECT shuttle_ensure_partition('%s')", o.date);
    PQclear(PQexec(c, sql));
    copy_in(c,
            "COPY positions (vehicle_id, seq, service_day, t, lat, lon,"
            " speed, fix_mode) FROM STDIN",
            &pos);
    copy_in(c,
            "COPY passenger_counts (vehicle_id, seq, service_day, t, door,"
            " boarded, alighted, door_open, door_close, load_after, lat, lon)"
            " FROM STDIN",
            &cnt);
    PQclear(PQexec(c, "VACUUM ANALYZE"));
    printf("data: %s, %d vehicles (6 x %d), %zu positions, %zu door "
           "episodes\n",
           o.date, nv, o.copies, nfix, ndoor);

    /* The whole rebuild as shuttle-backend --rebuild runs it. The first,
     * untimed, warms the server's caches. */
    wall = xcalloc((size_t)o.repeat, sizeof *wall);
    cpu = xcalloc((size_t)o.repeat, sizeof *cpu);
    algo = xcalloc((size_t)o.repeat, sizeof *algo);
    for (int i = -1; i < o.repeat; i++) {
        double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        double w0 = now_s(CLOCK_MONOTONIC);

        if (trips_db_rebuild(harness_pg_conninfo(pg), o.date, &sum, err,
                             sizeof err) != TRIPS_DB_OK)
            die("rebuild: %s", err);
        if (i >= 0) {
            wall[i] = now_s(CLOCK_MONOTONIC) - w0;
            cpu[i] = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    /* The algorithm alone, on the same records already in memory. */
    if (sim_trips_feed(sf, (int64_t)sf->day0 * 1000, &tf) != 0)
        die("out of memory");
    for (int i = -1; i < o.repeat; i++) {
        double w0 = now_s(CLOCK_MONOTONIC);

        algo_runs = run_algorithm(&tf, vs, nv, &visits);
        if (i >= 0)
            algo[i] = now_s(CLOCK_MONOTONIC) - w0;
    }
    t_wall = median(wall, o.repeat);
    t_cpu = median(cpu, o.repeat);
    t_algo = median(algo, o.repeat);

    printf("rebuild: %zu fixes, %zu door events -> %zu stop visits, %zu "
           "runs; %zu trips: %zu operated, %zu partial, %zu missed\n",
           sum.fixes, sum.doors, sum.visits, sum.runs, sum.trips, sum.operated,
           sum.partial, sum.missed);
    if (algo_runs != sum.runs || visits != sum.visits)
        printf("note: in memory the algorithm made %zu visits and %zu runs "
               "(the rows' rounding differs)\n",
               visits, algo_runs);
    printf("trips_db_rebuild (median of %d): %.3f s wall, %.3f s CPU in "
           "this process -> %.0f positions/s\n",
           o.repeat, t_wall, t_cpu, (double)nfix / t_wall);
    printf("algorithm only (trips_visits + trips_runs + trips_assign, "
           "median of %d): %.3f s -> %.0f positions/s\n",
           o.repeat, t_algo, (double)nfix / t_algo);
    printf("share of the rebuild: algorithm %.1f%%, SQL I/O (read, "
           "format, COPY out, commit) and server %.1f%%\n",
           100 * t_algo / t_wall, 100 * (t_wall - t_algo) / t_wall);

    for (int i = 0; i < nv; i++) {
        free(vs[i].fixes);
        free(vs[i].doors);
    }
    free(vs);
    buf_free(&pos);
    buf_free(&cnt);
    free(wall);
    free(cpu);
    free(algo);
    sim_trips_feed_free(&tf);
    sim_feed_free(sf);
    PQfinish(c);
    harness_cleanup();
    return 0;
}
