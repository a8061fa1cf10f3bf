/* fuzz_http: query parameters from the public HTTP server: the report
 * pages' (report_job_parse), the workers' page's (pub_page_workers over a
 * small fixed day) and the arrivals' stop id (pub_json_stop_find). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"
#include "pub_json.h"
#include "pub_page.h"
#include "report_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HTTP_ARGS_MAX 16
/* 2026-12-01 12:00 UTC: the default date is then fixed. */
#define FUZZ_HTTP_WALL_MS 1796126400000LL

/*
 * TEXT ("a=1&b&c=") as libmicrohttpd hands it over: already split and
 * decoded, a key without '=' with a NULL value. TEXT is cut in place.
 */
static size_t fuzz_http__args(char *text, struct report_job_arg *args)
{
    size_t n = 0;
    char *p = text;

    while (p && n < FUZZ_HTTP_ARGS_MAX) {
        char *amp = strchr(p, '&'), *eq;

        if (amp)
            *amp = '\0';
        eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        args[n].key = p;
        args[n].value = eq ? eq + 1 : NULL;
        n++;
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

static void fuzz_http__report(char *text, unsigned sel)
{
    static const char *const zones[] = {"Asia/Seoul", "", NULL, "Nowhere/X"};
    struct report_job_arg args[FUZZ_HTTP_ARGS_MAX];
    struct report_job_req req;
    enum report_job_kind kind = sel & 1 ? REPORT_JOB_RANGE : REPORT_JOB_DAILY;
    size_t n = fuzz_http__args(text, args);
    char err[256];

    err[0] = '\0';
    if (report_job_parse(kind, args, n, zones[(sel >> 1) % 4],
                         FUZZ_HTTP_WALL_MS, &req, err,
                         sizeof err) == REPORT_JOB_OK) {
        /* A validated request names real dates, in order. */
        if (strlen(req.from) != 10 || strlen(req.to) != 10 ||
            strcmp(req.from, req.to) > 0 ||
            (kind == REPORT_JOB_DAILY && strcmp(req.from, req.to) != 0))
            abort();
    }
}

/* TEXT "route\nstop\nlang" (missing parts NULL) as the workers' page's
 * route=, stop= and lang=. */
static void fuzz_http__page(char *text, const struct fuzz_world *w)
{
    char *parts[3] = {NULL, NULL, NULL};
    struct pub_page_req req;
    char *out = NULL, err[256];
    size_t outlen = 0, key;
    char *p = text;

    for (int i = 0; i < 3 && p; i++) {
        char *nl = strchr(p, '\n');

        if (nl)
            *nl = '\0';
        parts[i] = p;
        p = nl ? nl + 1 : NULL;
    }
    req.route_id = parts[0];
    req.stop_id = parts[1];
    req.lang = parts[2];
    key = pub_page_workers_key(&w->view, &req);
    if (key >= pub_page_workers_nkeys(&w->view))
        abort();
    if (pub_page_workers(&w->view, &req, &out, &outlen, err, sizeof err) ==
        PUB_PAGE_OK) {
        if (out == NULL || outlen == 0 || strlen(out) != outlen)
            abort();
    }
    free(out);
    if (parts[1]) {
        int s = pub_json_stop_find(&w->feed, parts[1]);

        if (s < -1 || s >= (int)w->feed.nstops ||
            (s >= 0 && strcmp(w->feed.stops[s].id, parts[1]) != 0))
            abort();
    }
}

/* The first byte picks the request (and the report's kind and zone); the
 * rest is its text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world w;
    char *text;

    if (size < 1 || (text = malloc(size)) == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 0x80) {
        if (fuzz_world_init(&w) != 0)
            abort();
        fuzz_http__page(text, &w);
        fuzz_world_free(&w);
    } else {
        fuzz_http__report(text, data[0]);
    }
    free(text);
    return 0;
}
