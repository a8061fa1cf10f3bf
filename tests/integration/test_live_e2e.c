/* shuttle-live's acceptance through the whole real path: a simulated
 * morning (shuttle-sim into 6 gpsd and 6 shuttle-onboard, mosquitto,
 * shuttle-backend, PostgreSQL) with shuttle-live on a wall clock that runs
 * at the simulator's speed (fake_clock.c). At sampled moments its
 * /debug/predictions are held against the simulator's truth: accuracy by
 * horizon, no stop already passed shown ahead, a stale bus shown as
 * schedule, a missed trip CANCELED, a late block's next trip inheriting the
 * lateness, a bus in layover leaving no earlier than scheduled. Mid-morning
 * shuttle-live is killed with SIGKILL: its predictions must be back within
 * 10 s of the restart, and ingest must not have noticed. All morning its
 * GTFS-Realtime feed is fetched every 100 ms (9 s simulated) and held to
 * the validator's rules (live_gtfsrt_check), the missed trip and the late
 * bus must become Alerts, and every tenth fetch is decoded at the end by
 * two real clients (npm's gtfs-realtime-bindings and protoc --decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sys/stat.h>

#include "gtfs-realtime.pb-c.h"
#include "harness.h"
#include "itest.h"
#include "itest_fleet.h"
#include "live_gtfsrt_check.h"
#include "live_shapedb.h"
#include "trips_db.h"

#define NBUS ITEST_FLEET_NBUS
/* Simulated seconds per real second. 90x keeps the morning under 90 s of
 * wall time; shuttle-live's 1 s tick is then 90 simulated seconds, which
 * the stale and missed checks below allow for (LE_TICK_S). */
#define LE_SPEED 90
#define LE_TICK_S LE_SPEED
#define LE_START "06:20"
#define LE_END "08:30"
#define LE_START_S (6 * 3600 + 20 * 60)

/* The disturbances, each on a bus of its own. */
/* BLK3's first trip of the morning: its bus is switched on only for the
 * next one (07:15), so nobody is at the terminal for it. (A bus that
 * waits at the terminal through a trip it skips looks, while it waits,
 * exactly like a late one; see LE_LATE_TRIP.) */
#define LE_MISS_TRIP "R1-IN-0630"
#define LE_MISS_DEP_S (6 * 3600 + 30 * 60)
/* CANCELED from 10 min after its departure, or, when a bus waited at the
 * terminal meanwhile, once that bus left for the trip it then drove
 * (bus-1 for R1-IN-0645 at 06:45: a bus arriving at a terminal takes the
 * trip due there first, and is moved to the later one when it leaves at
 * that one's time). */
#define LE_MISS_FROM_S (6 * 3600 + 45 * 60)
/* BLK1 (bus-1) leaves 28 min late: late enough that it reaches the end
 * of its trip (21 min) less than the minimum layover before its block's
 * next trip is due (45 min after). */
#define LE_LATE_TRIP "R1-IN-0730"
#define LE_LATE_ARG LE_LATE_TRIP ":28"
#define LE_LATE_NEXT "R1-IN-0815" /* BLK1's trip after it */
#define LE_STALE_VID "bus-4"
#define LE_STALE_TRIP "R2-IN-0726" /* 07:26-07:49 on BLK4 */
#define LE_DROPOUT "4:07:30:14"    /* no fix 07:30:00-07:44:00 */
#define LE_DROP_T0_S (7 * 3600 + 30 * 60)
#define LE_DROP_T1_S (7 * 3600 + 44 * 60)
/* Mid-morning, after the dropout, with the late bus on its trip. */
#define LE_KILL_S (8 * 3600 + 5 * 60)

/* A stop whose true departure lies this far behind shuttle-live's clock
 * has been passed: the fix's way through gpsd and the broker (tens of
 * milliseconds, seconds simulated) and the tracker's leaving the stop
 * radius take less. */
#define LE_PASSED_MARGIN_S 120

#define LE_BODY_MAX (1 << 18)

static struct itest_fleet fleet;
static int live_port, backend_port;
static char body[LE_BODY_MAX];

static int64_t day0_ms; /* the simulated day's 00:00 in Seoul */

/* ---- HTTP --------------------------------------------------------------- */

/* GET PATH over HTTP/1.0 from 127.0.0.1:PORT: the status (-1 when nothing
 * answered), the body in `body`. */
static int le_get(int port, const char *path)
{
    return itest_http_get(port, path, body, sizeof body);
}

/* The sum of every sample of /metrics series NAME (any labels) at PORT;
 * -1 when the page or the series is missing. */
static double le_metric_sum(int port, const char *name)
{
    size_t n = strlen(name);
    double sum = -1;

    if (le_get(port, "/metrics") != 200)
        return -1;
    for (const char *p = body; p && *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *v;

        if (strncmp(p, name, n) != 0 || (p[n] != ' ' && p[n] != '{'))
            continue;
        v = p[n] == ' ' ? p + n : strchr(p, '}');
        if (!v)
            continue;
        sum = (sum < 0 ? 0 : sum) + strtod(v + 1, NULL);
    }
    return sum;
}

/* ---- the truth and the timetable --------------------------------------- */

struct le_stop {
    int seq;
    int64_t arr_ms, dep_ms;             /* truth; -1 outside the window */
    int64_t sched_arr_ms, sched_dep_ms; /* timetable */
};

struct le_trip {
    char id[32], vehicle[16];
    struct le_stop stop[16];
    int n;
};

static struct le_trip trips[64];
static int ntrips;

static struct le_trip *le_trip(const char *id, int add)
{
    for (int i = 0; i < ntrips; i++)
        if (strcmp(trips[i].id, id) == 0)
            return &trips[i];
    if (!add || ntrips == 64)
        return NULL;
    snprintf(trips[ntrips].id, sizeof trips[ntrips].id, "%s", id);
    return &trips[ntrips++];
}

static struct le_stop *le_stop(struct le_trip *t, int seq, int add)
{
    for (int i = 0; t && i < t->n; i++)
        if (t->stop[i].seq == seq)
            return &t->stop[i];
    if (!t || !add || t->n == 16)
        return NULL;
    t->stop[t->n].seq = seq;
    t->stop[t->n].arr_ms = t->stop[t->n].dep_ms = -1;
    return &t->stop[t->n++];
}

/* "HH:MM:SS" of the service day in ms since day0. */
static int64_t le_hms(const char *s)
{
    int h, m, sec;

    if (sscanf(s, "%d:%d:%d", &h, &m, &sec) != 3)
        fail_msg("bad GTFS time %s", s);
    return ((int64_t)h * 3600 + m * 60 + sec) * 1000;
}

/* "2025-06-02T21:30:05.250Z" in Unix ms. */
static int64_t le_iso(const char *s)
{
    struct tm tm;
    double sec;

    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%dT%d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &sec) != 6)
        fail_msg("bad truth time %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + (int64_t)llround(sec * 1000);
}

/* The CSV field I of LINE (no quotes, no commas inside: the feed's and
 * the truth's ids are plain) into OUT. */
static void le_field(const char *line, int i, char *out, size_t len)
{
    const char *p = line;
    size_t n;

    while (i-- > 0 && p)
        p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    if (!p)
        fail_msg("short line: %s", line);
    if (*p == '"')
        p++;
    n = strcspn(p, ",\"\r\n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
}

static void le_load_timetable(void)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char path[1024], line[512], f[5][32];
    FILE *fp;

    snprintf(path, sizeof path, "%s/deploy/gtfs/stop_times.txt",
             src ? src : "../..");
    fp = fopen(path, "r");
    assert_non_null(fp);
    /* The columns this reads, in this order. */
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(strstr(line, "trip_id,arrival_time,departure_time,"
                                 "stop_id,stop_sequence"));
    while (fgets(line, sizeof line, fp)) {
        struct le_stop *s;

        for (int i = 0; i < 5; i++)
            le_field(line, i, f[i], sizeof f[i]);
        s = le_stop(le_trip(f[0], 1), atoi(f[4]), 1);
        assert_non_null(s);
        s->sched_arr_ms = day0_ms + le_hms(f[1]);
        s->sched_dep_ms = day0_ms + le_hms(f[2]);
    }
    fclose(fp);
}

static void le_load_truth(const char *path)
{
    char line[512], f[9][40];
    FILE *fp = fopen(path, "r");
    int rows = 0;

    assert_non_null(fp);
    /* vehicle,trip_id,route_id,direction_id,block_id,stop_id,
     * stop_sequence,arrival,departure,... */
    assert_non_null(fgets(line, sizeof line, fp));
    while (fgets(line, sizeof line, fp)) {
        struct le_trip *t;
        struct le_stop *s;

        for (int i = 0; i < 9; i++)
            le_field(line, i, f[i], sizeof f[i]);
        t = le_trip(f[1], 0);
        s = le_stop(t, atoi(f[6]), 0);
        if (!s)
            fail_msg("truth names a stop the timetable lacks: %s", line);
        snprintf(t->vehicle, sizeof t->vehicle, "%.15s", f[0]);
        s->arr_ms = le_iso(f[7]);
        s->dep_ms = le_iso(f[8]);
        rows++;
    }
    fclose(fp);
    assert_true(rows > 50);
}

/* Whether VID is on a trip at NOW per the truth (left its first stop,
 * not yet at its last), and which. */
static const struct le_trip *le_on_trip(const char *vid, int64_t now)
{
    for (int i = 0; i < ntrips; i++) {
        const struct le_trip *t = &trips[i];

        if (strcmp(t->vehicle, vid) == 0 && t->n > 1 &&
            t->stop[0].dep_ms >= 0 && t->stop[t->n - 1].arr_ms >= 0 &&
            t->stop[0].dep_ms <= now && now < t->stop[t->n - 1].arr_ms)
            return t;
    }
    return NULL;
}

/* ---- rows of /debug/predictions ----------------------------------------- */

struct le_row {
    char trip[32], stop[16], kind[16], vehicle[16], vstatus[16];
    int seq;
    int64_t arr_ms, dep_ms;
};

/* Parse the next TSV row at *P (advanced past it); 0 at the end. Comment
 * lines are skipped. */
static int le_next_row(const char **p, struct le_row *r)
{
    while (**p) {
        const char *line = *p, *nl = strchr(line, '\n');
        long long arr, dep;

        *p = nl ? nl + 1 : line + strlen(line);
        if (*line == '#' || *line == '\n')
            continue;
        if (sscanf(line,
                   "%31[^\t]\t%d\t%15[^\t]\t%15[^\t]\t%lld\t%lld\t%*d\t%*d\t%*d"
                   "\t%15[^\t]\t%15[^\t\n]",
                   r->trip, &r->seq, r->stop, r->kind, &arr, &dep, r->vehicle,
                   r->vstatus) != 8)
            fail_msg("bad predictions row: %.200s", line);
        r->arr_ms = arr * 1000;
        r->dep_ms = dep * 1000;
        return 1;
    }
    return 0;
}

/* One sampled /debug/predictions and shuttle-live's clock when it was
 * asked. */
struct le_sample {
    int64_t now_ms;
    char *text, *vehicles; /* /debug/predictions, /debug/vehicles */
};

static struct le_sample samples[1024];
static int nsamples;

static void le_sample(void)
{
    int64_t a = itest_fleet_now(&fleet), b;

    if (nsamples == 1024 || le_get(live_port, "/debug/predictions") != 200)
        return;
    b = itest_fleet_now(&fleet);
    samples[nsamples].now_ms = a + (b - a) / 2;
    samples[nsamples].text = strdup(body);
    assert_non_null(samples[nsamples].text);
    le_get(live_port, "/debug/vehicles");
    samples[nsamples].vehicles = strdup(body);
    assert_non_null(samples[nsamples].vehicles);
    nsamples++;
}

/* ---- the processes ------------------------------------------------------- */

/* shuttle-live on the fake clock; the same clock after a restart. */
static struct harness_proc *le_live_start(void)
{
    static const char *const opts[] = {"rebuild_interval_s=0", NULL};
    static int runs;
    char log[1100];

    snprintf(log, sizeof log, "%s/live-%d.log", fleet.work, ++runs);
    return itest_fleet_live_start(&fleet, live_port, opts, log);
}

static void le_setup(void)
{
    char hp[32];
    const char *bopts[] = {"rebuild_interval_s=0", hp, NULL};

    live_port = harness_free_port();
    backend_port = harness_free_port();
    snprintf(hp, sizeof hp, "http_port=%d", backend_port);
    assert_int_equal(itest_fleet_start(&fleet, "live-e2e", bopts), 0);
}

/* Start the simulator; once its clock starts, shuttle-live's fake clock is
 * set to it. Returns the simulator. */
static struct harness_proc *le_sim_start(const char *date, const char *truth)
{
    static const char *const extra[] = {"--miss",    LE_MISS_TRIP, "--late",
                                        LE_LATE_ARG, "--dropout",  LE_DROPOUT,
                                        NULL};
    char log[1100];
    const struct itest_fleet_sim s = {.date = date,
                                      .seed = "3",
                                      .speed = LE_SPEED,
                                      .start = LE_START,
                                      .end = LE_END,
                                      .truth = truth,
                                      .log = log,
                                      .extra = extra};
    struct harness_proc *sim;

    snprintf(log, sizeof log, "%s/sim.log", fleet.work);
    sim =
        itest_fleet_sim_start(&fleet, &s, day0_ms + (int64_t)LE_START_S * 1000);
    if (!sim)
        fail_msg("shuttle-sim did not start");
    return sim;
}

/* ---- checks over the samples --------------------------------------------- */

struct le_acc {
    double err[8192];
    int n;
};

static int le_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double le_median(struct le_acc *a)
{
    if (a->n == 0)
        return NAN;
    qsort(a->err, (size_t)a->n, sizeof *a->err, le_cmp_double);
    return a->n % 2 ? a->err[a->n / 2]
                    : (a->err[a->n / 2 - 1] + a->err[a->n / 2]) / 2;
}

static double le_mean(const struct le_acc *a)
{
    double s = 0;

    for (int i = 0; i < a->n; i++)
        s += a->err[i];
    return a->n ? s / a->n : NAN;
}

static void le_add(struct le_acc *a, double v)
{
    if (a->n < (int)(sizeof a->err / sizeof *a->err))
        a->err[a->n++] = v;
}

/* After the restart at real time KILL_REAL: the ms until every bus the
 * truth has on a trip has PREDICTED rows naming it (-1: not in 30 s).
 * What is missing is printed each second. */
static int64_t le_wait_back(int64_t kill_real)
{
    int64_t shown = 0;

    for (;;) {
        int64_t t = itest_fleet_now(&fleet),
                waited = itest_wall_ms() - kill_real;
        char missing[128] = "";

        if (le_get(live_port, "/debug/predictions") != 200)
            snprintf(missing, sizeof missing, "(no answer)");
        for (int b = 0; b < NBUS && !missing[0]; b++) {
            char vid[16];
            const char *p = body;
            struct le_row r;
            int found = 0;

            snprintf(vid, sizeof vid, "bus-%d", b + 1);
            if (!le_on_trip(vid, t))
                continue;
            while (!found && le_next_row(&p, &r))
                found = strcmp(r.kind, "PREDICTED") == 0 &&
                        strcmp(r.vehicle, vid) == 0;
            if (!found)
                snprintf(missing + strlen(missing),
                         sizeof missing - strlen(missing), " %s", vid);
        }
        if (!missing[0])
            return waited;
        if (waited > 30000)
            return -1;
        if (waited - shown >= 1000) {
            shown = waited;
            print_message("%.1f s after the restart, no PREDICTED row for:%s\n",
                          (double)waited / 1000, missing);
            if (le_get(live_port, "/debug/vehicles") == 200)
                print_message("%s", body);
        }
        harness_sleep_ms(100);
    }
}

/* ------------------------------------------------ the published feed */

/* /gtfs-rt (trip updates, vehicle positions and alerts in one) is fetched
 * this often (real ms) and every LE_RT_KEEP-th fetch kept for the decoders.
 * The daemon's clock and ours agree to well within LE_RT_SKEW_MS. */
#define LE_RT_EVERY_MS 100
#define LE_RT_KEEP 10
#define LE_RT_SKEW_MS (5 * 1000LL)
static struct trips_feed rt_feed;
static struct live_shapedb rt_shapes;
static uint8_t *rt_prev;
static size_t rt_prevlen;
static int rt_fetched, rt_kept, rt_vehicles_max;
static bool rt_cancel_alert, rt_delay_alert;
static char rt_dir[1100];

/* The day's timetable and shapes as shuttle-live loads them: what the
 * validator's id, sequence and shape rules check against. */
static void le_rt_setup(const char *date)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(fleet.pg));
    const char *p[1] = {date};
    PGresult *st, *times;
    char err[256];

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    st = PQexec(c, trips_db_sql_stops);
    times = PQexecParams(c, trips_db_sql_stop_times, 1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(st), PGRES_TUPLES_OK);
    assert_int_equal(PQresultStatus(times), PGRES_TUPLES_OK);
    if (trips_db_feed_from_results(st, times, date, &rt_feed, err,
                                   sizeof err) != TRIPS_DB_OK)
        fail_msg("timetable of %s: %s", date, err);
    if (live_shapedb_query(c, date, &rt_feed, &rt_shapes, err, sizeof err) !=
        LIVE_SHAPEDB_OK)
        fail_msg("shapes of %s: %s", date, err);
    PQclear(st);
    PQclear(times);
    PQfinish(c);
    snprintf(rt_dir, sizeof rt_dir, "%s/gtfs-rt", fleet.work);
    assert_int_equal(mkdir(rt_dir, 0755), 0);
}

static void le_rt_save(const char *name, const void *buf, size_t len)
{
    char path[1200];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", rt_dir, name);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* What the feed says that the rules cannot: how many buses, and whether
 * the missed trip and the late bus became Alerts. */
static void le_rt_read(const uint8_t *buf, size_t len)
{
    TransitRealtime__FeedMessage *m =
        transit_realtime__feed_message__unpack(NULL, len, buf);
    int vehicles = 0;

    assert_non_null(m);
    for (size_t i = 0; i < m->n_entity; i++) {
        const char *id = m->entity[i]->id;

        vehicles += m->entity[i]->vehicle != NULL;
        if (!m->entity[i]->alert)
            continue;
        if (strcmp(id, "alert:cancel:" LE_MISS_TRIP) == 0)
            rt_cancel_alert = true;
        if (strcmp(id, "alert:delay:" LE_LATE_TRIP) == 0)
            rt_delay_alert = true;
    }
    if (vehicles > rt_vehicles_max)
        rt_vehicles_max = vehicles;
    transit_realtime__feed_message__free_unpacked(m, NULL);
}

/* One fetch of /gtfs-rt, held to the validator's rules against the one
 * before. Nothing while shuttle-live restarts or loads. */
static void le_rt_fetch(void)
{
    struct itest_http_reply r;
    struct live_gtfsrt_check_ctx cx;
    const char *rule;
    char err[512], name[32];

    if (itest_http(live_port, "GET", "/gtfs-rt", NULL, &r) != 200)
        return;
    memset(&cx, 0, sizeof cx);
    cx.feed = &rt_feed;
    cx.shapes = &rt_shapes.view;
    cx.prev = rt_prev;
    cx.prevlen = rt_prevlen;
    cx.now_ms = itest_fleet_now(&fleet) + LE_RT_SKEW_MS;
    rule =
        live_gtfsrt_check(&cx, (const uint8_t *)r.body, r.len, err, sizeof err);
    if (rule) {
        le_rt_save("broken.pb", r.body, r.len);
        if (rt_prev)
            le_rt_save("broken-prev.pb", rt_prev, rt_prevlen);
        fail_msg("fetch %d of /gtfs-rt breaks %s: %s (bytes in %s)",
                 rt_fetched + 1, rule, err, rt_dir);
    }
    le_rt_read((const uint8_t *)r.body, r.len);
    free(rt_prev);
    rt_prev = malloc(r.len ? r.len : 1);
    assert_non_null(rt_prev);
    memcpy(rt_prev, r.body, r.len);
    rt_prevlen = r.len;
    if (++rt_fetched % LE_RT_KEEP == 0) {
        snprintf(name, sizeof name, "%06d.pb", ++rt_kept);
        le_rt_save(name, r.body, r.len);
    }
}

static struct harness_proc *live;

static void test_live_e2e(void **state)
{
    /* 0-5, 5-10, 10-20, 20+ min ahead; <= 10 min; and the timetable's
     * error for the same stops at the same moments (what a predictor
     * that ignored the buses would score) */
    static struct le_acc hz[4], near, near_sched;
    static const char *const hz_name[4] = {"0-5 min", "5-10 min", "10-20 min",
                                           "20+ min"};
    char date[16], truth[1100];
    struct harness_proc *sim;
    int64_t kill_real = -1, back_ms = -1;
    int bad_passed = 0, stale_seen = 0, stale_bad = 0, miss_seen = 0,
        miss_bad = 0, late_seen = 0, late_bad = 0, layover_seen = 0,
        layover_bad = 0, rc;

    (void)state;
    day0_ms = itest_fleet_last_monday(date, sizeof date);
    le_setup();
    le_load_timetable();
    le_rt_setup(date);
    snprintf(truth, sizeof truth, "%s/truth.csv", fleet.work);
    sim = le_sim_start(date, truth);
    /* The simulator writes the whole truth before its clock starts. */
    le_load_truth(truth);
    live = le_live_start();
    assert_non_null(live);

    /* Sample every half second (40 simulated) while the morning runs;
     * kill -9 shuttle-live mid-morning and time its way back. */
    while (harness_alive(sim)) {
        int64_t now = itest_fleet_now(&fleet);

        if (kill_real < 0 && now >= day0_ms + LE_KILL_S * 1000LL) {
            assert_int_equal(harness_kill(live, SIGKILL), 0);
            assert_int_equal(harness_wait(live, 5000), 128 + SIGKILL);
            kill_real = itest_wall_ms();
            live = le_live_start();
            assert_non_null(live);
            back_ms = le_wait_back(kill_real);
            print_message("kill -9 at %02lld:%02lld simulated: predictions "
                          "for every bus on a trip %.2f s after the restart\n",
                          (long long)(LE_KILL_S / 3600),
                          (long long)(LE_KILL_S / 60 % 60),
                          back_ms >= 0 ? (double)back_ms / 1000 : -1.0);
            continue;
        }
        le_sample();
        for (int k = 0; k < 500 / LE_RT_EVERY_MS; k++) {
            le_rt_fetch();
            harness_sleep_ms(LE_RT_EVERY_MS);
        }
    }
    rc = harness_wait(sim, 5000);
    harness_log_tail(harness_proc_log(sim), 30);
    assert_int_equal(rc, 0);
    print_message("%d samples of /debug/predictions\n", nsamples);
    assert_true(nsamples >= 60);

    for (int si = 0; si < nsamples; si++) {
        const struct le_sample *s = &samples[si];
        const char *p = s->text;
        int64_t now = s->now_ms;
        int64_t late_last_arr = -1, late_next_dep = -1;
        int miss_rows = 0, miss_canceled = 0, stale_rows = 0, stale_sched = 0,
            stale_pred = 0;
        struct le_row r;
        bool stale_window =
            now >=
                day0_ms + (LE_DROP_T0_S + 90 + 2 * LE_TICK_S + 60) * 1000LL &&
            now < day0_ms + (LE_DROP_T1_S - 30) * 1000LL;
        bool miss_window =
            now >= day0_ms + (LE_MISS_FROM_S + 2 * LE_TICK_S + 60) * 1000LL;

        while (le_next_row(&p, &r)) {
            struct le_trip *t = le_trip(r.trip, 0);
            struct le_stop *st = le_stop(t, r.seq, 0);
            bool pred = strcmp(r.kind, "PREDICTED") == 0;

            if (!st)
                fail_msg("row of an unknown stop: %s %d", r.trip, r.seq);
            /* Accuracy: every PREDICTED arrival at a stop after the first
             * (the first's "arrival" is a layover's) the truth has ahead. */
            if (pred && st != &t->stop[0] && st->arr_ms > now) {
                double h = (double)(st->arr_ms - now) / 60000;
                double e = fabs((double)(r.arr_ms - st->arr_ms)) / 1000;

                le_add(&hz[h < 5 ? 0 : h < 10 ? 1 : h < 20 ? 2 : 3], e);
                if (h <= 10) {
                    le_add(&near, e);
                    le_add(&near_sched,
                           fabs((double)(st->sched_arr_ms - st->arr_ms)) /
                               1000);
                }
            }
            /* A stop passed in the truth is never PREDICTED ahead. */
            if (pred && st->dep_ms >= 0 &&
                st->dep_ms < now - LE_PASSED_MARGIN_S * 1000LL &&
                r.arr_ms > now) {
                if (bad_passed++ < 10)
                    fprintf(stderr,
                            "passed stop shown ahead: %s seq %d (%s) left "
                            "%lld s before the sample, predicted %lld s "
                            "after\n",
                            r.trip, r.seq, r.vehicle,
                            (long long)((now - st->dep_ms) / 1000),
                            (long long)((r.arr_ms - now) / 1000));
                if (bad_passed <= 10 && strstr(s->vehicles, r.vehicle)) {
                    const char *v = strstr(s->vehicles, r.vehicle);

                    fprintf(stderr, "  its state: %.*s\n",
                            (int)strcspn(v, "\n"), v);
                }
            }
            if (strcmp(r.trip, LE_MISS_TRIP) == 0) {
                miss_rows++;
                miss_canceled += strcmp(r.kind, "CANCELED") == 0;
            }
            if (strcmp(r.trip, LE_STALE_TRIP) == 0 &&
                strcmp(r.kind, "DEPARTED") != 0) {
                stale_rows++;
                stale_sched += strcmp(r.kind, "SCHEDULED") == 0;
            }
            if (pred && strcmp(r.vehicle, LE_STALE_VID) == 0)
                stale_pred++;
            if (pred && strcmp(r.trip, LE_LATE_TRIP) == 0 &&
                st == &t->stop[t->n - 1])
                late_last_arr = r.arr_ms;
            if (pred && strcmp(r.trip, LE_LATE_NEXT) == 0 && st == &t->stop[0])
                late_next_dep = r.dep_ms;
            /* A bus waiting at its terminal leaves no earlier than the
             * timetable says. */
            if (pred && strcmp(r.vstatus, "LAYOVER") == 0 &&
                st == &t->stop[0]) {
                layover_seen++;
                if (r.dep_ms < st->sched_dep_ms) {
                    if (layover_bad++ < 5)
                        fprintf(
                            stderr,
                            "%s in layover leaves %s %lld s before "
                            "its scheduled departure\n",
                            r.vehicle, r.trip,
                            (long long)((st->sched_dep_ms - r.dep_ms) / 1000));
                }
            }
        }
        if (stale_window) {
            stale_seen++;
            if (stale_rows == 0 || stale_sched != stale_rows ||
                stale_pred != 0) {
                if (stale_bad++ < 5)
                    fprintf(stderr,
                            "%lld s into the dropout: %s has %d rows ahead, "
                            "%d SCHEDULED; %d PREDICTED rows name %s\n",
                            (long long)((now - day0_ms) / 1000 - LE_DROP_T0_S),
                            LE_STALE_TRIP, stale_rows, stale_sched, stale_pred,
                            LE_STALE_VID);
            }
        }
        if (miss_window && now < day0_ms + (LE_MISS_DEP_S + 1800) * 1000LL) {
            miss_seen++;
            if (miss_rows == 0 || miss_canceled != miss_rows) {
                if (miss_bad++ < 5)
                    fprintf(stderr, "%s: %d rows, %d CANCELED\n", LE_MISS_TRIP,
                            miss_rows, miss_canceled);
            }
        }
        /* While the late bus drives its trip: the next trip of its block
         * leaves after its minimum rest, and later than scheduled. */
        {
            const struct le_trip *lt = le_trip(LE_LATE_TRIP, 0);
            const struct le_trip *nt = le_trip(LE_LATE_NEXT, 0);

            if (late_last_arr >= 0 && lt->stop[0].dep_ms >= 0 &&
                lt->stop[0].dep_ms + 60000 < now &&
                now < lt->stop[lt->n - 1].arr_ms) {
                late_seen++;
                if (late_next_dep < late_last_arr + 120000 ||
                    late_next_dep <= nt->stop[0].sched_dep_ms) {
                    if (late_bad++ < 5)
                        fprintf(stderr,
                                "%s ends at %lld, %s leaves at %lld "
                                "(scheduled %lld)\n",
                                LE_LATE_TRIP, (long long)late_last_arr / 1000,
                                LE_LATE_NEXT, (long long)late_next_dep / 1000,
                                (long long)nt->stop[0].sched_dep_ms / 1000);
                }
            }
        }
    }
    for (int i = 0; i < 4; i++)
        print_message("arrival error %-9s: %5d predictions, MAE %6.1f s, "
                      "median %6.1f s\n",
                      hz_name[i], hz[i].n, le_mean(&hz[i]), le_median(&hz[i]));
    print_message("within 10 min: %d predictions, median abs error %.1f s "
                  "(MAE %.1f s); the timetable for the same: median %.1f s "
                  "(MAE %.1f s)\n",
                  near.n, le_median(&near), le_mean(&near),
                  le_median(&near_sched), le_mean(&near_sched));
    print_message("stale samples %d (bad %d), missed %d (bad %d), late %d "
                  "(bad %d), layover rows %d (bad %d), passed stops shown "
                  "ahead %d\n",
                  stale_seen, stale_bad, miss_seen, miss_bad, late_seen,
                  late_bad, layover_seen, layover_bad, bad_passed);

    /* Ingest never noticed: one broker connection, nothing refused or
     * failed, and every record every onboard wrote is stored and acked. */
    {
        assert_int_equal(
            harness_wait_scalar(fleet.pg, itest_fleet_sql_holes, 0, 60000), 0);
        for (int i = 0; i < NBUS; i++) {
            char sql[512], needle[] = "stopped after ";
            const char *log = harness_proc_log(fleet.onboard[i]);
            long long written = -1, stored;
            FILE *fp;
            char line[512];

            /* Stopped (SIGTERM), it flushes and says how many records it
             * wrote; by then the backend has acked all of them. */
            assert_int_equal(harness_stop(fleet.onboard[i]), 0);
            fp = fopen(log, "r");
            assert_non_null(fp);
            while (fgets(line, sizeof line, fp))
                if (strstr(line, needle))
                    written = strtoll(strstr(line, needle) + strlen(needle),
                                      NULL, 10);
            fclose(fp);
            snprintf(sql, sizeof sql,
                     "SELECT (SELECT count(*) FROM positions WHERE vehicle_id"
                     " = 'bus-%d') + (SELECT count(*) FROM passenger_counts"
                     " WHERE vehicle_id = 'bus-%d')",
                     i + 1, i + 1);
            assert_int_equal(harness_wait_scalar(fleet.pg, sql, written, 20000),
                             0);
            stored = harness_pg_scalar(fleet.pg, sql);
            print_message("bus-%d: %lld records written, %lld stored\n", i + 1,
                          written, stored);
            assert_true(written > 1000);
        }
        assert_int_equal(
            harness_wait_scalar(fleet.pg, itest_fleet_sql_holes, 0, 20000), 0);
        assert_true(le_metric_sum(backend_port,
                                  "shuttle_backend_commit_failures_total") ==
                    0);
        assert_true(
            le_metric_sum(backend_port, "shuttle_backend_rejected_total") <= 0);
        assert_true(le_metric_sum(backend_port,
                                  "shuttle_backend_records_refused_total") <=
                    0);
        assert_true(
            le_metric_sum(backend_port, "shuttle_backend_mqtt_connected") == 1);
        assert_true(le_metric_sum(backend_port,
                                  "shuttle_backend_database_connected") == 1);
        assert_int_equal(itest_log_count(harness_proc_log(fleet.backend),
                                         "connected to broker"),
                         1);
        assert_int_equal(
            itest_log_count(harness_proc_log(fleet.backend), "lost broker"), 0);
    }

    assert_true(kill_real >= 0);
    assert_true(back_ms >= 0 && back_ms <= 10000);
    assert_true(near.n >= 100);
    /* Generous, and still false for a predictor that ignored where the
     * buses are (it would score the timetable's error). */
    assert_true(le_median(&near) < 180);
    assert_true(le_median(&near) < 0.6 * le_median(&near_sched));
    assert_int_equal(bad_passed, 0);
    assert_true(stale_seen >= 3);
    assert_int_equal(stale_bad, 0);
    assert_true(miss_seen >= 3);
    assert_int_equal(miss_bad, 0);
    assert_true(late_seen >= 1);
    assert_int_equal(late_bad, 0);
    assert_true(layover_seen >= 1);
    assert_int_equal(layover_bad, 0);
    print_message("%d fetches of /gtfs-rt met the validator's rules; up to "
                  "%d vehicles; alerts: missed trip %s, late bus %s\n",
                  rt_fetched, rt_vehicles_max, rt_cancel_alert ? "yes" : "NO",
                  rt_delay_alert ? "yes" : "NO");
    assert_true(rt_fetched >= 400);
    assert_int_equal(rt_vehicles_max, NBUS);
    assert_true(rt_cancel_alert);
    assert_true(rt_delay_alert);
    {
        const char *src = getenv("SHUTTLE_SOURCE_DIR");
        const char *npm = getenv("SHUTTLE_NPM_DIR");
        char script[1024], proto[1024], log[1200];
        char *argv[] = {"bash", script, rt_dir, (char *)npm, proto, NULL};

        assert_non_null(src);
        assert_non_null(npm);
        snprintf(script, sizeof script, "%s/tests/integration/gtfsrt_decode.sh",
                 src);
        snprintf(proto, sizeof proto, "%s/proto", src);
        snprintf(log, sizeof log, "%s/decode.log", fleet.work);
        rc = itest_fleet_run("gtfsrt_decode.sh", argv, log, 180000);
        harness_log_tail(log, 5);
        /* 77: no node or protoc here, which the script said. */
        assert_true(rc == 0 || rc == 77);
    }
    assert_int_equal(harness_stop(live), 0);
    free(rt_prev);
    live_shapedb_free(&rt_shapes);
    trips_db_feed_free(&rt_feed);
    for (int i = 0; i < nsamples; i++) {
        free(samples[i].text);
        free(samples[i].vehicles);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_e2e),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    harness_cleanup();
    return rc;
}
