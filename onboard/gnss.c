/* gnss: position fixes from gpsd through libgps. */
#include "gnss.h"

#include <errno.h>
#include <gps.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gnss {
    char *host, *port;
    struct gps_data_t gd;
    int connected;
    int mode;
    /* gpsd repeats the last TPV on several messages of one cycle: one
     * position per fix time. */
    int64_t last_t_ms;
    uint64_t rejected;
};

int gnss_new(const char *host, const char *port, struct gnss **out)
{
    struct gnss *g = calloc(1, sizeof *g);

    if (!g)
        return GNSS_ERR_NOMEM;
    g->host = strdup(host);
    g->port = strdup(port);
    if (!g->host || !g->port) {
        gnss_free(g);
        return GNSS_ERR_NOMEM;
    }
    *out = g;
    return GNSS_OK;
}

void gnss_free(struct gnss *g)
{
    if (!g)
        return;
    gnss_disconnect(g);
    free(g->host);
    free(g->port);
    free(g);
}

int gnss_connect(struct gnss *g, char *err, size_t errlen)
{
    gnss_disconnect(g);
    memset(&g->gd, 0, sizeof g->gd);
    if (gps_open(g->host, g->port, &g->gd) != 0) {
        snprintf(err, errlen, "gpsd at %s:%s: %s", g->host, g->port,
                 gps_errstr(errno));
        return GNSS_ERR_CONNECT;
    }
    if (gps_stream(&g->gd, WATCH_ENABLE | WATCH_JSON, NULL) != 0) {
        snprintf(err, errlen, "gpsd at %s:%s: cannot start watch", g->host,
                 g->port);
        gps_close(&g->gd);
        return GNSS_ERR_CONNECT;
    }
    g->connected = 1;
    return GNSS_OK;
}

void gnss_disconnect(struct gnss *g)
{
    if (g->connected) {
        gps_close(&g->gd);
        g->connected = 0;
    }
    g->mode = 0;
}

int gnss_fd(const struct gnss *g)
{
    return g->connected ? (int)g->gd.gps_fd : -1;
}

int gnss_mode(const struct gnss *g)
{
    return g->mode;
}

uint64_t gnss_rejected(const struct gnss *g)
{
    return g->rejected;
}

static void gnss_take(struct gnss *g,
                      void (*on_fix)(void *, const struct gnss_fix *),
                      void *arg)
{
    const struct gps_fix_t *f = &g->gd.fix;
    struct gnss_fix fix;
    int64_t t_ms;

    if (!(g->gd.set & MODE_SET))
        return;
    g->mode = f->mode;
    if (!(g->gd.set & (LATLON_SET | TIME_SET)))
        return;
    t_ms = (int64_t)f->time.tv_sec * 1000 + f->time.tv_nsec / 1000000;
    if (t_ms == g->last_t_ms)
        return;
    /* fix.status is unreliable across receivers; mode and finiteness are
     * what say a fix is real. */
    if (f->mode < MODE_2D || !isfinite(f->latitude) ||
        !isfinite(f->longitude) || f->time.tv_sec <= 0) {
        g->rejected++;
        return;
    }
    g->last_t_ms = t_ms;
    fix.t_ms = t_ms;
    fix.lat = f->latitude;
    fix.lon = f->longitude;
    fix.speed = f->speed;
    fix.track = f->track;
    fix.alt = f->mode == MODE_3D ? f->altMSL : NAN;
    fix.hdop = g->gd.dop.hdop;
    fix.mode = f->mode;
    fix.sats_used = g->gd.satellites_used > 0 ? g->gd.satellites_used : -1;
    on_fix(arg, &fix);
}

int gnss_read(struct gnss *g, void (*on_fix)(void *, const struct gnss_fix *),
              void *arg)
{
    if (!g->connected)
        return GNSS_ERR_LOST;
    do {
        g->gd.set = 0;
        if (gps_read(&g->gd, NULL, 0) < 0) {
            gnss_disconnect(g);
            return GNSS_ERR_LOST;
        }
        gnss_take(g, on_fix, arg);
    } while (gps_waiting(&g->gd, 0));
    return GNSS_OK;
}
