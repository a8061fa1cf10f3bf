/* gtfs: load a GTFS static feed (a folder of .txt files) into the gtfs_*
 * tables with PostgreSQL's own CSV reader (COPY), replacing the old feed. */
#ifndef SHUTTLE_GTFS_H
#define SHUTTLE_GTFS_H

#include <stddef.h>

enum gtfs_err {
    GTFS_OK = 0,
    GTFS_ERR_NOMEM = -1,
    GTFS_ERR_CONNECT = -2, /* cannot reach the database */
    GTFS_ERR_FILE = -3,    /* a file is missing, unreadable or has no header */
    GTFS_ERR_LOAD = -4,    /* PostgreSQL refused a file's rows */
    GTFS_ERR_FEED = -5,    /* the rows load but the feed is inconsistent */
};

/* What a successful load put in the database. */
struct gtfs_summary {
    char feed_version[128]; /* from feed_info.txt; empty when it has none */
    long long agencies, routes, stops, trips, stop_times, shape_points;
    long long services; /* calendar + calendar_dates service ids */
    int files;          /* .txt files loaded */
};

/*
 * Load the feed in folder DIR into the database at CONNINFO (a libpq
 * connection string) in one transaction: every gtfs_* table is emptied and
 * refilled, so readers see either the old feed or the new one, and a failed
 * load leaves the old one in place. The schema (migration 002) must exist.
 * Columns a file has beyond those of the table are ignored; a missing
 * required file (agency, stops, routes, trips, stop_times, and calendar or
 * calendar_dates) is an error. On error ERR receives a one-line message that
 * names the file and carries PostgreSQL's words. Returns GTFS_OK and fills
 * *SUM (may be NULL), or a gtfs_err.
 */
int gtfs_load(const char *conninfo, const char *dir, struct gtfs_summary *sum,
              char *err, size_t errlen);

#endif
