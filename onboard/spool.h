/* spool: the bus's on-disk journal of records until the backend acks them. */
#ifndef SHUTTLE_SPOOL_H
#define SHUTTLE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every function returns SPOOL_OK or one of these (negative). After
 * SPOOL_ERR_IO, errno says why.
 */
enum spool_err {
    SPOOL_OK = 0,
    SPOOL_ERR_IO = -1,      /* a system call failed; errno is kept */
    SPOOL_ERR_NOMEM = -2,   /* out of memory */
    SPOOL_ERR_INVAL = -3,   /* bad argument */
    SPOOL_ERR_BUSY = -4,    /* another process has this spool open */
    SPOOL_ERR_TOOBIG = -5,  /* payload above max_payload or the whole spool */
    SPOOL_ERR_CORRUPT = -6, /* a record failed its CRC (internal; not
                               returned by the API, which skips such records) */
    SPOOL_ERR_VERSION = -7, /* the journal was written in a newer format than
                               this build reads (SPOOL_FORMAT_VERSION); it
                               is left as it is, not a byte changed */
};

/*
 * The on-disk format's version: the last byte of the state file's magic,
 * "SHSPOOL1" for version 1 (segment files carry no version of their own:
 * the state file speaks for the directory). A daemon reads every version
 * up to its own and writes its own at the next state write; a journal of a
 * later version is refused by spool_open untouched, so that an older
 * daemon put back on a bus never misreads or deletes what a newer one
 * spooled. A new version is only needed when the layout changes.
 */
#define SPOOL_FORMAT_VERSION 1

/* Counts are the ridership figure and are dropped last; positions first. */
enum spool_class {
    SPOOL_POSITION = 0,
    SPOOL_COUNT = 1,
};

/* Bytes each record takes on disk besides its payload (the header). */
#define SPOOL_RECORD_OVERHEAD 28u
/* No payload can be larger than this, whatever the options say. */
#define SPOOL_PAYLOAD_LIMIT 65535u

/* Zero in any field means its default. */
struct spool_options {
    uint64_t max_bytes;         /* disk bound of all segments; 64 MiB */
    uint32_t segment_bytes;     /* one segment file; 256 KiB, at most
                                   max_bytes / 8 and 64 MiB */
    uint32_t buffer_bytes;      /* write batching buffer; 16 KiB */
    uint32_t max_payload;       /* larger appends fail; 4096 */
    uint32_t seq_block;         /* seqs reserved per state-file write; 1000 */
    uint32_t flush_interval_ms; /* positions synced at most this often; 1000 */
    uint64_t min_next_seq; /* applied as spool_seq_floor at open; 0 = none */
};

/* One record returned by spool_peek. */
struct spool_item {
    uint64_t seq;
    enum spool_class cls;
    int64_t t_ms;        /* as given to spool_append */
    const void *payload; /* owned by the spool; see spool_peek */
    size_t len;
};

struct spool_stats {
    uint64_t records;           /* held: not acked, not dropped */
    uint64_t positions;         /* held POSITION records */
    uint64_t counts;            /* held COUNT records */
    uint64_t bytes;             /* on disk in segments, plus still buffered */
    uint64_t dropped_positions; /* lost to the size bound (persisted) */
    uint64_t dropped_counts;
    uint64_t corrupt;         /* damaged records/regions skipped */
    uint64_t truncated_bytes; /* torn tails cut at open */
    uint64_t fsyncs;          /* fsync/fdatasync calls of any file or dir */
    uint64_t writes;          /* write calls to segment files */
    uint64_t next_seq;        /* the seq the next append gets */
    uint64_t acked_seq;       /* highest ack seen */
    int64_t oldest_t_ms;      /* t_ms of the oldest held record; 0 if none */
    uint64_t index_bytes;     /* heap used by the in-memory index */
    uint32_t segments;        /* segment files */
    int fresh; /* no state file was found at open: numbering started anew,
                  so the backend's ack must be applied (spool_seq_floor) */
};

struct spool;

/*
 * Opens (creating if needed) the spool in directory `dir`, cuts torn or
 * corrupt tails, rebuilds the index and takes an exclusive lock on the
 * directory. `opt` may be NULL for defaults. On SPOOL_OK *out is the
 * caller's to spool_close. SPOOL_ERR_BUSY if another process holds it.
 */
int spool_open(const char *dir, const struct spool_options *opt,
               struct spool **out);

/*
 * Flushes, persists the seq and ack state, frees `s` (always, even on
 * error). Returns the first error met while flushing. NULL is a no-op.
 */
int spool_close(struct spool *s);

/*
 * Appends a record and assigns it the next seq, stored in *seq_out (may be
 * NULL). A COUNT is on stable storage when this returns SPOOL_OK; a
 * POSITION is buffered until spool_flush / spool_flush_due. Makes room by
 * dropping old records when max_bytes would be exceeded. On error the
 * record is not in the spool (its seq may be skipped, never reused).
 */
int spool_append(struct spool *s, enum spool_class cls, int64_t t_ms,
                 const void *payload, size_t len, uint64_t *seq_out);

/* Writes out buffered records and fdatasyncs the active segment. */
int spool_flush(struct spool *s);

/*
 * For the poll loop's timer: flushes if records are waiting and the last
 * flush from here was at least flush_interval_ms before `now_mono_ms`.
 * Returns 1 if it flushed, 0 if nothing was due, or an error.
 */
int spool_flush_due(struct spool *s, int64_t now_mono_ms);

/* Milliseconds until spool_flush_due would flush, 0 if now, -1 if idle. */
int64_t spool_next_flush_ms(const struct spool *s, int64_t now_mono_ms);

/*
 * Fills out[0..*n) with the oldest held records whose seq > after_seq, in
 * seq order: at most max_records, and payloads totalling at most max_bytes
 * (the first record is returned even if it alone is larger). Payload
 * pointers are owned by the spool and valid until the next call on `s`.
 * Damaged records are skipped (and counted in stats.corrupt).
 */
int spool_peek(struct spool *s, uint64_t after_seq, size_t max_records,
               size_t max_bytes, struct spool_item *out, size_t *n);

/*
 * The backend committed everything up to `seq`: frees those records
 * (deleting whole segments, then syncing the directory). The watermark is
 * persisted lazily, so after a crash some acked records may be offered again.
 * An ack at or above the next seq also raises the numbering above it (see
 * spool_seq_floor).
 */
int spool_ack(struct spool *s, uint64_t seq);

/*
 * Makes sure the next seq is at least `min_next` and persists that before
 * returning. For a spool that lost its state (stats.fresh, new SD card):
 * pass the backend's retained ack + 1. Never lowers the seq.
 */
int spool_seq_floor(struct spool *s, uint64_t min_next);

/*
 * Gives up the held record `seq` (it cannot be sent: it does not decode):
 * it counts as dropped (dropped_positions or dropped_counts, by its class)
 * and spool_oldest_held passes it, so the backend's watermark can too.
 * Payload pointers of the last spool_peek stay valid. SPOOL_ERR_INVAL if
 * `seq` is not held.
 */
int spool_discard(struct spool *s, uint64_t seq);

/* The seq the next append gets: every seq below it was issued (or skipped,
 * never to be reused). */
uint64_t spool_next_seq(const struct spool *s);

/*
 * The oldest seq still held; everything below it was acked or dropped. If
 * nothing is held, the next seq.
 */
uint64_t spool_oldest_held(const struct spool *s);

/* Fills *st. Reads one record header from disk for oldest_t_ms. */
int spool_stats(struct spool *s, struct spool_stats *st);

/* A static English description of a spool_err value. */
const char *spool_strerror(int err);

#endif
