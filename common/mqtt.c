/* mqtt: one MQTT 5 connection driven by the caller's poll() loop. */
#include "mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mqtt {
    struct mosquitto *mosq;
    char *host;
    int port;
    int keepalive_s;
    uint32_t session_expiry_s;
    bool connected;
    const struct mqtt_callbacks *cb;
    void *arg;
};

void mqtt_lib_init(void)
{
    mosquitto_lib_init();
}

void mqtt_lib_cleanup(void)
{
    mosquitto_lib_cleanup();
}

static void mqtt__on_connect(struct mosquitto *mosq, void *obj, int rc,
                             int flags, const mosquitto_property *props)
{
    struct mqtt *m = obj;

    if (rc != 0) {
        /* Refused (bad credentials, not authorised): the broker closes the
         * socket; report it as a disconnect so the caller backs off. */
        m->connected = false;
        if (m->cb->on_disconnect)
            m->cb->on_disconnect(m->arg, rc);
        return;
    }
    m->connected = true;
    if (m->cb->on_connect)
        m->cb->on_connect(m->arg, (flags & 1) != 0);
}

static void mqtt__on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                                const mosquitto_property *props)
{
    struct mqtt *m = obj;
    bool was = m->connected;

    m->connected = false;
    if (was && m->cb->on_disconnect)
        m->cb->on_disconnect(m->arg, rc);
}

static void mqtt__on_message(struct mosquitto *mosq, void *obj,
                             const struct mosquitto_message *msg,
                             const mosquitto_property *props)
{
    struct mqtt *m = obj;

    if (m->cb->on_message)
        m->cb->on_message(m->arg, msg->topic, msg->payload,
                          (size_t)msg->payloadlen, msg->retain);
}

static void mqtt__on_publish(struct mosquitto *mosq, void *obj, int mid,
                             int reason, const mosquitto_property *props)
{
    struct mqtt *m = obj;

    if (m->cb->on_publish)
        m->cb->on_publish(m->arg, mid);
}

int mqtt_new(const struct mqtt_options *o, const struct mqtt_callbacks *cb,
             void *arg, struct mqtt **out, char *err, size_t errlen)
{
    struct mqtt *m;
    int rc;

    m = calloc(1, sizeof *m);
    if (!m)
        return MQTT_ERR_NOMEM;
    m->cb = cb;
    m->arg = arg;
    m->port = o->port;
    m->keepalive_s = o->keepalive_s > 0 ? o->keepalive_s : 30;
    m->session_expiry_s = o->session_expiry_s;
    m->host = strdup(o->host ? o->host : "127.0.0.1");
    m->mosq = mosquitto_new(o->client_id, o->session_expiry_s == 0, m);
    if (!m->host || !m->mosq) {
        snprintf(err, errlen, "cannot create MQTT client: %s",
                 strerror(errno));
        mqtt_free(m);
        return MQTT_ERR_NOMEM;
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         MQTT_PROTOCOL_V5);
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(
        m->mosq, o->max_inflight > 0 ? (unsigned)o->max_inflight : 20);
    mosquitto_connect_v5_callback_set(m->mosq, mqtt__on_connect);
    mosquitto_disconnect_v5_callback_set(m->mosq, mqtt__on_disconnect);
    mosquitto_message_v5_callback_set(m->mosq, mqtt__on_message);
    mosquitto_publish_v5_callback_set(m->mosq, mqtt__on_publish);
    if (o->username) {
        rc = mosquitto_username_pw_set(m->mosq, o->username, o->password);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "MQTT user name: %s",
                     mosquitto_strerror(rc));
            mqtt_free(m);
            return MQTT_ERR_CONFIG;
        }
    }
    if (o->cafile) {
        rc = mosquitto_tls_set(m->mosq, o->cafile, NULL, o->certfile,
                               o->keyfile, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "MQTT TLS files (%s): %s", o->cafile,
                     mosquitto_strerror(rc));
            mqtt_free(m);
            return MQTT_ERR_CONFIG;
        }
    }
    if (o->will_topic) {
        rc = mosquitto_will_set_v5(m->mosq, o->will_topic, (int)o->will_len,
                                   o->will_payload, 1, true, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "MQTT Last Will: %s",
                     mosquitto_strerror(rc));
            mqtt_free(m);
            return MQTT_ERR_CONFIG;
        }
    }
    *out = m;
    return MQTT_OK;
}

void mqtt_free(struct mqtt *m)
{
    if (!m)
        return;
    if (m->mosq)
        mosquitto_destroy(m->mosq);
    free(m->host);
    free(m);
}

int mqtt_connect(struct mqtt *m, char *err, size_t errlen)
{
    int rc;

    m->connected = false;
    if (m->session_expiry_s > 0) {
        /* The session expiry must travel in CONNECT, and libmosquitto only
         * takes CONNECT properties on the blocking call; its TCP connect
         * is all that blocks, and a depot broker answers at once. */
        mosquitto_property *props = NULL;

        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     m->session_expiry_s);
        rc = mosquitto_connect_bind_v5(m->mosq, m->host, m->port,
                                       m->keepalive_s, NULL, props);
        mosquitto_property_free_all(&props);
    } else {
        /* On a bus the link may hang for minutes: never block the loop. */
        rc = mosquitto_connect_async(m->mosq, m->host, m->port,
                                     m->keepalive_s);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "MQTT connect to %s:%d: %s", m->host, m->port,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                      : mosquitto_strerror(rc));
        return MQTT_ERR_CONNECT;
    }
    return MQTT_OK;
}

int mqtt_fd(struct mqtt *m)
{
    return mosquitto_socket(m->mosq);
}

bool mqtt_want_write(struct mqtt *m)
{
    return mosquitto_want_write(m->mosq);
}

bool mqtt_connected(struct mqtt *m)
{
    return m->connected;
}

static int mqtt__result(struct mqtt *m, int rc)
{
    if (rc == MOSQ_ERR_SUCCESS)
        return MQTT_OK;
    if (m->connected) {
        m->connected = false;
        if (m->cb->on_disconnect)
            m->cb->on_disconnect(m->arg, rc);
    }
    return MQTT_ERR_IO;
}

int mqtt_handle_read(struct mqtt *m)
{
    return mqtt__result(m, mosquitto_loop_read(m->mosq, 64));
}

int mqtt_handle_write(struct mqtt *m)
{
    return mqtt__result(m, mosquitto_loop_write(m->mosq, 64));
}

int mqtt_handle_misc(struct mqtt *m)
{
    return mqtt__result(m, mosquitto_loop_misc(m->mosq));
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, int *mid)
{
    int rc = mosquitto_publish_v5(m->mosq, mid, topic, (int)len, payload, qos,
                                  retain, NULL);

    if (rc == MOSQ_ERR_NOMEM)
        return MQTT_ERR_NOMEM;
    if (rc == MOSQ_ERR_NO_CONN)
        return MQTT_ERR_NOCONN;
    return rc == MOSQ_ERR_SUCCESS ? MQTT_OK : MQTT_ERR_IO;
}

int mqtt_subscribe(struct mqtt *m, const char *pattern, int qos)
{
    int rc = mosquitto_subscribe_v5(m->mosq, NULL, pattern, qos, 0, NULL);

    return rc == MOSQ_ERR_SUCCESS ? MQTT_OK : MQTT_ERR_IO;
}

void mqtt_disconnect(struct mqtt *m)
{
    mosquitto_disconnect_v5(m->mosq, 0, NULL);
    /* Push the DISCONNECT out before the caller closes up. */
    mosquitto_loop_write(m->mosq, 1);
    m->connected = false;
}
