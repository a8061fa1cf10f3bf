/* Integration test of the GTFS feed, its loader and the simulator: load
 * deploy/gtfs into a real PostgreSQL with `shuttle-backend --load-gtfs`,
 * check the timetable with SQL (52 runs, 26 each way, 6 drivable blocks),
 * reload it, refuse a broken one, then drive shuttle-sim for half an hour of
 * the morning into real gpsd instances and a counter socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <zip.h>

#include "harness.h"
#include "itest.h"
#include "nmea.h"
#include "pub_static.h"

static struct harness_pg *pg;
static char feed_dir[1024];

static char *slurp(const char *path)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* shuttle-backend --load-gtfs DIR against the test database: exit code.
 * Its output goes to a new file in a test folder, whose path is left in
 * LOG (LOGLEN bytes). */
static int load_feed(const char *dir, char *log, size_t loglen)
{
    return itest_load_gtfs(pg, dir, log, loglen);
}

static long long q(const char *sql)
{
    return harness_pg_scalar(pg, sql);
}

static int setup(void **state)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");

    snprintf(feed_dir, sizeof feed_dir, "%s/deploy/gtfs", src ? src : "..");
    pg = harness_pg_start(1);
    return pg ? 0 : -1;
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

/* The checks the feed must pass once loaded. Each query counts offences
 * (or the thing counted), so a wrong feed shows up as a wrong number. */
static void check_feed(void)
{
    assert_int_equal(q("SELECT count(*) FROM gtfs_routes WHERE route_type = 3"),
                     2);
    assert_int_equal(q("SELECT count(*) FROM gtfs_trips"), 52);
    assert_int_equal(
        q("SELECT count(*) FROM gtfs_trips WHERE direction_id = 0"), 26);
    assert_int_equal(
        q("SELECT count(*) FROM gtfs_trips WHERE direction_id = 1"), 26);
    assert_int_equal(q("SELECT count(DISTINCT block_id) FROM gtfs_trips"), 6);
    assert_int_equal(
        q("SELECT count(*) FROM gtfs_trips WHERE block_id IS NULL"), 0);
    assert_int_equal(q("SELECT count(*) FROM gtfs_feed_info"), 1);
    assert_int_equal(q("SELECT count(*) FROM gtfs_agency "
                       "WHERE agency_timezone = 'Asia/Seoul' "
                       "AND agency_lang = 'ko'"),
                     1);

    /* Every stop time belongs to a trip and a stop; every trip has them. */
    assert_int_equal(q("SELECT count(*) FROM gtfs_stop_times st "
                       "LEFT JOIN gtfs_trips t USING (trip_id) "
                       "WHERE t.trip_id IS NULL"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM gtfs_stop_times st "
                       "LEFT JOIN gtfs_stops s USING (stop_id) "
                       "WHERE s.stop_id IS NULL"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM gtfs_trips t WHERE (SELECT "
                       "count(*) FROM gtfs_stop_times st WHERE st.trip_id = "
                       "t.trip_id) < 2"),
                     0);

    /* Times never go backwards along a trip, and the run takes time. */
    assert_int_equal(q("SELECT count(*) FROM (SELECT arrival_secs, "
                       "departure_secs, lag(departure_secs) OVER (PARTITION "
                       "BY trip_id ORDER BY stop_sequence) AS prev FROM "
                       "gtfs_stop_times) s WHERE arrival_secs < prev OR "
                       "departure_secs < arrival_secs"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM (SELECT trip_id, "
                       "max(arrival_secs) - min(departure_secs) AS run FROM "
                       "gtfs_stop_times GROUP BY trip_id) s "
                       "WHERE run < 600 OR run > 3600"),
                     0);

    /* Commute-in in the morning, commute-out in the evening. */
    assert_int_equal(q("SELECT count(*) FROM gtfs_trips t JOIN "
                       "gtfs_stop_times st USING (trip_id) WHERE "
                       "st.stop_sequence = 1 AND ((t.direction_id = 0 AND "
                       "st.departure_secs NOT BETWEEN 5*3600 AND 10*3600) OR "
                       "(t.direction_id = 1 AND st.departure_secs NOT BETWEEN "
                       "16*3600 AND 21*3600))"),
                     0);

    /* Blocks are drivable: in each block, a run starts at least 5 minutes
     * after the previous one ended, plus, when it starts somewhere else,
     * the time to drive there empty (straight-line distance x 1.3 at
     * 30 km/h, a generous bound for town roads). */
    assert_int_equal(
        q("WITH r AS (SELECT t.block_id, t.trip_id,"
          "  min(st.departure_secs) AS t0, max(st.arrival_secs) AS t1,"
          "  (array_agg(st.stop_id ORDER BY st.stop_sequence))[1] AS s0,"
          "  (array_agg(st.stop_id ORDER BY st.stop_sequence DESC))[1] AS s1"
          "  FROM gtfs_trips t JOIN gtfs_stop_times st USING (trip_id)"
          "  GROUP BY t.block_id, t.trip_id),"
          " p AS (SELECT r.*, lag(t1) OVER w AS prev_t1,"
          "  lag(s1) OVER w AS prev_s1 FROM r"
          "  WINDOW w AS (PARTITION BY block_id ORDER BY t0))"
          " SELECT count(*) FROM p JOIN gtfs_stops a ON a.stop_id = p.s0"
          " JOIN gtfs_stops b ON b.stop_id = p.prev_s1"
          " WHERE p.t0 - p.prev_t1 < 300 + 1.3 * 6371000 * sqrt("
          "  power(radians(a.stop_lat - b.stop_lat), 2) +"
          "  power(radians(a.stop_lon - b.stop_lon) *"
          "        cos(radians(a.stop_lat)), 2)) / (30 / 3.6)"),
        0);
    /* ...and each bus does 8 to 10 runs a day. */
    assert_int_equal(q("SELECT count(*) FROM (SELECT block_id, count(*) AS n "
                       "FROM gtfs_trips GROUP BY block_id) b "
                       "WHERE n NOT BETWEEN 8 AND 10"),
                     0);

    /* Stops and shapes are in the Geomdan area, shapes have a point at
     * least every 200 m, and every stop of a trip is on its shape. */
    assert_int_equal(q("SELECT count(*) FROM gtfs_stops WHERE stop_lat NOT "
                       "BETWEEN 37.55 AND 37.62 OR stop_lon NOT BETWEEN "
                       "126.60 AND 126.70"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM (SELECT shape_pt_lat AS la, "
                       "shape_pt_lon AS lo, lag(shape_pt_lat) OVER w AS pla,"
                       " lag(shape_pt_lon) OVER w AS plo FROM gtfs_shapes "
                       "WINDOW w AS (PARTITION BY shape_id ORDER BY "
                       "shape_pt_sequence)) s WHERE 6371000 * sqrt("
                       "power(radians(la - pla), 2) + power(radians(lo - plo)"
                       " * cos(radians(la)), 2)) > 200"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM (SELECT DISTINCT t.shape_id, "
                       "st.stop_id FROM gtfs_trips t JOIN gtfs_stop_times st "
                       "USING (trip_id)) ts JOIN gtfs_stops s USING (stop_id)"
                       " WHERE (SELECT min(6371000 * sqrt(power(radians("
                       "p.shape_pt_lat - s.stop_lat), 2) + power(radians("
                       "p.shape_pt_lon - s.stop_lon) * cos(radians("
                       "s.stop_lat)), 2))) FROM gtfs_shapes p WHERE "
                       "p.shape_id = ts.shape_id) > 20"),
                     0);

    /* The service runs every day, for the whole life of the feed. */
    assert_int_equal(q("SELECT count(*) FROM generate_series(date "
                       "'2025-01-01', date '2027-12-31', interval '1 day') d"
                       " WHERE NOT EXISTS (SELECT 1 FROM "
                       "gtfs_services_on(d::date))"),
                     0);
    assert_int_equal(q("SELECT count(*) FROM gtfs_trips WHERE service_id IN "
                       "(SELECT gtfs_services_on('2026-02-17'))"),
                     52);
}

/* gtfs_files holds the exact bytes of every file of DIR (those the
 * loader reads; the feed has no others), compared in SQL with the bytes
 * read here. */
static void check_files(const char *dir)
{
    static const char *files[] = {
        "agency.txt", "stops.txt",      "routes.txt",
        "trips.txt",  "stop_times.txt", "calendar.txt",
        "shapes.txt", "feed_info.txt",  "translations.txt"};
    static const char digits[] = "0123456789abcdef";

    assert_int_equal(q("SELECT count(*) FROM gtfs_files"), 9);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[2048], *sql;
        unsigned char *body;
        FILE *f;
        long n;
        size_t k;

        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        body = malloc((size_t)n);
        sql = malloc(2 * (size_t)n + 256);
        assert_non_null(body);
        assert_non_null(sql);
        assert_int_equal(fread(body, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        k = (size_t)snprintf(sql, 256,
                             "SELECT count(*) FROM gtfs_files WHERE name = "
                             "'%s' AND loaded_at <= now() AND body = '\\x",
                             files[i]);
        for (long b = 0; b < n; b++) {
            sql[k++] = digits[body[b] >> 4];
            sql[k++] = digits[body[b] & 15];
        }
        snprintf(sql + k, 16, "'::bytea");
        if (q(sql) != 1)
            fail_msg("gtfs_files: %s is not the bytes of %s", files[i], path);
        free(sql);
        free(body);
    }
}

/* /gtfs/static.zip as shuttle-live makes it: pub_static_sql against the
 * database, pub_static_zip on its answer; every member is a file of DIR,
 * byte for byte, in name order. */
static void check_zip(const char *dir)
{
    static const char *names[] = {
        "agency.txt", "calendar.txt",     "feed_info.txt",
        "routes.txt", "shapes.txt",       "stop_times.txt",
        "stops.txt",  "translations.txt", "trips.txt"};
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    PGresult *r;
    uint8_t *zip = NULL;
    size_t len = 0;
    zip_source_t *src;
    zip_t *za;
    char err[256];

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, pub_static_sql());
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    if (pub_static_zip(r, &zip, &len, err, sizeof err) != PUB_STATIC_OK)
        fail_msg("pub_static_zip: %s", err);
    PQclear(r);
    PQfinish(c);
    src = zip_source_buffer_create(zip, len, 0, NULL);
    assert_non_null(src);
    za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, NULL);
    assert_non_null(za);
    assert_int_equal(zip_get_num_entries(za, 0), 9);
    for (zip_uint64_t i = 0; i < 9; i++) {
        char path[2048], *want, *got;
        zip_file_t *zf;
        FILE *f;
        long n;

        assert_string_equal(zip_get_name(za, i, 0), names[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        want = malloc((size_t)n + 1);
        got = malloc((size_t)n + 1);
        assert_non_null(want);
        assert_non_null(got);
        assert_int_equal(fread(want, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        zf = zip_fopen_index(za, i, 0);
        assert_non_null(zf);
        assert_int_equal(zip_fread(zf, got, (zip_uint64_t)n + 1), n);
        assert_memory_equal(got, want, (size_t)n);
        zip_fclose(zf);
        free(want);
        free(got);
    }
    zip_close(za);
    free(zip);
}

static void test_load_check_reload(void **state)
{
    char log[1024], bad[1024], cmd[8192];
    char *dir = harness_tmpdir("gtfs");

    assert_non_null(dir);
    assert_int_equal(load_feed(feed_dir, log, sizeof log), 0);
    assert_non_null(strstr(slurp(log), "loaded feed illustrative-2025.1: "
                                       "2 routes, 13 stops, 52 trips"));
    check_feed();
    check_files(feed_dir);
    check_zip(feed_dir);
    /* Korean names arrive intact, with their English translation. */
    assert_int_equal(
        q("SELECT count(*) FROM gtfs_stops s JOIN "
          "gtfs_translations tr ON tr.record_id = s.stop_id AND "
          "tr.table_name = 'stops' WHERE s.stop_name = '검단오류역'"
          " AND tr.language = 'en'"),
        1);

    /* Loading again replaces the feed: nothing doubles. */
    assert_int_equal(load_feed(feed_dir, log, sizeof log), 0);
    check_feed();
    assert_int_equal(q("SELECT count(*) FROM gtfs_stop_times"), 416);
    check_files(feed_dir);

    /* A feed with a stop time at an unknown stop is refused as a whole,
     * with the reason, and the loaded feed stays. */
    snprintf(bad, sizeof bad, "%s/bad", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp '%s'/*.txt '%s'/ && "
             "sed -i 's/,GA02,2,/,XX99,2,/' '%s/stop_times.txt'",
             bad, feed_dir, bad, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(load_feed(bad, log, sizeof log), 1);
    assert_non_null(strstr(slurp(log), "XX99"));
    assert_non_null(strstr(slurp(log), "gtfs_stop_times"));
    check_feed();
    check_files(feed_dir); /* the refused feed's bytes went with it */

    /* A bad value is reported with the file, line and column. */
    snprintf(cmd, sizeof cmd,
             "cp '%s'/*.txt '%s'/ && sed -i '3s/,37\\.[0-9]*,/,north,/' "
             "'%s/stops.txt'",
             feed_dir, bad, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(load_feed(bad, log, sizeof log), 1);
    assert_non_null(strstr(slurp(log), "stops.txt"));
    assert_non_null(strstr(slurp(log), "line 3, column stop_lat"));

    /* A trip id longer than the trip rebuild holds (63 bytes) is refused
     * at load, naming it, rather than compared cut short later. */
    snprintf(cmd, sizeof cmd,
             "cp '%s'/*.txt '%s'/ && sed -i 's/R1-IN-0600,/R1-IN-0600-%s,/' "
             "'%s/trips.txt' '%s/stop_times.txt'",
             feed_dir, bad,
             "with-a-suffix-that-makes-it-longer-than-sixty-three-bytes", bad,
             bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(load_feed(bad, log, sizeof log), 1);
    assert_non_null(strstr(slurp(log), "trips.txt"));
    assert_non_null(strstr(slurp(log), "longer than 63 bytes"));
    check_feed();

    /* Extra columns a real feed may carry are ignored, not fatal. */
    snprintf(cmd, sizeof cmd,
             "cp '%s'/*.txt '%s'/ && sed -i '1s/\\r$/,vendor_note\\r/; "
             "2,$s/\\r$/,x\\r/' '%s/routes.txt'",
             feed_dir, bad, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(load_feed(bad, log, sizeof log), 0);
    check_feed();
}

/* ---- the simulator -------------------------------------------------- */

struct watch {
    int fd;
    char buf[1 << 16];
    size_t len;
    int tpv, on_route, off_route, bad_time;
    double lat[1000], lon[1000]; /* every 5th fix, checked afterwards */
    int n;
};

static int gpsd_watch(struct harness_gpsd *g)
{
    static const char w[] = "?WATCH={\"enable\":true,\"json\":true};\n";
    int fd = harness_tcp_connect(harness_gpsd_port(g));

    assert_true(fd >= 0);
    assert_int_equal(write(fd, w, sizeof w - 1), (int)(sizeof w - 1));
    return fd;
}

/* Take in what gpsd reports; keep every 5th fix for watch_check. */
static void watch_read(struct watch *w)
{
    char *line, *nl;
    ssize_t n = read(w->fd, w->buf + w->len, sizeof w->buf - 1 - w->len);

    if (n <= 0)
        return;
    w->len += (size_t)n;
    w->buf[w->len] = '\0';
    line = w->buf;
    while ((nl = strchr(line, '\n')) != NULL) {
        const char *mode, *la, *lo, *tm;

        *nl = '\0';
        mode = strstr(line, "\"mode\":");
        la = strstr(line, "\"lat\":");
        lo = strstr(line, "\"lon\":");
        tm = strstr(line, "\"time\":\"");
        if (strstr(line, "\"class\":\"TPV\"") && mode && la && lo && tm &&
            atoi(mode + 7) >= 2) {
            /* 06:30-07:00 in Seoul is 21:30-22:00 UTC the day before. */
            if (strncmp(tm + 8, "2025-06-01T21:", 14) != 0)
                w->bad_time++;
            if (w->tpv++ % 5 == 0 && w->n < 1000) {
                w->lat[w->n] = strtod(la + 6, NULL);
                w->lon[w->n++] = strtod(lo + 6, NULL);
            }
        }
        line = nl + 1;
    }
    w->len = strlen(line);
    memmove(w->buf, line, w->len + 1);
    if (w->len == sizeof w->buf - 1)
        w->len = 0;
}

/* Count the kept fixes within 100 m of a shape of ROUTE (shape points are
 * at most 150 m apart, GPS noise is a few metres). */
/* How many of W's kept fixes are within 100 m of a shape of ROUTE: one
 * query for all of them (a connection per fix took most of a minute). */
static void watch_check(struct watch *w, const char *route)
{
    size_t cap = (size_t)w->n * 64 + 1024, k;
    char *sql = malloc(cap);
    long long on;

    assert_non_null(sql);
    k = (size_t)snprintf(sql, cap, "SELECT count(*) FROM unnest('{");
    for (int i = 0; i < w->n; i++)
        k += (size_t)snprintf(sql + k, cap - k, "%s%.9f", i ? "," : "",
                              w->lat[i]);
    k += (size_t)snprintf(sql + k, cap - k, "}'::float8[], '{");
    for (int i = 0; i < w->n; i++)
        k += (size_t)snprintf(sql + k, cap - k, "%s%.9f", i ? "," : "",
                              w->lon[i]);
    snprintf(sql + k, cap - k,
             "}'::float8[]) AS p(lat, lon) WHERE (SELECT min(6371000 * "
             "sqrt(power(radians(shape_pt_lat - p.lat), 2) + "
             "power(radians(shape_pt_lon - p.lon) * cos(radians(p.lat)), "
             "2))) FROM gtfs_shapes WHERE shape_id LIKE '%s%%') < 100",
             route);
    on = harness_pg_scalar(pg, sql);
    free(sql);
    assert_true(on >= 0);
    w->on_route = (int)on;
    w->off_route = w->n - (int)on;
}

/* One received counter datagram: checksum, type and numbering. */
struct counter {
    int lines, bad, opens, closes, hb, in, out;
    long last_seq;
};

static void counter_take(struct counter *c, char *dgram)
{
    char *save = NULL, *line;

    for (line = strtok_r(dgram, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *star = strrchr(line, '*');
        unsigned int sum;
        long seq;
        int d, i, o;

        c->lines++;
        if (line[0] != '$' || !star || sscanf(star + 1, "%2X", &sum) != 1 ||
            (int)sum != nmea_checksum(line) || strlen(line) > 80 ||
            sscanf(line + 6, "%ld", &seq) != 1) {
            c->bad++;
            continue;
        }
        /* Numbering goes up by one (0 at each counter boot). */
        if (seq != 0 && c->last_seq >= 0 && seq != c->last_seq + 1)
            c->bad++;
        c->last_seq = seq;
        if (strncmp(line, "$PCDO,", 6) == 0)
            c->opens++;
        else if (strncmp(line, "$PCDC,", 6) == 0)
            c->closes++;
        else if (strncmp(line, "$PCHB,", 6) == 0)
            c->hb++;
        else if (sscanf(line, "$PCIO,%*d,%*d,%d,%d,%d", &d, &i, &o) == 3) {
            c->in += i;
            c->out += o;
        } else
            c->bad++;
    }
}

static void test_sim_into_gpsd(void **state)
{
    struct harness_gpsd *g1 = harness_gpsd_start(), *g4 = harness_gpsd_start();
    char *dir = harness_tmpdir("sim");
    char gports[128], cports[128], truth[1024], log[1024], lline[1024];
    struct watch w1, w4;
    struct counter c = {0, 0, 0, 0, 0, 0, 0, -1};
    struct sockaddr_in a;
    struct harness_proc *sim;
    int cfd, cport, rc, board_inside = 0, board_touching = 0;
    FILE *tf;

    assert_non_null(g1);
    assert_non_null(g4);
    assert_non_null(dir);
    assert_int_equal(load_feed(feed_dir, lline, sizeof lline), 0);

    /* bus-1 (route 1) and bus-4 (route 2) get a gpsd; the others' ports
     * are free ones nobody listens on. bus-1's counter port is ours. */
    cport = harness_free_port();
    cfd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)cport);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(cfd, (struct sockaddr *)&a, sizeof a), 0);
    {
        int sz = 1 << 20;

        setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    snprintf(gports, sizeof gports, "%d,%d,%d,%d,%d,%d",
             harness_gpsd_udp_port(g1), harness_free_port(),
             harness_free_port(), harness_gpsd_udp_port(g4),
             harness_free_port(), harness_free_port());
    snprintf(cports, sizeof cports, "%d,%d,%d,%d,%d,%d", cport,
             harness_free_port(), harness_free_port(), harness_free_port(),
             harness_free_port(), harness_free_port());
    snprintf(truth, sizeof truth, "%s/truth.csv", dir);
    snprintf(log, sizeof log, "%s/sim.log", dir);

    memset(&w1, 0, sizeof w1);
    memset(&w4, 0, sizeof w4);
    w1.fd = gpsd_watch(g1);
    w4.fd = gpsd_watch(g4);
    {
        char *argv[] = {(char *)harness_bin("shuttle-sim"),
                        "--database",
                        (char *)harness_pg_conninfo(pg),
                        "--date",
                        "2025-06-02",
                        "--seed",
                        "7",
                        "--start",
                        "06:30",
                        "--end",
                        "07:00",
                        "--speed",
                        "600",
                        "--gps-noise",
                        "3",
                        "--gpsd-ports",
                        gports,
                        "--counter-ports",
                        cports,
                        "--truth",
                        truth,
                        "--quiet",
                        NULL};
        sim = harness_spawn("shuttle-sim", argv, log);
    }
    assert_non_null(sim);
    /* Read gpsd and the counter socket while the simulated half hour
     * (3 s at 600x) runs, and a little after. */
    for (int quiet = 0; quiet < 10;) {
        struct pollfd p[3] = {
            {w1.fd, POLLIN, 0}, {w4.fd, POLLIN, 0}, {cfd, POLLIN, 0}};

        if (poll(p, 3, 100) <= 0) {
            if (!harness_alive(sim))
                quiet++;
            continue;
        }
        if (p[0].revents & POLLIN)
            watch_read(&w1);
        if (p[1].revents & POLLIN)
            watch_read(&w4);
        for (;;) { /* drain: a UDP socket drops what it cannot hold */
            char dg[512];
            ssize_t n = recv(cfd, dg, sizeof dg - 1, MSG_DONTWAIT);

            if (n <= 0)
                break;
            dg[n] = '\0';
            counter_take(&c, dg);
        }
    }
    watch_check(&w1, "R1-");
    watch_check(&w4, "R2-");
    rc = harness_wait(sim, 10000);
    if (rc != 0)
        harness_log_tail(log, 20);
    assert_int_equal(rc, 0);
    print_message("gpsd bus-1: %d fixes (%d checked on route, %d off), "
                  "bus-4: %d (%d on, %d off); counter: %d lines, %d in, "
                  "%d out\n",
                  w1.tpv, w1.on_route, w1.off_route, w4.tpv, w4.on_route,
                  w4.off_route, c.lines, c.in, c.out);
    /* 1800 simulated seconds with a fix each; gpsd may merge or drop a
     * few at 600x, and a GPS dropout sends no fix. */
    assert_true(w1.tpv > 1000);
    assert_true(w4.tpv > 1000);
    assert_int_equal(w1.off_route, 0);
    assert_int_equal(w4.off_route, 0);
    assert_true(w1.on_route > 200);
    assert_int_equal(w1.bad_time + w4.bad_time, 0);

    /* The summary: bus runs that start in the window. */
    assert_non_null(strstr(slurp(log), "runs_scheduled=4\n"));
    assert_non_null(strstr(slurp(log), "runs_operated=4\n"));

    /* The counter sentences are well formed, numbered, paired, and carry
     * what the truth file says the counter counted at bus-1's stops. */
    assert_int_equal(c.bad, 0);
    assert_true(c.hb >= 300); /* one every 5 s for 30 min */
    assert_true(c.opens > 0);
    assert_true(abs(c.opens - c.closes) <= 1);
    tf = fopen(truth, "r");
    assert_non_null(tf);
    assert_non_null(fgets(lline, sizeof lline, tf)); /* header */
    while (fgets(lline, sizeof lline, tf)) {
        char veh[16], arr[40], dep[40];
        int bc;

        /* vehicle,trip,route,dir,block,stop,seq,arr,dep,b,a,load,bc,ac */
        if (sscanf(lline,
                   "%15[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],%*[^,],"
                   "%39[^,],%39[^,],%*d,%*d,%*d,%d",
                   veh, arr, dep, &bc) != 4 ||
            strcmp(veh, "bus-1") != 0)
            continue;
        board_touching += bc;
        if (strcmp(dep, "2025-06-01T22:00:00") < 0)
            board_inside += bc;
    }
    fclose(tf);
    assert_true(board_inside > 0);
    assert_true(c.in >= board_inside);
    assert_true(c.in <= board_touching);
    close(cfd);
    close(w1.fd);
    close(w4.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_check_reload),
        cmocka_unit_test(test_sim_into_gpsd),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
