/* mqtt: one MQTT 5 connection driven by the caller's poll() loop. */
#ifndef SHUTTLE_MQTT_H
#define SHUTTLE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqtt;

struct mqtt_options {
    const char *client_id; /* required */
    const char *host;
    int port;
    int keepalive_s;
    /* > 0: ask the broker to keep our session (subscriptions and queued
     * QoS 1 messages) this many seconds after a disconnect, and connect
     * with clean start off. 0: a fresh session every time. */
    uint32_t session_expiry_s;
    const char *username; /* NULL: anonymous */
    const char *password;
    const char *cafile;             /* non-NULL: TLS, verifying the broker */
    const char *certfile, *keyfile; /* optional client certificate */
    /* Last Will, published retained by the broker if we vanish. */
    const char *will_topic;
    const void *will_payload;
    size_t will_len;
    /* Most QoS 1 messages in flight before libmosquitto queues them. */
    int max_inflight;
};

struct mqtt_callbacks {
    void (*on_connect)(void *arg, bool session_present);
    void (*on_disconnect)(void *arg, int reason);
    void (*on_message)(void *arg, const char *topic, const void *payload,
                       size_t len, bool retained);
    void (*on_publish)(void *arg, int mid); /* PUBACK for our QoS 1 */
    /* Optional: a connect that mqtt_connect started could not be made
     * (refused, unreachable); `why` is for the log. mqtt_fd is -1 again. */
    void (*on_connect_error)(void *arg, const char *why);
};

enum mqtt_err {
    MQTT_OK = 0,
    MQTT_ERR_NOMEM = -1,
    MQTT_ERR_CONFIG = -2,  /* bad option (TLS files, will) */
    MQTT_ERR_CONNECT = -3, /* could not start a connection */
    MQTT_ERR_NOCONN = -4,  /* not connected */
    MQTT_ERR_IO = -5,
};

/*
 * Create a connection handle; nothing is sent until mqtt_connect. `cb` and
 * `arg` must outlive the handle. Strings in `o` are copied. On error, `err`
 * receives a message a person can act on.
 */
int mqtt_new(const struct mqtt_options *o, const struct mqtt_callbacks *cb,
             void *arg, struct mqtt **out, char *err, size_t errlen);
void mqtt_free(struct mqtt *m);

/* Start connecting (again); never waits for the network (but for a name
 * lookup, when the host is not an address). Returns MQTT_OK or
 * MQTT_ERR_CONNECT with a reason in err; the caller retries later with
 * back-off, also once mqtt_fd is -1 again after a failed attempt. */
int mqtt_connect(struct mqtt *m, char *err, size_t errlen);

/* Socket to poll, or -1 while there is none. Poll for POLLOUT only while
 * mqtt_want_write is true. */
int mqtt_fd(struct mqtt *m);
bool mqtt_want_write(struct mqtt *m);
bool mqtt_connected(struct mqtt *m);

/* Drive the connection: call on POLLIN, on POLLOUT, and about once a second
 * (keepalive). Returns MQTT_OK, or MQTT_ERR_IO once the link is lost (the
 * on_disconnect callback has run). */
int mqtt_handle_read(struct mqtt *m);
int mqtt_handle_write(struct mqtt *m);
int mqtt_handle_misc(struct mqtt *m);

/* Publish; *mid (may be NULL) identifies the PUBACK in on_publish. */
int mqtt_publish(struct mqtt *m, const char *topic, const void *payload,
                 size_t len, int qos, bool retain, int *mid);
int mqtt_subscribe(struct mqtt *m, const char *pattern, int qos);

/*
 * Which time the broker's certificate dates are checked against at the
 * next connect (TLS only): 0, the system clock (the default); > 0, this
 * Unix time (a bus whose system clock is unset but which knows the time
 * from GPS); < 0, not at all: the chain and the host name are still
 * checked, only notBefore/notAfter are not. For a bus that knows no time
 * at all, which can otherwise never connect (OpenSSL would judge every
 * certificate against 1970).
 */
void mqtt_set_tls_time(struct mqtt *m, int64_t unix_s);

/* Clean DISCONNECT (no Last Will). */
void mqtt_disconnect(struct mqtt *m);

/* Process-wide libmosquitto set-up: call once from main. */
void mqtt_lib_init(void);
void mqtt_lib_cleanup(void);

#endif
