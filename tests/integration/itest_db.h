/* itest_db: a test's PostgreSQL with shuttle's schema and the shipped feed
 * (deploy/gtfs), for the tests that link ingest's migrations and the GTFS
 * loader (itest.c does not, so its users need neither). */
#ifndef SHUTTLE_ITEST_DB_H
#define SHUTTLE_ITEST_DB_H

struct harness_pg;

/* Start a server, migrate it and load $SHUTTLE_SOURCE_DIR/deploy/gtfs.
 * The server, or NULL after printing what failed. */
struct harness_pg *itest_db_with_feed(void);

#endif
