/* held: passenger counts waiting for a time, kept on disk beside the spool. */
#ifndef SHUTTLE_HELD_H
#define SHUTTLE_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/*
 * A count made before the bus knows the time (no fix yet, no set clock)
 * cannot be journaled: its 1970 time would make it a dead letter. It waits
 * here for the first fix, which re-stamps it through the monotonic clock.
 * Waiting only in memory, a restart of the daemon would lose it, so every
 * change is written to a file (written whole, fsynced, renamed). The
 * monotonic clock only means something within one boot: entries written in
 * another boot cannot be placed in time any more; held_open reports them
 * as lost, for the caller to count and log, and forgets them.
 */

#define HELD_MAX 256 /* counts that may wait at once */

enum held_err {
    HELD_OK = 0,
    HELD_ERR_NOMEM = -1,
    HELD_ERR_IO = -2,   /* errno says why */
    HELD_ERR_FULL = -3, /* HELD_MAX already wait */
};

struct held_entry {
    struct wire_record r;    /* its times on the system clock */
    int64_t wall_minus_mono; /* at the event: maps those times to mono */
};

struct held;

/*
 * Open the held counts of `dir` (the spool folder) for this boot
 * (`boot_id`, e.g. /proc/sys/kernel/random/boot_id; "" when unknown, and
 * then nothing survives a restart). A file from another boot, or one this
 * build cannot read, is removed; *lost gets the number of counts it held
 * (the caller's to report). Returns HELD_OK, HELD_ERR_NOMEM or HELD_ERR_IO;
 * *out is the caller's to free with held_free.
 */
int held_open(const char *dir, const char *boot_id, struct held **out,
              unsigned *lost);
void held_free(struct held *h);

/* Add one and write the file. HELD_OK, HELD_ERR_FULL or HELD_ERR_IO (then
 * it is still held in memory). */
int held_add(struct held *h, const struct wire_record *r,
             int64_t wall_minus_mono);

/* The counts waiting, in the order they were made. */
size_t held_count(const struct held *h);
const struct held_entry *held_get(const struct held *h, size_t i);

/*
 * Journaling a count is not atomic with removing it from the file: a crash
 * in between would journal it twice after a restart (two seqs, counted
 * twice). So before appending the first one, the caller writes the seq it
 * will get (held_release_begin), and drops it from the file after
 * (held_drop). A held file found with that mark (held_release_from != 0)
 * after a restart means the first may be in the spool at that seq: the
 * caller checks and drops it if so. Both return HELD_OK or HELD_ERR_IO.
 */
int held_release_begin(struct held *h, uint64_t first_seq);
uint64_t held_release_from(const struct held *h);

/* Forget the first n (already journaled), clear the mark, write the file
 * (or remove it when none are left). */
int held_drop(struct held *h, size_t n);

/* All of them were journaled: forget them and remove the file. */
int held_clear(struct held *h);

#endif
