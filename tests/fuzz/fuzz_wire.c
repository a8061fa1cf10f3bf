/* fuzz_wire: untrusted MQTT payloads through the wire decoders and the
 * validators, as the backend (batches, statuses) and the bus (acks) meet
 * them; whatever decodes must encode again and decode to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed receiver clock (2026-12-01): the validators' windows are then
 * the same on every run. */
#define FUZZ_WIRE_NOW_MS 1796083200000LL

static void fuzz_wire__batch(const uint8_t *buf, size_t len)
{
    struct wire_batch b, again;
    struct wire_window w = {WIRE_PAST_MS, WIRE_FUTURE_MS};
    char why[128];
    uint8_t *out = NULL;
    size_t outlen = 0;

    if (wire_batch_decode(buf, len, &b, why, sizeof why) != WIRE_OK)
        return;
    (void)wire_batch_validate_header(&b, NULL, why, sizeof why);
    (void)wire_batch_validate_header(&b, "bus-1", why, sizeof why);
    (void)wire_batch_validate(&b, NULL, FUZZ_WIRE_NOW_MS, NULL, why,
                              sizeof why);
    (void)wire_batch_held_bound(&b);
    for (size_t i = 0; i < b.n; i++) {
        (void)wire_record_validate(&b.records[i], FUZZ_WIRE_NOW_MS, &w, why,
                                   sizeof why);
        (void)wire_record_size(&b.records[i]);
    }
    /* What decodes is what a sender could have sent: it must survive the
     * round trip with its records intact. */
    if (wire_batch_encode(&b, &out, &outlen) == WIRE_OK) {
        if (wire_batch_decode(out, outlen, &again, why, sizeof why) !=
                WIRE_OK ||
            again.n != b.n || strcmp(again.vehicle_id, b.vehicle_id) != 0)
            abort();
        for (size_t i = 0; i < b.n; i++)
            if (again.records[i].seq != b.records[i].seq ||
                again.records[i].t_ms != b.records[i].t_ms ||
                again.records[i].kind != b.records[i].kind)
                abort();
        wire_batch_free(&again);
    }
    free(out);
    wire_batch_free(&b);
}

static void fuzz_wire__status(const uint8_t *buf, size_t len)
{
    struct wire_status s, again;
    char why[128];
    uint8_t *out = NULL;
    size_t outlen = 0;

    if (wire_status_decode(buf, len, &s) != WIRE_OK)
        return;
    (void)wire_status_validate(&s, NULL, why, sizeof why);
    (void)wire_status_validate(&s, "bus-1", why, sizeof why);
    /* An offline status (a Last Will) carries only its identity and
     * strings: the counters come back only from an online one. */
    if (wire_status_encode(&s, &out, &outlen) == WIRE_OK) {
        if (wire_status_decode(out, outlen, &again) != WIRE_OK ||
            again.state != s.state ||
            strcmp(again.vehicle_id, s.vehicle_id) != 0 ||
            strcmp(again.version, s.version) != 0 ||
            (s.state == WIRE_ONLINE &&
             (again.next_seq != s.next_seq || again.acked_seq != s.acked_seq)))
            abort();
    }
    free(out);
}

static void fuzz_wire__ack(const uint8_t *buf, size_t len)
{
    struct wire_ack a, again;
    char why[128];
    uint8_t *out = NULL;
    size_t outlen = 0;

    if (wire_ack_decode(buf, len, &a) != WIRE_OK)
        return;
    (void)wire_ack_validate(&a, NULL, why, sizeof why);
    (void)wire_ack_validate(&a, "bus-1", why, sizeof why);
    if (wire_ack_encode(&a, &out, &outlen) == WIRE_OK) {
        if (wire_ack_decode(out, outlen, &again) != WIRE_OK ||
            again.seq != a.seq || again.t_ms != a.t_ms ||
            strcmp(again.vehicle_id, a.vehicle_id) != 0)
            abort();
    }
    free(out);
}

static void fuzz_wire__record(const uint8_t *buf, size_t len)
{
    struct wire_record r;
    char why[128];

    if (wire_record_decode(buf, len, &r) == WIRE_OK)
        (void)wire_record_validate(&r, FUZZ_WIRE_NOW_MS, NULL, why, sizeof why);
}

/* The topic and the strings a payload carries, as C strings. */
static void fuzz_wire__text(const uint8_t *buf, size_t len)
{
    char *s = malloc(len + 1);
    char vid[WIRE_VID_MAX + 1];

    if (s == NULL)
        return;
    memcpy(s, buf, len);
    s[len] = '\0';
    (void)wire_topic_parse(s, vid);
    (void)wire_utf8_ok(s);
    (void)wire_vid_ok(s);
    free(s);
}

/*
 * The first byte picks the message type (the same payload bytes reach
 * every decoder in turn would spend most runs on decode errors); the rest
 * is the payload.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0:
        fuzz_wire__batch(data + 1, size - 1);
        break;
    case 1:
        fuzz_wire__status(data + 1, size - 1);
        break;
    case 2:
        fuzz_wire__ack(data + 1, size - 1);
        break;
    case 3:
        fuzz_wire__record(data + 1, size - 1);
        break;
    default:
        fuzz_wire__text(data + 1, size - 1);
        break;
    }
    return 0;
}
