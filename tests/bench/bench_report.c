/* shuttle-bench-report: time `shuttle-report daily` on a year of derived
 * data against the same queries' EXPLAIN ANALYZE planning time
 * (PERFORMANCE.md, reports row: <= 100 ms for any day); prints figures. */
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "report_query.h"
#include "report_text.h"

extern char **environ;

#define FIRST_DAY "2025-01-01"

/*
 * A year of what the trip builder would write: every GTFS trip on every day
 * (about 2 % missed, 1 % partial, delays of -1..9 minutes), a stop visit
 * per scheduled stop of each run that started (~150,000 rows), ~1,500
 * passenger-count records a day in 365 partitions, and the daily totals.
 * Random but seeded, so two runs build the same year.
 */
static const char year_sql[] =
    "SELECT setseed(0.42);"
    "SELECT shuttle_ensure_partition(d::date) FROM generate_series("
    " '" FIRST_DAY "'::date, '" FIRST_DAY "'::date + ($DAYS - 1),"
    " interval '1 day') d;"
    "CREATE TEMP TABLE tt AS SELECT t.trip_id, t.route_id, t.direction_id,"
    " t.block_id, min(st.departure_secs) AS s0, max(st.arrival_secs) AS s1,"
    " count(*) AS n FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
    " GROUP BY 1, 2, 3, 4;"
    "INSERT INTO trip_outcomes (service_day, trip_id, route_id, direction_id,"
    " block_id, scheduled_start, scheduled_end, status, vehicle_id,"
    " actual_start, actual_end, start_delay_s, end_delay_s, stops_scheduled,"
    " stops_visited, boarded, alighted, peak_load)"
    " SELECT day, trip_id, route_id, direction_id, block_id, t0, t1, st,"
    "  CASE WHEN st <> 'missed' THEN 'bus0' || right(block_id, 1) END,"
    "  CASE WHEN st <> 'missed' THEN t0 + make_interval(secs => dl) END,"
    "  CASE WHEN st <> 'missed' THEN t1 + make_interval(secs => dl) END,"
    "  CASE WHEN st <> 'missed' THEN dl END,"
    "  CASE WHEN st <> 'missed' THEN dl END, n,"
    "  CASE st WHEN 'missed' THEN 0 WHEN 'partial' THEN n / 2 ELSE n END,"
    "  CASE WHEN st <> 'missed' THEN b ELSE 0 END,"
    "  CASE WHEN st <> 'missed' THEN b - (random() * 3)::int ELSE 0 END,"
    "  CASE WHEN st <> 'missed' THEN least(b, 45) END"
    " FROM (SELECT z.*, CASE WHEN r < 0.02 THEN 'missed'"
    "   WHEN r < 0.03 THEN 'partial' ELSE 'operated' END AS st"
    "  FROM (SELECT d::date AS day, tt.*,"
    "   (d::date + make_interval(secs => s0))"
    "    AT TIME ZONE (SELECT shuttle_service_tz()) AS t0,"
    "   (d::date + make_interval(secs => s1))"
    "    AT TIME ZONE (SELECT shuttle_service_tz()) AS t1,"
    "   random() AS r, (random() * 600 - 60)::int AS dl,"
    "   15 + (random() * 32)::int AS b"
    "   FROM generate_series('" FIRST_DAY "'::date,"
    "    '" FIRST_DAY "'::date + ($DAYS - 1), interval '1 day') d"
    "   CROSS JOIN tt) z) y;"
    "INSERT INTO stop_visits (service_day, vehicle_id, stop_id, arrival,"
    " departure, stopped, run_start, trip_id, stop_sequence,"
    " scheduled_arrival, boarded, alighted, door_events)"
    " SELECT o.service_day, o.vehicle_id, s.stop_id,"
    "  a + make_interval(secs => o.start_delay_s),"
    "  a + make_interval(secs => o.start_delay_s + 25), true,"
    "  o.actual_start, o.trip_id, s.stop_sequence, a,"
    "  (random() * 8)::int, (random() * 8)::int, 1"
    " FROM trip_outcomes o JOIN gtfs_stop_times s USING (trip_id)"
    " CROSS JOIN LATERAL (SELECT (o.service_day + make_interval(secs =>"
    "  s.arrival_secs)) AT TIME ZONE 'Asia/Seoul' AS a) x"
    " WHERE o.status <> 'missed';"
    "INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    " boarded, alighted, door_open, door_close, load_after)"
    " SELECT 'bus0' || (1 + i % 6), (d::date - '" FIRST_DAY "') * 10000 + i,"
    "  d::date, tm, 1, (random() * 2)::int, (random() * 2)::int, tm,"
    "  tm + interval '20 s', (random() * 45)::int"
    " FROM generate_series('" FIRST_DAY "'::date,"
    "  '" FIRST_DAY "'::date + ($DAYS - 1), interval '1 day') d"
    " CROSS JOIN generate_series(1, 1500) i"
    " CROSS JOIN LATERAL (SELECT (d::date + make_interval(secs =>"
    "  20700 + (random() * 55000 + i * 0)::int)) AT TIME ZONE"
    "  'Asia/Seoul' AS tm) x;"
    "INSERT INTO daily_ridership (service_day, boarded, alighted,"
    " runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late,"
    " unattributed_boarded)"
    " SELECT service_day, sum(boarded), sum(alighted), count(*),"
    "  count(*) FILTER (WHERE status = 'operated'),"
    "  count(*) FILTER (WHERE status = 'partial'),"
    "  count(*) FILTER (WHERE status = 'missed'),"
    "  count(*) FILTER (WHERE status = 'operated' AND start_delay_s > 300), 0"
    " FROM trip_outcomes GROUP BY service_day;"
    "ANALYZE;";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Median, p95 (nearest rank) and max of V[N] (sorted in place). */
static void stats(double *v, int n, double *med, double *p95, double *max)
{
    int k = (int)ceil(0.95 * n) - 1;

    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    *p95 = v[k < 0 ? 0 : k];
    *max = v[n - 1];
}

/* shuttle-backend --load-gtfs FEED (which migrates first). */
static int load_gtfs(const char *dbopt, const char *feed, const char *log)
{
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    "--load-gtfs",
                    (char *)feed,
                    "-o",
                    (char *)dbopt,
                    NULL};
    struct harness_proc *p = harness_spawn("shuttle-backend", argv, log);

    return p ? harness_wait(p, 120000) : -1;
}

/* The whole program, as an operator runs it: wall time in ms. */
static double time_process(const char *dbopt, const char *date)
{
    char *argv[] = {(char *)harness_bin("shuttle-report"),
                    "-o",
                    (char *)dbopt,
                    "--format",
                    "json",
                    "daily",
                    "--date",
                    (char *)date,
                    NULL};
    posix_spawn_file_actions_t fa;
    int64_t t0 = clock_mono_us();
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "shuttle-report daily --date %s: exit %d\n", date,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return (double)(clock_mono_us() - t0) / 1000.0;
}

/* EXPLAIN (ANALYZE) of every daily query for DATE: planning and execution
 * time summed over them, in ms. */
static int explain(PGconn *c, const char *date, double *plan, double *exec)
{
    const Oid types[2] = {1082, 25}; /* date, text: as report_query */
    const char *vals[2] = {date, "ko"};

    *plan = *exec = 0;
    for (int i = 0; i < report_query_daily_nsql(); i++) {
        char sql[8192];
        PGresult *res;
        const char *js, *p;

        snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, FORMAT JSON) %s",
                 report_query_daily_sql(i));
        res = PQexecParams(c, sql, 2, types, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "EXPLAIN: %s", PQresultErrorMessage(res));
            PQclear(res);
            return -1;
        }
        js = PQgetvalue(res, 0, 0);
        if ((p = strstr(js, "\"Planning Time\": ")) != NULL)
            *plan += strtod(p + 17, NULL);
        if ((p = strstr(js, "\"Execution Time\": ")) != NULL)
            *exec += strtod(p + 18, NULL);
        PQclear(res);
    }
    return 0;
}

static void line(const char *what, double *v, int n)
{
    double med, p95, max;

    stats(v, n, &med, &p95, &max);
    printf("  %-34s median %7.2f  p95 %7.2f  max %7.2f ms\n", what, med, p95,
           max);
}

int main(int argc, char **argv)
{
    int runs = 50, days = 365, ch;
    struct harness_pg *pg;
    char dbopt[512], log[1024], *sql, err[512], feed[1024];
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    double *tq, *tp, *tplan, *texec, med_q, med_plan, p95_p, x, y;
    struct report_query_params p = {.target = 1500,
                                    .seats = 45,
                                    .crowded_pct = 90,
                                    .late_s = 300,
                                    .counter_pct = 10,
                                    .counter_slack = 2};
    struct report_query *rq;
    PGconn *conn;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    long first;
    int64_t t0;

    while ((ch = getopt(argc, argv, "n:d:")) != -1) {
        if (ch == 'n')
            runs = atoi(optarg);
        else if (ch == 'd')
            days = atoi(optarg);
        else {
            fprintf(stderr, "usage: shuttle-bench-report [-n runs] "
                            "[-d days of data]\n");
            return 2;
        }
    }
    if (runs < 1 || days < 1 || days > 3660)
        return 2;
    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : ".");
    report_text_parse_date(FIRST_DAY, &first, err, sizeof err);

    pg = harness_pg_start(1);
    if (pg == NULL)
        return 1;
    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(pg));
    snprintf(log, sizeof log, "%s/backend.log", harness_tmpdir("benchrep"));
    if (load_gtfs(dbopt, feed, log) != 0) {
        harness_log_tail(log, 20);
        return 1;
    }

    /* Substitute the day count into the generator. */
    {
        size_t cap = sizeof year_sql + 64;
        const char *s = year_sql, *m;
        char n[16];
        size_t o = 0;

        sql = malloc(cap * 2);
        snprintf(n, sizeof n, "%d", days);
        while ((m = strstr(s, "$DAYS")) != NULL) {
            memcpy(sql + o, s, (size_t)(m - s));
            o += (size_t)(m - s);
            o += (size_t)sprintf(sql + o, "%s", n);
            s = m + 5;
        }
        strcpy(sql + o, s);
    }
    t0 = clock_mono_us();
    if (harness_pg_exec(pg, sql) != 0)
        return 1;
    free(sql);
    printf("generated %d days in %.1f s: %lld trip_outcomes, %lld "
           "stop_visits, %lld passenger_counts, %lld daily_ridership\n",
           days, (double)(clock_mono_us() - t0) / 1e6,
           harness_pg_scalar(pg, "SELECT count(*) FROM trip_outcomes"),
           harness_pg_scalar(pg, "SELECT count(*) FROM stop_visits"),
           harness_pg_scalar(pg, "SELECT count(*) FROM passenger_counts"),
           harness_pg_scalar(pg, "SELECT count(*) FROM daily_ridership"));

    tq = calloc((size_t)runs, sizeof *tq);
    tp = calloc((size_t)runs, sizeof *tp);
    tplan = calloc((size_t)runs, sizeof *tplan);
    texec = calloc((size_t)runs, sizeof *texec);
    if (report_query_open(harness_pg_conninfo(pg), &rq, err, sizeof err) !=
        REPORT_QUERY_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    conn = PQconnectdb(harness_pg_conninfo(pg));
    for (int i = 0; i < runs; i++) {
        struct report_query_daily d;
        char date[11];

        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        report_text_format_date(first + (long)(rng % (uint64_t)days), date);

        t0 = clock_mono_us();
        if (report_query_daily(rq, &p, date, &d, err, sizeof err) !=
            REPORT_QUERY_OK) {
            fprintf(stderr, "%s: %s\n", date, err);
            return 1;
        }
        tq[i] = (double)(clock_mono_us() - t0) / 1000.0;
        if (d.nruns != 52 || d.nstops == 0) {
            fprintf(stderr, "%s: %zu runs, %zu stops?\n", date, d.nruns,
                    d.nstops);
            return 1;
        }
        report_query_daily_free(&d);
        if ((tp[i] = time_process(dbopt, date)) < 0 ||
            explain(conn, date, &tplan[i], &texec[i]) != 0)
            return 1;
    }
    PQfinish(conn);
    report_query_close(rq);

    printf("daily report, %d random days of %d (4 queries each):\n", runs,
           days);
    stats(tq, runs, &med_q, &x, &y);
    stats(tplan, runs, &med_plan, &x, &y);
    stats(tp, runs, &x, &p95_p, &y);
    line("in-process fetch (report_query_daily)", tq, runs);
    line("whole process (json to /dev/null)", tp, runs);
    line("EXPLAIN ANALYZE planning (sum)", tplan, runs);
    line("EXPLAIN ANALYZE execution (sum)", texec, runs);
    printf("  ratio in-process / planning (medians): %.1f\n", med_q / med_plan);
    printf("  target: whole process <= 100 ms for any day: p95 %.2f ms, "
           "max %.2f ms -> %s\n",
           p95_p, tp[runs - 1], tp[runs - 1] <= 100 ? "PASS" : "FAIL");
    free(tq);
    free(tp);
    free(tplan);
    free(texec);
    harness_cleanup();
    return 0;
}
