/* A simulated morning of service through the whole real path (shuttle-sim
 * into 6 gpsd and 6 shuttle-onboard with UDP counters, mosquitto,
 * shuttle-backend, PostgreSQL), rebuilt with --rebuild and held against the
 * simulator's ground truth: a clean day, a disturbed day, and rebuilds that
 * must not depend on when or in what order the raw rows arrived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "itest_fleet.h"

/* The morning: the first bus is switched on at 05:40, the last run ends
 * before 09:30. Scheduled trips starting in the window are the 26
 * commute-in runs; the evening ones are outside it. */
#define WIN_START "05:40"
#define WIN_END "09:45"
/* 400x holds: faster, the few milliseconds gpsd adds to a fix's way (the
 * counter lines reach the onboard directly) become tens of simulated
 * seconds, and door episodes start to land beside their stop visits. */
#define SPEED 400

/* The disturbed day. Each disturbance is on a bus of its own so that what
 * goes wrong can be told apart. */
#define MISS_TRIP "R1-IN-0700" /* bus-2 (BLK2) does not run it */
#define LATE_TRIP "R2-IN-0742" /* bus-5 (BLK5) leaves 12 min late */
#define LATE_MIN 12
#define LATE_ARG LATE_TRIP ":12"
#define DROPOUT "4:07:32:10" /* bus-4, mid-way through R2-IN-0726 */
/* bus-3 stands at the hub 40 min, engine on, from 07:05 when its deadhead
 * gets there: R1-IN-0715 leaves 30 min late, nearer the block's next trip
 * (R1-IN-0800) than its own, and the runs after it catch up slowly. (30
 * min of idling made a 20-min delay, which the matching got right even
 * before it weighed early starts more than late ones.) */
#define IDLE "3:07:00:40"

struct day {
    char date[16];
    const char *seed;
    const char *table; /* where its truth CSV is loaded */
    char truth[1024];
};

static struct itest_fleet fleet; /* its folder holds the logs and truths */
static struct day clean = {"", "1", "truth_clean", ""};
static struct day disturbed = {"", "2", "truth_disturbed", ""};

/* ---- SQL helpers ------------------------------------------------------ */

static PGconn *db_connect(void)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(fleet.pg));

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

/* Run SQL with $1 = DAY (or no parameter when DAY is NULL); the result is
 * the caller's to PQclear. Fails the test on error. */
static PGresult *db_q(PGconn *c, const char *sql, const char *day)
{
    const char *v[1] = {day};
    PGresult *r = PQexecParams(c, sql, day ? 1 : 0, NULL, v, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s\n-- in: %s", PQerrorMessage(c), sql);
    return r;
}

static void db_exec(PGconn *c, const char *sql, const char *day)
{
    PQclear(db_q(c, sql, day));
}

/* First column of the first row as a number (NULL: NAN). */
static double db_num(PGconn *c, const char *sql, const char *day)
{
    PGresult *r = db_q(c, sql, day);
    double v = NAN;

    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return v;
}

static long long db_int(PGconn *c, const char *sql, const char *day)
{
    double v = db_num(c, sql, day);

    if (isnan(v))
        fail_msg("no value from: %s", sql);
    return (long long)v;
}

/* Print every row of a query (what went wrong, for the person reading the
 * test's output); returns the number of rows. */
static int db_show(PGconn *c, const char *title, const char *sql,
                   const char *day)
{
    PGresult *r = db_q(c, sql, day);
    int n = PQntuples(r), nf = PQnfields(r);

    if (n > 0) {
        fprintf(stderr, "%s (%d):\n ", title, n);
        for (int j = 0; j < nf; j++)
            fprintf(stderr, " %s", PQfname(r, j));
        fputc('\n', stderr);
        for (int i = 0; i < n && i < 60; i++) {
            fputc(' ', stderr);
            for (int j = 0; j < nf; j++)
                fprintf(stderr, " %s",
                        PQgetisnull(r, i, j) ? "-" : PQgetvalue(r, i, j));
            fputc('\n', stderr);
        }
    }
    PQclear(r);
    return n;
}

/* Stream the CSV at PATH into TABLE with COPY FROM STDIN: PostgreSQL's own
 * CSV reader, the file never held whole in memory. */
static void copy_csv(PGconn *c, const char *table, const char *path)
{
    char sql[256], buf[65536];
    FILE *fp = fopen(path, "r");
    PGresult *r;
    size_t n;

    if (!fp)
        fail_msg("%s: cannot open", path);
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN WITH (FORMAT csv, HEADER)",
             table);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        if (PQputCopyData(c, buf, (int)n) != 1)
            fail_msg("COPY data: %s", PQerrorMessage(c));
    fclose(fp);
    if (PQputCopyEnd(c, NULL) != 1)
        fail_msg("COPY end: %s", PQerrorMessage(c));
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("COPY %s from %s: %s", table, path, PQerrorMessage(c));
        PQclear(r);
    }
}

/* ---- driving the day -------------------------------------------------- */

/* Seoul's date N days before today. */
static void seoul_day(char *buf, size_t len, int days_back)
{
    time_t t = time(NULL) + 9 * 3600 - (time_t)days_back * 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

static int rebuild(const char *day)
{
    static int n;
    char log[1100];
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    "-o",
                    fleet.dbopt,
                    "--rebuild",
                    (char *)day,
                    NULL};

    snprintf(log, sizeof log, "%s/rebuild-%d.log", fleet.work, ++n);
    return itest_fleet_run("shuttle-backend --rebuild", argv, log, 60000);
}

/*
 * Every record the buses wrote for day D is in the database: each bus's
 * last fix (at or after its last departure in the truth) is stored, and
 * its ack watermark (every seq below it stored) has reached the highest
 * stored seq. Row counts standing still alone is not enough: a loaded
 * machine can pause the flow for seconds.
 */
static int wait_drained(const struct day *d, int timeout_ms)
{
    char tail[1024];

    snprintf(tail, sizeof tail,
             "SELECT count(*) FROM (SELECT vehicle, max(departure) AS last"
             " FROM %s GROUP BY 1) b WHERE NOT EXISTS (SELECT 1 FROM"
             " positions p WHERE p.vehicle_id = b.vehicle AND"
             " p.service_day = '%s' AND p.t >= b.last)",
             d->table, d->date);
    for (int waited = 0; waited < timeout_ms; waited += 250) {
        if (harness_pg_scalar(fleet.pg, tail) == 0 &&
            harness_pg_scalar(fleet.pg, itest_fleet_sql_holes) == 0)
            return 0;
        harness_sleep_ms(250);
    }
    fprintf(stderr,
            "%s: not all records arrived in %d ms: %lld buses "
            "without their last fix, %lld with holes\n",
            d->date, timeout_ms, harness_pg_scalar(fleet.pg, tail),
            harness_pg_scalar(fleet.pg, itest_fleet_sql_holes));
    {
        PGconn *c = db_connect();

        db_show(c, "per bus",
                "SELECT vp.vehicle_id, vp.acked_seq, (SELECT max(seq) FROM"
                " positions p WHERE p.vehicle_id = vp.vehicle_id) AS max_pos,"
                " (SELECT count(*) FROM positions p WHERE p.vehicle_id ="
                " vp.vehicle_id AND service_day = $1) AS n_pos, (SELECT"
                " max(t) AT TIME ZONE 'Asia/Seoul' FROM positions p WHERE"
                " p.vehicle_id = vp.vehicle_id) AS last_fix FROM"
                " vehicle_progress vp ORDER BY 1",
                d->date);
        PQfinish(c);
    }
    return -1;
}

static void load_truth(const struct day *d);

/* One simulated morning through the pipeline (shuttle-sim with EXTRA, its
 * arguments after the common ones), then --rebuild. */
static int run_day(struct day *d, const char *const *extra)
{
    char log[1100];
    const struct itest_fleet_sim s = {.date = d->date,
                                      .seed = d->seed,
                                      .speed = SPEED,
                                      .start = WIN_START,
                                      .end = WIN_END,
                                      .truth = d->truth,
                                      .log = log,
                                      .extra = extra};
    int rc;

    snprintf(d->truth, sizeof d->truth, "%s/%s.csv", fleet.work, d->table);
    snprintf(log, sizeof log, "%s/sim-%s.log", fleet.work, d->table);
    rc = itest_fleet_sim_run(&fleet, &s, 180000);
    harness_log_tail(log, 40);
    if (rc != 0)
        return -1;
    load_truth(d);
    if (wait_drained(d, 120000) != 0 || rebuild(d->date) != 0)
        return -1;
    return 0;
}

static void load_truth(const struct day *d)
{
    PGconn *c = db_connect();
    char sql[1024];

    snprintf(sql, sizeof sql,
             "CREATE TABLE %s (vehicle text, trip_id text, route_id text,"
             " direction_id int, block_id text, stop_id text,"
             " stop_sequence int, arrival timestamptz,"
             " departure timestamptz, boarded int, alighted int, load int,"
             " boarded_counted int, alighted_counted int)",
             d->table);
    db_exec(c, sql, NULL);
    copy_csv(c, d->table, d->truth);
    PQfinish(c);
}

static int setup(void **state)
{
    static const char *const quiet[] = {"--quiet", NULL};

    (void)state;
    if (itest_fleet_start(&fleet, "service-day", NULL) != 0)
        return -1;

    /* Two days in the recent past, the disturbed one later: GPS time only
     * moves forward for the onboard daemons. */
    seoul_day(clean.date, sizeof clean.date, 2);
    seoul_day(disturbed.date, sizeof disturbed.date, 1);
    if (run_day(&clean, quiet) != 0)
        return -1;
    {
        static const char *const extra[] = {
            "--quiet",   "--miss", MISS_TRIP, "--late", LATE_ARG,
            "--dropout", DROPOUT,  "--idle",  IDLE,     NULL};

        if (run_day(&disturbed, extra) != 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* ---- the checks ------------------------------------------------------- */

/* Trips of the day whose scheduled start lies in the window. */
#define IN_WINDOW                                                              \
    " AND (scheduled_start AT TIME ZONE 'Asia/Seoul')::time >= '" WIN_START    \
    "' AND (scheduled_start AT TIME ZONE 'Asia/Seoul')::time < '" WIN_END "'"

/* Runs the builder made: every (vehicle, run start) in stop_visits. */
#define RUNS_BUILT                                                             \
    "SELECT count(DISTINCT (vehicle_id, run_start)) FROM stop_visits"          \
    " WHERE service_day = $1 AND run_start IS NOT NULL"

/* Truth runs and what the builder made of each: the trip's outcome and
 * vehicle. */
static void check_runs(PGconn *c, const struct day *d, int *bad)
{
    char sql[2048];
    long long runs_off;
    long long truth_runs, built, operated, missed, sched;

    snprintf(sql, sizeof sql, "SELECT count(DISTINCT trip_id) FROM %s",
             d->table);
    truth_runs = db_int(c, sql, NULL);
    built = db_int(c, RUNS_BUILT, d->date);
    operated = db_int(c,
                      "SELECT count(*) FROM trip_outcomes WHERE"
                      " service_day = $1 AND status <> 'missed'" IN_WINDOW,
                      d->date);
    missed = db_int(c,
                    "SELECT count(*) FROM trip_outcomes WHERE"
                    " service_day = $1 AND status = 'missed'" IN_WINDOW,
                    d->date);
    sched = db_int(c,
                   "SELECT count(*) FROM trip_outcomes WHERE"
                   " service_day = $1" IN_WINDOW,
                   d->date);
    fprintf(stderr,
            "%s: runs in truth %lld, built %lld, trips in window %lld: "
            "operated %lld, missed %lld\n",
            d->date, truth_runs, built, sched, operated, missed);

    /* Truth runs the builder got wrong: no outcome, another vehicle, or
     * not operated. */
    snprintf(sql, sizeof sql,
             "SELECT t.trip_id, t.vehicle, o.status, o.vehicle_id,"
             " o.actual_start AT TIME ZONE 'Asia/Seoul' AS start,"
             " o.stops_visited, o.stops_scheduled,"
             " (SELECT min(departure) AT TIME ZONE 'Asia/Seoul' FROM %s x"
             "  WHERE x.trip_id = t.trip_id) AS truth_start"
             " FROM (SELECT DISTINCT trip_id, vehicle FROM %s) t"
             " LEFT JOIN trip_outcomes o ON o.service_day = $1"
             "  AND o.trip_id = t.trip_id"
             " WHERE o.vehicle_id IS DISTINCT FROM t.vehicle"
             "  OR o.status <> 'operated' ORDER BY 1",
             d->table, d->table);
    *bad += db_show(c, "truth runs built wrong", sql, d->date);
    /* Built runs the truth does not have: phantoms, or trips swapped. */
    snprintf(sql, sizeof sql,
             "SELECT o.trip_id, o.vehicle_id, o.status,"
             " o.actual_start AT TIME ZONE 'Asia/Seoul' AS start,"
             " o.stops_visited FROM trip_outcomes o"
             " WHERE o.service_day = $1 AND o.vehicle_id IS NOT NULL"
             " AND NOT EXISTS (SELECT 1 FROM %s t WHERE t.trip_id ="
             " o.trip_id AND t.vehicle = o.vehicle_id) ORDER BY 1",
             d->table);
    *bad += db_show(c, "built runs not in the truth", sql, d->date);
    *bad += db_show(c, "runs matched to no trip",
                    "SELECT vehicle_id, run_start AT TIME ZONE 'Asia/Seoul',"
                    " count(*) AS visits, string_agg(stop_id, ' ' ORDER BY"
                    " arrival) FROM stop_visits WHERE service_day = $1 AND"
                    " run_start IS NOT NULL AND trip_id IS NULL"
                    " GROUP BY 1, 2 ORDER BY 1, 2",
                    d->date);
    /* Boardings per run: not asserted (a door episode can be set down at
     * the terminal of the run before or after), shown to see where the
     * counts went. */
    snprintf(sql, sizeof sql,
             "SELECT t.trip_id, t.vehicle, t.counted AS truth_counted,"
             " o.boarded AS built FROM (SELECT trip_id, vehicle,"
             " sum(boarded_counted) AS counted FROM %s GROUP BY 1, 2) t"
             " LEFT JOIN trip_outcomes o ON o.service_day = $1"
             " AND o.trip_id = t.trip_id"
             " WHERE o.boarded IS DISTINCT FROM t.counted ORDER BY 1",
             d->table);
    runs_off = db_show(c, "runs whose boardings differ from the counters'", sql,
                       d->date);
    fprintf(stderr, "%s: %lld of %lld runs with boardings as counted\n",
            d->date, truth_runs - runs_off, truth_runs);
    if (built != truth_runs || operated != truth_runs ||
        missed != sched - truth_runs) {
        fprintf(stderr, "run counts differ from the truth\n");
        (*bad)++;
    }
}

static void test_clean_day(void **state)
{
    PGconn *c = db_connect();
    char sql[2048];
    int bad = 0;
    double mae, matched, total, report, truth_b, counted;

    (void)state;
    check_runs(c, &clean, &bad);

    /* Arrival times, over the stop visits matched to the truth's. */
    snprintf(sql, sizeof sql,
             "SELECT avg(abs(extract(epoch FROM s.arrival - t.arrival))),"
             " count(*), (SELECT count(*) FROM %s)"
             " FROM %s t JOIN stop_visits s ON s.service_day = $1"
             " AND s.trip_id = t.trip_id"
             " AND s.stop_sequence = t.stop_sequence",
             clean.table, clean.table);
    {
        PGresult *r = db_q(c, sql, clean.date);

        mae = strtod(PQgetvalue(r, 0, 0), NULL);
        matched = strtod(PQgetvalue(r, 0, 1), NULL);
        total = strtod(PQgetvalue(r, 0, 2), NULL);
        PQclear(r);
    }
    fprintf(stderr,
            "%s: arrival MAE %.2f s over %.0f of %.0f truth stop visits "
            "(%.1f%% matched)\n",
            clean.date, mae, matched, total, 100 * matched / total);
    snprintf(sql, sizeof sql,
             "SELECT t.vehicle, t.trip_id, t.stop_id, t.stop_sequence,"
             " t.arrival AT TIME ZONE 'Asia/Seoul' AS truth,"
             " s.arrival AT TIME ZONE 'Asia/Seoul' AS built,"
             " round(extract(epoch FROM s.arrival - t.arrival)) AS diff_s,"
             " s.stopped FROM %s t JOIN stop_visits s ON s.service_day = $1"
             " AND s.trip_id = t.trip_id"
             " AND s.stop_sequence = t.stop_sequence"
             " WHERE abs(extract(epoch FROM s.arrival - t.arrival)) > 60"
             " ORDER BY 1, 5",
             clean.table);
    db_show(c, "stop visits more than 60 s off", sql, clean.date);

    /* Boardings: what the counters counted, within their error of what
     * really happened. */
    report = db_num(c,
                    "SELECT boarded FROM daily_ridership WHERE"
                    " service_day = $1",
                    clean.date);
    snprintf(sql, sizeof sql,
             "SELECT sum(boarded), sum(boarded_counted) FROM %s", clean.table);
    {
        PGresult *r = db_q(c, sql, NULL);

        truth_b = strtod(PQgetvalue(r, 0, 0), NULL);
        counted = strtod(PQgetvalue(r, 0, 1), NULL);
        PQclear(r);
    }
    fprintf(stderr,
            "%s: boarded: report %.0f, counters %.0f, true %.0f "
            "(report - true = %+.0f, %+.2f%%)\n",
            clean.date, report, counted, truth_b, report - truth_b,
            100 * (report - truth_b) / truth_b);
    PQfinish(c);

    assert_int_equal(bad, 0);
    assert_true(matched >= 0.9 * total);
    assert_true(mae <= 15.0);
    assert_true(truth_b > 0);
    assert_true(fabs(report - truth_b) <= 0.05 * truth_b);
    assert_true(report == counted);
}

static void test_disturbed_day(void **state)
{
    PGconn *c = db_connect();
    char sql[2048];
    int bad = 0;
    long long late_truth, late_report;
    double delay, truth_delay;

    (void)state;
    check_runs(c, &disturbed, &bad);

    /* The trip nobody ran. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM trip_outcomes WHERE service_day = $1"
             " AND trip_id = '%s' AND status = 'missed'",
             MISS_TRIP);
    if (db_int(c, sql, disturbed.date) != 1) {
        fprintf(stderr, "%s is not 'missed'\n", MISS_TRIP);
        bad++;
    }
    /* The late one: operated, its delay as the truth has it (12 min and
     * the few seconds the bus took to pull away). */
    snprintf(sql, sizeof sql,
             "SELECT start_delay_s FROM trip_outcomes WHERE"
             " service_day = $1 AND trip_id = '%s' AND status = 'operated'",
             LATE_TRIP);
    delay = db_num(c, sql, disturbed.date);
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM min(t.departure) -"
             " min(o.scheduled_start)) FROM %s t JOIN trip_outcomes o"
             " ON o.service_day = $1 AND o.trip_id = t.trip_id"
             " WHERE t.trip_id = '%s' AND t.stop_sequence ="
             " (SELECT min(stop_sequence) FROM %s WHERE trip_id = '%s')",
             disturbed.table, LATE_TRIP, disturbed.table, LATE_TRIP);
    truth_delay = db_num(c, sql, disturbed.date);
    /* Late runs as the truth has them: left the first stop more than
     * 5 min after the timetable. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT t.trip_id FROM %s t"
             " JOIN trip_outcomes o ON o.service_day = $1"
             " AND o.trip_id = t.trip_id"
             " WHERE t.stop_sequence = (SELECT min(stop_sequence) FROM %s"
             " x WHERE x.trip_id = t.trip_id)"
             " AND t.departure - o.scheduled_start > interval '5 min') l",
             disturbed.table, disturbed.table);
    late_truth = db_int(c, sql, disturbed.date);
    late_report = db_int(c,
                         "SELECT runs_late FROM daily_ridership WHERE"
                         " service_day = $1",
                         disturbed.date);
    fprintf(stderr,
            "%s: %s start delay %.0f s (truth %.0f s); runs late: report "
            "%lld, truth %lld\n",
            disturbed.date, LATE_TRIP, delay, truth_delay, late_report,
            late_truth);
    db_show(c, "the disturbed buses' runs",
            "SELECT trip_id, vehicle_id, status, start_delay_s,"
            " stops_visited, stops_scheduled, boarded FROM trip_outcomes"
            " WHERE service_day = $1 AND vehicle_id IN ('bus-3', 'bus-4',"
            " 'bus-5') ORDER BY vehicle_id, scheduled_start",
            disturbed.date);
    PQfinish(c);

    assert_int_equal(bad, 0);
    assert_false(isnan(delay));
    assert_true(fabs(delay - LATE_MIN * 60) <= 60);
    assert_true(late_report >= 1);
    assert_int_equal(late_report, late_truth);
}

/* The derived tables of DAY as text, ordered by their keys, without
 * built_at. The string is the caller's to free. */
static char *dump_day(PGconn *c, const char *day)
{
    static const char *const q[] = {
        "SELECT coalesce(string_agg(s::text, E'\\n' ORDER BY s.vehicle_id,"
        " s.arrival, s.stop_id), '') FROM stop_visits s"
        " WHERE service_day = $1",
        "SELECT coalesce(string_agg(o::text, E'\\n' ORDER BY o.trip_id),"
        " '') FROM trip_outcomes o WHERE service_day = $1",
        "SELECT coalesce(string_agg(row(d.service_day, d.boarded,"
        " d.alighted, d.runs_scheduled, d.runs_operated, d.runs_partial,"
        " d.runs_missed, d.runs_late, d.unattributed_boarded)::text,"
        " E'\\n'), '') FROM daily_ridership d WHERE service_day = $1",
    };
    size_t len = 0;
    char *out = NULL;

    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        PGresult *r = db_q(c, q[i], day);
        const char *v = PQgetvalue(r, 0, 0);
        size_t n = strlen(v);
        char *g = realloc(out, len + n + 16);

        assert_non_null(g);
        out = g;
        memcpy(out + len, v, n);
        len += n;
        memcpy(out + len, "\n--\n", 5);
        len += 4;
        PQclear(r);
    }
    return out;
}

/* Fail with the first line where A and B differ. */
static void same_text(const char *what, const char *a, const char *b)
{
    const char *la = a, *lb = b;
    int line = 1;

    if (strcmp(a, b) == 0)
        return;
    while (*la && *la == *lb) {
        if (*la == '\n') {
            line++;
            a = la + 1;
            b = lb + 1;
        }
        la++;
        lb++;
    }
    fail_msg("%s differ at line %d:\n  before: %.300s\n  after:  %.300s", what,
             line, a, b);
}

/* Blank the value of "built_at" in a JSON text: when the day was last
 * rebuilt is the one thing a rebuild must change. */
static void blank_built_at(char *json)
{
    static const char key[] = "\"built_at\":\"";

    for (char *p = strstr(json, key); p; p = strstr(p, key)) {
        p += sizeof key - 1;
        while (*p && *p != '"')
            *p++ = '#';
    }
}

/* shuttle-report's JSON for DAY, or NULL when the tool is not built. */
static char *report_json(const char *day)
{
    const char *bin = harness_bin("shuttle-report");
    char cmd[2400];
    char *out = NULL;
    size_t len = 0, n;
    char buf[8192];
    FILE *p;

    if (access(bin, X_OK) != 0)
        return NULL;
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s' daily --date %s --format json 2>>'%s/report.err'",
             bin, fleet.dbopt, day, fleet.work);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        char *g = realloc(out, len + n + 1);

        assert_non_null(g);
        out = g;
        memcpy(out + len, buf, n);
        len += n;
    }
    if (pclose(p) != 0)
        fail_msg("shuttle-report daily --date %s failed (see %s/report.err)",
                 day, fleet.work);
    if (!out)
        out = strdup("");
    else
        out[len] = '\0';
    blank_built_at(out);
    return out;
}

static void test_rebuild_is_deterministic(void **state)
{
    const struct day *days[] = {&clean, &disturbed};
    PGconn *c = db_connect();

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *day = days[i]->date;
        char *first, *again, *shuffled, *rep0, *rep1;

        first = dump_day(c, day);
        rep0 = report_json(day);
        assert_int_equal(rebuild(day), 0);
        again = dump_day(c, day);
        same_text("derived tables, rebuilt twice", first, again);

        /* The same raw rows, put back in a random physical order: the
         * builder reads them sorted by the bus's own time and sequence,
         * so nothing may change. (The raw tables are partitioned; the
         * rows go back through the parent into the day's partition.) */
        db_exec(c, "BEGIN", NULL);
        db_exec(c,
                "CREATE TEMP TABLE pos_day ON COMMIT DROP AS"
                " SELECT * FROM positions WHERE service_day = $1",
                day);
        db_exec(c,
                "CREATE TEMP TABLE cnt_day ON COMMIT DROP AS"
                " SELECT * FROM passenger_counts WHERE service_day = $1",
                day);
        db_exec(c, "DELETE FROM positions WHERE service_day = $1", day);
        db_exec(c, "DELETE FROM passenger_counts WHERE service_day = $1", day);
        db_exec(c,
                "INSERT INTO positions SELECT * FROM pos_day"
                " ORDER BY random()",
                NULL);
        db_exec(c,
                "INSERT INTO passenger_counts SELECT * FROM cnt_day"
                " ORDER BY random()",
                NULL);
        db_exec(c, "COMMIT", NULL);
        assert_int_equal(rebuild(day), 0);
        shuffled = dump_day(c, day);
        same_text("derived tables, after re-ingesting shuffled", first,
                  shuffled);
        fprintf(stderr,
                "%s: derived tables identical after a rebuild and "
                "after a shuffled re-ingest (%zu bytes)\n",
                day, strlen(first));

        rep1 = report_json(day);
        if (!rep0 || !rep1) {
            fprintf(stderr,
                    "%s: shuttle-report not built in %s: report "
                    "comparison skipped\n",
                    day,
                    getenv("SHUTTLE_BIN_DIR") ? getenv("SHUTTLE_BIN_DIR")
                                              : "(beside the test)");
        } else {
            same_text("shuttle-report daily --format json (built_at aside)",
                      rep0, rep1);
            fprintf(stderr, "%s: shuttle-report JSON identical (%zu bytes)\n",
                    day, strlen(rep0));
        }
        free(first);
        free(again);
        free(shuffled);
        free(rep0);
        free(rep1);
    }
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_day),
        cmocka_unit_test(test_disturbed_day),
        cmocka_unit_test(test_rebuild_is_deterministic),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
