/* apc: parse the passenger-counter line protocol and assemble its lines. */
#include <stdlib.h>
#include <string.h>

#include "apc.h"

struct apc_reader {
    unsigned ndoors;
    /* The longest line kept is 80 characters plus its '\r'. */
    char buf[APC_LINE_MAX - 1];
    size_t len;
    int discarding; /* in an over-long line, already counted: drop up to
                       its '\n', but a '$' may start a good line */
    int binary;     /* the line being assembled holds non-ASCII bytes */
    struct apc_stats st;
};

/* Fields of a sentence body, walked left to right without copying. */
struct fields {
    const char *p, *end;
    int done;
};

static int apc__next_field(struct fields *fs, const char **f, size_t *n)
{
    const char *comma;

    if (fs->done)
        return 0;
    comma = memchr(fs->p, ',', (size_t)(fs->end - fs->p));
    *f = fs->p;
    if (comma == NULL) {
        *n = (size_t)(fs->end - fs->p);
        fs->done = 1;
    } else {
        *n = (size_t)(comma - fs->p);
        fs->p = comma + 1;
    }
    return 1;
}

/* The rest of the body as one field: a fault text may contain commas. */
static int apc__rest_field(struct fields *fs, const char **f, size_t *n)
{
    if (fs->done)
        return 0;
    *f = fs->p;
    *n = (size_t)(fs->end - fs->p);
    fs->done = 1;
    return 1;
}

static int apc__parse_uint(const char *f, size_t n, uint32_t max, uint32_t *v)
{
    uint64_t x = 0;
    size_t i;

    if (n == 0)
        return APC_ERR_SYNTAX;
    for (i = 0; i < n; i++) {
        if (f[i] < '0' || f[i] > '9')
            return APC_ERR_SYNTAX;
        /* Eleven digits cannot fit any field: stop before x overflows. */
        if (i >= 10)
            return APC_ERR_RANGE;
        x = x * 10 + (uint64_t)(f[i] - '0');
    }
    if (x > max)
        return APC_ERR_RANGE;
    *v = (uint32_t)x;
    return APC_OK;
}

static int apc__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int apc__parse_door(const char *f, size_t n, unsigned min,
                           unsigned *door)
{
    uint32_t v;
    int rc = apc__parse_uint(f, n, UINT32_MAX, &v);

    /* A well-formed number naming no door is a door error, not syntax. */
    if (rc == APC_ERR_RANGE)
        return APC_ERR_DOOR;
    if (rc != APC_OK)
        return rc;
    if (v < min || v > APC_DOOR_MAX)
        return APC_ERR_DOOR;
    *door = v;
    return APC_OK;
}

static int apc__id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Fields after "seq,ctime" of each type; `fs` is positioned on the first. */
static int apc__parse_payload(struct fields *fs, struct apc_msg *m)
{
    const char *f;
    size_t n, i;
    uint32_t v;
    int rc;

    switch (m->type) {
    case APC_DOOR_OPEN:
    case APC_DOOR_CLOSE:
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        return apc__parse_door(f, n, 1, &m->door);
    case APC_PEOPLE:
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if ((rc = apc__parse_door(f, n, 1, &m->door)) != APC_OK)
            return rc;
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if ((rc = apc__parse_uint(f, n, APC_COUNT_MAX, &v)) != APC_OK)
            return rc;
        m->in = v;
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if ((rc = apc__parse_uint(f, n, APC_COUNT_MAX, &v)) != APC_OK)
            return rc;
        m->out = v;
        return APC_OK;
    case APC_HEARTBEAT:
        if (!apc__next_field(fs, &f, &n) || n == 0 || n > APC_ID_MAX)
            return APC_ERR_SYNTAX;
        for (i = 0; i < n; i++)
            if (!apc__id_char(f[i]))
                return APC_ERR_SYNTAX;
        memcpy(m->counter_id, f, n);
        m->counter_id[n] = '\0';
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if (n == 2 && memcmp(f, "OK", 2) == 0)
            m->status = APC_HB_OK;
        else if (n == 5 && memcmp(f, "FAULT", 5) == 0)
            m->status = APC_HB_FAULT;
        else
            return APC_ERR_SYNTAX;
        return APC_OK;
    case APC_FAULT:
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if ((rc = apc__parse_door(f, n, 0, &m->door)) != APC_OK)
            return rc;
        if (!apc__next_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        if ((rc = apc__parse_uint(f, n, APC_CODE_MAX, &v)) != APC_OK)
            return rc;
        m->code = v;
        if (!apc__rest_field(fs, &f, &n))
            return APC_ERR_SYNTAX;
        /* The line limit keeps n below APC_TEXT_MAX; checked anyway. */
        if (n > APC_TEXT_MAX)
            return APC_ERR_TOOLONG;
        memcpy(m->text, f, n);
        m->text[n] = '\0';
        return APC_OK;
    }
    return APC_ERR_UNKNOWN_TYPE;
}

int apc_parse_line(const char *line, size_t len, struct apc_msg *out)
{
    const char *star, *f;
    struct fields fs;
    unsigned sum = 0;
    size_t i, n, tail;
    uint32_t v;
    int hi, lo, rc;

    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len + 2 > APC_LINE_MAX)
        return APC_ERR_TOOLONG;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c > 0x7e)
            return APC_ERR_BINARY;
    }
    if (len == 0 || line[0] != '$')
        return APC_ERR_SYNTAX;

    /* A line cut short (by a newline or a restarting gateway) loses its
     * checksum first; call that truncation rather than syntax. */
    star = memchr(line + 1, '*', len - 1);
    if (star == NULL)
        return APC_ERR_TRUNCATED;
    tail = len - (size_t)(star - line) - 1;
    if (tail < 2)
        return APC_ERR_TRUNCATED;
    if (tail > 2)
        return APC_ERR_SYNTAX;
    hi = apc__hexval(star[1]);
    lo = apc__hexval(star[2]);
    if (hi < 0 || lo < 0)
        return APC_ERR_SYNTAX;
    for (i = 1; line + i < star; i++) {
        if (line[i] == '$')
            return APC_ERR_SYNTAX;
        sum ^= (unsigned char)line[i];
    }
    if (sum != (unsigned)(hi << 4 | lo))
        return APC_ERR_CHECKSUM;

    memset(out, 0, sizeof *out);
    fs.p = line + 1;
    fs.end = star;
    fs.done = 0;
    apc__next_field(&fs, &f, &n);
    /* Other talkers ($GPGGA from a shared line) are unknown types too. */
    if (n != 4 || f[0] != 'P' || f[1] != 'C')
        return APC_ERR_UNKNOWN_TYPE;
    if (memcmp(f + 2, "DO", 2) == 0)
        out->type = APC_DOOR_OPEN;
    else if (memcmp(f + 2, "DC", 2) == 0)
        out->type = APC_DOOR_CLOSE;
    else if (memcmp(f + 2, "IO", 2) == 0)
        out->type = APC_PEOPLE;
    else if (memcmp(f + 2, "HB", 2) == 0)
        out->type = APC_HEARTBEAT;
    else if (memcmp(f + 2, "FL", 2) == 0)
        out->type = APC_FAULT;
    else
        return APC_ERR_UNKNOWN_TYPE;

    if (!apc__next_field(&fs, &f, &n))
        return APC_ERR_SYNTAX;
    if ((rc = apc__parse_uint(f, n, APC_SEQ_MAX, &v)) != APC_OK)
        return rc;
    out->seq = v;
    if (!apc__next_field(&fs, &f, &n))
        return APC_ERR_SYNTAX;
    if (n > 0) {
        if ((rc = apc__parse_uint(f, n, UINT32_MAX, &v)) != APC_OK)
            return rc;
        out->has_ctime = 1;
        out->ctime_ms = v;
    }
    if ((rc = apc__parse_payload(&fs, out)) != APC_OK)
        return rc;
    /* Extra fields mean the sender speaks another version: refuse. */
    if (!fs.done)
        return APC_ERR_SYNTAX;
    return APC_OK;
}

const char *apc_strerror(int err)
{
    switch (err) {
    case APC_OK:
        return "ok";
    case APC_ERR_SYNTAX:
        return "syntax error";
    case APC_ERR_CHECKSUM:
        return "bad checksum";
    case APC_ERR_TOOLONG:
        return "line too long";
    case APC_ERR_BINARY:
        return "binary noise";
    case APC_ERR_UNKNOWN_TYPE:
        return "unknown sentence type";
    case APC_ERR_DOOR:
        return "no such door";
    case APC_ERR_TRUNCATED:
        return "truncated line";
    case APC_ERR_RANGE:
        return "number out of range";
    }
    return "unknown error";
}

const char *apc_type_name(enum apc_type t)
{
    switch (t) {
    case APC_DOOR_OPEN:
        return "DO";
    case APC_DOOR_CLOSE:
        return "DC";
    case APC_PEOPLE:
        return "IO";
    case APC_HEARTBEAT:
        return "HB";
    case APC_FAULT:
        return "FL";
    }
    return "??";
}

uint64_t apc_stats_rejected(const struct apc_stats *s)
{
    return s->syntax + s->checksum + s->toolong + s->binary + s->unknown_type +
           s->door + s->truncated + s->range;
}

struct apc_reader *apc_reader_new(unsigned ndoors)
{
    struct apc_reader *r;

    if (ndoors < 1 || ndoors > APC_DOOR_MAX)
        return NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return NULL;
    r->ndoors = ndoors;
    return r;
}

void apc_reader_free(struct apc_reader *r)
{
    free(r);
}

void apc_reader_reset(struct apc_reader *r)
{
    r->len = 0;
    r->discarding = 0;
    r->binary = 0;
}

const struct apc_stats *apc_reader_stats(const struct apc_reader *r)
{
    return &r->st;
}

static int apc__count_reject(struct apc_stats *st, int err)
{
    switch (err) {
    case APC_ERR_CHECKSUM:
        st->checksum++;
        break;
    case APC_ERR_TOOLONG:
        st->toolong++;
        break;
    case APC_ERR_BINARY:
        st->binary++;
        break;
    case APC_ERR_UNKNOWN_TYPE:
        st->unknown_type++;
        break;
    case APC_ERR_DOOR:
        st->door++;
        break;
    case APC_ERR_TRUNCATED:
        st->truncated++;
        break;
    case APC_ERR_RANGE:
        st->range++;
        break;
    default:
        st->syntax++;
        break;
    }
    return err;
}

/* Only '\r' and spaces: what is left between "\r\n\r\n" is no line. */
static int apc__blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != ' ')
            return 0;
    return 1;
}

/* The line in r->buf is complete: parse it. Returns 1, 0 (blank) or <0. */
static int apc__finish_line(struct apc_reader *r, struct apc_msg *out)
{
    int rc;

    if (apc__blank(r->buf, r->len)) {
        rc = 0;
    } else {
        rc = apc_parse_line(r->buf, r->len, out);
        if (rc == APC_OK && out->door > r->ndoors)
            rc = APC_ERR_DOOR;
        if (rc == APC_OK) {
            r->st.accepted++;
            rc = 1;
        } else {
            apc__count_reject(&r->st, rc);
        }
    }
    r->len = 0;
    r->binary = 0;
    return rc;
}

/* The bytes before a '$' that interrupts a line are rejected as a unit. */
static int apc__drop_fragment(struct apc_reader *r)
{
    int rc = 0;

    if (!apc__blank(r->buf, r->len)) {
        if (r->binary)
            rc = APC_ERR_BINARY;
        else if (r->buf[0] == '$')
            rc = APC_ERR_TRUNCATED;
        else
            rc = APC_ERR_SYNTAX;
        apc__count_reject(&r->st, rc);
    }
    r->len = 0;
    r->binary = 0;
    return rc;
}

int apc_reader_next(struct apc_reader *r, const void *data, size_t len,
                    size_t *used, struct apc_msg *out)
{
    const unsigned char *p = data;
    size_t i;
    int rc = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = p[i];

        if (c == '\n') {
            int region = r->discarding;

            r->discarding = 0;
            /* A line that began at a '$' inside a dropped region is a
             * fresh attempt and is judged on its own. */
            if (region && r->len == 0)
                continue;
            if ((rc = apc__finish_line(r, out)) != 0)
                break;
            continue;
        }
        if (c == '$') {
            /* Inside a dropped region the junk was counted already. */
            if (r->len > 0 && !r->discarding)
                rc = apc__drop_fragment(r);
            r->len = 0;
            r->binary = 0;
            r->buf[r->len++] = '$';
            if (rc != 0)
                break;
            continue;
        }
        if (r->discarding && r->len == 0)
            continue;
        if (r->len == sizeof r->buf) {
            /* A burst of noise is counted as noise even when it is long;
             * it is one reject however long it goes on. */
            if (!r->discarding)
                rc = apc__count_reject(&r->st, r->binary ? APC_ERR_BINARY
                                                         : APC_ERR_TOOLONG);
            r->len = 0;
            r->binary = 0;
            r->discarding = 1;
            if (rc != 0)
                break;
            continue;
        }
        if ((c < 0x20 || c > 0x7e) && c != '\r')
            r->binary = 1;
        r->buf[r->len++] = (char)c;
    }
    if (i < len)
        i++; /* the byte that ended the loop was consumed */
    *used = i;
    r->st.bytes += i;
    return rc;
}
