/* Integration test of shuttle-report: a real PostgreSQL with the schema and
 * the GTFS feed, one synthetic built day (52 trips: 2 missed, 1 partial, 3
 * late, 2 crowded, 1 counter suspect), then every format and exit code,
 * and the HTML rendered by headless Chromium against the JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "report_text.h"

#define DAY "2026-03-10"

static struct harness_pg *pg;
static char dbopt[512];
static char *tmp;

/* Ends report()'s argument list: a NULL of pointer type, as va_arg reads
 * it (a bare NULL may be an int 0). */
#define END ((const char *)NULL)

/* The built day. Boardings are spread over the stops outside the complex
 * on the way in (alightings inside it), the other way round on the way out,
 * so every table adds up; passenger_counts holds one record per stop visit
 * plus 12 boardings at no known stop. 2026-03-11 has a raw count but no
 * build: the "run --rebuild" case. */
static const char day_sql[] =
    "SELECT shuttle_ensure_partition('" DAY "');"
    "CREATE TEMP TABLE tt AS SELECT t.trip_id, t.route_id, t.direction_id,"
    " t.block_id, row_number() OVER (ORDER BY t.trip_id) AS k,"
    " ('" DAY "'::timestamp + make_interval(secs => min(st.departure_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s0,"
    " ('" DAY "'::timestamp + make_interval(secs => max(st.arrival_secs)))"
    "   AT TIME ZONE 'Asia/Seoul' AS s1, count(*) AS nstops"
    " FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
    " GROUP BY t.trip_id, t.route_id, t.direction_id, t.block_id;"
    "INSERT INTO trip_outcomes (service_day, trip_id, route_id, direction_id,"
    " block_id, scheduled_start, scheduled_end, status, vehicle_id,"
    " actual_start, actual_end, start_delay_s, end_delay_s, stops_scheduled,"
    " stops_visited, boarded, alighted, peak_load)"
    " SELECT '" DAY "', trip_id, route_id, direction_id, block_id, s0, s1, st,"
    " CASE WHEN st = 'missed' THEN NULL ELSE 'bus0' || right(block_id, 1) END,"
    " CASE WHEN st = 'missed' THEN NULL ELSE s0 + make_interval(secs => dl) "
    "END,"
    " CASE WHEN st = 'missed' THEN NULL ELSE s1 + make_interval(secs => dl) "
    "END,"
    " CASE WHEN st = 'missed' THEN NULL ELSE dl END,"
    " CASE WHEN st = 'missed' THEN NULL ELSE dl END,"
    " nstops, CASE st WHEN 'missed' THEN 0 WHEN 'partial' THEN nstops / 2"
    "  ELSE nstops END,"
    " b, CASE WHEN trip_id = 'R1-OUT-1900' THEN b - 10 ELSE b END,"
    " CASE WHEN st = 'missed' THEN NULL WHEN trip_id = 'R1-IN-0730' THEN 44"
    "  WHEN trip_id = 'R2-IN-0742' THEN 41 WHEN trip_id = 'R1-IN-0745'"
    "  THEN 40 ELSE b - 2 END"
    " FROM (SELECT tt.*,"
    "  CASE WHEN trip_id IN ('R1-IN-0900', 'R2-OUT-2012') THEN 'missed'"
    "   WHEN trip_id = 'R2-IN-0550' THEN 'partial' ELSE 'operated' END AS st,"
    "  CASE WHEN trip_id = 'R1-IN-0700' THEN 420"
    "   WHEN trip_id = 'R1-OUT-1800' THEN 360"
    "   WHEN trip_id = 'R2-OUT-1804' THEN 600"
    "   WHEN trip_id = 'R1-OUT-1700' THEN 300 ELSE 60 END AS dl,"
    "  CASE WHEN trip_id IN ('R1-IN-0900', 'R2-OUT-2012') THEN 0"
    "   WHEN trip_id IN ('R1-IN-0730', 'R2-IN-0742', 'R1-IN-0745') THEN 46"
    "   ELSE 18 + (k * 7) % 15 END AS b FROM tt) x;"
    "INSERT INTO stop_visits (service_day, vehicle_id, stop_id, arrival,"
    " departure, stopped, run_start, trip_id, stop_sequence,"
    " scheduled_arrival, boarded, alighted, load_after, door_events)"
    " SELECT '" DAY "', o.vehicle_id, st.stop_id,"
    " sa + make_interval(secs => o.start_delay_s),"
    " sa + make_interval(secs => o.start_delay_s + 30), true, o.actual_start,"
    " o.trip_id, st.stop_sequence, sa,"
    " CASE WHEN board THEN o.boarded / n + (CASE WHEN kk <= o.boarded % n"
    "  THEN 1 ELSE 0 END) ELSE 0 END,"
    " CASE WHEN NOT board THEN o.alighted / n + (CASE WHEN kk <= o.alighted"
    "  % n THEN 1 ELSE 0 END) ELSE 0 END, NULL, 1"
    " FROM trip_outcomes o JOIN (SELECT s.*, ('" DAY "'::timestamp"
    "   + make_interval(secs => s.arrival_secs)) AT TIME ZONE 'Asia/Seoul'"
    "   AS sa, (t.direction_id = 0) = (s.stop_id NOT LIKE 'GD%') AS board,"
    "  count(*) OVER w AS n, row_number() OVER (w ORDER BY s.stop_sequence)"
    "   AS kk"
    "  FROM gtfs_stop_times s JOIN gtfs_trips t USING (trip_id)"
    "  WINDOW w AS (PARTITION BY s.trip_id, (t.direction_id = 0) ="
    "   (s.stop_id NOT LIKE 'GD%'))) st ON st.trip_id = o.trip_id"
    " WHERE o.service_day = '" DAY "' AND o.status <> 'missed';"
    "INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    " boarded, alighted, door_open, door_close, load_after)"
    " SELECT vehicle_id, row_number() OVER (PARTITION BY vehicle_id ORDER BY"
    " arrival), '" DAY "', arrival, 1, boarded, alighted, arrival,"
    " arrival + interval '20 s', 0 FROM stop_visits"
    " WHERE service_day = '" DAY "' AND (boarded > 0 OR alighted > 0);"
    "INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    " boarded, alighted) VALUES ('bus01', 100000, '" DAY "',"
    " '" DAY " 07:40:00+09', 1, 12, 0);"
    "INSERT INTO daily_ridership (service_day, boarded, alighted,"
    " runs_scheduled, runs_operated, runs_partial, runs_missed, runs_late,"
    " unattributed_boarded, built_at)"
    " SELECT '" DAY "', sum(boarded) + 12, sum(alighted), count(*),"
    " count(*) FILTER (WHERE status = 'operated'),"
    " count(*) FILTER (WHERE status = 'partial'),"
    " count(*) FILTER (WHERE status = 'missed'),"
    " count(*) FILTER (WHERE status = 'operated' AND start_delay_s > 300),"
    " 12, '2026-03-11 01:10:00+09' FROM trip_outcomes"
    " WHERE service_day = '" DAY "';"
    "SELECT shuttle_ensure_partition('2026-03-11');"
    "INSERT INTO passenger_counts (vehicle_id, seq, service_day, t, door,"
    " boarded, alighted) VALUES ('bus01', 200000, '2026-03-11',"
    " '2026-03-11 06:10:00+09', 1, 5, 0);";

/* ---- running programs --------------------------------------------- */

struct result {
    int rc;
    char *out, *err;
};

/* shuttle-report -o database=TEST ARGS...; the result's strings are the
 * caller's (free_result). */
static struct result report(const char *first, ...)
{
    char *argv[32];
    char out[1024], err[1024];
    struct result r;
    const char *a;
    va_list ap;
    int n = 0;

    argv[n++] = (char *)harness_bin("shuttle-report");
    argv[n++] = "-o";
    argv[n++] = dbopt;
    va_start(ap, first);
    for (a = first; a != NULL && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(err, sizeof err, "%s/err", tmp);
    r.rc = harness_run(argv, out, err);
    r.out = harness_read_file(out);
    r.err = harness_read_file(err);
    return r;
}

static void free_result(struct result *r)
{
    free(r->out);
    free(r->err);
}

static long long q(const char *sql)
{
    return harness_pg_scalar(pg, sql);
}

/* ---- a minimal JSON reader: validates and finds values ------------ */

static const char *jws(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    return s;
}

static const char *jvalue(const char *s);

/* End of the string starting at S ('"'), NULL if invalid. */
static const char *jstring(const char *s)
{
    if (*s++ != '"')
        return NULL;
    for (; *s && *s != '"'; s++) {
        if ((unsigned char)*s < 0x20)
            return NULL;
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return NULL;
                s += 4;
            } else if (!*s || !strchr("\"\\/bfnrt", *s)) {
                return NULL;
            }
        }
    }
    return *s == '"' ? s + 1 : NULL;
}

static const char *jnumber(const char *s)
{
    const char *p = s;

    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (*++p < '0' || *p > '9')
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

/* Value at S (after blanks): its end, or NULL if invalid. */
static const char *jvalue(const char *s)
{
    s = jws(s);
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        int obj = *s == '{';

        s = jws(s + 1);
        if (*s == close)
            return s + 1;
        for (;;) {
            if (obj) {
                if ((s = jstring(s)) == NULL)
                    return NULL;
                s = jws(s);
                if (*s++ != ':')
                    return NULL;
            }
            if ((s = jvalue(s)) == NULL)
                return NULL;
            s = jws(s);
            if (*s == close)
                return s + 1;
            if (*s++ != ',')
                return NULL;
            s = jws(s);
        }
    }
    if (*s == '"')
        return jstring(s);
    if (strncmp(s, "true", 4) == 0)
        return s + 4;
    if (strncmp(s, "false", 5) == 0)
        return s + 5;
    if (strncmp(s, "null", 4) == 0)
        return s + 4;
    return jnumber(s);
}

/* The value of member KEY of the object at OBJ, or NULL. */
static const char *jget(const char *obj, const char *key)
{
    const char *s = jws(obj);
    size_t kl = strlen(key);

    if (*s != '{')
        return NULL;
    s = jws(s + 1);
    while (*s == '"') {
        const char *k = s + 1, *e = jstring(s);

        assert_non_null(e);
        s = jws(jws(e) + 1);
        if ((size_t)(e - 1 - k) == kl && strncmp(k, key, kl) == 0)
            return s;
        s = jws(jvalue(s));
        if (*s == ',')
            s = jws(s + 1);
    }
    return NULL;
}

/* Element I of the array at ARR, or NULL past its end. */
static const char *jat(const char *arr, int i)
{
    const char *s = jws(arr);

    assert_true(*s == '[');
    s = jws(s + 1);
    for (int k = 0; *s != ']'; k++) {
        if (k == i)
            return s;
        s = jws(jvalue(s));
        if (*s == ',')
            s = jws(s + 1);
    }
    return NULL;
}

static int jlen(const char *arr)
{
    int n = 0;

    while (jat(arr, n) != NULL)
        n++;
    return n;
}

/* A number's (or literal's) text, as written, into OUT. */
static const char *jtext(const char *v, char *out, size_t outlen)
{
    const char *e;

    assert_non_null(v);
    v = jws(v);
    e = jvalue(v);
    assert_non_null(e);
    snprintf(out, outlen, "%.*s", (int)(e - v), v);
    return out;
}

static long long jint(const char *v)
{
    char b[64];

    return strtoll(jtext(v, b, sizeof b), NULL, 10);
}

/* Path "a.b.c" from ROOT; numeric segments index arrays. */
static const char *jpath(const char *root, const char *path)
{
    char seg[64];
    const char *v = root;

    while (*path && v) {
        size_t n = strcspn(path, ".");

        snprintf(seg, sizeof seg, "%.*s", (int)n, path);
        v = (*jws(v) == '[') ? jat(v, atoi(seg)) : jget(v, seg);
        path += n + (path[n] == '.');
    }
    return v;
}

/* ---- a minimal RFC 4180 reader -------------------------------------- */

/* Split CSV into records of fields (each malloc'd). Returns the number of
 * records; *NF gets each record's field count. Fails the test on a broken
 * quote. */
static int csv_parse(const char *s, char *fields[][20], int nf[], int max)
{
    int r = 0;

    while (*s && r < max) {
        nf[r] = 0;
        for (;;) {
            char buf[512];
            size_t n = 0;

            if (*s == '"') {
                for (s++;; s++) {
                    assert_true(*s != '\0'); /* unterminated quote */
                    if (*s == '"' && s[1] == '"')
                        buf[n++] = *s++;
                    else if (*s == '"')
                        break;
                    else
                        buf[n++] = *s;
                }
                s++;
            } else {
                while (*s && *s != ',' && *s != '\r' && *s != '\n')
                    buf[n++] = *s++;
            }
            buf[n] = '\0';
            assert_true(nf[r] < 20);
            fields[r][nf[r]++] = strdup(buf);
            if (*s == ',') {
                s++;
                continue;
            }
            assert_true(s[0] == '\r' && s[1] == '\n'); /* CRLF ends */
            s += 2;
            break;
        }
        r++;
    }
    return r;
}

static void csv_free(char *fields[][20], const int nf[], int n)
{
    for (int r = 0; r < n; r++)
        for (int f = 0; f < nf[r]; f++)
            free(fields[r][f]);
}

static int csv_col(char *fields[][20], int nf0, const char *name)
{
    for (int i = 0; i < nf0; i++)
        if (strcmp(fields[0][i], name) == 0)
            return i;
    fail_msg("no CSV column %s", name);
    return -1;
}

/* ---- setup ---------------------------------------------------------- */

static int backend(const char *a1, const char *a2)
{
    char *argv[] = {(char *)harness_bin("shuttle-backend"),
                    (char *)a1,
                    (char *)a2,
                    "-o",
                    dbopt,
                    NULL};
    char log[1024];
    struct harness_proc *p;
    int rc;

    snprintf(log, sizeof log, "%s/backend.log", tmp);
    if (a2 == NULL) {
        argv[2] = "-o";
        argv[3] = dbopt;
        argv[4] = NULL;
    }
    p = harness_spawn("shuttle-backend", argv, log);
    if (p == NULL)
        return -1;
    rc = harness_wait(p, 60000);
    if (rc != 0)
        harness_log_tail(log, 20);
    return rc;
}

static int setup(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char feed[1024];

    snprintf(feed, sizeof feed, "%s/deploy/gtfs", src ? src : "..");
    tmp = harness_tmpdir("report");
    pg = harness_pg_start(1);
    if (tmp == NULL || pg == NULL)
        return -1;
    snprintf(dbopt, sizeof dbopt, "database=%s", harness_pg_conninfo(pg));
    if (backend("--migrate", NULL) != 0 || backend("--load-gtfs", feed) != 0 ||
        harness_pg_exec(pg, day_sql) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

/* ---- tests ---------------------------------------------------------- */

static void test_json(void **state)
{
    struct result r = report("--format", "json", "daily", "--date", DAY, END);
    const char *root = r.out, *runs;
    long long boarded = q("SELECT boarded FROM daily_ridership");
    char b[64];
    int nlate = 0, ncrowded = 0;

    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_non_null(jvalue(root)); /* the whole document parses */
    assert_string_equal(jws(jvalue(root)), "");
    assert_true(boarded > 1000);
    assert_int_equal(jint(jpath(root, "summary.boarded")), boarded);
    assert_int_equal(jint(jpath(root, "summary.target")), 1500);
    snprintf(b, sizeof b, "%.1f", round(boarded * 1000.0 / 1500) / 10);
    assert_string_equal(jtext(jpath(root, "summary.pct_of_target"), b + 32, 32),
                        b);
    assert_int_equal(jint(jpath(root, "summary.runs_scheduled")), 52);
    assert_int_equal(jint(jpath(root, "summary.runs_operated")), 49);
    assert_int_equal(jint(jpath(root, "summary.runs_partial")), 1);
    assert_int_equal(jint(jpath(root, "summary.runs_missed")), 2);
    /* 420, 360 and 600 s late; 300 s is not more than late_s 300. */
    assert_int_equal(jint(jpath(root, "summary.runs_late")), 3);
    /* 44 and 41 of 45 seats reach 90 %; 40 does not. */
    assert_int_equal(jint(jpath(root, "summary.runs_crowded")), 2);
    assert_int_equal(jint(jpath(root, "summary.runs_counter_suspect")), 1);
    assert_int_equal(jint(jpath(root, "summary.unattributed_boarded")), 12);

    runs = jpath(root, "runs");
    assert_int_equal(jlen(runs), 52);
    for (int i = 0; i < 52; i++) {
        const char *run = jat(runs, i);

        nlate += strcmp(jtext(jget(run, "late"), b, sizeof b), "true") == 0;
        ncrowded +=
            strcmp(jtext(jget(run, "crowded"), b, sizeof b), "true") == 0;
        jtext(jget(run, "trip_id"), b, sizeof b);
        if (strcmp(b, "\"R1-IN-0900\"") == 0) {
            assert_string_equal(jtext(jget(run, "status"), b, sizeof b),
                                "\"missed\"");
            assert_string_equal(jtext(jget(run, "peak_load"), b, sizeof b),
                                "null");
        } else if (strcmp(b, "\"R1-IN-0730\"") == 0) {
            assert_int_equal(jint(jget(run, "peak_load")), 44);
            assert_string_equal(jtext(jget(run, "load_pct"), b, sizeof b),
                                "97.8");
            assert_string_equal(
                jtext(jget(run, "scheduled_start"), b, sizeof b), "\"07:30\"");
            assert_string_equal(jtext(jget(run, "actual_start"), b, sizeof b),
                                "\"07:31\"");
        }
    }
    assert_int_equal(nlate, 3);
    assert_int_equal(ncrowded, 2);
    /* Ordered by scheduled start: R2's 05:50 run is first. */
    assert_string_equal(jtext(jpath(root, "runs.0.trip_id"), b, sizeof b),
                        "\"R2-IN-0550\"");

    /* Routes and stops add up as in the tables. */
    assert_int_equal(jlen(jpath(root, "routes")), 4);
    assert_int_equal(jint(jpath(root, "routes.0.boarded")),
                     q("SELECT sum(boarded) FROM trip_outcomes WHERE "
                       "route_id = 'R1' AND direction_id = 0"));
    assert_int_equal(jint(jpath(root, "routes.3.missed")), 1);
    assert_int_equal(jlen(jpath(root, "stops")), 13);
    assert_string_equal(jtext(jpath(root, "stops.0.stop_name"), b, sizeof b),
                        "\"검암역\"");
    assert_int_equal(jint(jpath(root, "stops.0.boarded")),
                     q("SELECT sum(boarded) FROM stop_visits "
                       "WHERE stop_id = 'GA01'"));

    /* The hourly profile is every counter record of the day, by Seoul
     * hour: the 12 unattributed boardings are at 07:40. */
    {
        long long sum = 0;

        assert_int_equal(jlen(jpath(root, "hourly")), 24);
        for (int h = 0; h < 24; h++)
            sum += jint(jget(jat(jpath(root, "hourly"), h), "boarded"));
        assert_int_equal(sum, boarded);
        assert_int_equal(jint(jpath(root, "hourly.4.boarded")), 0);
        assert_int_equal(jint(jpath(root, "hourly.7.boarded")),
                         q("SELECT sum(boarded) FROM passenger_counts WHERE "
                           "extract(hour FROM coalesce(door_close, t) AT "
                           "TIME ZONE 'Asia/Seoul') = 7"));
    }
    free_result(&r);
}

static void test_options_change_flags(void **state)
{
    struct result r = report("--format", "json", "-o", "late_s=0", "-o",
                             "crowded_pct=100", "daily", "--date", DAY, END);

    assert_int_equal(r.rc, 0);
    /* Every run that started did so at least 60 s late. */
    assert_int_equal(jint(jpath(r.out, "summary.runs_late")), 50);
    assert_int_equal(jint(jpath(r.out, "summary.runs_crowded")), 0);
    assert_int_equal(jint(jpath(r.out, "params.late_s")), 0);
    free_result(&r);

    r = report("--format", "json", "-o", "target_riders=1000", "daily",
               "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_int_equal(jint(jpath(r.out, "summary.target")), 1000);
    free_result(&r);
}

static void test_text(void **state)
{
    struct result r = report("daily", "--date", DAY, END);
    char want[128], n[32];
    long long boarded = q("SELECT boarded FROM daily_ridership");

    assert_int_equal(r.rc, 0);
    snprintf(n, sizeof n, "%lld,%03lld", boarded / 1000, boarded % 1000);
    snprintf(want, sizeof want, "이용객(승차): %s / 목표 1,500 (%.1f %%)", n,
             round(boarded * 1000.0 / 1500) / 10);
    assert_non_null(strstr(r.out, want));
    assert_non_null(strstr(r.out, "결행 2,"));
    assert_non_null(strstr(r.out, "검단산단 관리사무소"));
    /* Korean columns align: the route table's rows are as wide as its
     * header's dashes (Hangul counted as 2 columns), on every line. */
    {
        const char *h = strstr(r.out, "노선·방향별\n");
        const char *dash, *row;
        size_t wdash;

        assert_non_null(h);
        dash = strchr(strchr(strchr(h, '\n') + 1, '\n') + 1, '\n') + 1;
        wdash = strcspn(dash, "\n");
        row = dash + wdash + 1;
        for (int i = 0; i < 4; i++) {
            char line[512];
            size_t len = strcspn(row, "\n");

            snprintf(line, sizeof line, "%.*s", (int)len, row);
            /* the last column is right-aligned, so each row ends where the
             * dashes end */
            assert_int_equal(report_text_width(line), wdash);
            row += len + 1;
        }
    }
    free_result(&r);

    r = report("--lang", "en", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "missed 2,"));
    assert_non_null(strstr(r.out, "Geomdan Industrial Complex, west gate"));
    free_result(&r);
}

static void test_csv(void **state)
{
    static char *f[64][20];
    static int nf[64];
    struct result r = report("--format", "csv", "daily", "--date", DAY, END);
    int n, st, trip;

    assert_int_equal(r.rc, 0);
    n = csv_parse(r.out, f, nf, 64);
    assert_int_equal(n, 53); /* header + 52 runs */
    for (int i = 1; i < n; i++)
        assert_int_equal(nf[i], nf[0]);
    st = csv_col(f, nf[0], "status");
    trip = csv_col(f, nf[0], "trip_id");
    for (int i = 1; i < n; i++)
        if (strcmp(f[i][trip], "R2-OUT-2012") == 0)
            assert_string_equal(f[i][st], "missed");
    csv_free(f, nf, n);
    free_result(&r);

    r = report("--format", "csv", "--table", "summary", "daily", "--date", DAY,
               END);
    assert_int_equal(r.rc, 0);
    n = csv_parse(r.out, f, nf, 64);
    assert_int_equal(n, 2);
    assert_int_equal(atoll(f[1][csv_col(f, nf[0], "boarded")]),
                     q("SELECT boarded FROM daily_ridership"));
    assert_int_equal(atoi(f[1][csv_col(f, nf[0], "runs_missed")]), 2);
    csv_free(f, nf, n);
    free_result(&r);

    /* English stop names hold commas: quoted, and read back whole. */
    r = report("--format", "csv", "--table", "stops", "--lang", "en", "daily",
               "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "\"Geomam Station (AREX, Incheon Line 2)\""));
    n = csv_parse(r.out, f, nf, 64);
    assert_int_equal(n, 14);
    assert_string_equal(f[1][1], "Geomam Station (AREX, Incheon Line 2)");
    csv_free(f, nf, n);
    free_result(&r);
}

static void test_range(void **state)
{
    struct result r = report("--format", "json", "range", "--from",
                             "2026-03-08", "--to", "2026-03-12", END);

    assert_int_equal(r.rc, 0);
    assert_int_equal(jint(jpath(r.out, "summary.days")), 5);
    assert_int_equal(jint(jpath(r.out, "summary.days_built")), 1);
    assert_int_equal(jint(jpath(r.out, "summary.days_below_target")), 1);
    assert_int_equal(jlen(jpath(r.out, "days")), 5);
    assert_int_equal(jint(jpath(r.out, "days.2.boarded")),
                     q("SELECT boarded FROM daily_ridership"));
    assert_string_equal(jpath(r.out, "below_target"), "[\"" DAY "\"]}\n");
    free_result(&r);

    r = report("range", "--from", "2026-03-12", "--to", "2026-03-08", END);
    assert_int_equal(r.rc, 2);
    free_result(&r);
    r = report("range", "--from", "2026-04-01", "--to", "2026-04-30", END);
    assert_int_equal(r.rc, 3);
    free_result(&r);
}

static void test_exit_codes(void **state)
{
    struct result r = report("daily", "--date", "2026-02-30", END);
    char *argv[8];
    char out[1024], err[1024];

    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "2026-02-30"));
    assert_string_equal(r.out, "");
    free_result(&r);

    r = report("daily", "--date", "yesterday", END);
    assert_int_equal(r.rc, 2);
    free_result(&r);
    r = report("weekly", END);
    assert_int_equal(r.rc, 2);
    free_result(&r);
    r = report("--format", "pdf", "daily", END);
    assert_int_equal(r.rc, 2);
    free_result(&r);

    /* Raw counts but no build: say how to build it. */
    r = report("daily", "--date", "2026-03-11", END);
    assert_int_equal(r.rc, 3);
    assert_non_null(strstr(r.err, "shuttle-backend --rebuild 2026-03-11"));
    free_result(&r);
    /* Nothing at all. */
    r = report("daily", "--date", "2026-03-12", END);
    assert_int_equal(r.rc, 3);
    assert_non_null(strstr(r.err, "no data for 2026-03-12"));
    free_result(&r);

    /* No database: exit 1, the target named, the password not. */
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(err, sizeof err, "%s/err", tmp);
    argv[0] = (char *)harness_bin("shuttle-report");
    argv[1] = "-o";
    argv[2] = "database=host=/nonexistent port=1 dbname=shuttle "
              "password=hunter2";
    argv[3] = "daily";
    argv[4] = "--date";
    argv[5] = DAY;
    argv[6] = NULL;
    assert_int_equal(harness_run(argv, out, err), 1);
    r.out = harness_read_file(out);
    r.err = harness_read_file(err);
    assert_non_null(strstr(r.err, "host=/nonexistent"));
    assert_null(strstr(r.err, "hunter2"));
    free_result(&r);
}

/* ---- the HTML in a real browser ------------------------------------ */

static const char *find_chromium(void)
{
    static char path[1024];
    const char *names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *env = getenv("PATH");

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *p = env ? env : "/usr/bin:/bin";

        while (*p) {
            size_t n = strcspn(p, ":");

            snprintf(path, sizeof path, "%.*s/%s", (int)n, p, names[i]);
            if (access(path, X_OK) == 0)
                return path;
            p += n + (p[n] == ':');
        }
    }
    return NULL;
}

/* Render FILE in headless Chromium: the DOM it built (the caller's to
 * free), and a screenshot at PNG. */
static char *browse(const char *chromium, const char *file, const char *png)
{
    char url[1100], prof[1100], shot[1100], out[1100], err[1100];
    char *base[] = {(char *)chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    prof,
                    NULL,
                    "--window-size=1200,1600",
                    url,
                    NULL};

    snprintf(url, sizeof url, "file://%s", file);
    snprintf(prof, sizeof prof, "--user-data-dir=%s/chromium", tmp);
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    snprintf(out, sizeof out, "%s/chromium.out", tmp);
    snprintf(err, sizeof err, "%s/chromium.err", tmp);
    base[9] = shot;
    assert_int_equal(harness_run(base, out, err), 0);
    base[9] = "--dump-dom";
    assert_int_equal(harness_run(base, out, err), 0);
    return harness_read_file(out);
}

/* The data-value of the element with id ID in DOM. */
static const char *dom_value(const char *dom, const char *id, char *out,
                             size_t outlen)
{
    char pat[128];
    const char *p, *v;

    snprintf(pat, sizeof pat, "id=\"%s\"", id);
    p = strstr(dom, pat);
    assert_non_null(p);
    v = strstr(p, "data-value=\"");
    assert_non_null(v);
    assert_true(v < strchr(p, '>')); /* in the same tag */
    v += strlen("data-value=\"");
    snprintf(out, outlen, "%.*s", (int)strcspn(v, "\""), v);
    return out;
}

static void save(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_html_in_browser(void **state)
{
    static const char *const ids[][2] = {
        {"boarded", "summary.boarded"},
        {"target", "summary.target"},
        {"pct-of-target", "summary.pct_of_target"},
        {"runs-scheduled", "summary.runs_scheduled"},
        {"runs-operated", "summary.runs_operated"},
        {"runs-partial", "summary.runs_partial"},
        {"runs-missed", "summary.runs_missed"},
        {"runs-late", "summary.runs_late"},
        {"runs-crowded", "summary.runs_crowded"},
        {"alighted", "summary.alighted"},
        {"unattributed-boarded", "summary.unattributed_boarded"},
        {"runs-counter-suspect", "summary.runs_counter_suspect"},
    };
    const char *chromium = find_chromium();
    struct result json, html;
    char file[1024], png[1024], a[64], b[64], pat[256];
    char *dom;
    const char *runs;
    int bars = 0;

    if (chromium == NULL) {
        fprintf(stderr, "chromium not installed (apt-get install chromium):"
                        " skipping the browser check\n");
        skip();
    }
    for (int lang = 0; lang < 2; lang++) {
        const char *l = lang ? "en" : "ko";

        json = report("--lang", l, "--format", "json", "daily", "--date", DAY,
                      END);
        html = report("--lang", l, "--format", "html", "daily", "--date", DAY,
                      END);
        assert_int_equal(json.rc, 0);
        assert_int_equal(html.rc, 0);
        /* Self-contained: nothing is fetched from anywhere. */
        assert_null(strstr(html.out, "src="));
        assert_null(strstr(html.out, "<link"));
        snprintf(file, sizeof file, "%s/daily-%s.html", tmp, l);
        snprintf(png, sizeof png, "%s/daily-%s.png", tmp, l);
        save(file, html.out);
        dom = browse(chromium, file, png);
        {
            struct stat sb;

            assert_int_equal(stat(png, &sb), 0);
            assert_true(sb.st_size > 20000); /* a page, not a blank */
        }
        fprintf(stderr, "screenshot: %s\n", png);

        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
            assert_string_equal(dom_value(dom, ids[i][0], a, sizeof a),
                                jtext(jpath(json.out, ids[i][1]), b, sizeof b));
        /* One bar per run, its height the JSON's peak load. */
        runs = jpath(json.out, "runs");
        for (int i = 0; i < jlen(runs); i++) {
            const char *run = jat(runs, i);
            char trip[64];

            jtext(jget(run, "trip_id"), trip, sizeof trip);
            jtext(jget(run, "peak_load"), b, sizeof b);
            if (strcmp(b, "null") == 0)
                continue;
            snprintf(pat, sizeof pat, "data-trip=%s data-value=\"%s\"", trip,
                     b);
            assert_non_null(strstr(dom, pat));
            bars++;
        }
        assert_int_equal(bars, 50);
        bars = 0;
        for (int h = 0; h < 24; h++) {
            snprintf(pat, sizeof pat, "data-hour=\"%d\" data-value=\"%lld\"", h,
                     jint(jget(jat(jpath(json.out, "hourly"), h), "boarded")));
            assert_non_null(strstr(dom, pat));
        }
        assert_non_null(strstr(dom, lang ? "seats" : "좌석"));
        free(dom);
        free_result(&json);
        free_result(&html);
    }

    json = report("--format", "json", "range", "--from", "2026-03-01", "--to",
                  "2026-03-31", END);
    html = report("--format", "html", "range", "--from", "2026-03-01", "--to",
                  "2026-03-31", END);
    assert_int_equal(html.rc, 0);
    snprintf(file, sizeof file, "%s/range.html", tmp);
    snprintf(png, sizeof png, "%s/range.png", tmp);
    save(file, html.out);
    dom = browse(chromium, file, png);
    assert_string_equal(
        dom_value(dom, "days-built", a, sizeof a),
        jtext(jpath(json.out, "summary.days_built"), b, sizeof b));
    assert_string_equal(
        dom_value(dom, "boarded-total", a, sizeof a),
        jtext(jpath(json.out, "summary.boarded_total"), b, sizeof b));
    assert_string_equal(
        dom_value(dom, "boarded-mean", a, sizeof a),
        jtext(jpath(json.out, "summary.boarded_mean"), b, sizeof b));
    assert_string_equal(
        dom_value(dom, "days-below-target", a, sizeof a),
        jtext(jpath(json.out, "summary.days_below_target"), b, sizeof b));
    snprintf(pat, sizeof pat, "data-date=\"" DAY "\" data-value=\"%lld\"",
             jint(jpath(json.out, "days.9.boarded")));
    assert_non_null(strstr(dom, pat));
    fprintf(stderr, "screenshot: %s\n", png);
    free(dom);
    free_result(&json);
    free_result(&html);
}

/* ---- prediction accuracy (eta_samples) ------------------------------ */

/* Before any sample: every format says there is none. */
static void test_eta_none(void **state)
{
    struct result r;

    assert_int_equal(q("SELECT count(*) FROM eta_samples"), 0);
    r = report("--lang", "en", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Prediction accuracy\n"));
    assert_non_null(strstr(r.out, "  (no predictions recorded)\n"));
    free_result(&r);
    r = report("daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "  (기록된 예측 없음)\n"));
    free_result(&r);
    r = report("--format", "json", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(jpath(r.out, "prediction_accuracy"));
    assert_int_equal(jlen(jpath(r.out, "prediction_accuracy")), 0);
    free_result(&r);
    r = report("--format", "html", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "<p id=\"eta-none\">"));
    assert_null(strstr(r.out, "id=\"eta\""));
    free_result(&r);
}

/* Known samples. At 5 min, errors (actual - predicted) of +10, -20, +30
 * and -100 s: MAE 40.0; p90 of |error| by percentile_cont is
 * 30 + 0.7 * (100 - 30) = 79.0 (percentile_disc would give 100, the p90 of
 * the signed errors 24.0); bias -20.0 (+20.0 with the sign reversed);
 * 2 of 4 accurate, 3 of 4 covered. At 1 min one sample of +5 s, accurate,
 * not covered. A sample of the day before must not count. */
static const char eta_sql[] =
    "INSERT INTO eta_samples SELECT sd::date, 'bus01', 'T' || k, 'R1',"
    " 'S' || k, k, h, p - make_interval(secs => h), p,"
    " p - interval '60 s', p + interval '60 s', p + make_interval(secs => e),"
    " acc, cov FROM (VALUES"
    " ('" DAY "', 1, 300, 10.0, true, true),"
    " ('" DAY "', 2, 300, -20.0, true, true),"
    " ('" DAY "', 3, 300, 30.0, false, true),"
    " ('" DAY "', 4, 300, -100.0, false, false),"
    " ('" DAY "', 5, 60, 5.0, true, false),"
    " ('2026-03-09', 1, 300, 1000.0, false, false))"
    " v(sd, k, h, e, acc, cov), LATERAL (SELECT (sd::date + time '08:00'"
    " + make_interval(mins => k)) AT TIME ZONE 'Asia/Seoul' AS p) x";

static void expect_eta_json(const char *e, int horizon, int samples,
                            const char *mae, const char *p90, const char *bias,
                            int accurate, const char *acc_pct, int covered,
                            const char *cov_pct)
{
    char b[64];

    assert_non_null(e);
    assert_int_equal(jint(jget(e, "horizon_s")), horizon);
    assert_int_equal(jint(jget(e, "samples")), samples);
    assert_string_equal(jtext(jget(e, "mae_s"), b, sizeof b), mae);
    assert_string_equal(jtext(jget(e, "p90_s"), b, sizeof b), p90);
    assert_string_equal(jtext(jget(e, "bias_s"), b, sizeof b), bias);
    assert_int_equal(jint(jget(e, "accurate")), accurate);
    assert_string_equal(jtext(jget(e, "accuracy_pct"), b, sizeof b), acc_pct);
    assert_int_equal(jint(jget(e, "covered")), covered);
    assert_string_equal(jtext(jget(e, "coverage_pct"), b, sizeof b), cov_pct);
}

static void test_eta(void **state)
{
    struct result r;
    const char *a;

    assert_int_equal(harness_pg_exec(pg, eta_sql), 0);
    assert_int_equal(q("SELECT count(*) FROM eta_samples"), 6);

    r = report("--format", "json", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(jvalue(r.out));
    a = jpath(r.out, "prediction_accuracy");
    assert_int_equal(jlen(a), 2);
    /* ordered by horizon */
    expect_eta_json(jat(a, 0), 60, 1, "5.0", "5.0", "5.0", 1, "100.0", 0,
                    "0.0");
    expect_eta_json(jat(a, 1), 300, 4, "40.0", "79.0", "-20.0", 2, "50.0", 3,
                    "75.0");
    free_result(&r);

    r = report("--lang", "en", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(
        r.out, "Prediction accuracy\n"
               "===================\n"
               "before arrival  samples  MAE (s)  p90 (s)  bias (s)  accurate"
               "  in 80 % interval\n"
               "--------------  -------  -------  -------  --------  --------"
               "  ----------------\n"
               "         1 min        1      5.0      5.0      +5.0   100.0 %"
               "             0.0 %\n"
               "         5 min        4     40.0     79.0     -20.0    50.0 %"
               "            75.0 %\n"));
    assert_null(strstr(r.out, "no predictions recorded"));
    free_result(&r);

    r = report("--format", "csv", "--table", "accuracy", "daily", "--date", DAY,
               END);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "\n60,1,5.0,5.0,5.0,1,100.0,0,0.0"));
    assert_non_null(strstr(r.out, "\n300,4,40.0,79.0,-20.0,2,50.0,3,75.0"));
    free_result(&r);

    /* range: the 5 min figures per day, the day before's sample apart */
    r = report("--format", "json", "range", "--from", "2026-03-09", "--to", DAY,
               END);
    assert_int_equal(r.rc, 0);
    {
        char b[64];

        assert_int_equal(jint(jpath(r.out, "days.0.eta_samples")), 1);
        assert_string_equal(
            jtext(jpath(r.out, "days.0.eta_mae_s"), b, sizeof b), "1000.0");
        assert_int_equal(jint(jpath(r.out, "days.1.eta_samples")), 4);
        assert_string_equal(
            jtext(jpath(r.out, "days.1.eta_mae_s"), b, sizeof b), "40.0");
        assert_string_equal(
            jtext(jpath(r.out, "days.1.eta_accuracy_pct"), b, sizeof b),
            "50.0");
    }
    free_result(&r);

    r = report("--format", "html", "daily", "--date", DAY, END);
    assert_int_equal(r.rc, 0);
    assert_null(strstr(r.out, "eta-none"));
    assert_non_null(strstr(r.out, "<table id=\"eta\">"));
    assert_non_null(strstr(
        r.out, "<tr data-horizon=\"300\"><td>5분 전</td>"
               "<td class=\"n\" data-field=\"samples\">4</td>"
               "<td class=\"n\" data-field=\"mae_s\" data-value=\"40.0\">"
               "40.0</td>"
               "<td class=\"n\" data-field=\"p90_s\" data-value=\"79.0\">"
               "79.0</td>"
               "<td class=\"n\" data-field=\"bias_s\" data-value=\"-20.0\">"
               "-20.0</td>"
               "<td class=\"n\" data-field=\"accuracy_pct\" "
               "data-value=\"50.0\">50.0</td>"
               "<td class=\"n\" data-field=\"coverage_pct\" "
               "data-value=\"75.0\">75.0</td></tr>"));
    assert_non_null(
        strstr(r.out, "<tr data-horizon=\"60\"><td>1분 전</td>"
                      "<td class=\"n\" data-field=\"samples\">1</td>"
                      "<td class=\"n\" data-field=\"mae_s\" data-value=\"5.0\">"
                      "5.0</td>"));
    free_result(&r);
}

/* Grants of 007: a login in shuttle_read reads eta_samples and cannot
 * write it; shuttle_live appends to it and cannot change a row. SET ROLE
 * checks privileges as that role would on its own connection. */
static void test_eta_grants(void **state)
{
    assert_int_equal(harness_pg_exec(pg, "CREATE ROLE report_reader LOGIN"
                                         " IN ROLE shuttle_read"),
                     0);
    assert_int_equal(q("SET ROLE report_reader;"
                       " SELECT count(*) FROM eta_samples"),
                     6);
    fprintf(stderr, "two permission errors expected:\n");
    assert_int_not_equal(
        harness_pg_exec(pg, "SET ROLE report_reader;"
                            " INSERT INTO eta_samples SELECT * FROM eta_samples"
                            " WHERE false"),
        0);
    assert_int_not_equal(harness_pg_exec(pg, "SET ROLE shuttle_live;"
                                             " UPDATE eta_samples"
                                             " SET covered = true"),
                         0);
    assert_int_equal(
        harness_pg_exec(pg, "SET ROLE shuttle_live;"
                            " INSERT INTO eta_samples SELECT * FROM eta_samples"
                            " WHERE false"),
        0);
    assert_int_equal(q("SELECT count(*) FROM eta_samples WHERE covered"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_options_change_flags),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_eta_none),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_eta_grants),
        cmocka_unit_test(test_html_in_browser),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
