/* apc: the passenger-counter line protocol (proto/counter-protocol.md). */
#ifndef SHUTTLE_APC_H
#define SHUTTLE_APC_H

#include <stddef.h>
#include <stdint.h>

#define APC_LINE_MAX 82   /* characters of a sentence, with "\r\n" */
#define APC_DOOR_MAX 8    /* doors are numbered 1..APC_DOOR_MAX */
#define APC_COUNT_MAX 200 /* people in or out in one $PCIO line */
#define APC_SEQ_MAX 65535 /* seq wraps from APC_SEQ_MAX to 1 */
#define APC_ID_MAX 16     /* characters of a counter id */
#define APC_TEXT_MAX 80   /* characters of a fault text */
#define APC_CODE_MAX 9999 /* fault codes; 0 clears */

/* Every reason a line is rejected; each has its own counter. */
enum apc_err {
    APC_OK = 0,
    APC_ERR_SYNTAX = -1,       /* malformed sentence or field */
    APC_ERR_CHECKSUM = -2,     /* *HH does not match */
    APC_ERR_TOOLONG = -3,      /* over APC_LINE_MAX */
    APC_ERR_BINARY = -4,       /* bytes outside printable ASCII */
    APC_ERR_UNKNOWN_TYPE = -5, /* not $PCDO/DC/IO/HB/FL (e.g. $GPGGA) */
    APC_ERR_DOOR = -6,         /* door outside 1..configured doors */
    APC_ERR_TRUNCATED = -7,    /* starts with '$' but has no *HH end */
    APC_ERR_RANGE = -8,        /* a number is out of its range */
};

enum apc_type {
    APC_DOOR_OPEN = 1, /* $PCDO */
    APC_DOOR_CLOSE,    /* $PCDC */
    APC_PEOPLE,        /* $PCIO */
    APC_HEARTBEAT,     /* $PCHB */
    APC_FAULT,         /* $PCFL */
};

enum apc_hb_status {
    APC_HB_OK = 0,
    APC_HB_FAULT = 1,
};

/* One parsed sentence. Fields that a type does not carry are zero. */
struct apc_msg {
    enum apc_type type;
    uint32_t seq;      /* 0..APC_SEQ_MAX; 0 = first after counter start */
    int has_ctime;     /* the ctime field was not empty */
    uint32_t ctime_ms; /* the counter's own clock, diagnostics only */
    unsigned door;     /* 1..8; $PCFL may say 0 (whole counter) */
    unsigned in, out;  /* $PCIO increments, 0..APC_COUNT_MAX */
    enum apc_hb_status status;       /* $PCHB */
    char counter_id[APC_ID_MAX + 1]; /* $PCHB */
    unsigned code;                   /* $PCFL, 0 = cleared */
    char text[APC_TEXT_MAX + 1];     /* $PCFL, may be empty */
};

/*
 * Parse one sentence. `line` need not be NUL-terminated; one trailing "\r\n",
 * "\n" or "\r" is ignored. Checks length, characters, checksum, type, field
 * count and ranges (door 1..APC_DOOR_MAX; the configured door count is the
 * reader's business). Returns APC_OK with *out filled, or an apc_err (then
 * *out is unspecified).
 */
int apc_parse_line(const char *line, size_t len, struct apc_msg *out);

/* A static English description of an apc_err ("bad checksum"). */
const char *apc_strerror(int err);

/* Short name of a sentence type ("DO", "IO", ...), for logs. */
const char *apc_type_name(enum apc_type t);

/* Rejected lines by reason, and what got through. */
struct apc_stats {
    uint64_t bytes;    /* every byte fed in */
    uint64_t accepted; /* lines that parsed */
    uint64_t syntax, checksum, toolong, binary, unknown_type, door, truncated,
        range;
};

/* Sum of every reject counter (the status message's counter_rejected). */
uint64_t apc_stats_rejected(const struct apc_stats *s);

/*
 * Line assembler over a byte stream: takes chunks of any size (serial reads,
 * UDP datagrams) and yields parsed sentences. Over-long lines are dropped up
 * to the next '\n' and counted once; a '$' inside a line restarts the line
 * (also inside an over-long one, so the sentence after a burst of noise is
 * not lost); every other dropped line or fragment is counted once under its
 * reason. Opaque; one per input.
 */
struct apc_reader;

/*
 * Create a reader for a counter with `ndoors` doors (1..APC_DOOR_MAX):
 * sentences naming a higher door are rejected with APC_ERR_DOOR. Returns
 * NULL when out of memory or when ndoors is out of range. Free with
 * apc_reader_free.
 */
struct apc_reader *apc_reader_new(unsigned ndoors);
void apc_reader_free(struct apc_reader *r);

/*
 * Consume bytes from `data` (len may be 0) until one line is complete.
 * *used is set to the bytes consumed; call again with data + *used until it
 * returns 0. Returns:
 *   1   a sentence was parsed into *out;
 *   0   all of data was consumed, no complete line is left (a partial line
 *       stays buffered for the next chunk);
 *   <0  a line was rejected for that apc_err reason (already counted).
 */
int apc_reader_next(struct apc_reader *r, const void *data, size_t len,
                    size_t *used, struct apc_msg *out);

/* Drop any partial line (e.g. after the input was reopened); not counted. */
void apc_reader_reset(struct apc_reader *r);

/* The reader's counters; valid until apc_reader_free. */
const struct apc_stats *apc_reader_stats(const struct apc_reader *r);

#endif
