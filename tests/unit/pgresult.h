/* pgresult: PGresults built without a server, for the unit tests of code
 * that converts query answers. */
#ifndef SHUTTLE_TEST_PGRESULT_H
#define SHUTTLE_TEST_PGRESULT_H

#include <libpq-fe.h>

/* A PGresult of NCOLS (at most 16) text columns and NROWS rows holding
 * CELLS (row-major); fails the running test when libpq cannot build it. */
PGresult *pgresult_text(int ncols, int nrows, const char *const *cells);

#endif
