/* fuzz_gtfs: the checks of what the GTFS loader stored, as the daemons
 * read it back: the day's timetable (trips_db_feed_from_results), the
 * names (pub_names_from_results) and the static zip (pub_static_zip), each
 * from PGresults whose text rows are fuzzed. The loader itself (gtfs.c)
 * hands every file to PostgreSQL's COPY and checks nothing without a
 * server, so the rows that come back are where untrusted feed text meets
 * C. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"
#include "pub_names.h"
#include "pub_static.h"
#include "trips_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_GTFS_ROWS_MAX 256

/* DATA split at the first "\n--\n" into two parts (the second empty when
 * there is none). */
static void fuzz_gtfs__split(const uint8_t *data, size_t size,
                             const uint8_t **b, size_t *blen, size_t *alen)
{
    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, "\n--\n", 4) == 0) {
            *alen = i;
            *b = data + i + 4;
            *blen = size - i - 4;
            return;
        }
    *alen = size;
    *b = data + size;
    *blen = 0;
}

/* Stops, then "--", then stop times, in the queries' columns (or in a
 * column count the selector picks, as a changed query would give). */
static void fuzz_gtfs__feed(const uint8_t *data, size_t size, unsigned sel)
{
    const uint8_t *b;
    size_t alen, blen;
    int sc = sel & 1 ? 1 + (int)(sel >> 1) % 4 : 3;
    int tc = sel & 1 ? 6 + (int)(sel >> 3) % 4 : 8;
    PGresult *s, *t;
    struct trips_feed f;
    char err[256];

    fuzz_gtfs__split(data, size, &b, &blen, &alen);
    s = fuzz_world_result(sc, data, alen, FUZZ_GTFS_ROWS_MAX);
    t = fuzz_world_result(tc, b, blen, FUZZ_GTFS_ROWS_MAX);
    if (s && t &&
        trips_db_feed_from_results(s, t, "2023-12-09", &f, err, sizeof err) ==
            TRIPS_DB_OK) {
        /* Every stop time names a stop of the feed and lies in its trip's
         * range. */
        for (size_t i = 0; i < f.ntrips; i++)
            if (f.trips[i].first + f.trips[i].n > f.nst)
                abort();
        for (size_t i = 0; i < f.nst; i++)
            if (f.st[i].stop < 0 || (size_t)f.st[i].stop >= f.nstops)
                abort();
        trips_db_feed_free(&f);
    } else if (s && t) {
        trips_db_feed_free(&f);
    }
    PQclear(s);
    PQclear(t);
}

/* Stop names, "--", route names, "--", headsigns, "--", the feed's row,
 * over the fixed day's timetable. */
static void fuzz_gtfs__names(const uint8_t *data, size_t size)
{
    static const int cols[4] = {5, 6, 3, 5};
    PGresult *r[4];
    struct fuzz_world w;
    struct pub_names n;
    char err[256];
    const uint8_t *rest = data;
    size_t restlen = size;

    if (fuzz_world_init(&w) != 0)
        abort();
    for (int i = 0; i < 4; i++) {
        const uint8_t *b;
        size_t alen, blen;

        fuzz_gtfs__split(rest, restlen, &b, &blen, &alen);
        r[i] = fuzz_world_result(cols[i], rest, alen, FUZZ_GTFS_ROWS_MAX);
        rest = b;
        restlen = blen;
    }
    if (r[0] && r[1] && r[2] && r[3] &&
        pub_names_from_results(&w.feed, r[0], r[1], r[2], r[3], &n, err,
                               sizeof err) == PUB_NAMES_OK) {
        /* Every name is valid UTF-8 whatever the rows held. */
        for (size_t i = 0; i < n.nstops; i++)
            if (!pub_names_utf8_valid(n.stops[i].name) ||
                !pub_names_utf8_valid(n.stops[i].name_en))
                abort();
        for (size_t i = 0; i < w.feed.ntrips; i++)
            if (n.trip_route[i] < -1 || n.trip_route[i] >= (int)n.nroutes)
                abort();
        pub_names_free(&n);
    }
    for (int i = 0; i < 4; i++)
        PQclear(r[i]);
    fuzz_world_free(&w);
}

/* Rows of name and body for the zip. */
static void fuzz_gtfs__zip(const uint8_t *data, size_t size)
{
    PGresult *r = fuzz_world_result(2, data, size, 16);
    uint8_t *zip = NULL;
    size_t len = 0;
    char err[256];

    if (r && pub_static_zip(r, &zip, &len, err, sizeof err) == PUB_STATIC_OK &&
        (zip == NULL || len < 22)) /* not even an end-of-directory record */
        abort();
    free(zip);
    PQclear(r);
}

/* The first byte picks the converter (and the feed's column counts). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
    case 1:
        fuzz_gtfs__feed(data + 1, size - 1, data[0] >> 2);
        break;
    case 2:
        fuzz_gtfs__names(data + 1, size - 1);
        break;
    default:
        fuzz_gtfs__zip(data + 1, size - 1);
        break;
    }
    return 0;
}
