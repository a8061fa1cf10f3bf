/* pub_static: the static GTFS feed's files zipped in memory with libzip. */
#include "pub_static.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

const char *pub_static_sql(void)
{
    /* COLLATE "C": the same order whatever the database's locale, so the
     * same files give the same zip. */
    return "SELECT name, body FROM gtfs_files ORDER BY name COLLATE \"C\"";
}

/* Whether NAME may be a member's name: a plain file, never a path. */
static bool pub_static__name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > PUB_STATIC_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* The bytes of source SRC (a closed zip written into it) into *OUT. */
static enum pub_static_err pub_static__take(zip_source_t *src, uint8_t **out,
                                            size_t *len, char *err,
                                            size_t errlen)
{
    zip_int64_t size, got;
    uint8_t *p;

    if (zip_source_open(src) < 0) {
        snprintf(err, errlen, "reading the zip: %s",
                 zip_error_strerror(zip_source_error(src)));
        return PUB_STATIC_ERR_ZIP;
    }
    if (zip_source_seek(src, 0, SEEK_END) < 0 ||
        (size = zip_source_tell(src)) <= 0 ||
        zip_source_seek(src, 0, SEEK_SET) < 0) {
        snprintf(err, errlen, "reading the zip: %s",
                 zip_error_strerror(zip_source_error(src)));
        zip_source_close(src);
        return PUB_STATIC_ERR_ZIP;
    }
    p = malloc((size_t)size);
    if (!p) {
        zip_source_close(src);
        snprintf(err, errlen, "out of memory");
        return PUB_STATIC_ERR_NOMEM;
    }
    got = zip_source_read(src, p, (zip_uint64_t)size);
    zip_source_close(src);
    if (got != size) {
        free(p);
        snprintf(err, errlen, "reading the zip: short read");
        return PUB_STATIC_ERR_ZIP;
    }
    *out = p;
    *len = (size_t)size;
    return PUB_STATIC_OK;
}

/* Each row's body, as bytes, into BODIES[i] / LENS[i] (text results are
 * bytea hex: unescaped into memory the caller PQfreemem's). */
static enum pub_static_err pub_static__bodies(const PGresult *r, int n,
                                              unsigned char **bodies,
                                              size_t *lens, char *err,
                                              size_t errlen)
{
    bool text = PQfformat(r, 1) == 0;

    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(r, i, 0);

        if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1) ||
            !pub_static__name_ok(name)) {
            snprintf(err, errlen, "row %d: no body, or a bad file name", i);
            return PUB_STATIC_ERR_INVALID;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(PQgetvalue(r, k, 0), name) == 0) {
                snprintf(err, errlen, "row %d: %s twice", i, name);
                return PUB_STATIC_ERR_INVALID;
            }
        if (!text) {
            bodies[i] = (unsigned char *)PQgetvalue(r, i, 1);
            lens[i] = (size_t)PQgetlength(r, i, 1);
            continue;
        }
        /* PQunescapeBytea accepts anything; only "\x" hex is what a
         * bytea column gives since PostgreSQL 9.0. */
        if (strncmp(PQgetvalue(r, i, 1), "\\x", 2) != 0) {
            snprintf(err, errlen, "%s: body is no bytea hex", name);
            return PUB_STATIC_ERR_INVALID;
        }
        bodies[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1),
                                    &lens[i]);
        if (!bodies[i]) {
            snprintf(err, errlen, "out of memory");
            return PUB_STATIC_ERR_NOMEM;
        }
    }
    return PUB_STATIC_OK;
}

enum pub_static_err pub_static_zip(const PGresult *r, uint8_t **zip,
                                   size_t *len, char *err, size_t errlen)
{
    enum pub_static_err rc = PUB_STATIC_OK;
    unsigned char **bodies = NULL;
    size_t *lens = NULL;
    zip_source_t *src = NULL;
    zip_error_t ze;
    zip_t *za = NULL;
    bool text;
    int n;

    if (zip)
        *zip = NULL;
    if (!r || !zip || !len || PQresultStatus(r) != PGRES_TUPLES_OK ||
        PQnfields(r) != 2) {
        snprintf(err, errlen, "not the result of pub_static_sql");
        return PUB_STATIC_ERR_INVALID;
    }
    n = PQntuples(r);
    if (n == 0) {
        snprintf(err, errlen, "gtfs_files is empty: no feed loaded");
        return PUB_STATIC_ERR_EMPTY;
    }
    text = PQfformat(r, 1) == 0;
    bodies = calloc((size_t)n, sizeof *bodies);
    lens = calloc((size_t)n, sizeof *lens);
    if (!bodies || !lens) {
        rc = PUB_STATIC_ERR_NOMEM;
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rc = pub_static__bodies(r, n, bodies, lens, err, errlen);
    if (rc != PUB_STATIC_OK)
        goto done;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (src)
        za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (!za) {
        snprintf(err, errlen, "libzip: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        rc = PUB_STATIC_ERR_ZIP;
        goto done;
    }
    zip_error_fini(&ze);
    /* The archive's bytes stay in SRC after zip_close. */
    zip_source_keep(src);
    for (int i = 0; i < n; i++) {
        /* Borrowed: the bodies outlive zip_close, which reads them. */
        zip_source_t *fs = zip_source_buffer(za, bodies[i], lens[i], 0);
        zip_int64_t idx =
            fs ? zip_file_add(za, PQgetvalue(r, i, 0), fs, 0) : -1;

        if (idx < 0) {
            zip_source_free(fs);
            snprintf(err, errlen, "%s: %s", PQgetvalue(r, i, 0),
                     zip_strerror(za));
            rc = PUB_STATIC_ERR_ZIP;
            break;
        }
        if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9) <
                0 ||
            zip_file_set_dostime(za, (zip_uint64_t)idx, PUB_STATIC_DOSTIME,
                                 PUB_STATIC_DOSDATE, 0) < 0) {
            snprintf(err, errlen, "%s: %s", PQgetvalue(r, i, 0),
                     zip_strerror(za));
            rc = PUB_STATIC_ERR_ZIP;
            break;
        }
    }
    if (rc != PUB_STATIC_OK) {
        zip_discard(za);
        goto done;
    }
    if (zip_close(za) < 0) {
        snprintf(err, errlen, "writing the zip: %s", zip_strerror(za));
        zip_discard(za);
        rc = PUB_STATIC_ERR_ZIP;
        goto done;
    }
    rc = pub_static__take(src, zip, len, err, errlen);

done:
    zip_source_free(src);
    for (int i = 0; text && bodies && i < n; i++)
        if (bodies[i])
            PQfreemem(bodies[i]);
    free(bodies);
    free(lens);
    return rc;
}
