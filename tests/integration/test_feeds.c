/* The published feeds' acceptance on the real daemon: a short simulated
 * stretch (6 buses, 07:00-07:25 at 60x) through the whole path, and
 * mid-run the workers' page (server-built, in headless Chromium with and
 * without its script), the stop displays' retained MQTT messages and the
 * JSON API held against each other at the same generated time; then the
 * HTTP behaviour (ETag, gzip, HEAD, 405, bad input), the static zip, the
 * operators' daily report against shuttle-report and the fleet page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zip.h>
#include <zlib.h>

#include "harness.h"
#include "itest.h"
#include "itest_fleet.h"

#define NBUS ITEST_FLEET_NBUS
#define FT_SPEED 60
#define FT_START "07:00"
#define FT_END "07:25"
#define FT_START_S (7 * 3600)
/* The moments (simulated seconds of the day) of the mid-run checks. The
 * browser runs at the second, while the buses drive (it costs some 15 s
 * of real time, 15 min simulated); a moment the stretch ended before is
 * checked all the same (shuttle-live still serves). */
static const int ft_moments[] = {7 * 3600 + 3 * 60, 7 * 3600 + 7 * 60,
                                 7 * 3600 + 23 * 60};
#define FT_NMOMENTS (int)(sizeof ft_moments / sizeof *ft_moments)
#define FT_TRIES 25
#define FT_STOPS_MAX 64
#define FT_ROWS_MAX 16
#define FT_DISPLAY_ROWS 4
#define FT_CHROMIUM "/usr/bin/chromium"

static struct itest_fleet fleet;
static struct harness_proc *live;
static int live_port;
static char day[16];
static int64_t day0_ms;
static char stop_ids[FT_STOPS_MAX][40];
static int nstops;

/* ---- boards: the rows the three formats carry ---------------------------- */

struct ft_row {
    char trip[48], route[32], status[16];
    int minutes, seats; /* seats -1: null */
    long long arrival_unix;
};

struct ft_board {
    /* generated_at (ISO 8601) and "#" the generation (zero-padded: the
     * text orders as the builds did); "" when not carried. Two builds may
     * share a generated_at second, never a generation. */
    char gen[64];
    long long gen_unix;
    int n;
    struct ft_row row[FT_ROWS_MAX];
};

static int ft_int(json_t *o, const char *k, long long dflt)
{
    json_t *v = json_object_get(o, k);

    return json_is_integer(v) ? (int)json_integer_value(v) : (int)dflt;
}

static void ft_str(json_t *o, const char *k, char *out, size_t len)
{
    json_t *v = json_object_get(o, k);

    snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* The JSON API's arrivals document or a display's payload TEXT into B:
 * 0, or -1 when it does not parse as one. */
static int ft_parse_json(const char *text, struct ft_board *b)
{
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e), *arr;
    size_t i;

    memset(b, 0, sizeof *b);
    if (!doc)
        return -1;
    arr = json_object_get(doc, "arrivals");
    if (!json_is_array(arr) ||
        !json_is_integer(json_object_get(doc, "generated_at_unix"))) {
        json_decref(doc);
        return -1;
    }
    ft_str(doc, "generated_at", b->gen, sizeof b->gen);
    if (b->gen[0])
        snprintf(b->gen + strlen(b->gen), sizeof b->gen - strlen(b->gen),
                 "#%012lld", (long long)ft_int(doc, "generation", -1));
    b->gen_unix = json_integer_value(json_object_get(doc, "generated_at_unix"));
    for (i = 0; i < json_array_size(arr) && b->n < FT_ROWS_MAX; i++) {
        json_t *a = json_array_get(arr, i), *au;
        struct ft_row *r = &b->row[b->n++];

        ft_str(a, "trip", r->trip, sizeof r->trip);
        ft_str(a, "route", r->route, sizeof r->route);
        ft_str(a, "status", r->status, sizeof r->status);
        r->minutes = ft_int(a, "minutes", -999);
        r->seats = ft_int(a, "seats_free", -1);
        au = json_object_get(a, "arrival_unix");
        r->arrival_unix = json_is_integer(au) ? json_integer_value(au) : -1;
    }
    json_decref(doc);
    return 0;
}

/* The value of attribute NAME in the tag that starts at TAG into OUT
 * ("" when the tag has none). */
static void ft_attr(const char *tag, const char *name, char *out, size_t len)
{
    const char *end = strchr(tag, '>'), *p = tag;
    char pat[64];
    size_t n;

    snprintf(pat, sizeof pat, " %s=\"", name);
    out[0] = '\0';
    while ((p = strstr(p, pat)) && end && p < end) {
        p += strlen(pat);
        n = strcspn(p, "\"");
        snprintf(out, len, "%.*s", (int)n, p);
        return;
    }
}

/* The workers' page (as served or as a browser's DOM) into B: its
 * generated time (<time id="gen" datetime>) and its rows' data-
 * attributes. 0, or -1 without a generated time. */
static int ft_parse_page(const char *html, struct ft_board *b)
{
    const char *p = strstr(html, "<time id=\"gen\"");
    char v[32];

    memset(b, 0, sizeof *b);
    if (!p)
        return -1;
    ft_attr(p, "datetime", b->gen, sizeof b->gen);
    if (!b->gen[0])
        return -1;
    ft_attr(p, "data-generation", v, sizeof v);
    snprintf(b->gen + strlen(b->gen), sizeof b->gen - strlen(b->gen),
             "#%012lld", v[0] ? atoll(v) : -1LL);
    for (p = html; (p = strstr(p, "<li ")) && b->n < FT_ROWS_MAX; p++) {
        struct ft_row *r = &b->row[b->n];

        ft_attr(p, "data-trip", r->trip, sizeof r->trip);
        if (!r->trip[0])
            continue;
        ft_attr(p, "data-status", r->status, sizeof r->status);
        ft_attr(p, "data-minutes", v, sizeof v);
        r->minutes = v[0] ? atoi(v) : -999;
        ft_attr(p, "data-seats", v, sizeof v);
        r->seats = v[0] ? atoi(v) : -999;
        b->n++;
    }
    return 0;
}

/* Rows of the page P against those of the JSON J: "" when they agree,
 * else what differs in WHY. */
static const char *ft_page_vs_json(const struct ft_board *p,
                                   const struct ft_board *j, char *why,
                                   size_t len)
{
    why[0] = '\0';
    if (p->n != j->n) {
        snprintf(why, len, "%d rows on the page, %d in the JSON", p->n, j->n);
        return why;
    }
    for (int i = 0; i < p->n; i++) {
        const struct ft_row *a = &p->row[i], *b = &j->row[i];

        if (strcmp(a->trip, b->trip) != 0 || a->minutes != b->minutes ||
            a->seats != b->seats || strcmp(a->status, b->status) != 0) {
            snprintf(why, len,
                     "row %d: page %s %d min %d seats %s, JSON %s %d min %d "
                     "seats %s",
                     i, a->trip, a->minutes, a->seats, a->status, b->trip,
                     b->minutes, b->seats, b->status);
            return why;
        }
    }
    return why;
}

/* Whether the rows of P and J differ in nothing but a minute or so. */
static int ft_minutes_only(const struct ft_board *p, const struct ft_board *j)
{
    if (p->n != j->n)
        return 0;
    for (int i = 0; i < p->n; i++) {
        const struct ft_row *a = &p->row[i], *b = &j->row[i];

        if (strcmp(a->trip, b->trip) != 0 || a->seats != b->seats ||
            strcmp(a->status, b->status) != 0 ||
            abs(a->minutes - b->minutes) > 1)
            return 0;
    }
    return 1;
}

/* The rows a display shows of the board J: no departed row, at most
 * FT_DISPLAY_ROWS (README "Stop displays"). */
static void ft_display_rows(const struct ft_board *j, struct ft_board *d)
{
    *d = *j;
    d->n = 0;
    for (int i = 0; i < j->n && d->n < FT_DISPLAY_ROWS; i++)
        if (strcmp(j->row[i].status, "departed") != 0)
            d->row[d->n++] = j->row[i];
}

/* A display's rows S against the JSON's J (its display rows): 1 agree. */
static int ft_display_vs_json(const struct ft_board *s,
                              const struct ft_board *j)
{
    struct ft_board d;

    ft_display_rows(j, &d);
    if (s->n != d.n)
        return 0;
    for (int i = 0; i < s->n; i++) {
        const struct ft_row *a = &s->row[i], *b = &d.row[i];

        if (strcmp(a->route, b->route) != 0 ||
            strcmp(a->status, b->status) != 0 || a->minutes != b->minutes ||
            a->arrival_unix != b->arrival_unix || a->seats != b->seats)
            return 0;
    }
    return 1;
}

/* ---- HTTP -----------------------------------------------------------------
 */

/* GET PATH: a malloc'd copy of the body when the status is WANT, else
 * NULL (the status into *STATUS when not NULL). */
static char *ft_get(const char *path, int want, int *status)
{
    struct itest_http_reply r;
    char *copy;

    itest_http(live_port, "GET", path, NULL, &r);
    if (status)
        *status = r.status;
    if (r.status != want)
        return NULL;
    copy = malloc(r.len + 1);
    assert_non_null(copy);
    memcpy(copy, r.body, r.len);
    copy[r.len] = '\0';
    return copy;
}

/* The arrivals of stop I into B: 0, or -1. */
static int ft_arrivals(int i, struct ft_board *b)
{
    char path[128], *body;
    int rc;

    snprintf(path, sizeof path, "/api/v1/stops/%.39s/arrivals", stop_ids[i]);
    body = ft_get(path, 200, NULL);
    if (!body)
        return -1;
    rc = ft_parse_json(body, b);
    free(body);
    return rc;
}

static void ft_load_stops(void)
{
    char *body = ft_get("/api/v1/stops", 200, NULL);
    json_error_t e;
    json_t *doc, *arr;

    assert_non_null(body);
    doc = json_loads(body, 0, &e);
    free(body);
    assert_non_null(doc);
    arr = json_object_get(doc, "stops");
    assert_true(json_is_array(arr));
    for (size_t i = 0; i < json_array_size(arr) && nstops < FT_STOPS_MAX; i++) {
        const char *id =
            json_string_value(json_object_get(json_array_get(arr, i), "id"));

        assert_non_null(id);
        /* Plain ids: they go into URLs and topics as they are. */
        for (const char *c = id; *c; c++)
            assert_true(isalnum((unsigned char)*c) || *c == '_' || *c == '-');
        snprintf(stop_ids[nstops++], sizeof stop_ids[0], "%s", id);
    }
    json_decref(doc);
    assert_true(nstops >= 5);
}

/* ---- 1. the page against the JSON ------------------------------------------
 */

/* For stop I (in LANG, NULL: the default): the page's rows and the
 * JSON's of the same generated time agree. Returns the tries it took. */
static int ft_check_page(int i, const char *lang)
{
    char path[160], why[256] = "";

    snprintf(path, sizeof path, "/?stop=%.39s%s%s", stop_ids[i],
             lang ? "&lang=" : "", lang ? lang : "");
    for (int t = 1; t <= FT_TRIES; t++) {
        struct ft_board j1, j2, pb;
        const struct ft_board *j = NULL;
        char *html;

        assert_int_equal(ft_arrivals(i, &j1), 0);
        html = ft_get(path, 200, NULL);
        assert_non_null(html);
        assert_int_equal(ft_arrivals(i, &j2), 0);
        if (ft_parse_page(html, &pb) != 0)
            fail_msg("%s: no generated time on the page", path);
        free(html);
        if (strcmp(pb.gen, j1.gen) == 0)
            j = &j1;
        else if (strcmp(pb.gen, j2.gen) == 0)
            j = &j2;
        if (!j) {
            snprintf(why, sizeof why, "page at %s, JSON at %s and %s", pb.gen,
                     j1.gen, j2.gen);
            continue;
        }
        if (ft_page_vs_json(&pb, j, why, sizeof why)[0]) {
            /* Two builds within one second of generated_at: a minute may
             * tick over between them. Anything else is a real difference. */
            if (ft_minutes_only(&pb, j))
                continue;
            fail_msg("%s at %s: %s", path, pb.gen, why);
        }
        return t;
    }
    fail_msg("%s and its JSON never carried the same generated time in %d "
             "tries (last: %s)",
             path, FT_TRIES, why);
    return -1;
}

/* ---- 2. headless Chromium --------------------------------------------------
 */

/* JSON boards of one stop seen while the browser ran, one per generated
 * time. */
static struct ft_board seen[1024];
static int nseen;

static void ft_seen_add(const struct ft_board *b)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i].gen, b->gen) == 0) {
            seen[i] = *b;
            return;
        }
    if (nseen < (int)(sizeof seen / sizeof *seen))
        seen[nseen++] = *b;
}

static const struct ft_board *ft_seen_find(const char *gen)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i].gen, gen) == 0)
            return &seen[i];
    return NULL;
}

/* Run Chromium headless with the options OPTS (a shell fragment) on the
 * page of stop I, stdout into OUT, polling stop I's JSON into `seen`
 * meanwhile. Its whole process group is killed afterwards. */
static void ft_chromium(int i, const char *opts, const char *out)
{
    char cmd[2048], log[1100];
    char *argv[] = {"sh", "-c", cmd, NULL};
    struct harness_proc *p;
    pid_t pid;
    int rc;

    snprintf(log, sizeof log, "%s/chromium.log", fleet.work);
    snprintf(cmd, sizeof cmd,
             "exec %s --headless --no-sandbox --disable-gpu "
             "--no-first-run --disable-dev-shm-usage --user-data-dir=%s/chrome "
             "%s 'http://127.0.0.1:%d/?stop=%.39s' >'%s'",
             FT_CHROMIUM, fleet.work, opts, live_port, stop_ids[i], out);
    nseen = 0;
    p = harness_spawn("chromium", argv, log);
    assert_non_null(p);
    pid = harness_pid(p);
    while (harness_alive(p)) {
        struct ft_board b;

        if (ft_arrivals(i, &b) == 0)
            ft_seen_add(&b);
        harness_sleep_ms(25);
    }
    rc = harness_wait(p, 60000);
    if (rc < 0)
        rc = harness_stop(p);
    /* Its renderers and helpers share its group. */
    (void)kill(-pid, SIGKILL);
    if (rc != 0) {
        harness_log_tail(log, 20);
        fail_msg("chromium %s exited with %d", opts, rc);
    }
}

static long long ft_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static char *ft_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    if (fread(b, 1, (size_t)n, fp) != (size_t)n)
        n = 0;
    b[n] = '\0';
    fclose(fp);
    if (len)
        *len = (size_t)n;
    return b;
}

/* The DOM Chromium dumped at PATH against the JSON of its generated time:
 * 0 when they agree. -1 (only when not LAST; else the test fails) when the
 * page's build was seen by no poll and its rows are neither the JSON's
 * before nor after it: the buses moved twice within the poll's reach, so
 * no JSON of that state exists to compare with, and the caller loads the
 * page again. */
static int ft_dom_check(const char *path, const char *what, int need_script,
                        int last)
{
    char *dom = ft_slurp(path, NULL), why[256];
    struct ft_board pb;
    const struct ft_board *j;

    assert_non_null(dom);
    if (ft_parse_page(dom, &pb) != 0)
        fail_msg("%s: no generated time in the DOM (%s)", what, path);
    /* The script's rows set their colour through the style object, which
     * the DOM gives back as rgb(); the server writes it as #hex. */
    if (need_script && pb.n > 0)
        assert_non_null(strstr(dom, "border-left-color: rgb("));
    if (!need_script)
        assert_null(strstr(dom, "border-left-color: rgb("));
    free(dom);
    j = ft_seen_find(pb.gen);
    if (j) {
        if (ft_page_vs_json(&pb, j, why, sizeof why)[0])
            fail_msg("%s at %s: %s", what, pb.gen, why);
    } else {
        /* The browser's own request made a build that no poll saw before
         * the buses moved again (a body of a changed state is of a new
         * build): its state lies between the JSON just before and just
         * after it. (Same zone and format: the times order as text.) */
        const struct ft_board *before = NULL, *after = NULL;
        char why2[256] = "";

        for (int i = 0; i < nseen; i++) {
            if (strcmp(seen[i].gen, pb.gen) < 0 &&
                (!before || strcmp(seen[i].gen, before->gen) > 0))
                before = &seen[i];
            if (strcmp(seen[i].gen, pb.gen) > 0 &&
                (!after || strcmp(seen[i].gen, after->gen) < 0))
                after = &seen[i];
        }
        if (!before && !after)
            fail_msg("%s: no JSON seen around %s", what, pb.gen);
        if ((!before || ft_page_vs_json(&pb, before, why, sizeof why)[0]) &&
            (!after || ft_page_vs_json(&pb, after, why2, sizeof why2)[0])) {
            if (!last) {
                print_message("%s at %s: unseen build between two changes "
                              "(before %s: %s; after %s: %s); again\n",
                              what, pb.gen, before ? before->gen : "-", why,
                              after ? after->gen : "-", why2);
                return -1;
            }
            fail_msg("%s at %s: neither the JSON before (%s: %s) nor after "
                     "(%s: %s) has its rows",
                     what, pb.gen, before ? before->gen : "-", why,
                     after ? after->gen : "-", why2);
        }
        print_message("%s: its time %s was seen by no poll; the JSON at %s "
                      "and %s around it\n",
                      what, pb.gen, before ? before->gen : "-",
                      after ? after->gen : "-");
    }
    print_message("%s: %d rows agree with the JSON at %s\n", what, pb.n,
                  pb.gen);
    return 0;
}

/* Load stop STOP's page in Chromium with OPTS, its DOM to OUT, and check
 * it; up to three loads when its build falls between two polls' states. */
static void ft_dom_run(int stop, const char *opts, const char *out,
                       const char *what, int need_script)
{
    for (int try = 1;; try++) {
        ft_chromium(stop, opts, out);
        if (ft_dom_check(out, what, need_script, try == 3) == 0)
            return;
    }
}

static void ft_browser(int stop)
{
    const char *art = getenv("SHUTTLE_ARTEFACTS_DIR");
    char out[1100], opts[1200], dst[1200];
    char *png;
    size_t len;
    FILE *fp;

    if (access(FT_CHROMIUM, X_OK) != 0) {
        print_message("no %s: the browser checks are skipped "
                      "(SHUTTLE_WITH_BROWSER=1 scripts/setup.sh installs "
                      "it)\n",
                      FT_CHROMIUM);
        return;
    }
    /* (a) with its script, past its first refresh (PUB_PAGE_REFRESH_MS,
     * 15 s: virtual time runs as fast as the page lets it). */
    snprintf(out, sizeof out, "%s/dom-js.html", fleet.work);
    ft_dom_run(stop, "--virtual-time-budget=20000 --dump-dom", out,
               "Chromium with JavaScript", 1);
    /* (b) without: the server's rows. */
    snprintf(out, sizeof out, "%s/dom-nojs.html", fleet.work);
    ft_chromium(stop, "--blink-settings=scriptEnabled=false --dump-dom", out);
    if (ft_file_size(out) > 0) {
        if (ft_dom_check(out, "Chromium without JavaScript", 0, 0) != 0)
            ft_dom_run(stop, "--blink-settings=scriptEnabled=false --dump-dom",
                       out, "Chromium without JavaScript", 0);
    } else {
        /* This Chromium's --dump-dom reads the DOM through script, so with
         * scripts off it dumps nothing. Second best: the DOM as loaded,
         * before the script's first refresh, is the server's rows as a
         * browser parses them. */
        print_message("Chromium dumps no DOM with scripts disabled; "
                      "checking its DOM before the script's first "
                      "refresh instead\n");
        ft_dom_run(stop, "--dump-dom", out,
                   "Chromium before the script's refresh", 0);
    }
    /* (c) the Korean page on a phone's screen, kept. */
    snprintf(out, sizeof out, "%s/page-ko.png", fleet.work);
    snprintf(opts, sizeof opts, "--screenshot=%s --window-size=412,915", out);
    ft_chromium(stop, opts, "/dev/null");
    png = ft_slurp(out, &len);
    assert_non_null(png);
    assert_true(len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    /* A blank 412x915 PNG is a few kB; a page with rows far more. */
    assert_true(len > 8000 && len < 8 * 1024 * 1024);
    if (art) {
        mkdir(art, 0755);
        snprintf(dst, sizeof dst, "%s/page-ko.png", art);
        fp = fopen(dst, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(png, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
        print_message("screenshot (%zu bytes) kept as %s\n", len, dst);
    }
    free(png);
}

/* ---- 3. the stop displays ---------------------------------------------------
 */

/* mosquitto_sub on TOPIC for its retained messages (COUNT of them, or
 * up to WAIT_S seconds): its "topic payload" lines, malloc'd. */
static char *ft_sub(const char *topic, int count, int wait_s, int64_t *ms)
{
    char cnt[16], w[16], out[1100];
    const char *args[] = {
        "-v", "--retained-only", "-C", cnt, "-W", w, "-t", topic, NULL};
    struct harness_proc *p;
    int64_t t0 = itest_wall_ms();
    char *text;
    static int runs;

    snprintf(cnt, sizeof cnt, "%d", count);
    snprintf(w, sizeof w, "%d", wait_s);
    snprintf(out, sizeof out, "%s/sub-%d.txt", fleet.work, ++runs);
    /* A stop display, with the identity the ACL gives displays. */
    p = harness_mosquitto_client(fleet.mq, "mosquitto_sub", "displays", args,
                                 out);
    assert_non_null(p);
    harness_wait(p, (wait_s + 5) * 1000);
    if (ms)
        *ms = itest_wall_ms() - t0;
    text = ft_slurp(out, NULL);
    assert_non_null(text);
    unlink(out);
    return text;
}

/* The payload of TOPIC in mosquitto_sub -v's LINES into B: 1 found, 0 not. */
static int ft_sub_find(const char *lines, const char *topic, struct ft_board *b)
{
    size_t n = strlen(topic);

    for (const char *p = lines; p && *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, topic, n) == 0 && p[n] == ' ') {
            char *one = strndup(p + n + 1, strcspn(p + n + 1, "\n"));
            int rc;

            assert_non_null(one);
            rc = ft_parse_json(one, b);
            free(one);
            if (rc != 0)
                fail_msg("%s: a payload that is not the display's JSON", topic);
            return 1;
        }
    }
    return 0;
}

/* Every stop's retained message against its JSON; then a display that
 * reconnects gets every board at once. */
static void ft_check_displays(void)
{
    int boards = 0, tries = 0;
    int64_t ms;
    char *all;

    for (int i = 0; i < nstops; i++) {
        char topic[128];
        int t;

        snprintf(topic, sizeof topic, "shuttle/v1/stops/%.39s/arrivals",
                 stop_ids[i]);
        for (t = 1; t <= FT_TRIES; t++) {
            struct ft_board j1, j2, s, d1, d2;
            char *lines;
            int have;

            assert_int_equal(ft_arrivals(i, &j1), 0);
            lines = ft_sub(topic, 1, 1, NULL);
            assert_int_equal(ft_arrivals(i, &j2), 0);
            have = ft_sub_find(lines, topic, &s);
            free(lines);
            ft_display_rows(&j1, &d1);
            ft_display_rows(&j2, &d2);
            /* The retained message was read between the two JSON builds:
             * it is the state of one of them. */
            if (!have) {
                if (d1.n == 0 || d2.n == 0)
                    break;
                continue;
            }
            if (s.gen_unix <= j2.gen_unix &&
                (ft_display_vs_json(&s, &j1) || ft_display_vs_json(&s, &j2))) {
                boards++;
                break;
            }
        }
        if (t > FT_TRIES)
            fail_msg("%s: the retained message never matched the JSON "
                     "API's arrivals in %d tries",
                     topic, FT_TRIES);
        tries += t;
    }
    print_message("stop displays: %d of %d stops with a board, all as the "
                  "JSON says (%d tries)\n",
                  boards, nstops, tries);
    assert_true(boards >= 1);
    /* A display that (re)connects: every board, retained, at once. */
    all = ft_sub("shuttle/v1/stops/+/arrivals", boards, 3, &ms);
    {
        int got = 0;

        for (const char *p = all; p && *p;
             p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            got += *p != '\n';
        print_message("a new subscriber got %d boards in %lld ms\n", got,
                      (long long)ms);
        assert_int_equal(got, boards);
        assert_true(ms < 2500);
    }
    free(all);
}

/* ---- the processes ------------------------------------------------------- */

static void ft_setup(void)
{
    static const char *const bopts[] = {"rebuild_interval_s=0", NULL};

    live_port = harness_free_port();
    assert_int_equal(itest_fleet_start(&fleet, "feeds", bopts), 0);
}

static struct harness_proc *ft_sim_start(void)
{
    char log[1100], truth[1100];
    const struct itest_fleet_sim s = {.date = day,
                                      .seed = "3",
                                      .speed = FT_SPEED,
                                      .start = FT_START,
                                      .end = FT_END,
                                      .truth = truth,
                                      .log = log,
                                      .extra = NULL};
    struct harness_proc *sim;

    snprintf(log, sizeof log, "%s/sim.log", fleet.work);
    snprintf(truth, sizeof truth, "%s/truth.csv", fleet.work);
    sim =
        itest_fleet_sim_start(&fleet, &s, day0_ms + (int64_t)FT_START_S * 1000);
    if (!sim)
        fail_msg("shuttle-sim did not start");
    return sim;
}

/* shuttle-live on the simulator's clock, rebuilding every 5 s (of the
 * monotonic clock, which is not faked) for the reports. */
static struct harness_proc *ft_live_start(void)
{
    static const char *const opts[] = {"rebuild_interval_s=5", NULL};
    char log[1100];
    struct harness_proc *p;

    snprintf(log, sizeof log, "%s/live.log", fleet.work);
    p = itest_fleet_live_start(&fleet, live_port, opts, log);
    assert_non_null(p);
    assert_int_equal(harness_wait_port(live_port, p, 15000), 0);
    return p;
}

/* ---- 4. HTTP behaviour
 * --------------------------------------------------------- */

static void ft_status(const char *method, const char *path, int want)
{
    struct itest_http_reply r;

    itest_http(live_port, method, path, NULL, &r);
    if (r.status != want)
        fail_msg("%s %.80s: %d, expected %d", method, path, r.status, want);
}

/* zlib's gunzip of the LEN bytes at IN into a malloc'd buffer (*OUTLEN). */
static unsigned char *ft_gunzip(const void *in, size_t len, size_t *outlen)
{
    z_stream z;
    size_t cap = 1 << 20;
    unsigned char *out = malloc(cap);
    int rc;

    assert_non_null(out);
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    rc = inflate(&z, Z_FINISH);
    assert_int_equal(rc, Z_STREAM_END);
    *outlen = z.total_out;
    inflateEnd(&z);
    return out;
}

static void ft_static_zip(void)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    struct itest_http_reply r;
    char dir[1024], path[1200];
    zip_source_t *zs;
    zip_error_t ze;
    zip_t *z;
    void *copy;
    DIR *d;
    struct dirent *de;
    int txt = 0;

    assert_int_equal(itest_http(live_port, "GET", "/gtfs/static.zip", NULL, &r),
                     200);
    copy = malloc(r.len);
    assert_non_null(copy);
    memcpy(copy, r.body, r.len);
    zip_error_init(&ze);
    zs = zip_source_buffer_create(copy, r.len, 1, &ze);
    assert_non_null(zs);
    z = zip_open_from_source(zs, ZIP_RDONLY, &ze);
    assert_non_null(z);
    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : "../..");
    /* Every GTFS file of the folder, byte for byte. */
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name), flen;
        zip_stat_t st;
        zip_file_t *zf;
        char *want, *got;

        if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
            continue;
        assert_true((size_t)snprintf(path, sizeof path, "%s/%s", dir,
                                     de->d_name) < sizeof path);
        want = ft_slurp(path, &flen);
        assert_non_null(want);
        if (zip_stat(z, de->d_name, 0, &st) != 0)
            fail_msg("static.zip lacks %s", de->d_name);
        assert_int_equal(st.size, flen);
        zf = zip_fopen(z, de->d_name, 0);
        assert_non_null(zf);
        got = malloc(flen + 1);
        assert_non_null(got);
        assert_int_equal(zip_fread(zf, got, flen), (zip_int64_t)flen);
        zip_fclose(zf);
        if (memcmp(got, want, flen) != 0)
            fail_msg("static.zip's %s differs from %s", de->d_name, path);
        free(got);
        free(want);
        txt++;
    }
    closedir(d);
    /* and nothing else */
    assert_int_equal(zip_get_num_entries(z, 0), txt);
    print_message("/gtfs/static.zip: %d files, as in deploy/gtfs\n", txt);
    zip_close(z);
}

static void ft_http(void)
{
    struct itest_http_reply r;
    char etag[256], hdr[512], v[256], *plain, *big;
    size_t plainlen, glen;
    unsigned char *g;
    const char *bad[] = {"/?lang=xx", "/?bogus=1",
                         "/report/daily?date=2026-13-01",
                         "/gtfs-rt?format=xml"};

    /* ETag, then a conditional GET of the same state. */
    assert_int_equal(itest_http(live_port, "GET", "/gtfs-rt", NULL, &r), 200);
    assert_non_null(itest_http_header(&r, "ETag", etag, sizeof etag));
    assert_non_null(itest_http_header(&r, "Cache-Control", v, sizeof v));
    assert_non_null(itest_http_header(&r, "Last-Modified", v, sizeof v));
    plain = malloc(r.len + 1);
    assert_non_null(plain);
    memcpy(plain, r.body, r.len);
    plainlen = r.len;
    assert_true(plainlen > 100);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\nAccept-Encoding: gzip\r\n",
             etag);
    itest_http(live_port, "GET", "/gtfs-rt", hdr, &r);
    if (r.status == 200) {
        /* Only when a build came between: its ETag is another. */
        itest_http_header(&r, "ETag", v, sizeof v);
        assert_string_not_equal(v, etag);
    } else {
        assert_int_equal(r.status, 304);
        assert_int_equal(r.len, 0);
    }
    /* gzip that zlib decodes to the plain bytes of the same ETag. */
    for (int t = 0;; t++) {
        assert_true(t < FT_TRIES);
        itest_http(live_port, "GET", "/gtfs-rt", NULL, &r);
        assert_int_equal(r.status, 200);
        itest_http_header(&r, "ETag", etag, sizeof etag);
        free(plain);
        plain = malloc(r.len + 1);
        assert_non_null(plain);
        memcpy(plain, r.body, r.len);
        plainlen = r.len;
        itest_http(live_port, "GET", "/gtfs-rt", "Accept-Encoding: gzip\r\n",
                   &r);
        assert_int_equal(r.status, 200);
        assert_non_null(itest_http_header(&r, "Content-Encoding", v, sizeof v));
        assert_string_equal(v, "gzip");
        assert_non_null(itest_http_header(&r, "Vary", v, sizeof v));
        g = ft_gunzip(r.body, r.len, &glen);
        itest_http_header(&r, "ETag", v, sizeof v);
        /* The same bytes when the same state (the ETag says which state,
         * with or without a gzip suffix). */
        if (strncmp(v, etag, strlen(etag) - 1) == 0) {
            assert_int_equal(glen, plainlen);
            assert_memory_equal(g, plain, glen);
            free(g);
            break;
        }
        free(g);
    }
    free(plain);
    /* HEAD: the headers, no body. */
    assert_int_equal(itest_http(live_port, "HEAD", "/gtfs-rt", NULL, &r), 200);
    assert_int_equal(r.len, 0);
    assert_non_null(itest_http_header(&r, "Content-Length", v, sizeof v));
    assert_true(atol(v) > 100);
    /* Anything but GET and HEAD. */
    assert_int_equal(itest_http(live_port, "POST", "/gtfs-rt", NULL, &r), 405);
    assert_non_null(itest_http_header(&r, "Allow", v, sizeof v));
    assert_non_null(strstr(v, "GET"));
    /* The text form decodes. */
    assert_int_equal(
        itest_http(live_port, "GET", "/gtfs-rt?format=text", NULL, &r), 200);
    assert_non_null(strstr(r.body, "header {"));
    ft_static_zip();
    /* Bad input. */
    assert_int_equal(
        itest_http(live_port, "GET", "/api/v1/stops/NOPE/arrivals", NULL, &r),
        404);
    assert_non_null(itest_http_header(&r, "Content-Type", v, sizeof v));
    assert_non_null(strstr(v, "application/json"));
    {
        json_error_t e;
        json_t *doc = json_loads(r.body, 0, &e);

        assert_non_null(doc);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(doc, "error"), "status")),
                         404);
        json_decref(doc);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ft_status("GET", bad[i], 400);
    big = malloc(3001);
    assert_non_null(big);
    memset(big, 'a', 3000);
    big[0] = '/';
    big[3000] = '\0';
    ft_status("GET", big, 414);
    free(big);
    ft_status("GET", "/nope", 404);
    /* Still alive and serving. */
    assert_true(harness_alive(live));
    ft_status("GET", "/gtfs-rt", 200);
    ft_status("GET", "/api/v1/stops", 200);
}

/* ---- 5. the operators' pages ------------------------------------------------
 */

static double ft_metric(const char *series)
{
    char *m = ft_get("/metrics", 200, NULL);
    double v;

    if (!m)
        return -1;
    v = itest_metric_value(m, series);
    free(m);
    return v;
}

static void ft_reports(void)
{
    char out[1100], log[1100], path[128];
    double r0 = ft_metric("shuttle_live_rebuilds_total");
    char *json, *html, want[96];
    json_t *doc;
    json_error_t e;
    long long boarded;
    int waited;

    /* A rebuild that started after the last fix has finished. */
    for (waited = 0; ft_metric("shuttle_live_rebuilds_total") < r0 + 2;
         waited += 200) {
        if (waited > 20000)
            fail_msg("shuttle-live did not rebuild (rebuilds %.0f)", r0);
        harness_sleep_ms(200);
    }
    snprintf(out, sizeof out, "%s/report.json", fleet.work);
    {
        char sh[2048];
        char *sargv[] = {"sh", "-c", sh, NULL};

        /* Its JSON on stdout alone: the harness appends stderr to LOG. */
        snprintf(sh, sizeof sh,
                 "exec '%s' -o '%s' --format json daily --date %s >'%s'",
                 harness_bin("shuttle-report"), fleet.dbopt, day, out);
        snprintf(log, sizeof log, "%s/report.log", fleet.work);
        assert_int_equal(itest_fleet_run("shuttle-report", sargv, log, 60000),
                         0);
    }
    json = ft_slurp(out, NULL);
    assert_non_null(json);
    doc = json_loads(json, 0, &e);
    if (!doc)
        fail_msg("shuttle-report's JSON: %s: %.200s", e.text, json);
    free(json);
    assert_true(json_is_integer(
        json_object_get(json_object_get(doc, "summary"), "boarded")));
    boarded = json_integer_value(
        json_object_get(json_object_get(doc, "summary"), "boarded"));
    json_decref(doc);
    print_message("shuttle-report daily %s: %lld boarded\n", day, boarded);
    assert_true(boarded > 0);
    snprintf(path, sizeof path, "/report/daily?date=%s", day);
    {
        struct itest_http_reply r;
        char ct[128];

        int64_t t0 = itest_mono_ms();

        /* The report runs in shuttle-live's child: 503 until it is. */
        for (;;) {
            itest_http(live_port, "GET", path, NULL, &r);
            if (r.status == 200 || itest_mono_ms() - t0 > 20000)
                break;
            harness_sleep_ms(200);
        }
        print_message("%s: %d after %lld ms\n", path, r.status,
                      (long long)(itest_mono_ms() - t0));
        if (r.status != 200)
            harness_log_tail(harness_proc_log(live), 20);
        assert_int_equal(r.status, 200);
        assert_non_null(itest_http_header(&r, "Content-Type", ct, sizeof ct));
        assert_non_null(strstr(ct, "text/html"));
        html = strdup(r.body);
        assert_non_null(html);
    }
    snprintf(want, sizeof want, "id=\"boarded\" data-value=\"%lld\"", boarded);
    if (!strstr(html, want))
        fail_msg("%s lacks %s", path, want);
    free(html);
    html = ft_get("/fleet", 200, NULL);
    assert_non_null(html);
    for (int i = 1; i <= NBUS; i++) {
        char vid[16];

        snprintf(vid, sizeof vid, "bus-%d", i);
        if (!strstr(html, vid))
            fail_msg("/fleet lacks %s", vid);
    }
    free(html);
}

/* ---- the test ------------------------------------------------------------ */

static void test_feeds(void **state)
{
    struct harness_proc *sim;
    int moment = 0, rc, waited;

    (void)state;
    day0_ms = itest_fleet_last_monday(day, sizeof day);
    ft_setup();
    sim = ft_sim_start();
    live = ft_live_start();
    for (waited = 0;; waited += 100) {
        char *b = ft_get("/api/v1/stops", 200, NULL);

        free(b);
        if (b)
            break;
        if (waited > 20000)
            fail_msg("shuttle-live never served /api/v1/stops");
        harness_sleep_ms(100);
    }
    ft_load_stops();
    while (harness_alive(sim) || moment < FT_NMOMENTS) {
        int64_t now = itest_fleet_now(&fleet);
        int best = 0, most = -1, tries = 0;

        if (moment == FT_NMOMENTS ||
            now < day0_ms + ft_moments[moment] * 1000LL) {
            harness_sleep_ms(100);
            continue;
        }
        print_message("checks at %02d:%02d simulated\n",
                      (int)((now - day0_ms) / 3600000),
                      (int)((now - day0_ms) / 60000 % 60));
        for (int i = 0; i < nstops; i++) {
            struct ft_board b;

            tries += ft_check_page(i, i == 0 ? "en" : NULL);
            assert_int_equal(ft_arrivals(i, &b), 0);
            if (b.n > most) {
                most = b.n;
                best = i;
            }
        }
        print_message("page = JSON for %d stops (%d tries)\n", nstops, tries);
        assert_true(most > 0);
        ft_check_displays();
        if (moment == 1)
            ft_browser(best);
        moment++;
    }
    rc = harness_wait(sim, 5000);
    if (rc != 0)
        harness_log_tail(harness_proc_log(sim), 20);
    assert_int_equal(rc, 0);
    assert_int_equal(moment, FT_NMOMENTS);
    ft_http();
    ft_reports();
    assert_true(harness_alive(live));
    assert_int_equal(harness_stop(live), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feeds),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    harness_cleanup();
    return rc;
}
