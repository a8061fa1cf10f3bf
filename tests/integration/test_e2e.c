/* End to end: NMEA into gpsd, through shuttle-onboard, mosquitto and
 * shuttle-backend, out of PostgreSQL: every fix once, exact, no non-fix;
 * the real captures' stored fixes compared with golden files.
 *
 * Golden files: tests/data/nmea-golden/<capture>.expected, one line per
 * stored fix. To regenerate them after a change that is meant to alter
 * what is stored, run
 *     SHUTTLE_GOLDEN_UPDATE=1 ctest -R '^test_e2e$'
 * in the build folder and review the diff before committing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "nmea.h"

#define E2E_EPOCHS 300
#define E2E_VID "bus-e2e"
/* gpsd prints 9 decimals and NMEA here carries 6 decimals of minutes, so a
 * fix that went through intact is far closer than this. */
#define E2E_TOL 1e-6
#define DAY_MS 86400000LL

/* Every stored position of VID: t (Unix ms), lat, lon, seq, ordered by t
 * then seq. The result is the caller's to PQclear. */
static PGresult *positions_of(struct harness_pg *pg, const char *vid)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    const char *params[1] = {vid};
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexecParams(c,
                     "SELECT round(extract(epoch FROM t) * 1000)::bigint,"
                     " lat, lon, seq FROM positions WHERE vehicle_id = $1"
                     " ORDER BY t, seq",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("positions of %s: %s", vid, PQerrorMessage(c));
    PQfinish(c);
    return r;
}

static long long count_of(struct harness_pg *pg, const char *vid)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", vid);
    return harness_pg_scalar(pg, sql);
}

/* Wait until VID's row count has not changed for 1.5 s and its ack has
 * caught up with what is stored (or 20 s passed): the pipeline is drained.
 * Returns the count. */
static long long wait_drained(struct harness_pg *pg, const char *vid)
{
    char sql[512];
    long long last = -2;
    int same = 0, i;

    snprintf(sql, sizeof sql,
             "SELECT (coalesce((SELECT max(seq) FROM positions WHERE "
             "vehicle_id = '%s'), 0) = coalesce((SELECT acked_seq FROM "
             "vehicle_progress WHERE vehicle_id = '%s'), 0))::int",
             vid, vid);
    for (i = 0; i < 40 && same < 3; i++) {
        long long n;

        harness_sleep_ms(500);
        n = count_of(pg, vid);
        if (n == last && harness_pg_scalar(pg, sql) == 1)
            same++;
        else
            same = 0;
        last = n;
    }
    return last;
}

/* ---- generated route ------------------------------------------------ */

enum epoch_kind {
    EPOCH_FIX,
    EPOCH_NOFIX_STALE, /* status V, quality 0, the last fix's position */
    EPOCH_NOFIX_FRESH, /* status V, quality 0, a new (unusable) position */
    EPOCH_NOFIX_EMPTY, /* status V, quality 0, no position at all */
};

struct epoch {
    enum epoch_kind kind;
    time_t t;
    double lat, lon;
};

/* RMC and GGA of a no-fix epoch without any position, as receivers send
 * them before the first fix (nmea_rmc always writes a position). */
static void nofix_empty(char *buf, size_t len, time_t t, int ms)
{
    char rmc[128], gga[128];
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(rmc, sizeof rmc,
             "GPRMC,%02d%02d%02d.%03d,V,,,,,,,%02d%02d%02d,,,N", tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms, tm.tm_mday, tm.tm_mon + 1,
             tm.tm_year % 100);
    snprintf(gga, sizeof gga, "GPGGA,%02d%02d%02d.%03d,,,,,0,00,99.9,,M,,M,,",
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    snprintf(buf, len, "$%s*%02X\r\n$%s*%02X\r\n", rmc, nmea_checksum(rmc), gga,
             nmea_checksum(gga));
}

static void test_generated(void **state)
{
    static struct epoch ep[E2E_EPOCHS];
    /* A fractional second, as some receivers stamp: it must survive. */
    const int ms = 250;
    struct harness_mqtt *m = harness_mosquitto_start(NULL);
    struct harness_pg *pg = harness_pg_start(1);
    struct harness_gpsd *g = harness_gpsd_start();
    time_t t0 = time(NULL) - 600;
    double last_lat = 0, last_lon = 0;
    int nvalid = 0, nnofix = 0, i, k;
    char sql[8192];
    size_t off;
    PGresult *r;

    assert_non_null(m);
    assert_non_null(pg);
    assert_non_null(g);
    assert_non_null(harness_backend_start(pg, m, NULL));
    assert_non_null(harness_onboard_start(E2E_VID, g, m, NULL, NULL));

    /* Along the Geomdan line heading north-east, with digits down to 1e-7
     * degree so a rounding to 1e-6 or a float would show. */
    for (i = 0; i < E2E_EPOCHS; i++) {
        struct epoch *e = &ep[i];
        char buf[512];
        int n;

        e->t = t0 + i;
        e->lat = 37.5850123 + i * 1.31e-5 + 1e-4 * sin(i / 17.0);
        e->lon = 126.6700456 + i * 1.77e-5;
        switch (i % 10) {
        case 3:
            e->kind = EPOCH_NOFIX_STALE;
            break;
        case 6:
            e->kind = EPOCH_NOFIX_FRESH;
            break;
        case 9:
            e->kind = EPOCH_NOFIX_EMPTY;
            break;
        default:
            e->kind = EPOCH_FIX;
        }
        /* First and last a fix: the first makes a stale position possible,
         * the last lets the wait below see the end. */
        if (i == 0 || i == E2E_EPOCHS - 1)
            e->kind = EPOCH_FIX;
        if (e->kind == EPOCH_NOFIX_STALE) {
            e->lat = last_lat;
            e->lon = last_lon;
        }
        switch (e->kind) {
        case EPOCH_FIX:
            n = nmea_rmc(buf, sizeof buf, e->t, ms, e->lat, e->lon, 21.4, 41.0,
                         1);
            assert_true(n > 0);
            assert_true(nmea_gga(buf + n, sizeof buf - (size_t)n, e->t, ms,
                                 e->lat, e->lon, 1, 9, 0.9, 12.5) > 0);
            last_lat = e->lat;
            last_lon = e->lon;
            nvalid++;
            break;
        case EPOCH_NOFIX_STALE:
        case EPOCH_NOFIX_FRESH:
            n = nmea_rmc(buf, sizeof buf, e->t, ms, e->lat, e->lon, 0, 0, 0);
            assert_true(n > 0);
            assert_true(nmea_gga(buf + n, sizeof buf - (size_t)n, e->t, ms,
                                 e->lat, e->lon, 0, 0, 99.9, 12.5) > 0);
            nnofix++;
            break;
        case EPOCH_NOFIX_EMPTY:
            nofix_empty(buf, sizeof buf, e->t, ms);
            nnofix++;
            break;
        }
        /* One epoch's RMC and GGA back to back: gpsd reports a TPV at the
         * end of each cycle. GPS time steps 1 s; we do not wait for it. */
        assert_int_equal(harness_gpsd_send(g, buf), 2);
        harness_sleep_ms(20);
    }
    print_message("sent %d fixes and %d no-fix epochs\n", nvalid, nnofix);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM positions WHERE vehicle_id = '%s'", E2E_VID);
    assert_int_equal(harness_wait_scalar(pg, sql, nvalid, 20000), 0);
    /* Nothing more trickles in later (a no-fix epoch stored late, a
     * duplicate from a re-send). */
    assert_int_equal(wait_drained(pg, E2E_VID), nvalid);

    r = positions_of(pg, E2E_VID);
    assert_int_equal(PQntuples(r), nvalid);
    for (i = 0, k = 0; i < E2E_EPOCHS; i++) {
        const struct epoch *e = &ep[i];
        long long t_ms = (long long)e->t * 1000 + ms;
        long long got_t;
        double lat, lon;

        if (e->kind != EPOCH_FIX)
            continue;
        assert_true(k < PQntuples(r));
        got_t = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        lat = strtod(PQgetvalue(r, k, 1), NULL);
        lon = strtod(PQgetvalue(r, k, 2), NULL);
        if (got_t != t_ms || fabs(lat - e->lat) > E2E_TOL ||
            fabs(lon - e->lon) > E2E_TOL)
            fail_msg("epoch %d: want t %lld %.7f,%.7f, row %d has t %lld "
                     "%.9f,%.9f",
                     i, t_ms, e->lat, e->lon, k, got_t, lat, lon);
        k++;
    }
    PQclear(r);

    /* Stated once more, independently of the ordering above: no row at any
     * no-fix epoch's time. */
    off = (size_t)snprintf(sql, sizeof sql,
                           "SELECT count(*) FROM positions WHERE "
                           "vehicle_id = '%s' AND round(extract(epoch FROM t)"
                           " * 1000)::bigint IN (-1",
                           E2E_VID);
    for (i = 0; i < E2E_EPOCHS; i++)
        if (ep[i].kind != EPOCH_FIX)
            off += (size_t)snprintf(sql + off, sizeof sql - off, ",%lld",
                                    (long long)ep[i].t * 1000 + ms);
    assert_true(off + 2 < sizeof sql);
    snprintf(sql + off, sizeof sql - off, ")");
    assert_int_equal(harness_pg_scalar(pg, sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT t) FROM positions WHERE vehicle_id = '%s'",
             E2E_VID);
    assert_int_equal(harness_pg_scalar(pg, sql), nvalid);
    assert_int_equal(harness_pg_scalar(pg, "SELECT count(*) FROM dead_letters"),
                     0);
}

/* ---- real captures --------------------------------------------------- */

/* One RMC, GGA or GLL of a capture. GLL counts too: gpsd takes a position
 * from it, and the B&G chartplotter's GLL, RMC and GGA of one second
 * disagree by metres, so the stored one may well be the GLL's. */
struct cap_fix {
    long long tod_ms; /* UTC time of day */
    double lat, lon;
    int has_pos;
    int valid; /* RMC or GLL status A, GGA quality > 0 */
};

struct capture {
    char **lines; /* sentences in order, '#' lines left out */
    size_t nlines;
    struct cap_fix *fix;
    size_t nfix;
};

/* "ddmm.mmmm" or "dddmm.mmmm" with hemisphere H, in degrees; NAN when
 * empty. */
static double parse_angle(const char *v, const char *h)
{
    double x, deg;

    if (*v == '\0' || *h == '\0')
        return NAN;
    x = strtod(v, NULL);
    deg = floor(x / 100);
    x = deg + (x - deg * 100) / 60;
    return (*h == 'S' || *h == 'W') ? -x : x;
}

static void capture_add(struct capture *c, const char *line)
{
    char type[16], f[6][32];
    struct cap_fix x;
    /* Fields of time, lat, N/S, lon, E/W and validity. */
    static const struct {
        const char *type;
        int idx[6];
    } kinds[] = {
        {"RMC", {1, 3, 4, 5, 6, 2}},
        {"GGA", {1, 2, 3, 4, 5, 6}},
        {"GLL", {5, 1, 2, 3, 4, 6}},
    };
    size_t k, i;

    c->lines = realloc(c->lines, (c->nlines + 1) * sizeof *c->lines);
    assert_non_null(c->lines);
    c->lines[c->nlines] = strdup(line);
    assert_non_null(c->lines[c->nlines]);
    c->nlines++;

    nmea_field(line, 0, type, sizeof type);
    if (strlen(type) != 6 || type[0] != '$')
        return;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strcmp(type + 3, kinds[k].type) == 0)
            break;
    if (k == sizeof kinds / sizeof kinds[0])
        return;
    for (i = 0; i < 6; i++)
        nmea_field(line, kinds[k].idx[i], f[i], sizeof f[i]);
    x.tod_ms = nmea_tod_ms(f[0]);
    if (x.tod_ms < 0)
        return;
    x.lat = parse_angle(f[1], f[2]);
    x.lon = parse_angle(f[3], f[4]);
    x.has_pos = isfinite(x.lat) && isfinite(x.lon);
    /* GGA: fix quality; RMC and GLL: status A. */
    x.valid = k == 1 ? atoi(f[5]) > 0 : strcmp(f[5], "A") == 0;
    c->fix = realloc(c->fix, (c->nfix + 1) * sizeof *c->fix);
    assert_non_null(c->fix);
    c->fix[c->nfix++] = x;
}

static void capture_load(struct capture *c, const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");

    memset(c, 0, sizeof *c);
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        capture_add(c, line);
    }
    fclose(f);
}

static void capture_free(struct capture *c)
{
    size_t i;

    for (i = 0; i < c->nlines; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->fix);
}

/* Epochs (distinct times of day) with a valid fix that has a position. */
static int capture_valid_epochs(const struct capture *c)
{
    int n = 0;
    size_t i, j;

    for (i = 0; i < c->nfix; i++) {
        int seen = 0;

        if (!c->fix[i].valid || !c->fix[i].has_pos)
            continue;
        for (j = 0; j < i && !seen; j++)
            seen = c->fix[j].valid && c->fix[j].has_pos &&
                   c->fix[j].tod_ms == c->fix[i].tod_ms;
        n += !seen;
    }
    return n;
}

/* Send the capture's sentences in order, dated DAY, pausing 20 ms whenever
 * an RMC or GGA starts a new epoch (a new time of day), as a receiver would
 * between its cycles. */
static void capture_replay(const struct capture *c, struct harness_gpsd *g,
                           const struct tm *day)
{
    long long epoch = -1;
    size_t i;

    for (i = 0; i < c->nlines; i++) {
        const char *s = c->lines[i];
        char tod[32], out[1024];

        if (strlen(s) > 6 && (strncmp(s + 3, "RMC,", 4) == 0 ||
                              strncmp(s + 3, "GGA,", 4) == 0)) {
            nmea_field(s, 1, tod, sizeof tod);
            if (nmea_tod_ms(tod) != epoch) {
                epoch = nmea_tod_ms(tod);
                harness_sleep_ms(20);
            }
        }
        assert_int_equal(nmea_redate(s, day, out, sizeof out), 0);
        assert_int_equal(harness_gpsd_send(g, out), 1);
    }
}

/* ---- golden output ---------------------------------------------------- */

static const char *const time_source_names[] = {"gps", "carried", "system"};

/* The stored fixes of VID as golden lines, into F: the time as a day
 * offset from DAY0_MS (the replay day's 00:00 UTC) and the UTC time of
 * day to the ms; lat/lon to 1e-7; speed, track, alt, hdop as stored (real,
 * '-' for NULL); fix mode; satellites used; time source. Not seq, not the
 * receive time, not backlog: those depend on the run. Returns the number
 * of lines. */
static int golden_rows(FILE *f, struct harness_pg *pg, const char *vid,
                       long long day0_ms)
{
    PGconn *c = PQconnectdb(harness_pg_conninfo(pg));
    const char *params[1] = {vid};
    PGresult *r;
    int k, n;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexecParams(
        c,
        "SELECT round(extract(epoch FROM t) * 1000)::bigint, lat, lon,"
        " coalesce(speed::text, '-'), coalesce(track::text, '-'),"
        " coalesce(alt::text, '-'), coalesce(hdop::text, '-'), fix_mode,"
        " coalesce(sats_used::text, '-'), time_source"
        " FROM positions WHERE vehicle_id = $1 ORDER BY t, seq",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("golden rows of %s: %s", vid, PQerrorMessage(c));
    PQfinish(c);
    n = PQntuples(r);
    for (k = 0; k < n; k++) {
        long long rel = strtoll(PQgetvalue(r, k, 0), NULL, 10) - day0_ms;
        long long day =
            rel >= 0 ? rel / DAY_MS : -((-rel + DAY_MS - 1) / DAY_MS);
        long long tod = rel - day * DAY_MS;
        int src = atoi(PQgetvalue(r, k, 9));

        fprintf(f,
                "%+lld %02lld:%02lld:%02lld.%03lld %.7f %.7f %s %s %s %s %s "
                "%s %s\n",
                day, tod / 3600000, tod / 60000 % 60, tod / 1000 % 60,
                tod % 1000, strtod(PQgetvalue(r, k, 1), NULL),
                strtod(PQgetvalue(r, k, 2), NULL), PQgetvalue(r, k, 3),
                PQgetvalue(r, k, 4), PQgetvalue(r, k, 5), PQgetvalue(r, k, 6),
                PQgetvalue(r, k, 7), PQgetvalue(r, k, 8),
                src >= 0 && src < 3 ? time_source_names[src] : "?");
    }
    PQclear(r);
    return n;
}

/* Compare TEXT (LEN bytes) with tests/data/nmea-golden/<NAME minus .log>
 * .expected, or write it there when SHUTTLE_GOLDEN_UPDATE=1. On a
 * mismatch print a unified diff (expected -> stored) and return -1; 0 when
 * equal or written. */
static int golden_compare(const char *name, const char *text, size_t len)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    const char *update = getenv("SHUTTLE_GOLDEN_UPDATE");
    char path[1024], got[] = "/tmp/shuttle-golden-XXXXXX", cmd[2200];
    char *want = NULL;
    size_t wlen = 0;
    FILE *f;
    int fd, same;

    snprintf(path, sizeof path, "%s/tests/data/nmea-golden/%.*s.expected",
             src ? src : "../..", (int)strcspn(name, "."), name);
    if (update && strcmp(update, "1") == 0) {
        f = fopen(path, "w");
        if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0)
            fail_msg("cannot write %s", path);
        print_message("wrote %s\n", path);
        return 0;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        print_message("%s: no golden file %s (SHUTTLE_GOLDEN_UPDATE=1 "
                      "writes it)\n",
                      name, path);
        return -1;
    }
    {
        char buf[4096];
        size_t n;
        FILE *m = open_memstream(&want, &wlen);

        assert_non_null(m);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, m);
        fclose(m);
    }
    fclose(f);
    same = wlen == len && memcmp(want, text, len) == 0;
    free(want);
    if (same)
        return 0;
    fd = mkstemp(got);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    print_message("%s: stored fixes differ from %s:\n", name, path);
    snprintf(cmd, sizeof cmd, "diff -u '%s' '%s' >&2", path, got);
    if (system(cmd) == -1)
        print_message("(could not run diff; stored output is in %s)\n", got);
    else
        unlink(got);
    return -1;
}

static void test_captures(void **state)
{
    static const char *const backend_opts[] = {"max_age_days=36500", NULL};
    const char *shared = harness_shared_data();
    struct harness_mqtt *m;
    struct harness_pg *pg;
    char pattern[1024];
    glob_t gl;
    size_t fi;
    int with_fixes = 0, golden_bad = 0;

    if (shared == NULL) {
        print_message("no shared data folder (SHUTTLE_SHARED_DATA): "
                      "skipping the capture replay\n");
        skip();
    }
    snprintf(pattern, sizeof pattern, "%s/nmea/*.log", shared);
    if (glob(pattern, 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
        print_message("no captures in %s/nmea: skipping\n", shared);
        skip();
    }
    m = harness_mosquitto_start(NULL);
    pg = harness_pg_start(1);
    assert_non_null(m);
    assert_non_null(pg);
    /* The captures are years old. */
    assert_non_null(harness_backend_start(pg, m, backend_opts));

    for (fi = 0; fi < gl.gl_pathc; fi++) {
        const char *path = gl.gl_pathv[fi];
        const char *name = strrchr(path, '/') + 1;
        struct harness_gpsd *g = harness_gpsd_start();
        struct harness_proc *ob;
        struct capture c;
        char vid[32], sql[256];
        long long stored, day0_ms;
        int valid, k;
        PGresult *r;
        /* Yesterday: every time of day of it is in the past. */
        time_t yesterday = time(NULL) - 86400;
        struct tm day;
        char *gold_text = NULL;
        size_t gold_len = 0;
        FILE *gold = open_memstream(&gold_text, &gold_len);

        assert_non_null(gold);
        gmtime_r(&yesterday, &day);
        day.tm_hour = day.tm_min = day.tm_sec = 0;
        day0_ms = (long long)timegm(&day) * 1000;

        assert_non_null(g);
        snprintf(vid, sizeof vid, "cap-%zu", fi);
        ob = harness_onboard_start(vid, g, m, NULL, NULL);
        assert_non_null(ob);
        capture_load(&c, path);
        valid = capture_valid_epochs(&c);
        capture_replay(&c, g, &day);
        stored = wait_drained(pg, vid);
        print_message("%-20s %4zu sentences, %4d epochs with a valid fix, "
                      "%4lld stored\n",
                      name, c.nlines, valid, stored);
        fprintf(
            gold,
            "# test_e2e golden output: the fixes PostgreSQL holds after\n"
            "# %s of ../shared/data/nmea/ went through gpsd,\n"
            "# shuttle-onboard, mosquitto and shuttle-backend.\n"
            "# The dates of its RMC and ZDA are replaced by the day before\n"
            "# the run (tests/harness/nmea.c nmea_redate), as for every\n"
            "# capture: gpsd 3.22 takes a date before its release for a GPS\n"
            "# week rollover and moves it 1024 weeks ahead, which the\n"
            "# onboard would move back or refuse at source\n"
            "# (onboard/gtime.c). Times are UTC: a day offset from that\n"
            "# day, then the time of day.\n"
            "# Regenerate: SHUTTLE_GOLDEN_UPDATE=1 ctest -R '^test_e2e$'\n"
            "# %zu sentences, %d epochs with a valid fix, %lld stored\n",
            name, c.nlines, valid, stored);

        r = positions_of(pg, vid);
        for (k = 0; k < PQntuples(r); k++) {
            long long t = strtoll(PQgetvalue(r, k, 0), NULL, 10);
            long long tod = ((t % DAY_MS) + DAY_MS) % DAY_MS;
            double lat = strtod(PQgetvalue(r, k, 1), NULL);
            double lon = strtod(PQgetvalue(r, k, 2), NULL);
            int same_time = 0, match = 0;
            size_t j;

            for (j = 0; j < c.nfix && !match; j++) {
                const struct cap_fix *x = &c.fix[j];

                if (x->tod_ms != tod)
                    continue;
                same_time = 1;
                match = x->valid && x->has_pos &&
                        fabs(x->lat - lat) <= E2E_TOL &&
                        fabs(x->lon - lon) <= E2E_TOL;
            }
            if (!match)
                fail_msg("%s: stored seq %s at %lld (time of day %lld ms) "
                         "%.9f,%.9f matches %s",
                         name, PQgetvalue(r, k, 3), t, tod, lat, lon,
                         same_time ? "no valid RMC/GGA/GLL at that position"
                                   : "no RMC/GGA/GLL time");
        }
        /* Not an error, but worth seeing: which valid epochs are not
         * stored. */
        for (size_t j = 0; j < c.nfix; j++) {
            const struct cap_fix *x = &c.fix[j];
            int found = 0, earlier = 0;

            for (size_t e = 0; e < j; e++)
                earlier |= c.fix[e].valid && c.fix[e].has_pos &&
                           c.fix[e].tod_ms == x->tod_ms;
            if (!x->valid || !x->has_pos || earlier)
                continue;
            for (k = 0; k < PQntuples(r) && !found; k++) {
                long long t = strtoll(PQgetvalue(r, k, 0), NULL, 10);
                found = ((t % DAY_MS) + DAY_MS) % DAY_MS == x->tod_ms;
            }
            if (!found) {
                print_message("  %s: valid fix at %02lld:%02lld:%06.3f "
                              "(entry %zu of %zu) not stored\n",
                              name, x->tod_ms / 3600000, x->tod_ms / 60000 % 60,
                              (double)(x->tod_ms % 60000) / 1000, j, c.nfix);
                fprintf(gold,
                        "# not stored: the valid fix at %02lld:%02lld:%06.3f "
                        "(RMC/GGA/GLL %zu of %zu)\n",
                        x->tod_ms / 3600000, x->tod_ms / 60000 % 60,
                        (double)(x->tod_ms % 60000) / 1000, j, c.nfix);
            }
        }
        PQclear(r);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM dead_letters WHERE vehicle_id = '%s'",
                 vid);
        fprintf(gold, "# dead letters: %lld\n", harness_pg_scalar(pg, sql));
        if (stored == 0)
            fprintf(gold, "# nothing stored: %s\n",
                    valid == 0 ? "the capture has no valid fix"
                               : "every valid fix was refused (at source or "
                                 "as a dead letter)");
        else
            fprintf(gold, "# day time_utc lat lon speed_m/s track_deg alt_m "
                          "hdop fix_mode sats_used time_source\n");
        assert_int_equal(golden_rows(gold, pg, vid, day0_ms), stored);
        assert_int_equal(fclose(gold), 0);
        if (golden_compare(name, gold_text, gold_len) != 0)
            golden_bad++;
        free(gold_text);
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT t) FROM positions WHERE "
                 "vehicle_id = '%s'",
                 vid);
        assert_int_equal(harness_pg_scalar(pg, sql), stored);
        if (valid > 0) {
            with_fixes++;
            if (stored < 1)
                fail_msg("%s: %d epochs with a valid fix, none stored", name,
                         valid);
        }
        capture_free(&c);
        harness_stop(ob);
        harness_gpsd_stop(g);
    }
    globfree(&gl);
    assert_true(with_fixes > 0);
    if (golden_bad > 0)
        fail_msg("%d capture(s) differ from their golden file", golden_bad);
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_generated, teardown),
        cmocka_unit_test_teardown(test_captures, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
