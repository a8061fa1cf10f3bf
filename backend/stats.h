/* stats: the shuttle-backend daemon's own figures (loop stall, commits,
 * acks) and the rendering of every /metrics family. */
#ifndef SHUTTLE_STATS_H
#define SHUTTLE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct ingest_stats;
struct writer;
struct db;
struct mqtt;
struct fleet;
struct ackq;

/* What the daemon counts as it runs; the loop writes the fields. */
struct stats {
    /* Busy time of each loop iteration (poll's return to the next poll):
     * all of it, and the longest since the last /metrics scrape. */
    struct metrics_hist stall_seconds;
    double stall_max_s;
    /* The same, less the time spent in the writer's commit calls. */
    double stall_other_max_s;
    uint64_t committed;       /* new rows committed */
    uint64_t commit_failures; /* commits that failed */
    /* Time from a commit's start to its acks, and records per commit,
     * per commit that succeeded. */
    struct metrics_hist commit_seconds, commit_records;
};

/* The modules whose own counters /metrics shows, borrowed for one
 * rendering. */
struct stats_sources {
    const struct ingest_stats *ingest;
    const struct writer *writer;
    const struct db *db;
    struct mqtt *mqtt;
    const struct fleet *fleet;
    const struct ackq *ackq;
};

/* Zero s and set up its histograms. 0, or -1 when out of memory. */
int stats_init(struct stats *s);

/* Count one loop iteration: busy_us in all, of which commit_us in the
 * writer's commit calls. */
void stats_stall(struct stats *s, int64_t busy_us, int64_t commit_us);

/* Render every family once, in a fixed order, into m; the per-scrape
 * maxima in s start again from 0. */
void stats_render(struct stats *s, const struct stats_sources *src,
                  struct metrics_buf *m);

#endif
