/* fuzz_world: fuzzed text rows as PGresults, and the small fixed day the
 * targets judge requests and feeds against. */
#include "fuzz_world.h"

#include <string.h>

#include "pub_names.h"
#include "trips_db.h"

/* 2023-12-09 in Asia/Seoul: a fixed day, so that a run means the same on
 * any date. */
#define FUZZ_WORLD_DAY 19700
#define FUZZ_WORLD_DAY_MS ((int64_t)FUZZ_WORLD_DAY * 86400000 - 9 * 3600000LL)

PGresult *fuzz_world_result(int ncols, const uint8_t *data, size_t len,
                            int maxrows)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[FUZZ_WORLD_COLS_MAX];
    size_t pos = 0;
    int row = 0;

    if (r == NULL)
        return NULL;
    if (ncols < 1 || ncols > FUZZ_WORLD_COLS_MAX)
        ncols = 1;
    memset(att, 0, sizeof att);
    for (int c = 0; c < ncols; c++) {
        att[c].name = (char *)"c";
        att[c].typid = 25; /* text */
        att[c].typlen = -1;
        att[c].atttypmod = -1;
    }
    if (PQsetResultAttrs(r, ncols, att) != 1) {
        PQclear(r);
        return NULL;
    }
    while (pos < len && row < maxrows) {
        const uint8_t *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        int c = 0;

        while (c < ncols) {
            const uint8_t *tab =
                pos < end ? memchr(data + pos, '\t', end - pos) : NULL;
            size_t cend = tab ? (size_t)(tab - data) : end;
            size_t clen = pos < cend ? cend - pos : 0;
            const char *cell = (const char *)data + pos;
            int ok;

            /* A real text result holds no NUL inside a value, and "\N"
             * stands for SQL NULL as in COPY's text format. */
            if (clen == 2 && cell[0] == '\\' && cell[1] == 'N')
                ok = PQsetvalue(r, row, c, NULL, -1);
            else
                ok = PQsetvalue(r, row, c, (char *)cell,
                                (int)strnlen(cell, clen));
            if (ok != 1) {
                PQclear(r);
                return NULL;
            }
            c++;
            pos = tab ? cend + 1 : end;
        }
        pos = end + 1;
        row++;
    }
    return r;
}

static PGresult *fuzz_world__rows(int ncols, const char *text)
{
    return fuzz_world_result(ncols, (const uint8_t *)text, strlen(text), 64);
}

int fuzz_world_init(struct fuzz_world *w)
{
    static const char stops[] = "S1\t37.590\t126.670\n"
                                "S2\t37.595\t126.675\n"
                                "S3\t37.600\t126.680\n"
                                "S4\t37.605\t126.685\n";
    static const char times[] = "T1\tR1\tB1\t0\tS1\t1\t25200\t25200\n"
                                "T1\tR1\tB1\t0\tS2\t2\t25320\t25330\n"
                                "T1\tR1\tB1\t0\tS3\t3\t25440\t25440\n"
                                "T2\tR1\tB1\t1\tS3\t1\t27000\t27000\n"
                                "T2\tR1\tB1\t1\tS1\t2\t27240\t27240\n"
                                "T3\tR2\t\t-1\tS4\t1\t30000\t30000\n"
                                "T3\tR2\t\t-1\tS2\t2\t30300\t30300\n";
    static const char nstops[] = "S1\t101\t검암역\tGeomam Stn\t\n"
                                 "S2\t102\t<b>&\"'\tSchool\tnorth\n"
                                 "S3\t103\t산단\tIndustrial\t\n"
                                 "S4\t104\t신도시\tNew Town\t\n";
    static const char routes[] =
        "R1\t1\t검암 - 산단\tGeomam - Ind.\t1E88E5\tFFFFFF\n"
        "R2\t2\t신도시 - 산단\tNew Town - Ind.\tbad\t\n";
    static const char trips[] = "T1\t산단\tInd.\nT2\t검암\tGeomam\n"
                                "T3\t산단\tInd.\n";
    static const char feed[] =
        "2023-12-01\t검단버스\tGeomdan Bus\tAsia/Seoul\tko\n";
    PGresult *rs = fuzz_world__rows(3, stops), *rt = fuzz_world__rows(8, times);
    PGresult *ns = fuzz_world__rows(5, nstops),
             *nr = fuzz_world__rows(6, routes);
    PGresult *nt = fuzz_world__rows(3, trips), *nf = fuzz_world__rows(5, feed);
    char err[256];
    int rc = -1;

    memset(w, 0, sizeof *w);
    if (rs && rt && ns && nr && nt && nf &&
        trips_db_feed_from_results(rs, rt, "2023-12-09", &w->feed, err,
                                   sizeof err) == TRIPS_DB_OK &&
        pub_names_from_results(&w->feed, ns, nr, nt, nf, &w->names, err,
                               sizeof err) == PUB_NAMES_OK)
        rc = 0;
    PQclear(rs);
    PQclear(rt);
    PQclear(ns);
    PQclear(nr);
    PQclear(nt);
    PQclear(nf);
    if (rc != 0) {
        fuzz_world_free(w);
        return -1;
    }
    w->feed.day_ms = FUZZ_WORLD_DAY_MS;
    w->view.feed = &w->feed;
    w->view.names = &w->names;
    w->view.day = FUZZ_WORLD_DAY;
    w->view.day_text = "2023-12-09";
    /* No predictions and no bus: every board comes from the timetable. */
    w->view.now_ms = FUZZ_WORLD_DAY_MS + 25000 * 1000LL;
    return 0;
}

void fuzz_world_free(struct fuzz_world *w)
{
    pub_names_free(&w->names);
    trips_db_feed_free(&w->feed);
    memset(w, 0, sizeof *w);
}
