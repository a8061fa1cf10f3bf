/* sim_geo: distances and positions along polylines. */
#include "sim_geo.h"

#include <math.h>

#define R_EARTH 6371008.8
#define DEG (M_PI / 180.0)

double sim_geo_dist(double lat1, double lon1, double lat2, double lon2)
{
    double x = (lon2 - lon1) * DEG * cos((lat1 + lat2) / 2 * DEG);
    double y = (lat2 - lat1) * DEG;

    return sqrt(x * x + y * y) * R_EARTH;
}

double sim_geo_bearing(double lat1, double lon1, double lat2, double lon2)
{
    double x = (lon2 - lon1) * cos((lat1 + lat2) / 2 * DEG);
    double y = lat2 - lat1;
    double b = atan2(x, y) / DEG;

    if (b < 0)
        b += 360.0;
    return b >= 360.0 ? 0.0 : b;
}

void sim_geo_offset(double *lat, double *lon, double north, double east)
{
    *lat += north / R_EARTH / DEG;
    *lon += east / (R_EARTH * cos(*lat * DEG)) / DEG;
}

void sim_geo_at(const struct sim_line *l, double dist, double *lat, double *lon)
{
    int lo = 0, hi = l->n - 1;
    double f;

    if (l->n == 1 || dist <= 0) {
        *lat = l->lat[0];
        *lon = l->lon[0];
        return;
    }
    if (dist >= l->d[hi]) {
        *lat = l->lat[hi];
        *lon = l->lon[hi];
        return;
    }
    while (hi - lo > 1) { /* d[lo] <= dist < d[hi] */
        int mid = (lo + hi) / 2;

        if (l->d[mid] <= dist)
            lo = mid;
        else
            hi = mid;
    }
    f = l->d[hi] > l->d[lo] ? (dist - l->d[lo]) / (l->d[hi] - l->d[lo]) : 0;
    *lat = l->lat[lo] + (l->lat[hi] - l->lat[lo]) * f;
    *lon = l->lon[lo] + (l->lon[hi] - l->lon[lo]) * f;
}

double sim_geo_project(const struct sim_line *l, double lat, double lon,
                       double from, double *off)
{
    double best = INFINITY, best_d = from;

    for (int i = 0; i + 1 < l->n; i++) {
        /* Work in a local flat frame around the segment's start. */
        double kx = cos(l->lat[i] * DEG) * DEG * R_EARTH, ky = DEG * R_EARTH;
        double ax = 0, ay = 0;
        double bx = (l->lon[i + 1] - l->lon[i]) * kx;
        double by = (l->lat[i + 1] - l->lat[i]) * ky;
        double px = (lon - l->lon[i]) * kx, py = (lat - l->lat[i]) * ky;
        double len2 = bx * bx + by * by;
        double f = len2 > 0 ? ((px - ax) * bx + (py - ay) * by) / len2 : 0;
        double d, e;

        if (l->d[i + 1] < from)
            continue;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        d = l->d[i] + f * (l->d[i + 1] - l->d[i]);
        if (d < from) {
            d = from;
            f = l->d[i + 1] > l->d[i]
                    ? (from - l->d[i]) / (l->d[i + 1] - l->d[i])
                    : 0;
        }
        e = hypot(px - f * bx, py - f * by);
        if (e < best - 1e-9) {
            best = e;
            best_d = d;
        }
    }
    if (l->n == 1)
        best = sim_geo_dist(lat, lon, l->lat[0], l->lon[0]);
    if (off)
        *off = best;
    return best_d;
}
