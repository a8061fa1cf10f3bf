/* live_gtfsrt_text: protobuf text of a FeedMessage, from its descriptor. */
#include "live_gtfsrt_text.h"

#include <float.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtfs-realtime.pb-c.h"

static int live_gtfsrt_text__indent(struct buf *o, int depth)
{
    for (int i = 0; i < depth; i++)
        if (buf_append(o, "  ", 2) != BUF_OK)
            return -1;
    return 0;
}

/* C escapes as protobuf's CEscape writes them. */
static int live_gtfsrt_text__quoted(struct buf *o, const uint8_t *s, size_t n)
{
    if (buf_append(o, "\"", 1) != BUF_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int rc;

        switch (s[i]) {
        case '\n':
            rc = buf_append(o, "\\n", 2);
            break;
        case '\r':
            rc = buf_append(o, "\\r", 2);
            break;
        case '\t':
            rc = buf_append(o, "\\t", 2);
            break;
        case '"':
            rc = buf_append(o, "\\\"", 2);
            break;
        case '\'':
            rc = buf_append(o, "\\'", 2);
            break;
        case '\\':
            rc = buf_append(o, "\\\\", 2);
            break;
        default:
            rc = s[i] < 0x20 || s[i] >= 0x7f
                     ? buf_printf(o, "\\%03o", (unsigned)s[i])
                     : buf_append(o, &s[i], 1);
        }
        if (rc != BUF_OK)
            return -1;
    }
    return buf_append(o, "\"", 1) == BUF_OK ? 0 : -1;
}

/* protobuf's SimpleFtoa / SimpleDtoa: the short form unless it loses
 * bits. */
static int live_gtfsrt_text__real(struct buf *o, double v, bool is_float)
{
    char tmp[64];
    int dig = is_float ? FLT_DIG : DBL_DIG;

    if (v != v)
        return buf_printf(o, "nan") == BUF_OK ? 0 : -1;
    if (v > DBL_MAX || v < -DBL_MAX)
        return buf_printf(o, v > 0 ? "inf" : "-inf") == BUF_OK ? 0 : -1;
    snprintf(tmp, sizeof tmp, "%.*g", dig, v);
    if (is_float ? strtof(tmp, NULL) != (float)v : strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.*g", is_float ? dig + 3 : dig + 2, v);
    return buf_printf(o, "%s", tmp) == BUF_OK ? 0 : -1;
}

static size_t live_gtfsrt_text__size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    return 0;
}

static int live_gtfsrt_text__message(struct buf *o, const ProtobufCMessage *m,
                                     int depth);

/* One value of field FD at P. */
static int live_gtfsrt_text__value(struct buf *o,
                                   const ProtobufCFieldDescriptor *fd,
                                   const void *p, int depth)
{
    int rc = BUF_OK;

    if (live_gtfsrt_text__indent(o, depth) != 0 ||
        buf_printf(o, "%s", fd->name) != BUF_OK)
        return -1;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (buf_printf(o, " {\n") != BUF_OK ||
            live_gtfsrt_text__message(o, *(ProtobufCMessage *const *)p,
                                      depth + 1) != 0 ||
            live_gtfsrt_text__indent(o, depth) != 0 ||
            buf_printf(o, "}\n") != BUF_OK)
            return -1;
        return 0;
    }
    if (buf_printf(o, ": ") != BUF_OK)
        return -1;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = buf_printf(o, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = buf_printf(o, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = buf_printf(o, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = buf_printf(o, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        rc = live_gtfsrt_text__real(o, *(const float *)p, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        rc = live_gtfsrt_text__real(o, *(const double *)p, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        rc = buf_printf(o, "%s",
                        *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
            (const ProtobufCEnumDescriptor *)fd->descriptor, v);

        rc = ev ? buf_printf(o, "%s", ev->name) : buf_printf(o, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;

        rc = live_gtfsrt_text__quoted(o, (const uint8_t *)s, strlen(s));
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;

        rc = live_gtfsrt_text__quoted(o, bd->data, bd->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
    if (rc != 0)
        return -1;
    return buf_append(o, "\n", 1) == BUF_OK ? 0 : -1;
}

static int live_gtfsrt_text__message(struct buf *o, const ProtobufCMessage *m,
                                     int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;

    /* protoc-c lays out the fields sorted by number, the order protoc
     * prints them in. */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const void *member = base + fd->offset;

        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + fd->quantifier_offset);
            const char *arr = *(char *const *)member;
            size_t sz = live_gtfsrt_text__size(fd);

            for (size_t k = 0; k < n; k++)
                if (live_gtfsrt_text__value(o, fd, arr + k * sz, depth) != 0)
                    return -1;
            continue;
        }
        if (fd->label != PROTOBUF_C_LABEL_REQUIRED) {
            bool set =
                fd->type == PROTOBUF_C_TYPE_MESSAGE ||
                        fd->type == PROTOBUF_C_TYPE_STRING
                    ? *(void *const *)member != NULL
                    : *(const protobuf_c_boolean *)(base +
                                                    fd->quantifier_offset);
            if (!set)
                continue;
        }
        if (live_gtfsrt_text__value(o, fd, member, depth) != 0)
            return -1;
    }
    return 0;
}

enum live_gtfsrt_err live_gtfsrt_text(const uint8_t *buf, size_t len,
                                      struct buf *out, char *err, size_t errlen)
{
    TransitRealtime__FeedMessage *m =
        transit_realtime__feed_message__unpack(NULL, len, buf);
    size_t was = out->len;
    int rc;

    if (!m) {
        snprintf(err, errlen, "not a FeedMessage (%zu bytes)", len);
        return LIVE_GTFSRT_ERR_INVALID;
    }
    rc = live_gtfsrt_text__message(out, &m->base, 0);
    transit_realtime__feed_message__free_unpacked(m, NULL);
    if (rc != 0) {
        out->len = was;
        if (out->p)
            out->p[was] = '\0';
        snprintf(err, errlen, "out of memory");
        return LIVE_GTFSRT_ERR_NOMEM;
    }
    return LIVE_GTFSRT_OK;
}
