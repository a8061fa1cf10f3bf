/* gnss: position fixes from gpsd through libgps. */
#ifndef SHUTTLE_GNSS_H
#define SHUTTLE_GNSS_H

#include <stddef.h>
#include <stdint.h>

struct gnss;

/* One usable fix: mode 2D or 3D with finite coordinates and a GPS time. */
struct gnss_fix {
    int64_t t_ms; /* GPS time of the fix, Unix ms UTC */
    double lat, lon;
    double speed, track, alt, hdop; /* NAN when gpsd does not know */
    int mode;                       /* 2 or 3 */
    int sats_used;                  /* -1 when unknown */
};

enum gnss_err {
    GNSS_OK = 0,
    GNSS_ERR_NOMEM = -1,
    GNSS_ERR_CONNECT = -2, /* gpsd not reachable */
    GNSS_ERR_LOST = -3,    /* connection closed or broken */
};

/* Create a handle for gpsd at host:port; not yet connected. */
int gnss_new(const char *host, const char *port, struct gnss **out);
void gnss_free(struct gnss *g);

/* Connect and start a JSON watch. Returns GNSS_OK or GNSS_ERR_CONNECT
 * (errno-style reason in err); the caller retries with back-off. */
int gnss_connect(struct gnss *g, char *err, size_t errlen);
void gnss_disconnect(struct gnss *g);

/* The socket to poll for input, or -1 when not connected. */
int gnss_fd(const struct gnss *g);

/*
 * Read everything gpsd has sent and call on_fix once per new usable fix (a
 * TPV with a new time). Returns GNSS_OK, or GNSS_ERR_LOST after which the
 * handle is disconnected.
 */
int gnss_read(struct gnss *g,
              void (*on_fix)(void *arg, const struct gnss_fix *fix), void *arg);

/* Mode of the last TPV report (0: none seen yet, 1: no fix, 2, 3). */
int gnss_mode(const struct gnss *g);

/* Reports rejected since start: no fix, non-finite coordinates, no time. */
uint64_t gnss_rejected(const struct gnss *g);

#endif
