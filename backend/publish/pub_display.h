/* pub_display: the stop displays' retained MQTT messages, one per stop on
 * shuttle/v1/stops/<stop_id>/arrivals: a compact JSON of the stop's next
 * buses (pub_board rows, the JSON API's figures), and the memory of what
 * was last published so only changed stops are sent again. Pure: the
 * caller publishes. */
#ifndef SHUTTLE_PUB_DISPLAY_H
#define SHUTTLE_PUB_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "pub_view.h"

/* Rows a display shows. */
#define PUB_DISPLAY_ROWS 4
/* "shuttle/v1/stops/" + an id + "/arrivals" + NUL. */
#define PUB_DISPLAY_TOPIC_MAX (17 + TRIPS_ID_MAX + 9 + 1)

enum pub_display_err {
    PUB_DISPLAY_OK = 0,
    PUB_DISPLAY_ERR_INVALID, /* a bad view, stop or stop id (ERR says) */
    PUB_DISPLAY_ERR_NOMEM,
};

/*
 * The topic of stop index STOP into TOPIC (PUB_DISPLAY_TOPIC_MAX bytes).
 * PUB_DISPLAY_ERR_INVALID when the stop's id cannot be an MQTT topic level
 * (empty, or holding '/', '+', '#' or a control byte).
 */
enum pub_display_err pub_display_topic(const struct pub_view *v, int stop,
                                       char *topic);

/*
 * The payload of stop index STOP at V->now_ms into *OUT (*LEN bytes, NUL
 * ended, malloc'd, the caller's to free), or *OUT NULL and *LEN 0 when no
 * bus is due (the departed row of the board does not count): the empty
 * retained message, which clears the display. The format is README.md's
 * "Stop displays". GENERATED_MS is the generated_at it carries (< 0: none,
 * what the change detection hashes).
 */
enum pub_display_err pub_display_payload(const struct pub_view *v, int stop,
                                         int64_t generated_ms, char **out,
                                         size_t *len, char *err, size_t errlen);

/* What was last published per stop. */
struct pub_display;

/* NULL when out of memory. */
struct pub_display *pub_display_new(void);
void pub_display_free(struct pub_display *d);

/*
 * Call CB(ARG, topic, payload, len) for every stop of V whose payload
 * changed since it was last published through D (every stop the first
 * time, so a restart clears what an old run left retained; payload NULL,
 * len 0: clear it). What changes is the content without generated_at: a
 * payload is sent again when a row, a status or a minute changes, and
 * then carries V->now_ms as generated_at. A stop of the previous feed
 * that the new one lacks is cleared. CB returns 0 when it published (the
 * payload is remembered), anything else when it did not (tried again next
 * call). Stops whose id makes no topic are skipped and counted in
 * *SKIPPED (may be NULL). Returns PUB_DISPLAY_OK, or an error (ERR says)
 * with the stops before it handled.
 */
enum pub_display_err pub_display_changes(
    struct pub_display *d, const struct pub_view *v,
    int (*cb)(void *arg, const char *topic, const char *payload, size_t len),
    void *arg, size_t *skipped, char *err, size_t errlen);

#endif
