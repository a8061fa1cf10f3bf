/* pub_page: the workers' page and the fleet page, HTML built from a
 * pub_view; the board rows come from pub_board, as the JSON API's do. */
#include "pub_page.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pub_board.h"
#include "pub_json.h"

/* The script refreshes this often; with it off, the page reloads itself
 * (meta refresh) at twice that. */
#define PUB_PAGE_REFRESH_MS 15000
#define PUB_PAGE_NOSCRIPT_REFRESH_S 30
/* An 80 % interval at least this wide (seconds) is shown as a range of
 * minutes. */
#define PUB_PAGE_WIDE_S 240

/* One table for the C side and the script (serialised into the page), so
 * a refreshed list reads exactly like the first one. */
struct pub_page__text {
    const char *key, *ko, *en;
};

static const struct pub_page__text pub_page__texts[] = {
    {"title", "통근버스 도착 정보", "Commuter bus arrivals"},
    {"other_lang", "English", "한국어"},
    {"route", "노선", "Route"},
    {"stop", "정류장", "Stop"},
    {"all_routes", "모든 노선", "All routes"},
    {"choose_stop", "정류장 선택", "Choose a stop"},
    {"show", "보기", "Show"},
    {"arrivals", "도착 예정 버스", "Next buses"},
    {"min", "{n}분", "{n} min"},
    {"min_range", "{n}–{m}분", "{n}–{m} min"},
    {"arriving", "곧 도착", "arriving"},
    {"departed", "{n}분 전 출발", "departed {n} min ago"},
    {"departed_now", "방금 출발", "just departed"},
    {"seats", "좌석 {n}석 이상", "{n}+ seats free"},
    {"seats_few", "좌석 {n}석 미만", "under {n} seats free"},
    {"seats_unknown", "좌석 정보 없음", "seats unknown"},
    {"st_predicted", "실시간", "live"},
    {"st_scheduled", "실시간 정보 없음 — 시간표", "no live data — timetable"},
    {"st_departed", "출발함", "departed"},
    {"st_canceled", "운행 취소", "cancelled"},
    {"no_buses", "앞으로 90분 동안 이 정류장에 올 버스가 없습니다",
     "No buses at this stop in the next 90 minutes"},
    {"no_stop", "노선과 정류장을 고르세요", "Choose a route and a stop"},
    {"unknown_stop", "알 수 없는 정류장입니다", "Unknown stop"},
    {"offline", "연결이 끊겼습니다 — 마지막 정보입니다",
     "Connection lost — showing the last update"},
    {"map", "노선도 — 버스 {n}대", "Route map — {n} buses"},
    {"generated", "생성 시각", "Generated"},
    {"feed_version", "시간표 버전", "Timetable version"},
    /* fleet page */
    {"fleet", "차량 현황", "Fleet"},
    {"buses", "버스 {n}대", "{n} buses"},
    {"attention", "주의 필요 {n}대", "{n} need attention"},
    {"no_fleet", "등록된 버스가 없습니다", "No buses known"},
};

const char *pub_page_text(const char *key, const char *lang)
{
    bool en = lang != NULL && strcmp(lang, "en") == 0;

    if (key == NULL)
        return "";
    for (size_t i = 0; i < sizeof pub_page__texts / sizeof pub_page__texts[0];
         i++)
        if (strcmp(pub_page__texts[i].key, key) == 0)
            return en ? pub_page__texts[i].en : pub_page__texts[i].ko;
    return "";
}

/* The output and the first failure: every writer checks o->nomem once at
 * the end instead of after each append. */
struct pub_page__out {
    struct buf b;
    bool nomem;
    const char *lang; /* "ko" or "en" */
};

static void pub_page__put(struct pub_page__out *o, const char *s)
{
    if (!o->nomem && buf_append(&o->b, s, strlen(s)) != BUF_OK)
        o->nomem = true;
}

static void pub_page__putf(struct pub_page__out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pub_page__putf(struct pub_page__out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* Only numbers and our own words go through here: never longer. */
    if (n < 0 || (size_t)n >= sizeof tmp)
        o->nomem = true;
    else
        pub_page__put(o, tmp);
}

static void pub_page__esc(struct pub_page__out *o, const char *s)
{
    if (!o->nomem && pub_page_escape(&o->b, s) != BUF_OK)
        o->nomem = true;
}

/* Length of the valid UTF-8 sequence at S (1..4), or 0 when invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t pub_page__utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

/* Append S to B, invalid UTF-8 and control characters replaced by
 * U+FFFD, and when HTML the five markup characters as entities. */
static int pub_page__clean(struct buf *b, const char *s, bool html)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL)
        return buf_reserve(b, 0);
    while (*p != '\0') {
        const char *rep = NULL;
        size_t n = pub_page__utf8_len(p);

        if (html) {
            switch (*p) {
            case '&':
                rep = "&amp;";
                break;
            case '<':
                rep = "&lt;";
                break;
            case '>':
                rep = "&gt;";
                break;
            case '"':
                rep = "&quot;";
                break;
            case '\'':
                rep = "&#39;";
                break;
            default:
                break;
            }
        }
        if (rep == NULL &&
            (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f))
            rep = "\xef\xbf\xbd"; /* U+FFFD */
        if (rep != NULL) {
            if (buf_append(b, rep, strlen(rep)) != BUF_OK)
                return BUF_ERR_NOMEM;
            p += n == 0 ? 1 : n;
        } else {
            if (buf_append(b, p, n) != BUF_OK)
                return BUF_ERR_NOMEM;
            p += n;
        }
    }
    /* An empty S still leaves a C string behind. */
    return buf_reserve(b, 0);
}

int pub_page_escape(struct buf *b, const char *s)
{
    return pub_page__clean(b, s, true);
}

/* A JSON string of S repaired to valid UTF-8 (jansson refuses invalid
 * UTF-8), or NULL when out of memory. */
static json_t *pub_page__jstr(struct buf *tmp, const char *s)
{
    buf_clear(tmp);
    if (pub_page__clean(tmp, s, false) != BUF_OK)
        return NULL;
    return json_string(tmp->p);
}

/* Text KEY with {n} and {m} replaced, escaped (the table is ours, but the
 * same path for everything keeps the rule simple). The table's texts are
 * far shorter than the buffer. */
static void pub_page__say(struct pub_page__out *o, const char *key, long n,
                          long m)
{
    const char *t = pub_page_text(key, o->lang);
    char text[512];
    size_t k = 0;

    while (*t != '\0' && k + 24 < sizeof text) {
        if (t[0] == '{' && (t[1] == 'n' || t[1] == 'm') && t[2] == '}') {
            int w =
                snprintf(text + k, sizeof text - k, "%ld", t[1] == 'n' ? n : m);

            k += w > 0 ? (size_t)w : 0;
            t += 3;
        } else {
            text[k++] = *t++;
        }
    }
    text[k] = '\0';
    pub_page__esc(o, text);
}

/* The feed's zone offset from UTC in ms: GTFS times count from local noon
 * minus 12 h, so the service day's start against UTC midnight gives it
 * (0 when the view's day and feed disagree wildly). */
static int64_t pub_page__zone_ms(const struct pub_view *v)
{
    int64_t off = (int64_t)v->day * 86400000 - v->feed->day_ms;

    return off > 15 * 3600000LL || off < -15 * 3600000LL ? 0 : off;
}

/* "HH:MM:SS" into TEXT and ISO 8601 with the zone's offset into ISO. */
static void pub_page__clock(const struct pub_view *v, int64_t ms, char *text,
                            size_t textlen, char *iso, size_t isolen)
{
    int64_t off = pub_page__zone_ms(v);
    time_t t = (time_t)((ms + off) / 1000);
    struct tm tm;
    long offm = (long)(off / 60000);

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    strftime(text, textlen, "%H:%M:%S", &tm);
    snprintf(iso, isolen, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, offm < 0 ? '-' : '+', labs(offm) / 60,
             labs(offm) % 60);
}

static bool pub_page__is_en(const char *lang)
{
    return lang != NULL && strcmp(lang, "en") == 0;
}

static const struct pub_stop_name *pub_page__stop_name(const struct pub_view *v,
                                                       int stop)
{
    const struct pub_names *n = v->names;

    if (n == NULL || n->stops == NULL || stop < 0 || (size_t)stop >= n->nstops)
        return NULL;
    return &n->stops[stop];
}

/* The stop's name in the page's language, else its id. */
static const char *pub_page__stop_label(const struct pub_view *v, int stop,
                                        const char *lang)
{
    const struct pub_stop_name *sn = pub_page__stop_name(v, stop);

    if (sn != NULL && pub_page__is_en(lang) && sn->name_en != NULL &&
        sn->name_en[0] != '\0')
        return sn->name_en;
    if (sn != NULL && sn->name != NULL && sn->name[0] != '\0')
        return sn->name;
    return v->feed->stops[stop].id;
}

static const struct pub_route *pub_page__route(const struct pub_view *v,
                                               int route)
{
    const struct pub_names *n = v->names;

    if (n == NULL || n->routes == NULL || route < 0 ||
        (size_t)route >= n->nroutes)
        return NULL;
    return &n->routes[route];
}

/* Index in names->routes of trip T, or -1. */
static int pub_page__trip_route(const struct pub_view *v, int t)
{
    const struct pub_names *n = v->names;

    if (n == NULL || n->trip_route == NULL || t < 0 ||
        (size_t)t >= v->feed->ntrips)
        return -1;
    return pub_page__route(v, n->trip_route[t]) != NULL ? n->trip_route[t] : -1;
}

static const char *pub_page__headsign(const struct pub_view *v, int t,
                                      const char *lang)
{
    const struct pub_names *n = v->names;

    if (n == NULL || t < 0 || (size_t)t >= v->feed->ntrips)
        return "";
    if (pub_page__is_en(lang) && n->trip_headsign_en != NULL &&
        n->trip_headsign_en[t] != NULL && n->trip_headsign_en[t][0] != '\0')
        return n->trip_headsign_en[t];
    if (n->trip_headsign != NULL && n->trip_headsign[t] != NULL)
        return n->trip_headsign[t];
    return "";
}

/* A route colour fit to go into a style attribute: six hex digits. */
static bool pub_page__color_ok(const char *c)
{
    if (c == NULL || strlen(c) != 6)
        return false;
    for (size_t i = 0; i < 6; i++)
        if (strchr("0123456789abcdefABCDEF", c[i]) == NULL)
            return false;
    return true;
}

static int pub_page__find_stop(const struct pub_view *v, const char *id)
{
    if (id == NULL || id[0] == '\0')
        return -1;
    for (size_t i = 0; i < v->feed->nstops; i++)
        if (strcmp(v->feed->stops[i].id, id) == 0)
            return (int)i;
    return -1;
}

static int pub_page__find_route(const struct pub_view *v, const char *id)
{
    const struct pub_names *n = v->names;

    if (id == NULL || id[0] == '\0' || n == NULL || n->routes == NULL)
        return -1;
    for (size_t i = 0; i < n->nroutes; i++)
        if (n->routes[i].id != NULL && strcmp(n->routes[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Append ID percent-encoded for a query string (unreserved bytes kept). */
static void pub_page__url(struct pub_page__out *o, const char *id)
{
    char tmp[4];

    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        } else {
            snprintf(tmp, sizeof tmp, "%%%02X", *p);
        }
        pub_page__put(o, tmp);
    }
}

static const char pub_page__css[] =
    ":root{color-scheme:light}"
    "body{margin:0;font:18px/1.5 system-ui,sans-serif;color:#111;"
    "background:#fff}"
    "header,main,footer{max-width:40rem;margin:0 auto;padding:.75rem}"
    "header{display:flex;justify-content:space-between;align-items:center;"
    "gap:1rem;background:#0b3d91;color:#fff;max-width:none}"
    "header a{color:#fff;font-weight:700;display:inline-block;"
    "min-height:48px;line-height:48px;padding:0 .75rem}"
    "h1{font-size:1.3rem;margin:0}h2{font-size:1.2rem;margin:1rem 0 .25rem}"
    "label{display:block;font-weight:700;margin-top:.75rem}"
    "select,button{font:inherit;width:100%;min-height:48px;margin-top:.25rem}"
    "button{background:#0b3d91;color:#fff;border:0;border-radius:6px;"
    "margin-top:1rem}"
    ":focus{outline:3px solid #b35c00;outline-offset:2px}"
    "ul{list-style:none;margin:0;padding:0}"
    ".row{display:grid;grid-template-columns:auto 1fr auto;gap:0 .75rem;"
    "margin:.5rem 0;padding:.5rem .75rem;background:#f2f3f5;"
    "border-left:.5rem solid #555}"
    ".rt,.min{font-weight:700;font-size:1.3rem}.min{text-align:right}"
    ".seat,.st{grid-column:2/4}.st{color:#333}"
    ".s-scheduled .st{color:#7a4000}.s-canceled .st{color:#a00000}"
    ".s-canceled .min{text-decoration:line-through}"
    ".s-departed{opacity:.85}"
    ".none,#net{padding:.5rem 0}#net{color:#a00000;font-weight:700}"
    "footer{color:#333;font-size:.9rem}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;"
    "vertical-align:top}th{background:#e8eaed}th span{display:block;"
    "font-weight:400}"
    "tr.warn td{background:#fff1c2}.wrap{overflow-x:auto}"
    ".fleet main{max-width:none}.map{margin:1rem 0}.map svg{width:100%;"
    "height:auto;background:#f2f3f5}";

/* The refresh script: reads the config and the strings from #cfg, fetches
 * the arrivals JSON, rebuilds the list with DOM calls (never innerHTML: the
 * feed's names stay text) and remembers the choice. appendChild rather
 * than append/replaceChildren: workers' phones can be old. */
static const char pub_page__js[] =
    "(function(){"
    "var c=JSON.parse(document.getElementById('cfg').getAttribute('data-"
    "cfg')),T=c.t,q=new URLSearchParams(location.search);"
    "try{var L=localStorage;"
    "if(!q.has('stop')&&L.getItem('shuttle.stop')){"
    "q.set('stop',L.getItem('shuttle.stop'));"
    "q.set('route',L.getItem('shuttle.route')||'');"
    "if(!q.has('lang'))q.set('lang',L.getItem('shuttle.lang')||c.lang);"
    "location.replace('?'+q);return}"
    "L.setItem('shuttle.lang',c.lang);"
    "if(c.stop){L.setItem('shuttle.stop',c.stop);"
    "L.setItem('shuttle.route',c.route)}}catch(e){}"
    "var r=document.getElementById('route');"
    "if(r)r.onchange=function(){r.form.submit()};"
    "if(!c.stop)return;"
    "var ul=document.getElementById('arr'),net=document.getElementById('net'),"
    "gen=document.getElementById('gen'),last='',now=0;"
    "function f(k,n,m){return T[k].replace('{n}',n).replace('{m}',m)}"
    "function el(t,k,x){var e=document.createElement(t);e.className=k;"
    "if(x!=null)e.textContent=x;return e}"
    "function when(a){var n=a.minutes;"
    "if(a.status=='departed')return n<1?T.departed_now:f('departed',n);"
    "if(a.status!='canceled'&&n<1)return T.arriving;"
    "var g=rng(a);return g?f('min_range',g[0],g[1]):f('min',n)}"
    "function rng(a){var u=a.uncertainty_s,t=a.arrival_unix,lo,hi;"
    "if(a.status!='predicted'||!u||t==null||u.hi-u.lo<c.wide)return null;"
    "lo=Math.max(0,Math.floor((t+u.lo-now)/60));"
    "hi=Math.floor((t+u.hi-now)/60);return hi>lo?[lo,hi]:null}"
    "function seat(a){var s=a.seats_free;"
    "if(a.status=='departed'||a.status=='canceled')return '';"
    "if(s==null||s<0)return T.seats_unknown;"
    "return s<c.step?f('seats_few',c.step):f('seats',s)}"
    "function row(a){var li=el('li','row s-'+a.status),"
    "o=c.routes[a.route]||[a.route_short_name||a.route||'',''];"
    "li.dataset.trip=a.trip;li.dataset.minutes=a.minutes;"
    "li.dataset.seats=a.seats_free==null?-1:a.seats_free;"
    "li.dataset.status=a.status;"
    "if(o[1])li.style.borderLeftColor='#'+o[1];"
    "[el('span','rt',o[0]),el('span','hs',"
    "(c.lang=='en'&&a.headsign_en)||a.headsign||''),"
    "el('span','min',when(a)),el('span','seat',seat(a)),"
    "el('span','st',T['st_'+a.status])].forEach(function(x){"
    "li.appendChild(x)});return li}"
    "function show(d){var a=(d.arrivals||[]).filter(function(x){"
    "return !c.route||x.route==c.route}),k=JSON.stringify(a);"
    "net.textContent='';"
    "now=d.generated_at_unix;if(d.generated_at){gen.dateTime=d.generated_at;"
    "gen.setAttribute('data-generation',d.generation);"
    "gen.textContent=d.generated_at.substr(11,8)}"
    "if(k==last)return;last=k;"
    "ul.textContent='';(a.length?a.map(row):[el('li','none',T.no_buses)])"
    ".forEach(function(x){ul.appendChild(x)})}"
    "function tick(){fetch('/api/v1/stops/'+encodeURIComponent(c.stop)+"
    "'/arrivals?lang='+c.lang).then(function(x){if(!x.ok)throw 0;"
    "return x.json()}).then(show,function(){net.textContent=T.offline})}"
    "setInterval(tick,c.every)})();";

/* Floor division, for times before their reference. */
static int64_t pub_page__fdiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/*
 * The range of minutes a wide interval gives, into *LO and *HI (left
 * alone when narrow or none). Reckoned in whole seconds from exactly the
 * figures the arrivals JSON carries (arrival_unix, uncertainty_s lo/hi,
 * generated_at_unix) so that the script's refresh shows the same range.
 */
static void pub_page__range(const struct pub_view *v,
                            const struct pub_board_row *r, long *lo, long *hi)
{
    int64_t when_s, now_s, lo_s, hi_s, a, b;

    if (r->status != PUB_BOARD_PREDICTED || r->lo_ms < 0 || r->hi_ms < 0)
        return;
    when_s = pub_page__fdiv(r->when_ms, 1000);
    now_s = pub_page__fdiv(v->now_ms, 1000);
    lo_s = pub_page__fdiv(r->lo_ms - r->when_ms, 1000);
    hi_s = (r->hi_ms - r->when_ms) / 1000;
    if (hi_s - lo_s < PUB_PAGE_WIDE_S)
        return;
    a = pub_page__fdiv(when_s + lo_s - now_s, 60);
    b = pub_page__fdiv(when_s + hi_s - now_s, 60);
    if (a < 0)
        a = 0;
    if (b > a) {
        *lo = (long)a;
        *hi = (long)b;
    }
}

/* One board row, the markup the script's row() builds. */
static void pub_page__row(struct pub_page__out *o, const struct pub_view *v,
                          const struct pub_board_row *r)
{
    const struct pub_route *rt = pub_page__route(v, r->route);
    const char *status = pub_board_status_name(r->status);

    pub_page__put(o, "<li class=\"row s-");
    pub_page__put(o, status);
    pub_page__put(o, "\" data-trip=\"");
    pub_page__esc(o, v->feed->trips[r->trip].id);
    pub_page__putf(o, "\" data-minutes=\"%d\" data-seats=\"%d\"", r->minutes,
                   r->seats_free < 0 ? -1 : r->seats_free);
    pub_page__put(o, " data-status=\"");
    pub_page__put(o, status);
    pub_page__put(o, "\"");
    if (rt != NULL && pub_page__color_ok(rt->color))
        pub_page__putf(o, " style=\"border-left-color:#%s\"", rt->color);
    pub_page__put(o, "><span class=\"rt\">");
    if (rt != NULL && rt->short_name != NULL && rt->short_name[0] != '\0')
        pub_page__esc(o, rt->short_name);
    else
        pub_page__esc(o, v->feed->trips[r->trip].route_id);
    pub_page__put(o, "</span><span class=\"hs\">");
    pub_page__esc(o, pub_page__headsign(v, r->trip, o->lang));
    pub_page__put(o, "</span><span class=\"min\">");
    if (r->status == PUB_BOARD_DEPARTED) {
        if (r->minutes < 1)
            pub_page__say(o, "departed_now", 0, 0);
        else
            pub_page__say(o, "departed", r->minutes, 0);
    } else if (r->status != PUB_BOARD_CANCELED && r->minutes < 1) {
        pub_page__say(o, "arriving", 0, 0);
    } else {
        long lo = -1, hi = -1;

        pub_page__range(v, r, &lo, &hi);
        if (lo >= 0 && hi > lo)
            pub_page__say(o, "min_range", lo, hi);
        else
            pub_page__say(o, "min", r->minutes, 0);
    }
    pub_page__put(o, "</span><span class=\"seat\">");
    if (r->status == PUB_BOARD_PREDICTED || r->status == PUB_BOARD_SCHEDULED) {
        if (r->seats_free < 0)
            pub_page__say(o, "seats_unknown", 0, 0);
        else if (r->seats_free < PUB_BOARD_SEAT_STEP)
            pub_page__say(o, "seats_few", PUB_BOARD_SEAT_STEP, 0);
        else
            pub_page__say(o, "seats", r->seats_free, 0);
    }
    pub_page__put(o, "</span><span class=\"st\">");
    {
        char key[32];

        snprintf(key, sizeof key, "st_%s", status);
        pub_page__say(o, key, 0, 0);
    }
    pub_page__put(o, "</span></li>\n");
}

/* Whether route ROUTE (-1: any) has a trip calling at STOP. */
static bool pub_page__serves(const struct pub_view *v, int route, int stop)
{
    const struct trips_feed *f = v->feed;

    for (size_t t = 0; t < f->ntrips; t++) {
        if (route >= 0 && pub_page__trip_route(v, (int)t) != route)
            continue;
        for (size_t j = 0; j < f->trips[t].n; j++) {
            size_t k = f->trips[t].first + j;

            if (k < f->nst && f->st[k].stop == stop)
                return true;
        }
    }
    return false;
}

static void pub_page__form(struct pub_page__out *o, const struct pub_view *v,
                           int route, int stop)
{
    const struct pub_names *n = v->names;

    pub_page__put(o, "<form method=\"get\" action=\"/\">"
                     "<input type=\"hidden\" name=\"lang\" value=\"");
    pub_page__put(o, o->lang);
    pub_page__put(o, "\"><label for=\"route\">");
    pub_page__say(o, "route", 0, 0);
    pub_page__put(o, "</label><select id=\"route\" name=\"route\">"
                     "<option value=\"\">");
    pub_page__say(o, "all_routes", 0, 0);
    pub_page__put(o, "</option>");
    for (size_t i = 0; n != NULL && n->routes != NULL && i < n->nroutes; i++) {
        const struct pub_route *rt = &n->routes[i];
        const char *ln = pub_page__is_en(o->lang) && rt->long_name_en != NULL &&
                                 rt->long_name_en[0] != '\0'
                             ? rt->long_name_en
                             : rt->long_name;

        pub_page__put(o, "<option value=\"");
        pub_page__esc(o, rt->id);
        pub_page__put(o, (int)i == route ? "\" selected>" : "\">");
        pub_page__esc(o, rt->short_name);
        if (ln != NULL && ln[0] != '\0') {
            pub_page__put(o, " · ");
            pub_page__esc(o, ln);
        }
        pub_page__put(o, "</option>");
    }
    pub_page__put(o, "</select><label for=\"stop\">");
    pub_page__say(o, "stop", 0, 0);
    pub_page__put(o, "</label><select id=\"stop\" name=\"stop\">"
                     "<option value=\"\">");
    pub_page__say(o, "choose_stop", 0, 0);
    pub_page__put(o, "</option>");
    for (size_t i = 0; i < v->feed->nstops; i++) {
        if ((int)i != stop && route >= 0 && !pub_page__serves(v, route, (int)i))
            continue;
        pub_page__put(o, "<option value=\"");
        pub_page__esc(o, v->feed->stops[i].id);
        pub_page__put(o, (int)i == stop ? "\" selected>" : "\">");
        pub_page__esc(o, pub_page__stop_label(v, (int)i, o->lang));
        pub_page__put(o, "</option>");
    }
    pub_page__put(o, "</select><button type=\"submit\">");
    pub_page__say(o, "show", 0, 0);
    pub_page__put(o, "</button></form>\n");
}

/* The config the script reads, JSON (jansson) in an escaped attribute:
 * unlike a <script> body, an attribute cannot be ended early by a name. */
static void pub_page__config(struct pub_page__out *o, const struct pub_view *v,
                             int route, int stop)
{
    const struct pub_names *n = v->names;
    json_t *c = json_object(), *t = json_object(), *rs = json_object();
    struct buf tmp = {0};
    char *text = NULL;
    bool ok = c != NULL && t != NULL && rs != NULL;

    for (size_t i = 0;
         ok && i < sizeof pub_page__texts / sizeof pub_page__texts[0]; i++)
        ok = json_object_set_new(t, pub_page__texts[i].key,
                                 json_string(pub_page_text(
                                     pub_page__texts[i].key, o->lang))) == 0;
    /* By route id (as the arrivals JSON names a row's route): its short
     * name and colour, for the badge the script draws. */
    for (size_t i = 0; ok && n != NULL && n->routes != NULL && i < n->nroutes;
         i++) {
        const struct pub_route *rt = &n->routes[i];
        json_t *pair = json_array();

        ok = pair != NULL &&
             json_array_append_new(pair,
                                   pub_page__jstr(&tmp, rt->short_name)) == 0 &&
             json_array_append_new(
                 pair, json_string(pub_page__color_ok(rt->color) ? rt->color
                                                                 : "")) == 0;
        buf_clear(&tmp);
        ok = ok && pub_page__clean(&tmp, rt->id, false) == BUF_OK &&
             json_object_set(rs, tmp.p, pair) == 0;
        json_decref(pair);
    }
    ok =
        ok && json_object_set(c, "t", t) == 0 &&
        json_object_set(c, "routes", rs) == 0 &&
        json_object_set_new(c, "lang", json_string(o->lang)) == 0 &&
        json_object_set_new(
            c, "stop",
            pub_page__jstr(&tmp, stop >= 0 ? v->feed->stops[stop].id : "")) ==
            0 &&
        json_object_set_new(
            c, "route",
            pub_page__jstr(&tmp, route >= 0 ? n->routes[route].id : "")) == 0 &&
        json_object_set_new(c, "every", json_integer(PUB_PAGE_REFRESH_MS)) ==
            0 &&
        json_object_set_new(c, "step", json_integer(PUB_BOARD_SEAT_STEP)) == 0;
    text = ok ? json_dumps(c, JSON_COMPACT) : NULL;
    if (text == NULL) {
        o->nomem = true;
    } else {
        pub_page__put(o, "<div id=\"cfg\" hidden data-cfg=\"");
        pub_page__esc(o, text);
        pub_page__put(o, "\"></div>\n");
    }
    free(text);
    buf_free(&tmp);
    json_decref(t);
    json_decref(rs);
    json_decref(c);
}

static void pub_page__head(struct pub_page__out *o, const char *title_key,
                           const char *subtitle, bool noscript_refresh)
{
    pub_page__put(o, "<!DOCTYPE html>\n<html lang=\"");
    pub_page__put(o, o->lang);
    pub_page__put(o, "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
                     "content=\"width=device-width, initial-scale=1\"><title>");
    pub_page__say(o, title_key, 0, 0);
    if (subtitle != NULL && subtitle[0] != '\0') {
        pub_page__put(o, " — ");
        pub_page__esc(o, subtitle);
    }
    pub_page__put(o, "</title>");
    if (noscript_refresh)
        pub_page__putf(o,
                       "<noscript><meta http-equiv=\"refresh\" "
                       "content=\"%d\"></noscript>",
                       PUB_PAGE_NOSCRIPT_REFRESH_S);
    else
        pub_page__putf(o, "<meta http-equiv=\"refresh\" content=\"%d\">",
                       PUB_PAGE_NOSCRIPT_REFRESH_S);
    pub_page__put(o, "<style>");
    pub_page__put(o, pub_page__css);
    pub_page__put(o, noscript_refresh
                         ? "</style></head>\n<body>\n"
                         : "</style></head>\n<body class=\"fleet\">\n");
}

/* Generated time and feed version, the last thing on both pages. */
static void pub_page__footer(struct pub_page__out *o, const struct pub_view *v)
{
    char text[32], iso[64];
    const char *ver = v->names != NULL ? v->names->feed_version : NULL;

    pub_page__clock(v, v->now_ms, text, sizeof text, iso, sizeof iso);
    pub_page__put(o, "<footer><p>");
    pub_page__say(o, "generated", 0, 0);
    pub_page__put(o, " <time id=\"gen\" datetime=\"");
    pub_page__put(o, iso);
    pub_page__putf(o, "\" data-generation=\"%llu\">",
                   (unsigned long long)v->generation);
    pub_page__put(o, text);
    pub_page__put(o, "</time> · ");
    pub_page__say(o, "feed_version", 0, 0);
    pub_page__put(o, " <span id=\"ver\">");
    pub_page__esc(o, ver != NULL && ver[0] != '\0' ? ver : "—");
    pub_page__put(o, "</span></p></footer>\n");
}

/* The caller's out-parameters from O: the bytes on success, else an
 * error and nothing to free. */
static enum pub_page_err pub_page__finish(struct pub_page__out *o, char **out,
                                          size_t *outlen, char *err,
                                          size_t errlen)
{
    if (o->nomem || o->b.p == NULL) {
        buf_free(&o->b);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory building the page");
        return PUB_PAGE_ERR_NOMEM;
    }
    *out = o->b.p;
    if (outlen != NULL)
        *outlen = o->b.len;
    return PUB_PAGE_OK;
}

static enum pub_page_err pub_page__check(const struct pub_view *v, char **out,
                                         char *err, size_t errlen)
{
    if (out != NULL)
        *out = NULL;
    if (v == NULL || v->feed == NULL || out == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "no view, feed or output");
        return PUB_PAGE_ERR_INVALID;
    }
    return PUB_PAGE_OK;
}

/* Whether tracked vehicle VE is a bus to draw on ROUTE's map. */
static const struct live_vehicle *pub_page__map_bus(const struct pub_view *v,
                                                    size_t ve, int route)
{
    const struct live_vehicle *lv = v->vehicles[ve];

    if (lv == NULL || lv->trip < 0 || (size_t)lv->trip >= v->feed->ntrips ||
        pub_page__trip_route(v, lv->trip) != route ||
        lv->status == LIVE_STATUS_STALE || !isfinite(lv->lat) ||
        !isfinite(lv->lon))
        return NULL;
    return lv;
}

/*
 * A small map of ROUTE: its longest trip's stops joined in order, STOP
 * marked, its buses as dots; no tiles, only the feed's coordinates on an
 * equirectangular projection (a few km: straight enough). Drawn when the
 * page is built; the script refreshes the list, not the map.
 */
static void pub_page__map(struct pub_page__out *o, const struct pub_view *v,
                          int route, int stop)
{
    const struct trips_feed *f = v->feed;
    const struct pub_route *rt = pub_page__route(v, route);
    double lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180, cl, k, sx, sy, h;
    size_t best = f->ntrips, nbus = 0;

    for (size_t t = 0; t < f->ntrips; t++)
        if (pub_page__trip_route(v, (int)t) == route &&
            (best == f->ntrips || f->trips[t].n > f->trips[best].n))
            best = t;
    if (rt == NULL || best == f->ntrips || f->trips[best].n < 2 ||
        f->trips[best].first + f->trips[best].n > f->nst)
        return;
    for (size_t j = 0; j < f->trips[best].n; j++) {
        const struct trips_stop *sp =
            &f->stops[f->st[f->trips[best].first + j].stop];

        if (!isfinite(sp->lat) || !isfinite(sp->lon))
            return;
        lat0 = fmin(lat0, sp->lat);
        lat1 = fmax(lat1, sp->lat);
        lon0 = fmin(lon0, sp->lon);
        lon1 = fmax(lon1, sp->lon);
    }
    for (size_t i = 0; v->vehicles != NULL && i < v->nvehicles; i++) {
        const struct live_vehicle *lv = pub_page__map_bus(v, i, route);

        if (lv == NULL)
            continue;
        nbus++;
        lat0 = fmin(lat0, lv->lat);
        lat1 = fmax(lat1, lv->lat);
        lon0 = fmin(lon0, lv->lon);
        lon1 = fmax(lon1, lv->lon);
    }
    /* 300 wide, 12 of margin; the height follows the route's shape. */
    cl = cos((lat0 + lat1) / 2 * M_PI / 180);
    sx = (lon1 - lon0) * cl;
    sy = lat1 - lat0;
    if (sx <= 0 && sy <= 0)
        return;
    k = fmin(sx > 0 ? 276 / sx : INFINITY, sy > 0 ? 176 / sy : INFINITY);
    h = sy * k + 24;
    sx = cl * k; /* px per degree of longitude; k per degree of latitude */
    pub_page__putf(o,
                   "<figure class=\"map\"><svg viewBox=\"0 0 300 %.0f\" "
                   "role=\"img\" aria-labelledby=\"mapt\"><title "
                   "id=\"mapt\">",
                   ceil(h));
    pub_page__say(o, "map", (long)nbus, 0);
    pub_page__putf(o,
                   "</title><polyline fill=\"none\" stroke=\"#%s\" "
                   "stroke-width=\"4\" points=\"",
                   pub_page__color_ok(rt->color) ? rt->color : "555555");
    for (size_t j = 0; j < f->trips[best].n; j++) {
        const struct trips_stop *sp =
            &f->stops[f->st[f->trips[best].first + j].stop];

        pub_page__putf(o, "%s%.1f,%.1f", j > 0 ? " " : "",
                       12 + (sp->lon - lon0) * sx, 12 + (lat1 - sp->lat) * k);
    }
    pub_page__put(o, "\"/>");
    for (size_t j = 0; j < f->trips[best].n; j++) {
        int si = f->st[f->trips[best].first + j].stop;
        const struct trips_stop *sp = &f->stops[si];

        pub_page__putf(o,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" "
                       "fill=\"%s\" stroke=\"#111\" stroke-width=\"2\"/>",
                       12 + (sp->lon - lon0) * sx, 12 + (lat1 - sp->lat) * k,
                       si == stop ? 8 : 5, si == stop ? "#111" : "#fff");
    }
    for (size_t i = 0; v->vehicles != NULL && i < v->nvehicles; i++) {
        const struct live_vehicle *lv = pub_page__map_bus(v, i, route);

        if (lv != NULL)
            pub_page__putf(o,
                           "<circle class=\"bus\" cx=\"%.1f\" cy=\"%.1f\" "
                           "r=\"7\" fill=\"#b35c00\"/>",
                           12 + (lv->lon - lon0) * sx,
                           12 + (lat1 - lv->lat) * k);
    }
    pub_page__put(o, "</svg></figure>\n");
}

enum pub_page_err pub_page_workers(const struct pub_view *v,
                                   const struct pub_page_req *req, char **out,
                                   size_t *outlen, char *err, size_t errlen)
{
    struct pub_page__out o = {0};
    struct pub_board board = {0};
    const char *stop_id = req != NULL ? req->stop_id : NULL;
    int stop, route;
    bool unknown;
    size_t shown = 0;
    enum pub_page_err e = pub_page__check(v, out, err, errlen);

    if (e != PUB_PAGE_OK)
        return e;
    o.lang = req != NULL && pub_page__is_en(req->lang) ? "en" : "ko";
    stop = pub_page__find_stop(v, stop_id);
    route = pub_page__find_route(v, req != NULL ? req->route_id : NULL);
    unknown = stop < 0 && stop_id != NULL && stop_id[0] != '\0';
    if (stop >= 0 && pub_board_stop(v, stop, &board) != PUB_BOARD_OK)
        board.nrows = 0;

    pub_page__head(&o, "title",
                   stop >= 0 ? pub_page__stop_label(v, stop, o.lang) : NULL,
                   true);
    pub_page__put(&o, "<header><h1>");
    pub_page__say(&o, "title", 0, 0);
    /* The other language one tap away, keeping the choice. */
    pub_page__put(&o, "</h1><a href=\"?");
    if (stop >= 0) {
        pub_page__put(&o, "stop=");
        pub_page__url(&o, v->feed->stops[stop].id);
        pub_page__put(&o, "&amp;");
    }
    if (route >= 0) {
        pub_page__put(&o, "route=");
        pub_page__url(&o, v->names->routes[route].id);
        pub_page__put(&o, "&amp;");
    }
    pub_page__put(&o, pub_page__is_en(o.lang)
                          ? "lang=ko\" lang=\"ko\" hreflang=\"ko\">"
                          : "lang=en\" lang=\"en\" hreflang=\"en\">");
    pub_page__say(&o, "other_lang", 0, 0);
    pub_page__put(&o, "</a></header>\n<main>\n");
    pub_page__form(&o, v, route, stop);

    pub_page__put(&o, "<section aria-labelledby=\"bh\"><h2 id=\"bh\">");
    if (stop >= 0)
        pub_page__esc(&o, pub_page__stop_label(v, stop, o.lang));
    else
        pub_page__say(&o, unknown ? "unknown_stop" : "no_stop", 0, 0);
    pub_page__put(&o,
                  "</h2>\n<ul id=\"arr\" aria-live=\"polite\" aria-label=\"");
    pub_page__say(&o, "arrivals", 0, 0);
    pub_page__put(&o, "\">\n");
    for (size_t i = 0; i < board.nrows; i++) {
        if (route >= 0 && board.rows[i].route != route)
            continue;
        pub_page__row(&o, v, &board.rows[i]);
        shown++;
    }
    if (stop >= 0 && shown == 0) {
        pub_page__put(&o, "<li class=\"none\">");
        pub_page__say(&o, "no_buses", 0, 0);
        pub_page__put(&o, "</li>\n");
    }
    pub_page__put(&o, "</ul>\n<p id=\"net\" role=\"status\"></p></section>\n");
    if (route >= 0)
        pub_page__map(&o, v, route, stop);
    pub_page__put(&o, "</main>\n");
    pub_page__footer(&o, v);
    pub_page__config(&o, v, route, stop);
    pub_page__put(&o, "<script>");
    pub_page__put(&o, pub_page__js);
    pub_page__put(&o, "</script>\n</body></html>\n");
    return pub_page__finish(&o, out, outlen, err, errlen);
}

/* Routes known to V's names (the key's radix). */
static size_t pub_page__nroutes(const struct pub_view *v)
{
    return v->names != NULL && v->names->routes != NULL ? v->names->nroutes : 0;
}

size_t pub_page_workers_nkeys(const struct pub_view *v)
{
    if (v == NULL || v->feed == NULL)
        return 1;
    return (v->feed->nstops + 2) * (pub_page__nroutes(v) + 1) * 2;
}

size_t pub_page_workers_key(const struct pub_view *v,
                            const struct pub_page_req *req)
{
    int stop, route;
    size_t s;

    if (v == NULL || v->feed == NULL)
        return 0;
    stop = pub_page__find_stop(v, req != NULL ? req->stop_id : NULL);
    route = pub_page__find_route(v, req != NULL ? req->route_id : NULL);
    /* 0: no stop asked, 1: an unknown one, 2..: the stop's index + 2. */
    if (stop >= 0)
        s = (size_t)stop + 2;
    else
        s = req != NULL && req->stop_id != NULL && req->stop_id[0] != '\0';
    return (s * (pub_page__nroutes(v) + 1) + (size_t)(route + 1)) * 2 +
           (req != NULL && pub_page__is_en(req->lang));
}

/* "42 s", "3 min", "2 h" for an age in ms; "—" when unknown. */
static void pub_page__age(struct pub_page__out *o, int64_t ms)
{
    if (ms < 0)
        pub_page__put(o, "—");
    else if (ms < 120000)
        pub_page__putf(o, "%lld s", (long long)(ms / 1000));
    else if (ms < 2 * 3600000LL)
        pub_page__putf(o, "%lld min", (long long)(ms / 60000));
    else
        pub_page__putf(o, "%lld h", (long long)(ms / 3600000));
}

/* The fleet table's columns: Korean header, English header. */
static const char *const pub_page__fleet_cols[][2] = {
    {"버스", "Bus"},
    {"연결", "Link"},
    {"마지막 위치", "Last fix"},
    {"위치", "Position"},
    {"운행 / 노선", "Trip / route"},
    {"상태", "Status"},
    {"지연", "Delay"},
    {"미전송 (건 / 바이트 / 가장 오래된)", "Spool (records / bytes / oldest)"},
    {"GPS", "GPS"},
    {"승객 계수기", "Counter"},
    {"누락 (위치 / 계수)", "Dropped (positions / counts)"},
    {"거부된 계수 줄", "Counter lines rejected"},
    {"거부된 위조 응답", "Forged acks refused"},
    {"소프트웨어", "Software"},
    {"주의", "Attention"},
};

/* Why bus B needs an operator's look, as text into WHY ("" when it does
 * not). */
static void pub_page__attention(const struct pub_view *v,
                                const struct pub_bus *b, char *why,
                                size_t whylen)
{
    size_t n = 0;

    why[0] = '\0';
#define PUB_PAGE__WHY(s)                                                       \
    do {                                                                       \
        int k = snprintf(why + n, whylen - n, "%s%s", n > 0 ? ", " : "", s);   \
        if (k > 0 && (size_t)k < whylen - n)                                   \
            n += (size_t)k;                                                    \
    } while (0)
    if (!b->status_known)
        PUB_PAGE__WHY("never heard");
    else if (!b->online)
        PUB_PAGE__WHY("offline");
    if (b->fix_ms < 0)
        PUB_PAGE__WHY("no fix");
    else if (v->now_ms - b->fix_ms > LIVE_STALE_MS)
        PUB_PAGE__WHY("stale fix");
    if (b->spool_records > PUB_PAGE_SPOOL_WARN)
        PUB_PAGE__WHY("spool backlog");
    if (strcmp(b->counter_state, "fault") == 0)
        PUB_PAGE__WHY("counter fault");
#undef PUB_PAGE__WHY
}

static void pub_page__bus(struct pub_page__out *o, const struct pub_view *v,
                          const struct pub_bus *b, const char *why)
{
    const struct live_vehicle *lv = b->vehicle >= 0 &&
                                            (size_t)b->vehicle < v->nvehicles &&
                                            v->vehicles != NULL
                                        ? v->vehicles[b->vehicle]
                                        : NULL;
    char bounded[TRIPS_ID_MAX + 32];

    pub_page__put(o, why[0] != '\0' ? "<tr class=\"warn\"><td>" : "<tr><td>");
    /* Fixed-size fields of the struct: bounded copies before escaping, in
     * case a producer forgot the NUL. */
    snprintf(bounded, sizeof bounded, "%.*s", (int)sizeof b->id - 1, b->id);
    pub_page__esc(o, bounded);
    pub_page__put(o, "</td><td>");
    pub_page__put(o, !b->status_known ? "—" : b->online ? "online" : "offline");
    pub_page__put(o, "</td><td>");
    pub_page__age(o, b->fix_ms < 0 ? -1 : v->now_ms - b->fix_ms);
    pub_page__put(o, "</td><td>");
    if (isfinite(b->lat) && isfinite(b->lon))
        pub_page__putf(o, "%.5f, %.5f", b->lat, b->lon);
    else
        pub_page__put(o, "—");
    pub_page__put(o, "</td><td>");
    if (lv != NULL && lv->trip >= 0 && (size_t)lv->trip < v->feed->ntrips) {
        const struct pub_route *rt =
            pub_page__route(v, pub_page__trip_route(v, lv->trip));

        pub_page__esc(o, v->feed->trips[lv->trip].id);
        pub_page__put(o, " / ");
        pub_page__esc(o, rt != NULL ? rt->short_name
                                    : v->feed->trips[lv->trip].route_id);
    } else {
        pub_page__put(o, "—");
    }
    pub_page__put(o, "</td><td>");
    pub_page__put(o, lv != NULL ? pub_json_status_name(lv->status) : "—");
    pub_page__put(o, "</td><td>");
    if (lv != NULL && lv->trip >= 0)
        pub_page__putf(o, "%+d s", (int)lv->delay_s);
    else
        pub_page__put(o, "—");
    pub_page__putf(o, "</td><td>%llu / %llu / ",
                   (unsigned long long)b->spool_records,
                   (unsigned long long)b->spool_bytes);
    pub_page__age(
        o, b->oldest_unacked_age_s < 0 ? -1 : b->oldest_unacked_age_s * 1000);
    pub_page__put(o, "</td><td>");
    pub_page__put(o, b->gps_mode == 3   ? "3D"
                     : b->gps_mode == 2 ? "2D"
                                        : "none");
    if (!b->gps_connected)
        pub_page__put(o, " (gpsd down)");
    pub_page__put(o, "</td><td>");
    snprintf(bounded, sizeof bounded, "%.*s", (int)sizeof b->counter_state - 1,
             b->counter_state);
    pub_page__esc(o, bounded[0] != '\0' ? bounded : "—");
    pub_page__putf(o, "</td><td>%llu / %llu</td><td>%llu</td><td>%llu</td><td>",
                   (unsigned long long)b->dropped_positions,
                   (unsigned long long)b->dropped_counts,
                   (unsigned long long)b->counter_rejected,
                   (unsigned long long)b->acks_refused);
    snprintf(bounded, sizeof bounded, "%.*s", (int)sizeof b->version - 1,
             b->version);
    pub_page__esc(o, bounded[0] != '\0' ? bounded : "—");
    pub_page__put(o, "</td><td>");
    /* Not colour alone: the reasons are written out. */
    if (why[0] != '\0') {
        pub_page__put(o, "⚠ ");
        pub_page__put(o, why);
    }
    pub_page__put(o, "</td></tr>\n");
}

enum pub_page_err pub_page_fleet(const struct pub_view *v, const char *lang,
                                 char **out, size_t *outlen, char *err,
                                 size_t errlen)
{
    struct pub_page__out o = {0};
    char why[128];
    size_t warn = 0;
    enum pub_page_err e = pub_page__check(v, out, err, errlen);

    if (e != PUB_PAGE_OK)
        return e;
    o.lang = pub_page__is_en(lang) ? "en" : "ko";
    for (size_t i = 0; v->buses != NULL && i < v->nbuses; i++) {
        pub_page__attention(v, &v->buses[i], why, sizeof why);
        warn += why[0] != '\0';
    }
    pub_page__head(&o, "fleet", NULL, false);
    pub_page__put(&o, "<header><h1>");
    pub_page__say(&o, "fleet", 0, 0);
    pub_page__put(&o, pub_page__is_en(o.lang)
                          ? "</h1><a href=\"?lang=ko\" lang=\"ko\" "
                            "hreflang=\"ko\">"
                          : "</h1><a href=\"?lang=en\" lang=\"en\" "
                            "hreflang=\"en\">");
    pub_page__say(&o, "other_lang", 0, 0);
    pub_page__put(&o, "</a></header>\n<main>\n<p id=\"sum\">");
    pub_page__say(&o, "buses", (long)v->nbuses, 0);
    pub_page__put(&o, " · ");
    pub_page__say(&o, "attention", (long)warn, 0);
    pub_page__put(&o, "</p>\n");
    if (v->buses == NULL || v->nbuses == 0) {
        pub_page__put(&o, "<p class=\"none\">");
        pub_page__say(&o, "no_fleet", 0, 0);
        pub_page__put(&o, "</p>\n");
    } else {
        pub_page__put(&o, "<div class=\"wrap\"><table><caption>");
        pub_page__say(&o, "fleet", 0, 0);
        pub_page__put(&o, "</caption>\n<thead><tr>");
        for (size_t c = 0;
             c < sizeof pub_page__fleet_cols / sizeof pub_page__fleet_cols[0];
             c++) {
            pub_page__put(&o, "<th scope=\"col\">");
            if (pub_page__is_en(o.lang)) {
                pub_page__put(&o, pub_page__fleet_cols[c][1]);
            } else {
                pub_page__put(&o, pub_page__fleet_cols[c][0]);
                pub_page__put(&o, "<span lang=\"en\">");
                pub_page__put(&o, pub_page__fleet_cols[c][1]);
                pub_page__put(&o, "</span>");
            }
            pub_page__put(&o, "</th>");
        }
        pub_page__put(&o, "</tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < v->nbuses; i++) {
            pub_page__attention(v, &v->buses[i], why, sizeof why);
            pub_page__bus(&o, v, &v->buses[i], why);
        }
        pub_page__put(&o, "</tbody></table></div>\n");
    }
    pub_page__put(&o, "</main>\n");
    pub_page__footer(&o, v);
    pub_page__put(&o, "</body></html>\n");
    return pub_page__finish(&o, out, outlen, err, errlen);
}
