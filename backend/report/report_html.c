/* report_html: the HTML page of shuttle-report (ridership, runs, stops,
 * prediction accuracy), charts drawn as inline SVG so the page can be
 * mailed or archived as one file. */
#include "report_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_fmt.h"
#include "report_text.h"

static const char css[] =
    "body{font-family:'Noto Sans CJK KR','Malgun Gothic','Apple SD Gothic "
    "Neo',sans-serif;margin:24px;color:#1d2733;background:#f6f8fa}"
    "h1{font-size:22px;margin:0 0 4px}h1 small{font-weight:normal;"
    "color:#556}h2{font-size:17px;margin:28px 0 8px}"
    ".built{color:#667;font-size:13px;margin:0 0 16px}"
    ".kpis{display:flex;flex-wrap:wrap;gap:12px}"
    ".kpi{background:#fff;border:1px solid #d8dee4;border-radius:8px;"
    "padding:12px 16px;min-width:120px}"
    ".kpi .l{font-size:12px;color:#556}.kpi .v{font-size:26px;"
    "font-weight:bold}.kpi .s{font-size:13px;color:#556}"
    ".kpi.main{min-width:280px}.meter{height:8px;background:#e3e8ee;"
    "border-radius:4px;margin-top:8px;overflow:hidden}"
    ".meter div{height:8px;background:#1e88e5}.meter .below{"
    "background:#f57c00}"
    ".bad{color:#c62828}"
    "table{border-collapse:collapse;background:#fff;font-size:13px}"
    "th,td{border:1px solid #d8dee4;padding:3px 8px}th{background:#eef2f6;"
    "text-align:left}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums}tr.missed td{color:#889}tr.flag td.f{color:#c62828;"
    "font-weight:bold}"
    "svg{background:#fff;border:1px solid #d8dee4;border-radius:8px}"
    "svg text{font-size:11px;fill:#445}"
    ".bar{fill:#1e88e5}.bar.crowded{fill:#e53935}.bar.below{fill:#f57c00}"
    ".bar.none{fill:#cfd8dc}.ref{stroke:#c62828;stroke-width:1.5;"
    "stroke-dasharray:6 4}.axis{stroke:#99a}";

static void report_html__head(FILE *fp, const char *title, int english)
{
    fprintf(fp,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
            "<meta charset=\"utf-8\">\n<title>",
            english ? "en" : "ko");
    report_text_html(fp, title);
    fprintf(fp, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
}

/* A figure: the visible text shows it formatted for people, data-value
 * holds it as the JSON writes it. */
static void report_html__num(FILE *fp, const char *id, long long v)
{
    char t[32];

    fprintf(fp, "<span id=\"%s\" data-value=\"%lld\">%s</span>", id, v,
            report_text_thousands(v, t, sizeof t));
}

static void report_html__kpi(FILE *fp, const char *label, const char *id,
                             long long v, int bad)
{
    fputs("<div class=\"kpi\"><div class=\"l\">", fp);
    report_text_html(fp, label);
    fprintf(fp, "</div><div class=\"v%s\">", bad ? " bad" : "");
    report_html__num(fp, id, v);
    fputs("</div></div>\n", fp);
}

struct bar {
    double v;
    const char *label; /* under the axis; NULL: none */
    const char *cls;   /* extra CSS class */
    const char *title; /* tooltip */
    const char *dattr; /* data-* attribute name, e.g. "data-trip" */
    const char *dval;  /* its value */
    int has_value;     /* 0: no bar (not built, missed) */
};

/*
 * A bar chart with a dashed reference line (seats, target) in an SVG of
 * W x H pixels. YMAX is the top of the scale. Labels are drawn under every
 * LABEL_EVERY-th bar, turned when they would collide. REF_LABEL NULL:
 * no reference line.
 */
static void report_html__svg_bars(FILE *fp, const char *id,
                                  const struct bar *bars, size_t n, double ref,
                                  const char *ref_label, double ymax,
                                  size_t label_every, int turn_labels)
{
    const double w = 1100, h = 320, left = 48, right = 16, top = 16;
    const double bottom = turn_labels ? 70 : 30;
    const double pw = w - left - right, ph = h - top - bottom;
    double step = n ? pw / (double)n : pw;
    double bw = step * 0.75;
    double gstep = 1, yref;
    int ngrid, k = 0;

    /* Grid step 1, 2, 5, 10, 20, 50... with at most 6 steps up to YMAX,
     * which is rounded up to the last step: labels stay round numbers. */
    while (ymax / gstep > 6) {
        gstep *= k == 1 ? 2.5 : 2;
        k = (k + 1) % 3;
    }
    ngrid = (int)ceil(ymax / gstep - 1e-9);
    ymax = gstep * ngrid;
    yref = top + ph - ph * ref / ymax;

    fprintf(fp,
            "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "role=\"img\">\n",
            id, w, h, w, h);
    for (int i = 0; i <= ngrid; i++) {
        double v = gstep * i, y = top + ph - ph * i / ngrid;

        fprintf(fp,
                "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                "y2=\"%.1f\" stroke-opacity=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                left, y, w - right, y, i ? "0.25" : "1", left - 6, y + 4, v);
    }
    for (size_t i = 0; i < n; i++) {
        const struct bar *b = &bars[i];
        double x = left + step * (double)i + (step - bw) / 2;
        double bh = b->has_value ? ph * (b->v > ymax ? ymax : b->v) / ymax : 4;
        double y = top + ph - bh;

        fprintf(fp,
                "<rect class=\"bar%s%s\" x=\"%.1f\" y=\"%.1f\" "
                "width=\"%.1f\" height=\"%.1f\"",
                b->cls && b->cls[0] ? " " : "", b->cls ? b->cls : "", x, y, bw,
                bh);
        if (b->dattr) {
            fprintf(fp, " %s=\"", b->dattr);
            report_text_html(fp, b->dval);
            fputc('"', fp);
        }
        if (b->has_value)
            fprintf(fp, " data-value=\"%.0f\"", b->v);
        fputs("><title>", fp);
        report_text_html(fp, b->title ? b->title : "");
        fputs("</title></rect>\n", fp);
        if (b->label && label_every && i % label_every == 0) {
            double lx = x + bw / 2, ly = top + ph + 14;

            if (turn_labels)
                fprintf(fp,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                        "transform=\"rotate(-60 %.1f %.1f)\">",
                        lx, ly, lx, ly);
            else
                fprintf(fp,
                        "<text x=\"%.1f\" y=\"%.1f\" "
                        "text-anchor=\"middle\">",
                        lx, ly);
            report_text_html(fp, b->label);
            fputs("</text>\n", fp);
        }
    }
    if (ref_label == NULL) {
        fputs("</svg>\n", fp);
        return;
    }
    fprintf(fp,
            "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
            "style=\"fill:#c62828\">",
            left, yref, w - right, yref, w - right, yref - 5);
    report_text_html(fp, ref_label);
    fputs("</text>\n</svg>\n", fp);
}

static void report_html__th(FILE *fp, int english, enum report_fmt_label id)
{
    fputs("<th>", fp);
    report_text_html(fp, report_fmt_label(english, id));
    fputs("</th>", fp);
}

static void report_html__td_text(FILE *fp, const char *s)
{
    fputs("<td>", fp);
    report_text_html(fp, s);
    fputs("</td>", fp);
}

static void report_html__td_num(FILE *fp, const char *field, long long v)
{
    fprintf(fp, "<td class=\"n\" data-field=\"%s\">%lld</td>", field, v);
}

static void report_html__h2(FILE *fp, int english, enum report_fmt_label id)
{
    fputs("<h2>", fp);
    report_text_html(fp, report_fmt_label(english, id));
    fputs("</h2>\n", fp);
}

static int report_html__done(FILE *fp)
{
    fputs("</body>\n</html>\n", fp);
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

static void report_html__daily_charts(FILE *fp,
                                      const struct report_query_daily *d,
                                      int english)
{
    struct bar bars[24];
    struct bar *rb = NULL;
    char(*titles)[96] = NULL;
    char hl[24][4], ht[24][48], ref[48];
    double ymax = d->p.seats * 1.25;
    double hmax = 10;

    report_html__h2(fp, english, REPORT_FMT_L_SEC_LOAD);
    if (d->nruns > 0) {
        rb = calloc(d->nruns, sizeof *rb);
        titles = calloc(d->nruns, sizeof *titles);
    }
    if (rb != NULL && titles != NULL) {
        for (size_t i = 0; i < d->nruns; i++) {
            const struct report_query_run *r = &d->runs[i];

            if (r->has_peak && r->peak_load > ymax)
                ymax = r->peak_load;
            snprintf(titles[i], sizeof titles[i], "%s %s: %s %d/%d", r->trip_id,
                     r->sched_start,
                     report_fmt_label(english, REPORT_FMT_L_PEAK),
                     r->has_peak ? r->peak_load : 0, d->p.seats);
            rb[i].v = r->has_peak ? r->peak_load : 0;
            rb[i].has_value = r->has_peak;
            rb[i].label = r->sched_start;
            rb[i].cls = !r->has_peak ? "none" : r->crowded ? "crowded" : "";
            rb[i].title = titles[i];
            rb[i].dattr = "data-trip";
            rb[i].dval = r->trip_id;
        }
        snprintf(ref, sizeof ref, "%d %s", d->p.seats,
                 report_fmt_label(english, REPORT_FMT_L_SEATS));
        report_html__svg_bars(fp, "chart-load", rb, d->nruns, d->p.seats, ref,
                              ymax, d->nruns > 26 ? 2 : 1, 1);
    }
    free(rb);
    free(titles);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_HOURLY);
    for (int hr = 0; hr < 24; hr++)
        if (d->hour_boarded[hr] > hmax)
            hmax = d->hour_boarded[hr];
    for (int hr = 0; hr < 24; hr++) {
        snprintf(hl[hr], sizeof hl[hr], "%d", hr);
        snprintf(ht[hr], sizeof ht[hr], "%02d:00 %s %d", hr,
                 report_fmt_label(english, REPORT_FMT_L_BOARDED),
                 d->hour_boarded[hr]);
        bars[hr] = (struct bar){.v = d->hour_boarded[hr],
                                .label = hl[hr],
                                .cls = "",
                                .title = ht[hr],
                                .dattr = "data-hour",
                                .dval = hl[hr],
                                .has_value = 1};
    }
    /* No reference line is meaningful per hour. */
    report_html__svg_bars(fp, "chart-hourly", bars, 24, 0, NULL, hmax, 1, 0);
}

/* A figure with one decimal: shown and in data-value as the JSON has it. */
static void report_html__td_d1(FILE *fp, const char *field, double v)
{
    fprintf(fp,
            "<td class=\"n\" data-field=\"%s\" data-value=\"%.1f\">%.1f</td>",
            field, v, v);
}

/* Prediction accuracy per horizon; a line saying there is none before
 * shuttle-live scored any prediction of the day. */
static void report_html__eta(FILE *fp, const struct report_query_daily *d,
                             int english)
{
    char h[32], rule[320];

    report_html__h2(fp, english, REPORT_FMT_L_SEC_ETA);
    if (d->neta == 0) {
        fputs("<p id=\"eta-none\">", fp);
        report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_NO_ETA));
        fputs("</p>\n", fp);
        return;
    }
    report_fmt_eta_rule(english, rule, sizeof rule);
    fputs("<p>", fp);
    report_text_html(fp, rule);
    fputs("</p>\n<table id=\"eta\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_HORIZON);
    report_html__th(fp, english, REPORT_FMT_L_SAMPLES);
    report_html__th(fp, english, REPORT_FMT_L_MAE);
    report_html__th(fp, english, REPORT_FMT_L_P90);
    report_html__th(fp, english, REPORT_FMT_L_BIAS);
    report_html__th(fp, english, REPORT_FMT_L_ACCURATE);
    report_html__th(fp, english, REPORT_FMT_L_COVERED);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < d->neta; i++) {
        const struct report_query_eta *e = &d->eta[i];

        report_fmt_horizon(english, e->horizon_s, h, sizeof h);
        fprintf(fp, "<tr data-horizon=\"%d\">", e->horizon_s);
        report_html__td_text(fp, h);
        report_html__td_num(fp, "samples", e->samples);
        report_html__td_d1(fp, "mae_s", e->mae_s);
        report_html__td_d1(fp, "p90_s", e->p90_s);
        report_html__td_d1(fp, "bias_s", e->bias_s);
        report_html__td_d1(fp, "accuracy_pct", e->accuracy_pct);
        report_html__td_d1(fp, "coverage_pct", e->coverage_pct);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

int report_html_daily(FILE *fp, const struct report_query_daily *d, int english)
{
    char t[64], title[256];
    long days = 0;

    report_text_parse_date(d->date, &days, t, sizeof t);
    snprintf(title, sizeof title, "%s %s",
             report_fmt_label(english, REPORT_FMT_L_TITLE_DAILY), d->date);
    report_html__head(fp, title, english);
    fputs("<h1>", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_TITLE_DAILY));
    fprintf(fp, " <small id=\"date\" data-value=\"%s\">%s (%s)</small></h1>\n",
            d->date, d->date, report_fmt_weekday(english, days));
    fputs("<p class=\"built\">", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_BUILT_AT));
    fputs(" ", fp);
    report_text_html(fp, d->built_at);
    fputs("</p>\n<div class=\"kpis\">\n", fp);

    fputs("<div class=\"kpi main\"><div class=\"l\">", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_RIDERS));
    fputs("</div><div class=\"v\">", fp);
    report_html__num(fp, "boarded", d->boarded);
    fputs("</div><div class=\"s\">/ ", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_TARGET));
    fputs(" ", fp);
    report_html__num(fp, "target", d->p.target);
    fprintf(fp,
            " (<span id=\"pct-of-target\" data-value=\"%.1f\">%.1f</span> %%)"
            "</div><div class=\"meter\"><div class=\"%s\" "
            "style=\"width:%.1f%%\"></div></div></div>\n",
            d->pct_of_target, d->pct_of_target,
            d->boarded < d->p.target ? "below" : "",
            d->pct_of_target > 100 ? 100.0 : d->pct_of_target);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_SCHEDULED),
                     "runs-scheduled", d->runs_scheduled, 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_OPERATED),
                     "runs-operated", d->runs_operated, 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_PARTIAL),
                     "runs-partial", d->runs_partial, d->runs_partial > 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_MISSED),
                     "runs-missed", d->runs_missed, d->runs_missed > 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_LATE),
                     "runs-late", d->runs_late, d->runs_late > 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_CROWDED),
                     "runs-crowded", d->runs_crowded, d->runs_crowded > 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_ALIGHTED),
                     "alighted", d->alighted, 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_UNATTRIBUTED),
                     "unattributed-boarded", d->unattributed, 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_SUSPECT),
                     "runs-counter-suspect", d->runs_counter_suspect,
                     d->runs_counter_suspect > 0);
    fputs("</div>\n", fp);

    report_html__daily_charts(fp, d, english);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_ROUTES);
    fputs("<table id=\"routes\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_ROUTE);
    report_html__th(fp, english, REPORT_FMT_L_DIRECTION);
    report_html__th(fp, english, REPORT_FMT_L_SCHEDULED);
    report_html__th(fp, english, REPORT_FMT_L_OPERATED);
    report_html__th(fp, english, REPORT_FMT_L_PARTIAL);
    report_html__th(fp, english, REPORT_FMT_L_MISSED);
    report_html__th(fp, english, REPORT_FMT_L_LATE);
    report_html__th(fp, english, REPORT_FMT_L_CROWDED);
    report_html__th(fp, english, REPORT_FMT_L_BOARDED);
    report_html__th(fp, english, REPORT_FMT_L_ALIGHTED);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < d->nroutes; i++) {
        const struct report_query_route *g = &d->routes[i];

        fputs("<tr data-route=\"", fp);
        report_text_html(fp, g->route_id);
        fprintf(fp, "\" data-direction=\"%d\">", g->direction);
        report_html__td_text(fp, g->route_name);
        report_html__td_text(fp, report_fmt_direction(english, g->direction));
        report_html__td_num(fp, "runs", g->runs);
        report_html__td_num(fp, "operated", g->operated);
        report_html__td_num(fp, "partial", g->partial);
        report_html__td_num(fp, "missed", g->missed);
        report_html__td_num(fp, "late", g->late);
        report_html__td_num(fp, "crowded", g->crowded);
        report_html__td_num(fp, "boarded", g->boarded);
        report_html__td_num(fp, "alighted", g->alighted);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_RUNS);
    fputs("<table id=\"runs\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_TRIP);
    report_html__th(fp, english, REPORT_FMT_L_ROUTE);
    report_html__th(fp, english, REPORT_FMT_L_DIRECTION);
    report_html__th(fp, english, REPORT_FMT_L_SCHED_START);
    report_html__th(fp, english, REPORT_FMT_L_ACTUAL_START);
    report_html__th(fp, english, REPORT_FMT_L_DELAY);
    report_html__th(fp, english, REPORT_FMT_L_VEHICLE);
    report_html__th(fp, english, REPORT_FMT_L_BOARDED);
    report_html__th(fp, english, REPORT_FMT_L_ALIGHTED);
    report_html__th(fp, english, REPORT_FMT_L_PEAK);
    report_html__th(fp, english, REPORT_FMT_L_STATUS);
    report_html__th(fp, english, REPORT_FMT_L_NOTES);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_query_run *r = &d->runs[i];
        char delay[16] = "";
        int flagged = r->crowded || r->late || r->counter_suspect;

        fprintf(fp, "<tr class=\"%s%s\" data-trip=\"",
                r->status == REPORT_QUERY_MISSED ? "missed" : "",
                flagged ? " flag" : "");
        report_text_html(fp, r->trip_id);
        fprintf(fp, "\" data-status=\"%s\">", report_fmt_status_key(r->status));
        report_html__td_text(fp, r->trip_id);
        report_html__td_text(fp, r->route_id);
        report_html__td_text(fp, report_fmt_direction(english, r->direction));
        report_html__td_text(fp, r->sched_start);
        report_html__td_text(fp, r->actual_start);
        if (r->has_delay) {
            report_fmt_delay(r->delay_s, delay, sizeof delay);
            fprintf(fp,
                    "<td class=\"n\" data-field=\"delay_s\" "
                    "data-value=\"%d\">%s</td>",
                    r->delay_s, delay);
        } else {
            fputs("<td></td>", fp);
        }
        report_html__td_text(fp, r->vehicle_id);
        report_html__td_num(fp, "boarded", r->boarded);
        report_html__td_num(fp, "alighted", r->alighted);
        if (r->has_peak)
            fprintf(fp,
                    "<td class=\"n\" data-field=\"peak_load\" "
                    "data-value=\"%d\">%d/%d</td>",
                    r->peak_load, r->peak_load, d->p.seats);
        else
            fputs("<td></td>", fp);
        report_html__td_text(fp, report_fmt_status(english, r->status));
        fputs("<td class=\"f\">", fp);
        if (r->crowded)
            fprintf(fp, "%s ", report_fmt_label(english, REPORT_FMT_L_CROWDED));
        if (r->late)
            fprintf(fp, "%s ", report_fmt_label(english, REPORT_FMT_L_LATE));
        if (r->counter_suspect)
            fprintf(fp, "%s", report_fmt_label(english, REPORT_FMT_L_SUSPECT));
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_STOPS);
    fputs("<table id=\"stops\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_STOP_ID);
    report_html__th(fp, english, REPORT_FMT_L_STOP);
    report_html__th(fp, english, REPORT_FMT_L_VISITS);
    report_html__th(fp, english, REPORT_FMT_L_BOARDED);
    report_html__th(fp, english, REPORT_FMT_L_ALIGHTED);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < d->nstops; i++) {
        const struct report_query_stop *s = &d->stops[i];

        fputs("<tr data-stop=\"", fp);
        report_text_html(fp, s->stop_id);
        fputs("\">", fp);
        report_html__td_text(fp, s->stop_id);
        report_html__td_text(fp, s->name);
        report_html__td_num(fp, "stops_made", s->visits);
        report_html__td_num(fp, "boarded", s->boarded);
        report_html__td_num(fp, "alighted", s->alighted);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_COUNTERS);
    report_fmt_suspect_rule(english, d->p.counter_pct, d->p.counter_slack,
                            title, sizeof title);
    fputs("<p>", fp);
    report_text_html(fp, title);
    fputs("</p>\n<table id=\"counters\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_TRIP);
    report_html__th(fp, english, REPORT_FMT_L_VEHICLE);
    report_html__th(fp, english, REPORT_FMT_L_BOARDED);
    report_html__th(fp, english, REPORT_FMT_L_ALIGHTED);
    report_html__th(fp, english, REPORT_FMT_L_DIFF);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_query_run *r = &d->runs[i];

        if (!r->counter_suspect)
            continue;
        fputs("<tr data-trip=\"", fp);
        report_text_html(fp, r->trip_id);
        fputs("\">", fp);
        report_html__td_text(fp, r->trip_id);
        report_html__td_text(fp, r->vehicle_id);
        report_html__td_num(fp, "boarded", r->boarded);
        report_html__td_num(fp, "alighted", r->alighted);
        report_html__td_num(fp, "difference", r->boarded - r->alighted);
        fputs("</tr>\n", fp);
    }
    if (d->runs_counter_suspect == 0) {
        fputs("<tr><td colspan=\"5\">", fp);
        report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_NONE));
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
    report_html__eta(fp, d, english);
    return report_html__done(fp);
}

int report_html_range(FILE *fp, const struct report_query_range *r, int english)
{
    struct bar *bars = calloc(r->ndays ? r->ndays : 1, sizeof *bars);
    char(*titles)[64] = calloc(r->ndays ? r->ndays : 1, sizeof *titles);
    char title[256], ref[64], t[32];
    double ymax = r->p.target * 1.25;
    size_t every = r->ndays > 16 ? (r->ndays + 15) / 16 : 1;

    if (bars == NULL || titles == NULL) {
        free(bars);
        free(titles);
        return -1;
    }
    snprintf(title, sizeof title, "%s %s .. %s",
             report_fmt_label(english, REPORT_FMT_L_TITLE_RANGE), r->from,
             r->to);
    report_html__head(fp, title, english);
    fputs("<h1>", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_TITLE_RANGE));
    fprintf(fp,
            " <small><span id=\"from\" data-value=\"%s\">%s</span> .. "
            "<span id=\"to\" data-value=\"%s\">%s</span></small></h1>\n",
            r->from, r->from, r->to, r->to);
    fputs("<div class=\"kpis\">\n", fp);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_DAYS_BUILT),
                     "days-built", r->days_built, 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_SEC_BELOW),
                     "days-below-target", r->days_below, r->days_below > 0);
    report_html__kpi(fp, report_fmt_label(english, REPORT_FMT_L_TOTAL),
                     "boarded-total", r->boarded_total, 0);
    fputs("<div class=\"kpi\"><div class=\"l\">", fp);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_MEAN));
    fprintf(fp,
            "</div><div class=\"v\"><span id=\"boarded-mean\" "
            "data-value=\"%.1f\">%.1f</span></div><div class=\"s\">/ ",
            r->boarded_mean, r->boarded_mean);
    report_text_html(fp, report_fmt_label(english, REPORT_FMT_L_TARGET));
    fputs(" ", fp);
    report_html__num(fp, "target", r->p.target);
    fputs("</div></div>\n</div>\n", fp);

    for (size_t i = 0; i < r->ndays; i++) {
        const struct report_query_day *d = &r->days[i];

        if (d->built && d->boarded > ymax)
            ymax = d->boarded;
        if (d->built)
            snprintf(titles[i], sizeof titles[i], "%s: %d (%.1f %%)", d->date,
                     d->boarded, d->pct_of_target);
        else
            snprintf(titles[i], sizeof titles[i], "%s: %s", d->date,
                     report_fmt_label(english, REPORT_FMT_L_NOT_BUILT));
        bars[i] = (struct bar){.v = d->boarded,
                               .label = d->date + 5, /* MM-DD */
                               .cls = !d->built         ? "none"
                                      : d->below_target ? "below"
                                                        : "",
                               .title = titles[i],
                               .dattr = "data-date",
                               .dval = d->date,
                               .has_value = d->built};
    }
    report_html__h2(fp, english, REPORT_FMT_L_SEC_TREND);
    snprintf(ref, sizeof ref, "%s %s",
             report_fmt_label(english, REPORT_FMT_L_TARGET),
             report_text_thousands(r->p.target, t, sizeof t));
    report_html__svg_bars(fp, "chart-days", bars, r->ndays, r->p.target, ref,
                          ymax, every, 1);

    report_html__h2(fp, english, REPORT_FMT_L_SEC_BELOW);
    fputs("<table id=\"below\"><tr>", fp);
    report_html__th(fp, english, REPORT_FMT_L_DATE);
    report_html__th(fp, english, REPORT_FMT_L_BOARDED);
    report_html__th(fp, english, REPORT_FMT_L_OF_TARGET);
    report_html__th(fp, english, REPORT_FMT_L_MISSED);
    fputs("</tr>\n", fp);
    for (size_t i = 0; i < r->ndays; i++) {
        const struct report_query_day *d = &r->days[i];

        if (!d->built || !d->below_target)
            continue;
        fprintf(fp, "<tr data-date=\"%s\">", d->date);
        report_html__td_text(fp, d->date);
        report_html__td_num(fp, "boarded", d->boarded);
        fprintf(fp, "<td class=\"n\" data-field=\"pct_of_target\">%.1f</td>",
                d->pct_of_target);
        report_html__td_num(fp, "runs_missed", d->runs_missed);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
    free(bars);
    free(titles);
    return report_html__done(fp);
}
