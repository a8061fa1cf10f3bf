/* pgresult: text results through libpq's own constructors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pgresult.h"

PGresult *pgresult_text(int ncols, int nrows, const char *const *cells)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[16];

    assert_non_null(r);
    assert_true(ncols <= 16);
    memset(att, 0, sizeof att);
    for (int c = 0; c < ncols; c++) {
        att[c].name = (char *)"c";
        att[c].typid = 25; /* text */
        att[c].typlen = -1;
        att[c].atttypmod = -1;
    }
    assert_int_equal(PQsetResultAttrs(r, ncols, att), 1);
    for (int i = 0; i < nrows; i++)
        for (int c = 0; c < ncols; c++) {
            const char *v = cells[i * ncols + c];

            assert_int_equal(PQsetvalue(r, i, c, (char *)v, (int)strlen(v)), 1);
        }
    return r;
}
