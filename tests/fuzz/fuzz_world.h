/* fuzz_world: what the fuzz targets share: PGresults of text built from
 * fuzzed rows, and one small fixed timetable and view to judge fuzzed
 * requests and feeds against. */
#ifndef SHUTTLE_FUZZ_WORLD_H
#define SHUTTLE_FUZZ_WORLD_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "pub_view.h"
#include "trips.h"

#define FUZZ_WORLD_COLS_MAX 16

/*
 * A PGRES_TUPLES_OK result of NCOLS (1..FUZZ_WORLD_COLS_MAX) text columns
 * whose rows are the lines of DATA (LEN bytes, split at '\n'), each split
 * at '\t' into cells; a line with fewer cells gets "" for the rest, extra
 * cells are dropped, a cell "\N" is NULL (as COPY writes it). At most
 * MAXROWS rows. Returns NULL only when libpq runs out of memory; the
 * caller PQclears it.
 */
PGresult *fuzz_world_result(int ncols, const uint8_t *data, size_t len,
                            int maxrows);

/* The fixed day: four stops, two routes, three trips, their names, and a
 * view of them at a fixed morning with no bus heard (the timetable only),
 * built through the project's own converters (trips_db, pub_names). */
struct fuzz_world {
    struct trips_feed feed;
    struct pub_names names;
    struct pub_view view;
};

/* Build *W (the caller's; release with fuzz_world_free). Returns 0, or -1
 * when it could not be built (out of memory, or the converters refused the
 * fixed rows: a bug in this file). */
int fuzz_world_init(struct fuzz_world *w);
void fuzz_world_free(struct fuzz_world *w);

#endif
