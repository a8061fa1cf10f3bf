/* gtfs: load a GTFS static feed into PostgreSQL with COPY ... FORMAT csv. */
#include "gtfs.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trips.h"

#define GTFS_LOCK 0x47544653LL /* advisory lock key: "GTFS" */
#define GTFS_MAX_COLS 64
#define GTFS_HEADER_MAX 4096

/* The files we load, in load order. Foreign keys are deferred, so the order
 * only matters for readability of errors. */
static const struct gtfs_file {
    const char *file, *table;
    int required; /* 2: required unless its alternative is there */
} gtfs_files[] = {
    {"agency.txt", "gtfs_agency", 1},
    {"stops.txt", "gtfs_stops", 1},
    {"routes.txt", "gtfs_routes", 1},
    {"trips.txt", "gtfs_trips", 1},
    {"stop_times.txt", "gtfs_stop_times", 1},
    {"calendar.txt", "gtfs_calendar", 2},
    {"calendar_dates.txt", "gtfs_calendar_dates", 2},
    {"shapes.txt", "gtfs_shapes", 0},
    {"feed_info.txt", "gtfs_feed_info", 0},
    {"translations.txt", "gtfs_translations", 0},
    {NULL, NULL, 0},
};

struct gtfs_ctx {
    PGconn *conn;
    const char *dir;
    char *err;
    size_t errlen;
};

/* Format an error, flattening PostgreSQL's multi-line messages ("ERROR: ...
 * CONTEXT: COPY gtfs_stops, line 3 ...") into one line. */
static void gtfs_errf(struct gtfs_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void gtfs_errf(struct gtfs_ctx *c, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    char *p;

    if (!c->err || !c->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    n = strlen(c->err);
    while (n && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
        c->err[--n] = '\0';
    for (p = c->err; *p; p++)
        if (*p == '\n')
            *p = ';';
}

/* The server's message for R (or the connection's), without "ERROR:  ". */
static const char *gtfs_pgmsg(struct gtfs_ctx *c, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : "";

    if (!m || !*m)
        m = PQerrorMessage(c->conn);
    if (strncmp(m, "ERROR:  ", 8) == 0)
        m += 8;
    return m;
}

static int gtfs_exec(struct gtfs_ctx *c, const char *what, const char *sql)
{
    PGresult *r = PQexec(c->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        gtfs_errf(c, "%s: %s", what, gtfs_pgmsg(c, r));
        PQclear(r);
        return GTFS_ERR_LOAD;
    }
    PQclear(r);
    return GTFS_OK;
}

/* First column of the first row of SQL as an integer (0 when NULL). */
static int gtfs_count(struct gtfs_ctx *c, const char *sql, long long *out)
{
    PGresult *r = PQexec(c->conn, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        gtfs_errf(c, "counting: %s", gtfs_pgmsg(c, r));
        PQclear(r);
        return GTFS_ERR_LOAD;
    }
    *out = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return GTFS_OK;
}

/*
 * Split the header line LINE in place into column names. GTFS headers are
 * plain names, sometimes quoted, sometimes with spaces around them and a
 * UTF-8 byte-order mark before the first. Returns the number of columns, or
 * -1 when a name is not a plain identifier (it will be quoted for SQL, but
 * a name like that is a broken header, better reported than loaded).
 */
static int gtfs_split_header(char *line, char *cols[], int max)
{
    int n = 0;
    char *p = line;

    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3;
    p[strcspn(p, "\r\n")] = '\0';
    for (;;) {
        char *end = strchr(p, ',');
        char *s, *e;

        if (end)
            *end = '\0';
        s = p;
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*s == '"' && e - s >= 2 && e[-1] == '"') {
            *--e = '\0';
            s++;
        }
        if (*s == '\0' || n == max)
            return -1;
        for (char *q = s; *q; q++)
            if (!isalnum((unsigned char)*q) && *q != '_')
                return -1;
        cols[n++] = s;
        if (!end)
            return n;
        p = end + 1;
    }
}

/* 1 when table TABLE has a (non-generated) column NAME. */
static int gtfs_has_column(struct gtfs_ctx *c, const char *table,
                           const char *name, int *found)
{
    const char *params[2] = {table, name};
    PGresult *r = PQexecParams(c->conn,
                               "SELECT 1 FROM information_schema.columns "
                               "WHERE table_schema = current_schema() "
                               "AND table_name = $1 AND column_name = $2 "
                               "AND is_generated = 'NEVER'",
                               2, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        gtfs_errf(c, "%s: %s", table, gtfs_pgmsg(c, r));
        PQclear(r);
        return GTFS_ERR_LOAD;
    }
    *found = PQntuples(r) > 0;
    PQclear(r);
    return GTFS_OK;
}

/* Append to BUF (size LEN) the quoted names of COLS whose USE flag is set
 * (every one when USE is NULL), comma separated. */
static int gtfs_col_list(struct gtfs_ctx *c, char *buf, size_t len,
                         char *cols[], int n, const int *use)
{
    size_t at = 0;

    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char *q;
        int w;

        if (use && !use[i])
            continue;
        q = PQescapeIdentifier(c->conn, cols[i], strlen(cols[i]));
        if (!q)
            return GTFS_ERR_NOMEM;
        w = snprintf(buf + at, len - at, "%s%s", at ? ", " : "", q);
        PQfreemem(q);
        if (w < 0 || (size_t)w >= len - at)
            return GTFS_ERR_NOMEM;
        at += (size_t)w;
    }
    return GTFS_OK;
}

/* Stream the open file F (from its first byte: COPY's HEADER skips the
 * header line) into the COPY started by SQL. *ROWS gets the row count. */
static int gtfs_copy(struct gtfs_ctx *c, const char *file, FILE *f,
                     const char *sql, long long *rows)
{
    char buf[65536];
    PGresult *r = PQexec(c->conn, sql);
    size_t n;
    int rc = GTFS_OK;

    if (PQresultStatus(r) != PGRES_COPY_IN) {
        gtfs_errf(c, "%s/%s: %s", c->dir, file, gtfs_pgmsg(c, r));
        PQclear(r);
        return GTFS_ERR_LOAD;
    }
    PQclear(r);
    rewind(f);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (PQputCopyData(c->conn, buf, (int)n) != 1)
            break;
    if (ferror(f)) {
        PQputCopyEnd(c->conn, "read error");
        gtfs_errf(c, "%s/%s: read error", c->dir, file);
        rc = GTFS_ERR_FILE;
    } else if (PQputCopyEnd(c->conn, NULL) != 1) {
        gtfs_errf(c, "%s/%s: %s", c->dir, file, PQerrorMessage(c->conn));
        rc = GTFS_ERR_LOAD;
    }
    while ((r = PQgetResult(c->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == GTFS_OK) {
            gtfs_errf(c, "%s/%s: %s", c->dir, file, gtfs_pgmsg(c, r));
            rc = GTFS_ERR_LOAD;
        } else if (rc == GTFS_OK) {
            *rows = strtoll(PQcmdTuples(r), NULL, 10);
        }
        PQclear(r);
    }
    return rc;
}

/*
 * Load one file. When every header column is a column of the table, COPY
 * goes straight into it, so PostgreSQL's errors name the line and column.
 * Otherwise (vendor extensions, newer GTFS fields) COPY goes into a
 * temporary copy of the table widened by the unknown columns as text, and
 * only the known ones are moved over.
 */
static int gtfs_load_file(struct gtfs_ctx *c, const struct gtfs_file *gf,
                          FILE *f, long long *rows)
{
    char line[GTFS_HEADER_MAX], all[GTFS_HEADER_MAX * 2],
        known[GTFS_HEADER_MAX * 2];
    char sql[GTFS_HEADER_MAX * 5];
    char *cols[GTFS_MAX_COLS];
    int use[GTFS_MAX_COLS], ncols, nunknown = 0, rc;

    if (!fgets(line, sizeof line, f)) {
        gtfs_errf(c, "%s/%s: empty file (no header line)", c->dir, gf->file);
        return GTFS_ERR_FILE;
    }
    if (!strchr(line, '\n') && !feof(f)) {
        gtfs_errf(c, "%s/%s: header line longer than %d bytes", c->dir,
                  gf->file, GTFS_HEADER_MAX - 1);
        return GTFS_ERR_FILE;
    }
    ncols = gtfs_split_header(line, cols, GTFS_MAX_COLS);
    if (ncols < 0) {
        gtfs_errf(c,
                  "%s/%s: bad header line (column names must be letters, "
                  "digits and _, at most %d of them)",
                  c->dir, gf->file, GTFS_MAX_COLS);
        return GTFS_ERR_FILE;
    }
    for (int i = 0; i < ncols; i++) {
        if ((rc = gtfs_has_column(c, gf->table, cols[i], &use[i])) != GTFS_OK)
            return rc;
        nunknown += !use[i];
    }
    if ((rc = gtfs_col_list(c, all, sizeof all, cols, ncols, NULL)) !=
            GTFS_OK ||
        (rc = gtfs_col_list(c, known, sizeof known, cols, ncols, use)) !=
            GTFS_OK) {
        gtfs_errf(c, "%s/%s: header too long", c->dir, gf->file);
        return rc;
    }
    if (nunknown == 0) {
        snprintf(sql, sizeof sql,
                 "COPY %s (%s) FROM STDIN WITH (FORMAT csv, HEADER true)",
                 gf->table, all);
        return gtfs_copy(c, gf->file, f, sql, rows);
    }
    if (nunknown == ncols) {
        gtfs_errf(c, "%s/%s: none of its columns is a %s column", c->dir,
                  gf->file, gf->table);
        return GTFS_ERR_FILE;
    }
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS gtfs_stage;"
             "CREATE TEMP TABLE gtfs_stage (LIKE %s) ON COMMIT DROP",
             gf->table);
    if (gtfs_exec(c, gf->file, sql) != GTFS_OK)
        return GTFS_ERR_LOAD;
    for (int i = 0; i < ncols; i++) {
        char *q;

        if (use[i])
            continue;
        q = PQescapeIdentifier(c->conn, cols[i], strlen(cols[i]));
        if (!q)
            return GTFS_ERR_NOMEM;
        snprintf(sql, sizeof sql, "ALTER TABLE gtfs_stage ADD COLUMN %s text",
                 q);
        PQfreemem(q);
        if (gtfs_exec(c, gf->file, sql) != GTFS_OK)
            return GTFS_ERR_LOAD;
    }
    snprintf(sql, sizeof sql,
             "COPY gtfs_stage (%s) FROM STDIN WITH (FORMAT csv, HEADER true)",
             all);
    if ((rc = gtfs_copy(c, gf->file, f, sql, rows)) != GTFS_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (%s) SELECT %s FROM gtfs_stage;"
             "DROP TABLE gtfs_stage",
             gf->table, known, known);
    return gtfs_exec(c, gf->file, sql);
}

/*
 * Store the exact bytes of the open file F (already COPYed) in gtfs_files
 * as NAME, so /gtfs/static.zip serves the feed the tables were loaded
 * from. Read whole: the largest file of a feed (stop_times.txt) is a few
 * MB, and one parameter is what PQexecParams sends.
 */
static int gtfs_store_file(struct gtfs_ctx *c, const char *name, FILE *f)
{
    const char *sql = "INSERT INTO gtfs_files (name, body) VALUES ($1, $2)";
    const char *vals[2];
    int lens[2] = {0, 0}, fmts[2] = {0, 1};
    char *body = NULL;
    size_t len = 0, cap = 0, n;
    PGresult *r;
    int rc = GTFS_OK;

    rewind(f);
    for (;;) {
        if (cap - len < 65536) {
            char *p;

            /* bytea and PQexecParams take an int length. */
            if (cap > (size_t)0x3fffffff) {
                free(body);
                gtfs_errf(c, "%s/%s: too large to store", c->dir, name);
                return GTFS_ERR_FILE;
            }
            cap = cap ? cap * 2 : 262144;
            p = realloc(body, cap);
            if (!p) {
                free(body);
                gtfs_errf(c, "%s/%s: out of memory", c->dir, name);
                return GTFS_ERR_NOMEM;
            }
            body = p;
        }
        n = fread(body + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(body);
        gtfs_errf(c, "%s/%s: read error", c->dir, name);
        return GTFS_ERR_FILE;
    }
    vals[0] = name;
    vals[1] = body;
    lens[1] = (int)len;
    r = PQexecParams(c->conn, sql, 2, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        gtfs_errf(c, "%s/%s: storing its bytes: %s", c->dir, name,
                  gtfs_pgmsg(c, r));
        rc = GTFS_ERR_LOAD;
    }
    PQclear(r);
    free(body);
    return rc;
}

/* Longest id the trip rebuild takes: TRIPS_ID_MAX less the NUL. */
#define GTFS_ID_MAX_TEXT "63"
_Static_assert(TRIPS_ID_MAX == 64, "GTFS_ID_MAX_TEXT follows TRIPS_ID_MAX");
#define GTFS_ID_BAD(col)                                                       \
    "(octet_length(" col ") > " GTFS_ID_MAX_TEXT " OR strpos(" col             \
    ", chr(9)) > 0 OR strpos(" col ", chr(10)) > 0 OR strpos(" col             \
    ", chr(13)) > 0 OR strpos(" col ", chr(92)) > 0)"

/* Checks PostgreSQL's constraints cannot express. Each query returns the
 * offending row's description, or no row. */
static const struct gtfs_check {
    const char *file, *sql;
} gtfs_checks[] = {
    {"stop_times.txt",
     "SELECT format('trip %s: times go backwards at stop_sequence %s',"
     " trip_id, stop_sequence) FROM ("
     "  SELECT trip_id, stop_sequence, arrival_secs, departure_secs,"
     "   lag(departure_secs) OVER (PARTITION BY trip_id"
     "                             ORDER BY stop_sequence) AS prev"
     "  FROM gtfs_stop_times) s"
     " WHERE arrival_secs < prev OR departure_secs < arrival_secs"
     " ORDER BY trip_id, stop_sequence LIMIT 1"},
    {"stop_times.txt",
     "SELECT format('trip %s: first and last stop need arrival and "
     "departure times', trip_id) FROM ("
     "  SELECT trip_id, stop_sequence, departure_secs, arrival_secs,"
     "   min(stop_sequence) OVER w AS first, max(stop_sequence) OVER w AS last"
     "  FROM gtfs_stop_times WINDOW w AS (PARTITION BY trip_id)) s"
     " WHERE (stop_sequence = first OR stop_sequence = last)"
     "   AND (departure_secs IS NULL OR arrival_secs IS NULL) LIMIT 1"},
    {"trips.txt",
     "SELECT format('trip %s has fewer than 2 stop times', t.trip_id)"
     " FROM gtfs_trips t LEFT JOIN gtfs_stop_times st USING (trip_id)"
     " GROUP BY t.trip_id HAVING count(st.trip_id) < 2"
     " ORDER BY t.trip_id LIMIT 1"},
    {"trips.txt",
     "SELECT format('trip %s: service_id %s is in neither calendar.txt nor "
     "calendar_dates.txt', trip_id, service_id) FROM gtfs_trips"
     " WHERE service_id NOT IN (SELECT service_id FROM gtfs_calendar"
     "  UNION SELECT service_id FROM gtfs_calendar_dates)"
     " ORDER BY trip_id LIMIT 1"},
    {"trips.txt",
     "SELECT format('trip %s: shape_id %s is not in shapes.txt', trip_id,"
     " shape_id) FROM gtfs_trips WHERE shape_id IS NOT NULL"
     " AND shape_id NOT IN (SELECT shape_id FROM gtfs_shapes)"
     " ORDER BY trip_id LIMIT 1"},
    /* The trip rebuild holds ids in TRIPS_ID_MAX (64) bytes and writes them
     * as COPY text: a longer id would be compared cut short (every stop
     * time a trip of its own), a tab, newline or backslash would shift the
     * row's columns. Such a feed is refused here, naming the id. */
    {"stops.txt",
     "SELECT format('stop_id %s is longer than " GTFS_ID_MAX_TEXT " bytes or"
     " holds a tab, newline or backslash', stop_id) FROM gtfs_stops"
     " WHERE " GTFS_ID_BAD("stop_id") " ORDER BY stop_id LIMIT 1"},
    {"routes.txt",
     "SELECT format('route_id %s is longer than " GTFS_ID_MAX_TEXT " bytes or"
     " holds a tab, newline or backslash', route_id) FROM gtfs_routes"
     " WHERE " GTFS_ID_BAD("route_id") " ORDER BY route_id LIMIT 1"},
    {"trips.txt", "SELECT format('trip_id %s or its block_id %s is longer "
                  "than " GTFS_ID_MAX_TEXT
                  " bytes or holds a tab, newline or backslash', trip_id,"
                  " block_id) FROM gtfs_trips WHERE " GTFS_ID_BAD(
                      "trip_id") " OR ("
                                 " block_id IS NOT NULL AND " GTFS_ID_BAD(
                                     "block_id") ")"
                                                 " ORDER BY trip_id LIMIT 1"},
    /* The feed's zone is the service days' zone (shuttle_service_tz). */
    {"agency.txt",
     "SELECT format('agencies in different time zones: %s',"
     " string_agg(DISTINCT agency_timezone, ', ')) FROM gtfs_agency"
     " HAVING count(DISTINCT agency_timezone) > 1"},
    {"agency.txt",
     "SELECT format('agency_timezone %s is not a time zone', agency_timezone)"
     " FROM gtfs_agency WHERE agency_timezone NOT IN"
     " (SELECT name FROM pg_timezone_names) LIMIT 1"},
    {NULL, NULL},
};

static int gtfs_check(struct gtfs_ctx *c)
{
    PGresult *r;

    for (const struct gtfs_check *k = gtfs_checks; k->file; k++) {
        r = PQexec(c->conn, k->sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            gtfs_errf(c, "%s/%s: %s", c->dir, k->file, gtfs_pgmsg(c, r));
            PQclear(r);
            return GTFS_ERR_LOAD;
        }
        if (PQntuples(r) > 0) {
            gtfs_errf(c, "%s/%s: %s", c->dir, k->file, PQgetvalue(r, 0, 0));
            PQclear(r);
            return GTFS_ERR_FEED;
        }
        PQclear(r);
    }
    /* The deferred foreign keys (a stop time's trip or stop, a trip's
     * route), checked now rather than at COMMIT so the message can say it
     * is the feed's fault. */
    r = PQexec(c->conn, "SET CONSTRAINTS ALL IMMEDIATE");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        gtfs_errf(c, "%s: feed is inconsistent: %s", c->dir, gtfs_pgmsg(c, r));
        PQclear(r);
        return GTFS_ERR_FEED;
    }
    PQclear(r);
    return GTFS_OK;
}

static int gtfs_summarise(struct gtfs_ctx *c, struct gtfs_summary *s)
{
    static const struct {
        const char *sql;
        size_t off;
    } q[] = {
        {"SELECT count(*) FROM gtfs_agency",
         offsetof(struct gtfs_summary, agencies)},
        {"SELECT count(*) FROM gtfs_routes",
         offsetof(struct gtfs_summary, routes)},
        {"SELECT count(*) FROM gtfs_stops",
         offsetof(struct gtfs_summary, stops)},
        {"SELECT count(*) FROM gtfs_trips",
         offsetof(struct gtfs_summary, trips)},
        {"SELECT count(*) FROM gtfs_stop_times",
         offsetof(struct gtfs_summary, stop_times)},
        {"SELECT count(*) FROM gtfs_shapes",
         offsetof(struct gtfs_summary, shape_points)},
        {"SELECT count(*) FROM (SELECT service_id FROM gtfs_calendar UNION "
         "SELECT service_id FROM gtfs_calendar_dates) s",
         offsetof(struct gtfs_summary, services)},
    };
    PGresult *r;

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (gtfs_count(c, q[i].sql,
                       (long long *)(void *)((char *)s + q[i].off)) != GTFS_OK)
            return GTFS_ERR_LOAD;
    r = PQexec(c->conn, "SELECT feed_version FROM gtfs_feed_info "
                        "WHERE feed_version IS NOT NULL LIMIT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(s->feed_version, sizeof s->feed_version, "%s",
                 PQgetvalue(r, 0, 0));
    PQclear(r);
    return GTFS_OK;
}

static int gtfs_load_all(struct gtfs_ctx *c, struct gtfs_summary *s)
{
    int rc, have_alt = 0;
    char path[4096];

    /* calendar.txt or calendar_dates.txt: at least one of them. */
    for (const struct gtfs_file *gf = gtfs_files; gf->file; gf++) {
        snprintf(path, sizeof path, "%s/%s", c->dir, gf->file);
        if (gf->required == 2 && access(path, F_OK) == 0)
            have_alt = 1;
    }
    if (!have_alt) {
        gtfs_errf(c, "%s: neither calendar.txt nor calendar_dates.txt", c->dir);
        return GTFS_ERR_FILE;
    }
    for (const struct gtfs_file *gf = gtfs_files; gf->file; gf++) {
        long long rows = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", c->dir, gf->file);
        f = fopen(path, "rb");
        if (!f) {
            if (errno == ENOENT && gf->required != 1)
                continue;
            gtfs_errf(c, "%s: %s", path, strerror(errno));
            return GTFS_ERR_FILE;
        }
        rc = gtfs_load_file(c, gf, f, &rows);
        if (rc == GTFS_OK)
            rc = gtfs_store_file(c, gf->file, f);
        fclose(f);
        if (rc != GTFS_OK)
            return rc;
        s->files++;
    }
    if ((rc = gtfs_check(c)) != GTFS_OK)
        return rc;
    return gtfs_summarise(c, s);
}

int gtfs_load(const char *conninfo, const char *dir, struct gtfs_summary *sum,
              char *err, size_t errlen)
{
    /* Children before parents; the foreign keys are deferred anyway. */
    static const char clear[] =
        "DELETE FROM gtfs_translations; DELETE FROM gtfs_feed_info;"
        "DELETE FROM gtfs_stop_times; DELETE FROM gtfs_trips;"
        "DELETE FROM gtfs_shapes; DELETE FROM gtfs_calendar_dates;"
        "DELETE FROM gtfs_calendar; DELETE FROM gtfs_routes;"
        "DELETE FROM gtfs_stops; DELETE FROM gtfs_agency;"
        "DELETE FROM gtfs_files";
    struct gtfs_ctx c = {NULL, dir, err, errlen};
    struct gtfs_summary s;
    char sql[128];
    int rc;

    memset(&s, 0, sizeof s);
    c.conn = PQconnectdb(conninfo);
    if (PQstatus(c.conn) != CONNECTION_OK) {
        gtfs_errf(&c, "PostgreSQL: %s", PQerrorMessage(c.conn));
        PQfinish(c.conn);
        return GTFS_ERR_CONNECT;
    }
    /* DELETE rather than TRUNCATE: readers (the trip builder, the feeds)
     * keep seeing the old timetable until COMMIT instead of waiting on an
     * exclusive lock. The advisory lock keeps two loads from interleaving.
     * The files are UTF-8 whatever the server's default is. */
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", GTFS_LOCK);
    rc = gtfs_exec(&c, "setting up",
                   "SET client_encoding = 'UTF8';"
                   "SET client_min_messages = warning;"
                   "BEGIN");
    if (rc == GTFS_OK)
        rc = gtfs_exec(&c, "locking", sql);
    if (rc == GTFS_OK)
        rc = gtfs_exec(&c, "clearing the old feed", clear);
    if (rc == GTFS_OK)
        rc = gtfs_load_all(&c, &s);
    if (rc == GTFS_OK)
        rc = gtfs_exec(&c, "committing", "COMMIT");
    else
        PQclear(PQexec(c.conn, "ROLLBACK")); /* keep the first error */
    PQfinish(c.conn);
    if (rc == GTFS_OK && sum)
        *sum = s;
    return rc;
}
