/* partitions: the service days' table partitions: which exist (a cache),
 * creating the missing ones, and retention of raw positions. */
#ifndef SHUTTLE_PARTITIONS_H
#define SHUTTLE_PARTITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Distinct service days in one commit, and remembered as having partitions.
 * A backlog of more days than this is split over several commits. */
#define PARTITIONS_DAYS_MAX 64

struct partitions;

/* A cache of days whose partitions exist, empty. DB_OK or DB_ERR_NOMEM;
 * *out is the caller's, to free with partitions_free. */
int partitions_new(struct partitions **out);
void partitions_free(struct partitions *p);

/* Make sure each of the n days has its partitions (asking the database for
 * those not in the cache), each in its own short transaction: creating one
 * locks the parent table. DB_OK or DB_ERR_QUERY (the connection is left
 * as it is: the caller closes it). */
int partitions_ensure(struct partitions *p, struct db *d, const int32_t *days,
                      size_t n, char *err, size_t errlen);

/* Forget which partitions exist: the next partitions_ensure asks again
 * (another backend's retention may have dropped a day the cache holds). */
void partitions_forget(struct partitions *p);

/* Did the last failed statement on d say a row had no partition ("no
 * partition of relation ... found for row")? Then the cache was stale:
 * partitions_forget, partitions_ensure and try again. */
bool partitions_stale(const struct db *d);

/*
 * Retention: drop the position partitions of service days before the day
 * of `t_ms` (passenger counts are kept). *dropped gets the number of days.
 * DB_OK, DB_ERR_CONNECT (not connected) or DB_ERR_QUERY.
 */
int partitions_drop_positions_before(struct partitions *p, struct db *d,
                                     int64_t t_ms, int *dropped, char *err,
                                     size_t errlen);

#endif
