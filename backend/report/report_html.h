/* report_html: shuttle-report as one self-contained HTML page (inline CSS,
 * inline SVG charts, no script, nothing fetched). */
#ifndef SHUTTLE_REPORT_HTML_H
#define SHUTTLE_REPORT_HTML_H

#include <stdio.h>

#include "report_query.h"

/*
 * Write the page of a day: headline figures against the target, peak load
 * per run against the seats, boardings by hour, routes, runs, stops,
 * counter quality and prediction accuracy per horizon. Every figure also
 * JSON has is in an element with an id or data-* attribute holding exactly
 * the JSON's value (same formatting), so a test can compare the rendered
 * page with the JSON report. Returns 0, or -1 when writing failed.
 */
int report_html_daily(FILE *fp, const struct report_query_daily *d,
                      int english);

/* The page of a range: riders per day against the target line and the days
 * below it. Same data-* convention; returns as report_html_daily. */
int report_html_range(FILE *fp, const struct report_query_range *r,
                      int english);

#endif
