/* pub_page: the HTML pages of shuttle-live — the workers' page (a stop's
 * next buses, Korean or English) and the operators' fleet page — as pure
 * builders over struct pub_view returning malloc'd bytes. */
#ifndef SHUTTLE_PUB_PAGE_H
#define SHUTTLE_PUB_PAGE_H

#include <stddef.h>

#include "buf.h"
#include "pub_view.h"

/* What the workers' page was asked for (the query string, unchecked: any
 * field may be NULL, empty, unknown or hostile). */
struct pub_page_req {
    const char *route_id; /* narrows the stop list and the board */
    const char *stop_id;  /* the stop whose board is shown */
    const char *lang;     /* "ko" (default, also for anything unknown), "en" */
};

enum pub_page_err {
    PUB_PAGE_OK = 0,
    PUB_PAGE_ERR_INVALID, /* a view without a feed */
    PUB_PAGE_ERR_NOMEM,
};

/* The strings both the page's C side and its script use, one table: KEY's
 * text in LANG ("en", else Korean). "{n}" and "{m}" stand for numbers.
 * Returns a static string, or "" for an unknown key. */
const char *pub_page_text(const char *key, const char *lang);

/*
 * The workers' page for REQ at V->now_ms: the route/stop form, the chosen
 * stop's board (pub_board_stop; rows of other routes left out when a known
 * route is chosen), the string table and the refresh script, the
 * generated time and the feed version. An unknown stop or route id is not
 * an error: the page says so (or ignores the route) and shows the form.
 * On PUB_PAGE_OK *OUT is a malloc'd NUL-terminated page of *OUTLEN bytes,
 * the caller's to free; otherwise *OUT is NULL and ERR says why.
 */
enum pub_page_err pub_page_workers(const struct pub_view *v,
                                   const struct pub_page_req *req, char **out,
                                   size_t *outlen, char *err, size_t errlen);

/*
 * Which distinct workers' page REQ asks for: requests with the same key
 * get the same bytes from pub_page_workers for the same view (unknown ids
 * all give the one "unknown stop" page), so the loop can keep one body
 * per key, built on first request after each change of the live state.
 * Returns a key below pub_page_workers_nkeys(V); 0 for a view without a
 * feed.
 */
size_t pub_page_workers_key(const struct pub_view *v,
                            const struct pub_page_req *req);
size_t pub_page_workers_nkeys(const struct pub_view *v);

/*
 * The fleet page at V->now_ms: one table row per bus of V->buses, rows
 * needing attention (offline, fix older than LIVE_STALE_MS, spool over
 * PUB_PAGE_SPOOL_WARN records, counter fault) marked with their reasons.
 * LANG "en" gives English headers, else Korean with English beneath.
 * Output and errors as pub_page_workers.
 */
#define PUB_PAGE_SPOOL_WARN 1000
enum pub_page_err pub_page_fleet(const struct pub_view *v, const char *lang,
                                 char **out, size_t *outlen, char *err,
                                 size_t errlen);

/* Append S to B escaped for HTML text and attribute values (& < > " '),
 * invalid UTF-8 and control characters replaced by U+FFFD. NULL appends
 * nothing. Returns BUF_OK or BUF_ERR_NOMEM. */
int pub_page_escape(struct buf *b, const char *s);

#endif
