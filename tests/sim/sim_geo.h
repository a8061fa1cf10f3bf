/* sim_geo: distances and positions along polylines, in metres. */
#ifndef SHUTTLE_SIM_GEO_H
#define SHUTTLE_SIM_GEO_H

/* Distance in metres between two points (equirectangular: the simulator
 * deals in a few kilometres, where its error is millimetres). */
double sim_geo_dist(double lat1, double lon1, double lat2, double lon2);

/* Bearing from point 1 to point 2, degrees true in [0, 360). */
double sim_geo_bearing(double lat1, double lon1, double lat2, double lon2);

/* Move LAT/LON by NORTH and EAST metres. */
void sim_geo_offset(double *lat, double *lon, double north, double east);

/* A polyline: N points LAT[i], LON[i] with cumulative distance D[i]
 * (D[0] = 0), all owned by whoever filled it. */
struct sim_line {
    const double *lat, *lon, *d;
    int n;
};

/* The point at distance DIST along the line (clamped to its ends). */
void sim_geo_at(const struct sim_line *l, double dist, double *lat,
                double *lon);

/* The distance along the line, not before FROM, of the point nearest to
 * LAT/LON; *OFF (may be NULL) receives how far off the line it is. */
double sim_geo_project(const struct sim_line *l, double lat, double lon,
                       double from, double *off);

#endif
