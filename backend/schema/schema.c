/* schema: the check that the database's schema is not newer than us. */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int schema_known(void)
{
    return SCHEMA_KNOWN;
}

const char *schema_known_name(void)
{
    return SCHEMA_KNOWN_NAME;
}

/* libpq's messages end in a newline; ours go on one log line. */
static void schema__err(char *err, size_t errlen, const char *what,
                        const PGconn *c)
{
    size_t n;

    snprintf(err, errlen, "%s: %s", what, PQerrorMessage(c));
    n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

int schema_check(PGconn *c, const char *binary, char *err, size_t errlen)
{
    char known[16];
    const char *params[1] = {known};
    PGresult *r;
    int rc = SCHEMA_OK;

    /* to_regclass first: a database not yet migrated has no table, and a
     * failed SELECT would abort a caller's transaction for nothing. */
    r = PQexec(c, "SELECT to_regclass('public.schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        schema__err(err, errlen, "reading the schema version", c);
        PQclear(r);
        return SCHEMA_ERR;
    }
    if (PQgetvalue(r, 0, 0)[0] != 't') {
        PQclear(r);
        return SCHEMA_OK;
    }
    PQclear(r);
    snprintf(known, sizeof known, "%d", SCHEMA_KNOWN);
    r = PQexecParams(c,
                     "SELECT version, name FROM schema_migrations"
                     " WHERE version > $1::integer ORDER BY version DESC"
                     " LIMIT 1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        schema__err(err, errlen, "reading the schema version", c);
        rc = SCHEMA_ERR;
    } else if (PQntuples(r) == 1) {
        snprintf(err, errlen,
                 "database schema is at migration %s (%s), this binary knows "
                 "up to %d (%s): upgrade %s or use a matching version",
                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), SCHEMA_KNOWN,
                 SCHEMA_KNOWN_NAME, binary);
        rc = SCHEMA_NEWER;
    }
    PQclear(r);
    return rc;
}

int schema_check_conninfo(const char *conninfo, const char *binary, char *err,
                          size_t errlen)
{
    PGconn *c = PQconnectdb(conninfo);
    int rc;

    if (PQstatus(c) != CONNECTION_OK) {
        schema__err(err, errlen, "PostgreSQL", c);
        PQfinish(c);
        return SCHEMA_ERR;
    }
    rc = schema_check(c, binary, err, errlen);
    PQfinish(c);
    return rc;
}
