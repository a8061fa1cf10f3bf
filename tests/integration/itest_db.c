/* itest_db: schema and feed through the daemons' own code (db_migrate,
 * gtfs_load), as shuttle-backend would set them up. */
#include "itest_db.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "gtfs.h"
#include "harness.h"

struct harness_pg *itest_db_with_feed(void)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");
    char dir[1024], err[512];
    struct harness_pg *pg;
    struct db *db;

    snprintf(dir, sizeof dir, "%s/deploy/gtfs", src ? src : ".");
    pg = harness_pg_start(1);
    if (!pg || db_new(harness_pg_conninfo(pg), &db) != 0)
        return NULL;
    if (db_connect(db, err, sizeof err) != 0 ||
        db_migrate(db, err, sizeof err) != 0) {
        fprintf(stderr, "schema: %s\n", err);
        db_free(db);
        return NULL;
    }
    db_free(db);
    if (gtfs_load(harness_pg_conninfo(pg), dir, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "GTFS %s: %s\n", dir, err);
        return NULL;
    }
    return pg;
}
