/* partitions: the service days' table partitions: which exist (a cache),
 * creating the missing ones, and retention of raw positions. */
#include "partitions.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct partitions {
    int32_t known[PARTITIONS_DAYS_MAX]; /* days whose partitions exist */
    size_t nknown;
};

int partitions_new(struct partitions **out)
{
    struct partitions *p = calloc(1, sizeof *p);

    if (!p)
        return DB_ERR_NOMEM;
    *out = p;
    return DB_OK;
}

void partitions_free(struct partitions *p)
{
    free(p);
}

int partitions_ensure(struct partitions *p, struct db *d, const int32_t *days,
                      size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int32_t day = days[i];
        bool known = false;
        char text[CLOCK_TEXT_MAX];
        const char *v[1] = {text};
        PGresult *r;

        for (size_t k = 0; k < p->nknown && !known; k++)
            known = p->known[k] == day;
        if (known)
            continue;
        clock_text_day(text, day);
        r = PQexecParams(db_conn(d),
                         "SELECT shuttle_ensure_partition($1::date)", 1, NULL,
                         v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            db_errf(err, errlen, "partition for %s: %s", text,
                    PQerrorMessage(db_conn(d)));
            PQclear(r);
            return DB_ERR_QUERY;
        }
        PQclear(r);
        /* A full cache starts over: it is only a shortcut. */
        if (p->nknown == PARTITIONS_DAYS_MAX)
            p->nknown = 0;
        p->known[p->nknown++] = day;
    }
    return DB_OK;
}

void partitions_forget(struct partitions *p)
{
    p->nknown = 0;
}

bool partitions_stale(const struct db *d)
{
    /* 23514, check_violation: what PostgreSQL raises for a row no
     * partition accepts. */
    return strcmp(db_sqlstate(d), "23514") == 0;
}

int partitions_drop_positions_before(struct partitions *p, struct db *d,
                                     int64_t t_ms, int *dropped, char *err,
                                     size_t errlen)
{
    char text[CLOCK_TEXT_MAX];
    const char *v[1] = {text};
    PGresult *r;

    int32_t day;

    if (!db_connected(d) || db_service_day(d, t_ms, &day) != DB_OK)
        return DB_ERR_CONNECT;
    clock_text_day(text, day);
    r = PQexecParams(db_conn(d),
                     "SELECT shuttle_drop_positions_before($1::date)", 1, NULL,
                     v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_errf(err, errlen, "retention: %s", PQerrorMessage(db_conn(d)));
        PQclear(r);
        return DB_ERR_QUERY;
    }
    *dropped = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    /* Dropped days may come back (a late backlog): ask again. */
    partitions_forget(p);
    return DB_OK;
}
