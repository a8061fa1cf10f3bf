/* test_pub_page: the workers' page and the fleet page over a hand-made
 * timetable, predictions and buses: the rows equal pub_board's, Korean by
 * default and English on request, hostile names escaped, an empty stop
 * said so, the tags balanced (a tiny checker below), the string table the
 * script reads, the fleet's attention marks, and the size of a page for a
 * feed the size of Geomdan's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "pub_board.h"
#include "pub_json.h"
#include "pub_page.h"
#include "testfeed.h"

#define H(h, m, s) TESTFEED_H(h, m, s)
#define MS(secs) TESTFEED_MS(secs)
#define NSTOPS_MAX TESTFEED_STOPS_MAX
#define NTRIPS_MAX TESTFEED_TRIPS_MAX
#define NPOS TESTFEED_POS_MAX

struct world {
    struct live_vehicle veh[3];
    const struct live_vehicle *vp[3];
    struct pub_bus buses[5];
    struct pub_stop_name sn[NSTOPS_MAX];
    struct pub_route routes[2];
    int trip_route[NTRIPS_MAX];
    const char *headsign[NTRIPS_MAX], *headsign_en[NTRIPS_MAX];
    struct pub_names names;
    struct pub_view v;
};

static struct world w;
static struct testfeed tf;

static void world_names(void)
{
    w.routes[0] = (struct pub_route){
        "R1",     "1",     "검암역 - 검단산단", "Geomam - Industrial Complex",
        "1E88E5", "FFFFFF"};
    w.routes[1] = (struct pub_route){"R2",
                                     "2",
                                     "검단신도시 - 검단산단",
                                     "New Town - Industrial Complex",
                                     "43A047;x",
                                     ""};
    w.names.stops = w.sn;
    w.names.nstops = tf.f.nstops;
    w.names.routes = w.routes;
    w.names.nroutes = 2;
    w.names.trip_route = w.trip_route;
    w.names.trip_headsign = w.headsign;
    w.names.trip_headsign_en = w.headsign_en;
    w.names.feed_version = "2023-12-01";
    testfeed_view(&w.v, &tf);
    w.v.names = &w.names;
    w.v.vehicles = w.vp;
    w.v.nvehicles = 3;
    w.v.generation = 7;
}

/* The next trip: its NPOS_T stops STOPS from START_S, 2 min apart. */
static void world_trip(const int *stops, int npos_t, int start_s, int route)
{
    char route_id[16];
    size_t t;

    snprintf(route_id, sizeof route_id, "R%d", route + 1);
    t = testfeed_trip(&tf, NULL, route_id, "blk", 0, stops, (size_t)npos_t,
                      start_s, 120);
    w.trip_route[t] = route;
    w.headsign[t] = route == 0 ? "검단산단" : "검단신도시";
    w.headsign_en[t] = route == 0 ? "Industrial Complex" : "New Town";
}

/* Trip T predicted LATE_S behind on VEHICLE, LOAD on board, its 80 %
 * interval -LO_S / +HI_S. */
static void world_pred(int t, int vehicle, int late_s, int load, int lo_s,
                       int hi_s)
{
    struct testfeed_pred p = {.state = LIVE_TRIP_ACTIVE,
                              .vehicle = vehicle,
                              .late_s = late_s,
                              .dwell_s = 20,
                              .lo_s = lo_s,
                              .hi_s = hi_s,
                              .load = load};

    testfeed_pred(&tf, t, &p);
}

/* Stops A B C D (D served by nothing); at A at 07:59:30:
 * T0 R1 08:00 live 20 s early (arriving), 20 on board (25 seats free);
 * T1 R1 08:10 timetable; T2 R2 08:20 cancelled; T3 R1 07:55 left A at
 * 07:56 (departed 3 min ago); T4 R2 08:40 live, interval -3 / +5 min. */
static void world_small(void)
{
    static const int abc[] = {0, 1, 2};
    static const char *const ids[] = {"A", "B", "C", "D"};

    memset(&w, 0, sizeof w);
    testfeed_stops(&tf, ids, 4, 37.5, 127.0, 0, 0.005);
    w.sn[0] = (struct pub_stop_name){"검암역", "Geomam Station", "A", ""};
    w.sn[1] = (struct pub_stop_name){"<script>alert(1)</script>",
                                     "Say \"hi\" & 'bye'", "B", ""};
    w.sn[2] = (struct pub_stop_name){"bad \xff\xfe utf8", "", "C", ""};
    w.sn[3] = (struct pub_stop_name){"빈 정류장", "Empty stop", "D", ""};
    world_trip(abc, 3, H(8, 0, 0), 0);
    world_trip(abc, 3, H(8, 10, 0), 0);
    world_trip(abc, 3, H(8, 20, 0), 1);
    world_trip(abc, 3, H(7, 55, 0), 0);
    world_trip(abc, 3, H(8, 40, 0), 1);
    w.headsign[1] = "\"><img src=x onerror=alert(1)>";
    testfeed_finish(&tf);
    world_names();

    for (int i = 0; i < 3; i++) {
        snprintf(w.veh[i].id, sizeof w.veh[i].id, "V%d", i + 1);
        w.veh[i].trip = -1;
        w.vp[i] = &w.veh[i];
    }
    world_pred(0, 0, -20, 20, 30, 60);
    world_pred(3, 1, 0, 10, 30, 60);
    tf.sp[3][0].kind = LIVE_KIND_DEPARTED;
    tf.sp[3][0].dep_ms = MS(H(7, 56, 0));
    world_pred(2, -1, 0, -1, 0, 0);
    tf.tp[2].state = LIVE_TRIP_CANCELED;
    for (int j = 0; j < 3; j++)
        tf.sp[2][j].kind = LIVE_KIND_CANCELED;
    world_pred(4, 2, 0, 5, 180, 300);
    w.v.now_ms = MS(H(7, 59, 30));
}

static char *page(const char *stop, const char *route, const char *lang)
{
    struct pub_page_req req = {route, stop, lang};
    char *out = NULL, err[128];
    size_t len = 0;

    assert_int_equal(pub_page_workers(&w.v, &req, &out, &len, err, sizeof err),
                     PUB_PAGE_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

/* The value of attribute NAME in the tag starting at TAG (up to its '>'),
 * into VAL; 0 when the tag has none. */
static int attr(const char *tag, const char *name, char *val, size_t vallen)
{
    const char *end = strchr(tag, '>');
    char pat[64];
    const char *p;
    size_t n;

    snprintf(pat, sizeof pat, " %s=\"", name);
    p = strstr(tag, pat);
    if (p == NULL || p > end)
        return 0;
    p += strlen(pat);
    n = (size_t)(strchr(p, '"') - p);
    assert_true(n < vallen);
    memcpy(val, p, n);
    val[n] = '\0';
    return 1;
}

/* The page's board rows against pub_board's: same trips, same order, same
 * minutes, seats and status; ROUTE (-1 any) as the page filters. */
static void assert_rows_match(const char *html, int stop, int route)
{
    struct pub_board b;
    const char *p = html;
    size_t k = 0;
    char val[128];

    assert_int_equal(pub_board_stop(&w.v, stop, &b), PUB_BOARD_OK);
    for (size_t i = 0; i < b.nrows; i++) {
        const struct pub_board_row *r = &b.rows[i];

        if (route >= 0 && r->route != route)
            continue;
        p = strstr(p, "<li class=\"row");
        assert_non_null(p);
        assert_true(attr(p, "data-trip", val, sizeof val));
        assert_string_equal(val, tf.trips[r->trip].id);
        assert_true(attr(p, "data-minutes", val, sizeof val));
        assert_int_equal(atoi(val), r->minutes);
        assert_true(attr(p, "data-seats", val, sizeof val));
        assert_int_equal(atoi(val), r->seats_free);
        assert_true(attr(p, "data-status", val, sizeof val));
        assert_string_equal(val, pub_board_status_name(r->status));
        p++;
        k++;
    }
    assert_null(strstr(p, "<li class=\"row"));
    assert_true(k > 0 || strstr(html, "<li class=\"none\">") != NULL);
}

/* The page's rows against the JSON API's arrivals for the same view: the
 * data- attributes a browser test compares, equal field by field. */
static void test_matches_json(void **state)
{
    const char *stops[] = {"A", "B"};

    (void)state;
    world_small();
    for (int s = 0; s < 2; s++) {
        char *html = page(stops[s], NULL, "en"), *doc = NULL, err[128];
        const char *p = html;
        size_t len, i;
        json_t *j, *arr;
        json_error_t jerr;
        char val[128];

        assert_int_equal(
            pub_json_arrivals(&w.v, s, &doc, &len, err, sizeof err),
            PUB_JSON_OK);
        j = json_loads(doc, 0, &jerr);
        assert_non_null(j);
        arr = json_object_get(j, "arrivals");
        assert_true(json_array_size(arr) > 0);
        for (i = 0; i < json_array_size(arr); i++) {
            json_t *a = json_array_get(arr, i);
            json_t *seats = json_object_get(a, "seats_free");

            p = strstr(p, "<li class=\"row");
            assert_non_null(p);
            assert_true(attr(p, "data-trip", val, sizeof val));
            assert_string_equal(val,
                                json_string_value(json_object_get(a, "trip")));
            assert_true(attr(p, "data-minutes", val, sizeof val));
            assert_int_equal(atoi(val),
                             json_integer_value(json_object_get(a, "minutes")));
            assert_true(attr(p, "data-seats", val, sizeof val));
            assert_int_equal(atoi(val), json_is_null(seats)
                                            ? -1
                                            : json_integer_value(seats));
            assert_true(attr(p, "data-status", val, sizeof val));
            assert_string_equal(
                val, json_string_value(json_object_get(a, "status")));
            p++;
        }
        assert_null(strstr(p, "<li class=\"row"));
        json_decref(j);
        free(doc);
        free(html);
    }
}

/* Tags balanced, void elements unclosed, script and style bodies skipped;
 * no raw '>' in text and no '<' or '>' in attribute values (so whatever
 * came from the feed was escaped). */
static void assert_well_formed(const char *html)
{
    static const char *const voids[] = {"meta", "input", "br",
                                        "img",  "link",  "hr"};
    char stack[64][16];
    int depth = 0;
    const char *p = html;

    assert_true(strncmp(p, "<!DOCTYPE html>\n", 16) == 0);
    p += 16;
    while (*p != '\0') {
        char name[16];
        size_t n = 0;
        int closing;
        const char *q;

        if (*p != '<') {
            assert_true(*p != '>');
            p++;
            continue;
        }
        closing = p[1] == '/';
        q = p + 1 + closing;
        while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) {
            assert_true(n < sizeof name - 1);
            name[n++] = *q++;
        }
        name[n] = '\0';
        assert_true(n > 0);
        /* To the tag's end, attribute values quoted. */
        while (*q != '>') {
            assert_true(*q != '\0' && *q != '<');
            if (*q == '"') {
                for (q++; *q != '"'; q++)
                    assert_true(*q != '\0' && *q != '<' && *q != '>');
            }
            q++;
        }
        if (q[-1] == '/') {
            /* self-closing (SVG) */
        } else if (closing) {
            assert_true(depth > 0);
            depth--;
            assert_string_equal(stack[depth], name);
        } else {
            int is_void = 0;

            for (size_t i = 0; i < sizeof voids / sizeof voids[0]; i++)
                is_void |= strcmp(voids[i], name) == 0;
            if (!is_void) {
                assert_true(depth < 64);
                strcpy(stack[depth++], name);
            }
            if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0) {
                char end[24];

                snprintf(end, sizeof end, "</%s>", name);
                q = strstr(q, end);
                assert_non_null(q);
                q--; /* the closing tag is read next */
            }
        }
        p = q + 1;
    }
    assert_int_equal(depth, 0);
}

static void test_rows_match_board(void **state)
{
    char *html;

    (void)state;
    world_small();
    html = page("A", NULL, NULL);
    assert_rows_match(html, 0, -1);
    /* Departed, arriving, timetable, cancelled, live with a range. */
    assert_non_null(strstr(html, "data-trip=\"T3\" data-minutes=\"3\""));
    assert_non_null(strstr(html, "3분 전 출발"));
    assert_non_null(strstr(html, "<span class=\"min\">곧 도착</span>"));
    assert_non_null(strstr(html, "좌석 25석 이상"));
    assert_non_null(strstr(html, "실시간 정보 없음 — 시간표"));
    assert_non_null(strstr(html, "<span class=\"st\">운행 취소</span>"));
    assert_non_null(strstr(html, "37–45분"));
    assert_non_null(strstr(html, "좌석 정보 없음"));
    /* The route colour only when it is a colour. */
    assert_non_null(strstr(html, "style=\"border-left-color:#1E88E5\""));
    assert_null(strstr(html, "43A047"));
    assert_well_formed(html);
    free(html);

    /* A route chosen: its rows only, its stops only in the list. */
    html = page("A", "R2", "en");
    assert_rows_match(html, 0, 1);
    assert_null(strstr(html, "data-trip=\"T0\""));
    assert_non_null(strstr(html, "data-trip=\"T4\""));
    assert_non_null(strstr(html, "<option value=\"R2\" selected>"));
    assert_null(strstr(html, "<option value=\"D\""));
    assert_well_formed(html);
    free(html);
}

static void test_languages(void **state)
{
    char *html;

    (void)state;
    world_small();
    html = page("A", "", NULL);
    assert_non_null(strstr(html, "<html lang=\"ko\">"));
    assert_non_null(strstr(html, "<h2 id=\"bh\">검암역</h2>"));
    assert_non_null(strstr(html, "<label for=\"stop\">정류장</label>"));
    assert_non_null(strstr(html, "href=\"?stop=A&amp;lang=en\""));
    assert_null(strstr(html, " min<"));
    free(html);

    html = page("A", "R1", "en");
    assert_non_null(strstr(html, "<html lang=\"en\">"));
    assert_non_null(strstr(html, "<h2 id=\"bh\">Geomam Station</h2>"));
    assert_non_null(strstr(html, "<span class=\"min\">arriving</span>"));
    assert_non_null(strstr(html, "departed 3 min ago"));
    assert_non_null(strstr(html, "no live data — timetable"));
    assert_non_null(strstr(html, "25+ seats free"));
    assert_non_null(strstr(html, "Industrial Complex"));
    assert_non_null(strstr(html, "href=\"?stop=A&amp;route=R1&amp;lang=ko\""));
    assert_null(strstr(html, "분<"));
    free(html);

    /* Anything else is Korean; the footer has the time and the version. */
    html = page("A", NULL, "xx\"><b>");
    assert_non_null(strstr(html, "<html lang=\"ko\">"));
    assert_non_null(strstr(html, "datetime=\"2023-12-09T07:59:30+09:00\" "
                                 "data-generation=\"7\">07:59:30</time>"));
    assert_non_null(strstr(html, "2023-12-01"));
    assert_non_null(
        strstr(html, "<noscript><meta http-equiv=\"refresh\" content=\"30\">"));
    assert_non_null(strstr(html, "aria-live=\"polite\""));
    free(html);
}

static void test_escaping(void **state)
{
    char *html;

    (void)state;
    world_small();
    html = page("B", NULL, "ko");
    assert_null(strstr(html, "<script>alert"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_null(strstr(html, "<img"));
    assert_non_null(strstr(html, "&quot;&gt;&lt;img src=x"));
    assert_well_formed(html);
    free(html);

    html = page("B", NULL, "en");
    assert_non_null(strstr(html, "Say &quot;hi&quot; &amp; &#39;bye&#39;"));
    assert_well_formed(html);
    free(html);

    /* Invalid UTF-8 becomes U+FFFD; an unknown, hostile stop id in the
     * request is not echoed. */
    html = page("<x>\"", NULL, NULL);
    assert_non_null(strstr(html, "bad \xef\xbf\xbd\xef\xbf\xbd utf8"));
    assert_null(strstr(html, "\xff"));
    assert_null(strstr(html, "<x>"));
    assert_non_null(strstr(html, "알 수 없는 정류장입니다"));
    assert_null(strstr(html, "<li class=\"row"));
    assert_well_formed(html);
    free(html);
}

/* A stop no trip boards at (D), or only ends at (C), says so. */
static void test_no_buses(void **state)
{
    char *html;

    (void)state;
    world_small();
    html = page("D", NULL, NULL);
    assert_non_null(strstr(html, "<li class=\"none\">앞으로 90분 동안"));
    assert_null(strstr(html, "<li class=\"row"));
    free(html);
    html = page("C", NULL, "en");
    assert_non_null(strstr(html, "No buses at this stop in the next 90"));
    free(html);
    /* No stop chosen: the form and a prompt, no list items. */
    html = page(NULL, NULL, NULL);
    assert_non_null(strstr(html, "노선과 정류장을 고르세요"));
    assert_null(strstr(html, "<li"));
    assert_well_formed(html);
    free(html);
}

/* The script's config: the same string table as the C side, the stop and
 * route, the route badges. Read back from the escaped attribute. */
static void test_script_table(void **state)
{
    char *html, *p, *q, *raw;
    size_t n = 0;
    json_t *c, *t;
    json_error_t jerr;

    (void)state;
    world_small();
    html = page("A", "R1", "en");
    p = strstr(html, "data-cfg=\"");
    assert_non_null(p);
    p += strlen("data-cfg=\"");
    q = strchr(p, '"');
    raw = malloc((size_t)(q - p) + 1);
    assert_non_null(raw);
    /* Undo the attribute escaping: &quot; &amp; &lt; &gt; &#39;. */
    while (p < q) {
        static const char *const ent[][2] = {{"&quot;", "\""},
                                             {"&amp;", "&"},
                                             {"&lt;", "<"},
                                             {"&gt;", ">"},
                                             {"&#39;", "'"}};
        size_t e = 0;

        while (e < 5 && strncmp(p, ent[e][0], strlen(ent[e][0])) != 0)
            e++;
        if (e < 5) {
            raw[n++] = ent[e][1][0];
            p += strlen(ent[e][0]);
        } else {
            raw[n++] = *p++;
        }
    }
    raw[n] = '\0';
    c = json_loads(raw, 0, &jerr);
    assert_non_null(c);
    t = json_object_get(c, "t");
    assert_string_equal(json_string_value(json_object_get(t, "min")),
                        "{n} min");
    assert_string_equal(json_string_value(json_object_get(t, "min")),
                        pub_page_text("min", "en"));
    assert_string_equal(json_string_value(json_object_get(t, "st_scheduled")),
                        "no live data — timetable");
    assert_string_equal(json_string_value(json_object_get(c, "stop")), "A");
    assert_string_equal(json_string_value(json_object_get(c, "route")), "R1");
    assert_string_equal(json_string_value(json_object_get(c, "lang")), "en");
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(c, "routes"), "R1"), 1)),
        "1E88E5");
    assert_int_equal(json_integer_value(json_object_get(c, "every")), 15000);
    json_decref(c);
    free(raw);
    free(html);

    assert_string_equal(pub_page_text("min", NULL), "{n}분");
    assert_string_equal(pub_page_text("nope", "en"), "");
}

/* The route map: drawn only with a route chosen, one circle per stop of
 * its longest trip, the chosen stop marked, a dot per live bus on it. */
static void test_map(void **state)
{
    char *html;
    size_t stops = 0, buses = 0;
    const char *p;

    (void)state;
    world_small();
    w.veh[2].trip = 4;
    w.veh[2].status = LIVE_STATUS_IN_TRANSIT;
    w.veh[2].lat = 37.5;
    w.veh[2].lon = 127.0025;
    w.veh[1].trip = 3; /* on R1: not drawn on R2's map */
    w.veh[1].lat = 37.5;
    w.veh[1].lon = 127.001;
    html = page("B", "R2", NULL);
    for (p = html; (p = strstr(p, "<circle")) != NULL; p++) {
        stops += strncmp(p, "<circle cx", 10) == 0;
        buses += strncmp(p, "<circle class=\"bus\" ", 20) == 0;
    }
    assert_int_equal(stops, 3);
    assert_int_equal(buses, 1);
    assert_non_null(strstr(html, "노선도 — 버스 1대"));
    assert_non_null(strstr(html, "r=\"8\" fill=\"#111\""));
    /* R2's colour is not a colour: the default stroke. */
    assert_non_null(strstr(html, "stroke=\"#555555\""));
    /* A to C west to east across the 300 px: first and last x. */
    assert_non_null(strstr(html, "points=\"12.0,"));
    assert_non_null(strstr(html, " 288.0,"));
    assert_well_formed(html);
    free(html);

    html = page("B", NULL, NULL);
    assert_null(strstr(html, "<svg"));
    free(html);
}

/* The cache key: same key, same bytes; unknown ids share one page; every
 * key below the count. */
static void test_keys(void **state)
{
    struct pub_page_req a = {NULL, "nope", NULL}, b = {"R9", "<x>", "ko"};
    char *pa, *pb;
    size_t seen[64] = {0}, n;

    (void)state;
    world_small();
    n = pub_page_workers_nkeys(&w.v);
    assert_int_equal(n, (4 + 2) * (2 + 1) * 2);
    assert_int_equal(pub_page_workers_key(&w.v, &a),
                     pub_page_workers_key(&w.v, &b));
    pa = page("nope", NULL, NULL);
    pb = page("<x>", "R9", "ko");
    assert_string_equal(pa, pb);
    free(pa);
    free(pb);
    /* Every (stop, route, lang) a distinct key. */
    {
        const char *stops[] = {NULL, "?", "A", "B", "C", "D"};
        const char *routes[] = {NULL, "R1", "R2"};
        const char *langs[] = {"ko", "en"};

        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++)
                for (int l = 0; l < 2; l++) {
                    struct pub_page_req r = {routes[j], stops[i], langs[l]};
                    size_t k = pub_page_workers_key(&w.v, &r);

                    assert_true(k < n);
                    assert_int_equal(seen[k], 0);
                    seen[k] = 1;
                }
    }
}

static void test_fleet(void **state)
{
    char *html = NULL, err[128];
    size_t len = 0, rows = 0, warn = 0;
    const char *p;

    (void)state;
    world_small();
    for (int i = 0; i < 5; i++) {
        struct pub_bus *b = &w.buses[i];

        snprintf(b->id, sizeof b->id, "B%d", i + 1);
        b->vehicle = -1;
        b->status_known = true;
        b->online = true;
        b->fix_ms = w.v.now_ms - 5000;
        b->lat = 37.56930;
        b->lon = 126.67380;
        b->load = 10;
        b->gps_mode = 3;
        b->gps_connected = true;
        strcpy(b->counter_state, "ok");
        strcpy(b->version, "1.4.2");
        b->oldest_unacked_age_s = -1;
    }
    w.buses[0].vehicle = 0;
    w.veh[0].trip = 0;
    w.veh[0].status = LIVE_STATUS_IN_TRANSIT;
    w.veh[0].delay_s = -20;
    w.buses[1].online = false;
    w.buses[2].fix_ms = w.v.now_ms - 91000;
    w.buses[2].lat = NAN;
    w.buses[3].spool_records = 1001;
    w.buses[3].spool_bytes = 65536;
    w.buses[3].oldest_unacked_age_s = 600;
    strcpy(w.buses[4].counter_state, "fault");
    strcpy(w.buses[4].id, "<b>x</b>");
    w.v.buses = w.buses;
    w.v.nbuses = 5;

    assert_int_equal(pub_page_fleet(&w.v, NULL, &html, &len, err, sizeof err),
                     PUB_PAGE_OK);
    assert_int_equal(len, strlen(html));
    for (p = html; (p = strstr(p, "<tr")) != NULL; p++) {
        rows++;
        warn += strncmp(p, "<tr class=\"warn\">", 17) == 0;
    }
    assert_int_equal(rows, 6); /* the header and five buses */
    assert_int_equal(warn, 4);
    assert_non_null(strstr(html, "<html lang=\"ko\">"));
    assert_non_null(strstr(html, "버스<span lang=\"en\">Bus</span>"));
    assert_non_null(strstr(html, "<tr><td>B1</td><td>online</td><td>5 s</td>"
                                 "<td>37.56930, 126.67380</td><td>T0 / 1</td>"
                                 "<td>in_transit</td><td>-20 s</td>"));
    assert_non_null(strstr(html, "⚠ offline"));
    assert_non_null(strstr(html, "<td>91 s</td><td>—</td>"));
    assert_non_null(strstr(html, "⚠ stale fix"));
    assert_non_null(strstr(html, "1001 / 65536 / 10 min"));
    assert_non_null(strstr(html, "⚠ spool backlog"));
    assert_non_null(strstr(html, "⚠ counter fault"));
    assert_non_null(strstr(html, "&lt;b&gt;x&lt;/b&gt;"));
    assert_non_null(strstr(html, "버스 5대 · 주의 필요 4대"));
    assert_well_formed(html);
    free(html);

    assert_int_equal(pub_page_fleet(&w.v, "en", &html, &len, err, sizeof err),
                     PUB_PAGE_OK);
    assert_non_null(strstr(html, "<th scope=\"col\">Forged acks refused</th>"));
    assert_non_null(strstr(html, "5 buses · 4 need attention"));
    assert_well_formed(html);
    free(html);

    w.v.nbuses = 0;
    assert_int_equal(pub_page_fleet(&w.v, "en", &html, &len, err, sizeof err),
                     PUB_PAGE_OK);
    assert_non_null(strstr(html, "No buses known"));
    assert_null(strstr(html, "<table"));
    free(html);
}

static void test_invalid(void **state)
{
    struct pub_page_req req = {NULL, "A", NULL};
    struct pub_view empty = {0};
    char *out = (char *)1, err[128] = "";

    (void)state;
    assert_int_equal(
        pub_page_workers(&empty, &req, &out, NULL, err, sizeof err),
        PUB_PAGE_ERR_INVALID);
    assert_null(out);
    assert_true(err[0] != '\0');
    out = (char *)1;
    assert_int_equal(pub_page_fleet(NULL, "en", &out, NULL, err, sizeof err),
                     PUB_PAGE_ERR_INVALID);
    assert_null(out);

    /* A view with a feed but no names or predictions still renders. */
    world_small();
    w.v.names = NULL;
    w.v.trips = NULL;
    w.v.ntrips = 0;
    out = page("A", "R1", NULL);
    assert_non_null(strstr(out, "<h2 id=\"bh\">A</h2>"));
    assert_well_formed(out);
    free(out);
}

/* The Geomdan feed's shape: its 13 stops with their names (as in
 * deploy/gtfs), 2 routes of 8 stops, 52 trips every 15 min each way from
 * 06:00, some live: the fullest board fits well under 30 KB. */
static void test_size_geomdan(void **state)
{
    static const char *const gd[][3] = {
        {"GA01", "검암역", "Geomam Station (AREX, Incheon Line 2)"},
        {"GA02", "독정역", "Dokjeong Station (Incheon Line 2)"},
        {"GA03", "완정역", "Wanjeong Station (Incheon Line 2)"},
        {"NT01", "검단신도시 중심상업지구", "Geomdan New Town centre"},
        {"NT02", "마전역", "Majeon Station (Incheon Line 2)"},
        {"NT03", "검단사거리역", "Geomdan Sageori Station (Incheon Line 2)"},
        {"NT04", "왕길역", "Wanggil Station (Incheon Line 2)"},
        {"NT05", "검단오류역", "Geomdan Oryu Station (Incheon Line 2)"},
        {"GD01", "검단산단 동문", "Geomdan Industrial Complex, east gate"},
        {"GD02", "검단산단 관리사무소",
         "Geomdan Industrial Complex, management office"},
        {"GD03", "검단산단 중앙", "Geomdan Industrial Complex, centre"},
        {"GD04", "검단산단 서문", "Geomdan Industrial Complex, west gate"},
        {"GD05", "검단산단 남측", "Geomdan Industrial Complex, south"},
    };
    const int r1[NPOS] = {0, 1, 2, 8, 9, 10, 11, 12};
    const int r2[NPOS] = {3, 4, 5, 6, 7, 8, 9, 10};
    const char *ids[NSTOPS_MAX];
    size_t maxlen = 0;
    struct pub_board b;
    int64_t t0;

    (void)state;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < NSTOPS_MAX; i++) {
        ids[i] = gd[i][0];
        w.sn[i] = (struct pub_stop_name){gd[i][1], gd[i][2], gd[i][0], ""};
    }
    testfeed_stops(&tf, ids, NSTOPS_MAX, 37.59, 126.65, 0, 0.003);
    for (size_t t = 0; t < NTRIPS_MAX; t++)
        world_trip(t % 2 ? r2 : r1, NPOS, H(6, 0, 0) + (int)(t / 2) * 15 * 60,
                   (int)(t % 2));
    testfeed_finish(&tf);
    world_names();
    w.routes[1].color = "43A047";
    for (int i = 0; i < 3; i++)
        w.vp[i] = &w.veh[i];
    for (int t = 8; t < 14; t++)
        world_pred(t, t % 3, 60, 12, 200, 300);
    w.v.now_ms = MS(H(7, 50, 0));

    t0 = clock_mono_us();
    for (int s = 0; s < NSTOPS_MAX; s++) {
        const char *langs[] = {"ko", "en"};

        for (int l = 0; l < 6; l++) {
            const char *routes[] = {NULL, "R1", "R2"};
            char *html = page(gd[s][0], routes[l / 2], langs[l % 2]);

            if (strlen(html) > maxlen)
                maxlen = strlen(html);
            assert_well_formed(html);
            free(html);
        }
    }
    /* A figure for the README, not a limit (the tags check included). */
    printf("workers' pages, Geomdan-sized feed: %d rendered and checked, "
           "%.3f ms each\n",
           NSTOPS_MAX * 6,
           (double)(clock_mono_us() - t0) / 1000.0 / (NSTOPS_MAX * 6));
    assert_int_equal(pub_board_stop(&w.v, 8, &b), PUB_BOARD_OK);
    assert_int_equal(b.nrows, PUB_BOARD_ROWS_MAX); /* a full board */
    printf("largest workers' page, Geomdan-sized feed: %zu bytes\n", maxlen);
    assert_true(maxlen < 30 * 1024);
}

/* "--write DIR": the sample pages of the small world and the arrivals
 * JSON of stops A and B into DIR (for a look in a browser, and the later
 * headless-browser test). */
static int write_samples(const char *dir)
{
    const char *files[] = {"workers-ko.html", "workers-en.html", "fleet.html",
                           "workers-map.html"};

    for (int i = 0; i < 4; i++) {
        char path[512], *html;
        FILE *fp;

        world_small();
        if (i < 2) {
            html = page("A", NULL, i == 0 ? "ko" : "en");
        } else if (i == 3) {
            w.veh[2].trip = 4;
            w.veh[2].status = LIVE_STATUS_IN_TRANSIT;
            w.veh[2].lat = 37.5;
            w.veh[2].lon = 127.0025;
            html = page("B", "R2", "en");
        } else {
            char err[128];

            w.buses[0] = (struct pub_bus){.id = "B1",
                                          .vehicle = 0,
                                          .status_known = true,
                                          .online = true,
                                          .fix_ms = w.v.now_ms - 5000,
                                          .lat = 37.5693,
                                          .lon = 126.6738,
                                          .gps_mode = 3,
                                          .gps_connected = true,
                                          .counter_state = "ok",
                                          .oldest_unacked_age_s = -1};
            w.buses[1] = w.buses[0];
            strcpy(w.buses[1].id, "B2");
            w.buses[1].online = false;
            w.buses[1].spool_records = 1500;
            w.v.buses = w.buses;
            w.v.nbuses = 2;
            if (pub_page_fleet(&w.v, NULL, &html, NULL, err, sizeof err) !=
                PUB_PAGE_OK)
                return 1;
        }
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        fp = fopen(path, "w");
        if (fp == NULL || fputs(html, fp) == EOF || fclose(fp) != 0)
            return 1;
        free(html);
    }
    /* The arrivals the page's script would fetch for stops A and B, from
     * the same view: a browser test renders them and compares. */
    for (int s = 0; s < 2; s++) {
        char path[512], *doc = NULL, err[128];
        size_t len;
        FILE *fp;

        world_small();
        if (pub_json_arrivals(&w.v, s, &doc, &len, err, sizeof err) !=
            PUB_JSON_OK)
            return 1;
        snprintf(path, sizeof path, "%s/arrivals-%s.json", dir, tf.stops[s].id);
        fp = fopen(path, "w");
        if (fp == NULL || fputs(doc, fp) == EOF || fclose(fp) != 0)
            return 1;
        free(doc);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_match_board),
        cmocka_unit_test(test_matches_json),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_no_buses),
        cmocka_unit_test(test_script_table),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fleet),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_size_geomdan),
    };

    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_samples(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
