/* live_shape: a trip's shape as a polyline with cumulative distances, and
 * the projection of a point onto it. */
#include "live_shape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Point P projected on segment A-B in a local flat frame (metres): the
 * fraction along it and the distance off it. */
static double live_shape__seg(double alat, double alon, double blat,
                              double blon, double plat, double plon,
                              double *off)
{
    const double r = 6371008.8, rad = M_PI / 180;
    double k = cos(alat * rad) * r * rad;
    double bx = (blon - alon) * k, by = (blat - alat) * r * rad;
    double px = (plon - alon) * k, py = (plat - alat) * r * rad;
    double l2 = bx * bx + by * by, u = l2 > 0 ? (px * bx + py * by) / l2 : 0;

    if (u < 0)
        u = 0;
    if (u > 1)
        u = 1;
    *off = hypot(px - u * bx, py - u * by);
    return u;
}

double live_shape_project(const struct live_shape *s, double lat, double lon,
                          double from, double to, double *off)
{
    double best = INFINITY, along = 0;

    for (size_t i = 0; i + 1 < s->n; i++) {
        double o, u;

        if (s->d[i + 1] < from || s->d[i] > to)
            continue;
        u = live_shape__seg(s->lat[i], s->lon[i], s->lat[i + 1], s->lon[i + 1],
                            lat, lon, &o);
        if (o < best) {
            best = o;
            along = s->d[i] + u * (s->d[i + 1] - s->d[i]);
        }
    }
    if (off)
        *off = best;
    return along;
}

void live_shape_free(struct live_shape *s)
{
    free(s->lat);
    free(s->lon);
    free(s->d);
    free(s->stop_d);
    memset(s, 0, sizeof *s);
}

enum live_shape_err live_shape_build(const struct trips_feed *f, size_t t,
                                     const struct live_shapes *sh,
                                     struct live_shape *out, char *err,
                                     size_t errlen)
{
    const struct trips_trip *tr = &f->trips[t];
    int si = sh && sh->trip_shape ? sh->trip_shape[t] : -1;
    size_t n = si >= 0 && (size_t)si < sh->nshapes ? sh->n[si] : tr->n;
    double from = -INFINITY, base;

    memset(out, 0, sizeof *out);
    if (n < 2 || tr->n < 1) {
        snprintf(err, errlen, "trip %s: fewer than two points", tr->id);
        return LIVE_SHAPE_ERR_INVALID;
    }
    out->lat = malloc(n * sizeof *out->lat);
    out->lon = malloc(n * sizeof *out->lon);
    out->d = malloc(n * sizeof *out->d);
    out->stop_d = malloc(tr->n * sizeof *out->stop_d);
    if (!out->lat || !out->lon || !out->d || !out->stop_d) {
        live_shape_free(out);
        snprintf(err, errlen, "out of memory");
        return LIVE_SHAPE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (si >= 0 && (size_t)si < sh->nshapes) {
            const struct live_shape_pt *q = &sh->pts[sh->first[si] + i];

            out->lat[i] = q->lat;
            out->lon[i] = q->lon;
        } else {
            const struct trips_stop *q = &f->stops[f->st[tr->first + i].stop];

            out->lat[i] = q->lat;
            out->lon[i] = q->lon;
        }
        /* Distances are measured, not taken from shape_dist_traveled:
         * its unit is the feed's choice. */
        out->d[i] =
            i ? out->d[i - 1] + trips_dist_m(out->lat[i - 1], out->lon[i - 1],
                                             out->lat[i], out->lon[i])
              : 0;
    }
    out->n = n;
    out->nstops = tr->n;
    if (out->d[n - 1] <= 0) {
        live_shape_free(out);
        snprintf(err, errlen, "trip %s: a line of no length", tr->id);
        return LIVE_SHAPE_ERR_INVALID;
    }
    /* Each stop not before the one before it: a loop keeps its order. */
    for (size_t k = 0; k < tr->n; k++) {
        const struct trips_stop *q = &f->stops[f->st[tr->first + k].stop];

        out->stop_d[k] =
            live_shape_project(out, q->lat, q->lon, from, INFINITY, NULL);
        from = out->stop_d[k];
    }
    /* Distances count from the first stop. */
    base = out->stop_d[0];
    for (size_t i = 0; i < n; i++)
        out->d[i] -= base;
    for (size_t k = 0; k < tr->n; k++)
        out->stop_d[k] -= base;
    out->len = out->d[n - 1];
    return LIVE_SHAPE_OK;
}
