/* test_broker_acl: the shipped broker configuration (deploy/mosquitto, PKI
 * from deploy/pki.sh) run by a real mosquitto: only a bus speaks as itself,
 * only the backend acknowledges, no certificate no connection, a revoked bus
 * is refused, and shuttle-onboard gets through with its certificate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "harness.h"
#include "itest.h"

#define BA_MAX_MSGS 64
#define BA_TIMEOUT_MS 5000

/* One test client, pumped by hand from this thread. */
struct ba_client {
    struct mosquitto *mosq;
    const char *name;
    bool connected, connack;
    int connack_rc;
    int pub_mid, pub_rc; /* last PUBACK: its mid and reason code */
    int nmsgs;
    char topics[BA_MAX_MSGS][128];
    char payloads[BA_MAX_MSGS][64];
};

struct ba_world {
    struct harness_mqtt *m;
    const char *pki;    /* its ca.crt is what clients trust */
    const char *id_pki; /* where client certificates come from: NULL, pki */
    struct ba_client *ingest, *bus2;
};

static void ba_on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                          const mosquitto_property *props)
{
    struct ba_client *c = arg;

    (void)mosq;
    (void)flags;
    (void)props;
    c->connack = true;
    c->connack_rc = rc;
    c->connected = rc == 0;
}

static void ba_on_disconnect(struct mosquitto *mosq, void *arg, int rc,
                             const mosquitto_property *props)
{
    struct ba_client *c = arg;

    (void)mosq;
    (void)rc;
    (void)props;
    c->connected = false;
}

static void ba_on_publish(struct mosquitto *mosq, void *arg, int mid, int rc,
                          const mosquitto_property *props)
{
    struct ba_client *c = arg;

    (void)mosq;
    (void)props;
    c->pub_mid = mid;
    c->pub_rc = rc;
}

static void ba_on_message(struct mosquitto *mosq, void *arg,
                          const struct mosquitto_message *msg,
                          const mosquitto_property *props)
{
    struct ba_client *c = arg;
    int n;

    (void)mosq;
    (void)props;
    if (c->nmsgs >= BA_MAX_MSGS)
        return;
    snprintf(c->topics[c->nmsgs], sizeof c->topics[0], "%s", msg->topic);
    n = msg->payloadlen < (int)sizeof c->payloads[0] - 1
            ? msg->payloadlen
            : (int)sizeof c->payloads[0] - 1;
    memcpy(c->payloads[c->nmsgs], msg->payload, (size_t)n);
    c->payloads[c->nmsgs][n] = '\0';
    c->nmsgs++;
}

/* One round of network work for C (at most 20 ms). */
static void ba_pump(struct ba_client *c)
{
    if (c != NULL && c->mosq != NULL)
        mosquitto_loop(c->mosq, 20, 1);
}

/* A client speaking MQTT 5 to the broker of W as identity NAME
 * (PKI/clients/NAME.crt and .key): TLS verifying the broker unless PLAIN;
 * NAME NULL: no client certificate. Returns the client once the broker's
 * CONNACK accepted it, else NULL (the refusal the tests look for). */
static struct ba_client *ba_connect(struct ba_world *w, const char *name,
                                    bool plain)
{
    struct ba_client *c = calloc(1, sizeof *c);
    const char *ids = w->id_pki != NULL ? w->id_pki : w->pki;
    char ca[512], crt[512], key[512];
    int i;

    assert_non_null(c);
    c->name = name;
    c->mosq = mosquitto_new(NULL, true, c);
    assert_non_null(c->mosq);
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(c->mosq, ba_on_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, ba_on_disconnect);
    mosquitto_publish_v5_callback_set(c->mosq, ba_on_publish);
    mosquitto_message_v5_callback_set(c->mosq, ba_on_message);
    if (!plain) {
        snprintf(ca, sizeof ca, "%s/ca.crt", w->pki);
        snprintf(crt, sizeof crt, "%s/clients/%s.crt", ids, name ? name : "");
        snprintf(key, sizeof key, "%s/clients/%s.key", ids, name ? name : "");
        assert_int_equal(mosquitto_tls_set(c->mosq, ca, NULL, name ? crt : NULL,
                                           name ? key : NULL, NULL),
                         MOSQ_ERR_SUCCESS);
    }
    if (mosquitto_connect(c->mosq, "127.0.0.1", harness_mosquitto_port(w->m),
                          30) != MOSQ_ERR_SUCCESS)
        goto refused;
    for (i = 0; i < BA_TIMEOUT_MS / 20 && !c->connack; i++)
        if (mosquitto_loop(c->mosq, 20, 1) != MOSQ_ERR_SUCCESS)
            break;
    if (c->connected)
        return c;
refused:
    print_message("%s (%s) refused: %s\n", name ? name : "no certificate",
                  plain ? "plain TCP" : "TLS",
                  c->connack ? mosquitto_reason_string(c->connack_rc)
                             : "no CONNACK");
    mosquitto_destroy(c->mosq);
    free(c);
    return NULL;
}

static void ba_close(struct ba_client *c)
{
    if (c == NULL)
        return;
    mosquitto_disconnect(c->mosq);
    mosquitto_loop(c->mosq, 20, 1);
    mosquitto_destroy(c->mosq);
    free(c);
}

/* Subscribe C to PATTERN (QoS 1) and give the broker time to act on it. */
static void ba_subscribe(struct ba_client *c, const char *pattern)
{
    int i;

    assert_int_equal(mosquitto_subscribe(c->mosq, NULL, pattern, 1),
                     MOSQ_ERR_SUCCESS);
    for (i = 0; i < 10; i++)
        ba_pump(c);
}

/* Publish PAYLOAD on TOPIC from C at QoS 1, pumping C and OTHERS (NULL-
 * terminated) until the PUBACK: its MQTT 5 reason code (0 accepted, 135 not
 * authorized), or -1 when none came. */
static int ba_publish(struct ba_client *c, const char *topic,
                      const char *payload, struct ba_client *const *others)
{
    int mid = 0, i, j;

    c->pub_mid = -1;
    assert_int_equal(mosquitto_publish(c->mosq, &mid, topic,
                                       (int)strlen(payload), payload, 1, false),
                     MOSQ_ERR_SUCCESS);
    for (i = 0; i < BA_TIMEOUT_MS / 20 && c->pub_mid != mid; i++) {
        ba_pump(c);
        for (j = 0; others != NULL && others[j] != NULL; j++)
            ba_pump(others[j]);
    }
    return c->pub_mid == mid ? c->pub_rc : -1;
}

/* Index of the message (TOPIC, PAYLOAD) C received, or -1. */
static int ba_find(const struct ba_client *c, const char *topic,
                   const char *payload)
{
    int i;

    for (i = 0; i < c->nmsgs; i++)
        if (strcmp(c->topics[i], topic) == 0 &&
            strcmp(c->payloads[i], payload) == 0)
            return i;
    return -1;
}

/* Pump the clients in LIST (NULL-terminated) until C got (TOPIC, PAYLOAD):
 * 1 when it did within MS, else 0. */
static int ba_wait_msg(struct ba_client *c, const char *topic,
                       const char *payload, struct ba_client *const *list,
                       int ms)
{
    int i, j;

    for (i = 0; i <= ms / 20; i++) {
        if (ba_find(c, topic, payload) >= 0)
            return 1;
        for (j = 0; list[j] != NULL; j++)
            ba_pump(list[j]);
    }
    return ba_find(c, topic, payload) >= 0;
}

/* A payload no earlier test sent. */
static const char *ba_token(const char *what)
{
    static char buf[64];
    static unsigned n;

    snprintf(buf, sizeof buf, "%s-%u-%ld", what, ++n, (long)time(NULL));
    return buf;
}

static int ba_setup(void **state)
{
    static const char *const names[] = {
        "bus-1",          "bus-2",        "bus-3",   "bus-9",
        "shuttle-ingest", "shuttle-live", "displays"};
    struct ba_world *w = calloc(1, sizeof *w);
    size_t i;

    if (w == NULL)
        return -1;
    /* teardown frees it, whatever fails below */
    *state = w;
    mosquitto_lib_init();
    w->m = harness_mosquitto_start_secure(NULL);
    if (w->m == NULL)
        return -1;
    w->pki = harness_mosquitto_pki(w->m);
    for (i = 0; i < sizeof names / sizeof *names; i++)
        if (harness_pki(w->pki, "add", names[i]) < 0)
            return -1;
    /* What the backend would see, and bus 2 listening for its acks. */
    w->ingest = ba_connect(w, "shuttle-ingest", false);
    w->bus2 = ba_connect(w, "bus-2", false);
    if (w->ingest == NULL || w->bus2 == NULL)
        return -1;
    ba_subscribe(w->ingest, "$share/ingest/shuttle/v1/+/telemetry");
    ba_subscribe(w->ingest, "shuttle/v1/+/status");
    ba_subscribe(w->bus2, "shuttle/v1/bus-2/ack");
    return 0;
}

static int ba_teardown(void **state)
{
    struct ba_world *w = *state;

    if (w != NULL) {
        ba_close(w->ingest);
        ba_close(w->bus2);
        free(w);
    }
    harness_cleanup();
    mosquitto_lib_cleanup();
    return 0;
}

/* Bus 1 publishes its own telemetry and status: the backend gets both. */
static void own_topics_delivered(void **state)
{
    struct ba_world *w = *state;
    struct ba_client *bus1 = ba_connect(w, "bus-1", false);
    struct ba_client *const all[] = {bus1, w->ingest, w->bus2, NULL};
    char tele[64], stat[64];

    assert_non_null(bus1);
    snprintf(tele, sizeof tele, "%s", ba_token("tele"));
    snprintf(stat, sizeof stat, "%s", ba_token("status"));
    assert_int_equal(ba_publish(bus1, "shuttle/v1/bus-1/telemetry", tele, all),
                     0);
    assert_int_equal(ba_publish(bus1, "shuttle/v1/bus-1/status", stat, all), 0);
    assert_true(ba_wait_msg(w->ingest, "shuttle/v1/bus-1/telemetry", tele, all,
                            BA_TIMEOUT_MS));
    assert_true(
        ba_wait_msg(w->ingest, "shuttle/v1/bus-1/status", stat, all, 1000));
    ba_close(bus1);
}

/* Bus 1 speaking as bus 2, or acknowledging anything: each PUBLISH is
 * answered "not authorized" and reaches nobody. */
static void foreign_topics_refused(void **state)
{
    static const char *const forged[] = {
        "shuttle/v1/bus-2/telemetry", "shuttle/v1/bus-2/status",
        "shuttle/v1/bus-2/ack", "shuttle/v1/bus-1/ack",
        "shuttle/v1/bus-1/telemetry/extra"};
    struct ba_world *w = *state;
    struct ba_client *bus1 = ba_connect(w, "bus-1", false);
    struct ba_client *const all[] = {bus1, w->ingest, w->bus2, NULL};
    char payload[64], marker[64];
    int before_ingest = w->ingest->nmsgs, before_bus2 = w->bus2->nmsgs;
    size_t i;

    assert_non_null(bus1);
    snprintf(payload, sizeof payload, "%s", ba_token("forged"));
    for (i = 0; i < sizeof forged / sizeof *forged; i++) {
        print_message("bus-1 publishes on %s\n", forged[i]);
        assert_int_equal(ba_publish(bus1, forged[i], payload, all),
                         MQTT_RC_NOT_AUTHORIZED);
    }
    /* Its own telemetry after them still goes through: once it arrived,
     * anything forged before it would have too. */
    snprintf(marker, sizeof marker, "%s", ba_token("marker"));
    assert_int_equal(
        ba_publish(bus1, "shuttle/v1/bus-1/telemetry", marker, all), 0);
    assert_true(ba_wait_msg(w->ingest, "shuttle/v1/bus-1/telemetry", marker,
                            all, BA_TIMEOUT_MS));
    (void)ba_wait_msg(w->bus2, "-", "-", all, 300);
    for (i = (size_t)before_ingest; i < (size_t)w->ingest->nmsgs; i++)
        assert_string_not_equal(w->ingest->payloads[i], payload);
    for (i = (size_t)before_bus2; i < (size_t)w->bus2->nmsgs; i++)
        assert_string_not_equal(w->bus2->payloads[i], payload);
    ba_close(bus1);
}

/* The backend acknowledges bus 2 and bus 1, and bus 2 sends telemetry: bus
 * 1, subscribed to both acks, to every ack, to everything and to the
 * backend's shared subscription, receives only its own ack. */
static void foreign_ack_unreadable(void **state)
{
    struct ba_world *w = *state;
    struct ba_client *bus1 = ba_connect(w, "bus-1", false);
    struct ba_client *const all[] = {bus1, w->ingest, w->bus2, NULL};
    char ack2[64], ack1[64], tele2[64];
    int i;

    assert_non_null(bus1);
    ba_subscribe(bus1, "shuttle/v1/bus-2/ack");
    ba_subscribe(bus1, "shuttle/v1/+/ack");
    ba_subscribe(bus1, "shuttle/v1/bus-1/ack");
    ba_subscribe(bus1, "shuttle/v1/#");
    ba_subscribe(bus1, "$share/ingest/shuttle/v1/+/telemetry");
    snprintf(ack2, sizeof ack2, "%s", ba_token("ack2"));
    snprintf(ack1, sizeof ack1, "%s", ba_token("ack1"));
    snprintf(tele2, sizeof tele2, "%s", ba_token("tele2"));
    assert_int_equal(
        ba_publish(w->bus2, "shuttle/v1/bus-2/telemetry", tele2, all), 0);
    assert_int_equal(ba_publish(w->ingest, "shuttle/v1/bus-2/ack", ack2, all),
                     0);
    assert_int_equal(ba_publish(w->ingest, "shuttle/v1/bus-1/ack", ack1, all),
                     0);
    /* Bus 2 gets its ack and bus 1 its own, so both were delivered where
     * the ACL allows... */
    assert_true(
        ba_wait_msg(w->bus2, "shuttle/v1/bus-2/ack", ack2, all, BA_TIMEOUT_MS));
    assert_true(
        ba_wait_msg(bus1, "shuttle/v1/bus-1/ack", ack1, all, BA_TIMEOUT_MS));
    assert_true(ba_wait_msg(w->ingest, "shuttle/v1/bus-2/telemetry", tele2, all,
                            BA_TIMEOUT_MS));
    (void)ba_wait_msg(bus1, "-", "-", all, 300);
    /* ...and nothing of bus 2's reached bus 1, through any of its
     * patterns: all it got is its own ack. */
    assert_true(bus1->nmsgs > 0);
    for (i = 0; i < bus1->nmsgs; i++) {
        print_message("bus-1 got %s %s\n", bus1->topics[i], bus1->payloads[i]);
        assert_string_equal(bus1->topics[i], "shuttle/v1/bus-1/ack");
        assert_string_equal(bus1->payloads[i], ack1);
    }
    ba_close(bus1);
}

/* No certificate, a plain-TCP client, a certificate from another CA: all
 * refused; the shipped config has no plain listener to fall back on. */
static void strangers_refused(void **state)
{
    struct ba_world *w = *state;
    const char *other = harness_tmpdir("otherca");
    struct ba_world fake;

    assert_null(ba_connect(w, NULL, false));
    assert_null(ba_connect(w, NULL, true));
    assert_null(ba_connect(w, "bus-1", true));
    /* A CA of its own with a "bus-1" in it: same name, wrong issuer. */
    assert_non_null(other);
    assert_int_equal(harness_pki(other, "init", NULL), 0);
    assert_int_equal(harness_pki(other, "add", "bus-1"), 0);
    fake = *w;
    fake.id_pki = other;
    /* (it trusts our broker's CA: only the broker can refuse it) */
    assert_null(ba_connect(&fake, "bus-1", false));
    assert_true(harness_log_has(harness_mosquitto_log(w->m),
                                "peer did not return a certificate"));
    assert_true(harness_log_has(harness_mosquitto_log(w->m),
                                "certificate verify failed"));
}

/* pki.sh revoke and a reload: bus 9, accepted before, is refused after;
 * the other buses are not affected. */
static void revoked_refused(void **state)
{
    struct ba_world *w = *state;
    struct ba_client *c = ba_connect(w, "bus-9", false);

    assert_non_null(c);
    ba_close(c);
    assert_int_equal(harness_pki(w->pki, "revoke", "bus-9"), 0);
    assert_int_equal(harness_mosquitto_reload(w->m), 0);
    assert_null(ba_connect(w, "bus-9", false));
    c = ba_connect(w, "bus-1", false);
    assert_non_null(c);
    ba_close(c);
    /* and after a restart too (the CRL is read at start) */
    assert_int_equal(harness_mosquitto_restart(w->m, 1), 0);
    assert_null(ba_connect(w, "bus-9", false));
    /* the backend's clients come back after the restart */
    ba_close(w->ingest);
    ba_close(w->bus2);
    w->ingest = ba_connect(w, "shuttle-ingest", false);
    w->bus2 = ba_connect(w, "bus-2", false);
    assert_non_null(w->ingest);
    assert_non_null(w->bus2);
    ba_subscribe(w->ingest, "$share/ingest/shuttle/v1/+/telemetry");
    ba_subscribe(w->ingest, "shuttle/v1/+/status");
    ba_subscribe(w->bus2, "shuttle/v1/bus-2/ack");
}

/* shuttle-live writes a stop display and the displays read it; bus 1 and
 * the displays cannot write one, and the displays read no telemetry. */
static void stop_displays(void **state)
{
    static const char topic[] = "shuttle/v1/stops/S1/arrivals";
    struct ba_world *w = *state;
    struct ba_client *live = ba_connect(w, "shuttle-live", false);
    struct ba_client *disp = ba_connect(w, "displays", false);
    struct ba_client *bus1 = ba_connect(w, "bus-1", false);
    struct ba_client *const all[] = {live, disp, bus1, w->ingest, NULL};
    char good[64], bad[64], tele[64];
    int i;

    assert_non_null(live);
    assert_non_null(disp);
    assert_non_null(bus1);
    ba_subscribe(disp, "shuttle/v1/stops/#");
    ba_subscribe(disp, "shuttle/v1/+/telemetry");
    snprintf(bad, sizeof bad, "%s", ba_token("bad"));
    assert_int_equal(ba_publish(bus1, topic, bad, all), MQTT_RC_NOT_AUTHORIZED);
    assert_int_equal(ba_publish(disp, topic, bad, all), MQTT_RC_NOT_AUTHORIZED);
    snprintf(tele, sizeof tele, "%s", ba_token("tele"));
    assert_int_equal(ba_publish(bus1, "shuttle/v1/bus-1/telemetry", tele, all),
                     0);
    snprintf(good, sizeof good, "%s", ba_token("good"));
    assert_int_equal(ba_publish(live, topic, good, all), 0);
    assert_true(ba_wait_msg(disp, topic, good, all, BA_TIMEOUT_MS));
    /* live may not pose as a bus either */
    assert_int_equal(ba_publish(live, "shuttle/v1/bus-1/telemetry", bad, all),
                     MQTT_RC_NOT_AUTHORIZED);
    assert_true(ba_wait_msg(w->ingest, "shuttle/v1/bus-1/telemetry", tele, all,
                            BA_TIMEOUT_MS));
    for (i = 0; i < disp->nmsgs; i++) {
        assert_string_not_equal(disp->payloads[i], bad);
        assert_string_not_equal(disp->payloads[i], tele);
    }
    ba_close(live);
    ba_close(disp);
    ba_close(bus1);
}

/* The real shuttle-onboard, as bus-3 with its certificate, over TLS: its
 * telemetry reaches the backend's subscription. */
static void onboard_over_tls(void **state)
{
    struct ba_world *w = *state;
    struct ba_client *const all[] = {w->ingest, w->bus2, NULL};
    struct harness_gpsd *g = harness_gpsd_start();
    char ca[512], crt[512], key[512];
    const char *opts[4];
    struct harness_proc *ob;
    int64_t t0 = itest_wall_ms();
    int i, j, got = 0, before = w->ingest->nmsgs;

    assert_non_null(g);
    snprintf(ca, sizeof ca, "mqtt_cafile=%s/ca.crt", w->pki);
    snprintf(crt, sizeof crt, "mqtt_certfile=%s/clients/bus-3.crt", w->pki);
    snprintf(key, sizeof key, "mqtt_keyfile=%s/clients/bus-3.key", w->pki);
    opts[0] = ca;
    opts[1] = crt;
    opts[2] = key;
    opts[3] = NULL;
    ob = harness_onboard_start("bus-3", g, w->m, NULL, opts);
    assert_non_null(ob);
    for (i = 0; i < 40 && !got; i++) {
        assert_int_equal(
            itest_send_fix(g, t0 + i * 1000, 37.5 + i * 1e-4, 127.0 + i * 1e-4),
            0);
        for (j = 0; j < 25; j++) {
            ba_pump(all[0]);
            ba_pump(all[1]);
        }
        for (j = before; j < w->ingest->nmsgs; j++)
            if (strcmp(w->ingest->topics[j], "shuttle/v1/bus-3/telemetry") == 0)
                got = 1;
    }
    print_message("onboard telemetry after %d fixes\n", i);
    assert_true(got);
    assert_true(harness_log_has(harness_mosquitto_log(w->m), "u'bus-3'"));
    assert_int_equal(harness_stop(ob), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_topics_delivered),
        cmocka_unit_test(foreign_topics_refused),
        cmocka_unit_test(foreign_ack_unreadable),
        cmocka_unit_test(strangers_refused),
        cmocka_unit_test(stop_displays),
        cmocka_unit_test(revoked_refused),
        cmocka_unit_test(onboard_over_tls),
    };

    return cmocka_run_group_tests(tests, ba_setup, ba_teardown);
}
