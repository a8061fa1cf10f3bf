/* shuttle-live: MQTT messages of the owned buses (telemetry, status) into
 * the engine, and the broker connection. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "live_daemon.h"
#include "log.h"

/* -------------------------------------------------------------- owners */

/* Whether this instance owns `vid`: FNV-1a of the id, mod instances. */
bool live_owns(const struct live *l, const char *vid)
{
    return hash_fnv1a_str(vid) % (uint64_t)l->conf.instances ==
           (uint64_t)l->conf.instance;
}

static int live_bus_cmp(const void *a, const void *b)
{
    return strcmp(((const struct live_bus *)a)->id,
                  ((const struct live_bus *)b)->id);
}

/* The owned bus `vid`, added when new; NULL when the table is full. */
struct live_bus *live_bus(struct live *l, const char *vid)
{
    struct live_bus key, *b;
    size_t at;

    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "%s", vid);
    b = bsearch(&key, l->buses, l->nbuses, sizeof *b, live_bus_cmp);
    if (b)
        return b;
    if (l->nbuses == LIVE_BUSES_MAX)
        return NULL;
    if (l->nbuses == l->capbuses) {
        size_t cap = l->capbuses ? l->capbuses * 2 : 64;
        struct live_bus *n = realloc(l->buses, cap * sizeof *n);

        if (!n)
            return NULL;
        l->buses = n;
        l->capbuses = cap;
    }
    for (at = 0; at < l->nbuses && strcmp(l->buses[at].id, vid) < 0; at++)
        ;
    memmove(&l->buses[at + 1], &l->buses[at],
            (l->nbuses - at) * sizeof *l->buses);
    l->nbuses++;
    b = &l->buses[at];
    *b = key;
    b->fix_ms = -1;
    b->load = -1;
    return b;
}

const char *const live_reason_names[LIVE_R_COUNT] = {
    "topic", "decode", "vehicle", "record", "status",
};

/* ------------------------------------------------------------ messages */

static void live_reject(struct live *l, enum live_reason r, const char *topic,
                        const char *why)
{
    l->rejected[r]++;
    log_debug("refused on %s: %s: %s", topic, live_reason_names[r], why);
}

/* One valid record of an owned bus. Fixes older than the newest are
 * ignored (a re-sent backlog): the tracker goes forward only. */
static void live_record(struct live *l, struct live_bus *b,
                        const struct wire_record *r)
{
    if (r->kind == WIRE_POSITION) {
        if (r->t_ms <= b->fix_ms) {
            l->stale_fixes++;
            return;
        }
        b->fix_ms = r->t_ms;
        b->lat = r->u.pos.lat;
        b->lon = r->u.pos.lon;
        b->speed = r->u.pos.speed;
        b->fixes++;
        live_engine_fix(l, b->id, r->t_ms, b->lat, b->lon, b->speed);
    } else {
        live_engine_door(l, b->id, r);
        if (r->u.count.load_after >= 0)
            b->load = r->u.count.load_after;
        b->counts++;
    }
}

static void live_telemetry(struct live *l, const char *topic, const char *vid,
                           const void *payload, size_t len, int64_t t0_us)
{
    struct wire_batch batch;
    struct live_bus *b;
    char why[128];
    int64_t now = clock_wall_ms();

    if (wire_batch_decode(payload, len, &batch, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_DECODE, topic, why);
        return;
    }
    if (wire_batch_validate_header(&batch, vid, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_VEHICLE, topic, why);
        wire_batch_free(&batch);
        return;
    }
    b = live_bus(l, vid);
    if (!b) {
        live_reject(l, LIVE_R_VEHICLE, topic, "vehicle table full");
        wire_batch_free(&batch);
        return;
    }
    b->seen_ms = now;
    for (size_t i = 0; i < batch.n; i++) {
        if (wire_record_validate(&batch.records[i], now, NULL, why,
                                 sizeof why) != WIRE_OK) {
            live_reject(l, LIVE_R_RECORD, topic, why);
            continue;
        }
        l->records++;
        live_record(l, b, &batch.records[i]);
    }
    wire_batch_free(&batch);
    metrics_hist_observe(&l->update_seconds,
                         (double)(clock_mono_us() - t0_us) / 1e6);
}

static void live_status(struct live *l, const char *topic, const char *vid,
                        const void *payload, size_t len)
{
    struct wire_status s;
    struct live_bus *b;
    char why[128];

    if (wire_status_decode(payload, len, &s) != WIRE_OK) {
        live_reject(l, LIVE_R_DECODE, topic, "not a Status");
        return;
    }
    if (wire_status_validate(&s, vid, why, sizeof why) != WIRE_OK) {
        live_reject(l, LIVE_R_STATUS, topic, why);
        return;
    }
    l->statuses++;
    if ((b = live_bus(l, vid)) != NULL) {
        b->online = s.state == WIRE_ONLINE;
        b->status = s;
        b->status_known = true;
    }
}

static void live_on_message(void *arg, const char *topic, const void *payload,
                            size_t len, bool retained)
{
    struct live *l = arg;
    int64_t t0 = clock_mono_us();
    char vid[WIRE_VID_MAX + 1];
    const char *kind = wire_topic_parse(topic, vid);

    (void)retained;
    l->messages++;
    if (!kind) {
        live_reject(l, LIVE_R_TOPIC, topic, "not shuttle/v1/<vid>/<kind>");
        return;
    }
    if (!live_owns(l, vid)) {
        l->not_owned++;
        return;
    }
    if (len > WIRE_PAYLOAD_MAX) {
        live_reject(l, LIVE_R_DECODE, topic, "payload too large");
        return;
    }
    if (strcmp(kind, "telemetry") == 0)
        live_telemetry(l, topic, vid, payload, len, t0);
    else if (strcmp(kind, "status") == 0)
        live_status(l, topic, vid, payload, len);
    else
        live_reject(l, LIVE_R_TOPIC, topic, "not telemetry or status");
}

static void live_on_connect(void *arg, bool session_present)
{
    struct live *l = arg;

    (void)session_present;
    log_info("connected to broker %s:%lld as %s", l->conf.mqtt_host,
             l->conf.mqtt_port, l->client_id);
    l->mqtt_backoff_ms = 0;
    /* QoS 0: a live view wants the newest fix, not a redelivered one. */
    if (mqtt_subscribe(l->mqtt, l->conf.telemetry_topic, 0) != MQTT_OK ||
        mqtt_subscribe(l->mqtt, l->conf.status_topic, 0) != MQTT_OK)
        log_warnx("subscribe failed; will retry on reconnect");
}

static void live_on_disconnect(void *arg, int reason)
{
    struct live *l = arg;

    log_warnx("lost broker %s:%lld (reason %d)", l->conf.mqtt_host,
              l->conf.mqtt_port, reason);
}

static void live_on_connect_error(void *arg, const char *why)
{
    (void)arg;
    log_warnx("%s", why);
}

const struct mqtt_callbacks live_mqtt_cb = {
    .on_connect = live_on_connect,
    .on_disconnect = live_on_disconnect,
    .on_message = live_on_message,
    .on_connect_error = live_on_connect_error,
};

void live_mqtt_try(struct live *l, int64_t now)
{
    char err[256];

    if (mqtt_fd(l->mqtt) >= 0 || now < l->mqtt_retry_ms)
        return;
    l->mqtt_retry_ms = now + clock_backoff_next(&l->mqtt_backoff_ms, 30000);
    if (mqtt_connect(l->mqtt, err, sizeof err) != MQTT_OK)
        log_warnx("%s; retrying in %" PRId64 " ms", err, l->mqtt_backoff_ms);
}
