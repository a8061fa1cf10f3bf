/* mqtt: one MQTT 5 connection driven by the caller's poll() loop. */
#include "mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

/* A connection not up (CONNACK) this long after it was started is given up
 * and started afresh: a TCP connect can hang half-open, and libmosquitto
 * waits on it forever in an external loop. */
#define MQTT_CONNECT_TIMEOUT_MS 15000

struct mqtt {
    struct mosquitto *mosq;
    struct mqtt_options o; /* strings owned, copied from the caller */
    void *will;            /* copy of the Last Will payload */
    bool connected;
    int64_t connect_started; /* monotonic ms; 0: not connecting */
    int probe;               /* our own TCP connect under way; else -1 */
    /* Our own TLS context, given to every libmosquitto client we create
     * (it applies its defaults and our files to it): the only way to reach
     * the certificate check's time (mqtt_set_tls_time). NULL without TLS. */
    SSL_CTX *tls;
    int64_t tls_time_s;
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
    m->connect_started = 0;
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

static char *mqtt__dup(const char *s, bool *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

/* OpenSSL's last error, for a message. */
static const char *mqtt__ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();

    if (!e)
        return "unknown error";
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/*
 * The TLS context every connection is made from: the broker verified
 * against our CA and by its name or address (as libmosquitto would), our
 * certificate, TLS 1.2 at least. Ours, not libmosquitto's, so that the
 * date check's time can be set (mqtt_set_tls_time).
 */
static int mqtt__tls_new(struct mqtt *m, char *err, size_t errlen)
{
    const struct mqtt_options *o = &m->o;
    unsigned char addr[sizeof(struct in6_addr)];
    X509_VERIFY_PARAM *vp;
    char ebuf[256];
    int ok;

    if ((o->certfile == NULL) != (o->keyfile == NULL)) {
        snprintf(err, errlen,
                 "MQTT TLS: a client certificate needs both "
                 "certfile and keyfile");
        return MQTT_ERR_CONFIG;
    }
    m->tls = SSL_CTX_new(TLS_client_method());
    if (!m->tls) {
        snprintf(err, errlen, "MQTT TLS context: %s",
                 mqtt__ssl_error(ebuf, sizeof ebuf));
        return MQTT_ERR_NOMEM;
    }
    SSL_CTX_set_min_proto_version(m->tls, TLS1_2_VERSION);
    SSL_CTX_set_options(m->tls, SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(m->tls, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_load_verify_locations(m->tls, o->cafile, NULL) != 1) {
        snprintf(err, errlen, "MQTT TLS: cannot use CA file %s: %s", o->cafile,
                 mqtt__ssl_error(ebuf, sizeof ebuf));
        return MQTT_ERR_CONFIG;
    }
    if (o->certfile &&
        (SSL_CTX_use_certificate_chain_file(m->tls, o->certfile) != 1 ||
         SSL_CTX_use_PrivateKey_file(m->tls, o->keyfile, SSL_FILETYPE_PEM) !=
             1 ||
         SSL_CTX_check_private_key(m->tls) != 1)) {
        snprintf(err, errlen,
                 "MQTT TLS: cannot use certificate %s with "
                 "key %s: %s",
                 o->certfile, o->keyfile, mqtt__ssl_error(ebuf, sizeof ebuf));
        return MQTT_ERR_CONFIG;
    }
    SSL_CTX_set_verify(m->tls, SSL_VERIFY_PEER, NULL);
    vp = SSL_CTX_get0_param(m->tls);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (inet_pton(AF_INET, o->host, addr) == 1 ||
        inet_pton(AF_INET6, o->host, addr) == 1)
        ok = X509_VERIFY_PARAM_set1_ip_asc(vp, o->host);
    else
        ok = X509_VERIFY_PARAM_set1_host(vp, o->host, 0);
    if (ok != 1) {
        snprintf(err, errlen, "MQTT TLS: cannot check the broker as %s",
                 o->host);
        return MQTT_ERR_CONFIG;
    }
    return MQTT_OK;
}

/* A libmosquitto client with every option applied. */
static int mqtt__create(struct mqtt *m, char *err, size_t errlen)
{
    const struct mqtt_options *o = &m->o;
    int rc;

    m->mosq = mosquitto_new(o->client_id, o->session_expiry_s == 0, m);
    if (!m->mosq) {
        snprintf(err, errlen, "cannot create MQTT client: %s", strerror(errno));
        return MQTT_ERR_NOMEM;
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
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
            snprintf(err, errlen, "MQTT user name: %s", mosquitto_strerror(rc));
            return MQTT_ERR_CONFIG;
        }
    }
    if (m->tls) {
        /* libmosquitto takes its own reference and, with
         * MOSQ_OPT_SSL_CTX_WITH_DEFAULTS off, uses the context as it is.
         * (With its defaults, libmosquitto 2.0.11 verifies through a
         * callback whose per-connection data it registers only for a
         * context it made itself, and every handshake fails.) */
        rc = mosquitto_void_option(m->mosq, MOSQ_OPT_SSL_CTX, m->tls);
        if (rc == MOSQ_ERR_SUCCESS) /* 2.0 turns them on with the context */
            rc = mosquitto_int_option(m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS,
                                      0);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "MQTT TLS context: %s",
                     mosquitto_strerror(rc));
            return MQTT_ERR_CONFIG;
        }
    }
    if (o->will_topic) {
        rc = mosquitto_will_set_v5(m->mosq, o->will_topic, (int)o->will_len,
                                   m->will, 1, true, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "MQTT Last Will: %s", mosquitto_strerror(rc));
            return MQTT_ERR_CONFIG;
        }
    }
    return MQTT_OK;
}

int mqtt_new(const struct mqtt_options *o, const struct mqtt_callbacks *cb,
             void *arg, struct mqtt **out, char *err, size_t errlen)
{
    struct mqtt *m;
    bool ok = true;
    int rc;

    m = calloc(1, sizeof *m);
    if (!m)
        return MQTT_ERR_NOMEM;
    m->cb = cb;
    m->arg = arg;
    m->probe = -1;
    m->o = *o;
    if (m->o.keepalive_s <= 0)
        m->o.keepalive_s = 30;
    m->o.client_id = mqtt__dup(o->client_id, &ok);
    m->o.host = mqtt__dup(o->host ? o->host : "127.0.0.1", &ok);
    m->o.username = mqtt__dup(o->username, &ok);
    m->o.password = mqtt__dup(o->password, &ok);
    m->o.cafile = mqtt__dup(o->cafile, &ok);
    m->o.certfile = mqtt__dup(o->certfile, &ok);
    m->o.keyfile = mqtt__dup(o->keyfile, &ok);
    m->o.will_topic = mqtt__dup(o->will_topic, &ok);
    if (o->will_topic && o->will_len) {
        m->will = malloc(o->will_len);
        if (m->will)
            memcpy(m->will, o->will_payload, o->will_len);
        else
            ok = false;
    }
    m->o.will_payload = m->will;
    if (!ok) {
        snprintf(err, errlen, "out of memory");
        mqtt_free(m);
        return MQTT_ERR_NOMEM;
    }
    rc = m->o.cafile ? mqtt__tls_new(m, err, errlen) : MQTT_OK;
    if (rc == MQTT_OK)
        rc = mqtt__create(m, err, errlen);
    if (rc != MQTT_OK) {
        mqtt_free(m);
        return rc;
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
    if (m->probe >= 0)
        close(m->probe);
    SSL_CTX_free(m->tls);
    free((char *)m->o.client_id);
    free((char *)m->o.host);
    free((char *)m->o.username);
    free((char *)m->o.password);
    free((char *)m->o.cafile);
    free((char *)m->o.certfile);
    free((char *)m->o.keyfile);
    free((char *)m->o.will_topic);
    free(m->will);
    free(m);
}

/* The session-keeping CONNECT: it must carry the session expiry, and
 * libmosquitto 2.0 takes CONNECT properties only on its blocking call. */
static int mqtt__connect_v5(struct mqtt *m, char *err, size_t errlen)
{
    mosquitto_property *props = NULL;
    int rc;

    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 m->o.session_expiry_s);
    rc = mosquitto_connect_bind_v5(m->mosq, m->o.host, m->o.port,
                                   m->o.keepalive_s, NULL, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        m->connect_started = 0;
        snprintf(err, errlen, "MQTT connect to %s:%d: %s", m->o.host, m->o.port,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                      : mosquitto_strerror(rc));
        return MQTT_ERR_CONNECT;
    }
    return MQTT_OK;
}

/*
 * Start a non-blocking TCP connect of our own to the broker. Only once it
 * has been accepted is the blocking libmosquitto call made, and then its
 * connect returns at once: what it could wait on (a broker host that drops
 * SYNs, a half-open link) is waited on here, in the caller's poll loop.
 * The name lookup blocks as in mosquitto_connect_async; give an address.
 */
static int mqtt__probe_start(struct mqtt *m, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int rc, fd = -1, e = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", m->o.port);
    rc = getaddrinfo(m->o.host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "MQTT broker %s: %s", m->o.host,
                 gai_strerror(rc));
        return MQTT_ERR_CONNECT;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            errno == EINPROGRESS)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "MQTT connect to %s:%d: %s", m->o.host, m->o.port,
                 strerror(e));
        return MQTT_ERR_CONNECT;
    }
    m->probe = fd;
    return MQTT_OK;
}

/* The probe's socket is writable (or in error): connect for real, or say
 * why not through on_connect_error. */
static void mqtt__probe_done(struct mqtt *m)
{
    char err[256];
    int e = 0;
    socklen_t len = sizeof e;

    if (getsockopt(m->probe, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    close(m->probe);
    m->probe = -1;
    if (e != 0) {
        m->connect_started = 0;
        snprintf(err, sizeof err, "MQTT connect to %s:%d: %s", m->o.host,
                 m->o.port, strerror(e));
    } else if (mqtt__connect_v5(m, err, sizeof err) == MQTT_OK) {
        return;
    }
    if (m->cb->on_connect_error)
        m->cb->on_connect_error(m->arg, err);
}

void mqtt_set_tls_time(struct mqtt *m, int64_t unix_s)
{
    m->tls_time_s = unix_s;
}

/* The check's time goes into the context; each connection's SSL, made from
 * it when the connect starts, takes a copy. */
static void mqtt__tls_time_apply(struct mqtt *m)
{
    X509_VERIFY_PARAM *vp;

    if (!m->tls)
        return;
    vp = SSL_CTX_get0_param(m->tls);
    X509_VERIFY_PARAM_clear_flags(vp, X509_V_FLAG_USE_CHECK_TIME |
                                          X509_V_FLAG_NO_CHECK_TIME);
    if (m->tls_time_s > 0)
        X509_VERIFY_PARAM_set_time(vp, (time_t)m->tls_time_s);
    else if (m->tls_time_s < 0)
        X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_NO_CHECK_TIME);
}

int mqtt_connect(struct mqtt *m, char *err, size_t errlen)
{
    int rc;

    m->connected = false;
    if (!m->mosq && (rc = mqtt__create(m, err, errlen)) != MQTT_OK)
        return rc;
    mqtt__tls_time_apply(m);
    if (m->probe >= 0) {
        close(m->probe);
        m->probe = -1;
    }
    m->connect_started = clock_mono_ms();
    if (m->o.session_expiry_s > 0) {
        rc = mqtt__probe_start(m, err, errlen);
        if (rc != MQTT_OK)
            m->connect_started = 0;
        return rc;
    }
    /* On a bus the link may hang for minutes: never block the loop. */
    rc = mosquitto_connect_async(m->mosq, m->o.host, m->o.port,
                                 m->o.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        m->connect_started = 0;
        snprintf(err, errlen, "MQTT connect to %s:%d: %s", m->o.host, m->o.port,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                      : mosquitto_strerror(rc));
        return MQTT_ERR_CONNECT;
    }
    return MQTT_OK;
}

int mqtt_fd(struct mqtt *m)
{
    if (m->probe >= 0)
        return m->probe;
    return m->mosq ? mosquitto_socket(m->mosq) : -1;
}

bool mqtt_want_write(struct mqtt *m)
{
    /* A connect in progress completes when the socket turns writable. */
    return m->probe >= 0 || (m->mosq && mosquitto_want_write(m->mosq));
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
    if (m->probe >= 0) {
        mqtt__probe_done(m);
        return MQTT_OK;
    }
    if (!m->mosq)
        return MQTT_ERR_NOCONN;
    return mqtt__result(m, mosquitto_loop_read(m->mosq, 64));
}

int mqtt_handle_write(struct mqtt *m)
{
    if (m->probe >= 0) {
        mqtt__probe_done(m);
        return MQTT_OK;
    }
    if (!m->mosq)
        return MQTT_ERR_NOCONN;
    return mqtt__result(m, mosquitto_loop_write(m->mosq, 64));
}

int mqtt_handle_misc(struct mqtt *m)
{
    if (!m->mosq)
        return MQTT_ERR_NOCONN;
    if (!m->connected && m->connect_started &&
        clock_mono_ms() - m->connect_started > MQTT_CONNECT_TIMEOUT_MS) {
        /* Throw the client away, socket and all; the next mqtt_connect
         * builds a new one. Nothing is lost: what was queued in it was
         * never acknowledged, and the caller sends it again. */
        mosquitto_destroy(m->mosq);
        m->mosq = NULL;
        if (m->probe >= 0) {
            close(m->probe);
            m->probe = -1;
        }
        m->connect_started = 0;
        if (m->cb->on_disconnect)
            m->cb->on_disconnect(m->arg, MOSQ_ERR_CONN_PENDING);
        return MQTT_ERR_IO;
    }
    if (m->probe >= 0)
        return MQTT_OK;
    return mqtt__result(m, mosquitto_loop_misc(m->mosq));
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, int *mid)
{
    int rc;

    if (!m->mosq)
        return MQTT_ERR_NOCONN;
    rc = mosquitto_publish_v5(m->mosq, mid, topic, (int)len, payload, qos,
                              retain, NULL);

    if (rc == MOSQ_ERR_NOMEM)
        return MQTT_ERR_NOMEM;
    if (rc == MOSQ_ERR_NO_CONN)
        return MQTT_ERR_NOCONN;
    return rc == MOSQ_ERR_SUCCESS ? MQTT_OK : MQTT_ERR_IO;
}

int mqtt_subscribe(struct mqtt *m, const char *pattern, int qos)
{
    int rc;

    if (!m->mosq)
        return MQTT_ERR_NOCONN;
    rc = mosquitto_subscribe_v5(m->mosq, NULL, pattern, qos, 0, NULL);

    return rc == MOSQ_ERR_SUCCESS ? MQTT_OK : MQTT_ERR_IO;
}

void mqtt_disconnect(struct mqtt *m)
{
    if (!m->mosq)
        return;
    mosquitto_disconnect_v5(m->mosq, 0, NULL);
    /* Push the DISCONNECT out before the caller closes up. */
    mosquitto_loop_write(m->mosq, 1);
    m->connected = false;
}
